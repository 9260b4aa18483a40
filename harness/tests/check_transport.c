/* Transport against the virtual rig: a private pcscd with two vtokens (one
 * in T=0 style), exercised through transport.h only. */
#include <PCSC/winscard.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cardio.h"
#include "config.h"
#include "transport.h"
#include "util.h"
#include "vrig.h"

static tr_rig_cfg rig;
static tr_vrig *vrig;
static char rigfile[64], dir[64];
static const char *R_T1, *R_T0, *R_61, *R_6C;

static void rig_setup(void)
{
    snprintf(rigfile, sizeof rigfile, "/tmp/trt-%d.ini", (int)getpid());
    snprintf(dir, sizeof dir, "/tmp/trt-%d", (int)getpid());
    FILE *f = fopen(rigfile, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[rig]\nname = trt\nready_timeout_ms = 3000\noff_ms = 20\n"
               "[slot A1]\nserial = TRANSPORT0000001\nready_ms = 10\n"
               "[slot A2]\nserial = TRANSPORT0000002\nt0 = yes\nready_ms = 10\n"
               "[slot A3]\nserial = TRANSPORT0000003\nready_ms = 10\nfaults = endless-61xx\n"
               "[slot A4]\nserial = TRANSPORT0000004\nready_ms = 10\nfaults = 6cxx-loop\n");
    fclose(f);
    tr_err e;
    ck_assert_msg(tr_rig_load(rigfile, &rig, &e) == 0, "%s", e.msg);
    ck_assert_msg(tr_vrig_up(&rig, dir, 20000, &vrig, &e) == 0, "%s", e.msg);
    R_T1 = tr_vrig_reader(vrig, "A1");
    R_T0 = tr_vrig_reader(vrig, "A2");
    R_61 = tr_vrig_reader(vrig, "A3");
    R_6C = tr_vrig_reader(vrig, "A4");
}

static void rig_teardown(void)
{
    tr_err e;
    tr_vrig_down(vrig, &e);
    tr_rig_free(&rig);
    unlink(rigfile);
}

static tr_pcsc *pcsc(void)
{
    tr_pcsc *p;
    tr_err e;
    ck_assert_msg(tr_pcsc_open(&p, &e) == 0, "%s", e.msg);
    return p;
}

static tr_card *connect(tr_pcsc *p, const char *reader)
{
    tr_card *c;
    tr_err e;
    ck_assert_msg(tr_pcsc_wait_card(p, reader, true, 5000, &e) == 0, "%s", e.msg);
    ck_assert_msg(tr_card_connect(p, reader, &c, &e) == 0, "%s", e.msg);
    return c;
}

/* Send hex, return SW; data into out (hex) when given. */
static unsigned xfer(tr_card *c, const char *hex, char *out, size_t cap)
{
    static uint8_t cmd[300], rsp[TR_MAX_RAPDU];
    long n = tr_hex_decode(hex, cmd, sizeof cmd);
    ck_assert(n >= 4);
    size_t rlen;
    tr_err e;
    ck_assert_msg(tr_card_transmit(c, cmd, (size_t)n, rsp, sizeof rsp, &rlen, &e) == 0, "%s: %s", hex, e.msg);
    if (out)
        tr_hex_encode(rsp, rlen - 2, out, cap, 0);
    return (unsigned)rsp[rlen - 2] << 8 | rsp[rlen - 1];
}

#define SELECT "00 A4 04 00 08 F0544F4B52494701 00"
#define PIN "3132333435363738FFFFFFFFFFFFFFFF"

START_TEST(readers_are_listed_and_found_by_pattern)
{
    tr_pcsc *p = pcsc();
    char *names, found[256];
    tr_err e;
    ck_assert(tr_pcsc_readers(p, &names, &e) == 0);
    int n = 0;
    for (const char *r = names; *r; r += strlen(r) + 1)
        n += !strcmp(r, R_T1) || !strcmp(r, R_T0);
    free(names);
    ck_assert_int_eq(n, 2);
    ck_assert(tr_pcsc_find_reader(p, "tokenrig trt 0 00 0[1]", found, sizeof found, &e) == 0);
    ck_assert_str_eq(found, R_T0);
    ck_assert_int_eq(tr_pcsc_find_reader(p, "no such reader*", found, sizeof found, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "no reader matches"));
    tr_pcsc_close(p);
}
END_TEST

