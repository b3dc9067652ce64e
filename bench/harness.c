/*
 * The thread runner: one repeat of one figure.
 *
 * Phases, set by the main thread: WARMUP (threads run the op, nothing recorded), SYNC
 * (threads settle, e.g. queue consumers drain, then wait at a barrier), GO (the measured
 * phase: duration mode until STOP, ops mode until each thread's quota), STOP.
 * In duration mode the throughput window is exact: each thread publishes its measured op
 * count after every call (a plain store to its own line), and main reads the sum at t0 and
 * t1. In ops mode the run ends when the last quota thread finishes.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <weft/common.h>

enum { PH_INIT, PH_WARMUP, PH_SYNC, PH_GO, PH_STOP };

struct bench_run {
	_Alignas(BENCH_PAD) _Atomic int phase;
	_Alignas(BENCH_PAD) _Atomic unsigned arrived;
	_Atomic unsigned quota_left;
	_Atomic int init_err;
	const bench_impl *impl;
	void *state;
	bench_thread *threads;
	unsigned n;
	bool ops_mode;
	unsigned sample_every;
	uint64_t *end_ns;
	cpu_set_t *cpus;
	int ncpus;
	int cpu_ids[BENCH_MAX_THREADS];
};

static double spin_per_ns = 1.0;

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void spin_iters(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ __volatile__("" ::: "memory");
}

void bench_calibrate(void)
{
	double best = 0;
	for (int round = 0; round < 3; round++) {
		uint64_t n = 2000000, t0 = bench_now_ns();
		spin_iters(n);
		double rate = (double)n / (double)(bench_now_ns() - t0 + 1);
		if (rate > best)
			best = rate;
	}
	spin_per_ns = best > 0 ? best : 1.0;
}

double bench_spin_rate(void)
{
	return spin_per_ns;
}

void bench_spin_ns(long ns)
{
	if (ns > 0)
		spin_iters((uint64_t)((double)ns * spin_per_ns));
}

void bench_backoff(unsigned *spins)
{
	if (++*spins < 64)
		weft_cpu_relax();
	else
		sched_yield();
}

bool bench_quota_done(const bench_thread *t)
{
	return atomic_load_explicit(&t->run->quota_left, memory_order_relaxed) == 0;
}

bool bench_stopping(const bench_thread *t)
{
	return atomic_load_explicit(&t->run->phase, memory_order_relaxed) >= PH_STOP;
}

const char *bench_unavail_tsan(const bench_shape *sh)
{
	(void)sh;
#if defined(WEFT_TSAN)
	return "ThreadSanitizer build: ck's inline-asm atomics and liburcu are invisible to it";
#else
	return NULL;
#endif
}

static void wait_phase(struct bench_run *r, int at_least)
{
	unsigned spins = 0;
	/* Acquire: pairs with main's release store of the phase, so whatever main set up
	 * before it (the state, the barrier count) is visible. */
	while (atomic_load_explicit(&r->phase, memory_order_acquire) < at_least)
		bench_backoff(&spins);
}

static uint64_t call_op(struct bench_run *r, bench_thread *t, bool sample)
{
	if (!sample)
		return r->impl->op(r->state, t);
	uint64_t a = bench_now_ns();
	uint64_t n = r->impl->op(r->state, t);
	uint64_t b = bench_now_ns();
	if (n)
		bench_hist_add(t->hist, (b - a) / n);
	return n;
}

