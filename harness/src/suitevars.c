/* suitevars.c — what a suite needs from outside. See suitevars.h.
 *
 * One walk over the AST collects three lists of names (pointers into the
 * suite's arena): read, set by the suite, guarded with defined(). The lists
 * are sorted once, so a check is O(n log n) however large the suite.
 */
#include "suitevars.h"

#include "libcall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const TR_CERT_INFO_OUTPUTS[] = {
    "CERT_PARSED", "CERT_CLASS", "CERT_PROBLEM", "CERT_DAYS_LEFT", "CERT_VALIDITY_DAYS", "CERT_KEY_ALG",
    "CERT_SUBJECT", "CERT_SERIAL", "CERT_NOT_BEFORE", "CERT_NOT_AFTER", "CERT_ISSUER", "CERT_CHAIN_OK",
    "CERT_CHAIN_PROBLEM", "CERT_KEY_ID", NULL};
const char *const TR_SEAL_INFO_OUTPUTS[] = {
    "SEAL_PARSED", "SEAL_VERSION", "SEAL_HEADER_ID", "SEAL_ID", "SEAL_NAME", "SEAL_VALID_NOW", "SEAL_PIC_OK",
    "SEAL_PIC_TYPE", "SEAL_PIC_W", "SEAL_PIC_H", "SEAL_SIG_OK", "SEAL_CERT_COUNT", "SEAL_CERT_LISTED",
    "SEAL_SIGN_ALG", "SEAL_PROBLEM", "SEAL_MAKER", "SEAL_MAKER_TRUSTED", "SEAL_MAKER_PROBLEM", NULL};
/* pin-model (pinmodel.h) sets what it hands its ops, and reads the profile */
static const char *const PIN_MODEL_SETS[] = {"OP_PIN", "OP_OLD_PIN", "OP_NEW_PIN", "OP_SO_PIN",
                                             "OP_CUR_PIN", NULL};
static const char *const PIN_MODEL_READS[] = {"PIN_MAX_TRIES", "SO_MAX_TRIES", "DEFAULT_PIN", "NEW_PIN",
                                              "WRONG_PIN", "SO_PIN", NULL};
/* ...and calls these ops (the token operations and the suite's setup) */
static const char *const PIN_MODEL_OPS[] = {"setup", "capabilities", "pin_info", "verify", "change", "unblock", "verify_status",
                                            "logout", "warm_reset", "power_cycle", "sign_probe", "seal_probe",
                                            NULL};

typedef struct {
    const char *name;
    tr_pos pos;
    const char *file; /* the suite's, or the interface library's */
} ref;

typedef struct {
    ref *v;
    size_t n, cap;
} ref_list;

enum { READS, SETS, GUARDS, CALLS, NLISTS };

struct tr_suite_vars {
    ref_list l[NLISTS];
    const char *file; /* of the statements being walked */
    const char *iface; /* the slot's INTERFACE: what only another interface runs is not walked; NULL = all */
    bool nomem;
};

static void add(tr_suite_vars *sv, int list, const char *name, tr_pos pos)
{
    ref_list *r = &sv->l[list];
    if (!name || sv->nomem)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        ref *p = realloc(r->v, cap * sizeof *p);
        if (!p) {
            sv->nomem = true;
            return;
        }
        r->v = p;
        r->cap = cap;
    }
    r->v[r->n++] = (ref){name, pos, sv->file};
}

static void walk_expr(tr_suite_vars *sv, const tr_expr *x);

static void walk_tpl(tr_suite_vars *sv, const tr_template *t)
{
    for (const tr_piece *pc = t->pieces; pc; pc = pc->next)
        if (!pc->text)
            walk_expr(sv, pc->expr);
}

/* defined(NAME) guards NAME without reading it; defined("NAME") guards
 * NAME; defined() of a computed name guards nothing (and reads what it
 * computes with). */
static void walk_defined(tr_suite_vars *sv, const tr_expr *x)
{
    const tr_expr *a = x->nargs == 1 ? x->args[0] : NULL;
    if (a && a->kind == TR_EX_VAR)
        add(sv, GUARDS, a->name, a->pos);
    else if (a && a->kind == TR_EX_STR && a->str.constant)
        add(sv, GUARDS, a->str.text, a->pos);
    else if (a)
        walk_expr(sv, a);
}

static void walk_expr(tr_suite_vars *sv, const tr_expr *x)
{
    if (!x)
        return;
    switch (x->kind) {
    case TR_EX_VAR: add(sv, READS, x->name, x->pos); break;
    case TR_EX_STR: walk_tpl(sv, &x->str); break;
    case TR_EX_UNARY: walk_expr(sv, x->a); break;
    case TR_EX_BINARY:
        walk_expr(sv, x->a);
        walk_expr(sv, x->b);
        break;
    case TR_EX_CALL:
        if (x->op == TR_FN_DEFINED) {
            walk_defined(sv, x);
            break;
        }
        for (int k = 0; k < x->nargs && k < TR_SCRIPT_MAX_ARGS; k++)
            walk_expr(sv, x->args[k]);
        break;
    case TR_EX_INT: break;
    }
}

