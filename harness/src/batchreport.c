/* batchreport.c — see batchreport.h. */
#include "batchreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "html.h"
#include "remedy.h"
#include "util.h"

typedef struct {
    const char *batch, *reports_dir, *where;
    tr_db_batch_token *toks;
    size_t n, runs, passed;
    int status;                /* tr_db_batch_status */
    char **failed;             /* per token: "suite / test: class; ..." of its latest run, or NULL */
    size_t *order;             /* failing first, then by serial */
} batch_page;

static const char CSS[] =
    "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#eee}"
    ".PASS{color:#176f2c}.FAIL{color:#b00020;font-weight:bold}.other{color:#8a5a00}"
    ".hint{color:#555;font-style:italic}#verdict{font-size:1.4em}</style>\n";

static const char *verdict_class(const char *v)
{
    return !strcmp(v, "PASS") ? "PASS" : !strcmp(v, "FAIL") ? "FAIL" : "other";
}

/* Failing tokens first (FAIL, then anything not a PASS), then by serial:
 * tr_db_batch gives them by serial already, so a stable pass per rank. */
static void sort_tokens(batch_page *p)
{
    size_t k = 0;
    for (int rank = 0; rank < 3; rank++)
        for (size_t i = 0; i < p->n; i++) {
            const char *v = p->toks[i].verdict;
            int r = !strcmp(v, "FAIL") ? 0 : strcmp(v, "PASS") || p->toks[i].unfinished ? 1 : 2;
            if (r == rank)
                p->order[k++] = i;
        }
}

/* The failed tests of a token's latest run (its history row of that run). */
static int failed_of(tr_db *db, const tr_db_batch_token *t, char **out, tr_err *e)
{
    *out = NULL;
    if (!*t->serial || !strcmp(t->verdict, "PASS"))
        return 0;
    tr_db_history_row *h = NULL;
    size_t n = 0;
    if (tr_db_history(db, t->serial, &h, &n, e) < 0)
        return -1;
    for (size_t i = 0; i < n && !*out; i++)
        if (!strcmp(h[i].run_id, t->run_id) && *h[i].failed && !(*out = strdup(h[i].failed))) {
            tr_db_history_free(h, n);
            return tr_fail(e, TR_E_NOMEM, "out of memory");
        }
    tr_db_history_free(h, n);
    return 0;
}

/* The run's own page, when its directory is beside this one. */
static void run_link(tr_html *h, const batch_page *p, const char *run_id)
{
    char path[4096];
    struct stat st;
    bool here = p->reports_dir && !strchr(run_id, '/') &&
                snprintf(path, sizeof path, "%s/%s/report.html", p->reports_dir, run_id) < (int)sizeof path &&
                stat(path, &st) == 0;
    if (here) {
        char href[1024];
        snprintf(href, sizeof href, "%s/report.html", run_id);
        tr_html_raw(h, "<a");
        tr_html_attr(h, "href", href);
        tr_html_raw(h, ">");
        tr_html_text(h, run_id);
        tr_html_raw(h, "</a>");
    } else {
        tr_html_text(h, run_id);
    }
}

static void head_section(tr_html *h, const batch_page *p)
{
    static const char *const verdicts[] = {"PASS", "FAIL", "INCOMPLETE"};
    const char *v = verdicts[p->status < 0 || p->status > 2 ? 2 : p->status];
    tr_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tokenrig batch ");
    tr_html_text(h, p->batch);
    tr_html_raw(h, "</title>\n");
    tr_html_raw(h, CSS);
    tr_html_raw(h, "</head>\n<body>\n<h1>Batch ");
    tr_html_text(h, p->batch);
    tr_html_fmt(h, "</h1>\n<p id=\"verdict\" class=\"%s\" data-verdict=\"%s\">Batch verdict: %s</p>\n",
                verdict_class(v), v, v);
    tr_html_fmt(h, "<p id=\"yield\">Yield: <b>%zu/%zu</b> tokens passed (%.1f%%) over %zu run%s; per token its "
                   "latest run counts.</p>\n",
                p->passed, p->n, p->n ? 100.0 * (double)p->passed / (double)p->n : 0.0, p->runs,
                p->runs == 1 ? "" : "s");
}

