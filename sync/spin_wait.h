/*
 * Private: the bounded spin that every weft spin loop uses. A waiter relaxes the CPU for a
 * doubling number of rounds, capped, and once it has spun WEFT_SPIN_YIELD_AFTER rounds it
 * calls sched_yield() instead: the thread it waits for may be preempted on this very CPU
 * (oversubscription, `taskset -c 0`), and only giving the CPU away lets it finish.
 */
#ifndef WEFT_SYNC_SPIN_WAIT_H
#define WEFT_SYNC_SPIN_WAIT_H

#include <sched.h>

#include <weft/common.h>

/* Rounds of backoff before yielding; 1 + 2 + ... + 64 then 64 per round: ~1,000 pauses. */
#define WEFT_SPIN_YIELD_AFTER 20u
#define WEFT_SPIN_BACKOFF_MAX 64u

struct weft_spin_wait {
	uint32_t rounds;
	uint32_t backoff;
};

#define WEFT_SPIN_WAIT_INIT { 0, 1 }

/* One round of waiting: relax with exponential backoff, or yield once spun long enough. */
static inline void weft_spin_wait_once(struct weft_spin_wait *s)
{
	if (s->rounds >= WEFT_SPIN_YIELD_AFTER) {
		sched_yield();
		return;
	}
	s->rounds++;
	for (uint32_t i = 0; i < s->backoff; i++)
		weft_cpu_relax();
	if (s->backoff < WEFT_SPIN_BACKOFF_MAX)
		s->backoff *= 2;
}

/* One round of waiting of `pauses` relaxes (capped), or a yield once spun long enough. */
static inline void weft_spin_wait_for(struct weft_spin_wait *s, uint32_t pauses, uint32_t limit)
{
	if (s->rounds >= limit) {
		sched_yield();
		return;
	}
	s->rounds++;
	if (pauses > WEFT_SPIN_BACKOFF_MAX * 4)
		pauses = WEFT_SPIN_BACKOFF_MAX * 4;
	for (uint32_t i = 0; i < pauses; i++)
		weft_cpu_relax();
}

#endif
