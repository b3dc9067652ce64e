/*
 * Test cases shared by test_rwlock.c and test_brwlock.c: each RW lock is driven through a
 * small table of its operations, so the same witness, starvation, try-lock and cancellation
 * checks run against both.
 */
#ifndef WEFT_TEST_RW_CASES_H
#define WEFT_TEST_RW_CASES_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include <weft/ctx.h>

#include "weft_test.h"

struct rw_ops {
	void *lock;
	int (*rdlock)(void *l, weft_ctx *ctx);
	int (*rdunlock)(void *l);
	int (*wrlock)(void *l, weft_ctx *ctx);
	int (*wrunlock)(void *l);
	int (*tryrdlock)(void *l);
	int (*trywrlock)(void *l);
	/* White-box probes: a writer is waiting (or draining); readers are parked. */
	bool (*writer_waiting)(void *l);
	bool (*readers_parked)(void *l);
};

static void rw_sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Poll probe until it is true (a broken lock fails by ctest's timeout, not by a clock). */
static void rw_await(bool (*probe)(void *), void *l)
{
	while (!probe(l))
		rw_sleep_ms(1);
}

/* ---- witness stress: never a writer with readers, never two writers ---- */

struct rw_witness {
	const struct rw_ops *ops;
	_Atomic int readers_in;
	_Atomic int writer_in;
	uint64_t a, b;   /* written by writers only, under the lock; readers check a == b */
	uint64_t writes; /* under the write lock: exact count */
	_Atomic uint64_t writes_done; /* counted outside, to compare */
	_Atomic uint64_t reads_done;
	uint64_t iters;
	unsigned write_one_in;
	unsigned timeout_one_in; /* 0: never; else this share of blocking calls get a short
				  * deadline, so give-ups race wake-ups */
	_Atomic uint64_t timeouts;
};

struct rw_worker {
	struct rw_witness *w;
	uint64_t seed;
};

static void rw_read_section(struct rw_witness *w, uint64_t *rng)
{
	atomic_fetch_add_explicit(&w->readers_in, 1, memory_order_relaxed);
	CHECK_EQ(atomic_load_explicit(&w->writer_in, memory_order_relaxed), 0);
	uint64_t a = w->a;
	weft_test_maybe_yield(rng, 64);
	uint64_t b = w->b;
	CHECK_EQ(a, b);
	CHECK_EQ(atomic_load_explicit(&w->writer_in, memory_order_relaxed), 0);
	atomic_fetch_sub_explicit(&w->readers_in, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->reads_done, 1, memory_order_relaxed);
}

static void rw_write_section(struct rw_witness *w, uint64_t *rng)
{
	CHECK_EQ(atomic_exchange_explicit(&w->writer_in, 1, memory_order_relaxed), 0);
	CHECK_EQ(atomic_load_explicit(&w->readers_in, memory_order_relaxed), 0);
	w->a++;
	weft_test_maybe_yield(rng, 16);
	w->b++;
	w->writes++;
	CHECK_EQ(atomic_load_explicit(&w->readers_in, memory_order_relaxed), 0);
	atomic_store_explicit(&w->writer_in, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->writes_done, 1, memory_order_relaxed);
}

static void *rw_witness_main(void *arg)
{
	struct rw_worker *me = arg;
	struct rw_witness *w = me->w;
	const struct rw_ops *o = w->ops;
	uint64_t rng = me->seed;
	for (uint64_t i = 0; i < w->iters; i++) {
		uint64_t x = weft_test_rand(&rng);
		bool write = x % w->write_one_in == 0;
		bool try = (x >> 20) % 8 == 0;
		weft_ctx *ctx = NULL;
		if (!try && w->timeout_one_in != 0 && (x >> 30) % w->timeout_one_in == 0)
			CHECK_EQ(weft_ctx_with_timeout(NULL, (x >> 40) % 200000, &ctx), 0);
		if (write) {
			if (try) {
				if (o->trywrlock(o->lock) != 0)
					continue;
			} else {
				int r = o->wrlock(o->lock, ctx);
				weft_ctx_release(ctx);
				if (r == ETIMEDOUT) {
					atomic_fetch_add_explicit(&w->timeouts, 1, memory_order_relaxed);
					continue;
				}
				CHECK_EQ(r, 0);
			}
			rw_write_section(w, &rng);
			CHECK_EQ(o->wrunlock(o->lock), 0);
		} else {
			if (try) {
				if (o->tryrdlock(o->lock) != 0)
					continue;
			} else {
				int r = o->rdlock(o->lock, ctx);
				weft_ctx_release(ctx);
				if (r == ETIMEDOUT) {
					atomic_fetch_add_explicit(&w->timeouts, 1, memory_order_relaxed);
					continue;
				}
				CHECK_EQ(r, 0);
			}
			rw_read_section(w, &rng);
			CHECK_EQ(o->rdunlock(o->lock), 0);
		}
		weft_test_maybe_yield(&rng, 32);
	}
	return NULL;
}

static void rw_case_witness(const struct rw_ops *ops, unsigned threads, uint64_t iters,
			    unsigned write_one_in, unsigned timeout_one_in)
{
	struct rw_witness w = { .ops = ops, .iters = iters, .write_one_in = write_one_in,
				.timeout_one_in = timeout_one_in };
	struct rw_worker workers[64];
	void *args[64];
	for (unsigned t = 0; t < threads; t++) {
		workers[t] = (struct rw_worker){ &w, 0x1234567ull * (t + 1) };
		args[t] = &workers[t];
	}
	weft_test_run_threads(threads, rw_witness_main, args);
	CHECK_EQ(w.a, w.writes);
	CHECK_EQ(w.b, w.writes);
	CHECK_EQ(w.writes, atomic_load(&w.writes_done));
	printf("%u threads: %llu reads, %llu writes, %llu timed out; the witness never saw a "
	       "writer with readers or two writers\n",
	       threads, (unsigned long long)atomic_load(&w.reads_done),
	       (unsigned long long)w.writes, (unsigned long long)atomic_load(&w.timeouts));
}

/* ---- writer starvation: readers keep the lock read-held by overlapping ---- */

struct rw_starve {
	const struct rw_ops *ops;
	_Atomic int readers_in;
	_Atomic uint64_t reads;
	_Atomic bool writer_done;
	uint64_t cap; /* reads after which the readers give up: the writer starved */
};

static void *rw_starve_reader(void *arg)
{
	struct rw_starve *s = arg;
	const struct rw_ops *o = s->ops;
	while (!atomic_load_explicit(&s->writer_done, memory_order_acquire) &&
	       atomic_load_explicit(&s->reads, memory_order_relaxed) < s->cap) {
		CHECK_EQ(o->rdlock(o->lock, NULL), 0);
		atomic_fetch_add_explicit(&s->readers_in, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->reads, 1, memory_order_relaxed);
		/* Hand over: keep holding until another reader is in as well, so the lock is
		 * read-held without a gap; give up after a while only in case new readers are
		 * held back (which is exactly what writer preference does). */
		for (int k = 0; k < 200 && atomic_load_explicit(&s->readers_in,
								 memory_order_relaxed) < 2; k++)
			sched_yield();
		atomic_fetch_sub_explicit(&s->readers_in, 1, memory_order_relaxed);
		CHECK_EQ(o->rdunlock(o->lock), 0);
	}
	return NULL;
}

static void rw_case_writer_not_starved(const struct rw_ops *o, unsigned readers)
{
	struct rw_starve s = { .ops = o, .cap = 2 * 1000 * 1000 };
	pthread_t th[16];
	for (unsigned i = 0; i < readers; i++)
		pthread_create(&th[i], NULL, rw_starve_reader, &s);
	while (atomic_load(&s.reads) < 2000)
		sched_yield();
	uint64_t before = atomic_load(&s.reads);
	CHECK_EQ(o->wrlock(o->lock, NULL), 0);
	uint64_t during = atomic_load(&s.reads) - before;
	bool starved = atomic_load(&s.reads) >= s.cap;
	atomic_store_explicit(&s.writer_done, true, memory_order_release);
	CHECK_EQ(atomic_load(&s.readers_in), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);
	for (unsigned i = 0; i < readers; i++)
		pthread_join(th[i], NULL);
	CHECK(!starved);
	printf("writer got in under %u overlapping readers after %llu more read locks\n",
	       readers, (unsigned long long)during);
}

/* ---- cancellation and deadlines ---- */

struct rw_call {
	const struct rw_ops *ops;
	weft_ctx *ctx;
	bool write;
	bool unlock_after; /* release at once if acquired */
	_Atomic int result;  /* -1 while running */
	_Atomic bool done;
};

static void *rw_call_main(void *arg)
{
	struct rw_call *c = arg;
	const struct rw_ops *o = c->ops;
	int r = c->write ? o->wrlock(o->lock, c->ctx) : o->rdlock(o->lock, c->ctx);
	atomic_store(&c->result, r);
	atomic_store(&c->done, true);
	if (r == 0 && c->unlock_after)
		CHECK_EQ(c->write ? o->wrunlock(o->lock) : o->rdunlock(o->lock), 0);
	return NULL;
}

static void rw_call_start(struct rw_call *c, pthread_t *t, const struct rw_ops *o, weft_ctx *ctx,
			  bool write)
{
	c->ops = o;
	c->ctx = ctx;
	c->write = write;
	c->unlock_after = true;
	atomic_init(&c->result, -1);
	atomic_init(&c->done, false);
	pthread_create(t, NULL, rw_call_main, c);
}

/* A reader blocked behind a writer: cancel ends it, a second reader is unaffected. */
static void rw_case_cancel_rdlock(const struct rw_ops *o)
{
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	CHECK_EQ(o->wrlock(o->lock, NULL), 0);
	struct rw_call r1, r2;
	pthread_t t1, t2;
	rw_call_start(&r1, &t1, o, ctx, false);
	rw_call_start(&r2, &t2, o, NULL, false);
	rw_await(o->readers_parked, o->lock);
	rw_sleep_ms(20);
	CHECK(!atomic_load(&r1.done));
	CHECK(!atomic_load(&r2.done));
	weft_ctx_cancel(ctx);
	pthread_join(t1, NULL);
	CHECK_EQ(atomic_load(&r1.result), ECANCELED);
	rw_sleep_ms(10);
	CHECK(!atomic_load(&r2.done)); /* the other reader still waits for the writer */
	CHECK_EQ(o->wrunlock(o->lock), 0);
	pthread_join(t2, NULL);
	CHECK_EQ(atomic_load(&r2.result), 0);
	weft_ctx_release(ctx);
	/* The lock is whole again. */
	CHECK_EQ(o->trywrlock(o->lock), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);
}

/*
 * A writer waiting for a reader holds new readers back; cancelling it must let them in
 * (while the first reader still holds its lock), and must not lose another waiting writer.
 */
static void rw_case_cancel_wrlock(const struct rw_ops *o)
{
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	CHECK_EQ(o->rdlock(o->lock, NULL), 0);
	struct rw_call w1, r1;
	pthread_t tw1, tr1;
	rw_call_start(&w1, &tw1, o, ctx, true);
	rw_await(o->writer_waiting, o->lock);
	rw_call_start(&r1, &tr1, o, NULL, false);
	rw_await(o->readers_parked, o->lock);
	CHECK(!atomic_load(&r1.done)); /* writer preference: held back */
	weft_ctx_cancel(ctx);
	pthread_join(tw1, NULL);
	CHECK_EQ(atomic_load(&w1.result), ECANCELED);
	pthread_join(tr1, NULL); /* let in although the main thread still reads */
	CHECK_EQ(atomic_load(&r1.result), 0);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	weft_ctx_release(ctx);
	CHECK_EQ(o->trywrlock(o->lock), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);
}

/* Two writers wait behind a reader; one is cancelled; the other still gets in. */
static void rw_case_cancel_one_of_two_writers(const struct rw_ops *o)
{
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	CHECK_EQ(o->rdlock(o->lock, NULL), 0);
	struct rw_call w1, w2, r1;
	pthread_t tw1, tw2, tr1;
	rw_call_start(&w1, &tw1, o, ctx, true);
	rw_await(o->writer_waiting, o->lock);
	rw_call_start(&w2, &tw2, o, NULL, true);
	rw_call_start(&r1, &tr1, o, NULL, false);
	rw_await(o->readers_parked, o->lock);
	rw_sleep_ms(20); /* let w2 park too */
	weft_ctx_cancel(ctx);
	pthread_join(tw1, NULL);
	CHECK_EQ(atomic_load(&w1.result), ECANCELED);
	rw_sleep_ms(10);
	CHECK(!atomic_load(&w2.done)); /* still behind the main thread's read lock */
	CHECK_EQ(o->rdunlock(o->lock), 0);
	pthread_join(tw2, NULL);
	pthread_join(tr1, NULL);
	CHECK_EQ(atomic_load(&w2.result), 0);
	CHECK_EQ(atomic_load(&r1.result), 0);
	weft_ctx_release(ctx);
	CHECK_EQ(o->trywrlock(o->lock), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);
}

/* Deadlines: a blocked wrlock and a blocked rdlock end with ETIMEDOUT, not early. */
static void rw_case_deadline(const struct rw_ops *o)
{
	uint64_t timeout = 20 * 1000 * 1000;
	weft_ctx *ctx;
	/* wrlock against a reader */
	CHECK_EQ(o->rdlock(o->lock, NULL), 0);
	uint64_t deadline = weft_now_ns() + timeout;
	CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &ctx), 0);
	CHECK_EQ(o->wrlock(o->lock, ctx), ETIMEDOUT);
	uint64_t late = weft_now_ns() - deadline;
	CHECK(weft_now_ns() >= deadline);
	weft_ctx_release(ctx);
	/* the timed-out writer held nobody back */
	CHECK_EQ(o->tryrdlock(o->lock), 0);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	/* rdlock against a writer, from another thread (the main thread holds it) */
	CHECK_EQ(o->wrlock(o->lock, NULL), 0);
	deadline = weft_now_ns() + timeout;
	CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &ctx), 0);
	struct rw_call r1;
	pthread_t t;
	rw_call_start(&r1, &t, o, ctx, false);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&r1.result), ETIMEDOUT);
	CHECK(weft_now_ns() >= deadline);
	weft_ctx_release(ctx);
	CHECK_EQ(o->wrunlock(o->lock), 0);
	/* a done ctx does not stop a free lock from being taken */
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	weft_ctx_cancel(ctx);
	CHECK_EQ(o->rdlock(o->lock, ctx), 0);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	CHECK_EQ(o->wrlock(o->lock, ctx), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);
	weft_ctx_release(ctx);
	printf("wrlock deadline lateness: %.3f ms\n", (double)late / 1e6);
}

