/*
 * Every weft_queue kind through the one interface: bad input, full/empty, destroy with
 * items inside, ENOMEM without leaks, pop_wait (woken, cancelled, timed out, and a stress
 * for lost wake-ups), and a P x C stress per kind checking that every item, tagged
 * (producer, seq), arrives exactly once and, where the kind promises it, in per-producer
 * FIFO order.
 *
 * Adding a kind: one row in `kinds` and one WEFT_STRESS(stress_<kind>) line at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <weft/alloc.h>
#include <weft/ctx.h>
#include <weft/hazard.h>
#include <weft/queue.h>
#include <weft/rcu.h>

#include "alloc_cases.h"
#include "weft_test.h"

typedef struct kind_info {
	const char *name;
	unsigned max_p, max_c; /* 0: any number */
	bool fifo;             /* per-producer FIFO promised */
	bool bounded;
	/* Its push spins until earlier producers publish (ck_ring 0.7.1): on 2 cores with
	 * more producers than cores that is the near-livelock weft's own queues avoid, so
	 * the stress runs it with at most 2 producers to stay bounded in time. */
	bool peer_spin;
} kind_info;

static const kind_info kinds[] = {
	{ .name = "mutex", .fifo = true, .bounded = true },
	{ .name = "mpmc", .fifo = true, .bounded = true },
	{ .name = "spsc", .max_p = 1, .max_c = 1, .fifo = true, .bounded = true },
	{ .name = "mpsc", .max_c = 1, .fifo = true },
	{ .name = "sharded", .bounded = true },
	{ .name = "ck_ring", .fifo = true, .bounded = true, .peer_spin = true },
	{ .name = "urcu_wfcq", .fifo = true },
	{ .name = "msq", .fifo = true }, /* P x C stress of its own: tests/test_msq.c */
	{ .name = "msq_rcu", .fifo = true },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const kind_info *kind_by_name(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	}
	weft_test_fail(__FILE__, __LINE__, "known kind", name);
	return NULL;
}

static weft_queue *make(const kind_info *k, size_t capacity)
{
	weft_queue_kind kind;
	CHECK_EQ(weft_queue_kind_parse(k->name, &kind), 0);
	weft_queue *q = NULL;
	CHECK_EQ(weft_queue_create(&q, kind, capacity), 0);
	CHECK(q != NULL);
	CHECK_EQ(weft_queue_kind_of(q), kind);
	return q;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
	nanosleep(&ts, NULL);
}

static void sleep_ms(long ms)
{
	sleep_us(ms * 1000);
}

/* On EAGAIN: spin a little, then yield, so no loop needs another core to progress. */
static void backoff(unsigned *spins)
{
	if (++*spins < 16)
		return;
	*spins = 0;
	sched_yield();
}

#define ITEM(p, seq) ((void *)(uintptr_t)(((uint64_t)(p) + 1) << 40 | (uint64_t)(seq)))
#define ITEM_P(it) ((unsigned)(((uint64_t)(uintptr_t)(it) >> 40) - 1))
#define ITEM_SEQ(it) ((uint64_t)(uintptr_t)(it) & ((UINT64_C(1) << 40) - 1))

/* ---------------------------------------------------------------------- unit cases */

WEFT_TEST(kind_names)
{
	const char *all = weft_queue_kind_names();
	for (unsigned k = 0; k < WEFT_QUEUE_KIND_COUNT; k++) {
		const char *name = weft_queue_kind_name((weft_queue_kind)k);
		CHECK(name != NULL);
		CHECK(strstr(all, name) != NULL);
		weft_queue_kind parsed;
		CHECK_EQ(weft_queue_kind_parse(name, &parsed), 0);
		CHECK_EQ(parsed, k);
	}
	weft_queue_kind parsed = WEFT_QUEUE_MPMC;
	CHECK(weft_queue_kind_name(WEFT_QUEUE_KIND_COUNT) == NULL);
	CHECK_EQ(weft_queue_kind_parse("no-such-queue", &parsed), EINVAL);
	CHECK_EQ(weft_queue_kind_parse("", &parsed), EINVAL);
	CHECK_EQ(weft_queue_kind_parse("MPMC", &parsed), EINVAL);
	CHECK_EQ(weft_queue_kind_parse(NULL, &parsed), EINVAL);
	CHECK_EQ(weft_queue_kind_parse("mpmc", NULL), EINVAL);
	CHECK_EQ(parsed, WEFT_QUEUE_MPMC); /* failed calls changed nothing */
}

