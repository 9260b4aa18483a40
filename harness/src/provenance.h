/* provenance.h — what a run was measured against, recorded with its results.
 *
 * Owns: the facts a QA lead needs a year later to tell what a verdict was
 * measured against, as rows (slot, name, value, source) of the run's
 * provenance (reports.h: provenance.csv and the JUnit properties): the
 * tool's version, the command line, files by SHA-256 (suites, interface
 * libraries, profiles, rig, manifest), every slot's effective suite
 * variables with the layer each came from. The run engine (run.c) decides
 * which rows a run has; this module makes them.
 * PINs: a variable whose name says PIN (tr_var_is_pin: DEFAULT_PIN, SO_PIN,
 * OP_NEW_PIN...) is recorded as "<pin>", in the variables and in the
 * command line (-D USER_PIN=<pin>).
 * Must not: decide verdicts, talk to tokens, write files itself.
 */
#ifndef TR_PROVENANCE_H
#define TR_PROVENANCE_H

#include <stddef.h>

#include "error.h"
#include "reports.h"
#include "vars.h"

/* The version tokenrig was built as: `git describe` of its source tree at
 * build time, else "unknown". */
const char *tr_version(void);

/* path made absolute (realpath; as given when that fails): a source must
 * still say which file a year later, from any directory. */
void tr_prov_abs(const char *path, char *out, size_t cap);

/* SHA-256 of a file, 64 lowercase hex digits. -1 with e set when it cannot
 * be read. */
TR_MUST_CHECK int tr_prov_sha256_file(const char *path, char hex[65], tr_err *e);

/* The writers below return -1 with e (provenance.csv and why: a full disk,
 * EIO; or no memory) when a row could not be written; the reports keep the
 * failure too (the run's exit status is 2). */

/* One row (who NULL: run-wide). */
TR_MUST_CHECK int tr_prov_row(tr_reports *r, const tr_slot_id *who, const char *name, const char *value,
                              const char *source, tr_err *e);
/* "<what>.sha256": the file's hash, source its path (a file that cannot be
 * read says so in the value). */
TR_MUST_CHECK int tr_prov_file(tr_reports *r, const tr_slot_id *who, const char *what, const char *path, tr_err *e);
/* The run-wide rows every run (and recognition loop) records: tool.version,
 * command, host, run_id, rig (its name; source its file) and rig.sha256
 * (when rig_path names a file). Stops at the first row not written. */
TR_MUST_CHECK int tr_prov_run_facts(tr_reports *r, const char *command, const char *run_id, const char *rig_name,
                                    const char *rig_path, tr_err *e);
/* "var.NAME" for every variable visible through vars (its layers and
 * their parents), sorted by name: the value (PINs "<pin>") and where it
 * came from (tr_vars_source; "" when not said). */
TR_MUST_CHECK int tr_prov_vars(tr_reports *r, const tr_slot_id *who, const tr_vars *vars, tr_err *e);

#endif
