/*
 * Shared by tests/test_runtime.c and tests/test_runtime_fibers.c: starting a runtime and
 * fork/join fib, the smallest program that exercises forks, joins and steals.
 */
#ifndef WEFT_TESTS_RUNTIME_CASES_H
#define WEFT_TESTS_RUNTIME_CASES_H

#include <stddef.h>

#include <weft/runtime.h>

#include "weft_test.h"

static inline weft_rt *start_rt(unsigned workers, weft_sched_kind kind)
{
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.workers = workers;
	cfg.scheduler = kind;
	weft_rt *rt = NULL;
	CHECK_EQ(weft_rt_start(&rt, &cfg), 0);
	return rt;
}

/* fib(n) by fork/join: fork n-1, run n-2 inline, join. */
struct fib {
	weft_task task;
	int n;
	long result;
};

static inline void fib_task(weft_task *t)
{
	struct fib *f = (struct fib *)((char *)t - offsetof(struct fib, task));
	if (f->n < 2) {
		f->result = f->n;
		return;
	}
	struct fib a = { .n = f->n - 1 }, b = { .n = f->n - 2 };
	CHECK_EQ(weft_fork(&a.task, fib_task), 0);
	fib_task(&b.task);
	CHECK_EQ(weft_join(&a.task), 0);
	f->result = a.result + b.result;
}

static inline void fib_root(void *arg)
{
	fib_task(&((struct fib *)arg)->task);
}

#endif
