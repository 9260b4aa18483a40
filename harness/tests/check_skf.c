/* check_skf — the SKF layer (skf.c, skfhost.c) and skfdata.c.
 *
 * The layer drives the misbehaving test libraries of fixtures/skf/testlibs
 * (build/libskftest-*.so, $TR_BUILD): a crash ends its own session with
 * TR_E_LIBRARY naming SIGSEGV while another session goes on; a hang is
 * TR_E_MUTE after about the call timeout with the child reaped; a missing
 * function is TR_E_CONFIG naming it; the trace masks PINs. skfdata's
 * readers are fed the edge cases a vendor library produces. $TR_PKI gives
 * certificates for the ECCPUBLICKEYBLOB of a certificate.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "interp.h"
#include "libcall.h"
#include "script.h"
#include "skf.h"
#include "skf_abi.h"
#include "skfdata.h"
#include "childcheck.h"
#include "util.h"

static char lib_crash[512], lib_hang[512], lib_missing[512];

static void set_libs(void)
{
    const char *b = getenv("TR_BUILD");
    b = b && *b ? b : "build";
    snprintf(lib_crash, sizeof lib_crash, "%s/libskftest-crash.so", b);
    snprintf(lib_hang, sizeof lib_hang, "%s/libskftest-hang.so", b);
    snprintf(lib_missing, sizeof lib_missing, "%s/libskftest-missing.so", b);
}

/* ---- trace capture ---------------------------------------------------------------------- */
static void capture(void *ud, const tr_skf_trace *t)
{
    rows_add(ud, t->function, t->args, t->sar, t->outputs);
}

static tr_skf *open_lib(const char *lib, double timeout_ms, rows *trace)
{
    tr_skf_opts o = {.library = lib, .call_timeout_ms = timeout_ms, .trace = trace ? capture : NULL, .trace_ud = trace};
    tr_skf *s = NULL;
    tr_err e;
    ck_assert_msg(tr_skf_open(&o, &s, &e) == 0, "open %s: %s", lib, e.msg);
    return s;
}

/* The test library's process: it wrote its PID to $SKF_TESTLIB_PIDFILE. */

static int call0(tr_skf *s, const char *fn, tr_skf_reply *r, tr_err *e)
{
    return tr_skf_call(s, fn, NULL, r, e);
}
static int call_u(tr_skf *s, const char *fn, uint32_t u, tr_skf_reply *r, tr_err *e)
{
    tr_skf_args a = {.u = {u}, .nu = 1};
    return tr_skf_call(s, fn, &a, r, e);
}
static int call_s(tr_skf *s, const char *fn, const char *str, tr_skf_reply *r, tr_err *e)
{
    tr_skf_args a = {.s = {str}, .ns = 1};
    return tr_skf_call(s, fn, &a, r, e);
}

/* ---- the shape table ---------------------------------------------------------------------- */
START_TEST(test_shape_table)
{
#define NAME(name, params) #name,
    static const char *const names[] = {TR_SKF_FUNCTIONS(NAME)};
#undef NAME
    size_t n;
    const tr_skf_fn_info *t = tr_skf_fn_table(&n);
    ck_assert_uint_eq(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(t[i].name && !strcmp(t[i].name, names[i]), "row %zu is %s, not %s", i, t[i].name, names[i]);
        ck_assert_ptr_eq(tr_skf_fn_lookup(names[i]), &t[i]);
        ck_assert_uint_eq(strspn(t[i].in, "uspb"), strlen(t[i].in));
        ck_assert_uint_le(strlen(t[i].in), 4);
        static const char *const kinds[] = {"", "list", "devinfo", "fileattr", "cert", "blob", "data", "name"};
        bool known = false;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            known |= !strcmp(t[i].out, kinds[k]);
        ck_assert_msg(known, "%s: out kind '%s'", t[i].name, t[i].out);
    }
    ck_assert_ptr_null(tr_skf_fn_lookup("SKF_GetFuncList"));
    ck_assert_ptr_null(tr_skf_fn_lookup(NULL));
    const tr_skf_fn_info *f = tr_skf_fn_lookup("SKF_GetPINInfo");
    ck_assert_str_eq(f->in, "u");
    ck_assert_str_eq(f->outs, "max,remain,default");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_ChangePIN")->in, "upp");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_UnblockPIN")->in, "pp");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_DigestInit")->in, "ubb");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_GetFileInfo")->outs, "size,read,write");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_ReadFile")->in, "suu");
    ck_assert_str_eq(tr_skf_fn_lookup("SKF_WaitForDevEvent")->out, "name");
}
END_TEST

