/*
 * weft_brwlock slow paths (see include/weft/brwlock.h for the design).
 *
 * The Dekker-style pairing at the heart of it:
 *   reader:  slot.readers = REG+1 (seq_cst)   ;  f = wflag (seq_cst)      ; enter iff f == 0
 *   writer:  CAS wflag 0 -> WRITER (seq_cst)  ;  u = used[], slot.readers (seq_cst)
 * All four accesses are seq_cst, so they sit in one total order consistent with each
 * thread's program order. If the reader's load of wflag comes before the writer's CAS,
 * the reader's store to its slot came earlier still, and the writer's later loads of the
 * bitmap and of the slot see it: the writer waits for that reader. Otherwise the reader
 * sees WRITER and retreats. (On x86-64 the seq_cst store is one xchg and the CAS one
 * lock cmpxchg, each a full fence; on aarch64 they are stlr and a CAS, each followed by
 * ldar.) Readers of the shared slot do the same with a seq_cst CAS for the store.
 * A slot's first use sets its bit in the used bitmap (seq_cst fetch_or) before that store,
 * so the writer, scanning only the used slots, cannot miss it.
 *
 * Invariants:
 *   1. wflag is 0 or carries WRITER. WRITER is set only by a CAS from 0 (that CAS is how
 *      writers exclude each other: exactly one writer holds WRITER), WAIT is added only
 *      to a value carrying WRITER, and the writer leaves by exchanging wflag to 0, waking
 *      every parker of wflag if WAIT was set. So nobody parks on wflag unless WRITER is
 *      up, and each parker's value (with WAIT) changes when the writer leaves.
 *   2. Slots are numbered as in the used bitmap: own slots k >= 1 (line k, thread index
 *      k - 1), the shared slot 0 (line nslots). An own slot is REG | SLEEP? | count. Only its owning thread changes
 *      REG and the count; a writer may add SLEEP, by CAS, and only while the count is
 *      non-zero. Bits in the used bitmap are never cleared (slots are reused with thread
 *      indices; slot 0 is marked on first use).
 *   3. SLEEP implies a non-zero count: every write that makes the count zero writes a
 *      value without SLEEP (the owner's inline unlock stores REG, the out-of-line leave
 *      clears SLEEP in its CAS, a retreat exchanges in REG). Hence the inline rdlock's
 *      test "slot == REG" means "own slot, no read lock held, no sleeper".
 *   4. A writer sleeps on a slot only with SLEEP in it (its park compares the slot with a
 *      value carrying SLEEP) and with a deadline at most DRAIN_NAP_NS away. A reader that
 *      takes the count to zero from a value carrying SLEEP wakes it (by address only).
 *   5. The owner's inline unlock is a load and a plain store: a writer's CAS adding SLEEP
 *      between the two is overwritten. The writer's park then either sees the changed
 *      value and returns at once, or (if it compared before the store) sleeps without a
 *      wake until its nap ends. The window is a few instructions long and a writer only
 *      sets SLEEP after spinning DRAIN_SPIN rounds on a reader that stays inside, so the
 *      nap bound is what a rare miss costs; in the case that matters (a reader inside for
 *      long) SLEEP is set well before the reader leaves, and the reader sees it.
 *   6. A reader that leaves touches the lock no more after the store or CAS that drops its
 *      count (a wake uses the slot address only: a parking-lot key).
 *   7. nused counts the bits set in the used bitmap (slots of threads that read-locked, or
 *      that waited as writers: brw_count_writer): the thread whose fetch_or sets a bit
 *      (it saw the bit clear in the old value) and only it adds one. It only grows, and
 *      only chooses how long waiters spin (nothing else reads it), so its relaxed reads
 *      may be stale without harm.
 *
 * tests/models/brwlock.pml models this protocol (claim, drain, SLEEP, parking, shared slot,
 * cancellation) for spin: exclusion, no lost wake-up except the window of invariant 5 (it
 * finds that one when naps are switched off, and none once the inline unlock is made one
 * atomic step), and invariant 3 at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/brwlock.h>
#include <weft/ctx.h>
#include <weft/thread.h>
#include <weft/waiter.h>

#include "alloc.h"

#define WRITER WEFT_BRWLOCK_WRITER_
#define WAIT WEFT_BRWLOCK_WAIT_
#define REG WEFT_BRWLOCK_REG_
#define SLEEP WEFT_BRWLOCK_SLEEP_
#define COUNT WEFT_BRWLOCK_COUNT_

#define MIN_SLOTS 64u
#define MAX_SLOTS 4096u
/*
 * Spinning before parking. A writer's section or a reader's is usually short: a waiter
 * first spins WAIT_SPIN (for a writer) or DRAIN_SPIN (for a reader) pause rounds. Beyond
 * that, what it waits for is usually a thread that was interrupted or briefly preempted
 * inside (a timer tick, another process's time slice: 4 to 64 us on a shared 2-CPU virtual
 * machine, thousands of times a second). Parking then costs more than the wait: a futex
 * wait here, a futex wake in the thread waited for, and a wake-up latency of tens of
 * microseconds, during which the woken thread holds up the others in turn (a writer woken
 * from its drain keeps WRITER up). So while the threads that use the lock fit the CPUs
 * (nused <= ncpus), a waiter spins on, checking the clock every SPIN_CHECK rounds, for
 * its thread's budget (brw_budget_ns: up to SPIN_LONG_NS, less where waits keep
 * outlasting it); with more threads than CPUs (oversubscribed), the thread waited for
 * may need this very CPU, and the waiter parks after the rounds alone.
 */
