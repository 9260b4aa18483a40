/* usbhub.c — libusb session, hub handles, discovery and device lookup.
 * Port power and its verification are in portpower.c. */
#include "usbhub_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- errors ------------------------------------------------------------------ */

const char *tr_usbhub_udev_fix(void)
{
    return "install the udev rule that opens USB hubs and their port files to group plugdev: "
           "sudo cp rigs/52-tokenrig-usb-hubs.rules /etc/udev/rules.d/ && "
           "sudo udevadm control --reload && "
           "sudo udevadm trigger --attr-match=subsystem=usb; "
           "then sudo usermod -aG plugdev $USER and log in again";
}

int tr_usb_perm_fail(tr_err *e, const char *what)
{
    return tr_fail(e, TR_E_PERM, "permission denied %s. Fix: %s", what, tr_usbhub_udev_fix());
}

int tr_usb_fail(tr_err *e, int rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (rc == LIBUSB_ERROR_ACCESS)
        return tr_usb_perm_fail(e, what);
    return tr_fail(e, TR_E_RIG, "%s: %s", what, libusb_strerror(rc));
}

/* ---- session ------------------------------------------------------------------- */

static int no_bus(tr_err *e, const char *context, const char *why)
{
    if (!context)
        context = "no USB hubs found";
    if (access("/sys/bus/usb", F_OK) != 0)
        tr_fail(e, TR_E_RIG, "%s: this machine has no USB bus (/sys/bus/usb missing)", context);
    else if (why)
        tr_fail(e, TR_E_RIG, "%s: libusb cannot start (%s)", context, why);
    else
        tr_fail(e, TR_E_RIG, "%s: there is no device on the USB bus", context);
    return TR_HUBS_NONE;
}

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event ev, void *arg)
{
    (void)ctx;
    (void)dev;
    (void)ev;
    tr_usbsess *s = arg;
    s->events++; /* only a wake-up: waiters re-read the device list */
    return 0;
}

int tr_usbsess_open(tr_usbsess *s, const char *context, tr_err *e)
{
    memset(s, 0, sizeof *s);
    int rc = libusb_init(&s->ctx);
    if (rc < 0) {
        s->ctx = NULL;
        return no_bus(e, context, libusb_strerror(rc));
    }
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    if (n < 0) {
        tr_usbsess_close(s);
        return tr_usb_fail(e, (int)n, "listing USB devices");
    }
    libusb_free_device_list(list, 1);
    if (n == 0) {
        tr_usbsess_close(s);
        return no_bus(e, context, NULL);
    }
    if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        rc = libusb_hotplug_register_callback(
            s->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
            LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            on_hotplug, s, &s->cb);
        s->hotplug = rc == LIBUSB_SUCCESS;
    }
    return 0;
}

void tr_usbsess_close(tr_usbsess *s)
{
    if (!s->ctx)
        return;
    if (s->hotplug)
        libusb_hotplug_deregister_callback(s->ctx, s->cb);
    libusb_exit(s->ctx);
    s->ctx = NULL;
    s->hotplug = false;
}

#define WAIT_SLICE_HOTPLUG_NS 100000000ull /* safety net if an event is missed */
#define WAIT_SLICE_POLL_NS 20000000ull     /* bounded poll without hotplug */

bool tr_usbsess_wait(tr_usbsess *s, tr_usb_pred pred, void *arg, uint64_t deadline_ns)
{
    for (;;) {
        if (pred(s, arg))
            return true;
        uint64_t now = tr_now_ns();
        if (now >= deadline_ns)
            return false;
        uint64_t left = deadline_ns - now;
        if (s->hotplug) {
            uint64_t slice = left < WAIT_SLICE_HOTPLUG_NS ? left : WAIT_SLICE_HOTPLUG_NS;
            struct timeval tv = {(time_t)(slice / 1000000000ull),
                                 (suseconds_t)(slice % 1000000000ull / 1000)};
            libusb_handle_events_timeout_completed(s->ctx, &tv, NULL);
        } else {
            uint64_t slice = left < WAIT_SLICE_POLL_NS ? left : WAIT_SLICE_POLL_NS;
            struct timespec ts = {(time_t)(slice / 1000000000ull), (long)(slice % 1000000000ull)};
            nanosleep(&ts, NULL);
        }
    }
}

