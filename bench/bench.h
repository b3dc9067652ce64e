/*
 * weft-bench's harness: suites, implementations, the thread runner and the results.
 *
 * A suite (counter, mutex, ...) is a table of implementations, one line each. An
 * implementation builds shared state for a run, and each benchmark thread calls its `op`
 * in a loop; one call does a batch of operations and returns how many. One call in
 * BENCH_SAMPLE_EVERY is timed for the latency histogram (its time divided by its batch).
 * After every run the implementation's `verify` checks the structure's answer (exact sums,
 * exactly-once): a fast wrong answer is a failure, not a result.
 */
#ifndef WEFT_BENCH_BENCH_H
#define WEFT_BENCH_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/stats.h"

#define BENCH_MAX_THREADS 1024
#define BENCH_MAX_LIST 32
#define BENCH_SAMPLE_EVERY 64
#define BENCH_PAD 128

/* Settings of one run, from the command line. */
typedef struct bench_cfg {
	double duration_s;  /* measured time per run (0 with ops mode) */
	uint64_t ops;       /* total operations per run, 0 = duration mode */
	double warmup_s;
	unsigned repeat;
	bool pin;
	unsigned threads[BENCH_MAX_LIST];
	size_t nthreads;
	unsigned read_pct[BENCH_MAX_LIST];
	size_t nread_pct;
	bool read_pct_set;
	long cs_ns;         /* -1: the suite's default pair (short and long) */
	unsigned producers, consumers; /* 0: P = C = each --threads value */
	size_t capacity;
	char **impls;       /* --impl filter, NULL-terminated, or NULL */
} bench_cfg;

/* One figure's workload shape, as the suite's variants and the sweep give it. */
typedef struct bench_shape {
	char variant[48];   /* "adds", "cs=50ns", "read=99%", "P=C", ... */
	unsigned threads;   /* total benchmark threads */
	unsigned producers, consumers; /* queue suite; 0 elsewhere */
	unsigned read_pct;
	long cs_ns;
	size_t capacity;
	unsigned label_threads; /* the number the table shows in its threads column */
	unsigned workload;  /* suite-defined variant index (sched: fib, skynet, ...) */
	unsigned sample_every; /* time one call in this many (0: BENCH_SAMPLE_EVERY) */
	bool whole_calls;   /* duration mode: every call started within --duration counts and
			     * the clock stops when the last one ends (calls that are long
			     * jobs: a sched job would otherwise be cut off by the window) */
} bench_shape;

/* A benchmark thread, as an implementation's op sees it. */
typedef struct bench_thread {
	unsigned id;        /* 0 .. threads-1 */
	unsigned role;      /* suite-defined: queue 0 producer, 1 consumer; reclaim 1 updater */
	unsigned role_id;   /* index within the role */
	bool counted;       /* its ops count toward throughput */
	uint64_t rng;
	void *local;        /* the implementation's per-thread state */
	uint64_t ops;       /* total ops over the run, warmup included */
	bool has_quota;     /* ops mode: it gets a share of --ops (assign() may clear it) */
	uint64_t quota;     /* ops mode: stop after this many (0: none, run until others finish) */
	unsigned idle;      /* failed attempts in a row, for bench_backoff across calls */
	const bench_shape *shape;
	const bench_cfg *cfg;
	/* private to the runner */
	_Alignas(BENCH_PAD) _Atomic uint64_t published; /* measured-phase ops, for main */
	uint64_t calls;
	uint64_t measured_ops;
	bench_hist *hist;
	struct bench_run *run;
	char pad_[BENCH_PAD];
} bench_thread;

