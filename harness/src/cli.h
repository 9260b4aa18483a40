/* cli.h — the tokenrig commands (argument handling, what to run, exit status).
 *
 * Owns: each subcommand's options and --help, choosing the rig (the default
 * virtual rig without --rig; attaching to a virtual rig that is already up,
 * or bringing one up for the command and down after it), and mapping
 * outcomes to exit status 0 / 1 / 2.
 * Must not: hold test logic or write report files itself.
 */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "run.h"

int tr_cmd_list(int argc, char **argv);
int tr_cmd_run(int argc, char **argv);
int tr_cmd_script(int argc, char **argv);
int tr_cmd_power(int argc, char **argv);
int tr_cmd_cycle(int argc, char **argv);
int tr_cmd_report(int argc, char **argv); /* report.html of a run (cli_report.c) */
int tr_cmd_hubs(int argc, char **argv);
int tr_cmd_rig(int argc, char **argv);
int tr_cmd_recover(int argc, char **argv);
int tr_cmd_skf(int argc, char **argv);
int tr_cmd_p11(int argc, char **argv);
int tr_cmd_history(int argc, char **argv);
int tr_cmd_import(int argc, char **argv);
int tr_cmd_verdict(int argc, char **argv);

/* Before getopt_long: every "--name" in argv must be a long option of
 * longopts spelled out in full (getopt_long would take a unique prefix:
 * "--allow" for --allow-destructive). An abbreviation is said on stderr
 * ("tokenrig run: option '--allow' must be spelled out
 * (--allow-destructive)") and gives -1: the command exits 2. Unknown
 * options are left to getopt_long. shortopts: the same string getopt_long
 * gets, so that option arguments ("--out --allow") are skipped. */
int tr_cli_spelled_out(const char *cmd, int argc, char **argv, const char *shortopts,
                       const struct option *longopts);

/* The options of a command that takes only --rig FILE (and --help): -1
 * to go on with *rig_arg set, else the exit status (0 after --help). */
int tr_cli_rig_only(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **rig_arg);
/* The same with one more option, --EXTRA VALUE (at most once; *extra_val
 * NULL when not given). */
int tr_cli_rig_and(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **rig_arg,
                   const char *extra, const char **extra_val);

/* The command line as typed ("tokenrig run --rig 'my rig.ini' ..."): each
 * argument after "tokenrig", shell-quoted when it has to be. argv[0] is the
 * command's name. Allocated; NULL on no memory. */
char *tr_cli_command_line(int argc, char **argv);

/* The long options of the results database every command that writes or
 * reads it takes: --db URL|PATH, and (run, cycle) --no-db and --batch ID.
 * tr_cli_db_option: true when getopt's c was one of them (stored in *o). */
enum { TR_OPT_DB = 1000, TR_OPT_NO_DB, TR_OPT_BATCH, TR_OPT_CSV };
typedef struct {
    const char *db_arg;    /* --db */
    bool no_db;            /* --no-db */
    const char *batch_arg; /* --batch */
} tr_cli_db_opts;
bool tr_cli_db_option(int c, const char *arg, tr_cli_db_opts *o);
/* The database a command uses (tr_db_choose) or NULL for --no-db; a bad
 * --db or --batch is a usage error (-1 with e set). */
int tr_cli_db_where(const tr_cli_db_opts *o, const char *rig_db, const char **where, tr_err *e);

/* Print an error as "tokenrig: file:line:col: message" and return the exit
 * status it maps to. */
int tr_cli_report_error(const tr_err *e);

#endif
