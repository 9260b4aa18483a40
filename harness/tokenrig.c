/* tokenrig — the command line.
 *
 * Owns: argument parsing, --help texts, which rig is used (the default
 * virtual rig when there is no --rig), and turning outcomes into exit
 * status: 0 all passed, 1 a token failed, 2 usage/config/rig error.
 * Must not: contain test logic (suites do), talk APDUs itself (the
 * interpreter does), or write report files (reports.c does).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "provenance.h"

static void usage_main(FILE *f)
{
    fprintf(f,
        "usage: tokenrig COMMAND [OPTIONS]\n"
        "\n"
        "Certify PKI USB-KEY tokens: scripted APDU suites over PC/SC, power cycles\n"
        "through USB hubs, CSV and JUnit reports.\n"
        "\n"
        "commands:\n"
        "  list    [--rig FILE]                      readers, slots, tokens (ATR)\n"
        "  run     [--rig FILE] [SUITE...] [...]     certify every slot's token\n"
        "  report  [--run ID | --dir DIR] [-o FILE]  one self-contained HTML page about a run\n"
        "  script  FILE [--reader NAME]              run a scriptor-style script\n"
        "  power   on|off|cycle|status --rig FILE --slot NAME\n"
        "  cycle   --rig FILE --slot NAME --count N [--stop-on-fail]\n"
        "  hubs                                      USB hubs, ports, power switching\n"
        "  rig     up|down|status|env [--rig FILE]   the virtual rig (private pcscd + vtokens)\n"
        "  recover [--rig FILE] [--forget SLOTS]     give tokens a crashed run left mid-way\n"
        "                                            their factory PINs back (the journal)\n"
        "  skf     list --library L.so               what a vendor's SKF library sees (read-only)\n"
        "  p11     list --module M                   what a PKCS#11 module sees (read-only)\n"
        "  history SERIAL [--db D] [--csv]           every run of a token in the results database\n"
        "  import  DIR... [--db D]                   report directories into the database\n"
        "  verdict --batch ID [--db D]               a batch's verdict over every rig and host\n"
        "\n"
        "`tokenrig COMMAND --help` tells more; `tokenrig --version` the version. Exit status: 0 all passed, 1 a token\n"
        "failed, 2 usage, configuration or rig error, or a token INCOMPLETE (tests\n"
        "it was asked for not run: e.g. destructive ones without --allow-destructive).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage_main(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("tokenrig %s\n", tr_version());
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"report", tr_cmd_report},
        {"list", tr_cmd_list},   {"run", tr_cmd_run},     {"script", tr_cmd_script},
        {"power", tr_cmd_power}, {"cycle", tr_cmd_cycle}, {"hubs", tr_cmd_hubs},
        {"rig", tr_cmd_rig},     {"recover", tr_cmd_recover}, {"skf", tr_cmd_skf},
        {"p11", tr_cmd_p11},     {"history", tr_cmd_history}, {"import", tr_cmd_import},
        {"verdict", tr_cmd_verdict},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tokenrig: unknown command '%s'\n\n", cmd);
    usage_main(stderr);
    return 2;
}
