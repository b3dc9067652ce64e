/*
 * Spinlocks (TTAS, ticket, MCS): mutual exclusion checked with a non-atomic counter and an
 * in-lock witness under oversubscription (8 threads on 2 cores, random yields inside and
 * outside the critical section), trylock semantics, and the same on one CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <weft/spinlock.h>

#include "weft_test.h"

enum kind { TTAS, TICKET, MCS };
static const char *const kind_name[] = { "ttas", "ticket", "mcs" };

struct any_lock {
	enum kind kind;
	weft_spin_ttas ttas;
	weft_spin_ticket ticket;
	weft_spin_mcs mcs;
};

static void any_init(struct any_lock *l, enum kind k)
{
	memset(l, 0, sizeof(*l));
	l->kind = k;
	CHECK_EQ(weft_spin_ttas_init(&l->ttas), 0);
	CHECK_EQ(weft_spin_ticket_init(&l->ticket), 0);
	CHECK_EQ(weft_spin_mcs_init(&l->mcs), 0);
}

static int any_lock(struct any_lock *l, weft_spin_mcs_node *n)
{
	switch (l->kind) {
	case TTAS:
		return weft_spin_ttas_lock(&l->ttas);
	case TICKET:
		return weft_spin_ticket_lock(&l->ticket);
	default:
		return weft_spin_mcs_lock(&l->mcs, n);
	}
}

static int any_trylock(struct any_lock *l, weft_spin_mcs_node *n)
{
	switch (l->kind) {
	case TTAS:
		return weft_spin_ttas_trylock(&l->ttas);
	case TICKET:
		return weft_spin_ticket_trylock(&l->ticket);
	default:
		return weft_spin_mcs_trylock(&l->mcs, n);
	}
}

static int any_unlock(struct any_lock *l, weft_spin_mcs_node *n)
{
	switch (l->kind) {
	case TTAS:
		return weft_spin_ttas_unlock(&l->ttas);
	case TICKET:
		return weft_spin_ticket_unlock(&l->ticket);
	default:
		return weft_spin_mcs_unlock(&l->mcs, n);
	}
}

struct excl {
	struct any_lock lock;
	uint64_t iters;      /* per thread */
	unsigned yield_in;   /* 1-in-N chance of a yield inside the critical section */
	bool use_trylock;    /* half the acquisitions by trylock, retried */
	uint64_t counter;    /* not atomic: protected by the lock alone */
	_Atomic int inside;  /* witness: threads inside the critical section */
	_Atomic int bad;     /* times the witness saw company */
	_Atomic unsigned next_seed;
	unsigned threads;
	_Atomic unsigned arrived; /* start line: all threads contend from the first round */
};

static void start_line(_Atomic unsigned *arrived, unsigned n)
{
	atomic_fetch_add(arrived, 1);
	while (atomic_load(arrived) < n)
		sched_yield();
}

static void *excl_main(void *arg)
{
	struct excl *e = arg;
	uint64_t rng = 0x1234567ull + atomic_fetch_add(&e->next_seed, 1) * 0x9E3779B97F4A7C15ull;
	weft_spin_mcs_node node; /* one per thread, reused for every acquisition */
	start_line(&e->arrived, e->threads);
	for (uint64_t i = 0; i < e->iters; i++) {
		if (e->use_trylock && (weft_test_rand(&rng) & 1)) {
			while (any_trylock(&e->lock, &node) != 0)
				sched_yield();
		} else {
			CHECK_EQ(any_lock(&e->lock, &node), 0);
		}
		if (atomic_fetch_add_explicit(&e->inside, 1, memory_order_relaxed) != 0)
			atomic_fetch_add_explicit(&e->bad, 1, memory_order_relaxed);
		/* Read, maybe yield, write: a lost update if anyone else gets in. */
		uint64_t v = e->counter;
		weft_test_maybe_yield(&rng, e->yield_in);
		e->counter = v + 1;
		atomic_fetch_sub_explicit(&e->inside, 1, memory_order_relaxed);
		CHECK_EQ(any_unlock(&e->lock, &node), 0);
		weft_test_maybe_yield(&rng, 16);
	}
	return NULL;
}

