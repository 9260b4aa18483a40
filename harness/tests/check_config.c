/* check_config.c — the [slot] keys of a rig file (config.c's key table):
 * every key a virtual token is modelled on a profile with, their bounds
 * (errors carry file:line), the unknown-key error listing the keys of the
 * slot's type, keys of another slot type refused wherever `type =` comes;
 * and the ATR structure check (atr.h) the atr key relies on. The batch
 * manifest fails closed (every required column, every row complete, real
 * dates, file:line errors), and every command's options are spelled out
 * (tr_cli_spelled_out). */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atr.h"
#include "cli.h"
#include "config.h"
#include "manifest.h"
#include "util.h"

static char path[64];
static tr_rig_cfg rig;
static tr_err err;

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/check_config.%d.ini", (int)getpid());
    memset(&rig, 0, sizeof rig);
}

static void teardown(void)
{
    tr_rig_free(&rig);
    unlink(path);
}

/* [rig] on lines 1-2, [slot A1] on line 3: the body starts at line 4. */
static int load(const char *slot_body)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[rig]\nname = t\n[slot A1]\n%s\n", slot_body);
    fclose(f);
    tr_rig_free(&rig);
    tr_err_clear(&err);
    return tr_rig_load(path, &rig, &err);
}

START_TEST(profile_keys_of_a_virtual_slot)
{
    ck_assert_msg(load("pin_tries = 5\nso_tries = 3\ndefault_pin = 11223344\nso_pin = 5566778899\n"
                       "atr = 3b 0b 54 4f 4b 45 4e 52 49 47 20 54 35\naid = f0544f4b524947050a\n"
                       "firmware = 0203\nt0 = yes\nseal_version = 1") == 0,
                  "%s", err.msg);
    const tr_vtoken_cfg *vt = &rig.slots[0].vt;
    ck_assert_uint_eq(vt->pin_tries, 5);
    ck_assert_uint_eq(vt->so_tries, 3);
    ck_assert_str_eq(vt->default_pin, "11223344");
    ck_assert_str_eq(vt->so_pin, "5566778899");
    ck_assert_str_eq(vt->atr, "3B0B544F4B454E524947205435"); /* as vtoken is given it */
    ck_assert_str_eq(vt->aid, "F0544F4B524947050A");
    ck_assert_str_eq(vt->firmware, "0203");
    ck_assert(vt->t0);
    ck_assert_int_eq(vt->seal_version, 1);
    /* not given: vtoken's REF-1 defaults */
    ck_assert_int_eq(load("serial = CONFIGTEST000001"), 0);
    vt = &rig.slots[0].vt;
    ck_assert_uint_eq(vt->pin_tries + vt->so_tries, 0);
    ck_assert_str_eq(vt->default_pin, "");
    ck_assert_str_eq(vt->atr, "");
    ck_assert_str_eq(vt->aid, "");
    ck_assert_str_eq(vt->firmware, "");
    ck_assert_int_eq(vt->seal_version, 4);
}
END_TEST

START_TEST(bad_values_name_file_line_and_key)
{
    static const char *const bad[] = {
        "pin_tries = 0", "pin_tries = 16", "pin_tries = five", "so_tries = 0", "so_tries = 16",
        "default_pin = 12345", "default_pin = 12345678901234567", "so_pin = 12345",
        "atr = 3B", "atr = 3A00", "atr = 3B8A8001544F4B454E52494730310E", "atr = 3B0B544F4B",
        "atr = 3B0F0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20",
        "atr = 3BXX", "aid = F0544F4B", "aid = F0544F4B52494701F0544F4B5249470102", "aid = F0544",
        "firmware = 01", "firmware = 010203", "firmware = zz00", "seal_version = 2", "t0 = maybe",
        "ready_ms = 600001", "role = boss", "alg = dsa", "serial = SHORT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[160], key[32];
        snprintf(body, sizeof body, "serial = CONFIGTEST000001\n%s", bad[i]);
        sscanf(bad[i], "%31s", key);
        ck_assert_msg(load(body) == -1, "'%s' was accepted", bad[i]);
        ck_assert_int_eq(err.code, TR_E_CONFIG);
        ck_assert_str_eq(err.file, path);
        ck_assert_msg(err.line == 5, "'%s': line %d", bad[i], err.line);
        ck_assert_msg(strstr(err.msg, key) != NULL, "'%s': %s", bad[i], err.msg);
    }
    /* 6 and 16 characters, 5 and 16 bytes, 1 and 15 tries: the bounds themselves */
    ck_assert_msg(load("default_pin = 123456\nso_pin = abcdefghijklmnop\naid = F0544F4B52\n"
                       "pin_tries = 1\nso_tries = 15") == 0, "%s", err.msg);
    ck_assert_int_eq(load("aid = F0544F4B52494701F0544F4B52494701"), 0);
}
END_TEST

