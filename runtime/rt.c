/*
 * Starting and stopping a runtime.
 *
 * Shutdown, and why no accepted task is lost: weft_rt_stop first closes the two doors.
 * Spawns from outside the workers are counted in ext_spawned by a CAS that fails once
 * EXT_CLOSED is set, so each is either counted (and waited for) or refused. Spawns from
 * inside come from a running task, which is itself live: its worker counts the spawn
 * (release) before the spawning task's completion is counted (release), so stop, reading
 * every completion counter before every spawn counter (acquire), never sees a completion
 * without the spawns that preceded it. Counters only grow, so spawned == completed read
 * in that order means every task accepted so far has finished. Only then are the workers
 * told to exit.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <weft/thread.h>
#include <weft/waiter.h>

#include "../sync/alloc.h"
#include "../sync/futex.h"
#include "sched.h"

#define RT_MAX_WORKERS 1024
#define RT_DEFAULT_STACK (64 * 1024)

void weft_rt_config_init(weft_rt_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 0;
	cfg->stack_size = RT_DEFAULT_STACK;
	cfg->inject_queue = WEFT_QUEUE_MUTEX;
	cfg->scheduler = WEFT_SCHED_STEAL;
}

weft_rt *weft_rt_current(void)
{
	struct worker *w = weft_worker_self();
	return w != NULL ? w->rt : NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	weft_worker_set_self(w);
	atomic_fetch_add_explicit(&w->rt->started, 1, memory_order_relaxed);
	/* Tasks run on pool fibers (the first one was made by weft_rt_start). This thread's
	 * own fiber record may still fail to allocate: retry, since a worker that cannot run
	 * fibers could not resume a blocked task. Acquire: pairs with rt_join_workers. */
	while (weft_fibers_thread_start(w) == ENOMEM &&
	       !atomic_load_explicit(&w->rt->shutdown, memory_order_acquire)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	weft_worker_set_self(NULL);
	return NULL;
}

static int config_check(weft_rt_config *c)
{
	if ((unsigned)c->scheduler > WEFT_SCHED_SHARED)
		return EINVAL;
	if ((unsigned)c->inject_queue >= WEFT_QUEUE_KIND_COUNT ||
	    c->inject_queue == WEFT_QUEUE_SPSC || c->inject_queue == WEFT_QUEUE_MPSC)
		return EINVAL;
	if (c->workers == 0)
		c->workers = weft_cpu_count();
	if (c->workers > RT_MAX_WORKERS)
		return EINVAL;
	if (c->stack_size == 0)
		c->stack_size = RT_DEFAULT_STACK;
	if (c->stack_size < 16 * 1024 || c->stack_size > (size_t)1 << 30)
		return EINVAL;
	return 0;
}

static void rt_free(weft_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (rt->workers[i] != NULL)
			weft_fibers_pool_free(rt->workers[i]);
	if (rt->workers != NULL && rt->nworkers > 0 && rt->workers[0] != NULL)
		weft_fibers_cache_free(rt);
	pthread_mutex_destroy(&rt->fcache_lock);
	weft_gorec_fini(rt);
	pthread_mutex_destroy(&rt->gorec_lock);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker *w = rt->workers[i];
		if (w == NULL)
			continue;
		weft_deque_destroy(w->deque);
		weft_timers_fini(w);
		weft_gorec_worker_fini(w);
		weft_mem_free(w);
	}
	weft_mem_free(rt->workers);
	weft_inject_fini(&rt->inject);
	pthread_mutex_destroy(&rt->idle_lock);
	weft_mem_free(rt);
}

