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
#include "vrig.h"

int tr_cmd_list(int argc, char **argv);
int tr_cmd_run(int argc, char **argv);
int tr_cmd_script(int argc, char **argv);
int tr_cmd_power(int argc, char **argv);
int tr_cmd_cycle(int argc, char **argv);
int tr_cmd_hubs(int argc, char **argv);
int tr_cmd_rig(int argc, char **argv);

/* The rig a command works on. */
typedef struct {
    tr_rig_cfg cfg;
    tr_vrig *vrig;      /* virtual rigs only */
    bool owns_vrig;     /* brought up by this command: take it down at the end */
} tr_rig_session;

/* Load --rig (or the default virtual rig) and, for a virtual rig, attach to
 * its running instance or bring one up. */
int tr_rig_session_open(const char *rig_arg, tr_rig_session *rs, tr_err *e);
void tr_rig_session_close(tr_rig_session *rs);

/* A slot's profile: override (--profile), else the slot's, else the rig's,
 * else REF-1 for a virtual slot's algorithm ("ref1-<alg>"). */
int tr_slot_profile_load(const tr_rig_cfg *rig, const tr_slot_cfg *slot, const char *override, tr_profile *out,
                         tr_err *e);

/* Run suites/lib/identify.tsuite on one slot's token with the slot's
 * profile; out gets its log line ("serial ... role ... algorithm ..."). */
int tr_slot_identify(tr_rig_session *rs, const tr_slot_cfg *slot, char *out, size_t cap, tr_err *e);

/* Print an error as "tokenrig: file:line:col: message" and return the exit
 * status it maps to. */
int tr_cli_report_error(const tr_err *e);

#endif
