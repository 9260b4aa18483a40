/* interp.c — suite interpreter. See interp.h and suites/README.md.
 *
 * Hot path (a scriptor file of plain APDUs): the bytes were decoded at parse
 * time; per APDU we take two clock readings, call transmit, format the
 * command and response hex into buffers allocated once per run and hand one
 * trace row to reports. No malloc, no variable writes: SW, DATA... are read
 * straight from the last response when a statement asks for them.
 * Everything an expression computes lives in a scratch arena rewound at the
 * start of every statement.
 */
#include "interp.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "arena.h"
#include "crypto.h"
#include "pinmodel.h"
#include "rig.h"   /* tr_cycle_classify only: the stage -> defect map is shared with `tokenrig cycle` */
#include "seal.h"
#include "skfdata.h"
#include "libcall.h"
#include "skfstmt.h"
#include "stats.h"
#include "trust.h"
#include "suitevars.h"
#include "util.h"

#define MAX_SECRETS 16
#define SECRET_MIN 4
#define MAX_PIN_MARKS 15
#define MAX_LOOP 1000000L
#define MAX_MEASURE 1000000L
#define READ_BINARY_DEFAULT_MAX (64u * 1024u)
#define READ_BINARY_HARD_MAX (16u * 1024u * 1024u)
#define MAX_TEXT (1u << 20)       /* longest string a template may build */
#define SCRATCH_CAP ((size_t)64 << 20)
#define LIVE_EVERY_NS 500000000ull
#define MSG_MAX 1024

enum { GO = 0, STOP = 1 };

#define NO_TEST ((size_t)-1)

/* How a test ended, kept for the tests after it. */
typedef struct {
    tr_verdict v;
    char cls[64];
    char msg[160];
} test_outcome;

typedef struct {
    bool is_int;
    int64_t i;
    const char *s; /* NUL-terminated (in scratch or owned by vars) */
    size_t n;
} val;

/* A profile's list of INS bytes (SECRET_INS, SIGN_INS). */
typedef struct {
    uint8_t ins[8];
    int n;
} ins_set;

typedef struct {
    const tr_interp_env *env;
    const tr_suite *suite;
    const char *file;          /* of the statements running: the suite's, or the
                                  interface library's inside one of its ops */
    tr_suite_outcome *out;
    tr_err *e;
    bool fatal;                /* harness failure: stop everything */
    tr_vars *vars;             /* the suite's layer */
    tr_suite_vars *locals;     /* what the suite sets itself (an unset other name is `config`) */
    tr_arena *scratch;
    time_t now;
    /* last exchange */
    uint8_t *cmd;              /* TR_MAX_CAPDU: rendered command */
    size_t cmdlen;
    const uint8_t *sent;       /* what was sent (cmd or a constant) */
    size_t sentlen;
    uint8_t *mark;             /* per command byte: 0, or the PIN range id */
    bool marks_used;
    uint8_t *rsp;              /* TR_MAX_RAPDU */
    size_t rlen;
    bool have_rsp;
    uint16_t sw;
    char sw_txt[5];
    char *data_hex;            /* lazily built hex of the response data */
    bool data_hex_ok;
    char *cmd_txt;             /* masked, spaced command (trace, messages) */
    bool cmd_txt_ok;
    char *rsp_txt;             /* masked response hex when a secret is in it */
    uint8_t atr[64];
    size_t atrlen;
    char atr_hex[2 * 64 + 1];
    /* secrets: PIN texts seen (masked wherever they appear) */
    char secrets[MAX_SECRETS][17];
    size_t secret_len[MAX_SECRETS];
    int nsecrets;
    /* current test */
    const tr_test *test;
    const char *test_name;
    const char *classify;      /* current default classification */
    const char *suite_classify;
    bool ended;
    tr_verdict verdict;
    char cls[64];
    char msg[MSG_MAX];
    int fail_line;
    uint64_t deadline_ns;
    uint64_t apdu_ns;          /* sum of exchange times (measure) */
    uint64_t last_live_ns;
    bool journal_pending;      /* a journal record waits for its command */
    bool quiet;                /* replayed test or service lost: no rows */
    int call_depth;            /* `call` nesting (ops calling ops) */
    int lib_line;              /* the line of the library call being traced */
    tr_libcall_tracer tracer;  /* the library's trace rows come to lib_trace */
    size_t test_index;
    ins_set secret_ins;        /* profile SECRET_INS: commands that change a secret */
    /* power cycles */
    bool cycle_pending;
    tr_cycle_report cyc;
    uint64_t cyc_back_ns;
    unsigned cycle_no;
    bool power_fresh;          /* no APDU since the last power-cycle yet */
    double fresh_atr_ms;       /* that cycle's power-on -> ATR (-1 unknown) */
    /* time limits from the profile (ms, < 0 = none): see load_time_limits */
    double apdu_max_ms, sign_max_ms, first_max_ms;
    ins_set sign_ins;          /* profile SIGN_INS: the signing commands */
    bool time_failed;          /* a limit broke in this test (time_verdict) */
    char time_cls[32];
    char time_msg[MSG_MAX];
    int time_line;
    char last_time_msg[MSG_MAX]; /* the latest broken limit (cycles.csv) */
    /* the tests run so far (why a variable is not set: unset_because) */
    test_outcome *done;
    size_t cur;                /* index of the running test; NO_TEST in the prelude */
    /* the token and the run */
    bool lost;
    char lost_msg[256];
    bool row_unwritten_said;   /* row_unwritten told the log hook */
    bool exit_suite;
    int exit_line;
    uint64_t rng;
    unsigned long steps;
} interp;

/* ---- small helpers ---------------------------------------------------------- */