static void run_exclusion(enum kind k, unsigned threads, uint64_t iters, unsigned yield_in,
			  bool use_trylock)
{
	struct excl e = { .iters = iters, .yield_in = yield_in, .use_trylock = use_trylock,
			  .threads = threads };
	any_init(&e.lock, k);
	uint64_t t0 = weft_now_ns();
	void *args[16];
	for (unsigned i = 0; i < threads; i++)
		args[i] = &e;
	weft_test_run_threads(threads, excl_main, args);
	CHECK_EQ(atomic_load(&e.bad), 0);
	CHECK_EQ(e.counter, (uint64_t)threads * iters);
	/* Free again afterwards. */
	weft_spin_mcs_node n;
	CHECK_EQ(any_trylock(&e.lock, &n), 0);
	CHECK_EQ(any_unlock(&e.lock, &n), 0);
	printf("%s: %u threads x %llu acquisitions%s, counter exact, %.3f s\n", kind_name[k],
	       threads, (unsigned long long)iters, use_trylock ? " (half by trylock)" : "",
	       (double)(weft_now_ns() - t0) / 1e9);
}

/*
 * Sizes: FIFO locks under 8-on-2 oversubscription hand the lock to waiters that are not
 * running, so each handoff can cost a scheduler round (a convoy: measured anywhere from
 * 0.2 s to over 40 s for 8 x 50,000 on this loaded machine); they get fewer iterations and
 * no yields inside the critical section (a yield there only stalls the whole queue).
 */
WEFT_STRESS(ttas_exclusion)
{
	run_exclusion(TTAS, 8, weft_test_scale(100000), 256, false);
}

WEFT_STRESS(ticket_exclusion)
{
	run_exclusion(TICKET, 8, weft_test_scale(20000), 0, false);
}

WEFT_STRESS(mcs_exclusion)
{
	run_exclusion(MCS, 8, weft_test_scale(20000), 0, false);
}

WEFT_STRESS(trylock_mixed_exclusion)
{
	for (enum kind k = TTAS; k <= MCS; k++)
		run_exclusion(k, 8, weft_test_scale(k == TTAS ? 50000 : 5000), 0, true);
}

/* One CPU for everything: a spin that needs another core to make progress hangs here. */
WEFT_STRESS(one_cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	cpu_set_t old;
	CHECK_EQ(sched_getaffinity(0, sizeof(old), &old), 0);
	if (!CPU_ISSET(0, &old)) {
		printf("CPU 0 not available to this process: skipped\n");
		return;
	}
	CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
	run_exclusion(TTAS, 8, weft_test_scale(50000), 64, false);
	run_exclusion(TICKET, 8, weft_test_scale(5000), 0, false);
	run_exclusion(MCS, 8, weft_test_scale(5000), 0, false);
	CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof(old), &old), 0);
}

struct try_other {
	struct any_lock *lock;
	int result;
};

static void *try_from_other_thread(void *arg)
{
	struct try_other *t = arg;
	weft_spin_mcs_node n;
	t->result = any_trylock(t->lock, &n);
	if (t->result == 0)
		any_unlock(t->lock, &n);
	return NULL;
}

static int trylock_elsewhere(struct any_lock *l)
{
	struct try_other t = { l, -1 };
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, try_from_other_thread, &t), 0);
	pthread_join(th, NULL);
	return t.result;
}

