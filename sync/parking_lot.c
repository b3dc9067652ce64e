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
 * fiber already suspended and needs no hand-shake with it (runtime/parker.c). The release
 * comes from the thread that locked (a biased bucket's lock is that thread's flag, B3).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/ctx.h>
#include <weft/thread.h>
#include <weft/waiter.h>

#include "ctx_internal.h"
#include "parking_lot.h"
#include "membarrier.h"
#include "spin_wait.h"

#define LOT_BUCKETS 256 /* power of two */

struct lot_bucket {
	_Atomic uint32_t lock; /* 0 free, 1 held, see bucket_lock */
	/* The bias (see "Biased buckets" below): the thread that may lock by `busy` alone,
	 * as a thread token (lot_self), or 0. Written only by a holder of `lock`. */
	_Atomic uintptr_t bias;
	_Atomic uint32_t busy; /* the bias owner is inside: written by that thread only */
	/* Under `lock`: who took `lock` last, how many times in a row, and the backoff that a
	 * bias revoked before it paid for itself raises (the next needs LOT_BIAS_STREAK <<
	 * shift in a row). */
	uint32_t streak, shift;
	uintptr_t last;
	/* The owner's biased entries since the bias was set: written inside the bucket only
	 * (by the owner; by bucket_bias and bucket_revoke holding `lock` after B2's hand-over). */
	uint64_t uses;
	weft_waiter *head, *tail;
} __attribute__((aligned(WEFT_CACHELINE)));

static struct lot_bucket lot[LOT_BUCKETS]; /* zero: every lock free, every queue empty */

/*
 * The bucket lock: a test-and-test-and-set word. A bucket is held for a few pointer writes
 * (and, in a fiber's park_held, its switch away) and never across a blocking wait or an
 * unpark call, so a waiter spins with backoff and then yields (spin_wait.h, as weft's spinlocks do: no wait depends on another core running,
 * since a holder preempted on this very CPU gets it back). With no sleepers to wake, the
 * unlock is a plain release store, not a read-modify-write: the uncontended lock and
 * unlock cost one locked instruction instead of two. The futex lock this replaces
 * (Drepper's three-state mutex) needed the exchange on unlock to learn whether anyone
 * slept. A biased bucket costs its owner none (below).
 *
 * Biased buckets. The locked exchange still costs several ns (it waits for the store
 * buffer to drain: ~6 ns each on this machine's AMD EPYC), and a park/unpark ping-pong
 * between two tasks on one worker takes the same bucket twice per switch, always from one
 * thread (two exchanges were ~12 of its ~31 ns per switch). A bucket that one thread took
 * LOT_BIAS_STREAK times in a row (more after a revocation, see LOT_BIAS_PAID) is biased to
 * it: that thread then locks it with no locked instruction, by the asymmetric Dekker pair
 * below, and any other thread revokes the bias first, paying a membarrier(2)
 * (sync/membarrier.h: the heavy half).
 *   owner (bias == me):  busy = 1; compiler barrier; if bias == me: inside, else busy = 0
 *                        and take `lock`. Leave: busy = 0 (release).
 *   anyone else:         take `lock`; if bias is another thread's: bias = 0; membarrier;
 *                        wait until busy == 0 (acquire). Inside. Leave: lock = 0.
 * Invariants (why the two never are inside together):
 *   B1 bias changes only under `lock`: set to me by a holder of `lock` (me), cleared by
 *      the revoker holding `lock`. So a holder of `lock` that saw bias 0 or me after its
 *      acquire keeps seeing it until it unlocks.
 *   B2 the membarrier puts a full barrier on the owner's CPU between the revoker's store
 *      of bias = 0 and its load of busy: either it falls before the owner's store of
 *      busy = 1 and the owner's later load sees bias = 0 (it backs out), or after it, and
 *      the revoker sees busy = 1 and waits for the owner's release of it. (A descheduled
 *      owner passes through the scheduler's barrier; liburcu and park.c argue the same.)
 *   B3 busy is a flag, not a count: bucket locks never nest (the rule at the top), so an
 *      owner is inside at most once; the held park's lock is released on the thread that
 *      took it (the fiber that takes over, runtime/parker.c), as `busy` must be.
 *   B4 the token is the thread pointer (lot_self), read afresh on each lock: a fiber that
 *      moved to another thread is another thread. A token reused by a new thread after its
 *      owner exited is harmless: the exited owner left `busy` 0.
 * The biased path is off when membarrier is missing (or WEFT_LOT_NO_BIAS or
 * WEFT_RT_NO_MEMBARRIER is set). It stays on under ThreadSanitizer, which does not know
 * membarrier but needs not: every hand-over of the queue between owner and others is also
 * a release/acquire pair on `busy` or `lock` (B2's wait, and the owner's fall-back to
 * `lock` after a revocation), so TSan checks this path like any other lock.
 */
