/*
 * The counting semaphore.
 *
 * value holds the tokens; a waiter parks on &value expecting 0. A post adds a token and,
 * when someone may be parked, wakes one parked caller with weft_unpark. Protocol (why no
 * post is lost and no waiter sleeps through one):
 *   waiter: waiters++ (seq_cst); v = value (seq_cst); if v == 0, park(&value, 0);
 *           waiters--; loop (try to take a token first, then check the context).
 *   poster: value++ (seq_cst); if waiters (seq_cst) != 0, unpark(&value, 1).
 * In the single order of seq_cst operations, either the waiter's load of value follows
 * the poster's increment (it sees the token and does not park), or the waiter's
 * increment of waiters precedes the poster's load of it (the poster unparks). In the
 * second case the parking lot's own protocol (compare under the bucket lock) does the
 * rest: the waiter either is in the queue the poster scans or sees value != 0 and does
 * not sleep.
 *
 * A waiter that gives up (cancel, deadline) does not swallow a post: a wake from
 * weft_unpark always makes weft_park return 0 (the parking lot lets the wake stand even
 * if a cancel or timeout races it), and a waiter whose park returned 0 goes back to
 * taking a token before it looks at its context. A waiter woken by a cancel was taken
 * off the queue by the cancel, not by a post, so that post's unpark woke someone else.
 */
#include <errno.h>

#include <weft/ctx.h>
#include <weft/sem.h>
#include <weft/waiter.h>

int weft_sem_init(weft_sem *s, uint32_t value)
{
	if (s == NULL || value > WEFT_SEM_VALUE_MAX)
		return EINVAL;
	atomic_init(&s->value, value);
	atomic_init(&s->waiters, 0);
	return 0;
}

/* Take a token if there is one. */
static bool sem_take(weft_sem *s)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
	while (v != 0) {
		/* Acquire: pairs with the release (seq_cst) increment in weft_sem_post. */
		if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

int weft_sem_trywait(weft_sem *s)
{
	if (s == NULL)
		return EINVAL;
	return sem_take(s) ? 0 : EAGAIN;
}

int weft_sem_wait(weft_sem *s, weft_ctx *ctx)
{
	if (s == NULL)
		return EINVAL;
	for (;;) {
		if (sem_take(s))
			return 0;
		int err = weft_ctx_err(ctx);
		if (err != 0)
			return err;
		/* Seq_cst: the Dekker pair with weft_sem_post (see top). */
		atomic_fetch_add_explicit(&s->waiters, 1, memory_order_seq_cst);
		int r = 0;
		if (atomic_load_explicit(&s->value, memory_order_seq_cst) == 0)
			r = weft_park(&s->value, 0, WEFT_NO_DEADLINE, ctx);
		atomic_fetch_sub_explicit(&s->waiters, 1, memory_order_relaxed);
		if (r != 0)
			return r; /* weft_ctx_err(ctx): weft_park reports the context's error */
	}
}

int weft_sem_post(weft_sem *s)
{
	if (s == NULL)
		return EINVAL;
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
	do {
		if (v >= WEFT_SEM_VALUE_MAX)
			return EOVERFLOW;
		/* Seq_cst: release for the token (pairs with the acquire in sem_take) and the
		 * Dekker pair with the waiter's increment of waiters (see top). */
	} while (!atomic_compare_exchange_weak_explicit(&s->value, &v, v + 1, memory_order_seq_cst,
							memory_order_relaxed));
	if (atomic_load_explicit(&s->waiters, memory_order_seq_cst) != 0)
		weft_unpark(&s->value, 1);
	return 0;
}

uint32_t weft_sem_value(const weft_sem *s)
{
	if (s == NULL)
		return 0;
	return atomic_load_explicit((_Atomic uint32_t *)&s->value, memory_order_relaxed);
}
