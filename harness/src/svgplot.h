/* svgplot.h — the report's plots as inline SVG.
 *
 * Owns: axes (tick positions and labels: 1-2-5 steps; whole numbers only
 * on an integer axis such as a cycle count, never 1.5 cycles), and three
 * kinds of plot, each drawn for what it shows:
 * - distributions: one box (quartiles, median, whiskers min..max) and the
 *   samples as a strip of dots per category (a token, a stage) — for many
 *   samples whose order means nothing;
 * - cycles: a few power cycles of one token on an integer cycle axis, one
 *   marker shape and colour per stage, the stages side by side within a
 *   cycle (none hidden behind another), no connecting lines (cycles are
 *   separate events), failed cycles shaded;
 * - bars: a percentage per category (the yield of a batch).
 * A limit is a dashed line with its name and value: across the plot, or
 * over the one category it applies to.
 * Every text goes through tr_html (escaped); the SVG is HTML5 inline SVG
 * (no xmlns, no external reference).
 * Must not: read files or know what a token or a report is.
 */
#ifndef TR_SVGPLOT_H
#define TR_SVGPLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "html.h"

/* An axis over [lo, hi] (the drawn range) with nticks ticks first,
 * first + step, ...; decimals: digits after the point in tick labels. */
typedef struct {
    double lo, hi;
    double first, step;
    size_t nticks;
    int decimals;
} tr_axis;

/* A value axis: [min, max] widened to whole steps (from 0 when zero is
 * true and min >= 0), at most max_ticks ticks (>= 2). */
void tr_axis_nice(double min, double max, size_t max_ticks, bool zero, tr_axis *ax);
/* An integer axis drawn over [lo, hi]: ticks on whole numbers only, step a
 * whole 1, 2, 5, 10, ..., labels without decimals. */
void tr_axis_int(double lo, double hi, size_t max_ticks, tr_axis *ax);
/* Tick i's value (first + i * step, rounded to the axis's decimals). */
double tr_axis_tick(const tr_axis *ax, size_t i);

/* What every plot has. */
typedef struct {
    const char *id;          /* the <svg>'s id (unique in the page) */
    const char *title;       /* drawn above the plot */
    const char *y_label;     /* "ms", "yield %" */
    const char *x_label;
    double limit;            /* a limit across the whole plot; < 0 none */
    const char *limit_label; /* "FIRST_APDU_MAX_MS 1500 ms" */
} tr_svg_frame;

/* One category of a distributions plot. */
typedef struct {
    const char *label;       /* under the axis */
    const char *href;        /* the label links there ("#token-3"); NULL none */
    const double *v;         /* samples (negative and non-finite ones skipped) */
    size_t n;
    double limit;            /* a limit over this category only; < 0 none */
    const char *limit_label;
} tr_svg_dist;

/* Dots per category at most (the box is computed from all samples). */
#define TR_SVG_STRIP_MAX 300

void tr_svg_distributions(tr_html *h, const tr_svg_frame *fr, const tr_svg_dist *d, size_t n);

/* One stage of a cycles plot: y[i] of cycle i+1 (< 0: not reached). */
typedef struct {
    const char *name;
    const double *y;
} tr_svg_stage;

/* Cycles 1..ncycles of one token; failed[i] (may be NULL) shades cycle
 * i+1, tip[i] (may be NULL) is its tooltip. */
void tr_svg_cycles(tr_html *h, const tr_svg_frame *fr, const tr_svg_stage *s, size_t nstages,
                   size_t ncycles, const bool *failed, const char *const *tip);

typedef struct {
    const char *label;   /* under the bar */
    const char *tip;     /* tooltip */
    double percent;      /* 0..100 */
    const char *text;    /* over the bar ("12/15") */
    bool highlight;      /* drawn in another colour (this run) */
} tr_svg_bar;

void tr_svg_bars(tr_html *h, const tr_svg_frame *fr, const tr_svg_bar *b, size_t n);

#endif
