/* weft_rt_stats: sums of the per-worker counters. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"

static void stats_add(weft_rt_worker_counters *to, const weft_rt_worker_counters *s)
{
	to->tasks_run += s->tasks_run;
	to->steals_attempted += s->steals_attempted;
	to->steals += s->steals;
	to->parks += s->parks;
	to->wakeups_no_work += s->wakeups_no_work;
	to->fiber_parks += s->fiber_parks;
	to->fiber_switches += s->fiber_switches;
}

static uint64_t rd(_Atomic uint64_t *c)
{
	/* Relaxed: statistics; no ordering promised beyond each value's atomicity. */
	return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_rt_stats(weft_rt *rt, weft_rt_counters *stats)
{
	if (rt == NULL || stats == NULL)
		return EINVAL;
	memset(stats, 0, sizeof(*stats));
	stats->workers = rt->nworkers;
	uint64_t created = 0, destroyed = 0, parks = 0, resumes = 0;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker_counters *c = &rt->workers[i]->c;
		uint64_t handoffs = rd(&c->fiber_handoffs); /* a park, a resume, a switch each */
		weft_rt_worker_counters s = {
			/* Fork tasks count in tasks_run, spawned ones in completed only
			 * (worker.c, run_go: one counter per task on the hot path). */
			.tasks_run = rd(&c->tasks_run) + rd(&rt->workers[i]->completed),
			.steals_attempted = rd(&c->steals_attempted),
			.steals = rd(&c->steals),
			.parks = rd(&c->parks),
			.wakeups_no_work = rd(&c->wakeups_no_work),
			.fiber_parks = rd(&c->fiber_parks) + handoffs,
			.fiber_switches = rd(&c->fiber_switches) + handoffs,
		};
		if (i < WEFT_RT_STATS_WORKERS)
			stats->worker[i] = s;
		stats_add(&stats->total, &s);
		created += rd(&c->fibers_created);
		destroyed += rd(&c->fibers_destroyed);
		parks += s.fiber_parks;
		resumes += rd(&c->fiber_resumes) + handoffs;
		parks += rd(&c->fiber_yields);
	}
	stats->fibers = created > destroyed ? created - destroyed : 0;
	stats->fibers_parked = parks > resumes ? parks - resumes : 0;
	/* Each fiber maps its stack rounded up to whole pages plus one guard page
	 * (weft_fiber_create; rt.c keeps stack_size above the fibers' 16 KiB minimum). */
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	size_t per_fiber = (rt->cfg.stack_size + page - 1) / page * page + page;
	stats->stack_bytes = stats->fibers * per_fiber;
	return 0;
}
