/* libhost.c — a vendor library in a child process (libhost.h): spawning,
 * framing, the child's loss, reaping, the shared trace pieces.
 *
 * The child is spawned (posix_spawn of a host program), never forked: the
 * parent is multi-threaded, and the child dlopen()s the vendor's code. */
#include "libhost.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "skfdata.h"
#include "util.h"

extern char **environ;

/* ---- the child's status and reaping ------------------------------------------------ */

/* The status after waitpid, as words: "signal 11 (SIGSEGV)". */
static void describe_status(int st, char *buf, size_t cap, int *sig)
{
    *sig = 0;
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
        const char *abbrev = sigabbrev_np(*sig);
        snprintf(buf, cap, "signal %d (SIG%s)", *sig, abbrev ? abbrev : "?");
    } else if (WIFEXITED(st)) {
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(st));
    } else {
        snprintf(buf, cap, "status 0x%x", (unsigned)st);
    }
}

static int wait_child(pid_t pid, int flags, int *st)
{
    pid_t r;
    while ((r = waitpid(pid, st, flags)) < 0 && errno == EINTR)
        ;
    return r == pid ? 1 : 0;
}

/* The child has grace_ms to go on its own, then SIGKILL (by its PID: it is
 * ours). Returns the wait status (0 when it could not be had). */
static int reap(tr_libhost *h, unsigned grace_ms)
{
    int st = 0;
    if (h->pid <= 0)
        return 0;
    uint64_t end = tr_now_ns() + (uint64_t)grace_ms * 1000000u;
    bool gone = false;
    while (!(gone = wait_child(h->pid, WNOHANG, &st)) && tr_now_ns() < end)
        tr_sleep_ms(5);
    if (!gone) {
        kill(h->pid, SIGKILL);
        if (!wait_child(h->pid, 0, &st))
            st = 0;
    }
    h->pid = -1;
    return st;
}

static void kill_and_reap(tr_libhost *h)
{
    if (h->pid > 0)
        kill(h->pid, SIGKILL);
    reap(h, 0);
}

static void close_fd(tr_libhost *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

/* ---- finding and starting the host --------------------------------------------------- */

int tr_libhost_find(const char *name, const char *env, const char *libexec_dir, char *out, size_t cap, tr_err *e)
{
    const char *set = getenv(env);
    if (set && *set) {
        if (access(set, X_OK) == 0 && tr_strlcpy(out, set, cap))
            return 0;
        return tr_fail(e, TR_E_CONFIG, "%s=%s: not an executable", env, set);
    }
    const char *lx = getenv("TOKENRIG_LIBEXEC");
    const char *dirs[] = {tr_exe_dir(), lx && *lx ? lx : NULL, libexec_dir};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i])
            continue;
        snprintf(out, cap, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return tr_fail(e, TR_E_CONFIG, "%s not found beside %s, in $TOKENRIG_LIBEXEC or in %s (set %s)", name,
                   tr_exe_dir(), libexec_dir, env);
}

static int spawn_host(const char *host, char *const argv[], int child_fd, pid_t *pid, tr_err *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&dfl, sigs[i]);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, child_fd, TR_LIBHOST_FD);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&fa, TR_LIBHOST_FD + 1);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    int rc = posix_spawn(pid, host, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return tr_fail(e, TR_E_CONFIG, "starting %s: %s", host, strerror(rc));
    return 0;
}

/* The socketpair, the child's end kept off fd 3 (a dup2 onto itself would
 * keep its close-on-exec flag). */
static int make_pair(int sv[2], tr_err *e)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return tr_fail(e, TR_E_IO, "socketpair: %s", strerror(errno));
    if (sv[1] == TR_LIBHOST_FD) {
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, TR_LIBHOST_FD + 1);
        close(sv[1]);
        if (moved < 0) {
            close(sv[0]);
            return tr_fail(e, TR_E_IO, "fcntl: %s", strerror(errno));
        }
        sv[1] = moved;
    }
    return 0;
}

int tr_libhost_start(tr_libhost *h, const char *host, char *const argv[], tr_err *e)
{
    int sv[2];
    h->pid = -1, h->fd = -1, h->dead = false, h->signal = 0;
    if (make_pair(sv, e) < 0)
        return -1;
    int rc = spawn_host(host, argv, sv[1], &h->pid, e);
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        h->pid = -1;
        return -1;
    }
    h->fd = sv[0];
    return 0;
}

