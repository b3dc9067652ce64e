/*
 * The eventcount behind weft_queue_pop_wait (queues/eventcount.h), against queue kinds whose
 * pop can report EAGAIN while later items are ready: weft's mpmc ring returns EAGAIN at a
 * position whose push has claimed its slot but not yet published it (a preempted producer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <weft/mpmc.h>
#include <weft/queue.h>

#include "queues/eventcount.h"
#include "queues/queue_ops.h"
#include "weft_test.h"

/* White-box: the layout of struct weft_queue in queues/queue.c (checked below through the
 * ops pointer and the kind, so that a change there fails loudly, not silently). */
struct queue_mirror {
	const weft_queue_ops *ops;
	void *impl;
	weft_queue_kind kind;
	_Alignas(WEFT_PADDING) weft_ec ec;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

struct consumer {
	weft_queue *q;
	void *item;
	_Atomic int result; /* -1 while waiting */
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	atomic_store(&c->result, weft_queue_pop_wait(c->q, &c->item, NULL));
	return NULL;
}

/*
 * Two consumers sleep in pop_wait. Producer A claims slot 0 and stalls before publishing it
 * (done here by hand on the ring); producer B fills slot 1 and its notification wakes one
 * consumer, whose pop meets A's unpublished slot, returns EAGAIN, and goes back to sleep:
 * B's wake is spent. A then publishes and notifies: one consumer wakes and takes A's item.
 * B's item is ready and the other consumer must get it too. The bug fixed here: nobody woke
 * it (each push had woken exactly one consumer), so it slept with an item in the queue
 * until some later push (never, if the producers were done: a pipeline's last items).
 */
WEFT_TEST(unpublished_slot_does_not_strand_a_waiter)
{
	weft_queue *q;
	CHECK_EQ(weft_queue_create(&q, WEFT_QUEUE_MPMC, 8), 0);
	struct queue_mirror *qm = (struct queue_mirror *)q;
	CHECK(qm->ops == &weft_queue_ops_mpmc);
	CHECK(qm->kind == WEFT_QUEUE_MPMC);
	weft_mpmc *ring = qm->impl;

	struct consumer c[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		c[i] = (struct consumer){ .q = q };
		atomic_init(&c[i].result, -1);
		pthread_create(&t[i], NULL, consume, &c[i]);
	}
	while (atomic_load_explicit(&qm->ec.waiters, memory_order_relaxed) != 2)
		sleep_ms(1);
	sleep_ms(50); /* both asleep */

	/* A: claim position 0 without publishing it. */
	size_t pos = atomic_fetch_add(&ring->tail, 1);
	CHECK_EQ(pos, 0);
	static int item_a, item_b;
	CHECK_EQ(weft_queue_push(q, &item_b), 0); /* B: position 1, wakes one consumer */
	sleep_ms(50); /* that consumer meets position 0 unpublished and sleeps again */
	CHECK_EQ(atomic_load(&c[0].result), -1);
	CHECK_EQ(atomic_load(&c[1].result), -1);

	/* A publishes (as weft_mpmc_push would) and notifies (as weft_queue_push would). */
	weft_mpmc_cell *cell = weft_mpmc_cell_(ring, 0);
	cell->item = &item_a;
	atomic_store_explicit(&cell->seq, 1, memory_order_release);
	weft_ec_notify(&qm->ec);

	/* Both consumers return, one with each item (a stranded one hangs here). */
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(atomic_load(&c[i].result), 0);
	}
	CHECK((c[0].item == &item_a && c[1].item == &item_b) ||
	      (c[0].item == &item_b && c[1].item == &item_a));
	weft_queue_destroy(q);
}
