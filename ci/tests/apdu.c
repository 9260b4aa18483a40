/* apdu — a minimal PC/SC client for the integration tests: waits (up to
 * 10 s) for a token in READER, connects exclusively, prints "atr <hex>",
 * then for each argument (an APDU in hex) one line "<response data hex> <SW>"
 * (data "-" when empty). Uses the harness's transport, so 61xx/6Cxx are
 * resolved as tokenrig resolves them.
 *   apdu READER APDU-HEX...        (special arguments: "reset", "cold") */
#include <stdio.h>
#include <string.h>

#include "transport.h"
#include "util.h"

static int die(const tr_err *e)
{
    fprintf(stderr, "apdu: %s\n", e->msg);
    return 2;
}

int main(int argc, char **argv)
{
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