#define LOT_BIAS_STREAK 64u
#define LOT_BIAS_SHIFT_MAX 12u
/* A revocation (a membarrier: a few microseconds, and an interrupt of every CPU that runs
 * one of the process's threads) costs what a few hundred to a few thousand locked
 * exchanges do, by the number of CPUs. A bias whose owner went in LOT_BIAS_PAID times has
 * paid for it: the next bias needs only the short streak again. One revoked sooner doubles
 * the streak the next one needs, up to LOT_BIAS_STREAK << LOT_BIAS_SHIFT_MAX: so every
 * revocation follows either that many entries without a locked instruction or an
 * exponentially longer streak of locked ones. Registering for membarrier (once per
 * process, on the first bias) is a system call made holding the bucket lock. */
#define LOT_BIAS_PAID 16384u

/* The calling thread's token: its thread pointer (never 0), read afresh (B4). Elsewhere
 * no token, and no bias. */
#if defined(__x86_64__) || defined(__aarch64__)
#define LOT_BIAS 1
static inline uintptr_t lot_self(void)
{
	uint64_t t;
#if defined(__x86_64__)
	__asm__ __volatile__("movq %%fs:0, %0" : "=r"(t) : : "memory");
#else
	__asm__ __volatile__("mrs %0, tpidr_el0" : "=r"(t) : : "memory");
#endif
	return (uintptr_t)t;
}
#else
#define LOT_BIAS 0
static inline uintptr_t lot_self(void)
{
	return 1; /* never stored as a bias: bucket_bias is never called */
}
#endif

/* 0 not yet asked, 1 membarrier registered, 2 not available (no bias ever). */
static _Atomic int lot_bias_state;
/* For tests: biases set and revoked (relaxed counters, rare paths only). */
static _Atomic uint64_t lot_biased_count, lot_revoked_count;

static __attribute__((noinline)) bool lot_bias_allowed_slow(void)
{
	/* WEFT_RT_NO_MEMBARRIER (runtime/park.c's opt-out) turns this user of it off too. */
	const char *off = getenv("WEFT_RT_NO_MEMBARRIER");
	bool no = off != NULL && *off != '\0' && *off != '0';
	int st = !no && weft_membarrier_register_("WEFT_LOT_NO_BIAS") ? 1 : 2;
	/* Relaxed: registration is idempotent; racing callers store the same answer, and the
	 * registration itself is the kernel's (it precedes our first membarrier). */
	atomic_store_explicit(&lot_bias_state, st, memory_order_relaxed);
	return st == 1;
}

static inline bool lot_bias_allowed(void)
{
	/* Relaxed: see lot_bias_allowed_slow. */
	int st = atomic_load_explicit(&lot_bias_state, memory_order_relaxed);
	return st == 0 ? lot_bias_allowed_slow() : st == 1;
}

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

/* Holding `lock`, found b biased to another thread: take the bias away (B1, B2). */
static __attribute__((noinline)) void bucket_revoke(struct lot_bucket *b)
{
	/* Relaxed: B1 (we hold `lock`); the barriers below order it. */
	atomic_store_explicit(&b->bias, 0, memory_order_relaxed);
	/* Seq_cst: the store above before the membarrier (the kernel fences too). */
	atomic_thread_fence(memory_order_seq_cst);
	/* B2. It fails for want of kernel memory, or unregistered (a child after fork(2),
	 * which does not inherit the registration): register again and retry. */
	while (!weft_membarrier_()) {
		weft_membarrier_register_(NULL);
		sched_yield();
	}
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	/* Acquire: pairs with the owner's release of busy (bucket_unlock): its queue writes
	 * are visible. The owner is inside for a few writes or one fiber switch. */
	while (atomic_load_explicit(&b->busy, memory_order_acquire) != 0)
		weft_spin_wait_once(&s);
	if (b->uses >= LOT_BIAS_PAID)
		b->shift = 0;
	else if (b->shift < LOT_BIAS_SHIFT_MAX)
		b->shift++;
	b->last = 0;
	b->streak = 0;
	atomic_fetch_add_explicit(&lot_revoked_count, 1, memory_order_relaxed);
}

/* Holding `lock`, the same thread LOT_BIAS_STREAK << shift times in a row: bias b to it. */
static __attribute__((noinline)) void bucket_bias(struct lot_bucket *b, uintptr_t me)
{
	b->streak = 0;
	if (!lot_bias_allowed())
		return;
	b->uses = 0;
	/* Relaxed: B1; we read it back ourselves, others under `lock`. */
	atomic_store_explicit(&b->bias, me, memory_order_relaxed);
	atomic_fetch_add_explicit(&lot_biased_count, 1, memory_order_relaxed);
}

