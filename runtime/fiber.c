/*
 * Fibers: mmap'd stacks with a guard page, the switch (assembly or swapcontext), and the
 * sanitizer/Valgrind hand-shakes. See runtime/fiber.h for the contract and the TLS rule.
 *
 * The one piece of thread-local state is `tls_current`, the running fiber. It is written
 * just before a switch (still on the switching thread) and read by weft_fiber_current() and
 * the overflow handler; no function here reads it after a switch in the same frame, because
 * the frame may then be running on another thread with the old thread's TLS address cached.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <weft/common.h>

#include "../sync/alloc.h"
#include "fiber.h"
#include "fiber_sanitize.h"

#if defined(WEFT_FIBER_UCONTEXT)
#include <ucontext.h>
#elif !defined(__x86_64__) && !defined(__aarch64__)
#error                                                                                             \
    "weft fibers: no assembly switch for this architecture; configure with -DWEFT_FIBER_UCONTEXT=ON"
#endif

struct weft_fiber {
	void *sp;	  /* saved stack pointer while suspended (assembly switch) */
	weft_fiber_fn fn; /* the body, and its argument */
	void *arg;
	weft_fiber *switch_from; /* who last switched to this fiber (ASan builds only write it) */
	char *map;		 /* the mapping: guard page(s) at map, then the stack; NULL for a
				  * thread's own fiber */
	size_t map_size;
	char *stack_lo;	   /* lowest usable stack byte; for a thread fiber, its stack bounds */
	size_t stack_size; /* usable bytes above stack_lo */
	bool is_thread;	   /* made by weft_fiber_thread_init */
	struct weft_fiber_san san; /* sanitizer and Valgrind state (fiber_sanitize.h) */
#if defined(WEFT_FIBER_UCONTEXT)
	ucontext_t uc;
#endif
};

/* initial-exec: one pointer, read in the signal handler and on every switch; cheaper than
 * __tls_get_addr and async-signal-safe. */
static _Thread_local weft_fiber *tls_current __attribute__((tls_model("initial-exec")));

#define FIBER_MIN_STACK ((size_t)16 * 1024)
#define FIBER_MAX_STACK ((size_t)1 << 40)

static size_t page_size(void)
{
	static _Atomic size_t cached;
	/* relaxed: every thread computes the same value */
	size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
	if (p == 0) {
		long v = sysconf(_SC_PAGESIZE);
		p = v > 0 ? (size_t)v : 4096;
		atomic_store_explicit(&cached, p, memory_order_relaxed);
	}
	return p;
}

/* noinline with an opaque barrier: even under LTO the compiler may not treat this as pure
 * and merge two calls across a switch (the second may run on another thread). */
__attribute__((noinline)) weft_fiber *weft_fiber_current(void)
{
	weft_fiber *f = tls_current;
	__asm__ __volatile__("" : "+r"(f)::"memory");
	return f;
}

size_t weft_fiber_stack_size(const weft_fiber *f)
{
	return f != NULL && !f->is_thread ? f->stack_size : 0;
}

/* ---- entry: the first frame of every fiber ---- */

__attribute__((noreturn)) static void fiber_returned(void)
{
	static const char msg[] = "weft: a fiber's function returned (it must switch away)\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)r;
	abort();
}

/* The first thing after a switch lands in self: the sanitizers' half of the hand-shake. A
 * thread's own fiber learns its exact stack bounds from ASan the first time we leave it. */
static inline void fiber_landed(weft_fiber *self)
{
	void *lo = NULL;
	size_t size = 0;
	weft_fiber_san_after_switch(&self->san, &lo, &size);
#if defined(WEFT_ASAN)
	weft_fiber *prev = self->switch_from;
	if (lo != NULL && prev != NULL && prev->is_thread) {
		prev->stack_lo = lo; /* prev is suspended, and on this thread */
		prev->stack_size = size;
	}
#else
	(void)lo, (void)size; /* only ASan reports the bounds */
#endif
}