#define WAIT_SPIN 128
#define WAIT_POLL_MIN 4 /* pauses between a waiter's looks at wflag: brw_wait_writer */
#define WAIT_POLL_MAX 32
#define DRAIN_SPIN 256
#define SPIN_CHECK 32
#define SPIN_LONG_NS (50 * 1000)
#define SPIN_MIN_NS (4 * 1000)
/* Longest nap of a writer waiting for a reader to leave (bounds a missed wake). */
#define DRAIN_NAP_NS (1000 * 1000)

#if defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS
#define BRW_MISUSE(what) (fprintf(stderr, "weft_brwlock: %s\n", what), abort())
#else
#define BRW_MISUSE(what) ((void)0)
#endif

/* Slot k: line k for an own slot (k >= 1), line nslots for the shared slot (k == 0). */
static _Atomic uint32_t *brw_slot(weft_brwlock *l, uint32_t k)
{
	return weft_brwlock_line_(l, k != 0 ? k : l->nslots);
}

/* The used-slot bitmap, after the shared slot (bit k for slot k). */
static _Atomic uint64_t *brw_used(weft_brwlock *l)
{
	return (_Atomic uint64_t *)(void *)weft_brwlock_line_(l, l->nslots + 1);
}

/*
 * Slots per lock: max(64, 2 x CPUs) rounded up to 64, fixed at the process's first
 * create, so that every lock has the same geometry: a thread's cached slot (brwlock.h,
 * weft_brwlock_tls_) stays inside a lock created later at the same address.
 */
static unsigned brw_slot_count(void)
{
	static _Atomic unsigned fixed;
	/* Relaxed: the value carries no other data; every caller settles on the first one
	 * stored by the CAS below. */
	unsigned n = atomic_load_explicit(&fixed, memory_order_relaxed);
	if (WEFT_LIKELY(n != 0))
		return n;
	unsigned want = 2 * weft_cpu_count();
	want = want < MIN_SLOTS ? MIN_SLOTS : want > MAX_SLOTS ? MAX_SLOTS : want;
	want = (want + 63) & ~63u;
	if (atomic_compare_exchange_strong_explicit(&fixed, &n, want, memory_order_relaxed,
						    memory_order_relaxed))
		return want;
	return n; /* another thread fixed it first */
}

int weft_brwlock_create(weft_brwlock **out)
{
	if (out == NULL)
		return EINVAL;
	unsigned n = brw_slot_count();
	/* The header, n - 1 own slots, the shared slot, the bitmap (see brwlock.h). */
	size_t size = (size_t)(n + 1) * sizeof(struct weft_brwlock_slot_) +
		      n / 64 * sizeof(uint64_t);
	/* Whole lines: every writer reads the bitmap, so no other allocation may share (and
	 * keep writing) its line. */
	size = (size + WEFT_PADDING - 1) / WEFT_PADDING * WEFT_PADDING;
	weft_brwlock *l = weft_mem_zalloc(size, WEFT_PADDING);
	if (l == NULL)
		return ENOMEM;
	atomic_init(&l->wflag, 0);
	l->nslots = n;
	l->ncpus = weft_cpu_count();
	atomic_init(&l->nused, 0);
	for (unsigned k = 0; k < n; k++)
		atomic_init(brw_slot(l, k), 0);
	for (unsigned w = 0; w < n / 64; w++)
		atomic_init(&brw_used(l)[w], 0);
	*out = l;
	return 0;
}

