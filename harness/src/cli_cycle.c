/* The recognition loop (tokenrig cycle) and hub discovery (tokenrig hubs):
 * what a vendor runs on a returned "unrecognizable USB-KEY". */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "dbrun.h"
#include "provenance.h"
#include "reports.h"
#include "rig.h"
#include "stats.h"
#include "transport.h"
#include "usbhub.h"
#include "util.h"

static void usage_cycle(FILE *f)
{
    fprintf(f,
        "usage: tokenrig cycle --slot NAME --count N [--rig FILE] [--profile FILE]\n"
        "                      [--stop-on-fail] [--out DIR] [--plots]\n"
        "                      [--db URL|FILE | --no-db] [--batch ID]\n"
        "\n"
        "The recognition loop: power-cycle one token N times and time every stage\n"
        "(power off seen, USB device, PC/SC reader, card with ATR, first APDU).\n"
        "Each cycle is a row of cycles.csv with the stage reached and a verdict:\n"
        "pass, rig.port-not-switched, enum.no-device, enum.no-reader, enum.no-card,\n"
        "enum.bad-atr, io.first-apdu-failed, time.slow-start (power-on to the first\n"
        "answer over the profile's FIRST_APDU_MAX_MS). --stop-on-fail stops at the first\n"
        "failing cycle and leaves the token as it is, for the bench engineer.\n"
        "The summary (per stage: count, p50, p95, max) is printed and written to\n"
        "cycles-summary.csv beside cycles.csv; --plots draws cycles.png.\n"
        "The ATR and the first APDU come from the profile (ATR, FIRST_APDU,\n"
        "FIRST_APDU_SW). Each cycle also goes into the results database as it ends\n"
        "(--db, as tokenrig run; --no-db for none; `tokenrig history SERIAL` shows\n"
        "the cycles' count and power-on -> first APDU p50/p95).\n"
        "SIGINT, SIGTERM, SIGHUP or SIGPIPE end the loop in order: the cycle under\n"
        "way is finished (the token on again), the files and the summary written.\n"
        "Exit status: 0 every cycle passed, 1 a cycle failed, 2 usage/config/rig\n"
        "error, a stop signal, or a row the database did not take.\n");
}

typedef struct {
    const char *stage;
    unsigned fails;
} stage_count;

/* The slot and what its profile says the token answers. */
typedef struct {
    const tr_slot_cfg *sc;
    tr_profile prof;
    uint8_t atr[64], apdu[300];
    size_t atr_len, apdu_len;
    const char *want_sw;        /* FIRST_APDU_SW, or 9000 */
    double first_max_ms;        /* FIRST_APDU_MAX_MS, or -1 */
} cycle_target;

/* One cycle: power, ATR check, first APDU, its time. Returns the verdict
 * ("pass" or a classification); rep holds the timings. */
static const char *one_cycle(tr_slot *s, const cycle_target *tg, tr_cycle_report *rep, char *msg, size_t cap)
{
    tr_err e;
    tr_err_clear(&e);
    msg[0] = '\0';
    if (tr_slot_power_cycle(s, rep, &e) < 0) {
        snprintf(msg, cap, "%s", e.msg);
        return tr_cycle_failure_class(&e, rep);
    }
    uint8_t got[64];
    size_t n = tr_card_atr(tr_slot_card(s), got, sizeof got);
    if (tg->atr_len && (n != tg->atr_len || memcmp(got, tg->atr, n))) {
        snprintf(msg, cap, "ATR %s is not the profile's", rep->atr_hex);
        return "enum.bad-atr";
    }
    uint8_t rsp[TR_MAX_RAPDU];
    size_t rlen;
    uint64_t t0 = tr_now_ns();
    if (tr_card_transmit(tr_slot_card(s), tg->apdu, tg->apdu_len, rsp, sizeof rsp, &rlen, &e) < 0) {
        snprintf(msg, cap, "first APDU: %s", e.msg);
        return "io.first-apdu-failed";
    }
    rep->to_first_apdu_ms = rep->to_atr_ms + (double)(tr_now_ns() - t0) / 1e6;
    tr_strlcpy(rep->stage, "apdu", sizeof rep->stage);
    char sw[5];
    snprintf(sw, sizeof sw, "%02X%02X", rsp[rlen - 2], rsp[rlen - 1]);
    if (strcasecmp(sw, tg->want_sw)) {
        snprintf(msg, cap, "first APDU answered %s, expected %s", sw, tg->want_sw);
        return "io.first-apdu-failed";
    }
    if (tg->first_max_ms >= 0 && rep->to_first_apdu_ms > tg->first_max_ms) {
        snprintf(msg, cap, "first APDU answered %.1f ms after power-on, over FIRST_APDU_MAX_MS %g ms",
                 rep->to_first_apdu_ms, tg->first_max_ms);
        return "time.slow-start";
    }
    return "pass";
}

