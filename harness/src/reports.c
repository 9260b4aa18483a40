/* reports.c — the CSV streams, the in-memory results, JUnit and the batch
 * summary of one run directory. See reports.h for the contract.
 *
 * Locking: each CSV stream has its own mutex (slot threads trace APDUs
 * concurrently and must not wait for each other's results); the in-memory
 * results (tokens, testcases, properties) have one more. No function takes
 * two of them at once except tr_reports_fix_time, which takes all of them
 * in a fixed order. The kept write failure has a mutex of its own, taken
 * last (under a stream's or the results' mutex) and nothing under it.
 *
 * Write failures (disk full, EIO): the CSV rows go out with write(2), not
 * stdio, so a failed row cannot stay half-written in a buffer to be flushed
 * with the next one; a row written only in part is cut off again with
 * ftruncate to the end of the last whole row. If the cut fails, or the file
 * is a pipe or a device that cannot be cut, the stream takes no more rows
 * (they would follow half a row).
 * junit.xml and summary.csv are written whole into a temporary file, every
 * stdio result checked, fsync'ed and renamed over the old one.
 *
 * CSV cells (decisions written down here because they change the bytes):
 * - text cells go through tr_text_sanitize: invalid UTF-8 and control
 *   characters other than TAB/LF/CR become a visible \xNN, so every file is
 *   valid UTF-8 whatever a token answered;
 * - formula injection: a text cell starting with = + - @ TAB or CR would be
 *   evaluated by a spreadsheet, so it gets a leading apostrophe (the OWASP
 *   "CSV injection" advice; spreadsheets hide the apostrophe). Numeric
 *   columns are written by us with printf in the C locale and are never
 *   prefixed, so "-1.5" stays a number;
 * - a text cell is quoted by libcsv (csv_write) only when it has to be
 *   (comma, quote, CR, LF, or leading/trailing blank), so plain cells stay
 *   bare and easy for gnuplot and awk;
 * - an empty cell means "none": NULL strings, a metric-less row's value,
 *   cycle stages not reached (negative), non-finite numbers.
 */
#include "reports.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rowpipe.h"
#include "stats.h"
#include "util.h"
#include "xmlesc.h"

#define TIME_MAX 40

/* ------------------------------------------------------------------------ */
/* CSV streams                                                               */

typedef struct {
    const char *name; /* file name inside the run directory */
    char *path;       /* dir/name, for messages */
    int fd;           /* -1: not open */
    bool regular;     /* a regular file: a partial row can be cut off */
    bool torn;        /* a partial row could not be cut off: no more rows */
    off_t end;        /* bytes of whole rows in the file */
    pthread_mutex_t mu;
    char *row;        /* the row being built: written with one write(2) */
    size_t len, cap;
    char *scratch;    /* sanitised cell text */
    size_t scratch_cap;
    unsigned cells;   /* cells in the current row */
    bool oom;
} csv_stream;

typedef struct {
    char *name, *value;
} prop;

typedef struct {
    char *metric, *unit, *message;
    double value;
    tr_verdict verdict; /* a metric over its threshold says fail */
    double limit;
    char *limit_kind;   /* "max" / "min", NULL: no limit */
} metric_rec;

/* A provenance row kept for JUnit (name = "value (source)"). */
typedef struct {
    char *name, *value, *source;
} prov;

typedef struct {
    prov *v;
    size_t n, cap;
} prov_list;

/* A slot's power cycles, for cycles-summary.csv: per stage the times of
 * the cycles that reached it. */
typedef struct {
    char *slot, *serial, *run_id;
    unsigned long cycles, failed;
    double *t[TR_STAGE_COUNT];
    size_t n[TR_STAGE_COUNT], cap[TR_STAGE_COUNT];
    double limit_ms;
} cycle_tally;

typedef struct {
    char *suite, *test;
    bool has_verdict; /* false: metrics arrived, the verdict row not (yet) */
    tr_verdict verdict;
    char *classification, *message, *file;
    int line;
    double duration_s;
    metric_rec *metrics;
    size_t n_metrics, cap_metrics;
} tcase;

/* One token under test: a slot and the serial seen in it. */
typedef struct {
    char *slot, *serial, *reader, *role, *rig, *run_id, *profile;
    char first_time[TIME_MAX];
    prop *props;
    size_t n_props, cap_props;
    tcase *cases;
    size_t n_cases, cap_cases;
    prov_list prov;  /* the slot's provenance rows */
} token;

enum { S_RESULTS, S_TRACE, S_SAMPLES, S_CYCLES, S_PROVENANCE, S_COUNT };
/* Files a write failure can be about: the streams, then these. */
enum { F_JUNIT = S_COUNT, F_SUMMARY, F_CYCLE_SUMMARY, F_COUNT };

struct tr_reports {
    char *dir;
    csv_stream s[S_COUNT];
    pthread_mutex_t fail_mu;   /* the fields below */
    unsigned failed_files;     /* bit per file (S_* and F_*) */
    int first_file;            /* the file of first_fail */
    tr_err first_fail;         /* the first write failure of the run */
    pthread_mutex_t res_mu; /* tokens, junit/summary writing */
    token *tokens;
    size_t n_tokens, cap_tokens;
    prov_list run_prov;        /* run-wide provenance rows */
    cycle_tally *tallies;      /* per slot, in order of their first cycle */
    size_t n_tallies;
    char fixed_time[TIME_MAX]; /* "" = wall clock */
    locale_t c_locale;         /* numbers are written in the C locale */
    atomic_bool frozen;        /* tr_reports_freeze: rows are dropped */
    tr_reports_sink sink;      /* the run's database writer, or none */
    int fwd_fd;                /* tr_reports_forward: rows go here, -1 none */
    pthread_mutex_t fwd_mu;    /* one message at a time on fwd_fd */
};

static const char *const HEADERS[S_COUNT][24] = {
    [S_RESULTS] = {"run_id", "time", "rig", "slot", "reader", "serial", "role",
                   "profile", "suite", "test", "verdict", "classification",
                   "duration_s", "metric", "value", "unit", "message", "file",
                   "line", "limit", "limit_kind", NULL},
    [S_TRACE] = {"time", "slot", "serial", "suite", "test", "file", "line",
                 "command", "response", "sw", "latency_us", NULL},
    [S_SAMPLES] = {"time", "slot", "serial", "suite", "test", "metric", "index",
                   "value", "unit", NULL},
    [S_CYCLES] = {"time", "slot", "serial", "cycle", "off_ms", "to_device_ms",
                  "to_reader_ms", "to_atr_ms", "to_first_apdu_ms", "atr",
                  "stage", "power_level", "verdict", "message", "run_id",
                  "suite", "test", "first_apdu_limit_ms", NULL},
    [S_PROVENANCE] = {"slot", "name", "value", "source", NULL},
};
static const char *const FILE_NAMES[F_COUNT] = {
    "results.csv", "trace.csv", "samples.csv", "cycles.csv", "provenance.csv",
    "junit.xml", "summary.csv", "cycles-summary.csv"};

const char *const TR_STAGE_COLUMN[TR_STAGE_COUNT] = {"off_ms", "to_device_ms", "to_reader_ms", "to_atr_ms",
                                                     "to_first_apdu_ms"};

const char *tr_verdict_name(tr_verdict v)
{
    switch (v) {
    case TR_PASS: return "pass";
    case TR_FAIL: return "fail";
    case TR_ERROR: return "error";
    case TR_SKIP: return "skip";
    case TR_INCOMPLETE: return "incomplete";
    }
    return "invalid";
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static bool reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return false;
        n *= 2;
    }
    char *p = realloc(*buf, n);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

static void row_append(csv_stream *s, const char *p, size_t n)
{
    if (s->oom || !reserve(&s->row, &s->cap, s->len + n + 1)) {
        s->oom = true;
        return;
    }
    memcpy(s->row + s->len, p, n);
    s->len += n;
}

static void row_begin(csv_stream *s)
{
    s->len = 0;
    s->cells = 0;
    s->oom = false;
}

static void cell_sep(csv_stream *s)
{
    if (s->cells++)
        row_append(s, ",", 1);
}

