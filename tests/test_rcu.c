/* weft's RCU over liburcu: grace periods hold back frees, registration is automatic. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/rcu.h>

#include "weft_test.h"

WEFT_TEST(nesting_and_eperm)
{
	CHECK(!weft_rcu_read_ongoing());
	weft_rcu_read_lock();
	weft_rcu_read_lock();
	CHECK(weft_rcu_read_ongoing());
	CHECK_EQ(weft_rcu_synchronize(), EPERM);
	CHECK_EQ(weft_rcu_barrier(), EPERM);
	weft_rcu_read_unlock();
	CHECK(weft_rcu_read_ongoing());
	weft_rcu_read_unlock();
	CHECK(!weft_rcu_read_ongoing());
	CHECK_EQ(weft_rcu_synchronize(), 0);
	CHECK_EQ(weft_rcu_barrier(), 0);
}

struct held_reader {
	_Atomic int locked, release, done;
};

static void *hold_reader(void *arg)
{
	struct held_reader *h = arg;
	weft_rcu_read_lock();
	atomic_store(&h->locked, 1);
	while (!atomic_load(&h->release))
		sched_yield();
	/* The test checks "not yet freed / not yet returned" before setting release. */
	atomic_store(&h->done, 1);
	weft_rcu_read_unlock();
	return NULL;
}

struct tracked {
	weft_rcu_head rcu;
	_Atomic int *freed;
};

static void tracked_free(weft_rcu_head *h)
{
	struct tracked *t = (struct tracked *)h;
	atomic_store(t->freed, 1);
	free(t);
}

/* A retire made while a reader is inside its section runs only after the reader leaves. */
WEFT_TEST(retire_waits_for_reader)
{
	struct held_reader h = {0};
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, hold_reader, &h), 0);
	while (!atomic_load(&h.locked))
		sched_yield();
	_Atomic int freed = 0;
	struct tracked *n = malloc(sizeof(*n));
	n->freed = &freed;
	weft_rcu_retire(&n->rcu, tracked_free);
	for (int i = 0; i < 200; i++) {
		CHECK_EQ(atomic_load(&freed), 0); /* the witness: a grace period cannot end yet */
		sched_yield();
	}
	atomic_store(&h.release, 1);
	CHECK_EQ(weft_rcu_barrier(), 0);
	CHECK_EQ(atomic_load(&freed), 1);
	CHECK_EQ(atomic_load(&h.done), 1);
	pthread_join(t, NULL);
}

struct sync_arg {
	_Atomic int returned;
};

static void *do_sync(void *arg)
{
	struct sync_arg *s = arg;
	CHECK_EQ(weft_rcu_synchronize(), 0);
	atomic_store(&s->returned, 1);
	return NULL;
}

/* synchronize (parked through the waiter seam) returns only after the reader's unlock. */
WEFT_TEST(synchronize_waits_for_reader)
{
	struct held_reader h = {0};
	struct sync_arg s = {0};
	pthread_t r, w;
	CHECK_EQ(pthread_create(&r, NULL, hold_reader, &h), 0);
	while (!atomic_load(&h.locked))
		sched_yield();
	CHECK_EQ(pthread_create(&w, NULL, do_sync, &s), 0);
	for (int i = 0; i < 200; i++) {
		CHECK_EQ(atomic_load(&s.returned), 0);
		sched_yield();
	}
	atomic_store(&h.release, 1);
	pthread_join(w, NULL);
	CHECK_EQ(atomic_load(&s.returned), 1);
	CHECK_EQ(atomic_load(&h.done), 1);
	pthread_join(r, NULL);
}

static void *lock_once(void *arg)
{
	(void)arg;
	weft_rcu_read_lock();
	weft_rcu_read_unlock();
	return NULL;
}

/* Threads that exit are unregistered: grace periods keep completing. */
WEFT_TEST(thread_exit_unregisters)
{
	for (int wave = 0; wave < 20; wave++) {
		weft_test_run_threads(8, lock_once, NULL);
		CHECK_EQ(weft_rcu_synchronize(), 0);
	}
}

