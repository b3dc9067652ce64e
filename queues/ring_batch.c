/*
 * Batch operations on the rings: one reservation for k slots instead of k.
 *
 * mpmc (Vyukov's ring, invariants in queues/mpmc.c): a batch push reads tail = pos, counts
 * the k <= n consecutive cells pos, pos+1, ... whose seq says "free for position pos+j"
 * (seq == pos + j), then claims all k with one CAS of tail from pos to pos + k. The CAS
 * succeeding means no other push claimed any of those positions, and a cell seen free for
 * position pos+j stays free until that position's owner (us) fills it, so the k cells are
 * ours; each is then filled and published with a plain release store of its seq (no
 * read-modify-write per slot), exactly as a single push does. A batch pop is the mirror
 * image on head (cells with seq == pos + j + 1, freed with seq = pos + j + size). The k
 * items keep their order: FIFO per producer holds as for single pushes. One reservation
 * covers a run of at most MPMC_RUN_MAX positions (a longer scan would lose its CAS to
 * single operations more often); a call makes further runs only while each run was
 * complete. When a run stops at a busy cell (full / empty, or a peer preempted in the
 * middle of its slot) the call returns what it has (EAGAIN if nothing), as a single push
 * or pop would: it never waits on a peer. When the CAS fails, the count is redone from the
 * position it found.
 *
 * Walking the cells: the cell of position p is cells[p & mask] (include/weft/mpmc.h), so
 * a run is at most two stretches of consecutive cells, the second when it wraps from the
 * end of the array to its start. Both passes (the count, then the fill) walk a stretch
 * with a pointer, two cells per round; a cell costs a load and a compare (count) or two
 * stores and a load (fill) plus half a round of loop.
 *
 * The ring's geometry is copied into locals first: the acquire loads would otherwise make
 * the compiler reload it from the shared struct for every cell.
 *
 * spsc: the one producer (consumer) writes k slots and publishes them with one release
 * store of tail (head).
 */
#include <errno.h>

#include "ring_batch.h"

/* Positions claimed by one reservation at most. */
#define MPMC_RUN_MAX 64

/*
 * How many of the cells c[0 .. lim) are ready, in a row from c[0]: c[j] is ready when its
 * seq == want + j. *seq: the first seq that was not (untouched when all lim are).
 */
static inline size_t mpmc_count(const weft_mpmc_cell *c, size_t want, size_t lim, size_t *seq)
{
	const weft_mpmc_cell *const start = c, *const end = c + lim;
	size_t s;
	/* Acquire (each load): pairs with the release store of seq by the pop (for a push) or
	 * push (for a pop) that last handed this cell over, as in the single operations, so
	 * its use of the item happens before ours. Two cells per round (an odd one first). */
	if (lim & 1) {
		s = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (s != want)
			goto stop;
		c++;
		want++;
	}
	for (; c != end; c += 2, want += 2) {
		s = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (s != want)
			goto stop;
		s = atomic_load_explicit(&c[1].seq, memory_order_acquire);
		if (s != want + 1) {
			c++;
			goto stop;
		}
	}
	return (size_t)(c - start);
stop:
	*seq = s;
	return (size_t)(c - start);
}

/*
 * One reservation of up to n (1 <= n <= MPMC_RUN_MAX) positions on *end (tail: off 0;
 * head: off 1), the cell of position p being ready when seq == p + off. Returns k (0: the
 * first cell is not ready, i.e. full / empty or a peer in progress) and the first
 * position in *first.
 */
