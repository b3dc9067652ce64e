/*
 * weft_rwlock slow paths: waiting, waking, and giving up (see include/weft/rwlock.h).
 *
 * Protocol. `state` holds the reader count and three bits: WRITER (a writer is inside),
 * WWAIT (a writer may be parked; readers must hold off), RWAIT (readers may be parked on
 * `state`). Readers park on `state` with the value they saw; writers park on `writer_seq`
 * with the value they read before looking at `state`.
 *
 * Invariants:
 *   1. A reader parks only after it saw WRITER or WWAIT and made sure RWAIT is set in that
 *      same value (weft_park compares the whole word, so any change lets it retry).
 *   2. A writer parks only after it saw the lock held and made sure WWAIT is set, and it
 *      parks on the writer_seq it read *before* that look at `state`.
 *   3. Whoever clears WWAIT bumps writer_seq and then unparks one writer (rw_wake_writer).
 *      A writer woken that way has taken over "some writer waits": it either re-sets WWAIT
 *      and parks again, or acquires with WWAIT set (so its unlock passes the turn on), or,
 *      cancelled, runs rw_abandon, which passes the turn on again. If no writer was parked,
 *      the clearer goes on to wake readers. So a parked writer is never left with WWAIT clear
 *      and nobody on its way to wake it.
 *   4. Whoever makes the lock admissible to readers (clears WRITER with no WWAIT left, or
 *      clears WWAIT without waking a writer) clears RWAIT and unparks every reader on `state`,
 *      even if running readers have entered since (rw_admit_readers).
 *   5. Once every caller has left, `state` is 0: every unlock that frees the lock and every
 *      abandon clears the wait bits it finds (rw_wake).
 * Lost wake-ups are excluded by the parking lot's compare-under-bucket-lock (waiter.h):
 * each clearer changes the parked-on word before it calls weft_unpark.
 *
 * Writer preference: readers do not enter while WWAIT is set, so a writer waits only for
 * the readers already inside (no starvation by a stream of overlapping readers).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/ctx.h>
#include <weft/rwlock.h>
#include <weft/waiter.h>

#define READERS WEFT_RWLOCK_READERS_
#define RWAIT WEFT_RWLOCK_RWAIT_
#define WWAIT WEFT_RWLOCK_WWAIT_
#define WRITER WEFT_RWLOCK_WRITER_
#define MAX_READERS (READERS - 1)

/* Spin this many rounds on a held lock before parking (only while nobody is parked yet). */
#define RW_SPIN 64

#if defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS
#define RW_MISUSE(what) (fprintf(stderr, "weft_rwlock: %s\n", what), abort())
#else
#define RW_MISUSE(what) ((void)0)
#endif

int weft_rwlock_init(weft_rwlock *l)
{
	if (l == NULL)
		return EINVAL;
	atomic_init(&l->state, 0);
	atomic_init(&l->writer_seq, 0);
	return 0;
}

int weft_rwlock_destroy(weft_rwlock *l)
{
	if (l == NULL)
		return EINVAL;
	/* Relaxed: the caller guarantees nobody else uses l; this only reports misuse. */
	return atomic_load_explicit(&l->state, memory_order_relaxed) == 0 ? 0 : EBUSY;
}

/* Bump writer_seq and wake one parked writer. Returns true if one was parked. */
static bool rw_wake_writer(weft_rwlock *l)
{
	/* Release: a writer that reads the new sequence (acquire, in wrlock) sees the state
	 * change made before this call. The bump also fails any park still using the old one. */
	atomic_fetch_add_explicit(&l->writer_seq, 1, memory_order_release);
	return weft_unpark(&l->writer_seq, 1) > 0;
}

/*
 * Invariant 4: while no writer holds or waits for the lock, clear RWAIT and unpark every
 * parked reader, whether or not readers are inside: readers already inside do not hold
 * others back. s is a recent value of state.
 */
static void rw_admit_readers(weft_rwlock *l, uint32_t s)
{
	while ((s & (WRITER | WWAIT)) == 0 && (s & RWAIT)) {
		/* Relaxed: the parking lot's bucket lock orders it before the readers' wake. */
		if (atomic_compare_exchange_weak_explicit(&l->state, &s, s & ~RWAIT,
							  memory_order_relaxed, memory_order_relaxed)) {
			weft_unpark(&l->state, INT32_MAX);
			return;
		}
	}
}

/*
 * Called with s, a recent value of state, after the caller made the lock free (or, from
 * rw_abandon, dropped its claim): hand the lock on to one writer, else to all readers.
 * A writer is handed the turn only while the lock is free; once someone holds it again,
 * that holder's unlock does it. Readers are let in even if other readers got in meanwhile
 * (bug fixed here: a reader slipping in between the unlock and this call made it return
 * with RWAIT set and the parked readers asleep until the last reader left, which a stream
 * of overlapping readers may never do).
 */
static void rw_wake(weft_rwlock *l, uint32_t s)
{
	for (;;) {
		if ((s & WWAIT) == 0) {
			rw_admit_readers(l, s);
			return;
		}
		if ((s & (WRITER | READERS)) != 0)
			return; /* held again: the holder's (or last reader's) unlock passes the turn */
		/* Relaxed: the bump in rw_wake_writer publishes it to writers. */
		if (!atomic_compare_exchange_weak_explicit(&l->state, &s, s & ~WWAIT,
							   memory_order_relaxed, memory_order_relaxed))
			continue;
		if (rw_wake_writer(l))
			return;
		s = atomic_load_explicit(&l->state, memory_order_relaxed);
	}
}

