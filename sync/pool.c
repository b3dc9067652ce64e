/*
 * weft_pool: per-thread magazine caches over a mutex-protected depot (see pool.h for the
 * design and why the depot takes a lock).
 *
 * Invariants:
 * - caches[i + 1] is touched only by the thread holding weft_thread_index() == i (and by
 *   destroy, which runs alone). caches[0] is the handle users hold (pool.h): written only
 *   by create. The shared cache and the depot lists are touched only under depot.lock.
 * - In a cache, loaded_ and prev_ are NULL or magazines with 0 <= rounds <= cap. A cache
 *   fills `loaded_` first; `prev_` is the magazine it swapped out last (Bonwick).
 * - The inline window (pool.h): in release builds (POOL_INLINE) obj_/n_/cap_ of a thread's
 *   own cache show loaded_'s slots, and n_, not loaded_->rounds, is its count while the
 *   window is open; hot_ holds one more object on top of them, or NULL. Every
 *   out-of-line path that touches the cache first folds n_ back and moves the hot object
 *   into loaded_ if it has room (cache_unload), and reopens the window when done
 *   (cache_load). Out of line, a hot object left in place (loaded_ full or NULL) is the top
 *   of the cache: cache_take takes it first. cache_load opens the window (hot_ NULL or an
 *   object) when loaded_ is not NULL and shuts it (hot_ SHUT) when loaded_ is NULL and no
 *   hot object is left. Debug and ASan builds keep every window shut (hot_ SHUT,
 *   cap_ == 0, n_ == 0) so every call comes here for its checks. The shared cache and
 *   caches[0] never open.
 * - depot.full holds magazines with rounds > 0 (a flushed cache may leave partial ones
 *   there); depot.empty holds magazines with rounds == 0.
 * - Every object is in exactly one place: out (held by a user), in one magazine slot or
 *   hot slot, or being created/freed by one thread. created - freed = out + cached.
 * - Stats: for each cache, inline puts = gets_ + n_ + (hot_ holds an object) - base_;
 *   whatever changes n_ or hot_ out of line moves base_ with it (window_moved).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
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
	struct pool *pool;
	_Atomic uint32_t state;
};
#define OBJ_OUT 0x0B7EC7u
#define OBJ_IN 0xCAC4EDu
#define POISON_BYTE 0xDB
#endif

/* The pool. Users hold &caches[0] (pool.h), a weft_pool *; pool_of finds the rest. */
struct pool {
	weft_pool_config cfg;
	size_t ncaches;      /* caches of thread indices; caches has one more slot */
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
	cache_t caches[]; /* nslots = ncaches + 1; [0]: the handle, shut; [i + 1]: index i */
};

static struct pool *pool_of(weft_pool *h)
{
	return (struct pool *)(void *)((char *)h - offsetof(struct pool, caches));
}

static weft_pool *handle_of(struct pool *p)
{
	return (weft_pool *)(void *)p->caches;
}

static void *const shut = (void *)WEFT_POOL_SHUT_;

/* The object in c's hot slot, or NULL (empty or shut). Relaxed: the owner reads its own
 * writes; stats readers only need some recent value. */
static void *hot_obj(cache_t *c)
{
	void *h = atomic_load_explicit(&c->hot_, memory_order_relaxed);
	return h != shut ? h : NULL;
}

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

static void *obj_new(struct pool *p)
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
static void obj_free(struct pool *p, void *obj)
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

static void misuse(struct pool *p, void *obj, const char *what)
{
	count(&p->misuse);
	fprintf(stderr, "weft_pool %p: %s (object %p); ignored\n", (void *)handle_of(p), what, obj);
}
#endif

/* An object goes into a cache: debug checks and poisoning. False: misuse, drop the put. */
static bool obj_cache_in(struct pool *p, void *obj)
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
static void obj_cache_out(struct pool *p, void *obj)
{
	WEFT_POOL_UNPOISON(obj, p->cfg.size);
#if defined(WEFT_DEBUG_CHECKS)
	if (p->cfg.ctor == NULL && p->cfg.dtor == NULL) {
		const unsigned char *b = obj;
		for (size_t i = 0; i < p->cfg.size; i++) {
			if (b[i] != POISON_BYTE) {
				count(&p->misuse);
				fprintf(stderr, "weft_pool %p: object %p written after put "
						"(byte %zu)\n", (void *)handle_of(p), obj, i);
				break;
			}
		}
	}
	/* Relaxed: as in obj_cache_in. */
	atomic_store_explicit(&hdr_of(obj)->state, OBJ_OUT, memory_order_relaxed);
#endif
}

