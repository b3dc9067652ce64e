/*
 * weft_pool: per-thread magazine caches over a mutex-protected depot (see pool.h for the
 * design and why the depot takes a lock).
 *
 * Invariants:
 * - caches_[i + 1] is touched only by the thread holding weft_thread_index() == i (and by
 *   destroy, which runs alone). The shared cache and the depot lists are touched only
 *   under depot.lock.
 * - In a cache, loaded_ and prev_ are NULL or magazines with 0 <= rounds <= cap. A cache
 *   fills `loaded_` first; `prev_` is the magazine it swapped out last (Bonwick).
 * - The inline window (pool.h): in release builds (POOL_INLINE) obj_/n_/cap_ of a thread's
 *   own cache show loaded_'s slots, and n_, not loaded_->rounds, is its count while the
 *   window is open; every out-of-line path that touches the cache first folds n_ back
 *   (cache_unload) and reopens the window when done (cache_load). Debug and ASan builds
 *   keep the window shut (cap_ == 0, n_ == 0) so every call comes here for its checks.
 *   The shared cache never opens a window.
 * - depot.full holds magazines with rounds > 0 (a flushed cache may leave partial ones
 *   there); depot.empty holds magazines with rounds == 0.
 * - Every object is in exactly one place: out (held by a user), in one magazine slot,
 *   or being created/freed by one thread. created - freed = out + cached.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <weft/mutex.h>
#include <weft/pool.h>
#include <weft/thread.h>

#include "alloc.h"
#include "pool_sanitize.h"

#if defined(WEFT_DEBUG_CHECKS) || defined(WEFT_POOL_ASAN)
#define POOL_INLINE 0
#else
#define POOL_INLINE 1
#endif

struct weft_pool_mag_ {
	struct weft_pool_mag_ *next;
	size_t rounds;
	void *obj[];
};
#define mag weft_pool_mag_

/* A cache's fields are pool.h's weft_pool_cache_ (pool_ is read-only: the exit flush). */
typedef weft_pool_cache_ cache_t;

#if defined(WEFT_DEBUG_CHECKS)
/* Before each object in debug builds: whose it is and whether it is out. */
struct objhdr {
	weft_pool *pool;
	_Atomic uint32_t state;
};
#define OBJ_OUT 0x0B7EC7u
#define OBJ_IN 0xCAC4EDu
#define POISON_BYTE 0xDB
#endif

struct weft_pool {
	struct weft_pool_head_ head; /* first: pool.h's inline get/put read it */
	weft_pool_config cfg;
	size_t ncaches;      /* caches of thread indices; head.caches_ has one more slot */
	size_t hdr;          /* bytes before each object (debug header, rounded to align) */
	size_t alloc_align;  /* alignment asked of weft_mem_alloc (0: malloc's) */
	pthread_key_t key;   /* value: the pool, set once a thread's cache holds magazines */
	_Atomic uint64_t created, freed, exchanges, misuse;
	_Atomic uint64_t slow_gets, slow_puts; /* gets and puts that took the depot lock */
	struct {
		_Alignas(WEFT_PADDING) weft_mutex lock;
		struct mag *full, *empty;
		size_t nfull, nempty;
		cache_t shared; /* for threads without a cache of their own */
	} depot;
};

static void count(_Atomic uint64_t *c)
{
	/* Relaxed: statistics. */
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Single-writer counters (a cache's owner, or the depot lock's holder). */
static void count_own(_Atomic uint64_t *c)
{
	/* Relaxed: statistics; only this thread writes c. */
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + 1, memory_order_relaxed);
}

/* ---- objects ---- */

