/* rigcmd.h — a command line from the rig file (a command slot's power_on /
 * power_off), run to its end within a time limit.
 *
 * Owns: running the line with /bin/sh -c in a process group of its own,
 * the variables the caller gives in its environment (over tokenrig's own),
 * its stderr (the first lines are kept for the error message), the time
 * limit (past it the whole process group is killed, so a switch tool's own
 * children go too) and its exit status as an error.
 * Must not: know slots or rigs (the caller names the variables), or use
 * anything but async-signal-safe calls between fork and exec (tokenrig
 * runs one thread per slot).
 */
#ifndef TR_RIGCMD_H
#define TR_RIGCMD_H

#include <stddef.h>

#include "error.h"

typedef struct {
    const char *name;
    const char *value;
} tr_rigcmd_var;

/* Run cmdline; what names it in errors ("power_off"). 0 when it exited 0;
 * -1 with TR_E_RIG when it could not start, exited non-zero or died of a
 * signal (the message quotes the command and the first lines of its
 * stderr), or did not end within timeout_ms (its process group killed). */
int tr_rigcmd_run(const char *what, const char *cmdline, const tr_rigcmd_var *vars, size_t nvars,
                  unsigned timeout_ms, tr_err *e);

#endif
