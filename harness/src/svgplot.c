/* svgplot.c — see svgplot.h. Coordinates are SVG user units (= CSS px at
 * the drawn size); every plot is a frame (title, y axis with grid, x axis)
 * around its marks. Quantiles are the nearest-rank percentiles of stats.c,
 * the same as the p50/p95 of results.csv. */
#include "svgplot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Okabe-Ito: told apart with the common colour-vision deficiencies. */
static const char *const PALETTE[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                      "#56B4E9", "#D55E00", "#000000", "#F0E442"};
#define NPALETTE (sizeof PALETTE / sizeof PALETTE[0])

/* ---- axes ----------------------------------------------------------------------------- */

/* The 1-2-5 step that puts at most max_ticks ticks over span. */
static double nice_step(double span, size_t max_ticks)
{
    if (max_ticks < 2)
        max_ticks = 2;
    double raw = span / (double)(max_ticks - 1);
    if (!(raw > 0) || !isfinite(raw))
        return 1;
    double mag = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
        if (mult[i] * mag >= raw * (1 - 1e-9))
            return mult[i] * mag;
    return 10 * mag;
}

static int step_decimals(double step)
{
    int d = 0;
    while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6 * step * pow(10, d))
        d++;
    return d;
}

static void axis_ticks(tr_axis *ax)
{
    ax->first = ceil(ax->lo / ax->step - 1e-9) * ax->step;
    ax->nticks = 0;
    while (ax->nticks < 1000 && ax->first + (double)ax->nticks * ax->step <= ax->hi + ax->step * 1e-9)
        ax->nticks++;
}

void tr_axis_nice(double min, double max, size_t max_ticks, bool zero, tr_axis *ax)
{
    if (!isfinite(min) || !isfinite(max)) {
        min = 0;
        max = 1;
    }
    if (max < min) {
        double t = min;
        min = max;
        max = t;
    }
    if (zero && min >= 0)
        min = 0;
    if (max - min <= 0)
        max = min + (min > 0 ? min : 1);
    ax->step = nice_step(max - min, max_ticks);
    ax->lo = floor(min / ax->step + 1e-9) * ax->step;
    ax->hi = ceil(max / ax->step - 1e-9) * ax->step;
    ax->decimals = step_decimals(ax->step);
    axis_ticks(ax);
}

void tr_axis_int(double lo, double hi, size_t max_ticks, tr_axis *ax)
{
    if (!isfinite(lo) || !isfinite(hi) || hi <= lo) {
        lo = isfinite(lo) ? lo : 0;
        hi = lo + 1;
    }
    ax->lo = lo;
    ax->hi = hi;
    ax->step = nice_step(floor(hi) - ceil(lo), max_ticks);
    if (ax->step < 1)
        ax->step = 1;
    ax->step = round(ax->step);
    ax->decimals = 0;
    axis_ticks(ax);
}

double tr_axis_tick(const tr_axis *ax, size_t i)
{
    double v = ax->first + (double)i * ax->step;
    double k = pow(10, ax->decimals);
    return round(v * k) / k;
}

/* ---- the frame -------------------------------------------------------------------------- */

typedef struct {
    double w, h, l, r, t, b;
    tr_axis x, y;
} geom;

static double gx(const geom *g, double x)
{
    return g->l + (x - g->x.lo) / (g->x.hi - g->x.lo) * (g->w - g->l - g->r);
}

static double gy(const geom *g, double y)
{
    return g->t + (1 - (y - g->y.lo) / (g->y.hi - g->y.lo)) * (g->h - g->t - g->b);
}

static void attr_num(tr_html *h, const char *name, double v)
{
    tr_html_fmt(h, " %s=\"", name);
    tr_html_num(h, v, 1);
    tr_html_raw(h, "\"");
}

/* <tag name0="v0" ...  class= fill=/>: every shape of the plots. */
static void shape(tr_html *h, const char *tag, const char *const *names, const double *v, size_t n, const char *cls,
                  const char *fill)
{
    tr_html_fmt(h, "<%s", tag);
    for (size_t i = 0; i < n; i++)
        attr_num(h, names[i], v[i]);
    tr_html_attr(h, "class", cls);
    tr_html_attr(h, "fill", fill);
    tr_html_raw(h, "/>");
}

static void line(tr_html *h, double x1, double y1, double x2, double y2, const char *cls)
{
    static const char *const names[] = {"x1", "y1", "x2", "y2"};
    shape(h, "line", names, (const double[]){x1, y1, x2, y2}, 4, cls, NULL);
}

