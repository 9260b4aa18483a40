/* libhost.h — a vendor library in a child process of its own: the machinery
 * the SKF layer (skf.c) and the PKCS#11 layer (p11.c) share.
 *
 * Owns: finding a host program (tokenrig-skfhost, tokenrig-p11host), the
 * SOCK_SEQPACKET socketpair, posix_spawn of the host with its end as fd 3,
 * the framing of header + payload (bounded frames, every length received
 * into exactly the room left, a deadline on each wait), the child's first
 * message, what a lost child means (no answer in time: killed by its PID,
 * TR_E_MUTE; the socket closed: reaped, TR_E_LIBRARY naming the signal; a
 * protocol breach: killed, TR_E_IO), the dead session's error repeated by
 * every later call, closing (a quit message, then SIGKILL after a grace
 * period, reaped), and the small pieces of trace formatting both layers
 * print (byte strings cut to a head, comma lists).
 * Must not: know a library's functions, arguments or return codes (the
 * layers' shape tables and the hosts' adapters do), or call a vendor
 * function in this process.
 */
#ifndef TR_LIBHOST_H
#define TR_LIBHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

#define TR_LIBHOST_FD 3              /* the child's end of the socket */
#define TR_LIBHOST_FRAME_MAX 65536u  /* one SEQPACKET message, under the default socket buffer */
#define TR_LIBHOST_CLOSE_GRACE_MS 1000

/* One child. what: how messages name the library ("SKF library",
 * "PKCS#11 module"); library: its path or name as the messages give it. */
typedef struct {
    const char *what;
    char library[TR_PATH_MAX];
    pid_t pid;          /* -1 once reaped */
    int fd;             /* the parent's end, -1 once closed */
    double timeout_ms;  /* the wait for the current answer */
    bool dead;
    int signal;         /* the signal that ended a dead child, 0 when none */
    tr_err death;       /* what killed the session, repeated by every later call */
} tr_libhost;

/* The host program `name`: $env when set (it must be executable), else
 * beside the running program, else in $TOKENRIG_LIBEXEC (the unit tests
 * run from build/tests), else in libexec_dir (where make install puts it). */
int tr_libhost_find(const char *name, const char *env, const char *libexec_dir, char *out, size_t cap, tr_err *e);

/* Start host (argv[0] is host; argv NULL-terminated) with the socket on fd
 * TR_LIBHOST_FD, its stdout on our stderr, default signals, an empty mask,
 * a process group of its own. h->what, h->library and h->timeout_ms are
 * the caller's to set first. Returns 0 (h->pid, h->fd set), or -1. */
int tr_libhost_start(tr_libhost *h, const char *host, char *const argv[], tr_err *e);

/* The child's first message (hlen bytes, starting with the 32-bit magic),
 * within h->timeout_ms. Returns 0 received; -1 with the child reaped and
 * h->fd closed: TR_E_MUTE (no answer: killed), TR_E_LIBRARY (it ended:
 * the message says how), TR_E_IO (a bad message). */
int tr_libhost_hello(tr_libhost *h, void *hello, size_t hlen, uint32_t magic, tr_err *e);

/* The deadline of the current wait (tr_now_ns() clock). */
uint64_t tr_libhost_deadline(const tr_libhost *h);

/* -1 with e = the death when the session is dead, else 0. */
int tr_libhost_check(const tr_libhost *h, tr_err *e);

/* The answer to fn was not had: how is what tr_libhost_recv_* gave (-2
 * late, 0 the socket closed, -1 a protocol breach with e saying which).
 * The child is killed when still there (by its PID) and reaped; the session
 * dies. sar gets the trace row's result ("timeout", "crash: SIGSEGV",
 * "protocol"), *us the time to show. Returns -1 with e set. */
int tr_libhost_lost(tr_libhost *h, const char *fn, int how, char *sar, size_t sar_cap, double *us, tr_err *e);

/* Send quit (the protocol's own message) when the child is there, close
 * the socket, reap (SIGKILL after TR_LIBHOST_CLOSE_GRACE_MS). */
void tr_libhost_stop(tr_libhost *h, const void *quit, size_t qlen);

/* Framing. Send hdr (one frame) then payload in frames: 0, or -1 (TR_E_IO;
 * never SIGPIPE). Receive one frame of exactly hlen bytes / plen payload
 * bytes by deadline_ns (0: forever): 1 received, 0 the peer closed, -2 the
 * deadline passed, -1 error or a frame of the wrong size (e set). */
