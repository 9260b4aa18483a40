/* The report command: tokenrig report [--run ID | --dir DIR | latest]
 * [-o FILE] — report.html of one run (htmlreport.h). Picks the directory,
 * hands it over, prints where the page went. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchreport.h"
#include "cli.h"
#include "csvread.h"
#include "db.h"
#include "util.h"
#include "yieldhist.h"
#include "htmlreport.h"

static void usage_report(FILE *f)
{
    fprintf(f,
        "usage: tokenrig report [--run ID | --dir DIR | --batch ID | latest] [-o FILE] [--db D | --no-db]\n"
        "\n"
        "Write report.html, one self-contained page about one run (no network, no\n"
        "other file needed): the batch verdict and yield; the tokens, failing first,\n"
        "sortable; each failed test with its message, the next step for its class\n"
        "and the trace around it (PINs masked); signing-latency and recognition-cycle\n"
        "plots with the limits that apply; the yield of the newest %d runs of each\n"
        "profile (the run directories beside this one); what the run recorded about\n"
        "itself (provenance.csv, junit.xml properties).\n"
        "  --run ID          the run reports/ID (the id `tokenrig run` printed)\n"
        "  --dir DIR         the report directory DIR (a `tokenrig run --out`)\n"
        "  latest            reports/latest (the default)\n"
        "  --batch ID        the page of a batch from the results database: every run of\n"
        "                    it, on every host (per token the latest run counts; written to\n"
        "                    reports/batch-ID.html unless -o)\n"
        "  -o, --out FILE    write the page to FILE (default: DIR/report.html)\n"
        "  --db D            the results database the yield history comes from (a path or\n"
        "                    postgresql://...; default $TOKENRIG_DB, else reports/tokenrig.db\n"
        "                    when it exists); --no-db: the run directories beside DIR\n"
        "Prints the page's path. `tokenrig run` writes it at the end of every run.\n"
        "Exit status: 0 written, 2 usage error, not a report directory, or the page\n"
        "could not be written.\n",
        TR_HTML_HISTORY_RUNS);
}

typedef struct {
    const char *run, *dir, *out;
    tr_cli_db_opts db; /* --db, --no-db, --batch */
} report_opts;

/* -1 --help, 0 parsed, 2 bad. */
static int parse_report_opts(int argc, char **argv, report_opts *o)
{
    static const struct option opts[] = {{"run", required_argument, 0, 'R'}, {"dir", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
                                         {"db", required_argument, 0, TR_OPT_DB}, {"no-db", no_argument, 0, TR_OPT_NO_DB},
                                         {"batch", required_argument, 0, TR_OPT_BATCH},
                                         {0, 0, 0, 0}};
    static const char shortopts[] = "R:d:o:h";
    if (tr_cli_spelled_out("tokenrig report", argc, argv, shortopts, opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'R': o->run = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': return -1;
        default:
            if (!tr_cli_db_option(c, optarg, &o->db))
                return 2;
        }
    }
    bool latest = optind < argc && !strcmp(argv[optind], "latest");
    int given = !!o->run + !!o->dir + latest + !!o->db.batch_arg;
    if (optind + latest != argc || given > 1 || (o->db.batch_arg && o->db.no_db)) {
        fprintf(stderr, "tokenrig report: give one of --run ID, --dir DIR, --batch ID (with a database) or latest\n");
        return 2;
    }
    if (o->run && (!*o->run || strchr(o->run, '/') || !strcmp(o->run, ".") || !strcmp(o->run, ".."))) {
        fprintf(stderr, "tokenrig report: --run takes a run id (a directory name under reports/), not '%s'\n", o->run);
        return 2;
    }
    return 0;
}

static int first_run_id(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    char *id = ud;
    const char *v = tr_csv_get(row, "run_id");
    if (v && !id[0])
        tr_strlcpy(id, v, TR_DB_ID_MAX);
    return 0;
}

/* The yield history from the results database: the one --db or
 * $TOKENRIG_DB names (it must open), else the default one when it exists;
 * none (dirs) with --no-db or without a database. */
static int history_from_db(const tr_cli_db_opts *o, const char *dir, tr_db **db, tr_yield_source *src, tr_err *e)
{
    const char *where;
    *db = NULL;
    if (tr_cli_db_where(o, NULL, &where, e) < 0)
        return -1;
    bool named = o->db_arg || getenv("TOKENRIG_DB");
    if (!where || (!named && access(where, F_OK) != 0))
        return 0;
    char run_id[TR_DB_ID_MAX] = "", path[TR_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    tr_err ignored;
    tr_csv_read(path, first_run_id, run_id, &ignored); /* no summary: the run never ended, no run id to place */
    if (tr_db_open(where, false, db, e) < 0)
        return -1;
    if (tr_yield_source_db(*db, where, run_id, src, e) < 0) {
        tr_db_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* tokenrig report --batch ID: the batch's page from the database (it must
 * open). The runs' own pages are linked when they are under reports/. */
static int batch_page(const report_opts *o)
{
    tr_err e;
    tr_err_clear(&e);
    const char *where;
    char out[TR_PATH_MAX];
    bool plain = strspn(o->db.batch_arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                 strlen(o->db.batch_arg);
    if (!o->out && (!plain || snprintf(out, sizeof out, "reports/batch-%s.html", o->db.batch_arg) >= (int)sizeof out)) {
        fprintf(stderr, "tokenrig report: batch id '%s' cannot name a file: give -o FILE\n", o->db.batch_arg);
        return 2;
    }
    tr_db *db = NULL;
    if (tr_cli_db_where(&o->db, NULL, &where, &e) < 0 || tr_db_open(where, false, &db, &e) < 0 ||
        tr_batch_report_write(db, o->db.batch_arg, "reports", o->out ? o->out : out, &e) < 0) {
        tr_db_close(db);
        return tr_cli_report_error(&e);
    }
    tr_db_close(db);
    printf("report: %s\n", o->out ? o->out : out);
    return 0;
}

int tr_cmd_report(int argc, char **argv)
{
    report_opts o = {0};
    int prc = parse_report_opts(argc, argv, &o);
    if (prc < 0) {
        usage_report(stdout);
        return 0;
    }
    if (prc > 0) {
        usage_report(stderr);
        return 2;
    }
    if (o.db.batch_arg)
        return batch_page(&o);
    char dir[TR_PATH_MAX];
    int w = o.dir ? snprintf(dir, sizeof dir, "%s", o.dir)
                  : snprintf(dir, sizeof dir, "reports/%s", o.run ? o.run : "latest");
    if (w < 0 || (size_t)w >= sizeof dir) {
        fprintf(stderr, "tokenrig report: the report directory's name is too long\n");
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    tr_html_report_opts ro = {.written_by = "tokenrig report"};
    tr_db *db = NULL;
    tr_yield_source src;
    if (history_from_db(&o.db, dir, &db, &src, &e) < 0)
        return tr_cli_report_error(&e);
    ro.history = db ? &src : NULL;
    int rc = tr_html_report_write(dir, o.out, &ro, &e);
    if (db) {
        src.close(&src);
        tr_db_close(db);
    }
    if (rc < 0)
        return tr_cli_report_error(&e);
    if (o.out)
        printf("report: %s\n", o.out);
    else
        printf("report: %s/report.html\n", dir);
    return 0;
}
