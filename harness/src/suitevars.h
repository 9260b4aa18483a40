/* suitevars.h — what a suite needs from outside: the variables it reads
 * that it does not set itself.
 *
 * Owns: walking a parsed suite (script.h) for every variable it reads
 * (expressions, ${...} substitutions, requires), every variable it sets
 * (let, capture, for, read-binary, and the outputs of cert-info and
 * seal-info: TR_CERT_INFO_OUTPUTS / TR_SEAL_INFO_OUTPUTS, which interp.c
 * checks against what those statements really set), and every name it
 * guards with defined(NAME); and the check, before any token is touched,
 * that a slot's variables (profile, rig, manifest, -D) give every other
 * name the suite reads — a missing one is a configuration error naming the
 * variable and the suite file:line:col, not a token verdict.
 * Must not: evaluate anything, read variables beyond asking whether a name
 * is set, talk to tokens.
 *
 * Soundness: a name the suite sets anywhere counts as the suite's own (the
 * interpreter reports reading it before it was set as a suite bug); a name
 * the suite tests with defined(NAME) anywhere counts as optional (the suite
 * says it copes without it), and defined() with a computed name guards
 * nothing. What this check lets through, the interpreter catches at run
 * time: an unset variable that is not the suite's own is a `config` error
 * (tr_suite_vars_sets).
 */
#ifndef TR_SUITEVARS_H
#define TR_SUITEVARS_H

#include <stdbool.h>

#include "error.h"
#include "script.h"
#include "vars.h"

/* The variables cert-info and seal-info set (NULL-terminated). */
extern const char *const TR_CERT_INFO_OUTPUTS[];
extern const char *const TR_SEAL_INFO_OUTPUTS[];

typedef struct tr_suite_vars tr_suite_vars;

/* Scan a suite, and the ops of the interface library lib (may be NULL)
 * that it calls (`call`, and the ops `pin-model` calls), transitively:
 * those run inside its tests. NULL on no memory. */
tr_suite_vars *tr_suite_vars_scan(const tr_suite *suite, const tr_suite *lib);
void tr_suite_vars_free(tr_suite_vars *sv);
/* Does the suite set name itself (let, capture, for, read-binary, or an
 * output of a cert-info / seal-info it contains)? */
bool tr_suite_vars_sets(const tr_suite_vars *sv, const char *name);

/* Every variable the suite reads — not a built-in, not set by the suite,
 * not guarded by defined() — must be set in vars. Otherwise TR_E_CONFIG at
 * the suite file:line:col of its first read (a read in a library op the
 * suite calls: the library's file:line:col, after any read of the suite's own): "profile <profile> does not
 * set <NAME>, which the suite reads (for <whom>; give it in the profile,
 * the rig (var.NAME) or with -D NAME=...)", with the other missing names
 * after it. whom says which slot this is for ("slot A1"). */
int tr_suite_check_vars(const tr_suite *suite, const tr_suite *lib, const tr_vars *vars, const char *profile,
                        const char *whom, tr_err *e);

#endif
