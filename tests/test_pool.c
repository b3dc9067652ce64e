/*
 * weft_pool: bad input, reuse, constructor/destructor balance, exactly-once ownership
 * under oversubscribed hand-off, the thread-exit flush, trim, ENOMEM paths, and the
 * debug/ASan misuse checks.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/alloc.h>
#include <weft/pool.h>
#include <weft/queue.h>

#include "alloc_cases.h"
#include "weft_test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TEST_ASAN)
#define TEST_ASAN 1
#endif

static weft_pool_config small_cfg(size_t size)
{
	weft_pool_config cfg;
	weft_pool_config_init(&cfg);
	cfg.size = size;
	return cfg;
}

WEFT_TEST(bad_input)
{
	weft_pool *p = NULL;
	weft_pool_config cfg = small_cfg(0);
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL); /* size 0 */
	cfg = small_cfg(16);
	cfg.align = 24;
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg.align = 0;
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg = small_cfg(16);
	cfg.magazine_size = 0;
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg = small_cfg(16);
	cfg.depot_limit = 0;
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg = small_cfg(16);
	cfg.max_caches = 0;
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg = small_cfg(SIZE_MAX - 8);
	CHECK_EQ(weft_pool_create(&p, &cfg), EINVAL);
	cfg = small_cfg(16);
	CHECK_EQ(weft_pool_create(NULL, &cfg), EINVAL);
	CHECK_EQ(weft_pool_create(&p, NULL), EINVAL);
	CHECK(p == NULL);

	errno = 0;
	CHECK(weft_pool_get(NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	weft_pool_put(NULL, &cfg); /* no-ops */
	weft_pool_trim(NULL);
	weft_pool_destroy(NULL);
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(NULL, &st), EINVAL);

	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	weft_pool_put(p, NULL); /* documented no-op */
	CHECK_EQ(weft_pool_stats_get(p, NULL), EINVAL);
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.puts, 0);
	weft_pool_destroy(p);
}

static _Atomic long ctor_calls, dtor_calls;

struct tagged {
	_Atomic uint32_t owner; /* 0 free; thread id + 1 while held; TRANSIT in a queue */
	uint32_t magic;
	char payload[56];
};
#define TRANSIT UINT32_MAX
#define MAGIC 0x5EA1ED

static int tagged_ctor(void *obj, void *user)
{
	(void)user;
	struct tagged *t = obj;
	atomic_init(&t->owner, 0);
	t->magic = MAGIC;
	atomic_fetch_add_explicit(&ctor_calls, 1, memory_order_relaxed);
	return 0;
}

static void tagged_dtor(void *obj, void *user)
{
	(void)user;
	struct tagged *t = obj;
	if (t->magic != MAGIC || atomic_load_explicit(&t->owner, memory_order_relaxed) != 0)
		abort(); /* a destroyed object must be constructed and unowned */
	t->magic = 0;
	atomic_fetch_add_explicit(&dtor_calls, 1, memory_order_relaxed);
}

WEFT_TEST(reuse_and_ctor_dtor_balance)
{
	atomic_store(&ctor_calls, 0);
	atomic_store(&dtor_calls, 0);
	weft_pool_config cfg = small_cfg(sizeof(struct tagged));
	cfg.ctor = tagged_ctor;
	cfg.dtor = tagged_dtor;
	cfg.magazine_size = 4;
	cfg.depot_limit = 2;
	cfg.align = 64;
	weft_pool *p;
	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	void *a = weft_pool_get(p);
	CHECK(a != NULL);
	CHECK_EQ((uintptr_t)a % 64, 0);
	weft_pool_put(p, a);
	void *b = weft_pool_get(p);
	CHECK(a == b); /* LIFO per thread: the cache returns what was just put */
	CHECK_EQ(atomic_load(&ctor_calls), 1); /* once per lifetime, not per get */
	weft_pool_put(p, b);

	enum { N = 100 };
	void *objs[N];
	for (int i = 0; i < N; i++) {
		objs[i] = weft_pool_get(p);
		CHECK(objs[i] != NULL);
		for (int j = 0; j < i; j++)
			CHECK(objs[i] != objs[j]);
	}
	for (int i = 0; i < N; i++)
		weft_pool_put(p, objs[i]);
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.created, N);
	CHECK_EQ(st.gets, N + 2);
	CHECK_EQ(st.puts, N + 2);
	/* 8 cached, 2 x 4 in the depot, the rest freed because the depot was full. */
	CHECK_EQ(st.depot_full, 2);
	CHECK_EQ(st.freed, N - 16);
	CHECK_EQ(atomic_load(&dtor_calls), N - 16);
	weft_pool_destroy(p);
	CHECK_EQ(atomic_load(&ctor_calls), N);
	CHECK_EQ(atomic_load(&dtor_calls), N);
}

