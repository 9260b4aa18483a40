#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double tr_percentile(const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank > n ? n - 1 : rank - 1];
}

void tr_stats_compute(double *v, size_t n, tr_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    out->mean = sum / (double)n;
    out->p50 = tr_percentile(v, n, 50);
    out->p95 = tr_percentile(v, n, 95);
    out->p99 = tr_percentile(v, n, 99);
    out->max = v[n - 1];
    out->rate = sum > 0 ? (double)n / (sum / 1000.0) : 0;
}
