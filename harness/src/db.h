/* db.h — the results database: every run's rows, kept across runs, benches
 * and hosts.
 *
 * Owns: choosing the database (--db, $TOKENRIG_DB, the rig's `db =`, else
 * SQLite at reports/tokenrig.db), connecting to it through a back end
 * (db_sqlite.c: libsqlite3 in WAL mode; db_pg.c: libpq), the one schema and
 * its versioned migrations (table schema_version; migration 1 makes
 * everything), the SQL of every write and query (once, for both back ends),
 * and what the queries give back: a token's history, a batch's verdict.
 * Every failure is a tr_err with a code and a message naming the database
 * (a PostgreSQL password never appears in one).
 * Must not: decide a token's verdict (reports.c does; the database stores
 * it), print, or know the command line.
 *
 * Tables (migration 1):
 *   schema_version (version, applied)
 *   runs       (run_id unique, kind run|cycle, batch, host, rig, started,
 *               ended — NULL while running and for a run that was killed —,
 *               tool_version, command_line, destructive (NULL: not
 *               known), profile, exit_status, source live|import)
 *   run_slots  (run_id, slot, serial, role, profile, firmware, verdict,
 *               classifications, counts, duration_s, updated): one per
 *               token of a run, rewritten with each finished test
 *   results    (run_id, seq, time, slot, serial, suite, test, verdict,
 *               classification, duration_s, metric, value, unit, message,
 *               file, line): one per results.csv row
 *   cycles     (run_id, seq, time, slot, serial, suite, test, cycle, the
 *               stage times, atr, stage, power_level, verdict, message):
 *               one per cycles.csv row
 *   provenance (run_id, slot, name, value, source)
 * Indexes: run_slots by serial (history), runs by batch (verdict), results
 * and cycles by run and slot.
 */
#ifndef TR_DB_H
#define TR_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "reports.h"
#include "stats.h"

#define TR_DB_DEFAULT "reports/tokenrig.db"
#define TR_DB_SCHEMA_VERSION 1
/* Bounds on what names a run (from the command line, a rig file, a report
 * directory): longer is refused, never cut. */
#define TR_DB_ID_MAX 128
/* Any one text value a file gives (import): longer is refused. */
#define TR_DB_TEXT_MAX 65536

typedef struct tr_db tr_db;

/* A row of a query as text (vals[i] NULL for SQL NULL); non-zero stops. */
typedef int (*tr_db_row_fn)(void *ud, size_t ncols, const char *const *vals);

/* Which database a command uses: arg (--db), else $TOKENRIG_DB, else
 * rig_db (the rig file's db =), else TR_DB_DEFAULT. Empty strings count as
 * not given. */
const char *tr_db_choose(const char *arg, const char *rig_db);
/* A postgresql:// or postgres:// URL (else a SQLite file path). */
bool tr_db_is_url(const char *where);
/* Is where usable as a database: not empty, at most TR_PATH_MAX bytes, no
 * control characters, and a URL only of scheme postgresql:// or
 * postgres:// (mysql://, sqlite:// and the like are refused, not taken for
 * a file). TR_E_CONFIG with a message saying what is wrong. */
int tr_db_check_where(const char *where, tr_err *e);

/* A name of a run or batch (command line, manifest, report directory): 1
 * to TR_DB_ID_MAX - 1 bytes, no control characters (TR_E_USAGE saying
 * what, else 0). */
int tr_db_check_name(const char *what, const char *v, tr_err *e);

/* Connect, then bring the schema to TR_DB_SCHEMA_VERSION (one transaction
 * per migration, serialised between processes that open a new database at
 * once). create: a missing SQLite file is made; else it is an error (a
 * query names a database that must exist). A database whose schema is
 * newer than this tokenrig is refused. */
int tr_db_open(const char *where, bool create, tr_db **out, tr_err *e);
void tr_db_close(tr_db *db);
/* where, as messages show it: a URL's password replaced by "***". */
const char *tr_db_label(const tr_db *db);
const char *tr_db_backend(const tr_db *db); /* "sqlite" | "postgresql" */
/* The schema version the database is at (after tr_db_open: the newest). */
int tr_db_schema_version(tr_db *db, tr_err *e);

/* A write transaction; every write below goes into the open one. */
int tr_db_begin(tr_db *db, tr_err *e);
int tr_db_commit(tr_db *db, tr_err *e);
void tr_db_rollback(tr_db *db);

