/* check_journal.c — the journal of destructive steps: records durable and
 * read back by the next process, the candidates a crash leaves, torn and
 * malformed lines, compaction, the file mode. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/tr-journal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/journal", dir);
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static tr_journal *open_ok(void)
{
    tr_journal *j;
    tr_err e;
    ck_assert_msg(tr_journal_open(path, &j, &e) == 0, "%s", e.msg);
    return j;
}

START_TEST(records_survive_the_process)
{
    tr_err e;
    tr_journal *j = open_ok();
    ck_assert_int_eq(tr_journal_begin(j, "A1", "TRV0000000000001", "run-1", "12345678", "88888888", &e), 0);
    ck_assert_int_eq(
        tr_journal_pin(j, "A1", "TRV0000000000001", TR_PIN_USER, "24681357", "12345678", TR_JOURNAL_BY_RUN, &e), 0);
    ck_assert_int_eq(tr_journal_begin(j, "A2", "", "run-1", "12345678", "88888888", &e), 0);
    ck_assert_int_eq(tr_journal_end(j, "A2", "", &e), 0);
    /* an earlier sequence is never overwritten */
    ck_assert_int_eq(tr_journal_begin(j, "A1", "TRV0000000000001", "run-2", "1", "2", &e), -1);
    ck_assert(strstr(e.msg, "unrecovered") != NULL);
    tr_journal_close(j); /* as if the process died here: nothing more is written */

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    j = open_ok();
    size_t n;
    tr_journal_entry *x = tr_journal_open_entries(j, &n, &e);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(x[0].slot, "A1");
    ck_assert_str_eq(x[0].serial, "TRV0000000000001");
    ck_assert_str_eq(x[0].run_id, "run-1");
    ck_assert_str_eq(x[0].cand[TR_PIN_USER][0], "24681357");
    ck_assert_str_eq(x[0].cand[TR_PIN_USER][1], "12345678");
    ck_assert_str_eq(x[0].cand[TR_PIN_SO][0], "88888888"); /* untouched: the factory value */
    ck_assert_str_eq(x[0].factory[TR_PIN_USER], "12345678");
    free(x);
    ck_assert(!tr_journal_is_open(j, "A2", NULL));
    tr_journal_entry one;
    ck_assert(tr_journal_is_open(j, "A1", &one));

    /* compaction keeps the open sequence, with its candidates */
    ck_assert_int_eq(tr_journal_compact(j, &e), 0);
    ck_assert_int_eq(tr_journal_end(j, "A1", "TRV0000000000001", &e), 0);
    tr_journal_close(j);
    j = open_ok();
    x = tr_journal_open_entries(j, &n, &e);
    ck_assert_uint_eq(n, 0);
    free(x);
    ck_assert_int_eq(tr_journal_compact(j, &e), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0); /* nothing left to restore */
    tr_journal_close(j);
}
END_TEST

START_TEST(torn_and_malformed_lines)
{
    tr_err e;
    tr_journal *j = open_ok();
    ck_assert_int_eq(tr_journal_begin(j, "A1", "S1", "r", "12345678", "88888888", &e), 0);
    tr_journal_close(j);
    /* a write the crash cut short: ignored */
    FILE *f = fopen(path, "a");
    fputs("pin A1 S1 user 3132", f);
    fclose(f);
    j = open_ok();
    ck_assert(tr_journal_is_open(j, "A1", NULL));
    /* the torn tail is cut: the next record is a line of its own */
    ck_assert_int_eq(tr_journal_pin(j, "A1", "S1", TR_PIN_USER, "24681357", "12345678", TR_JOURNAL_BY_RUN, &e), 0);
    tr_journal_close(j);
    j = open_ok();
    tr_journal_entry x;
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_str_eq(x.cand[TR_PIN_USER][0], "24681357");
    tr_journal_close(j);
    /* a complete line that is not a record: an error naming file and line */
    f = fopen(path, "a");
    fputs("nonsense here\n", f);
    fclose(f);
    ck_assert_int_eq(tr_journal_open(path, &j, &e), -1);
    ck_assert_str_eq(e.file, path);
    ck_assert_int_eq(e.line, 3);
    ck_assert(strstr(e.msg, "malformed journal record") != NULL);
}
END_TEST

