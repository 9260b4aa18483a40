/* check_reports.c — the report files: CSV (golden files, libcsv round
 * trip, formula guard, numeric columns, a writer killed by SIGKILL,
 * threads, flat memory over a million trace rows, a full disk: every file's
 * failure named, no torn row, the first failure kept), JUnit (golden, schema
 * validation with xmllint for any bytes), the XML escaper and the batch
 * summary.
 *
 * Paths: goldens and the schema are read relative to the repository root
 * (make runs tests from there); TR_SRCDIR overrides. TR_UPDATE_GOLDEN=1
 * rewrites the golden files from the current output instead of comparing.
 */
#include <check.h>
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports.h"
#include "rowpipe.h"
#include "util.h"
#include "xmlesc.h"

#define FIXED_TIME "2026-01-02T03:04:05.678Z"

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static const char *srcdir(void)
{
    const char *d = getenv("TR_SRCDIR");
    return d && *d ? d : ".";
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/check_reports.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(d);
}

static void rm_rf(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* Whole file, NUL-terminated; *len without the NUL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

static void spit(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A parsed CSV file: rows of NUL-terminated fields. */
typedef struct {
    char ***rows;
    size_t *nfields;
    size_t nrows, caprows;
    char **cur;
    size_t ncur, capcur;
} csv_doc;

static void on_field(void *s, size_t n, void *data)
{
    csv_doc *d = data;
    if (d->ncur == d->capcur) {
        d->capcur = d->capcur ? d->capcur * 2 : 16;
        d->cur = realloc(d->cur, d->capcur * sizeof *d->cur);
    }
    char *f = malloc(n + 1);
    if (n)
        memcpy(f, s, n);
    f[n] = '\0';
    d->cur[d->ncur++] = f;
}

static void on_row(int c, void *data)
{
    (void)c;
    csv_doc *d = data;
    if (d->nrows == d->caprows) {
        d->caprows = d->caprows ? d->caprows * 2 : 64;
        d->rows = realloc(d->rows, d->caprows * sizeof *d->rows);
        d->nfields = realloc(d->nfields, d->caprows * sizeof *d->nfields);
    }
    d->rows[d->nrows] = d->cur;
    d->nfields[d->nrows++] = d->ncur;
    d->cur = NULL;
    d->ncur = d->capcur = 0;
}

static csv_doc parse_csv_bytes(const char *b, size_t n)
{
    csv_doc d = {0};
    struct csv_parser p;
    ck_assert_int_eq(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL), 0);
    ck_assert_uint_eq(csv_parse(&p, b, n, on_field, on_row, &d), n);
    ck_assert_int_eq(csv_fini(&p, on_field, on_row, &d), 0);
    csv_free(&p);
    return d;
}

static csv_doc parse_csv(const char *path)
{
    size_t n;
    char *b = slurp(path, &n);
    csv_doc d = parse_csv_bytes(b, n);
    free(b);
    return d;
}

static void free_csv(csv_doc *d)
{
    for (size_t i = 0; i < d->nrows; i++) {
        for (size_t j = 0; j < d->nfields[i]; j++)
            free(d->rows[i][j]);
        free(d->rows[i]);
    }
    free(d->rows);
    free(d->nfields);
    for (size_t j = 0; j < d->ncur; j++)
        free(d->cur[j]);
    free(d->cur);
}

static bool have_program(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* xmllint --schema on a file: 0 valid; the output is kept for the message. */
static int xmllint_schema(const char *xml, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "xmllint --noout --schema '%s/harness/tests/junit-10.xsd' '%s' 2>&1",
             srcdir(), xml);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void compare_or_update_golden(const char *actual_path, const char *golden_name)
{
    char golden[1024];
    snprintf(golden, sizeof golden, "%s/harness/tests/golden/%s", srcdir(), golden_name);
    size_t an;
    char *a = slurp(actual_path, &an);
    const char *upd = getenv("TR_UPDATE_GOLDEN");
    if (upd && strcmp(upd, "1") == 0) {
        spit(golden, a, an);
        free(a);
        return;
    }
    size_t gn;
    char *g = slurp(golden, &gn);
    if (an != gn || memcmp(a, g, an) != 0) {
        size_t i = 0;
        while (i < an && i < gn && a[i] == g[i])
            i++;
        ck_abort_msg("%s differs from golden %s at byte %zu (sizes %zu vs %zu); "
                     "diff them, and rerun with TR_UPDATE_GOLDEN=1 if the change is meant",
                     actual_path, golden, i, an, gn);
    }
    free(a);
    free(g);
}

static void assert_ok(int rc, const tr_err *e)
{
    char buf[2048];
    ck_assert_msg(rc == 0, "call failed: %s", tr_err_format(e, buf, sizeof buf));
}

/* ------------------------------------------------------------------------ */
/* a small fixed run, used by the golden tests                               */

static const tr_slot_id SLOT1 = {"run-42", "virtual", "slot1", "Virtual PCD 00 00",
                                 "SER0001", "main", "ref1"};
static const tr_slot_id SLOT2 = {"run-42", "virtual", "slot2", "Virtual PCD 00 01",
                                 "SER0002", "secondary", "ref1"};

static void result(tr_reports *r, const tr_slot_id *who, const char *suite,
                   const char *test, tr_verdict v, const char *cls, double dur,
                   const char *metric, double value, const char *unit,
                   const char *msg, int line)
{
    tr_err e;
    tr_result_row row = {who, suite, test, v, cls, dur, metric, value, unit, msg,
                         suite ? "suites/x.tsuite" : NULL, line, 0, NULL};
    assert_ok(tr_reports_result(r, &row, &e), &e);
}

/* A metric row with its limit. */
static void limited(tr_reports *r, const tr_slot_id *who, const char *metric, double value, tr_verdict v,
                    double limit, const char *kind)
{
    tr_err e;
    tr_result_row row = {who, "sign", "throughput", v, v == TR_FAIL ? "sign.too-slow" : NULL, 0, metric, value,
                         "ms", NULL, "suites/x.tsuite", 30, limit, kind};
    assert_ok(tr_reports_result(r, &row, &e), &e);
}

static void write_fixed_run(tr_reports *r)
{
    tr_err e;
    assert_ok(tr_reports_slot_property(r, &SLOT1, "atr", "3B 8F 80 01", &e), &e);
    assert_ok(tr_reports_slot_property(r, &SLOT1, "hub_port", "1-1.2:3", &e), &e);
    result(r, &SLOT1, "pin", "lockout", TR_PASS, NULL, 0.25, NULL, 0, NULL, NULL, 10);
    result(r, &SLOT1, "sign", "throughput", TR_PASS, NULL, 0, "sign.p95", 41.5, "ms", NULL, 30);
    limited(r, &SLOT1, "sign.max", 52.5, TR_PASS, 60, "max");
    result(r, &SLOT1, "sign", "throughput", TR_PASS, NULL, 0, "offset", -1.5, "ms", NULL, 30);
    result(r, &SLOT1, "sign", "throughput", TR_PASS, NULL, 1.5, NULL, 0, NULL,
           "=HYPERLINK(\"x\"), a \"quoted\" message\nsecond line", 30);
    result(r, &SLOT2, "seal", "absent on secondary", TR_FAIL, "seal.present-on-secondary",
           0.125, NULL, 0, NULL, "expected 6A82, got 9000", 12);
    result(r, &SLOT2, "io", "mute", TR_ERROR, "io.mute", 5, NULL, 0, NULL, "no answer in 5 s", 7);
    result(r, &SLOT2, "destructive", "unblock", TR_SKIP, NULL, 0, NULL, 0, NULL,
           "needs --allow-destructive", 3);
    result(r, &SLOT2, "sign", "latency", TR_PASS, NULL, 0, "sign.mean", 12.25, "ms", NULL, 40);
    result(r, &SLOT2, "sign", "latency", TR_PASS, NULL, 2, NULL, 0, NULL, NULL, 40);

    tr_trace_row tr = {&SLOT1, "pin", "lockout", "suites/x.tsuite", 11,
                       "00 20 00 81 08 <pin>", "", "63C2", 85};
    assert_ok(tr_reports_trace(r, &tr, &e), &e);
    tr_trace_row tr2 = {&SLOT2, "sign", "latency", "suites/x.tsuite", 41,
                        "80 2A 9E 9A 20 00", "30 45 02 21", "9000", 41000};
    assert_ok(tr_reports_trace(r, &tr2, &e), &e);
    for (unsigned i = 0; i < 3; i++) {
        tr_sample_row s = {&SLOT1, "sign", "throughput", "sign", i, 40.0 + i * 0.5, "ms"};
        assert_ok(tr_reports_sample(r, &s, &e), &e);
    }
    tr_cycle_row c1 = {&SLOT1, 1, 500, 120.5, 310.25, 402, 415.125, "3B 8F 80 01",
                       "first-apdu", "sysfs-disable", "pass", NULL, "recognition", "cycles", 1500};
    tr_cycle_row c2 = {&SLOT1, 2, 500, 130, -1, -1, -1, NULL, "device",
                       "sysfs-disable", "enum.no-card", "no reader within 10 s", "recognition", "cycles", 1500};
    assert_ok(tr_reports_cycle(r, &c1, &e), &e);
    assert_ok(tr_reports_cycle(r, &c2, &e), &e);
    assert_ok(tr_reports_provenance(r, NULL, "tool.version", "v1-2-gabc", "tokenrig", &e), &e);
    assert_ok(tr_reports_provenance(r, &SLOT1, "var.APDU_MAX_MS", "500", "profile fixtures/profiles/ref1.ini", &e),
              &e);
    assert_ok(tr_reports_provenance(r, &SLOT2, "var.DEFAULT_PIN", "<pin>", "profile fixtures/profiles/ref1.ini", &e),
              &e);
}

/* The fixed run's files in dir/run (the cycle summary written first)
 * against the goldens. */
static void compare_run_goldens(tr_reports *r, const char *dir)
{
    tr_err e;
    assert_ok(tr_reports_write_cycle_summary(r, &e), &e);
    const char *names[] = {"results.csv", "trace.csv", "samples.csv", "cycles.csv", "provenance.csv",
                           "cycles-summary.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "run/%s", names[i]);
        compare_or_update_golden(path_in(dir, rel), names[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */

START_TEST(csv_golden)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(path_in(dir, "run"), &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_fix_time(r, FIXED_TIME);
    write_fixed_run(r);
    compare_run_goldens(r, dir);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(csv_headers_and_columns)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    write_fixed_run(r);
    struct {
        const char *file;
        size_t cols;
        size_t rows;
        const char *first, *last;
    } want[] = {{"results.csv", 21, 1 + 10, "run_id", "limit_kind"},
                {"trace.csv", 11, 1 + 2, "time", "latency_us"},
                {"samples.csv", 9, 1 + 3, "time", "unit"},
                {"cycles.csv", 18, 1 + 2, "time", "first_apdu_limit_ms"}};
    for (size_t i = 0; i < 4; i++) {
        csv_doc d = parse_csv(path_in(dir, want[i].file));
        ck_assert_uint_eq(d.nrows, want[i].rows);
        for (size_t j = 0; j < d.nrows; j++)
            ck_assert_msg(d.nfields[j] == want[i].cols, "%s row %zu has %zu cells",
                          want[i].file, j, d.nfields[j]);
        ck_assert_str_eq(d.rows[0][0], want[i].first);
        ck_assert_str_eq(d.rows[0][want[i].cols - 1], want[i].last);
        /* real wall-clock times: ISO 8601 UTC with milliseconds */
        const char *t = d.rows[1][i == 0 ? 1 : 0];
        ck_assert_uint_eq(strlen(t), 24);
        ck_assert(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
        free_csv(&d);
    }
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Numbers stay numbers: no apostrophe on negatives, C locale decimal point,
 * empty cells for "none". */
START_TEST(csv_numeric_cells)
{
    char *dir = make_tmpdir();
    tr_err e;
    /* A locale with a decimal comma, when this system has one. */
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (!loc)
        loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    if (!loc)
        fprintf(stderr, "csv_numeric_cells: no decimal-comma locale installed; "
                        "checking the C locale only\n");
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    result(r, &SLOT1, "s", "t", TR_PASS, NULL, 0, "delta", -2.5, "ms", "-starts with minus", 0);
    result(r, &SLOT1, "s", "t", TR_PASS, NULL, NAN, "nan", NAN, NULL, NULL, 0);
    result(r, &SLOT1, "s", "t", TR_PASS, NULL, 1.0 / 3, NULL, 99, NULL, "@SUM(A1)", 5);
    tr_cycle_row c = {&SLOT1, 7, 0, -1, -1, -1, -1, NULL, "off", NULL, "enum.no-card", NULL, NULL, NULL, 0};
    assert_ok(tr_reports_cycle(r, &c, &e), &e);
    tr_reports_close(r);
    setlocale(LC_NUMERIC, "C");

    csv_doc d = parse_csv(path_in(dir, "results.csv"));
    ck_assert_str_eq(d.rows[1][14], "-2.5");                 /* value */
    ck_assert_str_eq(d.rows[1][16], "'-starts with minus");  /* message */
    ck_assert_str_eq(d.rows[2][12], "");                     /* NaN duration */
    ck_assert_str_eq(d.rows[2][14], "");                     /* NaN value */
    ck_assert_str_eq(d.rows[3][12], "0.333333");
    ck_assert_str_eq(d.rows[3][14], "");                     /* no metric */
    ck_assert_str_eq(d.rows[3][16], "'@SUM(A1)");
    ck_assert_str_eq(d.rows[3][18], "5");
    ck_assert_str_eq(d.rows[1][18], "");                     /* line 0 */
    free_csv(&d);
    d = parse_csv(path_in(dir, "cycles.csv"));
    ck_assert_str_eq(d.rows[1][3], "7");
    ck_assert_str_eq(d.rows[1][4], "0.000");
    for (int i = 5; i <= 8; i++)
        ck_assert_str_eq(d.rows[1][i], "");
    free_csv(&d);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Expected cell text for a string written by the reports module. */
static char *expected_cell(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(tr_text_sanitize_bound(n) + 1);
    size_t o = 0;
    if (*s && strchr("=+-@\t\r", *s))
        out[o++] = '\'';
    tr_text_sanitize(s, n, "\t\n\r", out + o, tr_text_sanitize_bound(n));
    return out;
}

START_TEST(csv_libcsv_round_trip)
{
    static char all_bytes[256];
    for (int i = 1; i < 256; i++)
        all_bytes[i - 1] = (char)i;
    const char *nasty[] = {
        "plain", "a,b", "say \"hi\"", "\"", "\"\"", "line1\nline2", "crlf\r\nend",
        " leading", "trailing ", "\ttab", "=1+2", "+1", "-1", "@x", "\rcr",
        "中文 签名", "bad \xC3\x28 utf8", "\xff\xfe", "]]>", "<a>&amp;", ",,,",
        all_bytes, "", "x"};
    size_t n = sizeof nasty / sizeof nasty[0];
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    for (size_t i = 0; i < n; i++) {
        tr_slot_id who = {nasty[i], nasty[i], nasty[i], nasty[i], nasty[i], nasty[i], nasty[i]};
        tr_result_row row = {&who, nasty[i], nasty[i], TR_FAIL, nasty[i], 1, nasty[i], 2,
                             nasty[i], nasty[i], nasty[i], 3, 4, nasty[i]};
        assert_ok(tr_reports_result(r, &row, &e), &e);
        tr_trace_row tr = {&who, nasty[i], nasty[i], nasty[i], 1, nasty[i], nasty[i], nasty[i], 4};
        assert_ok(tr_reports_trace(r, &tr, &e), &e);
    }
    tr_reports_close(r);
    csv_doc d = parse_csv(path_in(dir, "results.csv"));
    ck_assert_uint_eq(d.nrows, n + 1);
    static const int text_cols[] = {0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 16, 17, 20};
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(d.nfields[i + 1], 21);
        char *want = expected_cell(nasty[i]);
        for (size_t c = 0; c < sizeof text_cols / sizeof text_cols[0]; c++)
            ck_assert_msg(strcmp(d.rows[i + 1][text_cols[c]], want) == 0,
                          "string %zu column %d: got [%s] want [%s]", i, text_cols[c],
                          d.rows[i + 1][text_cols[c]], want);
        ck_assert_str_eq(d.rows[i + 1][10], "fail");
        ck_assert_str_eq(d.rows[i + 1][14], "2");
        free(want);
    }
    free_csv(&d);
    d = parse_csv(path_in(dir, "trace.csv"));
    ck_assert_uint_eq(d.nrows, n + 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(d.nfields[i + 1], 11);
        char *want = expected_cell(nasty[i]);
        ck_assert_str_eq(d.rows[i + 1][7], want);
        free(want);
    }
    free_csv(&d);
    /* every report file is valid UTF-8 whatever went in */
    const char *files[] = {"results.csv", "trace.csv"};
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *b = slurp(path_in(dir, files[f]), &len);
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t k = tr_utf8_next((const uint8_t *)b + i, len - i, &cp);
            ck_assert_msg(k > 0, "%s: invalid UTF-8 at byte %zu", files[f], i);
            ck_assert_msg(cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r',
                          "%s: control U+%04X at byte %zu", files[f], cp, i);
            i += k;
        }
        free(b);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(csv_python_reads_results)
{
    if (!have_program("python3")) {
        fprintf(stderr, "csv_python_reads_results: SKIPPED, python3 not found\n");
        return;
    }
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    write_fixed_run(r);
    tr_reports_close(r);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import csv,sys\n"
             "rows=list(csv.DictReader(open(sys.argv[1],newline=\"\",encoding=\"utf-8\")))\n"
             "assert len(rows)==10, len(rows)\n"
             "l=[r for r in rows if r[\"metric\"]==\"sign.max\"][0]\n"
             "assert float(l[\"limit\"])==60 and l[\"limit_kind\"]==\"max\", l\n"
             "m=[r for r in rows if r[\"metric\"]==\"offset\"][0]\n"
             "assert float(m[\"value\"])==-1.5, m\n"
             "v=[r for r in rows if r[\"test\"]==\"throughput\" and not r[\"metric\"]][0]\n"
             "assert v[\"message\"]==\"\\x27=HYPERLINK(\\\"x\\\"), a \\\"quoted\\\" message\\nsecond line\", repr(v[\"message\"])\n"
             "assert {r[\"verdict\"] for r in rows}=={\"pass\",\"fail\",\"error\",\"skip\"}\n"
             "' '%s/results.csv'",
             dir);
    ck_assert_msg(system(cmd) == 0, "python3 csv could not read results.csv as expected");
    rm_rf(dir);
    free(dir);
}
END_TEST

/* A writer killed with SIGKILL keeps every row whose call had returned. */
START_TEST(csv_sigkill_keeps_rows)
{
    char *dir = make_tmpdir();
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        tr_err e;
        tr_reports *r = tr_reports_open(dir, &e);
        if (!r)
            _exit(3);
        for (unsigned i = 0;; i++) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "00 B0 %02X %02X 00 %u", i >> 8 & 255, i & 255, i);
            tr_trace_row tr = {&SLOT1, "read", "chunks", "suites/x.tsuite", 5,
                               cmd, "0102030405060708090A", "9000", i};
            if (tr_reports_trace(r, &tr, &e) != 0)
                _exit(4);
            /* tell the parent this row's call returned */
            if (write(fds[1], &i, sizeof i) != (ssize_t)sizeof i)
                _exit(5);
        }
    }
    close(fds[1]);
    unsigned last = 0, got;
    while (read(fds[0], &got, sizeof got) == (ssize_t)sizeof got) {
        last = got;
        if (last >= 2000)
            break;
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* drain what the child reported before it died */
    while (read(fds[0], &got, sizeof got) == (ssize_t)sizeof got)
        last = got;
    close(fds[0]);

    size_t n;
    char *b = slurp(path_in(dir, "trace.csv"), &n);
    /* a row still being written at the kill may be cut; finished ones not */
    size_t complete = n;
    while (complete > 0 && b[complete - 1] != '\n')
        complete--;
    csv_doc d = parse_csv_bytes(b, complete);
    ck_assert_msg(d.nrows >= (size_t)last + 2, "only %zu rows for %u returned calls",
                  d.nrows, last + 1);
    for (size_t i = 1; i < d.nrows; i++) {
        ck_assert_uint_eq(d.nfields[i], 11);
        char want[32];
        snprintf(want, sizeof want, "%zu", i - 1);
        ck_assert_str_eq(d.rows[i][10], want);
    }
    free_csv(&d);
    free(b);
    rm_rf(dir);
    free(dir);
}
END_TEST

typedef struct {
    tr_reports *r;
    int id;
    unsigned rows;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char slot[16], serial[16];
    snprintf(slot, sizeof slot, "slot%d", a->id);
    snprintf(serial, sizeof serial, "SER%04d", a->id);
    tr_slot_id who = {"run", "virtual", slot, "reader, with comma", serial, "main", "p"};
    tr_err e;
    for (unsigned i = 0; i < a->rows; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "%d:%u \"q\"", a->id, i);
        tr_trace_row tr = {&who, "s", "t", "f", (int)i, cmd, "AA", "9000", i};
        if (tr_reports_trace(a->r, &tr, &e) != 0)
            return "trace failed";
        tr_sample_row sm = {&who, "s", "t", "m", i, i * 0.5, "ms"};
        if (tr_reports_sample(a->r, &sm, &e) != 0)
            return "sample failed";
        if (i % 100 == 0) {
            char test[32];
            snprintf(test, sizeof test, "test %u", i / 100);
            tr_result_row row = {&who, "suite", test, i % 200 ? TR_FAIL : TR_PASS,
                                 "x.y", 0.001, NULL, 0, NULL, "m", "f", 1, 0, NULL};
            if (tr_reports_result(a->r, &row, &e) != 0)
                return "result failed";
            if (tr_reports_slot_property(a->r, &who, "atr", cmd, &e) != 0)
                return "property failed";
        }
        if (i % 500 == 0 && tr_reports_write_junit(a->r, &e) != 0)
            return "junit failed";
    }
    return NULL;
}

START_TEST(csv_threads)
{
    enum { THREADS = 8, ROWS = 3000 };
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){r, i, ROWS};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *res;
        pthread_join(th[i], &res);
        ck_assert_msg(res == NULL, "thread %d: %s", i, (const char *)res);
    }
    assert_ok(tr_reports_write_junit(r, &e), &e);
    size_t nsum;
    tr_token_summary *s = tr_reports_token_summary(r, &nsum, &e);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(nsum, THREADS);
    for (size_t i = 0; i < nsum; i++) {
        ck_assert_uint_eq(s[i].tests, ROWS / 100);
        ck_assert_uint_eq(s[i].failed, ROWS / 200);
        ck_assert_int_eq(s[i].verdict, TR_FAIL);
    }
    tr_reports_token_summary_free(s, nsum);
    tr_reports_close(r);

    csv_doc d = parse_csv(path_in(dir, "trace.csv"));
    ck_assert_uint_eq(d.nrows, 1 + THREADS * ROWS);
    static unsigned char seen[THREADS][ROWS];
    memset(seen, 0, sizeof seen);
    for (size_t i = 1; i < d.nrows; i++) {
        ck_assert_uint_eq(d.nfields[i], 11);
        int id;
        unsigned k;
        ck_assert_int_eq(sscanf(d.rows[i][7], "%d:%u", &id, &k), 2);
        ck_assert(id >= 0 && id < THREADS && k < ROWS);
        char want[64];
        snprintf(want, sizeof want, "%d:%u \"q\"", id, k);
        ck_assert_str_eq(d.rows[i][7], want);
        ck_assert_int_eq(seen[id][k]++, 0);
    }
    free_csv(&d);
    d = parse_csv(path_in(dir, "samples.csv"));
    ck_assert_uint_eq(d.nrows, 1 + THREADS * ROWS);
    free_csv(&d);
    d = parse_csv(path_in(dir, "results.csv"));
    ck_assert_uint_eq(d.nrows, 1 + THREADS * ROWS / 100);
    free_csv(&d);
    rm_rf(dir);
    free(dir);
}
END_TEST

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    long size, resident;
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Trace rows are never kept: a million of them leave RSS where it was.
 * trace.csv is a symlink to /dev/null so the test writes no 100 MB file. */
START_TEST(csv_million_traces_flat_rss)
{
    char *dir = make_tmpdir();
    ck_assert_int_eq(symlink("/dev/null", path_in(dir, "trace.csv")), 0);
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    char cmd[64], resp[600];
    memset(resp, 'A', sizeof resp - 1);
    resp[sizeof resp - 1] = '\0';
    long before = 0;
    uint64_t t0 = 0;
    for (unsigned i = 0; i < 1000000; i++) {
        if (i == 10000) {
            before = rss_kib();
            t0 = tr_now_ns();
        }
        snprintf(cmd, sizeof cmd, "80 2A 9E 9A %08X", i);
        tr_trace_row tr = {&SLOT1, "sign", "throughput", "suites/x.tsuite", 9,
                           cmd, resp, "9000", i};
        /* no ck_assert per row: Check allocates for each passed assertion,
         * which ASan's quarantine would count as our RSS */
        if (tr_reports_trace(r, &tr, &e) != 0)
            assert_ok(-1, &e);
    }
    long after = rss_kib();
    double ns = (double)(tr_now_ns() - t0) / 990000.0;
    fprintf(stderr, "trace rows: %.0f ns per row (300-byte response, to /dev/null); "
                    "RSS %ld KiB after 10k rows, %ld KiB after 1M\n", ns, before, after);
    ck_assert_msg(after - before < 512, "RSS grew by %ld KiB over 990000 trace rows",
                  after - before);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(open_errors)
{
    char *dir = make_tmpdir();
    spit(path_in(dir, "file"), "x", 1);
    tr_err e;
    tr_err_clear(&e);
    ck_assert_ptr_null(tr_reports_open(path_in(dir, "file/sub"), &e));
    ck_assert_int_eq(e.code, TR_E_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "file"));
    tr_err_clear(&e);
    ck_assert_ptr_null(tr_reports_open("", &e));
    ck_assert_int_eq(e.code, TR_E_USAGE);
    /* a full disk is reported with the file's name */
    ck_assert_int_eq(mkdir(path_in(dir, "full"), 0777), 0);
    ck_assert_int_eq(symlink("/dev/full", path_in(dir, "full/results.csv")), 0);
    tr_err_clear(&e);
    ck_assert_ptr_null(tr_reports_open(path_in(dir, "full"), &e));
    ck_assert_int_eq(e.code, TR_E_IO);
    ck_assert_msg(strstr(e.msg, "full/results.csv: No space left on device") != NULL, "message: %s", e.msg);
    /* nested directories are created */
    tr_reports *r = tr_reports_open(path_in(dir, "a/b/c"), &e);
    assert_ok(r ? 0 : -1, &e);
    ck_assert_str_eq(tr_reports_dir(r), path_in(dir, "a/b/c"));
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(verdict_names)
{
    ck_assert_str_eq(tr_verdict_name(TR_PASS), "pass");
    ck_assert_str_eq(tr_verdict_name(TR_FAIL), "fail");
    ck_assert_str_eq(tr_verdict_name(TR_ERROR), "error");
    ck_assert_str_eq(tr_verdict_name(TR_SKIP), "skip");
    ck_assert_str_eq(tr_token_verdict_name(TR_PASS), "PASS");
    ck_assert_str_eq(tr_token_verdict_name(TR_SKIP), "SKIP");
}
END_TEST


/* ------------------------------------------------------------------------ */
/* XML escaping                                                              */

static const char *esc(const char *in, size_t n, tr_xml_mode m)
{
    static char out[4096];
    size_t need = tr_xml_escape(in, n, m, out, sizeof out);
    ck_assert_uint_lt(need, sizeof out);
    ck_assert_uint_eq(strlen(out), need);
    return out;
}

START_TEST(xml_escape_cases)
{
    ck_assert_str_eq(esc("a<b>&c", 6, TR_XML_TEXT), "a&lt;b&gt;&amp;c");
    ck_assert_str_eq(esc("]]>", 3, TR_XML_TEXT), "]]&gt;");
    ck_assert_str_eq(esc("\"q\" 'a'", 7, TR_XML_TEXT), "\"q\" 'a'");
    ck_assert_str_eq(esc("\"q\" 'a'", 7, TR_XML_ATTR), "&quot;q&quot; &apos;a&apos;");
    ck_assert_str_eq(esc("a\tb\nc\rd", 7, TR_XML_TEXT), "a\tb\nc&#13;d");
    ck_assert_str_eq(esc("a\tb\nc\rd", 7, TR_XML_ATTR), "a&#9;b&#10;c&#13;d");
    ck_assert_str_eq(esc("\x01\x1b[2J\x7f", 6, TR_XML_TEXT), "\\x01\\x1B[2J\\x7F");
    ck_assert_str_eq(esc("a\0b", 3, TR_XML_TEXT), "a\\x00b");
    /* invalid UTF-8: lone continuation, truncated, overlong, surrogate, >U+10FFFF */
    ck_assert_str_eq(esc("\x80", 1, TR_XML_TEXT), "\\x80");
    ck_assert_str_eq(esc("\xC3\x28", 2, TR_XML_TEXT), "\\xC3(");
    ck_assert_str_eq(esc("\xE4\xB8", 2, TR_XML_TEXT), "\\xE4\\xB8");
    ck_assert_str_eq(esc("\xC0\xAF", 2, TR_XML_TEXT), "\\xC0\\xAF");
    ck_assert_str_eq(esc("\xE0\x80\xAF", 3, TR_XML_TEXT), "\\xE0\\x80\\xAF");
    ck_assert_str_eq(esc("\xED\xA0\x80", 3, TR_XML_TEXT), "\\xED\\xA0\\x80");
    ck_assert_str_eq(esc("\xF4\x90\x80\x80", 4, TR_XML_TEXT), "\\xF4\\x90\\x80\\x80");
    /* valid UTF-8 but not XML Chars (U+FFFE, U+FFFF) or C1 controls */
    ck_assert_str_eq(esc("\xEF\xBF\xBE", 3, TR_XML_TEXT), "\\xEF\\xBF\\xBE");
    ck_assert_str_eq(esc("\xC2\x85", 2, TR_XML_TEXT), "\\xC2\\x85");
    /* valid multi-byte text is kept */
    ck_assert_str_eq(esc("签名 \xF0\x9F\x94\x91", 11, TR_XML_TEXT), "签名 \xF0\x9F\x94\x91");
    ck_assert_str_eq(esc("\xEF\xBF\xBD", 3, TR_XML_TEXT), "\xEF\xBF\xBD");

    /* snprintf-like: the needed size, and only whole pieces when short */
    char small[8];
    ck_assert_uint_eq(tr_xml_escape("ab&cd", 5, TR_XML_TEXT, small, sizeof small), 9);
    ck_assert_str_eq(small, "ab&amp;");
    ck_assert_uint_eq(tr_xml_escape("abc&", 4, TR_XML_TEXT, small, 6), 8);
    ck_assert_str_eq(small, "abc");
    ck_assert_uint_eq(tr_xml_escape("x", 1, TR_XML_TEXT, NULL, 0), 1);

    /* the bound holds for the worst byte */
    char big[64];
    ck_assert_uint_lt(tr_xml_escape("\"\"\"\"", 4, TR_XML_ATTR, big, sizeof big),
                      tr_xml_escape_bound(4));
    ck_assert_uint_lt(tr_xml_escape("\xff\xff", 2, TR_XML_ATTR, big, sizeof big),
                      tr_xml_escape_bound(2));

    char t[64];
    tr_text_sanitize("a\tb\x1b[0m\xc2\x9b", 9, "", t, sizeof t);
    ck_assert_str_eq(t, "a\\x09b\\x1B[0m\\xC2\\x9B");
    tr_text_sanitize("a\tb\nc\rd\x01", 8, "\t\n\r", t, sizeof t);
    ck_assert_str_eq(t, "a\tb\nc\rd\\x01");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* JUnit                                                                     */

static int count_files(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void assert_schema_valid(const char *xml)
{
    if (!have_program("xmllint")) {
        fprintf(stderr, "SKIPPED schema check of %s: xmllint not found "
                        "(Debian: libxml2-utils)\n", xml);
        return;
    }
    char out[8192];
    int rc = xmllint_schema(xml, out, sizeof out);
    ck_assert_msg(rc == 0, "xmllint rejected %s (exit %d):\n%s", xml, rc, out);
}

START_TEST(junit_golden)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_fix_time(r, FIXED_TIME);
    write_fixed_run(r);
    /* a test whose metrics arrived but whose verdict row did not: the run
     * was interrupted inside it */
    result(r, &SLOT2, "sign", "endurance", TR_PASS, NULL, 0, "sign.count", 512, NULL, NULL, 50);
    result(r, &SLOT2, "sign", "endurance", TR_FAIL, "sign.too-slow", 0, "sign.p99", 80, "ms",
           "p99 80.000 > max-p99-ms 60", 50);
    assert_ok(tr_reports_write_junit(r, &e), &e);
    char *first = slurp(path_in(dir, "junit.xml"), NULL);
    compare_or_update_golden(path_in(dir, "junit.xml"), "junit.xml");
    assert_schema_valid(path_in(dir, "junit.xml"));
    /* callable again; same bytes; nothing left behind but the six files */
    assert_ok(tr_reports_write_junit(r, &e), &e);
    char *second = slurp(path_in(dir, "junit.xml"), NULL);
    ck_assert_str_eq(first, second);
    ck_assert_int_eq(count_files(dir), 6);
    /* provenance: the run-wide rows in every testsuite, a slot's own in its
     * own, value and source together; a PIN as <pin> */
    ck_assert_ptr_nonnull(strstr(first, "<property name=\"tool.version\" value=\"v1-2-gabc (tokenrig)\"/>"));
    ck_assert_ptr_nonnull(strstr(first, "<property name=\"var.APDU_MAX_MS\" value=\"500 (profile "));
    ck_assert_ptr_nonnull(strstr(first, "<property name=\"var.DEFAULT_PIN\" value=\"&lt;pin&gt; (profile "));
    ck_assert_ptr_nonnull(strstr(strstr(first, "slot2/SER0002"), "tool.version"));
    ck_assert_ptr_null(strstr(strstr(first, "slot2/SER0002"), "APDU_MAX_MS"));
    /* the limit beside a metric's value */
    ck_assert_ptr_nonnull(strstr(first, "metric sign.max = 52.5 ms (max 60)\n"));
    ck_assert_ptr_nonnull(strstr(first, "<testsuites name=\"tokenrig run-42\" tests=\"7\" "
                                        "failures=\"1\" errors=\"2\""));
    ck_assert_ptr_nonnull(strstr(first, "<testsuite name=\"slot2/SER0002\" tests=\"5\" "
                                        "failures=\"1\" errors=\"2\" skipped=\"1\""));
    ck_assert_ptr_nonnull(strstr(first, "<error type=\"interrupted\""));
    /* a metric over its threshold says so next to its value */
    ck_assert_ptr_nonnull(strstr(first, "metric sign.p99 = 80 ms [fail: p99 80.000 &gt; max-p99-ms 60]\n"));
    free(first);
    free(second);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

static char *nasty_strings[8];

static void make_nasty(void)
{
    static char all[256], high[129], ctl[33];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    for (int i = 0; i < 128; i++)
        high[i] = (char)(0x80 + i);
    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    ctl[31] = 0x7f;
    nasty_strings[0] = all;
    nasty_strings[1] = high;
    nasty_strings[2] = ctl;
    nasty_strings[3] = "]]><![CDATA[ x ]]> <!-- --> <?pi?> &amp; &#0; &#x1;";
    nasty_strings[4] = "\"'<>&\r\n\t \xC3\x28 \xED\xA0\x80 \xEF\xBF\xBF \xF4\x90\x80\x80";
    nasty_strings[5] = "";
    nasty_strings[6] = "</testcase></testsuite></testsuites>";
    nasty_strings[7] = "签名\xF0\x9F\x94\x91";
}

/* Every string a token or a suite can give ends up in junit.xml, which
 * must stay valid against the schema. */
START_TEST(junit_any_bytes_schema_valid)
{
    make_nasty();
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    size_t n = sizeof nasty_strings / sizeof nasty_strings[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            const char *a = nasty_strings[i], *b = nasty_strings[j];
            tr_slot_id who = {a, b, a, b, a, b, a};
            for (int v = TR_PASS; v <= TR_SKIP; v++) {
                tr_result_row m = {&who, b, a, (tr_verdict)v, b, 1, a, 1.5, b, a, b, 3, 2.5, a};
                assert_ok(tr_reports_result(r, &m, &e), &e);
                tr_result_row row = {&who, b, a, (tr_verdict)v, b, 0.5, NULL, 0, NULL, a, b, 3, 0, NULL};
                assert_ok(tr_reports_result(r, &row, &e), &e);
            }
            if (*a)
                assert_ok(tr_reports_slot_property(r, &who, a, b, &e), &e);
        }
    }
    assert_ok(tr_reports_write_junit(r, &e), &e);
    assert_schema_valid(path_in(dir, "junit.xml"));
    /* and the file itself is valid UTF-8 made only of XML Chars */
    size_t len;
    char *x = slurp(path_in(dir, "junit.xml"), &len);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tr_utf8_next((const uint8_t *)x + i, len - i, &cp);
        ck_assert_msg(k > 0 && tr_xml_is_char(cp), "bad character at byte %zu", i);
        i += k;
    }
    free(x);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Properties set before the serial was read join the token's testsuite. */
START_TEST(junit_serial_learned_later)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_slot_id early = {"run", "rig", "slot3", "Reader 3", NULL, NULL, NULL};
    tr_slot_id later = {"run", "rig", "slot3", "Reader 3", "SER3", "main", NULL};
    assert_ok(tr_reports_slot_property(r, &early, "atr", "3B 00", &e), &e);
    assert_ok(tr_reports_slot_property(r, &early, "atr", "3B 01", &e), &e); /* replaces */
    result(r, &later, "s", "t", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    /* another token in the same slot (a swap) is its own testsuite */
    tr_slot_id other = {"run", "rig", "slot3", "Reader 3", "SER4", "main", NULL};
    result(r, &other, "s", "t", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    assert_ok(tr_reports_write_junit(r, &e), &e);
    char *x = slurp(path_in(dir, "junit.xml"), NULL);
    ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"slot3/SER3\" tests=\"1\""));
    ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"slot3/SER4\" tests=\"1\""));
    ck_assert_ptr_nonnull(strstr(x, "<property name=\"atr\" value=\"3B 01\"/>"));
    ck_assert_ptr_null(strstr(x, "3B 00"));
    ck_assert_ptr_null(strstr(x, "name=\"slot3\""));
    free(x);
    assert_schema_valid(path_in(dir, "junit.xml"));
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(junit_empty_run)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    assert_ok(tr_reports_write_junit(r, &e), &e);
    char *x = slurp(path_in(dir, "junit.xml"), NULL);
    ck_assert_ptr_nonnull(strstr(x, "<testsuites name=\"tokenrig\" tests=\"0\" failures=\"0\" "
                                    "errors=\"0\" time=\"0.000\">"));
    free(x);
    assert_schema_valid(path_in(dir, "junit.xml"));
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* The rows of a child process sent over a pipe (tr_reports_forward) make the
 * same files in the parent as written there directly: the goldens. */
START_TEST(rowpipe_same_files)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(path_in(dir, "run"), &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_fix_time(r, FIXED_TIME);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        tr_reports *fwd = tr_reports_forward(fd[1], "run", &e);
        if (!fwd)
            _exit(3);
        write_fixed_run(fwd);
        tr_reports_close(fwd);
        _exit(0);
    }
    close(fd[1]);
    int got, rows = 0;
    while ((got = tr_rowpipe_take(fd[0], r, &e)) == 1)
        rows++;
    assert_ok(got, &e);
    close(fd[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(rows, 10 + 2 + 3 + 2 + 2 + 3); /* results, traces, samples, cycles, properties, provenance */
    compare_run_goldens(r, dir);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* A stream cut inside a message, or a message that says more than it holds,
 * is broken: said, not taken. */
START_TEST(rowpipe_broken)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    const uint8_t cut[] = {40, 0, 0, 0, 1, 1};               /* 40 bytes announced, 2 sent */
    const uint8_t unknown[] = {2, 0, 0, 0, 99, 0};           /* kind 99 */
    const uint8_t short_str[] = {7, 0, 0, 0, 1, 1, 9, 0, 0, 0, 'x'}; /* a string past the end */
    const uint8_t *cases[] = {cut, unknown, short_str};
    size_t len[] = {sizeof cut, sizeof unknown, sizeof short_str};
    for (size_t i = 0; i < 3; i++) {
        int fd[2];
        ck_assert_int_eq(pipe(fd), 0);
        ck_assert_int_eq(write(fd[1], cases[i], len[i]), (ssize_t)len[i]);
        close(fd[1]);
        ck_assert_int_eq(tr_rowpipe_take(fd[0], r, &e), -1);
        close(fd[0]);
    }
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* A failure text gives its "file:line:" once: the interpreter's messages
 * already begin with it (issue 14: it was given twice). */
START_TEST(junit_where_once)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    result(r, &SLOT1, "pin", "said", TR_FAIL, "x.y", 0, NULL, 0, NULL, "suites/x.tsuite:4: expected SW 6A80", 4);
    result(r, &SLOT1, "pin", "not said", TR_FAIL, "x.y", 0, NULL, 0, NULL, "expected SW 6A81", 5);
    result(r, &SLOT1, "pin", "other line", TR_FAIL, "x.y", 0, NULL, 0, NULL, "suites/x.tsuite:44: SW 6A82", 6);
    assert_ok(tr_reports_write_junit(r, &e), &e);
    char *x = slurp(path_in(dir, "junit.xml"), NULL);
    ck_assert_ptr_nonnull(strstr(x, ">suites/x.tsuite:4: expected SW 6A80</failure>"));
    ck_assert_ptr_null(strstr(x, "suites/x.tsuite:4: suites/x.tsuite:4:"));
    ck_assert_ptr_nonnull(strstr(x, ">suites/x.tsuite:5: expected SW 6A81</failure>"));
    ck_assert_ptr_nonnull(strstr(x, ">suites/x.tsuite:6: suites/x.tsuite:44: SW 6A82</failure>"));
    free(x);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* cycles-summary.csv: per slot and stage, the count and percentiles of the
 * cycles that reached the stage, the first-APDU limit beside them. */
START_TEST(cycle_summary_stats)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    for (unsigned i = 1; i <= 20; i++) {
        bool fail = i == 7;
        tr_cycle_row c = {&SLOT2, i, 100, -1, 1.0 * i, fail ? -1 : 10.0 * i, fail ? -1 : 10.0 * i + 1, NULL,
                          fail ? "reader" : "apdu", NULL, fail ? "enum.no-card" : "pass", NULL, "recognition",
                          "cycles", 150};
        assert_ok(tr_reports_cycle(r, &c, &e), &e);
    }
    tr_cycle_stats st;
    ck_assert(!tr_reports_cycle_stats(r, "slot1", &st));
    ck_assert(tr_reports_cycle_stats(r, "slot2", &st));
    ck_assert_uint_eq(st.cycles, 20);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.count[TR_STAGE_DEVICE], 0);
    ck_assert_uint_eq(st.count[TR_STAGE_READER], 20);
    ck_assert_uint_eq(st.count[TR_STAGE_ATR], 19);
    ck_assert(st.max[TR_STAGE_FIRST_APDU] == 201);
    ck_assert(st.p50[TR_STAGE_ATR] == 110); /* nearest rank 10 of the 19 that got there (no 70) */
    ck_assert(st.p95[TR_STAGE_ATR] == 200);
    ck_assert(st.first_apdu_limit_ms == 150);
    assert_ok(tr_reports_write_cycle_summary(r, &e), &e);
    csv_doc d = parse_csv(path_in(dir, "cycles-summary.csv"));
    ck_assert_uint_eq(d.nrows, 1 + TR_STAGE_COUNT);
    ck_assert_str_eq(d.rows[4][3], "to_atr_ms");
    ck_assert_str_eq(d.rows[4][6], "19");
    ck_assert_str_eq(d.rows[5][10], "150");
    ck_assert_str_eq(d.rows[2][7], ""); /* no USB device stage: no percentiles */
    free_csv(&d);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Summary                                                                   */

START_TEST(summary_golden)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_fix_time(r, FIXED_TIME);
    write_fixed_run(r);
    tr_slot_id s3 = {"run-42", "virtual", "slot3", NULL, "SER\x1b[31m3", "main", "ref1"};
    result(r, &s3, "pin", "lockout", TR_SKIP, NULL, 0, NULL, 0, NULL, "not allowed", 1);
    FILE *table = fopen(path_in(dir, "table.txt"), "w");
    ck_assert_ptr_nonnull(table);
    assert_ok(tr_reports_write_summary(r, &e), &e);
    assert_ok(tr_reports_print_summary(r, table, &e), &e);
    fclose(table);
    compare_or_update_golden(path_in(dir, "summary.csv"), "summary.csv");
    compare_or_update_golden(path_in(dir, "table.txt"), "summary-table.txt");
    char *t = slurp(path_in(dir, "table.txt"), NULL);
    ck_assert_ptr_null(strchr(t, 0x1b)); /* no terminal escape from a serial */
    ck_assert_ptr_nonnull(strstr(t, "batch yield: 1/3 tokens passed (33.3%)\n"));
    free(t);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

static tr_token_summary *summary_of(tr_reports *r, size_t *n)
{
    tr_err e;
    tr_token_summary *s = tr_reports_token_summary(r, n, &e);
    assert_ok(s ? 0 : -1, &e);
    return s;
}

START_TEST(summary_verdict_rules)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_slot_id a = {"run", "rig", "a", NULL, "A", "main", NULL};   /* fail beats error */
    tr_slot_id b = {"run", "rig", "b", NULL, "B", "main", NULL};   /* error beats pass */
    tr_slot_id c = {"run", "rig", "c", NULL, "C", "main", NULL};   /* pass + skip = pass */
    tr_slot_id d = {"run", "rig", "d", NULL, "D", "main", NULL};   /* only skips */
    tr_slot_id f = {"run", "rig", "f", NULL, "F", "main", NULL};   /* interrupted */
    result(r, &a, "s", "1", TR_ERROR, "io.mute", 1, NULL, 0, NULL, NULL, 1);
    result(r, &a, "s", "2", TR_FAIL, "pin.no-lockout", 1, NULL, 0, NULL, NULL, 1);
    result(r, &a, "s", "3", TR_FAIL, "pin.no-lockout", 1, NULL, 0, NULL, NULL, 1);
    result(r, &a, "s", "4", TR_FAIL, "sign.too-slow", 1, NULL, 0, NULL, NULL, 1);
    result(r, &b, "s", "1", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &b, "s", "2", TR_ERROR, NULL, 2, NULL, 0, NULL, NULL, 1);
    result(r, &c, "s", "1", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &c, "s", "2", TR_SKIP, NULL, 0, NULL, 0, NULL, NULL, 1);
    result(r, &d, "s", "1", TR_SKIP, NULL, 0, NULL, 0, NULL, NULL, 1);
    result(r, &f, "s", "1", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &f, "s", "2", TR_PASS, NULL, 0, "n", 3, NULL, NULL, 1); /* no verdict row */
    size_t n;
    tr_token_summary *s = summary_of(r, &n);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(s[0].verdict, TR_FAIL);
    ck_assert_str_eq(s[0].classifications, "io.mute;pin.no-lockout;sign.too-slow");
    ck_assert_uint_eq(s[0].failed, 3);
    ck_assert_uint_eq(s[0].errored, 1);
    ck_assert_int_eq(s[1].verdict, TR_ERROR);
    ck_assert_str_eq(s[1].classifications, "");
    ck_assert(fabs(s[1].duration_s - 3.0) < 1e-9);
    ck_assert_int_eq(s[2].verdict, TR_PASS);
    ck_assert_uint_eq(s[2].skipped, 1);
    ck_assert_int_eq(s[3].verdict, TR_SKIP);
    ck_assert_int_eq(s[4].verdict, TR_ERROR);
    ck_assert_str_eq(s[4].classifications, "interrupted");
    ck_assert_str_eq(s[4].slot, "f");
    ck_assert_str_eq(s[4].serial, "F");
    tr_reports_token_summary_free(s, n);
    /* the interrupted test gets its verdict later: now a pass */
    result(r, &f, "s", "2", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    s = summary_of(r, &n);
    ck_assert_int_eq(s[4].verdict, TR_PASS);
    ck_assert_uint_eq(s[4].tests, 2);
    tr_reports_token_summary_free(s, n);
    /* summary.csv can be written more than once */
    assert_ok(tr_reports_write_summary(r, &e), &e);
    assert_ok(tr_reports_write_summary(r, &e), &e);
    csv_doc doc = parse_csv(path_in(dir, "summary.csv"));
    ck_assert_uint_eq(doc.nrows, 6);
    ck_assert_str_eq(doc.rows[1][5], "FAIL");
    ck_assert_str_eq(doc.rows[4][5], "SKIP");
    free_csv(&doc);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* A token whose run left out tests it was asked for (skip rows with a
 * not-run.* code) is INCOMPLETE, not PASS, everywhere its verdict shows. */
START_TEST(summary_incomplete)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_slot_id g = {"run", "rig", "g", NULL, "G", "main", NULL};   /* pass + not run */
    tr_slot_id h = {"run", "rig", "h", NULL, "H", "main", NULL};   /* fail beats incomplete */
    tr_slot_id i = {"run", "rig", "i", NULL, "I", "main", NULL};   /* nothing but not run */
    tr_slot_id j = {"run", "rig", "j", NULL, "J", "main", NULL};   /* two reasons */
    tr_slot_id k = {"run", "rig", "k", NULL, "K", "main", NULL};   /* plain skips: pass */
    const char *why = "destructive: needs --allow-destructive";
    result(r, &g, "s", "1", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &g, "s", "2", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &g, "s", "3", TR_SKIP, NULL, 0, NULL, 0, NULL, "not a main key", 1);
    result(r, &g, "s", "4", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &h, "s", "1", TR_FAIL, "pin.no-lockout", 1, NULL, 0, NULL, NULL, 1);
    result(r, &h, "s", "2", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &i, "s", "1", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &i, "s", "2", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &j, "s", "1", TR_SKIP, "not-run.no-expected-serial", 0, NULL, 0, NULL, "no expected serial", 1);
    result(r, &j, "s", "2", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &j, "s", "3", TR_SKIP, "not-run.destructive", 0, NULL, 0, NULL, why, 1);
    result(r, &k, "s", "1", TR_PASS, NULL, 1, NULL, 0, NULL, NULL, 1);
    result(r, &k, "s", "2", TR_SKIP, NULL, 0, NULL, 0, NULL, "not a main key", 1);
    size_t n;
    tr_token_summary *s = summary_of(r, &n);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(s[0].verdict, TR_INCOMPLETE);
    ck_assert_uint_eq(s[0].skipped, 3);
    ck_assert_uint_eq(s[0].not_run, 2);
    ck_assert_str_eq(s[0].classifications, "not-run.destructive");
    ck_assert_str_eq(s[0].not_run_why, "not-run.destructive: 2 tests (destructive: needs --allow-destructive)");
    ck_assert_int_eq(s[1].verdict, TR_FAIL);
    ck_assert_str_eq(s[1].classifications, "pin.no-lockout;not-run.destructive");
    ck_assert_int_eq(s[2].verdict, TR_INCOMPLETE); /* not SKIP: the run, not the token, left them out */
    ck_assert_int_eq(s[3].verdict, TR_INCOMPLETE);
    ck_assert_str_eq(s[3].not_run_why, "not-run.no-expected-serial: 1 test (no expected serial); "
                                       "not-run.destructive: 1 test (destructive: needs --allow-destructive)");
    ck_assert_int_eq(s[4].verdict, TR_PASS);
    ck_assert_uint_eq(s[4].not_run, 0);
    ck_assert_str_eq(s[4].not_run_why, "");
    tr_reports_token_summary_free(s, n);
    ck_assert_str_eq(tr_token_verdict_name(TR_INCOMPLETE), "INCOMPLETE");
    ck_assert_str_eq(tr_verdict_name(TR_INCOMPLETE), "incomplete");
    /* the console: verdicts, the yield, what each INCOMPLETE token did not run */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_ok(tr_reports_print_summary(r, f, &e), &e);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "batch yield: 1/5 tokens passed (20.0%)\n"
                                      "INCOMPLETE g i: not-run.destructive: 2 tests (destructive: needs "
                                      "--allow-destructive)\n"
                                      "INCOMPLETE j: not-run.no-expected-serial: 1 test"));
    ck_assert_ptr_nonnull(strstr(out, "INCOMPLETE"));
    free(out);
    /* summary.csv: the verdict, the codes, the not_run count */
    assert_ok(tr_reports_write_summary(r, &e), &e);
    csv_doc doc = parse_csv(path_in(dir, "summary.csv"));
    ck_assert_str_eq(doc.rows[0][13], "not_run");
    ck_assert_str_eq(doc.rows[1][5], "INCOMPLETE");
    ck_assert_str_eq(doc.rows[1][6], "not-run.destructive");
    ck_assert_str_eq(doc.rows[1][13], "2");
    ck_assert_str_eq(doc.rows[5][5], "PASS");
    ck_assert_str_eq(doc.rows[5][13], "0");
    free_csv(&doc);
    /* JUnit: verdict and "not run" properties, the code in <skipped>, still schema-valid */
    assert_ok(tr_reports_write_junit(r, &e), &e);
    size_t xn;
    char *xml = slurp(path_in(dir, "junit.xml"), &xn);
    ck_assert_ptr_nonnull(strstr(xml, "<property name=\"verdict\" value=\"INCOMPLETE\"/>\n      <property "
                                      "name=\"not run\" value=\"not-run.destructive: 2 tests (destructive: needs "
                                      "--allow-destructive)\"/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<skipped message=\"not-run.destructive: destructive: needs "
                                      "--allow-destructive\"/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<skipped message=\"not a main key\"/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<property name=\"verdict\" value=\"FAIL\"/>"));
    free(xml);
    assert_schema_valid(path_in(dir, "junit.xml"));
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(summary_no_tokens)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    size_t n = 99;
    tr_token_summary *s = summary_of(r, &n);
    ck_assert_uint_eq(n, 0);
    tr_reports_token_summary_free(s, n);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_ok(tr_reports_write_summary(r, &e), &e);
    assert_ok(tr_reports_print_summary(r, f, &e), &e);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "batch yield: 0/0 tokens passed (no tokens)\n"));
    free(out);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* After tr_reports_freeze nothing more reaches the CSV files or the kept
 * results (an abandoned worker waking up at the end of a run). */