static int harness_fail(interp *I, tr_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int harness_fail(interp *I, tr_code code, const char *fmt, ...)
{
    if (!I->fatal) {
        va_list ap;
        va_start(ap, fmt);
        tr_vfail(I->e, code, fmt, ap);
        va_end(ap);
        I->fatal = true;
    }
    return STOP;
}

static void *scratch(interp *I, size_t n)
{
    void *p = tr_arena_alloc(I->scratch, n ? n : 1);
    if (!p)
        harness_fail(I, TR_E_NOMEM, "out of memory (or a value over %zu MiB) in the interpreter",
                     SCRATCH_CAP >> 20);
    return p;
}

static bool is_hex_text(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* ---- secrets (PIN masking) ---------------------------------------------------- */

static void add_secret(interp *I, const char *s)
{
    size_t n = strlen(s);
    if (n < SECRET_MIN || n > 16)
        return;
    for (int k = 0; k < I->nsecrets; k++)
        if (I->secret_len[k] == n && !memcmp(I->secrets[k], s, n))
            return;
    int k = I->nsecrets < MAX_SECRETS ? I->nsecrets++ : MAX_SECRETS - 1;
    memcpy(I->secrets[k], s, n + 1);
    I->secret_len[k] = n;
}

/* Replace every occurrence of a secret in text (as its hex, with any FF
 * padding after it, and when nforms == 2 also as text) by <pin>. In place;
 * text has cap bytes. */
static void scrub_forms(interp *I, char *text, size_t cap, int nforms)
{
    if (!I->nsecrets || !text[0])
        return;
    char *tmp = NULL;
    for (int k = 0; k < I->nsecrets; k++) {
        char hex[40];
        tr_hex_encode((const uint8_t *)I->secrets[k], I->secret_len[k], hex, sizeof hex, 0);
        const char *forms[2] = {hex, I->secrets[k]};
        for (int f = 0; f < nforms; f++) {
            /* The common case (no secret in the text) costs a search, no
             * allocation: this runs on every traced response. */
            if (!strcasestr(text, forms[f]))
                continue;
            if (!tmp && !(tmp = malloc(cap)))
                return;
            size_t fl = strlen(forms[f]);
            size_t o = 0;
            const char *p = text;
            bool changed = false;
            while (*p && o + 1 < cap) {
                if (!strncasecmp(p, forms[f], fl)) {
                    p += fl;
                    if (f == 0)
                        while (!strncasecmp(p, "FF", 2))
                            p += 2;
                    const char *m = "<pin>";
                    while (*m && o + 1 < cap)
                        tmp[o++] = *m++;
                    changed = true;
                } else {
                    tmp[o++] = *p++;
                }
            }
            tmp[o] = '\0';
            if (changed)
                memcpy(text, tmp, o + 1);
        }
    }
    free(tmp);
}

static void scrub(interp *I, char *text, size_t cap)
{
    scrub_forms(I, text, cap, 2);
}

/* Mark every occurrence of a secret's bytes (and FF padding after it) in
 * the command, so the trace shows <pin> there too. */
static void mark_secret_bytes(interp *I, const uint8_t *b, size_t n)
{
    uint8_t id = 0x80;
    for (int k = 0; k < I->nsecrets; k++) {
        size_t sl = I->secret_len[k];
        const uint8_t *from = b;
        while ((size_t)(from - b) + sl <= n) {
            const uint8_t *hit = memmem(from, n - (size_t)(from - b), I->secrets[k], sl);
            if (!hit)
                break;
            size_t at = (size_t)(hit - b), end = at + sl;
            while (end < n && b[end] == 0xFF)
                end++;
            for (size_t j = at; j < end; j++)
                if (!I->mark[j])
                    I->mark[j] = id;
            I->marks_used = true;
            id = (uint8_t)(id == 0xFF ? 0x80 : id + 1);
            from = b + end;
        }
    }
}

/* ---- messages, verdicts, rows ------------------------------------------------- */

static void add_class(interp *I, const char *cls)
{
    if (!cls || !cls[0])
        return;
    tr_suite_outcome *o = I->out;
    for (unsigned k = 0; k < o->nclasses; k++)
        if (!strcmp(o->classes[k], cls))
            return;
    if (o->nclasses < TR_INTERP_MAX_CLASSES)
        snprintf(o->classes[o->nclasses++], sizeof o->classes[0], "%s", cls);
}

/* End the current test with verdict v (first ending wins). fmt is the
 * message without the file:line prefix, which is added here. */
static int end_test(interp *I, tr_verdict v, const char *cls, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int end_test(interp *I, tr_verdict v, const char *cls, int line, const char *fmt, ...)
{
    if (I->ended)
        return STOP;
    I->ended = true;
    I->verdict = v;
    snprintf(I->cls, sizeof I->cls, "%s", cls ? cls : "");
    I->fail_line = line;
    int n = 0;
    if (line > 0 && v != TR_SKIP)
        n = snprintf(I->msg, sizeof I->msg, "%s:%d: ", I->file, line);
    if (n < 0 || (size_t)n >= sizeof I->msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(I->msg + n, sizeof I->msg - (size_t)n, fmt, ap);
    va_end(ap);
    scrub(I, I->msg, sizeof I->msg);
    return STOP;
}

static const char *fail_class(interp *I, const char *explicit_cls)
{
    if (explicit_cls)
        return explicit_cls;
    return I->classify ? I->classify : "unclassified";
}

/* A suite bug found while running (unset variable, bad hex...). */
static int rt_error(interp *I, tr_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rt_error(interp *I, tr_pos pos, const char *fmt, ...)
{
    char buf[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    end_test(I, TR_ERROR, "suite", pos.line, "column %d: %s", pos.col, buf);
    return -1;
}

static void emit_log(interp *I, const char *text);

/* A row the reports could not write (disk full, EIO) does not stop the
 * suite: a destructive test's cleanup must still give the token back, and
 * the verdicts still reach the console. The reports keep the first failure,
 * which ends the run with exit 2 naming the file; the log hook hears of it
 * once per suite. */
static void row_unwritten(interp *I, const tr_err *e)
{
    if (I->row_unwritten_said)
        return;
    I->row_unwritten_said = true;
    char text[TR_ERR_MSG_MAX + 64];
    snprintf(text, sizeof text, "report row not written: %s", e->msg);
    emit_log(I, text);
}

static void emit_result(interp *I, const tr_result_row *row)
{
    if (I->fatal || I->quiet || I->env->no_result_rows)
        return;
    const tr_interp_hooks *h = I->env->hooks;
    if (h && h->result)
        h->result(h->ud, row);
    tr_err e;
    if (I->env->reports && tr_reports_result(I->env->reports, row, &e) < 0)
        row_unwritten(I, &e);
}

/* A metric's limit: kind "max" or "min" (NULL: none), beside its value. */
typedef struct {
    double value;
    const char *kind;
} limit_of;
static const limit_of NO_LIMIT = {0, NULL};

/* A metric row; a failing one is classified cls (NULL: the test's current
 * classification). */
static void emit_metric(interp *I, int line, const char *name, double value, const char *unit,
                        tr_verdict v, const char *cls, const char *msg, limit_of limit)
{
    tr_result_row row = {
        .who = I->env->who, .suite = I->suite->name, .test = I->test_name, .verdict = v,
        .classification = v == TR_FAIL ? fail_class(I, cls) : NULL, .duration_s = 0,
        .metric = name, .value = value, .unit = unit, .message = msg,
        .file = I->file, .line = line, .limit = limit.value, .limit_kind = limit.kind,
    };
    emit_result(I, &row);
}

static void emit_log(interp *I, const char *text)
{
    const tr_interp_hooks *h = I->env->hooks;
    if (h && h->log)
        h->log(h->ud, I->test_name, text);
}

static void maybe_live(interp *I, const char *what, unsigned long done, unsigned long total)
{
    const tr_interp_hooks *h = I->env->hooks;
    if (!h || !h->live)
        return;
    uint64_t t = tr_now_ns();
    if (t - I->last_live_ns < LIVE_EVERY_NS && done != total)
        return;
    I->last_live_ns = t;
    h->live(h->ud, I->test_name, what, done, total);
}

/* ---- the last response ---------------------------------------------------------- */

static const char *data_hex(interp *I)
{
    if (!I->data_hex_ok) {
        size_t n = I->rlen >= 2 ? I->rlen - 2 : 0;
        tr_hex_encode(I->rsp, n, I->data_hex, 2 * n + 1, 0);
        I->data_hex_ok = true;
    }
    return I->data_hex;
}

/* The command as the trace and messages show it: spaced hex, PIN ranges as
 * <pin>. */
static const char *cmd_text(interp *I)
{
    if (I->cmd_txt_ok)
        return I->cmd_txt;
    static const char digits[] = "0123456789ABCDEF";
    char *o = I->cmd_txt;
    const uint8_t *b = I->sent;
    uint8_t prev = 0;
    for (size_t i = 0; i < I->sentlen; i++) {
        uint8_t m = I->marks_used ? I->mark[i] : 0;
        if (m && m == prev)
            continue;
        if (i)
            *o++ = ' ';
        if (m) {
            memcpy(o, "<pin>", 5);
            o += 5;
        } else {
            *o++ = digits[b[i] >> 4];
            *o++ = digits[b[i] & 15];
        }
        prev = m;
    }
    *o = '\0';
    I->cmd_txt_ok = true;
    return I->cmd_txt;
}

/* Response data hex for the trace: DATA itself unless a secret is in it. */
static const char *rsp_trace_text(interp *I)
{
    const char *d = data_hex(I);
    if (!I->nsecrets)
        return d;
    bool hit = false;
    for (int k = 0; k < I->nsecrets && !hit; k++) {
        char hex[40];
        tr_hex_encode((const uint8_t *)I->secrets[k], I->secret_len[k], hex, sizeof hex, 0);
        hit = strcasestr(d, hex) != NULL;
    }
    if (!hit)
        return d;
    size_t n = strlen(d);
    memcpy(I->rsp_txt, d, n + 1);
    scrub_forms(I, I->rsp_txt, 2 * (size_t)TR_MAX_RAPDU + 1, 1); /* hex form only: it is hex */
    return I->rsp_txt;
}

/* "DATA SW" for messages, the data cut at 48 bytes. */
static const char *answer_text(interp *I, char *buf, size_t cap)
{
    size_t n = I->rlen >= 2 ? I->rlen - 2 : 0;
    const char *d = data_hex(I);
    if (n == 0)
        snprintf(buf, cap, "%s", I->sw_txt);
    else if (n <= 48)
        snprintf(buf, cap, "%s %s", d, I->sw_txt);
    else
        snprintf(buf, cap, "%.96s... (%zu bytes) %s", d, n, I->sw_txt);
    scrub(I, buf, cap);
    return buf;
}

/* ---- the card --------------------------------------------------------------------- */

static void refresh_atr(interp *I)
{
    const tr_cardio *c = I->env->card;
    I->atrlen = c->atr ? c->atr(c->ctx, I->atr, sizeof I->atr) : 0;
    if (I->atrlen > sizeof I->atr)
        I->atrlen = 0;
    tr_hex_encode(I->atr, I->atrlen, I->atr_hex, sizeof I->atr_hex, 0);
}

/* A cycles.csv row of this test: the stages r reached, judged verdict. */
static void emit_cycle(interp *I, const tr_cycle_report *r, const char *verdict, const char *message)
{
    tr_cycle_row row = {
        .who = I->env->who, .cycle = I->cycle_no, .off_ms = r->off_ms,
        .to_device_ms = r->to_device_ms, .to_reader_ms = r->to_reader_ms,
        .to_atr_ms = r->to_atr_ms, .to_first_apdu_ms = r->to_first_apdu_ms,
        .atr = r->atr_hex, .stage = r->stage, .power_level = r->power_level,
        .verdict = verdict, .message = message && *message ? message : r->note, .suite = I->suite->name,
        .test = I->test_name,
        .first_apdu_limit_ms = I->first_max_ms,
    };
    const tr_interp_hooks *h = I->env->hooks;
    if (h && h->cycle)
        h->cycle(h->ud, &row);
    tr_err e;
    if (I->env->reports && tr_reports_cycle(I->env->reports, &row, &e) < 0)
        row_unwritten(I, &e);
}

/* The pending cycles.csv row; verdict NULL = "pass" (else the time class
 * of a first answer that came too late, message saying by how much). */
static void flush_cycle(interp *I, double to_first_apdu_ms, const char *verdict, const char *message)
{
    if (!I->cycle_pending)
        return;
    I->cycle_pending = false;
    if (I->quiet)
        return;
    tr_cycle_report *r = &I->cyc;
    r->to_first_apdu_ms = to_first_apdu_ms;
    if (to_first_apdu_ms >= 0)
        snprintf(r->stage, sizeof r->stage, "apdu");
    emit_cycle(I, r, verdict ? verdict : "pass",
               message ? message : to_first_apdu_ms >= 0 ? "" : "no APDU after the cycle");
}

/* pcscd went away: not the token's doing, and nothing this suite can judge
 * any more. The suite stops here without a row for this test; the run
 * engine restarts the service and resumes the suite at this test. */
static int service_lost(interp *I, const tr_err *e)
{
    I->quiet = true;
    I->out->service_lost = true;
    I->out->resume_test = I->test_index;
    snprintf(I->out->service_msg, sizeof I->out->service_msg, "%s", e->msg);
    return end_test(I, TR_ERROR, "rig.pcsc-lost", 0, "%s", e->msg);
}

/* A transport failure: the test is `error`; mute/removed lose the token. A
 * protocol violation (61xx or 6Cxx without end) is the token's defect: the
 * test fails with its proto.* class, and the token is still there. */
static int io_error(interp *I, int line, const tr_err *e, const char *doing)
{
    if (e->code == TR_E_SERVICE)
        return service_lost(I, e);
    const char *cls = tr_code_name(e->code);
    if (tr_code_is_token_defect(e->code)) /* the token broke the protocol: its defect */
        return end_test(I, TR_FAIL, cls, line, "%s: %s", doing, e->msg);
    if (e->code == TR_E_MUTE || e->code == TR_E_REMOVED || e->code == TR_E_LIBRARY) {
        I->lost = true;
        snprintf(I->out->lost_code, sizeof I->out->lost_code, "%s", cls);
        snprintf(I->lost_msg, sizeof I->lost_msg, "%s:%d: %s", I->file, line, cls);
        I->out->token_lost = true;
    }
    return end_test(I, TR_ERROR, cls, line, "%s: %s", doing, e->msg);
}

static bool stop_requested(interp *I, int line)
{
    int why = I->env->cancel ? atomic_load(I->env->cancel) : 0;
    if (why) {
        I->out->cancelled = true;
        if (why == 2) /* TR_CANCEL_TIMEOUT */
            end_test(I, TR_ERROR, "timeout", line, "slot timeout: stopped here");
        else
            end_test(I, TR_ERROR, "cancelled", line, "run interrupted");
        return true;
    }
    return false;
}

/* ---- time limits ------------------------------------------------------------------- */

/* A list of INS bytes from the profile (hex), empty when not given; a value
 * that is not 1..8 hex bytes is a configuration error (a safety check that
 * silently reads nothing would fail open). */
static int load_ins_set(interp *I, const char *name, ins_set *out)
{
    const char *v = I->env->vars ? tr_vars_get(I->env->vars, name) : NULL;
    long n = v ? tr_hex_decode(v, out->ins, sizeof out->ins) : 0;
    if (n < 0 || (v && n == 0))
        return tr_fail(I->e, TR_E_CONFIG, "%s = %s: expected 1 to %zu INS bytes in hex (profile, rig or -D)", name, v,
                       sizeof out->ins);
    out->n = (int)n;
    return 0;
}

/* Is the command just sent one of set's? */
static bool sent_ins_in(const interp *I, const ins_set *set)
{
    for (int k = 0; k < set->n && I->sentlen >= 4; k++)
        if (I->sent[1] == set->ins[k])
            return true;
    return false;
}

/* A time limit from the profile (ms, a number > 0), or -1 when not given. */
static int load_limit(interp *I, const char *name, double *out)
{
    *out = -1;
    const char *v = I->env->vars ? tr_vars_get(I->env->vars, name) : NULL;
    if (!v)
        return 0;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", v);
    double d;
    if (strlen(v) >= sizeof tmp || !tr_parse_double(tr_trim(tmp), &d) || !isfinite(d) || d <= 0)
        return tr_fail(I->e, TR_E_CONFIG, "time limit %s = %s: expected ms, a number above 0 (profile, rig or -D)", name, v);
    *out = d;
    return 0;
}

/* Time is a verdict (suites/README.md, "Time limits"). The profile's
 * APDU_MAX_MS bounds every command's answer; SIGN_APDU_MAX_MS replaces it
 * for the commands whose INS is in SIGN_INS (signing takes longer on real
 * tokens); FIRST_APDU_MAX_MS bounds power-on -> the answer of the first
 * command after a power-cycle (that command is judged by it alone). A
 * limit that is not a number is a configuration error: no run with it. */
static int load_time_limits(interp *I)
{
    if (load_limit(I, "APDU_MAX_MS", &I->apdu_max_ms) < 0 || load_limit(I, "SIGN_APDU_MAX_MS", &I->sign_max_ms) < 0 ||
        load_limit(I, "FIRST_APDU_MAX_MS", &I->first_max_ms) < 0)
        return -1;
    if (load_ins_set(I, "SIGN_INS", &I->sign_ins) < 0)
        return -1;
    if (I->sign_max_ms >= 0 && I->sign_ins.n == 0 && !I->env->lib) /* over a library: its private-key functions */
        return tr_fail(I->e, TR_E_CONFIG, "SIGN_APDU_MAX_MS is given without SIGN_INS (the signing commands it "
                                          "applies to)");
    return 0;
}

/* The answer just received against its limit. A broken limit writes a
 * failing metric row (measured value, limit in the message) at once and
 * fails the test when it ends (time_verdict): the test goes on, so that a
 * slow command that landed (a PIN change) is still checked and undone.
 * Returns the class of a broken limit, else NULL. */
static const char *check_time(interp *I, int line, double apdu_ms, bool private_key_op, const char *what)
{
    bool first = I->power_fresh;
    I->power_fresh = false;
    bool sign = !first && I->sign_max_ms >= 0 && private_key_op;
    double limit = first ? I->first_max_ms : sign ? I->sign_max_ms : I->apdu_max_ms;
    double got = first ? (I->fresh_atr_ms >= 0 ? I->fresh_atr_ms + apdu_ms : -1) : apdu_ms;
    if (limit < 0 || got < 0 || got <= limit)
        return NULL;
    const char *name = first ? "FIRST_APDU_MAX_MS" : sign ? "SIGN_APDU_MAX_MS" : "APDU_MAX_MS";
    const char *cls = first ? "time.slow-start" : "time.slow-apdu";
    char *msg = I->last_time_msg;
    size_t cap = sizeof I->last_time_msg;
    if (first)
        snprintf(msg, cap, "power-cycle %u: the first command (%.80s) was answered %.1f ms after power-on "
                 "(ATR after %.1f ms), over %s %g ms", I->cycle_no, what, got, I->fresh_atr_ms, name, limit);
    else
        snprintf(msg, cap, "%.80s was answered after %.1f ms, over %s %g ms", what, got, name, limit);
    scrub(I, msg, cap);
    emit_metric(I, line, first ? "first_apdu_ms" : "apdu_ms", got, "ms", TR_FAIL, cls, msg,
                (limit_of){limit, "max"});
    if (!I->time_failed) {
        I->time_failed = true;
        snprintf(I->time_cls, sizeof I->time_cls, "%s", cls);
        snprintf(I->time_msg, sizeof I->time_msg, "%s", msg);
        I->time_line = line;
    }
    return cls;
}

/* At the end of a test: a broken time limit fails a test that passed (or
 * skipped after the slow answer); an earlier failure or error stays the
 * verdict (the metric row still shows the time). */
static void time_verdict(interp *I)
{
    if (!I->time_failed || (I->ended && (I->verdict == TR_FAIL || I->verdict == TR_ERROR)))
        return;
    I->ended = false;
    end_test(I, TR_FAIL, I->time_cls, I->time_line, "%s", I->time_msg);
}

/* What SW1 says of a journaled command (ISO 7816-4): done, refused with
 * the token's memory unchanged (62xx warnings, 63xx a wrong PIN, 67xx-6Fxx
 * checking errors), or unknown (64xx-66xx execution errors). */
static int journaled_answer(uint8_t sw1)
{
    if (sw1 == 0x90 || sw1 == 0x61)
        return TR_JOURNALED_LANDED;
    return sw1 == 0x62 || sw1 == 0x63 || (sw1 >= 0x67 && sw1 <= 0x6F) ? TR_JOURNALED_REFUSED : TR_JOURNALED_UNKNOWN;
}

/* Send I->sent; fill rsp/sw; write the trace row. */
static int exchange(interp *I, int line)
{
    const tr_cardio *c = I->env->card;
    if (stop_requested(I, line))
        return STOP;
    tr_err e;
    tr_err_clear(&e);
    I->cmd_txt_ok = false;
    uint64_t t0 = tr_now_ns();
    size_t rlen = 0;
    int r = c->transmit(c->ctx, I->sent, I->sentlen, I->rsp, TR_MAX_RAPDU, &rlen, &e);
    uint64_t t1 = tr_now_ns();
    if (I->journal_pending) {
        const tr_interp_hooks *h = I->env->hooks;
        I->journal_pending = false;
        if (h && h->journaled_sent)
            h->journaled_sent(h->ud, r < 0 || rlen < 2 ? TR_JOURNALED_UNKNOWN : journaled_answer(I->rsp[rlen - 2]));
    }
    I->out->apdus++;
    I->have_rsp = false;
    I->data_hex_ok = false;
    if (r < 0) {
        if (e.code == TR_OK)
            e.code = TR_E_PCSC;
        char cmd[200];
        snprintf(cmd, sizeof cmd, "%s", cmd_text(I));
        return io_error(I, line, &e, cmd);
    }
    if (rlen < 2 || rlen > TR_MAX_RAPDU) {
        return end_test(I, TR_ERROR, "token", line, "the token answered %zu bytes, no status word (command %s)",
                        rlen, cmd_text(I));
    }
    I->rlen = rlen;
    I->have_rsp = true;
    I->sw = (uint16_t)(I->rsp[rlen - 2] << 8 | I->rsp[rlen - 1]);
    snprintf(I->sw_txt, sizeof I->sw_txt, "%04X", I->sw);
    uint64_t lat = t1 - t0;
    I->apdu_ns += lat;
    if (I->nsecrets) {
        /* Values of *PIN variables may reach a command other ways than
         * ${pin:} (${ascii:USER_PIN}...): find their bytes too. */
        if (!I->marks_used)
            memset(I->mark, 0, I->sentlen);
        mark_secret_bytes(I, I->sent, I->sentlen);
    }
    bool first = I->power_fresh;
    const char *slow = check_time(I, line, (double)lat / 1e6, sent_ins_in(I, &I->sign_ins), cmd_text(I));
    if (I->cycle_pending)
        flush_cycle(I, I->cyc.to_atr_ms >= 0 ? I->cyc.to_atr_ms + (double)(t1 - I->cyc_back_ns) / 1e6 : -1,
                    first ? slow : NULL, first && slow ? I->last_time_msg : NULL);
    const tr_interp_hooks *h = I->env->hooks;
    bool want = I->env->reports || (h && h->trace);
    if (!want)
        return GO;
    tr_trace_row row = {
        .who = I->env->who, .suite = I->suite->name, .test = I->test_name,
        .file = I->file, .line = line, .command = cmd_text(I),
        .response = rsp_trace_text(I), .sw = I->sw_txt, .latency_us = lat / 1000,
    };
    if (h && h->trace)
        h->trace(h->ud, &row);
    if (I->env->reports && tr_reports_trace(I->env->reports, &row, &e) < 0)
        row_unwritten(I, &e);
    return GO;
}

#define MAX_CALL_DEPTH 8

/* The suite's own op NAME, else the interface library's; *file is the
 * file it is written in. */
static const tr_suite_op *find_op_in(const tr_suite *suite, const tr_suite *lib, const char *name,
                                     const char **file)
{
    for (int l = 0; l < 2; l++) {
        const tr_suite *s = l ? lib : suite;
        for (size_t k = 0; s && k < s->nops; k++)
            if (!strcmp(s->ops[k].name, name)) {
                if (file)
                    *file = s->file;
                return &s->ops[k];
            }
    }
    return NULL;
}

/* ---- one root cause, one failure ------------------------------------------------ */

/* Whether statements s (and the blocks inside them, and the ops they call:
 * the suite's or the interface library's, depth bounded as `call` is) may
 * set NAME. cert-info sets the CERT_* variables and seal-info the SEAL_* ones. */
static bool stmts_set(const interp *I, const tr_stmt *s, const char *name, int depth)
{
    for (; s; s = s->next) {
        switch (s->kind) {
        case TR_ST_LET:
        case TR_ST_CAPTURE:
        case TR_ST_FOR:
        case TR_ST_READ_BINARY:
            if (s->name && !strcmp(s->name, name))
                return true;
            break;
        case TR_ST_CERT_INFO:
            if (!strncmp(name, "CERT_", 5))
                return true;
            break;
        case TR_ST_SEAL_INFO:
            if (!strncmp(name, "SEAL_", 5))
                return true;
            break;
        case TR_ST_LIBCALL:
            for (const char *const *o = s->iface->outputs; *o; o++)
                if (!strcmp(*o, name))
                    return true;
            break;
        case TR_ST_CALL: {
            const tr_suite_op *op = find_op_in(I->suite, I->env->ops, s->name, NULL);
            if (op && depth < MAX_CALL_DEPTH && stmts_set(I, op->body, name, depth + 1))
                return true;
            break;
        }
        default:
            break;
        }
        if (stmts_set(I, s->body, name, depth) || stmts_set(I, s->else_body, name, depth))
            return true;
    }
    return false;
}

/* NAME is not set. When an earlier test of the suite that sets it did not
 * pass, that is why: the test that needs it is skipped with that reason
 * (one root cause, one failure) rather than reported as a suite error. When
 * every test that sets it passed (or none does), it is a suite or profile
 * mistake: false, and the caller reports the error. */
static bool unset_because(interp *I, const char *name, char *why, size_t cap)
{
    if (I->cur == NO_TEST)
        return false;
    for (size_t k = I->cur; k-- > 0;) {
        const tr_test *t = &I->suite->tests[k];
        const test_outcome *o = &I->done[k];
        if (o->v == TR_PASS || (!stmts_set(I, t->body, name, 0) && !stmts_set(I, t->cleanup, name, 0)))
            continue;
        const char *reason = o->msg;
        if (!strncmp(reason, "not run: ", 9)) /* skipped for a value of its own: say that one */
            reason += 9;
        if (o->v == TR_SKIP)
            snprintf(why, cap, "not run: %s is not set: test \"%s\" was skipped (%s)", name, t->name, reason);
        else
            snprintf(why, cap, "not run: %s is not set: test \"%s\" %s (%s)", name, t->name,
                     o->v == TR_FAIL ? "failed" : "ended in error", o->cls);
        return true;
    }
    return false;
}

/* ---- values ------------------------------------------------------------------------ */

static val vint(int64_t i)
{
    val v = {true, i, NULL, 0};
    return v;
}

static val vstr(const char *s, size_t n)
{
    val v = {false, 0, s, n};
    return v;
}

static int eval(interp *I, const tr_expr *x, val *out);

/* Text of a value (integers in decimal), in scratch when formatted. */
static const char *to_text(interp *I, const val *v, size_t *n)
{
    if (!v->is_int) {
        if (n)
            *n = v->n;
        return v->s;
    }
    char *b = scratch(I, 24);
    if (!b)
        return NULL;
    int k = snprintf(b, 24, "%" PRId64, v->i);
    if (n)
        *n = (size_t)k;
    return b;
}

/* A string that is a whole integer: decimal with optional '-', or 0x hex. */
static bool text_int(const char *s, size_t n, int64_t *out)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 40)
        return false;
    char tmp[48];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    bool neg = tmp[0] == '-';
    const char *d = tmp + neg;
    uint64_t u;
    if (!*d || !isdigit((unsigned char)*d) || !tr_parse_u64(d, &u))
        return false;
    if (d[0] == '0' && d[1] && d[1] != 'x' && d[1] != 'X') {
        /* tr_parse_u64 reads a leading 0 as octal; we mean decimal */
        char *end;
        errno = 0;
        u = strtoull(d, &end, 10);
        if (errno || *end)
            return false;
    }
    if (u > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

static int to_int(interp *I, const val *v, tr_pos pos, const char *what, int64_t *out)
{
    if (v->is_int) {
        *out = v->i;
        return 0;
    }
    if (text_int(v->s, v->n, out))
        return 0;
    return rt_error(I, pos, "expected a number for %s, found \"%.40s\"%s", what, v->s,
                    v->n > 40 ? "..." : "");
}

static bool truthy(const val *v)
{
    if (v->is_int)
        return v->i != 0;
    int64_t i;
    if (text_int(v->s, v->n, &i))
        return i != 0;
    return v->n != 0;
}

/* Hex text -> bytes in scratch (spaces allowed). */
static int to_bytes(interp *I, const val *v, tr_pos pos, const char *what, uint8_t **b, size_t *n)
{
    if (v->is_int)
        return rt_error(I, pos, "expected hex data for %s, found the number %" PRId64
                                " (use hex() to make bytes of it)", what, v->i);
    uint8_t *buf = scratch(I, v->n / 2 + 1);
    if (!buf)
        return -1;
    long k = tr_hex_decode(v->s, buf, v->n / 2 + 1);
    if (k < 0)
        return rt_error(I, pos, "expected hex data for %s, found \"%.40s\"%s", what, v->s,
                        v->n > 40 ? "..." : "");
    *b = buf;
    *n = (size_t)k;
    return 0;
}

static val hex_val(interp *I, const uint8_t *b, size_t n)
{
    char *s = scratch(I, 2 * n + 1);
    if (!s)
        return vstr("", 0);
    tr_hex_encode(b, n, s, 2 * n + 1, 0);
    return vstr(s, 2 * n);
}

static int get_var(interp *I, const char *name, tr_pos pos, val *out)
{
    if (name[0] == 'S' || name[0] == 'D' || name[0] == 'T') {
        bool rsp_var = !strcmp(name, "SW") || !strcmp(name, "SW1") || !strcmp(name, "SW2") ||
                       !strcmp(name, "DATA") || !strcmp(name, "DATALEN");
        if (rsp_var && !I->have_rsp)
            return rt_error(I, pos, "%s is not set: no APDU has been answered yet", name);
        if (!strcmp(name, "SW")) {
            *out = vstr(I->sw_txt, 4);
            return 0;
        }
        if (!strcmp(name, "SW1") || !strcmp(name, "SW2")) {
            *out = vint(name[2] == '1' ? I->sw >> 8 : I->sw & 0xFF);
            return 0;
        }
        if (!strcmp(name, "DATA")) {
            const char *d = data_hex(I);
            *out = vstr(d, 2 * (I->rlen - 2));
            return 0;
        }
        if (!strcmp(name, "DATALEN")) {
            *out = vint((int64_t)(I->rlen - 2));
            return 0;
        }
        if (!strcmp(name, "TOKEN_ATR")) {
            *out = vstr(I->atr_hex, strlen(I->atr_hex));
            return 0;
        }
        if (!strcmp(name, "TEST")) {
            *out = vstr(I->test_name, strlen(I->test_name));
            return 0;
        }
        if (!strcmp(name, "SUITE")) {
            *out = vstr(I->suite->name, strlen(I->suite->name));
            return 0;
        }
    }
    const char *v = tr_vars_get(I->vars, name);
    char why[MSG_MAX];
    if (!v && unset_because(I, name, why, sizeof why)) {
        end_test(I, TR_SKIP, NULL, pos.line, "%s", why);
        return -1;
    }
    if (!v && !tr_suite_vars_sets(I->locals, name)) {
        /* not the suite's own: the run was not given it (the check before
         * the run lets through what a defined() elsewhere calls optional) */
        end_test(I, TR_ERROR, "config", pos.line, "column %d: variable %s is not set: give it in the profile, "
                 "the rig (var.%s) or with -D %s=...", pos.col, name, name, name);
        return -1;
    }
    if (!v)
        return rt_error(I, pos, "variable %s is not set yet (the suite sets it elsewhere: a test that "
                                "reads it must run after the one that sets it)", name);
    if (tr_var_is_pin(name))
        add_secret(I, v);
    *out = vstr(v, strlen(v));
    return 0;
}

/* ---- templates -------------------------------------------------------------------- */

typedef struct {
    size_t start, len; /* hex digit offsets of a ${pin:} */
} pin_range;

typedef struct {
    bool hex;          /* hex mode: whitespace dropped, pin -> padded hex */
    pin_range pins[MAX_PIN_MARKS];
    int npins;
} render_opts;

/* Text of one substitution. */
static int render_sub(interp *I, const tr_piece *pc, render_opts *ro, const char **t, size_t *tn)
{
    val v;
    if (eval(I, pc->expr, &v) < 0)
        return -1;
    int64_t i;
    char *b;
    switch (pc->sub) {
    case TR_SUB_VAR:
    case TR_SUB_EXPR:
        *t = to_text(I, &v, tn);
        return *t ? 0 : -1;
    case TR_SUB_PIN: {
        size_t n;
        const char *s = to_text(I, &v, &n);
        if (!s)
            return -1;
        if (n > 16 || memchr(s, '\0', n))
            return rt_error(I, pc->pos, "expected a PIN of at most 16 characters for ${pin:...}, found %zu", n);
        add_secret(I, s);
        if (!ro->hex) {
            *t = "<pin>";
            *tn = 5;
            return 0;
        }
        if (!(b = scratch(I, 33)))
            return -1;
        tr_hex_encode((const uint8_t *)s, n, b, 33, 0);
        for (size_t k = n; k < 16; k++)
            memcpy(b + 2 * k, "FF", 2);
        b[32] = '\0';
        *t = b;
        *tn = 32;
        return 0;
    }
    case TR_SUB_HEX:
    case TR_SUB_HEX2:
    case TR_SUB_NIB: {
        static const int64_t maxv[] = {0xFF, 0xFFFF, 0xF};
        static const char *const fmts[] = {"%02" PRIX64, "%04" PRIX64, "%" PRIX64};
        static const char *const names[] = {"hex", "hex2", "nib"};
        int k = pc->sub == TR_SUB_HEX ? 0 : pc->sub == TR_SUB_HEX2 ? 1 : 2;
        if (to_int(I, &v, pc->pos, names[k], &i) < 0)
            return -1;
        if (i < 0 || i > maxv[k])
            return rt_error(I, pc->pos, "expected 0..%" PRId64 " for ${%s:...}, found %" PRId64,
                            maxv[k], names[k], i);
        if (!(b = scratch(I, 8)))
            return -1;
        *tn = (size_t)snprintf(b, 8, fmts[k], (uint64_t)i);
        *t = b;
        return 0;
    }
    case TR_SUB_ASCII: {
        size_t n;
        const char *s = to_text(I, &v, &n);
        if (!s || !(b = scratch(I, 2 * n + 1)))
            return -1;
        tr_hex_encode((const uint8_t *)s, n, b, 2 * n + 1, 0);
        *t = b;
        *tn = 2 * n;
        return 0;
    }
    case TR_SUB_LEN: {
        uint8_t *bytes;
        size_t n;
        if (to_bytes(I, &v, pc->pos, "${len:...}", &bytes, &n) < 0)
            return -1;
        if (n > 255)
            return rt_error(I, pc->pos, "expected at most 255 bytes for ${len:...} (use ${hex2:len(X)}), found %zu", n);
        if (!(b = scratch(I, 4)))
            return -1;
        *tn = (size_t)snprintf(b, 4, "%02zX", n);
        *t = b;
        return 0;
    }
    }
    return rt_error(I, pc->pos, "internal: unknown substitution");
}

/* Render a template into scratch. */
static int render(interp *I, const tr_template *tpl, render_opts *ro, const char **out, size_t *outn)
{
    if (tpl->constant) {
        *out = tpl->text;
        *outn = tpl->len;
        return 0;
    }
    size_t count = 0;
    for (const tr_piece *pc = tpl->pieces; pc; pc = pc->next)
        count++;
    const char **texts = scratch(I, count * sizeof *texts);
    size_t *lens = scratch(I, count * sizeof *lens);
    if (!texts || !lens)
        return -1;
    size_t total = 0, k = 0;
    for (const tr_piece *pc = tpl->pieces; pc; pc = pc->next, k++) {
        if (pc->text) {
            texts[k] = pc->text;
            lens[k] = pc->len;
        } else if (render_sub(I, pc, ro, &texts[k], &lens[k]) < 0) {
            return -1;
        }
        total += lens[k];
        if (total > MAX_TEXT)
            return rt_error(I, pc->pos, "expected a text under %u bytes, found more", MAX_TEXT);
    }
    char *buf = scratch(I, total + 1);
    if (!buf)
        return -1;
    size_t o = 0;
    k = 0;
    for (const tr_piece *pc = tpl->pieces; pc; pc = pc->next, k++) {
        bool pin = ro->hex && !pc->text && pc->sub == TR_SUB_PIN;
        if (pin) {
            if (ro->npins == MAX_PIN_MARKS)
                return rt_error(I, pc->pos, "expected at most %d ${pin:...} in one line", MAX_PIN_MARKS);
            ro->pins[ro->npins++] = (pin_range){o, lens[k]};
        }
        for (size_t j = 0; j < lens[k]; j++) {
            char c = texts[k][j];
            if (ro->hex && (c == ' ' || c == '\t'))
                continue;
            buf[o++] = c;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outn = o;
    return 0;
}

static int render_text(interp *I, const tr_template *tpl, const char **out, size_t *n)
{
    render_opts ro = {false, {{0, 0}}, 0};
    return render(I, tpl, &ro, out, n);
}

/* ---- expressions ------------------------------------------------------------------ */

static uint64_t rng_next(interp *I)
{
    uint64_t x = I->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    I->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* The BER-TLV object starting at b[i] (i < n): the length of its tag, where
 * its value starts and how long it is. False when it is not complete. */
static bool tlv_object(const uint8_t *b, size_t n, size_t i, size_t *tl, size_t *vo, size_t *vn)
{
    size_t ts = i;
    if ((b[i++] & 0x1F) == 0x1F) {
        while (i < n && (b[i] & 0x80))
            i++;
        i++;
    }
    if (i >= n || i - ts > 4)
        return false;
    *tl = i - ts;
    size_t len = b[i++];
    if (len & 0x80) {
        size_t k = len & 0x7F;
        if (k == 0 || k > 3 || n - i < k)
            return false;
        len = 0;
        while (k--)
            len = len << 8 | b[i++];
    }
    if (len > n - i)
        return false;
    *vo = i;
    *vn = len;
    return true;
}

static bool tlv_padding(uint8_t c)
{
    return c == 0x00 || c == 0xFF; /* between objects (ISO/IEC 7816-4) */
}

/* BER-TLV: first value with tag (depth-first into constructed tags). */
static bool tlv_find(const uint8_t *b, size_t n, const uint8_t *tag, size_t tn, int depth,
                     const uint8_t **val_out, size_t *vn)
{
    size_t i = 0;
    while (i < n) {
        if (tlv_padding(b[i])) {
            i++;
            continue;
        }
        size_t tl, vo, len;
        if (!tlv_object(b, n, i, &tl, &vo, &len))
            return false;
        if (tl == tn && !memcmp(b + i, tag, tn)) {
            *val_out = b + vo;
            *vn = len;
            return true;
        }
        bool constructed = b[i] & 0x20;
        if (constructed && depth < 8 && tlv_find(b + vo, len, tag, tn, depth + 1, val_out, vn))
            return true;
        i = vo + len;
    }
    return false;
}

/* Where the top-level BER-TLV objects of b end: n when every byte belongs to
 * a complete object or is padding, else the offset of the first byte that
 * does not (trailing bytes). */
static size_t tlv_end(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t tl, vo, len;
        if (tlv_padding(b[i]))
            i++;
        else if (tlv_object(b, n, i, &tl, &vo, &len))
            i = vo + len;
        else
            return i;
    }
    return n;
}

/* ---- built-in functions: one row each ------------------------------------------ */

/* The parser has checked the name and the argument count (script.c's
 * fn_table); this table says what each argument must be and which function
 * computes the result. The dispatcher evaluates the arguments left to right
 * and converts each as its row says, so an argument error names that
 * argument at its column, exactly as when every function did it itself. */
typedef enum {
    A_BYTES = 1, /* hex data, decoded ("expected hex data for WHAT") */
    A_INT,       /* a number ("expected a number for WHAT") */
    A_TEXT,      /* any value as text (integers in decimal) */
    A_VAL,       /* evaluated as is: the implementation converts it */
    A_LATER      /* not evaluated here: the implementation evaluates it once the
                  * arguments before it are checked (which error wins), or reads
                  * it unevaluated (defined(NAME)) */
} arg_kind;

typedef struct {
    val v;         /* as evaluated (A_VAL) */
    int64_t i;     /* A_INT */
    uint8_t *b;    /* A_BYTES */
    const char *s; /* A_TEXT */
    size_t n;      /* bytes of b or s */
} fn_arg;

#define FN_SPEC_MAX 4

typedef int (*fn_impl)(interp *I, const tr_expr *x, fn_arg *a, val *out);

typedef struct {
    arg_kind kind[FN_SPEC_MAX];
    const char *what[FN_SPEC_MAX]; /* A_BYTES, A_INT: the argument in messages
                                    * (A_VAL, A_LATER: the implementation names it) */
    fn_impl impl;
    bool variadic;                 /* every argument is kind[0] / what[0] */
} fn_row;

/* Evaluate argument k and convert it to kind (the helpers below are also
 * what an implementation uses for an A_LATER argument). */
static int arg_int(interp *I, const tr_expr *x, int k, const char *what, int64_t *out)
{
    val v;
    if (eval(I, x->args[k], &v) < 0)
        return -1;
    return to_int(I, &v, x->args[k]->pos, what, out);
}

static int arg_bytes(interp *I, const tr_expr *x, int k, const char *what, uint8_t **b, size_t *n)
{
    val v;
    if (eval(I, x->args[k], &v) < 0)
        return -1;
    return to_bytes(I, &v, x->args[k]->pos, what, b, n);
}

static int arg_text(interp *I, const tr_expr *x, int k, const char **s, size_t *n)
{
    val v;
    if (eval(I, x->args[k], &v) < 0)
        return -1;
    *s = to_text(I, &v, n);
    return *s ? 0 : -1;
}

static int fn_byte(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    int64_t i = a[1].i;
    if (i < 0 || (uint64_t)i >= a[0].n)
        return rt_error(I, x->pos, "byte(): index %" PRId64 " outside %zu bytes", i, a[0].n);
    *out = vint(a[0].b[i]);
    return 0;
}

static int fn_sub(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    size_t n = a[0].n;
    int64_t i = a[1].i;
    int64_t j = x->nargs == 3 ? a[2].i : i >= 0 && (uint64_t)i <= n ? (int64_t)n - i : 0;
    if (i < 0 || j < 0 || (uint64_t)i > n || (uint64_t)j > n - (uint64_t)i)
        return rt_error(I, x->pos, "sub(): %" PRId64 " bytes at offset %" PRId64 " outside %zu bytes",
                        j, i, n);
    *out = hex_val(I, a[0].b + i, (size_t)j);
    return 0;
}

/* tlv()'s tag: a number (0x9F7F) or hex ("9F7F"), 1 to 4 bytes. */
static int tlv_tag(interp *I, const tr_expr *x, const val *tv, uint8_t tagbuf[4], uint8_t **tag, size_t *tn)
{
    tr_pos pos = x->args[1]->pos;
    *tag = tagbuf;
    *tn = 0;
    if (tv->is_int) {
        if (tv->i <= 0 || tv->i > 0xFFFFFFFF)
            return rt_error(I, pos, "tlv(): tag %" PRId64 " out of range", tv->i);
        uint8_t tmp[4];
        for (int64_t t = tv->i; t; t >>= 8)
            tmp[(*tn)++] = (uint8_t)t;
        for (size_t k = 0; k < *tn; k++)
            tagbuf[k] = tmp[*tn - 1 - k];
    } else if (to_bytes(I, tv, pos, "the tag", tag, tn) < 0) {
        return -1;
    }
    if (*tn == 0 || *tn > 4)
        return rt_error(I, pos, "tlv(): expected a tag of 1 to 4 bytes, found %zu", *tn);
    return 0;
}

static int fn_tlv(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    uint8_t tagbuf[4], *tag;
    size_t tn;
    if (tlv_tag(I, x, &a[1].v, tagbuf, &tag, &tn) < 0)
        return -1;
    const uint8_t *v = NULL;
    size_t vn = 0;
    if (!tlv_find(a[0].b, a[0].n, tag, tn, 0, &v, &vn))
        *out = vstr("", 0);
    else
        *out = hex_val(I, v, vn);
    return 0;
}

/* tlv_trailing(HEX): the bytes after the last complete top-level object. */
static int fn_tlv_trailing(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)x;
    size_t end = tlv_end(a[0].b, a[0].n);
    *out = hex_val(I, a[0].b + end, a[0].n - end);
    return 0;
}

static int fn_int(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    if (a[0].n == 0 || a[0].n > 8)
        return rt_error(I, x->pos, "int(): expected 1 to 8 bytes, found %zu", a[0].n);
    uint64_t u = 0;
    for (size_t k = 0; k < a[0].n; k++)
        u = u << 8 | a[0].b[k];
    if (u > INT64_MAX)
        return rt_error(I, x->pos, "int(): value does not fit in 63 bits");
    *out = vint((int64_t)u);
    return 0;
}

static int fn_concat(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    size_t total = 0;
    for (int k = 0; k < x->nargs; k++)
        total += a[k].n;
    if (total > MAX_TEXT)
        return rt_error(I, x->pos, "concat(): result over %u bytes", MAX_TEXT);
    char *r = scratch(I, total + 1);
    if (!r)
        return -1;
    size_t o = 0;
    for (int k = 0; k < x->nargs; k++) {
        memcpy(r + o, a[k].s, a[k].n);
        o += a[k].n;
    }
    r[o] = '\0';
    *out = vstr(r, o);
    return 0;
}

static int fn_ascii(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)x;
    char *r = scratch(I, a[0].n + 1);
    if (!r)
        return -1;
    for (size_t k = 0; k < a[0].n; k++)
        r[k] = a[0].b[k] >= 0x20 && a[0].b[k] < 0x7F ? (char)a[0].b[k] : '.';
    r[a[0].n] = '\0';
    *out = vstr(r, a[0].n);
    return 0;
}

static int fn_asciihex(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)x;
    *out = hex_val(I, (const uint8_t *)a[0].s, a[0].n);
    return 0;
}

static int fn_len(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)I, (void)x;
    *out = vint((int64_t)a[0].n);
    return 0;
}

/* The byte count is evaluated after the number is checked: hex(-1, ...)
 * reports the -1 whatever the count is. */
static int fn_hex(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    int64_t i = a[0].i, width = 0;
    if (i < 0)
        return rt_error(I, x->pos, "hex(): expected a number >= 0, found %" PRId64, i);
    if (x->nargs == 2 && arg_int(I, x, 1, "the byte count", &width) < 0)
        return -1;
    if (width < 0 || width > 8)
        return rt_error(I, x->pos, "hex(): expected 1 to 8 bytes, found %" PRId64, width);
    uint8_t be[8];
    size_t need = 1;
    for (int k = 0; k < 8; k++)
        be[k] = (uint8_t)((uint64_t)i >> (56 - 8 * k));
    while (need < 8 && ((uint64_t)i >> (8 * need)))
        need++;
    if (width && (size_t)width < need)
        return rt_error(I, x->pos, "hex(): %" PRId64 " does not fit in %" PRId64 " bytes", i, width);
    size_t w = width ? (size_t)width : need;
    *out = hex_val(I, be + 8 - w, w);
    return 0;
}

static int fn_random(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    int64_t i = a[0].i;
    if (i < 1 || i > 4096)
        return rt_error(I, x->pos, "random(): expected 1 to 4096 bytes, found %" PRId64, i);
    uint8_t *r = scratch(I, (size_t)i);
    if (!r)
        return -1;
    for (int64_t k = 0; k < i; k++)
        r[k] = (uint8_t)(rng_next(I) >> 56);
    *out = hex_val(I, r, (size_t)i);
    return 0;
}

static int crypto_error(interp *I, tr_pos pos, const char *fn, const tr_err *e)
{
    if (I->ended)
        return -1;
    end_test(I, TR_ERROR, e->code == TR_E_NOMEM ? "nomem" : "crypto", pos.line,
             "column %d: %s(): %s", pos.col, fn, e->msg);
    return -1;
}

/* The algorithm argument of sign_input() and sig_ok() (a suite error). */
static int crypto_alg(interp *I, const tr_expr *x, const char *name, tr_alg *alg)
{
    tr_err e;
    tr_err_clear(&e);
    if (tr_alg_parse(name, alg, &e) < 0)
        return rt_error(I, x->args[0]->pos, "%s(): %s", tr_fn_name((tr_fn)x->op), e.msg);
    return 0;
}

static int fn_sign_input(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    tr_alg alg;
    if (crypto_alg(I, x, a[0].s, &alg) < 0)
        return -1;
    uint8_t buf[512];
    size_t n = 0;
    tr_err e;
    tr_err_clear(&e);
    if (tr_sign_input(alg, a[1].b, a[1].n, a[2].b, a[2].n, buf, sizeof buf, &n, &e) < 0)
        return crypto_error(I, x->pos, tr_fn_name((tr_fn)x->op), &e);
    *out = hex_val(I, buf, n);
    return 0;
}

/* The signature is evaluated after the algorithm is checked. */
static int fn_sig_ok(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    tr_alg alg;
    uint8_t *sig;
    size_t sn;
    if (crypto_alg(I, x, a[0].s, &alg) < 0 || arg_bytes(I, x, 3, "the signature", &sig, &sn) < 0)
        return -1;
    tr_err e;
    tr_err_clear(&e);
    int r = tr_verify_token_signature(alg, a[1].b, a[1].n, a[2].b, a[2].n, sig, sn, &e);
    if (r < 0)
        return crypto_error(I, x->pos, tr_fn_name((tr_fn)x->op), &e);
    *out = vint(r == 1);
    return 0;
}

/* defined(NAME) reads the name as written; defined("NAME") evaluates. */
static int fn_defined(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    const char *name;
    if (x->args[0]->kind == TR_EX_VAR) {
        name = x->args[0]->name;
    } else if (arg_text(I, x, 0, &name, &a[0].n) < 0) {
        return -1;
    }
    bool builtin = tr_script_builtin_var(name);
    *out = vint(builtin ? (strncmp(name, "SW", 2) && strncmp(name, "DATA", 4)) || I->have_rsp
                        : tr_vars_get(I->vars, name) != NULL);
    return 0;
}

static int fn_min_max(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)I;
    int64_t best = a[0].i;
    for (int k = 1; k < x->nargs; k++)
        if (x->op == TR_FN_MIN ? a[k].i < best : a[k].i > best)
            best = a[k].i;
    *out = vint(best);
    return 0;
}

static int fn_upper(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)x;
    char *r = scratch(I, a[0].n + 1);
    if (!r)
        return -1;
    for (size_t k = 0; k < a[0].n; k++)
        r[k] = (char)toupper((unsigned char)a[0].s[k]);
    r[a[0].n] = '\0';
    *out = vstr(r, a[0].n);
    return 0;
}

/* envelope(ALG, CERT, KEY): KEY sealed to CERT's public key as PSO:
 * DECIPHER takes it (crypto.h, tr_envelope_encrypt). A certificate that
 * cannot take it (another algorithm, not one) is an error of class crypto,
 * an algorithm that does not encrypt a suite error. */
static int fn_envelope(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    tr_alg alg;
    if (crypto_alg(I, x, a[0].s, &alg) < 0)
        return -1;
    if (alg != TR_ALG_SM2 && alg != TR_ALG_RSA2048)
        return rt_error(I, x->args[0]->pos, "envelope(): %s keys do not encrypt (expected sm2 or rsa)",
                        tr_alg_name(alg));
    if (a[2].n == 0 || a[2].n > TR_ENVELOPE_KEY_MAX)
        return rt_error(I, x->args[2]->pos, "envelope(): expected a key of 1 to %d bytes, found %zu",
                        TR_ENVELOPE_KEY_MAX, a[2].n);
    uint8_t *ct = NULL;
    size_t n = 0;
    tr_err e;
    tr_err_clear(&e);
    if (tr_envelope_encrypt(alg, a[1].b, a[1].n, a[2].b, a[2].n, &ct, &n, &e) < 0)
        return e.code == TR_E_USAGE ? rt_error(I, x->pos, "envelope(): %s", e.msg)
                                    : crypto_error(I, x->pos, "envelope", &e);
    *out = hex_val(I, ct, n);
    OPENSSL_free(ct);
    return 0;
}

/* sm4_encrypt(KEY, IV, DATA) / sm4_decrypt(KEY, IV, DATA): SM4-CBC with
 * PKCS#7 padding. A plaintext whose padding does not check out (a wrong
 * key) decrypts to "": the caller compares it with what it expects. */
static int fn_sm4(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    bool enc = x->op == TR_FN_SM4_ENCRYPT;
    const char *name = tr_fn_name((tr_fn)x->op);
    if (a[0].n != TR_SM4_KEY_LEN)
        return rt_error(I, x->args[0]->pos, "%s(): expected a key of %d bytes, found %zu", name,
                        TR_SM4_KEY_LEN, a[0].n);
    if (a[1].n != TR_SM4_BLOCK)
        return rt_error(I, x->args[1]->pos, "%s(): expected an IV of %d bytes, found %zu", name,
                        TR_SM4_BLOCK, a[1].n);
    if (!enc && (a[2].n == 0 || a[2].n % TR_SM4_BLOCK))
        return rt_error(I, x->args[2]->pos, "%s(): expected whole %d-byte blocks, found %zu bytes", name,
                        TR_SM4_BLOCK, a[2].n);
    if (a[2].n > MAX_TEXT / 2)
        return rt_error(I, x->args[2]->pos, "%s(): expected at most %u bytes, found %zu", name, MAX_TEXT / 2,
                        a[2].n);
    size_t cap = a[2].n + TR_SM4_BLOCK, n = 0;
    uint8_t *buf = scratch(I, cap);
    if (!buf)
        return -1;
    tr_err e;
    tr_err_clear(&e);
    int r = tr_sm4_cbc(enc, a[0].b, a[1].b, a[2].b, a[2].n, buf, cap, &n, &e);
    if (r < 0)
        return crypto_error(I, x->pos, name, &e);
    *out = r == 1 ? vstr("", 0) : hex_val(I, buf, n);
    return 0;
}

/* list_item(LIST, K): the K-th (from 0) of the comma-separated names of
 * LIST (an skf call's SKF_LIST), "" past the end; list_len(LIST): how many. */
static int fn_list(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    const char *p = a[0].s, *end = a[0].s + a[0].n;
    int64_t want = x->op == TR_FN_LIST_ITEM ? a[1].i : -1, k = 0;
    if (x->op == TR_FN_LIST_ITEM && want < 0)
        return rt_error(I, x->args[1]->pos, "list_item(): expected an index from 0, found %" PRId64, want);
    while (a[0].n && p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (k == want) {
            char *r = scratch(I, (size_t)(stop - p) + 1);
            if (!r)
                return -1;
            memcpy(r, p, (size_t)(stop - p));
            r[stop - p] = '\0';
            *out = vstr(r, (size_t)(stop - p));
            return 0;
        }
        k++;
        p = stop + 1;
    }
    *out = x->op == TR_FN_LIST_ITEM ? vstr("", 0) : vint(k);
    return 0;
}

/* seal_like(DATA): 1 when the bytes start like a seal (seal.h). */
static int fn_seal_like(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    (void)I;
    (void)x;
    *out = vint(tr_seal_looks_like(a[0].b, a[0].n));
    return 0;
}

/* skf_pubkey(CERT): the ECCPUBLICKEYBLOB of an EC certificate's key (what
 * SKF_DigestInit takes for SM2's Z); skf_ecc_sig(BLOB): an
 * ECCSIGNATUREBLOB as r||s (what sig_ok takes). */
static int fn_skf_blob(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    uint8_t buf[132];
    tr_err e;
    tr_err_clear(&e);
    bool pub = x->op == TR_FN_SKF_PUBKEY;
    int r = pub ? tr_skf_ecc_pub_blob_from_cert(a[0].b, a[0].n, buf, &e) : tr_skf_ecc_sig_raw(a[0].b, a[0].n, buf, &e);
    if (r < 0)
        return crypto_error(I, x->pos, tr_fn_name((tr_fn)x->op), &e);
    *out = hex_val(I, buf, pub ? 132 : 64);
    return 0;
}

/* skf_cipher_blob(CRYPTOGRAM): an SM2 envelope's key (GM/T 0009 DER, as
 * envelope() makes it) as the ECCCIPHERBLOB SKF_ImportSessionKey takes. */
static int fn_skf_cipher_blob(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    uint8_t *blob;
    size_t n;
    tr_err e;
    tr_err_clear(&e);
    if (tr_skf_ecc_cipher_blob(a[0].b, a[0].n, &blob, &n, &e) < 0)
        return e.code == TR_E_USAGE ? rt_error(I, x->args[0]->pos, "skf_cipher_blob(): %s", e.msg)
                                    : crypto_error(I, x->pos, "skf_cipher_blob", &e);
    *out = hex_val(I, blob, n);
    free(blob);
    return 0;
}

/* may_be(COUNT, N): 1 when the count an op reported (a number, LO..HI, or
 * n/a: util.h, tr_count) admits N; at_most(COUNT): its highest value (a
 * number: itself), an error for n/a. */
static int fn_count(interp *I, const tr_expr *x, fn_arg *a, val *out)
{
    tr_count c;
    const char *name = tr_fn_name((tr_fn)x->op);
    char text[48] = "";
    if (a[0].n < sizeof text)
        memcpy(text, a[0].s, a[0].n);
    if (a[0].n >= sizeof text || !tr_count_parse(text, &c))
        return rt_error(I, x->args[0]->pos, "%s(): '%.*s' is not a count (a number, LO..HI or n/a)", name,
                        (int)(a[0].n < 40 ? a[0].n : 40), a[0].s);
    if (x->op == TR_FN_MAY_BE) {
        *out = vint(tr_count_may_be(&c, a[1].i));
        return 0;
    }
    if (!c.known)
        return rt_error(I, x->args[0]->pos, "at_most(): the count is n/a (the interface tells none)");
    *out = vint(c.hi);
    return 0;
}

static const fn_row fn_rows[] = {
    [TR_FN_BYTE] = {{A_BYTES, A_INT}, {"byte()", "the index"}, fn_byte, false},
    [TR_FN_SUB] = {{A_BYTES, A_INT, A_INT}, {"sub()", "the offset", "the length"}, fn_sub, false},
    [TR_FN_TLV] = {{A_BYTES, A_VAL}, {"tlv()"}, fn_tlv, false},
    [TR_FN_INT] = {{A_BYTES}, {"int()"}, fn_int, false},
    [TR_FN_CONCAT] = {{A_TEXT}, {NULL}, fn_concat, true},
    [TR_FN_ASCII] = {{A_BYTES}, {"ascii()"}, fn_ascii, false},
    [TR_FN_ASCIIHEX] = {{A_TEXT}, {NULL}, fn_asciihex, false},
    [TR_FN_LEN] = {{A_BYTES}, {"len()"}, fn_len, false},
    [TR_FN_HEX] = {{A_INT, A_LATER}, {"hex()"}, fn_hex, false},
    [TR_FN_RANDOM] = {{A_INT}, {"random()"}, fn_random, false},
    [TR_FN_SIGN_INPUT] = {{A_TEXT, A_BYTES, A_BYTES}, {NULL, "the certificate", "the message"}, fn_sign_input,
                          false},
    [TR_FN_SIG_OK] = {{A_TEXT, A_BYTES, A_BYTES, A_LATER}, {NULL, "the certificate", "the message"}, fn_sig_ok,
                      false},
    [TR_FN_DEFINED] = {{A_LATER}, {NULL}, fn_defined, false},
    [TR_FN_MIN] = {{A_INT}, {"min"}, fn_min_max, true},
    [TR_FN_MAX] = {{A_INT}, {"max"}, fn_min_max, true},
    [TR_FN_UPPER] = {{A_TEXT}, {NULL}, fn_upper, false},
    [TR_FN_TLV_TRAILING] = {{A_BYTES}, {"tlv_trailing()"}, fn_tlv_trailing, false},
    [TR_FN_ENVELOPE] = {{A_TEXT, A_BYTES, A_BYTES}, {NULL, "the certificate", "the key"}, fn_envelope, false},
    [TR_FN_SM4_ENCRYPT] = {{A_BYTES, A_BYTES, A_BYTES}, {"the key", "the IV", "the data"}, fn_sm4, false},
    [TR_FN_SM4_DECRYPT] = {{A_BYTES, A_BYTES, A_BYTES}, {"the key", "the IV", "the data"}, fn_sm4, false},
    [TR_FN_LIST_ITEM] = {{A_TEXT, A_INT}, {NULL, "the index"}, fn_list, false},
    [TR_FN_LIST_LEN] = {{A_TEXT}, {NULL}, fn_list, false},
    [TR_FN_SEAL_LIKE] = {{A_BYTES}, {"seal_like()"}, fn_seal_like, false},
    [TR_FN_SKF_PUBKEY] = {{A_BYTES}, {"the certificate"}, fn_skf_blob, false},
    [TR_FN_SKF_ECC_SIG] = {{A_BYTES}, {"the signature blob"}, fn_skf_blob, false},
    [TR_FN_MAY_BE] = {{A_TEXT, A_INT}, {NULL, "the number"}, fn_count, false},
    [TR_FN_SKF_CIPHER_BLOB] = {{A_BYTES}, {"the cryptogram"}, fn_skf_cipher_blob, false},
    [TR_FN_AT_MOST] = {{A_TEXT}, {NULL}, fn_count, false},
};
#define N_FN_ROWS (sizeof fn_rows / sizeof fn_rows[0])

/* Evaluate and convert argument k as the row says. */
static int prepare_arg(interp *I, const tr_expr *x, const fn_row *row, int k, fn_arg *a)
{
    int s = row->variadic ? 0 : k;
    if (s >= FN_SPEC_MAX || !row->kind[s])
        return rt_error(I, x->args[k]->pos, "internal: %s() has no argument %d", tr_fn_name((tr_fn)x->op),
                        k + 1);
    switch (row->kind[s]) {
    case A_BYTES: return arg_bytes(I, x, k, row->what[s], &a->b, &a->n);
    case A_INT: return arg_int(I, x, k, row->what[s], &a->i);
    case A_TEXT: return arg_text(I, x, k, &a->s, &a->n);
    case A_VAL: return eval(I, x->args[k], &a->v);
    case A_LATER: return 0;
    }
    return rt_error(I, x->args[k]->pos, "internal: unknown argument kind");
}

static int call_fn(interp *I, const tr_expr *x, val *out)
{
    const fn_row *row = x->op > 0 && (size_t)x->op < N_FN_ROWS ? &fn_rows[x->op] : NULL;
    if (!row || !row->impl)
        return rt_error(I, x->pos, "internal: unknown function");
    fn_arg a[TR_SCRIPT_MAX_ARGS];
    memset(a, 0, sizeof a);
    for (int k = 0; k < x->nargs; k++)
        if (prepare_arg(I, x, row, k, &a[k]) < 0)
            return -1;
    return row->impl(I, x, a, out);
}

static bool values_equal(const val *a, const val *b)
{
    int64_t ia, ib;
    if (a->is_int || b->is_int) {
        bool oka = a->is_int ? (ia = a->i, true) : text_int(a->s, a->n, &ia);
        bool okb = b->is_int ? (ib = b->i, true) : text_int(b->s, b->n, &ib);
        if (oka && okb)
            return ia == ib;
        if (oka != okb)
            return false;
    }
    if (a->n != b->n)
        return false;
    if (is_hex_text(a->s, a->n) && is_hex_text(b->s, b->n))
        return strncasecmp(a->s, b->s, a->n) == 0;
    return memcmp(a->s, b->s, a->n) == 0;
}

/* An arithmetic, bitwise or comparison operator on two integers (wrapping
 * like the token's own 64-bit registers would; division and shifts are
 * checked). */
static int int_binary(interp *I, const tr_expr *x, int64_t ia, int64_t ib, int64_t *r)
{
    uint64_t ua = (uint64_t)ia, ub = (uint64_t)ib;
    switch ((tr_op)x->op) {
    case TR_OP_ADD: *r = (int64_t)(ua + ub); return 0;
    case TR_OP_SUB: *r = (int64_t)(ua - ub); return 0;
    case TR_OP_MUL: *r = (int64_t)(ua * ub); return 0;
    case TR_OP_DIV:
    case TR_OP_MOD:
        if (ib == 0)
            return rt_error(I, x->pos, "division by zero in %s", x->src);
        if (ia == INT64_MIN && ib == -1)
            return rt_error(I, x->pos, "overflow in %s", x->src);
        *r = x->op == TR_OP_DIV ? ia / ib : ia % ib;
        return 0;
    case TR_OP_SHL:
    case TR_OP_SHR:
        if (ib < 0 || ib > 63)
            return rt_error(I, x->pos, "shift by %" PRId64 " (expected 0..63) in %s", ib, x->src);
        *r = (int64_t)(x->op == TR_OP_SHL ? ua << ib : ua >> ib);
        return 0;
    case TR_OP_BAND: *r = ia & ib; return 0;
    case TR_OP_BOR: *r = ia | ib; return 0;
    case TR_OP_BXOR: *r = ia ^ ib; return 0;
    case TR_OP_LT: *r = ia < ib; return 0;
    case TR_OP_LE: *r = ia <= ib; return 0;
    case TR_OP_GT: *r = ia > ib; return 0;
    case TR_OP_GE: *r = ia >= ib; return 0;
    default:
        return rt_error(I, x->pos, "internal: unknown operator");
    }
}

static int eval_binary(interp *I, const tr_expr *x, val *out)
{
    val a, b;
    if (eval(I, x->a, &a) < 0)
        return -1;
    if (x->op == TR_OP_AND || x->op == TR_OP_OR) {
        bool ta = truthy(&a);
        if (x->op == TR_OP_AND ? !ta : ta) {
            *out = vint(ta);
            return 0;
        }
        if (eval(I, x->b, &b) < 0)
            return -1;
        *out = vint(truthy(&b));
        return 0;
    }
    if (eval(I, x->b, &b) < 0)
        return -1;
    if (x->op == TR_OP_EQ || x->op == TR_OP_NE) {
        bool eq = values_equal(&a, &b);
        *out = vint(x->op == TR_OP_EQ ? eq : !eq);
        return 0;
    }
    int64_t ia, ib, r = 0;
    if (to_int(I, &a, x->a->pos, x->a->src, &ia) < 0 || to_int(I, &b, x->b->pos, x->b->src, &ib) < 0 ||
        int_binary(I, x, ia, ib, &r) < 0)
        return -1;
    *out = vint(r);
    return 0;
}

static int eval(interp *I, const tr_expr *x, val *out)
{
    switch (x->kind) {
    case TR_EX_INT:
        *out = vint(x->ival);
        return 0;
    case TR_EX_STR: {
        const char *s;
        size_t n;
        if (render_text(I, &x->str, &s, &n) < 0)
            return -1;
        *out = vstr(s, n);
        return 0;
    }
    case TR_EX_VAR:
        return get_var(I, x->name, x->pos, out);
    case TR_EX_UNARY: {
        val a;
        if (eval(I, x->a, &a) < 0)
            return -1;
        if (x->op == TR_OP_NOT) {
            *out = vint(!truthy(&a));
            return 0;
        }
        int64_t i;
        if (to_int(I, &a, x->a->pos, x->a->src, &i) < 0)
            return -1;
        *out = vint(x->op == TR_OP_NEG ? (int64_t)(0 - (uint64_t)i) : ~i);
        return 0;
    }
    case TR_EX_BINARY:
        return eval_binary(I, x, out);
    case TR_EX_CALL:
        return call_fn(I, x, out);
    }
    return rt_error(I, x->pos, "internal: unknown expression");
}

static int eval_int(interp *I, const tr_expr *x, const char *what, int64_t *out)
{
    val v;
    if (eval(I, x, &v) < 0)
        return -1;
    return to_int(I, &v, x->pos, what, out);
}

static int eval_double(interp *I, const tr_expr *x, const char *what, double *out)
{
    val v;
    if (eval(I, x, &v) < 0)
        return -1;
    if (v.is_int) {
        *out = (double)v.i;
        return 0;
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(v.n < 63 ? v.n : 63), v.s);
    if (tr_parse_double(tr_trim(tmp), out) && isfinite(*out))
        return 0;
    return rt_error(I, x->pos, "expected a number for %s, found \"%.40s\"", what, v.s);
}

/* A message expression, rendered (NULL message -> fallback). */
static const char *eval_message(interp *I, const tr_expr *x, const char *fallback)
{
    if (!x)
        return fallback;
    val v;
    if (eval(I, x, &v) < 0)
        return NULL;
    const char *s = to_text(I, &v, NULL);
    return s;
}

/* ---- statements ------------------------------------------------------------------ */

static int exec_list(interp *I, const tr_stmt *s);

/* Before each statement and each loop iteration: cancel, step budget,
 * deadline (an empty loop of a million turns still sees them). */
static int tick(interp *I, int line)
{
    if (stop_requested(I, line))
        return STOP;
    if (I->env->max_steps && ++I->steps > I->env->max_steps)
        return end_test(I, TR_ERROR, "suite", line, "step budget of %lu statements exhausted",
                        I->env->max_steps);
    if (I->deadline_ns && tr_now_ns() > I->deadline_ns)
        return end_test(I, TR_ERROR, "timeout", line, "test exceeded its time limit of %g s",
                        I->env->test_timeout_s);
    return GO;
}

static int set_var(interp *I, const char *name, const char *value)
{
    if (tr_vars_set(I->vars, name, value) < 0)
        return harness_fail(I, TR_E_NOMEM, "out of memory setting %s", name);
    return GO;
}

/* NAME, VALUE, ... NULL: every pair set, or STOP at the first failure. */
static int set_vars(interp *I, const char *const *kv)
{
    for (; kv[0]; kv += 2)
        if (set_var(I, kv[0], kv[1]) != GO)
            return STOP;
    return GO;
}

static int set_var_int(interp *I, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRId64, v);
    return set_var(I, name, b);
}

static bool unjournaled_lib_secret_change(const interp *I, const char *fn);

/* ---- a library call: `skf SKF_X(...)`, `p11 C_X(...)` (libcall.h) ---------------------- */

/* The library's trace rows (one per function it invoked) as rows of
 * trace.csv: command = the call with its arguments (PINs masked by the
 * layer, and scrubbed again here), response = its outputs, sw = its
 * return code's name (SAR_*, CKR_*). */
static void lib_trace(void *ud, const tr_libcall_trace *t)
{
    interp *I = ud;
    const tr_interp_hooks *h = I->env->hooks;
    if (I->quiet || (!I->env->reports && !(h && h->trace)))
        return;
    char cmd[600], rsp[600];
    snprintf(cmd, sizeof cmd, "%s(%s)", t->function, t->args);
    snprintf(rsp, sizeof rsp, "%s", t->outputs);
    scrub(I, cmd, sizeof cmd);
    scrub(I, rsp, sizeof rsp);
    tr_trace_row row = {
        .who = I->env->who, .suite = I->suite->name, .test = I->test_name, .file = I->suite->file,
        .line = I->lib_line, .command = cmd, .response = rsp, .sw = t->result, .latency_us = (uint64_t)t->us,
    };
    if (h && h->trace)
        h->trace(h->ud, &row);
    tr_err e;
    tr_err_clear(&e);
    if (I->env->reports && tr_reports_trace(I->env->reports, &row, &e) < 0)
        row_unwritten(I, &e);
}

/* Evaluate the call's arguments by the function's shape (libcall.h: u
 * number, s string, p PIN, b bytes) into a. Strings and bytes live in
 * scratch; the interface checks a number against its library's width. */
static int lib_args(interp *I, const tr_stmt *s, const char *shape, tr_libcall_args *a)
{
    const tr_expr *call = s->e[0];
    for (int k = 0; k < call->nargs; k++) {
        char kind = shape[k];
        val v;
        if (eval(I, call->args[k], &v) < 0)
            return -1;
        if (kind == 'u') {
            int64_t n;
            if (to_int(I, &v, call->args[k]->pos, s->name, &n) < 0)
                return -1;
            if (n < 0)
                return rt_error(I, call->args[k]->pos, "expected a number from 0 as argument %d of %s, found %" PRId64,
                                k + 1, s->name, n);
            a->u[a->nu++] = (uint64_t)n;
        } else if (kind == 's' || kind == 'p') {
            if (v.is_int)
                return rt_error(I, call->args[k]->pos, "expected a string as argument %d of %s, found the number %" PRId64,
                                k + 1, s->name, v.i);
            if (kind == 'p')
                add_secret(I, v.s);
            a->s[a->ns++] = v.s;
        } else {
            uint8_t *b;
            size_t n;
            if (to_bytes(I, &v, call->args[k]->pos, s->name, &b, &n) < 0)
                return -1;
            a->b[a->nb] = b;
            a->blen[a->nb++] = n;
        }
    }
    return 0;
}

static int lib_set(void *ud, const char *name, const char *value)
{
    return set_var(ud, name, value) == GO ? 0 : -1;
}

/* The call's outcome, after the journal hook heard of it. */
static int lib_outcome(interp *I, const tr_stmt *s, int rc, const tr_libcall_done *done, tr_err *e)
{
    if (rc < 0)
        return e->code == TR_E_CONFIG ? end_test(I, TR_ERROR, "config", s->pos.line, "%s", e->msg), STOP
                                      : io_error(I, s->pos.line, e, s->name);
    if (done->removed) { /* the token left: as a PC/SC removal, the slot's tests end */
        tr_fail(e, TR_E_REMOVED, "%s answered that the token was removed", s->name);
        return io_error(I, s->pos.line, e, s->name);
    }
    I->apdu_ns += (uint64_t)(done->us * 1000.0);
    I->out->apdus++;
    bool first = I->power_fresh;
    const char *slow = check_time(I, s->pos.line, done->us / 1000.0, s->iface->private_key_op(s->name), s->name);
    if (I->cycle_pending)
        flush_cycle(I, I->cyc.to_atr_ms >= 0 ? I->cyc.to_atr_ms + (double)(tr_now_ns() - I->cyc_back_ns) / 1e6 : -1,
                    first ? slow : NULL, first && slow ? I->last_time_msg : NULL);
    return GO;
}

static int exec_libcall(interp *I, const tr_stmt *s)
{
    if (!I->env->lib || I->env->lib_iface != s->iface)
        return rt_error(I, s->pos, "%s: this slot has no %s library (its interface is another)", s->name,
                        s->iface->keyword), STOP;
    tr_libcall_args a;
    memset(&a, 0, sizeof a);
    if (lib_args(I, s, s->iface->shape(s->name), &a) < 0 || stop_requested(I, s->pos.line))
        return STOP;
    if (unjournaled_lib_secret_change(I, s->name))
        return rt_error(I, s->pos, "%s changes a secret of the token: a `journal` statement must come first",
                        s->name), STOP;
    I->lib_line = s->pos.line;
    tr_libcall_done done = {0, false, false, false};
    tr_err e;
    tr_err_clear(&e);
    int rc = s->iface->call(I->env->lib, s->name, &a, lib_set, I, &done, &e);
    if (I->journal_pending) {
        I->journal_pending = false;
        if (I->env->hooks->journaled_sent)
            I->env->hooks->journaled_sent(I->env->hooks->ud, rc < 0 ? TR_JOURNALED_UNKNOWN
                                                             : done.ok ? TR_JOURNALED_LANDED
                                                             : done.pin_refused ? TR_JOURNALED_REFUSED
                                                                                : TR_JOURNALED_UNKNOWN);
    }
    return lib_outcome(I, s, rc, &done, &e);
}

/* ---- ops and the PIN model ----------------------------------------------------------- */

static int exec_list(interp *I, const tr_stmt *s);

static const tr_suite_op *find_op(const interp *I, const char *name, const char **file)
{
    return find_op_in(I->suite, I->env->ops, name, file);
}

static int run_op(interp *I, const tr_suite_op *op, const char *file, tr_pos at)
{
    if (I->call_depth >= MAX_CALL_DEPTH)
        return rt_error(I, at, "expected ops nested at most %d deep (does '%s' call itself?)", MAX_CALL_DEPTH,
                        op->name), STOP;
    const char *caller = I->file;
    I->call_depth++;
    I->file = file; /* messages and rows name the line of the op's own file */
    int r = exec_list(I, op->body);
    I->file = caller;
    I->call_depth--;
    return r;
}

static int exec_call(interp *I, const tr_stmt *s)
{
    const char *file;
    const tr_suite_op *op = find_op(I, s->name, &file);
    if (!op)
        return rt_error(I, s->pos, "expected the name of an op of this suite or of the interface's library, "
                                   "found '%s'", s->name), STOP;
    return run_op(I, op, file, s->pos);
}

typedef struct {
    interp *I;
    tr_pos at;
} model_ctx;

static int model_call(void *ud, const char *name)
{
    model_ctx *m = ud;
    const char *file;
    const tr_suite_op *op = find_op(m->I, name, &file);
    if (!op)
        return rt_error(m->I, m->at, "the PIN model needs an op named '%s' in this suite or the interface's "
                                     "library", name), -1;
    tr_arena_reset(m->I->scratch);
    return run_op(m->I, op, file, m->at) == GO && !m->I->ended ? 0 : -1;
}

static int model_set(void *ud, const char *name, const char *value)
{
    model_ctx *m = ud;
    if (tr_var_is_pin(name))
        add_secret(m->I, value);
    return set_var(m->I, name, value) == GO ? 0 : -1;
}

static const char *model_get(void *ud, const char *name)
{
    model_ctx *m = ud;
    return tr_vars_get(m->I->vars, name);
}

static void model_log(void *ud, const char *text)
{
    model_ctx *m = ud;
    emit_log(m->I, text);
}

/* pin-model: the walk of pinmodel.h through the suite's ops; the first
 * deviation fails the test with the property's class. */
static int exec_pin_model(interp *I, const tr_stmt *s)
{
    model_ctx m = {I, s->pos};
    tr_pm_io io = {&m, model_call, model_set, model_get, model_log};
    tr_pm_result res;
    tr_err e;
    tr_err_clear(&e);
    tr_pm_outcome o = tr_pinmodel_run(&io, &res, &e);
    char line[500];
    int n = snprintf(line, sizeof line, "PIN model: %u steps, %u of %u (transition, kind of state) pairs taken",
                     res.steps, res.covered, res.reachable);
    if (res.left_out[0] && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "; left out, the interface cannot: %s (%u pairs)", res.left_out,
                 res.modelled - res.reachable);
    if (o != TR_PM_STOPPED && o != TR_PM_ERROR) {
        emit_log(I, line);
        /* the coverage in results.csv: what a PASS of this token's model rests on */
        emit_metric(I, s->pos.line, "pin_model.pairs", res.covered, "pairs", TR_PASS, NULL, line, NO_LIMIT);
    }
    switch (o) {
    case TR_PM_PASS:
        /* the walk passed without the power cycle, which this slot cannot
         * do: what it needs a power cycle for was not checked, and the
         * token is not certified (as a test that power-cycles is not run) */
        if (I->env->no_power && res.power_left_out)
            return end_test(I, TR_SKIP, "not-run.no-power", s->pos.line,
                            "not run: %s: the PIN model without its power cycle (%u of the model's %u "
                            "(transition, kind of state) pairs taken, no deviation in %u steps; left out: %s)",
                            I->env->no_power, res.covered, res.modelled, res.steps, res.left_out);
        return GO;
    case TR_PM_DEVIATION: return end_test(I, TR_FAIL, res.cls, s->pos.line, "%s", res.msg);
    case TR_PM_NOT_FACTORY: return end_test(I, TR_SKIP, NULL, s->pos.line, "%s", res.msg);
    case TR_PM_ERROR: return rt_error(I, s->pos, "%s", e.msg), STOP;
    case TR_PM_STOPPED: break;
    }
    return STOP; /* an op ended the test (its own verdict stands) */
}

/* journal user|so try|refused PIN: recovery's mark, durable before the
 * candidate is presented (try) or once its refusal is known. */
static int exec_journal_mark(interp *I, const tr_stmt *s)
{
    const tr_interp_hooks *h = I->env->hooks;
    if (!h || !h->journal_mark)
        return GO;
    char pin[64];
    const char *v = eval_message(I, s->e[0], "");
    if (!v)
        return STOP;
    tr_strlcpy(pin, v, sizeof pin);
    add_secret(I, pin);
    tr_err e;
    tr_err_clear(&e);
    bool refused = s->mark == TR_JOURNAL_STMT_REFUSED;
    if (h->journal_mark(h->ud, s->flag ? 1 : 0, refused, pin, &e) < 0)
        return end_test(I, TR_ERROR, "journal", s->pos.line, "%s", e.msg), STOP;
    if (!refused) /* the presentation is the journaled command */
        I->journal_pending = true;
    return GO;
}

/* journal user|so LANDS [else NOT]: the record is durable before the next
 * command is sent, or the test stops here with an error. */
static int exec_journal(interp *I, const tr_stmt *s)
{
    if (s->mark != TR_JOURNAL_STMT_RECORD)
        return exec_journal_mark(I, s);
    const tr_interp_hooks *h = I->env->hooks;
    if (!h || !h->journal)
        return GO; /* nothing to record into (unit tests, dry runs) */
    char lands[64], not_landed[64];
    const char *v = eval_message(I, s->e[0], "");
    if (!v)
        return STOP;
    tr_strlcpy(lands, v, sizeof lands);
    v = s->e[1] ? eval_message(I, s->e[1], "") : lands;
    if (!v)
        return STOP;
    tr_strlcpy(not_landed, v, sizeof not_landed);
    add_secret(I, lands);
    add_secret(I, not_landed);
    tr_err e;
    tr_err_clear(&e);
    if (h->journal(h->ud, s->flag ? 1 : 0, lands, not_landed, &e) < 0)
        return end_test(I, TR_ERROR, "journal", s->pos.line, "%s", e.msg), STOP;
    I->journal_pending = true;
    return GO;
}

/* The profile's SECRET_INS ("24 2C": CHANGE REFERENCE DATA, RESET RETRY
 * COUNTER) names the commands that change a token's secrets. In a run that
 * keeps a journal, such a command must follow a `journal` statement: a
 * suite that forgets it would leave a crash with a token nobody can give
 * back its PIN. */
static bool unjournaled_secret_change(const interp *I)
{
    const tr_interp_hooks *h = I->env->hooks;
    return h && h->journal && !I->journal_pending && sent_ins_in(I, &I->secret_ins);
}

/* The same rule for the SKF functions that change a PIN. */
static bool unjournaled_lib_secret_change(const interp *I, const char *fn)
{
    const tr_interp_hooks *h = I->env->hooks;
    return h && h->journal && !I->journal_pending && I->env->lib_iface->changes_secret(fn);
}

static int send_checked(interp *I, const tr_stmt *s)
{
    if (!I->env->card || !I->env->card->transmit)
        return rt_error(I, s->pos, "an APDU on a slot that has none (its interface is skf: the suite must "
                                   "use its ops, or `requires INTERFACE == \"apdu\"`)"), STOP;
    if (unjournaled_secret_change(I))
        return rt_error(I, s->pos, "this command (INS %02X) changes a secret of the token (profile SECRET_INS): "
                                   "a `journal` statement must come first", I->sent[1]), STOP;
    return exchange(I, s->pos.line);
}

static int exec_apdu(interp *I, const tr_stmt *s)
{
    I->marks_used = false;
    if (s->tpl.constant) {
        I->sent = s->bytes;
        I->sentlen = s->nbytes;
        return send_checked(I, s);
    }
    render_opts ro = {true, {{0, 0}}, 0};
    const char *hex;
    size_t n;
    if (render(I, &s->tpl, &ro, &hex, &n) < 0)
        return STOP;
    if (n & 1)
        return rt_error(I, s->pos, "expected an even number of hex digits in the APDU after substitution, found %zu", n), STOP;
    if (n / 2 < 4 || n / 2 > TR_MAX_CAPDU)
        return rt_error(I, s->pos, "expected an APDU of 4 to %d bytes after substitution, found %zu",
                        TR_MAX_CAPDU, n / 2), STOP;
    long k = tr_hex_decode(hex, I->cmd, TR_MAX_CAPDU);
    if (k < 0)
        return rt_error(I, s->pos, "expected hex digits in the APDU after substitution (a variable "
                                   "holds something that is not hex)"), STOP;
    I->cmdlen = (size_t)k;
    if (ro.npins) {
        memset(I->mark, 0, I->cmdlen);
        for (int r = 0; r < ro.npins; r++) {
            size_t a = ro.pins[r].start / 2, b = (ro.pins[r].start + ro.pins[r].len + 1) / 2;
            for (size_t j = a; j < b && j < I->cmdlen; j++)
                I->mark[j] = (uint8_t)(r + 1);
        }
        I->marks_used = true;
    }
    I->sent = I->cmd;
    I->sentlen = I->cmdlen;
    return send_checked(I, s);
}

static bool need_rsp(interp *I, const tr_stmt *s, const char *what)
{
    if (I->have_rsp)
        return true;
    rt_error(I, s->pos, "%s before any APDU was answered", what);
    return false;
}

/* The text of an `expect` pattern built with ${...}, rendered as hex. */
static int render_pattern(interp *I, const tr_stmt *s, const char **src, size_t *n)
{
    render_opts ro = {true, {{0, 0}}, 0};
    return render(I, &s->tpl, &ro, src, n);
}

static int exec_expect_sw(interp *I, const tr_stmt *s)
{
    if (!need_rsp(I, s, "expect"))
        return STOP;
    tr_sw_pattern pat_buf;
    const tr_sw_pattern *pat = &s->sw;
    const char *src = s->pattern_src;
    if (!s->tpl.constant) {
        size_t n;
        char why[128];
        if (render_pattern(I, s, &src, &n) < 0)
            return STOP;
        if (tr_sw_pattern_compile(src, n, &pat_buf, why, sizeof why) < 0)
            return rt_error(I, s->pos, "expected a status word pattern, found \"%s\": %s", src, why), STOP;
        pat = &pat_buf;
    }
    for (int k = 0; k < pat->n; k++)
        if ((I->sw & pat->mask[k]) == pat->value[k])
            return GO;
    char ans[256];
    return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line,
                    "expected SW %s, got %s (command %s; answer %s)", src, I->sw_txt, cmd_text(I),
                    answer_text(I, ans, sizeof ans));
}

