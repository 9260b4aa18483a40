/* dbrun.c — a run's rows into the results database as the run goes (see
 * dbrun.h for the contract).
 *
 * Rows wait per token (slot and serial) until their test's verdict row:
 * the interpreter writes a test's metric rows (and the cycles of a power
 * cycle in it) before its verdict row, so the verdict row closes the test
 * and one transaction takes all of them with the token's summary. A run
 * killed between two tests leaves no half test; one killed in a test loses
 * only that test (its rows are in results.csv).
 */
#include "dbrun.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

#ifndef TR_VERSION
#define TR_VERSION "unknown"
#endif

#define TIME_MAX 40

/* The strings of a waiting row. */
enum { PS_SLOT, PS_SERIAL, PS_SUITE, PS_TEST, PS_CLASS, PS_METRIC, PS_UNIT, PS_MSG, PS_FILE, PS_ATR, PS_STAGE,
       PS_POWER, PS_CVERDICT, PS_N };

typedef struct {
    bool is_cycle;
    long long seq;
    char time[TIME_MAX];
    char *s[PS_N];
    tr_verdict verdict;
    double duration_s, value;
    int line;
    unsigned cycle;
    double ms[5]; /* off, to device, to reader, to ATR, to first APDU */
} pending;

/* One token of the run. */
typedef struct {
    char *slot, *serial, *profile;
    char firmware[64];
    pending *rows;
    size_t n, cap;
    tr_dbrun_cycles cycles; /* tokenrig cycle's tally */
} token_state;

struct tr_dbrun {
    tr_db *db;
    pthread_mutex_t mu;
    tr_reports *rep;
    bool cycle_kind;
    char run_id[TR_DB_ID_MAX + 2 * TR_DB_ID_MAX], batch[TR_DB_ID_MAX], host[TR_DB_ID_MAX];
    char profile[TR_DB_ID_MAX];
    long long seq;
    token_state *toks;
    size_t ntoks, cap;
    unsigned failures;
    tr_err first;
    bool ended;        /* tr_dbrun_end: no more rows */
};

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* ---- failures --------------------------------------------------------------------------------- */

/* A write that did not go in: the first is said at once and kept. Caller
 * holds w->mu. */
static void write_failed(tr_dbrun *w, const tr_err *e)
{
    if (w->failures++ == 0) {
        w->first = *e;
        fprintf(stderr, "tokenrig: %s (the run goes on; the CSV files have every row)\n", e->msg);
    }
}

bool tr_dbrun_failed(tr_dbrun *w, tr_err *e)
{
    pthread_mutex_lock(&w->mu);
    unsigned n = w->failures;
    if (n && e) {
        *e = w->first;
        if (n > 1) {
            size_t len = strlen(e->msg);
            snprintf(e->msg + len, sizeof e->msg - len, " (and %u more failed writes)", n - 1);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return n != 0;
}

/* ---- tokens and their waiting rows ---------------------------------------------------------------- */

static token_state *token_for(tr_dbrun *w, const tr_slot_id *who)
{
    for (size_t i = 0; i < w->ntoks; i++)
        if (!strcmp(w->toks[i].slot, nz(who->slot)) && !strcmp(w->toks[i].serial, nz(who->serial)))
            return &w->toks[i];
    if (w->ntoks == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        token_state *p = realloc(w->toks, cap * sizeof *p);
        if (!p)
            return NULL;
        w->toks = p;
        w->cap = cap;
    }
    token_state *t = &w->toks[w->ntoks];
    memset(t, 0, sizeof *t);
    t->slot = strdup(nz(who->slot));
    t->serial = strdup(nz(who->serial));
    t->profile = strdup(nz(who->profile));
    if (!t->slot || !t->serial || !t->profile) {
        free(t->slot);
        free(t->serial);
        free(t->profile);
        return NULL;
    }
    w->ntoks++;
    return t;
}

static void pending_clear(pending *p)
{
    for (int i = 0; i < PS_N; i++)
        free(p->s[i]);
}

static void token_drop_rows(token_state *t)
{
    for (size_t i = 0; i < t->n; i++)
        pending_clear(&t->rows[i]);
    t->n = 0;
}

/* A new waiting row with copies of the strings (NULL stays NULL). */
static pending *token_push(tr_dbrun *w, token_state *t, const char *const strs[PS_N])
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        pending *p = realloc(t->rows, cap * sizeof *p);
        if (!p)
            return NULL;
        t->rows = p;
        t->cap = cap;
    }
    pending *p = &t->rows[t->n];
    memset(p, 0, sizeof *p);
    for (int i = 0; i < PS_N; i++)
        if (strs[i] && !(p->s[i] = strdup(strs[i]))) {
            pending_clear(p);
            return NULL;
        }
    p->seq = ++w->seq;
    tr_reports_now(w->rep, p->time, sizeof p->time);
    t->n++;
    return p;
}

