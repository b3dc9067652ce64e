/*
 * The held park (runtime/parker.c, invariants H1-H3; fibers.c, weft_fibers_park_held): a
 * task's park with neither ctx nor deadline switches away with the parking lot's bucket
 * lock held, and its unpark schedules it without a hand-shake on the waiter word. Checks
 * that no wake-up is lost and none is doubled when:
 *   - held parks and classic parks (with a deadline: a timer; with a ctx: a context
 *     registration) wait on one address, woken together (a token ring, exact turn count);
 *   - a plain thread (the futex parker) wakes held fibers, and they wake it back (exact
 *     round counts on both sides);
 *   - wake-one unparks from a thread and from tasks hand tokens to many held parkers on
 *     one address (every token consumed exactly once).
 * Oversubscribed runtimes (4 workers on 2 cores) and random yields widen the window in
 * which a waker on another worker meets a parker that is still switching away.
 * Every wait is bounded by a context deadline: a lost wake-up fails instead of hanging.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/ctx.h>
#include <weft/runtime.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "runtime_cases.h"
#include "weft_test.h"

#define TEST_TIMEOUT_NS (UINT64_C(60) * 1000000000u)

/* Wait for wg, failing (not hanging) if a lost wake-up keeps it from reaching zero. */
static void wg_wait_bounded(weft_wg *wg)
{
	weft_ctx *ctx = NULL;
	CHECK_EQ(weft_ctx_with_timeout(NULL, TEST_TIMEOUT_NS, &ctx), 0);
	CHECK_EQ(weft_wg_wait(wg, ctx), 0);
	weft_ctx_release(ctx);
}

/* ---- a token ring over one word: held, deadline and ctx parks side by side ---- */

#define RING 12

struct ring {
	_Atomic uint32_t turn;
	uint32_t rounds;
	weft_ctx *ctx; /* never cancelled: makes a park take the classic path */
	_Atomic uint64_t moves[RING];
	weft_wg wg;
};

struct ring_member {
	struct ring *r;
	uint32_t me;
};

static void ring_fn(void *arg)
{
	struct ring_member *m = arg;
	struct ring *r = m->r;
	uint64_t rng = 0x9e3779b97f4a7c15u * (m->me + 1);
	for (uint32_t i = 0; i < r->rounds; i++) {
		uint32_t v;
		/* Acquire: pairs with the previous mover's release store. */
		while ((v = atomic_load_explicit(&r->turn, memory_order_acquire)) % RING != m->me) {
			int e;
			switch (m->me % 3) {
			case 0: /* the held park */
				e = weft_park(&r->turn, v, WEFT_NO_DEADLINE, NULL);
				break;
			case 1: /* classic, with a timer that does not fire */
				e = weft_park(&r->turn, v, weft_now_ns() + TEST_TIMEOUT_NS, NULL);
				break;
			default: /* classic, registered with a context */
				e = weft_park(&r->turn, v, WEFT_NO_DEADLINE, r->ctx);
				break;
			}
			CHECK_EQ(e, 0);
		}
		/* Relaxed: counted by this member only, read after the wait group. */
		atomic_fetch_add_explicit(&r->moves[m->me], 1, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 64);
		/* Release: pairs with the next mover's acquire load. */
		atomic_store_explicit(&r->turn, v + 1, memory_order_release);
		weft_unpark(&r->turn, INT32_MAX); /* the next mover is one of them */
	}
	weft_wg_done(&r->wg);
}

static void ring_mixed(unsigned workers)
{
	weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
	struct ring r = {.rounds = (uint32_t)weft_test_scale(20000)};
	CHECK_EQ(weft_ctx_with_cancel(NULL, &r.ctx), 0);
	weft_wg_init(&r.wg);
	weft_wg_add(&r.wg, RING);
	struct ring_member m[RING];
	for (uint32_t i = 0; i < RING; i++) {
		m[i] = (struct ring_member){&r, i};
		CHECK_EQ(weft_go(rt, ring_fn, &m[i]), 0);
	}
	wg_wait_bounded(&r.wg);
	CHECK_EQ(atomic_load(&r.turn), RING * r.rounds);
	for (uint32_t i = 0; i < RING; i++)
		CHECK_EQ(atomic_load(&r.moves[i]), r.rounds);
	CHECK_EQ(weft_rt_stop(rt), 0);
	weft_ctx_release(r.ctx);
	printf("ring of %d on %u workers: %u rounds, turn %u\n", RING, workers, r.rounds,
	       atomic_load(&r.turn));
}

WEFT_TEST(ring_mixed_parks_1)
{
	ring_mixed(1);
}

WEFT_STRESS(ring_mixed_parks_4)
{
	ring_mixed(4);
}

/* ---- a plain thread wakes held fibers, and they wake it back ---- */

#define SERVED 8

struct serve {
	_Atomic uint32_t go[SERVED]; /* the thread bumps go[i] to start round go[i] of task i */
	_Atomic uint32_t done;       /* tasks bump it when their round is done */
	uint32_t rounds;
	_Atomic uint64_t ran[SERVED];
	weft_wg wg;
};

struct served {
	struct serve *s;
	uint32_t me;
};

static void served_fn(void *arg)
{
	struct served *t = arg;
	struct serve *s = t->s;
	uint64_t rng = 0x2545f4914f6cdd1du * (t->me + 1);
	for (uint32_t round = 1; round <= s->rounds; round++) {
		/* Acquire: pairs with the thread's release increment of go[me]. */
		while (atomic_load_explicit(&s->go[t->me], memory_order_acquire) < round)
			CHECK_EQ(weft_park(&s->go[t->me], round - 1, WEFT_NO_DEADLINE, NULL), 0);
		/* Relaxed: counted by this task only, read after the wait group. */
		atomic_fetch_add_explicit(&s->ran[t->me], 1, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 32);
		/* Release: pairs with the thread's acquire load of done. */
		atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
		weft_unpark(&s->done, 1);
	}
	weft_wg_done(&s->wg);
}

