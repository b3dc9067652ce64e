/*
 * The allocator the ENOMEM tests install with weft_allocator_set(): it counts allocation
 * attempts and live blocks, and fails the attempt it is told to (or every one). Safe from
 * any thread. Blocks freed here that were allocated before it was installed make the live
 * count go below zero: take what must outlive a scenario before installing it.
 */
#ifndef WEFT_TEST_ALLOC_CASES_H
#define WEFT_TEST_ALLOC_CASES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <weft/alloc.h>

enum { TEST_ALLOC_NEVER = 0, TEST_ALLOC_ALWAYS = -1 };

static _Atomic long test_alloc_seen_;    /* attempts since the last fail_* call */
static _Atomic long test_alloc_fail_at_; /* 1-based attempt to fail, or NEVER / ALWAYS */
static _Atomic long test_alloc_live_;    /* blocks allocated here and not yet freed */
static _Atomic bool test_alloc_failed_;  /* an attempt failed since the last fail_* call */

static void *test_alloc_fn(size_t size, size_t align, void *user)
{
	(void)user;
	long n = atomic_fetch_add(&test_alloc_seen_, 1) + 1;
	long at = atomic_load(&test_alloc_fail_at_);
	if (at == TEST_ALLOC_ALWAYS || n == at) {
		atomic_store(&test_alloc_failed_, true);
		return NULL;
	}
	void *p = NULL;
	if (align <= _Alignof(max_align_t))
		p = malloc(size);
	else if (posix_memalign(&p, align, size) != 0)
		p = NULL;
	if (p != NULL)
		atomic_fetch_add(&test_alloc_live_, 1);
	return p;
}

static void test_free_fn(void *p, void *user)
{
	(void)user;
	if (p == NULL)
		return;
	atomic_fetch_sub(&test_alloc_live_, 1);
	free(p);
}

static const weft_allocator test_allocator = { test_alloc_fn, test_free_fn, NULL };

static inline void test_alloc_arm_(long at)
{
	atomic_store(&test_alloc_seen_, 0);
	atomic_store(&test_alloc_failed_, false);
	atomic_store(&test_alloc_fail_at_, at);
}

/* Let n attempts from now succeed and fail the next one (only that one). */
static inline void test_alloc_fail_after(long n)
{
	test_alloc_arm_(n + 1);
}

/* Fail every attempt from now on / none. */
static inline void test_alloc_fail_all(void)
{
	test_alloc_arm_(TEST_ALLOC_ALWAYS);
}

static inline void test_alloc_fail_none(void)
{
	test_alloc_arm_(TEST_ALLOC_NEVER);
}

/* Attempts since the last fail_* call; live blocks; whether an attempt failed. */
static inline long test_alloc_seen(void)
{
	return atomic_load(&test_alloc_seen_);
}

static inline long test_alloc_live(void)
{
	return atomic_load(&test_alloc_live_);
}

static inline bool test_alloc_failed(void)
{
	return atomic_load(&test_alloc_failed_);
}

#endif
