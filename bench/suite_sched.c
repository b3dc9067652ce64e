/*
 * sched: weft's runtime on task-parallel workloads. One benchmark thread drives: each op
 * call runs one whole job on a runtime of N workers (the threads column) and waits for it;
 * the ops it reports are the job's tasks, so Mops/s is millions of tasks per second.
 *   fib(20), fib(30), fib(32)  fork/join Fibonacci, a fork per call (fib(n) makes
 *                 2 fib(n+1) - 1 calls: 21891, 2692537, 7049155); 1 op = one call
 *   skynet(1e4)   a 10-ary fork/join tree over 10000 leaves (11111 tasks)
 *   skynet_go(1e5) the same tree over 100000 leaves (111111 tasks) written with weft_go and
 *                 wait groups: every inner node spawns its ten children and blocks in
 *                 weft_wg_wait until they are done (its fiber parks)
 *   spawn(5000)   one task weft_go()es 5000 tasks that each count and signal a wait group
 *   yield         2 x workers tasks each call weft_yield() 200 times (ops = yields)
 * Every call is timed (a job is long): the latency columns are per task, a job's mean; and
 * every job started within --duration counts, the clock stopping when the last one ends
 * (bench_shape.whole_calls), so a job longer than the window is measured whole.
 * Checks: fib and skynet return the known sums; every spawned task ran exactly once; every
 * yielding task finished. Implementations: the work-stealing scheduler, the shared-queue
 * thread pool (WEFT_SCHED_SHARED) over the lock-free mpmc queue and over the mutex queue,
 * side by side; `plain`, fib by plain recursion without tasks (the baseline a task per
 * call is paid against; fib only, one thread whatever the threads column says); and the
 * peers found at build time (never in sanitizer builds): OpenMP tasks, TBB task_group (no
 * yield job: TBB tasks cannot yield) and Go goroutines (go_peer, a child process for the
 * run: one op sends it a job and reads back the sum, so its figure includes a local socket
 * round trip per job). skynet and skynet_go give the peers the same job (their one skynet)
 * at the two sizes. Implementations too slow for a size are skipped with the reason (the
 * *_unavailable functions) so that the default sweep stays short: Go (a goroutine per fib
 * call costs it 0.5-1 us: 1.5-3 s a fib(30) job, at 4 thread counts x 5 repeats x a
 * warmup job) and the shared-queue pools (a join there parks its fiber at once and the
 * FIFO queue runs the tree breadth-first, so parked fibers pile up: fib(25) already takes
 * over a second) run fib(20) only, and so does OpenMP on 2+ threads (0.4-1 us a task).
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

enum { W_FIB_S, W_FIB_M, W_FIB_L, W_SKYNET, W_SKYNET_GO, W_SPAWN, W_YIELD, W_COUNT };

/* The peers' job kinds (peers/omp_sched.h, tbb_sched.h, go_sched.c). */
enum { P_FIB, P_SKYNET, P_SPAWN, P_YIELD };

#if defined(WEFT_TSAN) || defined(WEFT_ASAN)
/* Sanitizer builds check correctness, not speed: small jobs (names say the size). */
#define FIB_SIZES { 11, 13, 15 }
#define SKYNET_LEAVES 1000u
#define SKYNET_GO_LEAVES 1000u
#define SPAWN_N 500u
#define YIELDS 20u
#define SCHED_NAMES { "fib(11)", "fib(13)", "fib(15)", "skynet(1e3)", "skynet_go(1e3)", \
		      "spawn(500)", "yield" }
#else
#define FIB_SIZES { 20, 30, 32 }
#define SKYNET_LEAVES 10000u
#define SKYNET_GO_LEAVES 100000u
#define SPAWN_N 5000u
#define YIELDS 200u
#define SCHED_NAMES { "fib(20)", "fib(30)", "fib(32)", "skynet(1e4)", "skynet_go(1e5)", \
		      "spawn(5000)", "yield" }
#endif

static const int fib_sizes[3] = FIB_SIZES;

static bool is_fib(unsigned w)
{
	return w <= W_FIB_L;
}

