/* portpower.c — per-port power of a usb-hub slot (hub port + USB 3
 * companion port), through the kernel's sysfs `disable` file where it exists
 * (Linux >= 6.0: the kernel then keeps the port off) or SET/CLEAR_FEATURE
 * (PORT_POWER) via libusb, and the verification that power really went off. */
#include "usbhub_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

const char *tr_power_method_name(tr_power_method m)
{
    switch (m) {
    case TR_POWER_VIA_NONE: return "none";
    case TR_POWER_VIA_SYSFS: return "sysfs";
    case TR_POWER_VIA_LIBUSB: return "libusb";
    }
    return "?";
}

const char *tr_verify_level_name(tr_verify_level v)
{
    switch (v) {
    case TR_VERIFY_NONE: return "none";
    case TR_VERIFY_STATUS_BITS: return "status-bits";
    case TR_VERIFY_DEVICE_GONE: return "device-gone";
    case TR_VERIFY_READER_GONE: return "reader-gone";
    }
    return "?";
}

/* One switched port: the slot's hub port, or the same port on the companion. */
typedef struct {
    tr_hubh hub;
    int port;
    tr_power_method method;
    char disable_path[160];
} target;

/* Everything one public call works with. */
typedef struct {
    tr_usbsess s;
    target t[2];        /* t[0] the spec's hub, t[1] the companion */
    int n;
    tr_usb_loc dev_locs[2]; /* where the slot's device shows up */
    tr_usb_dev seen;        /* filled by pred_present */
    unsigned gone_ms, settle_ms;
} slot;

static unsigned or_default(unsigned v, unsigned def)
{
    return v ? v : def;
}

/* ---- sysfs ------------------------------------------------------------------ */

/* /sys/bus/usb/devices/<hub>:1.0/<hub>-port<N>/disable; a root hub "N" is
 * usbN, its interface N-0:1.0. */
static bool disable_path(const tr_usb_loc *hub, int port, char *out, size_t cap)
{
    int n;
    if (hub->nports == 0) {
        n = snprintf(out, cap, "/sys/bus/usb/devices/%d-0:1.0/usb%d-port%d/disable", hub->bus,
                     hub->bus, port);
    } else {
        char loc[TR_USB_LOC_MAX];
        if (!tr_usb_loc_format(hub, loc, sizeof loc))
            return false;
        n = snprintf(out, cap, "/sys/bus/usb/devices/%s:1.0/%s-port%d/disable", loc, loc, port);
    }
    return n > 0 && (size_t)n < cap;
}

static int sysfs_fail(tr_err *e, int err, const char *path, const char *doing)
{
    if (err == EACCES || err == EPERM) {
        char what[256];
        snprintf(what, sizeof what, "%s %s", doing, path);
        return tr_usb_perm_fail(e, what);
    }
    return tr_fail(e, TR_E_RIG, "%s %s: %s", doing, path, strerror(err));
}

/* First character of the disable file: '0', '1', or 0 when unreadable. */
static char sysfs_read_disable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char c = 0;
    if (read(fd, &c, 1) != 1)
        c = 0;
    close(fd);
    return c;
}

static int sysfs_write_disable(const char *path, bool disable, tr_err *e)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return sysfs_fail(e, errno, path, "opening");
    ssize_t w = write(fd, disable ? "1" : "0", 1);
    int err = errno;
    close(fd);
    if (w != 1)
        return sysfs_fail(e, w < 0 ? err : EIO, path, "writing");
    char now = sysfs_read_disable(path);
    if (now != (disable ? '1' : '0'))
        return tr_fail(e, TR_E_RIG, "%s reads '%c' after writing %d: the kernel refused it", path,
                       now ? now : '?', disable);
    return 0;
}

/* ---- preparing a slot ------------------------------------------------------------- */

