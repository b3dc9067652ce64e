/*
 * Per-worker timer heaps: the deadlines of fibers parked with one (weft_sleep, a timed
 * wait, a context deadline). A fiber's timer goes into the heap of the worker it parked
 * on; that worker fires it (weft_timers_run from its loop) and, when idle, sleeps no
 * later than its earliest deadline. A woken fiber removes its own timer (it may resume on
 * another worker: the timer remembers its owner).
 *
 * Lifetime: a timer lives on the parked fiber's stack. The firer sets PW_TIMEDOUT under
 * the heap lock, and the owner's removal takes the same lock, so the owner cannot return
 * (and free the timer) while the firer still uses it.
 *
 * Weakness: a worker busy in a long task fires its timers late (nobody else looks at
 * them); a one-heap-per-runtime design or stealing timers would fix that.
 */
#include <errno.h>

#include "../sync/alloc.h"
#include "sched.h"

static void heap_set(struct worker *w, size_t i, struct timer *t)
{
	w->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct worker *w, size_t i)
{
	struct timer *t = w->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (w->heap[p]->deadline <= t->deadline)
			break;
		heap_set(w, i, w->heap[p]);
		i = p;
	}
	heap_set(w, i, t);
}

static void sift_down(struct worker *w, size_t i)
{
	struct timer *t = w->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= w->heap_len)
			break;
		if (c + 1 < w->heap_len && w->heap[c + 1]->deadline < w->heap[c]->deadline)
			c++;
		if (t->deadline <= w->heap[c]->deadline)
			break;
		heap_set(w, i, w->heap[c]);
		i = c;
	}
	heap_set(w, i, t);
}

static void heap_delete(struct worker *w, size_t i)
{
	w->heap[i]->idx = TIMER_NONE;
	w->heap_len--;
	if (i < w->heap_len) {
		heap_set(w, i, w->heap[w->heap_len]);
		sift_down(w, i);
		sift_up(w, w->heap[i]->idx);
	}
}

static void publish_next(struct worker *w)
{
	/* Relaxed: a hint for the owner's loop and idle sleep; the heap is under the lock. */
	atomic_store_explicit(&w->timer_next,
			      w->heap_len ? w->heap[0]->deadline : WEFT_NO_DEADLINE,
			      memory_order_relaxed);
}

void weft_timers_init(struct worker *w)
{
	pthread_mutex_init(&w->timer_lock, NULL);
	atomic_init(&w->timer_next, WEFT_NO_DEADLINE);
}

void weft_timers_fini(struct worker *w)
{
	pthread_mutex_destroy(&w->timer_lock);
	weft_mem_free(w->heap);
	w->heap = NULL;
}

int weft_timer_add(struct worker *w, struct timer *t)
{
	pthread_mutex_lock(&w->timer_lock);
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
		struct timer **h = weft_mem_alloc(cap * sizeof(*h), 0);
		if (h == NULL) {
			pthread_mutex_unlock(&w->timer_lock);
			return ENOMEM;
		}
		for (size_t i = 0; i < w->heap_len; i++)
			h[i] = w->heap[i];
		weft_mem_free(w->heap);
		w->heap = h;
		w->heap_cap = cap;
	}
	t->owner = w;
	heap_set(w, w->heap_len++, t);
	sift_up(w, w->heap_len - 1);
	publish_next(w);
	pthread_mutex_unlock(&w->timer_lock);
	return 0;
}

void weft_timer_remove(struct timer *t)
{
	struct worker *w = t->owner;
	pthread_mutex_lock(&w->timer_lock);
	if (t->idx != TIMER_NONE) {
		heap_delete(w, t->idx);
		publish_next(w);
	}
	pthread_mutex_unlock(&w->timer_lock);
}

void weft_timers_run(struct worker *w, uint64_t now)
{
	struct sfiber *ready = NULL;
	pthread_mutex_lock(&w->timer_lock);
	while (w->heap_len > 0 && w->heap[0]->deadline <= now) {
		struct timer *t = w->heap[0];
		heap_delete(w, 0);
		struct sfiber *sf = weft_parker_timeout(t->wt);
		if (sf != NULL) { /* suspended and not woken: ours to schedule */
			sf->next = ready;
			ready = sf;
		}
	}
	publish_next(w);
	pthread_mutex_unlock(&w->timer_lock);
	while (ready != NULL) {
		struct sfiber *next = ready->next;
		weft_fibers_schedule(ready);
		ready = next;
	}
}
