/* cli_db.c — the commands over the results database: history (every run of
 * a token), import (report directories made without the database) and
 * verdict (a batch's verdict over every rig and host that certified it).
 *
 * Owns: their options, --help, output (an aligned table for people, --csv
 * for machines: quoted only where needed, formula-guarded like the report
 * files) and exit status.
 * Must not: hold SQL (db.c does) or read report files (dbimport.c does).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "dbimport.h"
#include "util.h"
#include "xmlesc.h"

/* ---- what the three commands share -------------------------------------------------------- */

typedef struct {
    tr_cli_db_opts db;
    const char *rig_arg;
    bool csv;
} query_opts;

/* Parse the shared options (and --batch for import/verdict); operands are
 * left at argv[optind..]. -1 go on, else the exit status (0 after --help). */
static int parse_query(const char *cmd, int argc, char **argv, bool batch, void (*usage)(FILE *), query_opts *o)
{
    static const struct option opts[] = {{"db", required_argument, 0, TR_OPT_DB},
                                         {"rig", required_argument, 0, 'r'},
                                         {"csv", no_argument, 0, TR_OPT_CSV},
                                         {"batch", required_argument, 0, TR_OPT_BATCH},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (tr_cli_spelled_out(cmd, argc, argv, "r:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == 'r')
            o->rig_arg = optarg;
        else if (c == TR_OPT_CSV)
            o->csv = true;
        else if (c == TR_OPT_NO_DB || (c == TR_OPT_BATCH && !batch) || !tr_cli_db_option(c, optarg, &o->db)) {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* The database of a query: --db, $TOKENRIG_DB, --rig's db =, the default.
 * create: import may make a new SQLite file, the queries may not. */
static int open_db(const query_opts *o, bool create, tr_db **db, tr_err *e)
{
    tr_rig_cfg rig;
    const char *where;
    bool have_rig = false;
    char path[TR_PATH_MAX];
    if (o->rig_arg) {
        if (tr_find_rig(o->rig_arg, path, sizeof path, e) < 0 || tr_rig_load(path, &rig, e) < 0)
            return -1;
        have_rig = true;
    }
    int rc = tr_cli_db_where(&o->db, have_rig ? rig.db : NULL, &where, e);
    if (rc == 0)
        rc = tr_db_open(where, create, db, e);
    if (have_rig)
        tr_rig_free(&rig);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------------- */

/* A table of text cells, printed aligned or as CSV. */
typedef struct {
    const char *const *head;
    size_t ncols;
    char **cell; /* nrows * ncols, allocated */
    size_t nrows;
    bool oom;
} out_table;

/* v without terminal control sequences or line breaks (allocated). */
static char *safe(const char *v)
{
    v = v ? v : "";
    size_t cap = tr_text_sanitize_bound(strlen(v));
    char *s = malloc(cap);
    if (s)
        tr_text_sanitize(v, strlen(v), "", s, cap);
    return s;
}

static void row_add(out_table *t, const char *const *vals)
{
    char **p = realloc(t->cell, (t->nrows + 1) * t->ncols * sizeof *p);
    if (!p) {
        t->oom = true;
        return;
    }
    t->cell = p;
    for (size_t c = 0; c < t->ncols; c++) {
        char *s = safe(vals[c]);
        t->oom |= !s;
        p[t->nrows * t->ncols + c] = s ? s : strdup("");
    }
    t->nrows++;
}

static void table_free(out_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->cell);
}

static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_aligned(FILE *f, const out_table *t)
{
    size_t w[32] = {0};
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++)
            if (width(t->cell[r * t->ncols + c]) > w[c])
                w[c] = width(t->cell[r * t->ncols + c]);
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        const char *const *row = r == 0 ? t->head : (const char *const *)t->cell + (r - 1) * t->ncols;
        size_t owed = 0;
        for (size_t c = 0; c < t->ncols; c++) {
            if (*row[c]) {
                fprintf(f, "%*s%s", (int)owed, "", row[c]);
                owed = 0;
            }
            owed += w[c] - width(row[c]) + 2;
        }
        fputc('\n', f);
    }
}

/* A CSV cell as the report files write them: quoted only when needed, a
 * leading = + - @ guarded with an apostrophe. */
static void csv_cell(FILE *f, const char *v, bool first)
{
    if (!first)
        fputc(',', f);
    bool guard = *v && strchr("=+-@", *v) && !(v[0] == '-' && v[1] >= '0' && v[1] <= '9');
    bool quote = strpbrk(v, ",\"\r\n") || (*v && (v[0] == ' ' || v[strlen(v) - 1] == ' '));
    if (!quote) {
        fprintf(f, "%s%s", guard ? "'" : "", v);
        return;
    }
    fputc('"', f);
    if (guard)
        fputc('\'', f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f); /* a quote is doubled */
        fputc(*v, f);
    }
    fputc('"', f);
}

static void print_csv(FILE *f, const out_table *t)
{
    for (size_t r = 0; r <= t->nrows; r++) {
        const char *const *row = r == 0 ? t->head : (const char *const *)t->cell + (r - 1) * t->ncols;
        for (size_t c = 0; c < t->ncols; c++)
            csv_cell(f, row[c], c == 0);
        fputc('\n', f);
    }
}

/* 0, or 2 when stdout could not be written (a full disk behind a pipe). */
static int flush_out(const char *cmd)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "%s: cannot write the output\n", cmd);
    return 2;
}

