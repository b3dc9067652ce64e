/* The runtime: fork/join, spawning, shutdown, bad input. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <weft/alloc.h>
#include <weft/queue.h>
#include <weft/runtime.h>
#include <weft/waiter.h>

#include "runtime_cases.h"
#include "alloc_cases.h"
#include "weft_test.h"

/* Run fn(arg) as a task and wait for it from this (outside) thread. */
struct root {
	void (*fn)(void *);
	void *arg;
	_Atomic uint32_t done;
};

static void root_main(void *p)
{
	struct root *r = p;
	r->fn(r->arg);
	atomic_store_explicit(&r->done, 1, memory_order_release);
}

static void run_root(weft_rt *rt, void (*fn)(void *), void *arg)
{
	struct root r = { fn, arg, 0 };
	CHECK_EQ(weft_go(rt, root_main, &r), 0);
	while (atomic_load_explicit(&r.done, memory_order_acquire) == 0) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- fib by fork/join ---- */

static void fib_with(unsigned workers, weft_sched_kind kind)
{
	weft_rt *rt = start_rt(workers, kind);
	struct fib f = { .n = 25 };
	uint64_t t0 = weft_now_ns();
	run_root(rt, fib_root, &f);
	uint64_t t1 = weft_now_ns();
	CHECK_EQ(f.result, 75025);
	weft_rt_counters st;
	CHECK_EQ(weft_rt_stats(rt, &st), 0);
	/* Every fork ran once (121392 of them); the root counts itself only after it has
	 * signalled run_root, so it may not be in yet. */
	CHECK(st.total.tasks_run >= 121392);
	printf("fib(25) on %u workers: %.1f ns/call, %llu steals of %llu attempts, %llu parks\n",
	       workers, (double)(t1 - t0) / 242785.0, (unsigned long long)st.total.steals,
	       (unsigned long long)st.total.steals_attempted,
	       (unsigned long long)st.total.parks);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

WEFT_TEST(fib_1_worker) { fib_with(1, WEFT_SCHED_STEAL); }
WEFT_TEST(fib_2_workers) { fib_with(2, WEFT_SCHED_STEAL); }
WEFT_STRESS(fib_8_workers) { fib_with(8, WEFT_SCHED_STEAL); }
/* fib under WEFT_SCHED_SHARED needs fiber parking (a FIFO queue cannot be helped from
 * without unbounded nesting); it comes with the fibers. */

/* Joins in any order, many forks from one frame. */
static void out_of_order_root(void *arg)
{
	struct fib f[8];
	for (int i = 0; i < 8; i++) {
		f[i].n = 10 + i;
		CHECK_EQ(weft_fork(&f[i].task, fib_task), 0);
	}
	static const int order[8] = { 0, 3, 7, 1, 2, 6, 5, 4 };
	static const long want[8] = { 55, 89, 144, 233, 377, 610, 987, 1597 };
	for (int k = 0; k < 8; k++) {
		CHECK_EQ(weft_join(&f[order[k]].task), 0);
		CHECK_EQ(f[order[k]].result, want[order[k]]);
	}
	CHECK_EQ(weft_join(&f[0].task), EINVAL); /* already joined */
	*(int *)arg = 1;
}

WEFT_TEST(join_any_order)
{
	weft_rt *rt = start_rt(3, WEFT_SCHED_STEAL);
	for (int i = 0; i < 50; i++) {
		int ok = 0;
		run_root(rt, out_of_order_root, &ok);
		CHECK_EQ(ok, 1);
	}
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- skynet by fork/join: 10^6 leaves, 10-ary ---- */
struct sky {
	weft_task task;
	long num, size;
	long sum;
};

static void sky_task(weft_task *t)
{
	struct sky *s = (struct sky *)((char *)t - offsetof(struct sky, task));
	if (s->size == 1) {
		s->sum = s->num;
		return;
	}
	struct sky kids[10];
	long step = s->size / 10;
	for (int i = 0; i < 10; i++) {
		kids[i].num = s->num + i * step;
		kids[i].size = step;
		CHECK_EQ(weft_fork(&kids[i].task, sky_task), 0);
	}
	s->sum = 0;
	for (int i = 9; i >= 0; i--) {
		CHECK_EQ(weft_join(&kids[i].task), 0);
		s->sum += kids[i].sum;
	}
}

static void sky_root(void *arg)
{
	sky_task(&((struct sky *)arg)->task);
}

WEFT_TEST(skynet_fork_join)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	long size = weft_test_sanitized() ? 100000 : 1000000;
	struct sky s = { .num = 0, .size = size };
	uint64_t t0 = weft_now_ns();
	run_root(rt, sky_root, &s);
	uint64_t t1 = weft_now_ns();
	CHECK_EQ(s.sum, size * (size - 1) / 2);
	printf("skynet fork/join, %ld leaves, 2 workers: %.1f ms\n", size, (t1 - t0) / 1e6);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- 10^6 weft_go tasks, exact total ---- */
static _Atomic uint64_t go_sum;

static void add_task(void *arg)
{
	atomic_fetch_add_explicit(&go_sum, (uint64_t)(uintptr_t)arg, memory_order_relaxed);
}

struct spawner {
	uint64_t n;
};

static void spawn_many(void *arg)
{
	struct spawner *s = arg;
	for (uint64_t i = 1; i <= s->n; i++)
		CHECK_EQ(weft_go(NULL, add_task, (void *)(uintptr_t)i), 0);
}

WEFT_TEST(go_million_exact)
{
	uint64_t n = weft_test_scale(1000000);
	atomic_store(&go_sum, 0);
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	struct spawner s = { n / 2 };
	run_root(rt, spawn_many, &s); /* spawns after stop began would be refused */
	/* The other half from outside, through the injection queue. */
	for (uint64_t i = 1; i <= n - n / 2; i++)
		CHECK_EQ(weft_go(rt, add_task, (void *)(uintptr_t)i), 0);
	uint64_t t0 = weft_now_ns();
	CHECK_EQ(weft_rt_stop(rt), 0); /* waits for every accepted task */
	uint64_t a = n / 2, b = n - n / 2;
	CHECK_EQ(atomic_load(&go_sum), a * (a + 1) / 2 + b * (b + 1) / 2);
	printf("%llu weft_go tasks ran exactly once (stop drained in %.1f ms)\n",
	       (unsigned long long)n, (weft_now_ns() - t0) / 1e6);
}

WEFT_TEST(go_shared_scheduler)
{
	uint64_t n = weft_test_scale(200000);
	atomic_store(&go_sum, 0);
	weft_rt *rt = start_rt(3, WEFT_SCHED_SHARED);
	struct spawner s = { n };
	run_root(rt, spawn_many, &s);
	CHECK_EQ(weft_rt_stop(rt), 0);
	CHECK_EQ(atomic_load(&go_sum), n * (n + 1) / 2);
}

/* Every many-consumer queue kind as the shared queue (and as the injection queue). */
WEFT_TEST(inject_queue_kinds)
{
	for (int k = 0; k < WEFT_QUEUE_KIND_COUNT; k++) {
		if (k == WEFT_QUEUE_SPSC || k == WEFT_QUEUE_MPSC)
			continue;
#if defined(WEFT_TSAN)
		/* Adapters over ck's inline-asm atomics and liburcu's uninstrumented code: TSan
		 * cannot see their synchronisation (see ../shared notes). */
		if (k == WEFT_QUEUE_CK_RING || k == WEFT_QUEUE_URCU_WFCQ)
			continue;
#endif
		weft_queue *probe;
		int pr = weft_queue_create(&probe, (weft_queue_kind)k, 16);
		if (pr != 0) { /* a kind not linked into this build (ENOSYS) */
			printf("%s queue: unavailable (%d), skipped\n",
			       weft_queue_kind_name((weft_queue_kind)k), pr);
			continue;
		}
		weft_queue_destroy(probe);
		for (int sched = 0; sched < 2; sched++) {
			uint64_t n = weft_test_scale(50000);
			atomic_store(&go_sum, 0);
			weft_rt_config cfg;
			weft_rt_config_init(&cfg);
			cfg.workers = 3;
			cfg.inject_queue = (weft_queue_kind)k;
			cfg.scheduler = (weft_sched_kind)sched;
			weft_rt *rt;
			CHECK_EQ(weft_rt_start(&rt, &cfg), 0);
			struct spawner s = { n };
			run_root(rt, spawn_many, &s);
			for (uint64_t i = 1; i <= n; i++) /* from outside too */
				CHECK_EQ(weft_go(rt, add_task, (void *)(uintptr_t)i), 0);
			CHECK_EQ(weft_rt_stop(rt), 0);
			CHECK_EQ(atomic_load(&go_sum), n * (n + 1));
			printf("%s queue, %s scheduler: %llu tasks exact\n",
			       weft_queue_kind_name((weft_queue_kind)k), sched ? "shared" : "steal",
			       (unsigned long long)(2 * n));
		}
	}
}

/* ---- stop with tasks still queued runs them all; refusals after it began ---- */
static _Atomic uint32_t gate;
static _Atomic uint64_t ran;

static void count_task(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}

static void gate_task(void *arg)
{
	(void)arg;
	while (atomic_load_explicit(&gate, memory_order_acquire) == 0)
		sched_yield();
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}

static void *stop_thread(void *arg)
{
	CHECK_EQ(weft_rt_stop(arg), 0);
	return NULL;
}

WEFT_TEST(stop_runs_queued_and_refuses_late)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	atomic_store(&gate, 0);
	atomic_store(&ran, 0);
	uint64_t accepted = 0;
	for (int i = 0; i < 2; i++, accepted++)
		CHECK_EQ(weft_go(rt, gate_task, NULL), 0);
	for (int i = 0; i < 10000; i++, accepted++)
		CHECK_EQ(weft_go(rt, count_task, NULL), 0);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, stop_thread, rt), 0);
	/* Spawn until refused: every accepted one must run. */
	for (;;) {
		int r = weft_go(rt, count_task, NULL);
		if (r == ESHUTDOWN)
			break;
		CHECK_EQ(r, 0);
		accepted++;
	}
	atomic_store_explicit(&gate, 1, memory_order_release);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&ran), accepted);
	printf("%llu tasks accepted before the stop refused one; all ran\n",
	       (unsigned long long)accepted);
}

