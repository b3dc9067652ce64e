/*
 * The sched suite's Go peer, client side: go_peer (peers/go/main.go, built by CMake when
 * `go` is found) runs as a child process for the whole run, started in create() (so its
 * start-up is outside the measured window) with `go_peer serve N`. Each op writes one job
 * line to it over a socket pair and reads back "RESULT NS": the harness times that round
 * trip, so a Go figure includes one local socket round trip (some microseconds) per job of
 * thousands of tasks. The result is checked by suite_sched.c like every other peer's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peers/go_sched.h"

extern char **environ;

struct bench_go {
	pid_t pid;
	int fd;
	size_t len;    /* bytes in buf */
	char buf[256]; /* the answer being read */
};

static char path_buf[PATH_MAX];

const char *bench_go_path(void)
{
	const char *env = getenv("WEFT_BENCH_GO_PEER");
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	ssize_t n = readlink("/proc/self/exe", path_buf, sizeof path_buf - 1);
	if (n > 0) {
		path_buf[n] = '\0';
		char *slash = strrchr(path_buf, '/');
		static const char *const rel[] = { "go_peer",
#ifdef WEFT_BENCH_GO_PEER_INSTALLED
						   WEFT_BENCH_GO_PEER_INSTALLED,
#endif
		};
		for (size_t i = 0; slash && i < sizeof rel / sizeof rel[0]; i++) {
			size_t dir = (size_t)(slash - path_buf) + 1;
			if (dir + strlen(rel[i]) + 1 > sizeof path_buf)
				continue;
			strcpy(path_buf + dir, rel[i]);
			if (access(path_buf, X_OK) == 0)
				return path_buf;
		}
	}
#ifdef WEFT_BENCH_GO_PEER_BUILT
	if (access(WEFT_BENCH_GO_PEER_BUILT, X_OK) == 0)
		return WEFT_BENCH_GO_PEER_BUILT;
#endif
	return NULL;
}

bench_go *bench_go_open(unsigned workers, char *err, size_t errlen)
{
	const char *path = bench_go_path();
	if (!path) {
		snprintf(err, errlen, "go_peer not found (set WEFT_BENCH_GO_PEER)");
		return NULL;
	}
	bench_go *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		free(g);
		return NULL;
	}
	char nbuf[16];
	snprintf(nbuf, sizeof nbuf, "%u", workers);
	char *argv[] = { (char *)path, (char *)"serve", nbuf, NULL };
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, sv[1], 0); /* dup2 clears CLOEXEC */
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	if (!rc)
		rc = posix_spawn(&g->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc) {
		snprintf(err, errlen, "cannot start %s: %s", path, strerror(rc));
		close(sv[0]);
		free(g);
		return NULL;
	}
	g->fd = sv[0];
	return g;
}

static int fail(char *err, size_t errlen, const char *what, const char *detail)
{
	snprintf(err, errlen, "go_peer: %s%s%s", what, detail ? ": " : "", detail ? detail : "");
	return -1;
}

/* Send one request line (ending in a newline) and read back "RESULT NS". */
static int go_exchange(bench_go *g, const char *line, int len, uint64_t *result,
		       uint64_t *go_ns, char *err, size_t errlen)
{
	for (int off = 0; off < len;) {
		/* MSG_NOSIGNAL: a dead go_peer is an error here, not a SIGPIPE. */
		ssize_t w = send(g->fd, line + off, (size_t)(len - off), MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(err, errlen, "send", strerror(errno));
		off += (int)w;
	}
	g->len = 0;
	for (;;) {
		char *nl = memchr(g->buf, '\n', g->len);
		if (nl) {
			*nl = '\0';
			break;
		}
		if (g->len == sizeof g->buf - 1)
			return fail(err, errlen, "answer too long", NULL);
		struct pollfd p = { .fd = g->fd, .events = POLLIN };
		int pr = poll(&p, 1, 60000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return fail(err, errlen, "no answer within 60 s", line);
		ssize_t r = read(g->fd, g->buf + g->len, sizeof g->buf - 1 - g->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(err, errlen, "exited", r < 0 ? strerror(errno) : NULL);
		g->len += (size_t)r;
	}
	unsigned long long res, ns;
	if (sscanf(g->buf, "%llu %llu", &res, &ns) != 2)
		return fail(err, errlen, "answered", g->buf);
	*result = res;
	*go_ns = ns;
	return 0;
}

int bench_go_job(bench_go *g, unsigned workload, uint64_t n, uint64_t tasks, uint64_t *result,
		 uint64_t *go_ns, char *err, size_t errlen)
{
	static const char *const jobs[] = { "fib", "skynet", "spawn", "yield" };
	if (workload >= sizeof jobs / sizeof jobs[0])
		return fail(err, errlen, "unknown workload", NULL);
	char line[64];
	int len = workload == 3 ? snprintf(line, sizeof line, "yield %llu %llu\n",
					   (unsigned long long)n, (unsigned long long)tasks)
				: snprintf(line, sizeof line, "%s %llu\n", jobs[workload],
					   (unsigned long long)n);
	return go_exchange(g, line, len, result, go_ns, err, errlen);
}

/* One "JOB N" line for the other suites' jobs (the fiber suite's pingpong). */
int bench_go_request(bench_go *g, const char *job, uint64_t n, uint64_t *result,
		     uint64_t *go_ns, char *err, size_t errlen)
{
	char line[64];
	int len = snprintf(line, sizeof line, "%s %llu\n", job, (unsigned long long)n);
	if (len <= 0 || (size_t)len >= sizeof line)
		return fail(err, errlen, "job name too long", job);
	return go_exchange(g, line, len, result, go_ns, err, errlen);
}

void bench_go_close(bench_go *g)
{
	if (!g)
		return;
	shutdown(g->fd, SHUT_WR); /* go_peer exits at end of input */
	int status;
	pid_t w = 0;
	for (int i = 0; i < 500 && (w = waitpid(g->pid, &status, WNOHANG)) == 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	if (w == 0) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, &status, 0);
	}
	close(g->fd);
	free(g);
}
