/*
 * queue: P producers push tagged items, C consumers pop them (default P = C = each
 * --threads value). Throughput = items popped per second. Every item is the value
 * v = (producer + 1) << 40 | sequence, sequences 1, 2, ... per producer; producers count
 * what went in, consumers record count, sum and sum of squares (mod 2^64) of what they
 * took, and the per-producer order where the kind promises FIFO per producer. Checks: the
 * consumers together took exactly what the producers pushed (count, sum and sum of
 * squares, the producers' side in closed form from their counts: a lost, duplicated or
 * substituted item changes the count or the sum, and two substituted items keeping the
 * sum change the sum of squares), no item was garbage (producer out of range or
 * sequence 0), and FIFO kinds kept each producer's order at each consumer.
 *
 * The per-item bookkeeping is kept small (a few adds, one multiply, one load and store
 * for the order check; nothing on the producer side but building the value) because it
 * is paid by every kind alike and would otherwise cap what faster paths, batches above
 * all, can show.
 *
 * Every kind runs through weft_queue_push/pop by name, the ck_ring and urcu_wfcq adapters
 * (the peers) included, so each is measured through the same interface.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <weft/queue.h>
#include <weft/rcu.h>

#define Q_BATCH 8
#define Q_TRIES 64
#define SEQ_BITS 40

/* How the suite drives one kind. */
typedef struct q_ops {
	int (*create)(void **q, size_t capacity);
	int (*push)(void *q, void *item);
	int (*pop)(void *q, void **item);
	void (*destroy)(void *q);
	/* Optional batches (weft_queue_push_n / pop_n) of up to `batch` items per call. */
	int (*push_n)(void *q, void *const *items, size_t n, size_t *moved);
	int (*pop_n)(void *q, void **items, size_t n, size_t *moved);
	size_t batch;
} q_ops;

typedef struct q_prod {
	_Alignas(BENCH_PAD) uint64_t pushed; /* sequences 1 .. pushed went in */
#ifdef WEFT_BENCH_QUEUE_STATS
	_Atomic uint64_t pushed_pub; /* pushed, for the fill samples (qs_fill) */
#endif
} q_prod;

/* What a consumer took, in registers while it pops (q_cons keeps the running totals). */
typedef struct q_tally {
	uint64_t count, sum, sq, garbage, order;
} q_tally;

typedef struct q_cons {
	_Alignas(BENCH_PAD) q_tally t;
	uint64_t *last; /* per producer: the last sequence seen */
#ifdef WEFT_BENCH_QUEUE_STATS
	_Atomic uint64_t taken_pub; /* t.count, for the fill samples (qs_fill) */
#endif
} q_cons;

typedef struct q_state {
	const q_ops *ops;
	void *q;
	unsigned P, C;
	bool fifo;
	size_t capacity;
	_Alignas(BENCH_PAD) _Atomic unsigned warm_done;
	_Alignas(BENCH_PAD) _Atomic unsigned end_done;
	q_prod *prod;
	q_cons *cons;
} q_state;

/*
 * Diagnostics, off by default (build with -DWEFT_BENCH_QUEUE_STATS=1): for each run, how
 * many items each push / pop call moved (a histogram), how many calls found the queue full
 * or empty, and how many back-offs spun or yielded, on stderr when the run's queue is
 * destroyed. Thread-local counters, folded under a mutex when a thread settles after the
 * measured phase (the warmup's are dropped); the settle phase's own pops are not counted.
 */
#ifdef WEFT_BENCH_QUEUE_STATS
enum { QS_PUSH, QS_POP, QS_BUCKETS = 8 }; /* moved: 0, 1, 2-3, 4-7, 8-15, 16, 17-63, 64 */
typedef struct qs_side {
	uint64_t calls, items, spins, yields, hist[QS_BUCKETS];
	uint64_t fills, fill_sum, fill_hist[8]; /* push side: fill samples, in eighths */
} qs_side;
static _Thread_local qs_side qs_local[2];
static qs_side qs_total[2];
static pthread_mutex_t qs_lock = PTHREAD_MUTEX_INITIALIZER;