/* The hot slot (release builds) and the magazine below it keep LIFO order, a NULL put
 * between real ones moves nothing, and stats stay exact across both. */
WEFT_TEST(lifo_and_null_puts)
{
	weft_pool_config cfg = small_cfg(32);
	cfg.magazine_size = 2;
	weft_pool *p;
	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	enum { N = 7 };
	void *objs[N];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			objs[i] = weft_pool_get(p);
			CHECK(objs[i] != NULL);
		}
		for (int i = 0; i < N; i++) {
			weft_pool_put(p, objs[i]);
			weft_pool_put(p, NULL);
		}
		for (int i = N - 1; i >= 0; i--)
			CHECK(weft_pool_get(p) == objs[i]); /* last put, first got */
		for (int i = 0; i < N; i++)
			weft_pool_put(p, objs[i]);
	}
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.gets, 3 * 2 * N);
	CHECK_EQ(st.puts, 3 * 2 * N);
	CHECK_EQ(st.created, N);
	weft_pool_destroy(p);
}

/* ---- exactly-once ownership under hand-off ---- */

enum { OWN_THREADS = 8, HELD_MAX = 16 };

struct own_ctx {
	weft_pool *pool;
	weft_queue *handoff;
	uint64_t ops;
	_Atomic long errors;
};

struct own_arg {
	struct own_ctx *ctx;
	uint32_t id;
};

static void own_fail(struct own_ctx *x, const char *what, uint32_t got)
{
	fprintf(stderr, "ownership violated: %s (tag %u)\n", what, got);
	atomic_fetch_add_explicit(&x->errors, 1, memory_order_relaxed);
}

/* Take ownership of t, which must be in state `from`. */
static void own_claim(struct own_ctx *x, struct tagged *t, uint32_t from, uint32_t me)
{
	uint32_t expect = from;
	/* acq_rel: a witness; the pool and the queue already order the object's contents. */
	if (!atomic_compare_exchange_strong_explicit(&t->owner, &expect, me,
						     memory_order_acq_rel, memory_order_acquire))
		own_fail(x, "claimed while held", expect);
	if (t->magic != MAGIC)
		own_fail(x, "unconstructed object", t->magic);
}

static void own_release(struct own_ctx *x, struct tagged *t, uint32_t to, uint32_t me)
{
	/* acq_rel: as in own_claim. */
	uint32_t was = atomic_exchange_explicit(&t->owner, to, memory_order_acq_rel);
	if (was != me)
		own_fail(x, "released by a non-holder", was);
}

static void *own_main(void *argp)
{
	struct own_arg *a = argp;
	struct own_ctx *x = a->ctx;
	uint32_t me = a->id + 1;
	uint64_t rng = 0x1234567ull * me;
	struct tagged *held[HELD_MAX];
	int n = 0;
	for (uint64_t i = 0; i < x->ops; i++) {
		unsigned op = (unsigned)(weft_test_rand(&rng) % 8);
		if (op < 3 && n < HELD_MAX) { /* get */
			struct tagged *t = weft_pool_get(x->pool);
			if (t == NULL) {
				own_fail(x, "get failed", 0);
				continue;
			}
			own_claim(x, t, 0, me);
			held[n++] = t;
		} else if (op < 5 && n > 0) { /* put one back */
			struct tagged *t = held[--n];
			t->payload[0]++; /* a plain write while held: TSan checks the ordering */
			own_release(x, t, 0, me);
			weft_pool_put(x->pool, t);
		} else if (op < 7 && n > 0) { /* hand off to whoever pops it */
			struct tagged *t = held[n - 1];
			own_release(x, t, TRANSIT, me);
			if (weft_queue_push(x->handoff, t) == 0) {
				n--;
			} else {
				own_claim(x, t, TRANSIT, me);
			}
		} else if (n < HELD_MAX) { /* receive a hand-off */
			void *item;
			if (weft_queue_pop(x->handoff, &item) == 0) {
				struct tagged *t = item;
				own_claim(x, t, TRANSIT, me);
				t->payload[1]++;
				held[n++] = t;
			}
		}
		weft_test_maybe_yield(&rng, 64);
	}
	while (n > 0) {
		struct tagged *t = held[--n];
		own_release(x, t, 0, me);
		weft_pool_put(x->pool, t);
	}
	return NULL;
}

