/*
 * The runtime: a work-stealing scheduler of tasks on a fixed set of worker threads.
 *
 * Tasks versus fibers. A task is a function and its argument. Spawning one (weft_go) or
 * forking one (weft_fork) pushes a small record on the current worker's deque (or on the
 * runtime's injection queue when called from outside the runtime); no stack is allocated.
 * A worker runs a task on whatever stack it is on (a fiber from its pool). Only when a task
 * blocks in weft (a weft mutex slow path, semaphore, wait group, context wait, blocking
 * queue pop, weft_sleep, or a join whose child was stolen) does that stack become a
 * suspended fiber: the worker continues on another fiber and the blocked one resumes
 * later, on any worker. Stacks are paid for by blocking, not by spawning: a runtime holds
 * one fiber per worker plus one per task blocked at the moment.
 *
 * Stacks: weft_rt_config.stack_size bytes (default 64 KiB) each, mmap'd with a guard page
 * below; an overflow is reported ("fiber stack overflow (stack size N bytes); raise
 * weft_rt_config.stack_size") and the process aborts. Only touched pages cost memory. Idle
 * fibers are kept for reuse (64 per worker, then up to 16384 per runtime) and unmapped by
 * weft_rt_stop. A task that needs a deep stack (big arrays on the stack, deep recursion)
 * needs a larger stack_size.
 *
 * Fibers migrate between workers. The rule for users: do not keep the address of a
 * thread-local variable, errno's included, across a weft call that may block; read errno
 * right after the call that set it, before any blocking weft call. glibc declares
 * __errno_location() const, so within one function the compiler may reuse errno's
 * address across a blocking call, even through a noinline helper (GCC infers it const
 * too); a helper needs an opaque barrier (`__asm__ volatile("" ::: "memory")`) to be
 * re-evaluated. The same holds for your own _Thread_local variables and for
 * pthread_self(). pthread mutexes and other thread-owned resources must not be held across
 * a blocking weft call. weft_worker_index() is always re-read; weft's own per-worker state
 * is never cached across a switch.
 *
 * Errors: 0 or an errno value. EPERM for a call that needs a worker made from outside one.
 */
#ifndef WEFT_RUNTIME_H
#define WEFT_RUNTIME_H

#include <weft/common.h>
#include <weft/ctx.h>
#include <weft/queue.h>

typedef struct weft_rt weft_rt;

typedef enum weft_sched_kind {
	WEFT_SCHED_STEAL = 0, /* per-worker deques, work stealing, injection queue (default) */
	WEFT_SCHED_SHARED = 1 /* one shared queue of kind inject_queue: a classic thread pool */
} weft_sched_kind;

typedef struct weft_rt_config {
	unsigned workers;             /* worker threads; 0 (default) = one per online CPU */
	size_t stack_size;            /* fiber stack bytes; 0 (default) = 64 KiB, plus a guard
				       * page below each stack */
	weft_queue_kind inject_queue; /* the injection (or shared) queue; any kind that takes
				       * many producers and consumers (not spsc, not mpsc).
				       * Default WEFT_QUEUE_MUTEX. */
	weft_sched_kind scheduler;    /* default WEFT_SCHED_STEAL */
} weft_rt_config;

/* weft_rt_config_init - fill cfg with the defaults above. NULL is ignored. */
WEFT_API void weft_rt_config_init(weft_rt_config *cfg);

/*
 * weft_rt_start - start a runtime and its worker threads.
 * Returns: 0, EINVAL (rt NULL, a bad config field), ENOMEM, EAGAIN (threads).
 * Allocates: the runtime, one deque per worker. Thread-safety: any thread.
 * The first start in a process registers it for membarrier(2)'s private expedited
 * command when the kernel offers it: a worker about to sleep issues one (an interrupt to
 * each CPU running one of the process's threads, a few to tens of microseconds), so that
 * spawning never needs a memory fence to be sure an idle worker sees the task. Setting
 * WEFT_RT_NO_MEMBARRIER=1 in the environment keeps a fence on both sides instead.
 */
WEFT_API int weft_rt_start(weft_rt **rt, const weft_rt_config *cfg);

/*
 * weft_rt_stop - refuse new tasks (weft_go then returns ESHUTDOWN), wait until every task
 * accepted so far has finished (tasks they spawn while stop drains are run too, unless
 * refused), then join the workers and free the runtime.
 * Returns: 0, EINVAL (NULL), EDEADLK (called from one of rt's own workers; nothing done).
 * Blocking: yes (the calling thread). Thread-safety: once per runtime.
 */
WEFT_API int weft_rt_stop(weft_rt *rt);

/* weft_rt_current - the runtime of the calling worker, or NULL outside any runtime. */
WEFT_API weft_rt *weft_rt_current(void);