void weft_brwlock_destroy(weft_brwlock *l)
{
	weft_mem_free(l);
}

/* Never REG: the slot of the empty cache (see weft_brwlock_tls_ in brwlock.h). */
static _Atomic uint32_t brw_nowhere;

__thread struct weft_brwlock_tls_ weft_brwlock_tls_ __attribute__((tls_model("initial-exec"))) = {
	NULL, &brw_nowhere};

/* The calling thread's own slot (>= 1), or 0 when it must use the shared slot. An own
 * slot goes into the thread's cache for the inline paths. */
static uint32_t brw_own(weft_brwlock *l)
{
	uint32_t t = weft_thread_index() + 1; /* WEFT_THREAD_INDEX_NONE + 1 wraps to 0 */
	if (t >= l->nslots)
		return 0;
	weft_brwlock_tls_.lock = l;
	weft_brwlock_tls_.slot = weft_brwlock_line_(l, t);
	return t;
}

/* Mark slot i used before its first announcement (see the top of this file). */
static void brw_mark_used(weft_brwlock *l, uint32_t i)
{
	_Atomic uint64_t *w = &brw_used(l)[i / 64];
	uint64_t bit = UINT64_C(1) << (i % 64);
	/* Acquire: when another thread set the bit (slot 0), its seq_cst fetch_or then
	 * happens before our announcement, so it precedes it in the seq_cst order too. */
	if (!(atomic_load_explicit(w, memory_order_acquire) & bit) &&
	    /* seq_cst: ordered before the announcement that follows. */
	    !(atomic_fetch_or_explicit(w, bit, memory_order_seq_cst) & bit))
		/* Relaxed: a spin hint only (brw_spin); exactly one thread sets each bit, so
		 * nused ends equal to the bits set (invariant 7). */
		atomic_fetch_add_explicit(&l->nused, 1, memory_order_relaxed);
}

/*
 * Count a writer that is about to wait among the lock's users (nused), as its first read
 * lock would: a thread that only writes competes for the CPUs too. Its own slot becomes
 * REG with no read lock, as after a read lock and unlock (invariants 2 and 3: only the
 * owner writes REG). A thread without an own slot is not counted.
 */
static void brw_count_writer(weft_brwlock *l)
{
	uint32_t i = brw_own(l);
	if (i == 0)
		return;
	_Atomic uint32_t *s = brw_slot(l, i);
	/* Relaxed: only this thread changes REG and the count (invariant 2). */
	if (!(atomic_load_explicit(s, memory_order_relaxed) & REG)) {
		brw_mark_used(l, i);
		atomic_store_explicit(s, REG, memory_order_relaxed);
	}
}

/*
 * The calling thread's long-spin budget in ns (see WAIT_SPIN above): SPIN_LONG_NS to
 * start with, halved after a wait that outlasted SPIN_LONG_NS (its thread was descheduled,
 * spinning was wasted), doubled again (from SPIN_MIN_NS, up to SPIN_LONG_NS) after one
 * that ended within it. So on a machine where the threads waited for keep losing their
 * CPU (a loaded machine) waiters soon park after the rounds alone, and where they are
 * only interrupted, waiters ride out the interruption. Per thread: no shared line.
 */
static __thread uint32_t brw_budget_ns __attribute__((tls_model("initial-exec"))) = SPIN_LONG_NS;

/* A waiter's spin state (see WAIT_SPIN above). */
struct brw_spin {
	int left;       /* pause rounds before the next decision */
	bool park;      /* decided: park from now on */
	uint64_t start; /* when the rounds ran out, if the long spin applies; else 0 */
	uint64_t until; /* end of the long spin */
};

#define BRW_SPIN_INIT(rounds) {(rounds), false, 0, 0}

/*
 * One round of a waiter's spin: relax the CPU and return true, or return false once the
 * waiter should park (and on every call after that).
 */
