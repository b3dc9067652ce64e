/*
 * Definitions every weft header shares: the export macro, cache-line sizes, time.
 *
 * Errors, everywhere in weft: functions return 0 or a positive errno value, as pthreads do
 * (EINVAL for a NULL or out-of-range argument, ENOMEM, EAGAIN, ECANCELED, ETIMEDOUT, EBUSY,
 * EPERM). A call that fails has no side effect. Nothing aborts on bad input.
 */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WEFT_API
#define WEFT_LIKELY(x) (x)
#define WEFT_UNLIKELY(x) (x)
#endif

/*
 * WEFT_CACHELINE: the coherence unit. WEFT_PADDING: the distance at which two hot fields
 * stop interfering; 128 on x86-64 because the adjacent-line prefetcher pulls lines in pairs.
 */
#define WEFT_CACHELINE 64
#if defined(__x86_64__) || defined(__aarch64__)
#define WEFT_PADDING 128
#else
#define WEFT_PADDING 64
#endif

#define WEFT_NS_PER_SEC UINT64_C(1000000000)
/* The "no deadline" value accepted wherever weft takes an absolute deadline. */
#define WEFT_NO_DEADLINE UINT64_MAX

/*
 * weft_now_ns - CLOCK_MONOTONIC in nanoseconds: the clock of every weft deadline.
 * Thread-safety: any thread.
 */
WEFT_API uint64_t weft_now_ns(void);

/* Relax the CPU inside a spin loop (pause on x86, yield on Arm). */
static inline void weft_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
