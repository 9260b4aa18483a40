/* yieldhist.c — see yieldhist.h. The directory source reads each sibling
 * once (lazily, at the first question) into a list of runs with their
 * tokens' profile and verdict, and answers every profile from that list. */
#include "yieldhist.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvread.h"
#include "db.h"
#include "util.h"

typedef struct {
    char slot[64], serial[64], profile[64];
    bool passed;
} ytoken;

typedef struct {
    char name[256];   /* directory name */
    char run_id[128];
    char time[32];
    time_t mtime;
    ytoken *tokens;
    size_t ntokens;
    bool current;
} yrun;

typedef struct {
    char parent[PATH_MAX];
    char current[256]; /* the current run's directory name */
    bool loaded, load_failed;
    tr_err load_err;
    yrun *runs;
    size_t nruns;
} dirs_ctx;

/* ---- one run directory ---------------------------------------------------------------- */

static int summary_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    yrun *r = ud;
    if (r->ntokens >= 100000)
        return 1; /* more than any rig: the rest is not read */
    ytoken *t = realloc(r->tokens, (r->ntokens + 1) * sizeof *t);
    if (!t)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    r->tokens = t;
    t += r->ntokens++;
    memset(t, 0, sizeof *t);
    tr_strlcpy(t->slot, tr_csv_get(row, "slot"), sizeof t->slot);
    tr_strlcpy(t->serial, tr_csv_get(row, "serial"), sizeof t->serial);
    tr_strlcpy(t->profile, tr_csv_get(row, "profile"), sizeof t->profile);
    t->passed = !strcmp(tr_csv_get(row, "verdict"), "PASS");
    if (!r->run_id[0])
        tr_strlcpy(r->run_id, tr_csv_get(row, "run_id"), sizeof r->run_id);
    return 0;
}

/* results.csv: the time of the first row, and each token's profile (its
 * first row says it); stops when every token has one. */
static int results_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    yrun *r = ud;
    if (!r->time[0])
        tr_strlcpy(r->time, tr_csv_get(row, "time"), sizeof r->time);
    const char *slot = tr_csv_get(row, "slot"), *serial = tr_csv_get(row, "serial");
    bool missing = false;
    for (size_t i = 0; i < r->ntokens; i++) {
        ytoken *t = &r->tokens[i];
        if (!t->profile[0] && !strcmp(t->slot, slot) && !strcmp(t->serial, serial))
            tr_strlcpy(t->profile, tr_csv_get(row, "profile"), sizeof t->profile);
        missing |= !t->profile[0];
    }
    return missing && tr_csv_rowno(row) < 1000000 ? 0 : 1;
}

static int load_run(const dirs_ctx *c, yrun *r, tr_err *e)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s/summary.csv", c->parent, r->name);
    int rc = tr_csv_read(path, summary_row, r, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    snprintf(path, sizeof path, "%s/%s/results.csv", c->parent, r->name);
    if (tr_csv_read(path, results_row, r, e) < 0)
        return -1;
    if (!r->time[0]) { /* no result row: the time the directory last changed */
        struct tm tm;
        gmtime_r(&r->mtime, &tm);
        strftime(r->time, sizeof r->time, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    }
    if (!r->run_id[0])
        tr_strlcpy(r->run_id, r->name, sizeof r->run_id);
    return 0;
}

/* ---- the directory list ----------------------------------------------------------------- */

static int by_mtime_desc(const void *a, const void *b)
{
    const yrun *x = a, *y = b;
    return (x->mtime < y->mtime) - (x->mtime > y->mtime);
}

/* Run directories of the parent (real directories with a summary.csv; the
 * reports/latest link is not one), newest change first. */
static int list_dirs(dirs_ctx *c, tr_err *e)
{
    DIR *d = opendir(c->parent);
    if (!d)
        return tr_fail(e, TR_E_IO, "%s: %s", c->parent, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        char path[PATH_MAX + 300];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/summary.csv", c->parent, de->d_name);
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof c->runs->name || stat(path, &st) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", c->parent, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        yrun *nr = realloc(c->runs, (c->nruns + 1) * sizeof *nr);
        if (!nr) {
            rc = tr_fail(e, TR_E_NOMEM, "out of memory");
            break;
        }
        c->runs = nr;
        nr += c->nruns++;
        memset(nr, 0, sizeof *nr);
        tr_strlcpy(nr->name, de->d_name, sizeof nr->name);
        nr->mtime = st.st_mtime;
        nr->current = !strcmp(de->d_name, c->current);
    }
    closedir(d);
    if (c->nruns)
        qsort(c->runs, c->nruns, sizeof *c->runs, by_mtime_desc);
    return rc;
}

static void free_runs(dirs_ctx *c)
{
    for (size_t i = 0; i < c->nruns; i++)
        free(c->runs[i].tokens);
    free(c->runs);
    c->runs = NULL;
    c->nruns = 0;
}

/* The directories could not be read: kept for every later question. */
static int load_fail(dirs_ctx *c, const tr_err *why, tr_err *e)
{
    c->load_failed = true;
    c->load_err = *why;
    *e = *why;
    return -1;
}

/* Every listed run read (at most TR_YIELD_SCAN_MAX and the current one); a
 * sibling that cannot be read (permissions, a file that is not CSV) is left
 * out of the history, the current run's failure is an error. Read once:
 * a failure is kept and given to every question. */
static int load_all(dirs_ctx *c, tr_err *e)
{
    c->loaded = true;
    tr_err le;
    if (list_dirs(c, &le) < 0)
        return load_fail(c, &le, e);
    size_t keep = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        yrun r = c->runs[i];
        c->runs[i].tokens = NULL; /* r owns them now */
        c->runs[i].ntokens = 0;
        bool wanted = keep < TR_YIELD_SCAN_MAX || r.current;
        tr_err re;
        tr_err_clear(&re);
        if (!wanted || load_run(c, &r, &re) < 0) {
            free(r.tokens);
            if (wanted && (r.current || re.code == TR_E_NOMEM))
                return load_fail(c, &re, e);
            continue;
        }
        c->runs[keep++] = r;
    }
    c->nruns = keep;
    return 0;
}

