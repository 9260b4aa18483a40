/* db_pg.c — the PostgreSQL back end of the results database (libpq).
 *
 * Owns: connecting with a postgresql:// URL (a connect timeout unless the
 * URL gives one; application_name tokenrig), sending each statement with
 * its parameters as text (the server converts them to the column types),
 * and reconnecting once when the connection was lost between two
 * statements (a server restart during a long run). A connection lost in a
 * transaction is not retried: the server rolled the transaction back, and
 * the caller hears of it as a failed write.
 * Must not: hold SQL of the schema or of a query (db.c does).
 */
#include <libpq-fe.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backend.h"

typedef struct {
    PGconn *c;
    char label[1100]; /* the URL without its password, for messages */
    locale_t c_locale;
} pg;

/* libpq's messages end in a newline and may span lines: one line. */
static const char *one_line(char *msg)
{
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(msg);
    while (n && msg[n - 1] == ' ')
        msg[--n] = '\0';
    return msg;
}

static int pg_fail(pg *P, const char *what, const char *msg, tr_err *e)
{
    char m[TR_ERR_MSG_MAX];
    snprintf(m, sizeof m, "%s", msg && *msg ? msg : "failed");
    return tr_fail(e, TR_E_IO, "database %s: %s: %s", P->label, what, one_line(m));
}

/* The server's notices ("relation ... already exists, skipping") are not
 * for the bench engineer; errors come back with their statement. */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_open(const char *where, const char *label, bool create, void **conn, tr_err *e)
{
    (void)create; /* a server's database is made by its administrator */
    pg *P = calloc(1, sizeof *P);
    if (!P)
        return tr_fail(e, TR_E_NOMEM, "no memory for the database connection");
    snprintf(P->label, sizeof P->label, "%s", label);
    /* later keywords win: the URL's own connect_timeout overrides ours */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "tokenrig", where, NULL};
    P->c = PQconnectdbParams(keys, vals, 1);
    if (!P->c || PQstatus(P->c) != CONNECTION_OK) {
        pg_fail(P, "cannot connect", P->c ? PQerrorMessage(P->c) : "no memory", e);
        PQfinish(P->c);
        free(P);
        return -1;
    }
    PQsetNoticeProcessor(P->c, pg_quiet, NULL);
    P->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    *conn = P;
    return 0;
}

static void pg_close(void *conn)
{
    pg *P = conn;
    if (!P)
        return;
    PQfinish(P->c);
    if (P->c_locale)
        freelocale(P->c_locale);
    free(P);
}

/* Parameters as text: numbers in the C locale, doubles round-trip exact. */
typedef struct {
    const char *v[32];
    char num[32][40];
} pg_params;

static int pg_params_fill(pg *P, const tr_dbv *args, size_t n, pg_params *pp, tr_err *e)
{
    if (n > 32)
        return tr_fail(e, TR_E_INTERNAL, "database %s: %zu parameters (at most 32)", P->label, n);
    locale_t old = P->c_locale ? uselocale(P->c_locale) : (locale_t)0;
    for (size_t k = 0; k < n; k++) {
        pp->v[k] = pp->num[k];
        switch (args[k].t) {
        case TR_DBV_NULL: pp->v[k] = NULL; break;
        case TR_DBV_TEXT: pp->v[k] = args[k].s; break;
        case TR_DBV_INT: snprintf(pp->num[k], sizeof pp->num[k], "%lld", args[k].i); break;
        case TR_DBV_REAL:
            if (isfinite(args[k].d))
                snprintf(pp->num[k], sizeof pp->num[k], "%.17g", args[k].d);
            else
                pp->v[k] = NULL;
            break;
        }
    }
    if (old)
        uselocale(old);
    return 0;
}

/* Once per statement: a connection that went bad outside a transaction
 * (server restarted between two tests) is made again. */
static void pg_revive(pg *P)
{
    if (PQstatus(P->c) == CONNECTION_BAD && PQtransactionStatus(P->c) != PQTRANS_INTRANS)
        PQreset(P->c);
}

static int pg_query(void *conn, const char *sql, const tr_dbv *args, size_t n, tr_db_row_fn fn, void *ud,
                    tr_err *e)
{
    pg *P = conn;
    pg_params pp;
    if (pg_params_fill(P, args, n, &pp, e) < 0)
        return -1;
    pg_revive(P);
    PGresult *r = PQexecParams(P->c, sql, (int)n, NULL, pp.v, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_fail(P, "running a statement", r ? PQresultErrorMessage(r) : PQerrorMessage(P->c), e);
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r), cols = PQnfields(r);
    const char *vals[64];
    if (cols > 64) {
        PQclear(r);
        return tr_fail(e, TR_E_INTERNAL, "database %s: a query of %d columns (at most 64)", P->label, cols);
    }
    for (int i = 0; fn && i < rows; i++) {
        for (int c = 0; c < cols; c++)
            vals[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
        if (fn(ud, (size_t)cols, vals))
            break;
    }
    PQclear(r);
    return 0;
}

const tr_db_ops tr_db_pg_ops = {
    .name = "postgresql",
    .begin = "BEGIN",
    /* one key for tokenrig's schema: "tkrg" */
    .schema_lock = "SELECT pg_advisory_xact_lock(1953198695)",
    .open = pg_open,
    .close = pg_close,
    .query = pg_query,
};
