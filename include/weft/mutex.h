/*
 * weft_mutex: a sleeping mutex whose lock takes a cancellation context.
 *
 * The state word has three values (Drepper, "Futexes Are Tricky", mutex 2): 0 unlocked,
 * 1 locked, 2 locked and maybe waiters. An uncontended lock is one CAS 0 -> 1 and an
 * uncontended unlock one exchange to 0, both inline. A contended locker spins briefly (a
 * bounded number of rounds with backoff, fewer when others already sleep on the lock: a
 * running holder lets go within a short section), then sets the word to 2 and parks on it through
 * weft_park() (include/weft/waiter.h), so a fiber parks instead of blocking its worker.
 * An unlock that finds 2 wakes one sleeper, after the exchange that released the lock, by
 * the word's address alone: an unlock touches m's memory only up to that exchange, so the
 * next holder may destroy or free m as soon as it has unlocked it (the pattern of a
 * reference-counted object whose last reference is dropped under its own lock).
 * Barging is allowed: a running thread may take the lock ahead of a sleeper that was woken
 * for it, which keeps the lock moving between running threads when threads outnumber CPUs.
 * Not fair, not recursive.
 *
 * Caller-owned and small (8 bytes: the state word and the holder's index); initialise with
 * WEFT_MUTEX_INITIALIZER or weft_mutex_init(). No allocation anywhere. A mutex may be
 * destroyed (or its memory reused) once it is unlocked and no thread will touch it again;
 * the thread that unlocked it last may do so at once (see above).
 *
 * Misuse: unlocking a mutex the caller does not hold is undefined. Code compiled with
 * WEFT_DEBUG_CHECKS defined (a build configured with -DWEFT_DEBUG_CHECKS=ON defines it for
 * weft and its tests) checks it: the mutex records its holder's weft_thread_index(), and such an
 * unlock prints what happened and aborts. The library's slow path always records the
 * holder, so debug-checked code works against a release build of weft; but code that takes
 * a mutex on the inline fast path without the checks leaves the record stale, so define
 * WEFT_DEBUG_CHECKS alike in all the code that unlocks a given mutex or in none of it.
 * (A holder that exits without unlocking may pass its index on to a new thread, which then
 * passes the check: it is a debugging aid, not a guarantee.)
 */
#ifndef WEFT_MUTEX_H
#define WEFT_MUTEX_H

#include <errno.h>
#include <stdatomic.h>
#include <weft/common.h>
#include <weft/thread.h>
#include <weft/waiter.h>

typedef struct weft_ctx weft_ctx;

typedef struct weft_mutex {
	_Atomic uint32_t state; /* private: 0 unlocked, 1 locked, 2 locked, maybe waiters */
	/* private: the holder's weft_thread_index() + 1, 0 if unknown; written by the
	 * library's slow path always and by the inline fast paths under WEFT_DEBUG_CHECKS. */
	_Atomic uint32_t owner;
} weft_mutex;

#define WEFT_MUTEX_INITIALIZER { 0, 0 }

/* Private: the library side of the inline calls below. */
WEFT_API int weft_mutex_lock_slow_(weft_mutex *m, weft_ctx *ctx);
WEFT_API void weft_mutex_wake_(weft_mutex *m);
WEFT_API _Noreturn void weft_mutex_misuse_(const weft_mutex *m, const char *what);

/* Private: the holder's identity as the owner field stores it (0: unknown). Inside the
 * runtime it is the task's fiber, so a task that blocks while holding the mutex and
 * resumes on another worker still owns it (weft_exec_id, include/weft/waiter.h). */
static inline uint32_t weft_mutex_self_(void)
{
	return weft_exec_id();
}

#if defined(WEFT_DEBUG_CHECKS)
static inline void weft_mutex_debug_acquired_(weft_mutex *m)
{
	/* Relaxed: only the holder writes it; the lock's acquire orders it after the last
	 * holder's clear. */
	atomic_store_explicit(&m->owner, weft_mutex_self_(), memory_order_relaxed);
}

