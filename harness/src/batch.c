#include "batch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define WATCH_PERIOD_MS 50
/* After a stop is asked for, how long a worker may take to finish its APDU
 * and give its token back (journal recovery: a dozen APDUs) before it is
 * abandoned. */
#define CANCEL_GRACE_MS 10000

/* The signal that asked for a stop (0 none), sticky until the outermost
 * tr_batch_stop_begin of the next command. */
static volatile sig_atomic_t g_signalled;
/* Open tr_batch_stop_begin spans (the main thread only), and the actions
 * the outermost one replaced. */
static int g_stop_depth;
/* SIGHUP (the terminal closed) and SIGPIPE (`tokenrig run | head`) stop a
 * command in order too: tokens restored, JUnit written, rig down */
static const int g_stop_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
#define N_STOP_SIGS (sizeof g_stop_sigs / sizeof g_stop_sigs[0])
static struct sigaction g_old_actions[N_STOP_SIGS];

static void on_signal(int sig)
{
    g_signalled = sig;
}

bool tr_batch_interrupted(void) { return g_signalled != 0; }

int tr_batch_signal(void) { return g_signalled; }

void tr_batch_stop_begin(void)
{
    if (g_stop_depth++ > 0)
        return;
    g_signalled = 0;
    /* SA_RESTART: a report write or a wait for a child interrupted by the
     * signal goes on (the stop is orderly: it happens where the command
     * checks tr_batch_interrupted, not in the middle of a write) */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP_SIGS; i++)
        sigaction(g_stop_sigs[i], &sa, &g_old_actions[i]);
}

void tr_batch_stop_end(void)
{
    if (g_stop_depth == 0 || --g_stop_depth > 0)
        return;
    for (size_t i = 0; i < N_STOP_SIGS; i++)
        sigaction(g_stop_sigs[i], &g_old_actions[i], NULL);
    /* a closed stdout (`tokenrig run | head`) reports EPIPE to the writes
     * after this point instead of killing the process before JUnit is
     * written and the rig is down */
    signal(SIGPIPE, SIG_IGN);
}

void tr_batch_where(tr_batch_worker *w, const char *suite, const char *test)
{
    pthread_mutex_lock(&w->lock);
    snprintf(w->where, sizeof w->where, "%s / %s", suite ? suite : "", test ? test : "");
    pthread_mutex_unlock(&w->lock);
}

typedef struct {
    tr_batch_worker *w;
    const tr_batch_opts *o;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    tr_batch_worker *w = a->w;
    int status = a->o->job(a->o->ud, w);
    w->job_status = status;
    int expected = TR_WORKER_RUNNING;
    atomic_compare_exchange_strong(&w->state, &expected, TR_WORKER_DONE);
    return NULL;
}

/* Abandon a worker once: the first reason wins over a late return. */
static void abandon(const tr_batch_opts *o, tr_batch_worker *w, tr_worker_state why, const char *msg)
{
    int expected = TR_WORKER_RUNNING;
    if (!atomic_compare_exchange_strong(&w->state, &expected, (int)why))
        return;
    int none = TR_CANCEL_NONE;
    atomic_compare_exchange_strong(&w->cancel, &none, why == TR_WORKER_TIMEOUT ? TR_CANCEL_TIMEOUT : TR_CANCEL_SIGNAL);
    pthread_detach(w->thread);
    if (o->abandon)
        o->abandon(o->ud, w, why, msg);
}

