/* The suite-running commands: run (a batch, one worker per slot) and
 * script (one scriptor-style file on one reader). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "interp.h"
#include "manifest.h"
#include "reports.h"
#include "rig.h"
#include "script.h"
#include "transport.h"
#include "util.h"

#define MAX_SUITES 64
#define MAX_DEFS 64

/* ---- what every suite-running command shares -------------------------------------- */

typedef struct {
    const char *rig_arg, *profile_arg, *out_arg, *slots_arg, *manifest_arg, *run_id_arg;
    const char *reader_arg;
    const char *suite_args[MAX_SUITES];
    size_t nsuites;
    const char *defs[MAX_DEFS];
    size_t ndefs;
    bool allow_destructive, plots, quiet;
    bool script; /* tokenrig script: print commands and answers, no verdict table */
    unsigned slot_timeout_s;
} run_opts;

typedef struct slot_run slot_run;
typedef struct {
    run_opts *o;
    tr_rig_session rs;
    tr_suite *suites[MAX_SUITES];
    size_t nsuites;
    tr_vars *defs;            /* -D layer (parent of nothing; copied per slot) */
    tr_manifest manifest;
    bool have_manifest;
    tr_reports *rep;
    char run_id[64];
    slot_run *slots;
    size_t nslots;
    pthread_mutex_t print_lock;
    bool tty;
} run_ctx;

struct slot_run {
    run_ctx *rc;
    const tr_slot_cfg *cfg;
    tr_slot *slot;
    tr_profile profile;
    tr_vars *vars;            /* slot layer over the profile */
    tr_slot_id who;
    char serial[64], role[16], reader[256];
    char current_suite[128];
    char power_level[32];     /* how far the last power-off was verified */
    tr_suite_outcome total;
    bool lost;
    char lost_code[32];
};

static void make_run_id(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, cap, "%s-%d", stamp, (int)getpid());
}

