/*
 * `ck_ring`: Concurrency Kit's MPMC pointer ring (ck_ring_enqueue_mpmc /
 * ck_ring_dequeue_mpmc) behind the weft_queue interface: a baseline, not a weft design.
 *
 * ck_ring holds size - 1 items in a ring of size slots (size a power of two), so a
 * capacity c gets the smallest power of two above c. Its indices are unsigned int: at
 * most 2^31 slots. ck's x86-64 atomics are inline assembly that ThreadSanitizer cannot
 * see (tests/tsan.supp says so for this file). Known weaknesses of 0.7.1, kept on purpose
 * since this is what users have: a multi-producer enqueue can report a spurious "full"
 * under preemption (ck issue 102), and producers publish in ticket order, spinning on a
 * preempted producer (the livelock weft's mpmc avoids).
 */
#include <ck_ring.h>
#include <errno.h>

#include "../sync/alloc.h"
#include "queue_ops.h"

typedef struct ck_ring_queue {
	ck_ring_t ring;
	ck_ring_buffer_t *buf;
} ck_ring_queue;

static int ck_ring_q_create(void **impl, size_t capacity)
{
	if (capacity == 0 || capacity >= ((size_t)1 << 31))
		return EINVAL;
	unsigned size = 2;
	while (size <= capacity)
		size <<= 1;
	ck_ring_queue *r = weft_mem_zalloc(sizeof(*r), WEFT_PADDING);
	if (r == NULL)
		return ENOMEM;
	r->buf = weft_mem_zalloc((size_t)size * sizeof(ck_ring_buffer_t), WEFT_CACHELINE);
	if (r->buf == NULL) {
		weft_mem_free(r);
		return ENOMEM;
	}
	ck_ring_init(&r->ring, size);
	*impl = r;
	return 0;
}

static int ck_ring_q_push(void *impl, void *item)
{
	ck_ring_queue *r = impl;
	return ck_ring_enqueue_mpmc(&r->ring, r->buf, item) ? 0 : EAGAIN;
}

static int ck_ring_q_pop(void *impl, void **item)
{
	ck_ring_queue *r = impl;
	void *p;
	if (!ck_ring_dequeue_mpmc(&r->ring, r->buf, &p))
		return EAGAIN;
	*item = p;
	return 0;
}

static void ck_ring_q_destroy(void *impl)
{
	ck_ring_queue *r = impl;
	weft_mem_free(r->buf);
	weft_mem_free(r);
}

const weft_queue_ops weft_queue_ops_ck_ring = {
	.name = "ck_ring",
	.bounded = true,
	.create = ck_ring_q_create,
	.push = ck_ring_q_push,
	.pop = ck_ring_q_pop,
	.destroy = ck_ring_q_destroy,
};
