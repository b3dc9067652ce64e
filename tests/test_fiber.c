/*
 * Fibers: ping-pong, create/reset/destroy churn, FP control words kept per fiber, a fiber
 * migrating between threads (errno and its own state), the stack-overflow death test, and
 * a raw switch timing printed for information (never asserted).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/common.h>

#include "runtime/fiber.h"
#include "weft_test.h"

/* ---- bad input ---- */

static void never_run(void *arg)
{
	(void)arg;
	abort();
}

WEFT_TEST(bad_input)
{
	weft_fiber *f = NULL;
	CHECK_EQ(weft_fiber_create(NULL, 65536, never_run, NULL), EINVAL);
	CHECK_EQ(weft_fiber_create(&f, 65536, NULL, NULL), EINVAL);
	CHECK_EQ(weft_fiber_create(&f, 0, never_run, NULL), EINVAL);
	CHECK_EQ(weft_fiber_create(&f, SIZE_MAX, never_run, NULL), EINVAL);
	CHECK_EQ(weft_fiber_create(&f, 1000, never_run, NULL), 0); /* rounded up */
	CHECK(weft_fiber_stack_size(f) >= 16384);
	CHECK_EQ(weft_fiber_stack_size(f) % 4096, 0);
	weft_fiber_destroy(f);
	weft_fiber_destroy(NULL);
	CHECK(weft_fiber_current() == NULL);
	CHECK_EQ(weft_fiber_thread_init(NULL), EINVAL);
	weft_fiber *self, *again;
	CHECK_EQ(weft_fiber_thread_init(&self), 0);
	CHECK(weft_fiber_current() == self);
	CHECK_EQ(weft_fiber_thread_init(&again), EBUSY);
	CHECK_EQ(weft_fiber_stack_size(self), 0);
	weft_fiber_thread_fini(self);
	CHECK(weft_fiber_current() == NULL);
}

/* ---- ping-pong ---- */

struct pingpong {
	weft_fiber *main, *a, *b;
	uint64_t rounds;
	uint64_t counter;
	int failed;
	int mode; /* 0: weft_fiber_switch; 1: weft_fiber_switch_sym; 2: the two in turn */
};

/* The switch of round i: a fiber suspended by one exit (jmp or ret) may be resumed by the
 * other; both restore the same frame. */
static void pp_switch(struct pingpong *p, weft_fiber *from, weft_fiber *to)
{
	if (p->mode == 1 || (p->mode == 2 && (p->counter / 2) % 3 == 1))
		weft_fiber_switch_sym(from, to);
	else
		weft_fiber_switch(from, to);
}

static void ping_main(void *arg)
{
	struct pingpong *p = arg;
	for (uint64_t i = 0; i < p->rounds; i++) {
		if (p->counter != 2 * i || weft_fiber_current() != p->a)
			p->failed = 1;
		p->counter++;
		pp_switch(p, p->a, p->b);
	}
	weft_fiber_switch_final(p->a, p->main);
	abort(); /* never resumed */
}

static void pong_main(void *arg)
{
	struct pingpong *p = arg;
	for (;;) {
		if (p->counter % 2 != 1 || weft_fiber_current() != p->b)
			p->failed = 1;
		p->counter++;
		pp_switch(p, p->b, p->a);
	}
}

static void ping_pong_mode(int mode)
{
	struct pingpong p = {.rounds = weft_test_scale(100000), .mode = mode};
	CHECK_EQ(weft_fiber_thread_init(&p.main), 0);
	CHECK_EQ(weft_fiber_create(&p.a, 64 * 1024, ping_main, &p), 0);
	CHECK_EQ(weft_fiber_create(&p.b, 64 * 1024, pong_main, &p), 0);
	weft_fiber_switch(p.main, p.a);
	CHECK(weft_fiber_current() == p.main);
	CHECK_EQ(p.failed, 0);
	CHECK_EQ(p.counter, 2 * p.rounds);
	weft_fiber_destroy(p.a);
	weft_fiber_destroy(p.b); /* suspended mid-loop: destroying a suspended fiber is allowed */
	weft_fiber_thread_fini(p.main);
	printf("%llu ping-pong rounds between two fibers (switch mode %d), counter exact\n",
	       (unsigned long long)p.rounds, mode);
}