/* Entered from the switch with prev = the fiber that switched to us (the asm passes it). */
static void fiber_entry(void *prev)
{
	(void)prev;
	/* tls_current was set to us by the switcher on this very thread, and this is a fresh
	 * frame: reading TLS here is safe. */
	weft_fiber *self = tls_current;
	fiber_landed(self);
	self->fn(self->arg);
	fiber_returned();
}

#if defined(WEFT_FIBER_UCONTEXT)
static void fiber_entry_uc(unsigned lo, unsigned hi)
{
	fiber_entry((void *)(((uintptr_t)hi << 32) | lo));
}
#else
void *weft_fiber_switch_asm(void **save_sp, void *to_sp, void *arg);
void *weft_fiber_switch_asm_ret(void **save_sp, void *to_sp, void *arg);
#endif

/* Lay out f's stack so that the next switch to it enters fiber_entry. */
static void fiber_prepare(weft_fiber *f)
{
	char *top = f->stack_lo + f->stack_size; /* page-aligned, so 16-byte aligned */
#if defined(WEFT_FIBER_UCONTEXT)
	getcontext(&f->uc);
	f->uc.uc_stack.ss_sp = f->stack_lo;
	f->uc.uc_stack.ss_size = f->stack_size;
	f->uc.uc_link = NULL;
	makecontext(&f->uc, (void (*)(void))fiber_entry_uc, 2, 0u, 0u);
	(void)top;
#elif defined(__x86_64__)
	/* Matches switch_x86_64.S: after its `ret` into fiber_entry, rsp = top - 8, which is
	 * 8 mod 16 as at any function entry; the 0 there is fiber_entry's (fake) return
	 * address, so unwinders stop. */
	uint64_t *s = (uint64_t *)top;
	*--s = 0;				 /* fake return address of fiber_entry */
	*--s = (uint64_t)(uintptr_t)fiber_entry; /* popped by ret */
	for (int i = 0; i < 6; i++)
		*--s = 0; /* rbp rbx r12 r13 r14 r15; rbp 0 ends frame-pointer chains */
	s -= 2;
	uint32_t mxcsr;
	uint16_t fcw;
	__asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
	__asm__ __volatile__("fnstcw %0" : "=m"(fcw));
	memcpy((char *)s, &mxcsr, 4); /* a fresh fiber inherits its creator's FP modes */
	memcpy((char *)s + 4, &fcw, 2);
	memset((char *)s + 6, 0, 10);
	f->sp = s;
#elif defined(__aarch64__)
	/* Matches switch_aarch64.S: a 176-byte frame whose x30 is fiber_entry, x29 0. */
	uint64_t *s = (uint64_t *)(top - 176);
	memset(s, 0, 176);
	s[11] = (uint64_t)(uintptr_t)fiber_entry; /* x30 at sp+88 */
	uint64_t fpcr;
	__asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
	s[20] = fpcr; /* sp+160 */
	f->sp = s;
#endif
}

/* ---- create, reset, destroy ---- */

int weft_fiber_create(weft_fiber **f, size_t stack_size, weft_fiber_fn fn, void *arg)
{
	if (f == NULL || fn == NULL || stack_size == 0 || stack_size > FIBER_MAX_STACK)
		return EINVAL;
	size_t page = page_size();
	if (stack_size < FIBER_MIN_STACK)
		stack_size = FIBER_MIN_STACK;
	stack_size = (stack_size + page - 1) & ~(page - 1);
	weft_fiber *x = weft_mem_zalloc(sizeof(*x), _Alignof(weft_fiber));
	if (x == NULL)
		return ENOMEM;
	size_t map_size = stack_size + page;
	void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		weft_mem_free(x);
		return ENOMEM;
	}
	if (mprotect(map, page, PROT_NONE) != 0) { /* the guard page, below the stack */
		munmap(map, map_size);
		weft_mem_free(x);
		return ENOMEM;
	}
	x->map = map;
	x->map_size = map_size;
	x->stack_lo = (char *)map + page;
	x->stack_size = stack_size;
	if (weft_fiber_san_create(&x->san, x->stack_lo, x->stack_size) != 0) {
		munmap(map, map_size);
		weft_mem_free(x);
		return ENOMEM;
	}
	x->fn = fn;
	x->arg = arg;
	fiber_prepare(x);
	*f = x;
	return 0;
}