static int open_target(slot *sl, const tr_usb_loc *loc, int port, target *t, tr_err *e)
{
    if (tr_hubh_open(&sl->s, loc, &t->hub, e) < 0)
        return -1;
    t->port = port;
    if (port > t->hub.desc.nports) {
        tr_hubh_release(&t->hub);
        return tr_fail(e, TR_E_CONFIG, "hub %s has %u ports: there is no port %d", t->hub.location,
                       t->hub.desc.nports, port);
    }
    /* The kernel's file when it has one: it also stops the kernel from
     * powering the port back on, which a bare CLEAR_FEATURE does not. */
    if (disable_path(loc, port, t->disable_path, sizeof t->disable_path) &&
        access(t->disable_path, F_OK) == 0)
        t->method = TR_POWER_VIA_SYSFS;
    else
        t->method = TR_POWER_VIA_LIBUSB;
    return 0;
}

static void slot_close(slot *sl)
{
    for (int i = 0; i < sl->n; i++)
        tr_hubh_release(&sl->t[i].hub);
    tr_usbsess_close(&sl->s);
}

static int open_companion(slot *sl, const tr_hubport_spec *spec, tr_power_check *out, tr_err *e)
{
    char comp[64] = "";
    bool found = false;
    if (spec->companion[0]) {
        tr_strlcpy(comp, spec->companion, sizeof comp);
    } else {
        if (tr_usbsess_find_companion(&sl->s, &sl->t[0].hub, comp, sizeof comp, e) < 0)
            return -1;
        found = comp[0] != '\0';
    }
    if (!comp[0])
        return 0;
    tr_usb_loc cl;
    if (!tr_usb_loc_parse(comp, &cl))
        return tr_fail(e, TR_E_CONFIG, "companion '%s' is not a USB location (e.g. 2-1.4)", comp);
    if (open_target(sl, &cl, spec->port, &sl->t[1], e) < 0) {
        tr_err_prefix(e, "companion of %s", spec->hub);
        return -1;
    }
    sl->n = 2;
    if (sl->t[1].hub.superspeed == sl->t[0].hub.superspeed)
        return tr_fail(e, TR_E_CONFIG, "companion %s of hub %s: both are %s hubs; a companion "
                       "is the other half of a USB 3 hub (one USB 2, one SuperSpeed)",
                       comp, spec->hub, sl->t[0].hub.superspeed ? "SuperSpeed" : "USB 2");
    if (out) {
        tr_strlcpy(out->companion, comp, sizeof out->companion);
        out->companion_found = found;
    }
    return 0;
}

static int slot_open(const tr_hubport_spec *spec, slot *sl, tr_power_check *out, tr_err *e)
{
    memset(sl, 0, sizeof *sl);
    tr_usb_loc hl;
    if (!spec || !tr_usb_loc_parse(spec->hub, &hl))
        return tr_fail(e, TR_E_CONFIG, "hub '%s' is not a USB location (bus-port.port..., "
                       "as uhubctl prints it, e.g. 1-1.4)", spec ? spec->hub : "");
    if (spec->port < 1 || spec->port > 255)
        return tr_fail(e, TR_E_CONFIG, "hub %s: port %d: ports are numbered 1..255", spec->hub,
                       spec->port);
    sl->gone_ms = or_default(spec->gone_ms, TR_HUBPORT_GONE_MS);
    sl->settle_ms = or_default(spec->settle_ms, TR_HUBPORT_SETTLE_MS);
    char context[96];
    snprintf(context, sizeof context, "cannot reach hub %s", spec->hub);
    if (tr_usbsess_open(&sl->s, context, e) < 0)
        return -1;
    if (open_target(sl, &hl, spec->port, &sl->t[0], e) < 0) {
        tr_usbsess_close(&sl->s);
        return -1;
    }
    sl->n = 1;
    if (open_companion(sl, spec, out, e) < 0) {
        slot_close(sl);
        return -1;
    }
    for (int i = 0; i < sl->n; i++)
        tr_usb_loc_child(&sl->t[i].hub.loc, spec->port, &sl->dev_locs[i]);
    if (out) {
        out->method = sl->t[0].method;
        out->companion_method = sl->n > 1 ? sl->t[1].method : TR_POWER_VIA_NONE;
        out->switching = sl->t[0].hub.desc.switching;
    }
    return 0;
}

