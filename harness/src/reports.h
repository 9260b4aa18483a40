/* reports.h — everything a run writes under reports/<run-id>/.
 *
 * Owns: results.csv, trace.csv, samples.csv, cycles.csv, provenance.csv
 * (libcsv quoting, one write(2) per row so a killed run keeps every
 * finished row), junit.xml (one testsuite per slot, one testcase per test;
 * valid against junit-10.xsd whatever bytes a token or a suite produced),
 * summary.csv and cycles-summary.csv.
 * No ignored write: every function that writes a file returns -1 with
 * "<path>: <reason>" ("reports/x/results.csv: No space left on device")
 * when the file could not be written completely, a row that failed is cut
 * off again (the file keeps whole rows only), and the first failure of the
 * run is kept for tr_reports_write_failed / tr_reports_sync.
 * Thread-safe: slot threads call it concurrently.
 * Must not: mask PINs (the interpreter hands over already-masked text),
 * decide verdicts, or talk to tokens.
 */
#ifndef TR_REPORTS_H
#define TR_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* A test's verdict; TR_INCOMPLETE is a token's only (tr_token_summary):
 * nothing failed, but tests the run was asked for were not run. */
typedef enum { TR_PASS = 0, TR_FAIL, TR_ERROR, TR_SKIP, TR_INCOMPLETE } tr_verdict;
const char *tr_verdict_name(tr_verdict v); /* "pass" "fail" "error" "skip" "incomplete" */

/* Who a row is about. Strings may be NULL (written empty). */
typedef struct {
    const char *run_id;
    const char *rig;
    const char *slot;
    const char *reader;
    const char *serial;
    const char *role;
    const char *profile;
} tr_slot_id;

/* One test's outcome, or one metric of a test (metric != NULL). */
typedef struct {
    const tr_slot_id *who;
    const char *suite;
    const char *test;
    tr_verdict verdict;
    const char *classification; /* defect code on fail ("pin.no-lockout"); on
                                   a skip, "not-run.*" when the run did not do
                                   a test it was asked for (not the token's
                                   doing: see tr_token_summary), else NULL */
    double duration_s;
    const char *metric;         /* NULL for the verdict row */
    double value;
    const char *unit;
    const char *message;
    const char *file;           /* suite file and line of the test/failure */
    int line;
    /* A metric's limit: limit_kind "max" (the value must not exceed limit)
     * or "min" (it must reach it), NULL when no limit applies. Written
     * beside the value (results.csv's limit, limit_kind; JUnit). */
    double limit;
    const char *limit_kind;
} tr_result_row;

typedef struct {
    const tr_slot_id *who;
    const char *suite, *test, *file;
    int line;
    const char *command;  /* hex, PIN bytes already replaced by <pin> */
    const char *response; /* hex of response data (without SW) */
    const char *sw;       /* 4 hex digits */
    uint64_t latency_us;
} tr_trace_row;

typedef struct {
    const tr_slot_id *who;
    const char *suite, *test, *metric;
    unsigned index;
    double value;
    const char *unit;
} tr_sample_row;

typedef struct {
    const tr_slot_id *who;
    unsigned cycle;
    double off_ms, to_device_ms, to_reader_ms, to_atr_ms, to_first_apdu_ms; /* -1 = not reached */
    const char *atr;
    const char *stage;          /* last stage reached */
    const char *power_level;    /* usb-hub: how far power-off was verified */
    const char *verdict;        /* "pass" or the classification */
    const char *message;
    const char *suite, *test;   /* where the cycle was made (NULL: written empty) */
    double first_apdu_limit_ms; /* FIRST_APDU_MAX_MS the cycle was judged by; <= 0 none */
} tr_cycle_row;

typedef struct tr_reports tr_reports;

/* A write that must not be ignored (the run's exit status depends on it). */
#define TR_MUST_CHECK __attribute__((warn_unused_result))

/* Create dir (and parents) and open the CSV files with their header rows. */
tr_reports *tr_reports_open(const char *dir, tr_err *e);
/* One row each. A row that could not be written (disk full, EIO) returns
 * -1 and is not in the file, but a result is still kept for junit.xml and
 * the summary; later rows are tried again (whole rows only). */
TR_MUST_CHECK int tr_reports_result(tr_reports *r, const tr_result_row *row, tr_err *e);
TR_MUST_CHECK int tr_reports_trace(tr_reports *r, const tr_trace_row *row, tr_err *e);
TR_MUST_CHECK int tr_reports_sample(tr_reports *r, const tr_sample_row *row, tr_err *e);
TR_MUST_CHECK int tr_reports_cycle(tr_reports *r, const tr_cycle_row *row, tr_err *e);
/* JUnit <property> of a slot's testsuite (reader, ATR, serial, role, hub
 * port). Kept in memory only: fails on no memory (then junit.xml will lack
 * it, which counts as a write failure of junit.xml). */