static void add_outputs(tr_suite_vars *sv, const char *const *names, tr_pos pos)
{
    for (; *names; names++)
        add(sv, SETS, *names, pos);
}

static bool other_interface(const tr_expr *x, const char *iface);

static void walk_stmts(tr_suite_vars *sv, const tr_stmt *s)
{
    for (; s; s = s->next) {
        if (s->kind == TR_ST_IF && other_interface(s->e[0], sv->iface)) {
            walk_stmts(sv, s->else_body); /* `if INTERFACE == "other"`: its body never runs here */
            continue;
        }
        /* s->name is the variable a statement sets (let, capture, for,
         * read-binary, and whatever statement comes next), except where it
         * names a metric */
        if (s->kind != TR_ST_METRIC && s->kind != TR_ST_MEASURE && s->kind != TR_ST_CALL && s->kind != TR_ST_LIBCALL)
            add(sv, SETS, s->name, s->pos);
        if (s->kind == TR_ST_LIBCALL)
            add_outputs(sv, s->iface->outputs, s->pos);
        if (s->kind == TR_ST_CALL)
            add(sv, CALLS, s->name, s->pos);
        if (s->kind == TR_ST_PIN_MODEL) {
            add_outputs(sv, PIN_MODEL_SETS, s->pos);
            for (const char *const *n = PIN_MODEL_READS; *n; n++)
                add(sv, READS, *n, s->pos);
            for (const char *const *n = PIN_MODEL_OPS; *n; n++)
                add(sv, CALLS, *n, s->pos);
        }
        if (s->kind == TR_ST_CERT_INFO)
            add_outputs(sv, TR_CERT_INFO_OUTPUTS, s->pos);
        if (s->kind == TR_ST_SEAL_INFO)
            add_outputs(sv, TR_SEAL_INFO_OUTPUTS, s->pos);
        walk_expr(sv, s->e[0]);
        walk_expr(sv, s->e[1]);
        walk_expr(sv, s->e[2]);
        walk_expr(sv, s->message);
        for (int t = 0; t < TR_TH_COUNT; t++)
            walk_expr(sv, s->threshold[t]);
        walk_tpl(sv, &s->tpl);
        walk_stmts(sv, s->body);
        walk_stmts(sv, s->else_body);
    }
}

static int by_name(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->pos.line != y->pos.line ? (x->pos.line > y->pos.line) - (x->pos.line < y->pos.line)
                                      : (x->pos.col > y->pos.col) - (x->pos.col < y->pos.col);
}

/* Binary search by name (any position matches). */
static bool has(const tr_suite_vars *sv, int list, const char *name)
{
    const ref_list *r = &sv->l[list];
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->v[mid].name, name);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The library's ops the suite calls, and the ones those call in turn (the
 * CALLS list grows while it is walked); a name the suite defines itself
 * is the suite's op (walked with the suite). */
static void walk_library(tr_suite_vars *sv, const tr_suite *suite, const tr_suite *lib)
{
    bool *walked = lib && lib->nops ? calloc(lib->nops, sizeof *walked) : NULL;
    if (lib && lib->nops && !walked) {
        sv->nomem = true;
        return;
    }
    sv->file = lib ? lib->file : NULL;
    for (size_t c = 0; lib && c < sv->l[CALLS].n && !sv->nomem; c++) {
        const char *name = sv->l[CALLS].v[c].name;
        bool own = false;
        for (size_t o = 0; o < suite->nops && !own; o++)
            own = !strcmp(suite->ops[o].name, name);
        for (size_t o = 0; o < lib->nops && !own; o++)
            if (!walked[o] && !strcmp(lib->ops[o].name, name)) {
                walked[o] = true;
                walk_stmts(sv, lib->ops[o].body);
            }
    }
    free(walked);
}

/* Whether expression x is `INTERFACE == "name"` (either way round) with
 * another name than iface: a test that requires it never runs on the slot. */
static bool other_interface(const tr_expr *x, const char *iface)
{
    if (!iface || x->kind != TR_EX_BINARY || x->op != TR_OP_EQ)
        return false;
    const tr_expr *v = x->a->kind == TR_EX_VAR ? x->a : x->b, *c = v == x->a ? x->b : x->a;
    if (v->kind != TR_EX_VAR || strcmp(v->name, "INTERFACE") || c->kind != TR_EX_STR || !c->str.constant)
        return false;
    return strlen(iface) != c->str.len || strncmp(c->str.text, iface, c->str.len) != 0;
}