/* Off needs every switched hub to switch one port alone. */
static int require_per_port(slot *sl, tr_power_check *out, tr_err *e)
{
    for (int i = 0; i < sl->n; i++) {
        const tr_hubh *h = &sl->t[i].hub;
        if (tr_hub_desc_per_port(&h->desc))
            continue;
        if (out)
            tr_strlcpy(out->classification, TR_CLASS_HUB_NOT_PER_PORT, sizeof out->classification);
        return tr_fail(e, TR_E_RIG, "%s: hub %s (%04x:%04x) switches port power %s "
                       "(wHubCharacteristics 0x%04x): port %d cannot be powered off alone. "
                       "Use a hub with per-port power switching (rigs/README.md, bench setup)",
                       TR_CLASS_HUB_NOT_PER_PORT, h->location, h->dev.vid, h->dev.pid,
                       h->desc.switching == TR_PWR_GANGED ? "ganged (all ports together)"
                                                          : "not at all",
                       h->desc.characteristics, sl->t[i].port);
    }
    return 0;
}

/* ---- switching and reading back ------------------------------------------------------------ */

static int switch_target(slot *sl, target *t, bool on, tr_err *e)
{
    if (t->method == TR_POWER_VIA_SYSFS)
        return sysfs_write_disable(t->disable_path, !on, e);
    if (tr_hubh_reopen(&sl->s, &t->hub, e) < 0)
        return -1;
    return tr_hubh_port_power(&t->hub, t->port, on, e);
}

/* Off: the USB 2 half first, so a USB 3 token on the SuperSpeed half does
 * not fall back to USB 2 and re-enumerate there. On: SuperSpeed half first,
 * so it comes up at its full speed. */
static int switch_all(slot *sl, bool on, tr_err *e)
{
    for (int pass = 0; pass < 2; pass++) {
        bool want_ss = on ? pass == 0 : pass == 1;
        for (int i = 0; i < sl->n; i++)
            if (sl->t[i].hub.superspeed == want_ss && switch_target(sl, &sl->t[i], on, e) < 0)
                return -1;
    }
    return 0;
}

/* Status of every switched port into st[0..n). */
static int read_all(slot *sl, tr_port_status st[2], tr_err *e)
{
    for (int i = 0; i < sl->n; i++) {
        target *t = &sl->t[i];
        if (tr_hubh_reopen(&sl->s, &t->hub, e) < 0 ||
            tr_hubh_port_status(&t->hub, t->port, &st[i], e) < 0)
            return -1;
    }
    return 0;
}

/* Handles are closed while waiting: an open usbfs handle takes part in every
 * libusb event round, and after a cycle it may be stale anyway. */
static void release_all(slot *sl)
{
    for (int i = 0; i < sl->n; i++)
        tr_hubh_release(&sl->t[i].hub);
}

/* An unreadable device list proves nothing: neither gone nor present. */
static bool pred_gone(tr_usbsess *s, void *arg)
{
    slot *sl = arg;
    tr_usb_dev d;
    return tr_usbsess_device_at(s, sl->dev_locs, sl->n, &d) == 0;
}

static bool pred_present(tr_usbsess *s, void *arg)
{
    slot *sl = arg;
    return tr_usbsess_device_at(s, sl->dev_locs, sl->n, &sl->seen) == 1;
}

static unsigned ms_since(uint64_t t0)
{
    uint64_t d = (tr_now_ns() - t0) / 1000000u;
    return d > 0xFFFFFFFFu ? 0xFFFFFFFFu : (unsigned)d;
}

/* Which switched port (if any) still shows power or a connection. */
static int port_still_live(const slot *sl, const tr_port_status st[2])
{
    for (int i = 0; i < sl->n; i++)
        if (st[i].powered || st[i].connected)
            return i;
    return -1;
}

static void store_status(slot *sl, tr_port_status st[2], tr_port_status *hub,
                         tr_port_status *comp, bool *have)
{
    *hub = st[0];
    if (sl->n > 1)
        *comp = st[1];
    *have = true;
}

static int fail_not_switched(slot *sl, tr_power_check *out, tr_err *e, const char *why)
{
    tr_strlcpy(out->classification, TR_CLASS_PORT_NOT_SWITCHED, sizeof out->classification);
    snprintf(out->detail, sizeof out->detail, "%s", why);
    return tr_fail(e, TR_E_RIG, "%s: hub %s port %d (%04x:%04x, %s via %s): %s. The token was "
                   "not power-cycled; this hub does not really switch this port. Use a hub that "
                   "cuts VBUS per port (rigs/README.md, bench setup)",
                   TR_CLASS_PORT_NOT_SWITCHED, sl->t[0].hub.location, sl->t[0].port,
                   sl->t[0].hub.dev.vid, sl->t[0].hub.dev.pid,
                   tr_power_switching_name(sl->t[0].hub.desc.switching),
                   tr_power_method_name(sl->t[0].method), why);
}

