/*
 * Idle workers: spinning (searching), parking and waking, with no lost wake-ups.
 *
 * State: rt->nsearching counts workers looking for work to steal; rt->nidle and the idle
 * stack (under rt->idle_lock) hold workers asleep on their own futex word `wake`.
 * At most about half the busy workers search at once (weft_park_try_search), as in Go.
 * Before it parks, a worker that found nothing spins for a few tens of microseconds
 * watching for work (worker.c, idle_spin): a searcher stays counted in nsearching while
 * it spins (the spin is a longer search: it ends by finding work or in P1-P4 below), so
 * submitters wake nobody meanwhile; a worker the cap kept from searching spins uncounted
 * and is simply not asleep yet (submitters may wake a sleeper in its place: harmless).
 *
 * The protocol (Go's spinning -> non-spinning rule, with a Dekker pair of seq_cst fences):
 *
 *   submitter S (weft_park_notify, after making an item visible):
 *     S1 publish the item (deque push, LIFO slot, injection queue)
 *     S2 seq_cst fence
 *     S3 if nsearching != 0: return (a searcher will see it, below)
 *     S4 lock idle_lock; if nsearching == 0 and the idle stack is not empty: pop worker W,
 *        nsearching++ on W's behalf (so that other submitters do not wake a second one);
 *        unlock; set W.wake = 1 (release); futex-wake W.
 *
 *   parker P (weft_park_idle, after a search found nothing):
 *     P1 lock idle_lock; push P on the idle stack; nidle++; unlock
 *     P2 if P was searching: nsearching-- (P no longer counts as a searcher)
 *     P3 seq_cst fence
 *     P4 re-check every source of work (injection queue, every deque and LIFO slot);
 *        if any: lock; if P is still on the stack, take it off and return to searching;
 *        else a submitter popped P in S4 and its wake is coming: consume it (futex-wait
 *        on P.wake, which is set by then or about to be) and return, counted as searching.
 *     P5 futex-wait while P.wake == 0; then P.wake = 0 and P searches (S4 counted it).
 *
 * Why no wake-up is lost: take an item published in S1 that nobody runs. If S's S3 saw
 * nsearching != 0, some searcher Q was counted; Q either finds the item or decrements in
 * P2 — and the fences S2/P3 order S1 before Q's P4 or Q's P2 before S3: since S3 read a
 * count that still included Q, Q's P4 sees the item. If S reached S4 and found the stack
 * empty, P's push in P1 comes after S4's lock in the lock order, so P's P4 (after P1)
 * sees S1. If S4 found a worker, it wakes it. A searcher that finds work and stops
 * searching (weft_park_leave_searching) wakes another when it was the last searcher and
 * work is still visible, so the rest of the work gets a searcher.
 *
 * weft_fork pushes use weft_park_notify without the fence: a missed wake there costs
 * parallelism, never liveness, because the joiner pops or helps with its own deque. Every
 * other push (weft_go, the injection queue, a woken fiber) uses the fence: its submitter
 * may go on without blocking, so a sleeping worker must not miss the item.
 *
 * Yielded fibers (worker.c) are outside this protocol: a worker's yield list is its own,
 * and a worker never runs P1 with a non-empty list (its loop takes from the list before
 * it idles, and only the worker itself appends, on its own thread). A fiber handed over
 * from the list goes through the injection queue with the fenced notify; a worker thread
 * about to sleep with a task on its stack (parker.c's fallback) hands its list over first.
 */
#include <errno.h>

#include <weft/waiter.h>

#include "../sync/futex.h"
#include "sched.h"

static inline void count(_Atomic uint64_t *c)
{
	/* Relaxed: a statistic written by its owner only. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void wake_worker(struct worker *w)
{
	/* Release: pairs with the acquire in weft_park_idle's wait: W sees the state S4 set. */
	atomic_store_explicit(&w->wake, 1, memory_order_release);
	weft_futex_wake(&w->wake, 1);
}