static void qs_call(int side, size_t moved)
{
	qs_side *q = &qs_local[side];
	unsigned b = moved == 0 ? 0 : moved == 1 ? 1 : moved < 4 ? 2 : moved < 8 ? 3 :
		     moved < 16 ? 4 : moved == 16 ? 5 : moved < 64 ? 6 : 7;
	q->calls++;
	q->items += moved;
	q->hist[b]++;
}

/* Before bench_backoff(&idle): what it is about to do (spin below 64, then yield). */
static void qs_backoff(int side, unsigned idle)
{
	if (idle + 1 < 64)
		qs_local[side].spins++;
	else
		qs_local[side].yields++;
}

static void qs_fold(bool keep)
{
	if (keep) {
		pthread_mutex_lock(&qs_lock);
		for (int s = 0; s < 2; s++) {
			uint64_t *t = &qs_total[s].calls, *l = &qs_local[s].calls;
			for (size_t i = 0; i < sizeof(qs_side) / sizeof(uint64_t); i++)
				t[i] += l[i];
		}
		pthread_mutex_unlock(&qs_lock);
	}
	memset(qs_local, 0, sizeof qs_local);
}

static void qs_print(const q_state *s)
{
	static const char *const side[2] = { "push", "pop" };
	for (int i = 0; i < 2; i++) {
		const qs_side *q = &qs_total[i];
		double c = q->calls ? (double)q->calls : 1, n = q->items ? (double)q->items : 1;
		fprintf(stderr,
			"stats batch %zu, %u+%u, %-4s: %llu calls, %.2f items/call, %.1f%% moved "
			"none, back-offs per item: %.4f spins %.5f yields; calls moving 0 | 1 | 2-3 "
			"| 4-7 | 8-15 | 16 | 17-63 | 64:",
			s->ops->batch ? s->ops->batch : 1, s->P, s->C, side[i],
			(unsigned long long)q->calls, (double)q->items / c, 100.0 * (double)q->hist[0] / c,
			(double)q->spins / n, (double)q->yields / n);
		for (int b = 0; b < QS_BUCKETS; b++)
			fprintf(stderr, " %llu", (unsigned long long)q->hist[b]);
		if (i == QS_PUSH && q->fills) {
			fprintf(stderr, "; fill mean %.0f of %zu, samples per eighth:",
				(double)q->fill_sum / (double)q->fills, s->capacity);
			for (int b = 0; b < 8; b++)
				fprintf(stderr, " %llu", (unsigned long long)q->fill_hist[b]);
		}
		fputc('\n', stderr);
	}
	memset(qs_total, 0, sizeof qs_total);
}
/*
 * Every 64th push call: how full the queue is, as items pushed minus items the consumers
 * have counted (both published relaxed, on the threads' own lines; an item popped but
 * not yet counted reads as still inside). In eighths of the capacity, the last eighth
 * holding anything at or beyond 7/8 (an unbounded kind past its nominal capacity too).
 * Which end of a bounded ring the threads work at decides what a batch costs: see
 * bench/README.md, "Queue call statistics".
 */
static void qs_fill(const q_state *s)
{
	qs_side *l = &qs_local[QS_PUSH];
	if ((l->calls & 63) != 0)
		return;
	uint64_t in = 0, out = 0;
	/* Relaxed: a sample; nothing is read through it. */
	for (unsigned i = 0; i < s->P; i++)
		in += atomic_load_explicit(&s->prod[i].pushed_pub, memory_order_relaxed);
	for (unsigned i = 0; i < s->C; i++)
		out += atomic_load_explicit(&s->cons[i].taken_pub, memory_order_relaxed);
	uint64_t f = in > out ? in - out : 0, cap = s->capacity ? s->capacity : 1;
	uint64_t e = f * 8 / cap;
	l->fills++;
	l->fill_sum += f;
	l->fill_hist[e > 7 ? 7 : e]++;
}

