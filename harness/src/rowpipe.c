/* rowpipe.c — report rows over a pipe (rowpipe.h). */
#include "rowpipe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- encoding (child) ---------------------------------------------------------------- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
    bool oom;
} enc;

static void put(enc *x, const void *p, size_t n)
{
    if (x->oom || n == 0)
        return;
    if (x->n + n > x->cap) {
        size_t cap = x->cap ? x->cap : 512;
        while (cap < x->n + n)
            cap *= 2;
        uint8_t *grown = realloc(x->b, cap);
        if (!grown) {
            x->oom = true;
            return;
        }
        x->b = grown;
        x->cap = cap;
    }
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void put_u32(enc *x, uint32_t v) { put(x, &v, sizeof v); }
static void put_u64(enc *x, uint64_t v) { put(x, &v, sizeof v); }
static void put_f64(enc *x, double v) { put(x, &v, sizeof v); }

/* With its NUL, so the reader can point into the message. */
static void put_str(enc *x, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0;
    put_u32(x, n);
    put(x, s, n);
}

static void put_who(enc *x, const tr_slot_id *w)
{
    uint8_t present = w != NULL;
    put(x, &present, 1);
    if (!w)
        return;
    const char *f[] = {w->run_id, w->rig, w->slot, w->reader, w->serial, w->role, w->profile};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        put_str(x, f[i]);
}

static void begin(enc *x, tr_rowpipe_kind kind, const tr_slot_id *who)
{
    memset(x, 0, sizeof *x);
    put_u32(x, 0); /* the length, filled in by finish */
    uint8_t k = (uint8_t)kind;
    put(x, &k, 1);
    put_who(x, who);
}

/* Fill in the length and send the message whole. */
static int finish(int fd, enc *x, tr_err *e)
{
    int rc = 0;
    if (x->oom || x->n - 4 > TR_ROWPIPE_MAX) {
        rc = tr_fail(e, x->oom ? TR_E_NOMEM : TR_E_INTERNAL, "a report row too large to send to the parent");
    } else {
        uint32_t len = (uint32_t)(x->n - 4);
        memcpy(x->b, &len, sizeof len);
        for (size_t done = 0; done < x->n && rc == 0;) {
            ssize_t w = write(fd, x->b + done, x->n - done);
            if (w > 0)
                done += (size_t)w;
            else if (w < 0 && errno == EINTR)
                continue;
            else
                rc = tr_fail(e, TR_E_IO, "sending a report row to the parent process: %s",
                             w < 0 ? strerror(errno) : "nothing written");
        }
    }
    free(x->b);
    return rc;
}

int tr_rowpipe_send_result(int fd, const tr_result_row *row, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_RESULT, row->who);
    put_str(&x, row->suite);
    put_str(&x, row->test);
    put_u32(&x, (uint32_t)row->verdict);
    put_str(&x, row->classification);
    put_f64(&x, row->duration_s);
    put_str(&x, row->metric);
    put_f64(&x, row->value);
    put_str(&x, row->unit);
    put_str(&x, row->message);
    put_str(&x, row->file);
    put_u32(&x, (uint32_t)row->line);
    put_f64(&x, row->limit);
    put_str(&x, row->limit_kind);
    return finish(fd, &x, e);
}

int tr_rowpipe_send_trace(int fd, const tr_trace_row *row, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_TRACE, row->who);
    put_str(&x, row->suite);
    put_str(&x, row->test);
    put_str(&x, row->file);
    put_u32(&x, (uint32_t)row->line);
    put_str(&x, row->command);
    put_str(&x, row->response);
    put_str(&x, row->sw);
    put_u64(&x, row->latency_us);
    return finish(fd, &x, e);
}

int tr_rowpipe_send_sample(int fd, const tr_sample_row *row, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_SAMPLE, row->who);
    put_str(&x, row->suite);
    put_str(&x, row->test);
    put_str(&x, row->metric);
    put_u32(&x, row->index);
    put_f64(&x, row->value);
    put_str(&x, row->unit);
    return finish(fd, &x, e);
}