/* <text> at x, y; anchor "start" "middle" "end"; rotate degrees (0 none). */
static void text_at(tr_html *h, double x, double y, const char *anchor, double rotate, const char *cls,
                    const char *s)
{
    tr_html_raw(h, "<text");
    attr_num(h, "x", x);
    attr_num(h, "y", y);
    tr_html_attr(h, "text-anchor", anchor);
    tr_html_attr(h, "class", cls);
    if (rotate != 0) {
        tr_html_raw(h, " transform=\"rotate(");
        tr_html_num(h, rotate, 0);
        tr_html_raw(h, " ");
        tr_html_num(h, x, 1);
        tr_html_raw(h, " ");
        tr_html_num(h, y, 1);
        tr_html_raw(h, ")\"");
    }
    tr_html_raw(h, ">");
    tr_html_text(h, s);
    tr_html_raw(h, "</text>");
}

static void tick_label(tr_html *h, double x, double y, const char *anchor, const tr_axis *ax, size_t i)
{
    tr_html_raw(h, "<text");
    attr_num(h, "x", x);
    attr_num(h, "y", y);
    tr_html_attr(h, "text-anchor", anchor);
    tr_html_raw(h, " class=\"tick\">");
    tr_html_num(h, tr_axis_tick(ax, i), ax->decimals);
    tr_html_raw(h, "</text>");
}

static void svg_open(tr_html *h, const tr_svg_frame *fr, const geom *g)
{
    tr_html_raw(h, "<svg class=\"plot\"");
    tr_html_attr(h, "id", fr->id);
    tr_html_raw(h, " viewBox=\"0 0 ");
    tr_html_num(h, g->w, 0);
    tr_html_raw(h, " ");
    tr_html_num(h, g->h, 0);
    tr_html_raw(h, "\"");
    attr_num(h, "width", g->w);
    attr_num(h, "height", g->h);
    tr_html_raw(h, " role=\"img\"><title>");
    tr_html_text(h, fr->title);
    tr_html_raw(h, "</title>");
    text_at(h, g->l, 15, "start", 0, "pt", fr->title);
}

/* Grid, y ticks and labels, the axis names. */
static void y_axis(tr_html *h, const tr_svg_frame *fr, const geom *g)
{
    for (size_t i = 0; i < g->y.nticks; i++) {
        double y = gy(g, tr_axis_tick(&g->y, i));
        line(h, g->l, y, g->w - g->r, y, "grid");
        tick_label(h, g->l - 5, y + 4, "end", &g->y, i);
    }
    line(h, g->l, g->t, g->l, g->h - g->b, "axis");
    line(h, g->l, g->h - g->b, g->w - g->r, g->h - g->b, "axis");
    if (fr->y_label)
        text_at(h, 13, (g->t + g->h - g->b) / 2, "middle", -90, "al", fr->y_label);
    if (fr->x_label)
        text_at(h, (g->l + g->w - g->r) / 2, g->h - 6, "middle", 0, "al", fr->x_label);
}

/* A dashed limit line from x1 to x2 at value v, its label above its right end. */
static void limit_line(tr_html *h, const geom *g, double x1, double x2, double v, const char *label)
{
    double y = gy(g, v);
    tr_html_raw(h, "<g class=\"limit\"><title>");
    tr_html_text(h, label ? label : "limit");
    tr_html_raw(h, "</title>");
    line(h, x1, y, x2, y, "lim");
    if (label)
        text_at(h, x2 - 2, y - 4, "end", 0, "liml", label);
    tr_html_raw(h, "</g>");
}

static void no_data(tr_html *h, const geom *g)
{
    text_at(h, (g->l + g->w - g->r) / 2, (g->t + g->h - g->b) / 2, "middle", 0, "al", "no data");
}

/* ---- distributions ----------------------------------------------------------------------- */

/* The usable samples of d, sorted; NULL when none (or no memory). */
static double *sorted_samples(const tr_svg_dist *d, size_t *n)
{
    *n = 0;
    double *s = d->n ? malloc(d->n * sizeof *s) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (isfinite(d->v[i]) && d->v[i] >= 0)
            s[(*n)++] = d->v[i];
    if (!*n) {
        free(s);
        return NULL;
    }
    tr_stats st;
    tr_stats_compute(s, *n, &st); /* sorts */
    return s;
}

