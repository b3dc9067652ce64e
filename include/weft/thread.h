/*
 * Dense thread indices: each thread that asks gets a small integer, unique among live
 * threads, returned for reuse when the thread exits. Per-thread slots (sharded counters,
 * hazard records, a sharded queue's home shard) are arrays indexed by it.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include <weft/common.h>

/* Index + 1 of the calling thread, 0 before its first call. Private: use weft_thread_index. */
extern WEFT_API __thread uint32_t weft_thread_index_plus1_
	__attribute__((tls_model("initial-exec")));

WEFT_API uint32_t weft_thread_index_slow_(void);

/* Returned only when the index table cannot grow (out of memory). */
#define WEFT_THREAD_INDEX_NONE UINT32_MAX

/*
 * weft_thread_index - the calling thread's index: the smallest integer not held by another
 * live thread when this thread first asked. Indices of exited threads are reused, and
 * whatever a thread wrote before exiting happens-before the next holder's first use.
 * Users index their own slot arrays with it and send any index at or beyond their slot
 * count (WEFT_THREAD_INDEX_NONE included) to a shared, atomic path.
 * Cost: one thread-local load once assigned. Thread-safety: any thread.
 */
static inline uint32_t weft_thread_index(void)
{
	uint32_t t = weft_thread_index_plus1_;
	if (WEFT_LIKELY(t != 0))
		return t - 1;
	return weft_thread_index_slow_();
}

/* weft_thread_index_bound - one more than the largest index handed out so far. */
WEFT_API uint32_t weft_thread_index_bound(void);

/* weft_cpu_count - online CPUs (at least 1). */
WEFT_API unsigned weft_cpu_count(void);

#endif
