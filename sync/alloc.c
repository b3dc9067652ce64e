/* The allocator hook: every weft allocation except fiber stacks goes through here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/alloc.h>

#include "alloc.h"

static void *default_alloc(size_t size, size_t align, void *user)
{
	(void)user;
	if (align <= _Alignof(max_align_t))
		return malloc(size);
	void *p = NULL;
	return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

static void default_free(void *p, void *user)
{
	(void)user;
	free(p);
}

static const weft_allocator default_allocator = { default_alloc, default_free, NULL };
/* Documented as not to be changed concurrently with allocating calls: a plain struct. */
static weft_allocator current = { default_alloc, default_free, NULL };

int weft_allocator_set(const weft_allocator *a)
{
	if (a == NULL) {
		current = default_allocator;
		return 0;
	}
	if (a->alloc == NULL || a->free == NULL)
		return EINVAL;
	current = *a;
	return 0;
}

void *weft_mem_alloc(size_t size, size_t align)
{
	if (size == 0)
		size = 1;
	return current.alloc(size, align, current.user);
}

void *weft_mem_zalloc(size_t size, size_t align)
{
	void *p = weft_mem_alloc(size, align);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

void weft_mem_free(void *p)
{
	if (p != NULL)
		current.free(p, current.user);
}
