/*
 * `mpsc`: Vyukov's intrusive MPSC queue, with a node allocated per item.
 *
 * Invariants: `head` (consumer only) is a dummy node whose successors, linked by `next`,
 * hold the items in FIFO order; `tail` is the last node exchanged in. A push first swaps
 * itself into `tail` (which orders the pushes), then links the previous tail to itself;
 * between the two steps the chain from head is cut at the previous tail, and the consumer
 * sees "empty" (see the header). A pop moves head to head->next, reads the item there
 * (that node is the new dummy) and frees the old dummy, which nobody else can still
 * touch: its only other writer, the push that linked it, finished with that link.
 */
#include <errno.h>
#include <stdatomic.h>

#include <weft/mpsc.h>

#include "../sync/alloc.h"
#include "queue_ops.h"

typedef struct mpsc_node {
	_Atomic(struct mpsc_node *) next;
	void *item;
} mpsc_node;

struct weft_mpsc {
	_Alignas(WEFT_PADDING) _Atomic(mpsc_node *) tail; /* producers */
	_Alignas(WEFT_PADDING) mpsc_node *head;           /* the consumer's dummy */
};

int weft_mpsc_create(weft_mpsc **q)
{
	if (q == NULL)
		return EINVAL;
	weft_mpsc *nq = weft_mem_alloc(sizeof(*nq), _Alignof(weft_mpsc));
	if (nq == NULL)
		return ENOMEM;
	mpsc_node *stub = weft_mem_alloc(sizeof(*stub), 0);
	if (stub == NULL) {
		weft_mem_free(nq);
		return ENOMEM;
	}
	atomic_init(&stub->next, NULL);
	stub->item = NULL;
	nq->head = stub;
	atomic_init(&nq->tail, stub);
	*q = nq;
	return 0;
}

void weft_mpsc_destroy(weft_mpsc *q)
{
	if (q == NULL)
		return;
	mpsc_node *n = q->head;
	while (n != NULL) {
		mpsc_node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
		weft_mem_free(n);
		n = next;
	}
	weft_mem_free(q);
}

int weft_mpsc_push(weft_mpsc *q, void *item)
{
	if (WEFT_UNLIKELY(q == NULL))
		return EINVAL;
	mpsc_node *n = weft_mem_alloc(sizeof(*n), 0);
	if (WEFT_UNLIKELY(n == NULL))
		return ENOMEM;
	n->item = item;
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	/* Acq_rel: release publishes n's initialised next to the push that exchanges after
	 * us (it stores into n->next); acquire takes the same from the push before us. */
	mpsc_node *prev = atomic_exchange_explicit(&q->tail, n, memory_order_acq_rel);
	/* Release: pairs with the acquire load of next in weft_mpsc_pop (publishes item). */
	atomic_store_explicit(&prev->next, n, memory_order_release);
	return 0;
}

int weft_mpsc_pop(weft_mpsc *q, void **item)
{
	if (WEFT_UNLIKELY(q == NULL || item == NULL))
		return EINVAL;
	mpsc_node *head = q->head;
	/* Acquire: pairs with the release store of prev->next in weft_mpsc_push. */
	mpsc_node *next = atomic_load_explicit(&head->next, memory_order_acquire);
	if (next == NULL)
		return EAGAIN; /* empty, or the push after head has not linked yet */
	*item = next->item;
	q->head = next;
	weft_mem_free(head);
	return 0;
}

static int mpsc_create(void **impl, size_t capacity)
{
	(void)capacity; /* unbounded: nothing to size */
	return weft_mpsc_create((weft_mpsc **)impl);
}

static int mpsc_push(void *impl, void *item)
{
	return weft_mpsc_push(impl, item);
}

static int mpsc_pop(void *impl, void **item)
{
	return weft_mpsc_pop(impl, item);
}

static void mpsc_destroy(void *impl)
{
	weft_mpsc_destroy(impl);
}

const weft_queue_ops weft_queue_ops_mpsc = {
	.name = "mpsc",
	.bounded = false,
	.max_consumers = 1,
	.create = mpsc_create,
	.push = mpsc_push,
	.pop = mpsc_pop,
	.destroy = mpsc_destroy,
};
