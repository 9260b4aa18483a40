/* htmlplots.c — the plots of report.html (see htmlreport.h): what each
 * plot shows is chosen here, the drawing is svgplot.c's.
 * - Signing latency: samples.csv's samples are independent operations, so
 *   a distribution per token (box and strip), never a line through them.
 * - Recognition: cycles.csv's stage columns (off_ms, to_*_ms: whatever the
 *   file has) per token; a few cycles as markers on an integer axis (the
 *   token's power cycles in run order: the cycle column restarts per test),
 *   many cycles as a distribution per stage. FIRST_APDU_MAX_MS is drawn
 *   where it is known, and said to be unknown where it is not.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htmlreport_int.h"
#include "svgplot.h"

#define CYCLES_AS_POINTS 20 /* more cycles than this: distributions */
#define MAX_METRIC_PLOTS 16

typedef char href_t[32];

static const char *nz(const char *s)
{
    return s ? s : "";
}

static void caption_open(tr_html *h, const char *id)
{
    tr_html_raw(h, "<p class=\"caption\"");
    tr_html_attr(h, "id", id);
    tr_html_raw(h, ">");
}

/* The limit of every sample of metric (its "<metric>.max" row's), or -1. */
static double series_limit(const rd_token *t, const char *metric)
{
    size_t n = strlen(metric);
    for (size_t i = 0; i < t->nmetrics; i++) {
        const rd_metric *m = &t->metrics[i];
        if (m->limit > 0 && !strcmp(m->limit_kind, "max") && !strncmp(m->metric, metric, n) &&
            !strcmp(m->metric + n, ".max"))
            return m->limit;
    }
    return -1;
}

static const rd_series *series_named(const rd_token *t, const char *metric)
{
    for (size_t i = 0; i < t->nseries; i++)
        if (!strcmp(t->series[i].metric, metric))
            return &t->series[i];
    return NULL;
}

/* The same limit in every category: drawn once across the plot. */
static double common_limit(const tr_svg_dist *d, size_t n)
{
    if (!n || d[0].limit <= 0)
        return -1;
    for (size_t i = 1; i < n; i++)
        if (d[i].limit != d[0].limit)
            return -1;
    return d[0].limit;
}

static const rd_metric *metric_row_of(const rd_token *t, const char *base, const char *suffix)
{
    size_t n = strlen(base);
    for (size_t i = 0; i < t->nmetrics; i++)
        if (!strncmp(t->metrics[i].metric, base, n) && t->metrics[i].metric[n] == '.' &&
            !strcmp(t->metrics[i].metric + n + 1, suffix))
            return &t->metrics[i];
    return NULL;
}

/* The measure's metric rows per token (results.csv: <metric>.n, .p50 ...),
 * each with its limit beside it where the run recorded one. */
static void latency_table(tr_html *h, const rd_run *run, const char *metric, size_t k)
{
    static const char *const cols[] = {"n", "mean", "p50", "p95", "p99", "max", "rate"};
    tr_html_fmt(h, "<table class=\"metrics\" id=\"latency-table-%zu\"><tr><th>token</th>", k);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        tr_html_fmt(h, "<th>%s</th>", cols[c]);
    tr_html_raw(h, "</tr>\n");
    for (size_t i = 0; i < run->ntokens; i++) {
        const rd_token *t = &run->tokens[i];
        if (!series_named(t, metric))
            continue;
        tr_html_fmt(h, "<tr><td><a href=\"#token-%zu\">", i);
        tr_html_text(h, t->slot);
        tr_html_raw(h, "</a></td>");
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            const rd_metric *m = metric_row_of(t, metric, cols[c]);
            tr_html_raw(h, m && m->failed ? "<td class=\"n v-fail\">" : "<td class=\"n\">");
            if (m) {
                tr_html_num(h, m->value, c == 0 ? 0 : 3);
                tr_html_raw(h, " ");
                tr_html_text(h, m->unit);
            }
            if (m && m->limit >= 0) {
                tr_html_raw(h, !strcmp(m->limit_kind, "min") ? " (&ge; " : " (&le; ");
                tr_html_num(h, m->limit, m->limit == floor(m->limit) ? 0 : 3);
                tr_html_raw(h, ")");
            }
            tr_html_raw(h, "</td>");
        }
        tr_html_raw(h, "</tr>\n");
    }
    tr_html_raw(h, "</table>\n");
}

