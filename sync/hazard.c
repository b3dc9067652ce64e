/*
 * Hazard-pointer domains, records and scans (see include/weft/hazard.h for the contract).
 *
 * Invariants:
 *   - A domain's records form a push-only list (d->recs); a record is never unlinked or
 *     freed before weft_hazard_domain_destroy, so scanners walk the list without locks.
 *   - r->active is 1 exactly while some thread owns r; ownership passes through a CAS
 *     0 -> 1 (acquire) and a store of 0 (release), so everything the previous owner did to
 *     r's retired list happens-before the next owner's first use.
 *   - Only r's owner touches r->retired, r->since_scan and r->set; other threads read only
 *     the slots and the relaxed statistics.
 *   - d->nrecs is incremented before the CAS that publishes a record, so a scanner that
 *     sees the record through its acquire load of d->recs sees a count covering it.
 *
 * Why a scan may free a node no slot holds (the asymmetric fence): the node was unlinked
 * before it was retired, and the scan starts with a full fence on every thread of the
 * process (membarrier), or, without membarrier, pairs its seq_cst fence with the one each
 * protect issues. A reader whose publication the scan missed therefore re-validates after
 * the fence and sees the node gone, so it never dereferences it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/hazard.h>

#include "alloc.h"
#include "hazard_internal.h"
#include "membarrier.h"

struct hz_rec {
	weft_hazard_rec pub; /* first: weft_hazard_rec * and struct hz_rec * convert */
	struct hz_rec *next; /* domain list; immutable once published */
	weft_hazard_domain *dom;
	_Atomic int active;
	/* Owner only. */
	weft_hazard_obj *retired;
	size_t since_scan; /* retires since the last scan */
	void **set;	   /* scratch hash set of the slots seen by a scan */
	size_t set_cap;	   /* power of two, or 0 */
	/* Statistics: written by the owner, read by anyone (relaxed). */
	_Atomic size_t nretired;
	_Atomic size_t max_list;
	_Atomic uint64_t scans;
	_Atomic uint64_t freed;
} __attribute__((aligned(WEFT_PADDING)));

struct weft_hazard_domain {
	_Atomic(struct hz_rec *) recs;
	_Atomic size_t nrecs;
	pthread_key_t key; /* the thread's record; its destructor gives the record back */
	struct weft_hazard_domain *list_next; /* private domains, under domains_lock */
};

/* A retire node allocated by weft_hazard_retire; free_fn_ == NULL marks it. */
struct hz_box {
	weft_hazard_obj obj;
	void (*user_fn)(void *);
};

__thread weft_hazard_rec *weft_hazard_default_rec_ __attribute__((tls_model("initial-exec")));

static struct weft_hazard_domain default_domain;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static bool default_ok;

static pthread_mutex_t domains_lock = PTHREAD_MUTEX_INITIALIZER;
static struct weft_hazard_domain *domains; /* private domains, for holds_any */

static pthread_once_t fence_once = PTHREAD_ONCE_INIT;
static bool use_membarrier; /* written once under fence_once, read-only after */

static void rec_release(void *arg);

static void fence_init(void)
{
#if !defined(WEFT_HAZARD_TSAN_)
	use_membarrier = weft_membarrier_register_("WEFT_HAZARD_NO_MEMBARRIER");
#endif
}

bool weft_hazard_uses_membarrier_(void)
{
	pthread_once(&fence_once, fence_init);
	return use_membarrier;
}

static void default_init(void)
{
	pthread_once(&fence_once, fence_init);
	default_ok = pthread_key_create(&default_domain.key, rec_release) == 0;
}

weft_hazard_domain *weft_hazard_domain_default(void)
{
	pthread_once(&default_once, default_init);
	return &default_domain;
}

int weft_hazard_domain_create(weft_hazard_domain **out)
{
	if (out == NULL)
		return EINVAL;
	pthread_once(&fence_once, fence_init);
	weft_hazard_domain *d = weft_mem_zalloc(sizeof(*d), 0);
	if (d == NULL)
		return ENOMEM;
	int err = pthread_key_create(&d->key, rec_release);
	if (err != 0) {
		weft_mem_free(d);
		return err == ENOMEM ? ENOMEM : EAGAIN;
	}
	pthread_mutex_lock(&domains_lock);
	d->list_next = domains;
	domains = d;
	pthread_mutex_unlock(&domains_lock);
	*out = d;
	return 0;
}