uint64_t tr_libhost_deadline(const tr_libhost *h)
{
    return tr_now_ns() + (uint64_t)(h->timeout_ms * 1e6);
}

int tr_libhost_hello(tr_libhost *h, void *hello, size_t hlen, uint32_t magic, tr_err *e)
{
    int r = tr_libhost_recv_hdr(h->fd, hello, hlen, tr_libhost_deadline(h), e);
    uint32_t got = 0;
    if (r == 1)
        memcpy(&got, hello, sizeof got);
    if (r == 1 && got == magic)
        return 0;
    close_fd(h);
    if (r == -2) {
        kill_and_reap(h);
        return tr_fail(e, TR_E_MUTE, "loading the %s %s: no answer within %.0f ms (killed)", h->what, h->library,
                       h->timeout_ms);
    }
    char how[64];
    int sig;
    describe_status(reap(h, TR_LIBHOST_CLOSE_GRACE_MS), how, sizeof how, &sig);
    return tr_fail(e, r == 0 ? TR_E_LIBRARY : TR_E_IO, "loading the %s %s: the child ended (%s)", h->what,
                   h->library, how);
}

int tr_libhost_check(const tr_libhost *h, tr_err *e)
{
    if (!h->dead)
        return 0;
    *e = h->death;
    return -1;
}

/* The session dies: the error kept for every later call. */
static int die(tr_libhost *h, tr_err *e, tr_code code, const char *msg)
{
    h->dead = true;
    close_fd(h);
    tr_fail(&h->death, code, "%s", msg);
    *e = h->death;
    return -1;
}

int tr_libhost_lost(tr_libhost *h, const char *fn, int how, char *sar, size_t sar_cap, double *us, tr_err *e)
{
    char why[96], msg[TR_ERR_MSG_MAX];
    *us = 0;
    if (how == -2) {
        kill(h->pid, SIGKILL);
        describe_status(reap(h, 0), why, sizeof why, &h->signal);
        snprintf(sar, sar_cap, "timeout");
        *us = h->timeout_ms * 1000;
        snprintf(msg, sizeof msg, "the %s %s did not answer %s within %.0f ms: its process was killed", h->what,
                 h->library, fn, h->timeout_ms);
        return die(h, e, TR_E_MUTE, msg);
    }
    if (how == 0) {
        describe_status(reap(h, TR_LIBHOST_CLOSE_GRACE_MS), why, sizeof why, &h->signal);
        const char *abbrev = h->signal ? sigabbrev_np(h->signal) : NULL;
        if (abbrev)
            snprintf(sar, sar_cap, "crash: SIG%s", abbrev);
        else
            snprintf(sar, sar_cap, "crash: %s", why);
        snprintf(msg, sizeof msg, "the %s %s died in %s: %s", h->what, h->library, fn, why);
        return die(h, e, TR_E_LIBRARY, msg);
    }
    snprintf(msg, sizeof msg, "the %s %s's process broke the protocol in %s: %s", h->what, h->library, fn, e->msg);
    kill_and_reap(h);
    snprintf(sar, sar_cap, "protocol");
    return die(h, e, TR_E_IO, msg);
}

void tr_libhost_stop(tr_libhost *h, const void *quit, size_t qlen)
{
    if (h->fd >= 0) {
        tr_err e;
        tr_libhost_send(h->fd, quit, qlen, NULL, 0, &e);
    }
    close_fd(h);
    reap(h, TR_LIBHOST_CLOSE_GRACE_MS);
}

/* ---- framing --------------------------------------------------------------------------- */

static int send_frame(int fd, const void *p, size_t n, tr_err *e)
{
    for (;;) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return tr_fail(e, TR_E_IO, "library child socket: send: %s", w < 0 ? strerror(errno) : "short write");
    }
}

int tr_libhost_send(int fd, const void *hdr, size_t hlen, const uint8_t *payload, size_t plen, tr_err *e)
{
    if (send_frame(fd, hdr, hlen, e) < 0)
        return -1;
    for (size_t off = 0; off < plen;) {
        size_t n = plen - off < TR_LIBHOST_FRAME_MAX ? plen - off : TR_LIBHOST_FRAME_MAX;
        if (send_frame(fd, payload + off, n, e) < 0)
            return -1;
        off += n;
    }
    return 0;
}

