/* htmlreport.c — see htmlreport.h. The page, section by section, from the
 * model reportdir.c reads; the plots are htmlplots.c's. Every text that
 * comes from a file goes through tr_html_text / tr_html_attr; ids and
 * links are made of numbers only ("token-3", "token-3-fail-1"). */
#include "htmlreport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "htmlreport_int.h"
#include "remedy.h"
#include "reportdir.h"
#include "svgplot.h"
#include "util.h"

#define MAX_PROFILES 32

typedef struct {
    char profile[64];
    tr_yield_point pts[TR_HTML_HISTORY_RUNS];
    size_t n;
    char error[256]; /* "" gathered */
} history;

typedef struct {
    const rd_run *run;
    history *hist;
    size_t nhist;
    const char *where;      /* where the history comes from */
    const char *written_by;
    char now[40];
} page;

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* ---- head: style ---------------------------------------------------------------------------- */

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1280px;padding:0 18px 40px;color:#1f2328}\n"
    "h1{font-size:22px;margin:18px 0 6px}h2{font-size:18px;border-bottom:1px solid #d0d7de;margin-top:34px;padding-bottom:4px}\n"
    "h3{font-size:16px;margin:4px 0}h4{font-size:14px;margin:14px 0 4px}nav a{margin-right:14px}\n"
    "table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}\n"
    "th{background:#f6f8fa}#token-table th{cursor:pointer;user-select:none;white-space:nowrap}\n"
    "#token-table th[aria-sort=ascending]::after{content:' \\25B2'}#token-table th[aria-sort=descending]::after{content:' \\25BC'}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".v-PASS,.v-pass{color:#1a7f37}.v-FAIL,.v-fail{color:#cf222e;font-weight:600}.v-ERROR,.v-error{color:#bc4c00;font-weight:600}\n"
    ".v-INCOMPLETE{color:#9a6700;font-weight:600}.v-SKIP,.v-skip{color:#656d76}\n"
    ".batch{font-size:20px;padding:6px 14px;border:2px solid;display:inline-block;margin:8px 0}\n"
    ".cls{font-family:ui-monospace,monospace;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:0 4px;margin-right:4px;white-space:nowrap}\n"
    ".token{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;margin:14px 0}.token:target{outline:3px solid #0072B2}\n"
    ".fail{border-left:4px solid #cf222e;padding:2px 0 2px 10px;margin:12px 0}.msg{white-space:pre-wrap;margin:4px 0}\n"
    ".hint{background:#fff8c5;border:1px solid #d4a72c;border-radius:4px;padding:4px 8px;margin:4px 0}\n"
    ".meta,.caption,.where{color:#57606a;font-size:12.5px}\n"
    "table.trace td{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}"
    "table.trace td:nth-child(-n+3),table.trace td.n{white-space:nowrap;word-break:normal}table.trace tr.hit td{background:#ffebe9}\n"
    "table.trace tr.gap td{text-align:center;color:#57606a;font-style:italic}\n"
    "svg.plot{max-width:100%;height:auto;display:block;margin:10px 0 2px}svg text{font:11px system-ui,sans-serif;fill:#1f2328}\n"
    "svg .pt{font-weight:600;font-size:12.5px}svg .grid{stroke:#eaeef2}svg .axis{stroke:#57606a}svg .tick,svg .cat{fill:#57606a}\n"
    "svg .whisker{stroke:#1f2328}svg .iqr{fill-opacity:.22;stroke:#0072B2}svg .median{stroke:#1f2328;stroke-width:2}\n"
    "svg .dot{fill-opacity:.5}svg .lim{stroke:#cf222e;stroke-dasharray:6 3;stroke-width:1.5}svg .liml{fill:#cf222e}\n"
    "svg .band{fill:#cf222e;fill-opacity:.12}svg .mk{stroke:#fff;stroke-width:.6}svg .prev{fill:#0072B2;fill-opacity:.65}\n"
    "svg .cur{fill:#E69F00}svg .curl{font-weight:700;fill:#1f2328}svg .bt{font-size:10px}\n"
    "details>summary{cursor:pointer;color:#0969da}footer{margin-top:40px;color:#57606a;font-size:12px}\n";

/* ---- the script: sorting, and the marker a browser test reads ------------------------------------- */

static const char SCRIPT[] =
    "(function () {\n"
    "  var body = document.body;\n"
    "  function fail(m) { body.setAttribute('data-script-error', String(m)); }\n"
    "  window.addEventListener('error', function (ev) { fail(ev.message); });\n"
    "  try {\n"
    "    var table = document.getElementById('token-table');\n"
    "    if (table) {\n"
    "      var heads = table.tHead.rows[0].cells, rowsOf = table.tBodies[0];\n"
    "      var key = function (row, i, num) {\n"
    "        var c = row.cells[i], k = c.getAttribute('data-k');\n"
    "        if (k === null) k = c.textContent;\n"
    "        return num ? parseFloat(k) : k;\n"
    "      };\n"
    "      var sortBy = function (i, dir) {\n"
    "        var num = heads[i].getAttribute('data-type') === 'num';\n"
    "        var rows = Array.prototype.slice.call(rowsOf.rows);\n"
    "        rows.sort(function (a, b) {\n"
    "          var x = key(a, i, num), y = key(b, i, num);\n"
    "          var c = num ? x - y : String(x).localeCompare(String(y), undefined, {numeric: true});\n"
    "          return c * dir || a.getAttribute('data-i') - b.getAttribute('data-i');\n"
    "        });\n"
    "        rows.forEach(function (r) { rowsOf.appendChild(r); });\n"
    "        for (var j = 0; j < heads.length; j++) heads[j].removeAttribute('aria-sort');\n"
    "        heads[i].setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');\n"
    "        table.setAttribute('data-sorted', heads[i].getAttribute('data-col') + (dir > 0 ? ':asc' : ':desc'));\n"
    "      };\n"
    "      Array.prototype.forEach.call(heads, function (th, i) {\n"
    "        th.tabIndex = 0;\n"
    "        var go = function () { sortBy(i, th.getAttribute('aria-sort') === 'ascending' ? -1 : 1); };\n"
    "        th.addEventListener('click', go);\n"
    "        th.addEventListener('keydown', function (ev) {\n"
    "          if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); go(); }\n"
    "        });\n"
    "      });\n"
    "      var m = /(?:^#|&)sort=([a-z_]+)(?::(asc|desc))?/.exec(location.hash);\n"
    "      for (var j = 0; m && j < heads.length; j++)\n"
    "        if (heads[j].getAttribute('data-col') === m[1]) sortBy(j, m[2] === 'desc' ? -1 : 1);\n"
    "      table.setAttribute('data-sortable', 'ready');\n"
    "    }\n"
    "    body.setAttribute('data-script', 'ok');\n"
    "  } catch (x) { fail(x && x.message ? x.message : x); }\n"
    "})();\n";

/* ---- header: the batch verdict and yield ------------------------------------------------------------ */

static void batch_counts(const rd_run *run, unsigned counts[6])
{
    memset(counts, 0, 6 * sizeof counts[0]);
    for (size_t i = 0; i < run->ntokens; i++)
        counts[rd_verdict_rank(run->tokens[i].verdict)]++;
}

static void batch_header(tr_html *h, const page *pg)
{
    static const char *const names[] = {"FAIL", "ERROR", "INCOMPLETE", "SKIP", "PASS", "other"};
    const rd_run *run = pg->run;
    unsigned c[6];
    batch_counts(run, c);
    const char *batch = "none";
    for (int k = 0; k < 6 && run->ntokens; k++)
        if (c[k]) {
            batch = names[k];
            break;
        }
    tr_html_raw(h, "<header>\n<h1>tokenrig report: run ");
    tr_html_text(h, nz(run->run_id)[0] ? run->run_id : run->dir);
    tr_html_raw(h, "</h1>\n<p class=\"meta\">rig ");
    tr_html_text(h, nz(run->rig)[0] ? run->rig : "(not recorded)");
    tr_html_fmt(h, " &middot; %zu token(s) &middot; results from ", run->ntokens);
    tr_html_text(h, nz(run->first_time)[0] ? run->first_time : "?");
    tr_html_raw(h, " to ");
    tr_html_text(h, nz(run->last_time)[0] ? run->last_time : "?");
    tr_html_raw(h, " &middot; directory ");
    tr_html_text(h, run->dir);
    tr_html_raw(h, "</p>\n<div id=\"batch-verdict\" class=\"batch v-");
    tr_html_raw(h, batch);
    tr_html_fmt(h, "\" data-verdict=\"%s\">Batch verdict: %s</div>\n<p id=\"yield\">Yield: <b>%u/%zu</b> tokens passed",
                batch, batch, c[4], run->ntokens);
    if (run->ntokens)
        tr_html_fmt(h, " (%.1f%%)", 100.0 * c[4] / (double)run->ntokens);
    for (int k = 0; k < 6; k++)
        if (c[k])
            tr_html_fmt(h, " &middot; <span class=\"v-%s\">%s %u</span>", names[k], names[k], c[k]);
    tr_html_raw(h, "</p>\n");
    if (run->cycles_only)
        tr_html_raw(h, "<p class=\"hint\" id=\"cycles-only\">Power cycles only (a <code>tokenrig cycle</code> "
                       "directory): a token fails when one of its cycles failed; its counts are cycles.</p>\n");
    else if (!run->has_summary)
        tr_html_raw(h, "<p class=\"hint\" id=\"no-summary\">summary.csv was not written (the run did not finish): the "
                       "verdicts here are made from results.csv's rows by the rule of summary.csv.</p>\n");
    tr_html_raw(h, "<nav><a href=\"#tokens\">Tokens</a><a href=\"#plots\">Plots</a><a href=\"#details\">Details</a>"
                   "<a href=\"#history\">Earlier batches</a><a href=\"#provenance\">Provenance</a></nav>\n</header>\n");
}

/* ---- the token table --------------------------------------------------------------------------------- */

/* The next code of a ";"-separated list into code; false at its end. */
static bool next_code(const char **p, char *code, size_t cap)
{
    if (!**p)
        return false;
    size_t n = strcspn(*p, ";");
    snprintf(code, cap, "%.*s", (int)(n < cap ? n : cap - 1), *p);
    *p += n + ((*p)[n] == ';');
    return true;
}

static void classes(tr_html *h, const char *list)
{
    const char *p = nz(list);
    char code[128];
    while (next_code(&p, code, sizeof code)) {
        tr_html_raw(h, "<span class=\"cls\"");
        tr_html_attr(h, "title", tr_remedy_hint(code, NULL));
        tr_html_raw(h, ">");
        tr_html_text(h, code);
        tr_html_raw(h, "</span>");
    }
}

/* <td>text</td> for each of n texts. */
static void text_cells(tr_html *h, const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tr_html_raw(h, "<td>");
        tr_html_text_max(h, texts[i], 4096);
        tr_html_raw(h, "</td>");
    }
}

