/*
 * buffer_pool: a worker pipeline that recycles 4-KiB buffers through a weft_pool.
 *
 * Producer threads take a buffer, fill it with a "message", and hand it to consumer
 * threads through a weft_queue; a consumer checksums the message and releases the
 * buffer, on its own thread (so buffers keep moving from producers' caches to consumers'
 * and back through the pool's depot, a magazine at a time). The same pipeline runs twice:
 * once with malloc/free, once with the pool; it prints how many allocations the pool
 * avoided and both times (on a busy machine the times say little; the counts are exact).
 *
 *   buffer_pool            200000 messages per producer
 *   buffer_pool --smoke    20000 messages per producer, about a second or less
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <weft/pool.h>
#include <weft/queue.h>

enum { PRODUCERS = 2, CONSUMERS = 2, BUF = 4096 };

static char stop_marker; /* pushed once per consumer at the end: items must be non-NULL */

struct pipeline {
	weft_queue *q;
	weft_pool *pool; /* NULL: malloc/free */
	long messages;   /* per producer */
	unsigned long long checksum[CONSUMERS];
};

struct arg {
	struct pipeline *pl;
	int id;
};

static void *get_buf(struct pipeline *pl)
{
	return pl->pool ? weft_pool_get(pl->pool) : malloc(BUF);
}

static void put_buf(struct pipeline *pl, void *b)
{
	if (pl->pool)
		weft_pool_put(pl->pool, b);
	else
		free(b);
}

static void push(weft_queue *q, void *item)
{
	while (weft_queue_push(q, item) == EAGAIN)
		sched_yield(); /* full: let a consumer run */
}

static void *producer(void *p)
{
	struct arg *a = p;
	for (long i = 0; i < a->pl->messages; i++) {
		unsigned char *b = get_buf(a->pl);
		if (b == NULL) {
			perror("buffer");
			exit(1);
		}
		memset(b, (int)(i & 0xff), BUF); /* the "message" */
		b[0] = (unsigned char)a->id;
		push(a->pl->q, b);
	}
	return NULL;
}

static void *consumer(void *p)
{
	struct arg *a = p;
	unsigned long long sum = 0;
	for (;;) {
		void *item;
		if (weft_queue_pop_wait(a->pl->q, &item, NULL) != 0)
			break;
		if (item == &stop_marker)
			break;
		const unsigned char *b = item;
		for (int i = 0; i < BUF; i += 64)
			sum += b[i];
		put_buf(a->pl, item);
	}
	a->pl->checksum[a->id] = sum;
	return NULL;
}

static double run(struct pipeline *pl)
{
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	struct arg pa[PRODUCERS], ca[CONSUMERS];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < CONSUMERS; i++) {
		ca[i] = (struct arg){ pl, i };
		pthread_create(&ct[i], NULL, consumer, &ca[i]);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pa[i] = (struct arg){ pl, i };
		pthread_create(&pt[i], NULL, producer, &pa[i]);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		push(pl->q, &stop_marker);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(ct[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	struct pipeline pl = { .messages = smoke ? 20000 : 200000 };
	int err = weft_queue_create(&pl.q, WEFT_QUEUE_MPMC, 256);
	if (err != 0) {
		fprintf(stderr, "weft_queue_create: %s\n", strerror(err));
		return 1;
	}
	double t_malloc = run(&pl);

	weft_pool_config cfg;
	weft_pool_config_init(&cfg);
	cfg.size = BUF;
	cfg.align = 64;
	cfg.magazine_size = 32;
	if ((err = weft_pool_create(&pl.pool, &cfg)) != 0) {
		fprintf(stderr, "weft_pool_create: %s\n", strerror(err));
		return 1;
	}
	double t_pool = run(&pl);
	weft_pool_stats st;
	weft_pool_stats_get(pl.pool, &st);
	long total = (long)PRODUCERS * pl.messages;
	printf("%ld 4-KiB messages through %d producers and %d consumers\n", total, PRODUCERS,
	       CONSUMERS);
	printf("malloc/free: %ld allocations, %.3f s\n", total, t_malloc);
	printf("weft_pool:   %llu allocations (%llu avoided, %.1f%%), %llu depot trips, %.3f s\n",
	       (unsigned long long)st.created, (unsigned long long)(st.gets - st.created),
	       100.0 * (double)(st.gets - st.created) / (double)st.gets,
	       (unsigned long long)st.depot_exchanges, t_pool);
	printf("time saved against malloc: %.3f s (%+.0f%%; timings vary with machine load)\n",
	       t_malloc - t_pool, 100.0 * (t_malloc - t_pool) / t_malloc);
	weft_pool_destroy(pl.pool);
	weft_queue_destroy(pl.q);
	return st.gets == (unsigned long long)total ? 0 : 1;
}
