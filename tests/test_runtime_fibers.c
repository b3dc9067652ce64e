/* The runtime with fibers: tasks that block park their fiber; the worker runs on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/ctx.h>
#include <weft/hazard.h>
#include <weft/mutex.h>
#include <weft/queue.h>
#include <weft/runtime.h>
#include <weft/sem.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "runtime_cases.h"
#include "weft_test.h"

/* Run fn(arg) as a task; wait for it from outside with a wait group (a thread park). */
struct root {
	void (*fn)(void *);
	void *arg;
	weft_wg wg;
};

static void root_main(void *p)
{
	struct root *r = p;
	r->fn(r->arg);
	weft_wg_done(&r->wg);
}

static void run_root(weft_rt *rt, void (*fn)(void *), void *arg)
{
	struct root r = { .fn = fn, .arg = arg };
	weft_wg_init(&r.wg);
	weft_wg_add(&r.wg, 1);
	CHECK_EQ(weft_go(rt, root_main, &r), 0);
	CHECK_EQ(weft_wg_wait(&r.wg, NULL), 0);
}

static void print_stats(weft_rt *rt, const char *what)
{
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	printf("%s: tasks %llu, steals %llu/%llu, parks %llu (%llu found no work), "
	       "fiber parks %llu, switches %llu, fibers %llu (%llu KiB stacks), parked now %llu\n",
	       what, (unsigned long long)s.total.tasks_run, (unsigned long long)s.total.steals,
	       (unsigned long long)s.total.steals_attempted, (unsigned long long)s.total.parks,
	       (unsigned long long)s.total.wakeups_no_work,
	       (unsigned long long)s.total.fiber_parks,
	       (unsigned long long)s.total.fiber_switches, (unsigned long long)s.fibers,
	       (unsigned long long)(s.stack_bytes / 1024), (unsigned long long)s.fibers_parked);
}

/* ---- skynet with weft_go and wait groups: every inner node blocks ---- */
struct sky_go {
	long num, size;
	_Atomic long *out;
	weft_wg *parent;
};

static void sky_go_task(void *arg)
{
	struct sky_go *s = arg;
	if (s->size == 1) {
		atomic_fetch_add_explicit(s->out, s->num, memory_order_relaxed);
	} else {
		struct sky_go kids[10];
		_Atomic long sum = 0;
		weft_wg wg;
		weft_wg_init(&wg);
		weft_wg_add(&wg, 10);
		long step = s->size / 10;
		for (int i = 0; i < 10; i++) {
			kids[i] = (struct sky_go){ s->num + i * step, step, &sum, &wg };
			CHECK_EQ(weft_go(NULL, sky_go_task, &kids[i]), 0);
		}
		CHECK_EQ(weft_wg_wait(&wg, NULL), 0);
		atomic_fetch_add_explicit(s->out, atomic_load(&sum), memory_order_relaxed);
	}
	if (s->parent != NULL)
		weft_wg_done(s->parent);
}

static void skynet_go_with(unsigned workers)
{
	weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
	long size = weft_test_sanitized() ? 10000 : 1000000;
	_Atomic long sum = 0;
	struct sky_go root = { 0, size, &sum, NULL };
	uint64_t t0 = weft_now_ns();
	run_root(rt, sky_go_task, &root);
	uint64_t t1 = weft_now_ns();
	CHECK_EQ(atomic_load(&sum), size * (size - 1) / 2);
	printf("skynet weft_go + wg, %ld leaves, %u workers: %.1f ms\n", size, workers,
	       (t1 - t0) / 1e6);
	print_stats(rt, "skynet");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

WEFT_TEST(skynet_go_wg_2_workers) { skynet_go_with(2); }
WEFT_TEST(skynet_go_wg_1_worker) { skynet_go_with(1); }

/* ---- fib under the shared-queue scheduler: joins park their fibers ---- */

WEFT_TEST(fib_shared_scheduler)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_SHARED);
	struct fib f = { .n = weft_test_sanitized() ? 15 : 20 };
	run_root(rt, fib_root, &f);
	CHECK_EQ(f.result, weft_test_sanitized() ? 610 : 6765);
	print_stats(rt, "fib shared");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* Forked children that block (sleep) while their parents join: joins of stolen, blocked
 * children park; nothing deadlocks. */
