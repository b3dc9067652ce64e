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
 * The asymmetric barrier (S2 light, P3 heavy): submitters are the hot path (every weft_go,
 * every woken fiber), parkers the cold one (a worker parks after tens of microseconds of
 * idle spinning, and then sleeps on a futex anyway). Where the kernel offers
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), P3 is that system call (plus a seq_cst
 * fence on each side of it) and S2 is only a compiler barrier: the system call makes every
 * running thread of the process execute a full barrier at some point F of its program
 * while it runs (a thread not running has passed one in the context switch), ordered
 * between P's two fences. For a submitter S, F lies before S1, between S1 and S3, or after
 * S3. Between: the symmetric protocol above. After S3: S1 precedes F, so P4 sees the item.
 * Before S1: S3 follows F, so it sees P1 and P2 (P counted idle, not searching) and either
 * wakes a worker in S4 or relies on a searcher Q that is still counted; Q then parks (its
 * own P3 gives the same three cases, and "before S1" would make S3 see Q's decrement) or
 * stops searching: see weft_park_leave_searching, which takes the heavy barrier too when
 * it may have to wake a sleeper. Without membarrier (or under ThreadSanitizer, which
 * does not know it) both sides are seq_cst fences, as above. This is the hazard-pointer
 * scan's trade (sync/hazard.c), and liburcu's and Folly's asymmetric fences.
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
#include <pthread.h>

#include <weft/waiter.h>

#include "../sync/futex.h"
#include "../sync/membarrier.h"
#include "sched.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PARK_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PARK_TSAN_ 1
#endif

/* The asymmetric barrier (see the top): decided once, before any runtime's first worker
 * starts (weft_park_barrier_init from weft_rt_start), read-only after. */
static pthread_once_t barrier_once = PTHREAD_ONCE_INIT;
bool weft_park_membarrier_;

static void barrier_init(void)
{
#if !defined(PARK_TSAN_)
	weft_park_membarrier_ = weft_membarrier_register_("WEFT_RT_NO_MEMBARRIER");
#endif
}

void weft_park_barrier_init(void)
{
	pthread_once(&barrier_once, barrier_init);
}

/* P3 (and the last searcher's re-check). False when the system call failed: then a
 * submitter's light barrier may not have been paired, and the caller must not sleep
 * without a deadline. */
static bool barrier_heavy(void)
{
	/* Seq_cst: pairs with the submitters' fences (without membarrier), and orders this
	 * thread's P1/P2 before the system call. */
	atomic_thread_fence(memory_order_seq_cst);
	bool ok = true;
	if (weft_park_membarrier_)
		ok = weft_membarrier_();
	/* Seq_cst: orders the system call before the re-checks (P4) that follow. */
	atomic_thread_fence(memory_order_seq_cst);
	return ok;
}

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

/* S4 (weft_park_notify in sched.h did S2 and S3). */
void weft_park_notify_slow_(weft_rt *rt)
{
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
	/* Seq_cst RMW then fence: as P2/P3 — the last searcher re-checks for work. The heavy
	 * barrier only when a worker sleeps: if the load of nidle (after the fence) sees none,
	 * any worker P that parks later has its P1 after that load, hence its P3 (a seq_cst
	 * fence) after this fence in their total order, so a submitter whose S3 still counted
	 * this searcher is covered by P's own P3/P4 (see the top). */
	if (atomic_fetch_sub_explicit(&rt->nsearching, 1, memory_order_seq_cst) == 1) {
		atomic_thread_fence(memory_order_seq_cst); /* pairs with S2 and P3 */
		/* Relaxed: ordered by the fence above. */
		if (atomic_load_explicit(&rt->nidle, memory_order_relaxed) == 0)
			return;
		/* Work in sight: wake a sleeper, which takes over this searcher's duty (it
		 * searches, and parks only through P1-P4 with its own heavy barrier). Else the
		 * heavy barrier first: an item behind a submitter's light S2 shows after it. */
		if (!work_visible(rt)) {
			barrier_heavy();
			if (!work_visible(rt))
				return;
		}
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
	bool paired = barrier_heavy(); /* P3: pairs with S2 */
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
	if (!paired) { /* membarrier failed: a wake may be lost, so only a short sleep */
		uint64_t soon = weft_now_ns() + 1000000;
		deadline = deadline < soon ? deadline : soon;
	}
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
