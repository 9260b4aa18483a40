/* db.c — the results database: which one, its schema and migrations, and
 * the SQL of every write and query (see db.h for the contract).
 *
 * One SQL text per statement serves both back ends: the schema uses only
 * types both know (TEXT, INTEGER, BIGINT, DOUBLE PRECISION), upserts are
 * INSERT ... ON CONFLICT, which SQLite (3.24+) and PostgreSQL spell the
 * same, and a claimed run id comes back by RETURNING (SQLite 3.35+). Where
 * the dialects differ (how a write transaction starts, how first opens are
 * serialised) the back end's table says it (db_backend.h).
 *
 * Text going in is valid UTF-8 without control characters other than TAB,
 * LF and CR (a token's bytes reach messages; PostgreSQL refuses invalid
 * UTF-8): anything else is shown as \xNN, as in the CSV files.
 */
#include "db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db_backend.h"
#include "util.h"
#include "xmlesc.h"

struct tr_db {
    const tr_db_ops *ops;
    void *conn;
    char label[TR_PATH_MAX + 64];
};

/* ---- choosing the database ------------------------------------------------------------------ */

static const char *given(const char *s)
{
    return s && *s ? s : NULL;
}

const char *tr_db_choose(const char *arg, const char *rig_db)
{
    if (given(arg))
        return arg;
    if (given(getenv("TOKENRIG_DB")))
        return getenv("TOKENRIG_DB");
    return given(rig_db) ? rig_db : TR_DB_DEFAULT;
}

bool tr_db_is_url(const char *where)
{
    return !strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11);
}