static void watch(const tr_batch_opts *o, tr_batch_worker *w, uint64_t now)
{
    if (atomic_load(&w->state) != TR_WORKER_RUNNING)
        return;
    uint64_t busy = atomic_load(&w->busy_since_ns);
    char msg[512], where[256];
    pthread_mutex_lock(&w->lock);
    tr_strlcpy(where, w->where, sizeof where);
    pthread_mutex_unlock(&w->lock);
    if (busy && now > busy && (now - busy) / 1000000u > o->apdu_timeout_ms) {
        snprintf(msg, sizeof msg, "the token stopped answering: no response to an APDU in %u ms (in %s)",
                 o->apdu_timeout_ms, where);
        abandon(o, w, TR_WORKER_MUTE, msg);
    } else if (o->slot_timeout_ms && (now - w->started_ns) / 1000000u > o->slot_timeout_ms) {
        /* first ask nicely; abandon only if the job does not stop (and give
         * its token back) in time */
        int expected = TR_CANCEL_NONE;
        if (atomic_compare_exchange_strong(&w->cancel, &expected, TR_CANCEL_TIMEOUT))
            return;
        if ((now - w->started_ns) / 1000000u > o->slot_timeout_ms + o->apdu_timeout_ms + CANCEL_GRACE_MS) {
            snprintf(msg, sizeof msg, "slot timeout: still running after %u ms (in %s)", o->slot_timeout_ms, where);
            abandon(o, w, TR_WORKER_TIMEOUT, msg);
        }
    }
}

static bool all_settled(tr_batch_worker *ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&ws[i].state) == TR_WORKER_RUNNING)
            return false;
    return true;
}

int tr_batch_run(tr_slot **slots, size_t n, tr_batch_worker *ws, const tr_batch_opts *o, tr_batch_result *res,
                 tr_err *e)
{
    memset(res, 0, sizeof *res);
    worker_arg *args = calloc(n ? n : 1, sizeof *args);
    if (!args)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    /* inside a command's span (a signal before the workers start stops
     * them before they touch a token), else one of its own */
    tr_batch_stop_begin();
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        tr_batch_worker *w = &ws[i];
        w->slot = slots[i];
        w->index = i;
        pthread_mutex_init(&w->lock, NULL);
        atomic_store(&w->cancel, g_signalled ? TR_CANCEL_SIGNAL : TR_CANCEL_NONE);
        atomic_store(&w->state, TR_WORKER_RUNNING);
        atomic_store(&w->busy_since_ns, 0);
        tr_slot_publish_busy(w->slot, &w->busy_since_ns);
        w->started_ns = tr_now_ns();
        args[i] = (worker_arg){w, o};
        if (pthread_create(&w->thread, NULL, worker_main, &args[i]) != 0) {
            for (size_t j = i; j < n; j++)
                atomic_store(&ws[j].state, TR_WORKER_CANCELLED);
            tr_fail(e, TR_E_INTERNAL, "cannot start a thread for slot %zu", i);
            break;
        }
        started++;
    }
    uint64_t cancel_at = 0;
    while (!all_settled(ws, started)) {
        tr_sleep_ms(WATCH_PERIOD_MS);
        uint64_t now = tr_now_ns();
        for (size_t i = 0; i < started; i++)
            watch(o, &ws[i], now);
        if (g_signalled && !cancel_at) {
            cancel_at = now;
            res->interrupted = true;
            for (size_t i = 0; i < started; i++) {
                int expected = TR_CANCEL_NONE;
                atomic_compare_exchange_strong(&ws[i].cancel, &expected, TR_CANCEL_SIGNAL);
            }
        }
        if (cancel_at && (now - cancel_at) / 1000000u > CANCEL_GRACE_MS)
            for (size_t i = 0; i < started; i++)
                abandon(o, &ws[i], TR_WORKER_CANCELLED, "stopped by a signal (SIGINT, SIGTERM, SIGHUP or SIGPIPE)");
    }
    for (size_t i = 0; i < started; i++) {
        switch (atomic_load(&ws[i].state)) {
        case TR_WORKER_DONE:
            pthread_join(ws[i].thread, NULL);
            tr_slot_publish_busy(ws[i].slot, NULL); /* the slot may outlive workers[] */
            res->done++;
            break;
        case TR_WORKER_MUTE: res->mute++; break;
        case TR_WORKER_TIMEOUT: res->timeout++; break;
        default: res->cancelled++; break;
        }
    }
    /* abandoned workers still reference args: it is leaked on purpose */
    if (res->done == started)
        free(args);
    tr_batch_stop_end();
    res->interrupted = res->interrupted || g_signalled;
    return started == n ? 0 : -1;
}