static void num_cell(tr_html *h, double v, int decimals)
{
    tr_html_raw(h, "<td class=\"n\">");
    tr_html_num(h, v, decimals);
    tr_html_raw(h, "</td>");
}

static bool is_failing(const rd_token *t)
{
    return rd_verdict_rank(t->verdict) <= 2;
}

static void token_row(tr_html *h, const rd_token *t, size_t i)
{
    tr_html_fmt(h, "<tr data-i=\"%zu\"", i);
    tr_html_attr(h, "data-verdict", t->verdict);
    tr_html_fmt(h, "><td><a href=\"#token-%zu\">", i);
    tr_html_text(h, t->slot);
    tr_html_raw(h, "</a></td>");
    text_cells(h, (const char *const[]){t->serial, t->role, t->profile}, 3);
    tr_html_fmt(h, "<td data-k=\"%d\">", rd_verdict_rank(t->verdict));
    if (is_failing(t))
        tr_html_fmt(h, "<a class=\"details\" href=\"#token-%zu\">", i);
    tr_html_raw(h, "<span class=\"v-");
    tr_html_raw(h, rd_verdict_rank(t->verdict) < 5 ? t->verdict : "other");
    tr_html_raw(h, "\">");
    tr_html_text(h, t->verdict);
    tr_html_raw(h, is_failing(t) ? "</span></a></td><td>" : "</span></td><td>");
    classes(h, t->classifications);
    tr_html_raw(h, "</td>");
    const unsigned n[] = {t->tests, t->passed, t->failed, t->errored, t->skipped};
    for (size_t k = 0; k < sizeof n / sizeof n[0]; k++)
        num_cell(h, n[k], 0);
    num_cell(h, t->duration_s, 1);
    tr_html_raw(h, "</tr>\n");
}

