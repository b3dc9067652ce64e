/*
 * The Chase-Lev deque: single-thread contract, ENOMEM without side effects, exactly-once
 * under owner pops racing thieves with forced growth, and one test per known bug of
 * published Chase-Lev implementations.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include <weft/alloc.h>
#include <weft/deque.h>

#include "alloc_cases.h"
#include "weft_test.h"

/* Items are 1..n encoded as pointers (never NULL). */
#define ITEM(i) ((void *)(uintptr_t)(i))
#define ID(p)	((uint64_t)(uintptr_t)(p))

WEFT_TEST(bad_input)
{
	weft_deque *d = NULL;
	CHECK_EQ(weft_deque_create(NULL, 4), EINVAL);
	CHECK_EQ(weft_deque_create(&d, SIZE_MAX), EINVAL);
	CHECK_EQ(weft_deque_create(&d, 0), 0);
	CHECK_EQ(weft_deque_push(d, NULL), EINVAL);
	CHECK_EQ(weft_deque_push(NULL, ITEM(1)), EINVAL);
	CHECK(weft_deque_pop(NULL) == NULL);
	void *x;
	CHECK_EQ(weft_deque_steal(NULL, &x), EINVAL);
	CHECK_EQ(weft_deque_steal(d, NULL), EINVAL);
	CHECK_EQ(weft_deque_size_hint(NULL), 0);
	weft_deque_destroy(d);
	weft_deque_destroy(NULL);
}

WEFT_TEST(owner_lifo_thief_fifo)
{
	weft_deque *d;
	CHECK_EQ(weft_deque_create(&d, 3), 0);
	for (uint64_t i = 1; i <= 100; i++)
		CHECK_EQ(weft_deque_push(d, ITEM(i)), 0);
	CHECK_EQ(weft_deque_size_hint(d), 100);
	void *x = NULL;
	CHECK_EQ(weft_deque_steal(d, &x), 0);
	CHECK_EQ(ID(x), 1);
	CHECK_EQ(ID(weft_deque_pop(d)), 100);
	CHECK_EQ(weft_deque_steal(d, &x), 0);
	CHECK_EQ(ID(x), 2);
	for (uint64_t i = 99; i >= 3; i--)
		CHECK_EQ(ID(weft_deque_pop(d)), i);
	CHECK(weft_deque_pop(d) == NULL);
	CHECK_EQ(weft_deque_steal(d, &x), EAGAIN);
	CHECK_EQ(weft_deque_size_hint(d), 0);
	weft_deque_destroy(d);
}

/*
 * Known bug 1: with unsigned indices, a take on an empty deque computes bottom - 1 = SIZE_MAX,
 * which compares >= top, so the owner "finds" an item and leaves bottom wrapped: later
 * steals return garbage and the size is astronomically wrong.
 */
WEFT_TEST(pop_empty_no_index_wrap)
{
	weft_deque *d;
	CHECK_EQ(weft_deque_create(&d, 2), 0);
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 5; k++) {
			CHECK(weft_deque_pop(d) == NULL);
			CHECK_EQ(weft_deque_size_hint(d), 0);
		}
		void *x = ITEM(7);
		CHECK_EQ(weft_deque_steal(d, &x), EAGAIN);
		CHECK_EQ(ID(x), 7);
		CHECK_EQ(weft_deque_push(d, ITEM(round + 1)), 0);
		CHECK_EQ(weft_deque_size_hint(d), 1);
		CHECK_EQ(ID(weft_deque_pop(d)), (uint64_t)round + 1);
	}
	/* The same at a non-zero top: empty the deque through a steal, then pop. */
	CHECK_EQ(weft_deque_push(d, ITEM(9)), 0);
	void *x;
	CHECK_EQ(weft_deque_steal(d, &x), 0);
	CHECK(weft_deque_pop(d) == NULL);
	CHECK(weft_deque_pop(d) == NULL);
	CHECK_EQ(weft_deque_size_hint(d), 0);
	CHECK_EQ(weft_deque_steal(d, &x), EAGAIN);
	weft_deque_destroy(d);
}

