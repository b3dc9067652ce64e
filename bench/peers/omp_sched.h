/* The OpenMP peer of the sched suite (peers/omp_sched.c). */
#ifndef WEFT_BENCH_OMP_SCHED_H
#define WEFT_BENCH_OMP_SCHED_H

#include <stdint.h>

typedef struct bench_omp_args {
	unsigned workload; /* 0 fib, 1 skynet, 2 spawn, 3 yield (suite_sched.c's order) */
	unsigned workers;
	int fib_n;
	uint64_t skynet_leaves;
	unsigned spawn_n, yields;
} bench_omp_args;

/* Run one job on an OpenMP team of workers; *result: fib/skynet sum, spawn/yield count. */
uint64_t bench_omp_job(const bench_omp_args *a, uint64_t *result);

#endif
