/*
 * The wait group. count holds the outstanding work; gen counts the times count fell to
 * zero. A waiter parks on gen, so a count that drops to zero and rises again (reuse)
 * still releases it.
 *
 * Protocol (no lost wake-up):
 *   waiter: g = gen; if count <= 0 return; waiters++ (seq_cst); if count (seq_cst) > 0,
 *           park(&gen, g); waiters--; loop.
 *   doner:  count += n (seq_cst); on a fall to <= 0: gen++ (seq_cst); if waiters
 *           (seq_cst) != 0, unpark(&gen, all).
 * In the seq_cst order either the waiter's second load of count follows the doner's
 * update (it sees zero and does not park), or its waiters++ precedes the doner's load of
 * waiters (the doner unparks, after bumping gen; the parking lot compares gen under the
 * bucket lock, so the waiter either is queued or sees gen != g). The waiter reads g
 * before count: if g already includes the bump for some fall to zero, that fall (its
 * count update) happens-before the waiter's read of count, which therefore sees it or a
 * later value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/ctx.h>
#include <weft/waiter.h>
#include <weft/wg.h>

void weft_wg_init(weft_wg *wg)
{
	if (wg == NULL)
		return;
	atomic_init(&wg->count, 0);
	atomic_init(&wg->gen, 0);
	atomic_init(&wg->waiters, 0);
}

void weft_wg_add(weft_wg *wg, int n)
{
	if (wg == NULL || n == 0)
		return;
	/* Seq_cst: release for the waiter's acquire of count, and the Dekker pair with the
	 * waiter's increment of waiters (see top). */
	int32_t old = atomic_fetch_add_explicit(&wg->count, (int32_t)n, memory_order_seq_cst);
	int64_t now = (int64_t)old + n;
#if defined(WEFT_DEBUG_CHECKS)
	if (now < 0) {
		fprintf(stderr, "weft: weft_wg_add(%d) made a wait group's count negative (%lld):"
				" more done than add\n", n, (long long)now);
		abort();
	}
#endif
	if (old > 0 && now <= 0) {
		/* Seq_cst: a parked waiter compares gen under the bucket lock; see top. */
		atomic_fetch_add_explicit(&wg->gen, 1, memory_order_seq_cst);
		if (atomic_load_explicit(&wg->waiters, memory_order_seq_cst) != 0)
			weft_unpark(&wg->gen, INT32_MAX);
	}
}

void weft_wg_done(weft_wg *wg)
{
	weft_wg_add(wg, -1);
}

int weft_wg_wait(weft_wg *wg, weft_ctx *ctx)
{
	if (wg == NULL)
		return EINVAL;
	for (;;) {
		/* Acquire: pairs with the seq_cst (release) bump in weft_wg_add; read before
		 * count (see top). */
		uint32_t g = atomic_load_explicit(&wg->gen, memory_order_acquire);
		/* Acquire: pairs with the update that brought count to zero. */
		if (atomic_load_explicit(&wg->count, memory_order_acquire) <= 0)
			return 0;
		int err = weft_ctx_err(ctx);
		if (err != 0)
			return err;
		/* Seq_cst: the Dekker pair with weft_wg_add (see top). */
		atomic_fetch_add_explicit(&wg->waiters, 1, memory_order_seq_cst);
		int r = 0;
		if (atomic_load_explicit(&wg->count, memory_order_seq_cst) > 0)
			r = weft_park(&wg->gen, g, WEFT_NO_DEADLINE, ctx);
		atomic_fetch_sub_explicit(&wg->waiters, 1, memory_order_relaxed);
		if (r != 0)
			return r; /* weft_ctx_err(ctx): weft_park reports the context's error */
		/* Acquire: as above. A bump since g means the count fell to zero after we saw
		 * it non-zero: return even if a new round has raised it again. */
		if (atomic_load_explicit(&wg->gen, memory_order_acquire) != g)
			return 0;
	}
}
