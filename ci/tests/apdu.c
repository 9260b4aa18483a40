/* apdu — a minimal PC/SC client for the integration tests: waits (up to
 * 10 s) for a token in READER, connects exclusively, prints "atr <hex>",
 * then for each argument (an APDU in hex) one line "<response data hex> <SW>"
 * (data "-" when empty). Uses the harness's transport, so 61xx/6Cxx are
 * resolved as tokenrig resolves them.
 *   apdu READER APDU-HEX...        (special arguments: "reset", "cold")
 *   apdu --busy SECONDS READER APDU-HEX
 *       the token kept busy as another program keeps it: a shared
 *       connection, back-to-back transactions of 30 times the APDU each, for
 *       SECONDS; prints "holding" once the first transaction began and
 *       "busy <transactions>" at the end (raw PC/SC: the harness's
 *       transport has no transactions). */
#include <PCSC/winscard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport.h"
#include "util.h"

static int die(const tr_err *e)
{
    fprintf(stderr, "apdu: %s\n", e->msg);
    return 2;
}

static int busy(const char *seconds, const char *reader, const char *apdu_hex)
{
    uint8_t cmd[300], rsp[300];
    long n = tr_hex_decode(apdu_hex, cmd, sizeof cmd);
    SCARDCONTEXT cx;
    SCARDHANDLE h;
    DWORD proto;
    if (n < 4 || SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &cx) != SCARD_S_SUCCESS ||
        SCardConnect(cx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto) !=
            SCARD_S_SUCCESS) {
        fprintf(stderr, "apdu --busy: bad APDU, or no connection to %s\n", reader);
        return 2;
    }
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    time_t end = time(NULL) + atol(seconds);
    long done = 0;
    while (time(NULL) < end) {
        if (SCardBeginTransaction(h) != SCARD_S_SUCCESS)
            break;
        if (done == 0) { /* the test waits for this line: the token is held from here on */
            printf("holding\n");
            fflush(stdout);
        }
        for (int i = 0; i < 30; i++) {
            DWORD rl = sizeof rsp;
            SCardTransmit(h, pci, cmd, (DWORD)n, NULL, rsp, &rl);
        }
        SCardEndTransaction(h, SCARD_LEAVE_CARD);
        done++;
    }
    printf("busy %ld\n", done);
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    SCardReleaseContext(cx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--busy"))
        return busy(argv[2], argv[3], argv[4]);
    if (argc < 3) {
        fprintf(stderr, "usage: apdu READER APDU-HEX...\n");
        return 2;
    }
    tr_err e;
    tr_pcsc *p;
    tr_card *c;
    if (tr_pcsc_open(&p, &e) < 0)
        return die(&e);
    if (tr_pcsc_wait_card(p, argv[1], true, 10000, &e) < 0 || tr_card_connect(p, argv[1], &c, &e) < 0)
        return die(&e);
    uint8_t atr[64];
    char atr_hex[140];
    size_t alen = tr_card_atr(c, atr, sizeof atr);
    printf("atr %s\n", tr_hex_encode(atr, alen, atr_hex, sizeof atr_hex, 0));
    static uint8_t cmd[4096], rsp[70000];
    static char hex[140010];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "reset") || !strcmp(argv[i], "cold")) {
            if (tr_card_reset(c, !strcmp(argv[i], "cold"), &e) < 0)
                return die(&e);
            printf("reset\n");
            continue;
        }
        long n = tr_hex_decode(argv[i], cmd, sizeof cmd);
        if (n < 4) {
            fprintf(stderr, "apdu: argument %d is not an APDU in hex\n", i);
            return 2;
        }
        size_t rlen;
        if (tr_card_transmit(c, cmd, (size_t)n, rsp, sizeof rsp, &rlen, &e) < 0)
            return die(&e);
        tr_hex_encode(rsp, rlen - 2, hex, sizeof hex, 0);
        printf("%s %02X%02X\n", rlen > 2 ? hex : "-", rsp[rlen - 2], rsp[rlen - 1]);
        fflush(stdout);
    }
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
    return 0;
}