static void token_row(tr_html *h, const batch_page *p, size_t i)
{
    const tr_db_batch_token *t = &p->toks[i];
    tr_html_fmt(h, "<tr data-verdict=\"%s\"><td>", verdict_class(t->verdict));
    tr_html_text(h, *t->serial ? t->serial : "-");
    const char *const cells[] = {t->host, t->rig, t->slot};
    for (size_t k = 0; k < sizeof cells / sizeof cells[0]; k++) {
        tr_html_raw(h, "</td><td>");
        tr_html_text(h, cells[k]);
    }
    tr_html_raw(h, "</td><td>");
    run_link(h, p, t->run_id);
    tr_html_fmt(h, "</td><td class=\"%s\">", verdict_class(t->verdict));
    if (p->failed[i])
        tr_html_fmt(h, "<a href=\"#token-%zu\">", i);
    tr_html_text(h, t->verdict);
    tr_html_raw(h, p->failed[i] ? "</a>" : "");
    tr_html_raw(h, t->unfinished ? " (run not ended)" : "");
    tr_html_fmt(h, "</td><td>%u</td><td>", t->runs);
    tr_html_text(h, t->classifications);
    tr_html_raw(h, "</td></tr>\n");
}

/* One failed test ("suite / test: class") with the bench's next step. */
static void failure_item(tr_html *h, const char *item)
{
    const char *colon = strrchr(item, ':');
    char cls[128] = "";
    if (colon)
        tr_strlcpy(cls, colon[1] == ' ' ? colon + 2 : colon + 1, sizeof cls);
    tr_html_raw(h, "<li>");
    tr_html_text(h, item);
    tr_html_raw(h, " <span class=\"hint\">— ");
    tr_html_text(h, tr_remedy_hint(cls, NULL));
    tr_html_raw(h, "</span></li>\n");
}

static void details(tr_html *h, const batch_page *p, size_t i)
{
    tr_html_fmt(h, "<section id=\"token-%zu\"><h3>", i);
    tr_html_text(h, p->toks[i].serial);
    tr_html_raw(h, " — run ");
    run_link(h, p, p->toks[i].run_id);
    tr_html_raw(h, "</h3>\n<ul>\n");
    char *copy = strdup(p->failed[i]);
    for (char *save = NULL, *item = copy ? strtok_r(copy, ";", &save) : NULL; item; item = strtok_r(NULL, ";", &save))
        failure_item(h, item + strspn(item, " "));
    free(copy);
    tr_html_raw(h, "</ul></section>\n");
}

static void fill(tr_html *h, const void *ctx)
{
    const batch_page *p = ctx;
    head_section(h, p);
    tr_html_raw(h, "<h2>Tokens</h2>\n<table id=\"tokens\"><thead><tr><th>serial</th><th>host</th><th>rig</th>"
                   "<th>slot</th><th>latest run</th><th>verdict</th><th>runs</th><th>classifications</th></tr>"
                   "</thead><tbody>\n");
    for (size_t k = 0; k < p->n; k++)
        token_row(h, p, p->order[k]);
    tr_html_raw(h, "</tbody></table>\n<h2>Failing tokens</h2>\n");
    for (size_t k = 0; k < p->n; k++)
        if (p->failed[p->order[k]])
            details(h, p, p->order[k]);
    tr_html_raw(h, "<footer>Written by tokenrig report --batch from the results database ");
    tr_html_text(h, p->where);
    tr_html_raw(h, ".</footer>\n</body></html>\n");
}

static void page_free(batch_page *p)
{
    for (size_t i = 0; p->failed && i < p->n; i++)
        free(p->failed[i]);
    free(p->failed);
    free(p->order);
    tr_db_batch_free(p->toks, p->n);
}

int tr_batch_report_write(tr_db *db, const char *batch, const char *reports_dir, const char *out, tr_err *e)
{
    batch_page p = {.batch = batch, .reports_dir = reports_dir, .where = tr_db_label(db)};
    if (tr_db_batch(db, batch, &p.toks, &p.n, &p.runs, e) < 0)
        return -1;
    int rc = 0;
    if (p.runs == 0)
        rc = tr_fail(e, TR_E_USAGE, "no run of batch %s in %s", batch, p.where);
    p.failed = rc ? NULL : calloc(p.n ? p.n : 1, sizeof *p.failed);
    p.order = rc ? NULL : calloc(p.n ? p.n : 1, sizeof *p.order);
    if (rc == 0 && (!p.failed || !p.order))
        rc = tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < p.n; i++)
        rc = failed_of(db, &p.toks[i], &p.failed[i], e);
    if (rc == 0) {
        p.status = tr_db_batch_status(p.toks, p.n, &p.passed);
        sort_tokens(&p);
        rc = tr_html_write_file(out, fill, &p, e);
    }
    page_free(&p);
    return rc;
}
