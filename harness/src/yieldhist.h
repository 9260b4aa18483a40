/* yieldhist.h — the yield of earlier batches of the same profile.
 *
 * Owns: the question the HTML report asks about history ("the newest runs
 * with tokens of profile P, up to this run: how many of those tokens, how
 * many passed"), as an interface with a source behind it, and the first
 * source: the sibling report directories of the run (their summary.csv for
 * the verdicts; the profile from summary.csv's profile column when it has
 * one, else from results.csv's first rows; the run's time from its first
 * result row). A results database can answer the same question: give
 * tr_yield_source another gather function.
 * Must not: write anything, or decide a verdict (it counts summary.csv's).
 */
#ifndef TR_YIELDHIST_H
#define TR_YIELDHIST_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct {
    char run_id[128];
    char time[32];    /* ISO 8601 UTC of the run's first result row; "" unknown */
    unsigned tokens;  /* tokens of the profile in that run */
    unsigned passed;  /* of them PASS */
    bool current;     /* the run the report is about */
} tr_yield_point;

typedef struct tr_yield_source tr_yield_source;
struct tr_yield_source {
    /* Up to max runs that certified tokens of profile, none newer than the
     * current run, the newest max of them, oldest first, into out; *n how
     * many. 0, or -1 with e set. */
    int (*gather)(tr_yield_source *src, const char *profile, tr_yield_point *out, size_t max, size_t *n,
                  tr_err *e);
    void (*close)(tr_yield_source *src);
    void *ctx;
    char where[256]; /* what the page says the history comes from */
};

/* The source over run_dir's siblings (the other run directories of its
 * parent, at most the newest TR_YIELD_SCAN_MAX by time of change); run_dir
 * itself is the current run. The directories are read at the first gather. */
#define TR_YIELD_SCAN_MAX 1000
int tr_yield_source_dirs(const char *run_dir, tr_yield_source *src, tr_err *e);

/* The source over a results database (db.h, tr_db_profile_yield): every
 * run it holds, on every host, none started after run_id (the current
 * run). db stays the caller's (close does not close it). */
struct tr_db;
int tr_yield_source_db(struct tr_db *db, const char *where, const char *run_id, tr_yield_source *src, tr_err *e);

#endif
