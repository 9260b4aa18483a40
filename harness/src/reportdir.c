/* reportdir.c — see reportdir.h. The result files: summary.csv (the
 * tokens and verdicts), results.csv (failed tests, metrics, profiles),
 * trace.csv (excerpts of the failed tests), samples.csv and cycles.csv
 * (the plots). Each is streamed once; a token is a slot and the serial seen
 * in it (as in reports.c). */
#include "reportdir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "reportdir_int.h"
#include "util.h"

#define CELL_KEEP 2048 /* bytes of a trace cell kept (an APDU of 1000 bytes in hex) */
#define MAX_SERIES 32

static const char *nz(const char *s)
{
    return s ? s : "";
}

int rd_verdict_rank(const char *v)
{
    static const char *const order[] = {"FAIL", "ERROR", "INCOMPLETE", "SKIP", "PASS"};
    for (int i = 0; i < 5; i++)
        if (v && !strcmp(v, order[i]))
            return i;
    return 5;
}

static unsigned uint_of(const char *s)
{
    uint64_t v;
    return tr_parse_u64(s, &v) && v <= 0xFFFFFFFFu ? (unsigned)v : 0;
}

/* s as a number; dflt when empty or not a number. */
static double num_of(const char *s, double dflt)
{
    double v;
    return tr_parse_double(s, &v) && isfinite(v) ? v : dflt;
}

/* At most max bytes of s (on a UTF-8 boundary, "…" after a cut). */
static char *dup_max(rd_loader *L, const char *s, size_t max)
{
    size_t n = strlen(nz(s));
    if (n <= max)
        return rd_dup_masked(L, s);
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    char *cut = malloc(max + 4);
    if (!cut) {
        L->oom = true;
        return NULL;
    }
    memcpy(cut, s, max);
    memcpy(cut + max, "\xE2\x80\xA6", 4);
    char *m = rd_dup_masked(L, cut);
    free(cut);
    return m;
}

static void set_if_empty(rd_loader *L, char **dst, const char *v)
{
    if ((!*dst || !**dst) && v && *v) {
        free(*dst);
        *dst = rd_dup_masked(L, v);
    }
}

/* ---- tokens ---------------------------------------------------------------------------- */

static bool token_is(const rd_token *t, const char *slot, const char *serial)
{
    return !strcmp(nz(t->slot), slot) && (!strcmp(nz(t->serial), serial) || !*nz(t->serial) || !*serial);
}

/* The token of slot and serial; a new one when create (NULL past
 * RD_MAX_TOKENS or on no memory). */
static rd_token *token_for(rd_loader *L, const char *slot, const char *serial, bool create)
{
    rd_run *r = L->run;
    rd_token *t = L->last && token_is(L->last, slot, serial) ? L->last : NULL;
    for (size_t i = 0; !t && i < r->ntokens; i++)
        if (token_is(&r->tokens[i], slot, serial))
            t = &r->tokens[i];
    if (!t && create && r->ntokens < RD_MAX_TOKENS) {
        rd_token *nt = rd_grow(L, r->tokens, r->ntokens, sizeof *nt);
        if (!nt)
            return NULL;
        r->tokens = nt;
        t = &nt[r->ntokens++];
        memset(t, 0, sizeof *t);
        t->slot = rd_dup_masked(L, slot);
        t->first_apdu_limit = -1;
    }
    if (t)
        set_if_empty(L, &t->serial, serial);
    L->last = t;
    return t;
}

/* code into the ";"-separated list *list unless it is there. */
static void add_code(rd_loader *L, char **list, const char *code)
{
    if (!code || !*code)
        return;
    size_t n = strlen(code);
    for (const char *p = nz(*list); (p = strstr(p, code)); p += n)
        if ((p == *list || p[-1] == ';') && (p[n] == ';' || !p[n]))
            return;
    size_t old = strlen(nz(*list));
    char *nl = realloc(*list, old + n + 2);
    if (!nl) {
        L->oom = true;
        return;
    }
    snprintf(nl + old, n + 2, "%s%s", old ? ";" : "", code);
    *list = nl;
}

/* ---- summary.csv ------------------------------------------------------------------------ */

