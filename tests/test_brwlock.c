/* weft_brwlock: exclusion (in-lock witness), writer progress, try-locks, cancellation. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/alloc.h>
#include <weft/brwlock.h>
#include <weft/ctx.h>

#include "rw_cases.h"
#include "weft_test.h"

static int rd(void *l, weft_ctx *c) { return weft_brwlock_rdlock(l, c); }
static int rdun(void *l) { return weft_brwlock_rdunlock(l); }
static int wr(void *l, weft_ctx *c) { return weft_brwlock_wrlock(l, c); }
static int wrun(void *l) { return weft_brwlock_wrunlock(l); }
static int tryrd(void *l) { return weft_brwlock_tryrdlock(l); }
static int trywr(void *l) { return weft_brwlock_trywrlock(l); }

static bool writer_waiting(void *l)
{
	weft_brwlock *b = l;
	return (atomic_load(&b->wflag) & WEFT_BRWLOCK_WRITER_) != 0;
}

static bool readers_parked(void *l)
{
	weft_brwlock *b = l;
	return (atomic_load(&b->wflag) & WEFT_BRWLOCK_WAIT_) != 0;
}

static struct rw_ops make_ops(void)
{
	weft_brwlock *l;
	CHECK_EQ(weft_brwlock_create(&l), 0);
	return (struct rw_ops){
		.lock = l, .rdlock = rd, .rdunlock = rdun, .wrlock = wr, .wrunlock = wrun,
		.tryrdlock = tryrd, .trywrlock = trywr, .writer_waiting = writer_waiting,
		.readers_parked = readers_parked,
	};
}

/* Idle: no writer flag, no reader and no sleep hint in any slot; then destroy. */
static void check_idle_destroy(struct rw_ops *o)
{
	weft_brwlock *b = o->lock;
	CHECK_EQ(atomic_load(&b->wflag), 0);
	for (uint32_t k = 1; k <= b->nslots; k++) /* own slots, then the shared one */
		CHECK_EQ(atomic_load(weft_brwlock_line_(b, k)) &
				 (WEFT_BRWLOCK_COUNT_ | WEFT_BRWLOCK_SLEEP_), 0);
	/* Invariant 7: nused counts the bits of the used bitmap (after the shared slot). */
	_Atomic uint64_t *used = (_Atomic uint64_t *)(void *)weft_brwlock_line_(b, b->nslots + 1);
	uint32_t bits = 0;
	for (uint32_t w = 0; w < b->nslots / 64; w++)
		bits += (uint32_t)__builtin_popcountll(atomic_load(&used[w]));
	CHECK_EQ(atomic_load(&b->nused), bits);
	weft_brwlock_destroy(b);
}

WEFT_TEST(bad_input)
{
	CHECK_EQ(weft_brwlock_create(NULL), EINVAL);
	weft_brwlock_destroy(NULL);
	CHECK_EQ(weft_brwlock_rdlock(NULL, NULL), EINVAL);
	CHECK_EQ(weft_brwlock_wrlock(NULL, NULL), EINVAL);
	CHECK_EQ(weft_brwlock_tryrdlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_trywrlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_rdunlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_wrunlock(NULL), EINVAL);
}

struct fail_alloc {
	int calls;
};

static void *failing_alloc(size_t size, size_t align, void *user)
{
	(void)size;
	(void)align;
	((struct fail_alloc *)user)->calls++;
	return NULL;
}

static void never_free(void *p, void *user)
{
	(void)p;
	(void)user;
}

WEFT_TEST(create_enomem)
{
	struct fail_alloc f = { 0 };
	weft_allocator a = { failing_alloc, never_free, &f };
	CHECK_EQ(weft_allocator_set(&a), 0);
	weft_brwlock *l = (weft_brwlock *)&f;
	int r = weft_brwlock_create(&l);
	CHECK_EQ(weft_allocator_set(NULL), 0);
	CHECK_EQ(r, ENOMEM);
	CHECK_EQ(f.calls, 1);
	CHECK(l == (weft_brwlock *)&f); /* untouched on failure */
}

struct used_arg {
	weft_brwlock *b;
	pthread_barrier_t *all_alive;
};

static void *use_slot_main(void *arg)
{
	struct used_arg *u = arg;
	pthread_barrier_wait(u->all_alive); /* every thread alive: distinct indices */
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(weft_brwlock_rdlock(u->b, NULL), 0);
		CHECK_EQ(weft_brwlock_rdunlock(u->b), 0);
		CHECK_EQ(weft_brwlock_tryrdlock(u->b), 0);
		CHECK_EQ(weft_brwlock_rdunlock(u->b), 0);
	}
	pthread_barrier_wait(u->all_alive); /* keep the indices until all are done */
	return NULL;
}