/* ---- writing ------------------------------------------------------------------------------------------ */

static int write_pending(tr_dbrun *w, const pending *p, tr_err *e)
{
    tr_slot_id who = {.run_id = w->run_id, .slot = p->s[PS_SLOT], .serial = p->s[PS_SERIAL]};
    if (p->is_cycle) {
        tr_cycle_row c = {.who = &who, .cycle = p->cycle, .off_ms = p->ms[0], .to_device_ms = p->ms[1],
                          .to_reader_ms = p->ms[2], .to_atr_ms = p->ms[3], .to_first_apdu_ms = p->ms[4],
                          .atr = p->s[PS_ATR], .stage = p->s[PS_STAGE], .power_level = p->s[PS_POWER],
                          .verdict = p->s[PS_CVERDICT], .message = p->s[PS_MSG]};
        /* where the cycle was made: the suite and test of a power-cycle
         * statement, "(cycle)" for tokenrig cycle (as cycles.csv says) */
        return tr_db_cycle(w->db, p->seq, p->time, &c, p->s[PS_SUITE] ? p->s[PS_SUITE] : "",
                           p->s[PS_TEST] ? p->s[PS_TEST] : "", e);
    }
    tr_result_row r = {.who = &who, .suite = p->s[PS_SUITE], .test = p->s[PS_TEST], .verdict = p->verdict,
                       .classification = p->s[PS_CLASS], .duration_s = p->duration_s, .metric = p->s[PS_METRIC],
                       .value = p->value, .unit = p->s[PS_UNIT], .message = p->s[PS_MSG], .file = p->s[PS_FILE],
                       .line = p->line};
    return tr_db_result(w->db, p->seq, p->time, &r, e);
}

void tr_dbrun_cycles_slot(const tr_dbrun_cycles *c, tr_db_slot *s)
{
    s->verdict = tr_token_verdict_name(c->rig ? TR_ERROR : c->failed ? TR_FAIL : TR_PASS);
    s->classifications = c->classes;
    s->tests = c->cycles;
    s->failed = c->failed;
    s->errored = c->rig;
    s->passed = c->cycles - c->failed - c->rig;
}

/* The token's run_slots row: the reports' summary of it (a run), or its
 * cycle tally (tokenrig cycle). */
static int write_token(tr_dbrun *w, const token_state *t, tr_err *e)
{
    char now[TIME_MAX];
    tr_reports_now(w->rep, now, sizeof now);
    tr_db_slot s = {.run_id = w->run_id, .slot = t->slot, .serial = t->serial, .profile = t->profile,
                    .firmware = t->firmware, .updated = now, .role = ""};
    if (w->cycle_kind) {
        tr_dbrun_cycles_slot(&t->cycles, &s);
        return tr_db_slot_put(w->db, &s, e);
    }
    tr_slot_id who = {.slot = t->slot, .serial = t->serial};
    tr_token_summary sum;
    int found = tr_reports_token_summary_of(w->rep, &who, &sum, e);
    if (found <= 0)
        return found;
    s.role = sum.role;
    s.verdict = tr_token_verdict_name(sum.verdict);
    s.classifications = sum.classifications;
    s.tests = sum.tests;
    s.passed = sum.passed;
    s.failed = sum.failed;
    s.errored = sum.errored;
    s.skipped = sum.skipped;
    s.not_run = sum.not_run;
    s.duration_s = sum.duration_s;
    int rc = tr_db_slot_put(w->db, &s, e);
    tr_reports_token_summary_clear(&sum);
    return rc;
}

