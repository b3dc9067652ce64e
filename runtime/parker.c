/*
 * The runtime's parker (weft_waiter_ops), installed on every worker thread: a task that
 * blocks in weft suspends its fiber; the worker runs other fibers meanwhile.
 *
 * The waiter's word is a small state machine of bits, each set once per parking period:
 *   PW_UNPARKED  set by unpark (the parking lot, a context cancel)
 *   PW_SUSPENDED set by the fiber that took over the worker, once the parked fiber's stack
 *                is no longer running (fibers.c, AFTER_PARK)
 *   PW_TIMEDOUT  set by the timer that fired for the park's deadline (timer.c), under the
 *                timer heap's lock
 *   PW_THREAD    the fallback: no fiber could be had (ENOMEM), the thread sleeps on the word
 *   PW_TIMER     set by the parking fiber before it suspends when the park has a deadline
 *                (a timer may set PW_TIMEDOUT)
 * Each setter uses one fetch_or and looks at the bits it found. The fiber is scheduled by
 * whoever completes the pair {SUSPENDED, the first of UNPARKED/TIMEDOUT}: exactly once.
 * One exception to the fetch_or, the common wake: a waker that finds the word exactly
 * PW_SUSPENDED knows that nobody else will write it this period (the suspending side is
 * done, there is no timer, the parking lot makes one unpark per park), so it stores
 * SUSPENDED|UNPARKED with a plain release store (no locked instruction) and schedules.
 * After its fetch_or, the waker touches nothing of the waiter unless it is that scheduler
 * (then the fiber cannot run, and its stack stays put, until it is scheduled); before it,
 * the waker reads nothing of the waiter either: `data` (the fiber) is written by the
 * parking fiber after the parking lot has already queued the waiter.
 *
 * The parking lot may call park again on the same waiter after ETIMEDOUT (to wait for a
 * wake that raced the timeout): the new period starts by clearing the word with a CAS that
 * fails if UNPARKED came in meanwhile.
 *
 * The held park (fibers.c, weft_fibers_park_held: the parking lot's park_held, for parks
 * without a ctx) needs none of this hand-shake. The lot calls it with the bucket lock held
 * and the waiter queued; a park with no deadline whose switch needs no allocation, lock or
 * wake-up sets the word to PW_HELD (alone) and switches away with the lock still held, and
 * the fiber that takes over releases it first thing (AFTER_PARK_HELD). Invariants:
 *   H1 a waker dequeues the waiter under that bucket lock, so it calls unpark only after
 *      the release, that is after the parked fiber's stack stopped running: the fiber is
 *      suspended and wt->data is set (both written before the release, which the waker's
 *      acquire of the lock sees). The release is made on the parking thread (the fiber
 *      that takes over runs there), as a biased bucket's lock requires
 *      (sync/parking_lot.c, B3).
 *   H2 with no deadline no timer exists; with no ctx no cancel exists; the lot makes one
 *      unpark per park: that unpark is the one event of the period. It finds the word
 *      exactly PW_HELD, schedules the fiber and writes nothing to the word (the fiber
 *      resumes knowing it was woken: nothing else can schedule it).
 *   H3 any other case (a deadline, no fiber to switch to without allocating, the thread
 *      fallback) releases the lock before the word leaves 0 and parks the classic way
 *      above: a waker sees either PW_HELD with the fiber suspended, or the classic word.
 */
#include <errno.h>

#include <weft/hazard.h>
#include <weft/thread.h>

#include "../queues/deque_internal.h"
#include "../sync/futex.h"
#include "sched.h"
#include "self_fresh.h"

/* PW_* bits: sched.h. */

