/*
 * weft_spsc: a bounded single-producer single-consumer FIFO ring. The `spsc` kind of
 * weft_queue; this header is its direct API, with push and pop inline.
 *
 * Each side keeps its own index on its own cache line next to a cached copy of the other
 * side's index, and re-reads the other side's line only when the cached copy says full
 * (producer) or empty (consumer): in a steady stream each side touches the shared index
 * lines about once per lap instead of once per item.
 *
 * Capacity: rounded up to a power of two. Order: FIFO. Wait-free on both sides.
 *
 *                 push     pop     create/destroy
 *   push          X        -       X
 *   pop           -        X       X
 * (X: the caller must exclude the pair, i.e. one producer and one consumer at a time)
 */
#ifndef WEFT_SPSC_H
#define WEFT_SPSC_H

#include <errno.h>
#include <stdatomic.h>

#include <weft/common.h>

typedef struct weft_spsc {
	/* private, read-only after create */
	void **slots;
	size_t mask;
	/* private, the producer's line */
	_Alignas(WEFT_PADDING) _Atomic size_t tail; /* next position to fill */
	size_t head_cache; /* the consumer's head, as last read */
	/* private, the consumer's line */
	_Alignas(WEFT_PADDING) _Atomic size_t head; /* next position to empty */
	size_t tail_cache; /* the producer's tail, as last read */
} weft_spsc;

/*
 * weft_spsc_create - a ring holding at least capacity items (a power of two).
 * Returns: 0, EINVAL (q NULL, capacity 0 or above 2^40), ENOMEM. Allocates: the ring.
 */
WEFT_API int weft_spsc_create(weft_spsc **q, size_t capacity);

/* weft_spsc_destroy - free q (NULL ignored); items still inside are the caller's. */
WEFT_API void weft_spsc_destroy(weft_spsc *q);

/* weft_spsc_capacity - how many items q holds (NULL: 0). */
WEFT_API size_t weft_spsc_capacity(const weft_spsc *q);

/*
 * weft_spsc_push - append item (any value). Returns: 0, EAGAIN when full, EINVAL (q NULL).
 * Thread-safety: the one producer. Ordering: release; pairs with the acquire in pop.
 */
static inline int weft_spsc_push(weft_spsc *q, void *item)
{
	if (WEFT_UNLIKELY(q == NULL))
		return EINVAL;
	size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* our own index */
	if (WEFT_UNLIKELY(t - q->head_cache > q->mask)) {
		/* Acquire: pairs with the release store of head in weft_spsc_pop: the
		 * consumer's read of the slot we are about to reuse happened before. */
		q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
		if (t - q->head_cache > q->mask)
			return EAGAIN;
	}
	q->slots[t & q->mask] = item;
	/* Release: pairs with the acquire load of tail in weft_spsc_pop. */
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return 0;
}

/*
 * weft_spsc_pop - take the oldest item. Returns: 0, EAGAIN when empty, EINVAL (q or item
 * NULL). Thread-safety: the one consumer. Ordering: acquire; pairs with the release in push.
 */
static inline int weft_spsc_pop(weft_spsc *q, void **item)
{
	if (WEFT_UNLIKELY(q == NULL || item == NULL))
		return EINVAL;
	size_t h = atomic_load_explicit(&q->head, memory_order_relaxed); /* our own index */
	if (WEFT_UNLIKELY(h == q->tail_cache)) {
		/* Acquire: pairs with the release store of tail in weft_spsc_push. */
		q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (h == q->tail_cache)
			return EAGAIN;
	}
	*item = q->slots[h & q->mask];
	/* Release: pairs with the acquire load of head in weft_spsc_push. */
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return 0;
}

#endif
