/*
 * sched: fork/join fib, skynet, spawn throughput and yield ping-pong on weft's runtime,
 * beside the same workloads in OpenMP, TBB and Go when those peers are built.
 * Unavailable until weft's runtime (runtime/) lands: nothing here is faked.
 */
#include "bench.h"

#include <string.h>

static const char *sched_unavailable(void)
{
	/* WEFT-BENCH: ADD weft runtime workloads (fib, skynet, spawn, yield) */
	return "weft's runtime (runtime/: scheduler, fibers) is not in this build yet";
}

static size_t sched_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	return 0;
}

const bench_suite bench_suite_sched = {
	.name = "sched",
	.what = "fork/join fib, skynet, spawn, yield ping-pong (weft runtime vs peers)",
	.unit_note = "1 op = one task",
	.impls = NULL,
	.nimpls = 0,
	.unavailable = sched_unavailable,
	.shapes = sched_shapes,
};
