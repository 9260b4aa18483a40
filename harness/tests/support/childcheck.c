/* childcheck.c — trace rows in memory and a test library's child process
 * (childcheck.h). */
#include "childcheck.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void rows_add(rows *r, const char *fn, const char *args, const char *rv, const char *outputs)
{
    if (r->n == ROWS_MAX)
        return;
    snprintf(r->fn[r->n], sizeof r->fn[0], "%s", fn);
    snprintf(r->args[r->n], sizeof r->args[0], "%s", args);
    snprintf(r->rv[r->n], sizeof r->rv[0], "%s", rv);
    snprintf(r->outputs[r->n], sizeof r->outputs[0], "%s", outputs);
    r->n++;
}

static char pidfile[64];

void pidfile_env(const char *env)
{
    snprintf(pidfile, sizeof pidfile, "/tmp/childcheck.%ld.pid", (long)getpid());
    unlink(pidfile);
    setenv(env, pidfile, 1);
}

pid_t child_pid(void)
{
    FILE *f = fopen(pidfile, "r");
    long pid = 0;
    ck_assert_msg(f != NULL, "the test library wrote no %s", pidfile);
    ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    unlink(pidfile);
    return (pid_t)pid;
}

void assert_gone(pid_t pid)
{
    errno = 0;
    ck_assert_msg(kill(pid, 0) == -1 && errno == ESRCH, "child %ld still there (a zombie counts)", (long)pid);
}