/* The token's waiting rows and its summary, in the open transaction. */
static int write_token_rows(tr_dbrun *w, token_state *t, tr_err *e)
{
    for (size_t i = 0; i < t->n; i++)
        if (write_pending(w, &t->rows[i], e) < 0)
            return -1;
    return write_token(w, t, e);
}

/* One transaction: the token's waiting rows and its summary. The rows are
 * dropped either way (a failed test's rows are counted, not retried: the
 * next test's transaction must not depend on this one). */
static void flush_token(tr_dbrun *w, token_state *t)
{
    tr_err e;
    int rc = tr_db_begin(w->db, &e);
    if (rc == 0 && write_token_rows(w, t, &e) < 0) {
        tr_db_rollback(w->db);
        rc = -1;
    }
    if (rc == 0)
        rc = tr_db_commit(w->db, &e);
    if (rc < 0)
        write_failed(w, &e);
    token_drop_rows(t);
}

/* ---- what the reports tell ------------------------------------------------------------------------------- */

static void no_memory(tr_dbrun *w)
{
    tr_err e;
    tr_fail(&e, TR_E_NOMEM, "database %s: no memory to keep a row", tr_db_label(w->db));
    write_failed(w, &e);
}

static void on_result(void *ud, const tr_result_row *row)
{
    tr_dbrun *w = ud;
    static const tr_slot_id no_one;
    const tr_slot_id *who = row->who ? row->who : &no_one;
    const char *strs[PS_N] = {[PS_SLOT] = nz(who->slot), [PS_SERIAL] = nz(who->serial), [PS_SUITE] = row->suite,
                              [PS_TEST] = row->test, [PS_CLASS] = row->classification, [PS_METRIC] = row->metric,
                              [PS_UNIT] = row->unit, [PS_MSG] = row->message, [PS_FILE] = row->file};
    pthread_mutex_lock(&w->mu);
    token_state *t = w->ended ? NULL : token_for(w, who);
    pending *p = t ? token_push(w, t, strs) : NULL;
    if (p) {
        p->verdict = row->verdict;
        p->duration_s = row->duration_s;
        p->value = row->value;
        p->line = row->line;
        if (!row->metric) /* the verdict row: the test is finished */
            flush_token(w, t);
    } else if (!w->ended) {
        no_memory(w);
    }
    pthread_mutex_unlock(&w->mu);
}

void tr_dbrun_cycles_add(tr_dbrun_cycles *c, const char *verdict)
{
    c->cycles++;
    if (!strcmp(verdict, "pass"))
        return;
    if (!tr_cycle_verdict_judged(verdict)) { /* rig, permission, a library that hung: not the token's */
        c->rig++;
        return;
    }
    c->failed++;
    size_t n = strlen(verdict), have = strlen(c->classes);
    for (const char *p = c->classes; (p = strstr(p, verdict)); p += n)
        if ((p == c->classes || p[-1] == ';') && (p[n] == ';' || p[n] == '\0'))
            return;
    if (have + n + 2 <= sizeof c->classes)
        snprintf(c->classes + have, sizeof c->classes - have, "%s%s", have ? ";" : "", verdict);
}

static void on_cycle(void *ud, const tr_cycle_row *row)
{
    tr_dbrun *w = ud;
    static const tr_slot_id no_one;
    const tr_slot_id *who = row->who ? row->who : &no_one;
    const char *strs[PS_N] = {[PS_SLOT] = nz(who->slot), [PS_SERIAL] = nz(who->serial), [PS_ATR] = row->atr,
                              [PS_STAGE] = row->stage, [PS_POWER] = row->power_level,
                              [PS_CVERDICT] = nz(row->verdict), [PS_MSG] = row->message,
                              [PS_SUITE] = row->suite, [PS_TEST] = row->test};
    pthread_mutex_lock(&w->mu);
    token_state *t = w->ended ? NULL : token_for(w, who);
    pending *p = t ? token_push(w, t, strs) : NULL;
    if (p) {
        const double ms[] = {row->off_ms, row->to_device_ms, row->to_reader_ms, row->to_atr_ms,
                             row->to_first_apdu_ms};
        p->is_cycle = true;
        p->cycle = row->cycle;
        memcpy(p->ms, ms, sizeof p->ms);
        if (w->cycle_kind) { /* each cycle is finished work: it goes in now */
            tr_dbrun_cycles_add(&t->cycles, nz(row->verdict));
            flush_token(w, t);
        }
    } else if (!w->ended) {
        no_memory(w);
    }
    pthread_mutex_unlock(&w->mu);
}

