/*
 * weft_mutex's slow paths: the bounded spin, parking, and the unlock's wake.
 *
 * State word (parked on): 0 unlocked, 1 locked, 2 locked and maybe sleepers.
 * Every modification of it is a read-modify-write (CAS or exchange), so the release
 * sequence of any write to it runs through all later ones.
 *
 * Invariant (why no wake-up is lost): whenever a thread sleeps in weft_park on the word,
 *   either the word is 2, or a sleeper already dequeued by a wake (woken, not yet back)
 *   will exchange the word to 2 before it either sleeps again or gives up.
 *   - A sleeper parks only while the word is 2 (weft_park compares under the bucket lock
 *     that weft_unpark takes), having exchanged it to 2 itself.
 *   - The word leaves 2 only by an unlock's exchange to 0, and that unlock then wakes one
 *     sleeper (weft_unpark dequeues the oldest under the bucket lock), or finds nobody
 *     asleep.
 *   - A sleeper woken by weft_unpark always retries (exchanges to 2) before anything
 *     else, even if its context is done by then: it never swallows the wake it was given.
 *   - A sleeper whose park returns ECANCELED/ETIMEDOUT was not dequeued by a wake (the
 *     parking lot decides that under its bucket lock: a waiter dequeued by weft_unpark
 *     gets 0 from weft_park even if its deadline passed meanwhile). It leaves no wake
 *     unclaimed and may go. The word may stay 2 with nobody asleep: the next unlock pays
 *     one needless weft_unpark, which finds nobody; nothing worse.
 *   A barger's CAS 0 -> 1 hides sleepers (the word reads 1 with sleepers queued), but only
 *   after an unlock has woken one of them, and that one restores 2 when it retries.
 *
 * After the release exchange an unlock touches nothing of m but its address (the wake goes
 * through the parking lot, keyed by address; a wake that reaches a reused address is a
 * spurious wake-up, which every weft_park caller tolerates), so m may be freed by the next
 * holder as soon as that one has unlocked it.
 *
 * Why no wake throttling: Go's sync.Mutex skips waking a second sleeper while a woken one
 * has not yet come back, which needs a flag that the unlock reads after releasing the lock:
 * that access is exactly what the paragraph above rules out, and a flag cleared or set
 * before the release cannot tell whether the woken sleeper has already retried. Measured
 * on this 2-core machine the throttled version was not faster (slow paths are rare: the
 * short spin and barging keep most handoffs out of the kernel).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/ctx.h>
#include <weft/mutex.h>
#include <weft/waiter.h>

/*
 * Spin rounds before parking, with exponential backoff between looks at the word (1, 2, 4
 * ... MUTEX_SPIN_BACKOFF_MAX pauses): a waiter that re-reads the word every pause pulls
 * the holder's line away from it and halves a hot lock's throughput (measured: 11 against
 * pthread's 27 Mops/s at 2 threads with 1-pause rounds). Bounded on purpose: a holder
 * preempted on a 2-core machine will not release within any spin, and the spinner's time
 * slice is what it needs.
 */
#define MUTEX_SPIN_ROUNDS 12u
#define MUTEX_SPIN_BACKOFF_MAX 64u
/* With sleepers queued, fewer rounds (1 + 2 + ... + 64 pauses: about a microsecond or two
 * here): enough for a running holder's short section, not a preempted holder's slice. */
#define MUTEX_SPIN_ROUNDS_SLEEPERS 7u

int weft_mutex_init(weft_mutex *m)
{
	if (m == NULL)
		return EINVAL;
	atomic_init(&m->state, 0);
	atomic_init(&m->owner, 0);
	return 0;
}

int weft_mutex_destroy(weft_mutex *m)
{
	if (m == NULL)
		return EINVAL;
	if (atomic_load_explicit(&m->state, memory_order_relaxed) != 0)
		return EBUSY;
	return 0;
}

_Noreturn void weft_mutex_misuse_(const weft_mutex *m, const char *what)
{
	fprintf(stderr, "weft: weft_mutex %p: %s (holder index+1 %u, caller index %u)\n",
		(const void *)m, what,
		(unsigned)atomic_load_explicit(&((weft_mutex *)m)->owner, memory_order_relaxed),
		(unsigned)weft_thread_index());
	fflush(stderr);
	abort();
}

/*
 * Spin while the lock is held: its holder is probably running and about to let go (with
 * sleepers queued, word 2, for fewer rounds, and the lock is then taken as 2). Returns
 * true once the lock is taken.
 */
static bool mutex_spin(weft_mutex *m)
{
	uint32_t backoff = 1;
	uint32_t take = 1; /* 2 once sleepers were seen: the unlock must then wake one */
	for (uint32_t i = 0; i < MUTEX_SPIN_ROUNDS; i++) {
		uint32_t c = atomic_load_explicit(&m->state, memory_order_relaxed);
		if (c == 0) {
			/* Acquire: pairs with the release exchange in weft_mutex_unlock. */
			if (atomic_compare_exchange_weak_explicit(&m->state, &c, take,
								  memory_order_acquire,
								  memory_order_relaxed))
				return true;
		} else if (c == 2) {
			/* Sleepers queued, but the holder may well be running: keep spinning
			 * (a sleep and a wake cost two system calls), and take the lock as 2
			 * so that its unlock still wakes one of them. */
			take = 2;
			if (i >= MUTEX_SPIN_ROUNDS_SLEEPERS)
				return false;
		}
		for (uint32_t k = 0; k < backoff; k++)
			weft_cpu_relax();
		if (backoff < MUTEX_SPIN_BACKOFF_MAX)
			backoff *= 2;
	}
	return false;
}

int weft_mutex_lock_slow_(weft_mutex *m, weft_ctx *ctx)
{
	if (m == NULL)
		return EINVAL;
	if (ctx != NULL) {
		int err = weft_ctx_err(ctx);
		if (err != 0)
			return err;
	}
	if (!mutex_spin(m)) {
		/* Acquire: pairs with the release exchange in weft_mutex_unlock (when this
		 * finds 0 and so takes the lock, as 2: sleepers may exist). */
		uint32_t c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
		while (c != 0) {
			int r = weft_park(&m->state, 2, WEFT_NO_DEADLINE, ctx);
			if (r != 0)
				return r; /* not dequeued by a wake: nothing to hand on */
			/* Woken, or the word was no longer 2: back in the race, and 2 again
			 * (sleepers may remain) whether or not we win it. Acquire: pairs with
			 * the release exchange in weft_mutex_unlock. */
			c = atomic_exchange_explicit(&m->state, 2, memory_order_acquire);
		}
	}
	/* Relaxed: only the holder writes it (see mutex.h); kept for debug-checked callers. */
	atomic_store_explicit(&m->owner, weft_mutex_self_(), memory_order_relaxed);
	return 0;
}

void weft_mutex_wake_(weft_mutex *m)
{
	/* The lock is already released: only the address is used from here on. */
	weft_unpark(&m->state, 1);
}