static bool brw_spin(weft_brwlock *l, struct brw_spin *sp)
{
	if (sp->left == 0) {
		if (sp->park)
			return false;
		/* Relaxed: a hint; a stale count only picks the other spin. */
		if (sp->start == 0 &&
		    atomic_load_explicit(&l->nused, memory_order_relaxed) > l->ncpus) {
			sp->park = true; /* oversubscribed: park now */
			return false;
		}
		uint64_t now = weft_now_ns();
		if (sp->start == 0) {
			sp->start = now;
			sp->until = now + brw_budget_ns;
		}
		if (now >= sp->until) {
			sp->park = true;
			return false;
		}
		sp->left = SPIN_CHECK;
	}
	sp->left--;
	weft_cpu_relax();
	return true;
}

/* A wait has ended (not by ctx): adjust this thread's budget (brw_budget_ns). */
static void brw_spin_learn(const struct brw_spin *sp)
{
	if (sp->start == 0)
		return; /* over within the rounds, or oversubscribed */
	uint32_t b = brw_budget_ns;
	if (weft_now_ns() - sp->start <= SPIN_LONG_NS)
		b = b < SPIN_MIN_NS ? SPIN_MIN_NS : b >= SPIN_LONG_NS / 2 ? SPIN_LONG_NS : 2 * b;
	else
		b = b / 2 < SPIN_MIN_NS ? 0 : b / 2;
	brw_budget_ns = b;
}

/*
 * Drop one read lock from slot s by CAS (any slot; the shared one always comes here). The
 * count reaching zero clears SLEEP (invariant 3) and wakes the writer asleep on s
 * (invariant 4), by address only (invariant 6).
 */
static void brw_leave(_Atomic uint32_t *s)
{
	/* Relaxed: the CAS below checks it. */
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed), n;
	do {
		n = v - 1;
		if ((n & COUNT) == 0)
			n &= ~SLEEP;
		/* Release: pairs with the writer's acquire (seq_cst) load of the slot. */
	} while (!atomic_compare_exchange_weak_explicit(s, &v, n, memory_order_release,
							memory_order_relaxed));
	if ((v & SLEEP) && !(n & SLEEP))
		weft_unpark(s, 1);
}

/*
 * Take back an own slot's announcement (REG+1 -> REG); an exchange, so that a writer's
 * SLEEP is seen and the writer woken (invariant 4).
 */
static void brw_retreat(_Atomic uint32_t *s)
{
	/* Release: pairs with the writer's acquire (seq_cst) load of the slot. */
	if (atomic_exchange_explicit(s, REG, memory_order_release) & SLEEP)
		weft_unpark(s, 1);
}

/*
 * Wait until no writer is pending or inside. Returns 0, or ctx's error. own: the waiting
 * reader's own slot, or NULL (a writer, or a reader of the shared slot).
 *
 * While a reader waits, it keeps asking for its own slot's line for writing (a prefetch:
 * no ordering, nothing read through it). The writer's drain read that line, so without
 * this the reader's announcement after the writer leaves first waits for the line to come
 * back (a transfer) on top of the one that brings it wflag; with it, the line is back by
 * then. Harmless to the writer: the slot holds no read lock while its reader waits here,
 * so the drain reads it once and moves on (a later drain just takes it again). Measured
 * side by side (weft-bench rwlock, 99% reads, 2 threads on the 2-core VM, two sets of 30
 * interleaved single-repeat rounds): 80.3 -> 83.8 and 80.1 -> 83.6 Mops/s (ck_brlock
 * 90.3-90.6); 4 and 8 threads 92-103 -> 98-104.
 *
 * And it looks at wflag less and less often: WAIT_POLL_MIN pauses between its first two
 * looks, twice as many each time after, up to WAIT_POLL_MAX (the pauses still count
 * against WAIT_SPIN as before, so a waiter parks as soon as it did). Why it pays is not
 * settled: the look that first saw WRITER already holds a copy of wflag's line, and the
 * writer does not write it again until it leaves, so later looks should hit that copy;
 * the gain was measured, not derived (the VM has no hardware counters to ask). The
 * price: a waiter may notice the writer's leaving up to WAIT_POLL_MAX pauses late
 * (a pause is ~20 ns here, so ~0.6 us). Measured side by side as above: one pause
 * between looks 79.9-84.2 Mops/s at 2 threads, 4 up to 32 pauses 87.2-92.7, 8 up to 64
 * 89.8-91.2 (ck_brlock 85.3-91.7 in the same rounds); 4 and 8 threads unchanged. On
 * 2026-12-01 (90-100 interleaved rounds each): a first gap of 1 pause 86.1 against 90.3,
 * of 8 89.9 against 90.1, gaps capped at 16 85.8 and at 64 90.3 against 90.1.
 */
