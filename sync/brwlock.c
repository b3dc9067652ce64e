/*
 * weft_brwlock slow paths (see include/weft/brwlock.h for the design).
 *
 * The Dekker-style pairing at the heart of it:
 *   reader:  slot.readers = REG+1 (seq_cst)   ;  f = wflag (seq_cst)      ; enter iff f == 0
 *   writer:  wflag = WRITER       (seq_cst)   ;  u = used[], slot.readers (seq_cst)
 * All four accesses are seq_cst, so they sit in one total order consistent with each
 * thread's program order. If the reader's load of wflag comes before the writer's store,
 * the reader's store to its slot came earlier still, and the writer's later loads of the
 * bitmap and of the slot see it: the writer waits for that reader. Otherwise the reader
 * sees WRITER and retreats. (On x86-64 the seq_cst store is one xchg, which is cheaper
 * than a plain store followed by mfence; on aarch64 it is stlr followed by ldar.)
 * A slot's first use sets its bit in the used bitmap (seq_cst fetch_or) before that store,
 * so the writer, scanning only the used slots, cannot miss it.
 *
 * Invariants:
 *   1. Only the owning thread writes its slot; REG (bit 31) in a slot means its bitmap bit
 *      is set. Bits are never cleared (slots are reused with thread indices).
 *   2. wflag has WRITER exactly while some thread holds wlock as the brwlock's writer and
 *      has not yet released it; readers set RWAIT only on a value carrying WRITER, so wflag
 *      is 0 whenever no writer is pending or inside.
 *   3. A reader parks on wflag only on a value that has WRITER and RWAIT; the writer leaves
 *      by exchanging wflag to 0 and waking all of wflag's parkers if RWAIT was set.
 *   4. A writer parks on a slot (waiting for it to drain) only with SLEEP set and with a
 *      deadline at most DRAIN_NAP_NS away. A reader leaving while SLEEP is set wakes it.
 *      The reader's look at SLEEP is a relaxed load made just before its releasing store
 *      (so that, once the store has made the lock free, the reader no longer touches the
 *      lock, which the writer may already have freed); a writer that sets SLEEP after
 *      that load misses the wake, and the deadline bounds what the miss costs. In the
 *      case that matters (a reader inside for long) SLEEP is set well before the reader
 *      leaves.
 *   5. A reader that leaves its slot read lock touches the lock no more after its
 *      releasing store (it wakes a sleeping writer by address only: a parking-lot key).
 *   6. Only the writer inside (holding wlock, with WRITER up) sets SLEEP, and only in
 *      brw_drain_slot; it clears SLEEP at the end of its scan if it set it, and leaving
 *      clears the whole word. So SLEEP is clear whenever WRITER is, and a writer that
 *      never napped need not clear it.
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
#define SLEEP WEFT_BRWLOCK_SLEEP_
#define RWAIT WEFT_BRWLOCK_RWAIT_
#define REG WEFT_BRWLOCK_REG_
#define COUNT WEFT_BRWLOCK_COUNT_

#define MIN_SLOTS 64u
#define MAX_SLOTS 4096u
/* Spin rounds before parking: a writer's section or a reader's is usually short. */
#define READER_SPIN 128
#define DRAIN_SPIN 256
/* Longest nap of a writer waiting for a reader to leave (bounds a missed wake). */
#define DRAIN_NAP_NS (1000 * 1000)

#if defined(WEFT_DEBUG_CHECKS) && WEFT_DEBUG_CHECKS
#define BRW_MISUSE(what) (fprintf(stderr, "weft_brwlock: %s\n", what), abort())
#else
#define BRW_MISUSE(what) ((void)0)
#endif

static _Atomic uint64_t *brw_used(weft_brwlock *l)
{
	return (_Atomic uint64_t *)(void *)&l->slots[l->nslots];
}

int weft_brwlock_create(weft_brwlock **out)
{
	if (out == NULL)
		return EINVAL;
	unsigned n = 2 * weft_cpu_count();
	n = n < MIN_SLOTS ? MIN_SLOTS : n > MAX_SLOTS ? MAX_SLOTS : n;
	n = (n + 63) & ~63u;
	size_t size = sizeof(weft_brwlock) + n * sizeof(struct weft_brwlock_slot_) +
		      n / 64 * sizeof(uint64_t);
	weft_brwlock *l = weft_mem_zalloc(size, WEFT_PADDING);
	if (l == NULL)
		return ENOMEM;
	atomic_init(&l->wflag, 0);
	l->nslots = n;
	weft_rwlock_init(&l->wlock);
	for (unsigned i = 0; i < n; i++)
		atomic_init(&l->slots[i].readers, 0);
	for (unsigned w = 0; w < n / 64; w++)
		atomic_init(&brw_used(l)[w], 0);
	*out = l;
	return 0;
}

