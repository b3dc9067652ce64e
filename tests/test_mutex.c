/*
 * weft_mutex: mutual exclusion under oversubscription (non-atomic counter, in-lock witness,
 * random yields), trylock/destroy semantics, contexts (already cancelled, deadline, cancel
 * while blocked), no wake-up lost to a waiter that gives up, and the debug-build check of
 * unlocking a mutex the caller does not hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/ctx.h>
#include <weft/mutex.h>

#include "weft_test.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- mutual exclusion ---------------------------------------------------------------- */

struct excl {
	weft_mutex m;
	weft_ctx *ctx;       /* a live context some threads pass (exercises registration) */
	uint64_t iters;
	unsigned threads;
	unsigned yield_in;
	uint64_t counter;    /* not atomic: the mutex alone protects it */
	_Atomic int inside;
	_Atomic int bad;
	_Atomic unsigned seq;
	_Atomic unsigned arrived;
};

static void *excl_main(void *arg)
{
	struct excl *e = arg;
	unsigned id = atomic_fetch_add(&e->seq, 1);
	uint64_t rng = 0xABCDEF12345ull * (id + 1);
	atomic_fetch_add(&e->arrived, 1);
	while (atomic_load(&e->arrived) < e->threads)
		sched_yield();
	for (uint64_t i = 0; i < e->iters; i++) {
		uint64_t how = weft_test_rand(&rng) % 8;
		if (how == 0) {
			while (weft_mutex_trylock(&e->m) != 0)
				sched_yield();
		} else {
			/* Odd threads pass a live context, even ones NULL (the inline path). */
			CHECK_EQ(weft_mutex_lock(&e->m, (id & 1) ? e->ctx : NULL), 0);
		}
		if (atomic_fetch_add_explicit(&e->inside, 1, memory_order_relaxed) != 0)
			atomic_fetch_add_explicit(&e->bad, 1, memory_order_relaxed);
		uint64_t v = e->counter;
		weft_test_maybe_yield(&rng, e->yield_in);
		e->counter = v + 1;
		atomic_fetch_sub_explicit(&e->inside, 1, memory_order_relaxed);
		CHECK_EQ(weft_mutex_unlock(&e->m), 0);
		weft_test_maybe_yield(&rng, 16);
	}
	return NULL;
}

static void run_exclusion(unsigned threads, uint64_t iters, unsigned yield_in)
{
	struct excl e = { .m = WEFT_MUTEX_INITIALIZER, .iters = iters, .threads = threads,
			  .yield_in = yield_in };
	CHECK_EQ(weft_ctx_with_cancel(NULL, &e.ctx), 0);
	uint64_t t0 = weft_now_ns();
	void *args[16];
	for (unsigned i = 0; i < threads; i++)
		args[i] = &e;
	weft_test_run_threads(threads, excl_main, args);
	CHECK_EQ(atomic_load(&e.bad), 0);
	CHECK_EQ(e.counter, (uint64_t)threads * iters);
	CHECK_EQ(weft_mutex_destroy(&e.m), 0);
	weft_ctx_release(e.ctx);
	printf("%u threads x %llu acquisitions (1 in %u yields inside), counter exact, %.3f s\n",
	       threads, (unsigned long long)iters, yield_in, (double)(weft_now_ns() - t0) / 1e9);
}

WEFT_STRESS(exclusion)
{
	run_exclusion(8, weft_test_scale(200000), 64);
}

/* Yields inside the critical section make waiters park: the sleep/wake path, many times. */
WEFT_STRESS(exclusion_parking)
{
	run_exclusion(8, weft_test_scale(10000), 2);
}

/* One CPU for everything: nothing may wait for another core to make progress. */
WEFT_STRESS(one_cpu)
{
	cpu_set_t one, old;
	CHECK_EQ(sched_getaffinity(0, sizeof(old), &old), 0);
	if (!CPU_ISSET(0, &old)) {
		printf("CPU 0 not available to this process: skipped\n");
		return;
	}
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
	run_exclusion(8, weft_test_scale(50000), 64);
	CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof(old), &old), 0);
}

/* ---- trylock, destroy, bad input ----------------------------------------------------- */

static void *trylock_other(void *arg)
{
	weft_mutex *m = arg;
	int r = weft_mutex_trylock(m);
	if (r == 0)
		weft_mutex_unlock(m);
	return (void *)(intptr_t)r;
}