static void fib_sleepy(weft_task *t)
{
	struct fib *f = (struct fib *)((char *)t - offsetof(struct fib, task));
	if (f->n < 2) {
		if (f->n == 1 && (((uintptr_t)f >> 4) & 7) == 0)
			CHECK_EQ(weft_sleep(NULL, 1000), 0);
		f->result = f->n;
		return;
	}
	struct fib a = { .n = f->n - 1 }, b = { .n = f->n - 2 };
	CHECK_EQ(weft_fork(&a.task, fib_sleepy), 0);
	CHECK_EQ(weft_fork(&b.task, fib_sleepy), 0);
	CHECK_EQ(weft_join(&b.task), 0);
	CHECK_EQ(weft_join(&a.task), 0);
	f->result = a.result + b.result;
}

static void fib_sleepy_root(void *arg)
{
	fib_sleepy(&((struct fib *)arg)->task);
}

WEFT_TEST(join_with_blocking_children)
{
	weft_rt *rt = start_rt(3, WEFT_SCHED_STEAL);
	struct fib f = { .n = 14 };
	run_root(rt, fib_sleepy_root, &f);
	CHECK_EQ(f.result, 377);
	print_stats(rt, "sleepy fib");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- 10^4 tasks blocked on one semaphore all make progress ---- */
struct crowd {
	weft_sem sem;
	_Atomic long inside, max_inside, passed;
	weft_wg wg;
};

static void crowd_task(void *arg)
{
	struct crowd *c = arg;
	CHECK_EQ(weft_sem_wait(&c->sem, NULL), 0);
	long in = atomic_fetch_add(&c->inside, 1) + 1;
	long m = atomic_load(&c->max_inside);
	while (in > m && !atomic_compare_exchange_weak(&c->max_inside, &m, in))
		;
	if (atomic_load(&c->passed) % 64 == 0)
		weft_yield();
	atomic_fetch_sub(&c->inside, 1);
	atomic_fetch_add(&c->passed, 1);
	CHECK_EQ(weft_sem_post(&c->sem), 0);
	weft_wg_done(&c->wg);
}

WEFT_TEST(ten_thousand_on_one_semaphore)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	long n = (long)weft_test_scale(10000);
	struct crowd c;
	memset(&c, 0, sizeof c);
	CHECK_EQ(weft_sem_init(&c.sem, 0), 0);
	weft_wg_init(&c.wg);
	weft_wg_add(&c.wg, (int)n);
	for (long i = 0; i < n; i++)
		CHECK_EQ(weft_go(rt, crowd_task, &c), 0);
	/* Let them all block (they park their fibers: the workers stay free), then open. */
	usleep(20000);
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	printf("before posting: %llu fibers parked, %llu fibers\n",
	       (unsigned long long)s.fibers_parked, (unsigned long long)s.fibers);
	CHECK_EQ(weft_sem_post(&c.sem), 0);
	CHECK_EQ(weft_sem_post(&c.sem), 0);
	CHECK_EQ(weft_wg_wait(&c.wg, NULL), 0);
	CHECK_EQ(atomic_load(&c.passed), n);
	CHECK(atomic_load(&c.max_inside) <= 2);
	print_stats(rt, "semaphore crowd");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- 10^4 tasks blocked on one weft_mutex all make progress ---- */
struct locked {
	weft_mutex m;
	long counter; /* under m */
	_Atomic long started;
	weft_wg wg;
};

static void lock_task(void *arg)
{
	struct locked *l = arg;
	atomic_fetch_add(&l->started, 1);
	CHECK_EQ(weft_mutex_lock(&l->m, NULL), 0);
	l->counter++;
	CHECK_EQ(weft_mutex_unlock(&l->m), 0);
	weft_wg_done(&l->wg);
}

WEFT_TEST(ten_thousand_on_one_mutex)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	long n = (long)weft_test_scale(10000);
	struct locked l;
	memset(&l, 0, sizeof l);
	CHECK_EQ(weft_mutex_init(&l.m), 0);
	weft_wg_init(&l.wg);
	weft_wg_add(&l.wg, (int)n);
	CHECK_EQ(weft_mutex_lock(&l.m, NULL), 0); /* held from outside: every task blocks */
	for (long i = 0; i < n; i++)
		CHECK_EQ(weft_go(rt, lock_task, &l), 0);
	while (atomic_load(&l.started) < n)
		usleep(1000);
	usleep(10000);
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	printf("%llu fibers parked on the mutex before the unlock\n",
	       (unsigned long long)s.fibers_parked);
	CHECK_EQ(weft_mutex_unlock(&l.m), 0);
	CHECK_EQ(weft_wg_wait(&l.wg, NULL), 0);
	CHECK_EQ(weft_mutex_lock(&l.m, NULL), 0);
	CHECK_EQ(l.counter, n);
	CHECK_EQ(weft_mutex_unlock(&l.m), 0);
	print_stats(rt, "mutex crowd");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- ping-pong between two tasks ---- */
struct pingpong {
	_Atomic uint32_t turn; /* 0: ping's, 1: pong's */
	long rounds;
	weft_wg wg;
};

static void pp_side(struct pingpong *p, uint32_t me)
{
	for (long i = 0; i < p->rounds; i++) {
		while (atomic_load_explicit(&p->turn, memory_order_acquire) != me)
			weft_park(&p->turn, 1 - me, WEFT_NO_DEADLINE, NULL);
		atomic_store_explicit(&p->turn, 1 - me, memory_order_release);
		weft_unpark(&p->turn, 1);
	}
	weft_wg_done(&p->wg);
}

static void ping(void *arg) { pp_side(arg, 0); }
static void pong(void *arg) { pp_side(arg, 1); }

WEFT_TEST(ping_pong_park)
{
	weft_rt *rt = start_rt(1, WEFT_SCHED_STEAL);
	struct pingpong p = { .rounds = (long)weft_test_scale(100000) };
	weft_wg_init(&p.wg);
	weft_wg_add(&p.wg, 2);
	uint64_t t0 = weft_now_ns();
	CHECK_EQ(weft_go(rt, ping, &p), 0);
	CHECK_EQ(weft_go(rt, pong, &p), 0);
	CHECK_EQ(weft_wg_wait(&p.wg, NULL), 0);
	uint64_t t1 = weft_now_ns();
	printf("park/unpark ping-pong, 1 worker: %.1f ns per switch\n",
	       (double)(t1 - t0) / (2.0 * p.rounds));
	print_stats(rt, "ping-pong");
	CHECK_EQ(weft_rt_stop(rt), 0);
}

struct qpp {
	weft_queue *to_pong, *to_ping;
	long rounds;
	weft_wg wg;
};

static void qping(void *arg)
{
	struct qpp *p = arg;
	for (long i = 1; i <= p->rounds; i++) {
		CHECK_EQ(weft_queue_push(p->to_pong, (void *)(uintptr_t)i), 0);
		void *back;
		CHECK_EQ(weft_queue_pop_wait(p->to_ping, &back, NULL), 0);
		CHECK_EQ((uintptr_t)back, i);
	}
	weft_wg_done(&p->wg);
}

static void qpong(void *arg)
{
	struct qpp *p = arg;
	for (long i = 1; i <= p->rounds; i++) {
		void *v;
		CHECK_EQ(weft_queue_pop_wait(p->to_pong, &v, NULL), 0);
		CHECK_EQ((uintptr_t)v, i);
		CHECK_EQ(weft_queue_push(p->to_ping, v), 0);
	}
	weft_wg_done(&p->wg);
}

WEFT_TEST(ping_pong_queue)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	struct qpp p = { .rounds = (long)weft_test_scale(20000) };
	CHECK_EQ(weft_queue_create(&p.to_pong, WEFT_QUEUE_MPMC, 16), 0);
	CHECK_EQ(weft_queue_create(&p.to_ping, WEFT_QUEUE_MPMC, 16), 0);
	weft_wg_init(&p.wg);
	weft_wg_add(&p.wg, 2);
	uint64_t t0 = weft_now_ns();
	CHECK_EQ(weft_go(rt, qping, &p), 0);
	CHECK_EQ(weft_go(rt, qpong, &p), 0);
	CHECK_EQ(weft_wg_wait(&p.wg, NULL), 0);
	uint64_t t1 = weft_now_ns();
	printf("blocking-queue ping-pong, 2 workers: %.1f ns per message\n",
	       (double)(t1 - t0) / (2.0 * p.rounds));
	CHECK_EQ(weft_rt_stop(rt), 0);
	weft_queue_destroy(p.to_pong);
	weft_queue_destroy(p.to_ping);
}

