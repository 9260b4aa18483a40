/* check_interp.c — the interpreter against in-process cards: a scripted
 * responder (exact answers, injected faults) and the real REF-1 token model
 * (fixtures/vtoken/ref1.h) with keys, certificates and seals made here. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"
#include "crypto.h"
#include "fakecard.h"
#include "interp.h"
#include "../../fixtures/pki/pki.h"
#include "../../fixtures/pki/png.h"
#include "ref1.h"
#include "reports.h"
#include "seal.h"
#include "suitevars.h"
#include "util.h"

#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z: cert/seal checks are reproducible */
#define DAY 86400

/* ---- what the interpreter emitted ---------------------------------------------- */

typedef struct {
    char test[64], cls[64], metric[64], unit[16];
    char msg[1200];
    tr_verdict v;
    double value, duration;
    int line;
} res_row;

typedef struct {
    char cmd[400], rsp[600], sw[8];
    int line;
    char test[64];
} trace_row;

typedef struct {
    res_row res[128];
    int nres;
    trace_row tr[256];
    int ntr;
    unsigned long ntr_total;
    int nsamples;
    double sample_sum;
    tr_cycle_row cyc[16];
    char cyc_verdict[16][64];
    int ncyc;
    char logs[64][600];
    int nlogs;
    int nprogress, nstart;
    unsigned long live_last, nlive;
    char all[1 << 16]; /* every text the hooks saw, for leak checks */
    /* journal hook: what was recorded, and whether to refuse */
    int njournal, nsent_after_journal, journal_ref, journaled_answer;
    char journal_lands[32], journal_not[32];
    bool journal_refuses;
    /* journal_mark hook: the marks, "try PIN" / "refused PIN", in order */
    char marks[4][40];
    int nmarks;
    size_t alln;
} rec;

static void keep(rec *r, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (r->alln + n + 2 < sizeof r->all) {
        memcpy(r->all + r->alln, s, n);
        r->alln += n;
        r->all[r->alln++] = '\n';
        r->all[r->alln] = '\0';
    }
}

static void on_result(void *ud, const tr_result_row *row)
{
    rec *r = ud;
    keep(r, row->message);
    if (r->nres == 128)
        return;
    res_row *x = &r->res[r->nres++];
    snprintf(x->test, sizeof x->test, "%s", row->test);
    snprintf(x->cls, sizeof x->cls, "%s", row->classification ? row->classification : "");
    snprintf(x->metric, sizeof x->metric, "%s", row->metric ? row->metric : "");
    snprintf(x->unit, sizeof x->unit, "%s", row->unit ? row->unit : "");
    snprintf(x->msg, sizeof x->msg, "%s", row->message ? row->message : "");
    x->v = row->verdict;
    x->value = row->value;
    x->duration = row->duration_s;
    x->line = row->line;
}

static void on_trace(void *ud, const tr_trace_row *row)
{
    rec *r = ud;
    r->ntr_total++;
    keep(r, row->command);
    keep(r, row->response);
    if (r->ntr == 256)
        return;
    trace_row *t = &r->tr[r->ntr++];
    snprintf(t->cmd, sizeof t->cmd, "%s", row->command);
    snprintf(t->rsp, sizeof t->rsp, "%s", row->response);
    snprintf(t->sw, sizeof t->sw, "%s", row->sw);
    snprintf(t->test, sizeof t->test, "%s", row->test);
    t->line = row->line;
}

static void on_sample(void *ud, const tr_sample_row *row)
{
    rec *r = ud;
    r->nsamples++;
    r->sample_sum += row->value;
}

static void on_cycle(void *ud, const tr_cycle_row *row)
{
    rec *r = ud;
    if (r->ncyc == 16)
        return;
    r->cyc[r->ncyc] = *row;
    snprintf(r->cyc_verdict[r->ncyc], 64, "%s", row->verdict);
    keep(r, row->message);
    r->ncyc++;
}

static void on_log(void *ud, const char *test, const char *text)
{
    rec *r = ud;
    (void)test;
    keep(r, text);
    if (r->nlogs < 64)
        snprintf(r->logs[r->nlogs++], 600, "%s", text);
}

static void on_progress(void *ud, const char *test, tr_verdict v, const char *cls, const char *msg)
{
    rec *r = ud;
    (void)test, (void)v, (void)cls;
    keep(r, msg);
    r->nprogress++;
}

static void on_live(void *ud, const char *test, const char *what, unsigned long done, unsigned long total)
{
    rec *r = ud;
    (void)test, (void)what, (void)total;
    r->nlive++;
    r->live_last = done;
}

static void on_start(void *ud, const char *test)
{
    rec *r = ud;
    (void)test;
    r->nstart++;
}

static int on_journal(void *ud, int ref, const char *if_lands, const char *if_not, tr_err *e)
{
    rec *r = ud;
    if (r->journal_refuses)
        return tr_fail(e, TR_E_IO, "journal: No space left on device (the destructive step is not sent)");
    r->njournal++;
    r->journal_ref = ref;
    snprintf(r->journal_lands, sizeof r->journal_lands, "%s", if_lands);
    snprintf(r->journal_not, sizeof r->journal_not, "%s", if_not);
    return 0;
}

static int on_journal_mark(void *ud, int ref, int refused, const char *pin, tr_err *e)
{
    rec *r = ud;
    if (r->journal_refuses)
        return tr_fail(e, TR_E_IO, "journal: No space left on device (the destructive step is not sent)");
    if (r->nmarks < 4)
        snprintf(r->marks[r->nmarks++], sizeof r->marks[0], "%s%s %s", ref ? "so " : "", refused ? "refused" : "try",
                 pin);
    return 0;
}

static void on_journaled(void *ud, int answer)
{
    rec *r = ud;
    r->journaled_answer = answer;
    r->nsent_after_journal++;
}

static tr_interp_hooks hooks_for(rec *r)
{
    tr_interp_hooks h = {.ud = r, .test_start = on_start, .progress = on_progress, .live = on_live,
                         .log = on_log, .result = on_result, .trace = on_trace, .sample = on_sample,
                         .cycle = on_cycle};
    return h;
}

/* Test verdict row (metric rows skipped). */
static const res_row *verdict_of(const rec *r, const char *test)
{
    for (int k = 0; k < r->nres; k++)
        if (!strcmp(r->res[k].test, test) && !r->res[k].metric[0])
            return &r->res[k];
    ck_abort_msg("no result row for test %s", test);
    return NULL;
}

static const res_row *metric_of(const rec *r, const char *metric)
{
    for (int k = 0; k < r->nres; k++)
        if (!strcmp(r->res[k].metric, metric))
            return &r->res[k];
    ck_abort_msg("no metric row %s", metric);
    return NULL;
}

/* ---- running ------------------------------------------------------------------------- */

typedef struct {
    bool allow_destructive;
    double timeout_s;
    atomic_int *cancel;
    unsigned long max_steps;
    tr_reports *reports;
    bool journal, journal_refuses; /* give the run a journal hook (that refuses) */
    const char *ops_src;           /* an interface library (lib.tsuite); NULL: none */
} run_opts;

static tr_err last_err; /* of the last run_with */

static tr_suite *parse(const char *src, const char *file)
{
    tr_suite *s;
    tr_err e;
    char buf[1200];
    ck_assert_msg(tr_suite_parse(src, strlen(src), file, &s, &e) == 0, "parse: %s",
                  tr_err_format(&e, buf, sizeof buf));
    return s;
}


static int run_with(const char *src, const tr_cardio *io, const tr_vars *vars, const run_opts *o, rec *r,
                    tr_suite_outcome *out)
{
    memset(r, 0, sizeof *r);
    tr_suite *s = parse(src, "t.tsuite");
    tr_interp_hooks h = hooks_for(r);
    if (o && o->journal) {
        h.journal = on_journal;
        h.journal_mark = on_journal_mark;
        h.journaled_sent = on_journaled;
        r->journal_refuses = o->journal_refuses;
    }
    tr_slot_id who = {.run_id = "run", .slot = "s1", .serial = "TR00000000000001"};
    tr_interp_env env = {.card = io, .vars = vars, .who = &who, .now = NOW, .hooks = &h};
    tr_suite *lib = o && o->ops_src ? parse(o->ops_src, "lib.tsuite") : NULL;
    env.ops = lib;
    if (o) {
        env.allow_destructive = o->allow_destructive;
        env.test_timeout_s = o->timeout_s;
        env.cancel = o->cancel;
        env.max_steps = o->max_steps;
        env.reports = o->reports;
    }
    int rc = tr_interp_run(s, &env, out, &last_err);
    tr_suite_free(lib);
    tr_suite_free(s);
    return rc;
}

/* Scripted card + vars from "NAME=VALUE" pairs. */
static int run_fake(const char *src, fakecard *f, const char *const *kv, const run_opts *o, rec *r,
                    tr_suite_outcome *out)
{
    tr_cardio io;
    fakecard_cardio(f, &io);
    tr_vars *v = tr_vars_new(NULL);
    for (; kv && *kv; kv += 2)
        tr_vars_set(v, kv[0], kv[1]);
    int rc = run_with(src, &io, v, o, r, out);
    tr_vars_free(v);
    return rc;
}

/* ---- issue 11: protocol violations, one root cause, time limits ------------------ */

START_TEST(protocol_violations_fail_not_error)
{
    static const struct {
        int code;
        const char *cls;
    } cases[] = {{TR_E_PROTO_61XX, "proto.endless-61xx"}, {TR_E_PROTO_6CXX, "proto.6cxx-loop"}};
    const char *src = "test \"info\" {\n  classify identity.no-serial\n  00 CA 01 00 00\n  capture INFO\n}\n"
                      "test \"uses info\" {\n  let X = tlv(INFO, 1)\n}\n"
                      "test \"requires info\" {\n  requires defined(INFO)\n  00 A4 00 00\n}\n"
                      "test \"still there\" {\n  00 A4 04 00 00 expect 9000\n}\n";
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fakecard f;
        fakecard_init(&f);
        fakecard_rule_fail(&f, "00CA0100", cases[k].code, -1);
        rec r;
        tr_suite_outcome o;
        ck_assert_int_eq(run_fake(src, &f, NULL, NULL, &r, &o), 0);
        const res_row *i = verdict_of(&r, "info");
        ck_assert_int_eq(i->v, TR_FAIL); /* the token's defect, not the rig's */
        ck_assert_str_eq(i->cls, cases[k].cls);
        ck_assert_int_eq(i->line, 3);
        ck_assert_msg(strstr(i->msg, "t.tsuite:3: 00 CA 01 00 00: fakecard: injected") != NULL, "%s", i->msg);
        ck_assert(!o.token_lost);
        /* the tests that need INFO say why they did not run: one defect, one failure */
        char why[200];
        snprintf(why, sizeof why, "not run: INFO is not set: test \"info\" failed (%s)", cases[k].cls);
        ck_assert_int_eq(verdict_of(&r, "uses info")->v, TR_SKIP);
        ck_assert_str_eq(verdict_of(&r, "uses info")->msg, why);
        ck_assert_int_eq(verdict_of(&r, "requires info")->v, TR_SKIP);
        ck_assert_str_eq(verdict_of(&r, "requires info")->msg, why);
        ck_assert_int_eq(verdict_of(&r, "still there")->v, TR_PASS);
        ck_assert_uint_eq(o.counts[TR_FAIL], 1);
        ck_assert_uint_eq(o.counts[TR_ERROR], 0);
        ck_assert_uint_eq(o.nclasses, 1);
    }
}
END_TEST

START_TEST(unset_values_name_their_cause)
{
    fakecard f;
    fakecard_init(&f);
    const char *src = "test \"a\" {\n  skip \"no reader today\"\n  let X = 1\n}\n"
                      "test \"b\" {\n  let Y = X\n}\n"
                      "test \"c\" {\n  let Z = Y\n}\n"
                      "test \"d\" {\n  if 0 {\n    let W = 1\n  }\n}\n"
                      "test \"e\" {\n  let V = W\n}\n"
                      "test \"f\" {\n  let U = NOPE\n}\n"
                      "test \"g\" {\n  let Q = 1 / 0\n}\n"
                      "test \"h\" {\n  let R = Q\n}\n"
                      "test \"i\" {\n  fail \"broken\" classify cert.unparseable\n  cert-info \"00\"\n}\n"
                      "test \"j\" {\n  requires defined(CERT_PARSED)\n}\n"
                      "test \"k\" {\n  assert CERT_CLASS == \"valid\"\n}\n"
                      "test \"l\" {\n  requires defined(NEVER)\n}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "a")->v, TR_SKIP);
    ck_assert_int_eq(verdict_of(&r, "b")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "b")->msg, "not run: X is not set: test \"a\" was skipped (no reader today)");
    /* a chain names the root once */
    ck_assert_str_eq(verdict_of(&r, "c")->msg, "not run: Y is not set: test \"b\" was skipped (X is not set: "
                                               "test \"a\" was skipped (no reader today))");
    /* the test that sets it passed without setting it: the suite's mistake */
    ck_assert_int_eq(verdict_of(&r, "d")->v, TR_PASS);
    ck_assert_int_eq(verdict_of(&r, "e")->v, TR_ERROR);
    ck_assert_str_eq(verdict_of(&r, "e")->cls, "suite");
    ck_assert(strstr(verdict_of(&r, "e")->msg, "variable W is not set") != NULL);
    /* nothing sets it: a profile or suite mistake */
    ck_assert_int_eq(verdict_of(&r, "f")->v, TR_ERROR);
    ck_assert(strstr(verdict_of(&r, "f")->msg, "variable NOPE is not set") != NULL);
    /* an error upstream */
    ck_assert_int_eq(verdict_of(&r, "g")->v, TR_ERROR);
    ck_assert_int_eq(verdict_of(&r, "h")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "h")->msg, "not run: Q is not set: test \"g\" ended in error (suite)");
    /* values cert-info sets */
    ck_assert_int_eq(verdict_of(&r, "i")->v, TR_FAIL);
    ck_assert_str_eq(verdict_of(&r, "j")->msg, "not run: CERT_PARSED is not set: test \"i\" failed (cert.unparseable)");
    ck_assert_str_eq(verdict_of(&r, "k")->msg, "not run: CERT_CLASS is not set: test \"i\" failed (cert.unparseable)");
    ck_assert_str_eq(verdict_of(&r, "l")->msg, "requires defined(NEVER)");
    ck_assert_uint_eq(o.counts[TR_FAIL], 1);
    ck_assert_uint_eq(o.counts[TR_ERROR], 3);
}
END_TEST

START_TEST(read_binary_short_9000)
{
    static const char *src = "test \"read\" {\n  classify cert.missing\n  read-binary F\n  assert len(F) == 128\n}\n";
    char data[600];
    for (int k = 0; k < 128; k++)
        snprintf(data + 2 * k, 3, "%02X", k);
    char rsp[700];
    snprintf(rsp, sizeof rsp, "%s 9000", data);
    rec r;
    tr_suite_outcome o;
    /* a short 9000 at the end of the file: one more READ BINARY confirms it */
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00B0000000", rsp, -1);
    fakecard_rule(&f, "00B0008000", "6B00", -1);
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_msg(verdict_of(&r, "read")->v == TR_PASS, "%s", verdict_of(&r, "read")->msg);
    ck_assert_uint_eq(f.ncmds, 2);
    ck_assert_str_eq(fakecard_cmd(&f, 1), "00B0008000");
    /* a file whose length is a multiple of 256 (a seal can be): full
     * chunks with 9000, then 6B00 at its end — whole, and passed */
    {
        static const char *src256 = "test \"read\" {\n  read-binary F chunk 00\n  assert len(F) == 512\n}\n";
        char big[2 * 256 + 8];
        for (int k = 0; k < 256; k++)
            snprintf(big + 2 * k, 3, "%02X", k);
        char rsp256[2 * 256 + 8];
        snprintf(rsp256, sizeof rsp256, "%s 9000", big);
        fakecard_init(&f);
        fakecard_rule(&f, "00B0000000", rsp256, -1);
        fakecard_rule(&f, "00B0010000", rsp256, -1);
        fakecard_rule(&f, "00B0020000", "6B00", -1);
        run_fake(src256, &f, NULL, NULL, &r, &o);
        ck_assert_msg(verdict_of(&r, "read")->v == TR_PASS, "%s", verdict_of(&r, "read")->msg);
        ck_assert_uint_eq(f.ncmds, 3);
    }
    /* ... answered with no bytes and 9000 or 6282: the end too */
    static const char *ends[] = {"9000", "6282"};
    for (int k = 0; k < 2; k++) {
        fakecard_init(&f);
        fakecard_rule(&f, "00B0000000", rsp, -1);
        fakecard_rule(&f, "00B0008000", ends[k], -1);
        run_fake(src, &f, NULL, NULL, &r, &o);
        ck_assert_int_eq(verdict_of(&r, "read")->v, TR_PASS);
    }
    /* the file goes on: the short 9000 was a lie */
    fakecard_init(&f);
    fakecard_rule(&f, "00B0000000", rsp, -1);
    fakecard_rule(&f, "00B0008000", "00112233 6282", -1);
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *v = verdict_of(&r, "read");
    ck_assert_int_eq(v->v, TR_FAIL);
    ck_assert_str_eq(v->cls, "proto.short-read");
    ck_assert_msg(strstr(v->msg, "t.tsuite:3: read-binary: READ BINARY at offset 0 asked for 256 bytes and got "
                                 "128 with 9000, yet the file goes on (offset 128 answered 4 more bytes, 6282)") != NULL,
                  "%s", v->msg);
    /* nothing at all with 9000: an empty file, no second READ BINARY */
    fakecard_init(&f);
    fakecard_rule(&f, "00B0000000", "9000", -1);
    run_fake("test \"read\" {\n  read-binary F\n  assert F == \"\"\n}\n", &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "read")->v, TR_PASS);
    ck_assert_uint_eq(f.ncmds, 1);
}
END_TEST

