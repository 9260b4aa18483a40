/* fakecard.h — in-process cards behind a tr_cardio, for the interpreter
 * tests (no sockets, no pcscd).
 *
 * Owns: two responders. A scripted one (rules: command prefix -> answer,
 * optionally for a limited number of uses; everything else answers a
 * default SW) with injectable faults (mute / removed after N APDUs, failing
 * power cycles, a latency per APDU). And a REF-1 one wrapping the real
 * REF-1 token model (fixtures/vtoken/ref1.h) in process: faults, PIN state,
 * signing, files, exactly as the virtual token behaves, minus the wire.
 * Both record the commands they saw.
 * Must not: be linked into the harness proper (tests only).
 */
#ifndef TR_FAKECARD_H
#define TR_FAKECARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cardio.h"
#include "ref1.h"

#define FAKE_MAX_RULES 64
#define FAKE_LOG 64

typedef struct {
    uint8_t cmd[64];
    size_t cmd_len;          /* prefix to match */
    uint8_t rsp[512];
    size_t rsp_len;          /* data + SW */
    long uses;               /* answers left; -1 = forever */
    int fail_code;           /* nonzero: the exchange fails with this tr_code
                                (a protocol violation the transport caught) */
} fake_rule;

typedef struct {
    /* scripted mode */
    fake_rule rules[FAKE_MAX_RULES];
    int nrules;
    uint16_t default_sw;
    /* REF-1 mode (tok != NULL) */
    ref1_token *tok;
    bool honour_sign_delay;  /* sleep ref1_sign_delay_ms() after a signature */
    bool honour_late;        /* sleep ref1_late_ms() after a late answer
                                (slow-start, slow-apdu) */
    bool dropped;            /* REF-1 closed the link (drop-after) */
    /* injected faults (both modes) */
    long mute_after;         /* answer this many APDUs, then TR_E_MUTE; -1 never */
    long remove_after;       /* then TR_E_REMOVED; -1 never */
    unsigned latency_ms;     /* sleep per APDU */
    bool cycle_fails;        /* power_cycle fails (token never back) */
    char cycle_stage[16];    /* stage reached when it fails ("reader") */
    int cycle_code;          /* tr_code of the failure (TR_E_TIMEOUT) */
    bool no_power;           /* power_cycle callback absent */
    uint8_t atr[33];
    size_t atr_len;
    /* what happened */
    unsigned long ncmds;
    char log[FAKE_LOG][200]; /* last FAKE_LOG commands as hex (no spaces) */
    unsigned warm_resets, cold_resets, cycles;
} fakecard;

/* Scripted card: no rules, default SW 9000, REF-1's ATR, no faults. */
void fakecard_init(fakecard *f);
/* Add a rule: commands starting with cmd_hex answer rsp_hex (data + SW),
 * uses times (-1 = forever). Earlier rules win. Returns 0 or -1. */
int fakecard_rule(fakecard *f, const char *cmd_hex, const char *rsp_hex, long uses);
/* A rule whose exchange fails with code (TR_E_PROTO_61XX...), uses times. */
int fakecard_rule_fail(fakecard *f, const char *cmd_hex, int code, long uses);
/* REF-1 card around an initialised token (powered on here). */
void fakecard_init_ref1(fakecard *f, ref1_token *tok);
/* The callbacks (ctx = f). */
void fakecard_cardio(fakecard *f, tr_cardio *io);
/* The i-th command seen (0 = first), or "" when out of range/evicted. */
const char *fakecard_cmd(const fakecard *f, unsigned long i);

#endif
