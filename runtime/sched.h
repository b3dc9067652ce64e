/* Private: the runtime's shared structures (workers, the runtime, work items). */
#ifndef WEFT_RUNTIME_SCHED_H
#define WEFT_RUNTIME_SCHED_H

#include <pthread.h>
#include <stdatomic.h>

#include <weft/deque.h>
#include <weft/queue.h>
#include <weft/runtime.h>
#include <weft/waiter.h>

#include "fiber.h"

/*
 * Work items are tagged pointers (the low two bits): a fork task (weft_task *, tag 0), a
 * spawned task (struct go_task *, tag 1), a fiber to resume (tag 2). Every item is
 * non-NULL, as the deque and the queues require.
 */
enum { ITEM_FORK = 0, ITEM_GO = 1, ITEM_FIBER = 2, ITEM_TAG_MASK = 3 };

static inline void *item_make(const void *p, unsigned tag)
{
	return (void *)((uintptr_t)p | tag);
}
static inline unsigned item_tag(const void *item)
{
	return (unsigned)((uintptr_t)item & ITEM_TAG_MASK);
}
static inline void *item_ptr(const void *item)
{
	return (void *)((uintptr_t)item & ~(uintptr_t)ITEM_TAG_MASK);
}

/* A spawned task: its record is recycled through the running worker's free list. */
struct go_task {
	void (*fn)(void *);
	void *arg;
	struct go_task *next; /* free list */
};

/*
 * A scheduler fiber: a weft_fiber whose body is the worker loop (fiber_entry). Tasks run on
 * it; when one blocks, the fiber is suspended with the task on its stack. `next` links it
 * into a worker's pool or the injection queue's fiber list (never both).
 */
struct sfiber {
	weft_fiber *f;
	weft_rt *rt;
	struct sfiber *next;
	uint32_t id; /* weft_exec_id() of the tasks it runs: top bit set, unique per process
		      * until 2^31 fibers have been made */
} __attribute__((aligned(16)));

/* What the fiber that gains control does first for the one that switched away (fibers.c). */
enum { AFTER_NONE = 0, AFTER_RECYCLE, AFTER_PARK, AFTER_READY, AFTER_PARK_HELD };

/* The bits of a parked fiber's waiter word (parker.c explains them). */
enum {
	PW_UNPARKED = 1u,
	PW_SUSPENDED = 2u,
	PW_TIMEDOUT = 4u,
	PW_THREAD = 8u,
	PW_TIMER = 16u,
	PW_HELD = 32u,
};

/* A deadline of a parked fiber, in its worker's timer heap (timer.c). Lives on the parked
 * fiber's stack. */
struct timer {
	uint64_t deadline;
	weft_waiter *wt;
	struct worker *owner;
	size_t idx; /* position in owner's heap, TIMER_NONE once out (under owner->timer_lock) */
};
#define TIMER_NONE SIZE_MAX

/* Fork-task states (weft_task.state). */
enum { FORK_PENDING = 0, FORK_WAITING = 1, FORK_DONE = 2 };
#define FORK_MAGIC 0x77e4f7a5u

/* Counters written only by the worker's own thread (relaxed), read by weft_rt_stats.
 * tasks_run counts fork tasks, on the worker a task starts on, when it starts; weft_rt_stats
 * adds the spawned ones (worker->completed, counted when they finish). */
struct worker_counters {
	_Atomic uint64_t tasks_run, steals_attempted, steals, parks, wakeups_no_work;
	_Atomic uint64_t fiber_parks, fiber_switches;
	_Atomic uint64_t fiber_resumes, fiber_yields, fibers_created, fibers_destroyed;
	/* Held parks that switched straight to a suspended fiber (fibers.c): each is also a
	 * fiber park, a resume and a switch, added in by weft_rt_stats (one count, not three). */
	_Atomic uint64_t fiber_handoffs;
};

