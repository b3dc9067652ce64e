/*
 * counter: many threads add 1 to one shared count. One op call does COUNTER_BATCH adds
 * (and reports that many ops) so the harness's per-call cost is spread thin: the target
 * is a sharded counter at 20x a single atomic, which needs a nearly free slot lookup.
 * Check: after the run the counter reads exactly the number of adds made.
 */
#include "bench.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <weft/counter.h>

#define COUNTER_BATCH 64

typedef struct counter_state {
	_Alignas(BENCH_PAD) pthread_mutex_t lock;
	uint64_t locked_value;
	_Alignas(BENCH_PAD) _Atomic uint64_t atomic_value;
	_Alignas(BENCH_PAD) char pad_;
	struct slot {
		_Alignas(BENCH_PAD) _Atomic uint64_t v;
	} *slots;
	unsigned nslots;
	_Alignas(BENCH_PAD) weft_counter wc;
	_Alignas(BENCH_PAD) weft_shard_counter *shard;
} counter_state;

static void *counter_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	counter_state *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	s->nslots = sh->threads;
	s->slots = aligned_alloc(BENCH_PAD, sizeof *s->slots * s->nslots);
	if (!s->slots) {
		free(s);
		return NULL;
	}
	memset(s->slots, 0, sizeof *s->slots * s->nslots);
	weft_counter_init(&s->wc, 0);
	int rc = weft_shard_counter_create(&s->shard);
	if (rc) {
		snprintf(err, len, "weft_shard_counter_create: %s", strerror(rc));
		free(s->slots);
		free(s);
		return NULL;
	}
	return s;
}

static void counter_destroy(void *p)
{
	counter_state *s = p;
	pthread_mutex_destroy(&s->lock);
	weft_shard_counter_destroy(s->shard);
	free(s->slots);
	free(s);
}

static int check_total(uint64_t got, bench_thread *th, unsigned n, char *err, size_t len)
{
	uint64_t want = 0;
	for (unsigned i = 0; i < n; i++)
		want += th[i].ops;
	if (got == want)
		return 0;
	snprintf(err, len, "counter reads %llu after %llu adds", (unsigned long long)got,
		 (unsigned long long)want);
	return -1;
}

/* mutex: a pthread_mutex around a plain integer. */
static uint64_t mutex_op(void *p, bench_thread *t)
{
	counter_state *s = p;
	for (int i = 0; i < COUNTER_BATCH; i++) {
		pthread_mutex_lock(&s->lock);
		s->locked_value++;
		pthread_mutex_unlock(&s->lock);
	}
	return COUNTER_BATCH;
}

static int mutex_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	return check_total(((counter_state *)p)->locked_value, th, n, err, len);
}

/* atomic: one shared fetch-add (the line every thread fights over). */
static uint64_t atomic_op(void *p, bench_thread *t)
{
	counter_state *s = p;
	for (int i = 0; i < COUNTER_BATCH; i++)
		atomic_fetch_add_explicit(&s->atomic_value, 1, memory_order_relaxed);
	return COUNTER_BATCH;
}

static int atomic_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	return check_total(atomic_load_explicit(&((counter_state *)p)->atomic_value,
						memory_order_relaxed),
			   th, n, err, len);
}

/* slots: hand-written padded per-thread slots, the thread id known for free; each add
 * is a load and a store to the thread's own line (no read-modify-write). */
static uint64_t slots_op(void *p, bench_thread *t)
{
	counter_state *s = p;
	_Atomic uint64_t *v = &s->slots[t->id].v;
	for (int i = 0; i < COUNTER_BATCH; i++)
		atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	return COUNTER_BATCH;
}

static int slots_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	counter_state *s = p;
	uint64_t sum = 0;
	for (unsigned i = 0; i < s->nslots; i++)
		sum += atomic_load_explicit(&s->slots[i].v, memory_order_relaxed);
	return check_total(sum, th, n, err, len);
}

/* weft_counter: weft's single shared counter (one atomic add). */
static uint64_t wc_op(void *p, bench_thread *t)
{
	counter_state *s = p;
	for (int i = 0; i < COUNTER_BATCH; i++)
		weft_counter_add(&s->wc, 1);
	return COUNTER_BATCH;
}

static int wc_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	return check_total((uint64_t)weft_counter_read(&((counter_state *)p)->wc), th, n, err,
			   len);
}

/* weft_shard_counter: a slot per thread index, found through a thread-local. */
static uint64_t shard_op(void *p, bench_thread *t)
{
	counter_state *s = p;
	for (int i = 0; i < COUNTER_BATCH; i++)
		weft_shard_counter_add(s->shard, 1);
	return COUNTER_BATCH;
}

static int shard_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	return check_total((uint64_t)weft_shard_counter_read(((counter_state *)p)->shard), th, n,
			   err, len);
}

#define COUNTER_IMPL(nm, what, op, verify)                                                      \
	{ nm, what, NULL, counter_create, counter_destroy, NULL, NULL, op, NULL, verify, NULL }

static const bench_impl counter_impls[] = {
	COUNTER_IMPL("mutex", "pthread_mutex around a plain integer", mutex_op, mutex_verify),
	COUNTER_IMPL("atomic", "one shared atomic fetch-add", atomic_op, atomic_verify),
	COUNTER_IMPL("padded_slots", "hand-written padded per-thread slots (load+store)",
		     slots_op, slots_verify),
	COUNTER_IMPL("weft_counter", "weft_counter: one shared atomic (weft_counter_add)", wc_op,
		     wc_verify),
	COUNTER_IMPL("weft_shard_counter", "weft_shard_counter: per-thread-index padded slots",
		     shard_op, shard_verify),
};

static size_t counter_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].variant, sizeof out[n].variant, "add");
		out[n].threads = out[n].label_threads = cfg->threads[i];
	}
	return n;
}

const bench_suite bench_suite_counter = {
	.name = "counter",
	.what = "threads add 1 to one shared count",
	.unit_note = "1 op = 1 add (64 per timed call)",
	.impls = counter_impls,
	.nimpls = sizeof counter_impls / sizeof counter_impls[0],
	.shapes = counter_shapes,
};
