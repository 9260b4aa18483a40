/* skfstmt.c — see skfstmt.h. */
#include "skfstmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skf_abi.h"
#include "skfdata.h"
#include "libcall.h"
#include "util.h"

static const struct {
    const char *name;
    int64_t value;
} constants[] = {
    {"USER_TYPE", USER_TYPE},     {"ADMIN_TYPE", ADMIN_TYPE},   {"TRUE", 1},
    {"FALSE", 0},                 {"SGD_SM3", SGD_SM3},         {"SGD_SHA1", SGD_SHA1},
    {"SGD_SHA256", SGD_SHA256},   {"SGD_SM2_1", SGD_SM2_1},     {"SGD_RSA", SGD_RSA},
    {"SGD_SM4_ECB", SGD_SM4_ECB}, {"SGD_SM4_CBC", SGD_SM4_CBC},
};

bool tr_skf_constant(const char *name, int64_t *value)
{
    for (size_t k = 0; k < sizeof constants / sizeof constants[0]; k++)
        if (!strcmp(constants[k].name, name)) {
            *value = constants[k].value;
            return true;
        }
    return false;
}

/* The shapes' number outputs and the variables they become. */
static const struct {
    const char *out, *var;
} number_vars[] = {
    {"max", "SKF_MAX"},   {"remain", "SKF_REMAIN"}, {"default", "SKF_DEFAULT"}, {"retry", "SKF_RETRY"},
    {"state", "SKF_STATE"}, {"type", "SKF_TYPE"},   {"size", "SKF_SIZE"},       {"read", "SKF_READ"},
    {"write", "SKF_WRITE"}, {"event", "SKF_EVENT"},
};

const char *const TR_SKF_STMT_OUTPUTS[] = {
    "SAR", "SAR_CODE", "SKF_MAX", "SKF_REMAIN", "SKF_DEFAULT", "SKF_RETRY", "SKF_STATE", "SKF_TYPE", "SKF_SIZE",
    "SKF_READ", "SKF_WRITE", "SKF_EVENT", "SKF_OUT", "SKF_OUTLEN", "SKF_LIST", "SKF_COUNT", "SKF_NAME",
    "SKF_SERIAL", "SKF_LABEL", "SKF_MANUFACTURER", "SKF_ISSUER", "SKF_ASYM_CAP", "SKF_FIRMWARE", NULL};

static const char *number_var(const char *out, size_t n)
{
    for (size_t k = 0; k < sizeof number_vars / sizeof number_vars[0]; k++)
        if (strlen(number_vars[k].out) == n && !strncmp(number_vars[k].out, out, n))
            return number_vars[k].var;
    return NULL;
}

static int set_u32(tr_skf_setter set, void *ud, const char *name, uint32_t v)
{
    char b[16];
    snprintf(b, sizeof b, "%u", (unsigned)v);
    return set(ud, name, b);
}