static int summary_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    rd_token *t = token_for(L, tr_csv_get(row, "slot"), tr_csv_get(row, "serial"), true);
    if (!t)
        return L->oom ? -1 : 0;
    set_if_empty(L, &t->role, tr_csv_get(row, "role"));
    set_if_empty(L, &t->rig, tr_csv_get(row, "rig"));
    set_if_empty(L, &t->profile, tr_csv_get(row, "profile"));
    set_if_empty(L, &t->verdict, tr_csv_get(row, "verdict"));
    set_if_empty(L, &t->classifications, tr_csv_get(row, "classifications"));
    set_if_empty(L, &L->run->run_id, tr_csv_get(row, "run_id"));
    set_if_empty(L, &L->run->rig, tr_csv_get(row, "rig"));
    t->tests = uint_of(tr_csv_get(row, "tests"));
    t->passed = uint_of(tr_csv_get(row, "passed"));
    t->failed = uint_of(tr_csv_get(row, "failed"));
    t->errored = uint_of(tr_csv_get(row, "errored"));
    t->skipped = uint_of(tr_csv_get(row, "skipped"));
    t->not_run = uint_of(tr_csv_get(row, "not_run"));
    t->duration_s = num_of(tr_csv_get(row, "duration_s"), 0);
    return L->oom ? -1 : 0;
}

/* ---- results.csv ------------------------------------------------------------------------- */

static void add_metric(rd_loader *L, rd_token *t, const tr_csv_row *row, double limit, const char *kind)
{
    bool failed = !strcmp(tr_csv_get(row, "verdict"), "fail");
    if (t->nmetrics >= RD_MAX_METRICS || (t->nmetrics >= RD_MAX_METRICS / 2 && !failed))
        return;
    rd_metric *nm = rd_grow(L, t->metrics, t->nmetrics, sizeof *nm);
    if (!nm)
        return;
    t->metrics = nm;
    nm += t->nmetrics++;
    nm->suite = rd_dup_masked(L, tr_csv_get(row, "suite"));
    nm->test = rd_dup_masked(L, tr_csv_get(row, "test"));
    nm->metric = rd_dup_masked(L, tr_csv_get(row, "metric"));
    nm->unit = rd_dup_masked(L, tr_csv_get(row, "unit"));
    nm->message = rd_dup_masked(L, tr_csv_get(row, "message"));
    nm->value = num_of(tr_csv_get(row, "value"), NAN);
    nm->limit = limit;
    tr_strlcpy(nm->limit_kind, limit >= 0 ? kind : "", sizeof nm->limit_kind);
    nm->failed = failed;
}

/* A metric row, with its limit: results.csv's limit and limit_kind
 * columns when the run wrote them, else the limit a broken-limit message
 * names (FIRST_APDU_MAX_MS of first_apdu_ms, max_ms of a measure's .max). */
static void metric_row(rd_loader *L, rd_token *t, const tr_csv_row *row)
{
    const char *name = tr_csv_get(row, "metric"), *msg = tr_csv_get(row, "message");
    double limit = num_of(tr_csv_get(row, "limit"), -1);
    const char *kind = *tr_csv_get(row, "limit_kind") ? tr_csv_get(row, "limit_kind") : "max";
    if (limit < 0 && !strcmp(name, "first_apdu_ms"))
        limit = rd_limit_in_text(msg, "FIRST_APDU_MAX_MS");
    if (limit < 0 && strlen(name) > 4 && !strcmp(name + strlen(name) - 4, ".max"))
        limit = rd_limit_in_text(msg, "max_ms");
    if (!strcmp(name, "first_apdu_ms") && limit > 0 && t->first_apdu_limit < 0) {
        t->first_apdu_limit = limit;
        free(t->first_apdu_limit_from);
        t->first_apdu_limit_from = rd_dup(L, "results.csv (a first_apdu_ms row)");
    }
    add_metric(L, t, row, limit, kind);
}

