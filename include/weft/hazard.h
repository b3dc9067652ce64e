/*
 * Hazard pointers: safe memory reclamation for lock-free structures (Michael, 2004).
 *
 * A reader that is about to dereference a shared pointer first publishes it in one of its
 * hazard slots (weft_hazard_protect); a writer that has unlinked a node retires it
 * (weft_hazard_retire) instead of freeing it; a scan frees each retired node that no slot
 * in the domain holds.
 *
 *   reader                                     writer
 *   rec = weft_hazard_rec_get(NULL);           (unlink n from the structure)
 *   n = weft_hazard_protect(rec, 0, &head);    weft_hazard_retire(NULL, n, free);
 *   ... read *n ...
 *   weft_hazard_clear(rec, 0);
 *
 * Domain: the set of records a scan consults. The process-wide default domain (passed as
 * NULL) suits nearly everyone; a private domain only shortens scans.
 *
 * Records: each thread gets one record per domain on first use (weft_hazard_rec_get), with
 * WEFT_HAZARD_SLOTS slots, and gives it back when it exits (records are reused, never
 * freed before their domain). A record's retired list stays with the record, so what an
 * exiting thread could not free yet is freed by the record's next owner.
 *
 * The cost split (the asymmetric fence of folly's hazptr): protect publishes with a plain
 * store and a compiler barrier; each scan first makes every thread of the process execute
 * a full fence with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), so a publication either
 * is visible to the scan or happened after it, in which case the reader's re-validation
 * sees the node unlinked. Where the kernel lacks membarrier (or under ThreadSanitizer,
 * which cannot see it), protect issues a seq_cst fence instead.
 *
 * Bound on unreclaimed nodes. Let R be the number of records in the domain and
 * H = R * WEFT_HAZARD_SLOTS the number of slots. A record scans once it has retired
 * threshold(R) = max(2 * H, WEFT_HAZARD_SCAN_MIN) nodes since its last scan; after a scan
 * at most H of its nodes survive (each slot holds one pointer). Hence:
 *   - a record's retired list never holds more than H + threshold(R) nodes
 *     (weft_hazard_bound_per_record), and
 *   - the whole domain holds at most R * (H + threshold(R)) unreclaimed nodes.
 * A scan costs O(H + list length) (the slots go into a hash set), paid for by the
 * threshold(R) >= 2H retires since the last one: amortised O(1) per retire.
 *
 * FIBERS: a hazard pointer belongs to a thread's record. A fiber may migrate to another
 * worker thread when it switches, so it must not carry a hazard pointer across a switch
 * (any blocking call, yield or park): clear every slot first. The runtime asserts
 * !weft_hazard_thread_holds_any() at each switch in debug builds
 * (WEFT_HAZARD_ASSERT_NONE_HELD).
 */
#ifndef WEFT_HAZARD_H
#define WEFT_HAZARD_H

#include <stdatomic.h>
#include <weft/common.h>

/* Hazard slots per record. */
#define WEFT_HAZARD_SLOTS 4
/* The least number of retires between two scans of one record. */
#define WEFT_HAZARD_SCAN_MIN 256

typedef struct weft_hazard_domain weft_hazard_domain;

/*
 * A thread's record in a domain. Only the owning thread calls protect/set/clear on it.
 * All fields are private; the slots are public only so that protect can be inline.
 */
typedef struct weft_hazard_rec {
	/* private: written by the owner, read by scanners */
	void *_Atomic slot_[WEFT_HAZARD_SLOTS];
	/* private, read-only after creation: protect needs a full fence (no membarrier) */
	bool fence_;
} weft_hazard_rec;

/*
 * An intrusive retire node, to embed in the object being retired so that retiring it
 * never allocates. Fields are private.
 */
typedef struct weft_hazard_obj {
	struct weft_hazard_obj *next_;
	void *ptr_;		  /* the address readers protect */
	void (*free_fn_)(void *); /* called with ptr_ once no slot holds it */
} weft_hazard_obj;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_HAZARD_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(WEFT_TSAN)
#define WEFT_HAZARD_TSAN_ 1
#endif