/* ---- bad input ---- */
static _Atomic int inner_errors;

static void inside_checks(void *arg)
{
	weft_rt *rt = arg;
	weft_task t;
	memset(&t, 0, sizeof t);
	if (weft_join(&t) != EINVAL)
		atomic_fetch_add(&inner_errors, 1);
	if (weft_rt_stop(rt) != EDEADLK)
		atomic_fetch_add(&inner_errors, 1);
	if (weft_rt_current() != rt)
		atomic_fetch_add(&inner_errors, 1);
	int idx = weft_worker_index();
	if (idx < 0 || idx >= 2)
		atomic_fetch_add(&inner_errors, 1);
	if (weft_yield() != 0)
		atomic_fetch_add(&inner_errors, 1);
	if (weft_go(NULL, NULL, NULL) != EINVAL)
		atomic_fetch_add(&inner_errors, 1);
}

static void nop_fork(weft_task *t)
{
	(void)t;
}

WEFT_TEST(bad_input)
{
	weft_task t;
	CHECK_EQ(weft_go(NULL, count_task, NULL), EINVAL);
	CHECK_EQ(weft_fork(&t, nop_fork), EPERM);
	CHECK_EQ(weft_join(&t), EPERM);
	CHECK_EQ(weft_yield(), EPERM);
	CHECK_EQ(weft_worker_index(), -1);
	CHECK(weft_rt_current() == NULL);
	CHECK_EQ(weft_rt_start(NULL, NULL), EINVAL);
	CHECK_EQ(weft_rt_stop(NULL), EINVAL);
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.inject_queue = WEFT_QUEUE_SPSC;
	weft_rt *rt = NULL;
	CHECK_EQ(weft_rt_start(&rt, &cfg), EINVAL);
	cfg.inject_queue = WEFT_QUEUE_MUTEX;
	cfg.scheduler = (weft_sched_kind)7;
	CHECK_EQ(weft_rt_start(&rt, &cfg), EINVAL);
	CHECK_EQ(weft_rt_stats(NULL, NULL), EINVAL);

	rt = start_rt(2, WEFT_SCHED_STEAL);
	atomic_store(&inner_errors, 0);
	run_root(rt, inside_checks, rt);
	CHECK_EQ(atomic_load(&inner_errors), 0);
	CHECK_EQ(weft_go(rt, NULL, NULL), EINVAL);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- sleep ---- */
static void sleeper(void *arg)
{
	double *worst = arg;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = weft_now_ns();
		CHECK_EQ(weft_sleep(NULL, 2000000), 0);
		uint64_t late = weft_now_ns() - t0;
		CHECK(late >= 2000000);
		if ((double)(late - 2000000) > *worst)
			*worst = (double)(late - 2000000);
	}
}