#define QS_CALL(side, moved) qs_call(side, moved)
#define QS_BACKOFF(side, idle) qs_backoff(side, idle)
/* Relaxed: read only by qs_fill's samples. */
#define QS_PUSHED(p) atomic_store_explicit(&(p)->pushed_pub, (p)->pushed, memory_order_relaxed)
#define QS_TAKEN(c) atomic_store_explicit(&(c)->taken_pub, (c)->t.count, memory_order_relaxed)
#define QS_FILL(s) qs_fill(s)
#else
#define QS_CALL(side, moved) ((void)0)
#define QS_BACKOFF(side, idle) ((void)0)
#define QS_PUSHED(p) ((void)0)
#define QS_TAKEN(c) ((void)0)
#define QS_FILL(s) ((void)0)
#endif

/* ---- the suite's own peers (only without weft's queue interface) ---- */

/* ---- the harness side ---- */

static void *q_create_with(const q_ops *ops, bool fifo, const bench_shape *sh, char *err,
			   size_t len)
{
	q_state *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->ops = ops;
	s->P = sh->producers;
	s->C = sh->consumers;
	s->fifo = fifo;
	s->capacity = sh->capacity;
	s->prod = aligned_alloc(BENCH_PAD, sizeof *s->prod * s->P);
	s->cons = aligned_alloc(BENCH_PAD, sizeof *s->cons * s->C);
	if (!s->prod || !s->cons)
		goto fail;
	memset(s->prod, 0, sizeof *s->prod * s->P);
	memset(s->cons, 0, sizeof *s->cons * s->C);
	for (unsigned i = 0; i < s->C; i++)
		if (!(s->cons[i].last = calloc(s->P, sizeof(uint64_t))))
			goto fail;
	int rc = ops->create(&s->q, sh->capacity);
	if (rc) {
		snprintf(err, len, "creating the queue failed: %s", strerror(rc));
		s->q = NULL;
		goto fail;
	}
	return s;
fail:
	if (s->cons)
		for (unsigned i = 0; i < s->C; i++)
			free(s->cons[i].last);
	free(s->prod);
	free(s->cons);
	free(s);
	return NULL;
}

static void q_destroy(void *p)
{
	q_state *s = p;
#ifdef WEFT_BENCH_QUEUE_STATS
	qs_print(s);
#endif
	s->ops->destroy(s->q);
	for (unsigned i = 0; i < s->C; i++)
		free(s->cons[i].last);
	free(s->prod);
	free(s->cons);
	free(s);
}

static void q_assign(const bench_shape *sh, unsigned i, bench_thread *t)
{
	if (i < sh->producers) {
		t->role = 0;
		t->role_id = i;
		t->counted = false;
		t->has_quota = true;
	} else {
		t->role = 1;
		t->role_id = i - sh->producers;
		t->counted = true;
		t->has_quota = false;
	}
}

/*
 * Account for one popped item (last: the consumer's per-producer last sequences). The
 * caller adds the batch to count up front; a garbage item takes itself back out.
 */
static inline void take(q_tally *t, uint64_t *last, uint64_t P, bool fifo, void *item)
{
	uint64_t v = (uint64_t)(uintptr_t)item, pid = (v >> SEQ_BITS) - 1,
		 seq = v & ((UINT64_C(1) << SEQ_BITS) - 1);
	if (WEFT_UNLIKELY(pid >= P || seq == 0)) {
		t->garbage++;
		t->count--;
		return;
	}
	if (fifo) {
		t->order += seq <= last[pid];
		last[pid] = seq;
	}
	t->sum += v;
	t->sq += v * v;
}