static int exec_expect_data(interp *I, const tr_stmt *s)
{
    if (!need_rsp(I, s, "expect data"))
        return STOP;
    tr_data_pattern pat_buf;
    const tr_data_pattern *pat = &s->data;
    const char *src = s->pattern_src;
    if (!s->tpl.constant) {
        size_t n;
        char why[128];
        if (render_pattern(I, s, &src, &n) < 0)
            return STOP;
        uint8_t *v = scratch(I, n / 2 + 1), *m = scratch(I, n / 2 + 1);
        if (!v || !m)
            return STOP;
        if (tr_data_pattern_compile(src, n, v, m, n / 2 + 1, &pat_buf, why, sizeof why) < 0)
            return rt_error(I, s->pos, "expected a data pattern, found \"%.60s\": %s", src, why), STOP;
        pat = &pat_buf;
    }
    size_t dn = I->rlen - 2;
    bool ok = pat->prefix ? dn >= pat->nbytes : dn == pat->nbytes;
    for (size_t k = 0; ok && k < pat->nbytes; k++)
        ok = (I->rsp[k] & pat->mask[k]) == pat->value[k];
    if (ok)
        return GO;
    char ans[256];
    return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line,
                    "expected data %.120s, got %s (command %s)", src, answer_text(I, ans, sizeof ans),
                    cmd_text(I));
}