WEFT_TEST(ping_pong)
{
	ping_pong_mode(0);
}

/* weft_fiber_switch_sym (the scheduler's park path), alone and mixed with the plain one. */
WEFT_TEST(ping_pong_sym)
{
	ping_pong_mode(1);
	ping_pong_mode(2);
}

/* ---- churn: create, run, reset, run again, destroy ---- */

struct churn {
	weft_fiber *main;
	weft_fiber *self;
	uint64_t value;
	uint64_t runs;
};

/* Deep enough to touch a few pages and leave frames behind on the stack. */
static uint64_t churn_work(uint64_t n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	if (n == 0)
		return (uint64_t)pad[0];
	return churn_work(n - 1) + n + (uint64_t)pad[0] * 0;
}

static void churn_first(void *arg)
{
	struct churn *c = arg;
	c->value = churn_work(20) * 2 + 1;
	c->runs++;
	weft_fiber_switch_final(c->self, c->main);
	abort();
}

static void churn_second(void *arg)
{
	struct churn *c = arg;
	c->value = churn_work(10) + 7;
	c->runs++;
	weft_fiber_switch_final(c->self, c->main);
	abort();
}

WEFT_TEST(create_reset_destroy)
{
	weft_fiber *main_fiber;
	CHECK_EQ(weft_fiber_thread_init(&main_fiber), 0);
	uint64_t n = weft_test_scale(2000);
	enum { BATCH = 64 };
	uint64_t done = 0;
	while (done < n) {
		struct churn c[BATCH];
		for (int i = 0; i < BATCH; i++) {
			c[i] = (struct churn){.main = main_fiber};
			CHECK_EQ(weft_fiber_create(&c[i].self, 32 * 1024, churn_first, &c[i]), 0);
		}
		for (int i = 0; i < BATCH; i++) {
			weft_fiber_switch(main_fiber, c[i].self);
			CHECK_EQ(c[i].value, 210 * 2 + 1);
		}
		for (int i = 0; i < BATCH; i++) {
			weft_fiber_reset(c[i].self, i % 2 ? churn_second : churn_first, &c[i]);
			weft_fiber_switch(main_fiber, c[i].self);
			CHECK_EQ(c[i].value, i % 2 ? 55 + 7 : 421);
			CHECK_EQ(c[i].runs, 2);
			weft_fiber_destroy(c[i].self);
		}
		done += BATCH;
	}
	CHECK(weft_fiber_current() == main_fiber);
	weft_fiber_thread_fini(main_fiber);
	printf("%llu fibers created, run, reset, run again and destroyed\n",
	       (unsigned long long)done);
}

/* ---- FP control words per fiber ---- */

/* Rounding modes set by hand (no libm): MXCSR and the x87 control word on x86-64, FPCR on
 * aarch64. */
enum { ROUND_NEAREST, ROUND_UP, ROUND_DOWN };

