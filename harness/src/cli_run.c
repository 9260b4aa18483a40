/* The suite-running commands: run (a batch, one worker per slot), script
 * (one scriptor-style file on one reader) and recover (the journal). Each
 * parses its options and hands the work to the run engine (run.h). */
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
#include "manifest.h"
#include "provenance.h"
#include "run.h"
#include "script.h"
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
    tr_cli_db_opts db;        /* run: --db, --no-db, --batch */
    char *command_line;       /* allocated */
} run_opts;

/* What a suite-running command holds while it runs. */
typedef struct {
    run_opts *o;
    tr_suite *suites[MAX_SUITES];
    size_t nsuites;
    tr_vars *defs;            /* -D layer */
    tr_manifest manifest;
    bool have_manifest;
} cmd_ctx;

static int parse_def(cmd_ctx *rc, const char *def, tr_err *e)
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
static int load_suites(cmd_ctx *rc, tr_err *e)
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

/* ---- run ------------------------------------------------------------------------------ */

static void usage_run(FILE *f)
{
    fprintf(f,
        "usage: tokenrig run [--rig FILE] [--profile FILE] [SUITE...] [--slots A1,A2]\n"
        "                    [--out DIR] [--allow-destructive] [--manifest CSV]\n"
        "                    [-D VAR=VALUE]... [--timeout SECONDS] [--plots] [--quiet]\n"
        "                    [--db URL|FILE | --no-db] [--batch ID]\n"
        "\n"
        "Run the suites (default: suites/DEFAULT, the certification in order) on\n"
        "every slot of the rig at once, one worker per slot. Writes\n"
        "reports/<run-id>/ (results.csv trace.csv samples.csv cycles.csv junit.xml\n"
        "summary.csv report.html) and points reports/latest at it; prints one progress line per\n"
        "slot per test on stderr and the batch verdicts on stdout.\n"
        "  --rig FILE            rig file or name under rigs/ (default: virtual)\n"
        "  --profile FILE        profile for every slot (default: the slot's / rig's)\n"
        "  --slots LIST          only these slots (comma-separated names of the rig's slots)\n"
        "  --out DIR             report directory (default reports/<run-id>)\n"
        "  --allow-destructive   run the destructive tests (PIN change, lockout);\n"
        "                        they restore factory state when they pass; without\n"
        "                        it the tokens are INCOMPLETE, not PASS\n"
        "  --manifest CSV        batch manifest: header serial,role,org,not_after[,slot],\n"
        "                        every row complete (not_after YYYY-MM-DD)\n"
        "  -D VAR=VALUE          set a suite variable (overrides profile and rig)\n"
        "  --timeout SECONDS     per slot; past it the slot ends with an error\n"
        "  --plots               make the PNG plots (needs gnuplot)\n"
        "  --db URL|FILE         results database: postgresql://... or a SQLite file\n"
        "                        (default: $TOKENRIG_DB, the rig's db =, else\n"
        "                        reports/tokenrig.db); rows go in per finished test\n"
        "  --no-db               write no database (the CSV files only)\n"
        "  --batch ID            the batch the run belongs to (default: the manifest's\n"
        "                        batch column, else its file name, else the run id)\n"
        "Also cycles-summary.csv and provenance.csv (what the run was measured\n"
        "against). A virtual rig of more than 16 slots runs as one batch: one\n"
        "private pcscd and one process per 16 slots.\n"
        "Options are spelled out (no abbreviations). Every variable the suites read\n"
        "must be given (profile, rig, manifest, -D): checked before any token.\n"
        "Exit status: 0 every token passed, 1 a token failed, 2 usage/config/rig\n"
        "error, only rig errors, a token INCOMPLETE (tests it was asked for not\n"
        "run: not-run.* in results.csv), a report file or database row that could\n"
        "not be written, or a stop signal (SIGINT, SIGTERM, SIGHUP, SIGPIPE: the\n"
        "tokens restored, the reports written, the rig down).\n");
}

/* parse_run_opts: -1 --help, 0 parsed, 2 bad (print the usage), OPTS_SAID
 * bad and already said (an abbreviated option: no usage after it). */
#define OPTS_SAID 3

