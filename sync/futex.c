#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <weft/common.h>

#include "futex.h"

int weft_futex_wait(_Atomic uint32_t *addr, uint32_t expected, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	if (deadline_ns != WEFT_NO_DEADLINE) {
		ts.tv_sec = (time_t)(deadline_ns / WEFT_NS_PER_SEC);
		ts.tv_nsec = (long)(deadline_ns % WEFT_NS_PER_SEC);
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout, so a retried wait
	 * never stretches the deadline. */
	long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
			 expected, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	return r == 0 ? 0 : errno;
}

int weft_futex_wake(_Atomic uint32_t *addr, int n)
{
	long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL,
			 NULL, 0);
	return r < 0 ? 0 : (int)r;
}