void weft_brwlock_destroy(weft_brwlock *l)
{
	weft_mem_free(l);
}

/*
 * Take back an announcement (REG+1 -> REG) and wake a writer that sleeps on this slot.
 * (Unlike rdunlock, the caller goes on using l, so the hint may be read after the store.)
 */
static void brw_retreat(weft_brwlock *l, uint32_t i)
{
	/* Release: pairs with the writer's acquire load of the slot. */
	atomic_store_explicit(&l->slots[i].readers, REG, memory_order_release);
	/* Relaxed: a hint; a miss costs the writer one nap (invariant 4). */
	if (atomic_load_explicit(&l->wflag, memory_order_relaxed) & SLEEP)
		weft_unpark(&l->slots[i].readers, 1);
}

/* Wait until no writer is pending or inside. Returns 0, or ctx's error. */
static int brw_wait_writer(weft_brwlock *l, weft_ctx *ctx)
{
	int spins = READER_SPIN;
	for (;;) {
		/* Relaxed: the caller re-announces and re-checks with seq_cst. */
		uint32_t f = atomic_load_explicit(&l->wflag, memory_order_relaxed);
		if (!(f & WRITER))
			return 0;
		if (spins > 0) {
			spins--;
			weft_cpu_relax();
			continue;
		}
		/* Invariant 3: park only on a value carrying RWAIT. */
		if (!(f & RWAIT) &&
		    !atomic_compare_exchange_weak_explicit(&l->wflag, &f, f | RWAIT,
							   memory_order_relaxed, memory_order_relaxed))
			continue;
		int r = weft_park(&l->wflag, f | RWAIT, WEFT_NO_DEADLINE, ctx);
		if (r != 0)
			return r;
	}
}

int weft_brwlock_rdlock_slow_(weft_brwlock *l, weft_ctx *ctx, bool announced)
{
	if (l == NULL)
		return EINVAL;
	uint32_t i = weft_thread_index();
	if (i >= l->nslots)
		return weft_rwlock_rdlock(&l->wlock, ctx);
	_Atomic uint32_t *slot = &l->slots[i].readers;
	uint32_t v = atomic_load_explicit(slot, memory_order_relaxed);
	if (!announced && (v & COUNT) != 0) {
		/* Nested: this thread is inside already, so no writer can be; a draining writer
		 * waits for this slot anyway. Relaxed: only this thread writes the slot. */
		if ((v & COUNT) == COUNT)
			return EAGAIN;
		atomic_store_explicit(slot, v + 1, memory_order_relaxed);
		return 0;
	}
	if (!(v & REG)) {
		/* First use of this slot: seq_cst, ordered before the announcement below, so a
		 * writer that misses the announcement's effect still scans this slot. */
		atomic_fetch_or_explicit(&brw_used(l)[i / 64], UINT64_C(1) << (i % 64),
					 memory_order_seq_cst);
		atomic_store_explicit(slot, REG, memory_order_relaxed);
	}
	for (;;) {
		if (announced)
			brw_retreat(l, i);
		int r = brw_wait_writer(l, ctx);
		if (r != 0)
			return r;
		/* The Dekker pair described at the top of this file. */
		atomic_store_explicit(slot, REG + 1, memory_order_seq_cst);
		if (atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0)
			return 0;
		announced = true;
	}
}

void weft_brwlock_wake_writer_(const void *slot)
{
	/* The address is only a parking-lot key: the lock may be gone by now. */
	weft_unpark(slot, 1);
}

int weft_brwlock_rdunlock_slow_(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	/* Not a slot read lock (no slot, or the slot holds none): the underlying lock's. */
	return weft_rwlock_rdunlock(&l->wlock);
}

int weft_brwlock_tryrdlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	uint32_t i = weft_thread_index();
	if (i >= l->nslots)
		return weft_rwlock_tryrdlock(&l->wlock);
	_Atomic uint32_t *slot = &l->slots[i].readers;
	uint32_t v = atomic_load_explicit(slot, memory_order_relaxed);
	if ((v & COUNT) != 0) {
		if ((v & COUNT) == COUNT)
			return EAGAIN;
		atomic_store_explicit(slot, v + 1, memory_order_relaxed); /* nested, see above */
		return 0;
	}
	if (!(v & REG)) {
		/* seq_cst: before the announcement (see rdlock_slow_). */
		atomic_fetch_or_explicit(&brw_used(l)[i / 64], UINT64_C(1) << (i % 64),
					 memory_order_seq_cst);
	}
	/* The Dekker pair described at the top of this file. */
	atomic_store_explicit(slot, REG + 1, memory_order_seq_cst);
	if (atomic_load_explicit(&l->wflag, memory_order_seq_cst) == 0)
		return 0;
	brw_retreat(l, i);
	return EBUSY;
}