static void *thread_main(void *arg)
{
	bench_thread *t = arg;
	struct bench_run *r = t->run;
	if (r->cpus) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(r->cpu_ids[t->id % (unsigned)r->ncpus], &one);
		pthread_setaffinity_np(pthread_self(), sizeof one, &one);
	}
	int err = r->impl->thread_init ? r->impl->thread_init(r->state, t) : 0;
	if (err)
		atomic_store_explicit(&r->init_err, err, memory_order_relaxed);
	wait_phase(r, PH_WARMUP);
	bool ok = atomic_load_explicit(&r->init_err, memory_order_relaxed) == 0;
	while (ok && atomic_load_explicit(&r->phase, memory_order_relaxed) == PH_WARMUP)
		t->ops += r->impl->op(r->state, t);
	if (ok && r->impl->settle)
		t->ops += r->impl->settle(r->state, t, BENCH_SETTLE_WARMUP);
	/* Release: pairs with main's acquire count of arrivals. */
	atomic_fetch_add_explicit(&r->arrived, 1, memory_order_release);
	wait_phase(r, PH_GO);
	ok = atomic_load_explicit(&r->init_err, memory_order_relaxed) == 0;
	while (ok) {
		if (r->ops_mode) {
			if (t->quota ? t->measured_ops >= t->quota : bench_quota_done(t))
				break;
		} else if (atomic_load_explicit(&r->phase, memory_order_relaxed) >= PH_STOP) {
			break;
		}
		uint64_t n = call_op(r, t, (++t->calls % r->sample_every) == 0);
		t->ops += n;
		t->measured_ops += n;
		if (t->counted)
			atomic_store_explicit(&t->published, t->measured_ops, memory_order_relaxed);
	}
	if (t->quota)
		atomic_fetch_sub_explicit(&r->quota_left, 1, memory_order_relaxed);
	if (ok && r->impl->settle) {
		uint64_t n = r->impl->settle(r->state, t, BENCH_SETTLE_END);
		t->ops += n;
		if (r->ops_mode)
			t->measured_ops += n;
	}
	r->end_ns[t->id] = bench_now_ns();
	if (r->impl->thread_fini)
		r->impl->thread_fini(r->state, t);
	return NULL;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}

static int cpu_list(int *ids, int max)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			ids[n++] = c;
	return n;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static uint64_t sum_published(struct bench_run *r)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < r->n; i++)
		s += atomic_load_explicit(&r->threads[i].published, memory_order_relaxed);
	return s;
}

