/*
 * The parking lot: a fixed hash table of buckets, each a lock and a FIFO of waiter records
 * (WebKit's ParkingLot and Go's semaphore table work the same way).
 *
 * Protocol (why no wake-up is lost):
 *   parker: lock bucket; if *addr != expected: unlock, return; enqueue w; unlock; park(w).
 *           (A park with neither ctx nor deadline, by a parker with park_held: lock; check;
 *           enqueue w; park_held(w), which unlocks once the parker can be woken.)
 *   waker:  (changes *addr); lock bucket; dequeue up to n; unlock; unpark each.
 * The waker's change to *addr precedes its lock of the bucket; the parker compares under
 * that lock. Either the parker locked first, and is in the queue the waker scans, or the
 * waker locked first, and the parker sees the new value and does not sleep.
 *
 * Invariants:
 *   - w->queued is true exactly while w is in its bucket's queue; both change together,
 *     under the bucket lock.
 *   - Whoever dequeues w (weft_unpark, weft_lot_cancel, or its own timed-out owner) owns
 *     the one wake: it sets w->reason under the bucket lock and, unless it is the owner,
 *     calls w->ops->unpark(w) exactly once after unlocking.
 *   - An owner whose park timed out but finds w dequeued waits for that coming unpark
 *     before returning, so a waker never touches a dead record.
 *
 * Lock order: context lock, then bucket lock. Bucket locks never nest, are never held
 * across an unpark call, and are held across a park call only for a parker's park_held
 * (include/weft/waiter.h), which releases the lock before it blocks: a fiber parker holds
 * it across its switch away, so that a waker (who dequeues under the lock) finds the
 * fiber already suspended and needs no hand-shake with it (runtime/parker.c).
 */
#include <errno.h>

#include <weft/ctx.h>
#include <weft/thread.h>
#include <weft/waiter.h>

#include "ctx_internal.h"
#include "parking_lot.h"
#include "spin_wait.h"

#define LOT_BUCKETS 256 /* power of two */

struct lot_bucket {
	_Atomic uint32_t lock; /* 0 free, 1 held, see bucket_lock */
	weft_waiter *head, *tail;
} __attribute__((aligned(WEFT_CACHELINE)));

static struct lot_bucket lot[LOT_BUCKETS]; /* zero: every lock free, every queue empty */

/*
 * The bucket lock: a test-and-test-and-set word. A bucket is held for a few pointer writes
 * (and, in a fiber's park_held, its switch away) and never across a blocking wait or an
 * unpark call, so a waiter spins with backoff and then yields (spin_wait.h, as weft's spinlocks do: no wait depends on another core running,
 * since a holder preempted on this very CPU gets it back). With no sleepers to wake, the
 * unlock is a plain release store, not a read-modify-write: the uncontended lock and
 * unlock cost one locked instruction instead of two, and every park and unpark takes one
 * bucket (a park/unpark ping-pong between two fibers: four locked instructions per switch
 * before, two now). The futex lock this replaces (Drepper's three-state mutex) needed the
 * exchange on unlock to learn whether anyone slept.
 */
static __attribute__((noinline)) void bucket_lock_slow(struct lot_bucket *b)
{
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	for (;;) {
		/* Test first, so that waiters share the line instead of bouncing it. */
		while (atomic_load_explicit(&b->lock, memory_order_relaxed) != 0)
			weft_spin_wait_once(&s);
		/* Acquire: pairs with the release store in bucket_unlock. */
		if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire) == 0)
			return;
		weft_spin_wait_once(&s);
	}
}

static inline void bucket_lock(struct lot_bucket *b)
{
	/* Acquire: pairs with the release store in bucket_unlock (the previous holder's writes
	 * to the queue are visible). */
	if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire) != 0)
		bucket_lock_slow(b);
}

static inline void bucket_unlock(struct lot_bucket *b)
{
	/* Release: pairs with the acquire exchanges in bucket_lock / bucket_lock_slow. */
	atomic_store_explicit(&b->lock, 0, memory_order_release);
}

/* initial-exec: a plain %fs-relative load, no __tls_get_addr call in the shared library
 * (the waiter seam is on every park and unpark path). */
static __thread const weft_waiter_ops *thread_ops __attribute__((tls_model("initial-exec")));
/* thread_ops when it has a park_held, else NULL: lot_held_parker's one load and test. */
static __thread const weft_waiter_ops *thread_held_ops __attribute__((tls_model("initial-exec")));

static struct lot_bucket *lot_bucket_of(const void *addr)
{
	/* Fibonacci hashing of the address; drop the low bits that alignment zeroes. */
	uint64_t h = ((uint64_t)(uintptr_t)addr >> 2) * UINT64_C(0x9E3779B97F4A7C15);
	struct lot_bucket *b = &lot[h >> (64 - 8)];
	/* No code: it makes b one opaque pointer, so that the compiler keeps it in a register
	 * instead of the table and the index, each use recomputing the address from them
	 * (three times on a park, twice on an unpark, in GCC's code). */
	__asm__("" : "+r"(b));
	return b;
}

