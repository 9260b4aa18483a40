/* vars.h — named string variables: profile, rig, command line (-D), and the
 * suite's own (capture, let).
 *
 * Owns: an ordered name -> value map with copy semantics and layering
 * (a child scope falls back to its parent), so a slot's variables are the
 * profile's, overridden by the rig slot's, overridden by -D, overridden by
 * what the suite sets — without copying the lower layers.
 * Each value remembers where it came from (its source: "profile PATH",
 * "rig PATH [slot A1]", "-D"...), for the run's provenance: a layer has a
 * current source that every set takes until it is changed.
 * Must not: interpret values (hex, PIN, numbers are the interpreter's).
 */
#ifndef TR_VARS_H
#define TR_VARS_H

#include <stddef.h>

typedef struct tr_vars tr_vars;

/* parent may be NULL; it must outlive the child and is never modified. */
tr_vars *tr_vars_new(const tr_vars *parent);
void tr_vars_free(tr_vars *v);

/* Set (copying name and value) in this layer. Returns 0, -1 on no memory. */
int tr_vars_set(tr_vars *v, const char *name, const char *value);
/* Look up in this layer, then the parents. NULL when unset. */
const char *tr_vars_get(const tr_vars *v, const char *name);
/* Number of names in this layer only, and the i-th of them (insertion order). */
size_t tr_vars_count(const tr_vars *v);
const char *tr_vars_name_at(const tr_vars *v, size_t i);
const char *tr_vars_value_at(const tr_vars *v, size_t i);

/* Where the values set in this layer from now on come from (copied; NULL:
 * not said). Returns 0, -1 on no memory. */
int tr_vars_set_source(tr_vars *v, const char *source);
/* The source of the value tr_vars_get(v, name) gives; NULL when unset or
 * not said. */
const char *tr_vars_source(const tr_vars *v, const char *name);
/* Every name visible through v (this layer and its parents, each once),
 * sorted by name (strcmp), in a NULL-terminated array whose strings are
 * v's and its parents' own (valid while they are unchanged); free() the
 * array only. NULL on no memory. */
const char **tr_vars_names(const tr_vars *v);

#endif