static int exec_expect_len(interp *I, const tr_stmt *s)
{
    if (!need_rsp(I, s, "expect data-len"))
        return STOP;
    int64_t want;
    if (eval_int(I, s->e[0], "the expected length", &want) < 0)
        return STOP;
    if ((int64_t)(I->rlen - 2) == want)
        return GO;
    char ans[256];
    return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line,
                    "expected %" PRId64 " data bytes, got %zu (command %s; answer %s)", want,
                    I->rlen - 2, cmd_text(I), answer_text(I, ans, sizeof ans));
}

static int exec_reset(interp *I, const tr_stmt *s)
{
    const tr_cardio *c = I->env->card;
    if (!c->reset)
        return rt_error(I, s->pos, "this card connection cannot reset"), STOP;
    if (stop_requested(I, s->pos.line))
        return STOP;
    tr_err e;
    tr_err_clear(&e);
    if (c->reset(c->ctx, s->flag, &e) < 0) {
        if (e.code == TR_OK)
            e.code = TR_E_PCSC;
        return io_error(I, s->pos.line, &e, s->flag ? "reset cold" : "reset warm");
    }
    I->have_rsp = false;
    refresh_atr(I);
    char line[200];
    snprintf(line, sizeof line, "reset %s: ATR %s", s->flag ? "cold" : "warm", I->atr_hex);
    emit_log(I, line);
    return GO;
}