int tr_rowpipe_send_cycle(int fd, const tr_cycle_row *row, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_CYCLE, row->who);
    put_u32(&x, row->cycle);
    const double ms[] = {row->off_ms, row->to_device_ms, row->to_reader_ms, row->to_atr_ms, row->to_first_apdu_ms,
                         row->first_apdu_limit_ms};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        put_f64(&x, ms[i]);
    const char *text[] = {row->atr, row->stage, row->power_level, row->verdict, row->message, row->suite, row->test};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        put_str(&x, text[i]);
    return finish(fd, &x, e);
}

int tr_rowpipe_send_property(int fd, const tr_slot_id *who, const char *name, const char *value, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_PROPERTY, who);
    put_str(&x, name);
    put_str(&x, value);
    return finish(fd, &x, e);
}

int tr_rowpipe_send_provenance(int fd, const tr_slot_id *who, const char *name, const char *value,
                               const char *source, tr_err *e)
{
    enc x;
    begin(&x, TR_ROWPIPE_PROVENANCE, who);
    put_str(&x, name);
    put_str(&x, value);
    put_str(&x, source);
    return finish(fd, &x, e);
}

/* ---- decoding (parent) ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
    bool bad; /* a field past the end, or a string without its NUL */
} dec;

static void get(dec *d, void *out, size_t n)
{
    if (d->bad || (size_t)(d->end - d->p) < n) {
        d->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, d->p, n);
    d->p += n;
}

static uint32_t get_u32(dec *d)
{
    uint32_t v;
    get(d, &v, sizeof v);
    return v;
}

static uint64_t get_u64(dec *d)
{
    uint64_t v;
    get(d, &v, sizeof v);
    return v;
}

static double get_f64(dec *d)
{
    double v;
    get(d, &v, sizeof v);
    return v;
}

/* A pointer into the message (its NUL checked), NULL for a NULL string. */
static const char *get_str(dec *d)
{
    uint32_t n = get_u32(d);
    if (d->bad || n == 0)
        return NULL;
    if ((size_t)(d->end - d->p) < n || d->p[n - 1] != '\0') {
        d->bad = true;
        return NULL;
    }
    const char *s = (const char *)d->p;
    d->p += n;
    return s;
}

/* The slot a row is about; false: none was sent (a run-wide row). */
static bool get_who(dec *d, tr_slot_id *w)
{
    uint8_t present = 0;
    get(d, &present, 1);
    memset(w, 0, sizeof *w);
    if (!present)
        return false;
    const char **f[] = {&w->run_id, &w->rig, &w->slot, &w->reader, &w->serial, &w->role, &w->profile};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = get_str(d);
    return true;
}

static void take_result(dec *d, tr_reports *r, const tr_slot_id *who)
{
    tr_result_row row = {.who = who};
    row.suite = get_str(d);
    row.test = get_str(d);
    row.verdict = (tr_verdict)get_u32(d);
    row.classification = get_str(d);
    row.duration_s = get_f64(d);
    row.metric = get_str(d);
    row.value = get_f64(d);
    row.unit = get_str(d);
    row.message = get_str(d);
    row.file = get_str(d);
    row.line = (int)get_u32(d);
    row.limit = get_f64(d);
    row.limit_kind = get_str(d);
    tr_err e; /* a row that cannot be written is kept by r (the run's exit status) */
    if (!d->bad && row.verdict <= TR_INCOMPLETE)
        (void)!tr_reports_result(r, &row, &e);
    else
        d->bad = true;
}

static void take_trace(dec *d, tr_reports *r, const tr_slot_id *who)
{
    tr_trace_row row = {.who = who};
    row.suite = get_str(d);
    row.test = get_str(d);
    row.file = get_str(d);
    row.line = (int)get_u32(d);
    row.command = get_str(d);
    row.response = get_str(d);
    row.sw = get_str(d);
    row.latency_us = get_u64(d);
    tr_err e;
    if (!d->bad)
        (void)!tr_reports_trace(r, &row, &e);
}

