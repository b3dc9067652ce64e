/*
 * The allocator weft uses for everything it allocates (context nodes, queue nodes and
 * buffers, counter slots, hazard records, fiber bookkeeping; not fiber stacks, which are
 * mmap'd). Replace it to account for weft's memory or to inject failures in tests.
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include <weft/common.h>

typedef struct weft_allocator {
	/* Return size bytes aligned to align (a power of two), or NULL. */
	void *(*alloc)(size_t size, size_t align, void *user);
	/* Free what alloc returned; never called with NULL. */
	void (*free)(void *ptr, void *user);
	void *user;
} weft_allocator;

/*
 * weft_allocator_set - make a the allocator of every later weft allocation; NULL restores
 * malloc/posix_memalign. The struct is copied.
 * Set it before creating weft objects: an object is freed through the allocator in force
 * when it is freed, so both must agree.
 * Returns: 0, or EINVAL when a is non-NULL and lacks alloc or free.
 * Thread-safety: any thread, but not concurrently with weft calls that allocate.
 */
WEFT_API int weft_allocator_set(const weft_allocator *a);

#endif