static void *obj_new(weft_pool *p)
{
	char *raw = weft_mem_alloc(p->hdr + p->cfg.size, p->alloc_align);
	if (raw == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	void *obj = raw + p->hdr;
	if (p->cfg.ctor != NULL) {
		int err = p->cfg.ctor(obj, p->cfg.user);
		if (err != 0) {
			weft_mem_free(raw);
			errno = err;
			return NULL;
		}
	}
#if defined(WEFT_DEBUG_CHECKS)
	struct objhdr *h = (struct objhdr *)(void *)(raw + p->hdr - sizeof(struct objhdr));
	h->pool = p;
	atomic_init(&h->state, OBJ_OUT);
#endif
	count(&p->created);
	return obj;
}

/* Destroy and free an object that sits in a cache (poisoned under ASan). */
static void obj_free(weft_pool *p, void *obj)
{
	WEFT_POOL_UNPOISON(obj, p->cfg.size);
	if (p->cfg.dtor != NULL)
		p->cfg.dtor(obj, p->cfg.user);
	weft_mem_free((char *)obj - p->hdr);
	count(&p->freed);
}

#if defined(WEFT_DEBUG_CHECKS)
static struct objhdr *hdr_of(void *obj)
{
	return (struct objhdr *)(void *)((char *)obj - sizeof(struct objhdr));
}

static void misuse(weft_pool *p, void *obj, const char *what)
{
	count(&p->misuse);
	fprintf(stderr, "weft_pool %p: %s (object %p); ignored\n", (void *)p, what, obj);
}
#endif

/* An object goes into a cache: debug checks and poisoning. False: misuse, drop the put. */
static bool obj_cache_in(weft_pool *p, void *obj)
{
#if defined(WEFT_DEBUG_CHECKS)
	struct objhdr *h = hdr_of(obj);
	if (h->pool != p) {
		misuse(p, obj, "put of an object from another pool");
		return false;
	}
	/* Relaxed: a misuse check; the object's contents travel with the magazine, whose
	 * hand-over (owner thread or depot mutex) orders them. */
	uint32_t old = atomic_exchange_explicit(&h->state, OBJ_IN, memory_order_relaxed);
	if (old != OBJ_OUT) {
		misuse(p, obj, "double put");
		return false;
	}
	if (p->cfg.ctor == NULL && p->cfg.dtor == NULL)
		memset(obj, POISON_BYTE, p->cfg.size);
#endif
	WEFT_POOL_POISON(obj, p->cfg.size);
	return true;
}

/* An object leaves a cache for a user. */
static void obj_cache_out(weft_pool *p, void *obj)
{
	WEFT_POOL_UNPOISON(obj, p->cfg.size);
#if defined(WEFT_DEBUG_CHECKS)
	if (p->cfg.ctor == NULL && p->cfg.dtor == NULL) {
		const unsigned char *b = obj;
		for (size_t i = 0; i < p->cfg.size; i++) {
			if (b[i] != POISON_BYTE) {
				count(&p->misuse);
				fprintf(stderr, "weft_pool %p: object %p written after put "
						"(byte %zu)\n", (void *)p, obj, i);
				break;
			}
		}
	}
	/* Relaxed: as in obj_cache_in. */
	atomic_store_explicit(&hdr_of(obj)->state, OBJ_OUT, memory_order_relaxed);
#endif
}

/* ---- magazines ---- */

static struct mag *mag_new(weft_pool *p)
{
	struct mag *m = weft_mem_alloc(sizeof(struct mag) + p->cfg.magazine_size * sizeof(void *),
				       _Alignof(struct mag));
	if (m != NULL) {
		m->next = NULL;
		m->rounds = 0;
	}
	return m;
}

/* Free a chain of magazines (linked by next) and every object in them. */
static void mag_chain_free(weft_pool *p, struct mag *m)
{
	while (m != NULL) {
		struct mag *next = m->next;
		for (size_t i = 0; i < m->rounds; i++)
			obj_free(p, m->obj[i]);
		weft_mem_free(m);
		m = next;
	}
}

static void push(struct mag **list, struct mag *m)
{
	m->next = *list;
	*list = m;
}

static struct mag *pop(struct mag **list)
{
	struct mag *m = *list;
	if (m != NULL)
		*list = m->next;
	return m;
}

/* ---- a cache's two magazines (owner, or the depot lock for the shared cache) ---- */

static void *cache_take(cache_t *c)
{
	struct mag *m = c->loaded_;
	if (WEFT_LIKELY(m != NULL && m->rounds > 0))
		return m->obj[--m->rounds];
	if (c->prev_ != NULL && c->prev_->rounds > 0) {
		c->loaded_ = c->prev_;
		c->prev_ = m;
		return c->loaded_->obj[--c->loaded_->rounds];
	}
	return NULL;
}

static bool cache_give(weft_pool *p, cache_t *c, void *obj)
{
	struct mag *m = c->loaded_;
	if (WEFT_LIKELY(m != NULL && m->rounds < p->cfg.magazine_size)) {
		m->obj[m->rounds++] = obj;
		return true;
	}
	if (m != NULL && c->prev_ != NULL && c->prev_->rounds == 0) {
		c->loaded_ = c->prev_;
		c->prev_ = m;
		c->loaded_->obj[c->loaded_->rounds++] = obj;
		return true;
	}
	return false;
}

/* Close the inline window of the caller's own cache: n_ back into loaded_->rounds. */
static void cache_unload(cache_t *c)
{
#if POOL_INLINE
	if (c->loaded_ != NULL)
		c->loaded_->rounds = atomic_load_explicit(&c->n_, memory_order_relaxed);
#else
	(void)c;
#endif
}

/*
 * Open it again on whatever loaded_ now is (release builds; shut in the others).
 * The inline put counts nothing; stats derive inline puts as gets_ + n_ - base_, which
 * holds because only inline calls move n_ by one except here, where base_ moves with it.
 * (Relaxed: owner-only fields that stats read; a reader between the two stores is off by
 * at most a magazine, as pool.h allows.)
 */
static void cache_load(weft_pool *p, cache_t *c)
{
#if POOL_INLINE
	struct mag *m = c->loaded_;
	uint32_t n_old = atomic_load_explicit(&c->n_, memory_order_relaxed);
	uint32_t n_new = m != NULL ? (uint32_t)m->rounds : 0;
	uint64_t b = atomic_load_explicit(&c->base_, memory_order_relaxed);
	atomic_store_explicit(&c->base_, b + n_new - n_old, memory_order_relaxed);
	c->obj_ = m != NULL ? m->obj : NULL;
	atomic_store_explicit(&c->n_, n_new, memory_order_relaxed);
	c->cap_ = m != NULL ? (uint32_t)p->cfg.magazine_size : 0;
#else
	(void)p;
	(void)c;
#endif
}

/* A spare magazine goes back to the depot's empty list, or onto *drop past the limit. */
static void depot_put_empty(weft_pool *p, struct mag *m, struct mag **drop)
{
	if (p->depot.nempty < p->cfg.depot_limit) {
		push(&p->depot.empty, m);
		p->depot.nempty++;
	} else {
		push(drop, m);
	}
}

static void depot_put_full(weft_pool *p, struct mag *m, struct mag **drop)
{
	if (p->depot.nfull < p->cfg.depot_limit) {
		push(&p->depot.full, m);
		p->depot.nfull++;
	} else {
		push(drop, m);
	}
}

/* Under the depot lock; c's magazines are both empty (or NULL). True: c->loaded_ now has
 * objects. */
static bool exchange_for_get(weft_pool *p, cache_t *c, struct mag **drop)
{
	struct mag *m = pop(&p->depot.full);
	if (m == NULL)
		return false;
	p->depot.nfull--;
	if (c->prev_ != NULL)
		depot_put_empty(p, c->prev_, drop);
	c->prev_ = c->loaded_;
	c->loaded_ = m;
	return true;
}

/* Under the depot lock; c's magazines are both full (or NULL). True: c->loaded_ now has
 * room. False only when no empty magazine could be found or allocated. */
static bool exchange_for_put(weft_pool *p, cache_t *c, struct mag **drop)
{
	struct mag *m = pop(&p->depot.empty);
	if (m != NULL)
		p->depot.nempty--;
	else if ((m = mag_new(p)) == NULL)
		return false;
	if (c->prev_ != NULL)
		depot_put_full(p, c->prev_, drop);
	c->prev_ = c->loaded_;
	c->loaded_ = m;
	return true;
}

static void depot_lock(weft_pool *p)
{
	(void)weft_mutex_lock(&p->depot.lock, NULL); /* no ctx: cannot fail */
	count_own(&p->exchanges);
}

static void depot_unlock(weft_pool *p, struct mag *drop)
{
	weft_mutex_unlock(&p->depot.lock);
	mag_chain_free(p, drop); /* outside the lock: destructors may be slow */
}

/* ---- thread exit ---- */

/* Move a cache's magazines to the depot (caller holds the lock). */
static void cache_flush_locked(weft_pool *p, cache_t *c, struct mag **drop)
{
	struct mag *ms[2] = { c->loaded_, c->prev_ };
	c->loaded_ = c->prev_ = NULL;
	for (int i = 0; i < 2; i++) {
		if (ms[i] == NULL)
			continue;
		if (ms[i]->rounds > 0)
			depot_put_full(p, ms[i], drop);
		else
			depot_put_empty(p, ms[i], drop);
	}
}

/*
 * pthread key destructor (the key's value is the exiting thread's cache): move the cache to
 * the depot. Key destructors run in no fixed order, so the thread may already have released
 * its index, and another thread may now hold it and use this cache. Only the holder of
 * index i may touch caches[i]; so ask for an index again: if it is the same one, nobody
 * else had taken it and this thread owns the cache again (thread.h's happens-before covers
 * the hand-back), and flushes it; the index is released again in a later destructor round.
 * Otherwise the cache's new owner has inherited its objects, which is as good.
 */
static void cache_exit(void *arg)
{
	cache_t *c = arg;
	weft_pool *p = c->pool_;
	if ((size_t)weft_thread_index() + 1 != (size_t)(c - p->head.caches_))
		return;
	struct mag *drop = NULL;
	depot_lock(p);
	cache_unload(c);
	cache_flush_locked(p, c, &drop);
	cache_load(p, c);
	depot_unlock(p, drop);
}

static void cache_register(weft_pool *p, cache_t *c)
{
	if (pthread_getspecific(p->key) != c)
		(void)pthread_setspecific(p->key, c); /* ENOMEM: no flush at exit; the index's
							 next holder inherits the cache */
}

/* ---- public ---- */

void weft_pool_config_init(weft_pool_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->align = _Alignof(max_align_t);
	cfg->magazine_size = 32;
	cfg->depot_limit = 64;
	size_t n = 4 * (size_t)weft_cpu_count();
	cfg->max_caches = n < 16 ? 16 : n > 1024 ? 1024 : n;
}

int weft_pool_create(weft_pool **out, const weft_pool_config *cfg)
{
	if (out == NULL || cfg == NULL || cfg->size == 0 || cfg->align == 0 ||
	    (cfg->align & (cfg->align - 1)) != 0 || cfg->magazine_size == 0 ||
	    cfg->depot_limit == 0 || cfg->max_caches == 0)
		return EINVAL;
	if (cfg->size > SIZE_MAX / 4 || cfg->align > SIZE_MAX / 4 ||
	    cfg->magazine_size > SIZE_MAX / (4 * sizeof(void *)) ||
	    cfg->magazine_size > UINT32_MAX || cfg->max_caches > 65536)
		return EINVAL;
	size_t align = cfg->align < _Alignof(max_align_t) ? _Alignof(max_align_t) : cfg->align;
	size_t hdr = 0;
#if defined(WEFT_DEBUG_CHECKS)
	hdr = (sizeof(struct objhdr) + align - 1) & ~(align - 1);
#endif
	if (cfg->size > SIZE_MAX / 4 - hdr)
		return EINVAL;
	weft_pool *p = weft_mem_zalloc(sizeof(*p), _Alignof(weft_pool));
	if (p == NULL)
		return ENOMEM;
	p->head.caches_ = weft_mem_zalloc((cfg->max_caches + 1) * sizeof(cache_t),
					  _Alignof(cache_t));
	if (p->head.caches_ == NULL) {
		weft_mem_free(p);
		return ENOMEM;
	}
	int err = pthread_key_create(&p->key, cache_exit);
	if (err != 0) {
		weft_mem_free(p->head.caches_);
		weft_mem_free(p);
		return err == ENOMEM ? ENOMEM : EAGAIN;
	}
	p->cfg = *cfg;
	p->hdr = hdr;
	p->alloc_align = align > _Alignof(max_align_t) ? align : 0;
	p->ncaches = cfg->max_caches;
	p->head.nslots_ = (uint32_t)cfg->max_caches + 1;
	for (size_t i = 0; i < p->head.nslots_; i++)
		p->head.caches_[i].pool_ = p;
	weft_mutex_init(&p->depot.lock);
	/* The pool reaches other threads through whatever the caller uses to share the
	 * pointer (which must order it, as for any object). */
	*out = p;
	return 0;
}

/* The caller's own cache, or NULL when its index has none (the shared cache's users). */
static inline cache_t *own_cache(weft_pool *p)
{
	uint32_t idx = weft_thread_index();
	return WEFT_LIKELY(idx < p->ncaches) ? &p->head.caches_[idx + 1] : NULL;
}

/*
 * The locked paths take the depot lock first and only then pick the cache: a fiber that
 * parks on the lock may resume on another worker thread, whose cache is then the one to use.
 * Their counts go to pool-wide atomics (several writers).
 */
static void *get_locked(weft_pool *p)
{
	struct mag *drop = NULL;
	depot_lock(p);
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_register(p, c);
		cache_unload(c);
	}
	cache_t *u = c != NULL ? c : &p->depot.shared;
	void *obj = cache_take(u);
	if (obj == NULL && exchange_for_get(p, u, &drop))
		obj = cache_take(u);
	if (c != NULL)
		cache_load(p, c);
	depot_unlock(p, drop);
	if (obj != NULL) {
		obj_cache_out(p, obj);
	} else if ((obj = obj_new(p)) == NULL) {
		return NULL;
	}
	count(&p->slow_gets);
	return obj;
}

