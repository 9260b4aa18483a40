/* p11.h — the PKCS#11 layer: a token's PKCS#11 module (.so), driven from a
 * child process of its own, one per session.
 *
 * Owns: starting the child (libhost.h; build/tokenrig-p11host dlopen()s
 * the module, calls C_GetFunctionList and C_Initialize with
 * CKF_OS_LOCKING_OK), the module's name (a path, or a p11-kit module name
 * as `p11-kit list-modules` lists them), the request / answer protocol, the
 * session handle (kept in the child: one current session, so callers name
 * none), the object handles as numbers, the call timeout (no answer in
 * time: the child is killed, TR_E_MUTE), the child's death (TR_E_LIBRARY
 * naming the signal), the trace of every module call (function, arguments
 * with PINs masked, CKR_* name, outputs, µs), C_Finalize on close.
 * Must not: know suites, verdicts, rigs or reports (the trace goes to a
 * callback), or call a module function in the parent: a module crashes,
 * hangs and keeps global state; in its own process it costs only its slot.
 *
 * Numbers: CK_ULONG is a C unsigned long (p11-kit's header): 8 bytes on
 * Linux x86-64. Numbers cross the layer as uint64_t whatever its width;
 * the child refuses one that does not fit its CK_ULONG (TR_E_CONFIG).
 */
#ifndef TR_P11_H
#define TR_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tr_p11 tr_p11;

/* "Any class" for find's class argument (CK_UNAVAILABLE_INFORMATION). */
#define TR_P11_ANY UINT64_MAX

/* The arguments of one call, in the order of the shape table: u numbers
 * (slot ids, flags, user types, mechanisms, handles, attribute types), s
 * strings (PINs, labels), b byte strings (data, CKA_ID, mechanism
 * parameters). */
#define TR_P11_MAX_ARGS 4
typedef struct {
    uint64_t u[TR_P11_MAX_ARGS];
    size_t nu;
    const char *s[TR_P11_MAX_ARGS];
    size_t ns;
    const uint8_t *b[TR_P11_MAX_ARGS];
    size_t blen[TR_P11_MAX_ARGS];
    size_t nb;
} tr_p11_args;

/* The shape of each call (the table in p11.c). in: one letter per argument
 * in the C prototype's order: 'u' a number, 's' a string, 'p' a PIN (a
 * string, "<pin>" in the trace), 'b' bytes. outs: the names of the number
 * outputs, comma-separated, in reply.u order. texts: the names of the text
 * outputs (reply.text, CK_*_INFO's fields trimmed of their padding;
 * versions as "2.40"). out: the byte output: "ids" (slot ids, mechanisms,
 * object handles: reply.ids), "info" / "slotinfo" / "tokeninfo" (the
 * structure, read into outs and texts), "data" (an attribute value, a
 * signature), "" none.
 *
 * The calls: C_GetInfo; C_GetSlotList(tokenPresent); C_GetSlotInfo(slot);
 * C_GetTokenInfo(slot); C_GetMechanismList(slot); C_GetMechanismInfo(slot,
 * mech); C_OpenSession(slot, flags: CKF_SERIAL_SESSION is added) — the new
 * session becomes the current one (a previous one stays open in the module
 * until C_CloseAllSessions or C_Finalize); C_CloseSession() the current;
 * C_CloseAllSessions(slot); C_GetSessionInfo(); C_Login(userType, pin);
 * C_Logout(); C_SetPIN(old, new); C_InitPIN(pin); find(class, label, id):
 * C_FindObjectsInit with the template of those given (class TR_P11_ANY,
 * label "" or id empty: left out), C_FindObjects until it has no more (at
 * most TR_P11_FIND_MAX handles), C_FindObjectsFinal — three or more trace
 * rows; C_GetAttributeValue(handle, type): the size, then the value;
 * C_SignInit(mech, key, parameter); C_DecryptInit(mech, key, parameter);
 * C_Decrypt(data): the size, then the plaintext; C_Sign(data): the size, then the
 * signature; C_WaitForSlotEvent(flags) → slot (blocking: the device
 * timeout); C_Finalize() (tr_p11_close calls it; later calls get the
 * module's CKR_CRYPTOKI_NOT_INITIALIZED). */