int tr_db_check_where(const char *where, tr_err *e)
{
    if (!where || !*where)
        return tr_fail(e, TR_E_CONFIG, "the database is empty: give a file path or a postgresql:// URL");
    if (strlen(where) >= TR_PATH_MAX)
        return tr_fail(e, TR_E_CONFIG, "the database name is longer than %d bytes", TR_PATH_MAX - 1);
    for (const char *p = where; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return tr_fail(e, TR_E_CONFIG, "the database name has a control character (byte %zu)",
                           (size_t)(p - where) + 1);
    const char *scheme = strstr(where, "://");
    if (scheme && !tr_db_is_url(where))
        return tr_fail(e, TR_E_CONFIG, "database '%.*s://...': only postgresql:// (or postgres://) URLs and SQLite "
                                       "file paths are databases", (int)(scheme - where), where);
    return 0;
}

int tr_db_check_name(const char *what, const char *v, tr_err *e)
{
    size_t n = strlen(v);
    if (n == 0 || n >= TR_DB_ID_MAX)
        return tr_fail(e, TR_E_USAGE, "%s '%.40s%s': 1 to %d bytes", what, v, n > 40 ? "..." : "", TR_DB_ID_MAX - 1);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return tr_fail(e, TR_E_USAGE, "%s: a control character at byte %zu", what, (size_t)(p - v) + 1);
    return 0;
}

/* ---- parameters ------------------------------------------------------------------------------- */

#define MAX_ARGS 32

typedef struct {
    tr_dbv v[MAX_ARGS];
    char *owned[MAX_ARGS];
    size_t n, nowned;
    bool oom;
} args;

static void a_push(args *a, tr_dbv v)
{
    if (a->n < MAX_ARGS)
        a->v[a->n++] = v;
    else
        a->oom = true;
}

static bool plain(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && !strchr("\t\n\r", *s)) || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Text; NULL becomes NULL when null_ok, else "". */
static void a_text_or(args *a, const char *s, bool null_ok)
{
    if (!s) {
        a_push(a, null_ok ? (tr_dbv){.t = TR_DBV_NULL} : (tr_dbv){.t = TR_DBV_TEXT, .s = ""});
        return;
    }
    if (plain(s)) {
        a_push(a, (tr_dbv){.t = TR_DBV_TEXT, .s = s});
        return;
    }
    size_t n = strlen(s), cap = tr_text_sanitize_bound(n);
    char *c = a->nowned < MAX_ARGS ? malloc(cap) : NULL;
    if (!c) {
        a->oom = true;
        return;
    }
    tr_text_sanitize(s, n, "\t\n\r", c, cap);
    a->owned[a->nowned++] = c;
    a_push(a, (tr_dbv){.t = TR_DBV_TEXT, .s = c});
}

static void a_text(args *a, const char *s)
{
    a_text_or(a, s, false);
}

static void a_textn(args *a, const char *s)
{
    a_text_or(a, s, true);
}

static void a_int(args *a, long long i)
{
    a_push(a, (tr_dbv){.t = TR_DBV_INT, .i = i});
}

/* An integer that may be "not known" (NULL). */
static void a_int_if(args *a, bool known, long long i)
{
    a_push(a, known ? (tr_dbv){.t = TR_DBV_INT, .i = i} : (tr_dbv){.t = TR_DBV_NULL});
}

/* n text columns in a row, NULL as "". */
static void a_texts(args *a, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a_text(a, v[i]);
}

/* Non-finite numbers are NULL ("none"), as they are empty CSV cells. */
static void a_real(args *a, double d)
{
    a_push(a, isfinite(d) ? (tr_dbv){.t = TR_DBV_REAL, .d = d} : (tr_dbv){.t = TR_DBV_NULL});
}

/* A stage time: negative means not reached. */
static void a_ms(args *a, double ms)
{
    a_real(a, ms < 0 ? NAN : ms);
}

static void a_free(args *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
}

static int run_query(tr_db *db, const char *sql, args *a, tr_db_row_fn fn, void *ud, tr_err *e)
{
    int rc = a->oom ? tr_fail(e, TR_E_NOMEM, "database %s: no memory for a statement", db->label)
                    : db->ops->query(db->conn, sql, a->v, a->n, fn, ud, e);
    a_free(a);
    return rc;
}

static int run_exec(tr_db *db, const char *sql, args *a, tr_err *e)
{
    return run_query(db, sql, a, NULL, NULL, e);
}

static int exec0(tr_db *db, const char *sql, tr_err *e)
{
    return db->ops->query(db->conn, sql, NULL, 0, NULL, NULL, e);
}

/* ---- schema ------------------------------------------------------------------------------------- */

static const char *const MIGRATION_1[] = {
    "CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, batch TEXT NOT NULL, host TEXT NOT NULL, "
    "rig TEXT NOT NULL, started TEXT NOT NULL, ended TEXT, tool_version TEXT NOT NULL, command_line TEXT NOT NULL, "
    "destructive INTEGER, profile TEXT NOT NULL, exit_status INTEGER, source TEXT NOT NULL)",
    "CREATE INDEX runs_by_batch ON runs (batch, started)",
    "CREATE TABLE run_slots (run_id TEXT NOT NULL REFERENCES runs (run_id), slot TEXT NOT NULL, "
    "serial TEXT NOT NULL, role TEXT NOT NULL, profile TEXT NOT NULL, firmware TEXT NOT NULL, verdict TEXT NOT NULL, "
    "classifications TEXT NOT NULL, tests INTEGER NOT NULL, passed INTEGER NOT NULL, failed INTEGER NOT NULL, "
    "errored INTEGER NOT NULL, skipped INTEGER NOT NULL, not_run INTEGER NOT NULL, duration_s DOUBLE PRECISION, "
    "updated TEXT NOT NULL, PRIMARY KEY (run_id, slot, serial))",
    "CREATE INDEX run_slots_by_serial ON run_slots (serial)",
    "CREATE TABLE results (run_id TEXT NOT NULL REFERENCES runs (run_id), seq BIGINT NOT NULL, "
    "time_utc TEXT NOT NULL, slot TEXT NOT NULL, serial TEXT NOT NULL, suite TEXT NOT NULL, test TEXT NOT NULL, "
    "verdict TEXT NOT NULL, classification TEXT, duration_s DOUBLE PRECISION, metric TEXT, value DOUBLE PRECISION, "
    "unit TEXT, message TEXT, file TEXT, line INTEGER, PRIMARY KEY (run_id, seq))",
    "CREATE INDEX results_by_slot ON results (run_id, slot)",
    "CREATE TABLE cycles (run_id TEXT NOT NULL REFERENCES runs (run_id), seq BIGINT NOT NULL, "
    "time_utc TEXT NOT NULL, slot TEXT NOT NULL, serial TEXT NOT NULL, suite TEXT, test TEXT, cycle BIGINT NOT NULL, "
    "off_ms DOUBLE PRECISION, to_device_ms DOUBLE PRECISION, to_reader_ms DOUBLE PRECISION, "
    "to_atr_ms DOUBLE PRECISION, to_first_apdu_ms DOUBLE PRECISION, atr TEXT, stage TEXT, power_level TEXT, "
    "verdict TEXT NOT NULL, message TEXT, PRIMARY KEY (run_id, seq))",
    "CREATE TABLE provenance (run_id TEXT NOT NULL REFERENCES runs (run_id), slot TEXT NOT NULL, "
    "name TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (run_id, slot, name))",
    NULL};

/* Migration N is MIGRATIONS[N - 1]: statements run in order. A new schema
 * version appends a migration; none is ever changed once released. */
static const char *const *const MIGRATIONS[TR_DB_SCHEMA_VERSION] = {MIGRATION_1};

static int first_int(void *ud, size_t ncols, const char *const *vals)
{
    *(long long *)ud = ncols && vals[0] ? atoll(vals[0]) : 0;
    return 1;
}

static int current_version(tr_db *db, long long *v, tr_err *e)
{
    *v = 0;
    return db->ops->query(db->conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0, first_int, v, e);
}

static int apply_migration(tr_db *db, int version, tr_err *e)
{
    for (const char *const *s = MIGRATIONS[version - 1]; *s; s++)
        if (exec0(db, *s, e) < 0)
            return -1;
    char now[40];
    tr_wall_iso(now, sizeof now);
    args a = {0};
    a_int(&a, version);
    a_text(&a, now);
    return run_exec(db, "INSERT INTO schema_version (version, applied) VALUES ($1, $2)", &a, e);
}

/* Every migration the database lacks, in one transaction that only one
 * process at a time runs (the others then find nothing to do). A database
 * already at this version is only read: a query never waits for a
 * running writer's lock. */
static int migrate(tr_db *db, tr_err *e)
{
    long long v = 0;
    tr_err ignored; /* no schema_version table yet: a new database */
    if (current_version(db, &v, &ignored) == 0 && v == TR_DB_SCHEMA_VERSION)
        return 0;
    v = 0;
    if (tr_db_begin(db, e) < 0)
        return -1;
    int rc = (db->ops->schema_lock ? exec0(db, db->ops->schema_lock, e) : 0) |
             exec0(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                       "applied TEXT NOT NULL)", e);
    if (rc == 0)
        rc = current_version(db, &v, e);
    if (rc == 0 && v > TR_DB_SCHEMA_VERSION)
        rc = tr_fail(e, TR_E_CONFIG, "database %s: its schema is version %lld, newer than this tokenrig's (%d): "
                                     "use a newer tokenrig", db->label, v, TR_DB_SCHEMA_VERSION);
    for (int m = (int)v + 1; rc == 0 && m <= TR_DB_SCHEMA_VERSION; m++)
        rc = apply_migration(db, m, e);
    if (rc == 0)
        return tr_db_commit(db, e);
    tr_db_rollback(db);
    return -1;
}

int tr_db_schema_version(tr_db *db, tr_err *e)
{
    long long v;
    return current_version(db, &v, e) < 0 ? -1 : (int)v;
}

/* ---- connection ------------------------------------------------------------------------------------- */

/* where with the password of a URL's user:password@ replaced by ***. */
static void make_label(const char *where, char *out, size_t cap)
{
    const char *scheme = strstr(where, "://");
    const char *auth = scheme ? scheme + 3 : where;
    const char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (scheme && at && colon && !(slash && slash < at))
        snprintf(out, cap, "%.*s:***%s", (int)(colon - where), where, at);
    else
        snprintf(out, cap, "%s", where);
}

int tr_db_open(const char *where, bool create, tr_db **out, tr_err *e)
{
    *out = NULL;
    if (tr_db_check_where(where, e) < 0)
        return -1;
    tr_db *db = calloc(1, sizeof *db);
    if (!db)
        return tr_fail(e, TR_E_NOMEM, "no memory for the database");
    db->ops = tr_db_is_url(where) ? &tr_db_pg_ops : &tr_db_sqlite_ops;
    make_label(where, db->label, sizeof db->label);
    if (db->ops->open(where, db->label, create, &db->conn, e) < 0) {
        free(db);
        return -1;
    }
    if (migrate(db, e) < 0) {
        tr_db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

void tr_db_close(tr_db *db)
{
    if (!db)
        return;
    db->ops->close(db->conn);
    free(db);
}

const char *tr_db_label(const tr_db *db)
{
    return db->label;
}

const char *tr_db_backend(const tr_db *db)
{
    return db->ops->name;
}

int tr_db_begin(tr_db *db, tr_err *e)
{
    return exec0(db, db->ops->begin, e);
}

int tr_db_commit(tr_db *db, tr_err *e)
{
    if (exec0(db, "COMMIT", e) == 0)
        return 0;
    tr_db_rollback(db);
    return -1;
}

void tr_db_rollback(tr_db *db)
{
    tr_err ignored; /* after a failed statement the back end may have ended the transaction itself */
    exec0(db, "ROLLBACK", &ignored);
}

/* ---- writes --------------------------------------------------------------------------------------------- */

static int count_rows(void *ud, size_t ncols, const char *const *vals)
{
    (void)ncols;
    (void)vals;
    ++*(int *)ud;
    return 0;
}

int tr_db_run_claim(tr_db *db, const tr_db_run *r, tr_err *e)
{
    args a = {0};
    const char *text[] = {r->run_id, r->kind, r->batch, r->host, r->rig, r->started, r->tool_version,
                          r->command_line};
    a_texts(&a, text, sizeof text / sizeof text[0]);
    a_int_if(&a, r->destructive >= 0, r->destructive);
    a_text(&a, r->profile);
    a_text(&a, r->source);
    int inserted = 0;
    if (run_query(db,
                  "INSERT INTO runs (run_id, kind, batch, host, rig, started, tool_version, command_line, destructive, "
                  "profile, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                  "ON CONFLICT (run_id) DO NOTHING RETURNING run_id",
                  &a, count_rows, &inserted, e) < 0)
        return -1;
    return inserted ? 1 : 0;
}

int tr_db_run_end(tr_db *db, const char *run_id, const char *ended, int exit_status, tr_err *e)
{
    args a = {0};
    a_text(&a, run_id);
    a_text(&a, ended);
    a_int_if(&a, exit_status >= 0, exit_status);
    return run_exec(db, "UPDATE runs SET ended = $2, exit_status = $3 WHERE run_id = $1", &a, e);
}

static const tr_slot_id NO_ONE;

/* What every results and cycles row starts with: run id, seq, time, slot,
 * serial. */
static void a_row_head(args *a, const tr_slot_id *who, long long seq, const char *time)
{
    const tr_slot_id *w = who ? who : &NO_ONE;
    a_text(a, w->run_id);
    a_int(a, seq);
    a_text(a, time);
    a_text(a, w->slot);
    a_text(a, w->serial);
}

int tr_db_result(tr_db *db, long long seq, const char *time, const tr_result_row *row, tr_err *e)
{
    args a = {0};
    a_row_head(&a, row->who, seq, time);
    a_text(&a, row->suite);
    a_text(&a, row->test);
    a_text(&a, tr_verdict_name(row->verdict));
    a_textn(&a, row->classification);
    a_real(&a, row->duration_s);
    a_textn(&a, row->metric);
    a_real(&a, row->metric ? row->value : NAN);
    a_textn(&a, row->unit);
    a_textn(&a, row->message);
    a_textn(&a, row->file);
    a_int_if(&a, row->line > 0, row->line);
    return run_exec(db,
                    "INSERT INTO results (run_id, seq, time_utc, slot, serial, suite, test, verdict, classification, "
                    "duration_s, metric, value, unit, message, file, line) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                    "$10, $11, $12, $13, $14, $15, $16)",
                    &a, e);
}

int tr_db_cycle(tr_db *db, long long seq, const char *time, const tr_cycle_row *row, const char *suite,
                const char *test, tr_err *e)
{
    args a = {0};
    a_row_head(&a, row->who, seq, time);
    a_textn(&a, suite);
    a_textn(&a, test);
    a_int(&a, row->cycle);
    const double ms[] = {row->off_ms, row->to_device_ms, row->to_reader_ms, row->to_atr_ms, row->to_first_apdu_ms};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        a_ms(&a, ms[i]);
    a_textn(&a, row->atr);
    a_textn(&a, row->stage);
    a_textn(&a, row->power_level);
    a_text(&a, row->verdict);
    a_textn(&a, row->message);
    return run_exec(db,
                    "INSERT INTO cycles (run_id, seq, time_utc, slot, serial, suite, test, cycle, off_ms, to_device_ms, "
                    "to_reader_ms, to_atr_ms, to_first_apdu_ms, atr, stage, power_level, verdict, message) VALUES ($1, "
                    "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                    &a, e);
}

int tr_db_slot_put(tr_db *db, const tr_db_slot *s, tr_err *e)
{
    args a = {0};
    const char *text[] = {s->run_id, s->slot, s->serial, s->role, s->profile, s->firmware, s->verdict,
                          s->classifications};
    a_texts(&a, text, sizeof text / sizeof text[0]);
    const unsigned counts[] = {s->tests, s->passed, s->failed, s->errored, s->skipped, s->not_run};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        a_int(&a, counts[i]);
    a_real(&a, s->duration_s);
    a_text(&a, s->updated);
    return run_exec(db,
                    "INSERT INTO run_slots (run_id, slot, serial, role, profile, firmware, verdict, classifications, "
                    "tests, passed, failed, errored, skipped, not_run, duration_s, updated) VALUES ($1, $2, $3, $4, $5, "
                    "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (run_id, slot, serial) DO UPDATE "
                    "SET role = excluded.role, profile = excluded.profile, firmware = CASE WHEN excluded.firmware = '' "
                    "THEN run_slots.firmware ELSE excluded.firmware END, verdict = excluded.verdict, "
                    "classifications = excluded.classifications, tests = excluded.tests, passed = excluded.passed, "
                    "failed = excluded.failed, errored = excluded.errored, skipped = excluded.skipped, "
                    "not_run = excluded.not_run, duration_s = excluded.duration_s, updated = excluded.updated",
                    &a, e);
}

int tr_db_provenance(tr_db *db, const char *run_id, const char *slot, const char *name, const char *value,
                     const char *source, tr_err *e)
{
    args a = {0};
    const char *text[] = {run_id, slot, name, value, source};
    a_texts(&a, text, sizeof text / sizeof text[0]);
    return run_exec(db,
                    "INSERT INTO provenance (run_id, slot, name, value, source) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (run_id, slot, name) DO UPDATE SET value = excluded.value, source = excluded.source",
                    &a, e);
}

/* ---- queries: collecting rows ----------------------------------------------------------------------------- */

/* Rows of text, each ncols strings ("" for NULL), kept for after the query. */
typedef struct {
    char **cell;
    size_t ncols, nrows, cap;
    bool oom;
} table;

static int table_add(void *ud, size_t ncols, const char *const *vals)
{
    table *t = ud;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cell, cap * t->ncols * sizeof *p);
        if (!p)
            return t->oom = true, 1;
        t->cell = p;
        t->cap = cap;
    }
    char **row = t->cell + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = strdup(c < ncols && vals[c] ? vals[c] : "");
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return t->oom = true, 1;
        }
    }
    t->nrows++;
    return 0;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->cell);
}