static void fmt_ms(char *out, size_t cap, size_t n, double v)
{
    if (n == 0 || !isfinite(v))
        snprintf(out, cap, "%s", "");
    else
        snprintf(out, cap, "%.1f", v);
}

/* ---- history ------------------------------------------------------------------------------------------ */

static void usage_history(FILE *f)
{
    fprintf(f,
        "usage: tokenrig history SERIAL [--db URL|FILE] [--rig FILE] [--csv]\n"
        "\n"
        "Every run of the token with this serial in the results database, newest\n"
        "first: date, host, rig, slot, run id, batch, profile, firmware, verdict,\n"
        "how the run ended (its exit status; open: no end recorded, the run was\n"
        "killed or still runs; -: imported), the failed tests with their classes,\n"
        "and the recognition cycles (count, failed, power-on -> first APDU p50/p95\n"
        "in ms). --csv prints the same as CSV, one row per run.\n"
        "  --db URL|FILE   postgresql://... or a SQLite file (default: $TOKENRIG_DB,\n"
        "                  the --rig file's db =, else reports/tokenrig.db)\n"
        "Exit status: 0 printed, 1 the serial has no run in the database, 2 usage\n"
        "or database error.\n");
}

static const char *const HISTORY_HEAD[] = {"DATE", "HOST", "RIG", "SLOT", "RUN", "BATCH", "PROFILE", "FIRMWARE",
                                           "VERDICT", "END", "CYCLES", "FAILED", "P50_MS", "P95_MS"};
static const char *const HISTORY_CSV[] = {"started", "ended", "host", "rig", "slot", "run_id", "batch", "kind",
                                          "profile", "firmware", "verdict", "classifications", "failed_tests",
                                          "exit_status", "cycles", "cycles_failed", "ready_p50_ms", "ready_p95_ms"};

static void history_end(const tr_db_history_row *h, char *out, size_t cap)
{
    if (h->exit_status >= 0)
        snprintf(out, cap, "%d", h->exit_status);
    else
        snprintf(out, cap, "%s", *h->ended ? "-" : "open");
}

static void history_rows(const tr_db_history_row *h, size_t n, bool csv, out_table *t)
{
    for (size_t i = 0; i < n; i++) {
        const tr_db_history_row *r = &h[i];
        char cyc[24], failed[24], p50[32], p95[32], end[16], date[24];
        snprintf(cyc, sizeof cyc, "%zu", r->cycles);
        snprintf(failed, sizeof failed, "%zu", r->cycles_failed);
        fmt_ms(p50, sizeof p50, r->ready.n, r->ready.p50);
        fmt_ms(p95, sizeof p95, r->ready.n, r->ready.p95);
        history_end(r, end, sizeof end);
        /* "2026-01-02T03:04:05.678Z" -> "2026-01-02 03:04:05" */
        snprintf(date, sizeof date, "%.10s %.8s", r->started, strlen(r->started) > 11 ? r->started + 11 : "");
        if (csv) {
            const char *v[] = {r->started, r->ended, r->host, r->rig, r->slot, r->run_id, r->batch, r->kind,
                               r->profile, r->firmware, r->verdict, r->classifications, r->failed,
                               r->exit_status >= 0 ? end : "", cyc, failed, p50, p95};
            row_add(t, v);
        } else {
            const char *v[] = {date, r->host, r->rig, r->slot, r->run_id, r->batch, r->profile, r->firmware,
                               r->verdict, end, r->cycles ? cyc : "", r->cycles ? failed : "", p50, p95};
            row_add(t, v);
        }
    }
}