/*
 * weft_go - spawn fn(arg) as a task (fire and forget). rt NULL: the caller's own runtime.
 * Inside a worker of rt the task goes on the worker's deque, from anywhere else through
 * the injection queue. Every accepted task runs exactly once.
 * Returns: 0, EINVAL (fn NULL, or rt NULL outside a runtime), ESHUTDOWN (rt is stopping;
 *   a task spawned by a running task while stop drains may still be accepted), ENOMEM.
 * Ordering: what the caller wrote before weft_go is visible to fn.
 * Allocates: a small task record (recycled per worker, and through a runtime-wide depot
 *   of batches when tasks run on other workers than their spawner); never a stack.
 * Thread-safety: any thread. Blocking: never.
 */
WEFT_API int weft_go(weft_rt *rt, void (*fn)(void *), void *arg);

/*
 * A fork-join task: caller-owned, it may live on the caller's stack and need not be
 * initialised (weft_fork does it). Embed it in your own struct and recover the struct with
 * offsetof. The fields are private.
 */
typedef struct weft_task weft_task;
struct weft_task {
	/* private */
	void (*fn)(weft_task *t);
	_Atomic uint32_t state;
	uint32_t magic;
	_Atomic int32_t thief;
	uint32_t pad_;
};

/*
 * weft_fork - push t (to run fn(t)) on the current worker's deque; it runs on this or,
 * when stolen, another worker. Each fork must be followed by exactly one weft_join(t) in
 * the same task before t's memory goes away; joins in reverse order of the forks are
 * cheapest, any order is correct.
 * Returns: 0, EINVAL (t or fn NULL), EPERM (not on a worker).
 * Ordering: the caller's writes before the fork are visible to fn.
 * Allocates: only when the deque grows (if that fails, fn runs at once, inline).
 */
WEFT_API int weft_fork(weft_task *t, void (*fn)(weft_task *t));

/*
 * weft_join - wait until the forked t has run. If nobody stole t, run it inline; otherwise
 * help: run other work from this worker's deque, steal from the thief (leapfrogging), and
 * when there is nothing to help with, park (the fiber, or the thread without fibers).
 * Deadlock-free for any nesting, including joins inside stolen tasks.
 * Returns: 0, EINVAL (t NULL or never forked, or already joined), EPERM (not on a worker).
 * Ordering: everything fn wrote is visible after the join.
 */
WEFT_API int weft_join(weft_task *t);

/*
 * weft_yield - let other tasks run: the current task is requeued on its worker, behind
 * that worker's other runnable work (its deque and the injection queue); it may resume
 * on another worker (an idle one may take it over). If no fiber can be had (ENOMEM), the
 * thread yields instead.
 * Returns: 0, EPERM (not on a worker). Thread-safety: any task. Blocking: no.
 */
WEFT_API int weft_yield(void);

/*
 * weft_sleep - sleep ns nanoseconds (a parked fiber inside the runtime, the thread
 * outside it) or until ctx is done.
 * Returns: 0 after the full time, ECANCELED or ETIMEDOUT when ctx ended it earlier.
 * Blocking: yes. Cancellation: ctx.
 */
WEFT_API int weft_sleep(weft_ctx *ctx, uint64_t ns);

/* weft_worker_index - the calling worker's index in [0, workers), or -1 outside a runtime. */
WEFT_API int weft_worker_index(void);

/* Counters of one worker; each is monotonic since start. */
typedef struct weft_rt_worker_counters {
	uint64_t tasks_run;        /* go tasks and fork tasks run (inline joins included) */
	uint64_t steals_attempted; /* steal calls on other workers' deques */
	uint64_t steals;           /* of which took a task */
	uint64_t parks;            /* times the worker thread went to sleep for lack of work */
	uint64_t wakeups_no_work;  /* times it woke and found nothing to do */
	uint64_t fiber_parks;      /* times a task blocked (its fiber was suspended) */
	uint64_t fiber_switches;   /* context switches between fibers */
} weft_rt_worker_counters;

#define WEFT_RT_STATS_WORKERS 64

typedef struct weft_rt_counters {
	unsigned workers;
	weft_rt_worker_counters total;                          /* sum over all workers */
	weft_rt_worker_counters worker[WEFT_RT_STATS_WORKERS]; /* the first 64 workers */
	uint64_t fibers;        /* fibers in existence (each owns one stack) */
	uint64_t fibers_parked; /* fibers suspended in a blocking call now */
	uint64_t stack_bytes;   /* bytes of fiber stacks mapped, guard pages included */
} weft_rt_counters;

/*
 * weft_rt_stats - a snapshot of rt's counters (each read atomically, the set not at one
 * instant). Returns: 0, EINVAL (NULL). Thread-safety: any thread.
 */
WEFT_API int weft_rt_stats(weft_rt *rt, weft_rt_counters *stats);

#endif