static int trylock_elsewhere(weft_mutex *m)
{
	pthread_t t;
	void *r;
	CHECK_EQ(pthread_create(&t, NULL, trylock_other, m), 0);
	pthread_join(t, &r);
	return (int)(intptr_t)r;
}

WEFT_TEST(trylock_and_destroy)
{
	weft_mutex m;
	CHECK_EQ(weft_mutex_init(&m), 0);
	CHECK_EQ(weft_mutex_trylock(&m), 0);
	CHECK_EQ(weft_mutex_trylock(&m), EBUSY); /* not recursive */
	CHECK_EQ(trylock_elsewhere(&m), EBUSY);
	CHECK_EQ(weft_mutex_destroy(&m), EBUSY);
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	CHECK_EQ(trylock_elsewhere(&m), 0);
	CHECK_EQ(weft_mutex_lock(&m, NULL), 0);
	CHECK_EQ(trylock_elsewhere(&m), EBUSY);
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	CHECK_EQ(weft_mutex_destroy(&m), 0);
	weft_mutex s = WEFT_MUTEX_INITIALIZER;
	CHECK_EQ(weft_mutex_trylock(&s), 0);
	CHECK_EQ(weft_mutex_unlock(&s), 0);
}

WEFT_TEST(null_is_einval)
{
	CHECK_EQ(weft_mutex_init(NULL), EINVAL);
	CHECK_EQ(weft_mutex_destroy(NULL), EINVAL);
	CHECK_EQ(weft_mutex_lock(NULL, NULL), EINVAL);
	CHECK_EQ(weft_mutex_trylock(NULL), EINVAL);
	CHECK_EQ(weft_mutex_unlock(NULL), EINVAL);
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	CHECK_EQ(weft_mutex_lock(NULL, ctx), EINVAL);
	weft_ctx_release(ctx);
}

/* ---- contexts ------------------------------------------------------------------------ */

struct blocked {
	weft_mutex *m;
	weft_ctx *ctx;
	_Atomic int started;
	_Atomic int done;
	int result;
	uint64_t returned_ns;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	atomic_store(&b->started, 1);
	b->result = weft_mutex_lock(b->m, b->ctx);
	b->returned_ns = weft_now_ns();
	if (b->result == 0)
		weft_mutex_unlock(b->m);
	atomic_store(&b->done, 1);
	return NULL;
}

WEFT_TEST(cancelled_ctx_fails_at_once)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	weft_ctx *ctx;
	CHECK_EQ(weft_ctx_with_cancel(NULL, &ctx), 0);
	weft_ctx_cancel(ctx);
	/* Free mutex: still refused, and still free afterwards. */
	CHECK_EQ(weft_mutex_lock(&m, ctx), ECANCELED);
	CHECK_EQ(weft_mutex_trylock(&m), 0);
	/* Held by the caller (would deadlock without the context): refused at once. */
	CHECK_EQ(weft_mutex_lock(&m, ctx), ECANCELED);
	/* Held by another thread. */
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	CHECK_EQ(weft_mutex_lock(&m, NULL), 0);
	struct blocked b = { .m = &m, .ctx = ctx };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, blocked_main, &b), 0);
	pthread_join(t, NULL);
	CHECK_EQ(b.result, ECANCELED);
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	/* A child of a cancelled context is born cancelled. */
	weft_ctx *child;
	CHECK_EQ(weft_ctx_with_timeout(ctx, WEFT_NS_PER_SEC, &child), 0);
	CHECK_EQ(weft_mutex_lock(&m, child), ECANCELED);
	/* An expired deadline: ETIMEDOUT at once. */
	weft_ctx *past;
	CHECK_EQ(weft_ctx_with_deadline(NULL, weft_now_ns() - 1, &past), 0);
	CHECK_EQ(weft_mutex_lock(&m, past), ETIMEDOUT);
	CHECK_EQ(weft_mutex_destroy(&m), 0);
	weft_ctx_release(past);
	weft_ctx_release(child);
	weft_ctx_release(ctx);
}

