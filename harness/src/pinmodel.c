#include "pinmodel.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_TRIES 15         /* REF-1 counters are one hex digit */
#define VERIFIED_UNKNOWN 2   /* REF-1 does not say whether CHANGE leaves the PIN verified */
#define NKINDS 13            /* verified(3) x blocked(2) x factory PIN(2), and an SO try spent */
#define KIND_SO_SPENT 12     /* (a reset or power cycle from a state with an SO try spent) */
#define DEFAULT_MAX_STEPS 600
#define INF_COST 1000000

/* The model's state. value: 0 = DEFAULT_PIN, 1 = NEW_PIN. */
typedef struct {
    int value, left, verified, so_left;
} pm_state;

typedef struct {
    int max, so_max;
    const char *pin[2];            /* DEFAULT_PIN, NEW_PIN */
    const char *wrong, *so, *wrong_so;
    bool can_sign, can_seal;
    bool unblock_ends_login;       /* OPS_UNBLOCK_ENDS_LOGIN: PKCS#11's SO cannot log in beside the user */
    bool off[32];                  /* transitions the interface cannot do (OPS_NA) */
} pm_cfg;

/* What a transition must answer. */
typedef struct {
    const char *result;            /* ok | wrong | blocked */
    int left;                      /* with wrong: tries left after it */
} pm_expect;

typedef struct {
    const char *name;
    const char *op;
    int cost;                      /* for the search: power cycles are slow */
    bool (*enabled)(const pm_state *s, const pm_cfg *c);
    void (*prepare)(const pm_state *s, const pm_cfg *c, const char *kv[6]);
    void (*apply)(pm_state *s, const pm_cfg *c, pm_expect *x);
    const char *result_class;      /* it answered something else */
    const char *counter_class;     /* a counter is off after it */
    const char *verified_class;    /* still verified when it must not be */
} pm_trans;

/* ---- the transitions ------------------------------------------------------------------- */

static bool en_not_blocked(const pm_state *s, const pm_cfg *c) { (void)c; return s->left > 0; }
static bool en_two_left(const pm_state *s, const pm_cfg *c) { (void)c; return s->left >= 2; }
static bool en_last(const pm_state *s, const pm_cfg *c) { (void)c; return s->left == 1; }
static bool en_blocked(const pm_state *s, const pm_cfg *c) { (void)c; return s->left == 0; }
static bool en_changed(const pm_state *s, const pm_cfg *c) { (void)c; return s->value == 1 && s->left >= 2; }
static bool en_always(const pm_state *s, const pm_cfg *c) { (void)s, (void)c; return true; }
/* never more than one SO try spent: the SO PIN is never blocked */
static bool en_so_full(const pm_state *s, const pm_cfg *c) { return s->so_left == c->so_max; }

static void pr_right(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    kv[0] = "OP_PIN", kv[1] = c->pin[s->value];
}
static void pr_wrong(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    (void)s;
    kv[0] = "OP_PIN", kv[1] = c->wrong;
}
static void pr_previous(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    kv[0] = "OP_PIN", kv[1] = c->pin[!s->value];
}
static void pr_change_right(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    kv[0] = "OP_OLD_PIN", kv[1] = c->pin[s->value], kv[2] = "OP_NEW_PIN", kv[3] = c->pin[!s->value];
}
static void pr_change_wrong(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    kv[0] = "OP_OLD_PIN", kv[1] = c->wrong, kv[2] = "OP_NEW_PIN", kv[3] = c->pin[!s->value];
}
static void pr_unblock_right(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    (void)s;
    kv[0] = "OP_SO_PIN", kv[1] = c->so, kv[2] = "OP_NEW_PIN", kv[3] = c->pin[0];
}
static void pr_unblock_wrong(const pm_state *s, const pm_cfg *c, const char *kv[6])
{
    kv[0] = "OP_SO_PIN", kv[1] = c->wrong_so, kv[2] = "OP_NEW_PIN", kv[3] = c->pin[s->value];
}
static void pr_none(const pm_state *s, const pm_cfg *c, const char *kv[6]) { (void)s, (void)c, (void)kv; }