WEFT_TEST(bad_input)
{
	weft_queue *q = NULL;
	CHECK_EQ(weft_queue_create(NULL, WEFT_QUEUE_MPMC, 8), EINVAL);
	CHECK_EQ(weft_queue_create(&q, WEFT_QUEUE_KIND_COUNT, 8), EINVAL);
	CHECK_EQ(weft_queue_create(&q, (weft_queue_kind)-1, 8), EINVAL);
	CHECK(q == NULL);
	for (size_t i = 0; i < NKINDS; i++) {
		const kind_info *k = &kinds[i];
		weft_queue_kind kind;
		CHECK_EQ(weft_queue_kind_parse(k->name, &kind), 0);
		int err = weft_queue_create(&q, kind, 0);
		if (k->bounded) {
			CHECK_EQ(err, EINVAL);
		} else {
			CHECK_EQ(err, 0); /* a hint only */
			weft_queue_destroy(q);
		}
		q = make(k, 8);
		void *it = NULL;
		CHECK_EQ(weft_queue_push(q, NULL), EINVAL);
		CHECK_EQ(weft_queue_pop(q, &it), EAGAIN); /* the NULL push left nothing */
		CHECK_EQ(weft_queue_push(NULL, ITEM(0, 1)), EINVAL);
		CHECK_EQ(weft_queue_pop(NULL, &it), EINVAL);
		CHECK_EQ(weft_queue_pop(q, NULL), EINVAL);
		CHECK_EQ(weft_queue_pop_wait(NULL, &it, NULL), EINVAL);
		CHECK_EQ(weft_queue_pop_wait(q, NULL, NULL), EINVAL);
		weft_queue_destroy(q);
		q = NULL;
	}
	weft_queue_destroy(NULL);
	CHECK_EQ(weft_queue_kind_of(NULL), WEFT_QUEUE_KIND_COUNT);
}

/* Bounded kinds take at least capacity items, then EAGAIN; all drain in order, then EAGAIN. */
WEFT_TEST(full_and_empty)
{
	for (size_t i = 0; i < NKINDS; i++) {
		const kind_info *k = &kinds[i];
		size_t cap = 5, pushed = 0;
		weft_queue *q = make(k, cap);
		void *it;
		CHECK_EQ(weft_queue_pop(q, &it), EAGAIN);
		size_t limit = k->bounded ? 1u << 16 : 1000;
		while (pushed < limit && weft_queue_push(q, ITEM(0, pushed)) == 0)
			pushed++;
		if (k->bounded) {
			CHECK(pushed >= cap);
			CHECK(pushed < limit);
			CHECK_EQ(weft_queue_push(q, ITEM(0, pushed)), EAGAIN);
			if (strcmp(k->name, "mutex") == 0)
				CHECK_EQ(pushed, cap); /* exact */
			if (strcmp(k->name, "mpmc") == 0 || strcmp(k->name, "spsc") == 0)
				CHECK_EQ(pushed, 8); /* rounded up to a power of two */
		} else {
			CHECK_EQ(pushed, limit);
		}
		for (size_t n = 0; n < pushed; n++) {
			CHECK_EQ(weft_queue_pop(q, &it), 0);
			CHECK_EQ(ITEM_SEQ(it), n); /* one thread: every kind keeps its order */
		}
		CHECK_EQ(weft_queue_pop(q, &it), EAGAIN);
		/* and it works again after draining */
		CHECK_EQ(weft_queue_push(q, ITEM(0, 7)), 0);
		CHECK_EQ(weft_queue_pop(q, &it), 0);
		CHECK(it == ITEM(0, 7));
		weft_queue_destroy(q);
		printf("%s: capacity %zu took %zu items\n", k->name, cap, pushed);
	}
}

