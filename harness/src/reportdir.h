/* reportdir.h — a run's report directory read back, for the HTML report.
 *
 * Owns: reading reports/<run-id>/ (summary.csv, results.csv, trace.csv,
 * samples.csv, cycles.csv, junit.xml, provenance.csv) into one model: the
 * tokens with their verdicts and counts, each token's failed and errored
 * tests with message and the trace excerpt of each (the first and the last
 * rows of that test's APDUs or calls), failed metrics with their limits, the
 * samples and recognition cycles for the plots, the limits that apply to
 * them, what the run recorded about itself. Files may be missing (a run
 * killed before its summary, a `tokenrig cycle` directory): the model says
 * which were there.
 * Columns are found by name, so columns added later are read or ignored,
 * never misread. Everything is bounded (counts below).
 * Must not: print PINs — it keeps only what the run wrote (trace.csv and
 * the messages are masked when written), and masks the values of variables
 * named *PIN in provenance.csv, and any text equal to one of them, again;
 * write anything; decide verdicts (summary.csv's are taken; without one,
 * reports.h's rule over results.csv is applied, and in a directory of
 * `tokenrig cycle` — cycles.csv alone — its rule: a failed cycle fails the
 * token; the page says which).
 */
#ifndef TR_REPORTDIR_H
#define TR_REPORTDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define RD_TRACE_HEAD 4      /* first trace rows of a failed test kept */
#define RD_TRACE_TAIL 20     /* last trace rows of a failed test kept */
#define RD_MAX_TOKENS 4096
#define RD_MAX_FAILS 64      /* failed/errored tests kept per token */
#define RD_MAX_SAMPLES 200000 /* samples kept per token and metric */
#define RD_MAX_CYCLES 100000 /* cycles kept per token */
#define RD_MAX_STAGES 8      /* stage columns of cycles.csv */
#define RD_MAX_PROPS 20000   /* provenance rows, JUnit properties */
#define RD_MAX_METRICS 256   /* metric rows kept per token */

typedef struct {
    char *time, *file, *command, *response, *sw;
    int line;
    double latency_us;       /* < 0 unknown */
} rd_trace;

typedef struct {
    char *suite, *test, *verdict, *cls, *message, *file;
    int line;
    double duration_s;
    rd_trace head[RD_TRACE_HEAD], tail[RD_TRACE_TAIL];
    size_t nhead, ntail;     /* tail: a ring, tail_at is its oldest */
    size_t tail_at;
    size_t ntrace;           /* all trace rows of the test */
} rd_fail;

typedef struct {
    char *suite, *test, *metric, *unit, *message;
    double value, limit;     /* limit < 0: not recorded */
    char limit_kind[8];      /* "max" (value must not exceed it), "min", "" */
    bool failed;
} rd_metric;

typedef struct {
    char *metric, *unit;
    double *v;
    size_t n, cap, total;    /* total: all rows, n: kept */
} rd_series;

typedef struct {
    double stage[RD_MAX_STAGES]; /* ms, < 0 not reached */
    bool failed;
    char *tip;               /* "suite / test, cycle 2: verdict: message" */
} rd_cycle;

typedef struct {
    char *slot, *serial, *role, *profile, *reader, *rig, *verdict, *classifications, *not_run_why;
    unsigned tests, passed, failed, errored, skipped, not_run;
    double duration_s;
    rd_fail *fails;
    size_t nfails, more_fails; /* more_fails: beyond RD_MAX_FAILS */
    rd_metric *metrics;      /* metric rows (past RD_MAX_METRICS / 2: failed ones only) */
    size_t nmetrics;
    rd_series *series;       /* samples.csv, one per metric */
    size_t nseries;
    rd_cycle *cycles;
    size_t ncycles, cycles_total;
    double first_apdu_limit; /* FIRST_APDU_MAX_MS in ms; < 0 not recorded (from, in
                                order: provenance.csv, cycles.csv's first_apdu_limit_ms,
                                results.csv's limit, a message naming it) */
    char *first_apdu_limit_from;
} rd_token;

typedef struct {
    char *group, *name, *value; /* group: the testsuite (token) or slot it is about */
    char *source;               /* provenance.csv's source; NULL for JUnit */
} rd_prop;

typedef struct {
    char *dir;
    char *run_id, *rig, *first_time, *last_time;
    bool has_summary, has_results, has_trace, has_samples, has_cycles, has_junit, has_provenance;
    bool cycles_only;            /* a `tokenrig cycle` directory: a token's
                                    counts are its cycles, FAIL when one failed */
    rd_token *tokens;            /* sorted: failing first, then by slot */
    size_t ntokens;
    char *stages[RD_MAX_STAGES]; /* cycles.csv's stage columns, in order */
    size_t nstages;
    char **prov_cols;            /* provenance.csv's header */
    size_t nprov_cols;
    char ***prov_rows;           /* its rows, nprov_cols cells each */
    size_t nprov_rows;
    rd_prop *junit;              /* JUnit properties */
    size_t njunit;
    size_t trace_rows, sample_rows, cycle_rows, result_rows;
} rd_run;

/* Read dir into run. -1 with e set when dir is not a report directory
 * (neither results.csv nor summary.csv nor cycles.csv) or cannot be read. */
int rd_load(const char *dir, rd_run *run, tr_err *e);
void rd_free(rd_run *run);

/* Token verdict rank, the failing order of the table: FAIL 0, ERROR 1,
 * INCOMPLETE 2, SKIP 3, PASS 4, anything else 5. */
int rd_verdict_rank(const char *verdict);

/* Whether a variable name is a PIN's (as the interpreter masks: the name
 * ends in PIN). */
bool rd_name_is_pin(const char *name);

#endif