#if defined(__x86_64__)
static unsigned read_mxcsr(void)
{
	unsigned v;
	__asm__ __volatile__("stmxcsr %0" : "=m"(v));
	return v;
}
static unsigned read_x87cw(void)
{
	unsigned short v;
	__asm__ __volatile__("fnstcw %0" : "=m"(v));
	return v;
}
static void set_round(int mode)
{
	unsigned rc = mode == ROUND_UP ? 2 : mode == ROUND_DOWN ? 1 : 0;
	unsigned mx = (read_mxcsr() & ~0x6000u) | (rc << 13);
	unsigned short cw = (unsigned short)((read_x87cw() & ~0xC00u) | (rc << 10));
	__asm__ __volatile__("ldmxcsr %0" ::"m"(mx));
	__asm__ __volatile__("fldcw %0" ::"m"(cw));
}
static int get_round(void)
{
	unsigned rc = (read_mxcsr() >> 13) & 3;
	unsigned rc87 = (read_x87cw() >> 10) & 3;
	if (rc != rc87)
		return -1; /* the two units disagree: one of them was not restored */
	return rc == 2 ? ROUND_UP : rc == 1 ? ROUND_DOWN : rc == 0 ? ROUND_NEAREST : -2;
}
#elif defined(__aarch64__)
static void set_round(int mode)
{
	uint64_t rm = mode == ROUND_UP ? 1 : mode == ROUND_DOWN ? 2 : 0, fpcr;
	__asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
	fpcr = (fpcr & ~(UINT64_C(3) << 22)) | (rm << 22);
	__asm__ __volatile__("msr fpcr, %0" ::"r"(fpcr));
}
static int get_round(void)
{
	uint64_t fpcr;
	__asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
	unsigned rm = (unsigned)(fpcr >> 22) & 3;
	return rm == 1 ? ROUND_UP : rm == 2 ? ROUND_DOWN : rm == 0 ? ROUND_NEAREST : -2;
}
#else
#error "test_fiber.c: no FP control helpers for this architecture"
#endif

struct fpstate {
	weft_fiber *main, *self;
	int mode_seen[2];
	double third_up, third_down;
};

__attribute__((noinline)) static double third(void)
{
	volatile double one = 1.0, three = 3.0;
	return one / three;
}

static void fp_fiber(void *arg)
{
	struct fpstate *s = arg;
	set_round(ROUND_UP);
	weft_fiber_switch(s->self, s->main);
	s->mode_seen[0] = get_round(); /* main ran with ROUND_DOWN meanwhile */
	s->third_up = third();
	weft_fiber_switch(s->self, s->main);
	s->mode_seen[1] = get_round();
	weft_fiber_switch_final(s->self, s->main);
	abort();
}

WEFT_TEST(fp_control_per_fiber)
{
	struct fpstate s = {0};
	CHECK_EQ(get_round(), ROUND_NEAREST);
	CHECK_EQ(weft_fiber_thread_init(&s.main), 0);
	CHECK_EQ(weft_fiber_create(&s.self, 64 * 1024, fp_fiber, &s), 0);
	weft_fiber_switch(s.main, s.self); /* the fiber sets ROUND_UP */
	CHECK_EQ(get_round(), ROUND_NEAREST);
	set_round(ROUND_DOWN);
	s.third_down = third();
	weft_fiber_switch(s.main, s.self);
	CHECK_EQ(get_round(), ROUND_DOWN);
	CHECK_EQ(s.mode_seen[0], ROUND_UP);
	CHECK(s.third_up > s.third_down); /* the modes really were in force */
	set_round(ROUND_NEAREST);
	weft_fiber_switch(s.main, s.self);
	CHECK_EQ(s.mode_seen[1], ROUND_UP);
	CHECK_EQ(get_round(), ROUND_NEAREST);
	weft_fiber_destroy(s.self);
	weft_fiber_thread_fini(s.main);
}

/* ---- migration between threads ---- */

/* errno and pthread_self through functions the compiler cannot see into from the fiber's
 * frame: the documented way to read TLS after a switch (glibc's __errno_location is const,
 * so a plain `errno` could reuse the old thread's address). */
__attribute__((noinline)) static int errno_get(void)
{
	__asm__ __volatile__("" ::: "memory");
	return errno;
}
__attribute__((noinline)) static void errno_set(int v)
{
	__asm__ __volatile__("" ::: "memory");
	errno = v;
}
__attribute__((noinline)) static pthread_t self_get(void)
{
	__asm__ __volatile__("" ::: "memory");
	return pthread_self();
}

