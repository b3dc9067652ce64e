/*
 * Spinlocks: test-and-test-and-set with exponential backoff, ticket, and MCS.
 *
 * A spinlock never sleeps in the kernel: a waiter burns CPU until the holder lets go. Use
 * one only for a few instructions of critical section that never block; otherwise use
 * weft_mutex (include/weft/mutex.h), which parks.
 *
 * Oversubscription (more runnable threads than CPUs) is where spinlocks go wrong, and weft
 * is meant to survive it: every spin loop here falls back to sched_yield() after a bounded
 * number of rounds, so a waiter never depends on another core to make progress (the holder
 * gets a CPU even under `taskset -c 0`). The yield keeps the locks live, not fast:
 *
 *   - TTAS: unfair. A waiter that yields may lose the lock again and again to threads that
 *     are running; no FIFO order, but no convoy either.
 *   - Ticket and MCS: FIFO. A preempted *waiter* stalls everyone queued behind it: the
 *     lock is handed to it and nobody else may take it until it runs again. Under
 *     oversubscription each handoff can cost a scheduler round trip (several context
 *     switches), so throughput collapses to the scheduler's rate. They are here as the
 *     fair, cache-friendly baselines for dedicated cores; prefer TTAS or weft_mutex when
 *     threads outnumber CPUs.
 *
 * Layout: the structs are caller-owned and small; padding against false sharing with
 * neighbouring data is the caller's business (put the lock on its own WEFT_PADDING line when
 * it is hot). Initialise with *_init() or the static *_INITIALIZER.
 *
 * Errors: every call returns 0 or an errno value: EINVAL for a NULL lock (or MCS node),
 * EBUSY from a trylock that would have to wait. Unlocking a lock the caller does not hold
 * is undefined.
 *
 * Ordering (all three): a successful lock or trylock is an acquire, an unlock a release;
 * everything a holder wrote before its unlock is visible to the next holder after its lock.
 *
 * Thread-safety: any thread may lock; only the holder may unlock. Fast paths are inline;
 * the waiting loops are in sync/spinlock.c.
 */
#ifndef WEFT_SPINLOCK_H
#define WEFT_SPINLOCK_H

#include <errno.h>
#include <stdatomic.h>
#include <weft/common.h>

/* ---------------------------------------------------------------------------------------
 * TTAS: test-and-test-and-set with bounded exponential backoff.
 * Waiters read the word (a shared cache line, no traffic while it is held) and only try
 * the exchange once it reads free; after each failed try they back off for a doubling
 * number of weft_cpu_relax() rounds, capped, and yield the CPU once they have waited long.
 * Unfair: the thread that just unlocked often takes the lock again.
 */
typedef struct weft_spin_ttas {
	_Atomic uint32_t locked; /* private: 0 free, 1 held */
} weft_spin_ttas;

#define WEFT_SPIN_TTAS_INITIALIZER { 0 }

/* Private: the waiting loop behind weft_spin_ttas_lock. */
WEFT_API void weft_spin_ttas_wait_(weft_spin_ttas *l);

/*
 * weft_spin_ttas_init - make l a free lock.
 * Returns: 0, EINVAL (l NULL). Thread-safety: not concurrently with any use of l.
 */
static inline int weft_spin_ttas_init(weft_spin_ttas *l)
{
	if (l == NULL)
		return EINVAL;
	atomic_init(&l->locked, 0);
	return 0;
}

/*
 * weft_spin_ttas_lock - take l, spinning (then yielding) until it is free.
 * Returns: 0, EINVAL (l NULL). Ordering: acquire. Blocking: spins and yields, never sleeps.
 */
static inline int weft_spin_ttas_lock(weft_spin_ttas *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Acquire: pairs with the release store in weft_spin_ttas_unlock. */
	if (WEFT_UNLIKELY(atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) != 0))
		weft_spin_ttas_wait_(l);
	return 0;
}

/*
 * weft_spin_ttas_trylock - take l only if it is free now.
 * Returns: 0 (taken), EBUSY (held by someone), EINVAL (l NULL). Ordering: acquire on 0.
 * Blocking: never.
 */
static inline int weft_spin_ttas_trylock(weft_spin_ttas *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* The relaxed read first keeps a busy lock's line shared instead of stealing it. */
	if (atomic_load_explicit(&l->locked, memory_order_relaxed) != 0)
		return EBUSY;
	/* Acquire: pairs with the release store in weft_spin_ttas_unlock. */
	return atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) == 0 ? 0 : EBUSY;
}

/*
 * weft_spin_ttas_unlock - release l, held by the caller.
 * Returns: 0, EINVAL (l NULL). Ordering: release. Blocking: never.
 */