WEFT_TEST(sleep_lateness)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	double worst = 0;
	run_root(rt, sleeper, &worst);
	printf("weft_sleep(2 ms) worst lateness over 5: %.3f ms\n", worst / 1e6);
	CHECK_EQ(weft_rt_stop(rt), 0);
	/* Outside the runtime it sleeps the thread, and a done ctx ends it at once. */
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	weft_ctx_cancel(ctx);
	CHECK_EQ(weft_sleep(ctx, 1000000000), ECANCELED);
	weft_ctx_release(ctx);
	CHECK_EQ(weft_sleep(NULL, 1000), 0);
}

/* ---- idle workers park and are woken: no lost wake-up (a loss hangs: ctest times out) ---- */
struct ping_once {
	_Atomic uint32_t done;
};

static void set_done(void *arg)
{
	struct ping_once *p = arg;
	atomic_store_explicit(&p->done, 1, memory_order_release);
	weft_unpark(&p->done, 1);
}

static void spawn_from_inside(void *arg)
{
	/* A task spawning one more: the spawner's worker may be the only one awake. */
	CHECK_EQ(weft_go(NULL, set_done, arg), 0);
}

WEFT_STRESS(idle_workers_always_woken)
{
	uint64_t rounds = weft_test_scale(3000);
	uint64_t rng = 42;
	for (unsigned workers = 1; workers <= 4; workers *= 2) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		for (uint64_t i = 0; i < rounds; i++) {
			/* Sometimes give the workers time to go to sleep first. */
			if (weft_test_rand(&rng) % 4 == 0) {
				struct timespec ts = { 0, (long)(weft_test_rand(&rng) % 200000) };
				nanosleep(&ts, NULL);
			}
			struct ping_once p = { 0 };
			CHECK_EQ(weft_go(rt, i % 2 ? set_done : spawn_from_inside, &p), 0);
			while (atomic_load_explicit(&p.done, memory_order_acquire) == 0)
				weft_park(&p.done, 0, WEFT_NO_DEADLINE, NULL);
		}
		weft_rt_counters st;
		CHECK_EQ(weft_rt_stats(rt, &st), 0);
		printf("%u workers: %llu rounds, %llu worker parks, %llu wake-ups found no work\n",
		       workers, (unsigned long long)rounds, (unsigned long long)st.total.parks,
		       (unsigned long long)st.total.wakeups_no_work);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}