static int exec_power_cycle(interp *I, const tr_stmt *s)
{
    const tr_cardio *c = I->env->card;
    if (!c->power_cycle)
        return rt_error(I, s->pos, "this rig cannot power-cycle the token"), STOP;
    if (stop_requested(I, s->pos.line))
        return STOP;
    flush_cycle(I, -1, NULL, NULL);
    tr_cycle_report *r = &I->cyc;
    memset(r, 0, sizeof *r);
    r->off_ms = r->to_device_ms = r->to_reader_ms = r->to_atr_ms = r->to_first_apdu_ms = -1;
    tr_err e;
    tr_err_clear(&e);
    I->have_rsp = false;
    int rc = c->power_cycle(c->ctx, r, &e);
    if (rc < 0 && e.code == TR_E_NOPOWER) /* no switch (type none): the test is not run, nothing was cycled */
        return end_test(I, TR_SKIP, tr_code_name(e.code), s->pos.line, "%s", e.msg);
    I->cycle_no++;
    I->out->cycles++;
    if (rc < 0 && e.code == TR_E_SERVICE)
        return service_lost(I, &e);
    if (rc == 0) {
        I->cycle_pending = true;
        I->cyc_back_ns = tr_now_ns();
        I->power_fresh = true;
        I->fresh_atr_ms = r->to_atr_ms;
        refresh_atr(I);
        char line[200];
        snprintf(line, sizeof line, "power-cycle %u: ATR %s after %.1f ms", I->cycle_no, I->atr_hex,
                 r->to_atr_ms);
        emit_log(I, line);
        return GO;
    }
    /* The same split as `tokenrig cycle`: the stage the token reached names
     * the defect (enum.*), or the rig never switched (rig.*); what kept the
     * cycle from being judged (the rig after power-off, a library that hung
     * or died) is an error of its own class. */
    const char *cls = tr_cycle_failure_class(&e, r);
    bool token_fault = !strncmp(cls, "enum.", 5);
    r->to_first_apdu_ms = -1;
    emit_cycle(I, r, cls, e.msg);
    /* The token is not there any more: the rest of the suite cannot run. */
    I->lost = true;
    I->out->token_lost = true;
    snprintf(I->out->lost_code, sizeof I->out->lost_code, "%s", cls);
    snprintf(I->lost_msg, sizeof I->lost_msg, "%s:%d: %s", I->file, s->pos.line, cls);
    return end_test(I, token_fault ? TR_FAIL : TR_ERROR, cls, s->pos.line, "power-cycle %u: %s (stage reached: %s): %s",
                    I->cycle_no,
                    tr_cycle_verdict_judged(cls) ? "the token did not come back" : "the cycle could not be judged",
                    r->stage[0] ? r->stage : "none", e.msg);
}

