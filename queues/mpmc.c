/*
 * `mpmc`: Vyukov's bounded MPMC ring; the fast paths are inline in include/weft/mpmc.h.
 *
 * Invariants (pos counts pushes or pops since creation; weft_mpmc_cell_(q, pos) is its
 * slot, cells[pos & mask]; size = mask + 1):
 *   - cell.seq == pos: the slot is free for the push that claims position pos.
 *   - cell.seq == pos + 1: the slot holds the item of position pos, for the pop of pos.
 *   - a pop of pos sets cell.seq = pos + size: free for the push of the next lap.
 *   - tail (head) only grows, by a CAS from pos to pos + 1 made by the one push (pop) that
 *     found its cell at seq == pos (pos + 1); the winner alone touches the item.
 *   - positions are claimed in order, so one producer's items are claimed at increasing
 *     positions and leave, to any one consumer, in that order: FIFO per producer.
 * Wrap-around: seq - pos is compared as a signed difference; size_t positions do not wrap
 * in practice (2^64 operations).
 */
#include <errno.h>

#include <weft/mpmc.h>

#include "../sync/alloc.h"
#include "mpmc_internal.h"
#include "queue_ops.h"
#include "ring_batch.h"
#include "ring_util.h"

int weft_mpmc_init_(weft_mpmc *q, size_t capacity)
{
	/* At least 2 slots: in a ring of 1, "holds the item of pos" (seq == pos + 1) and "free
	 * for the push of pos + 1" are the same seq, so a second push would overwrite the
	 * first item and the pop of it would then wait forever for its seq. */
	size_t size = capacity < 2 ? 2 : weft_ring_pow2(capacity);
	weft_mpmc_geom *g = &q->g;
	g->cells = weft_mem_alloc(size * sizeof(weft_mpmc_cell), WEFT_CACHELINE);
	if (g->cells == NULL)
		return ENOMEM;
	g->mask = size - 1;
	for (size_t pos = 0; pos < size; pos++) {
		weft_mpmc_cell *c = weft_mpmc_cell_(q, pos);
		atomic_init(&c->seq, pos);
		c->item = NULL;
	}
	atomic_init(&q->tail, 0);
	atomic_init(&q->head, 0);
	return 0;
}

void weft_mpmc_fini_(weft_mpmc *q)
{
	weft_mem_free(q->g.cells);
}

int weft_mpmc_create(weft_mpmc **q, size_t capacity)
{
	if (q == NULL || capacity == 0 || capacity > WEFT_RING_MAX_CAPACITY)
		return EINVAL;
	weft_mpmc *nq = weft_mem_alloc(sizeof(*nq), _Alignof(weft_mpmc));
	if (nq == NULL)
		return ENOMEM;
	if (weft_mpmc_init_(nq, capacity) != 0) {
		weft_mem_free(nq);
		return ENOMEM;
	}
	*q = nq;
	return 0;
}

void weft_mpmc_destroy(weft_mpmc *q)
{
	if (q == NULL)
		return;
	weft_mpmc_fini_(q);
	weft_mem_free(q);
}

size_t weft_mpmc_capacity(const weft_mpmc *q)
{
	return q->g.mask + 1;
}

static int mpmc_create(void **impl, size_t capacity)
{
	return weft_mpmc_create((weft_mpmc **)impl, capacity);
}

static int mpmc_push(void *impl, void *item)
{
	return weft_mpmc_push(impl, item);
}

static int mpmc_pop(void *impl, void **item)
{
	return weft_mpmc_pop(impl, item);
}

static int mpmc_push_n(void *impl, void *const *items, size_t n, size_t *moved)
{
	return weft_mpmc_push_n_paced_(impl, items, n, moved);
}

static int mpmc_pop_n(void *impl, void **items, size_t n, size_t *moved)
{
	return weft_mpmc_pop_n_(impl, items, n, moved);
}

static void mpmc_destroy(void *impl)
{
	weft_mpmc_destroy(impl);
}

const weft_queue_ops weft_queue_ops_mpmc = {
	.name = "mpmc",
	.bounded = true,
	.create = mpmc_create,
	.push = mpmc_push,
	.pop = mpmc_pop,
	.destroy = mpmc_destroy,
	.push_n = mpmc_push_n,
	.pop_n = mpmc_pop_n,
};