/*
 * Cache lines: what other workers read (the read-only part, the LIFO slot, the yield
 * list) is kept apart from what the owner writes on every task (scheduling state, free
 * lists, counters), so that a thief scanning for work does not keep stealing the owner's
 * hot line and the owner's bookkeeping does not invalidate the thieves' copies.
 */
struct worker {
	/* Read-only once the runtime started (read by every worker). */
	weft_deque *deque;
	weft_rt *rt;
	unsigned index;
	bool shared; /* rt->cfg.scheduler == WEFT_SCHED_SHARED, kept here for weft_fork/join */
	/* Owner-private scheduling state. */
	_Alignas(WEFT_PADDING) uint64_t rng; /* victim order */
	uint32_t tick; /* loop rounds until the injection queue goes first (every 61st) */
	uint32_t timer_tick; /* loop rounds: timers are checked every 16th */
	bool searching;
	/* Free go_task records (gorec.c): owner only. */
	struct go_task *free_tasks;  /* free_count records */
	struct go_task *spare_tasks; /* NULL or GOREC_BATCH records */
	unsigned free_count;
	/* Fibers (fibers.c): owner only. */
	weft_fiber *main_fiber; /* the thread's own stack: runs no tasks */
	struct sfiber *cur;     /* the fiber running on this worker now */
	struct sfiber *handoff; /* a fiber this worker's task just woke, run next (fibers.c) */
	unsigned handoff_streak; /* hand-offs since the loop last ran (fibers.c) */
	struct sfiber *pool;    /* idle fibers, reset on reuse */
	unsigned pool_count;
	int after_kind;
	void *after_arg;
	/* Yielded fibers, oldest first (worker.c): owner only; handed to the injection queue
	 * when another worker looks for work. */
	struct sfiber *yield_head, *yield_tail;
	size_t yield_len;
	/* The LIFO slot: the most recently woken fiber; owner and thieves exchange it. */
	_Alignas(WEFT_PADDING) _Atomic(void *) lifo;
	/* Quiescence (weft_rt_stop): tasks spawned here and tasks completed here, written by
	 * this worker only (release: pairs with the acquire loads in rt_quiescent). */
	_Alignas(WEFT_PADDING) _Atomic uint64_t spawned;
	_Atomic uint64_t completed;
	struct worker_counters c;
	/* Idle parking, see park.c: the futex word and the idle-stack link (under idle_lock). */
	_Alignas(WEFT_PADDING) _Atomic uint32_t wake;
	struct worker *idle_next;
	bool idle; /* on the idle stack (under idle_lock) */
	pthread_t thread;
	/* Timers (timer.c): a binary min-heap under timer_lock; timer_next mirrors the
	 * earliest deadline for lock-free peeks (WEFT_NO_DEADLINE: none). */
	pthread_mutex_t timer_lock;
	struct timer **heap;
	size_t heap_len, heap_cap;
	_Atomic uint64_t timer_next;
} __attribute__((aligned(WEFT_PADDING)));

/* The worker loop's first look (fibers.c explains the hand-off): the fiber this worker's
 * task woke last, as a work item, or NULL. Owner only. */
static inline void *weft_fibers_take_handoff(struct worker *w)
{
	struct sfiber *sf = w->handoff;
	w->handoff_streak = 0;
	if (sf == NULL)
		return NULL;
	w->handoff = NULL;
	return item_make(sf, ITEM_FIBER);
}

/* The built-in injection queue: a growable ring under a mutex. */
struct inject {
	pthread_mutex_t lock;
	void **ring;
	size_t cap, head, count;
	/* count, readable without the lock for emptiness checks (written under it). */
	_Atomic size_t len;
	weft_queue *q; /* the configured kind; the ring and list take what it refuses */
	struct sfiber *fib_head, *fib_tail; /* runnable fibers (intrusive: never allocates) */
	size_t fib_count;
	_Atomic size_t ring_len; /* count + fib_count, written under lock, a hint outside */
};

#define EXT_CLOSED (UINT64_C(1) << 63)

