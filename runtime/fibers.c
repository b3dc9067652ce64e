/*
 * Scheduler fibers: the pool, switching between fibers, and the hand-off after a switch.
 *
 * A worker thread's own stack (main_fiber) runs no tasks: it switches to a pool fiber
 * whose body is the worker loop, and comes back only at shutdown. Every pool fiber's
 * bottom frame is the loop, so any fiber can run tasks; a task that blocks leaves its
 * fiber suspended with the task on it, and the worker switches to another fiber: the one
 * its task woke last (the hand-off, see weft_fibers_schedule), a woken one from its LIFO
 * slot, or a fresh one from the pool that simply continues the loop.
 *
 * The hand-off: a fiber cannot finish what it does about itself before the switch (put
 * itself in a pool, declare itself suspended) — another thread could then resume it while
 * it is still running here. So the switcher records the action in its worker (after_kind,
 * after_arg) and the fiber that gains control performs it first thing
 * (weft_fibers_after_switch), on the same thread, once the old stack is no longer in use.
 *
 * Migration: after any switch a fiber may be on another thread. Nothing here keeps a
 * struct worker * across a switch; weft_worker_self() is re-read.
 */
#include <errno.h>
#include <sched.h>

#include <weft/hazard.h>

#include "../sync/alloc.h"
#include "sched.h"
#include "self_fresh.h"

/* Idle fibers kept per worker, then per runtime. Unmapping a stack costs a TLB shoot-down
 * on every core the process runs on (tens of µs), so a burst of blocked tasks keeps its
 * stacks for the next burst; weft_rt_stop frees them. Untouched stack pages cost no RAM. */
#define POOL_MAX 64
#define CACHE_MAX 16384

/* Hand-offs in a row (weft_fibers_suspend) before the worker loop gets a round (skipped
 * when it would find nothing else to do: handoff_go). */
#define HANDOFF_BUDGET 64

