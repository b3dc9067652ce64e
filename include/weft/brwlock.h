/*
 * weft_brwlock: a reader-biased reader-writer lock for read-mostly data.
 *
 * Each reader announces itself in its own cache-line-sized slot (indexed by
 * weft_thread_index()), so readers never write a line another reader writes: read-locking
 * costs one store with a full fence folded in (a seq_cst store: one xchg on x86-64) and a
 * look, before and after it, at a line that only writers change; read-unlocking is one
 * store to the reader's own slot and touches nothing else. A writer claims the lock with
 * one compare-and-swap on that writer word (which stops new readers), then waits for the
 * slots in use to drain; releasing is one exchange. Threads without a slot of their own (an index at or beyond
 * the slot count) share one extra slot, updated with atomic read-modify-writes.
 *
 * The reference idea is BRAVO (Dice & Kogan, "BRAVO - Biased Locking for Reader-Writer
 * Locks", USENIX ATC 2019); the peer is ck_brlock. Unlike BRAVO, the bias is never switched
 * off for a period after a write: readers always use their slot, and a write only makes
 * them wait while it is pending or inside (the writer pays a scan of the slots that this
 * lock has seen used, not of every slot). Writers cannot starve: once the writer word is
 * up no reader enters; the writer waits only for the readers already inside.
 *
 * Rules and costs:
 *   - A read lock must be released by the thread that took it (the slot is the caller's
 *     thread index slot; the lock keeps no other record). Nested read-locking by a thread
 *     that holds a slot read lock is allowed; by a thread without a slot of its own it can
 *     deadlock against a waiting writer, as with weft_rwlock.
 *   - Writers are expensive (a scan of the used slots): use this lock where reads outnumber
 *     writes by far; otherwise use weft_rwlock. Writers are not ordered among themselves
 *     (no FIFO): a writer that waits for another writer competes with the others when it
 *     leaves.
 *   - The inline paths are quickest on the lock a thread went out of line for last (a
 *     per-thread cache of its slot); a thread that alternates between several brwlocks
 *     pays an out-of-line call (a thread-index lookup and a bounds check, a dozen
 *     instructions) each time it changes lock.
 *   - A waiter (a reader behind a writer, a writer behind a writer or a reader) spins
 *     before it parks: up to about 50 us while the threads that have used the lock are no
 *     more than the CPUs (a thread waited for is then usually interrupted, not
 *     descheduled, and parking would cost more than the wait; each thread shortens its
 *     budget where its waits keep outlasting it), a few hundred pause rounds otherwise.
 *   - weft_brwlock_create allocates (the slots: 128 bytes each, max(64, 2 x CPUs) slots
 *     rounded up to 64, one of them the shared slot); nothing else allocates.
 *
 * Synchronisation table: every call may run concurrently with every other call on the same
 * lock from any thread, except weft_brwlock_destroy, which needs the lock idle and unused.
 *
 * Lifetime: a reader that leaves no longer touches the lock once its unlock has made the
 * lock free (it may wake a sleeping writer afterwards, by address only), so a writer may
 * destroy the lock right after acquiring it as far as readers go; writers follow
 * weft_rwlock's rule (every call on the lock must have returned).
 */
#ifndef WEFT_BRWLOCK_H
#define WEFT_BRWLOCK_H

#include <errno.h>
#include <stdatomic.h>
#include <weft/common.h>
#include <weft/thread.h>

typedef struct weft_ctx weft_ctx;

/*
 * Layout (private). The lock is an array of WEFT_PADDING-sized lines: line 0 is the
 * header below, line k for 1 <= k < nslots is the reader slot of thread index k - 1, line
 * nslots is the slot shared by the threads that have no slot of their own, and the
 * used-slot bitmap follows (nslots / 64 words; bit k for line k, bit 0 for the shared
 * slot). The inline paths do not index: they take the caller's slot from a per-thread
 * cache (weft_brwlock_tls_ below) of the lock it last went out of line for; a miss, a
 * thread without an own slot, or a slot without REG goes out of line, which computes the
 * slot from the thread index and refills the cache. Every lock of a process has the same
 * nslots (fixed at the first create), so a cached slot stays in bounds even for a lock
 * created later at the address of a freed one.
 *
 * A slot's readers word: bit 31 REG = an own slot in use (marked in the bitmap; the
 * shared slot never carries it, so the inline paths send its users out of line); bit 30
 * SLEEP = a writer may be asleep waiting for this slot to drain; bits 0..29 = read locks
 * held through this slot.
 */
