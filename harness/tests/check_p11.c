/* check_p11 — the PKCS#11 layer (p11.c, p11host.c, libhost.c) and p11data.c.
 *
 * The layer drives the misbehaving test modules of fixtures/p11/testmods
 * (build/libp11test-*.so, $TR_BUILD): a crash ends its own session with
 * TR_E_LIBRARY naming SIGSEGV while another session goes on; a hang (in a
 * call, or in C_Initialize) is TR_E_MUTE after about the timeout with the
 * child reaped; a missing module is TR_E_CONFIG; the trace masks PINs; a
 * size the module lies about is bounded. Then SoftHSM2 (Debian softhsm2),
 * hermetic: a private SOFTHSM2_CONF and token directory in a temp dir, a
 * token made by softhsm2-util, driven through the layer.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "libcall.h"
#include "p11.h"
#include "p11data.h"
#include "childcheck.h"
#include "util.h"

static char mod_crash[512], mod_hang[512];

static void set_mods(void)
{
    const char *b = getenv("TR_BUILD");
    b = b && *b ? b : "build";
    snprintf(mod_crash, sizeof mod_crash, "%s/libp11test-crash.so", b);
    snprintf(mod_hang, sizeof mod_hang, "%s/libp11test-hang.so", b);
}

/* ---- trace capture ---------------------------------------------------------------------- */
static void capture(void *ud, const tr_p11_trace *t)
{
    rows_add(ud, t->function, t->args, t->rv, t->outputs);
}

static tr_p11 *open_mod(const char *mod, double timeout_ms, rows *trace)
{
    tr_p11_opts o = {.module = mod, .call_timeout_ms = timeout_ms, .trace = trace ? capture : NULL, .trace_ud = trace};
    tr_p11 *s = NULL;
    tr_err e;
    ck_assert_msg(tr_p11_open(&o, &s, &e) == 0, "open %s: %s", mod, e.msg);
    return s;
}


static int call_u(tr_p11 *s, const char *fn, uint64_t u0, tr_p11_reply *r, tr_err *e)
{
    tr_p11_args a = {.u = {u0}, .nu = 1};
    return tr_p11_call(s, fn, &a, r, e);
}
static int call_uu(tr_p11 *s, const char *fn, uint64_t u0, uint64_t u1, tr_p11_reply *r, tr_err *e)
{
    tr_p11_args a = {.u = {u0, u1}, .nu = 2};
    return tr_p11_call(s, fn, &a, r, e);
}
static int login(tr_p11 *s, uint64_t who, const char *pin, tr_p11_reply *r, tr_err *e)
{
    tr_p11_args a = {.u = {who}, .nu = 1, .s = {pin}, .ns = 1};
    return tr_p11_call(s, "C_Login", &a, r, e);
}

/* ---- the shape table ---------------------------------------------------------------------- */
START_TEST(test_shape_table)
{
    size_t n;
    const tr_p11_fn_info *t = tr_p11_fn_table(&n);
    ck_assert_uint_eq(n, 22);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_eq(tr_p11_fn_lookup(t[i].name), &t[i]);
        ck_assert_uint_eq(strspn(t[i].in, "uspb"), strlen(t[i].in));
        ck_assert_uint_le(strlen(t[i].in), TR_P11_MAX_ARGS);
        static const char *const kinds[] = {"", "ids", "info", "slotinfo", "tokeninfo", "data"};
        bool known = false;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            known |= !strcmp(t[i].out, kinds[k]);
        ck_assert_msg(known, "%s: out kind '%s'", t[i].name, t[i].out);
    }
    ck_assert_ptr_null(tr_p11_fn_lookup("C_Encrypt"));
    ck_assert_ptr_null(tr_p11_fn_lookup(NULL));
    ck_assert_str_eq(tr_p11_fn_lookup("C_Login")->in, "up");
    ck_assert_str_eq(tr_p11_fn_lookup("C_SetPIN")->in, "pp");
    ck_assert_str_eq(tr_p11_fn_lookup("C_InitPIN")->in, "p");
    ck_assert_str_eq(tr_p11_fn_lookup("find")->in, "usb");
    ck_assert_str_eq(tr_p11_fn_lookup("C_SignInit")->in, "uub");
    ck_assert_str_eq(tr_p11_fn_lookup("C_DecryptInit")->in, "uub");
    ck_assert_str_eq(tr_p11_fn_lookup("C_Decrypt")->out, "data");
    ck_assert_str_eq(tr_p11_fn_lookup("C_GetSlotList")->out, "ids");
    ck_assert_str_eq(tr_p11_fn_lookup("C_WaitForSlotEvent")->outs, "slot");
    const tr_p11_fn_info *ti = tr_p11_fn_lookup("C_GetTokenInfo");
    ck_assert(strstr(ti->outs, "flags,") == ti->outs && strstr(ti->outs, "maxPinLen,minPinLen"));
    ck_assert_str_eq(ti->texts, "label,manufacturerID,model,serialNumber,hardwareVersion,firmwareVersion,utcTime");
}
END_TEST