static inline void count(_Atomic uint64_t *c)
{
	/* Relaxed: a statistic written by its owner only. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void fiber_entry(void *arg);

/* A fiber ready to start the loop: from the pool (reset) or new. NULL on ENOMEM. */
struct sfiber *weft_fibers_get(struct worker *w)
{
	struct sfiber *sf = w->pool;
	if (sf != NULL) {
		w->pool = sf->next;
		w->pool_count--;
		weft_fiber_reset(sf->f, fiber_entry, NULL);
		return sf;
	}
	weft_rt *rt = w->rt;
	/* Relaxed peek: a racy emptiness hint; the list is under the lock. */
	if (atomic_load_explicit(&rt->fcache_len, memory_order_relaxed) != 0) {
		pthread_mutex_lock(&rt->fcache_lock);
		sf = rt->fcache;
		if (sf != NULL) {
			rt->fcache = sf->next;
			/* Relaxed: written under fcache_lock only; outside it a hint. */
			size_t len = atomic_load_explicit(&rt->fcache_len, memory_order_relaxed);
			atomic_store_explicit(&rt->fcache_len, len - 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&rt->fcache_lock);
		if (sf != NULL) {
			weft_fiber_reset(sf->f, fiber_entry, NULL);
			return sf;
		}
	}
	sf = weft_mem_alloc(sizeof(*sf), _Alignof(struct sfiber));
	if (sf == NULL)
		return NULL;
	if (weft_fiber_create(&sf->f, w->rt->cfg.stack_size, fiber_entry, NULL) != 0) {
		weft_mem_free(sf);
		return NULL;
	}
	sf->rt = w->rt;
	sf->next = NULL;
	sf->id = weft_sfiber_id_next();
	count(&w->c.fibers_created);
	return sf;
}

static void fiber_free(struct worker *w, struct sfiber *sf)
{
	weft_fiber_destroy(sf->f);
	weft_mem_free(sf);
	count(&w->c.fibers_destroyed);
}

static void pool_put(struct worker *w, struct sfiber *sf)
{
	if (w->pool_count >= POOL_MAX) {
		weft_rt *rt = w->rt;
		pthread_mutex_lock(&rt->fcache_lock);
		/* Relaxed: written under this lock only. */
		size_t len = atomic_load_explicit(&rt->fcache_len, memory_order_relaxed);
		bool kept = len < CACHE_MAX;
		if (kept) {
			sf->next = rt->fcache;
			rt->fcache = sf;
			atomic_store_explicit(&rt->fcache_len, len + 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&rt->fcache_lock);
		if (!kept)
			fiber_free(w, sf);
		return;
	}
	sf->next = w->pool;
	w->pool = sf;
	w->pool_count++;
}

/* The public way to make sf runnable: the LIFO slot of w (the displaced fiber goes to the
 * injection queue), an idle worker told (unless !tell: see weft_fibers_suspend). */
static void schedule_lifo_tell(struct worker *w, struct sfiber *sf, bool tell)
{
	weft_rt *rt = sf->rt;
	/* Seq_cst: the release part publishes the fiber (and what its waker wrote) to whoever
	 * takes it from the slot (pairs with their exchange); being seq_cst it also serves as
	 * step S2 of park.c's protocol for the seq_cst loads in weft_park_notify_sc, in place
	 * of a separate fence (one locked instruction instead of two on x86-64). */
	void *old = atomic_exchange_explicit(&w->lifo, item_make(sf, ITEM_FIBER),
					     memory_order_seq_cst);
	if (old != NULL) {
		weft_inject_push_fiber(&rt->inject, item_ptr(old));
		weft_park_notify(rt, true);
		return;
	}
	/* The fiber is public now: an idle worker must not miss it. */
	if (tell)
		weft_park_notify_sc(rt);
}

static void schedule_lifo(struct worker *w, struct sfiber *sf)
{
	schedule_lifo_tell(w, sf, true);
}

/*
 * Will the loop round that w is about to run (the hand-off budget's, weft_fibers_suspend)
 * take w's LIFO slot first? Yes when nothing is queued where the round looks before the
 * slot or where a woken idle worker would look instead: w's deque, its yield list, the
 * injection queue; and no timer is pending (one firing in the round would be handed off
 * ahead of the slot). Work that another thread publishes meanwhile comes with its own
 * notify (park.c), so a stale "nothing" here costs no wake-up.
 */
static bool loop_takes_lifo_next(struct worker *w)
{
	/* Relaxed: timer_next is the heap's hint (timer.c). */
	return w->yield_head == NULL && weft_deque_size_hint(w->deque) == 0 &&
	       atomic_load_explicit(&w->timer_next, memory_order_relaxed) == WEFT_NO_DEADLINE &&
	       !weft_inject_maybe_nonempty(&w->rt->inject);
}

/*
 * May the running task's park switch straight to the hand-off (and count it)? Within
 * HANDOFF_BUDGET hand-offs in a row, yes. Past it, the budget asks for a round of the loop
 * first (weft_fibers_suspend) — unless that round would only take the hand-off straight
 * back (loop_takes_lifo_next): then the round is skipped, as if it had run, and the
 * streak starts over.
 */
static inline bool handoff_go(struct worker *w)
{
	if (++w->handoff_streak < HANDOFF_BUDGET)
		return true;
	if (!loop_takes_lifo_next(w))
		return false;
	w->handoff_streak = 0;
	return true;
}

/*
 * Make a suspended fiber runnable (weft_fibers_schedule in sched.h does the first case
 * inline). When the waker is a task on one of sf's runtime's workers (work-stealing
 * scheduler), sf becomes that worker's hand-off: a private slot,
 * written and read by the worker's thread only, with no atomic instruction and no wake-up
 * of another worker. The hand-off runs next: when the waking task blocks, its fiber
 * switches straight to it (weft_fibers_suspend), and when the task ends, the loop takes it
 * first (weft_fibers_take_handoff). This is the message-passing fast path (a ping-pong
 * between two tasks is one switch per turn, on one worker, its stacks hot in one cache),
 * as Go's runnext and Tokio's LIFO slot. The price, Tokio's: a hand-off is invisible to
 * thieves, so a waker that goes on computing delays the woken fiber until it blocks or
 * ends — never longer, and never at all when the worker's thread sleeps (park_thread
 * publishes it first). A second wake while the slot is full goes the public way: the LIFO
 * slot (stealable, an idle worker told), or the injection queue from outside the runtime.
 */
void weft_fibers_schedule_slow(struct worker *w, struct sfiber *sf)
{
	if (w != NULL && w->rt == sf->rt && !w->shared) {
		if (w->handoff == NULL) {
			w->handoff = sf;
			return;
		}
		schedule_lifo(w, sf);
		return;
	}
	/* sf->rt read before the push: once sf is in the queue it may run, end and be freed
	 * (a pool freed at weft_rt_stop) before the notify (ThreadSanitizer caught the read). */
	weft_rt *rt = sf->rt;
	weft_inject_push_fiber(&rt->inject, sf);
	weft_park_notify(rt, true);
}

/* Before the worker's thread sleeps (the thread parker): the hand-off must not wait for it. */
void weft_fibers_publish_handoff(struct worker *w)
{
	struct sfiber *sf = w->handoff;
	if (sf != NULL) {
		w->handoff = NULL;
		schedule_lifo(w, sf);
	}
}

static void after_switch_on(struct worker *w)
{
	int kind = w->after_kind;
	void *arg = w->after_arg;
	w->after_kind = AFTER_NONE;
	switch (kind) {
	case AFTER_RECYCLE:
		pool_put(w, arg);
		break;
	case AFTER_READY: /* a yield: the back of this worker's yield list (worker.c) */
		weft_worker_yielded(w, arg);
		break;
	case AFTER_PARK_HELD:
		/* The parked fiber (weft_fibers_park_held) switched away holding the parking lot's
		 * bucket lock: its stack is no longer running, so a waker may have it now (H1,
		 * parker.c). */
		weft_waiter_release_lot(arg);
		break;
	case AFTER_PARK: {
		weft_waiter *wt = arg;
		struct sfiber *sf = wt->data; /* read first: wt may die once we publish S */
		/* Acq_rel: pairs with the fetch_or of the waker (parker.c): exactly one of us
		 * sees the other's bit and schedules the fiber. */
		uint32_t old = atomic_fetch_or_explicit(&wt->word, PW_SUSPENDED,
							memory_order_acq_rel);
		if (old & (PW_UNPARKED | PW_TIMEDOUT))
			weft_fibers_schedule(sf);
		break;
	}
	default:
		break;
	}
}

void weft_fibers_after_switch(void)
{
	after_switch_on(weft_worker_self());
}

/* How switch_to switches: SW_SYM to a task fiber suspended by a park, as the running one
 * is about to be (two tasks blocking in turn through the same code: fiber.h,
 * weft_fiber_switch_sym), SW_PLAIN to anything else, SW_FINAL from a fiber left for good. */
enum { SW_PLAIN, SW_SYM, SW_FINAL };

/* Switch from the running fiber to target; `kind`/`arg` is done by target's side. */
static inline void switch_to_from(struct worker *w, struct sfiber *cur, struct sfiber *target,
				  int kind, void *arg, int how)
{
	w->after_kind = kind;
	w->after_arg = arg;
	w->cur = target;
	if (how == SW_FINAL)
		weft_fiber_switch_final(cur->f, target->f);
	else if (how == SW_SYM)
		weft_fiber_switch_sym(cur->f, target->f);
	else
		weft_fiber_switch(cur->f, target->f);
	/* On whichever worker resumed us (read afresh: self_fresh.h). The held park's release
	 * inline: the ping-pong path. */
	w = weft_worker_self_fresh();
	if (w->after_kind == AFTER_PARK_HELD) {
		w->after_kind = AFTER_NONE;
		weft_waiter_release_lot(w->after_arg); /* H1 (parker.c) */
	} else {
		after_switch_on(w);
	}
}

static inline void switch_to(struct worker *w, struct sfiber *target, int kind, void *arg,
			     int how)
{
	count(&w->c.fiber_switches);
	switch_to_from(w, w->cur, target, kind, arg, how);
}

/* From the loop (nothing of a task on this stack): run target, recycle this fiber. */
void weft_fibers_resume(struct worker *w, struct sfiber *target)
{
	count(&w->c.fiber_resumes);
	switch_to(w, target, AFTER_RECYCLE, w->cur, SW_FINAL);
}

/* Suspend the running task's fiber (the caller set up the hand-off) and run another. */
int weft_fibers_suspend(struct worker *w, int kind, void *arg)
{
	/* The hand-off first (the fiber this task just woke: straight to it), then a woken
	 * fiber in the LIFO slot (message-passing latency), else a fresh loop fiber. */
	struct sfiber *target = w->handoff;
	bool loop_due = false;
	if (target != NULL) {
		w->handoff = NULL;
		if (handoff_go(w)) {
			count(&w->c.fiber_resumes);
			switch_to(w, target, kind, arg, SW_SYM);
			return 0;
		}
		/* Fairness: tasks handing off to each other forever would keep the loop (the
		 * injection queue, the deque, timers) from running on this worker. Now and then
		 * the hand-off goes public and a loop fiber runs one round first. An idle worker
		 * is told only if the round may run something else first: otherwise the round
		 * takes the slot straight back, and a woken worker would only race it for the
		 * fiber (a futex wake, and a migration when it wins). (handoff_go skips such a
		 * round altogether; it can still come here when work shows up in between.) No
		 * item is left without a runner: this worker's loop runs next and takes the slot
		 * (or a thief did). */
		schedule_lifo_tell(w, target, !loop_takes_lifo_next(w));
		loop_due = true;
	}
	void *item = NULL;
	if (!loop_due && !w->shared && atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL)
		/* Acq_rel: pairs with the exchange in schedule_lifo. */
		item = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acq_rel);
	target = item != NULL ? item_ptr(item) : weft_fibers_get(w);
	if (target == NULL)
		return ENOMEM;
	if (item != NULL)
		count(&w->c.fiber_resumes);
	switch_to(w, target, kind, arg, item != NULL ? SW_SYM : SW_PLAIN);
	return 0;
}

/*
 * The parker's park_held (weft_fiber_waiter_ops; the protocol and its invariants H1-H3 are
 * in parker.c): called by the parking lot with the bucket lock held and wt queued. A park
 * without a deadline, by a task on a fiber, switches with the lock held, and the fiber that
 * takes over releases it (AFTER_PARK_HELD). The lock is held across the switch only, so the
 * target must be ready without allocating, locking or waking anyone: the hand-off (within
 * its budget), the LIFO slot, or a pooled fiber. Anything else releases the lock and parks
 * the classic way (weft_parker_park).
 */
int weft_fibers_park_held(weft_waiter *wt, uint64_t deadline)
{
	struct worker *w;
	struct sfiber *cur;
	if (deadline != WEFT_NO_DEADLINE || (w = weft_worker_self_fresh()) == NULL ||
	    (cur = w->cur) == NULL)
		goto classic;
	/* The fiber may resume on another worker: a hazard pointer published by this thread
	 * would stay behind, protecting nothing the fiber reads (include/weft/hazard.h). */
	WEFT_HAZARD_ASSERT_NONE_HELD();
	struct sfiber *target = w->handoff;
	int how = SW_SYM;
	/* Counted as a park, a resume and a switch: one fiber_handoffs (stats.c adds it in). */
	_Atomic uint64_t *counter = &w->c.fiber_handoffs;
	if (target != NULL) {
		if (!handoff_go(w))
			goto classic; /* the budget's round of the loop: weft_fibers_suspend does it */
		w->handoff = NULL;
	} else if (!w->shared && atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL &&
		   /* Acq_rel: pairs with the exchange in schedule_lifo. */
		   (target = item_ptr(atomic_exchange_explicit(&w->lifo, NULL,
							       memory_order_acq_rel))) != NULL) {
		/* A woken fiber from the LIFO slot: counted as the hand-off is. */
	} else if (w->pool != NULL) {
		target = weft_fibers_get(w); /* from the pool: no allocation */
		how = SW_PLAIN;
		count(&w->c.fiber_switches); /* a park and a switch, no resume */
		counter = &w->c.fiber_parks;
	} else {
		goto classic;
	}
	wt->data = cur;
	/* Relaxed: H1: we hold the bucket lock, whose release (after the switch) publishes it. */
	atomic_store_explicit(&wt->word, PW_HELD, memory_order_relaxed);
	count(counter);
	switch_to_from(w, cur, target, AFTER_PARK_HELD, wt, how);
	return 0; /* H2: resumed, so woken */
classic:
	/* H3: the word is still 0. */
	weft_waiter_release_lot(wt);
	return weft_parker_park(wt, deadline);
}

int weft_fibers_yield(void)
{
	struct worker *w = weft_worker_self();
	if (w == NULL)
		return EPERM;
	/* The yielding fiber may resume on another worker: the hazard-pointer rule of
	 * include/weft/hazard.h, asserted as at every park (parker.c). */
	WEFT_HAZARD_ASSERT_NONE_HELD();
	struct sfiber *target = weft_fibers_get(w);
	if (target == NULL) {
		sched_yield();
		return 0;
	}
	/* This fiber goes behind what is runnable here; the fresh one runs the loop. */
	count(&w->c.fiber_yields);
	switch_to(w, target, AFTER_READY, w->cur, SW_PLAIN);
	return 0;
}

static void fiber_entry(void *arg)
{
	(void)arg;
	weft_fibers_after_switch();
	weft_worker_loop();
	/* Shutdown: back to this thread's own stack, which frees the pool. */
	struct worker *w = weft_worker_self();
	struct sfiber *cur = w->cur;
	w->after_kind = AFTER_RECYCLE;
	w->after_arg = cur;
	w->cur = NULL;
	weft_fiber_switch_final(cur->f, w->main_fiber);
	__builtin_trap(); /* never resumed: a recycled fiber is reset before reuse */
}

/* In weft_rt_start: each worker's first fiber, so that a worker never lacks one. */
int weft_fibers_prepare(struct worker *w)
{
	struct sfiber *sf = weft_fibers_get(w);
	if (sf == NULL)
		return ENOMEM;
	pool_put(w, sf);
	return 0;
}

/* A worker's pool, after its thread exited (or never ran). */
void weft_fibers_pool_free(struct worker *w)
{
	while (w->pool != NULL) {
		struct sfiber *sf = w->pool;
		w->pool = sf->next;
		fiber_free(w, sf);
	}
	w->pool_count = 0;
}

/* After the workers exited: free the runtime's cache (counted as worker 0's frees). */
void weft_fibers_cache_free(weft_rt *rt)
{
	while (rt->fcache != NULL) {
		struct sfiber *sf = rt->fcache;
		rt->fcache = sf->next;
		fiber_free(rt->workers[0], sf);
	}
	atomic_store_explicit(&rt->fcache_len, 0, memory_order_relaxed);
}

int weft_fibers_thread_start(struct worker *w)
{
	int r = weft_fiber_thread_init(&w->main_fiber);
	if (r != 0)
		return r;
	weft_fiber_overflow_handler_install();
	struct sfiber *first = weft_fibers_get(w);
	if (first == NULL) {
		weft_fiber_thread_fini(w->main_fiber);
		return ENOMEM;
	}
	const weft_waiter_ops *old = weft_waiter_ops_set(&weft_fiber_waiter_ops);
	w->cur = first;
	w->after_kind = AFTER_NONE;
	weft_fiber_switch(w->main_fiber, first->f);
	/* Shutdown: the last loop fiber switched back here. */
	w = weft_worker_self();
	weft_fibers_after_switch();
	weft_waiter_ops_set(old == &weft_waiter_ops_futex ? NULL : old);
	weft_fibers_pool_free(w);
	weft_fiber_thread_fini(w->main_fiber);
	w->main_fiber = NULL;
	return 0;
}