/* Take items[0 .. n) into consumer c. */
static void take_all(q_state *s, q_cons *c, void *const *items, size_t n)
{
	q_tally t = c->t;
	uint64_t *last = c->last, P = s->P;
	t.count += n;
	if (s->fifo) /* two copies of the loop, so the test is not made per item */
		for (size_t i = 0; i < n; i++)
			take(&t, last, P, true, items[i]);
	else
		for (size_t i = 0; i < n; i++)
			take(&t, last, P, false, items[i]);
	c->t = t;
	QS_TAKEN(c);
}

static inline void *item_of(unsigned producer, uint64_t seq)
{
	return (void *)(uintptr_t)(((uint64_t)(producer + 1) << SEQ_BITS) | seq);
}

static uint64_t produce(q_state *s, bench_thread *t)
{
	q_prod *p = &s->prod[t->role_id];
	uint64_t done = 0;
	unsigned tries = 0;
	while (done < Q_BATCH) {
		int rc = s->ops->push(s->q, item_of(t->role_id, p->pushed + 1));
		QS_CALL(QS_PUSH, rc == 0);
		if (rc == 0) {
			p->pushed++;
			QS_PUSHED(p);
			QS_FILL(s);
			done++;
			t->idle = 0;
			continue;
		}
		/* Full: spin a little, then yield (the count survives across calls, so a
		 * thread that keeps failing yields instead of burning its time slice while the
		 * consumer it waits for cannot run). */
		QS_BACKOFF(QS_PUSH, t->idle);
		bench_backoff(&t->idle);
		if (++tries >= Q_TRIES)
			break;
	}
	return done;
}

static uint64_t consume(q_state *s, bench_thread *t)
{
	void *items[Q_BATCH];
	uint64_t done = 0;
	unsigned tries = 0;
	while (done < Q_BATCH) {
		int rc = s->ops->pop(s->q, &items[done]);
		QS_CALL(QS_POP, rc == 0);
		if (rc == 0) {
			done++;
			t->idle = 0;
			continue;
		}
		QS_BACKOFF(QS_POP, t->idle);
		bench_backoff(&t->idle); /* empty: as produce() */
		if (++tries >= Q_TRIES)
			break;
	}
	take_all(s, &s->cons[t->role_id], items, done);
	return done;
}

/*
 * The back-off of a batch call that moved nothing: what bench_backoff does for a single
 * item, with one pause per item of the batch before the yields start. A producer that
 * wants b slots waits for the consumers to free b, not one; polling the ring once per
 * pause instead kept taking the line the consumer was freeing away from it (a full ring of
 * 1024 at 1+1: mpmc_b64 ran at 90 Mops/s in most runs, 340 in others, before this).
 */
static void q_backoff_n(unsigned *idle, size_t b)
{
	if (*idle + 1 < 64)
		for (size_t i = 1; i < b; i++)
			weft_cpu_relax();
	bench_backoff(idle);
}

/* Batch kinds: one push_n / pop_n of up to ops->batch items per call. */
static uint64_t produce_n(q_state *s, bench_thread *t)
{
	q_prod *p = &s->prod[t->role_id];
	void *items[64];
	size_t b = s->ops->batch, moved = 0;
	for (size_t i = 0; i < b; i++)
		items[i] = item_of(t->role_id, p->pushed + 1 + i);
	unsigned tries = 0;
	/* The same retry policy as produce(): t->idle survives across calls. */
	while (s->ops->push_n(s->q, items, b, &moved) != 0) {
		QS_CALL(QS_PUSH, 0);
		if (++tries >= Q_TRIES)
			return 0;
		QS_BACKOFF(QS_PUSH, t->idle);
		q_backoff_n(&t->idle, b);
	}
	QS_CALL(QS_PUSH, moved);
	t->idle = 0;
	p->pushed += moved;
	QS_PUSHED(p);
	QS_FILL(s);
	return moved;
}

