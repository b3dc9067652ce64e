/*
 * rwlock: threads read a shared pair under a read lock and, --read-pct aside (default
 * 99), increment it under the write lock. One call does RW_BATCH operations, each a read
 * or a write by the thread's own random draw. Checks: a reader never sees the pair torn
 * (a != b), and at the end a == b == the number of write operations made.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <ck_brlock.h>
#include <ck_rwlock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <weft/brwlock.h>
#include <weft/rwlock.h>

#define RW_BATCH 16

typedef struct rw_state {
	_Alignas(BENCH_PAD) pthread_rwlock_t prw;
	_Alignas(BENCH_PAD) ck_rwlock_t ckrw;
	_Alignas(BENCH_PAD) ck_brlock_t ckbr;
	_Alignas(BENCH_PAD) weft_rwlock wrw;
	_Alignas(BENCH_PAD) weft_brwlock *wbr;
	_Alignas(BENCH_PAD) uint64_t a;
	uint64_t b;
	_Alignas(BENCH_PAD) _Atomic uint64_t torn;
	struct rw_slot {
		_Alignas(BENCH_PAD) uint64_t writes;
		ck_brlock_reader_t reader;
	} *slots;
	unsigned nslots, read_pct;
} rw_state;

static void *rw_create_kind(const bench_shape *sh, int prefer_writer)
{
	rw_state *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->nslots = sh->threads;
	s->slots = aligned_alloc(BENCH_PAD, sizeof *s->slots * s->nslots);
	if (!s->slots) {
		free(s);
		return NULL;
	}
	memset(s->slots, 0, sizeof *s->slots * s->nslots);
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	if (prefer_writer)
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->prw, &a);
	pthread_rwlockattr_destroy(&a);
	ck_rwlock_init(&s->ckrw);
	ck_brlock_init(&s->ckbr);
	weft_rwlock_init(&s->wrw);
	if (weft_brwlock_create(&s->wbr)) {
		pthread_rwlock_destroy(&s->prw);
		free(s->slots);
		free(s);
		return NULL;
	}
	s->read_pct = sh->read_pct;
	return s;
}

static void *rw_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return rw_create_kind(sh, 0);
}

static void *rw_create_pw(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return rw_create_kind(sh, 1);
}

static void rw_destroy(void *p)
{
	rw_state *s = p;
	pthread_rwlock_destroy(&s->prw);
	weft_rwlock_destroy(&s->wrw);
	weft_brwlock_destroy(s->wbr);
	free(s->slots);
	free(s);
}

static inline void rd_section(rw_state *s)
{
	if (s->a != s->b)
		atomic_fetch_add_explicit(&s->torn, 1, memory_order_relaxed);
}

static inline void wr_section(rw_state *s, bench_thread *t)
{
	s->a++;
	__asm__ __volatile__("" ::: "memory");
	s->b++;
	s->slots[t->id].writes++;
}

static int rw_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	rw_state *s = p;
	uint64_t writes = 0, torn = atomic_load_explicit(&s->torn, memory_order_relaxed);
	for (unsigned i = 0; i < s->nslots; i++)
		writes += s->slots[i].writes;
	if (s->a == writes && s->b == writes && torn == 0)
		return 0;
	snprintf(err, len, "RW lock broken: pair (%llu, %llu) after %llu writes, %llu torn reads",
		 (unsigned long long)s->a, (unsigned long long)s->b,
		 (unsigned long long)writes, (unsigned long long)torn);
	return -1;
}

static int brlock_init(void *p, bench_thread *t)
{
	rw_state *s = p;
	ck_brlock_read_register(&s->ckbr, &s->slots[t->id].reader);
	return 0;
}

static void brlock_fini(void *p, bench_thread *t)
{
	rw_state *s = p;
	ck_brlock_read_unregister(&s->ckbr, &s->slots[t->id].reader);
}

#define RW_OP(name, RLOCK, RUNLOCK, WLOCK, WUNLOCK)                                            \
	static uint64_t name##_op(void *p, bench_thread *t)                                   \
	{                                                                                      \
		rw_state *s = p;                                                               \
		for (unsigned i = 0; i < RW_BATCH; i++) {                                     \
			if (bench_rand(&t->rng) % 100 < s->read_pct) {                         \
				RLOCK;                                                         \
				rd_section(s);                                                 \
				RUNLOCK;                                                       \
			} else {                                                               \
				WLOCK;                                                         \
				wr_section(s, t);                                              \
				WUNLOCK;                                                       \
			}                                                                      \
		}                                                                              \
		return RW_BATCH;                                                               \
	}

RW_OP(pthread, pthread_rwlock_rdlock(&s->prw), pthread_rwlock_unlock(&s->prw),
      pthread_rwlock_wrlock(&s->prw), pthread_rwlock_unlock(&s->prw))
RW_OP(ck_rwlock, ck_rwlock_read_lock(&s->ckrw), ck_rwlock_read_unlock(&s->ckrw),
      ck_rwlock_write_lock(&s->ckrw), ck_rwlock_write_unlock(&s->ckrw))
RW_OP(ck_brlock, ck_brlock_read_lock(&s->ckbr, &s->slots[t->id].reader),
      ck_brlock_read_unlock(&s->slots[t->id].reader), ck_brlock_write_lock(&s->ckbr),
      ck_brlock_write_unlock(&s->ckbr))

RW_OP(weft_rwlock, weft_rwlock_rdlock(&s->wrw, NULL), weft_rwlock_rdunlock(&s->wrw),
      weft_rwlock_wrlock(&s->wrw, NULL), weft_rwlock_wrunlock(&s->wrw))
RW_OP(weft_brwlock, weft_brwlock_rdlock(s->wbr, NULL), weft_brwlock_rdunlock(s->wbr),
      weft_brwlock_wrlock(s->wbr, NULL), weft_brwlock_wrunlock(s->wbr))

static const bench_impl rw_impls[] = {
	{ "pthread", "pthread_rwlock_t, default (reader-preferring)", NULL, rw_create,
	  rw_destroy, NULL, NULL, pthread_op, NULL, rw_verify, NULL },
	{ "pthread_wpref", "pthread_rwlock_t, PREFER_WRITER_NONRECURSIVE_NP", NULL, rw_create_pw,
	  rw_destroy, NULL, NULL, pthread_op, NULL, rw_verify, NULL },
	{ "ck_rwlock", "ck_rwlock: one shared reader count", bench_unavail_tsan, rw_create,
	  rw_destroy, NULL, NULL, ck_rwlock_op, NULL, rw_verify, NULL },
	{ "ck_brlock", "ck_brlock: big-reader lock, a registered slot per reader",
	  bench_unavail_tsan, rw_create, rw_destroy, brlock_init, brlock_fini, ck_brlock_op,
	  NULL, rw_verify, NULL },
	{ "weft_rwlock", "weft_rwlock: one word, parks through the waiter seam", NULL, rw_create,
	  rw_destroy, NULL, NULL, weft_rwlock_op, NULL, rw_verify, NULL },
	{ "weft_brwlock", "weft_brwlock: reader-biased, a slot per thread index", NULL,
	  rw_create, rw_destroy, NULL, NULL, weft_brwlock_op, NULL, rw_verify, NULL },
};

static size_t rw_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	size_t n = 0;
	for (size_t r = 0; r < cfg->nread_pct; r++)
		for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
			memset(&out[n], 0, sizeof out[n]);
			snprintf(out[n].variant, sizeof out[n].variant, "read=%u%%",
				 cfg->read_pct[r]);
			out[n].threads = out[n].label_threads = cfg->threads[i];
			out[n].read_pct = cfg->read_pct[r];
		}
	return n;
}

const bench_suite bench_suite_rwlock = {
	.name = "rwlock",
	.what = "threads read under a read lock, sometimes write under the write lock",
	.unit_note = "1 op = one read- or write-locked section",
	.impls = rw_impls,
	.nimpls = sizeof rw_impls / sizeof rw_impls[0],
	.shapes = rw_shapes,
};