struct weft_rt {
	weft_rt_config cfg;
	unsigned nworkers;
	struct worker **workers;
	struct inject inject;

	/* Idle parking (park.c). */
	_Alignas(WEFT_PADDING) pthread_mutex_t idle_lock;
	struct worker *idle_head; /* under idle_lock */
	_Atomic unsigned nidle, nsearching;

	/* Shutdown (rt.c). ext_spawned: tasks accepted from outside the workers, with
	 * EXT_CLOSED set once stop began (a CAS refuses new ones atomically). */
	_Alignas(WEFT_PADDING) _Atomic uint64_t ext_spawned;
	_Atomic bool closing;   /* best-effort refusal inside workers */
	_Atomic bool shutdown;  /* workers exit once they find no work */
	_Atomic uint32_t quiesce_word; /* bumped by workers going idle while closing */
	_Atomic unsigned started;      /* workers that got running (start barrier) */

	/* Idle fibers beyond the per-worker pools (fibers.c), freed by weft_rt_stop. */
	_Alignas(WEFT_PADDING) pthread_mutex_t fcache_lock;
	struct sfiber *fcache;
	_Atomic size_t fcache_len; /* written under fcache_lock */
	/* Magazines of go_task records beyond the workers' own (gorec.c). */
	pthread_mutex_t gorec_lock;
	struct go_task *gorec_depot; /* magazines, linked through their head's arg */
	_Atomic size_t gorec_mags;   /* written under gorec_lock, a hint outside */
};

/* worker.c */
extern __thread struct worker *weft_tls_self_ __attribute__((tls_model("initial-exec")));

/* The calling thread's worker, for code that does not switch fibers between this read and
 * its last use of the result (weft_fork, weft_go); everything else uses weft_worker_self. */
static inline struct worker *worker_self_now(void)
{
	return weft_tls_self_;
}

struct worker *weft_worker_self(void); /* the calling thread's worker, or NULL; re-read
					 * after anything that may switch fibers */
void weft_worker_set_self(struct worker *w);
void weft_worker_loop(void);
void weft_run_item(struct worker *w, void *item, bool stolen);
void *weft_worker_steal_from(struct worker *self, struct worker *victim, bool lifo);
/* gorec.c: go_task records; the fast paths are inline (owner only). */
#define GOREC_BATCH 256u
struct go_task *weft_gorec_get_slow_(struct worker *w);
void weft_gorec_put_slow_(struct worker *w, struct go_task *g);
void weft_gorec_worker_fini(struct worker *w);
void weft_gorec_fini(weft_rt *rt);

/* A record for a spawn by w (NULL: ENOMEM). */
static inline struct go_task *weft_gorec_get(struct worker *w)
{
	struct go_task *g = w->free_tasks;
	if (__builtin_expect(g == NULL, 0))
		return weft_gorec_get_slow_(w);
	w->free_tasks = g->next;
	w->free_count--;
	return g;
}

/* Give back a record on w's thread (the task ran, or its spawn failed). */
static inline void weft_gorec_put(struct worker *w, struct go_task *g)
{
	if (__builtin_expect(w->free_count >= GOREC_BATCH, 0)) {
		weft_gorec_put_slow_(w, g);
		return;
	}
	g->next = w->free_tasks;
	w->free_tasks = g;
	w->free_count++;
}
void weft_worker_yielded(struct worker *w, struct sfiber *sf); /* a yield's requeue */
bool weft_worker_yields_flush(struct worker *w); /* before the thread sleeps (parker.c) */

/* inject.c */
int weft_inject_init(struct inject *q, weft_rt_config *cfg);
void weft_inject_fini(struct inject *q);
int weft_inject_push(struct inject *q, void *item);
void *weft_inject_pop(struct inject *q);
bool weft_inject_maybe_nonempty(struct inject *q);

void weft_inject_push_fiber(struct inject *q, struct sfiber *sf);