/* Stress: readers check nodes reached through shared cells; writers swap and retire. */
#define CELLS 8
#define LIVE  0x5afe5afeu
#define DEAD  0xdeaddeadu

struct cnode {
	unsigned magic;
	uint64_t a, b; /* a + b == 1000 */
	weft_rcu_head rcu;
};

static struct {
	struct cnode *_Atomic cell[CELLS];
	_Atomic int stop;
	_Atomic uint64_t retired, freed, reads;
	_Atomic unsigned writers_left;
	uint64_t writes_each;
} st;

static void cnode_free(weft_rcu_head *h)
{
	struct cnode *n = (struct cnode *)((char *)h - offsetof(struct cnode, rcu));
	n->magic = DEAD;
	atomic_fetch_add_explicit(&st.freed, 1, memory_order_relaxed);
	free(n);
}

static struct cnode *cnode_new(uint64_t a)
{
	struct cnode *n = malloc(sizeof(*n));
	CHECK(n != NULL);
	n->magic = LIVE;
	n->a = a;
	n->b = 1000 - a;
	return n;
}

static void *rcu_reader(void *arg)
{
	(void)arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng, reads = 0;
	while (!atomic_load_explicit(&st.stop, memory_order_relaxed)) {
		weft_rcu_read_lock();
		for (int i = 0; i < CELLS; i++) {
			/* Acquire: pairs with the writer's release exchange. */
			struct cnode *n = atomic_load_explicit(&st.cell[i], memory_order_acquire);
			CHECK_EQ(n->magic, LIVE);
			CHECK_EQ(n->a + n->b, 1000);
			weft_test_maybe_yield(&rng, 128);
		}
		weft_rcu_read_unlock();
		reads++;
	}
	atomic_fetch_add(&st.reads, reads);
	return NULL;
}

static void *rcu_writer(void *arg)
{
	(void)arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t i = 0; i < st.writes_each; i++) {
		struct cnode *n = cnode_new(weft_test_rand(&rng) % 1000);
		unsigned c = (unsigned)(weft_test_rand(&rng) % CELLS);
		/* Release: publishes n's fields (pairs with the readers' acquire). */
		struct cnode *old = atomic_exchange_explicit(&st.cell[c], n, memory_order_acq_rel);
		weft_rcu_retire(&old->rcu, cnode_free);
		atomic_fetch_add_explicit(&st.retired, 1, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 16);
	}
	if (atomic_fetch_sub(&st.writers_left, 1) == 1)
		atomic_store(&st.stop, 1);
	return NULL;
}

WEFT_STRESS(stress_readers_writers)
{
	unsigned readers = 12, writers = 4;
	st.writes_each = weft_test_scale(100000) / writers + 1;
	atomic_store(&st.writers_left, writers);
	for (int i = 0; i < CELLS; i++)
		atomic_store(&st.cell[i], cnode_new(500));
	pthread_t t[16];
	for (unsigned i = 0; i < readers + writers; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, i < readers ? rcu_reader : rcu_writer, NULL),
			 0);
	for (unsigned i = 0; i < readers + writers; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(weft_rcu_barrier(), 0);
	CHECK_EQ(atomic_load(&st.freed), atomic_load(&st.retired));
	printf("%u readers, %u writers: %llu read sections, %llu nodes retired and freed\n",
	       readers, writers, (unsigned long long)atomic_load(&st.reads),
	       (unsigned long long)atomic_load(&st.retired));
	for (int i = 0; i < CELLS; i++)
		free(atomic_load(&st.cell[i]));
}

/* A NULL head or function is ignored (the bug fixed here: a NULL head crashed at once, a
 * NULL function on liburcu's call_rcu thread after the grace period). */
WEFT_TEST(retire_null_is_ignored)
{
	static weft_rcu_head h;
	weft_rcu_retire(NULL, NULL);
	weft_rcu_retire(&h, NULL);
	CHECK_EQ(weft_rcu_barrier(), 0); /* nothing queued that could run a NULL function */
}