_Static_assert(LOT_BUCKETS == 1 << 8, "lot_bucket_of shifts for 256 buckets");

static void lot_enqueue(struct lot_bucket *b, weft_waiter *w)
{
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	w->queued = true;
}

static void lot_remove(struct lot_bucket *b, weft_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->queued = false;
}

uint32_t weft_exec_id(void)
{
	const weft_waiter_ops *ops = thread_ops;
	if (ops != NULL && ops->exec_id != NULL)
		return ops->exec_id();
	return weft_thread_index() + 1; /* WEFT_THREAD_INDEX_NONE + 1 wraps to 0: unknown */
}

const weft_waiter_ops *weft_waiter_ops_set(const weft_waiter_ops *ops)
{
	const weft_waiter_ops *old = thread_ops ? thread_ops : &weft_waiter_ops_futex;
	thread_ops = ops;
	thread_held_ops = ops != NULL && ops->park_held != NULL ? ops : NULL;
	return old;
}

/*
 * The owner gives up waiting (timeout or cancellation found at registration). If w is still
 * queued, take it out and report why; otherwise a waker owns the wake: wait for it.
 */
static int lot_leave(struct lot_bucket *b, weft_waiter *w, int why)
{
	bucket_lock(b);
	bool was_queued = w->queued;
	if (was_queued)
		lot_remove(b, w);
	bucket_unlock(b);
	if (was_queued)
		return why;
	while (w->ops->park(w, WEFT_NO_DEADLINE) != 0)
		;
	return w->reason;
}

/* What a park compares under the bucket lock: a 32-bit word, or some bits of a 64-bit one. */
typedef struct lot_check {
	_Atomic uint32_t *w32;
	_Atomic uint64_t *w64;
	uint64_t mask, expected;
} lot_check;

static inline bool lot_check_holds(const lot_check *c)
{
	/* Relaxed: the bucket lock orders these loads against the waker's store (see top). */
	if (c->w32 != NULL)
		return atomic_load_explicit(c->w32, memory_order_relaxed) == (uint32_t)c->expected;
	return (atomic_load_explicit(c->w64, memory_order_relaxed) & c->mask) == c->expected;
}

static inline int lot_park(const void *key, const lot_check *c, uint64_t deadline_ns,
			   weft_ctx *ctx)
{
	if (ctx != NULL) {
		int err = weft_ctx_err(ctx);
		if (err != 0)
			return err;
		uint64_t d = weft_ctx_deadline(ctx);
		if (d < deadline_ns)
			deadline_ns = d;
	}
	if (deadline_ns != WEFT_NO_DEADLINE && weft_now_ns() >= deadline_ns)
		return ETIMEDOUT;

	/* Only the fields read before someone writes them: the record is on every park's
	 * path, and zeroing all of it costs a rep stos. The queue links and `queued` are set
	 * by lot_enqueue, `reason` by whoever dequeues, `lot_lock` below, the context links by
	 * weft_ctx_waiter_add. */
	weft_waiter w;
	atomic_init(&w.word, 0);
	w.data = NULL;
	w.ops = thread_ops ? thread_ops : &weft_waiter_ops_futex;
	w.addr = key;
	w.ctx = NULL;
	struct lot_bucket *b = lot_bucket_of(key);
	bucket_lock(b);
	if (!lot_check_holds(c)) {
		bucket_unlock(b);
		return 0;
	}
	lot_enqueue(b, &w);
	bucket_unlock(b);

	int r;
	if (ctx != NULL && (r = weft_ctx_waiter_add(ctx, &w)) != 0) {
		/* Cancelled between the check above and the registration. */
		return lot_leave(b, &w, r);
	}
	r = w.ops->park(&w, deadline_ns);
	r = r == 0 ? w.reason : lot_leave(b, &w, ETIMEDOUT);
	if (ctx != NULL) {
		weft_ctx_waiter_remove(ctx, &w);
		/* A cancel wakes with ECANCELED, but the context may have ended with ETIMEDOUT
		 * (cancelled after its deadline): report the context's own error, as
		 * weft_ctx_err does, so every blocking call agrees with it. */
		int err = r != 0 ? weft_ctx_err(ctx) : 0;
		if (err != 0)
			r = err;
	}
	return r;
}

/*
 * The common park, with no ctx and no deadline, by a parker that has park_held (the
 * runtime's): lot_park, except that the parker releases the bucket lock itself, once it
 * is ready to be woken (weft_waiter_ops.park_held) — a waker dequeues w under this lock,
 * so it cannot unpark w before then. Lock-order rule above: the lock is not held across a
 * blocking wait, only across the parker's hand-over (for a fiber: its switch away).
 * Inline in weft_park and weft_park64_; everything else goes to the out-of-line lot_park.
 */