static void ap_right(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    x->result = "ok";
    s->left = c->max;
    s->verified = 1;
}
/* a wrong PIN costs one try and leaves the PIN not verified */
static void ap_wrong(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    (void)c;
    s->left--;
    s->verified = 0;
    x->result = "wrong";
    x->left = s->left;
}
static void ap_blocked(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    (void)s, (void)c;
    x->result = "blocked";
}
static void ap_change_right(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    x->result = "ok";
    s->value = !s->value;
    s->left = c->max;
    s->verified = VERIFIED_UNKNOWN;
}
static void ap_unblock_right(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    x->result = "ok";
    s->value = 0;
    s->left = c->max;
    s->so_left = c->so_max;
    s->verified = 0;
}
static void ap_unblock_wrong(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    if (c->unblock_ends_login)
        s->verified = 0;
    s->so_left--;
    x->result = "wrong";
    x->left = s->so_left;
}
static void ap_unverify(pm_state *s, const pm_cfg *c, pm_expect *x)
{
    (void)c;
    x->result = "ok";
    s->verified = 0;
}

/* A blocked PIN answers blocked to every PIN command that would check it
 * (REF-1: any VERIFY while blocked answers 6983, and CHANGE with a wrong
 * old PIN counts as a failed VERIFY), right or wrong PIN alike: a token
 * that answers a wrong PIN otherwise than a right one while blocked tells
 * a guesser which is right. A blocked PIN that verifies, changes or whose
 * counter comes back without the SO PIN has no lockout. */
static const pm_trans TRANS[] = {
    {"right VERIFY", "verify", 1, en_not_blocked, pr_right, ap_right, "pin.right-pin-refused",
     "pin.counter-not-restored", NULL},
    {"wrong VERIFY", "verify", 1, en_two_left, pr_wrong, ap_wrong, "pin.wrong-pin-accepted", "pin.no-lockout",
     "pin.verified-after-wrong-pin"},
    {"the last wrong VERIFY", "verify", 1, en_last, pr_wrong, ap_wrong, "pin.wrong-pin-accepted", "pin.no-lockout",
     "pin.verified-after-wrong-pin"},
    {"VERIFY with the previous PIN", "verify", 1, en_changed, pr_previous, ap_wrong, "pin.old-pin-accepted",
     "pin.no-lockout", "pin.verified-after-wrong-pin"},
    {"VERIFY while blocked", "verify", 1, en_blocked, pr_right, ap_blocked, "pin.no-lockout", "pin.no-lockout",
     "pin.no-lockout"},
    {"a wrong VERIFY while blocked", "verify", 1, en_blocked, pr_wrong, ap_blocked, "pin.no-lockout",
     "pin.no-lockout", "pin.verified-after-wrong-pin"},
    {"CHANGE with the right old PIN", "change", 1, en_not_blocked, pr_change_right, ap_change_right,
     "pin.change-failed", "pin.counter-wrong", NULL},
    {"CHANGE with a wrong old PIN", "change", 1, en_two_left, pr_change_wrong, ap_wrong, "pin.wrong-pin-accepted",
     "pin.no-lockout", "pin.verified-after-wrong-pin"},
    {"the last wrong CHANGE", "change", 1, en_last, pr_change_wrong, ap_wrong, "pin.wrong-pin-accepted",
     "pin.no-lockout", "pin.verified-after-wrong-pin"},
    {"CHANGE while blocked", "change", 1, en_blocked, pr_change_right, ap_blocked, "pin.no-lockout",
     "pin.no-lockout", "pin.no-lockout"},
    {"CHANGE with a wrong old PIN while blocked", "change", 1, en_blocked, pr_change_wrong, ap_blocked,
     "pin.no-lockout", "pin.no-lockout", "pin.verified-after-wrong-pin"},
    {"RESET RETRY COUNTER with the right SO PIN", "unblock", 1, en_always, pr_unblock_right, ap_unblock_right,
     "pin.unblock-failed", "pin.unblock-failed", "pin.verified-after-unblock"},
    {"RESET RETRY COUNTER with a wrong SO PIN", "unblock", 1, en_so_full, pr_unblock_wrong, ap_unblock_wrong,
     "pin.so-wrong-pin-accepted", "pin.so-no-lockout", "pin.verified-after-unblock"},
    {"log out", "logout", 1, en_always, pr_none, ap_unverify, "pin.logout-failed", "pin.counter-wrong",
     "pin.verified-after-logout"},
    {"warm reset", "warm_reset", 2, en_always, pr_none, ap_unverify, "enum.no-select", "pin.counter-reset-by-reset",
     "pin.verified-after-reset"},
    {"power cycle", "power_cycle", 30, en_always, pr_none, ap_unverify, "enum.no-select",
     "pin.counter-reset-by-power", "pin.verified-after-power"},
};
#define NTRANS (sizeof TRANS / sizeof TRANS[0])
_Static_assert(NTRANS <= sizeof ((pm_cfg *)0)->off, "pm_cfg.off holds a flag per transition");

