/*
 * weft_queue_push_n / weft_queue_pop_n: bad input, partial batches on a full bounded
 * queue, order within a batch, and exactly-once (plus per-producer FIFO where the kind
 * keeps it) under P producers x C consumers moving random batch sizes, for every kind.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/hazard.h>
#include <weft/queue.h>
#include <weft/rcu.h>

#include "weft_test.h"

typedef struct kind_info {
	const char *name;
	unsigned max_p, max_c; /* 0: any */
	bool fifo;             /* FIFO per producer, as one consumer sees it */
	bool bounded;
} kind_info;

static const kind_info kinds[] = {
	{ "mutex", 0, 0, true, true },
	{ "mpmc", 0, 0, true, true },
	{ "spsc", 1, 1, true, true },
	{ "mpsc", 0, 1, true, false },
	{ "sharded", 0, 0, false, true },
	{ "ck_ring", 2, 2, true, true }, /* its push spins on peers: keep it at 2 x 2 */
	{ "urcu_wfcq", 0, 0, true, false },
	{ "msq", 0, 0, true, false },
	{ "msq_rcu", 0, 0, true, false },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static weft_queue *make(const char *name, size_t capacity)
{
	weft_queue_kind kind;
	CHECK_EQ(weft_queue_kind_parse(name, &kind), 0);
	weft_queue *q = NULL;
	CHECK_EQ(weft_queue_create(&q, kind, capacity), 0);
	return q;
}

static void settle(void)
{
	weft_hazard_domain_scan(weft_hazard_domain_default());
	CHECK_EQ(weft_rcu_barrier(), 0);
}

#define ITEM(p, s) ((void *)(uintptr_t)((((uint64_t)(p) + 1) << 32) | (uint64_t)(s)))
#define ITEM_P(x) ((unsigned)(((uintptr_t)(x) >> 32) - 1))
#define ITEM_S(x) ((uint32_t)(uintptr_t)(x))

WEFT_TEST(bad_input)
{
	weft_queue *q = make("mpmc", 8);
	void *items[2] = { ITEM(0, 1), NULL };
	size_t n = 99;
	CHECK_EQ(weft_queue_push_n(NULL, items, 1, &n), EINVAL);
	CHECK_EQ(weft_queue_push_n(q, NULL, 1, &n), EINVAL);
	CHECK_EQ(weft_queue_push_n(q, items, 1, NULL), EINVAL);
	CHECK_EQ(weft_queue_push_n(q, items, 0, &n), EINVAL);
	CHECK_EQ(weft_queue_push_n(q, items, 2, &n), EINVAL); /* a NULL item: nothing pushed */
	CHECK_EQ(n, 0);
	void *out[2];
	CHECK_EQ(weft_queue_pop_n(q, out, 2, &n), EAGAIN);
	CHECK_EQ(n, 0);
	CHECK_EQ(weft_queue_pop_n(NULL, out, 1, &n), EINVAL);
	CHECK_EQ(weft_queue_pop_n(q, NULL, 1, &n), EINVAL);
	CHECK_EQ(weft_queue_pop_n(q, out, 1, NULL), EINVAL);
	CHECK_EQ(weft_queue_pop_n(q, out, 0, &n), EINVAL);
	weft_queue_destroy(q);
}

/* Every kind, one thread: order within batches, partial batches at full and empty. */
WEFT_TEST(single_thread_every_kind)
{
	for (size_t k = 0; k < NKINDS; k++) {
		weft_queue *q = make(kinds[k].name, 16);
		void *in[40], *out[40];
		for (uint32_t i = 0; i < 40; i++)
			in[i] = ITEM(0, i);
		size_t pushed = 0, popped = 0;
		CHECK_EQ(weft_queue_push_n(q, in, 40, &pushed), 0);
		if (kinds[k].bounded) {
			CHECK(pushed >= 16 && pushed < 40); /* at least the capacity, then full */
			size_t again = 7;
			CHECK_EQ(weft_queue_push_n(q, in + pushed, 40 - pushed, &again), EAGAIN);
			CHECK_EQ(again, 0);
		} else {
			CHECK_EQ(pushed, 40);
		}
		size_t total = 0;
		while (weft_queue_pop_n(q, out + total, 5, &popped) == 0) {
			CHECK(popped >= 1 && popped <= 5);
			total += popped;
		}
		CHECK_EQ(popped, 0);
		CHECK_EQ(total, pushed);
		/* One thread pushed everything: every kind gives it back in order (sharded: one
		 * thread's items all went to its home shard first, then the next ones, in order
		 * of shards, and pop visits them in the same order). */
		if (kinds[k].fifo)
			for (size_t i = 0; i < total; i++)
				CHECK(out[i] == in[i]);
		else
			for (size_t i = 0; i < total; i++) /* sharded: exactly once */
				for (size_t j = 0; j < i; j++)
					CHECK(out[i] != out[j]);
		weft_queue_destroy(q);
	}
	settle();
}

/*
 * mpmc, one thread, rings of 2 to 256 slots: random push_n / pop_n sizes from every
 * starting position, against a model FIFO. A bounded ring takes exactly what fits and
 * gives back exactly what it holds, in order; runs cross the end of the cell array
 * (where a run continues at cells[0], every capacity positions) and runs longer than the
 * ring.
 */
WEFT_TEST(mpmc_batches_match_a_model)
{
	uint64_t rng = 42;
	for (size_t cap = 1; cap <= 256; cap *= 2) {
		weft_queue *q = make("mpmc", cap);
		size_t room_max = cap < 2 ? 2 : cap; /* a ring has at least 2 slots */
		enum { MAXB = 300 };
		static void *model[1024], *in[MAXB], *out[MAXB];
		size_t head = 0, tail = 0; /* model[head .. tail), mod 1024 */
		uint32_t next = 1;
		for (int round = 0; round < 2000; round++) {
			size_t n = 1 + weft_test_rand(&rng) % (weft_test_rand(&rng) % 2 ? 9 : MAXB);
			size_t moved = 99;
			if (weft_test_rand(&rng) % 2) {
				for (size_t i = 0; i < n; i++)
					in[i] = ITEM(0, next + i);
				size_t room = room_max - (tail - head), want = n < room ? n : room;
				CHECK_EQ(weft_queue_push_n(q, in, n, &moved), (want ? 0 : EAGAIN));
				CHECK_EQ(moved, want);
				for (size_t i = 0; i < moved; i++)
					model[tail++ % 1024] = in[i];
				next += (uint32_t)moved;
			} else {
				size_t have = tail - head, want = n < have ? n : have;
				CHECK_EQ(weft_queue_pop_n(q, out, n, &moved), (want ? 0 : EAGAIN));
				CHECK_EQ(moved, want);
				for (size_t i = 0; i < moved; i++)
					CHECK(out[i] == model[head++ % 1024]);
			}
		}
		weft_queue_destroy(q);
	}
}

/*
 * mpmc's batch push waits a little while a large ring is nearly full (fewer than n + 64
 * slots free, queues/ring_batch.c, "Pacing"); it must still take exactly what fits, and
 * come back when nobody frees anything. Rings of 1024 and 4096, room of 0 to 100 slots
 * left, batches of 1, 16, 64 and 300.
 */
WEFT_TEST(mpmc_paced_push_takes_what_fits)
{
	static const size_t caps[] = { 1024, 4096 }, sizes[] = { 1, 16, 64, 300 };
	static void *in[4096 + 300], *out[4096];
	for (size_t i = 0; i < 4096 + 300; i++)
		in[i] = ITEM(0, i + 1);
	for (size_t c = 0; c < 2; c++) {
		weft_queue *q = make("mpmc", caps[c]);
		for (size_t room = 0; room <= 100; room += 7) {
			for (size_t b = 0; b < 4; b++) {
				size_t n = sizes[b], moved = 0, filled = 0;
				while (filled < caps[c] - room) {
					size_t want = caps[c] - room - filled;
					CHECK_EQ(weft_queue_push_n(q, in + filled, want < 64 ? want : 64,
								   &moved), 0);
					filled += moved;
				}
				size_t fits = n < room ? n : room;
				CHECK_EQ(weft_queue_push_n(q, in + filled, n, &moved), (fits ? 0 : EAGAIN));
				CHECK_EQ(moved, fits);
				filled += moved;
				size_t got = 0;
				while (weft_queue_pop_n(q, out + got, 64, &moved) == 0)
					got += moved;
				CHECK_EQ(got, filled);
				for (size_t i = 0; i < got; i++)
					CHECK(out[i] == in[i]);
			}
		}
		weft_queue_destroy(q);
	}
}

/* ---- P x C stress ---- */

struct run {
	weft_queue *q;
	const kind_info *kind;
	unsigned P, C;
	uint32_t per_producer;
	_Atomic unsigned char *seen; /* P x per_producer */
	_Atomic uint64_t consumed;
	_Atomic long errors;
	bool mixed; /* single push / pop interleaved with the batches */
	/* Items moved by each path: push, push_n, pop, pop_n (mixed runs check each > 0). */
	_Atomic uint64_t by_path[4];
};

struct targ {
	struct run *run;
	unsigned id;
};

static void *producer(void *arg)
{
	struct targ *t = arg;
	struct run *r = t->run;
	uint64_t rng = 0x9E37u + t->id;
	void *batch[64];
	uint32_t next = 0;
	while (next < r->per_producer) {
		size_t want = 1 + (size_t)(weft_test_rand(&rng) % 64);
		if (want > r->per_producer - next)
			want = r->per_producer - next;
		for (size_t i = 0; i < want; i++)
			batch[i] = ITEM(t->id, next + i);
		size_t off = 0;
		bool single = r->mixed && weft_test_rand(&rng) % 2;
		while (off < want) {
			size_t pushed = 0;
			int err;
			if (single) {
				err = weft_queue_push(r->q, batch[off]);
				pushed = err == 0;
			} else {
				err = weft_queue_push_n(r->q, batch + off, want - off, &pushed);
			}
			if (err == EAGAIN) {
				sched_yield(); /* full: let a consumer run, even on one CPU */
				continue;
			}
			if (err != 0 || pushed == 0) {
				atomic_fetch_add(&r->errors, 1);
				return NULL;
			}
			off += pushed;
			/* Relaxed: a statistic, read after the threads are joined. */
			atomic_fetch_add_explicit(&r->by_path[single ? 0 : 1], pushed,
						  memory_order_relaxed);
		}
		next += (uint32_t)want;
		weft_test_maybe_yield(&rng, 16);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct targ *t = arg;
	struct run *r = t->run;
	uint64_t rng = 0x51EDu + t->id;
	uint64_t total = (uint64_t)r->P * r->per_producer;
	uint32_t *last = calloc(r->P, sizeof(uint32_t)); /* last seq + 1 seen per producer */
	void *batch[64];
	while (atomic_load_explicit(&r->consumed, memory_order_relaxed) < total) {
		size_t want = 1 + (size_t)(weft_test_rand(&rng) % 64);
		size_t popped = 0;
		bool single = r->mixed && weft_test_rand(&rng) % 2;
		int err;
		if (single) {
			want = 1;
			err = weft_queue_pop(r->q, &batch[0]);
			popped = err == 0;
		} else {
			err = weft_queue_pop_n(r->q, batch, want, &popped);
		}
		if (err == EAGAIN) {
			sched_yield();
			continue;
		}
		if (err != 0 || popped == 0 || popped > want) {
			atomic_fetch_add(&r->errors, 1);
			break;
		}
		for (size_t i = 0; i < popped; i++) {
			unsigned p = ITEM_P(batch[i]);
			uint32_t s = ITEM_S(batch[i]);
			if (p >= r->P || s >= r->per_producer) {
				atomic_fetch_add(&r->errors, 1);
				continue;
			}
			if (atomic_fetch_add(&r->seen[(size_t)p * r->per_producer + s], 1) != 0)
				atomic_fetch_add(&r->errors, 1); /* popped twice */
			if (r->kind->fifo) {
				if (s + 1 <= last[p])
					atomic_fetch_add(&r->errors, 1); /* out of order */
				last[p] = s + 1;
			}
		}
		/* Relaxed: a termination count; exactly-once is checked on `seen`. */
		atomic_fetch_add_explicit(&r->consumed, popped, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->by_path[single ? 2 : 3], popped, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 16);
	}
	free(last);
	return NULL;
}

static void stress_run(const kind_info *k, size_t capacity, bool mixed)
{
	struct run r = { .kind = k, .mixed = mixed };
	r.P = k->max_p ? k->max_p : 4;
	r.C = k->max_c ? k->max_c : 4;
	r.per_producer = (uint32_t)weft_test_scale(40000);
	r.q = make(k->name, capacity);
	r.seen = calloc((size_t)r.P * r.per_producer, 1);
	CHECK(r.seen != NULL);
	atomic_init(&r.consumed, 0);
	atomic_init(&r.errors, 0);
	for (int i = 0; i < 4; i++)
		atomic_init(&r.by_path[i], 0);
	struct targ args[8];
	for (unsigned i = 0; i < r.P + r.C; i++)
		args[i] = (struct targ){ &r, i < r.P ? i : i - r.P };
	pthread_t th[8];
	for (unsigned i = 0; i < r.P + r.C; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, i < r.P ? producer : consumer, &args[i]), 0);
	for (unsigned i = 0; i < r.P + r.C; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	uint64_t missing = 0;
	for (size_t i = 0; i < (size_t)r.P * r.per_producer; i++)
		missing += atomic_load(&r.seen[i]) != 1;
	uint64_t path[4];
	for (int i = 0; i < 4; i++)
		path[i] = atomic_load(&r.by_path[i]);
	printf("%s, capacity %zu: %u x %u, %u items per producer, random batches of 1..64%s: "
	       "%llu missing or repeated, %ld errors; items by push %llu, push_n %llu, pop %llu, "
	       "pop_n %llu\n", k->name, capacity, r.P, r.C, r.per_producer,
	       mixed ? " mixed with single push / pop" : "", (unsigned long long)missing,
	       atomic_load(&r.errors), (unsigned long long)path[0], (unsigned long long)path[1],
	       (unsigned long long)path[2], (unsigned long long)path[3]);
	CHECK_EQ(missing, 0);
	CHECK_EQ(atomic_load(&r.errors), 0);
	CHECK_EQ(path[0] + path[1], (uint64_t)r.P * r.per_producer);
	CHECK_EQ(path[2] + path[3], (uint64_t)r.P * r.per_producer);
	if (mixed) /* every path carried items */
		for (int i = 0; i < 4; i++)
			CHECK(path[i] > 0);
	void *left;
	CHECK_EQ(weft_queue_pop(r.q, &left), EAGAIN);
	weft_queue_destroy(r.q);
	free(r.seen);
	settle();
}

static void stress_kind(const kind_info *k)
{
	stress_run(k, 256, false);
}

static const kind_info *by_name(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	weft_test_fail(__FILE__, __LINE__, "known kind", name);
	return NULL;
}

WEFT_STRESS(stress_mutex) { stress_kind(by_name("mutex")); }
WEFT_STRESS(stress_mpmc) { stress_kind(by_name("mpmc")); }
WEFT_STRESS(stress_spsc) { stress_kind(by_name("spsc")); }
WEFT_STRESS(stress_mpsc) { stress_kind(by_name("mpsc")); }
WEFT_STRESS(stress_sharded) { stress_kind(by_name("sharded")); }
WEFT_STRESS(stress_ck_ring) { stress_kind(by_name("ck_ring")); }
WEFT_STRESS(stress_urcu_wfcq) { stress_kind(by_name("urcu_wfcq")); }
WEFT_STRESS(stress_msq) { stress_kind(by_name("msq")); }
WEFT_STRESS(stress_msq_rcu) { stress_kind(by_name("msq_rcu")); }

/*
 * The native batch paths of mpmc and sharded against the single push / pop on one queue:
 * each producer and consumer picks single or batch at random per step, on rings small
 * enough (2 and 64 slots; sharded: per shard) that runs wrap from the end of the cell array
 * to its start and stop at full and empty all the time. Exactly once, FIFO per producer
 * for mpmc, and every path moved items.
 */
WEFT_STRESS(mixed_paths_mpmc)
{
	stress_run(by_name("mpmc"), 2, true);
	stress_run(by_name("mpmc"), 64, true);
}

WEFT_STRESS(mixed_paths_sharded)
{
	stress_run(by_name("sharded"), 2, true);
	stress_run(by_name("sharded"), 64, true);
}