static int brw_wait_writer(weft_brwlock *l, weft_ctx *ctx, _Atomic uint32_t *own)
{
	struct brw_spin sp = BRW_SPIN_INIT(WAIT_SPIN);
	int gap = WAIT_POLL_MIN;
	for (;;) {
		/* Relaxed: the caller re-checks with seq_cst (readers) or claims by CAS. */
		uint32_t f = atomic_load_explicit(&l->wflag, memory_order_relaxed);
		if (!(f & WRITER)) {
			brw_spin_learn(&sp);
			return 0;
		}
		if (own != NULL)
			__builtin_prefetch((const void *)own, 1, 3);
		bool spun = true;
		for (int i = 0; i < gap && (spun = brw_spin(l, &sp)); i++) {
		}
		if (gap < WAIT_POLL_MAX)
			gap *= 2;
		if (spun)
			continue;
		/* Invariant 1: park only on a value carrying WRITER and WAIT. */
		if (!(f & WAIT) &&
		    !atomic_compare_exchange_weak_explicit(&l->wflag, &f, f | WAIT,
							   memory_order_relaxed, memory_order_relaxed))
			continue;
		int r = weft_park(&l->wflag, f | WAIT, WEFT_NO_DEADLINE, ctx);
		if (r != 0)
			return r;
	}
}

/* Read lock through the shared slot 0 (threads without a slot of their own). */
static int brw_rdlock_shared(weft_brwlock *l, weft_ctx *ctx)
{
	_Atomic uint32_t *s = brw_slot(l, 0);
	brw_mark_used(l, 0);
	for (;;) {
		int r = brw_wait_writer(l, ctx, NULL);
		if (r != 0)
			return r;
		/* Relaxed: the CAS checks it. */
		uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
		do {
			if ((v & COUNT) == COUNT)
				return EAGAIN;
			/* seq_cst: the reader's store of the Dekker pair (see top). */
		} while (!atomic_compare_exchange_weak_explicit(s, &v, v + 1, memory_order_seq_cst,
								memory_order_relaxed));
		/* seq_cst: the reader's load of the Dekker pair. */
		if (atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0)
			return 0;
		brw_leave(s);
	}
}

int weft_brwlock_rdlock_slow_(weft_brwlock *l, weft_ctx *ctx, bool announced)
{
	if (l == NULL)
		return EINVAL;
	uint32_t i = brw_own(l);
	if (i == 0)
		return brw_rdlock_shared(l, ctx);
	_Atomic uint32_t *s = brw_slot(l, i);
	/* Relaxed: only this thread changes REG and the count (invariant 2). */
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
	if (!announced && (v & COUNT) != 0) {
		/* Nested: this thread is inside already, so no writer can be; a draining writer
		 * waits for this slot anyway. Relaxed; an add, not a store, so that a writer's
		 * SLEEP is kept. */
		if ((v & COUNT) == COUNT)
			return EAGAIN;
		atomic_fetch_add_explicit(s, 1, memory_order_relaxed);
		return 0;
	}
	if (!(v & REG)) {
		brw_mark_used(l, i); /* first use of this slot */
		atomic_store_explicit(s, REG, memory_order_relaxed);
	}
	for (;;) {
		if (announced)
			brw_retreat(s);
		int r = brw_wait_writer(l, ctx, s);
		if (r != 0)
			return r;
		/* The Dekker pair described at the top of this file. */
		atomic_store_explicit(s, REG + 1, memory_order_seq_cst);
		if (atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0)
			return 0;
		announced = true;
	}
}

int weft_brwlock_rdunlock_slow_(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t i = brw_own(l);
	_Atomic uint32_t *s = brw_slot(l, i);
	/* Relaxed: only this thread changes its own count; the shared slot's count only says
	 * whether there is a lock to drop (misuse cannot be told apart there). */
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
	if (i != 0 && (v & COUNT) == 0) {
		/* A thread whose index appeared between its lock and its unlock (it had none:
		 * out of memory) holds its lock in the shared slot. */
		i = 0;
		s = brw_slot(l, 0);
		v = atomic_load_explicit(s, memory_order_relaxed);
	}
	if ((v & COUNT) == 0) {
		BRW_MISUSE("rdunlock without a read lock");
		return EPERM;
	}
	if (i != 0 && !(v & SLEEP)) {
		/* A nested lock of an own slot: as the inline unlock (invariant 5). Release:
		 * pairs with the writer's acquire (seq_cst) load of the slot. */
		atomic_store_explicit(s, v - 1, memory_order_release);
		return 0;
	}
	brw_leave(s);
	return 0;
}

