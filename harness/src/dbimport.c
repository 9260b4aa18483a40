/* dbimport.c — a report directory into the results database (see
 * dbimport.h for the contract).
 *
 * Two passes: the first reads what names the run (its run id, rig, first
 * and last row times, each token's profile, the provenance) without
 * writing; the second, in one transaction that starts by claiming the run
 * id, loads every row. A directory whose run id is taken loads nothing.
 *
 * Cells come back as the CSV writer wrote them (reports.h): a text cell a
 * spreadsheet would take for a formula got a leading apostrophe, which is
 * taken off again; an empty cell is "none".
 */
#include "dbimport.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "dbrun.h"
#include "util.h"

#define MAX_FIELDS 64

/* ---- a CSV file, row by row ------------------------------------------------------------------ */

/* A row (row 1 is the header): n NUL-terminated fields. -1 stops (e set). */
typedef int (*row_fn)(void *ud, size_t row, size_t n, char **f);

typedef struct {
    const char *path;
    tr_err *e;
    char *f[MAX_FIELDS];
    size_t n, row;
    bool failed;
    row_fn fn;
    void *ud;
} reader;

static void rd_fail(reader *r, const char *what)
{
    if (!r->failed)
        tr_fail(r->e, TR_E_CONFIG, "%s: row %zu: %s", r->path, r->row + 1, what);
    r->failed = true;
}

static void rd_field(void *s, size_t len, void *data)
{
    reader *r = data;
    if (r->failed)
        return;
    char *c = NULL;
    if (r->n == MAX_FIELDS)
        rd_fail(r, "more than 64 fields");
    else if (len > TR_DB_TEXT_MAX)
        rd_fail(r, "a field longer than 65536 bytes");
    else if (!(c = malloc(len + 1)))
        rd_fail(r, "no memory");
    if (!c)
        return;
    if (len)
        memcpy(c, s, len);
    c[len] = '\0';
    r->f[r->n++] = c;
}

static void rd_record(int c, void *data)
{
    (void)c;
    reader *r = data;
    if (!r->failed && r->fn(r->ud, r->row + 1, r->n, r->f) < 0)
        r->failed = true;
    r->row++;
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* 1 read to its end, 0 the file is not there, -1 error. */
static int csv_each(const char *path, row_fn fn, void *ud, tr_err *e)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : tr_fail(e, TR_E_IO, "%s: %s", path, strerror(errno));
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    reader r = {.path = path, .e = e, .fn = fn, .ud = ud};
    char buf[65536];
    size_t got;
    while (!r.failed && (got = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, got, rd_field, rd_record, &r) != got)
            rd_fail(&r, csv_strerror(csv_error(&p)));
    if (!r.failed && ferror(f))
        tr_fail(e, TR_E_IO, "%s: %s", path, strerror(errno)), r.failed = true;
    if (!r.failed && csv_fini(&p, rd_field, rd_record, &r) != 0)
        rd_fail(&r, csv_strerror(csv_error(&p)));
    for (size_t i = 0; i < r.n; i++)
        free(r.f[i]);
    csv_free(&p);
    fclose(f);
    return r.failed ? -1 : 1;
}

/* ---- columns by name ----------------------------------------------------------------------------- */

typedef struct {
    const char *const *names; /* NULL-terminated; a leading '?' marks an optional column */
    int idx[32];
    size_t nheader;
} columns;

static int map_header(const char *path, columns *c, size_t n, char **f, tr_err *e)
{
    c->nheader = n;
    for (size_t k = 0; c->names[k]; k++) {
        const char *name = c->names[k] + (c->names[k][0] == '?');
        c->idx[k] = -1;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(f[i] + (i == 0 && !strncmp(f[i], "\xEF\xBB\xBF", 3) ? 3 : 0), name))
                c->idx[k] = (int)i;
        if (c->idx[k] < 0 && c->names[k][0] != '?')
            return tr_fail(e, TR_E_CONFIG, "%s: the header has no '%s' column", path, name);
    }
    return 0;
}