START_TEST(tlv_trailing_bytes)
{
    fakecard f;
    fakecard_init(&f);
    const char *src = "test \"t\" {\n"
                      "  assert tlv_trailing(\"0101AA\") == \"\"\n"
                      "  assert tlv_trailing(\"01 01 AA 01 10\") == \"0110\"\n"
                      "  assert tlv_trailing(\"0101AA0000FF\") == \"\"\n"
                      "  assert tlv_trailing(\"\") == \"\"\n"
                      "  assert tlv_trailing(\"E103010100A5\") == \"A5\"\n"
                      "  assert tlv_trailing(\"0101AA1F\") == \"1F\"\n"
                      "  assert tlv_trailing(\"0181020102\") == \"\"\n"
                      "  assert tlv_trailing(\"0101AA9000\") == \"\"\n"
                      "  assert tlv_trailing(\"9F7F01AA011054\") == \"011054\"\n"
                      "}\n"
                      "test \"not hex\" {\n  let X = tlv_trailing(\"zz\")\n}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_msg(verdict_of(&r, "t")->v == TR_PASS, "%s", verdict_of(&r, "t")->msg);
    ck_assert_int_eq(verdict_of(&r, "not hex")->v, TR_ERROR);
    ck_assert(strstr(verdict_of(&r, "not hex")->msg, "expected hex data for tlv_trailing()") != NULL);
}
END_TEST

START_TEST(time_limits_per_apdu)
{
    static const char *const kv[] = {"APDU_MAX_MS", "10", "SIGN_INS", "2A", "SIGN_APDU_MAX_MS", "1000", NULL};
    const char *src = "test \"slow\" {\n  00 A4 00 00\n  00 A4 00 00 expect 9000\n  log \"went on\"\n}\n"
                      "test \"failed first\" {\n  00 A4 00 00 expect 6A82 classify x.y\n}\n"
                      "test \"skipped\" {\n  00 A4 00 00\n  skip \"n/a\"\n}\n"
                      "test \"signing\" {\n  00 2A 9E 9A 01 00 00\n}\n"
                      "test \"no apdu\" {\n  let A = 1\n}\n";
    fakecard f;
    fakecard_init(&f);
    f.latency_ms = 25;
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake(src, &f, kv, NULL, &r, &o), 0);
    const res_row *v = verdict_of(&r, "slow");
    ck_assert_int_eq(v->v, TR_FAIL);
    ck_assert_str_eq(v->cls, "time.slow-apdu");
    ck_assert_int_eq(v->line, 2); /* the first slow answer */
    ck_assert_msg(strstr(v->msg, "t.tsuite:2: 00 A4 00 00 was answered after ") != NULL, "%s", v->msg);
    ck_assert(strstr(v->msg, " ms, over APDU_MAX_MS 10 ms") != NULL);
    ck_assert_str_eq(r.logs[0], "went on"); /* the test went on after the slow answer */
    /* the measured time and the limit in a failing metric row, one per slow answer */
    int nslow = 0;
    for (int k = 0; k < r.nres; k++) {
        if (strcmp(r.res[k].metric, "apdu_ms"))
            continue;
        nslow++;
        ck_assert_int_eq(r.res[k].v, TR_FAIL);
        ck_assert_str_eq(r.res[k].cls, "time.slow-apdu");
        ck_assert_double_ge(r.res[k].value, 25);
        ck_assert_str_eq(r.res[k].unit, "ms");
        ck_assert(strstr(r.res[k].msg, "over APDU_MAX_MS 10 ms") != NULL);
    }
    ck_assert_int_eq(nslow, 4); /* slow x2, failed first, skipped; not signing */
    /* the first failure of a test stays its verdict */
    ck_assert_str_eq(verdict_of(&r, "failed first")->cls, "x.y");
    /* a slow answer is a failure, even in a test that then skipped */
    ck_assert_int_eq(verdict_of(&r, "skipped")->v, TR_FAIL);
    ck_assert_str_eq(verdict_of(&r, "skipped")->cls, "time.slow-apdu");
    /* signing has its own limit */
    ck_assert_int_eq(verdict_of(&r, "signing")->v, TR_PASS);
    ck_assert_int_eq(verdict_of(&r, "no apdu")->v, TR_PASS);

    /* no limits in the profile: no verdict on time */
    fakecard_init(&f);
    f.latency_ms = 25;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "slow")->v, TR_PASS);
    /* a limit that is not a time, or a signing limit without its commands: no run */
    static const char *const bad[][5] = {{"APDU_MAX_MS", "fast", NULL},
                                         {"FIRST_APDU_MAX_MS", "0", NULL},
                                         {"SIGN_APDU_MAX_MS", "100", NULL},
                                         {"SIGN_INS", "2Z", NULL}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fakecard_init(&f);
        ck_assert_int_eq(run_fake(src, &f, bad[k], NULL, &r, &o), -1);
        ck_assert_int_eq(last_err.code, TR_E_CONFIG);
        ck_assert_msg(strstr(last_err.msg, bad[k][0]) != NULL, "%s", last_err.msg);
        ck_assert_uint_eq(f.ncmds, 0);
    }
}
END_TEST

START_TEST(time_limit_first_apdu_after_power_cycle)
{
    const char *src = "test \"cycle\" {\n  power-cycle\n  00 A4 00 00\n}\n";
    static const char *const start_kv[] = {"FIRST_APDU_MAX_MS", "20", "APDU_MAX_MS", "1000", NULL};
    fakecard f;
    fakecard_init(&f);
    f.latency_ms = 30; /* the fake ATR comes after 2 ms: 32 ms in all */
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, start_kv, NULL, &r, &o);
    const res_row *v = verdict_of(&r, "cycle");
    ck_assert_int_eq(v->v, TR_FAIL);
    ck_assert_str_eq(v->cls, "time.slow-start");
    ck_assert_msg(strstr(v->msg, "t.tsuite:3: power-cycle 1: the first command (00 A4 00 00) was answered ") != NULL,
                  "%s", v->msg);
    ck_assert(strstr(v->msg, "ms after power-on (ATR after 2.0 ms), over FIRST_APDU_MAX_MS 20 ms") != NULL);
    const res_row *m = metric_of(&r, "first_apdu_ms");
    ck_assert_int_eq(m->v, TR_FAIL);
    ck_assert_str_eq(m->cls, "time.slow-start");
    ck_assert_double_ge(m->value, 32);
    ck_assert_int_eq(r.ncyc, 1);
    ck_assert_str_eq(r.cyc_verdict[0], "time.slow-start"); /* cycles.csv says so too */

    /* the first answer after power-on is judged by FIRST_APDU_MAX_MS only; the next by APDU_MAX_MS */
    static const char *const apdu_kv[] = {"FIRST_APDU_MAX_MS", "1000", "APDU_MAX_MS", "20", NULL};
    fakecard_init(&f);
    f.latency_ms = 30;
    run_fake(src, &f, apdu_kv, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "cycle")->v, TR_PASS);
    ck_assert_str_eq(r.cyc_verdict[0], "pass");
    fakecard_init(&f);
    f.latency_ms = 30;
    run_fake("test \"cycle\" {\n  power-cycle\n  00 A4 00 00\n  00 A4 00 00\n}\n", &f, apdu_kv, NULL, &r, &o);
    ck_assert_str_eq(verdict_of(&r, "cycle")->cls, "time.slow-apdu");
    ck_assert_int_eq(verdict_of(&r, "cycle")->line, 4);
    /* even when that first answer comes in a later test */
    fakecard_init(&f);
    f.latency_ms = 30;
    run_fake("test \"cycle\" {\n  power-cycle\n}\ntest \"next\" {\n  00 A4 00 00\n}\n", &f, apdu_kv, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "next")->v, TR_PASS);
}
END_TEST

/* ---- a REF-1 token in process ------------------------------------------------------------ */

typedef struct {
    ref1_config cfg;
    ref1_nv nv;
    ref1_token tok;
    EVP_PKEY *key;
    uint8_t *cert, *seal, *enc_cert;
    size_t cert_len, seal_len, enc_cert_len;
    fakecard card;
    tr_cardio io;
    tr_vars *vars;
} ref1_fix;

static uint8_t *cert_der(X509 *x, size_t *len)
{
    unsigned char *d = NULL;
    int n = i2d_X509(x, &d);
    ck_assert_int_gt(n, 0);
    uint8_t *copy = malloc((size_t)n);
    memcpy(copy, d, (size_t)n);
    OPENSSL_free(d);
    *len = (size_t)n;
    return copy;
}

static EVP_PKEY *cached_key(tr_alg alg)
{
    static EVP_PKEY *keys[4];
    tr_err e;
    if (!keys[alg]) {
        keys[alg] = pki_keygen(alg, &e);
        ck_assert_msg(keys[alg] != NULL, "keygen: %s", e.msg);
    }
    return keys[alg];
}

/* A healthy token of alg/role whose certificate has days_left days left,
 * with the faults f (may be NULL). Profile variables like ref1-*.ini. */
static ref1_fix *fix_new(tr_alg alg, ref1_role role, double days_left, const ref1_faults *f)
{
    ref1_fix *x = calloc(1, sizeof *x);
    tr_err e;
    ref1_config_defaults(&x->cfg);
    x->cfg.alg = (ref1_alg)alg;
    x->cfg.role = role;
    x->key = cached_key(alg);
    X509 *c = pki_issue_cert(x->key, "TR00000000000001", "Example Org", NOW - 30 * DAY,
                             NOW + (time_t)(days_left * DAY), false, NULL, NULL, &e);
    ck_assert_msg(c != NULL, "issue: %s", e.msg);
    x->cert = cert_der(c, &x->cert_len);
    X509_free(c);
    uint8_t *png;
    size_t png_len;
    ck_assert_int_eq(pki_png_stamp(64, &png, &png_len, &e), 0);
    const uint8_t *certs[1] = {x->cert};
    size_t lens[1] = {x->cert_len};
    tr_seal_spec spec = {.version = 4, .vid = "tokenrig", .seal_id = "TRSEAL-1", .seal_type = 1,
                         .name = "Example Org", .certs = certs, .cert_lens = lens, .cert_count = 1,
                         .pic_type = "PNG", .pic = png, .pic_len = png_len, .pic_width_mm = 40,
                         .pic_height_mm = 40, .create_date = NOW - 30 * DAY,
                         .valid_start = NOW - 30 * DAY, .valid_end = NOW + 300 * DAY};
    ck_assert_msg(tr_seal_build(&spec, x->key, x->cert, x->cert_len, &x->seal, &x->seal_len, &e) == 0,
                  "seal: %s", e.msg);
    free(png);
    x->cfg.key = x->key;
    x->cfg.cert = x->cert;
    x->cfg.cert_len = x->cert_len;
    x->cfg.seal = x->seal;
    x->cfg.seal_len = x->seal_len;
    if (f)
        x->cfg.faults = *f;
    ref1_nv_factory(&x->nv, &x->cfg);
    ck_assert_msg(ref1_token_init(&x->tok, &x->cfg, &x->nv, &e) == 0, "token: %s", e.msg);
    fakecard_init_ref1(&x->card, &x->tok);
    fakecard_cardio(&x->card, &x->io);
    x->vars = tr_vars_new(NULL);
    static const char *const kv[] = {
        "ATR", "3B8A8001544F4B454E52494730310D", "AID", "F0544F4B52494701", "DEFAULT_PIN", "12345678",
        "SO_PIN", "88888888", "WRONG_PIN", "99999999", "NEW_PIN", "24681357", "PIN_MAX_TRIES", "10",
        "CERT_FID", "C001", "SEAL_FID", "5E01", "READ_CHUNK", "00", NULL};
    for (const char *const *p = kv; *p; p += 2)
        tr_vars_set(x->vars, p[0], p[1]);
    tr_vars_set(x->vars, "ALG", tr_alg_name(alg));
    tr_vars_set(x->vars, "ROLE", role == REF1_ROLE_MAIN ? "main" : "secondary");
    return x;
}

static void fix_free(ref1_fix *x)
{
    ref1_token_free(&x->tok);
    free(x->enc_cert);
    free(x->cert);
    free(x->seal);
    tr_vars_free(x->vars);
    free(x);
}

static int run_ref1(const char *src, ref1_fix *x, const run_opts *o, rec *r, tr_suite_outcome *out)
{
    return run_with(src, &x->io, x->vars, o, r, out);
}

/* ---- scriptor mode -------------------------------------------------------------------------- */

START_TEST(scriptor_runs_unchanged)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00A40400", "9000", -1);
    fakecard_rule(&f, "00CA0101", "54523030303030303030303030303031 9000", -1);
    fakecard_rule(&f, "00B0", "6982", -1);
    const char *src = "# a scriptor script\n"
                      "reset\n"
                      "00 A4 04 00 08 F0 54 4F 4B 52 49 47 01 00\n"
                      "00CA010100\n"
                      "00 B0 00 00 \\\n"
                      "   00\n"
                      "exit\n"
                      "00 A4 04 00 00\n";
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake(src, &f, NULL, NULL, &r, &o), 0);
    ck_assert_uint_eq(o.tests, 1);
    ck_assert_uint_eq(o.counts[TR_PASS], 1);
    const res_row *t = verdict_of(&r, "t");
    ck_assert_int_eq(t->v, TR_PASS); /* 6982 expected nothing: recorded only */
    ck_assert_uint_eq(f.ncmds, 3);   /* nothing after exit */
    ck_assert_uint_eq(f.warm_resets, 1);
    ck_assert_int_eq(r.ntr, 3);
    ck_assert_str_eq(r.tr[0].cmd, "00 A4 04 00 08 F0 54 4F 4B 52 49 47 01 00");
    ck_assert_str_eq(r.tr[0].rsp, "");
    ck_assert_str_eq(r.tr[0].sw, "9000");
    ck_assert_int_eq(r.tr[0].line, 3);
    ck_assert_str_eq(r.tr[1].cmd, "00 CA 01 01 00");
    ck_assert_str_eq(r.tr[1].rsp, "54523030303030303030303030303031");
    ck_assert_str_eq(r.tr[2].sw, "6982");
    ck_assert_int_eq(r.tr[2].line, 5);
    ck_assert_str_eq(r.tr[2].test, "t");
    ck_assert_int_eq(r.nprogress, 1);
    ck_assert_int_eq(r.nstart, 1);
    ck_assert_uint_eq(o.apdus, 3);
    ck_assert(strstr(r.logs[0], "reset warm: ATR 3B8A8001") != NULL);
}
END_TEST

START_TEST(scriptor_transport_error)
{
    fakecard f;
    fakecard_init(&f);
    f.remove_after = 1;
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake("00 A4 00 00\n00 B0 00 00 00\n00 B0 00 00 00\n", &f, NULL, NULL, &r, &o), 0);
    const res_row *t = verdict_of(&r, "t");
    ck_assert_int_eq(t->v, TR_ERROR);
    ck_assert_str_eq(t->cls, "io.removed");
    ck_assert_int_eq(t->line, 2);
    ck_assert(strstr(t->msg, "t.tsuite:2: 00 B0 00 00 00: the token was removed") != NULL);
    ck_assert(o.token_lost);
    ck_assert_str_eq(o.lost_code, "io.removed");
    ck_assert_uint_eq(o.nclasses, 1);
    ck_assert_str_eq(o.classes[0], "io.removed");
}
END_TEST

/* ---- expectations ------------------------------------------------------------------------------ */

START_TEST(expect_sw)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00200081", "63C7", -1);
    fakecard_rule(&f, "00B0", "0102 6282", -1);
    const char *src = "test \"ok\" {\n"
                      "  00 20 00 81 expect 63Cx\n"
                      "  00 20 00 81\n"
                      "  expect 63C7|9000\n"
                      "  expect 63??\n"
                      "  expect sw 6 3 C 7\n"
                      "  00 B0 00 00 02 expect 9000 | 6282\n"
                      "  let N = 7\n"
                      "  00 20 00 81 expect 63C${nib:N}\n"
                      "  expect ${SW}\n"
                      "}\n"
                      "test \"bad\" {\n"
                      "  classify pin.counter\n"
                      "  00 20 00 81 10 31 32 33 34 35 36 FF FF FF FF FF FF FF FF FF FF expect 9000\n"
                      "  log \"not reached\"\n"
                      "}\n"
                      "test \"bad-dyn\" {\n"
                      "  00 20 00 81 expect 63C${nib:3}\n"
                      "}\n"
                      "test \"own class\" {\n"
                      "  classify pin.counter\n"
                      "  00 20 00 81 expect 9000 classify pin.no-lockout\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake(src, &f, NULL, NULL, &r, &o), 0);
    ck_assert_int_eq(verdict_of(&r, "ok")->v, TR_PASS);
    const res_row *b = verdict_of(&r, "bad");
    ck_assert_int_eq(b->v, TR_FAIL);
    ck_assert_str_eq(b->cls, "pin.counter");
    ck_assert_int_eq(b->line, 14);
    ck_assert_str_eq(b->msg, "t.tsuite:14: expected SW 9000, got 63C7 (command 00 20 00 81 10 31 32 33 34 35 36 "
                             "FF FF FF FF FF FF FF FF FF FF; answer 63C7)");
    ck_assert_int_eq(r.nlogs, 0);
    const res_row *d = verdict_of(&r, "bad-dyn");
    ck_assert_int_eq(d->v, TR_FAIL);
    ck_assert_str_eq(d->cls, "unclassified");
    ck_assert(strstr(d->msg, "expected SW 63C3, got 63C7") != NULL);
    ck_assert_uint_eq(o.counts[TR_PASS], 1);
    ck_assert_str_eq(verdict_of(&r, "own class")->cls, "pin.no-lockout");
    ck_assert_uint_eq(o.counts[TR_FAIL], 3);
    ck_assert_uint_eq(o.nclasses, 3);
}
END_TEST

