/*
 * weft_brwlock: a reader-biased reader-writer lock for read-mostly data.
 *
 * Each reader announces itself in its own cache-line-sized slot (indexed by
 * weft_thread_index()), so readers never write a line another reader writes: read-locking
 * costs one store, one full fence (folded into the store: a seq_cst store) and one load of
 * a line that only writers change. A writer takes an ordinary writer-preferring
 * weft_rwlock (which orders writers among themselves and excludes the readers that have no
 * slot), raises a flag that stops new readers, and waits for the slots in use to drain.
 * Threads whose index is at or beyond the slot count read through that same weft_rwlock.
 *
 * The reference idea is BRAVO (Dice & Kogan, "BRAVO - Biased Locking for Reader-Writer
 * Locks", USENIX ATC 2019); the peer is ck_brlock. Unlike BRAVO, the bias is never switched
 * off for a period after a write: readers always use their slot, and a write only makes
 * them wait while it is pending or inside (the writer pays a scan of the slots that this
 * lock has seen used, not of every slot). Writers cannot starve: once the flag is up no
 * reader enters; the writer waits only for the readers already inside.
 *
 * Rules and costs:
 *   - A read lock must be released by the thread that took it (the slot is the caller's
 *     thread index slot; the lock keeps no other record). Nested read-locking by a thread
 *     that holds a slot read lock is allowed; by a thread without a slot it can deadlock
 *     against a waiting writer, as with weft_rwlock.
 *   - Writers are expensive (a scan of the used slots, plus the underlying lock): use this
 *     lock where reads outnumber writes by far; otherwise use weft_rwlock.
 *   - weft_brwlock_create allocates (the slots: 128 bytes each, max(64, 2 x CPUs) slots,
 *     rounded up to 64); nothing else allocates.
 *
 * Synchronisation table: every call may run concurrently with every other call on the same
 * lock from any thread, except weft_brwlock_destroy, which needs the lock idle and unused.
 *
 * Lifetime: a reader that leaves through its slot no longer touches the lock once its
 * unlock has made the lock free, so a writer may destroy the lock right after acquiring
 * it as far as slot readers go; readers without a slot, and writers, follow weft_rwlock's
 * rule (every call on the lock must have returned).
 */
#ifndef WEFT_BRWLOCK_H
#define WEFT_BRWLOCK_H

#include <errno.h>
#include <stdatomic.h>
#include <weft/common.h>
#include <weft/rwlock.h>
#include <weft/thread.h>

typedef struct weft_ctx weft_ctx;

/* A reader slot (private). readers: bit 31 = slot registered with the lock, bits 0..30 =
 * read locks this slot's thread holds. Only the owning thread writes it. */
struct weft_brwlock_slot_ {
	_Alignas(WEFT_PADDING) _Atomic uint32_t readers;
};

/* wflag bits (private). */
#define WEFT_BRWLOCK_WRITER_ 1u /* a writer is draining the slots or inside */
#define WEFT_BRWLOCK_SLEEP_ 2u  /* the writer parked on a slot; leaving readers wake it */
#define WEFT_BRWLOCK_RWAIT_ 4u  /* readers parked on wflag */
#define WEFT_BRWLOCK_REG_ (UINT32_C(1) << 31)
#define WEFT_BRWLOCK_COUNT_ (WEFT_BRWLOCK_REG_ - 1)

/* The lock (all fields private; created by weft_brwlock_create). */
typedef struct weft_brwlock {
	/* Read by every reader, written by writers. */
	_Alignas(WEFT_PADDING) _Atomic uint32_t wflag;
	uint32_t nslots;
	/* Writers' lock; read-locked by readers without a slot. On wflag's line on purpose:
	 * a writer writes both, so a write moves one line between cores, not two. */
	weft_rwlock wlock;
	/* nslots slots, then nslots / 64 words of the used-slot bitmap. */
	struct weft_brwlock_slot_ slots[];
} weft_brwlock;

/* Private slow paths behind the inline fast paths below. */
WEFT_API int weft_brwlock_rdlock_slow_(weft_brwlock *l, weft_ctx *ctx, bool announced);
WEFT_API int weft_brwlock_rdunlock_slow_(weft_brwlock *l);
WEFT_API void weft_brwlock_wake_writer_(const void *slot);

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
 * weft_brwlock_rdlock - take a read lock, waiting while a writer is pending or inside.
 * Returns: 0; ECANCELED or ETIMEDOUT when ctx ended while the caller waited (nothing held);
 *   EAGAIN (too many nested read locks); EINVAL (l NULL).
 * Ordering: acquire (pairs with the release in weft_brwlock_wrunlock).
 * Thread-safety: any thread; the same thread must call weft_brwlock_rdunlock.
 * Blocking: yes, through weft_park. Cancellation: ctx, consulted only when it must wait.
 */
static inline int weft_brwlock_rdlock(weft_brwlock *l, weft_ctx *ctx)
{
	uint32_t i = weft_thread_index();
	if (WEFT_LIKELY(l != NULL && i < l->nslots)) {
		struct weft_brwlock_slot_ *s = &l->slots[i];
		/* Relaxed: only this thread writes its slot. */
		if (WEFT_LIKELY(atomic_load_explicit(&s->readers, memory_order_relaxed) ==
				WEFT_BRWLOCK_REG_)) {
			/* Dekker with the writer: seq_cst store of the slot, then seq_cst load of
			 * wflag; the writer does the mirror image (store wflag, load the slots),
			 * so at least one of the two sees the other. The load is also the acquire
			 * that pairs with the release in weft_brwlock_wrunlock. */
			atomic_store_explicit(&s->readers, WEFT_BRWLOCK_REG_ + 1,
					      memory_order_seq_cst);
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
	uint32_t i = weft_thread_index();
	if (WEFT_LIKELY(l != NULL && i < l->nslots)) {
		struct weft_brwlock_slot_ *s = &l->slots[i];
		uint32_t v = atomic_load_explicit(&s->readers, memory_order_relaxed);
		if (WEFT_LIKELY(v > WEFT_BRWLOCK_REG_)) {
			/* Relaxed hint, read before the store so that l is not touched once a
			 * writer may own it (and free it): a writer asleep on this slot is
			 * woken below, or by its own short timeout if it fell asleep after
			 * this load (see brwlock.c). */
			uint32_t f = atomic_load_explicit(&l->wflag, memory_order_relaxed);
			/* Release: pairs with the writer's acquire load of this slot. */
			atomic_store_explicit(&s->readers, v - 1, memory_order_release);
			if (WEFT_UNLIKELY(f & WEFT_BRWLOCK_SLEEP_))
				weft_brwlock_wake_writer_(&s->readers); /* uses the address only */
			return 0;
		}
	}
	return weft_brwlock_rdunlock_slow_(l);
}

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
