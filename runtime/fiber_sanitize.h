/*
 * Private to fiber.c: what ThreadSanitizer, AddressSanitizer and Valgrind must be told about
 * fibers. Every function compiles to nothing in a plain build.
 *
 * - TSan: each fiber owns a TSan fiber (its own shadow stack and clock). A thread's own
 *   fiber borrows the thread's (never destroyed here). __tsan_switch_to_fiber(to, 0) right
 *   before the switch: flag 0 makes the switch a synchronisation, so the resumed fiber
 *   happens-after the switcher.
 * - ASan: __sanitizer_start_switch_fiber before the switch names the stack we go to (and
 *   saves our fake stack, or drops it when we are finished); the first thing a resumed or
 *   fresh fiber does is __sanitizer_finish_switch_fiber, which restores its fake stack and
 *   says which stack we came from. A reused or unmapped stack is unpoisoned: frames that
 *   never returned leave poisoned redzones behind.
 * - Valgrind: stacks are registered so that Memcheck does not take a switch for a huge
 *   stack-pointer move.
 */
#ifndef WEFT_RUNTIME_FIBER_SANITIZE_H
#define WEFT_RUNTIME_FIBER_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(WEFT_TSAN)
#define WEFT_TSAN 1
#endif
#if __has_feature(address_sanitizer) && !defined(WEFT_ASAN)
#define WEFT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WEFT_TSAN)
#define WEFT_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEFT_ASAN)
#define WEFT_ASAN 1
#endif

#if defined(WEFT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(WEFT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define WEFT_HAVE_VALGRIND 1
#endif
#endif

struct weft_fiber_san {
#if defined(WEFT_TSAN)
	void *tsan_fiber;
#endif
#if defined(WEFT_ASAN)
	void *fake_stack; /* ASan's fake stack of this fiber while it is suspended */
#endif
#if defined(WEFT_HAVE_VALGRIND)
	unsigned valgrind_id;
#endif
	char unused; /* keeps the struct non-empty in a plain build */
};

/* A fiber with its own stack [lo, lo + size). Returns 0 or -1 (TSan could not make one). */
static inline int weft_fiber_san_create(struct weft_fiber_san *s, void *lo, size_t size)
{
	(void)s, (void)lo, (void)size;
#if defined(WEFT_TSAN)
	s->tsan_fiber = __tsan_create_fiber(0);
	if (s->tsan_fiber == NULL)
		return -1;
#endif
#if defined(WEFT_ASAN)
	s->fake_stack = NULL;
#endif
#if defined(WEFT_HAVE_VALGRIND)
	s->valgrind_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#endif
	return 0;
}

/* The fiber starts over: a fresh TSan shadow stack, ASan's shadow of the stack cleared. */
static inline void weft_fiber_san_reset(struct weft_fiber_san *s, void *lo, size_t size)
{
	(void)s, (void)lo, (void)size;
#if defined(WEFT_TSAN)
	void *fresh = __tsan_create_fiber(0);
	if (fresh != NULL) {
		__tsan_destroy_fiber(s->tsan_fiber);
		s->tsan_fiber = fresh;
	}
#endif
#if defined(WEFT_ASAN)
	s->fake_stack = NULL;
	__asan_unpoison_memory_region(lo, size);
#endif
}

static inline void weft_fiber_san_destroy(struct weft_fiber_san *s, void *lo, size_t size)
{
	(void)s, (void)lo, (void)size;
#if defined(WEFT_TSAN)
	__tsan_destroy_fiber(s->tsan_fiber);
#endif
#if defined(WEFT_ASAN)
	__asan_unpoison_memory_region(lo, size);
#endif
#if defined(WEFT_HAVE_VALGRIND)
	VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
}

/* The calling thread's own stack becomes a fiber. */
static inline void weft_fiber_san_thread_init(struct weft_fiber_san *s)
{
	(void)s;
#if defined(WEFT_TSAN)
	s->tsan_fiber = __tsan_get_current_fiber();
#endif
}

static inline void weft_fiber_san_thread_fini(struct weft_fiber_san *s)
{
	(void)s; /* the thread's TSan fiber belongs to the thread */
}

/* Right before switching from `from` to `to` (whose stack is [to_lo, to_lo + to_size)). */
static inline void weft_fiber_san_before_switch(struct weft_fiber_san *from,
						struct weft_fiber_san *to, void *to_lo,
						size_t to_size, bool final)
{
	(void)from, (void)to, (void)to_lo, (void)to_size, (void) final;
#if defined(WEFT_ASAN)
	if (final)
		from->fake_stack = NULL;
	__sanitizer_start_switch_fiber(final ? NULL : &from->fake_stack, to_lo, to_size);
#endif
#if defined(WEFT_TSAN)
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

/* First thing after a switch lands in self; *prev_lo and *prev_size receive the bounds of the
 * stack we came from when ASan knows them (left untouched otherwise). */
static inline void weft_fiber_san_after_switch(struct weft_fiber_san *self, void **prev_lo,
					       size_t *prev_size)
{
	(void)self, (void)prev_lo, (void)prev_size;
#if defined(WEFT_ASAN)
	const void *lo = NULL;
	size_t size = 0;
	__sanitizer_finish_switch_fiber(self->fake_stack, &lo, &size);
	if (lo != NULL && size != 0) {
		*prev_lo = (void *)lo;
		*prev_size = size;
	}
#endif
}

#endif
