/* faultnames.h — the names of the REF-1 fault table (README, "Fault detection
 * table") that a virtual slot may carry: `faults = ...` in a rig file.
 *
 * Owns: which fault names exist, which argument each takes (none, a count in
 * a range, a probability, MS[:INS]) and which ones the rig realizes by the
 * PKI files it gives the token rather than by a vtoken switch. The rig file
 * is checked against it when it is read (config.c), so that a misspelt fault
 * is a configuration error naming the file and line, not a token that never
 * arrives. vtoken's own parser (fixtures/vtoken/ref1.c, ref1_fault_parse)
 * takes exactly these names and ranges; check_ref1 proves the two agree.
 * Must not: know what a fault does (vtoken and vrig.c do).
 */
#ifndef TR_FAULTNAMES_H
#define TR_FAULTNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TR_FARG_NONE,    /* a switch: NAME */
    TR_FARG_COUNT,   /* NAME=N, N in min..max */
    TR_FARG_PROB,    /* NAME=P, P in 0..1 */
    TR_FARG_MS_INS,  /* NAME=MS[:INS], MS in min..max, INS two hex digits */
} tr_fault_arg;

typedef struct {
    const char *name;
    tr_fault_arg arg;
    const char *arg_name;  /* how the argument is written in messages ("K", "MS") */
    uint64_t min, max;     /* TR_FARG_COUNT, TR_FARG_MS_INS */
    bool rig;              /* realized by the rig's PKI files, not a vtoken switch */
} tr_fault_def;

/* The table, in the fault table's order; *n its length. */
const tr_fault_def *tr_fault_defs(size_t *n);

/* The entry for NAME (no "=ARG"), or NULL. */
const tr_fault_def *tr_fault_find(const char *name);

/* Whether spec (NAME or NAME=ARG) names a fault of the table with a
 * well-formed argument. false with why ("unknown fault 'x'", "fault
 * bad-signature needs a value: bad-signature=K, K in 1..1000000000") in
 * why[0..cap). */
bool tr_fault_check(const char *spec, char *why, size_t cap);

/* "counter-reset-on-power, no-lockout, ..., bad-signature=K, ..." into
 * out[0..cap) (truncated to fit). */
void tr_fault_list(char *out, size_t cap);

#endif
