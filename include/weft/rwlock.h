/*
 * weft_rwlock: a writer-preferring reader-writer lock on one 32-bit state word.
 *
 * Many readers or one writer. Once a writer waits, new readers wait behind it, so a steady
 * stream of readers cannot starve writers (a writer waits only for the readers already
 * inside). The price is the usual one: a thread that read-locks twice can deadlock against
 * a writer that arrived between the two (recursive read-locking is not supported).
 *
 * Blocking goes through weft_park()/weft_unpark() (include/weft/waiter.h), so the same lock
 * parks a fiber inside the runtime and sleeps on a futex elsewhere. Blocking calls take a
 * weft_ctx (NULL: never cancelled); the ctx is consulted only when the call has to wait, so
 * a free lock is taken even under a done ctx.
 *
 * For read-mostly data where readers dominate, weft_brwlock (brwlock.h) keeps readers off
 * any shared cache line; this lock costs each reader one atomic read-modify-write on the
 * shared word.
 *
 * Synchronisation table: every lock and unlock call may run concurrently with every other
 * one on the same lock, from any thread; init and destroy need the lock unused.
 *
 * Lifetime: free or reuse a lock's memory only once every call on it has returned. (An
 * unlock that has waiters to wake still touches the lock for a moment after another thread
 * may already have acquired it; a thread that frees the lock right after acquiring it must
 * know by other means that those calls are over, e.g. by joining the threads.)
 * Unlocking a lock the caller does not hold is undefined; where it can be seen (no reader
 * or no writer inside) the unlock returns EPERM, and WEFT_DEBUG_CHECKS builds abort. The
 * lock records no owner, so a read lock may be released by another thread.
 */
#ifndef WEFT_RWLOCK_H
#define WEFT_RWLOCK_H

#include <errno.h>
#include <stdatomic.h>
#include <weft/common.h>

typedef struct weft_ctx weft_ctx;

/*
 * The state word (all fields private):
 *   bits 0..28  number of readers inside
 *   bit 29      WEFT_RWLOCK_RWAIT_: readers may be parked on `state`
 *   bit 30      WEFT_RWLOCK_WWAIT_: writers may be parked on `writer_seq`; readers hold off
 *   bit 31      WEFT_RWLOCK_WRITER_: a writer is inside
 * writer_seq is bumped each time a writer is released from waiting; writers park on it.
 */
typedef struct weft_rwlock {
	_Atomic uint32_t state;      /* private */
	_Atomic uint32_t writer_seq; /* private */
} weft_rwlock;

#define WEFT_RWLOCK_INITIALIZER { 0, 0 }

#define WEFT_RWLOCK_READERS_ ((UINT32_C(1) << 29) - 1)
#define WEFT_RWLOCK_RWAIT_ (UINT32_C(1) << 29)
#define WEFT_RWLOCK_WWAIT_ (UINT32_C(1) << 30)
#define WEFT_RWLOCK_WRITER_ (UINT32_C(1) << 31)

/* Private slow paths behind the inline fast paths below. */
WEFT_API int weft_rwlock_rdlock_slow_(weft_rwlock *l, weft_ctx *ctx);
WEFT_API int weft_rwlock_wrlock_slow_(weft_rwlock *l, weft_ctx *ctx);
WEFT_API int weft_rwlock_rdunlock_slow_(weft_rwlock *l, uint32_t old);
WEFT_API int weft_rwlock_wrunlock_slow_(weft_rwlock *l);

/*
 * weft_rwlock_init - make l an unlocked lock (same as WEFT_RWLOCK_INITIALIZER).
 * Returns: 0, EINVAL (l NULL). Thread-safety: nobody else may use l meanwhile.
 */
WEFT_API int weft_rwlock_init(weft_rwlock *l);

/*
 * weft_rwlock_destroy - end l's life. Nothing to free; checks that l is idle.
 * Returns: 0, EINVAL (l NULL), EBUSY (l is held or has waiters; l is left as it was).
 */
WEFT_API int weft_rwlock_destroy(weft_rwlock *l);

/*
 * weft_rwlock_tryrdlock - take a read lock if no writer holds l and none waits.
 * Returns: 0, EBUSY (a writer holds or waits for l), EAGAIN (2^29 - 1 readers inside),
 *   EINVAL (l NULL). Ordering: acquire on success (pairs with the release in
 *   weft_rwlock_wrunlock). Blocking: never.
 */
WEFT_API int weft_rwlock_tryrdlock(weft_rwlock *l);

