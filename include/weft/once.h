/*
 * Run a function exactly once (pthread_once with an argument). Caller-allocated,
 * statically initialised with WEFT_ONCE_INIT; no allocation, no destroy.
 */
#ifndef WEFT_ONCE_H
#define WEFT_ONCE_H

#include <stdatomic.h>
#include <weft/common.h>

typedef struct weft_once {
	_Atomic uint32_t state; /* private: 0 new, 1 running, 2 running with waiters, 3 done */
} weft_once;

#define WEFT_ONCE_INIT { 0 }

/*
 * weft_once_run - call fn(arg) if no call on o has run it yet; callers that arrive while
 * the first call runs fn wait (through weft_park, so a fiber parks) until it returns.
 * Later calls return at once (one acquire load).
 * Returns: 0 once fn has run (by this call or an earlier one), EINVAL (o or fn NULL).
 * Ordering: whatever fn wrote happens-before the return of every weft_once_run on o.
 * Thread-safety: any thread. Blocking: while another caller runs fn; not cancellable.
 * fn must return (no longjmp out of it) and must not call weft_once_run on the same o
 * (that deadlocks). fn is the one given to the first caller; later callers' fn and arg
 * are ignored.
 */
WEFT_API int weft_once_run(weft_once *o, void (*fn)(void *), void *arg);

#endif
