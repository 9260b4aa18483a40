/* check_db.c — the results database on its SQLite back end (a temporary
 * file per test): choosing and checking a database name, the schema and
 * its migrations (WAL mode, a newer schema refused, a password never in a
 * message), every write and query (history newest first with failed tests
 * and cycle statistics, a batch's latest-run verdict, a manifest row that
 * does not outvote a run), text sanitised on the way in, the run writer
 * (rows per finished test, run ids made unique, slot threads at once, a
 * writer killed by SIGKILL leaving whole tests and a database the next run
 * writes), and the import of a report directory (idempotent; a bad row
 * adds nothing and names file and row).
 * The PostgreSQL back end is tested against a real server by
 * ci/tests/92-db.sh.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "dbimport.h"
#include "dbrun.h"
#include "reports.h"
#include "util.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static char tmpdir[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/check_db.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    unsetenv("TOKENRIG_DB");
    setenv("TOKENRIG_HOST", "bench-7", 1);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *in_tmp(const char *name)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

#define OK(call)                                                                                                   \
    do {                                                                                                           \
        tr_err e_;                                                                                                 \
        tr_err_clear(&e_);                                                                                         \
        int rc_ = (call);                                                                                          \
        ck_assert_msg(rc_ >= 0, "%s: %s", #call, e_.msg);                                                          \
    } while (0)

static tr_db *open_db(const char *name)
{
    tr_db *db = NULL;
    tr_err e;
    ck_assert_msg(tr_db_open(in_tmp(name), true, &db, &e) == 0, "open: %s", e.msg);
    return db;
}

/* One value of a query on the file, read with SQLite itself. */
static char *scalar(const char *name, const char *sql)
{
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open_v2(in_tmp(name), &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(s, 10000); /* a writer may be making the file or checkpointing */
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(s));
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "(null)");
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v ? v : strdup("(no row)");
}

/* A count while another process may still be making the file: -1 when it
 * cannot be read yet. */
