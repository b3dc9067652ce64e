/*
 * A counting semaphore. Caller-allocated (WEFT_SEM_INIT or weft_sem_init), no allocation,
 * no destroy needed. Waits block through the waiter seam (weft_park), so a fiber parks
 * instead of blocking its worker, and take a weft_ctx for cancellation and deadlines.
 *
 * Synchronization (which pairs of calls may run concurrently on one semaphore):
 *                 init   wait   trywait  post   value
 *   init           -      X      X        X      X
 *   wait/trywait   X      ok     ok       ok     ok
 *   post           X      ok     ok       ok     ok
 * (X: the caller must serialise; init only before any other use.)
 */
#ifndef WEFT_SEM_H
#define WEFT_SEM_H

#include <stdatomic.h>
#include <weft/common.h>

typedef struct weft_ctx weft_ctx;

/* The largest value a semaphore can hold; a post beyond it fails with EOVERFLOW. */
#define WEFT_SEM_VALUE_MAX UINT32_C(0x7fffffff)

typedef struct weft_sem {
	/* private */
	_Atomic uint32_t value;   /* tokens available; waiters park on it while it is 0 */
	_Atomic uint32_t waiters; /* callers between announcing a park and leaving it */
} weft_sem;

/* Static initialiser: WEFT_SEM_INIT(v) with 0 <= v <= WEFT_SEM_VALUE_MAX. */
#define WEFT_SEM_INIT(v) { (v), 0 }

/*
 * weft_sem_init - set s to value tokens and no waiters.
 * Returns: 0, EINVAL (s NULL or value > WEFT_SEM_VALUE_MAX).
 * Thread-safety: not concurrently with any other use of s.
 */
WEFT_API int weft_sem_init(weft_sem *s, uint32_t value);

/*
 * weft_sem_wait - take one token, blocking while there is none.
 * Returns: 0 (a token taken); when ctx is done first, weft_ctx_err(ctx): ECANCELED or
 *   ETIMEDOUT (no token taken); EINVAL for a NULL s. A waiter that is woken by a post and
 *   cancelled at the same time either takes the token and returns 0 or leaves it for
 *   another caller: a post is never lost.
 * Ordering: acquire; a successful wait synchronises with the post whose token it took.
 * Blocking: yes, through weft_park. Cancellation: ctx (NULL: never cancelled).
 * Thread-safety: any thread. Fairness: none promised (a trywait may take a token a woken
 *   waiter was about to take; that waiter waits again).
 */
WEFT_API int weft_sem_wait(weft_sem *s, weft_ctx *ctx);

/*
 * weft_sem_trywait - take one token if there is one, without blocking.
 * Returns: 0, EAGAIN (no token), EINVAL (s NULL). Ordering: acquire on success.
 */
WEFT_API int weft_sem_trywait(weft_sem *s);

/*
 * weft_sem_post - add one token and wake one waiter, if any.
 * Returns: 0, EOVERFLOW (value already WEFT_SEM_VALUE_MAX; nothing changed), EINVAL.
 * Ordering: release; pairs with the acquire of the wait or trywait that takes the token.
 * Blocking: never sleeps (may take a parking-lot bucket lock briefly). Any thread.
 */
WEFT_API int weft_sem_post(weft_sem *s);

/*
 * weft_sem_value - the number of tokens at the moment of the call (a relaxed snapshot,
 * stale as soon as it returns). NULL: 0.
 */
WEFT_API uint32_t weft_sem_value(const weft_sem *s);

#endif