static size_t threshold_for(size_t nrecs)
{
	size_t t = 2 * nrecs * WEFT_HAZARD_SLOTS;
	return t > WEFT_HAZARD_SCAN_MIN ? t : WEFT_HAZARD_SCAN_MIN;
}

size_t weft_hazard_bound_per_record(weft_hazard_domain *d)
{
	if (d == NULL)
		d = weft_hazard_domain_default();
	size_t n = atomic_load_explicit(&d->nrecs, memory_order_relaxed);
	return n * WEFT_HAZARD_SLOTS + threshold_for(n);
}

static void free_obj(weft_hazard_obj *o)
{
	if (o->free_fn_ != NULL) {
		o->free_fn_(o->ptr_);
	} else {
		struct hz_box *b = (struct hz_box *)o;
		void *p = o->ptr_;
		void (*fn)(void *) = b->user_fn;
		weft_mem_free(b);
		fn(p);
	}
}

static size_t hash_ptr(const void *p, size_t mask)
{
	return (size_t)(((uint64_t)(uintptr_t)p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & mask;
}

static void set_insert(void **set, size_t mask, void *p)
{
	size_t i = hash_ptr(p, mask);
	while (set[i] != NULL && set[i] != p)
		i = (i + 1) & mask;
	set[i] = p;
}

static bool set_contains(void *const *set, size_t mask, const void *p)
{
	for (size_t i = hash_ptr(p, mask); set[i] != NULL; i = (i + 1) & mask) {
		if (set[i] == p)
			return true;
	}
	return false;
}

/* Linear fallback, when the hash set cannot be allocated: re-read every slot. A slot that
 * starts holding p after the scan's fence cannot validate it (p is unlinked), so reading
 * the slots late is as safe as reading them early. */
static bool slots_hold(struct hz_rec *head, const void *p)
{
	for (struct hz_rec *r = head; r != NULL; r = r->next) {
		for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++) {
			/* Acquire: pairs with weft_hazard_clear's release. */
			if (atomic_load_explicit(&r->pub.slot_[i], memory_order_acquire) == p)
				return true;
		}
	}
	return false;
}

/* Make every thread's earlier slot stores visible to the loads that follow. */
static bool heavy_fence(void)
{
	/* Pairs with the seq_cst fence in weft_hazard_publish_fence_ (fallback mode), and
	 * orders the unlink of every retired node before the slot loads below. */
	atomic_thread_fence(memory_order_seq_cst);
	if (use_membarrier)
		return weft_membarrier_();
	return true;
}

/* Collect the domain's non-empty slots into r->set; false: no set (use slots_hold). */
static bool collect_slots(struct hz_rec *r, struct hz_rec *head, size_t nrecs)
{
	size_t want = 16;
	while (want < 2 * nrecs * WEFT_HAZARD_SLOTS)
		want *= 2;
	if (r->set_cap < want) {
		void **s = weft_mem_alloc(want * sizeof(*s), 0);
		if (s == NULL)
			return false;
		weft_mem_free(r->set);
		r->set = s;
		r->set_cap = want;
	}
	for (size_t i = 0; i < r->set_cap; i++)
		r->set[i] = NULL;
	size_t mask = r->set_cap - 1, seen = 0;
	for (struct hz_rec *h = head; h != NULL; h = h->next) {
		if (++seen > nrecs)
			return false; /* cannot happen (see the invariants); stay safe */
		for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++) {
			/* Acquire: pairs with weft_hazard_clear's release, so the reader's
			 * accesses to a node happen before we free it. */
			void *p = atomic_load_explicit(&h->pub.slot_[i], memory_order_acquire);
			if (p != NULL)
				set_insert(r->set, mask, p);
		}
	}
	return true;
}

