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

#endif
