/*
 * Object pools: Go's sync.Pool for C, built as Bonwick's magazine allocator.
 *
 * A weft_pool hands out fixed-size objects. Each thread (by its weft_thread_index(), see
 * thread.h) owns a cache holding two magazines, a "loaded" one and a "previous" one, of up
 * to `magazine_size` objects each, plus a "hot" slot for one object on top of them (the
 * object a get takes first and a put leaves last). weft_pool_get/weft_pool_put touch only
 * that cache (one cache line of the pool, plus the magazine array) while the hot slot or
 * the loaded or previous magazine has an object to give or room to take one. Only when
 * all are empty (get) or full (put) does the thread visit the shared depot, which keeps
 * full and empty magazines: it trades a whole magazine there, so objects move between
 * threads a magazine at a time.
 * Threads whose index is at or beyond `max_caches` (or that have no index) share one
 * cache kept under the depot's lock: correct, just slower.
 *
 * The depot is protected by a weft_mutex, taken once per magazine exchanged (1 in
 * magazine_size gets or puts at worst, and only when a thread's two magazines are both
 * empty or both full). That lock is also how ABA is avoided: no magazine list is ever
 * manipulated by a lock-free compare-and-swap, so a magazine freed and reused by another
 * thread cannot be mistaken for the one a CAS saw. A lock-free depot (a Treiber stack of
 * magazines with tagged pointers or hazard pointers) would save little on an operation this
 * rare and would need reclamation for magazine memory.
 *
 * Objects are allocated one at a time through weft's allocator (alloc.h), so the
 * allocation hook sees every allocation and weft_pool_trim can give memory back.
 * Constructors and destructors run once per object lifetime (when an object is created
 * and when it is freed), never per get or put: an object comes back from the pool in the
 * state it was put in.
 *
 * Thread exit: a thread's cache is flushed to the depot by a pthread key destructor when
 * the thread exits. Should the thread's index already have been released at that point
 * (key destructors run in no fixed order), the cache is left in place instead, and the next
 * thread that is given the same index inherits its objects (thread.h: what the old holder
 * wrote happens-before the new holder's first use). Either way no object is lost;
 * weft_pool_destroy frees whatever any cache still holds.
 *
 * Debug builds (WEFT_DEBUG_CHECKS) keep a small header before each object: weft_pool_put
 * reports (on stderr, counting it in stats.misuse) and ignores a put of an object that is
 * not out (double put) or that belongs to another pool; objects of pools with neither
 * constructor nor destructor (whose contents the pool need not keep) are filled with 0xDB
 * while cached, so stale reads are visible and a write after put is reported when the
 * object is next handed out; destroy reports objects never put back. AddressSanitizer
 * builds poison every cached object, so a use after put is reported as use-after-poison.
 *
 * Fast path: weft_pool_get and weft_pool_put are static inline below. In a release build of
 * the library, a get or put that its thread's cache can serve costs a handful of
 * instructions: one thread-local load (weft_thread_index, initial-exec TLS), a bounds check
 * against a field of the pool handle itself, then the cache's "hot" slot (one object held
 * outside the magazines: the top of the thread's stack of cached objects) or, when that
 * cannot serve, the loaded magazine (an array and a count), and a counter for stats; no
 * function call, no atomic read-modify-write, no lock, no fence. A get followed by a put on
 * the same thread moves one pointer through the hot slot and back, so consecutive pairs do
 * not wait on each other's count updates (a count stored by one call and loaded by the next
 * is a store-to-load forwarding on every call). Only when the hot slot and the loaded
 * magazine are both empty (get) or both full (put), or the thread has no cache, does it
 * call the library (weft_pool_get_slow_/weft_pool_put_slow_), which swaps in the previous
 * magazine or visits the depot. The library decides at run time, not the caller's compile
 * flags: a library built with WEFT_DEBUG_CHECKS or AddressSanitizer keeps every cache's
 * window shut (no hot slot, capacity 0), so every get and put goes out of line to the
 * checks and poisoning described above, whatever flags the calling code was compiled with.
 *
 * Fibers: inside weft's runtime the caches are per worker thread (fibers on one worker share
 * its cache). A fiber may migrate to another worker between a get and its put; that is
 * fine, because each call finds the cache afresh by the running thread's index, and the
 * inline get and put never block or yield, so nothing else runs on that thread between
 * finding the cache and updating it. The out-of-line paths may park on the depot lock; they
 * take the lock first and only then look the cache up again, so a fiber that resumes on
 * another worker uses that worker's cache.
 *
 *            | get | put | trim | stats | destroy
 *   get      |  -  |  -  |  -   |   -   |    X
 *   put      |  -  |  -  |  -   |   -   |    X
 *   trim     |  -  |  -  |  -   |   -   |    X
 *   destroy  |  X  |  X  |  X   |   X   |    X
 * (X: the caller must keep the two apart; -: any threads, concurrently.)
 */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <stdatomic.h>
