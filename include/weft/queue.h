/*
 * One interface over every concurrent queue weft offers, so that a user or weft's own
 * scheduler swaps one for another with a flag. Items are non-NULL void pointers.
 *
 * Through this interface each kind is safe for as many threads on each side as its name
 * allows: `spsc` one producer and one consumer, `mpsc` one consumer, every other kind any
 * number of each. FIFO: every kind but `sharded` is FIFO per producer; `sharded` keeps
 * only the order of items pushed by one thread and popped from its home shard (see its
 * header).
 *
 * Destroying a non-empty queue frees the queue and leaves the items to the caller.
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include <weft/common.h>
#include <weft/ctx.h>

typedef struct weft_queue weft_queue;

typedef enum weft_queue_kind {
	WEFT_QUEUE_MUTEX,     /* "mutex": pthread_mutex-protected ring, the baseline */
	WEFT_QUEUE_MPMC,      /* "mpmc": bounded lock-free ring, per-slot sequence numbers */
	WEFT_QUEUE_SPSC,      /* "spsc": bounded single-producer single-consumer ring */
	WEFT_QUEUE_MPSC,      /* "mpsc": unbounded multi-producer single-consumer */
	WEFT_QUEUE_MSQ,       /* "msq": Michael-Scott, nodes reclaimed by hazard pointers */
	WEFT_QUEUE_MSQ_RCU,   /* "msq_rcu": Michael-Scott, nodes reclaimed through RCU */
	WEFT_QUEUE_SHARDED,   /* "sharded": one bounded ring per CPU, home shard first */
	WEFT_QUEUE_CK_RING,   /* "ck_ring": Concurrency Kit's MPMC ring (adapter) */
	WEFT_QUEUE_URCU_WFCQ, /* "urcu_wfcq": liburcu's wait-free concurrent queue (adapter) */
	WEFT_QUEUE_KIND_COUNT
} weft_queue_kind;

/*
 * weft_queue_create - a new queue of the given kind. capacity: the number of items a
 * bounded kind holds (rounded up to a power of two, documented per kind); a sizing hint
 * for unbounded kinds (0 allowed there).
 * Returns: 0, EINVAL (q NULL, unknown kind, capacity 0 for a bounded kind), ENOMEM.
 * Allocates: the queue and its buffer.
 */
WEFT_API int weft_queue_create(weft_queue **q, weft_queue_kind kind, size_t capacity);

/*
 * weft_queue_push - append item. Returns: 0, EAGAIN (bounded and full), EINVAL (q or item
 * NULL), ENOMEM (an unbounded kind could not allocate a node).
 * Ordering: release: what the producer wrote before the push is visible to the consumer
 * that pops the item.
 */
WEFT_API int weft_queue_push(weft_queue *q, void *item);

/* weft_queue_pop - take the oldest available item. Returns: 0, EAGAIN (empty), EINVAL. */
WEFT_API int weft_queue_pop(weft_queue *q, void **item);

/*
 * weft_queue_push_n - append up to n items, in order: items[0 .. *pushed) went in, as
 * consecutive pushes by this thread would have put them (FIFO per producer where the kind
 * keeps it). Fewer than n go in when a bounded kind fills up (or an unbounded one cannot
 * allocate); the rest are still the caller's.
 * Returns: 0 when at least one item went in (*pushed >= 1); EAGAIN (full) or ENOMEM when
 * none did (*pushed == 0); EINVAL (q, items or pushed NULL, n == 0, or any item NULL:
 * nothing is pushed).
 * Per kind: `mpmc` and `sharded` reserve a run of up to 64 slots with one CAS of the
 * ring's tail, then publish each slot with a plain store (for `sharded`: home shard first,
 * the next shards only for what home had no room for); `spsc` fills the slots and
 * publishes them with one store; every other kind loops over its single push. An `mpmc`
 * batch push into a nearly full ring (fewer than n + 64 slots free, in a ring of at least
 * 2 (n + 64)) first waits a few microseconds at most for the consumers to free more, so
 * that it does not work on the lines they are still using; what fits still goes in.
 * Thread-safety and ordering: as weft_queue_push, for each item. Wakes one waiting
 * consumer per item.
 */
WEFT_API int weft_queue_push_n(weft_queue *q, void *const *items, size_t n, size_t *pushed);

/*
 * weft_queue_pop_n - take up to n of the oldest available items into items[0 .. *popped),
 * oldest first. Stops early when the queue is (or looks, with a push still in progress)
 * empty; never waits.
 * Returns: 0 when at least one item came out; EAGAIN when none did (*popped == 0); EINVAL
 * (q, items or popped NULL, n == 0).
 * Per kind: native in `mpmc`, `sharded` (one CAS of a ring's head per run of up to 64
 * items; `sharded` takes from the first shard that has any, home first, so it may return
 * fewer than n while another shard holds more) and `spsc` (one store); a loop over pop
 * elsewhere. Thread-safety and ordering: as
 * weft_queue_pop, for each item.
 */
WEFT_API int weft_queue_pop_n(weft_queue *q, void **items, size_t n, size_t *popped);

/*
 * weft_queue_pop_wait - as weft_queue_pop, but wait while the queue is empty.
 * An item already there is returned even if ctx is done; otherwise the caller polls
 * briefly (a few spins, then a few sched_yield()s), then sleeps until a push wakes it.
 * Pushes pay for this only while someone sleeps: the protocol (an eventcount: a waiter
 * count and a sequence word) is written in queues/eventcount.h.
 * Returns: 0, ECANCELED or ETIMEDOUT (ctx), EINVAL. Blocking: parks through the waiter
 * seam (a fiber inside the runtime). Cancellation: ctx.
 * Thread-safety: a consumer (spsc and mpsc allow one).
 */
WEFT_API int weft_queue_pop_wait(weft_queue *q, void **item, weft_ctx *ctx);

/* weft_queue_destroy - free q (NULL ignored); items still inside are the caller's. */
WEFT_API void weft_queue_destroy(weft_queue *q);

/* weft_queue_kind_of - the kind q was created with. */
WEFT_API weft_queue_kind weft_queue_kind_of(const weft_queue *q);

/* weft_queue_kind_name - "mutex", "mpmc", ...; NULL for a value out of range. */
WEFT_API const char *weft_queue_kind_name(weft_queue_kind kind);

/*
 * weft_queue_kind_parse - the kind named name. Returns: 0, EINVAL for NULL or an unknown
 * name (weft_queue_kind_names() lists the known ones for the error message).
 */
WEFT_API int weft_queue_kind_parse(const char *name, weft_queue_kind *kind);

/* weft_queue_kind_names - every kind name, separated by '|', for messages. */
WEFT_API const char *weft_queue_kind_names(void);

#endif