START_TEST(csv_freeze_drops_later_rows)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    result(r, &SLOT1, "pin", "before", TR_PASS, NULL, 0.1, NULL, 0, NULL, NULL, 1);
    tr_reports_freeze(r);
    result(r, &SLOT1, "pin", "after", TR_ERROR, "token", 0.1, NULL, 0, NULL, "late", 2);
    tr_trace_row tr = {&SLOT1, "pin", "after", "suites/x.tsuite", 2, "00 A4 00 00", "", "9000", 5};
    assert_ok(tr_reports_trace(r, &tr, &e), &e);
    tr_sample_row sm = {&SLOT1, "pin", "after", "m", 0, 1.0, "ms"};
    assert_ok(tr_reports_sample(r, &sm, &e), &e);
    tr_cycle_row cy = {&SLOT1, 1, 1, 1, 1, 1, 1, "3B", "apdu", "virtual", "pass", NULL, "pin", "after", 1500};
    assert_ok(tr_reports_cycle(r, &cy, &e), &e);
    const char *files[] = {"results.csv", "trace.csv", "samples.csv", "cycles.csv"};
    const size_t rows[] = {2, 1, 1, 1}; /* header (+ the row written before) */
    for (size_t i = 0; i < 4; i++) {
        csv_doc d = parse_csv(path_in(dir, files[i]));
        ck_assert_msg(d.nrows == rows[i], "%s: %zu rows", files[i], d.nrows);
        free_csv(&d);
    }
    size_t n = 0;
    tr_token_summary *s = summary_of(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(s[0].tests, 1);
    ck_assert_uint_eq(s[0].errored, 0);
    tr_reports_token_summary_free(s, n);
    tr_reports_close(r);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Write failures: a small full tmpfs                                        */

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(close(fd), 0);
}