static double dist_max(const tr_svg_frame *fr, const tr_svg_dist *d, size_t n, bool *any)
{
    double max = fr->limit > 0 ? fr->limit : 0;
    *any = false;
    for (size_t i = 0; i < n; i++) {
        if (d[i].limit > max)
            max = d[i].limit;
        for (size_t k = 0; k < d[i].n; k++)
            if (isfinite(d[i].v[k]) && d[i].v[k] >= 0) {
                *any = true;
                if (d[i].v[k] > max)
                    max = d[i].v[k];
            }
    }
    return max;
}

/* A deterministic jitter in [-0.5, 0.5): the same page for the same data. */
static double jitter(size_t k)
{
    uint32_t x = (uint32_t)k * 2654435761u;
    x ^= x >> 15;
    return (double)(x % 1000) / 1000.0 - 0.5;
}

static void box_title(tr_html *h, const tr_svg_dist *d, const double *s, size_t n)
{
    static const struct {
        const char *name;
        double p;
    } q[] = {{"min", 0}, {"p25", 25}, {"median", 50}, {"p75", 75}, {"p95", 95}, {"max", 100}};
    tr_html_raw(h, "<title>");
    tr_html_text(h, d->label);
    tr_html_fmt(h, ": n=%zu", n);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        tr_html_fmt(h, ", %s ", q[i].name);
        tr_html_num(h, q[i].p == 0 ? s[0] : tr_percentile(s, n, q[i].p), 3);
    }
    tr_html_raw(h, "</title>");
}

static void rect(tr_html *h, double x, double y, double w, double ht, const char *cls, const char *fill)
{
    static const char *const names[] = {"x", "y", "width", "height"};
    shape(h, "rect", names, (const double[]){x, y, w < 0 ? 0 : w, ht < 0 ? 0 : ht}, 4, cls, fill);
}

static void circle(tr_html *h, double x, double y, double r, const char *fill, const char *cls)
{
    static const char *const names[] = {"cx", "cy", "r"};
    shape(h, "circle", names, (const double[]){x, y, r}, 3, cls, fill);
}

/* Box, whiskers, median and the strip of one category at x (width bw). */
static void one_box(tr_html *h, const geom *g, const tr_svg_dist *d, double x, double bw, const char *colour)
{
    size_t n;
    double *s = sorted_samples(d, &n);
    if (!s)
        return;
    double q1 = tr_percentile(s, n, 25), med = tr_percentile(s, n, 50), q3 = tr_percentile(s, n, 75);
    tr_html_raw(h, "<g class=\"box\">");
    box_title(h, d, s, n);
    line(h, x, gy(g, s[0]), x, gy(g, s[n - 1]), "whisker");
    line(h, x - bw / 4, gy(g, s[0]), x + bw / 4, gy(g, s[0]), "whisker");
    line(h, x - bw / 4, gy(g, s[n - 1]), x + bw / 4, gy(g, s[n - 1]), "whisker");
    rect(h, x - bw / 2, gy(g, q3), bw, gy(g, q1) - gy(g, q3), "iqr", colour);
    line(h, x - bw / 2, gy(g, med), x + bw / 2, gy(g, med), "median");
    size_t k = n < TR_SVG_STRIP_MAX ? n : TR_SVG_STRIP_MAX;
    for (size_t j = 0; j < k; j++) {
        size_t idx = k > 1 ? j * (n - 1) / (k - 1) : 0; /* evenly through the sorted samples */
        circle(h, x + jitter(j) * bw * 0.9, gy(g, s[idx]), 1.8, colour, "dot");
    }
    tr_html_raw(h, "</g>");
    free(s);
}

static void category_label(tr_html *h, const geom *g, const tr_svg_dist *d, double x, bool rotate)
{
    if (d->href) {
        tr_html_raw(h, "<a");
        tr_html_attr(h, "href", d->href);
        tr_html_raw(h, ">");
    }
    text_at(h, x, g->h - g->b + 14, rotate ? "end" : "middle", rotate ? -40 : 0, "cat", d->label);
    if (d->href)
        tr_html_raw(h, "</a>");
}

/* Labels turned when the widest would not fit under its category. */
static bool labels_turned(const tr_svg_dist *d, size_t n, double cw)
{
    size_t widest = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i].label && strlen(d[i].label) > widest)
            widest = strlen(d[i].label);
    return (double)widest * 6.5 > cw * 0.9;
}

