/*
 * The Michael-Scott queue, with two reclaimers (hazard pointers or RCU).
 *
 * Invariants:
 *   - head points to the dummy node; the items are in the nodes after it. A pop moves
 *     head to the next node, whose item it takes; that node becomes the new dummy.
 *   - tail points to the last node or to the one before it (a push links its node, then
 *     swings tail; anyone who sees tail lagging swings it first).
 *   - head never passes tail: a pop that finds head == tail with a successor swings tail
 *     before it moves head. So a node is retired only after neither head nor tail can
 *     reach it, and no new reference to it can be loaded from the queue.
 *   - A node's next changes once, NULL -> successor (release CAS); its item is written
 *     before that CAS publishes the node and never again.
 * Hazard path: slot 0 protects head (pop) or tail (push), slot 1 the successor a pop
 * reads. Hazard pointers also make the CASes ABA-free: a node held in a slot cannot be
 * freed and reallocated, so head or tail cannot come back to it.
 * RCU path: the whole operation is one read-side section; a retired node outlives every
 * section that could have loaded it, which also rules out ABA.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>

#include <weft/hazard.h>
#include <weft/msq.h>
#include <weft/rcu.h>

#include "queue_ops.h"
#include "../sync/alloc.h"

struct msq_node {
	struct msq_node *_Atomic next;
	void *item;
	union {
		weft_hazard_obj hz;
		weft_rcu_head rcu;
	} reclaim;
};

struct weft_msq {
	/* struct msq_node *, typed void * so that weft_hazard_protect reads them without a
	 * cast between atomic types. */
	alignas(WEFT_PADDING) void *_Atomic head;
	alignas(WEFT_PADDING) void *_Atomic tail;
	weft_msq_reclaim how;
};

static struct msq_node *node_new(void *item)
{
	struct msq_node *n = weft_mem_alloc(sizeof(*n), 0);
	if (n != NULL) {
		atomic_init(&n->next, NULL);
		n->item = item;
	}
	return n;
}

static void node_free_hz(void *p)
{
	weft_mem_free(p);
}

static void node_free_rcu(weft_rcu_head *h)
{
	weft_mem_free((char *)h - offsetof(struct msq_node, reclaim.rcu));
}

int weft_msq_create(weft_msq **out, weft_msq_reclaim how)
{
	if (out == NULL || (how != WEFT_MSQ_HAZARD && how != WEFT_MSQ_RCU))
		return EINVAL;
	weft_msq *q = weft_mem_alloc(sizeof(*q), alignof(weft_msq));
	if (q == NULL)
		return ENOMEM;
	struct msq_node *dummy = node_new(NULL);
	if (dummy == NULL) {
		weft_mem_free(q);
		return ENOMEM;
	}
	atomic_init(&q->head, dummy);
	atomic_init(&q->tail, dummy);
	q->how = how;
	*out = q;
	return 0;
}

void weft_msq_destroy(weft_msq *q)
{
	if (q == NULL)
		return;
	struct msq_node *n = atomic_load_explicit(&q->head, memory_order_relaxed), *next;
	for (; n != NULL; n = next) {
		next = atomic_load_explicit(&n->next, memory_order_relaxed);
		weft_mem_free(n);
	}
	weft_mem_free(q);
}

/* Link n after the last node. t is the tail the caller loaded and made safe; returns
 * false when the caller must reload tail and retry. */
static bool try_link(weft_msq *q, struct msq_node *t, struct msq_node *n)
{
	/* Acquire: pairs with the release CAS that linked t's successor. */
	struct msq_node *next = atomic_load_explicit(&t->next, memory_order_acquire);
	if (next != NULL) {
		/* Tail lags: swing it (release: pairs with the acquire loads of tail). */
		void *exp = t;
		atomic_compare_exchange_strong_explicit(&q->tail, &exp, next, memory_order_release,
							memory_order_relaxed);
		return false;
	}
	struct msq_node *expected = NULL;
	/* Release: publishes n's item and next to whoever loads t->next (push or pop). */
	if (!atomic_compare_exchange_strong_explicit(&t->next, &expected, n, memory_order_release,
						     memory_order_relaxed))
		return false;
	/* Release: pairs with the acquire loads of tail. Failure is fine: someone helped. */
	void *exp = t;
	atomic_compare_exchange_strong_explicit(&q->tail, &exp, n, memory_order_release,
						memory_order_relaxed);
	return true;
}

static int push_hazard(weft_msq *q, struct msq_node *n)
{
	weft_hazard_rec *rec = weft_hazard_rec_get(NULL);
	if (rec == NULL)
		return ENOMEM;
	for (;;) {
		/* Acquire inside protect: pairs with the release swings of tail. */
		struct msq_node *t = weft_hazard_protect(rec, 0, &q->tail);
		if (try_link(q, t, n))
			break;
	}
	weft_hazard_clear(rec, 0);
	return 0;
}