static int parse_def(run_ctx *rc, const char *def, tr_err *e)
{
    const char *eq = strchr(def, '=');
    if (!eq || eq == def)
        return tr_fail(e, TR_E_USAGE, "-D takes VAR=VALUE, not '%s'", def);
    char name[TR_SCRIPT_MAX_NAME + 1];
    size_t n = (size_t)(eq - def);
    if (n > TR_SCRIPT_MAX_NAME)
        return tr_fail(e, TR_E_USAGE, "-D: variable name too long in '%s'", def);
    memcpy(name, def, n);
    name[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return tr_fail(e, TR_E_USAGE, "-D: variable name '%s': letters, digits and _ only", name);
    return tr_vars_set(rc->defs, name, eq + 1) < 0 ? tr_fail(e, TR_E_NOMEM, "out of memory") : 0;
}

/* Suites named on the command line, or the list in suites/DEFAULT. */
static int load_suites(run_ctx *rc, tr_err *e)
{
    const char *names[MAX_SUITES];
    size_t n = 0;
    char lines[MAX_SUITES][128];
    if (rc->o->nsuites) {
        for (size_t i = 0; i < rc->o->nsuites; i++)
            names[n++] = rc->o->suite_args[i];
    } else {
        char path[TR_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/suites/DEFAULT", tr_data_dir());
        FILE *f = fopen(path, "r");
        if (!f)
            return tr_fail(e, TR_E_CONFIG, "%s: %m (name the suites to run)", path);
        while (n < MAX_SUITES && fgets(lines[n], sizeof lines[n], f)) {
            tr_trim(lines[n]);
            if (lines[n][0] && lines[n][0] != '#') {
                names[n] = lines[n];
                n++;
            }
        }
        fclose(f);
    }
    for (size_t i = 0; i < n; i++) {
        char path[TR_PATH_MAX];
        if (tr_find_suite(names[i], path, sizeof path, e) < 0 || tr_suite_load(path, &rc->suites[i], e) < 0)
            return -1;
        rc->nsuites = i + 1;
    }
    return 0;
}

/* The profile of a slot: its own, the rig's, or REF-1 for its algorithm. */
int tr_slot_profile_load(const tr_rig_cfg *rig, const tr_slot_cfg *slot, const char *override, tr_profile *out,
                         tr_err *e)
{
    char name[TR_PATH_MAX + 8], path[TR_PATH_MAX];
    if (override)
        tr_strlcpy(name, override, sizeof name);
    else if (slot->profile[0])
        tr_strlcpy(name, slot->profile, sizeof name);
    else if (rig->profile[0])
        tr_strlcpy(name, rig->profile, sizeof name);
    else if (slot->type == TR_SLOT_VIRTUAL)
        snprintf(name, sizeof name, "ref1-%s", slot->vt.alg);
    else
        return tr_fail(e, TR_E_CONFIG, "slot %s has no profile: set profile = ... in [rig] or [slot %s], or --profile",
                       slot->name, slot->name);
    return tr_find_profile(name, path, sizeof path, e) < 0 ? -1 : tr_profile_load(path, out, e);
}

static int slot_profile(run_ctx *rc, slot_run *sr, tr_err *e)
{
    return tr_slot_profile_load(&rc->rs.cfg, sr->cfg, rc->o->profile_arg, &sr->profile, e);
}

static int set_all(tr_vars *v, tr_err *e, const char *const *kv)
{
    for (; kv[0]; kv += 2)
        if (kv[1] && tr_vars_set(v, kv[0], kv[1]) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    return 0;
}

/* Slot variables: profile < slot identity < rig var.* < manifest < -D. */
static int slot_vars(run_ctx *rc, slot_run *sr, tr_err *e)
{
    sr->vars = tr_vars_new(sr->profile.vars);
    if (!sr->vars)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    const tr_slot_cfg *c = sr->cfg;
    bool virt = c->type == TR_SLOT_VIRTUAL;
    const char *kv[] = {"SLOT", c->name, "RIG", rc->rs.cfg.name,
                        "EXPECTED_SERIAL", virt ? c->vt.serial : NULL,
                        "EXPECTED_ROLE", virt ? c->vt.role : NULL,
                        "EXPECTED_ALG", virt ? c->vt.alg : NULL, NULL, NULL};
    if (set_all(sr->vars, e, kv) < 0)
        return -1;
    for (size_t i = 0; i < tr_vars_count(c->vars); i++)
        if (tr_vars_set(sr->vars, tr_vars_name_at(c->vars, i), tr_vars_value_at(c->vars, i)) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    if (rc->have_manifest && tr_manifest_apply(&rc->manifest, virt ? c->vt.serial : NULL, c->name, sr->vars, e) < 0)
        return -1;
    for (size_t i = 0; i < tr_vars_count(rc->defs); i++)
        if (tr_vars_set(sr->vars, tr_vars_name_at(rc->defs, i), tr_vars_value_at(rc->defs, i)) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    const char *serial = tr_vars_get(sr->vars, "EXPECTED_SERIAL");
    const char *role = tr_vars_get(sr->vars, "EXPECTED_ROLE");
    tr_strlcpy(sr->serial, serial ? serial : "", sizeof sr->serial);
    tr_strlcpy(sr->role, role ? role : "", sizeof sr->role);
    return 0;
}

/* ---- progress on stderr ------------------------------------------------------------- */

static void say(run_ctx *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(run_ctx *rc, const char *fmt, ...)
{
    if (rc->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&rc->print_lock);
    if (rc->tty)
        fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&rc->print_lock);
    va_end(ap);
}

typedef struct {
    slot_run *sr;
    tr_batch_worker *w;
} hook_ud;

static void hook_test_start(void *ud, const char *test)
{
    hook_ud *h = ud;
    if (h->w)
        tr_batch_where(h->w, h->sr->current_suite, test);
}

static void hook_progress(void *ud, const char *test, tr_verdict v, const char *cls, const char *msg)
{
    hook_ud *h = ud;
    const char *mark = v == TR_PASS ? "pass" : v == TR_FAIL ? "FAIL" : v == TR_ERROR ? "ERROR" : "skip";
    if (v == TR_PASS)
        say(h->sr->rc, "[%s] %s / %s: %s", h->sr->cfg->name, h->sr->current_suite, test, mark);
    else
        say(h->sr->rc, "[%s] %s / %s: %s%s%s%s%s", h->sr->cfg->name, h->sr->current_suite, test, mark,
            cls && *cls ? " " : "", cls ? cls : "", msg && *msg ? ": " : "", msg ? msg : "");
}

static void hook_live(void *ud, const char *test, const char *what, unsigned long done, unsigned long total)
{
    hook_ud *h = ud;
    run_ctx *rc = h->sr->rc;
    if (rc->o->quiet || !rc->tty)
        return;
    pthread_mutex_lock(&rc->print_lock);
    fprintf(stderr, "\r\033[K[%s] %s / %s: %s %lu/%lu", h->sr->cfg->name, h->sr->current_suite, test, what, done,
            total);
    pthread_mutex_unlock(&rc->print_lock);
}

/* Remember how far power-offs were verified (a JUnit property of the slot). */
static void hook_cycle(void *ud, const tr_cycle_row *row)
{
    hook_ud *h = ud;
    if (row->power_level && *row->power_level)
        tr_strlcpy(h->sr->power_level, row->power_level, sizeof h->sr->power_level);
}

/* tokenrig script prints like scriptor: "> command" and "< answer SW". */
static void script_trace(void *ud, const tr_trace_row *row)
{
    hook_ud *h = ud;
    if (h->sr->rc->o->quiet)
        return;
    printf("> %s\n< %s%s%s\n", row->command, row->response, *row->response ? " " : "", row->sw);
}

static void script_log(void *ud, const char *test, const char *text)
{
    (void)test;
    hook_ud *h = ud;
    if (!h->sr->rc->o->quiet)
        printf("# %s\n", text);
}

/* ---- one slot ------------------------------------------------------------------------- */

static void error_row(slot_run *sr, const char *suite, const char *test, const char *cls, const char *msg)
{
    tr_result_row row = {.who = &sr->who, .suite = suite, .test = test, .verdict = TR_ERROR,
                         .classification = cls, .message = msg};
    tr_err e;
    /* a row the reports could not write ends the run with exit 2 (kept by
     * the reports); the console line still carries it */
    bool written = !sr->rc->rep || tr_reports_result(sr->rc->rep, &row, &e) == 0;
    say(sr->rc, "[%s] %s / %s: ERROR %s: %s%s", sr->cfg->name, suite, test, cls, msg,
        written ? "" : " (not written to results.csv)");
}

/* Tests that cannot run any more (token lost, no connection): one error row
 * each, from test from_test of suite from_suite on, so every token has its
 * full list of tests in the reports. */
static void not_run_rows(slot_run *sr, size_t from_suite, size_t from_test, const char *cls, const char *why)
{
    run_ctx *rc = sr->rc;
    for (size_t i = from_suite; i < rc->nsuites; i++)
        for (size_t t = i == from_suite ? from_test : 0; t < rc->suites[i]->ntests; t++)
            error_row(sr, rc->suites[i]->name, rc->suites[i]->tests[t].name, cls, why);
}

static void record_slot_props(slot_run *sr)
{
    run_ctx *rc = sr->rc;
    if (!rc->rep)
        return;
    tr_err e;
    char atr_hex[100] = "", power[300];
    if (sr->slot && tr_slot_card(sr->slot)) {
        uint8_t atr[64];
        size_t n = tr_card_atr(tr_slot_card(sr->slot), atr, sizeof atr);
        tr_hex_encode(atr, n, atr_hex, sizeof atr_hex, 0);
    }
    tr_slot_power_desc(sr->slot, power, sizeof power);
    const char *props[][2] = {{"reader", sr->reader}, {"ATR", atr_hex}, {"serial", sr->serial},
                              {"role", sr->role}, {"profile", sr->profile.name}, {"power", power},
                              {"slot type", tr_slot_type_name(sr->cfg->type)}};
    bool kept = true;
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (tr_reports_slot_property(rc->rep, &sr->who, props[i][0], props[i][1], &e) < 0)
            kept = false;
    if (!kept) /* kept by the reports too: the run ends with exit 2 */
        say(rc, "[%s] %s", sr->cfg->name, e.msg);
}

static void record_power_level(slot_run *sr)
{
    tr_err e;
    if (sr->rc->rep && sr->power_level[0] &&
        tr_reports_slot_property(sr->rc->rep, &sr->who, "power-off verified to", sr->power_level, &e) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, e.msg);
}

static int slot_job(void *ud, tr_batch_worker *w)
{
    run_ctx *rc = ud;
    slot_run *sr = &rc->slots[w->index];
    tr_err e;
    tr_err_clear(&e);
    tr_batch_where(w, "connect", "");
    if (tr_slot_connect(sr->slot, &e) < 0) {
        char msg[TR_ERR_MSG_MAX];
        tr_err_format(&e, msg, sizeof msg);
        const char *cls = e.code == TR_E_TIMEOUT ? "enum.no-card" : tr_code_name(e.code);
        not_run_rows(sr, 0, 0, cls, msg);
        return 2;
    }
    tr_strlcpy(sr->reader, tr_slot_reader(sr->slot), sizeof sr->reader);
    record_slot_props(sr);
    tr_cardio io;
    tr_slot_cardio(sr->slot, &io);
    hook_ud hu = {sr, w};
    tr_interp_hooks hooks = {.ud = &hu, .test_start = hook_test_start, .progress = hook_progress, .live = hook_live,
                             .cycle = hook_cycle};
    if (rc->o->script) {
        hooks.progress = NULL;
        hooks.trace = script_trace;
        hooks.log = script_log;
    }
    tr_interp_env env = {.card = &io, .vars = sr->vars, .reports = rc->rep, .who = &sr->who,
                         .allow_destructive = rc->o->allow_destructive, .cancel = &w->cancel, .hooks = &hooks};
    int status = 0;
    for (size_t i = 0; i < rc->nsuites; i++) {
        if (atomic_load(&w->cancel)) {
            not_run_rows(sr, i, 0, "cancelled", "not run: the run was stopped");
            return 2;
        }
        tr_strlcpy(sr->current_suite, rc->suites[i]->name, sizeof sr->current_suite);
        tr_suite_outcome out;
        if (tr_interp_run(rc->suites[i], &env, &out, &e) < 0) {
            char msg[TR_ERR_MSG_MAX];
            error_row(sr, rc->suites[i]->name, "(harness)", tr_code_name(e.code), tr_err_format(&e, msg, sizeof msg));
            status = 2;
            continue;
        }
        sr->total.apdus += out.apdus;
        for (int v = 0; v < 4; v++)
            sr->total.counts[v] += out.counts[v];
        if (out.counts[TR_FAIL])
            status = 1;
        else if (out.counts[TR_ERROR] && status == 0)
            status = 2;
        if (out.token_lost) {
            char why[160];
            snprintf(why, sizeof why, "not run: the token was lost in suite %s (%s)", rc->suites[i]->name,
                     out.lost_code);
            not_run_rows(sr, i + 1, 0, out.lost_code, why);
            record_power_level(sr);
            return status ? status : 2;
        }
    }
    record_power_level(sr);
    return status;
}

static void slot_abandoned(void *ud, tr_batch_worker *w, tr_worker_state why, const char *message)
{
    run_ctx *rc = ud;
    slot_run *sr = &rc->slots[w->index];
    char where[256];
    pthread_mutex_lock(&w->lock);
    tr_strlcpy(where, w->where, sizeof where);
    pthread_mutex_unlock(&w->lock);
    char suite[128] = "", *test = strstr(where, " / ");
    if (test) {
        *test = '\0';
        test += 3;
        tr_strlcpy(suite, where, sizeof suite);
    }
    const char *cls = why == TR_WORKER_MUTE ? "io.mute" : why == TR_WORKER_TIMEOUT ? "timeout" : "cancelled";
    error_row(sr, suite, test && *test ? test : "(slot)", cls, message);
    /* and the tests after it, which the abandoned worker will never run */
    for (size_t i = 0; i < rc->nsuites; i++) {
        if (strcmp(rc->suites[i]->name, suite))
            continue;
        size_t t = 0;
        while (t < rc->suites[i]->ntests && (!test || strcmp(rc->suites[i]->tests[t].name, test)))
            t++;
        char why_not[160];
        snprintf(why_not, sizeof why_not, "not run: the token was lost earlier (%s)", cls);
        not_run_rows(sr, i, t < rc->suites[i]->ntests ? t + 1 : 0, cls, why_not);
        break;
    }
}

/* ---- run ------------------------------------------------------------------------------ */

static void usage_run(FILE *f)
{
    fprintf(f,
        "usage: tokenrig run [--rig FILE] [--profile FILE] [SUITE...] [--slots A1,A2]\n"
        "                    [--out DIR] [--allow-destructive] [--manifest CSV]\n"
        "                    [-D VAR=VALUE]... [--timeout SECONDS] [--plots] [--quiet]\n"
        "\n"
        "Run the suites (default: suites/DEFAULT, the certification in order) on\n"
        "every slot of the rig at once, one worker per slot. Writes\n"
        "reports/<run-id>/ (results.csv trace.csv samples.csv cycles.csv junit.xml\n"
        "summary.csv) and points reports/latest at it; prints one progress line per\n"
        "slot per test on stderr and the batch verdicts on stdout.\n"
        "  --rig FILE            rig file or name under rigs/ (default: virtual)\n"
        "  --profile FILE        profile for every slot (default: the slot's / rig's)\n"
        "  --slots LIST          only these slots (comma-separated names)\n"
        "  --out DIR             report directory (default reports/<run-id>)\n"
        "  --allow-destructive   run the destructive tests (PIN change, lockout);\n"
        "                        they restore factory state when they pass\n"
        "  --manifest CSV        batch manifest: serial -> expected role, org, notAfter\n"
        "  -D VAR=VALUE          set a suite variable (overrides profile and rig)\n"
        "  --timeout SECONDS     per slot; past it the slot ends with an error\n"
        "  --plots               make the PNG plots (needs gnuplot)\n"
        "Exit status: 0 every token passed, 1 a token failed, 2 usage/config/rig\n"
        "error, only rig errors, or a report file that could not be written.\n");
}

static bool slot_selected(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static int open_reports(run_ctx *rc, tr_err *e)
{
    char dir[TR_PATH_MAX];
    if (rc->o->out_arg)
        tr_strlcpy(dir, rc->o->out_arg, sizeof dir);
    else
        snprintf(dir, sizeof dir, "reports/%s", rc->run_id);
    rc->rep = tr_reports_open(dir, e);
    if (!rc->rep)
        return -1;
    if (!rc->o->out_arg) { /* reports/latest -> <run-id> */
        unlink("reports/latest");
        if (symlink(rc->run_id, "reports/latest") < 0 && errno != EEXIST)
            fprintf(stderr, "tokenrig: note: cannot update reports/latest: %s\n", strerror(errno));
    }
    return 0;
}

static int prepare_slots(run_ctx *rc, tr_err *e)
{
    rc->slots = calloc(rc->rs.cfg.nslots, sizeof *rc->slots);
    if (!rc->slots)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rc->rs.cfg.nslots; i++) {
        const tr_slot_cfg *c = &rc->rs.cfg.slots[i];
        if (!slot_selected(rc->o->slots_arg, c->name))
            continue;
        slot_run *sr = &rc->slots[rc->nslots++];
        sr->rc = rc;
        sr->cfg = c;
        if (slot_profile(rc, sr, e) < 0 || slot_vars(rc, sr, e) < 0 ||
            tr_slot_open(&rc->rs.cfg, c, rc->rs.vrig, &sr->slot, e) < 0)
            return -1;
        const char *reader = c->type == TR_SLOT_VIRTUAL ? tr_vrig_reader(rc->rs.vrig, c->name) : c->reader;
        tr_strlcpy(sr->reader, reader ? reader : "", sizeof sr->reader);
        sr->who = (tr_slot_id){.run_id = rc->run_id, .rig = rc->rs.cfg.name, .slot = c->name,
                               .reader = sr->reader, .serial = sr->serial, .role = sr->role,
                               .profile = sr->profile.name};
    }
    if (rc->nslots == 0)
        return tr_fail(e, TR_E_USAGE, "--slots %s matches no slot of %s", rc->o->slots_arg, rc->rs.cfg.path);
    return 0;
}

static void free_run(run_ctx *rc)
{
    for (size_t i = 0; i < rc->nslots; i++) {
        slot_run *sr = &rc->slots[i];
        tr_vars_free(sr->vars);
        tr_profile_free(&sr->profile);
    }
    free(rc->slots);
    for (size_t i = 0; i < rc->nsuites; i++)
        tr_suite_free(rc->suites[i]);
    tr_vars_free(rc->defs);
    if (rc->have_manifest)
        tr_manifest_free(&rc->manifest);
}

static int run_plots(const char *dir)
{
    char cmd[TR_PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd, "bash '%s/ci/plots.sh' '%s'", tr_data_dir(), dir);
    return system(cmd);
}

/* Exit status from the token verdicts: 1 any token failed, 2 rig errors
 * only, 0 all passed. */
static int batch_status(run_ctx *rc, tr_err *e)
{
    size_t n;
    tr_token_summary *s = tr_reports_token_summary(rc->rep, &n, e);
    if (!s)
        return 2;
    int status = n ? 0 : 2;
    for (size_t i = 0; i < n; i++) {
        if (s[i].verdict == TR_FAIL)
            status = 1;
        else if ((s[i].verdict == TR_ERROR || s[i].verdict == TR_SKIP) && status == 0)
            status = 2;
    }
    tr_reports_token_summary_free(s, n);
    return status;
}

/* junit.xml, summary.csv and the CSVs synced to disk, then the verdict
 * table and yield on stdout (not for script) whatever happened to the
 * files, then the run's first write failure on stderr. Returns 0 when
 * every report file is complete, else -1 (the run exits 2). */
static int close_run_files(run_ctx *rc)
{
    /* each failure is kept by the reports: tr_reports_sync returns the first */
    tr_err we, pe;
    int junit = tr_reports_write_junit(rc->rep, &we);
    int summary = tr_reports_write_summary(rc->rep, &we);
    int files = tr_reports_sync(rc->rep, &we);
    if (!rc->o->script && tr_reports_print_summary(rc->rep, stdout, &pe) < 0)
        fprintf(stderr, "tokenrig: %s\n", pe.msg);
    if (junit | summary | files) {
        fflush(stdout);
        fprintf(stderr, "tokenrig: report files incomplete: %s\n", we.msg);
        return -1;
    }
    return 0;
}

static int do_run(run_ctx *rc, tr_err *e)
{
    if (load_suites(rc, e) < 0)
        return -1;
    if (rc->o->manifest_arg) {
        if (tr_manifest_load(rc->o->manifest_arg, &rc->manifest, e) < 0)
            return -1;
        rc->have_manifest = true;
    }
    if (tr_rig_session_open(rc->o->rig_arg, &rc->rs, e) < 0)
        return -1;
    int status = 2;
    if (prepare_slots(rc, e) < 0 || open_reports(rc, e) < 0)
        goto out;
    if (rc->have_manifest &&
        tr_manifest_report_unmatched(&rc->manifest, rc->rep, rc->run_id, rc->rs.cfg.name, e) < 0)
        goto out; /* no token touched yet: a run that cannot write its rows stops here */
    if (!rc->o->script)
        say(rc, "tokenrig: run %s on rig %s: %zu slot(s), %zu suite(s) -> %s", rc->run_id, rc->rs.cfg.name,
            rc->nslots, rc->nsuites, tr_reports_dir(rc->rep));
    tr_slot **slots = calloc(rc->nslots, sizeof *slots);
    tr_batch_worker *ws = calloc(rc->nslots, sizeof *ws);
    if (!slots || !ws) {
        free(slots);
        free(ws);
        tr_fail(e, TR_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rc->nslots; i++)
        slots[i] = rc->slots[i].slot;
    tr_batch_opts bo = {.apdu_timeout_ms = rc->rs.cfg.apdu_timeout_ms,
                        .slot_timeout_ms = rc->o->slot_timeout_s * 1000u,
                        .job = slot_job, .abandon = slot_abandoned, .ud = rc};
    tr_batch_result br;
    tr_batch_run(slots, rc->nslots, ws, &bo, &br, e);
    tr_err je;
    status = close_run_files(rc) == 0 ? batch_status(rc, &je) : 2;
    if (br.interrupted) {
        fprintf(stderr, "tokenrig: interrupted; finished rows are in %s\n", tr_reports_dir(rc->rep));
        status = 2;
    }
    if (rc->o->script) {
        const tr_suite_outcome *t = &rc->slots[0].total;
        if (!rc->o->quiet)
            fprintf(stderr, "tokenrig script: %lu APDUs, %u passed, %u failed, %u errors, %u skipped -> %s\n",
                    t->apdus, t->counts[TR_PASS], t->counts[TR_FAIL], t->counts[TR_ERROR], t->counts[TR_SKIP],
                    tr_reports_dir(rc->rep));
    } else {
        printf("reports: %s\n", tr_reports_dir(rc->rep));
    }
    if (rc->o->plots && run_plots(tr_reports_dir(rc->rep)) == 0)
        printf("plots:   %s/*.png\n", tr_reports_dir(rc->rep));
    /* A mute worker is still blocked in SCardTransmit and wakes up when the
     * rig goes down: it must find everything it uses still allocated, and
     * the process must end before it gets far. */
    if (br.mute || br.timeout || br.cancelled) {
        tr_reports_freeze(rc->rep);
        fflush(stdout);
        fflush(stderr);
        tr_rig_session_close(&rc->rs);
        _exit(status);
    }
    free(slots);
    free(ws);
    fflush(stdout);
out: /* also when the reports could not be opened or written at the start */
    for (size_t i = 0; i < rc->nslots; i++) {
        tr_slot_close(rc->slots[i].slot);
        rc->slots[i].slot = NULL;
    }
    tr_reports_close(rc->rep);
    rc->rep = NULL;
    tr_rig_session_close(&rc->rs);
    return status;
}

static int parse_run_opts(int argc, char **argv, run_opts *o, bool script_mode)
{
    static const struct option opts[] = {
        {"rig", required_argument, 0, 'r'},     {"profile", required_argument, 0, 'p'},
        {"slots", required_argument, 0, 's'},   {"out", required_argument, 0, 'o'},
        {"manifest", required_argument, 0, 'm'}, {"allow-destructive", no_argument, 0, 'A'},
        {"timeout", required_argument, 0, 't'}, {"plots", no_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},         {"reader", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "r:p:s:o:m:At:PqR:D:h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'r': o->rig_arg = optarg; break;
        case 'p': o->profile_arg = optarg; break;
        case 's': o->slots_arg = optarg; break;
        case 'o': o->out_arg = optarg; break;
        case 'm': o->manifest_arg = optarg; break;
        case 'A': o->allow_destructive = true; break;
        case 'P': o->plots = true; break;
        case 'q': o->quiet = true; break;
        case 'R': o->reader_arg = optarg; break;
        case 't':
            if (!tr_parse_u64(optarg, &v) || v == 0 || v > 86400) {
                fprintf(stderr, "tokenrig: --timeout takes seconds (1..86400), not '%s'\n", optarg);
                return 2;
            }
            o->slot_timeout_s = (unsigned)v;
            break;
        case 'D':
            if (o->ndefs == MAX_DEFS) {
                fprintf(stderr, "tokenrig: at most %d -D options\n", MAX_DEFS);
                return 2;
            }
            o->defs[o->ndefs++] = optarg;
            break;
        case 'h': return -1;
        default: return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->nsuites == MAX_SUITES) {
            fprintf(stderr, "tokenrig: at most %d suites\n", MAX_SUITES);
            return 2;
        }
        o->suite_args[o->nsuites++] = argv[i];
    }
    if (script_mode && o->nsuites != 1) {
        fprintf(stderr, "tokenrig script: give exactly one script file\n");
        return 2;
    }
    return 0;
}

static int init_ctx(run_ctx *rc, run_opts *o, tr_err *e)
{
    memset(rc, 0, sizeof *rc);
    rc->o = o;
    rc->tty = isatty(2);
    pthread_mutex_init(&rc->print_lock, NULL);
    if (o->run_id_arg)
        tr_strlcpy(rc->run_id, o->run_id_arg, sizeof rc->run_id);
    else
        make_run_id(rc->run_id, sizeof rc->run_id);
    rc->defs = tr_vars_new(NULL);
    if (!rc->defs)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->ndefs; i++)
        if (parse_def(rc, o->defs[i], e) < 0)
            return -1;
    return 0;
}

int tr_cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    int prc = parse_run_opts(argc, argv, &o, false);
    if (prc < 0) {
        usage_run(stdout);
        return 0;
    }
    if (prc > 0) {
        usage_run(stderr);
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    run_ctx rc;
    int status = init_ctx(&rc, &o, &e) < 0 ? -1 : do_run(&rc, &e);
    free_run(&rc);
    if (status < 0 || e.code != TR_OK)
        return e.code != TR_OK ? tr_cli_report_error(&e) : 2;
    return status;
}

/* ---- script --------------------------------------------------------------------------- */

static void usage_script(FILE *f)
{
    fprintf(f,
        "usage: tokenrig script FILE [--reader NAME] [--rig FILE] [--profile FILE]\n"
        "                      [--out DIR] [-D VAR=VALUE]... [--quiet]\n"
        "\n"
        "Run one script — a plain scriptor file (hex APDUs, reset, # comments) or a\n"
        "suite — on one token, printing each command and answer like scriptor.\n"
        "With --reader: that PC/SC reader (fnmatch pattern). Without: the first slot\n"
        "of the rig (default: the virtual rig). Every APDU is also traced to\n"
        "reports/<run-id>/trace.csv (PIN bytes as <pin>).\n");
}

int tr_cmd_script(int argc, char **argv)
{
    run_opts o = {0};
    int prc = parse_run_opts(argc, argv, &o, true);
    if (prc < 0) {
        usage_script(stdout);
        return 0;
    }
    if (prc > 0) {
        usage_script(stderr);
        return 2;
    }
    o.script = true;
    tr_err e;
    tr_err_clear(&e);
    char tmp_rig[64] = "", first[TR_NAME_MAX] = "";
    if (o.reader_arg) {
        /* a one-slot pcsc-only rig around the named reader */
        snprintf(tmp_rig, sizeof tmp_rig, "/tmp/tokenrig-script-%d.ini", (int)getpid());
        FILE *f = fopen(tmp_rig, "w");
        if (!f)
            return tr_cli_report_error((tr_fail(&e, TR_E_IO, "%s: %m", tmp_rig), &e));
        fprintf(f, "[rig]\nname = script\n[slot R]\ntype = pcsc-only\nreader = \"%s\"\n", o.reader_arg);
        fclose(f);
        o.rig_arg = tmp_rig;
        if (!o.profile_arg)
            o.profile_arg = "ref1-sm2";
    } else if (!o.slots_arg) {
        /* the rig's first slot */
        char path[TR_PATH_MAX];
        tr_rig_cfg cfg;
        if (tr_find_rig(o.rig_arg ? o.rig_arg : "virtual", path, sizeof path, &e) < 0 || tr_rig_load(path, &cfg, &e) < 0)
            return tr_cli_report_error(&e);
        tr_strlcpy(first, cfg.slots[0].name, sizeof first);
        tr_rig_free(&cfg);
        o.slots_arg = first;
    }
    run_ctx rc;
    int status = init_ctx(&rc, &o, &e) < 0 ? -1 : do_run(&rc, &e);
    free_run(&rc);
    if (tmp_rig[0])
        unlink(tmp_rig);
    if (status < 0 || e.code != TR_OK)
        return e.code != TR_OK ? tr_cli_report_error(&e) : 2;
    return status;
}

/* ---- identify (for tokenrig list) ------------------------------------------------------ */

typedef struct {
    char *out;
    size_t cap, used;
} log_sink;

static void identify_log(void *ud, const char *test, const char *text)
{
    (void)test;
    log_sink *ls = ud;
    if (strncmp(text, "reset", 5) == 0 || strncmp(text, "power-cycle", 11) == 0)
        return;
    int n = snprintf(ls->out + ls->used, ls->cap - ls->used, "%s%s", ls->used ? "; " : "", text);
    if (n > 0 && (size_t)n < ls->cap - ls->used)
        ls->used += (size_t)n;
}

int tr_slot_identify(tr_rig_session *rs, const tr_slot_cfg *c, char *out, size_t cap, tr_err *e)
{
    run_opts o = {0};
    run_ctx rc;
    slot_run sr = {0};
    tr_suite *suite = NULL;
    tr_slot *slot = NULL;
    char path[TR_PATH_MAX + 64];
    out[0] = '\0';
    if (init_ctx(&rc, &o, e) < 0)
        return -1;
    rc.rs = *rs; /* borrowed: closed by the caller */
    sr.rc = &rc;
    sr.cfg = c;
    snprintf(path, sizeof path, "%s/suites/lib/identify.tsuite", tr_data_dir());
    int status = -1;
    if (tr_suite_load(path, &suite, e) < 0 || slot_profile(&rc, &sr, e) < 0 || slot_vars(&rc, &sr, e) < 0 ||
        tr_slot_open(&rs->cfg, c, rs->vrig, &slot, e) < 0 || tr_slot_connect(slot, e) < 0)
        goto out;
    tr_cardio io;
    tr_slot_cardio(slot, &io);
    log_sink ls = {out, cap, 0};
    tr_interp_hooks hooks = {.ud = &ls, .log = identify_log};
    tr_interp_env env = {.card = &io, .vars = sr.vars, .hooks = &hooks};
    tr_suite_outcome res;
    if (tr_interp_run(suite, &env, &res, e) == 0) {
        status = 0;
        if (res.counts[TR_PASS] != 1 && !out[0])
            snprintf(out, cap, "does not answer as profile %s describes", sr.profile.name);
    }
out:
    tr_slot_close(slot);
    tr_suite_free(suite);
    tr_vars_free(sr.vars);
    tr_profile_free(&sr.profile);
    tr_vars_free(rc.defs);
    return status;
}