void tr_svg_distributions(tr_html *h, const tr_svg_frame *fr, const tr_svg_dist *d, size_t n)
{
    geom g = {.w = 100 + 40 * (double)(n < 16 ? 16 : n), .h = 280, .l = 60, .r = 16, .t = 30, .b = 46};
    g.x.lo = 0;
    g.x.hi = (double)(n ? n : 1);
    bool rotate = labels_turned(d, n, gx(&g, 1) - gx(&g, 0));
    if (rotate) {
        g.h += 50;
        g.b += 50;
    }
    bool any;
    double max = dist_max(fr, d, n, &any);
    tr_axis_nice(0, max * 1.05, 7, true, &g.y);
    svg_open(h, fr, &g);
    y_axis(h, fr, &g);
    double cw = gx(&g, 1) - gx(&g, 0), bw = cw * 0.55 > 40 ? 40 : cw * 0.55;
    for (size_t i = 0; i < n; i++) {
        double x = gx(&g, (double)i + 0.5);
        one_box(h, &g, &d[i], x, bw, PALETTE[0]);
        if (d[i].limit > 0)
            limit_line(h, &g, x - cw * 0.45, x + cw * 0.45, d[i].limit, d[i].limit_label);
        category_label(h, &g, &d[i], x, rotate);
    }
    if (fr->limit > 0)
        limit_line(h, &g, g.l, g.w - g.r, fr->limit, fr->limit_label);
    if (!any)
        no_data(h, &g);
    tr_html_raw(h, "</svg>");
}

/* ---- cycles ------------------------------------------------------------------------------- */

static void path_point(tr_html *h, const char *cmd, double x, double y)
{
    tr_html_raw(h, cmd);
    tr_html_num(h, x, 1);
    tr_html_raw(h, " ");
    tr_html_num(h, y, 1);
}

/* Marker of stage k at x, y: shape and colour by stage (circle, square,
 * triangle, diamond; the colours go on past four). */
static void marker(tr_html *h, size_t k, double x, double y)
{
    static const double tri[][2] = {{0, -1.2}, {1.2, 1}, {-1.2, 1}};
    static const double dia[][2] = {{0, -1.3}, {1.3, 0}, {0, 1.3}, {-1.3, 0}};
    const char *c = PALETTE[k % NPALETTE];
    double r = 3.5;
    if (k % 4 == 0) {
        circle(h, x, y, r, c, "mk");
        return;
    }
    if (k % 4 == 1) {
        rect(h, x - r, y - r, 2 * r, 2 * r, "mk", c);
        return;
    }
    const double(*pts)[2] = k % 4 == 2 ? tri : dia;
    size_t np = k % 4 == 2 ? 3 : 4;
    tr_html_raw(h, "<path class=\"mk\"");
    tr_html_attr(h, "fill", c);
    tr_html_raw(h, " d=\"");
    for (size_t i = 0; i < np; i++)
        path_point(h, i ? " L" : "M", x + pts[i][0] * r, y + pts[i][1] * r);
    tr_html_raw(h, " Z\"/>");
}

static void legend(tr_html *h, const geom *g, const tr_svg_stage *s, size_t nstages)
{
    double x = g->l;
    for (size_t k = 0; k < nstages; k++) {
        marker(h, k, x + 4, 30);
        text_at(h, x + 12, 34, "start", 0, "leg", s[k].name);
        x += 24 + 6.5 * (double)strlen(s[k].name);
    }
}

static double cycles_max(const tr_svg_frame *fr, const tr_svg_stage *s, size_t nstages, size_t ncycles)
{
    double max = fr->limit > 0 ? fr->limit : 0;
    for (size_t k = 0; k < nstages; k++)
        for (size_t i = 0; i < ncycles; i++)
            if (isfinite(s[k].y[i]) && s[k].y[i] > max)
                max = s[k].y[i];
    return max;
}

static void cycle_band(tr_html *h, const geom *g, size_t i, const char *tip)
{
    tr_html_raw(h, "<g class=\"failed\"><title>");
    tr_html_fmt(h, "cycle %zu failed", i + 1);
    if (tip) {
        tr_html_raw(h, ": ");
        tr_html_text(h, tip);
    }
    tr_html_raw(h, "</title>");
    rect(h, gx(g, (double)i + 0.5), g->t, gx(g, 1) - gx(g, 0), g->h - g->t - g->b, "band", NULL);
    tr_html_raw(h, "</g>");
}