struct migrate {
	weft_fiber *fiber;
	weft_fiber *home;  /* the thread fiber that resumed the fiber, set before each resume */
	pthread_t resumer; /* that thread */
	int errno_in;	   /* the resumer's errno at the resume */
	uint64_t rounds;
	_Atomic uint64_t turn; /* even: thread 0 resumes the fiber, odd: thread 1 */
	int failed;
	uint64_t fiber_sum; /* the fiber's own state, kept in its frame across moves */
};

static void migrating_fiber(void *arg)
{
	struct migrate *m = arg;
	volatile uint64_t local[32];
	for (int i = 0; i < 32; i++)
		local[i] = (uint64_t)i * 7;
	weft_fiber *me = m->fiber;
	for (uint64_t r = 0;; r++) {
		if (weft_fiber_current() != me || !pthread_equal(self_get(), m->resumer) ||
		    errno_get() != m->errno_in)
			m->failed = 1;
		for (int i = 0; i < 32; i++)
			if (local[i] != (uint64_t)i * 7 + r)
				m->failed = 2;
		for (int i = 0; i < 32; i++)
			local[i]++;
		errno_set(m->errno_in + 1); /* on the resumer's thread */
		if (r == m->rounds)
			break;
		m->fiber_sum += r;
		weft_fiber_switch(me, m->home); /* we come back on either thread */
	}
	weft_fiber_switch_final(me, m->home);
	abort();
}

struct migrate_thread {
	struct migrate *m;
	unsigned id;
	int failed;
};

static void *migrate_thread_main(void *arg)
{
	struct migrate_thread *t = arg;
	struct migrate *m = t->m;
	weft_fiber *self;
	if (weft_fiber_thread_init(&self) != 0)
		abort();
	for (;;) {
		/* acquire: pairs with the release below on the other thread: the fiber it
		 * suspended, and m's fields, are visible */
		uint64_t turn = atomic_load_explicit(&m->turn, memory_order_acquire);
		if (turn > m->rounds)
			break;
		if (turn % 2 != t->id) {
			sched_yield();
			continue;
		}
		int mine = 1000 * (int)(t->id + 1) + (int)turn;
		errno = mine;
		m->home = self;
		m->resumer = pthread_self();
		m->errno_in = mine;
		weft_fiber_switch(self, m->fiber);
		if (errno_get() != mine + 1 || weft_fiber_current() != self)
			t->failed = 1;
		/* release: hands the suspended fiber to the other thread */
		atomic_store_explicit(&m->turn, turn + 1, memory_order_release);
	}
	weft_fiber_thread_fini(self);
	return NULL;
}

WEFT_TEST(migrate_between_threads)
{
	struct migrate m = {.rounds = weft_test_scale(20000)};
	CHECK_EQ(weft_fiber_create(&m.fiber, 64 * 1024, migrating_fiber, &m), 0);
	struct migrate_thread t[2] = {{&m, 0, 0}, {&m, 1, 0}};
	void *args[2] = {&t[0], &t[1]};
	weft_test_run_threads(2, migrate_thread_main, args);
	CHECK_EQ(m.failed, 0);
	CHECK_EQ(t[0].failed, 0);
	CHECK_EQ(t[1].failed, 0);
	CHECK_EQ(m.fiber_sum, m.rounds * (m.rounds - 1) / 2);
	weft_fiber_destroy(m.fiber);
	printf("a fiber resumed %llu times alternately on two threads: errno, its locals and "
	       "weft_fiber_current() right each time\n",
	       (unsigned long long)m.rounds);
}

/* ---- stack overflow: a death test in a forked child ---- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static uint64_t recurse(uint64_t n)
{
	volatile char frame[200];
	frame[0] = (char)n;
	return recurse(n + 1) + (uint64_t)frame[0]; /* not a tail call */
}
#pragma GCC diagnostic pop

static void overflow_fiber(void *arg)
{
	(void)arg;
	recurse(0);
	abort();
}

static void overflow_child(void)
{
	weft_fiber *self, *f;
	if (weft_fiber_thread_init(&self) != 0 || weft_fiber_overflow_handler_install() != 0 ||
	    weft_fiber_create(&f, 32 * 1024, overflow_fiber, NULL) != 0)
		_exit(3);
	weft_fiber_switch(self, f);
	_exit(4); /* not reached */
}