/* ---- allocation failures: every failed call returns ENOMEM and leaks nothing ---- */
static void sleep_add_task(void *arg)
{
	CHECK_EQ(weft_sleep(NULL, 100000), 0);
	add_task(arg);
}

WEFT_TEST(enomem_leaks_nothing)
{
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	int failures = 0;
	for (long k = 1; k < 400; k++) {
		test_alloc_fail_after(k - 1);
		weft_rt_config cfg;
		weft_rt_config_init(&cfg);
		cfg.workers = 2;
		weft_rt *rt;
		int r = weft_rt_start(&rt, &cfg);
		if (r != 0) {
			CHECK_EQ(r, ENOMEM);
			failures++;
			continue;
		}
		/* The failure may land in a worker (its first fiber: it then runs on its own
		 * stack) or in a spawn (ENOMEM, nothing queued). */
		atomic_store(&go_sum, 0);
		uint64_t want = 0;
		for (uint64_t i = 1; i <= 100; i++) {
			/* Every 10th blocks: a new fiber or a timer may fail (the thread parks). */
			int g = weft_go(rt, i % 10 ? add_task : sleep_add_task, (void *)(uintptr_t)i);
			CHECK(g == 0 || g == ENOMEM);
			if (g == 0)
				want += i;
		}
		CHECK_EQ(weft_rt_stop(rt), 0);
		CHECK_EQ(atomic_load(&go_sum), want);
		if (test_alloc_seen() < k)
			break; /* no allocation failed any more: every path was tried */
	}
	test_alloc_fail_none();
	CHECK_EQ(weft_allocator_set(NULL), 0);
	printf("%d starts failed with ENOMEM, then every later allocation failure was absorbed\n",
	       failures);
	CHECK(failures > 0);
}