START_TEST(unknown_key_lists_the_keys_of_the_slot_type)
{
    ck_assert_int_eq(load("serial = CONFIGTEST000001\npin_trys = 5"), -1);
    ck_assert_int_eq(err.line, 5);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown key 'pin_trys' in [slot A1]"));
    ck_assert_ptr_nonnull(strstr(err.msg, "a virtual slot takes: type, profile, var.NAME, serial"));
    static const char *const virtual_keys[] = {"pin_tries", "so_tries", "default_pin", "so_pin", "atr",
                                               "aid", "firmware", "t0", "seal_version", "ready_ms"};
    for (size_t i = 0; i < sizeof virtual_keys / sizeof virtual_keys[0]; i++)
        ck_assert_msg(strstr(err.msg, virtual_keys[i]), "%s not listed: %s", virtual_keys[i], err.msg);
    ck_assert_ptr_null(strstr(err.msg, "companion"));

    ck_assert_int_eq(load("type = usb-hub\nbogus = 1"), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "a usb-hub slot takes: type, profile, var.NAME, hub, port, companion;"));
    ck_assert_int_eq(load("type = pcsc-only\nbogus = 1"), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "a pcsc-only slot takes: type, profile, var.NAME, reader;"));
}
END_TEST

START_TEST(keys_of_another_slot_type_are_refused)
{
    /* type = may come last: hub and port wait for it */
    ck_assert_msg(load("hub = 1-1.4\nport = 2\ntype = usb-hub") == 0, "%s", err.msg);
    ck_assert_int_eq(rig.slots[0].type, TR_SLOT_USB_HUB);
    ck_assert_str_eq(rig.slots[0].hub, "1-1.4");
    /* a virtual key in a usb-hub slot, before or after type = */
    ck_assert_int_eq(load("pin_tries = 5\nhub = 1-1.4\nport = 2\ntype = usb-hub"), -1);
    ck_assert_int_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "key 'pin_tries' does not apply to [slot A1], a usb-hub slot"));
    ck_assert_int_eq(load("type = pcsc-only\nreader = \"x*\"\natr = 3B00"), -1);
    ck_assert_int_eq(err.line, 6);
    ck_assert_ptr_nonnull(strstr(err.msg, "'atr'"));
    /* a hub key in a (default) virtual slot */
    ck_assert_int_eq(load("serial = CONFIGTEST000001\nreader = x"), -1);
    ck_assert_int_eq(err.line, 5);
    /* keys every type takes */
    ck_assert_msg(load("type = pcsc-only\nreader = x\nprofile = ref1-rsa\nvar.USER_PIN = 123456") == 0, "%s",
                  err.msg);
    ck_assert_str_eq(rig.slots[0].profile, "ref1-rsa");
    ck_assert_int_eq(load("var.9 = 1"), -1);
}
END_TEST

/* ---- ATR structure --------------------------------------------------------- */

static bool atr_ok(const char *hex, char *why, size_t cap)
{
    uint8_t b[64];
    long n = tr_hex_decode(hex, b, sizeof b);
    ck_assert_int_ge(n, 0);
    return tr_atr_check(b, (size_t)n, why, cap);
}

/* The trust anchor variables name files: relative to the profile or rig
 * file that sets them, absolute as given; other variables are left alone. */