START_TEST(expect_data)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00CA0100", "0110 5452 3030 0201 01 0302 0100 9000", -1);
    const char *src = "test \"ok\" {\n"
                      "  00 CA 01 00 00\n"
                      "  expect data 01 10 54 52 30 30 02 01 01 03 02 01 00\n"
                      "  expect data 01 ?? 5x 52 *\n"
                      "  expect data 01 10 *\n"
                      "  expect data *\n"
                      "  expect data-len 13\n"
                      "  expect len DATALEN\n"
                      "  let P = \"0110\"\n"
                      "  expect data ${P} *\n"
                      "}\n"
                      "test \"short\" {\n"
                      "  00 CA 01 00 00\n"
                      "  expect data 01 10\n"
                      "}\n"
                      "test \"len\" {\n"
                      "  00 CA 01 00 00 expect data-len 12\n"
                      "}\n"
                      "test \"mismatch\" {\n"
                      "  00 CA 01 00 00 expect data 02 *\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "ok")->v, TR_PASS);
    const res_row *s = verdict_of(&r, "short");
    ck_assert_int_eq(s->v, TR_FAIL);
    ck_assert(strstr(s->msg, "t.tsuite:14: expected data 01 10, got 01105452303002010103020100 9000 "
                             "(command 00 CA 01 00 00)") != NULL);
    const res_row *l = verdict_of(&r, "len");
    ck_assert_int_eq(l->v, TR_FAIL);
    ck_assert(strstr(l->msg, "expected 12 data bytes, got 13") != NULL);
    ck_assert_int_eq(verdict_of(&r, "mismatch")->v, TR_FAIL);
}
END_TEST

/* ---- variables, substitutions, expressions ---------------------------------------------------- */

START_TEST(substitutions)
{
    fakecard f;
    fakecard_init(&f);
    const char *kv[] = {"AID", "F0 54 4F 4B 52 49 47 01", "N", "9", "NAME", "TOKEN", NULL};
    const char *src = "00 A4 04 00 ${len:AID} ${AID} 00\n"
                      "00 B0 ${hex2:300} ${hex:N + 1}\n"
                      "80 CA 0${nib:N+1} 00 ${ascii:NAME}\n"
                      "80 CA ${= 16 * 2} 00\n"
                      "let X = \"AB\"\n"
                      "80 ${X}${X} 00 00\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, kv, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_PASS);
    ck_assert_str_eq(fakecard_cmd(&f, 0), "00A4040008F0544F4B5249470100");
    ck_assert_str_eq(fakecard_cmd(&f, 1), "00B0012C0A");
    ck_assert_str_eq(fakecard_cmd(&f, 2), "80CA0A00544F4B454E");
    ck_assert_str_eq(fakecard_cmd(&f, 3), "80CA3200");
    ck_assert_str_eq(fakecard_cmd(&f, 4), "80ABAB0000");
}
END_TEST

START_TEST(builtins_and_functions)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00CA0100", "0110 54523030303030303030303030303031 0201 01 A003 040101 9000", -1);
    fakecard_rule(&f, "00200081", "63C7", -1);
    const char *src =
        "00 20 00 81\n"
        "assert SW == \"63C7\" \"SW\"\n"
        "assert SW == \"63c7\" \"hex compares ignore case\"\n"
        "assert SW1 == 0x63 && SW2 == 199 \"SW1/SW2\"\n"
        "assert SW2 & 0x0F == 7 \"bitwise binds tighter than ==\"\n"
        "assert DATALEN == 0 \"no data\"\n"
        "assert TOKEN_ATR == \"3B8A8001544F4B454E52494730310D\" \"ATR\"\n"
        "assert TEST == \"t\" && SUITE == \"t\" \"names\"\n"
        "00 CA 01 00 00\n"
        "capture INFO\n"
        "assert INFO == DATA \"capture\"\n"
        "assert DATALEN == 26 \"datalen\"\n"
        "assert byte(INFO, 0) == 1 \"byte\"\n"
        "assert sub(INFO, 2, 2) == \"5452\" \"sub\"\n"
        "assert sub(INFO, 18, 3) == \"020101\" \"sub\"\n"
        "assert sub(INFO, 23) == \"040101\" \"sub to end\"\n"
        "assert ascii(tlv(INFO, 1)) == \"TR00000000000001\" \"tlv + ascii\"\n"
        "assert tlv(INFO, \"02\") == \"01\" \"tlv by hex tag\"\n"
        "assert tlv(INFO, 4) == \"01\" \"tlv inside a constructed tag\"\n"
        "assert tlv(INFO, 0x77) == \"\" \"absent tag\"\n"
        "assert int(\"0102\") == 258 \"int\"\n"
        "assert concat(\"AB\", 1, \"CD\") == \"AB1CD\" \"concat\"\n"
        "assert asciihex(\"AB\") == \"4142\" \"asciihex\"\n"
        "assert len(\"01 02 03\") == 3 \"len with spaces\"\n"
        "assert hex(5) == \"05\" && hex(300) == \"012C\" && hex(1, 3) == \"000001\" \"hex\"\n"
        "assert len(random(8)) == 8 && random(4) != random(4) \"random\"\n"
        "assert defined(\"INFO\") && !defined(NOPE) && defined(SW) \"defined\"\n"
        "assert min(3, 1, 2) == 1 && max(3, 9, 2) == 9 \"min max\"\n"
        "assert upper(\"ab\") == \"AB\" \"upper\"\n"
        "assert 7 / 2 == 3 && -7 % 3 == -1 && 1 << 4 == 16 && 256 >> 4 == 16 \"arith\"\n"
        "assert (5 ^ 1) == 4 && ~0 == -1 && 3 - 5 == -2 \"more arith\"\n"
        "assert \"10\" == 10 && \"0x0A\" == 10 && \"abc\" != 10 \"int/text equality\"\n"
        "assert 2 < 3 && 3 <= 3 && 4 > 3 && 4 >= 4 \"comparisons\"\n"
        "assert \"main\" != \"Main\" \"text is exact\"\n"
        "assert !\"\" && \"x\" && !0 && \"1\" && !\"0\" \"truthiness\"\n"
        "let I = 0\n"
        "let I = I + 1\n"
        "assert I == 1 \"let\"\n"
        "assert \"${hex:I}-${hex2:I}-${nib:I}-${= I * 3}\" == \"01-0001-1-3\" \"string substitutions\"\n"
        /* SM4-CBC: the GB/T 32907 example is the first block under a zero IV */
        "let K = \"0123456789ABCDEFFEDCBA9876543210\"\n"
        "let IV = \"00000000 00000000 00000000 00000000\"\n"
        "let C = sm4_encrypt(K, IV, K)\n"
        "assert len(C) == 32 && sub(C, 0, 16) == \"681EDF34D206965E86B3E94F536E4246\" \"sm4_encrypt\"\n"
        "assert sm4_decrypt(K, IV, C) == K \"sm4_decrypt\"\n"
        "assert sm4_decrypt(K, IV, sm4_encrypt(K, IV, \"\")) == \"\" \"an empty file\"\n"
        "assert sm4_decrypt(\"1123456789ABCDEFFEDCBA9876543210\", IV, C) != K \"a wrong key\"\n"
        /* counts as ops report them: a number, LO..HI, n/a */
        "assert may_be(3, 3) && !may_be(3, 2) && may_be(\"-1\", -1) \"may_be a number\"\n"
        "assert may_be(\"2..9\", 2) && may_be(\"2..9\", 9) && !may_be(\"2..9\", 1) && !may_be(\"2..9\", 10) \"may_be a range\"\n"
        "assert may_be(\"n/a\", 0) && may_be(\"n/a\", 7) \"n/a admits all\"\n"
        "assert at_most(\"2..9\") == 9 && at_most(4) == 4 \"at_most\"\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *t = verdict_of(&r, "t");
    ck_assert_msg(t->v == TR_PASS, "%s", t->msg);
}
END_TEST

START_TEST(runtime_errors)
{
    static const struct {
        const char *src;
        const char *needle;
    } cases[] = {
        {"00 ${NOPE} 00 00\n", "t.tsuite:1: column 6: variable NOPE is not set"},
        {"let X = 1 / 0\n", "column 11: division by zero in 1 / 0"},
        {"let X = \"ab\" + 1\n", "expected a number for \"ab\", found \"ab\""},
        {"let X = byte(\"01\", 5)\n", "byte(): index 5 outside 1 bytes"},
        {"let X = sub(\"0102\", 1, 5)\n", "sub(): 5 bytes at offset 1 outside 2 bytes"},
        {"let X = int(\"\")\n", "int(): expected 1 to 8 bytes, found 0"},
        {"let X = byte(\"zz\", 0)\n", "expected hex data for byte(), found \"zz\""},
        {"let X = 1 << 64\n", "shift by 64"},
        {"let X = \"${hex:256}\"\n", "expected 0..255 for ${hex:...}, found 256"},
        {"let X = \"${nib:-1}\"\n", "expected 0..15 for ${nib:...}, found -1"},
        {"let A = \"ZZ\"\n00 ${A} 00 00\n", "expected hex digits in the APDU after substitution"},
        {"let A = \"0\"\n00 ${A}0 00\n", "expected an APDU of 4 to"},
        {"let A = \"000\"\n00 ${A} 00 00\n", "expected an even number of hex digits in the APDU"},
        {"expect 9000\n", "expect before any APDU was answered"},
        {"capture X\n", "capture before any APDU was answered"},
        {"let X = SW\n", "SW is not set: no APDU has been answered yet"},
        {"repeat -1 {\n}\n", "expected a repeat count of 0 to 1000000, found -1"},
        {"let P = \"12345678901234567\"\n00 20 00 81 10 ${pin:P}\n", "expected a PIN of at most 16 characters"},
        {"let X = sign_input(\"nope\", \"00\", \"00\")\n", "sign_input()"},
        {"let X = \"01\"\nexpect ${X}\n", "expect before any APDU"},
        {"00 A4 00 00\nlet X = \"9\"\nexpect ${X}\n", "expected a status word pattern, found \"9\""},
        {"00 A4 00 00\nlet X = \"1\"\nexpect data ${X}\n", "expected a data pattern, found \"1\""},
        {"for I = 0 to 2000000 {\n}\n", "expected at most 1000000 iterations"},
        {"measure m count 0 {\n}\n", "expected a count of 1 to 1000000, found 0"},
        {"read-binary F chunk 70000\n", "expected a chunk of 0 (= 256) to 65535 bytes"},
        {"metric m = \"fast\"\n", "expected a number for m, found \"fast\""},
        /* every function's argument spec: the argument (and its column) a message names */
        {"let X = byte(\"01\", \"x\")\n", "column 20: expected a number for the index, found \"x\""},
        {"let X = sub(\"zz\", 0)\n", "column 13: expected hex data for sub(), found \"zz\""},
        {"let X = sub(\"0102\", \"a\")\n", "column 21: expected a number for the offset"},
        {"let X = sub(\"0102\", 0, \"b\")\n", "column 24: expected a number for the length"},
        {"let X = tlv(1, 1)\n", "column 13: expected hex data for tlv(), found the number 1"},
        {"let X = tlv(\"01\", \"zz\")\n", "column 19: expected hex data for the tag, found \"zz\""},
        {"let X = tlv(\"01\", 0)\n", "column 19: tlv(): tag 0 out of range"},
        {"let X = tlv(\"01\", \"0102030405\")\n", "column 19: tlv(): expected a tag of 1 to 4 bytes, found 5"},
        {"let X = int(5)\n", "column 13: expected hex data for int(), found the number 5"},
        {"let X = int(\"010203040506070809\")\n", "column 9: int(): expected 1 to 8 bytes, found 9"},
        {"let X = int(\"8000000000000000\")\n", "column 9: int(): value does not fit in 63 bits"},
        {"let X = ascii(1)\n", "column 15: expected hex data for ascii()"},
        {"let X = len(\"z\")\n", "column 13: expected hex data for len()"},
        {"let X = hex(\"x\")\n", "column 13: expected a number for hex()"},
        {"let X = hex(-1, \"zz\")\n", "column 9: hex(): expected a number >= 0, found -1"},
        {"let X = hex(1, \"zz\")\n", "column 16: expected a number for the byte count"},
        {"let X = hex(1, 9)\n", "column 9: hex(): expected 1 to 8 bytes, found 9"},
        {"let X = hex(300, 1)\n", "column 9: hex(): 300 does not fit in 1 bytes"},
        {"let X = random(0)\n", "column 9: random(): expected 1 to 4096 bytes, found 0"},
        {"let X = random(\"a\")\n", "column 16: expected a number for random()"},
        {"let X = min(1, \"a\")\n", "column 16: expected a number for min, found \"a\""},
        {"let X = max(\"b\", 1)\n", "column 13: expected a number for max, found \"b\""},
        {"let X = concat(\"a\", NOPE)\n", "column 21: variable NOPE is not set"},
        {"let X = upper(NOPE)\n", "column 15: variable NOPE is not set"},
        {"let X = asciihex(NOPE)\n", "column 18: variable NOPE is not set"},
        {"let X = defined(1 / 0)\n", "column 19: division by zero"},
        {"let X = sign_input(\"sm2\", 1, \"00\")\n", "column 27: expected hex data for the certificate"},
        {"let X = sign_input(\"sm2\", \"00\", 1)\n", "column 33: expected hex data for the message"},
        /* the algorithm is checked before the signature is evaluated */
        {"let X = sig_ok(\"nope\", \"00\", \"00\", 1)\n", "column 16: sig_ok(): unknown algorithm 'nope'"},
        {"let X = may_be(\"9..2\", 1)\n", "may_be(): '9..2' is not a count"},
        {"let X = may_be(\"lots\", 1)\n", "may_be(): 'lots' is not a count"},
        {"let X = at_most(\"n/a\")\n", "at_most(): the count is n/a"},
        {"let X = sig_ok(\"sm2\", \"00\", \"00\", 1)\n", "column 35: expected hex data for the signature"},
        /* envelope(ALG, CERT, KEY), sm4_encrypt / sm4_decrypt(KEY, IV, DATA) */
        {"let X = envelope(\"nope\", \"00\", \"00\")\n", "column 18: envelope(): unknown algorithm 'nope'"},
        {"let X = envelope(\"ecdsa\", \"00\", \"00\")\n", "column 18: envelope(): ecdsa keys do not encrypt"},
        {"let X = envelope(\"sm2\", 1, \"00\")\n", "column 25: expected hex data for the certificate"},
        {"let X = envelope(\"sm2\", \"00\", 1)\n", "column 31: expected hex data for the key"},
        {"let X = envelope(\"sm2\", \"00\", \"\")\n", "column 31: envelope(): expected a key of 1 to 256 bytes, found 0"},
        {"let X = envelope(\"rsa\", \"3000\", \"00\")\n", "envelope(): certificate is not DER X.509"},
        {"let X = sm4_encrypt(\"zz\", \"00\", \"00\")\n", "column 21: expected hex data for the key, found \"zz\""},
        {"let X = sm4_encrypt(\"00\", \"00\", \"00\")\n", "column 21: sm4_encrypt(): expected a key of 16 bytes, found 1"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_encrypt(K, \"zz\", K)\n",
         "column 24: expected hex data for the IV"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_encrypt(K, \"00\", K)\n",
         "column 24: sm4_encrypt(): expected an IV of 16 bytes, found 1"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_encrypt(K, K, 5)\n",
         "column 27: expected hex data for the data, found the number 5"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_decrypt(K, K, \"00\")\n",
         "column 27: sm4_decrypt(): expected whole 16-byte blocks, found 1 bytes"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_decrypt(K, K, \"\")\n",
         "column 27: sm4_decrypt(): expected whole 16-byte blocks, found 0 bytes"},
        {"let K = \"00112233445566778899AABBCCDDEEFF\"\nlet X = sm4_decrypt(K, \"00\", K)\n",
         "column 24: sm4_decrypt(): expected an IV of 16 bytes"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fakecard f;
        fakecard_init(&f);
        rec r;
        tr_suite_outcome o;
        ck_assert_int_eq(run_fake(cases[k].src, &f, NULL, NULL, &r, &o), 0);
        const res_row *t = verdict_of(&r, "t");
        ck_assert_msg(t->v == TR_ERROR, "case %zu: verdict %d (%s)", k, t->v, t->msg);
        const char *needle = cases[k].needle;
        const char *bar = strchr(needle, '|');
        bool found = strstr(t->msg, bar ? bar + 1 : needle) != NULL;
        if (!found && bar) {
            char first[128];
            snprintf(first, sizeof first, "%.*s", (int)(bar - needle), needle);
            found = strstr(t->msg, first) != NULL;
        }
        ck_assert_msg(found, "case %zu: message \"%s\" lacks \"%s\"", k, t->msg, needle);
        /* a variable the suite never sets is the run's configuration, not a suite bug */
        bool config = strstr(needle, "variable NOPE is not set") != NULL;
        ck_assert_msg(config ? !strcmp(t->cls, "config") : !strcmp(t->cls, "suite") || !strcmp(t->cls, "crypto"),
                      "case %zu: class %s", k, t->cls);
        ck_assert(!o.token_lost);
    }
}
END_TEST

/* ---- control flow --------------------------------------------------------------------------- */

START_TEST(control_flow)
{
    fakecard f;
    fakecard_init(&f);
    const char *src = "test \"flow\" {\n"
                      "  let N = 0\n"
                      "  repeat 3 {\n"
                      "    let N = N + 1\n"
                      "  }\n"
                      "  for I = 1 to 4 {\n"
                      "    80 01 00 ${hex:I}\n"
                      "  }\n"
                      "  for I = 3 downto 1 {\n"
                      "    80 02 00 ${hex:I}\n"
                      "  }\n"
                      "  for I = 5 to 4 {\n"
                      "    fail \"never\"\n"
                      "  }\n"
                      "  if N == 3 {\n"
                      "    let W = \"a\"\n"
                      "  } else if N == 4 {\n"
                      "    let W = \"b\"\n"
                      "  } else {\n"
                      "    let W = \"c\"\n"
                      "  }\n"
                      "  if N == 4 {\n"
                      "    fail \"no\"\n"
                      "  } else if N == 3 {\n"
                      "    let V = \"ok\"\n"
                      "  }\n"
                      "  assert W == \"a\" && V == \"ok\" && I == 1 \"branches\"\n"
                      "  log \"N=${N} I=${I}\"\n"
                      "}\n"
                      "test \"vars persist\" {\n"
                      "  assert N == 3\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *t = verdict_of(&r, "flow");
    ck_assert_msg(t->v == TR_PASS, "%s", t->msg);
    ck_assert_int_eq(verdict_of(&r, "vars persist")->v, TR_PASS);
    ck_assert_uint_eq(f.ncmds, 7);
    ck_assert_str_eq(fakecard_cmd(&f, 3), "80010004");
    ck_assert_str_eq(fakecard_cmd(&f, 4), "80020003");
    ck_assert_str_eq(fakecard_cmd(&f, 6), "80020001");
    ck_assert_str_eq(r.logs[0], "N=3 I=1");
}
END_TEST

START_TEST(verdicts_and_classification)
{
    fakecard f;
    fakecard_init(&f);
    const char *src = "classify suite.default\n"
                      "test \"assert-default\" {\n"
                      "  assert 1 == 2\n"
                      "}\n"
                      "test \"assert-own\" {\n"
                      "  classify pin.no-lockout\n"
                      "  assert 0 \"counter stayed at ${= 10}\" classify pin.counter-reset-by-power\n"
                      "}\n"
                      "test \"fail-default\" {\n"
                      "  classify pin.no-lockout\n"
                      "  fail \"boom\"\n"
                      "}\n"
                      "test \"fail-bare\" {\n"
                      "  fail\n"
                      "}\n"
                      "test \"skip\" {\n"
                      "  skip \"not for this token\"\n"
                      "  fail \"never\"\n"
                      "}\n"
                      "test \"exit\" {\n"
                      "  exit\n"
                      "}\n"
                      "test \"after exit\" {\n"
                      "  fail \"never\"\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *a = verdict_of(&r, "assert-default");
    ck_assert_int_eq(a->v, TR_FAIL);
    ck_assert_str_eq(a->cls, "suite.default");
    ck_assert_str_eq(a->msg, "t.tsuite:3: assertion failed: 1 == 2");
    ck_assert_int_eq(a->line, 3);
    const res_row *b = verdict_of(&r, "assert-own");
    ck_assert_str_eq(b->cls, "pin.counter-reset-by-power");
    ck_assert_str_eq(b->msg, "t.tsuite:7: counter stayed at 10");
    ck_assert_str_eq(verdict_of(&r, "fail-default")->cls, "pin.no-lockout");
    ck_assert_str_eq(verdict_of(&r, "fail-bare")->msg, "t.tsuite:14: failed");
    const res_row *s = verdict_of(&r, "skip");
    ck_assert_int_eq(s->v, TR_SKIP);
    ck_assert_str_eq(s->msg, "not for this token");
    ck_assert_str_eq(s->cls, "");
    ck_assert_int_eq(verdict_of(&r, "exit")->v, TR_PASS);
    const res_row *ae = verdict_of(&r, "after exit");
    ck_assert_int_eq(ae->v, TR_SKIP);
    ck_assert_str_eq(ae->msg, "not run: the suite ended with exit at line 21");
    ck_assert_uint_eq(o.counts[TR_FAIL], 4);
    ck_assert_uint_eq(o.counts[TR_SKIP], 2);
    ck_assert_uint_eq(o.counts[TR_PASS], 1);
    ck_assert_uint_eq(o.nclasses, 3); /* fail-bare took the suite's default */
    ck_assert_str_eq(verdict_of(&r, "fail-bare")->cls, "suite.default");
    ck_assert_int_eq(r.nprogress, 7);
    ck_assert_int_eq(r.nstart, 7);
}
END_TEST

START_TEST(cleanup_always_runs)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "8001", "6A82", -1);
    const char *src = "test \"body fails\" {\n"
                      "  80 01 00 00 expect 9000\n"
                      "  cleanup {\n"
                      "    80 02 00 00\n"
                      "    fail \"cleanup also fails\"\n"
                      "  }\n"
                      "}\n"
                      "test \"cleanup fails\" {\n"
                      "  80 03 00 00\n"
                      "  cleanup {\n"
                      "    80 01 00 00 expect 9000\n"
                      "  }\n"
                      "}\n"
                      "test \"skip then cleanup\" {\n"
                      "  skip \"nope\"\n"
                      "  cleanup {\n"
                      "    80 04 00 00\n"
                      "  }\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *a = verdict_of(&r, "body fails");
    ck_assert_int_eq(a->v, TR_FAIL);
    ck_assert(strstr(a->msg, "t.tsuite:2: expected SW 9000, got 6A82") != NULL); /* the first problem */
    const res_row *b = verdict_of(&r, "cleanup fails");
    ck_assert_int_eq(b->v, TR_FAIL);
    ck_assert(strncmp(b->msg, "in cleanup: t.tsuite:11: expected SW 9000", 41) == 0);
    ck_assert_int_eq(b->line, 11);
    ck_assert_int_eq(verdict_of(&r, "skip then cleanup")->v, TR_SKIP);
    ck_assert_uint_eq(f.ncmds, 5);
    ck_assert_str_eq(fakecard_cmd(&f, 1), "80020000");
    ck_assert_str_eq(fakecard_cmd(&f, 4), "80040000");
}
END_TEST

START_TEST(destructive_and_requires)
{
    fakecard f;
    fakecard_init(&f);
    const char *kv[] = {"ROLE", "secondary", NULL};
    const char *src = "test \"wipe\" {\n"
                      "  destructive\n"
                      "  80 01 00 00\n"
                      "}\n"
                      "test \"main only\" {\n"
                      "  requires ROLE == \"main\"\n"
                      "  80 02 00 00\n"
                      "}\n"
                      "test \"secondary only\" {\n"
                      "  requires ROLE == \"secondary\"\n"
                      "  requires defined(ROLE)\n"
                      "  80 03 00 00\n"
                      "}\n"
                      "test \"bad requires\" {\n"
                      "  requires SERIAL == \"x\"\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, kv, NULL, &r, &o);
    const res_row *w = verdict_of(&r, "wipe");
    ck_assert_int_eq(w->v, TR_SKIP);
    ck_assert_str_eq(w->msg, "destructive: needs --allow-destructive");
    ck_assert_str_eq(w->cls, "not-run.destructive"); /* the run left it out: the token is INCOMPLETE */
    const res_row *m = verdict_of(&r, "main only");
    ck_assert_int_eq(m->v, TR_SKIP);
    ck_assert_str_eq(m->msg, "requires ROLE == \"main\"");
    ck_assert_str_eq(m->cls, ""); /* the token's role: inapplicable, not left out */
    ck_assert_int_eq(verdict_of(&r, "secondary only")->v, TR_PASS);
    const res_row *b = verdict_of(&r, "bad requires");
    ck_assert_int_eq(b->v, TR_ERROR);
    ck_assert(strstr(b->msg, "variable SERIAL is not set") != NULL);
    ck_assert_uint_eq(f.ncmds, 1);
    ck_assert_str_eq(fakecard_cmd(&f, 0), "80030000");

    /* allowed */
    fakecard_init(&f);
    run_opts ro = {.allow_destructive = true};
    run_fake(src, &f, kv, &ro, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "wipe")->v, TR_PASS);

    /* at suite level */
    fakecard_init(&f);
    run_fake("destructive\ntest \"a\" {\n 80 01 00 00\n}\ntest \"b\" {\n}\n", &f, kv, NULL, &r, &o);
    ck_assert_uint_eq(o.counts[TR_SKIP], 2);
    ck_assert_uint_eq(f.ncmds, 0);
    fakecard_init(&f);
    run_fake("requires ROLE == \"main\"\ntest \"a\" {\n 80 01 00 00\n}\n", &f, kv, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "a")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "a")->msg, "requires ROLE == \"main\"");
    /* scriptor file with a requirement */
    fakecard_init(&f);
    run_fake("requires ROLE == \"main\"\n80 01 00 00\n", &f, kv, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_SKIP);
    ck_assert_uint_eq(f.ncmds, 0);
    /* a prelude that cannot run: every test is an error, nothing is sent */
    fakecard_init(&f);
    run_fake("let X = MISSING\ntest \"a\" {\n 80 01 00 00\n}\ntest \"b\" {\n}\n", &f, kv, NULL, &r, &o);
    ck_assert_uint_eq(o.counts[TR_ERROR], 2);
    ck_assert(strstr(verdict_of(&r, "b")->msg, "variable MISSING is not set") != NULL);
    ck_assert_uint_eq(f.ncmds, 0);
}
END_TEST

