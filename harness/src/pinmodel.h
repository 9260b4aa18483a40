/* pinmodel.h — the PIN state model: what a token's user and SO PINs must do,
 * written down once, and the walk that checks a token against it.
 *
 * Owns: the model (user PIN: value, tries left, blocked, verified — which is
 * volatile —, default flag; SO PIN: tries left), its transitions (right,
 * wrong and last wrong VERIFY, VERIFY with the previous PIN, right and
 * wrong VERIFY while blocked, CHANGE with the right and a wrong old PIN,
 * the last wrong CHANGE, CHANGE with the right and a wrong old PIN while
 * blocked, RESET RETRY COUNTER with the right and a wrong SO PIN, log out,
 * warm reset, power cycle), what the model predicts for every observable
 * after each one (PIN info: max, tries left, default flag, SO tries left;
 * the counter query; whether a signature and the seal are permitted), and
 * the generator: a walk through the transitions that takes every transition
 * from every kind of state it is possible in (verified, not or unknown;
 * blocked or not; factory PIN or changed; and a reset or power cycle also
 * once with an SO try spent), never spends more than one SO try, reads
 * every observable after every step, and ends in factory state. The walk is
 * greedy over a cheapest-path (Dijkstra) search of the model's states, each
 * transition weighted by what it costs on a token (a power cycle 30, a warm
 * reset 2, the rest 1): from where it stands it goes the cheapest way to
 * the cheapest (state, transition) pair not yet taken, takes it, and
 * searches again. A transition added to the table is covered everywhere
 * without another line.
 * The token is reached only through named operations (tr_pm_io.call): the
 * suite implements them (REF-1 APDUs from the profile; another interface
 * its own), so the model holds no command of any token.
 * Must not: know APDUs, status words or an interface; write reports.
 */
#ifndef TR_PINMODEL_H
#define TR_PINMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* The operations (suites/README.md, "Token operations": the interface's
 * library implements them, the suite only setup) and the variables they
 * exchange:
 *   setup          once: MODEL_CAN_SIGN, MODEL_CAN_SEAL (1 when the probe applies)
 *   capabilities   once: OPS_NA, the operations the interface cannot do
 *                  (comma-separated op names; those transitions are left out)
 *   pin_info       RESULT ok, PIN_MAX PIN_LEFT PIN_FLAG (1 = factory PIN) SO_LEFT
 *   verify         OP_PIN
 *   change         OP_OLD_PIN OP_NEW_PIN
 *   unblock        OP_SO_PIN OP_NEW_PIN
 *   verify_status  (the counter query: no PIN, never a try; RESULT n/a: the
 *                  interface cannot ask, and only the probes are compared)
 *   logout, warm_reset, power_cycle, sign_probe, seal_probe
 * OP_CUR_PIN is the model's current user PIN (what the journal records).
 * Every operation but setup sets RESULT = ok | wrong | blocked | refused
 * | other, RESULT_LEFT (tries left, with wrong) and RESULT_TEXT (what the
 * token answered, for messages); a pin_info that is not ok is
 * pin.no-pin-info. */
typedef struct {
    void *ud;
    /* Run operation op. 0, or -1 when the test ended inside it (the token
     * was lost, a suite error): the walk stops without a verdict of its own. */
    int (*call)(void *ud, const char *op);
    int (*set)(void *ud, const char *name, const char *value);
    const char *(*get)(void *ud, const char *name); /* NULL when unset */
    void (*log)(void *ud, const char *text);        /* may be NULL */
} tr_pm_io;

typedef enum {
    TR_PM_PASS = 0,     /* the token followed the model through the whole walk */
    TR_PM_DEVIATION,    /* it did not: cls and msg say where */
    TR_PM_NOT_FACTORY,  /* not in factory state at the start: nothing was tried */
    TR_PM_STOPPED,      /* an operation ended the test (token lost, ...) */
    TR_PM_ERROR         /* configuration (a variable missing): e is set */
} tr_pm_outcome;

typedef struct {
    tr_pm_outcome outcome;
    char cls[64];         /* the property that broke (pin.*, sign.*, seal.*) */
    char msg[600];
    unsigned steps;       /* transitions taken */
    unsigned covered;     /* (transition, kind of state) pairs taken */
    unsigned reachable;   /* pairs the model can reach within the SO budget */
    unsigned modelled;    /* the same with every transition on (reachable is
                             less when the interface cannot do some) */
    char left_out[256];   /* the transitions left out (OPS_NA), by name, ", " */
    bool power_left_out;  /* the power cycle among them: on a slot without a
                             power switch the caller makes the test not-run.no-power */
} tr_pm_result;

/* Walk the token through the model. Variables read: PIN_MAX_TRIES,
 * SO_MAX_TRIES, DEFAULT_PIN, NEW_PIN, WRONG_PIN, SO_PIN, and WRONG_SO_PIN
 * (default: WRONG_PIN); MODEL_MAX_STEPS (default 600) bounds the walk. */
tr_pm_outcome tr_pinmodel_run(const tr_pm_io *io, tr_pm_result *res, tr_err *e);

/* For documentation and tests: the transitions, in table order. */
size_t tr_pinmodel_transitions(const char **names, size_t cap);

#endif
