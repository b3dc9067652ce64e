/*
 * Cancellation contexts (Go's context): a tree of nodes, each cancellable and each
 * optionally carrying a deadline. Cancelling a node cancels its whole subtree and wakes
 * every caller blocked in weft under it (mutex, semaphore, wait group, RW lock, context
 * wait, blocking queue pop, sleep) with ECANCELED; a deadline ends the waits under it with
 * ETIMEDOUT. Deadlines need no timer thread: each wait sleeps until its nearest deadline.
 *
 * NULL is the background context: never done. Every blocking weft call takes a weft_ctx *.
 *
 * Lifetime: a node is reference-counted. Its creator holds one reference, given up with
 * weft_ctx_release(); children and callers blocked under it hold others, so releasing a
 * parent before its children is safe. Releasing does not cancel.
 *
 * Allocation: the weft_ctx_with_* calls allocate one node (through weft_allocator).
 */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#include <weft/common.h>

typedef struct weft_ctx weft_ctx;

/*
 * weft_ctx_with_cancel - a new cancellable child of parent (NULL: a root).
 * A child of a node already done is born done, with the parent's error.
 * Returns: 0, EINVAL (out NULL), ENOMEM. Thread-safety: any thread.
 */
WEFT_API int weft_ctx_with_cancel(weft_ctx *parent, weft_ctx **out);

/*
 * weft_ctx_with_deadline - a child of parent that is done at deadline_ns (CLOCK_MONOTONIC
 * nanoseconds, see weft_now_ns) or when cancelled, whichever comes first. Its effective
 * deadline is the earlier of its own and its ancestors'.
 * Returns: 0, EINVAL (out NULL), ENOMEM.
 */
WEFT_API int weft_ctx_with_deadline(weft_ctx *parent, uint64_t deadline_ns, weft_ctx **out);

/*
 * weft_ctx_with_timeout - weft_ctx_with_deadline(parent, weft_now_ns() + timeout_ns, out),
 * saturating. Returns: as weft_ctx_with_deadline.
 */
WEFT_API int weft_ctx_with_timeout(weft_ctx *parent, uint64_t timeout_ns, weft_ctx **out);

/*
 * weft_ctx_cancel - cancel ctx and its whole subtree: each node becomes done with ECANCELED
 * (or ETIMEDOUT if that node's own effective deadline had already passed, so a node never
 * changes its error once weft_ctx_err reported one), and every caller blocked under it is
 * woken and returns that node's weft_ctx_err. Nodes already done keep their error.
 * Idempotent; NULL is ignored. Safe while other threads release nodes of the subtree.
 * Ordering: whatever the canceller wrote before the call is visible to a caller that then
 *   observes the node done (release/acquire on the node's state).
 * Thread-safety: any thread. Blocking: never sleeps; takes the subtree's node locks.
 */
WEFT_API void weft_ctx_cancel(weft_ctx *ctx);

/*
 * weft_ctx_done - true once ctx was cancelled or its effective deadline has passed.
 * Non-blocking: an atomic load, plus a clock read when a deadline is set. NULL: false.
 */
WEFT_API bool weft_ctx_done(weft_ctx *ctx);

/* weft_ctx_err - 0 while not done, else ECANCELED or ETIMEDOUT. NULL: 0. */
WEFT_API int weft_ctx_err(weft_ctx *ctx);

/*
 * weft_ctx_deadline - ctx's effective deadline (its own or an ancestor's, the earlier),
 * or WEFT_NO_DEADLINE. NULL: WEFT_NO_DEADLINE.
 */
WEFT_API uint64_t weft_ctx_deadline(weft_ctx *ctx);

/*
 * weft_ctx_wait - block until ctx is done. Returns its error: ECANCELED or ETIMEDOUT.
 * A NULL ctx is never done: returns EINVAL rather than blocking forever.
 * Lifetime: the wait holds its own reference for its whole length, so another thread may
 *   cancel and release ctx while this one waits (the pointer must be valid at the call).
 * Blocking: yes (parks a fiber inside the runtime).
 */
WEFT_API int weft_ctx_wait(weft_ctx *ctx);

/* weft_ctx_release - give up the creator's reference. NULL is ignored. */
WEFT_API void weft_ctx_release(weft_ctx *ctx);

#endif
