/*
 * A producer -> queue -> N workers -> queue -> collector pipeline whose queue kind is a
 * flag: the "swap in a sharded queue" story. Prints the throughput.
 *
 *   pipeline [--queue KIND] [--workers N] [--items N] [--smoke]
 *
 * KIND is any weft_queue kind name (default sharded); an unknown name prints the list and
 * exits with 2. Kinds with one consumer (mpsc) or one producer and consumer (spsc) run
 * one worker, since every worker both pops jobs and pushes results. --smoke runs a short
 * pipeline (well under a second).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/queue.h>

typedef struct job {
	uint64_t input;
	uint64_t output;
} job;

typedef struct pipeline {
	weft_queue *work;    /* producer -> workers */
	weft_queue *results; /* workers -> collector */
	job *jobs;
	size_t items;
	unsigned workers;
} pipeline;

/* Stops a worker; never a real job's address. */
static job stop_marker;

static void push_or_yield(weft_queue *q, void *item)
{
	int err;
	while ((err = weft_queue_push(q, item)) == EAGAIN)
		sched_yield(); /* bounded queue full: let a consumer run */
	if (err != 0) {
		fprintf(stderr, "pipeline: push: %s\n", strerror(err));
		exit(1);
	}
}

static void *producer_main(void *arg)
{
	pipeline *p = arg;
	for (size_t i = 0; i < p->items; i++) {
		p->jobs[i].input = i;
		push_or_yield(p->work, &p->jobs[i]);
	}
	for (unsigned w = 0; w < p->workers; w++)
		push_or_yield(p->work, &stop_marker);
	return NULL;
}

/* The work: a few rounds of a 64-bit mix, so a job costs about as much as a queue hop. */
static uint64_t work_on(uint64_t x)
{
	for (int r = 0; r < 8; r++) {
		x ^= x >> 31;
		x *= 0x9E3779B97F4A7C15ull;
	}
	return x;
}

static void *worker_main(void *arg)
{
	pipeline *p = arg;
	for (;;) {
		void *item;
		int err = weft_queue_pop_wait(p->work, &item, NULL); /* sleeps while empty */
		if (err != 0) {
			fprintf(stderr, "pipeline: pop: %s\n", strerror(err));
			exit(1);
		}
		if (item == &stop_marker)
			return NULL;
		job *j = item;
		j->output = work_on(j->input);
		push_or_yield(p->results, j);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: pipeline [--queue %s] [--workers N] [--items N] [--smoke]\n",
		weft_queue_kind_names());
}

int main(int argc, char **argv)
{
	const char *kind_name = "sharded";
	unsigned workers = 4;
	size_t items = 2000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
			kind_name = argv[++i];
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			workers = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc) {
			items = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--smoke") == 0) {
			items = 50000;
		} else {
			usage();
			return 2;
		}
	}
	weft_queue_kind kind;
	if (weft_queue_kind_parse(kind_name, &kind) != 0) {
		fprintf(stderr, "pipeline: unknown queue kind '%s'; known kinds: %s\n", kind_name,
			weft_queue_kind_names());
		return 2;
	}
	if (workers == 0 || workers > 256 || items == 0) {
		usage();
		return 2;
	}
	if (kind == WEFT_QUEUE_SPSC || kind == WEFT_QUEUE_MPSC)
		workers = 1; /* one consumer of `work`, one producer of `results` */

	pipeline p = { .items = items, .workers = workers };
	p.jobs = calloc(items, sizeof(job));
	int err = p.jobs == NULL ? ENOMEM : weft_queue_create(&p.work, kind, 1024);
	if (err == 0)
		err = weft_queue_create(&p.results, kind, 1024);
	if (err != 0) {
		fprintf(stderr, "pipeline: cannot create a '%s' queue: %s\n", kind_name,
			strerror(err));
		return 1;
	}

	double t0 = now_s();
	pthread_t producer, threads[256];
	pthread_create(&producer, NULL, producer_main, &p);
	for (unsigned w = 0; w < workers; w++)
		pthread_create(&threads[w], NULL, worker_main, &p);
	uint64_t check = 0;
	for (size_t n = 0; n < items; n++) { /* the collector: this thread */
		void *item;
		if ((err = weft_queue_pop_wait(p.results, &item, NULL)) != 0) {
			fprintf(stderr, "pipeline: pop: %s\n", strerror(err));
			return 1;
		}
		check ^= ((job *)item)->output;
	}
	double elapsed = now_s() - t0;
	pthread_join(producer, NULL);
	for (unsigned w = 0; w < workers; w++)
		pthread_join(threads[w], NULL);

	uint64_t expect = 0;
	for (size_t i = 0; i < items; i++)
		expect ^= work_on(i);
	printf("pipeline: queue %s, %u workers, %zu items in %.3f s: %.2f M items/s (%s)\n",
	       kind_name, workers, items, elapsed, (double)items / elapsed / 1e6,
	       check == expect ? "results check out" : "RESULTS WRONG");
	weft_queue_destroy(p.work);
	weft_queue_destroy(p.results);
	free(p.jobs);
	return check == expect ? 0 : 1;
}