static inline size_t mpmc_reserve(const weft_mpmc_geom *g, _Atomic size_t *end, size_t n,
				  size_t off, size_t *first)
{
	const size_t size = g->mask + 1;
	if (n > size)
		n = size;
	size_t pos = atomic_load_explicit(end, memory_order_relaxed);
	for (;;) {
		size_t i = pos & g->mask, seq = pos + off;
		size_t lim = n < size - i ? n : size - i; /* up to the end of the array */
		size_t k = mpmc_count(&g->cells[i], pos + off, lim, &seq);
		if (k == lim && k < n) /* the run wraps to the start of the array */
			k += mpmc_count(g->cells, pos + off + k, n - k, &seq);
		if (k == 0) {
			/* As the single ops: a cell of an older position means full (empty) or a
			 * peer in progress; one of a newer position means we are behind. */
			if ((intptr_t)(seq - (pos + off)) < 0)
				return 0;
			pos = atomic_load_explicit(end, memory_order_relaxed);
			continue;
		}
		/* Relaxed: the CAS only hands out positions; each cell's seq publishes. */
		if (atomic_compare_exchange_weak_explicit(end, &pos, pos + k, memory_order_relaxed,
							  memory_order_relaxed)) {
			*first = pos;
			return k;
		}
	}
}

/* Fill c[0 .. k) from src for positions pos, pos + 1, ... and publish each. */
static inline void mpmc_fill(weft_mpmc_cell *c, size_t pos, void *const *src, size_t k)
{
	weft_mpmc_cell *const end = c + k;
	/* Release (each seq store): pairs with the acquire load in weft_mpmc_pop /
	 * mpmc_count: the item is written before the cell says so. Two cells per round. */
	if (k & 1) {
		c->item = *src++;
		atomic_store_explicit(&c->seq, ++pos, memory_order_release);
		c++;
	}
	for (; c != end; c += 2, src += 2, pos += 2) {
		c[0].item = src[0];
		atomic_store_explicit(&c[0].seq, pos + 1, memory_order_release);
		c[1].item = src[1];
		atomic_store_explicit(&c[1].seq, pos + 2, memory_order_release);
	}
}

/* Empty c[0 .. k) of positions pos, pos + 1, ... into dst, freeing each for lap + size. */
static inline void mpmc_drain(weft_mpmc_cell *c, size_t pos, void **dst, size_t k, size_t size)
{
	weft_mpmc_cell *const end = c + k;
	pos += size;
	/* Release (each seq store): pairs with the acquire load of the next lap's push: our
	 * read of the item happens before its overwrite. Two cells per round. */
	if (k & 1) {
		*dst++ = c->item;
		atomic_store_explicit(&c->seq, pos++, memory_order_release);
		c++;
	}
	for (; c != end; c += 2, dst += 2, pos += 2) {
		dst[0] = c[0].item;
		atomic_store_explicit(&c[0].seq, pos, memory_order_release);
		dst[1] = c[1].item;
		atomic_store_explicit(&c[1].seq, pos + 1, memory_order_release);
	}
}

/* One run of a push: up to n (<= MPMC_RUN_MAX) items from src; returns how many went in. */
static inline size_t mpmc_push_run(const weft_mpmc_geom *g, _Atomic size_t *tail,
				   void *const *src, size_t n)
{
	size_t pos = 0, k = mpmc_reserve(g, tail, n, 0, &pos);
	size_t i = pos & g->mask, first = g->mask + 1 - i;
	if (k <= first) {
		mpmc_fill(&g->cells[i], pos, src, k);
	} else { /* the run wraps to the start of the array */
		mpmc_fill(&g->cells[i], pos, src, first);
		mpmc_fill(g->cells, pos + first, src + first, k - first);
	}
	return k;
}

/* One run of a pop: up to n (<= MPMC_RUN_MAX) items into dst; returns how many came out. */
static inline size_t mpmc_pop_run(const weft_mpmc_geom *g, _Atomic size_t *head, void **dst,
				  size_t n)
{
	const size_t size = g->mask + 1;
	size_t pos = 0, k = mpmc_reserve(g, head, n, 1, &pos);
	size_t i = pos & g->mask, first = size - i;
	if (k <= first) {
		mpmc_drain(&g->cells[i], pos, dst, k, size);
	} else {
		mpmc_drain(&g->cells[i], pos, dst, first, size);
		mpmc_drain(g->cells, pos + first, dst + first, k - first, size);
	}
	return k;
}

/*
 * A call of up to MPMC_RUN_MAX items (every call of the weft_queue suite's batches) is one
 * run; a longer one makes further runs only while each was complete (a short run means
 * the next cell was busy).
 */