static int profile_bytes(const tr_profile *p, const char *name, uint8_t *out, size_t cap, size_t *len, tr_err *e)
{
    const char *v = tr_vars_get(p->vars, name);
    if (!v)
        return tr_fail(e, TR_E_CONFIG, "%s: the profile has no %s", p->path, name);
    long n = tr_hex_decode(v, out, cap);
    if (n < 0)
        return tr_fail(e, TR_E_CONFIG, "%s: %s is not hex: %s", p->path, name, v);
    *len = (size_t)n;
    return 0;
}

/* A time limit (ms > 0) from the profile; -1 when it has none. */
static int profile_limit(const tr_profile *p, const char *name, double *out, tr_err *e)
{
    *out = -1;
    const char *v = tr_vars_get(p->vars, name);
    if (!v)
        return 0;
    char tmp[64];
    if (!tr_strlcpy(tmp, v, sizeof tmp) || !tr_parse_double(tr_trim(tmp), out) || !(*out > 0))
        return tr_fail(e, TR_E_CONFIG, "%s: %s = %s: expected a time in ms (a number above 0)", p->path, name, v);
    return 0;
}

typedef struct {
    const char *rig_arg, *slot_arg, *profile_arg, *out_arg;
    unsigned long count;
    bool stop_on_fail, plots;
    tr_cli_db_opts db;
    const char *command_line;
} cycle_opts;

/* Find the slot and read ATR, FIRST_APDU and FIRST_APDU_SW from its profile.
 * On success the caller frees tg->prof. */
static int cycle_target_load(const cycle_opts *o, tr_rig_session *rs, cycle_target *tg, tr_err *e)
{
    tg->sc = tr_rig_find_slot(&rs->cfg, o->slot_arg);
    if (!tg->sc)
        return tr_fail(e, TR_E_USAGE, "no slot '%s' in %s", o->slot_arg, rs->cfg.path), -1;
    if (tg->sc->type == TR_SLOT_NONE)
        return tr_fail(e, TR_E_NOPOWER, "slot %s has no power switch (type none): the recognition loop needs "
                       "one (usb-hub, or command with power_on / power_off)", tg->sc->name);
    if (tr_slot_profile_load(&rs->cfg, tg->sc, o->profile_arg, &tg->prof, e) < 0)
        return -1;
    const char *want_sw = tr_vars_get(tg->prof.vars, "FIRST_APDU_SW");
    tg->want_sw = want_sw ? want_sw : "9000";
    if (profile_bytes(&tg->prof, "ATR", tg->atr, sizeof tg->atr, &tg->atr_len, e) < 0 ||
        profile_bytes(&tg->prof, "FIRST_APDU", tg->apdu, sizeof tg->apdu, &tg->apdu_len, e) < 0 ||
        profile_limit(&tg->prof, "FIRST_APDU_MAX_MS", &tg->first_max_ms, e) < 0) {
        tr_profile_free(&tg->prof);
        return -1;
    }
    return 0;
}

/* The run id (cycle-YYYYmmdd-HHMMSS-<pid>, UTC: unique on the host, as
 * the database wants it) and the reports directory: --out, or
 * reports/<run id>. */
static void cycle_names(const cycle_opts *o, char *run_id, size_t idcap, char *dir, size_t dircap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(run_id, idcap, "cycle-%s-%d", stamp, (int)getpid());
    if (o->out_arg)
        snprintf(dir, dircap, "%s", o->out_arg);
    else
        snprintf(dir, dircap, "reports/%s", run_id);
}