/* ---- cancel a ctx under 10^4 sleeping and parked tasks ---- */
struct cancel_crowd {
	weft_ctx *ctx;
	_Atomic long canceled, other, started;
	weft_wg wg;
};

static void sleepy_task(void *arg)
{
	struct cancel_crowd *c = arg;
	atomic_fetch_add(&c->started, 1);
	int r = weft_sleep(c->ctx, 3600ull * WEFT_NS_PER_SEC);
	atomic_fetch_add(r == ECANCELED ? &c->canceled : &c->other, 1);
	weft_wg_done(&c->wg);
}

static void waiting_task(void *arg)
{
	struct cancel_crowd *c = arg;
	atomic_fetch_add(&c->started, 1);
	int r = weft_ctx_wait(c->ctx);
	atomic_fetch_add(r == ECANCELED ? &c->canceled : &c->other, 1);
	weft_wg_done(&c->wg);
}

WEFT_TEST(cancel_wakes_ten_thousand)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	long n = (long)weft_test_scale(10000);
	struct cancel_crowd c;
	memset(&c, 0, sizeof c);
	CHECK_EQ(weft_ctx_with_cancel(NULL, &c.ctx), 0);
	weft_wg_init(&c.wg);
	weft_wg_add(&c.wg, (int)n);
	for (long i = 0; i < n; i++)
		CHECK_EQ(weft_go(rt, i % 2 ? sleepy_task : waiting_task, &c), 0);
	while (atomic_load(&c.started) < n)
		usleep(1000);
	usleep(10000);
	uint64_t t0 = weft_now_ns();
	weft_ctx_cancel(c.ctx);
	CHECK_EQ(weft_wg_wait(&c.wg, NULL), 0);
	uint64_t t1 = weft_now_ns();
	CHECK_EQ(atomic_load(&c.canceled), n);
	CHECK_EQ(atomic_load(&c.other), 0);
	printf("cancel woke %ld parked tasks in %.2f ms\n", n, (t1 - t0) / 1e6);
	print_stats(rt, "cancel");
	CHECK_EQ(weft_rt_stop(rt), 0);
	weft_ctx_release(c.ctx);
}