int weft_mpmc_push_n_(weft_mpmc *q, void *const *items, size_t n, size_t *moved)
{
	const weft_mpmc_geom g = q->g;
	size_t done = mpmc_push_run(&g, &q->tail, items, n < MPMC_RUN_MAX ? n : MPMC_RUN_MAX);
	if (WEFT_UNLIKELY(done == MPMC_RUN_MAX)) {
		for (size_t k = MPMC_RUN_MAX; k == MPMC_RUN_MAX && done < n; done += k) {
			size_t left = n - done;
			k = mpmc_push_run(&g, &q->tail, items + done,
					  left < MPMC_RUN_MAX ? left : MPMC_RUN_MAX);
		}
	}
	*moved = done;
	return done != 0 ? 0 : EAGAIN;
}

/*
 * Pacing of the mpmc kind's batch push (weft_mpmc_push_n_paced_). Measured with the
 * fill samples of weft-bench's queue statistics (bench/README.md): at 1+1 a ring whose
 * producer is faster than its consumer runs full, and then each push works on the lines
 * the consumer freed a moment ago while the consumer still works next to them. Our
 * reading (no hardware counters on the VM): each line then waits for the other side's
 * last store before it can move, and a call of 16 costs about two line transfers in a
 * row on each side, where with the two sides apart the transfers overlap (mpmc_b16 at
 * 80-110 Mops/s in the minutes when a line takes ~250 ns between the VM's two vCPUs,
 * against 150-230 when the ring runs neither full nor empty). So before a batch push of
 * n, the producer looks at the cell PACE_GAP positions past the end of its run: while
 * that cell still holds an item (fewer than n + PACE_GAP slots free), it waits,
 * PACE_POLLS looks at most, PACE_PAUSES pauses apart (up to ~5 us on the 2-core VM, where
 * a pause is ~20 ns), for the consumers to free it, then pushes what fits: what it takes
 * never changes, only when. The faster side waits where it would otherwise have chased
 * the slower one, whose pace is the ring's anyway. Only rings of at least 2 (n + PACE_GAP)
 * slots, where the gap is a small part of the ring.
 *
 * Measured side by side (weft-bench queue, capacity 1024, runs of one repeat
 * interleaved): in minutes when the ring ran full, mpmc_b16 at 1+1 went from 90 Mops/s
 * (median of 100; tenth percentile 85; full in 91 of them) to 147 (124; none full), and
 * at 2+2..8+8 from 77-82 to 110-126, single pushes 26-29 in both; mpmc_b64 243 -> 236
 * (40 runs). Across the VM's phases (150 runs, 32 looks, and no prefetch after pops of
 * 16 as below): median 296 -> 346, lowest 157 -> 187.
 *
 * The cell of position far (= tail + n - 1 + PACE_GAP) holds seq far - size (its push
 * claimed, not published), far - size + 1 (an item not yet popped) or far (free): far -
 * size is below tail, so its push has claimed it. seq - far < 0 is "not free yet"; a
 * newer seq means the ring moved past while we looked.
 */
#define PACE_GAP 64
#define PACE_POLLS 16
#define PACE_PAUSES 16

int weft_mpmc_push_n_paced_(weft_mpmc *q, void *const *items, size_t n, size_t *moved)
{
	const size_t size = q->g.mask + 1;
	if (n <= size / 2 && PACE_GAP <= size / 2 - n) {
		/* Relaxed (both loads): a guess at where the push goes and a look at how far
		 * the consumers are; the push itself decides as always. */
		size_t far = atomic_load_explicit(&q->tail, memory_order_relaxed) + n - 1 + PACE_GAP;
		const weft_mpmc_cell *c = &q->g.cells[far & q->g.mask];
		for (int poll = 0; poll < PACE_POLLS; poll++) {
			size_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
			if ((intptr_t)(seq - far) >= 0)
				break; /* free for position far (or the ring has moved past it) */
			for (int i = 0; i < PACE_PAUSES; i++)
				weft_cpu_relax();
		}
	}
	return weft_mpmc_push_n_(q, items, n, moved);
}