static void latency_plot(tr_html *h, const rd_run *run, const char *metric, size_t k)
{
    tr_svg_dist *d = calloc(run->ntokens, sizeof *d);
    href_t *href = calloc(run->ntokens, sizeof *href);
    char (*lim)[64] = calloc(run->ntokens, sizeof *lim);
    if (!d || !href || !lim) {
        h->err = h->err ? h->err : ENOMEM;
        goto out;
    }
    size_t n = 0, samples = 0, total = 0;
    const char *unit = "ms";
    for (size_t i = 0; i < run->ntokens; i++) {
        const rd_series *s = series_named(&run->tokens[i], metric);
        if (!s)
            continue;
        snprintf(href[n], sizeof href[n], "#token-%zu", i);
        snprintf(lim[n], sizeof lim[n], "max_ms %g", series_limit(&run->tokens[i], metric));
        d[n] = (tr_svg_dist){.label = run->tokens[i].slot, .href = href[n], .v = s->v, .n = s->n,
                             .limit = series_limit(&run->tokens[i], metric), .limit_label = lim[n]};
        unit = *nz(s->unit) ? s->unit : unit;
        samples += s->n;
        total += s->total;
        n++;
    }
    char id[48], title[256];
    snprintf(id, sizeof id, "plot-latency-%zu", k);
    snprintf(title, sizeof title, "%s%s: time per operation, per token", !strcmp(metric, "sign") ? "Signing latency" : metric,
             !strcmp(metric, "sign") ? " (sign)" : "");
    double common = common_limit(d, n);
    tr_svg_frame fr = {.id = id, .title = title, .y_label = unit, .x_label = "token (slot)", .limit = common,
                       .limit_label = n ? d[0].limit_label : NULL};
    for (size_t i = 0; common > 0 && i < n; i++)
        d[i].limit = -1;
    tr_svg_distributions(h, &fr, d, n);
    snprintf(id, sizeof id, "caption-latency-%zu", k);
    caption_open(h, id);
    tr_html_fmt(h, "%zu token(s), %zu samples%s. Box: quartiles and median; whiskers: min and max; dots: the samples "
                   "(at most %d per token, spread over the sorted values). ",
                n, samples, total > samples ? " (more in samples.csv than kept)" : "", TR_SVG_STRIP_MAX);
    tr_html_raw(h, common > 0 || n == 0 ? "" : "A per-sample limit (max_ms) is drawn where results.csv records it. ");
    tr_html_raw(h, "Below: the measure's metric rows of results.csv, each limit beside its value.</p>\n");
    latency_table(h, run, metric, k);
out:
    free(d);
    free(href);
    free(lim);
}

static int stage_index(const rd_run *run, const char *name)
{
    for (size_t k = 0; k < run->nstages; k++)
        if (!strcmp(run->stages[k], name))
            return (int)k;
    return -1;
}

/* Each token's cycles at one stage: values into v (ncycles each). */
static double *stage_values(const rd_token *t, int k)
{
    double *v = malloc((t->ncycles ? t->ncycles : 1) * sizeof *v);
    for (size_t i = 0; v && i < t->ncycles; i++)
        v[i] = t->cycles[i].stage[k];
    return v;
}

static void limit_source(tr_html *h, const rd_token *t)
{
    if (t->first_apdu_limit > 0) {
        tr_html_raw(h, "FIRST_APDU_MAX_MS ");
        tr_html_num(h, t->first_apdu_limit, t->first_apdu_limit == floor(t->first_apdu_limit) ? 0 : 1);
        tr_html_raw(h, " ms, from ");
        tr_html_text(h, t->first_apdu_limit_from);
    } else {
        tr_html_raw(h, "FIRST_APDU_MAX_MS: not recorded by this run (results.csv names it only when it is broken; "
                       "provenance.csv records it)");
    }
}

