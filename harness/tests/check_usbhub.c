/* check_usbhub.c — hub descriptor / port status decoding, USB locations,
 * channel ids (pure), and the hub layer against simulated hubs. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/usbdevice_fs.h>

#include <umockdev.h>

#include "hubdesc.h"
#include "run.h"
#include "usbhub.h"
#include "util.h"

/* ---- hub descriptor ---------------------------------------------------- */

START_TEST(hub_desc_usb2_per_port)
{
    /* 4 ports, wHubCharacteristics 0x00A9: per-port power (01), compound
     * bit clear, per-port over-current (01), TT think time, indicators. */
    const uint8_t d[] = {0x09, 0x29, 0x04, 0xA9, 0x00, 0x32, 0x64, 0x00, 0xFF};
    tr_hub_desc h;
    tr_err e;
    tr_err_clear(&e);
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), 0);
    ck_assert_int_eq(h.nports, 4);
    ck_assert_int_eq(h.switching, TR_PWR_PER_PORT);
    ck_assert(tr_hub_desc_per_port(&h));
    ck_assert(!h.compound);
    ck_assert_int_eq(h.overcurrent_mode, 1);
    ck_assert_uint_eq(h.power_good_ms, 100);
    ck_assert_uint_eq(h.characteristics, 0x00A9);
    ck_assert_str_eq(tr_power_switching_name(h.switching), "per-port");
}
END_TEST

START_TEST(hub_desc_modes)
{
    uint8_t d[] = {0x09, 0x29, 0x07, 0x00, 0x00, 0x32, 0x64, 0x00, 0xFF};
    tr_hub_desc h;
    static const tr_power_switching want[4] = {TR_PWR_GANGED, TR_PWR_PER_PORT, TR_PWR_NONE, TR_PWR_NONE};
    for (unsigned lpsm = 0; lpsm < 4; lpsm++) {
        d[3] = (uint8_t)(0x04 | lpsm); /* compound bit set too */
        ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, NULL), 0);
        ck_assert_int_eq(h.switching, want[lpsm]);
        ck_assert(h.compound);
        ck_assert(tr_hub_desc_per_port(&h) == (lpsm == 1));
    }
    /* a 1-port ganged hub: the gang is that port */
    d[2] = 1;
    d[3] = 0;
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, NULL), 0);
    ck_assert_int_eq(h.switching, TR_PWR_GANGED);
    ck_assert(tr_hub_desc_per_port(&h));
}
END_TEST

START_TEST(hub_desc_superspeed)
{
    const uint8_t d[] = {0x0C, 0x2A, 0x04, 0x09, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    tr_hub_desc h;
    tr_err e;
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, true, &h, &e), 0);
    ck_assert(h.superspeed);
    ck_assert_int_eq(h.nports, 4);
    ck_assert_int_eq(h.switching, TR_PWR_PER_PORT);
    /* the same bytes are not a USB 2 hub descriptor */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    /* SuperSpeed hubs have at most 15 ports */
    uint8_t big[12];
    memcpy(big, d, sizeof big);
    big[2] = 16;
    ck_assert_int_eq(tr_hub_desc_parse(big, sizeof big, true, &h, &e), -1);
    /* an 11-byte SuperSpeed descriptor is short */
    ck_assert_int_eq(tr_hub_desc_parse(d, 11, true, &h, &e), -1);
}
END_TEST

START_TEST(hub_desc_rejects_bad)
{
    tr_hub_desc h;
    tr_err e;
    tr_err_clear(&e);
    const uint8_t ok[] = {0x09, 0x29, 0x04, 0x01, 0x00, 0x32, 0x64, 0x00, 0xFF};
    ck_assert_int_eq(tr_hub_desc_parse(NULL, 0, false, &h, &e), -1);
    ck_assert_int_eq(tr_hub_desc_parse(ok, 1, false, &h, &e), -1);
    ck_assert_int_eq(tr_hub_desc_parse(ok, 6, false, &h, &e), -1);   /* short read */
    ck_assert_int_eq(tr_hub_desc_parse(ok, 7, false, &h, &e), -1);   /* no DeviceRemovable */
    ck_assert_int_eq(e.code, TR_E_RIG);
    uint8_t d[sizeof ok];
    memcpy(d, ok, sizeof d);
    d[0] = 5; /* bLength below the fixed part */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), -1);
    memcpy(d, ok, sizeof d);
    d[2] = 0; /* zero ports */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), -1);
    memcpy(d, ok, sizeof d);
    d[2] = 200; /* 200 ports need 26 bitmap bytes, not 2 */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), -1);
    memcpy(d, ok, sizeof d);
    d[0] = 0xFF; /* claims more than it sent: only received bytes count */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), 0);
    memcpy(d, ok, sizeof d);
    d[1] = 0x02; /* a configuration descriptor */
    ck_assert_int_eq(tr_hub_desc_parse(d, sizeof d, false, &h, &e), -1);
}
END_TEST

/* Every length and a sweep of garbage: no crash, no out-of-bounds read (the
 * buffer is exactly the length given, so ASan sees any overrun). */
START_TEST(hub_desc_garbage_never_crashes)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 80);
        uint8_t *buf = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        if (len >= 2 && round % 3 == 0)
            buf[1] = (round & 1) ? 0x29 : 0x2A;
        if (len >= 2 && round % 5 == 0)
            buf[1] = 0x0F;
        tr_hub_desc h;
        tr_port_status st;
        uint8_t id[16];
        if (tr_hub_desc_parse(buf, len, round & 1, &h, NULL) == 0)
            ck_assert(h.nports >= 1);
        (void)tr_port_status_parse(buf, len, round & 1, &st, NULL);
        (void)tr_bos_total_length(buf, len);
        (void)tr_bos_container_id(buf, len, id);
        free(buf);
    }
}
END_TEST

/* ---- port status ------------------------------------------------------- */

START_TEST(port_status_usb2_bits)
{
    tr_port_status s;
    char line[128];
    /* 0x0503: power, high speed, enable, connect; change: c_connect */
    const uint8_t b[4] = {0x03, 0x05, 0x01, 0x00};
    ck_assert_int_eq(tr_port_status_parse(b, 4, false, &s, NULL), 0);
    ck_assert(s.connected && s.enabled && s.powered && s.high_speed);
    ck_assert(!s.low_speed && !s.suspended && !s.over_current && !s.reset);
    ck_assert_uint_eq(s.change, 0x0001);
    ck_assert_str_eq(tr_port_status_describe(&s, line, sizeof line),
                     "0503 power highspeed enable connect [ c_connect ]");
    /* each single bit */
    struct { uint16_t w; size_t off; } bits[] = {
        {0x0001, offsetof(tr_port_status, connected)}, {0x0002, offsetof(tr_port_status, enabled)},
        {0x0004, offsetof(tr_port_status, suspended)}, {0x0008, offsetof(tr_port_status, over_current)},
        {0x0010, offsetof(tr_port_status, reset)},     {0x0100, offsetof(tr_port_status, powered)},
        {0x0200, offsetof(tr_port_status, low_speed)}, {0x0400, offsetof(tr_port_status, high_speed)},
        {0x0800, offsetof(tr_port_status, test_mode)}, {0x1000, offsetof(tr_port_status, indicator)},
    };
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        tr_port_status_decode(bits[i].w, 0, false, &s);
        int set = 0;
        for (size_t j = 0; j < sizeof bits / sizeof bits[0]; j++)
            set += *(const bool *)((const char *)&s + bits[j].off);
        ck_assert_int_eq(set, 1);
        ck_assert(*(const bool *)((const char *)&s + bits[i].off));
    }
    /* powered off, nothing attached */
    tr_port_status_decode(0x0000, 0, false, &s);
    ck_assert(!s.powered && !s.connected);
    ck_assert_str_eq(tr_port_status_describe(&s, line, sizeof line), "0000 off");
}
END_TEST