static void stage_marks(tr_html *h, const geom *g, const tr_svg_stage *s, size_t k, size_t nstages,
                        size_t ncycles, const char *const *tip)
{
    double spread = 0.7 / (double)nstages < 0.16 ? 0.7 / (double)nstages : 0.16;
    double dx = ((double)k - (double)(nstages - 1) / 2) * spread;
    for (size_t i = 0; i < ncycles; i++) {
        double v = s[k].y[i];
        if (!isfinite(v) || v < 0)
            continue;
        tr_html_raw(h, "<g><title>");
        tr_html_fmt(h, "cycle %zu, ", i + 1);
        tr_html_text(h, s[k].name);
        tr_html_raw(h, ": ");
        tr_html_num(h, v, 1);
        tr_html_raw(h, " ms");
        if (tip && tip[i]) {
            tr_html_raw(h, " \xE2\x80\x94 ");
            tr_html_text(h, tip[i]);
        }
        tr_html_raw(h, "</title>");
        marker(h, k, gx(g, (double)(i + 1) + dx), gy(g, v));
        tr_html_raw(h, "</g>");
    }
}

void tr_svg_cycles(tr_html *h, const tr_svg_frame *fr, const tr_svg_stage *s, size_t nstages,
                   size_t ncycles, const bool *failed, const char *const *tip)
{
    geom g = {.w = 640, .h = 270, .l = 60, .r = 16, .t = 44, .b = 46};
    tr_axis_int(0.5, (double)ncycles + 0.5, 12, &g.x);
    tr_axis_nice(0, cycles_max(fr, s, nstages, ncycles) * 1.05, 7, true, &g.y);
    svg_open(h, fr, &g);
    legend(h, &g, s, nstages);
    for (size_t i = 0; failed && i < ncycles; i++)
        if (failed[i])
            cycle_band(h, &g, i, tip ? tip[i] : NULL);
    y_axis(h, fr, &g);
    for (size_t i = 0; i < g.x.nticks; i++) {
        double x = gx(&g, tr_axis_tick(&g.x, i));
        line(h, x, g.h - g.b, x, g.h - g.b + 4, "axis");
        tick_label(h, x, g.h - g.b + 16, "middle", &g.x, i);
    }
    for (size_t k = 0; k < nstages; k++)
        stage_marks(h, &g, s, k, nstages, ncycles, tip);
    if (fr->limit > 0)
        limit_line(h, &g, g.l, g.w - g.r, fr->limit, fr->limit_label);
    if (!ncycles || !nstages)
        no_data(h, &g);
    tr_html_raw(h, "</svg>");
}

/* ---- bars ----------------------------------------------------------------------------------- */

static void one_bar(tr_html *h, const geom *g, const tr_svg_bar *b, size_t i, double bw)
{
    double x = gx(g, (double)i + 0.5);
    double p = isfinite(b->percent) ? b->percent < 0 ? 0 : b->percent > 100 ? 100 : b->percent : 0;
    tr_html_raw(h, "<g class=\"bar\"><title>");
    tr_html_text(h, b->tip ? b->tip : b->label);
    tr_html_raw(h, "</title>");
    rect(h, x - bw / 2, gy(g, p), bw, gy(g, 0) - gy(g, p), b->highlight ? "cur" : "prev", NULL);
    if (b->text)
        text_at(h, x, gy(g, p) - 3, "middle", 0, "bt", b->text);
    tr_html_raw(h, "</g>");
    text_at(h, x, g->h - g->b + 12, "end", -35, b->highlight ? "cat curl" : "cat", b->label);
}

void tr_svg_bars(tr_html *h, const tr_svg_frame *fr, const tr_svg_bar *b, size_t n)
{
    geom g = {.w = 100 + 34 * (double)(n < 12 ? 12 : n), .h = 330, .l = 60, .r = 16, .t = 30, .b = 140};
    tr_axis_nice(0, 100, 6, true, &g.y);
    g.x.lo = 0;
    g.x.hi = (double)(n ? n : 1);
    svg_open(h, fr, &g);
    y_axis(h, fr, &g);
    double cw = gx(&g, 1) - gx(&g, 0), bw = cw * 0.7 > 28 ? 28 : cw * 0.7;
    for (size_t i = 0; i < n; i++)
        one_bar(h, &g, &b[i], i, bw);
    if (fr->limit > 0)
        limit_line(h, &g, g.l, g.w - g.r, fr->limit, fr->limit_label);
    if (!n)
        no_data(h, &g);
    tr_html_raw(h, "</svg>");
}
