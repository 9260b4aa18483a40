/* dbrun.h — a run's rows into the results database as the run goes.
 *
 * Owns: the run's row (claimed before any token is touched: run id, kind,
 * batch, host, rig, tool version, command line, destructive or not,
 * profile), listening to the run's reports (reports.h, tr_reports_sink)
 * and writing what they write — per finished test one transaction with
 * the test's rows (its metric and cycle rows, then its verdict row) and
 * the token's run_slots row as the reports now summarise it; per cycle of
 * `tokenrig cycle` one transaction with the cycle and the slot's tally —
 * slot properties as provenance, and at the end, in one transaction, rows
 * of tests that never got their verdict, every token's final summary and
 * the run's end and exit status. A run killed at any point leaves whole
 * tests only; nothing it holds blocks the next run (SQLite's locks and a
 * PostgreSQL session end with the process).
 * A write that fails is said on stderr the first time (the run goes on:
 * a destructive test must still restore its token, the CSV files have
 * every row) and kept: tr_dbrun_failed / tr_dbrun_close give it, with the
 * count of failed writes.
 * Thread-safe: slot threads write through it at once (one lock).
 * Must not: decide verdicts (the reports' summary does), print anything
 * but that first failure.
 */
#ifndef TR_DBRUN_H
#define TR_DBRUN_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "reports.h"

typedef struct tr_dbrun tr_dbrun;

typedef struct {
    const char *where;         /* the database (tr_db_choose) */
    const char *run_id;
    bool run_id_given;         /* false: a taken id gets -<host>[-N] appended */
    const char *kind;          /* "run" | "cycle" */
    const char *batch;         /* NULL or "": the run id */
    const char *rig, *profile; /* profile: the run's --profile, else the rig's ("" = per slot) */
    const char *command_line;
    bool destructive;
} tr_dbrun_opts;

/* The host a run names: $TOKENRIG_HOST (a CI runner's name for its bench),
 * else gethostname(). At most TR_DB_ID_MAX - 1 bytes (longer is an error). */
int tr_dbrun_host(char *out, size_t cap, tr_err *e);

/* Open the database and claim the run id (its runs row goes in now). A
 * run id already in the database is an error when it was given; a made
 * one (time and PID: two bench hosts can make the same) gets "-<host>"
 * appended, then "-<host>-2", ... */
int tr_dbrun_open(const tr_dbrun_opts *o, tr_dbrun **out, tr_err *e);
const char *tr_dbrun_run_id(const tr_dbrun *w);
const char *tr_dbrun_batch(const tr_dbrun *w);
const char *tr_dbrun_label(const tr_dbrun *w); /* the database, as messages show it */

/* From now on every row of rep goes into the database too. */
void tr_dbrun_attach(tr_dbrun *w, tr_reports *rep);

/* Did a write fail so far: true with *e = the first failure and how many
 * writes failed (e may be NULL). */
bool tr_dbrun_failed(tr_dbrun *w, tr_err *e);

/* The end (see above); the writer takes no more rows (a worker a run
 * abandoned may still call it: it finds the writer allocated and does
 * nothing). 0 when every write of the run went
 * in; -1 with *e = the first failure otherwise. exit_status: what the run
 * exits with. */
int tr_dbrun_end(tr_dbrun *w, int exit_status, tr_err *e);
/* Detach the writer from its reports and free it (after tr_dbrun_end,
 * once no worker can call it). */
void tr_dbrun_free(tr_dbrun *w);

/* tokenrig cycle's token in run_slots: every cycle counts as a test; a
 * "rig" verdict is the rig's error, any other but pass the token's
 * failure (its class listed once in classes). Also for an imported
 * cycles.csv. */
typedef struct {
    unsigned cycles, failed, rig;
    char classes[512];
} tr_dbrun_cycles;
void tr_dbrun_cycles_add(tr_dbrun_cycles *c, const char *verdict);
/* Its verdict, classifications and counts into s. */
void tr_dbrun_cycles_slot(const tr_dbrun_cycles *c, tr_db_slot *s);

#endif
