/*
 * The scheduler's policies: where yielded fibers go (the worker's own yield list, handed
 * over to idle workers), that a yield lets the other runnable work go first and is never
 * starved by it, and that idle workers that spin before they park still pick up every
 * task and still sleep through their timers.
 */
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include <weft/runtime.h>
#include <weft/wg.h>

#include "runtime_cases.h"
#include "weft_test.h"

/* ---- a yield lets a forked child (on the yielder's own deque) run first ---- */
struct child_flag {
	weft_task task;
	_Atomic int flag;
};

static void set_child_flag(weft_task *t)
{
	struct child_flag *c = (struct child_flag *)((char *)t - offsetof(struct child_flag, task));
	atomic_store(&c->flag, 1);
}

static void yield_until_child(void *arg)
{
	weft_wg *wg = arg;
	struct child_flag c = { .flag = 0 };
	CHECK_EQ(weft_fork(&c.task, set_child_flag), 0);
	long yields = 0;
	while (atomic_load(&c.flag) == 0) {
		CHECK_EQ(weft_yield(), 0);
		CHECK(++yields < 1000000); /* the child must get to run */
	}
	CHECK_EQ(weft_join(&c.task), 0);
	weft_wg_done(wg);
}

WEFT_TEST(yield_runs_own_deque_first)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		weft_wg wg;
		weft_wg_init(&wg);
		unsigned n = (unsigned)weft_test_scale(200);
		weft_wg_add(&wg, (int)n);
		for (unsigned i = 0; i < n; i++)
			CHECK_EQ(weft_go(rt, yield_until_child, &wg), 0);
		CHECK_EQ(weft_wg_wait(&wg, NULL), 0);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}

/* ---- a yielder is not starved by a worker that always has other work ---- */
struct churn {
	_Atomic int stop;
	_Atomic long spawned;
	weft_wg wg;
};

/* Respawns itself until told to stop: the worker's deque is never empty for long. */
static void churn_task(void *arg)
{
	struct churn *c = arg;
	if (atomic_load(&c->stop) == 0 && weft_go(NULL, churn_task, c) == 0) {
		atomic_fetch_add(&c->spawned, 1);
		return;
	}
	weft_wg_done(&c->wg);
}

static void yield_then_stop(void *arg)
{
	struct churn *c = arg;
	/* Each of these yields must come back while the churn goes on. */
	for (int i = 0; i < 200; i++)
		CHECK_EQ(weft_yield(), 0);
	atomic_store(&c->stop, 1);
	weft_wg_done(&c->wg);
}

static void churn_root(void *arg)
{
	struct churn *c = arg;
	CHECK_EQ(weft_go(NULL, churn_task, c), 0);
	CHECK_EQ(weft_go(NULL, yield_then_stop, c), 0);
	weft_wg_done(&c->wg);
}