/*
 * nused (which picks the waiters' spin) counts one per thread that read-locked, however
 * often it did (invariant 7); writers do not count.
 */
WEFT_TEST(used_slots_counted)
{
	enum { N = 4 };
	struct rw_ops o = make_ops();
	weft_brwlock *b = o.lock;
	CHECK_EQ(atomic_load(&b->nused), 0);
	CHECK_EQ(weft_brwlock_wrlock(b, NULL), 0);
	CHECK_EQ(weft_brwlock_wrunlock(b), 0);
	CHECK_EQ(atomic_load(&b->nused), 0);
	CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0);
	CHECK_EQ(weft_brwlock_rdunlock(b), 0);
	CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0);
	CHECK_EQ(weft_brwlock_rdunlock(b), 0);
	CHECK_EQ(atomic_load(&b->nused), 1);
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, N);
	struct used_arg u = { b, &bar };
	pthread_t th[N];
	for (int i = 0; i < N; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, use_slot_main, &u), 0);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	CHECK_EQ(atomic_load(&b->nused), 1 + N);
	CHECK(b->ncpus >= 1);
	check_idle_destroy(&o);
}

WEFT_TEST(nested_read)
{
	struct rw_ops o = make_ops();
	CHECK_EQ(weft_brwlock_rdlock(o.lock, NULL), 0);
	CHECK_EQ(weft_brwlock_rdlock(o.lock, NULL), 0);
	CHECK_EQ(weft_brwlock_tryrdlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), EBUSY);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), EBUSY);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_wrunlock(o.lock), 0);
	check_idle_destroy(&o);
}

WEFT_TEST(trylock)
{
	struct rw_ops o = make_ops();
	rw_case_trylock(&o);
	check_idle_destroy(&o);
}

WEFT_STRESS(witness_8_threads)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 8, weft_test_scale(200000), 100, 0);
	check_idle_destroy(&o);
}

WEFT_STRESS(witness_16_threads_write_heavy)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 16, weft_test_scale(50000), 3, 0);
	check_idle_destroy(&o);
}

/* More live threads than slots: the ones beyond read through the underlying lock. */
struct crowd {
	struct rw_witness *w;
	pthread_barrier_t *all_alive;
	uint64_t seed;
};

static void *crowd_main(void *arg)
{
	struct crowd *c = arg;
	(void)weft_thread_index(); /* take an index while every other thread holds one */
	pthread_barrier_wait(c->all_alive);
	struct rw_worker me = { c->w, c->seed };
	rw_witness_main(&me);
	pthread_barrier_wait(c->all_alive); /* keep the indices until all are done */
	return NULL;
}

WEFT_STRESS(witness_beyond_slots)
{
	struct rw_ops o = make_ops();
	weft_brwlock *b = o.lock;
	unsigned n = b->nslots + 8;
	struct rw_witness w = { .ops = &o, .iters = weft_test_scale(3000), .write_one_in = 20,
				.timeout_one_in = 4 };
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, n);
	struct crowd *cs = calloc(n, sizeof(*cs));
	pthread_t *th = calloc(n, sizeof(*th));
	CHECK(cs != NULL && th != NULL);
	for (unsigned i = 0; i < n; i++) {
		cs[i] = (struct crowd){ &w, &bar, 77 * (i + 1) };
		CHECK_EQ(pthread_create(&th[i], NULL, crowd_main, &cs[i]), 0);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	free(cs);
	free(th);
	CHECK_EQ(w.a, w.writes);
	printf("%u threads over %u slots: %llu reads, %llu writes\n", n, b->nslots,
	       (unsigned long long)atomic_load(&w.reads_done), (unsigned long long)w.writes);
	check_idle_destroy(&o);
}

/* Give-ups (short deadlines) racing wake-ups and hand-overs: nothing lost, nothing broken. */
WEFT_STRESS(witness_with_timeouts)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 8, weft_test_scale(100000), 5, 3);
	check_idle_destroy(&o);
}

