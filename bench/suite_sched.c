/*
 * sched: weft's runtime on task-parallel workloads. One benchmark thread drives: each op
 * call runs one whole job on a runtime of N workers (the threads column) and waits for it;
 * the ops it reports are the job's tasks, so Mops/s is millions of tasks per second.
 *   fib(18)      fork/join Fibonacci, a fork per call (2 fib(19) - 1 = 8361 calls)
 *   skynet(1e4)  a 10-ary fork/join tree over 10000 leaves (11111 tasks)
 *   spawn(5000)  one task weft_go()es 5000 tasks that each count and signal a wait group
 *   yield        2 x workers tasks each call weft_yield() 200 times (ops = yields)
 * Every call is timed (a job is long): the latency columns are per task, a job's mean.
 * Checks: fib and skynet return the known sums; every spawned task ran exactly once; every
 * yielding task finished. Implementations: the work-stealing scheduler and the shared-queue
 * thread pool (WEFT_SCHED_SHARED), side by side, and the peers found at build time (never
 * in sanitizer builds): OpenMP tasks, TBB task_group (no yield job: TBB tasks cannot
 * yield) and Go goroutines (go_peer, a child process for the run: one op sends it a job
 * and reads back the sum, so its figure includes a local socket round trip per job).
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/runtime.h>
#include <weft/wg.h>

#if WEFT_BENCH_HAVE_OMP
#include "peers/omp_sched.h"
#endif
#if WEFT_BENCH_HAVE_TBB
#include "peers/tbb_sched.h"
#endif
#if WEFT_BENCH_HAVE_GO
#include "peers/go_sched.h"
#endif

enum { W_FIB, W_SKYNET, W_SPAWN, W_YIELD, W_COUNT };

#if defined(WEFT_TSAN) || defined(WEFT_ASAN)
/* Sanitizer builds check correctness, not speed: jobs 10x smaller (names say the size). */
#define FIB_N 13
#define SKYNET_LEAVES 1000u
#define SKYNET_TASKS 1111u
#define SPAWN_N 500u
#define YIELDS 20u
#define SCHED_NAMES { "fib(13)", "skynet(1e3)", "spawn(500)", "yield" }
#else
#define FIB_N 18
#define SKYNET_LEAVES 10000u
#define SKYNET_TASKS 11111u
#define SPAWN_N 5000u
#define YIELDS 200u
#define SCHED_NAMES { "fib(18)", "skynet(1e4)", "spawn(5000)", "yield" }
#endif

typedef struct sched_state {
	weft_rt *rt;
	unsigned workload, workers;
	weft_wg wg;
	_Atomic uint64_t count;
	_Atomic uint64_t wrong;
	uint64_t result;
	char what[128];
	void *peer; /* a peer's handle (bench_tbb, bench_go) */
} sched_state;

typedef struct fib_task {
	weft_task t;
	int n;
	uint64_t r;
} fib_task;

static uint64_t fib(int n);

static void fib_fn(weft_task *t)
{
	fib_task *f = (fib_task *)t;
	f->r = fib(f->n);
}

static uint64_t fib(int n)
{
	if (n < 2)
		return (uint64_t)n;
	fib_task c;
	c.n = n - 1;
	bool forked = weft_fork(&c.t, fib_fn) == 0;
	if (!forked)
		c.r = fib(n - 1);
	uint64_t b = fib(n - 2);
	if (forked)
		weft_join(&c.t);
	return c.r + b;
}

static uint64_t fib_plain(int n)
{
	uint64_t a = 0, b = 1;
	for (int i = 0; i < n; i++) {
		uint64_t c = a + b;
		a = b;
		b = c;
	}
	return a;
}

typedef struct sky_task {
	weft_task t;
	uint64_t num, size, r;
} sky_task;

static uint64_t skynet(uint64_t num, uint64_t size);

static void sky_fn(weft_task *t)
{
	sky_task *k = (sky_task *)t;
	k->r = skynet(k->num, k->size);
}

static uint64_t skynet(uint64_t num, uint64_t size)
{
	if (size == 1)
		return num;
	sky_task c[10];
	bool forked[10];
	uint64_t sum = 0;
	size /= 10;
	for (int i = 0; i < 10; i++) {
		c[i].num = num + (uint64_t)i * size;
		c[i].size = size;
		forked[i] = weft_fork(&c[i].t, sky_fn) == 0;
		if (!forked[i])
			c[i].r = skynet(c[i].num, size);
	}
	for (int i = 9; i >= 0; i--) {
		if (forked[i])
			weft_join(&c[i].t);
		sum += c[i].r;
	}
	return sum;
}

static void root_fn(void *arg);

static void count_fn(void *arg)
{
	sched_state *s = arg;
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	weft_wg_done(&s->wg);
}

static void yield_fn(void *arg)
{
	sched_state *s = arg;
	for (unsigned i = 0; i < YIELDS; i++)
		weft_yield();
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	weft_wg_done(&s->wg);
}