static void token_table(tr_html *h, const rd_run *run)
{
    static const struct {
        const char *col, *name;
        bool num;
    } cols[] = {{"slot", "slot", false},          {"serial", "serial", false},
                {"role", "role", false},          {"profile", "profile", false},
                {"verdict", "verdict", true},     {"classifications", "classifications", false},
                {"tests", "tests", true},         {"passed", "passed", true},
                {"failed", "failed", true},       {"errored", "errored", true},
                {"skipped", "skipped", true},     {"duration", "duration (s)", true}};
    tr_html_raw(h, "<section id=\"tokens\">\n<h2>Tokens</h2>\n<p class=\"caption\">Failing tokens first; click a "
                   "column to sort by it (again: the other way). A failing token's verdict links to its details.</p>\n"
                   "<table id=\"token-table\"><thead><tr>");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        tr_html_fmt(h, "<th data-col=\"%s\"%s>%s</th>", cols[c].col, cols[c].num ? " data-type=\"num\"" : "",
                    cols[c].name);
    tr_html_raw(h, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < run->ntokens; i++)
        token_row(h, &run->tokens[i], i);
    tr_html_raw(h, "</tbody></table>\n</section>\n");
}

/* ---- details: failed tests, hints, trace excerpts --------------------------------------------------- */

