/*
 * Cancellation contexts: subtree cancellation reaches exactly the waiters under the
 * cancelled node, in every blocking primitive; deadlines are never early; references
 * keep nodes alive however the tree is released (ASan checks the use-after-free fixes).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <weft/brwlock.h>
#include <weft/ctx.h>
#include <weft/mutex.h>
#include <weft/rwlock.h>
#include <weft/sem.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "sync/ctx_internal.h"
#include "weft_test.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- the blocking primitives, as a table ---- */

static weft_sem never_posted; /* value 0 throughout */
static weft_wg never_done;    /* count 1 throughout */
static weft_rwlock rw_read_held, rw_write_held; /* held by the test's main thread */
static weft_mutex mutex_held = WEFT_MUTEX_INITIALIZER; /* held by the main thread */
static weft_brwlock *brw_read_held, *brw_write_held;

/* Once per process (each case runs in its own process); the locks stay held to the end. */
static void kinds_setup(void)
{
	weft_sem_init(&never_posted, 0);
	weft_wg_init(&never_done);
	weft_wg_add(&never_done, 1);
	CHECK_EQ(weft_rwlock_init(&rw_read_held), 0);
	CHECK_EQ(weft_rwlock_init(&rw_write_held), 0);
	CHECK_EQ(weft_rwlock_tryrdlock(&rw_read_held), 0);
	CHECK_EQ(weft_rwlock_trywrlock(&rw_write_held), 0);
	CHECK_EQ(weft_brwlock_create(&brw_read_held), 0);
	CHECK_EQ(weft_brwlock_create(&brw_write_held), 0);
	CHECK_EQ(weft_brwlock_tryrdlock(brw_read_held), 0);
	CHECK_EQ(weft_brwlock_trywrlock(brw_write_held), 0);
	CHECK_EQ(weft_mutex_trylock(&mutex_held), 0);
}

/* Let the held locks go and free them (ASan's leak check runs at exit). */
static void kinds_teardown(void)
{
	CHECK_EQ(weft_rwlock_rdunlock(&rw_read_held), 0);
	CHECK_EQ(weft_rwlock_wrunlock(&rw_write_held), 0);
	CHECK_EQ(weft_brwlock_rdunlock(brw_read_held), 0);
	CHECK_EQ(weft_brwlock_wrunlock(brw_write_held), 0);
	CHECK_EQ(weft_mutex_unlock(&mutex_held), 0);
	weft_brwlock_destroy(brw_read_held);
	weft_brwlock_destroy(brw_write_held);
}

static int wait_ctx(weft_ctx *ctx)
{
	return weft_ctx_wait(ctx);
}

static int wait_sem(weft_ctx *ctx)
{
	return weft_sem_wait(&never_posted, ctx);
}

static int wait_wg(weft_ctx *ctx)
{
	return weft_wg_wait(&never_done, ctx);
}

static int wait_rwlock_wr(weft_ctx *ctx)
{
	return weft_rwlock_wrlock(&rw_read_held, ctx);
}

static int wait_rwlock_rd(weft_ctx *ctx)
{
	return weft_rwlock_rdlock(&rw_write_held, ctx);
}

static int wait_brwlock_wr(weft_ctx *ctx)
{
	return weft_brwlock_wrlock(brw_read_held, ctx);
}

static int wait_brwlock_rd(weft_ctx *ctx)
{
	return weft_brwlock_rdlock(brw_write_held, ctx);
}

static int wait_mutex(weft_ctx *ctx)
{
	return weft_mutex_lock(&mutex_held, ctx);
}

/*
 * Each entry blocks until ctx is done (its object never becomes ready: never posted,
 * never done, or held by the main thread) and returns why.
 */
static const struct wait_kind {
	const char *name;
	int (*wait)(weft_ctx *ctx);
} wait_kinds[] = {
	{ "ctx_wait", wait_ctx },
	{ "sem", wait_sem },
	{ "wg", wait_wg },
	{ "rwlock_wr", wait_rwlock_wr },
	{ "rwlock_rd", wait_rwlock_rd },
	{ "brwlock_wr", wait_brwlock_wr },
	{ "brwlock_rd", wait_brwlock_rd },
	{ "mutex", wait_mutex },
};
#define NKINDS (sizeof(wait_kinds) / sizeof(wait_kinds[0]))