/*
 * Lock b; returns the word that bucket_unlock (or weft_waiter_release_lot, through
 * w->lot_lock) stores 0 to: `busy` on the owner's biased path, else `lock`.
 */
static inline _Atomic uint32_t *bucket_lock(struct lot_bucket *b)
{
	uintptr_t me = lot_self();
	/* Relaxed: a hint; the load after busy = 1 decides (B2). */
	if (LOT_BIAS && atomic_load_explicit(&b->bias, memory_order_relaxed) == me) {
#if defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS
		/* Relaxed: our own flag (B3). */
		if (atomic_load_explicit(&b->busy, memory_order_relaxed) != 0) {
			fprintf(stderr, "weft: a parking-lot bucket locked twice by one thread (a "
					"park_held parker that has not released it yet?)\n");
			abort();
		}
#endif
		/* Relaxed store, then a compiler barrier only: membarrier is the other half (B2). */
		atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		/* Acquire: keeps the queue accesses after this check (on x86-64 a plain load);
		 * the writes of whoever held b before are ours already: our own, or a revoker's,
		 * which cleared bias and so sent us to `lock` (B1). */
		if (atomic_load_explicit(&b->bias, memory_order_acquire) == me) {
			b->uses++;
			return &b->busy;
		}
		/* Release: pairs with the revoker's acquire load of busy. */
		atomic_store_explicit(&b->busy, 0, memory_order_release);
	}
	/* Acquire: pairs with the release store in bucket_unlock (the previous holder's writes
	 * to the queue are visible). */
	if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire) != 0)
		bucket_lock_slow(b);
	/* Relaxed: B1 (we hold `lock`). */
	uintptr_t bias = atomic_load_explicit(&b->bias, memory_order_relaxed);
	if (bias != 0 && bias != me)
		bucket_revoke(b);
	if (b->last != me) {
		b->last = me;
		b->streak = 0;
	} else if (++b->streak >= LOT_BIAS_STREAK << b->shift && LOT_BIAS) {
		bucket_bias(b, me);
	}
	return &b->lock;
}

static inline void bucket_unlock(_Atomic uint32_t *locked)
{
	/* Release: pairs with the acquire exchanges in bucket_lock / bucket_lock_slow, or (busy)
	 * with a revoker's acquire load in bucket_revoke. */
	atomic_store_explicit(locked, 0, memory_order_release);
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
	_Atomic uint32_t *locked = bucket_lock(b);
	bool was_queued = w->queued;
	if (was_queued)
		lot_remove(b, w);
	bucket_unlock(locked);
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
	_Atomic uint32_t *locked = bucket_lock(b);
	if (!lot_check_holds(c)) {
		bucket_unlock(locked);
		return 0;
	}
	lot_enqueue(b, &w);
	bucket_unlock(locked);

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
	_Atomic uint32_t *locked = bucket_lock(b);
	if (!lot_check_holds(c)) {
		bucket_unlock(locked);
		return 0;
	}
	lot_enqueue(b, &w);
	w.lot_lock = locked; /* `lock` or, biased, `busy` */
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
	_Atomic uint32_t *locked = bucket_lock(b);
	weft_waiter *w = b->head;
	while (w != NULL && w->addr != addr)
		w = w->next;
	if (w != NULL) {
		lot_remove(b, w);
		w->reason = 0;
	}
	bucket_unlock(locked);
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
	_Atomic uint32_t *locked = bucket_lock(b);
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
	bucket_unlock(locked);
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

void weft_lot_bias_counts_(uint64_t *biased, uint64_t *revoked)
{
	/* Relaxed: statistics. */
	*biased = atomic_load_explicit(&lot_biased_count, memory_order_relaxed);
	*revoked = atomic_load_explicit(&lot_revoked_count, memory_order_relaxed);
}

unsigned weft_lot_bucket_index_(const void *addr)
{
	return (unsigned)(lot_bucket_of(addr) - lot);
}

void weft_lot_locked_call_(const void *addr, void (*fn)(void *), void *arg)
{
	struct lot_bucket *b = lot_bucket_of(addr);
	_Atomic uint32_t *locked = bucket_lock(b);
	fn(arg);
	bucket_unlock(locked);
}

void weft_lot_cancel(weft_waiter *w)
{
	struct lot_bucket *b = lot_bucket_of(w->addr);
	_Atomic uint32_t *locked = bucket_lock(b);
	bool was_queued = w->queued;
	if (was_queued) {
		lot_remove(b, w);
		w->reason = ECANCELED;
	}
	bucket_unlock(locked);
	if (was_queued)
		w->ops->unpark(w);
}
