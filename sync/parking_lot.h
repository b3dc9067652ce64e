/* Private: what the parking lot offers the context tree. */
#ifndef WEFT_SYNC_PARKING_LOT_H
#define WEFT_SYNC_PARKING_LOT_H

#include <weft/waiter.h>

/*
 * Wake w with ECANCELED if it is still queued; if a weft_unpark() already dequeued it, do
 * nothing (that wake stands). Called by the context tree with the context's lock held,
 * after unlinking w from the context's list; w stays valid until its owner has taken that
 * lock to unregister.
 */
void weft_lot_cancel(weft_waiter *w);

/*
 * weft_park for a 64-bit word: sleep on key while (*word & mask) == expected, compared
 * under the bucket lock, until weft_unpark(key, ...) wakes the caller, the deadline passes
 * or ctx is done. Same returns and ordering as weft_park. key is only an address to wait
 * on (usually the object that holds word); a waker changes *word, then unparks key.
 */
int weft_park64_(const void *key, _Atomic uint64_t *word, uint64_t mask, uint64_t expected,
		 uint64_t deadline_ns, weft_ctx *ctx);

/*
 * For tests: how many times a bucket was biased to a thread, and how many times a bias was
 * revoked, since the process started (parking_lot.c, "Biased buckets"). Racy snapshots.
 */
void weft_lot_bias_counts_(uint64_t *biased, uint64_t *revoked);

/* For tests: the bucket addr hashes to (0..255), and fn(arg) run holding that bucket's lock
 * as a park or an unpark of addr would take it (fn must not park, unpark or block). */
unsigned weft_lot_bucket_index_(const void *addr);
void weft_lot_locked_call_(const void *addr, void (*fn)(void *), void *arg);

#endif