WEFT_TEST(bad_input)
{
	weft_ctx *c;
	CHECK_EQ(weft_ctx_with_cancel(NULL, NULL), EINVAL);
	CHECK_EQ(weft_ctx_with_deadline(NULL, 0, NULL), EINVAL);
	CHECK_EQ(weft_ctx_with_timeout(NULL, 0, NULL), EINVAL);
	CHECK_EQ(weft_ctx_wait(NULL), EINVAL);
	CHECK_EQ(weft_ctx_err(NULL), 0);
	CHECK(!weft_ctx_done(NULL));
	CHECK_EQ(weft_ctx_deadline(NULL), WEFT_NO_DEADLINE);
	weft_ctx_cancel(NULL);
	weft_ctx_release(NULL);
	CHECK_EQ(weft_ctx_with_timeout(NULL, UINT64_MAX, &c), 0); /* saturates */
	CHECK_EQ(weft_ctx_deadline(c), WEFT_NO_DEADLINE);
	weft_ctx_release(c);
}

/* Releasing parents first is safe; a child of a done node is born done. */
WEFT_TEST(release_parent_first)
{
	weft_ctx *root, *mid, *leaf, *late;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &root), 0);
	CHECK_EQ(weft_ctx_with_cancel(root, &mid), 0);
	CHECK_EQ(weft_ctx_with_timeout(mid, 3600 * WEFT_NS_PER_SEC, &leaf), 0);
	weft_ctx_release(root);
	weft_ctx_release(mid);
	CHECK(!weft_ctx_done(leaf));
	weft_ctx_cancel(leaf);
	CHECK_EQ(weft_ctx_wait(leaf), ECANCELED);
	CHECK_EQ(weft_ctx_with_cancel(leaf, &late), 0);
	CHECK_EQ(weft_ctx_err(late), ECANCELED);
	weft_ctx_release(leaf);
	weft_ctx_release(late); /* frees late, leaf, mid, root: ASan's leak check sees it */
}

/* A node cancelled after its deadline passed keeps reporting ETIMEDOUT. */
WEFT_TEST(cancel_after_deadline_keeps_etimedout)
{
	weft_ctx *root, *c;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &root), 0);
	CHECK_EQ(weft_ctx_with_deadline(root, weft_now_ns() - 1, &c), 0);
	CHECK_EQ(weft_ctx_err(c), ETIMEDOUT);
	weft_ctx_cancel(root);
	CHECK_EQ(weft_ctx_err(root), ECANCELED);
	CHECK_EQ(weft_ctx_err(c), ETIMEDOUT);
	CHECK_EQ(weft_ctx_wait(c), ETIMEDOUT);
	weft_ctx_release(c);
	weft_ctx_release(root);
}

/* ---- 1,000-node trees, cancelled at a random node while waiters block ---- */

enum { TREE_NODES = 1000 };

struct tree_waiter {
	weft_ctx *ctx; /* its own leaf under its node; the waiter releases it */
	const struct wait_kind *kind;
	int node;
	bool under;   /* under the cancelled node */
	int result;   /* written by the waiter before it sets finished */
	_Atomic int finished;
	_Atomic int *nfinished;
};

static void *tree_waiter_main(void *arg)
{
	struct tree_waiter *w = arg;
	w->result = w->kind->wait(w->ctx);
	weft_ctx_release(w->ctx);
	atomic_store_explicit(&w->finished, 1, memory_order_release);
	atomic_fetch_add_explicit(w->nfinished, 1, memory_order_release);
	return NULL;
}

struct releaser {
	weft_ctx **nodes;
	int *order;
	int n;
};

static void *releaser_main(void *arg)
{
	struct releaser *r = arg;
	uint64_t rng = (uint64_t)(uintptr_t)r;
	for (int i = 0; i < r->n; i++) {
		weft_ctx_release(r->nodes[r->order[i]]);
		weft_test_maybe_yield(&rng, 64);
	}
	return NULL;
}

static bool is_under(const int *parent, int node, int x)
{
	for (int k = node; k >= 0; k = parent[k])
		if (k == x)
			return true;
	return false;
}