/* A skip says whether the run left the test out (not-run.*) or the test
 * does not apply (no code). */
START_TEST(skip_codes)
{
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    run_fake("test \"a\" {\n  skip \"main key only\"\n}\n"
             "test \"b\" {\n  skip \"no expected serial\" classify not-run.no-expected-serial\n  80 01 00 00\n}\n"
             "test \"c\" {\n  classify pin.x\n  skip\n}\n",
             &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "a")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "a")->cls, "");
    ck_assert_int_eq(verdict_of(&r, "b")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "b")->cls, "not-run.no-expected-serial");
    ck_assert_str_eq(verdict_of(&r, "b")->msg, "no expected serial");
    ck_assert_str_eq(verdict_of(&r, "c")->cls, ""); /* a failure code never lands on a skip */
    ck_assert_uint_eq(o.counts[TR_SKIP], 3);
    ck_assert_uint_eq(o.nclasses, 0); /* skip codes are not failure classes */
    ck_assert_uint_eq(f.ncmds, 0);
}
END_TEST

/* ---- the interface's op library (suites/README.md, "Token operations") ------------ */

static const char LIB_SRC[] = "op get {\n"                       /* 1 */
                              "  00 CA 01 ${DO} 00\n"              /* 2 */
                              "  let RESULT = SW\n"                /* 3 */
                              "  assert SW == \"9000\" \"GET DATA answered ${SW}\"\n" /* 4 */
                              "  let GOT = DATA\n"                 /* 5 */
                              "}\n"
                              "op mine {\n  let WHO = \"library\"\n}\n"
                              "op unused {\n  let Z = NEVER_GIVEN\n}\n";

START_TEST(ops_library_called_after_the_suites_own)
{
    const char *src = "op mine {\n  let WHO = \"suite\"\n}\n"
                      "test \"reads\" {\n  classify x.read\n  call get\n  call mine\n"
                      "  assert GOT == \"AB\" && WHO == \"suite\" \"${GOT} ${WHO}\"\n}\n"
                      "test \"fails inside\" {\n  classify x.fail\n  let DO = \"02\"\n  call get\n}\n"
                      "test \"needs it\" {\n  let DO = \"03\"\n  call get\n}\n"
                      "test \"later\" {\n  assert GOT == \"AB\"\n}\n";
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00CA010100", "AB9000", -1);
    fakecard_rule(&f, "00CA010200", "6A88", -1);
    fakecard_rule(&f, "00CA010300", "6A88", -1);
    static const char *const kv[] = {"DO", "01", NULL};
    run_opts o = {.ops_src = LIB_SRC};
    rec r;
    tr_suite_outcome out;
    ck_assert_int_eq(run_fake(src, &f, kv, &o, &r, &out), 0);
    const res_row *t = verdict_of(&r, "reads");
    ck_assert_msg(t->v == TR_PASS, "%s", t->msg);
    /* a failure inside a library op names the library's line, with the test's class */
    t = verdict_of(&r, "fails inside");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "x.fail");
    ck_assert_msg(strstr(t->msg, "lib.tsuite:4: GET DATA answered 6A88") != NULL, "%s", t->msg);
    /* GOT was set by the first test (it passed), so "later" passes; without
     * a library, call is a suite error */
    ck_assert_int_eq(verdict_of(&r, "later")->v, TR_PASS);
    ck_assert_int_eq(run_fake(src, &f, kv, NULL, &r, &out), 0);
    t = verdict_of(&r, "reads");
    ck_assert_int_eq(t->v, TR_ERROR);
    ck_assert_msg(strstr(t->msg, "interface's library, found 'get'") != NULL, "%s", t->msg);
}
END_TEST

/* One root cause: a variable only a library op sets, when the test that
 * called it failed, skips the tests that read it. */
START_TEST(ops_library_one_root_cause)
{
    const char *src = "test \"sets\" {\n  call get\n}\ntest \"reads\" {\n  assert GOT == \"AB\"\n}\n";
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00CA010100", "6A88", -1);
    static const char *const kv[] = {"DO", "01", NULL};
    run_opts o = {.ops_src = LIB_SRC};
    rec r;
    tr_suite_outcome out;
    ck_assert_int_eq(run_fake(src, &f, kv, &o, &r, &out), 0);
    const res_row *t = verdict_of(&r, "reads");
    ck_assert_int_eq(t->v, TR_SKIP);
    ck_assert_msg(strstr(t->msg, "not run: GOT is not set: test \"sets\" failed") != NULL, "%s", t->msg);
}
END_TEST

/* The check before a run sees what the library ops the suite calls read
 * (named at the library's line), and nothing of the ops it does not call. */
START_TEST(ops_library_variables_checked)
{
    tr_suite *s = parse("test \"a\" {\n  call get\n}\n", "t.tsuite");
    tr_suite *lib = parse(LIB_SRC, "lib.tsuite");
    tr_vars *v = tr_vars_new(NULL);
    tr_err e;
    char buf[1200];
    ck_assert_int_eq(tr_suite_check_vars(s, lib, v, "p1 (p1.ini)", "slot A1", &e), -1);
    tr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "lib.tsuite:2:") && strstr(buf, "does not set DO,"), "%s", buf);
    tr_vars_set(v, "DO", "01");
    ck_assert_msg(tr_suite_check_vars(s, lib, v, "p1 (p1.ini)", "slot A1", &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tr_suite_check_vars(s, NULL, v, "p1 (p1.ini)", "slot A1", &e), 0);
    tr_vars_free(v);
    tr_suite_free(lib);
    tr_suite_free(s);
}
END_TEST

/* What a suite needs from outside: checked before a run (suitevars.h). */
static int check_vars(const char *src, const char *const *kv, tr_err *e)
{
    tr_suite *s = parse(src, "t.tsuite");
    tr_vars *v = tr_vars_new(NULL);
    for (; kv && *kv; kv += 2)
        tr_vars_set(v, kv[0], kv[1]);
    tr_err_clear(e);
    int rc = tr_suite_check_vars(s, NULL, v, "p1 (p1.ini)", "slot A1", e);
    tr_vars_free(v);
    tr_suite_free(s);
    return rc;
}

