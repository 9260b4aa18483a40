/* run.h — the run engine: a rig session, a batch of slots, their reports.
 *
 * Owns: opening a rig for a command (the rig file, or one built in memory;
 * the lease that says which process uses the rig and finds one left by a
 * dead process; attaching to a virtual rig, bringing one up, or taking a
 * stale one down and up again; powering a hardware rig's ports back on
 * after a crash), the journal of destructive steps and recovery from it
 * (suites/lib/recover.tsuite on every token the journal says a run left
 * mid-way), preparing each slot (profile, variables, identity), running the
 * suites on every slot at once (batch.c) with recovery on an orderly stop,
 * and closing (JUnit, summary, the rig down when the run brought it up).
 * `run`, `script`, `recover`, `cycle` and `list` are built on it.
 * Must not: parse the command line or print the usage (cli_*.c do).
 */
#ifndef TR_RUN_H
#define TR_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "journal.h"
#include "manifest.h"
#include "reports.h"
#include "script.h"
#include "vars.h"
#include "vrig.h"

/* The rig a command works on. */
typedef struct {
    tr_rig_cfg cfg;
    tr_vrig *vrig;          /* virtual rigs only */
    bool owns_vrig;         /* take it down at the end */
    int lease_fd;           /* flock'ed while this process uses the rig */
    char lease_path[TR_PATH_MAX + 32];
    tr_journal *journal;    /* NULL until tr_rig_session_journal */
} tr_rig_session;

/* The rig's pcscd_restart (a system pcscd: real benches), within its
 * power_timeout_ms ([rig]; killed past it, with its process group), then
 * pcscd must answer within ready_timeout_ms. -1 with e: TR_E_RIG naming
 * the command (it failed, hung, or the rig names none: TR_E_SERVICE),
 * TR_E_SERVICE when pcscd did not come back. */
int tr_rig_restart_pcscd(const tr_rig_cfg *cfg, tr_err *e);

/* Load --rig (or the default virtual rig) and open it: take the lease (a
 * rig in use by a live process is refused; one left by a dead process is
 * recovered, saying so on stderr), then attach to / bring up / recover the
 * virtual rig, or power a hardware rig's ports back on after a crash. */
int tr_rig_session_open(const char *rig_arg, tr_rig_session *rs, tr_err *e);
/* The same with rs->cfg already filled (e.g. tr_rig_single_reader); the
 * session takes it over. */
int tr_rig_session_open_cfg(tr_rig_session *rs, tr_err *e);
void tr_rig_session_close(tr_rig_session *rs);
/* tokenrig rig up: bring the virtual rig up for the user (no owner: it
 * stays up after this process) under its lease, so what a dead run left —
 * its rig (taken down first, saying so) and its lease (cleared) — is gone,
 * and the next run finds a healthy rig. A rig in use by a live process, or
 * one up already, is refused. Close with tr_rig_session_close (the rig
 * stays up). */
int tr_rig_up(const char *rig_arg, unsigned timeout_ms, tr_rig_session *rs, tr_err *e);
/* Open the rig's journal (rig file `journal`, else beside a virtual rig's
 * token memory, else tr_journal_default_path). */
int tr_rig_session_journal(tr_rig_session *rs, tr_err *e);

/* A slot's profile: override, else the slot's, else the rig's, else REF-1
 * for a virtual slot's algorithm ("ref1-<alg>"). */
int tr_slot_profile_load(const tr_rig_cfg *rig, const tr_slot_cfg *slot, const char *override, tr_profile *out,
                         tr_err *e);

typedef struct {
    const char *profile;        /* --profile for every slot, or NULL */
    const char *slots;          /* comma-separated slot names, or NULL = all */
    const char *out_dir;        /* NULL = reports/<run-id> (+ reports/latest) */
    const char *run_id;         /* NULL = <UTC time>-<pid> */
    const tr_vars *defs;        /* -D layer, or NULL */
    const tr_manifest *manifest; /* or NULL */
    tr_suite *const *suites;
    size_t nsuites;
    bool allow_destructive;
    bool quiet;
    bool script;                /* print commands and answers, no verdict table */
    unsigned slot_timeout_s;    /* 0 = none */
    /* the results database (db.h, dbrun.h): NULL writes none */
    const char *db;
    const char *batch;          /* NULL: the manifest's batch column, else its file name, else the run id */
    const char *command_line;   /* as the user typed it (PINs masked), for the run's row and the provenance */
} tr_run_opts;

typedef struct {
    int status;                 /* 0 pass, 1 a token failed, 2 errors only */
    bool interrupted;           /* a signal stopped the run */
    bool write_failed;          /* a report file could not be written */
    bool db_failed;             /* a row could not be written to the database */
    size_t not_factory;         /* tokens left with an open journal sequence */
    unsigned long apdus;        /* script: the first slot's totals */
    bool html;                  /* dir/report.html written (run only, not script) */
    unsigned counts[4];
    char dir[TR_PATH_MAX];
    char db[TR_PATH_MAX + 64];  /* the database written ("" none), as messages show it */
    char run_id[128], batch[128];
} tr_run_result;

/* Run the suites on the session's (selected) slots, one worker each, and
 * write every report. Journaled tokens are recovered first; on a signal or
 * a slot timeout each worker restores its token before it stops. Returns
 * -1 with e set when the run could not start (no report written). */
int tr_run_suites(tr_rig_session *rs, const tr_run_opts *o, tr_run_result *res, tr_err *e);

/* tokenrig recover: every token the journal says a run left mid-way is
 * brought back to its factory PINs (out gets one line per token). Returns
 * the number of tokens that could not be restored, -1 on error. */
int tr_run_recover(tr_rig_session *rs, FILE *out, tr_err *e);

/* tokenrig recover --forget LIST: the journal entries of the slots in
 * LIST (comma-separated) dropped, no token touched: for a token put right
 * by hand, or set aside, that recovery could not restore. Each name must
 * have an entry (TR_E_USAGE, nothing dropped, when one has not); out gets
 * a line per slot. Returns 0, -1 on error. */
int tr_run_forget(tr_rig_session *rs, const char *list, FILE *out, tr_err *e);

/* fn for each pcscd of the session's rig, one after the other: a virtual
 * rig of more than 16 slots has several, and a process talks to one, so
 * then each runs in a child process of its own that talks to group's
 * (tr_vrig_use_group) and ends with fn's return value (0..124) as its exit
 * status. One pcscd (any other rig): fn(rs, -1, ud) here. fn works on the
 * slots of its group (tr_vrig_slot_group), every slot for -1. Returns the
 * sum of fn's values, -1 with e when a child failed to run. */
int tr_rig_session_each_group(tr_rig_session *rs, int (*fn)(tr_rig_session *rs, int group, void *ud), void *ud,
                              tr_err *e);

/* suites/lib/identify.tsuite on one slot's token with the slot's profile;
 * out gets its log line ("serial ... role ... algorithm ..."). */
int tr_slot_identify(tr_rig_session *rs, const tr_slot_cfg *slot, char *out, size_t cap, tr_err *e);

#endif
