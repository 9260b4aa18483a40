/* journal.h — the journal of destructive steps: what each token's PINs are
 * while a run changes them, durable before the change is sent.
 *
 * Owns: one append-only text file per rig (mode 0600), one record per line,
 * fsync'ed before the append returns, so that after any crash — SIGKILL,
 * power loss, a dying pcscd — the next run (or `tokenrig recover`) knows,
 * for every token a run was changing, the two values its PIN can have (the
 * one the last command set if it landed, the one before if it did not) and
 * the factory PINs to bring it back to. Records:
 *
 *   open    SLOT SERIAL RUN-ID user=HEX so=HEX  a destructive sequence starts;
 *                                               the factory PINs (targets)
 *   pin     SLOT SERIAL user|so LANDS-HEX NOT-HEX before a secret-changing
 *                                               command (a run's, or recovery's
 *                                               own change back or unblock)
 *   try     SLOT SERIAL user|so HEX             recovery presents this candidate
 *                                               next, once (its answer unknown
 *                                               until the next record)
 *   refused SLOT SERIAL user|so HEX             the token refused that candidate:
 *                                               it is never presented again
 *   close   SLOT SERIAL                         the sequence ended (or the token
 *                                               was proven back at factory state)
 *
 * PINs are hex-encoded test PINs (the profile's DEFAULT_PIN, NEW_PIN, SO_PIN
 * ...); the file is never copied into a report. Thread-safe: slot workers
 * append concurrently.
 * Must not: talk to tokens (recovery is the run engine's, through a suite)
 * or decide where the file lives beyond tr_journal_default_path.
 */
#ifndef TR_JOURNAL_H
#define TR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define TR_JOURNAL_PIN_MAX 32   /* PIN bytes (REF-1: 16) */

typedef enum { TR_PIN_USER = 0, TR_PIN_SO = 1 } tr_pin_ref;

/* What the journal knows about one token with an open sequence. */
typedef struct {
    char slot[64];
    char serial[64];
    char run_id[64];
    char factory[2][TR_JOURNAL_PIN_MAX + 1];    /* [tr_pin_ref] */
    /* the values the PIN can have now: cand[ref][0] if the last command
     * landed, cand[ref][1] if not (equal when nothing is uncertain) */
    char cand[2][2][TR_JOURNAL_PIN_MAX + 1];
    /* what recovery learnt of each candidate since its `pin` record:
     * tried = the order of its presentation (`try`, 1 first; 0 never), its
     * answer unknown unless refused */
    unsigned tried[2][2];
    bool refused[2][2];
} tr_journal_entry;

/* Who appends a record: a run's suite, or recovery (its own change back
 * and unblock, and its `try` / `refused` marks). Recovery's records are
 * checked against what the journal holds (no PIN it does not hold is ever
 * recorded as presented or set, but the factory PIN) and count toward
 * TOKENRIG_CRASH_IN_RECOVERY instead of TOKENRIG_CRASH_AT. */
typedef enum { TR_JOURNAL_BY_RUN = 0, TR_JOURNAL_BY_RECOVERY = 1 } tr_journal_by;

typedef enum { TR_JOURNAL_TRY = 0, TR_JOURNAL_REFUSED = 1 } tr_journal_mark_kind;

typedef struct tr_journal tr_journal;

/* Open (create, 0600) the journal at path for appending. */
int tr_journal_open(const char *path, tr_journal **out, tr_err *e);
void tr_journal_close(tr_journal *j);
const char *tr_journal_path(const tr_journal *j);

/* Appends; each returns only once the record is on disk (fsync). A failed
 * append is an error the caller must not go past: no secret-changing
 * command is sent unless its record is durable. */
int tr_journal_begin(tr_journal *j, const char *slot, const char *serial, const char *run_id,
                     const char *factory_user, const char *factory_so, tr_err *e)
    __attribute__((warn_unused_result));
int tr_journal_pin(tr_journal *j, const char *slot, const char *serial, tr_pin_ref ref, const char *if_lands,
                   const char *if_not, tr_journal_by by, tr_err *e) __attribute__((warn_unused_result));
/* Recovery's marks on a candidate (pin must be one of ref's candidates; a
 * refused one is never tried again): `try` before it is presented,
 * `refused` once the token said it is wrong. */
int tr_journal_mark(tr_journal *j, const char *slot, const char *serial, tr_pin_ref ref, tr_journal_mark_kind m,
                    const char *pin, tr_err *e) __attribute__((warn_unused_result));
int tr_journal_end(tr_journal *j, const char *slot, const char *serial, tr_err *e)
    __attribute__((warn_unused_result));

/* Is a sequence open for this slot (in what this process appended or
 * loaded)? Fills *out when so (out may be NULL). */
bool tr_journal_is_open(tr_journal *j, const char *slot, tr_journal_entry *out);

/* Every open sequence, in file order (read when the journal was opened
 * plus what was appended since). *n = count; free() the array. */
tr_journal_entry *tr_journal_open_entries(tr_journal *j, size_t *n, tr_err *e);

/* The candidates of ref that recovery may present, each value once, none
 * refused, in the order to present them when the token tells nothing
 * more: never presented first (the PIN if the last command landed, then if
 * not), then the ones presented before, the latest first (a crash came
 * before their answer was recorded). Fills pin[] (pointers into x) and
 * tried[]; returns how many (0..2). */
size_t tr_journal_candidates(const tr_journal_entry *x, tr_pin_ref ref, const char *pin[2], bool tried[2]);

/* Rewrite the file (atomically) with only the still-open sequences (an
 * empty journal is an empty file). */
int tr_journal_compact(tr_journal *j, tr_err *e) __attribute__((warn_unused_result));

/* Where a rig's journal lives when the rig file names none: $TOKENRIG_STATE_DIR,
 * else $XDG_STATE_HOME/tokenrig, else $HOME/.local/state/tokenrig, then
 * "journal-<rig name>". */
void tr_journal_default_path(const char *rig_name, char *out, size_t cap);

/* Test hook for the crash matrix (ci/tests/70-crash.sh):
 * TOKENRIG_CRASH_AT=N[:after] raises SIGKILL right after the N-th `pin`
 * record a run's suites append in this process is durable (before its
 * command is sent) or, with ":after", right after that record's command
 * was answered (the slot's worker calls this after each journaled
 * command). TOKENRIG_CRASH_IN_RECOVERY=N[:after] does the same at the N-th
 * record recovery appends (pin, try or refused; after a `refused`, ":after"
 * is the answer to the next journaled command). */
void tr_journal_crash_point(tr_journal *j, const char *slot);

#endif
