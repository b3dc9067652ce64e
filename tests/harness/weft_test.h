/*
 * weft's test harness. A test file defines cases with WEFT_TEST(name) (label "unit") or
 * WEFT_STRESS(name) (label "stress"); CMake finds them in the source and makes each its own
 * ctest test, run as `test_<file> <case>`. Checks abort the case with file, line and values.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*weft_test_fn)(void);
void weft_test_register(const char *name, weft_test_fn fn);

#define WEFT_TEST_DEFINE_(name)                                                                  \
	static void weft_test_##name(void);                                                      \
	__attribute__((constructor)) static void weft_test_reg_##name(void)                      \
	{                                                                                        \
		weft_test_register(#name, weft_test_##name);                                     \
	}                                                                                        \
	static void weft_test_##name(void)

#define WEFT_TEST(name) WEFT_TEST_DEFINE_(name)
#define WEFT_STRESS(name) WEFT_TEST_DEFINE_(name)

void weft_test_fail(const char *file, int line, const char *expr, const char *detail);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond))                                                                     \
			weft_test_fail(__FILE__, __LINE__, #cond, NULL);                         \
	} while (0)

#define CHECK_EQ(a, b)                                                                           \
	do {                                                                                     \
		long long weft_a_ = (long long)(a), weft_b_ = (long long)(b);                    \
		if (weft_a_ != weft_b_) {                                                        \
			char weft_d_[96];                                                        \
			snprintf(weft_d_, sizeof weft_d_, "%lld != %lld", weft_a_, weft_b_);     \
			weft_test_fail(__FILE__, __LINE__, #a " == " #b, weft_d_);               \
		}                                                                                \
	} while (0)

/* 1 in an optimised build, smaller under sanitizers (set WEFT_TEST_SCALE to override). */
double weft_test_scale_factor(void);
/* n scaled by the build's factor, at least 1. */
uint64_t weft_test_scale(uint64_t n);
/* True in ThreadSanitizer / AddressSanitizer builds. */
int weft_test_sanitized(void);

/* A small per-thread PRNG (xorshift64*). */
static inline uint64_t weft_test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* sched_yield() with probability 1/one_in: shakes out interleavings on 2 cores. */
void weft_test_maybe_yield(uint64_t *rng, unsigned one_in);

/*
 * Death tests: run child() in a forked process with its stderr captured into out (cap
 * bytes, NUL-terminated; the rest is drained so the child never blocks) and return its
 * wait status. child() returning exits the child with 0.
 */
int weft_test_run_child(void (*child)(void), char *out, size_t cap);

/* Run fn(i, arg) on n threads and join them all. */
void weft_test_run_threads(unsigned n, void *(*fn)(void *), void **args);

#endif