/* The database of the loop (none for --no-db): the run's row goes in
 * before the first cycle; a made run id another host took is made unique
 * (run_id gets the one claimed). */
static int cycle_db_open(const cycle_opts *o, tr_rig_session *rs, const cycle_target *tg, char *run_id, size_t cap,
                         tr_dbrun **w, tr_err *e)
{
    const char *where;
    *w = NULL;
    if (tr_cli_db_where(&o->db, rs->cfg.db, &where, e) < 0)
        return -1;
    if (!where)
        return 0;
    tr_dbrun_opts d = {.where = where, .run_id = run_id, .kind = "cycle", .batch = o->db.batch_arg,
                       .rig = rs->cfg.name, .profile = tg->prof.name, .command_line = o->command_line};
    if (tr_dbrun_open(&d, w, e) < 0)
        return -1;
    tr_strlcpy(run_id, tr_dbrun_run_id(*w), cap);
    return 0;
}

/* The loop's end into the database: the exit status it gets, 2 when a row
 * could not be written. */
static int cycle_db_close(tr_dbrun *w, int status)
{
    if (!w)
        return status;
    tr_err de;
    if (tr_dbrun_end(w, tr_dbrun_failed(w, NULL) ? 2 : status, &de) < 0) {
        fprintf(stderr, "tokenrig: database incomplete: %s\n", de.msg);
        status = 2;
    } else {
        printf("database: %s (run %s, batch %s)\n", tr_dbrun_label(w), tr_dbrun_run_id(w), tr_dbrun_batch(w));
    }
    tr_dbrun_free(w);
    return status;
}

/* A bench whose pcscd must be restarted before a token comes back after a
 * power-on (the rig's pcscd_restart; rig.h, tr_slot_on_not_back): the
 * command, said on stderr; the cycle's row says it too (its message). */
static int cycle_pcscd_restart(void *ud, uint64_t since_ns, const char *why, tr_err *e)
{
    const tr_rig_cfg *cfg = ud;
    (void)since_ns; /* one slot: nobody else restarts it */
    fprintf(stderr, "%stokenrig cycle: the token is not back after power-on (%s): running pcscd_restart (%s)\n",
            isatty(2) ? "\r\033[K" : "", why, cfg->pcscd_restart);
    tr_pcsc_service_restarted(); /* the slot's context is the old daemon's */
    if (tr_rig_restart_pcscd(cfg, e) < 0) {
        tr_err_prefix(e, "the token did not come back after power-on (%s), and then", why);
        return -1;
    }
    return 0;
}

static int cycle_slot_open(tr_rig_session *rs, const tr_slot_cfg *sc, tr_slot **s, tr_err *e)
{
    if (tr_slot_open(&rs->cfg, sc, rs->vrig, s, e) < 0 || tr_slot_prepare(*s, e) < 0)
        return -1;
    if (!rs->vrig && rs->cfg.pcscd_restart[0])
        tr_slot_on_not_back(*s, cycle_pcscd_restart, &rs->cfg);
    /* a first connection when the token is there; a dead one starts off */
    tr_err ignored;
    tr_slot_connect(*s, &ignored);
    return 0;
}

/* The verdicts a cycle can fail with, in the order the summary lists them. */
static const stage_count cycle_failures[] = {
    {"rig.port-not-switched", 0}, {"enum.no-device", 0}, {"enum.no-reader", 0},
    {"enum.no-card", 0},          {"enum.no-answer", 0}, {"enum.bad-atr", 0},
    {"io.first-apdu-failed", 0},  {"time.slow-start", 0}, {"rig", 0}};
#define N_CYCLE_FAILURES (sizeof cycle_failures / sizeof cycle_failures[0])

/* What the run counted: the cycles and the failures by verdict (the
 * stage times are the reports': cycles-summary.csv). */
typedef struct {
    size_t done, failed;
    stage_count fails[N_CYCLE_FAILURES];
    bool rig_error;
} cycle_tally;

static void tally_init(cycle_tally *ty)
{
    memset(ty, 0, sizeof *ty);
    memcpy(ty->fails, cycle_failures, sizeof ty->fails);
}

