/* error.h — the one error type of tokenrig.
 *
 * Owns: tr_err (a code, a human message, and the suite file:line:col when one
 * is involved) and the mapping of codes to CLI exit status.
 * Must not: print anything; callers decide where a message goes.
 */
#ifndef TR_ERROR_H
#define TR_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    TR_OK = 0,
    TR_E_USAGE,    /* bad command line */
    TR_E_CONFIG,   /* profile, rig or manifest file wrong */
    TR_E_PARSE,    /* suite file syntax */
    TR_E_RIG,      /* rig could not be brought up / power / reader missing */
    TR_E_PERM,     /* permission (USB, sysfs): message carries the fix */
    TR_E_PCSC,     /* PC/SC call failed */
    TR_E_TIMEOUT,  /* a wait ran out */
    TR_E_MUTE,     /* token stopped answering (io.mute) */
    TR_E_REMOVED,  /* token disappeared (io.removed) */
    TR_E_SERVICE,  /* the PC/SC service (pcscd) went away (rig.pcsc-lost) */
    TR_E_IO,       /* file or socket I/O */
    TR_E_TOKEN,    /* the token answered something impossible */
    /* The token broke the APDU protocol (a token defect: the interpreter
     * fails the test with the code's name as its classification). */
    TR_E_PROTO_61XX, /* 61xx (GET RESPONSE) chain that never ends */
    TR_E_PROTO_6CXX, /* 6Cxx (wrong Le) again after the Le it asked for */
    TR_E_CRYPTO,   /* OpenSSL failure or malformed crypto object */
    TR_E_LIBRARY,  /* a vendor library (SKF, PKCS#11) crashed or exited in its
                      child process (lib.crash): the message names the signal */
    TR_E_NOPOWER,  /* the slot has no power switch (type none): what needs a
                      power cycle is not run (not-run.no-power) */
    TR_E_NOMEM,
    TR_E_INTERNAL
} tr_code;

#define TR_ERR_MSG_MAX 1024
#define TR_ERR_FILE_MAX 512

typedef struct {
    tr_code code;
    char msg[TR_ERR_MSG_MAX];
    char file[TR_ERR_FILE_MAX]; /* suite/config file, "" when none */
    int line;                   /* 1-based, 0 when none */
    int col;                    /* 1-based, 0 when none */
} tr_err;

/* Reset to TR_OK with empty message. */
void tr_err_clear(tr_err *e);

/* Set code and printf-style message; returns -1 so callers can
 * `return tr_fail(e, TR_E_IO, "...")`. e may be NULL. */
int tr_fail(tr_err *e, tr_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tr_vfail(tr_err *e, tr_code code, const char *fmt, va_list ap);

/* Same, with a source position (file:line:col of a suite or config). */
int tr_fail_at(tr_err *e, tr_code code, const char *file, int line, int col,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Prefix the existing message with more context ("while X: <old msg>"). */
void tr_err_prefix(tr_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "file:line:col: message" (or just the message) into buf. */
const char *tr_err_format(const tr_err *e, char *buf, size_t cap);

/* Short stable name of a code ("config", "pcsc", ...). */
const char *tr_code_name(tr_code code);

/* Whether a code is a token's protocol defect (TR_E_PROTO_*): a failed
 * test classified by the code's name, not an error of the rig. */
bool tr_code_is_token_defect(tr_code code);
/* Whether a power cycle's verdict judges the token: pass, or the class of
 * the stage it stopped at or of its first answer (enum.*,
 * rig.port-not-switched, io.first-apdu-failed, time.slow-start); else it
 * names what kept the cycle from being judged (rig, permission, config, a
 * library's io.mute or lib.crash: rig.h tr_cycle_failure_class). */
bool tr_cycle_verdict_judged(const char *verdict);

/* CLI exit status for an error code: usage/config/parse/rig/perm -> 2,
 * token-side errors do not map here (verdicts decide 0/1). */
int tr_code_exit_status(tr_code code);

#endif
