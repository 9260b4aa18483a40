/* The rig-facing commands: rig up/down/status/env, list, power. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rig.h"
#include "transport.h"
#include "util.h"

#define DEFAULT_RIG "virtual"
#define RIG_UP_TIMEOUT_MS 30000

int tr_cli_report_error(const tr_err *e)
{
    char buf[TR_ERR_MSG_MAX + TR_ERR_FILE_MAX + 32];
    fprintf(stderr, "tokenrig: %s\n", tr_err_format(e, buf, sizeof buf));
    return 2;
}

/* ---- tokenrig rig ---------------------------------------------------------------- */

static void usage_rig(FILE *f)
{
    fprintf(f,
        "usage: tokenrig rig up|down|status|env|respawn [--rig FILE] [--timeout MS] [--slot NAME]\n"
        "\n"
        "The virtual rig: a private pcscd in its own mount namespace (its own\n"
        "socket and reader.conf directory; the system pcscd and /etc are never\n"
        "touched) and one vtoken per slot of the rig file.\n"
        "  up      bring it up and wait until every token is present; prints\n"
        "          what env prints (a rig a dead run left is taken down first\n"
        "          and that run's lease cleared)\n"
        "  down    stop its processes (by PID) and remove its directory\n"
        "  status  the rig's directory, socket, and each slot's reader and token state\n"
        "  env     export PCSCLITE_CSOCK_NAME=... and TOKENRIG_VRIG_DIR=... for\n"
        "          other PC/SC clients: eval \"$(tokenrig rig env)\"\n"
        "  respawn restart one slot's vtoken (same options, same PIN state file)\n"
        "Without --rig: rigs/virtual.ini. The rig's directory is\n"
        "/tmp/tokenrig-UID/vrig-NAME, or $TOKENRIG_VRIG_DIR.\n");
}

/* The lines a shell evals to reach the rig: `eval "$(tokenrig rig env)"`.
 * A rig of several pcscds: the first one's socket, and a comment per other
 * one (a PC/SC client talks to one pcscd). */
static void print_env(const tr_rig_cfg *cfg, const tr_vrig *v)
{
    const char *kv[][2] = {{"PCSCLITE_CSOCK_NAME", tr_vrig_socket(v)}, {"TOKENRIG_VRIG_DIR", tr_vrig_dir(v)}};
    char q[2 * TR_PATH_MAX];
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        tr_shell_quote(kv[i][1], q, sizeof q);
        printf("export %s=%s\n", kv[i][0], q);
    }
    for (size_t g = 1; g < tr_vrig_groups(v); g++) {
        size_t first = g * TR_VRIG_GROUP_SLOTS, last = first + TR_VRIG_GROUP_SLOTS - 1;
        last = last < cfg->nslots ? last : cfg->nslots - 1;
        tr_shell_quote(tr_vrig_group_socket(v, g), q, sizeof q);
        printf("# slots %s to %s are behind pcscd %zu: PCSCLITE_CSOCK_NAME=%s\n", cfg->slots[first].name,
               cfg->slots[last].name, g, q);
    }
}

static int rig_status(const tr_rig_cfg *cfg, const tr_vrig *v)
{
    printf("rig %s: up in %s\nPCSCLITE_CSOCK_NAME=%s\n", cfg->name, tr_vrig_dir(v), tr_vrig_socket(v));
    for (size_t g = 1; g < tr_vrig_groups(v); g++)
        printf("pcscd %zu (PID %d): PCSCLITE_CSOCK_NAME=%s\n", g, (int)tr_vrig_group_pcscd(v, g),
               tr_vrig_group_socket(v, g));
    for (size_t i = 0; i < cfg->nslots; i++) {
        const char *name = cfg->slots[i].name;
        char st[256];
        tr_err e;
        if (tr_vrig_token_status(v, name, st, sizeof st, &e) < 0)
            snprintf(st, sizeof st, "no answer: %s", e.msg);
        printf("  %-8s %-28s pid %-7d %s\n", name, tr_vrig_reader(v, name), (int)tr_vrig_token_pid(v, name), st);
    }
    return 0;
}