WEFT_TEST(enomem_leaves_deque_unchanged)
{
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	weft_deque *d = NULL;
	test_alloc_fail_all();
	CHECK_EQ(weft_deque_create(&d, 4), ENOMEM);
	test_alloc_fail_none();
	CHECK_EQ(weft_deque_create(&d, 4), 0);
	for (uint64_t i = 1; i <= 4; i++)
		CHECK_EQ(weft_deque_push(d, ITEM(i)), 0);
	test_alloc_fail_all();
	CHECK_EQ(weft_deque_push(d, ITEM(5)), ENOMEM);
	CHECK_EQ(weft_deque_size_hint(d), 4);
	test_alloc_fail_none();
	CHECK_EQ(weft_deque_push(d, ITEM(5)), 0);
	for (uint64_t i = 5; i >= 1; i--)
		CHECK_EQ(ID(weft_deque_pop(d)), i);
	weft_deque_destroy(d);
	CHECK_EQ(weft_allocator_set(NULL), 0);
}

/* ---- concurrent: one owner, many thieves, every item taken exactly once ---- */

struct stress {
	weft_deque *d;
	uint64_t n;	       /* items 1..n */
	_Atomic uint8_t *seen; /* seen[i]: times item i was taken */
	/* plain memory the owner writes before pushing item i and the taker reads: TSan checks
	 * the push -> take happens-before edge */
	uint64_t *payload;
	_Atomic int done;	 /* the owner has pushed everything and drained */
	_Atomic uint64_t stolen; /* statistics */
	_Atomic uint64_t busy;
	unsigned yield_one_in;
	unsigned max_depth; /* the owner keeps at most this many items (0: no limit) */
	unsigned burst;	    /* the owner pushes this many, then pops about half */
};

struct role {
	struct stress *s;
	unsigned index; /* 0: the owner */
};

static void take(struct stress *s, void *x)
{
	uint64_t id = ID(x);
	if (id == 0 || id > s->n) {
		fprintf(stderr, "taken a garbage item %llu\n", (unsigned long long)id);
		abort();
	}
	if (s->payload[id] != id * 0x9E3779B97F4A7C15ull) {
		fprintf(stderr, "item %llu: its payload is not visible\n", (unsigned long long)id);
		abort();
	}
	uint8_t before = atomic_fetch_add_explicit(&s->seen[id], 1, memory_order_relaxed);
	if (before != 0) {
		fprintf(stderr, "item %llu taken twice\n", (unsigned long long)id);
		abort();
	}
}

static void owner_run(struct stress *s, uint64_t *rng)
{
	uint64_t next = 1;
	while (next <= s->n) {
		unsigned burst = 1 + (unsigned)(weft_test_rand(rng) % s->burst);
		for (unsigned k = 0; k < burst && next <= s->n; k++) {
			if (s->max_depth && weft_deque_size_hint(s->d) >= s->max_depth)
				break;
			s->payload[next] = next * 0x9E3779B97F4A7C15ull; /* plain write */
			if (weft_deque_push(s->d, ITEM(next)) != 0)
				abort();
			next++;
			weft_test_maybe_yield(rng, s->yield_one_in);
		}
		unsigned pops = (unsigned)(weft_test_rand(rng) % (burst / 2 + 1));
		for (unsigned k = 0; k < pops; k++) {
			void *x = weft_deque_pop(s->d);
			if (x != NULL)
				take(s, x);
			weft_test_maybe_yield(rng, s->yield_one_in);
		}
	}
	for (void *x; (x = weft_deque_pop(s->d)) != NULL;)
		take(s, x);
	/* release: the thieves stop after this; pairs with their acquire load */
	atomic_store_explicit(&s->done, 1, memory_order_release);
}