static bool needs_quotes(const char *p, size_t n)
{
    if (n == 0)
        return false;
    if (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t')
        return true;
    return strpbrk(p, ",\"\r\n") != NULL;
}

static bool starts_formula(const char *p)
{
    return *p && strchr("=+-@\t\r", *p) != NULL;
}

/* A text cell: sanitised, formula-guarded, quoted only when needed. */
static void cell_text(csv_stream *s, const char *v)
{
    cell_sep(s);
    if (!v || !*v || s->oom)
        return;
    size_t n = strlen(v);
    size_t bound = tr_text_sanitize_bound(n) + 1; /* +1: the apostrophe */
    if (!reserve(&s->scratch, &s->scratch_cap, bound)) {
        s->oom = true;
        return;
    }
    char *t = s->scratch;
    size_t tn = 0;
    if (starts_formula(v))
        t[tn++] = '\'';
    tn += tr_text_sanitize(v, n, "\t\n\r", t + tn, s->scratch_cap - tn);
    if (!needs_quotes(t, tn)) {
        row_append(s, t, tn);
        return;
    }
    size_t q = csv_write(NULL, 0, t, tn); /* size of the quoted form */
    if (s->oom || !reserve(&s->row, &s->cap, s->len + q + 1)) {
        s->oom = true;
        return;
    }
    s->len += csv_write(s->row + s->len, q, t, tn);
}

static void cell_raw(csv_stream *s, const char *v)
{
    cell_sep(s);
    row_append(s, v, strlen(v));
}

/* Numbers: C locale whatever the process locale is (a "," decimal point
 * would split the cell). Non-finite values are written as empty cells. */
static void format_double(const tr_reports *r, char *out, size_t cap,
                          const char *fmt, double v)
{
    if (!isfinite(v)) {
        out[0] = '\0';
        return;
    }
    locale_t old = r->c_locale ? uselocale(r->c_locale) : (locale_t)0;
    snprintf(out, cap, fmt, v);
    if (old)
        uselocale(old);
}

static void cell_double(const tr_reports *r, csv_stream *s, const char *fmt,
                        double v)
{
    char num[64];
    format_double(r, num, sizeof num, fmt, v);
    cell_raw(s, num);
}

/* Times in ms: negative means "stage not reached" -> empty cell. */
static void cell_ms(const tr_reports *r, csv_stream *s, double v)
{
    if (v < 0)
        cell_raw(s, "");
    else
        cell_double(r, s, "%.3f", v);
}

static void cell_u64(csv_stream *s, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    cell_raw(s, num);
}

static void cell_line(csv_stream *s, int line)
{
    if (line > 0)
        cell_u64(s, (uint64_t)line);
    else
        cell_raw(s, "");
}

/* Every write failure goes through here: *e gets it (e may be NULL) and
 * the first one of the run is kept for tr_reports_write_failed. Returns -1. */
static int write_fail(tr_reports *r, int file, tr_err *e, tr_code code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int write_fail(tr_reports *r, int file, tr_err *e, tr_code code,
                      const char *fmt, ...)
{
    tr_err local;
    if (!e)
        e = &local;
    va_list ap;
    va_start(ap, fmt);
    tr_vfail(e, code, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->fail_mu);
    if (!r->failed_files) {
        r->first_fail = *e;
        r->first_file = file;
    }
    r->failed_files |= 1u << file;
    pthread_mutex_unlock(&r->fail_mu);
    return -1;
}

/* The row ends; false when building it ran out of memory. */
static bool row_finish(csv_stream *s)
{
    row_append(s, "\n", 1);
    return !s->oom;
}

/* Cut a row written in part (done bytes of it) off again, so the file ends
 * with a whole row. Returns the errno of a failed cut, 0 when done. */
static int row_cut(csv_stream *s, size_t done)
{
    if (done == 0)
        return 0;
    if (!s->regular) { /* a pipe or a device */
        s->torn = true;
        return ESPIPE;
    }
    if (ftruncate(s->fd, s->end) != 0 || lseek(s->fd, s->end, SEEK_SET) < 0) {
        s->torn = true;
        return errno;
    }
    return 0;
}

/* One write(2) per row (more only when the kernel takes it in parts): a run
 * killed at any point keeps every row whose call returned. Caller holds
 * s->mu. */
static int row_write(tr_reports *r, int which, csv_stream *s, tr_err *e)
{
    if (!row_finish(s))
        return write_fail(r, which, e, TR_E_NOMEM, "%s: no memory for a row", s->path);
    if (s->torn)
        return write_fail(r, which, e, TR_E_IO,
                          "%s: row not written: an earlier partial row could not be cut off",
                          s->path);
    size_t done = 0;
    int err = 0;
    while (done < s->len && !err) {
        ssize_t n = write(s->fd, s->row + done, s->len - done);
        if (n > 0)
            done += (size_t)n;
        else if (n == 0 || errno != EINTR)
            err = n == 0 ? EIO : errno;
    }
    if (!err) {
        s->end += (off_t)done;
        return 0;
    }
    int cut = row_cut(s, done);
    if (cut)
        return write_fail(r, which, e, TR_E_IO,
                          "%s: %s (and the partial row could not be cut off: %s)",
                          s->path, strerror(err), strerror(cut));
    return write_fail(r, which, e, TR_E_IO, "%s: %s", s->path, strerror(err));
}

static void now_iso(const tr_reports *r, char *out, size_t cap)
{
    if (r->fixed_time[0])
        tr_strlcpy(out, r->fixed_time, cap);
    else
        tr_wall_iso(out, cap);
}

static void lock(pthread_mutex_t *mu)
{
    pthread_mutex_lock(mu);
}

static void unlock(pthread_mutex_t *mu)
{
    pthread_mutex_unlock(mu);
}

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                       */

static int mkdir_p(const char *dir, tr_err *e)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        return tr_fail(e, TR_E_NOMEM, "no memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            tr_fail(e, err == EACCES ? TR_E_PERM : TR_E_IO,
                    "cannot create report directory %s: %s", p, strerror(err));
            free(p);
            return -1;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tr_fail(e, TR_E_IO, "%s is not a directory", dir);
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int open_stream(tr_reports *r, int which, tr_err *e)
{
    csv_stream *s = &r->s[which];
    s->name = FILE_NAMES[which];
    s->path = join_path(r->dir, s->name);
    if (!s->path)
        return tr_fail(e, TR_E_NOMEM, "no memory");
    s->fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        int err = errno;
        return tr_fail(e, err == EACCES ? TR_E_PERM : TR_E_IO, "cannot create %s: %s",
                       s->path, strerror(err));
    }
    struct stat st;
    s->regular = fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);
    lock(&s->mu);
    row_begin(s);
    for (const char *const *h = HEADERS[which]; *h; h++)
        cell_raw(s, *h);
    int rc = row_write(r, which, s, e);
    unlock(&s->mu);
    return rc;
}

/* The object without its files. */
static tr_reports *reports_new(const char *dir, tr_err *e)
{
    tr_reports *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        tr_fail(e, TR_E_NOMEM, "no memory");
        return NULL;
    }
    pthread_mutex_init(&r->res_mu, NULL);
    pthread_mutex_init(&r->fail_mu, NULL);
    pthread_mutex_init(&r->fwd_mu, NULL);
    r->fwd_fd = -1;
    for (int i = 0; i < S_COUNT; i++) {
        pthread_mutex_init(&r->s[i].mu, NULL);
        r->s[i].fd = -1;
    }
    r->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    const char *fixed = getenv("TR_REPORTS_FIXED_TIME");
    if (fixed && *fixed)
        tr_strlcpy(r->fixed_time, fixed, sizeof r->fixed_time);
    return r;
}

tr_reports *tr_reports_forward(int fd, const char *dir, tr_err *e)
{
    tr_reports *r = reports_new(dir, e);
    if (r)
        r->fwd_fd = fd;
    return r;
}

/* A forwarding child's row: one message to the parent. */
#define FORWARD(r, call)                                                                                      \
    do {                                                                                                       \
        pthread_mutex_lock(&(r)->fwd_mu);                                                                      \
        int fwd_rc_ = (call);                                                                                  \
        pthread_mutex_unlock(&(r)->fwd_mu);                                                                    \
        return fwd_rc_;                                                                                        \
    } while (0)

tr_reports *tr_reports_open(const char *dir, tr_err *e)
{
    if (!dir || !*dir) {
        tr_fail(e, TR_E_USAGE, "no report directory given");
        return NULL;
    }
    if (mkdir_p(dir, e) != 0)
        return NULL;
    tr_reports *r = reports_new(dir, e);
    if (!r)
        return NULL;
    for (int i = 0; i < S_COUNT; i++) {
        if (open_stream(r, i, e) != 0) {
            tr_reports_close(r);
            return NULL;
        }
    }
    return r;
}

const char *tr_reports_dir(const tr_reports *r)
{
    return r->dir;
}

void tr_reports_freeze(tr_reports *r)
{
    atomic_store(&r->frozen, true);
}

void tr_reports_fix_time(tr_reports *r, const char *iso)
{
    for (int i = 0; i < S_COUNT; i++)
        lock(&r->s[i].mu);
    lock(&r->res_mu);
    if (iso)
        tr_strlcpy(r->fixed_time, iso, sizeof r->fixed_time);
    else
        r->fixed_time[0] = '\0';
    unlock(&r->res_mu);
    for (int i = S_COUNT - 1; i >= 0; i--)
        unlock(&r->s[i].mu);
}