/* Mount namespaces need root; a user namespace makes the test's process its
 * root where unprivileged user namespaces are allowed. */
static bool enter_user_namespace(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return false;
    char map[64];
    write_text("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    write_text("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    write_text("/proc/self/gid_map", map);
    return true;
}

/* A tmpfs of `size` at mnt, in a mount namespace of the test's own (Check
 * runs each test in a child process): the mount goes away with the child
 * even when the test fails half-way, and nobody else sees it. */
static void mount_small_tmpfs(const char *mnt, const char *size)
{
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    ck_assert_msg(unshare(CLONE_NEWNS) == 0 || enter_user_namespace(),
                  "a tmpfs for this test needs root or user namespaces: %s", strerror(errno));
    ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
                  "make / private: %s", strerror(errno));
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, opts) == 0, "mount tmpfs on %s: %s", mnt,
                  strerror(errno));
}

static void unmount_tmpfs(const char *mnt)
{
    ck_assert_msg(umount2(mnt, 0) == 0, "umount %s: %s", mnt, strerror(errno));
}

/* A file of n bytes, to be deleted when the disk should have room again. */
static void ballast(const char *path, size_t n)
{
    char *b = calloc(1, n);
    spit(path, b, n);
    free(b);
}

/* Row i of file k (0 results, 1 trace, 2 samples, 3 cycles). Rows are about
 * 300 bytes, so that one crosses a page of the tmpfs now and then: the last
 * row before the disk is full gets written in part and must be cut off. */