static inline int weft_spin_ttas_unlock(weft_spin_ttas *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Release: pairs with the acquire exchange of the next holder. */
	atomic_store_explicit(&l->locked, 0, memory_order_release);
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * Ticket lock: a locker draws the next ticket (one fetch-and-add) and waits until the
 * "now serving" counter shows it; unlock advances the counter. FIFO, one shared line.
 * Waiters back off in proportion to their distance from the head of the line, and one
 * that is not next in line yields early: only the next waiter has a reason to watch closely.
 * Invariant: serving <= next (mod 2^32); the lock is free exactly when they are equal;
 * more than 2^32 - 1 simultaneous waiters would wrap (not a concern for threads).
 */
typedef struct weft_spin_ticket {
	_Atomic uint32_t next;    /* private: the ticket the next locker draws */
	_Atomic uint32_t serving; /* private: the ticket that holds the lock */
} weft_spin_ticket;

#define WEFT_SPIN_TICKET_INITIALIZER { 0, 0 }

/* Private: wait until ticket t is served. */
WEFT_API void weft_spin_ticket_wait_(weft_spin_ticket *l, uint32_t t);

/*
 * weft_spin_ticket_init - make l a free lock.
 * Returns: 0, EINVAL (l NULL). Thread-safety: not concurrently with any use of l.
 */
static inline int weft_spin_ticket_init(weft_spin_ticket *l)
{
	if (l == NULL)
		return EINVAL;
	atomic_init(&l->next, 0);
	atomic_init(&l->serving, 0);
	return 0;
}

/*
 * weft_spin_ticket_lock - take l in FIFO order, spinning (then yielding) until served.
 * Returns: 0, EINVAL (l NULL). Ordering: acquire. Blocking: spins and yields, never sleeps.
 * A preempted waiter stalls every later ticket (see the top of this file).
 */
static inline int weft_spin_ticket_lock(weft_spin_ticket *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Relaxed: drawing a ticket orders nothing; the acquire is the load of serving. */
	uint32_t t = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed);
	/* Acquire: pairs with the release increment in weft_spin_ticket_unlock. */
	if (WEFT_UNLIKELY(atomic_load_explicit(&l->serving, memory_order_acquire) != t))
		weft_spin_ticket_wait_(l, t);
	return 0;
}

/*
 * weft_spin_ticket_trylock - take l only if it is free and nobody is queued.
 * Returns: 0, EBUSY, EINVAL (l NULL). Ordering: acquire on 0. Blocking: never.
 */
static inline int weft_spin_ticket_trylock(weft_spin_ticket *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Acquire: pairs with the release increment in weft_spin_ticket_unlock, so a
	 * successful CAS below follows the previous holder's critical section. */
	uint32_t s = atomic_load_explicit(&l->serving, memory_order_acquire);
	/* Drawing ticket s succeeds only if next == s, and then serving is still s: serving
	 * only moves when a holder unlocks, and serving <= next leaves no room for it to have
	 * moved past s while next == s. So we hold the ticket being served: the lock. */
	if (atomic_compare_exchange_strong_explicit(&l->next, &s, s + 1, memory_order_relaxed,
						    memory_order_relaxed))
		return 0;
	return EBUSY;
}

/*
 * weft_spin_ticket_unlock - release l, held by the caller; the next ticket is served.
 * Returns: 0, EINVAL (l NULL). Ordering: release. Blocking: never.
 */
static inline int weft_spin_ticket_unlock(weft_spin_ticket *l)
{
	if (WEFT_UNLIKELY(l == NULL))
		return EINVAL;
	/* Only the holder writes serving, so a load and a store suffice (no RMW). */
	uint32_t s = atomic_load_explicit(&l->serving, memory_order_relaxed);
	/* Release: pairs with the acquire loads of serving in lock, trylock and the wait. */
	atomic_store_explicit(&l->serving, s + 1, memory_order_release);
	return 0;
}

/* ---------------------------------------------------------------------------------------
 * MCS queue lock (Mellor-Crummey and Scott, 1991): each waiter spins on its own node, so a
 * handoff touches one remote line instead of every waiter's. The caller passes a node it
 * owns, which must stay valid and untouched from lock (or successful trylock) to the
 * matching unlock; one node per lock held at a time (a thread holding two MCS locks at
 * once needs two nodes). Nodes may live on the stack.
 * Invariant: tail is NULL when the lock is free, else the last node in the queue; a node's
 * `locked` goes 1 -> 0 exactly once per acquisition, written by its predecessor.
 */
typedef struct weft_spin_mcs_node {
	struct weft_spin_mcs_node *_Atomic next; /* private */
	_Atomic uint32_t locked;                  /* private: 1 while waiting */
} weft_spin_mcs_node;

