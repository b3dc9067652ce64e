/* Private: sizing helpers shared by weft's bounded rings. */
#ifndef WEFT_QUEUES_RING_UTIL_H
#define WEFT_QUEUES_RING_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The largest capacity any ring accepts (beyond it: EINVAL); 2^40 slots is 8 TiB. */
#define WEFT_RING_MAX_CAPACITY ((size_t)1 << 40)

/* The smallest power of two >= n, for 1 <= n <= WEFT_RING_MAX_CAPACITY. */
static inline size_t weft_ring_pow2(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

#endif