/* Items left inside are the caller's: the queue's own memory is freed (ASan checks). */
WEFT_TEST(destroy_non_empty)
{
	for (size_t i = 0; i < NKINDS; i++) {
		weft_queue *q = make(&kinds[i], 64);
		for (unsigned n = 0; n < 40; n++)
			CHECK_EQ(weft_queue_push(q, ITEM(0, n)), 0);
		void *it;
		CHECK_EQ(weft_queue_pop(q, &it), 0);
		weft_queue_destroy(q);
	}
}

/* msq and msq_rcu free their nodes later (hazard-pointer scan, RCU grace period). */
static void settle_deferred_frees(void)
{
	weft_hazard_domain_scan(weft_hazard_domain_default());
	CHECK_EQ(weft_rcu_barrier(), 0);
}

WEFT_TEST(enomem_leaks_nothing)
{
	/* This thread's hazard-pointer record lives as long as the thread: take it first. */
	weft_queue *warm = make(kind_by_name("msq"), 0);
	void *got;
	CHECK_EQ(weft_queue_push(warm, ITEM(0, 1)), 0);
	CHECK_EQ(weft_queue_pop(warm, &got), 0);
	weft_queue_destroy(warm);
	settle_deferred_frees();
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	for (size_t i = 0; i < NKINDS; i++) {
		const kind_info *k = &kinds[i];
		weft_queue_kind kind;
		CHECK_EQ(weft_queue_kind_parse(k->name, &kind), 0);
		int failures = 0;
		for (long fail_at = 0;; fail_at++) {
			weft_queue *q = NULL;
			test_alloc_fail_after(fail_at);
			int err = weft_queue_create(&q, kind, 16);
			test_alloc_fail_none();
			if (err == 0) {
				weft_queue_destroy(q);
				break;
			}
			CHECK_EQ(err, ENOMEM);
			CHECK(q == NULL);
			CHECK_EQ(test_alloc_live(), 0);
			failures++;
			CHECK(fail_at < 100);
		}
		CHECK(failures >= 1);
		if (!k->bounded) { /* a push that cannot allocate enqueues nothing */
			weft_queue *q = make(k, 0);
			CHECK_EQ(weft_queue_push(q, ITEM(0, 1)), 0);
			test_alloc_fail_after(0);
			CHECK_EQ(weft_queue_push(q, ITEM(0, 2)), ENOMEM);
			test_alloc_fail_none();
			CHECK_EQ(weft_queue_push(q, ITEM(0, 3)), 0);
			void *it;
			CHECK_EQ(weft_queue_pop(q, &it), 0);
			CHECK(it == ITEM(0, 1));
			CHECK_EQ(weft_queue_pop(q, &it), 0);
			CHECK(it == ITEM(0, 3));
			CHECK_EQ(weft_queue_pop(q, &it), EAGAIN);
			weft_queue_destroy(q);
		}
		settle_deferred_frees();
		CHECK_EQ(test_alloc_live(), 0);
		printf("%s: %d allocation failures, each ENOMEM with nothing leaked\n", k->name,
		       failures);
	}
	CHECK_EQ(weft_allocator_set(NULL), 0);
}

/* ------------------------------------------------------------------- pop_wait cases */

typedef struct waiter_arg {
	weft_queue *q;
	weft_ctx *ctx;
	void *item;
	int result;
	_Atomic int finished;
} waiter_arg;

static void *pop_wait_main(void *arg)
{
	waiter_arg *w = arg;
	w->result = weft_queue_pop_wait(w->q, &w->item, w->ctx);
	atomic_store_explicit(&w->finished, 1, memory_order_release);
	return NULL;
}