void weft_fiber_reset(weft_fiber *f, weft_fiber_fn fn, void *arg)
{
	if (f == NULL || fn == NULL || f->is_thread)
		return;
	weft_fiber_san_reset(&f->san, f->stack_lo, f->stack_size);
	f->fn = fn;
	f->arg = arg;
	f->switch_from = NULL;
	fiber_prepare(f);
}

void weft_fiber_destroy(weft_fiber *f)
{
	if (f == NULL || f->is_thread)
		return;
	weft_fiber_san_destroy(&f->san, f->stack_lo, f->stack_size);
	munmap(f->map, f->map_size);
	weft_mem_free(f);
}

/* ---- the thread's own fiber ---- */

int weft_fiber_thread_init(weft_fiber **self)
{
	if (self == NULL)
		return EINVAL;
	if (tls_current != NULL)
		return EBUSY;
	weft_fiber *x = weft_mem_zalloc(sizeof(*x), _Alignof(weft_fiber));
	if (x == NULL)
		return ENOMEM;
	x->is_thread = true;
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		void *lo;
		size_t size;
		if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
			x->stack_lo = lo;
			x->stack_size = size;
		}
		pthread_attr_destroy(&attr);
	}
	weft_fiber_san_thread_init(&x->san);
	tls_current = x;
	*self = x;
	return 0;
}

void weft_fiber_thread_fini(weft_fiber *self)
{
	if (self == NULL || !self->is_thread)
		return;
	if (tls_current == self)
		tls_current = NULL;
	weft_fiber_san_thread_fini(&self->san);
	weft_mem_free(self);
}

/* ---- the switch ---- */

/* Only before the switch does this frame touch TLS; after it, it may be on another thread. */
static inline void fiber_switch(weft_fiber *from, weft_fiber *to, bool final, bool sym)
{
#if defined(WEFT_DEBUG_CHECKS)
	if (from != tls_current || to == from) {
		static const char msg[] = "weft: weft_fiber_switch: from is not the running fiber, "
					  "or from == to\n";
		ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)r;
		abort();
	}
#endif
#if defined(WEFT_ASAN)
	to->switch_from = from; /* only fiber_landed's ASan bookkeeping reads it */
#endif
	tls_current = to;
	weft_fiber_san_before_switch(&from->san, &to->san, to->stack_lo, to->stack_size, final);
#if defined(WEFT_FIBER_UCONTEXT)
	swapcontext(&from->uc, &to->uc);
#else
	if (sym)
		weft_fiber_switch_asm_ret(&from->sp, to->sp, from);
	else
		weft_fiber_switch_asm(&from->sp, to->sp, from);
#endif
	(void)sym;
	/* Resumed, maybe on another thread: from is the running fiber again. */
	fiber_landed(from);
}

void weft_fiber_switch(weft_fiber *from, weft_fiber *to)
{
	fiber_switch(from, to, false, false);
}

void weft_fiber_switch_sym(weft_fiber *from, weft_fiber *to)
{
	fiber_switch(from, to, false, true);
}

void weft_fiber_switch_final(weft_fiber *from, weft_fiber *to)
{
	fiber_switch(from, to, true, false);
}

/* ---- the overflow handler ---- */

static struct sigaction overflow_previous; /* the SIGSEGV disposition we replaced */
static _Atomic int overflow_installed;	   /* 0 no, 1 installing, 2 yes */

