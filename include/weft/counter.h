/*
 * Counters: a plain atomic counter and a sharded counter.
 *
 * weft_counter is one atomic word: add is a relaxed fetch-and-add, read a relaxed load.
 * Every add from every thread hits the same cache line, so it stops scaling at two cores.
 *
 * weft_shard_counter gives each thread its own slot, indexed by weft_thread_index() (dense,
 * reused when threads exit) and padded to WEFT_PADDING so that no two slots share a line.
 * An add is a relaxed load and a relaxed store to the caller's own slot: no read-modify-
 * write, no shared line. Only the slot's owner writes it, so the load+store pair cannot
 * lose an update; readers only load. A thread whose index is at or beyond the slot count
 * (or that has no index, WEFT_THREAD_INDEX_NONE) adds to a shared overflow slot with an
 * atomic fetch-and-add instead. When a thread exits, its index and slot pass to the next
 * thread that takes the index; weft_thread_index() promises that the old holder's writes
 * happen-before the new holder's, so the new holder's load+store continues from the old
 * total and nothing is lost.
 *
 * Read semantics of weft_shard_counter_read: the sum of one relaxed snapshot of each slot,
 * taken one after another, so it is not a linearizable snapshot of the whole counter:
 *   - exact once every add happens-before the read (writers joined, or synchronised with
 *     the reader by a lock, a release/acquire pair, a weft_wg, ...): each such add is in
 *     its slot's value the reader sees (read-after-write coherence);
 *   - adds concurrent with the read may or may not be counted, each independently;
 *   - with non-negative adds only, reads are monotone: a read that happens-after another
 *     read returns at least as much (each slot's value only grows, and coherence forbids a
 *     later read of a slot from seeing an older value), and a read is never below the sum
 *     of the adds that happen-before it;
 *   - with mixed-sign adds a concurrent read can return a value the counter never held
 *     at any instant.
 * The cost of a read is one load per slot (weft_shard_counter_slots() of them).
 */
#ifndef WEFT_COUNTER_H
#define WEFT_COUNTER_H

#include <stdatomic.h>
#include <weft/common.h>
#include <weft/thread.h>

/* ---- weft_counter: one shared atomic ---- */

typedef struct weft_counter {
	_Atomic int64_t value; /* private: use the functions below */
} weft_counter;

#define WEFT_COUNTER_INIT { 0 }

/* weft_counter_init - set c to value. Not thread-safe against concurrent use of c. */
static inline void weft_counter_init(weft_counter *c, int64_t value)
{
	atomic_init(&c->value, value);
}

/*
 * weft_counter_add - add n (wrapping on overflow, as two's complement).
 * Thread-safety: any thread. Ordering: relaxed (a count, not a synchronisation point).
 */
static inline void weft_counter_add(weft_counter *c, int64_t n)
{
	atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

/*
 * weft_counter_read - the current value. Exact for every add that happens-before the
 * read. Thread-safety: any thread. Ordering: relaxed.
 */
static inline int64_t weft_counter_read(const weft_counter *c)
{
	return atomic_load_explicit((_Atomic int64_t *)&c->value, memory_order_relaxed);
}

/* ---- weft_shard_counter: per-thread slots ---- */

/* One slot per line pair: no two threads' slots interfere (see WEFT_PADDING). */
typedef struct weft_shard_slot_ {
	_Alignas(WEFT_PADDING) _Atomic int64_t value;
} weft_shard_slot_;

/* Opaque in spirit: the fields are here only for the inline add. Do not touch them. */
typedef struct weft_shard_counter {
	/* private, read-only after create: read by every add, never written, so it can
	 * share its line with nothing that is written. */
	_Alignas(WEFT_PADDING) uint32_t nslots;
	/* private: the shared slot for threads beyond nslots; on its own line. */
	_Alignas(WEFT_PADDING) _Atomic int64_t overflow;
	weft_shard_slot_ slots[];
} weft_shard_counter;

/*
 * weft_shard_counter_create - a new sharded counter at 0, with one slot per thread index
 * up to a slot count chosen from the CPU count (at least 64, at most 1024; see
 * weft_shard_counter_slots). Allocates one block of (slots + 2) * WEFT_PADDING bytes
 * through weft_allocator.
 * Returns: 0, EINVAL (c NULL), ENOMEM (nothing allocated; *c untouched).
 * Thread-safety: any thread.
 */
WEFT_API int weft_shard_counter_create(weft_shard_counter **c);

/*
 * weft_shard_counter_destroy - free c. NULL is ignored. No add or read may run
 * concurrently or later.
 */
WEFT_API void weft_shard_counter_destroy(weft_shard_counter *c);

/* Slow path of weft_shard_counter_add: index not yet assigned, or beyond the slots. */
WEFT_API void weft_shard_counter_add_slow_(weft_shard_counter *c, int64_t n);

/*
 * weft_shard_counter_add - add n to the calling thread's slot (wrapping on overflow).
 * Cost: a thread-local load, a bounds check, a relaxed load and a relaxed store to a line
 * no other thread writes (no call, no stack frame: the slow path is a tail call). Threads
 * beyond the slot count take an atomic fetch-and-add on the shared overflow slot.
 * Thread-safety: any thread; c must be a live counter (not checked).
 * Ordering: relaxed; see the read semantics at the top of this header.
 */
static inline void weft_shard_counter_add(weft_shard_counter *c, int64_t n)
{
	/* weft_thread_index() inlined by hand: a thread without an index yet has 0 here,
	 * which wraps to UINT32_MAX and fails the bounds check, so one compare covers both
	 * slow cases and the fast path needs no call (and so no stack frame). */
	uint32_t i = weft_thread_index_plus1_ - 1u;
	if (WEFT_LIKELY(i < c->nslots)) {
		_Atomic int64_t *v = &c->slots[i].value;
		/* Relaxed load + store: only this thread writes this slot (its index is unique
		 * among live threads; a previous holder's writes happen-before, thread.h). */
		int64_t old = atomic_load_explicit(v, memory_order_relaxed);
		atomic_store_explicit(v, (int64_t)((uint64_t)old + (uint64_t)n),
				      memory_order_relaxed);
		return;
	}
	weft_shard_counter_add_slow_(c, n);
}

/*
 * weft_shard_counter_read - the sum of all slots and the overflow slot: exact once every
 * add happens-before the read; monotone for non-negative adds (semantics at the top).
 * Cost: one relaxed load per slot. Thread-safety: any thread. Non-blocking.
 */
WEFT_API int64_t weft_shard_counter_read(const weft_shard_counter *c);

/* weft_shard_counter_slots - the number of per-thread slots of c. */
WEFT_API uint32_t weft_shard_counter_slots(const weft_shard_counter *c);

#endif
