/*
 * Cancellation contexts: a reference-counted tree.
 *
 * Each node has a lock guarding its child list, its list of parked waiters and the
 * transition of its state from 0 (live) to an error. Locks are taken parent before child
 * (cancel walks down; create and destroy lock only the parent), and a node lock is taken
 * before a parking-lot bucket lock (cancel wakes waiters). Nothing takes them in the other
 * order, so the tree cannot deadlock.
 *
 * Invariants:
 *   - state goes 0 -> err once, under the node lock; a node whose parent is done is done
 *     (a child is born done under the parent's lock, cancel walks children under it).
 *   - deadline is the node's effective deadline (min with its ancestors'), fixed at birth.
 *   - references: one for the creator, one per child, one per registered waiter, one per
 *     weft_ctx_wait in progress, one per cancel walking through. At zero the node has no
 *     children and no waiters; it unlinks from its parent and drops the reference it held
 *     there. Between the drop to zero and the unlink the node is still on its parent's
 *     child list: anyone walking that list (under the parent's lock) must not revive it,
 *     so walkers take references with ctx_tryref, which refuses a count of zero.
 *   - err: a node cancelled after its own effective deadline passed ends with ETIMEDOUT,
 *     since weft_ctx_err may already have reported ETIMEDOUT for it; otherwise ECANCELED.
 *     (A cancel racing the deadline itself may see the clock just before it; then a
 *     reader that saw ETIMEDOUT a moment earlier later reads ECANCELED.)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include <weft/ctx.h>

#include "alloc.h"
#include "ctx_internal.h"
#include "parking_lot.h"

struct weft_ctx {
	pthread_mutex_t lock;
	_Atomic uint32_t state; /* 0, ECANCELED or ETIMEDOUT; weft_ctx_wait parks on it */
	_Atomic uint32_t refs;
	uint64_t deadline;
	weft_ctx *parent;
	weft_ctx *child_head, *sib_next, *sib_prev; /* sib_* under parent->lock */
	weft_waiter *waiters;                      /* under lock */
};

