/*
 * The wait group: one 64-bit word, state = count (high 32 bits, int32_t) | gen (bits 31..1)
 * | W (bit 0). gen is bumped by the very update that makes the count fall from above zero
 * to zero or below; W says "a waiter may be parked" and is cleared by that same update.
 * Waiters park on the group's address, with the parking lot comparing the low 32 bits
 * (gen and W) under its bucket lock.
 *
 * Protocol (no lost wake-up, no access after the fall):
 *   doer:   CAS state: count += n; if it falls to <= 0: gen++, W = 0.
 *           If the fall cleared a W: unpark(wg, all) - by address only.
 *   waiter: s = state; if count <= 0 return; g = gen(s);
 *           loop: set W by CAS (unless set, or gen moved: return);
 *                 park(wg, while low32(state) == g|W); return once gen != g.
 * A waiter that set W before the fall is either queued before the doer's unpark takes the
 * bucket lock, or compares after the doer's CAS and sees gen moved; the fall and the gen
 * bump are one update, so a waiter never sees a count at zero without its bump (a later
 * round cannot be mistaken for this one, and no doer is still to touch the group).
 *
 * Invariants:
 *   1. gen changes exactly at falls of the count from > 0 to <= 0, in the same CAS.
 *   2. W is set only by waiters that saw count > 0 at the current gen, and cleared only by
 *      a fall (a cancelled waiter leaves it set: one needless unpark later).
 *   3. After its CAS a doer touches the group's memory no more: the unpark only hashes the
 *      address (a waiter that returned and freed the group cannot be hurt; a new object
 *      at the same address may see one spurious wake, which every parker tolerates).
 * Ordering: every update is a release RMW, so they form one release sequence; a waiter's
 * acquire load of the state that shows the fall (or gen moved) acquires all of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/ctx.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "parking_lot.h"

#define WG_W UINT64_C(1)
#define WG_GEN_ONE UINT64_C(2)
#define WG_LOW UINT64_C(0xffffffff)

static inline int32_t wg_count(uint64_t s)
{
	return (int32_t)(uint32_t)(s >> 32);
}

static inline uint64_t wg_gen(uint64_t s)
{
	return s & (WG_LOW & ~WG_W);
}

void weft_wg_init(weft_wg *wg)
{
	if (wg == NULL)
		return;
	atomic_init(&wg->state, 0);
}

/* The update (see the protocol at the top), inline in weft_wg_add and weft_wg_done so that
 * done, the hot one (once per task in a fan-out), is a single call with n constant. */
static inline __attribute__((always_inline)) void wg_update(weft_wg *wg, int n)
{
	uint64_t s = atomic_load_explicit(&wg->state, memory_order_relaxed);
	uint64_t ns;
	bool fall;
	do {
		int32_t old = wg_count(s);
		int64_t now = (int64_t)old + n;
#if defined(WEFT_DEBUG_CHECKS)
		if (now < 0) {
			fprintf(stderr, "weft: weft_wg_add(%d) made a wait group's count negative"
					" (%lld): more done than add\n", n, (long long)now);
			abort();
		}
#endif
		fall = old > 0 && now <= 0;
		uint64_t low = s & WG_LOW;
		if (fall) /* invariant 1: bump gen and clear W in the update that falls */
			low = (wg_gen(s) + WG_GEN_ONE) & (WG_LOW & ~WG_W);
		ns = ((uint64_t)(uint32_t)(int32_t)now << 32) | low;
		/* Release: the waiters' acquire loads of state pair with it (see top). */
	} while (!atomic_compare_exchange_weak_explicit(&wg->state, &s, ns, memory_order_release,
							memory_order_relaxed));
	if (fall && (s & WG_W))
		weft_unpark(wg, INT32_MAX); /* invariant 3: the address only */
}

void weft_wg_add(weft_wg *wg, int n)
{
	if (wg == NULL || n == 0)
		return;
	wg_update(wg, n);
}

void weft_wg_done(weft_wg *wg)
{
	if (wg == NULL)
		return;
	wg_update(wg, -1);
}

int weft_wg_wait(weft_wg *wg, weft_ctx *ctx)
{
	if (wg == NULL)
		return EINVAL;
	/* Acquire: pairs with the release updates of the doers (see top). */
	uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
	if (wg_count(s) <= 0)
		return 0;
	uint64_t g = wg_gen(s);
	for (;;) {
		int err = weft_ctx_err(ctx);
		if (err != 0)
			return err;
		/* Relaxed CAS: the parking lot's bucket lock orders W against the doer's
		 * unpark; the acquire comes from the load after the park. */
		while (!(s & WG_W) &&
		       !atomic_compare_exchange_weak_explicit(&wg->state, &s, s | WG_W,
							      memory_order_relaxed,
							      memory_order_relaxed)) {
			if (wg_gen(s) != g)
				break;
		}
		if (wg_gen(s) == g) {
			int r = weft_park64_(wg, &wg->state, WG_LOW, g | WG_W, WEFT_NO_DEADLINE,
					     ctx);
			if (r != 0) {
				/* Acquire: as above. A fall that beat the cancellation wins. */
				s = atomic_load_explicit(&wg->state, memory_order_acquire);
				return wg_gen(s) != g ? 0 : r;
			}
		}
		/* Acquire: as above. gen moved: the count fell to zero after this wait saw it
		 * above zero (it may be above zero again: a new round, not ours). */
		s = atomic_load_explicit(&wg->state, memory_order_acquire);
		if (wg_gen(s) != g)
			return 0;
	}
}