START_TEST(bad_words_and_pins)
{
    tr_err e;
    tr_journal *j = open_ok();
    ck_assert_int_eq(tr_journal_begin(j, "A 1", "S1", "r", "1", "2", &e), -1);
    /* no open sequence */
    ck_assert_int_eq(tr_journal_pin(j, "A9", "S", TR_PIN_USER, "1", "2", TR_JOURNAL_BY_RUN, &e), -1);
    ck_assert_int_eq(tr_journal_begin(j, "A1", "S1", "r", "1", "2", &e), 0);
    char longpin[40];
    memset(longpin, '7', sizeof longpin - 1);
    longpin[sizeof longpin - 1] = '\0';
    ck_assert_int_eq(tr_journal_pin(j, "A1", "S1", TR_PIN_USER, longpin, "2", TR_JOURNAL_BY_RUN, &e), -1);
    /* spaces and newlines inside a PIN cannot break a record (hex) */
    ck_assert_int_eq(tr_journal_pin(j, "A1", "S1", TR_PIN_SO, "a b\nc", "x", TR_JOURNAL_BY_RUN, &e), 0);
    tr_journal_close(j);
    j = open_ok();
    tr_journal_entry x;
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_str_eq(x.cand[TR_PIN_SO][0], "a b\nc");
    tr_journal_close(j);
}
END_TEST

/* Recovery's marks: a candidate presented (its answer unknown) goes after
 * one never presented, the latest presentation first; a refused one is
 * never offered again; a new record forgets the marks; all of it survives
 * the process and a compaction. */
START_TEST(recovery_marks)
{
    tr_err e;
    tr_journal *j = open_ok();
    ck_assert_int_eq(tr_journal_begin(j, "A1", "S1", "r", "12345678", "88888888", &e), 0);
    ck_assert_int_eq(tr_journal_pin(j, "A1", "S1", TR_PIN_USER, "24681357", "12345678", TR_JOURNAL_BY_RUN, &e), 0);
    tr_journal_entry x;
    const char *pin[2];
    bool tried[2];
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 2);
    ck_assert_str_eq(pin[0], "24681357"); /* as recorded: if it landed, then if not */
    ck_assert(!tried[0] && !tried[1]);
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_SO, pin, tried), 1); /* one value, once */
    ck_assert_str_eq(pin[0], "88888888");

    /* only a journaled candidate is presented */
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_TRY, "00000000", &e), -1);
    ck_assert(strstr(e.msg, "not a journaled candidate") != NULL);
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_TRY, "24681357", &e), 0);
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 2);
    ck_assert_str_eq(pin[0], "12345678"); /* never presented first */
    ck_assert(!tried[0] && tried[1]);
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_TRY, "12345678", &e), 0);
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 2);
    ck_assert_str_eq(pin[0], "12345678"); /* both presented: the latest first */
    ck_assert(tried[0] && tried[1]);
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_REFUSED, "24681357", &e), 0);
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_TRY, "24681357", &e), -1);
    ck_assert(strstr(e.msg, "refused that candidate before") != NULL);

    /* what the next process and a compaction see */
    tr_journal_close(j);
    j = open_ok();
    ck_assert_int_eq(tr_journal_compact(j, &e), 0);
    tr_journal_close(j);
    j = open_ok();
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 1);
    ck_assert_str_eq(pin[0], "12345678");
    ck_assert(tried[0]);
    ck_assert(x.refused[TR_PIN_USER][0] && !x.refused[TR_PIN_USER][1]);

    /* recovery records no PIN the journal does not hold but the factory one */
    ck_assert_int_eq(
        tr_journal_pin(j, "A1", "S1", TR_PIN_USER, "99999999", "12345678", TR_JOURNAL_BY_RECOVERY, &e), -1);
    ck_assert(strstr(e.msg, "neither journaled nor the factory one") != NULL);
    ck_assert_int_eq(tr_journal_pin(j, "A1", "S1", TR_PIN_USER, "12345678", "24681357", TR_JOURNAL_BY_RECOVERY, &e),
                     0);
    ck_assert(tr_journal_is_open(j, "A1", &x)); /* new candidates: the marks are gone */
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 2);
    ck_assert(!tried[0] && !tried[1]);
    /* everything refused: nothing left to present */
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_REFUSED, "12345678", &e), 0);
    ck_assert_int_eq(tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_REFUSED, "24681357", &e), 0);
    ck_assert(tr_journal_is_open(j, "A1", &x));
    ck_assert_uint_eq(tr_journal_candidates(&x, TR_PIN_USER, pin, tried), 0);
    tr_journal_close(j);
    /* a mark on a value that is not a candidate is not a record of ours */
    FILE *f = fopen(path, "a");
    fputs("try A1 S1 user 3030\n", f);
    fclose(f);
    ck_assert_int_eq(tr_journal_open(path, &j, &e), -1);
    ck_assert(strstr(e.msg, "malformed journal record") != NULL);
}
END_TEST

