/*
 * RCU (read-copy-update) through liburcu's memb flavour: epoch-style deferred freeing, the
 * alternative to hazard pointers (include/weft/hazard.h) on the same structures.
 *
 *   reader                             writer
 *   weft_rcu_read_lock();              (unlink n; readers may still see it)
 *   p = atomic_load_explicit(&head,    weft_rcu_retire(&n->rcu, free_node);
 *         memory_order_acquire);       ... free_node runs once every read-side section
 *   ... read *p ...                        that could have seen n has ended.
 *   weft_rcu_read_unlock();
 *
 * Threads need no registration: each thread registers with liburcu on its first call
 * here and unregisters when it exits. A thread the caller registered with liburcu's memb
 * flavour beforehand is detected and left to its owner (not in ThreadSanitizer builds,
 * which call liburcu out of line: there, do not register threads yourself). Read-side sections nest
 * and never block; a writer that retires never blocks.
 *
 * Compared with hazard pointers: a read-side section protects everything it reaches at
 * the cost of two thread-local updates, with no per-pointer publication; the price is that
 * one stalled reader holds back every retired node of the process (no bound), where hazard
 * pointers bound the garbage.
 *
 * FIBERS: a read-side section belongs to the thread, so, as with hazard pointers, a fiber
 * must not hold one across a switch (it could migrate to another thread).
 *
 * Retire functions run on liburcu's call_rcu thread, one at a time.
 */
#ifndef WEFT_RCU_H
#define WEFT_RCU_H

#include <weft/common.h>

/* Intrusive deferred-free node; embed it in the object. All fields private. */
typedef struct weft_rcu_head {
	void *urcu_[2];				 /* liburcu's struct rcu_head */
	void (*fn_)(struct weft_rcu_head *head); /* the caller's function */
} weft_rcu_head;

/*
 * weft_rcu_read_lock / weft_rcu_read_unlock - begin / end a read-side section (nestable).
 * Everything reachable through RCU-protected pointers loaded inside stays allocated until
 * the outermost unlock.
 * Ordering: the unlock orders the section's reads before any later free of what they saw.
 * Thread-safety: any thread (registers it on first use). Never blocks.
 */
WEFT_API void weft_rcu_read_lock(void);
WEFT_API void weft_rcu_read_unlock(void);

/* weft_rcu_read_ongoing - true inside a read-side section of the calling thread. */
WEFT_API bool weft_rcu_read_ongoing(void);

/*
 * weft_rcu_retire - call fn(head) after a grace period: once every read-side section that
 * began before this call has ended. The object must already be unreachable for new readers.
 * A NULL head or fn is ignored (nothing is queued).
 * Thread-safety: any thread, inside or outside a read-side section. Never blocks; does
 * not allocate (liburcu's call_rcu thread is created on the process's first call).
 * Ordering: everything the caller did before the call happens before fn runs.
 */
WEFT_API void weft_rcu_retire(weft_rcu_head *head, void (*fn)(weft_rcu_head *head));

/*
 * weft_rcu_synchronize - wait for a grace period: every read-side section that began
 * before the call has ended when it returns.
 * Returns: 0, or EPERM when called inside a read-side section (it would never return).
 * Blocking: parks through the waiter seam (weft_park) until liburcu's call_rcu thread
 * reports the grace period. Not from a retire function.
 */
WEFT_API int weft_rcu_synchronize(void);

/*
 * weft_rcu_barrier - wait until every retire function queued before the call has run
 * (before unloading code or freeing what they use).
 * Returns: 0, or EPERM inside a read-side section.
 * Blocking: inside liburcu (a polling sleep), not through the waiter seam. Not from a
 * retire function.
 */
WEFT_API int weft_rcu_barrier(void);

#endif