static int full_row(tr_reports *r, int k, unsigned i, tr_err *e)
{
    char id[32], longtext[300];
    snprintf(id, sizeof id, "t%05u", i);
    memset(longtext, 'A' + (int)(i % 26), sizeof longtext - 1);
    longtext[sizeof longtext - 1 - (i % 7)] = '\0';
    switch (k) {
    case 0: {
        tr_result_row row = {&SLOT1, "fill", id, TR_PASS, NULL, 0.5, NULL, 0, NULL, longtext,
                             "suites/x.tsuite", (int)i + 1, 0, NULL};
        return tr_reports_result(r, &row, e);
    }
    case 1: {
        tr_trace_row row = {&SLOT1, "fill", id, "suites/x.tsuite", (int)i + 1, "00 B0 00 00 00",
                            longtext, "9000", i};
        return tr_reports_trace(r, &row, e);
    }
    case 2: {
        tr_sample_row row = {&SLOT1, "fill", longtext, "latency", i, 1.25, "ms"};
        return tr_reports_sample(r, &row, e);
    }
    default: {
        tr_cycle_row row = {&SLOT1, i + 1, 500, 1, 2, 3, 4, "3B 8F 80 01", "apdu", "virtual", "pass",
                            longtext, "fill", id, 1500};
        return tr_reports_cycle(r, &row, e);
    }
    }
}

