/*
 * The injection queue: where tasks spawned from outside the runtime (and, under
 * WEFT_SCHED_SHARED, every task) wait for a worker. Items go into a weft_queue of the
 * configured kind (weft_rt_config.inject_queue); what it refuses (a bounded kind when
 * full, an allocation failure) goes into a growable ring under a mutex, and woken fibers
 * it refuses into an intrusive list under the same mutex, which never fails.
 *
 * `len` counts every item (queue, ring and fiber list) so that idle workers can check for
 * work cheaply: incremented before an item becomes visible, decremented after it was
 * taken (release RMWs, read with acquire); the parking protocol (park.c) puts its own
 * barriers around it (S2 after a push, P3 before an idle worker's look).
 */
#include <errno.h>
#include <string.h>

#include "../sync/alloc.h"
#include "sched.h"

#define INJECT_QUEUE_CAPACITY 4096

int weft_inject_init(struct inject *q, weft_rt_config *cfg)
{
	memset(q, 0, sizeof(*q));
	q->cap = 256;
	q->ring = weft_mem_alloc(q->cap * sizeof(void *), 0);
	if (q->ring == NULL)
		return ENOMEM;
	int r = weft_queue_create(&q->q, cfg->inject_queue, INJECT_QUEUE_CAPACITY);
	if (r != 0) {
		weft_mem_free(q->ring);
		return r == ENOSYS ? EINVAL : r;
	}
	pthread_mutex_init(&q->lock, NULL);
	atomic_init(&q->len, 0);
	atomic_init(&q->ring_len, 0);
	return 0;
}

void weft_inject_fini(struct inject *q)
{
	weft_queue_destroy(q->q);
	pthread_mutex_destroy(&q->lock);
	weft_mem_free(q->ring);
	q->ring = NULL;
}

static int inject_grow(struct inject *q)
{
	size_t cap = q->cap * 2;
	void **ring = weft_mem_alloc(cap * sizeof(void *), 0);
	if (ring == NULL)
		return ENOMEM;
	for (size_t i = 0; i < q->count; i++)
		ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	weft_mem_free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return 0;
}

/* Count an item in before it is visible: an idle check that sees the count early only
 * searches once more. Release: pairs with the acquire in weft_inject_maybe_nonempty. */
static void len_add(struct inject *q, long d)
{
	atomic_fetch_add_explicit(&q->len, (size_t)d, memory_order_release);
}

static bool queue_push(struct inject *q, void *item)
{
	len_add(q, 1);
	if (weft_queue_push(q->q, item) == 0)
		return true;
	len_add(q, -1);
	return false;
}

int weft_inject_push(struct inject *q, void *item)
{
	if (queue_push(q, item))
		return 0;
	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap && inject_grow(q) != 0) {
		pthread_mutex_unlock(&q->lock);
		return ENOMEM;
	}
	q->ring[(q->head + q->count) & (q->cap - 1)] = item;
	q->count++;
	len_add(q, 1);
	/* Relaxed: under the lock; read as a hint before taking it. */
	atomic_store_explicit(&q->ring_len, q->count + q->fib_count, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void weft_inject_push_fiber(struct inject *q, struct sfiber *sf)
{
	if (queue_push(q, item_make(sf, ITEM_FIBER)))
		return;
	pthread_mutex_lock(&q->lock);
	sf->next = NULL;
	if (q->fib_tail != NULL)
		q->fib_tail->next = sf;
	else
		q->fib_head = sf;
	q->fib_tail = sf;
	q->fib_count++;
	len_add(q, 1);
	/* Relaxed: as in weft_inject_push. */
	atomic_store_explicit(&q->ring_len, q->count + q->fib_count, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
}

void *weft_inject_pop(struct inject *q)
{
	/* Acquire: pairs with the release in push; an empty look skips everything. */
	if (atomic_load_explicit(&q->len, memory_order_acquire) == 0)
		return NULL;
	void *item = NULL;
	if (weft_queue_pop(q->q, &item) == 0) {
		len_add(q, -1);
		return item;
	}
	/* Relaxed: a hint; the overflow is rare and checked under its lock. */
	if (atomic_load_explicit(&q->ring_len, memory_order_relaxed) == 0)
		return NULL;
	item = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->fib_head != NULL) { /* woken fibers first: they may hold what others wait for */
		struct sfiber *sf = q->fib_head;
		q->fib_head = sf->next;
		if (q->fib_head == NULL)
			q->fib_tail = NULL;
		q->fib_count--;
		item = item_make(sf, ITEM_FIBER);
	} else if (q->count > 0) {
		item = q->ring[q->head];
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	if (item != NULL) {
		len_add(q, -1);
		atomic_store_explicit(&q->ring_len, q->count + q->fib_count, memory_order_relaxed);
	}
	pthread_mutex_unlock(&q->lock);
	return item;
}

bool weft_inject_maybe_nonempty(struct inject *q)
{
	/* Acquire: pairs with the release in push. */
	return atomic_load_explicit(&q->len, memory_order_acquire) != 0;
}