static void first_apdu_plot(tr_html *h, const rd_run *run)
{
    int k = stage_index(run, "to_first_apdu");
    size_t with = 0;
    for (size_t i = 0; i < run->ntokens; i++)
        with += run->tokens[i].ncycles > 0;
    if (k < 0 || !with) {
        caption_open(h, "recognition-none");
        tr_html_raw(h, k < 0 && run->has_cycles ? "cycles.csv has no to_first_apdu_ms column." : "No power cycles in this run.");
        tr_html_raw(h, "</p>\n");
        return;
    }
    tr_svg_dist *d = calloc(with, sizeof *d);
    double **vals = calloc(with, sizeof *vals);
    href_t *href = calloc(with, sizeof *href);
    char (*lim)[64] = calloc(with, sizeof *lim);
    size_t n = 0;
    for (size_t i = 0; d && vals && href && lim && i < run->ntokens; i++) {
        const rd_token *t = &run->tokens[i];
        if (!t->ncycles || !(vals[n] = stage_values(t, k)))
            continue;
        snprintf(href[n], sizeof href[n], "#token-%zu", i);
        snprintf(lim[n], sizeof lim[n], "FIRST_APDU_MAX_MS %g ms", t->first_apdu_limit);
        d[n] = (tr_svg_dist){.label = t->slot, .href = href[n], .v = vals[n], .n = t->ncycles,
                             .limit = t->first_apdu_limit, .limit_label = lim[n]};
        n++;
    }
    if (n < with && !h->err)
        h->err = ENOMEM;
    double common = common_limit(d, n);
    tr_svg_frame fr = {.id = "plot-first-apdu", .title = "Recognition: power-on to first answer (to_first_apdu), per token",
                       .y_label = "ms", .x_label = "token (slot)", .limit = common, .limit_label = n ? d[0].limit_label : NULL};
    for (size_t i = 0; common > 0 && i < n; i++)
        d[i].limit = -1;
    if (!h->err)
        tr_svg_distributions(h, &fr, d, n);
    caption_open(h, "caption-first-apdu");
    tr_html_fmt(h, "Every power cycle of every token (%zu token(s)). The dashed line: each token's FIRST_APDU_MAX_MS where "
                   "the run recorded it; the token details say where it came from.", n);
    tr_html_raw(h, "</p>\n");
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(vals);
    free(d);
    free(href);
    free(lim);
}

void hr_plots_batch(tr_html *h, const rd_run *run)
{
    const char *names[MAX_METRIC_PLOTS];
    size_t nn = 0;
    for (size_t i = 0; i < run->ntokens; i++)
        for (size_t s = 0; s < run->tokens[i].nseries; s++) {
            const char *m = run->tokens[i].series[s].metric;
            size_t k = 0;
            while (k < nn && strcmp(names[k], m))
                k++;
            if (k == nn && nn < MAX_METRIC_PLOTS)
                names[nn++] = m;
        }
    tr_html_raw(h, "<section id=\"plots\">\n<h2>Signing latency</h2>\n");
    if (!nn) {
        caption_open(h, "latency-none");
        tr_html_raw(h, run->has_samples ? "No samples in this run (samples.csv is empty)." : "samples.csv: not written.");
        tr_html_raw(h, "</p>\n");
    }
    for (size_t k = 0; k < nn; k++)
        latency_plot(h, run, names[k], k);
    tr_html_raw(h, "<h2>Recognition cycles</h2>\n");
    first_apdu_plot(h, run);
    tr_html_raw(h, "</section>\n");
}

/* ---- one token's cycles ---------------------------------------------------------------------- */

typedef struct {
    tr_svg_stage st[RD_MAX_STAGES];
    double *y[RD_MAX_STAGES];
    size_t n;
    char missing[256]; /* stages the file has but this token never reached/measured */
    bool oom;
} stage_set;