/* A cycles.csv row: the loop is no suite, its rows say "(cycle)". */
static int write_cycle_row(tr_reports *rep, const tr_slot_id *who, unsigned long i, const char *verdict,
                           const tr_cycle_report *r, const char *msg, double first_max_ms, tr_err *e)
{
    tr_cycle_row row = {.who = who, .cycle = (unsigned)i, .off_ms = r->off_ms, .to_device_ms = r->to_device_ms,
                        .to_reader_ms = r->to_reader_ms, .to_atr_ms = r->to_atr_ms,
                        .to_first_apdu_ms = r->to_first_apdu_ms, .atr = r->atr_hex, .stage = r->stage,
                        .power_level = r->power_level, .verdict = verdict, .message = msg,
                        .suite = "(cycle)", .test = "", .first_apdu_limit_ms = first_max_ms};
    return tr_reports_cycle(rep, &row, e);
}

/* Count cycle i's verdict and tell the bench engineer (a failure always, a
 * pass as a progress line on a terminal). True when the run stops here. */
static bool tally_verdict(const cycle_opts *o, cycle_tally *ty, unsigned long i, const char *verdict,
                          const tr_cycle_report *r, const char *msg, bool tty)
{
    if (!strcmp(verdict, "pass")) {
        if (tty)
            fprintf(stderr, "\r\033[Kcycle %lu/%lu: ATR after %.1f ms, first APDU after %.1f ms", i, o->count,
                    r->to_atr_ms, r->to_first_apdu_ms);
        return false;
    }
    ty->failed++;
    /* the last row, "rig", counts whatever kept a cycle from being judged,
     * under any class (permission, config, a library's io.mute) */
    size_t k = 0;
    while (k + 1 < N_CYCLE_FAILURES && strcmp(ty->fails[k].stage, verdict))
        k++;
    ty->fails[k].fails++;
    ty->rig_error |= !tr_cycle_verdict_judged(verdict);
    fprintf(stderr, "%scycle %lu: %s (stage %s): %s\n", tty ? "\r\033[K" : "", i, verdict, r->stage, msg);
    if (!o->stop_on_fail)
        return false;
    fprintf(stderr, "tokenrig cycle: stopped at the first failure; the token is left as it is\n");
    return true;
}

/* Up to --count cycles (fewer on a stop signal — the cycle under way is
 * finished, its token powered on again, batch.h — on --stop-on-fail, or a
 * row that cannot be written: e keeps that failure), one cycles.csv row
 * each. */
static int run_cycles(const cycle_opts *o, const cycle_target *tg, tr_slot *s, tr_reports *rep,
                      const tr_slot_id *who, cycle_tally *ty, tr_err *e)
{
    bool tty = isatty(2);
    for (unsigned long i = 1; i <= o->count && !tr_batch_interrupted(); i++) {
        tr_cycle_report r;
        char msg[TR_ERR_MSG_MAX];
        const char *verdict = one_cycle(s, tg, &r, msg, sizeof msg);
        ty->done++;
        /* a pass the rig had to help (pcscd_restart) says so in its row */
        bool written = write_cycle_row(rep, who, i, verdict, &r, msg[0] ? msg : r.note, tg->first_max_ms, e) == 0;
        if (tally_verdict(o, ty, i, verdict, &r, msg, tty))
            break;
        if (!written)
            break; /* cycles nobody can read back are no use; the counts so far still get printed */
    }
    if (tty)
        fputs("\r\033[K", stderr);
    return 0;
}

