/*
 * weft_sharded's home shard follows the caller's CPU; these check that moving it never
 * breaks FIFO per producer (sharded.h): threads re-pin themselves between CPUs while they
 * push, and every consumer checks each producer's sequence only grows. The queue is made
 * large enough that no home shard fills (the condition under which the order is promised).
 * On a single-CPU machine (or where affinity cannot be set) the threads simply stay put.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/sharded.h>
#include <weft/thread.h>

#include "weft_test.h"

#define ITEM(p, s) ((void *)(uintptr_t)(((uint64_t)(p) << 32) | (uint64_t)(s)))
#define ITEM_P(it) ((unsigned)((uintptr_t)(it) >> 32))
#define ITEM_SEQ(it) ((uint32_t)(uintptr_t)(it))

/* Pin the caller to cpu (mod online CPUs); quietly nothing where that is refused. */
static void pin(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % weft_cpu_count(), &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void unpin(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (unsigned c = 0; c < weft_cpu_count() && c < CPU_SETSIZE; c++)
		CPU_SET(c, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* One thread pushes, hops to another CPU, pushes more, hops back...; pops come in order. */
WEFT_TEST(one_thread_hopping_keeps_order)
{
	weft_sharded *q;
	CHECK_EQ(weft_sharded_create(&q, 4096, 4), 0);
	uint32_t pushed = 0, popped = 0;
	for (unsigned round = 0; round < 8; round++) {
		pin(round);
		for (unsigned i = 0; i < 100; i++)
			CHECK_EQ(weft_sharded_push(q, ITEM(0, pushed++)), 0);
		if (round % 3 == 2) { /* drain part-way, so the home may move in between */
			void *it;
			for (unsigned i = 0; i < 150 && weft_sharded_pop(q, &it) == 0; i++)
				CHECK_EQ(ITEM_SEQ(it), popped++);
		}
	}
	void *it;
	while (weft_sharded_pop(q, &it) == 0)
		CHECK_EQ(ITEM_SEQ(it), popped++);
	CHECK_EQ(popped, pushed);
	unpin();
	weft_sharded_destroy(q);
}

typedef struct hop_run {
	weft_sharded *q;
	unsigned P, C;
	uint32_t per;
	_Atomic unsigned producers_done;
	_Atomic uint64_t received;
	_Atomic uint64_t disorder;
} hop_run;

typedef struct hop_thread {
	hop_run *run;
	unsigned id;
	pthread_t tid;
} hop_thread;

static void *hop_producer(void *arg)
{
	hop_thread *t = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (t->id + 1);
	for (uint32_t s = 1; s <= t->run->per; s++) {
		if (s % 97 == 0)
			pin(t->id + s / 97); /* hop: the home may follow once earlier items are out */
		while (weft_sharded_push(t->run->q, ITEM(t->id, s)) != 0)
			sched_yield(); /* not expected: the queue holds everything */
		weft_test_maybe_yield(&rng, 64);
	}
	/* Release: pairs with the consumers' acquire; our pushes are complete. */
	atomic_fetch_add_explicit(&t->run->producers_done, 1, memory_order_release);
	return NULL;
}

static void *hop_consumer(void *arg)
{
	hop_thread *t = arg;
	hop_run *run = t->run;
	uint32_t *last = calloc(run->P, sizeof(*last));
	uint64_t rng = 0x2545f4914f6cdd1dull * (t->id + 1), got = 0, bad = 0;
	CHECK(last != NULL);
	for (unsigned n = 0;; n++) {
		/* Acquire: pairs with the producers' release; after it, empty means drained. */
		bool done = atomic_load_explicit(&run->producers_done, memory_order_acquire) ==
			    run->P;
		void *it;
		if (weft_sharded_pop(run->q, &it) == 0) {
			unsigned p = ITEM_P(it);
			CHECK(p < run->P);
			if (ITEM_SEQ(it) <= last[p])
				bad++;
			last[p] = ITEM_SEQ(it);
			got++;
			if (n % 211 == 0)
				pin(t->id + n / 211);
			weft_test_maybe_yield(&rng, 64);
			continue;
		}
		if (done)
			break;
		sched_yield();
	}
	atomic_fetch_add_explicit(&run->received, got, memory_order_relaxed);
	atomic_fetch_add_explicit(&run->disorder, bad, memory_order_relaxed);
	free(last);
	return NULL;
}

/* P producers and C consumers, all hopping between CPUs: exact count, FIFO per producer. */
WEFT_STRESS(hopping_producers_keep_order)
{
	hop_run run = { .P = 6, .C = 6 };
	run.per = (uint32_t)weft_test_scale(20000);
	CHECK_EQ(weft_sharded_create(&run.q, (size_t)run.P * run.per * 4, 0), 0);
	hop_thread th[12];
	for (unsigned i = 0; i < run.P + run.C; i++) {
		th[i].run = &run;
		th[i].id = i < run.P ? i : i - run.P;
		CHECK_EQ(pthread_create(&th[i].tid, NULL, i < run.P ? hop_producer : hop_consumer,
					&th[i]),
			 0);
	}
	for (unsigned i = 0; i < run.P + run.C; i++)
		CHECK_EQ(pthread_join(th[i].tid, NULL), 0);
	CHECK_EQ(atomic_load(&run.received), (uint64_t)run.P * run.per);
	CHECK_EQ(atomic_load(&run.disorder), 0);
	printf("%u producers x %u items, %u consumers, all hopping CPUs: exact, in order\n", run.P,
	       run.per, run.C);
	weft_sharded_destroy(run.q);
}
