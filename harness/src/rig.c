#include "rig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rigcmd.h"
#include "usbhub.h"
#include "util.h"

struct tr_slot {
    const tr_rig_cfg *rig;
    const tr_slot_cfg *cfg;
    const tr_vrig *vrig;
    tr_pcsc *pcsc;
    tr_card *card;
    char reader[256];
    _Atomic uint64_t *busy_ns; /* every card of the slot publishes its exchanges here */
    tr_slot_restart_fn restart; /* a token not back after power-on: restart PC/SC (NULL none) */
    void *restart_ud;
};

int tr_slot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, const tr_vrig *vrig, tr_slot **out, tr_err *e)
{
    if (cfg->type == TR_SLOT_VIRTUAL && !vrig)
        return tr_fail(e, TR_E_RIG, "slot %s is virtual but no virtual rig is up", cfg->name);
    tr_slot *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    s->rig = rig;
    s->cfg = cfg;
    s->vrig = vrig;
    *out = s;
    return 0;
}

static void hub_spec(const tr_slot *s, tr_hubport_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    tr_strlcpy(spec->hub, s->cfg->hub, sizeof spec->hub);
    spec->port = s->cfg->port;
    tr_strlcpy(spec->companion, s->cfg->companion, sizeof spec->companion);
    spec->settle_ms = s->rig->ready_timeout_ms;
}

/* Which PC/SC reader is the CCID device at bus/address: the reader whose
 * SCARD_ATTR_CHANNEL_ID names it; else (drivers that do not answer it) the
 * one whose name carries the device's USB serial. Never by reader index. */
static int match_usb_reader(tr_slot *s, const tr_usb_dev *dev, bool *found, tr_err *e)
{
    char *names;
    *found = false;
    if (tr_pcsc_readers(s->pcsc, &names, e) < 0)
        return -1;
    for (const char *n = names; *n && !*found; n += strlen(n) + 1) {
        uint32_t chid;
        int bus, addr;
        tr_err ignored;
        if (tr_pcsc_reader_channel_id(s->pcsc, n, &chid, &ignored) == 0 && tr_channel_id_to_usb(chid, &bus, &addr)) {
            if (bus == dev->bus && addr == dev->address) {
                tr_strlcpy(s->reader, n, sizeof s->reader);
                *found = true;
            }
        } else if (dev->serial[0] && strstr(n, dev->serial)) {
            tr_strlcpy(s->reader, n, sizeof s->reader);
            *found = true;
        }
    }
    free(names);
    return 0;
}

/* The device on the slot's hub port, then its reader, waiting (by reader
 * list events) up to timeout_ms for the reader to appear. */
static int resolve_usb_reader(tr_slot *s, unsigned timeout_ms, double *to_reader_ms, tr_err *e)
{
    uint64_t t0 = tr_now_ns(), deadline = t0 + (uint64_t)timeout_ms * 1000000u;
    tr_usb_dev dev;
    int r = tr_usb_device_on_port(s->cfg->hub, s->cfg->port, &dev, e);
    if (r < 0)
        return -1;
    if (r == 0)
        return tr_fail(e, TR_E_RIG, "no USB device on hub %s port %d", s->cfg->hub, s->cfg->port);
    for (;;) {
        bool found;
        if (match_usb_reader(s, &dev, &found, e) < 0)
            return -1;
        if (found) {
            if (to_reader_ms)
                *to_reader_ms = (double)(tr_now_ns() - t0) / 1e6;
            return 0;
        }
        uint64_t now = tr_now_ns();
        if (now >= deadline)
            return tr_fail(e, TR_E_TIMEOUT, "no PC/SC reader for the USB device %04x:%04x at bus %d address %d "
                           "(hub %s port %d) after %u ms", dev.vid, dev.pid, dev.bus, dev.address, s->cfg->hub,
                           s->cfg->port, timeout_ms);
        if (tr_pcsc_wait_readers_change(s->pcsc, (unsigned)((deadline - now) / 1000000u), e) < 0)
            return -1;
    }
}