int tr_cmd_rig(int argc, char **argv)
{
    static const struct option opts[] = {{"rig", required_argument, 0, 'r'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"slot", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *rig_arg = NULL, *slot_arg = NULL;
    unsigned timeout = RIG_UP_TIMEOUT_MS;
    if (tr_cli_spelled_out("tokenrig rig", argc, argv, "r:t:s:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:t:s:h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'r': rig_arg = optarg; break;
        case 's': slot_arg = optarg; break;
        case 't':
            if (!tr_parse_u64(optarg, &v) || v > 3600000) {
                fprintf(stderr, "tokenrig rig: --timeout takes milliseconds, not '%s'\n", optarg);
                return 2;
            }
            timeout = (unsigned)v;
            break;
        case 'h': usage_rig(stdout); return 0;
        default: usage_rig(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage_rig(stderr);
        return 2;
    }
    const char *action = argv[optind];
    tr_err e;
    tr_err_clear(&e);
    char path[TR_PATH_MAX], dir[TR_PATH_MAX];
    tr_rig_cfg cfg;
    if (tr_find_rig(rig_arg ? rig_arg : DEFAULT_RIG, path, sizeof path, &e) < 0 || tr_rig_load(path, &cfg, &e) < 0)
        return tr_cli_report_error(&e);
    tr_vrig_default_dir(&cfg, dir, sizeof dir);
    tr_vrig *v = NULL;
    int rc = 0;
    if (!strcmp(action, "up")) {
        tr_rig_session rs;
        if (tr_rig_up(rig_arg, timeout, &rs, &e) < 0)
            rc = tr_cli_report_error(&e);
        else {
            print_env(&rs.cfg, rs.vrig);
            tr_rig_session_close(&rs);
        }
    } else if (!strcmp(action, "down")) {
        if (tr_vrig_attach(dir, &v, &e) < 0)
            rc = tr_cli_report_error(&e);
        else
            tr_vrig_down(v, &e);
    } else if (!strcmp(action, "respawn")) {
        if (!slot_arg)
            rc = tr_cli_report_error((tr_fail(&e, TR_E_USAGE, "rig respawn needs --slot NAME"), &e));
        else if (tr_vrig_attach(dir, &v, &e) < 0 || tr_vrig_respawn(v, &cfg, slot_arg, &e) < 0)
            rc = tr_cli_report_error(&e);
        tr_vrig_free(v);
    } else if (!strcmp(action, "status") || !strcmp(action, "env")) {
        if (tr_vrig_attach(dir, &v, &e) < 0)
            rc = tr_cli_report_error(&e);
        else {
            if (!strcmp(action, "env"))
                print_env(&cfg, v);
            else
                rig_status(&cfg, v);
            tr_vrig_free(v);
        }
    } else {
        fprintf(stderr, "tokenrig rig: unknown action '%s' (up, down, status, env)\n", action);
        rc = 2;
    }
    tr_rig_free(&cfg);
    return rc;
}

/* ---- tokenrig list ------------------------------------------------------------------ */

static void usage_list(FILE *f)
{
    fprintf(f,
        "usage: tokenrig list [--rig FILE]\n"
        "\n"
        "Every PC/SC reader (with the ATR of its token), then the rig's slots with\n"
        "the reader each maps to, how it is powered, and what its token says it is\n"
        "(serial, role, algorithm: suites/lib/identify.tsuite with the slot's\n"
        "profile). Without --rig: the default\n"
        "virtual rig (brought up for the listing when it is not up).\n");
}

static void print_readers(tr_pcsc *p)
{
    char *names;
    tr_err e;
    if (tr_pcsc_readers(p, &names, &e) < 0) {
        printf("readers: %s\n", e.msg);
        return;
    }
    printf("readers:\n");
    if (!*names)
        printf("  (none)\n");
    for (const char *n = names; *n; n += strlen(n) + 1) {
        tr_card *c;
        char atr_hex[100] = "no token";
        if (tr_card_connect(p, n, &c, &e) == 0) {
            uint8_t atr[64];
            size_t len = tr_card_atr(c, atr, sizeof atr);
            tr_hex_encode(atr, len, atr_hex, sizeof atr_hex, ' ');
            tr_card_disconnect(c, false);
        } else if (e.code != TR_E_REMOVED) {
            snprintf(atr_hex, sizeof atr_hex, "%.90s", e.msg);
        }
        printf("  %-32s %s\n", n, atr_hex);
    }
    free(names);
}

static void print_slot(tr_rig_session *rs, const tr_slot_cfg *s)
{
    const char *reader = s->type == TR_SLOT_VIRTUAL && rs->vrig ? tr_vrig_reader(rs->vrig, s->name) : s->reader;
    if (s->type == TR_SLOT_VIRTUAL)
        printf("  %-8s %-10s reader \"%s\"  token %s %s %s%s%s\n", s->name, tr_slot_type_name(s->type), reader,
               s->vt.serial, s->vt.role, s->vt.alg, s->vt.faults[0] ? "  faults: " : "", s->vt.faults);
    else if (s->type == TR_SLOT_USB_HUB)
        printf("  %-8s %-10s hub %s port %d%s%s\n", s->name, tr_slot_type_name(s->type), s->hub, s->port,
               s->companion[0] ? " companion " : "", s->companion);
    else
        printf("  %-8s %-10s reader \"%s\"\n", s->name, tr_slot_type_name(s->type), reader);
    char id[512];
    tr_err ie;
    if (tr_slot_identify(rs, s, id, sizeof id, &ie) == 0)
        printf("           the token says: %s\n", id);
    else
        printf("           no answer: %s\n", ie.msg);
}

/* The readers of one pcscd and the rig's slots behind it (group -1: the
 * rig's only pcscd and every slot). 0, or 2 when pcscd cannot be reached. */
static int list_group(tr_rig_session *rs, int group, void *ud)
{
    (void)ud;
    tr_pcsc *p;
    tr_err e;
    if (tr_pcsc_open(&p, &e) < 0)
        return tr_cli_report_error(&e);
    if (group > 0)
        printf("pcscd %d (%s), ", group, tr_vrig_group_socket(rs->vrig, (size_t)group));
    print_readers(p);
    if (group <= 0)
        printf("rig %s (%s):\n", rs->cfg.name, rs->cfg.path);
    for (size_t i = 0; i < rs->cfg.nslots; i++) {
        const tr_slot_cfg *s = &rs->cfg.slots[i];
        if (group < 0 || tr_vrig_slot_group(rs->vrig, s->name) == group)
            print_slot(rs, s);
    }
    tr_pcsc_close(p);
    return 0;
}

int tr_cmd_list(int argc, char **argv)
{
    const char *rig_arg;
    int st = tr_cli_rig_only("tokenrig list", argc, argv, usage_list, &rig_arg);
    if (st >= 0)
        return st;
    tr_err e;
    tr_err_clear(&e);
    tr_rig_session rs;
    if (tr_rig_session_open(rig_arg, &rs, &e) < 0)
        return tr_cli_report_error(&e);
    /* a virtual rig of more than 16 slots: each pcscd's readers and slots,
     * from a process of its own (a process talks to one pcscd) */
    int rc = tr_rig_session_each_group(&rs, list_group, NULL, &e);
    tr_rig_session_close(&rs);
    return rc < 0 ? tr_cli_report_error(&e) : rc ? 2 : 0;
}

/* ---- tokenrig power --------------------------------------------------------------- */

static void usage_power(FILE *f)
{
    fprintf(f,
        "usage: tokenrig power on|off|cycle|status --rig FILE --slot NAME\n"
        "\n"
        "Switch one slot's power. virtual: the vtoken leaves / comes back;\n"
        "usb-hub: the hub port's VBUS (verified); command: the slot's power_on /\n"
        "power_off command lines; pcsc-only: only `cycle` (a cold reset);\n"
        "none: nothing (the slot has no switch).\n");
}

int tr_cmd_power(int argc, char **argv)
{
    static const struct option opts[] = {{"rig", required_argument, 0, 'r'}, {"slot", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *rig_arg = NULL, *slot_name = NULL;
    if (tr_cli_spelled_out("tokenrig power", argc, argv, "r:s:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rig_arg = optarg; break;
        case 's': slot_name = optarg; break;
        case 'h': usage_power(stdout); return 0;
        default: usage_power(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !slot_name) {
        usage_power(stderr);
        return 2;
    }
    const char *action = argv[optind];
    tr_err e;
    tr_err_clear(&e);
    tr_rig_session rs;
    if (tr_rig_session_open(rig_arg, &rs, &e) < 0)
        return tr_cli_report_error(&e);
    int rc = 0;
    const tr_slot_cfg *sc = tr_rig_find_slot(&rs.cfg, slot_name);
    tr_slot *s = NULL;
    if (!sc)
        rc = tr_fail(&e, TR_E_USAGE, "no slot '%s' in %s", slot_name, rs.cfg.path);
    else
        rc = tr_slot_open(&rs.cfg, sc, rs.vrig, &s, &e);
    if (rc == 0) {
        if (!strcmp(action, "on") || !strcmp(action, "off")) {
            rc = tr_slot_power(s, !strcmp(action, "on"), &e);
        } else if (!strcmp(action, "cycle")) {
            tr_cycle_report rep;
            rc = tr_slot_connect(s, &e);
            if (rc == 0)
                rc = tr_slot_power_cycle(s, &rep, &e);
            if (rc == 0)
                printf("slot %s: off %.1f ms, ATR after %.1f ms: %s\n", slot_name, rep.off_ms, rep.to_atr_ms, rep.atr_hex);
        } else if (!strcmp(action, "status")) {
            char st[256];
            if (sc->type == TR_SLOT_VIRTUAL)
                rc = tr_vrig_token_status(rs.vrig, slot_name, st, sizeof st, &e);
            else
                tr_slot_power_desc(s, st, sizeof st);
            if (rc == 0)
                printf("slot %s: %s\n", slot_name, st);
        } else {
            rc = tr_fail(&e, TR_E_USAGE, "power: unknown action '%s' (on, off, cycle, status)", action);
        }
    }
    tr_slot_close(s);
    tr_rig_session_close(&rs);
    return rc < 0 ? tr_cli_report_error(&e) : 0;
}
