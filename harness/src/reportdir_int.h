/* reportdir_int.h — what reportdir.c (the CSVs of results) and
 * reportmeta.c (provenance.csv, junit.xml, PIN masking) share while a
 * report directory is read. Not for other modules: they use reportdir.h. */
#ifndef TR_REPORTDIR_INT_H
#define TR_REPORTDIR_INT_H

#include "reportdir.h"

#define RD_MAX_SECRETS 32

typedef struct {
    rd_run *run;
    tr_err *e;
    bool oom;
    char *secrets[RD_MAX_SECRETS]; /* PIN values provenance.csv names */
    size_t nsecrets;
    rd_token *last;                /* the token of the previous row */
    int stage_col[RD_MAX_STAGES];  /* cycles.csv: the columns of run->stages */
    bool stages_known;
    char first_time[32], last_time[32];
} rd_loader;

/* arr (n elements of size) with room for one more: grown by doubling,
 * its capacity the power of two n reached (none kept). NULL with L->oom
 * set on no memory (arr unchanged). */
void *rd_grow(rd_loader *L, void *arr, size_t n, size_t size);
/* Out of memory: L->oom set, -1. */
int rd_oom(rd_loader *L);
/* A copy of s (NULL as ""); NULL with L->oom set on no memory. */
char *rd_dup(rd_loader *L, const char *s);
/* A copy of s with every PIN masked: the secrets (as text, hex and spaced
 * hex) and the value of any NAME=VALUE whose NAME ends in PIN. */
char *rd_dup_masked(rd_loader *L, const char *s);
/* Read provenance.csv (first: its PIN values are the secrets) and
 * junit.xml. 0, or -1 with L->e set. */
int rd_read_provenance(rd_loader *L);
int rd_read_junit(rd_loader *L);
/* The first number after "NAME " in text (a limit in a message:
 * "... over FIRST_APDU_MAX_MS 1500 ms"); < 0 when there is none. */
double rd_limit_in_text(const char *text, const char *name);
/* Each token's FIRST_APDU_MAX_MS from provenance.csv (the effective value
 * the run used), over what the messages said. */
void rd_apply_provenance_limits(rd_loader *L);

#endif
