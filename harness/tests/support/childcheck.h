/* childcheck.h — what the tests of the library layers (check_skf,
 * check_p11) share: trace rows captured in memory, and the child process
 * of a test library (it writes its PID to a file the test names) checked
 * for being gone.
 * Must not: be linked into the harness proper (tests only).
 */
#ifndef TR_CHILDCHECK_H
#define TR_CHILDCHECK_H

#include <stddef.h>
#include <sys/types.h>

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

#endif