typedef struct bench_impl {
	const char *name;
	const char *what; /* one line for --list */
	/* NULL if it can run in this build/shape, else why not (shown as skipped). */
	const char *(*unavailable)(const bench_shape *sh);
	/* Shared state for one run; NULL on failure (message in err). */
	void *(*create)(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t errlen);
	void (*destroy)(void *s);
	/* Optional, on the benchmark thread before/after its loop. 0 or an errno value. */
	int (*thread_init)(void *s, bench_thread *t);
	void (*thread_fini)(void *s, bench_thread *t);
	/* One timed call: a batch of operations; returns how many were done (0 allowed). */
	uint64_t (*op)(void *s, bench_thread *t);
	/* Optional, on each thread when warmup ends, and when the run ends (after the loop):
	 * settle in-flight work (queue consumers drain). Returns the ops it did, which count
	 * toward an ops-mode run (whose clock stops after the last settle). */
	uint64_t (*settle)(void *s, bench_thread *t, int phase);
	/* After all threads joined: 0 if the answer is right, else -1 with a message. */
	int (*verify)(void *s, bench_thread *threads, unsigned n, char *err, size_t errlen);
	/* Optional: role of thread i for this shape (default 0, counted). */
	void (*assign)(const bench_shape *sh, unsigned i, bench_thread *t);
} bench_impl;

#define BENCH_SETTLE_WARMUP 0
#define BENCH_SETTLE_END 1

typedef struct bench_suite {
	const char *name;
	const char *what;
	const char *unit_note;  /* what one op is, for the table header */
	const bench_impl *impls;
	size_t nimpls;
	/* NULL if the suite can run in this build, else why not. */
	const char *(*unavailable)(void);
	/* Fill shapes for this configuration; returns the count (at most max). */
	size_t (*shapes)(const bench_cfg *cfg, bench_shape *out, size_t max);
} bench_suite;

extern const bench_suite bench_suite_counter, bench_suite_mutex, bench_suite_rwlock,
	bench_suite_queue, bench_suite_reclaim, bench_suite_sched, bench_suite_pool;

/* One repeat of one figure. */
typedef struct bench_sample {
	double secs, mops, cpu_s;
	uint64_t ops;
	long vcsw, ivcsw, minflt, majflt;
} bench_sample;

typedef enum { FIG_OK, FIG_SKIPPED, FIG_FAILED } bench_status;

typedef struct bench_figure {
	const bench_suite *suite;
	const bench_impl *impl;
	bench_shape shape;
	bench_sample *samples;
	size_t nsamples;
	bench_hist hist; /* sampled per-op latency, all repeats */
	bench_summary sum;
	bench_status status;
	char note[256];
	bool fastest;
	double ratio; /* median / the fastest median of its row */
} bench_figure;

typedef struct bench_results {
	bench_figure *figs;
	size_t nfigs, cap;
	const bench_cfg *cfg;
	char started[32];
	double spin_per_ns; /* calibrated busy-work loop */
} bench_results;

/* Runner (harness.c) */
void bench_calibrate(void);
double bench_spin_rate(void);
/* Busy work of about ns nanoseconds (calibrated loop, no system calls). */
void bench_spin_ns(long ns);
/* Run one repeat; 0 or -1 with a message (verification failure or setup error). */
int bench_run_once(const bench_impl *impl, const bench_shape *sh, const bench_cfg *cfg,
		   bench_sample *out, bench_hist *hist, char *err, size_t errlen);
uint64_t bench_now_ns(void);
/* The ops-mode stop signal for threads without a quota (queue consumers). */
bool bench_quota_done(const bench_thread *t);
/* Duration mode: has main asked the threads to stop? */
bool bench_stopping(const bench_thread *t);
/* Backoff for an op that could not progress: pause, then sched_yield. */
void bench_backoff(unsigned *spins);
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}
/* True when built with ThreadSanitizer: ck's inline-asm atomics and the uninstrumented
 * liburcu are invisible to it, so implementations built on them sit out. */
const char *bench_unavail_tsan(const bench_shape *sh);

/* Reports (report.c) */
void bench_print_table(FILE *f, const bench_results *r);
int bench_write_json(FILE *f, const bench_results *r);
int bench_write_csv(FILE *f, const bench_results *r);
void bench_rank(bench_results *r);

/* Machine and build information (machine.c) */
void bench_json_machine(FILE *f);
const char *bench_cpu_model(void);

/* Subcommands */
int bench_compare_main(int argc, char **argv);
int bench_plot_main(int argc, char **argv);
/* Plots every suite in a results JSON to dir; 0, 3 when gnuplot is missing, 1 on error. */
int bench_plot_file(const char *json_path, const char *dir, bool quiet_missing);

#endif
