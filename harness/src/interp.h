/* interp.h — runs a parsed suite (script.h) against one token.
 *
 * Owns: executing statements against a tr_cardio (cardio.h), the suite's
 * own variable layer and the built-ins (SW SW1 SW2 DATA DATALEN TOKEN_ATR TEST
 * SUITE), expectations and verdicts (pass / fail with a classification /
 * error / skip with a reason), PIN masking (bytes from ${pin:...} and any
 * value of a variable whose name ends in PIN are shown as <pin> in every
 * trace row and message), timing (per APDU, per test, `measure` samples and
 * statistics), and handing rows to tr_reports and/or the hooks.
 * Must not: open readers or power tokens itself (only through tr_cardio),
 * print anything (hooks do), keep the trace in memory (rows are written as
 * they happen), or touch global state: one call per slot thread, in
 * parallel, is safe.
 *
 * Verdicts: fail = a token defect (an expectation or assertion broke; the
 * classification is the test's `classify` code, "unclassified" when none;
 * a protocol violation the transport reports, TR_E_PROTO_*, is proto.*; an
 * answer over the profile's APDU_MAX_MS / SIGN_APDU_MAX_MS (SIGN_INS) /
 * FIRST_APDU_MAX_MS is time.slow-apdu / time.slow-start);
 * skip = not run: the token's own state makes the test inapplicable (its
 * role, an earlier test's finding: no classification), or the run did
 * not do it (classification not-run.destructive without allow_destructive,
 * not-run.interrupted, or the suite's `skip ... classify not-run.X` for a
 * value the run did not give; the token's verdict is then INCOMPLETE);
 * error = a rig or harness fault (transport error, io.mute, io.removed,
 * crypto failure, a suite bug found at run time; the classification is the
 * error's code name: "io.mute", "io.removed", "pcsc", "crypto", "suite",
 * "timeout"; "config" for a variable the suite reads and never sets that
 * the run did not give); once the token is lost (io.mute / io.removed)
 * every later test of the suite is `error` without being run; a test that
 * reads a variable an earlier test sets but did not (it did not pass) is
 * `skip` with that cause (one root cause, one failure).
 */
#ifndef TR_INTERP_H
#define TR_INTERP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cardio.h"
#include "error.h"
#include "reports.h"
#include "script.h"
#include "vars.h"

/* What the answer to a journaled command says of it: it succeeded (SW
 * 9000 / 61xx, the library's OK), the token refused it and changed no PIN
 * (SW 62xx, 63xx, 67xx-6Fxx; the library's PIN incorrect, invalid, of the
 * wrong length, locked), or nothing sure (no answer; SW 64xx-66xx, an
 * execution error that may have changed the token's memory; any other
 * error of the library). */
enum { TR_JOURNALED_UNKNOWN = 0, TR_JOURNALED_LANDED = 1, TR_JOURNALED_REFUSED = 2 };

/* Optional observers. Every pointer may be NULL. Rows are the ones also
 * written to reports (PIN-masked, valid only during the call). */
typedef struct {
    void *ud;
    /* A test begins (e.g. for tr_batch_where). */
    void (*test_start)(void *ud, const char *test);
    /* End of each test (one call per test, skipped ones too). */
    void (*progress)(void *ud, const char *test, tr_verdict v,
                     const char *classification, const char *message);
    /* Live count inside repeat/for/measure loops, at most twice a second. */
    void (*live)(void *ud, const char *test, const char *what,
                 unsigned long done, unsigned long total);
    /* `log` statements, resets and power cycles (masked text). */
    void (*log)(void *ud, const char *test, const char *text);
    void (*result)(void *ud, const tr_result_row *row);
    void (*trace)(void *ud, const tr_trace_row *row);
    void (*sample)(void *ud, const tr_sample_row *row);
    void (*cycle)(void *ud, const tr_cycle_row *row);
    /* `journal user|so LANDS [else NOT]`: record, durably, what the PIN will
     * be if the next command lands and what it is if not (ref 0 user, 1 SO;
     * PIN texts unmasked: they go to the journal only). A -1 return stops the
     * test with an error before the command is sent. NULL: not recorded. */
    int (*journal)(void *ud, int ref, const char *if_lands, const char *if_not, tr_err *e);
    /* `journal user|so try PIN` (refused 0) / `journal user|so refused PIN`
     * (refused 1): recovery presents a journaled candidate next, once / the
     * token refused it. A -1 return stops the test with an error (a `try`:
     * before the candidate is presented). NULL: not recorded. */
    int (*journal_mark)(void *ud, int ref, int refused, const char *pin, tr_err *e);
    /* The journaled command was answered (or failed): TR_JOURNALED_*, what
     * the answer says of it (recovery right after a suite presents the
     * candidate it makes likelier first). */
    void (*journaled_sent)(void *ud, int answer);
    /* The suite's tests are done (not after a harness failure): its
     * variables as they are then, so the caller can keep what the token
     * told (the run engine records INFO_FIRMWARE, which the read_info op
     * sets, in the run's provenance). Valid only during the call. */
    void (*suite_end)(void *ud, const tr_vars *vars);
} tr_interp_hooks;