#include <weft/common.h>
#include <weft/thread.h>

typedef struct weft_pool weft_pool;

typedef struct weft_pool_config {
	size_t size;          /* object size in bytes; no default (must be set, > 0) */
	size_t align;         /* object alignment, a power of two; default alignof(max_align_t) */
	/* Run on each new object before its first get; return 0, or an errno value that
	 * makes that get fail (the object is freed without the destructor). Default NULL. */
	int (*ctor)(void *obj, void *user);
	/* Run on each object before its memory is freed (trim, destroy, a full depot).
	 * Default NULL. */
	void (*dtor)(void *obj, void *user);
	void *user;           /* passed to ctor and dtor; default NULL */
	size_t magazine_size; /* objects per magazine (< 2^32); a cache holds up to 2x this,
	                         plus one in its hot slot; default 32 */
	size_t depot_limit;   /* full magazines the depot keeps before freeing; default 64 */
	size_t max_caches;    /* per-thread caches (thread indices below this); default
	                         4 x CPUs, at least 16, at most 1024 */
} weft_pool_config;

typedef struct weft_pool_stats {
	uint64_t gets;           /* weft_pool_get calls that returned an object */
	uint64_t puts;           /* weft_pool_put calls that took an object (not NULL, misuse) */
	uint64_t created;        /* objects allocated (and constructed) */
	uint64_t freed;          /* objects destroyed and freed */
	uint64_t depot_full;     /* full magazines in the depot now */
	uint64_t depot_empty;    /* empty magazines in the depot now */
	uint64_t depot_exchanges; /* trips to the depot (magazine trades, shared-cache calls) */
	uint64_t misuse;         /* debug builds: double puts and wrong-pool puts caught */
} weft_pool_stats;

/* weft_pool_config_init - fill cfg with the defaults above (size 0: the caller sets it). */
WEFT_API void weft_pool_config_init(weft_pool_config *cfg);

/*
 * weft_pool_create - a new pool as cfg describes (cfg is copied).
 * Returns: 0; EINVAL (p or cfg NULL, size 0, align not a power of two, magazine_size,
 * depot_limit or max_caches 0, a size that overflows); ENOMEM; EAGAIN (no pthread key
 * left for the thread-exit flush).
 * Allocates: the pool and its cache array; no objects until the first get.
 */
WEFT_API int weft_pool_create(weft_pool **p, const weft_pool_config *cfg);

/*
 * weft_pool_get - an object: from the caller's cache, else a full magazine from the depot,
 * else a newly allocated and constructed one.
 * Returns: the object (aligned as configured), or NULL with errno ENOMEM (allocation
 * failed) or the constructor's error, or EINVAL (p NULL).
 * Inline (see the top of this file); out of line only when the caller's cache is empty.
 * Thread-safety: any thread. Ordering: whatever the last holder wrote to the object before
 * weft_pool_put happens-before this get's return (through the cache's own thread or the
 * depot's mutex). Blocking: may take the depot's mutex briefly (parks through the waiter
 * seam under contention). Allocates: only when no cached object exists.
 */