/* "12:00:00.123" of an ISO 8601 time (the date is the run's), else all of it. */
static const char *time_of_day(const char *iso)
{
    const char *t = strchr(nz(iso), 'T');
    return t && strlen(t) > 8 ? t + 1 : nz(iso);
}

static void trace_row(tr_html *h, const rd_trace *x, size_t no, const rd_fail *f)
{
    const char *base = strrchr(nz(f->file), '/');
    bool hit = x->line == f->line && f->line > 0 && strstr(nz(x->file), base ? base + 1 : nz(f->file));
    tr_html_fmt(h, "<tr%s><td class=\"n\">%zu</td><td", hit ? " class=\"hit\"" : "", no);
    tr_html_attr(h, "title", x->time);
    tr_html_raw(h, ">");
    tr_html_text(h, time_of_day(x->time));
    tr_html_raw(h, "</td><td>");
    const char *xb = strrchr(nz(x->file), '/');
    tr_html_text(h, xb ? xb + 1 : x->file);
    if (x->line > 0)
        tr_html_fmt(h, ":%d", x->line);
    tr_html_raw(h, "</td>");
    text_cells(h, (const char *const[]){x->command, x->response, x->sw}, 3);
    if (x->latency_us >= 0)
        num_cell(h, x->latency_us, 0);
    else
        tr_html_raw(h, "<td></td>");
    tr_html_raw(h, "</tr>\n");
}

static void trace_excerpt(tr_html *h, const rd_fail *f, bool open)
{
    if (!f->ntrace) {
        tr_html_raw(h, "<p class=\"where\">No trace rows for this test (it sent no command, or trace.csv lacks them).</p>\n");
        return;
    }
    size_t shown = f->nhead + f->ntail;
    tr_html_fmt(h, "<details class=\"trace\"%s><summary>Trace of this test: %zu row(s)", open ? " open" : "", f->ntrace);
    if (shown < f->ntrace)
        tr_html_fmt(h, ", the first %zu and the last %zu shown", f->nhead, f->ntail);
    tr_html_raw(h, " (PINs appear as &lt;pin&gt;; the failing line's rows are marked)</summary>\n<table class=\"trace\">"
                   "<tr><th>#</th><th>time (UTC)</th><th>suite line</th><th>command</th><th>response</th><th>SW</th>"
                   "<th>&micro;s</th></tr>\n");
    for (size_t k = 0; k < f->nhead; k++)
        trace_row(h, &f->head[k], k + 1, f);
    if (shown < f->ntrace)
        tr_html_fmt(h, "<tr class=\"gap\"><td colspan=\"7\">&hellip; %zu row(s) not shown &hellip;</td></tr>\n",
                    f->ntrace - shown);
    for (size_t k = 0; k < f->ntail; k++)
        trace_row(h, &f->tail[(f->tail_at + k) % RD_TRACE_TAIL], f->ntrace - f->ntail + k + 1, f);
    tr_html_raw(h, "</table></details>\n");
}

/* The message without the "file:line: " it starts with when that is the
 * test's own place (said once, on the line below it). */
static const char *message_text(const rd_fail *f)
{
    const char *m = nz(f->message);
    size_t n = strlen(nz(f->file));
    char line[32];
    snprintf(line, sizeof line, ":%d: ", f->line);
    if (n && !strncmp(m, f->file, n) && !strncmp(m + n, line, strlen(line)))
        return m + n + strlen(line);
    return m;
}

static void fail_block(tr_html *h, const rd_fail *f, size_t idx, size_t k)
{
    tr_html_fmt(h, "<div class=\"fail\" id=\"token-%zu-fail-%zu\"><p><b>", idx, k);
    tr_html_text(h, f->suite);
    tr_html_raw(h, " / ");
    tr_html_text(h, f->test);
    tr_html_raw(h, "</b> <span class=\"v-");
    tr_html_raw(h, !strcmp(f->verdict, "fail") ? "fail" : "error");
    tr_html_raw(h, "\">");
    tr_html_text(h, f->verdict);
    tr_html_raw(h, "</span> ");
    classes(h, f->cls);
    tr_html_raw(h, "</p>\n<p class=\"msg\">");
    tr_html_text(h, message_text(f));
    tr_html_raw(h, "</p>\n<p class=\"where\">");
    tr_html_text(h, f->file);
    tr_html_fmt(h, ":%d &middot; ", f->line);
    tr_html_num(h, f->duration_s, 3);
    tr_html_raw(h, " s</p>\n<p class=\"hint\"><b>Next step (");
    tr_html_text(h, *nz(f->cls) ? f->cls : "no class");
    tr_html_raw(h, "):</b> ");
    tr_html_text(h, tr_remedy_hint(f->cls, NULL));
    tr_html_raw(h, "</p>\n");
    trace_excerpt(h, f, k == 0);
    tr_html_raw(h, "</div>\n");
}

