/* htmlreport.h — report.html: one self-contained page about one run.
 *
 * Owns: the page made from a report directory (reportdir.h): the batch
 * verdict and yield; the token table (failing tokens first, sortable by a
 * click on a header); per token a details section (the failing table rows
 * link to it) with each failed or errored test's message, the remediation
 * hint of its class (remedy.h) and the trace excerpt of that test (PINs
 * masked); the signing-latency and recognition-cycle plots (svgplot.h) with
 * the limits that apply; the yield of earlier batches of each profile
 * (yieldhist.h); what the run recorded about itself (provenance.csv,
 * junit.xml properties, which files are there).
 * Self-contained: inline CSS, one small inline script (sorting, and a
 * marker attribute on <body>: data-script="ok" once it ran, or
 * data-script-error with the message), inline SVG; no URL outside the
 * page, nothing fetched.
 * Must not: decide verdicts (summary.csv's are shown), or change any other
 * file of the directory.
 */
#ifndef TR_HTMLREPORT_H
#define TR_HTMLREPORT_H

#include "error.h"
#include "yieldhist.h"

typedef struct {
    /* Where the yield of earlier batches comes from; NULL: the run
     * directories beside dir (tr_yield_source_dirs). */
    tr_yield_source *history;
    /* The command that wrote the page, for its footer ("tokenrig run"). */
    const char *written_by;
} tr_html_report_opts;

#define TR_HTML_HISTORY_RUNS 20 /* newest runs of a profile in the yield chart */

/* Read the report directory dir and write the page to out (NULL:
 * dir/report.html) atomically. o may be NULL. 0, or -1 with e set (dir is
 * not a report directory, or the page could not be written: out keeps its
 * old content then). */
__attribute__((warn_unused_result))
int tr_html_report_write(const char *dir, const char *out, const tr_html_report_opts *o, tr_err *e);

#endif
