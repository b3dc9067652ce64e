/*
 * Private: the eventcount behind weft_queue_pop_wait. A pusher pays, when nobody waits,
 * one compiler barrier and one relaxed load; the waiter pays for the rest.
 *
 * Protocol (Dekker on two locations: the queue's contents and `waiters`):
 *
 *   waiter (weft_ec_wait_begin, then a loop)     pusher (after a successful push)
 *   ------------------------------------------   ------------------------------------
 *   waiters += 1                                 [push made the item visible]
 *   HEAVY barrier                                LIGHT barrier
 *   loop: s = seq (acquire)                      if (waiters != 0) {
 *         try pop -> done if an item                   seq += 1 (release)
 *         weft_park(&seq, s)   [sleeps only if         weft_unpark(&seq, 1)
 *                               seq is still s]  }
 *   waiters -= 1; if others are still counted:
 *       seq += 1, weft_unpark(&seq, 1)  [pass the turn on, see Gaps]
 *
 * The barriers order each side's store before its load, so either the pusher sees the
 * waiter counted, or the waiter's pop (after its barrier) sees the item. In the first case
 * the pusher bumps seq: a waiter that read seq before the bump finds it changed when it
 * parks (weft_park compares under the lock weft_unpark takes) or is woken; one that read
 * seq after the bump also sees the item (release/acquire on seq). No wake-up is lost.
 * Each push that finds waiters wakes one parked waiter: a woken waiter retries its pop,
 * and waiters that were not yet parked see seq changed and retry too.
 *
 * Gaps. Some kinds' pop reports EAGAIN while later items are ready: mpmc at a position whose
 * push has claimed its slot but not yet published it (a preempted producer). A waiter woken
 * for a later item then fails its pop and sleeps again: that push's wake is spent, and the
 * gap's own push, when it completes, wakes only one waiter, which takes one item. Without
 * more, the later item sits in the queue while another waiter sleeps, until some further
 * push (never, if the producers are done). So a waiter that leaves while other waiters are
 * counted wakes one of them: every wake spent on a gap is handed on by the next waiter that
 * leaves, and a woken waiter that finds nothing goes back to sleep without waking anyone (no
 * ping-pong while a gap lasts). The price: while two or more consumers sleep, each item
 * costs a second wake that may find nothing (test_eventcount.c shows the strand).
 *
 * The barrier pair is asymmetric when the kernel offers
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): the LIGHT barrier is then a compiler
 * barrier and the HEAVY one a membarrier(), which makes every running thread of the
 * process execute a full fence (a thread not running has passed a context switch, which
 * is one). Where membarrier is missing both are full seq_cst fences. The choice is made
 * once, when the first queue is created (weft_ec_global_init), so that every queue's
 * pushers already know it; a pusher that somehow reads the flag unset uses the full fence,
 * which is always safe.
 *
 * seq is 32 bits: a waiter descheduled between its read of seq and its park while exactly
 * 2^32 notifying pushes happen would sleep through them; that is not a practical risk.
 */
#ifndef WEFT_QUEUES_EVENTCOUNT_H
#define WEFT_QUEUES_EVENTCOUNT_H

#include <stdatomic.h>

#include <weft/common.h>
#include <weft/ctx.h>

typedef struct weft_ec {
	_Atomic uint32_t waiters; /* callers between wait_begin and wait_end */
	_Atomic uint32_t seq;     /* bumped by each push that finds waiters */
} weft_ec;

/* True once membarrier(PRIVATE_EXPEDITED) is registered for the process. */
extern _Atomic bool weft_ec_asym_;

/* Decide (once per process) between the asymmetric and the symmetric barrier pair. */
void weft_ec_global_init(void);

void weft_ec_notify_slow(weft_ec *ec);

/* Pusher side, after a successful push. */
static inline void weft_ec_notify(weft_ec *ec)
{
	if (WEFT_LIKELY(atomic_load_explicit(&weft_ec_asym_, memory_order_relaxed)))
		atomic_signal_fence(memory_order_seq_cst); /* LIGHT: pairs with membarrier() */
	else
		atomic_thread_fence(memory_order_seq_cst); /* pairs with the waiter's fence */
	if (WEFT_UNLIKELY(atomic_load_explicit(&ec->waiters, memory_order_relaxed) != 0))
		weft_ec_notify_slow(ec);
}

/* Waiter side: count the caller as a waiter, then the HEAVY barrier. */
void weft_ec_wait_begin(weft_ec *ec);

/* The value to pass to weft_ec_park, read before the caller's pop attempt. */
static inline uint32_t weft_ec_prepare(weft_ec *ec)
{
	/* Acquire: pairs with the release increment in weft_ec_notify_slow, so an item pushed
	 * before a bump we see is visible to the pop that follows. */
	return atomic_load_explicit(&ec->seq, memory_order_acquire);
}

/* Sleep unless seq moved past `seen`. Returns weft_park's result (0, ECANCELED, ETIMEDOUT). */
int weft_ec_park(weft_ec *ec, uint32_t seen, weft_ctx *ctx);

void weft_ec_wait_end(weft_ec *ec);

#endif