#if WEFT_BENCH_HAVE_OMP || WEFT_BENCH_HAVE_TBB || WEFT_BENCH_HAVE_GO
/* The peers' job kind of workload w. */
static unsigned peer_kind(unsigned w)
{
	return is_fib(w) ? P_FIB : w == W_SPAWN ? P_SPAWN : w == W_YIELD ? P_YIELD : P_SKYNET;
}
#endif

static uint64_t skynet_leaves(unsigned w)
{
	return w == W_SKYNET_GO ? SKYNET_GO_LEAVES : SKYNET_LEAVES;
}

typedef struct sched_state {
	weft_rt *rt;
	unsigned workload, workers;
	int fib_n;
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

/* The baseline: the same recursion without tasks (as the compiler builds it: GCC may turn
 * one of the two calls into a loop; ops still count the calls the task version makes). */
__attribute__((noinline)) static uint64_t fib_rec(int n)
{
	if (n < 2)
		return (uint64_t)n;
	return fib_rec(n - 1) + fib_rec(n - 2);
}

static uint64_t fib_iter(int n)
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

/*
 * skynet_go: a node is a weft_go task; an inner node spawns its ten children and blocks in
 * weft_wg_wait, as Go's goroutine version blocks on its channel. The children's records,
 * result slots and the wait group live on the node's (fiber's) stack, which stays put
 * while the node is parked; a child writes its slot, then signals (release: the waiter's
 * acquire makes the slot visible), and its own code touches nothing of its parent after
 * that. (weft_wg_add itself still bumps the group's gen and reads its waiter count after
 * the count reaches zero, and a waiter that sees zero without parking may return before
 * that: the parent's frame could in principle be reused under those two accesses. The
 * window is a few instructions; tests/test_runtime_fibers.c's skynet has the same shape.)
 */
typedef struct sky_go {
	uint64_t num, size;
	uint64_t *out;
	weft_wg *done;
} sky_go;

static void sky_go_fn(void *arg)
{
	sky_go *k = arg;
	if (k->size == 1) {
		*k->out = k->num;
	} else {
		sky_go kids[10];
		uint64_t r[10], sum = 0, size = k->size / 10;
		weft_wg wg;
		weft_wg_init(&wg);
		weft_wg_add(&wg, 10);
		for (int i = 0; i < 10; i++) {
			kids[i] = (sky_go){ k->num + (uint64_t)i * size, size, &r[i], &wg };
			if (weft_go(NULL, sky_go_fn, &kids[i]))
				sky_go_fn(&kids[i]); /* not spawned (ENOMEM): run it here */
		}
		weft_wg_wait(&wg, NULL);
		for (int i = 0; i < 10; i++)
			sum += r[i];
		*k->out = sum;
	}
	if (k->done)
		weft_wg_done(k->done);
}

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
	case W_SKYNET:
		s->result = skynet(0, SKYNET_LEAVES);
		break;
	case W_SKYNET_GO: {
		sky_go root = { 0, SKYNET_GO_LEAVES, &s->result, NULL };
		sky_go_fn(&root);
		break;
	}
	case W_SPAWN:
		for (unsigned i = 0; i < SPAWN_N; i++)
			if (weft_go(NULL, count_fn, s))
				count_fn(s);
		break;
	default:
		s->result = fib(s->fib_n);
		break;
	}
	weft_wg_done(&s->wg);
}

static sched_state *state_new(const bench_shape *sh)
{
	sched_state *s = calloc(1, sizeof *s);
	if (s) {
		s->workload = sh->workload;
		s->workers = sh->label_threads;
		s->fib_n = is_fib(sh->workload) ? fib_sizes[sh->workload] : 0;
		weft_wg_init(&s->wg);
	}
	return s;
}

static void *sched_create_kind(const bench_shape *sh, weft_sched_kind kind, weft_queue_kind q,
			       char *err, size_t len)
{
	sched_state *s = state_new(sh);
	if (!s) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	weft_rt_config c;
	weft_rt_config_init(&c);
	c.workers = sh->label_threads;
	c.scheduler = kind;
	c.inject_queue = q;
	int rc = weft_rt_start(&s->rt, &c);
	if (rc) {
		snprintf(err, len, "weft_rt_start: %s", strerror(rc));
		free(s);
		return NULL;
	}
	return s;
}

