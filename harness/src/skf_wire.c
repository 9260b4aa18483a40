/* skf_wire.c — framing of the SKF layer's parent/child protocol
 * (skf_wire.h): a header frame, then the payload in frames no larger than
 * TR_SKF_FRAME_MAX, each received into exactly the room that is left. */
#include "skf_wire.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

static int send_frame(int fd, const void *p, size_t n, tr_err *e)
{
    for (;;) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        return tr_fail(e, TR_E_IO, "SKF child socket: send: %s", w < 0 ? strerror(errno) : "short write");
    }
}

int tr_skf_wire_send(int fd, const void *hdr, size_t hlen, const uint8_t *payload, size_t plen, tr_err *e)
{
    if (send_frame(fd, hdr, hlen, e) < 0)
        return -1;
    for (size_t off = 0; off < plen;) {
        size_t n = plen - off < TR_SKF_FRAME_MAX ? plen - off : TR_SKF_FRAME_MAX;
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
            return tr_fail(e, TR_E_IO, "SKF child socket: poll: %s", strerror(errno));
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
            return tr_fail(e, TR_E_IO, "SKF child socket: recv: %s", strerror(errno));
        if ((size_t)n > cap)
            return tr_fail(e, TR_E_IO, "SKF child socket: a frame of %zd bytes where at most %zu fit", n, cap);
        return (long)n;
    }
}

int tr_skf_wire_recv_hdr(int fd, void *hdr, size_t hlen, uint64_t deadline_ns, tr_err *e)
{
    long n = recv_frame(fd, hdr, hlen, deadline_ns, e);
    if (n <= 0)
        return (int)n;
    if ((size_t)n != hlen)
        return tr_fail(e, TR_E_IO, "SKF child socket: a header of %ld bytes, not %zu", n, hlen);
    return 1;
}

int tr_skf_wire_recv_payload(int fd, uint8_t *buf, size_t plen, uint64_t deadline_ns, tr_err *e)
{
    for (size_t off = 0; off < plen;) {
        size_t room = plen - off < TR_SKF_FRAME_MAX ? plen - off : TR_SKF_FRAME_MAX;
        long n = recv_frame(fd, buf + off, room, deadline_ns, e);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0; /* an empty frame never comes: the peer closed */
        off += (size_t)n;
    }
    return 1;
}