START_TEST(suite_variables_checked_before_the_run)
{
    /* everything the suite reads is set by it, built in, guarded or given */
    const char *src = "let L = 1\n"
                      "test \"a\" {\n"
                      "  requires defined(OPT) || NEED_R == 1\n"
                      "  00 A4 04 00 ${len:AID} ${AID} 00\n"
                      "  capture C\n"
                      "  read-binary R chunk CHUNK\n"
                      "  cert-info R window W\n"
                      "  seal-info R cert R\n"
                      "  for I = 1 to 2 {\n"
                      "    let X = I + L + len(C) + DATALEN\n"
                      "  }\n"
                      "  assert CERT_PARSED && SEAL_SIG_OK \"${SW} ${TEST} ${NEED_M}\"\n"
                      "  if defined(\"OPT2\") {\n"
                      "    let Y = OPT2\n"
                      "  }\n"
                      "  cleanup {\n"
                      "    00 20 00 81 10 ${pin:NEED_PIN}\n"
                      "  }\n"
                      "}\n";
    const char *all[] = {"AID", "F0", "CHUNK", "0", "W", "30", "NEED_R", "1", "NEED_M", "x", "NEED_PIN", "1234",
                         NULL};
    tr_err e;
    ck_assert_msg(check_vars(src, all, &e) == 0, "%s", e.msg);
    /* one missing: a configuration error at its first read, naming profile, variable, slot */
    const char *no_aid[] = {"CHUNK", "0", "W", "30", "NEED_R", "1", "NEED_M", "x", "NEED_PIN", "1234", NULL};
    ck_assert_int_eq(check_vars(src, no_aid, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_str_eq(e.file, "t.tsuite");
    ck_assert_int_eq(e.line, 4);
    ck_assert_int_eq(e.col, 21);
    ck_assert_msg(strstr(e.msg, "profile p1 (p1.ini) does not set AID, which suite t reads (slot A1;"), "%s", e.msg);
    /* several: the first in the file, the others listed */
    const char *few[] = {"AID", "F0", "W", "30", NULL};
    ck_assert_int_eq(check_vars(src, few, &e), -1);
    ck_assert_int_eq(e.line, 3); /* requires NEED_R */
    ck_assert_msg(strstr(e.msg, "does not set NEED_R") && strstr(e.msg, "also missing: CHUNK, NEED_M, NEED_PIN"),
                  "%s", e.msg);
    /* a metric name is not a variable; defined() of a computed name guards nothing */
    ck_assert_int_eq(check_vars("metric M = 1\nlet X = M\n", NULL, &e), -1);
    ck_assert(strstr(e.msg, "does not set M,") != NULL);
    ck_assert_int_eq(check_vars("if defined(concat(\"O\", \"P\")) {\n  let X = OP\n}\n", NULL, &e), -1);
    ck_assert(strstr(e.msg, "does not set OP,") != NULL);
    ck_assert_int_eq(check_vars("let X = SW1 + SW2 + DATALEN\nlog \"${DATA} ${TOKEN_ATR} ${SUITE}\"\n", NULL, &e), 0);
}
END_TEST

/* What the check before the run lets through is caught while running: a
 * variable the suite never sets is the run's configuration (config), one
 * it sets elsewhere is a suite bug (suite). */
START_TEST(suite_variables_at_run_time)
{
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    run_fake("test \"guarded\" {\n  if defined(OPT) {\n    log \"x\"\n  }\n}\n"
             "test \"unguarded\" {\n  00 ${OPT} 00 00\n}\n"
             "test \"early\" {\n  let Y = LATE\n}\n"
             "test \"late\" {\n  let LATE = 1\n}\n",
             &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "guarded")->v, TR_PASS);
    const res_row *u = verdict_of(&r, "unguarded");
    ck_assert_int_eq(u->v, TR_ERROR);
    ck_assert_str_eq(u->cls, "config");
    ck_assert_msg(strstr(u->msg, "t.tsuite:7: column 8: variable OPT is not set: give it in the profile"), "%s",
                  u->msg);
    const res_row *y = verdict_of(&r, "early");
    ck_assert_int_eq(y->v, TR_ERROR);
    ck_assert_str_eq(y->cls, "suite");
    ck_assert(strstr(y->msg, "variable LATE is not set yet") != NULL);
    ck_assert_uint_eq(f.ncmds, 0);
}
END_TEST

/* ---- PINs never leak ---------------------------------------------------------------------------- */

START_TEST(pin_masking)
{
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "0020008110", "63C9", 1);
    fakecard_rule(&f, "0024", "6A80", -1);
    fakecard_rule(&f, "80CA", "AA3132333435363738FFFF 9000", -1); /* a token that echoes the PIN */
    const char *kv[] = {"USER_PIN", "12345678", "NEW_PIN", "87654321", "SOMETHING", "abcdefgh", NULL};
    const char *src = "test \"verify\" {\n"
                      "  00 20 00 81 10 ${pin:USER_PIN} expect 9000\n"
                      "}\n"
                      "test \"change\" {\n"
                      "  00 24 00 81 20 ${pin:USER_PIN} ${pin:NEW_PIN}\n"
                      "  log \"old ${USER_PIN} new ${pin:NEW_PIN} hex ${ascii:NEW_PIN}\"\n"
                      "  expect 9000\n"
                      "}\n"
                      "test \"ascii\" {\n"
                      "  00 20 00 81 08 ${ascii:USER_PIN}\n"
                      "  fail \"was ${USER_PIN}\"\n"
                      "}\n"
                      "test \"secret in a non-pin var\" {\n"
                      "  00 20 00 81 10 ${pin:SOMETHING} expect 6A80\n"
                      "}\n"
                      "test \"echo\" {\n"
                      "  80 CA 00 00 00\n"
                      "  assert DATA == \"AA3132333435363738FFFF\" \"DATA keeps the real bytes\"\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, kv, NULL, &r, &o);
    ck_assert_int_eq(r.ntr, 5);
    ck_assert_str_eq(r.tr[4].rsp, "AA<pin>");
    ck_assert_int_eq(verdict_of(&r, "echo")->v, TR_PASS);
    ck_assert_str_eq(r.tr[0].cmd, "00 20 00 81 10 <pin>");
    ck_assert_str_eq(r.tr[1].cmd, "00 24 00 81 20 <pin> <pin>");
    ck_assert_str_eq(r.tr[2].cmd, "00 20 00 81 08 <pin>");
    ck_assert_str_eq(r.tr[3].cmd, "00 20 00 81 10 <pin>");
    const res_row *v = verdict_of(&r, "verify");
    ck_assert_str_eq(v->msg, "t.tsuite:2: expected SW 9000, got 63C9 (command 00 20 00 81 10 <pin>; answer 63C9)");
    ck_assert_str_eq(r.logs[0], "old <pin> new <pin> hex <pin>");
    ck_assert_str_eq(verdict_of(&r, "ascii")->msg, "t.tsuite:11: was <pin>");
    ck_assert(strstr(verdict_of(&r, "secret in a non-pin var")->msg, "command 00 20 00 81 10 <pin>;") != NULL);
    /* the card did get the real bytes */
    ck_assert_str_eq(fakecard_cmd(&f, 0), "00200081103132333435363738FFFFFFFFFFFFFFFF");
    /* nothing any hook saw carries a PIN, in any form */
    static const char *const forms[] = {"12345678", "87654321", "abcdefgh", "3132333435363738",
                                        "3837363534333231", "6162636465666768", "31 32 33 34"};
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++)
        ck_assert_msg(strstr(r.all, forms[k]) == NULL, "leaked %s in:\n%s", forms[k], r.all);
}
END_TEST

/* ---- measure -------------------------------------------------------------------------------------- */

START_TEST(measure_stats)
{
    fakecard f;
    fakecard_init(&f);
    f.latency_ms = 2;
    const char *src = "test \"fast enough\" {\n"
                      "  measure sign count 20 max_p95_ms 500 min_rate 1 max_mean_ms 400 {\n"
                      "    80 2A 9E 9A 00\n"
                      "    80 2A 9E 9A 00\n"
                      "  }\n"
                      "}\n"
                      "test \"too slow\" {\n"
                      "  classify sign.too-slow\n"
                      "  measure slow count 5 max_p95_ms 0.5 {\n"
                      "    80 2A 9E 9A 00\n"
                      "  }\n"
                      "}\n"
                      "test \"rate\" {\n"
                      "  classify sign.too-slow\n"
                      "  measure r count 3 min_rate 100000 {\n"
                      "    80 2A 9E 9A 00\n"
                      "  }\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "fast enough")->v, TR_PASS);
    ck_assert_int_eq(r.nsamples, 28);
    ck_assert_double_eq(metric_of(&r, "sign.n")->value, 20);
    const res_row *mean = metric_of(&r, "sign.mean");
    ck_assert_str_eq(mean->unit, "ms");
    ck_assert_double_ge(mean->value, 4.0); /* two APDUs of >= 2 ms each */
    ck_assert_double_lt(mean->value, 400.0);
    ck_assert_double_ge(metric_of(&r, "sign.p95")->value, metric_of(&r, "sign.p50")->value);
    ck_assert_double_ge(metric_of(&r, "sign.max")->value, metric_of(&r, "sign.p99")->value);
    const res_row *rate = metric_of(&r, "sign.rate");
    ck_assert_str_eq(rate->unit, "1/s");
    ck_assert_double_eq_tol(rate->value, 1000.0 / mean->value, 1e-6 * rate->value);
    const res_row *slow = verdict_of(&r, "too slow");
    ck_assert_int_eq(slow->v, TR_FAIL);
    ck_assert_str_eq(slow->cls, "sign.too-slow");
    ck_assert(strstr(slow->msg, "measure slow (n=5): p95 ") != NULL);
    ck_assert(strstr(slow->msg, "> max_p95_ms 0.5") != NULL);
    const res_row *p95 = metric_of(&r, "slow.p95");
    ck_assert_int_eq(p95->v, TR_FAIL);
    ck_assert_int_eq(metric_of(&r, "slow.p50")->v, TR_PASS);
    ck_assert(strstr(verdict_of(&r, "rate")->msg, "rate ") != NULL);
    ck_assert(strstr(verdict_of(&r, "rate")->msg, "< min_rate 100000") != NULL);
    ck_assert_uint_gt(r.nlive, 0);
}
END_TEST

START_TEST(metric_rows)
{
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    run_fake("test \"m\" {\n  let D = 12\n  metric days = D unit days\n  metric ratio = 2.5\n}\n", &f, NULL,
             NULL, &r, &o);
    const res_row *d = metric_of(&r, "days");
    ck_assert_double_eq(d->value, 12);
    ck_assert_str_eq(d->unit, "days");
    ck_assert_int_eq(d->line, 3);
    ck_assert_int_eq(d->v, TR_PASS);
    ck_assert_double_eq(metric_of(&r, "ratio")->value, 2.5);
    ck_assert_uint_eq(o.tests, 1); /* metric rows are not tests */
}
END_TEST

/* ---- power, loss, cancel, time ------------------------------------------------------------------- */

START_TEST(power_cycles)
{
    fakecard f;
    fakecard_init(&f);
    const char *src = "test \"recognition\" {\n"
                      "  repeat 3 {\n"
                      "    power-cycle\n"
                      "    00 A4 04 00 00 expect 9000\n"
                      "  }\n"
                      "  power-cycle\n"
                      "}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "recognition")->v, TR_PASS);
    ck_assert_uint_eq(f.cycles, 4);
    ck_assert_uint_eq(o.cycles, 4);
    ck_assert_int_eq(r.ncyc, 4);
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(r.cyc[k].cycle, (unsigned)k + 1);
        ck_assert_str_eq(r.cyc_verdict[k], "pass");
        ck_assert_double_ge(r.cyc[k].to_first_apdu_ms, 2.0); /* to_atr_ms + the first exchange */
    }
    ck_assert_double_eq(r.cyc[3].to_first_apdu_ms, -1); /* no APDU after the last one */

    /* a token that never comes back: fail, classified by stage; the rest is not run */
    fakecard_init(&f);
    f.cycle_fails = true;
    src = "test \"cycle\" {\n  power-cycle\n}\ntest \"next\" {\n  00 A4 00 00\n}\n";
    run_fake(src, &f, NULL, NULL, &r, &o);
    const res_row *c = verdict_of(&r, "cycle");
    ck_assert_int_eq(c->v, TR_FAIL);
    ck_assert_str_eq(c->cls, "enum.no-card");
    ck_assert(strstr(c->msg, "stage reached: reader") != NULL);
    ck_assert_int_eq(r.ncyc, 1);
    ck_assert_str_eq(r.cyc_verdict[0], "enum.no-card");
    const res_row *n = verdict_of(&r, "next");
    ck_assert_int_eq(n->v, TR_ERROR);
    ck_assert(strstr(n->msg, "not run: the token was lost earlier") != NULL);
    ck_assert(o.token_lost);
    ck_assert_uint_eq(f.ncmds, 0);

    /* a rig fault is an error, not a token defect */
    fakecard_init(&f);
    f.cycle_fails = true;
    f.cycle_code = TR_E_RIG;
    run_fake("power-cycle\n", &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert_str_eq(verdict_of(&r, "t")->cls, "rig");
    /* power-off never seen: the hub did not switch, the rig's problem */
    fakecard_init(&f);
    f.cycle_fails = true;
    f.cycle_code = TR_E_RIG;
    snprintf(f.cycle_stage, sizeof f.cycle_stage, "none");
    run_fake("power-cycle\n", &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert_str_eq(verdict_of(&r, "t")->cls, "rig.port-not-switched");
    /* ATR back but no answer: the token's */
    fakecard_init(&f);
    f.cycle_fails = true;
    snprintf(f.cycle_stage, sizeof f.cycle_stage, "atr");
    run_fake("power-cycle\n", &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_FAIL);
    ck_assert_str_eq(verdict_of(&r, "t")->cls, "enum.no-answer");
    /* a vendor library that hung, died or broke its protocol on the way,
     * at any stage: an error of its own class, never the token's enum.* */
    static const struct {
        int code;
        const char *cls;
    } lib_cases[] = {{TR_E_MUTE, "io.mute"}, {TR_E_LIBRARY, "lib.crash"}, {TR_E_IO, "io"}};
    static const char *const stages[] = {"none", "off", "reader", "atr"};
    for (size_t i = 0; i < sizeof lib_cases / sizeof lib_cases[0]; i++) {
        for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++) {
            fakecard_init(&f);
            f.cycle_fails = true;
            f.cycle_code = lib_cases[i].code;
            snprintf(f.cycle_stage, sizeof f.cycle_stage, "%s", stages[k]);
            run_fake("power-cycle\n", &f, NULL, NULL, &r, &o);
            ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
            ck_assert_str_eq(verdict_of(&r, "t")->cls, lib_cases[i].cls);
            ck_assert(strstr(verdict_of(&r, "t")->msg, "the cycle could not be judged") != NULL);
            ck_assert_str_eq(r.cyc_verdict[0], lib_cases[i].cls);
            ck_assert(!tr_cycle_verdict_judged(r.cyc_verdict[0]));
        }
    }
    ck_assert(tr_cycle_verdict_judged("enum.no-card") && tr_cycle_verdict_judged("rig.port-not-switched") &&
              tr_cycle_verdict_judged("pass") && !tr_cycle_verdict_judged("rig") &&
              !tr_cycle_verdict_judged("permission"));
    /* no power switch */
    fakecard_init(&f);
    f.no_power = true;
    run_fake("power-cycle\n", &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert(strstr(verdict_of(&r, "t")->msg, "cannot power-cycle") != NULL);
}
END_TEST

START_TEST(token_lost)
{
    fakecard f;
    fakecard_init(&f);
    f.mute_after = 2;
    const char *src = "test \"a\" {\n  80 01 00 00\n}\n"
                      "test \"b\" {\n  80 02 00 00\n  80 03 00 00\n  80 04 00 00\n}\n"
                      "test \"c\" {\n  80 05 00 00\n}\n";
    rec r;
    tr_suite_outcome o;
    run_fake(src, &f, NULL, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "a")->v, TR_PASS);
    const res_row *b = verdict_of(&r, "b");
    ck_assert_int_eq(b->v, TR_ERROR);
    ck_assert_str_eq(b->cls, "io.mute");
    ck_assert_int_eq(b->line, 6);
    const res_row *c = verdict_of(&r, "c");
    ck_assert_int_eq(c->v, TR_ERROR);
    ck_assert_str_eq(c->cls, "io.mute");
    ck_assert_str_eq(c->msg, "not run: the token was lost earlier (t.tsuite:6: io.mute)");
    ck_assert_uint_eq(f.ncmds, 2);
    ck_assert(o.token_lost);
    ck_assert_str_eq(o.lost_code, "io.mute");
    ck_assert_uint_eq(o.counts[TR_ERROR], 2);
}
END_TEST

