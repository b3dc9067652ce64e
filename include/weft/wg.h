/*
 * A wait group (Go's sync.WaitGroup): a counter of outstanding work. weft_wg_add(n) before
 * starting n pieces of work, weft_wg_done() as each finishes, weft_wg_wait() blocks until
 * the count is zero. Caller-allocated (WEFT_WG_INIT or weft_wg_init); no allocation, no
 * destroy. Waits block through the waiter seam (weft_park) and take a weft_ctx.
 *
 * Rules, as Go's: adds that raise the count from zero must happen before the wait they
 * should hold up (call weft_wg_add before starting the thread, not inside it). A group may
 * be reused: a wait returns once the count reaches zero after the wait saw it non-zero,
 * even if a new round's weft_wg_add raises it again before the waiter runs.
 *
 * A negative count is a bug in the caller (more done than add). Builds with
 * WEFT_DEBUG_CHECKS abort with a message at the add or done that makes it negative.
 * Other builds keep the count as it is, wake the waiters, and treat any count <= 0 as
 * zero: weft_wg_wait returns 0 until adds bring the count above zero again.
 *
 * Synchronization: add, done and wait may run concurrently from any threads; init only
 * before any other use.
 *
 * Lifetime: the add or done that brings the count to zero makes its last access to the
 * group in that same atomic update (it may then wake waiters, by address only). So a
 * waiter whose wait returned 0 may free or reuse the group's memory at once, e.g. a group
 * on a task's stack, as long as no other thread is still inside a call on it.
 */
#ifndef WEFT_WG_H
#define WEFT_WG_H

#include <stdatomic.h>
#include <weft/common.h>

typedef struct weft_ctx weft_ctx;

typedef struct weft_wg {
	/* private: bits 63..32 the count (int32_t), bits 31..1 a generation bumped each time
	 * the count falls to zero or below, bit 0 "a waiter may be parked" (see wg.c) */
	_Atomic uint64_t state;
} weft_wg;

#define WEFT_WG_INIT { 0 }

/* weft_wg_init - set wg to a count of zero. NULL is ignored. Not concurrent with other use. */
WEFT_API void weft_wg_init(weft_wg *wg);

/*
 * weft_wg_add - add n (may be negative) to the count; when the count falls to zero (or
 * below), wake every waiter. NULL is ignored. The count must stay within int32_t.
 * Ordering: release; a wait that returns 0 has acquired every add and done that brought
 * the count to zero (what each worker wrote before its done is visible to the waiter).
 * Blocking: never sleeps. Thread-safety: any thread.
 */
WEFT_API void weft_wg_add(weft_wg *wg, int n);

/* weft_wg_done - weft_wg_add(wg, -1). */
WEFT_API void weft_wg_done(weft_wg *wg);

/*
 * weft_wg_wait - block until the count is zero.
 * Returns: 0 (count was zero, or reached zero while waiting); when ctx is done first,
 *   weft_ctx_err(ctx): ECANCELED or ETIMEDOUT; EINVAL for a NULL wg.
 * Ordering: acquire (see weft_wg_add). Blocking: yes, through weft_park.
 * Cancellation: ctx (NULL: never cancelled). Thread-safety: any thread; any number of
 *   waiters.
 */
WEFT_API int weft_wg_wait(weft_wg *wg, weft_ctx *ctx);

#endif
