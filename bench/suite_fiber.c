/*
 * fiber: the cost of one context switch, raw and through the scheduler. Two jobs:
 *   switch    one benchmark thread switches back and forth between its own fiber and one
 *             other fiber; 1 op = one switch. `weft` uses weft's private fiber API
 *             (runtime/fiber.h: the assembly switch, with the sanitizer hand-shakes in
 *             sanitizer builds); `ucontext` does the same with glibc's
 *             makecontext/swapcontext (a sigprocmask system call per switch).
 *   pingpong  two tasks on a runtime of N workers (the threads column: 1 and 2) take turns
 *             on a shared turn word: each waits (weft_park) until the word says it is its
 *             turn, advances it and wakes the other (weft_unpark); 1 op = one switch of
 *             turn. `go` is the same with two goroutines and unbuffered channels in go_peer
 *             (GOMAXPROCS = N; its figure includes one local socket round trip per job).
 * Checks: the switch job's fiber counted exactly the switches made; the turn word ends at
 * exactly twice the rounds; go_peer's answer is exactly twice the rounds.
 *
 * This is the one bench file that includes a private runtime header (runtime/fiber.h): the
 * fiber API is not public, and weft-bench links the static library, where the symbols are
 * reachable. Only the switch job uses it.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <weft/runtime.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "runtime/fiber.h" /* private: see the top of this file */

#if WEFT_BENCH_HAVE_GO
#include "peers/go_sched.h"
#endif

enum { J_SWITCH, J_PINGPONG };

#if defined(WEFT_TSAN) || defined(WEFT_ASAN) || defined(__SANITIZE_ADDRESS__) ||                   \
    defined(__SANITIZE_THREAD__)
#define FIBER_SANITIZED 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#undef FIBER_SANITIZED
#define FIBER_SANITIZED 1
#endif
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(WEFT_TSAN)
#define FIBER_TSAN 1
#endif

#if defined(FIBER_SANITIZED)
/* Sanitizer builds check correctness, not speed: small jobs. */
#define SWITCH_BATCH 64u
#define PP_ROUNDS    500u
#else
#define SWITCH_BATCH 1024u  /* round trips per op call: 2048 switches */
#define PP_ROUNDS    10000u /* per job: 20000 switches, a few ms: many jobs per 0.1 s run */
#endif

#define UC_STACK ((size_t)64 * 1024)

typedef struct fiber_state fiber_state;

typedef struct player {
	fiber_state *s;
	uint32_t me; /* 0 or 1: it moves when turn % 2 == me */
} player;

struct fiber_state {
	unsigned job, workers;
	/* switch (weft): the thread's own fiber and the other one */
	weft_fiber *self, *other;
	/* switch (ucontext) */
	ucontext_t uc_self, uc_other;
	void *uc_stack;
	uint64_t switches; /* counted by the other side: one per round trip */
	bool stop;
	/* pingpong */
	weft_rt *rt;
	weft_wg wg;
	_Atomic uint32_t turn;
	uint32_t rounds;
	_Atomic uint64_t wrong;
	char what[128];
	player players[2];
	void *peer; /* bench_go */
};

static void fail(fiber_state *s, const char *what)
{
	atomic_fetch_add_explicit(&s->wrong, 1, memory_order_relaxed);
	snprintf(s->what, sizeof s->what, "%s", what);
}

static int fiber_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	fiber_state *s = p;
	if (atomic_load_explicit(&s->wrong, memory_order_relaxed) == 0)
		return 0;
	snprintf(err, len, "%s", s->what);
	return -1;
}

static fiber_state *state_new(const bench_shape *sh, char *err, size_t len)
{
	fiber_state *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	s->job = sh->workload;
	s->workers = sh->label_threads;
	s->rounds = PP_ROUNDS;
	return s;
}

static void *plain_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	return state_new(sh, err, len);
}

static void plain_destroy(void *p)
{
	free(p);
}

/* ---- switch: weft's fibers ---- */

static void other_body(void *arg)
{
	fiber_state *s = arg;
	/* Every switch back lands here. s->self and s->other stay the same across the loop:
	 * both fibers live on the one benchmark thread. */
	while (!s->stop) {
		s->switches++;
		weft_fiber_switch(s->other, s->self);
	}
	weft_fiber_switch_final(s->other, s->self);
}

static const char *weft_switch_unavailable(const bench_shape *sh)
{
	return sh && sh->workload != J_SWITCH ? "a switch-job implementation" : NULL;
}