static void take_sample(dec *d, tr_reports *r, const tr_slot_id *who)
{
    tr_sample_row row = {.who = who};
    row.suite = get_str(d);
    row.test = get_str(d);
    row.metric = get_str(d);
    row.index = get_u32(d);
    row.value = get_f64(d);
    row.unit = get_str(d);
    tr_err e;
    if (!d->bad)
        (void)!tr_reports_sample(r, &row, &e);
}

static void take_cycle(dec *d, tr_reports *r, const tr_slot_id *who)
{
    tr_cycle_row row = {.who = who};
    row.cycle = get_u32(d);
    double *ms[] = {&row.off_ms, &row.to_device_ms, &row.to_reader_ms, &row.to_atr_ms, &row.to_first_apdu_ms,
                    &row.first_apdu_limit_ms};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        *ms[i] = get_f64(d);
    const char **text[] = {&row.atr, &row.stage, &row.power_level, &row.verdict, &row.message, &row.suite,
                           &row.test};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        *text[i] = get_str(d);
    tr_err e;
    if (!d->bad)
        (void)!tr_reports_cycle(r, &row, &e);
}

static void take_named(dec *d, tr_reports *r, tr_rowpipe_kind kind, const tr_slot_id *who)
{
    const char *name = get_str(d), *value = get_str(d);
    const char *source = kind == TR_ROWPIPE_PROVENANCE ? get_str(d) : NULL;
    tr_err e;
    if (d->bad || !name || (kind == TR_ROWPIPE_PROPERTY && !who))
        d->bad = true;
    else if (kind == TR_ROWPIPE_PROPERTY)
        (void)!tr_reports_slot_property(r, who, name, value, &e);
    else
        (void)!tr_reports_provenance(r, who, name, value, source, &e);
}

/* n bytes or the end: n read, 0 at the end before the first byte, -1 cut
 * or failed (errno; EPIPE for a stream cut inside). */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EPIPE;
            return got ? -1 : 0;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int tr_rowpipe_take(int fd, tr_reports *r, tr_err *e)
{
    uint32_t len;
    ssize_t n = read_full(fd, &len, sizeof len);
    if (n == 0)
        return 0;
    if (n < 0 || len < 2 || len > TR_ROWPIPE_MAX)
        return tr_fail(e, TR_E_IO, "report rows from a child process: %s",
                       n < 0 ? strerror(errno) : "a message of impossible length");
    uint8_t *msg = malloc(len);
    if (!msg)
        return tr_fail(e, TR_E_NOMEM, "out of memory for a report row of %u bytes", (unsigned)len);
    if (read_full(fd, msg, len) != (ssize_t)len) {
        free(msg);
        return tr_fail(e, TR_E_IO, "report rows from a child process: the stream ends inside a message");
    }
    dec d = {msg + 1, msg + len, false};
    tr_slot_id who;
    bool has_who = get_who(&d, &who);
    const tr_slot_id *w = has_who ? &who : NULL;
    switch ((tr_rowpipe_kind)msg[0]) {
    case TR_ROWPIPE_RESULT: take_result(&d, r, w); break;
    case TR_ROWPIPE_TRACE: take_trace(&d, r, w); break;
    case TR_ROWPIPE_SAMPLE: take_sample(&d, r, w); break;
    case TR_ROWPIPE_CYCLE: take_cycle(&d, r, w); break;
    case TR_ROWPIPE_PROPERTY:
    case TR_ROWPIPE_PROVENANCE: take_named(&d, r, (tr_rowpipe_kind)msg[0], w); break;
    default: d.bad = true; break;
    }
    int kind = msg[0];
    bool bad = d.bad || d.p != d.end;
    free(msg);
    if (bad)
        return tr_fail(e, TR_E_IO, "report rows from a child process: a broken message (kind %d)", kind);
    return 1;
}
