/* cardio.h — the seam between the interpreter and whatever answers APDUs.
 *
 * Owns: the tr_cardio callback table. The PC/SC transport (transport.c) and
 * the rig (power) fill it for real tokens; unit tests fill it with an
 * in-process REF-1 token (fixtures/vtoken/ref1.h) so the interpreter is
 * tested without sockets.
 * Must not: contain logic. GET RESPONSE (61xx) and Le correction (6Cxx)
 * happen *below* this seam: scripts never see 61xx/6Cxx unless the
 * transport was told to pass them through.
 */
#ifndef TR_CARDIO_H
#define TR_CARDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Largest response we accept: extended Le (65536) + SW. */
#define TR_MAX_RAPDU (65536 + 2)
/* Largest command: extended Lc (65535) + header + Lc/Le fields. */
#define TR_MAX_CAPDU (65535 + 4 + 3 + 3)

/* Stage timings of one power cycle (one row of cycles.csv). Times are ms
 * from the moment power came back on; -1 when the stage was not reached. */
typedef struct {
    double off_ms;           /* how long power was off */
    double to_device_ms;     /* USB device back on the bus (usb-hub only) */
    double to_reader_ms;     /* PC/SC reader present */
    double to_atr_ms;        /* card present with an ATR */
    double to_first_apdu_ms; /* first APDU answered (filled by the caller) */
    char atr_hex[100];
    char stage[32];          /* last stage reached: off|device|reader|atr|apdu */
    char power_level[32];    /* how far power-off was verified (usb-hub) */
    char note[160];          /* what the rig had to do besides, for the row's message ("" none) */
} tr_cycle_report;

typedef struct tr_cardio {
    void *ctx;
    /* Send one command APDU; rsp receives response data followed by SW1 SW2.
     * Returns 0, or -1 with e set (TR_E_MUTE, TR_E_REMOVED, TR_E_PCSC...). */
    int (*transmit)(void *ctx, const uint8_t *apdu, size_t n,
                    uint8_t *rsp, size_t cap, size_t *rlen, tr_err *e);
    /* Warm (cold=false) or cold (cold=true, SCARD_UNPOWER_CARD) reset. */
    int (*reset)(void *ctx, bool cold, tr_err *e);
    /* Full power cycle through the rig (token leaves and comes back). rep may
     * be NULL. */
    int (*power_cycle)(void *ctx, tr_cycle_report *rep, tr_err *e);
    /* Current ATR; returns its length (0 when unknown). */
    size_t (*atr)(void *ctx, uint8_t *out, size_t cap);
} tr_cardio;

#endif