/* The summary on stdout; the same stage times are in cycles-summary.csv. */
static void print_cycle_summary(const tr_slot_cfg *sc, const cycle_tally *ty, tr_reports *rep)
{
    tr_cycle_stats st;
    if (!tr_reports_cycle_stats(rep, sc->name, &st))
        memset(&st, 0, sizeof st);
    const int A = TR_STAGE_ATR, P = TR_STAGE_FIRST_APDU;
    size_t done = ty->done, failed = ty->failed;
    printf("slot %s: %zu cycles, %zu passed, %zu failed (%.1f%%)\n", sc->name, done, done - failed, failed,
           done ? 100.0 * (double)failed / (double)done : 0.0);
    for (size_t k = 0; k < N_CYCLE_FAILURES; k++)
        if (ty->fails[k].fails)
            printf("  %-24s %u (%.1f%%)\n", ty->fails[k].stage, ty->fails[k].fails,
                   100.0 * ty->fails[k].fails / (double)done);
    printf("  power-on -> ATR        ms: p50 %.1f  p95 %.1f  max %.1f  (n=%zu)\n", st.p50[A], st.p95[A], st.max[A],
           st.count[A]);
    printf("  power-on -> first APDU ms: p50 %.1f  p95 %.1f  max %.1f  (n=%zu)\n", st.p50[P], st.p95[P], st.max[P],
           st.count[P]);
    printf("reports: %s/cycles.csv\nsummary: %s/cycles-summary.csv\n", tr_reports_dir(rep), tr_reports_dir(rep));
}

static void plot_cycles(const tr_reports *rep)
{
    char cmd[TR_PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd, "bash '%s/ci/plots.sh' '%s'", tr_data_dir(), tr_reports_dir(rep));
    if (system(cmd) == 0)
        printf("plots:   %s/cycles.png\n", tr_reports_dir(rep));
}

/* What the loop was measured against (provenance.csv): the run-wide facts,
 * the slot's profile and its values (ATR, FIRST_APDU, FIRST_APDU_MAX_MS...).
 * -1 with e (the file and the reason) when a row could not be written. */
static int cycle_provenance(tr_reports *rep, const cycle_opts *o, const char *run_id, const tr_rig_session *rs,
                            const cycle_target *tg, const tr_slot_id *who, tr_err *e)
{
    if (tr_prov_run_facts(rep, o->command_line, run_id, rs->cfg.name, rs->cfg.path, e) < 0 ||
        tr_prov_file(rep, who, "profile", tg->prof.path, e) < 0 || tr_prov_vars(rep, who, tg->prof.vars, e) < 0)
        return -1;
    return 0;
}

/* The end of the loop: cycles-summary.csv, the summary on stdout, the plot;
 * the exit status (2 when a report file could not be written — e says
 * which and why — a rig error, or a stop signal). */
static int cycle_end(const cycle_opts *o, const tr_slot_cfg *sc, const cycle_tally *ty, tr_reports *rep, tr_err *e)
{
    tr_err we; /* kept by the reports: tr_reports_sync says it */
    if (tr_reports_write_cycle_summary(rep, &we) < 0)
        fprintf(stderr, "tokenrig cycle: %s\n", we.msg);
    print_cycle_summary(sc, ty, rep);
    if (o->plots)
        plot_cycles(rep);
    bool files = tr_reports_sync(rep, e) == 0; /* e: the first write failure, if any */
    if (tr_batch_interrupted()) {
        fflush(stdout);
        fprintf(stderr, "tokenrig cycle: interrupted (signal %d) after %zu of %lu cycles; the cycles so far are "
                        "in %s\n", tr_batch_signal(), ty->done, o->count, tr_reports_dir(rep));
        return 2;
    }
    return !files || ty->rig_error ? 2 : ty->failed ? 1 : 0;
}

/* Exit status: 0 every cycle passed, 1 a cycle failed, 2 usage, config or rig error, or a stop signal. */
static int cycle_loop(const cycle_opts *o, tr_rig_session *rs, tr_err *e)
{
    cycle_target tg;
    if (cycle_target_load(o, rs, &tg, e) < 0)
        return 2;
    char run_id[128], dir[TR_PATH_MAX];
    cycle_names(o, run_id, sizeof run_id, dir, sizeof dir);
    tr_dbrun *w = NULL;
    tr_reports *rep = cycle_db_open(o, rs, &tg, run_id, sizeof run_id, &w, e) == 0 ? tr_reports_open(dir, e) : NULL;
    tr_slot *s = NULL;
    cycle_tally ty;
    int status = 2;
    if (rep && w)
        tr_dbrun_attach(w, rep);
    if (rep && cycle_slot_open(rs, tg.sc, &s, e) == 0) {
        tally_init(&ty);
        const tr_slot_cfg *sc = tg.sc;
        tr_slot_id who = {.run_id = run_id, .rig = rs->cfg.name, .slot = sc->name, .reader = tr_slot_reader(s),
                          .serial = sc->type == TR_SLOT_VIRTUAL ? sc->vt.serial : "", .profile = tg.prof.name};
        /* no cycle yet: a loop that cannot record what it is measured
         * against stops here */
        if (cycle_provenance(rep, o, run_id, rs, &tg, &who, e) == 0 && run_cycles(o, &tg, s, rep, &who, &ty, e) == 0)
            status = cycle_end(o, sc, &ty, rep, e);
    }
    status = cycle_db_close(w, status);
    tr_slot_close(s);
    tr_reports_close(rep);
    tr_profile_free(&tg.prof);
    return status;
}