/* Deadlines: a sleep under a context deadline ends with ETIMEDOUT; timed parks of many
 * tasks all come back. */
static void deadline_task(void *arg)
{
	weft_ctx *ctx = arg;
	CHECK_EQ(weft_sleep(ctx, 3600ull * WEFT_NS_PER_SEC), ETIMEDOUT);
	CHECK_EQ(weft_sleep(NULL, 100000), 0);
}

WEFT_TEST(sleep_deadline)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_timeout(NULL, 5 * 1000 * 1000, &ctx), 0);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(weft_go(rt, deadline_task, ctx), 0);
	CHECK_EQ(weft_rt_stop(rt), 0);
	weft_ctx_release(ctx);
}

struct late {
	double worst;
	long n;
};

static void late_task(void *arg)
{
	struct late *l = arg;
	for (long i = 0; i < l->n; i++) {
		uint64_t want = 200000 + (uint64_t)i * 10000;
		uint64_t t0 = weft_now_ns();
		CHECK_EQ(weft_sleep(NULL, want), 0);
		uint64_t got = weft_now_ns() - t0;
		CHECK(got >= want);
		if ((double)(got - want) > l->worst)
			l->worst = (double)(got - want);
	}
}

WEFT_TEST(sleep_lateness_fibers)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	struct late l = { 0, 20 };
	run_root(rt, late_task, &l);
	printf("weft_sleep(0.2..0.4 ms) worst lateness: %.3f ms\n", l.worst / 1e6);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- a task blocks, resumes on another worker, reads errno and its index, and still
 * owns the mutex it held ---- */