TR_MUST_CHECK int tr_reports_slot_property(tr_reports *r, const tr_slot_id *who,
                                           const char *name, const char *value, tr_err *e);
/* (Re)write junit.xml from all results so far, atomically (tmp + rename).
 * Safe to call more than once (end of run, SIGINT/SIGTERM). On failure the
 * previous junit.xml, if any, stays. */
TR_MUST_CHECK int tr_reports_write_junit(tr_reports *r, tr_err *e);
const char *tr_reports_dir(const tr_reports *r);
/* Frees everything. Closing cannot lose a row that tr_reports_sync saw on
 * disk: call that first to know whether the files are complete. */
void tr_reports_close(tr_reports *r);

/* ---- additions (after the first contract; nothing above changed) ---- */

/* Rows: how the CSV files are written (details in reports.c).
 * - time columns: ISO 8601 UTC with milliseconds, taken when the row is
 *   written;
 * - text cells: invalid UTF-8 and control characters other than TAB, LF,
 *   CR are shown as \xNN; a cell starting with = + - @ TAB or CR gets a
 *   leading ' (spreadsheet formula injection); quoted only when needed;
 * - numeric cells: C locale; empty for "none" (a verdict row's value, a
 *   cycle stage not reached (< 0), a line of 0, NaN/inf).
 * Testcases: metric rows (metric != NULL) of a test should come before its
 * verdict row (metric == NULL); a test with metrics but no verdict row yet
 * shows in junit.xml as an <error type="interrupted">. */

/* Tests and golden files: every time written from now on (CSV rows, JUnit
 * timestamps) is `iso` instead of the wall clock; NULL goes back to the
 * wall clock. tr_reports_open also takes it from the environment variable
 * TR_REPORTS_FIXED_TIME when that is set and non-empty. */
void tr_reports_fix_time(tr_reports *r, const char *iso);

/* From now on tr_reports_result/trace/sample/cycle write nothing and return
 * 0 (JUnit and the summary can still be written from what was kept). For a
 * run that ends with a worker abandoned inside a blocked SCardTransmit: that
 * worker wakes up when the rig goes down and must not add rows about a token
 * already declared lost (io.mute), nor race the end of the process. */
void tr_reports_freeze(tr_reports *r);

/* Batch verdicts: one per token (a slot and the serial seen in it), from
 * the results kept so far. */
typedef struct {
    char *run_id, *rig, *slot, *serial, *role; /* never NULL ("" if unknown) */
    /* TR_FAIL if any test failed, else TR_ERROR if any errored (a test left
     * without a verdict counts as errored), else TR_INCOMPLETE if a test was
     * skipped as not-run.* (the run did not do a test it was asked for:
     * destructive tests without --allow-destructive, a value the suite needs
     * not given, the run interrupted), else TR_PASS if at least one passed,
     * else TR_SKIP (nothing ran: not a pass for the yield). */
    tr_verdict verdict;
    char *classifications; /* distinct codes of failed/errored tests, then
                              the not-run.* codes, in order of appearance,
                              ";"-separated; "" none */
    unsigned tests, passed, failed, errored, skipped;
    unsigned not_run;      /* of the skipped: not-run.* */
    char *not_run_why;     /* "not-run.destructive: 16 tests (destructive:
                              needs --allow-destructive)", "; "-separated
                              per code, with the first test's reason; "" none */
    double duration_s;     /* sum of the tests' durations */
} tr_token_summary;

/* An array of *n summaries sorted by slot (natural order: A2 before A10) (free it with
 * tr_reports_token_summary_free); NULL with e set on no memory. */
tr_token_summary *tr_reports_token_summary(tr_reports *r, size_t *n, tr_err *e);
void tr_reports_token_summary_free(tr_token_summary *s, size_t n);
/* "PASS" "FAIL" "ERROR" "SKIP" "INCOMPLETE": the token verdict as written
 * in summary.csv. */
const char *tr_token_verdict_name(tr_verdict v);

/* (Re)write summary.csv atomically — run_id, rig, slot, serial, role,
 * verdict, classifications, tests, passed, failed, errored, skipped,
 * duration_s, not_run. */
TR_MUST_CHECK int tr_reports_write_summary(tr_reports *r, tr_err *e);

/* Print the same as an aligned table followed by the batch yield line
 * ("batch yield: P/N tokens passed (xx.x%)") and, for INCOMPLETE tokens,
 * what was not run ("INCOMPLETE A1 A2: not-run.destructive: 16 tests
 * (destructive: needs --allow-destructive)", one line per distinct text)
 * to out. Independent of the
 * files: a full disk does not take the verdicts off the console. Strings
 * are sanitised (no terminal control sequences from a token). Fails on no
 * memory or when out cannot be written (not a report file: not kept). */
TR_MUST_CHECK int tr_reports_print_summary(tr_reports *r, FILE *out, tr_err *e);