/* Column k of a row: NULL when the file has no such column; a formula
 * guard's apostrophe taken off. */
static const char *cell(const columns *c, int k, char **f)
{
    if (c->idx[k] < 0)
        return NULL;
    const char *v = f[c->idx[k]];
    return v[0] == '\'' && v[1] && strchr("=+-@\t\r", v[1]) ? v + 1 : v;
}

/* An optional text: NULL for an empty cell. */
static const char *opt(const columns *c, int k, char **f)
{
    const char *v = cell(c, k, f);
    return v && *v ? v : NULL;
}

static int row_shape(const char *path, const columns *c, size_t row, size_t n, tr_err *e)
{
    if (n == c->nheader)
        return 0;
    return tr_fail(e, TR_E_CONFIG, "%s: row %zu has %zu fields, the header %zu", path, row, n, c->nheader);
}

/* A number cell: *out NAN when empty; -1 (e set) when it is not a number. */
static int num(const char *path, size_t row, const char *name, const char *v, double *out, tr_err *e)
{
    *out = NAN;
    if (!v || !*v)
        return 0;
    if (!tr_parse_double(v, out))
        return tr_fail(e, TR_E_CONFIG, "%s: row %zu: %s '%.40s' is not a number", path, row, name, v);
    return 0;
}

static int count(const char *path, size_t row, const char *name, const char *v, unsigned *out, tr_err *e)
{
    uint64_t n = 0;
    if (v && *v && (!tr_parse_u64(v, &n) || n > 100000000u))
        return tr_fail(e, TR_E_CONFIG, "%s: row %zu: %s '%.40s' is not a count", path, row, name, v);
    *out = (unsigned)n;
    return 0;
}

/* ---- the import ----------------------------------------------------------------------------------------- */

typedef struct {
    char *slot, *serial, *profile;
    tr_dbrun_cycles cycles;
} imp_token;

typedef struct {
    char *slot, *name, *value, *source;
} imp_prov;

typedef struct {
    tr_db *db;
    const char *dir;
    char path[TR_PATH_MAX + 32];
    tr_err *e;
    tr_import_result *out;
    columns cols;
    char run_id[TR_DB_ID_MAX], rig[TR_DB_ID_MAX], first[40], last[40];
    size_t result_rows;
    imp_token *toks;
    size_t ntoks;
    imp_prov *prov;
    size_t nprov;
    long long seq;
} importer;

static int set_path(importer *im, const char *name)
{
    if (snprintf(im->path, sizeof im->path, "%s/%s", im->dir, name) >= (int)sizeof im->path)
        return tr_fail(im->e, TR_E_USAGE, "%s: the directory's name is too long", im->dir);
    return 0;
}

/* A token (slot and serial) the import has seen; NULL on no memory. */
static imp_token *token(importer *im, const char *slot, const char *serial)
{
    for (size_t i = 0; i < im->ntoks; i++)
        if (!strcmp(im->toks[i].slot, slot) && !strcmp(im->toks[i].serial, serial))
            return &im->toks[i];
    imp_token *p = realloc(im->toks, (im->ntoks + 1) * sizeof *p);
    if (!p)
        return NULL;
    im->toks = p;
    imp_token *t = memset(&p[im->ntoks], 0, sizeof *p);
    t->slot = strdup(slot);
    t->serial = strdup(serial);
    t->profile = strdup("");
    if (!t->slot || !t->serial || !t->profile) {
        free(t->slot);
        free(t->serial);
        free(t->profile);
        return NULL;
    }
    im->ntoks++;
    return t;
}

static void seen_time(importer *im, const char *t)
{
    if (!t || !*t)
        return;
    if (!im->first[0] || strcmp(t, im->first) < 0)
        tr_strlcpy(im->first, t, sizeof im->first);
    if (strcmp(t, im->last) > 0)
        tr_strlcpy(im->last, t, sizeof im->last);
}

