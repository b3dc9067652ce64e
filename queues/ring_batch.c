/*
 * Batch operations on the rings: one reservation for k slots instead of k.
 *
 * mpmc (Vyukov's ring, invariants in queues/mpmc.c; cells found through weft_mpmc_cell_,
 * never by indexing): a batch push reads tail = pos, counts
 * the k <= n consecutive cells pos, pos+1, ... whose seq says "free for position pos+j"
 * (seq == pos + j), then claims all k with one CAS of tail from pos to pos + k. The CAS
 * succeeding means no other push claimed any of those positions, and a cell seen free for
 * position pos+j stays free until that position's owner (us) fills it, so the k cells are
 * ours; each is then filled and published with its own release store of seq, exactly as a
 * single push does. A batch pop is the mirror image on head (cells with seq == pos + j + 1,
 * freed with seq = pos + j + size). The k items keep their order: FIFO per producer holds
 * as for single pushes. When a CAS fails the count is redone from the new position; a
 * batch that finds the first cell busy returns what it has moved so far (EAGAIN if none),
 * as a single push or pop does: it never waits on a preempted peer.
 *
 * spsc: the one producer (consumer) writes k slots and publishes them with one release
 * store of tail (head).
 */
#include <errno.h>

#include "ring_batch.h"

/* Cells at positions pos.. that are ready (seq == pos + j + off), at most n. */
static size_t mpmc_run(weft_mpmc *q, size_t pos, size_t n, size_t off)
{
	size_t k = 0;
	while (k < n && k <= q->mask) {
		weft_mpmc_cell *c = weft_mpmc_cell_(q, pos + k);
		/* Acquire: pairs with the release store of seq by the pop (for a push) or push
		 * (for a pop) that last handed this cell over, as in the single operations. */
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (seq != pos + k + off)
			break;
		k++;
	}
	return k;
}

/* One reservation of up to n positions on *end (tail or head). Returns k (0: none ready). */
static size_t mpmc_reserve(weft_mpmc *q, _Atomic size_t *end, size_t n, size_t off,
			   size_t *first)
{
	size_t pos = atomic_load_explicit(end, memory_order_relaxed);
	for (;;) {
		size_t k = mpmc_run(q, pos, n, off);
		if (k == 0) {
			/* As the single ops: a cell of an older position means full (empty) or a
			 * peer in progress; one of a newer position means we are behind. */
			weft_mpmc_cell *c = weft_mpmc_cell_(q, pos);
			size_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
			if ((intptr_t)(seq - (pos + off)) < 0)
				return 0;
			pos = atomic_load_explicit(end, memory_order_relaxed);
			continue;
		}
		/* Relaxed: the CAS only hands out positions; each cell's seq publishes. */
		if (atomic_compare_exchange_weak_explicit(end, &pos, pos + k, memory_order_relaxed,
							  memory_order_relaxed)) {
			*first = pos;
			return k;
		}
	}
}

int weft_mpmc_push_n_(weft_mpmc *q, void *const *items, size_t n, size_t *moved)
{
	size_t done = 0;
	while (done < n) {
		size_t pos;
		size_t k = mpmc_reserve(q, &q->tail, n - done, 0, &pos);
		if (k == 0)
			break;
		for (size_t j = 0; j < k; j++) {
			weft_mpmc_cell *c = weft_mpmc_cell_(q, pos + j);
			c->item = items[done + j];
			/* Release: pairs with the acquire load in weft_mpmc_pop / mpmc_run. */
			atomic_store_explicit(&c->seq, pos + j + 1, memory_order_release);
		}
		done += k;
	}
	*moved = done;
	return done > 0 ? 0 : EAGAIN;
}

int weft_mpmc_pop_n_(weft_mpmc *q, void **items, size_t n, size_t *moved)
{
	size_t done = 0;
	while (done < n) {
		size_t pos;
		size_t k = mpmc_reserve(q, &q->head, n - done, 1, &pos);
		if (k == 0)
			break;
		for (size_t j = 0; j < k; j++) {
			weft_mpmc_cell *c = weft_mpmc_cell_(q, pos + j);
			items[done + j] = c->item;
			/* Release: pairs with the acquire load of the next lap's push: our read
			 * of the item happens before its overwrite. */
			atomic_store_explicit(&c->seq, pos + j + q->mask + 1, memory_order_release);
		}
		done += k;
	}
	*moved = done;
	return done > 0 ? 0 : EAGAIN;
}

int weft_spsc_push_n_(weft_spsc *q, void *const *items, size_t n, size_t *moved)
{
	size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* our own index */
	size_t room = q->mask + 1 - (t - q->head_cache);
	if (room < n) {
		/* Acquire: pairs with the release store of head in weft_spsc_pop(_n_). */
		q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
		room = q->mask + 1 - (t - q->head_cache);
	}
	size_t k = room < n ? room : n;
	for (size_t j = 0; j < k; j++)
		q->slots[(t + j) & q->mask] = items[j];
	if (k > 0) /* Release: pairs with the acquire load of tail in weft_spsc_pop(_n_). */
		atomic_store_explicit(&q->tail, t + k, memory_order_release);
	*moved = k;
	return k > 0 ? 0 : EAGAIN;
}

int weft_spsc_pop_n_(weft_spsc *q, void **items, size_t n, size_t *moved)
{
	size_t h = atomic_load_explicit(&q->head, memory_order_relaxed); /* our own index */
	size_t avail = q->tail_cache - h;
	if (avail < n) {
		/* Acquire: pairs with the release store of tail in weft_spsc_push(_n_). */
		q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
		avail = q->tail_cache - h;
	}
	size_t k = avail < n ? avail : n;
	for (size_t j = 0; j < k; j++)
		items[j] = q->slots[(h + j) & q->mask];
	if (k > 0) /* Release: pairs with the acquire load of head in weft_spsc_push(_n_). */
		atomic_store_explicit(&q->head, h + k, memory_order_release);
	*moved = k;
	return k > 0 ? 0 : EAGAIN;
}
