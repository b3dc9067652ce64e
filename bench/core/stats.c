/* weft-bench statistics: see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB_COUNT (1u << BENCH_HIST_SUB_BITS)

void bench_hist_init(bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

unsigned bench_hist_bucket(uint64_t v)
{
	if (v < SUB_COUNT)
		return (unsigned)v;
	if (v >> BENCH_HIST_MAX_BITS)
		return BENCH_HIST_BUCKETS - 1;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned group = msb - BENCH_HIST_SUB_BITS + 1;
	unsigned sub = (unsigned)(v >> (msb - BENCH_HIST_SUB_BITS)) - SUB_COUNT;
	return (group << BENCH_HIST_SUB_BITS) + sub;
}

uint64_t bench_hist_bucket_lo(unsigned b)
{
	unsigned group = b >> BENCH_HIST_SUB_BITS, sub = b & (SUB_COUNT - 1);
	if (group == 0)
		return sub;
	return (uint64_t)(SUB_COUNT + sub) << (group - 1);
}

uint64_t bench_hist_bucket_hi(unsigned b)
{
	unsigned group = b >> BENCH_HIST_SUB_BITS;
	if (group == 0)
		return bench_hist_bucket_lo(b);
	return bench_hist_bucket_lo(b) + (UINT64_C(1) << (group - 1)) - 1;
}

void bench_hist_add(bench_hist *h, uint64_t v)
{
	h->buckets[bench_hist_bucket(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
	if (from->count == 0)
		return;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t lo = bench_hist_bucket_lo(i), hi = bench_hist_bucket_hi(i);
			uint64_t mid = lo + (hi - lo) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_quantile(const double *x, size_t n, double q)
{
	if (n == 0)
		return 0;
	double *s = malloc(n * sizeof *s);
	if (!s)
		return NAN;
	memcpy(s, x, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_double);
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	size_t hi = lo + 1 < n ? lo + 1 : lo;
	double r = s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
	free(s);
	return r;
}

double bench_median(const double *x, size_t n)
{
	return bench_quantile(x, n, 0.5);
}

void bench_summarize(const double *x, size_t n, bench_summary *s)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	if (n == 0)
		return;
	s->median = bench_median(x, n);
	s->min = s->max = x[0];
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (x[i] < s->min)
			s->min = x[i];
		if (x[i] > s->max)
			s->max = x[i];
		sum += x[i];
	}
	s->mean = sum / (double)n;
	if (s->median > 0) {
		double lo = (s->median - s->min) / s->median, hi = (s->max - s->median) / s->median;
		s->spread_pct = 100.0 * (lo > hi ? lo : hi);
	}
}

/* Doubled mid-ranks (integers) of the pooled sample; returns the tie term sum(t^3 - t). */
static double doubled_ranks(const double *pool, size_t n, long *rank2)
{
	size_t *idx = malloc(n * sizeof *idx);
	double ties = 0;
	if (!idx)
		return -1;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* Insertion sort of indices by value: n is small (repeats). */
	for (size_t i = 1; i < n; i++) {
		size_t k = idx[i], j = i;
		while (j > 0 && pool[idx[j - 1]] > pool[k]) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = k;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && pool[idx[j + 1]] == pool[idx[i]])
			j++;
		/* Ranks i+1 .. j+1 share their mean (i+j+2)/2; doubled: i+j+2. */
		for (size_t k = i; k <= j; k++)
			rank2[idx[k]] = (long)(i + j + 2);
		double t = (double)(j - i + 1);
		ties += t * t * t - t;
		i = j + 1;
	}
	free(idx);
	return ties;
}

/*
 * Exact two-sided p: count the n1-subsets of the pooled doubled ranks whose sum D lies at
 * least as far from its mean as the observed one (a subset-sum count, dynamic programming
 * over items; counts in double are exact up to 2^53 and relatively exact beyond).
 */
static int mwu_exact(const long *rank2, size_t n, size_t n1, long obs2, bench_mwu *out)
{
	long total = 0;
	for (size_t i = 0; i < n; i++)
		total += rank2[i];
	long maxsum = total;
	double *ways = calloc((n1 + 1) * (size_t)(maxsum + 1), sizeof *ways);
	if (!ways)
		return -1;
#define W(k, s) ways[(size_t)(k) * (size_t)(maxsum + 1) + (size_t)(s)]
	W(0, 0) = 1;
	for (size_t i = 0; i < n; i++)
		for (size_t k = (i + 1 < n1 ? i + 1 : n1); k >= 1; k--)
			for (long s = maxsum; s >= rank2[i]; s--)
				W(k, s) += W(k - 1, s - rank2[i]);
	/* mean of a subset's sum, doubled to stay integral: n1 * total / n, compared as
	 * |n*s - n1*total| to avoid fractions. */
	double all = 0, tail = 0, extreme = 0;
	long long obsdev = llabs((long long)n * obs2 - (long long)n1 * total);
	long long maxdev = 0;
	for (long s = 0; s <= maxsum; s++) {
		if (W(n1, s) == 0)
			continue;
		long long dev = llabs((long long)n * s - (long long)n1 * total);
		if (dev > maxdev)
			maxdev = dev;
	}
	for (long s = 0; s <= maxsum; s++) {
		double w = W(n1, s);
		if (w == 0)
			continue;
		long long dev = llabs((long long)n * s - (long long)n1 * total);
		all += w;
		if (dev >= obsdev)
			tail += w;
		if (dev >= maxdev)
			extreme += w;
	}
#undef W
	free(ways);
	out->p = tail / all;
	out->min_p = extreme / all;
	out->exact = 1;
	return 0;
}

int bench_mann_whitney(const double *x, size_t n1, const double *y, size_t n2, bench_mwu *out)
{
	memset(out, 0, sizeof *out);
	if (n1 == 0 || n2 == 0)
		return -1;
	size_t n = n1 + n2;
	double *pool = malloc(n * sizeof *pool);
	long *rank2 = malloc(n * sizeof *rank2);
	if (!pool || !rank2) {
		free(pool);
		free(rank2);
		return -1;
	}
	memcpy(pool, x, n1 * sizeof *x);
	memcpy(pool + n1, y, n2 * sizeof *y);
	double ties = doubled_ranks(pool, n, rank2);
	long r2 = 0;
	for (size_t i = 0; i < n1; i++)
		r2 += rank2[i];
	out->u = (double)r2 / 2.0 - (double)n1 * (double)(n1 + 1) / 2.0;
	int rc = 0;
	if (ties < 0) {
		rc = -1;
	} else if (n <= 50) {
		rc = mwu_exact(rank2, n, n1, r2, out);
	} else {
		double mean = (double)n1 * (double)n2 / 2.0;
		double var = (double)n1 * (double)n2 / 12.0 *
			     ((double)(n + 1) - ties / ((double)n * (double)(n - 1)));
		double dev = fabs(out->u - mean) - 0.5;
		if (dev < 0)
			dev = 0;
		out->p = var > 0 ? erfc(dev / sqrt(var) / sqrt(2.0)) : 1.0;
		if (out->p > 1)
			out->p = 1;
	}
	free(pool);
	free(rank2);
	return rc;
}