static uint64_t consume_n(q_state *s, bench_thread *t)
{
	void *items[64];
	size_t moved = 0;
	unsigned tries = 0;
	while (s->ops->pop_n(s->q, items, s->ops->batch, &moved) != 0) {
		QS_CALL(QS_POP, 0);
		if (++tries >= Q_TRIES)
			return 0;
		QS_BACKOFF(QS_POP, t->idle);
		q_backoff_n(&t->idle, s->ops->batch); /* as produce_n() */
	}
	QS_CALL(QS_POP, moved);
	t->idle = 0;
	take_all(s, &s->cons[t->role_id], items, moved);
	return moved;
}

static uint64_t q_op(void *p, bench_thread *t)
{
	q_state *s = p;
	if (s->ops->batch)
		return t->role == 0 ? produce_n(s, t) : consume_n(s, t);
	return t->role == 0 ? produce(p, t) : consume(p, t);
}

/* Producers say they stopped; consumers drain until every producer has and it is empty. */
static uint64_t q_settle(void *p, bench_thread *t, int phase)
{
	q_state *s = p;
#ifdef WEFT_BENCH_QUEUE_STATS
	qs_fold(phase == BENCH_SETTLE_END);
#endif
	_Atomic unsigned *done = phase == BENCH_SETTLE_WARMUP ? &s->warm_done : &s->end_done;
	if (t->role == 0) {
		/* Release: pairs with the consumers' acquire below; the pushes before it are
		 * complete, so an empty pop after it means empty. */
		atomic_fetch_add_explicit(done, 1, memory_order_release);
		return 0;
	}
	q_cons *c = &s->cons[t->role_id];
	unsigned spins = 0;
	uint64_t n = 0;
	for (;;) {
		bool all = atomic_load_explicit(done, memory_order_acquire) == s->P;
		void *item;
		if (s->ops->pop(s->q, &item) == 0) {
			take_all(s, c, &item, 1);
			spins = 0;
			n++;
			continue;
		}
		if (all)
			return n;
		bench_backoff(&spins);
	}
}

static int q_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	q_state *s = p;
	uint64_t want_n = 0, want_sum = 0, want_sq = 0, n_ = 0, sum = 0, sq = 0, bad = 0,
		 order = 0;
	for (unsigned i = 0; i < s->P; i++) {
		/* Producer i pushed b + 1 .. b + k, b = (i + 1) << 40: sum k b + k(k+1)/2, sum
		 * of squares k b^2 + b k(k+1) + k(k+1)(2k+1)/6 (k < 2^40: exact in 128 bits;
		 * everything else mod 2^64, as the consumers add). */
		uint64_t k = s->prod[i].pushed, b = (uint64_t)(i + 1) << SEQ_BITS;
		unsigned __int128 k3 = (unsigned __int128)k * (k + 1) * (2 * k + 1) / 6;
		want_n += k;
		want_sum += k * b + (uint64_t)((unsigned __int128)k * (k + 1) / 2);
		want_sq += k * b * b + b * k * (k + 1) + (uint64_t)k3;
	}
	for (unsigned i = 0; i < s->C; i++) {
		const q_tally *t = &s->cons[i].t;
		n_ += t->count;
		sum += t->sum;
		sq += t->sq;
		bad += t->garbage;
		order += t->order;
	}
	if (n_ == want_n && sum == want_sum && sq == want_sq && bad == 0 && order == 0)
		return 0;
	snprintf(err, len, "queue lost, duplicated or reordered items: pushed %llu, popped %llu "
			   "(sums %s, sums of squares %s), %llu garbage, "
			   "%llu out of producer order",
		 (unsigned long long)want_n, (unsigned long long)n_,
		 sum == want_sum ? "equal" : "differ", sq == want_sq ? "equal" : "differ",
		 (unsigned long long)bad, (unsigned long long)order);
	return -1;
}

