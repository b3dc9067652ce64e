/*
 * Biased parking-lot buckets (sync/parking_lot.c, "Biased buckets", invariants B1-B4): a
 * bucket that one thread keeps taking is locked by that thread with plain stores, and any
 * other thread revokes the bias (membarrier) before it goes in. Checks that
 *   - a bucket gets biased and a bias gets revoked (the counters move: the path ran);
 *   - mutual exclusion holds while biases are set and revoked again and again: a plain
 *     counter incremented under the bucket lock (weft_lot_locked_call_) by the owner and by
 *     revoking threads ends exact;
 *   - two tasks in a park/unpark ping-pong (the held park keeps a biased bucket across its
 *     fiber switch) lose no wake-up while a plain thread keeps revoking the bias with its
 *     own unparks and locked calls on the same bucket: the turn word ends exact.
 * Without membarrier (or with WEFT_LOT_NO_BIAS or WEFT_RT_NO_MEMBARRIER set) nothing is
 * biased; the exactness checks still run (and check that nothing was).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <weft/ctx.h>
#include <weft/runtime.h>
#include <weft/waiter.h>
#include <weft/wg.h>

#include "runtime_cases.h"
#include "sync/membarrier.h"
#include "sync/parking_lot.h"
#include "weft_test.h"

#define TEST_TIMEOUT_NS (UINT64_C(60) * 1000000000u)

/* Does the lot bias buckets in this process? (Its own check, made the same way.) */
static bool bias_expected(void)
{
	const char *envs[] = {"WEFT_LOT_NO_BIAS", "WEFT_RT_NO_MEMBARRIER"};
	for (int i = 0; i < 2; i++) {
		const char *off = getenv(envs[i]);
		if (off != NULL && *off != '\0' && *off != '0')
			return false;
	}
	return weft_membarrier_register_(NULL);
}

static void bias_counts(uint64_t *biased, uint64_t *revoked)
{
	weft_lot_bias_counts_(biased, revoked);
}

/* Under the bucket lock: a plain increment, exact only if the lock excludes; the load and
 * the store are kept apart a little, so that two threads inside at once lose one. */
static void bump(void *arg)
{
	uint64_t *n = arg;
	uint64_t v = *n;
	for (volatile int k = 0; k < 16; k++)
		;
	*n = v + 1;
}

/* ---- set, then revoke ---- */

struct solo {
	_Atomic uint32_t *addr;
	uint64_t *hits;
	uint64_t calls;
};

static void *solo_main(void *arg)
{
	struct solo *s = arg;
	for (uint64_t i = 0; i < s->calls; i++)
		weft_lot_locked_call_(s->addr, bump, s->hits);
	return NULL;
}