/* Wait for fd to be readable until deadline_ns (0: forever): 1 ready,
 * -2 the deadline passed, -1 error. */
static int wait_readable(int fd, uint64_t deadline_ns, tr_err *e)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns) {
            uint64_t now = tr_now_ns();
            if (now >= deadline_ns)
                return -2;
            ms = (int)((deadline_ns - now + 999999) / 1000000);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return tr_fail(e, TR_E_IO, "library child socket: poll: %s", strerror(errno));
    }
}

/* One frame of at most cap bytes: its length, 0 the peer closed, -2 late,
 * -1 error or a frame larger than cap (MSG_TRUNC gives its real length). */
static long recv_frame(int fd, uint8_t *buf, size_t cap, uint64_t deadline_ns, tr_err *e)
{
    for (;;) {
        int w = wait_readable(fd, deadline_ns, e);
        if (w != 1)
            return w;
        ssize_t n = recv(fd, buf, cap, MSG_TRUNC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && errno == ECONNRESET)
            return 0;
        if (n < 0)
            return tr_fail(e, TR_E_IO, "library child socket: recv: %s", strerror(errno));
        if ((size_t)n > cap)
            return tr_fail(e, TR_E_IO, "library child socket: a frame of %zd bytes where at most %zu fit", n, cap);
        return (long)n;
    }
}

int tr_libhost_recv_hdr(int fd, void *hdr, size_t hlen, uint64_t deadline_ns, tr_err *e)
{
    long n = recv_frame(fd, hdr, hlen, deadline_ns, e);
    if (n <= 0)
        return (int)n;
    if ((size_t)n != hlen)
        return tr_fail(e, TR_E_IO, "library child socket: a header of %ld bytes, not %zu", n, hlen);
    return 1;
}

int tr_libhost_recv_payload(int fd, uint8_t *buf, size_t plen, uint64_t deadline_ns, tr_err *e)
{
    for (size_t off = 0; off < plen;) {
        size_t room = plen - off < TR_LIBHOST_FRAME_MAX ? plen - off : TR_LIBHOST_FRAME_MAX;
        long n = recv_frame(fd, buf + off, room, deadline_ns, e);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0; /* an empty frame never comes: the peer closed */
        off += (size_t)n;
    }
    return 1;
}

/* ---- a call's strings and byte strings ---------------------------------------------------- */

int tr_libhost_pack(const char *fn, const char *in, size_t nu, const tr_libhost_vec *v, uint32_t slen[4],
                    uint32_t blen[4], uint32_t *total, uint8_t **payload, tr_err *e)
{
    size_t wu = 0, ws = 0, wb = 0;
    *payload = NULL;
    for (const char *c = in; *c; c++)
        *c == 'u' ? wu++ : *c == 'b' ? wb++ : ws++;
    if (nu != wu || v->ns != ws || v->nb != wb)
        return tr_fail(e, TR_E_CONFIG, "%s takes %zu numbers, %zu strings, %zu byte strings (\"%s\"), not %zu, %zu, %zu",
                       fn, wu, ws, wb, in, nu, v->ns, v->nb);
    size_t sum = 0;
    for (size_t i = 0; i < ws; i++) {
        size_t n = v->s[i] ? strlen(v->s[i]) + 1 : 0;
        if (!n || n > TR_LIBHOST_STR_MAX)
            return tr_fail(e, TR_E_CONFIG, "%s: string argument %zu missing or over %u bytes", fn, i + 1,
                           TR_LIBHOST_STR_MAX - 1);
        slen[i] = (uint32_t)n, sum += n;
    }
    for (size_t i = 0; i < wb; i++) {
        if (v->blen[i] > TR_LIBHOST_IN_MAX || (v->blen[i] && !v->b[i]))
            return tr_fail(e, TR_E_CONFIG, "%s: byte argument %zu missing or over %u bytes", fn, i + 1,
                           TR_LIBHOST_IN_MAX);
        blen[i] = (uint32_t)v->blen[i], sum += v->blen[i];
    }
    *total = (uint32_t)sum;
    uint8_t *p = *payload = malloc(sum + 1);
    if (!p)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < ws; i++)
        memcpy(p, v->s[i], slen[i]), p += slen[i];
    for (size_t i = 0; i < wb; i++)
        if (v->blen[i])
            memcpy(p, v->b[i], v->blen[i]), p += v->blen[i];
    return 0;
}