/* Power off and verify. The port stays off until t0 + off_period (longer
 * only when the device takes longer to leave). Returns 0 verified, 1 not
 * switched (e and out->classification set), -1 error. */
static int do_off(slot *sl, uint64_t t0, unsigned off_period, tr_power_check *out, tr_err *e)
{
    char why[200];
    tr_port_status st[2];
    if (switch_all(sl, false, e) < 0 || read_all(sl, st, e) < 0)
        return -1;
    int live = port_still_live(sl, st);
    if (live >= 0) {
        /* A hub that took CLEAR_FEATURE reports PORT_POWER 0 at once. */
        store_status(sl, st, &out->off, &out->comp_off, &out->have_off);
        char desc[96];
        tr_port_status_describe(&st[live], desc, sizeof desc);
        snprintf(why, sizeof why, "port %d of %s still reads '%s' right after power-off",
                 sl->t[live].port, sl->t[live].hub.location, desc);
        release_all(sl);
        fail_not_switched(sl, out, e, why);
        return 1;
    }
    out->level = TR_VERIFY_STATUS_BITS;
    release_all(sl);
    if (out->device_before) {
        out->device_gone = tr_usbsess_wait(&sl->s, pred_gone, sl, t0 + (uint64_t)sl->gone_ms * 1000000u);
        out->gone_ms = ms_since(t0);
        if (!out->device_gone) {
            snprintf(why, sizeof why, "device %04x:%04x is still on the bus %u ms after power-off "
                     "although the port reports no power", out->dev_before.vid, out->dev_before.pid,
                     out->gone_ms);
            fail_not_switched(sl, out, e, why);
            return 1;
        }
    }
    /* Off period: any device arriving now means the port got power back
     * (kernels re-power ports switched behind their back). */
    bool back = tr_usbsess_wait(&sl->s, pred_present, sl, t0 + (uint64_t)off_period * 1000000u);
    if (read_all(sl, st, e) < 0)
        return -1;
    store_status(sl, st, &out->off, &out->comp_off, &out->have_off);
    release_all(sl);
    live = port_still_live(sl, st);
    if (back || live >= 0) {
        char desc[96] = "";
        if (live >= 0)
            tr_port_status_describe(&st[live], desc, sizeof desc);
        snprintf(why, sizeof why, "the port came back on within the off period (%u ms)%s%s%s%s",
                 ms_since(t0), back ? ": device " : "", back ? sl->seen.location : "",
                 live >= 0 ? ", status " : "", desc);
        out->level = TR_VERIFY_NONE;
        fail_not_switched(sl, out, e, why);
        return 1;
    }
    if (out->device_before)
        out->level = TR_VERIFY_DEVICE_GONE;
    snprintf(out->detail, sizeof out->detail, "off via %s%s: status bits clear, %s; still off "
             "after %u ms", tr_power_method_name(out->method), sl->n > 1 ? " (+companion)" : "",
             out->device_before ? "device left the bus" : "no device was on the port", ms_since(t0));
    return 0;
}

/* Power on, check the power bit, wait up to wait_ms for a device. */
static int do_on(slot *sl, unsigned wait_ms, tr_power_check *out, tr_err *e)
{
    uint64_t t_on = tr_now_ns();
    tr_port_status st[2];
    if (switch_all(sl, true, e) < 0 || read_all(sl, st, e) < 0)
        return -1;
    store_status(sl, st, &out->on, &out->comp_on, &out->have_on);
    release_all(sl);
    for (int i = 0; i < sl->n; i++)
        if (!st[i].powered)
            return tr_fail(e, TR_E_RIG, "hub %s port %d reports no power after power-on via %s",
                           sl->t[i].hub.location, sl->t[i].port,
                           tr_power_method_name(sl->t[i].method));
    out->device_back = tr_usbsess_wait(&sl->s, pred_present, sl, t_on + (uint64_t)wait_ms * 1000000u);
    if (out->device_back) {
        out->back_ms = ms_since(t_on);
        out->dev_after = sl->seen;
    }
    return 0;
}