WEFT_TEST(bias_set_then_revoked)
{
	static _Atomic uint32_t word;
	uint64_t hits = 0, b0, r0, b1, r1, b2, r2;
	bias_counts(&b0, &r0);
	/* One thread, many times in a row: its bucket gets biased to it (the first streak the
	 * bucket needs is short unless an earlier test revoked it recently). */
	struct solo me = {&word, &hits, 100000};
	solo_main(&me);
	bias_counts(&b1, &r1);
	/* Another thread: it must revoke before it goes in. */
	pthread_t t;
	struct solo other = {&word, &hits, 1000};
	CHECK_EQ(pthread_create(&t, NULL, solo_main, &other), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	bias_counts(&b2, &r2);
	CHECK_EQ(hits, 101000);
	if (bias_expected()) {
		CHECK(b1 > b0);
		CHECK(r2 > r1);
	} else {
		CHECK_EQ(b2, b0);
		CHECK_EQ(r2, r0);
	}
	/* The lot still works on that bucket both ways: a park that finds the value changed,
	 * and an unpark with nobody there. */
	CHECK_EQ(weft_park(&word, 1, WEFT_NO_DEADLINE, NULL), 0);
	CHECK_EQ(weft_unpark(&word, 1), 0);
	printf("biased %llu times, revoked %llu times\n", (unsigned long long)(b2 - b0),
	       (unsigned long long)(r2 - r0));
}

/* ---- exclusion while biases come and go ---- */

#define HELPERS 3

struct churn {
	_Atomic uint32_t *addr;
	uint64_t hits; /* under the bucket lock only */
	uint32_t rounds, per_round;
	_Atomic uint32_t round;	  /* the owner's round; helpers go in once per round */
	_Atomic uint32_t arrived; /* helper calls finished, all rounds */
	_Atomic uint64_t calls;	  /* calls made, all threads */
};

struct helper {
	struct churn *c;
	uint64_t rng;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	struct churn *c = h->c;
	uint64_t mine = 0;
	for (uint32_t r = 1; r <= c->rounds; r++) {
		/* Acquire: pairs with the owner's release of the round. Yields: no wait here
		 * needs another core. */
		while (atomic_load_explicit(&c->round, memory_order_acquire) < r)
			sched_yield();
		for (uint32_t i = 0; i < c->per_round; i++) {
			weft_lot_locked_call_(c->addr, bump, &c->hits);
			mine++;
			weft_test_maybe_yield(&h->rng, 8);
		}
		/* Release: pairs with the owner's acquire load of arrived. */
		atomic_fetch_add_explicit(&c->arrived, 1, memory_order_release);
	}
	/* Relaxed: read after the join. */
	atomic_fetch_add_explicit(&c->calls, mine, memory_order_relaxed);
	return NULL;
}

WEFT_STRESS(exclusion_while_bias_changes)
{
	static _Atomic uint32_t word;
	struct churn c = {.addr = &word, .rounds = (uint32_t)weft_test_scale(100), .per_round = 4};
	struct helper h[HELPERS];
	pthread_t t[HELPERS];
	uint64_t b0, r0, b1, r1;
	bias_counts(&b0, &r0);
	for (unsigned i = 0; i < HELPERS; i++) {
		h[i] = (struct helper){&c, 0x1234567u + i};
		CHECK_EQ(pthread_create(&t[i], NULL, helper_main, &h[i]), 0);
	}
	uint64_t mine = 0;
	for (uint32_t r = 1; r <= c.rounds; r++) {
		/* Alone for a while: long enough to get the bias, and to use it enough that it
		 * paid for itself (LOT_BIAS_PAID), so the next one needs the short streak again. */
		uint64_t until = weft_now_ns() + 1500000u, alone = 0;
		do {
			for (int i = 0; i < 64; i++, mine++, alone++)
				weft_lot_locked_call_(&word, bump, &c.hits);
		} while (weft_now_ns() < until || alone < 40000);
		/* Release: the helpers go in (and revoke) while this thread keeps going in. */
		atomic_store_explicit(&c.round, r, memory_order_release);
		/* Acquire: pairs with the helpers' release increments. */
		while (atomic_load_explicit(&c.arrived, memory_order_acquire) < r * HELPERS) {
			weft_lot_locked_call_(&word, bump, &c.hits);
			mine++;
		}
	}
	for (unsigned i = 0; i < HELPERS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	bias_counts(&b1, &r1);
	uint64_t total = mine + atomic_load_explicit(&c.calls, memory_order_relaxed);
	CHECK_EQ(c.hits, total);
	if (bias_expected()) {
		/* Most rounds bias the bucket and see it revoked; ask for a quarter. */
		CHECK(b1 - b0 >= c.rounds / 4);
		CHECK(r1 - r0 >= c.rounds / 4);
	}
	printf("%llu locked calls exact over %u rounds; biased %llu, revoked %llu\n",
	       (unsigned long long)total, c.rounds, (unsigned long long)(b1 - b0),
	       (unsigned long long)(r1 - r0));
}

/* ---- a biased ping-pong of two tasks, revoked by a thread ---- */

struct pp {
	_Atomic uint32_t turn;
	uint32_t rounds;
	_Atomic bool done;
	weft_wg wg;
	_Atomic uint32_t *other; /* a word in the same bucket as turn, or turn itself */
	uint64_t hits;		 /* under the bucket lock only */
};

struct player {
	struct pp *p;
	uint32_t me;
};

static void player_fn(void *arg)
{
	struct player *pl = arg;
	struct pp *p = pl->p;
	for (uint32_t i = 0; i < p->rounds; i++) {
		uint32_t v;
		/* Acquire: pairs with the other player's release store. Woken by the thread as
		 * well: re-check and park again. */
		while (((v = atomic_load_explicit(&p->turn, memory_order_acquire)) & 1u) != pl->me)
			CHECK_EQ(weft_park(&p->turn, v, WEFT_NO_DEADLINE, NULL), 0);
		/* Release: pairs with the other player's acquire load. */
		atomic_store_explicit(&p->turn, v + 1, memory_order_release);
		weft_unpark(&p->turn, 1);
	}
	weft_wg_done(&p->wg);
}

/* Wait up to max_us microseconds, without sleeping when it is 0. */
static void pause_us(uint64_t max_us, uint64_t *rng)
{
	uint64_t us = weft_test_rand(rng) % (max_us + 1);
	if (us == 0)
		return;
	struct timespec ts = {0, (long)(us * 1000)};
	nanosleep(&ts, NULL);
}

static void *revoker_main(void *arg)
{
	struct pp *p = arg;
	uint64_t rng = 0xfeedfaceu;
	/* Acquire: pairs with the test's release store of done. */
	while (!atomic_load_explicit(&p->done, memory_order_acquire)) {
		/* Without a word of its own in the bucket, only the cases that use turn. */
		uint64_t pick = weft_test_rand(&rng) % 4;
		if (p->other == &p->turn && (pick == 1 || pick == 2))
			pick = 3;
		switch (pick) {
		case 0: /* a spurious wake of a parked player: it re-checks */
			weft_unpark(&p->turn, 1);
			break;
		case 1: /* a park on another word of the bucket that finds its value changed */
			CHECK_EQ(weft_park(p->other, 1, WEFT_NO_DEADLINE, NULL), 0);
			break;
		case 2: /* a short timed park on it: queued beside the players for a while */
			CHECK_EQ(weft_park(p->other, 0, weft_now_ns() + 20000, NULL), ETIMEDOUT);
			break;
		default:
			weft_lot_locked_call_(&p->turn, bump, &p->hits);
		}
		/* Mostly short gaps (a bias revoked young), now and then past a millisecond (a
		 * long-lived one, after which the next bias comes quickly). */
		pause_us(weft_test_rand(&rng) % 8 == 0 ? 2500 : 200, &rng);
	}
	return NULL;
}

/* A word of the same bucket as turn, other than turn (or turn itself if none is near). */
static _Atomic uint32_t *same_bucket_word(_Atomic uint32_t *turn, _Atomic uint32_t *pool, size_t n)
{
	unsigned want = weft_lot_bucket_index_(turn);
	for (size_t i = 0; i < n; i++)
		if (weft_lot_bucket_index_(&pool[i]) == want)
			return &pool[i];
	return turn;
}

static void pingpong_revoked(unsigned workers)
{
	static _Atomic uint32_t pool[4096]; /* 16 KiB of words: some share turn's bucket */
	struct pp *p = calloc(1, sizeof *p);
	CHECK(p != NULL);
	p->rounds = (uint32_t)weft_test_scale(2000000);
	p->other = same_bucket_word(&p->turn, pool, sizeof pool / sizeof pool[0]);
	weft_rt *rt = start_rt(workers, WEFT_SCHED_STEAL);
	uint64_t b0, r0, b1, r1;
	bias_counts(&b0, &r0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, revoker_main, p), 0);
	weft_wg_init(&p->wg);
	weft_wg_add(&p->wg, 2);
	struct player pl[2] = {{p, 0}, {p, 1}};
	for (int k = 0; k < 2; k++)
		CHECK_EQ(weft_go(rt, player_fn, &pl[k]), 0);
	weft_ctx *ctx = NULL;
	CHECK_EQ(weft_ctx_with_timeout(NULL, TEST_TIMEOUT_NS, &ctx), 0);
	CHECK_EQ(weft_wg_wait(&p->wg, ctx), 0); /* a lost wake-up fails here */
	weft_ctx_release(ctx);
	/* Release: pairs with the revoker's acquire load. */
	atomic_store_explicit(&p->done, true, memory_order_release);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(weft_rt_stop(rt), 0);
	bias_counts(&b1, &r1);
	/* Acquire: pairs with the players' release stores (the wait group orders them too). */
	CHECK_EQ(atomic_load_explicit(&p->turn, memory_order_acquire), 2 * p->rounds);
	if (bias_expected())
		CHECK(r1 > r0); /* the thread took a bias away at least once */
	printf("%u workers: %u rounds exact (same-bucket word %s); biased %llu, revoked %llu\n",
	       workers, p->rounds, p->other == &p->turn ? "none: turn itself" : "found",
	       (unsigned long long)(b1 - b0), (unsigned long long)(r1 - r0));
	free(p);
}

WEFT_STRESS(pingpong_revoked_by_thread_1)
{
	pingpong_revoked(1);
}

WEFT_STRESS(pingpong_revoked_by_thread_2)
{
	pingpong_revoked(2);
}

/* ---- a child after fork(2) revokes a bias of its parent's thread ---- */

static _Atomic uint32_t fork_word;
static uint64_t fork_hits;

static void *fork_biaser(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		weft_lot_locked_call_(&fork_word, bump, &fork_hits);
	return NULL;
}

static void fork_child(void)
{
	uint64_t b0, r0, b1, r1;
	bias_counts(&b0, &r0);
	/* The bucket is biased to a thread that does not exist here: revoke (membarrier in a
	 * process that may not have inherited the registration), then go in. */
	weft_lot_locked_call_(&fork_word, bump, &fork_hits);
	CHECK_EQ(weft_unpark(&fork_word, 1), 0);
	bias_counts(&b1, &r1);
	CHECK_EQ(fork_hits, 100001);
	if (bias_expected())
		CHECK_EQ(r1 - r0, 1);
	printf("child: revoked %llu\n", (unsigned long long)(r1 - r0));
}

WEFT_TEST(fork_child_revokes_parent_bias)
{
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, fork_biaser, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	char out[512];
	int status = weft_test_run_child(fork_child, out, sizeof out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "child status %#x, stderr:\n%s\n", status, out);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(fork_hits, 100000); /* the child's increment stayed in the child */
	printf("a child process revoked its parent thread's bias and went in\n");
}
