/* childcheck.h — what the tests of the library layers (check_skf,
 * check_p11) share: trace rows captured in memory, the child process of a
 * test library (it writes its PID to a file the test names) checked for
 * being gone, and the journal rule of their secret-changing calls.
 * Must not: be linked into the harness proper (tests only).
 */
#ifndef TR_CHILDCHECK_H
#define TR_CHILDCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "libcall.h"

#define ROWS_MAX 48
typedef struct {
    size_t n;
    char fn[ROWS_MAX][48], args[ROWS_MAX][256], rv[ROWS_MAX][64], outputs[ROWS_MAX][1024];
} rows;

/* One trace row kept (past ROWS_MAX: dropped). */
void rows_add(rows *r, const char *fn, const char *args, const char *rv, const char *outputs);

/* Set env (the test library's PID-file variable) to a fresh file of this
 * process; child_pid() reads and removes it (a failed check when absent). */
void pidfile_env(const char *env);
pid_t child_pid(void);

/* A failed check unless pid is gone (a zombie counts as there). */
void assert_gone(pid_t pid);

/* The journal rule of a library call that changes a secret (interp.c): in
 * a run that keeps a journal, the statement `call` (e.g. `skf
 * SKF_ChangePIN(...)`, calling fn) without a `journal` line right before it
 * is a suite error naming fn and the rule, the library never sees it (no
 * trace row of fn) and nothing is journaled; after `journal user ...` it
 * is not refused by the rule (one record). Returns whether fn was then
 * called (a trace row of it). lib is an open session of iface. */
bool assert_secret_change_journaled(void *lib, const tr_libcall_iface *iface, const char *call, const char *fn);

#endif
