/*
 * fanout: spawn slow jobs with weft_go under one context deadline. Jobs that finish in
 * time report their result; the stragglers' weft_sleep returns ETIMEDOUT when the deadline
 * passes and they give up. A wait group collects them all. `--smoke` uses short times.
 *
 * Each job blocks (weft_sleep): its fiber parks and the workers run the other jobs, so 20
 * sleeping jobs need no 20 threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/ctx.h>
#include <weft/runtime.h>
#include <weft/wg.h>

#define JOBS 20

struct job {
	int id;
	uint64_t work_ns; /* how long this job "works" */
	weft_ctx *ctx;    /* the shared deadline */
	weft_wg *wg;
	int result;       /* 0: finished; ETIMEDOUT/ECANCELED: given up */
};

static void job_main(void *arg)
{
	struct job *j = arg;
	/* The slow part: a sleep that the context's deadline cuts short. */
	j->result = weft_sleep(j->ctx, j->work_ns);
	weft_wg_done(j->wg);
}

int main(int argc, char **argv)
{
	int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
	uint64_t unit = smoke ? 10 * 1000 * 1000ull : 100 * 1000 * 1000ull; /* 10 ms / 100 ms */
	uint64_t deadline = 10 * unit;

	weft_rt *rt;
	int err = weft_rt_start(&rt, NULL);
	if (err != 0) {
		fprintf(stderr, "weft_rt_start: %s\n", strerror(err));
		return 1;
	}
	weft_ctx *ctx;
	if ((err = weft_ctx_with_timeout(NULL, deadline, &ctx)) != 0) {
		fprintf(stderr, "weft_ctx_with_timeout: %s\n", strerror(err));
		return 1;
	}
	struct job jobs[JOBS];
	weft_wg wg;
	weft_wg_init(&wg);
	weft_wg_add(&wg, JOBS);
	uint64_t t0 = weft_now_ns();
	for (int i = 0; i < JOBS; i++) {
		/* Job i takes i+1 units: those past the deadline (10 units) are stragglers. */
		jobs[i] = (struct job){ i, (uint64_t)(i + 1) * unit, ctx, &wg, -1 };
		if ((err = weft_go(rt, job_main, &jobs[i])) != 0) {
			fprintf(stderr, "weft_go: %s\n", strerror(err));
			return 1;
		}
	}
	weft_wg_wait(&wg, NULL);
	uint64_t t1 = weft_now_ns();

	int finished = 0;
	printf("finished:");
	for (int i = 0; i < JOBS; i++)
		if (jobs[i].result == 0) {
			printf(" %d", jobs[i].id);
			finished++;
		}
	printf("\ncancelled at the deadline:");
	for (int i = 0; i < JOBS; i++)
		if (jobs[i].result != 0)
			printf(" %d(%s)", jobs[i].id,
			       jobs[i].result == ETIMEDOUT ? "timed out" : strerror(jobs[i].result));
	printf("\n%d of %d jobs finished within the %.0f ms deadline; all done after %.1f ms\n",
	       finished, JOBS, (double)deadline / 1e6, (double)(t1 - t0) / 1e6);
	weft_ctx_release(ctx);
	weft_rt_stop(rt);
	return finished > 0 && finished < JOBS ? 0 : 1;
}
