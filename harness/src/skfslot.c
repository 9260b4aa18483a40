/* skfslot.c — see skfslot.h. */
#include "skfslot.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skf_abi.h"
#include "skfdata.h"
#include "util.h"

#define SKF_POLL_MS 50 /* how often the device list is read while waiting */

struct tr_skfslot {
    const tr_rig_cfg *rig;
    const tr_slot_cfg *cfg;
    tr_slot *power;
    tr_skf *lib;
    char device[TR_SKF_NAME_MAX];
    char serial[64];
    char passed_over[300];   /* the last device that could not say its serial */
    bool named_by_serial;    /* the library's device names carry the serial */
    bool connected, app_open, container_open;
};

static int call(tr_skfslot *s, const char *fn, const tr_skf_args *a, tr_skf_reply *r, tr_err *e)
{
    static const tr_skf_args none;
    return tr_skf_call(s->lib, fn, a ? a : &none, r, e);
}

static tr_skf_args str_arg(const char *v)
{
    tr_skf_args a;
    memset(&a, 0, sizeof a);
    a.s[0] = v;
    a.ns = 1;
    return a;
}

static int sar_fail(tr_skfslot *s, tr_code code, const char *fn, const char *what, uint32_t sar, tr_err *e)
{
    return tr_fail(e, code, "slot %s: %s(%s) answered %s", s->cfg->name, fn, what, tr_skf_sar_name(sar));
}

