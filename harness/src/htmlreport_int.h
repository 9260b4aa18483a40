/* htmlreport_int.h — what htmlreport.c (the page) and htmlplots.c (its
 * plots) share. Not for other modules: they use htmlreport.h. */
#ifndef TR_HTMLREPORT_INT_H
#define TR_HTMLREPORT_INT_H

#include "html.h"
#include "reportdir.h"

/* The batch plots: signing latency per token (one plot per sampled
 * metric), power-on -> first answer per token. */
void hr_plots_batch(tr_html *h, const rd_run *run);
/* One token's recognition cycles, every stage (its details section);
 * idx is its place in run->tokens (ids in the page). */
void hr_plots_token(tr_html *h, const rd_run *run, const rd_token *t, size_t idx);

#endif
