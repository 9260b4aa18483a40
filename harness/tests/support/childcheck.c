/* childcheck.c — trace rows in memory and a test library's child process
 * (childcheck.h). */
#include "childcheck.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "script.h"

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

/* ---- the journal rule ---------------------------------------------------------------- */

typedef struct {
    const char *fn;
    unsigned njournal;
    bool called;
    tr_verdict v;
    char msg[TR_ERR_MSG_MAX];
} jrule;

static int jr_journal(void *ud, int ref, const char *if_lands, const char *if_not, tr_err *e)
{
    (void)ref, (void)if_lands, (void)if_not, (void)e;
    ((jrule *)ud)->njournal++;
    return 0;
}

static void jr_trace(void *ud, const tr_trace_row *row)
{
    jrule *j = ud;
    size_t n = strlen(j->fn);
    j->called |= !strncmp(row->command, j->fn, n) && row->command[n] == '(';
}

static void jr_progress(void *ud, const char *test, tr_verdict v, const char *cls, const char *msg)
{
    (void)test, (void)cls;
    jrule *j = ud;
    j->v = v;
    snprintf(j->msg, sizeof j->msg, "%s", msg ? msg : "");
}

/* One test of body on lib, in a run with a journal hook. */
static void jr_run(void *lib, const tr_libcall_iface *iface, const char *body, jrule *j)
{
    char src[512];
    snprintf(src, sizeof src, "test \"secret\" {\n%s}\n", body);
    tr_suite *suite = NULL;
    tr_err e;
    ck_assert_msg(tr_suite_parse(src, strlen(src), "journal.tsuite", &suite, &e) == 0, "%s: %s", src, e.msg);
    tr_cardio io = {.ctx = lib};
    tr_interp_hooks hooks = {.ud = j, .journal = jr_journal, .trace = jr_trace, .progress = jr_progress};
    tr_interp_env env = {.card = &io, .lib = lib, .lib_iface = iface, .hooks = &hooks};
    tr_suite_outcome out;
    ck_assert_msg(tr_interp_run(suite, &env, &out, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(out.counts[TR_PASS] + out.counts[TR_FAIL] + out.counts[TR_ERROR] + out.counts[TR_SKIP], 1);
    tr_suite_free(suite);
}

bool assert_secret_change_journaled(void *lib, const tr_libcall_iface *iface, const char *call, const char *fn)
{
    char body[400];
    jrule bare = {.fn = fn};
    snprintf(body, sizeof body, "  %s\n", call);
    jr_run(lib, iface, body, &bare);
    ck_assert_msg(bare.v == TR_ERROR, "%s without a journal line: verdict %d, not error", fn, (int)bare.v);
    ck_assert_msg(strstr(bare.msg, fn) && strstr(bare.msg, "changes a secret of the token") &&
                      strstr(bare.msg, "a `journal` statement must come first"),
                  "%s without a journal line: %s", fn, bare.msg);
    ck_assert_msg(!bare.called, "%s was called without its journal line", fn);
    ck_assert_uint_eq(bare.njournal, 0);
    jrule journaled = {.fn = fn};
    snprintf(body, sizeof body, "  journal user \"22222222\" else \"11111111\"\n  %s\n", call);
    jr_run(lib, iface, body, &journaled);
    ck_assert_uint_eq(journaled.njournal, 1);
    ck_assert_msg(!strstr(journaled.msg, "must come first"), "%s refused after its journal line: %s", fn,
                  journaled.msg);
    return journaled.called;
}
