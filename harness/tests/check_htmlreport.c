/* check_htmlreport.c — report.html's parts: the HTML writer (escaping of
 * any bytes, numbers, cuts), the axes (an integer axis never has a
 * fractional tick; 1-2-5 steps), the SVG plots (a cycles plot: integer
 * ticks, a marker per stage and cycle, no connecting line; distributions:
 * a box per category, the strip bounded), the remediation table (a row of
 * its own for every class the suites and README's fault table name), the
 * report directory reader (a token's hostile strings escaped, PINs masked,
 * the trace excerpt's first and last rows, verdicts without summary.csv),
 * and the yield history over sibling directories (oldest first, newer runs
 * left out, the newest N).
 *
 * Paths: suites/ and README.md are read relative to the repository root
 * (make runs tests from there); TR_SRCDIR overrides.
 */
#include <check.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "html.h"
#include "htmlreport.h"
#include "remedy.h"
#include "reportdir.h"
#include "svgplot.h"
#include "testfs.h"
#include "yieldhist.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
    tr_html h;
} mem_html;

static void mem_open(mem_html *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    ck_assert_ptr_nonnull(m->f);
    tr_html_init(&m->h, m->f);
}

/* The text written (the caller frees it). */
static char *mem_close(mem_html *m)
{
    ck_assert_int_eq(m->h.err, 0);
    fclose(m->f);
    return m->buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char *srcdir(void)
{
    const char *d = getenv("TR_SRCDIR");
    return d && *d ? d : ".";
}

/* ---- the HTML writer ------------------------------------------------------------------------- */

START_TEST(text_escapes_markup_and_bad_bytes)
{
    mem_html m;
    mem_open(&m);
    tr_html_text(&m.h, "<script>alert(\"x\")</script> & \x01\x1b[2J \xff\xfe ok \xe4\xb8\xad");
    char *out = mem_close(&m);
    ck_assert_ptr_null(strchr(out, '<'));
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_nonnull(strstr(out, "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; "));
    ck_assert_ptr_nonnull(strstr(out, "\\x01\\x1B[2J \\xFF\\xFE ok \xe4\xb8\xad"));
    free(out);
}
END_TEST

START_TEST(attr_escapes_quotes)
{
    mem_html m;
    mem_open(&m);
    tr_html_attr(&m.h, "title", "a\"b'c<d>&\n");
    tr_html_attr(&m.h, "x", NULL);
    char *out = mem_close(&m);
    ck_assert_str_eq(out, " title=\"a&quot;b&apos;c&lt;d&gt;&amp;&#10;\"");
    free(out);
}
END_TEST

START_TEST(text_max_cuts_on_a_character)
{
    mem_html m;
    mem_open(&m);
    tr_html_text_max(&m.h, "ab\xe4\xb8\xad\xe4\xb8\xad", 4); /* 4 bytes end inside the first CJK character */
    char *out = mem_close(&m);
    ck_assert_str_eq(out, "ab\xE2\x80\xA6");
    free(out);
}
END_TEST

START_TEST(numbers_in_any_locale)
{
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (!loc)
        loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    mem_html m;
    mem_open(&m);
    tr_html_num(&m.h, 1.25, 2);
    tr_html_raw(&m.h, " ");
    tr_html_num(&m.h, -0.0001, 1);
    tr_html_raw(&m.h, " ");
    tr_html_num(&m.h, NAN, 1);
    tr_html_raw(&m.h, " ");
    tr_html_num(&m.h, 1500, 0);
    char *out = mem_close(&m);
    setlocale(LC_NUMERIC, "C");
    ck_assert_str_eq(out, "1.25 0.0 0.0 1500");
    free(out);
}
END_TEST

/* ---- axes ---------------------------------------------------------------------------------------- */

static bool integral(double v)
{
    return fabs(v - round(v)) < 1e-9;
}

START_TEST(cycle_axis_has_whole_ticks_only)
{
    for (int n = 1; n <= 600; n++) {
        tr_axis ax;
        tr_axis_int(0.5, n + 0.5, 12, &ax);
        ck_assert_int_eq(ax.decimals, 0);
        ck_assert_msg(ax.nticks >= 1 && ax.nticks <= 12, "n=%d: %zu ticks", n, ax.nticks);
        ck_assert_msg(integral(ax.step) && ax.step >= 1, "n=%d: step %g", n, ax.step);
        for (size_t i = 0; i < ax.nticks; i++) {
            double t = tr_axis_tick(&ax, i);
            ck_assert_msg(integral(t) && t >= 1 && t <= n, "n=%d: tick %g", n, t);
        }
    }
    tr_axis ax;
    tr_axis_int(0.5, 3.5, 12, &ax); /* today's cycles.png: 1, 1.5, 2, ...; here 1 2 3 */
    ck_assert_uint_eq(ax.nticks, 3);
    ck_assert(tr_axis_tick(&ax, 0) == 1 && tr_axis_tick(&ax, 2) == 3);
}
END_TEST

START_TEST(value_axis_is_nice)
{
    tr_axis ax;
    tr_axis_nice(0, 2203, 7, true, &ax);
    ck_assert(ax.lo == 0 && ax.hi >= 2203 && ax.step == 500 && ax.nticks <= 7);
    tr_axis_nice(0, 0.9, 7, true, &ax);
    ck_assert(fabs(ax.step - 0.2) < 1e-12);
    ck_assert_int_eq(ax.decimals, 1);
    ck_assert(tr_axis_tick(&ax, 3) == 0.6);
    tr_axis_nice(5, 5, 7, true, &ax); /* one value: still a range */
    ck_assert(ax.hi > ax.lo && ax.nticks >= 2);
    tr_axis_nice(NAN, INFINITY, 7, false, &ax);
    ck_assert(isfinite(ax.lo) && isfinite(ax.hi) && ax.hi > ax.lo);
}
END_TEST

/* ---- plots ------------------------------------------------------------------------------------------- */

START_TEST(cycles_plot_integer_ticks_markers_no_lines)
{
    double off[] = {310, 320, 330}, atr[] = {400, -1, 401}, first[] = {401, -1, 2200};
    tr_svg_stage st[] = {{"off", off}, {"to_atr", atr}, {"to_first_apdu", first}};
    bool failed[] = {false, true, false};
    const char *tips[] = {"pass", "enum.no-card: <none>", "pass"};
    tr_svg_frame fr = {.id = "c", .title = "cycles", .y_label = "ms", .limit = 1500, .limit_label = "FIRST_APDU_MAX_MS 1500 ms"};
    mem_html m;
    mem_open(&m);
    tr_svg_cycles(&m.h, &fr, st, 3, 3, failed, tips);
    char *out = mem_close(&m);
    ck_assert_uint_eq(count(out, "text-anchor=\"middle\" class=\"tick\">"), 3); /* 1 2 3 */
    ck_assert_ptr_nonnull(strstr(out, "class=\"tick\">1</text>"));
    ck_assert_ptr_nonnull(strstr(out, "class=\"tick\">3</text>"));
    ck_assert_ptr_null(strstr(out, "class=\"tick\">1.5</text>"));
    ck_assert_ptr_null(strstr(out, "<polyline"));
    /* 7 reached stage values + 3 legend markers */
    ck_assert_uint_eq(count(out, "class=\"mk\""), 10);
    ck_assert_uint_eq(count(out, "<g class=\"failed\">"), 1);
    ck_assert_uint_eq(count(out, "<g class=\"limit\">"), 1);
    ck_assert_ptr_nonnull(strstr(out, "enum.no-card: &lt;none&gt;"));
    ck_assert_ptr_null(strstr(out, "xmlns"));
    free(out);
}
END_TEST

START_TEST(distributions_box_and_bounded_strip)
{
    static double a[1000], b[3];
    for (int i = 0; i < 1000; i++)
        a[i] = (i * 37) % 101;
    b[0] = 1, b[1] = NAN, b[2] = -5; /* one usable sample */
    tr_svg_dist d[] = {{.label = "A1", .href = "#token-0", .v = a, .n = 1000, .limit = 90, .limit_label = "max_ms 90"},
                       {.label = "<A2>", .v = b, .n = 3, .limit = -1}};
    tr_svg_frame fr = {.id = "d", .title = "latency", .y_label = "ms", .limit = -1};
    mem_html m;
    mem_open(&m);
    tr_svg_distributions(&m.h, &fr, d, 2);
    char *out = mem_close(&m);
    ck_assert_uint_eq(count(out, "<g class=\"box\">"), 2);
    ck_assert_uint_eq(count(out, "class=\"dot\""), TR_SVG_STRIP_MAX + 1);
    ck_assert_ptr_nonnull(strstr(out, "A1: n=1000, min 0.000, p25 "));
    ck_assert_ptr_nonnull(strstr(out, "&lt;A2&gt;"));
    ck_assert_ptr_nonnull(strstr(out, "<a href=\"#token-0\">"));
    ck_assert_uint_eq(count(out, "<g class=\"limit\">"), 1);
    free(out);
}
END_TEST

/* ---- remediation --------------------------------------------------------------------------------------- */

static void assert_exact(const char *code, const char *where)
{
    tr_remedy_match m;
    tr_remedy_hint(code, &m);
    ck_assert_msg(m == TR_REMEDY_EXACT, "%s: class %s has no remediation row of its own (remedy.c)", where, code);
}

/* Every "classify CODE" of the suites. */
static void suite_classes(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat %s/%s/*.tsuite %s/%s/lib/*.tsuite", srcdir(), dir, srcdir(), dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "classify +([a-z0-9.-]+)", REG_EXTENDED), 0);
    char line[4096];
    size_t seen = 0;
    while (fgets(line, sizeof line, p)) {
        regmatch_t mt[2];
        for (const char *s = line; !regexec(&re, s, 2, mt, 0); s += mt[0].rm_eo) {
            char code[128];
            snprintf(code, sizeof code, "%.*s", (int)(mt[1].rm_eo - mt[1].rm_so), s + mt[1].rm_so);
            if (code[strlen(code) - 1] != '.') /* "not-run." + a reason: a family */
                assert_exact(code, "suites"), seen++;
        }
    }
    regfree(&re);
    pclose(p);
    ck_assert_msg(seen > 50, "only %zu classify lines read from %s/suites", seen, srcdir());
}

