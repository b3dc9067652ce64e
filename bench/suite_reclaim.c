/*
 * reclaim: the read side of safe memory reclamation. Reader threads (the --threads count)
 * repeatedly protect the node a shared pointer points to, read it, and release it; one
 * extra updater thread replaces the node every ~50 us and retires the old one through the
 * scheme under test, which frees it once no reader can hold it. One op = one
 * protect + read + release; a call does RECLAIM_BATCH of them.
 * Checks: a reader never sees a node the updater has poisoned (it poisons a node just
 * before freeing it), and every retired node was freed by the end of the run.
 * "plain" is the unsafe floor: a load, no protection, nothing ever freed.
 */
#define _GNU_SOURCE
#define _LGPL_SOURCE /* liburcu's inline read-side fast paths, as a user would build it */
#include "bench.h"

#include <ck_hp.h>
#include <ck_pr.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-memb.h>

#include <weft/hazard.h>
#include <weft/rcu.h>

#define RECLAIM_BATCH 256
#define NODE_LIVE 0x11FE11FE11FE11FEull
#define NODE_DEAD 0xDEADDEADDEADDEADull
#define UPDATE_EVERY_NS 50000

typedef struct rnode {
	_Atomic uint64_t magic;
	uint64_t value;
	ck_hp_hazard_t hazard;
	weft_hazard_obj wobj;
	struct bench_reclaim_state *owner;
} rnode;

typedef struct bench_reclaim_state {
	_Alignas(BENCH_PAD) _Atomic(rnode *) shared;  /* plain, urcu */
	_Alignas(BENCH_PAD) void *ck_shared;          /* ck_hp (ck_pr atomics) */
	_Alignas(BENCH_PAD) void *_Atomic wshared;    /* weft_hp */
	weft_hazard_domain *domain;
	_Alignas(BENCH_PAD) _Atomic uint64_t bad;
	_Atomic uint64_t freed;
	uint64_t retired;
	rnode statics[2];
	unsigned flip;
	ck_hp_t hp;
	struct rslot {
		_Alignas(BENCH_PAD) ck_hp_record_t rec;
		void *hazards[1];
	} *slots;
	unsigned nslots;
} rstate;

static rnode *node_new(rstate *s)
{
	rnode *n = malloc(sizeof *n);
	if (!n)
		return NULL;
	atomic_init(&n->magic, NODE_LIVE);
	n->value = 42;
	n->owner = s;
	return n;
}

static void node_free(void *p)
{
	rnode *n = p;
	/* Poison first: a reader that (wrongly) still holds n sees DEAD, not a lucky value. */
	atomic_store_explicit(&n->magic, NODE_DEAD, memory_order_relaxed);
	atomic_fetch_add_explicit(&n->owner->freed, 1, memory_order_relaxed);
	free(n);
}

static inline void check_node(rstate *s, rnode *n)
{
	if (atomic_load_explicit(&n->magic, memory_order_relaxed) != NODE_LIVE)
		atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
}

static void *r_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	rstate *s = aligned_alloc(BENCH_PAD, sizeof *s);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->nslots = sh->threads;
	s->slots = aligned_alloc(BENCH_PAD, sizeof *s->slots * s->nslots);
	rnode *first = node_new(s);
	if (!s->slots || !first) {
		free(s->slots);
		free(first);
		free(s);
		return NULL;
	}
	memset(s->slots, 0, sizeof *s->slots * s->nslots);
	for (int i = 0; i < 2; i++) {
		atomic_init(&s->statics[i].magic, NODE_LIVE);
		s->statics[i].owner = s;
	}
	atomic_init(&s->shared, first);
	s->ck_shared = first;
	atomic_init(&s->wshared, first);
	ck_hp_init(&s->hp, 1, 64, node_free);
	return s;
}

static void r_destroy(void *p)
{
	rstate *s = p;
	rnode *cur = atomic_load_explicit(&s->shared, memory_order_relaxed);
	if (cur != &s->statics[0] && cur != &s->statics[1])
		free(cur);
	free(s->slots);
	free(s);
}

static void r_assign(const bench_shape *sh, unsigned i, bench_thread *t)
{
	if (i + 1 == sh->threads) { /* the last thread updates */
		t->role = 1;
		t->counted = false;
		t->has_quota = false;
	}
}

static void pause_ns(long ns)
{
	struct timespec ts = { 0, ns };
	nanosleep(&ts, NULL);
}

static int r_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	rstate *s = p;
	uint64_t bad = atomic_load_explicit(&s->bad, memory_order_relaxed),
		 freed = atomic_load_explicit(&s->freed, memory_order_relaxed);
	if (bad == 0 && freed == s->retired)
		return 0;
	snprintf(err, len, "reclamation broken: %llu reads of a freed node; %llu retired, %llu freed",
		 (unsigned long long)bad, (unsigned long long)s->retired,
		 (unsigned long long)freed);
	return -1;
}