static int exec_let(interp *I, const tr_stmt *s)
{
    val v;
    if (eval(I, s->e[0], &v) < 0)
        return STOP;
    const char *t = to_text(I, &v, NULL);
    return t ? set_var(I, s->name, t) : STOP;
}

static int exec_if(interp *I, const tr_stmt *s)
{
    val v;
    if (eval(I, s->e[0], &v) < 0)
        return STOP;
    if (truthy(&v))
        return exec_list(I, s->body);
    return exec_list(I, s->else_body);
}

static int loop_count(interp *I, const tr_expr *x, const char *what, int64_t *n)
{
    if (eval_int(I, x, what, n) < 0)
        return -1;
    if (*n < 0 || *n > MAX_LOOP)
        return rt_error(I, x->pos, "expected a %s of 0 to %ld, found %" PRId64, what, MAX_LOOP, *n);
    return 0;
}

static int exec_repeat(interp *I, const tr_stmt *s)
{
    int64_t n;
    if (loop_count(I, s->e[0], "repeat count", &n) < 0)
        return STOP;
    for (int64_t k = 0; k < n; k++) {
        if (tick(I, s->pos.line) != GO || exec_list(I, s->body) != GO)
            return STOP;
        maybe_live(I, "repeat", (unsigned long)k + 1, (unsigned long)n);
    }
    return GO;
}

static int exec_for(interp *I, const tr_stmt *s)
{
    int64_t a, b;
    if (eval_int(I, s->e[0], "the start value", &a) < 0 || eval_int(I, s->e[1], "the end value", &b) < 0)
        return STOP;
    int64_t lo = s->flag ? b : a, hi = s->flag ? a : b;
    uint64_t span = hi >= lo ? (uint64_t)hi - (uint64_t)lo + 1 : 0;
    if (hi >= lo && (span == 0 || span > (uint64_t)MAX_LOOP))
        return rt_error(I, s->pos, "expected at most %ld iterations from %" PRId64 " to %" PRId64,
                        MAX_LOOP, a, b), STOP;
    for (int64_t k = 0; k < (int64_t)span; k++) {
        if (tick(I, s->pos.line) != GO || set_var_int(I, s->name, s->flag ? a - k : a + k) != GO ||
            exec_list(I, s->body) != GO)
            return STOP;
        maybe_live(I, s->name, (unsigned long)k + 1, (unsigned long)span);
    }
    return GO;
}

static int exec_assert(interp *I, const tr_stmt *s)
{
    val v;
    if (eval(I, s->e[0], &v) < 0)
        return STOP;
    if (truthy(&v))
        return GO;
    const char *m = eval_message(I, s->message, NULL);
    if (s->message && !m)
        return STOP;
    if (m)
        return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line, "%s", m);
    return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line, "assertion failed: %s",
                    s->e[0]->src);
}

static int exec_metric(interp *I, const tr_stmt *s)
{
    double v;
    if (eval_double(I, s->e[0], s->name, &v) < 0)
        return STOP;
    emit_metric(I, s->pos.line, s->name, v, s->unit, TR_PASS, NULL, NULL, NO_LIMIT);
    return I->fatal ? STOP : GO;
}

