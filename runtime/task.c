/*
 * Spawning (weft_go), fork/join, yield, sleep and the worker index.
 *
 * Fork-join states (weft_task.state): PENDING after the fork; WAITING once the joiner has
 * given up helping and parks; DONE once fn returned. Whoever runs a forked task other than
 * its own joiner finishes with an exchange to DONE and, if it saw WAITING, unparks the
 * joiner. A joiner that pops its own task back runs it inline and touches no atomics.
 *
 * Deadlock freedom of joins: a worker steals only when its own deque is empty, so a
 * thief's deque holds only descendants of the task it stole; a joiner whose child was
 * stolen first drains its own deque (all pushed after the child), then steals from the
 * thief (leapfrogging: that work belongs to the child's subtree), and only then parks —
 * the fiber when fibers are available, so the worker runs other work meanwhile, or the
 * thread, which is still safe for strictly nested fork/join because the thief's subtree
 * never waits for the joiner's frame.
 */
#include <errno.h>
#include <sched.h>

#include <weft/waiter.h>

#include "../queues/deque_internal.h"
#include "../sync/alloc.h"
#include "sched.h"

static void count_run(struct worker *w)
{
	/* Relaxed: a statistic written by its owner only. */
	atomic_store_explicit(&w->c.tasks_run,
			      atomic_load_explicit(&w->c.tasks_run, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* The tail of a spawn that found a worker to wake: out of line, and a tail call from the
 * fast path, which then calls nothing itself (no callee-saved registers to spill). */
static __attribute__((noinline)) int go_notify_slow(weft_rt *rt)
{
	weft_park_notify_slow_(rt);
	return 0;
}

/* Spawn from a worker of rt, off the fast path: no free record, the shared scheduler, or a
 * deque that must grow. */
static __attribute__((noinline)) int go_inside_slow(struct worker *w, void (*fn)(void *),
						    void *arg)
{
	weft_rt *rt = w->rt;
	struct go_task *g = weft_gorec_get(w);
	if (g == NULL)
		return ENOMEM;
	g->fn = fn;
	g->arg = arg;
	void *item = item_make(g, ITEM_GO);
	int r = w->shared ? weft_inject_push(&rt->inject, item)
	    : deque_push_fast(w->deque, item, true) ? 0
						    : weft_deque_push_grow_(w->deque, item, true);
	if (r != 0 && !w->shared)
		r = weft_inject_push(&rt->inject, item);
	if (r != 0) {
		weft_gorec_put(w, g);
		return r;
	}
	/* Release: as in go_inside (pairs with the acquire in rt_quiescent). */
	atomic_store_explicit(&w->spawned,
			      atomic_load_explicit(&w->spawned, memory_order_relaxed) + 1,
			      memory_order_release);
	weft_park_notify(rt, true); /* with the fence: as in go_inside */
	return 0;
}

/*
 * Spawn from a worker of rt: the task goes on this worker's deque. The fast path (a free
 * record, room in the deque, the stealing scheduler) calls nothing but a tail call.
 */
static inline __attribute__((always_inline)) int go_inside(struct worker *w,
							    void (*fn)(void *), void *arg)
{
	weft_rt *rt = w->rt;
	/* Relaxed: best effort; a spawn racing stop's start is accepted and run (this task is
	 * live, so stop's quiescence check still counts what it spawns). */
	if (atomic_load_explicit(&rt->closing, memory_order_relaxed))
		return ESHUTDOWN;
	struct go_task *g = w->free_tasks;
	if (__builtin_expect(g == NULL || w->shared, 0))
		return go_inside_slow(w, fn, arg);
	/* weft_gorec_get inline, split around the push: the record's fields are written
	 * before the push publishes it; it leaves the free list only once the push succeeded
	 * (a full deque leaves it there for go_inside_slow). `next` is read before the push: a
	 * thief that runs the task writes it when it frees the record to its own list. */
	struct go_task *next = g->next;
	g->fn = fn;
	g->arg = arg;
	/* Published at once (unlike a fork's push): an idle worker must be able to see it. */
	if (__builtin_expect(!deque_push_fast(w->deque, item_make(g, ITEM_GO), true), 0))
		return go_inside_slow(w, fn, arg);
	w->free_tasks = next;
	w->free_count--;
	/* Release: pairs with the acquire in rt_quiescent (after the push: a completion can
	 * only be counted after its spawn, and stop reads completions first). */
	atomic_store_explicit(&w->spawned,
			      atomic_load_explicit(&w->spawned, memory_order_relaxed) + 1,
			      memory_order_release);
	/* With the fence (unlike weft_fork, whose joiner always runs or helps): the spawner
	 * may never block, and an idle worker must not miss the task. */
	if (__builtin_expect(weft_park_notify_needed(rt, true), 0))
		return go_notify_slow(rt);
	return 0;
}

/* Spawn from outside: count the task under the closed bit, then inject it. */
static __attribute__((noinline)) int go_outside(weft_rt *rt, void (*fn)(void *), void *arg)
{
	struct go_task *g = weft_mem_alloc(sizeof(struct go_task), 16);
	if (g == NULL)
		return ENOMEM;
	g->fn = fn;
	g->arg = arg;
	/* Relaxed first look; the CAS is acq_rel: pairs with weft_rt_stop's fetch_or, which
	 * sets EXT_CLOSED — a spawn counted before it is waited for, one after is refused. */
	uint64_t old = atomic_load_explicit(&rt->ext_spawned, memory_order_relaxed);
	do {
		if (old & EXT_CLOSED) {
			weft_mem_free(g);
			return ESHUTDOWN;
		}
	} while (!atomic_compare_exchange_weak_explicit(&rt->ext_spawned, &old, old + 1,
							 memory_order_acq_rel,
							 memory_order_relaxed));
	if (weft_inject_push(&rt->inject, item_make(g, ITEM_GO)) != 0) {
		weft_mem_free(g);
		/* Release: as the CAS; then let a waiting stop re-count. */
		atomic_fetch_sub_explicit(&rt->ext_spawned, 1, memory_order_release);
		atomic_fetch_add_explicit(&rt->quiesce_word, 1, memory_order_relaxed);
		weft_unpark(&rt->quiesce_word, 1);
		return ENOMEM;
	}
	weft_park_notify(rt, true);
	return 0;
}

int weft_go(weft_rt *rt, void (*fn)(void *), void *arg)
{
	if (fn == NULL)
		return EINVAL;
	struct worker *w = worker_self_now();
	if (rt == NULL) {
		if (w == NULL)
			return EINVAL;
		rt = w->rt;
	}
	if (w != NULL && w->rt == rt)
		return go_inside(w, fn, arg);
	return go_outside(rt, fn, arg);
}

/* Fork off the fast path: the shared scheduler, or a deque that must grow. */
static __attribute__((noinline)) int fork_slow(struct worker *w, weft_task *t)
{
	weft_rt *rt = w->rt;
	void *item = item_make(t, ITEM_FORK);
	int r = w->shared ? weft_inject_push(&rt->inject, item)
			  : weft_deque_push_grow_(w->deque, item, false);
	if (r != 0) {
		/* Out of memory: run it now; the join then finds it done. */
		t->fn(t);
		atomic_store_explicit(&t->state, FORK_DONE, memory_order_relaxed);
		return 0;
	}
	weft_park_notify(rt, w->shared);
	return 0;
}

/*
 * The fast path pushes inline onto the deque (no call) and wakes an idle worker only when
 * one is idle and none is searching (the two relaxed loads of weft_park_notify without its
 * fence, done here first so that the common case makes no call at all).
 */
int weft_fork(weft_task *t, void (*fn)(weft_task *t))
{
	if (t == NULL || fn == NULL)
		return EINVAL;
	struct worker *w = worker_self_now();
	if (w == NULL)
		return EPERM;
	t->fn = fn;
	/* Relaxed: published by the deque push's release (or run inline below). */
	atomic_store_explicit(&t->state, FORK_PENDING, memory_order_relaxed);
	atomic_store_explicit(&t->thief, -1, memory_order_relaxed);
	t->magic = FORK_MAGIC;
	if (__builtin_expect(w->shared, 0) ||
	    __builtin_expect(!deque_push_fast(w->deque, item_make(t, ITEM_FORK), false), 0))
		return fork_slow(w, t);
	weft_rt *rt = w->rt;
	/* Relaxed: best effort, as weft_park_notify without the fence (park.c explains why a
	 * fork may miss a wake: its joiner always runs or helps). */
	if (atomic_load_explicit(&rt->nidle, memory_order_relaxed) != 0 &&
	    atomic_load_explicit(&rt->nsearching, memory_order_relaxed) == 0)
		weft_park_notify(rt, false);
	return 0;
}

void weft_fork_complete(weft_task *t)
{
	/* Acq_rel: the release publishes fn's writes to the joiner (pairs with the acquire
	 * load in weft_join); the acquire orders this after the joiner's WAITING CAS. */
	uint32_t old = atomic_exchange_explicit(&t->state, FORK_DONE, memory_order_acq_rel);
	if (old == FORK_WAITING)
		weft_unpark(&t->state, INT32_MAX); /* names the address only; t may be gone */
}

/* One step of help for a join whose task is not on top of the deque. */
static bool join_help(struct worker *w, weft_task *t)
{
	weft_rt *rt = w->rt;
	void *item;
	/* The shared queue is FIFO: helping with its oldest item would nest one frame per
	 * item, breadth-first. There the join parks its fiber at once. */
	if (rt->cfg.scheduler == WEFT_SCHED_SHARED)
		return false;
	/* Leapfrogging: the thief's deque holds t's subtree. Relaxed: a hint. */
	int32_t thief = atomic_load_explicit(&t->thief, memory_order_relaxed);
	if (thief >= 0 && (unsigned)thief < rt->nworkers && (unsigned)thief != w->index) {
		item = weft_worker_steal_from(w, rt->workers[thief], false);
		if (item != NULL) {
			weft_run_item(w, item, true);
			return true;
		}
	}
	return false;
}

/* The join loop: help, steal from the thief, park. */
static __attribute__((noinline)) int join_slow(weft_task *t)
{
	void *mine = item_make(t, ITEM_FORK);
	struct worker *w = weft_worker_self();
	bool shared = w->shared;
	int spins = 0;
	for (;;) {
		/* Acquire: pairs with the release in weft_fork_complete. */
		if (atomic_load_explicit(&t->state, memory_order_acquire) == FORK_DONE)
			break;
		w = weft_worker_self(); /* re-read: helping may have migrated this fiber */
		void *item = shared ? NULL : deque_pop_fast(w->deque);
		if (item == mine) {
			count_run(w); /* before fn: see weft_join */
			t->fn(t);
			break;
		}
		if (item != NULL) {
			weft_run_item(w, item, false);
			continue;
		}
		if (!shared && join_help(w, t)) {
			spins = 0;
			continue;
		}
		if (!shared && ++spins < 64) {
			weft_cpu_relax();
			continue;
		}
		spins = 0;
		uint32_t expect = FORK_PENDING;
		/* Acq_rel: pairs with the exchange in weft_fork_complete (either it sees
		 * WAITING and unparks, or this CAS fails on DONE). */
		if (!atomic_compare_exchange_strong_explicit(&t->state, &expect, FORK_WAITING,
							     memory_order_acq_rel,
							     memory_order_acquire) &&
		    expect == FORK_DONE)
			break;
		weft_park(&t->state, FORK_WAITING, WEFT_NO_DEADLINE, NULL);
	}
	t->magic = 0;
	return 0;
}

/*
 * The fast path: the task still at the bottom of this worker's deque (nobody stole it, the
 * joins came in reverse order of the forks) is popped and run inline, with no call but the
 * pop's and fn's. No switch can happen between entry and the pop, so the thread-local
 * worker is read directly; after fn (which may block and migrate) it is re-read opaquely.
 * Anything else — a stolen task, a join out of order, the shared scheduler — goes to the
 * loop in join_slow, which first runs whatever the pop returned.
 */
int weft_join(weft_task *t)
{
	if (t == NULL)
		return EINVAL;
	struct worker *w = worker_self_now();
	if (w == NULL)
		return EPERM;
	if (t->magic != FORK_MAGIC)
		return EINVAL;
	if (!__builtin_expect(w->shared, 0) &&
	    /* Acquire: pairs with the release in weft_fork_complete. */
	    atomic_load_explicit(&t->state, memory_order_acquire) != FORK_DONE) {
		void *item = deque_pop_fast(w->deque);
		if (__builtin_expect(item == item_make(t, ITEM_FORK), 1)) {
			/* Counted before fn, on the worker it starts on (w is current here): after
			 * fn it would have to be re-read (fn may migrate), a call per task. */
			count_run(w);
			t->fn(t);
			t->magic = 0;
			return 0;
		}
		if (item != NULL)
			weft_run_item(w, item, false);
	}
	return join_slow(t);
}

int weft_yield(void)
{
	return weft_fibers_yield();
}

int weft_sleep(weft_ctx *ctx, uint64_t ns)
{
	uint64_t now = weft_now_ns();
	uint64_t deadline = ns > WEFT_NO_DEADLINE - 1 - now ? WEFT_NO_DEADLINE - 1 : now + ns;
	_Atomic uint32_t word = 0;
	int r;
	while ((r = weft_park(&word, 0, deadline, ctx)) == 0)
		;
	if (r == ETIMEDOUT && weft_now_ns() >= deadline && weft_ctx_deadline(ctx) >= deadline)
		return 0;
	return r;
}

int weft_worker_index(void)
{
	struct worker *w = weft_worker_self();
	return w != NULL ? (int)w->index : -1;
}