/* Set name in list (replacing an earlier value of the same name). */
static bool prov_put(prov_list *l, const char *name, const char *value, const char *source)
{
    prov *p = NULL;
    for (size_t i = 0; i < l->n && !p; i++)
        if (!strcmp(l->v[i].name, name))
            p = &l->v[i];
    if (!p) {
        if (l->n == l->cap) {
            size_t n = l->cap ? l->cap * 2 : 16;
            prov *grown = realloc(l->v, n * sizeof *grown);
            if (!grown)
                return false;
            l->v = grown;
            l->cap = n;
        }
        p = &l->v[l->n];
        memset(p, 0, sizeof *p);
        if (!(p->name = strdup(name)))
            return false;
        l->n++;
    }
    char *v = strdup(nz(value)), *src = strdup(nz(source));
    if (!v || !src) {
        free(v);
        free(src);
        return false;
    }
    free(p->value);
    free(p->source);
    p->value = v;
    p->source = src;
    return true;
}

static void prov_free(prov_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
        free(l->v[i].source);
    }
    free(l->v);
}

static void free_case(tcase *c)
{
    free(c->suite);
    free(c->test);
    free(c->classification);
    free(c->message);
    free(c->file);
    for (size_t i = 0; i < c->n_metrics; i++) {
        free(c->metrics[i].metric);
        free(c->metrics[i].unit);
        free(c->metrics[i].message);
        free(c->metrics[i].limit_kind);
    }
    free(c->metrics);
}

static void free_token(token *t)
{
    free(t->slot);
    free(t->serial);
    free(t->reader);
    free(t->role);
    free(t->rig);
    free(t->run_id);
    free(t->profile);
    for (size_t i = 0; i < t->n_props; i++) {
        free(t->props[i].name);
        free(t->props[i].value);
    }
    free(t->props);
    for (size_t i = 0; i < t->n_cases; i++)
        free_case(&t->cases[i]);
    free(t->cases);
    prov_free(&t->prov);
}

static void free_tallies(tr_reports *r)
{
    for (size_t i = 0; i < r->n_tallies; i++) {
        free(r->tallies[i].slot);
        free(r->tallies[i].serial);
        free(r->tallies[i].run_id);
        for (int k = 0; k < TR_STAGE_COUNT; k++)
            free(r->tallies[i].t[k]);
    }
    free(r->tallies);
}