/* plain: no protection; the updater flips between two nodes that are never freed. */
static uint64_t plain_op(void *p, bench_thread *t)
{
	rstate *s = p;
	if (t->role == 1) {
		s->flip ^= 1;
		/* Release: pairs with the readers' acquire load. */
		atomic_store_explicit(&s->shared, &s->statics[s->flip], memory_order_release);
		pause_ns(UPDATE_EVERY_NS);
		return 0;
	}
	for (int i = 0; i < RECLAIM_BATCH; i++) {
		/* Acquire: pairs with the updater's release store of a new node. */
		rnode *n = atomic_load_explicit(&s->shared, memory_order_acquire);
		check_node(s, n);
	}
	return RECLAIM_BATCH;
}

static void *plain_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	rstate *s = r_create(sh, cfg, err, len);
	if (s) {
		free(atomic_load_explicit(&s->shared, memory_order_relaxed));
		atomic_store_explicit(&s->shared, &s->statics[0], memory_order_relaxed);
	}
	return s;
}

/* ck_hp: ck_hp_set_fence, validate, clear; the updater retires through ck_hp_free. */
static int hp_init(void *p, bench_thread *t)
{
	rstate *s = p;
	ck_hp_register(&s->hp, &s->slots[t->id].rec, s->slots[t->id].hazards);
	return 0;
}

static void hp_fini(void *p, bench_thread *t)
{
	rstate *s = p;
	ck_hp_clear(&s->slots[t->id].rec);
	ck_hp_unregister(&s->slots[t->id].rec);
}

static uint64_t hp_op(void *p, bench_thread *t)
{
	rstate *s = p;
	ck_hp_record_t *rec = &s->slots[t->id].rec;
	if (t->role == 1) {
		rnode *n = node_new(s);
		if (n) {
			rnode *old = ck_pr_fas_ptr(&s->ck_shared, n);
			s->retired++;
			ck_hp_free(rec, &old->hazard, old, old);
		}
		pause_ns(UPDATE_EVERY_NS);
		return 0;
	}
	for (int i = 0; i < RECLAIM_BATCH; i++) {
		rnode *n;
		do {
			n = ck_pr_load_ptr(&s->ck_shared);
			ck_hp_set_fence(rec, 0, n);
		} while (n != ck_pr_load_ptr(&s->ck_shared));
		check_node(s, n);
		ck_hp_set(rec, 0, NULL);
	}
	return RECLAIM_BATCH;
}

static uint64_t hp_settle(void *p, bench_thread *t, int phase)
{
	rstate *s = p;
	if (t->role == 1 && phase == BENCH_SETTLE_END)
		ck_hp_purge(&s->slots[t->id].rec);
	return 0;
}

static void hp_destroy(void *p)
{
	rstate *s = p;
	atomic_store_explicit(&s->shared, (rnode *)s->ck_shared, memory_order_relaxed);
	r_destroy(s);
}

/* urcu (memb flavour): read lock, dereference, unlock; the updater waits for a grace
 * period (synchronize_rcu) and frees. */
static int rcu_init_thread(void *p, bench_thread *t)
{
	if (t->role == 0)
		urcu_memb_register_thread();
	return 0;
}

static void rcu_fini_thread(void *p, bench_thread *t)
{
	if (t->role == 0)
		urcu_memb_unregister_thread();
}

static uint64_t rcu_op(void *p, bench_thread *t)
{
	rstate *s = p;
	if (t->role == 1) {
		rnode *n = node_new(s);
		if (n) {
			/* Release (in the exchange): pairs with the readers' acquire load. */
			rnode *old = atomic_exchange_explicit(&s->shared, n, memory_order_acq_rel);
			urcu_memb_synchronize_rcu();
			s->retired++;
			node_free(old);
		}
		pause_ns(UPDATE_EVERY_NS);
		return 0;
	}
	for (int i = 0; i < RECLAIM_BATCH; i++) {
		urcu_memb_read_lock();
		/* Acquire: pairs with the updater's exchange (rcu_dereference's role). */
		rnode *n = atomic_load_explicit(&s->shared, memory_order_acquire);
		check_node(s, n);
		urcu_memb_read_unlock();
	}
	return RECLAIM_BATCH;
}

/* weft_hp: weft_hazard_protect (validate loop inside) + read + clear, in a private
 * domain; the updater retires through weft_hazard_retire_obj (no allocation). */
static void *whp_create(const bench_shape *sh, const bench_cfg *cfg, char *err, size_t len)
{
	rstate *s = r_create(sh, cfg, err, len);
	int rc = s ? weft_hazard_domain_create(&s->domain) : 0;
	if (rc) {
		snprintf(err, len, "weft_hazard_domain_create: %s", strerror(rc));
		r_destroy(s);
		return NULL;
	}
	return s;
}

