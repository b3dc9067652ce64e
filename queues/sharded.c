/*
 * `sharded`: an array of weft_mpmc rings; see include/weft/sharded.h for what ordering it
 * keeps. Each shard's invariants are the mpmc ring's (queues/mpmc.c); this file only
 * chooses shards. The shard structs are WEFT_PADDING-aligned, so no two shards' hot
 * indices share a line.
 */
#include <errno.h>

#include <weft/sharded.h>
#include <weft/thread.h>

#include "../sync/alloc.h"
#include "mpmc_internal.h"
#include "queue_ops.h"
#include "ring_batch.h"
#include "ring_util.h"

#define SHARDED_MAX_SHARDS 4096u

struct weft_sharded {
	unsigned n;
	weft_mpmc *shards; /* n rings */
};

int weft_sharded_create(weft_sharded **q, size_t capacity, unsigned shards)
{
	if (q == NULL || capacity == 0 || capacity > WEFT_RING_MAX_CAPACITY ||
	    shards > SHARDED_MAX_SHARDS)
		return EINVAL;
	unsigned n = shards != 0 ? shards : weft_cpu_count();
	if (n > SHARDED_MAX_SHARDS)
		n = SHARDED_MAX_SHARDS;
	weft_sharded *nq = weft_mem_alloc(sizeof(*nq), 0);
	if (nq == NULL)
		return ENOMEM;
	nq->shards = weft_mem_alloc(n * sizeof(weft_mpmc), _Alignof(weft_mpmc));
	if (nq->shards == NULL) {
		weft_mem_free(nq);
		return ENOMEM;
	}
	size_t per = (capacity + n - 1) / n;
	for (unsigned i = 0; i < n; i++) {
		if (weft_mpmc_init_(&nq->shards[i], per) != 0) {
			while (i-- > 0)
				weft_mpmc_fini_(&nq->shards[i]);
			weft_mem_free(nq->shards);
			weft_mem_free(nq);
			return ENOMEM;
		}
	}
	nq->n = n;
	*q = nq;
	return 0;
}

void weft_sharded_destroy(weft_sharded *q)
{
	if (q == NULL)
		return;
	for (unsigned i = 0; i < q->n; i++)
		weft_mpmc_fini_(&q->shards[i]);
	weft_mem_free(q->shards);
	weft_mem_free(q);
}

unsigned weft_sharded_shards(const weft_sharded *q)
{
	return q->n;
}

/* The home shard: weft_thread_index() is dense, so threads spread evenly over shards.
 * WEFT_THREAD_INDEX_NONE (out of memory) lands on some shard like any other index. */
static inline unsigned home_of(const weft_sharded *q)
{
	return weft_thread_index() % q->n;
}

int weft_sharded_push(weft_sharded *q, void *item)
{
	unsigned i = home_of(q);
	for (unsigned k = 0; k < q->n; k++) {
		if (weft_mpmc_push(&q->shards[i], item) == 0)
			return 0;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	return EAGAIN;
}

int weft_sharded_pop(weft_sharded *q, void **item)
{
	unsigned i = home_of(q);
	for (unsigned k = 0; k < q->n; k++) {
		if (weft_mpmc_pop(&q->shards[i], item) == 0)
			return 0;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	return EAGAIN;
}

/* Batches: one reservation per shard visited, home shard first (queues/ring_batch.c). */
static int sharded_push_n(void *impl, void *const *items, size_t n, size_t *moved)
{
	weft_sharded *q = impl;
	unsigned i = home_of(q);
	size_t done = 0;
	for (unsigned s = 0; s < q->n && done < n; s++) {
		size_t k = 0;
		(void)weft_mpmc_push_n_(&q->shards[i], items + done, n - done, &k);
		done += k;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	*moved = done;
	return done > 0 ? 0 : EAGAIN;
}

static int sharded_pop_n(void *impl, void **items, size_t n, size_t *moved)
{
	weft_sharded *q = impl;
	unsigned i = home_of(q);
	size_t done = 0;
	for (unsigned s = 0; s < q->n && done < n; s++) {
		size_t k = 0;
		(void)weft_mpmc_pop_n_(&q->shards[i], items + done, n - done, &k);
		done += k;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	*moved = done;
	return done > 0 ? 0 : EAGAIN;
}

static int sharded_create(void **impl, size_t capacity)
{
	return weft_sharded_create((weft_sharded **)impl, capacity, 0);
}

static int sharded_push(void *impl, void *item)
{
	return weft_sharded_push(impl, item);
}

static int sharded_pop(void *impl, void **item)
{
	return weft_sharded_pop(impl, item);
}

static void sharded_destroy(void *impl)
{
	weft_sharded_destroy(impl);
}

const weft_queue_ops weft_queue_ops_sharded = {
	.name = "sharded",
	.bounded = true,
	.create = sharded_create,
	.push = sharded_push,
	.pop = sharded_pop,
	.destroy = sharded_destroy,
	.push_n = sharded_push_n,
	.pop_n = sharded_pop_n,
};
