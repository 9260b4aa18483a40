/* p11stmt.c — the suite language's `p11` statement (libcall.h): a call into
 * the slot's PKCS#11 module and its results as suite variables:
 *   RV, RV_CODE     the return code's name (CKR_PIN_INCORRECT) and number
 *   P11_<OUT>       each number output of the call's shape (p11.h) in
 *                   capitals: P11_FLAGS P11_MAXPINLEN P11_MINPINLEN
 *                   P11_COUNT P11_MORE P11_SESSION P11_SLOT ...
 *   P11_<TEXT>      each text output (C_GetTokenInfo: P11_LABEL
 *                   P11_MANUFACTURERID P11_MODEL P11_SERIALNUMBER ...)
 *   P11_IDS         a list of slots, mechanisms or object handles, joined
 *                   by "," (list_item / list_len)
 *   P11_OUT, P11_OUTLEN  a byte output (an attribute's value, a signature)
 *                   in hex
 * CKR_DEVICE_REMOVED / CKR_TOKEN_NOT_PRESENT end the slot's tests as
 * io.removed; C_Sign and C_Decrypt count as private-key calls
 * (SIGN_APDU_MAX_MS);
 * C_SetPIN and C_InitPIN must follow a `journal` statement in a run.
 */
#include "libcall.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11.h"
#include "p11data.h"
#include "util.h"

#define CKR_DEVICE_REMOVED_RV 0x32u   /* pkcs11.h's CKR_DEVICE_REMOVED */
#define CKR_TOKEN_NOT_PRESENT_RV 0xE0u
#define CKR_PIN_INCORRECT_RV 0xA0u     /* ... CKR_PIN_INVALID, _LEN_RANGE, _EXPIRED, _LOCKED: 0xA1-0xA4 */
#define CKR_PIN_LOCKED_RV 0xA4u

static const char *const p11_outputs[] = {
    "RV", "RV_CODE", "P11_FLAGS", "P11_COUNT", "P11_MORE", "P11_SESSION", "P11_SLOT", "P11_SLOTID", "P11_STATE",
    "P11_DEVICEERROR", "P11_MINKEYSIZE", "P11_MAXKEYSIZE", "P11_MAXSESSIONCOUNT", "P11_SESSIONCOUNT",
    "P11_MAXRWSESSIONCOUNT", "P11_RWSESSIONCOUNT", "P11_MAXPINLEN", "P11_MINPINLEN", "P11_TOTALPUBLICMEMORY",
    "P11_FREEPUBLICMEMORY", "P11_TOTALPRIVATEMEMORY", "P11_FREEPRIVATEMEMORY", "P11_LABEL", "P11_MANUFACTURERID",
    "P11_MODEL", "P11_SERIALNUMBER", "P11_HARDWAREVERSION", "P11_FIRMWAREVERSION", "P11_UTCTIME",
    "P11_CRYPTOKIVERSION", "P11_LIBRARYDESCRIPTION", "P11_LIBRARYVERSION", "P11_SLOTDESCRIPTION", "P11_IDS",
    "P11_OUT", "P11_OUTLEN", NULL};

static const char *p11_shape(const char *fn)
{
    const tr_p11_fn_info *fi = tr_p11_fn_lookup(fn);
    return fi ? fi->in : NULL;
}