/* The first write failure of the run (a row, junit.xml, summary.csv, a
 * sync): true with *e set to it — "<path>: <reason>", followed by
 * "(also failed: trace.csv, junit.xml)" when other files failed too —
 * false when every write so far succeeded. e may be NULL. */
TR_MUST_CHECK bool tr_reports_write_failed(tr_reports *r, tr_err *e);

/* ---- provenance and the cycle summary (issue 14) ---- */

/* One row of provenance.csv (slot, name, value, source): what the run was
 * measured against. who NULL: a run-wide row (slot empty). The rows are
 * also JUnit properties: a slot's testsuite gets the run-wide rows and its
 * own, as name = "value (source)". Values arrive already masked (PINs are
 * provenance.h's business). A later row of the same slot and name replaces
 * the earlier one in JUnit (the CSV keeps both, in order). */
TR_MUST_CHECK int tr_reports_provenance(tr_reports *r, const tr_slot_id *who, const char *name,
                                        const char *value, const char *source, tr_err *e);

/* The power-cycle stages of cycles.csv, in its column order. */
enum { TR_STAGE_OFF, TR_STAGE_DEVICE, TR_STAGE_READER, TR_STAGE_ATR, TR_STAGE_FIRST_APDU, TR_STAGE_COUNT };
extern const char *const TR_STAGE_COLUMN[TR_STAGE_COUNT]; /* "off_ms", "to_device_ms", ... */

/* A slot's cycles so far: how many, how many failed, and per stage the
 * times of the cycles that reached it. */
typedef struct {
    unsigned long cycles, failed;
    size_t count[TR_STAGE_COUNT];
    double p50[TR_STAGE_COUNT], p95[TR_STAGE_COUNT], max[TR_STAGE_COUNT];
    double first_apdu_limit_ms; /* <= 0: none */
} tr_cycle_stats;
/* Of the cycles written for slot (any serial); false when it has none. */
bool tr_reports_cycle_stats(tr_reports *r, const char *slot, tr_cycle_stats *out);

/* (Re)write cycles-summary.csv atomically: per slot and stage (run_id,
 * slot, serial, stage, cycles, failed, count, p50_ms, p95_ms, max_ms,
 * limit_ms), from the cycle rows so far; the header alone when none. */
TR_MUST_CHECK int tr_reports_write_cycle_summary(tr_reports *r, tr_err *e);

/* The reports of a child process that runs part of a run (run.c: a
 * virtual rig of more than 16 slots, one child per pcscd): every row, slot
 * property and provenance row goes to fd as a message (rowpipe.h) for the
 * parent, whose reports write the files (tr_rowpipe_take); this object
 * writes none (junit, summaries: 0, nothing done). A row that cannot be
 * sent (the parent is gone) is -1. fd stays the caller's. dir: for
 * tr_reports_dir. */
tr_reports *tr_reports_forward(int fd, const char *dir, tr_err *e);

/* fsync the CSV files (write-back errors such as EIO show here), then as
 * tr_reports_write_failed: 0 when every file written so far is complete,
 * -1 with *e set to the first failure of the run otherwise. */
TR_MUST_CHECK int tr_reports_sync(tr_reports *r, tr_err *e);

/* ---- the results database (db.h, dbrun.h) listens ---- */

/* Who else hears of every row: the run's database writer. result and cycle
 * get each row tr_reports_result / tr_reports_cycle took (after its CSV
 * row, whether or not that could be written: the database may live on
 * another disk; not once the reports are frozen); property gets each slot
 * property; provenance each provenance row (who NULL: run-wide). Called in the writing thread, outside the reports' locks, so a
 * listener may call tr_reports_token_summary_of. Set it before the slots
 * start (it is not locked); NULL clears it. */
typedef struct {
    void *ud;
    void (*result)(void *ud, const tr_result_row *row);
    void (*cycle)(void *ud, const tr_cycle_row *row);
    void (*property)(void *ud, const tr_slot_id *who, const char *name, const char *value);
    void (*provenance)(void *ud, const tr_slot_id *who, const char *name, const char *value, const char *source);
} tr_reports_sink;
void tr_reports_set_sink(tr_reports *r, const tr_reports_sink *sink);

/* The time a row written now carries (ISO 8601 UTC, ms; the fixed time of
 * tr_reports_fix_time when there is one). */
void tr_reports_now(tr_reports *r, char *out, size_t cap);

/* The summary of the one token who names (its slot, and serial unless
 * unknown), as tr_reports_token_summary gives it: 1 with *out filled (its
 * strings freed by tr_reports_token_summary_clear), 0 no such token yet,
 * -1 no memory. */
int tr_reports_token_summary_of(tr_reports *r, const tr_slot_id *who, tr_token_summary *out, tr_err *e);
/* Free the strings of one summary (not the struct). */
void tr_reports_token_summary_clear(tr_token_summary *s);

#endif
