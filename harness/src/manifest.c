#include "manifest.h"

#include <csv.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { COL_SERIAL, COL_ROLE, COL_ORG, COL_NOT_AFTER, COL_SLOT, COL_BATCH, NCOLS };
static const char *const col_names[NCOLS] = {"serial", "role", "org", "not_after", "slot", "batch"};
/* Every row says all of these: a blank one would quietly skip the test
 * that compares it (the token would pass unchecked). slot and batch are
 * optional. */
#define REQUIRED_COLS ((1u << COL_SERIAL) | (1u << COL_ROLE) | (1u << COL_ORG) | (1u << COL_NOT_AFTER))

typedef struct {
    tr_manifest *m;
    tr_err *e;
    bool failed;
    int line;             /* current record's line */
    int field;            /* index within the record */
    int col_of_field[16]; /* header: which column each field is */
    int ncols;            /* fields of the header row */
    unsigned header_cols; /* columns the header names (bit per COL_) */
    unsigned row_cols;    /* columns of the current row with a value */
    bool header_done;
    tr_manifest_entry cur;
} mparse;

static void bad(mparse *p, const char *fmt, const char *arg)
{
    if (p->failed)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    tr_fail_at(p->e, TR_E_CONFIG, p->m->path, p->line, 0, "%s", msg);
    p->failed = true;
}

/* YYYY-MM-DD, a day that exists (the suites compare it with the
 * certificate's notAfter as text). */
static bool valid_date(const char *v)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
            return false;
    int y = atoi(v), m = atoi(v + 5), d = atoi(v + 8);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] && !(m == 2 && d == 29 && !leap);
}

static void header_field(mparse *p, int f, const char *v)
{
    if (f == 0 && !strncmp(v, "\xEF\xBB\xBF", 3)) /* a spreadsheet's UTF-8 byte order mark */
        v += 3;
    p->col_of_field[f] = -1;
    p->ncols = f + 1;
    for (int c = 0; c < NCOLS; c++)
        if (!strcasecmp(v, col_names[c]))
            p->col_of_field[f] = c;
    int c = p->col_of_field[f];
    if (c < 0)
        bad(p, "unknown column '%s' in the header (expected serial, role, org, not_after, slot, batch)", v);
    else if (p->header_cols & (1u << c))
        bad(p, "column '%s' named twice in the header", v);
    else
        p->header_cols |= 1u << c;
}

/* A value into its entry field: too long for it is an error, never cut. */
static void store(mparse *p, const char *v, char *dst, size_t cap, const char *col)
{
    if (strlen(v) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "%s (at most %zu characters)", col, cap - 1);
        bad(p, "%s is too long", what);
    }
    tr_strlcpy(dst, v, cap);
}

/* One manifest is one batch: every row that names it names the same. */
static void batch_field(mparse *p, const char *v)
{
    if (!*v)
        return;
    if (!p->m->batch[0])
        store(p, v, p->m->batch, sizeof p->m->batch, "batch");
    else if (strcmp(p->m->batch, v))
        bad(p, "batch '%s' is not the batch the rows above name (one manifest is one batch)", v);
}

static void row_field(mparse *p, int f, const char *v)
{
    if (f >= p->ncols) {
        bad(p, "row has more fields than the header has columns (%s)", "serial, role, org, not_after[, slot][, batch]");
        return;
    }
    int c = p->col_of_field[f];
    if (*v)
        p->row_cols |= 1u << c;
    switch (c) {
    case COL_SERIAL: store(p, v, p->cur.serial, sizeof p->cur.serial, "serial"); break;
    case COL_ROLE:
        if (*v && strcmp(v, "main") && strcmp(v, "secondary"))
            bad(p, "role '%s': expected main or secondary", v);
        store(p, v, p->cur.role, sizeof p->cur.role, "role");
        break;
    case COL_ORG: store(p, v, p->cur.org, sizeof p->cur.org, "org"); break;
    case COL_NOT_AFTER:
        if (*v && !valid_date(v))
            bad(p, "not_after '%s': expected a date YYYY-MM-DD that exists", v);
        store(p, v, p->cur.not_after, sizeof p->cur.not_after, "not_after");
        break;
    case COL_SLOT: store(p, v, p->cur.slot, sizeof p->cur.slot, "slot"); break;
    case COL_BATCH: batch_field(p, v); break;
    default: break;
    }
}

static void on_field(void *s, size_t len, void *data)
{
    mparse *p = data;
    char v[256];
    if (len >= sizeof v) {
        bad(p, "a field is longer than %s characters", "255");
        len = sizeof v - 1;
    }
    if (len) /* CSV_EMPTY_IS_NULL: an empty field comes as NULL */
        memcpy(v, s, len);
    v[len] = '\0';
    tr_trim(v);
    int f = p->field++;
    if (f >= 16) {
        bad(p, "too many columns (at most %s)", "16");
        return;
    }
    if (!p->header_done)
        header_field(p, f, v);
    else
        row_field(p, f, v);
}

/* The header names every required column. */
static void check_header(mparse *p)
{
    for (int c = 0; c < NCOLS; c++)
        if ((REQUIRED_COLS & (1u << c)) && !(p->header_cols & (1u << c)))
            bad(p, "the header row has no '%s' column (required: serial, role, org, not_after; optional: slot, batch)",
                col_names[c]);
    p->header_done = true;
}