static const char *const FULL_FILES[4] = {"results.csv", "trace.csv", "samples.csv", "cycles.csv"};
static const size_t FULL_COLS[4] = {21, 11, 9, 18};
static const size_t FULL_ID_COL[4] = {18, 6, 6, 3}; /* the column that holds i (+1) */

/* The file is whole rows only: it parses, ends with a newline, has the
 * header and rows 0..n-1 in order, every one complete. */
static void assert_whole_rows(const char *path, int k, unsigned n)
{
    size_t len;
    char *b = slurp(path, &len);
    ck_assert_msg(len > 0 && b[len - 1] == '\n', "%s does not end with a whole row", path);
    free(b);
    csv_doc d = parse_csv(path);
    ck_assert_msg(d.nrows == n + 1, "%s: %zu rows, %u written", path, d.nrows, n);
    for (size_t j = 0; j < d.nrows; j++)
        ck_assert_msg(d.nfields[j] == FULL_COLS[k], "%s row %zu has %zu cells", path, j, d.nfields[j]);
    for (unsigned i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "%u", k == 2 ? i : i + 1);
        ck_assert_str_eq(d.rows[i + 1][FULL_ID_COL[k]], want);
    }
    free_csv(&d);
}

static bool file_exists_like(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    bool found = false;
    for (struct dirent *de; (de = readdir(d));)
        found |= strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return found;
}

