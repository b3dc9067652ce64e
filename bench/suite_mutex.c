/*
 * mutex: threads take one lock, run a critical section of --cs-ns of busy work, release.
 * Default: two variants, a short section (cs=0ns: two increments) and a long one (1000 ns).
 * A short-section call does MUTEX_BATCH acquisitions. Checks: a plain (non-atomic)
 * counter incremented inside the section must equal the number of acquisitions, and each
 * holder checks that nobody else wrote the owner field while it held the lock.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <ck_spinlock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <weft/mutex.h>
#include <weft/spinlock.h>

#define MUTEX_BATCH 16
#define MUTEX_LONG_NS 1000

typedef struct mutex_state {
	_Alignas(BENCH_PAD) pthread_mutex_t pm;
	_Alignas(BENCH_PAD) ck_spinlock_fas_t fas;
	_Alignas(BENCH_PAD) ck_spinlock_cas_t cas;
	_Alignas(BENCH_PAD) ck_spinlock_ticket_t ticket;
	_Alignas(BENCH_PAD) ck_spinlock_mcs_t mcs;
	_Alignas(BENCH_PAD) weft_mutex wm;
	_Alignas(BENCH_PAD) weft_spin_ttas wttas;
	_Alignas(BENCH_PAD) weft_spin_ticket wticket;
	_Alignas(BENCH_PAD) weft_spin_mcs wmcs;
	_Alignas(BENCH_PAD) uint64_t plain; /* protected by the lock under test */
	unsigned owner;
	_Alignas(BENCH_PAD) _Atomic uint64_t violations;
	long cs_ns;
	unsigned batch;
} mutex_state;

static void *mutex_create_kind(const bench_shape *sh, int adaptive)
{
	mutex_state *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	if (adaptive)
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&s->pm, &a);
	pthread_mutexattr_destroy(&a);
	ck_spinlock_fas_init(&s->fas);
	ck_spinlock_cas_init(&s->cas);
	ck_spinlock_ticket_init(&s->ticket);
	ck_spinlock_mcs_init(&s->mcs);
	weft_mutex_init(&s->wm);
	weft_spin_ttas_init(&s->wttas);
	weft_spin_ticket_init(&s->wticket);
	weft_spin_mcs_init(&s->wmcs);
	s->cs_ns = sh->cs_ns;
	s->batch = sh->cs_ns < 200 ? MUTEX_BATCH : 1;
	return s;
}

static void *mutex_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return mutex_create_kind(sh, 0);
}

static void *adaptive_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return mutex_create_kind(sh, 1);
}

static void mutex_destroy(void *p)
{
	mutex_state *s = p;
	pthread_mutex_destroy(&s->pm);
	weft_mutex_destroy(&s->wm);
	free(s);
}

/* The critical section: owner witness, the plain counter, the busy work. */
static inline void critical(mutex_state *s, bench_thread *t)
{
	s->owner = t->id;
	s->plain++;
	bench_spin_ns(s->cs_ns);
	__asm__ __volatile__("" ::: "memory");
	if (s->owner != t->id)
		atomic_fetch_add_explicit(&s->violations, 1, memory_order_relaxed);
}

static int mutex_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	mutex_state *s = p;
	uint64_t want = 0, bad = atomic_load_explicit(&s->violations, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		want += th[i].ops;
	if (s->plain == want && bad == 0)
		return 0;
	snprintf(err, len, "mutual exclusion broken: %llu increments under the lock, %llu "
			   "acquisitions, %llu owner overwrites",
		 (unsigned long long)s->plain, (unsigned long long)want, (unsigned long long)bad);
	return -1;
}

static int mcs_init(void *p, bench_thread *t)
{
	/* Room for either MCS node type (ck's or weft's). */
	t->local = calloc(1, sizeof(ck_spinlock_mcs_context_t) + sizeof(weft_spin_mcs_node));
	return t->local ? 0 : 12 /* ENOMEM */;
}

static void mcs_fini(void *p, bench_thread *t)
{
	free(t->local);
}

#define MUTEX_OP(name, LOCK, UNLOCK)                                                           \
	static uint64_t name##_op(void *p, bench_thread *t)                                   \
	{                                                                                      \
		mutex_state *s = p;                                                            \
		(void)t;                                                                       \
		for (unsigned i = 0; i < s->batch; i++) {                                     \
			LOCK;                                                                  \
			critical(s, t);                                                        \
			UNLOCK;                                                                \
		}                                                                              \
		return s->batch;                                                               \
	}

