/* libcall.h — a vendor library's calls in the suite language (`skf
 * SKF_X(...)`, `p11 C_X(...)`): what the parser and the interpreter need of
 * an interface, so that one statement serves every library interface.
 *
 * Owns: the table type an interface fills (skfstmt.c: SKF, p11stmt.c:
 * PKCS#11) — the keyword, the shape of a function's arguments, the call
 * with its results set as suite variables, the trace, and which functions
 * use the private key or change a secret — and the lookup by keyword.
 * Must not: evaluate expressions (interp.c) or know a library's ABI (skf.h,
 * p11.h).
 */
#ifndef TR_LIBCALL_H
#define TR_LIBCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TR_LIBCALL_MAX_ARGS 4

/* A call's arguments, evaluated by the shape's letters: u numbers, s
 * strings, p PINs (strings, masked), b bytes (empty: NULL). */
typedef struct {
    uint64_t u[TR_LIBCALL_MAX_ARGS];
    size_t nu;
    const char *s[TR_LIBCALL_MAX_ARGS];
    size_t ns;
    const uint8_t *b[TR_LIBCALL_MAX_ARGS];
    size_t blen[TR_LIBCALL_MAX_ARGS];
    size_t nb;
} tr_libcall_args;

/* One trace row: a library function invoked (PINs already masked). */
typedef struct {
    const char *function, *args, *result, *outputs;
    double us;
} tr_libcall_trace;

typedef struct {
    void (*fn)(void *ud, const tr_libcall_trace *row);
    void *ud;
} tr_libcall_tracer;

typedef int (*tr_libcall_setter)(void *ud, const char *name, const char *value);

/* What a call gave the interpreter besides its variables. */
typedef struct {
    double us;      /* the library's own time */
    bool removed;   /* the answer says the token left (io.removed) */
    bool ok;        /* the function succeeded */
    bool pin_refused; /* it refused a PIN (incorrect, invalid, of the wrong
                         length, locked): the token changed no PIN */
} tr_libcall_done;

typedef struct tr_libcall_iface {
    const char *keyword;                  /* "skf", "p11" */
    const char *what;                     /* "an SKF function of GM/T 0016" (parse errors) */
    /* The argument letters of fn, NULL when fn is not the interface's. */
    const char *(*shape)(const char *fn);
    /* Call fn; 0 with the result variables set through set (whatever the
     * library answered), or -1 with e (TR_E_CONFIG, TR_E_MUTE,
     * TR_E_LIBRARY, TR_E_TOKEN, TR_E_IO as skf.h / p11.h say). */
    int (*call)(void *lib, const char *fn, const tr_libcall_args *a, tr_libcall_setter set, void *ud,
                tr_libcall_done *done, tr_err *e);
    /* Send the library's trace rows to t (NULL: none). */
    void (*set_trace)(void *lib, tr_libcall_tracer *t);
    bool (*private_key_op)(const char *fn); /* SIGN_APDU_MAX_MS applies */
    bool (*changes_secret)(const char *fn); /* needs a journal line first */
    const char *const *outputs;           /* every variable a call may set (NULL-terminated) */
} tr_libcall_iface;

extern const tr_libcall_iface tr_skf_calls, tr_p11_calls;

/* The interface of a statement keyword, NULL when none. */
const tr_libcall_iface *tr_libcall_by_keyword(const char *kw);

#endif
