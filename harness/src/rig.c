#include "rig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tr_slot {
    const tr_rig_cfg *rig;
    const tr_slot_cfg *cfg;
    const tr_vrig *vrig;
    tr_pcsc *pcsc;
    tr_card *card;
    char reader[256];
};

int tr_slot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, const tr_vrig *vrig, tr_slot **out, tr_err *e)
{
    if (cfg->type == TR_SLOT_VIRTUAL && !vrig)
        return tr_fail(e, TR_E_RIG, "slot %s is virtual but no virtual rig is up", cfg->name);
    if (cfg->type == TR_SLOT_USB_HUB)
        return tr_fail(e, TR_E_RIG, "slot %s: usb-hub slots are not wired into `run` yet; "
                       "use `tokenrig power` / `tokenrig hubs`", cfg->name);
    tr_slot *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    s->rig = rig;
    s->cfg = cfg;
    s->vrig = vrig;
    *out = s;
    return 0;
}

static int resolve_reader(tr_slot *s, tr_err *e)
{
    if (s->cfg->type == TR_SLOT_VIRTUAL) {
        const char *r = tr_vrig_reader(s->vrig, s->cfg->name);
        if (!r)
            return tr_fail(e, TR_E_RIG, "slot %s is not part of the running virtual rig", s->cfg->name);
        return tr_pcsc_wait_reader(s->pcsc, r, true, s->rig->ready_timeout_ms, s->reader, sizeof s->reader, e);
    }
    return tr_pcsc_wait_reader(s->pcsc, s->cfg->reader, true, s->rig->ready_timeout_ms, s->reader,
                               sizeof s->reader, e);
}

int tr_slot_prepare(tr_slot *s, tr_err *e)
{
    if (!s->pcsc && tr_pcsc_open(&s->pcsc, e) < 0)
        return -1;
    if (resolve_reader(s, e) < 0) {
        tr_err_prefix(e, "slot %s", s->cfg->name);
        return -1;
    }
    return 0;
}

int tr_slot_connect(tr_slot *s, tr_err *e)
{
    if (!s->pcsc && tr_pcsc_open(&s->pcsc, e) < 0)
        return -1;
    if (resolve_reader(s, e) < 0 ||
        tr_pcsc_wait_card(s->pcsc, s->reader, true, s->rig->ready_timeout_ms, e) < 0 ||
        tr_card_connect(s->pcsc, s->reader, &s->card, e) < 0) {
        tr_err_prefix(e, "slot %s", s->cfg->name);
        return -1;
    }
    return 0;
}

void tr_slot_close(tr_slot *s)
{
    if (!s)
        return;
    tr_card_disconnect(s->card, false);
    tr_pcsc_close(s->pcsc);
    free(s);
}

const char *tr_slot_name(const tr_slot *s) { return s->cfg->name; }
const char *tr_slot_reader(const tr_slot *s) { return s->reader; }
tr_card *tr_slot_card(tr_slot *s) { return s->card; }
const tr_slot_cfg *tr_slot_cfg_of(const tr_slot *s) { return s->cfg; }

void tr_slot_power_desc(const tr_slot *s, char *out, size_t cap)
{
    switch (s->cfg->type) {
    case TR_SLOT_VIRTUAL: snprintf(out, cap, "virtual (vtoken control socket)"); break;
    case TR_SLOT_USB_HUB: snprintf(out, cap, "hub %s port %d", s->cfg->hub, s->cfg->port); break;
    case TR_SLOT_PCSC_ONLY: snprintf(out, cap, "cold reset of %s", s->reader[0] ? s->reader : s->cfg->reader); break;
    }
}

int tr_slot_power(tr_slot *s, bool on, tr_err *e)
{
    switch (s->cfg->type) {
    case TR_SLOT_VIRTUAL:
        return tr_vrig_power(s->vrig, s->cfg->name, on, e);
    case TR_SLOT_PCSC_ONLY:
        return tr_fail(e, TR_E_RIG, "slot %s is pcsc-only: it has no power switch (a power cycle is a cold reset)",
                       s->cfg->name);
    case TR_SLOT_USB_HUB:
        break;
    }
    return tr_fail(e, TR_E_RIG, "slot %s: usb-hub power goes through `tokenrig power`", s->cfg->name);
}

static double ms_since(uint64_t t0)
{
    return (double)(tr_now_ns() - t0) / 1e6;
}