/*
 * Out of line: pool.h's weft_pool_get found no object in its window (or no cache, or, in
 * debug and ASan builds, a window that is always shut). First the caller's own magazines
 * (the previous one may be full), without a lock; then the depot.
 */
void *weft_pool_get_slow_(weft_pool *p)
{
	if (WEFT_UNLIKELY(p == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_unload(c);
		void *obj = cache_take(c);
		cache_load(p, c);
		if (obj != NULL) {
			count_own(&c->slow_gets_);
			obj_cache_out(p, obj);
			return obj;
		}
	}
	return get_locked(p);
}

static void put_locked(weft_pool *p, void *obj)
{
	struct mag *drop = NULL;
	depot_lock(p);
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_register(p, c);
		cache_unload(c);
	}
	cache_t *u = c != NULL ? c : &p->depot.shared;
	bool kept = cache_give(p, u, obj) ||
		    (exchange_for_put(p, u, &drop) && cache_give(p, u, obj));
	if (c != NULL)
		cache_load(p, c);
	depot_unlock(p, drop);
	count(&p->slow_puts);
	if (!kept)
		obj_free(p, obj); /* no magazine could be had: out of memory */
}

/* Out of line: as weft_pool_get_slow_, for a put that found the window full. */
void weft_pool_put_slow_(weft_pool *p, void *obj)
{
	if (p == NULL || obj == NULL)
		return;
	if (!obj_cache_in(p, obj))
		return;
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_unload(c);
		bool kept = cache_give(p, c, obj);
		cache_load(p, c);
		if (kept) {
			count_own(&c->slow_puts_);
			return;
		}
	}
	put_locked(p, obj);
}