static char *table_take(table *t, size_t row, size_t col)
{
    char **c = &t->cell[row * t->ncols + col];
    char *v = *c;
    *c = NULL;
    return v;
}

/* The rows of a query into t; on failure t is freed. */
static int select_table(tr_db *db, const char *sql, args *a, table *t, tr_err *e)
{
    int rc = run_query(db, sql, a, table_add, t, e);
    if (rc == 0 && t->oom)
        rc = tr_fail(e, TR_E_NOMEM, "database %s: no memory for the rows of a query", db->label);
    if (rc < 0) {
        table_free(t);
        *t = (table){.ncols = t->ncols};
    }
    return rc;
}

/* The rows of a query of one text parameter ($1 = v) into t. */
static int select_by(tr_db *db, const char *sql, const char *v, table *t, tr_err *e)
{
    args a = {0};
    a_text(&a, v);
    return select_table(db, sql, &a, t, e);
}

/* ---- history --------------------------------------------------------------------------------------------------- */

enum { H_STARTED, H_ENDED, H_HOST, H_RIG, H_SLOT, H_RUN, H_BATCH, H_KIND, H_PROFILE, H_FIRMWARE, H_VERDICT,
       H_CLASSES, H_EXIT, H_SERIAL, H_COLS };

/* "suite / test: class; ..." of the token's failed and errored tests. */
static int history_failed(tr_db *db, const char *run_id, const char *slot, const char *serial, char **out, tr_err *e)
{
    table t = {.ncols = 3};
    args a = {0};
    a_text(&a, run_id);
    a_text(&a, slot);
    a_text(&a, serial);
    *out = NULL;
    int rc = select_table(db,
                          "SELECT suite, test, COALESCE(classification, '') FROM results WHERE run_id = $1 AND slot = $2 "
                          "AND serial = $3 AND metric IS NULL AND verdict IN ('fail', 'error') ORDER BY seq",
                          &a, &t, e);
    size_t cap = 1, used = 0;
    for (size_t i = 0; rc == 0 && i < t.nrows * 3; i++)
        cap += strlen(t.cell[i]) + 8;
    if (rc == 0 && !(*out = malloc(cap)))
        rc = tr_fail(e, TR_E_NOMEM, "no memory for a token's history");
    for (size_t i = 0; rc == 0 && i < t.nrows; i++) {
        char **r = t.cell + i * 3;
        used += (size_t)snprintf(*out + used, cap - used, "%s%s / %s%s%s", i ? "; " : "", r[0], r[1],
                                 *r[2] ? ": " : "", r[2]);
    }
    if (*out)
        (*out)[used] = '\0';
    table_free(&t);
    return rc;
}