/* ---- magazines ---- */

static struct mag *mag_new(struct pool *p)
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
static void mag_chain_free(struct pool *p, struct mag *m)
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

/* ---- a cache's two magazines and hot slot (owner, or the depot lock for the shared) ---- */

/*
 * Stats: the cache's window count (n_ + a hot object) changes by delta outside an inline
 * call; move base_ with it so that gets_ + window - base_ still counts inline puts only.
 * (Relaxed: owner-only fields that stats read; a reader in between is off by at most a
 * magazine, as pool.h allows.)
 */
static void window_moved(cache_t *c, int64_t delta)
{
#if POOL_INLINE
	uint64_t b = atomic_load_explicit(&c->base_, memory_order_relaxed);
	atomic_store_explicit(&c->base_, b + (uint64_t)delta, memory_order_relaxed);
#else
	(void)c;
	(void)delta;
#endif
}

/* Take the hot object out of c (NULL if none); the slot is left empty (or shut). */
static void *hot_take(cache_t *c)
{
	void *h = hot_obj(c);
	if (h != NULL) {
		/* Relaxed: owner-only field. */
		atomic_store_explicit(&c->hot_, NULL, memory_order_relaxed);
		window_moved(c, -1);
	}
	return h;
}

static void *cache_take(cache_t *c)
{
	void *h = hot_take(c); /* the top of the cache, when unload left it there */
	if (h != NULL)
		return h;
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

/* Into the magazines (never the hot slot: only the inline put fills that). */
static bool cache_give(struct pool *p, cache_t *c, void *obj)
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

/*
 * Close the inline window of the caller's own cache: n_ back into loaded_->rounds, and the
 * hot object on top of loaded_ if it has room (else it stays, as the top of the cache).
 */
static void cache_unload(struct pool *p, cache_t *c)
{
#if POOL_INLINE
	struct mag *m = c->loaded_;
	if (m == NULL)
		return;
	/* Relaxed: owner-only fields (the atomics are for stats readers). */
	m->rounds = atomic_load_explicit(&c->n_, memory_order_relaxed);
	if (m->rounds < p->cfg.magazine_size) {
		void *h = hot_take(c);
		if (h != NULL)
			m->obj[m->rounds++] = h; /* in n_ again at cache_load */
	}
#else
	(void)p;
	(void)c;
#endif
}

/*
 * Open it again on whatever loaded_ now is (release builds; shut in the others), moving
 * base_ by the change in n_ (see window_moved). No magazine: shut, unless a hot object is
 * still there (then the window stays empty-handed but the object is found by get).
 */
static void cache_load(struct pool *p, cache_t *c)
{
#if POOL_INLINE
	struct mag *m = c->loaded_;
	/* Relaxed: owner-only fields that stats read. */
	uint32_t n_old = atomic_load_explicit(&c->n_, memory_order_relaxed);
	uint32_t n_new = m != NULL ? (uint32_t)m->rounds : 0;
	window_moved(c, (int64_t)n_new - (int64_t)n_old);
	c->obj_ = m != NULL ? m->obj : NULL;
	atomic_store_explicit(&c->n_, n_new, memory_order_relaxed);
	c->cap_ = m != NULL ? (uint32_t)p->cfg.magazine_size : 0;
	void *h = atomic_load_explicit(&c->hot_, memory_order_relaxed);
	if (m != NULL && h == shut)
		atomic_store_explicit(&c->hot_, NULL, memory_order_relaxed); /* open */
	else if (m == NULL && h == NULL)
		atomic_store_explicit(&c->hot_, shut, memory_order_relaxed);
#else
	(void)p;
	(void)c;
#endif
}

/* A spare magazine goes back to the depot's empty list, or onto *drop past the limit. */
static void depot_put_empty(struct pool *p, struct mag *m, struct mag **drop)
{
	if (p->depot.nempty < p->cfg.depot_limit) {
		push(&p->depot.empty, m);
		p->depot.nempty++;
	} else {
		push(drop, m);
	}
}

static void depot_put_full(struct pool *p, struct mag *m, struct mag **drop)
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
static bool exchange_for_get(struct pool *p, cache_t *c, struct mag **drop)
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
static bool exchange_for_put(struct pool *p, cache_t *c, struct mag **drop)
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

static void depot_lock(struct pool *p)
{
	(void)weft_mutex_lock(&p->depot.lock, NULL); /* no ctx: cannot fail */
	count_own(&p->exchanges);
}

static void depot_unlock(struct pool *p, struct mag *drop)
{
	weft_mutex_unlock(&p->depot.lock);
	mag_chain_free(p, drop); /* outside the lock: destructors may be slow */
}

/* ---- thread exit ---- */

/*
 * Move a cache's magazines to the depot (caller holds the lock; the cache is unloaded).
 * A hot object left in the cache goes into a magazine with room, else a fresh one; if none
 * can be had it is returned, for the caller to free after unlocking.
 */
static void *cache_flush_locked(struct pool *p, cache_t *c, struct mag **drop)
{
	void *h = hot_take(c);
	if (h != NULL && !cache_give(p, c, h)) {
		struct mag *m = pop(&p->depot.empty);
		if (m != NULL)
			p->depot.nempty--;
		else
			m = mag_new(p);
		if (m != NULL) {
			m->obj[m->rounds++] = h;
			depot_put_full(p, m, drop);
			h = NULL;
		}
	} else {
		h = NULL;
	}
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
	return h;
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
	struct pool *p = pool_of(c->pool_);
	if ((size_t)weft_thread_index() + 1 != (size_t)(c - p->caches))
		return;
	struct mag *drop = NULL;
	depot_lock(p);
	cache_unload(p, c);
	void *left = cache_flush_locked(p, c, &drop);
	cache_load(p, c);
	depot_unlock(p, drop);
	if (left != NULL)
		obj_free(p, left); /* no magazine to be had: out of memory */
}

static void cache_register(struct pool *p, cache_t *c)
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
	size_t nslots = cfg->max_caches + 1;
	struct pool *p = weft_mem_zalloc(offsetof(struct pool, caches) + nslots * sizeof(cache_t),
					 _Alignof(struct pool));
	if (p == NULL)
		return ENOMEM;
	int err = pthread_key_create(&p->key, cache_exit);
	if (err != 0) {
		weft_mem_free(p);
		return err == ENOMEM ? ENOMEM : EAGAIN;
	}
	p->cfg = *cfg;
	p->hdr = hdr;
	p->alloc_align = align > _Alignof(max_align_t) ? align : 0;
	p->ncaches = cfg->max_caches;
	for (size_t i = 0; i <= nslots; i++) {
		cache_t *c = i < nslots ? &p->caches[i] : &p->depot.shared;
		c->pool_ = handle_of(p);
		atomic_init(&c->hot_, shut); /* every window starts shut (cache_load opens) */
	}
	p->caches[0].nslots_ = (uint32_t)nslots;
	weft_mutex_init(&p->depot.lock);
	/* The pool reaches other threads through whatever the caller uses to share the
	 * pointer (which must order it, as for any object). */
	*out = handle_of(p);
	return 0;
}

