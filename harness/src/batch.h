/* batch.h — one worker thread per slot, a watchdog, and a clean stop.
 *
 * Owns: running a job on every slot in parallel (each worker opens its own
 * PC/SC context through tr_slot_connect), the watchdog that declares a
 * token mute when one APDU outlives the rig's apdu_timeout_ms (its worker is
 * then abandoned — a blocked SCardTransmit cannot be interrupted — and the
 * others go on), the per-slot --timeout (the worker is asked to stop,
 * TR_CANCEL_TIMEOUT, and abandoned if it does not), and SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE (every worker asked to stop, TR_CANCEL_SIGNAL, with a
 * grace period to give its token back in factory state; then return so the
 * caller writes JUnit and keeps every finished row).
 * Threads: the watchdog (the caller's thread) reads only what the worker
 * record owns — state, cancel and busy_since_ns atomics, where[] under its
 * lock — never the slot or its card, which the worker's power cycles free
 * and replace. An abandoned worker still writes its record: workers[] must
 * stay allocated until the process ends.
 * Must not: know what the job does (suites, cycles), write report files.
 */
#ifndef TR_BATCH_H
#define TR_BATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rig.h"

typedef enum {
    TR_WORKER_RUNNING = 0,
    TR_WORKER_DONE,      /* the job returned */
    TR_WORKER_MUTE,      /* abandoned: an APDU never came back */
    TR_WORKER_TIMEOUT,   /* abandoned: the slot's --timeout ran out */
    TR_WORKER_CANCELLED  /* abandoned after Ctrl-C / SIGTERM */
} tr_worker_state;

/* Why a worker is asked to stop (the value of its cancel flag). */
enum { TR_CANCEL_NONE = 0, TR_CANCEL_SIGNAL = 1, TR_CANCEL_TIMEOUT = 2 };

typedef struct tr_batch_worker {
    tr_slot *slot;
    size_t index;
    atomic_int cancel;          /* TR_CANCEL_*: the job checks it between APDUs/tests */
    atomic_int state;           /* tr_worker_state */
    _Atomic uint64_t busy_since_ns; /* when the slot's current APDU started, 0 idle (its card publishes it) */
    int job_status;             /* what the job returned (valid when DONE) */
    uint64_t started_ns;
    pthread_mutex_t lock;       /* guards where[] */
    char where[256];            /* "suite / test" the worker is in, for messages */
    pthread_t thread;
} tr_batch_worker;

/* The job run on each slot (in the worker's thread). Return what the
 * caller wants to see in job_status (e.g. 0 pass, 1 fail, 2 error). */
typedef int (*tr_batch_job)(void *ud, tr_batch_worker *w);
/* Called (from the main thread) when a worker is abandoned, so the caller
 * can write the error row for that slot. */
typedef void (*tr_batch_abandon)(void *ud, tr_batch_worker *w, tr_worker_state why, const char *message);

typedef struct {
    unsigned apdu_timeout_ms;   /* one APDU longer than this: io.mute */
    unsigned slot_timeout_ms;   /* 0 = none */
    tr_batch_job job;
    tr_batch_abandon abandon;
    void *ud;
} tr_batch_opts;

typedef struct {
    size_t done, mute, timeout, cancelled;
    bool interrupted;           /* SIGINT, SIGTERM, SIGHUP or SIGPIPE arrived */
} tr_batch_result;

/* Runs the job on every slot and returns when all are done or abandoned.
 * workers must hold n zeroed entries; their slot fields are set from slots. */
int tr_batch_run(tr_slot **slots, size_t n, tr_batch_worker *workers, const tr_batch_opts *o,
                 tr_batch_result *res, tr_err *e);

/* Record where a worker is ("suite / test"), for the watchdog's message. */
void tr_batch_where(tr_batch_worker *w, const char *suite, const char *test);

/* The orderly stop of a whole command (run, script, cycle): from
 * tr_batch_stop_begin to tr_batch_stop_end, SIGINT, SIGTERM, SIGHUP and
 * SIGPIPE only record the signal (SA_RESTART), and the command stops where
 * it checks tr_batch_interrupted — before its workers start (no token
 * touched), between cycles, after its reports are written. Spans nest:
 * only the outermost installs the handlers (forgetting an earlier signal)
 * and restores the previous ones; after it SIGPIPE stays ignored (a closed
 * stdout is EPIPE, not death). tr_batch_run opens a span of its own.
 * Main thread only. */
void tr_batch_stop_begin(void);
void tr_batch_stop_end(void);
/* True once a stop signal arrived in the current (or last) span. */
bool tr_batch_interrupted(void);
/* That signal's number, 0 none (to pass it on to child processes). */
int tr_batch_signal(void);

#endif