/* ---- devices --------------------------------------------------------------------- */

static bool dev_loc(libusb_device *d, tr_usb_loc *loc)
{
    uint8_t pn[TR_USB_MAX_DEPTH];
    int n = libusb_get_port_numbers(d, pn, (int)sizeof pn);
    if (n < 0)
        return false;
    memset(loc, 0, sizeof *loc);
    loc->bus = libusb_get_bus_number(d);
    loc->nports = n;
    memcpy(loc->ports, pn, (size_t)n);
    return loc->bus >= 1;
}

static unsigned speed_mbps(int speed)
{
    switch (speed) {
    case LIBUSB_SPEED_LOW: return 1;
    case LIBUSB_SPEED_FULL: return 12;
    case LIBUSB_SPEED_HIGH: return 480;
    case LIBUSB_SPEED_SUPER: return 5000;
    case LIBUSB_SPEED_SUPER_PLUS: return 10000;
    default: return speed > LIBUSB_SPEED_SUPER_PLUS ? 20000 : 0;
    }
}

/* A sysfs attribute of a USB device as one printable line ("" when absent).
 * The serial comes from here rather than a string descriptor so that listing
 * never opens (or needs permission on) a token that pcscd is using. */
static void read_sysfs_line(const char *devname, const char *attr, char *out, size_t cap)
{
    out[0] = '\0';
    char path[256];
    int n = snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/%s", devname, attr);
    if (n < 0 || (size_t)n >= sizeof path || cap < 2)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t got = read(fd, out, cap - 1);
    close(fd);
    if (got <= 0) {
        out[0] = '\0';
        return;
    }
    out[got] = '\0';
    while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == ' '))
        out[--got] = '\0';
    for (ssize_t i = 0; i < got; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7E)
            out[i] = '?';
}

bool tr_usbdev_describe(libusb_device *d, tr_usb_dev *out)
{
    memset(out, 0, sizeof *out);
    tr_usb_loc loc;
    if (!dev_loc(d, &loc) || !tr_usb_loc_format(&loc, out->location, sizeof out->location))
        return false;
    out->bus = loc.bus;
    out->address = libusb_get_device_address(d);
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(d, &dd) == 0) {
        out->vid = dd.idVendor;
        out->pid = dd.idProduct;
        out->bcd_usb = dd.bcdUSB;
        out->device_class = dd.bDeviceClass;
    }
    out->speed_mbps = speed_mbps(libusb_get_device_speed(d));
    char sysname[TR_USB_LOC_MAX];
    if (tr_usb_loc_sysfs_name(&loc, sysname, sizeof sysname))
        read_sysfs_line(sysname, "serial", out->serial, sizeof out->serial);
    return true;
}

