/*
 * weft_sharded: N bounded MPMC rings ("shards", by default one per CPU) behind one
 * handle. The `sharded` kind of weft_queue. A push goes to the calling thread's home
 * shard and falls to the following shards only when home is full; a pop tries home
 * first, then the others in turn. Threads on different shards do not touch each other's
 * cache lines, which is where its throughput comes from.
 *
 * Home shard: the shard of the CPU the thread last ran on (sched_getcpu() % N, looked at
 * every 32 operations), so a producer and a consumer that share a CPU share a shard and
 * its lines stay in that core's cache. A thread's home follows it to another CPU only once
 * every item it pushed into its current home has been taken by a pop. Threads with a
 * weft_thread_index() of 256 or more keep the fixed home weft_thread_index() % N.
 *
 * ORDERING - there is NO global FIFO. What it keeps:
 *   - each shard is FIFO per producer, so two items that one thread pushed into the same
 *     shard leave in the order pushed; and since a home moves only when the thread's
 *     items in the old home are all gone, while a thread's home shard never fills, all
 *     its items leave in its push order (whatever CPUs it ran on).
 *   - nothing else: items of different producers, or of one producer that overflowed into
 *     another shard, may leave in any order, and a pop may return EAGAIN while another
 *     shard holds items that were pushed concurrently (it returns EAGAIN only after
 *     finding every shard empty in turn, so once pushes stop, an empty pop means empty).
 *
 * Capacity: split evenly, each shard holds ceil(capacity / N) rounded up to a power of
 * two (and at least 2, as any mpmc ring), so the total is at least capacity. Every call
 * is lock-free (see mpmc.h).
 *
 *                 push     pop     create/destroy
 *   push          -        -       X
 *   pop           -        -       X
 */
#ifndef WEFT_SHARDED_H
#define WEFT_SHARDED_H

#include <weft/common.h>

typedef struct weft_sharded weft_sharded;

/*
 * weft_sharded_create - shards rings (0: weft_cpu_count()) holding capacity items together.
 * Returns: 0, EINVAL (q NULL, capacity 0 or above 2^40, shards above 4096), ENOMEM.
 * Allocates: the handle and one ring per shard.
 */
WEFT_API int weft_sharded_create(weft_sharded **q, size_t capacity, unsigned shards);

/* weft_sharded_destroy - free q (NULL ignored); items still inside are the caller's. */
WEFT_API void weft_sharded_destroy(weft_sharded *q);

/* weft_sharded_shards - the number of shards. */
WEFT_API unsigned weft_sharded_shards(const weft_sharded *q);

/*
 * weft_sharded_push - append item (any value) to the caller's home shard, or to the next
 * one with room. Returns: 0, or EAGAIN when every shard was full when tried.
 * Thread-safety: any thread. Ordering: release; pairs with the acquire of the pop.
 */
WEFT_API int weft_sharded_push(weft_sharded *q, void *item);

/*
 * weft_sharded_pop - take an item, from the home shard first. Returns: 0, or EAGAIN when
 * every shard was empty when tried. Thread-safety: any thread. Ordering: acquire.
 */
WEFT_API int weft_sharded_pop(weft_sharded *q, void **item);

#endif
