/*
 * A worker's scheduling loop: find an item, run it, repeat.
 *
 * Where a worker looks, in order (STEAL scheduler): the injection queue and then its yield
 * list first on every 61st tick (so outside submissions and yielded fibers are never
 * starved by local work), its LIFO slot, its own deque (newest first), the injection
 * queue, its yield list; then, if fewer than about half the busy workers are already
 * searching, other workers' deques and LIFO slots in a random order; then it
 * spins a little while watching for work (idle_spin) and finally parks (park.c). Under
 * WEFT_SCHED_SHARED only the shared queue is used.
 *
 * Yielded fibers: weft_yield puts the running fiber at the back of its worker's yield list
 * (owner-only, no lock), not on the injection queue: the yielder stays on its worker's
 * caches, the runtime-wide queue is left alone, and no idle worker is woken for a fiber
 * its own worker is about to resume anyway (that was a futex wake per yield, each finding
 * the fiber already taken back). When a second fiber waits on the list while some worker
 * searches or sleeps, the older one is handed to the injection queue (and a sleeper
 * woken), so that yielders spread over idle workers. A worker's thread that sleeps with a
 * task on its stack (the parker's fallback) hands its whole list over first.
 *
 * Idle spinning: a worker that found nothing watches for work for up to IDLE_SPIN_NS
 * (pause instructions with a short exponential backoff, reading only what park.c's P4
 * reads) before it parks, as TBB and OpenMP workers do and Go's spinning Ms briefly do: a
 * futex sleep and wake costs microseconds on both sides (a bare syscall took ~5 us on the
 * 2-core VM this was tuned on), more than many fork/join jobs leave between two bursts of
 * work, and a submitter that finds a worker searching wakes nobody (no wake-up storm).
 * A worker that may not search (the half-of-the-busy cap) waits only for work in the
 * injection queue or for the cap to let it search. Every IDLE_YIELD_NS the spinner calls
 * sched_yield: a thread the kernel wants to run on this CPU (the one that submits the
 * next job, a woken waiter) gets it at once — on that VM a futex wake of a sleeping
 * thread took 43 us on average next to a pure pause loop, 5 us next to one that yields.
 * The spin is bounded in time, so nothing here depends on another thread being scheduled.
 *
 * Fibers migrate: the worker a task runs on may change across any call that can block. The
 * thread-local `self` is therefore read through weft_worker_self(), which is noinline and
 * opaque to the optimiser, and re-read after every such call; no function here keeps a
 * struct worker * across a call that may switch fibers (the loop keeps one across rounds,
 * re-read after each item it runs).
 */
#include <errno.h>
#include <sched.h>

#include "../queues/deque_internal.h"
#include "../sync/alloc.h"
#include "sched.h"
#include "self_fresh.h"

/* initial-exec: a plain %fs-relative load, no __tls_get_addr call in the shared library. */
__thread struct worker *weft_tls_self_ __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) struct worker *weft_worker_self(void)
{
	struct worker *w = weft_tls_self_;
	/* An opaque barrier: the compiler may not treat this function as pure and merge two
	 * calls across a fiber switch. */
	__asm__ __volatile__("" : "+r"(w)::"memory");
	return w;
}

void weft_worker_set_self(struct worker *w)
{
	weft_tls_self_ = w;
}