int tr_cmd_cycle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rig", required_argument, 0, 'r'},   {"slot", required_argument, 0, 's'},
        {"count", required_argument, 0, 'n'}, {"profile", required_argument, 0, 'p'},
        {"out", required_argument, 0, 'o'},   {"stop-on-fail", no_argument, 0, 'S'},
        {"plots", no_argument, 0, 'P'},       {"help", no_argument, 0, 'h'},
        {"db", required_argument, 0, TR_OPT_DB}, {"no-db", no_argument, 0, TR_OPT_NO_DB},
        {"batch", required_argument, 0, TR_OPT_BATCH}, {0, 0, 0, 0}};
    cycle_opts o = {.count = 0};
    if (tr_cli_spelled_out("tokenrig cycle", argc, argv, "r:s:n:p:o:SPh", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:s:n:p:o:SPh", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'r': o.rig_arg = optarg; break;
        case 's': o.slot_arg = optarg; break;
        case 'p': o.profile_arg = optarg; break;
        case 'o': o.out_arg = optarg; break;
        case 'S': o.stop_on_fail = true; break;
        case 'P': o.plots = true; break;
        case 'n':
            if (!tr_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
                fprintf(stderr, "tokenrig cycle: --count takes 1..1000000, not '%s'\n", optarg);
                return 2;
            }
            o.count = (unsigned long)v;
            break;
        case 'h': usage_cycle(stdout); return 0;
        default:
            if (!tr_cli_db_option(c, optarg, &o.db)) {
                usage_cycle(stderr);
                return 2;
            }
        }
    }
    if (optind != argc || !o.slot_arg || !o.count) {
        usage_cycle(stderr);
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    const char *db_where; /* checked before the rig is touched */
    if (tr_cli_db_where(&o.db, NULL, &db_where, &e) < 0)
        return tr_cli_report_error(&e);
    char *cmdline = tr_cli_command_line(argc, argv);
    tr_rig_session rs;
    if (!cmdline)
        tr_fail(&e, TR_E_NOMEM, "out of memory");
    /* from here to the end a stop signal is orderly (batch.h): the cycle
     * under way ends, the files and the summary are written, the rig goes
     * down (when the loop brought it up), the lease is released, exit 2 */
    tr_batch_stop_begin();
    int status = 2;
    if (cmdline && tr_rig_session_open(o.rig_arg, &rs, &e) == 0) {
        o.command_line = cmdline;
        status = cycle_loop(&o, &rs, &e);
        tr_rig_session_close(&rs);
    }
    free(cmdline);
    if (e.code != TR_OK)
        tr_cli_report_error(&e);
    tr_batch_stop_end();
    return status;
}

int tr_cmd_hubs(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    if (tr_cli_spelled_out("tokenrig hubs", argc, argv, "h", opts) < 0)
        return 2;
    if (argc > 1) {
        bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        fprintf(help ? stdout : stderr,
                "usage: tokenrig hubs\n\n"
                "Every USB hub: location (bus-port.port...), vendor:product, port count,\n"
                "power switching (per-port / ganged / none), USB3 companion, each port's\n"
                "status bits and the device on it.\n");
        return help ? 0 : 2;
    }
    tr_err e;
    tr_err_clear(&e);
    if (tr_hubs_print(stdout, &e) < 0)
        return tr_cli_report_error(&e);
    return 0;
}