WEFT_STRESS(thread_wakes_held_fibers)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	struct serve s = {.rounds = (uint32_t)weft_test_scale(20000)};
	weft_wg_init(&s.wg);
	weft_wg_add(&s.wg, SERVED);
	struct served t[SERVED];
	for (uint32_t i = 0; i < SERVED; i++) {
		t[i] = (struct served){&s, i};
		CHECK_EQ(weft_go(rt, served_fn, &t[i]), 0);
	}
	uint64_t deadline = weft_now_ns() + TEST_TIMEOUT_NS;
	for (uint32_t round = 1; round <= s.rounds; round++) {
		for (uint32_t i = 0; i < SERVED; i++) {
			/* Release: pairs with the task's acquire load of go[i]. */
			atomic_fetch_add_explicit(&s.go[i], 1, memory_order_release);
			weft_unpark(&s.go[i], 1);
		}
		uint32_t want = round * SERVED, v;
		/* Acquire: pairs with the tasks' release increments. */
		while ((v = atomic_load_explicit(&s.done, memory_order_acquire)) < want) {
			int e = weft_park(&s.done, v, deadline, NULL);
			CHECK(e == 0 || e == ETIMEDOUT);
			CHECK(weft_now_ns() < deadline); /* a lost wake-up of this thread */
		}
		CHECK_EQ(v, want);
	}
	wg_wait_bounded(&s.wg);
	for (uint32_t i = 0; i < SERVED; i++)
		CHECK_EQ(atomic_load(&s.ran[i]), s.rounds);
	CHECK_EQ(weft_rt_stop(rt), 0);
	printf("%d tasks served %u rounds by a thread\n", SERVED, s.rounds);
}

/* ---- wake-one tokens for many held parkers on one address ---- */

#define TAKERS 24
#define GIVERS 4

struct tokens {
	_Atomic uint32_t avail; /* tokens given, not yet taken */
	uint32_t per_taker;
	_Atomic uint64_t taken[TAKERS];
	weft_wg wg;
};

struct taker {
	struct tokens *k;
	uint32_t me;
};

static void give(struct tokens *k)
{
	/* Release: pairs with the taker's acquire CAS: the token's giver came first. */
	atomic_fetch_add_explicit(&k->avail, 1, memory_order_release);
	weft_unpark(&k->avail, 1);
}

static void taker_fn(void *arg)
{
	struct taker *t = arg;
	struct tokens *k = t->k;
	for (uint32_t got = 0; got < k->per_taker;) {
		/* Acquire: pairs with give's release (and the CAS below). */
		uint32_t v = atomic_load_explicit(&k->avail, memory_order_acquire);
		if (v == 0) {
			CHECK_EQ(weft_park(&k->avail, 0, WEFT_NO_DEADLINE, NULL), 0);
			continue;
		}
		/* Acq_rel: takes one token; pairs with give and with other takers. */
		if (atomic_compare_exchange_weak_explicit(&k->avail, &v, v - 1, memory_order_acq_rel,
							  memory_order_acquire)) {
			got++;
			/* A token taken may leave others: pass the wake on, so that one wake per
			 * give is never absorbed by a taker that found nothing left for it. */
			if (v > 1)
				weft_unpark(&k->avail, 1);
		}
	}
	/* Relaxed: counted by this taker only, read after the wait group. */
	atomic_store_explicit(&k->taken[t->me], k->per_taker, memory_order_relaxed);
	weft_wg_done(&k->wg);
}

struct giver {
	struct tokens *k;
	uint32_t count;
	uint64_t rng;
};

static void giver_task(void *arg)
{
	struct giver *g = arg;
	for (uint32_t i = 0; i < g->count; i++) {
		give(g->k);
		if (weft_test_rand(&g->rng) % 16 == 0)
			weft_yield();
	}
	weft_wg_done(&g->k->wg);
}

WEFT_STRESS(wake_one_tokens_to_held_parkers)
{
	weft_rt *rt = start_rt(4, WEFT_SCHED_STEAL);
	struct tokens k = {.per_taker = (uint32_t)weft_test_scale(10000)};
	weft_wg_init(&k.wg);
	weft_wg_add(&k.wg, TAKERS + GIVERS);
	struct taker t[TAKERS];
	for (uint32_t i = 0; i < TAKERS; i++) {
		t[i] = (struct taker){&k, i};
		CHECK_EQ(weft_go(rt, taker_fn, &t[i]), 0);
	}
	/* Half the tokens come from tasks (wakers on the workers: the hand-off), half from
	 * this thread (wakers outside: the injection queue). */
	uint32_t total = TAKERS * k.per_taker, from_tasks = total / 2;
	struct giver g[GIVERS];
	for (uint32_t i = 0; i < GIVERS; i++) {
		g[i] = (struct giver){&k, from_tasks / GIVERS + (i < from_tasks % GIVERS), i + 1};
		CHECK_EQ(weft_go(rt, giver_task, &g[i]), 0);
	}
	uint64_t rng = 7;
	for (uint32_t i = 0; i < total - from_tasks; i++) {
		give(&k);
		weft_test_maybe_yield(&rng, 256);
	}
	wg_wait_bounded(&k.wg);
	CHECK_EQ(atomic_load(&k.avail), 0);
	for (uint32_t i = 0; i < TAKERS; i++)
		CHECK_EQ(atomic_load(&k.taken[i]), k.per_taker);
	CHECK_EQ(weft_rt_stop(rt), 0);
	printf("%u tokens to %d held parkers, half from tasks\n", total, TAKERS);
}