typedef struct {
    const char *name;
    const char *in;
    const char *outs;
    const char *texts;
    const char *out;
} tr_p11_fn_info;

#define TR_P11_FIND_MAX 4096
#define TR_P11_OUTS_MAX 12
#define TR_P11_TEXTS_MAX 8

const tr_p11_fn_info *tr_p11_fn_lookup(const char *fn);
const tr_p11_fn_info *tr_p11_fn_table(size_t *n);

/* What a call gave back, owned by the session and valid until its next
 * call. rv: the module's return (of the last function invoked: for find,
 * the first that failed, else C_FindObjectsFinal's). us: the time in the
 * child of the module functions alone. */
typedef struct {
    uint64_t rv;
    uint64_t u[TR_P11_OUTS_MAX];
    size_t nu;
    const char *text[TR_P11_TEXTS_MAX];
    size_t ntext;
    const uint64_t *ids;
    size_t nids;
    const uint8_t *out;
    size_t nout;
    double us;
} tr_p11_reply;

/* One trace row per module function invoked. */
typedef struct {
    const char *function; /* "C_Login", "C_FindObjectsInit" */
    const char *args;     /* "CKU_USER, <pin>" */
    const char *rv;       /* "CKR_PIN_INCORRECT", "0x80000001", "crash: SIGSEGV", "timeout" */
    const char *outputs;  /* "slot=0", "count=2 ids=[1, 2]", hex of a byte output (cut) */
    double us;
} tr_p11_trace;

typedef struct {
    const char *module;         /* a path (contains '/'), or a p11-kit module name
                                   ("softhsm2": the one whose config file is
                                   softhsm2.module; its "module:" path, relative
                                   ones in p11-kit's module directory) */
    double call_timeout_ms;     /* 0 = 10000 */
    double device_timeout_ms;   /* loading + C_Initialize, C_GetSlotList,
                                   C_WaitForSlotEvent, C_Finalize; at least
                                   call_timeout_ms (0 = that) */
    void (*trace)(void *ud, const tr_p11_trace *row); /* may be NULL */
    void *trace_ud;
} tr_p11_opts;

/* Start the child, load the module and initialize it (a trace row for
 * C_Initialize). A module that does not load, a name p11-kit does not
 * know, no C_GetFunctionList: TR_E_CONFIG. C_Initialize failing:
 * TR_E_LIBRARY with its CKR name. A crash or hang while loading: as for a
 * call. */
int tr_p11_open(const tr_p11_opts *o, tr_p11 **out, tr_err *e);

/* C_Finalize (when the child lives), then end the child by its PID (a
 * polite request, SIGKILL after 1 s), reaped. NULL is a no-op. */
void tr_p11_close(tr_p11 *s);

/* A module restart, the power cycle of a software token (its state lives in
 * files) and what a module that sees no hot plug needs after one: unload
 * (C_Finalize, the child ended; every call then fails TR_E_LIBRARY "is
 * unloaded") and load again in a new child (C_Initialize), the session's
 * options and trace kept. */
void tr_p11_unload(tr_p11 *s);
int tr_p11_load(tr_p11 *s, tr_err *e);

void tr_p11_set_trace(tr_p11 *s, void (*fn)(void *ud, const tr_p11_trace *row), void *ud);

/* The module's path as loaded (a name resolved). */
const char *tr_p11_module_path(const tr_p11 *s);

/* Whether the module's function list has the function(s) fn needs. */
bool tr_p11_has(const tr_p11 *s, const char *fn);

/* Call fn with args. Returns 0 with r filled whatever the CKR, or -1 with
 * e set: TR_E_CONFIG fn unknown / missing from the function list / args of
 * the wrong shape; TR_E_MUTE no answer within the timeout (the session is
 * dead: every later call fails the same way); TR_E_LIBRARY the child died
 * (the signal named); TR_E_TOKEN the module claimed an impossible size or
 * wrote past its buffer (the call's rows are traced); TR_E_IO the socket. */
int tr_p11_call(tr_p11 *s, const char *fn, const tr_p11_args *args, tr_p11_reply *r, tr_err *e);

bool tr_p11_dead(const tr_p11 *s, int *signal);

#endif