/*
 * weft_rwlock_trywrlock - take the write lock if l is entirely free.
 * Returns: 0, EBUSY, EINVAL (l NULL). Ordering: acquire on success (pairs with the releases
 *   in weft_rwlock_rdunlock and weft_rwlock_wrunlock). Blocking: never.
 */
WEFT_API int weft_rwlock_trywrlock(weft_rwlock *l);

/*
 * weft_rwlock_rdlock - take a read lock, waiting while a writer holds l or waits for it.
 * Returns: 0; ECANCELED or ETIMEDOUT when ctx ended while the caller waited (nothing held);
 *   EAGAIN (2^29 - 1 readers inside); EINVAL (l NULL).
 * Ordering: acquire (pairs with the release in weft_rwlock_wrunlock): what the last writer
 *   wrote is visible. Thread-safety: any thread. Blocking: yes, through weft_park.
 * Cancellation: ctx, consulted only when the call must wait.
 */
static inline int weft_rwlock_rdlock(weft_rwlock *l, weft_ctx *ctx)
{
	if (WEFT_LIKELY(l != NULL)) {
		uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
		/* Acquire: pairs with the release in wrunlock (the last writer's writes). */
		if (WEFT_LIKELY((s & (WEFT_RWLOCK_WRITER_ | WEFT_RWLOCK_WWAIT_)) == 0 &&
				(s & WEFT_RWLOCK_READERS_) < WEFT_RWLOCK_READERS_ - 1) &&
		    atomic_compare_exchange_weak_explicit(&l->state, &s, s + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
	}
	return weft_rwlock_rdlock_slow_(l, ctx);
}

/*
 * weft_rwlock_wrlock - take the write lock, waiting for the readers inside and any writer.
 * Returns: 0; ECANCELED or ETIMEDOUT when ctx ended while the caller waited (nothing held,
 *   and readers this writer was holding back are let in); EINVAL (l NULL).
 * Ordering: acquire (pairs with the releases in weft_rwlock_rdunlock/wrunlock).
 * Thread-safety: any thread. Blocking: yes, through weft_park. Cancellation: ctx.
 */
static inline int weft_rwlock_wrlock(weft_rwlock *l, weft_ctx *ctx)
{
	uint32_t s = 0;
	/* Acquire: pairs with the release of the last reader or writer to leave. */
	if (WEFT_LIKELY(l != NULL) &&
	    atomic_compare_exchange_strong_explicit(&l->state, &s, WEFT_RWLOCK_WRITER_,
						    memory_order_acquire, memory_order_relaxed))
		return 0;
	return weft_rwlock_wrlock_slow_(l, ctx);
}

/*
 * weft_rwlock_rdunlock - release a read lock taken by rdlock/tryrdlock.
 * Returns: 0, EINVAL (l NULL), EPERM (no reader was inside: undefined use, reported when seen;
 *   WEFT_DEBUG_CHECKS builds abort instead).
 * Ordering: release (pairs with the acquire in weft_rwlock_wrlock). Blocking: never sleeps;
 *   the last reader out wakes a waiting writer.
 */
static inline int weft_rwlock_rdunlock(weft_rwlock *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Release: pairs with the acquire of the next writer in. */
	uint32_t old = atomic_fetch_sub_explicit(&l->state, 1, memory_order_release);
	/* Slow only when this was the last reader and someone waits, or on misuse. */
	if (WEFT_UNLIKELY((old & (WEFT_RWLOCK_WWAIT_ | WEFT_RWLOCK_RWAIT_)) != 0 ||
			  (old & WEFT_RWLOCK_READERS_) == 0))
		return weft_rwlock_rdunlock_slow_(l, old);
	return 0;
}

/*
 * weft_rwlock_wrunlock - release the write lock; wakes one waiting writer, or else every
 * waiting reader.
 * Returns: 0, EINVAL (l NULL), EPERM (no writer was inside; WEFT_DEBUG_CHECKS builds abort).
 * Ordering: release (pairs with the acquire of the next reader or writer in).
 * Blocking: never sleeps.
 */
static inline int weft_rwlock_wrunlock(weft_rwlock *l)
{
	uint32_t s = WEFT_RWLOCK_WRITER_;
	/* Release: pairs with the acquire of the next reader or writer in. */
	if (WEFT_LIKELY(l != NULL) &&
	    atomic_compare_exchange_strong_explicit(&l->state, &s, 0, memory_order_release,
						    memory_order_relaxed))
		return 0;
	return weft_rwlock_wrunlock_slow_(l);
}

#endif