static size_t format_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static void overflow_report(const weft_fiber *f)
{
	char msg[160];
	static const char a[] = "weft: fiber stack overflow (stack size ";
	static const char b[] = " bytes); raise weft_rt_config.stack_size\n";
	size_t n = 0;
	memcpy(msg, a, sizeof a - 1);
	n += sizeof a - 1;
	n += format_u64(msg + n, f->stack_size);
	memcpy(msg + n, b, sizeof b - 1);
	n += sizeof b - 1;
	ssize_t r = write(STDERR_FILENO, msg, n);
	(void)r;
}

static void overflow_handler(int sig, siginfo_t *info, void *uctx)
{
	const weft_fiber *f = tls_current;
	const char *addr = info != NULL ? (const char *)info->si_addr : NULL;
	if (f != NULL && !f->is_thread && addr >= f->map && addr < f->stack_lo) {
		overflow_report(f);
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		sigaction(SIGABRT, &dfl, NULL);
		abort();
	}
	/* Not ours: hand the fault to whoever handled SIGSEGV before us (ASan, a crash
	 * reporter), or restore the default action and return so that the fault re-raises. */
	if ((overflow_previous.sa_flags & SA_SIGINFO) && overflow_previous.sa_sigaction != NULL) {
		overflow_previous.sa_sigaction(sig, info, uctx);
		return;
	}
	if (overflow_previous.sa_handler != SIG_DFL && overflow_previous.sa_handler != SIG_IGN &&
	    overflow_previous.sa_handler != NULL) {
		overflow_previous.sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
}

/* Room for our report, or for ASan's or a chained handler's. */
#define ALTSTACK_SIZE ((size_t)64 * 1024)

/* Frees the thread's alternate signal stack when the thread exits. */
static pthread_key_t altstack_key;
static pthread_once_t altstack_key_once = PTHREAD_ONCE_INIT;
static int altstack_key_err;

static void altstack_free(void *map)
{
	stack_t off;
	memset(&off, 0, sizeof off);
	off.ss_flags = SS_DISABLE;
	sigaltstack(&off, NULL);
	munmap(map, ALTSTACK_SIZE);
}

static void altstack_key_create(void)
{
	altstack_key_err = pthread_key_create(&altstack_key, altstack_free);
}

static int altstack_install(void)
{
	stack_t old;
	if (sigaltstack(NULL, &old) != 0)
		return errno;
	if (!(old.ss_flags & SS_DISABLE))
		return 0; /* the thread has one (ours from an earlier call, ASan's, the user's) */
	pthread_once(&altstack_key_once, altstack_key_create);
	if (altstack_key_err != 0)
		return altstack_key_err;
	size_t size = ALTSTACK_SIZE;
	void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return ENOMEM;
	stack_t ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = map;
	ss.ss_size = size;
	if (sigaltstack(&ss, NULL) != 0) {
		int e = errno;
		munmap(map, size);
		return e;
	}
	if (pthread_setspecific(altstack_key, map) != 0) {
		altstack_free(map);
		return ENOMEM;
	}
	return 0;
}

int weft_fiber_overflow_handler_install(void)
{
	int e = altstack_install();
	if (e != 0)
		return e;
	int state = 0;
	/* acquire/release: the winner's sigaction and overflow_previous happen-before a later
	 * caller returns 0; losers wait for the winner (a few system calls). */
	if (atomic_compare_exchange_strong_explicit(&overflow_installed, &state, 1,
						    memory_order_acquire, memory_order_acquire)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = overflow_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &overflow_previous) != 0) {
			e = errno;
			atomic_store_explicit(&overflow_installed, 0, memory_order_release);
			return e;
		}
		atomic_store_explicit(&overflow_installed, 2, memory_order_release);
		return 0;
	}
	/* acquire: pairs with the release store of 2 above */
	while ((state = atomic_load_explicit(&overflow_installed, memory_order_acquire)) == 1)
		sched_yield();
	return state == 2 ? 0 : weft_fiber_overflow_handler_install();
}