static void on_property(void *ud, const tr_slot_id *who, const char *name, const char *value)
{
    tr_dbrun *w = ud;
    tr_err e;
    pthread_mutex_lock(&w->mu);
    token_state *t = w->ended ? NULL : token_for(w, who);
    if (t && !strcasecmp(name, "firmware"))
        tr_strlcpy(t->firmware, nz(value), sizeof t->firmware);
    if (!t && !w->ended)
        no_memory(w);
    if (!w->ended && tr_db_provenance(w->db, w->run_id, nz(who->slot), name, nz(value), "slot", &e) < 0)
        write_failed(w, &e);
    pthread_mutex_unlock(&w->mu);
}

/* A provenance row (provenance.h) as the run records it; the token's
 * firmware, which the interface reported, is also the token's row's. */
static void on_provenance(void *ud, const tr_slot_id *who, const char *name, const char *value, const char *source)
{
    tr_dbrun *w = ud;
    tr_err e;
    pthread_mutex_lock(&w->mu);
    token_state *t = who && !w->ended ? token_for(w, who) : NULL;
    if (t && !strcmp(name, "firmware"))
        tr_strlcpy(t->firmware, nz(value), sizeof t->firmware);
    if (!w->ended && tr_db_provenance(w->db, w->run_id, who ? nz(who->slot) : "", name, nz(value), nz(source), &e) < 0)
        write_failed(w, &e);
    pthread_mutex_unlock(&w->mu);
}

void tr_dbrun_attach(tr_dbrun *w, tr_reports *rep)
{
    w->rep = rep;
    tr_reports_sink sink = {.ud = w, .result = on_result, .cycle = on_cycle, .property = on_property,
                            .provenance = on_provenance};
    tr_reports_set_sink(rep, &sink);
}

/* ---- opening ----------------------------------------------------------------------------------------------- */

int tr_dbrun_host(char *out, size_t cap, tr_err *e)
{
    const char *env = getenv("TOKENRIG_HOST");
    char name[256] = "";
    if (env && *env)
        tr_strlcpy(name, env, sizeof name);
    else if (gethostname(name, sizeof name - 1) < 0)
        tr_strlcpy(name, "unknown", sizeof name);
    name[sizeof name - 1] = '\0';
    if (!tr_strlcpy(out, name, cap < TR_DB_ID_MAX ? cap : TR_DB_ID_MAX))
        return tr_fail(e, TR_E_CONFIG, "host name '%.40s...' is longer than %d bytes (set TOKENRIG_HOST)", name,
                       TR_DB_ID_MAX - 1);
    return 0;
}

/* The host as part of a run id, which names a directory and a journal
 * word: letters, digits, '.', '_' and '-' only, at most 32 of them. */
static void host_word(const char *host, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = host; *p && n + 1 < cap && n < 32; p++)
        out[n++] = strchr("._-", *p) || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')
                       ? *p
                       : '_';
    out[n] = '\0';
}