static void scan(struct hz_rec *r)
{
	weft_hazard_domain *d = r->dom;
	r->since_scan = 0;
	if (r->retired == NULL)
		return;
	/* Acquire: pairs with the CAS that published each record (and its nrecs count). */
	struct hz_rec *head = atomic_load_explicit(&d->recs, memory_order_acquire);
	size_t nrecs = atomic_load_explicit(&d->nrecs, memory_order_relaxed);
	if (!heavy_fence())
		return; /* readers were not fenced: free nothing this time */
	bool have_set = collect_slots(r, head, nrecs);
	size_t mask = r->set_cap - 1;

	weft_hazard_obj *keep = NULL, *dead = NULL, *next;
	size_t kept = 0;
	for (weft_hazard_obj *o = r->retired; o != NULL; o = next) {
		next = o->next_;
		bool held =
		    have_set ? set_contains(r->set, mask, o->ptr_) : slots_hold(head, o->ptr_);
		if (held) {
			o->next_ = keep;
			keep = o;
			kept++;
		} else {
			o->next_ = dead;
			dead = o;
		}
	}
	size_t before = atomic_load_explicit(&r->nretired, memory_order_relaxed);
	r->retired = keep;
	atomic_store_explicit(&r->nretired, kept, memory_order_relaxed);
	atomic_store_explicit(&r->scans, atomic_load_explicit(&r->scans, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&r->freed,
			      atomic_load_explicit(&r->freed, memory_order_relaxed) + before - kept,
			      memory_order_relaxed);
	/* Free last, with r consistent: a free function may itself retire. */
	for (weft_hazard_obj *o = dead; o != NULL; o = next) {
		next = o->next_;
		free_obj(o);
	}
}

static void rec_release(void *arg)
{
	struct hz_rec *r = arg;
	weft_hazard_clear_all(&r->pub);
	scan(r);
	if (r->dom == &default_domain)
		weft_hazard_default_rec_ = NULL;
	/* Release: the retired list we leave behind is the next owner's (pairs with the
	 * acquiring CAS in rec_acquire). */
	atomic_store_explicit(&r->active, 0, memory_order_release);
}

static struct hz_rec *rec_acquire(weft_hazard_domain *d)
{
	/* Acquire: pairs with the publishing CAS below. */
	for (struct hz_rec *r = atomic_load_explicit(&d->recs, memory_order_acquire); r != NULL;
	     r = r->next) {
		int idle = 0;
		/* Acquire: pairs with the release in rec_release (the old owner's list). */
		if (atomic_load_explicit(&r->active, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(
			&r->active, &idle, 1, memory_order_acquire, memory_order_relaxed))
			return r;
	}
	struct hz_rec *r = weft_mem_zalloc(sizeof(*r), _Alignof(struct hz_rec));
	if (r == NULL)
		return NULL;
	r->dom = d;
	r->pub.fence_ = !use_membarrier;
	atomic_init(&r->active, 1);
	atomic_fetch_add_explicit(&d->nrecs, 1, memory_order_relaxed);
	struct hz_rec *old = atomic_load_explicit(&d->recs, memory_order_relaxed);
	do {
		r->next = old;
		/* Release: publishes r's fields and the nrecs increment to scanners. The CAS
		 * is also a full barrier on x86, ordering it before this thread's slot use. */
	} while (!atomic_compare_exchange_weak_explicit(&d->recs, &old, r, memory_order_seq_cst,
							memory_order_relaxed));
	return r;
}

weft_hazard_rec *weft_hazard_rec_get_slow_(weft_hazard_domain *d)
{
	bool is_default = d == NULL || d == &default_domain;
	if (is_default) {
		d = weft_hazard_domain_default();
		if (weft_hazard_default_rec_ != NULL)
			return weft_hazard_default_rec_;
		if (!default_ok)
			return NULL;
	}
	struct hz_rec *r = pthread_getspecific(d->key);
	if (r == NULL) {
		r = rec_acquire(d);
		if (r == NULL)
			return NULL;
		if (pthread_setspecific(d->key, r) != 0) {
			atomic_store_explicit(&r->active, 0, memory_order_release);
			return NULL;
		}
	}
	if (is_default)
		weft_hazard_default_rec_ = &r->pub;
	return &r->pub;
}

/* free_fn NULL: obj is a struct hz_box (see free_obj). */
static int retire(weft_hazard_domain *d, weft_hazard_obj *obj, void *ptr, void (*free_fn)(void *))
{
	weft_hazard_rec *pub = weft_hazard_rec_get(d);
	if (pub == NULL)
		return ENOMEM;
	struct hz_rec *r = (struct hz_rec *)pub;
	obj->ptr_ = ptr;
	obj->free_fn_ = free_fn;
	obj->next_ = r->retired;
	r->retired = obj;
	size_t n = atomic_load_explicit(&r->nretired, memory_order_relaxed) + 1;
	atomic_store_explicit(&r->nretired, n, memory_order_relaxed);
	if (n > atomic_load_explicit(&r->max_list, memory_order_relaxed))
		atomic_store_explicit(&r->max_list, n, memory_order_relaxed);
	size_t nrecs = atomic_load_explicit(&r->dom->nrecs, memory_order_relaxed);
	if (++r->since_scan >= threshold_for(nrecs))
		scan(r);
	return 0;
}

int weft_hazard_retire_obj(weft_hazard_domain *d, weft_hazard_obj *obj, void *ptr,
			   void (*free_fn)(void *))
{
	if (obj == NULL || ptr == NULL || free_fn == NULL)
		return EINVAL;
	return retire(d, obj, ptr, free_fn);
}

int weft_hazard_retire(weft_hazard_domain *d, void *ptr, void (*free_fn)(void *))
{
	if (ptr == NULL || free_fn == NULL)
		return EINVAL;
	struct hz_box *b = weft_mem_alloc(sizeof(*b), 0);
	if (b == NULL)
		return ENOMEM;
	b->user_fn = free_fn;
	int err = retire(d, &b->obj, ptr, NULL);
	if (err != 0)
		weft_mem_free(b);
	return err;
}

void weft_hazard_scan(weft_hazard_domain *d)
{
	weft_hazard_rec *pub = weft_hazard_rec_get(d);
	if (pub != NULL)
		scan((struct hz_rec *)pub);
}

void weft_hazard_domain_scan(weft_hazard_domain *d)
{
	weft_hazard_scan(d);
	if (d == NULL)
		d = weft_hazard_domain_default();
	/* Acquire: pairs with the publishing CAS in rec_acquire. */
	for (struct hz_rec *r = atomic_load_explicit(&d->recs, memory_order_acquire); r != NULL;
	     r = r->next) {
		int idle = 0;
		/* Borrow an idle record as rec_acquire would (acquire: its old owner's list),
		 * scan it, give it back (release: pairs with the next owner's acquire). */
		if (atomic_load_explicit(&r->active, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(
			&r->active, &idle, 1, memory_order_acquire, memory_order_relaxed)) {
			scan(r);
			atomic_store_explicit(&r->active, 0, memory_order_release);
		}
	}
}

void weft_hazard_domain_destroy(weft_hazard_domain *d)
{
	if (d == NULL || d == &default_domain)
		return;
	pthread_mutex_lock(&domains_lock);
	for (weft_hazard_domain **p = &domains; *p != NULL; p = &(*p)->list_next) {
		if (*p == d) {
			*p = d->list_next;
			break;
		}
	}
	pthread_mutex_unlock(&domains_lock);
	/* Records of live threads stay in their TLS under the key; deleting the key keeps
	 * their destructors from running on freed records. */
	pthread_key_delete(d->key);
	struct hz_rec *r = atomic_load_explicit(&d->recs, memory_order_acquire), *rn;
	for (; r != NULL; r = rn) {
		rn = r->next;
		weft_hazard_obj *o = r->retired, *on;
		for (; o != NULL; o = on) {
			on = o->next_;
			free_obj(o);
		}
		weft_mem_free(r->set);
		weft_mem_free(r);
	}
	weft_mem_free(d);
}

static bool rec_holds(const weft_hazard_rec *pub)
{
	if (pub == NULL)
		return false;
	for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++) {
		if (atomic_load_explicit(&pub->slot_[i], memory_order_relaxed) != NULL)
			return true;
	}
	return false;
}

bool weft_hazard_thread_holds_any(void)
{
	if (rec_holds(weft_hazard_default_rec_))
		return true;
	bool held = false;
	pthread_mutex_lock(&domains_lock);
	for (weft_hazard_domain *d = domains; d != NULL && !held; d = d->list_next)
		held = rec_holds(pthread_getspecific(d->key));
	pthread_mutex_unlock(&domains_lock);
	return held;
}

void weft_hazard_stats_get_(weft_hazard_domain *d, struct weft_hazard_stats *s)
{
	if (d == NULL)
		d = weft_hazard_domain_default();
	*s = (struct weft_hazard_stats){0};
	s->records = atomic_load_explicit(&d->nrecs, memory_order_relaxed);
	/* Acquire: pairs with the publishing CAS in rec_acquire. */
	for (struct hz_rec *r = atomic_load_explicit(&d->recs, memory_order_acquire); r != NULL;
	     r = r->next) {
		s->unreclaimed += atomic_load_explicit(&r->nretired, memory_order_relaxed);
		size_t m = atomic_load_explicit(&r->max_list, memory_order_relaxed);
		if (m > s->max_list)
			s->max_list = m;
		s->scans += atomic_load_explicit(&r->scans, memory_order_relaxed);
		s->freed += atomic_load_explicit(&r->freed, memory_order_relaxed);
	}
}
