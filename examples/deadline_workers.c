/*
 * deadline_workers: threads coordinated by a wait group under a context with a timeout.
 *
 * The main thread gives a batch of jobs to a few worker threads and a time budget. Each
 * worker takes jobs until the batch is empty or the budget's context is done; a job
 * "works" by sleeping in weft_ctx_wait on a short child timeout, so a worker notices the
 * deadline even in the middle of a job. The main thread waits on the wait group under the
 * same context (ETIMEDOUT if the budget ran out first), then waits again without a
 * context to join the workers, which stop promptly once the context is done.
 *
 *   deadline_workers            a 2-second budget for more work than fits in it
 *   deadline_workers --smoke    the same in about a quarter of a second
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>
#include <weft/counter.h>
#include <weft/wg.h>

enum { WORKERS = 4 };

struct shared {
	weft_ctx *budget;      /* done when the time budget runs out (or on cancel) */
	weft_wg wg;            /* one per worker still running */
	_Atomic int next_job;  /* jobs handed out so far */
	int jobs;              /* jobs in the batch */
	uint64_t job_ns;       /* how long one job takes */
	weft_shard_counter *completed;
};

struct worker {
	struct shared *sh;
	int id;
	int done;         /* jobs this worker completed */
	int interrupted;  /* 1 if the deadline cut a job short */
};

/* One job: "work" for job_ns, unless the budget runs out first. Returns 0 or its error. */
static int do_job(struct shared *sh)
{
	weft_ctx *job;
	int err = weft_ctx_with_timeout(sh->budget, sh->job_ns, &job);
	if (err != 0)
		return err;
	weft_ctx_wait(job); /* returns when the job's own timeout or the budget ends */
	weft_ctx_release(job);
	return weft_ctx_err(sh->budget); /* 0: the job finished within the budget */
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	while (!weft_ctx_done(sh->budget)) {
		if (atomic_fetch_add_explicit(&sh->next_job, 1, memory_order_relaxed) >= sh->jobs)
			break;
		if (do_job(sh) != 0) {
			w->interrupted = 1;
			break;
		}
		w->done++;
		weft_shard_counter_add(sh->completed, 1);
	}
	weft_wg_done(&sh->wg); /* what this worker wrote is visible to the waiter */
	return NULL;
}

int main(int argc, char **argv)
{
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	uint64_t budget_ns = (smoke ? 250 : 2000) * UINT64_C(1000000);
	struct shared sh = { .jobs = 64, .job_ns = (smoke ? 20 : 100) * UINT64_C(1000000) };
	int err = weft_ctx_with_timeout(NULL, budget_ns, &sh.budget);
	if (err == 0)
		err = weft_shard_counter_create(&sh.completed);
	if (err != 0) {
		fprintf(stderr, "setup failed: %s\n", strerror(err));
		return 1;
	}
	weft_wg_init(&sh.wg);

	struct worker w[WORKERS];
	pthread_t t[WORKERS];
	int started[WORKERS];
	weft_wg_add(&sh.wg, WORKERS); /* before the threads start */
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ &sh, i, 0, 0 };
		started[i] = pthread_create(&t[i], NULL, worker_main, &w[i]) == 0;
		if (!started[i])
			weft_wg_done(&sh.wg); /* this one never runs */
	}

	uint64_t t0 = weft_now_ns();
	err = weft_wg_wait(&sh.wg, sh.budget);
	printf("wait under the budget: %s after %.0f ms\n",
	       err == 0 ? "all jobs done" : err == ETIMEDOUT ? "budget ran out" : strerror(err),
	       (double)(weft_now_ns() - t0) / 1e6);
	weft_wg_wait(&sh.wg, NULL); /* the workers stop promptly once the budget is done */
	for (int i = 0; i < WORKERS; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		printf("worker %d: %d jobs%s\n", i, w[i].done,
		       w[i].interrupted ? ", last one cut short by the deadline" : "");
	}
	printf("%lld of %d jobs completed in %.0f ms\n",
	       (long long)weft_shard_counter_read(sh.completed), sh.jobs,
	       (double)(weft_now_ns() - t0) / 1e6);
	weft_shard_counter_destroy(sh.completed);
	weft_ctx_release(sh.budget);
	return 0;
}