int tr_skfslot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, tr_slot *power, tr_skfslot **out, tr_err *e)
{
    *out = NULL;
    tr_skfslot *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory opening slot %s", cfg->name);
    s->rig = rig;
    s->cfg = cfg;
    s->power = power;
    tr_skf_opts o;
    memset(&o, 0, sizeof o);
    o.library = cfg->skf.library;
    o.call_timeout_ms = rig->apdu_timeout_ms;
    o.device_timeout_ms = rig->ready_timeout_ms; /* how long a token may take to appear */
    o.out_width = cfg->skf.quirks.out_width;
    o.devinfo_size = cfg->skf.quirks.devinfo_size;
    if (tr_skf_open(&o, &s->lib, e) < 0) {
        tr_err_prefix(e, "slot %s", cfg->name);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* The serial the slot's token must have: skf_serial; else, when skf_device
 * does not name the device, the slot's own serial (rig); else none. */
static const char *wanted_serial(const tr_skfslot *s)
{
    if (s->cfg->skf.serial[0])
        return s->cfg->skf.serial;
    return !s->cfg->skf.device[0] && s->cfg->vt.serial[0] ? s->cfg->vt.serial : NULL;
}

/* Connect to name and read its serial from DEVINFO. 1 connected, 0 the
 * library refused (not ours to judge yet), -1 error. */
static int connect_read_serial(tr_skfslot *s, const char *name, tr_err *e)
{
    tr_skf_args a = str_arg(name);
    tr_skf_reply r;
    if (call(s, "SKF_ConnectDev", &a, &r, e) < 0)
        return -1;
    if (r.sar != 0) {
        snprintf(s->passed_over, sizeof s->passed_over, "SKF_ConnectDev(%s) answered %s", name,
                 tr_skf_sar_name(r.sar));
        return 0;
    }
    s->connected = true;
    if (call(s, "SKF_GetDevInfo", NULL, &r, e) < 0)
        return -1;
    /* a device that cannot say its serial is not known to be ours: passed
     * over (said if the token is never found), never an error of the slot */
    tr_skf_devinfo di;
    tr_err pe;
    if (r.sar != 0) {
        snprintf(s->passed_over, sizeof s->passed_over, "SKF_GetDevInfo(%s) answered %s", name,
                 tr_skf_sar_name(r.sar));
        return 0;
    }
    if (tr_skf_devinfo_parse(r.out, r.nout, &di, &pe) < 0) {
        snprintf(s->passed_over, sizeof s->passed_over, "SKF_GetDevInfo(%s): %s", name, pe.msg);
        return 0;
    }
    tr_strlcpy(s->serial, di.serial, sizeof s->serial);
    return 1;
}

static void disconnect(tr_skfslot *s)
{
    tr_skf_reply r;
    tr_err e;
    if (s->container_open)
        call(s, "SKF_CloseContainer", NULL, &r, &e);
    if (s->app_open)
        call(s, "SKF_CloseApplication", NULL, &r, &e);
    if (s->connected)
        call(s, "SKF_DisConnectDev", NULL, &r, &e);
    s->connected = s->app_open = s->container_open = false;
}

/* The devices SKF_EnumDev(TRUE) lists that skf_device's pattern matches. */
static int listed_devices(tr_skfslot *s, tr_skf_list *l, tr_err *e)
{
    tr_skf_args a;
    memset(&a, 0, sizeof a);
    a.u[0] = 1;
    a.nu = 1;
    tr_skf_reply r;
    /* a device that arrives between the size query and the call makes the
     * list longer than the buffer: ask again (devices come and go here) */
    for (int tries = 0; tries < 3; tries++)
        if (call(s, "SKF_EnumDev", &a, &r, e) < 0)
            return -1;
        else if (r.sar != SAR_BUFFER_TOO_SMALL)
            break;
    l->count = 0;
    if (r.sar != 0)
        return 0; /* nothing listed (some libraries answer an error for "none") */
    tr_skf_list_split(r.out, r.nout, l);
    size_t kept = 0;
    for (size_t k = 0; k < l->count; k++)
        if (!s->cfg->skf.device[0] || fnmatch(s->cfg->skf.device, l->name[k], 0) == 0)
            memmove(l->name[kept++], l->name[k], TR_SKF_NAME_MAX);
    l->count = kept;
    return 0;
}

/* One look at the list: 1 the token is connected, 0 not there (yet), -1 error. */
static int try_connect(tr_skfslot *s, tr_err *e)
{
    tr_skf_list l;
    if (listed_devices(s, &l, e) < 0)
        return -1;
    const char *serial = wanted_serial(s);
    if (!serial && l.count > 1)
        return tr_fail(e, TR_E_CONFIG, "slot %s: the library lists %zu devices (%s, %s%s): name the slot's with "
                                       "skf_device or skf_serial", s->cfg->name, l.count, l.name[0], l.name[1],
                       l.count > 2 ? ", ..." : "");
    /* cheapest first: the name the token had (names may change after a
     * replug, so it is only a first guess), then names that carry the
     * serial, then the rest; each candidate costs a connect and a DEVINFO,
     * and another slot's token is touched only when nothing cheaper fits */
    for (int pass = 0; pass < 3; pass++)
        for (size_t k = 0; k < l.count; k++) {
            bool last = !strcmp(l.name[k], s->device), has = serial && strstr(l.name[k], serial);
            if ((pass == 0 && !last) || (pass == 1 && (last || !has)) ||
                (pass == 2 && (last || has || s->named_by_serial)))
                continue;
            int c = connect_read_serial(s, l.name[k], e);
            if (c < 0)
                return -1;
            if (c > 0 && (!serial || !strcmp(serial, s->serial))) {
                tr_strlcpy(s->device, l.name[k], sizeof s->device);
                /* then another slot's token is never connected to again to
                 * find this one: a name without the serial is not it */
                s->named_by_serial = serial && strstr(l.name[k], serial);
                return 1;
            }
            disconnect(s);
        }
    return 0;
}

/* Open skf_app / skf_container, or the only one listed. */
static int open_named(tr_skfslot *s, const char *want, const char *enum_fn, const char *open_fn, bool *opened,
                      tr_err *e)
{
    tr_skf_reply r;
    tr_skf_list l;
    const char *name = want;
    if (!want[0]) {
        if (call(s, enum_fn, NULL, &r, e) < 0)
            return -1;
        if (r.sar != 0)
            return sar_fail(s, TR_E_TOKEN, enum_fn, "", r.sar, e);
        tr_skf_list_split(r.out, r.nout, &l);
        if (l.count != 1)
            return tr_fail(e, TR_E_CONFIG, "slot %s: %s lists %zu names on %s: name one in the rig (%s)",
                           s->cfg->name, enum_fn, l.count, s->device,
                           !strcmp(enum_fn, "SKF_EnumApplication") ? "skf_app" : "skf_container");
        name = l.name[0];
    }
    tr_skf_args a = str_arg(name);
    if (call(s, open_fn, &a, &r, e) < 0)
        return -1;
    if (r.sar != 0)
        return sar_fail(s, TR_E_TOKEN, open_fn, name, r.sar, e);
    *opened = true;
    return 0;
}

static int open_app_container(tr_skfslot *s, tr_err *e)
{
    if (open_named(s, s->cfg->skf.app, "SKF_EnumApplication", "SKF_OpenApplication", &s->app_open, e) < 0)
        return -1;
    return open_named(s, s->cfg->skf.container, "SKF_EnumContainer", "SKF_OpenContainer", &s->container_open, e);
}

/* Poll until the token is connected or the rig's ready timeout. */
static int wait_connected(tr_skfslot *s, tr_err *e)
{
    uint64_t end = tr_now_ns() + (uint64_t)s->rig->ready_timeout_ms * 1000000ull;
    for (;;) {
        int c = try_connect(s, e);
        if (c != 0)
            return c < 0 ? -1 : 0;
        if (tr_now_ns() >= end) {
            const char *serial = wanted_serial(s);
            return tr_fail(e, TR_E_TIMEOUT, "slot %s: no device%s%s%s%s listed by SKF_EnumDev(TRUE) within %u ms%s%s",
                           s->cfg->name, s->cfg->skf.device[0] ? " matching " : "", s->cfg->skf.device,
                           serial ? " with serial " : "", serial ? serial : "", s->rig->ready_timeout_ms,
                           s->passed_over[0] ? "; passed over: " : "", s->passed_over);
        }
        tr_sleep_ms(SKF_POLL_MS);
    }
}

int tr_skfslot_connect(tr_skfslot *s, tr_err *e)
{
    disconnect(s);
    if (wait_connected(s, e) < 0 || open_app_container(s, e) < 0) {
        disconnect(s);
        return -1;
    }
    return 0;
}

void tr_skfslot_close(tr_skfslot *s)
{
    if (!s)
        return;
    if (s->lib && !tr_skf_dead(s->lib, NULL))
        disconnect(s);
    tr_skf_close(s->lib);
    free(s);
}

tr_skf *tr_skfslot_lib(tr_skfslot *s)
{
    return s->lib;
}

const char *tr_skfslot_device(const tr_skfslot *s)
{
    return s->device;
}

const char *tr_skfslot_serial(const tr_skfslot *s)
{
    return s->serial;
}

/* ---- the power cycle ------------------------------------------------------------------ */

/* Whether our device is still listed (by name: it is what went away). */
static int still_listed(tr_skfslot *s, tr_err *e)
{
    tr_skf_list l;
    if (listed_devices(s, &l, e) < 0)
        return -1;
    for (size_t k = 0; k < l.count; k++)
        if (!strcmp(l.name[k], s->device))
            return 1;
    return 0;
}

/* Off until SKF_EnumDev(TRUE) stops listing the device (stage "off"). */
static int power_off_seen(tr_skfslot *s, tr_cycle_report *rep, tr_err *e)
{
    disconnect(s);
    uint64_t t0 = tr_now_ns();
    if (tr_slot_power(s->power, false, e) < 0)
        return -1;
    uint64_t end = t0 + (uint64_t)s->rig->ready_timeout_ms * 1000000ull;
    for (;;) {
        int l = still_listed(s, e);
        if (l < 0)
            return -1;
        if (!l)
            break;
        if (tr_now_ns() >= end)
            return tr_fail(e, TR_E_RIG, "slot %s: %s still listed by SKF_EnumDev(TRUE) %u ms after power-off",
                           s->cfg->name, s->device, s->rig->ready_timeout_ms);
        tr_sleep_ms(SKF_POLL_MS);
    }
    tr_strlcpy(rep->stage, "off", sizeof rep->stage);
    tr_sleep_ms(s->rig->off_ms);
    rep->off_ms = tr_ms_since(t0);
    return 0;
}

static int skf_power_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    tr_skfslot *s = ctx;
    tr_strlcpy(rep->stage, "none", sizeof rep->stage);
    if (power_off_seen(s, rep, e) < 0)
        return -1;
    /* the stages in cycles.csv's words, so that a token that does not come
     * back is classified as over APDUs: power on and the library there
     * ("reader"; a token never listed again is enum.no-card), the device
     * listed and connected with its application and container open
     * ("atr"; one that lists but does not open is enum.no-answer) */
    uint64_t on = tr_now_ns();
    if (tr_slot_power(s->power, true, e) < 0)
        return -1;
    rep->to_reader_ms = tr_ms_since(on);
    tr_strlcpy(rep->stage, "reader", sizeof rep->stage);
    if (wait_connected(s, e) < 0)
        return -1;
    tr_strlcpy(rep->stage, "atr", sizeof rep->stage);
    if (open_app_container(s, e) < 0)
        return -1;
    rep->to_atr_ms = tr_ms_since(on);
    return 0;
}

/* A reset through SKF: the device closed and connected again by its name,
 * its application and container reopened. Whether that ends the security
 * state is the library's (profile SKF_RECONNECT_RESETS, ops-skf.tsuite). */
static int skf_reconnect(void *ctx, bool cold, tr_err *e)
{
    (void)cold;
    tr_skfslot *s = ctx;
    char name[TR_SKF_NAME_MAX];
    tr_strlcpy(name, s->device, sizeof name);
    disconnect(s);
    char serial[sizeof s->serial];
    tr_strlcpy(serial, s->serial, sizeof serial);
    int c = connect_read_serial(s, name, e);
    if (c < 0)
        return -1;
    if (c > 0 && strcmp(serial, s->serial)) {
        snprintf(s->passed_over, sizeof s->passed_over, "%s now says serial %s", name, s->serial);
        c = 0;
    }
    if (c == 0)
        return tr_fail(e, TR_E_REMOVED, "slot %s: %s is gone (SKF_ConnectDev after SKF_DisConnectDev)%s%s",
                       s->cfg->name, name, s->passed_over[0] ? ": " : "", s->passed_over);
    return open_app_container(s, e);
}

void tr_skfslot_cardio(tr_skfslot *s, tr_cardio *io)
{
    memset(io, 0, sizeof *io);
    io->ctx = s;
    io->reset = skf_reconnect;
    io->power_cycle = s->power ? skf_power_cycle : NULL;
}