typedef struct {
    const char *run_id, *kind, *batch, *host, *rig, *started, *tool_version, *command_line, *profile;
    const char *source; /* "live", or "import" */
    int destructive;    /* 1 destructive tests allowed, 0 not, -1 not known (an import) */
} tr_db_run;

/* Insert the run's row unless its run id is there: 1 inserted, 0 the id
 * was already taken (nothing written), -1 error. */
int tr_db_run_claim(tr_db *db, const tr_db_run *run, tr_err *e);
/* The run ended (ended: ISO time) with this exit status (-1: not known). */
int tr_db_run_end(tr_db *db, const char *run_id, const char *ended, int exit_status, tr_err *e);

/* One results.csv row: seq orders the rows of a run; time as in the CSV. */
int tr_db_result(tr_db *db, long long seq, const char *time, const tr_result_row *row, tr_err *e);
/* One cycles.csv row; suite and test name the test it was part of ("" for
 * tokenrig cycle, NULL when not known). */
int tr_db_cycle(tr_db *db, long long seq, const char *time, const tr_cycle_row *row, const char *suite,
                const char *test, tr_err *e);

/* A token of a run as the run sees it so far (insert or replace). */
typedef struct {
    const char *run_id, *slot, *serial, *role, *profile;
    const char *firmware; /* "" keeps what an earlier write gave */
    const char *verdict;  /* tr_token_verdict_name() */
    const char *classifications;
    unsigned tests, passed, failed, errored, skipped, not_run;
    double duration_s;
    const char *updated;  /* ISO time */
} tr_db_slot;
int tr_db_slot_put(tr_db *db, const tr_db_slot *s, tr_err *e);

/* What a run was measured against (insert or replace by run, slot, name). */
int tr_db_provenance(tr_db *db, const char *run_id, const char *slot, const char *name, const char *value,
                     const char *source, tr_err *e);

/* ---- queries ---------------------------------------------------------------------------------- */

/* A run of a token, newest first (tr_db_history). Strings are never NULL. */
typedef struct {
    char *started, *ended, *host, *rig, *slot, *run_id, *batch, *kind, *profile, *firmware, *verdict,
        *classifications;
    char *failed;       /* "suite / test: class" of each failed or errored test, "; "-separated */
    int exit_status;    /* -1: the run has no end recorded (running, or killed) */
    size_t cycles, cycles_failed;
    tr_stats ready;     /* power-on -> first APDU answered, ms, over the cycles that got there */
} tr_db_history_row;

int tr_db_history(tr_db *db, const char *serial, tr_db_history_row **rows, size_t *n, tr_err *e);
void tr_db_history_free(tr_db_history_row *rows, size_t n);

/* A token of a batch: its latest run counts (a manifest row saying the
 * token was not in the rig counts only when no run saw the token). */
typedef struct {
    char *serial, *slot, *host, *rig, *run_id, *started, *verdict, *classifications;
    unsigned runs;      /* runs of the batch that saw this token */
    bool unfinished;    /* its latest run has no end recorded */
} tr_db_batch_token;

/* The batch's tokens sorted by serial; *runs gets the number of runs in the
 * batch (0: no such batch). */
int tr_db_batch(tr_db *db, const char *batch, tr_db_batch_token **toks, size_t *n, size_t *runs, tr_err *e);
void tr_db_batch_free(tr_db_batch_token *toks, size_t n);
/* A batch's exit status (tokenrig verdict --batch; report --batch shows
 * it): 1 a token FAIL, else 2 any not a finished PASS (or none), else 0;
 * *passed the finished PASSes. */
int tr_db_batch_status(const tr_db_batch_token *t, size_t n, size_t *passed);

/* The batches whose runs used profile (NULL: all), newest first: fn gets
 * (batch, first start) per batch. */
int tr_db_batch_list(tr_db *db, const char *profile, tr_db_row_fn fn, void *ud, tr_err *e);

/* The yield of earlier runs of a profile (what report.html's yield history
 * asks, yieldhist.h): the newest max runs that certified tokens of profile
 * and started no later than run upto (NULL: any), oldest first; per run its
 * tokens of the profile (manifest rows not counted) and how many of them
 * passed. */
typedef struct {
    char run_id[TR_DB_ID_MAX];
    char started[40];
    unsigned tokens, passed;
} tr_db_yield_point;
int tr_db_profile_yield(tr_db *db, const char *profile, const char *upto, tr_db_yield_point *out, size_t max,
                        size_t *n, tr_err *e);

#endif
