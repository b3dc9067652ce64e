/*
 * The sched suite's OpenMP peer: the same jobs as suite_sched.c written with OpenMP tasks
 * (fork/join fib and skynet with task + taskwait, spawn as a loop of tasks, yield with
 * taskyield). Built into weft-bench only when the compiler has OpenMP and the build has
 * no sanitizer (TSan cannot see libgomp's synchronisation).
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "peers/omp_sched.h"

static uint64_t fib(int n)
{
	if (n < 2)
		return (uint64_t)n;
	uint64_t a, b;
#pragma omp task shared(a)
	a = fib(n - 1);
	b = fib(n - 2);
#pragma omp taskwait
	return a + b;
}

static uint64_t skynet(uint64_t num, uint64_t size)
{
	if (size == 1)
		return num;
	uint64_t r[10], sum = 0;
	size /= 10;
	for (int i = 0; i < 10; i++) {
#pragma omp task shared(r)
		r[i] = skynet(num + (uint64_t)i * size, size);
	}
#pragma omp taskwait
	for (int i = 0; i < 10; i++)
		sum += r[i];
	return sum;
}

uint64_t bench_omp_job(const bench_omp_args *a, uint64_t *result)
{
	_Atomic uint64_t count = 0;
	uint64_t res = 0;
#pragma omp parallel num_threads(a->workers)
#pragma omp single
	{
		switch (a->workload) {
		case 0:
			res = fib(a->fib_n);
			break;
		case 1:
			res = skynet(0, a->skynet_leaves);
			break;
		case 2:
			for (unsigned i = 0; i < a->spawn_n; i++) {
#pragma omp task shared(count)
				atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
			}
#pragma omp taskwait
			res = atomic_load_explicit(&count, memory_order_relaxed);
			break;
		default:
			for (unsigned i = 0; i < 2 * a->workers; i++) {
#pragma omp task shared(count)
				{
					for (unsigned k = 0; k < a->yields; k++) {
#pragma omp taskyield
					}
					atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
				}
			}
#pragma omp taskwait
			res = atomic_load_explicit(&count, memory_order_relaxed);
			break;
		}
	}
	*result = res;
	return res;
}