START_TEST(every_class_has_a_hint)
{
    suite_classes("suites");
    /* README's fault table: | fault | caught by | `class` | through SKF | */
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", srcdir());
    char *readme = testfs_slurp(path);
    size_t seen = 0;
    for (char *l = strstr(readme, "\n| `"); l; l = strstr(l + 1, "\n| `")) {
        char *end = strchr(l + 1, '\n'), *col = l + 1;
        for (int k = 0; k < 2 && col && col < end; k++)
            col = strchr(col + 1, '|');
        char code[128];
        if (col && col < end && sscanf(col, "| `%127[a-z0-9.-]`", code) == 1)
            assert_exact(code, "README fault table"), seen++;
    }
    free(readme);
    ck_assert_msg(seen >= 30, "only %zu rows of README's fault table read", seen);
    static const char *const harness[] = {"io.mute", "io.removed", "io.first-apdu-failed", "enum.no-card",
                                          "enum.no-device", "enum.no-reader", "enum.no-answer", "lib.crash",
                                          "rig.pcsc-lost", "rig.port-not-switched", "rig.hub-not-per-port",
                                          "not-run.destructive", "not-run.no-power", "not-run.interrupted",
                                          "time.slow-start", "time.slow-apdu", "proto.endless-61xx",
                                          "proto.6cxx-loop", "proto.short-read", "config", "suite", "rig",
                                          "pcsc", "timeout", "unclassified"};
    for (size_t i = 0; i < sizeof harness / sizeof harness[0]; i++)
        assert_exact(harness[i], "harness");
}
END_TEST