static void report_atr(tr_slot *s, tr_cycle_report *rep)
{
    uint8_t atr[64];
    size_t n = tr_card_atr(s->card, atr, sizeof atr);
    tr_hex_encode(atr, n, rep->atr_hex, sizeof rep->atr_hex, 0);
}

/* pcsc-only: SCARD_UNPOWER_CARD is the whole cycle. */
static int cold_reset_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    uint64_t t0 = tr_now_ns();
    if (tr_card_reset(s->card, true, e) < 0)
        return -1;
    rep->to_reader_ms = 0;
    rep->to_atr_ms = ms_since(t0);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    report_atr(s, rep);
    return 0;
}

static int virtual_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    unsigned timeout = s->rig->ready_timeout_ms;
    uint64_t t_off = tr_now_ns();
    if (tr_vrig_power(s->vrig, s->cfg->name, false, e) < 0)
        return -1;
    if (tr_pcsc_wait_card(s->pcsc, s->reader, false, timeout, e) < 0) {
        tr_err_prefix(e, "power-off not seen by PC/SC: the token is still present");
        return -1;
    }
    tr_strlcpy(rep->stage, "off", sizeof rep->stage);
    tr_strlcpy(rep->power_level, "card-gone", sizeof rep->power_level);
    /* the off period itself is the one deliberate wait of a cycle */
    double gone = ms_since(t_off);
    if (gone < s->rig->off_ms)
        tr_sleep_ms((unsigned)(s->rig->off_ms - gone));
    rep->off_ms = ms_since(t_off);
    uint64_t t_on = tr_now_ns();
    if (tr_vrig_power(s->vrig, s->cfg->name, true, e) < 0)
        return -1;
    rep->to_reader_ms = 0; /* a vpcd reader never leaves */
    tr_strlcpy(rep->stage, "reader", sizeof rep->stage);
    if (tr_pcsc_wait_card(s->pcsc, s->reader, true, timeout, e) < 0)
        return -1;
    if (s->card ? tr_card_reconnect(s->card, e) < 0 : tr_card_connect(s->pcsc, s->reader, &s->card, e) < 0)
        return -1;
    rep->to_atr_ms = ms_since(t_on);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    report_atr(s, rep);
    return 0;
}

int tr_slot_power_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    tr_cycle_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->off_ms = rep->to_device_ms = rep->to_reader_ms = rep->to_atr_ms = rep->to_first_apdu_ms = -1;
    tr_strlcpy(rep->stage, "none", sizeof rep->stage);
    if (!s->pcsc)
        return tr_fail(e, TR_E_RIG, "slot %s is not prepared", s->cfg->name);
    switch (s->cfg->type) {
    case TR_SLOT_PCSC_ONLY:
        if (!s->card)
            return tr_fail(e, TR_E_RIG, "slot %s is not connected", s->cfg->name);
        break;
    default: break;
    }
    switch (s->cfg->type) {
    case TR_SLOT_VIRTUAL: return virtual_cycle(s, rep, e);
    case TR_SLOT_PCSC_ONLY: return cold_reset_cycle(s, rep, e);
    case TR_SLOT_USB_HUB: break;
    }
    return tr_slot_power(s, false, e);
}

const char *tr_cycle_classify(const tr_cycle_report *rep)
{
    static const struct {
        const char *stage, *cls;
    } map[] = {{"none", "rig.port-not-switched"}, {"off", "enum.no-device"}, {"device", "enum.no-reader"},
               {"reader", "enum.no-card"},        {"atr", "enum.no-answer"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(rep->stage, map[i].stage))
            return map[i].cls;
    return "enum.no-device";
}

/* ---- cardio callbacks ---------------------------------------------------------- */

static int io_transmit(void *ctx, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap, size_t *rlen, tr_err *e)
{
    tr_slot *s = ctx;
    return tr_card_transmit(s->card, apdu, n, rsp, cap, rlen, e);
}

static int io_reset(void *ctx, bool cold, tr_err *e)
{
    tr_slot *s = ctx;
    return tr_card_reset(s->card, cold, e);
}

static int io_power_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    return tr_slot_power_cycle(ctx, rep, e);
}

static size_t io_atr(void *ctx, uint8_t *out, size_t cap)
{
    tr_slot *s = ctx;
    return s->card ? tr_card_atr(s->card, out, cap) : 0;
}

void tr_slot_cardio(tr_slot *s, tr_cardio *io)
{
    io->ctx = s;
    io->transmit = io_transmit;
    io->reset = io_reset;
    io->power_cycle = io_power_cycle;
    io->atr = io_atr;
}
