/*
 * The waiting loops of the spinlocks in include/weft/spinlock.h. Each ends in sched_yield()
 * after a bounded spin (see spin_wait.h), so none depends on another core for progress.
 */
#include <weft/spinlock.h>

#include "spin_wait.h"

/* A ticket waiter this far back (or more) in line yields after this few rounds. */
#define TICKET_FAR_YIELD_AFTER 2u
/* Pauses per ticket ahead of us between two looks at `serving`. */
#define TICKET_PAUSES_PER_WAITER 16u

void weft_spin_ttas_wait_(weft_spin_ttas *l)
{
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	for (;;) {
		/* Test: read until it looks free, so waiters share the line instead of
		 * bouncing it with exchanges. */
		while (atomic_load_explicit(&l->locked, memory_order_relaxed) != 0)
			weft_spin_wait_once(&s);
		/* Acquire: pairs with the release store in weft_spin_ttas_unlock. */
		if (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) == 0)
			return;
		/* Lost the race for it: back off before looking again. */
		weft_spin_wait_once(&s);
	}
}

void weft_spin_ticket_wait_(weft_spin_ticket *l, uint32_t t)
{
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	for (;;) {
		/* Acquire: pairs with the release store in weft_spin_ticket_unlock. */
		uint32_t serving = atomic_load_explicit(&l->serving, memory_order_acquire);
		if (serving == t)
			return;
		/* Tickets ahead of ours, counting the holder's. Only the next in line has
		 * reason to keep watching; the others give their CPU to whoever is ahead. */
		uint32_t ahead = t - serving;
		uint32_t limit = ahead > 1 ? TICKET_FAR_YIELD_AFTER : WEFT_SPIN_YIELD_AFTER * 4;
		weft_spin_wait_for(&s, ahead * TICKET_PAUSES_PER_WAITER, limit);
	}
}

void weft_spin_mcs_wait_(weft_spin_mcs_node *me)
{
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	/* Acquire: pairs with the release store of locked in weft_spin_mcs_unlock. */
	while (atomic_load_explicit(&me->locked, memory_order_acquire) != 0)
		weft_spin_wait_once(&s);
}

weft_spin_mcs_node *weft_spin_mcs_successor_(weft_spin_mcs_node *me)
{
	struct weft_spin_wait s = WEFT_SPIN_WAIT_INIT;
	weft_spin_mcs_node *next;
	/* Acquire: pairs with the release store of pred->next in weft_spin_mcs_lock. The
	 * successor is between its exchange of tail and that store: a few instructions,
	 * unless it was preempted there, when only yielding lets it finish. */
	while ((next = atomic_load_explicit(&me->next, memory_order_acquire)) == NULL)
		weft_spin_wait_once(&s);
	return next;
}
