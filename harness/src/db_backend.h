/* db_backend.h — what a database back end gives db.c (private to db*.c).
 *
 * Owns: the table of operations each back end fills (OpenSC's
 * sc_card_operations pattern: db.c holds the SQL, once, and calls through
 * the table; db_sqlite.c and db_pg.c only connect, run a statement with
 * parameters and hand rows back as text), the parameter type, and the few
 * words where the two SQL dialects differ.
 * Must not: hold SQL of the schema or of a query (db.c does), or be used
 * outside db*.c.
 *
 * Parameters are written $1, $2, ... in the order of their first use, which
 * both libpq and SQLite (as named parameters "$1", bound by name) accept.
 */
#ifndef TR_DB_BACKEND_H
#define TR_DB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "error.h"

typedef enum { TR_DBV_NULL, TR_DBV_TEXT, TR_DBV_INT, TR_DBV_REAL } tr_dbv_type;

/* One parameter. Text is valid UTF-8 without NUL (db.c sanitises it). */
typedef struct {
    tr_dbv_type t;
    const char *s;
    long long i;
    double d;
} tr_dbv;

typedef struct {
    const char *name;        /* "sqlite" | "postgresql" */
    /* A write transaction. SQLite: BEGIN IMMEDIATE takes the write lock at
     * once, so a busy database waits in the busy timeout there and never
     * fails later at the first write of a read transaction. */
    const char *begin;
    /* Run first in the migration's transaction: PostgreSQL serialises
     * concurrent first opens by an advisory lock (SQLite's BEGIN IMMEDIATE
     * already does). NULL: nothing to run. */
    const char *schema_lock;
    /* Connect to where (a path, or a postgresql:// URL); label is where as
     * messages show it (no password). create: a missing SQLite file is made
     * (else it is an error: a query must not create an empty database where
     * the user mistyped a path). */
    int (*open)(const char *where, const char *label, bool create, void **conn, tr_err *e);
    void (*close)(void *conn);
    /* A statement; its rows go to fn one by one as text (NULL for SQL
     * NULL), fn returning non-zero stops early (not an error). fn NULL:
     * rows are ignored. */
    int (*query)(void *conn, const char *sql, const tr_dbv *args, size_t n, tr_db_row_fn fn, void *ud,
                 tr_err *e);
} tr_db_ops;

extern const tr_db_ops tr_db_sqlite_ops;
extern const tr_db_ops tr_db_pg_ops;

#endif