WEFT_TEST(deadline_not_early)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	CHECK_EQ(weft_mutex_lock(&m, NULL), 0);
	for (int i = 0; i < 3; i++) {
		uint64_t deadline = weft_now_ns() + 20 * 1000 * 1000;
		struct blocked b = { .m = &m };
		CHECK_EQ(weft_ctx_with_deadline(NULL, deadline, &b.ctx), 0);
		pthread_t t;
		CHECK_EQ(pthread_create(&t, NULL, blocked_main, &b), 0);
		pthread_join(t, NULL);
		CHECK_EQ(b.result, ETIMEDOUT);
		CHECK(b.returned_ns >= deadline);
		printf("mutex lock deadline lateness: %.3f ms\n",
		       (double)(b.returned_ns - deadline) / 1e6);
		weft_ctx_release(b.ctx);
	}
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	/* The timed-out waiters left nothing behind: a plain lock/unlock still works. */
	CHECK_EQ(trylock_elsewhere(&m), 0);
	CHECK_EQ(weft_mutex_destroy(&m), 0);
}

WEFT_TEST(cancel_wakes_blocked_waiter)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	CHECK_EQ(weft_mutex_lock(&m, NULL), 0);
	struct blocked b = { .m = &m };
	CHECK_EQ(weft_ctx_with_cancel(NULL, &b.ctx), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, blocked_main, &b), 0);
	while (!atomic_load(&b.started))
		sched_yield();
	sleep_ms(30); /* long enough to be parked (not required for the test to be right) */
	CHECK_EQ(atomic_load(&b.done), 0);
	uint64_t t0 = weft_now_ns();
	weft_ctx_cancel(b.ctx);
	pthread_join(t, NULL);
	CHECK_EQ(b.result, ECANCELED);
	printf("cancel to waiter's return: %.3f ms\n", (double)(b.returned_ns - t0) / 1e6);
	/* Still ours, and it still works for others after we let go. */
	CHECK_EQ(trylock_elsewhere(&m), EBUSY);
	struct blocked c = { .m = &m };
	CHECK_EQ(pthread_create(&t, NULL, blocked_main, &c), 0);
	while (!atomic_load(&c.started))
		sched_yield();
	sleep_ms(5);
	CHECK_EQ(weft_mutex_unlock(&m), 0);
	pthread_join(t, NULL);
	CHECK_EQ(c.result, 0);
	CHECK_EQ(weft_mutex_destroy(&m), 0);
	weft_ctx_release(b.ctx);
}

/*
 * No lost wake-up after waiters give up. Each round: the main thread holds the mutex while
 * W waiters block on it, each under its own context; some contexts are cancelled (by a
 * canceller thread racing the unlock) and some carry deadlines that expire around the
 * unlock, the rest are never done. Every waiter must return: 0 (it got the lock; possible
 * for a doomed one that won the race), or its own context's error; and every waiter whose
 * context never ends must get the lock. A wake swallowed by a leaving waiter leaves a
 * healthy one asleep forever; alarm() turns that hang into a failure.
 */
#define GIVE_UP_WAITERS 6

struct give_up_round {
	weft_mutex m;
	uint64_t counter; /* under m */
	weft_ctx *ctx[GIVE_UP_WAITERS];
	int kind[GIVE_UP_WAITERS]; /* 0 healthy, 1 cancelled, 2 deadline */
	int result[GIVE_UP_WAITERS];
	_Atomic unsigned started;
	uint64_t rng;
};

struct give_up_arg {
	struct give_up_round *r;
	int i;
};

static void *give_up_waiter(void *arg)
{
	struct give_up_arg *a = arg;
	struct give_up_round *r = a->r;
	atomic_fetch_add(&r->started, 1);
	int res = weft_mutex_lock(&r->m, r->ctx[a->i]);
	if (res == 0) {
		r->counter++;
		weft_mutex_unlock(&r->m);
	}
	r->result[a->i] = res;
	return NULL;
}

static void *give_up_canceller(void *arg)
{
	struct give_up_round *r = arg;
	uint64_t rng = r->rng;
	for (int i = 0; i < GIVE_UP_WAITERS; i++) {
		if (r->kind[i] != 1)
			continue;
		weft_test_maybe_yield(&rng, 2);
		weft_ctx_cancel(r->ctx[i]);
	}
	return NULL;
}