/* C_SetPIN and C_InitPIN change a PIN: in a run (a journal hook) each must
 * follow a `journal` line; without one it is refused before the module sees
 * it (childcheck.h). The test module has C_SetPIN (it answers
 * CKR_PIN_INVALID) and leaves C_InitPIN out of its function list. */
START_TEST(test_secret_change_needs_journal)
{
    setenv("P11_TESTMOD_FN", "none", 1);
    tr_p11 *s = open_mod(mod_crash, 5000, NULL);
    ck_assert(assert_secret_change_journaled(s, &tr_p11_calls, "p11 C_SetPIN(\"11111111\", \"22222222\")",
                                             "C_SetPIN"));
    assert_secret_change_journaled(s, &tr_p11_calls, "p11 C_InitPIN(\"11111111\")", "C_InitPIN");
    tr_p11_close(s);
}
END_TEST

/* ---- a crash, a hang, no module ------------------------------------------------------------ */
START_TEST(test_crash_is_isolated)
{
    rows tr = {0};
    tr_p11_reply r;
    tr_err e;
    setenv("P11_TESTMOD_FN", "C_GetTokenInfo", 1);
    pidfile_env("P11_TESTMOD_PIDFILE");
    tr_p11 *bad = open_mod(mod_crash, 5000, &tr);
    pid_t pid = child_pid();
    tr_p11 *good = open_mod(mod_hang, 5000, NULL); /* hangs in C_GetTokenInfo: not called */
    ck_assert_str_eq(tr.fn[0], "C_GetFunctionList");
    ck_assert_str_eq(tr.fn[1], "C_Initialize");
    ck_assert_str_eq(tr.rv[1], "CKR_OK");
    ck_assert_int_eq(call_u(bad, "C_GetSlotList", 1, &r, &e), 0);
    ck_assert_uint_eq(r.nids, 1);
    ck_assert_uint_eq(r.ids[0], 7);
    ck_assert_int_eq(call_u(bad, "C_GetTokenInfo", 7, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_LIBRARY);
    ck_assert_msg(strstr(e.msg, "SIGSEGV") && strstr(e.msg, "C_GetTokenInfo") && strstr(e.msg, mod_crash), "%s", e.msg);
    int sig = 0;
    ck_assert(tr_p11_dead(bad, &sig));
    ck_assert_int_eq(sig, SIGSEGV);
    assert_gone(pid);
    ck_assert_str_eq(tr.rv[tr.n - 1], "crash: SIGSEGV");
    ck_assert_str_eq(tr.fn[tr.n - 1], "C_GetTokenInfo");
    ck_assert_int_eq(call_u(bad, "C_GetSlotList", 1, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_LIBRARY);
    ck_assert(!tr_p11_dead(good, NULL));
    ck_assert_int_eq(call_u(good, "C_GetSlotList", 1, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert_uint_eq(r.nids, 1);
    tr_p11_close(bad);
    tr_p11_close(good);
}
END_TEST

START_TEST(test_hang_is_mute)
{
    rows tr = {0};
    tr_p11_reply r;
    tr_err e;
    setenv("P11_TESTMOD_FN", "C_Login", 1);
    pidfile_env("P11_TESTMOD_PIDFILE");
    tr_p11 *s = open_mod(mod_hang, 300, &tr);
    pid_t pid = child_pid();
    ck_assert_int_eq(call_uu(s, "C_OpenSession", 7, 0, &r, &e), 0);
    uint64_t t0 = tr_now_ns();
    ck_assert_int_eq(login(s, CKU_USER, "123456", &r, &e), -1);
    double ms = (tr_now_ns() - t0) / 1e6;
    ck_assert_int_eq(e.code, TR_E_MUTE);
    ck_assert_msg(ms >= 290 && ms < 3000, "the timeout took %.0f ms (300 asked)", ms);
    ck_assert_msg(strstr(e.msg, "C_Login") && strstr(e.msg, "300 ms"), "%s", e.msg);
    ck_assert(tr_p11_dead(s, NULL));
    assert_gone(pid);
    ck_assert_str_eq(tr.rv[tr.n - 1], "timeout");
    ck_assert_str_eq(tr.args[tr.n - 1], "CKU_USER, <pin>");
    ck_assert_int_eq(call_u(s, "C_GetSlotList", 1, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_MUTE);
    tr_p11_close(s); /* no C_Finalize into a dead child */
}
END_TEST

START_TEST(test_hang_in_initialize)
{
    setenv("P11_TESTMOD_FN", "C_Initialize", 1);
    pidfile_env("P11_TESTMOD_PIDFILE");
    tr_p11_opts o = {.module = mod_hang, .call_timeout_ms = 300};
    tr_p11 *s = (tr_p11 *)1;
    tr_err e;
    uint64_t t0 = tr_now_ns();
    ck_assert_int_eq(tr_p11_open(&o, &s, &e), -1);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(e.code, TR_E_MUTE);
    ck_assert_msg((tr_now_ns() - t0) / 1e6 < 3000, "took too long");
    assert_gone(child_pid());
}
END_TEST

START_TEST(test_no_module)
{
    tr_p11_opts o = {.module = "/nonexistent/libnope-pkcs11.so"};
    tr_p11 *s = (tr_p11 *)1;
    tr_err e;
    ck_assert_int_eq(tr_p11_open(&o, &s, &e), -1);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, "/nonexistent/libnope-pkcs11.so") && strstr(e.msg, "No such file"), "%s", e.msg);
    o.module = "/etc/hostname";
    ck_assert_int_eq(tr_p11_open(&o, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    o.module = "no-such-p11-kit-module";
    ck_assert_int_eq(tr_p11_open(&o, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, "no p11-kit module named 'no-such-p11-kit-module'"), "%s", e.msg);
    o.module = "";
    ck_assert_int_eq(tr_p11_open(&o, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
}
END_TEST

/* ---- calls, outputs, the trace ----------------------------------------------------------- */
START_TEST(test_trace_masks_pins)
{
    rows tr = {0};
    tr_p11_reply r;
    tr_err e;
    setenv("P11_TESTMOD_FN", "none", 1);
    tr_p11 *s = open_mod(mod_crash, 5000, &tr);
    ck_assert_int_eq(call_uu(s, "C_OpenSession", 7, CKF_RW_SESSION, &r, &e), 0);
    ck_assert_uint_eq(r.u[0], 0x51);
    ck_assert_int_eq(login(s, CKU_USER, "654321", &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_PIN_INCORRECT");
    ck_assert_int_eq(login(s, CKU_USER, "123456", &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    tr_p11_args c = {.s = {"123456", "99887766"}, .ns = 2};
    ck_assert_int_eq(tr_p11_call(s, "C_SetPIN", &c, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_PIN_INVALID);
    size_t base = 2; /* C_GetFunctionList, C_Initialize */
    ck_assert_str_eq(tr.args[base], "7, CKF_RW_SESSION");
    ck_assert_str_eq(tr.outputs[base], "session=81");
    ck_assert_str_eq(tr.fn[base + 1], "C_Login");
    ck_assert_str_eq(tr.args[base + 1], "CKU_USER, <pin>");
    ck_assert_str_eq(tr.rv[base + 1], "CKR_PIN_INCORRECT");
    ck_assert_str_eq(tr.args[base + 3], "<pin>, <pin>");
    const char *pins[] = {"654321", "123456", "99887766"};
    for (size_t i = 0; i < tr.n; i++)
        for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
            ck_assert_ptr_null(strstr(tr.args[i], pins[k]));
            ck_assert_ptr_null(strstr(tr.outputs[i], pins[k]));
        }
    /* a wrong PIN left its mark in the token's flags */
    ck_assert_int_eq(call_u(s, "C_GetTokenInfo", 7, &r, &e), 0);
    ck_assert(r.u[0] & CKF_USER_PIN_COUNT_LOW);
    tr_p11_close(s);
}
END_TEST

START_TEST(test_outputs)
{
    rows tr = {0};
    tr_p11_reply r;
    tr_err e;
    setenv("P11_TESTMOD_FN", "none", 1);
    tr_p11 *s = open_mod(mod_crash, 5000, &tr);
    ck_assert_int_eq(call_u(s, "C_GetTokenInfo", 7, &r, &e), 0);
    ck_assert_uint_eq(r.ntext, 7);
    ck_assert_str_eq(r.text[0], "TESTMOD");
    ck_assert_str_eq(r.text[2], "testmod");
    ck_assert_str_eq(r.text[3], "0123456789ABCDEF");
    ck_assert_str_eq(r.text[4], "1.2");
    ck_assert_str_eq(r.text[5], "3.4");
    ck_assert_uint_eq(r.nu, 11);
    ck_assert_uint_eq(r.u[0], CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED);
    ck_assert_uint_eq(r.u[5], 32);
    ck_assert_uint_eq(r.u[6], 4);
    ck_assert_uint_eq(r.u[7], UINT64_MAX); /* CK_UNAVAILABLE_INFORMATION, 64 bits */
    ck_assert_msg(strstr(tr.outputs[tr.n - 1], "label=\"TESTMOD\"") && strstr(tr.outputs[tr.n - 1], "flags=0x40C"),
                  "%s", tr.outputs[tr.n - 1]);
    ck_assert_int_eq(call_u(s, "C_GetMechanismList", 7, &r, &e), 0);
    ck_assert_uint_eq(r.nids, 2);
    ck_assert_uint_eq(r.ids[0], CKM_ECDSA);
    ck_assert_str_eq(tr.outputs[tr.n - 2], "size=2");
    ck_assert_str_eq(tr.args[tr.n - 2], "7, NULL");
    ck_assert_int_eq(call_uu(s, "C_GetMechanismInfo", 7, CKM_ECDSA, &r, &e), 0);
    ck_assert_uint_eq(r.u[0], 256);
    ck_assert_str_eq(tr.args[tr.n - 1], "7, CKM_ECDSA");
    ck_assert_int_eq(call_uu(s, "C_OpenSession", 7, 0, &r, &e), 0);
    /* find: one handle per C_FindObjects from this module, the layer loops */
    static const uint8_t id01[] = {1};
    tr_p11_args f = {.u = {TR_P11_ANY}, .nu = 1, .s = {"sign"}, .ns = 1, .b = {id01}, .blen = {1}, .nb = 1};
    size_t before = tr.n;
    ck_assert_int_eq(tr_p11_call(s, "find", &f, &r, &e), 0);
    ck_assert_uint_eq(r.nids, 2);
    ck_assert_uint_eq(r.ids[0], 1);
    ck_assert_uint_eq(r.ids[1], 3);
    ck_assert_uint_eq(tr.n - before, 5); /* init, 1, 1, 0, final */
    ck_assert_str_eq(tr.fn[before], "C_FindObjectsInit");
    ck_assert_str_eq(tr.args[before], "any, \"sign\", [1] 01");
    ck_assert_str_eq(tr.fn[before + 3], "C_FindObjects");
    ck_assert_str_eq(tr.outputs[before + 3], "count=0");
    ck_assert_str_eq(tr.fn[before + 4], "C_FindObjectsFinal");
    tr_p11_args fc = {.u = {CKO_DATA}, .nu = 1, .s = {""}, .ns = 1, .nb = 1};
    ck_assert_int_eq(tr_p11_call(s, "find", &fc, &r, &e), 0);
    ck_assert_uint_eq(r.nids, 1);
    ck_assert_uint_eq(r.ids[0], 2);
    /* attributes: the two-call size pattern; sensitive; a lie bounded */
    ck_assert_int_eq(call_uu(s, "C_GetAttributeValue", 1, CKA_LABEL, &r, &e), 0);
    ck_assert_uint_eq(r.nout, 4);
    ck_assert_mem_eq(r.out, "sign", 4);
    ck_assert_int_eq(call_uu(s, "C_GetAttributeValue", 3, CKA_VALUE, &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_ATTRIBUTE_SENSITIVE");
    ck_assert_int_eq(call_uu(s, "C_GetAttributeValue", 2, CKA_VALUE, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_TOKEN);
    ck_assert_msg(strstr(e.msg, "claims 1099511627776"), "%s", e.msg);
    ck_assert(!tr_p11_dead(s, NULL));
    uint64_t cls;
    ck_assert_int_eq(call_uu(s, "C_GetAttributeValue", 1, CKA_CLASS, &r, &e), 0);
    ck_assert_int_eq(tr_p11_attr_ulong(r.out, r.nout, &cls, &e), 0);
    ck_assert_uint_eq(cls, CKO_CERTIFICATE);
    /* signing: the size, then the signature */
    tr_p11_args si = {.u = {CKM_ECDSA, 3}, .nu = 2, .nb = 1};
    ck_assert_int_eq(tr_p11_call(s, "C_SignInit", &si, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    static const uint8_t digest[32] = {1, 2, 3};
    tr_p11_args sg = {.b = {digest}, .blen = {32}, .nb = 1};
    ck_assert_int_eq(tr_p11_call(s, "C_Sign", &sg, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert_uint_eq(r.nout, 64);
    ck_assert_uint_eq(r.out[63], 0xAB);
    /* the function list's holes, a shape mismatch, an unknown call */
    ck_assert(!tr_p11_has(s, "C_InitPIN"));
    tr_p11_args ip = {.s = {"1234"}, .ns = 1};
    ck_assert_int_eq(tr_p11_call(s, "C_InitPIN", &ip, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_int_eq(call_uu(s, "C_Login", 1, 2, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_int_eq(tr_p11_call(s, "C_Encrypt", NULL, &r, &e), -1);
    ck_assert_int_eq(call_u(s, "C_WaitForSlotEvent", CKF_DONT_BLOCK, &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_NO_EVENT");
    tr.n = 0;
    tr_p11_close(s);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_str_eq(tr.fn[0], "C_Finalize");
    ck_assert_str_eq(tr.rv[0], "CKR_OK");
}
END_TEST

/* ---- p11data ---------------------------------------------------------------------------- */
START_TEST(test_names_and_readers)
{
    ck_assert_str_eq(tr_p11_rv_name(CKR_PIN_LOCKED), "CKR_PIN_LOCKED");
    ck_assert_str_eq(tr_p11_rv_name(CKR_OK), "CKR_OK");
    ck_assert_str_eq(tr_p11_rv_name(0x1234), "0x00001234");
    ck_assert_str_eq(tr_p11_rv_name(CKR_VENDOR_DEFINED + 0x12), "CKR_VENDOR_DEFINED+0x12");
    uint64_t v;
    ck_assert_int_eq(tr_p11_rv_value("CKR_PIN_INCORRECT", &v), 0);
    ck_assert_uint_eq(v, CKR_PIN_INCORRECT);
    ck_assert_int_eq(tr_p11_mech_value("CKM_SHA256_RSA_PKCS", &v), 0);
    ck_assert_uint_eq(v, CKM_SHA256_RSA_PKCS);
    ck_assert_int_eq(tr_p11_attr_value("CKA_NOPE", &v), -1);
    ck_assert_str_eq(tr_p11_mech_name(CKM_EC_KEY_PAIR_GEN), "CKM_EC_KEY_PAIR_GEN");
    ck_assert_str_eq(tr_p11_class_name(CKO_PRIVATE_KEY), "CKO_PRIVATE_KEY");
    ck_assert_ptr_null(tr_p11_class_name(99));
    char buf[256];
    ck_assert_str_eq(tr_p11_flags_text(TR_P11_FLAGS_TOKEN,
                                       CKF_USER_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED |
                                           (1ul << 30),
                                       buf, sizeof buf),
                     "USER_PIN_FINAL_TRY|USER_PIN_TO_BE_CHANGED|SO_PIN_LOCKED|0x40000000");
    ck_assert_str_eq(tr_p11_flags_text(TR_P11_FLAGS_TOKEN, 0, buf, sizeof buf), "");
    tr_p11_token t;
    tr_err e;
    CK_TOKEN_INFO ti;
    memset(&ti, ' ', sizeof ti);
    memcpy(ti.label, "A\x01\xff", 3);
    ck_assert_int_eq(tr_p11_token_parse((const uint8_t *)&ti, sizeof ti - 1, &t, &e), -1);
    ck_assert_int_eq(e.code, TR_E_TOKEN);
    ck_assert_int_eq(tr_p11_token_parse((const uint8_t *)&ti, sizeof ti, &t, &e), 0);
    ck_assert_str_eq(t.label, "A\\x01\\xFF");
    ck_assert_str_eq(t.serial, "");
    uint8_t four[4] = {0};
    ck_assert_int_eq(tr_p11_attr_ulong(four, 4, &v, &e), -1);
    bool b;
    ck_assert_int_eq(tr_p11_attr_bool(four, 1, &b, &e), 0);
    ck_assert(!b);
    uint64_t ids[2];
    size_t n;
    ck_assert_int_eq(tr_p11_ids_parse(four, 4, ids, 2, &n, &e), -1);
    uint8_t three[24] = {0};
    ck_assert_int_eq(tr_p11_ids_parse(three, 24, ids, 2, &n, &e), -1);
    ck_assert_int_eq(tr_p11_ids_parse(three, 16, ids, 2, &n, &e), 0);
    ck_assert_uint_eq(n, 2);
}
END_TEST

/* ---- SoftHSM2, hermetic ------------------------------------------------------------------- */
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static char hsm_dir[128];

/* A private SOFTHSM2_CONF and token directory; a token "T" (user PIN
 * 12345678, SO PIN 88888888) made by softhsm2-util. */
static void softhsm_setup(void)
{
    ck_assert_msg(access(SOFTHSM, R_OK) == 0, "%s missing (Debian softhsm2: bash ci/deps.sh)", SOFTHSM);
    snprintf(hsm_dir, sizeof hsm_dir, "/tmp/check_p11.hsm.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(hsm_dir));
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/tokens", hsm_dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/softhsm2.conf", hsm_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n", hsm_dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    snprintf(cmd, sizeof cmd,
             "softhsm2-util --init-token --free --label T --pin 12345678 --so-pin 88888888 >%s/init.log 2>&1", hsm_dir);
    ck_assert_msg(system(cmd) == 0, "softhsm2-util --init-token failed (see %s/init.log)", hsm_dir);
}

static void softhsm_teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", hsm_dir);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("SOFTHSM2_CONF");
}

START_TEST(test_softhsm2)
{
    softhsm_setup();
    rows tr = {0};
    tr_p11_reply r;
    tr_err e;
    tr_p11 *s = open_mod(SOFTHSM, 10000, &tr);
    ck_assert_int_eq(call_u(s, "C_GetSlotList", CK_TRUE, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    /* the initialized token, and the next free slot's uninitialized one */
    ck_assert_uint_eq(r.nids, 2);
    uint64_t slot = r.ids[0], free_slot = r.ids[1];
    ck_assert_int_eq(call_u(s, "C_GetTokenInfo", free_slot, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert(!(r.u[0] & CKF_TOKEN_INITIALIZED));
    ck_assert_int_eq(call_u(s, "C_GetTokenInfo", slot, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert_str_eq(r.text[0], "T");
    ck_assert_str_eq(r.text[1], "SoftHSM project");
    ck_assert(r.u[0] & CKF_TOKEN_INITIALIZED);
    ck_assert(r.u[0] & CKF_USER_PIN_INITIALIZED);
    ck_assert_int_eq(call_uu(s, "C_OpenSession", slot, CKF_RW_SESSION, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert_int_eq(login(s, CKU_USER, "00000000", &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_PIN_INCORRECT");
    ck_assert_int_eq(login(s, CKU_USER, "12345678", &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_OK");
    ck_assert_int_eq(tr_p11_call(s, "C_GetSessionInfo", NULL, &r, &e), 0);
    ck_assert_uint_eq(r.u[1], CKS_RW_USER_FUNCTIONS);
    ck_assert_int_eq(tr_p11_call(s, "C_Logout", NULL, &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_OK");
    /* SoftHSM2 2.6 answers a second C_Logout with CKR_OK, where the
     * standard says CKR_USER_NOT_LOGGED_IN: asserted, so a change shows */
    ck_assert_int_eq(tr_p11_call(s, "C_Logout", NULL, &r, &e), 0);
    ck_assert_str_eq(tr_p11_rv_name(r.rv), "CKR_OK");
    ck_assert_int_eq(tr_p11_call(s, "C_GetSessionInfo", NULL, &r, &e), 0);
    ck_assert_uint_eq(r.u[1], CKS_RW_PUBLIC_SESSION);
    /* a module restart (p11slot's power cycle): unloaded, every call is an
     * error saying so; loaded again in a new child, the login is gone and
     * what the token keeps in files is there */
    ck_assert_int_eq(login(s, CKU_USER, "12345678", &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    tr_p11_unload(s);
    ck_assert_int_eq(call_u(s, "C_GetSlotList", CK_TRUE, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_LIBRARY);
    ck_assert_ptr_nonnull(strstr(e.msg, "is unloaded"));
    ck_assert_int_eq(tr_p11_load(s, &e), 0);
    ck_assert_int_eq(tr_p11_load(s, &e), -1); /* loaded already */
    ck_assert_int_eq(call_u(s, "C_GetSlotList", CK_TRUE, &r, &e), 0);
    ck_assert_uint_eq(r.nids, 2);
    ck_assert_int_eq(call_uu(s, "C_OpenSession", slot, CKF_RW_SESSION, &r, &e), 0);
    ck_assert_uint_eq(r.rv, CKR_OK);
    ck_assert_int_eq(tr_p11_call(s, "C_GetSessionInfo", NULL, &r, &e), 0);
    ck_assert_uint_eq(r.u[1], CKS_RW_PUBLIC_SESSION);
    ck_assert_int_eq(call_u(s, "C_GetTokenInfo", slot, &r, &e), 0);
    ck_assert_str_eq(r.text[0], "T");
    for (size_t i = 0; i < tr.n; i++) {
        ck_assert_ptr_null(strstr(tr.args[i], "12345678"));
        ck_assert_ptr_null(strstr(tr.args[i], "00000000"));
    }
    tr_p11_close(s);
    softhsm_teardown();
}
END_TEST

static Suite *p11_suite(void)
{
    Suite *s = suite_create("p11");
    TCase *layer = tcase_create("layer");
    tcase_set_timeout(layer, 30);
    tcase_add_test(layer, test_shape_table);
    tcase_add_test(layer, test_crash_is_isolated);
    tcase_add_test(layer, test_hang_is_mute);
    tcase_add_test(layer, test_hang_in_initialize);
    tcase_add_test(layer, test_no_module);
    tcase_add_test(layer, test_trace_masks_pins);
    tcase_add_test(layer, test_outputs);
    tcase_add_test(layer, test_secret_change_needs_journal);
    suite_add_tcase(s, layer);
    TCase *data = tcase_create("p11data");
    tcase_add_test(data, test_names_and_readers);
    suite_add_tcase(s, data);
    TCase *hsm = tcase_create("softhsm2");
    tcase_set_timeout(hsm, 60);
    tcase_add_test(hsm, test_softhsm2);
    suite_add_tcase(s, hsm);
    return s;
}

int main(void)
{
    set_mods();
    SRunner *r = srunner_create(p11_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