libusb_device *tr_usbsess_find(tr_usbsess *s, const tr_usb_loc *want)
{
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    libusb_device *found = NULL;
    for (ssize_t i = 0; i < n && !found; i++) {
        tr_usb_loc loc;
        if (dev_loc(list[i], &loc) && tr_usb_loc_equal(&loc, want))
            found = libusb_ref_device(list[i]);
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    return found;
}

int tr_usbsess_device_at(tr_usbsess *s, const tr_usb_loc *locs, int nlocs, tr_usb_dev *out)
{
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    if (n < 0)
        return (int)n;
    int found = 0;
    for (ssize_t i = 0; i < n && !found; i++) {
        tr_usb_loc loc;
        if (!dev_loc(list[i], &loc))
            continue;
        for (int j = 0; j < nlocs && !found; j++)
            if (tr_usb_loc_equal(&loc, &locs[j]))
                found = tr_usbdev_describe(list[i], out) ? 1 : 0;
    }
    libusb_free_device_list(list, 1);
    return found;
}

/* "1, 1-1, 2" — the hubs on the bus, for "no hub at X" messages. */
static void list_hub_locations(tr_usbsess *s, char *out, size_t cap)
{
    out[0] = '\0';
    size_t pos = 0;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        tr_usb_dev d;
        if (!tr_usbdev_describe(list[i], &d) || d.device_class != LIBUSB_CLASS_HUB)
            continue;
        int w = snprintf(out + pos, cap - pos, "%s%s", pos ? ", " : "", d.location);
        if (w < 0 || (size_t)w >= cap - pos)
            break;
        pos += (size_t)w;
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
}

/* ---- hubs -------------------------------------------------------------------------- */

static int hubh_open_handle(tr_usbsess *s, tr_hubh *hub, tr_err *e)
{
    libusb_device *d = tr_usbsess_find(s, &hub->loc);
    if (!d) {
        char hubs[256];
        list_hub_locations(s, hubs, sizeof hubs);
        return tr_fail(e, TR_E_RIG, "no USB device at %s (hubs on the bus: %s)", hub->location,
                       hubs[0] ? hubs : "none");
    }
    tr_usbdev_describe(d, &hub->dev);
    if (hub->dev.device_class != LIBUSB_CLASS_HUB) {
        libusb_unref_device(d);
        return tr_fail(e, TR_E_RIG, "the device at %s (%04x:%04x) is not a hub (class %u)",
                       hub->location, hub->dev.vid, hub->dev.pid, hub->dev.device_class);
    }
    int rc = libusb_open(d, &hub->h);
    libusb_unref_device(d);
    if (rc < 0) {
        hub->h = NULL;
        return tr_usb_fail(e, rc, "opening USB hub %s (%04x:%04x)", hub->location, hub->dev.vid,
                           hub->dev.pid);
    }
    return 0;
}

#define USB2_HUB_DESC_MAX 71 /* 7 fixed + 2 bitmaps of 32 bytes (255 ports) */
#define SS_HUB_DESC_SIZE 12

static int hubh_read_desc(tr_hubh *hub, tr_err *e)
{
    uint8_t buf[USB2_HUB_DESC_MAX];
    hub->superspeed = hub->dev.bcd_usb >= 0x0300;
    uint8_t type = hub->superspeed ? TR_USB_DT_SS_HUB : TR_USB_DT_HUB;
    uint16_t want = hub->superspeed ? SS_HUB_DESC_SIZE : USB2_HUB_DESC_MAX;
    int n = libusb_control_transfer(hub->h, TR_USB_RT_HUB_IN, TR_USB_REQ_GET_DESCRIPTOR,
                                    (uint16_t)(type << 8), 0, buf, want, TR_USB_CTRL_TIMEOUT_MS);
    if (n < 0)
        return tr_usb_fail(e, n, "reading the hub descriptor of %s", hub->location);
    if (tr_hub_desc_parse(buf, (size_t)n, hub->superspeed, &hub->desc, e) < 0) {
        tr_err_prefix(e, "hub %s (%04x:%04x)", hub->location, hub->dev.vid, hub->dev.pid);
        return -1;
    }
    return 0;
}

int tr_hubh_open(tr_usbsess *s, const tr_usb_loc *loc, tr_hubh *hub, tr_err *e)
{
    memset(hub, 0, sizeof *hub);
    hub->loc = *loc;
    if (!tr_usb_loc_format(loc, hub->location, sizeof hub->location))
        return tr_fail(e, TR_E_CONFIG, "invalid USB location");
    if (hubh_open_handle(s, hub, e) < 0)
        return -1;
    if (hubh_read_desc(hub, e) < 0) {
        tr_hubh_release(hub);
        return -1;
    }
    return 0;
}

int tr_hubh_reopen(tr_usbsess *s, tr_hubh *hub, tr_err *e)
{
    if (hub->h)
        return 0;
    return hubh_open_handle(s, hub, e);
}

void tr_hubh_release(tr_hubh *hub)
{
    if (hub->h)
        libusb_close(hub->h);
    hub->h = NULL;
}

int tr_hubh_port_status(tr_hubh *hub, int port, tr_port_status *out, tr_err *e)
{
    uint8_t b[4];
    int n = libusb_control_transfer(hub->h, TR_USB_RT_PORT_IN, TR_USB_REQ_GET_STATUS, 0,
                                    (uint16_t)port, b, sizeof b, TR_USB_CTRL_TIMEOUT_MS);
    if (n < 0)
        return tr_usb_fail(e, n, "GET_STATUS of %s port %d", hub->location, port);
    if (tr_port_status_parse(b, (size_t)n, hub->superspeed, out, e) < 0) {
        tr_err_prefix(e, "hub %s port %d", hub->location, port);
        return -1;
    }
    return 0;
}

int tr_hubh_port_power(tr_hubh *hub, int port, bool on, tr_err *e)
{
    int rc = libusb_control_transfer(hub->h, TR_USB_RT_PORT_OUT,
                                     on ? TR_USB_REQ_SET_FEATURE : TR_USB_REQ_CLEAR_FEATURE,
                                     TR_USB_PORT_FEAT_POWER, (uint16_t)port, NULL, 0,
                                     TR_USB_CTRL_TIMEOUT_MS);
    if (rc < 0)
        return tr_usb_fail(e, rc, "%s_FEATURE(PORT_POWER) on %s port %d", on ? "SET" : "CLEAR",
                           hub->location, port);
    return 0;
}

#define BOS_MAX 1024

bool tr_hubh_container_id(tr_hubh *hub, uint8_t id[16])
{
    if (hub->dev.bcd_usb < 0x0201) /* BOS exists from USB 2.01 on */
        return false;
    uint8_t hdr[5];
    int n = libusb_control_transfer(hub->h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
                                    TR_USB_DT_BOS << 8, 0, hdr, sizeof hdr, TR_USB_CTRL_TIMEOUT_MS);
    int total = n == (int)sizeof hdr ? tr_bos_total_length(hdr, sizeof hdr) : -1;
    if (total < 0 || total > BOS_MAX)
        return false;
    uint8_t *buf = malloc((size_t)total);
    if (!buf)
        return false;
    n = libusb_control_transfer(hub->h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
                                TR_USB_DT_BOS << 8, 0, buf, (uint16_t)total, TR_USB_CTRL_TIMEOUT_MS);
    bool ok = n > 0 && tr_bos_container_id(buf, (size_t)n, id);
    free(buf);
    return ok;
}

/* ---- companions ------------------------------------------------------------------------- */

/* Same chain below the root port: on xHCI the USB 2 and SuperSpeed root hubs
 * may number the same physical port differently. */
static bool same_chain_below_root(const tr_usb_loc *a, const tr_usb_loc *b)
{
    return a->nports >= 1 && a->nports == b->nports &&
           memcmp(a->ports + 1, b->ports + 1, (size_t)(a->nports - 1)) == 0;
}

int tr_companion_score(const tr_usb_loc *la, bool ss_a, const tr_hub_desc *da, bool cid_a,
                       const uint8_t *id_a, const char *serial_a,
                       const tr_usb_loc *lb, bool ss_b, const tr_hub_desc *db, bool cid_b,
                       const uint8_t *id_b, const char *serial_b)
{
    if (ss_a == ss_b)
        return -1;
    bool same_chain = tr_usb_loc_same_chain(la, lb);
    /* A wrong pairing would switch an unrelated port, so the halves must at
     * least sit at the same place in the tree, whatever their ids say
     * (some hubs ship hard-coded, non-unique container ids). */
    if (!same_chain && !same_chain_below_root(la, lb))
        return -1;
    if (serial_a[0] && serial_b[0] && strcmp(serial_a, serial_b) != 0)
        return -1;
    int score;
    if (cid_a && cid_b) {
        if (memcmp(id_a, id_b, 16) != 0)
            return -1;
        score = 4;
    } else {
        if (!same_chain || !da || !db || da->nports != db->nports)
            return -1;
        score = 1;
    }
    if (same_chain)
        score += 2;
    /* Linux numbers an xHCI's USB 2 bus n and its SuperSpeed bus n+1. */
    if (same_chain && la->bus - (int)ss_a == lb->bus - (int)ss_b)
        score += 1;
    return score;
}

int tr_usbsess_find_companion(tr_usbsess *s, tr_hubh *hub, char *out, size_t cap, tr_err *e)
{
    out[0] = '\0';
    uint8_t id_a[16];
    bool cid_a = tr_hubh_container_id(hub, id_a);
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    if (n < 0)
        return tr_usb_fail(e, (int)n, "listing USB devices");
    int best = -1, rc = 0;
    for (ssize_t i = 0; i < n && rc == 0; i++) {
        tr_usb_dev d;
        tr_usb_loc loc;
        if (!tr_usbdev_describe(list[i], &d) || d.device_class != LIBUSB_CLASS_HUB ||
            !tr_usb_loc_parse(d.location, &loc))
            continue;
        bool ss_b = d.bcd_usb >= 0x0300;
        if (ss_b == hub->superspeed ||
            (!tr_usb_loc_same_chain(&hub->loc, &loc) && !same_chain_below_root(&hub->loc, &loc)))
            continue; /* cheap filter before opening anything */
        tr_hubh cand;
        if (tr_hubh_open(s, &loc, &cand, e) < 0) {
            if (e && e->code == TR_E_PERM)
                rc = -1; /* the companion may be this one: do not guess */
            else
                tr_err_clear(e); /* a broken hub nearby is not our companion */
            continue;
        }
        uint8_t id_b[16];
        bool cid_b = tr_hubh_container_id(&cand, id_b);
        int score = tr_companion_score(&hub->loc, hub->superspeed, &hub->desc, cid_a, id_a,
                                       hub->dev.serial, &loc, ss_b, &cand.desc, cid_b, id_b,
                                       d.serial);
        if (score > best) {
            best = score;
            tr_strlcpy(out, d.location, cap);
        }
        tr_hubh_release(&cand);
    }
    libusb_free_device_list(list, 1);
    return rc;
}

/* ---- discovery ------------------------------------------------------------------------------ */

static int cmp_loc(const tr_usb_loc *a, const tr_usb_loc *b)
{
    if (a->bus != b->bus)
        return a->bus - b->bus;
    for (int i = 0; i < a->nports && i < b->nports; i++)
        if (a->ports[i] != b->ports[i])
            return a->ports[i] - b->ports[i];
    return a->nports - b->nports;
}

static int cmp_hub(const void *pa, const void *pb)
{
    const tr_hub_info *a = pa, *b = pb;
    tr_usb_loc la, lb;
    if (!tr_usb_loc_parse(a->dev.location, &la) || !tr_usb_loc_parse(b->dev.location, &lb))
        return strcmp(a->dev.location, b->dev.location);
    return cmp_loc(&la, &lb);
}

/* Everything on the bus, described once (for "device on port N"). */
typedef struct {
    tr_usb_dev *devs;
    size_t n;
} devtable;

static void fill_ports(tr_hubh *hub, tr_hub_info *info, const devtable *all)
{
    info->ports = calloc(hub->desc.nports, sizeof *info->ports);
    if (!info->ports) {
        snprintf(info->problem, sizeof info->problem, "out of memory");
        return;
    }
    info->nports = hub->desc.nports;
    for (int p = 1; p <= info->nports; p++) {
        tr_hub_port *hp = &info->ports[p - 1];
        hp->port = p;
        tr_err pe;
        tr_err_clear(&pe);
        if (tr_hubh_port_status(hub, p, &hp->status, &pe) == 0)
            hp->have_status = true;
        else if (!info->problem[0])
            snprintf(info->problem, sizeof info->problem, "%s", pe.msg);
        tr_usb_loc child;
        char cl[TR_USB_LOC_MAX];
        if (!tr_usb_loc_child(&hub->loc, p, &child) || !tr_usb_loc_format(&child, cl, sizeof cl))
            continue;
        for (size_t i = 0; i < all->n; i++)
            if (!strcmp(all->devs[i].location, cl)) {
                hp->has_device = true;
                hp->dev = all->devs[i];
            }
    }
}

static void describe_hub(tr_usbsess *s, const tr_usb_dev *d, tr_hub_info *info, const devtable *all)
{
    memset(info, 0, sizeof *info);
    info->dev = *d;
    info->superspeed = d->bcd_usb >= 0x0300;
    tr_usb_loc loc;
    if (!tr_usb_loc_parse(d->location, &loc))
        return;
    tr_hubh hub;
    tr_err he;
    tr_err_clear(&he);
    if (tr_hubh_open(s, &loc, &hub, &he) < 0) {
        /* hubh_open got the whole message; keep the head of it (the fix is
         * printed once at the end of the table). */
        info->perm_denied = he.code == TR_E_PERM;
        char *fix = strstr(he.msg, ". Fix:");
        if (fix)
            *fix = '\0';
        snprintf(info->problem, sizeof info->problem, "%s", he.msg);
        return;
    }
    info->have_desc = true;
    info->desc = hub.desc;
    info->have_container_id = tr_hubh_container_id(&hub, info->container_id);
    fill_ports(&hub, info, all);
    tr_hubh_release(&hub);
}

static void pair_companions(tr_hub_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        tr_hub_info *a = &l->hubs[i];
        tr_usb_loc la, lb;
        if (!tr_usb_loc_parse(a->dev.location, &la))
            continue;
        int best = -1;
        for (size_t j = 0; j < l->n; j++) {
            tr_hub_info *b = &l->hubs[j];
            if (i == j || !tr_usb_loc_parse(b->dev.location, &lb))
                continue;
            int score = tr_companion_score(&la, a->superspeed, a->have_desc ? &a->desc : NULL,
                                           a->have_container_id, a->container_id, a->dev.serial,
                                           &lb, b->superspeed, b->have_desc ? &b->desc : NULL,
                                           b->have_container_id, b->container_id, b->dev.serial);
            if (score > best) {
                best = score;
                snprintf(a->companion, sizeof a->companion, "%s", b->dev.location);
            }
        }
    }
}

