/*
 * Spawned-task records (struct go_task): two magazines per worker over a runtime-wide depot
 * (Bonwick's magazine layer, as sync/pool.c does for user objects).
 *
 * weft_go takes a record from the spawning worker's list (free_tasks); the worker that runs
 * the task returns it to its own list. When thieves run what one worker spawns (a fan-out),
 * records drift from the spawner to the thieves: with a capped list per worker the thieves
 * freed their surplus with free() (glibc's arena lock, for memory another thread's arena
 * gave out) while the spawner malloc'd new ones. Now a worker's list that reaches
 * GOREC_BATCH records becomes its spare magazine, and a full spare goes to the depot (one
 * lock per GOREC_BATCH records); an empty list takes the spare, else a magazine from the
 * depot, else mallocs. All of it is owner-only except the depot (under gorec_lock).
 * The depot keeps at most the records that were once outstanding at the same time; they
 * are freed by weft_rt_stop (weft_gorec_fini).
 */
#include "../sync/alloc.h"
#include "sched.h"

/* An empty list: the spare, or a magazine from the depot, or one new record. */
struct go_task *weft_gorec_get_slow_(struct worker *w)
{
	if (w->spare_tasks != NULL) {
		w->free_tasks = w->spare_tasks;
		w->free_count = GOREC_BATCH;
		w->spare_tasks = NULL;
		return weft_gorec_get(w);
	}
	weft_rt *rt = w->rt;
	/* Relaxed peek: a racy emptiness hint; the depot is under the lock. */
	if (atomic_load_explicit(&rt->gorec_mags, memory_order_relaxed) != 0) {
		pthread_mutex_lock(&rt->gorec_lock);
		struct go_task *mag = rt->gorec_depot;
		if (mag != NULL) {
			/* Magazines are linked through their head's arg. */
			rt->gorec_depot = mag->arg;
			/* Relaxed: written under this lock only; outside it a hint. */
			size_t n = atomic_load_explicit(&rt->gorec_mags, memory_order_relaxed);
			atomic_store_explicit(&rt->gorec_mags, n - 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&rt->gorec_lock);
		if (mag != NULL) {
			w->free_tasks = mag;
			w->free_count = GOREC_BATCH;
			return weft_gorec_get(w);
		}
	}
	return weft_mem_alloc(sizeof(struct go_task), 16);
}

/* A full list: it becomes the spare; a full spare goes to the depot first. */
void weft_gorec_put_slow_(struct worker *w, struct go_task *g)
{
	struct go_task *full = w->spare_tasks;
	w->spare_tasks = w->free_tasks;
	w->free_tasks = NULL;
	w->free_count = 0;
	if (full != NULL) {
		weft_rt *rt = w->rt;
		pthread_mutex_lock(&rt->gorec_lock);
		full->arg = rt->gorec_depot;
		rt->gorec_depot = full;
		/* Relaxed: as in weft_gorec_get_slow_. */
		size_t n = atomic_load_explicit(&rt->gorec_mags, memory_order_relaxed);
		atomic_store_explicit(&rt->gorec_mags, n + 1, memory_order_relaxed);
		pthread_mutex_unlock(&rt->gorec_lock);
	}
	weft_gorec_put(w, g);
}

static void list_free(struct go_task *g)
{
	while (g != NULL) {
		struct go_task *next = g->next;
		weft_mem_free(g);
		g = next;
	}
}

/* After the workers exited: every record of w. */
void weft_gorec_worker_fini(struct worker *w)
{
	list_free(w->free_tasks);
	list_free(w->spare_tasks);
	w->free_tasks = w->spare_tasks = NULL;
	w->free_count = 0;
}

/* After the workers exited: the depot. */
void weft_gorec_fini(weft_rt *rt)
{
	while (rt->gorec_depot != NULL) {
		struct go_task *mag = rt->gorec_depot;
		rt->gorec_depot = mag->arg;
		list_free(mag);
	}
	atomic_store_explicit(&rt->gorec_mags, 0, memory_order_relaxed);
}