static void add_fail(rd_loader *L, rd_token *t, const tr_csv_row *row)
{
    if (t->nfails >= RD_MAX_FAILS) {
        t->more_fails++;
        return;
    }
    rd_fail *nf = rd_grow(L, t->fails, t->nfails, sizeof *nf);
    if (!nf)
        return;
    t->fails = nf;
    nf += t->nfails++;
    memset(nf, 0, sizeof *nf);
    nf->suite = rd_dup_masked(L, tr_csv_get(row, "suite"));
    nf->test = rd_dup_masked(L, tr_csv_get(row, "test"));
    nf->verdict = rd_dup(L, tr_csv_get(row, "verdict"));
    nf->cls = rd_dup_masked(L, tr_csv_get(row, "classification"));
    nf->message = rd_dup_masked(L, tr_csv_get(row, "message"));
    nf->file = rd_dup_masked(L, tr_csv_get(row, "file"));
    nf->line = (int)uint_of(tr_csv_get(row, "line"));
    nf->duration_s = num_of(tr_csv_get(row, "duration_s"), 0);
}

/* A verdict row: a failed or errored test kept; without summary.csv the
 * token's counts and codes are made from these rows. */
static void verdict_row(rd_loader *L, rd_token *t, const tr_csv_row *row)
{
    const char *v = tr_csv_get(row, "verdict"), *cls = tr_csv_get(row, "classification");
    bool bad = !strcmp(v, "fail") || !strcmp(v, "error");
    if (bad)
        add_fail(L, t, row);
    if (L->run->has_summary)
        return;
    t->tests++;
    t->passed += !strcmp(v, "pass");
    t->failed += !strcmp(v, "fail");
    t->errored += !strcmp(v, "error");
    t->skipped += !strcmp(v, "skip");
    if (bad)
        add_code(L, &t->classifications, cls);
    if (!strcmp(v, "skip") && !strncmp(cls, "not-run.", 8)) {
        t->not_run++;
        add_code(L, &t->not_run_why, cls);
    }
    t->duration_s += num_of(tr_csv_get(row, "duration_s"), 0);
}

/* The row's time into the run's first and last. */
static void note_time(rd_loader *L, const tr_csv_row *row)
{
    const char *time = tr_csv_get(row, "time");
    if (!*time)
        return;
    if (!L->first_time[0] || strcmp(time, L->first_time) < 0)
        tr_strlcpy(L->first_time, time, sizeof L->first_time);
    if (strcmp(time, L->last_time) > 0)
        tr_strlcpy(L->last_time, time, sizeof L->last_time);
}

static int results_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    rd_run *r = L->run;
    r->result_rows++;
    note_time(L, row);
    set_if_empty(L, &r->run_id, tr_csv_get(row, "run_id"));
    set_if_empty(L, &r->rig, tr_csv_get(row, "rig"));
    rd_token *t = token_for(L, tr_csv_get(row, "slot"), tr_csv_get(row, "serial"), !r->has_summary);
    if (!t)
        return L->oom ? -1 : 0;
    set_if_empty(L, &t->profile, tr_csv_get(row, "profile"));
    set_if_empty(L, &t->reader, tr_csv_get(row, "reader"));
    set_if_empty(L, &t->role, tr_csv_get(row, "role"));
    set_if_empty(L, &t->rig, tr_csv_get(row, "rig"));
    if (*tr_csv_get(row, "metric"))
        metric_row(L, t, row);
    else
        verdict_row(L, t, row);
    return L->oom ? -1 : 0;
}

/* ---- trace.csv ---------------------------------------------------------------------------- */

static rd_fail *fail_of(rd_token *t, const char *suite, const char *test)
{
    for (size_t i = 0; i < t->nfails; i++)
        if (!strcmp(t->fails[i].suite, suite) && !strcmp(t->fails[i].test, test))
            return &t->fails[i];
    return NULL;
}

static void free_trace(rd_trace *x)
{
    free(x->time);
    free(x->file);
    free(x->command);
    free(x->response);
    free(x->sw);
}

static void keep_trace(rd_loader *L, rd_fail *f, const tr_csv_row *row)
{
    rd_trace x = {
        .time = rd_dup(L, tr_csv_get(row, "time")), .file = rd_dup_masked(L, tr_csv_get(row, "file")),
        .command = dup_max(L, tr_csv_get(row, "command"), CELL_KEEP),
        .response = dup_max(L, tr_csv_get(row, "response"), CELL_KEEP),
        .sw = dup_max(L, tr_csv_get(row, "sw"), 64), .line = (int)uint_of(tr_csv_get(row, "line")),
        .latency_us = num_of(tr_csv_get(row, "latency_us"), -1)};
    f->ntrace++;
    if (f->nhead < RD_TRACE_HEAD) {
        f->head[f->nhead++] = x;
    } else if (f->ntail < RD_TRACE_TAIL) {
        f->tail[f->ntail++] = x;
    } else { /* the ring is full: the oldest goes */
        free_trace(&f->tail[f->tail_at]);
        f->tail[f->tail_at] = x;
        f->tail_at = (f->tail_at + 1) % RD_TRACE_TAIL;
    }
}