int tr_libhost_send(int fd, const void *hdr, size_t hlen, const uint8_t *payload, size_t plen, tr_err *e);
int tr_libhost_recv_hdr(int fd, void *hdr, size_t hlen, uint64_t deadline_ns, tr_err *e);
int tr_libhost_recv_payload(int fd, uint8_t *buf, size_t plen, uint64_t deadline_ns, tr_err *e);

/* The strings and byte strings of a call, as both protocols carry them in
 * a request's payload: each string with its NUL, then each byte string. */
#define TR_LIBHOST_ARGS_MAX 4
#define TR_LIBHOST_STR_MAX 4096u   /* the longest string argument (with its NUL) */
#define TR_LIBHOST_IN_MAX (1u << 20) /* the largest byte argument */
typedef struct {
    const char *const *s;
    size_t ns;
    const uint8_t *const *b;
    const size_t *blen;
    size_t nb;
} tr_libhost_vec;

/* Parent: check nu numbers and v against the shape in (one letter an
 * argument: 'u' a number, 'b' bytes, any other a string) and the limits;
 * fill slen (with the NUL) and blen, *total, and *payload (malloc'ed, the
 * caller frees it, also on failure). fn names the call in messages. */
int tr_libhost_pack(const char *fn, const char *in, size_t nu, const tr_libhost_vec *v, uint32_t slen[4],
                    uint32_t blen[4], uint32_t *total, uint8_t **payload, tr_err *e);

/* Child: the ns strings and nb byte strings of a payload of plen bytes,
 * every length checked (a string NUL-terminated within its length, the
 * lengths adding up to plen). Unused byte slots are NULL, 0. Returns 0, or
 * -1 (a malformed request). */
int tr_libhost_unpack(const uint8_t *pl, uint32_t plen, uint32_t ns, const uint32_t slen[4], uint32_t nb,
                      const uint32_t blen[4], const char *s[4], const uint8_t *b[4], uint32_t bl[4]);

/* The operations and answer statuses of both protocols (a request header
 * starts with its 32-bit magic, then its 32-bit op). */
enum { TR_LIBHOST_OP_CALL = 1, TR_LIBHOST_OP_QUIT = 2 };
enum { TR_LIBHOST_ST_DONE = 0, TR_LIBHOST_ST_CONFIG = 1, TR_LIBHOST_ST_BOGUS = 2 };

/* The head of both protocols' requests: numbers of type utype inline;
 * strings (each with its NUL) then byte strings in the payload, in
 * argument order; payload the sum of slen and blen. */
#define TR_LIBHOST_REQ_FIELDS(utype) \
    uint32_t magic, op, fn;          \
    uint32_t nu, ns, nb;             \
    utype u[4];                      \
    uint32_t slen[4], blen[4];       \
    uint32_t payload

/* Child: serve requests on fd until the parent quits or closes. Each
 * request header (hlen bytes into hdr; its 32-bit payload length at
 * payload_off, at most TR_LIBHOST_IN_MAX + 4 * TR_LIBHOST_STR_MAX) and its
 * payload go to fn, which answers; fn returning -1 (a malformed request,
 * the socket gone) ends the loop. Returns the host's exit status: 0 the
 * parent quit or closed, 1 the protocol broke. */
typedef int tr_libhost_serve_fn(void *ud, int fd, const void *hdr, const uint8_t *payload);
int tr_libhost_serve(int fd, uint32_t magic, void *hdr, size_t hlen, size_t payload_off, tr_libhost_serve_fn *fn,
                     void *ud);

/* The arguments of a call in prototype order, for a trace row: each 'u'
 * of in as number(ud, its index) writes it, 'p' "<pin>", 's' quoted and
 * escaped (its first 48 bytes), 'b' as tr_libhost_fmt_bytes. */
typedef void tr_libhost_number_fn(const void *ud, size_t i, char *buf, size_t cap);
void tr_libhost_fmt_args(const char *in, tr_libhost_number_fn *number, const void *ud, const tr_libhost_vec *v,
                         char *buf, size_t cap);

/* Trace pieces. "[n] HEX…" (the first TR_LIBHOST_HEX_HEAD bytes), "NULL"
 * for none; piece appended to buf after ", " unless buf is empty. */
#define TR_LIBHOST_HEX_HEAD 32
void tr_libhost_fmt_bytes(const uint8_t *p, size_t n, char *buf, size_t cap);
void tr_libhost_append(char *buf, size_t cap, const char *piece);

#endif