START_TEST(connect_atr_select_and_idle_watchdog_state)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_T1);
    uint8_t atr[64];
    char hex[140];
    size_t n = tr_card_atr(c, atr, sizeof atr);
    ck_assert_str_eq(tr_hex_encode(atr, n, hex, sizeof hex, 0), "3B8A8001544F4B454E52494730310D");
    /* the exchange is published into the watcher's word: started, then idle
     * again (the sentinel 1 is overwritten only if it was published) */
    _Atomic uint64_t busy = 1;
    tr_card_publish_busy(c, &busy);
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    ck_assert_uint_eq(atomic_load(&busy), 0);
    ck_assert_str_eq(tr_card_reader(c), R_T1);
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(t0_style_61xx_and_6Cxx_are_invisible)
{
    tr_pcsc *p = pcsc();
    tr_card *t0 = connect(p, R_T0), *t1;
    char d0[600], d1[600], info0[600];
    ck_assert_uint_eq(xfer(t0, SELECT, NULL, 0), 0x9000);
    /* GET DATA info: the T=0 token answers 61xx, the transport fetches it */
    ck_assert_uint_eq(xfer(t0, "00 CA 01 00 00", d0, sizeof d0), 0x9000);
    ck_assert(!strncmp(d0, "0110", 4)); /* TLV 01 (serial, 16 bytes) first */
    strcpy(info0, d0);
    /* the certificate read with a wrong Le: 6Cxx resent with the right one */
    ck_assert_uint_eq(xfer(t0, "00 A4 02 0C 02 C0 01", NULL, 0), 0x9000);
    ck_assert_uint_eq(xfer(t0, "00 B0 00 00 00", d0, sizeof d0), 0x9000);
    ck_assert_uint_eq(strlen(d0), 512);
    tr_card_disconnect(t0, false);
    /* the same through the T=1 token gives the same shape of answer */
    t1 = connect(p, R_T1);
    ck_assert_uint_eq(xfer(t1, SELECT, NULL, 0), 0x9000);
    ck_assert_uint_eq(xfer(t1, "00 CA 01 00 00", d1, sizeof d1), 0x9000);
    ck_assert_uint_eq(strlen(d1), strlen(info0));
    tr_card_disconnect(t1, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(extended_le_reads_a_whole_file)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_T1);
    static char d[2 * 70000];
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    ck_assert_uint_eq(xfer(c, "00 A4 02 0C 02 C0 01", NULL, 0), 0x9000);
    unsigned sw = xfer(c, "00 B0 00 00 00 10 00", d, sizeof d);
    ck_assert_msg(sw == 0x6282 || sw == 0x9000, "SW %04X", sw);
    ck_assert(strlen(d) > 600); /* a whole certificate in one APDU */
    ck_assert(!strncmp(d, "30", 2)); /* DER SEQUENCE */
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(warm_and_cold_reset_clear_the_verified_state)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_T1);
    tr_err e;
    for (int cold = 0; cold < 2; cold++) {
        ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
        ck_assert_uint_eq(xfer(c, "00 20 00 81 10 " PIN, NULL, 0), 0x9000);
        ck_assert_uint_eq(xfer(c, "00 20 00 81", NULL, 0), 0x9000);
        ck_assert_msg(tr_card_reset(c, cold, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
        ck_assert_uint_eq(xfer(c, "00 20 00 81", NULL, 0), 0x63CA);
    }
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(power_off_is_seen_and_the_exchange_says_removed)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_T1);
    tr_err e;
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    ck_assert(tr_vrig_power(vrig, "A1", false, &e) == 0);
    uint64_t t0 = tr_now_ns();
    ck_assert_msg(tr_pcsc_wait_card(p, R_T1, false, 3000, &e) == 0, "%s", e.msg);
    ck_assert((tr_now_ns() - t0) / 1000000u < 3000);
    uint8_t cmd[] = {0x00, 0x20, 0x00, 0x81}, rsp[16];
    size_t rlen;
    ck_assert_int_eq(tr_card_transmit(c, cmd, sizeof cmd, rsp, sizeof rsp, &rlen, &e), -1);
    ck_assert_msg(e.code == TR_E_REMOVED, "code %s: %s", tr_code_name(e.code), e.msg);
    /* waiting for a card that is not coming times out with a sentence */
    ck_assert_int_eq(tr_pcsc_wait_card(p, R_T1, true, 200, &e), -1);
    ck_assert_int_eq(e.code, TR_E_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "did not arrive after 200 ms"));
    ck_assert(tr_vrig_power(vrig, "A1", true, &e) == 0);
    ck_assert_msg(tr_pcsc_wait_card(p, R_T1, true, 3000, &e) == 0, "%s", e.msg);
    ck_assert_msg(tr_card_reconnect(c, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

/* One command that must fail: its error code, and the message part want. */
static void xfer_fails(tr_card *c, const char *hex, tr_code code, const char *want)
{
    static uint8_t cmd[300], rsp[TR_MAX_RAPDU];
    long n = tr_hex_decode(hex, cmd, sizeof cmd);
    ck_assert(n >= 4);
    size_t rlen;
    tr_err e;
    tr_err_clear(&e);
    ck_assert_int_eq(tr_card_transmit(c, cmd, (size_t)n, rsp, sizeof rsp, &rlen, &e), -1);
    ck_assert_msg(e.code == code, "%s: code %s: %s", hex, tr_code_name(e.code), e.msg);
    ck_assert_msg(strstr(e.msg, want) != NULL, "%s: %s", hex, e.msg);
    ck_assert(tr_code_is_token_defect(e.code));
}

START_TEST(endless_61xx_is_the_tokens_protocol_defect)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_61);
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    /* short answers: bounded by the number of rounds */
    uint64_t t0 = tr_now_ns();
    xfer_fails(c, "00 CA 01 01 00", TR_E_PROTO_61XX, "answered 61xx 256 times in a row");
    ck_assert((tr_now_ns() - t0) / 1000000u < 10000); /* bounded, not a hang */
    ck_assert_str_eq(tr_code_name(TR_E_PROTO_61XX), "proto.endless-61xx");
    /* 256-byte answers: bounded by the largest response APDU */
    ck_assert_uint_eq(xfer(c, "00 A4 02 0C 02 C0 01", NULL, 0), 0x9000);
    xfer_fails(c, "00 B0 00 00 00", TR_E_PROTO_61XX, "61xx");
    /* the token is still there: a command without data answers */
    ck_assert_uint_eq(xfer(c, "00 20 00 81", NULL, 0), 0x63CA);
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(a_6cxx_loop_is_the_tokens_protocol_defect)
{
    tr_pcsc *p = pcsc();
    tr_card *c = connect(p, R_6C);
    ck_assert_uint_eq(xfer(c, SELECT, NULL, 0), 0x9000);
    ck_assert_uint_eq(xfer(c, "00 A4 02 0C 02 C0 01", NULL, 0), 0x9000);
    xfer_fails(c, "00 B0 00 00 10", TR_E_PROTO_6CXX, "answered 6C10 again after 2 resends");
    /* an extended Le cannot be corrected by a short one */
    xfer_fails(c, "00 B0 00 00 00 01 00", TR_E_PROTO_6CXX, "to an extended APDU");
    ck_assert_str_eq(tr_code_name(TR_E_PROTO_6CXX), "proto.6cxx-loop");
    ck_assert_uint_eq(xfer(c, "00 CA 01 01 00", NULL, 0), 0x9000); /* still answering */
    tr_card_disconnect(c, false);
    tr_pcsc_close(p);
}
END_TEST

START_TEST(errors_read_like_sentences)
{
    tr_pcsc *p = pcsc();
    tr_card *c;
    tr_err e;
    ck_assert_int_eq(tr_card_connect(p, "no such reader 00 00", &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot connect to no such reader 00 00"));
    ck_assert_ptr_nonnull(strstr(tr_pcsc_explain(SCARD_E_NO_SMARTCARD), "no token"));
    ck_assert_ptr_nonnull(strstr(tr_pcsc_explain(SCARD_E_SHARING_VIOLATION), "in use by another"));
    /* a second exclusive connection is refused with the reason */
    tr_card *c1 = connect(p, R_T1);
    tr_pcsc *p2 = pcsc();
    ck_assert_int_eq(tr_card_connect(p2, R_T1, &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "in use by another program") != NULL, "%s", e.msg);
    tr_card_disconnect(c1, false);
    tr_pcsc_close(p2);
    /* too short to be a command */
    c1 = connect(p, R_T1);
    uint8_t rsp[8];
    size_t rlen;
    ck_assert_int_eq(tr_card_transmit(c1, (const uint8_t *)"\x00\xA4", 2, rsp, sizeof rsp, &rlen, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "at least CLA INS P1 P2"));
    tr_card_disconnect(c1, false);
    tr_pcsc_close(p);
}
END_TEST

static Suite *transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("virtual rig");
    tcase_add_unchecked_fixture(tc, rig_setup, rig_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, readers_are_listed_and_found_by_pattern);
    tcase_add_test(tc, connect_atr_select_and_idle_watchdog_state);
    tcase_add_test(tc, t0_style_61xx_and_6Cxx_are_invisible);
    tcase_add_test(tc, extended_le_reads_a_whole_file);
    tcase_add_test(tc, warm_and_cold_reset_clear_the_verified_state);
    tcase_add_test(tc, power_off_is_seen_and_the_exchange_says_removed);
    tcase_add_test(tc, errors_read_like_sentences);
    tcase_add_test(tc, endless_61xx_is_the_tokens_protocol_defect);
    tcase_add_test(tc, a_6cxx_loop_is_the_tokens_protocol_defect);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transport_suite());
    /* one process: the rig (and PCSCLITE_CSOCK_NAME) is set up once */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