/* Each kind: its ops, whether it is FIFO per producer, and its thread limits. */
#define Q_KIND(id, ops, fifo, maxp, maxc, unav_fn)                                            \
	static void *q_create_##id(const bench_shape *sh, const bench_cfg *cfg, char *err,    \
				   size_t len)                                                 \
	{                                                                                      \
		return q_create_with(ops, fifo, sh, err, len);                                 \
	}                                                                                      \
	static const char *q_unav_##id(const bench_shape *sh)                                  \
	{                                                                                      \
		const char *(*u)(const bench_shape *) = unav_fn;                               \
		const char *why = u ? u(sh) : NULL;                                            \
		if (why)                                                                       \
			return why;                                                            \
		if (sh && (maxp) && sh->producers > (maxp))                                   \
			return "this kind takes one producer";                                \
		if (sh && (maxc) && sh->consumers > (maxc))                                   \
			return "this kind takes one consumer";                                \
		return NULL;                                                                   \
	}

#define Q_IMPL(id, name, what)                                                                 \
	{ name, what, q_unav_##id, q_create_##id, q_destroy, NULL, NULL, q_op, q_settle,      \
	  q_verify, q_assign }

typedef struct wq_kind {
	weft_queue_kind kind;
} wq_kind;

static int wq_push(void *q, void *item)
{
	return weft_queue_push(q, item);
}

static int wq_pop(void *q, void **item)
{
	return weft_queue_pop(q, item);
}

static void wq_destroy(void *q)
{
	void *item;
	while (weft_queue_pop(q, &item) == 0) {
	}
	weft_queue_destroy(q);
}

/*
 * msq_rcu frees its nodes on liburcu's call_rcu thread: wait for that backlog (millions
 * of nodes after a run) here, so that it is not freed on a core while the next
 * implementation is being measured.
 */
static void wq_destroy_deferred(void *q)
{
	wq_destroy(q);
	weft_rcu_barrier();
}

#define WQ_OPS_D(id, KIND, DESTROY)                                                            \
	static int wq_create_##id(void **q, size_t cap)                                        \
	{                                                                                      \
		return weft_queue_create((weft_queue **)q, KIND, cap);                         \
	}                                                                                      \
	static const q_ops ops_##id = { wq_create_##id, wq_push, wq_pop, DESTROY, NULL, NULL, 0 };
#define WQ_OPS(id, KIND) WQ_OPS_D(id, KIND, wq_destroy)

WQ_OPS(mutex, WEFT_QUEUE_MUTEX)
WQ_OPS(mpmc, WEFT_QUEUE_MPMC)
WQ_OPS(spsc, WEFT_QUEUE_SPSC)
WQ_OPS(mpsc, WEFT_QUEUE_MPSC)
WQ_OPS(msq, WEFT_QUEUE_MSQ)
WQ_OPS_D(msq_rcu, WEFT_QUEUE_MSQ_RCU, wq_destroy_deferred)
WQ_OPS(sharded, WEFT_QUEUE_SHARDED)
WQ_OPS(ck_ring, WEFT_QUEUE_CK_RING)
WQ_OPS(urcu_wfcq, WEFT_QUEUE_URCU_WFCQ)

static int wq_push_n(void *q, void *const *items, size_t n, size_t *moved)
{
	return weft_queue_push_n(q, items, n, moved);
}

static int wq_pop_n(void *q, void **items, size_t n, size_t *moved)
{
	return weft_queue_pop_n(q, items, n, moved);
}

/* Batch variants: the kind's ops with push_n / pop_n of B items per call. */
#define WQ_OPS_N(id, KIND, B)                                                                  \
	static const q_ops ops_##id = { wq_create_##KIND, wq_push, wq_pop, wq_destroy,         \
					wq_push_n, wq_pop_n, B };

WQ_OPS_N(mpmc_b16, mpmc, 16)
WQ_OPS_N(mpmc_b64, mpmc, 64)
WQ_OPS_N(sharded_b16, sharded, 16)
WQ_OPS_N(sharded_b64, sharded, 64)