/* The run id of a row: the same in every row. */
static int seen_run_id(importer *im, size_t row, const char *id)
{
    if (!id || !*id)
        return 0;
    if (!im->run_id[0]) {
        if (tr_db_check_name("run id", id, im->e) < 0)
            return tr_err_prefix(im->e, "%s: row %zu", im->path, row), -1;
        tr_strlcpy(im->run_id, id, sizeof im->run_id);
    } else if (strcmp(im->run_id, id)) {
        return tr_fail(im->e, TR_E_CONFIG, "%s: row %zu: run id %.128s, the rows above say %s (one run per "
                                           "directory)", im->path, row, id, im->run_id);
    }
    return 0;
}

enum { R_RUN, R_TIME, R_RIG, R_SLOT, R_SERIAL, R_PROFILE, R_SUITE, R_TEST, R_VERDICT, R_CLASS, R_DURATION, R_METRIC,
       R_VALUE, R_UNIT, R_MESSAGE, R_FILE, R_LINE };
static const char *const RESULT_COLS[] = {"run_id", "time", "?rig", "slot", "serial", "?profile", "suite", "test",
                                          "verdict", "?classification", "?duration_s", "?metric", "?value", "?unit",
                                          "?message", "?file", "?line", NULL};

static int results_meta(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    if (row_shape(im->path, &im->cols, row, n, im->e) < 0 || seen_run_id(im, row, cell(&im->cols, R_RUN, f)) < 0)
        return -1;
    im->result_rows++;
    seen_time(im, cell(&im->cols, R_TIME, f));
    const char *rig = opt(&im->cols, R_RIG, f), *profile = opt(&im->cols, R_PROFILE, f);
    if (rig && !im->rig[0] && !tr_strlcpy(im->rig, rig, sizeof im->rig))
        return tr_fail(im->e, TR_E_CONFIG, "%s: row %zu: the rig's name is too long", im->path, row);
    imp_token *t = token(im, cell(&im->cols, R_SLOT, f), cell(&im->cols, R_SERIAL, f));
    if (!t)
        return tr_fail(im->e, TR_E_NOMEM, "no memory");
    if (profile && !*t->profile) {
        char *p = strdup(profile);
        if (!p)
            return tr_fail(im->e, TR_E_NOMEM, "no memory");
        free(t->profile);
        t->profile = p;
    }
    return 0;
}

static bool verdict_of(const char *v, tr_verdict *out)
{
    static const char *const names[] = {"pass", "fail", "error", "skip"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(v, names[i]))
            return *out = (tr_verdict)i, true;
    return false;
}

static int results_load(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    const columns *c = &im->cols;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    tr_slot_id who = {.run_id = im->run_id, .slot = cell(c, R_SLOT, f), .serial = cell(c, R_SERIAL, f)};
    tr_result_row r = {.who = &who, .suite = cell(c, R_SUITE, f), .test = cell(c, R_TEST, f),
                       .classification = opt(c, R_CLASS, f), .metric = opt(c, R_METRIC, f),
                       .unit = opt(c, R_UNIT, f), .message = opt(c, R_MESSAGE, f), .file = opt(c, R_FILE, f)};
    if (!verdict_of(cell(c, R_VERDICT, f), &r.verdict))
        return tr_fail(im->e, TR_E_CONFIG, "%s: row %zu: verdict '%.40s' is not pass, fail, error or skip", im->path,
                       row, cell(c, R_VERDICT, f));
    double line;
    if (num(im->path, row, "duration_s", cell(c, R_DURATION, f), &r.duration_s, im->e) < 0 ||
        num(im->path, row, "value", cell(c, R_VALUE, f), &r.value, im->e) < 0 ||
        num(im->path, row, "line", cell(c, R_LINE, f), &line, im->e) < 0)
        return -1;
    r.line = isfinite(line) && line > 0 && line < 1e9 ? (int)line : 0;
    if (tr_db_result(im->db, ++im->seq, cell(c, R_TIME, f), &r, im->e) < 0)
        return -1;
    im->out->results++;
    return 0;
}