static inline void count(_Atomic uint64_t *c)
{
	/* Relaxed: a statistic written by its owner only. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/*
 * Run a spawned task. w: the calling worker (nothing switched since the caller read it).
 * Returns the worker the caller runs on afterwards (fn may block and migrate its fiber),
 * so that the loop reads the thread-local worker once per task.
 * Counted in w->completed only: weft_rt_stats adds completed to tasks_run (stats.c), so a
 * spawned task costs one counter, not two.
 */
static inline __attribute__((always_inline)) struct worker *run_go(struct worker *w,
								    struct go_task *g)
{
	void (*fn)(void *) = g->fn;
	void *arg = g->arg;
	weft_gorec_put(w, g);
	fn(arg);
	w = weft_worker_self_fresh(); /* re-read: fn may have migrated (self_fresh.h) */
	/* Release: pairs with the acquire in rt_quiescent: the task's effects (and the spawn
	 * counts of tasks it spawned) precede its completion's visibility. */
	atomic_store_explicit(&w->completed,
			      atomic_load_explicit(&w->completed, memory_order_relaxed) + 1,
			      memory_order_release);
	return w;
}

void weft_run_item(struct worker *w, void *item, bool stolen)
{
	switch (item_tag(item)) {
	case ITEM_FORK: {
		weft_task *t = item_ptr(item);
		/* Relaxed: a hint for the joiner's leapfrogging only. */
		atomic_store_explicit(&t->thief, stolen ? (int32_t)w->index : -1,
				      memory_order_relaxed);
		count(&w->c.tasks_run); /* before fn, on the current worker (as weft_join) */
		t->fn(t);
		weft_fork_complete(t);
		break;
	}
	case ITEM_GO:
		run_go(w, item_ptr(item));
		break;
	case ITEM_FIBER:
		weft_fibers_resume(w, item_ptr(item)); /* does not return here */
		break;
	default:
		break;
	}
}

void *weft_worker_steal_from(struct worker *self, struct worker *victim, bool lifo)
{
	void *item = NULL;
	int tries = 0;
	count(&self->c.steals_attempted);
	for (;;) {
		int r = weft_deque_steal(victim->deque, &item);
		if (r == 0) {
			count(&self->c.steals);
			return item;
		}
		if (r == EAGAIN) {
			/* Nothing public: ask the victim to publish its private items. */
			weft_deque_want_(victim->deque);
			break;
		}
		if (++tries > 4)
			break;
	}
	/* The victim's LIFO slot: a woken fiber waiting behind a long task. Relaxed load as a
	 * cheap emptiness check; the exchange is acq_rel (pairs with the owner's exchange
	 * that put the fiber there). */
	void *seen = lifo ? atomic_load_explicit(&victim->lifo, memory_order_relaxed) : NULL;
	if (seen == NULL)
		return NULL;
	/* Go's runnext rule: the victim's task has most likely just woken this fiber and is
	 * about to block, and then the victim runs it itself (a ping-pong stays on one worker,
	 * no fiber bounces between caches). Give it a moment; take the fiber only if the slot
	 * still holds the same one. Bounded: no wait here depends on the victim running. */
	for (int i = 0; i < 32; i++) {
		weft_cpu_relax();
		/* Relaxed: a hint, as above. */
		if (atomic_load_explicit(&victim->lifo, memory_order_relaxed) != seen)
			return NULL;
	}
	/* Acq_rel: pairs with the owner's exchange that put the fiber there; a failed CAS
	 * (the slot changed) takes nothing. */
	if (!atomic_compare_exchange_strong_explicit(&victim->lifo, &seen, NULL,
						     memory_order_acq_rel, memory_order_relaxed))
		return NULL;
	count(&self->c.steals);
	return seen;
}

static struct sfiber *yield_pop(struct worker *w)
{
	struct sfiber *sf = w->yield_head;
	if (sf != NULL) {
		w->yield_head = sf->next;
		if (w->yield_head == NULL)
			w->yield_tail = NULL;
		w->yield_len--;
	}
	return sf;
}

/* Append a yielded fiber to w's yield list (fibers.c, after the yielder switched away). */
void weft_worker_yielded(struct worker *w, struct sfiber *sf)
{
	weft_rt *rt = w->rt;
	if (w->shared) {
		weft_inject_push_fiber(&rt->inject, sf);
		weft_park_notify(rt, true);
		return;
	}
	sf->next = NULL;
	if (w->yield_tail != NULL)
		w->yield_tail->next = sf;
	else
		w->yield_head = sf;
	w->yield_tail = sf;
	w->yield_len++;
	/* Two waiting here and a worker looking for work or asleep: hand the older one over.
	 * Relaxed: a hint (a missed hand-off costs parallelism, never progress: this worker
	 * runs its list before it idles); the push and notify below are the protocol's S1-S4. */
	if (w->yield_len >= 2 &&
	    (atomic_load_explicit(&rt->nsearching, memory_order_relaxed) != 0 ||
	     atomic_load_explicit(&rt->nidle, memory_order_relaxed) != 0)) {
		weft_inject_push_fiber(&rt->inject, yield_pop(w));
		weft_park_notify(rt, true);
	}
}

/* Before the worker's thread sleeps with a task on its stack (parker.c, no fiber to
 * switch to): the yielded fibers must not wait for it. True when any was handed over; the
 * caller then notifies. */
bool weft_worker_yields_flush(struct worker *w)
{
	bool any = false;
	struct sfiber *sf;
	while ((sf = yield_pop(w)) != NULL) {
		weft_inject_push_fiber(&w->rt->inject, sf);
		any = true;
	}
	return any;
}

static void *yield_take(struct worker *w)
{
	struct sfiber *sf = yield_pop(w);
	return sf != NULL ? item_make(sf, ITEM_FIBER) : NULL;
}

/* find_local once the worker's own deque came up empty: the injection queue, then the
 * yield list (out of line: the loop's common case never gets here). */
static __attribute__((noinline)) void *find_local_rest(struct worker *w)
{
	void *item = weft_inject_pop(&w->rt->inject);
	return item != NULL ? item : yield_take(w);
}

/* One pass over the other workers in a random order. */
static void *steal_round(struct worker *w)
{
	weft_rt *rt = w->rt;
	unsigned n = rt->nworkers;
	if (n < 2)
		return NULL;
	unsigned start = (unsigned)(rng_next(&w->rng) % n);
	for (unsigned k = 0; k < n; k++) {
		struct worker *v = rt->workers[(start + k) % n];
		if (v == w)
			continue;
		void *item = weft_worker_steal_from(w, v, true);
		if (item != NULL)
			return item;
	}
	return NULL;
}

/*
 * Owner only: the newest item of w's deque (deque_pop_fast), skipping the public pop and
 * its seq_cst fence when the deque certainly holds nothing (every yield and every idle
 * round comes here with an empty deque). Invariants: only the owner adds items and moves
 * bottom and pbot; top only grows, so a stale top can only make "empty" look false, never
 * true. The loads of pbot and bottom are shared by the emptiness test and the pop.
 */
static inline void *deque_pop_local(weft_deque *d)
{
	int64_t p = d->pbot;
	/* Relaxed: bottom and array are written by this thread only. */
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	if (p > b) { /* a private item: owner-only slots, no fence */
		deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
		d->pbot = p - 1;
		/* Relaxed: a private slot, written by this thread only. */
		return atomic_load_explicit(&a->slots[(p - 1) & a->mask], memory_order_relaxed);
	}
	/* Relaxed: see above (p == b: no private items). */
	if (atomic_load_explicit(&d->top, memory_order_relaxed) >= b)
		return NULL;
	void *x = deque_pop_public(d);
	d->pbot = atomic_load_explicit(&d->bottom, memory_order_relaxed); /* relaxed: ours */
	return x;
}

/* Inline into the loop: it runs once per task. */
static inline __attribute__((always_inline)) void *find_local(struct worker *w)
{
	weft_rt *rt = w->rt;
	void *item;
	if (__builtin_expect(w->shared, 0))
		return weft_inject_pop(&rt->inject);
	/* Every 61st tick (a count-down: no division on the hot path). */
	if (__builtin_expect(w->tick-- == 0, 0)) {
		w->tick = 60;
		if ((item = weft_inject_pop(&rt->inject)) != NULL ||
		    (item = yield_take(w)) != NULL)
			return item;
	}
	if ((item = weft_fibers_take_handoff(w)) != NULL) /* fibers.c: the hand-off */
		return item;
	/* Relaxed load as a cheap emptiness check; acq_rel exchange pairs with the push. */
	if (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL &&
	    (item = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acq_rel)) != NULL)
		return item;
	if ((item = deque_pop_local(w->deque)) != NULL)
		return item;
	return find_local_rest(w);
}

