/*
 * weft_mpmc: a bounded lock-free multi-producer multi-consumer FIFO ring with a sequence
 * number per slot (Dmitry Vyukov's bounded MPMC queue). The `mpmc` kind of weft_queue;
 * this header is its direct API, with the push and pop fast paths inline.
 *
 * Capacity: rounded up to a power of two, at least 2 (weft_mpmc_capacity says how many it
 * holds).
 * Order: FIFO for items of one producer, as seen by any one consumer (positions are
 * handed out in order; see the invariants in queues/mpmc.c).
 *
 * Progress: a push or pop claims a position with one CAS and never waits for another
 * thread. A thread preempted between claiming a position and finishing with its slot
 * holds up only that slot: a pop that reaches it returns EAGAIN (as if empty) and a push
 * that laps round to it returns EAGAIN (as if full), and the caller decides whether to
 * retry, yield or park. Nothing in here spins on another thread's slot.
 *
 *                 push     pop     create/destroy
 *   push          -        -       X
 *   pop           -        -       X
 * (X: the caller must exclude the pair; -: safe concurrently, any number of threads)
 */
#ifndef WEFT_MPMC_H
#define WEFT_MPMC_H

#include <errno.h>
#include <stdatomic.h>

#include <weft/common.h>

typedef struct weft_mpmc_cell {
	_Atomic size_t seq; /* pos: free for the push at pos; pos+1: holds the item of pos */
	void *item;
} weft_mpmc_cell;

/* Private: where the cells are (read-only after create). */
typedef struct weft_mpmc_geom {
	weft_mpmc_cell *cells; /* slots cells, 64-byte aligned */
	size_t mask;           /* slots - 1 */
} weft_mpmc_geom;

typedef struct weft_mpmc {
	weft_mpmc_geom g; /* private, read-only after create */
	/* private: producers' and consumers' positions, each on its own line */
	_Alignas(WEFT_PADDING) _Atomic size_t tail;
	_Alignas(WEFT_PADDING) _Atomic size_t head;
} weft_mpmc;

/*
 * The cell of position pos: cells in position order, four 16-byte cells to a 64-byte line,
 * so a batch of k positions touches about k / 4 lines and each line crosses between a
 * producer's and a consumer's core once per four items.
 *
 * History: weft once spread consecutive positions over all lines (position i in line
 * i % lines), so that a consumer a few positions behind a producer never shared its line.
 * That cost every item its own line: a batch of 64 touched 64 lines, every one of them
 * last written by the other side's core. Side by side on a shared 2-core machine
 * (weft-bench queue, capacity 65536, P=C=1 pinned, three alternating pairs) mpmc_b64 ran
 * at 43-44 Mops/s spread against 145-154 in this layout, sharded_b64 at 52-59 against
 * 162-166; the single-item rows lost nothing (capacity 1024, P=C=1..8, four alternating
 * pairs: mpmc 30.5-35.0 spread, 33.7-36.5 here; sharded 31.0-32.5, 37.9-40.4). A third
 * layout, positions p and p + 4 in one line, did halve single-item sharded throughput:
 * there a consumer 4 to 12 positions behind shared its line.
 */
static inline weft_mpmc_cell *weft_mpmc_cell_at_(const weft_mpmc_geom *g, size_t pos)
{
	return &g->cells[pos & g->mask];
}

static inline weft_mpmc_cell *weft_mpmc_cell_(const weft_mpmc *q, size_t pos)
{
	return weft_mpmc_cell_at_(&q->g, pos);
}

/*
 * weft_mpmc_create - a ring holding at least capacity items (a power of two).
 * Returns: 0, EINVAL (q NULL, capacity 0 or above 2^40), ENOMEM. Allocates: the ring.
 */
WEFT_API int weft_mpmc_create(weft_mpmc **q, size_t capacity);

/* weft_mpmc_destroy - free q (NULL ignored); items still inside are the caller's. */
WEFT_API void weft_mpmc_destroy(weft_mpmc *q);

/* weft_mpmc_capacity - how many items q holds. */
WEFT_API size_t weft_mpmc_capacity(const weft_mpmc *q);

/*
 * weft_mpmc_push - append item (any value, NULL included).
 * Returns: 0, or EAGAIN when full (or the slot is still being emptied by a preempted pop).
 * Thread-safety: any thread. Ordering: release; pairs with the acquire in weft_mpmc_pop.
 * Blocking: never; lock-free (one CAS per attempt, retried only when another push won).
 */
static inline int weft_mpmc_push(weft_mpmc *q, void *item)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		weft_mpmc_cell *c = weft_mpmc_cell_(q, pos);
		/* Acquire: pairs with the release store in weft_mpmc_pop that freed the slot, so
		 * its read of the old item happens before our write below. */
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)(seq - pos);
		if (diff == 0) {
			/* Relaxed: the CAS only hands out the position; the slot's seq publishes. */
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				c->item = item;
				/* Release: pairs with the acquire load in weft_mpmc_pop. */
				atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
				return 0;
			}
		} else if (diff < 0) {
			return EAGAIN; /* the slot of the previous lap is not yet emptied */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

/*
 * weft_mpmc_pop - take the oldest item into *item.
 * Returns: 0, or EAGAIN when empty (or the next item's push is still in progress).
 * Thread-safety: any thread. Ordering: acquire; pairs with the release in weft_mpmc_push.
 * Blocking: never; lock-free.
 */
static inline int weft_mpmc_pop(weft_mpmc *q, void **item)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		weft_mpmc_cell *c = weft_mpmc_cell_(q, pos);
		/* Acquire: pairs with the release store in weft_mpmc_push that filled the slot. */
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)(seq - (pos + 1));
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				*item = c->item;
				/* Release: pairs with the acquire load in weft_mpmc_push of the next
				 * lap: our read of the item happens before its overwrite. */
				atomic_store_explicit(&c->seq, pos + q->g.mask + 1,
						      memory_order_release);
				return 0;
			}
		} else if (diff < 0) {
			return EAGAIN; /* empty, or the push of pos has not published yet */
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}

#endif
