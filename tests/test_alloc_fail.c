/*
 * Allocation failure: fail the Nth allocation, for every N, on the context-tree and
 * counter paths. Each call that allocates returns ENOMEM and has no side effect; the
 * scenario then unwinds what it built, and nothing is left allocated (counted through
 * the hook here, and by ASan's leak checker at exit).
 */
#include <errno.h>
#include <stdlib.h>

#include <weft/alloc.h>
#include <weft/counter.h>
#include <weft/ctx.h>

#include "alloc_cases.h"
#include "weft_test.h"

enum { NODES = 24 };

/*
 * Build a small tree (every kind of node, parents of several children, a deep branch)
 * and two sharded counters; on ENOMEM, check it came from the failing allocation and
 * unwind. Returns true when the whole scenario ran without a failure.
 */
static bool scenario(void)
{
	weft_ctx *nodes[NODES] = { 0 };
	weft_shard_counter *sc[2] = { 0 };
	int n = 0, err = 0;
	for (; n < NODES; n++) {
		weft_ctx *parent = n == 0 ? NULL : nodes[(n - 1) / 3];
		if (n % 3 == 0)
			err = weft_ctx_with_cancel(parent, &nodes[n]);
		else if (n % 3 == 1)
			err = weft_ctx_with_deadline(parent, weft_now_ns() + WEFT_NS_PER_SEC, &nodes[n]);
		else
			err = weft_ctx_with_timeout(parent, WEFT_NS_PER_SEC, &nodes[n]);
		if (err != 0)
			break;
	}
	for (int i = 0; err == 0 && i < 2; i++) {
		err = weft_shard_counter_create(&sc[i]);
		if (err == 0)
			weft_shard_counter_add(sc[i], 5);
	}
	if (err != 0) {
		CHECK_EQ(err, ENOMEM);
		CHECK(test_alloc_failed());
	} else {
		CHECK(!test_alloc_failed());
		CHECK_EQ(weft_shard_counter_read(sc[1]), 5);
	}
	/* Unwind: parents released first, then the rest; cancel on the way for good measure. */
	if (n > 0)
		weft_ctx_cancel(nodes[0]);
	for (int i = 0; i < n; i++)
		weft_ctx_release(nodes[i]);
	for (int i = 0; i < 2; i++)
		weft_shard_counter_destroy(sc[i]);
	return err == 0;
}

WEFT_TEST(fail_every_nth_allocation)
{
	CHECK_EQ(weft_allocator_set(&(weft_allocator){ NULL, NULL, NULL }), EINVAL);
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	long n;
	for (n = 1;; n++) {
		test_alloc_fail_after(n - 1);
		bool complete = scenario();
		CHECK_EQ(test_alloc_live(), 0); /* nothing leaked by the failed call or the unwinding */
		if (complete)
			break;
	}
	test_alloc_fail_none();
	CHECK_EQ(weft_allocator_set(NULL), 0);
	CHECK_EQ(n, NODES + 2 + 1); /* one allocation per node and per counter */
	printf("failed allocation N for N = 1..%ld: ENOMEM each time, nothing leaked\n", n - 1);
}
