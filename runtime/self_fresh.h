/*
 * weft_worker_self_fresh - weft_worker_self() (worker.c) without the call, for the fiber
 * switch and park paths (fibers.c, parker.c), which read the worker once or twice per
 * switch. The rule is worker.c's: the worker a fiber runs on may change across any call
 * that can switch fibers, so the thread-local `self` must be read afresh after it. A plain
 * C read of a thread-local variable may not be: the compiler may keep the thread pointer
 * (the %fs base), or the value itself, from before the switch. Here the read is one asm
 * volatile with a memory clobber that reads through %fs itself: it is neither merged
 * with another nor moved across a call, and it always uses the current thread's %fs.
 * Elsewhere (aarch64, where the thread pointer comes from a register read the same way,
 * but not written here) the out-of-line weft_worker_self().
 */
#ifndef WEFT_RUNTIME_SELF_FRESH_H
#define WEFT_RUNTIME_SELF_FRESH_H

#include "sched.h"

static inline struct worker *weft_worker_self_fresh(void)
{
#if defined(__x86_64__)
	struct worker *w;
	/* initial-exec (weft_tls_self_ is declared so): the GOT holds the variable's offset
	 * from the thread pointer; in an executable the linker relaxes the first load. */
	__asm__ __volatile__("movq weft_tls_self_@gottpoff(%%rip), %0\n\t"
			     "movq %%fs:(%0), %0"
			     : "=r"(w)
			     :
			     : "memory");
	return w;
#else
	return weft_worker_self();
#endif
}

#endif