static int weft_switch_init(void *p, bench_thread *t)
{
	fiber_state *s = p;
	int rc = weft_fiber_thread_init(&s->self);
	if (rc)
		return rc;
	rc = weft_fiber_create(&s->other, 64 * 1024, other_body, s);
	if (rc) {
		weft_fiber_thread_fini(s->self);
		s->self = NULL;
	}
	return rc;
}

static void weft_switch_fini(void *p, bench_thread *t)
{
	fiber_state *s = p;
	if (!s->self)
		return;
	s->stop = true;
	weft_fiber_switch(s->self, s->other); /* it ends with a final switch back */
	weft_fiber_destroy(s->other);
	weft_fiber_thread_fini(s->self);
	s->self = s->other = NULL;
}

static uint64_t weft_switch_op(void *p, bench_thread *t)
{
	fiber_state *s = p;
	uint64_t before = s->switches;
	for (unsigned i = 0; i < SWITCH_BATCH; i++)
		weft_fiber_switch(s->self, s->other);
	if (s->switches - before != SWITCH_BATCH)
		fail(s, "the other fiber did not count every switch");
	return 2 * (uint64_t)SWITCH_BATCH;
}

/* ---- switch: glibc ucontext ---- */

static fiber_state *uc_current; /* makecontext passes ints only: the state goes here */

static void uc_body(void)
{
	fiber_state *s = uc_current;
	while (!s->stop) {
		s->switches++;
		swapcontext(&s->uc_other, &s->uc_self);
	}
	/* uc_link returns to uc_self */
}

static const char *uc_unavailable(const bench_shape *sh)
{
#if defined(FIBER_TSAN)
	return "ThreadSanitizer cannot follow swapcontext";
#endif
	return sh && sh->workload != J_SWITCH ? "a switch-job implementation" : NULL;
}

static int uc_init(void *p, bench_thread *t)
{
	fiber_state *s = p;
	s->uc_stack = malloc(UC_STACK);
	if (!s->uc_stack)
		return ENOMEM;
	if (getcontext(&s->uc_other)) {
		free(s->uc_stack);
		s->uc_stack = NULL;
		return errno;
	}
	s->uc_other.uc_stack.ss_sp = s->uc_stack;
	s->uc_other.uc_stack.ss_size = UC_STACK;
	s->uc_other.uc_link = &s->uc_self;
	uc_current = s;
	makecontext(&s->uc_other, uc_body, 0);
	return 0;
}

static void uc_fini(void *p, bench_thread *t)
{
	fiber_state *s = p;
	if (!s->uc_stack)
		return;
	s->stop = true;
	swapcontext(&s->uc_self, &s->uc_other); /* its body returns through uc_link */
	free(s->uc_stack);
	s->uc_stack = NULL;
}

static uint64_t uc_op(void *p, bench_thread *t)
{
	fiber_state *s = p;
	uint64_t before = s->switches;
	for (unsigned i = 0; i < SWITCH_BATCH; i++)
		swapcontext(&s->uc_self, &s->uc_other);
	if (s->switches - before != SWITCH_BATCH)
		fail(s, "the other context did not count every switch");
	return 2 * (uint64_t)SWITCH_BATCH;
}

/* ---- pingpong: weft tasks ---- */

static void player_fn(void *arg)
{
	player *pl = arg;
	fiber_state *s = pl->s;
	for (uint32_t i = 0; i < s->rounds; i++) {
		uint32_t v;
		/* Acquire: pairs with the other player's release store below (weft_park's
		 * own comparison is ordered by the bucket lock that weft_unpark takes). */
		while (((v = atomic_load_explicit(&s->turn, memory_order_acquire)) & 1u) != pl->me)
			weft_park(&s->turn, v, WEFT_NO_DEADLINE, NULL);
		/* Release: pairs with the other player's acquire load above. */
		atomic_store_explicit(&s->turn, v + 1, memory_order_release);
		weft_unpark(&s->turn, 1);
	}
	weft_wg_done(&s->wg);
}

static const char *pp_unavailable(const bench_shape *sh)
{
	return sh && sh->workload != J_PINGPONG ? "a pingpong-job implementation" : NULL;
}

static void *pp_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	fiber_state *s = state_new(sh, err, len);
	if (!s)
		return NULL;
	weft_rt_config c;
	weft_rt_config_init(&c);
	c.workers = s->workers;
	int rc = weft_rt_start(&s->rt, &c);
	if (rc) {
		snprintf(err, len, "weft_rt_start: %s", strerror(rc));
		free(s);
		return NULL;
	}
	weft_wg_init(&s->wg);
	return s;
}

static void pp_destroy(void *p)
{
	fiber_state *s = p;
	weft_rt_stop(s->rt);
	free(s);
}

