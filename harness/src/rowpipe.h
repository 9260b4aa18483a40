/* rowpipe.h — the report rows of a child process, over a pipe to its parent.
 *
 * Owns: a run split over several processes writing one report directory
 * (run.c: one child per pcscd of a virtual rig of more than 16 slots). The
 * child's tr_reports (tr_reports_forward) sends every result, trace, sample
 * and cycle row, slot property and provenance row as one message; the
 * parent reads each message and hands it to its own tr_reports, which
 * writes the files, keeps the results for JUnit and the summary, and keeps
 * any write failure for the run's exit status.
 * A message: u32 length of what follows, u8 kind, then the row's fields in
 * order — a string as u32 length with its NUL (0: NULL) and its bytes, a
 * number as its 4 or 8 bytes (parent and child are one program on one
 * machine: no byte order to agree on). At most TR_ROWPIPE_MAX bytes.
 * Must not: write report files or interpret rows.
 */
#ifndef TR_ROWPIPE_H
#define TR_ROWPIPE_H

#include "error.h"
#include "reports.h"

#define TR_ROWPIPE_MAX (16u << 20)

typedef enum {
    TR_ROWPIPE_RESULT = 1,
    TR_ROWPIPE_TRACE,
    TR_ROWPIPE_SAMPLE,
    TR_ROWPIPE_CYCLE,
    TR_ROWPIPE_PROPERTY,   /* a slot property: who, name, value */
    TR_ROWPIPE_PROVENANCE, /* who (absent: run-wide), name, value, source */
} tr_rowpipe_kind;

/* Child: one message to fd with one write(2) (more only when the pipe takes
 * it in parts); callers sharing fd serialise. -1 with e when it could not
 * be sent whole (the parent is gone). */
TR_MUST_CHECK int tr_rowpipe_send_result(int fd, const tr_result_row *row, tr_err *e);
TR_MUST_CHECK int tr_rowpipe_send_trace(int fd, const tr_trace_row *row, tr_err *e);
TR_MUST_CHECK int tr_rowpipe_send_sample(int fd, const tr_sample_row *row, tr_err *e);
TR_MUST_CHECK int tr_rowpipe_send_cycle(int fd, const tr_cycle_row *row, tr_err *e);
TR_MUST_CHECK int tr_rowpipe_send_property(int fd, const tr_slot_id *who, const char *name, const char *value,
                                           tr_err *e);
TR_MUST_CHECK int tr_rowpipe_send_provenance(int fd, const tr_slot_id *who, const char *name, const char *value,
                                             const char *source, tr_err *e);

/* Parent: read one message from fd and hand it to r. 1 taken (a row r
 * could not write counts as taken: r keeps that failure), 0 the end of
 * the stream, -1 with e when the stream is broken (cut inside a message,
 * too long, a field past its end, an unknown kind). */
int tr_rowpipe_take(int fd, tr_reports *r, tr_err *e);

#endif