WEFT_TEST(pop_wait_woken_by_push)
{
	for (size_t i = 0; i < NKINDS; i++) {
		waiter_arg w = { .q = make(&kinds[i], 8) };
		pthread_t t;
		pthread_create(&t, NULL, pop_wait_main, &w);
		sleep_ms(20);
		CHECK_EQ(atomic_load(&w.finished), 0); /* still waiting on an empty queue */
		CHECK_EQ(weft_queue_push(w.q, ITEM(3, 9)), 0);
		pthread_join(t, NULL);
		CHECK_EQ(w.result, 0);
		CHECK(w.item == ITEM(3, 9));
		weft_queue_destroy(w.q);
	}
}

WEFT_TEST(pop_wait_cancelled)
{
	for (size_t i = 0; i < NKINDS; i++) {
		waiter_arg w = { .q = make(&kinds[i], 8) };
		CHECK_EQ(weft_ctx_with_cancel(NULL, &w.ctx), 0);
		pthread_t t;
		pthread_create(&t, NULL, pop_wait_main, &w);
		sleep_ms(20);
		CHECK_EQ(atomic_load(&w.finished), 0);
		weft_ctx_cancel(w.ctx);
		pthread_join(t, NULL);
		CHECK_EQ(w.result, ECANCELED);
		/* already cancelled: an item present is still returned, else ECANCELED at once */
		void *it;
		CHECK_EQ(weft_queue_push(w.q, ITEM(1, 1)), 0);
		CHECK_EQ(weft_queue_pop_wait(w.q, &it, w.ctx), 0);
		CHECK(it == ITEM(1, 1));
		CHECK_EQ(weft_queue_pop_wait(w.q, &it, w.ctx), ECANCELED);
		weft_ctx_release(w.ctx);
		weft_queue_destroy(w.q);
	}
}

WEFT_TEST(pop_wait_deadline)
{
	for (size_t i = 0; i < NKINDS; i++) {
		weft_queue *q = make(&kinds[i], 8);
		weft_ctx *ctx;
		uint64_t deadline = weft_now_ns() + 15 * 1000 * 1000;
		CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &ctx), 0);
		void *it;
		CHECK_EQ(weft_queue_pop_wait(q, &it, ctx), ETIMEDOUT);
		CHECK(weft_now_ns() >= deadline);
		weft_ctx_release(ctx);
		weft_queue_destroy(q);
	}
}

/* Producers push while consumers block in pop_wait; a pill per consumer ends them once
 * every item is received. A lost wake-up leaves a consumer asleep with items queued: the
 * case hangs and ctest's timeout fails it. */
typedef struct pw_run {
	weft_queue *q;
	unsigned P, C;
	uint64_t per_producer;
	_Atomic uint64_t received;
} pw_run;

typedef struct pw_thread {
	pw_run *run;
	unsigned id;
} pw_thread;

#define PILL ((void *)(uintptr_t)1)

static void push_retry(weft_queue *q, void *item)
{
	unsigned spins = 0;
	int err;
	while ((err = weft_queue_push(q, item)) == EAGAIN)
		backoff(&spins);
	CHECK_EQ(err, 0);
}

static void *pw_producer(void *arg)
{
	pw_thread *t = arg;
	uint64_t rng = t->id * 7919 + 1;
	for (uint64_t s = 0; s < t->run->per_producer; s++) {
		push_retry(t->run->q, ITEM(t->id, s));
		/* Bursts and pauses, so that consumers drain the queue and really park. */
		if (weft_test_rand(&rng) % 64 == 0)
			sleep_us(20);
		weft_test_maybe_yield(&rng, 16);
	}
	return NULL;
}

static void *pw_consumer(void *arg)
{
	pw_thread *t = arg;
	for (;;) {
		void *it;
		CHECK_EQ(weft_queue_pop_wait(t->run->q, &it, NULL), 0);
		if (it == PILL)
			return NULL;
		atomic_fetch_add_explicit(&t->run->received, 1, memory_order_relaxed);
	}
}

