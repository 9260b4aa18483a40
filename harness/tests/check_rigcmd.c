/* check_rigcmd.c — a command slot's power command (rigcmd.c): the slot's
 * variables in its environment, exit 0 is success, a non-zero exit or a
 * signal is a rig error quoting the command and the first lines of its
 * stderr, a command past its time limit is killed with its whole process
 * group (a child it left in the background goes too), and a child that
 * keeps stderr open does not hold the caller once the command has ended. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rigcmd.h"
#include "util.h"

static const tr_rigcmd_var vars[] = {{"TOKENRIG_SLOT", "A1"}, {"TOKENRIG_READER", "a reader; with spaces"}};
#define NVARS (sizeof vars / sizeof vars[0])

START_TEST(exit_zero_with_the_variables)
{
    tr_err e;
    tr_err_clear(&e);
    setenv("TOKENRIG_SLOT", "from the parent", 1);
    int rc = tr_rigcmd_run("power_on", "test \"$TOKENRIG_SLOT\" = A1 && test \"$TOKENRIG_READER\" = "
                           "'a reader; with spaces' && test -n \"$PATH\"", vars, NVARS, 5000, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    unsetenv("TOKENRIG_SLOT");
}
END_TEST

START_TEST(non_zero_exit_quotes_stderr)
{
    tr_err e;
    tr_err_clear(&e);
    const char *cmd = "echo on stdout; printf 'one\\n\\ntwo\\nthree\\nfour\\n' >&2; exit 3";
    ck_assert_int_eq(tr_rigcmd_run("power_off", cmd, vars, NVARS, 5000, &e), -1);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_msg(strstr(e.msg, "power_off command failed (exit status 3)"), "%s", e.msg);
    ck_assert_msg(strstr(e.msg, cmd), "the command is not named: %s", e.msg);
    ck_assert_msg(strstr(e.msg, "stderr: one | two | three"), "%s", e.msg);
    const char *tail = strstr(e.msg, "stderr: ");
    ck_assert_msg(tail && !strstr(tail, "four") && !strstr(tail, "on stdout"), "%s", e.msg);
    ck_assert_int_eq(tr_rigcmd_run("power_on", "kill -9 $$", vars, NVARS, 5000, &e), -1);
    ck_assert_msg(strstr(e.msg, "power_on command failed (signal Killed)"), "%s", e.msg);
    ck_assert_int_eq(tr_rigcmd_run("power_on", "exit 1", vars, NVARS, 5000, &e), -1);
    ck_assert_msg(strstr(e.msg, "exit 1 (no stderr)"), "%s", e.msg);
}
END_TEST

static bool pid_gone(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'Z'; /* a zombie: dead, waiting for its reaper */
}

static pid_t read_pid(const char *file)
{
    FILE *f = fopen(file, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    unlink(file);
    return (pid_t)pid;
}

START_TEST(hung_command_is_killed_with_its_group)
{
    char file[64], cmd[256];
    snprintf(file, sizeof file, "/tmp/check_rigcmd.%d.pid", (int)getpid());
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; echo hanging >&2; sleep 30", file);
    tr_err e;
    tr_err_clear(&e);
    uint64_t t0 = tr_now_ns();
    ck_assert_int_eq(tr_rigcmd_run("power_off", cmd, vars, NVARS, 300, &e), -1);
    double ms = (double)(tr_now_ns() - t0) / 1e6;
    ck_assert_msg(ms >= 290 && ms < 3000, "returned after %.0f ms", ms);
    ck_assert_int_eq(e.code, TR_E_RIG);
    ck_assert_msg(strstr(e.msg, "power_off command did not end within 300 ms (power_timeout_ms): killed it"),
                  "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "stderr: hanging") && strstr(e.msg, "sleep 30 &"), "%s", e.msg);
    pid_t bg = read_pid(file);
    ck_assert_int_gt(bg, 0);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = pid_gone(bg);
        if (!gone)
            tr_sleep_ms(10);
    }
    ck_assert_msg(gone, "the background child %d outlived the kill", (int)bg);
}
END_TEST

START_TEST(a_background_child_does_not_hold_the_caller)
{
    char file[64], cmd[256];
    snprintf(file, sizeof file, "/tmp/check_rigcmd.%d.bg", (int)getpid());
    snprintf(cmd, sizeof cmd, "sleep 20 >&2 & echo $! > %s; exit 0", file);
    tr_err e;
    tr_err_clear(&e);
    uint64_t t0 = tr_now_ns();
    ck_assert_msg(tr_rigcmd_run("power_on", cmd, vars, NVARS, 10000, &e) == 0, "%s", e.msg);
    double ms = (double)(tr_now_ns() - t0) / 1e6;
    pid_t bg = read_pid(file);
    if (bg > 0)
        kill(bg, SIGKILL); /* ours: the test started it */
    ck_assert_msg(ms < 2000, "held for %.0f ms", ms);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rigcmd");
    TCase *tc = tcase_create("power commands");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, exit_zero_with_the_variables);
    tcase_add_test(tc, non_zero_exit_quotes_stderr);
    tcase_add_test(tc, hung_command_is_killed_with_its_group);
    tcase_add_test(tc, a_background_child_does_not_hold_the_caller);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