enum { C_RUN, C_TIME, C_SLOT, C_SERIAL, C_SUITE, C_TEST, C_CYCLE, C_OFF, C_DEVICE, C_READER, C_ATR_MS, C_APDU_MS,
       C_ATR, C_STAGE, C_POWER, C_VERDICT, C_MESSAGE };
static const char *const CYCLE_COLS[] = {"?run_id", "time", "slot", "serial", "?suite", "?test", "cycle",
                                         "?off_ms", "?to_device_ms", "?to_reader_ms", "?to_atr_ms",
                                         "?to_first_apdu_ms", "?atr", "?stage", "?power_level", "verdict",
                                         "?message", NULL};

static int cycles_meta(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    if (row_shape(im->path, &im->cols, row, n, im->e) < 0 || seen_run_id(im, row, cell(&im->cols, C_RUN, f)) < 0)
        return -1;
    seen_time(im, cell(&im->cols, C_TIME, f));
    return token(im, cell(&im->cols, C_SLOT, f), cell(&im->cols, C_SERIAL, f)) ? 0
                                                                              : tr_fail(im->e, TR_E_NOMEM, "no memory");
}

static int cycles_load(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    const columns *c = &im->cols;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    tr_slot_id who = {.run_id = im->run_id, .slot = cell(c, C_SLOT, f), .serial = cell(c, C_SERIAL, f)};
    tr_cycle_row r = {.who = &who, .atr = opt(c, C_ATR, f), .stage = opt(c, C_STAGE, f),
                      .power_level = opt(c, C_POWER, f), .verdict = cell(c, C_VERDICT, f),
                      .message = opt(c, C_MESSAGE, f)};
    static const char *const ms_names[] = {"off_ms", "to_device_ms", "to_reader_ms", "to_atr_ms", "to_first_apdu_ms"};
    double *ms[] = {&r.off_ms, &r.to_device_ms, &r.to_reader_ms, &r.to_atr_ms, &r.to_first_apdu_ms};
    unsigned cyc;
    if (count(im->path, row, "cycle", cell(c, C_CYCLE, f), &cyc, im->e) < 0)
        return -1;
    r.cycle = cyc;
    for (int k = 0; k < 5; k++) {
        if (num(im->path, row, ms_names[k], cell(c, C_OFF + k, f), ms[k], im->e) < 0)
            return -1;
        if (isnan(*ms[k]))
            *ms[k] = -1; /* not reached */
    }
    imp_token *t = token(im, who.slot, who.serial);
    if (!t)
        return tr_fail(im->e, TR_E_NOMEM, "no memory");
    tr_dbrun_cycles_add(&t->cycles, r.verdict);
    if (tr_db_cycle(im->db, ++im->seq, cell(c, C_TIME, f), &r, opt(c, C_SUITE, f), opt(c, C_TEST, f), im->e) < 0)
        return -1;
    im->out->cycles++;
    return 0;
}

enum { S_SLOT, S_SERIAL, S_ROLE, S_VERDICT, S_CLASSES, S_TESTS, S_PASSED, S_FAILED, S_ERRORED, S_SKIPPED, S_DURATION,
       S_NOT_RUN };
static const char *const SUMMARY_COLS[] = {"slot", "serial", "?role", "verdict", "?classifications", "?tests",
                                           "?passed", "?failed", "?errored", "?skipped", "?duration_s", "?not_run",
                                           NULL};

/* What provenance.csv says about a token (slot "" about the run): NULL
 * when nothing. Names compare without case, '_' as ' '. */
static const char *prov_value(const importer *im, const char *slot, const char *name)
{
    for (size_t i = 0; i < im->nprov; i++) {
        const char *a = im->prov[i].name, *b = name;
        while (*a && *b && (tolower((unsigned char)*a) == *b || (*a == '_' && *b == ' ')))
            a++, b++;
        if (!*a && !*b && !strcmp(im->prov[i].slot, slot))
            return im->prov[i].value;
    }
    return NULL;
}