WEFT_STRESS(writer_not_starved)
{
	struct rw_ops o = make_ops();
	rw_case_writer_not_starved(&o, 4);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_rdlock)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_rdlock(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_wrlock_lets_readers_in)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_wrlock(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_one_of_two_writers)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_one_of_two_writers(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(deadline)
{
	struct rw_ops o = make_ops();
	rw_case_deadline(&o);
	check_idle_destroy(&o);
}

/* ---- the writer's sleep hint in the reader's slot ---- */

static _Atomic uint32_t *own_slot(weft_brwlock *b)
{
	return weft_brwlock_line_(b, weft_thread_index() + 1);
}

struct slot_probe {
	weft_brwlock *b;
	_Atomic uint32_t *slot;
};

static bool slot_has_sleep(void *p)
{
	struct slot_probe *s = p;
	return (atomic_load(s->slot) & WEFT_BRWLOCK_SLEEP_) != 0;
}

/*
 * A writer that waits for a reader naps with SLEEP in that reader's slot. A nested lock
 * keeps it, an unlock that leaves a lock held keeps it (the writer must go on waiting),
 * and the last unlock clears it and lets the writer in.
 */
WEFT_TEST(sleep_hint_in_the_slot)
{
	struct rw_ops o = make_ops();
	weft_brwlock *b = o.lock;
	CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0);
	struct slot_probe p = { b, own_slot(b) };
	CHECK_EQ(atomic_load(p.slot), WEFT_BRWLOCK_REG_ + 1);
	struct rw_call w;
	pthread_t tw;
	rw_call_start(&w, &tw, &o, NULL, true);
	w.unlock_after = false;
	rw_await(slot_has_sleep, &p);
	CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0); /* nested: in, although a writer waits */
	CHECK_EQ(atomic_load(p.slot), WEFT_BRWLOCK_REG_ + WEFT_BRWLOCK_SLEEP_ + 2);
	CHECK_EQ(weft_brwlock_rdunlock(b), 0);
	CHECK_EQ(atomic_load(p.slot), WEFT_BRWLOCK_REG_ + WEFT_BRWLOCK_SLEEP_ + 1);
	rw_sleep_ms(5);
	CHECK(!atomic_load(&w.done));
	CHECK_EQ(weft_brwlock_rdunlock(b), 0);
	CHECK_EQ(atomic_load(p.slot), WEFT_BRWLOCK_REG_);
	pthread_join(tw, NULL);
	CHECK_EQ(atomic_load(&w.result), 0);
	CHECK_EQ(weft_brwlock_wrunlock(b), 0);
	check_idle_destroy(&o);
}

/*
 * A writer that waits counts among the lock's users (nused, invariant 7) as a reader
 * would: behind another writer, and draining a reader.
 */
WEFT_TEST(waiting_writers_counted)
{
	struct rw_ops o = make_ops();
	weft_brwlock *b = o.lock;
	CHECK_EQ(weft_brwlock_wrlock(b, NULL), 0);
	struct rw_call w;
	pthread_t tw;
	rw_call_start(&w, &tw, &o, NULL, true);
	rw_await(readers_parked, b); /* WAIT: the second writer parked on wflag */
	CHECK_EQ(weft_brwlock_wrunlock(b), 0);
	pthread_join(tw, NULL);
	CHECK_EQ(atomic_load(&w.result), 0);
	CHECK_EQ(atomic_load(&b->nused), 1); /* the waiting writer; main only wrote */
	check_idle_destroy(&o);

	o = make_ops();
	b = o.lock;
	CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0);
	CHECK_EQ(atomic_load(&b->nused), 1);
	struct slot_probe p = { b, own_slot(b) };
	rw_call_start(&w, &tw, &o, NULL, true);
	rw_await(slot_has_sleep, &p); /* the writer drains this thread's slot */
	CHECK_EQ(weft_brwlock_rdunlock(b), 0);
	pthread_join(tw, NULL);
	CHECK_EQ(atomic_load(&w.result), 0);
	CHECK_EQ(atomic_load(&b->nused), 2);
	check_idle_destroy(&o);
}

/* A writer waiting for another writer (not for readers) is cancelled; nothing is left. */
WEFT_TEST(cancel_writer_behind_writer)
{
	struct rw_ops o = make_ops();
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	CHECK_EQ(weft_brwlock_wrlock(o.lock, NULL), 0);
	struct rw_call w;
	pthread_t tw;
	rw_call_start(&w, &tw, &o, ctx, true);
	rw_await(readers_parked, o.lock); /* WAIT: the second writer parked on wflag */
	CHECK(!atomic_load(&w.done));
	weft_ctx_cancel(ctx);
	pthread_join(tw, NULL);
	CHECK_EQ(atomic_load(&w.result), ECANCELED);
	CHECK_EQ(weft_brwlock_wrunlock(o.lock), 0);
	weft_ctx_release(ctx);
	CHECK_EQ(weft_brwlock_tryrdlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	check_idle_destroy(&o);
}

/* Misuse is reported, not silently absorbed (EPERM; debug builds abort instead). */
WEFT_TEST(unlock_misuse)
{
#if !(defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS)
	struct rw_ops o = make_ops();
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), EPERM);
	CHECK_EQ(weft_brwlock_wrunlock(o.lock), EPERM);
	CHECK_EQ(weft_brwlock_rdlock(o.lock, NULL), 0);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), EPERM);
	check_idle_destroy(&o);