int bench_run_once(const bench_impl *impl, const bench_shape *sh, const bench_cfg *cfg,
		   bench_sample *out, bench_hist *hist, char *err, size_t errlen)
{
	unsigned n = sh->threads;
	struct bench_run *r = calloc(1, sizeof *r);
	bench_thread *th = aligned_alloc(BENCH_PAD, sizeof(bench_thread) * n);
	bench_hist *hists = malloc(sizeof(bench_hist) * n);
	pthread_t *tids = calloc(n, sizeof *tids);
	uint64_t *end_ns = calloc(n, sizeof *end_ns);
	int rc = -1;
	unsigned started = 0;
	struct rusage ru0, ru1;
	uint64_t t0 = 0, t1 = 0, total = 0;
	memset(out, 0, sizeof *out);
	memset(&ru0, 0, sizeof ru0);
	memset(&ru1, 0, sizeof ru1);
	if (!r || !th || !hists || !tids || !end_ns) {
		snprintf(err, errlen, "out of memory for %u threads", n);
		goto out;
	}
	memset(th, 0, sizeof(bench_thread) * n);
	r->impl = impl;
	r->threads = th;
	r->n = n;
	r->ops_mode = cfg->ops > 0;
	r->sample_every = sh->sample_every ? sh->sample_every : BENCH_SAMPLE_EVERY;
	r->end_ns = end_ns;
	if (cfg->pin) {
		r->ncpus = cpu_list(r->cpu_ids, BENCH_MAX_THREADS);
		if (r->ncpus > 0)
			r->cpus = (cpu_set_t *)1; /* non-NULL: pinning on */
	}
	r->state = impl->create(sh, cfg, err, errlen);
	if (!r->state)
		goto out;
	unsigned quota_threads = 0;
	for (unsigned i = 0; i < n; i++) {
		bench_thread *t = &th[i];
		t->id = i;
		t->counted = true;
		t->has_quota = true;
		t->rng = 0x9E3779B97F4A7C15ull * (i + 1) ^ bench_now_ns();
		t->shape = sh;
		t->cfg = cfg;
		t->run = r;
		t->hist = &hists[i];
		bench_hist_init(t->hist);
		if (impl->assign)
			impl->assign(sh, i, t);
	}
	if (r->ops_mode) {
		/* The run's ops are split over the threads with a quota (all by default; a
		 * suite's assign() takes it from e.g. queue consumers, which run until the
		 * quota threads are done). */
		unsigned nq = 0;
		for (unsigned i = 0; i < n; i++)
			nq += th[i].has_quota;
		for (unsigned i = 0; i < n; i++) {
			if (!th[i].has_quota)
				continue;
			th[i].quota = (cfg->ops + nq - 1) / nq;
			if (th[i].quota == 0)
				th[i].quota = 1;
			quota_threads++;
		}
	}
	atomic_store_explicit(&r->quota_left, quota_threads, memory_order_relaxed);
	for (; started < n; started++) {
		int e = pthread_create(&tids[started], NULL, thread_main, &th[started]);
		if (e) {
			snprintf(err, errlen, "pthread_create: %s (thread %u of %u)", strerror(e),
				 started + 1, n);
			atomic_store_explicit(&r->init_err, e, memory_order_relaxed);
			atomic_store_explicit(&r->quota_left, 0, memory_order_relaxed);
			/* Release: pairs with the threads' acquire in wait_phase. */
			atomic_store_explicit(&r->phase, PH_STOP, memory_order_release);
			goto join;
		}
	}
	/* Release: pairs with wait_phase's acquire; the threads start the warmup. */
	atomic_store_explicit(&r->phase, PH_WARMUP, memory_order_release);
	sleep_s(cfg->warmup_s);
	atomic_store_explicit(&r->phase, PH_SYNC, memory_order_release);
	{
		unsigned spins = 0;
		/* Acquire: pairs with each thread's release increment after it settled. */
		while (atomic_load_explicit(&r->arrived, memory_order_acquire) < n)
			bench_backoff(&spins);
	}
	getrusage(RUSAGE_SELF, &ru0);
	t0 = bench_now_ns();
	atomic_store_explicit(&r->phase, PH_GO, memory_order_release);
	if (!r->ops_mode && sh->whole_calls) {
		/* The threads finish the call they are in, count it and note when it ended:
		 * the window is t0 .. the last end (below, as in ops mode). Release: as the
		 * other phase stores (the threads read it relaxed: only a stop signal). */
		sleep_s(cfg->duration_s);
		atomic_store_explicit(&r->phase, PH_STOP, memory_order_release);
	} else if (!r->ops_mode) {
		sleep_s(cfg->duration_s);
		total = sum_published(r);
		/* A job longer than the window (a sched op) would read as 0 ops: extend the
		 * window to the first completed call, at most 20 durations. */
		for (int k = 0; total == 0 && k < 20000; k++) {
			sleep_s(cfg->duration_s / 1000);
			total = sum_published(r);
		}
		t1 = bench_now_ns();
		getrusage(RUSAGE_SELF, &ru1);
		atomic_store_explicit(&r->phase, PH_STOP, memory_order_release);
	}
join:
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (started < n)
		goto out;
	if (r->ops_mode || sh->whole_calls) {
		getrusage(RUSAGE_SELF, &ru1);
		t1 = t0;
		for (unsigned i = 0; i < n; i++) {
			if (end_ns[i] > t1)
				t1 = end_ns[i];
			if (th[i].counted)
				total += th[i].measured_ops;
		}
	}
	int ie = atomic_load_explicit(&r->init_err, memory_order_relaxed);
	if (ie) {
		snprintf(err, errlen, "thread set-up failed: %s", strerror(ie));
		goto out;
	}
	out->ops = total;
	out->secs = (double)(t1 - t0) / 1e9;
	out->mops = out->secs > 0 ? (double)total / out->secs / 1e6 : 0;
	out->cpu_s = tv_s(ru1.ru_utime) + tv_s(ru1.ru_stime) - tv_s(ru0.ru_utime) -
		     tv_s(ru0.ru_stime);
	out->vcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	out->ivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	out->minflt = ru1.ru_minflt - ru0.ru_minflt;
	out->majflt = ru1.ru_majflt - ru0.ru_majflt;
	for (unsigned i = 0; i < n; i++)
		bench_hist_merge(hist, &hists[i]);
	rc = impl->verify ? impl->verify(r->state, th, n, err, errlen) : 0;
out:
	if (r && r->state)
		impl->destroy(r->state);
	free(r);
	free(th);
	free(hists);
	free(tids);
	free(end_ns);
	return rc;
}