static void stages_of(const rd_run *run, const rd_token *t, stage_set *ss)
{
    memset(ss, 0, sizeof *ss);
    for (size_t k = 0; k < run->nstages; k++) {
        bool any = false;
        for (size_t i = 0; i < t->ncycles && !any; i++)
            any = t->cycles[i].stage[k] >= 0;
        if (!any) {
            size_t used = strlen(ss->missing);
            snprintf(ss->missing + used, sizeof ss->missing - used, "%s%s", used ? ", " : "", run->stages[k]);
            continue;
        }
        if (!(ss->y[ss->n] = stage_values(t, (int)k))) {
            ss->oom = true;
            continue;
        }
        ss->st[ss->n] = (tr_svg_stage){.name = run->stages[k], .y = ss->y[ss->n]};
        ss->n++;
    }
}

static void cycles_as_distributions(tr_html *h, const tr_svg_frame *fr, const rd_token *t, const stage_set *ss)
{
    tr_svg_dist d[RD_MAX_STAGES];
    char lim[64];
    snprintf(lim, sizeof lim, "FIRST_APDU_MAX_MS %g ms", t->first_apdu_limit);
    for (size_t k = 0; k < ss->n; k++)
        d[k] = (tr_svg_dist){.label = ss->st[k].name, .v = ss->y[k], .n = t->ncycles,
                             .limit = !strcmp(ss->st[k].name, "to_first_apdu") ? t->first_apdu_limit : -1,
                             .limit_label = lim};
    tr_svg_frame f = *fr;
    f.limit = -1;
    f.x_label = "stage";
    tr_svg_distributions(h, &f, d, ss->n);
}

static void cycles_caption(tr_html *h, const rd_token *t, size_t idx, const stage_set *ss, size_t failed)
{
    char id[48];
    snprintf(id, sizeof id, "caption-cycles-%zu", idx);
    caption_open(h, id);
    tr_html_fmt(h, "%zu power cycle(s) in run order, %zu failed%s", t->ncycles, failed,
                t->cycles_total > t->ncycles ? " (more in cycles.csv than kept)" : "");
    tr_html_raw(h, t->ncycles > CYCLES_AS_POINTS ? "; one box and strip per stage. "
                                                  : "; x: the token's power cycle (the cycle column of cycles.csv "
                                                    "restarts with every test: the tooltip gives it), failed cycles "
                                                    "shaded. ");
    tr_html_raw(h, "off: how long the token was powered off; to_*: ms from power-on until that stage. ");
    if (ss->missing[0]) {
        tr_html_raw(h, "Not measured for this token: ");
        tr_html_text(h, ss->missing);
        tr_html_raw(h, ". ");
    }
    limit_source(h, t);
    tr_html_raw(h, ".</p>\n");
}

void hr_plots_token(tr_html *h, const rd_run *run, const rd_token *t, size_t idx)
{
    if (!t->ncycles)
        return;
    stage_set ss;
    stages_of(run, t, &ss);
    bool *failed = calloc(t->ncycles, sizeof *failed);
    const char **tips = calloc(t->ncycles, sizeof *tips);
    size_t nfailed = 0;
    for (size_t i = 0; failed && tips && i < t->ncycles; i++) {
        failed[i] = t->cycles[i].failed;
        tips[i] = t->cycles[i].tip;
        nfailed += failed[i];
    }
    char id[48], title[160], lim[80];
    snprintf(id, sizeof id, "plot-cycles-%zu", idx);
    snprintf(title, sizeof title, "Recognition cycles of %.40s: time of each stage", nz(t->slot));
    snprintf(lim, sizeof lim, "FIRST_APDU_MAX_MS %g ms (limit of to_first_apdu)", t->first_apdu_limit);
    tr_svg_frame fr = {.id = id, .title = title, .y_label = "ms", .x_label = "power cycle",
                       .limit = stage_index(run, "to_first_apdu") >= 0 ? t->first_apdu_limit : -1, .limit_label = lim};
    if (!failed || !tips || ss.oom)
        h->err = h->err ? h->err : ENOMEM;
    else if (t->ncycles > CYCLES_AS_POINTS)
        cycles_as_distributions(h, &fr, t, &ss);
    else
        tr_svg_cycles(h, &fr, ss.st, ss.n, t->ncycles, failed, tips);
    cycles_caption(h, t, idx, &ss, nfailed);
    for (size_t k = 0; k < ss.n; k++)
        free(ss.y[k]);
    free(failed);
    free((void *)tips);
}
