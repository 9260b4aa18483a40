/* manifest.h — the batch manifest (CSV): which tokens QA expects, and as what.
 *
 * Owns: reading the manifest with libcsv (header row naming the columns:
 * serial, role, org, not_after, and optionally slot), validating each row
 * with file:line errors (fail closed: the header names every required
 * column once; every row has as many fields as the header and a value for
 * serial, role (main | secondary), org and not_after (a real YYYY-MM-DD
 * date); a value too long for its field is refused, never cut; serials are
 * unique; an optional batch column names one batch: rows that give it give
 * the same), giving a slot its expectations as suite variables
 * (EXPECTED_ROLE, EXPECTED_ORG, EXPECTED_NOT_AFTER, IN_MANIFEST), and
 * reporting manifest entries with no token and tokens with no entry.
 * Must not: talk to tokens.
 */
#ifndef TR_MANIFEST_H
#define TR_MANIFEST_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "reports.h"
#include "vars.h"

typedef struct {
    char serial[64], role[16], org[128], not_after[16], slot[TR_NAME_MAX];
    int line;
    int matched; /* a slot of the rig carries this token */
} tr_manifest_entry;

typedef struct {
    char path[TR_PATH_MAX];
    tr_manifest_entry *entries;
    size_t n;
    char batch[128];  /* the batch column's value, "" when the manifest has none */
} tr_manifest;

int tr_manifest_load(const char *path, tr_manifest *m, tr_err *e);
void tr_manifest_free(tr_manifest *m);
const tr_manifest_entry *tr_manifest_find(const tr_manifest *m, const char *serial, const char *slot);
/* Set the slot's expectations (IN_MANIFEST=1/0 and the EXPECTED_* values). */
int tr_manifest_apply(tr_manifest *m, const char *serial, const char *slot, tr_vars *vars, tr_err *e);
/* One result row per manifest entry no slot of the rig carries (suite
 * "manifest", verdict error, classification manifest.no-token), each also
 * said on stderr. Call after tr_manifest_apply has been called for every
 * slot. -1 with e set when a row could not be written. */
__attribute__((warn_unused_result))
int tr_manifest_report_unmatched(const tr_manifest *m, tr_reports *rep, const char *run_id, const char *rig,
                                 tr_err *e);

#endif