static inline void *weft_pool_get(weft_pool *p);

/*
 * weft_pool_put - give obj back to p. obj NULL (or p NULL) is a no-op.
 * obj must have come from weft_pool_get on this same pool and not been put since; debug
 * builds detect and ignore both mistakes (stats.misuse), other builds do not.
 * When the caller's cache and the depot are full, the object is destroyed and freed.
 * Inline (see the top of this file); out of line only when the caller's cache is full.
 * Thread-safety: any thread (not only the one that got it). Blocking: as weft_pool_get.
 * Allocates: an empty magazine, rarely; if that fails the object is freed instead.
 */
static inline void weft_pool_put(weft_pool *p, void *obj);

/*
 * weft_pool_trim - destroy and free every object and magazine the depot holds, and those of
 * the calling thread's own cache (and the shared cache of index-less threads). Other
 * threads' caches are not touched (only their owners may): each still holds at most
 * 2 x magazine_size + 1 objects until its thread puts into the depot again, exits, or the
 * pool is destroyed. On glibc, also asks malloc to return free memory to the system.
 * Thread-safety: any thread, concurrently with get and put. Blocking: holds the depot lock
 * while it unlinks the magazines, and frees them after releasing it.
 */
WEFT_API void weft_pool_trim(weft_pool *p);

/*
 * weft_pool_stats_get - counters as above. Each is read on its own (relaxed); under
 * concurrent use they need not agree with each other, and puts (derived for the inline path
 * from each cache's count of objects, not counted per put) may be off by up to a magazine
 * per cache that is exchanging one at that moment. Once get and put have stopped (and what
 * they did is ordered before this call), every counter is exact.
 * Returns: 0, EINVAL (NULL argument).
 */
WEFT_API int weft_pool_stats_get(weft_pool *p, weft_pool_stats *out);

/*
 * weft_pool_destroy - free p, every cached object (through the destructor) and every
 * cache. NULL is ignored. Every object must have been put back first: an object still
 * out is not freed by destroy and must not be put afterwards (it is the caller's leak);
 * debug builds print how many were still out. No other call on p may run concurrently,
 * and no thread that used p may be exiting concurrently (join such threads, or let them
 * finish using p, first): threads that exit later are not affected.
 */
WEFT_API void weft_pool_destroy(weft_pool *p);

/* ---- private: the inline fast path. Do not use these names; they may change. ---- */

struct weft_pool_mag_;

/* hot_ of a shut window (and of slot 0): neither NULL (room) nor an object (objects are
 * aligned to at least alignof(max_align_t)). */
#define WEFT_POOL_SHUT_ ((uintptr_t)1)

/*
 * A thread's cache (private fields, libuv style: read and written only by weft_pool_get/put
 * below and sync/pool.c). The inline window: hot_ is the top cached object, or NULL (room
 * for one), or WEFT_POOL_SHUT_; below it, obj_[0 .. n_) are the loaded magazine's objects
 * and cap_ its size. A shut window (debug and ASan builds, no magazine, slot 0) has hot_
 * SHUT and cap_ 0, so both calls go out of line; hot_ is SHUT only while cap_ is 0.
 * Only the thread holding the cache's index touches it, so nothing here needs an atomic
 * read-modify-write or a fence; hot_, n_ and gets_ are atomics only so that
 * weft_pool_stats_get may read them from another thread (relaxed loads and stores compile
 * to plain moves). Inline puts are not counted: the library derives them as
 * gets_ + n_ + (hot_ holds an object) - base_.
 */