/* Transition t may be taken from s: the model allows it and the interface
 * can do it. */
static bool trans_on(size_t t, const pm_state *s, const pm_cfg *c)
{
    return !c->off[t] && TRANS[t].enabled(s, c);
}
enum { T_RIGHT = 0, T_POWER = NTRANS - 1 };

size_t tr_pinmodel_transitions(const char **names, size_t cap)
{
    for (size_t i = 0; i < NTRANS && i < cap; i++)
        names[i] = TRANS[i].name;
    return NTRANS;
}

/* ---- the search -------------------------------------------------------------------------- */

/* The kind of state a transition is covered from. */
static int kind_of(const pm_state *s)
{
    return s->verified * 4 + (s->left == 0) * 2 + (s->value == 0);
}

/* A reset or a power cycle must keep every counter: it is also taken once
 * from a state with an SO try spent (a token whose reset gives SO tries
 * back is an SO PIN without a lockout), beside its user PIN kinds. */
static bool is_reset(const pm_trans *t)
{
    return !strcmp(t->op, "warm_reset") || !strcmp(t->op, "power_cycle");
}

/* Whether taking t from s covers a pair not covered yet; cover: mark them. */
static bool new_pair(bool covered[NTRANS][NKINDS], size_t t, const pm_state *s, const pm_cfg *c, bool cover)
{
    bool so = is_reset(&TRANS[t]) && s->so_left < c->so_max;
    bool fresh = !covered[t][kind_of(s)] || (so && !covered[t][KIND_SO_SPENT]);
    if (cover) {
        covered[t][kind_of(s)] = true;
        if (so)
            covered[t][KIND_SO_SPENT] = true;
    }
    return fresh;
}

#define NSTATES (2 * (MAX_TRIES + 1) * 3 * 2)

static int encode(const pm_state *s, const pm_cfg *c)
{
    return ((s->value * (MAX_TRIES + 1) + s->left) * 3 + s->verified) * 2 + (s->so_left == c->so_max);
}

static pm_state decode(int code, const pm_cfg *c)
{
    pm_state s;
    s.so_left = code % 2 ? c->so_max : c->so_max - 1;
    code /= 2;
    s.verified = code % 3;
    code /= 3;
    s.left = code % (MAX_TRIES + 1);
    s.value = code / (MAX_TRIES + 1);
    return s;
}

typedef struct {
    int dist[NSTATES], prev[NSTATES], via[NSTATES];
} pm_search;

/* Dijkstra over the model's states from `from` (costs are small). */
static void search(const pm_state *from, const pm_cfg *c, pm_search *sr)
{
    bool done[NSTATES] = {false};
    for (int i = 0; i < NSTATES; i++)
        sr->dist[i] = INF_COST, sr->prev[i] = sr->via[i] = -1;
    sr->dist[encode(from, c)] = 0;
    for (;;) {
        int u = -1;
        for (int i = 0; i < NSTATES; i++)
            if (!done[i] && sr->dist[i] < INF_COST && (u < 0 || sr->dist[i] < sr->dist[u]))
                u = i;
        if (u < 0)
            return;
        done[u] = true;
        pm_state s = decode(u, c);
        for (size_t t = 0; t < NTRANS; t++) {
            if (!trans_on(t, &s, c))
                continue;
            pm_state n = s;
            pm_expect x;
            TRANS[t].apply(&n, c, &x);
            int v = encode(&n, c);
            if (sr->dist[u] + TRANS[t].cost < sr->dist[v]) {
                sr->dist[v] = sr->dist[u] + TRANS[t].cost;
                sr->prev[v] = u;
                sr->via[v] = (int)t;
            }
        }
    }
}

