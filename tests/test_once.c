/* weft_once: fn runs exactly once; every caller returns after it finished and sees its
 * writes. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/once.h>

#include "weft_test.h"

struct once_case {
	weft_once once;
	_Atomic int runs;
	int value; /* plain: written by fn, read by every caller after weft_once_run */
	_Atomic int bad;
};

static void init_fn(void *arg)
{
	struct once_case *c = arg;
	atomic_fetch_add_explicit(&c->runs, 1, memory_order_relaxed);
	for (int i = 0; i < 3; i++)
		sched_yield(); /* let latecomers arrive and park */
	c->value = 42;
}

static void *caller(void *arg)
{
	struct once_case *c = arg;
	CHECK_EQ(weft_once_run(&c->once, init_fn, c), 0);
	if (c->value != 42)
		atomic_fetch_add_explicit(&c->bad, 1, memory_order_relaxed);
	return NULL;
}

WEFT_TEST(bad_input)
{
	weft_once o = WEFT_ONCE_INIT;
	CHECK_EQ(weft_once_run(NULL, init_fn, NULL), EINVAL);
	CHECK_EQ(weft_once_run(&o, NULL, NULL), EINVAL);
}

WEFT_TEST(sequential)
{
	struct once_case c = { .once = WEFT_ONCE_INIT };
	for (int i = 0; i < 3; i++)
		caller(&c);
	CHECK_EQ(atomic_load(&c.runs), 1);
}

WEFT_STRESS(exactly_once_concurrent)
{
	uint64_t rounds = weft_test_scale(1000);
	for (uint64_t r = 0; r < rounds; r++) {
		struct once_case c = { .once = WEFT_ONCE_INIT };
		void *args[12];
		for (int i = 0; i < 12; i++)
			args[i] = &c;
		weft_test_run_threads(12, caller, args);
		CHECK_EQ(atomic_load(&c.runs), 1);
		CHECK_EQ(atomic_load(&c.bad), 0);
	}
	printf("%llu rounds of 12 racing callers: fn ran once each, all saw its write\n",
	       (unsigned long long)rounds);
}