static void *steal_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	weft_rt_config d;
	weft_rt_config_init(&d); /* the default injection queue */
	return sched_create_kind(sh, WEFT_SCHED_STEAL, d.inject_queue, err, len);
}

/* The shared-queue pools: fib(20) only (see the top: fib(25) takes over a second there). */
static const char *shared_unavailable(const bench_shape *sh)
{
	return sh && is_fib(sh->workload) && sh->workload != W_FIB_S
		       ? "shared FIFO queue: joins park, fibers pile up (fib(25) 1 s+; see fib(20))"
		       : NULL;
}

static void *shared_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return sched_create_kind(sh, WEFT_SCHED_SHARED, WEFT_QUEUE_MPMC, err, len);
}

static void *shared_mutex_create(const bench_shape *sh, const bench_cfg *cfg, char *err,
				 size_t len)
{
	return sched_create_kind(sh, WEFT_SCHED_SHARED, WEFT_QUEUE_MUTEX, err, len);
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

/* A job's answer r (fib/skynet sum, spawn/yield count): checked; returns the job's ops. */
static uint64_t job_check(sched_state *s, uint64_t r)
{
	switch (s->workload) {
	case W_SKYNET:
	case W_SKYNET_GO: {
		uint64_t leaves = skynet_leaves(s->workload);
		check(s, r == leaves * (leaves - 1) / 2, "skynet returned a wrong sum");
		return (10 * leaves - 1) / 9; /* nodes of a 10-ary tree over `leaves` */
	}
	case W_SPAWN:
		check(s, r == SPAWN_N, "spawned tasks did not all run exactly once");
		return SPAWN_N;
	case W_YIELD:
		check(s, r == 2 * s->workers, "a yielding task did not finish");
		return (uint64_t)2 * s->workers * YIELDS;
	default:
		check(s, r == fib_iter(s->fib_n), "fib returned a wrong sum");
		return 2 * fib_iter(s->fib_n + 1) - 1;
	}
}

static uint64_t sched_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	atomic_store_explicit(&s->count, 0, memory_order_relaxed);
	if (s->workload == W_YIELD) {
		unsigned n = 2 * s->workers;
		weft_wg_add(&s->wg, (int)n);
		for (unsigned i = 0; i < n; i++)
			if (weft_go(s->rt, yield_fn, s))
				weft_wg_done(&s->wg);
		weft_wg_wait(&s->wg, NULL);
		return job_check(s, atomic_load_explicit(&s->count, memory_order_relaxed));
	}
	s->result = 0;
	weft_wg_add(&s->wg, s->workload == W_SPAWN ? (int)SPAWN_N + 1 : 1);
	if (weft_go(s->rt, root_fn, s)) {
		check(s, false, "weft_go failed");
		return 0;
	}
	weft_wg_wait(&s->wg, NULL);
	if (s->workload == W_SPAWN)
		return job_check(s, atomic_load_explicit(&s->count, memory_order_relaxed));
	return job_check(s, s->result);
}

static int sched_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	sched_state *s = p;
	if (atomic_load_explicit(&s->wrong, memory_order_relaxed) == 0)
		return 0;
	snprintf(err, len, "%s", s->what);
	return -1;
}

/* plain: fib by plain recursion on the benchmark thread, no runtime, no tasks. */
static const char *plain_unavailable(const bench_shape *sh)
{
	return sh && !is_fib(sh->workload) ? "plain recursion is fib's baseline only" : NULL;
}

static void *plain_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	sched_state *s = state_new(sh);
	if (!s)
		snprintf(err, len, "out of memory");
	return s;
}

static void state_free(void *p)
{
	free(p);
}

static uint64_t plain_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	return job_check(s, fib_rec(s->fib_n));
}

#if WEFT_BENCH_HAVE_OMP
/* OpenMP tasks: the same jobs, the same checks, an OpenMP team of N threads. libgomp's
 * task per call costs about 30 ns on one thread but 0.4-1 us on two or more: fib(30) there
 * would take 1-3 s a job, so on 2+ threads it runs fib(20) only. */