WEFT_STRESS(pop_wait_no_lost_wakeup)
{
	for (size_t i = 0; i < NKINDS; i++) {
		const kind_info *k = &kinds[i];
		pw_run run = { .q = make(k, 64) };
		run.P = k->max_p ? k->max_p : k->peer_spin ? 2 : 4;
		run.C = k->max_c ? k->max_c : 4;
		run.per_producer = weft_test_scale(50000) / run.P + 1;
		pthread_t th[8];
		pw_thread args[8];
		for (unsigned c = 0; c < run.C; c++) {
			args[c] = (pw_thread){ &run, c };
			pthread_create(&th[c], NULL, pw_consumer, &args[c]);
		}
		for (unsigned p = 0; p < run.P; p++) {
			args[run.C + p] = (pw_thread){ &run, p };
			pthread_create(&th[run.C + p], NULL, pw_producer, &args[run.C + p]);
		}
		for (unsigned p = 0; p < run.P; p++)
			pthread_join(th[run.C + p], NULL);
		/* Pills only once every item is received: a kind that is not FIFO (sharded)
		 * may hand a pill out before items pushed earlier. A lost wake-up leaves items
		 * queued with every consumer asleep, and this wait hangs until ctest's timeout. */
		while (atomic_load_explicit(&run.received, memory_order_relaxed) <
		       run.P * run.per_producer)
			sleep_us(100);
		for (unsigned c = 0; c < run.C; c++) /* producers joined: main may push (spsc) */
			push_retry(run.q, PILL);
		for (unsigned c = 0; c < run.C; c++)
			pthread_join(th[c], NULL);
		CHECK_EQ(atomic_load(&run.received), run.P * run.per_producer);
		void *it;
		CHECK_EQ(weft_queue_pop(run.q, &it), EAGAIN);
		weft_queue_destroy(run.q);
		printf("%s: %u producers, %u consumers in pop_wait: %llu items, no wake-up lost\n",
		       k->name, run.P, run.C, (unsigned long long)(run.P * run.per_producer));
	}
}

/* ----------------------------------------------------------- P x C stress per kind */

typedef struct mx_run {
	weft_queue *q;
	const kind_info *kind;
	unsigned P, C;
	uint64_t per_producer;
	_Atomic uint8_t *seen; /* [P * per_producer]: times each item was received */
	_Atomic unsigned producers_done;
	_Atomic uint64_t received;
} mx_run;

typedef struct mx_thread {
	mx_run *run;
	unsigned id;
} mx_thread;

static void *mx_producer(void *arg)
{
	mx_thread *t = arg;
	mx_run *run = t->run;
	uint64_t rng = (uint64_t)t->id * 0x9E3779B97F4A7C15ull + 1;
	for (uint64_t s = 0; s < run->per_producer; s++) {
		push_retry(run->q, ITEM(t->id, s));
		weft_test_maybe_yield(&rng, 512);
	}
	/* Release: pairs with the consumers' acquire; all our pushes are complete before. */
	atomic_fetch_add_explicit(&run->producers_done, 1, memory_order_release);
	return NULL;
}

