/* check_usbhub.c — hub descriptor / port status decoding, USB locations,
 * channel ids (pure), and the hub layer against simulated hubs. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubdesc.h"

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

int main(void)
{
    SRunner *sr = srunner_create(decode_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
