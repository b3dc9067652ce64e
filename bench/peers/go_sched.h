/* The Go peer of the sched suite: a client for the go_peer program (peers/go/main.go). */
#ifndef WEFT_BENCH_GO_SCHED_H
#define WEFT_BENCH_GO_SCHED_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_go bench_go;

/* The go_peer binary: $WEFT_BENCH_GO_PEER, else go_peer beside weft-bench (the build
 * tree), else where `make install` puts it (libexec/weft/go_peer, found from weft-bench's
 * bin directory), else the path CMake built it at. NULL when none is executable. */
const char *bench_go_path(void);
/* Start `go_peer serve workers` (GOMAXPROCS = workers) on a socket pair. NULL with a
 * message in err when it cannot be started. */
bench_go *bench_go_open(unsigned workers, char *err, size_t errlen);
/* Send one job ("fib 18", "skynet 10000", "spawn 5000", "yield 200 4": workload 0..3 of
 * suite_sched.c, n, and tasks for yield) and wait for the answer. 0 with *result (the
 * sum or count) and *go_ns (the job's time measured inside Go), or -1 with a message
 * (go_peer died, answered an error, or took over 60 s). */
int bench_go_job(bench_go *g, unsigned workload, uint64_t n, uint64_t tasks, uint64_t *result,
		 uint64_t *go_ns, char *err, size_t errlen);
/* Send one job line "JOB N" (e.g. "pingpong 10000", the fiber suite's job) and wait for
 * the answer, as bench_go_job does. */
int bench_go_request(bench_go *g, const char *job, uint64_t n, uint64_t *result,
		     uint64_t *go_ns, char *err, size_t errlen);
/* Close its input, wait for it to exit (killed after 5 s) and free g. */
void bench_go_close(bench_go *g);

#endif