void tr_reports_close(tr_reports *r)
{
    if (!r)
        return;
    for (int i = 0; i < S_COUNT; i++) {
        if (r->s[i].fd >= 0)
            close(r->s[i].fd); /* nothing buffered: each row was written whole */
        free(r->s[i].path);
        free(r->s[i].row);
        free(r->s[i].scratch);
        pthread_mutex_destroy(&r->s[i].mu);
    }
    for (size_t i = 0; i < r->n_tokens; i++)
        free_token(&r->tokens[i]);
    free(r->tokens);
    prov_free(&r->run_prov);
    free_tallies(r);
    pthread_mutex_destroy(&r->res_mu);
    pthread_mutex_destroy(&r->fail_mu);
    pthread_mutex_destroy(&r->fwd_mu);
    if (r->c_locale)
        freelocale(r->c_locale);
    free(r->dir);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* CSV rows                                                                  */

static const tr_slot_id NO_ONE = {0};

static const tr_slot_id *who_or_empty(const tr_slot_id *who)
{
    return who ? who : &NO_ONE;
}

static int result_csv(tr_reports *r, const tr_result_row *row, tr_err *e)
{
    const tr_slot_id *w = who_or_empty(row->who);
    csv_stream *s = &r->s[S_RESULTS];
    char t[TIME_MAX];
    lock(&s->mu);
    now_iso(r, t, sizeof t);
    row_begin(s);
    cell_text(s, w->run_id);
    cell_raw(s, t);
    cell_text(s, w->rig);
    cell_text(s, w->slot);
    cell_text(s, w->reader);
    cell_text(s, w->serial);
    cell_text(s, w->role);
    cell_text(s, w->profile);
    cell_text(s, row->suite);
    cell_text(s, row->test);
    cell_raw(s, tr_verdict_name(row->verdict));
    cell_text(s, row->classification);
    cell_double(r, s, "%.6f", row->duration_s);
    cell_text(s, row->metric);
    if (row->metric)
        cell_double(r, s, "%.10g", row->value);
    else
        cell_raw(s, "");
    cell_text(s, row->unit);
    cell_text(s, row->message);
    cell_text(s, row->file);
    cell_line(s, row->line);
    if (row->limit_kind)
        cell_double(r, s, "%.10g", row->limit);
    else
        cell_raw(s, "");
    cell_text(s, row->limit_kind);
    int rc = row_write(r, S_RESULTS, s, e);
    unlock(&s->mu);
    return rc;
}

/* Start a row of trace.csv, samples.csv or cycles.csv, which all begin with
 * time, slot, serial: locks the stream (stream_row_close unlocks). NULL once
 * the reports are frozen. */
static csv_stream *stream_row_open(tr_reports *r, int which, const tr_slot_id *who)
{
    if (atomic_load(&r->frozen))
        return NULL;
    const tr_slot_id *w = who_or_empty(who);
    csv_stream *s = &r->s[which];
    char t[TIME_MAX];
    lock(&s->mu);
    now_iso(r, t, sizeof t);
    row_begin(s);
    cell_raw(s, t);
    cell_text(s, w->slot);
    cell_text(s, w->serial);
    return s;
}

static int stream_row_close(tr_reports *r, csv_stream *s, tr_err *e)
{
    int rc = row_write(r, (int)(s - r->s), s, e);
    unlock(&s->mu);
    return rc;
}

int tr_reports_trace(tr_reports *r, const tr_trace_row *row, tr_err *e)
{
    if (r->fwd_fd >= 0 && !atomic_load(&r->frozen))
        FORWARD(r, tr_rowpipe_send_trace(r->fwd_fd, row, e));
    csv_stream *s = stream_row_open(r, S_TRACE, row->who);
    if (!s)
        return 0;
    cell_text(s, row->suite);
    cell_text(s, row->test);
    cell_text(s, row->file);
    cell_line(s, row->line);
    cell_text(s, row->command);
    cell_text(s, row->response);
    cell_text(s, row->sw);
    cell_u64(s, row->latency_us);
    return stream_row_close(r, s, e);
}

int tr_reports_sample(tr_reports *r, const tr_sample_row *row, tr_err *e)
{
    if (r->fwd_fd >= 0 && !atomic_load(&r->frozen))
        FORWARD(r, tr_rowpipe_send_sample(r->fwd_fd, row, e));
    csv_stream *s = stream_row_open(r, S_SAMPLES, row->who);
    if (!s)
        return 0;
    cell_text(s, row->suite);
    cell_text(s, row->test);
    cell_text(s, row->metric);
    cell_u64(s, row->index);
    cell_double(r, s, "%.10g", row->value);
    cell_text(s, row->unit);
    return stream_row_close(r, s, e);
}

static int cycle_keep(tr_reports *r, const tr_cycle_row *row);
static token *get_token(tr_reports *r, const tr_slot_id *w);

int tr_reports_cycle(tr_reports *r, const tr_cycle_row *row, tr_err *e)
{
    if (r->fwd_fd >= 0 && !atomic_load(&r->frozen))
        FORWARD(r, tr_rowpipe_send_cycle(r->fwd_fd, row, e));
    csv_stream *s = stream_row_open(r, S_CYCLES, row->who);
    if (!s)
        return 0;
    cell_u64(s, row->cycle);
    cell_ms(r, s, row->off_ms);
    cell_ms(r, s, row->to_device_ms);
    cell_ms(r, s, row->to_reader_ms);
    cell_ms(r, s, row->to_atr_ms);
    cell_ms(r, s, row->to_first_apdu_ms);
    cell_text(s, row->atr);
    cell_text(s, row->stage);
    cell_text(s, row->power_level);
    cell_text(s, row->verdict);
    cell_text(s, row->message);
    cell_text(s, who_or_empty(row->who)->run_id);
    cell_text(s, row->suite);
    cell_text(s, row->test);
    if (row->first_apdu_limit_ms > 0)
        cell_double(r, s, "%.10g", row->first_apdu_limit_ms);
    else
        cell_raw(s, "");
    int rc = stream_row_close(r, s, e);
    if (r->sink.cycle)
        r->sink.cycle(r->sink.ud, row);
    if (cycle_keep(r, row) < 0) {
        tr_err local;
        rc = write_fail(r, F_CYCLE_SUMMARY, rc == 0 ? e : &local, TR_E_NOMEM,
                        "no memory to keep a cycle for cycles-summary.csv");
    }
    return rc;
}

int tr_reports_provenance(tr_reports *r, const tr_slot_id *who, const char *name, const char *value,
                          const char *source, tr_err *e)
{
    if (!name || !*name)
        return tr_fail(e, TR_E_INTERNAL, "provenance row without a name");
    if (atomic_load(&r->frozen))
        return 0;
    if (r->fwd_fd >= 0)
        FORWARD(r, tr_rowpipe_send_provenance(r->fwd_fd, who, name, value, source, e));
    csv_stream *s = &r->s[S_PROVENANCE];
    lock(&s->mu);
    row_begin(s);
    cell_text(s, who ? who->slot : NULL);
    cell_text(s, name);
    cell_text(s, value);
    cell_text(s, source);
    int rc = row_write(r, S_PROVENANCE, s, e);
    unlock(&s->mu);
    lock(&r->res_mu);
    token *t = who ? get_token(r, who) : NULL;
    bool ok = (!who || t) && prov_put(who ? &t->prov : &r->run_prov, name, value, source);
    unlock(&r->res_mu);
    if (!ok) {
        tr_err local;
        rc = write_fail(r, F_JUNIT, rc == 0 ? e : &local, TR_E_NOMEM, "no memory for a provenance property of junit.xml");
    }
    if (r->sink.provenance)
        r->sink.provenance(r->sink.ud, who, name, value, source);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* In-memory results (for JUnit and the summary)                             */


static bool same(const char *a, const char *b)
{
    return strcmp(nz(a), nz(b)) == 0;
}

/* Replace *dst by a copy of src when src says more than *dst. */
static bool adopt(char **dst, const char *src)
{
    if (!src || !*src || same(*dst, src))
        return true;
    char *c = strdup(src);
    if (!c)
        return false;
    free(*dst);
    *dst = c;
    return true;
}

/* A slot's token: the same slot, and the same serial unless one of them
 * is still unknown (properties may arrive before the serial is read). */
static token *find_token(tr_reports *r, const tr_slot_id *w)
{
    for (size_t i = r->n_tokens; i-- > 0;) {
        token *t = &r->tokens[i];
        if (!same(t->slot, w->slot))
            continue;
        if (!*nz(t->serial) || !*nz(w->serial) || same(t->serial, w->serial))
            return t;
    }
    return NULL;
}

static bool token_take_identity(tr_reports *r, token *t, const tr_slot_id *w)
{
    if (!t->first_time[0])
        now_iso(r, t->first_time, sizeof t->first_time);
    return adopt(&t->slot, w->slot) && adopt(&t->serial, w->serial) &&
           adopt(&t->reader, w->reader) && adopt(&t->role, w->role) &&
           adopt(&t->rig, w->rig) && adopt(&t->run_id, w->run_id) &&
           adopt(&t->profile, w->profile);
}

static token *get_token(tr_reports *r, const tr_slot_id *w)
{
    token *t = find_token(r, w);
    if (!t) {
        if (r->n_tokens == r->cap_tokens) {
            size_t n = r->cap_tokens ? r->cap_tokens * 2 : 8;
            token *p = realloc(r->tokens, n * sizeof *p);
            if (!p)
                return NULL;
            r->tokens = p;
            r->cap_tokens = n;
        }
        t = &r->tokens[r->n_tokens++];
        memset(t, 0, sizeof *t);
    }
    return token_take_identity(r, t, w) ? t : NULL;
}

static cycle_tally *get_tally(tr_reports *r, const tr_slot_id *w)
{
    for (size_t i = 0; i < r->n_tallies; i++)
        if (same(r->tallies[i].slot, w->slot))
            return &r->tallies[i];
    cycle_tally *grown = realloc(r->tallies, (r->n_tallies + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    r->tallies = grown;
    cycle_tally *t = &r->tallies[r->n_tallies];
    memset(t, 0, sizeof *t);
    if (!(t->slot = strdup(nz(w->slot))))
        return NULL;
    r->n_tallies++;
    return t;
}

static bool tally_add(cycle_tally *t, int stage, double ms)
{
    if (ms < 0 || !isfinite(ms))
        return true;
    if (t->n[stage] == t->cap[stage]) {
        size_t n = t->cap[stage] ? t->cap[stage] * 2 : 64;
        double *grown = realloc(t->t[stage], n * sizeof *grown);
        if (!grown)
            return false;
        t->t[stage] = grown;
        t->cap[stage] = n;
    }
    t->t[stage][t->n[stage]++] = ms;
    return true;
}

/* The cycle's stage times, for cycles-summary.csv. -1 on no memory. */
static int cycle_keep(tr_reports *r, const tr_cycle_row *row)
{
    const tr_slot_id *w = who_or_empty(row->who);
    const double ms[TR_STAGE_COUNT] = {row->off_ms, row->to_device_ms, row->to_reader_ms, row->to_atr_ms,
                                       row->to_first_apdu_ms};
    lock(&r->res_mu);
    cycle_tally *t = get_tally(r, w);
    bool ok = t && adopt(&t->serial, w->serial) && adopt(&t->run_id, w->run_id);
    for (int k = 0; ok && k < TR_STAGE_COUNT; k++)
        ok = tally_add(t, k, ms[k]);
    if (ok) {
        t->cycles++;
        t->failed += !same(row->verdict, "pass");
        if (row->first_apdu_limit_ms > 0)
            t->limit_ms = row->first_apdu_limit_ms;
    }
    unlock(&r->res_mu);
    return ok ? 0 : -1;
}

static tcase *new_case(token *t, const tr_result_row *row)
{
    if (t->n_cases == t->cap_cases) {
        size_t n = t->cap_cases ? t->cap_cases * 2 : 16;
        tcase *p = realloc(t->cases, n * sizeof *p);
        if (!p)
            return NULL;
        t->cases = p;
        t->cap_cases = n;
    }
    tcase *c = &t->cases[t->n_cases];
    memset(c, 0, sizeof *c);
    c->suite = strdup(nz(row->suite));
    c->test = strdup(nz(row->test));
    if (!c->suite || !c->test) {
        free_case(c);
        return NULL;
    }
    t->n_cases++;
    return c;
}

/* The latest testcase of this suite/test, preferring one still waiting for
 * its verdict. */
static tcase *find_case(token *t, const tr_result_row *row, bool open_only)
{
    for (size_t i = t->n_cases; i-- > 0;) {
        tcase *c = &t->cases[i];
        if (same(c->suite, row->suite) && same(c->test, row->test) &&
            (!open_only || !c->has_verdict))
            return c;
    }
    return NULL;
}

static bool dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

static bool case_add_metric(tcase *c, const tr_result_row *row)
{
    if (c->n_metrics == c->cap_metrics) {
        size_t n = c->cap_metrics ? c->cap_metrics * 2 : 4;
        metric_rec *p = realloc(c->metrics, n * sizeof *p);
        if (!p)
            return false;
        c->metrics = p;
        c->cap_metrics = n;
    }
    metric_rec *m = &c->metrics[c->n_metrics];
    m->value = row->value;
    m->verdict = row->verdict;
    m->limit = row->limit;
    if (!dup_opt(&m->metric, row->metric) || !dup_opt(&m->unit, row->unit) ||
        !dup_opt(&m->message, row->message) || !dup_opt(&m->limit_kind, row->limit_kind)) {
        free(m->metric);
        free(m->unit);
        free(m->message);
        free(m->limit_kind);
        return false;
    }
    c->n_metrics++;
    return true;
}

static bool case_set_verdict(tcase *c, const tr_result_row *row)
{
    c->has_verdict = true;
    c->verdict = row->verdict;
    c->duration_s = row->duration_s;
    c->line = row->line;
    return dup_opt(&c->classification, row->classification) &&
           dup_opt(&c->message, row->message) && dup_opt(&c->file, row->file);
}

/* Metric rows attach to the test's open testcase (the usual order: metrics,
 * then the verdict row), else to its latest closed one (metrics written
 * after the verdict), else open a new one. A verdict row closes the open
 * testcase or, when there is none, makes a new one. */
static int result_store(tr_reports *r, const tr_result_row *row, tr_err *e)
{
    bool ok = false;
    lock(&r->res_mu);
    token *t = get_token(r, who_or_empty(row->who));
    if (t) {
        tcase *c = find_case(t, row, true);
        if (!c && row->metric)
            c = find_case(t, row, false);
        if (!c)
            c = new_case(t, row);
        if (c)
            ok = row->metric ? case_add_metric(c, row) : case_set_verdict(c, row);
    }
    unlock(&r->res_mu);
    return ok ? 0 : write_fail(r, F_JUNIT, e, TR_E_NOMEM,
                               "no memory to keep a result for junit.xml and the summary");
}

int tr_reports_result(tr_reports *r, const tr_result_row *row, tr_err *e)
{
    if (atomic_load(&r->frozen))
        return 0;
    if (r->fwd_fd >= 0)
        FORWARD(r, tr_rowpipe_send_result(r->fwd_fd, row, e));
    int rc = result_csv(r, row, e);
    tr_err e2;
    if (result_store(r, row, rc == 0 ? e : &e2) != 0)
        rc = -1;
    if (r->sink.result)
        r->sink.result(r->sink.ud, row);
    return rc;
}

static bool set_str(char **dst, const char *src)
{
    char *c = strdup(nz(src));
    if (!c)
        return false;
    free(*dst);
    *dst = c;
    return true;
}

static prop *find_prop(token *t, const char *name)
{
    for (size_t i = 0; i < t->n_props; i++)
        if (strcmp(t->props[i].name, name) == 0)
            return &t->props[i];
    return NULL;
}

static bool add_prop(token *t, const char *name, const char *value)
{
    if (t->n_props == t->cap_props) {
        size_t n = t->cap_props ? t->cap_props * 2 : 8;
        prop *p = realloc(t->props, n * sizeof *p);
        if (!p)
            return false;
        t->props = p;
        t->cap_props = n;
    }
    prop *p = &t->props[t->n_props];
    p->name = strdup(name);
    p->value = strdup(nz(value));
    if (!p->name || !p->value) {
        free(p->name);
        free(p->value);
        return false;
    }
    t->n_props++;
    return true;
}

int tr_reports_slot_property(tr_reports *r, const tr_slot_id *who,
                             const char *name, const char *value, tr_err *e)
{
    if (!name || !*name)
        return tr_fail(e, TR_E_INTERNAL, "slot property without a name");
    if (r->fwd_fd >= 0)
        FORWARD(r, tr_rowpipe_send_property(r->fwd_fd, who, name, value, e));
    bool ok = false;
    lock(&r->res_mu);
    token *t = get_token(r, who_or_empty(who));
    if (t) {
        prop *p = find_prop(t, name);
        ok = p ? set_str(&p->value, value) : add_prop(t, name, value);
    }
    unlock(&r->res_mu);
    if (r->sink.property)
        r->sink.property(r->sink.ud, who_or_empty(who), name, value);
    return ok ? 0 : write_fail(r, F_JUNIT, e, TR_E_NOMEM, "no memory for a slot property of junit.xml");
}

/* ------------------------------------------------------------------------ */
/* Counting                                                                  */

typedef struct {
    unsigned tests, passed, failed, errored, skipped;
    unsigned not_run; /* of the skipped: not-run.* (the run did not do them) */
    double time_s;
} counts;

/* What a testcase counts as: one without a verdict row (the run stopped
 * inside it) or with an out-of-range verdict (TR_INCOMPLETE is a token's,
 * not a test's) is an error. */
static tr_verdict case_verdict(const tcase *c)
{
    if (!c->has_verdict)
        return TR_ERROR;
    switch (c->verdict) {
    case TR_PASS:
    case TR_FAIL:
    case TR_ERROR:
    case TR_SKIP:
        return c->verdict;
    case TR_INCOMPLETE:
        break;
    }
    return TR_ERROR;
}

/* A skipped test the run was asked for and did not do (its skip row says
 * not-run.*), as opposed to one the token's own state makes inapplicable. */
static bool case_not_run(const tcase *c)
{
    return case_verdict(c) == TR_SKIP && *nz(c->classification);
}

static double clean_time(double s)
{
    return isfinite(s) && s > 0 ? s : 0;
}

static counts count_token(const token *t)
{
    counts k = {0};
    for (size_t i = 0; i < t->n_cases; i++) {
        const tcase *c = &t->cases[i];
        k.tests++;
        k.time_s += clean_time(c->duration_s);
        switch (case_verdict(c)) {
        case TR_PASS: k.passed++; break;
        case TR_FAIL: k.failed++; break;
        case TR_ERROR:
        case TR_INCOMPLETE: k.errored++; break;
        case TR_SKIP: k.skipped++; break;
        }
        k.not_run += case_not_run(c);
    }
    return k;
}

static tr_verdict token_verdict(const counts *k)
{
    return k->failed ? TR_FAIL : k->errored ? TR_ERROR : k->not_run ? TR_INCOMPLETE : k->passed ? TR_PASS : TR_SKIP;
}

/* What a token's run left out: per not-run.* code, in order of appearance,
 * "CODE: N test(s) (the first one's reason)", "; "-separated. Allocated
 * ("" when nothing); NULL on no memory. */
static char *not_run_text(const token *t)
{
    char *out = strdup("");
    size_t len = 0;
    for (size_t i = 0; out && i < t->n_cases; i++) {
        const tcase *c = &t->cases[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = case_not_run(&t->cases[j]) && same(t->cases[j].classification, c->classification);
        if (!case_not_run(c) || seen)
            continue;
        unsigned n = 0;
        for (size_t j = i; j < t->n_cases; j++)
            n += case_not_run(&t->cases[j]) && same(t->cases[j].classification, c->classification);
        size_t add = strlen(c->classification) + strlen(nz(c->message)) + 48;
        char *grown = realloc(out, len + add);
        if (!grown) {
            free(out);
            return NULL;
        }
        out = grown;
        len += (size_t)snprintf(out + len, add, "%s%s: %u test%s (%s)", len ? "; " : "", c->classification, n,
                                n == 1 ? "" : "s", nz(c->message));
    }
    return out;
}

/* ------------------------------------------------------------------------ */
/* JUnit                                                                     */

typedef struct {
    FILE *f;
    const tr_reports *r;
    bool oom;
    int err; /* errno of the first failed stdio call, 0 while all went well */
} xml_out;

static void x_failed(xml_out *x)
{
    if (!x->err)
        x->err = errno ? errno : EIO;
}

static void x_raw(xml_out *x, const char *s)
{
    if (fputs(s, x->f) == EOF)
        x_failed(x);
}

static void x_fmt(xml_out *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void x_fmt(xml_out *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(x->f, fmt, ap) < 0)
        x_failed(x);
    va_end(ap);
}

static void x_esc(xml_out *x, const char *s, tr_xml_mode mode)
{
    size_t n = strlen(nz(s));
    char small[512];
    size_t bound = tr_xml_escape_bound(n);
    char *buf = bound <= sizeof small ? small : malloc(bound);
    if (!buf) {
        x->oom = true;
        return;
    }
    tr_xml_escape(nz(s), n, mode, buf, bound);
    x_raw(x, buf);
    if (buf != small)
        free(buf);
}

static void x_attr(xml_out *x, const char *name, const char *value)
{
    x_fmt(x, " %s=\"", name);
    x_esc(x, value, TR_XML_ATTR);
    x_raw(x, "\"");
}

static void x_attr_uint(xml_out *x, const char *name, unsigned v)
{
    x_fmt(x, " %s=\"%u\"", name, v);
}

/* SUREFIRE_TIME in junit-10.xsd: digits, optional fraction, no sign. */
static void x_attr_time(xml_out *x, const char *name, double s)
{
    char num[64];
    format_double(x->r, num, sizeof num, "%.3f", clean_time(s));
    x_attr(x, name, num);
}

static void x_property(xml_out *x, const char *name, const char *value)
{
    x_raw(x, "      <property");
    x_attr(x, "name", name);
    x_attr(x, "value", value);
    x_raw(x, "/>\n");
}

/* Provenance rows as properties: name = "value (source)". */
static void x_provenance(xml_out *x, const prov_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const prov *p = &l->v[i];
        size_t cap = strlen(p->value) + strlen(p->source) + 4;
        char *text = malloc(cap);
        if (!text) {
            x->oom = true;
            return;
        }
        snprintf(text, cap, *p->source ? "%s (%s)" : "%s", p->value, p->source);
        x_property(x, p->name, text);
        free(text);
    }
}

/* The token's identity and verdict first (unless a property of the same
 * name was set explicitly), what the run did not do when it left tests
 * out ("not run"), then the explicit properties in the order they were
 * set. */
static void x_properties(xml_out *x, token *t, const counts *k)
{
    char *not_run = k->not_run ? not_run_text(t) : NULL;
    if (k->not_run && !not_run)
        x->oom = true;
    const struct {
        const char *name, *value;
    } ids[] = {{"run_id", t->run_id}, {"rig", t->rig},       {"slot", t->slot},
               {"serial", t->serial}, {"reader", t->reader}, {"role", t->role},
               {"profile", t->profile}, {"verdict", tr_token_verdict_name(token_verdict(k))},
               {"not run", not_run}};
    x_raw(x, "    <properties>\n");
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*nz(ids[i].value) && !find_prop(t, ids[i].name))
            x_property(x, ids[i].name, ids[i].value);
    free(not_run);
    for (size_t i = 0; i < t->n_props; i++)
        x_property(x, t->props[i].name, t->props[i].value);
    x_provenance(x, &x->r->run_prov);
    x_provenance(x, &t->prov);
    x_raw(x, "    </properties>\n");
}

/* Does the text already begin with the test's "file:line:" (the
 * interpreter's failure messages do)? Then it is not given twice. */
static bool says_where(const tcase *c, const char *text)
{
    size_t n = strlen(nz(c->file));
    if (!n || strncmp(text, c->file, n))
        return false;
    char tail[32];
    snprintf(tail, sizeof tail, ":%d:", c->line);
    return c->line > 0 ? !strncmp(text + n, tail, strlen(tail)) : text[n] == ':';
}

/* "file:line: " before a failure or pass text, unless it says it itself. */
static void x_where(xml_out *x, const tcase *c, const char *text)
{
    if (!*nz(c->file) || says_where(c, text))
        return;
    x_esc(x, c->file, TR_XML_TEXT);
    if (c->line > 0)
        x_fmt(x, ":%d", c->line);
    x_raw(x, ": ");
}

/* <failure>, <error> or <skipped>; nothing for a pass. */
static void x_outcome(xml_out *x, const tcase *c)
{
    tr_verdict v = case_verdict(c);
    const char *msg = nz(c->message);
    const char *cls = nz(c->classification);
    const char *elem = v == TR_FAIL ? "failure" : v == TR_ERROR ? "error" : NULL;
    if (v == TR_SKIP) {
        /* a test the run did not do says why in its code: not-run.* */
        x_raw(x, "      <skipped message=\"");
        if (*cls) {
            x_esc(x, cls, TR_XML_ATTR);
            x_raw(x, ": ");
        }
        x_esc(x, msg, TR_XML_ATTR);
        x_raw(x, "\"/>\n");
        return;
    }
    if (!elem)
        return;
    if (!c->has_verdict) {
        cls = "interrupted";
        msg = "no verdict recorded: the run stopped during this test";
    }
    x_fmt(x, "      <%s", elem);
    x_attr(x, "type", *cls ? cls : elem);
    x_attr(x, "message", msg);
    x_raw(x, ">");
    x_where(x, c, msg);
    x_esc(x, msg, TR_XML_TEXT);
    x_fmt(x, "</%s>\n", elem);
}

/* Metrics (and where a passing test is) as system-out lines: junit-10.xsd
 * has no per-testcase properties. */
static void x_system_out(xml_out *x, const tcase *c)
{
    bool pass = case_verdict(c) == TR_PASS;
    if (c->n_metrics == 0 && !(pass && *nz(c->message)))
        return;
    x_raw(x, "      <system-out>");
    for (size_t i = 0; i < c->n_metrics; i++) {
        const metric_rec *m = &c->metrics[i];
        char num[64];
        format_double(x->r, num, sizeof num, "%.10g", m->value);
        x_raw(x, "metric ");
        x_esc(x, m->metric, TR_XML_TEXT);
        x_fmt(x, " = %s", *num ? num : "n/a");
        if (*nz(m->unit)) {
            x_raw(x, " ");
            x_esc(x, m->unit, TR_XML_TEXT);
        }
        if (m->limit_kind) { /* the limit beside the value */
            char lim[64];
            format_double(x->r, lim, sizeof lim, "%.10g", m->limit);
            x_raw(x, " (");
            x_esc(x, m->limit_kind, TR_XML_TEXT);
            x_fmt(x, " %s)", *lim ? lim : "n/a");
        }
        if (m->verdict != TR_PASS || *nz(m->message)) {
            x_fmt(x, " [%s", tr_verdict_name(m->verdict));
            if (*nz(m->message)) {
                x_raw(x, ": ");
                x_esc(x, m->message, TR_XML_TEXT);
            }
            x_raw(x, "]");
        }
        x_raw(x, "\n");
    }
    if (pass && *nz(c->message)) {
        x_where(x, c, c->message);
        x_esc(x, c->message, TR_XML_TEXT);
        x_raw(x, "\n");
    }
    x_raw(x, "</system-out>\n");
}

static void x_testcase(xml_out *x, const tcase *c)
{
    x_raw(x, "    <testcase");
    x_attr(x, "name", c->test);
    x_attr(x, "classname", c->suite);
    x_attr_time(x, "time", c->duration_s);
    bool empty = case_verdict(c) == TR_PASS && c->n_metrics == 0 && !*nz(c->message);
    if (empty) {
        x_raw(x, "/>\n");
        return;
    }
    x_raw(x, ">\n");
    x_outcome(x, c);
    x_system_out(x, c);
    x_raw(x, "    </testcase>\n");
}

static void token_label(const token *t, char *out, size_t cap)
{
    if (*nz(t->serial))
        snprintf(out, cap, "%s/%s", nz(t->slot), t->serial);
    else
        snprintf(out, cap, "%s", nz(t->slot));
}

static void x_testsuite(xml_out *x, token *t, size_t id)
{
    counts k = count_token(t);
    size_t cap = strlen(nz(t->slot)) + strlen(nz(t->serial)) + 2;
    char *label = malloc(cap);
    if (!label) {
        x->oom = true;
        return;
    }
    token_label(t, label, cap);
    x_raw(x, "  <testsuite");
    x_attr(x, "name", label);
    x_attr_uint(x, "tests", k.tests);
    x_attr_uint(x, "failures", k.failed);
    x_attr_uint(x, "errors", k.errored);
    x_attr_uint(x, "skipped", k.skipped);
    x_attr_time(x, "time", k.time_s);
    x_attr(x, "timestamp", t->first_time);
    x_attr_uint(x, "id", (unsigned)id);
    x_raw(x, ">\n");
    free(label);
    x_properties(x, t, &k);
    for (size_t i = 0; i < t->n_cases; i++)
        x_testcase(x, &t->cases[i]);
    x_raw(x, "  </testsuite>\n");
}

/* The root carries tests/failures/errors/time: junit-10.xsd allows no
 * "skipped" attribute on <testsuites>, so skips are counted per testsuite. */
static void x_document(xml_out *x, tr_reports *r)
{
    counts all = {0};
    const char *run_id = NULL;
    for (size_t i = 0; i < r->n_tokens; i++) {
        counts k = count_token(&r->tokens[i]);
        all.tests += k.tests;
        all.failed += k.failed;
        all.errored += k.errored;
        all.time_s += k.time_s;
        if (!run_id && *nz(r->tokens[i].run_id))
            run_id = r->tokens[i].run_id;
    }
    x_raw(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    if (run_id) {
        x_raw(x, " name=\"tokenrig ");
        x_esc(x, run_id, TR_XML_ATTR);
        x_raw(x, "\"");
    } else {
        x_attr(x, "name", "tokenrig");
    }
    x_attr_uint(x, "tests", all.tests);
    x_attr_uint(x, "failures", all.failed);
    x_attr_uint(x, "errors", all.errored);
    x_attr_time(x, "time", all.time_s);
    x_raw(x, ">\n");
    for (size_t i = 0; i < r->n_tokens; i++)
        x_testsuite(x, &r->tokens[i], i);
    x_raw(x, "</testsuites>\n");
}

/* What fill() of write_atomically found: 0, ENOMEM or the errno of the
 * first write that failed. */
typedef int (*fill_fn)(tr_reports *r, FILE *f, const void *ctx);

/* Write the whole file through fill() into dir/.name.tmp.PID, fsync, close
 * and rename it over name, every step checked; on failure the temporary
 * file goes and the old file (if any) stays. */
static int write_atomically(tr_reports *r, int file, fill_fn fill, const void *ctx,
                            tr_err *e)
{
    const char *name = FILE_NAMES[file];
    char tmpname[128];
    snprintf(tmpname, sizeof tmpname, ".%s.tmp.%ld", name, (long)getpid());
    char *tmp = join_path(r->dir, tmpname);
    char *dst = join_path(r->dir, name);
    if (!tmp || !dst) {
        free(tmp);
        free(dst);
        return write_fail(r, file, e, TR_E_NOMEM, "%s: no memory", name);
    }
    int rc = -1, err = 0;
    FILE *f = fopen(tmp, "we");
    if (!f) {
        write_fail(r, file, e, TR_E_IO, "%s: cannot create %s: %s", dst, tmpname, strerror(errno));
        goto out;
    }
    err = fill(r, f, ctx);
    errno = 0;
    if (!err && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0))
        err = errno ? errno : EIO;
    int fc = fclose(f);
    if (!err && fc != 0)
        err = errno ? errno : EIO;
    if (err) {
        write_fail(r, file, e, err == ENOMEM ? TR_E_NOMEM : TR_E_IO, "%s: %s", dst, strerror(err));
        goto out;
    }
    if (rename(tmp, dst) != 0) {
        write_fail(r, file, e, TR_E_IO, "%s: cannot rename %s into place: %s", dst, tmpname,
                   strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && f)
        unlink(tmp);
    free(tmp);
    free(dst);
    return rc;
}

static int fill_junit(tr_reports *r, FILE *f, const void *ctx)
{
    (void)ctx;
    xml_out x = {f, r, false, 0};
    x_document(&x, r);
    return x.oom ? ENOMEM : x.err;
}

int tr_reports_write_junit(tr_reports *r, tr_err *e)
{
    if (r->fwd_fd >= 0) /* the parent's file */
        return 0;
    lock(&r->res_mu);
    int rc = write_atomically(r, F_JUNIT, fill_junit, NULL, e);
    unlock(&r->res_mu);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Batch summary                                                             */

const char *tr_token_verdict_name(tr_verdict v)
{
    switch (v) {
    case TR_PASS: return "PASS";
    case TR_FAIL: return "FAIL";
    case TR_ERROR: return "ERROR";
    case TR_SKIP: return "SKIP";
    case TR_INCOMPLETE: return "INCOMPLETE";
    }
    return "INVALID";
}

/* Append code to the ";"-list in *list unless it is already there. */
static bool add_classification(char **list, const char *code)
{
    if (!*nz(code))
        return true;
    size_t n = strlen(code), have = strlen(*list);
    for (const char *p = *list; *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, code, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    char *grown = realloc(*list, have + n + 2);
    if (!grown)
        return false;
    if (have)
        grown[have++] = ';';
    memcpy(grown + have, code, n + 1);
    *list = grown;
    return true;
}

static bool summarise_token(const token *t, tr_token_summary *s)
{
    counts k = count_token(t);
    s->tests = k.tests;
    s->passed = k.passed;
    s->failed = k.failed;
    s->errored = k.errored;
    s->skipped = k.skipped;
    s->not_run = k.not_run;
    s->duration_s = k.time_s;
    s->verdict = token_verdict(&k);
    s->not_run_why = not_run_text(t);
    s->run_id = strdup(nz(t->run_id));
    s->rig = strdup(nz(t->rig));
    s->slot = strdup(nz(t->slot));
    s->serial = strdup(nz(t->serial));
    s->role = strdup(nz(t->role));
    s->classifications = strdup("");
    if (!s->run_id || !s->rig || !s->slot || !s->serial || !s->role ||
        !s->classifications || !s->not_run_why)
        return false;
    for (size_t i = 0; i < t->n_cases; i++) {
        const tcase *c = &t->cases[i];
        tr_verdict v = case_verdict(c);
        if (v != TR_FAIL && v != TR_ERROR)
            continue;
        const char *code = c->has_verdict ? c->classification : "interrupted";
        if (!add_classification(&s->classifications, code))
            return false;
    }
    for (size_t i = 0; i < t->n_cases; i++)
        if (case_not_run(&t->cases[i]) && !add_classification(&s->classifications, t->cases[i].classification))
            return false;
    return true;
}

void tr_reports_token_summary_clear(tr_token_summary *s)
{
    free(s->run_id);
    free(s->rig);
    free(s->slot);
    free(s->serial);
    free(s->role);
    free(s->classifications);
    free(s->not_run_why);
    memset(s, 0, sizeof *s);
}

void tr_reports_token_summary_free(tr_token_summary *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        tr_reports_token_summary_clear(&s[i]);
    free(s);
}

/* Caller holds res_mu. */
static tr_token_summary *summarise_locked(tr_reports *r, size_t *n, tr_err *e)
{
    *n = 0;
    tr_token_summary *s = calloc(r->n_tokens ? r->n_tokens : 1, sizeof *s);
    if (!s) {
        tr_fail(e, TR_E_NOMEM, "no memory for the summary");
        return NULL;
    }
    for (size_t i = 0; i < r->n_tokens; i++) {
        bool ok = summarise_token(&r->tokens[i], &s[i]);
        *n = i + 1; /* so that free releases what this entry got */
        if (!ok) {
            tr_reports_token_summary_free(s, *n);
            *n = 0;
            tr_fail(e, TR_E_NOMEM, "no memory for the summary");
            return NULL;
        }
    }
    return s;
}

/* Slots in the order people number them: A2 before A10. */
static int by_slot(const void *a, const void *b)
{
    const tr_token_summary *x = a, *y = b;
    int c = strverscmp(x->slot, y->slot);
    return c ? c : strcmp(x->serial, y->serial);
}

tr_token_summary *tr_reports_token_summary(tr_reports *r, size_t *n, tr_err *e)
{
    lock(&r->res_mu);
    tr_token_summary *s = summarise_locked(r, n, e);
    unlock(&r->res_mu);
    if (s && *n > 1)
        qsort(s, *n, sizeof *s, by_slot);
    return s;
}

typedef struct {
    const tr_token_summary *s;
    size_t n;
} summary_set;

/* The row built in s to f: 0, ENOMEM or the errno of the failed write. */
static int summary_row_out(csv_stream *s, FILE *f)
{
    if (!row_finish(s))
        return ENOMEM;
    if (fwrite(s->row, 1, s->len, f) != s->len)
        return errno ? errno : EIO;
    return 0;
}

static int fill_summary_csv(tr_reports *r, FILE *f, const void *ctx)
{
    const summary_set *set = ctx;
    static const char *const header[] = {
        "run_id", "rig", "slot", "serial", "role", "verdict", "classifications",
        "tests", "passed", "failed", "errored", "skipped", "duration_s", "not_run", NULL};
    csv_stream s = {.name = "summary.csv", .fd = -1};
    row_begin(&s);
    for (const char *const *h = header; *h; h++)
        cell_raw(&s, *h);
    int err = summary_row_out(&s, f);
    for (size_t i = 0; i < set->n && !err; i++) {
        const tr_token_summary *t = &set->s[i];
        row_begin(&s);
        cell_text(&s, t->run_id);
        cell_text(&s, t->rig);
        cell_text(&s, t->slot);
        cell_text(&s, t->serial);
        cell_text(&s, t->role);
        cell_raw(&s, tr_token_verdict_name(t->verdict));
        cell_text(&s, t->classifications);
        cell_u64(&s, t->tests);
        cell_u64(&s, t->passed);
        cell_u64(&s, t->failed);
        cell_u64(&s, t->errored);
        cell_u64(&s, t->skipped);
        cell_double(r, &s, "%.3f", t->duration_s);
        cell_u64(&s, t->not_run);
        err = summary_row_out(&s, f);
    }
    free(s.row);
    free(s.scratch);
    return err;
}

/* Display width of sanitised UTF-8: code points, not bytes. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static char *terminal_safe(const char *s)
{
    size_t n = strlen(nz(s));
    size_t cap = tr_text_sanitize_bound(n);
    char *out = malloc(cap);
    if (out)
        tr_text_sanitize(nz(s), n, "", out, cap);
    return out;
}

enum { T_SLOT, T_SERIAL, T_ROLE, T_VERDICT, T_TESTS, T_PASS, T_FAIL, T_ERR,
       T_SKIP, T_TIME, T_CLASS, T_COLS };

static const char *const TABLE_HEAD[T_COLS] = {
    "SLOT", "SERIAL", "ROLE", "VERDICT", "TESTS", "PASS", "FAIL", "ERROR",
    "SKIP", "TIME_S", "CLASSIFICATIONS"};

/* Cells of one table row, all allocated (numbers included, for one width
 * computation). */
static bool table_row(const tr_reports *r, const tr_token_summary *t,
                      char *cells[T_COLS])
{
    char num[T_COLS][64];
    snprintf(num[T_TESTS], 64, "%u", t->tests);
    snprintf(num[T_PASS], 64, "%u", t->passed);
    snprintf(num[T_FAIL], 64, "%u", t->failed);
    snprintf(num[T_ERR], 64, "%u", t->errored);
    snprintf(num[T_SKIP], 64, "%u", t->skipped);
    format_double(r, num[T_TIME], 64, "%.3f", t->duration_s);
    cells[T_SLOT] = terminal_safe(t->slot);
    cells[T_SERIAL] = terminal_safe(t->serial);
    cells[T_ROLE] = terminal_safe(t->role);
    cells[T_VERDICT] = strdup(tr_token_verdict_name(t->verdict));
    cells[T_CLASS] = terminal_safe(t->classifications);
    for (int c = T_TESTS; c <= T_TIME; c++)
        cells[c] = strdup(num[c]);
    for (int c = 0; c < T_COLS; c++)
        if (!cells[c])
            return false;
    return true;
}

/* Columns are padded with spaces owed to the next non-empty text, so no
 * line ends in blanks. */
static void print_table_line(FILE *out, char *const cells[T_COLS],
                             const size_t width[T_COLS])
{
    size_t owed = 0;
    for (int c = 0; c < T_COLS; c++) {
        size_t pad = width[c] - text_width(cells[c]);
        bool right = c >= T_TESTS && c <= T_TIME;
        if (right)
            owed += pad;
        if (*cells[c]) {
            fprintf(out, "%*s%s", (int)owed, "", cells[c]);
            owed = 0;
        }
        if (!right)
            owed += pad;
        owed += 2;
    }
    fputc('\n', out);
}

static bool same_not_run(const tr_token_summary *a, const tr_token_summary *b)
{
    return a->verdict == TR_INCOMPLETE && b->verdict == TR_INCOMPLETE && !strcmp(a->not_run_why, b->not_run_why);
}

/* What the INCOMPLETE tokens were not given to run: one line per distinct
 * text, naming its tokens. False on no memory. */
static bool print_incomplete(FILE *out, const summary_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        bool printed = set->s[i].verdict != TR_INCOMPLETE;
        for (size_t j = 0; j < i && !printed; j++)
            printed = same_not_run(&set->s[j], &set->s[i]);
        if (printed)
            continue;
        fputs("INCOMPLETE", out);
        for (size_t j = i; j < set->n; j++) {
            char *slot = same_not_run(&set->s[j], &set->s[i]) ? terminal_safe(set->s[j].slot) : NULL;
            if (slot)
                fprintf(out, " %s", slot);
            free(slot);
        }
        char *why = terminal_safe(set->s[i].not_run_why);
        if (!why)
            return false;
        fprintf(out, ": %s\n", why);
        free(why);
    }
    return true;
}

static int print_table(const tr_reports *r, const summary_set *set, FILE *out,
                       tr_err *e)
{
    char *(*cells)[T_COLS] = calloc(set->n ? set->n : 1, sizeof *cells);
    if (!cells)
        return tr_fail(e, TR_E_NOMEM, "no memory for the summary table");
    size_t width[T_COLS];
    bool ok = true;
    for (int c = 0; c < T_COLS; c++)
        width[c] = strlen(TABLE_HEAD[c]);
    for (size_t i = 0; i < set->n && ok; i++) {
        ok = table_row(r, &set->s[i], cells[i]);
        for (int c = 0; c < T_COLS && ok; c++)
            if (text_width(cells[i][c]) > width[c])
                width[c] = text_width(cells[i][c]);
    }
    if (ok) {
        print_table_line(out, (char *const *)TABLE_HEAD, width);
        unsigned passed = 0;
        for (size_t i = 0; i < set->n; i++) {
            print_table_line(out, cells[i], width);
            passed += set->s[i].verdict == TR_PASS;
        }
        char pct[32] = "no tokens";
        if (set->n)
            format_double(r, pct, sizeof pct, "%.1f%%", 100.0 * passed / (double)set->n);
        fprintf(out, "batch yield: %u/%zu tokens passed (%s)\n", passed, set->n, pct);
        ok = print_incomplete(out, set);
    }
    for (size_t i = 0; i < set->n; i++)
        for (int c = 0; c < T_COLS; c++)
            free(cells[i][c]);
    free(cells);
    if (!ok)
        return tr_fail(e, TR_E_NOMEM, "no memory for the summary table");
    errno = 0;
    if (fflush(out) != 0 || ferror(out))
        return tr_fail(e, TR_E_IO, "cannot print the summary table: %s",
                       strerror(errno ? errno : EIO));
    return 0;
}

/* The tokens' summaries, sorted by slot: set->s NULL (e set) on no memory. */
static void summary_sorted(tr_reports *r, summary_set *set, tr_err *e)
{
    tr_token_summary *sorted = summarise_locked(r, &set->n, e);
    if (sorted && set->n > 1)
        qsort(sorted, set->n, sizeof *sorted, by_slot);
    set->s = sorted;
}

int tr_reports_write_summary(tr_reports *r, tr_err *e)
{
    if (r->fwd_fd >= 0)
        return 0;
    lock(&r->res_mu);
    summary_set set = {NULL, 0};
    summary_sorted(r, &set, e);
    int rc = set.s ? write_atomically(r, F_SUMMARY, fill_summary_csv, &set, e)
                   : write_fail(r, F_SUMMARY, e, TR_E_NOMEM, "summary.csv: no memory for the summary");
    unlock(&r->res_mu);
    tr_reports_token_summary_free((tr_token_summary *)set.s, set.n);
    return rc;
}

int tr_reports_print_summary(tr_reports *r, FILE *out, tr_err *e)
{
    lock(&r->res_mu);
    summary_set set = {NULL, 0};
    summary_sorted(r, &set, e);
    unlock(&r->res_mu);
    int rc = set.s ? print_table(r, &set, out, e) : -1;
    tr_reports_token_summary_free((tr_token_summary *)set.s, set.n);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Cycle summary                                                             */

/* Caller holds res_mu. Sorts the tally's stage arrays (the order of the
 * times does not matter to anyone). */
static void tally_stats(cycle_tally *t, tr_cycle_stats *out)
{
    memset(out, 0, sizeof *out);
    out->cycles = t->cycles;
    out->failed = t->failed;
    out->first_apdu_limit_ms = t->limit_ms;
    for (int k = 0; k < TR_STAGE_COUNT; k++) {
        tr_stats st;
        tr_stats_compute(t->t[k], t->n[k], &st);
        out->count[k] = st.n;
        out->p50[k] = st.p50;
        out->p95[k] = st.p95;
        out->max[k] = st.max;
    }
}

bool tr_reports_cycle_stats(tr_reports *r, const char *slot, tr_cycle_stats *out)
{
    bool found = false;
    lock(&r->res_mu);
    for (size_t i = 0; i < r->n_tallies && !found; i++)
        if (same(r->tallies[i].slot, slot)) {
            tally_stats(&r->tallies[i], out);
            found = true;
        }
    unlock(&r->res_mu);
    return found;
}

static void cell_stat(const tr_reports *r, csv_stream *s, size_t n, double v)
{
    if (n)
        cell_double(r, s, "%.3f", v);
    else
        cell_raw(s, "");
}

static int by_tally_slot(const void *a, const void *b)
{
    return strverscmp(((const cycle_tally *)a)->slot, ((const cycle_tally *)b)->slot);
}

static int fill_cycle_summary(tr_reports *r, FILE *f, const void *ctx)
{
    (void)ctx;
    static const char *const header[] = {"run_id", "slot", "serial", "stage", "cycles", "failed", "count",
                                         "p50_ms", "p95_ms", "max_ms", "limit_ms", NULL};
    csv_stream s = {.name = "cycles-summary.csv", .fd = -1};
    row_begin(&s);
    for (const char *const *h = header; *h; h++)
        cell_raw(&s, *h);
    int err = summary_row_out(&s, f);
    if (r->n_tallies > 1)
        qsort(r->tallies, r->n_tallies, sizeof *r->tallies, by_tally_slot);
    for (size_t i = 0; i < r->n_tallies && !err; i++) {
        cycle_tally *t = &r->tallies[i];
        tr_cycle_stats st;
        tally_stats(t, &st);
        for (int k = 0; k < TR_STAGE_COUNT && !err; k++) {
            row_begin(&s);
            cell_text(&s, t->run_id);
            cell_text(&s, t->slot);
            cell_text(&s, t->serial);
            cell_raw(&s, TR_STAGE_COLUMN[k]);
            cell_u64(&s, st.cycles);
            cell_u64(&s, st.failed);
            cell_u64(&s, st.count[k]);
            cell_stat(r, &s, st.count[k], st.p50[k]);
            cell_stat(r, &s, st.count[k], st.p95[k]);
            cell_stat(r, &s, st.count[k], st.max[k]);
            if (k == TR_STAGE_FIRST_APDU && st.first_apdu_limit_ms > 0)
                cell_double(r, &s, "%.10g", st.first_apdu_limit_ms);
            else
                cell_raw(&s, "");
            err = summary_row_out(&s, f);
        }
    }
    free(s.row);
    free(s.scratch);
    return err;
}

int tr_reports_write_cycle_summary(tr_reports *r, tr_err *e)
{
    if (r->fwd_fd >= 0)
        return 0;
    lock(&r->res_mu);
    int rc = write_atomically(r, F_CYCLE_SUMMARY, fill_cycle_summary, NULL, e);
    unlock(&r->res_mu);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Write failures                                                            */

bool tr_reports_write_failed(tr_reports *r, tr_err *e)
{
    pthread_mutex_lock(&r->fail_mu);
    unsigned failed = r->failed_files;
    if (failed && e) {
        *e = r->first_fail;
        size_t n = strlen(e->msg);
        const char *sep = " (also failed: ";
        for (int f = 0; f < F_COUNT; f++) {
            if (f == r->first_file || !(failed & (1u << f)) || n >= sizeof e->msg)
                continue;
            n += (size_t)snprintf(e->msg + n, sizeof e->msg - n, "%s%s", sep, FILE_NAMES[f]);
            sep = ", ";
        }
        if (*sep == ',' && n < sizeof e->msg)
            snprintf(e->msg + n, sizeof e->msg - n, ")");
    }
    pthread_mutex_unlock(&r->fail_mu);
    return failed != 0;
}

/* fsync says EINVAL or EROFS for a device or a pipe: nothing to sync. */
int tr_reports_sync(tr_reports *r, tr_err *e)
{
    for (int i = 0; i < S_COUNT; i++) {
        csv_stream *s = &r->s[i];
        lock(&s->mu);
        if (s->fd >= 0 && fsync(s->fd) != 0 && errno != EINVAL && errno != EROFS)
            write_fail(r, i, NULL, TR_E_IO, "%s: %s", s->path, strerror(errno));
        unlock(&s->mu);
    }
    return tr_reports_write_failed(r, e) ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* The results database listens                                             */

void tr_reports_set_sink(tr_reports *r, const tr_reports_sink *sink)
{
    if (sink)
        r->sink = *sink;
    else
        memset(&r->sink, 0, sizeof r->sink);
}

void tr_reports_now(tr_reports *r, char *out, size_t cap)
{
    lock(&r->res_mu); /* fixed_time changes under it */
    now_iso(r, out, cap);
    unlock(&r->res_mu);
}

int tr_reports_token_summary_of(tr_reports *r, const tr_slot_id *who, tr_token_summary *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    lock(&r->res_mu);
    token *t = find_token(r, who_or_empty(who));
    bool ok = !t || summarise_token(t, out);
    unlock(&r->res_mu);
    if (!ok) {
        tr_reports_token_summary_clear(out);
        return tr_fail(e, TR_E_NOMEM, "no memory for a token's summary");
    }
    return t ? 1 : 0;
}
