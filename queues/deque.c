/*
 * The Chase-Lev work-stealing deque with the C11 orders of Lê, Pop, Cohen and Zappa
 * Nardelli (PPoPP 2013, figure 1), with three deliberate differences, all stronger:
 * - push publishes the bottom index with a release store instead of a release fence and a
 *   relaxed store: the same instructions on x86-64 and Arm64, and ThreadSanitizer (which
 *   does not model fences) then sees the owner -> thief happens-before edge;
 * - pop's stores of bottom are release stores too (the paper's are relaxed, covered by the
 *   release fence of an earlier push). A thief may read a bottom value written by pop and
 *   then steal an item pushed earlier; with the paper's fence that synchronises, and with
 *   a release store in push it would only through C11's "later stores by the same thread"
 *   release-sequence rule, which C++20 dropped. Free on x86-64 (a plain mov), an stlr on
 *   Arm64 next to the full fence pop issues anyway;
 * - steal loads the array with acquire instead of consume (compilers promote consume to
 *   acquire anyway).
 *
 * Invariants:
 * - top only increases, and only by a successful CAS (thieves, or the owner taking the last
 *   item); bottom is written only by the owner.
 * - The items are the slots [top, bottom) of the current array, slot i at i & mask.
 * - Indices are int64_t. A pop on an empty deque computes bottom - 1, which may be -1 and
 *   must compare below top (0): with unsigned indices it would wrap to SIZE_MAX and "find"
 *   an item (a known bug of published implementations; test_deque.c checks it).
 * - A thief reads its slot BEFORE its CAS on top: once top has moved past the slot, the
 *   owner may overwrite it (push after wrap-around) — reading after the CAS would return the
 *   wrong item, another published bug.
 * - Indices are never renumbered: growth copies slot i of the old array to slot i of the new
 *   one, so a thief's CAS from t to t+1 claims the same item whichever array it read; a
 *   thief that read the old array reads the same pointer the new array holds at i
 *   (growth only happens when the array is full, and the owner does not overwrite the old
 *   array after the swap).
 * - Reclamation: a thief may load the array pointer, be preempted, and read a slot after the
 *   owner has grown the deque. Replaced arrays therefore go on an owner-private list freed
 *   only at destroy. Capacities double, so the list's total is below the current capacity.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/deque.h>

#include "../sync/alloc.h"
#include "deque_internal.h"

#define DEQUE_MAX_CAPACITY (INT64_C(1) << 62)

static deque_array *array_new(int64_t capacity)
{
	if (capacity > DEQUE_MAX_CAPACITY ||
	    (uint64_t)capacity > (SIZE_MAX - sizeof(deque_array)) / sizeof(void *))
		return NULL;
	deque_array *a = weft_mem_alloc(sizeof(deque_array) + (size_t)capacity * sizeof(void *), 0);
	if (a == NULL)
		return NULL;
	a->mask = capacity - 1;
	a->older = NULL;
	for (int64_t i = 0; i < capacity; i++)
		atomic_init(&a->slots[i], NULL);
	return a;
}

int weft_deque_create(weft_deque **d, size_t initial_capacity)
{
	if (d == NULL || initial_capacity > (size_t)DEQUE_MAX_CAPACITY)
		return EINVAL;
	int64_t cap = 2;
	while ((size_t)cap < initial_capacity)
		cap <<= 1;
	weft_deque *q = weft_mem_alloc(sizeof(*q), _Alignof(weft_deque));
	if (q == NULL)
		return ENOMEM;
	deque_array *a = array_new(cap);
	if (a == NULL) {
		weft_mem_free(q);
		return ENOMEM;
	}
	atomic_init(&q->top, 0);
	atomic_init(&q->bottom, 0);
	atomic_init(&q->want, false);
	q->pbot = 0;
	atomic_init(&q->array, a);
	q->retired = NULL;
	*d = q; /* publication to other threads is the caller's business (e.g. pthread_create) */
	return 0;
}

void weft_deque_destroy(weft_deque *d)
{
	if (d == NULL)
		return;
	weft_mem_free(atomic_load_explicit(&d->array, memory_order_relaxed));
	for (deque_array *a = d->retired, *next; a != NULL; a = next) {
		next = a->older;
		weft_mem_free(a);
	}
	weft_mem_free(d);
}

/* Owner only: a doubled array holding slots [t, b) at the same indices (b: the end of the
 * private region); NULL on ENOMEM. */
static deque_array *deque_grow(weft_deque *d, deque_array *old, int64_t t, int64_t b)
{
	deque_array *a = array_new((old->mask + 1) * 2);
	if (a == NULL)
		return NULL;
	for (int64_t i = t; i < b; i++) {
		/* relaxed: the owner wrote these slots; the release below publishes the copy */
		void *x = atomic_load_explicit(&old->slots[i & old->mask], memory_order_relaxed);
		atomic_store_explicit(&a->slots[i & a->mask], x, memory_order_relaxed);
	}
	old->older = d->retired;
	d->retired = old;
	/* release: pairs with the acquire load of array in steal, which then sees the copied
	 * slots */
	atomic_store_explicit(&d->array, a, memory_order_release);
	return a;
}

/* The out-of-line push: grow the array (it is full), then push. */
int weft_deque_push_grow_(weft_deque *d, void *item, bool publish)
{
	/* acquire: as in deque_push_fast */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	/* relaxed: only the owner writes array */
	deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
	if (d->pbot - t > a->mask && deque_grow(d, a, t, d->pbot) == NULL)
		return ENOMEM;
	return deque_push_fast(d, item, publish) ? 0 : ENOMEM;
}

int weft_deque_push(weft_deque *d, void *item)
{
	if (d == NULL || item == NULL)
		return EINVAL;
	if (deque_push_fast(d, item, true))
		return 0;
	return weft_deque_push_grow_(d, item, true);
}

void *weft_deque_pop(weft_deque *d)
{
	if (d == NULL)
		return NULL;
	return deque_pop_fast(d);
}

int weft_deque_steal(weft_deque *d, void **item)
{
	if (d == NULL || item == NULL)
		return EINVAL;
	/* acquire: pairs with the CAS of other thieves / the owner on top */
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	/* seq_cst: orders the load of top before the load of bottom, against the owner's fence
	 * in pop between its store of bottom and its load of top */
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: pairs with the release store of bottom in push: the slot and the item's
	 * contents are visible */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
	if (t >= b)
		return EAGAIN;
	/* acquire (the paper's consume): pairs with the release store in deque_grow, so the
	 * copied slots of a new array are visible */
	deque_array *a = atomic_load_explicit(&d->array, memory_order_acquire);
	/* relaxed: read BEFORE the CAS (after it, the owner may reuse the slot); if the CAS
	 * below succeeds, no one moved top past t in between, so this slot still held item t */
	void *x = atomic_load_explicit(&a->slots[t & a->mask], memory_order_relaxed);
	/* seq_cst: totally ordered with the owner's CAS in pop and other thieves' CAS;
	 * failure relaxed: we return EBUSY and read nothing more */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
						     memory_order_relaxed))
		return EBUSY;
	*item = x;
	return 0;
}

size_t weft_deque_size_hint(const weft_deque *d)
{
	if (d == NULL)
		return 0;
	/* relaxed: an estimate; the two loads are not a snapshot */
	int64_t b = atomic_load_explicit(&((weft_deque *)d)->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&((weft_deque *)d)->top, memory_order_relaxed);
	return b > t ? (size_t)(b - t) : 0;
}