/* Fill each CSV file until the disk refuses a row: the failure names the
 * file and the reason, the file keeps whole rows only (the row written in
 * part was cut off), and the first failure is kept for the end of the run.
 * Then junit.xml and summary.csv fail the same way (the old junit.xml
 * stays), the console table does not care, and once there is room again
 * the rows go on where the last whole one ended. */
START_TEST(full_disk_every_file)
{
    char *dir = make_tmpdir();
    char mnt[1024], run[1100], ballast_path[1100];
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    mount_small_tmpfs(mnt, "64k");
    snprintf(run, sizeof run, "%s/run", mnt);
    snprintf(ballast_path, sizeof ballast_path, "%s/ballast", mnt);
    ballast(ballast_path, 32768);
    tr_err e;
    tr_reports *r = tr_reports_open(run, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_fix_time(r, FIXED_TIME);
    ck_assert(!tr_reports_write_failed(r, &e));
    assert_ok(tr_reports_sync(r, &e), &e);
    assert_ok(tr_reports_write_junit(r, &e), &e); /* an empty one, kept through the failures */
    long page = sysconf(_SC_PAGESIZE);
    unsigned written[4];
    for (int k = 0; k < 4; k++) {
        unsigned i = 0;
        tr_err_clear(&e);
        while (i < 100000 && full_row(r, k, i, &e) == 0)
            i++;
        written[k] = i;
        char path[1200], want[1300];
        snprintf(path, sizeof path, "%s/%s", run, FULL_FILES[k]);
        snprintf(want, sizeof want, "%s: %s", path, strerror(ENOSPC));
        ck_assert_int_eq(e.code, TR_E_IO);
        ck_assert_str_eq(e.msg, want);
        assert_whole_rows(path, k, i);
        /* the page had room for part of the refused row: it was written in
         * part and cut off again (else this test would not test the cut) */
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_msg(st.st_size % page != 0, "%s ends on a page boundary", path);
    }
    /* the first failure is kept, with the other files that failed after it */
    char want[1300];
    snprintf(want, sizeof want, "%s/results.csv: %s (also failed: trace.csv, samples.csv, cycles.csv)",
             run, strerror(ENOSPC));
    ck_assert(tr_reports_write_failed(r, &e));
    ck_assert_str_eq(e.msg, want);
    /* junit.xml and summary.csv: named, no temporary file left, the old
     * junit.xml intact */
    /* the refused result row is still kept for junit.xml and the summary */
    size_t n;
    tr_token_summary *sum = summary_of(r, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(sum[0].tests, written[0] + 1);
    tr_reports_token_summary_free(sum, n);
    assert_ok(tr_reports_slot_property(r, &SLOT2, "atr", "3B", &e), &e); /* a token that ran nothing */
    tr_err_clear(&e);
    ck_assert_int_eq(tr_reports_write_junit(r, &e), -1);
    snprintf(want, sizeof want, "%s/junit.xml: %s", run, strerror(ENOSPC));
    ck_assert_str_eq(e.msg, want);
    ck_assert_int_eq(tr_reports_write_summary(r, &e), -1);
    snprintf(want, sizeof want, "%s/summary.csv: %s", run, strerror(ENOSPC));
    ck_assert_str_eq(e.msg, want);
    ck_assert(!file_exists_like(run, ".junit.xml.tmp") && !file_exists_like(run, ".summary.csv.tmp"));
    char *old = slurp(path_in(run, "junit.xml"), NULL);
    ck_assert_ptr_nonnull(strstr(old, "</testsuites>\n"));
    free(old);
    /* the console does not depend on the files */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_ok(tr_reports_print_summary(r, f, &e), &e);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "batch yield: 1/2 tokens passed (50.0%)\n"));
    free(out);
    /* room again: one more row of each file follows the last whole row */
    ck_assert_int_eq(unlink(ballast_path), 0);
    for (int k = 0; k < 4; k++) {
        assert_ok(full_row(r, k, written[k], &e), &e);
        assert_whole_rows(path_in(run, FULL_FILES[k]), k, written[k] + 1);
    }
    /* and still the run's first failure at the end, with every file that
     * failed since */
    ck_assert_int_eq(tr_reports_sync(r, &e), -1);
    snprintf(want, sizeof want,
             "%s/results.csv: %s (also failed: trace.csv, samples.csv, cycles.csv, junit.xml, summary.csv)",
             run, strerror(ENOSPC));
    ck_assert_str_eq(e.msg, want);
    tr_reports_close(r);
    unmount_tmpfs(mnt);
    rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *reports_csv_suite(void)
{
    Suite *s = suite_create("reports-csv");
    TCase *tc = tcase_create("csv");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, csv_golden);
    tcase_add_test(tc, csv_headers_and_columns);
    tcase_add_test(tc, csv_numeric_cells);
    tcase_add_test(tc, csv_libcsv_round_trip);
    tcase_add_test(tc, csv_python_reads_results);
    tcase_add_test(tc, csv_sigkill_keeps_rows);
    tcase_add_test(tc, csv_threads);
    tcase_add_test(tc, csv_million_traces_flat_rss);
    tcase_add_test(tc, open_errors);
    tcase_add_test(tc, verdict_names);
    tcase_add_test(tc, csv_freeze_drops_later_rows);
    tcase_add_test(tc, full_disk_every_file);
    suite_add_tcase(s, tc);
    return s;
}


