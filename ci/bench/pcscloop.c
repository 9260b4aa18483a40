/* pcscloop.c — the bare SCardTransmit loop every per-APDU figure of the
 * benchmark is compared with: no tracing, no parsing, nothing but PC/SC.
 *
 * Owns: this loop only.
 * Must not: retry, chain 61xx, or interpret answers (it only checks that an
 * answer came back, so a mute token is reported, not timed).
 *
 * usage: pcscloop READER N APDU-HEX
 *   connects SCARD_SHARE_EXCLUSIVE (T0|T1), sends APDU N times, prints
 *   "n=N mean_us=M min_us=A max_us=B sw=XXXX" on stdout. Exit 0, or 1 on a
 *   PC/SC failure, 2 on bad arguments. Honours PCSCLITE_CSOCK_NAME.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

#include "util.h"

static int fail(const char *what, LONG rv)
{
    fprintf(stderr, "pcscloop: %s: %s (0x%08lX)\n", what, pcsc_stringify_error(rv),
            (unsigned long)rv);
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t count;
    uint8_t apdu[4 + 3 + 65535 + 3];
    if (argc != 4 || !tr_parse_u64(argv[2], &count) || count == 0) {
        fputs("usage: pcscloop READER N APDU-HEX\n", stderr);
        return 2;
    }
    long alen = tr_hex_decode(argv[3], apdu, sizeof apdu);
    if (alen < 4) {
        fputs("pcscloop: APDU-HEX must be at least 4 bytes of hex\n", stderr);
        return 2;
    }
    SCARDCONTEXT ctx;
    SCARDHANDLE card;
    DWORD proto;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS)
        return fail("SCardEstablishContext", rv);
    rv = SCardConnect(ctx, argv[1], SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &card, &proto);
    if (rv != SCARD_S_SUCCESS)
        return fail("SCardConnect", rv);
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    static uint8_t rsp[65536 + 2];
    uint64_t min = UINT64_MAX, max = 0, t_all = tr_now_ns();
    unsigned sw = 0;
    for (uint64_t i = 0; i < count; i++) {
        DWORD rlen = sizeof rsp;
        uint64_t t = tr_now_ns();
        rv = SCardTransmit(card, pci, apdu, (DWORD)alen, NULL, rsp, &rlen);
        uint64_t dt = tr_now_ns() - t;
        if (rv != SCARD_S_SUCCESS)
            return fail("SCardTransmit", rv);
        if (rlen < 2) {
            fprintf(stderr, "pcscloop: answer %lu shorter than a status word\n", (unsigned long)i);
            return 1;
        }
        sw = (unsigned)rsp[rlen - 2] << 8 | rsp[rlen - 1];
        min = dt < min ? dt : min;
        max = dt > max ? dt : max;
    }
    double mean = (double)(tr_now_ns() - t_all) / 1e3 / (double)count;
    printf("n=%llu mean_us=%.1f min_us=%.1f max_us=%.1f sw=%04X\n", (unsigned long long)count,
           mean, (double)min / 1e3, (double)max / 1e3, sw);
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
    return 0;
}