static int measure_report(interp *I, const tr_stmt *s, double *samples, size_t n, const double *th,
                          const bool *have)
{
    tr_stats ts;
    tr_stats_compute(samples, n, &ts);
    double st[TR_TH_COUNT];
    st[TR_TH_MAX_MEAN_MS] = ts.mean;
    st[TR_TH_MAX_P50_MS] = ts.p50;
    st[TR_TH_MAX_P95_MS] = ts.p95;
    st[TR_TH_MAX_P99_MS] = ts.p99;
    st[TR_TH_MAX_MS] = ts.max;
    st[TR_TH_MIN_RATE] = ts.rate;
    static const char *const suffix[TR_TH_COUNT] = {"mean", "p50", "p95", "p99", "max", "rate"};
    char name[160], broken[512] = "";
    size_t bo = 0;
    snprintf(name, sizeof name, "%s.n", s->name);
    emit_metric(I, s->pos.line, name, (double)n, "", TR_PASS, NULL, NULL, NO_LIMIT);
    for (int t = 0; t < TR_TH_COUNT; t++) {
        bool bad = have[t] && (t == TR_TH_MIN_RATE ? st[t] < th[t] : st[t] > th[t]);
        char m[160] = "";
        if (bad) {
            snprintf(m, sizeof m, "%s %.3f %s %s %g", suffix[t], st[t], t == TR_TH_MIN_RATE ? "<" : ">",
                     tr_threshold_name((tr_threshold)t), th[t]);
            int w = snprintf(broken + bo, sizeof broken - bo, "%s%s", bo ? "; " : "", m);
            if (w > 0 && (size_t)w < sizeof broken - bo)
                bo += (size_t)w;
        }
        snprintf(name, sizeof name, "%s.%s", s->name, suffix[t]);
        limit_of lim = {th[t], !have[t] ? NULL : t == TR_TH_MIN_RATE ? "min" : "max"};
        emit_metric(I, s->pos.line, name, st[t], t == TR_TH_MIN_RATE ? "1/s" : "ms",
                    bad ? TR_FAIL : TR_PASS, NULL, bad ? m : NULL, lim);
    }
    if (I->fatal)
        return STOP;
    if (bo)
        return end_test(I, TR_FAIL, fail_class(I, NULL), s->pos.line, "measure %s (n=%zu): %s", s->name,
                        n, broken);
    return GO;
}

static int exec_measure(interp *I, const tr_stmt *s)
{
    int64_t n;
    if (eval_int(I, s->e[0], "the measure count", &n) < 0)
        return STOP;
    if (n < 1 || n > MAX_MEASURE)
        return rt_error(I, s->e[0]->pos, "expected a count of 1 to %ld, found %" PRId64, MAX_MEASURE, n), STOP;
    double th[TR_TH_COUNT] = {0};
    bool have[TR_TH_COUNT] = {0};
    for (int t = 0; t < TR_TH_COUNT; t++) {
        if (!s->threshold[t])
            continue;
        if (eval_double(I, s->threshold[t], tr_threshold_name((tr_threshold)t), &th[t]) < 0)
            return STOP;
        have[t] = true;
    }
    double *samples = malloc((size_t)n * sizeof *samples);
    if (!samples)
        return harness_fail(I, TR_E_NOMEM, "out of memory for %" PRId64 " samples", n);
    char what[96];
    snprintf(what, sizeof what, "measure %s", s->name);
    int r = GO;
    for (int64_t k = 0; k < n && r == GO; k++) {
        uint64_t before = I->apdu_ns;
        if (tick(I, s->pos.line) != GO || exec_list(I, s->body) != GO) {
            r = STOP;
            break;
        }
        samples[k] = (double)(I->apdu_ns - before) / 1e6;
        tr_sample_row row = {.who = I->env->who, .suite = I->suite->name, .test = I->test_name,
                             .metric = s->name, .index = (unsigned)k, .value = samples[k],
                             .unit = "ms"};
        const tr_interp_hooks *h = I->env->hooks;
        if (I->quiet)
            continue;
        if (h && h->sample)
            h->sample(h->ud, &row);
        tr_err e;
        if (I->env->reports && tr_reports_sample(I->env->reports, &row, &e) < 0)
            row_unwritten(I, &e);
        maybe_live(I, what, (unsigned long)k + 1, (unsigned long)n);
    }
    if (r == GO)
        r = measure_report(I, s, samples, (size_t)n, th, have);
    free(samples);
    return r;
}

/* One READ BINARY 00 B0 at offset off, Le chunk (extended above 256). */
static int rb_send(interp *I, int line, size_t off, int64_t chunk)
{
    uint8_t *c = I->cmd;
    size_t cl = 0;
    c[cl++] = 0x00;
    c[cl++] = 0xB0;
    c[cl++] = (uint8_t)(off >> 8);
    c[cl++] = (uint8_t)off;
    if (chunk <= 256) {
        c[cl++] = (uint8_t)(chunk & 0xFF);
    } else {
        c[cl++] = 0x00;
        c[cl++] = (uint8_t)(chunk >> 8);
        c[cl++] = (uint8_t)chunk;
    }
    I->sent = c;
    I->sentlen = cl;
    I->marks_used = false;
    return exchange(I, line);
}

/* READ BINARY at off answered 9000 with n bytes, fewer than it asked: the
 * end of the file, or a token that cut its answer short (9000 promises the
 * bytes asked for; an end of file before them is 6282). One more READ
 * BINARY at the next offset tells them apart: data there means the file
 * goes on and the short answer was the token's protocol defect. */
static int rb_confirm_end(interp *I, const tr_stmt *s, size_t off, int64_t chunk, size_t n)
{
    size_t next = off + n;
    if (next > 0x7FFF)
        return GO; /* no offset beyond: the end, as far as B0 can tell */
    if (rb_send(I, s->pos.line, next, chunk) != GO)
        return STOP;
    size_t more = I->rlen - 2;
    if (more == 0 || I->sw == 0x6B00)
        return GO;
    return end_test(I, TR_FAIL, "proto.short-read", s->pos.line,
                    "read-binary: READ BINARY at offset %zu asked for %" PRId64 " bytes and got %zu with 9000, yet "
                    "the file goes on (offset %zu answered %zu more bytes, %s): a short answer with 9000 "
                    "truncates the file (its end is 6282)", off, chunk, n, next, more, I->sw_txt);
}

/* The READ BINARY loop of read-binary: file[0..*got) on GO. */
static int rb_read_all(interp *I, const tr_stmt *s, int64_t chunk, int64_t max, uint8_t *file, size_t *got)
{
    for (;;) {
        if (*got > 0x7FFF)
            return end_test(I, TR_FAIL, fail_class(I, NULL), s->pos.line,
                            "read-binary: file longer than 32767 bytes (the limit of READ BINARY B0 offsets)");
        size_t off = *got;
        if (rb_send(I, s->pos.line, off, chunk) != GO)
            return STOP;
        size_t dn = I->rlen - 2;
        bool more = I->sw == 0x9000 && dn == (size_t)chunk;
        bool short_ok = I->sw == 0x9000 && dn < (size_t)chunk;
        bool done = I->sw == 0x6282 || I->sw == 0x6B00 || short_ok;
        if (!more && !done) {
            char ans[256];
            return end_test(I, TR_FAIL, fail_class(I, NULL), s->pos.line,
                            "read-binary: READ BINARY at offset %zu answered %s (command %s; answer %s)", off,
                            I->sw_txt, cmd_text(I), answer_text(I, ans, sizeof ans));
        }
        if (I->sw == 0x6B00)
            dn = 0;
        if (dn > (size_t)max - off)
            return end_test(I, TR_FAIL, fail_class(I, NULL), s->pos.line,
                            "read-binary: file longer than the maximum of %" PRId64 " bytes", max);
        memcpy(file + off, I->rsp, dn);
        *got += dn;
        if (short_ok && dn > 0 && rb_confirm_end(I, s, off, chunk, dn) != GO)
            return STOP;
        if (done)
            return GO;
    }
}

static int exec_read_binary(interp *I, const tr_stmt *s)
{
    int64_t chunk = 256, max = READ_BINARY_DEFAULT_MAX;
    if (s->e[0] && eval_int(I, s->e[0], "the chunk size", &chunk) < 0)
        return STOP;
    if (s->e[1] && eval_int(I, s->e[1], "the maximum size", &max) < 0)
        return STOP;
    if (chunk == 0)
        chunk = 256; /* as Le: 00 means 256 (profiles write READ_CHUNK = 00) */
    if (chunk < 1 || chunk > 65535)
        return rt_error(I, s->pos, "expected a chunk of 0 (= 256) to 65535 bytes, found %" PRId64, chunk), STOP;
    if (max < 1 || max > READ_BINARY_HARD_MAX)
        return rt_error(I, s->pos, "expected a maximum of 1 to %u bytes, found %" PRId64,
                        READ_BINARY_HARD_MAX, max), STOP;
    uint8_t *file = malloc((size_t)max);
    if (!file)
        return harness_fail(I, TR_E_NOMEM, "out of memory for read-binary");
    size_t got = 0;
    int r = rb_read_all(I, s, chunk, max, file, &got);
    if (r == GO) {
        char *hex = malloc(2 * got + 1);
        if (!hex) {
            r = harness_fail(I, TR_E_NOMEM, "out of memory for read-binary");
        } else {
            tr_hex_encode(file, got, hex, 2 * got + 1, 0);
            r = set_var(I, s->name, hex);
            free(hex);
        }
    }
    free(file);
    return r;
}

static void fmt_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, cap, "?");
}

/* The `trust FILE` option of cert-info / seal-info: the anchors, or NULL
 * when the statement has none. A file that cannot be used is the profile's
 * or the rig's mistake, not the token's: a configuration error naming the
 * file stops the suite (exit 2). */
static int load_trust(interp *I, const tr_expr *x, const char *stmt, tr_trust **out)
{
    *out = NULL;
    val v;
    if (!x)
        return GO;
    if (eval(I, x, &v) < 0)
        return STOP;
    if (v.is_int || v.n == 0 || strlen(v.s) != v.n)
        return rt_error(I, x->pos, "%s trust: expected the path of a certificate file, found %s", stmt,
                        v.is_int ? "a number" : v.n ? "text with a NUL byte" : "\"\""), STOP;
    tr_err e;
    tr_err_clear(&e);
    if (tr_trust_load(v.s, out, &e) < 0)
        return harness_fail(I, e.code, "%s trust (line %d): %s", stmt, x->pos.line, e.msg);
    return GO;
}

/* What the chain check of one statement reads and sets. */
typedef struct {
    const char *stmt, *ok_var, *problem_var;
    X509 *(*cert)(const uint8_t *der, size_t len, tr_err *e); /* the certificate checked */
} chain_check;

static const chain_check CERT_CHAIN = {"cert-info", "CERT_CHAIN_OK", "CERT_CHAIN_PROBLEM", tr_cert_parse};
static const chain_check SEAL_CHAIN = {"seal-info", "SEAL_MAKER_TRUSTED", "SEAL_MAKER_PROBLEM", tr_seal_maker_cert};

/* Whether the certificate in der chains to the `trust` anchor (x, NULL when
 * the statement has none): ok_var 1/0 and problem_var. No anchor: 0 and the
 * problem says so; no certificate: 0 and why. */
static int chain_vars(interp *I, const chain_check *c, const tr_expr *x, const uint8_t *der, size_t n)
{
    tr_trust *t = NULL;
    if (load_trust(I, x, c->stmt, &t) != GO)
        return STOP;
    tr_chain_result r;
    memset(&r, 0, sizeof r);
    tr_err e;
    tr_err_clear(&e);
    X509 *cert = t ? c->cert(der, n, &e) : NULL;
    int rc = GO;
    if (!t)
        snprintf(r.problem, sizeof r.problem, "no trust anchor given (%s ... trust FILE)", c->stmt);
    else if (!cert)
        snprintf(r.problem, sizeof r.problem, "%s", e.msg);
    else if (tr_trust_check(t, cert, &r, &e) < 0)
        rc = harness_fail(I, e.code, "%s trust: %s", c->stmt, e.msg);
    X509_free(cert);
    tr_trust_free(t);
    if (rc == GO && (set_var_int(I, c->ok_var, r.trusted) || set_var(I, c->problem_var, r.problem)))
        rc = STOP;
    return rc;
}

/* Every name a cert-info / seal-info added to the suite's layer is one its
 * output table lists: the check before a run (suitevars.c) counts on it. */
static int outputs_declared(interp *I, size_t before, const char *const *table, const char *stmt)
{
    for (size_t i = before; i < tr_vars_count(I->vars); i++) {
        const char *n = tr_vars_name_at(I->vars, i);
        const char *const *t = table;
        while (*t && strcmp(*t, n))
            t++;
        if (!*t)
            return harness_fail(I, TR_E_INTERNAL, "%s set %s, which its output table in suitevars.c does not list",
                                stmt, n);
    }
    return GO;
}

static int exec_cert_info(interp *I, const tr_stmt *s)
{
    size_t before = tr_vars_count(I->vars);
    val v;
    uint8_t *der;
    size_t n;
    int64_t window = 30;
    if (eval(I, s->e[0], &v) < 0 || to_bytes(I, &v, s->e[0]->pos, "cert-info", &der, &n) < 0)
        return STOP;
    if (s->e[1] && eval_int(I, s->e[1], "the renewal window", &window) < 0)
        return STOP;
    if (window < 0 || window > 36500)
        return rt_error(I, s->e[1]->pos, "expected a window of 0 to 36500 days, found %" PRId64, window), STOP;
    if (chain_vars(I, &CERT_CHAIN, s->e[2], der, n) != GO)
        return STOP;
    tr_err e;
    tr_err_clear(&e);
    tr_cert_info ci;
    memset(&ci, 0, sizeof ci);
    if (tr_cert_inspect(der, n, I->now, (int)window, &ci, &e) < 0) {
        if (e.code == TR_E_NOMEM)
            return harness_fail(I, TR_E_NOMEM, "cert-info: %s", e.msg);
        /* Bytes that are not a certificate are the token's problem: the
         * suite sees it through CERT_PARSED / CERT_CLASS. */
        const char *bad[] = {"CERT_PARSED", "0", "CERT_CLASS", "unparseable", "CERT_PROBLEM", e.msg,
                             "CERT_DAYS_LEFT", "0", "CERT_VALIDITY_DAYS", "0", "CERT_KEY_ALG", "",
                             "CERT_ISSUER", "", "CERT_KEY_ID", "", NULL};
        if (set_vars(I, bad) != GO)
            return STOP;
        return outputs_declared(I, before, TR_CERT_INFO_OUTPUTS, "cert-info");
    }
    char nb[32], na[32], left[24], span[24];
    fmt_date(ci.not_before, nb, sizeof nb);
    fmt_date(ci.not_after, na, sizeof na);
    snprintf(left, sizeof left, "%" PRId64, (int64_t)floor(ci.days_left));
    snprintf(span, sizeof span, "%" PRId64, (int64_t)floor(ci.validity_days));
    const char *alg = (ci.key_alg == TR_ALG_SM2 || ci.key_alg == TR_ALG_RSA2048 ||
                       ci.key_alg == TR_ALG_ECDSA_P256) ? tr_alg_name(ci.key_alg) : "other";
    const char *good[] = {"CERT_PARSED", "1", "CERT_PROBLEM", "", "CERT_CLASS", tr_cert_class_name(ci.cls),
                          "CERT_DAYS_LEFT", left, "CERT_VALIDITY_DAYS", span, "CERT_KEY_ALG", alg,
                          "CERT_SUBJECT", ci.subject, "CERT_ISSUER", ci.issuer, "CERT_SERIAL", ci.serial_hex,
                          "CERT_NOT_BEFORE", nb, "CERT_NOT_AFTER", na, "CERT_KEY_ID", ci.key_id, NULL};
    if (set_vars(I, good) != GO)
        return STOP;
    return outputs_declared(I, before, TR_CERT_INFO_OUTPUTS, "cert-info");
}

static int exec_seal_info(interp *I, const tr_stmt *s)
{
    size_t before = tr_vars_count(I->vars);
    val v;
    uint8_t *der, *cert = NULL;
    size_t n, cn = 0;
    if (eval(I, s->e[0], &v) < 0 || to_bytes(I, &v, s->e[0]->pos, "seal-info", &der, &n) < 0)
        return STOP;
    if (s->e[1] && (eval(I, s->e[1], &v) < 0 || to_bytes(I, &v, s->e[1]->pos, "the certificate", &cert, &cn) < 0))
        return STOP;
    if (chain_vars(I, &SEAL_CHAIN, s->e[2], der, n) != GO)
        return STOP;
    tr_seal_info si;
    memset(&si, 0, sizeof si);
    tr_err e;
    tr_err_clear(&e);
    int rc = tr_seal_inspect(der, n, cert, cn, I->now, &si, &e);
    if (rc < 0 && e.code == TR_E_NOMEM)
        return harness_fail(I, TR_E_NOMEM, "seal-info: %s", e.msg);
    if (rc < 0) {
        memset(&si, 0, sizeof si);
        tr_strlcpy(si.problem, e.msg, sizeof si.problem);
    }
    if (set_var_int(I, "SEAL_PARSED", rc == 0) || set_var_int(I, "SEAL_VERSION", si.version) ||
        set_var(I, "SEAL_HEADER_ID", si.header_id) || set_var(I, "SEAL_ID", si.seal_id) ||
        set_var(I, "SEAL_NAME", si.seal_name) || set_var_int(I, "SEAL_VALID_NOW", si.valid_now) ||
        set_var_int(I, "SEAL_PIC_OK", si.pic_ok) || set_var(I, "SEAL_PIC_TYPE", si.pic_type) ||
        set_var_int(I, "SEAL_PIC_W", si.pic_width) || set_var_int(I, "SEAL_PIC_H", si.pic_height) ||
        set_var_int(I, "SEAL_SIG_OK", rc == 0 && si.sig_ok == 1) ||
        set_var_int(I, "SEAL_CERT_COUNT", (int64_t)si.cert_count) ||
        set_var_int(I, "SEAL_CERT_LISTED", si.token_cert_listed) ||
        set_var(I, "SEAL_SIGN_ALG", si.sign_alg_oid) || set_var(I, "SEAL_PROBLEM", si.problem) ||
        set_var(I, "SEAL_MAKER", si.maker))
        return STOP;
    return outputs_declared(I, before, TR_SEAL_INFO_OUTPUTS, "seal-info");
}

