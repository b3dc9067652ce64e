/* The default parker: a thread sleeps on a futex in its own waiter record. */
#include <errno.h>

#include <weft/waiter.h>

#include "futex.h"

static int futex_park(weft_waiter *w, uint64_t deadline_ns)
{
	for (;;) {
		/* Acquire: pairs with the release store in futex_unpark, so the waker's writes
		 * (and the parking lot's reason) are visible once we see the word set. */
		if (atomic_load_explicit(&w->word, memory_order_acquire) != 0)
			return 0;
		if (deadline_ns != WEFT_NO_DEADLINE && weft_now_ns() >= deadline_ns)
			return ETIMEDOUT;
		/* EAGAIN, EINTR, ETIMEDOUT and spurious wake-ups all re-check above. */
		weft_futex_wait(&w->word, 0, deadline_ns);
	}
}

static void futex_unpark(weft_waiter *w)
{
	/* Release: pairs with the acquire load in futex_park. After this store the owner may
	 * return and w's stack frame may be reused; the wake below only names the address,
	 * and a wake that lands on a reused address is a spurious wake-up its sleeper
	 * tolerates. */
	atomic_store_explicit(&w->word, 1, memory_order_release);
	weft_futex_wake(&w->word, 1);
}

const weft_waiter_ops weft_waiter_ops_futex = { futex_park, futex_unpark, NULL, NULL };
