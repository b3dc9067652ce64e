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
	/* Set by a thief that found no public item (weft_deque_want_ ), cleared by the owner
	 * when it publishes its private items. A hint: relaxed both ways. */
	_Atomic bool want;
	/* Written only by the owner; read by thieves: the end of the public region. */
	_Alignas(WEFT_PADDING) _Atomic int64_t bottom;
	/* Replaced only by the owner when it grows; read by thieves. */
	_Alignas(WEFT_PADDING) _Atomic(deque_array *) array;
	deque_array *retired; /* owner-private: arrays replaced by growth */
	/* Owner-private: the end of the private region [bottom, pbot), see below. */
	_Alignas(WEFT_PADDING) int64_t pbot;
};

/*
 * The split deque (as in Lace, van Dijk and van de Pol, Euro-Par 2014), for the runtime's
 * own deques: slots [top, bottom) are public, the Chase-Lev deque thieves see; slots
 * [bottom, pbot) are private to the owner, which pushes and pops there with no atomic
 * read-modify-write and no fence. Thieves never read past bottom, so a private slot is
 * touched by the owner only. The owner publishes its private slots (one release store of
 * bottom = pbot, as if it had pushed them one by one) when a push finds the public region
 * empty or a thief asked for work (`want`), and before its thread sleeps (the runtime's
 * thread parker). A pop takes a private item first; only when none is left does it run
 * Chase-Lev's pop on the public region, fence included.
 * The public API (weft_deque_push/pop) publishes every push, so pbot == bottom there.
 */

/* Owner only: push item (non-NULL) in the private region, publishing the private region
 * when `publish`, when the public region looks empty or when a thief asked; false when the
 * array is full (then call weft_deque_push_grow_, which grows it). */
static inline bool deque_push_fast(weft_deque *d, void *item, bool publish)
{
	int64_t p = d->pbot;
	/* acquire: pairs with the thieves' CAS on top, so their reads of slots below top happen
	 * before we overwrite those slots (after wrap-around) */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	/* relaxed: only the owner writes array */
	deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
	if (__builtin_expect(p - t > a->mask, 0))
		return false;
	/* relaxed: published by a release store of bottom (below, or later) */
	atomic_store_explicit(&a->slots[p & a->mask], item, memory_order_relaxed);
	d->pbot = p + 1;
	/* relaxed: a hint (a missed request costs parallelism only, see above) */
	bool want = atomic_load_explicit(&d->want, memory_order_relaxed);
	/* relaxed: only the owner writes bottom (read only when publish does not decide) */
	if (publish || want || t >= atomic_load_explicit(&d->bottom, memory_order_relaxed)) {
		/* Cleared only when set: want shares top's line, which thieves CAS; a store on
		 * every publishing push would pull that line away from them each time. */
		if (want)
			atomic_store_explicit(&d->want, false, memory_order_relaxed);
		/* release: pairs with the acquire load of bottom in steal: a thief that sees
		 * p + 1 sees the slots and everything the owner wrote before pushing (the
		 * paper's release fence) */
		atomic_store_explicit(&d->bottom, p + 1, memory_order_release);
	}
	return true;
}

/* Owner only: publish the private region; true when it held items. */
static inline bool deque_publish(weft_deque *d)
{
	/* relaxed: only the owner writes bottom */
	if (d->pbot == atomic_load_explicit(&d->bottom, memory_order_relaxed))
		return false;
	/* release: as in deque_push_fast */
	atomic_store_explicit(&d->bottom, d->pbot, memory_order_release);
	return true;
}

/* A thief found no public item: ask the owner to publish (relaxed: a hint; the look first
 * keeps idle thieves from bouncing the line). */
static inline void weft_deque_want_(weft_deque *d)
{
	if (!atomic_load_explicit(&d->want, memory_order_relaxed))
		atomic_store_explicit(&d->want, true, memory_order_relaxed);
}

/* Owner only: weft_deque_push's slow path (grows the array); 0 or ENOMEM. */
int weft_deque_push_grow_(weft_deque *d, void *item, bool publish);

/* Owner only: Chase-Lev's pop on the public region (no private items left). */
static inline void *deque_pop_public(weft_deque *d)
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

/* Owner only: the newest item, private first; NULL when empty (or a thief won the last). */
static inline void *deque_pop_fast(weft_deque *d)
{
	int64_t p = d->pbot;
	/* relaxed: only the owner writes bottom and array */
	if (p > atomic_load_explicit(&d->bottom, memory_order_relaxed)) {
		deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
		d->pbot = p - 1;
		/* relaxed: a private slot, written by the owner only */
		return atomic_load_explicit(&a->slots[(p - 1) & a->mask], memory_order_relaxed);
	}
	void *x = deque_pop_public(d);
	d->pbot = atomic_load_explicit(&d->bottom, memory_order_relaxed); /* relaxed: ours */
	return x;
}

#endif