/* The cheapest uncovered (state kind, transition) reachable from here:
 * *target is the state to reach, *trans what to take there. */
static bool next_target(const pm_search *sr, const pm_cfg *c, bool covered[NTRANS][NKINDS], int *target, int *trans)
{
    int best = INF_COST;
    for (int i = 0; i < NSTATES; i++) {
        if (sr->dist[i] >= INF_COST)
            continue;
        pm_state s = decode(i, c);
        for (size_t t = 0; t < NTRANS; t++)
            if (trans_on(t, &s, c) && new_pair(covered, t, &s, c, false) && sr->dist[i] + TRANS[t].cost < best) {
                best = sr->dist[i] + TRANS[t].cost;
                *target = i;
                *trans = (int)t;
            }
    }
    return best < INF_COST;
}

/* The transitions from the search's origin to target, in order. */
static int path_to(const pm_search *sr, int target, int *out, int cap)
{
    int n = 0;
    for (int v = target; sr->prev[v] >= 0 && n < cap; v = sr->prev[v])
        out[n++] = sr->via[v];
    for (int i = 0; i < n / 2; i++) {
        int t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

/* ---- one step against the token ------------------------------------------------------------ */

typedef struct {
    const tr_pm_io *io;
    const pm_cfg *c;
    pm_state s;
    bool changed_since_power;      /* a CHANGE landed since the last power cycle */
    bool covered[NTRANS][NKINDS];
    tr_pm_result *res;
    tr_err *e;
    unsigned max_steps;
} pm_walk;

static const char *var_or(const pm_walk *w, const char *name, const char *dflt)
{
    const char *v = w->io->get(w->io->ud, name);
    return v ? v : dflt;
}

static long var_num(const pm_walk *w, const char *name, long dflt)
{
    const char *v = w->io->get(w->io->ud, name);
    uint64_t n;
    return v && tr_parse_u64(v, &n) && n < 1000000 ? (long)n : dflt;
}

/* Whether the count an op reported in name (a number, LO..HI or n/a:
 * util.h) admits n; a variable unset or not a count admits nothing. */
static bool var_may_be(const pm_walk *w, const char *name, long n)
{
    tr_count c;
    return tr_count_parse(w->io->get(w->io->ud, name), &c) && tr_count_may_be(&c, n);
}

static tr_pm_outcome deviate(pm_walk *w, const char *cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static tr_pm_outcome deviate(pm_walk *w, const char *cls, const char *fmt, ...)
{
    tr_strlcpy(w->res->cls, cls, sizeof w->res->cls);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->res->msg, sizeof w->res->msg, fmt, ap);
    va_end(ap);
    return w->res->outcome = TR_PM_DEVIATION;
}

static void describe(const pm_state *s, const pm_cfg *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s, %d/%d tries, %s, SO %d/%d", s->value ? "NEW_PIN" : "the factory PIN", s->left, c->max,
             s->verified == 1 ? "verified" : s->verified == 0 ? "not verified" : "verified or not", s->so_left,
             c->so_max);
}

/* The operation's RESULT against what the model expects. */
static tr_pm_outcome check_result(pm_walk *w, const pm_trans *t, const pm_expect *x, const char *where)
{
    const char *got = var_or(w, "RESULT", "(not set)"), *text = var_or(w, "RESULT_TEXT", "");
    if (strcmp(got, x->result)) {
        const char *cls = t->result_class;
        if (t - TRANS == T_RIGHT && w->changed_since_power)
            cls = "pin.change-not-persistent"; /* the changed PIN did not survive the power cycle */
        /* answered blocked to a wrong PIN: before its tries were spent the
         * counter lost tries (the transition's counter class); on the last
         * try the PIN is blocked as it must be, only the answer is not the
         * 63C0 of a wrong PIN with no try left: the count is wrong, no
         * wrong PIN was accepted */
        if (!strcmp(x->result, "wrong") && !strcmp(got, "blocked"))
            cls = x->left > 0 ? t->counter_class : "pin.counter-wrong";
        return deviate(w, cls, "%s: answered %s (%s), the model says %s", where, got, text, x->result);
    }
    if (!strcmp(x->result, "wrong") && !var_may_be(w, "RESULT_LEFT", x->left))
        return deviate(w, t->counter_class, "%s: answered %s with %s tries left, the model says %d", where, text,
                       var_or(w, "RESULT_LEFT", "(not set)"), x->left);
    return TR_PM_PASS;
}

/* The class of an SO counter that is not what the model says after t: a
 * reset or a power cycle that moved it, that transition's counter class. */
static const char *so_counter_class(const pm_trans *t)
{
    if (is_reset(t))
        return t->counter_class;
    if (!strcmp(t->op, "unblock"))
        return !strcmp(t->result_class, "pin.unblock-failed") ? "pin.so-counter-not-restored" : t->counter_class;
    return "pin.so-counter-wrong";
}

/* PIN info after t (x: what t had to answer). */
static tr_pm_outcome check_pin_info(pm_walk *w, const pm_trans *t, const pm_expect *x, const char *where)
{
    if (w->io->call(w->io->ud, "pin_info") < 0)
        return w->res->outcome = TR_PM_STOPPED;
    if (strcmp(var_or(w, "RESULT", "(not set)"), "ok"))
        return deviate(w, "pin.no-pin-info", "%s: PIN info answered %s", where, var_or(w, "RESULT_TEXT", ""));
    const pm_state *s = &w->s;
    const char *max = var_or(w, "PIN_MAX", "(not set)"), *left = var_or(w, "PIN_LEFT", "(not set)");
    const char *flag = var_or(w, "PIN_FLAG", "(not set)"), *so = var_or(w, "SO_LEFT", "(not set)");
    bool power = t - TRANS == T_POWER;
    if (!var_may_be(w, "PIN_MAX", w->c->max))
        return deviate(w, "pin.wrong-max-tries", "%s: PIN info says %s tries at most, the profile %d", where, max,
                       w->c->max);
    if (!var_may_be(w, "PIN_LEFT", s->left))
        return deviate(w, t->counter_class, "%s: PIN info says %s tries left, the model says %d", where, left,
                       s->left);
    /* the flag moved under a transition answered blocked: the blocked PIN
     * was changed after all (its result class) */
    if (!var_may_be(w, "PIN_FLAG", s->value == 0))
        return deviate(w, power && w->changed_since_power ? "pin.change-not-persistent"
                          : !strcmp(x->result, "blocked") ? t->result_class : "pin.default-flag-wrong",
                       "%s: the default-PIN flag is %s, the model says %d (%s)", where, flag, s->value == 0,
                       s->value ? "NEW_PIN is set" : "the factory PIN is set");
    if (!var_may_be(w, "SO_LEFT", s->so_left))
        return deviate(w, so_counter_class(t), "%s: PIN info says %s SO tries left, the model says %d", where, so,
                       s->so_left);
    return TR_PM_PASS;
}

/* The counter query, and whether signing and the seal are permitted: all
 * three follow the volatile verified state. */
/* was_verified: the state before the transition. Without a query of the
 * verified state (n/a: SKF) a probe that is permitted when the model says
 * refused is read by where the walk came from: from a verified state the
 * transition failed to end it (its verified_class); from an unverified one
 * the key works without the PIN (the probe's own class). */
static tr_pm_outcome check_verified(pm_walk *w, const pm_trans *t, int was_verified, const char *where)
{
    const pm_state *s = &w->s;
    if (s->verified == VERIFIED_UNKNOWN)
        return TR_PM_PASS;
    if (w->io->call(w->io->ud, "verify_status") < 0)
        return w->res->outcome = TR_PM_STOPPED;
    const char *got = var_or(w, "RESULT", "(not set)"), *text = var_or(w, "RESULT_TEXT", "");
    const char *want = s->verified ? "ok" : s->left == 0 ? "blocked" : "wrong";
    bool query_na = !strcmp(got, "n/a"); /* kept: the probes below set RESULT again */
    if (query_na) /* the interface cannot ask (SKF): the probes still tell */
        want = got;
    if (strcmp(got, want)) {
        /* every transition after which the model says not verified names
         * the class of a token still verified (a row without one would be
         * a bug of the table, not of the token) */
        const char *cls = !strcmp(got, "ok") ? (t->verified_class ? t->verified_class : "suite")
                          : s->verified ? "pin.verified-state-lost" : t->counter_class;
        return deviate(w, cls, "%s: the PIN reads as %s (%s), the model says %s", where,
                       !strcmp(got, "ok") ? "verified" : got, text, s->verified ? "verified" : want);
    }
    if (!strcmp(want, "wrong") && !var_may_be(w, "RESULT_LEFT", s->left))
        return deviate(w, t->counter_class, "%s: the counter query says %s tries left (%s), the model says %d",
                       where, var_or(w, "RESULT_LEFT", "(not set)"), text, s->left);
    static const struct {
        const char *op, *what, *open_cls, *closed_cls;
    } probes[] = {{"sign_probe", "signing", "sign.no-pin-required", "sign.refused-after-verify"},
                  {"seal_probe", "reading the seal", "seal.no-pin-required", "seal.refused-after-verify"}};
    for (size_t k = 0; k < 2; k++) {
        if (!(k == 0 ? w->c->can_sign : w->c->can_seal))
            continue;
        if (w->io->call(w->io->ud, probes[k].op) < 0)
            return w->res->outcome = TR_PM_STOPPED;
        const char *r = var_or(w, "RESULT", "(not set)");
        bool permitted = !strcmp(r, "ok");
        const char *open_cls = query_na && was_verified == 1 && t->verified_class ? t->verified_class
                                                                                             : probes[k].open_cls;
        if (permitted != (s->verified == 1))
            return deviate(w, permitted ? open_cls : probes[k].closed_cls, "%s: %s was %s (%s), the model says %s",
                           where, probes[k].what, permitted ? "permitted" : "refused", var_or(w, "RESULT_TEXT", ""),
                           s->verified ? "permitted" : "refused (the PIN is not verified)");
    }
    return TR_PM_PASS;
}

static tr_pm_outcome step(pm_walk *w, int ti)
{
    const pm_trans *t = &TRANS[ti];
    const char *kv[8] = {NULL};
    t->prepare(&w->s, w->c, kv);
    kv[6] = "OP_CUR_PIN", kv[7] = w->c->pin[w->s.value]; /* what the journal records */
    for (int k = 0; k < 8; k += 2)
        if (kv[k] && w->io->set(w->io->ud, kv[k], kv[k + 1]) < 0)
            return tr_fail(w->e, TR_E_NOMEM, "out of memory"), w->res->outcome = TR_PM_ERROR;
    char before[160], where[300];
    describe(&w->s, w->c, before, sizeof before);
    snprintf(where, sizeof where, "after %s (step %u, from: %s)", t->name, w->res->steps + 1, before);
    new_pair(w->covered, (size_t)ti, &w->s, w->c, true);
    pm_expect x = {"ok", -1};
    int was_verified = w->s.verified;
    t->apply(&w->s, w->c, &x);
    w->res->steps++;
    if (w->io->call(w->io->ud, t->op) < 0)
        return w->res->outcome = TR_PM_STOPPED;
    tr_pm_outcome o = check_result(w, t, &x, where);
    if (o == TR_PM_PASS)
        o = check_pin_info(w, t, &x, where);
    if (o == TR_PM_PASS)
        o = check_verified(w, t, was_verified, where);
    if (!strcmp(t->op, "change") && !strcmp(x.result, "ok"))
        w->changed_since_power = true;
    if (ti == T_POWER)
        w->changed_since_power = false;
    return o;
}

/* ---- the walk ------------------------------------------------------------------------------- */

static tr_pm_outcome follow(pm_walk *w, const pm_search *sr, int target)
{
    int path[NSTATES];
    int n = path_to(sr, target, path, NSTATES);
    for (int i = 0; i < n; i++) {
        tr_pm_outcome o = step(w, path[i]);
        if (o != TR_PM_PASS)
            return o;
    }
    return TR_PM_PASS;
}

static unsigned count_reachable(const pm_cfg *c)
{
    pm_state f = {0, c->max, 0, c->so_max};
    pm_search sr;
    search(&f, c, &sr);
    bool seen[NTRANS][NKINDS] = {{false}};
    unsigned n = 0;
    for (int i = 0; i < NSTATES; i++) {
        if (sr.dist[i] >= INF_COST)
            continue;
        pm_state s = decode(i, c);
        for (size_t t = 0; t < NTRANS; t++)
            if (trans_on(t, &s, c))
                new_pair(seen, t, &s, c, true);
    }
    for (size_t t = 0; t < NTRANS; t++)
        for (int k = 0; k < NKINDS; k++)
            n += seen[t][k];
    return n;
}

static tr_pm_outcome walk(pm_walk *w)
{
    pm_search sr;
    int target = 0, trans = 0;
    for (;;) {
        if (w->res->steps >= w->max_steps)
            return deviate(w, "suite", "the walk needs more than MODEL_MAX_STEPS = %u steps", w->max_steps);
        search(&w->s, w->c, &sr);
        if (!next_target(&sr, w->c, w->covered, &target, &trans))
            break;
        tr_pm_outcome o = follow(w, &sr, target);
        if (o == TR_PM_PASS)
            o = step(w, trans);
        if (o != TR_PM_PASS)
            return o;
    }
    /* back to factory state: the factory PIN, full counters */
    pm_state f = {0, w->c->max, 0, w->c->so_max};
    search(&w->s, w->c, &sr);
    int best = -1;
    for (int v = 0; v < 3; v++) {
        f.verified = v;
        int code = encode(&f, w->c);
        if (sr.dist[code] < INF_COST && (best < 0 || sr.dist[code] < sr.dist[best]))
            best = code;
    }
    return best < 0 ? deviate(w, "suite", "the model cannot get back to factory state") : follow(w, &sr, best);
}

/* The interface's `capabilities` op names, in OPS_NA (comma-separated), the
 * operations it cannot do (GM/T 0016 has no reset; a slot without a power
 * switch cannot cycle): the walk leaves those transitions out and the rest
 * is covered as before. */
static void ops_na(pm_walk *w, pm_cfg *c)
{
    const char *na = var_or(w, "OPS_NA", "");
    for (size_t t = 0; t < NTRANS; t++) {
        size_t n = strlen(TRANS[t].op);
        for (const char *p = strstr(na, TRANS[t].op); p; p = strstr(p + 1, TRANS[t].op))
            if ((p == na || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
                c->off[t] = true;
        if (!c->off[t])
            continue;
        size_t at = strlen(w->res->left_out);
        snprintf(w->res->left_out + at, sizeof w->res->left_out - at, "%s%s", at ? ", " : "", TRANS[t].name);
        if (t == T_POWER)
            w->res->power_left_out = true;
    }
}

/* Without a query of the verified state (OPS_NA names verify_status: SKF)
 * the walk first proves that the key refuses in the fresh session setup
 * opened: a probe permitted there is the key working without the PIN, so
 * that one permitted later after a transition from a verified state can
 * only be that transition failing to end it (check_verified). */
static tr_pm_outcome start_refuses(pm_walk *w)
{
    static const pm_trans start = {"the start (a fresh session)", "setup", 0, en_always, NULL, NULL,
                                   "enum.no-select", "pin.counter-wrong", NULL};
    const char *na = var_or(w, "OPS_NA", "");
    if (!strstr(na, "verify_status"))
        return TR_PM_PASS;
    return w->res->outcome = check_verified(w, &start, 0, "at the start (a fresh session, nothing verified)");
}

static int load_cfg(const tr_pm_io *io, pm_cfg *c, tr_err *e)
{
    static const char *const need[] = {"PIN_MAX_TRIES", "SO_MAX_TRIES", "DEFAULT_PIN", "NEW_PIN", "WRONG_PIN",
                                       "SO_PIN"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!io->get(io->ud, need[i]))
            return tr_fail(e, TR_E_CONFIG, "the PIN model needs the variable %s (profile)", need[i]);
    uint64_t max, so_max;
    if (!tr_parse_u64(io->get(io->ud, "PIN_MAX_TRIES"), &max) || max < 3 || max > MAX_TRIES ||
        !tr_parse_u64(io->get(io->ud, "SO_MAX_TRIES"), &so_max) || so_max < 2 || so_max > MAX_TRIES)
        return tr_fail(e, TR_E_CONFIG, "the PIN model needs PIN_MAX_TRIES 3..%d and SO_MAX_TRIES 2..%d", MAX_TRIES,
                       MAX_TRIES);
    c->max = (int)max;
    c->so_max = (int)so_max;
    c->pin[0] = io->get(io->ud, "DEFAULT_PIN");
    c->pin[1] = io->get(io->ud, "NEW_PIN");
    c->wrong = io->get(io->ud, "WRONG_PIN");
    c->so = io->get(io->ud, "SO_PIN");
    c->wrong_so = io->get(io->ud, "WRONG_SO_PIN") ? io->get(io->ud, "WRONG_SO_PIN") : c->wrong;
    if (!strcmp(c->pin[0], c->pin[1]) || !strcmp(c->wrong, c->pin[0]) || !strcmp(c->wrong, c->pin[1]) ||
        !strcmp(c->wrong_so, c->so))
        return tr_fail(e, TR_E_CONFIG, "the PIN model needs DEFAULT_PIN, NEW_PIN and WRONG_PIN all different, "
                                       "and WRONG_SO_PIN (default WRONG_PIN) other than SO_PIN");
    return 0;
}

tr_pm_outcome tr_pinmodel_run(const tr_pm_io *io, tr_pm_result *res, tr_err *e)
{
    memset(res, 0, sizeof *res);
    pm_cfg c;
    memset(&c, 0, sizeof c);
    if (load_cfg(io, &c, e) < 0)
        return res->outcome = TR_PM_ERROR;
    pm_walk w = {.io = io, .c = &c, .res = res, .e = e};
    w.max_steps = (unsigned)var_num(&w, "MODEL_MAX_STEPS", DEFAULT_MAX_STEPS);
    if (io->call(io->ud, "setup") < 0 || io->call(io->ud, "pin_info") < 0)
        return res->outcome = TR_PM_STOPPED;
    if (strcmp(var_or(&w, "RESULT", "(not set)"), "ok"))
        return deviate(&w, "pin.no-pin-info", "before the walk: PIN info answered %s", var_or(&w, "RESULT_TEXT", ""));
    if (io->call(io->ud, "capabilities") < 0)
        return res->outcome = TR_PM_STOPPED;
    ops_na(&w, &c);
    c.can_sign = var_num(&w, "MODEL_CAN_SIGN", 0) == 1;
    c.can_seal = var_num(&w, "MODEL_CAN_SEAL", 0) == 1;
    c.unblock_ends_login = var_num(&w, "OPS_UNBLOCK_ENDS_LOGIN", 0) == 1;
    /* a token that is not in factory state is not touched */
    if (!var_may_be(&w, "PIN_MAX", c.max) || !var_may_be(&w, "PIN_LEFT", c.max) || !var_may_be(&w, "PIN_FLAG", 1) ||
        !var_may_be(&w, "SO_LEFT", c.so_max)) {
        snprintf(res->msg, sizeof res->msg, "not in factory state (%s/%s tries, flag %s, SO %s): no PIN is tried",
                 var_or(&w, "PIN_LEFT", "?"), var_or(&w, "PIN_MAX", "?"), var_or(&w, "PIN_FLAG", "?"),
                 var_or(&w, "SO_LEFT", "?"));
        return res->outcome = TR_PM_NOT_FACTORY;
    }
    w.s = (pm_state){0, c.max, 0, c.so_max};
    res->reachable = count_reachable(&c);
    pm_cfg all = c; /* every transition on: what the interface's gaps cost */
    memset(all.off, 0, sizeof all.off);
    res->modelled = count_reachable(&all);
    if (start_refuses(&w) != TR_PM_PASS)
        return res->outcome;
    tr_pm_outcome o = walk(&w);
    for (size_t t = 0; t < NTRANS; t++)
        for (int k = 0; k < NKINDS; k++)
            res->covered += w.covered[t][k];
    return res->outcome = o;
}
