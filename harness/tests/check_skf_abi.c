/* check_skf_abi — skf_abi.h / skf_abi.c: every structure's field offsets as
 * the packed GM/T 0016 layout puts them, the SAR_* names (every standard
 * code named once, anything else in hex), and the function table. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "skf_abi.h"

START_TEST(test_offsets)
{
    /* DEVINFO: 2 + 64 + 64 + 32 + 32 + 2 + 2, then eight ULONGs, then 64 */
    ck_assert_uint_eq(offsetof(DEVINFO, Manufacturer), 2);
    ck_assert_uint_eq(offsetof(DEVINFO, Issuer), 66);
    ck_assert_uint_eq(offsetof(DEVINFO, Label), 130);
    ck_assert_uint_eq(offsetof(DEVINFO, SerialNumber), 162);
    ck_assert_uint_eq(offsetof(DEVINFO, HWVersion), 194);
    ck_assert_uint_eq(offsetof(DEVINFO, FirmwareVersion), 196);
    ck_assert_uint_eq(offsetof(DEVINFO, AlgAsymCap), 202);
    ck_assert_uint_eq(offsetof(DEVINFO, MaxBufferSize), 226);
    ck_assert_uint_eq(offsetof(DEVINFO, Reserved), 230);
    ck_assert_uint_eq(sizeof(DEVINFO), 294);
    ck_assert_uint_eq(offsetof(ECCPUBLICKEYBLOB, XCoordinate), 4);
    ck_assert_uint_eq(offsetof(ECCPUBLICKEYBLOB, YCoordinate), 68);
    ck_assert_uint_eq(offsetof(ECCSIGNATUREBLOB, s), 64);
    ck_assert_uint_eq(offsetof(RSAPUBLICKEYBLOB, Modulus), 8);
    ck_assert_uint_eq(offsetof(RSAPUBLICKEYBLOB, PublicExponent), 264);
    ck_assert_uint_eq(offsetof(FILEATTRIBUTE, FileSize), 32);
    ck_assert_uint_eq(offsetof(FILEATTRIBUTE, WriteRights), 40);
    ck_assert_uint_eq(offsetof(ECCCIPHERBLOB, HASH), 128);
    ck_assert_uint_eq(ECCCIPHERBLOB_SIZE(16), 180);
    ck_assert_uint_eq(offsetof(BLOCKCIPHERPARAM, IVLen), 32);
    ck_assert_uint_eq(offsetof(BLOCKCIPHERPARAM, PaddingType), 36);
    ck_assert_uint_eq(offsetof(BLOCKCIPHERPARAM, FeedBitLen), 40);
}
END_TEST

START_TEST(test_sar_names)
{
    ck_assert_str_eq(tr_skf_sar_name(SAR_OK), "SAR_OK");
    ck_assert_str_eq(tr_skf_sar_name(SAR_PIN_INCORRECT), "SAR_PIN_INCORRECT");
    ck_assert_str_eq(tr_skf_sar_name(SAR_USER_NOT_LOGGED_IN), "SAR_USER_NOT_LOGGED_IN");
    ck_assert_str_eq(tr_skf_sar_name(SAR_FILE_NOT_EXIST), "SAR_FILE_NOT_EXIST");
    /* every code of the standard's contiguous range has a name of its own */
    char seen[SAR_FILE_NOT_EXIST - SAR_FAIL + 1][40];
    for (ULONG c = SAR_FAIL; c <= SAR_FILE_NOT_EXIST; c++) {
        const char *n = tr_skf_sar_name(c);
        ck_assert_msg(strncmp(n, "SAR_", 4) == 0, "0x%08X has no name (%s)", (unsigned)c, n);
        for (ULONG k = SAR_FAIL; k < c; k++)
            ck_assert_str_ne(seen[k - SAR_FAIL], n);
        snprintf(seen[c - SAR_FAIL], sizeof seen[0], "%s", n);
    }
    /* vendor codes and garbage: hex */
    ck_assert_str_eq(tr_skf_sar_name(0x0A000032u), "0x0A000032");
    ck_assert_str_eq(tr_skf_sar_name(0x0A000000u), "0x0A000000");
    ck_assert_str_eq(tr_skf_sar_name(0xFFFFFFFFu), "0xFFFFFFFF");
    ck_assert_str_eq(tr_skf_sar_name(1u), "0x00000001");
}
END_TEST

#define NAME_OF(name, params) #name,
static const char *const FUNCTION_NAMES[] = {TR_SKF_FUNCTIONS(NAME_OF)};
#undef NAME_OF

START_TEST(test_function_table)
{
    size_t n = sizeof FUNCTION_NAMES / sizeof FUNCTION_NAMES[0];
    ck_assert_uint_eq(n, 37);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strncmp(FUNCTION_NAMES[i], "SKF_", 4) == 0, "%s", FUNCTION_NAMES[i]);
        for (size_t k = 0; k < i; k++)
            ck_assert_str_ne(FUNCTION_NAMES[k], FUNCTION_NAMES[i]);
    }
}
END_TEST

static Suite *skf_abi_suite(void)
{
    Suite *s = suite_create("skf_abi");
    TCase *tc = tcase_create("abi");
    tcase_add_test(tc, test_offsets);
    tcase_add_test(tc, test_sar_names);
    tcase_add_test(tc, test_function_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(skf_abi_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