static const char *omp_unavailable(const bench_shape *sh)
{
	return sh && is_fib(sh->workload) && sh->workload != W_FIB_S && sh->label_threads > 1
		       ? "libgomp: 0.4-1 us a task on 2+ threads, 1-3 s a fib(30) job (see fib(20))"
		       : NULL;
}

static void *omp_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return plain_create(sh, cfg, err, len);
}

static uint64_t omp_op(void *p, bench_thread *t)
{
	sched_state *s = p;
	bench_omp_args a = { peer_kind(s->workload), s->workers,	  s->fib_n,
			     skynet_leaves(s->workload), SPAWN_N, YIELDS };
	uint64_t r;
	bench_omp_job(&a, &r);
	return job_check(s, r);
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
	sched_state *s = state_new(sh);
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
	bench_tbb_args a = { peer_kind(s->workload), s->fib_n, skynet_leaves(s->workload),
			     SPAWN_N };
	uint64_t r = 0;
	int rc = bench_tbb_job(s->peer, &a, &r);
	if (rc) {
		check(s, false, rc == ENOMEM ? "TBB job: out of memory" : "TBB job failed");
		return 0;
	}
	return job_check(s, r);
}
#endif

#if WEFT_BENCH_HAVE_GO
/* Go goroutines in go_peer, a child process per run (GOMAXPROCS = N); see go_sched.c. A
 * goroutine and a WaitGroup per fib call cost Go about 0.5-1 us: fib(30) would take 1.5-3 s
 * a job, so Go runs fib(20) only. */
static const char *go_unavailable(const bench_shape *sh)
{
	if (!bench_go_path())
		return "go_peer not found (set WEFT_BENCH_GO_PEER)";
	return sh && is_fib(sh->workload) && sh->workload != W_FIB_S
		       ? "Go: ~0.5-1 us a goroutine, 1.5 s+ a fib(30) job (see fib(20))"
		       : NULL;
}

static void *go_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	sched_state *s = state_new(sh);
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
	unsigned kind = peer_kind(s->workload);
	uint64_t n = kind == P_FIB	  ? (uint64_t)s->fib_n
		     : kind == P_SKYNET ? skynet_leaves(s->workload)
		     : kind == P_SPAWN	  ? SPAWN_N
					  : YIELDS;
	uint64_t r = 0, ns;
	char err[sizeof s->what];
	if (bench_go_job(s->peer, kind, n, 2 * (uint64_t)s->workers, &r, &ns, err, sizeof err)) {
		check(s, false, err);
		return 0;
	}
	return job_check(s, r);
}
#endif

static const bench_impl sched_impls[] = {
	{ "weft", "weft runtime: work-stealing deques + injection queue", NULL, steal_create,
	  sched_destroy, NULL, NULL, sched_op, NULL, sched_verify, NULL },
	{ "weft_shared", "weft runtime as a shared-queue thread pool (lock-free mpmc queue)",
	  shared_unavailable, shared_create, sched_destroy, NULL, NULL, sched_op, NULL,
	  sched_verify, NULL },
	{ "weft_shared_mutex", "weft runtime as a shared-queue thread pool (mutex queue)",
	  shared_unavailable, shared_mutex_create, sched_destroy, NULL, NULL, sched_op, NULL,
	  sched_verify, NULL },
	{ "plain", "baseline: fib by plain recursion, no tasks (one thread)", plain_unavailable,
	  plain_create, state_free, NULL, NULL, plain_op, NULL, sched_verify, NULL },
#if WEFT_BENCH_HAVE_OMP
	{ "openmp", "peer: OpenMP tasks (gcc -fopenmp: libgomp)", omp_unavailable, omp_create,
	  state_free, NULL, NULL, omp_op, NULL, sched_verify, NULL },
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
			out[n].whole_calls = true;
		}
	return n;
}

const bench_suite bench_suite_sched = {
	.name = "sched",
	.what = "task-parallel jobs on weft's runtime (fork/join, weft_go + wait groups, spawn, "
		"yield)",
	.unit_note = "1 op = one task (fib: one call; yield: one weft_yield); threads column = "
		     "workers",
	.impls = sched_impls,
	.nimpls = sizeof sched_impls / sizeof sched_impls[0],
	.shapes = sched_shapes,
};
