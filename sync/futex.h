/* Private: the two futex calls weft needs, on process-private futexes. */
#ifndef WEFT_SYNC_FUTEX_H
#define WEFT_SYNC_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * Sleep while *addr == expected, until woken or until deadline_ns (CLOCK_MONOTONIC,
 * UINT64_MAX: none). Returns 0 when woken (or spuriously), or an errno value: EAGAIN
 * (*addr differed), ETIMEDOUT, EINTR. Callers loop on their own condition.
 */
int weft_futex_wait(_Atomic uint32_t *addr, uint32_t expected, uint64_t deadline_ns);

/* Wake up to n sleepers on addr; returns how many were woken. */
int weft_futex_wake(_Atomic uint32_t *addr, int n);

#endif