START_TEST(port_status_usb3_bits)
{
    tr_port_status s;
    char line[128];
    /* 0x0203: power (bit 9), link U0, 5 Gbps, enable, connect */
    tr_port_status_decode(0x0203, 0, true, &s);
    ck_assert(s.powered && s.connected && s.enabled);
    ck_assert_int_eq(s.link_state, 0);
    ck_assert(!s.low_speed && !s.high_speed); /* bits 9/10 mean other things on USB 3 */
    ck_assert_str_eq(tr_port_status_describe(&s, line, sizeof line), "0203 power 5gbps U0 enable connect");
    /* 0x02A0: power, Rx.Detect (5 << 5), nothing connected */
    tr_port_status_decode(0x02A0, 0, true, &s);
    ck_assert(s.powered && !s.connected);
    ck_assert_int_eq(s.link_state, 5);
    ck_assert_str_eq(tr_port_status_describe(&s, line, sizeof line), "02a0 power Rx.Detect");
    /* bit 8 is part of the link state on USB 3, not power */
    tr_port_status_decode(0x0100, 0, true, &s);
    ck_assert(!s.powered);
    ck_assert_int_eq(s.link_state, 8);
    /* U3 is suspended */
    tr_port_status_decode(0x0263, 0, true, &s);
    ck_assert(s.suspended);
    ck_assert_str_eq(tr_usb3_link_state_name(15), "?");
    /* the same word decoded as USB 2: bit 9 is low speed, no power */
    tr_port_status_decode(0x0203, 0, false, &s);
    ck_assert(!s.powered && s.low_speed);
}
END_TEST