typedef struct weft_spin_mcs {
	weft_spin_mcs_node *_Atomic tail; /* private */
} weft_spin_mcs;

#define WEFT_SPIN_MCS_INITIALIZER { NULL }

/* Private: wait for the predecessor's handoff; wait for a successor to link itself. */
WEFT_API void weft_spin_mcs_wait_(weft_spin_mcs_node *me);
WEFT_API weft_spin_mcs_node *weft_spin_mcs_successor_(weft_spin_mcs_node *me);

/*
 * weft_spin_mcs_init - make l a free lock.
 * Returns: 0, EINVAL (l NULL). Thread-safety: not concurrently with any use of l.
 */
static inline int weft_spin_mcs_init(weft_spin_mcs *l)
{
	if (l == NULL)
		return EINVAL;
	atomic_init(&l->tail, NULL);
	return 0;
}

/*
 * weft_spin_mcs_lock - take l in FIFO order, using node me (owned by the caller until the
 * matching unlock). Returns: 0, EINVAL (l or me NULL). Ordering: acquire.
 * Blocking: spins on me and yields, never sleeps. A preempted waiter stalls every later one.
 */
static inline int weft_spin_mcs_lock(weft_spin_mcs *l, weft_spin_mcs_node *me)
{
	if (WEFT_UNLIKELY(l == NULL || me == NULL))
		return EINVAL;
	atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
	atomic_store_explicit(&me->locked, 1, memory_order_relaxed);
	/* Acq_rel: release publishes me's fields to the successor that reads tail (it then
	 * writes me->next); acquire pairs with the release CAS/exchange of the previous tail's
	 * owner so its node is ours to link to. */
	weft_spin_mcs_node *pred = atomic_exchange_explicit(&l->tail, me, memory_order_acq_rel);
	if (WEFT_LIKELY(pred == NULL))
		return 0;
	/* Release: pairs with the acquire loads of next in weft_spin_mcs_unlock and
	 * weft_spin_mcs_successor_, so the predecessor sees our initialised node (locked = 1)
	 * before it writes our locked flag. */
	atomic_store_explicit(&pred->next, me, memory_order_release);
	weft_spin_mcs_wait_(me);
	return 0;
}

/*
 * weft_spin_mcs_trylock - take l only if nobody holds or waits for it, with node me.
 * Returns: 0, EBUSY, EINVAL (l or me NULL). Ordering: acquire on 0. Blocking: never.
 */
static inline int weft_spin_mcs_trylock(weft_spin_mcs *l, weft_spin_mcs_node *me)
{
	if (WEFT_UNLIKELY(l == NULL || me == NULL))
		return EINVAL;
	if (atomic_load_explicit(&l->tail, memory_order_relaxed) != NULL)
		return EBUSY;
	atomic_store_explicit(&me->next, NULL, memory_order_relaxed);
	atomic_store_explicit(&me->locked, 1, memory_order_relaxed);
	weft_spin_mcs_node *expected = NULL;
	/* Acq_rel on success: acquire pairs with the last holder's release CAS of tail to
	 * NULL; release publishes me's fields to a successor. */
	if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, me, memory_order_acq_rel,
						    memory_order_relaxed))
		return 0;
	return EBUSY;
}

/*
 * weft_spin_mcs_unlock - release l, held by the caller through node me (the node passed to
 * the lock). After it returns, me may be reused or freed.
 * Returns: 0, EINVAL (l or me NULL). Ordering: release. Blocking: may spin (then yield)
 * briefly while a successor that has joined the queue finishes linking itself.
 */
static inline int weft_spin_mcs_unlock(weft_spin_mcs *l, weft_spin_mcs_node *me)
{
	if (WEFT_UNLIKELY(l == NULL || me == NULL))
		return EINVAL;
	/* Acquire: pairs with the release store of pred->next in weft_spin_mcs_lock. */
	weft_spin_mcs_node *next = atomic_load_explicit(&me->next, memory_order_acquire);
	if (next == NULL) {
		weft_spin_mcs_node *expected = me;
		/* Release: pairs with the acquire exchange/CAS of tail by the next locker. */
		if (atomic_compare_exchange_strong_explicit(&l->tail, &expected, NULL,
							    memory_order_release,
							    memory_order_relaxed))
			return 0;
		/* A successor swapped itself into tail but has not linked me->next yet. */
		next = weft_spin_mcs_successor_(me);
	}
	/* Release: pairs with the acquire load of locked in weft_spin_mcs_wait_; after this
	 * store the successor owns the lock and me is the caller's again. */
	atomic_store_explicit(&next->locked, 0, memory_order_release);
	return 0;
}

#endif