/* The token's classes with their hints (not-run.* ones too: what the run
 * left out is also something to act on). */
static void hints_table(tr_html *h, const rd_token *t)
{
    if (!*nz(t->classifications))
        return;
    tr_html_raw(h, "<table class=\"hints\"><tr><th>class</th><th>what to do next</th></tr>\n");
    const char *p = t->classifications;
    char code[128];
    while (next_code(&p, code, sizeof code)) {
        tr_html_raw(h, "<tr><td><span class=\"cls\">");
        tr_html_text(h, code);
        tr_html_raw(h, "</span></td><td>");
        tr_html_text(h, tr_remedy_hint(code, NULL));
        tr_html_raw(h, "</td></tr>\n");
    }
    tr_html_raw(h, "</table>\n");
}

static void metrics_table(tr_html *h, const rd_token *t)
{
    size_t shown = 0;
    for (size_t i = 0; i < t->nmetrics; i++) {
        const rd_metric *m = &t->metrics[i];
        if (!m->failed)
            continue;
        if (!shown++)
            tr_html_raw(h, "<h4>Metrics over their limit</h4>\n<table class=\"metrics\"><tr><th>suite / test</th>"
                           "<th>metric</th><th>value</th><th>limit</th><th>message</th></tr>\n");
        tr_html_raw(h, "<tr><td>");
        tr_html_text(h, m->suite);
        tr_html_raw(h, " / ");
        tr_html_text(h, m->test);
        tr_html_raw(h, "</td>");
        text_cells(h, (const char *const[]){m->metric}, 1);
        tr_html_raw(h, "<td class=\"n\">");
        tr_html_num(h, m->value, 3);
        tr_html_raw(h, " ");
        tr_html_text(h, m->unit);
        tr_html_raw(h, "</td><td class=\"n\">");
        if (m->limit >= 0) {
            tr_html_text(h, m->limit_kind);
            tr_html_raw(h, " ");
            tr_html_num(h, m->limit, 3);
        } else
            tr_html_raw(h, "not recorded");
        tr_html_raw(h, "</td>");
        text_cells(h, (const char *const[]){m->message}, 1);
        tr_html_raw(h, "</tr>\n");
    }
    if (shown)
        tr_html_raw(h, "</table>\n");
}

/* The value of provenance.csv's row (slot, name), or NULL. */
static const char *prov_value(const rd_run *run, const char *slot, const char *name)
{
    int si = -1, ni = -1, vi = -1;
    for (size_t c = 0; c < run->nprov_cols; c++) {
        const char *col = run->prov_cols[c];
        si = !strcmp(col, "slot") ? (int)c : si;
        ni = !strcmp(col, "name") ? (int)c : ni;
        vi = !strcmp(col, "value") ? (int)c : vi;
    }
    for (size_t i = 0; si >= 0 && ni >= 0 && vi >= 0 && i < run->nprov_rows; i++)
        if (!strcmp(run->prov_rows[i][si], nz(slot)) && !strcmp(run->prov_rows[i][ni], name))
            return run->prov_rows[i][vi];
    return NULL;
}

static void token_meta(tr_html *h, const rd_run *run, const rd_token *t)
{
    tr_html_raw(h, "<p class=\"meta\">role ");
    tr_html_text(h, *nz(t->role) ? t->role : "?");
    tr_html_raw(h, " &middot; profile ");
    tr_html_text(h, *nz(t->profile) ? t->profile : "?");
    tr_html_raw(h, " &middot; reader ");
    tr_html_text(h, *nz(t->reader) ? t->reader : "?");
    const char *fw = prov_value(run, t->slot, "firmware");
    if (fw) {
        tr_html_raw(h, " &middot; firmware ");
        tr_html_text(h, fw);
    }
    tr_html_fmt(h, " &middot; %u tests: %u passed, %u failed, %u errored, %u skipped (%u not run) &middot; ", t->tests,
                t->passed, t->failed, t->errored, t->skipped, t->not_run);
    tr_html_num(h, t->duration_s, 1);
    tr_html_raw(h, " s</p>\n");
}