void weft_pool_trim(weft_pool *p)
{
	if (p == NULL)
		return;
	struct mag *drop = NULL;
	uint32_t idx = weft_thread_index();
	if (idx < p->ncaches) {
		/* Our own cache: no lock needed to unlink, but flush through the depot code. */
		cache_t *c = &p->head.caches_[idx + 1];
		cache_unload(c);
		struct mag *ms[2] = { c->loaded_, c->prev_ };
		c->loaded_ = c->prev_ = NULL;
		cache_load(p, c);
		for (int i = 0; i < 2; i++)
			if (ms[i] != NULL)
				push(&drop, ms[i]);
	}
	depot_lock(p);
	cache_t *s = &p->depot.shared;
	if (s->loaded_ != NULL)
		push(&drop, s->loaded_);
	if (s->prev_ != NULL)
		push(&drop, s->prev_);
	s->loaded_ = s->prev_ = NULL;
	for (struct mag *m; (m = pop(&p->depot.full)) != NULL;)
		push(&drop, m);
	for (struct mag *m; (m = pop(&p->depot.empty)) != NULL;)
		push(&drop, m);
	p->depot.nfull = p->depot.nempty = 0;
	depot_unlock(p, drop);
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}

int weft_pool_stats_get(weft_pool *p, weft_pool_stats *out)
{
	if (p == NULL || out == NULL)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	/* Relaxed loads throughout: counters, documented as individually read. */
	for (size_t i = 0; i < p->head.nslots_; i++) {
		cache_t *c = &p->head.caches_[i];
		uint64_t g = atomic_load_explicit(&c->gets_, memory_order_relaxed);
		uint64_t n = atomic_load_explicit(&c->n_, memory_order_relaxed);
		uint64_t b = atomic_load_explicit(&c->base_, memory_order_relaxed);
		uint64_t sg = atomic_load_explicit(&c->slow_gets_, memory_order_relaxed);
		uint64_t sp = atomic_load_explicit(&c->slow_puts_, memory_order_relaxed);
		out->gets += g + sg;
		out->puts += g + n - b + sp; /* inline puts: see cache_load */
	}
	out->gets += atomic_load_explicit(&p->slow_gets, memory_order_relaxed);
	out->puts += atomic_load_explicit(&p->slow_puts, memory_order_relaxed);
	out->created = atomic_load_explicit(&p->created, memory_order_relaxed);
	out->freed = atomic_load_explicit(&p->freed, memory_order_relaxed);
	out->depot_exchanges = atomic_load_explicit(&p->exchanges, memory_order_relaxed);
	out->misuse = atomic_load_explicit(&p->misuse, memory_order_relaxed);
	(void)weft_mutex_lock(&p->depot.lock, NULL);
	out->depot_full = p->depot.nfull;
	out->depot_empty = p->depot.nempty;
	weft_mutex_unlock(&p->depot.lock);
	return 0;
}

