#include "vars.h"

#include <stdlib.h>
#include <string.h>

struct tr_vars {
    const tr_vars *parent;
    char **names;
    char **values;
    int *src;          /* per entry: index into sources, -1 not said */
    size_t n, cap;
    char **sources;    /* the distinct sources this layer was given */
    size_t nsources;
    int cur;           /* the source sets take now, -1 none */
};

tr_vars *tr_vars_new(const tr_vars *parent)
{
    tr_vars *v = calloc(1, sizeof *v);
    if (v) {
        v->parent = parent;
        v->cur = -1;
    }
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
    for (size_t i = 0; i < v->nsources; i++)
        free(v->sources[i]);
    free(v->names);
    free(v->values);
    free(v->src);
    free(v->sources);
    free(v);
}

static long find_local(const tr_vars *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->names[i], name) == 0)
            return (long)i;
    return -1;
}

static int grow(tr_vars *v)
{
    size_t cap = v->cap ? v->cap * 2 : 16;
    char **nn = realloc(v->names, cap * sizeof *nn);
    if (!nn)
        return -1;
    v->names = nn;
    char **nv = realloc(v->values, cap * sizeof *nv);
    if (!nv)
        return -1;
    v->values = nv;
    int *ns = realloc(v->src, cap * sizeof *ns);
    if (!ns)
        return -1;
    v->src = ns;
    v->cap = cap;
    return 0;
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
        v->src[i] = v->cur;
        return 0;
    }
    if (v->n == v->cap && grow(v) < 0)
        goto nomem;
    v->names[v->n] = strdup(name);
    if (!v->names[v->n])
        goto nomem;
    v->src[v->n] = v->cur;
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

int tr_vars_set_source(tr_vars *v, const char *source)
{
    if (!source) {
        v->cur = -1;
        return 0;
    }
    for (size_t k = 0; k < v->nsources; k++)
        if (!strcmp(v->sources[k], source)) {
            v->cur = (int)k;
            return 0;
        }
    char **ns = realloc(v->sources, (v->nsources + 1) * sizeof *ns);
    if (!ns)
        return -1;
    v->sources = ns;
    if (!(ns[v->nsources] = strdup(source)))
        return -1;
    v->cur = (int)v->nsources++;
    return 0;
}

const char *tr_vars_source(const tr_vars *v, const char *name)
{
    for (; v; v = v->parent) {
        long i = find_local(v, name);
        if (i >= 0)
            return v->src[i] >= 0 ? v->sources[v->src[i]] : NULL;
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **tr_vars_names(const tr_vars *v)
{
    size_t total = 0;
    for (const tr_vars *l = v; l; l = l->parent)
        total += l->n;
    const char **out = malloc((total + 1) * sizeof *out);
    if (!out)
        return NULL;
    size_t n = 0;
    for (const tr_vars *l = v; l; l = l->parent)
        for (size_t i = 0; i < l->n; i++)
            out[n++] = l->names[i];
    qsort(out, n, sizeof *out, by_name);
    size_t k = 0; /* each name once: the sorted copies sit side by side */
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(out[k - 1], out[i]))
            out[k++] = out[i];
    out[k] = NULL;
    return out;
}
