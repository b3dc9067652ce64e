/*
 * pool: threads get and put fixed-size objects (64 B and 1 KiB). Two workloads per
 * thread count:
 *   "same"    every thread does get/put pairs on its own (one op = one pair);
 *   "handoff" P threads get objects and pass them through a weft mpmc queue to C threads
 *             that put them back (allocated on one thread, released on another; one op =
 *             one object through; the queue's cost is the same for every implementation).
 * Implementations: glibc malloc/free, a mutex-protected free list, a lock-free Treiber
 * stack (tagged indices over a preallocated slab, so no ABA), and weft_pool.
 * Checks: every object got was put back exactly once by the end (counts per thread; the
 * free list, stack and pool must account for every object), no get returned NULL twice in
 * a row without progress.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <weft/pool.h>
#include <weft/queue.h>

#define POOL_BATCH 64
#define POOL_TRIES 64
#define TREIBER_SLAB 16384u
#define HANDOFF_CAPACITY 1024

typedef struct pcount {
	_Alignas(BENCH_PAD) uint64_t got, put;
} pcount;

typedef struct pool_state {
	size_t size;
	bool handoff;
	unsigned P, C, threads;
	pcount *counts; /* per bench thread */
	weft_queue *q;
	_Alignas(BENCH_PAD) _Atomic unsigned warm_done;
	_Alignas(BENCH_PAD) _Atomic unsigned end_done;
	/* mutex free list */
	_Alignas(BENCH_PAD) pthread_mutex_t lock;
	void *free_head;
	/* Treiber stack: top = tag << 32 | (index + 1), 0 index = empty */
	_Alignas(BENCH_PAD) _Atomic uint64_t top;
	_Atomic uint32_t *next; /* per slab object: index + 1 of the one below it */
	char *slab;
	size_t stride;
	/* weft_pool */
	weft_pool *pool;
} pool_state;

typedef struct pool_alloc {
	void *(*get)(pool_state *s);
	void (*put)(pool_state *s, void *o);
} pool_alloc;

/* ---- implementations ----
 * Each is inlined into its op loop (IMPL), as a user's code would inline it: malloc and
 * free stay calls into glibc, the free list and Treiber stack are their own inline code,
 * and weft_pool's get/put are pool.h's static inline fast paths. Without this, gcc keeps
 * some of them out of line and every implementation pays for an extra call. */
#define IMPL static inline __attribute__((always_inline))

IMPL void *m_get(pool_state *s)
{
	return malloc(s->size);
}

IMPL void m_put(pool_state *s, void *o)
{
	free(o);
}

IMPL void *fl_get(pool_state *s)
{
	pthread_mutex_lock(&s->lock);
	void *o = s->free_head;
	if (o)
		s->free_head = *(void **)o;
	pthread_mutex_unlock(&s->lock);
	return o ? o : malloc(s->size);
}

IMPL void fl_put(pool_state *s, void *o)
{
	pthread_mutex_lock(&s->lock);
	*(void **)o = s->free_head;
	s->free_head = o;
	pthread_mutex_unlock(&s->lock);
}

/* Tagged-index Treiber stack: the tag changes on every successful CAS, so a top that was
 * popped and pushed back in between is not mistaken for the one read (no ABA). */
IMPL void *tr_get(pool_state *s)
{
	/* Acquire: pairs with the release CAS in tr_put, so next[] of the top is visible. */
	uint64_t t = atomic_load_explicit(&s->top, memory_order_acquire);
	for (;;) {
		uint32_t idx = (uint32_t)t;
		if (idx == 0)
			return NULL; /* slab exhausted: every object is out */
		/* Relaxed: may be stale if another thread pops idx first; the tag makes that
		 * thread's CAS win and ours fail. */
		uint32_t below = atomic_load_explicit(&s->next[idx - 1], memory_order_relaxed);
		uint64_t nt = ((t >> 32) + 1) << 32 | below;
		/* Acquire on success and failure: pairs with tr_put's release. */
		if (atomic_compare_exchange_weak_explicit(&s->top, &t, nt, memory_order_acquire,
							  memory_order_acquire))
			return s->slab + (size_t)(idx - 1) * s->stride;
	}
}