struct migrate {
	_Atomic uint32_t word;
	_Atomic int moved, errors;
	weft_wg wg;
};

__attribute__((noinline)) static int fail_close_errno(void)
{
	errno = 0;
	if (close(-1) == 0)
		return -1;
	return errno;
}

/* The TLS rule in practice: without the asm barrier GCC infers this function const (as
 * glibc declares __errno_location) and reuses the pre-switch result after a migration. */
__attribute__((noinline)) static int *errno_address(void)
{
	int *p = &errno;
	__asm__ __volatile__("" : "+r"(p)::"memory");
	return p;
}

static void migrate_task(void *arg)
{
	struct migrate *m = arg;
	int before = weft_worker_index();
	pid_t tid_before = gettid();
	int *errno_before = errno_address();
	/* A mutex held across the block stays this task's after a move (the debug owner
	 * check of weft_mutex_unlock aborts otherwise): weft_exec_id() follows the fiber. */
	weft_mutex held = WEFT_MUTEX_INITIALIZER;
	uint32_t id_before = weft_exec_id();
	if (weft_mutex_lock(&held, NULL) != 0)
		atomic_fetch_or(&m->errors, 16);
	while (atomic_load_explicit(&m->word, memory_order_acquire) == 0)
		weft_park(&m->word, 0, WEFT_NO_DEADLINE, NULL);
	if (weft_exec_id() != id_before || (id_before & 0x80000000u) == 0)
		atomic_fetch_or(&m->errors, 32);
	if (weft_mutex_unlock(&held) != 0)
		atomic_fetch_or(&m->errors, 64);
	int after = weft_worker_index();
	pid_t tid_after = gettid();
	if (after < 0)
		atomic_fetch_or(&m->errors, 1);
	if (after != before) {
		atomic_fetch_add(&m->moved, 1);
		if (tid_after == tid_before)
			atomic_fetch_or(&m->errors, 2);
		if (errno_address() == errno_before)
			atomic_fetch_or(&m->errors, 4);
	}
	/* errno after the switch is this thread's: the failing call sets it, we read it. */
	if (fail_close_errno() != EBADF)
		atomic_fetch_or(&m->errors, 8);
	weft_wg_done(&m->wg);
}

static void hog(void *arg)
{
	/* Keep one worker busy so the woken fiber is taken by the other one. */
	struct migrate *m = arg;
	atomic_store_explicit(&m->word, 1, memory_order_release);
	weft_unpark(&m->word, INT32_MAX);
	usleep(2000);
}

WEFT_TEST(migrate_errno_and_index)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	int moved = 0;
	for (int round = 0; round < 50 && moved == 0; round++) {
		struct migrate m;
		memset(&m, 0, sizeof m);
		weft_wg_init(&m.wg);
		weft_wg_add(&m.wg, 8);
		for (int i = 0; i < 8; i++)
			CHECK_EQ(weft_go(rt, migrate_task, &m), 0);
		usleep(2000);
		CHECK_EQ(weft_go(rt, hog, &m), 0);
		CHECK_EQ(weft_wg_wait(&m.wg, NULL), 0);
		CHECK_EQ(atomic_load(&m.errors), 0);
		moved += atomic_load(&m.moved);
		usleep(3000); /* the hog finishes */
	}
	printf("%d tasks resumed on another worker; errno and index correct\n", moved);
	CHECK(moved > 0);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- yield lets a queued task run on a single worker ---- */
struct yieldy {
	_Atomic int flag;
	weft_wg wg;
};

static void set_flag(void *arg)
{
	struct yieldy *y = arg;
	atomic_store(&y->flag, 1);
	weft_wg_done(&y->wg);
}

static void spin_yield(void *arg)
{
	struct yieldy *y = arg;
	CHECK_EQ(weft_go(NULL, set_flag, y), 0);
	while (atomic_load(&y->flag) == 0)
		CHECK_EQ(weft_yield(), 0);
	weft_wg_done(&y->wg);
}

