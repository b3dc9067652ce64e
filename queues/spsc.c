/*
 * `spsc`: the bounded single-producer single-consumer ring; push and pop are inline in
 * include/weft/spsc.h.
 *
 * Invariants: head <= tail <= head + size (size = mask + 1); slots [head, tail) hold
 * items; only the producer writes tail and head_cache, only the consumer head and
 * tail_cache; a cached copy never runs ahead of the index it copies.
 */
#include <errno.h>

#include <weft/spsc.h>

#include "../sync/alloc.h"
#include "queue_ops.h"
#include "ring_batch.h"
#include "ring_util.h"

int weft_spsc_create(weft_spsc **q, size_t capacity)
{
	if (q == NULL || capacity == 0 || capacity > WEFT_RING_MAX_CAPACITY)
		return EINVAL;
	size_t size = weft_ring_pow2(capacity);
	weft_spsc *nq = weft_mem_zalloc(sizeof(*nq), _Alignof(weft_spsc));
	if (nq == NULL)
		return ENOMEM;
	nq->slots = weft_mem_alloc(size * sizeof(void *), WEFT_CACHELINE);
	if (nq->slots == NULL) {
		weft_mem_free(nq);
		return ENOMEM;
	}
	nq->mask = size - 1;
	atomic_init(&nq->tail, 0);
	atomic_init(&nq->head, 0);
	*q = nq;
	return 0;
}

void weft_spsc_destroy(weft_spsc *q)
{
	if (q == NULL)
		return;
	weft_mem_free(q->slots);
	weft_mem_free(q);
}

size_t weft_spsc_capacity(const weft_spsc *q)
{
	return q != NULL ? q->mask + 1 : 0;
}

static int spsc_create(void **impl, size_t capacity)
{
	return weft_spsc_create((weft_spsc **)impl, capacity);
}

static int spsc_push(void *impl, void *item)
{
	return weft_spsc_push(impl, item);
}

static int spsc_push_n(void *impl, void *const *items, size_t n, size_t *moved)
{
	return weft_spsc_push_n_(impl, items, n, moved);
}

static int spsc_pop_n(void *impl, void **items, size_t n, size_t *moved)
{
	return weft_spsc_pop_n_(impl, items, n, moved);
}

static int spsc_pop(void *impl, void **item)
{
	return weft_spsc_pop(impl, item);
}

static void spsc_destroy(void *impl)
{
	weft_spsc_destroy(impl);
}

const weft_queue_ops weft_queue_ops_spsc = {
	.name = "spsc",
	.bounded = true,
	.max_producers = 1,
	.max_consumers = 1,
	.create = spsc_create,
	.push = spsc_push,
	.pop = spsc_pop,
	.destroy = spsc_destroy,
	.push_n = spsc_push_n,
	.pop_n = spsc_pop_n,
};
