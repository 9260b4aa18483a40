/* The report command: tokenrig report [--run ID | --dir DIR | latest]
 * [-o FILE] — report.html of one run (htmlreport.h). Picks the directory,
 * hands it over, prints where the page went. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "htmlreport.h"

static void usage_report(FILE *f)
{
    fprintf(f,
        "usage: tokenrig report [--run ID | --dir DIR | latest] [-o FILE]\n"
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
        "  -o, --out FILE    write the page to FILE (default: DIR/report.html)\n"
        "Prints the page's path. `tokenrig run` writes it at the end of every run.\n"
        "Exit status: 0 written, 2 usage error, not a report directory, or the page\n"
        "could not be written.\n",
        TR_HTML_HISTORY_RUNS);
}

typedef struct {
    const char *run, *dir, *out;
} report_opts;

/* -1 --help, 0 parsed, 2 bad. */
static int parse_report_opts(int argc, char **argv, report_opts *o)
{
    static const struct option opts[] = {{"run", required_argument, 0, 'R'}, {"dir", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
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
        default: return 2;
        }
    }
    bool latest = optind < argc && !strcmp(argv[optind], "latest");
    if (optind + latest != argc || (o->run && o->dir) || ((o->run || o->dir) && latest)) {
        fprintf(stderr, "tokenrig report: give one of --run ID, --dir DIR or latest\n");
        return 2;
    }
    if (o->run && (!*o->run || strchr(o->run, '/') || !strcmp(o->run, ".") || !strcmp(o->run, ".."))) {
        fprintf(stderr, "tokenrig report: --run takes a run id (a directory name under reports/), not '%s'\n", o->run);
        return 2;
    }
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
    if (tr_html_report_write(dir, o.out, &ro, &e) < 0)
        return tr_cli_report_error(&e);
    if (o.out)
        printf("report: %s\n", o.out);
    else
        printf("report: %s/report.html\n", dir);
    return 0;
}