static int parse_run_opts(int argc, char **argv, run_opts *o, bool script_mode)
{
    static const struct option opts[] = {
        {"rig", required_argument, 0, 'r'},     {"profile", required_argument, 0, 'p'},
        {"slots", required_argument, 0, 's'},   {"out", required_argument, 0, 'o'},
        {"manifest", required_argument, 0, 'm'}, {"allow-destructive", no_argument, 0, 'A'},
        {"timeout", required_argument, 0, 't'}, {"plots", no_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},         {"reader", required_argument, 0, 'R'},
        {"db", required_argument, 0, TR_OPT_DB}, {"no-db", no_argument, 0, TR_OPT_NO_DB},
        {"batch", required_argument, 0, TR_OPT_BATCH}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    static const char shortopts[] = "r:p:s:o:m:At:PqR:D:h";
    if (tr_cli_spelled_out(script_mode ? "tokenrig script" : "tokenrig run", argc, argv, shortopts, opts) < 0)
        return OPTS_SAID;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
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
        default:
            if (script_mode || !tr_cli_db_option(c, optarg, &o->db))
                return 2;
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

static int init_ctx(cmd_ctx *rc, run_opts *o, tr_err *e)
{
    memset(rc, 0, sizeof *rc);
    rc->o = o;
    rc->defs = tr_vars_new(NULL);
    if (!rc->defs)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->ndefs; i++)
        if (parse_def(rc, o->defs[i], e) < 0)
            return -1;
    if (load_suites(rc, e) < 0)
        return -1;
    if (o->manifest_arg) {
        if (tr_manifest_load(o->manifest_arg, &rc->manifest, e) < 0)
            return -1;
        rc->have_manifest = true;
    }
    return 0;
}

static void free_ctx(cmd_ctx *rc)
{
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

/* The suites on the session's rig through the run engine; prints where the
 * reports went. Returns the exit status. */
static int do_run(cmd_ctx *rc, tr_rig_session *rs, tr_err *e)
{
    run_opts *o = rc->o;
    tr_run_opts ro = {.profile = o->profile_arg, .slots = o->slots_arg, .out_dir = o->out_arg,
                      .run_id = o->run_id_arg, .defs = rc->defs,
                      .manifest = rc->have_manifest ? &rc->manifest : NULL, .suites = rc->suites,
                      .nsuites = rc->nsuites, .allow_destructive = o->allow_destructive, .quiet = o->quiet,
                      .script = o->script, .slot_timeout_s = o->slot_timeout_s, .batch = o->db.batch_arg,
                      .command_line = o->command_line};
    /* tokenrig script tries things out: no database */
    if (!o->script && tr_cli_db_where(&o->db, rs->cfg.db, &ro.db, e) < 0)
        return -1;
    tr_run_result res;
    if (tr_run_suites(rs, &ro, &res, e) < 0)
        return -1;
    if (o->script) {
        if (!o->quiet)
            fprintf(stderr, "tokenrig script: %lu APDUs, %u passed, %u failed, %u errors, %u skipped -> %s\n",
                    res.apdus, res.counts[TR_PASS], res.counts[TR_FAIL], res.counts[TR_ERROR], res.counts[TR_SKIP],
                    res.dir);
    } else {
        printf("reports: %s\n", res.dir);
        if (res.db[0])
            printf("database: %s (run %s, batch %s)\n", res.db, res.run_id, res.batch);
    }
    if (o->plots && run_plots(res.dir) == 0)
        printf("plots:   %s/*.png\n", res.dir);
    if (res.html)
        printf("report:  %s/report.html\n", res.dir);
    if (fflush(stdout) != 0)
        fprintf(stderr, "tokenrig: writing to stdout: %s\n", strerror(errno));
    return res.status;
}

static int finish(int status, tr_err *e)
{
    if (status < 0 || e->code != TR_OK)
        return e->code != TR_OK ? tr_cli_report_error(e) : 2;
    return status;
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
        if (prc != OPTS_SAID)
            usage_run(stderr);
        return 2;
    }
    tr_err e;
    tr_err_clear(&e);
    cmd_ctx rc;
    tr_rig_session rs;
    int status = -1;
    const char *db_where; /* checked before the rig is touched; chosen with the rig's db = in do_run */
    if (tr_cli_db_where(&o.db, NULL, &db_where, &e) < 0)
        return tr_cli_report_error(&e);
    o.command_line = tr_cli_command_line(argc, argv);
    if (!o.command_line) {
        tr_fail(&e, TR_E_NOMEM, "out of memory");
        return tr_cli_report_error(&e);
    }
    /* from here to the end a stop signal is orderly (batch.h): one while
     * the rig comes up stops the run before it touches a token, one while
     * the reports are written lets them finish; the rig goes down, the
     * lease is released, exit 2 */
    tr_batch_stop_begin();
    if (init_ctx(&rc, &o, &e) == 0 && tr_rig_session_open(o.rig_arg, &rs, &e) == 0) {
        status = do_run(&rc, &rs, &e);
        tr_rig_session_close(&rs);
    }
    free_ctx(&rc);
    free(o.command_line);
    status = finish(status, &e);
    tr_batch_stop_end();
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
        if (prc != OPTS_SAID)
            usage_script(stderr);
        return 2;
    }
    o.script = true;
    tr_err e;
    tr_err_clear(&e);
    cmd_ctx rc;
    tr_rig_session rs;
    memset(&rs, 0, sizeof rs);
    int status = -1, opened = -1;
    o.command_line = tr_cli_command_line(argc, argv);
    if (!o.command_line) {
        tr_fail(&e, TR_E_NOMEM, "out of memory");
        return tr_cli_report_error(&e);
    }
    tr_batch_stop_begin(); /* as tokenrig run */
    if (init_ctx(&rc, &o, &e) < 0)
        goto out;
    if (o.reader_arg) { /* a one-slot pcsc-only rig around the named reader */
        if (!o.profile_arg)
            o.profile_arg = "ref1-sm2";
        if (tr_rig_single_reader(o.reader_arg, &rs.cfg, &e) == 0)
            opened = tr_rig_session_open_cfg(&rs, &e);
        else
            tr_rig_free(&rs.cfg);
    } else {
        opened = tr_rig_session_open(o.rig_arg, &rs, &e);
        if (opened == 0 && !o.slots_arg) /* the rig's first slot */
            o.slots_arg = rs.cfg.slots[0].name;
    }
    if (opened == 0) {
        status = do_run(&rc, &rs, &e);
        tr_rig_session_close(&rs);
    }
out:
    free_ctx(&rc);
    free(o.command_line);
    status = finish(status, &e);
    tr_batch_stop_end();
    return status;
}

