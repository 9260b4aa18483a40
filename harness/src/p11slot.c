/* p11slot.c — see p11slot.h. */
#include "p11slot.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define P11_POLL_MS 50
#define CKF_RW_SESSION_BIT 0x2u /* pkcs11.h's CKF_RW_SESSION */

struct tr_p11slot {
    const tr_rig_cfg *rig;
    const tr_slot_cfg *cfg;
    tr_slot *power;
    tr_p11 *lib;
    uint64_t slot_id;
    char label[64], serial[64];
    bool have_slot, session;
};

static int call1(tr_p11slot *s, const char *fn, uint64_t u, size_t nu, tr_p11_reply *r, tr_err *e)
{
    tr_p11_args a;
    memset(&a, 0, sizeof a);
    a.u[0] = u;
    a.nu = nu;
    return tr_p11_call(s->lib, fn, &a, r, e);
}

int tr_p11slot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, tr_slot *power, tr_p11slot **out, tr_err *e)
{
    *out = NULL;
    tr_p11slot *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory opening slot %s", cfg->name);
    s->rig = rig, s->cfg = cfg, s->power = power;
    tr_p11_opts o = {.module = cfg->p11.module, .call_timeout_ms = rig->apdu_timeout_ms,
                     .device_timeout_ms = rig->ready_timeout_ms};
    if (tr_p11_open(&o, &s->lib, e) < 0) {
        tr_err_prefix(e, "slot %s", cfg->name);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* Whether the token of slot id is the slot's: 1 yes (label and serial
 * kept), 0 no, -1 error. */
static int token_is_ours(tr_p11slot *s, uint64_t id, size_t ntokens, tr_err *e)
{
    tr_p11_reply r;
    if (call1(s, "C_GetTokenInfo", id, 1, &r, e) < 0)
        return -1;
    if (r.rv != 0 || r.ntext < 4)
        return 0;
    const char *label = r.text[0], *serial = r.text[3], *pat = s->cfg->p11.token;
    bool ours = pat[0] ? fnmatch(pat, label, 0) == 0 || fnmatch(pat, serial, 0) == 0
                       : s->cfg->vt.serial[0] ? strcmp(s->cfg->vt.serial, serial) == 0 : ntokens == 1;
    if (ours) {
        tr_strlcpy(s->label, label, sizeof s->label);
        tr_strlcpy(s->serial, serial, sizeof s->serial);
    }
    return ours;
}

/* One look at the module's slots with a token: 1 found, 0 not (yet), -1 error. */
static int find_token(tr_p11slot *s, tr_err *e)
{
    tr_p11_reply r;
    if (call1(s, "C_GetSlotList", 1, 1, &r, e) < 0)
        return -1;
    if (r.rv != 0)
        return 0;
    size_t n = r.nids;
    uint64_t ids[64];
    if (n > 64)
        n = 64;
    memcpy(ids, r.ids, n * sizeof ids[0]);
    for (size_t k = 0; k < n; k++) {
        int c = token_is_ours(s, ids[k], n, e);
        if (c != 0) {
            s->slot_id = ids[k];
            s->have_slot = c > 0;
            return c;
        }
    }
    return 0;
}

static int open_session(tr_p11slot *s, tr_err *e)
{
    tr_p11_args a;
    memset(&a, 0, sizeof a);
    a.u[0] = s->slot_id, a.u[1] = CKF_RW_SESSION_BIT, a.nu = 2;
    tr_p11_reply r;
    if (tr_p11_call(s->lib, "C_OpenSession", &a, &r, e) < 0)
        return -1;
    if (r.rv != 0)
        return tr_fail(e, TR_E_TOKEN, "slot %s: C_OpenSession on token \"%s\" answered 0x%llx", s->cfg->name,
                       s->label, (unsigned long long)r.rv);
    s->session = true;
    return 0;
}

int tr_p11slot_connect(tr_p11slot *s, tr_err *e)
{
    uint64_t end = tr_now_ns() + (uint64_t)s->rig->ready_timeout_ms * 1000000ull;
    for (;;) {
        int c = find_token(s, e);
        if (c < 0)
            return -1;
        if (c > 0)
            return open_session(s, e);
        if (tr_now_ns() >= end)
            return tr_fail(e, TR_E_TIMEOUT, "slot %s: no token%s%s listed by C_GetSlotList(CK_TRUE) within %u ms",
                           s->cfg->name, s->cfg->p11.token[0] ? " matching " : "", s->cfg->p11.token,
                           s->rig->ready_timeout_ms);
        tr_sleep_ms(P11_POLL_MS);
    }
}

/* A reset: every session of the token closed (the login ends with the last
 * one) and a new one opened. */
static int p11_reset(void *ctx, bool cold, tr_err *e)
{
    (void)cold;
    tr_p11slot *s = ctx;
    tr_p11_reply r;
    if (call1(s, "C_CloseAllSessions", s->slot_id, 1, &r, e) < 0)
        return -1;
    s->session = false;
    return open_session(s, e);
}

void tr_p11slot_close(tr_p11slot *s)
{
    if (!s)
        return;
    tr_p11_close(s->lib); /* C_Finalize closes the sessions */
    free(s);
}

tr_p11 *tr_p11slot_lib(tr_p11slot *s)
{
    return s->lib;
}

const char *tr_p11slot_label(const tr_p11slot *s)
{
    return s->label;
}

const char *tr_p11slot_serial(const tr_p11slot *s)
{
    return s->serial;
}

/* ---- the power cycle ------------------------------------------------------------------ */

/* The module unloaded (C_Finalize ends every session and login; a module
 * that sees no hot plug needs it anyway), the switch off when the slot has
 * one, kept off for off_ms (stage "off"). */
static int p11_power_off(tr_p11slot *s, bool sw, tr_cycle_report *rep, tr_err *e)
{
    uint64_t t0 = tr_now_ns();
    s->session = false;
    tr_p11_unload(s->lib);
    if (sw && tr_slot_power(s->power, false, e) < 0)
        return -1;
    tr_strlcpy(rep->stage, "off", sizeof rep->stage);
    tr_sleep_ms(s->rig->off_ms);
    rep->off_ms = tr_ms_since(t0);
    return 0;
}

/* The power cycle as PKCS#11 sees it, in cycles.csv's stages as over APDUs
 * and SKF: off (above); on and the module loaded again ("reader": a token
 * never listed again by C_GetSlotList(CK_TRUE) is enum.no-card); the same
 * token (serial) listed and a session open ("atr"). type reload has no
 * switch: the restart alone is the cycle. */
static int p11_power_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    tr_p11slot *s = ctx;
    bool sw = s->cfg->type != TR_SLOT_RELOAD;
    char serial[sizeof s->serial];
    tr_strlcpy(serial, s->serial, sizeof serial);
    tr_strlcpy(rep->stage, "none", sizeof rep->stage);
    if (p11_power_off(s, sw, rep, e) < 0)
        return -1;
    uint64_t on = tr_now_ns();
    if (sw && tr_slot_power(s->power, true, e) < 0)
        return -1;
    tr_strlcpy(rep->stage, "reader", sizeof rep->stage);
    if (tr_p11_load(s->lib, e) < 0)
        return -1;
    rep->to_reader_ms = tr_ms_since(on);
    if (tr_p11slot_connect(s, e) < 0)
        return -1;
    if (strcmp(serial, s->serial))
        return tr_fail(e, TR_E_REMOVED, "slot %s: after the power cycle the token found is serial %s, not %s",
                       s->cfg->name, s->serial, serial);
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    rep->to_atr_ms = tr_ms_since(on);
    return 0;
}

void tr_p11slot_cardio(tr_p11slot *s, tr_cardio *io)
{
    memset(io, 0, sizeof *io);
    io->ctx = s;
    io->reset = p11_reset;
    io->power_cycle = s->cfg->type == TR_SLOT_RELOAD || (s->power && s->cfg->type != TR_SLOT_NONE) ? p11_power_cycle
                                                                                                     : NULL;
}
