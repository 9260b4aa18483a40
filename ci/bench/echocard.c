/* echocard.c — the minimal vpcd card, the floor the virtual token is
 * benchmarked against: answers the ATR, and any APDU with its own bytes
 * after the 4-byte header (Lc/data/Le as sent) followed by 9000.
 *
 * Owns: nothing but this loop; it shares vpcd_link with vtoken so both pay
 * exactly the same transport costs.
 * Must not: model a token (no state, no latency).
 *
 * usage: echocard --port N [--host H]     (reconnects when vpcd closes)
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vpcd_link.h"

static const uint8_t ECHO_ATR[] = {0x3B, 0x80, 0x80, 0x01, 0x01}; /* T=1, TCK ok */

static int usage(void)
{
    fputs("usage: echocard --port N [--host H]\n", stderr);
    return 2;
}

/* Answer everything vpcd has sent so far; -1 when the link dropped. */
static int serve(vpcd_link *l, uint8_t *rsp)
{
    for (;;) {
        vpcd_msg m;
        tr_err e;
        int r = vpcd_link_recv(l, &m, &e);
        if (r <= 0)
            return r;
        if (m.is_control) {
            if (m.control == VPCD_CTRL_ATR && vpcd_link_send(l, ECHO_ATR, sizeof ECHO_ATR, &e))
                return -1;
            continue;
        }
        size_t n = m.len > 4 ? m.len - 4 : 0;
        memcpy(rsp, m.data + 4, n);
        rsp[n] = 0x90;
        rsp[n + 1] = 0x00;
        if (vpcd_link_send(l, rsp, n + 2, &e))
            return -1;
    }
}

int main(int argc, char **argv)
{
    const char *host = NULL;
    uint64_t port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            if (!tr_parse_u64(argv[++i], &port) || port == 0 || port > 65535)
                return usage();
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
        } else {
            return usage();
        }
    }
    if (!port)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    static vpcd_link l;
    static uint8_t rsp[VPCD_MAX_FRAME + 2];
    tr_err e;
    if (vpcd_link_init(&l, &e)) {
        fprintf(stderr, "echocard: %s\n", e.msg);
        return 1;
    }
    for (;;) {
        if (!vpcd_link_connected(&l) && vpcd_link_connect(&l, host, (unsigned)port, &e)) {
            tr_sleep_ms(20); /* vpcd not listening yet */
            continue;
        }
        struct pollfd p = {.fd = vpcd_link_fd(&l), .events = POLLIN};
        if (poll(&p, 1, -1) > 0 && serve(&l, rsp) < 0)
            vpcd_link_close(&l);
    }
}
