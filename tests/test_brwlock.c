/* weft_brwlock: exclusion (in-lock witness), writer progress, try-locks, cancellation. */
#include <errno.h>
#include <pthread.h>

#include <weft/alloc.h>
#include <weft/brwlock.h>
#include <weft/ctx.h>

#include "rw_cases.h"
#include "weft_test.h"

static int rd(void *l, weft_ctx *c) { return weft_brwlock_rdlock(l, c); }
static int rdun(void *l) { return weft_brwlock_rdunlock(l); }
static int wr(void *l, weft_ctx *c) { return weft_brwlock_wrlock(l, c); }
static int wrun(void *l) { return weft_brwlock_wrunlock(l); }
static int tryrd(void *l) { return weft_brwlock_tryrdlock(l); }
static int trywr(void *l) { return weft_brwlock_trywrlock(l); }

static bool writer_waiting(void *l)
{
	weft_brwlock *b = l;
	return (atomic_load(&b->wflag) & WEFT_BRWLOCK_WRITER_) != 0;
}

static bool readers_parked(void *l)
{
	weft_brwlock *b = l;
	return (atomic_load(&b->wflag) & WEFT_BRWLOCK_WAIT_) != 0;
}

static struct rw_ops make_ops(void)
{
	weft_brwlock *l;
	CHECK_EQ(weft_brwlock_create(&l), 0);
	return (struct rw_ops){
		.lock = l, .rdlock = rd, .rdunlock = rdun, .wrlock = wr, .wrunlock = wrun,
		.tryrdlock = tryrd, .trywrlock = trywr, .writer_waiting = writer_waiting,
		.readers_parked = readers_parked,
	};
}

/* Idle: no writer flag, no reader and no sleep hint in any slot; then destroy. */
static void check_idle_destroy(struct rw_ops *o)
{
	weft_brwlock *b = o->lock;
	CHECK_EQ(atomic_load(&b->wflag), 0);
	for (uint32_t k = 1; k <= b->nslots; k++) /* own slots, then the shared one */
		CHECK_EQ(atomic_load(weft_brwlock_line_(b, k)) &
				 (WEFT_BRWLOCK_COUNT_ | WEFT_BRWLOCK_SLEEP_), 0);
	weft_brwlock_destroy(b);
}

WEFT_TEST(bad_input)
{
	CHECK_EQ(weft_brwlock_create(NULL), EINVAL);
	weft_brwlock_destroy(NULL);
	CHECK_EQ(weft_brwlock_rdlock(NULL, NULL), EINVAL);
	CHECK_EQ(weft_brwlock_wrlock(NULL, NULL), EINVAL);
	CHECK_EQ(weft_brwlock_tryrdlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_trywrlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_rdunlock(NULL), EINVAL);
	CHECK_EQ(weft_brwlock_wrunlock(NULL), EINVAL);
}

struct fail_alloc {
	int calls;
};

static void *failing_alloc(size_t size, size_t align, void *user)
{
	(void)size;
	(void)align;
	((struct fail_alloc *)user)->calls++;
	return NULL;
}

static void never_free(void *p, void *user)
{
	(void)p;
	(void)user;
}

WEFT_TEST(create_enomem)
{
	struct fail_alloc f = { 0 };
	weft_allocator a = { failing_alloc, never_free, &f };
	CHECK_EQ(weft_allocator_set(&a), 0);
	weft_brwlock *l = (weft_brwlock *)&f;
	int r = weft_brwlock_create(&l);
	CHECK_EQ(weft_allocator_set(NULL), 0);
	CHECK_EQ(r, ENOMEM);
	CHECK_EQ(f.calls, 1);
	CHECK(l == (weft_brwlock *)&f); /* untouched on failure */
}

WEFT_TEST(nested_read)
{
	struct rw_ops o = make_ops();
	CHECK_EQ(weft_brwlock_rdlock(o.lock, NULL), 0);
	CHECK_EQ(weft_brwlock_rdlock(o.lock, NULL), 0);
	CHECK_EQ(weft_brwlock_tryrdlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), EBUSY);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), EBUSY);
	CHECK_EQ(weft_brwlock_rdunlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_trywrlock(o.lock), 0);
	CHECK_EQ(weft_brwlock_wrunlock(o.lock), 0);
	check_idle_destroy(&o);
}

WEFT_TEST(trylock)
{
	struct rw_ops o = make_ops();
	rw_case_trylock(&o);
	check_idle_destroy(&o);
}

WEFT_STRESS(witness_8_threads)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 8, weft_test_scale(200000), 100, 0);
	check_idle_destroy(&o);
}

WEFT_STRESS(witness_16_threads_write_heavy)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 16, weft_test_scale(50000), 3, 0);
	check_idle_destroy(&o);
}

/* More live threads than slots: the ones beyond read through the underlying lock. */
struct crowd {
	struct rw_witness *w;
	pthread_barrier_t *all_alive;
	uint64_t seed;
};

static void *crowd_main(void *arg)
{
	struct crowd *c = arg;
	(void)weft_thread_index(); /* take an index while every other thread holds one */
	pthread_barrier_wait(c->all_alive);
	struct rw_worker me = { c->w, c->seed };
	rw_witness_main(&me);
	pthread_barrier_wait(c->all_alive); /* keep the indices until all are done */
	return NULL;
}

WEFT_STRESS(witness_beyond_slots)
{
	struct rw_ops o = make_ops();
	weft_brwlock *b = o.lock;
	unsigned n = b->nslots + 8;
	struct rw_witness w = { .ops = &o, .iters = weft_test_scale(3000), .write_one_in = 20,
				.timeout_one_in = 4 };
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, n);
	struct crowd *cs = calloc(n, sizeof(*cs));
	pthread_t *th = calloc(n, sizeof(*th));
	CHECK(cs != NULL && th != NULL);
	for (unsigned i = 0; i < n; i++) {
		cs[i] = (struct crowd){ &w, &bar, 77 * (i + 1) };
		CHECK_EQ(pthread_create(&th[i], NULL, crowd_main, &cs[i]), 0);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	free(cs);
	free(th);
	CHECK_EQ(w.a, w.writes);
	printf("%u threads over %u slots: %llu reads, %llu writes\n", n, b->nslots,
	       (unsigned long long)atomic_load(&w.reads_done), (unsigned long long)w.writes);
	check_idle_destroy(&o);
}

/* Give-ups (short deadlines) racing wake-ups and hand-overs: nothing lost, nothing broken. */
WEFT_STRESS(witness_with_timeouts)
{
	struct rw_ops o = make_ops();
	rw_case_witness(&o, 8, weft_test_scale(100000), 5, 3);
	check_idle_destroy(&o);
}

WEFT_STRESS(writer_not_starved)
{
	struct rw_ops o = make_ops();
	rw_case_writer_not_starved(&o, 4);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_rdlock)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_rdlock(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_wrlock_lets_readers_in)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_wrlock(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(cancel_one_of_two_writers)
{
	struct rw_ops o = make_ops();
	rw_case_cancel_one_of_two_writers(&o);
	check_idle_destroy(&o);
}

WEFT_TEST(deadline)
{
	struct rw_ops o = make_ops();
	rw_case_deadline(&o);
	check_idle_destroy(&o);
}