typedef struct weft_pool_cache_ {
	_Alignas(WEFT_PADDING) _Atomic(void *) hot_;
	void **obj_;
	_Atomic uint32_t n_;
	uint32_t cap_;
	_Atomic uint64_t gets_;         /* gets served inline */
	uint32_t nslots_;               /* slot 0 (the pool handle) only: caches + 1 */
	_Atomic uint64_t base_;         /* inline puts = gets_ + n_ + hot - base_ (mod 2^64) */
	_Atomic uint64_t slow_gets_;    /* gets and puts served out of line from this cache */
	_Atomic uint64_t slow_puts_;
	struct weft_pool_mag_ *loaded_; /* the magazine whose slots obj_ shows */
	struct weft_pool_mag_ *prev_;
	weft_pool *pool_;
} weft_pool_cache_;

/*
 * A weft_pool handle points at the first of its caches (sync/pool.c keeps the rest of the
 * pool just before it), so the inline path finds a cache with one load and no pointer
 * chase: the cache of thread index i is ((weft_pool_cache_ *)p)[i + 1], indexed by
 * thread.h's weft_thread_index_plus1_ directly, below the bound in slot 0's nslots_.
 * Slot 0 itself, the slot of a thread that has no index yet, keeps its window shut and
 * sends such a thread out of line, where it gets one.
 */
WEFT_API void *weft_pool_get_slow_(weft_pool *p);
WEFT_API void weft_pool_put_slow_(weft_pool *p, void *obj);

static inline void *weft_pool_get(weft_pool *p)
{
	uint32_t t = weft_thread_index_plus1_; /* thread.h: index + 1, 0 before the first */
	if (WEFT_LIKELY(p != NULL)) {
		weft_pool_cache_ *c = (weft_pool_cache_ *)(void *)p;
		if (WEFT_LIKELY(t < c->nslots_)) {
			c += t;
			/* Relaxed, here and below: only this thread writes the cache; the
			 * atomics are for stats readers. */
			void *o = atomic_load_explicit(&c->hot_, memory_order_relaxed);
			if (WEFT_LIKELY((uintptr_t)o > WEFT_POOL_SHUT_)) {
				atomic_store_explicit(&c->hot_, NULL, memory_order_relaxed);
				atomic_store_explicit(&c->gets_, atomic_load_explicit(&c->gets_,
						memory_order_relaxed) + 1, memory_order_relaxed);
				return o;
			}
			uint32_t n = atomic_load_explicit(&c->n_, memory_order_relaxed);
			if (WEFT_LIKELY(n != 0)) {
				atomic_store_explicit(&c->n_, n - 1, memory_order_relaxed);
				atomic_store_explicit(&c->gets_, atomic_load_explicit(&c->gets_,
						memory_order_relaxed) + 1, memory_order_relaxed);
				return c->obj_[n - 1];
			}
		}
	}
	return weft_pool_get_slow_(p);
}

/* A NULL obj needs no test here: into an empty hot slot it leaves the slot empty; past a
 * full one it moves the hot object into the magazine and empties the slot. Neither changes
 * what the cache holds, and the out-of-line path ignores it. */
static inline void weft_pool_put(weft_pool *p, void *obj)
{
	if (WEFT_UNLIKELY(p == NULL))
		return;
	uint32_t t = weft_thread_index_plus1_;
	weft_pool_cache_ *c = (weft_pool_cache_ *)(void *)p;
	if (WEFT_LIKELY(t < c->nslots_)) {
		c += t;
		/* Relaxed: as in weft_pool_get. */
		void *h = atomic_load_explicit(&c->hot_, memory_order_relaxed);
		if (WEFT_LIKELY(h == NULL)) {
			atomic_store_explicit(&c->hot_, obj, memory_order_relaxed);
			return;
		}
		uint32_t n = atomic_load_explicit(&c->n_, memory_order_relaxed);
		if (WEFT_LIKELY(n < c->cap_)) { /* cap_ != 0: h is an object, not SHUT */
			c->obj_[n] = h;
			atomic_store_explicit(&c->n_, n + 1, memory_order_relaxed);
			atomic_store_explicit(&c->hot_, obj, memory_order_relaxed);
			return;
		}
	}
	weft_pool_put_slow_(p, obj);
}

#endif