static bool test_for_other_interface(const tr_test *t, const char *iface)
{
    for (int k = 0; k < t->nrequires && k < 8; k++)
        if (other_interface(t->requires[k], iface))
            return true;
    return false;
}

static tr_suite_vars *scan_for(const tr_suite *suite, const tr_suite *lib, const char *iface)
{
    tr_suite_vars *sv = calloc(1, sizeof *sv);
    if (!sv)
        return NULL;
    sv->file = suite->file;
    sv->iface = iface;
    for (int k = 0; k < suite->nrequires && k < 8; k++)
        if (other_interface(suite->requires[k], iface))
            return sv; /* the suite never runs on the slot: it reads nothing */
    walk_stmts(sv, suite->prelude);
    for (int k = 0; k < suite->nrequires && k < 8; k++)
        walk_expr(sv, suite->requires[k]);
    for (size_t t = 0; t < suite->ntests; t++) {
        const tr_test *tt = &suite->tests[t];
        if (test_for_other_interface(tt, iface))
            continue;
        for (int k = 0; k < tt->nrequires && k < 8; k++)
            walk_expr(sv, tt->requires[k]);
        walk_stmts(sv, tt->body);
        walk_stmts(sv, tt->cleanup);
    }
    for (size_t o = 0; o < suite->nops; o++) /* ops run inside the tests that call them */
        walk_stmts(sv, suite->ops[o].body);
    walk_library(sv, suite, lib);
    if (sv->nomem) {
        tr_suite_vars_free(sv);
        return NULL;
    }
    for (int l = 0; l < NLISTS; l++)
        if (sv->l[l].n > 1)
            qsort(sv->l[l].v, sv->l[l].n, sizeof(ref), by_name);
    return sv;
}

tr_suite_vars *tr_suite_vars_scan(const tr_suite *suite, const tr_suite *lib)
{
    return scan_for(suite, lib, NULL);
}

void tr_suite_vars_free(tr_suite_vars *sv)
{
    if (!sv)
        return;
    for (int l = 0; l < NLISTS; l++)
        free(sv->l[l].v);
    free(sv);
}

bool tr_suite_vars_sets(const tr_suite_vars *sv, const char *name)
{
    return sv && has(sv, SETS, name);
}

/* Is this read a name the run must give? */
static bool needed_from_outside(const tr_suite_vars *sv, const char *name, const tr_vars *vars)
{
    return !tr_script_builtin_var(name) && !has(sv, SETS, name) && !has(sv, GUARDS, name) &&
           !tr_vars_get(vars, name);
}

/* The missing names after the first one, ", B, C" (bounded). */
static void others(const tr_suite_vars *sv, const tr_vars *vars, const ref *first, char *out, size_t cap)
{
    const ref_list *r = &sv->l[READS];
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const char *n = r->v[i].name;
        if ((i > 0 && !strcmp(n, r->v[i - 1].name)) || !strcmp(n, first->name) ||
            !needed_from_outside(sv, n, vars))
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", n);
        if (w < 0 || (size_t)w >= cap - used) {
            snprintf(out + (used < cap - 5 ? used : cap - 5), 5, "...");
            return;
        }
        used += (size_t)w;
    }
}

/* Is x read before y? The suite's own reads come before those of the
 * library ops it calls. */
static bool earlier(const tr_suite *suite, const ref *x, const ref *y)
{
    bool xs = x->file == suite->file, ys = y->file == suite->file;
    if (xs != ys)
        return xs;
    return x->pos.line < y->pos.line || (x->pos.line == y->pos.line && x->pos.col < y->pos.col);
}

int tr_suite_check_vars(const tr_suite *suite, const tr_suite *lib, const tr_vars *vars, const char *profile,
                        const char *whom, tr_err *e)
{
    /* a test that requires another interface than the slot's never runs on it */
    tr_suite_vars *sv = scan_for(suite, lib, tr_vars_get(vars, "INTERFACE"));
    if (!sv)
        return tr_fail(e, TR_E_NOMEM, "out of memory checking %s", suite->file);
    const ref *first = NULL;
    const ref_list *r = &sv->l[READS];
    for (size_t i = 0; i < r->n; i++) {
        const ref *x = &r->v[i];
        if (!needed_from_outside(sv, x->name, vars))
            continue;
        if (!first || earlier(suite, x, first))
            first = x;
    }
    int rc = 0;
    if (first) {
        char more[400];
        others(sv, vars, first, more, sizeof more);
        rc = tr_fail_at(e, TR_E_CONFIG, first->file ? first->file : suite->file, first->pos.line, first->pos.col,
                        "profile %s does not set %s, which suite %s reads (%s; give it in the profile, the rig "
                        "(var.%s) or with -D %s=...)%s%s",
                        profile, first->name, suite->name, whom, first->name, first->name,
                        more[0] ? "; also missing: " : "", more);
    }
    tr_suite_vars_free(sv);
    return rc;
}
