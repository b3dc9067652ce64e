/*
 * The runtime's direct hand-off (runtime/fibers.c): a fiber woken by a task runs next on
 * the waker's worker, and the waker's park switches straight to it. Checks: ping-pongs end
 * at the exact turn count on 1, 2 and 4 workers; two tasks handing off to each other
 * forever still let the worker loop run (a task injected from outside and a sleeper's
 * timer on the same single worker both get their turn); a woken fiber runs after a waker
 * that computes without blocking.
 */
#include <stdatomic.h>
#include <time.h>

#include <weft/runtime.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "runtime_cases.h"
#include "weft_test.h"

struct pp {
	_Atomic uint32_t turn;
	_Atomic bool stop;
	uint32_t rounds; /* 0: until stop */
	_Atomic uint64_t done_rounds;
	weft_wg wg;
};

struct player {
	struct pp *p;
	uint32_t me;
};

/* Each player moves when turn % 2 == me: advance the turn, wake the other, wait. */
static void player_fn(void *arg)
{
	struct player *pl = arg;
	struct pp *p = pl->p;
	uint64_t n = 0;
	for (;;) {
		if (p->rounds != 0 && n == p->rounds)
			break;
		uint32_t v;
		/* Acquire: pairs with the other player's release store. */
		while (((v = atomic_load_explicit(&p->turn, memory_order_acquire)) & 1u) != pl->me)
			weft_park(&p->turn, v, WEFT_NO_DEADLINE, NULL);
		/* Relaxed: a flag; the player that sees it makes one more move, then both stop
		 * (the other is woken by that move, sees the flag too). */
		bool last = p->rounds == 0 && atomic_load_explicit(&p->stop, memory_order_relaxed);
		/* Release: pairs with the other player's acquire load. */
		atomic_store_explicit(&p->turn, v + 1, memory_order_release);
		weft_unpark(&p->turn, 1);
		n++;
		if (last)
			break;
	}
	atomic_fetch_add_explicit(&p->done_rounds, n, memory_order_relaxed);
	weft_wg_done(&p->wg);
}

static void pingpong_exact(unsigned workers)
{
	weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
	struct pp p = {.rounds = (uint32_t)weft_test_scale(200000)};
	weft_wg_init(&p.wg);
	weft_wg_add(&p.wg, 2);
	struct player pl[2] = {{&p, 0}, {&p, 1}};
	CHECK_EQ(weft_go(rt, player_fn, &pl[0]), 0);
	CHECK_EQ(weft_go(rt, player_fn, &pl[1]), 0);
	CHECK_EQ(weft_wg_wait(&p.wg, NULL), 0);
	CHECK_EQ(atomic_load(&p.turn), 2 * p.rounds);
	CHECK_EQ(atomic_load(&p.done_rounds), 2 * (uint64_t)p.rounds);
	CHECK_EQ(weft_rt_stop(rt), 0);
	printf("ping-pong on %u workers: %u rounds each, turn %u\n", workers, p.rounds,
	       atomic_load(&p.turn));
}

WEFT_TEST(pingpong_exact_1)
{
	pingpong_exact(1);
}

WEFT_TEST(pingpong_exact_2)
{
	pingpong_exact(2);
}

WEFT_STRESS(pingpong_exact_4)
{
	pingpong_exact(4);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void set_stop(void *arg)
{
	struct pp *p = arg;
	atomic_store_explicit(&p->stop, true, memory_order_relaxed);
}

/* Sleeps in 1 ms steps (a timer in this worker's heap each time) until the ping-pong is well
 * under way, then stops it: each step needs the loop to fire a timer mid-ping-pong. */
static void sleep_then_stop(void *arg)
{
	struct pp *p = arg;
	do
		CHECK_EQ(weft_sleep(NULL, 1000000), 0);
	while (atomic_load(&p->turn) < 1000);
	set_stop(p);
}

/* Two endless players on one worker; `stopper` (a task) must get to run on that worker. */
static void endless_pingpong_lets(void (*stopper)(void *), bool stopper_first)
{
	weft_rt *rt = start_rt(1, WEFT_SCHED_STEAL);
	struct pp p = {.rounds = 0};
	weft_wg_init(&p.wg);
	weft_wg_add(&p.wg, 2);
	struct player pl[2] = {{&p, 0}, {&p, 1}};
	if (stopper_first) /* the sleeper parks before the players start */
		CHECK_EQ(weft_go(rt, stopper, &p), 0);
	CHECK_EQ(weft_go(rt, player_fn, &pl[0]), 0);
	CHECK_EQ(weft_go(rt, player_fn, &pl[1]), 0);
	/* Let the ping-pong get going, then inject the stopper from outside the runtime. */
	for (int i = 0; i < 10000 && atomic_load(&p.turn) < 1000; i++)
		sleep_ms(1);
	CHECK(atomic_load(&p.turn) >= 1000);
	if (!stopper_first)
		CHECK_EQ(weft_go(rt, stopper, &p), 0);
	/* Bounded: a starved stopper fails here instead of hanging the test. */
	for (int i = 0; i < 20000 && !atomic_load(&p.stop); i++)
		sleep_ms(1);
	CHECK(atomic_load(&p.stop));
	CHECK_EQ(weft_wg_wait(&p.wg, NULL), 0);
	CHECK_EQ(atomic_load(&p.turn), atomic_load(&p.done_rounds));
	CHECK_EQ(weft_rt_stop(rt), 0);
	printf("the loop ran during %u hand-offs\n", atomic_load(&p.turn));
}

WEFT_TEST(endless_pingpong_lets_injected_task_run)
{
	endless_pingpong_lets(set_stop, false);
}

WEFT_TEST(endless_pingpong_lets_timer_fire)
{
	endless_pingpong_lets(sleep_then_stop, true);
}

/* A waker that computes after its wake: the woken fiber still runs (at the latest when the
 * waker ends: a hand-off is private to the waker's worker until then). */
struct late {
	_Atomic uint32_t word;
	_Atomic int ran;
	uint64_t sink; /* the waker's busy work, kept */
	weft_wg wg;
};

static void late_sleeper(void *arg)
{
	struct late *l = arg;
	/* Acquire: pairs with the waker's release store. */
	while (atomic_load_explicit(&l->word, memory_order_acquire) == 0)
		weft_park(&l->word, 0, WEFT_NO_DEADLINE, NULL);
	atomic_fetch_add(&l->ran, 1);
	weft_wg_done(&l->wg);
}

static void late_waker(void *arg)
{
	struct late *l = arg;
	/* Release: pairs with the sleeper's acquire load. */
	atomic_store_explicit(&l->word, 1, memory_order_release);
	weft_unpark(&l->word, 1);
	volatile uint64_t x = 0;
	for (uint64_t i = 0; i < weft_test_scale(1000000); i++)
		x += i;
	l->sink = x;
	atomic_fetch_add(&l->ran, 1);
	weft_wg_done(&l->wg);
}

WEFT_TEST(woken_fiber_runs_after_busy_waker)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
		struct late l = {0};
		weft_wg_init(&l.wg);
		weft_wg_add(&l.wg, 2);
		CHECK_EQ(weft_go(rt, late_sleeper, &l), 0);
		/* Let the sleeper park first (best effort: correctness does not depend on it). */
		sleep_ms(5);
		CHECK_EQ(weft_go(rt, late_waker, &l), 0);
		CHECK_EQ(weft_wg_wait(&l.wg, NULL), 0);
		CHECK_EQ(atomic_load(&l.ran), 2);
		CHECK_EQ(weft_rt_stop(rt), 0);
	}
}