/* Search other workers for a while; NULL when nothing turned up. */
static void *find_remote(struct worker *w, bool *stolen)
{
	weft_rt *rt = w->rt;
	if (rt->cfg.scheduler == WEFT_SCHED_SHARED || !weft_park_try_search(w))
		return NULL;
	for (int round = 0; round < 4; round++) {
		void *item = steal_round(w);
		if (item != NULL) {
			*stolen = true;
			return item;
		}
		if ((item = weft_inject_pop(&rt->inject)) != NULL)
			return item;
		weft_cpu_relax();
	}
	return NULL;
}

/* How long an idle worker watches for work before it parks (see the top of this file). */
#define IDLE_SPIN_NS (40 * 1000)
#define IDLE_SPIN_BACKOFF_MAX 8 /* pauses between two looks (a pause may take ~60 ns) */
#define IDLE_YIELD_NS (8 * 1000)

/* Watch for work for a while; true when the loop should look again (work, a due timer,
 * shutdown), false when the worker should park. */
static bool idle_spin(struct worker *w)
{
	weft_rt *rt = w->rt;
	if (w->shared)
		return false; /* the classic thread pool baseline sleeps at once */
	uint64_t start = weft_now_ns(), yielded = start;
	unsigned backoff = 1;
	for (;;) {
		for (unsigned k = 0; k < backoff; k++)
			weft_cpu_relax();
		if (backoff < IDLE_SPIN_BACKOFF_MAX)
			backoff <<= 1;
		/* Acquire: pairs with the release store in weft_rt_stop. */
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire) ||
		    weft_inject_maybe_nonempty(&rt->inject))
			return true;
		if (weft_park_work_visible(rt) && weft_park_try_search(w))
			return true;
		uint64_t now = weft_now_ns();
		if (now - yielded >= IDLE_YIELD_NS) {
			sched_yield();
			yielded = now = weft_now_ns();
		}
		/* Relaxed: the timer heap's hint, as in the loop. */
		if (now >= atomic_load_explicit(&w->timer_next, memory_order_relaxed) ||
		    now - start >= IDLE_SPIN_NS)
			return now - start < IDLE_SPIN_NS;
	}
}

