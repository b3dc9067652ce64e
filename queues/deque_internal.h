/* Private: the Chase-Lev deque's layout and its owner operations, inline for the runtime's
 * fork/join fast path (runtime/task.c). deque.c explains the algorithm and the orders. */
#ifndef WEFT_QUEUES_DEQUE_INTERNAL_H
#define WEFT_QUEUES_DEQUE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/deque.h>

typedef struct deque_array {
	int64_t mask;		   /* capacity - 1; capacity a power of two */
	struct deque_array *older; /* retired list (owner-private), newest first */
	_Atomic(void *) slots[];   /* atomic: a thief may read a slot the owner writes */
} deque_array;

struct weft_deque {
	/* Thieves CAS top; the owner reads it on each push and pop. */
	_Alignas(WEFT_PADDING) _Atomic int64_t top;
	/* Written only by the owner; read by thieves. */
	_Alignas(WEFT_PADDING) _Atomic int64_t bottom;
	/* Replaced only by the owner when it grows; read by thieves. */
	_Alignas(WEFT_PADDING) _Atomic(deque_array *) array;
	deque_array *retired; /* owner-private: arrays replaced by growth */
};

/* Owner only: push item (non-NULL) unless the array is full (then false: call
 * weft_deque_push_grow_, which grows it). */
static inline bool deque_push_fast(weft_deque *d, void *item)
{
	/* relaxed: only the owner writes bottom */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	/* acquire: pairs with the thieves' CAS on top, so their reads of slots below top happen
	 * before we overwrite those slots (after wrap-around) */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	/* relaxed: only the owner writes array */
	deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
	if (__builtin_expect(b - t > a->mask, 0))
		return false;
	/* relaxed: published by the release store of bottom below */
	atomic_store_explicit(&a->slots[b & a->mask], item, memory_order_relaxed);
	/* release: pairs with the acquire load of bottom in steal: a thief that sees b + 1 sees
	 * the slot and everything the owner wrote before pushing (the paper's release fence) */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	return true;
}

/* Owner only: weft_deque_push's slow path (grows the array); 0 or ENOMEM. */
int weft_deque_push_grow_(weft_deque *d, void *item);

/* Owner only: weft_deque_pop. */
static inline void *deque_pop_fast(weft_deque *d)
{
	/* relaxed: only the owner writes bottom and array */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
	/* release: a thief that reads this value synchronises with everything the owner did
	 * before (pairs with the acquire load of bottom in steal; see the file comment). Its
	 * ordering against our load of top comes from the seq_cst fence below. */
	atomic_store_explicit(&d->bottom, b, memory_order_release);
	/* seq_cst: the store of bottom must be visible before we read top, against the thief's
	 * seq_cst fence between its load of top and its load of bottom; otherwise the owner and
	 * a thief could both take the last item (store->load ordering needs a full fence) */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: ordered by the fence above */
	int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
	if (t > b) { /* empty: signed compare, b may be -1 */
		/* release: as the store above; restores bottom == top */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
		return NULL;
	}
	/* relaxed: the owner wrote this slot itself */
	void *x = atomic_load_explicit(&a->slots[b & a->mask], memory_order_relaxed);
	if (t == b) {
		/* The last item: race the thieves for it by moving top, as a thief would.
		 * seq_cst: totally ordered with the thieves' CAS on top; failure relaxed: we only
		 * learn that a thief won */
		if (!atomic_compare_exchange_strong_explicit(
			&d->top, &t, t + 1, memory_order_seq_cst, memory_order_relaxed))
			x = NULL;
		/* release: as the first store; top is now b + 1 either way, so this restores
		 * bottom == top (empty) */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	}
	return x;
}

#endif