static int build_devtable(tr_usbsess *s, devtable *t, tr_err *e)
{
    memset(t, 0, sizeof *t);
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s->ctx, &list);
    if (n < 0)
        return tr_usb_fail(e, (int)n, "listing USB devices");
    t->devs = calloc((size_t)n + 1, sizeof *t->devs);
    if (!t->devs) {
        libusb_free_device_list(list, 1);
        return tr_fail(e, TR_E_NOMEM, "out of memory listing USB devices");
    }
    for (ssize_t i = 0; i < n; i++)
        if (tr_usbdev_describe(list[i], &t->devs[t->n]))
            t->n++;
    libusb_free_device_list(list, 1);
    return 0;
}

int tr_hubs_discover(tr_hub_list *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    tr_usbsess s;
    int rc = tr_usbsess_open(&s, NULL, e);
    if (rc < 0)
        return rc;
    devtable all;
    if (build_devtable(&s, &all, e) < 0) {
        tr_usbsess_close(&s);
        return -1;
    }
    size_t nhubs = 0;
    for (size_t i = 0; i < all.n; i++)
        nhubs += all.devs[i].device_class == LIBUSB_CLASS_HUB;
    if (nhubs == 0) {
        tr_fail(e, TR_E_RIG, "no USB hubs found: %zu USB device%s, none of them a hub", all.n,
                all.n == 1 ? "" : "s");
        free(all.devs);
        tr_usbsess_close(&s);
        return TR_HUBS_NONE;
    }
    out->hubs = calloc(nhubs, sizeof *out->hubs);
    if (!out->hubs) {
        free(all.devs);
        tr_usbsess_close(&s);
        return tr_fail(e, TR_E_NOMEM, "out of memory listing hubs");
    }
    for (size_t i = 0; i < all.n; i++)
        if (all.devs[i].device_class == LIBUSB_CLASS_HUB)
            describe_hub(&s, &all.devs[i], &out->hubs[out->n++], &all);
    free(all.devs);
    tr_usbsess_close(&s);
    qsort(out->hubs, out->n, sizeof *out->hubs, cmp_hub);
    pair_companions(out);
    return 0;
}