WEFT_TEST(stack_overflow_dies_with_message)
{
	char out[16384];
	int status = weft_test_run_child(overflow_child, out, sizeof out);
	const char *ours = "weft: fiber stack overflow (stack size 32768 bytes); raise "
			   "weft_rt_config.stack_size";
	int have_ours = strstr(out, ours) != NULL;
	/* ASan may see the fault first and report a stack overflow itself. */
	int have_asan =
	    strstr(out, "AddressSanitizer") != NULL && strstr(out, "stack-overflow") != NULL;
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) ||
	    !(have_ours || (weft_test_sanitized() && have_asan))) {
		fprintf(stderr, "child status %#x, stderr:\n%s\n", status, out);
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), SIGABRT);
		CHECK(have_ours);
	}
	printf("overflow reported: %s\n", have_ours ? ours : "(by AddressSanitizer)");
}

static void wild_fault_child(void)
{
	weft_fiber *self;
	if (weft_fiber_thread_init(&self) != 0 || weft_fiber_overflow_handler_install() != 0)
		_exit(3);
	volatile int *volatile p = (int *)16;
	*p = 1; /* not a guard page: must die as a plain segfault */
	_exit(4);
}

WEFT_TEST(other_faults_not_reported_as_overflow)
{
	char out[16384];
	int status = weft_test_run_child(wild_fault_child, out, sizeof out);
	CHECK(strstr(out, "fiber stack overflow") == NULL);
	if (weft_test_sanitized()) {
		/* the sanitizer's own SEGV report: ASan aborts (abort_on_error), TSan exits 66 */
		int reported = strstr(out, "Sanitizer") != NULL && strstr(out, "SEGV") != NULL;
		int died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
						   WEXITSTATUS(status) != 4);
		if (!(reported && died))
			fprintf(stderr, "child status %#x, stderr:\n%s\n", status, out);
		CHECK(reported && died);
	} else {
		/* plain build: the default action re-raises the fault */
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), SIGSEGV);
	}
}

/* ---- a raw switch timing, printed only (timings are meaningless on a loaded machine) ---- */

struct timing {
	weft_fiber *main, *self;
};

static void timing_fiber(void *arg)
{
	struct timing *t = arg;
	for (;;)
		weft_fiber_switch(t->self, t->main);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * WEFT_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

WEFT_TEST(switch_cost_printed)
{
	struct timing t;
	CHECK_EQ(weft_fiber_thread_init(&t.main), 0);
	CHECK_EQ(weft_fiber_create(&t.self, 64 * 1024, timing_fiber, &t), 0);
	/* Time-bounded (about 0.1 s a repetition), as the ucontext switch is 100x slower. */
	enum { BATCH = 10000 };
	double best = 1e9, best_cpu = 1e9;
	uint64_t n = 0;
	for (int rep = 0; rep < 5; rep++) {
		uint64_t t0 = weft_now_ns(), c0 = thread_cpu_ns();
		n = 0;
		do {
			for (int i = 0; i < BATCH; i++)
				weft_fiber_switch(t.main, t.self); /* two switches per iteration */
			n += BATCH;
		} while (weft_now_ns() - t0 < 100 * 1000 * 1000);
		double ns = (double)(weft_now_ns() - t0) / (double)(2 * n);
		double cpu = (double)(thread_cpu_ns() - c0) / (double)(2 * n);
		best = ns < best ? ns : best;
		best_cpu = cpu < best_cpu ? cpu : best_cpu;
	}
	printf("raw fiber switch: %.2f ns wall, %.2f ns thread CPU time (best of 5 x %llu round "
	       "trips; informational, noisy under load)\n",
	       best, best_cpu, (unsigned long long)n);
	weft_fiber_destroy(t.self);
	weft_fiber_thread_fini(t.main);
}