static int trace_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    L->run->trace_rows++;
    rd_token *t = token_for(L, tr_csv_get(row, "slot"), tr_csv_get(row, "serial"), false);
    rd_fail *f = t ? fail_of(t, tr_csv_get(row, "suite"), tr_csv_get(row, "test")) : NULL;
    if (f)
        keep_trace(L, f, row);
    return L->oom ? -1 : 0;
}

/* ---- samples.csv -------------------------------------------------------------------------- */

static rd_series *series_of(rd_loader *L, rd_token *t, const char *metric, const char *unit)
{
    for (size_t i = 0; i < t->nseries; i++)
        if (!strcmp(t->series[i].metric, metric))
            return &t->series[i];
    if (t->nseries >= MAX_SERIES)
        return NULL;
    rd_series *ns = rd_grow(L, t->series, t->nseries, sizeof *ns);
    if (!ns)
        return NULL;
    t->series = ns;
    ns += t->nseries++;
    memset(ns, 0, sizeof *ns);
    ns->metric = rd_dup_masked(L, metric);
    ns->unit = rd_dup_masked(L, unit);
    return ns;
}

static int sample_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    L->run->sample_rows++;
    rd_token *t = token_for(L, tr_csv_get(row, "slot"), tr_csv_get(row, "serial"), false);
    rd_series *s = t ? series_of(L, t, tr_csv_get(row, "metric"), tr_csv_get(row, "unit")) : NULL;
    double v = num_of(tr_csv_get(row, "value"), NAN);
    if (!s || !isfinite(v))
        return L->oom ? -1 : 0;
    s->total++;
    if (s->n >= RD_MAX_SAMPLES)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        double *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return rd_oom(L);
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

/* ---- cycles.csv --------------------------------------------------------------------------- */

/* The stage columns, from the header: off_ms and every to_*_ms, in order. */
static void find_stages(rd_loader *L, const tr_csv_row *row)
{
    rd_run *r = L->run;
    for (size_t i = 0; i < tr_csv_ncols(row) && r->nstages < RD_MAX_STAGES; i++) {
        const char *c = tr_csv_colname(row, i);
        size_t n = strlen(c);
        if (!strcmp(c, "off_ms") || (!strncmp(c, "to_", 3) && n > 6 && !strcmp(c + n - 3, "_ms"))) {
            L->stage_col[r->nstages] = (int)i;
            r->stages[r->nstages] = malloc(n - 2);
            if (!r->stages[r->nstages]) {
                L->oom = true;
                return;
            }
            snprintf(r->stages[r->nstages], n - 2, "%.*s", (int)(n - 3), c); /* without _ms */
            r->nstages++;
        }
    }
    L->stages_known = true;
}

/* "suite / test, cycle 2: verdict: message" (what the file has of it). */
static char *cycle_tip(rd_loader *L, const tr_csv_row *row)
{
    const char *suite = tr_csv_get(row, "suite"), *test = tr_csv_get(row, "test");
    const char *msg = tr_csv_get(row, "message");
    char *tip = NULL;
    size_t n = strlen(suite) + strlen(test) + strlen(msg) + 96;
    if (n > 4096)
        n = 4096;
    if (!(tip = malloc(n))) {
        L->oom = true;
        return NULL;
    }
    snprintf(tip, n, "%s%s%s%scycle %s: %s%s%s", suite, *suite ? " / " : "", test, *suite || *test ? ", " : "",
             tr_csv_get(row, "cycle"), tr_csv_get(row, "verdict"), *msg ? ": " : "", msg);
    char *m = rd_dup_masked(L, tip);
    free(tip);
    return m;
}

/* The limit the cycle was judged by: its first_apdu_limit_ms column
 * (over what results.csv said), else the limit its message names. */