static int exec_exit(interp *I, const tr_stmt *s)
{
    if (!I->suite->scriptor) {
        I->exit_suite = true;
        I->exit_line = s->pos.line;
    }
    return end_test(I, TR_PASS, NULL, 0, "ended by exit at line %d", s->pos.line);
}

static int exec_capture(interp *I, const tr_stmt *s)
{
    if (!need_rsp(I, s, "capture"))
        return STOP;
    return set_var(I, s->name, data_hex(I));
}

static int exec_fail(interp *I, const tr_stmt *s)
{
    const char *m = eval_message(I, s->message, "failed");
    if (!m)
        return STOP;
    return end_test(I, TR_FAIL, fail_class(I, s->classify), s->pos.line, "%s", m);
}

static int exec_skip(interp *I, const tr_stmt *s)
{
    const char *m = eval_message(I, s->message, "skipped");
    if (!m)
        return STOP;
    /* `skip ... classify not-run.X`: the run did not give what the test
     * needs (the token's verdict is INCOMPLETE, not PASS) */
    return end_test(I, TR_SKIP, s->classify, s->pos.line, "%s", m);
}

static int exec_classify(interp *I, const tr_stmt *s)
{
    I->classify = s->classify;
    return GO;
}

static int exec_log(interp *I, const tr_stmt *s)
{
    const char *m = eval_message(I, s->message, "");
    if (!m)
        return STOP;
    char buf[MSG_MAX];
    snprintf(buf, sizeof buf, "%s", m);
    scrub(I, buf, sizeof buf);
    emit_log(I, buf);
    return GO;
}

/* What runs each statement kind. The attribute kinds (suite, destructive,
 * requires, test) are consumed by the parser and have no row. */
static int (*const exec_by_kind[])(interp *I, const tr_stmt *s) = {
    [TR_ST_APDU] = exec_apdu,
    [TR_ST_EXPECT_SW] = exec_expect_sw,
    [TR_ST_EXPECT_DATA] = exec_expect_data,
    [TR_ST_EXPECT_LEN] = exec_expect_len,
    [TR_ST_RESET] = exec_reset,
    [TR_ST_POWER_CYCLE] = exec_power_cycle,
    [TR_ST_EXIT] = exec_exit,
    [TR_ST_LET] = exec_let,
    [TR_ST_CAPTURE] = exec_capture,
    [TR_ST_IF] = exec_if,
    [TR_ST_REPEAT] = exec_repeat,
    [TR_ST_FOR] = exec_for,
    [TR_ST_ASSERT] = exec_assert,
    [TR_ST_FAIL] = exec_fail,
    [TR_ST_SKIP] = exec_skip,
    [TR_ST_CLASSIFY] = exec_classify,
    [TR_ST_JOURNAL] = exec_journal,
    [TR_ST_CALL] = exec_call,
    [TR_ST_PIN_MODEL] = exec_pin_model,
    [TR_ST_LIBCALL] = exec_libcall,
    [TR_ST_METRIC] = exec_metric,
    [TR_ST_LOG] = exec_log,
    [TR_ST_MEASURE] = exec_measure,
    [TR_ST_READ_BINARY] = exec_read_binary,
    [TR_ST_CERT_INFO] = exec_cert_info,
    [TR_ST_SEAL_INFO] = exec_seal_info,
};

static int exec_stmt(interp *I, const tr_stmt *s)
{
    if (I->fatal || I->ended)
        return STOP;
    if (tick(I, s->pos.line) != GO)
        return STOP;
    tr_arena_reset(I->scratch);
    size_t k = (size_t)s->kind;
    if (k < sizeof exec_by_kind / sizeof exec_by_kind[0] && exec_by_kind[k])
        return exec_by_kind[k](I, s);
    return rt_error(I, s->pos, "internal: statement kind %d cannot run here", (int)s->kind), STOP;
}

static int exec_list(interp *I, const tr_stmt *s)
{
    for (; s; s = s->next)
        if (exec_stmt(I, s) != GO)
            return STOP;
    return GO;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Evaluate requirements: 1 all hold, 0 one does not (reason in why), -1 error. */
static int check_requires(interp *I, tr_expr *const *req, int n, char *why, size_t cap)
{
    for (int k = 0; k < n; k++) {
        tr_arena_reset(I->scratch);
        val v;
        if (eval(I, req[k], &v) < 0)
            return -1;
        if (!truthy(&v)) {
            const tr_expr *x = req[k];
            bool defined_var = x->kind == TR_EX_CALL && x->op == TR_FN_DEFINED && x->nargs == 1 &&
                               x->args[0]->kind == TR_EX_VAR;
            if (!defined_var || !unset_because(I, x->args[0]->name, why, cap))
                snprintf(why, cap, "requires %s", x->src);
            return 0;
        }
    }
    return 1;
}

/* index: of t in the suite, or NO_TEST (the prelude). */
static void begin_test(interp *I, const tr_test *t, size_t index)
{
    const tr_interp_hooks *h = I->env->hooks;
    if (h && h->test_start && t->name[0] != '(')
        h->test_start(h->ud, t->name);
    I->test = t;
    I->test_name = t->name;
    I->cur = index;
    I->time_failed = false;
    I->classify = I->suite_classify;
    I->ended = false;
    I->verdict = TR_PASS;
    I->cls[0] = I->msg[0] = '\0';
    I->fail_line = t->pos.line;
    I->deadline_ns = I->env->test_timeout_s > 0
                         ? tr_now_ns() + (uint64_t)(I->env->test_timeout_s * 1e9) : 0;
}

static void finish_test(interp *I, const tr_test *t, double duration)
{
    if (I->quiet) /* replayed, or stopped by a lost pcscd: no row, not counted */
        return;
    if (!I->ended) {
        I->verdict = TR_PASS;
        I->msg[0] = '\0';
    }
    tr_verdict v = I->verdict;
    /* a skip carries a code only when the run left the test out (not-run.*) */
    const char *cls = (v == TR_FAIL || v == TR_ERROR || (v == TR_SKIP && I->cls[0])) ? I->cls : NULL;
    tr_result_row row = {
        .who = I->env->who, .suite = I->suite->name, .test = t->name, .verdict = v,
        .classification = cls, .duration_s = duration, .metric = NULL, .value = 0, .unit = NULL,
        .message = I->msg, .file = I->suite->file,
        .line = (v == TR_FAIL || v == TR_ERROR) && I->fail_line > 0 ? I->fail_line : t->pos.line,
    };
    emit_result(I, &row);
    if (I->cur != NO_TEST) {
        test_outcome *o = &I->done[I->cur];
        o->v = v;
        snprintf(o->cls, sizeof o->cls, "%s", cls ? cls : "");
        snprintf(o->msg, sizeof o->msg, "%s", I->msg);
    }
    I->out->tests++;
    I->out->counts[v]++;
    if (cls && v != TR_SKIP)
        add_class(I, cls);
    const tr_interp_hooks *h = I->env->hooks;
    if (h && h->progress && !I->quiet)
        h->progress(h->ud, t->name, v, cls, I->msg);
}

/* Why a test is not run at all (verdict set in I), or false to run it. */
/* Whether statements s (with the blocks inside them and the ops they call)
 * power-cycle the token. The PIN model does not count: it leaves the power
 * cycle out when the interface says it cannot (OPS_NA), walks the rest, and
 * on a slot without a power switch then ends not-run.no-power itself
 * (exec_pin_model). */
static bool stmts_cycle(const interp *I, const tr_stmt *s, int depth)
{
    for (; s; s = s->next) {
        if (s->kind == TR_ST_POWER_CYCLE)
            return true;
        if (s->kind == TR_ST_CALL && depth < MAX_CALL_DEPTH) {
            const tr_suite_op *op = find_op_in(I->suite, I->env->ops, s->name, NULL);
            if (op && stmts_cycle(I, op->body, depth + 1))
                return true;
        }
        if (stmts_cycle(I, s->body, depth) || stmts_cycle(I, s->else_body, depth))
            return true;
    }
    return false;
}

static bool not_run(interp *I, const tr_test *t, int suite_req)
{
    char why[600];
    if (I->env->cancel && atomic_load(I->env->cancel))
        I->out->cancelled = true;
    if (I->lost) {
        end_test(I, TR_ERROR, I->out->lost_code, 0, "not run: the token was lost earlier (%s)", I->lost_msg);
        return true;
    }
    if (I->out->cancelled) {
        end_test(I, TR_SKIP, "not-run.interrupted", 0, "not run: run interrupted");
        return true;
    }
    if (I->exit_suite) {
        end_test(I, TR_SKIP, NULL, 0, "not run: the suite ended with exit at line %d", I->exit_line);
        return true;
    }
    (void)suite_req; /* < 0 and 0 are handled by the caller */
    if ((I->suite->destructive || t->destructive) && !I->env->allow_destructive) {
        end_test(I, TR_SKIP, "not-run.destructive", 0, "destructive: needs --allow-destructive");
        return true;
    }
    int r = check_requires(I, t->requires, t->nrequires, why, sizeof why);
    if (r == 0)
        end_test(I, TR_SKIP, NULL, 0, "%s", why);
    /* on a slot without a power switch a test that power-cycles is not
     * started at all: half of it (a spent try) without the other half would
     * leave the token worse and prove nothing */
    if (r > 0 && I->env->no_power && stmts_cycle(I, t->body, 0)) {
        end_test(I, TR_SKIP, "not-run.no-power", 0, "not run: %s: the test power-cycles the token", I->env->no_power);
        return true;
    }
    return r <= 0;
}

static void run_test(interp *I, size_t index, int suite_req, const char *suite_why)
{
    const tr_test *t = &I->suite->tests[index];
    begin_test(I, t, index);
    uint64_t t0 = tr_now_ns();
    if (suite_req == 0) {
        end_test(I, TR_SKIP, NULL, 0, "%s", suite_why);
    } else if (!not_run(I, t, suite_req)) {
        exec_list(I, t->body);
        if (t->cleanup && !I->lost && !I->fatal && !I->out->cancelled) {
            /* Cleanup runs whatever happened; its own failure counts only
             * when the body passed (the first problem is the one to see). */
            bool was_ended = I->ended;
            tr_verdict v = I->verdict;
            char cls[sizeof I->cls], msg[sizeof I->msg];
            int line = I->fail_line;
            memcpy(cls, I->cls, sizeof cls);
            memcpy(msg, I->msg, sizeof msg);
            I->ended = false;
            bool exit_before = I->exit_suite;
            exec_list(I, t->cleanup);
            I->exit_suite = exit_before || I->exit_suite;
            bool cleanup_bad = I->ended && I->verdict != TR_PASS;
            if (was_ended && !(cleanup_bad && v == TR_PASS)) {
                I->ended = true;
                I->verdict = v;
                I->fail_line = line;
                memcpy(I->cls, cls, sizeof cls);
                memcpy(I->msg, msg, sizeof msg);
            } else if (cleanup_bad) {
                char tmp[sizeof I->msg + 16];
                snprintf(tmp, sizeof tmp, "in cleanup: %s", I->msg);
                tr_strlcpy(I->msg, tmp, sizeof I->msg);
            }
        }
        time_verdict(I);
    }
    flush_cycle(I, -1, NULL, NULL);
    finish_test(I, t, (double)(tr_now_ns() - t0) / 1e9);
}

static int alloc_buffers(interp *I)
{
    I->cmd = malloc(TR_MAX_CAPDU);
    I->mark = calloc(1, TR_MAX_CAPDU);
    I->rsp = malloc(TR_MAX_RAPDU);
    I->data_hex = malloc(2 * (size_t)TR_MAX_RAPDU + 1);
    I->rsp_txt = malloc(2 * (size_t)TR_MAX_RAPDU + 1);
    I->cmd_txt = malloc(3 * (size_t)TR_MAX_CAPDU + 8);
    I->scratch = tr_arena_new(SCRATCH_CAP);
    I->vars = tr_vars_new(I->env->vars);
    I->done = calloc(I->suite->ntests ? I->suite->ntests : 1, sizeof *I->done);
    I->locals = tr_suite_vars_scan(I->suite, I->env->ops);
    return I->cmd && I->mark && I->rsp && I->data_hex && I->rsp_txt && I->cmd_txt && I->scratch && I->vars &&
                   I->done && I->locals
               ? 0 : -1;
}

static void free_buffers(interp *I)
{
    free(I->cmd);
    free(I->mark);
    free(I->rsp);
    free(I->data_hex);
    free(I->rsp_txt);
    free(I->cmd_txt);
    tr_arena_free(I->scratch);
    tr_vars_free(I->vars);
    free(I->done);
    tr_suite_vars_free(I->locals);
}

/* Top-level let/classify, once before the tests. */
static int run_prelude(interp *I)
{
    static const tr_test prelude_test = {.name = "(suite)", .pos = {1, 1}};
    begin_test(I, &prelude_test, NO_TEST);
    for (const tr_stmt *s = I->suite->prelude; s; s = s->next) {
        if (s->kind == TR_ST_CLASSIFY) {
            I->suite_classify = s->classify;
            continue;
        }
        if (exec_stmt(I, s) != GO)
            return -1;
    }
    return 0;
}

int tr_interp_run(const tr_suite *suite, const tr_interp_env *env, tr_suite_outcome *out, tr_err *e)
{
    tr_err scratch_err;
    if (!e)
        e = &scratch_err;
    tr_err_clear(e);
    memset(out, 0, sizeof *out);
    if (!suite || !env || !env->card || (!env->card->transmit && !env->lib) || (env->lib && !env->lib_iface))
        return tr_fail(e, TR_E_INTERNAL, "tr_interp_run: suite, env and card->transmit (or a library) are required");
    interp *I = calloc(1, sizeof *I);
    if (!I)
        return tr_fail(e, TR_E_NOMEM, "out of memory starting the interpreter");
    I->env = env;
    I->suite = suite;
    I->file = suite->file;
    I->out = out;
    I->e = e;
    I->now = env->now ? env->now : time(NULL);
    I->rng = env->seed ? env->seed : 1;
    uint64_t t0 = tr_now_ns();
    int rc = 0;
    if (alloc_buffers(I) < 0) {
        rc = tr_fail(e, TR_E_NOMEM, "out of memory starting the interpreter");
        goto done;
    }
    refresh_atr(I);
    if (env->lib) {
        I->tracer = (tr_libcall_tracer){lib_trace, I};
        env->lib_iface->set_trace(env->lib, &I->tracer);
    }
    I->cur = NO_TEST;
    if (load_ins_set(I, "SECRET_INS", &I->secret_ins) < 0 || load_time_limits(I) < 0) {
        rc = -1;
        goto done;
    }
    int suite_req = 1;
    char suite_why[MSG_MAX] = "";
    if (run_prelude(I) < 0) {
        suite_req = -1;
        snprintf(suite_why, sizeof suite_why, "%s", I->msg);
    } else {
        I->ended = false;
        tr_arena_reset(I->scratch);
        suite_req = check_requires(I, suite->requires, suite->nrequires, suite_why, sizeof suite_why);
        if (suite_req < 0)
            snprintf(suite_why, sizeof suite_why, "%s", I->msg);
    }
    for (size_t k = 0; k < suite->ntests && !I->fatal && !out->service_lost; k++) {
        I->test_index = k;
        I->quiet = k < env->replay_until;
        if (suite_req < 0) {
            begin_test(I, &suite->tests[k], k);
            end_test(I, TR_ERROR, "suite", 0, "not run: %s", suite_why);
            finish_test(I, &suite->tests[k], 0);
            continue;
        }
        run_test(I, k, suite_req, suite_why);
    }
    if (I->fatal)
        rc = -1;
    else if (env->hooks && env->hooks->suite_end)
        env->hooks->suite_end(env->hooks->ud, I->vars);
done:
    if (env->lib)
        env->lib_iface->set_trace(env->lib, NULL);
    out->duration_s = (double)(tr_now_ns() - t0) / 1e9;
    free_buffers(I);
    free(I);
    return rc;
}