static void ownership_run(size_t magazine, size_t depot, size_t caches)
{
	atomic_store(&ctor_calls, 0);
	atomic_store(&dtor_calls, 0);
	weft_pool_config cfg = small_cfg(sizeof(struct tagged));
	cfg.ctor = tagged_ctor;
	cfg.dtor = tagged_dtor;
	cfg.magazine_size = magazine;
	cfg.depot_limit = depot;
	cfg.max_caches = caches;
	struct own_ctx x = { .ops = weft_test_scale(200000) };
	atomic_init(&x.errors, 0);
	CHECK_EQ(weft_pool_create(&x.pool, &cfg), 0);
	CHECK_EQ(weft_queue_create(&x.handoff, WEFT_QUEUE_MPMC, 64), 0);
	struct own_arg args[OWN_THREADS];
	void *argv[OWN_THREADS];
	for (uint32_t i = 0; i < OWN_THREADS; i++) {
		args[i] = (struct own_arg){ &x, i };
		argv[i] = &args[i];
	}
	weft_test_run_threads(OWN_THREADS, own_main, argv);
	void *item;
	long drained = 0;
	while (weft_queue_pop(x.handoff, &item) == 0) {
		struct tagged *t = item;
		own_claim(&x, t, TRANSIT, 99);
		own_release(&x, t, 0, 99);
		weft_pool_put(x.pool, t);
		drained++;
	}
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(x.pool, &st), 0);
	printf("magazine %zu depot %zu caches %zu: %llu gets, %llu created, %llu freed, "
	       "%llu depot trips, %ld drained from hand-off\n", magazine, depot, caches,
	       (unsigned long long)st.gets, (unsigned long long)st.created,
	       (unsigned long long)st.freed, (unsigned long long)st.depot_exchanges, drained);
	CHECK_EQ(st.gets, st.puts);
	CHECK_EQ(st.misuse, 0);
	CHECK(st.created < st.gets); /* objects were reused */
	weft_queue_destroy(x.handoff);
	weft_pool_destroy(x.pool);
	CHECK_EQ(atomic_load(&x.errors), 0);
	CHECK_EQ(atomic_load(&ctor_calls), atomic_load(&dtor_calls));
}

WEFT_STRESS(ownership_exactly_once)
{
	/* Small magazines and depot: constant trips to the depot, frees on a full depot;
	 * 4 caches for 8 threads: half of them take the shared path. */
	ownership_run(4, 2, 4);
	ownership_run(32, 64, 64);
}

/* ---- thread exit ---- */

static weft_pool *exit_pool;

static void *exit_main(void *arg)
{
	(void)arg;
	void *objs[40];
	for (int i = 0; i < 40; i++)
		objs[i] = weft_pool_get(exit_pool);
	for (int i = 0; i < 40; i++)
		weft_pool_put(exit_pool, objs[i]);
	return NULL; /* the cache holds 2 magazines of 8 objects; exit flushes them */
}

WEFT_TEST(thread_exit_flushes_cache)
{
	weft_pool_config cfg = small_cfg(32);
	cfg.magazine_size = 8;
	cfg.depot_limit = 1000;
	CHECK_EQ(weft_pool_create(&exit_pool, &cfg), 0);
	weft_pool_stats st;
	for (int round = 0; round < 4; round++) {
		pthread_t t;
		CHECK_EQ(pthread_create(&t, NULL, exit_main, NULL), 0);
		CHECK_EQ(pthread_join(t, NULL), 0);
		CHECK_EQ(weft_pool_stats_get(exit_pool, &st), 0);
		/* All 40 objects are in the depot: 5 full magazines. */
		CHECK_EQ(st.depot_full, 5);
	}
	CHECK_EQ(st.created, 40); /* later threads reused the first one's objects */
	weft_pool_trim(exit_pool);
	CHECK_EQ(weft_pool_stats_get(exit_pool, &st), 0);
	CHECK_EQ(st.freed, 40);
	CHECK_EQ(st.depot_full, 0);
	weft_pool_destroy(exit_pool);
}

/* ---- trim ---- */

static long resident_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return -1;
	long size = 0, res = -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