START_TEST(cancel_and_budgets)
{
    fakecard f;
    fakecard_init(&f);
    atomic_int cancel = 1;
    run_opts ro = {.cancel = &cancel};
    rec r;
    tr_suite_outcome o;
    run_fake("test \"a\" {\n  80 01 00 00\n}\ntest \"b\" {\n}\n", &f, NULL, &ro, &r, &o);
    ck_assert(o.cancelled);
    ck_assert_int_eq(verdict_of(&r, "a")->v, TR_SKIP);
    ck_assert_str_eq(verdict_of(&r, "b")->msg, "not run: run interrupted");
    ck_assert_str_eq(verdict_of(&r, "b")->cls, "not-run.interrupted");
    ck_assert_uint_eq(f.ncmds, 0);

    /* the step budget stops even an empty loop */
    fakecard_init(&f);
    run_opts rb = {.max_steps = 1000};
    run_fake("repeat 1000000 {\n  repeat 1000000 {\n  }\n}\n", &f, NULL, &rb, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert(strstr(verdict_of(&r, "t")->msg, "step budget of 1000 statements exhausted") != NULL);

    /* the per-test deadline */
    fakecard_init(&f);
    f.latency_ms = 20;
    run_opts rt = {.timeout_s = 0.05};
    run_fake("test \"slow\" {\n  repeat 100 {\n    80 01 00 00\n  }\n}\ntest \"next\" {\n  80 02 00 00\n}\n", &f,
             NULL, &rt, &r, &o);
    const res_row *s = verdict_of(&r, "slow");
    ck_assert_int_eq(s->v, TR_ERROR);
    ck_assert_str_eq(s->cls, "timeout");
    ck_assert(strstr(s->msg, "test exceeded its time limit of 0.05 s") != NULL);
    ck_assert_uint_lt(f.ncmds, 10);
    ck_assert_int_eq(verdict_of(&r, "next")->v, TR_PASS); /* the next test has its own time */
}
END_TEST

/* journal: recorded before its command (values unmasked to the hook, masked
 * everywhere else); a refused record stops the test before the command;
 * the profile's SECRET_INS must be journaled first in a run with a journal. */
START_TEST(journal_statement)
{
    static const char *const kv[] = {"NEW_PIN", "24681357", "OLD_PIN", "12345678", "SECRET_INS", "24 2C", NULL};
    const char *src = "test \"change\" {\n  journal user NEW_PIN else OLD_PIN\n"
                      "  00 24 00 81 20 ${pin:OLD_PIN} ${pin:NEW_PIN}\n  log \"now ${NEW_PIN}\"\n}\n";
    fakecard f;
    fakecard_init(&f);
    run_opts o = {.journal = true};
    rec r;
    tr_suite_outcome out;
    run_fake(src, &f, kv, &o, &r, &out);
    ck_assert_int_eq(verdict_of(&r, "change")->v, TR_PASS);
    ck_assert_int_eq(r.njournal, 1);
    ck_assert_int_eq(r.journal_ref, 0);
    ck_assert_str_eq(r.journal_lands, "24681357");
    ck_assert_str_eq(r.journal_not, "12345678");
    ck_assert_int_eq(r.nsent_after_journal, 1);
    ck_assert_uint_eq(f.ncmds, 1);
    ck_assert_msg(!strstr(r.all, "24681357") && !strstr(r.all, "3234363831333537"), "a PIN leaked: %s", r.all);
    ck_assert_int_eq(r.journaled_answer, TR_JOURNALED_LANDED); /* 9000 */
    /* a wrong old PIN: refused, the PIN unchanged; an execution error: unknown */
    fakecard_init(&f);
    f.default_sw = 0x63C2;
    run_fake(src, &f, kv, &o, &r, &out);
    ck_assert_int_eq(r.journaled_answer, TR_JOURNALED_REFUSED);
    fakecard_init(&f);
    f.default_sw = 0x6581;
    run_fake(src, &f, kv, &o, &r, &out);
    ck_assert_int_eq(r.journaled_answer, TR_JOURNALED_UNKNOWN);

    /* the journal refuses: the command is never sent */
    fakecard_init(&f);
    run_opts refuse = {.journal = true, .journal_refuses = true};
    run_fake(src, &f, kv, &refuse, &r, &out);
    const res_row *v = verdict_of(&r, "change");
    ck_assert_int_eq(v->v, TR_ERROR);
    ck_assert_str_eq(v->cls, "journal");
    ck_assert(strstr(v->msg, "No space left on device") != NULL);
    ck_assert_uint_eq(f.ncmds, 0);

    /* a secret-changing command without its journal record */
    fakecard_init(&f);
    run_fake("test \"t\" {\n  00 2C 00 81 20 ${pin:OLD_PIN} ${pin:NEW_PIN}\n}\n", &f, kv, &o, &r, &out);
    v = verdict_of(&r, "t");
    ck_assert_int_eq(v->v, TR_ERROR);
    ck_assert_msg(strstr(v->msg, "INS 2C") && strstr(v->msg, "journal"), "%s", v->msg);
    ck_assert_uint_eq(f.ncmds, 0);

    /* one record covers one command only */
    fakecard_init(&f);
    run_fake("test \"t\" {\n  journal so OLD_PIN\n  00 24 00 81 00\n  00 24 00 81 00\n}\n", &f, kv, &o, &r, &out);
    ck_assert_int_eq(r.journal_ref, 1);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert_uint_eq(f.ncmds, 1);

    /* a SECRET_INS that is not hex bytes is a configuration error, never a
     * check that quietly reads nothing */
    static const char *const badkv[] = {"NEW_PIN", "24681357", "OLD_PIN", "12345678", "SECRET_INS", "2Q", NULL};
    fakecard_init(&f);
    ck_assert_int_eq(run_fake(src, &f, badkv, &o, &r, &out), -1);
    ck_assert_int_eq(last_err.code, TR_E_CONFIG);
    ck_assert_msg(strstr(last_err.msg, "SECRET_INS = 2Q") != NULL, "%s", last_err.msg);
    ck_assert_uint_eq(f.ncmds, 0);

    /* no journal in this run (unit tests, dry runs): nothing to record into */
    fakecard_init(&f);
    run_fake(src, &f, kv, NULL, &r, &out);
    ck_assert_int_eq(verdict_of(&r, "change")->v, TR_PASS);
    ck_assert_uint_eq(f.ncmds, 1);

    /* recovery's marks: `try` is the record of the command that follows,
     * `refused` records an answer (it covers no command), PINs masked */
    fakecard_init(&f);
    run_fake("test \"t\" {\n  journal user try NEW_PIN\n  00 20 00 81 08 ${pin:NEW_PIN}\n"
             "  journal user refused NEW_PIN\n  journal so try OLD_PIN\n  log \"${NEW_PIN}\"\n}\n",
             &f, kv, &o, &r, &out);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_PASS);
    ck_assert_int_eq(r.nmarks, 3);
    ck_assert_str_eq(r.marks[0], "try 24681357");
    ck_assert_str_eq(r.marks[1], "refused 24681357");
    ck_assert_str_eq(r.marks[2], "so try 12345678");
    ck_assert_int_eq(r.nsent_after_journal, 1);
    ck_assert_int_eq(r.njournal, 0);
    ck_assert_msg(!strstr(r.all, "24681357"), "a PIN leaked: %s", r.all);
    /* a `refused` does not cover a secret-changing command */
    fakecard_init(&f);
    run_fake("test \"t\" {\n  journal user refused NEW_PIN\n  00 2C 00 81 20 ${pin:OLD_PIN} ${pin:NEW_PIN}\n}\n", &f,
             kv, &o, &r, &out);
    ck_assert_int_eq(verdict_of(&r, "t")->v, TR_ERROR);
    ck_assert_uint_eq(f.ncmds, 0);
    /* a mark the journal refuses: the candidate is never presented */
    fakecard_init(&f);
    run_fake("test \"t\" {\n  journal user try NEW_PIN\n  00 20 00 81 08 ${pin:NEW_PIN}\n}\n", &f, kv, &refuse, &r,
             &out);
    ck_assert_str_eq(verdict_of(&r, "t")->cls, "journal");
    ck_assert_uint_eq(f.ncmds, 0);
}
END_TEST

/* random() is reproducible: the same seed sends the same bytes. */
static void random_cmd(uint64_t seed, char *out, size_t cap)
{
    fakecard f;
    fakecard_init(&f);
    tr_cardio io;
    fakecard_cardio(&f, &io);
    tr_suite *s = parse("80 01 00 00 08 ${= random(8)}\n", "r.txt");
    tr_interp_env env = {.card = &io, .seed = seed};
    tr_suite_outcome o;
    tr_err e;
    ck_assert_int_eq(tr_interp_run(s, &env, &o, &e), 0);
    ck_assert_uint_eq(o.counts[TR_PASS], 1);
    snprintf(out, cap, "%s", fakecard_cmd(&f, 0));
    tr_suite_free(s);
}

START_TEST(random_is_seeded)
{
    char a[64], b[64], c[64];
    random_cmd(42, a, sizeof a);
    random_cmd(42, b, sizeof b);
    random_cmd(43, c, sizeof c);
    ck_assert_uint_eq(strlen(a), 26);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(no_card_is_harness_error)
{
    tr_suite *s = parse("00 A4 00 00\n", "x");
    tr_interp_env env = {0};
    tr_suite_outcome o;
    tr_err e;
    ck_assert_int_eq(tr_interp_run(s, &env, &o, &e), -1);
    ck_assert_int_eq(e.code, TR_E_INTERNAL);
    tr_suite_free(s);
}
END_TEST

/* ---- against the REF-1 token model ---------------------------------------------------------------- */

static const char *const SELECT = "00 A4 04 00 08 ${AID} 00 expect 9000\n";

START_TEST(ref1_pin_lockout_and_restore)
{
    ref1_fix *x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, NULL);
    char src[4096];
    snprintf(src, sizeof src,
             "test \"lockout\" {\n"
             "  destructive\n"
             "  classify pin.no-lockout\n"
             "  %s"
             "  00 20 00 81 expect 63C${nib:PIN_MAX_TRIES}\n"
             "  for I = PIN_MAX_TRIES - 1 downto 0 {\n"
             "    00 20 00 81 10 ${pin:WRONG_PIN} expect 63C${nib:I}\n"
             "  }\n"
             "  00 20 00 81 10 ${pin:DEFAULT_PIN} expect 6983\n"
             "  cleanup {\n"
             "    00 2C 00 81 20 ${pin:SO_PIN} ${pin:DEFAULT_PIN} expect 9000\n"
             "    00 20 00 81 expect 63C${nib:PIN_MAX_TRIES}\n"
             "  }\n"
             "}\n",
             SELECT);
    run_opts ro = {.allow_destructive = true};
    rec r;
    tr_suite_outcome o;
    run_ref1(src, x, &ro, &r, &o);
    const res_row *t = verdict_of(&r, "lockout");
    ck_assert_msg(t->v == TR_PASS, "%s", t->msg);
    ck_assert_int_eq(x->tok.nv.user_tries, 10);
    fix_free(x);

    /* the same suite catches no-lockout */
    ref1_faults f = {.no_lockout = true};
    x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, &f);
    run_ref1(src, x, &ro, &r, &o);
    t = verdict_of(&r, "lockout");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "pin.no-lockout");
    ck_assert(strstr(t->msg, "expected SW 63C9, got 63CA (command 00 20 00 81 10 <pin>; answer 63CA)") != NULL);
    ck_assert(strstr(r.all, "3939393939393939") == NULL);
    fix_free(x);
}
END_TEST

START_TEST(ref1_read_cert_and_sign)
{
    ref1_fix *x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, NULL);
    char src[4096];
    snprintf(src, sizeof src,
             "test \"sign\" {\n"
             "  classify sign.bad-signature\n"
             "  %s"
             "  00 A4 02 0C 02 ${CERT_FID} expect 9000\n"
             "  read-binary CERT chunk READ_CHUNK\n"
             "  00 20 00 81 10 ${pin:DEFAULT_PIN} expect 9000\n"
             "  measure sign count 6 {\n"
             "    let MSG = concat(asciihex(\"bid \"), hex(I0 + 0))\n"
             "    let IN = sign_input(ALG, CERT, MSG)\n"
             "    00 2A 9E 9A ${len:IN} ${IN} 00 expect 9000\n"
             "    assert sig_ok(ALG, CERT, MSG, DATA) \"signature ${= I0} does not verify\"\n"
             "    let I0 = I0 + 1\n"
             "  }\n"
             "}\n",
             SELECT);
    tr_vars_set(x->vars, "I0", "0");
    rec r;
    tr_suite_outcome o;
    run_ref1(src, x, NULL, &r, &o);
    const res_row *t = verdict_of(&r, "sign");
    ck_assert_msg(t->v == TR_PASS, "%s", t->msg);
    ck_assert_int_eq(r.nsamples, 6);
    /* read-binary read the whole certificate in 256-byte chunks */
    unsigned long reads = 0;
    for (int k = 0; k < r.ntr; k++)
        if (!strncmp(r.tr[k].cmd, "00 B0", 5))
            reads++;
    ck_assert_uint_eq(reads, x->cert_len / 256 + 1);
    fix_free(x);

    /* every 3rd signature wrong: caught, with the signature number in the message */
    ref1_faults f = {.bad_signature_every = 3};
    x = fix_new(TR_ALG_ECDSA_P256, REF1_ROLE_MAIN, 300, &f);
    tr_vars_set(x->vars, "I0", "0");
    run_ref1(src, x, NULL, &r, &o);
    t = verdict_of(&r, "sign");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "sign.bad-signature");
    ck_assert(strstr(t->msg, "signature 2 does not verify") != NULL);
    fix_free(x);
}
END_TEST

START_TEST(ref1_read_binary_bounds)
{
    ref1_fix *x = fix_new(TR_ALG_ECDSA_P256, REF1_ROLE_MAIN, 300, NULL);
    rec r;
    tr_suite_outcome o;
    char src[2048];
    snprintf(src, sizeof src,
             "test \"chunks\" {\n  %s  00 A4 02 0C 02 C0 01\n  read-binary A chunk 100\n"
             "  read-binary B chunk 1000\n  assert A == B && len(A) == %zu\n}\n"
             "test \"max\" {\n  classify cert.too-big\n  00 A4 02 0C 02 C0 01\n  read-binary C max 100\n}\n"
             "test \"no file\" {\n  classify seal.missing-on-main\n  00 A4 02 0C 02 5E 01\n  read-binary S\n}\n",
             SELECT, x->cert_len);
    run_ref1(src, x, NULL, &r, &o);
    ck_assert_msg(verdict_of(&r, "chunks")->v == TR_PASS, "%s", verdict_of(&r, "chunks")->msg);
    const res_row *m = verdict_of(&r, "max");
    ck_assert_int_eq(m->v, TR_FAIL);
    ck_assert_str_eq(m->cls, "cert.too-big");
    ck_assert(strstr(m->msg, "file longer than the maximum of 100 bytes") != NULL);
    const res_row *n = verdict_of(&r, "no file");
    ck_assert_int_eq(n->v, TR_FAIL);
    ck_assert(strstr(n->msg, "read-binary: READ BINARY at offset 0 answered 6982") != NULL);
    fix_free(x);
}
END_TEST

START_TEST(ref1_cert_classes)
{
    static const struct {
        double days;
        const char *cls;
    } cases[] = {{300, "valid"}, {10, "renewal-due"}, {30, "renewal-due"}, {-5, "expired"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ref1_fix *x = fix_new(TR_ALG_ECDSA_P256, REF1_ROLE_MAIN, cases[k].days, NULL);
        char src[2048];
        snprintf(src, sizeof src,
                 "test \"expiry\" {\n  %s  00 A4 02 0C 02 ${CERT_FID}\n  read-binary CERT\n"
                 "  cert-info CERT window 30\n"
                 "  metric cert.days_left = CERT_DAYS_LEFT unit days\n"
                 "  assert CERT_CLASS == \"%s\" \"class ${CERT_CLASS}\"\n"
                 "  assert CERT_PARSED && CERT_KEY_ALG == \"ecdsa\" && CERT_VALIDITY_DAYS == %d\n"
                 "  if CERT_CLASS == \"expired\" {\n    fail \"expired ${CERT_NOT_AFTER}\" classify cert.expired\n  }\n"
                 "}\n",
                 SELECT, cases[k].cls, (int)(30 + cases[k].days));
        rec r;
        tr_suite_outcome o;
        run_ref1(src, x, NULL, &r, &o);
        const res_row *t = verdict_of(&r, "expiry");
        if (!strcmp(cases[k].cls, "expired")) {
            ck_assert_int_eq(t->v, TR_FAIL);
            ck_assert_str_eq(t->cls, "cert.expired");
            ck_assert(strstr(t->msg, "expired 2025-12-27T00:00:00Z") != NULL);
        } else {
            ck_assert_msg(t->v == TR_PASS, "%g days: %s", cases[k].days, t->msg);
        }
        ck_assert_double_eq(metric_of(&r, "cert.days_left")->value, floor(cases[k].days));
        fix_free(x);
    }
    /* garbage is reported through the variables, not as a crash or an error */
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    run_fake("cert-info \"3003020100\"\nassert !CERT_PARSED && CERT_CLASS == \"unparseable\"\n"
             "assert CERT_PROBLEM != \"\"\n", &f, NULL, NULL, &r, &o);
    ck_assert_msg(verdict_of(&r, "t")->v == TR_PASS, "%s", verdict_of(&r, "t")->msg);
}
END_TEST

START_TEST(ref1_seal_by_role)
{
    const char *fmt = "test \"seal\" {\n"
                      "  %s"
                      "  00 20 00 81 10 ${pin:DEFAULT_PIN} expect 9000\n"
                      "  00 A4 02 0C 02 ${CERT_FID} expect 9000\n"
                      "  read-binary CERT\n"
                      "  00 A4 02 0C 02 ${SEAL_FID}\n"
                      "  if ROLE == \"main\" {\n"
                      "    expect 9000|6A82\n"
                      "    if SW == \"6A82\" {\n"
                      "      fail \"main key without a seal\" classify seal.missing-on-main\n"
                      "    }\n"
                      "    read-binary SEAL\n"
                      "    seal-info SEAL cert CERT\n"
                      "    assert SEAL_PARSED \"${SEAL_PROBLEM}\" classify seal.unparseable\n"
                      "    assert SEAL_SIG_OK \"seal signature: ${SEAL_PROBLEM}\" classify seal.bad-signature\n"
                      "    assert SEAL_VERSION == 4 && SEAL_HEADER_ID == \"ES\" && SEAL_VALID_NOW\n"
                      "    assert SEAL_PIC_OK && SEAL_PIC_TYPE == \"PNG\" && SEAL_PIC_W == 64 && SEAL_CERT_LISTED\n"
                      "  } else {\n"
                      "    if SW != \"6A82\" {\n"
                      "      fail \"secondary key answers ${SW} to the seal\" classify seal.present-on-secondary\n"
                      "    }\n"
                      "  }\n"
                      "}\n";
    char src[4096];
    snprintf(src, sizeof src, fmt, SELECT);
    static const struct {
        ref1_role role;
        ref1_faults f;
        const char *cls;
    } cases[] = {
        {REF1_ROLE_MAIN, {0}, NULL},
        {REF1_ROLE_SECONDARY, {0}, NULL},
        {REF1_ROLE_SECONDARY, {.seal_on_secondary = true}, "seal.present-on-secondary"},
        {REF1_ROLE_MAIN, {.no_seal_on_main = true}, "seal.missing-on-main"},
        {REF1_ROLE_MAIN, {.bad_seal_signature = true}, "seal.bad-signature"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ref1_fix *x = fix_new(TR_ALG_SM2, cases[k].role, 300, &cases[k].f);
        rec r;
        tr_suite_outcome o;
        run_ref1(src, x, NULL, &r, &o);
        const res_row *t = verdict_of(&r, "seal");
        if (!cases[k].cls) {
            ck_assert_msg(t->v == TR_PASS, "case %zu: %s", k, t->msg);
        } else {
            ck_assert_msg(t->v == TR_FAIL, "case %zu: %d %s", k, t->v, t->msg);
            ck_assert_str_eq(t->cls, cases[k].cls);
        }
        fix_free(x);
    }
    /* not a seal at all */
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    run_fake("seal-info \"300100\"\nassert !SEAL_PARSED && SEAL_PROBLEM != \"\" && !SEAL_SIG_OK\n", &f, NULL, NULL,
             &r, &o);
    ck_assert_msg(verdict_of(&r, "t")->v == TR_PASS, "%s", verdict_of(&r, "t")->msg);
}
END_TEST

/* A file of the mkpki fixture set ($TR_PKI) as hex, or its path. */
static char *pki_hex(const char *name)
{
    const char *dir = getenv("TR_PKI");
    ck_assert_msg(dir && *dir, "set TR_PKI to a mkpki fixture-set directory (make test-unit does)");
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *d;
    size_t n;
    tr_err e;
    ck_assert_msg(pki_read_file(path, &d, &n, 1u << 20, &e) == 0, "%s", e.msg);
    char *hex = malloc(2 * n + 1);
    tr_hex_encode(d, n, hex, 2 * n + 1, 0);
    free(d);
    return hex;
}

static const char *pki_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", getenv("TR_PKI"), name);
    return out;
}

/* cert-info / seal-info `trust FILE`: the chain variables for a trusted, a
 * look-alike and a missing anchor; an anchor file that cannot be used is a
 * configuration error naming it, not a token verdict. */
START_TEST(trust_statements)
{
    char *good = pki_hex("sm2-valid.crt.der"), *other = pki_hex("sm2-other-ca.crt.der");
    char *seal = pki_hex("seal-v4-sm2.der"), *rogue = pki_hex("seal-v1-sm2-rogue.der");
    char ca[600], root[600], missing[600];
    pki_path("ca.crt.der", ca, sizeof ca);
    pki_path("sealroot.crt.pem", root, sizeof root);
    pki_path("no-such-root.der", missing, sizeof missing);
    const char *kv[] = {"GOOD", good, "OTHER", other, "SEAL", seal, "ROGUE", rogue, "CA_ROOT", ca,
                        "SEAL_MAKER_ROOT", root, "MISSING", missing, NULL};
    const char *src =
        "test \"ok\" {\n"
        "  cert-info GOOD window 30 trust CA_ROOT\n"
        "  assert CERT_CHAIN_OK && CERT_CHAIN_PROBLEM == \"\"\n" /* whatever CERT_CLASS (NOW is fixed) */
        "  assert CERT_ISSUER == \"O = tokenrig test PKI, CN = tokenrig test CA\" \"${CERT_ISSUER}\"\n"
        "  seal-info SEAL trust SEAL_MAKER_ROOT\n"
        "  assert SEAL_MAKER_TRUSTED && SEAL_SIG_OK && SEAL_MAKER_PROBLEM == \"\"\n"
        "  assert SEAL_MAKER == \"O = tokenrig test PKI, CN = tokenrig test seal maker\"\n"
        "}\n"
        "test \"other ca\" {\n"
        "  cert-info OTHER trust CA_ROOT\n"
        "  assert CERT_PARSED && !CERT_CHAIN_OK\n"
        "  fail \"${CERT_CHAIN_PROBLEM}\" classify cert.untrusted-ca\n"
        "}\n"
        "test \"rogue maker\" {\n"
        "  seal-info ROGUE trust SEAL_MAKER_ROOT\n"
        "  assert SEAL_PARSED && SEAL_SIG_OK && SEAL_VERSION == 1\n"
        "  assert SEAL_MAKER_TRUSTED \"${SEAL_MAKER_PROBLEM}\" classify seal.untrusted-maker\n"
        "}\n"
        "test \"no anchor\" {\n"
        "  cert-info GOOD\n"
        "  seal-info SEAL\n"
        "  assert !CERT_CHAIN_OK && !SEAL_MAKER_TRUSTED && SEAL_SIG_OK\n"
        "  assert CERT_CHAIN_PROBLEM == \"no trust anchor given (cert-info ... trust FILE)\"\n"
        "  seal-info \"300100\" trust SEAL_MAKER_ROOT\n"
        "  assert !SEAL_MAKER_TRUSTED && SEAL_MAKER_PROBLEM != \"\" && !SEAL_PARSED\n"
        "}\n"
        "test \"number\" {\n"
        "  cert-info GOOD trust 3\n"
        "}\n";
    fakecard f;
    fakecard_init(&f);
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake(src, &f, kv, NULL, &r, &o), 0);
    ck_assert_msg(verdict_of(&r, "ok")->v == TR_PASS, "%s", verdict_of(&r, "ok")->msg);
    ck_assert_msg(verdict_of(&r, "no anchor")->v == TR_PASS, "%s", verdict_of(&r, "no anchor")->msg);
    const res_row *t = verdict_of(&r, "other ca");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "cert.untrusted-ca");
    ck_assert_msg(strstr(t->msg, "look-alike"), "%s", t->msg);
    t = verdict_of(&r, "rogue maker");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "seal.untrusted-maker");
    ck_assert_msg(strstr(t->msg, "unable to get local issuer certificate"), "%s", t->msg);
    t = verdict_of(&r, "number");
    ck_assert_int_eq(t->v, TR_ERROR);
    ck_assert_msg(strstr(t->msg, "expected the path of a certificate file, found a number"), "%s", t->msg);
    /* a missing anchor file stops the suite with a configuration error */
    ck_assert_int_eq(run_fake("test \"a\" {\n  seal-info SEAL trust MISSING\n}\ntest \"b\" {\n}\n", &f, kv,
                              NULL, &r, &o), -1);
    ck_assert_int_eq(last_err.code, TR_E_CONFIG);
    ck_assert_msg(strstr(last_err.msg, missing) && strstr(last_err.msg, "seal-info trust (line 2)"), "%s",
                  last_err.msg);
    ck_assert_msg(r.nres == 0, "no verdict for a test the anchor file stopped: %d rows", r.nres);
    free(good);
    free(other);
    free(seal);
    free(rogue);
}
END_TEST

