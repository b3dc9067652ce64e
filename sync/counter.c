/*
 * The sharded counter's slow parts: creation, the overflow slot, the sum.
 * The fast path (weft_shard_counter_add) is inline in include/weft/counter.h, which also
 * states the read semantics.
 */
#include <errno.h>

#include <weft/counter.h>

#include "alloc.h"
#include "counter_internal.h"

#define SHARD_MIN_SLOTS 64u
#define SHARD_MAX_SLOTS 1024u

int weft_shard_counter_create_n(weft_shard_counter **c, uint32_t nslots)
{
	if (c == NULL || nslots > SHARD_MAX_SLOTS)
		return EINVAL;
	size_t size = sizeof(weft_shard_counter) + (size_t)nslots * sizeof(weft_shard_slot_);
	weft_shard_counter *k = weft_mem_zalloc(size, _Alignof(weft_shard_counter));
	if (k == NULL)
		return ENOMEM;
	k->nslots = nslots;
	atomic_init(&k->overflow, 0);
	for (uint32_t i = 0; i < nslots; i++)
		atomic_init(&k->slots[i].value, 0);
	*c = k;
	return 0;
}

int weft_shard_counter_create(weft_shard_counter **c)
{
	/* Enough for a few threads per CPU before anyone overflows; thread indices are dense
	 * and reused, so a pool of threads stays within its size. */
	uint32_t n = 4u * (uint32_t)weft_cpu_count();
	if (n < SHARD_MIN_SLOTS)
		n = SHARD_MIN_SLOTS;
	if (n > SHARD_MAX_SLOTS)
		n = SHARD_MAX_SLOTS;
	return weft_shard_counter_create_n(c, n);
}

void weft_shard_counter_destroy(weft_shard_counter *c)
{
	weft_mem_free(c);
}

void weft_shard_counter_add_slow_(weft_shard_counter *c, int64_t n)
{
	uint32_t i = weft_thread_index(); /* assigns one on first use */
	if (i < c->nslots) {
		_Atomic int64_t *v = &c->slots[i].value;
		/* Relaxed: the caller's own slot, as in the inline fast path. */
		int64_t old = atomic_load_explicit(v, memory_order_relaxed);
		atomic_store_explicit(v, (int64_t)((uint64_t)old + (uint64_t)n),
				      memory_order_relaxed);
		return;
	}
	/* Relaxed: a count; several threads share this slot, hence the read-modify-write. */
	atomic_fetch_add_explicit(&c->overflow, n, memory_order_relaxed);
}

int64_t weft_shard_counter_read(const weft_shard_counter *c)
{
	if (c == NULL)
		return 0;
	/* Relaxed loads: the semantics promised in counter.h need only per-slot coherence.
	 * Unsigned sum: wrapping is defined, as the adds' is. */
	weft_shard_counter *k = (weft_shard_counter *)c; /* atomic loads want non-const */
	uint64_t sum = (uint64_t)atomic_load_explicit(&k->overflow, memory_order_relaxed);
	for (uint32_t i = 0; i < k->nslots; i++)
		sum += (uint64_t)atomic_load_explicit(&k->slots[i].value, memory_order_relaxed);
	return (int64_t)sum;
}

uint32_t weft_shard_counter_slots(const weft_shard_counter *c)
{
	return c ? c->nslots : 0;
}
