/*
 * A check shared by the tests of every primitive whose wait takes a weft_ctx (sem, wg):
 * a cancelled context makes the wait return ECANCELED, and a context with a deadline makes
 * it return ETIMEDOUT no earlier than the deadline (the lateness is printed, never asserted).
 * The caller sets the primitive up so that the wait would block.
 */
#ifndef WEFT_TEST_CTX_CASES_H
#define WEFT_TEST_CTX_CASES_H

#include <errno.h>
#include <stdio.h>

#include <weft/ctx.h>

#include "weft_test.h"

typedef int (*ctx_wait_fn)(void *obj, weft_ctx *ctx);

static inline void check_wait_ctx_errors(const char *what, ctx_wait_fn wait, void *obj)
{
	weft_ctx *c;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &c), 0);
	weft_ctx_cancel(c);
	CHECK_EQ(wait(obj, c), ECANCELED);
	weft_ctx_release(c);
	uint64_t deadline = weft_now_ns() + 10 * 1000 * 1000;
	CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &c), 0);
	CHECK_EQ(wait(obj, c), ETIMEDOUT);
	uint64_t now = weft_now_ns();
	CHECK(now >= deadline);
	printf("%s deadline lateness: %.3f ms\n", what, (double)(now - deadline) / 1e6);
	weft_ctx_release(c);
}

#endif
