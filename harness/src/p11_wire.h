/* p11_wire.h — the private protocol between the PKCS#11 layer (p11.c, the
 * parent) and its child, build/tokenrig-p11host (p11host.c): the call
 * numbers, the request / answer / hello headers. The framing is libhost.h's.
 *
 * Owns: message layout and limits. Numbers are uint64_t on the wire.
 * Must not: call a module, know what a call means (p11.c's shape table and
 * p11host.c's adapters do).
 */
#ifndef TR_P11_WIRE_H
#define TR_P11_WIRE_H

#include <stdint.h>

#include "libhost.h"
#include "p11.h"

/* The calls, in the shape table's order. */
#define TR_P11_CALLS(X)                                                                                       \
    X(C_GetInfo) X(C_GetSlotList) X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList)                    \
    X(C_GetMechanismInfo) X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo)        \
    X(C_Login) X(C_Logout) X(C_SetPIN) X(C_InitPIN) X(find) X(C_GetAttributeValue) X(C_SignInit) X(C_Sign)    \
    X(C_DecryptInit) X(C_Decrypt) X(C_WaitForSlotEvent) X(C_Finalize)

#define TR_P11_ENUM(name) TR_P11_FN_##name,
enum { TR_P11_CALLS(TR_P11_ENUM) TR_P11_NFN };
#undef TR_P11_ENUM

/* The module functions an invocation names (a trace row each): the
 * call's own, or one of find's three. */
enum { TR_P11_INV_SELF = 0, TR_P11_INV_FIND_INIT, TR_P11_INV_FIND, TR_P11_INV_FIND_FINAL };

#define TR_P11_WIRE_MAGIC 0x31313150u /* "P111" */
#define TR_P11_OUT_MAX (1u << 20)     /* the largest byte output a module may claim */
#define TR_P11_INV_MAX 24             /* find: init, up to 20 batches, final */
#define TR_P11_FIND_BATCH 256
#define TR_P11_MSG_MAX 512

enum { TR_P11_OP_CALL = TR_LIBHOST_OP_CALL, TR_P11_OP_QUIT = TR_LIBHOST_OP_QUIT };

/* A call (libhost.h's layout): numbers as uint64_t. */
typedef struct {
    TR_LIBHOST_REQ_FIELDS(uint64_t);
    uint32_t pad;
} tr_p11_req;

typedef struct {
    uint64_t rv;
    uint64_t size; /* the length the function gave back (bytes or elements), 0 when none */
    uint64_t ns;   /* around the module function alone */
    uint32_t which; /* TR_P11_INV_* */
    uint32_t pad;
} tr_p11_inv;

enum { TR_P11_ST_DONE = TR_LIBHOST_ST_DONE, TR_P11_ST_CONFIG = TR_LIBHOST_ST_CONFIG, TR_P11_ST_BOGUS = TR_LIBHOST_ST_BOGUS };

/* The answer: the byte output is the payload (ids as uint64_t). status
 * CONFIG / BOGUS: msg says why. */
typedef struct {
    uint32_t magic, status;
    uint64_t rv;
    uint64_t u[TR_P11_OUTS_MAX];
    uint32_t ninv, payload;
    tr_p11_inv inv[TR_P11_INV_MAX];
    char msg[TR_P11_MSG_MAX];
} tr_p11_rep;

/* The child's first message: whether the module loaded (msg: why not),
 * the path it resolved, which calls its function list has (bit
 * TR_P11_FN_x), C_GetFunctionList's and C_Initialize's returns and times
 * (initialized: C_Initialize was in the list and called). */
typedef struct {
    uint32_t magic, loaded;
    uint64_t have;
    uint64_t gfl_rv, gfl_ns;   /* C_GetFunctionList */
    uint64_t init_rv, init_ns; /* C_Initialize */
    uint32_t initialized, pad;
    char msg[TR_P11_MSG_MAX];
    char path[1024];
} tr_p11_hello;

/* The child's side: serve requests on fd for module (argv of
 * tokenrig-p11host). Returns the process's exit status. */
int tr_p11host_serve(int fd, const char *module);

#endif
