/*
 * Private: fibers, the runtime's unit of suspension. A fiber is a stack plus the registers
 * saved when it last switched away. The scheduler (runtime/sched*.c) switches between
 * worker fibers and task fibers with weft_fiber_switch(); nothing here knows about
 * scheduling.
 *
 * The switch (runtime/switch_<arch>.S) saves and restores the callee-saved registers, the
 * stack pointer and the floating-point control words (x86-64: MXCSR and the x87 control
 * word; aarch64: FPCR), so each fiber keeps its own rounding mode. With the CMake option
 * WEFT_FIBER_UCONTEXT the switch is glibc's swapcontext() instead (slow: it makes a
 * sigprocmask system call per switch; a fallback for platforms without the assembly; each
 * fiber then also carries its own signal mask, across threads when it migrates).
 *
 * Sanitizers and Valgrind: each fiber owns a ThreadSanitizer fiber
 * (__tsan_create_fiber/__tsan_switch_to_fiber/__tsan_destroy_fiber); each switch tells
 * AddressSanitizer (__sanitizer_start_switch_fiber/__sanitizer_finish_switch_fiber); stacks
 * are registered with Valgrind (VALGRIND_STACK_REGISTER) when <valgrind/valgrind.h> exists.
 * TSan: a switch is a synchronisation (the resumed fiber happens-after the switcher).
 *
 * MIGRATION — the rule: a fiber may be resumed on a different thread than the one it was
 * suspended on. Thread-local storage is therefore the hazard: the compiler may compute the
 * address of a _Thread_local variable (errno included: glibc declares __errno_location()
 * const) once and keep it across a call that switches. Code running on a fiber must not
 * hold a TLS address across a switch; read TLS through a function the compiler cannot see
 * into (or that is noinline and contains an asm volatile barrier) after each switch.
 * fiber.c keeps no TLS across a switch; weft_fiber_current() must be re-read after each.
 *
 * Stack overflow: stacks are mmap'd with a PROT_NONE guard page below. A thread that runs
 * fibers calls weft_fiber_overflow_handler_install(): a fault in the current fiber's guard
 * page is then reported from an alternate signal stack (every thread that may run a fiber
 * must call it, since the alternate stack is per thread) ("weft: fiber stack overflow (stack
 * size N bytes); raise weft_rt_config.stack_size") and the process aborts. A single frame
 * larger than a page can jump over the guard page (build with -fstack-clash-protection).
 *
 * Thread-safety: a fiber is used by one thread at a time; moving it between threads needs a
 * happens-before edge (the scheduler's queues give one). All functions here are non-blocking.
 */
#ifndef WEFT_RUNTIME_FIBER_H
#define WEFT_RUNTIME_FIBER_H

#include <stddef.h>

typedef struct weft_fiber weft_fiber;

/* A fiber's body. It must never return: it ends by switching away for good
 * (weft_fiber_switch_final); a return aborts the process with a message. */
typedef void (*weft_fiber_fn)(void *arg);

/*
 * weft_fiber_create - a new fiber that will run fn(arg) when first switched to, on an mmap'd
 * stack of stack_size bytes (rounded up to whole pages, at least 16 KiB) with a guard page
 * below it.
 * Returns: 0, EINVAL (f or fn NULL, stack_size 0 or absurd), ENOMEM (mmap or allocation).
 * Allocates: the fiber (weft's allocator) and its stack (mmap). Any thread.
 */
int weft_fiber_create(weft_fiber **f, size_t stack_size, weft_fiber_fn fn, void *arg);

/*
 * weft_fiber_reset - make f run fn(arg) from the top of its stack when next switched to.
 * f must have switched away for good (its body will never be resumed) or never have run;
 * not a thread's own fiber. Any thread (with a happens-before edge from f's last switch).
 */
void weft_fiber_reset(weft_fiber *f, weft_fiber_fn fn, void *arg);

/* weft_fiber_destroy - unmap f's stack and free it. Not the running fiber, not a thread's
 * own fiber (use weft_fiber_thread_fini). NULL is ignored. */
void weft_fiber_destroy(weft_fiber *f);

/*
 * weft_fiber_thread_init - a fiber object for the calling thread's own stack (nothing is
 * mapped), which becomes the thread's current fiber; switch from it to run other fibers.
 * Returns: 0, EINVAL (self NULL), EBUSY (the thread already has a current fiber), ENOMEM.
 */
int weft_fiber_thread_init(weft_fiber **self);

/* weft_fiber_thread_fini - free a fiber made by weft_fiber_thread_init. Call it on that
 * thread, running on that fiber (the thread has no current fiber afterwards). */
void weft_fiber_thread_fini(weft_fiber *self);

/*
 * weft_fiber_switch - save the running fiber's registers into from and resume to (its
 * body's start, or where it last switched away). Returns when some thread switches back to
 * from — possibly a different thread: re-read any TLS afterwards.
 * from must be the running fiber (weft_fiber_current()); to must be suspended and not
 * being resumed by anyone else. Ordering: a full switch: everything from did before it
 * happens-before everything to does after it (same thread; across threads the scheduler's
 * hand-off provides the edge).
 */
void weft_fiber_switch(weft_fiber *from, weft_fiber *to);

/*
 * weft_fiber_switch_sym - as weft_fiber_switch, for switches between fibers that suspend
 * through the same chain of calls (a scheduler's park path, where two tasks block in turn
 * in the same code). The x86-64 switch then returns into to with a ret, and the CPU's
 * return-stack predictor, filled by from's calls, is right for to's returns as far up as
 * the two chains agree; weft_fiber_switch leaves by an indirect jump, which is better for
 * two fibers that switch from different places (the predictor is one entry off after it,
 * missing every return of to) and about 2x worse here. aarch64 and ucontext: the same as
 * weft_fiber_switch.
 */
void weft_fiber_switch_sym(weft_fiber *from, weft_fiber *to);

/*
 * weft_fiber_switch_final - as weft_fiber_switch, but from is finished: it will not be
 * resumed until weft_fiber_reset (ASan then drops its fake stack). If it is resumed anyway,
 * the call returns like weft_fiber_switch.
 */
void weft_fiber_switch_final(weft_fiber *from, weft_fiber *to);

/* weft_fiber_current - the fiber running on the calling thread, or NULL when the thread
 * has none. Re-read it after every switch (the caller may have moved to another thread). */
weft_fiber *weft_fiber_current(void);

/* weft_fiber_stack_size - the usable size of f's stack in bytes (0 for a thread's own). */
size_t weft_fiber_stack_size(const weft_fiber *f);

/*
 * weft_fiber_overflow_handler_install - on the calling thread, an alternate signal stack
 * (kept if the thread already has one), and, once per process, a SIGSEGV handler that
 * reports an overflow into the current fiber's guard page and aborts. Other faults go to
 * the handler that was installed before (or the default action: the fault re-raises).
 * Idempotent. Returns: 0, ENOMEM, or the errno of sigaltstack/sigaction.
 */
int weft_fiber_overflow_handler_install(void);

#endif