static void token_section(tr_html *h, const rd_run *run, const rd_token *t, size_t idx)
{
    tr_html_fmt(h, "<section class=\"token\" id=\"token-%zu\"", idx);
    tr_html_attr(h, "data-slot", t->slot);
    tr_html_attr(h, "data-verdict", t->verdict);
    tr_html_raw(h, "><h3>");
    tr_html_text(h, t->slot);
    tr_html_raw(h, " &middot; ");
    tr_html_text(h, *nz(t->serial) ? t->serial : "(no serial)");
    tr_html_raw(h, " <span class=\"v-");
    tr_html_raw(h, rd_verdict_rank(t->verdict) < 5 ? t->verdict : "other");
    tr_html_raw(h, "\">");
    tr_html_text(h, t->verdict);
    tr_html_raw(h, "</span></h3>\n");
    token_meta(h, run, t);
    hints_table(h, t);
    if (t->nfails)
        tr_html_raw(h, "<h4>Failed and errored tests</h4>\n");
    else
        tr_html_raw(h, "<p class=\"where\">No failed or errored test.</p>\n");
    for (size_t k = 0; k < t->nfails; k++)
        fail_block(h, &t->fails[k], idx, k);
    if (t->more_fails)
        tr_html_fmt(h, "<p class=\"where\">&hellip; and %zu more failed or errored test(s): see results.csv.</p>\n",
                    t->more_fails);
    metrics_table(h, t);
    hr_plots_token(h, run, t, idx);
    tr_html_raw(h, "</section>\n");
}

static void details(tr_html *h, const rd_run *run)
{
    tr_html_raw(h, "<section id=\"details\">\n<h2>Token details</h2>\n");
    for (size_t i = 0; i < run->ntokens; i++)
        token_section(h, run, &run->tokens[i], i);
    tr_html_raw(h, "</section>\n");
}

/* ---- yield across earlier batches --------------------------------------------------------------------- */

static void history_chart(tr_html *h, const history *hs, size_t k)
{
    tr_svg_bar bars[TR_HTML_HISTORY_RUNS];
    char text[TR_HTML_HISTORY_RUNS][32], tip[TR_HTML_HISTORY_RUNS][320];
    for (size_t i = 0; i < hs->n; i++) {
        const tr_yield_point *p = &hs->pts[i];
        snprintf(text[i], sizeof text[i], "%u/%u", p->passed, p->tokens);
        snprintf(tip[i], sizeof tip[i], "run %s (%s): %u of %u token(s) of %s passed%s", p->run_id,
                 p->time[0] ? p->time : "time unknown", p->passed, p->tokens, hs->profile,
                 p->current ? " (this run)" : "");
        bars[i] = (tr_svg_bar){.label = p->run_id, .tip = tip[i], .text = text[i], .highlight = p->current,
                               .percent = p->tokens ? 100.0 * p->passed / p->tokens : 0};
    }
    char id[48], title[160];
    snprintf(id, sizeof id, "plot-history-%zu", k);
    snprintf(title, sizeof title, "Yield of %s, the newest %zu run(s) up to this one", hs->profile, hs->n);
    tr_svg_frame fr = {.id = id, .title = title, .y_label = "tokens passed (%)", .x_label = NULL, .limit = -1};
    tr_svg_bars(h, &fr, bars, hs->n);
}

static void history_section(tr_html *h, const page *pg)
{
    tr_html_raw(h, "<section id=\"history\">\n<h2>Yield across earlier batches of the same profile</h2>\n"
                   "<p class=\"caption\">Per profile of this run: the share of its tokens that passed in each run, oldest "
                   "left, this run highlighted. From ");
    tr_html_text(h, pg->where);
    tr_html_raw(h, ".</p>\n");
    if (!pg->nhist)
        tr_html_raw(h, "<p class=\"where\">No token of this run names a profile.</p>\n");
    for (size_t k = 0; k < pg->nhist; k++) {
        const history *hs = &pg->hist[k];
        if (hs->error[0]) {
            tr_html_raw(h, "<p class=\"where\">");
            tr_html_text(h, hs->profile);
            tr_html_raw(h, ": the history could not be read: ");
            tr_html_text(h, hs->error);
            tr_html_raw(h, "</p>\n");
            continue;
        }
        history_chart(h, hs, k);
        if (hs->n <= 1) {
            tr_html_raw(h, "<p class=\"caption\">No earlier run of ");
            tr_html_text(h, hs->profile);
            tr_html_raw(h, " beside this one.</p>\n");
        }
    }
    tr_html_raw(h, "</section>\n");
}

/* ---- provenance ---------------------------------------------------------------------------------------- */