/*
 * weft_hazard_domain_create - a private domain.
 * Returns: 0, EINVAL (d NULL), ENOMEM, EAGAIN (no pthread key left).
 * Allocates: the domain; records later, one per thread that uses it.
 */
WEFT_API int weft_hazard_domain_create(weft_hazard_domain **d);

/*
 * weft_hazard_domain_destroy - free every node still retired in d (calling its free
 * function), every record, and d. NULL and the default domain are ignored.
 * Thread-safety: no other thread may use d during or after the call, and no slot of d may
 * hold a pointer. Threads that used d need not have exited, but none may be exiting during
 * the call: a thread's exit gives its record back (and scans it) from a thread-specific
 * destructor, which would touch the freed record. Join such threads first.
 */
WEFT_API void weft_hazard_domain_destroy(weft_hazard_domain *d);

/* weft_hazard_domain_default - the process-wide domain (what NULL means everywhere). */
WEFT_API weft_hazard_domain *weft_hazard_domain_default(void);

/* Private: the calling thread's record in the default domain, or NULL before first use. */
extern WEFT_API __thread weft_hazard_rec *weft_hazard_default_rec_
    __attribute__((tls_model("initial-exec")));
WEFT_API weft_hazard_rec *weft_hazard_rec_get_slow_(weft_hazard_domain *d);

/*
 * weft_hazard_rec_get - the calling thread's record in d (NULL: the default domain),
 * acquired on first use and released when the thread exits.
 * Returns: the record, or NULL when memory for a new record ran out.
 * Cost: one thread-local load for the default domain once acquired; a pthread_getspecific
 * for a private domain (keep the pointer). Thread-safety: any thread; the record is the
 * caller's alone. Allocates: a record, on a thread's first use when none is free.
 */
static inline weft_hazard_rec *weft_hazard_rec_get(weft_hazard_domain *d)
{
	weft_hazard_rec *r = weft_hazard_default_rec_;
	if (WEFT_LIKELY(d == NULL && r != NULL))
		return r;
	return weft_hazard_rec_get_slow_(d);
}

/* The store-load fence between a publication and its re-validation (see the top). */
static inline void weft_hazard_publish_fence_(const weft_hazard_rec *rec)
{
#if defined(WEFT_HAZARD_TSAN_)
	(void)rec;
	atomic_thread_fence(memory_order_seq_cst);
#else
	if (WEFT_UNLIKELY(rec->fence_))
		/* Pairs with the seq_cst fence a scan issues before reading the slots. */
		atomic_thread_fence(memory_order_seq_cst);
	else
		/* Compiler barrier only: the scan's membarrier fences this thread for us. */
		atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * weft_hazard_set - publish p in slot with the same fence as protect, for callers that
 * validate p themselves (e.g. "the head is still h" in a queue pop). p is safe only once
 * the caller has re-checked, after this call, that p is still reachable.
 * Thread-safety: owner of rec only. Never blocks.
 */
static inline void weft_hazard_set(weft_hazard_rec *rec, unsigned slot, void *p)
{
#if defined(WEFT_HAZARD_TSAN_)
	atomic_store_explicit(&rec->slot_[slot], p, memory_order_seq_cst);
#else
	atomic_store_explicit(&rec->slot_[slot], p, memory_order_relaxed);
#endif
	weft_hazard_publish_fence_(rec);
}

/*
 * weft_hazard_protect - load *src, publish it in slot and re-load *src until both loads
 * agree; return the pointer, which stays safe to dereference until the slot is cleared or
 * overwritten. NULL is returned (and published) when *src is NULL.
 * Ordering: the returned value comes from an acquire load of *src (pairs with the release
 * store that published the node).
 * Thread-safety: owner of rec only; slot < WEFT_HAZARD_SLOTS (unchecked). Never blocks.
 */
static inline void *weft_hazard_protect(weft_hazard_rec *rec, unsigned slot, void *_Atomic *src)
{
	void *p = atomic_load_explicit(src, memory_order_relaxed);
	for (;;) {
		weft_hazard_set(rec, slot, p);
		/* Acquire: pairs with the release store that linked p into the structure. */
		void *q = atomic_load_explicit(src, memory_order_acquire);
		if (WEFT_LIKELY(q == p))
			return p;
		p = q;
	}
}


/*
 * weft_hazard_clear - empty slot.
 * Ordering: release: the owner's reads of the node happen before a scan that sees the
 * slot empty frees it (pairs with the scan's acquire load of the slot).
 * Thread-safety: owner of rec only. Never blocks.
 */
static inline void weft_hazard_clear(weft_hazard_rec *rec, unsigned slot)
{
	atomic_store_explicit(&rec->slot_[slot], NULL, memory_order_release);
}

/* weft_hazard_clear_all - empty every slot of rec (as weft_hazard_clear). */
static inline void weft_hazard_clear_all(weft_hazard_rec *rec)
{
	for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++)
		atomic_store_explicit(&rec->slot_[i], NULL, memory_order_release);
}

