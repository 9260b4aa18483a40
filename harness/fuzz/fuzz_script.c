/* fuzz_script.c — libFuzzer target for the suite language: the parser on
 * any bytes, and the interpreter on whatever parses, against an in-process
 * echo card (no sockets), with a step budget so every input ends.
 *
 * Checked on every input, aborting on violation:
 * - the parser either succeeds or fails with TR_E_PARSE at a position
 *   inside the text (line >= 1, column >= 1) with a message that starts
 *   with "expected";
 * - the interpreter returns 0 (it only fails for harness faults, and none
 *   are possible here), writes exactly one verdict row per test, its
 *   counts add up, and every trace row has a 4-hex-digit SW and a command;
 * - ASan/UBSan/LSan find nothing (bounds, overflow, leaks).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "script.h"
#include "vars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_script: check failed: %s (%s:%d)\n", #cond,  \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Echo card: data in -> data out; INS picks a status word so expectations,
 * read-binary and loops see variety. */
static int echo_transmit(void *ctx, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap,
                         size_t *rlen, tr_err *e)
{
    unsigned *count = ctx;
    (*count)++;
    if (n >= 2 && apdu[1] == 0xEE)
        return tr_fail(e, TR_E_MUTE, "fuzz: mute");
    size_t data = n > 5 ? n - 5 : 0;
    if (data > 256)
        data = 256;
    if (data + 2 > cap)
        return tr_fail(e, TR_E_INTERNAL, "fuzz: no room");
    memcpy(rsp, apdu + (n > 5 ? 5 : 0), data);
    uint16_t sw = 0x9000;
    if (n >= 2 && apdu[1] == 0xB0)
        sw = (n >= 4 && apdu[3] > 0x40) ? 0x6B00 : 0x6282;
    else if (n >= 2 && apdu[1] == 0x20)
        sw = 0x63C3;
    rsp[data] = (uint8_t)(sw >> 8);
    rsp[data + 1] = (uint8_t)sw;
    *rlen = data + 2;
    return 0;
}

static int echo_reset(void *ctx, bool cold, tr_err *e)
{
    (void)ctx, (void)cold, (void)e;
    return 0;
}

static int echo_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    unsigned *count = ctx;
    if (*count % 7 == 3) {
        snprintf(rep->stage, sizeof rep->stage, "reader");
        return tr_fail(e, TR_E_TIMEOUT, "fuzz: no card");
    }
    rep->to_atr_ms = 1;
    snprintf(rep->stage, sizeof rep->stage, "atr");
    return 0;
}

static size_t echo_atr(void *ctx, uint8_t *out, size_t cap)
{
    (void)ctx;
    static const uint8_t atr[] = {0x3B, 0x8A, 0x80, 0x01, 'T', 'O', 'K', 'E', 'N', 'R', 'I', 'G', '0', '1', 0x0D};
    if (cap < sizeof atr)
        return 0;
    memcpy(out, atr, sizeof atr);
    return sizeof atr;
}

typedef struct {
    unsigned results, verdicts;
} seen;

static void on_result(void *ud, const tr_result_row *row)
{
    seen *s = ud;
    s->results++;
    if (!row->metric) {
        s->verdicts++;
        CHECK(row->message != NULL && row->test && row->test[0]);
    }
    CHECK((unsigned)row->verdict <= TR_SKIP);
}

static void on_trace(void *ud, const tr_trace_row *row)
{
    (void)ud;
    CHECK(row->command && row->command[0]);
    CHECK(row->sw && strlen(row->sw) == 4);
    for (int k = 0; k < 4; k++)
        CHECK(isxdigit((unsigned char)row->sw[k]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_suite *suite = NULL;
    tr_err e;
    if (tr_suite_parse((const char *)data, size, "fuzz.tsuite", &suite, &e) < 0) {
        CHECK(suite == NULL);
        CHECK(e.code == TR_E_PARSE || e.code == TR_E_NOMEM);
        if (e.code == TR_E_PARSE) {
            CHECK(e.line >= 1 && e.col >= 1);
            CHECK(strncmp(e.msg, "expected", 8) == 0);
        }
        return 0;
    }
    CHECK(suite->ntests >= 1);
    tr_vars *vars = tr_vars_new(NULL);
    tr_vars_set(vars, "USER_PIN", "31415926");
    tr_vars_set(vars, "AID", "F0544F4B52494701");
    tr_vars_set(vars, "ROLE", "main");
    tr_vars_set(vars, "ALG", "sm2");
    tr_vars_set(vars, "N", "3");
    unsigned count = 0;
    tr_cardio io = {.ctx = &count, .transmit = echo_transmit, .reset = echo_reset,
                    .power_cycle = echo_cycle, .atr = echo_atr};
    seen s = {0, 0};
    tr_interp_hooks hooks = {.ud = &s, .result = on_result, .trace = on_trace};
    tr_interp_env env = {.card = &io, .vars = vars, .allow_destructive = size & 1, .now = 1767225600,
                         .test_timeout_s = 5, .max_steps = 1000, .seed = 7, .hooks = &hooks};
    tr_suite_outcome out;
    int rc = tr_interp_run(suite, &env, &out, &e);
    CHECK(rc == 0);
    CHECK(out.tests == suite->ntests);
    CHECK(s.verdicts == out.tests);
    CHECK(out.counts[0] + out.counts[1] + out.counts[2] + out.counts[3] == out.tests);
    CHECK(out.nclasses <= TR_INTERP_MAX_CLASSES);
    tr_vars_free(vars);
    tr_suite_free(suite);
    return 0;
}