/* One table of provenance.csv: the rows of one slot ("" the run's own),
 * the slot column left out (the summary says it); si < 0: every row. */
static void provenance_group(tr_html *h, const rd_run *run, int si, const char *slot, bool open)
{
    size_t n = 0;
    for (size_t i = 0; i < run->nprov_rows; i++)
        n += si < 0 || !strcmp(run->prov_rows[i][si], slot);
    tr_html_fmt(h, "<details class=\"prov\"%s><summary>", open ? " open" : "");
    if (si < 0)
        tr_html_raw(h, "provenance.csv");
    else if (*slot) {
        tr_html_raw(h, "slot ");
        tr_html_text(h, slot);
    } else
        tr_html_raw(h, "the run");
    tr_html_fmt(h, ": %zu row(s)</summary>\n<table><tr>", n);
    for (size_t c = 0; c < run->nprov_cols; c++) {
        if ((int)c == si)
            continue;
        tr_html_raw(h, "<th>");
        tr_html_text(h, run->prov_cols[c]);
        tr_html_raw(h, "</th>");
    }
    tr_html_raw(h, "</tr>\n");
    for (size_t i = 0; i < run->nprov_rows; i++) {
        if (si >= 0 && strcmp(run->prov_rows[i][si], slot))
            continue;
        tr_html_raw(h, "<tr>");
        for (size_t c = 0; c < run->nprov_cols; c++)
            if ((int)c != si)
                text_cells(h, (const char *const *)&run->prov_rows[i][c], 1);
        tr_html_raw(h, "</tr>\n");
    }
    tr_html_raw(h, "</table></details>\n");
}

/* provenance.csv: the run's rows open, each slot's (its variables: many)
 * folded, in the order the file has them. */
static void provenance_table(tr_html *h, const rd_run *run)
{
    if (!run->has_provenance) {
        tr_html_raw(h, "<p id=\"provenance-missing\"><b>provenance.csv: not recorded.</b> This run did not write what "
                       "it was measured against (tool version, command line, effective variables and their source, "
                       "hashes, destructive tests, firmware).</p>\n");
        return;
    }
    int si = -1;
    for (size_t c = 0; c < run->nprov_cols; c++)
        if (!strcmp(run->prov_cols[c], "slot"))
            si = (int)c;
    tr_html_raw(h, "<div id=\"provenance-table\">\n");
    if (si < 0)
        provenance_group(h, run, si, "", true);
    for (size_t i = 0; si >= 0 && i < run->nprov_rows; i++) {
        const char *slot = run->prov_rows[i][si];
        if (i && !strcmp(run->prov_rows[i - 1][si], slot))
            continue; /* rows come grouped: the common case */
        size_t k = 0;
        while (k < i && strcmp(run->prov_rows[k][si], slot))
            k++;
        if (k == i) /* the slot's first row */
            provenance_group(h, run, si, slot, !*slot);
    }
    tr_html_raw(h, "</div>\n");
}

static void junit_table(tr_html *h, const rd_run *run)
{
    if (!run->has_junit) {
        tr_html_raw(h, "<p id=\"junit-missing\">junit.xml: not written.</p>\n");
        return;
    }
    tr_html_fmt(h, "<details id=\"junit-properties\"><summary>junit.xml properties: %zu</summary>\n<table><tr>"
                   "<th>testsuite</th><th>name</th><th>value</th></tr>\n", run->njunit);
    for (size_t i = 0; i < run->njunit; i++) {
        tr_html_raw(h, "<tr>");
        text_cells(h, (const char *const[]){run->junit[i].group, run->junit[i].name, run->junit[i].value}, 3);
        tr_html_raw(h, "</tr>\n");
    }
    tr_html_raw(h, "</table></details>\n");
}

static void files_table(tr_html *h, const rd_run *run)
{
    const struct {
        const char *name;
        bool there;
        size_t rows;
        const char *what;
    } f[] = {{"summary.csv", run->has_summary, run->ntokens, "token(s)"},
             {"results.csv", run->has_results, run->result_rows, "row(s)"},
             {"trace.csv", run->has_trace, run->trace_rows, "row(s)"},
             {"samples.csv", run->has_samples, run->sample_rows, "row(s)"},
             {"cycles.csv", run->has_cycles, run->cycle_rows, "row(s)"},
             {"junit.xml", run->has_junit, run->njunit, "propert(ies)"},
             {"provenance.csv", run->has_provenance, run->nprov_rows, "row(s)"}};
    tr_html_raw(h, "<table id=\"files\"><tr><th>file</th><th>recorded</th></tr>\n");
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        tr_html_fmt(h, "<tr><td>%s</td><td>", f[i].name);
        if (f[i].there)
            tr_html_fmt(h, "%zu %s", f[i].rows, f[i].what);
        else
            tr_html_raw(h, "not recorded");
        tr_html_raw(h, "</td></tr>\n");
    }
    tr_html_raw(h, "</table>\n");
}