/* The table, then under it what went wrong in each run: its failed tests
 * with their classes, else (a recognition loop, tests not run) its
 * classifications. */
static void history_print(const char *serial, const tr_db_history_row *h, size_t n, const out_table *t)
{
    printf("token %s: %zu run%s\n", serial, n, n == 1 ? "" : "s");
    print_aligned(stdout, t);
    for (size_t i = 0; i < n; i++) {
        bool failed = *h[i].failed;
        char *what = failed ? safe(h[i].failed) : *h[i].classifications ? safe(h[i].classifications) : NULL;
        if (what)
            printf("  %s %s %s: %s\n", h[i].run_id, h[i].slot, failed ? "failed" : "classifications", what);
        free(what);
    }
}

int tr_cmd_history(int argc, char **argv)
{
    query_opts o = {0};
    int st = parse_query("tokenrig history", argc, argv, false, usage_history, &o);
    if (st >= 0)
        return st;
    if (optind != argc - 1) {
        usage_history(stderr);
        return 2;
    }
    const char *serial = argv[optind];
    tr_err e;
    tr_err_clear(&e);
    tr_db *db = NULL;
    tr_db_history_row *h = NULL;
    size_t n = 0;
    if (tr_db_check_name("SERIAL", serial, &e) < 0 || open_db(&o, false, &db, &e) < 0 ||
        tr_db_history(db, serial, &h, &n, &e) < 0) {
        tr_db_close(db);
        return tr_cli_report_error(&e);
    }
    out_table t = {.head = o.csv ? HISTORY_CSV : HISTORY_HEAD, .ncols = o.csv ? 18 : 14};
    history_rows(h, n, o.csv, &t);
    if (t.oom) {
        tr_fail(&e, TR_E_NOMEM, "no memory for the history");
        st = tr_cli_report_error(&e);
    } else if (n == 0) {
        fprintf(stderr, "tokenrig history: no run of serial %s in %s\n", serial, tr_db_label(db));
    } else if (o.csv) {
        print_csv(stdout, &t);
    } else {
        history_print(serial, h, n, &t);
    }
    if (st < 0)
        st = n == 0 ? 1 : flush_out("tokenrig history");
    table_free(&t);
    tr_db_history_free(h, n);
    tr_db_close(db);
    return st;
}

/* ---- import ------------------------------------------------------------------------------------------------ */

static void usage_import(FILE *f)
{
    fprintf(f,
        "usage: tokenrig import DIR... [--db URL|FILE] [--rig FILE] [--batch ID]\n"
        "\n"
        "Load report directories made without the database (an offline bench, older\n"
        "runs) into it: results.csv, summary.csv, cycles.csv, and provenance.csv when\n"
        "there. Each directory goes in whole or not at all (one transaction). A run\n"
        "id already in the database is not loaded again: importing twice adds\n"
        "nothing and says so. The run's host, tool version and command line come\n"
        "from provenance.csv when it has them; its exit status stays unknown.\n"
        "  --batch ID      the batch to file the runs under (default: provenance.csv's\n"
        "                  batch, else each run's id)\n"
        "  --db URL|FILE   as for history; a SQLite file is made when missing\n"
        "Exit status: 0 every directory loaded or already there, 2 usage or database\n"
        "error, or a directory that could not be read (the others are still loaded).\n");
}

static int import_one(tr_db *db, const char *dir, const char *batch)
{
    tr_err e;
    tr_err_clear(&e);
    tr_import_result r;
    int rc = tr_db_import(db, dir, batch, &r, &e);
    if (rc < 0)
        return tr_cli_report_error(&e);
    if (rc == 0)
        printf("%s: run %s is already in %s: nothing added\n", dir, r.run_id, tr_db_label(db));
    else
        printf("%s: run %s imported into %s (batch %s): %zu results, %zu cycles, %zu tokens, %zu provenance rows\n",
               dir, r.run_id, tr_db_label(db), r.batch, r.results, r.cycles, r.slots, r.provenance);
    return 0;
}