struct weft_brwlock_slot_ {
	_Alignas(WEFT_PADDING) _Atomic uint32_t readers;
};

/* wflag bits (private). */
#define WEFT_BRWLOCK_WRITER_ 1u /* a writer drains the slots or is inside */
#define WEFT_BRWLOCK_WAIT_ 2u   /* readers or writers parked on wflag (only with WRITER) */
/* Slot bits (private). */
#define WEFT_BRWLOCK_REG_ (UINT32_C(1) << 31)
#define WEFT_BRWLOCK_SLEEP_ (UINT32_C(1) << 30)
#define WEFT_BRWLOCK_COUNT_ (WEFT_BRWLOCK_SLEEP_ - 1)

/* The lock's header, line 0 (all fields private; created by weft_brwlock_create). */
typedef struct weft_brwlock {
	/* Lines after the header: own slots + the shared one (a multiple of 64, the same
	 * for every lock of the process). Never written after creation. */
	_Alignas(WEFT_PADDING) uint32_t nslots;
	/* Online CPUs when the lock was created. Never written after creation. */
	uint32_t ncpus;
	/* Slots marked in the used bitmap (the threads that have read-locked this lock or
	 * waited in it as writers, the shared slot counting once): bumped on a slot's first
	 * use only, read by waiters to choose their spin (see WAIT_SPIN in sync/brwlock.c). */
	_Atomic uint32_t nused;
	/* Read by every reader, written by writers only. Where the padding allows, in its own
	 * coherence line: a writer's CAS then does not take nslots, which the out-of-line
	 * paths read, away from the readers. */
#if WEFT_PADDING >= 2 * WEFT_CACHELINE
	_Alignas(WEFT_CACHELINE)
#endif
	_Atomic uint32_t wflag;
} weft_brwlock;

_Static_assert(sizeof(weft_brwlock) == sizeof(struct weft_brwlock_slot_),
	       "the header is line 0 of the lock");

/* The readers word of line k (private; see the layout above). */
static inline _Atomic uint32_t *weft_brwlock_line_(weft_brwlock *l, uint32_t k)
{
	return &((struct weft_brwlock_slot_ *)(void *)l)[k].readers;
}

/*
 * The calling thread's own slot in the lock it read-locked last through the slow path
 * (private): lock and the slot's readers word. The slow path fills it only when the thread
 * has an own slot in that lock, so a hit needs no bounds check; a lock freed and another
 * created at the same address keeps the same geometry, and its slot lacks REG until first
 * use, which the fast paths test anyway. Starts as {NULL, a word that is never REG}, so a
 * NULL lock goes to the slow path (EINVAL) without a test of its own.
 */
struct weft_brwlock_tls_ {
	weft_brwlock *lock;
	_Atomic uint32_t *slot;
};
extern WEFT_API __thread struct weft_brwlock_tls_ weft_brwlock_tls_
	__attribute__((tls_model("initial-exec")));

/* Private slow paths behind the inline fast paths below. */
WEFT_API int weft_brwlock_rdlock_slow_(weft_brwlock *l, weft_ctx *ctx, bool announced);
WEFT_API int weft_brwlock_rdunlock_slow_(weft_brwlock *l);

/*
 * weft_brwlock_create - a new, unlocked lock in *l.
 * Returns: 0, EINVAL (l NULL), ENOMEM (nothing allocated). Thread-safety: any thread.
 * Allocates: yes, through weft_allocator.
 */
WEFT_API int weft_brwlock_create(weft_brwlock **l);

/*
 * weft_brwlock_destroy - free l (NULL is ignored). l must be unlocked, with no waiters,
 * and no thread may use it again.
 */
WEFT_API void weft_brwlock_destroy(weft_brwlock *l);

/*
 * A caller that passes a NULL lock which gcc can see makes it warn (-Wstringop-overflow)
 * about the load of l->wflag on the path where the cache also holds NULL; that path is
 * infeasible (the empty cache's slot never holds REG, so the test before the load fails).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

/*
 * weft_brwlock_rdlock - take a read lock, waiting while a writer is pending or inside.
 * Returns: 0; ECANCELED or ETIMEDOUT when ctx ended while the caller waited (nothing held);
 *   EAGAIN (too many nested read locks); EINVAL (l NULL).
 * Ordering: acquire (pairs with the release in weft_brwlock_wrunlock).
 * Thread-safety: any thread; the same thread must call weft_brwlock_rdunlock.
 * Blocking: yes, through weft_park. Cancellation: ctx, consulted only when it must wait.
 */
