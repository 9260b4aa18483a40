#include "fakecard.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

void fakecard_init(fakecard *f)
{
    memset(f, 0, sizeof *f);
    f->default_sw = 0x9000;
    f->mute_after = f->remove_after = -1;
    f->cycle_code = TR_E_TIMEOUT;
    snprintf(f->cycle_stage, sizeof f->cycle_stage, "reader");
    memcpy(f->atr, REF1_ATR, sizeof REF1_ATR);
    f->atr_len = sizeof REF1_ATR;
}

void fakecard_init_ref1(fakecard *f, ref1_token *tok)
{
    fakecard_init(f);
    f->tok = tok;
    ref1_power_on(tok);
}

int fakecard_rule(fakecard *f, const char *cmd_hex, const char *rsp_hex, long uses)
{
    if (f->nrules == FAKE_MAX_RULES)
        return -1;
    fake_rule *r = &f->rules[f->nrules];
    long c = tr_hex_decode(cmd_hex, r->cmd, sizeof r->cmd);
    long s = tr_hex_decode(rsp_hex, r->rsp, sizeof r->rsp);
    if (c < 0 || s < 2)
        return -1;
    r->cmd_len = (size_t)c;
    r->rsp_len = (size_t)s;
    r->uses = uses;
    f->nrules++;
    return 0;
}

int fakecard_rule_fail(fakecard *f, const char *cmd_hex, int code, long uses)
{
    if (fakecard_rule(f, cmd_hex, "6F00", uses) < 0)
        return -1;
    f->rules[f->nrules - 1].fail_code = code;
    return 0;
}

const char *fakecard_cmd(const fakecard *f, unsigned long i)
{
    if (i >= f->ncmds || f->ncmds - i > FAKE_LOG)
        return "";
    return f->log[i % FAKE_LOG];
}

static void record(fakecard *f, const uint8_t *apdu, size_t n)
{
    char *slot = f->log[f->ncmds % FAKE_LOG];
    tr_hex_encode(apdu, n, slot, sizeof f->log[0], 0);
    f->ncmds++;
}

/* 0 answered, -1 no room, or a rule's fail_code (> 0). */
static int scripted_answer(fakecard *f, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap,
                           size_t *rlen)
{
    for (int k = 0; k < f->nrules; k++) {
        fake_rule *r = &f->rules[k];
        if (r->uses == 0 || n < r->cmd_len || memcmp(apdu, r->cmd, r->cmd_len) != 0)
            continue;
        if (r->uses > 0)
            r->uses--;
        if (r->fail_code)
            return r->fail_code;
        if (r->rsp_len > cap)
            return -1;
        memcpy(rsp, r->rsp, r->rsp_len);
        *rlen = r->rsp_len;
        return 0;
    }
    if (cap < 2)
        return -1;
    rsp[0] = (uint8_t)(f->default_sw >> 8);
    rsp[1] = (uint8_t)f->default_sw;
    *rlen = 2;
    return 0;
}

static int fake_transmit(void *ctx, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap,
                         size_t *rlen, tr_err *e)
{
    fakecard *f = ctx;
    if (f->remove_after >= 0 && (long)f->ncmds >= f->remove_after)
        return tr_fail(e, TR_E_REMOVED, "the token was removed");
    if (f->mute_after >= 0 && (long)f->ncmds >= f->mute_after)
        return tr_fail(e, TR_E_MUTE, "the token stopped answering");
    if (f->dropped)
        return tr_fail(e, TR_E_REMOVED, "the token closed its link");
    record(f, apdu, n);
    if (f->latency_ms)
        tr_sleep_ms(f->latency_ms);
    if (!f->tok) {
        int rc = scripted_answer(f, apdu, n, rsp, cap, rlen);
        if (rc < 0)
            return tr_fail(e, TR_E_INTERNAL, "fakecard: answer does not fit");
        if (rc > 0)
            return tr_fail(e, (tr_code)rc, "fakecard: injected %s", tr_code_name((tr_code)rc));
        return 0;
    }
    unsigned flags = ref1_handle(f->tok, apdu, n, rsp, cap, rlen);
    if (flags & REF1_F_SILENT)
        return tr_fail(e, TR_E_MUTE, "the token stopped answering");
    if ((flags & REF1_F_SIGNED) && f->honour_sign_delay)
        tr_sleep_ms(ref1_sign_delay_ms(f->tok));
    if ((flags & REF1_F_LATE) && f->honour_late)
        tr_sleep_ms(ref1_late_ms(f->tok));
    if (flags & REF1_F_DROP)
        f->dropped = true;
    return 0;
}

static int fake_reset(void *ctx, bool cold, tr_err *e)
{
    fakecard *f = ctx;
    if (f->dropped)
        return tr_fail(e, TR_E_REMOVED, "the token closed its link");
    if (cold)
        f->cold_resets++;
    else
        f->warm_resets++;
    if (f->tok) {
        if (cold) {
            ref1_power_off(f->tok);
            ref1_power_on(f->tok);
        } else {
            ref1_reset(f->tok);
        }
    }
    return 0;
}

static size_t fake_atr(void *ctx, uint8_t *out, size_t cap)
{
    fakecard *f = ctx;
    if (f->tok)
        return ref1_atr(f->tok, out, cap);
    if (cap < f->atr_len)
        return 0;
    memcpy(out, f->atr, f->atr_len);
    return f->atr_len;
}

static int fake_power_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    fakecard *f = ctx;
    f->cycles++;
    tr_cycle_report local, *r = rep ? rep : &local;
    r->off_ms = 1;
    r->to_device_ms = -1;
    r->to_reader_ms = 0.5;
    r->to_atr_ms = -1;
    r->to_first_apdu_ms = -1;
    bool ready = !f->cycle_fails;
    if (f->tok) {
        ref1_power_off(f->tok);
        f->dropped = false;
        ready = ready && ref1_rig_power_on_ready(f->tok);
        if (ready)
            ref1_power_on(f->tok);
    }
    if (!ready) {
        snprintf(r->stage, sizeof r->stage, "%s", f->cycle_stage);
        return tr_fail(e, (tr_code)f->cycle_code, "no card in the reader 2000 ms after power-on");
    }
    f->mute_after = f->remove_after = -1;
    r->to_atr_ms = 2.0;
    snprintf(r->stage, sizeof r->stage, "atr");
    uint8_t atr[40];
    size_t n = fake_atr(f, atr, sizeof atr);
    tr_hex_encode(atr, n, r->atr_hex, sizeof r->atr_hex, 0);
    return 0;
}

void fakecard_cardio(fakecard *f, tr_cardio *io)
{
    io->ctx = f;
    io->transmit = fake_transmit;
    io->reset = fake_reset;
    io->power_cycle = f->no_power ? NULL : fake_power_cycle;
    io->atr = fake_atr;
}