static inline void count(_Atomic uint64_t *c)
{
	/* Relaxed: a statistic written by its owner only. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* No fiber to switch to: sleep the thread on the word (no timer needed). */
static int park_thread(weft_waiter *wt, uint64_t deadline)
{
	/* The worker's private deque items and yielded fibers must not wait for this thread:
	 * publish them so that other workers can run them while it sleeps. */
	struct worker *w = weft_worker_self();
	if (w != NULL && !w->shared) {
		bool published = deque_publish(w->deque);
		if (weft_worker_yields_flush(w) || published)
			weft_park_notify(w->rt, true); /* a sleeping worker must not miss them */
	}
	if (w != NULL)
		weft_fibers_publish_handoff(w); /* nor the fiber this task woke last */
	/* Acq_rel: pairs with unpark's fetch_or: it sees PW_THREAD and wakes the futex. */
	uint32_t v = atomic_fetch_or_explicit(&wt->word, PW_THREAD, memory_order_acq_rel) |
		     PW_THREAD;
	for (;;) {
		if (v & PW_UNPARKED)
			return 0;
		if (deadline != WEFT_NO_DEADLINE && weft_now_ns() >= deadline) {
			/* Leave the word as a finished period: S|T, so a re-park clears it. */
			v = atomic_fetch_or_explicit(&wt->word, PW_SUSPENDED | PW_TIMEDOUT,
						     memory_order_acq_rel);
			return (v & PW_UNPARKED) ? 0 : ETIMEDOUT;
		}
		weft_futex_wait(&wt->word, v, deadline);
		/* Acquire: pairs with unpark's fetch_or (release part). */
		v = atomic_load_explicit(&wt->word, memory_order_acquire);
	}
}

int weft_parker_park(weft_waiter *wt, uint64_t deadline)
{
	/* The fiber may resume on another worker: a hazard pointer published by this thread
	 * would stay behind, protecting nothing the fiber reads (include/weft/hazard.h). */
	WEFT_HAZARD_ASSERT_NONE_HELD();
	/* Acquire: pairs with unpark's fetch_or; a wake already in means no park. */
	uint32_t v = atomic_load_explicit(&wt->word, memory_order_acquire);
	if (v & PW_UNPARKED)
		return 0;
	if (v != 0) {
		/* A new period after ETIMEDOUT. Acq_rel: against a racing unpark. */
		if (!atomic_compare_exchange_strong_explicit(&wt->word, &v, 0,
							     memory_order_acq_rel,
							     memory_order_acquire))
			return 0; /* only UNPARKED can have come in */
	}
	if (deadline != WEFT_NO_DEADLINE && weft_now_ns() >= deadline) {
		atomic_fetch_or_explicit(&wt->word, PW_SUSPENDED | PW_TIMEDOUT,
					 memory_order_acq_rel);
		/* Acquire: see whether a wake raced in. */
		return (atomic_load_explicit(&wt->word, memory_order_acquire) & PW_UNPARKED)
			       ? 0
			       : ETIMEDOUT;
	}
	struct worker *w = weft_worker_self();
	if (w == NULL || w->cur == NULL)
		return park_thread(wt, deadline);
	wt->data = w->cur;
	struct timer tm;
	if (deadline != WEFT_NO_DEADLINE) {
		/* Acq_rel: pairs with unpark's fetch_or (a wake already in: no park), and tells
		 * it that a timer may write the word too (no plain-store wake this period). */
		if (atomic_fetch_or_explicit(&wt->word, PW_TIMER, memory_order_acq_rel) &
		    PW_UNPARKED)
			return 0;
		tm = (struct timer){ .deadline = deadline, .wt = wt, .idx = TIMER_NONE };
		if (weft_timer_add(w, &tm) != 0)
			return park_thread(wt, deadline);
	}
	count(&w->c.fiber_parks);
	if (weft_fibers_suspend(w, AFTER_PARK, wt) != 0) {
		if (deadline != WEFT_NO_DEADLINE)
			weft_timer_remove(&tm);
		/* A timer may have fired meanwhile: make it a finished period first. */
		v = atomic_load_explicit(&wt->word, memory_order_acquire);
		if (v & PW_UNPARKED)
			return 0;
		if (v & PW_TIMEDOUT) {
			atomic_fetch_or_explicit(&wt->word, PW_SUSPENDED, memory_order_acq_rel);
			return ETIMEDOUT;
		}
		return park_thread(wt, deadline);
	}
	/* Resumed, maybe on another worker. The timer, if any, is in its owner's heap. */
	if (deadline != WEFT_NO_DEADLINE)
		weft_timer_remove(&tm);
	/* Acquire: pairs with the waker's fetch_or. */
	v = atomic_load_explicit(&wt->word, memory_order_acquire);
	return (v & PW_UNPARKED) ? 0 : ETIMEDOUT;
}

static void fiber_unpark(weft_waiter *wt)
{
	/* Acquire: pairs with the release of the bucket lock by the fiber that took over from
	 * the parked one (weft_waiter_release_lot; the waker's dequeue under that lock orders
	 * it already). PW_HELD: H1/H2 above: suspended, ours alone; wt->data stays put. */
	uint32_t v = atomic_load_explicit(&wt->word, memory_order_acquire);
	if (v == PW_HELD) {
		/* weft_fibers_schedule (sched.h) with the worker read inline: the ping-pong path. */
		struct sfiber *sf = wt->data;
		struct worker *w = weft_worker_self_fresh();
		if (w != NULL && w->handoff == NULL && w->rt == sf->rt && !w->shared)
			w->handoff = sf;
		else
			weft_fibers_schedule_slow(w, sf);
		return;
	}
	/* The acquire load above also pairs with the hand-off's fetch_or of SUSPENDED (wt->data
	 * is set and stays put after it). Exactly SUSPENDED: the fiber is suspended, no timer and no thread
	 * sleeper can write the word, and this is the period's one unpark: ours alone. */
	if (v == PW_SUSPENDED) {
		struct sfiber *sf = wt->data; /* read before the store: wt may go after it */
		/* Release: publishes the waker's writes to the fiber, which loads the word with
		 * acquire when it resumes (weft_parker_park). It cannot resume before the schedule. */
		atomic_store_explicit(&wt->word, PW_SUSPENDED | PW_UNPARKED, memory_order_release);
		weft_fibers_schedule(sf);
		return;
	}
	/* Acq_rel: the release publishes the waker's writes; the acquire pairs with the
	 * hand-off's fetch_or of SUSPENDED, after which wt->data is set and stays put. */
	uint32_t old = atomic_fetch_or_explicit(&wt->word, PW_UNPARKED, memory_order_acq_rel);
	if (old & PW_THREAD) {
		weft_futex_wake(&wt->word, 1); /* names the address only */
		return;
	}
	/* Only the one who schedules may read wt now: the fiber cannot run before that. */
	if ((old & PW_SUSPENDED) && !(old & PW_TIMEDOUT))
		weft_fibers_schedule(wt->data);
}

/* timer.c calls this under the heap lock for a deadline that passed. */
struct sfiber *weft_parker_timeout(weft_waiter *wt)
{
	/* Acq_rel: as in fiber_unpark. */
	uint32_t old = atomic_fetch_or_explicit(&wt->word, PW_TIMEDOUT, memory_order_acq_rel);
	if ((old & PW_SUSPENDED) && !(old & PW_UNPARKED))
		return wt->data;
	return NULL;
}

/* Fiber identities: 0x80000000 | n, never a thread's index + 1 (those stay below 2^31). */
static _Atomic uint32_t next_fiber_id;

uint32_t weft_sfiber_id_next(void)
{
	/* Relaxed: only uniqueness matters. */
	uint32_t n = atomic_fetch_add_explicit(&next_fiber_id, 1, memory_order_relaxed);
	return 0x80000000u | (n & 0x7fffffffu);
}

/* The running task's fiber; re-read through the worker, never cached across a switch. */
static uint32_t fiber_exec_id(void)
{
	struct worker *w = weft_worker_self();
	if (w == NULL || w->cur == NULL)
		return weft_thread_index() + 1;
	return w->cur->id;
}

const weft_waiter_ops weft_fiber_waiter_ops = {
	.park = weft_parker_park,
	.unpark = fiber_unpark,
	.exec_id = fiber_exec_id,
	.park_held = weft_fibers_park_held,
};