START_TEST(ref1_counter_reset_by_power)
{
    const char *src = "test \"counter survives power\" {\n"
                      "  destructive\n"
                      "  classify pin.counter-reset-by-power\n"
                      "  00 A4 04 00 08 ${AID} 00 expect 9000\n"
                      "  00 20 00 81 10 ${pin:WRONG_PIN} expect 63C${nib:PIN_MAX_TRIES - 1}\n"
                      "  power-cycle\n"
                      "  00 A4 04 00 08 ${AID} 00 expect 9000\n"
                      "  00 20 00 81 expect 63C${nib:PIN_MAX_TRIES - 1}\n"
                      "  cleanup {\n"
                      "    00 20 00 81 10 ${pin:DEFAULT_PIN} expect 9000\n"
                      "  }\n"
                      "}\n";
    run_opts ro = {.allow_destructive = true};
    ref1_fix *x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, NULL);
    rec r;
    tr_suite_outcome o;
    run_ref1(src, x, &ro, &r, &o);
    ck_assert_msg(verdict_of(&r, "counter survives power")->v == TR_PASS, "%s",
                  verdict_of(&r, "counter survives power")->msg);
    ck_assert_int_eq(r.ncyc, 1);
    ck_assert_double_gt(r.cyc[0].to_first_apdu_ms, 0);
    ck_assert_int_eq(x->tok.nv.user_tries, 10);
    fix_free(x);
    ref1_faults f = {.counter_reset_on_power = true};
    x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, &f);
    run_ref1(src, x, &ro, &r, &o);
    const res_row *t = verdict_of(&r, "counter survives power");
    ck_assert_int_eq(t->v, TR_FAIL);
    ck_assert_str_eq(t->cls, "pin.counter-reset-by-power");
    ck_assert_int_eq(t->line, 8);
    fix_free(x);
}
END_TEST