IMPL void tr_put(pool_state *s, void *o)
{
	uint32_t idx = (uint32_t)(((char *)o - s->slab) / s->stride) + 1;
	uint64_t t = atomic_load_explicit(&s->top, memory_order_relaxed);
	for (;;) {
		atomic_store_explicit(&s->next[idx - 1], (uint32_t)t, memory_order_relaxed);
		uint64_t nt = ((t >> 32) + 1) << 32 | idx;
		/* Release: pairs with tr_get's acquire: next[] and the object's contents. */
		if (atomic_compare_exchange_weak_explicit(&s->top, &t, nt, memory_order_release,
							  memory_order_relaxed))
			return;
	}
}

IMPL void *wp_get(pool_state *s)
{
	return weft_pool_get(s->pool);
}

IMPL void wp_put(pool_state *s, void *o)
{
	weft_pool_put(s->pool, o);
}

static const pool_alloc a_malloc = { m_get, m_put }, a_freelist = { fl_get, fl_put },
			a_treiber = { tr_get, tr_put }, a_weft = { wp_get, wp_put };

/* ---- state ---- */

static void *pool_create_with(int which, const bench_shape *sh, char *err, size_t len)
{
	pool_state *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->size = sh->capacity;
	s->handoff = sh->producers > 0;
	s->P = sh->producers;
	s->C = sh->consumers;
	s->threads = sh->threads;
	s->counts = aligned_alloc(BENCH_PAD, sizeof *s->counts * sh->threads);
	if (!s->counts)
		goto fail;
	memset(s->counts, 0, sizeof *s->counts * sh->threads);
	pthread_mutex_init(&s->lock, NULL);
	if (s->handoff && weft_queue_create(&s->q, WEFT_QUEUE_MPMC, HANDOFF_CAPACITY) != 0) {
		snprintf(err, len, "weft_queue_create failed");
		goto fail;
	}
	if (which == 2) {
		s->stride = (s->size + 63) & ~(size_t)63;
		s->slab = aligned_alloc(64, s->stride * TREIBER_SLAB);
		s->next = malloc(sizeof *s->next * TREIBER_SLAB);
		if (!s->slab || !s->next)
			goto fail;
		memset(s->slab, 0, s->stride * TREIBER_SLAB); /* resident before timing */
		for (uint32_t i = 0; i < TREIBER_SLAB; i++)
			atomic_init(&s->next[i], i); /* below object i: i - 1 (index + 1 = i) */
		atomic_init(&s->top, TREIBER_SLAB);
	} else if (which == 3) {
		weft_pool_config cfg;
		weft_pool_config_init(&cfg);
		cfg.size = s->size;
		int rc = weft_pool_create(&s->pool, &cfg);
		if (rc) {
			snprintf(err, len, "weft_pool_create: %s", strerror(rc));
			goto fail;
		}
	}
	return s;
fail:
	if (s->q)
		weft_queue_destroy(s->q);
	free(s->slab);
	free(s->next);
	free(s->counts);
	free(s);
	return NULL;
}