static int resolve_reader(tr_slot *s, tr_err *e)
{
    if (s->cfg->type == TR_SLOT_USB_HUB)
        return resolve_usb_reader(s, s->rig->ready_timeout_ms, NULL, e);
    if (s->cfg->type == TR_SLOT_VIRTUAL) {
        const char *r = tr_vrig_reader(s->vrig, s->cfg->name);
        if (!r)
            return tr_fail(e, TR_E_RIG, "slot %s is not part of the running virtual rig", s->cfg->name);
        return tr_pcsc_wait_reader(s->pcsc, r, true, s->rig->ready_timeout_ms, s->reader, sizeof s->reader, e);
    }
    return tr_pcsc_wait_reader(s->pcsc, s->cfg->reader, true, s->rig->ready_timeout_ms, s->reader,
                               sizeof s->reader, e);
}

/* The slot's PC/SC context, of the pcscd that serves its reader (a virtual
 * rig of more than 16 slots has several: tr_vrig_use_slot). */
static int slot_pcsc(tr_slot *s, tr_err *e)
{
    if (s->pcsc)
        return 0;
    if (s->cfg->type == TR_SLOT_VIRTUAL && s->vrig && tr_vrig_use_slot(s->vrig, s->cfg->name, e) < 0)
        return -1;
    return tr_pcsc_open(&s->pcsc, e);
}

int tr_slot_prepare(tr_slot *s, tr_err *e)
{
    if (slot_pcsc(s, e) < 0)
        return -1;
    if (resolve_reader(s, e) < 0) {
        tr_err_prefix(e, "slot %s", s->cfg->name);
        return -1;
    }
    return 0;
}

/* A new connection of the slot: it publishes its exchanges where the
 * slot's watcher looks (tr_slot_publish_busy). */
static int card_connect(tr_slot *s, tr_err *e)
{
    if (tr_card_connect(s->pcsc, s->reader, &s->card, e) < 0)
        return -1;
    tr_card_publish_busy(s->card, s->busy_ns);
    return 0;
}