static void root_fn(void *arg)
{
	sched_state *s = arg;
	switch (s->workload) {
	case W_FIB:
		s->result = fib(FIB_N);
		weft_wg_done(&s->wg);
		break;
	case W_SKYNET:
		s->result = skynet(0, SKYNET_LEAVES);
		weft_wg_done(&s->wg);
		break;
	case W_SPAWN:
		for (unsigned i = 0; i < SPAWN_N; i++)
			if (weft_go(NULL, count_fn, s))
				count_fn(s);
		weft_wg_done(&s->wg);
		break;
	}
}

static void *sched_create_kind(const bench_shape *sh, weft_sched_kind kind, char *err,
			       size_t len)
{
	sched_state *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	weft_rt_config c;
	weft_rt_config_init(&c);
	c.workers = sh->label_threads;
	c.scheduler = kind;
	if (kind == WEFT_SCHED_SHARED)
		c.inject_queue = WEFT_QUEUE_MPMC;
	int rc = weft_rt_start(&s->rt, &c);
	if (rc) {
		snprintf(err, len, "weft_rt_start: %s", strerror(rc));
		free(s);
		return NULL;
	}
	s->workload = sh->workload;
	s->workers = sh->label_threads;
	weft_wg_init(&s->wg);
	return s;
}

static void *steal_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return sched_create_kind(sh, WEFT_SCHED_STEAL, err, len);
}

static void *shared_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return sched_create_kind(sh, WEFT_SCHED_SHARED, err, len);
}

static void sched_destroy(void *p)
{
	sched_state *s = p;
	weft_rt_stop(s->rt);
	free(s);
}

static void check(sched_state *s, bool ok, const char *what)
{
	if (!ok) {
		atomic_fetch_add_explicit(&s->wrong, 1, memory_order_relaxed);
		snprintf(s->what, sizeof s->what, "%s", what);
	}
}

static uint64_t sched_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	uint64_t tasks = 0;
	atomic_store_explicit(&s->count, 0, memory_order_relaxed);
	switch (s->workload) {
	case W_FIB:
	case W_SKYNET:
	case W_SPAWN:
		weft_wg_add(&s->wg, s->workload == W_SPAWN ? (int)SPAWN_N + 1 : 1);
		if (weft_go(s->rt, root_fn, s)) {
			check(s, false, "weft_go failed");
			return 0;
		}
		weft_wg_wait(&s->wg, NULL);
		break;
	case W_YIELD: {
		unsigned n = 2 * s->workers;
		weft_wg_add(&s->wg, (int)n);
		for (unsigned i = 0; i < n; i++)
			if (weft_go(s->rt, yield_fn, s))
				weft_wg_done(&s->wg);
		weft_wg_wait(&s->wg, NULL);
		check(s, atomic_load_explicit(&s->count, memory_order_relaxed) == n,
		      "a yielding task did not finish");
		return (uint64_t)n * YIELDS;
	}
	}
	switch (s->workload) {
	case W_FIB:
		check(s, s->result == fib_plain(FIB_N), "fib returned a wrong sum");
		tasks = 2 * fib_plain(FIB_N + 1) - 1;
		break;
	case W_SKYNET:
		check(s, s->result == (uint64_t)SKYNET_LEAVES * (SKYNET_LEAVES - 1) / 2,
		      "skynet returned a wrong sum");
		tasks = SKYNET_TASKS;
		break;
	case W_SPAWN:
		check(s, atomic_load_explicit(&s->count, memory_order_relaxed) == SPAWN_N,
		      "spawned tasks did not all run exactly once");
		tasks = SPAWN_N;
		break;
	}
	return tasks;
}

static int sched_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	sched_state *s = p;
	if (atomic_load_explicit(&s->wrong, memory_order_relaxed) == 0)
		return 0;
	snprintf(err, len, "%s", s->what);
	return -1;
}

#if WEFT_BENCH_HAVE_OMP || WEFT_BENCH_HAVE_TBB || WEFT_BENCH_HAVE_GO
/* A peer's state: workload and workers only (the peer keeps its own pool). */
static void *peer_state(const bench_shape *sh)
{
	sched_state *s = calloc(1, sizeof *s);
	if (s) {
		s->workload = sh->workload;
		s->workers = sh->label_threads;
	}
	return s;
}

/* A peer's job returned r: the same checks as weft's; returns the job's ops. */
static uint64_t peer_check(sched_state *s, uint64_t r)
{
	switch (s->workload) {
	case W_FIB:
		check(s, r == fib_plain(FIB_N), "fib returned a wrong sum");
		return 2 * fib_plain(FIB_N + 1) - 1;
	case W_SKYNET:
		check(s, r == (uint64_t)SKYNET_LEAVES * (SKYNET_LEAVES - 1) / 2,
		      "skynet returned a wrong sum");
		return SKYNET_TASKS;
	case W_SPAWN:
		check(s, r == SPAWN_N, "spawned tasks did not all run exactly once");
		return SPAWN_N;
	default:
		check(s, r == 2 * s->workers, "a yielding task did not finish");
		return (uint64_t)2 * s->workers * YIELDS;
	}
}
#endif