/* ------------------------------------------------------------------------ */
/* Plots: a synthetic run drawn by ci/plots.sh                               */

static uint32_t lcg_state = 12345;

static double uniform01(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (lcg_state >> 8) / 16777216.0;
}

/* Roughly normal (sum of uniforms), deterministic. */
static double gaussish(double mean, double sd)
{
    double acc = 0;
    for (int i = 0; i < 12; i++)
        acc += uniform01();
    return mean + sd * (acc - 6.0);
}

/* Four tokens signing with different latencies, two of them power-cycled
 * 30 times (one cycle failing), and verdicts of every kind. */
static void write_synthetic_run(const char *dir)
{
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    static const char *slots[] = {"slot1", "slot2", "slot3", "slot4"};
    static const char *serials[] = {"SER0001", "SER0002", "SER0003", "SER0004"};
    static const double mean_ms[] = {42, 45, 61, 43};
    for (int k = 0; k < 4; k++) {
        tr_slot_id who = {"synthetic", "virtual", slots[k], "Virtual PCD", serials[k],
                          k % 2 ? "secondary" : "main", "ref1"};
        for (unsigned i = 0; i < 300; i++) {
            double v = gaussish(mean_ms[k], 2.5 + k);
            tr_sample_row sm = {&who, "sign", "throughput", "sign", i, v, "ms"};
            assert_ok(tr_reports_sample(r, &sm, &e), &e);
        }
        tr_sample_row other = {&who, "pin", "verify", "verify", 0, 5, "ms"};
        assert_ok(tr_reports_sample(r, &other, &e), &e);
        for (int t = 0; t < 8; t++) {
            char test[16];
            snprintf(test, sizeof test, "t%d", t);
            tr_verdict v = TR_PASS;
            const char *cls = NULL;
            if (k == 2 && t == 3)
                v = TR_FAIL, cls = "sign.too-slow";
            if (k == 3 && t == 5)
                v = TR_ERROR, cls = "io.mute";
            if (t == 7 && k != 0)
                v = TR_SKIP;
            result(r, &who, "suite", test, v, cls, 0.5, NULL, 0, NULL, NULL, t + 1);
        }
        if (k >= 2)
            continue;
        for (unsigned c = 1; c <= 30; c++) {
            double dev = gaussish(180, 15), rd = dev + gaussish(250, 20);
            double atr = rd + gaussish(60, 5), apdu = atr + gaussish(12, 2);
            bool fail = k == 1 && c == 17;
            tr_cycle_row row = {&who, c, 500, dev, fail ? -1 : rd, fail ? -1 : atr,
                                fail ? -1 : apdu, fail ? NULL : "3B 8F 80 01",
                                fail ? "device" : "first-apdu", "sysfs-disable",
                                fail ? "enum.no-card" : "pass", NULL, "recognition", "cycles", 1500};
            assert_ok(tr_reports_cycle(r, &row, &e), &e);
        }
    }
    assert_ok(tr_reports_write_summary(r, &e), &e);
    assert_ok(tr_reports_write_junit(r, &e), &e);
    tr_reports_close(r);
}