/* ---- a crash, a hang, a missing function, no library ------------------------------------- */
START_TEST(test_crash_is_isolated)
{
    rows tr = {0};
    tr_skf_reply r;
    tr_err e;
    setenv("SKF_TESTLIB_FN", "SKF_GetDevInfo", 1);
    pidfile_env("SKF_TESTLIB_PIDFILE");
    tr_skf *bad = open_lib(lib_crash, 5000, &tr);
    pid_t pid = child_pid();
    tr_skf *good = open_lib(lib_missing, 5000, NULL);
    ck_assert_int_eq(call_u(bad, "SKF_EnumDev", TRUE, &r, &e), 0);
    ck_assert_int_eq(call_s(bad, "SKF_ConnectDev", "TESTLIB-1", &r, &e), 0);
    ck_assert_int_eq(call0(bad, "SKF_GetDevInfo", &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_LIBRARY);
    ck_assert_msg(strstr(e.msg, "SIGSEGV") && strstr(e.msg, "SKF_GetDevInfo") && strstr(e.msg, lib_crash), "%s", e.msg);
    int sig = 0;
    ck_assert(tr_skf_dead(bad, &sig));
    ck_assert_int_eq(sig, SIGSEGV);
    assert_gone(pid);
    ck_assert_str_eq(tr.rv[tr.n - 1], "crash: SIGSEGV");
    ck_assert_str_eq(tr.fn[tr.n - 1], "SKF_GetDevInfo");
    /* the dead session stays dead; the other goes on */
    ck_assert_int_eq(call_u(bad, "SKF_EnumDev", TRUE, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_LIBRARY);
    ck_assert(!tr_skf_dead(good, NULL));
    ck_assert_int_eq(call_u(good, "SKF_EnumDev", TRUE, &r, &e), 0);
    ck_assert_uint_eq(r.sar, SAR_OK);
    ck_assert_uint_eq(r.nout, 11);
    ck_assert_mem_eq(r.out, "TESTLIB-1\0", 11);
    tr_skf_close(bad);
    tr_skf_close(good);
}
END_TEST

START_TEST(test_hang_is_mute)
{
    rows tr = {0};
    tr_skf_reply r;
    tr_err e;
    unsetenv("SKF_TESTLIB_FN"); /* SKF_EnumDev */
    pidfile_env("SKF_TESTLIB_PIDFILE");
    tr_skf *s = open_lib(lib_hang, 300, &tr);
    pid_t pid = child_pid();
    uint64_t t0 = tr_now_ns();
    ck_assert_int_eq(call_u(s, "SKF_EnumDev", TRUE, &r, &e), -1);
    double ms = (tr_now_ns() - t0) / 1e6;
    ck_assert_int_eq(e.code, TR_E_MUTE);
    ck_assert_msg(ms >= 290 && ms < 3000, "the timeout took %.0f ms (300 asked)", ms);
    ck_assert_msg(strstr(e.msg, "SKF_EnumDev") && strstr(e.msg, "300 ms"), "%s", e.msg);
    ck_assert(tr_skf_dead(s, NULL));
    assert_gone(pid);
    ck_assert_str_eq(tr.rv[tr.n - 1], "timeout");
    ck_assert_int_eq(call_u(s, "SKF_EnumDev", TRUE, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_MUTE);
    tr_skf_close(s);
}
END_TEST

START_TEST(test_missing_function)
{
    tr_skf_reply r;
    tr_err e;
    tr_skf *s = open_lib(lib_missing, 5000, NULL);
    ck_assert(tr_skf_has(s, "SKF_EnumDev"));
    ck_assert(!tr_skf_has(s, "SKF_GetPINInfo"));
    ck_assert(!tr_skf_has(s, "SKF_EnumFiles"));
    ck_assert(!tr_skf_has(s, "SKF_NoSuch"));
    ck_assert_int_eq(call_u(s, "SKF_GetPINInfo", USER_TYPE, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, "SKF_GetPINInfo") && strstr(e.msg, lib_missing), "%s", e.msg);
    ck_assert(!tr_skf_dead(s, NULL));
    ck_assert_int_eq(call_u(s, "SKF_EnumDev", TRUE, &r, &e), 0);
    ck_assert_int_eq(call0(s, "SKF_NoSuch", &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    tr_skf_close(s);
}
END_TEST

START_TEST(test_no_library)
{
    tr_skf_opts o = {.library = "/nonexistent/libskf-nope.so"};
    tr_skf *s = (tr_skf *)1;
    tr_err e;
    ck_assert_int_eq(tr_skf_open(&o, &s, &e), -1);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, "/nonexistent/libskf-nope.so") && strstr(e.msg, "No such file"), "%s", e.msg);
    /* not a library at all */
    o.library = "/etc/hostname";
    ck_assert_int_eq(tr_skf_open(&o, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    o.library = "";
    ck_assert_int_eq(tr_skf_open(&o, &s, &e), -1);
    o.library = lib_missing, o.out_width = 5;
    ck_assert_int_eq(tr_skf_open(&o, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
}
END_TEST

static size_t count_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

START_TEST(test_close_reaps)
{
    setenv("SKF_TESTLIB_FN", "none", 1);
    pidfile_env("SKF_TESTLIB_PIDFILE");
    size_t fds = count_fds();
    tr_skf *s = open_lib(lib_hang, 5000, NULL);
    pid_t pid = child_pid();
    ck_assert_int_eq(kill(pid, 0), 0);
    tr_skf_close(s);
    assert_gone(pid);
    ck_assert_uint_eq(count_fds(), fds);
    tr_skf_close(NULL);
}
END_TEST

/* ---- calls, outputs, the trace ----------------------------------------------------------- */
START_TEST(test_trace_masks_pins)
{
    rows tr = {0};
    tr_skf_reply r;
    tr_err e;
    tr_skf *s = open_lib(lib_missing, 5000, &tr);
    ck_assert_int_eq(call_s(s, "SKF_ConnectDev", "TESTLIB-1", &r, &e), 0);
    ck_assert_int_eq(call_s(s, "SKF_OpenApplication", "APP1", &r, &e), 0);
    tr_skf_args v = {.u = {USER_TYPE}, .nu = 1, .s = {"12345678"}, .ns = 1};
    ck_assert_int_eq(tr_skf_call(s, "SKF_VerifyPIN", &v, &r, &e), 0);
    ck_assert_uint_eq(r.sar, SAR_NOTSUPPORTYETERR);
    tr_skf_args c = {.u = {ADMIN_TYPE}, .nu = 1, .s = {"87654321", "11223344"}, .ns = 2};
    ck_assert_int_eq(tr_skf_call(s, "SKF_ChangePIN", &c, &r, &e), 0);
    tr_skf_args u = {.s = {"adminpin", "newuser1"}, .ns = 2};
    ck_assert_int_eq(tr_skf_call(s, "SKF_UnblockPIN", &u, &r, &e), 0);
    ck_assert_uint_eq(tr.n, 5);
    ck_assert_str_eq(tr.fn[2], "SKF_VerifyPIN");
    ck_assert_str_eq(tr.args[2], "USER_TYPE, <pin>");
    ck_assert_str_eq(tr.rv[2], "SAR_NOTSUPPORTYETERR");
    ck_assert_str_eq(tr.args[3], "ADMIN_TYPE, <pin>, <pin>");
    ck_assert_str_eq(tr.args[4], "<pin>, <pin>");
    const char *pins[] = {"12345678", "87654321", "11223344", "adminpin", "newuser1", "3132333435"};
    for (size_t i = 0; i < tr.n; i++)
        for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
            ck_assert_ptr_null(strstr(tr.args[i], pins[k]));
            ck_assert_ptr_null(strstr(tr.outputs[i], pins[k]));
        }
    ck_assert_str_eq(tr.args[0], "\"TESTLIB-1\"");
    tr_skf_close(s);
}
END_TEST

START_TEST(test_outputs)
{
    rows tr = {0};
    tr_skf_reply r;
    tr_err e;
    setenv("SKF_TESTLIB_FN", "none", 1);
    tr_skf *s = open_lib(lib_crash, 5000, &tr);
    ck_assert_int_eq(call_u(s, "SKF_EnumDev", TRUE, &r, &e), 0);
    ck_assert_uint_eq(tr.n, 2); /* the size query, then the call */
    ck_assert_str_eq(tr.args[0], "TRUE, NULL");
    ck_assert_str_eq(tr.outputs[0], "size=11");
    ck_assert_str_eq(tr.args[1], "TRUE");
    ck_assert_str_eq(tr.outputs[1], "list=[\"TESTLIB-1\"]");
    ck_assert_int_eq(call_s(s, "SKF_ConnectDev", "TESTLIB-1", &r, &e), 0);
    ck_assert_int_eq(call0(s, "SKF_GetDevInfo", &r, &e), 0);
    ck_assert_uint_eq(r.nout, 294);
    tr_skf_devinfo di;
    ck_assert_int_eq(tr_skf_devinfo_parse(r.out, r.nout, &di, &e), 0);
    ck_assert_str_eq(di.label, "\\xB2\\xE2\\xCA\\xD4");
    ck_assert_str_eq(di.serial, "TL000000000000000000000000000032");
    ck_assert_str_eq(di.manufacturer, "testlib");
    ck_assert_int_eq(call_s(s, "SKF_OpenApplication", "APP1", &r, &e), 0);
    ck_assert_int_eq(call_u(s, "SKF_GetPINInfo", USER_TYPE, &r, &e), 0);
    ck_assert_uint_eq(r.nu, 3);
    ck_assert_uint_eq(r.u[0], 6);
    ck_assert_uint_eq(r.u[1], 6);
    ck_assert_uint_eq(r.u[2], 1);
    ck_assert_str_eq(tr.outputs[tr.n - 1], "max=6 remain=6 default=1");
    ck_assert_str_eq(tr.args[tr.n - 1], "USER_TYPE");
    ck_assert_int_eq(call_s(s, "SKF_GetFileInfo", "VENDOR_SEAL.bin", &r, &e), 0);
    ck_assert_uint_eq(r.u[0], 16);
    ck_assert_uint_eq(r.u[1], 0xFF);
    ck_assert_uint_eq(r.u[2], 1);
    ck_assert_uint_eq(r.nout, 44);
    tr_skf_args rd = {.s = {"VENDOR_SEAL.bin"}, .ns = 1, .u = {0, 16}, .nu = 2};
    ck_assert_int_eq(tr_skf_call(s, "SKF_ReadFile", &rd, &r, &e), 0);
    ck_assert_uint_eq(r.nout, 16);
    ck_assert_mem_eq(r.out, "not a seal 12345", 16);
    /* the caller's size is capped; shapes are checked; the session lives on */
    ck_assert_int_eq(call_u(s, "SKF_GenRandom", 2u << 20, &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_int_eq(call0(s, "SKF_GetPINInfo", &r, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_int_eq(call_u(s, "SKF_GetDevState", 1, &r, &e), -1);
    ck_assert(!tr_skf_dead(s, NULL));
    ck_assert_int_eq(call_s(s, "SKF_GetDevState", "TESTLIB-1", &r, &e), 0);
    ck_assert_uint_eq(r.u[0], DEV_PRESENT_STATE);
    ck_assert_int_eq(call0(s, "SKF_DisConnectDev", &r, &e), 0);
    ck_assert_uint_eq(r.sar, SAR_OK);
    tr_skf_close(s);
}
END_TEST

/* ---- the suite language's skf statement (interp.c, skfstmt.c) ------------------------------ */

static const char SKF_SUITE[] =
    "suite \"skf\"\n"
    "test \"calls\" {\n"
    "  skf SKF_EnumDev(TRUE)\n"
    "  assert SAR == \"SAR_OK\" && SKF_LIST == \"TESTLIB-1\" && SKF_COUNT == 1 \"list ${SKF_LIST}\"\n"
    "  skf SKF_ConnectDev(list_item(SKF_LIST, 0))\n"
    "  skf SKF_GetDevInfo()\n"
    "  assert SKF_SERIAL == \"TL000000000000000000000000000032\" && SKF_MANUFACTURER == \"testlib\" \"devinfo\"\n"
    "  skf SKF_OpenApplication(\"APP1\")\n"
    "  skf SKF_GetPINInfo(USER_TYPE)\n"
    "  assert SKF_MAX == 6 && SKF_REMAIN == 6 && SKF_DEFAULT == 1 \"pin info ${SKF_REMAIN}/${SKF_MAX}\"\n"
    "  skf SKF_VerifyPIN(USER_TYPE, \"654321\")\n"
    "  assert SAR == \"SAR_NOTSUPPORTYETERR\" && SAR_CODE == 167772163 \"verify ${SAR}\"\n"
    "  skf SKF_ReadFile(\"VENDOR_SEAL.bin\", 0, 16)\n"
    "  assert SKF_OUTLEN == 16 && !seal_like(SKF_OUT) && SKF_OUT == asciihex(\"not a seal 12345\") \"read\"\n"
    "}\n"
    "test \"an APDU on an SKF slot\" {\n"
    "  00 A4 04 00\n"
    "}\n";

/* The interpreter's trace rows of the calls (it takes the layer's trace
 * over for the length of a suite). */
typedef struct {
    size_t n;
    bool pin_masked, pin_seen;
} stmt_rows;
static void stmt_trace(void *ud, const tr_trace_row *row)
{
    stmt_rows *r = ud;
    r->n++;
    r->pin_masked |= !strcmp(row->command, "SKF_VerifyPIN(USER_TYPE, <pin>)") && !strcmp(row->sw, "SAR_NOTSUPPORTYETERR");
    r->pin_seen |= strstr(row->command, "654321") != NULL;
}

START_TEST(test_statement)
{
    stmt_rows tr = {0};
    setenv("SKF_TESTLIB_FN", "none", 1);
    tr_skf *s = open_lib(lib_crash, 5000, NULL);
    tr_suite *suite = NULL;
    tr_err e;
    ck_assert_msg(tr_suite_parse(SKF_SUITE, sizeof SKF_SUITE - 1, "skf.tsuite", &suite, &e) == 0, "%s", e.msg);
    tr_cardio io = {.ctx = s};
    tr_interp_hooks hooks = {.ud = &tr, .trace = stmt_trace};
    tr_interp_env env = {.card = &io, .lib = s, .lib_iface = &tr_skf_calls, .hooks = &hooks};
    tr_suite_outcome out;
    ck_assert_int_eq(tr_interp_run(suite, &env, &out, &e), 0);
    ck_assert_uint_eq(out.counts[TR_PASS], 1);
    ck_assert_uint_eq(out.counts[TR_ERROR], 1); /* the APDU: a suite error, nothing sent */
    ck_assert_uint_eq(tr.n, 8); /* a row per vendor call: EnumDev's size query and call, then one each */
    ck_assert_msg(tr.pin_masked && !tr.pin_seen, "the PIN of SKF_VerifyPIN is masked in its trace row");
    tr_suite_free(suite);
    tr_skf_close(s);
    /* the parser knows every function's argument count */
    static const char *const bad[] = {"skf SKF_Nothing()\n", "skf SKF_GetPINInfo()\n",
                                      "skf SKF_VerifyPIN(USER_TYPE)\n", "skf SKF_EnumDev TRUE\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_msg(tr_suite_parse(bad[k], strlen(bad[k]), "bad.tsuite", &suite, &e) < 0, "%s parsed", bad[k]);
        ck_assert_int_eq(e.code, TR_E_PARSE);
    }
}
END_TEST

/* SKF_ChangePIN and SKF_UnblockPIN change a PIN: in a run (a journal hook)
 * each must follow a `journal` line; without one it is refused before the
 * library sees it (childcheck.h). */
START_TEST(test_secret_change_needs_journal)
{
    setenv("SKF_TESTLIB_FN", "none", 1);
    tr_skf *s = open_lib(lib_crash, 5000, NULL);
    ck_assert(assert_secret_change_journaled(s, &tr_skf_calls, "skf SKF_ChangePIN(USER_TYPE, \"11111111\", \"22222222\")",
                                             "SKF_ChangePIN"));
    ck_assert(assert_secret_change_journaled(s, &tr_skf_calls, "skf SKF_UnblockPIN(\"88888888\", \"11111111\")",
                                             "SKF_UnblockPIN"));
    tr_skf_close(s);
}
END_TEST

START_TEST(test_devinfo_quirk)
{
    tr_skf_reply r;
    tr_err e;
    setenv("SKF_TESTLIB_FN", "none", 1);
    tr_skf_opts o = {.library = lib_crash, .devinfo_size = 286, .out_width = 4};
    tr_skf *s;
    ck_assert_int_eq(tr_skf_open(&o, &s, &e), 0);
    ck_assert_int_eq(call_s(s, "SKF_ConnectDev", "TESTLIB-1", &r, &e), 0);
    ck_assert_int_eq(call0(s, "SKF_GetDevInfo", &r, &e), 0);
    ck_assert_uint_eq(r.nout, 286);
    tr_skf_devinfo di;
    ck_assert_int_eq(tr_skf_devinfo_parse(r.out, r.nout, &di, &e), 0);
    ck_assert(!di.has_buffer_sizes);
    ck_assert_uint_eq(di.total_space, 65536);
    tr_skf_close(s);
}
END_TEST

/* out_width 4: a library that writes 8 bytes into a ULONG output is caught;
 * with the default 8 the same library is read right. */
START_TEST(test_out_width_quirk)
{
    tr_skf_reply r;
    tr_err e;
    setenv("SKF_TESTLIB_FN", "none", 1);
    setenv("SKF_TESTLIB_WIDE", "1", 1);
    for (unsigned width = 4; width <= 8; width += 4) {
        tr_skf_opts o = {.library = lib_crash, .out_width = width};
        tr_skf *s;
        ck_assert_int_eq(tr_skf_open(&o, &s, &e), 0);
        ck_assert_int_eq(call_s(s, "SKF_ConnectDev", "TESTLIB-1", &r, &e), 0);
        ck_assert_int_eq(call_s(s, "SKF_OpenApplication", "APP1", &r, &e), 0);
        int rc = call_u(s, "SKF_GetPINInfo", USER_TYPE, &r, &e);
        if (width == 4) {
            ck_assert_int_eq(rc, -1);
            ck_assert_int_eq(e.code, TR_E_TOKEN);
            ck_assert_msg(strstr(e.msg, "out_width=8") != NULL, "%s", e.msg);
            ck_assert(!tr_skf_dead(s, NULL));
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(r.u[0], 6);
        }
        tr_skf_close(s);
    }
    unsetenv("SKF_TESTLIB_WIDE");
}
END_TEST

/* ---- skfdata ------------------------------------------------------------------------------------ */
START_TEST(test_list_split)
{
    static tr_skf_list l;
    tr_skf_list_split((const uint8_t *)"A\0BB\0\0", 6, &l);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_str_eq(l.name[1], "BB");
    ck_assert_uint_eq(l.flags, 0);
    tr_skf_list_split((const uint8_t *)"A\0BB\0", 5, &l); /* one NUL short */
    ck_assert_uint_eq(l.count, 2);
    ck_assert_uint_eq(l.flags, TR_SKF_LIST_UNTERMINATED);
    tr_skf_list_split((const uint8_t *)"ABC", 3, &l); /* no NUL at all */
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.name[0], "ABC");
    ck_assert(l.flags & TR_SKF_LIST_UNTERMINATED);
    tr_skf_list_split((const uint8_t *)"\0", 1, &l); /* empty list */
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.flags, 0);
    tr_skf_list_split(NULL, 0, &l);
    ck_assert_uint_eq(l.count, 0);
    tr_skf_list_split((const uint8_t *)"A\0\0B\0\0", 6, &l); /* an empty name ends it */
    ck_assert_uint_eq(l.count, 1);
    ck_assert(l.flags & TR_SKF_LIST_TRAILING);
    uint8_t big[600];
    memset(big, 'x', sizeof big);
    big[300] = 0, big[301] = 'y', big[302] = 0, big[303] = 0;
    tr_skf_list_split(big, sizeof big, &l);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.name[0], "y");
    ck_assert(l.flags & TR_SKF_LIST_TOOLONG);
    uint8_t many[200 * 2 + 1];
    for (size_t i = 0; i < 200; i++)
        many[2 * i] = 'a', many[2 * i + 1] = 0;
    many[400] = 0;
    tr_skf_list_split(many, sizeof many, &l);
    ck_assert_uint_eq(l.count, TR_SKF_LIST_MAX);
    ck_assert(l.flags & TR_SKF_LIST_TOOMANY);
    char buf[256];
    ck_assert_str_eq(tr_skf_list_problems(0, buf, sizeof buf), "");
    ck_assert_ptr_nonnull(strstr(tr_skf_list_problems(TR_SKF_LIST_UNTERMINATED | TR_SKF_LIST_TOOLONG, buf, sizeof buf), "double NUL"));
}
END_TEST

START_TEST(test_text)
{
    char out[TR_SKF_TEXT_CAP(32)];
    tr_skf_text((const uint8_t *)"ABC   \0zz", 9, out, sizeof out);
    ck_assert_str_eq(out, "ABC");
    tr_skf_text((const uint8_t *)"\xB2\xE2\xCA\xD4", 4, out, sizeof out); /* GBK */
    ck_assert_str_eq(out, "\\xB2\\xE2\\xCA\\xD4");
    tr_skf_text((const uint8_t *)"\xE6\xB5\x8B\xE8\xAF\x95", 6, out, sizeof out); /* UTF-8 kept */
    ck_assert_str_eq(out, "\xE6\xB5\x8B\xE8\xAF\x95");
    tr_skf_text((const uint8_t *)"a\nb\\\xE6\xB5", 6, out, sizeof out); /* control, backslash, cut sequence */
    ck_assert_str_eq(out, "a\\x0Ab\\\\\\xE6\\xB5");
    tr_skf_text((const uint8_t *)"\xED\xA0\x80\xC0\xAF", 5, out, sizeof out); /* surrogate, overlong */
    ck_assert_str_eq(out, "\\xED\\xA0\\x80\\xC0\\xAF");
    char small[5];
    tr_skf_text((const uint8_t *)"\xFF\xFF", 2, small, sizeof small); /* never half an escape */
    ck_assert_str_eq(small, "\\xFF");
}
END_TEST

START_TEST(test_structures)
{
    tr_err e;
    uint8_t di[300] = {0};
    tr_skf_devinfo d;
    ck_assert_int_eq(tr_skf_devinfo_parse(di, 285, &d, &e), -1);
    memset(di + offsetof(DEVINFO, Label), 'L', 32); /* no NUL: the whole field */
    di[offsetof(DEVINFO, MaxBufferSize)] = 0x10;
    ck_assert_int_eq(tr_skf_devinfo_parse(di, 294, &d, &e), 0);
    ck_assert_uint_eq(strlen(d.label), 32);
    ck_assert_uint_eq(d.max_buffer, 0x10);
    ck_assert_int_eq(tr_skf_devinfo_parse(di, 286, &d, &e), 0);
    ck_assert_uint_eq(d.max_buffer, 0);

    FILEATTRIBUTE fa = {.FileSize = 77, .ReadRights = SECURE_USER_ACCOUNT, .WriteRights = SECURE_NEVER_ACCOUNT};
    memcpy(fa.FileName, "SEAL", 4);
    tr_skf_fileattr f;
    ck_assert_int_eq(tr_skf_fileattr_parse((const uint8_t *)&fa, sizeof fa, &f, &e), 0);
    ck_assert_str_eq(f.name, "SEAL");
    ck_assert_uint_eq(f.size, 77);
    ck_assert_int_eq(tr_skf_fileattr_parse((const uint8_t *)&fa, 43, &f, &e), -1);
    char rb[16];
    ck_assert_str_eq(tr_skf_rights_text(SECURE_USER_ACCOUNT, rb, sizeof rb), "user");
    ck_assert_str_eq(tr_skf_rights_text(0x42, rb, sizeof rb), "0x00000042");

    ECCSIGNATUREBLOB sig = {0};
    memset(sig.r + 32, 0x11, 32), memset(sig.s + 32, 0x22, 32);
    uint8_t rs[64];
    ck_assert_int_eq(tr_skf_ecc_sig_raw((const uint8_t *)&sig, sizeof sig, rs, &e), 0);
    ck_assert_uint_eq(rs[0], 0x11);
    ck_assert_uint_eq(rs[63], 0x22);
    sig.s[31] = 1; /* a 257-bit s */
    ck_assert_int_eq(tr_skf_ecc_sig_raw((const uint8_t *)&sig, sizeof sig, rs, &e), -1);
    ck_assert_int_eq(tr_skf_ecc_sig_raw((const uint8_t *)&sig, 64, rs, &e), -1);

    RSAPUBLICKEYBLOB rsa = {.AlgID = SGD_RSA, .BitLen = 1024};
    memset(rsa.Modulus + 128, 0xC3, 128);
    rsa.PublicExponent[1] = 1, rsa.PublicExponent[3] = 1; /* 65537 */
    uint8_t mod[256];
    size_t ml;
    uint32_t ex;
    ck_assert_int_eq(tr_skf_rsa_pub_parse((const uint8_t *)&rsa, sizeof rsa, mod, &ml, &ex, &e), 0);
    ck_assert_uint_eq(ml, 128);
    ck_assert_uint_eq(ex, 65537);
    ck_assert_uint_eq(mod[0], 0xC3);
    rsa.Modulus[0] = 1; /* garbage left of a 1024-bit modulus */
    ck_assert_int_eq(tr_skf_rsa_pub_parse((const uint8_t *)&rsa, sizeof rsa, mod, &ml, &ex, &e), -1);
    rsa.Modulus[0] = 0, rsa.BitLen = 4096;
    ck_assert_int_eq(tr_skf_rsa_pub_parse((const uint8_t *)&rsa, sizeof rsa, mod, &ml, &ex, &e), -1);
}
END_TEST

/* The blob of a certificate's key gives back the certificate's point. */
START_TEST(test_ecc_pub_blob_from_cert)
{
    const char *pki = getenv("TR_PKI");
    char path[512];
    snprintf(path, sizeof path, "%s/sm2-valid.crt.der", pki ? pki : "build/pki");
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s (set TR_PKI)", path);
    uint8_t der[4096];
    size_t n = fread(der, 1, sizeof der, fp);
    fclose(fp);
    tr_err e;
    uint8_t blob[132], point[65], want[65];
    ck_assert_msg(tr_skf_ecc_pub_blob_from_cert(der, n, blob, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(blob[0] | blob[1] << 8, 256);
    ck_assert_int_eq(tr_skf_ecc_pub_point(blob, sizeof blob, point, &e), 0);
    X509 *x = tr_cert_parse(der, n, &e);
    size_t wl = 0;
    ck_assert_int_eq(EVP_PKEY_get_octet_string_param(X509_get0_pubkey(x), "encoded-pub-key", want, sizeof want, &wl), 1);
    X509_free(x);
    ck_assert_uint_eq(wl, 65);
    ck_assert_mem_eq(point, want, 65);
    blob[4] = 1; /* a 257-bit x */
    ck_assert_int_eq(tr_skf_ecc_pub_point(blob, sizeof blob, point, &e), -1);
    snprintf(path, sizeof path, "%s/rsa-valid.crt.der", pki ? pki : "build/pki");
    fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    n = fread(der, 1, sizeof der, fp);
    fclose(fp);
    ck_assert_int_eq(tr_skf_ecc_pub_blob_from_cert(der, n, blob, &e), -1);
}
END_TEST

/* GM/T 0009 DER -> ECCCIPHERBLOB: x and y right-aligned (a leading 00 of
 * a positive INTEGER dropped), the hash, CipherLen and C2; anything else
 * refused */
START_TEST(test_ecc_cipher_blob)
{
    uint8_t der[2 + 2 + 33 + 2 + 31 + 2 + 32 + 2 + 16], *p = der;
    *p++ = 0x30, *p++ = sizeof der - 2;
    *p++ = 0x02, *p++ = 33, *p++ = 0x00;
    for (int i = 0; i < 32; i++)
        *p++ = (uint8_t)(0x80 + i); /* x: high bit set, hence the 00 */
    *p++ = 0x02, *p++ = 31;
    for (int i = 0; i < 31; i++)
        *p++ = (uint8_t)(1 + i); /* y: 31 bytes, one leading zero byte implied */
    *p++ = 0x04, *p++ = 32;
    memset(p, 0xAA, 32), p += 32;
    *p++ = 0x04, *p++ = 16;
    memset(p, 0xC2, 16), p += 16;
    ck_assert_uint_eq((size_t)(p - der), sizeof der);
    uint8_t *blob;
    size_t n;
    tr_err e;
    ck_assert_int_eq(tr_skf_ecc_cipher_blob(der, sizeof der, &blob, &n, &e), 0);
    ck_assert_uint_eq(n, ECCCIPHERBLOB_SIZE(16));
    ECCCIPHERBLOB c;
    memcpy(&c, blob, ECCCIPHERBLOB_HEADER_SIZE);
    for (int i = 0; i < 32; i++) {
        ck_assert_uint_eq(c.XCoordinate[i], 0);
        ck_assert_uint_eq(c.XCoordinate[32 + i], 0x80 + i);
        ck_assert_uint_eq(c.YCoordinate[33 + (i < 31 ? i : 30)], 1 + (i < 31 ? i : 30));
        ck_assert_uint_eq(c.HASH[i], 0xAA);
    }
    ck_assert_uint_eq(c.YCoordinate[32], 0);
    ck_assert_uint_eq(c.CipherLen, 16);
    ck_assert_uint_eq(blob[ECCCIPHERBLOB_HEADER_SIZE + 15], 0xC2);
    free(blob);
    /* a 31-byte hash, trailing bytes, a truncated DER: refused */
    uint8_t bad[sizeof der + 1];
    memcpy(bad, der, sizeof der);
    bad[sizeof der] = 0;
    ck_assert_int_eq(tr_skf_ecc_cipher_blob(bad, sizeof bad, &blob, &n, &e), -1);
    ck_assert_int_eq(e.code, TR_E_USAGE);
    ck_assert_ptr_null(blob);
    ck_assert_int_eq(tr_skf_ecc_cipher_blob(der, sizeof der - 1, &blob, &n, &e), -1);
    der[2 + 2 + 33 + 2 + 31 + 1] = 31;
    ck_assert_int_eq(tr_skf_ecc_cipher_blob(der, sizeof der, &blob, &n, &e), -1);
}
END_TEST

static Suite *skf_suite(void)
{
    Suite *s = suite_create("skf");
    TCase *layer = tcase_create("layer");
    tcase_set_timeout(layer, 30);
    tcase_add_test(layer, test_shape_table);
    tcase_add_test(layer, test_crash_is_isolated);
    tcase_add_test(layer, test_hang_is_mute);
    tcase_add_test(layer, test_missing_function);
    tcase_add_test(layer, test_no_library);
    tcase_add_test(layer, test_close_reaps);
    tcase_add_test(layer, test_trace_masks_pins);
    tcase_add_test(layer, test_outputs);
    tcase_add_test(layer, test_statement);
    tcase_add_test(layer, test_secret_change_needs_journal);
    tcase_add_test(layer, test_devinfo_quirk);
    tcase_add_test(layer, test_out_width_quirk);
    suite_add_tcase(s, layer);
    TCase *data = tcase_create("skfdata");
    tcase_add_test(data, test_list_split);
    tcase_add_test(data, test_text);
    tcase_add_test(data, test_structures);
    tcase_add_test(data, test_ecc_pub_blob_from_cert);
    tcase_add_test(data, test_ecc_cipher_blob);
    suite_add_tcase(s, data);
    return s;
}

int main(void)
{
    set_libs();
    SRunner *r = srunner_create(skf_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