/*
 * weft_hazard_retire_obj - hand ptr, already unlinked from every shared structure, to d
 * (NULL: default); free_fn(ptr) runs once no slot of d holds ptr, on whichever thread
 * scans (or in weft_hazard_domain_destroy). obj is intrusive storage for the retired list,
 * usually embedded in *ptr; it must stay valid until free_fn runs.
 * May run a scan (amortised O(1), see the top), which calls free functions and, with
 * membarrier, interrupts the process's other running threads.
 * Returns: 0, or ENOMEM only when the calling thread has no record in d and none could be
 * allocated (ptr was then not retired). EINVAL for NULL obj, ptr or free_fn.
 * Thread-safety: any thread; not from inside a free function of the same domain.
 */
WEFT_API int weft_hazard_retire_obj(weft_hazard_domain *d, weft_hazard_obj *obj, void *ptr,
				    void (*free_fn)(void *));

/*
 * weft_hazard_retire - as weft_hazard_retire_obj, allocating the retire node.
 * Returns: 0, EINVAL (ptr or free_fn NULL), ENOMEM (ptr was not retired: still yours).
 */
WEFT_API int weft_hazard_retire(weft_hazard_domain *d, void *ptr, void (*free_fn)(void *));

/*
 * weft_hazard_scan - scan the calling thread's retired list in d now, freeing what no
 * slot holds (a thread about to go idle calls it). Thread-safety: any thread.
 */
WEFT_API void weft_hazard_scan(weft_hazard_domain *d);

/*
 * weft_hazard_domain_scan - weft_hazard_scan, then the same for every record no thread
 * owns (lists left behind by exited threads whose records nobody reused yet).
 * Thread-safety: any thread. Cost: one scan per such record.
 */
WEFT_API void weft_hazard_domain_scan(weft_hazard_domain *d);

/*
 * weft_hazard_bound_per_record - the most nodes one record's retired list can hold in d
 * right now: H + threshold(R) (see the top). The domain-wide bound is R times this.
 */
WEFT_API size_t weft_hazard_bound_per_record(weft_hazard_domain *d);

/*
 * weft_hazard_thread_holds_any - true when the calling thread has a non-empty slot in any
 * domain. A fiber runtime asserts it false at every switch. Cost: a walk of the thread's
 * records (debug use). Thread-safety: any thread.
 */
WEFT_API bool weft_hazard_thread_holds_any(void);

#if defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS
#include <stdio.h>
#include <stdlib.h>
#define WEFT_HAZARD_ASSERT_NONE_HELD()                                                             \
	do {                                                                                       \
		if (weft_hazard_thread_holds_any()) {                                              \
			fprintf(stderr, "weft: hazard pointer held across a fiber switch\n");      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
#else
#define WEFT_HAZARD_ASSERT_NONE_HELD() ((void)0)
#endif

#endif
