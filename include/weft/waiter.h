/*
 * The waiter seam: the one place where weft blocks.
 *
 * Every blocking primitive (mutex slow path, semaphore, wait group, RW lock, context wait,
 * blocking queue pop) blocks through weft_park() and wakes through weft_unpark(), a
 * parking lot keyed by address with futex semantics: weft_park(addr, v) sleeps only if
 * *addr still equals v, checked under the lock that weft_unpark(addr) takes, so a wake
 * cannot be lost between the caller's check and its sleep.
 *
 * How a parked caller actually sleeps is the parker's business (weft_waiter_ops). By
 * default a thread sleeps on a futex in its own waiter record. The runtime installs, on
 * each worker thread, ops that suspend the running fiber instead and let the worker run
 * other tasks; sync/ never knows about fibers.
 *
 * Cancellation: a park given a weft_ctx registers with it; cancelling that context or any
 * ancestor wakes the parked caller with ECANCELED. A context deadline shortens the park's
 * own deadline, so no timer thread is needed.
 */
#ifndef WEFT_WAITER_H
#define WEFT_WAITER_H

#include <stdatomic.h>
#include <weft/common.h>

typedef struct weft_ctx weft_ctx;
typedef struct weft_waiter weft_waiter;

/*
 * A parker: how the calling execution context sleeps and is woken.
 * park(w, deadline_ns): block until unpark(w) has been called, or until deadline_ns
 *   (CLOCK_MONOTONIC; WEFT_NO_DEADLINE = none) has passed. Returns 0 once unparked, or
 *   ETIMEDOUT. It must not return 0 before unpark(w) was called (no spurious wake-ups:
 *   loop internally), and it may be called again on the same w after an ETIMEDOUT.
 * unpark(w): wake the caller parked (or about to park) on w; called at most once per
 *   parking. The moment unpark makes w visibly woken, w's owner may return and w's memory
 *   may be gone: read what you need from w first.
 */
typedef struct weft_waiter_ops {
	int (*park)(weft_waiter *w, uint64_t deadline_ns);
	void (*unpark)(weft_waiter *w);
	/* Optional: a non-zero identity of what runs now (the runtime: the running fiber,
	 * which stays the same when a blocked task resumes on another thread). NULL: the
	 * thread's weft_thread_index() + 1. See weft_exec_id(). */
	uint32_t (*exec_id)(void);
	/* Optional: park_held(w, deadline_ns), as park, but called with the parking lot's
	 *   bucket lock still held (w is queued; no unpark of w can begin while it is held).
	 *   The parker must release it exactly once with weft_waiter_release_lot(w), on the
	 *   thread that called park_held (a bucket may be locked by a flag private to that
	 *   thread: sync/parking_lot.c, "Biased buckets"), before it blocks and on every path
	 *   before it returns, and must not take another parking-lot lock (weft_park,
	 *   weft_unpark) before that. In exchange, when an unpark(w) comes,
	 *   whatever the parker did before the release is done: a fiber parker releases the
	 *   lock once the parked fiber's stack has stopped running, so its unpark can resume
	 *   it without a hand-shake on w->word (runtime/parker.c). The lot uses it for parks
	 *   with neither a ctx nor a deadline; NULL: the lot unlocks and calls park. */
	int (*park_held)(weft_waiter *w, uint64_t deadline_ns);
} weft_waiter_ops;

/*
 * One parked caller. It lives on the parked caller's stack for the length of a park.
 * Fields marked private belong to the parking lot; a parker may use `word` and `data`.
 */
struct weft_waiter {
	/* public, for the parker: 0 while parked, set non-zero by unpark. */
	_Atomic uint32_t word;
	void *data; /* NULL when park is called; unset when park_held is (write it first) */
	/* read-only for the parker */
	const weft_waiter_ops *ops;
	/* private */
	const void *addr;
	weft_waiter *next, *prev;     /* bucket queue, under the bucket lock */
	weft_waiter *ctx_next, *ctx_prev; /* context's waiter list, under the context lock */
	weft_ctx *ctx;
	int reason;                   /* set by whoever dequeues: 0 or ECANCELED */
	bool queued;                  /* in a bucket queue (under the bucket lock) */
	_Atomic uint32_t *lot_lock;   /* the bucket lock, for park_held's release */
};

/*
 * weft_waiter_release_lot - for a parker's park_held: release the parking-lot bucket lock
 * that park_held(w, ...) was called with. Once it returns, w may be dequeued and unparked
 * (and, for the parker's own code, is no longer protected by the lock).
 * Ordering: release; pairs with the acquire of whoever takes the bucket lock next (a waker
 * that dequeues w sees everything the parker wrote before this call).
 */
static inline void weft_waiter_release_lot(weft_waiter *w)
{
	/* Release: pairs with the acquire exchange of the bucket lock (sync/parking_lot.c,
	 * bucket_lock), or with a revoker's acquire load of a biased bucket's flag: either is
	 * a word, 0 when free, unlocked by a plain store. */
	atomic_store_explicit(w->lot_lock, 0, memory_order_release);
}

/*
 * weft_park - sleep while *addr == expected, until weft_unpark(addr, ...) wakes the caller,
 * deadline_ns passes, or ctx is done.
 * Returns: 0 when woken or when *addr != expected at the check (callers re-check their
 *   condition either way); when ctx is done (cancelled, or a deadline of its own or an
 *   ancestor's passed), weft_ctx_err(ctx): ECANCELED or ETIMEDOUT, at once if it already
 *   was; ETIMEDOUT when deadline_ns passed; EINVAL for a NULL addr. The caller must hold a
 *   reference to ctx for the call.
 * Ordering: the comparison is made under the bucket lock that weft_unpark takes, so a wake
 *   cannot be lost. When the caller was woken, whatever the waker wrote before its
 *   weft_unpark() is visible to the caller after it returns 0. When 0 comes from the
 *   comparison (*addr != expected), it rests on a relaxed load of *addr and orders nothing
 *   by itself: re-check the condition with an acquire load (as every weft primitive does).
 * Blocking: yes, through the calling thread's parker. Cancellation: ctx.
 */
WEFT_API int weft_park(_Atomic uint32_t *addr, uint32_t expected, uint64_t deadline_ns,
		       weft_ctx *ctx);

/*
 * weft_unpark - wake up to n callers parked on addr, oldest first (n = INT32_MAX: all).
 * Returns: the number woken. Thread-safety: any thread. Blocking: never sleeps (it takes a
 * bucket lock briefly).
 */
WEFT_API int weft_unpark(const void *addr, int n);

/*
 * weft_waiter_ops_set - install the parker of the calling thread (NULL: the futex parker).
 * The runtime does this on its worker threads. Returns the previous ops.
 */
WEFT_API const weft_waiter_ops *weft_waiter_ops_set(const weft_waiter_ops *ops);

/*
 * weft_exec_id - an identity of the calling execution context for ownership checks
 * (weft_mutex's debug owner): the parker's exec_id() when it has one (inside the runtime,
 * the running task's fiber), else weft_thread_index() + 1. 0 means unknown (the thread
 * index table could not grow). Identities of fibers have the top bit set and never equal
 * a thread's. Cost: a thread-local load and, inside the runtime, one indirect call.
 */
WEFT_API uint32_t weft_exec_id(void);

/* The futex parker, exported so that a custom parker can fall back to it. */
WEFT_API extern const weft_waiter_ops weft_waiter_ops_futex;

#endif
