/* weft: everything. Include the one header you need, or this. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

/* foundations */
#include <weft/common.h>
#include <weft/version.h>
#include <weft/alloc.h>
#include <weft/thread.h>
#include <weft/waiter.h>
#include <weft/ctx.h>

/* sync/: counters, locks, blocking primitives, reclamation */
#include <weft/counter.h>
#include <weft/spinlock.h>
#include <weft/mutex.h>
#include <weft/rwlock.h>
#include <weft/brwlock.h>
#include <weft/sem.h>
#include <weft/once.h>
#include <weft/wg.h>
#include <weft/hazard.h>
#include <weft/rcu.h>
#include <weft/pool.h>

/* queues/: one interface, and each structure's direct API */
#include <weft/queue.h>
#include <weft/mpmc.h>
#include <weft/spsc.h>
#include <weft/mpsc.h>
#include <weft/msq.h>
#include <weft/sharded.h>
#include <weft/deque.h>

/* runtime/ */
#include <weft/runtime.h>

#endif