/* The caller's own cache, or NULL when its index has none (the shared cache's users). */
static inline cache_t *own_cache(struct pool *p)
{
	uint32_t idx = weft_thread_index();
	return WEFT_LIKELY(idx < p->ncaches) ? &p->caches[idx + 1] : NULL;
}

/*
 * Under the depot lock: the caller's own cache, registered and with its inline window
 * unloaded, in *own (NULL when it has none), and the cache to use (that one, or the shared
 * one). The caller loads the window again before unlocking.
 */
static cache_t *cache_open_locked(struct pool *p, cache_t **own)
{
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_register(p, c);
		cache_unload(p, c);
	}
	*own = c;
	return c != NULL ? c : &p->depot.shared;
}

/*
 * The locked paths take the depot lock first and only then pick the cache: a fiber that
 * parks on the lock may resume on another worker thread, whose cache is then the one to use.
 * Their counts go to pool-wide atomics (several writers).
 */
static void *get_locked(struct pool *p)
{
	struct mag *drop = NULL;
	depot_lock(p);
	cache_t *c;
	cache_t *u = cache_open_locked(p, &c);
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
void *weft_pool_get_slow_(weft_pool *h)
{
	if (WEFT_UNLIKELY(h == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	struct pool *p = pool_of(h);
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_unload(p, c);
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

static void put_locked(struct pool *p, void *obj)
{
	struct mag *drop = NULL;
	depot_lock(p);
	cache_t *c;
	cache_t *u = cache_open_locked(p, &c);
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
void weft_pool_put_slow_(weft_pool *h, void *obj)
{
	if (h == NULL || obj == NULL)
		return;
	struct pool *p = pool_of(h);
	if (!obj_cache_in(p, obj))
		return;
	cache_t *c = own_cache(p);
	if (c != NULL) {
		cache_unload(p, c);
		/* A hot object still there (loaded_ full) stays the top of the cache: obj
		 * takes the slot and the older object goes below it. Relaxed: owner-only. */
		void *hot = hot_obj(c);
		if (hot != NULL) {
			atomic_store_explicit(&c->hot_, obj, memory_order_relaxed);
			obj = hot;
		}
		bool kept = cache_give(p, c, obj);
		cache_load(p, c);
		if (kept) {
			count_own(&c->slow_puts_);
			return;
		}
	}
	put_locked(p, obj);
}

void weft_pool_trim(weft_pool *h)
{
	if (h == NULL)
		return;
	struct pool *p = pool_of(h);
	struct mag *drop = NULL;
	void *hot = NULL;
	uint32_t idx = weft_thread_index();
	if (idx < p->ncaches) {
		/* Our own cache: no lock needed to unlink, but flush through the depot code. */
		cache_t *c = &p->caches[idx + 1];
		cache_unload(p, c);
		hot = hot_take(c);
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
	if (hot != NULL)
		obj_free(p, hot);
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}

int weft_pool_stats_get(weft_pool *h, weft_pool_stats *out)
{
	if (h == NULL || out == NULL)
		return EINVAL;
	struct pool *p = pool_of(h);
	memset(out, 0, sizeof(*out));
	/* Relaxed loads throughout: counters, documented as individually read. */
	for (size_t i = 0; i <= p->ncaches; i++) {
		cache_t *c = &p->caches[i];
		uint64_t g = atomic_load_explicit(&c->gets_, memory_order_relaxed);
		uint64_t n = atomic_load_explicit(&c->n_, memory_order_relaxed);
		uint64_t hot = hot_obj(c) != NULL;
		uint64_t b = atomic_load_explicit(&c->base_, memory_order_relaxed);
		uint64_t sg = atomic_load_explicit(&c->slow_gets_, memory_order_relaxed);
		uint64_t sp = atomic_load_explicit(&c->slow_puts_, memory_order_relaxed);
		out->gets += g + sg;
		out->puts += g + n + hot - b + sp; /* inline puts: see window_moved */
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

void weft_pool_destroy(weft_pool *h)
{
	if (h == NULL)
		return;
	struct pool *p = pool_of(h);
	/* First, so that no thread's exit reaches the pool once it is gone. */
	pthread_key_delete(p->key);
	struct mag *drop = NULL;
	for (size_t i = 0; i <= p->ncaches + 1; i++) {
		cache_t *c = i <= p->ncaches ? &p->caches[i] : &p->depot.shared;
		if (i <= p->ncaches) {
			cache_unload(p, c); /* the threads that used it are done (see pool.h) */
			void *hot = hot_take(c);
			if (hot != NULL)
				obj_free(p, hot);
		}
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
				"(leaked)\n", (void *)h, (unsigned long long)out);
#endif
	weft_mutex_destroy(&p->depot.lock);
	weft_mem_free(p);
}