static void thief_run(struct stress *s, uint64_t *rng)
{
	uint64_t stolen = 0, busy = 0;
	/* acquire: pairs with the owner's release store of done */
	while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
		void *x;
		int r = weft_deque_steal(s->d, &x);
		if (r == 0) {
			take(s, x);
			stolen++;
		} else if (r == EBUSY) {
			busy++;
		} else if (r == EAGAIN) {
			sched_yield(); /* nothing to take: let the owner run (one-CPU safe) */
		} else {
			abort();
		}
		weft_test_maybe_yield(rng, s->yield_one_in);
	}
	atomic_fetch_add_explicit(&s->stolen, stolen, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->busy, busy, memory_order_relaxed);
}

static void *role_main(void *arg)
{
	struct role *r = arg;
	uint64_t rng = 0x1234567ull * (r->index + 1);
	if (r->index == 0)
		owner_run(r->s, &rng);
	else
		thief_run(r->s, &rng);
	return NULL;
}

/* One run; returns the number of items stolen (the rest the owner popped). */
static uint64_t stress_run(struct stress *s, size_t initial_capacity, unsigned thieves)
{
	CHECK_EQ(weft_deque_create(&s->d, initial_capacity), 0);
	s->seen = calloc(s->n + 1, 1);
	s->payload = calloc(s->n + 1, sizeof(uint64_t));
	CHECK(s->seen != NULL && s->payload != NULL);
	atomic_store(&s->done, 0);
	atomic_store(&s->stolen, 0);
	atomic_store(&s->busy, 0);
	struct role roles[17];
	void *args[17];
	CHECK(thieves < 17);
	for (unsigned i = 0; i <= thieves; i++) {
		roles[i] = (struct role){s, i};
		args[i] = &roles[i];
	}
	weft_test_run_threads(thieves + 1, role_main, args);
	for (uint64_t i = 1; i <= s->n; i++) {
		if (atomic_load(&s->seen[i]) != 1) {
			fprintf(stderr, "item %llu taken %u times\n", (unsigned long long)i,
				(unsigned)atomic_load(&s->seen[i]));
			CHECK_EQ(atomic_load(&s->seen[i]), 1);
		}
	}
	CHECK_EQ(weft_deque_size_hint(s->d), 0);
	free((void *)s->seen);
	free(s->payload);
	weft_deque_destroy(s->d);
	return atomic_load(&s->stolen);
}

WEFT_STRESS(exactly_once_growth)
{
	struct stress s = {.n = weft_test_scale(1000000), .yield_one_in = 0, .burst = 64};
	uint64_t stolen = stress_run(&s, 1, 3);
	printf("%llu items, 3 thieves, initial capacity 1: %llu stolen, %llu lost races, "
	       "exactly once\n",
	       (unsigned long long)s.n, (unsigned long long)stolen,
	       (unsigned long long)atomic_load(&s.busy));
}

WEFT_STRESS(exactly_once_oversubscribed_yields)
{
	struct stress s = {.n = weft_test_scale(300000), .yield_one_in = 97, .burst = 16};
	uint64_t stolen = stress_run(&s, 1, 15);
	printf("%llu items, 15 thieves on 2 cores, random yields: %llu stolen, %llu lost "
	       "races, exactly once\n",
	       (unsigned long long)s.n, (unsigned long long)stolen,
	       (unsigned long long)atomic_load(&s.busy));
}

/*
 * Known bug 2: a thief that reads its slot AFTER winning the CAS on top. Once top has moved,
 * the owner may push over that slot (the array wraps), so the thief returns a newer item
 * (one taken twice, one lost); and if a resize freed the old array meanwhile, the late read
 * touches freed memory (ASan reports it). Here the owner keeps the deque nearly full of a
 * tiny array so slots are reused constantly, and separate rounds grow from capacity 1 while
 * thieves read the arrays being replaced.
 */
