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

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "run.h"

int tr_cmd_list(int argc, char **argv);
int tr_cmd_run(int argc, char **argv);
int tr_cmd_script(int argc, char **argv);
int tr_cmd_power(int argc, char **argv);
int tr_cmd_cycle(int argc, char **argv);
int tr_cmd_hubs(int argc, char **argv);
int tr_cmd_rig(int argc, char **argv);
int tr_cmd_recover(int argc, char **argv);

/* Print an error as "tokenrig: file:line:col: message" and return the exit
 * status it maps to. */
int tr_cli_report_error(const tr_err *e);

#endif
