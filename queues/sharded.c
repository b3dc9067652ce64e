/*
 * `sharded`: an array of weft_mpmc rings; see include/weft/sharded.h for what ordering it
 * keeps. Each shard's invariants are the mpmc ring's (queues/mpmc.c); this file only
 * chooses shards. The shard structs are WEFT_PADDING-aligned, so no two shards' hot
 * indices share a line.
 */
#define _GNU_SOURCE /* sched_getcpu */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>

#include <weft/sharded.h>
#include <weft/thread.h>

#include "../sync/alloc.h"
#include "mpmc_internal.h"
#include "queue_ops.h"
#include "ring_batch.h"
#include "ring_util.h"

#define SHARDED_MAX_SHARDS 4096u
/* Threads with an index below this follow their CPU; the others keep a fixed home. */
#define SHARDED_SLOTS 256u
/* Operations between two looks at the CPU (sched_getcpu: a TLS load with rseq). */
#define SHARDED_REFRESH 32u

/*
 * One thread's view of this queue: written only by the thread whose weft_thread_index()
 * it is (plain fields), each on its own line. A reused index inherits its predecessor's
 * slot (the index table orders the hand-over); that only delays its next move.
 *
 * Home-move rule (keeps FIFO per producer): a thread moves its home to its current CPU's
 * shard only when every item it pushed into its old home has been claimed by a pop, i.e.
 * the old home's head has passed the tail seen after its last push there. An item pushed
 * after the move can then never leave before an earlier one of the same thread.
 */
typedef struct sharded_slot {
	_Alignas(WEFT_PADDING) unsigned home; /* shard + 1; 0: not chosen yet */
	unsigned countdown;                   /* ops until the next look at the CPU */
	bool pending;                         /* items pushed into home may be unclaimed */
	size_t last_tail;                     /* home's tail seen after that push */
} sharded_slot;

struct weft_sharded {
	unsigned n;
	weft_mpmc *shards;    /* n rings */
	sharded_slot *slots;  /* SHARDED_SLOTS, by thread index */
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
	nq->slots = weft_mem_zalloc(SHARDED_SLOTS * sizeof(sharded_slot), _Alignof(sharded_slot));
	if (nq->shards == NULL || nq->slots == NULL) {
		weft_mem_free(nq->slots);
		weft_mem_free(nq->shards);
		weft_mem_free(nq);
		return ENOMEM;
	}
	size_t per = (capacity + n - 1) / n;
	for (unsigned i = 0; i < n; i++) {
		if (weft_mpmc_init_(&nq->shards[i], per) != 0) {
			while (i-- > 0)
				weft_mpmc_fini_(&nq->shards[i]);
			weft_mem_free(nq->slots);
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
	weft_mem_free(q->slots);
	weft_mem_free(q->shards);
	weft_mem_free(q);
}

unsigned weft_sharded_shards(const weft_sharded *q)
{
	return q->n;
}

/* The shard of the CPU the caller runs on (its thread index where that is unknown). */
static inline unsigned cpu_shard(const weft_sharded *q, uint32_t idx)
{
	int cpu = sched_getcpu();
	return (cpu >= 0 ? (unsigned)cpu : idx) % q->n;
}

/* The caller's slot, NULL for threads beyond SHARDED_SLOTS (they keep index % n). */
static inline sharded_slot *slot_of(weft_sharded *q, uint32_t idx)
{
	return idx < SHARDED_SLOTS ? &q->slots[idx] : NULL;
}

/*
 * The home shard: the shard of the caller's CPU when it last looked (every
 * SHARDED_REFRESH operations), so a producer and a consumer that share a CPU share a
 * shard and its lines stay in that core's cache; moved only under the rule above.
 */
static inline unsigned home_of(weft_sharded *q, sharded_slot *sl, uint32_t idx)
{
	if (sl == NULL)
		return idx % q->n;
	if (WEFT_LIKELY(sl->home != 0 && --sl->countdown != 0))
		return sl->home - 1;
	sl->countdown = SHARDED_REFRESH;
	unsigned want = cpu_shard(q, idx);
	if (sl->home == 0) {
		sl->home = want + 1;
	} else if (want != sl->home - 1) {
		/* Relaxed: head only grows by the claiming CAS of a pop; seeing it past our
		 * last item means that item is claimed, and no pop can claim it again. */
		if (sl->pending && atomic_load_explicit(&q->shards[sl->home - 1].head,
							memory_order_relaxed) < sl->last_tail)
			return sl->home - 1; /* our items there are not all claimed yet */
		sl->pending = false;
		sl->home = want + 1;
	}
	return sl->home - 1;
}

/* After a push into home: remember how far home's tail had come. */
static inline void pushed_home(weft_sharded *q, sharded_slot *sl, unsigned home)
{
	if (sl == NULL)
		return;
	sl->pending = true;
	/* Relaxed: our own CAS put tail past our item; any later value is past it too. */
	sl->last_tail = atomic_load_explicit(&q->shards[home].tail, memory_order_relaxed);
}

int weft_sharded_push(weft_sharded *q, void *item)
{
	uint32_t idx = weft_thread_index();
	sharded_slot *sl = slot_of(q, idx);
	unsigned home = home_of(q, sl, idx), i = home;
	if (WEFT_LIKELY(weft_mpmc_push(&q->shards[i], item) == 0)) {
		pushed_home(q, sl, home);
		return 0;
	}
	for (unsigned k = 1; k < q->n; k++) {
		i = i + 1 == q->n ? 0 : i + 1;
		if (weft_mpmc_push(&q->shards[i], item) == 0)
			return 0;
	}
	return EAGAIN;
}

int weft_sharded_pop(weft_sharded *q, void **item)
{
	uint32_t idx = weft_thread_index();
	unsigned i = home_of(q, slot_of(q, idx), idx);
	for (unsigned k = 0; k < q->n; k++) {
		if (weft_mpmc_pop(&q->shards[i], item) == 0)
			return 0;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	return EAGAIN;
}

/*
 * Batches: the home shard first, one reservation per shard visited (queues/ring_batch.c).
 * A push_n moves on to the next shards only for what home had no room for, as single
 * pushes would. A pop_n stops at the first shard that gave it anything, so a consumer
 * that finds items at home never touches another CPU's shard; it reads the others only
 * when home is empty.
 */
static int sharded_push_n(void *impl, void *const *items, size_t n, size_t *moved)
{
	weft_sharded *q = impl;
	uint32_t idx = weft_thread_index();
	sharded_slot *sl = slot_of(q, idx);
	unsigned home = home_of(q, sl, idx), i = home;
	size_t done = 0;
	if (weft_mpmc_push_n_(&q->shards[i], items, n, &done) == 0)
		pushed_home(q, sl, home);
	for (unsigned s = 1; s < q->n && done < n; s++) {
		i = i + 1 == q->n ? 0 : i + 1;
		size_t k = 0;
		(void)weft_mpmc_push_n_(&q->shards[i], items + done, n - done, &k);
		done += k;
	}
	*moved = done;
	return done > 0 ? 0 : EAGAIN;
}

static int sharded_pop_n(void *impl, void **items, size_t n, size_t *moved)
{
	weft_sharded *q = impl;
	uint32_t idx = weft_thread_index();
	unsigned i = home_of(q, slot_of(q, idx), idx);
	size_t k = 0;
	for (unsigned s = 0; s < q->n; s++) {
		if (weft_mpmc_pop_n_(&q->shards[i], items, n, &k) == 0)
			break;
		i = i + 1 == q->n ? 0 : i + 1;
	}
	*moved = k;
	return k > 0 ? 0 : EAGAIN;
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