void tr_hub_list_free(tr_hub_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->hubs[i].ports);
    free(l->hubs);
    l->hubs = NULL;
    l->n = 0;
}

const tr_hub_info *tr_hub_list_find(const tr_hub_list *l, const char *location)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->hubs[i].dev.location, location))
            return &l->hubs[i];
    return NULL;
}

static void print_hub(FILE *out, const tr_hub_info *h)
{
    fprintf(out, "hub %-12s %04x:%04x  USB %x.%02x  %s", h->dev.location, h->dev.vid, h->dev.pid,
            h->dev.bcd_usb >> 8, h->dev.bcd_usb & 0xFF, h->superspeed ? "SuperSpeed" : "USB 2");
    if (h->have_desc)
        fprintf(out, "  %u port%s  power switching: %s%s", h->desc.nports,
                h->desc.nports == 1 ? "" : "s", tr_power_switching_name(h->desc.switching),
                h->desc.switching == TR_PWR_GANGED && h->desc.nports == 1 ? " (1 port: per-port)" : "");
    if (h->companion[0])
        fprintf(out, "  companion %s", h->companion);
    if (h->dev.serial[0])
        fprintf(out, "  serial %s", h->dev.serial);
    fputc('\n', out);
    if (h->problem[0])
        fprintf(out, "    ! %s\n", h->problem);
    for (int p = 0; p < h->nports; p++) {
        const tr_hub_port *hp = &h->ports[p];
        char st[96] = "?";
        if (hp->have_status)
            tr_port_status_describe(&hp->status, st, sizeof st);
        fprintf(out, "    port %-3d %-40s", hp->port, st);
        if (hp->has_device)
            fprintf(out, " %04x:%04x bus %d address %d%s%s", hp->dev.vid, hp->dev.pid, hp->dev.bus,
                    hp->dev.address, hp->dev.serial[0] ? " serial " : "", hp->dev.serial);
        fputc('\n', out);
    }
}