Q_KIND(mutex, &ops_mutex, true, 0, 0, NULL)
Q_KIND(mpmc, &ops_mpmc, true, 0, 0, NULL)
Q_KIND(spsc, &ops_spsc, true, 1, 1, NULL)
Q_KIND(mpsc, &ops_mpsc, true, 0, 1, NULL)
Q_KIND(msq, &ops_msq, true, 0, 0, NULL)
Q_KIND(msq_rcu, &ops_msq_rcu, true, 0, 0, NULL)
Q_KIND(sharded, &ops_sharded, false, 0, 0, NULL)
Q_KIND(ck_ring, &ops_ck_ring, true, 0, 0, bench_unavail_tsan)
Q_KIND(urcu_wfcq, &ops_urcu_wfcq, true, 0, 0, bench_unavail_tsan)
Q_KIND(mpmc_b16, &ops_mpmc_b16, true, 0, 0, NULL)
Q_KIND(mpmc_b64, &ops_mpmc_b64, true, 0, 0, NULL)
Q_KIND(sharded_b16, &ops_sharded_b16, false, 0, 0, NULL)
Q_KIND(sharded_b64, &ops_sharded_b64, false, 0, 0, NULL)

static const bench_impl q_impls[] = {
	Q_IMPL(mutex, "mutex", "weft_queue \"mutex\": pthread_mutex ring (baseline)"),
	Q_IMPL(mpmc, "mpmc", "weft_queue \"mpmc\": bounded lock-free ring, per-slot sequences"),
	Q_IMPL(spsc, "spsc", "weft_queue \"spsc\": single-producer single-consumer ring"),
	Q_IMPL(mpsc, "mpsc", "weft_queue \"mpsc\": unbounded multi-producer single-consumer"),
	Q_IMPL(msq, "msq", "weft_queue \"msq\": Michael-Scott, hazard pointers"),
	Q_IMPL(msq_rcu, "msq_rcu", "weft_queue \"msq_rcu\": Michael-Scott, RCU"),
	Q_IMPL(sharded, "sharded", "weft_queue \"sharded\": a ring per CPU, home shard first"),
	Q_IMPL(ck_ring, "ck_ring", "weft_queue \"ck_ring\": Concurrency Kit MPMC ring adapter"),
	Q_IMPL(urcu_wfcq, "urcu_wfcq", "weft_queue \"urcu_wfcq\": liburcu wfcqueue adapter"),
	Q_IMPL(mpmc_b16, "mpmc_b16", "\"mpmc\" through weft_queue_push_n/pop_n, 16 per call"),
	Q_IMPL(mpmc_b64, "mpmc_b64", "\"mpmc\" through weft_queue_push_n/pop_n, 64 per call"),
	Q_IMPL(sharded_b16, "sharded_b16", "\"sharded\", push_n/pop_n, 16 per call"),
	Q_IMPL(sharded_b64, "sharded_b64", "\"sharded\", push_n/pop_n, 64 per call"),
};

static size_t q_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	size_t n = 0;
	unsigned nshapes = cfg->producers ? 1 : (unsigned)cfg->nthreads;
	for (unsigned i = 0; i < nshapes && n < max; i++, n++) {
		bench_shape *sh = &out[n];
		memset(sh, 0, sizeof *sh);
		sh->producers = cfg->producers ? cfg->producers : cfg->threads[i];
		sh->consumers = cfg->producers ? cfg->consumers : cfg->threads[i];
		sh->threads = sh->producers + sh->consumers;
		sh->label_threads = sh->producers;
		sh->capacity = cfg->capacity;
		snprintf(sh->variant, sizeof sh->variant, cfg->producers ? "P+C" : "P=C");
	}
	return n;
}

const bench_suite bench_suite_queue = {
	.name = "queue",
	.what = "producers push tagged items, consumers pop them",
	.unit_note = "1 op = 1 item through the queue (threads column: producers+consumers)",
	.impls = q_impls,
	.nimpls = sizeof q_impls / sizeof q_impls[0],
	.shapes = q_shapes,
};