MUTEX_OP(pthread, pthread_mutex_lock(&s->pm), pthread_mutex_unlock(&s->pm))
MUTEX_OP(ck_fas, ck_spinlock_fas_lock(&s->fas), ck_spinlock_fas_unlock(&s->fas))
MUTEX_OP(ck_cas, ck_spinlock_cas_lock(&s->cas), ck_spinlock_cas_unlock(&s->cas))
MUTEX_OP(ck_ticket, ck_spinlock_ticket_lock(&s->ticket), ck_spinlock_ticket_unlock(&s->ticket))
MUTEX_OP(ck_mcs, ck_spinlock_mcs_lock(&s->mcs, t->local),
	 ck_spinlock_mcs_unlock(&s->mcs, t->local))
MUTEX_OP(weft_mutex, weft_mutex_lock(&s->wm, NULL), weft_mutex_unlock(&s->wm))
MUTEX_OP(weft_ttas, weft_spin_ttas_lock(&s->wttas), weft_spin_ttas_unlock(&s->wttas))
MUTEX_OP(weft_ticket, weft_spin_ticket_lock(&s->wticket), weft_spin_ticket_unlock(&s->wticket))
MUTEX_OP(weft_mcs, weft_spin_mcs_lock(&s->wmcs, t->local), weft_spin_mcs_unlock(&s->wmcs, t->local))

#define LOCK_IMPL(nm, what, unav, create, op)                                                  \
	{ nm, what, unav, create, mutex_destroy, NULL, NULL, op, NULL, mutex_verify, NULL }

static const bench_impl mutex_impls[] = {
	LOCK_IMPL("pthread", "pthread_mutex_t, default type", NULL, mutex_create, pthread_op),
	LOCK_IMPL("pthread_adaptive", "pthread_mutex_t, PTHREAD_MUTEX_ADAPTIVE_NP (spins first)",
		  NULL, adaptive_create, pthread_op),
	LOCK_IMPL("ck_fas", "ck_spinlock_fas: test-and-set spinlock", bench_unavail_tsan,
		  mutex_create, ck_fas_op),
	LOCK_IMPL("ck_ttas", "ck_spinlock_cas: test-and-test-and-set spinlock",
		  bench_unavail_tsan, mutex_create, ck_cas_op),
	LOCK_IMPL("ck_ticket", "ck_spinlock_ticket: FIFO ticket spinlock", bench_unavail_tsan,
		  mutex_create, ck_ticket_op),
	{ "ck_mcs", "ck_spinlock_mcs: MCS queue spinlock", bench_unavail_tsan, mutex_create,
	  mutex_destroy, mcs_init, mcs_fini, ck_mcs_op, NULL, mutex_verify, NULL },
	LOCK_IMPL("weft_mutex", "weft_mutex: spins briefly, then parks through the waiter seam",
		  NULL, mutex_create, weft_mutex_op),
	LOCK_IMPL("weft_ttas", "weft_spin_ttas: TTAS, exponential backoff, then yields", NULL,
		  mutex_create, weft_ttas_op),
	LOCK_IMPL("weft_ticket", "weft_spin_ticket: FIFO ticket spinlock, yields", NULL,
		  mutex_create, weft_ticket_op),
	{ "weft_mcs", "weft_spin_mcs: MCS queue spinlock, yields", NULL, mutex_create,
	  mutex_destroy, mcs_init, mcs_fini, weft_mcs_op, NULL, mutex_verify, NULL },
};

static size_t mutex_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	long cs[2] = { 0, MUTEX_LONG_NS };
	size_t ncs = 2, n = 0;
	if (cfg->cs_ns >= 0) {
		cs[0] = cfg->cs_ns;
		ncs = 1;
	}
	for (size_t c = 0; c < ncs; c++)
		for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
			memset(&out[n], 0, sizeof out[n]);
			snprintf(out[n].variant, sizeof out[n].variant, "cs=%ldns", cs[c]);
			out[n].threads = out[n].label_threads = cfg->threads[i];
			out[n].cs_ns = cs[c];
		}
	return n;
}

const bench_suite bench_suite_mutex = {
	.name = "mutex",
	.what = "threads take one lock around a critical section",
	.unit_note = "1 op = lock + critical section + unlock",
	.impls = mutex_impls,
	.nimpls = sizeof mutex_impls / sizeof mutex_impls[0],
	.shapes = mutex_shapes,
};