int tr_slot_connect(tr_slot *s, tr_err *e)
{
    if (slot_pcsc(s, e) < 0)
        return -1;
    if (resolve_reader(s, e) < 0 ||
        tr_pcsc_wait_card(s->pcsc, s->reader, true, s->rig->ready_timeout_ms, e) < 0 ||
        card_connect(s, e) < 0) {
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

void tr_slot_drop_service(tr_slot *s)
{
    /* both handles belong to a daemon that is gone: let them go (the calls
     * fail at once on the closed socket) */
    tr_card_disconnect(s->card, false);
    s->card = NULL;
    tr_pcsc_close(s->pcsc);
    s->pcsc = NULL;
}

void tr_slot_on_not_back(tr_slot *s, tr_slot_restart_fn fn, void *ud)
{
    s->restart = fn;
    s->restart_ud = ud;
}

const char *tr_slot_name(const tr_slot *s) { return s->cfg->name; }
const char *tr_slot_reader(const tr_slot *s) { return s->reader; }
tr_card *tr_slot_card(tr_slot *s) { return s->card; }
const tr_slot_cfg *tr_slot_cfg_of(const tr_slot *s) { return s->cfg; }

void tr_slot_publish_busy(tr_slot *s, _Atomic uint64_t *busy_ns)
{
    s->busy_ns = busy_ns;
    if (s->card)
        tr_card_publish_busy(s->card, busy_ns);
}

void tr_slot_power_desc(const tr_slot *s, char *out, size_t cap)
{
    switch (s->cfg->type) {
    case TR_SLOT_VIRTUAL: snprintf(out, cap, "virtual (vtoken control socket)"); break;
    case TR_SLOT_USB_HUB: snprintf(out, cap, "hub %s port %d", s->cfg->hub, s->cfg->port); break;
    case TR_SLOT_PCSC_ONLY: snprintf(out, cap, "cold reset of %s", s->reader[0] ? s->reader : s->cfg->reader); break;
    case TR_SLOT_COMMAND:
        snprintf(out, cap, "commands: off `%.120s`, on `%.120s`", s->cfg->power.off, s->cfg->power.on);
        break;
    case TR_SLOT_NONE: snprintf(out, cap, "no power switch (type none)"); break;
    case TR_SLOT_RELOAD: snprintf(out, cap, "the PKCS#11 module reloaded (type reload)"); break;
    }
}

static int no_power(const tr_slot *s, tr_err *e)
{
    return tr_fail(e, TR_E_NOPOWER, "slot %s has no power switch (type none): what needs a power cycle is not "
                   "run (give the slot a switch: usb-hub, or command with power_on / power_off)", s->cfg->name);
}

/* A command slot's power_on / power_off, with the slot's variables in its
 * environment (README, "Rig files"). */
static int command_power(const tr_slot *s, bool on, tr_err *e)
{
    const tr_slot_cfg *c = s->cfg;
    char port[16] = "";
    if (c->port)
        snprintf(port, sizeof port, "%d", c->port);
    const char *serial = c->skf.serial[0] ? c->skf.serial : c->vars ? tr_vars_get(c->vars, "EXPECTED_SERIAL") : NULL;
    const tr_rigcmd_var vars[] = {
        {"TOKENRIG_ACTION", on ? "on" : "off"},
        {"TOKENRIG_RIG", s->rig->name},
        {"TOKENRIG_RIG_FILE", s->rig->path},
        {"TOKENRIG_SLOT", c->name},
        {"TOKENRIG_PORT", port},
        {"TOKENRIG_READER", s->reader[0] ? s->reader : c->reader},
        {"TOKENRIG_SERIAL", serial ? serial : ""},
        {"TOKENRIG_INTERFACE", tr_slot_iface_name(c->iface)},
    };
    if (tr_rigcmd_run(on ? "power_on" : "power_off", on ? c->power.on : c->power.off, vars,
                      sizeof vars / sizeof vars[0], c->power.timeout_ms, e) < 0) {
        tr_err_prefix(e, "slot %s", c->name);
        return -1;
    }
    return 0;
}

int tr_slot_power_detail(tr_slot *s, bool on, char *detail, size_t cap, tr_err *e)
{
    if (detail && cap)
        detail[0] = '\0';
    switch (s->cfg->type) {
    case TR_SLOT_VIRTUAL:
        return tr_vrig_power(s->vrig, s->cfg->name, on, e);
    case TR_SLOT_PCSC_ONLY:
        return tr_fail(e, TR_E_RIG, "slot %s is pcsc-only: it has no power switch (a power cycle is a cold reset)",
                       s->cfg->name);
    case TR_SLOT_NONE:
        return no_power(s, e);
    case TR_SLOT_RELOAD:
        return tr_fail(e, TR_E_NOPOWER, "slot %s is reload: it has no switch (its power cycle is the module's "
                       "restart)", s->cfg->name);
    case TR_SLOT_COMMAND:
        if (command_power(s, on, e) < 0)
            return -1;
        if (detail && cap)
            snprintf(detail, cap, "%s command exited 0", on ? "power_on" : "power_off");
        return 0;
    case TR_SLOT_USB_HUB:
        break;
    }
    tr_hubport_spec spec;
    tr_power_check chk;
    hub_spec(s, &spec);
    /* on: the port's power bit is read back (no power is an error) */
    if (tr_hubport_power(&spec, on, &chk, e) < 0)
        return -1;
    if (detail && cap)
        snprintf(detail, cap, "%s", chk.detail);
    return 0;
}

int tr_slot_power(tr_slot *s, bool on, tr_err *e)
{
    return tr_slot_power_detail(s, on, NULL, 0, e);
}

/* After a power-on: wait for the card, then (re)connect. pcscd can show a
 * card present and still refuse the connection a moment later while it
 * settles the new card (seen under load, rarely): such a refusal waits for
 * the reader's next state change and tries again, until the timeout. */
static int connect_when_present(tr_slot *s, bool fresh, unsigned timeout_ms, tr_err *e)
{
    uint64_t deadline = tr_now_ns() + (uint64_t)timeout_ms * 1000000u;
    if (fresh) {
        tr_card_disconnect(s->card, false); /* the old handle belongs to the old device */
        s->card = NULL;
    }
    for (;;) {
        uint64_t now = tr_now_ns();
        unsigned left = now >= deadline ? 0 : (unsigned)((deadline - now) / 1000000u);
        if (tr_pcsc_wait_card(s->pcsc, s->reader, true, left, e) < 0)
            return -1;
        int rc = s->card ? tr_card_reconnect(s->card, e) : card_connect(s, e);
        if (rc == 0)
            return 0;
        bool transient = e->code == TR_E_REMOVED || e->code == TR_E_TIMEOUT;
        if (!transient || tr_now_ns() >= deadline)
            return -1;
        tr_err sub;
        if (tr_pcsc_wait_reader_state_change(s->pcsc, s->reader, 100, &sub) < 0) {
            *e = sub;
            return -1;
        }
    }
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
    rep->to_atr_ms = tr_ms_since(t0);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    report_atr(s, rep);
    return 0;
}

/* The off period, the one deliberate wait of a cycle: what is left of
 * off_ms since power-off began; then the off time as measured. */
static void off_period(const tr_slot *s, uint64_t t_off, tr_cycle_report *rep)
{
    double gone = tr_ms_since(t_off);
    if (gone < s->rig->off_ms)
        tr_sleep_ms((unsigned)(s->rig->off_ms - gone));
    rep->off_ms = tr_ms_since(t_off);
}

/* Power off through the slot's switch (virtual, command) until PC/SC no
 * longer shows the token (still_there: the error's prefix if it does),
 * then the off period. */
static int off_until_gone(tr_slot *s, tr_cycle_report *rep, const char *still_there, tr_err *e)
{
    uint64_t t_off = tr_now_ns();
    if (tr_slot_power(s, false, e) < 0)
        return -1;
    if (tr_pcsc_wait_card(s->pcsc, s->reader, false, s->rig->ready_timeout_ms, e) < 0) {
        tr_err_prefix(e, "%s", still_there);
        return -1;
    }
    tr_strlcpy(rep->stage, "off", sizeof rep->stage);
    tr_strlcpy(rep->power_level, "card-gone", sizeof rep->power_level);
    off_period(s, t_off, rep);
    return 0;
}

static int virtual_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    unsigned timeout = s->rig->ready_timeout_ms;
    if (off_until_gone(s, rep, "power-off not seen by PC/SC: the token is still present", e) < 0)
        return -1;
    uint64_t t_on = tr_now_ns();
    if (tr_vrig_power(s->vrig, s->cfg->name, true, e) < 0)
        return -1;
    rep->to_reader_ms = 0; /* a vpcd reader never leaves */
    tr_strlcpy(rep->stage, "reader", sizeof rep->stage);
    if (connect_when_present(s, false, timeout, e) < 0)
        return -1;
    rep->to_atr_ms = tr_ms_since(t_on);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    report_atr(s, rep);
    return 0;
}

/* After power-on, the reader of the slot: a command slot's found again by
 * its pattern (a USB reader comes back, maybe under another name); a
 * usb-hub slot's by the device on its port (channel id: the address is
 * new). TR_E_TIMEOUT when it does not come back in time. */
typedef int (*find_reader_fn)(tr_slot *s, tr_err *e);

static int command_reader(tr_slot *s, tr_err *e)
{
    return tr_pcsc_wait_reader(s->pcsc, s->cfg->reader, true, s->rig->ready_timeout_ms, s->reader, sizeof s->reader,
                               e);
}

static int usb_reader(tr_slot *s, tr_err *e)
{
    return resolve_usb_reader(s, s->rig->ready_timeout_ms, NULL, e);
}

/* The slot's restart hook for a token that did not come back (why: the
 * wait's error): the service restarted, a fresh context of the slot on it,
 * rep->note saying so. e: the restart's error. */
static int restart_for_token(tr_slot *s, uint64_t t_on, tr_cycle_report *rep, tr_err *e)
{
    char why[TR_ERR_MSG_MAX];
    tr_strlcpy(why, e->msg, sizeof why);
    if (s->restart(s->restart_ud, t_on, why, e) < 0)
        return -1;
    tr_slot_drop_service(s); /* both handles were the old daemon's */
    if (slot_pcsc(s, e) < 0)
        return -1;
    snprintf(rep->note, sizeof rep->note, "not back %.0f ms after power-on: back after pcscd_restart (times from "
             "the restart)", tr_ms_since(t_on));
    return 0;
}

/* After power-on (stage "device"): the reader, then the card (stage
 * "reader") and a fresh connection (stage "atr"). A token that does not
 * come back in time on a slot with a restart hook gets one restart of the
 * PC/SC service and the same wait again (tr_slot_on_not_back). */
static int token_back(tr_slot *s, tr_cycle_report *rep, uint64_t t_on, find_reader_fn find, tr_err *e)
{
    for (bool restarted = false;; restarted = true) {
        tr_strlcpy(rep->stage, "device", sizeof rep->stage);
        int rc = find(s, e);
        if (rc == 0) {
            rep->to_reader_ms = tr_ms_since(t_on);
            tr_strlcpy(rep->stage, "reader", sizeof rep->stage);
            rc = connect_when_present(s, true, s->rig->ready_timeout_ms, e);
        }
        if (rc == 0)
            break;
        if (restarted || !s->restart || e->code != TR_E_TIMEOUT)
            return -1;
        if (restart_for_token(s, t_on, rep, e) < 0)
            return -1;
        t_on = tr_now_ns(); /* the wait before the restart was the bench's, not the token's */
    }
    rep->to_atr_ms = tr_ms_since(t_on);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    report_atr(s, rep);
    return 0;
}

/* command: power_off (its exit status is all the rig knows of the switch;
 * the token leaving PC/SC is the check), the off period, power_on, then
 * the reader -> card -> a fresh connection. A command slot cannot see the
 * USB device, so the stage after power_on is "device": a reader that does
 * not come back is enum.no-reader. */
static int command_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    char still[TR_NAME_MAX + 64];
    snprintf(still, sizeof still, "slot %s: power_off exited 0 but PC/SC still shows the token", s->cfg->name);
    if (off_until_gone(s, rep, still, e) < 0)
        return -1; /* stage "none" */
    uint64_t t_on = tr_now_ns();
    if (command_power(s, true, e) < 0)
        return -1;
    return token_back(s, rep, t_on, command_reader, e);
}