/* Every required column of the row has a value. */
static bool row_complete(mparse *p)
{
    if (p->field < p->ncols) {
        char n[64];
        snprintf(n, sizeof n, "%d fields, the header has %d columns", p->field, p->ncols);
        bad(p, "row has %s", n);
        return false;
    }
    for (int c = 0; c < NCOLS; c++)
        if ((REQUIRED_COLS & (1u << c)) && !(p->row_cols & (1u << c))) {
            bad(p, "row has no %s (every row gives serial, role, org and not_after)", col_names[c]);
            return false;
        }
    return true;
}

static void on_record(int c, void *data)
{
    (void)c;
    mparse *p = data;
    if (!p->header_done) {
        check_header(p);
    } else if (!p->failed) {
        if (row_complete(p)) {
            tr_manifest_entry *ne = realloc(p->m->entries, (p->m->n + 1) * sizeof *ne);
            if (!ne) {
                bad(p, "out of %s", "memory");
            } else {
                p->m->entries = ne;
                p->cur.line = p->line;
                for (size_t i = 0; i < p->m->n; i++)
                    if (p->cur.serial[0] && !strcmp(ne[i].serial, p->cur.serial))
                        bad(p, "serial %s appears twice", p->cur.serial);
                ne[p->m->n++] = p->cur;
            }
        }
    }
    memset(&p->cur, 0, sizeof p->cur);
    p->row_cols = 0;
    p->field = 0;
}

int tr_manifest_load(const char *path, tr_manifest *m, tr_err *e)
{
    memset(m, 0, sizeof *m);
    tr_strlcpy(m->path, path, sizeof m->path);
    FILE *f = fopen(path, "r");
    if (!f)
        return tr_fail(e, TR_E_CONFIG, "%s: cannot open the manifest: %m", path);
    struct csv_parser csv;
    csv_init(&csv, CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
    mparse p = {.m = m, .e = e};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    /* feed line by line so errors carry the line the record started on */
    while (!p.failed && (n = getline(&line, &cap, f)) > 0) {
        p.line++;
        if (n > 4096) {
            bad(&p, "line longer than %s characters", "4096");
            break;
        }
        if ((size_t)csv_parse(&csv, line, (size_t)n, on_field, on_record, &p) != (size_t)n)
            bad(&p, "CSV: %s", csv_strerror(csv_error(&csv)));
    }
    if (!p.failed)
        csv_fini(&csv, on_field, on_record, &p);
    csv_free(&csv);
    free(line);
    fclose(f);
    if (!p.failed && !p.header_done)
        tr_fail_at(e, TR_E_CONFIG, path, 1, 0, "empty manifest: the first row must name the columns");
    if (p.failed || !p.header_done) {
        tr_manifest_free(m);
        return -1;
    }
    return 0;
}

void tr_manifest_free(tr_manifest *m)
{
    free(m->entries);
    m->entries = NULL;
    m->n = 0;
}

const tr_manifest_entry *tr_manifest_find(const tr_manifest *m, const char *serial, const char *slot)
{
    for (size_t i = 0; i < m->n; i++)
        if (serial && *serial && !strcmp(m->entries[i].serial, serial))
            return &m->entries[i];
    for (size_t i = 0; i < m->n; i++)
        if (slot && *slot && !strcmp(m->entries[i].slot, slot))
            return &m->entries[i];
    return NULL;
}

int tr_manifest_apply(tr_manifest *m, const char *serial, const char *slot, tr_vars *vars, tr_err *e)
{
    tr_manifest_entry *me = (tr_manifest_entry *)tr_manifest_find(m, serial, slot);
    int rc = tr_vars_set(vars, "IN_MANIFEST", me ? "1" : "0");
    if (me) {
        me->matched = 1;
        if (me->serial[0])
            rc |= tr_vars_set(vars, "EXPECTED_SERIAL", me->serial);
        if (me->role[0])
            rc |= tr_vars_set(vars, "EXPECTED_ROLE", me->role);
        if (me->org[0])
            rc |= tr_vars_set(vars, "EXPECTED_ORG", me->org);
        if (me->not_after[0])
            rc |= tr_vars_set(vars, "EXPECTED_NOT_AFTER", me->not_after);
    }
    return rc ? tr_fail(e, TR_E_NOMEM, "out of memory") : 0;
}

int tr_manifest_report_unmatched(const tr_manifest *m, tr_reports *rep, const char *run_id, const char *rig,
                                 tr_err *e)
{
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->entries[i].matched)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg, "%s:%d: manifest entry %s (%s) has no token in the rig", m->path,
                 m->entries[i].line, m->entries[i].serial, m->entries[i].role);
        tr_slot_id who = {.run_id = run_id, .rig = rig, .slot = "(manifest)", .serial = m->entries[i].serial,
                          .role = m->entries[i].role};
        tr_result_row row = {.who = &who, .suite = "manifest", .test = "token present", .verdict = TR_ERROR,
                             .classification = "manifest.no-token", .message = msg, .file = m->path,
                             .line = m->entries[i].line};
        fprintf(stderr, "tokenrig: %s\n", msg);
        if (rc == 0 && tr_reports_result(rep, &row, e) < 0)
            rc = -1;
    }
    return rc;
}