START_TEST(unknown_classes_get_family_or_generic_hints)
{
    tr_remedy_match m;
    const char *fam = tr_remedy_hint("pin.some-new-defect", &m);
    ck_assert_int_eq(m, TR_REMEDY_FAMILY);
    ck_assert_ptr_nonnull(strstr(fam, "PIN"));
    const char *gen = tr_remedy_hint("zzz.unheard-of", &m);
    ck_assert_int_eq(m, TR_REMEDY_GENERIC);
    ck_assert(strlen(gen) > 40);
    ck_assert_ptr_nonnull(tr_remedy_hint(NULL, &m));
    ck_assert_int_eq(m, TR_REMEDY_GENERIC);
    ck_assert_ptr_nonnull(strstr(tr_remedy_hint("pin.no-lockout", NULL), "quarantine"));
    ck_assert_ptr_nonnull(strstr(tr_remedy_hint("enum.no-card", NULL), "hub port"));
    ck_assert_ptr_nonnull(strstr(tr_remedy_hint("cert.renewal-due", NULL), "renew"));
    ck_assert_ptr_nonnull(strstr(tr_remedy_hint("io.mute", NULL), "another port"));
}
END_TEST

/* ---- a report directory read back, and its page ----------------------------------------------------------- */

#define RESULTS_HEAD "run_id,time,rig,slot,reader,serial,role,profile,suite,test,verdict,classification,duration_s,metric,value,unit,message,file,line\n"

