/*
 * weft-bench's statistics: a log-linear latency histogram, quantiles of small samples,
 * the repeat summary (median, min, max, spread), and the Mann-Whitney U test that
 * `weft-bench compare` uses. No threads, no I/O: unit-tested by tests/test_bench_stats.c.
 */
#ifndef WEFT_BENCH_STATS_H
#define WEFT_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Log-linear histogram (HdrHistogram's layout): values below 2^BENCH_HIST_SUB_BITS are
 * exact; above, each power of two is split into 2^BENCH_HIST_SUB_BITS equal buckets, so a
 * reported value is within 1/2^BENCH_HIST_SUB_BITS (3%) of the true one. Values at or
 * above 2^BENCH_HIST_MAX_BITS land in the last bucket.
 */
#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_MAX_BITS 40
#define BENCH_HIST_BUCKETS ((BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS)

typedef struct bench_hist {
	uint64_t count;
	uint64_t min, max;
	uint64_t buckets[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_add(bench_hist *h, uint64_t value);
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* The bucket index of value, and the smallest and largest value a bucket holds. */
unsigned bench_hist_bucket(uint64_t value);
uint64_t bench_hist_bucket_lo(unsigned bucket);
uint64_t bench_hist_bucket_hi(unsigned bucket);
/*
 * The q-quantile (0 <= q <= 1) by the nearest-rank rule: the smallest recorded value v
 * such that at least ceil(q * count) values are <= v, reported as the middle of its bucket
 * (exact below 2^BENCH_HIST_SUB_BITS), clamped to [min, max]. 0 for an empty histogram.
 */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* Quantile of an unsorted sample (linear interpolation between order statistics, R-7). */
double bench_quantile(const double *x, size_t n, double q);
double bench_median(const double *x, size_t n);

/* What a figure's repeats come to. spread_pct: largest |x - median| / median, in %. */
typedef struct bench_summary {
	size_t n;
	double median, min, max, mean, spread_pct;
} bench_summary;

void bench_summarize(const double *x, size_t n, bench_summary *s);

/* Mann-Whitney U, two-sided. */
typedef struct bench_mwu {
	double u;     /* U of the first sample: pairs (x, y) with x > y, ties counting 1/2 */
	double p;     /* two-sided p-value */
	int exact;    /* 1: p from the full permutation distribution; 0: normal approximation */
	double min_p; /* the smallest p these sample sizes can give (exact only, else 0) */
} bench_mwu;

/*
 * bench_mann_whitney - two-sided Mann-Whitney U test of x (n1) against y (n2).
 * Exact (all C(n1+n2, n1) splits of the pooled ranks, ties as mid-ranks) when n1 + n2
 * <= 50, otherwise the normal approximation with tie and continuity corrections.
 * Returns 0, or -1 when n1 or n2 is 0.
 */
int bench_mann_whitney(const double *x, size_t n1, const double *y, size_t n2, bench_mwu *out);

#endif