int tr_libhost_unpack(const uint8_t *pl, uint32_t plen, uint32_t ns, const uint32_t slen[4], uint32_t nb,
                      const uint32_t blen[4], const char *s[4], const uint8_t *b[4], uint32_t bl[4])
{
    if (ns > TR_LIBHOST_ARGS_MAX || nb > TR_LIBHOST_ARGS_MAX)
        return -1;
    size_t off = 0;
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t n = slen[i];
        if (n == 0 || n > TR_LIBHOST_STR_MAX || n > plen - off || pl[off + n - 1] != '\0')
            return -1;
        s[i] = (const char *)pl + off;
        off += n;
    }
    for (uint32_t i = 0; i < TR_LIBHOST_ARGS_MAX; i++)
        b[i] = NULL, bl[i] = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t n = blen[i];
        if (n > TR_LIBHOST_IN_MAX || n > plen - off)
            return -1;
        b[i] = pl + off, bl[i] = n;
        off += n;
    }
    return off == plen ? 0 : -1;
}

int tr_libhost_serve(int fd, uint32_t magic, void *hdr, size_t hlen, size_t payload_off, tr_libhost_serve_fn *fn,
                     void *ud)
{
    for (;;) {
        tr_err e;
        uint32_t head[2], plen;
        int r = tr_libhost_recv_hdr(fd, hdr, hlen, 0, &e);
        if (r == 0)
            return 0;
        if (r != 1)
            return 1;
        memcpy(head, hdr, sizeof head);
        memcpy(&plen, (const uint8_t *)hdr + payload_off, sizeof plen);
        if (head[0] == magic && head[1] == TR_LIBHOST_OP_QUIT)
            return 0;
        if (head[0] != magic || head[1] != TR_LIBHOST_OP_CALL || plen > TR_LIBHOST_IN_MAX + 4 * TR_LIBHOST_STR_MAX)
            return 1;
        uint8_t *pl = malloc(plen + 1u);
        int rc = pl && tr_libhost_recv_payload(fd, pl, plen, 0, &e) == 1 ? fn(ud, fd, hdr, pl) : -1;
        free(pl);
        if (rc < 0)
            return 1;
    }
}

void tr_libhost_fmt_args(const char *in, tr_libhost_number_fn *number, const void *ud, const tr_libhost_vec *v,
                         char *buf, size_t cap)
{
    size_t iu = 0, is = 0, ib = 0;
    char piece[256];
    buf[0] = '\0';
    for (const char *c = in; *c; c++) {
        if (*c == 'u') {
            number(ud, iu++, piece, sizeof piece);
        } else if (*c == 'p') {
            snprintf(piece, sizeof piece, "<pin>");
            is++;
        } else if (*c == 's') {
            char t[TR_SKF_TEXT_CAP(48)];
            tr_skf_text((const uint8_t *)v->s[is], strnlen(v->s[is], 48), t, sizeof t);
            snprintf(piece, sizeof piece, "\"%s\"%s", t, strlen(v->s[is]) > 48 ? "…" : "");
            is++;
        } else {
            tr_libhost_fmt_bytes(v->b[ib], v->blen[ib], piece, sizeof piece);
            ib++;
        }
        tr_libhost_append(buf, cap, piece);
    }
}

/* ---- trace pieces ------------------------------------------------------------------------ */

void tr_libhost_fmt_bytes(const uint8_t *p, size_t n, char *buf, size_t cap)
{
    if (!n) {
        snprintf(buf, cap, "NULL");
        return;
    }
    char hex[2 * TR_LIBHOST_HEX_HEAD + 1];
    tr_hex_encode(p, n < TR_LIBHOST_HEX_HEAD ? n : TR_LIBHOST_HEX_HEAD, hex, sizeof hex, 0);
    snprintf(buf, cap, "[%zu] %s%s", n, hex, n > TR_LIBHOST_HEX_HEAD ? "…" : "");
}

void tr_libhost_append(char *buf, size_t cap, const char *piece)
{
    size_t n = strlen(buf);
    if (n < cap)
        snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", piece);
}