WEFT_TEST(trim_returns_memory)
{
	enum { OBJ = 4096, COUNT = 16384 }; /* 64 MiB */
	weft_pool_config cfg = small_cfg(OBJ);
	cfg.magazine_size = 64;
	cfg.depot_limit = COUNT / 64;
	weft_pool *p;
	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	void **objs = malloc(COUNT * sizeof(void *));
	CHECK(objs != NULL);
	long before = resident_kib();
	for (int i = 0; i < COUNT; i++) {
		objs[i] = weft_pool_get(p);
		CHECK(objs[i] != NULL);
		memset(objs[i], i, OBJ);
	}
	for (int i = 0; i < COUNT; i++)
		weft_pool_put(p, objs[i]);
	long cached = resident_kib();
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.freed, 0); /* all kept: the depot had room */
	weft_pool_trim(p);
	long trimmed = resident_kib();
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.freed, COUNT);
	CHECK_EQ(st.depot_full + st.depot_empty, 0);
	printf("resident: %ld KiB before, %ld KiB with 64 MiB cached, %ld KiB after trim\n",
	       before, cached, trimmed);
	if (weft_test_sanitized()) {
		/* The sanitizers' allocators keep freed memory (ASan's quarantine): the stats
		 * above are the check there. */
		printf("sanitized build: resident size not checked\n");
	} else if (before >= 0 && cached >= 0 && trimmed >= 0) {
		long grown = cached - before;
		if (grown < 32 * 1024 || trimmed > before + grown / 2)
			printf("resident size did not drop by half of the 64 MiB cached\n");
		CHECK(grown >= 32 * 1024);
		CHECK(trimmed <= before + grown / 2);
	}
	free(objs);
	weft_pool_destroy(p);
}

/* ---- ENOMEM ---- */

/* True when the whole scenario ran without meeting the failure. */
static bool enomem_scenario(void)
{
	bool failed = false;
	weft_pool_config cfg = small_cfg(sizeof(struct tagged));
	cfg.ctor = tagged_ctor;
	cfg.dtor = tagged_dtor;
	cfg.magazine_size = 2;
	cfg.depot_limit = 2;
	weft_pool *p;
	int err = weft_pool_create(&p, &cfg);
	if (err != 0) {
		CHECK_EQ(err, ENOMEM);
		return false;
	}
	enum { N = 12 };
	void *objs[N];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			errno = 0;
			objs[i] = weft_pool_get(p);
			if (objs[i] == NULL) {
				CHECK_EQ(errno, ENOMEM);
				failed = true;
			}
		}
		for (int i = 0; i < N; i++)
			weft_pool_put(p, objs[i]); /* NULL for the failed one: a no-op */
	}
	weft_pool_trim(p);
	weft_pool_destroy(p);
	return !failed;
}

WEFT_TEST(enomem_leaks_nothing)
{
	CHECK_EQ(weft_allocator_set(&test_allocator), 0);
	long n;
	for (n = 1; n < 1000; n++) {
		atomic_store(&ctor_calls, 0);
		atomic_store(&dtor_calls, 0);
		test_alloc_fail_after(n - 1);
		bool done = enomem_scenario();
		CHECK_EQ(test_alloc_live(), 0);
		CHECK_EQ(atomic_load(&ctor_calls), atomic_load(&dtor_calls));
		if (done && test_alloc_seen() < n)
			break;
	}
	CHECK_EQ(weft_allocator_set(NULL), 0);
	printf("failed each of the first %ld allocations in turn; nothing leaked\n", n - 1);
	CHECK(n < 1000);
}

static int failing_ctor(void *obj, void *user)
{
	(void)obj;
	return atomic_fetch_add((_Atomic int *)user, 1) == 1 ? EIO : 0;
}

WEFT_TEST(ctor_error_fails_get)
{
	_Atomic int calls = 0;
	weft_pool_config cfg = small_cfg(64);
	cfg.ctor = failing_ctor;
	cfg.user = (void *)&calls;
	weft_pool *p;
	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	void *a = weft_pool_get(p);
	CHECK(a != NULL);
	errno = 0;
	CHECK(weft_pool_get(p) == NULL);
	CHECK_EQ(errno, EIO);
	void *b = weft_pool_get(p);
	CHECK(b != NULL);
	weft_pool_put(p, a);
	weft_pool_put(p, b);
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.created, 2);
	weft_pool_destroy(p);
}

/* ---- misuse ---- */

