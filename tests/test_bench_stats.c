/*
 * weft-bench's statistics against known values: the log-linear histogram (buckets,
 * quantiles, merge), sample quantiles and the repeat summary, and the Mann-Whitney U test
 * (exact p-values enumerated independently, R's wilcox.test agrees; the normal
 * approximation computed by hand).
 */
#include <math.h>

#include "bench/core/stats.h"
#include "weft_test.h"

#define CHECK_NEAR(a, b, tol)                                                                    \
	do {                                                                                     \
		double weft_x_ = (a), weft_y_ = (b);                                             \
		if (!(fabs(weft_x_ - weft_y_) <= (tol))) {                                       \
			char weft_d_[128];                                                       \
			snprintf(weft_d_, sizeof weft_d_, "%.12g vs %.12g", weft_x_, weft_y_);   \
			weft_test_fail(__FILE__, __LINE__, #a " ~ " #b, weft_d_);                \
		}                                                                                \
	} while (0)

WEFT_TEST(hist_buckets)
{
	/* Exact below 64: bucket i holds exactly i. */
	for (uint64_t v = 0; v < 64; v++) {
		CHECK_EQ(bench_hist_bucket(v), v);
		CHECK_EQ(bench_hist_bucket_lo((unsigned)v), v);
		CHECK_EQ(bench_hist_bucket_hi((unsigned)v), v);
	}
	/* Above, every value lies in its bucket, buckets are contiguous, and a bucket is at
	 * most 1/32 of its values wide. */
	for (uint64_t v = 64; v < (UINT64_C(1) << 40); v = v + v / 7 + 1) {
		unsigned b = bench_hist_bucket(v);
		CHECK(bench_hist_bucket_lo(b) <= v && v <= bench_hist_bucket_hi(b));
		CHECK_EQ(bench_hist_bucket_hi(b) + 1, bench_hist_bucket_lo(b + 1));
		double width = (double)(bench_hist_bucket_hi(b) - bench_hist_bucket_lo(b) + 1);
		CHECK(width / (double)bench_hist_bucket_lo(b) <= 1.0 / 32 + 1e-12);
	}
	CHECK_EQ(bench_hist_bucket(99), bench_hist_bucket(98));
	CHECK_EQ(bench_hist_bucket_lo(bench_hist_bucket(99)), 98);
	CHECK_EQ(bench_hist_bucket(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

WEFT_TEST(hist_quantiles)
{
	static bench_hist h, h2;
	bench_hist_init(&h);
	CHECK_EQ(bench_hist_quantile(&h, 0.5), 0);
	for (uint64_t v = 1; v <= 100; v++)
		bench_hist_add(&h, v);
	CHECK_EQ(h.count, 100);
	CHECK_EQ(h.min, 1);
	CHECK_EQ(h.max, 100);
	CHECK_EQ(bench_hist_quantile(&h, 0.0), 1);
	CHECK_EQ(bench_hist_quantile(&h, 0.5), 50);  /* nearest rank 50, exact bucket */
	CHECK_EQ(bench_hist_quantile(&h, 0.63), 63);
	CHECK_EQ(bench_hist_quantile(&h, 0.95), 94); /* 95 is in bucket [94, 95] */
	CHECK_EQ(bench_hist_quantile(&h, 0.99), 98); /* 99 is in bucket [98, 99] */
	CHECK_EQ(bench_hist_quantile(&h, 1.0), 100); /* clamped to the maximum */
	/* One large outlier: p99.9 of 1000 values finds it, within 3%. */
	bench_hist_init(&h2);
	for (int i = 0; i < 999; i++)
		bench_hist_add(&h2, 20);
	bench_hist_add(&h2, 1000000);
	CHECK_EQ(bench_hist_quantile(&h2, 0.999), 20);
	CHECK_EQ(bench_hist_quantile(&h2, 1.0), 1000000);
	uint64_t big = bench_hist_quantile(&h2, 0.9995);
	CHECK(big >= 970000 && big <= 1000000);
	bench_hist_merge(&h, &h2);
	CHECK_EQ(h.count, 1100);
	CHECK_EQ(h.min, 1);
	CHECK_EQ(h.max, 1000000);
	CHECK_EQ(bench_hist_quantile(&h, 0.5), 20); /* ranks 550: 100 values 1..100 + 999 20s */
}

WEFT_TEST(sample_quantiles)
{
	double a[] = { 3, 1, 2 }, b[] = { 4, 1, 3, 2 }, c[] = { 5, 4, 3, 2, 1 };
	CHECK_NEAR(bench_median(a, 3), 2, 0);
	CHECK_NEAR(bench_median(b, 4), 2.5, 0);
	CHECK_NEAR(bench_quantile(c, 5, 0.25), 2, 1e-12);
	CHECK_NEAR(bench_quantile(c, 5, 0.1), 1.4, 1e-12);
	CHECK_NEAR(bench_quantile(c, 5, 1), 5, 0);
	CHECK_NEAR(a[0], 3, 0); /* the input is not reordered */
	bench_summary s;
	double d[] = { 90, 100, 110, 104, 96 };
	bench_summarize(d, 5, &s);
	CHECK_NEAR(s.median, 100, 0);
	CHECK_NEAR(s.min, 90, 0);
	CHECK_NEAR(s.max, 110, 0);
	CHECK_NEAR(s.mean, 100, 1e-12);
	CHECK_NEAR(s.spread_pct, 10, 1e-9);
	double e[] = { 100, 100, 100, 100, 150 };
	bench_summarize(e, 5, &s);
	CHECK_NEAR(s.spread_pct, 50, 1e-9);
}

WEFT_TEST(mann_whitney_exact)
{
	bench_mwu u;
	double x1[] = { 1, 2, 3, 4, 5 }, y1[] = { 6, 7, 8, 9, 10 };
	CHECK_EQ(bench_mann_whitney(x1, 5, y1, 5, &u), 0);
	CHECK(u.exact);
	CHECK_NEAR(u.u, 0, 0);
	CHECK_NEAR(u.p, 2.0 / 252, 1e-12);
	CHECK_NEAR(u.min_p, 2.0 / 252, 1e-12);
	/* Symmetric: swapping the samples keeps p, U becomes n1*n2 - U. */
	CHECK_EQ(bench_mann_whitney(y1, 5, x1, 5, &u), 0);
	CHECK_NEAR(u.u, 25, 0);
	CHECK_NEAR(u.p, 2.0 / 252, 1e-12);

	double x2[] = { 1, 2, 3 }, y2[] = { 4, 5, 6 };
	bench_mann_whitney(x2, 3, y2, 3, &u);
	CHECK_NEAR(u.p, 0.1, 1e-12); /* 3 repeats a side can never reach p < 0.05 */
	CHECK_NEAR(u.min_p, 0.1, 1e-12);

	double x3[] = { 1, 3, 5, 7, 9 }, y3[] = { 2, 4, 6, 8, 10 };
	bench_mann_whitney(x3, 5, y3, 5, &u);
	CHECK_NEAR(u.u, 10, 0);
	CHECK_NEAR(u.p, 174.0 / 252, 1e-12); /* R: wilcox.test -> p-value = 0.6905 */

	/* Ties, as mid-ranks: the permutation distribution of the tied ranks. */
	double x4[] = { 1, 2, 2, 3 }, y4[] = { 2, 3, 3, 4 };
	bench_mann_whitney(x4, 4, y4, 4, &u);
	CHECK_NEAR(u.u, 3, 0);
	CHECK_NEAR(u.p, 20.0 / 70, 1e-12);

	double x5[] = { 10.1, 10.4, 9.8, 10.0, 10.2 }, y5[] = { 11.0, 10.3, 11.2, 10.9, 11.4 };
	bench_mann_whitney(x5, 5, y5, 5, &u);
	CHECK_NEAR(u.u, 1, 0);
	CHECK_NEAR(u.p, 4.0 / 252, 1e-12);

	double x6[] = { 5, 5, 5 };
	bench_mann_whitney(x6, 3, x6, 3, &u);
	CHECK_NEAR(u.p, 1, 1e-12);
	CHECK_EQ(bench_mann_whitney(x6, 0, x6, 3, &u), -1);
}

WEFT_TEST(mann_whitney_normal)
{
	/* 30 against 30, no ties: the normal approximation with continuity correction,
	 * U = 120, mean 450, variance 30*30*61/12: p = erfc((330 - 0.5) / sqrt(4575) / sqrt 2). */
	double x[30], y[30];
	for (int i = 0; i < 30; i++) {
		x[i] = i + 1;
		y[i] = i + 15.5;
	}
	bench_mwu u;
	CHECK_EQ(bench_mann_whitney(x, 30, y, 30, &u), 0);
	CHECK(!u.exact);
	CHECK_NEAR(u.u, 120, 0);
	CHECK_NEAR(u.p, 1.107720074833916e-06, 1e-15);
	/* Identical samples: no evidence at all. */
	bench_mann_whitney(x, 30, x, 30, &u);
	CHECK(u.p > 0.99);
	/* 25 against 25 is still exact (n1 + n2 <= 50) and agrees with the normal tail. */
	bench_mann_whitney(x, 25, y, 25, &u);
	CHECK(u.exact);
	CHECK(u.p < 1e-4);
}