static void tree_round(uint64_t *rng, int nwaiters, unsigned *under_total, unsigned *other_total)
{
	static weft_ctx *nodes[TREE_NODES];
	static int parent[TREE_NODES], order[TREE_NODES];
	CHECK_EQ(weft_ctx_with_cancel(NULL, &nodes[0]), 0);
	parent[0] = -1;
	for (int i = 1; i < TREE_NODES; i++) {
		/* Mostly shallow, sometimes a long chain (deep recursion in the cancel). */
		parent[i] = (weft_test_rand(rng) % 4 == 0) ? i - 1 : (int)(weft_test_rand(rng) % i);
		CHECK_EQ(weft_ctx_with_cancel(nodes[parent[i]], &nodes[i]), 0);
	}
	int x = 1 + (int)(weft_test_rand(rng) % (TREE_NODES - 1));
	struct tree_waiter *ws = calloc((size_t)nwaiters, sizeof(*ws));
	pthread_t *ts = calloc((size_t)nwaiters, sizeof(*ts));
	CHECK(ws != NULL && ts != NULL);
	_Atomic int nfinished = 0;
	int nunder = 0;
	for (int i = 0; i < nwaiters; i++) {
		/* Half the waiters right under x's subtree if possible, the rest anywhere. */
		int node = (int)(weft_test_rand(rng) % TREE_NODES);
		if (i % 2 == 0)
			node = x + (int)(weft_test_rand(rng) % (TREE_NODES - x));
		ws[i].node = node;
		ws[i].under = is_under(parent, node, x);
		ws[i].kind = &wait_kinds[(size_t)i % NKINDS];
		ws[i].nfinished = &nfinished;
		ws[i].result = -1;
		CHECK_EQ(weft_ctx_with_cancel(nodes[node], &ws[i].ctx), 0);
		nunder += ws[i].under;
		CHECK_EQ(pthread_create(&ts[i], NULL, tree_waiter_main, &ws[i]), 0);
	}
	sleep_ms(5); /* let most of them park (not needed for correctness) */

	/* Release every node but the root and x, in random order, while x is cancelled:
	 * parents go before children, and nodes reach zero while the cancel walks by. */
	int n = 0;
	for (int i = 1; i < TREE_NODES; i++)
		if (i != x)
			order[n++] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(weft_test_rand(rng) % (uint64_t)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	struct releaser rel = { nodes, order, n };
	pthread_t rt;
	CHECK_EQ(pthread_create(&rt, NULL, releaser_main, &rel), 0);
	weft_ctx_cancel(nodes[x]);
	pthread_join(rt, NULL);

	/* Every waiter under x finishes with ECANCELED; no other finishes. */
	while (atomic_load_explicit(&nfinished, memory_order_acquire) < nunder)
		sleep_ms(1);
	sleep_ms(2); /* a chance for a wrongly woken waiter to show itself */
	CHECK_EQ(atomic_load_explicit(&nfinished, memory_order_acquire), nunder);
	for (int i = 0; i < nwaiters; i++) {
		int fin = atomic_load_explicit(&ws[i].finished, memory_order_acquire);
		CHECK_EQ(fin, ws[i].under);
		if (fin)
			CHECK_EQ(ws[i].result, ECANCELED);
	}
	/* Then the root: everyone else ends, with ECANCELED too. */
	weft_ctx_cancel(nodes[0]);
	for (int i = 0; i < nwaiters; i++) {
		pthread_join(ts[i], NULL);
		CHECK_EQ(ws[i].result, ECANCELED);
	}
	weft_ctx_release(nodes[x]);
	weft_ctx_release(nodes[0]); /* the last reference: the whole tree is freed */
	*under_total += (unsigned)nunder;
	*other_total += (unsigned)(nwaiters - nunder);
	free(ws);
	free(ts);
}

WEFT_STRESS(tree_cancel_reaches_exactly_the_subtree)
{
	kinds_setup();
	uint64_t rounds = weft_test_scale(40);
	if (rounds < 4)
		rounds = 4;
	int nwaiters = weft_test_sanitized() ? 24 : 48;
	uint64_t rng = 12345;
	unsigned under = 0, other = 0;
	for (uint64_t r = 0; r < rounds; r++)
		tree_round(&rng, nwaiters, &under, &other);
	kinds_teardown();
	printf("%llu trees of %d nodes, %d waiters each over %zu primitives: %u woken by the "
	       "subtree cancel (ECANCELED), %u left blocked until the root's\n",
	       (unsigned long long)rounds, TREE_NODES, nwaiters, NKINDS, under, other);
}

/* ---- deadlines: never early, lateness printed ---- */

struct timed {
	const struct wait_kind *kind;
	weft_ctx *ctx;
	uint64_t deadline;
	int result;
	uint64_t returned_at;
};

static void *timed_main(void *arg)
{
	struct timed *t = arg;
	t->result = t->kind->wait(t->ctx);
	t->returned_at = weft_now_ns();
	return NULL;
}

WEFT_TEST(deadlines_not_early)
{
	kinds_setup();
	uint64_t worst = 0;
	for (int round = 0; round < 3; round++) {
		struct timed t[NKINDS * 2];
		pthread_t th[NKINDS * 2];
		weft_ctx *parents[NKINDS * 2];
		for (size_t i = 0; i < NKINDS * 2; i++) {
			t[i].kind = &wait_kinds[i % NKINDS];
			uint64_t d = weft_now_ns() + (uint64_t)(5 + 5 * round) * 1000000u;
			t[i].deadline = d;
			if (i < NKINDS) {
				/* The node's own deadline. */
				parents[i] = NULL;
				CHECK_EQ(weft_ctx_with_deadline(NULL, d, &t[i].ctx), 0);
			} else {
				/* An ancestor's deadline, through a cancel-only child. */
				CHECK_EQ(weft_ctx_with_deadline(NULL, d, &parents[i]), 0);
				CHECK_EQ(weft_ctx_with_cancel(parents[i], &t[i].ctx), 0);
			}
			pthread_create(&th[i], NULL, timed_main, &t[i]);
		}
		for (size_t i = 0; i < NKINDS * 2; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ(t[i].result, ETIMEDOUT);
			CHECK(t[i].returned_at >= t[i].deadline);
			uint64_t late = t[i].returned_at - t[i].deadline;
			if (late > worst)
				worst = late;
			weft_ctx_release(t[i].ctx);
			weft_ctx_release(parents[i]);
		}
	}
	kinds_teardown();
	/* Printed, not asserted: timings mean nothing on a shared 2-core machine. */
	printf("deadlines over %zu primitives: none early, worst lateness %.3f ms\n", NKINDS,
	       (double)worst / 1e6);
}

/* ---- a parker slow to notice deadlines: a cancel after the deadline says ETIMEDOUT ---- */

static int park_ignoring_deadline(weft_waiter *w, uint64_t deadline_ns)
{
	(void)deadline_ns;
	return weft_waiter_ops_futex.park(w, WEFT_NO_DEADLINE);
}

static void unpark_futex(weft_waiter *w)
{
	weft_waiter_ops_futex.unpark(w);
}

static const weft_waiter_ops slow_ops = { park_ignoring_deadline, unpark_futex, NULL, NULL };

static void *slow_parker_main(void *arg)
{
	struct timed *t = arg;
	weft_waiter_ops_set(&slow_ops);
	t->result = t->kind->wait(t->ctx);
	weft_waiter_ops_set(NULL);
	return NULL;
}

WEFT_TEST(blocking_calls_return_ctx_err)
{
	kinds_setup();
	for (size_t k = 0; k < NKINDS; k++) {
		weft_ctx *root;
		struct timed t = { .kind = &wait_kinds[k], .result = -1 };
		CHECK_EQ(weft_ctx_with_cancel(NULL, &root), 0);
		t.deadline = weft_now_ns() + 5 * 1000 * 1000;
		CHECK_EQ(weft_ctx_with_deadline(root, t.deadline, &t.ctx), 0);
		pthread_t th;
		pthread_create(&th, NULL, slow_parker_main, &t);
		while (weft_now_ns() < t.deadline + 5 * 1000 * 1000)
			sleep_ms(1);
		weft_ctx_cancel(root); /* wakes the waiter; its node ends with ETIMEDOUT */
		pthread_join(th, NULL);
		CHECK_EQ(weft_ctx_err(t.ctx), ETIMEDOUT);
		CHECK_EQ(t.result, ETIMEDOUT);
		weft_ctx_release(t.ctx);
		weft_ctx_release(root);
	}
	kinds_teardown();
}

/* ---- the two use-after-free fixes ---- */

struct borrowed {
	weft_ctx *ctx;
	int result;
};

static void *borrowed_wait(void *arg)
{
	struct borrowed *b = arg;
	b->result = weft_ctx_wait(b->ctx);
	return NULL;
}

/* (a) weft_ctx_wait holds its own reference: the owner may cancel and release the node
 * while another thread waits on it with a borrowed pointer. */
WEFT_STRESS(release_while_waiting)
{
	uint64_t rounds = weft_test_scale(3000);
	for (uint64_t r = 0; r < rounds; r++) {
		struct borrowed b = { NULL, -1 };
		CHECK_EQ(weft_ctx_with_cancel(NULL, &b.ctx), 0);
		pthread_t t;
		pthread_create(&t, NULL, borrowed_wait, &b);
		/* Once the count shows the wait's own reference, the waiter is inside. */
		while (weft_ctx_refs_(b.ctx) < 2)
			sched_yield();
		if (r % 2)
			sched_yield();
		weft_ctx_cancel(b.ctx);
		weft_ctx_release(b.ctx);
		pthread_join(t, NULL);
		CHECK_EQ(b.result, ECANCELED);
	}
	printf("%llu rounds: node cancelled and released under a waiter, no use after free\n",
	       (unsigned long long)rounds);
}

enum { RACE_PARENTS = 8, RACE_KIDS = 16 };

struct child_releaser {
	weft_ctx *kids[RACE_PARENTS][RACE_KIDS];
	_Atomic int go; /* parents whose cancel has started */
};

static void *release_kids(void *arg)
{
	struct child_releaser *c = arg;
	for (int p = 0; p < RACE_PARENTS; p++) {
		/* Start on parent p as its cancel starts (yielding: fine on one CPU). */
		while (atomic_load_explicit(&c->go, memory_order_acquire) <= p)
			sched_yield();
		/* Newest first, the order the cancel walks: the two run side by side. */
		for (int i = RACE_KIDS - 1; i >= 0; i--)
			weft_ctx_release(c->kids[p][i]);
	}
	return NULL;
}

/*
 * (b) a cancel walking the children skips those whose count reached zero (being freed):
 * with the old code a child released during the walk could be pinned at zero, revived,
 * and freed twice (ASan: heap-use-after-free in ctx_unref).
 */
WEFT_STRESS(cancel_races_child_release)
{
	/* Not scaled down under sanitizers: the window is narrow, and ASan is the check. */
	uint64_t rounds = 1500;
	uint64_t rng = 7;
	for (uint64_t r = 0; r < rounds; r++) {
		weft_ctx *ps[RACE_PARENTS], *grand[RACE_PARENTS];
		struct child_releaser cr;
		for (int p = 0; p < RACE_PARENTS; p++) {
			CHECK_EQ(weft_ctx_with_cancel(NULL, &ps[p]), 0);
			for (int i = 0; i < RACE_KIDS; i++)
				CHECK_EQ(weft_ctx_with_cancel(ps[p], &cr.kids[p][i]), 0);
			CHECK_EQ(weft_ctx_with_cancel(cr.kids[p][RACE_KIDS / 2], &grand[p]), 0);
		}
		atomic_init(&cr.go, 0);
		pthread_t t;
		pthread_create(&t, NULL, release_kids, &cr);
		for (int p = 0; p < RACE_PARENTS; p++) {
			/* Release: pairs with the releaser's acquire (the kids are published). */
			atomic_store_explicit(&cr.go, p + 1, memory_order_release);
			weft_test_maybe_yield(&rng, 4);
			weft_ctx_cancel(ps[p]);
		}
		pthread_join(t, NULL);
		for (int p = 0; p < RACE_PARENTS; p++) {
			CHECK_EQ(weft_ctx_err(grand[p]), ECANCELED);
			weft_ctx_release(grand[p]);
			weft_ctx_release(ps[p]);
		}
	}
	printf("%llu rounds: cancels raced the release of %d children of %d parents\n",
	       (unsigned long long)rounds, RACE_KIDS, RACE_PARENTS);
}
