/*
 * weft_once: a four-state word. 0 -> 1 (a caller won and runs fn) -> 3 (done), with 2
 * ("running, someone is parked") between 1 and 3 when a latecomer arrives. The winner's
 * final exchange tells it whether anyone may be parked; latecomers park on the word
 * expecting 2, so the parking lot's compare-under-lock makes the winner's wake-all
 * impossible to miss.
 */
#include <errno.h>

#include <weft/once.h>
#include <weft/waiter.h>

enum { ONCE_NEW, ONCE_RUNNING, ONCE_WAITED, ONCE_DONE };

int weft_once_run(weft_once *o, void (*fn)(void *), void *arg)
{
	if (o == NULL || fn == NULL)
		return EINVAL;
	/* Acquire: pairs with the release exchange below, making fn's writes visible. */
	uint32_t s = atomic_load_explicit(&o->state, memory_order_acquire);
	if (WEFT_LIKELY(s == ONCE_DONE))
		return 0;
	if (s == ONCE_NEW &&
	    atomic_compare_exchange_strong_explicit(&o->state, &s, ONCE_RUNNING,
						    memory_order_acquire, memory_order_acquire)) {
		fn(arg);
		/* Release: pairs with the acquire loads of every later caller. */
		uint32_t old = atomic_exchange_explicit(&o->state, ONCE_DONE, memory_order_release);
		if (old == ONCE_WAITED)
			weft_unpark(&o->state, INT32_MAX);
		return 0;
	}
	for (;;) {
		/* s is the current state (from the load or the failed exchange). */
		if (s == ONCE_DONE)
			return 0;
		if (s == ONCE_RUNNING &&
		    !atomic_compare_exchange_strong_explicit(&o->state, &s, ONCE_WAITED,
							     memory_order_acquire,
							     memory_order_acquire))
			continue; /* s reloaded: it became DONE or WAITED */
		/* No ctx, no deadline: returns 0 when woken or when the state moved on. */
		weft_park(&o->state, ONCE_WAITED, WEFT_NO_DEADLINE, NULL);
		/* Acquire: pairs with the winner's release exchange. */
		s = atomic_load_explicit(&o->state, memory_order_acquire);
	}
}