/* SKF_<OUT> for each number output of the shape, in reply.u order. */
static int number_results(const tr_skf_fn_info *fi, const tr_skf_reply *r, tr_skf_setter set, void *ud)
{
    const char *p = fi->outs;
    for (size_t k = 0; *p && k < r->nu; k++) {
        size_t n = strcspn(p, ",");
        const char *var = number_var(p, n);
        if (var && set_u32(set, ud, var, r->u[k]) < 0)
            return -1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* A name list as SKF_LIST ("A,B") and SKF_COUNT. */
static int list_results(const uint8_t *p, size_t n, tr_skf_setter set, void *ud)
{
    tr_skf_list *l = malloc(sizeof *l);
    char *joined = malloc(TR_SKF_LIST_MAX * TR_SKF_NAME_MAX);
    int rc = -1;
    if (l && joined) {
        tr_skf_list_split(p, n, l);
        size_t at = 0;
        joined[0] = '\0';
        for (size_t k = 0; k < l->count; k++)
            at += (size_t)snprintf(joined + at, TR_SKF_LIST_MAX * TR_SKF_NAME_MAX - at, "%s%s", k ? "," : "",
                                   l->name[k]);
        rc = set(ud, "SKF_LIST", joined) < 0 || set_u32(set, ud, "SKF_COUNT", (uint32_t)l->count) < 0 ? -1 : 0;
    }
    free(l);
    free(joined);
    return rc;
}

/* DEVINFO's text fields (escaped where not UTF-8) and asymmetric caps. */
static int devinfo_results(const uint8_t *p, size_t n, tr_skf_setter set, void *ud)
{
    tr_skf_devinfo di;
    tr_err e;
    if (tr_skf_devinfo_parse(p, n, &di, &e) < 0)
        return set(ud, "SKF_SERIAL", "") < 0 ? -1 : set(ud, "SKF_FIRMWARE", "");
    char fw[24];
    snprintf(fw, sizeof fw, "%u.%u", di.fw_version[0], di.fw_version[1]);
    const char *kv[][2] = {{"SKF_SERIAL", di.serial}, {"SKF_LABEL", di.label},
                           {"SKF_MANUFACTURER", di.manufacturer}, {"SKF_ISSUER", di.issuer},
                           {"SKF_FIRMWARE", fw}};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
        if (set(ud, kv[k][0], kv[k][1]) < 0)
            return -1;
    return set_u32(set, ud, "SKF_ASYM_CAP", di.alg_asym);
}

/* The byte output in the shape of its kind (skf.h: out). */
static int kind_results(const tr_skf_fn_info *fi, const uint8_t *p, size_t n, tr_skf_setter set, void *ud)
{
    if (!strcmp(fi->out, "list"))
        return list_results(p, n, set, ud);
    if (!strcmp(fi->out, "devinfo"))
        return devinfo_results(p, n, set, ud);
    if (!strcmp(fi->out, "name")) {
        char text[TR_SKF_TEXT_CAP(TR_SKF_NAME_MAX)];
        tr_skf_text(p, n < TR_SKF_NAME_MAX ? n : TR_SKF_NAME_MAX, text, sizeof text);
        return set(ud, "SKF_NAME", text);
    }
    return 0;
}

int tr_skf_stmt_results(const tr_skf_fn_info *fi, const tr_skf_reply *r, tr_skf_setter set, void *ud)
{
    if (set(ud, "SAR", tr_skf_sar_name(r->sar)) < 0 || set_u32(set, ud, "SAR_CODE", r->sar) < 0 ||
        number_results(fi, r, set, ud) < 0)
        return -1;
    if (!fi->out[0])
        return 0;
    size_t n = r->sar == SAR_OK ? r->nout : 0;
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return -1;
    tr_hex_encode(r->out, n, hex, 2 * n + 1, 0);
    int rc = set(ud, "SKF_OUT", hex) < 0 || set_u32(set, ud, "SKF_OUTLEN", (uint32_t)n) < 0 ? -1 : 0;
    free(hex);
    return rc < 0 ? -1 : kind_results(fi, r->out, n, set, ud);
}

/* ---- the skf statement's interface (libcall.h) ------------------------------------------ */

static const char *skf_shape(const char *fn)
{
    const tr_skf_fn_info *fi = tr_skf_fn_lookup(fn);
    return fi ? fi->in : NULL;
}

static int skf_call(void *lib, const char *fn, const tr_libcall_args *a, tr_libcall_setter set, void *ud,
                    tr_libcall_done *done, tr_err *e)
{
    const tr_skf_fn_info *fi = tr_skf_fn_lookup(fn);
    if (!fi)
        return tr_fail(e, TR_E_CONFIG, "%s is not an SKF function tokenrig calls", fn);
    tr_skf_args sa;
    memset(&sa, 0, sizeof sa);
    for (size_t k = 0; k < a->nu && k < TR_SKF_MAX_ARGS; k++) {
        if (a->u[k] > UINT32_MAX)
            return tr_fail(e, TR_E_CONFIG, "%s: argument %zu is %llu, over an SKF ULONG (4294967295)", fn, k + 1,
                           (unsigned long long)a->u[k]);
        sa.u[sa.nu++] = (uint32_t)a->u[k];
    }
    for (size_t k = 0; k < a->ns && k < TR_SKF_MAX_ARGS; k++)
        sa.s[sa.ns++] = a->s[k];
    for (size_t k = 0; k < a->nb && k < TR_SKF_MAX_ARGS; k++, sa.nb++)
        sa.b[sa.nb] = a->b[k], sa.blen[sa.nb] = a->blen[k];
    tr_skf_reply r;
    if (tr_skf_call(lib, fn, &sa, &r, e) < 0)
        return -1;
    done->us = r.us;
    done->removed = r.sar == SAR_DEVICE_REMOVED;
    done->ok = r.sar == SAR_OK;
    done->pin_refused = r.sar == SAR_PIN_INCORRECT || r.sar == SAR_PIN_INVALID || r.sar == SAR_PIN_LEN_RANGE ||
                        r.sar == SAR_PIN_LOCKED;
    return tr_skf_stmt_results(fi, &r, set, ud) < 0 ? tr_fail(e, TR_E_NOMEM, "out of memory setting %s's results", fn)
                                                    : 0;
}

/* The layer's rows, in the libcall form (skf.h's trace has the same fields). */
static void skf_thunk(void *ud, const tr_skf_trace *t)
{
    tr_libcall_tracer *tr = ud;
    tr_libcall_trace row = {t->function, t->args, t->sar, t->outputs, t->us};
    tr->fn(tr->ud, &row);
}

static void skf_set_trace(void *lib, tr_libcall_tracer *t)
{
    tr_skf_set_trace(lib, t ? skf_thunk : NULL, t);
}

static bool skf_private_key_op(const char *fn)
{
    return !strcmp(fn, "SKF_ECCSignData") || !strcmp(fn, "SKF_RSASignData") || !strcmp(fn, "SKF_Decrypt") ||
           !strcmp(fn, "SKF_ImportSessionKey");
}

static bool skf_changes_secret(const char *fn)
{
    return !strcmp(fn, "SKF_ChangePIN") || !strcmp(fn, "SKF_UnblockPIN");
}

const tr_libcall_iface tr_skf_calls = {
    .keyword = "skf", .what = "an SKF function of GM/T 0016 that tokenrig calls", .shape = skf_shape,
    .call = skf_call, .set_trace = skf_set_trace, .private_key_op = skf_private_key_op,
    .changes_secret = skf_changes_secret, .outputs = TR_SKF_STMT_OUTPUTS,
};