WEFT_TEST(yield_not_starved_by_local_work)
{
	weft_rt *rt = start_rt(1, WEFT_SCHED_STEAL);
	struct churn c = { .stop = 0, .spawned = 0 };
	weft_wg_init(&c.wg);
	weft_wg_add(&c.wg, 3); /* the root, the yielder, the last churn task */
	CHECK_EQ(weft_go(rt, churn_root, &c), 0);
	CHECK_EQ(weft_wg_wait(&c.wg, NULL), 0);
	printf("churn tasks spawned while 200 yields came back: %ld\n", atomic_load(&c.spawned));
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- many yielders, oversubscribed: every yield returns, every task finishes once ---- */
struct yielders {
	_Atomic long yields;
	_Atomic long finished;
	_Atomic long moved; /* tasks seen on more than one worker */
	weft_wg wg;
	long per_task;
};

static void yielder(void *arg)
{
	struct yielders *y = arg;
	int first = weft_worker_index();
	bool moved = false;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (long i = 0; i < y->per_task; i++) {
		CHECK_EQ(weft_yield(), 0);
		atomic_fetch_add_explicit(&y->yields, 1, memory_order_relaxed);
		moved |= weft_worker_index() != first;
		if (weft_test_rand(&rng) % 64 == 0) /* sometimes a short block, too */
			CHECK_EQ(weft_sleep(NULL, 1000), 0);
	}
	if (moved)
		atomic_fetch_add(&y->moved, 1);
	atomic_fetch_add(&y->finished, 1);
	weft_wg_done(&y->wg);
}

WEFT_STRESS(yielders_everywhere)
{
	for (unsigned workers = 1; workers <= 8; workers *= 2) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		struct yielders y = { .per_task = (long)weft_test_scale(500) };
		weft_wg_init(&y.wg);
		unsigned tasks = 4 * workers + 3;
		weft_wg_add(&y.wg, (int)tasks);
		for (unsigned i = 0; i < tasks; i++)
			CHECK_EQ(weft_go(rt, yielder, &y), 0);
		CHECK_EQ(weft_wg_wait(&y.wg, NULL), 0);
		CHECK_EQ(atomic_load(&y.finished), (long)tasks);
		CHECK_EQ(atomic_load(&y.yields), (long)tasks * y.per_task);
		printf("%u workers: %u yielding tasks, %ld of them ran on more than one worker\n",
		       workers, tasks, atomic_load(&y.moved));
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}

/* ---- yielders spawned on one worker spread to the other ---- */
static void spawn_yielders(void *arg)
{
	struct yielders *y = arg;
	for (int i = 0; i < 4; i++)
		CHECK_EQ(weft_go(NULL, yielder, y), 0); /* all on this worker's deque */
	weft_wg_done(&y->wg);
}

WEFT_TEST(yielders_spread_from_one_worker)
{
	/* Checked: all finish, every yield returned; printed: how many moved (the hand-off of
	 * a second fiber on a yield list to a searching or sleeping worker, or a steal of a
	 * not yet started task; 0 is possible on a busy machine). */
	weft_rt *rt = start_rt(2, WEFT_SCHED_STEAL);
	struct yielders y = { .per_task = (long)weft_test_scale(2000) };
	weft_wg_init(&y.wg);
	weft_wg_add(&y.wg, 5);
	CHECK_EQ(weft_go(rt, spawn_yielders, &y), 0);
	CHECK_EQ(weft_wg_wait(&y.wg, NULL), 0);
	CHECK_EQ(atomic_load(&y.finished), 4);
	CHECK_EQ(atomic_load(&y.yields), 4 * y.per_task);
	weft_rt_counters st;
	CHECK_EQ(weft_rt_stats(rt, &st), 0);
	printf("4 yielders on 2 workers: %ld moved; parks %llu, wake-ups that found no work %llu\n",
	       atomic_load(&y.moved), (unsigned long long)st.total.parks,
	       (unsigned long long)st.total.wakeups_no_work);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* ---- spinning idle workers: bursts with gaps shorter and longer than the spin ---- */
static void count_done(void *arg)
{
	weft_wg *wg = arg;
	weft_wg_done(wg);
}

WEFT_STRESS(bursts_with_gaps)
{
	uint64_t rng = 7;
	for (unsigned workers = 1; workers <= 4; workers *= 2) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		uint64_t rounds = weft_test_scale(2000);
		/* One wait group for all rounds (reused, never re-initialised: the last done of
		 * a round may still be inside weft_wg_done when the wait returns). */
		weft_wg wg;
		weft_wg_init(&wg);
		for (uint64_t r = 0; r < rounds; r++) {
			/* 0..200 us: around the idle spin's length, both sides of it. */
			struct timespec ts = { 0, (long)(weft_test_rand(&rng) % 200000) };
			nanosleep(&ts, NULL);
			int n = 1 + (int)(weft_test_rand(&rng) % 8);
			weft_wg_add(&wg, n);
			for (int i = 0; i < n; i++)
				CHECK_EQ(weft_go(rt, count_done, &wg), 0);
			CHECK_EQ(weft_wg_wait(&wg, NULL), 0);
		}
		weft_rt_counters st;
		CHECK_EQ(weft_rt_stats(rt, &st), 0);
		printf("%u workers: %llu bursts, %llu parks, %llu wake-ups found no work\n", workers,
		       (unsigned long long)rounds, (unsigned long long)st.total.parks,
		       (unsigned long long)st.total.wakeups_no_work);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}

/* ---- spawn records drift from the spawner to the workers that run its tasks: the
 * magazine depot (runtime/gorec.c) must hand every record back, once, round after round;
 * ASan's leak check covers the depot's teardown ---- */
struct fan {
	weft_wg wg;
	_Atomic long ran;
	unsigned n;
};

static void fan_leaf(void *arg)
{
	struct fan *f = arg;
	atomic_fetch_add_explicit(&f->ran, 1, memory_order_relaxed);
	weft_wg_done(&f->wg);
}

static void fan_root(void *arg)
{
	struct fan *f = arg;
	for (unsigned i = 0; i < f->n; i++)
		if (weft_go(NULL, fan_leaf, f) != 0)
			fan_leaf(f);
	weft_wg_done(&f->wg);
}

WEFT_STRESS(spawn_records_recycled_across_workers)
{
	for (unsigned workers = 1; workers <= 4; workers *= 2) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		struct fan f = { .n = (unsigned)weft_test_scale(3000) };
		long total = 0;
		for (int round = 0; round < 20; round++) {
			weft_wg_init(&f.wg);
			weft_wg_add(&f.wg, (int)f.n + 1);
			CHECK_EQ(weft_go(rt, fan_root, &f), 0);
			CHECK_EQ(weft_wg_wait(&f.wg, NULL), 0);
			total += f.n;
			CHECK_EQ(atomic_load(&f.ran), total); /* every task ran exactly once */
		}
		printf("  %u workers: %ld tasks in 20 fan-outs\n", workers, total);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}

/* ---- a spawner that never returns to its loop: the task it spawns can run only on a peer,
 * which is idle, spinning or asleep, or on its way to sleep (the gap before the spawn lands
 * on every phase of park.c's protocol). A lost wake-up (park.c: S2 against P3, the
 * asymmetric barrier) leaves the child unrun: the check below fails after 10 s ---- */
struct busy_spawn {
	weft_wg done;
	uint64_t gap_ns;
	_Atomic uint32_t child_ran;
	_Atomic int lost;
};

static void busy_child(void *arg)
{
	struct busy_spawn *b = arg;
	/* Release: pairs with the spawner's acquire load. */
	atomic_store_explicit(&b->child_ran, 1, memory_order_release);
}

static void busy_spawner(void *arg)
{
	struct busy_spawn *b = arg;
	uint64_t t0 = weft_now_ns();
	while (weft_now_ns() - t0 < b->gap_ns) /* stays busy: the peers go idle meanwhile */
		weft_cpu_relax();
	CHECK_EQ(weft_go(NULL, busy_child, b), 0);
	t0 = weft_now_ns();
	unsigned spins = 0;
	/* Acquire: pairs with the child's release store. Never blocks: this worker does not
	 * go back to its loop, so only a peer can run the child. sched_yield lets a peer on
	 * the same CPU run (taskset -c 0). */
	while (atomic_load_explicit(&b->child_ran, memory_order_acquire) == 0) {
		if (++spins % 64 == 0)
			sched_yield();
		if (weft_now_ns() - t0 > 10000000000ull) {
			atomic_store(&b->lost, 1);
			break;
		}
	}
	weft_wg_done(&b->done);
}

WEFT_STRESS(busy_spawner_wakes_a_sleeping_peer)
{
	uint64_t rng = 99;
	for (unsigned workers = 2; workers <= 4; workers *= 2) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		uint64_t rounds = weft_test_scale(1500);
		struct busy_spawn b;
		weft_wg_init(&b.done);
		atomic_init(&b.lost, 0);
		for (uint64_t r = 0; r < rounds && atomic_load(&b.lost) == 0; r++) {
			/* 0..120 us: shorter and longer than the idle spin before a park (the
			 * spawn meets a peer in every phase); one round in four 200..400 us, so
			 * that the peers are surely asleep (the spawn alone must wake one). */
			uint64_t x = weft_test_rand(&rng);
			b.gap_ns = x % 4 == 0 ? 200000 + x / 4 % 200000 : x / 4 % 120000;
			atomic_store(&b.child_ran, 0);
			weft_wg_add(&b.done, 1);
			CHECK_EQ(weft_go(rt, busy_spawner, &b), 0);
			CHECK_EQ(weft_wg_wait(&b.done, NULL), 0);
		}
		CHECK_EQ(atomic_load(&b.lost), 0); /* a spawned task waited 10 s for a worker */
		weft_rt_counters st;
		CHECK_EQ(weft_rt_stats(rt, &st), 0);
		printf("%u workers: %llu busy spawns, %llu worker parks\n", workers,
		       (unsigned long long)rounds, (unsigned long long)st.total.parks);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}