typedef struct {
    double *ms;
    size_t n, cap, cycles, failed;
    bool oom;
} cycle_acc;

static int cycle_add(void *ud, size_t ncols, const char *const *vals)
{
    cycle_acc *c = ud;
    c->cycles++;
    c->failed += ncols > 1 && vals[1] && strcmp(vals[1], "pass") != 0;
    if (!vals[0])
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        double *p = realloc(c->ms, cap * sizeof *p);
        if (!p)
            return c->oom = true, 1;
        c->ms = p;
        c->cap = cap;
    }
    c->ms[c->n++] = strtod(vals[0], NULL);
    return 0;
}

static int history_cycles(tr_db *db, tr_db_history_row *h, tr_err *e)
{
    cycle_acc c = {0};
    args a = {0};
    a_text(&a, h->run_id);
    a_text(&a, h->slot);
    int rc = run_query(db, "SELECT to_first_apdu_ms, verdict FROM cycles WHERE run_id = $1 AND slot = $2 ORDER BY seq",
                       &a, cycle_add, &c, e);
    if (rc == 0 && c.oom)
        rc = tr_fail(e, TR_E_NOMEM, "no memory for a token's cycles");
    h->cycles = c.cycles;
    h->cycles_failed = c.failed;
    tr_stats_compute(c.ms, c.n, &h->ready);
    free(c.ms);
    return rc;
}