#endif
}

/*
 * Lifetime: a writer may destroy the lock as soon as it holds it; a reader that has just
 * left (through the inline store, or through the wake of a sleeping writer) must not touch
 * it again (ASan sees any use after free).
 */
struct handoff {
	_Atomic(weft_brwlock *) lock;
	_Atomic int in;
	uint64_t rounds;
};

static void *handoff_reader(void *arg)
{
	struct handoff *h = arg;
	uint64_t rng = 99;
	for (uint64_t r = 0; r < h->rounds; r++) {
		weft_brwlock *l;
		while ((l = atomic_load_explicit(&h->lock, memory_order_acquire)) == NULL)
			sched_yield();
		atomic_store_explicit(&h->lock, NULL, memory_order_relaxed);
		CHECK_EQ(weft_brwlock_rdlock(l, NULL), 0);
		atomic_store_explicit(&h->in, 1, memory_order_release);
		if (weft_test_rand(&rng) % 4 == 0)
			rw_sleep_ms(1); /* long enough for the writer to nap with SLEEP set */
		else
			weft_test_maybe_yield(&rng, 2);
		CHECK_EQ(weft_brwlock_rdunlock(l), 0);
	}
	return NULL;
}

WEFT_STRESS(writer_destroys_after_readers_leave)
{
	struct handoff h = { .rounds = weft_test_scale(400) };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, handoff_reader, &h), 0);
	for (uint64_t r = 0; r < h.rounds; r++) {
		weft_brwlock *l;
		CHECK_EQ(weft_brwlock_create(&l), 0);
		atomic_store_explicit(&h.in, 0, memory_order_relaxed);
		atomic_store_explicit(&h.lock, l, memory_order_release);
		while (!atomic_load_explicit(&h.in, memory_order_acquire))
			sched_yield();
		CHECK_EQ(weft_brwlock_wrlock(l, NULL), 0);
		CHECK_EQ(weft_brwlock_wrunlock(l), 0);
		weft_brwlock_destroy(l);
	}
	pthread_join(t, NULL);
}

/* ---- the per-thread slot cache of the inline paths (brwlock.h, weft_brwlock_tls_) ---- */

/* Another thread's trywrlock on l (released at once when it succeeds). */
static void *try_write_fn(void *arg)
{
	weft_brwlock *l = arg;
	int r = weft_brwlock_trywrlock(l);
	if (r == 0)
		CHECK_EQ(weft_brwlock_wrunlock(l), 0);
	return (void *)(intptr_t)r;
}

static int try_write_elsewhere(weft_brwlock *l)
{
	pthread_t t;
	void *r;
	CHECK_EQ(pthread_create(&t, NULL, try_write_fn, l), 0);
	CHECK_EQ(pthread_join(t, &r), 0);
	return (int)(intptr_t)r;
}

/* Read locks on two locks at once: each unlock finds its own lock's slot, whichever lock the
 * cache holds; writers see exactly the locks still read-held. */
WEFT_TEST(slot_cache_two_locks)
{
	weft_brwlock *a, *b;
	CHECK_EQ(weft_brwlock_create(&a), 0);
	CHECK_EQ(weft_brwlock_create(&b), 0);
	for (int order = 0; order < 2; order++) {
		CHECK_EQ(weft_brwlock_rdlock(a, NULL), 0);
		CHECK_EQ(weft_brwlock_rdlock(b, NULL), 0);
		CHECK_EQ(weft_brwlock_rdlock(a, NULL), 0); /* nested, after the cache moved to b */
		CHECK_EQ(try_write_elsewhere(a), EBUSY);
		CHECK_EQ(try_write_elsewhere(b), EBUSY);
		weft_brwlock *first = order ? b : a, *second = order ? a : b;
		CHECK_EQ(weft_brwlock_rdunlock(first), 0);
		if (first == a) {
			CHECK_EQ(try_write_elsewhere(a), EBUSY); /* still one read lock on a */
			CHECK_EQ(weft_brwlock_rdunlock(a), 0);
		}
		CHECK_EQ(try_write_elsewhere(first), 0);
		CHECK_EQ(try_write_elsewhere(second), EBUSY);
		CHECK_EQ(weft_brwlock_rdunlock(second), 0);
		if (second == a)
			CHECK_EQ(weft_brwlock_rdunlock(a), 0);
		CHECK_EQ(try_write_elsewhere(a), 0);
		CHECK_EQ(try_write_elsewhere(b), 0);
	}
	weft_brwlock_destroy(a);
	weft_brwlock_destroy(b);
}