int weft_rwlock_rdlock_slow_(weft_rwlock *l, weft_ctx *ctx)
{
	if (l == NULL)
		return EINVAL;
	int spins = RW_SPIN;
	uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
	for (;;) {
		if ((s & (WRITER | WWAIT)) == 0) {
			if ((s & READERS) >= MAX_READERS)
				return EAGAIN;
			/* Acquire: pairs with the release in wrunlock. */
			if (atomic_compare_exchange_weak_explicit(&l->state, &s, s + 1,
								  memory_order_acquire,
								  memory_order_relaxed))
				return 0;
			continue;
		}
		if (!(s & RWAIT) && spins > 0) {
			spins--;
			weft_cpu_relax();
			s = atomic_load_explicit(&l->state, memory_order_relaxed);
			continue;
		}
		/* Invariant 1: park only on a value that carries RWAIT. */
		if (!(s & RWAIT) &&
		    !atomic_compare_exchange_weak_explicit(&l->state, &s, s | RWAIT,
							   memory_order_relaxed, memory_order_relaxed))
			continue;
		int r = weft_park(&l->state, s | RWAIT, WEFT_NO_DEADLINE, ctx);
		if (r != 0)
			return r; /* a reader holds nobody back: a stale RWAIT costs one empty wake */
		s = atomic_load_explicit(&l->state, memory_order_relaxed);
	}
}

/*
 * A writer gives up (cancelled or timed out). Its WWAIT may be holding readers back, and it
 * may have consumed the wake meant to pass the turn between writers. It cannot tell whether
 * other writers still wait, so: clear WWAIT and wake one writer (who re-sets WWAIT if it
 * still has to wait, invariant 3); if none was parked, let in the readers it held back.
 */
static void rw_abandon(weft_rwlock *l)
{
	uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
	/* Relaxed: rw_wake_writer's release bump publishes the change to writers. */
	while ((s & WWAIT) &&
	       !atomic_compare_exchange_weak_explicit(&l->state, &s, s & ~WWAIT,
						      memory_order_relaxed, memory_order_relaxed))
		;
	if (rw_wake_writer(l))
		return;
	/* No writer parked. Readers may join readers already inside, so only a writer inside
	 * (whose unlock wakes them) or a new WWAIT (whose writer will) keeps them parked. */
	rw_admit_readers(l, atomic_load_explicit(&l->state, memory_order_relaxed));
}

int weft_rwlock_wrlock_slow_(weft_rwlock *l, weft_ctx *ctx)
{
	if (l == NULL)
		return EINVAL;
	int spins = RW_SPIN;
	uint32_t woken = 0; /* WWAIT once this writer has parked: invariant 3 */
	for (;;) {
		/* Acquire: pairs with the release bump in rw_wake_writer; read before state
		 * (invariant 2) so a bump made after this look fails the park below. */
		uint32_t seq = atomic_load_explicit(&l->writer_seq, memory_order_acquire);
		uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
		if ((s & (WRITER | READERS)) == 0) {
			/* Acquire: pairs with the release of the last reader or writer out. */
			if (atomic_compare_exchange_weak_explicit(&l->state, &s, s | WRITER | woken,
								  memory_order_acquire,
								  memory_order_relaxed))
				return 0;
			continue;
		}
		if (!(s & WWAIT) && spins > 0) {
			spins--;
			weft_cpu_relax();
			continue;
		}
		if (!(s & WWAIT) &&
		    !atomic_compare_exchange_weak_explicit(&l->state, &s, s | WWAIT,
							   memory_order_relaxed, memory_order_relaxed))
			continue;
		int r = weft_park(&l->writer_seq, seq, WEFT_NO_DEADLINE, ctx);
		woken = WWAIT;
		if (r != 0) {
			rw_abandon(l);
			return r;
		}
	}
}

int weft_rwlock_rdunlock_slow_(weft_rwlock *l, uint32_t old)
{
	if ((old & READERS) == 0) {
		/* No reader was inside: the fetch_sub borrowed from the flag bits. Undo it. */
		atomic_fetch_add_explicit(&l->state, 1, memory_order_relaxed);
		RW_MISUSE("rdunlock without a reader inside");
		return EPERM;
	}
	if (((old - 1) & READERS) == 0)
		rw_wake(l, old - 1);
	return 0;
}

int weft_rwlock_wrunlock_slow_(weft_rwlock *l)
{
	if (l == NULL)
		return EINVAL;
	/* Release: pairs with the acquire of the next reader or writer in. Clearing a clear
	 * bit changes nothing, so misuse leaves the state as it was. */
	uint32_t old = atomic_fetch_and_explicit(&l->state, ~WRITER, memory_order_release);
	if (!(old & WRITER)) {
		RW_MISUSE("wrunlock without the writer inside");
		return EPERM;
	}
	rw_wake(l, old & ~WRITER);
	return 0;
}

int weft_rwlock_tryrdlock(weft_rwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
	for (;;) {
		if (s & (WRITER | WWAIT))
			return EBUSY;
		if ((s & READERS) >= MAX_READERS)
			return EAGAIN;
		/* Acquire: pairs with the release in wrunlock. */
		if (atomic_compare_exchange_weak_explicit(&l->state, &s, s + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
	}
}

int weft_rwlock_trywrlock(weft_rwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
	for (;;) {
		if (s & (WRITER | READERS))
			return EBUSY;
		/* Acquire: pairs with the release of the last reader or writer out. Wait bits
		 * are kept: this unlock will do the wake-up they ask for. */
		if (atomic_compare_exchange_weak_explicit(&l->state, &s, s | WRITER,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
	}
}
