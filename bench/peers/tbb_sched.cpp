/*
 * The sched suite's TBB peer: the same jobs as suite_sched.c written with oneTBB's
 * tbb::task_group (a task_group per fib call and per skynet node, run + wait; spawn as a
 * loop of run()s from one root task) inside a tbb::task_arena of N threads. TBB has no
 * task yield, so the yield job is not run. C++17; built into weft-bench only when CMake
 * finds TBB and a C++ compiler, and never in sanitizer builds.
 */
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <new>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "peers/tbb_sched.h"

struct bench_tbb {
	tbb::global_control limit; /* lets an arena of N > CPUs get N threads */
	tbb::task_arena arena;
	explicit bench_tbb(unsigned workers)
		: limit(tbb::global_control::max_allowed_parallelism, workers),
		  arena(static_cast<int>(workers))
	{
	}
};

namespace {

uint64_t fib(int n)
{
	if (n < 2)
		return static_cast<uint64_t>(n);
	uint64_t a = 0;
	tbb::task_group g;
	g.run([&] { a = fib(n - 1); });
	uint64_t b = fib(n - 2);
	g.wait();
	return a + b;
}

uint64_t skynet(uint64_t num, uint64_t size)
{
	if (size == 1)
		return num;
	uint64_t r[10];
	size /= 10;
	tbb::task_group g;
	for (uint64_t i = 0; i < 10; i++)
		g.run([&r, i, num, size] { r[i] = skynet(num + i * size, size); });
	g.wait();
	uint64_t sum = 0;
	for (uint64_t x : r)
		sum += x;
	return sum;
}

uint64_t spawn(unsigned n)
{
	std::atomic<uint64_t> count{0};
	tbb::task_group root;
	root.run([&] { /* the root task starts all the others, as weft's job does */
		tbb::task_group g;
		for (unsigned i = 0; i < n; i++)
			g.run([&] { count.fetch_add(1, std::memory_order_relaxed); });
		g.wait();
	});
	root.wait(); /* task_group::wait: the tasks' effects are visible after it returns */
	return count.load(std::memory_order_relaxed);
}

} // namespace

extern "C" bench_tbb *bench_tbb_open(unsigned workers)
{
	if (workers == 0)
		return nullptr;
	try {
		bench_tbb *t = new bench_tbb(workers);
		t->arena.initialize();
		return t;
	} catch (...) {
		return nullptr;
	}
}

extern "C" int bench_tbb_job(bench_tbb *t, const bench_tbb_args *a, uint64_t *result)
{
	if (a->workload > 2)
		return EINVAL;
	try {
		uint64_t r = 0;
		t->arena.execute([&] {
			switch (a->workload) {
			case 0:
				r = fib(a->fib_n);
				break;
			case 1:
				r = skynet(0, a->skynet_leaves);
				break;
			default:
				r = spawn(a->spawn_n);
				break;
			}
		});
		*result = r;
		return 0;
	} catch (const std::bad_alloc &) {
		return ENOMEM;
	} catch (...) {
		return EINVAL;
	}
}

extern "C" void bench_tbb_close(bench_tbb *t)
{
	delete t;
}