/* find_local out of line, for the loop's rare second look (after firing timers). */
static __attribute__((noinline)) void *find_local_again(struct worker *w)
{
	return find_local(w);
}

/*
 * The loop reads the thread-local worker once per task: at the top of the first round, and
 * then from what running the last item left (run_go returns the re-read worker; a fork
 * task or anything else re-reads it after running). A fiber resumed by weft_run_item does
 * not return here; the fiber that runs this loop again later comes back through the
 * re-read after its own item.
 */
void weft_worker_loop(void)
{
	bool woke = false;
	struct worker *w = weft_worker_self();
	for (;;) {
		weft_rt *rt = w->rt;
		bool stolen = false;
		/* Timers: every 16th round (a clock read costs tens of ns) and before looking
		 * elsewhere. Relaxed: a hint; timers are fired under their lock. */
		bool timers = atomic_load_explicit(&w->timer_next, memory_order_relaxed) !=
			      WEFT_NO_DEADLINE;
		if (__builtin_expect(timers, 0) && (++w->timer_tick & 15) == 0)
			weft_timers_run(w, weft_now_ns());
		void *item = find_local(w);
		if (item == NULL && timers) {
			weft_timers_run(w, weft_now_ns());
			item = find_local_again(w);
		}
		if (item == NULL)
			item = find_remote(w, &stolen);
		if (item != NULL) {
			woke = false;
			if (__builtin_expect(w->searching, 0))
				weft_park_leave_searching(w);
			/* More local work and sleepers: let one of them steal (best effort: S3
			 * without S2, as weft_park_notify(rt, false), the cheap loads first).
			 * Relaxed: hints. */
			if (atomic_load_explicit(&rt->nidle, memory_order_relaxed) != 0 &&
			    atomic_load_explicit(&rt->nsearching, memory_order_relaxed) == 0 &&
			    weft_deque_size_hint(w->deque) != 0)
				weft_park_notify_slow_(rt);
			if (item_tag(item) == ITEM_GO) {
				w = run_go(w, item_ptr(item)); /* the common case, inline */
			} else {
				weft_run_item(w, item, stolen);
				w = weft_worker_self(); /* re-read: the item may have migrated */
			}
			continue;
		}
		if (woke)
			count(&w->c.wakeups_no_work);
		/* Acquire: pairs with the release store in weft_rt_stop. */
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
			weft_park_leave_searching(w);
			return;
		}
		if (idle_spin(w)) {
			woke = false;
			continue;
		}
		weft_park_idle(w);
		woke = true;
		/* The worker's own thread slept on its own stack here: no migration, but
		 * re-read anyway (cheap, and safe whatever park_idle becomes). */
		w = weft_worker_self();
	}
}