WEFT_TEST(trylock_semantics)
{
	for (enum kind k = TTAS; k <= MCS; k++) {
		struct any_lock l;
		any_init(&l, k);
		weft_spin_mcs_node a, b;
		CHECK_EQ(any_trylock(&l, &a), 0);
		CHECK_EQ(any_trylock(&l, &b), EBUSY); /* held, even by the caller */
		CHECK_EQ(trylock_elsewhere(&l), EBUSY);
		CHECK_EQ(any_unlock(&l, &a), 0);
		CHECK_EQ(trylock_elsewhere(&l), 0);
		CHECK_EQ(any_lock(&l, &a), 0);
		CHECK_EQ(any_trylock(&l, &b), EBUSY);
		CHECK_EQ(any_unlock(&l, &a), 0);
		CHECK_EQ(any_trylock(&l, &b), 0);
		CHECK_EQ(any_unlock(&l, &b), 0);
	}
	/* Static initialisers make free locks. */
	weft_spin_ttas t = WEFT_SPIN_TTAS_INITIALIZER;
	weft_spin_ticket k = WEFT_SPIN_TICKET_INITIALIZER;
	weft_spin_mcs m = WEFT_SPIN_MCS_INITIALIZER;
	weft_spin_mcs_node n;
	CHECK_EQ(weft_spin_ttas_trylock(&t), 0);
	CHECK_EQ(weft_spin_ticket_trylock(&k), 0);
	CHECK_EQ(weft_spin_mcs_trylock(&m, &n), 0);
	CHECK_EQ(weft_spin_ttas_unlock(&t), 0);
	CHECK_EQ(weft_spin_ticket_unlock(&k), 0);
	CHECK_EQ(weft_spin_mcs_unlock(&m, &n), 0);
}

struct ticket_queue {
	weft_spin_ticket lock;
	_Atomic int acquired;
};

static void *ticket_waiter(void *arg)
{
	struct ticket_queue *q = arg;
	weft_spin_ticket_lock(&q->lock);
	atomic_fetch_add(&q->acquired, 1);
	weft_spin_ticket_unlock(&q->lock);
	return NULL;
}

/* A queued waiter makes a FIFO lock busy for trylock even in the instant it is released. */
WEFT_TEST(ticket_trylock_respects_queue)
{
	struct ticket_queue q = { WEFT_SPIN_TICKET_INITIALIZER, 0 };
	CHECK_EQ(weft_spin_ticket_lock(&q.lock), 0);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, ticket_waiter, &q), 0);
	/* Wait until the waiter has drawn its ticket. */
	while (atomic_load(&q.lock.next) != 2)
		sched_yield();
	CHECK_EQ(weft_spin_ticket_trylock(&q.lock), EBUSY);
	CHECK_EQ(weft_spin_ticket_unlock(&q.lock), 0);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&q.acquired), 1);
	CHECK_EQ(weft_spin_ticket_trylock(&q.lock), 0);
	CHECK_EQ(weft_spin_ticket_unlock(&q.lock), 0);
}

WEFT_TEST(null_is_einval)
{
	weft_spin_mcs m = WEFT_SPIN_MCS_INITIALIZER;
	weft_spin_mcs_node n;
	CHECK_EQ(weft_spin_ttas_init(NULL), EINVAL);
	CHECK_EQ(weft_spin_ttas_lock(NULL), EINVAL);
	CHECK_EQ(weft_spin_ttas_trylock(NULL), EINVAL);
	CHECK_EQ(weft_spin_ttas_unlock(NULL), EINVAL);
	CHECK_EQ(weft_spin_ticket_init(NULL), EINVAL);
	CHECK_EQ(weft_spin_ticket_lock(NULL), EINVAL);
	CHECK_EQ(weft_spin_ticket_trylock(NULL), EINVAL);
	CHECK_EQ(weft_spin_ticket_unlock(NULL), EINVAL);
	CHECK_EQ(weft_spin_mcs_init(NULL), EINVAL);
	CHECK_EQ(weft_spin_mcs_lock(NULL, &n), EINVAL);
	CHECK_EQ(weft_spin_mcs_lock(&m, NULL), EINVAL);
	CHECK_EQ(weft_spin_mcs_trylock(&m, NULL), EINVAL);
	CHECK_EQ(weft_spin_mcs_unlock(&m, NULL), EINVAL);
	CHECK_EQ(weft_spin_mcs_unlock(NULL, &n), EINVAL);
}
