/* skf.h — the SKF layer: a vendor's GM/T 0016 library, driven from a child
 * process of its own, one per slot.
 *
 * Owns: starting the child (fork; the child dlopen()s the library and
 * dlsym()s every function of TR_SKF_FUNCTIONS, skf_abi.h), the request /
 * answer protocol over a socketpair, the handles (they live in the child:
 * the session keeps the current device, application, container, hash and
 * session key, so callers name no handle), the call timeout (no answer in
 * time: the child is killed, TR_E_MUTE), the child's death (a crash: the
 * signal, TR_E_LIBRARY), the trace of every call (function, arguments with
 * PINs masked, SAR name, outputs, µs), and the quirks that change the ABI
 * (the width of ULONG/BOOL outputs, the DEVINFO size).
 * Must not: know suites, verdicts, rigs or reports (the trace goes to a
 * callback), or call a vendor function in the parent process: a vendor
 * library crashes, hangs, keeps global state and is often not thread-safe;
 * in its own process it costs only its own slot.
 */
#ifndef TR_SKF_H
#define TR_SKF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tr_skf tr_skf;

/* SAR_DEVICE_REMOVED (skf_abi.h, which cannot share a file with PC/SC's
 * headers): a call's answer that means the token left. */
#define TR_SAR_DEVICE_REMOVED 0x0A000023u

/* The arguments of one call, in the order of the table below (tr_skf_fn).
 * u: numbers (ULONG, BOOL, PIN type, algorithm, offset, size); s: strings
 * (names, PINs); b: byte strings (data, digests, IDs, blobs). */
#define TR_SKF_MAX_ARGS 4
typedef struct {
    uint32_t u[TR_SKF_MAX_ARGS];
    size_t nu;
    const char *s[TR_SKF_MAX_ARGS];
    size_t ns;
    const uint8_t *b[TR_SKF_MAX_ARGS];
    size_t blen[TR_SKF_MAX_ARGS];
    size_t nb;
} tr_skf_args;

/* The shape of each function, from the table in skf.c (one row per
 * function of TR_SKF_FUNCTIONS). in: the caller's arguments in the C
 * prototype's order, one letter each: 'u' a number, 's' a string, 'p' a
 * PIN (a string, masked in the trace), 'b' bytes (an empty one is passed
 * as NULL, 0: SKF_DigestInit without a public key); handles are not
 * arguments. outs: the names of the number outputs, comma-separated, in
 * reply.u order ("max,remain,default"), "" when none. out: what the byte
 * output is ("list" a NUL-separated name list, "devinfo", "fileattr",
 * "cert", "blob", "data", "name", "" none). The suite language (skf
 * statement) and `tokenrig skf list` read it; nothing else names a
 * function's arguments. */
typedef struct {
    const char *name;
    const char *in;
    const char *outs;
    const char *out;
} tr_skf_fn_info;

/* The row of fn, or NULL when fn is not a function tokenrig calls. */
const tr_skf_fn_info *tr_skf_fn_lookup(const char *fn);
/* All rows (for help texts and tests). */
const tr_skf_fn_info *tr_skf_fn_table(size_t *n);

/* What a call gave back. sar: the function's return; u: its number
 * outputs (retry counts, state, type, event, sizes); out: its byte output
 * (a name list with the NULs, DEVINFO, a certificate, a blob, data), owned
 * by the session and valid until its next call. us: the call's time in the
 * child (the vendor function alone), µs. */
typedef struct {
    uint32_t sar;
    uint32_t u[4];
    size_t nu;
    const uint8_t *out;
    size_t nout;
    double us;
} tr_skf_reply;

/* One trace row per call (masked: PIN arguments are "<pin>"). */
typedef struct {
    const char *function;  /* "SKF_VerifyPIN" */
    const char *args;      /* "USER_TYPE, <pin>" */
    const char *sar;       /* "SAR_PIN_INCORRECT", "0x0A0000F3", or "crash: SIGSEGV" / "timeout" */
    const char *outputs;   /* "retry=4", hex of the byte output (cut), ... */
    double us;
} tr_skf_trace;

typedef struct {
    const char *library;        /* the .so: a path, or a bare name (taken from
                                   tokenrig's own directory when it is there,
                                   else dlopen's search) */
    double call_timeout_ms;     /* no answer within: the child is killed, TR_E_MUTE; 0 = 10000 */
    double device_timeout_ms;   /* the same for the device-level calls (SKF_EnumDev,
                                   SKF_ConnectDev, SKF_GetDevState,
                                   SKF_WaitForDevEvent) and loading the library,
                                   which reach every device; at least
                                   call_timeout_ms (0 = that) */
    unsigned out_width;         /* bytes a ULONG / BOOL output may take: 4, or 8
                                   (headers that made them a C long); 0 = 8
                                   (zeroed 8-byte storage, read as 4: safe either way) */
    unsigned devinfo_size;      /* 294, or 286 (older headers); 0 = 294 */
    void (*trace)(void *ud, const tr_skf_trace *row); /* may be NULL */
    void *trace_ud;
} tr_skf_opts;

/* Start the child and load the library in it. A library that does not load
 * is TR_E_CONFIG naming it and dlerror(); functions it lacks are recorded
 * (tr_skf_has), not an error: calling one is. */
int tr_skf_open(const tr_skf_opts *o, tr_skf **out, tr_err *e);

/* End the child (its handles closed by its exit), by PID: a polite
 * request, then SIGKILL after 1 s; reaped. NULL is a no-op. */
void tr_skf_close(tr_skf *s);

/* Send the trace rows to fn from now on (NULL: none). The interpreter
 * sets itself for the length of a suite, so that each row carries the
 * suite, test and line of the call. */
void tr_skf_set_trace(tr_skf *s, void (*fn)(void *ud, const tr_skf_trace *row), void *ud);

/* Whether the library exports fn ("SKF_LockDev"). */
bool tr_skf_has(const tr_skf *s, const char *fn);

/* Call fn with args; the handles it takes are the session's current ones
 * and the handles it makes become them (SKF_ConnectDev the device, ...,
 * SKF_DigestInit the hash, SKF_ImportSessionKey the key; the Close/
 * DisConnect functions clear them). Returns 0 with r filled whatever the
 * SAR, or -1 with e set:
 *   TR_E_CONFIG    fn unknown, or the library lacks it ("SKF_X is not
 *                  exported by L.so"), or args of the wrong shape;
 *   TR_E_MUTE      no answer within call_timeout_ms (the child was killed;
 *                  the session is dead: every later call fails the same way);
 *   TR_E_LIBRARY   the child died in the call (the message names the signal
 *                  or exit status); the session is dead;
 *   TR_E_IO        the socket to the child failed.
 * Every vendor function the child invoked for the call (a size query and
 * the call proper are two) is a trace row. */
int tr_skf_call(tr_skf *s, const char *fn, const tr_skf_args *args, tr_skf_reply *r, tr_err *e);

/* The session died (a crash or a hang): later calls fail; which signal
 * ended the child (0 when it was not a signal). */
bool tr_skf_dead(const tr_skf *s, int *signal);

#endif
