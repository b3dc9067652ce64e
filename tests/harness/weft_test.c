/* The runner: `test_x` lists the cases, `test_x NAME` runs one, `test_x --all` runs all. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft_test.h"

#define MAX_CASES 256

static struct {
	const char *name;
	weft_test_fn fn;
} cases[MAX_CASES];
static int ncases;
static const char *current = "?";

void weft_test_register(const char *name, weft_test_fn fn)
{
	if (ncases == MAX_CASES) {
		fprintf(stderr, "too many test cases\n");
		abort();
	}
	cases[ncases].name = name;
	cases[ncases].fn = fn;
	ncases++;
}

void weft_test_fail(const char *file, int line, const char *expr, const char *detail)
{
	fprintf(stderr, "FAIL %s: %s:%d: CHECK(%s)%s%s\n", current, file, line, expr,
		detail ? ": " : "", detail ? detail : "");
	fflush(stderr);
	abort();
}

int weft_test_sanitized(void)
{
#if defined(WEFT_TSAN) || defined(WEFT_ASAN)
	return 1;
#else
	return 0;
#endif
}

double weft_test_scale_factor(void)
{
	const char *env = getenv("WEFT_TEST_SCALE");
	if (env != NULL && atof(env) > 0)
		return atof(env);
#if defined(WEFT_TSAN)
	return 0.05;
#elif defined(WEFT_ASAN)
	return 0.1;
#else
	return 1.0;
#endif
}

uint64_t weft_test_scale(uint64_t n)
{
	double v = (double)n * weft_test_scale_factor();
	return v < 1 ? 1 : (uint64_t)v;
}

void weft_test_maybe_yield(uint64_t *rng, unsigned one_in)
{
	if (one_in != 0 && weft_test_rand(rng) % one_in == 0)
		sched_yield();
}

void weft_test_run_threads(unsigned n, void *(*fn)(void *), void **args)
{
	pthread_t *t = calloc(n, sizeof(*t));
	if (t == NULL)
		abort();
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&t[i], NULL, fn, args ? args[i] : NULL) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			abort();
		}
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_one(int i)
{
	current = cases[i].name;
	double t0 = now_s();
	cases[i].fn();
	printf("ok %s (%.3f s)\n", cases[i].name, now_s() - t0);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		for (int i = 0; i < ncases; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (strcmp(argv[1], "--all") == 0) {
		for (int i = 0; i < ncases; i++)
			run_one(i);
		return 0;
	}
	for (int i = 0; i < ncases; i++) {
		if (strcmp(cases[i].name, argv[1]) == 0)
			return run_one(i);
	}
	fprintf(stderr, "no test case named '%s'\n", argv[1]);
	return 2;
}

int weft_test_run_child(void (*child)(void), char *out, size_t cap)
{
	int fd[2];
	CHECK_EQ(pipe(fd), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		close(fd[1]);
		child();
		_exit(0);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd[0], out + n, cap - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
		if (n == cap - 1) { /* full: drain the rest so the child can finish */
			char sink[4096];
			while (read(fd[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	out[n] = '\0';
	close(fd[0]);
	int status = 0;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return status;
}