static void push_rcu(weft_msq *q, struct msq_node *n)
{
	weft_rcu_read_lock();
	for (;;) {
		/* Acquire: pairs with the release swings of tail. */
		struct msq_node *t = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (try_link(q, t, n))
			break;
	}
	weft_rcu_read_unlock();
}

int weft_msq_push(weft_msq *q, void *item)
{
	if (q == NULL)
		return EINVAL;
	struct msq_node *n = node_new(item);
	if (n == NULL)
		return ENOMEM;
	if (q->how == WEFT_MSQ_RCU) {
		push_rcu(q, n);
		return 0;
	}
	int err = push_hazard(q, n);
	if (err != 0)
		weft_mem_free(n);
	return err;
}

/*
 * One pop attempt on a head h that is safe to read (protected, or inside an RCU section)
 * and a successor next that is safe too. Returns 0 with *item set and the old dummy
 * unlinked, EAGAIN when empty, or -1 to retry.
 */
static int try_take(weft_msq *q, struct msq_node *h, struct msq_node *next, void **item)
{
	/* Acquire: pairs with the release swings of tail. */
	void *t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (next == NULL)
		return EAGAIN;
	if (h == t) {
		/* Tail lags behind a linked node: swing it before head may pass it. */
		atomic_compare_exchange_strong_explicit(&q->tail, &t, next, memory_order_release,
							memory_order_relaxed);
		return -1;
	}
	void *it = next->item;
	/* next->item was published by the release CAS on h->next that our acquire load of
	 * it read from. Release here: the next popper's acquire load of head then
	 * inherits that chain, so next's own fields (its next link) are visible to it. */
	void *exp = h;
	if (!atomic_compare_exchange_strong_explicit(&q->head, &exp, next, memory_order_release,
						     memory_order_relaxed))
		return -1;
	*item = it;
	return 0;
}

static int pop_hazard(weft_msq *q, void **item)
{
	weft_hazard_rec *rec = weft_hazard_rec_get(NULL);
	if (rec == NULL)
		return ENOMEM;
	struct msq_node *h;
	int r;
	do {
		h = weft_hazard_protect(rec, 0, &q->head);
		/* Acquire: pairs with the release CAS in try_link that linked next. */
		struct msq_node *next = atomic_load_explicit(&h->next, memory_order_acquire);
		weft_hazard_set(rec, 1, next);
		/* next is safe once head is still h after publishing it: next cannot be
		 * retired before head has moved past h (and h, held in slot 0, cannot come
		 * back). Acquire: pairs with the release CAS of head. */
		if (atomic_load_explicit(&q->head, memory_order_acquire) != h) {
			r = -1;
			continue;
		}
		r = try_take(q, h, next, item);
	} while (r < 0);
	weft_hazard_clear(rec, 1);
	weft_hazard_clear(rec, 0);
	if (r == 0)
		weft_hazard_retire_obj(NULL, &h->reclaim.hz, h, node_free_hz); /* has a record */
	return r;
}

static int pop_rcu(weft_msq *q, void **item)
{
	struct msq_node *h;
	int r;
	weft_rcu_read_lock();
	do {
		/* Acquire: pairs with the release CAS of head. */
		h = atomic_load_explicit(&q->head, memory_order_acquire);
		/* Acquire: pairs with the release CAS in try_link. */
		struct msq_node *next = atomic_load_explicit(&h->next, memory_order_acquire);
		r = try_take(q, h, next, item);
	} while (r < 0);
	weft_rcu_read_unlock();
	if (r == 0)
		weft_rcu_retire(&h->reclaim.rcu, node_free_rcu);
	return r;
}

int weft_msq_pop(weft_msq *q, void **item)
{
	if (q == NULL || item == NULL)
		return EINVAL;
	return q->how == WEFT_MSQ_RCU ? pop_rcu(q, item) : pop_hazard(q, item);
}

/* The weft_queue interface (queues/queue.c). capacity is only a hint: unused. */
static int ops_create_hazard(void **impl, size_t capacity)
{
	(void)capacity;
	return weft_msq_create((weft_msq **)impl, WEFT_MSQ_HAZARD);
}

static int ops_create_rcu(void **impl, size_t capacity)
{
	(void)capacity;
	return weft_msq_create((weft_msq **)impl, WEFT_MSQ_RCU);
}

static int ops_push(void *impl, void *item)
{
	return weft_msq_push(impl, item);
}

static int ops_pop(void *impl, void **item)
{
	return weft_msq_pop(impl, item);
}

static void ops_destroy(void *impl)
{
	weft_msq_destroy(impl);
}

const weft_queue_ops weft_queue_ops_msq = {
    .name = "msq",
    .bounded = false,
    .max_producers = 0,
    .max_consumers = 0,
    .create = ops_create_hazard,
    .push = ops_push,
    .pop = ops_pop,
    .destroy = ops_destroy,
};

const weft_queue_ops weft_queue_ops_msq_rcu = {
    .name = "msq_rcu",
    .bounded = false,
    .max_producers = 0,
    .max_consumers = 0,
    .create = ops_create_rcu,
    .push = ops_push,
    .pop = ops_pop,
    .destroy = ops_destroy,
};
