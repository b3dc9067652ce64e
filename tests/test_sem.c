/* The counting semaphore: tokens are conserved, posts are never lost (not even to a
 * waiter that gives up), waits end with the context's error. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <weft/ctx.h>
#include <weft/sem.h>

#include "ctx_cases.h"
#include "weft_test.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

WEFT_TEST(basics)
{
	weft_sem s = WEFT_SEM_INIT(2);
	CHECK_EQ(weft_sem_value(&s), 2);
	CHECK_EQ(weft_sem_trywait(&s), 0);
	CHECK_EQ(weft_sem_wait(&s, NULL), 0);
	CHECK_EQ(weft_sem_trywait(&s), EAGAIN);
	CHECK_EQ(weft_sem_post(&s), 0);
	CHECK_EQ(weft_sem_value(&s), 1);
	CHECK_EQ(weft_sem_init(&s, WEFT_SEM_VALUE_MAX), 0);
	CHECK_EQ(weft_sem_post(&s), EOVERFLOW);
	CHECK_EQ(weft_sem_value(&s), WEFT_SEM_VALUE_MAX);
	CHECK_EQ(weft_sem_init(&s, WEFT_SEM_VALUE_MAX + 1), EINVAL);
	CHECK_EQ(weft_sem_init(NULL, 0), EINVAL);
	CHECK_EQ(weft_sem_wait(NULL, NULL), EINVAL);
	CHECK_EQ(weft_sem_trywait(NULL), EINVAL);
	CHECK_EQ(weft_sem_post(NULL), EINVAL);
	CHECK_EQ(weft_sem_value(NULL), 0);
}

static int sem_wait_on(void *s, weft_ctx *c)
{
	return weft_sem_wait(s, c);
}

WEFT_TEST(ctx_errors)
{
	weft_sem s = WEFT_SEM_INIT(0);
	check_wait_ctx_errors("sem wait", sem_wait_on, &s);
	/* A token available wins over a done context (the wait does not block). */
	weft_ctx *c;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &c), 0);
	weft_ctx_cancel(c);
	CHECK_EQ(weft_sem_post(&s), 0);
	CHECK_EQ(weft_sem_wait(&s, c), 0);
	weft_ctx_release(c);
}

/* Producers post, consumers wait: every token taken exactly once (none lost, none made). */
struct pc {
	weft_sem sem;
	uint64_t per_producer;
	_Atomic uint64_t taken;
	_Atomic int done_producers;
};

static void *producer(void *arg)
{
	struct pc *p = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t i = 0; i < p->per_producer; i++) {
		CHECK_EQ(weft_sem_post(&p->sem), 0);
		weft_test_maybe_yield(&rng, 8);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pc *p = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t i = 0; i < p->per_producer; i++) {
		CHECK_EQ(weft_sem_wait(&p->sem, NULL), 0);
		atomic_fetch_add_explicit(&p->taken, 1, memory_order_relaxed);
		weft_test_maybe_yield(&rng, 8);
	}
	return NULL;
}

WEFT_STRESS(producers_consumers)
{
	struct pc p = { .per_producer = weft_test_scale(50000) };
	CHECK_EQ(weft_sem_init(&p.sem, 0), 0);
	pthread_t t[16];
	for (int i = 0; i < 8; i++) {
		pthread_create(&t[i], NULL, consumer, &p);
		pthread_create(&t[8 + i], NULL, producer, &p);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(atomic_load(&p.taken), 8 * p.per_producer);
	CHECK_EQ(weft_sem_value(&p.sem), 0);
	printf("8 producers, 8 consumers: %llu tokens, each taken once\n",
	       (unsigned long long)(8 * p.per_producer));
}

/*
 * Waiters that give up must not swallow a post. Each round: W waiters block, some under a
 * context that is cancelled while P posts race the cancel. Afterwards the tokens taken by
 * waiters that returned 0 plus the value left must equal P: nothing vanished.
 */
struct giveup {
	weft_sem *sem;
	weft_ctx *ctx;
	int result;
};

static void *giveup_waiter(void *arg)
{
	struct giveup *g = arg;
	g->result = weft_sem_wait(g->sem, g->ctx);
	return NULL;
}

static void *canceller(void *arg)
{
	weft_ctx_cancel(arg);
	return NULL;
}

WEFT_STRESS(giving_up_does_not_swallow_posts)
{
	uint64_t rounds = weft_test_scale(2000);
	uint64_t rng = 42, cancelled = 0, got = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		weft_sem sem = WEFT_SEM_INIT(0);
		weft_ctx *ctx;
		CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
		enum { W = 4 };
		struct giveup g[W];
		pthread_t t[W], c;
		for (int i = 0; i < W; i++) {
			g[i] = (struct giveup){ &sem, (i & 1) ? ctx : NULL, -1 };
			pthread_create(&t[i], NULL, giveup_waiter, &g[i]);
		}
		if (weft_test_rand(&rng) % 2)
			sleep_ms(0);
		unsigned posts = 1 + (unsigned)(weft_test_rand(&rng) % 2);
		pthread_create(&c, NULL, canceller, ctx);
		for (unsigned p = 0; p < posts; p++)
			CHECK_EQ(weft_sem_post(&sem), 0);
		pthread_join(c, NULL);
		/* Enough for the background waiters (even i), even if cancelled waiters that
		 * had not looked at their context yet take some. */
		unsigned extra = W;
		for (unsigned p = 0; p < extra; p++)
			CHECK_EQ(weft_sem_post(&sem), 0);
		unsigned taken = 0;
		for (int i = 0; i < W; i++) {
			pthread_join(t[i], NULL);
			if (g[i].result == 0)
				taken++;
			else {
				CHECK_EQ(g[i].result, ECANCELED);
				cancelled++;
			}
		}
		CHECK_EQ(taken + weft_sem_value(&sem), posts + extra);
		got += taken;
		weft_ctx_release(ctx);
	}
	printf("%llu rounds: %llu waits cancelled, %llu tokens taken, none lost\n",
	       (unsigned long long)rounds, (unsigned long long)cancelled, (unsigned long long)got);
}

/*
 * A cancelled waiter leaves the queue without taking a wake-up meant for others: after it
 * has gone, one post must wake the remaining waiter.
 */
WEFT_TEST(post_after_cancel_reaches_remaining_waiter)
{
	for (int r = 0; r < 20; r++) {
		weft_sem sem = WEFT_SEM_INIT(0);
		weft_ctx *ctx;
		CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
		struct giveup a = { &sem, ctx, -1 }, b = { &sem, NULL, -1 };
		pthread_t ta, tb;
		pthread_create(&ta, NULL, giveup_waiter, &a);
		pthread_create(&tb, NULL, giveup_waiter, &b);
		sleep_ms(1);
		weft_ctx_cancel(ctx);
		pthread_join(ta, NULL);
		CHECK_EQ(a.result, ECANCELED);
		CHECK_EQ(weft_sem_post(&sem), 0);
		pthread_join(tb, NULL);
		CHECK_EQ(b.result, 0);
		CHECK_EQ(weft_sem_value(&sem), 0);
		weft_ctx_release(ctx);
	}
}