START_TEST(file_vars_relative_to_their_file)
{
    ck_assert_msg(load("var.CA_ROOT = roots/ca.der\nvar.SEAL_MAKER_ROOT = /etc/seal.pem\nvar.OTHER = x/y") == 0,
                  "%s", err.msg);
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "CA_ROOT"), "/tmp/roots/ca.der");
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "SEAL_MAKER_ROOT"), "/etc/seal.pem");
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "OTHER"), "x/y");
    char prof[80];
    snprintf(prof, sizeof prof, "/tmp/check_config.%d.profile.ini", (int)getpid());
    FILE *f = fopen(prof, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[profile]\nname = p\n[vars]\nCA_ROOT = ../pki/ca.crt.der\nSEAL_MAKER_ROOT = \"sr.pem\"\n");
    fclose(f);
    tr_profile p;
    ck_assert_msg(tr_profile_load(prof, &p, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(tr_vars_get(p.vars, "CA_ROOT"), "/tmp/../pki/ca.crt.der");
    ck_assert_str_eq(tr_vars_get(p.vars, "SEAL_MAKER_ROOT"), "/tmp/sr.pem");
    tr_profile_free(&p);
    unlink(prof);
}
END_TEST

START_TEST(atr_structure)
{
    static const char *const good[] = {
        "3B8A8001544F4B454E52494730310D", /* REF-1: TD1 T=0, TD2 T=1, TCK */
        "3B8A8001424144544F4B454E303116", /* REF-1's bad-atr: same shape */
        "3B0B544F4B454E524947205435",     /* T=0 only: no TCK */
        "3B00",                           /* the shortest */
        "3F00",                           /* inverse convention */
        "3B72 9600 00 3180",              /* TA1 TB1 TC1, 2 historical bytes, T=0 */
    };
    char why[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(atr_ok(good[i], why, sizeof why), "%s: %s", good[i], why);
    /* TD1 says T=1 with TA2 following, 1 historical byte: TCK required */
    uint8_t t1[] = {0x3B, 0x81, 0x11, 0xFF, 0x41, 0x00};
    ck_assert(!tr_atr_check(t1, sizeof t1, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "TCK is 00"));
    t1[5] = 0x81 ^ 0x11 ^ 0xFF ^ 0x41;
    ck_assert_msg(tr_atr_check(t1, sizeof t1, why, sizeof why), "%s", why);
    ck_assert(!tr_atr_check(t1, sizeof t1 - 1, why, sizeof why)); /* without it */

    static const struct {
        const char *hex, *why;
    } bad[] = {
        {"3B", "1 bytes"},
        {"3A00", "TS is 3A"},
        {"3B8A8001544F4B454E52494730310E", "TCK is 0E, expected 0D"},
        {"3B8A8001544F4B454E524947303131", "TCK is 31"},
        {"3B8A8001544F4B454E5249473031", "not 14"}, /* TCK missing */
        {"3B0B544F4B454E52494720543535", "not 14"}, /* one byte too many */
        {"3B8A80", "run past"},
        {"3BF0", "run past"},
        {"3B0F0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20", "34 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!atr_ok(bad[i].hex, why, sizeof why), "%s passed", bad[i].hex);
        ck_assert_msg(strstr(why, bad[i].why), "%s: '%s' does not say '%s'", bad[i].hex, why, bad[i].why);
    }
    ck_assert(!atr_ok("3A00", NULL, 0)); /* no reason wanted */
}
END_TEST

/* ---- the batch manifest --------------------------------------------------------------- */

static tr_manifest man;

/* Load text as a manifest: 0, or -1 with err set. */
static int load_manifest(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    tr_err_clear(&err);
    return tr_manifest_load(path, &man, &err);
}

/* The manifest is refused at line with a message containing needle. */
static void refused(const char *text, int line, const char *needle)
{
    ck_assert_msg(load_manifest(text) < 0, "accepted: %s", text);
    ck_assert_int_eq(err.code, TR_E_CONFIG);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(err.line == line, "line %d, expected %d (%s)", err.line, line, err.msg);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
    ck_assert_ptr_null(man.entries);
}

START_TEST(manifest_complete_rows_load)
{
    ck_assert_msg(load_manifest("\xEF\xBB\xBFserial,role,org,not_after,slot\n"
                                "TRV0000000000001,main,\"Example, Ltd.\",2028-02-29,A1\n"
                                "\n"
                                "TRV0000000000002 , secondary,Example,2030-12-31,\n") == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(man.n, 2);
    ck_assert_str_eq(man.entries[0].org, "Example, Ltd.");
    ck_assert_str_eq(man.entries[0].not_after, "2028-02-29");
    ck_assert_str_eq(man.entries[0].slot, "A1");
    ck_assert_str_eq(man.entries[1].serial, "TRV0000000000002"); /* trimmed */
    ck_assert_str_eq(man.entries[1].role, "secondary");
    ck_assert_str_eq(man.entries[1].slot, "");                   /* slot is optional */
    ck_assert_int_eq(man.entries[1].line, 4);
    tr_manifest_free(&man);
    /* columns in any order */
    ck_assert_msg(load_manifest("not_after,org,role,serial\n2031-01-01,E,main,S1\n") == 0, "%s", err.msg);
    ck_assert_str_eq(man.entries[0].serial, "S1");
    tr_manifest_free(&man);
}
END_TEST

START_TEST(manifest_fails_closed)
{
    /* the header names every required column, once */
    refused("serial,role,org\nS1,main,E\n", 1, "no 'not_after' column");
    refused("serial,role,not_after\nS1,main,2030-01-01\n", 1, "no 'org' column");
    refused("role,org,not_after\nmain,E,2030-01-01\n", 1, "no 'serial' column");
    refused("serial,role,org,not_after,serial\n", 1, "column 'serial' named twice");
    refused("serial,role,org,not_after,colour\n", 1, "unknown column 'colour'");
    refused("", 1, "empty manifest");
    /* every row complete */
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01\nS2,main,E,\n", 3, "row has no not_after");
    refused("serial,role,org,not_after\nS1,main,,2030-01-01\n", 2, "row has no org");
    refused("serial,role,org,not_after\nS1,,E,2030-01-01\n", 2, "row has no role");
    refused("serial,role,org,not_after\n,main,E,2030-01-01\n", 2, "row has no serial");
    refused("serial,role,org,not_after\nS1,main,E\n", 2, "row has 3 fields, the header has 4 columns");
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01,A1\n", 2, "more fields than the header");
    /* values */
    refused("serial,role,org,not_after\nS1,boss,E,2030-01-01\n", 2, "role 'boss': expected main or secondary");
    refused("serial,role,org,not_after\nS1,main,E,2030-1-01\n", 2, "not_after '2030-1-01'");
    refused("serial,role,org,not_after\nS1,main,E,2030-13-01\n", 2, "not_after '2030-13-01'");
    refused("serial,role,org,not_after\nS1,main,E,2029-02-29\n", 2, "not_after '2029-02-29'");
    refused("serial,role,org,not_after\nS1,main,E,1900-02-29\n", 2, "not_after '1900-02-29'");
    refused("serial,role,org,not_after\nS1,main,E,2030-04-31\n", 2, "not_after '2030-04-31'");
    refused("serial,role,org,not_after\nS1,main,E,2030-0a-01\n", 2, "not_after '2030-0a-01'");
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01\nS1,main,E,2030-01-01\n", 3, "serial S1 appears twice");
    /* a value longer than its field is refused, never cut */
    char text[512];
    snprintf(text, sizeof text, "serial,role,org,not_after\n%0*d,main,E,2030-01-01\n", 64, 7);
    refused(text, 2, "serial (at most 63 characters) is too long");
    snprintf(text, sizeof text, "serial,role,org,not_after\n%0*d,main,E,2030-01-01\n", 63, 7);
    ck_assert_msg(load_manifest(text) == 0, "%s", err.msg);
    tr_manifest_free(&man);
}
END_TEST

/* ---- options are spelled out --------------------------------------------------------------- */

START_TEST(options_spelled_out)
{
    static const struct option opts[] = {
        {"rig", required_argument, 0, 'r'},   {"slots", required_argument, 0, 's'},
        {"slot-timeout", required_argument, 0, 'T'}, {"allow-destructive", no_argument, 0, 'A'},
        {"out", required_argument, 0, 'o'},   {0, 0, 0, 0}};
    static const char shortopts[] = "r:s:T:Ao:D:q";
    static const struct {
        const char *args[6];
        int want;
    } cases[] = {
        {{"run", "--allow-destructive", "--rig", "x", "suite", NULL}, 0},
        {{"run", "--allow", NULL}, -1},
        {{"run", "--allow=1", NULL}, -1},
        {{"run", "--slo", "A1", NULL}, -1},            /* ambiguous: --slots or --slot-timeout */
        {{"run", "--rig=x", "--slots=A1", NULL}, 0},
        {{"run", "--out", "--allow", NULL}, 0},         /* the value of --out, not an option */
        {{"run", "-o", "--allow", NULL}, 0},
        {{"run", "-qo", "--allow", NULL}, 0},           /* -o ends the cluster, takes the next argument */
        {{"run", "-D--allow=1", "--al", NULL}, -1},     /* -D's value is glued: --al is an option */
        {{"run", "--", "--allow", NULL}, 0},            /* after --: operands */
        {{"run", "--no-such-option", NULL}, 0},         /* unknown: getopt_long says so */
        {{"run", "-", "--a", NULL}, -1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int argc = 0;
        char *argv[7];
        while (cases[k].args[argc]) {
            argv[argc] = (char *)cases[k].args[argc];
            argc++;
        }
        argv[argc] = NULL;
        ck_assert_msg(tr_cli_spelled_out("tokenrig run", argc, argv, shortopts, opts) == cases[k].want,
                      "case %zu", k);
    }
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("slot keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, profile_keys_of_a_virtual_slot);
    tcase_add_test(tc, bad_values_name_file_line_and_key);
    tcase_add_test(tc, unknown_key_lists_the_keys_of_the_slot_type);
    tcase_add_test(tc, keys_of_another_slot_type_are_refused);
    tcase_add_test(tc, file_vars_relative_to_their_file);
    tcase_add_test(tc, atr_structure);
    suite_add_tcase(s, tc);
    tc = tcase_create("manifest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, manifest_complete_rows_load);
    tcase_add_test(tc, manifest_fails_closed);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, options_spelled_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