int tr_cmd_import(int argc, char **argv)
{
    query_opts o = {0};
    int st = parse_query("tokenrig import", argc, argv, true, usage_import, &o);
    if (st >= 0)
        return st;
    if (optind >= argc || o.csv) {
        usage_import(stderr);
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    tr_db *db;
    if (open_db(&o, true, &db, &e) < 0)
        return tr_cli_report_error(&e);
    st = 0;
    for (int i = optind; i < argc; i++)
        if (import_one(db, argv[i], o.db.batch_arg) != 0)
            st = 2;
    tr_db_close(db);
    return flush_out("tokenrig import") ? 2 : st;
}

/* ---- verdict ----------------------------------------------------------------------------------------------- */

static void usage_verdict(FILE *f)
{
    fprintf(f,
        "usage: tokenrig verdict --batch ID [--db URL|FILE] [--rig FILE] [--csv]\n"
        "\n"
        "The batch's verdict over every run filed under it, on any rig and host\n"
        "(several tokenrig processes write one batch into one PostgreSQL at once).\n"
        "Per token (serial) its latest run counts; RUNS says how many runs saw it\n"
        "(`tokenrig history SERIAL` lists them). A manifest row of a run whose rig\n"
        "did not have the token (manifest.no-token) counts only when no run saw it.\n"
        "Prints one row per token and the batch yield.\n"
        "Exit status: 0 every token passed, 1 a token failed, 2 usage or database\n"
        "error, no such batch, or a token not certified (ERROR, INCOMPLETE, SKIP, or\n"
        "its latest run has no end recorded).\n");
}

static const char *const VERDICT_HEAD[] = {"SERIAL", "SLOT", "HOST", "RIG", "RUN", "VERDICT", "RUNS", "CLASSIFICATIONS"};
static const char *const VERDICT_CSV[] = {"serial", "slot", "host", "rig", "run_id", "verdict", "runs",
                                          "classifications", "run_ended"};

static void verdict_rows(const tr_db_batch_token *t, size_t n, bool csv, out_table *tab)
{
    for (size_t i = 0; i < n; i++) {
        char runs[16], verdict[48];
        snprintf(runs, sizeof runs, "%u", t[i].runs);
        snprintf(verdict, sizeof verdict, "%s%s", t[i].verdict, t[i].unfinished && !csv ? " (run not ended)" : "");
        const char *v[] = {*t[i].serial ? t[i].serial : "-", t[i].slot, t[i].host, t[i].rig, t[i].run_id, verdict,
                           runs, t[i].classifications, t[i].unfinished ? "no" : "yes"};
        row_add(tab, v);
    }
}

static int verdict_print(const char *batch, const tr_db_batch_token *t, size_t n, size_t runs, const query_opts *o)
{
    out_table tab = {.head = o->csv ? VERDICT_CSV : VERDICT_HEAD, .ncols = o->csv ? 9 : 8};
    verdict_rows(t, n, o->csv, &tab);
    size_t passed;
    int st = tr_db_batch_status(t, n, &passed);
    if (tab.oom) {
        fprintf(stderr, "tokenrig verdict: no memory for the table\n");
        st = 2;
    } else if (o->csv) {
        print_csv(stdout, &tab);
    } else {
        print_aligned(stdout, &tab);
        char *b = safe(batch);
        printf("batch %s: %zu run%s; yield: %zu/%zu tokens passed (%.1f%%)\n", b ? b : "", runs, runs == 1 ? "" : "s",
               passed, n, n ? 100.0 * (double)passed / (double)n : 0.0);
        free(b);
    }
    table_free(&tab);
    return flush_out("tokenrig verdict") ? 2 : st;
}

int tr_cmd_verdict(int argc, char **argv)
{
    query_opts o = {0};
    int st = parse_query("tokenrig verdict", argc, argv, true, usage_verdict, &o);
    if (st >= 0)
        return st;
    if (optind != argc || !o.db.batch_arg) {
        usage_verdict(stderr);
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    tr_db *db = NULL;
    tr_db_batch_token *t = NULL;
    size_t n = 0, runs = 0;
    if (open_db(&o, false, &db, &e) < 0 || tr_db_batch(db, o.db.batch_arg, &t, &n, &runs, &e) < 0) {
        tr_db_close(db);
        return tr_cli_report_error(&e);
    }
    if (runs == 0) {
        fprintf(stderr, "tokenrig verdict: no run of batch %s in %s\n", o.db.batch_arg, tr_db_label(db));
        st = 2;
    } else {
        st = verdict_print(o.db.batch_arg, t, n, runs, &o);
    }
    tr_db_batch_free(t, n);
    tr_db_close(db);
    return st;
}
