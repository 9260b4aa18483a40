/* check_provenance.c — what a run records it was measured against: the
 * command line with PINs masked, file hashes, the variables with the layer
 * each came from (and PINs as <pin>), the version. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "provenance.h"
#include "util.h"

START_TEST(command_line_masks_pins)
{
    char *argv[] = {"run", "--rig", "rigs/x y.ini", "-D", "USER_PIN=424242", "-DSO_PIN=8888", "-D",
                    "SIGN_COUNT=50", "-D", "PIN_MAX_TRIES=3", "it's"};
    char *out = tr_cli_command_line(11, argv);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(strstr(out, "USER_PIN=<pin>"));
    ck_assert_ptr_nonnull(strstr(out, "-DSO_PIN=<pin>"));
    ck_assert_ptr_nonnull(strstr(out, "SIGN_COUNT=50"));
    ck_assert_ptr_nonnull(strstr(out, "PIN_MAX_TRIES=3")); /* not a PIN: its name does not end in PIN */
    ck_assert_ptr_null(strstr(out, "424242"));
    ck_assert_ptr_null(strstr(out, "8888"));
    ck_assert(strncmp(out, "tokenrig run --rig ", 19) == 0);
    free(out);
}
END_TEST

START_TEST(pin_names)
{
    const char *pins[] = {"DEFAULT_PIN", "SO_PIN", "NEW_PIN", "WRONG_PIN", "USER_PIN", "OP_NEW_PIN", "OP_PIN",
                          "WRONG_SO_PIN", "PIN", "user_pin"};
    const char *not_pins[] = {"PIN_MAX_TRIES", "USER_PIN_REF", "PIN_FLAG", "DO_PIN_INFO", "SIGN_COUNT", "PI"};
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
        ck_assert_msg(tr_var_is_pin(pins[i]), "%s", pins[i]);
    for (size_t i = 0; i < sizeof not_pins / sizeof not_pins[0]; i++)
        ck_assert_msg(!tr_var_is_pin(not_pins[i]), "%s", not_pins[i]);
}
END_TEST

START_TEST(sha256_of_a_file)
{
    char path[] = "/tmp/tr-prov-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    close(fd);
    char hex[65];
    tr_err e;
    ck_assert_int_eq(tr_prov_sha256_file(path, hex, &e), 0);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink(path);
    ck_assert_int_eq(tr_prov_sha256_file(path, hex, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, path));
}
END_TEST

/* The layers a slot's variables are made of, each value with its source;
 * the names over every layer, each once, sorted. */
START_TEST(vars_remember_their_source)
{
    tr_vars *profile = tr_vars_new(NULL);
    ck_assert_int_eq(tr_vars_set_source(profile, "profile p.ini"), 0);
    tr_vars_set(profile, "APDU_MAX_MS", "500");
    tr_vars_set(profile, "DEFAULT_PIN", "12345678");
    tr_vars_set(profile, "SIGN_COUNT", "200");
    tr_vars *slot = tr_vars_new(profile);
    tr_vars_set(slot, "NOT_SAID", "1");
    tr_vars_set_source(slot, "rig r.ini [slot A1]");
    tr_vars_set(slot, "APDU_MAX_MS", "800");
    tr_vars_set_source(slot, "-D (command line)");
    tr_vars_set(slot, "SIGN_COUNT", "50");
    tr_vars_set_source(slot, "rig r.ini [slot A1]"); /* a source given again is the same one */
    tr_vars_set(slot, "SLOT", "A1");
    ck_assert_str_eq(tr_vars_source(slot, "APDU_MAX_MS"), "rig r.ini [slot A1]");
    ck_assert_str_eq(tr_vars_source(slot, "SIGN_COUNT"), "-D (command line)");
    ck_assert_str_eq(tr_vars_source(slot, "DEFAULT_PIN"), "profile p.ini");
    ck_assert_str_eq(tr_vars_source(slot, "SLOT"), "rig r.ini [slot A1]");
    ck_assert_ptr_null(tr_vars_source(slot, "NOT_SAID"));
    ck_assert_ptr_null(tr_vars_source(slot, "NOBODY"));
    const char **names = tr_vars_names(slot);
    const char *want[] = {"APDU_MAX_MS", "DEFAULT_PIN", "NOT_SAID", "SIGN_COUNT", "SLOT", NULL};
    for (size_t i = 0; want[i] || names[i]; i++)
        ck_assert_str_eq(names[i] ? names[i] : "(end)", want[i] ? want[i] : "(end)");
    free(names);
    tr_vars_free(slot);
    tr_vars_free(profile);
}
END_TEST

/* provenance.csv from tr_prov_vars: every variable once, PINs masked. */
START_TEST(vars_rows_mask_pins)
{
    char dir[] = "/tmp/tr-prov-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    ck_assert_ptr_nonnull(r);
    tr_vars *v = tr_vars_new(NULL);
    tr_vars_set_source(v, "profile p.ini");
    tr_vars_set(v, "SO_PIN", "88888888");
    tr_vars_set(v, "PIN_MAX_TRIES", "10");
    tr_slot_id who = {.slot = "A1", .serial = "S1"};
    ck_assert_int_eq(tr_prov_vars(r, &who, v, &e), 0);
    ck_assert_int_eq(tr_prov_row(r, NULL, "tool.version", tr_version(), "tokenrig", &e), 0);
    tr_reports_close(r);
    tr_vars_free(v);
    char path[96], buf[1024] = "";
    snprintf(path, sizeof path, "%s/provenance.csv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    char want[256];
    snprintf(want, sizeof want,
             "slot,name,value,source\nA1,var.PIN_MAX_TRIES,10,profile p.ini\nA1,var.SO_PIN,<pin>,profile p.ini\n"
             ",tool.version,%s,tokenrig\n", tr_version());
    ck_assert_str_eq(buf, want);
    ck_assert_ptr_null(strstr(buf, "88888888"));
    ck_assert(strlen(tr_version()) > 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("provenance");
    TCase *tc = tcase_create("provenance");
    tcase_add_test(tc, command_line_masks_pins);
    tcase_add_test(tc, pin_names);
    tcase_add_test(tc, sha256_of_a_file);
    tcase_add_test(tc, vars_remember_their_source);
    tcase_add_test(tc, vars_rows_mask_pins);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