/* Leave as writer (also used to back out of a failed or cancelled acquisition). */
static void brw_release(weft_brwlock *l)
{
	/* Release: pairs with the readers' seq_cst (acquire) load of wflag. */
	uint32_t f = atomic_exchange_explicit(&l->wflag, 0, memory_order_release);
	if (f & RWAIT)
		weft_unpark(&l->wflag, INT32_MAX);
	weft_rwlock_wrunlock(&l->wlock);
}

/*
 * Wait until slot i holds no read lock. Returns 0, or ctx's error. Spins first, then naps
 * on the slot with SLEEP set (invariant 4), and then sets *slept.
 */
static int brw_drain_slot(weft_brwlock *l, uint32_t i, weft_ctx *ctx, bool *slept)
{
	_Atomic uint32_t *slot = &l->slots[i].readers;
	int spins = DRAIN_SPIN;
	for (;;) {
		/* seq_cst: the writer's half of the Dekker pair (and acquire: pairs with the
		 * release of the reader's unlock or retreat). */
		uint32_t v = atomic_load_explicit(slot, memory_order_seq_cst);
		if ((v & COUNT) == 0)
			return 0;
		if (spins > 0) {
			spins--;
			weft_cpu_relax();
			continue;
		}
		/* Relaxed: SLEEP is only a hint (a missed wake costs at most one nap). */
		atomic_fetch_or_explicit(&l->wflag, SLEEP, memory_order_relaxed);
		*slept = true;
		uint64_t nap = weft_now_ns() + DRAIN_NAP_NS;
		int r = weft_park(slot, v, nap, ctx);
		if (r == ETIMEDOUT && weft_ctx_err(ctx) == 0)
			r = 0; /* our own nap ended, not the caller's deadline */
		if (r != 0)
			return r;
	}
}

/* Raise the flag and wait for every used slot to drain. Returns 0 or ctx's error. */
static int brw_revoke(weft_brwlock *l, weft_ctx *ctx, bool wait)
{
	/* seq_cst: the writer's half of the Dekker pair (see top); nothing else may
	 * modify wflag now (invariant 2), so a store is enough. */
	atomic_store_explicit(&l->wflag, WRITER, memory_order_seq_cst);
	_Atomic uint64_t *used = brw_used(l);
	int r = 0;
	bool slept = false;
	for (uint32_t w = 0; w < l->nslots / 64 && r == 0; w++) {
		/* seq_cst: after the flag store (see top). */
		uint64_t bits = atomic_load_explicit(&used[w], memory_order_seq_cst);
		while (bits != 0 && r == 0) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (wait) {
				r = brw_drain_slot(l, i, ctx, &slept);
			} else if (atomic_load_explicit(&l->slots[i].readers,
						       memory_order_seq_cst) & COUNT) {
				r = EBUSY; /* seq_cst/acquire as in brw_drain_slot */
			}
		}
	}
	/* Relaxed: SLEEP was a hint for readers leaving during this scan. Only this writer
	 * sets SLEEP (invariant 6), so when it never napped there is nothing to clear and
	 * the uncontended write skips this locked operation. */
	if (slept)
		atomic_fetch_and_explicit(&l->wflag, ~SLEEP, memory_order_relaxed);
	return r;
}

int weft_brwlock_wrlock(weft_brwlock *l, weft_ctx *ctx)
{
	if (l == NULL)
		return EINVAL;
	int r = weft_rwlock_wrlock(&l->wlock, ctx);
	if (r != 0)
		return r;
	r = brw_revoke(l, ctx, true);
	if (r != 0)
		brw_release(l);
	return r;
}

int weft_brwlock_trywrlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	if (weft_rwlock_trywrlock(&l->wlock) != 0)
		return EBUSY;
	int r = brw_revoke(l, NULL, false);
	if (r != 0)
		brw_release(l);
	return r;
}

int weft_brwlock_wrunlock(weft_brwlock *l)
{
	if (l == NULL)
		return EINVAL;
	/* Relaxed: only reports misuse; the exchange in brw_release orders. */
	if (!(atomic_load_explicit(&l->wflag, memory_order_relaxed) & WRITER)) {
		BRW_MISUSE("wrunlock without the writer inside");
		return EPERM;
	}
	brw_release(l);
	return 0;
}