WEFT_TEST(debug_catches_double_and_wrong_pool_put)
{
#if defined(WEFT_DEBUG_CHECKS)
	weft_pool_config cfg = small_cfg(48);
	weft_pool *p, *q;
	CHECK_EQ(weft_pool_create(&p, &cfg), 0);
	CHECK_EQ(weft_pool_create(&q, &cfg), 0);
	void *a = weft_pool_get(p);
	void *b = weft_pool_get(q);
	CHECK(a != NULL && b != NULL);
	weft_pool_put(p, a);
	weft_pool_put(p, a); /* double put: reported and ignored */
	weft_pool_put(p, b); /* wrong pool: reported and ignored */
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(p, &st), 0);
	CHECK_EQ(st.misuse, 2);
	CHECK_EQ(st.puts, 1);
	void *x = weft_pool_get(p);
	void *y = weft_pool_get(p);
	CHECK(x == a);
	CHECK(y != a); /* the double put did not put a in twice */
	weft_pool_put(p, x);
	weft_pool_put(p, y);
	weft_pool_put(q, b);
	weft_pool_destroy(p);
	weft_pool_destroy(q);
#else
	printf("not a WEFT_DEBUG_CHECKS build: skipped\n");
#endif
}

WEFT_TEST(asan_reports_use_after_put)
{
#if defined(TEST_ASAN)
	int fds[2];
	CHECK_EQ(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		weft_pool_config cfg = small_cfg(64);
		weft_pool *p;
		if (weft_pool_create(&p, &cfg) != 0)
			_exit(3);
		volatile char *obj = weft_pool_get(p);
		obj[0] = 1;
		weft_pool_put(p, (void *)obj);
		obj[8] = 2; /* use after put: ASan must stop here */
		_exit(0);
	}
	close(fds[1]);
	char buf[8192];
	size_t len = 0;
	ssize_t r;
	while ((r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	close(fds[0]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
	CHECK(strstr(buf, "use-after-poison") != NULL);
	printf("child stopped by ASan with use-after-poison, as it should\n");
#else
	printf("not an ASan build: skipped\n");
#endif
}

/* ---- plain objects (no ctor/dtor: poison-filled while cached in debug builds) ---- */

struct plain_ctx {
	weft_pool *pool;
	weft_queue *handoff;
	uint64_t ops;
	_Atomic long errors;
};

static void *plain_main(void *argp)
{
	struct plain_ctx *x = argp;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t i = 0; i < x->ops; i++) {
		unsigned char *o = weft_pool_get(x->pool);
		if (o == NULL) {
			atomic_fetch_add(&x->errors, 1);
			continue;
		}
		unsigned char v = (unsigned char)weft_test_rand(&rng);
		memset(o, v, 96); /* the whole object, while held */
		if (weft_test_rand(&rng) % 2 == 0 && weft_queue_push(x->handoff, o) == 0)
			o = NULL;
		else if (o[95] != v)
			atomic_fetch_add(&x->errors, 1);
		if (o != NULL)
			weft_pool_put(x->pool, o);
		void *item;
		if (weft_queue_pop(x->handoff, &item) == 0) {
			unsigned char *h = item;
			for (int b = 1; b < 96; b++)
				if (h[b] != h[0]) {
					atomic_fetch_add(&x->errors, 1);
					break;
				}
			weft_pool_put(x->pool, h);
		}
		weft_test_maybe_yield(&rng, 64);
	}
	return NULL;
}

WEFT_STRESS(plain_objects_across_threads)
{
	weft_pool_config cfg = small_cfg(96);
	cfg.magazine_size = 8;
	cfg.depot_limit = 4;
	struct plain_ctx x = { .ops = weft_test_scale(30000) };
	atomic_init(&x.errors, 0);
	CHECK_EQ(weft_pool_create(&x.pool, &cfg), 0);
	CHECK_EQ(weft_queue_create(&x.handoff, WEFT_QUEUE_MPMC, 64), 0);
	void *argv[OWN_THREADS];
	for (int i = 0; i < OWN_THREADS; i++)
		argv[i] = &x;
	weft_test_run_threads(OWN_THREADS, plain_main, argv);
	void *item;
	while (weft_queue_pop(x.handoff, &item) == 0)
		weft_pool_put(x.pool, item);
	weft_pool_stats st;
	CHECK_EQ(weft_pool_stats_get(x.pool, &st), 0);
	printf("%llu gets, %llu created, %llu misuse reports\n", (unsigned long long)st.gets,
	       (unsigned long long)st.created, (unsigned long long)st.misuse);
	CHECK_EQ(st.misuse, 0); /* no false write-after-put report */
	CHECK_EQ(st.gets, st.puts);
	CHECK_EQ(atomic_load(&x.errors), 0);
	weft_queue_destroy(x.handoff);
	weft_pool_destroy(x.pool);
}
