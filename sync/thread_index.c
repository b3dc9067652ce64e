/*
 * Dense thread indices. Assignment and release are rare (first use, thread exit), so a
 * mutex-protected bitmap is enough; the fast path is the inline TLS load in thread.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/thread.h>

__thread uint32_t weft_thread_index_plus1_ __attribute__((tls_model("initial-exec")));

static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *index_bits;   /* bit i set: index i is held by a live thread */
static size_t index_words;
static uint32_t index_bound;   /* largest index ever handed out + 1 */
static pthread_key_t index_key;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_release(void *arg)
{
	uint32_t idx = (uint32_t)(uintptr_t)arg - 1;
	/* The unlock publishes this thread's writes to its slots; the next holder's lock of
	 * index_lock acquires them (the happens-before promised in thread.h). */
	pthread_mutex_lock(&index_lock);
	index_bits[idx / 64] &= ~(UINT64_C(1) << (idx % 64));
	pthread_mutex_unlock(&index_lock);
	weft_thread_index_plus1_ = 0;
}

static void index_init(void)
{
	pthread_key_create(&index_key, index_release);
}

static int index_grow(void)
{
	size_t n = index_words ? index_words * 2 : 4;
	uint64_t *bits = realloc(index_bits, n * sizeof(*bits));
	if (bits == NULL)
		return -1;
	memset(bits + index_words, 0, (n - index_words) * sizeof(*bits));
	index_bits = bits;
	index_words = n;
	return 0;
}

uint32_t weft_thread_index_slow_(void)
{
	pthread_once(&index_once, index_init);
	pthread_mutex_lock(&index_lock);
	uint32_t idx = UINT32_MAX;
	for (;;) {
		for (size_t w = 0; w < index_words && idx == UINT32_MAX; w++) {
			if (~index_bits[w] != 0)
				idx = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(~index_bits[w]));
		}
		if (idx != UINT32_MAX || index_grow() != 0)
			break;
	}
	if (idx == UINT32_MAX) {
		/* Out of memory for the bitmap: no index (not cached, so a later call retries).
		 * Users send any index beyond their slot count to a shared atomic path. */
		pthread_mutex_unlock(&index_lock);
		return WEFT_THREAD_INDEX_NONE;
	}
	index_bits[idx / 64] |= UINT64_C(1) << (idx % 64);
	if (idx + 1 > index_bound)
		index_bound = idx + 1;
	pthread_mutex_unlock(&index_lock);
	weft_thread_index_plus1_ = idx + 1;
	pthread_setspecific(index_key, (void *)(uintptr_t)(idx + 1));
	return idx;
}

uint32_t weft_thread_index_bound(void)
{
	pthread_mutex_lock(&index_lock);
	uint32_t b = index_bound;
	pthread_mutex_unlock(&index_lock);
	return b;
}

unsigned weft_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1u;
}
