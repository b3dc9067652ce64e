/*
 * `mutex`: a ring of exactly `capacity` slots behind one pthread_mutex. The baseline every
 * benchmark compares with; also the simplest correct queue, so the tests' reference.
 */
#include <errno.h>
#include <pthread.h>

#include "../sync/alloc.h"
#include "queue_ops.h"
#include "ring_util.h"

typedef struct mutex_ring {
	pthread_mutex_t lock;
	size_t head;  /* index of the oldest item, under lock */
	size_t count; /* items held, under lock */
	size_t capacity;
	void **slots;
} mutex_ring;

static int mutex_ring_create(void **impl, size_t capacity)
{
	if (capacity == 0 || capacity > WEFT_RING_MAX_CAPACITY)
		return EINVAL;
	mutex_ring *r = weft_mem_zalloc(sizeof(*r), 0);
	if (r == NULL)
		return ENOMEM;
	r->slots = weft_mem_alloc(capacity * sizeof(void *), 0);
	if (r->slots == NULL) {
		weft_mem_free(r);
		return ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->capacity = capacity;
	*impl = r;
	return 0;
}

static int mutex_ring_push(void *impl, void *item)
{
	mutex_ring *r = impl;
	int err = EAGAIN;
	pthread_mutex_lock(&r->lock);
	if (r->count < r->capacity) {
		size_t i = r->head + r->count;
		r->slots[i >= r->capacity ? i - r->capacity : i] = item;
		r->count++;
		err = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

static int mutex_ring_pop(void *impl, void **item)
{
	mutex_ring *r = impl;
	int err = EAGAIN;
	pthread_mutex_lock(&r->lock);
	if (r->count != 0) {
		*item = r->slots[r->head];
		r->head = r->head + 1 == r->capacity ? 0 : r->head + 1;
		r->count--;
		err = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

static void mutex_ring_destroy(void *impl)
{
	mutex_ring *r = impl;
	pthread_mutex_destroy(&r->lock);
	weft_mem_free(r->slots);
	weft_mem_free(r);
}

const weft_queue_ops weft_queue_ops_mutex = {
	.name = "mutex",
	.bounded = true,
	.create = mutex_ring_create,
	.push = mutex_ring_push,
	.pop = mutex_ring_pop,
	.destroy = mutex_ring_destroy,
};
