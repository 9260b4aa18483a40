#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN (16u * 1024u)
#define ALIGN alignof(max_align_t)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
} chunk;

struct tr_arena {
    chunk *head;      /* newest chunk first; the last one is the oldest */
    size_t total;     /* handed out since creation/reset */
    size_t cap;
};

tr_arena *tr_arena_new(size_t cap_bytes)
{
    tr_arena *a = calloc(1, sizeof *a);
    if (a)
        a->cap = cap_bytes ? cap_bytes : (size_t)64 << 20;
    return a;
}

void tr_arena_free(tr_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

static chunk *new_chunk(size_t need)
{
    size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
    chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void *tr_arena_alloc(tr_arena *a, size_t n)
{
    size_t rounded = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (rounded < n || rounded > a->cap - a->total || a->total > a->cap)
        return NULL;
    chunk *c = a->head;
    if (!c || c->cap - c->used < rounded) {
        /* Small requests get a chunk that doubles with the arena's size, so
         * a big suite is a few mallocs, not thousands. */
        size_t want = rounded;
        if (want < a->total / 2 && a->total / 2 < ((size_t)4 << 20))
            want = a->total / 2;
        chunk *nc = new_chunk(want);
        if (!nc)
            return NULL;
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += rounded;
    a->total += rounded;
    return p;
}

void *tr_arena_calloc(tr_arena *a, size_t n)
{
    void *p = tr_arena_alloc(a, n ? n : 1);
    if (p)
        memset(p, 0, n);
    return p;
}

char *tr_arena_strndup(tr_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = tr_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void tr_arena_reset(tr_arena *a)
{
    if (!a->head)
        return;
    /* Keep the biggest chunk (the newest is usually the biggest). */
    chunk *keep = a->head;
    for (chunk *c = a->head->next, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    keep->next = NULL;
    keep->used = 0;
    a->total = 0;
}

size_t tr_arena_used(const tr_arena *a)
{
    return a->total;
}