struct rw_try {
	const struct rw_ops *ops;
	int rd, wr;
};

static void *rw_try_main(void *arg)
{
	struct rw_try *t = arg;
	t->rd = t->ops->tryrdlock(t->ops->lock);
	if (t->rd == 0)
		t->ops->rdunlock(t->ops->lock);
	t->wr = t->ops->trywrlock(t->ops->lock);
	if (t->wr == 0)
		t->ops->wrunlock(t->ops->lock);
	return NULL;
}

/* Try-locks: shared with readers, exclusive with a writer, refused behind a waiting writer. */
static void rw_case_trylock(const struct rw_ops *o)
{
	CHECK_EQ(o->tryrdlock(o->lock), 0);
	CHECK_EQ(o->tryrdlock(o->lock), 0);
	CHECK_EQ(o->trywrlock(o->lock), EBUSY);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	CHECK_EQ(o->trywrlock(o->lock), EBUSY);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	CHECK_EQ(o->trywrlock(o->lock), 0);
	CHECK_EQ(o->trywrlock(o->lock), EBUSY);
	CHECK_EQ(o->tryrdlock(o->lock), EBUSY);
	CHECK_EQ(o->wrunlock(o->lock), 0);
	CHECK_EQ(o->trywrlock(o->lock), 0);
	CHECK_EQ(o->wrunlock(o->lock), 0);

	/* Read-held, a writer waits: a try-read from another thread is refused. */
	CHECK_EQ(o->rdlock(o->lock, NULL), 0);
	struct rw_call w1;
	pthread_t tw;
	rw_call_start(&w1, &tw, o, NULL, true);
	rw_await(o->writer_waiting, o->lock);
	CHECK_EQ(o->trywrlock(o->lock), EBUSY);
	struct rw_try probe = { .ops = o };
	pthread_t tp;
	pthread_create(&tp, NULL, rw_try_main, &probe);
	pthread_join(tp, NULL);
	CHECK_EQ(probe.rd, EBUSY);
	CHECK_EQ(probe.wr, EBUSY);
	CHECK_EQ(o->rdunlock(o->lock), 0);
	pthread_join(tw, NULL);
	CHECK_EQ(atomic_load(&w1.result), 0);
}

#endif
