/* arena.h — a bump allocator for many small objects that die together.
 *
 * Owns: chunked memory handed out in order and released all at once (the
 * parser's AST) or rewound to empty and reused (the interpreter's scratch
 * space for one statement's values, so the hot path does no malloc once
 * the chunks exist). A hard cap bounds the total.
 * Must not: know what it stores.
 */
#ifndef TR_ARENA_H
#define TR_ARENA_H

#include <stddef.h>

typedef struct tr_arena tr_arena;

/* cap_bytes bounds the total handed out (0 = 64 MiB). NULL on no memory. */
tr_arena *tr_arena_new(size_t cap_bytes);
void tr_arena_free(tr_arena *a);
/* n bytes aligned for any type; NULL when the cap is reached or no memory. */
void *tr_arena_alloc(tr_arena *a, size_t n);
/* Zeroed. */
void *tr_arena_calloc(tr_arena *a, size_t n);
/* Copy of n bytes plus a NUL. */
char *tr_arena_strndup(tr_arena *a, const char *s, size_t n);
/* Forget everything handed out; keeps the first chunk for reuse. */
void tr_arena_reset(tr_arena *a);
/* Bytes handed out since creation or the last reset. */
size_t tr_arena_used(const tr_arena *a);

#endif
