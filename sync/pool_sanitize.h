/* Private: telling AddressSanitizer which pool objects sit in caches (sync/pool.c). */
#ifndef WEFT_SYNC_POOL_SANITIZE_H
#define WEFT_SYNC_POOL_SANITIZE_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(WEFT_POOL_ASAN)
#define WEFT_POOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEFT_POOL_ASAN)
#define WEFT_POOL_ASAN 1
#endif

#if defined(WEFT_POOL_ASAN)
#include <sanitizer/asan_interface.h>
/* A cached object: any access by the user is a use after put. */
#define WEFT_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define WEFT_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define WEFT_POOL_POISON(p, n) ((void)(p), (void)(n))
#define WEFT_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