/* usb-hub: VBUS off (verified by status bits, device gone, reader gone),
 * the off period, on, then device -> reader -> card -> a fresh connection. */
static int usb_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    tr_hubport_spec spec;
    tr_power_check chk;
    hub_spec(s, &spec);
    uint64_t t_off = tr_now_ns();
    int rc = tr_hubport_power(&spec, false, &chk, e);
    tr_strlcpy(rep->power_level, tr_verify_level_name(chk.level), sizeof rep->power_level);
    if (rc < 0)
        return -1; /* stage "none": rig.port-not-switched or a permission error */
    tr_strlcpy(rep->stage, "off", sizeof rep->stage);
    if (s->reader[0] && tr_pcsc_wait_card(s->pcsc, s->reader, false, spec.settle_ms, e) == 0) {
        char gone[256];
        tr_err sub;
        if (tr_pcsc_wait_reader(s->pcsc, s->reader, false, spec.settle_ms, gone, sizeof gone, &sub) == 0)
            tr_strlcpy(rep->power_level, tr_verify_level_name(TR_VERIFY_READER_GONE), sizeof rep->power_level);
    }
    off_period(s, t_off, rep);
    uint64_t t_on = tr_now_ns();
    if (tr_hubport_power(&spec, true, &chk, e) < 0)
        return -1;
    if (!chk.device_back)
        return tr_fail(e, TR_E_TIMEOUT, "no USB device on hub %s port %d within %u ms of power-on", spec.hub,
                       spec.port, spec.settle_ms);
    rep->to_device_ms = (double)(tr_now_ns() - t_on) / 1e6;
    return token_back(s, rep, t_on, usb_reader, e);
}