static void pool_destroy(void *p)
{
	pool_state *s = p;
	while (s->free_head) {
		void *o = s->free_head;
		s->free_head = *(void **)o;
		free(o);
	}
	weft_queue_destroy(s->q);
	weft_pool_destroy(s->pool);
	free(s->slab);
	free(s->next);
	free(s->counts);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void pool_assign(const bench_shape *sh, unsigned i, bench_thread *t)
{
	if (sh->producers == 0)
		return; /* same-thread: role 0, counted (the default) */
	if (i < sh->producers) {
		t->role = 0;
		t->role_id = i;
		t->counted = false;
		t->has_quota = true;
	} else {
		t->role = 1;
		t->role_id = i - sh->producers;
		t->counted = true;
		t->has_quota = false;
	}
}

/* ---- ops ---- */

/* The loop is the same for every implementation. Its own counts stay in a register and
 * reach memory once per batch: counted in memory per pair, the byte store through o (which
 * may alias anything) made each pair reload, add to and store two counters, a
 * store-to-load dependency of the harness's own, as long as the fastest implementations'
 * whole get/put. */
static uint64_t same_op(pool_state *s, const pool_alloc *a, bench_thread *t)
{
	pcount *c = &s->counts[t->id];
	uint64_t done = 0;
	for (int i = 0; i < POOL_BATCH; i++) {
		char *o = a->get(s);
		if (!o)
			break;
		*(volatile char *)o = (char)i; /* touch it, as a user would */
		a->put(s, o);
		done++;
	}
	c->got += done;
	c->put += done;
	return done;
}

static uint64_t produce(pool_state *s, const pool_alloc *a, bench_thread *t)
{
	pcount *c = &s->counts[t->id];
	uint64_t done = 0;
	unsigned tries = 0, spins = 0;
	while (done < POOL_BATCH) {
		char *o = a->get(s);
		if (o) {
			c->got++;
			*(volatile char *)o = 1;
			if (weft_queue_push(s->q, o) == 0) {
				done++;
				continue;
			}
			a->put(s, o); /* queue full: give it back here */
			c->put++;
		}
		if (++tries >= POOL_TRIES)
			break;
		bench_backoff(&spins);
	}
	return done;
}

static uint64_t consume(pool_state *s, const pool_alloc *a, bench_thread *t)
{
	pcount *c = &s->counts[t->id];
	uint64_t done = 0;
	unsigned tries = 0, spins = 0;
	while (done < POOL_BATCH) {
		void *o;
		if (weft_queue_pop(s->q, &o) == 0) {
			a->put(s, o);
			c->put++;
			done++;
			continue;
		}
		if (++tries >= POOL_TRIES)
			break;
		bench_backoff(&spins);
	}
	return done;
}

static uint64_t op_with(void *p, bench_thread *t, const pool_alloc *a)
{
	pool_state *s = p;
	if (!s->handoff)
		return same_op(s, a, t);
	return t->role == 0 ? produce(s, a, t) : consume(s, a, t);
}

/* Hand-off: producers say they stopped; consumers drain until all have and it is empty.
 * Returns the objects drained (they count toward an ops-mode run). */
static uint64_t settle_with(void *p, bench_thread *t, int phase, const pool_alloc *a)
{
	pool_state *s = p;
	if (!s->handoff)
		return 0;
	_Atomic unsigned *done = phase == BENCH_SETTLE_WARMUP ? &s->warm_done : &s->end_done;
	if (t->role == 0) {
		/* Release: pairs with the consumers' acquire below: our pushes are complete. */
		atomic_fetch_add_explicit(done, 1, memory_order_release);
		return 0;
	}
	pcount *c = &s->counts[t->id];
	unsigned spins = 0;
	uint64_t n = 0;
	for (;;) {
		bool all = atomic_load_explicit(done, memory_order_acquire) == s->P;
		void *o;
		if (weft_queue_pop(s->q, &o) == 0) {
			a->put(s, o);
			c->put++;
			spins = 0;
			n++;
			continue;
		}
		if (all)
			return n;
		bench_backoff(&spins);
	}
}

static int pool_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	pool_state *s = p;
	uint64_t got = 0, put = 0;
	for (unsigned i = 0; i < s->threads; i++) {
		got += s->counts[i].got;
		put += s->counts[i].put;
	}
	if (got != put) {
		snprintf(err, len, "%llu objects got, %llu put back", (unsigned long long)got,
			 (unsigned long long)put);
		return -1;
	}
	if (s->pool) {
		weft_pool_stats st;
		weft_pool_stats_get(s->pool, &st);
		if (st.gets != got || st.puts != put || st.misuse != 0) {
			snprintf(err, len, "weft_pool counted %llu gets, %llu puts for %llu",
				 (unsigned long long)st.gets, (unsigned long long)st.puts,
				 (unsigned long long)got);
			return -1;
		}
	}
	if (s->slab) { /* every slab object back on the stack, each once */
		uint64_t t = atomic_load_explicit(&s->top, memory_order_acquire);
		uint32_t k = 0;
		for (uint32_t idx = (uint32_t)t; idx != 0 && k <= TREIBER_SLAB; k++)
			idx = atomic_load_explicit(&s->next[idx - 1], memory_order_relaxed);
		if (k != TREIBER_SLAB) {
			snprintf(err, len, "Treiber stack holds %u of %u objects", k, TREIBER_SLAB);
			return -1;
		}
	}
	return 0;
}