typedef struct {
    const tr_cardio *card;      /* required; transmit may be NULL on an SKF slot
                                   (an APDU is then a suite error); reset,
                                   power_cycle, atr may be NULL (then those
                                   statements error) */
    void *lib;                  /* the slot's library session (skf.h's tr_skf,
                                   p11.h's tr_p11) for its calls; NULL on an
                                   APDU slot */
    const struct tr_libcall_iface *lib_iface; /* its interface (libcall.h) */
    const tr_vars *vars;        /* profile + rig + -D layers; may be NULL. The
                                   suite's own variables go in a child layer
                                   freed at the end; this one is never written */
    tr_reports *reports;        /* may be NULL (unit tests, dry runs) */
    const tr_slot_id *who;      /* written into every row; may be NULL */
    bool allow_destructive;     /* else `destructive` tests are skipped */
    const char *no_power;       /* the slot has no power switch (why, for the
                                   message): a test that power-cycles is
                                   skipped not-run.no-power before it starts;
                                   NULL = it has one */
    time_t now;                 /* "now" for cert-info / seal-info; 0 = time() */
    double test_timeout_s;      /* per test, checked between statements; 0 = none */
    atomic_int *cancel;         /* nonzero = stop between statements; may be NULL.
                                   2 (TR_CANCEL_TIMEOUT) = the slot timed out
                                   (rows say "timeout"), else "cancelled" */
    uint64_t seed;              /* random(); 0 = 1 (runs are reproducible) */
    unsigned long max_steps;    /* statements executed per run; 0 = unlimited */
    bool no_result_rows;        /* verdicts counted in the outcome, not written
                                   (trace rows still are): a clean-up pass */
    size_t replay_until;        /* tests before this index run quietly (no rows,
                                   no progress): resuming a suite after a pcscd
                                   restart rebuilds its variables; 0 = none */
    const tr_interp_hooks *hooks; /* may be NULL */
    const tr_suite *ops;        /* the slot's interface library (suites/lib/
                                   ops-<interface>.tsuite: a file of ops only),
                                   where `call` and pin-model look after the
                                   suite's own ops; may be NULL */
} tr_interp_env;

#define TR_INTERP_MAX_CLASSES 16

typedef struct {
    unsigned tests;              /* result rows written (one per test) */
    unsigned counts[4];          /* per tr_verdict */
    unsigned long apdus;         /* APDUs exchanged */
    unsigned cycles;             /* power cycles done */
    bool token_lost;             /* io.mute / io.removed / never came back */
    char lost_code[32];          /* classification of the loss */
    bool cancelled;              /* env->cancel was seen */
    bool service_lost;           /* pcscd went away (TR_E_SERVICE): the suite
                                    stopped without a row for resume_test */
    size_t resume_test;          /* the test that was interrupted */
    char service_msg[256];       /* what the transport said */
    unsigned nclasses;           /* distinct classifications of fail/error rows */
    char classes[TR_INTERP_MAX_CLASSES][64];
    double duration_s;
} tr_suite_outcome;

/* Run every test of suite in order. Returns 0 when the suite ran (whatever
 * the verdicts: read them in *out), -1 with e set when the harness itself
 * failed (no card callbacks, no memory); rows written before that stay
 * written. A report row that could not be written does not stop the suite
 * (the reports keep the failure: tr_reports_write_failed); the log hook
 * hears of the first one. */
int tr_interp_run(const tr_suite *suite, const tr_interp_env *env,
                  tr_suite_outcome *out, tr_err *e);

#endif