#if WEFT_BENCH_HAVE_OMP
/* OpenMP tasks: the same jobs, the same checks, an OpenMP team of N threads. */
static void *omp_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return peer_state(sh);
}

static void omp_destroy(void *p)
{
	free(p);
}

static uint64_t omp_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	bench_omp_args a = { s->workload, s->workers, FIB_N, SKYNET_LEAVES, SPAWN_N, YIELDS };
	uint64_t r;
	bench_omp_job(&a, &r);
	return peer_check(s, r);
}
#endif

#if WEFT_BENCH_HAVE_TBB
/* TBB task_group in a task_arena of N threads, made once per run. */
static const char *tbb_unavailable(const bench_shape *sh)
{
	return sh && sh->workload == W_YIELD ? "TBB tasks cannot yield" : NULL;
}

static void *tbb_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	sched_state *s = peer_state(sh);
	if (s && !(s->peer = bench_tbb_open(s->workers))) {
		free(s);
		s = NULL;
	}
	if (!s)
		snprintf(err, len, "cannot make a TBB arena of %u threads", sh->label_threads);
	return s;
}

static void tbb_destroy(void *p)
{
	sched_state *s = p;
	bench_tbb_close(s->peer);
	free(s);
}

static uint64_t tbb_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	bench_tbb_args a = { s->workload, FIB_N, SKYNET_LEAVES, SPAWN_N };
	uint64_t r = 0;
	int rc = bench_tbb_job(s->peer, &a, &r);
	if (rc) {
		check(s, false, rc == ENOMEM ? "TBB job: out of memory" : "TBB job failed");
		return 0;
	}
	return peer_check(s, r);
}
#endif

#if WEFT_BENCH_HAVE_GO
/* Go goroutines in go_peer, a child process per run (GOMAXPROCS = N); see go_sched.c. */
static const char *go_unavailable(const bench_shape *sh)
{
	return bench_go_path() ? NULL : "go_peer not found (set WEFT_BENCH_GO_PEER)";
}

static void *go_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	sched_state *s = peer_state(sh);
	if (!s) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	if (!(s->peer = bench_go_open(s->workers, err, len))) {
		free(s);
		return NULL;
	}
	return s;
}

static void go_destroy(void *p)
{
	sched_state *s = p;
	bench_go_close(s->peer);
	free(s);
}

static uint64_t go_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	static const uint64_t n[W_COUNT] = { FIB_N, SKYNET_LEAVES, SPAWN_N, YIELDS };
	uint64_t r = 0, ns;
	char err[sizeof s->what];
	if (bench_go_job(s->peer, s->workload, n[s->workload], 2 * (uint64_t)s->workers, &r, &ns,
			 err, sizeof err)) {
		check(s, false, err);
		return 0;
	}
	return peer_check(s, r);
}
#endif

static const bench_impl sched_impls[] = {
	{ "weft", "weft runtime: work-stealing deques + injection queue", NULL, steal_create,
	  sched_destroy, NULL, NULL, sched_op, NULL, sched_verify, NULL },
	{ "weft_shared", "weft runtime as a shared-queue thread pool (mpmc queue)", NULL,
	  shared_create, sched_destroy, NULL, NULL, sched_op, NULL, sched_verify, NULL },
#if WEFT_BENCH_HAVE_OMP
	{ "openmp", "peer: OpenMP tasks (gcc -fopenmp: libgomp)", NULL, omp_create, omp_destroy,
	  NULL, NULL, omp_op, NULL, sched_verify, NULL },
#endif
#if WEFT_BENCH_HAVE_TBB
	{ "tbb", "peer: oneTBB task_group in a task_arena (C++, libtbb)", tbb_unavailable,
	  tbb_create, tbb_destroy, NULL, NULL, tbb_op, NULL, sched_verify, NULL },
#endif
#if WEFT_BENCH_HAVE_GO
	{ "go", "peer: Go goroutines (go_peer child process, GOMAXPROCS = threads)",
	  go_unavailable, go_create, go_destroy, NULL, NULL, go_op, NULL, sched_verify, NULL },
#endif
};

static size_t sched_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	static const char *const names[W_COUNT] = SCHED_NAMES;
	size_t n = 0;
	for (unsigned w = 0; w < W_COUNT; w++)
		for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
			memset(&out[n], 0, sizeof out[n]);
			snprintf(out[n].variant, sizeof out[n].variant, "%s", names[w]);
			out[n].threads = 1;
			out[n].label_threads = cfg->threads[i];
			out[n].workload = w;
			out[n].sample_every = 1;
		}
	return n;
}

const bench_suite bench_suite_sched = {
	.name = "sched",
	.what = "task-parallel jobs on weft's runtime (fork/join, spawn, yield)",
	.unit_note = "1 op = one task (yield: one weft_yield); threads column = workers",
	.impls = sched_impls,
	.nimpls = sizeof sched_impls / sizeof sched_impls[0],
	.shapes = sched_shapes,
};
