/* stats.h — latency statistics of a sample set.
 *
 * Owns: n, mean, nearest-rank p50/p95/p99, max, and rate (samples per
 * second of summed time), used by `measure` in suites and by the
 * recognition loop's stage times.
 * Must not: allocate (it sorts the caller's array in place).
 */
#ifndef TR_STATS_H
#define TR_STATS_H

#include <stddef.h>

typedef struct {
    size_t n;
    double mean, p50, p95, p99, max;
    double rate; /* n / (sum of samples in s); 0 when the sum is 0 */
} tr_stats;

/* Samples in ms; v is sorted in place. All zero when n == 0. */
void tr_stats_compute(double *v, size_t n, tr_stats *out);
/* Nearest-rank percentile of an ascending array (n > 0). */
double tr_percentile(const double *sorted, size_t n, double p);

#endif