/* P11_ + the output's name in capitals, for each of a comma list. */
static int named_results(const char *names, size_t n, const uint64_t *u, const char *const *text,
                         tr_libcall_setter set, void *ud)
{
    const char *p = names;
    for (size_t k = 0; *p && k < n; k++) {
        size_t len = strcspn(p, ",");
        char var[64] = "P11_", val[32];
        for (size_t i = 0; i < len && 4 + i < sizeof var - 1; i++)
            var[4 + i] = (char)toupper((unsigned char)p[i]);
        if (u)
            snprintf(val, sizeof val, "%llu", (unsigned long long)u[k]);
        if (set(ud, var, u ? val : text[k]) < 0)
            return -1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int ids_result(const tr_p11_reply *r, tr_libcall_setter set, void *ud)
{
    char *list = malloc(r->nids * 21 + 1);
    if (!list)
        return -1;
    size_t at = 0;
    list[0] = '\0';
    for (size_t k = 0; k < r->nids; k++)
        at += (size_t)sprintf(list + at, "%s%llu", k ? "," : "", (unsigned long long)r->ids[k]);
    int rc = set(ud, "P11_IDS", list);
    free(list);
    return rc;
}

static int bytes_result(const tr_p11_reply *r, tr_libcall_setter set, void *ud)
{
    size_t n = r->rv == 0 ? r->nout : 0;
    char *hex = malloc(2 * n + 1), len[24];
    if (!hex)
        return -1;
    tr_hex_encode(r->out, n, hex, 2 * n + 1, 0);
    snprintf(len, sizeof len, "%zu", n);
    int rc = set(ud, "P11_OUT", hex) < 0 || set(ud, "P11_OUTLEN", len) < 0 ? -1 : 0;
    free(hex);
    return rc;
}

static int p11_results(const tr_p11_fn_info *fi, const tr_p11_reply *r, tr_libcall_setter set, void *ud)
{
    char code[24];
    snprintf(code, sizeof code, "%llu", (unsigned long long)r->rv);
    if (set(ud, "RV", tr_p11_rv_name(r->rv)) < 0 || set(ud, "RV_CODE", code) < 0 ||
        named_results(fi->outs, r->nu, r->u, NULL, set, ud) < 0 ||
        named_results(fi->texts, r->ntext, NULL, r->text, set, ud) < 0)
        return -1;
    if (!strcmp(fi->out, "ids"))
        return ids_result(r, set, ud);
    return !strcmp(fi->out, "data") ? bytes_result(r, set, ud) : 0;
}

static int p11_call(void *lib, const char *fn, const tr_libcall_args *a, tr_libcall_setter set, void *ud,
                    tr_libcall_done *done, tr_err *e)
{
    const tr_p11_fn_info *fi = tr_p11_fn_lookup(fn);
    if (!fi)
        return tr_fail(e, TR_E_CONFIG, "%s is not a PKCS#11 call tokenrig makes", fn);
    tr_p11_args pa;
    memset(&pa, 0, sizeof pa);
    for (size_t k = 0; k < a->nu && k < TR_P11_MAX_ARGS; k++)
        pa.u[pa.nu++] = a->u[k];
    for (size_t k = 0; k < a->ns && k < TR_P11_MAX_ARGS; k++)
        pa.s[pa.ns++] = a->s[k];
    for (size_t k = 0; k < a->nb && k < TR_P11_MAX_ARGS; k++, pa.nb++)
        pa.b[pa.nb] = a->b[k], pa.blen[pa.nb] = a->blen[k];
    tr_p11_reply r;
    if (tr_p11_call(lib, fn, &pa, &r, e) < 0)
        return -1;
    done->us = r.us;
    done->removed = r.rv == CKR_DEVICE_REMOVED_RV || r.rv == CKR_TOKEN_NOT_PRESENT_RV;
    done->ok = r.rv == 0;
    done->pin_refused = r.rv >= CKR_PIN_INCORRECT_RV && r.rv <= CKR_PIN_LOCKED_RV;
    return p11_results(fi, &r, set, ud) < 0 ? tr_fail(e, TR_E_NOMEM, "out of memory setting %s's results", fn) : 0;
}

static void p11_thunk(void *ud, const tr_p11_trace *t)
{
    tr_libcall_tracer *tr = ud;
    tr_libcall_trace row = {t->function, t->args, t->rv, t->outputs, t->us};
    tr->fn(tr->ud, &row);
}

static void p11_set_trace(void *lib, tr_libcall_tracer *t)
{
    tr_p11_set_trace(lib, t ? p11_thunk : NULL, t);
}

static bool p11_private_key_op(const char *fn)
{
    return !strcmp(fn, "C_Sign") || !strcmp(fn, "C_Decrypt");
}

static bool p11_changes_secret(const char *fn)
{
    return !strcmp(fn, "C_SetPIN") || !strcmp(fn, "C_InitPIN");
}

const tr_libcall_iface tr_p11_calls = {
    .keyword = "p11", .what = "a PKCS#11 call tokenrig makes (p11.h)", .shape = p11_shape, .call = p11_call,
    .set_trace = p11_set_trace, .private_key_op = p11_private_key_op, .changes_secret = p11_changes_secret,
    .outputs = p11_outputs,
};