static void *mx_consumer(void *arg)
{
	mx_thread *t = arg;
	mx_run *run = t->run;
	uint64_t rng = (uint64_t)t->id * 0xBF58476D1CE4E5B9ull + 7;
	int64_t last[16]; /* per producer: the last seq this consumer received */
	for (unsigned p = 0; p < run->P; p++)
		last[p] = -1;
	uint64_t got = 0;
	unsigned spins = 0;
	for (;;) {
		/* Acquire: pairs with the producers' release; if all were done before our pop
		 * and it found nothing, nothing is left. */
		bool done = atomic_load_explicit(&run->producers_done, memory_order_acquire) ==
			    run->P;
		void *it;
		int err = weft_queue_pop(run->q, &it);
		if (err == EAGAIN) {
			if (done)
				break;
			backoff(&spins);
			continue;
		}
		CHECK_EQ(err, 0);
		unsigned p = ITEM_P(it);
		uint64_t s = ITEM_SEQ(it);
		CHECK(p < run->P);
		CHECK(s < run->per_producer);
		if (run->kind->fifo) {
			if ((int64_t)s <= last[p]) {
				char d[96];
				snprintf(d, sizeof d, "producer %u: seq %llu after %lld", p,
					 (unsigned long long)s, (long long)last[p]);
				weft_test_fail(__FILE__, __LINE__, "per-producer FIFO", d);
			}
			last[p] = (int64_t)s;
		}
		uint8_t before = atomic_exchange_explicit(&run->seen[p * run->per_producer + s], 1,
							  memory_order_relaxed);
		if (before != 0)
			weft_test_fail(__FILE__, __LINE__, "exactly once", "item received twice");
		got++;
		weft_test_maybe_yield(&rng, 512);
	}
	atomic_fetch_add_explicit(&run->received, got, memory_order_relaxed);
	return NULL;
}

static void matrix_one(const kind_info *k, unsigned P, unsigned C, uint64_t items)
{
	mx_run run = { .kind = k, .P = P, .C = C };
	run.q = make(k, 1024);
	uint64_t t0 = weft_now_ns();
	run.per_producer = items / P;
	size_t n = (size_t)P * run.per_producer;
	run.seen = calloc(n, 1);
	CHECK(run.seen != NULL);
	mx_thread args[32];
	pthread_t th[32];
	for (unsigned i = 0; i < P + C; i++) {
		args[i] = (mx_thread){ &run, i < P ? i : i - P };
		pthread_create(&th[i], NULL, i < P ? mx_producer : mx_consumer, &args[i]);
	}
	for (unsigned i = 0; i < P + C; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(atomic_load(&run.received), n);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(atomic_load_explicit(&run.seen[i], memory_order_relaxed), 1);
	void *it;
	CHECK_EQ(weft_queue_pop(run.q, &it), EAGAIN);
	weft_queue_destroy(run.q);
	free((void *)run.seen);
	printf("  %s %ux%u: %zu items in %.3f s\n", k->name, P, C, n,
	       (double)(weft_now_ns() - t0) / 1e9);
}

static void stress_kind(const char *name)
{
	const kind_info *k = kind_by_name(name);
	static const unsigned sides[] = { 1, 2, 4 };
	uint64_t items = weft_test_scale(1000000);
	unsigned configs = 0;
	for (unsigned a = 0; a < 3; a++) {
		for (unsigned b = 0; b < 3; b++) {
			unsigned P = sides[a], C = sides[b];
			if ((k->max_p && P > k->max_p) || (k->max_c && C > k->max_c) ||
			    (k->peer_spin && P > 2))
				continue;
			matrix_one(k, P, C, items);
			configs++;
		}
	}
	/* Oversubscribed: 16 x 16 (or as many as the kind allows) on 2 cores. */
	unsigned P = k->max_p ? k->max_p : k->peer_spin ? 2 : 16;
	unsigned C = k->max_c ? k->max_c : 16;
	matrix_one(k, P, C, items);
	configs++;
	printf("%s: %u configurations up to %ux%u, %llu items each: exactly once%s\n", name,
	       configs, P, C, (unsigned long long)items,
	       k->fifo ? ", per-producer FIFO" : " (no FIFO promised)");
}

WEFT_STRESS(stress_mutex) { stress_kind("mutex"); }
WEFT_STRESS(stress_mpmc) { stress_kind("mpmc"); }
WEFT_STRESS(stress_spsc) { stress_kind("spsc"); }
WEFT_STRESS(stress_mpsc) { stress_kind("mpsc"); }
WEFT_STRESS(stress_sharded) { stress_kind("sharded"); }
WEFT_STRESS(stress_ck_ring) { stress_kind("ck_ring"); }
WEFT_STRESS(stress_urcu_wfcq) { stress_kind("urcu_wfcq"); }