WEFT_TEST(yield_one_worker)
{
	weft_rt *rt = start_rt(1, WEFT_SCHED_STEAL);
	struct yieldy y = { 0 };
	weft_wg_init(&y.wg);
	weft_wg_add(&y.wg, 2);
	CHECK_EQ(weft_go(rt, spin_yield, &y), 0);
	CHECK_EQ(weft_wg_wait(&y.wg, NULL), 0);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- stop drains tasks that are parked when it starts ---- */
static void park_then_count(void *arg)
{
	_Atomic long *n = arg;
	CHECK_EQ(weft_sleep(NULL, 2000000), 0);
	atomic_fetch_add(n, 1);
}

WEFT_TEST(stop_waits_for_parked)
{
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	_Atomic long n = 0;
	for (int i = 0; i < 500; i++)
		CHECK_EQ(weft_go(rt, park_then_count, &n), 0);
	CHECK_EQ(weft_rt_stop(rt), 0);
	CHECK_EQ(atomic_load(&n), 500);
}

/* ---- a task that overflows its fiber's stack dies with a message (death test) ---- */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static uint64_t recurse(uint64_t n)
{
	volatile char frame[200];
	frame[0] = (char)n;
	return recurse(n + 1) + (uint64_t)frame[0]; /* not a tail call */
}
#pragma GCC diagnostic pop

static void overflow_task(void *arg)
{
	(void)arg;
	recurse(0);
}

static void overflow_child(void)
{
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.workers = 1;
	cfg.stack_size = 32 * 1024;
	weft_rt *rt;
	if (weft_rt_start(&rt, &cfg) != 0 || weft_go(rt, overflow_task, NULL) != 0)
		_exit(3);
	weft_rt_stop(rt);
	_exit(4); /* not reached: the task never returns */
}

WEFT_TEST(task_stack_overflow_reported)
{
	static char out[65536];
	int status = weft_test_run_child(overflow_child, out, sizeof out);
	int ours = strstr(out, "fiber stack overflow (stack size 32768 bytes)") != NULL;
	int asan = strstr(out, "AddressSanitizer") != NULL && strstr(out, "stack-overflow");
	if (!WIFSIGNALED(status) || !(ours || (weft_test_sanitized() && asan)))
		fprintf(stderr, "child status %#x, stderr:\n%s\n", status, out);
	CHECK(WIFSIGNALED(status));
	CHECK(ours || (weft_test_sanitized() && asan));
	printf("task overflow reported %s\n", ours ? "by weft" : "by AddressSanitizer");
}

/* ---- debug builds: a task that blocks while holding a hazard pointer is stopped ---- */
#if defined(WEFT_DEBUG_CHECKS)
static int hazard_target;
static bool hazard_by_yield; /* set before the child forks */

static void block_holding_hazard(void *arg)
{
	weft_hazard_rec *rec = weft_hazard_rec_get(NULL);
	if (rec == NULL)
		return;
	weft_hazard_set(rec, 0, &hazard_target);
	/* Either switches the fiber away: the debug check aborts there. */
	if (hazard_by_yield)
		weft_yield();
	else
		weft_sleep(NULL, 1000000);
	weft_hazard_clear(rec, 0);
	*(int *)arg = 1;
}

static void hazard_child(void)
{
	weft_rt *rt = start_rt(1, WEFT_SCHED_STEAL);
	int finished = 0;
	weft_go(rt, block_holding_hazard, &finished);
	weft_rt_stop(rt);
	fprintf(stderr, "finished=%d\n", finished);
}
#endif

WEFT_TEST(hazard_held_across_block_caught_in_debug_builds)
{
#if defined(WEFT_DEBUG_CHECKS)
	static char out[65536];
	for (int by_yield = 0; by_yield < 2; by_yield++) {
		hazard_by_yield = by_yield;
		int status = weft_test_run_child(hazard_child, out, sizeof out);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
			fprintf(stderr, "child status %#x, stderr:\n%s\n", status, out);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
		CHECK(strstr(out, "hazard pointer held across a fiber switch") != NULL);
		printf("a hazard pointer held across a %s aborts the task's process\n",
		       by_yield ? "yield" : "block");
	}
#else
	printf("release build: the check is compiled out (WEFT_DEBUG_CHECKS)\n");
#endif
}
