/*
 * The injection queue: where tasks spawned from outside the runtime (and, under
 * WEFT_SCHED_SHARED, every task) wait for a worker. The built-in one is a growable ring
 * under a mutex; it also catches the overflow of a bounded configured kind.
 *
 * `len` counts ring items plus listed fibers so that idle workers can check for work without the lock. It is
 * written under the lock with release and read with acquire; the parking protocol (park.c)
 * puts its own seq_cst fences around it.
 */
#include <errno.h>
#include <string.h>

#include "../sync/alloc.h"
#include "sched.h"

int weft_inject_init(struct inject *q, weft_rt_config *cfg)
{
	(void)cfg;
	memset(q, 0, sizeof(*q));
	q->cap = 256;
	q->ring = weft_mem_alloc(q->cap * sizeof(void *), 0);
	if (q->ring == NULL)
		return ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	atomic_init(&q->len, 0);
	return 0;
}

void weft_inject_fini(struct inject *q)
{
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

int weft_inject_push(struct inject *q, void *item)
{
	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap && inject_grow(q) != 0) {
		pthread_mutex_unlock(&q->lock);
		return ENOMEM;
	}
	q->ring[(q->head + q->count) & (q->cap - 1)] = item;
	q->count++;
	/* Release: pairs with the acquire in weft_inject_maybe_nonempty (an idle check). */
	atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + 1,
			      memory_order_release);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void weft_inject_push_fiber(struct inject *q, struct sfiber *sf)
{
	pthread_mutex_lock(&q->lock);
	sf->next = NULL;
	if (q->fib_tail != NULL)
		q->fib_tail->next = sf;
	else
		q->fib_head = sf;
	q->fib_tail = sf;
	/* Release: as in weft_inject_push. */
	atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + 1,
			      memory_order_release);
	pthread_mutex_unlock(&q->lock);
}

void *weft_inject_pop(struct inject *q)
{
	/* Acquire: pairs with the release in push; an empty look skips the lock. */
	if (atomic_load_explicit(&q->len, memory_order_acquire) == 0)
		return NULL;
	void *item = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->fib_head != NULL) { /* woken fibers first: they may hold what others wait for */
		struct sfiber *sf = q->fib_head;
		q->fib_head = sf->next;
		if (q->fib_head == NULL)
			q->fib_tail = NULL;
		item = item_make(sf, ITEM_FIBER);
	} else if (q->count > 0) {
		item = q->ring[q->head];
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	if (item != NULL)
		/* Release: as in push. */
		atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - 1,
				      memory_order_release);
	pthread_mutex_unlock(&q->lock);
	return item;
}

bool weft_inject_maybe_nonempty(struct inject *q)
{
	/* Acquire: pairs with the release in push. */
	return atomic_load_explicit(&q->len, memory_order_acquire) != 0;
}