START_TEST(port_status_length_and_truncation)
{
    tr_port_status s;
    tr_err e;
    const uint8_t b[5] = {0x03, 0x05, 0x1F, 0x00, 0x00};
    ck_assert_int_eq(tr_port_status_parse(b, 3, false, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_int_eq(tr_port_status_parse(b, 5, false, &s, &e), -1);
    ck_assert_int_eq(tr_port_status_parse(NULL, 4, false, &s, &e), -1);
    ck_assert_int_eq(tr_port_status_parse(b, 4, false, &s, &e), 0);
    char full[128], small[9];
    tr_port_status_describe(&s, full, sizeof full);
    ck_assert_str_eq(full, "0503 power highspeed enable connect [ c_connect c_enable c_suspend c_oc c_reset ]");
    tr_port_status_describe(&s, small, sizeof small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert(strncmp(full, small, sizeof small - 1) == 0);
    char one[1] = {'x'};
    tr_port_status_describe(&s, one, sizeof one);
    ck_assert_int_eq(one[0], '\0');
}
END_TEST

/* ---- BOS / container id -------------------------------------------------- */

static size_t make_bos(uint8_t *b, bool with_cid)
{
    size_t n = 0;
    const uint8_t hdr[5] = {0x05, 0x0F, 0, 0, with_cid ? 2 : 1};
    memcpy(b, hdr, 5);
    n = 5;
    const uint8_t ext[7] = {0x07, 0x10, 0x02, 0x02, 0x00, 0x00, 0x00}; /* USB 2.0 extension */
    memcpy(b + n, ext, 7);
    n += 7;
    if (with_cid) {
        b[n++] = 20;
        b[n++] = 0x10;
        b[n++] = 0x04;
        b[n++] = 0x00;
        for (int i = 0; i < 16; i++)
            b[n++] = (uint8_t)(0xA0 + i);
    }
    b[2] = (uint8_t)n;
    b[3] = 0;
    return n;
}

START_TEST(bos_container_id)
{
    uint8_t b[64], id[16];
    size_t n = make_bos(b, true);
    ck_assert_int_eq(tr_bos_total_length(b, 5), (int)n);
    ck_assert(tr_bos_container_id(b, n, id));
    ck_assert_int_eq(id[0], 0xA0);
    ck_assert_int_eq(id[15], 0xAF);
    /* truncated anywhere inside the capability: not found, no overrun */
    for (size_t cut = 0; cut < n; cut++)
        ck_assert(!tr_bos_container_id(b, cut, id));
    n = make_bos(b, false);
    ck_assert(!tr_bos_container_id(b, n, id));
    /* a capability claiming bLength 0 would loop forever: refused */
    n = make_bos(b, true);
    b[5] = 0;
    ck_assert(!tr_bos_container_id(b, n, id));
    /* a short container id capability */
    n = make_bos(b, true);
    b[12] = 19;
    ck_assert(!tr_bos_container_id(b, n, id));
    /* not a BOS */
    n = make_bos(b, true);
    b[1] = 0x02;
    ck_assert_int_eq(tr_bos_total_length(b, n), -1);
    ck_assert(!tr_bos_container_id(b, n, id));
}
END_TEST

/* ---- locations ------------------------------------------------------------- */

START_TEST(usb_location_parse_format)
{
    tr_usb_loc l, c;
    char buf[TR_USB_LOC_MAX];
    ck_assert(tr_usb_loc_parse("1-1.4", &l));
    ck_assert_int_eq(l.bus, 1);
    ck_assert_int_eq(l.nports, 2);
    ck_assert_int_eq(l.ports[1], 4);
    ck_assert(tr_usb_loc_format(&l, buf, sizeof buf));
    ck_assert_str_eq(buf, "1-1.4");
    ck_assert(tr_usb_loc_child(&l, 2, &c));
    ck_assert(tr_usb_loc_format(&c, buf, sizeof buf));
    ck_assert_str_eq(buf, "1-1.4.2");
    ck_assert(tr_usb_loc_parse("3", &l));
    ck_assert_int_eq(l.nports, 0);
    ck_assert(tr_usb_loc_sysfs_name(&l, buf, sizeof buf));
    ck_assert_str_eq(buf, "usb3");
    ck_assert(tr_usb_loc_child(&l, 7, &c));
    ck_assert(tr_usb_loc_format(&c, buf, sizeof buf));
    ck_assert_str_eq(buf, "3-7");
    ck_assert(tr_usb_loc_parse("255-255.255.255.255.255.255.255", &l));
    ck_assert(tr_usb_loc_format(&l, buf, sizeof buf));
    ck_assert_str_eq(buf, "255-255.255.255.255.255.255.255");
    ck_assert(!tr_usb_loc_child(&l, 1, &c)); /* deeper than 7 */
    char tiny[4];
    ck_assert(!tr_usb_loc_format(&l, tiny, sizeof tiny));
    ck_assert_str_eq(tiny, "");
    static const char *const bad[] = {
        "", "0", "256", "1-", "1-0", "1-1.", "1.1", "1-1-2", "1-1..2", " 1-1", "1-1 ",
        "01-1", "1-+1", "1-1.2.3.4.5.6.7.8", "1-1000", "a-1", "1-1:1.0", NULL,
    };
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(!tr_usb_loc_parse(bad[i], &l), "accepted '%s'", bad[i]);
    ck_assert(!tr_usb_loc_parse(NULL, &l));
    tr_usb_loc a, b;
    ck_assert(tr_usb_loc_parse("1-1.4", &a) && tr_usb_loc_parse("2-1.4", &b));
    ck_assert(tr_usb_loc_same_chain(&a, &b));
    ck_assert(!tr_usb_loc_equal(&a, &b));
}
END_TEST

START_TEST(channel_id_mapping)
{
    int bus = -1, addr = -1;
    ck_assert(tr_channel_id_to_usb(0x00200307u, &bus, &addr));
    ck_assert_int_eq(bus, 3);
    ck_assert_int_eq(addr, 7);
    ck_assert_uint_eq(tr_usb_to_channel_id(3, 7), 0x00200307u);
    bus = addr = -1;
    /* not USB (serial reader 0x0001, vpcd-style), high word wrong */
    ck_assert(!tr_channel_id_to_usb(0x00010307u, &bus, &addr));
    ck_assert(!tr_channel_id_to_usb(0x01200307u, &bus, &addr));
    ck_assert(!tr_channel_id_to_usb(0x00000000u, &bus, &addr));
    ck_assert(!tr_channel_id_to_usb(0x00200007u, &bus, &addr)); /* bus 0 */
    ck_assert(!tr_channel_id_to_usb(0x00200300u, &bus, &addr)); /* address 0 */
    ck_assert(!tr_channel_id_to_usb(0x00200380u, &bus, &addr)); /* address 128 */
    ck_assert_int_eq(bus, -1);
    ck_assert_int_eq(addr, -1);
    for (int b = 1; b < 256; b++)
        for (int a = 1; a < 128; a++) {
            ck_assert(tr_channel_id_to_usb(tr_usb_to_channel_id(b, a), &bus, &addr));
            ck_assert(bus == b && addr == a);
        }
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("usbhub-decode");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, hub_desc_usb2_per_port);
    tcase_add_test(tc, hub_desc_modes);
    tcase_add_test(tc, hub_desc_superspeed);
    tcase_add_test(tc, hub_desc_rejects_bad);
    tcase_add_test(tc, hub_desc_garbage_never_crashes);
    tcase_add_test(tc, port_status_usb2_bits);
    tcase_add_test(tc, port_status_usb3_bits);
    tcase_add_test(tc, port_status_length_and_truncation);
    tcase_add_test(tc, bos_container_id);
    tcase_add_test(tc, usb_location_parse_format);
    tcase_add_test(tc, channel_id_mapping);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== simulated hubs (umockdev) ==========================================
 *
 * A model of USB 2.0 §11.24 hubs behind umockdev's testbed: each hub is a
 * usbfs device node whose ioctls (USBDEVFS_SUBMITURB/REAPURB, how libusb
 * sends control transfers on Linux) are answered here: GET_DESCRIPTOR(hub),
 * GET_DESCRIPTOR(BOS), GET_STATUS(port), SET/CLEAR_FEATURE(PORT_POWER). A
 * hub port that loses power removes its token from the testbed (the kernel's
 * disconnect); power back re-adds it at a new address. Physical VBUS is
 * tracked per token: a USB 3 hub's two halves share it, so a token only
 * really power-cycles when both halves are switched. The sysfs `disable`
 * files behave like the kernel's: writing 1/0 switches the port (checked
 * synchronously on every hub request, and by an inotify watcher so a token
 * leaves even when nobody asks the hub).
 */

#define SIM_MAX_HUBS 8
#define SIM_MAX_PORTS 8
#define SIM_MAX_BUS 8

typedef struct sim sim;

typedef struct {
    bool plugged;             /* a token is in this physical port */
    bool usb3;                /* enumerates on the SuperSpeed half when it can */
    uint16_t vid, pid;
    char serial[32];
    bool vbus;                /* powered now */
    int power_ons;            /* VBUS off -> on transitions: real power cycles */
    int enumerations;         /* times it appeared on a bus */
    int on_hub;               /* hub index it is enumerated on, -1 none */
    int bus, addr;
    char syspath[192];        /* "/sys/devices/..." while enumerated */
} sim_token;

typedef struct {
    sim *owner;
    int idx;
    char name[24];            /* sysfs name: "usb1", "1-1" */
    char syspath[160];        /* "/sys/devices/usb1/1-1" */
    int bus, addr;
    int group;                /* physical hub: both halves of a USB 3 hub share it */
    bool ss;
    uint16_t vid, pid, chars;
    int nports;
    bool has_cid;
    uint8_t cid[16];
    char serial[32];
    bool lies;                /* takes CLEAR_FEATURE, keeps power */
    bool kernel_repowers;     /* a "kernel" powers libusb-switched ports back on */
    bool garbage_desc;        /* answers its hub descriptor with 3 junk bytes */
    bool sysfs_disable;       /* has <name>:1.0/<name>-portN/disable */
    bool port_power[SIM_MAX_PORTS + 1];
    char disable_seen[SIM_MAX_PORTS + 1]; /* last content applied from sysfs */
    int child_hub[SIM_MAX_PORTS + 1];     /* hub index on that port, -1 none */
    int set_feature, clear_feature;       /* PORT_POWER requests received */
    UMockdevIoctlBase *handler;
    GList *urbs;              /* (client, urb) pairs waiting to be reaped */
} sim_hub;

typedef struct {
    UMockdevIoctlClient *client;
    UMockdevIoctlData *urb;
} sim_urb;

struct sim {
    UMockdevTestbed *tb;
    char *root;
    pthread_mutex_t mu;
    sim_hub hubs[SIM_MAX_HUBS];
    int nhubs;
    sim_token tokens[SIM_MAX_HUBS][SIM_MAX_PORTS + 1]; /* [group][port] */
    int next_addr[SIM_MAX_BUS];
    int inotify_fd, stop_pipe[2];
    pthread_t watcher;
    bool watching;
    pthread_t repower;
    bool repower_started;
    bool caps_dropped;
    struct __user_cap_data_struct caps[2]; /* to restore (CK_FORK=no runs) */
};

static sim S;

/* ---- descriptors ---- */

static void hex_append(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t pos = strlen(out);
    for (size_t i = 0; i < n && pos + 3 < cap; i++, pos += 2)
        snprintf(out + pos, cap - pos, "%02x", b[i]);
}

/* sysfs "descriptors": device descriptor + one configuration. */
static void make_descriptors(char *out, size_t cap, uint16_t bcd, uint8_t cls, uint16_t vid,
                             uint16_t pid, bool ss)
{
    uint8_t proto = cls == 9 ? (ss ? 3 : 1) : 0;
    const uint8_t dev[18] = {18, 1, (uint8_t)bcd, (uint8_t)(bcd >> 8), cls, 0, proto,
                             ss ? 9 : 64, (uint8_t)vid, (uint8_t)(vid >> 8), (uint8_t)pid,
                             (uint8_t)(pid >> 8), 0x00, 0x01, 1, 2, 3, 1};
    uint8_t ifcls = cls == 9 ? 9 : 0x0B; /* hub, or CCID */
    uint8_t neps = cls == 9 ? 1 : 0;
    uint8_t total = (uint8_t)(9 + 9 + 7 * neps);
    const uint8_t cfg[9] = {9, 2, total, 0, 1, 1, 0, 0xE0, 50};
    const uint8_t itf[9] = {9, 4, 0, 0, neps, ifcls, 0, 0, 0};
    const uint8_t ep[7] = {7, 5, 0x81, 3, 2, 0, 12};
    out[0] = '\0';
    hex_append(out, cap, dev, sizeof dev);
    hex_append(out, cap, cfg, sizeof cfg);
    hex_append(out, cap, itf, sizeof itf);
    if (neps)
        hex_append(out, cap, ep, sizeof ep);
}

/* ---- testbed devices ---- */

static void add_from_string(const char *text)
{
    GError *err = NULL;
    gboolean ok = umockdev_testbed_add_from_string(S.tb, text, &err);
    ck_assert_msg(ok, "umockdev: %s", err ? err->message : "?");
}

static void sim_node(int bus, int addr, char *out, size_t cap)
{
    snprintf(out, cap, "/dev/bus/usb/%03d/%03d", bus, addr);
}

/* Port files of a hub, like the kernel's usb_port devices. */
static void sim_add_hub_interface(sim_hub *h)
{
    char text[2048], ifname[48];
    if (strncmp(h->name, "usb", 3) == 0)
        snprintf(ifname, sizeof ifname, "%d-0:1.0", h->bus);
    else
        snprintf(ifname, sizeof ifname, "%s:1.0", h->name);
    int n = snprintf(text, sizeof text,
                     "P: %s/%s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nE: DRIVER=hub\n"
                     "A: bInterfaceClass=09\\n\n",
                     h->syspath + 4, ifname);
    for (int p = 1; p <= h->nports && h->sysfs_disable; p++)
        n += snprintf(text + n, sizeof text - (size_t)n, "A: %s-port%d/disable=0\\n\n", h->name, p);
    add_from_string(text);
}

static int sim_add_hub(const char *name, const char *parent, int bus, int group, bool ss,
                       uint16_t bcd, uint16_t vid, uint16_t pid, uint16_t chars, int nports)
{
    ck_assert_int_lt(S.nhubs, SIM_MAX_HUBS);
    sim_hub *h = &S.hubs[S.nhubs];
    memset(h, 0, sizeof *h);
    h->owner = &S;
    h->idx = S.nhubs;
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->syspath, sizeof h->syspath, "%s/%s", parent ? parent : "/sys/devices", name);
    h->bus = bus;
    h->addr = ++S.next_addr[bus];
    h->group = group;
    h->ss = ss;
    h->vid = vid;
    h->pid = pid;
    h->chars = chars;
    h->nports = nports;
    for (int p = 0; p <= SIM_MAX_PORTS; p++) {
        h->port_power[p] = true;
        h->child_hub[p] = -1;
        h->disable_seen[p] = '0';
    }
    S.nhubs++;
    (void)bcd;
    return h->idx;
}

/* Second step, after the caller set flags (cid, serial, sysfs...). */
static void sim_plug_hub(int idx, uint16_t bcd)
{
    sim_hub *h = &S.hubs[idx];
    char node[32], desc[256], text[2048];
    sim_node(h->bus, h->addr, node, sizeof node);
    GError *err = NULL;
    /* handler first: libusb may open the node as soon as it appears */
    ck_assert(umockdev_testbed_attach_ioctl(S.tb, node, h->handler, &err));
    make_descriptors(desc, sizeof desc, bcd, 9, h->vid, h->pid, h->ss);
    snprintf(text, sizeof text,
             "P: %s\nN: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
             "E: DEVNAME=%s\nE: BUSNUM=%03d\nE: DEVNUM=%03d\nA: busnum=%d\\n\nA: devnum=%d\\n\n"
             "A: speed=%s\\n\nA: bConfigurationValue=1\\n\nA: maxchild=%d\\n\n%s%s%s"
             "H: descriptors=%s\n",
             h->syspath + 4, node + 5, node, h->bus, h->addr, h->bus, h->addr,
             h->ss ? "5000" : "480", h->nports, h->serial[0] ? "A: serial=" : "", h->serial,
             h->serial[0] ? "\\n\n" : "", desc);
    add_from_string(text);
    sim_add_hub_interface(h);
}

/* ---- the physical model ---- */

static void token_location(const sim_hub *h, int port, char *name, size_t cap)
{
    if (strncmp(h->name, "usb", 3) == 0)
        snprintf(name, cap, "%d-%d", h->bus, port);
    else
        snprintf(name, cap, "%s.%d", h->name, port);
}

static void token_remove(sim_token *t)
{
    umockdev_testbed_uevent(S.tb, t->syspath, "remove"); /* 0.17.16 does not send it */
    umockdev_testbed_remove_device(S.tb, t->syspath);
    t->on_hub = -1;
    t->syspath[0] = '\0';
}

static void token_add(sim_token *t, sim_hub *h, int port)
{
    char name[32], node[32], desc[256], text[2048];
    token_location(h, port, name, sizeof name);
    t->bus = h->bus;
    t->addr = ++S.next_addr[h->bus];
    ck_assert_int_lt(t->addr, 128);
    snprintf(t->syspath, sizeof t->syspath, "%s/%s", h->syspath, name);
    sim_node(t->bus, t->addr, node, sizeof node);
    make_descriptors(desc, sizeof desc, h->ss ? 0x0300 : 0x0200, 0, t->vid, t->pid, h->ss);
    snprintf(text, sizeof text,
             "P: %s\nN: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
             "E: DEVNAME=%s\nA: busnum=%d\\n\nA: devnum=%d\\n\nA: speed=%s\\n\n"
             "A: bConfigurationValue=1\\n\nA: serial=%s\\n\nH: descriptors=%s\n",
             t->syspath + 4, node + 5, node, t->bus, t->addr, h->ss ? "5000" : "12", t->serial,
             desc);
    add_from_string(text);
    t->on_hub = h->idx;
    t->enumerations++;
}

/* The halves of physical hub `group`: [0] USB 2, [1] SuperSpeed (-1 none). */
static void group_halves(int group, int out[2])
{
    out[0] = out[1] = -1;
    for (int i = 0; i < S.nhubs; i++)
        if (S.hubs[i].group == group)
            out[S.hubs[i].ss ? 1 : 0] = i;
}

/* Re-evaluate one physical port after a power change. Caller holds S.mu. */
static void sim_apply(int group, int port)
{
    sim_token *t = &S.tokens[group][port];
    if (!t->plugged)
        return;
    int half[2];
    group_halves(group, half);
    bool p2 = half[0] >= 0 && port <= S.hubs[half[0]].nports && S.hubs[half[0]].port_power[port];
    bool p3 = half[1] >= 0 && port <= S.hubs[half[1]].nports && S.hubs[half[1]].port_power[port];
    bool vbus = p2 || p3; /* one VBUS switch per physical port */
    int where = -1;
    if (t->usb3 && p3)
        where = half[1];
    else if (p2)
        where = half[0];
    if (vbus && !t->vbus)
        t->power_ons++;
    t->vbus = vbus;
    if (where != t->on_hub) {
        if (t->on_hub >= 0)
            token_remove(t);
        if (where >= 0)
            token_add(t, &S.hubs[where], port);
    }
}

static void *repower_main(void *arg)
{
    sim_hub *h = arg;
    tr_sleep_ms(50); /* the simulated kernel notices the disconnect */
    pthread_mutex_lock(&S.mu);
    for (int p = 1; p <= h->nports; p++)
        if (!h->port_power[p]) {
            h->port_power[p] = true;
            sim_apply(h->group, p);
        }
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

/* A PORT_POWER feature request, from libusb or from the sysfs file. */
static void sim_port_power(sim_hub *h, int port, bool on, bool via_sysfs)
{
    if (on)
        h->set_feature++;
    else
        h->clear_feature++;
    if (h->lies)
        return;
    if ((h->chars & 3) == 0 && h->nports > 1) {
        /* ganged: VBUS is shared; only all ports off would cut it */
        bool all_off = !on;
        for (int p = 1; p <= h->nports && all_off; p++)
            all_off = p == port || !h->port_power[p];
        if (!all_off && !on)
            return;
    }
    h->port_power[port] = on;
    sim_apply(h->group, port);
    if (!on && !via_sysfs && h->kernel_repowers && !S.repower_started) {
        S.repower_started = true;
        pthread_create(&S.repower, NULL, repower_main, h);
    }
}

static void disable_file(const sim_hub *h, int port, char *out, size_t cap)
{
    if (strncmp(h->name, "usb", 3) == 0)
        snprintf(out, cap, "%s%s/%d-0:1.0/%s-port%d/disable", S.root, h->syspath, h->bus, h->name, port);
    else
        snprintf(out, cap, "%s%s/%s:1.0/%s-port%d/disable", S.root, h->syspath, h->name, h->name, port);
}

/* Apply what was written to the hub's disable files. Caller holds S.mu. */
static void sim_sync_sysfs(sim_hub *h)
{
    for (int p = 1; h->sysfs_disable && p <= h->nports; p++) {
        char path[512], c = 0;
        disable_file(h, p, path, sizeof path);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        if (read(fd, &c, 1) != 1)
            c = 0;
        close(fd);
        if ((c == '0' || c == '1') && c != h->disable_seen[p]) {
            h->disable_seen[p] = c;
            sim_port_power(h, p, c == '0', true);
        }
    }
}

static void *watcher_main(void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        struct pollfd pfd[2] = {{S.inotify_fd, POLLIN, 0}, {S.stop_pipe[0], POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        if (pfd[0].revents && read(S.inotify_fd, buf, sizeof buf) > 0) {
            pthread_mutex_lock(&S.mu);
            for (int i = 0; i < S.nhubs; i++)
                sim_sync_sysfs(&S.hubs[i]);
            pthread_mutex_unlock(&S.mu);
        }
    }
    return NULL;
}

static void sim_watch_sysfs(void)
{
    S.inotify_fd = inotify_init1(IN_CLOEXEC);
    ck_assert_int_ge(S.inotify_fd, 0);
    for (int i = 0; i < S.nhubs; i++)
        for (int p = 1; S.hubs[i].sysfs_disable && p <= S.hubs[i].nports; p++) {
            char path[512];
            disable_file(&S.hubs[i], p, path, sizeof path);
            ck_assert_int_ge(inotify_add_watch(S.inotify_fd, path, IN_CLOSE_WRITE), 0);
        }
    ck_assert_int_eq(pipe(S.stop_pipe), 0);
    ck_assert_int_eq(pthread_create(&S.watcher, NULL, watcher_main, NULL), 0);
    S.watching = true;
}

/* ---- control requests (USB 2.0 §9.4, §11.24.2) ---- */

static bool sim_port_connected(const sim_hub *h, int port)
{
    if (h->child_hub[port] >= 0)
        return true;
    const sim_token *t = &S.tokens[h->group][port];
    return t->plugged && t->on_hub == h->idx;
}

static uint16_t sim_port_status(const sim_hub *h, int port)
{
    bool conn = sim_port_connected(h, port);
    uint16_t w = 0;
    if (h->ss) {
        if (h->port_power[port])
            w |= 0x0200 | (conn ? 0x0003 : 5u << 5); /* U0 or Rx.Detect */
        else
            w |= 4u << 5; /* SS.Disabled */
    } else if (h->port_power[port]) {
        w |= 0x0100;
        if (conn)
            w |= 0x0003 | (h->child_hub[port] >= 0 ? 0x0400 : 0);
    }
    return w;
}

/* Answer one control transfer; returns bytes of data, or -1 to stall. */
static int sim_control(sim_hub *h, const uint8_t *setup, uint8_t *data, int max)
{
    uint8_t rt = setup[0], req = setup[1];
    uint16_t value = (uint16_t)(setup[2] | setup[3] << 8), index = (uint16_t)(setup[4] | setup[5] << 8);
    uint16_t len = (uint16_t)(setup[6] | setup[7] << 8);
    int room = len < max ? len : max;
    uint8_t reply[64];
    int n = -1;
    sim_sync_sysfs(h); /* the kernel's disable_store is synchronous */
    if (rt == 0xA0 && req == 6) {
        if ((value >> 8) != (h->ss ? 0x2A : 0x29))
            return -1;
        if (h->garbage_desc) {
            const uint8_t junk[3] = {0x29, 0x00, 0xFF};
            memcpy(reply, junk, sizeof junk);
            n = 3;
        } else if (h->ss) {
            const uint8_t d[12] = {12, 0x2A, (uint8_t)h->nports, (uint8_t)h->chars,
                                   (uint8_t)(h->chars >> 8), 50, 0, 0, 0, 0, 0, 0};
            memcpy(reply, d, sizeof d);
            n = 12;
        } else {
            const uint8_t d[9] = {9, 0x29, (uint8_t)h->nports, (uint8_t)h->chars,
                                  (uint8_t)(h->chars >> 8), 50, 100, 0, 0xFF};
            memcpy(reply, d, sizeof d);
            n = 9;
        }
    } else if (rt == 0x80 && req == 6 && (value >> 8) == 0x0F) {
        if (!h->has_cid)
            return -1;
        const uint8_t bos[5 + 20] = {5, 0x0F, 25, 0, 1, 20, 0x10, 0x04, 0};
        memcpy(reply, bos, sizeof bos);
        memcpy(reply + 9, h->cid, 16);
        n = 25;
    } else if (rt == 0xA3 && req == 0) {
        if (index < 1 || index > h->nports)
            return -1;
        uint16_t w = sim_port_status(h, index);
        const uint8_t st[4] = {(uint8_t)w, (uint8_t)(w >> 8), 0, 0};
        memcpy(reply, st, 4);
        n = 4;
    } else if (rt == 0x23 && (req == 1 || req == 3) && value == 8) {
        if (index < 1 || index > h->nports)
            return -1;
        sim_port_power(h, index, req == 3, false);
        return 0;
    } else {
        return -1;
    }
    if (n > room)
        n = room;
    memcpy(data, reply, (size_t)n);
    return n;
}

static gboolean sim_on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer arg)
{
    (void)base;
    sim_hub *h = arg;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *io = umockdev_ioctl_client_get_arg(client);
    if (req == USBDEVFS_GET_CAPABILITIES) {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(io, 0, sizeof(uint32_t), NULL);
        *(uint32_t *)d->data = 0;
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    }
    if (req == USBDEVFS_SUBMITURB) {
        UMockdevIoctlData *u = umockdev_ioctl_data_resolve(io, 0, sizeof(struct usbdevfs_urb), NULL);
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data;
        if (urb->type != USBDEVFS_URB_TYPE_CONTROL || urb->buffer_length < 8) {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            return TRUE;
        }
        UMockdevIoctlData *b = umockdev_ioctl_data_resolve(u, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                                           (size_t)urb->buffer_length, NULL);
        pthread_mutex_lock(&S.mu);
        int n = sim_control(h, b->data, b->data + 8, urb->buffer_length - 8);
        pthread_mutex_unlock(&S.mu);
        urb->actual_length = n > 0 ? n : 0;
        urb->status = n >= 0 ? 0 : -EPIPE;
        sim_urb *q = g_new0(sim_urb, 1);
        q->client = client;
        q->urb = g_object_ref(u);
        pthread_mutex_lock(&S.mu);
        h->urbs = g_list_append(h->urbs, q);
        pthread_mutex_unlock(&S.mu);
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    }
    if (req == USBDEVFS_REAPURB || req == USBDEVFS_REAPURBNDELAY) {
        sim_urb *q = NULL;
        pthread_mutex_lock(&S.mu);
        for (GList *l = h->urbs; l; l = l->next)
            if (((sim_urb *)l->data)->client == client) {
                q = l->data;
                h->urbs = g_list_delete_link(h->urbs, l);
                break;
            }
        pthread_mutex_unlock(&S.mu);
        if (!q) {
            umockdev_ioctl_client_complete(client, -1, EAGAIN);
            return TRUE;
        }
        UMockdevIoctlData *p = umockdev_ioctl_data_resolve(io, 0, sizeof(void *), NULL);
        umockdev_ioctl_data_set_ptr(p, 0, q->urb);
        umockdev_ioctl_client_complete(client, 0, 0);
        g_object_unref(q->urb);
        g_free(q);
        return TRUE;
    }
    umockdev_ioctl_client_complete(client, -1, ENOTTY);
    return TRUE;
}

/* ---- rigs ---- */

static void sim_setup(void)
{
    memset(&S, 0, sizeof S);
    pthread_mutex_init(&S.mu, NULL);
    S.tb = umockdev_testbed_new();
    ck_assert_ptr_nonnull(S.tb);
    S.root = umockdev_testbed_get_root_dir(S.tb);
    S.inotify_fd = S.stop_pipe[0] = S.stop_pipe[1] = -1;
}

static void sim_teardown(void)
{
    if (S.caps_dropped) {
        struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
        syscall(SYS_capset, &hdr, S.caps);
    }
    if (S.watching) {
        ck_assert_int_eq(write(S.stop_pipe[1], "x", 1), 1);
        pthread_join(S.watcher, NULL);
        close(S.stop_pipe[0]);
        close(S.stop_pipe[1]);
        close(S.inotify_fd);
    }
    if (S.repower_started)
        pthread_join(S.repower, NULL);
    for (int i = 0; i < S.nhubs; i++) {
        for (GList *l = S.hubs[i].urbs; l; l = l->next) {
            g_object_unref(((sim_urb *)l->data)->urb);
            g_free(l->data);
        }
        g_list_free(S.hubs[i].urbs);
        if (S.hubs[i].handler)
            g_object_unref(S.hubs[i].handler);
    }
    g_object_unref(S.tb);
    g_free(S.root);
    pthread_mutex_destroy(&S.mu);
}

/* Declare a hub (not yet on the bus): flags may be set before sim_plug. */
static int hub_decl(const char *name, const char *parent, int bus, int group, bool ss,
                    uint16_t vid, uint16_t pid, uint16_t chars, int nports)
{
    int i = sim_add_hub(name, parent, bus, group, ss, 0, vid, pid, chars, nports);
    sim_hub *h = &S.hubs[i];
    h->handler = umockdev_ioctl_base_new();
    g_signal_connect(h->handler, "handle-ioctl", G_CALLBACK(sim_on_ioctl), h);
    return i;
}

static void token_plug(int group, int port, bool usb3, uint16_t vid, uint16_t pid, const char *serial)
{
    sim_token *t = &S.tokens[group][port];
    memset(t, 0, sizeof *t);
    t->plugged = true;
    t->usb3 = usb3;
    t->vid = vid;
    t->pid = pid;
    t->on_hub = -1;
    snprintf(t->serial, sizeof t->serial, "%s", serial);
    pthread_mutex_lock(&S.mu);
    sim_apply(group, port);
    pthread_mutex_unlock(&S.mu);
    t->power_ons = 0; /* plugging in is not a power cycle */
}

/* Root hubs usb1 (USB 2, group 0) and usb2 (SuperSpeed, group 0), 2 ports
 * each, no container id (paired by the fallback rule). */
static void rig_roots(void)
{
    int r1 = hub_decl("usb1", NULL, 1, 0, false, 0x1d6b, 0x0002, 0x0001, 2);
    sim_plug_hub(r1, 0x0200);
    int r2 = hub_decl("usb2", NULL, 2, 0, true, 0x1d6b, 0x0003, 0x0001, 2);
    sim_plug_hub(r2, 0x0300);
}

static int find_hub(const char *name)
{
    for (int i = 0; i < S.nhubs; i++)
        if (!strcmp(S.hubs[i].name, name))
            return i;
    ck_abort_msg("no sim hub %s", name);
    return -1;
}

/* An external USB 2 hub on root port `rport` of usb1. */
static int rig_usb2_hub(int rport, int group, uint16_t chars, int nports)
{
    char name[16];
    snprintf(name, sizeof name, "1-%d", rport);
    int i = hub_decl(name, "/sys/devices/usb1", 1, group, false, 0x05e3, 0x0608, chars, nports);
    S.hubs[find_hub("usb1")].child_hub[rport] = i;
    return i;
}

/* A USB 3 hub on root port `rport`: USB 2 half 1-N, SuperSpeed half 2-N,
 * same container id. */
static void rig_usb3_hub(int rport, int group, bool with_cid, int *h2, int *h3)
{
    char n2[16], n3[16];
    snprintf(n2, sizeof n2, "1-%d", rport);
    snprintf(n3, sizeof n3, "2-%d", rport);
    *h2 = hub_decl(n2, "/sys/devices/usb1", 1, group, false, 0x2109, 0x2817, 0x00A9, 4);
    *h3 = hub_decl(n3, "/sys/devices/usb2", 2, group, true, 0x2109, 0x0817, 0x0009, 4);
    S.hubs[find_hub("usb1")].child_hub[rport] = *h2;
    S.hubs[find_hub("usb2")].child_hub[rport] = *h3;
    for (int k = 0; k < 2; k++) {
        sim_hub *h = &S.hubs[k ? *h3 : *h2];
        h->has_cid = with_cid;
        for (int b = 0; b < 16; b++)
            h->cid[b] = (uint8_t)(0x5C + b);
    }
    sim_plug_hub(*h2, 0x0210);
    sim_plug_hub(*h3, 0x0300);
}

static tr_hubport_spec spec_of(const char *hub, int port, const char *comp)
{
    tr_hubport_spec sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.hub, sizeof sp.hub, "%s", hub);
    sp.port = port;
    snprintf(sp.companion, sizeof sp.companion, "%s", comp ? comp : "");
    sp.gone_ms = 1500;
    sp.settle_ms = 200;
    return sp;
}

static char disable_value(int hub, int port)
{
    char path[512], c = 0;
    disable_file(&S.hubs[hub], port, path, sizeof path);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, &c, 1), 1);
    close(fd);
    return c;
}