static void cycle_limit(rd_loader *L, rd_token *t, const tr_csv_row *row)
{
    double col = num_of(tr_csv_get(row, "first_apdu_limit_ms"), -1);
    double lim = col > 0 ? col : rd_limit_in_text(tr_csv_get(row, "message"), "FIRST_APDU_MAX_MS");
    if (lim > 0 && (t->first_apdu_limit < 0 || col > 0)) {
        t->first_apdu_limit = lim;
        free(t->first_apdu_limit_from);
        t->first_apdu_limit_from = rd_dup(L, col > 0 ? "cycles.csv (first_apdu_limit_ms)" : "cycles.csv (a cycle's message)");
    }
}

static int cycle_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    rd_run *r = L->run;
    r->cycle_rows++;
    if (!L->stages_known)
        find_stages(L, row);
    note_time(L, row);
    set_if_empty(L, &r->run_id, tr_csv_get(row, "run_id")); /* when cycles.csv has the column */
    rd_token *t = token_for(L, tr_csv_get(row, "slot"), tr_csv_get(row, "serial"), !r->has_summary);
    if (!t)
        return L->oom ? -1 : 0;
    cycle_limit(L, t, row);
    t->cycles_total++;
    const char *v = tr_csv_get(row, "verdict");
    bool failed = *v && strcmp(v, "pass") != 0;
    if (!r->has_summary && !r->result_rows) { /* `tokenrig cycle`: the cycles are the token's record */
        t->tests++;
        t->passed += !failed;
        t->failed += failed;
        if (failed)
            add_code(L, &t->classifications, v);
    }
    if (t->ncycles >= RD_MAX_CYCLES)
        return 0;
    rd_cycle *nc = rd_grow(L, t->cycles, t->ncycles, sizeof *nc);
    if (!nc)
        return -1;
    t->cycles = nc;
    nc += t->ncycles++;
    for (size_t k = 0; k < RD_MAX_STAGES; k++)
        nc->stage[k] = k < r->nstages ? num_of(tr_csv_cell(row, L->stage_col[k]), -1) : -1;
    nc->failed = failed;
    nc->tip = cycle_tip(L, row);
    return L->oom ? -1 : 0;
}

/* ---- the whole directory ------------------------------------------------------------------- */

/* Without summary.csv: reports.h's token verdict over the rows read. */
static void verdicts_from_rows(rd_loader *L)
{
    for (size_t i = 0; i < L->run->ntokens; i++) {
        rd_token *t = &L->run->tokens[i];
        const char *v = t->failed    ? "FAIL"
                        : t->errored ? "ERROR"
                        : t->not_run ? "INCOMPLETE"
                        : t->passed  ? "PASS"
                                     : "SKIP";
        free(t->verdict);
        t->verdict = rd_dup(L, v);
        /* reports.h's order: failed and errored codes, then not-run ones */
        for (char *p = t->not_run_why, *semi; p && *p; p = semi ? semi + 1 : NULL) {
            semi = strchr(p, ';');
            if (semi)
                *semi = '\0';
            add_code(L, &t->classifications, p);
            if (semi)
                *semi = ';';
        }
    }
}

static int by_rank_then_slot(const void *a, const void *b)
{
    const rd_token *x = a, *y = b;
    int c = rd_verdict_rank(x->verdict) - rd_verdict_rank(y->verdict);
    if (!c)
        c = strverscmp(nz(x->slot), nz(y->slot));
    return c ? c : strcmp(nz(x->serial), nz(y->serial));
}

typedef struct {
    const char *name;
    tr_csv_row_fn fn;
    size_t flag; /* offsetof the has_ flag in rd_run */
} csv_file;

static int read_csvs(rd_loader *L, const char *dir)
{
    static const csv_file files[] = {
        {"summary.csv", summary_row, offsetof(rd_run, has_summary)},
        {"results.csv", results_row, offsetof(rd_run, has_results)},
        {"trace.csv", trace_row, offsetof(rd_run, has_trace)},
        {"samples.csv", sample_row, offsetof(rd_run, has_samples)},
        {"cycles.csv", cycle_row, offsetof(rd_run, has_cycles)},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        L->last = NULL;
        int rc = tr_csv_read(path, files[i].fn, L, L->e);
        if (rc < 0 || L->oom)
            return L->oom ? tr_fail(L->e, TR_E_NOMEM, "%s: out of memory", path) : -1;
        *(bool *)((char *)L->run + files[i].flag) = rc == 0;
    }
    return 0;
}