static void ctx_ref(weft_ctx *c)
{
	/* Relaxed: a new reference is taken from one the caller already holds. */
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/*
 * A reference to a node found on a child list, unless the node's count already reached
 * zero (it is being freed and will unlink itself as soon as the caller drops the parent's
 * lock). Called with the parent's lock held, which keeps the memory alive meanwhile.
 */
static bool ctx_tryref(weft_ctx *c)
{
	uint32_t r = atomic_load_explicit(&c->refs, memory_order_relaxed);
	do {
		if (r == 0)
			return false;
		/* Relaxed: as ctx_ref; the parent's lock orders this against the unlink. */
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r + 1, memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

/* The first child from k on (k included) that ctx_tryref pins; NULL if none. */
static weft_ctx *ctx_pin_from(weft_ctx *k)
{
	while (k != NULL && !ctx_tryref(k))
		k = k->sib_next;
	return k;
}

static void ctx_unref(weft_ctx *c)
{
	while (c != NULL) {
		/* Acq_rel: the release orders this holder's uses before the free; the acquire
		 * by the last holder sees everyone's. */
		if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
			return;
		weft_ctx *parent = c->parent;
#if defined(WEFT_DEBUG_CHECKS)
		/* Debug builds widen the window in which the node is at zero but still on its
		 * parent's list, so that the sanitizer tests exercise walkers meeting it. */
		if (parent != NULL)
			sched_yield();
#endif
		if (parent != NULL) {
			pthread_mutex_lock(&parent->lock);
			if (c->sib_prev)
				c->sib_prev->sib_next = c->sib_next;
			else
				parent->child_head = c->sib_next;
			if (c->sib_next)
				c->sib_next->sib_prev = c->sib_prev;
			pthread_mutex_unlock(&parent->lock);
		}
		pthread_mutex_destroy(&c->lock);
		weft_mem_free(c);
		c = parent; /* drop the reference the child held, iteratively */
	}
}

static int ctx_new(weft_ctx *parent, uint64_t deadline_ns, weft_ctx **out)
{
	if (out == NULL)
		return EINVAL;
	weft_ctx *c = weft_mem_zalloc(sizeof(*c), 0);
	if (c == NULL)
		return ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->refs, 1);
	atomic_init(&c->state, 0);
	c->deadline = deadline_ns;
	if (parent != NULL) {
		if (parent->deadline < c->deadline)
			c->deadline = parent->deadline;
		ctx_ref(parent);
		c->parent = parent;
		pthread_mutex_lock(&parent->lock);
		c->sib_next = parent->child_head;
		if (parent->child_head)
			parent->child_head->sib_prev = c;
		parent->child_head = c;
		/* Relaxed: the parent's state only changes under its lock, which we hold. */
		atomic_store_explicit(&c->state,
				      atomic_load_explicit(&parent->state, memory_order_relaxed),
				      memory_order_relaxed);
		pthread_mutex_unlock(&parent->lock);
	}
	*out = c;
	return 0;
}

int weft_ctx_with_cancel(weft_ctx *parent, weft_ctx **out)
{
	return ctx_new(parent, WEFT_NO_DEADLINE, out);
}

int weft_ctx_with_deadline(weft_ctx *parent, uint64_t deadline_ns, weft_ctx **out)
{
	return ctx_new(parent, deadline_ns, out);
}

int weft_ctx_with_timeout(weft_ctx *parent, uint64_t timeout_ns, weft_ctx **out)
{
	uint64_t now = weft_now_ns();
	uint64_t d = timeout_ns > WEFT_NO_DEADLINE - now ? WEFT_NO_DEADLINE : now + timeout_ns;
	return ctx_new(parent, d, out);
}

/* The error a cancel gives c: ETIMEDOUT if its deadline has passed already (see top). */
static int ctx_cancel_err(const weft_ctx *c)
{
	if (c->deadline != WEFT_NO_DEADLINE && weft_now_ns() >= c->deadline)
		return ETIMEDOUT;
	return ECANCELED;
}

/*
 * Mark c done (with ctx_cancel_err) and wake its waiters; then, if this call made the
 * transition, do the same to its subtree. Only c's lock is held at a time: a child is
 * pinned by a reference while its own subtree is walked, so the child list may change
 * meanwhile (children born now are born done; children released now stay linked while
 * pinned; children already at zero are skipped, see ctx_tryref). The recursion is as
 * deep as the tree; no locks are held along the path.
 */
static void ctx_cancel_tree(weft_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	if (atomic_load_explicit(&c->state, memory_order_relaxed) != 0) {
		pthread_mutex_unlock(&c->lock); /* done already: whoever did it walks the tree */
		return;
	}
	/* Release: pairs with the acquire in weft_ctx_err, publishing what the canceller
	 * wrote before cancelling. */
	atomic_store_explicit(&c->state, (uint32_t)ctx_cancel_err(c), memory_order_release);
	weft_waiter *w = c->waiters;
	c->waiters = NULL;
	while (w != NULL) {
		weft_waiter *next = w->ctx_next;
		w->ctx_next = w->ctx_prev = NULL;
		w->ctx = NULL; /* unlinked: its owner's weft_ctx_waiter_remove has nothing to do */
		weft_lot_cancel(w);
		w = next;
	}
	/* Skip children whose count reached zero: they have no children or waiters left and
	 * are about to be freed (bug fixed here: pinning one revived it, and the free ran
	 * twice or under the walk). */
	weft_ctx *k = ctx_pin_from(c->child_head);
	pthread_mutex_unlock(&c->lock);
	while (k != NULL) {
		ctx_cancel_tree(k);
		pthread_mutex_lock(&c->lock);
		/* k is pinned, so it is still linked and its sib_next is current. */
		weft_ctx *next = ctx_pin_from(k->sib_next);
		pthread_mutex_unlock(&c->lock);
		ctx_unref(k);
		k = next;
	}
}

void weft_ctx_cancel(weft_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ctx_cancel_tree(ctx);
}

bool weft_ctx_done(weft_ctx *ctx)
{
	return weft_ctx_err(ctx) != 0;
}

int weft_ctx_err(weft_ctx *ctx)
{
	if (ctx == NULL)
		return 0;
	/* Acquire: pairs with the release in ctx_cancel_tree. */
	uint32_t s = atomic_load_explicit(&ctx->state, memory_order_acquire);
	if (s != 0)
		return (int)s;
	if (ctx->deadline != WEFT_NO_DEADLINE && weft_now_ns() >= ctx->deadline)
		return ETIMEDOUT;
	return 0;
}

uint64_t weft_ctx_deadline(weft_ctx *ctx)
{
	return ctx ? ctx->deadline : WEFT_NO_DEADLINE;
}

int weft_ctx_wait(weft_ctx *ctx)
{
	if (ctx == NULL)
		return EINVAL;
	/* Our own reference for the whole wait: the caller's may be released by another
	 * thread once the context is done, and the registration's reference ends when
	 * weft_park returns, before the loop reads ctx again (bug fixed here). */
	ctx_ref(ctx);
	int err;
	while ((err = weft_ctx_err(ctx)) == 0)
		weft_park(&ctx->state, 0, WEFT_NO_DEADLINE, ctx);
	ctx_unref(ctx);
	return err;
}

void weft_ctx_release(weft_ctx *ctx)
{
	ctx_unref(ctx);
}

uint32_t weft_ctx_refs_(weft_ctx *ctx)
{
	return atomic_load_explicit(&ctx->refs, memory_order_relaxed);
}

int weft_ctx_waiter_add(weft_ctx *ctx, weft_waiter *w)
{
	pthread_mutex_lock(&ctx->lock);
	uint32_t s = atomic_load_explicit(&ctx->state, memory_order_relaxed); /* under lock */
	if (s != 0) {
		pthread_mutex_unlock(&ctx->lock);
		return (int)s;
	}
	ctx_ref(ctx);
	w->ctx = ctx;
	w->ctx_prev = NULL;
	w->ctx_next = ctx->waiters;
	if (ctx->waiters)
		ctx->waiters->ctx_prev = w;
	ctx->waiters = w;
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

void weft_ctx_waiter_remove(weft_ctx *ctx, weft_waiter *w)
{
	pthread_mutex_lock(&ctx->lock);
	if (w->ctx != NULL) { /* still linked: no cancel took it */
		if (w->ctx_prev)
			w->ctx_prev->ctx_next = w->ctx_next;
		else
			ctx->waiters = w->ctx_next;
		if (w->ctx_next)
			w->ctx_next->ctx_prev = w->ctx_prev;
		w->ctx = NULL;
	}
	pthread_mutex_unlock(&ctx->lock);
	ctx_unref(ctx);
}