/* The shipped examples run against a REF-1 token with the real profile. */
static void run_example(const char *path, const char *profile, const char *role, ref1_role r1role,
                        bool destructive, rec *r, tr_suite_outcome *o)
{
    ref1_fix *x = fix_new(TR_ALG_SM2, r1role, 300, NULL);
    tr_profile prof;
    tr_err e;
    char buf[1200];
    ck_assert_msg(tr_profile_load(profile, &prof, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    tr_vars *slot = tr_vars_new(prof.vars);
    tr_vars_set(slot, "ROLE", role);
    tr_suite *s;
    ck_assert_msg(tr_suite_load(path, &s, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    memset(r, 0, sizeof *r);
    tr_interp_hooks h = hooks_for(r);
    tr_interp_env env = {.card = &x->io, .vars = slot, .now = NOW, .hooks = &h,
                         .allow_destructive = destructive};
    ck_assert_int_eq(tr_interp_run(s, &env, o, &e), 0);
    tr_suite_free(s);
    tr_vars_free(slot);
    tr_profile_free(&prof);
    ck_assert_int_eq(x->tok.nv.user_tries, 10); /* left in factory state */
    ck_assert_int_eq(x->tok.nv.default_flag, 1);
    fix_free(x);
}

START_TEST(ref1_time_and_protocol_faults)
{
    rec r;
    tr_suite_outcome o;
    char src[1024];
    /* slow-start: the REF-1 token's own lateness after a rig power-on */
    ref1_faults fs = {.slow_start_ms = 60};
    ref1_fix *x = fix_new(TR_ALG_SM2, REF1_ROLE_MAIN, 300, &fs);
    x->card.honour_late = true;
    tr_vars_set(x->vars, "FIRST_APDU_MAX_MS", "40");
    tr_vars_set(x->vars, "APDU_MAX_MS", "40");
    snprintf(src, sizeof src, "test \"start\" {\n  %s}\ntest \"cycle\" {\n  power-cycle\n  %s  %s}\n", SELECT, SELECT,
             SELECT);
    run_ref1(src, x, NULL, &r, &o);
    ck_assert_int_eq(verdict_of(&r, "start")->v, TR_PASS); /* not after the rig's start-up */
    ck_assert_int_eq(verdict_of(&r, "cycle")->v, TR_FAIL);
    ck_assert_str_eq(verdict_of(&r, "cycle")->cls, "time.slow-start");
    ck_assert_int_eq(verdict_of(&r, "cycle")->line, 6); /* the first command after the cycle */
    fix_free(x);
    /* short-read-9000: the certificate read stops with the token's defect */
    ref1_faults fr = {.short_read_9000 = true};
    x = fix_new(TR_ALG_ECDSA_P256, REF1_ROLE_MAIN, 300, &fr);
    snprintf(src, sizeof src, "test \"cert\" {\n  %s  00 A4 02 0C 02 C0 01\n  read-binary CERT\n}\n"
                              "test \"parse\" {\n  cert-info CERT\n}\n", SELECT);
    run_ref1(src, x, NULL, &r, &o);
    ck_assert_str_eq(verdict_of(&r, "cert")->cls, "proto.short-read");
    ck_assert_str_eq(verdict_of(&r, "parse")->msg, "not run: CERT is not set: test \"cert\" failed (proto.short-read)");
    fix_free(x);
    /* trailing-bytes: what tlv_trailing() sees in the token info */
    ref1_faults ft = {.trailing_bytes = true};
    x = fix_new(TR_ALG_RSA2048, REF1_ROLE_SECONDARY, 300, &ft);
    snprintf(src, sizeof src, "test \"info\" {\n  %s  00 CA 01 00 00\n  assert tlv_trailing(DATA) == \"011054\"\n"
                              "  assert ascii(tlv(DATA, 1)) == \"TR00000000000001\"\n}\n", SELECT);
    run_ref1(src, x, NULL, &r, &o);
    ck_assert_msg(verdict_of(&r, "info")->v == TR_PASS, "%s", verdict_of(&r, "info")->msg);
    fix_free(x);
}
END_TEST

START_TEST(examples_run_on_ref1)
{
    rec r;
    tr_suite_outcome o;
    run_example("suites/examples/scriptor-select.txt", "fixtures/profiles/ref1-sm2.ini", "main", REF1_ROLE_MAIN,
                false, &r, &o);
    ck_assert_uint_eq(o.tests, 1);
    ck_assert_msg(o.counts[TR_PASS] == 1, "%s", r.res[0].msg);
    ck_assert_int_ge(r.ntr, 3);
    for (int k = 0; k < r.ntr; k++)
        ck_assert_msg(strcmp(r.tr[k].sw, "6D00") && strcmp(r.tr[k].sw, "6E00"), "line %d answered %s",
                      r.tr[k].line, r.tr[k].sw);
    run_example("suites/examples/basic.tsuite", "fixtures/profiles/ref1-sm2.ini", "main", REF1_ROLE_MAIN, true, &r,
                &o);
    for (int k = 0; k < r.nres; k++)
        ck_assert_msg(r.res[k].v == TR_PASS, "%s: %s", r.res[k].test, r.res[k].msg);
    ck_assert_uint_eq(o.counts[TR_PASS], o.tests);
    ck_assert_uint_ge(o.tests, 4);
    run_example("suites/examples/basic.tsuite", "fixtures/profiles/ref1-sm2.ini", "secondary",
                REF1_ROLE_SECONDARY, false, &r, &o);
    ck_assert_uint_eq(o.counts[TR_FAIL] + o.counts[TR_ERROR], 0);
    ck_assert_uint_ge(o.counts[TR_SKIP], 1);
}
END_TEST

/* suites/lib/ops-apdu.tsuite: the token operations the certification
 * suites call (a run loads it for every apdu slot). */
static tr_suite *load_ops_apdu(void)
{
    tr_suite *ops;
    tr_err e;
    char buf[1200];
    ck_assert_msg(tr_suite_load("suites/lib/ops-apdu.tsuite", &ops, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    return ops;
}

/* How the in-process token misbehaves beyond its REF-1 faults: defects no
 * vtoken switch has, made by the card in front of it. */
typedef enum {
    PM_HEALTHY,
    PM_LAST_WRONG_BLOCKED, /* the VERIFY that spends the last try answers 6983, not 63C0 */
    PM_RESET_RESTORES_SO,  /* a warm reset gives the SO counter back */
} pm_tamper;

typedef struct {
    tr_cardio inner;
    ref1_fix *x;
    pm_tamper mode;
} tamper_card;

static int tamper_transmit(void *ctx, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap, size_t *rlen,
                           tr_err *e)
{
    tamper_card *t = ctx;
    if (t->inner.transmit(t->inner.ctx, apdu, n, rsp, cap, rlen, e) < 0)
        return -1;
    bool verify_with_pin = n > 5 && apdu[1] == 0x20 && apdu[4] != 0;
    if (t->mode == PM_LAST_WRONG_BLOCKED && verify_with_pin && *rlen >= 2 && rsp[*rlen - 2] == 0x63 &&
        rsp[*rlen - 1] == 0xC0)
        rsp[*rlen - 2] = 0x69, rsp[*rlen - 1] = 0x83;
    return 0;
}

static int tamper_reset(void *ctx, bool cold, tr_err *e)
{
    tamper_card *t = ctx;
    int r = t->inner.reset(t->inner.ctx, cold, e);
    if (t->mode == PM_RESET_RESTORES_SO && !cold)
        t->x->tok.nv.so_tries = t->x->tok.nv.so_max_tries;
    return r;
}

static int tamper_cycle(void *ctx, tr_cycle_report *rep, tr_err *e)
{
    tamper_card *t = ctx;
    return t->inner.power_cycle(t->inner.ctx, rep, e);
}

static size_t tamper_atr(void *ctx, uint8_t *out, size_t cap)
{
    tamper_card *t = ctx;
    return t->inner.atr(t->inner.ctx, out, cap);
}

/* What pin_model_on runs: the token's faults, a tamper, and whether the
 * slot has a power switch. */
typedef struct {
    ref1_role role;
    const ref1_faults *f;
    pm_tamper tamper;
    bool no_power; /* a slot of type none */
} pm_case;

/* suites/pin-model.tsuite with the real profile on an in-process REF-1
 * token: returns the test's row; *factory says whether the token ended in
 * factory state. */
static res_row pin_model_run(const pm_case *c, bool *factory, char *log, size_t logcap)
{
    ref1_fix *x = fix_new(TR_ALG_SM2, c->role, 300, c->f);
    tamper_card tc = {x->io, x, c->tamper};
    tr_cardio io = {&tc, tamper_transmit, tamper_reset, tamper_cycle, tamper_atr};
    tr_profile prof;
    tr_err e;
    char buf[1200];
    ck_assert_msg(tr_profile_load("fixtures/profiles/ref1-sm2.ini", &prof, &e) == 0, "%s",
                  tr_err_format(&e, buf, sizeof buf));
    tr_suite *s;
    ck_assert_msg(tr_suite_load("suites/pin-model.tsuite", &s, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    tr_suite *ops = load_ops_apdu();
    tr_vars *v = tr_vars_new(prof.vars);
    tr_vars_set(v, "INTERFACE", "apdu");
    if (c->no_power)
        tr_vars_set(v, "POWER", "none");
    rec *r = calloc(1, sizeof *r);
    tr_interp_hooks h = hooks_for(r);
    tr_interp_env env = {.card = &io, .vars = v, .now = NOW, .hooks = &h, .allow_destructive = true, .ops = ops,
                         .no_power = c->no_power ? "slot s1 has no power switch (type none)" : NULL};
    tr_suite_outcome o;
    ck_assert_int_eq(tr_interp_run(s, &env, &o, &e), 0);
    res_row row = *verdict_of(r, "the PIN state model: every transition, every observable");
    snprintf(log, logcap, "%s", r->nlogs ? r->logs[r->nlogs - 1] : "");
    *factory = x->tok.nv.user_tries == 10 && x->tok.nv.default_flag == 1 && x->tok.nv.so_tries == 10;
    free(r);
    tr_vars_free(v);
    tr_suite_free(ops);
    tr_suite_free(s);
    tr_profile_free(&prof);
    fix_free(x);
    return row;
}

static res_row pin_model_on(ref1_role role, const ref1_faults *f, bool *factory, char *log, size_t logcap)
{
    pm_case c = {role, f, PM_HEALTHY, false};
    return pin_model_run(&c, factory, log, logcap);
}

/* "PIN model: S steps, T of R ... pairs taken" */
static void pairs_taken(const char *log, unsigned *taken, unsigned *reachable)
{
    const char *at = strstr(log, "steps, ");
    ck_assert_msg(at && sscanf(at + 7, "%u of %u", taken, reachable) == 2, "%s", log);
}

/* The model passes a healthy token of either role, covering every
 * (transition, kind of state) pair, and ends in factory state; each PIN
 * defect fails with the class of the property it breaks. */
START_TEST(pin_model_on_ref1)
{
    bool factory;
    char log[600];
    for (int k = 0; k < 2; k++) {
        res_row t = pin_model_on(k ? REF1_ROLE_SECONDARY : REF1_ROLE_MAIN, NULL, &factory, log, sizeof log);
        ck_assert_msg(t.v == TR_PASS, "%s", t.msg);
        ck_assert(factory);
        unsigned taken = 0, reachable = 0;
        pairs_taken(log, &taken, &reachable);
        ck_assert_uint_eq(taken, reachable);
        ck_assert_uint_ge(reachable, 40);
        ck_assert_msg(strstr(log, "left out") == NULL, "%s", log);
    }
    static const struct {
        ref1_faults f;
        const char *cls;
    } cases[] = {
        {{.no_lockout = true}, "pin.no-lockout"},
        {{.counter_reset_on_power = true}, "pin.counter-reset-by-power"},
        {{.default_flag_stuck = true}, "pin.default-flag-wrong"},
        {{.sign_without_pin = true}, "sign.no-pin-required"},
        {{.change_ignores_block = true}, "pin.no-lockout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        res_row t = pin_model_on(REF1_ROLE_MAIN, &cases[i].f, &factory, log, sizeof log);
        ck_assert_int_eq(t.v, TR_FAIL);
        ck_assert_msg(!strcmp(t.cls, cases[i].cls), "want %s, got %s: %s", cases[i].cls, t.cls, t.msg);
        ck_assert_msg(strstr(t.msg, "the model says") != NULL, "%s", t.msg);
    }
    /* change-ignores-block: caught at a CHANGE while blocked */
    ref1_faults cib = {.change_ignores_block = true};
    res_row t = pin_model_on(REF1_ROLE_MAIN, &cib, &factory, log, sizeof log);
    ck_assert_msg(strstr(t.msg, "after CHANGE ") && strstr(t.msg, "while blocked"), "%s", t.msg);
    /* not in factory state: nothing is tried */
    ref1_faults nd = {.non_default_pin = true};
    t = pin_model_on(REF1_ROLE_MAIN, &nd, &factory, log, sizeof log);
    ck_assert_int_eq(t.v, TR_SKIP);
    ck_assert(strstr(t.msg, "not in factory state") != NULL);
}
END_TEST

/* Defects with no vtoken switch, each with the class of what it breaks:
 * 6983 to the last wrong VERIFY is a wrong count (the PIN is blocked as
 * it must be; no wrong PIN was accepted); an SO counter a warm reset gives
 * back is a counter reset by the reset. */
START_TEST(pin_model_classes_of_tampered_tokens)
{
    static const struct {
        pm_tamper tamper;
        const char *cls, *where;
    } cases[] = {
        {PM_LAST_WRONG_BLOCKED, "pin.counter-wrong", "after the last wrong VERIFY"},
        {PM_RESET_RESTORES_SO, "pin.counter-reset-by-reset", "after warm reset"},
    };
    bool factory;
    char log[600];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pm_case c = {REF1_ROLE_MAIN, NULL, cases[i].tamper, false};
        res_row t = pin_model_run(&c, &factory, log, sizeof log);
        ck_assert_int_eq(t.v, TR_FAIL);
        ck_assert_msg(!strcmp(t.cls, cases[i].cls), "want %s, got %s: %s", cases[i].cls, t.cls, t.msg);
        ck_assert_msg(strstr(t.msg, cases[i].where) != NULL, "%s", t.msg);
    }
}
END_TEST

/* A slot without a power switch: the walk leaves the power cycle out and
 * still checks everything else (a defect still fails), and a walk that
 * passed is not a pass: not-run.no-power, saying what was left out. */
START_TEST(pin_model_without_power)
{
    bool factory;
    char log[600];
    pm_case c = {REF1_ROLE_MAIN, NULL, PM_HEALTHY, true};
    res_row t = pin_model_run(&c, &factory, log, sizeof log);
    ck_assert_int_eq(t.v, TR_SKIP);
    ck_assert_str_eq(t.cls, "not-run.no-power");
    ck_assert_msg(strstr(t.msg, "slot s1 has no power switch (type none)") && strstr(t.msg, "left out: power cycle"),
                  "%s", t.msg);
    ck_assert(factory);
    unsigned taken = 0, reachable = 0;
    pairs_taken(log, &taken, &reachable);
    ck_assert_uint_eq(taken, reachable);
    ck_assert_msg(strstr(log, "left out, the interface cannot: power cycle ("), "%s", log);
    /* with power, more pairs */
    unsigned all_taken = 0, all_reachable = 0;
    pin_model_on(REF1_ROLE_MAIN, NULL, &factory, log, sizeof log);
    pairs_taken(log, &all_taken, &all_reachable);
    ck_assert_uint_gt(all_reachable, reachable);
    /* a defect the walk meets without a power cycle still fails */
    ref1_faults nl = {.no_lockout = true};
    c.f = &nl;
    t = pin_model_run(&c, &factory, log, sizeof log);
    ck_assert_int_eq(t.v, TR_FAIL);
    ck_assert_str_eq(t.cls, "pin.no-lockout");
}
END_TEST

/* ---- suites/decrypt.tsuite on an in-process REF-1 token ------------------------------------------ */

/* What the token's encryption pair is. */
typedef enum { ENC_OWN, ENC_NONE, ENC_OTHER_KEY, ENC_SIGN_KEY, ENC_OTHER_HOLDER, ENC_EXPIRED } enc_mode;

/* Keys beside the signing key (cached_key): k = 0 the encryption key, 1 another one. */
static EVP_PKEY *spare_key(tr_alg alg, int k)
{
    static EVP_PKEY *keys[4][2];
    tr_err e;
    if (!keys[alg][k]) {
        keys[alg][k] = pki_keygen(alg, &e);
        ck_assert_msg(keys[alg][k] != NULL, "keygen: %s", e.msg);
    }
    return keys[alg][k];
}

/* Give the token of x an encryption pair as mode says (the signing
 * certificate is CN=TR00000000000001, O=Example Org, 300 days left), then
 * start it again. */
static void fix_enc(ref1_fix *x, tr_alg alg, enc_mode mode)
{
    if (mode == ENC_NONE)
        return;
    tr_err e;
    EVP_PKEY *k = spare_key(alg, 0);
    EVP_PKEY *in_cert = mode == ENC_OTHER_KEY ? spare_key(alg, 1) : mode == ENC_SIGN_KEY ? x->key : k;
    X509 *c = pki_issue_cert(in_cert, "TR00000000000001", mode == ENC_OTHER_HOLDER ? "Another Org" : "Example Org",
                             NOW - 30 * DAY, mode == ENC_EXPIRED ? NOW - 5 * DAY : NOW + 300 * DAY, false, NULL,
                             NULL, &e);
    ck_assert_msg(c != NULL, "issue: %s", e.msg);
    x->enc_cert = cert_der(c, &x->enc_cert_len);
    X509_free(c);
    x->cfg.enc_key = k;
    x->cfg.enc_cert = x->enc_cert;
    x->cfg.enc_cert_len = x->enc_cert_len;
    ref1_token_free(&x->tok);
    ck_assert_msg(ref1_token_init(&x->tok, &x->cfg, &x->nv, &e) == 0, "token: %s", e.msg);
    fakecard_init_ref1(&x->card, &x->tok);
    fakecard_cardio(&x->card, &x->io);
}

/* suites/decrypt.tsuite with the real profile of alg (DECRYPT_COUNT 20). */
static void decrypt_on(tr_alg alg, const ref1_faults *f, enc_mode mode, rec *r, tr_suite_outcome *o)
{
    ref1_fix *x = fix_new(alg, REF1_ROLE_MAIN, 300, f);
    fix_enc(x, alg, mode);
    tr_profile prof;
    tr_err e;
    char buf[1200], path[128];
    snprintf(path, sizeof path, "fixtures/profiles/ref1-%s.ini", tr_alg_name(alg));
    ck_assert_msg(tr_profile_load(path, &prof, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    tr_vars *v = tr_vars_new(prof.vars);
    tr_vars_set(v, "SLOT", "s1");
    tr_vars_set(v, "DECRYPT_COUNT", "20");
    tr_vars_set(v, "INTERFACE", "apdu");
    tr_suite *s;
    ck_assert_msg(tr_suite_load("suites/decrypt.tsuite", &s, &e) == 0, "%s", tr_err_format(&e, buf, sizeof buf));
    tr_suite *ops = load_ops_apdu();
    memset(r, 0, sizeof *r);
    tr_interp_hooks h = hooks_for(r);
    tr_interp_env env = {.card = &x->io, .vars = v, .now = NOW, .hooks = &h, .ops = ops};
    ck_assert_int_eq(tr_interp_run(s, &env, o, &e), 0);
    tr_suite_free(ops);
    tr_suite_free(s);
    tr_vars_free(v);
    tr_profile_free(&prof);
    fix_free(x);
}

/* Every test of the run: the failing ones (up to two) with their class,
 * every other one with verdict rest. */
static void expect_tests(const rec *r, tr_verdict rest, const char *t1, const char *c1, const char *t2,
                         const char *c2)
{
    int tests = 0;
    for (int k = 0; k < r->nres; k++) {
        const res_row *row = &r->res[k];
        if (row->metric[0])
            continue;
        tests++;
        const char *want = t1 && !strcmp(row->test, t1) ? c1 : t2 && !strcmp(row->test, t2) ? c2 : NULL;
        if (want) {
            ck_assert_msg(row->v == TR_FAIL && !strcmp(row->cls, want), "%s: want fail %s, got %d %s: %s", row->test,
                          want, row->v, row->cls, row->msg);
        } else {
            ck_assert_msg(row->v == rest, "%s: want verdict %d, got %d %s: %s", row->test, rest, row->v, row->cls,
                          row->msg);
        }
    }
    ck_assert_int_eq(tests, 7);
}

#define T_READABLE "encryption certificate readable"
#define T_VALID "encryption certificate valid today"
#define T_PAIR "encryption certificate: the signing holder, another key"
#define T_NO_PIN "decryption refused before VERIFY"
#define T_OPENS "every envelope opens, its file byte for byte"
#define T_SIGN_ENVELOPE "an envelope made to the signing certificate does not open"

/* Healthy SM2 and RSA tokens open every envelope; ECDSA skips with the
 * reason; each defect fails its own class and nothing else. */
START_TEST(decrypt_suite_on_ref1)
{
    rec *r = calloc(1, sizeof *r);
    tr_suite_outcome o;
    for (int k = 0; k < 2; k++) {
        decrypt_on(k ? TR_ALG_RSA2048 : TR_ALG_SM2, NULL, ENC_OWN, r, &o);
        expect_tests(r, TR_PASS, NULL, NULL, NULL, NULL);
        ck_assert_double_eq(metric_of(r, "decrypt.n")->value, 20);
        ck_assert_double_gt(metric_of(r, "decrypt.rate")->value, 0);
        ck_assert_int_eq(r->nsamples, 20);
    }
    decrypt_on(TR_ALG_ECDSA_P256, NULL, ENC_NONE, r, &o);
    expect_tests(r, TR_SKIP, NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(verdict_of(r, T_OPENS)->msg, "no encryption pair"));
    ck_assert_int_eq(r->ntr, 0); /* nothing was sent */

    ref1_faults nopin = {.decrypt_without_pin = true}, signkey = {.decrypt_with_sign_key = true};
    decrypt_on(TR_ALG_SM2, &nopin, ENC_OWN, r, &o);
    expect_tests(r, TR_PASS, T_NO_PIN, "enc.no-pin-required", NULL, NULL);
    decrypt_on(TR_ALG_RSA2048, &signkey, ENC_OWN, r, &o);
    expect_tests(r, TR_PASS, T_OPENS, "enc.uses-sign-key", T_SIGN_ENVELOPE, "enc.uses-sign-key");
    ck_assert_ptr_nonnull(strstr(verdict_of(r, T_OPENS)->msg, "envelope 1 of 20"));
    decrypt_on(TR_ALG_SM2, NULL, ENC_NONE, r, &o); /* no-enc-key */
    expect_tests(r, TR_SKIP, T_READABLE, "enc.missing", NULL, NULL);
    decrypt_on(TR_ALG_RSA2048, NULL, ENC_OTHER_KEY, r, &o); /* enc-cert-other-key */
    expect_tests(r, TR_PASS, T_OPENS, "enc.decrypt-failed", NULL, NULL);
    /* the certificate checks */
    decrypt_on(TR_ALG_SM2, NULL, ENC_OTHER_HOLDER, r, &o);
    expect_tests(r, TR_PASS, T_PAIR, "enc.cert-other-holder", NULL, NULL);
    decrypt_on(TR_ALG_SM2, NULL, ENC_SIGN_KEY, r, &o);
    expect_tests(r, TR_PASS, T_PAIR, "enc.cert-is-sign-key", T_OPENS, "enc.decrypt-failed");
    decrypt_on(TR_ALG_RSA2048, NULL, ENC_EXPIRED, r, &o);
    expect_tests(r, TR_PASS, T_VALID, "cert.expired", NULL, NULL);
    free(r);
}
END_TEST

/* ---- the real reports: rows on disk, nothing secret, memory flat ------------------------------ */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

START_TEST(reports_on_disk)
{
    char dir[] = "/tmp/check_interp_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tr_err e;
    tr_reports *rep = tr_reports_open(dir, &e);
    ck_assert_msg(rep != NULL, "%s", e.msg);
    fakecard f;
    fakecard_init(&f);
    const char *kv[] = {"USER_PIN", "31415926", NULL};
    run_opts ro = {.reports = rep};
    rec r;
    tr_suite_outcome o;
    ck_assert_int_eq(run_fake("test \"v\" {\n  00 20 00 81 10 ${pin:USER_PIN} expect 6982\n}\n"
                              "test \"m\" {\n  measure x count 3 {\n    80 01 00 00\n  }\n}\n",
                              &f, kv, &ro, &r, &o), 0);
    tr_reports_close(rep);
    char path[256];
    snprintf(path, sizeof path, "%s/trace.csv", dir);
    char *trace = slurp(path);
    ck_assert_msg(strstr(trace, "00 20 00 81 10 <pin>") != NULL, "%s", trace);
    ck_assert(strstr(trace, "3331343135393236") == NULL && strstr(trace, "31415926") == NULL);
    snprintf(path, sizeof path, "%s/results.csv", dir);
    char *results = slurp(path);
    ck_assert(strstr(results, "expected SW 6982, got 9000") != NULL);
    ck_assert(strstr(results, "x.p95") != NULL);
    ck_assert(strstr(results, "31415926") == NULL);
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    char *samples = slurp(path);
    int lines = 0;
    for (char *p = samples; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 4); /* header + 3 */
    free(trace);
    free(results);
    free(samples);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(memory_flat_in_apdus)
{
    char dir[] = "/tmp/check_interp_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tr_err e;
    tr_reports *rep = tr_reports_open(dir, &e);
    ck_assert_ptr_nonnull(rep);
    fakecard f;
    fakecard_init(&f);
    fakecard_rule(&f, "00B0", "000102030405060708090A0B0C0D0E0F 9000", -1);
    run_opts ro = {.reports = rep};
    rec r;
    tr_suite_outcome o;
    run_fake("repeat 20000 {\n  00 B0 00 00 10\n}\n", &f, NULL, &ro, &r, &o);
    long after_small = rss_kb();
    run_fake("repeat 200000 {\n  00 B0 00 00 10\n}\n", &f, NULL, &ro, &r, &o);
    long after_big = rss_kb();
    ck_assert_uint_eq(o.apdus, 200000);
    ck_assert_uint_eq(r.ntr_total, 200000);
    /* 10x the APDUs, no growth beyond noise (a kept trace would add > 10 MB) */
    ck_assert_msg(after_big - after_small < 2048, "RSS grew from %ld kB to %ld kB", after_small, after_big);
    tr_reports_close(rep);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc = tcase_create("scripted");
    tcase_add_test(tc, scriptor_runs_unchanged);
    tcase_add_test(tc, scriptor_transport_error);
    tcase_add_test(tc, expect_sw);
    tcase_add_test(tc, expect_data);
    tcase_add_test(tc, substitutions);
    tcase_add_test(tc, builtins_and_functions);
    tcase_add_test(tc, runtime_errors);
    tcase_add_test(tc, control_flow);
    tcase_add_test(tc, verdicts_and_classification);
    tcase_add_test(tc, cleanup_always_runs);
    tcase_add_test(tc, destructive_and_requires);
    tcase_add_test(tc, skip_codes);
    tcase_add_test(tc, suite_variables_checked_before_the_run);
    tcase_add_test(tc, suite_variables_at_run_time);
    tcase_add_test(tc, pin_masking);
    tcase_add_test(tc, measure_stats);
    tcase_add_test(tc, metric_rows);
    tcase_add_test(tc, power_cycles);
    tcase_add_test(tc, token_lost);
    tcase_add_test(tc, cancel_and_budgets);
    tcase_add_test(tc, journal_statement);
    tcase_add_test(tc, pin_model_on_ref1);
    tcase_add_test(tc, pin_model_classes_of_tampered_tokens);
    tcase_add_test(tc, pin_model_without_power);
    tcase_add_test(tc, ops_library_called_after_the_suites_own);
    tcase_add_test(tc, ops_library_one_root_cause);
    tcase_add_test(tc, ops_library_variables_checked);
    tcase_add_test(tc, no_card_is_harness_error);
    tcase_add_test(tc, random_is_seeded);
    tcase_add_test(tc, protocol_violations_fail_not_error);
    tcase_add_test(tc, unset_values_name_their_cause);
    tcase_add_test(tc, read_binary_short_9000);
    tcase_add_test(tc, tlv_trailing_bytes);
    tcase_add_test(tc, time_limits_per_apdu);
    tcase_add_test(tc, time_limit_first_apdu_after_power_cycle);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("ref1");
    tcase_add_test(tr, ref1_pin_lockout_and_restore);
    tcase_add_test(tr, ref1_read_cert_and_sign);
    tcase_add_test(tr, ref1_read_binary_bounds);
    tcase_add_test(tr, ref1_cert_classes);
    tcase_add_test(tr, ref1_seal_by_role);
    tcase_add_test(tr, trust_statements);
    tcase_add_test(tr, ref1_counter_reset_by_power);
    tcase_add_test(tr, examples_run_on_ref1);
    tcase_add_test(tr, decrypt_suite_on_ref1);
    tcase_add_test(tr, ref1_time_and_protocol_faults);
    tcase_set_timeout(tr, 120);
    suite_add_tcase(s, tr);
    TCase *tp = tcase_create("reports");
    tcase_add_test(tp, reports_on_disk);
    tcase_add_test(tp, memory_flat_in_apdus);
    tcase_set_timeout(tp, 120);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(interp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