/* The crash hooks count their own records: the run's `pin` records for
 * TOKENRIG_CRASH_AT, recovery's for TOKENRIG_CRASH_IN_RECOVERY. */
static int died_at(const char *var, const char *value, int records_by_run, int records_by_recovery)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv(var, value, 1);
        tr_err e;
        tr_journal *j;
        if (tr_journal_open(path, &j, &e) < 0 || tr_journal_begin(j, "A1", "S1", "r", "1", "2", &e) < 0)
            _exit(3);
        for (int i = 0; i < records_by_run; i++)
            if (tr_journal_pin(j, "A1", "S1", TR_PIN_USER, "3", "1", TR_JOURNAL_BY_RUN, &e) < 0)
                _exit(3);
        for (int i = 0; i < records_by_recovery; i++) {
            if (tr_journal_mark(j, "A1", "S1", TR_PIN_USER, TR_JOURNAL_TRY, "3", &e) < 0)
                _exit(3);
            tr_journal_crash_point(j, "A1"); /* its command answered */
        }
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    unlink(path);
    return WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
}

START_TEST(crash_hooks)
{
    ck_assert_int_eq(died_at("TOKENRIG_CRASH_IN_RECOVERY", "3", 5, 2), 0); /* the run's records do not count */
    ck_assert_int_eq(died_at("TOKENRIG_CRASH_IN_RECOVERY", "2", 5, 2), SIGKILL);
    ck_assert_int_eq(died_at("TOKENRIG_CRASH_IN_RECOVERY", "2:after", 5, 2), SIGKILL);
    ck_assert_int_eq(died_at("TOKENRIG_CRASH_AT", "5", 5, 2), SIGKILL);
    ck_assert_int_eq(died_at("TOKENRIG_CRASH_AT", "6", 5, 2), 0); /* recovery's do not count */
}
END_TEST

START_TEST(default_path)
{
    char out[256];
    setenv("TOKENRIG_STATE_DIR", "/var/tmp/st", 1);
    tr_journal_default_path("bench-1", out, sizeof out);
    ck_assert_str_eq(out, "/var/tmp/st/journal-bench-1");
    unsetenv("TOKENRIG_STATE_DIR");
    setenv("XDG_STATE_HOME", "/home/q/.state", 1);
    tr_journal_default_path("bench-1", out, sizeof out);
    ck_assert_str_eq(out, "/home/q/.state/tokenrig/journal-bench-1");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/q", 1);
    tr_journal_default_path("bench-1", out, sizeof out);
    ck_assert_str_eq(out, "/home/q/.local/state/tokenrig/journal-bench-1");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase_create("journal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, records_survive_the_process);
    tcase_add_test(tc, torn_and_malformed_lines);
    tcase_add_test(tc, bad_words_and_pins);
    tcase_add_test(tc, recovery_marks);
    tcase_add_test(tc, crash_hooks);
    tcase_add_test(tc, default_path);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