#define POOL_IMPL(id, which, alloc, nm, what)                                                   \
	static void *create_##id(const bench_shape *sh, const bench_cfg *cfg, char *err,       \
				 size_t len)                                                    \
	{                                                                                       \
		return pool_create_with(which, sh, err, len);                                   \
	}                                                                                       \
	static uint64_t op_##id(void *p, bench_thread *t)                                       \
	{                                                                                       \
		return op_with(p, t, &alloc);                                                   \
	}                                                                                       \
	static uint64_t settle_##id(void *p, bench_thread *t, int phase)                        \
	{                                                                                       \
		return settle_with(p, t, phase, &alloc);                                        \
	}
#define POOL_ROW(id, nm, what)                                                                  \
	{ nm, what, NULL, create_##id, pool_destroy, NULL, NULL, op_##id, settle_##id,          \
	  pool_verify, pool_assign }

POOL_IMPL(malloc, 0, a_malloc, "malloc", "glibc malloc/free")
POOL_IMPL(freelist, 1, a_freelist, "mutex_freelist", "pthread_mutex around a free list")
POOL_IMPL(treiber, 2, a_treiber, "treiber", "lock-free Treiber stack, tagged indices")
POOL_IMPL(weft, 3, a_weft, "weft_pool", "weft_pool: per-thread magazines, depot")

static const bench_impl pool_impls[] = {
	POOL_ROW(malloc, "malloc", "glibc malloc/free"),
	POOL_ROW(freelist, "mutex_freelist", "pthread_mutex around a malloc'd free list"),
	POOL_ROW(treiber, "treiber", "lock-free Treiber stack over a slab, tagged indices"),
	POOL_ROW(weft, "weft_pool", "weft_pool: per-thread magazines over a mutex depot"),
};

static size_t pool_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	static const size_t sizes[] = { 64, 1024 };
	size_t n = 0;
	for (int handoff = 0; handoff < 2; handoff++) {
		for (size_t z = 0; z < 2; z++) {
			for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
				bench_shape *sh = &out[n];
				memset(sh, 0, sizeof *sh);
				unsigned t = cfg->threads[i];
				sh->capacity = sizes[z]; /* the object size */
				if (handoff) { /* as the queue suite: n means P = C = n */
					sh->producers = sh->consumers = t;
					sh->threads = 2 * t;
					sh->label_threads = t;
				} else {
					sh->threads = sh->label_threads = t;
				}
				snprintf(sh->variant, sizeof sh->variant, "%s %s",
					 sizes[z] == 64 ? "64B" : "1KiB",
					 handoff ? "handoff" : "same");
			}
		}
	}
	return n;
}

const bench_suite bench_suite_pool = {
	.name = "pool",
	.what = "get/put fixed-size objects: same thread, and handed off between threads",
	.unit_note = "1 op = 1 get/put pair (handoff: 1 object through, producers+consumers)",
	.impls = pool_impls,
	.nimpls = sizeof pool_impls / sizeof pool_impls[0],
	.shapes = pool_shapes,
};