static inline void weft_mutex_debug_release_(weft_mutex *m)
{
	uint32_t self = weft_mutex_self_();
	uint32_t owner = atomic_load_explicit(&m->owner, memory_order_relaxed);
	if (atomic_load_explicit(&m->state, memory_order_relaxed) == 0)
		weft_mutex_misuse_(m, "unlock of a mutex that is not locked");
	if (self != 0 && owner != 0 && owner != self)
		weft_mutex_misuse_(m, "unlock of a mutex held by another thread");
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
}
#else
static inline void weft_mutex_debug_acquired_(weft_mutex *m)
{
	(void)m;
}

static inline void weft_mutex_debug_release_(weft_mutex *m)
{
	(void)m;
}
#endif

/*
 * weft_mutex_init - make m an unlocked mutex (same as WEFT_MUTEX_INITIALIZER).
 * Returns: 0, EINVAL (m NULL). Thread-safety: not concurrently with any other use of m.
 */
WEFT_API int weft_mutex_init(weft_mutex *m);

/*
 * weft_mutex_destroy - check that m may be thrown away. Nothing is freed (nothing was
 * allocated); m may be re-initialised afterwards.
 * Returns: 0, EBUSY (m is locked), EINVAL (m NULL).
 * Thread-safety: not concurrently with any other use of m.
 */
WEFT_API int weft_mutex_destroy(weft_mutex *m);

/*
 * weft_mutex_lock - lock m, waiting as long as it takes or until ctx is done.
 * If ctx is already done the call fails at once without taking m, even when m is free, so
 * the outcome does not depend on a race for the lock.
 * Returns: 0 (the caller holds m), ECANCELED (ctx or an ancestor was cancelled), ETIMEDOUT
 *   (ctx's effective deadline passed), EINVAL (m NULL). On an error m is not held and no
 *   wake-up meant for another waiter is lost.
 * Ordering: acquire: everything the previous holder wrote before its unlock is visible.
 * Thread-safety: any thread; not recursive (locking m again while holding it deadlocks, or
 *   ends with ctx). Blocking: spins briefly, then parks through weft_park (a fiber inside
 *   the runtime). Cancellation: ctx; a cancel wakes a parked caller at once.
 */
static inline int weft_mutex_lock(weft_mutex *m, weft_ctx *ctx)
{
	uint32_t unlocked = 0;
	/* Acquire: pairs with the release exchange in weft_mutex_unlock. */
	if (WEFT_LIKELY(m != NULL && ctx == NULL) &&
	    WEFT_LIKELY(atomic_compare_exchange_strong_explicit(&m->state, &unlocked, 1,
								memory_order_acquire,
								memory_order_relaxed))) {
		weft_mutex_debug_acquired_(m);
		return 0;
	}
	return weft_mutex_lock_slow_(m, ctx);
}

/*
 * weft_mutex_trylock - lock m only if it is unlocked now.
 * Returns: 0 (held), EBUSY (locked by someone, possibly the caller), EINVAL (m NULL).
 * Ordering: acquire on 0. Blocking: never.
 */
static inline int weft_mutex_trylock(weft_mutex *m)
{
	if (WEFT_UNLIKELY(m == NULL))
		return EINVAL;
	uint32_t unlocked = 0;
	/* Acquire: pairs with the release exchange in weft_mutex_unlock. */
	if (atomic_compare_exchange_strong_explicit(&m->state, &unlocked, 1, memory_order_acquire,
						    memory_order_relaxed)) {
		weft_mutex_debug_acquired_(m);
		return 0;
	}
	return EBUSY;
}

/*
 * weft_mutex_unlock - unlock m, held by the caller, and wake one waiter if any sleeps.
 * Returns: 0, EINVAL (m NULL). Unlocking a mutex the caller does not hold is undefined
 *   (an abort under WEFT_DEBUG_CHECKS, see the top of this file).
 * Ordering: release; pairs with the acquire of the next lock.
 * Thread-safety: the holder only. Blocking: never sleeps (a wake takes a parking-lot
 *   bucket lock briefly).
 */
static inline int weft_mutex_unlock(weft_mutex *m)
{
	if (WEFT_UNLIKELY(m == NULL))
		return EINVAL;
	weft_mutex_debug_release_(m);
	/* Release: pairs with the acquire CAS/exchange of the next holder. */
	if (WEFT_UNLIKELY(atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2))
		weft_mutex_wake_(m);
	return 0;
}

#endif