void weft_pool_destroy(weft_pool *p)
{
	if (p == NULL)
		return;
	/* First, so that no thread's exit reaches the pool once it is gone. */
	pthread_key_delete(p->key);
	struct mag *drop = NULL;
	for (size_t i = 0; i <= p->head.nslots_; i++) {
		cache_t *c = i < p->head.nslots_ ? &p->head.caches_[i] : &p->depot.shared;
		if (i < p->head.nslots_)
			cache_unload(c); /* the threads that used it are done (see pool.h) */
		if (c->loaded_ != NULL)
			push(&drop, c->loaded_);
		if (c->prev_ != NULL)
			push(&drop, c->prev_);
	}
	for (struct mag *m; (m = pop(&p->depot.full)) != NULL;)
		push(&drop, m);
	for (struct mag *m; (m = pop(&p->depot.empty)) != NULL;)
		push(&drop, m);
	mag_chain_free(p, drop);
#if defined(WEFT_DEBUG_CHECKS)
	uint64_t out = atomic_load_explicit(&p->created, memory_order_relaxed) -
		       atomic_load_explicit(&p->freed, memory_order_relaxed);
	if (out != 0)
		fprintf(stderr, "weft_pool %p destroyed with %llu object(s) still out "
				"(leaked)\n", (void *)p, (unsigned long long)out);
#endif
	weft_mutex_destroy(&p->depot.lock);
	weft_mem_free(p->head.caches_);
	weft_mem_free(p);
}
