/* The TBB peer of the sched suite (peers/tbb_sched.cpp), callable from C. */
#ifndef WEFT_BENCH_TBB_SCHED_H
#define WEFT_BENCH_TBB_SCHED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_tbb bench_tbb;

typedef struct bench_tbb_args {
	unsigned workload; /* 0 fib, 1 skynet, 2 spawn (suite_sched.c's order); no yield */
	int fib_n;
	uint64_t skynet_leaves;
	unsigned spawn_n;
} bench_tbb_args;

/* A task arena of `workers` threads (the caller counts as one); NULL when out of memory
 * or TBB refused. Not thread-safe: one open peer at a time (it sets TBB's global
 * max_allowed_parallelism). */
bench_tbb *bench_tbb_open(unsigned workers);
/* Run one job inside the arena and wait for it; *result: fib/skynet sum, spawn count.
 * 0, EINVAL (unknown workload: TBB tasks cannot yield) or ENOMEM. */
int bench_tbb_job(bench_tbb *t, const bench_tbb_args *a, uint64_t *result);
void bench_tbb_close(bench_tbb *t);

#ifdef __cplusplus
}
#endif

#endif