WEFT_STRESS(thief_read_vs_slot_reuse_and_resize)
{
	struct stress s = {
	    .n = weft_test_scale(400000), .yield_one_in = 31, .max_depth = 3, .burst = 4};
	uint64_t stolen = stress_run(&s, 4, 8); /* never grows: max_depth 3 < 4 */
	printf("wrap-around phase: %llu items through a 4-slot array, %llu stolen\n",
	       (unsigned long long)s.n, (unsigned long long)stolen);
	uint64_t rounds = weft_test_scale(300);
	uint64_t total = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		struct stress g = {.n = 2000, .yield_one_in = 13, .burst = 256};
		total += stress_run(&g, 1, 4);
	}
	printf("resize phase: %llu rounds growing 1 -> 2048 under 4 thieves, %llu stolen\n",
	       (unsigned long long)rounds, (unsigned long long)total);
}

/*
 * Known bug 3: a steal racing the buffer swap takes one task twice (an implementation that
 * renumbers indices when it copies, or that lets a thief's CAS succeed against a stale
 * array). Each round fills the array exactly to capacity, then pushes one more (the grow)
 * while thieves are mid-steal, then the owner pops the rest; every item must be taken once.
 */
struct swap_round {
	weft_deque *d;
	_Atomic uint8_t seen[130];
	_Atomic int phase; /* 0 fill, 1 thieves go, 2 done */
};

static void *swap_thief(void *arg)
{
	struct swap_round *sr = arg;
	/* acquire: pairs with the owner's release of phase 1 */
	while (atomic_load_explicit(&sr->phase, memory_order_acquire) == 0)
		sched_yield();
	while (atomic_load_explicit(&sr->phase, memory_order_acquire) == 1) {
		void *x;
		if (weft_deque_steal(sr->d, &x) == 0) {
			if (atomic_fetch_add_explicit(&sr->seen[ID(x)], 1, memory_order_relaxed)) {
				fprintf(stderr, "item %llu stolen twice\n",
					(unsigned long long)ID(x));
				abort();
			}
		} else {
			sched_yield();
		}
	}
	return NULL;
}

WEFT_STRESS(steal_vs_buffer_swap)
{
	uint64_t rounds = weft_test_scale(3000);
	enum { THIEVES = 3, CAP = 64 };
	for (uint64_t r = 0; r < rounds; r++) {
		struct swap_round sr;
		memset(&sr, 0, sizeof sr);
		CHECK_EQ(weft_deque_create(&sr.d, CAP), 0);
		pthread_t t[THIEVES];
		for (int i = 0; i < THIEVES; i++)
			CHECK_EQ(pthread_create(&t[i], NULL, swap_thief, &sr), 0);
		for (uint64_t i = 1; i <= CAP; i++)
			CHECK_EQ(weft_deque_push(sr.d, ITEM(i)), 0);
		/* release: the thieves start on a full array; pairs with their acquire */
		atomic_store_explicit(&sr.phase, 1, memory_order_release);
		for (uint64_t i = CAP + 1; i <= 2 * CAP + 1; i++) /* grows at the first push */
			CHECK_EQ(weft_deque_push(sr.d, ITEM(i)), 0);
		for (void *x; (x = weft_deque_pop(sr.d)) != NULL;)
			CHECK_EQ(atomic_fetch_add(&sr.seen[ID(x)], 1), 0);
		atomic_store_explicit(&sr.phase, 2, memory_order_release);
		for (int i = 0; i < THIEVES; i++)
			pthread_join(t[i], NULL);
		for (int i = 1; i <= 2 * CAP + 1; i++)
			CHECK_EQ(atomic_load(&sr.seen[i]), 1);
		weft_deque_destroy(sr.d);
	}
	printf("%llu rounds of a grow racing 3 thieves: every item taken once\n",
	       (unsigned long long)rounds);
}
