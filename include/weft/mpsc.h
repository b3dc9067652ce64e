/*
 * weft_mpsc: an unbounded multi-producer single-consumer FIFO queue (Dmitry Vyukov's
 * intrusive MPSC queue, with a node allocated per item). The `mpsc` kind of weft_queue.
 *
 * A push is one allocation, one atomic exchange and one store: wait-free apart from the
 * allocator. A pop is a few loads and one free.
 *
 * A producer preempted between its exchange and its link store hides its item, and every
 * item pushed after it, from the consumer until it runs again: weft_mpsc_pop then returns
 * EAGAIN although the queue is not empty (briefly, in practice: a time slice). The
 * consumer cannot skip the gap without breaking FIFO; callers that must not miss items
 * retry (weft_queue_pop_wait does: the delayed push notifies waiters when it completes).
 *
 * Order: FIFO (the order of the producers' exchanges).
 *
 *                 push     pop     create/destroy
 *   push          -        -       X
 *   pop           -        X       X
 * (X: the caller must exclude the pair; -: safe concurrently)
 */
#ifndef WEFT_MPSC_H
#define WEFT_MPSC_H

#include <weft/common.h>

typedef struct weft_mpsc weft_mpsc;

/*
 * weft_mpsc_create - an empty queue. Returns: 0, EINVAL (q NULL), ENOMEM.
 * Allocates: the queue and one stub node.
 */
WEFT_API int weft_mpsc_create(weft_mpsc **q);

/* weft_mpsc_destroy - free q and its nodes (NULL ignored); the items are the caller's. */
WEFT_API void weft_mpsc_destroy(weft_mpsc *q);

/*
 * weft_mpsc_push - append item (any value). Returns: 0, ENOMEM (nothing enqueued), EINVAL
 * (q NULL).
 * Thread-safety: any thread. Ordering: release; pairs with the acquire in weft_mpsc_pop.
 * Allocates: one node.
 */
WEFT_API int weft_mpsc_push(weft_mpsc *q, void *item);

/*
 * weft_mpsc_pop - take the oldest item. Returns: 0, EAGAIN when empty or when the next
 * item's push is still in progress (see above), EINVAL (q or item NULL).
 * Thread-safety: the one consumer.
 * Ordering: acquire. Frees: one node.
 */
WEFT_API int weft_mpsc_pop(weft_mpsc *q, void **item);

#endif
