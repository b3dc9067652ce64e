/* Private: weft's own allocation entry points, routed through weft_allocator_set(). */
#ifndef WEFT_SYNC_ALLOC_H
#define WEFT_SYNC_ALLOC_H

#include <stddef.h>

/* size bytes aligned to align (0: malloc's alignment), or NULL. */
void *weft_mem_alloc(size_t size, size_t align);
/* As weft_mem_alloc, zero-filled. */
void *weft_mem_zalloc(size_t size, size_t align);
/* Free p (NULL is ignored). */
void weft_mem_free(void *p);

#endif
