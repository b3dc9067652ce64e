/*
 * `urcu_wfcq`: liburcu's wait-free concurrent queue (cds_wfcq_*) behind the weft_queue
 * interface: a baseline. Enqueue is wait-free; dequeue uses the blocking variant, which
 * takes the queue head's mutex, so dequeuers are serialised (as liburcu requires for
 * concurrent dequeuers). One node is allocated per item and freed by the pop.
 *
 * The calls go to liburcu-cds (no _LGPL_SOURCE): that library is not built with
 * ThreadSanitizer, so TSan cannot see its synchronisation (tests/tsan.supp says so).
 */
#include <errno.h>
#include <stddef.h>
#include <urcu/wfcqueue.h>

#include "../sync/alloc.h"
#include "queue_ops.h"

typedef struct wfcq_item {
	struct cds_wfcq_node node;
	void *item;
} wfcq_item;

typedef struct wfcq_queue {
	_Alignas(WEFT_PADDING) struct cds_wfcq_head head; /* dequeuers (with its mutex) */
	_Alignas(WEFT_PADDING) struct cds_wfcq_tail tail; /* enqueuers */
} wfcq_queue;

static int wfcq_create(void **impl, size_t capacity)
{
	(void)capacity; /* unbounded */
	wfcq_queue *q = weft_mem_alloc(sizeof(*q), _Alignof(wfcq_queue));
	if (q == NULL)
		return ENOMEM;
	cds_wfcq_init(&q->head, &q->tail);
	*impl = q;
	return 0;
}

static int wfcq_push(void *impl, void *item)
{
	wfcq_queue *q = impl;
	wfcq_item *n = weft_mem_alloc(sizeof(*n), 0);
	if (n == NULL)
		return ENOMEM;
	cds_wfcq_node_init(&n->node);
	n->item = item;
	cds_wfcq_enqueue(&q->head, &q->tail, &n->node);
	return 0;
}

static int wfcq_pop(void *impl, void **item)
{
	wfcq_queue *q = impl;
	struct cds_wfcq_node *node = cds_wfcq_dequeue_blocking(&q->head, &q->tail);
	if (node == NULL)
		return EAGAIN;
	wfcq_item *n = (wfcq_item *)((char *)node - offsetof(wfcq_item, node));
	*item = n->item;
	weft_mem_free(n);
	return 0;
}

static void wfcq_destroy(void *impl)
{
	wfcq_queue *q = impl;
	struct cds_wfcq_node *node;
	while ((node = cds_wfcq_dequeue_blocking(&q->head, &q->tail)) != NULL)
		weft_mem_free((char *)node - offsetof(wfcq_item, node));
	cds_wfcq_destroy(&q->head, &q->tail);
	weft_mem_free(q);
}

const weft_queue_ops weft_queue_ops_urcu_wfcq = {
	.name = "urcu_wfcq",
	.bounded = false,
	.create = wfcq_create,
	.push = wfcq_push,
	.pop = wfcq_pop,
	.destroy = wfcq_destroy,
};