static inline int lot_park_held(const void *key, const lot_check *c, const weft_waiter_ops *ops)
{
	/* The fields read before written, as in lot_park, less two: `data` is the parker's
	 * (park_held writes it before anyone reads it), and `ctx` is read only by the context
	 * code, which never sees this waiter (no ctx), and by lot_park's ctx branches. */
	weft_waiter w;
	atomic_init(&w.word, 0);
	w.ops = ops;
	w.addr = key;
	struct lot_bucket *b = lot_bucket_of(key);
	bucket_lock(b);
	if (!lot_check_holds(c)) {
		bucket_unlock(b);
		return 0;
	}
	lot_enqueue(b, &w);
	w.lot_lock = &b->lock;
	/* Woken: by a weft_unpark, whose reason is 0 (with no ctx, no weft_lot_cancel can have
	 * dequeued w), so there is no need to read w.reason. */
	if (ops->park_held(&w, WEFT_NO_DEADLINE) == 0)
		return 0;
	/* (No deadline: not expected.) The bucket from w.addr, not from b or key: neither has
	 * to be kept in a register across the park. */
	return lot_leave(lot_bucket_of(w.addr), &w, ETIMEDOUT);
}

/* The parker of this thread, if this park goes to lot_park_held. */
static inline const weft_waiter_ops *lot_held_parker(uint64_t deadline_ns, weft_ctx *ctx)
{
	if (ctx != NULL || deadline_ns != WEFT_NO_DEADLINE)
		return NULL;
	return thread_held_ops;
}

static __attribute__((noinline)) int lot_park32(_Atomic uint32_t *addr, uint32_t expected,
						uint64_t deadline_ns, weft_ctx *ctx)
{
	lot_check c = { .w32 = addr, .expected = expected };
	return lot_park(addr, &c, deadline_ns, ctx);
}

int weft_park(_Atomic uint32_t *addr, uint32_t expected, uint64_t deadline_ns, weft_ctx *ctx)
{
	if (addr == NULL)
		return EINVAL;
	const weft_waiter_ops *held = lot_held_parker(deadline_ns, ctx);
	if (held == NULL)
		return lot_park32(addr, expected, deadline_ns, ctx);
	lot_check c = { .w32 = addr, .expected = expected };
	return lot_park_held(addr, &c, held);
}

int weft_park64_(const void *key, _Atomic uint64_t *word, uint64_t mask, uint64_t expected,
		 uint64_t deadline_ns, weft_ctx *ctx)
{
	if (key == NULL || word == NULL)
		return EINVAL;
	lot_check c = { .w64 = word, .mask = mask, .expected = expected };
	const weft_waiter_ops *held = lot_held_parker(deadline_ns, ctx);
	if (held != NULL)
		return lot_park_held(key, &c, held);
	return lot_park(key, &c, deadline_ns, ctx);
}

/* weft_unpark(addr, 1): one waiter (a mutex, a semaphore post, a hand-over), no list to
 * gather. */
static inline int lot_unpark_one(const void *addr)
{
	struct lot_bucket *b = lot_bucket_of(addr);
	bucket_lock(b);
	weft_waiter *w = b->head;
	while (w != NULL && w->addr != addr)
		w = w->next;
	if (w != NULL) {
		lot_remove(b, w);
		w->reason = 0;
	}
	bucket_unlock(b);
	if (w == NULL)
		return 0;
	w->ops->unpark(w);
	return 1;
}

static __attribute__((noinline)) int lot_unpark_many(const void *addr, int n)
{
	struct lot_bucket *b = lot_bucket_of(addr);
	weft_waiter *woken = NULL, **tail = &woken;
	int count = 0;
	bucket_lock(b);
	for (weft_waiter *w = b->head, *next; w != NULL && count < n; w = next) {
		next = w->next;
		if (w->addr != addr)
			continue;
		lot_remove(b, w);
		w->reason = 0;
		w->next = NULL;
		*tail = w;
		tail = &w->next;
		count++;
	}
	bucket_unlock(b);
	for (weft_waiter *w = woken, *next; w != NULL; w = next) {
		next = w->next; /* read before the unpark: w may be gone after it */
		w->ops->unpark(w);
	}
	return count;
}

int weft_unpark(const void *addr, int n)
{
	if (addr == NULL || n <= 0)
		return 0;
	return n == 1 ? lot_unpark_one(addr) : lot_unpark_many(addr, n);
}

void weft_lot_cancel(weft_waiter *w)
{
	struct lot_bucket *b = lot_bucket_of(w->addr);
	bucket_lock(b);
	bool was_queued = w->queued;
	if (was_queued) {
		lot_remove(b, w);
		w->reason = ECANCELED;
	}
	bucket_unlock(b);
	if (was_queued)
		w->ops->unpark(w);
}