/* A lock created at the address of a freed one (the allocator usually hands it back): the
 * cached slot of the old lock must not let a reader of the new one in unseen. */
WEFT_TEST(slot_cache_recreated_lock)
{
	unsigned same = 0;
	void *prev = NULL;
	for (int round = 0; round < 50; round++) {
		weft_brwlock *l;
		CHECK_EQ(weft_brwlock_create(&l), 0);
		same += (void *)l == prev;
		prev = l;
		CHECK_EQ(weft_brwlock_rdlock(l, NULL), 0);
		CHECK_EQ(try_write_elsewhere(l), EBUSY);
		CHECK_EQ(weft_brwlock_rdunlock(l), 0);
		CHECK_EQ(try_write_elsewhere(l), 0);
		weft_brwlock_destroy(l);
	}
	printf("  a new lock at the freed one's address in %u of 49 rounds\n", same);
}

/* Exclusion on two locks at once: threads read one lock, or both nested (cache misses on
 * every change of lock), and write either; per-lock witnesses count who is inside. */
struct two_locks {
	weft_brwlock *l[2];
	_Atomic int readers[2], writers[2];
	uint64_t rounds;
};

static void two_read(struct two_locks *t, int i)
{
	CHECK_EQ(weft_brwlock_rdlock(t->l[i], NULL), 0);
	atomic_fetch_add(&t->readers[i], 1);
	CHECK_EQ(atomic_load(&t->writers[i]), 0);
}

static void two_unread(struct two_locks *t, int i)
{
	CHECK_EQ(atomic_load(&t->writers[i]), 0);
	atomic_fetch_sub(&t->readers[i], 1);
	CHECK_EQ(weft_brwlock_rdunlock(t->l[i]), 0);
}

static void *two_locks_fn(void *arg)
{
	struct two_locks *t = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t r = 0; r < t->rounds; r++) {
		uint64_t x = weft_test_rand(&rng);
		int i = (int)(x & 1);
		switch ((x >> 1) % 20) {
		case 0: /* write */
			CHECK_EQ(weft_brwlock_wrlock(t->l[i], NULL), 0);
			CHECK_EQ(atomic_fetch_add(&t->writers[i], 1), 0);
			CHECK_EQ(atomic_load(&t->readers[i]), 0);
			weft_test_maybe_yield(&rng, 8);
			atomic_fetch_sub(&t->writers[i], 1);
			CHECK_EQ(weft_brwlock_wrunlock(t->l[i]), 0);
			break;
		case 1: case 2: case 3: case 4: case 5:
			/* Both, taken in one order (two readers taking them in opposite orders
			 * deadlock behind writers, as with any writer-preferring lock), released
			 * in either. */
			two_read(t, 0);
			two_read(t, 1);
			weft_test_maybe_yield(&rng, 16);
			two_unread(t, (x >> 8) & 1 ? i : !i);
			two_unread(t, (x >> 8) & 1 ? !i : i);
			break;
		default:
			two_read(t, i);
			weft_test_maybe_yield(&rng, 32);
			two_unread(t, i);
		}
	}
	return NULL;
}

WEFT_STRESS(witness_two_locks_alternating)
{
	struct two_locks t = { .rounds = weft_test_scale(100000) };
	CHECK_EQ(weft_brwlock_create(&t.l[0]), 0);
	CHECK_EQ(weft_brwlock_create(&t.l[1]), 0);
	void *args[8];
	for (int k = 0; k < 8; k++)
		args[k] = &t;
	weft_test_run_threads(8, two_locks_fn, args);
	CHECK_EQ(atomic_load(&t.readers[0]) + atomic_load(&t.readers[1]), 0);
	weft_brwlock_destroy(t.l[0]);
	weft_brwlock_destroy(t.l[1]);
}
