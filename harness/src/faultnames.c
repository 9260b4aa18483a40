/* faultnames.c — the REF-1 fault table's names. See faultnames.h. */
#include "faultnames.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

#define MS_MAX 600000u /* ten minutes: every time fault's bound */

#define FLAG(n) {n, TR_FARG_NONE, NULL, 0, 0, false}
#define RIG(n) {n, TR_FARG_NONE, NULL, 0, 0, true}

static const tr_fault_def DEFS[] = {
    FLAG("counter-reset-on-power"),
    FLAG("no-lockout"),
    FLAG("non-default-pin"),
    FLAG("default-flag-stuck"),
    FLAG("seal-on-secondary"),
    FLAG("no-seal-on-main"),
    FLAG("bad-seal-signature"),
    {"bad-signature", TR_FARG_COUNT, "K", 1, 1000000000u, false},
    {"slow-sign", TR_FARG_COUNT, "MS", 0, MS_MAX, false},
    RIG("expired-cert"),
    RIG("renewal-due"),
    RIG("cert-other-ca"),
    RIG("rogue-seal-maker"),
    FLAG("sign-without-pin"),
    {"flaky-power", TR_FARG_PROB, "P", 0, 0, false},
    FLAG("bad-atr"),
    {"mute-after", TR_FARG_COUNT, "N", 0, UINT64_MAX, false},
    {"drop-after", TR_FARG_COUNT, "N", 0, UINT64_MAX, false},
    /* the PIN state model (suites/pin-model.tsuite) */
    FLAG("logout-ignored"),
    FLAG("reset-keeps-verified"),
    FLAG("so-no-lockout"),
    FLAG("change-not-persistent"),
    FLAG("wrong-pin-keeps-verified"),
    FLAG("seal-without-pin"),
    FLAG("change-ignores-block"),
    FLAG("power-keeps-verified"),
    FLAG("unblock-keeps-verified"),
    FLAG("so-counter-not-restored"),
    FLAG("counter-reset-on-reset"),
    FLAG("old-pin-accepted"),
    FLAG("reverify-refused"),
    FLAG("counter-not-restored"),
    FLAG("so-pin-unchecked"),
    FLAG("logout-refused"),
    FLAG("pin-info-ends-verified"),
    FLAG("sign-refused-after-change"),
    FLAG("seal-refused-after-unblock"),
    /* time and protocol */
    {"slow-start", TR_FARG_COUNT, "MS", 1, MS_MAX, false},
    {"slow-apdu", TR_FARG_MS_INS, "MS[:INS]", 1, MS_MAX, false},
    FLAG("endless-61xx"),
    FLAG("6cxx-loop"),
    FLAG("trailing-bytes"),
    FLAG("short-read-9000"),
    /* decryption */
    FLAG("decrypt-without-pin"),
    FLAG("decrypt-with-sign-key"),
    RIG("no-enc-key"),
    RIG("enc-cert-other-key"),
};
#define NDEFS (sizeof DEFS / sizeof DEFS[0])

const tr_fault_def *tr_fault_defs(size_t *n)
{
    *n = NDEFS;
    return DEFS;
}

const tr_fault_def *tr_fault_find(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (!strcmp(name, DEFS[i].name))
            return &DEFS[i];
    return NULL;
}

/* MS[:INS]: a count in d's range, then optionally ':' and two hex digits. */
static bool ms_ins_ok(const tr_fault_def *d, const char *arg)
{
    char ms[24];
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    uint64_t v;
    uint8_t ins;
    if (n >= sizeof ms)
        return false;
    memcpy(ms, arg, n);
    ms[n] = '\0';
    if (!tr_parse_u64(ms, &v) || v < d->min || v > d->max)
        return false;
    return !colon || (strlen(colon + 1) == 2 && tr_hex_decode(colon + 1, &ins, 1) == 1);
}

static bool arg_ok(const tr_fault_def *d, const char *arg)
{
    uint64_t v;
    double p;
    switch (d->arg) {
    case TR_FARG_NONE: return arg == NULL;
    case TR_FARG_COUNT: return arg && tr_parse_u64(arg, &v) && v >= d->min && v <= d->max;
    case TR_FARG_PROB: return arg && tr_parse_double(arg, &p) && p >= 0.0 && p <= 1.0;
    case TR_FARG_MS_INS: return arg && ms_ins_ok(d, arg);
    }
    return false;
}

/* How d is written, with the range of its argument: "bad-signature=K, K in 1..1000000000". */
static void usage_of(const tr_fault_def *d, char *out, size_t cap)
{
    if (d->arg == TR_FARG_NONE)
        snprintf(out, cap, "%s takes no value", d->name);
    else if (d->arg == TR_FARG_PROB)
        snprintf(out, cap, "%s=%s, %s a probability in 0..1", d->name, d->arg_name, d->arg_name);
    else
        snprintf(out, cap, "%s=%s, %s in %llu..%llu%s", d->name, d->arg_name,
                 d->arg == TR_FARG_MS_INS ? "MS" : d->arg_name, (unsigned long long)d->min,
                 (unsigned long long)d->max, d->arg == TR_FARG_MS_INS ? ", INS two hex digits" : "");
}

bool tr_fault_check(const char *spec, char *why, size_t cap)
{
    char name[64];
    const char *eq = strchr(spec, '=');
    size_t n = eq ? (size_t)(eq - spec) : strlen(spec);
    if (n == 0 || n >= sizeof name) {
        snprintf(why, cap, "'%s' is not a fault name (NAME or NAME=VALUE)", spec);
        return false;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    const tr_fault_def *d = tr_fault_find(name);
    if (!d) {
        snprintf(why, cap, "unknown fault '%s'", name);
        return false;
    }
    if (arg_ok(d, eq ? eq + 1 : NULL))
        return true;
    char usage[160];
    usage_of(d, usage, sizeof usage);
    snprintf(why, cap, "fault '%s': %s", spec, usage);
    return false;
}

void tr_fault_list(char *out, size_t cap)
{
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < NDEFS && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s%s%s", i ? ", " : "", DEFS[i].name, DEFS[i].arg_name ? "=" : "",
                         DEFS[i].arg_name ? DEFS[i].arg_name : "");
        if (w < 0)
            break;
        n += (size_t)w;
    }
}
