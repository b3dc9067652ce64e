/*
 * Private: batch push and pop on the rings (queues/ring_batch.c), for the weft_queue
 * interface's push_n/pop_n (queue_ops.h) and the sharded queue's shards.
 * Each moves up to n items and stores the count in *moved; returns 0 when at least one
 * moved, EAGAIN when none could (full / empty). n >= 1.
 */
#ifndef WEFT_QUEUES_RING_BATCH_H
#define WEFT_QUEUES_RING_BATCH_H

#include <weft/mpmc.h>
#include <weft/spsc.h>

int weft_mpmc_push_n_(weft_mpmc *q, void *const *items, size_t n, size_t *moved);
/* As weft_mpmc_push_n_, after a bounded wait while the ring is nearly full (the mpmc
 * kind's push_n; the sharded queue's shards go to their next shard instead). */
int weft_mpmc_push_n_paced_(weft_mpmc *q, void *const *items, size_t n, size_t *moved);
int weft_mpmc_pop_n_(weft_mpmc *q, void **items, size_t n, size_t *moved);
int weft_spsc_push_n_(weft_spsc *q, void *const *items, size_t n, size_t *moved);
int weft_spsc_pop_n_(weft_spsc *q, void **items, size_t n, size_t *moved);

#endif