/* fibers.c */
int weft_fibers_thread_start(struct worker *w); /* on the worker thread; runs the loop */
void weft_fibers_after_switch(void);
uint32_t weft_sfiber_id_next(void); /* parker.c: a new fiber's weft_exec_id() */
void weft_fibers_resume(struct worker *w, struct sfiber *target); /* from the loop only */
void weft_fibers_schedule_slow(struct worker *w, struct sfiber *sf);

/* Make a suspended fiber runnable (fibers.c explains the hand-off slot). The common case
 * inline: a task on a worker of sf's runtime with an empty hand-off slot. */
static inline void weft_fibers_schedule(struct sfiber *sf)
{
	struct worker *w = weft_worker_self();
	if (w != NULL && w->handoff == NULL && w->rt == sf->rt && !w->shared) {
		w->handoff = sf;
		return;
	}
	weft_fibers_schedule_slow(w, sf);
}
void weft_fibers_publish_handoff(struct worker *w); /* before a worker's thread sleeps */
void weft_fibers_cache_free(weft_rt *rt);
int weft_fibers_prepare(struct worker *w);
void weft_fibers_pool_free(struct worker *w);
struct sfiber *weft_fibers_get(struct worker *w);
int weft_fibers_yield(void);
int weft_fibers_suspend(struct worker *w, int kind, void *arg);
int weft_fibers_park_held(weft_waiter *wt, uint64_t deadline); /* the parker's park_held */
struct sfiber *weft_parker_timeout(weft_waiter *wt); /* parker.c, for timer.c */
int weft_parker_park(weft_waiter *wt, uint64_t deadline); /* the parker's park */
extern const weft_waiter_ops weft_fiber_waiter_ops;

/* timer.c */
int weft_timer_add(struct worker *w, struct timer *t);
void weft_timer_remove(struct timer *t);
void weft_timers_run(struct worker *w, uint64_t now);
void weft_timers_init(struct worker *w);
void weft_timers_fini(struct worker *w);

/* park.c */
extern bool weft_park_membarrier_; /* the asymmetric barrier is on (park.c); read-only */
void weft_park_barrier_init(void); /* weft_rt_start, before the workers start */
void weft_park_notify_slow_(weft_rt *rt);

/* S2-S3 of park.c's protocol, after an item was made visible (S1): true when S4
 * (weft_park_notify_slow_) must follow. `fence`: S2 (the light side of park.c's asymmetric
 * barrier), omitted only where a missed wake costs parallelism alone (weft_fork, the
 * loop's best-effort wake). Inline: the common case is two loads. */
static inline bool weft_park_notify_needed(weft_rt *rt, bool fence)
{
	if (fence) {
		if (weft_park_membarrier_)
			/* Seq_cst signal fence: a compiler barrier only; the parkers' membarrier
			 * (P3) supplies the hardware barrier (park.c). */
			atomic_signal_fence(memory_order_seq_cst);
		else
			atomic_thread_fence(memory_order_seq_cst); /* S2: pairs with P3 */
	}
	/* Relaxed: ordered by S2 (or best effort without it). */
	return atomic_load_explicit(&rt->nsearching, memory_order_relaxed) == 0 &&
	       atomic_load_explicit(&rt->nidle, memory_order_relaxed) != 0;
}

/* S2-S4 of park.c's protocol (see weft_park_notify_needed). */
static inline void weft_park_notify(weft_rt *rt, bool fence)
{
	if (weft_park_notify_needed(rt, fence))
		weft_park_notify_slow_(rt);
}
void weft_park_notify_sc(weft_rt *rt); /* after a seq_cst RMW that published the item */
void weft_park_idle(struct worker *w);
void weft_park_leave_searching(struct worker *w);
bool weft_park_try_search(struct worker *w);
void weft_park_wake_all(weft_rt *rt);
bool weft_park_work_visible(weft_rt *rt);

/* task.c */
void weft_fork_complete(weft_task *t);

#endif
