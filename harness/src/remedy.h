/* remedy.h — what the bench engineer does next, per classification.
 *
 * Owns: one table, one row per classification the suites and the harness
 * give (README's fault table, the suites' `classify` lines, the harness's
 * io.* enum.* rig.* not-run.* codes), each with the next step at the bench
 * ("quarantine the lot and return it to the vendor", "reseat or replace the
 * hub port, then retest"); rows for a family ("pin.") for codes of it
 * without a row of their own; a generic hint for anything else.
 * Must not: decide verdicts.
 */
#ifndef TR_REMEDY_H
#define TR_REMEDY_H

#include <stdbool.h>

typedef enum {
    TR_REMEDY_EXACT,   /* the code has a row of its own */
    TR_REMEDY_FAMILY,  /* the row of its family ("pin.") */
    TR_REMEDY_GENERIC  /* neither */
} tr_remedy_match;

/* The hint for code (never NULL); *match (may be NULL) says how it was
 * found. */
const char *tr_remedy_hint(const char *code, tr_remedy_match *match);

#endif
