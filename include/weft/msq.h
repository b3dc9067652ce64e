/*
 * The Michael-Scott queue (PODC 1996): an unbounded lock-free MPMC FIFO, a linked list
 * with a dummy head node. Each push allocates one node; each pop retires one, reclaimed
 * either by weft's hazard pointers (default domain, include/weft/hazard.h) or through RCU
 * (include/weft/rcu.h). Also reachable as weft_queue kinds "msq" and "msq_rcu".
 *
 * Synchronization: push and pop may each be called by any number of threads at once,
 * and with each other; only destroy needs the caller to exclude everything else.
 *
 *           push   pop   destroy
 *   push     -      -      X
 *   pop      -      -      X
 *   destroy  X      X      X        (X: the caller must serialise)
 *
 * Order: FIFO (linearizable); in particular the items of one producer leave in the order
 * it pushed them.
 *
 * FIBERS: push and pop hold a hazard pointer (or RCU read-side section) only inside the
 * call and never block, so they are safe on fibers.
 */
#ifndef WEFT_MSQ_H
#define WEFT_MSQ_H

#include <weft/common.h>

typedef struct weft_msq weft_msq;

typedef enum weft_msq_reclaim {
	WEFT_MSQ_HAZARD, /* nodes reclaimed by hazard pointers: bounded garbage */
	WEFT_MSQ_RCU,	 /* nodes reclaimed through RCU: cheaper reads, unbounded garbage */
} weft_msq_reclaim;

/*
 * weft_msq_create - an empty queue. Returns: 0, EINVAL (q NULL or unknown how), ENOMEM.
 * Allocates: the queue and its dummy node.
 */
WEFT_API int weft_msq_create(weft_msq **q, weft_msq_reclaim how);

/*
 * weft_msq_push - append item (any value, NULL included).
 * Returns: 0, EINVAL (q NULL), ENOMEM (no node, or for WEFT_MSQ_HAZARD no hazard record
 * for this thread; nothing was pushed).
 * Ordering: release: what the producer wrote before the push is visible to the thread
 * that pops item. Allocates: one node. Never blocks.
 */
WEFT_API int weft_msq_push(weft_msq *q, void *item);

/*
 * weft_msq_pop - take the oldest item into *item.
 * Returns: 0, EAGAIN (empty), EINVAL (q or item NULL), ENOMEM (WEFT_MSQ_HAZARD only: this
 * thread has no hazard record and none could be allocated).
 * Ordering: acquire (pairs with the push). Frees: may run a hazard scan, which frees
 * nodes retired earlier. Never blocks.
 */
WEFT_API int weft_msq_pop(weft_msq *q, void **item);

/*
 * weft_msq_destroy - free q and the nodes still in it (NULL ignored); the items in them
 * are the caller's. Nodes popped earlier are freed by their reclaimer in due course.
 */
WEFT_API void weft_msq_destroy(weft_msq *q);

#endif
