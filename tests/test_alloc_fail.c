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

#include "weft_test.h"

/* Single-threaded scenarios: plain counters are enough. */
static long alloc_count, fail_at, live;
static bool failed;

static void *counting_alloc(size_t size, size_t align, void *user)
{
	(void)user;
	if (++alloc_count == fail_at) {
		failed = true;
		return NULL;
	}
	void *p = NULL;
	if (align <= _Alignof(max_align_t))
		p = malloc(size);
	else if (posix_memalign(&p, align, size) != 0)
		p = NULL;
	if (p != NULL)
		live++;
	return p;
}

static void counting_free(void *p, void *user)
{
	(void)user;
	live--;
	free(p);
}

static const weft_allocator counting = { counting_alloc, counting_free, NULL };

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
		CHECK(failed);
	} else {
		CHECK(!failed);
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
	CHECK_EQ(weft_allocator_set(&counting), 0);
	long n;
	for (n = 1;; n++) {
		alloc_count = 0;
		fail_at = n;
		failed = false;
		bool complete = scenario();
		CHECK_EQ(live, 0); /* nothing leaked by the failed call or the unwinding */
		if (complete)
			break;
	}
	CHECK_EQ(weft_allocator_set(NULL), 0);
	CHECK_EQ(n, NODES + 2 + 1); /* one allocation per node and per counter */
	printf("failed allocation N for N = 1..%ld: ENOMEM each time, nothing leaked\n", n - 1);
}