int weft_brwlock_tryrdlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t i = brw_own(l);
	_Atomic uint32_t *s = brw_slot(l, i);
	/* Relaxed: only this thread changes REG and the count of its own slot. */
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
	if (i != 0 && (v & COUNT) != 0) {
		if ((v & COUNT) == COUNT)
			return EAGAIN;
		atomic_fetch_add_explicit(s, 1, memory_order_relaxed); /* nested, see above */
		return 0;
	}
	/* Relaxed: only a shortcut; the seq_cst load below decides. */
	if (atomic_load_explicit(&l->wflag, memory_order_relaxed) != 0)
		return EBUSY;
	if (i == 0 || !(v & REG))
		brw_mark_used(l, i);
	if (i == 0) {
		do {
			if ((v & COUNT) == COUNT)
				return EAGAIN;
			/* seq_cst: the Dekker pair described at the top of this file. */
		} while (!atomic_compare_exchange_weak_explicit(s, &v, v + 1, memory_order_seq_cst,
								memory_order_relaxed));
	} else {
		/* seq_cst: the Dekker pair described at the top of this file. */
		atomic_store_explicit(s, REG + 1, memory_order_seq_cst);
	}
	if (atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0)
		return 0;
	if (i == 0)
		brw_leave(s);
	else
		brw_retreat(s);
	return EBUSY;
}

/* Leave as writer (also used to back out of a failed or cancelled acquisition). */
static void brw_release(weft_brwlock *l)
{
	/* Release: pairs with the readers' seq_cst (acquire) load of wflag and the next
	 * writer's CAS. */
	uint32_t f = atomic_exchange_explicit(&l->wflag, 0, memory_order_release);
	if (f & WAIT)
		weft_unpark(&l->wflag, INT32_MAX); /* readers and writers (invariant 1) */
}

/*
 * Wait until slot s holds no read lock (v: its last value seen, with a count). Returns 0,
 * or ctx's error. Spins first, then naps on the slot with SLEEP in it (invariant 4).
 */
__attribute__((noinline, cold)) static int brw_drain_slot(weft_brwlock *l, _Atomic uint32_t *s,
							   uint32_t v, weft_ctx *ctx)
{
	struct brw_spin sp = BRW_SPIN_INIT(DRAIN_SPIN);
	for (;;) {
		if (!brw_spin(l, &sp) &&
		    ((v & SLEEP) ||
		     /* Relaxed: SLEEP is a hint; the park compares the slot anyway. */
		     atomic_compare_exchange_weak_explicit(s, &v, v | SLEEP, memory_order_relaxed,
							   memory_order_relaxed))) {
			uint64_t nap = weft_now_ns() + DRAIN_NAP_NS;
			int r = weft_park(s, v | SLEEP, nap, ctx);
			if (r != 0 && (r != ETIMEDOUT || weft_ctx_err(ctx) != 0))
				return r; /* the caller's ctx ended, not our own nap */
		}
		/* seq_cst: as in brw_drain (acquire: pairs with the reader's leaving store). */
		v = atomic_load_explicit(s, memory_order_seq_cst);
		if ((v & COUNT) == 0) {
			brw_spin_learn(&sp);
			return 0;
		}
	}
}

/*
 * brw_drain's waiting part: from word w of the used bitmap, bits (of that word) still to
 * look at, wait for each of those slots and the ones after to drain; on ctx's error,
 * leave as writer (brw_release) before returning it. Out of line and reached by a tail
 * call, so that the scan which finds every slot empty makes no call and saves no
 * register.
 */
__attribute__((noinline, cold)) static int brw_drain_wait(weft_brwlock *l, weft_ctx *ctx,
							   uint32_t w, uint64_t bits)
{
	_Atomic uint64_t *used = brw_used(l);
	brw_count_writer(l);
	for (;;) {
		while (bits != 0) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			_Atomic uint32_t *s = brw_slot(l, i);
			/* seq_cst and acquire as in brw_drain. */
			uint32_t v = atomic_load_explicit(s, memory_order_seq_cst);
			if ((v & COUNT) == 0)
				continue;
			int r = brw_drain_slot(l, s, v, ctx);
			if (r != 0) {
				brw_release(l);
				return r;
			}
		}
		if (++w >= l->nslots / 64)
			return 0;
		/* seq_cst as in brw_drain. */
		bits = atomic_load_explicit(&used[w], memory_order_seq_cst);
	}
}