static inline int weft_brwlock_rdlock(weft_brwlock *l, weft_ctx *ctx)
{
	if (WEFT_LIKELY(weft_brwlock_tls_.lock == l)) {
		_Atomic uint32_t *s = weft_brwlock_tls_.slot;
		/* Relaxed: only this thread changes the count; a writer adds SLEEP only to a
		 * slot that holds read locks, so REG alone means "own slot, none held". The
		 * relaxed look at wflag keeps a reader that meets a writer from announcing
		 * itself (and from making the writer wait for its retreat); the seq_cst
		 * load below decides. */
		if (WEFT_LIKELY(atomic_load_explicit(s, memory_order_relaxed) ==
					WEFT_BRWLOCK_REG_ &&
				atomic_load_explicit(&l->wflag, memory_order_relaxed) == 0)) {
			/* Dekker with the writer: seq_cst store of the slot, then seq_cst load of
			 * wflag; the writer does the mirror image (CAS wflag, load the slots),
			 * so at least one of the two sees the other. The load is also the acquire
			 * that pairs with the release in weft_brwlock_wrunlock. */
			atomic_store_explicit(s, WEFT_BRWLOCK_REG_ + 1, memory_order_seq_cst);
			if (WEFT_LIKELY(atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0))
				return 0;
			return weft_brwlock_rdlock_slow_(l, ctx, true);
		}
	}
	return weft_brwlock_rdlock_slow_(l, ctx, false);
}

/*
 * weft_brwlock_rdunlock - release a read lock this thread took.
 * Returns: 0, EINVAL (l NULL), EPERM (this thread holds no read lock; WEFT_DEBUG_CHECKS
 *   builds abort). Ordering: release (pairs with the writer's acquire scan of the slot).
 * Blocking: never sleeps (may wake a writer).
 */
static inline int weft_brwlock_rdunlock(weft_brwlock *l)
{
	if (WEFT_LIKELY(weft_brwlock_tls_.lock == l)) {
		_Atomic uint32_t *s = weft_brwlock_tls_.slot;
		/* Relaxed: only this thread changes the count. The common case: own slot
		 * (REG), one read lock, no writer asleep on it (SLEEP clear); nested locks
		 * and SLEEP go out of line. */
		if (WEFT_LIKELY(atomic_load_explicit(s, memory_order_relaxed) ==
				WEFT_BRWLOCK_REG_ + 1)) {
			/* Release: pairs with the writer's acquire (seq_cst) load of this slot.
			 * A plain store: a writer that sets SLEEP between the load above and
			 * this store loses it, and its short nap bounds the cost (brwlock.c,
			 * invariant 5). After it this thread no longer touches the lock. */
			atomic_store_explicit(s, WEFT_BRWLOCK_REG_, memory_order_release);
			return 0;
		}
	}
	return weft_brwlock_rdunlock_slow_(l);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/*
 * weft_brwlock_tryrdlock - take a read lock if no writer is pending or inside.
 * Returns: 0, EBUSY, EAGAIN (too many nested read locks), EINVAL (l NULL).
 * Ordering: acquire on success. Blocking: never.
 */
WEFT_API int weft_brwlock_tryrdlock(weft_brwlock *l);

/*
 * weft_brwlock_wrlock - take the write lock: wait for other writers, stop new readers,
 * wait for the readers inside to leave.
 * Returns: 0; ECANCELED or ETIMEDOUT when ctx ended while the caller waited (nothing held,
 *   readers held back are let go); EINVAL (l NULL).
 * Ordering: acquire (pairs with the release of every reader's unlock and of the previous
 *   writer's). Thread-safety: any thread. Blocking: yes, through weft_park (waiting for a
 *   reader to leave sleeps at most about a millisecond at a time and is woken early by the
 *   reader in the common case). Cancellation: ctx.
 */
WEFT_API int weft_brwlock_wrlock(weft_brwlock *l, weft_ctx *ctx);

/*
 * weft_brwlock_trywrlock - take the write lock if no writer and no reader is inside.
 * Returns: 0, EBUSY, EINVAL (l NULL). Ordering: acquire on success. Blocking: never.
 */
WEFT_API int weft_brwlock_trywrlock(weft_brwlock *l);

/*
 * weft_brwlock_wrunlock - release the write lock and wake the readers that waited.
 * Returns: 0, EINVAL (l NULL), EPERM (no writer inside; WEFT_DEBUG_CHECKS builds abort).
 * Ordering: release (pairs with the acquire of the next reader or writer).
 * Blocking: never sleeps.
 */
WEFT_API int weft_brwlock_wrunlock(weft_brwlock *l);

#endif