static uint64_t pp_op(void *p, bench_thread *t)
{
	fiber_state *s = p;
	/* Relaxed: no task runs between jobs (the wait below saw both finish). */
	uint32_t base = atomic_load_explicit(&s->turn, memory_order_relaxed);
	if (base & 1u) {
		fail(s, "the turn word is odd between jobs");
		return 0;
	}
	weft_wg_add(&s->wg, 2);
	for (uint32_t k = 0; k < 2; k++) {
		s->players[k] = (player){s, k};
		if (weft_go(s->rt, player_fn, &s->players[k])) {
			fail(s, "weft_go failed");
			weft_wg_done(&s->wg);
		}
	}
	weft_wg_wait(&s->wg, NULL);
	/* Acquire: pairs with the players' release stores (the wait group orders them too). */
	uint32_t end = atomic_load_explicit(&s->turn, memory_order_acquire);
	if (end - base != 2 * s->rounds)
		fail(s, "the turn word did not end at twice the rounds");
	return 2 * (uint64_t)s->rounds;
}

/* ---- pingpong: Go channels ---- */

#if WEFT_BENCH_HAVE_GO
static const char *go_unavailable(const bench_shape *sh)
{
	if (sh && sh->workload != J_PINGPONG)
		return "a pingpong-job implementation";
	return bench_go_path() ? NULL : "go_peer not found (set WEFT_BENCH_GO_PEER)";
}

static void *go_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	fiber_state *s = state_new(sh, err, len);
	if (!s)
		return NULL;
	if (!(s->peer = bench_go_open(s->workers, err, len))) {
		free(s);
		return NULL;
	}
	return s;
}

static void go_destroy(void *p)
{
	fiber_state *s = p;
	bench_go_close(s->peer);
	free(s);
}

static uint64_t go_op(void *p, bench_thread *t)
{
	fiber_state *s = p;
	uint64_t r = 0, ns;
	char err[sizeof s->what];
	if (bench_go_request(s->peer, "pingpong", s->rounds, &r, &ns, err, sizeof err)) {
		fail(s, err);
		return 0;
	}
	if (r != 2 * (uint64_t)s->rounds)
		fail(s, "go pingpong: the turn count is not twice the rounds");
	return 2 * (uint64_t)s->rounds;
}
#endif

static const bench_impl fiber_impls[] = {
    {"weft", "weft's fibers: assembly switch (runtime/fiber.h)", weft_switch_unavailable,
     plain_create, plain_destroy, weft_switch_init, weft_switch_fini, weft_switch_op, NULL,
     fiber_verify, NULL},
    {"ucontext", "glibc makecontext/swapcontext", uc_unavailable, plain_create, plain_destroy,
     uc_init, uc_fini, uc_op, NULL, fiber_verify, NULL},
    {"weft_park", "two weft tasks alternating with weft_park/weft_unpark", pp_unavailable,
     pp_create, pp_destroy, NULL, NULL, pp_op, NULL, fiber_verify, NULL},
#if WEFT_BENCH_HAVE_GO
    {"go", "peer: two goroutines on unbuffered channels (go_peer, GOMAXPROCS = threads)",
     go_unavailable, go_create, go_destroy, NULL, NULL, go_op, NULL, fiber_verify, NULL},
#endif
};

static size_t fiber_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	static const struct {
		const char *name;
		unsigned job, workers;
	} jobs[] = {
	    {"switch", J_SWITCH, 1}, {"pingpong", J_PINGPONG, 1}, {"pingpong", J_PINGPONG, 2}};
	size_t n = 0;
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0] && n < max; i++, n++) {
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].variant, sizeof out[n].variant, "%s", jobs[i].name);
		out[n].threads = 1;
		out[n].label_threads = jobs[i].workers;
		out[n].workload = jobs[i].job;
		/* switch: a batch of 2048 switches is short, sample as usual; pingpong: one
		 * job per call, time every call. */
		out[n].sample_every = jobs[i].job == J_PINGPONG ? 1 : 0;
		/* pingpong: a job counts whole (bench_shape.whole_calls), never cut by the
		 * window. */
		out[n].whole_calls = jobs[i].job == J_PINGPONG;
	}
	return n;
}

const bench_suite bench_suite_fiber = {
    .name = "fiber",
    .what = "one context switch: raw fiber switch, and a park/unpark ping-pong of two tasks",
    .unit_note = "1 op = one switch; threads column = workers (switch: one thread)",
    .impls = fiber_impls,
    .nimpls = sizeof fiber_impls / sizeof fiber_impls[0],
    .shapes = fiber_shapes,
};