static void assert_png(const char *path)
{
    size_t n;
    char *b = slurp(path, &n);
    ck_assert_msg(n > 8000, "%s is only %zu bytes", path, n);
    ck_assert_msg(memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", path);
    free(b);
}

/* TR_PLOT_DEMO_DIR=dir keeps the synthetic run and its plots there. */
START_TEST(plots_from_synthetic_run)
{
    const char *keep = getenv("TR_PLOT_DEMO_DIR");
    char *dir = keep && *keep ? strdup(keep) : make_tmpdir();
    write_synthetic_run(dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash '%s/ci/plots.sh' '%s' >'%s/plots.log' 2>&1", srcdir(), dir, dir);
    int rc = system(cmd);
    char *log = slurp(path_in(dir, "plots.log"), NULL);
    ck_assert_msg(rc == 0, "ci/plots.sh failed:\n%s", log);
    if (!have_program("gnuplot")) {
        ck_assert_ptr_nonnull(strstr(log, "gnuplot not found"));
        fprintf(stderr, "plots_from_synthetic_run: SKIPPED drawing, gnuplot not found\n");
    } else {
        ck_assert_msg(strstr(log, "warning") == NULL, "gnuplot warned:\n%s", log);
        assert_png(path_in(dir, "sign-latency.png"));
        assert_png(path_in(dir, "cycles.png"));
        assert_png(path_in(dir, "batch.png"));
    }
    free(log);
    if (!(keep && *keep))
        rm_rf(dir);
    free(dir);
}
END_TEST

/* No data rows: plots.sh says so and still succeeds. */
START_TEST(plots_empty_run)
{
    char *dir = make_tmpdir();
    tr_err e;
    tr_reports *r = tr_reports_open(dir, &e);
    assert_ok(r ? 0 : -1, &e);
    tr_reports_close(r);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash '%s/ci/plots.sh' '%s' >'%s/plots.log' 2>&1", srcdir(), dir, dir);
    int rc = system(cmd);
    char *log = slurp(path_in(dir, "plots.log"), NULL);
    ck_assert_msg(rc == 0, "ci/plots.sh failed:\n%s", log);
    if (have_program("gnuplot"))
        ck_assert_ptr_nonnull(strstr(log, "no data in"));
    free(log);
    rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *reports_junit_suite(void)
{
    Suite *s = suite_create("reports-junit");
    TCase *tc = tcase_create("junit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, xml_escape_cases);
    tcase_add_test(tc, junit_golden);
    tcase_add_test(tc, junit_any_bytes_schema_valid);
    tcase_add_test(tc, junit_serial_learned_later);
    tcase_add_test(tc, junit_empty_run);
    tcase_add_test(tc, junit_where_once);
    tcase_add_test(tc, rowpipe_same_files);
    tcase_add_test(tc, rowpipe_broken);
    tcase_add_test(tc, cycle_summary_stats);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("summary");
    tcase_add_test(ts, summary_golden);
    tcase_add_test(ts, summary_verdict_rules);
    tcase_add_test(ts, summary_incomplete);
    tcase_add_test(ts, summary_no_tokens);
    suite_add_tcase(s, ts);
    TCase *tp = tcase_create("plots");
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, plots_from_synthetic_run);
    tcase_add_test(tp, plots_empty_run);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reports_csv_suite());
    srunner_add_suite(sr, reports_junit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