int rd_load(const char *dir, rd_run *run, tr_err *e)
{
    memset(run, 0, sizeof *run);
    rd_loader L = {.run = run, .e = e};
    run->dir = rd_dup(&L, dir);
    if (strlen(dir) > 3000) {
        rd_free(run);
        return tr_fail(e, TR_E_USAGE, "report directory name too long");
    }
    int rc = rd_read_provenance(&L);
    if (rc == 0)
        rc = read_csvs(&L, dir);
    if (rc == 0)
        rc = rd_read_junit(&L);
    if (rc == 0 && !run->has_summary && !run->has_results && !run->has_cycles)
        rc = tr_fail(e, TR_E_USAGE, "%s: not a report directory (no summary.csv, results.csv or cycles.csv)", dir);
    if (rc == 0) {
        run->cycles_only = !run->has_summary && !run->result_rows && run->cycle_rows;
        if (!run->has_summary)
            verdicts_from_rows(&L);
        rd_apply_provenance_limits(&L);
        run->first_time = rd_dup(&L, L.first_time);
        run->last_time = rd_dup(&L, L.last_time);
        if (run->ntokens)
            qsort(run->tokens, run->ntokens, sizeof *run->tokens, by_rank_then_slot);
        if (L.oom)
            rc = tr_fail(e, TR_E_NOMEM, "%s: out of memory", dir);
    }
    for (size_t i = 0; i < L.nsecrets; i++)
        free(L.secrets[i]);
    if (rc < 0)
        rd_free(run);
    return rc;
}

/* ---- freeing ---------------------------------------------------------------------------------- */

#define FREE_ALL(...)                                                    \
    do {                                                                 \
        void *ptrs_[] = {__VA_ARGS__};                                   \
        for (size_t k_ = 0; k_ < sizeof ptrs_ / sizeof ptrs_[0]; k_++) \
            free(ptrs_[k_]);                                             \
    } while (0)

static void free_fail(rd_fail *f)
{
    FREE_ALL(f->suite, f->test, f->verdict, f->cls, f->message, f->file);
    for (size_t k = 0; k < f->nhead; k++)
        free_trace(&f->head[k]);
    for (size_t k = 0; k < f->ntail; k++)
        free_trace(&f->tail[k]);
}

static void free_token(rd_token *t)
{
    FREE_ALL(t->slot, t->serial, t->role, t->profile, t->reader, t->rig, t->verdict, t->classifications,
             t->not_run_why, t->first_apdu_limit_from);
    for (size_t i = 0; i < t->nfails; i++)
        free_fail(&t->fails[i]);
    for (size_t i = 0; i < t->nmetrics; i++) {
        rd_metric *m = &t->metrics[i];
        FREE_ALL(m->suite, m->test, m->metric, m->unit, m->message);
    }
    for (size_t i = 0; i < t->nseries; i++)
        FREE_ALL(t->series[i].metric, t->series[i].unit, t->series[i].v);
    for (size_t i = 0; i < t->ncycles; i++)
        free(t->cycles[i].tip);
    FREE_ALL(t->fails, t->metrics, t->series, t->cycles);
}

void rd_free(rd_run *run)
{
    for (size_t i = 0; i < run->ntokens; i++)
        free_token(&run->tokens[i]);
    for (size_t i = 0; i < run->nstages; i++)
        free(run->stages[i]);
    for (size_t i = 0; i < run->nprov_rows; i++) {
        for (size_t c = 0; c < run->nprov_cols; c++)
            free(run->prov_rows[i][c]);
        free(run->prov_rows[i]);
    }
    for (size_t c = 0; c < run->nprov_cols; c++)
        free(run->prov_cols[c]);
    for (size_t i = 0; i < run->njunit; i++)
        FREE_ALL(run->junit[i].group, run->junit[i].name, run->junit[i].value, run->junit[i].source);
    FREE_ALL(run->tokens, run->prov_rows, run->prov_cols, run->junit, run->dir, run->run_id, run->rig,
             run->first_time, run->last_time);
    memset(run, 0, sizeof *run);
}