/* Claim o->run_id, or a variant of it when the id was made here. */
static int claim(tr_dbrun *w, const tr_dbrun_opts *o, tr_db_run *run, tr_err *e)
{
    char host[40];
    host_word(w->host, host, sizeof host);
    for (int attempt = 0; attempt < 20; attempt++) {
        if (attempt == 0)
            snprintf(w->run_id, sizeof w->run_id, "%s", o->run_id);
        else
            snprintf(w->run_id, sizeof w->run_id, attempt == 1 ? "%s-%s" : "%s-%s-%d", o->run_id, host, attempt);
        run->run_id = w->run_id;
        run->batch = *w->batch ? w->batch : w->run_id;
        int rc = tr_db_run_claim(w->db, run, e);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (o->run_id_given)
            break;
    }
    return tr_fail(e, TR_E_USAGE, "database %s: run id %s is already there (run ids are unique)", tr_db_label(w->db),
                   w->run_id);
}

static int open_checked(tr_dbrun *w, const tr_dbrun_opts *o, tr_err *e)
{
    if (tr_db_check_name("run id", o->run_id, e) < 0 ||
        (o->batch && *o->batch && tr_db_check_name("batch", o->batch, e) < 0) ||
        tr_dbrun_host(w->host, sizeof w->host, e) < 0)
        return -1;
    tr_strlcpy(w->batch, o->batch ? o->batch : "", sizeof w->batch);
    tr_strlcpy(w->profile, nz(o->profile), sizeof w->profile);
    if (tr_db_open(o->where, true, &w->db, e) < 0)
        return -1;
    char now[TIME_MAX];
    tr_wall_iso(now, sizeof now);
    tr_db_run run = {.kind = o->kind, .host = w->host, .rig = nz(o->rig), .started = now, .tool_version = TR_VERSION,
                     .command_line = nz(o->command_line), .profile = w->profile, .source = "live",
                     .destructive = o->destructive ? 1 : 0};
    if (claim(w, o, &run, e) < 0)
        return -1;
    tr_strlcpy(w->batch, run.batch, sizeof w->batch);
    return 0;
}

int tr_dbrun_open(const tr_dbrun_opts *o, tr_dbrun **out, tr_err *e)
{
    *out = NULL;
    tr_dbrun *w = calloc(1, sizeof *w);
    if (!w)
        return tr_fail(e, TR_E_NOMEM, "no memory for the database writer");
    pthread_mutex_init(&w->mu, NULL);
    w->cycle_kind = !strcmp(nz(o->kind), "cycle");
    if (open_checked(w, o, e) < 0) {
        tr_db_close(w->db);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

const char *tr_dbrun_run_id(const tr_dbrun *w)
{
    return w->run_id;
}

const char *tr_dbrun_batch(const tr_dbrun *w)
{
    return w->batch;
}

const char *tr_dbrun_label(const tr_dbrun *w)
{
    return tr_db_label(w->db);
}

/* ---- closing ----------------------------------------------------------------------------------------------- */

/* Everything still waiting, every token's final summary, the run's end. */
static int write_end(tr_dbrun *w, int exit_status, tr_err *e)
{
    char now[TIME_MAX];
    if (w->rep)
        tr_reports_now(w->rep, now, sizeof now);
    else
        tr_wall_iso(now, sizeof now);
    if (tr_db_begin(w->db, e) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < w->ntoks && rc == 0; i++)
        rc = w->rep ? write_token_rows(w, &w->toks[i], e) : 0;
    if (rc == 0)
        rc = tr_db_run_end(w->db, w->run_id, now, exit_status, e);
    if (rc < 0) {
        tr_db_rollback(w->db);
        return -1;
    }
    return tr_db_commit(w->db, e);
}

int tr_dbrun_end(tr_dbrun *w, int exit_status, tr_err *e)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    tr_err ee;
    if (!w->ended && write_end(w, exit_status, &ee) < 0)
        write_failed(w, &ee);
    w->ended = true;
    pthread_mutex_unlock(&w->mu);
    return tr_dbrun_failed(w, e) ? -1 : 0;
}

void tr_dbrun_free(tr_dbrun *w)
{
    if (!w)
        return;
    if (w->rep)
        tr_reports_set_sink(w->rep, NULL);
    for (size_t i = 0; i < w->ntoks; i++) {
        token_drop_rows(&w->toks[i]);
        free(w->toks[i].rows);
        free(w->toks[i].slot);
        free(w->toks[i].serial);
        free(w->toks[i].profile);
    }
    free(w->toks);
    tr_db_close(w->db);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