/*
 * After a pop of k items, fetch the lines of the next k positions from head (the next
 * pop's, if the caller pops the same amount): in a ring that runs full, a producer wrote
 * them a lap ago and they sit in its cache, so the next pop would stall on each line in
 * turn; fetched now, the transfers overlap with the caller's use of the items it just
 * took. A hint only: no ordering, nothing is read through it (the pop's acquire loads
 * decide). Measured on the 2-core VM (a line moves between its cores in ~225 ns): weft-bench
 * queue, capacity 1024, 1+1, mpmc_b64 232 -> 308-338 Mops/s. Only after pops of at least
 * PREFETCH_MIN: when the ring runs empty, the next run is the producer's, and fetching
 * its lines while the producer still writes them makes it fetch them back for its next
 * stores; over a run of 16 (four lines) that cost more than the prefetch saved
 * (mpmc_b16 at 1+1, runs that ran empty: 91-98 with it, 154-155 without; with the
 * pacing above, 150 interleaved runs: tenth percentile 166 with a prefetch that first
 * checks the run is published, 209 without any), while runs of 64 gain (mpmc_b64 at 1+1:
 * 187-197 without it, 266-327 with it, in the same minutes).
 */
#define PREFETCH_MIN 32
static inline void mpmc_prefetch_next(const weft_mpmc_geom *g, _Atomic size_t *head, size_t k)
{
	/* Relaxed: a guess at where the next pop starts; any value is a valid position. */
	size_t next = atomic_load_explicit(head, memory_order_relaxed);
	for (size_t j = 0; j < k; j += WEFT_CACHELINE / sizeof(weft_mpmc_cell))
		__builtin_prefetch(&g->cells[(next + j) & g->mask], 0, 3);
}

int weft_mpmc_pop_n_(weft_mpmc *q, void **items, size_t n, size_t *moved)
{
	const weft_mpmc_geom g = q->g;
	size_t done = mpmc_pop_run(&g, &q->head, items, n < MPMC_RUN_MAX ? n : MPMC_RUN_MAX);
	if (WEFT_UNLIKELY(done == MPMC_RUN_MAX)) {
		for (size_t k = MPMC_RUN_MAX; k == MPMC_RUN_MAX && done < n; done += k) {
			size_t left = n - done;
			k = mpmc_pop_run(&g, &q->head, items + done,
					 left < MPMC_RUN_MAX ? left : MPMC_RUN_MAX);
		}
	}
	if (done >= PREFETCH_MIN)
		mpmc_prefetch_next(&g, &q->head, done < MPMC_RUN_MAX ? done : MPMC_RUN_MAX);
	*moved = done;
	return done != 0 ? 0 : EAGAIN;
}

int weft_spsc_push_n_(weft_spsc *q, void *const *items, size_t n, size_t *moved)
{
	size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* our own index */
	size_t room = q->mask + 1 - (t - q->head_cache);
	if (room < n) {
		/* Acquire: pairs with the release store of head in weft_spsc_pop(_n_). */
		q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
		room = q->mask + 1 - (t - q->head_cache);
	}
	size_t k = room < n ? room : n;
	for (size_t j = 0; j < k; j++)
		q->slots[(t + j) & q->mask] = items[j];
	if (k > 0) /* Release: pairs with the acquire load of tail in weft_spsc_pop(_n_). */
		atomic_store_explicit(&q->tail, t + k, memory_order_release);
	*moved = k;
	return k > 0 ? 0 : EAGAIN;
}

int weft_spsc_pop_n_(weft_spsc *q, void **items, size_t n, size_t *moved)
{
	size_t h = atomic_load_explicit(&q->head, memory_order_relaxed); /* our own index */
	size_t avail = q->tail_cache - h;
	if (avail < n) {
		/* Acquire: pairs with the release store of tail in weft_spsc_push(_n_). */
		q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
		avail = q->tail_cache - h;
	}
	size_t k = avail < n ? avail : n;
	for (size_t j = 0; j < k; j++)
		items[j] = q->slots[(h + j) & q->mask];
	if (k > 0) /* Release: pairs with the acquire load of head in weft_spsc_push(_n_). */
		atomic_store_explicit(&q->head, h + k, memory_order_release);
	*moved = k;
	return k > 0 ? 0 : EAGAIN;
}