/* ---- tests: sim ---- */

START_TEST(sim_per_port_cycle_libusb)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x00A9, 4);
    sim_plug_hub(h, 0x0200);
    token_plug(1, 2, false, 0x096e, 0x0807, "FT0001");
    tr_usb_dev d;
    tr_err e;
    tr_err_clear(&e);
    ck_assert_int_eq(tr_usb_device_on_port("1-1", 2, &d, &e), 1);
    ck_assert_str_eq(d.location, "1-1.2");
    ck_assert_str_eq(d.serial, "FT0001");
    int old_addr = d.address;

    tr_hubport_spec sp = spec_of("1-1", 2, "");
    tr_power_check pc;
    uint64_t t0 = tr_now_ns();
    ck_assert_msg(tr_hubport_cycle(&sp, 150, 3000, &pc, &e) == 0, "%s", e.msg);
    unsigned took = (unsigned)((tr_now_ns() - t0) / 1000000u);
    ck_assert_int_eq(pc.method, TR_POWER_VIA_LIBUSB);
    ck_assert_str_eq(pc.companion, "");
    ck_assert_int_eq(pc.switching, TR_PWR_PER_PORT);
    ck_assert(pc.have_before && pc.before.powered && pc.before.connected);
    ck_assert(pc.have_off && !pc.off.powered && !pc.off.connected);
    ck_assert(pc.have_on && pc.on.powered);
    ck_assert(pc.device_before && pc.device_gone && pc.device_back);
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    ck_assert_str_eq(tr_verify_level_name(pc.level), "device-gone");
    ck_assert_uint_ge(pc.off_ms, 150);
    ck_assert_uint_lt(took, 2500); /* event-driven: no fixed sleeps */
    ck_assert_str_eq(pc.dev_after.location, "1-1.2");
    ck_assert_str_eq(pc.dev_after.serial, "FT0001");
    ck_assert_int_ne(pc.dev_after.address, old_addr); /* re-enumerated */
    ck_assert_int_eq(pc.dev_before.address, old_addr);
    ck_assert_str_eq(pc.classification, "");
    ck_assert_int_eq(S.hubs[h].clear_feature, 1);
    ck_assert_int_eq(S.hubs[h].set_feature, 1);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 1); /* really power-cycled */
    /* the mapping a reader needs: channel id -> this device */
    int bus, addr;
    ck_assert(tr_channel_id_to_usb(tr_usb_to_channel_id(pc.dev_after.bus, pc.dev_after.address), &bus, &addr));
    ck_assert_int_eq(tr_usb_device_by_address(bus, addr, &d, &e), 1);
    ck_assert_str_eq(d.location, "1-1.2");
    ck_assert_int_eq(tr_usb_device_by_address(bus, old_addr, &d, &e), 0);
}
END_TEST