/* ---- recover -------------------------------------------------------------------------- */

static void usage_recover(FILE *f)
{
    fprintf(f,
        "usage: tokenrig recover [--rig FILE] [--forget SLOT[,SLOT...]]\n"
        "\n"
        "Give every token that a crashed or stopped run left mid-way (the rig's\n"
        "journal of destructive steps says which, and what its PINs can be) back its\n"
        "factory PINs: each of the two journaled candidates is tried at most once,\n"
        "no other PIN ever (recovery journals its own steps: a candidate the token\n"
        "refused is never presented again, a crash inside recovery loses nothing).\n"
        "Prints one line per token (restored, or why not) and clears the journal\n"
        "of the restored ones only. `tokenrig run` does the same for its slots\n"
        "before it starts.\n"
        "\n"
        "--forget SLOT,...  touch no token: drop those slots' journal entries, for\n"
        "                   a token recovery could not restore that was put right by\n"
        "                   hand or set aside (until then its destructive tests stop\n"
        "                   at the entry). Every slot named must have an entry.\n"
        "Exit status: 0 every journaled token restored (or none; or forgotten), 1 a\n"
        "token could not be restored, 2 usage, rig or journal error.\n");
}

int tr_cmd_recover(int argc, char **argv)
{
    const char *rig_arg, *forget;
    int st = tr_cli_rig_and("tokenrig recover", argc, argv, usage_recover, &rig_arg, "forget", &forget);
    if (st >= 0)
        return st;
    tr_err e;
    tr_err_clear(&e);
    tr_rig_session rs;
    if (tr_rig_session_open(rig_arg, &rs, &e) < 0)
        return tr_cli_report_error(&e);
    int failed = forget ? tr_run_forget(&rs, forget, stdout, &e) : tr_run_recover(&rs, stdout, &e);
    tr_rig_session_close(&rs);
    if (failed < 0)
        return tr_cli_report_error(&e);
    return failed ? 1 : 0;
}