/* ---- the question ------------------------------------------------------------------------ */

static int by_time(const void *a, const void *b)
{
    const tr_yield_point *x = a, *y = b;
    int c = strcmp(x->time, y->time);
    return c ? c : strcmp(x->run_id, y->run_id);
}

static const char *current_time(const dirs_ctx *c)
{
    for (size_t i = 0; i < c->nruns; i++)
        if (c->runs[i].current)
            return c->runs[i].time;
    return NULL;
}

/* The run's point for profile; false when it has no token of it. */
static bool run_point(const yrun *r, const char *profile, tr_yield_point *p)
{
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < r->ntokens; k++)
        if (!strcmp(r->tokens[k].profile, profile)) {
            p->tokens++;
            p->passed += r->tokens[k].passed;
        }
    tr_strlcpy(p->run_id, r->run_id, sizeof p->run_id);
    tr_strlcpy(p->time, r->time, sizeof p->time);
    p->current = r->current;
    return p->tokens > 0;
}

static int dirs_gather(tr_yield_source *src, const char *profile, tr_yield_point *out, size_t max, size_t *n,
                       tr_err *e)
{
    dirs_ctx *c = src->ctx;
    *n = 0;
    if (c->load_failed) {
        *e = c->load_err;
        return -1;
    }
    if (!c->loaded && load_all(c, e) < 0)
        return -1;
    const char *now = current_time(c);
    tr_yield_point *all = calloc(c->nruns ? c->nruns : 1, sizeof *all);
    if (!all)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < c->nruns; i++)
        if ((!now || c->runs[i].current || strcmp(c->runs[i].time, now) <= 0) &&
            run_point(&c->runs[i], profile, &all[m]))
            m++;
    if (m)
        qsort(all, m, sizeof *all, by_time);
    size_t from = m > max ? m - max : 0;
    for (size_t i = from; i < m; i++)
        out[(*n)++] = all[i];
    free(all);
    return 0;
}

static void dirs_close(tr_yield_source *src)
{
    dirs_ctx *c = src->ctx;
    if (!c)
        return;
    free_runs(c);
    free(c);
    src->ctx = NULL;
}

int tr_yield_source_dirs(const char *run_dir, tr_yield_source *src, tr_err *e)
{
    memset(src, 0, sizeof *src);
    char real[PATH_MAX];
    if (!realpath(run_dir, real))
        return tr_fail(e, TR_E_IO, "%s: %s", run_dir, strerror(errno));
    dirs_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    char *slash = strrchr(real, '/');
    tr_strlcpy(c->current, slash ? slash + 1 : real, sizeof c->current);
    if (slash)
        *slash = '\0';
    tr_strlcpy(c->parent, slash ? (real[0] ? real : "/") : ".", sizeof c->parent);
    src->gather = dirs_gather;
    src->close = dirs_close;
    src->ctx = c;
    snprintf(src->where, sizeof src->where, "the run directories beside this one (%.200s, summary.csv of each)",
             c->parent);
    return 0;
}

/* ---- the results database ------------------------------------------------------------------------- */

typedef struct {
    tr_db *db;
    char current[TR_DB_ID_MAX];
} db_ctx;

static int db_gather(tr_yield_source *src, const char *profile, tr_yield_point *out, size_t max, size_t *n,
                     tr_err *e)
{
    db_ctx *c = src->ctx;
    *n = 0;
    tr_db_yield_point *pts = calloc(max ? max : 1, sizeof *pts);
    if (!pts)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    size_t got = 0;
    int rc = tr_db_profile_yield(c->db, profile, c->current, pts, max, &got, e);
    for (size_t i = 0; rc == 0 && i < got; i++) {
        tr_strlcpy(out[i].run_id, pts[i].run_id, sizeof out[i].run_id);
        tr_strlcpy(out[i].time, pts[i].started, sizeof out[i].time);
        out[i].tokens = pts[i].tokens, out[i].passed = pts[i].passed;
        out[i].current = !strcmp(pts[i].run_id, c->current);
    }
    if (rc == 0)
        *n = got;
    free(pts);
    return rc;
}

static void db_close(tr_yield_source *src)
{
    free(src->ctx);
    src->ctx = NULL;
}

int tr_yield_source_db(tr_db *db, const char *where, const char *run_id, tr_yield_source *src, tr_err *e)
{
    memset(src, 0, sizeof *src);
    db_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    c->db = db;
    tr_strlcpy(c->current, run_id, sizeof c->current);
    src->gather = db_gather, src->close = db_close, src->ctx = c;
    snprintf(src->where, sizeof src->where, "the results database (%s)", where);
    return 0;
}

