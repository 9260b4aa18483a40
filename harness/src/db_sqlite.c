/* db_sqlite.c — the SQLite back end of the results database (libsqlite3).
 *
 * Owns: opening a database file in WAL mode (readers never block the
 * writer, a killed writer leaves the file consistent: the next open rolls
 * the WAL back to the last commit), a busy timeout (several tokenrig
 * processes share one file; a writer waits for another's transaction
 * instead of failing), the prepared statements it reuses, and binding $N
 * parameters by name.
 * Must not: hold SQL of the schema or of a query (db.c does).
 *
 * synchronous = NORMAL: in WAL mode a commit is not fsync'ed (the WAL is at
 * the next checkpoint), so a power loss may lose the last transactions but
 * never leaves a torn one; a killed process loses nothing committed.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_backend.h"

#define BUSY_TIMEOUT_MS 30000
#define STMT_CACHE 24

typedef struct {
    char *sql;
    sqlite3_stmt *st;
} cached_stmt;

typedef struct {
    sqlite3 *db;
    char path[1100];
    cached_stmt cache[STMT_CACHE];
    size_t ncache;
} lite;

static int lite_fail(lite *L, const char *what, tr_err *e)
{
    int code = sqlite3_extended_errcode(L->db);
    return tr_fail(e, code == SQLITE_NOMEM ? TR_E_NOMEM : TR_E_IO, "database %s: %s: %s (SQLite error %d)", L->path,
                   what, sqlite3_errmsg(L->db), code);
}

static int lite_pragmas(lite *L, tr_err *e)
{
    static const char *const pragmas[] = {
        "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"};
    sqlite3_busy_timeout(L->db, BUSY_TIMEOUT_MS);
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        char *msg = NULL;
        if (sqlite3_exec(L->db, pragmas[i], NULL, NULL, &msg) != SQLITE_OK) {
            tr_fail(e, TR_E_IO, "database %s: %s: %s", L->path, pragmas[i], msg ? msg : "failed");
            sqlite3_free(msg);
            return -1;
        }
    }
    return 0;
}

/* The directory a new database file goes in (reports/ before the first
 * run wrote there); its parents must exist. */
static int lite_make_dir(const char *where, tr_err *e)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", where);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tr_fail(e, errno == EACCES ? TR_E_PERM : TR_E_IO, "database %s: cannot create %s: %s", where, dir,
                       strerror(errno));
    return 0;
}

static int lite_open(const char *where, const char *label, bool create, void **conn, tr_err *e)
{
    struct stat st;
    if (!create && stat(where, &st) != 0)
        return tr_fail(e, TR_E_IO, "database %s: %s (give the database with --db, $TOKENRIG_DB or db = in the rig file)",
                       where, strerror(errno));
    if (create && lite_make_dir(where, e) < 0)
        return -1;
    lite *L = calloc(1, sizeof *L);
    if (!L)
        return tr_fail(e, TR_E_NOMEM, "no memory for the database connection");
    snprintf(L->path, sizeof L->path, "%s", label);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(where, &L->db, flags, NULL) != SQLITE_OK) {
        if (!L->db) {
            free(L);
            return tr_fail(e, TR_E_NOMEM, "database %s: no memory to open it", where);
        }
        lite_fail(L, "cannot open", e);
        sqlite3_close(L->db);
        free(L);
        return -1;
    }
    sqlite3_extended_result_codes(L->db, 1);
    if (lite_pragmas(L, e) < 0) {
        sqlite3_close(L->db);
        free(L);
        return -1;
    }
    *conn = L;
    return 0;
}

static void lite_close(void *conn)
{
    lite *L = conn;
    if (!L)
        return;
    for (size_t i = 0; i < L->ncache; i++) {
        sqlite3_finalize(L->cache[i].st);
        free(L->cache[i].sql);
    }
    sqlite3_close(L->db);
    free(L);
}

/* A prepared statement for sql, from the cache when it was used before.
 * *cached: false when the caller must finalize it (cache full). */
static sqlite3_stmt *lite_prepare(lite *L, const char *sql, bool *cached, tr_err *e)
{
    for (size_t i = 0; i < L->ncache; i++)
        if (!strcmp(L->cache[i].sql, sql)) {
            *cached = true;
            return L->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK) {
        lite_fail(L, "preparing a statement", e);
        return NULL;
    }
    char *copy = L->ncache < STMT_CACHE ? strdup(sql) : NULL;
    *cached = copy != NULL;
    if (copy)
        L->cache[L->ncache++] = (cached_stmt){copy, st};
    return st;
}

static int lite_bind(lite *L, sqlite3_stmt *st, const tr_dbv *args, size_t n, tr_err *e)
{
    for (size_t k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof name, "$%zu", k + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            return tr_fail(e, TR_E_INTERNAL, "database %s: statement has no parameter %s", L->path, name);
        int rc = SQLITE_OK;
        switch (args[k].t) {
        case TR_DBV_NULL: rc = sqlite3_bind_null(st, idx); break;
        case TR_DBV_TEXT: rc = sqlite3_bind_text(st, idx, args[k].s, -1, SQLITE_TRANSIENT); break;
        case TR_DBV_INT: rc = sqlite3_bind_int64(st, idx, args[k].i); break;
        case TR_DBV_REAL: rc = sqlite3_bind_double(st, idx, args[k].d); break;
        }
        if (rc != SQLITE_OK)
            return lite_fail(L, "binding a parameter", e);
    }
    return 0;
}

/* Run st to its end, each row to fn (when given). */
static int lite_step(lite *L, sqlite3_stmt *st, tr_db_row_fn fn, void *ud, tr_err *e)
{
    int ncols = sqlite3_column_count(st);
    const char *vals[64];
    if (ncols > 64)
        return tr_fail(e, TR_E_INTERNAL, "database %s: a query of %d columns (at most 64)", L->path, ncols);
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return 0;
        if (rc != SQLITE_ROW)
            return lite_fail(L, "running a statement", e);
        if (!fn)
            continue;
        for (int c = 0; c < ncols; c++)
            vals[c] = (const char *)sqlite3_column_text(st, c);
        if (fn(ud, (size_t)ncols, vals))
            return 0;
    }
}

static int lite_query(void *conn, const char *sql, const tr_dbv *args, size_t n, tr_db_row_fn fn, void *ud,
                      tr_err *e)
{
    lite *L = conn;
    bool cached;
    sqlite3_stmt *st = lite_prepare(L, sql, &cached, e);
    if (!st)
        return -1;
    int rc = lite_bind(L, st, args, n, e);
    if (rc == 0)
        rc = lite_step(L, st, fn, ud, e);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!cached)
        sqlite3_finalize(st);
    return rc;
}

const tr_db_ops tr_db_sqlite_ops = {
    .name = "sqlite",
    .begin = "BEGIN IMMEDIATE",
    .schema_lock = NULL,
    .open = lite_open,
    .close = lite_close,
    .query = lite_query,
};