WEFT_STRESS(waiters_giving_up_lose_no_wakeup)
{
	alarm(240);
	uint64_t rounds = weft_test_scale(1000);
	uint64_t rng = 42;
	unsigned gave_up = 0, got = 0;
	for (uint64_t round = 0; round < rounds; round++) {
		struct give_up_round r = { .m = WEFT_MUTEX_INITIALIZER, .rng = rng + round };
		CHECK_EQ(weft_mutex_lock(&r.m, NULL), 0);
		uint64_t now = weft_now_ns();
		for (int i = 0; i < GIVE_UP_WAITERS; i++) {
			r.kind[i] = (int)(weft_test_rand(&rng) % 3);
			if (r.kind[i] == 2)
				CHECK_EQ(weft_ctx_with_deadline(NULL,
								now + weft_test_rand(&rng) % 2000000,
								&r.ctx[i]),
					 0);
			else
				CHECK_EQ(weft_ctx_with_cancel(NULL, &r.ctx[i]), 0);
		}
		pthread_t w[GIVE_UP_WAITERS], c;
		struct give_up_arg args[GIVE_UP_WAITERS];
		for (int i = 0; i < GIVE_UP_WAITERS; i++) {
			args[i] = (struct give_up_arg){ &r, i };
			CHECK_EQ(pthread_create(&w[i], NULL, give_up_waiter, &args[i]), 0);
		}
		while (atomic_load(&r.started) < GIVE_UP_WAITERS)
			sched_yield();
		/* Let some of them park; then race cancels, deadlines and the unlock. */
		weft_test_maybe_yield(&rng, 2);
		if (weft_test_rand(&rng) % 2)
			sleep_ms(1);
		CHECK_EQ(pthread_create(&c, NULL, give_up_canceller, &r), 0);
		weft_test_maybe_yield(&rng, 2);
		CHECK_EQ(weft_mutex_unlock(&r.m), 0);
		pthread_join(c, NULL);
		for (int i = 0; i < GIVE_UP_WAITERS; i++)
			pthread_join(w[i], NULL);
		uint64_t winners = 0;
		for (int i = 0; i < GIVE_UP_WAITERS; i++) {
			int res = r.result[i];
			if (r.kind[i] == 0)
				CHECK_EQ(res, 0);
			else if (r.kind[i] == 1)
				CHECK(res == 0 || res == ECANCELED);
			else
				CHECK(res == 0 || res == ETIMEDOUT);
			winners += res == 0;
			gave_up += res != 0;
			weft_ctx_release(r.ctx[i]);
		}
		got += (unsigned)winners;
		CHECK_EQ(r.counter, winners);
		CHECK_EQ(weft_mutex_destroy(&r.m), 0);
	}
	alarm(0);
	printf("%llu rounds of %d waiters: %u got the lock, %u gave up, none stranded\n",
	       (unsigned long long)rounds, GIVE_UP_WAITERS, got, gave_up);
}

/* ---- misuse (debug builds) ----------------------------------------------------------- */

#if defined(WEFT_DEBUG_CHECKS)
static void *lock_and_keep(void *arg)
{
	weft_mutex_lock(arg, NULL);
	return NULL;
}

/* Runs fn in a child process; true if it died of SIGABRT. */
static bool aborts(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void unlock_unlocked(void)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	weft_mutex_unlock(&m);
}

static void unlock_other_threads(void)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	pthread_t t;
	/* Take an index first: the locker's is reused once it exits, and would match. */
	(void)weft_thread_index();
	pthread_create(&t, NULL, lock_and_keep, &m);
	pthread_join(t, NULL);
	weft_mutex_unlock(&m);
}

static void unlock_own(void)
{
	weft_mutex m = WEFT_MUTEX_INITIALIZER;
	weft_mutex_lock(&m, NULL);
	weft_mutex_unlock(&m);
}
#endif

WEFT_TEST(unlock_not_held_is_caught_in_debug_builds)
{
#if defined(WEFT_DEBUG_CHECKS)
	CHECK(aborts(unlock_unlocked));
	CHECK(aborts(unlock_other_threads));
	CHECK(!aborts(unlock_own));
	printf("unlocking a mutex not held aborts (WEFT_DEBUG_CHECKS)\n");
#else
	printf("WEFT_DEBUG_CHECKS off in this build: skipped\n");
#endif
}
