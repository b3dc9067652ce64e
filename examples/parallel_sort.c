/*
 * parallel_sort: a fork/join merge sort of 10^7 integers on weft's runtime, checked against
 * qsort. Prints both times. `--smoke` sorts 10^5 integers.
 *
 * The shape every fork/join program has: a weft_task embedded in the caller's struct (on
 * the stack), weft_fork for one half, the other half inline, weft_join, then combine.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/runtime.h>
#include <weft/wg.h>

#define CUTOFF 4096 /* below this, sort sequentially: a task must be worth its ~tens of ns */

struct sort_job {
	weft_task task; /* fork/join descriptor, recovered with offsetof below */
	int *a, *tmp;
	size_t n;
};

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;
	return (a > b) - (a < b);
}

static void merge(int *a, int *tmp, size_t mid, size_t n)
{
	size_t i = 0, j = mid, k = 0;
	while (i < mid && j < n)
		tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, n * sizeof(int));
}

static void sort_task(weft_task *t)
{
	struct sort_job *j = (struct sort_job *)((char *)t - offsetof(struct sort_job, task));
	if (j->n <= CUTOFF) {
		qsort(j->a, j->n, sizeof(int), cmp_int);
		return;
	}
	size_t mid = j->n / 2;
	struct sort_job left = { .a = j->a, .tmp = j->tmp, .n = mid };
	struct sort_job right = { .a = j->a + mid, .tmp = j->tmp + mid, .n = j->n - mid };
	if (weft_fork(&left.task, sort_task) != 0) { /* not on a worker: cannot happen here */
		sort_task(&left.task);
		sort_task(&right.task);
	} else {
		sort_task(&right.task);
		weft_join(&left.task);
	}
	merge(j->a, j->tmp, mid, j->n);
}

struct root {
	struct sort_job job;
	weft_wg done;
};

static void root_task(void *arg)
{
	struct root *r = arg;
	sort_task(&r->job.task);
	weft_wg_done(&r->done);
}

int main(int argc, char **argv)
{
	size_t n = 10 * 1000 * 1000;
	if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
		n = 100 * 1000;
	int *a = malloc(n * sizeof(int)), *b = malloc(n * sizeof(int));
	int *tmp = malloc(n * sizeof(int));
	if (a == NULL || b == NULL || tmp == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i] = b[i] = (int)(x >> 33);
	}

	weft_rt *rt;
	int err = weft_rt_start(&rt, NULL); /* one worker per CPU */
	if (err != 0) {
		fprintf(stderr, "weft_rt_start: %s\n", strerror(err));
		return 1;
	}
	struct root r = { .job = { .a = a, .tmp = tmp, .n = n } };
	weft_wg_init(&r.done);
	weft_wg_add(&r.done, 1);
	uint64_t t0 = weft_now_ns();
	if ((err = weft_go(rt, root_task, &r)) != 0) {
		fprintf(stderr, "weft_go: %s\n", strerror(err));
		return 1;
	}
	weft_wg_wait(&r.done, NULL); /* a plain thread: sleeps on a futex */
	uint64_t t1 = weft_now_ns();
	weft_rt_stop(rt);

	uint64_t t2 = weft_now_ns();
	qsort(b, n, sizeof(int), cmp_int);
	uint64_t t3 = weft_now_ns();

	int ok = memcmp(a, b, n * sizeof(int)) == 0;
	printf("sorted %zu ints: weft fork/join %.1f ms, qsort %.1f ms: %s\n", n,
	       (double)(t1 - t0) / 1e6, (double)(t3 - t2) / 1e6, ok ? "same result" : "MISMATCH");
	free(a);
	free(b);
	free(tmp);
	return ok ? 0 : 1;
}
