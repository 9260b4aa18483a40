/* csvread.c — see csvread.h. libcsv does the quoting; this file keeps the
 * header's names and one row's cells (one growing buffer of NUL-terminated
 * cells and their offsets), and calls the reader's function per row. */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tr_csv_row {
    char *names[TR_CSV_COLS_MAX]; /* header cells */
    size_t ncols;
    char *buf;                    /* the current row's cells, NUL-separated */
    size_t len, cap;
    size_t off[TR_CSV_COLS_MAX];
    size_t ncells;
    size_t rowno;
    bool cut, header_done, oom, stop;
    tr_csv_row_fn fn;
    void *ud;
    tr_err *e;
    int rc; /* what fn returned last (-1 kept) */
};

static bool buf_put(tr_csv_row *r, const char *s, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *p = realloc(r->buf, cap);
        if (!p)
            return false;
        r->buf = p;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len++] = '\0';
    return true;
}

static void on_field(void *s, size_t n, void *data)
{
    tr_csv_row *r = data;
    if (r->stop || r->oom || r->ncells == TR_CSV_COLS_MAX)
        return;
    if (n > TR_CSV_CELL_MAX) {
        n = TR_CSV_CELL_MAX;
        r->cut = true;
    }
    const char *p = s ? s : "";
    if (!r->header_done && r->ncells == 0 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
        p += 3; /* a byte order mark before the first column's name */
        n -= 3;
    }
    r->off[r->ncells++] = r->len;
    if (!buf_put(r, p, n))
        r->oom = true;
}

static void take_header(tr_csv_row *r)
{
    for (size_t i = 0; i < r->ncells && !r->oom; i++) {
        r->names[i] = strdup(r->buf + r->off[i]);
        if (!r->names[i])
            r->oom = true;
        r->ncols = i + 1;
    }
    r->header_done = true;
}

static void on_record(int c, void *data)
{
    (void)c;
    tr_csv_row *r = data;
    if (r->stop || r->oom) {
        r->stop = true;
        return;
    }
    if (!r->header_done) {
        take_header(r);
    } else {
        r->rowno++;
        int rc = r->fn(r->ud, r, r->e);
        if (rc != 0) {
            r->rc = rc;
            r->stop = true;
        }
    }
    r->len = 0;
    r->ncells = 0;
    r->cut = false;
}

static void row_free(tr_csv_row *r)
{
    for (size_t i = 0; i < r->ncols; i++)
        free(r->names[i]);
    free(r->buf);
}

/* Feed the file through libcsv until its end or the reader stops. */
static int parse_file(FILE *f, struct csv_parser *p, tr_csv_row *r, const char *path, tr_err *e)
{
    char chunk[65536];
    size_t got;
    while (!r->stop && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (csv_parse(p, chunk, got, on_field, on_record, r) != got && !r->stop)
            return tr_fail(e, TR_E_IO, "%s: %s", path, csv_strerror(csv_error(p)));
    if (ferror(f))
        return tr_fail(e, TR_E_IO, "%s: %s", path, strerror(errno ? errno : EIO));
    if (!r->stop)
        csv_fini(p, on_field, on_record, r);
    return 0;
}

int tr_csv_read(const char *path, tr_csv_row_fn fn, void *ud, tr_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return TR_CSV_ABSENT;
        return tr_fail(e, TR_E_IO, "%s: %s", path, strerror(errno));
    }
    struct csv_parser p;
    if (csv_init(&p, 0) != 0) {
        fclose(f);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    tr_csv_row r = {.fn = fn, .ud = ud, .e = e};
    int rc = parse_file(f, &p, &r, path, e);
    csv_free(&p);
    fclose(f);
    if (rc == 0 && r.oom)
        rc = tr_fail(e, TR_E_NOMEM, "%s: out of memory", path);
    else if (rc == 0 && !r.header_done)
        rc = tr_fail(e, TR_E_IO, "%s: no header row", path);
    else if (rc == 0 && r.rc < 0)
        rc = -1;
    row_free(&r);
    return rc;
}

int tr_csv_col(const tr_csv_row *row, const char *name)
{
    for (size_t i = 0; i < row->ncols; i++)
        if (!strcmp(row->names[i], name))
            return (int)i;
    return -1;
}

const char *tr_csv_cell(const tr_csv_row *row, int col)
{
    if (col < 0 || (size_t)col >= row->ncells)
        return "";
    const char *s = row->buf + row->off[col];
    if (s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]))
        return s + 1; /* the writer's formula guard */
    return s;
}

const char *tr_csv_get(const tr_csv_row *row, const char *name)
{
    return tr_csv_cell(row, tr_csv_col(row, name));
}

size_t tr_csv_ncols(const tr_csv_row *row)
{
    return row->ncols;
}

const char *tr_csv_colname(const tr_csv_row *row, size_t i)
{
    return i < row->ncols ? row->names[i] : "";
}

size_t tr_csv_rowno(const tr_csv_row *row)
{
    return row->rowno;
}

bool tr_csv_row_cut(const tr_csv_row *row)
{
    return row->cut;
}