int tr_slot_power_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e)
{
    tr_cycle_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->off_ms = rep->to_device_ms = rep->to_reader_ms = rep->to_atr_ms = rep->to_first_apdu_ms = -1;
    tr_strlcpy(rep->stage, "none", sizeof rep->stage);
    if (s->cfg->type == TR_SLOT_NONE || s->cfg->type == TR_SLOT_RELOAD)
        return tr_slot_power(s, false, e);
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
    case TR_SLOT_USB_HUB: return usb_cycle(s, rep, e);
    case TR_SLOT_COMMAND: return command_cycle(s, rep, e);
    case TR_SLOT_NONE:
    case TR_SLOT_RELOAD: break;
    }
    return tr_fail(e, TR_E_INTERNAL, "unknown slot type");
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

const char *tr_cycle_failure_class(const tr_err *e, const tr_cycle_report *rep)
{
    switch (e->code) {
    case TR_E_RIG: /* before power-off was seen: the port did not switch */
        return strcmp(rep->stage, "none") ? tr_code_name(e->code) : tr_cycle_classify(rep);
    case TR_E_PERM:
    case TR_E_CONFIG:
    case TR_E_USAGE:
    case TR_E_NOMEM:
    case TR_E_INTERNAL:
    case TR_E_MUTE:
    case TR_E_LIBRARY:
    case TR_E_IO: /* a library's process that broke its protocol */
        return tr_code_name(e->code);
    default:
        return tr_cycle_classify(rep);
    }
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