/* A run with a hostile serial, a PIN in a message and in provenance.csv, a
 * failing test with 30 trace rows, 3 cycles, no summary.csv. */
static void hostile_run(const char *dir)
{
    testfs_write(dir, "results.csv",
               RESULTS_HEAD
               "r1,2026-01-01T00:00:00.000Z,rig,A1,rd,\"<img src=x onerror=alert(1)>\",main,ref1-sm2,s,t1,pass,,0.1,,,,,s.tsuite,1\n"
               "r1,2026-01-01T00:00:01.000Z,rig,A1,rd,\"<img src=x onerror=alert(1)>\",main,ref1-sm2,s,t2,fail,pin.no-lockout,0.2,,,,"
               "\"s.tsuite:9: </script><script>alert(2)</script> PIN 12345678 ok\",s.tsuite,9\n"
               "r1,2026-01-01T00:00:02.000Z,rig,A1,rd,\"<img src=x onerror=alert(1)>\",main,ref1-sm2,s,t3,skip,not-run.destructive,0,,,,why,s.tsuite,12\n"
               "r1,2026-01-01T00:00:02.000Z,rig,A2,rd,B2,main,ref1-sm2,s,t1,pass,,0.1,,,,,s.tsuite,1\n"
               "r1,2026-01-01T00:00:03.000Z,rig,A2,rd,B2,main,ref1-sm2,s,t9,fail,time.slow-start,0.1,first_apdu_ms,2200,ms,"
               "\"power-cycle 1: ... over FIRST_APDU_MAX_MS 1500 ms\",s.tsuite,20\n");
    FILE *f;
    char path[1024];
    snprintf(path, sizeof path, "%s/trace.csv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("time,slot,serial,suite,test,file,line,command,response,sw,latency_us\n", f);
    for (int i = 1; i <= 30; i++)
        fprintf(f, "2026-01-01T00:00:01.000Z,A1,\"<img src=x onerror=alert(1)>\",s,t2,s.tsuite,%d,00 20 00 81 08 "
                   "31 32 33 34 35 36 37 38,ROW%02d,63C9,%d\n", i == 30 ? 9 : 5, i, 100 + i);
    fclose(f);
    testfs_write(dir, "cycles.csv",
               "time,slot,serial,cycle,off_ms,to_device_ms,to_reader_ms,to_atr_ms,to_first_apdu_ms,atr,stage,power_level,verdict,message\n"
               "t,A2,B2,1,300,,0.0,400,2200,3B,apdu,card-gone,time.slow-start,over FIRST_APDU_MAX_MS 1500 ms\n"
               "t,A2,B2,2,300,,0.0,400,401,3B,apdu,card-gone,pass,\n"
               "t,A2,B2,1,300,,0.0,,,,reader,card-gone,enum.no-card,no card\n");
    testfs_write(dir, "provenance.csv", "slot,name,value,source\nA1,DEFAULT_PIN,12345678,profile\n"
                                      ",command_line,tokenrig run -D SO_PIN=87654321,argv\n");
}

START_TEST(reader_escapes_masks_and_excerpts)
{
    char *dir = testfs_tmpdir("check_htmlreport");
    hostile_run(dir);
    rd_run run;
    tr_err e;
    ck_assert_msg(rd_load(dir, &run, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(run.ntokens, 2);
    const rd_token *t = &run.tokens[0]; /* FAIL first; both FAIL: A1 before A2 */
    ck_assert_str_eq(t->slot, "A1");
    ck_assert_str_eq(t->verdict, "FAIL");
    ck_assert_str_eq(t->classifications, "pin.no-lockout;not-run.destructive");
    ck_assert_uint_eq(t->nfails, 1);
    const rd_fail *f = &t->fails[0];
    ck_assert_ptr_null(strstr(f->message, "12345678")); /* the PIN provenance.csv names */
    ck_assert_uint_eq(f->ntrace, 30);
    ck_assert_uint_eq(f->nhead, RD_TRACE_HEAD);
    ck_assert_uint_eq(f->ntail, RD_TRACE_TAIL);
    ck_assert_str_eq(f->head[0].response, "ROW01");
    ck_assert_str_eq(f->tail[f->tail_at].response, "ROW11"); /* the oldest of the last 20 */
    ck_assert_str_eq(f->tail[(f->tail_at + RD_TRACE_TAIL - 1) % RD_TRACE_TAIL].response, "ROW30");
    ck_assert_ptr_null(strstr(f->head[0].command, "31 32 33"));
    const rd_token *a2 = &run.tokens[1];
    ck_assert(a2->first_apdu_limit == 1500);
    ck_assert_uint_eq(a2->ncycles, 3);
    ck_assert(a2->cycles[2].failed && a2->cycles[2].stage[3] < 0); /* to_atr not reached */
    ck_assert_uint_eq(run.nstages, 5);
    ck_assert_str_eq(run.stages[0], "off");
    ck_assert_str_eq(run.stages[4], "to_first_apdu");
    rd_free(&run);
    testfs_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(page_escapes_everything_from_files)
{
    char *dir = testfs_tmpdir("check_htmlreport");
    hostile_run(dir);
    tr_err e;
    ck_assert_msg(tr_html_report_write(dir, NULL, NULL, &e) == 0, "%s", e.msg);
    char path[1024];
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *page = testfs_slurp(path);
    ck_assert_uint_eq(count(page, "<script"), 1);
    ck_assert_uint_eq(count(page, "</script>"), 1);
    ck_assert_ptr_null(strstr(page, "<img"));
    ck_assert_ptr_nonnull(strstr(page, "&lt;img src=x onerror=alert(1)&gt;"));
    ck_assert_ptr_null(strstr(page, "12345678"));
    ck_assert_ptr_null(strstr(page, "87654321"));
    ck_assert_ptr_null(strstr(page, "31 32 33 34"));
    ck_assert_ptr_null(strstr(page, "http"));
    ck_assert_ptr_nonnull(strstr(page, "id=\"no-summary\""));
    ck_assert_ptr_nonnull(strstr(page, "&hellip; 6 row(s) not shown &hellip;"));
    ck_assert_ptr_nonnull(strstr(page, "id=\"provenance-table\""));
    ck_assert_ptr_nonnull(strstr(page, "href=\"#token-0\""));
    ck_assert_ptr_nonnull(strstr(page, "id=\"token-0\""));
    ck_assert_ptr_nonnull(strstr(page, "id=\"plot-cycles-1\""));
    ck_assert_ptr_nonnull(strstr(page, "FIRST_APDU_MAX_MS 1500 ms, from results.csv"));
    /* the hint beside the failure */
    ck_assert_ptr_nonnull(strstr(page, "Next step (pin.no-lockout)"));
    free(page);
    testfs_rm_rf(dir);
    free(dir);
}
END_TEST

/* The columns runs write since issue 14 (results.csv limit and limit_kind,
 * cycles.csv first_apdu_limit_ms, provenance.csv var.NAME): limits beside
 * values, and which source wins. */
START_TEST(limits_from_newer_columns)
{
    char *dir = testfs_tmpdir("check_htmlreport");
    testfs_write(dir, "results.csv",
                 "run_id,time,slot,serial,profile,suite,test,verdict,classification,metric,value,unit,message,limit,limit_kind\n"
                 "r,t,A1,S1,p,sign-throughput,t,pass,,sign.rate,40,1/s,rate 40 < min_rate 50,50,min\n"
                 "r,t,A1,S1,p,sign-throughput,t,pass,,sign.max,3,ms,,4,max\n"
                 "r,t,A1,S1,p,sign-throughput,t,fail,sign.too-slow,,,,slow,,\n"
                 "r,t,A2,S2,p,recognition,t,pass,,first_apdu_ms,1400,ms,,1450,max\n"
                 "r,t,A3,S3,p,recognition,t,pass,,first_apdu_ms,1400,ms,,1450,max\n");
    testfs_write(dir, "cycles.csv",
                 "time,slot,serial,cycle,off_ms,to_atr_ms,to_first_apdu_ms,verdict,message,run_id,suite,test,first_apdu_limit_ms\n"
                 "t,A2,S2,1,100,400,1400,pass,,r,recognition,t,1500\n"
                 "t,A3,S3,1,100,400,1400,pass,,r,recognition,t,1500\n");
    testfs_write(dir, "provenance.csv",
                 "slot,name,value,source\nA3,var.FIRST_APDU_MAX_MS,1600,profile x.ini\nA3,firmware,0100,read_info\n");
    testfs_write(dir, "samples.csv", "time,slot,serial,suite,test,metric,index,value,unit\nt,A1,S1,s,t,sign,0,3,ms\n");
    rd_run run;
    tr_err e;
    ck_assert_msg(rd_load(dir, &run, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(run.ntokens, 3);
    const rd_token *a1 = &run.tokens[0], *a2 = &run.tokens[1], *a3 = &run.tokens[2];
    ck_assert_str_eq(a1->slot, "A1");
    ck_assert_uint_eq(a1->nmetrics, 2);
    ck_assert(a1->metrics[0].limit == 50 && !strcmp(a1->metrics[0].limit_kind, "min"));
    ck_assert(a1->metrics[1].limit == 4 && !strcmp(a1->metrics[1].limit_kind, "max"));
    ck_assert(a2->first_apdu_limit == 1500); /* cycles.csv's column over results.csv's 1450 */
    ck_assert_ptr_nonnull(strstr(a2->first_apdu_limit_from, "first_apdu_limit_ms"));
    ck_assert(a3->first_apdu_limit == 1600); /* provenance.csv over both */
    ck_assert_ptr_nonnull(strstr(a3->first_apdu_limit_from, "provenance.csv (source: profile x.ini)"));
    ck_assert_str_eq(run.run_id, "r");
    rd_free(&run);
    ck_assert_msg(tr_html_report_write(dir, NULL, NULL, &e) == 0, "%s", e.msg);
    char path[1024];
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *page = testfs_slurp(path);
    ck_assert_ptr_nonnull(strstr(page, "40.000 1/s (&ge; 50)"));
    ck_assert_ptr_nonnull(strstr(page, "3.000 ms (&le; 4)"));
    ck_assert_ptr_nonnull(strstr(page, "&middot; firmware 0100"));
    free(page);
    testfs_rm_rf(dir);
    free(dir);
}
END_TEST

/* A `tokenrig cycle` directory: results.csv has its header only. */
START_TEST(cycle_directory_verdicts)
{
    char *dir = testfs_tmpdir("check_htmlreport");
    testfs_write(dir, "results.csv", RESULTS_HEAD);
    testfs_write(dir, "cycles.csv",
                 "time,slot,serial,cycle,off_ms,to_reader_ms,to_atr_ms,to_first_apdu_ms,verdict,message\n"
                 "2026-01-01T00:00:02.000Z,A1,S1,1,100,0,400,401,pass,\n"
                 "2026-01-01T00:00:01.000Z,A1,S1,2,100,0,,,enum.no-card,gone\n"
                 "2026-01-01T00:00:03.000Z,A2,S2,1,100,0,400,401,pass,\n");
    rd_run run;
    tr_err e;
    ck_assert_msg(rd_load(dir, &run, &e) == 0, "%s", e.msg);
    ck_assert(run.cycles_only);
    ck_assert_uint_eq(run.ntokens, 2);
    ck_assert_str_eq(run.tokens[0].slot, "A1");
    ck_assert_str_eq(run.tokens[0].verdict, "FAIL");
    ck_assert_str_eq(run.tokens[0].classifications, "enum.no-card");
    ck_assert_uint_eq(run.tokens[0].tests, 2);
    ck_assert_uint_eq(run.tokens[0].failed, 1);
    ck_assert_str_eq(run.tokens[1].verdict, "PASS");
    ck_assert_uint_eq(run.nstages, 4);
    ck_assert_str_eq(run.first_time, "2026-01-01T00:00:01.000Z");
    ck_assert_str_eq(run.last_time, "2026-01-01T00:00:03.000Z");
    rd_free(&run);
    testfs_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(not_a_report_directory)
{
    char *dir = testfs_tmpdir("check_htmlreport");
    tr_err e;
    ck_assert_int_eq(tr_html_report_write(dir, NULL, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a report directory"));
    char path[1024];
    snprintf(path, sizeof path, "%s/report.html", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    testfs_rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- yield history -------------------------------------------------------------------------------------------- */

static void run_dir(const char *parent, const char *name, const char *time, const char *profile, int passed, int n)
{
    char dir[1024], buf[4096];
    snprintf(dir, sizeof dir, "%s/%s", parent, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    size_t o = (size_t)snprintf(buf, sizeof buf, "run_id,rig,slot,serial,role,verdict,classifications,tests\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s,r,A%d,S%d,main,%s,,1\n", name, i, i, i < passed ? "PASS" : "FAIL");
    testfs_write(dir, "summary.csv", buf);
    o = (size_t)snprintf(buf, sizeof buf, RESULTS_HEAD);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s,%s,r,A%d,rd,S%d,main,%s,s,t,pass,,0,,,,,f,1\n", name, time, i, i,
                              profile);
    testfs_write(dir, "results.csv", buf);
}

START_TEST(history_from_sibling_directories)
{
    char *parent = testfs_tmpdir("check_htmlreport");
    for (int k = 0; k < 25; k++) { /* 25 earlier runs of sm2 */
        char name[32], time[40];
        snprintf(name, sizeof name, "old%02d", k);
        snprintf(time, sizeof time, "2025-01-%02dT00:00:00.000Z", k + 1);
        run_dir(parent, name, time, "ref1-sm2", k % 3, 2);
    }
    run_dir(parent, "other", "2025-06-01T00:00:00.000Z", "ref1-rsa", 1, 1);
    run_dir(parent, "now", "2026-01-01T00:00:00.000Z", "ref1-sm2", 2, 2);
    run_dir(parent, "later", "2027-01-01T00:00:00.000Z", "ref1-sm2", 0, 2);
    char now[1024];
    snprintf(now, sizeof now, "%s/now", parent);
    char link[1024];
    snprintf(link, sizeof link, "%s/latest", parent); /* reports/latest: not a run of its own */
    ck_assert_int_eq(symlink("now", link), 0);
    tr_yield_source src;
    tr_err e;
    ck_assert_int_eq(tr_yield_source_dirs(now, &src, &e), 0);
    tr_yield_point pts[20];
    size_t n;
    ck_assert_msg(src.gather(&src, "ref1-sm2", pts, 20, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 20);
    ck_assert_str_eq(pts[0].run_id, "old06"); /* the newest 20: old06..old24, now */
    ck_assert_str_eq(pts[19].run_id, "now");
    ck_assert(pts[19].current && !pts[18].current);
    ck_assert_uint_eq(pts[19].passed, 2);
    ck_assert_uint_eq(pts[18].tokens, 2);
    ck_assert_uint_eq(pts[18].passed, 24 % 3);
    ck_assert_msg(src.gather(&src, "ref1-rsa", pts, 20, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(pts[0].run_id, "other");
    ck_assert_msg(src.gather(&src, "nothing", pts, 20, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 0);
    src.close(&src);
    testfs_rm_rf(parent);
    free(parent);
}
END_TEST

static Suite *htmlreport_suite(void)
{
    Suite *s = suite_create("htmlreport");
    TCase *w = tcase_create("writer");
    tcase_add_test(w, text_escapes_markup_and_bad_bytes);
    tcase_add_test(w, attr_escapes_quotes);
    tcase_add_test(w, text_max_cuts_on_a_character);
    tcase_add_test(w, numbers_in_any_locale);
    suite_add_tcase(s, w);
    TCase *p = tcase_create("plots");
    tcase_add_test(p, cycle_axis_has_whole_ticks_only);
    tcase_add_test(p, value_axis_is_nice);
    tcase_add_test(p, cycles_plot_integer_ticks_markers_no_lines);
    tcase_add_test(p, distributions_box_and_bounded_strip);
    suite_add_tcase(s, p);
    TCase *r = tcase_create("remedy");
    tcase_add_test(r, every_class_has_a_hint);
    tcase_add_test(r, unknown_classes_get_family_or_generic_hints);
    suite_add_tcase(s, r);
    TCase *d = tcase_create("directory");
    tcase_add_test(d, reader_escapes_masks_and_excerpts);
    tcase_add_test(d, page_escapes_everything_from_files);
    tcase_add_test(d, limits_from_newer_columns);
    tcase_add_test(d, cycle_directory_verdicts);
    tcase_add_test(d, not_a_report_directory);
    tcase_add_test(d, history_from_sibling_directories);
    suite_add_tcase(s, d);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(htmlreport_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