static void history_row_free(tr_db_history_row *h)
{
    char **s[] = {&h->started, &h->ended, &h->host, &h->rig, &h->slot, &h->run_id, &h->batch, &h->kind,
                  &h->profile, &h->firmware, &h->verdict, &h->classifications, &h->failed};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        free(*s[i]);
}

void tr_db_history_free(tr_db_history_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        history_row_free(&rows[i]);
    free(rows);
}

static void history_take(table *t, size_t i, tr_db_history_row *h)
{
    char **dst[] = {&h->started, &h->ended, &h->host, &h->rig, &h->slot, &h->run_id, &h->batch, &h->kind,
                    &h->profile, &h->firmware, &h->verdict, &h->classifications};
    for (size_t c = 0; c < sizeof dst / sizeof dst[0]; c++)
        *dst[c] = table_take(t, i, c);
    const char *x = t->cell[i * t->ncols + H_EXIT];
    h->exit_status = *x ? atoi(x) : -1;
}

int tr_db_history(tr_db *db, const char *serial, tr_db_history_row **rows, size_t *n, tr_err *e)
{
    *rows = NULL;
    *n = 0;
    table t = {.ncols = H_COLS};
    if (select_by(db,
                  "SELECT r.started, COALESCE(r.ended, ''), r.host, r.rig, s.slot, r.run_id, r.batch, r.kind, "
                  "s.profile, s.firmware, s.verdict, s.classifications, r.exit_status, s.serial FROM run_slots s "
                  "JOIN runs r ON r.run_id = s.run_id WHERE s.serial = $1 ORDER BY r.started DESC, r.run_id DESC",
                  serial, &t, e) < 0)
        return -1;
    tr_db_history_row *h = calloc(t.nrows ? t.nrows : 1, sizeof *h);
    int rc = h ? 0 : tr_fail(e, TR_E_NOMEM, "no memory for a token's history");
    for (size_t i = 0; rc == 0 && i < t.nrows; i++) {
        history_take(&t, i, &h[i]);
        *n = i + 1;
        rc = history_failed(db, h[i].run_id, h[i].slot, serial, &h[i].failed, e);
        if (rc == 0)
            rc = history_cycles(db, &h[i], e);
    }
    table_free(&t);
    if (rc < 0) {
        tr_db_history_free(h, *n);
        *n = 0;
        return -1;
    }
    *rows = h;
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------------------------------- */

enum { B_SERIAL, B_SLOT, B_HOST, B_RIG, B_RUN, B_STARTED, B_VERDICT, B_CLASSES, B_UNFINISHED, B_COLS };

/* The rows of one token: the same serial; a slot that showed no serial is
 * its own token per host, rig and slot. */
static bool same_token(char **a, char **b)
{
    if (strcmp(a[B_SERIAL], b[B_SERIAL]))
        return false;
    if (*a[B_SERIAL])
        return true;
    return !strcmp(a[B_HOST], b[B_HOST]) && !strcmp(a[B_RIG], b[B_RIG]) && !strcmp(a[B_SLOT], b[B_SLOT]);
}

/* A manifest row (slot "(manifest)": the manifest named the token, the rig
 * had no slot with it) does not count when a run saw the token: in a batch
 * certified on several rigs, each rig's run says the others' tokens are
 * missing. */
static bool manifest_only(char **r)
{
    return !strcmp(r[B_SLOT], "(manifest)");
}

void tr_db_batch_free(tr_db_batch_token *toks, size_t n)
{
    for (size_t i = 0; toks && i < n; i++) {
        char *s[] = {toks[i].serial, toks[i].slot, toks[i].host, toks[i].rig, toks[i].run_id, toks[i].started,
                     toks[i].verdict, toks[i].classifications};
        for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
            free(s[k]);
    }
    free(toks);
}

static bool newer(char **a, char **b)
{
    int c = strcmp(a[B_STARTED], b[B_STARTED]);
    return c ? c > 0 : strcmp(a[B_RUN], b[B_RUN]) > 0;
}

/* Rows [from, to) are one token's: the latest run that saw it counts, else
 * (only manifest rows) the latest manifest row. */
static void batch_pick(table *t, size_t from, size_t to, tr_db_batch_token *out)
{
    size_t pick = to, any = from;
    unsigned seen = 0;
    for (size_t i = from; i < to; i++) {
        char **r = t->cell + i * t->ncols;
        if (newer(r, t->cell + any * t->ncols))
            any = i;
        if (manifest_only(r))
            continue;
        seen++;
        if (pick == to || newer(r, t->cell + pick * t->ncols))
            pick = i;
    }
    if (pick == to)
        pick = any;
    char **dst[] = {&out->serial, &out->slot, &out->host, &out->rig, &out->run_id, &out->started, &out->verdict,
                    &out->classifications};
    for (size_t c = 0; c < sizeof dst / sizeof dst[0]; c++)
        *dst[c] = table_take(t, pick, c);
    out->unfinished = !strcmp(t->cell[pick * t->ncols + B_UNFINISHED], "1");
    out->runs = seen;
}

static int batch_runs(tr_db *db, const char *batch, size_t *runs, tr_err *e)
{
    long long n = 0;
    args a = {0};
    a_text(&a, batch);
    int rc = run_query(db, "SELECT COUNT(*) FROM runs WHERE batch = $1", &a, first_int, &n, e);
    *runs = (size_t)n;
    return rc;
}

int tr_db_batch(tr_db *db, const char *batch, tr_db_batch_token **toks, size_t *n, size_t *runs, tr_err *e)
{
    *toks = NULL;
    *n = 0;
    table t = {.ncols = B_COLS};
    if (batch_runs(db, batch, runs, e) < 0)
        return -1;
    if (select_by(db,
                  "SELECT s.serial, s.slot, r.host, r.rig, r.run_id, r.started, s.verdict, s.classifications, "
                  "CASE WHEN r.ended IS NULL THEN 1 ELSE 0 END FROM run_slots s JOIN runs r ON r.run_id = s.run_id "
                  "WHERE r.batch = $1 ORDER BY s.serial, r.host, r.rig, s.slot",
                  batch, &t, e) < 0)
        return -1;
    tr_db_batch_token *out = calloc(t.nrows ? t.nrows : 1, sizeof *out);
    if (!out) {
        table_free(&t);
        return tr_fail(e, TR_E_NOMEM, "no memory for the batch");
    }
    /* a token's rows are next to each other: by serial, and rows without
     * one by host, rig and slot inside the "" group */
    for (size_t i = 0; i < t.nrows;) {
        size_t j = i + 1;
        while (j < t.nrows && same_token(t.cell + i * t.ncols, t.cell + j * t.ncols))
            j++;
        batch_pick(&t, i, j, &out[(*n)++]);
        i = j;
    }
    table_free(&t);
    *toks = out;
    return 0;
}

int tr_db_batch_list(tr_db *db, const char *profile, tr_db_row_fn fn, void *ud, tr_err *e)
{
    args a = {0};
    if (!profile)
        return run_query(db, "SELECT batch, MIN(started) AS first FROM runs GROUP BY batch ORDER BY first DESC", &a, fn,
                         ud, e);
    a_text(&a, profile);
    return run_query(db,
                     "SELECT r.batch, MIN(r.started) AS first FROM runs r JOIN run_slots s ON s.run_id = r.run_id "
                     "WHERE s.profile = $1 GROUP BY r.batch ORDER BY first DESC",
                     &a, fn, ud, e);
}

typedef struct {
    tr_db_yield_point *out;
    size_t max, n;
} yield_acc;

static int yield_add(void *ud, size_t ncols, const char *const *vals)
{
    yield_acc *y = ud;
    if (ncols < 4 || y->n == y->max)
        return 1;
    tr_db_yield_point *p = &y->out[y->n++];
    tr_strlcpy(p->run_id, vals[0] ? vals[0] : "", sizeof p->run_id);
    tr_strlcpy(p->started, vals[1] ? vals[1] : "", sizeof p->started);
    p->tokens = vals[2] ? (unsigned)strtoul(vals[2], NULL, 10) : 0;
    p->passed = vals[3] ? (unsigned)strtoul(vals[3], NULL, 10) : 0;
    return 0;
}

int tr_db_profile_yield(tr_db *db, const char *profile, const char *upto, tr_db_yield_point *out, size_t max,
                        size_t *n, tr_err *e)
{
    yield_acc y = {out, max, 0};
    args a = {0};
    a_text(&a, profile);
    a_text(&a, upto ? upto : "");
    a_int(&a, (long long)max);
    int rc = run_query(db,
                       "SELECT r.run_id, r.started, COUNT(*), SUM(CASE WHEN s.verdict = 'PASS' THEN 1 ELSE 0 END) "
                       "FROM run_slots s JOIN runs r ON r.run_id = s.run_id WHERE s.profile = $1 AND "
                       "s.slot <> '(manifest)' AND r.started <= COALESCE((SELECT u.started FROM runs u WHERE "
                       "u.run_id = $2), '9999') GROUP BY r.run_id, r.started ORDER BY r.started DESC, r.run_id DESC "
                       "LIMIT $3",
                       &a, yield_add, &y, e);
    *n = rc == 0 ? y.n : 0;
    for (size_t i = 0; rc == 0 && i < y.n / 2; i++) { /* oldest first */
        tr_db_yield_point t = out[i];
        out[i] = out[y.n - 1 - i];
        out[y.n - 1 - i] = t;
    }
    return rc;
}

int tr_db_batch_status(const tr_db_batch_token *t, size_t n, size_t *passed)
{
    int st = n ? 0 : 2;
    *passed = 0;
    for (size_t i = 0; i < n; i++) {
        bool pass = !strcmp(t[i].verdict, "PASS") && !t[i].unfinished;
        *passed += pass;
        if (!strcmp(t[i].verdict, "FAIL"))
            st = 1;
        else if (!pass && st == 0)
            st = 2;
    }
    return st;
}