void weft_park_notify(weft_rt *rt, bool fence)
{
	if (fence)
		atomic_thread_fence(memory_order_seq_cst); /* S2: pairs with P3 */
	/* Relaxed: ordered by the fence above (or best effort without it). */
	if (atomic_load_explicit(&rt->nsearching, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&rt->nidle, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&rt->idle_lock);
	struct worker *w = rt->idle_head;
	if (w == NULL || atomic_load_explicit(&rt->nsearching, memory_order_relaxed) != 0) {
		pthread_mutex_unlock(&rt->idle_lock);
		return;
	}
	rt->idle_head = w->idle_next;
	w->idle = false;
	atomic_fetch_sub_explicit(&rt->nidle, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rt->nsearching, 1, memory_order_relaxed);
	pthread_mutex_unlock(&rt->idle_lock);
	wake_worker(w);
}

/*
 * As weft_park_notify(rt, true), for a submitter whose publication (S1) was a seq_cst
 * read-modify-write: S2 is that operation itself. With seq_cst loads of the counts, C11's
 * fence rule gives what the fence pair did: if the parker's fence P3 precedes the
 * submitter's RMW in the single total order, these loads (later in it) see the parker's
 * P1/P2 updates, sequenced before P3; otherwise P4 (after P3) sees the item.
 */
void weft_park_notify_sc(weft_rt *rt)
{
	/* Seq_cst: see above (pairs with P3). */
	if (atomic_load_explicit(&rt->nsearching, memory_order_seq_cst) != 0 ||
	    atomic_load_explicit(&rt->nidle, memory_order_seq_cst) == 0)
		return;
	weft_park_notify(rt, false); /* rechecks under idle_lock */
}

bool weft_park_try_search(struct worker *w)
{
	if (w->searching)
		return true;
	weft_rt *rt = w->rt;
	unsigned s = atomic_load_explicit(&rt->nsearching, memory_order_relaxed);
	unsigned idle = atomic_load_explicit(&rt->nidle, memory_order_relaxed);
	unsigned busy = rt->nworkers > idle ? rt->nworkers - idle : 1;
	if (2 * s >= busy)
		return false;
	atomic_fetch_add_explicit(&rt->nsearching, 1, memory_order_relaxed);
	w->searching = true;
	return true;
}

/* Is there visible work anywhere? (P4; called after a seq_cst fence.) Yield lists are
 * their owners' business: a running owner resumes them itself (worker.c). */
static bool work_visible(weft_rt *rt)
{
	if (weft_inject_maybe_nonempty(&rt->inject))
		return true;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker *v = rt->workers[i];
		/* Relaxed: the fence before the call orders these reads (P3). */
		if (weft_deque_size_hint(v->deque) != 0 ||
		    atomic_load_explicit(&v->lifo, memory_order_relaxed) != NULL)
			return true;
	}
	return false;
}

/* work_visible for the idle spin (worker.c): a hint, no fence needed there. */
bool weft_park_work_visible(weft_rt *rt)
{
	return work_visible(rt);
}

void weft_park_leave_searching(struct worker *w)
{
	if (!w->searching)
		return;
	w->searching = false;
	weft_rt *rt = w->rt;
	/* Seq_cst RMW then fence: as P2/P3 — the last searcher re-checks for work. */
	if (atomic_fetch_sub_explicit(&rt->nsearching, 1, memory_order_seq_cst) == 1) {
		atomic_thread_fence(memory_order_seq_cst);
		if (work_visible(rt))
			weft_park_notify(rt, false);
	}
}

static bool idle_remove(weft_rt *rt, struct worker *w)
{
	pthread_mutex_lock(&rt->idle_lock);
	bool was = w->idle;
	if (was) {
		struct worker **pp = &rt->idle_head;
		while (*pp != w)
			pp = &(*pp)->idle_next;
		*pp = w->idle_next;
		w->idle = false;
		atomic_fetch_sub_explicit(&rt->nidle, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&rt->idle_lock);
	return was;
}

/* Sleep until woken (true) or until deadline (false). */
static bool wait_wake(struct worker *w, uint64_t deadline)
{
	/* Acquire: pairs with the release in wake_worker. */
	while (atomic_load_explicit(&w->wake, memory_order_acquire) == 0) {
		if (deadline != WEFT_NO_DEADLINE && weft_now_ns() >= deadline)
			return false;
		weft_futex_wait(&w->wake, 0, deadline);
	}
	atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
	return true;
}

void weft_park_idle(struct worker *w)
{
	weft_rt *rt = w->rt;
	pthread_mutex_lock(&rt->idle_lock); /* P1 */
	w->idle_next = rt->idle_head;
	rt->idle_head = w;
	w->idle = true;
	atomic_fetch_add_explicit(&rt->nidle, 1, memory_order_relaxed);
	pthread_mutex_unlock(&rt->idle_lock);
	if (w->searching) { /* P2 */
		w->searching = false;
		atomic_fetch_sub_explicit(&rt->nsearching, 1, memory_order_seq_cst);
	}
	atomic_thread_fence(memory_order_seq_cst); /* P3: pairs with S2 */
	/* Relaxed: a hint; weft_rt_stop re-checks the counters itself. */
	if (atomic_load_explicit(&rt->closing, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&rt->quiesce_word, 1, memory_order_relaxed);
		weft_unpark(&rt->quiesce_word, 1);
	}
	/* Acquire: pairs with the release store in weft_park_wake_all's caller. */
	if (work_visible(rt) || atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		if (!idle_remove(rt, w))
			wait_wake(w, WEFT_NO_DEADLINE); /* S4 popped us: consume its wake */
		else
			return;
		w->searching = true;
		return;
	}
	count(&w->c.parks);
	/* P5, no later than this worker's earliest timer. Relaxed: the timer heap's hint. */
	uint64_t deadline = atomic_load_explicit(&w->timer_next, memory_order_relaxed);
	if (!wait_wake(w, deadline)) {
		if (idle_remove(rt, w))
			return; /* a timer is due: back to the loop, not searching */
		wait_wake(w, WEFT_NO_DEADLINE); /* a waker popped us meanwhile: its wake */
	}
	w->searching = true;
}

void weft_park_wake_all(weft_rt *rt)
{
	pthread_mutex_lock(&rt->idle_lock);
	struct worker *list = rt->idle_head;
	rt->idle_head = NULL;
	for (struct worker *w = list; w != NULL; w = w->idle_next) {
		w->idle = false;
		atomic_fetch_sub_explicit(&rt->nidle, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&rt->nsearching, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&rt->idle_lock);
	while (list != NULL) {
		struct worker *next = list->idle_next; /* read before the wake */
		wake_worker(list);
		list = next;
	}
}