START_TEST(sim_power_off_on_and_status)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    sim_plug_hub(h, 0x0200);
    token_plug(1, 3, false, 0x096e, 0x0807, "FT0003");
    tr_hubport_spec sp = spec_of("1-1", 3, NULL);
    tr_err e;
    tr_hubport_state st;
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(st.powered && st.has_device && st.per_port);
    ck_assert_uint_eq(st.nports, 4);
    ck_assert_int_eq(st.method, TR_POWER_VIA_LIBUSB);
    ck_assert_str_eq(st.dev.serial, "FT0003");

    tr_power_check pc;
    ck_assert_msg(tr_hubport_power(&sp, false, &pc, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    ck_assert(pc.device_gone);
    ck_assert_msg(strstr(pc.detail, "device left the bus") != NULL, "%s", pc.detail);
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(!st.powered && !st.has_device);
    ck_assert_int_eq(tr_usb_device_on_port("1-1", 3, NULL, &e) == 0, 1);

    ck_assert_msg(tr_hubport_power(&sp, true, &pc, &e) == 0, "%s", e.msg);
    ck_assert(pc.on.powered && pc.device_back);
    ck_assert_str_eq(pc.dev_after.location, "1-1.3");
    /* an empty port powers off and is verified on the status bits only */
    tr_hubport_spec empty = spec_of("1-1", 4, NULL);
    ck_assert_msg(tr_hubport_power(&empty, false, &pc, &e) == 0, "%s", e.msg);
    ck_assert(!pc.device_before);
    ck_assert_int_eq(pc.level, TR_VERIFY_STATUS_BITS);
    /* errors: bad location, port beyond the hub, no hub there, not a hub */
    tr_hubport_spec bad = spec_of("1-1.", 1, NULL);
    ck_assert_int_eq(tr_hubport_power(&bad, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    bad = spec_of("1-1", 5, NULL);
    ck_assert_int_eq(tr_hubport_power(&bad, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, "4 ports") != NULL, "%s", e.msg);
    bad = spec_of("1-2", 1, NULL);
    ck_assert_int_eq(tr_hubport_power(&bad, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_msg(strstr(e.msg, "hubs on the bus: ") != NULL, "%s", e.msg);
    bad = spec_of("1-1.3", 1, NULL);
    ck_assert_int_eq(tr_hubport_power(&bad, false, &pc, &e), -1);
    ck_assert_msg(strstr(e.msg, "not a hub") != NULL, "%s", e.msg);
}
END_TEST

/* A run that died with a port switched off: the next session on the rig
 * finds the dead run's lease and switches every port back on, verified. */
START_TEST(sim_stale_lease_powers_ports_on)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    sim_plug_hub(h, 0x0200);
    token_plug(1, 3, false, 0x096e, 0x0807, "FT0003");
    tr_hubport_spec sp = spec_of("1-1", 3, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_msg(tr_hubport_power(&sp, false, &pc, &e) == 0, "%s", e.msg);

    tr_rig_session rs;
    memset(&rs, 0, sizeof rs);
    char name[40];
    snprintf(name, sizeof name, "stale-%d", (int)getpid());
    ck_assert_int_eq(tr_rig_single_reader("*", &rs.cfg, &e), 0);
    tr_strlcpy(rs.cfg.name, name, sizeof rs.cfg.name);
    tr_slot_cfg *slot = &rs.cfg.slots[0];
    slot->type = TR_SLOT_USB_HUB;
    tr_strlcpy(slot->hub, "1-1", sizeof slot->hub);
    slot->port = 3;
    /* the dead run's lease: its content stays, nobody holds the lock */
    char dir[64], lease[160];
    snprintf(dir, sizeof dir, "/tmp/tokenrig-%u", (unsigned)getuid());
    mkdir(dir, 0700);
    snprintf(lease, sizeof lease, "%s/rig-%s.lease", dir, name);
    FILE *f = fopen(lease, "w");
    ck_assert_ptr_nonnull(f);
    fputs("PID 999999, started 0\n", f);
    fclose(f);

    ck_assert_msg(tr_rig_session_open_cfg(&rs, &e) == 0, "%s", e.msg);
    tr_hubport_state st;
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(st.powered);
    ck_assert(st.has_device);
    tr_rig_session_close(&rs);
    ck_assert_int_eq(access(lease, F_OK), -1); /* released cleanly: nothing to recover next time */

    /* a clean start touches nothing */
    ck_assert_msg(tr_hubport_power(&sp, false, &pc, &e) == 0, "%s", e.msg);
    memset(&rs, 0, sizeof rs);
    ck_assert_int_eq(tr_rig_single_reader("*", &rs.cfg, &e), 0);
    tr_strlcpy(rs.cfg.name, name, sizeof rs.cfg.name);
    rs.cfg.slots[0].type = TR_SLOT_USB_HUB;
    tr_strlcpy(rs.cfg.slots[0].hub, "1-1", sizeof rs.cfg.slots[0].hub);
    rs.cfg.slots[0].port = 3;
    ck_assert_msg(tr_rig_session_open_cfg(&rs, &e) == 0, "%s", e.msg);
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(!st.powered);
    tr_rig_session_close(&rs);
}
END_TEST

START_TEST(sim_ganged_hub_refused)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0000, 4); /* ganged */
    sim_plug_hub(h, 0x0200);
    token_plug(1, 1, false, 0x096e, 0x0807, "G1");
    tr_hubport_spec sp = spec_of("1-1", 1, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_str_eq(pc.classification, TR_CLASS_HUB_NOT_PER_PORT);
    ck_assert_int_eq(pc.switching, TR_PWR_GANGED);
    ck_assert_msg(strstr(e.msg, "ganged") != NULL, "%s", e.msg);
    ck_assert_int_eq(tr_hubport_cycle(&sp, 100, 1000, &pc, &e), -1);
    ck_assert_int_eq(S.hubs[h].clear_feature, 0); /* refused before touching it */
    ck_assert_int_eq(S.tokens[1][1].power_ons, 0);
    tr_hubport_state st;
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(!st.per_port);
    ck_assert_int_eq(st.switching, TR_PWR_GANGED);
    /* power on is harmless and allowed */
    ck_assert_msg(tr_hubport_power(&sp, true, &pc, &e) == 0, "%s", e.msg);
}
END_TEST

START_TEST(sim_lying_hub_not_switched)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    S.hubs[h].lies = true;
    sim_plug_hub(h, 0x0200);
    token_plug(1, 2, false, 0x096e, 0x0807, "LIE1");
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_str_eq(pc.classification, TR_CLASS_PORT_NOT_SWITCHED);
    ck_assert_msg(strncmp(e.msg, "rig.port-not-switched", 21) == 0, "%s", e.msg);
    ck_assert_int_eq(pc.level, TR_VERIFY_NONE);
    ck_assert(pc.have_off && pc.off.powered);
    ck_assert(!pc.device_gone);
    ck_assert_int_eq(S.hubs[h].clear_feature, 1);
    /* a cycle fails the same way, and leaves the port on with the token there */
    ck_assert_int_eq(tr_hubport_cycle(&sp, 100, 1000, &pc, &e), -1);
    ck_assert_str_eq(pc.classification, TR_CLASS_PORT_NOT_SWITCHED);
    ck_assert(pc.device_back);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 0);
}
END_TEST

START_TEST(sim_kernel_repowers_port)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    S.hubs[h].kernel_repowers = true;
    sim_plug_hub(h, 0x0200);
    token_plug(1, 2, false, 0x096e, 0x0807, "RP1");
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    sp.settle_ms = 600;
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_str_eq(pc.classification, TR_CLASS_PORT_NOT_SWITCHED);
    ck_assert(pc.device_gone); /* it did leave ... */
    ck_assert_int_eq(pc.level, TR_VERIFY_NONE); /* ... and came back: not off */
    ck_assert_msg(strstr(e.msg, "came back on") != NULL, "%s", e.msg);
}
END_TEST

START_TEST(sim_usb3_companion_pair)
{
    rig_roots();
    int h2, h3;
    rig_usb3_hub(1, 1, true, &h2, &h3);
    token_plug(1, 2, true, 0x1ea8, 0xc001, "U3TOKEN");
    tr_usb_dev d;
    tr_err e;
    ck_assert_int_eq(tr_usb_device_on_port("2-1", 2, &d, &e), 1);
    ck_assert_uint_eq(d.speed_mbps, 5000);
    int old_addr = d.address;

    /* companion not given: found by container id */
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    tr_power_check pc;
    ck_assert_msg(tr_hubport_cycle(&sp, 100, 3000, &pc, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(pc.companion, "2-1");
    ck_assert(pc.companion_found);
    ck_assert_int_eq(pc.companion_method, TR_POWER_VIA_LIBUSB);
    ck_assert(pc.comp_before.powered && pc.comp_before.connected && pc.comp_before.superspeed);
    ck_assert(!pc.comp_off.powered && !pc.off.powered);
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    ck_assert_str_eq(pc.dev_before.location, "2-1.2");
    ck_assert_str_eq(pc.dev_after.location, "2-1.2"); /* back at SuperSpeed */
    ck_assert_int_ne(pc.dev_after.address, old_addr);
    ck_assert_int_eq(S.hubs[h2].clear_feature, 1);
    ck_assert_int_eq(S.hubs[h3].clear_feature, 1);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 1);
    /* USB 2 half switched off first and SuperSpeed on first: the token never
     * fell back to USB 2 (initial + one re-enumeration) */
    ck_assert_int_eq(S.tokens[1][2].enumerations, 2);

    /* given explicitly, from the SuperSpeed side */
    sp = spec_of("2-1", 2, "1-1");
    ck_assert_msg(tr_hubport_cycle(&sp, 50, 3000, &pc, &e) == 0, "%s", e.msg);
    ck_assert(!pc.companion_found);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 2);
    /* a "companion" of the same speed is a rig-file mistake */
    sp = spec_of("1-1", 2, "1-1");
    ck_assert_int_eq(tr_hubport_power(&sp, true, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);

    /* the sim is strict: switching the USB 2 half alone keeps VBUS */
    pthread_mutex_lock(&S.mu);
    sim_port_power(&S.hubs[h2], 2, false, false);
    pthread_mutex_unlock(&S.mu);
    ck_assert(S.tokens[1][2].vbus);
    ck_assert_int_eq(S.tokens[1][2].on_hub, h3);
}
END_TEST

START_TEST(sim_usb3_pair_without_container_id)
{
    rig_roots();
    int h2, h3;
    rig_usb3_hub(1, 1, false, &h2, &h3);
    token_plug(1, 4, true, 0x1ea8, 0xc001, "NOCID");
    tr_hubport_spec sp = spec_of("2-1", 4, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_msg(tr_hubport_power(&sp, false, &pc, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(pc.companion, "1-1"); /* same chain, same port count */
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    ck_assert(!S.tokens[1][4].vbus);
    ck_assert_msg(tr_hubport_power(&sp, true, &pc, &e) == 0, "%s", e.msg);
    ck_assert(pc.device_back);
}
END_TEST

START_TEST(sim_sysfs_disable)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    S.hubs[h].sysfs_disable = true;
    sim_plug_hub(h, 0x0200);
    sim_watch_sysfs();
    token_plug(1, 2, false, 0x096e, 0x0807, "SYS1");
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(disable_value(h, 2), '0');
    ck_assert_msg(tr_hubport_power(&sp, false, &pc, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(pc.method, TR_POWER_VIA_SYSFS);
    ck_assert_str_eq(tr_power_method_name(pc.method), "sysfs");
    ck_assert_int_eq(disable_value(h, 2), '1');
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    tr_hubport_state st;
    ck_assert_msg(tr_hubport_status(&sp, &st, &e) == 0, "%s", e.msg);
    ck_assert(st.sysfs_disabled && !st.powered);
    ck_assert_msg(tr_hubport_power(&sp, true, &pc, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(disable_value(h, 2), '0');
    ck_assert(pc.device_back);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 1);
    ck_assert_msg(tr_hubport_cycle(&sp, 50, 3000, &pc, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(pc.method, TR_POWER_VIA_SYSFS);
    ck_assert_int_eq(pc.level, TR_VERIFY_DEVICE_GONE);
    ck_assert_int_eq(disable_value(h, 2), '0');
    ck_assert(pc.device_back);
    ck_assert_int_ne(pc.dev_after.address, pc.dev_before.address);
    ck_assert_int_eq(S.tokens[1][2].power_ons, 2);
    /* each switch went through the kernel's file (the "kernel" sent the
     * requests below); none came from libusb, which would have doubled them */
    ck_assert_int_eq(S.hubs[h].set_feature, 2);
    ck_assert_int_eq(S.hubs[h].clear_feature, 2);
    ck_assert_int_eq(disable_value(h, 1), '0');
}
END_TEST

/* Drop the capabilities that let root ignore file modes, so a 0444 file is
 * as unwritable for this process as for an ordinary user. */
static void drop_dac_override(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
    memcpy(S.caps, data, sizeof data);
    S.caps_dropped = true;
    data[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER));
    ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
}

START_TEST(sim_permission_sysfs)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    S.hubs[h].sysfs_disable = true;
    sim_plug_hub(h, 0x0200);
    token_plug(1, 2, false, 0x096e, 0x0807, "PERM1");
    char path[512];
    disable_file(&S.hubs[h], 2, path, sizeof path);
    ck_assert_int_eq(chmod(path, 0444), 0);
    drop_dac_override();
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_PERM);
    ck_assert_msg(strstr(e.msg, "1-1-port2/disable") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "52-tokenrig-usb-hubs.rules") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "udevadm trigger") != NULL, "%s", e.msg);
    ck_assert_int_eq(tr_code_exit_status(e.code), 2);
    ck_assert_int_eq(disable_value(h, 2), '0');
    ck_assert(S.tokens[1][2].vbus);
}
END_TEST

START_TEST(sim_permission_usbfs)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    sim_plug_hub(h, 0x0200);
    char node[512];
    snprintf(node, sizeof node, "%s/dev/bus/usb/%03d/%03d", S.root, S.hubs[h].bus, S.hubs[h].addr);
    ck_assert_int_eq(chmod(node, 0444), 0);
    drop_dac_override();
    tr_hubport_spec sp = spec_of("1-1", 2, NULL);
    tr_power_check pc;
    tr_err e;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_PERM);
    ck_assert_msg(strstr(e.msg, "opening USB hub 1-1") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "52-tokenrig-usb-hubs.rules") != NULL, "%s", e.msg);
    /* the listing still shows everything it can, then reports the fix */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(tr_hubs_print(f, &e), -1);
    fclose(f);
    ck_assert_int_eq(e.code, TR_E_PERM);
    ck_assert_msg(strstr(text, "hub 1-1 ") != NULL && strstr(text, "! permission denied") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "hub 1 ") != NULL && strstr(text, "port 1") != NULL, "%s", text);
    free(text);
}
END_TEST

