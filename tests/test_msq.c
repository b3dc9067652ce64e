/*
 * The Michael-Scott queue, both reclaimers, through the weft_queue ops table: P producers
 * x C consumers, items tagged (producer, seq), exactly-once and per-producer FIFO.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/alloc.h>
#include <weft/msq.h>
#include <weft/rcu.h>

#include "queues/queue_ops.h"
#include "sync/hazard_internal.h"
#include "alloc_cases.h"
#include "weft_test.h"

#define SEQ_BITS 32

struct pc_run {
	const weft_queue_ops *ops;
	void *q;
	unsigned producers, consumers;
	uint64_t per_producer;
	uint64_t total;
	_Atomic uint64_t consumed;
	_Atomic uint8_t **seen; /* seen[p][seq] */
	_Atomic unsigned next_id;
};

static void *producer(void *arg)
{
	struct pc_run *r = arg;
	unsigned p = atomic_fetch_add(&r->next_id, 1);
	uint64_t rng = (uint64_t)p * 7919 + 1;
	for (uint64_t s = 0; s < r->per_producer; s++) {
		/* +1: items are non-NULL. */
		void *item = (void *)(uintptr_t)(((uint64_t)p << SEQ_BITS | s) + 1);
		int err;
		while ((err = r->ops->push(r->q, item)) != 0) {
			CHECK_EQ(err, ENOMEM); /* unbounded: nothing else is allowed */
			sched_yield();
		}
		weft_test_maybe_yield(&rng, 256);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pc_run *r = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	uint64_t *last = calloc(r->producers, sizeof(*last)); /* last seq + 1 seen per producer */
	CHECK(last != NULL);
	while (atomic_load_explicit(&r->consumed, memory_order_relaxed) < r->total) {
		void *item;
		int err = r->ops->pop(r->q, &item);
		if (err == EAGAIN) {
			sched_yield(); /* no spin that needs another core */
			continue;
		}
		CHECK_EQ(err, 0);
		uint64_t v = (uint64_t)(uintptr_t)item - 1;
		unsigned p = (unsigned)(v >> SEQ_BITS);
		uint64_t s = v & ((UINT64_C(1) << SEQ_BITS) - 1);
		CHECK(p < r->producers);
		CHECK(s < r->per_producer);
		/* Per-producer FIFO as one consumer sees it. */
		CHECK(s + 1 > last[p]);
		last[p] = s + 1;
		CHECK_EQ(atomic_fetch_add_explicit(&r->seen[p][s], 1, memory_order_relaxed), 0);
		atomic_fetch_add_explicit(&r->consumed, 1, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 256);
	}
	free(last);
	return NULL;
}

static void run_pc(const weft_queue_ops *ops, unsigned P, unsigned C, uint64_t items)
{
	struct pc_run r;
	memset(&r, 0, sizeof r);
	r.ops = ops;
	r.producers = P;
	r.consumers = C;
	r.per_producer = items / P + 1;
	r.total = r.per_producer * P;
	CHECK_EQ(ops->create(&r.q, 0), 0);
	r.seen = calloc(P, sizeof(*r.seen));
	for (unsigned p = 0; p < P; p++)
		r.seen[p] = calloc(r.per_producer, 1);
	pthread_t *t = calloc(P + C, sizeof(*t));
	/* Interleave the starts so neither side runs alone at first. */
	unsigned np = 0, nc = 0;
	for (unsigned i = 0; i < P + C; i++) {
		bool prod = (np < P && (nc >= C || i % 2 == 0));
		CHECK_EQ(pthread_create(&t[i], NULL, prod ? producer : consumer, &r), 0);
		prod ? np++ : nc++;
	}
	for (unsigned i = 0; i < P + C; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(atomic_load(&r.consumed), r.total);
	for (unsigned p = 0; p < P; p++) {
		for (uint64_t s = 0; s < r.per_producer; s++)
			CHECK_EQ(atomic_load(&r.seen[p][s]), 1);
		free(r.seen[p]);
	}
	void *item;
	CHECK_EQ(ops->pop(r.q, &item), EAGAIN);
	ops->destroy(r.q);
	free(r.seen);
	free(t);
	printf("%s %ux%u: %llu items, each exactly once, FIFO per producer\n", ops->name, P, C,
	       (unsigned long long)r.total);
}

static void check_hazard_bound(void)
{
	struct weft_hazard_stats s;
	weft_hazard_stats_get_(NULL, &s);
	size_t per = weft_hazard_bound_per_record(NULL);
	CHECK(s.max_list <= per);
	CHECK(s.unreclaimed <= s.records * per);
	printf("hazard: %zu records, %zu unreclaimed, max list %zu (bound %zu), %llu freed\n",
	       s.records, s.unreclaimed, s.max_list, per, (unsigned long long)s.freed);
}

/* P producers x C consumers for C in {1, 2, 4}. */
static void run_row(const weft_queue_ops *ops, unsigned P)
{
	static const unsigned n[] = {1, 2, 4};
	for (int j = 0; j < 3; j++)
		run_pc(ops, P, n[j], weft_test_scale(1000000));
	if (ops == &weft_queue_ops_msq)
		check_hazard_bound();
	else
		CHECK_EQ(weft_rcu_barrier(), 0);
}

WEFT_STRESS(msq_p1)
{
	run_row(&weft_queue_ops_msq, 1);
}

WEFT_STRESS(msq_p2)
{
	run_row(&weft_queue_ops_msq, 2);
}

WEFT_STRESS(msq_p4)
{
	run_row(&weft_queue_ops_msq, 4);
}

WEFT_STRESS(msq_16x16)
{
	run_pc(&weft_queue_ops_msq, 16, 16, weft_test_scale(1000000));
	check_hazard_bound();
}

WEFT_STRESS(msq_rcu_p1)
{
	run_row(&weft_queue_ops_msq_rcu, 1);
}

WEFT_STRESS(msq_rcu_p2)
{
	run_row(&weft_queue_ops_msq_rcu, 2);
}

WEFT_STRESS(msq_rcu_p4)
{
	run_row(&weft_queue_ops_msq_rcu, 4);
}

WEFT_STRESS(msq_rcu_16x16)
{
	run_pc(&weft_queue_ops_msq_rcu, 16, 16, weft_test_scale(1000000));
	CHECK_EQ(weft_rcu_barrier(), 0);
}

WEFT_TEST(ops_table)
{
	CHECK(strcmp(weft_queue_ops_msq.name, "msq") == 0);
	CHECK(strcmp(weft_queue_ops_msq_rcu.name, "msq_rcu") == 0);
	CHECK(!weft_queue_ops_msq.bounded && !weft_queue_ops_msq_rcu.bounded);
	CHECK_EQ(weft_queue_ops_msq.max_producers, 0);
	CHECK_EQ(weft_queue_ops_msq.max_consumers, 0);
}

static void fifo_single_thread(weft_msq_reclaim how)
{
	weft_msq *q;
	CHECK_EQ(weft_msq_create(&q, how), 0);
	void *item = (void *)1;
	CHECK_EQ(weft_msq_pop(q, &item), EAGAIN);
	CHECK(item == (void *)1); /* untouched on EAGAIN */
	for (uintptr_t i = 0; i < 1000; i++)
		CHECK_EQ(weft_msq_push(q, (void *)i), 0); /* NULL allowed in the direct API */
	for (uintptr_t i = 0; i < 1000; i++) {
		CHECK_EQ(weft_msq_pop(q, &item), 0);
		CHECK(item == (void *)i);
	}
	CHECK_EQ(weft_msq_pop(q, &item), EAGAIN);
	/* Destroying a non-empty queue frees its nodes (ASan's leak check watches). */
	for (uintptr_t i = 0; i < 10; i++)
		CHECK_EQ(weft_msq_push(q, (void *)i), 0);
	weft_msq_destroy(q);
}

WEFT_TEST(fifo_and_destroy_nonempty)
{
	fifo_single_thread(WEFT_MSQ_HAZARD);
	fifo_single_thread(WEFT_MSQ_RCU);
	CHECK_EQ(weft_rcu_barrier(), 0);
}

WEFT_TEST(bad_input)
{
	weft_msq *q;
	void *item;
	CHECK_EQ(weft_msq_create(NULL, WEFT_MSQ_HAZARD), EINVAL);
	CHECK_EQ(weft_msq_create(&q, (weft_msq_reclaim)7), EINVAL);
	CHECK_EQ(weft_msq_push(NULL, &item), EINVAL);
	CHECK_EQ(weft_msq_pop(NULL, &item), EINVAL);
	CHECK_EQ(weft_msq_create(&q, WEFT_MSQ_HAZARD), 0);
	CHECK_EQ(weft_msq_pop(q, NULL), EINVAL);
	weft_msq_destroy(q);
	weft_msq_destroy(NULL);
}

static void enomem_paths(weft_msq_reclaim how)
{
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	/* create: fail the queue, then the dummy; nothing leaks (ASan). */
	for (long n = 0; n < 2; n++) {
		weft_msq *q = NULL;
		test_alloc_fail_after(n);
		CHECK_EQ(weft_msq_create(&q, how), ENOMEM);
		CHECK(q == NULL);
	}
	test_alloc_fail_none();
	weft_msq *q;
	CHECK_EQ(weft_msq_create(&q, how), 0);
	CHECK_EQ(weft_msq_push(q, (void *)1), 0);
	test_alloc_fail_after(0);
	CHECK_EQ(weft_msq_push(q, (void *)2), ENOMEM); /* no side effect */
	test_alloc_fail_none();
	CHECK_EQ(weft_msq_push(q, (void *)3), 0);
	void *item;
	CHECK_EQ(weft_msq_pop(q, &item), 0);
	CHECK(item == (void *)1);
	CHECK_EQ(weft_msq_pop(q, &item), 0);
	CHECK(item == (void *)3);
	CHECK_EQ(weft_msq_pop(q, &item), EAGAIN);
	weft_msq_destroy(q);
	/* Retired nodes are freed through the allocator in force then: let RCU's finish
	 * before switching back (weft_allocator_set must not race frees). */
	CHECK_EQ(weft_rcu_barrier(), 0);
	weft_allocator_set(NULL);
}

WEFT_TEST(enomem_no_side_effect)
{
	enomem_paths(WEFT_MSQ_HAZARD);
	enomem_paths(WEFT_MSQ_RCU);
	CHECK_EQ(weft_rcu_barrier(), 0);
}
