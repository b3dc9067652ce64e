/* weft_rt_stats: what it reports about fiber stacks. */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include <weft/runtime.h>
#include <weft/wg.h>

#include "weft_test.h"

static void touch(void *arg)
{
	weft_wg_done(arg);
}

/* stack_bytes counts what weft_fiber_create maps: the stack rounded up to whole pages, plus
 * the guard page (the bug fixed here: it added stack_size + 4096, unrounded, whatever the
 * page size). */
WEFT_TEST(stack_bytes_counts_whole_pages)
{
	weft_rt_config cfg;
	weft_rt_config_init(&cfg);
	cfg.workers = 1;
	cfg.stack_size = 20000; /* not a multiple of any page size */
	weft_rt *rt;
	CHECK_EQ(weft_rt_start(&rt, &cfg), 0);
	weft_wg wg = WEFT_WG_INIT;
	weft_wg_add(&wg, 1);
	CHECK_EQ(weft_go(rt, touch, &wg), 0);
	CHECK_EQ(weft_wg_wait(&wg, NULL), 0);
	weft_rt_counters s;
	CHECK_EQ(weft_rt_stats(rt, &s), 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t per_fiber = (uint64_t)((20000 + page - 1) / page * page + page);
	CHECK(s.fibers >= 1); /* the worker's fiber ran the task */
	CHECK_EQ(s.stack_bytes, s.fibers * per_fiber);
	CHECK_EQ(weft_rt_stop(rt), 0);
}