START_TEST(sim_discovery)
{
    rig_roots();
    int h2, h3;
    rig_usb3_hub(1, 1, true, &h2, &h3);
    int g = rig_usb2_hub(2, 2, 0x0000, 7); /* ganged, plain USB 2.0 (no BOS) */
    snprintf(S.hubs[g].serial, sizeof S.hubs[g].serial, "GANG7");
    sim_plug_hub(g, 0x0200);
    token_plug(1, 2, true, 0x1ea8, 0xc001, "U3TOKEN");
    token_plug(2, 5, false, 0x096e, 0x0807, "FT0005");
    tr_hub_list l;
    tr_err e;
    ck_assert_msg(tr_hubs_discover(&l, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(l.n, 5);
    static const char *const order[] = {"1", "1-1", "1-2", "2", "2-1"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(l.hubs[i].dev.location, order[i]);
    const tr_hub_info *a = tr_hub_list_find(&l, "1-1"), *b = tr_hub_list_find(&l, "2-1");
    const tr_hub_info *c = tr_hub_list_find(&l, "1-2"), *r = tr_hub_list_find(&l, "1");
    ck_assert(a && b && c && r);
    ck_assert(!tr_hub_list_find(&l, "3"));
    ck_assert_str_eq(a->companion, "2-1");
    ck_assert_str_eq(b->companion, "1-1");
    ck_assert_str_eq(c->companion, "");
    ck_assert_str_eq(r->companion, "2"); /* root hubs: fallback rule */
    ck_assert(a->have_container_id && b->have_container_id && !c->have_container_id);
    ck_assert(!a->superspeed && b->superspeed);
    ck_assert_int_eq(a->desc.switching, TR_PWR_PER_PORT);
    ck_assert_int_eq(c->desc.switching, TR_PWR_GANGED);
    ck_assert_int_eq(c->nports, 7);
    ck_assert_str_eq(c->dev.serial, "GANG7");
    ck_assert(b->ports[1].has_device && b->ports[1].status.connected && b->ports[1].status.powered);
    ck_assert_str_eq(b->ports[1].dev.serial, "U3TOKEN");
    ck_assert(!a->ports[1].has_device && !a->ports[1].status.connected);
    ck_assert(c->ports[4].has_device);
    ck_assert_str_eq(c->ports[4].dev.location, "1-2.5");
    ck_assert(r->ports[0].status.connected); /* hub 1-1 on root port 1 */
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(l.hubs[i].problem[0] == '\0', "%s: %s", l.hubs[i].dev.location, l.hubs[i].problem);
    tr_hub_list_free(&l);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_msg(tr_hubs_print(f, &e) == 0, "%s", e.msg);
    fclose(f);
    ck_assert_msg(strstr(text, "hub 1-1 ") && strstr(text, "companion 2-1"), "%s", text);
    ck_assert_msg(strstr(text, "power switching: ganged"), "%s", text);
    ck_assert_msg(strstr(text, "1ea8:c001 bus 2 address"), "%s", text);
    ck_assert_msg(strstr(text, "serial U3TOKEN"), "%s", text);
    ck_assert_msg(strstr(text, "0203 power 5gbps U0 enable connect"), "%s", text);
    free(text);
}
END_TEST

START_TEST(sim_garbage_hub_descriptor)
{
    rig_roots();
    int h = rig_usb2_hub(1, 1, 0x0001, 4);
    S.hubs[h].garbage_desc = true;
    sim_plug_hub(h, 0x0200);
    tr_hub_list l;
    tr_err e;
    ck_assert_msg(tr_hubs_discover(&l, &e) == 0, "%s", e.msg);
    const tr_hub_info *g = tr_hub_list_find(&l, "1-1");
    ck_assert(g && !g->have_desc && g->nports == 0);
    ck_assert_msg(strstr(g->problem, "hub descriptor") != NULL, "%s", g->problem);
    tr_hub_list_free(&l);
    tr_hubport_spec sp = spec_of("1-1", 1, NULL);
    tr_power_check pc;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
}
END_TEST

START_TEST(sim_no_usb_bus)
{
    /* an empty testbed: like this machine, no /sys/bus/usb at all */
    tr_err e;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(tr_hubs_print(f, &e), TR_HUBS_NONE);
    fclose(f);
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_str_eq(e.msg, "no USB hubs found: this machine has no USB bus (/sys/bus/usb missing)");
    ck_assert_int_eq(tr_code_exit_status(e.code), 2);
    tr_hubport_spec sp = spec_of("1-1", 1, NULL);
    tr_power_check pc;
    ck_assert_int_eq(tr_hubport_power(&sp, false, &pc, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_msg(strstr(e.msg, "cannot reach hub 1-1") != NULL, "%s", e.msg);
    tr_usb_dev d;
    ck_assert_int_eq(tr_usb_device_on_port("1-1", 1, &d, &e), -1);
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("usbhub-sim");
    TCase *tc = tcase_create("umockdev");
    tcase_add_checked_fixture(tc, sim_setup, sim_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sim_per_port_cycle_libusb);
    tcase_add_test(tc, sim_power_off_on_and_status);
    tcase_add_test(tc, sim_stale_lease_powers_ports_on);
    tcase_add_test(tc, sim_ganged_hub_refused);
    tcase_add_test(tc, sim_lying_hub_not_switched);
    tcase_add_test(tc, sim_kernel_repowers_port);
    tcase_add_test(tc, sim_usb3_companion_pair);
    tcase_add_test(tc, sim_usb3_pair_without_container_id);
    tcase_add_test(tc, sim_sysfs_disable);
    tcase_add_test(tc, sim_permission_sysfs);
    tcase_add_test(tc, sim_permission_usbfs);
    tcase_add_test(tc, sim_discovery);
    tcase_add_test(tc, sim_garbage_hub_descriptor);
    tcase_add_test(tc, sim_no_usb_bus);
    suite_add_tcase(s, tc);
    return s;
}

START_TEST(umockdev_preload_missing)
{
    ck_abort_msg("the simulated-hub tests need umockdev's preload library: could not re-run "
                 "under umockdev-wrapper (Debian package umockdev)");
}
END_TEST

static bool under_umockdev(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "libumockdev-preload");
}

/* The Makefile runs tests as plain binaries; umockdev's testbed only works
 * with its preload library, so re-run this binary under umockdev-wrapper.
 * ASan must then tolerate not being first in the library list. */
static void reexec_under_umockdev(int argc, char **argv)
{
    if (under_umockdev() || getenv("TR_USBHUB_REEXEC"))
        return;
    setenv("TR_USBHUB_REEXEC", "1", 1);
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return;
    args[0] = (char *)"umockdev-wrapper";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    execvp(args[0], args);
    fprintf(stderr, "check_usbhub: cannot run umockdev-wrapper: %s\n", strerror(errno));
    free(args);
}

int main(int argc, char **argv)
{
    reexec_under_umockdev(argc, argv);
    SRunner *sr = srunner_create(decode_suite());
    if (under_umockdev()) {
        srunner_add_suite(sr, sim_suite());
    } else {
        Suite *s = suite_create("usbhub-sim");
        TCase *tc = tcase_create("umockdev");
        tcase_add_test(tc, umockdev_preload_missing);
        suite_add_tcase(s, tc);
        srunner_add_suite(sr, s);
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
