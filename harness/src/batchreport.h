/* batchreport.h — report.html of a batch certified on several hosts (or in
 * several runs): one page from the results database.
 *
 * Owns: the batch page — the batch verdict and yield over every run of the
 * batch (per token its latest run counts: tr_db_batch), the hosts and runs,
 * the token table (failing tokens first; each token's run linked to that
 * run's own report.html when its directory is beside the page), and per
 * failing token the failed tests with their classes and what the bench
 * engineer does next (remedy.h). Self-contained like a run's page: inline
 * CSS, no script needed, nothing external.
 * Must not: decide a verdict other than the database's (tr_db_batch_status),
 * or write anything but the page.
 */
#ifndef TR_BATCHREPORT_H
#define TR_BATCHREPORT_H

#include "db.h"
#include "error.h"

/* Write the page of batch to out (atomically). reports_dir: where the
 * runs' directories may be (their report.html linked when present), NULL
 * none. 0, or -1 with e set: TR_E_USAGE for a batch the database has no
 * run of. */
__attribute__((warn_unused_result))
int tr_batch_report_write(tr_db *db, const char *batch, const char *reports_dir, const char *out, tr_err *e);

#endif
