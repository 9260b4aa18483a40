/* skf_wire.h — the private protocol between the SKF layer (skf.c, the
 * parent) and its child, build/tokenrig-skfhost (skfhost.c): the function
 * numbers and the request / answer headers over the SOCK_SEQPACKET
 * socketpair.
 *
 * Owns: message layout and limits (the framing, with a deadline and every
 * length checked against what the receiver can hold, is libhost.h's).
 * Must not: call a vendor function, know what a function means (skf.c's
 * shape table and skfhost.c's adapters do).
 */
#ifndef TR_SKF_WIRE_H
#define TR_SKF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "libhost.h" /* TR_LIBHOST_STR_MAX, TR_LIBHOST_IN_MAX: the argument limits */
#include "skf_abi.h"

/* Function numbers: TR_SKF_FUNCTIONS' order. */
#define TR_SKF_ENUM(name, params) TR_FN_##name,
enum { TR_SKF_FUNCTIONS(TR_SKF_ENUM) TR_SKF_NFN };
#undef TR_SKF_ENUM
_Static_assert(TR_SKF_NFN <= 64, "the exported-function set is one 64-bit mask");

#define TR_SKF_WIRE_MAGIC 0x31464B53u /* "SKF1" */
#define TR_SKF_OUT_MAX (1u << 20)     /* the largest byte output a library may claim */
#define TR_SKF_EVENT_NAME_MAX 4096u   /* SKF_WaitForDevEvent's name buffer */
#define TR_SKF_MSG_MAX 512

enum { TR_SKF_OP_CALL = TR_LIBHOST_OP_CALL, TR_SKF_OP_QUIT = TR_LIBHOST_OP_QUIT };

/* A call: numbers inline; strings (each with its NUL) then byte strings in
 * the payload, in argument order. */
typedef struct {
    TR_LIBHOST_REQ_FIELDS(uint32_t);
} tr_skf_req;

/* One vendor function invocation (a size query, or the call). */
typedef struct {
    uint32_t sar;
    uint32_t size; /* *pulSize / *pulLen after it, 0 when the function has none */
    uint64_t ns;   /* around the vendor function alone */
} tr_skf_inv;

enum { TR_SKF_ST_DONE = TR_LIBHOST_ST_DONE, TR_SKF_ST_CONFIG = TR_LIBHOST_ST_CONFIG, TR_SKF_ST_BOGUS = TR_LIBHOST_ST_BOGUS };

/* The answer: the byte output is the payload. status CONFIG / BOGUS: msg
 * says why (no vendor result). */
typedef struct {
    uint32_t magic, status, sar;
    uint32_t u[4];
    uint32_t ninv;
    tr_skf_inv inv[2];
    uint32_t payload;
    char msg[TR_SKF_MSG_MAX];
} tr_skf_rep;

/* The child's first message: whether the library loaded (msg: dlerror())
 * and which functions it exports (bit TR_FN_x). */
typedef struct {
    uint32_t magic, loaded;
    uint64_t have;
    char msg[TR_SKF_MSG_MAX];
} tr_skf_hello;

/* The child's side: serve requests on fd for library (argv of
 * tokenrig-skfhost). Returns the process's exit status. */
int tr_skfhost_serve(int fd, const char *library, unsigned devinfo_size, unsigned out_width);

#endif