static long try_count(const char *name, const char *sql)
{
    sqlite3 *s;
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_open_v2(in_tmp(name), &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return n;
}

static void assert_scalar(const char *name, const char *sql, const char *want)
{
    char *v = scalar(name, sql);
    ck_assert_msg(!strcmp(v, want), "%s: got '%s', want '%s'", sql, v, want);
    free(v);
}

static tr_db_run run_row(const char *id, const char *batch, const char *started)
{
    return (tr_db_run){.run_id = id, .kind = "run", .batch = batch, .host = "h1", .rig = "rig1", .started = started,
                       .tool_version = "t", .command_line = "tokenrig run", .profile = "ref1-sm2", .source = "live",
                       .destructive = 1};
}

/* A token of run id: its run_slots row with this verdict. */
static void put_slot(tr_db *db, const char *id, const char *slot, const char *serial, const char *verdict,
                     const char *fw)
{
    tr_db_slot s = {.run_id = id, .slot = slot, .serial = serial, .role = "main", .profile = "ref1-sm2",
                    .firmware = fw, .verdict = verdict, .classifications = "", .tests = 1, .updated = "x"};
    OK(tr_db_slot_put(db, &s, &e_));
}

/* ---- choosing, checking, schema ------------------------------------------------------------------ */

START_TEST(choose_and_check)
{
    tr_err e;
    ck_assert_str_eq(tr_db_choose(NULL, NULL), TR_DB_DEFAULT);
    ck_assert_str_eq(tr_db_choose("", "rig.db"), "rig.db");
    setenv("TOKENRIG_DB", "env.db", 1);
    ck_assert_str_eq(tr_db_choose(NULL, "rig.db"), "env.db");
    ck_assert_str_eq(tr_db_choose("arg.db", "rig.db"), "arg.db");
    unsetenv("TOKENRIG_DB");
    ck_assert(tr_db_is_url("postgresql://u@h/d") && tr_db_is_url("postgres:///d") && !tr_db_is_url("a/b.db"));
    ck_assert_int_eq(tr_db_check_where("postgresql://h/d", &e), 0);
    ck_assert_int_eq(tr_db_check_where("reports/x.db", &e), 0);
    ck_assert_int_eq(tr_db_check_where("", &e), -1);
    ck_assert_int_eq(tr_db_check_where("mysql://h/d", &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "only postgresql://"));
    ck_assert_int_eq(tr_db_check_where("a\nb", &e), -1);
    char big[TR_PATH_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(tr_db_check_where(big, &e), -1);
    ck_assert_int_eq(tr_db_check_name("batch", "lot-7", &e), 0);
    ck_assert_int_eq(tr_db_check_name("batch", "", &e), -1);
    ck_assert_int_eq(tr_db_check_name("batch", "a\tb", &e), -1);
    memset(big, 'b', TR_DB_ID_MAX);
    big[TR_DB_ID_MAX] = '\0';
    ck_assert_int_eq(tr_db_check_name("batch", big, &e), -1);
}
END_TEST

START_TEST(schema_wal_and_migrations)
{
    tr_db *db = open_db("a.db");
    tr_err e;
    ck_assert_str_eq(tr_db_backend(db), "sqlite");
    ck_assert_int_eq(tr_db_schema_version(db, &e), TR_DB_SCHEMA_VERSION);
    tr_db_close(db);
    assert_scalar("a.db", "PRAGMA journal_mode", "wal");
    db = open_db("a.db"); /* opening again applies nothing twice */
    tr_db_close(db);
    assert_scalar("a.db", "SELECT COUNT(*) FROM schema_version", "1");
    assert_scalar("a.db", "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'run_slots_by_serial'",
                  "1");
    /* a database from a newer tokenrig is refused, not written */
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(in_tmp("a.db"), &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "INSERT INTO schema_version VALUES (99, 'x')", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    ck_assert_int_eq(tr_db_open(in_tmp("a.db"), true, &db, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "version 99, newer than this tokenrig"));
    /* a query does not make a database where there is none */
    ck_assert_int_eq(tr_db_open(in_tmp("none.db"), false, &db, &e), -1);
    ck_assert_int_eq(access(in_tmp("none.db"), F_OK), -1);
}
END_TEST

START_TEST(password_never_shown)
{
    tr_db *db;
    tr_err e;
    ck_assert_int_eq(tr_db_open("postgresql://qa:s3cret@/tokenrig?host=/nonexistent-dir", false, &db, &e), -1);
    ck_assert_msg(!strstr(e.msg, "s3cret"), "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "postgresql://qa:***@/tokenrig"), "%s", e.msg);
}
END_TEST

/* ---- writes and queries ---------------------------------------------------------------------------------- */

START_TEST(claim_is_unique)
{
    tr_db *db = open_db("c.db");
    tr_db_run r = run_row("run-1", "lot", "2026-01-01T00:00:00.000Z");
    OK(tr_db_run_claim(db, &r, &e_));
    tr_err e;
    ck_assert_int_eq(tr_db_run_claim(db, &r, &e), 0);
    r.destructive = -1;
    r.run_id = "run-2";
    ck_assert_int_eq(tr_db_run_claim(db, &r, &e), 1);
    tr_db_close(db);
    assert_scalar("c.db", "SELECT COALESCE(destructive, 'unknown') FROM runs WHERE run_id = 'run-2'", "unknown");
}
END_TEST

/* Two runs of one token; the newer failed a test, with metrics and cycles. */
static void two_runs(tr_db *db)
{
    tr_db_run a = run_row("run-a", "lot-1", "2026-01-01T10:00:00.000Z");
    tr_db_run b = run_row("run-b", "lot-2", "2026-01-02T10:00:00.000Z");
    OK(tr_db_run_claim(db, &a, &e_));
    OK(tr_db_run_claim(db, &b, &e_));
    put_slot(db, "run-a", "A1", "SER1", "PASS", "0100");
    put_slot(db, "run-b", "A3", "SER1", "FAIL", "0200");
    put_slot(db, "run-b", "A3", "SER1", "FAIL", ""); /* "" keeps the firmware */
    tr_slot_id who = {.run_id = "run-b", .slot = "A3", .serial = "SER1"};
    tr_result_row m = {.who = &who, .suite = "pin", .test = "lockout", .verdict = TR_FAIL, .metric = "tries",
                       .value = 3, .unit = "n"};
    tr_result_row v = {.who = &who, .suite = "pin", .test = "lockout", .verdict = TR_FAIL,
                       .classification = "pin.no-lockout", .duration_s = 1.5, .message = "still open"};
    tr_result_row p = {.who = &who, .suite = "id", .test = "serial", .verdict = TR_PASS};
    OK(tr_db_result(db, 1, "t1", &p, &e_));
    OK(tr_db_result(db, 2, "t2", &m, &e_));
    OK(tr_db_result(db, 3, "t3", &v, &e_));
    for (unsigned i = 1; i <= 20; i++) {
        tr_cycle_row c = {.who = &who, .cycle = i, .off_ms = 100, .to_device_ms = -1, .to_reader_ms = -1,
                          .to_atr_ms = 300, .to_first_apdu_ms = i == 20 ? -1.0 : 400.0 + i,
                          .verdict = i == 20 ? "enum.no-card" : "pass"};
        OK(tr_db_cycle(db, 100 + i, "tc", &c, "recognition", "cycles", &e_));
    }
    OK(tr_db_run_end(db, "run-b", "2026-01-02T10:05:00.000Z", 1, &e_));
}

START_TEST(history_newest_first)
{
    tr_db *db = open_db("h.db");
    two_runs(db);
    tr_db_history_row *h;
    size_t n;
    OK(tr_db_history(db, "SER1", &h, &n, &e_));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(h[0].run_id, "run-b");
    ck_assert_str_eq(h[0].slot, "A3");
    ck_assert_str_eq(h[0].batch, "lot-2");
    ck_assert_str_eq(h[0].firmware, "0200");
    ck_assert_str_eq(h[0].verdict, "FAIL");
    ck_assert_str_eq(h[0].failed, "pin / lockout: pin.no-lockout");
    ck_assert_int_eq(h[0].exit_status, 1);
    ck_assert_uint_eq(h[0].cycles, 20);
    ck_assert_uint_eq(h[0].cycles_failed, 1);
    ck_assert_uint_eq(h[0].ready.n, 19);
    ck_assert(fabs(h[0].ready.p50 - 410) < 1e-9 && fabs(h[0].ready.p95 - 419) < 1e-9);
    ck_assert_str_eq(h[1].run_id, "run-a");
    ck_assert_str_eq(h[1].failed, "");
    ck_assert_int_eq(h[1].exit_status, -1); /* no end recorded */
    ck_assert_uint_eq(h[1].cycles, 0);
    tr_db_history_free(h, n);
    OK(tr_db_history(db, "NOSUCH", &h, &n, &e_));
    ck_assert_uint_eq(n, 0);
    tr_db_history_free(h, n);
    tr_db_close(db);
    /* a cycle stage not reached is NULL, a metric's value kept */
    assert_scalar("h.db", "SELECT COUNT(*) FROM cycles WHERE to_device_ms IS NULL", "20");
    assert_scalar("h.db", "SELECT value FROM results WHERE metric = 'tries'", "3.0");
}
END_TEST

START_TEST(text_is_sanitised)
{
    tr_db *db = open_db("t.db");
    tr_db_run r = run_row("run-t", "lot", "t");
    OK(tr_db_run_claim(db, &r, &e_));
    tr_slot_id who = {.run_id = "run-t", .slot = "A1", .serial = "S"};
    tr_result_row v = {.who = &who, .suite = "s", .test = "t", .verdict = TR_ERROR, .message = "bad \xff\x01 bytes"};
    OK(tr_db_result(db, 1, "t", &v, &e_));
    tr_db_close(db);
    assert_scalar("t.db", "SELECT message FROM results", "bad \\xFF\\x01 bytes");
}
END_TEST

START_TEST(batch_latest_run_counts)
{
    tr_db *db = open_db("b.db");
    const char *runs[][2] = {{"r1", "2026-01-01T00:00:00.000Z"}, {"r2", "2026-01-02T00:00:00.000Z"},
                             {"r3", "2026-01-03T00:00:00.000Z"}};
    for (int i = 0; i < 3; i++) {
        tr_db_run r = run_row(runs[i][0], "lot-9", runs[i][1]);
        OK(tr_db_run_claim(db, &r, &e_));
        if (i != 2)
            OK(tr_db_run_end(db, runs[i][0], runs[i][1], 0, &e_));
    }
    tr_db_run other = run_row("x1", "lot-8", "2026-01-05T00:00:00.000Z");
    OK(tr_db_run_claim(db, &other, &e_));
    put_slot(db, "r1", "A1", "T1", "FAIL", "");
    put_slot(db, "r2", "A1", "T1", "PASS", ""); /* re-certified: the latest counts */
    put_slot(db, "r1", "A2", "T2", "PASS", "");
    put_slot(db, "r3", "(manifest)", "T2", "ERROR", ""); /* another rig's run: not in its rig */
    put_slot(db, "r3", "(manifest)", "T3", "ERROR", ""); /* no run saw T3 */
    put_slot(db, "r3", "B1", "T4", "PASS", "");          /* r3 has no end */
    put_slot(db, "x1", "A1", "T5", "FAIL", "");          /* another batch */
    tr_db_batch_token *t;
    size_t n, nruns;
    OK(tr_db_batch(db, "lot-9", &t, &n, &nruns, &e_));
    ck_assert_uint_eq(nruns, 3);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(t[0].serial, "T1");
    ck_assert_str_eq(t[0].verdict, "PASS");
    ck_assert_str_eq(t[0].run_id, "r2");
    ck_assert_uint_eq(t[0].runs, 2);
    ck_assert_str_eq(t[1].serial, "T2");
    ck_assert_str_eq(t[1].verdict, "PASS");
    ck_assert_str_eq(t[1].slot, "A2");
    ck_assert_str_eq(t[2].serial, "T3");
    ck_assert_str_eq(t[2].verdict, "ERROR");
    ck_assert_uint_eq(t[2].runs, 0);
    ck_assert_str_eq(t[3].serial, "T4");
    ck_assert(t[3].unfinished && !t[0].unfinished);
    tr_db_batch_free(t, n);
    OK(tr_db_batch(db, "no-such-lot", &t, &n, &nruns, &e_));
    ck_assert_uint_eq(nruns + n, 0);
    tr_db_batch_free(t, n);
    /* the yield of the profile's runs up to r2, oldest first (no manifest rows) */
    tr_db_yield_point y[4];
    OK(tr_db_profile_yield(db, "ref1-sm2", "r2", y, 4, &n, &e_));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(y[0].run_id, "r1");
    ck_assert_uint_eq(y[0].tokens * 10 + y[0].passed, 21);
    ck_assert_str_eq(y[1].run_id, "r2");
    ck_assert_uint_eq(y[1].tokens * 10 + y[1].passed, 11);
    OK(tr_db_profile_yield(db, "ref1-sm2", NULL, y, 2, &n, &e_)); /* the newest 2 */
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(y[0].run_id, "r3");
    ck_assert_str_eq(y[1].run_id, "x1");
    tr_db_close(db);
}
END_TEST

/* ---- the run writer -------------------------------------------------------------------------------------- */

typedef struct {
    tr_reports *rep;
    tr_dbrun *w;
    char dir[512];
} live_run;

static void live_open(live_run *l, const char *db, const char *run_id, bool given)
{
    tr_err e;
    snprintf(l->dir, sizeof l->dir, "%s/rep-%s", tmpdir, run_id);
    tr_dbrun_opts o = {.where = in_tmp(db), .run_id = run_id, .run_id_given = given, .kind = "run",
                       .batch = "lot-5", .rig = "virtual", .command_line = "tokenrig run -D SO_PIN=<pin>"};
    ck_assert_msg(tr_dbrun_open(&o, &l->w, &e) == 0, "dbrun: %s", e.msg);
    l->rep = tr_reports_open(l->dir, &e);
    ck_assert_ptr_nonnull(l->rep);
    tr_dbrun_attach(l->w, l->rep);
}

static void live_close(live_run *l, int status)
{
    tr_err e;
    ck_assert_msg(tr_dbrun_end(l->w, status, &e) == 0, "end: %s", e.msg);
    tr_dbrun_free(l->w);
    tr_reports_close(l->rep);
}

/* A test of a token through the reports: a metric row, then (unless
 * open) its verdict row. */
static void live_test(live_run *l, const tr_slot_id *who, const char *test, tr_verdict v, bool open)
{
    tr_err e;
    tr_result_row m = {.who = who, .suite = "s", .test = test, .verdict = TR_PASS, .metric = "ms", .value = 2};
    tr_result_row r = {.who = who, .suite = "s", .test = test, .verdict = v,
                       .classification = v == TR_FAIL ? "x.broken" : NULL};
    ck_assert_int_eq(tr_reports_result(l->rep, &m, &e), 0);
    if (!open)
        ck_assert_int_eq(tr_reports_result(l->rep, &r, &e), 0);
}

START_TEST(writer_per_finished_test)
{
    live_run l;
    live_open(&l, "w.db", "run-w", true);
    tr_slot_id who = {.run_id = "run-w", .rig = "virtual", .slot = "A1", .serial = "SER9", .profile = "ref1-sm2"};
    tr_err e;
    ck_assert_int_eq(tr_reports_slot_property(l.rep, &who, "firmware", "0102", &e), 0);
    live_test(&l, &who, "one", TR_PASS, false);
    assert_scalar("w.db", "SELECT COUNT(*) FROM results", "2");
    assert_scalar("w.db", "SELECT verdict || ' ' || tests FROM run_slots", "PASS 1");
    live_test(&l, &who, "two", TR_FAIL, false);
    assert_scalar("w.db", "SELECT verdict || ' ' || classifications || ' ' || tests FROM run_slots",
                  "FAIL x.broken 2");
    live_test(&l, &who, "three", TR_PASS, true); /* its verdict row never comes */
    assert_scalar("w.db", "SELECT COUNT(*) FROM results", "4");
    assert_scalar("w.db", "SELECT COALESCE(ended, 'open') FROM runs", "open");
    live_close(&l, 1);
    assert_scalar("w.db", "SELECT COUNT(*) FROM results", "5"); /* the end keeps what results.csv has */
    assert_scalar("w.db", "SELECT exit_status || ' ' || host || ' ' || batch FROM runs", "1 bench-7 lot-5");
    assert_scalar("w.db", "SELECT firmware || ' ' || verdict || ' ' || errored FROM run_slots", "0102 FAIL 1");
    assert_scalar("w.db", "SELECT value FROM provenance WHERE name = 'firmware'", "0102");
}
END_TEST

START_TEST(writer_made_run_id_made_unique)
{
    setenv("TOKENRIG_HOST", "bench 7/b", 1);
    live_run a, b;
    live_open(&a, "u.db", "20260101-000000-42", false);
    live_close(&a, 0);
    live_open(&b, "u.db", "20260101-000000-42", false); /* another host, same second, same PID */
    ck_assert_str_eq(tr_dbrun_run_id(b.w), "20260101-000000-42-bench_7_b");
    live_close(&b, 0);
    tr_dbrun *w;
    tr_err e;
    tr_dbrun_opts o = {.where = in_tmp("u.db"), .run_id = "20260101-000000-42", .run_id_given = true, .kind = "run"};
    ck_assert_int_eq(tr_dbrun_open(&o, &w, &e), -1); /* a given id is not changed */
    ck_assert_ptr_nonnull(strstr(e.msg, "already there"));
}
END_TEST

typedef struct {
    live_run *l;
    char slot[8], serial[20];
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    tr_slot_id who = {.run_id = "run-th", .slot = a->slot, .serial = a->serial};
    for (int i = 0; i < 50; i++) {
        char test[16];
        snprintf(test, sizeof test, "t%d", i);
        live_test(a->l, &who, test, i == 7 ? TR_FAIL : TR_PASS, false);
    }
    return NULL;
}

START_TEST(writer_threads)
{
    live_run l;
    live_open(&l, "th.db", "run-th", true);
    pthread_t th[8];
    worker_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i].l = &l;
        snprintf(args[i].slot, sizeof args[i].slot, "A%d", i + 1);
        snprintf(args[i].serial, sizeof args[i].serial, "SER%d", i + 1);
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    live_close(&l, 1);
    assert_scalar("th.db", "SELECT COUNT(*) FROM results", "800");
    assert_scalar("th.db", "SELECT COUNT(DISTINCT seq) FROM results", "800");
    assert_scalar("th.db", "SELECT COUNT(*) FROM run_slots WHERE tests = 50 AND verdict = 'FAIL'", "8");
}
END_TEST

/* A database that refuses rows (here a trigger; a full disk, a server
 * gone): the run goes on, the first failure is kept with the count. */
START_TEST(writer_failure_reported)
{
    live_run l;
    live_open(&l, "f.db", "run-f", true);
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(in_tmp("f.db"), &s), SQLITE_OK);
    sqlite3_busy_timeout(s, 10000);
    ck_assert_int_eq(sqlite3_exec(s, "CREATE TRIGGER fire BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, "
                                     "'disk on fire'); END", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    tr_slot_id who = {.run_id = "run-f", .slot = "A1", .serial = "SERF"};
    live_test(&l, &who, "one", TR_PASS, false);
    live_test(&l, &who, "two", TR_PASS, false);
    tr_err e;
    ck_assert(tr_dbrun_failed(l.w, &e));
    ck_assert_msg(strstr(e.msg, "disk on fire (SQLite error 1811) (and 1 more failed writes)"), "%s", e.msg);
    ck_assert_int_eq(tr_dbrun_end(l.w, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "disk on fire"), "%s", e.msg);
    tr_dbrun_free(l.w);
    tr_reports_close(l.rep);
    /* a failed test's transaction left nothing; the end still says what the
     * run summarised (the run exits 2: rows are missing) */
    assert_scalar("f.db", "SELECT (SELECT COUNT(*) FROM results) || ' ' || tests FROM run_slots", "0 2");
}
END_TEST

/* A writer killed with SIGKILL at any moment: whole tests only, the run
 * has no end, and the next run writes at once. */
START_TEST(writer_killed)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        live_run l;
        live_open(&l, "k.db", "run-k", true);
        tr_slot_id who = {.run_id = "run-k", .slot = "A1", .serial = "SERK"};
        for (int i = 0;; i++) {
            char test[16];
            snprintf(test, sizeof test, "t%d", i);
            live_test(&l, &who, test, TR_PASS, false);
        }
    }
    for (int i = 0; i < 400 && try_count("k.db", "SELECT COUNT(*) FROM run_slots") <= 0; i++)
        usleep(10000); /* until some tests are in */
    usleep(150000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_scalar("k.db", "PRAGMA integrity_check", "ok");
    assert_scalar("k.db", "SELECT COUNT(*) FROM results m WHERE metric IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                          "results v WHERE v.metric IS NULL AND v.test = m.test)", "0");
    char *tests = scalar("k.db", "SELECT tests FROM run_slots");
    char *verdicts = scalar("k.db", "SELECT COUNT(*) FROM results WHERE metric IS NULL");
    ck_assert_msg(atoi(tests) > 0 && !strcmp(tests, verdicts), "run_slots says %s tests, results %s", tests, verdicts);
    free(tests);
    free(verdicts);
    assert_scalar("k.db", "SELECT COALESCE(ended, 'open') FROM runs", "open");
    live_run next;
    live_open(&next, "k.db", "run-next", true);
    tr_slot_id who = {.run_id = "run-next", .slot = "A1", .serial = "SERK"};
    live_test(&next, &who, "t", TR_PASS, false);
    live_close(&next, 0);
    assert_scalar("k.db", "SELECT exit_status FROM runs WHERE run_id = 'run-next'", "0");
}
END_TEST

/* ---- import ------------------------------------------------------------------------------------------------ */

/* A finished run's report directory, written by the reports themselves. */
static void write_report_dir(const char *dir, const char *run_id)
{
    tr_err e;
    tr_reports *rep = tr_reports_open(dir, &e);
    ck_assert_ptr_nonnull(rep);
    tr_slot_id who = {.run_id = run_id, .rig = "bench", .slot = "A1", .serial = "IMP1", .role = "main",
                      .profile = "ref1-rsa"};
    tr_result_row v = {.who = &who, .suite = "s", .test = "formula", .verdict = TR_FAIL, .classification = "x.y",
                       .message = "=1+1 is not a formula", .file = "s.tsuite", .line = 3};
    ck_assert_int_eq(tr_reports_result(rep, &v, &e), 0);
    tr_cycle_row c = {.who = &who, .cycle = 1, .off_ms = 100, .to_device_ms = -1, .to_reader_ms = -1,
                      .to_atr_ms = 300, .to_first_apdu_ms = 450, .verdict = "pass"};
    ck_assert_int_eq(tr_reports_cycle(rep, &c, &e), 0);
    ck_assert_int_eq(tr_reports_write_summary(rep, &e), 0);
    ck_assert_int_eq(tr_reports_sync(rep, &e), 0);
    tr_reports_close(rep);
    FILE *f = fopen(in_tmp("rep/provenance.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("slot,name,value,source\n,host,bench-3,run\nA1,firmware,0105,token\n", f);
    fclose(f);
}

START_TEST(import_idempotent)
{
    write_report_dir(in_tmp("rep"), "run-imp");
    tr_db *db = open_db("i.db");
    tr_import_result r;
    tr_err e;
    ck_assert_msg(tr_db_import(db, in_tmp("rep"), "lot-i", &r, &e) == 1, "%s", e.msg);
    ck_assert_str_eq(r.run_id, "run-imp");
    ck_assert_uint_eq(r.results, 1);
    ck_assert_uint_eq(r.cycles, 1);
    ck_assert_uint_eq(r.slots, 1);
    ck_assert_uint_eq(r.provenance, 2);
    ck_assert_int_eq(tr_db_import(db, in_tmp("rep"), "lot-i", &r, &e), 0);
    ck_assert_uint_eq(r.results, 0);
    tr_db_close(db);
    assert_scalar("i.db", "SELECT COUNT(*) FROM results", "1");
    assert_scalar("i.db", "SELECT message FROM results", "=1+1 is not a formula"); /* the guard taken off */
    assert_scalar("i.db", "SELECT host || ' ' || batch || ' ' || source || ' ' || COALESCE(exit_status, '-') FROM runs",
                  "bench-3 lot-i import -");
    assert_scalar("i.db", "SELECT profile || ' ' || firmware || ' ' || verdict FROM run_slots", "ref1-rsa 0105 FAIL");
}
END_TEST

START_TEST(import_bad_row_adds_nothing)
{
    write_report_dir(in_tmp("rep"), "run-bad");
    FILE *f = fopen(in_tmp("rep/results.csv"), "a");
    ck_assert_ptr_nonnull(f);
    fputs("run-bad,t,bench,A1,,IMP1,main,ref1-rsa,s,t2,maybe,,,,,,,,,,\n", f);
    fclose(f);
    tr_db *db = open_db("j.db");
    tr_import_result r;
    tr_err e;
    ck_assert_int_eq(tr_db_import(db, in_tmp("rep"), NULL, &r, &e), -1);
    ck_assert_msg(strstr(e.msg, "results.csv: row 3: verdict 'maybe'"), "%s", e.msg);
    unlink(in_tmp("rep/summary.csv")); /* a run that did not end */
    ck_assert_int_eq(tr_db_import(db, in_tmp("rep"), NULL, &r, &e), -1);
    ck_assert_msg(strstr(e.msg, "no summary.csv"), "%s", e.msg);
    tr_db_close(db);
    assert_scalar("j.db", "SELECT COUNT(*) FROM runs", "0");
    assert_scalar("j.db", "SELECT COUNT(*) FROM results", "0");
}
END_TEST

/* ---- the same API on PostgreSQL (ci/tests/92-db.sh gives a server) -------------------------------------- */

/* Names unique to this test process: the server keeps earlier tests' rows. */
static const char *uniq(const char *what)
{
    static char buf[8][96];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s-%ld", what, (long)getpid());
    return buf[k];
}

START_TEST(pg_writes_and_queries)
{
    const char *url = getenv("TR_TEST_PG_URL");
    tr_db *db;
    tr_err e;
    ck_assert_msg(tr_db_open(url, false, &db, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(tr_db_backend(db), "postgresql");
    ck_assert_int_eq(tr_db_schema_version(db, &e), TR_DB_SCHEMA_VERSION);
    const char *serial = uniq("PGSER"), *batch = uniq("pglot"), *profile = uniq("pgprof");
    const char *ids[] = {uniq("pg-r1"), uniq("pg-r2")};
    for (int i = 0; i < 2; i++) {
        tr_db_run r = run_row(ids[i], batch, i ? "2026-02-02T00:00:00.000Z" : "2026-02-01T00:00:00.000Z");
        r.profile = profile;
        ck_assert_int_eq(tr_db_run_claim(db, &r, &e), 1);
        ck_assert_int_eq(tr_db_run_claim(db, &r, &e), 0);
        tr_db_slot s = {.run_id = ids[i], .slot = "A1", .serial = serial, .role = "main", .profile = profile,
                        .firmware = "0100", .verdict = i ? "PASS" : "FAIL", .classifications = "", .updated = "x"};
        OK(tr_db_slot_put(db, &s, &e_));
        tr_slot_id who = {.run_id = ids[i], .slot = "A1", .serial = serial};
        tr_result_row v = {.who = &who, .suite = "s", .test = "t", .verdict = i ? TR_PASS : TR_FAIL,
                           .classification = i ? NULL : "x.y", .duration_s = 0.25, .message = "\xc3\xa9 \xff"};
        OK(tr_db_result(db, 1, "t", &v, &e_));
        tr_cycle_row c = {.who = &who, .cycle = 1, .off_ms = 1, .to_device_ms = -1, .to_reader_ms = -1,
                          .to_atr_ms = 2, .to_first_apdu_ms = 412.5, .verdict = "pass"};
        OK(tr_db_cycle(db, 2, "t", &c, NULL, NULL, &e_));
        OK(tr_db_run_end(db, ids[i], "2026-02-03T00:00:00.000Z", i ? 0 : 1, &e_));
    }
    tr_db_history_row *h;
    size_t n;
    OK(tr_db_history(db, serial, &h, &n, &e_));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(h[0].run_id, ids[1]);
    ck_assert_str_eq(h[1].failed, "s / t: x.y");
    ck_assert(h[0].cycles == 1 && fabs(h[0].ready.p50 - 412.5) < 1e-9);
    tr_db_history_free(h, n);
    tr_db_batch_token *t;
    size_t runs;
    OK(tr_db_batch(db, batch, &t, &n, &runs, &e_));
    ck_assert(n == 1 && runs == 2 && t[0].runs == 2 && !strcmp(t[0].verdict, "PASS"));
    tr_db_batch_free(t, n);
    tr_db_yield_point y[4];
    OK(tr_db_profile_yield(db, profile, ids[0], y, 4, &n, &e_));
    ck_assert(n == 1 && y[0].tokens == 1 && y[0].passed == 0);
    tr_db_close(db);
}
END_TEST

START_TEST(pg_writer_and_import)
{
    const char *url = getenv("TR_TEST_PG_URL"), *id = uniq("pg-live");
    tr_err e;
    tr_dbrun_opts o = {.where = url, .run_id = id, .run_id_given = true, .kind = "run", .batch = uniq("pglive")};
    live_run l;
    ck_assert_msg(tr_dbrun_open(&o, &l.w, &e) == 0, "%s", e.msg);
    l.rep = tr_reports_open(in_tmp("pgrep"), &e);
    ck_assert_ptr_nonnull(l.rep);
    tr_dbrun_attach(l.w, l.rep);
    tr_slot_id who = {.run_id = id, .slot = "A1", .serial = uniq("PGLIVE")};
    live_test(&l, &who, "one", TR_PASS, false);
    live_test(&l, &who, "two", TR_FAIL, false);
    ck_assert_int_eq(tr_reports_write_summary(l.rep, &e), 0);
    live_close(&l, 1);
    tr_db *db;
    ck_assert_int_eq(tr_db_open(url, false, &db, &e), 0);
    tr_db_history_row *h;
    size_t n;
    OK(tr_db_history(db, who.serial, &h, &n, &e_));
    ck_assert(n == 1 && !strcmp(h[0].verdict, "FAIL") && h[0].exit_status == 1);
    ck_assert_str_eq(h[0].failed, "s / two: x.broken");
    tr_db_history_free(h, n);
    tr_import_result r; /* the same run's directory: already there */
    ck_assert_int_eq(tr_db_import(db, in_tmp("pgrep"), NULL, &r, &e), 0);
    tr_db_close(db);
}
END_TEST

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, choose_and_check);
    tcase_add_test(tc, schema_wal_and_migrations);
    tcase_add_test(tc, password_never_shown);
    tcase_add_test(tc, claim_is_unique);
    tcase_add_test(tc, history_newest_first);
    tcase_add_test(tc, text_is_sanitised);
    tcase_add_test(tc, batch_latest_run_counts);
    tcase_add_test(tc, writer_per_finished_test);
    tcase_add_test(tc, writer_made_run_id_made_unique);
    tcase_add_test(tc, writer_threads);
    tcase_add_test(tc, writer_failure_reported);
    tcase_add_test(tc, writer_killed);
    tcase_add_test(tc, import_idempotent);
    tcase_add_test(tc, import_bad_row_adds_nothing);
    suite_add_tcase(s, tc);
    /* with a PostgreSQL server only (ci/tests/92-db.sh starts one) */
    if (getenv("TR_TEST_PG_URL") && *getenv("TR_TEST_PG_URL")) {
        TCase *tp = tcase_create("postgresql");
        tcase_add_checked_fixture(tp, setup, teardown);
        tcase_set_timeout(tp, 60);
        tcase_add_test(tp, pg_writes_and_queries);
        tcase_add_test(tp, pg_writer_and_import);
        suite_add_tcase(s, tp);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(db_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
