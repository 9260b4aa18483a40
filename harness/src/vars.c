#include "vars.h"

#include <stdlib.h>
#include <string.h>

struct tr_vars {
    const tr_vars *parent;
    char **names;
    char **values;
    size_t n, cap;
};

tr_vars *tr_vars_new(const tr_vars *parent)
{
    tr_vars *v = calloc(1, sizeof *v);
    if (v)
        v->parent = parent;
    return v;
}

void tr_vars_free(tr_vars *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->values[i]);
    }
    free(v->names);
    free(v->values);
    free(v);
}

static long find_local(const tr_vars *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->names[i], name) == 0)
            return (long)i;
    return -1;
}

int tr_vars_set(tr_vars *v, const char *name, const char *value)
{
    char *val = strdup(value ? value : "");
    if (!val)
        return -1;
    long i = find_local(v, name);
    if (i >= 0) {
        free(v->values[i]);
        v->values[i] = val;
        return 0;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        char **nn = realloc(v->names, cap * sizeof *nn);
        if (!nn)
            goto nomem;
        v->names = nn;
        char **nv = realloc(v->values, cap * sizeof *nv);
        if (!nv)
            goto nomem;
        v->values = nv;
        v->cap = cap;
    }
    v->names[v->n] = strdup(name);
    if (!v->names[v->n])
        goto nomem;
    v->values[v->n++] = val;
    return 0;
nomem:
    free(val);
    return -1;
}

const char *tr_vars_get(const tr_vars *v, const char *name)
{
    for (; v; v = v->parent) {
        long i = find_local(v, name);
        if (i >= 0)
            return v->values[i];
    }
    return NULL;
}

size_t tr_vars_count(const tr_vars *v) { return v->n; }
const char *tr_vars_name_at(const tr_vars *v, size_t i) { return i < v->n ? v->names[i] : NULL; }
const char *tr_vars_value_at(const tr_vars *v, size_t i) { return i < v->n ? v->values[i] : NULL; }