/* Status and device before switching. */
static int observe_before(slot *sl, tr_power_check *out, tr_err *e)
{
    tr_port_status st[2];
    if (read_all(sl, st, e) < 0)
        return -1;
    store_status(sl, st, &out->before, &out->comp_before, &out->have_before);
    release_all(sl);
    int rc = tr_usbsess_device_at(&sl->s, sl->dev_locs, sl->n, &out->dev_before);
    if (rc < 0)
        return tr_usb_fail(e, rc, "listing USB devices");
    out->device_before = rc == 1;
    return 0;
}

int tr_hubport_power(const tr_hubport_spec *spec, bool on, tr_power_check *out, tr_err *e)
{
    tr_power_check local;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    slot sl;
    if (slot_open(spec, &sl, out, e) < 0)
        return -1;
    int rc = on ? 0 : require_per_port(&sl, out, e);
    if (rc == 0)
        rc = observe_before(&sl, out, e);
    if (rc == 0 && on) {
        rc = do_on(&sl, sl.settle_ms, out, e);
        if (rc == 0)
            snprintf(out->detail, sizeof out->detail, "on via %s%s: %s", tr_power_method_name(out->method),
                     sl.n > 1 ? " (+companion)" : "",
                     out->device_back ? "device on the bus" : "no device on the port yet");
    } else if (rc == 0) {
        rc = do_off(&sl, tr_now_ns(), sl.settle_ms, out, e) == 0 ? 0 : -1;
    }
    slot_close(&sl);
    return rc;
}

int tr_hubport_cycle(const tr_hubport_spec *spec, unsigned off_ms, unsigned timeout_ms,
                     tr_power_check *out, tr_err *e)
{
    tr_power_check local;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    slot sl;
    if (slot_open(spec, &sl, out, e) < 0)
        return -1;
    if (require_per_port(&sl, out, e) < 0 || observe_before(&sl, out, e) < 0) {
        slot_close(&sl);
        return -1;
    }
    uint64_t t0 = tr_now_ns();
    int off = do_off(&sl, t0, off_ms, out, e);
    tr_err off_err;
    if (e)
        off_err = *e;
    /* Whatever happened, the slot ends powered: switch on and wait. */
    out->off_ms = ms_since(t0);
    tr_err on_err;
    tr_err_clear(&on_err);
    int on = do_on(&sl, timeout_ms, out, &on_err);
    slot_close(&sl);
    if (off != 0) {
        if (e)
            *e = off_err;
        return -1;
    }
    if (on < 0) {
        if (e)
            *e = on_err;
        return -1;
    }
    return 0;
}

int tr_hubport_status(const tr_hubport_spec *spec, tr_hubport_state *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    tr_power_check pc;
    memset(&pc, 0, sizeof pc);
    slot sl;
    if (slot_open(spec, &sl, &pc, e) < 0)
        return -1;
    tr_port_status st[2];
    int rc = read_all(&sl, st, e);
    if (rc == 0) {
        const target *t = &sl.t[0];
        out->method = t->method;
        out->sysfs_disabled = t->method == TR_POWER_VIA_SYSFS && sysfs_read_disable(t->disable_path) == '1';
        out->switching = t->hub.desc.switching;
        out->per_port = tr_hub_desc_per_port(&t->hub.desc);
        out->nports = t->hub.desc.nports;
        tr_strlcpy(out->companion, pc.companion, sizeof out->companion);
        out->companion_found = pc.companion_found;
        out->status = st[0];
        out->powered = st[0].powered;
        if (sl.n > 1) {
            out->comp_status = st[1];
            out->powered |= st[1].powered;
            out->per_port &= tr_hub_desc_per_port(&sl.t[1].hub.desc);
        }
        release_all(&sl);
        int found = tr_usbsess_device_at(&sl.s, sl.dev_locs, sl.n, &out->dev);
        if (found < 0)
            rc = tr_usb_fail(e, found, "listing USB devices");
        out->has_device = found == 1;
    }
    slot_close(&sl);
    return rc;
}