static int rt_alloc(weft_rt **out, const weft_rt_config *cfg)
{
	weft_rt *rt = weft_mem_zalloc(sizeof(*rt), WEFT_PADDING);
	if (rt == NULL)
		return ENOMEM;
	rt->cfg = *cfg;
	pthread_mutex_init(&rt->idle_lock, NULL);
	pthread_mutex_init(&rt->fcache_lock, NULL);
	pthread_mutex_init(&rt->gorec_lock, NULL);
	int r = weft_inject_init(&rt->inject, &rt->cfg);
	if (r != 0) {
		pthread_mutex_destroy(&rt->idle_lock);
		pthread_mutex_destroy(&rt->fcache_lock);
		pthread_mutex_destroy(&rt->gorec_lock);
		weft_mem_free(rt);
		return r;
	}
	rt->workers = weft_mem_zalloc(cfg->workers * sizeof(struct worker *), 0);
	if (rt->workers == NULL) {
		rt_free(rt);
		return ENOMEM;
	}
	rt->nworkers = cfg->workers;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker *w = weft_mem_zalloc(sizeof(*w), WEFT_PADDING);
		if (w == NULL) {
			rt_free(rt);
			return ENOMEM;
		}
		rt->workers[i] = w;
		w->rt = rt;
		w->index = i;
		w->shared = cfg->scheduler == WEFT_SCHED_SHARED;
		weft_timers_init(w);
		w->rng = UINT64_C(0x9E3779B97F4A7C15) * (i + 1) ^ (uintptr_t)w;
		if (w->rng == 0)
			w->rng = 1;
		if (weft_deque_create(&w->deque, 256) != 0 || weft_fibers_prepare(w) != 0) {
			rt_free(rt);
			return ENOMEM;
		}
	}
	*out = rt;
	return 0;
}

/* Tell the workers to exit once idle, and join the first n of them. */
static void rt_join_workers(weft_rt *rt, unsigned n)
{
	/* Release: pairs with the acquire loads of shutdown in the worker loop and in
	 * weft_park_idle (P4), which follow the idle lock taken by wake_all below. */
	atomic_store_explicit(&rt->shutdown, true, memory_order_release);
	weft_park_wake_all(rt);
	for (unsigned i = 0; i < n; i++)
		pthread_join(rt->workers[i]->thread, NULL);
}

int weft_rt_start(weft_rt **out, const weft_rt_config *cfg)
{
	if (out == NULL)
		return EINVAL;
	weft_rt_config c;
	if (cfg != NULL)
		c = *cfg;
	else
		weft_rt_config_init(&c);
	int r = config_check(&c);
	if (r != 0)
		return r;
	weft_park_barrier_init(); /* before any worker or submitter of this runtime runs */
	weft_rt *rt;
	if ((r = rt_alloc(&rt, &c)) != 0)
		return r;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		if (pthread_create(&rt->workers[i]->thread, NULL, worker_main, rt->workers[i])) {
			rt_join_workers(rt, i);
			rt_free(rt);
			return EAGAIN;
		}
	}
	*out = rt;
	return 0;
}

/* Every task accepted so far has finished (see the top of this file). */
static bool rt_quiescent(weft_rt *rt)
{
	uint64_t done = 0, spawned = 0;
	/* Acquire: pairs with the release stores of completed (worker.c); read first. */
	for (unsigned i = 0; i < rt->nworkers; i++)
		done += atomic_load_explicit(&rt->workers[i]->completed, memory_order_acquire);
	/* Acquire: pairs with the release stores of spawned (task.c) and the CAS there. */
	spawned = atomic_load_explicit(&rt->ext_spawned, memory_order_acquire) & ~EXT_CLOSED;
	for (unsigned i = 0; i < rt->nworkers; i++)
		spawned += atomic_load_explicit(&rt->workers[i]->spawned, memory_order_acquire);
	return spawned == done;
}

int weft_rt_stop(weft_rt *rt)
{
	if (rt == NULL)
		return EINVAL;
	struct worker *self = weft_worker_self();
	if (self != NULL && self->rt == rt)
		return EDEADLK;
	/* Relaxed: a hint for spawns inside; the fetch_or below is the real door. */
	atomic_store_explicit(&rt->closing, true, memory_order_relaxed);
	/* Acq_rel: pairs with the CAS in go_outside. */
	atomic_fetch_or_explicit(&rt->ext_spawned, EXT_CLOSED, memory_order_acq_rel);
	for (;;) {
		/* Acquire: pairs with the bump in weft_park_idle; read before the check so a
		 * bump after the check makes the park return at once. */
		uint32_t v = atomic_load_explicit(&rt->quiesce_word, memory_order_acquire);
		if (rt_quiescent(rt))
			break;
		/* Workers bump the word when they run out of work; the timeout is a backstop. */
		weft_park(&rt->quiesce_word, v, weft_now_ns() + 20 * 1000 * 1000, NULL);
	}
	rt_join_workers(rt, rt->nworkers);
	rt_free(rt);
	return 0;
}
