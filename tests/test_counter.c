/* Counters: exact sums after join, slot reuse across thread generations, the overflow
 * slot, monotone reads. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <weft/counter.h>
#include <weft/thread.h>

#include "sync/counter_internal.h"
#include "weft_test.h"

struct adder {
	weft_shard_counter *sc;
	weft_counter *pc;
	uint64_t iters;
	uint64_t seed;
	int64_t added; /* written by its thread only, read after join */
};

static void *adder_main(void *arg)
{
	struct adder *a = arg;
	uint64_t rng = a->seed;
	int64_t sum = 0;
	for (uint64_t i = 0; i < a->iters; i++) {
		int64_t n = (int64_t)(weft_test_rand(&rng) % 7) - 2; /* mixed signs */
		weft_shard_counter_add(a->sc, n);
		if (a->pc)
			weft_counter_add(a->pc, n);
		sum += n;
		if ((i & 1023) == 0)
			weft_test_maybe_yield(&rng, 4);
	}
	a->added = sum;
	return NULL;
}

static void run_adders(weft_shard_counter *sc, weft_counter *pc, unsigned nthreads,
		       uint64_t iters, uint64_t seed, int64_t *expect)
{
	struct adder a[64];
	void *args[64];
	for (unsigned i = 0; i < nthreads; i++) {
		a[i] = (struct adder){ sc, pc, iters, seed * 1000 + i + 1, 0 };
		args[i] = &a[i];
	}
	weft_test_run_threads(nthreads, adder_main, args);
	for (unsigned i = 0; i < nthreads; i++)
		*expect += a[i].added;
}

WEFT_TEST(plain_counter)
{
	weft_counter c = WEFT_COUNTER_INIT;
	CHECK_EQ(weft_counter_read(&c), 0);
	weft_counter_add(&c, 5);
	weft_counter_add(&c, -7);
	CHECK_EQ(weft_counter_read(&c), -2);
	weft_counter_init(&c, 40);
	CHECK_EQ(weft_counter_read(&c), 40);
}

WEFT_TEST(bad_input)
{
	CHECK_EQ(weft_shard_counter_create(NULL), EINVAL);
	weft_shard_counter_destroy(NULL);
	CHECK_EQ(weft_shard_counter_read(NULL), 0);
	weft_shard_counter *c;
	CHECK_EQ(weft_shard_counter_create_n(&c, 1u << 20), EINVAL);
}

WEFT_STRESS(exact_sum_after_join)
{
	weft_shard_counter *sc;
	CHECK_EQ(weft_shard_counter_create(&sc), 0);
	CHECK(weft_shard_counter_slots(sc) >= 64);
	weft_counter pc = WEFT_COUNTER_INIT;
	int64_t expect = 0;
	for (unsigned nthreads = 8; nthreads <= 16; nthreads += 8)
		run_adders(sc, &pc, nthreads, weft_test_scale(200000), nthreads, &expect);
	CHECK_EQ(weft_shard_counter_read(sc), expect);
	CHECK_EQ(weft_counter_read(&pc), expect);
	printf("8 then 16 threads, mixed-sign adds: sharded sum %lld exact\n", (long long)expect);
	weft_shard_counter_destroy(sc);
}

/* Generations of short-lived threads reuse indices (and so slots): nothing is lost. */
WEFT_STRESS(slot_reuse_across_generations)
{
	weft_shard_counter *sc;
	CHECK_EQ(weft_shard_counter_create(&sc), 0);
	(void)weft_thread_index(); /* the main thread holds one index throughout */
	uint32_t before = weft_thread_index_bound();
	int64_t expect = 0;
	uint64_t gens = weft_test_scale(200);
	if (gens < 10)
		gens = 10;
	for (uint64_t g = 0; g < gens; g++) {
		run_adders(sc, NULL, 8, 2000, g, &expect);
		/* Every exited thread's slot content is counted, reads after join are exact. */
		CHECK_EQ(weft_shard_counter_read(sc), expect);
	}
	/* Indices were reused: 8 live threads at a time plus this one need 9 indices (a
	 * joined thread has run its exit handlers, so its index is free again). */
	uint32_t bound = weft_thread_index_bound();
	printf("%llu generations of 8 threads, sum %lld exact, index bound %u\n",
	       (unsigned long long)gens, (long long)expect, bound);
	CHECK(bound <= (before > 9 ? before : 9));
	weft_shard_counter_destroy(sc);
}

/* Fewer slots than threads: the rest share the overflow slot; zero slots: all do. */
WEFT_STRESS(overflow_slot)
{
	for (uint32_t nslots = 0; nslots <= 4; nslots += 4) {
		weft_shard_counter *sc;
		CHECK_EQ(weft_shard_counter_create_n(&sc, nslots), 0);
		int64_t expect = 0;
		run_adders(sc, NULL, 12, weft_test_scale(100000), 7 + nslots, &expect);
		CHECK_EQ(weft_shard_counter_read(sc), expect);
		printf("%u slots, 12 threads: sum %lld exact\n", nslots, (long long)expect);
		weft_shard_counter_destroy(sc);
	}
}

struct mono {
	weft_shard_counter *sc;
	_Atomic int stop;
};

struct mono_adder_arg {
	struct mono *m;
	int64_t added; /* read after join */
};

static void *mono_adder(void *arg)
{
	struct mono_adder_arg *a = arg;
	int64_t n = 0;
	while (!atomic_load_explicit(&a->m->stop, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++)
			weft_shard_counter_add(a->m->sc, 1);
		n += 64;
	}
	a->added = n;
	return NULL;
}

/* Non-negative adds: successive reads taken while 8 threads add never go down. */
WEFT_STRESS(reads_monotone)
{
	struct mono m = { 0 };
	CHECK_EQ(weft_shard_counter_create_n(&m.sc, 6), 0); /* 8 adders: some overflow */
	struct mono_adder_arg args[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct mono_adder_arg){ &m, 0 };
		pthread_create(&t[i], NULL, mono_adder, &args[i]);
	}
	int64_t last = 0, first = -1;
	uint64_t reads = weft_test_scale(20000);
	for (uint64_t r = 0; r < reads; r++) {
		int64_t v = weft_shard_counter_read(m.sc);
		CHECK(v >= last);
		if (first < 0)
			first = v;
		last = v;
		if ((r & 1023) == 0)
			sched_yield(); /* let the adders run even on one CPU */
	}
	atomic_store_explicit(&m.stop, 1, memory_order_relaxed);
	int64_t total = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		total += args[i].added;
	}
	CHECK(last <= total);
	CHECK_EQ(weft_shard_counter_read(m.sc), total);
	printf("%llu monotone reads (from %lld to %lld) while 8 threads added %lld\n",
	       (unsigned long long)reads, (long long)first, (long long)last, (long long)total);
	weft_shard_counter_destroy(m.sc);
}