static int summary_load(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    const columns *c = &im->cols;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    if (row_shape(im->path, c, row, n, im->e) < 0)
        return -1;
    const char *slot = cell(c, S_SLOT, f), *serial = cell(c, S_SERIAL, f);
    imp_token *t = token(im, slot, serial);
    const char *fw = prov_value(im, slot, "firmware");
    tr_db_slot s = {.run_id = im->run_id, .slot = slot, .serial = serial, .role = cell(c, S_ROLE, f),
                    .profile = t ? t->profile : "", .firmware = fw ? fw : "", .verdict = cell(c, S_VERDICT, f),
                    .classifications = cell(c, S_CLASSES, f), .updated = im->last};
    const int k[] = {S_TESTS, S_PASSED, S_FAILED, S_ERRORED, S_SKIPPED, S_NOT_RUN};
    unsigned *to[] = {&s.tests, &s.passed, &s.failed, &s.errored, &s.skipped, &s.not_run};
    for (size_t i = 0; i < 6; i++)
        if (count(im->path, row, SUMMARY_COLS[k[i]] + 1, cell(c, k[i], f), to[i], im->e) < 0)
            return -1;
    if (!t || num(im->path, row, "duration_s", cell(c, S_DURATION, f), &s.duration_s, im->e) < 0)
        return t ? -1 : tr_fail(im->e, TR_E_NOMEM, "no memory");
    if (tr_db_slot_put(im->db, &s, im->e) < 0)
        return -1;
    im->out->slots++;
    return 0;
}

enum { P_SLOT, P_NAME, P_VALUE, P_SOURCE };
static const char *const PROV_COLS[] = {"slot", "name", "value", "source", NULL};

static int prov_meta(void *ud, size_t row, size_t n, char **f)
{
    importer *im = ud;
    if (row == 1)
        return map_header(im->path, &im->cols, n, f, im->e);
    if (row_shape(im->path, &im->cols, row, n, im->e) < 0)
        return -1;
    imp_prov *p = realloc(im->prov, (im->nprov + 1) * sizeof *p);
    if (!p)
        return tr_fail(im->e, TR_E_NOMEM, "no memory");
    im->prov = p;
    imp_prov *x = &p[im->nprov];
    char **dst[] = {&x->slot, &x->name, &x->value, &x->source};
    for (int k = 0; k < 4; k++)
        *dst[k] = strdup(cell(&im->cols, k, f));
    if (!x->slot || !x->name || !x->value || !x->source) {
        for (int k = 0; k < 4; k++)
            free(*dst[k]);
        return tr_fail(im->e, TR_E_NOMEM, "no memory");
    }
    im->nprov++;
    return 0;
}

/* One pass over a file of the directory with its columns; 0 when the file
 * is not there and need not be. */
static int pass(importer *im, const char *name, const char *const *cols, row_fn fn, bool required)
{
    if (set_path(im, name) < 0)
        return -1;
    im->cols = (columns){.names = cols};
    int rc = csv_each(im->path, fn, im, im->e);
    if (rc == 0 && required)
        return tr_fail(im->e, TR_E_USAGE, "%s: not a report directory (no %s)", im->dir, name);
    return rc < 0 ? -1 : 0;
}

/* Pass 1: what names the run. */
static int read_meta(importer *im)
{
    if (pass(im, "results.csv", RESULT_COLS, results_meta, true) < 0 ||
        pass(im, "cycles.csv", CYCLE_COLS, cycles_meta, false) < 0 ||
        pass(im, "provenance.csv", PROV_COLS, prov_meta, false) < 0)
        return -1;
    if (!im->run_id[0]) { /* a cycle directory without a run_id column: its name */
        const char *base = strrchr(im->dir, '/');
        base = base && base[1] ? base + 1 : im->dir;
        if (tr_db_check_name("run id (the directory's name)", base, im->e) < 0)
            return -1;
        tr_strlcpy(im->run_id, base, sizeof im->run_id);
    }
    if (im->result_rows && set_path(im, "summary.csv") == 0 && access(im->path, F_OK) != 0)
        return tr_fail(im->e, TR_E_USAGE, "%s: no summary.csv: the run did not end (its verdicts were never "
                                          "written); not imported", im->dir);
    return 0;
}