int tr_hubs_print(FILE *out, tr_err *e)
{
    tr_hub_list l;
    int rc = tr_hubs_discover(&l, e);
    if (rc < 0)
        return rc;
    bool denied = false;
    for (size_t i = 0; i < l.n; i++) {
        print_hub(out, &l.hubs[i]);
        denied |= l.hubs[i].perm_denied;
    }
    tr_hub_list_free(&l);
    if (denied)
        return tr_fail(e, TR_E_PERM, "some hubs could not be opened (marked '!'). Fix: %s",
                       tr_usbhub_udev_fix());
    return 0;
}

/* ---- device lookup ------------------------------------------------------------------------------ */

static int open_for_lookup(tr_usbsess *s, tr_err *e)
{
    /* "no bus" is a plain rig error for callers (-1, TR_E_RIG). */
    return tr_usbsess_open(s, "cannot look up USB devices", e) < 0 ? -1 : 0;
}

int tr_usb_device_on_port(const char *hub_location, int port, tr_usb_dev *out, tr_err *e)
{
    tr_usb_loc hub, child;
    if (!tr_usb_loc_parse(hub_location, &hub))
        return tr_fail(e, TR_E_CONFIG, "'%s' is not a USB location (bus-port.port..., e.g. 1-1.4)",
                       hub_location ? hub_location : "");
    if (!tr_usb_loc_child(&hub, port, &child))
        return tr_fail(e, TR_E_CONFIG, "port %d of hub %s: ports are 1..255 and hubs nest 7 deep",
                       port, hub_location);
    tr_usbsess s;
    if (open_for_lookup(&s, e) < 0)
        return -1;
    tr_usb_dev scratch;
    int found = tr_usbsess_device_at(&s, &child, 1, out ? out : &scratch);
    tr_usbsess_close(&s);
    if (found < 0)
        return tr_usb_fail(e, found, "listing USB devices");
    return found;
}

int tr_usb_device_by_address(int bus, int address, tr_usb_dev *out, tr_err *e)
{
    tr_usbsess s;
    if (open_for_lookup(&s, e) < 0)
        return -1;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(s.ctx, &list);
    if (n < 0) {
        tr_usbsess_close(&s);
        return tr_usb_fail(e, (int)n, "listing USB devices");
    }
    int found = 0;
    for (ssize_t i = 0; i < n && !found; i++)
        if (libusb_get_bus_number(list[i]) == bus && libusb_get_device_address(list[i]) == address)
            found = tr_usbdev_describe(list[i], out) ? 1 : 0;
    libusb_free_device_list(list, 1);
    tr_usbsess_close(&s);
    return found;
}
