/* The parking lot and the futex parker: wake-ups are neither lost nor invented. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <weft/ctx.h>
#include <weft/waiter.h>

#include "weft_test.h"

WEFT_TEST(value_mismatch_returns_at_once)
{
	_Atomic uint32_t word = 1;
	CHECK_EQ(weft_park(&word, 0, WEFT_NO_DEADLINE, NULL), 0);
	CHECK_EQ(weft_park(NULL, 0, WEFT_NO_DEADLINE, NULL), EINVAL);
}

WEFT_TEST(deadline_not_early)
{
	_Atomic uint32_t word = 0;
	uint64_t t0 = weft_now_ns();
	uint64_t deadline = t0 + 20 * 1000 * 1000;
	CHECK_EQ(weft_park(&word, 0, deadline, NULL), ETIMEDOUT);
	uint64_t t1 = weft_now_ns();
	CHECK(t1 >= deadline);
	printf("park deadline lateness: %.3f ms\n", (double)(t1 - deadline) / 1e6);
	CHECK_EQ(weft_unpark(&word, 1), 0); /* the timed-out waiter left the queue */
}

struct flag_wait {
	_Atomic uint32_t word;
	_Atomic int woken;
	_Atomic int errors; /* parks that returned non-zero */
	weft_ctx *ctx;
	int result; /* written by a single waiter only */
};

static void *waiter_main(void *arg)
{
	struct flag_wait *f = arg;
	int r = 0;
	while (atomic_load_explicit(&f->word, memory_order_acquire) == 0) {
		r = weft_park(&f->word, 0, WEFT_NO_DEADLINE, f->ctx);
		if (r != 0)
			break;
	}
	if (r != 0)
		atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
	if (f->ctx != NULL)
		f->result = r;
	atomic_fetch_add_explicit(&f->woken, 1, memory_order_release);
	return NULL;
}

static void *setter_main(void *arg)
{
	struct flag_wait *f = arg;
	atomic_store_explicit(&f->word, 1, memory_order_release);
	weft_unpark(&f->word, INT32_MAX);
	return NULL;
}

/* Many rounds of set-and-wake racing park: a lost wake-up hangs (ctest's timeout fails it). */
WEFT_STRESS(no_lost_wakeup)
{
	uint64_t rounds = weft_test_scale(20000);
	for (uint64_t i = 0; i < rounds; i++) {
		struct flag_wait f = { 0 };
		void *args[3] = { &f, &f, &f };
		pthread_t a, b, c;
		pthread_create(&a, NULL, waiter_main, args[0]);
		pthread_create(&b, NULL, waiter_main, args[1]);
		pthread_create(&c, NULL, setter_main, args[2]);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		pthread_join(c, NULL);
		CHECK_EQ(atomic_load(&f.woken), 2);
		CHECK_EQ(atomic_load(&f.errors), 0);
	}
	printf("%llu rounds of 2 parkers racing 1 waker, all woken\n", (unsigned long long)rounds);
}

WEFT_TEST(cancel_wakes_parked_thread)
{
	struct flag_wait f = { 0 };
	CHECK_EQ(weft_ctx_with_cancel(NULL, &f.ctx), 0);
	pthread_t t;
	pthread_create(&t, NULL, waiter_main, &f);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	CHECK_EQ(atomic_load(&f.woken), 0);
	weft_ctx_cancel(f.ctx);
	pthread_join(t, NULL);
	CHECK_EQ(f.result, ECANCELED);
	CHECK_EQ(weft_unpark(&f.word, INT32_MAX), 0);
	weft_ctx_release(f.ctx);
}

WEFT_TEST(ctx_deadline_ends_park)
{
	struct flag_wait f = { 0 };
	uint64_t deadline = weft_now_ns() + 15 * 1000 * 1000;
	CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &f.ctx), 0);
	waiter_main(&f);
	CHECK_EQ(f.result, ETIMEDOUT);
	CHECK(weft_now_ns() >= deadline);
	weft_ctx_release(f.ctx);
}