/* "yes", "true", "1" -> 1; "no", "false", "0" -> 0; else -1 (not known). */
static int yes_no(const char *v)
{
    if (!v)
        return -1;
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
        return 0;
    return -1;
}

/* The run's row; 0 when its id is taken. */
static int claim_run(importer *im, const char *batch)
{
    const char *b = batch ? batch : prov_value(im, "", "batch");
    b = b && *b ? b : im->run_id;
    if (tr_db_check_name("batch", b, im->e) < 0)
        return -1;
    tr_strlcpy(im->out->batch, b, sizeof im->out->batch);
    const char *host = prov_value(im, "", "host"), *tool = prov_value(im, "", "tool version");
    const char *cmd = prov_value(im, "", "command line"), *profile = prov_value(im, "", "profile");
    tr_db_run run = {.run_id = im->run_id, .kind = im->result_rows ? "run" : "cycle", .batch = im->out->batch,
                     .host = host ? host : "", .rig = im->rig, .started = im->first, .tool_version = tool ? tool : "",
                     .command_line = cmd ? cmd : "", .profile = profile ? profile : "", .source = "import",
                     .destructive = yes_no(prov_value(im, "", "destructive"))};
    return tr_db_run_claim(im->db, &run, im->e);
}

/* Pass 2, in the open transaction. */
static int load(importer *im)
{
    if (pass(im, "results.csv", RESULT_COLS, results_load, true) < 0 ||
        pass(im, "cycles.csv", CYCLE_COLS, cycles_load, false) < 0)
        return -1;
    if (im->result_rows)
        return pass(im, "summary.csv", SUMMARY_COLS, summary_load, true);
    for (size_t i = 0; i < im->ntoks; i++) { /* a tokenrig cycle directory */
        const imp_token *t = &im->toks[i];
        const char *fw = prov_value(im, t->slot, "firmware");
        tr_db_slot s = {.run_id = im->run_id, .slot = t->slot, .serial = t->serial, .role = "", .profile = t->profile,
                        .firmware = fw ? fw : "", .updated = im->last};
        tr_dbrun_cycles_slot(&t->cycles, &s);
        if (tr_db_slot_put(im->db, &s, im->e) < 0)
            return -1;
        im->out->slots++;
    }
    return 0;
}

static int load_provenance(importer *im)
{
    for (size_t i = 0; i < im->nprov; i++) {
        const imp_prov *p = &im->prov[i];
        if (tr_db_provenance(im->db, im->run_id, p->slot, p->name, p->value, p->source, im->e) < 0)
            return -1;
        im->out->provenance++;
    }
    return 0;
}

static void importer_free(importer *im)
{
    for (size_t i = 0; i < im->ntoks; i++) {
        free(im->toks[i].slot);
        free(im->toks[i].serial);
        free(im->toks[i].profile);
    }
    free(im->toks);
    for (size_t i = 0; i < im->nprov; i++) {
        free(im->prov[i].slot);
        free(im->prov[i].name);
        free(im->prov[i].value);
        free(im->prov[i].source);
    }
    free(im->prov);
}

int tr_db_import(tr_db *db, const char *dir, const char *batch, tr_import_result *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    importer im = {.db = db, .dir = dir, .e = e, .out = out};
    int rc = read_meta(&im);
    if (rc == 0)
        rc = tr_db_begin(db, e);
    if (rc == 0) {
        tr_strlcpy(out->run_id, im.run_id, sizeof out->run_id);
        rc = claim_run(&im, batch);
        if (rc == 1 && (load(&im) < 0 || load_provenance(&im) < 0 ||
                        tr_db_run_end(db, im.run_id, im.last, -1, e) < 0))
            rc = -1;
        if (rc == 1)
            rc = tr_db_commit(db, e) < 0 ? -1 : 1;
        else
            tr_db_rollback(db);
    }
    if (rc != 1)
        out->results = out->cycles = out->slots = out->provenance = 0;
    importer_free(&im);
    return rc;
}