static void provenance_section(tr_html *h, const rd_run *run)
{
    tr_html_raw(h, "<section id=\"provenance\">\n<h2>Provenance</h2>\n<p class=\"caption\">What the run recorded "
                   "about itself, as it recorded it (values of variables named *PIN shown as &lt;pin&gt;).</p>\n");
    provenance_table(h, run);
    junit_table(h, run);
    files_table(h, run);
    tr_html_raw(h, "</section>\n");
}

/* ---- the page -------------------------------------------------------------------------------------------- */

static void fill_page(tr_html *h, const void *ctx)
{
    const page *pg = ctx;
    const rd_run *run = pg->run;
    tr_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>tokenrig report ");
    tr_html_text(h, nz(run->run_id)[0] ? run->run_id : run->dir);
    tr_html_raw(h, "</title>\n<style>\n");
    tr_html_raw(h, CSS);
    tr_html_raw(h, "</style>\n</head>\n<body");
    tr_html_attr(h, "data-run", run->run_id);
    tr_html_raw(h, ">\n");
    batch_header(h, pg);
    token_table(h, run);
    hr_plots_batch(h, run);
    details(h, run);
    history_section(h, pg);
    provenance_section(h, run);
    tr_html_raw(h, "<footer>Written by ");
    tr_html_text(h, pg->written_by);
    tr_html_raw(h, " at ");
    tr_html_text(h, pg->now);
    tr_html_raw(h, ". One file: no network, nothing outside it.</footer>\n<script>\n");
    tr_html_raw(h, SCRIPT);
    tr_html_raw(h, "</script>\n</body>\n</html>\n");
}

/* The history of every profile of the run (an error is said in the page,
 * it does not stop the report). */
static void gather_history(page *pg, tr_yield_source *src)
{
    const rd_run *run = pg->run;
    for (size_t i = 0; i < run->ntokens && pg->nhist < MAX_PROFILES; i++) {
        const char *prof = nz(run->tokens[i].profile);
        size_t k = 0;
        while (k < pg->nhist && strcmp(pg->hist[k].profile, prof))
            k++;
        if (!*prof || k < pg->nhist)
            continue;
        history *hs = &pg->hist[pg->nhist++];
        tr_strlcpy(hs->profile, prof, sizeof hs->profile);
        tr_err e;
        tr_err_clear(&e);
        if (src->gather(src, prof, hs->pts, TR_HTML_HISTORY_RUNS, &hs->n, &e) < 0) {
            tr_strlcpy(hs->error, e.msg, sizeof hs->error);
            hs->n = 0;
        }
    }
}

static void page_time(page *pg)
{
    const char *fixed = getenv("TR_REPORTS_FIXED_TIME");
    if (fixed && *fixed)
        tr_strlcpy(pg->now, fixed, sizeof pg->now);
    else
        tr_wall_iso(pg->now, sizeof pg->now);
}

int tr_html_report_write(const char *dir, const char *out, const tr_html_report_opts *o, tr_err *e)
{
    rd_run run;
    if (rd_load(dir, &run, e) < 0)
        return -1;
    page pg = {.run = &run, .written_by = o && o->written_by ? o->written_by : "tokenrig report"};
    page_time(&pg);
    tr_yield_source own, *src = o ? o->history : NULL;
    int rc = 0;
    if (!src) {
        if (tr_yield_source_dirs(dir, &own, e) < 0) {
            rd_free(&run);
            return -1;
        }
        src = &own;
    }
    pg.where = src->where;
    pg.hist = calloc(MAX_PROFILES, sizeof *pg.hist);
    if (!pg.hist)
        rc = tr_fail(e, TR_E_NOMEM, "out of memory");
    if (rc == 0)
        gather_history(&pg, src);
    char path[4096];
    if (rc == 0) {
        int w = out ? snprintf(path, sizeof path, "%s", out) : snprintf(path, sizeof path, "%s/report.html", dir);
        if (w < 0 || (size_t)w >= sizeof path)
            rc = tr_fail(e, TR_E_USAGE, "%s: path too long", out ? out : dir);
    }
    if (rc == 0)
        rc = tr_html_write_file(path, fill_page, &pg, e);
    free(pg.hist);
    if (src == &own)
        own.close(&own);
    rd_free(&run);
    return rc;
}
