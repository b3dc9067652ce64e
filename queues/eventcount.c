/* The eventcount of weft_queue_pop_wait; the protocol is written in eventcount.h. */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/waiter.h>

#include "eventcount.h"

_Atomic bool weft_ec_asym_;

static pthread_once_t ec_once = PTHREAD_ONCE_INIT;

static void ec_init_once(void)
{
#if defined(__NR_membarrier)
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		return;
	/* Relaxed: pthread_once orders this store before every caller of weft_ec_global_init,
	 * and queue handles reach other threads only through synchronisation after that. */
	atomic_store_explicit(&weft_ec_asym_, true, memory_order_relaxed);
#endif
}

void weft_ec_global_init(void)
{
	pthread_once(&ec_once, ec_init_once);
}

static void ec_heavy_barrier(void)
{
#if defined(__NR_membarrier)
	if (atomic_load_explicit(&weft_ec_asym_, memory_order_relaxed) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
#endif
	/* Pairs with the fence in weft_ec_notify (symmetric mode). Also taken if a registered
	 * membarrier ever failed, where it is not enough on its own: registration cannot be
	 * undone, so that case does not arise on Linux. */
	atomic_thread_fence(memory_order_seq_cst);
}

void weft_ec_notify_slow(weft_ec *ec)
{
	/* Release: pairs with the acquire load in weft_ec_prepare. */
	atomic_fetch_add_explicit(&ec->seq, 1, memory_order_release);
	weft_unpark(&ec->seq, 1);
}

void weft_ec_wait_begin(weft_ec *ec)
{
	/* Relaxed: the heavy barrier below orders it before the caller's pop attempts. */
	atomic_fetch_add_explicit(&ec->waiters, 1, memory_order_relaxed);
	ec_heavy_barrier(); /* HEAVY: pairs with the LIGHT barrier in weft_ec_notify */
}

int weft_ec_park(weft_ec *ec, uint32_t seen, weft_ctx *ctx)
{
	return weft_park(&ec->seq, seen, WEFT_NO_DEADLINE, ctx);
}

void weft_ec_wait_end(weft_ec *ec)
{
	/* Relaxed: a pusher that still sees the count only does a harmless extra wake; the
	 * read-modify-write sees every waiter counted before us. */
	if (atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed) > 1)
		weft_ec_notify_slow(ec); /* pass the turn on: see "Gaps" in eventcount.h */
}
