#include "bench.h"
static const char *q_unavailable(void) { return "not yet"; }
static size_t q_shapes(const bench_cfg *cfg, bench_shape *out, size_t max) { return 0; }
const bench_suite bench_suite_queue = { .name = "queue", .what = "queues", .unit_note = "",
	.unavailable = q_unavailable, .shapes = q_shapes };
const bench_suite bench_suite_reclaim = { .name = "reclaim", .what = "reclaim", .unit_note = "",
	.unavailable = q_unavailable, .shapes = q_shapes };