static void whp_destroy(void *p)
{
	rstate *s = p;
	weft_hazard_domain_destroy(s->domain);
	atomic_store_explicit(&s->shared, atomic_load_explicit(&s->wshared, memory_order_relaxed),
			      memory_order_relaxed);
	r_destroy(s);
}

static int whp_init(void *p, bench_thread *t)
{
	rstate *s = p;
	t->local = weft_hazard_rec_get(s->domain);
	return t->local ? 0 : 12 /* ENOMEM */;
}

static uint64_t whp_op(void *p, bench_thread *t)
{
	rstate *s = p;
	weft_hazard_rec *rec = t->local;
	if (t->role == 1) {
		rnode *n = node_new(s);
		if (n) {
			/* Release (in the exchange): pairs with protect's acquire re-load. */
			rnode *old = atomic_exchange_explicit(&s->wshared, n, memory_order_acq_rel);
			s->retired++;
			weft_hazard_retire_obj(s->domain, &old->wobj, old, node_free);
		}
		pause_ns(UPDATE_EVERY_NS);
		return 0;
	}
	for (int i = 0; i < RECLAIM_BATCH; i++) {
		rnode *n = weft_hazard_protect(rec, 0, &s->wshared);
		check_node(s, n);
		weft_hazard_clear(rec, 0);
	}
	return RECLAIM_BATCH;
}

static int whp_verify(void *p, bench_thread *th, unsigned n, char *err, size_t len)
{
	rstate *s = p;
	/* Every reader has cleared its slot and exited: a scan of the domain (the exited
	 * updater's list included) must free everything retired. */
	weft_hazard_domain_scan(s->domain);
	return r_verify(p, th, n, err, len);
}

/* weft_rcu: weft_rcu_read_lock + acquire load + unlock; the updater waits for a grace
 * period with weft_rcu_synchronize and frees. */
static uint64_t wrcu_op(void *p, bench_thread *t)
{
	rstate *s = p;
	if (t->role == 1) {
		rnode *n = node_new(s);
		if (n) {
			/* Release (in the exchange): pairs with the readers' acquire load. */
			rnode *old = atomic_exchange_explicit(&s->shared, n, memory_order_acq_rel);
			weft_rcu_synchronize();
			s->retired++;
			node_free(old);
		}
		pause_ns(UPDATE_EVERY_NS);
		return 0;
	}
	for (int i = 0; i < RECLAIM_BATCH; i++) {
		weft_rcu_read_lock();
		/* Acquire: pairs with the updater's exchange. */
		rnode *n = atomic_load_explicit(&s->shared, memory_order_acquire);
		check_node(s, n);
		weft_rcu_read_unlock();
	}
	return RECLAIM_BATCH;
}

static const bench_impl r_impls[] = {
	{ "plain", "a plain acquire load, no protection (the floor; nothing freed)", NULL,
	  plain_create, r_destroy, NULL, NULL, plain_op, NULL, r_verify, r_assign },
	{ "ck_hp", "ck_hp_set_fence + validate + clear; ck_hp_free retires", bench_unavail_tsan,
	  r_create, hp_destroy, hp_init, hp_fini, hp_op, hp_settle, r_verify, r_assign },
	{ "urcu", "liburcu memb read lock + load + unlock; synchronize_rcu then free",
	  bench_unavail_tsan, r_create, r_destroy, rcu_init_thread, rcu_fini_thread, rcu_op,
	  NULL, r_verify, r_assign },
	{ "weft_hp", "weft_hazard_protect + read + clear; weft_hazard_retire_obj retires", NULL,
	  whp_create, whp_destroy, whp_init, NULL, whp_op, NULL, whp_verify, r_assign },
	{ "weft_rcu", "weft_rcu_read_lock + load + unlock; weft_rcu_synchronize then free", NULL,
	  r_create, r_destroy, NULL, NULL, wrcu_op, NULL, r_verify, r_assign },
};

static size_t r_shapes(const bench_cfg *cfg, bench_shape *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nthreads && n < max; i++, n++) {
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].variant, sizeof out[n].variant, "read+update");
		out[n].threads = cfg->threads[i] + 1;
		out[n].label_threads = cfg->threads[i];
	}
	return n;
}

const bench_suite bench_suite_reclaim = {
	.name = "reclaim",
	.what = "readers protect a shared node while an updater replaces and retires it",
	.unit_note = "1 op = protect + read + release (threads column: readers; +1 updater)",
	.impls = r_impls,
	.nimpls = sizeof r_impls / sizeof r_impls[0],
	.shapes = r_shapes,
};
