/* weft_rt_stats: what it reports about fiber stacks. */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include <weft/runtime.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "weft_test.h"

static void touch(void *arg)
{
	weft_wg_done(arg);
}

/* stack_bytes counts what weft_fiber_create maps: the stack rounded up to whole pages, plus
 * the guard page (the bug fixed here: it added stack_size + 4096, unrounded, whatever the
 * page size). */
WEFT_TEST(stack_bytes_counts_whole_pages)
{
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.workers = 1;
	cfg.stack_size = 20000; /* not a multiple of any page size */
	weft_rt *rt;
	CHECK_EQ(weft_rt_start(&rt, &cfg), 0);
	weft_wg wg = WEFT_WG_INIT;
	weft_wg_add(&wg, 1);
	CHECK_EQ(weft_go(rt, touch, &wg), 0);
	CHECK_EQ(weft_wg_wait(&wg, NULL), 0);
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t per_fiber = (uint64_t)((20000 + page - 1) / page * page + page);
	CHECK(s.fibers >= 1); /* the worker's fiber ran the task */
	CHECK_EQ(s.stack_bytes, s.fibers * per_fiber);
	CHECK_EQ(weft_rt_stop(rt), 0);
}

/* Two tasks on one worker taking turns through weft_park/weft_unpark: most turns are held
 * parks that switch straight to the other task (fibers.c, weft_fibers_park_held), counted
 * once as fiber_handoffs and reported as a park, a resume and a switch each. */
struct turns {
	_Atomic uint32_t turn;
	uint32_t rounds;
	weft_wg wg;
};

struct player {
	struct turns *t;
	uint32_t me;
};

static void take_turns(void *arg)
{
	struct player *p = arg;
	struct turns *t = p->t;
	for (uint32_t i = 0; i < t->rounds; i++) {
		uint32_t v;
		/* Acquire: pairs with the other player's release store below. */
		while (((v = atomic_load_explicit(&t->turn, memory_order_acquire)) & 1u) != p->me)
			weft_park(&t->turn, v, WEFT_NO_DEADLINE, NULL);
		/* Release: pairs with the other player's acquire load above. */
		atomic_store_explicit(&t->turn, v + 1, memory_order_release);
		weft_unpark(&t->turn, 1);
	}
	weft_wg_done(&t->wg);
}

WEFT_TEST(ping_pong_counts_parks_resumes_and_switches)
{
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.workers = 1;
	weft_rt *rt;
	CHECK_EQ(weft_rt_start(&rt, &cfg), 0);
	struct turns t = { .rounds = 1000 };
	weft_wg_init(&t.wg);
	weft_wg_add(&t.wg, 2);
	struct player p0 = { &t, 0 }, p1 = { &t, 1 };
	CHECK_EQ(weft_go(rt, take_turns, &p0), 0);
	CHECK_EQ(weft_go(rt, take_turns, &p1), 0);
	CHECK_EQ(weft_wg_wait(&t.wg, NULL), 0);
	CHECK_EQ(atomic_load_explicit(&t.turn, memory_order_relaxed), 2 * t.rounds);
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	/* One worker: every turn but the first few blocks the task whose turn it is not. */
	CHECK(s.total.fiber_parks >= t.rounds);
	CHECK(s.total.fiber_switches >= s.total.fiber_parks);
	CHECK_EQ(s.fibers_parked, 0); /* every park was resumed (parks == resumes) */
	CHECK_EQ(weft_rt_stop(rt), 0);
}