/* With WRITER up, wait for every used slot to drain (or, !wait, EBUSY if one holds a
 * read lock). Returns 0, EBUSY or ctx's error; on ctx's error WRITER is already gone
 * (brw_drain_wait), on EBUSY it is still up. */
__attribute__((always_inline)) static inline int brw_drain(weft_brwlock *l, weft_ctx *ctx,
							     bool wait)
{
	uint32_t n = l->nslots; /* never written after creation: loaded once */
	_Atomic uint64_t *used = brw_used(l);
	for (uint32_t w = 0; w < n / 64; w++) {
		/* seq_cst: after the CAS that raised WRITER (the Dekker pair, see top). */
		uint64_t bits = atomic_load_explicit(&used[w], memory_order_seq_cst);
		for (uint64_t left = bits; left != 0; left &= left - 1) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(left);
			/* seq_cst: the writer's half of the Dekker pair; acquire: pairs with the
			 * release of the reader's unlock or retreat. */
			uint32_t v = atomic_load_explicit(weft_brwlock_line_(l, i != 0 ? i : n),
							  memory_order_seq_cst);
			if ((v & COUNT) == 0)
				continue;
			if (!wait)
				return EBUSY;
			return brw_drain_wait(l, ctx, w, left); /* from slot i on */
		}
	}
	return 0;
}

/* Claim WRITER (invariant 1), waiting for the writer inside. Returns 0 or ctx's error. */
static int brw_claim(weft_brwlock *l, weft_ctx *ctx)
{
	for (;;) {
		uint32_t f = 0;
		/* seq_cst: the writer's store of the Dekker pair (see top); acquire: pairs
		 * with the previous writer's release. */
		if (atomic_compare_exchange_weak_explicit(&l->wflag, &f, WRITER, memory_order_seq_cst,
							  memory_order_relaxed))
			return 0;
		brw_count_writer(l);
		int r = brw_wait_writer(l, ctx, NULL);
		if (r != 0)
			return r;
	}
}

/* weft_brwlock_wrlock when the first CAS failed: claim by waiting, then drain. */
__attribute__((noinline, cold)) static int brw_wrlock_slow(weft_brwlock *l, weft_ctx *ctx)
{
	int r = brw_claim(l, ctx);
	if (r != 0)
		return r;
	return brw_drain(l, ctx, true);
}

int weft_brwlock_wrlock(weft_brwlock *l, weft_ctx *ctx)
{
	if (l == NULL)
		return EINVAL;
	uint32_t f = 0;
	/* seq_cst and acquire as in brw_claim (its first try, inline). Every other path
	 * leaves by a tail call, so the common one saves no register. */
	if (WEFT_UNLIKELY(!atomic_compare_exchange_strong_explicit(
		    &l->wflag, &f, WRITER, memory_order_seq_cst, memory_order_relaxed)))
		return brw_wrlock_slow(l, ctx);
	return brw_drain(l, ctx, true);
}

int weft_brwlock_trywrlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t f = 0;
	/* seq_cst and acquire as in brw_claim. */
	if (!atomic_compare_exchange_strong_explicit(&l->wflag, &f, WRITER, memory_order_seq_cst,
						     memory_order_relaxed))
		return EBUSY;
	int r = brw_drain(l, NULL, false);
	if (r != 0)
		brw_release(l);
	return r;
}

int weft_brwlock_wrunlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	/* Release: as in brw_release (one exchange does both the check and the leave:
	 * without WRITER, wflag is 0 (invariant 1) and stays 0). Not a load and a plain
	 * store, as ck_brlock does: a waiter's CAS adding WAIT between the two would be
	 * overwritten and its park never woken (tried: weft-bench's rwlock row hung within
	 * 40 runs); a bounded nap would cure that but wake parked readers every nap through
	 * a long write, for +0.7% to +3.5% at two threads. */
	uint32_t f = atomic_exchange_explicit(&l->wflag, 0, memory_order_release);
	if (WEFT_UNLIKELY(!(f & WRITER))) {
		BRW_MISUSE("wrunlock without the writer inside");
		return EPERM;
	}
	if (f & WAIT)
		weft_unpark(&l->wflag, INT32_MAX); /* readers and writers (invariant 1) */
	return 0;
}
