/* Hazard pointers: protection holds, retired nodes get freed, and the bound is kept. */
#define WEFT_DEBUG_CHECKS 1 /* WEFT_HAZARD_ASSERT_NONE_HELD is live in this file */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/alloc.h>
#include <weft/hazard.h>

#include "sync/hazard_internal.h"
#include "weft_test.h"

static _Atomic uint64_t freed_count;

static void count_free(void *p)
{
	atomic_fetch_add_explicit(&freed_count, 1, memory_order_relaxed);
	free(p);
}

WEFT_TEST(bad_input)
{
	CHECK_EQ(weft_hazard_domain_create(NULL), EINVAL);
	CHECK_EQ(weft_hazard_retire(NULL, NULL, free), EINVAL);
	int x;
	CHECK_EQ(weft_hazard_retire(NULL, &x, NULL), EINVAL);
	weft_hazard_obj o;
	CHECK_EQ(weft_hazard_retire_obj(NULL, NULL, &x, free), EINVAL);
	CHECK_EQ(weft_hazard_retire_obj(NULL, &o, NULL, free), EINVAL);
	weft_hazard_domain_destroy(NULL);
	weft_hazard_domain_destroy(weft_hazard_domain_default()); /* ignored */
}

WEFT_TEST(protect_scan_free)
{
	weft_hazard_domain *d;
	CHECK_EQ(weft_hazard_domain_create(&d), 0);
	weft_hazard_rec *rec = weft_hazard_rec_get(d);
	CHECK(rec != NULL);
	CHECK(weft_hazard_rec_get(d) == rec);
	CHECK(!weft_hazard_thread_holds_any());
	int *a = malloc(sizeof(int)), *b = malloc(sizeof(int));
	void *_Atomic src = a;
	CHECK(weft_hazard_protect(rec, 1, &src) == a);
	CHECK(weft_hazard_thread_holds_any());
	atomic_store(&src, b);
	uint64_t f0 = atomic_load(&freed_count);
	CHECK_EQ(weft_hazard_retire(d, a, count_free), 0);
	weft_hazard_scan(d);
	CHECK_EQ(atomic_load(&freed_count), f0); /* a is protected */
	weft_hazard_clear(rec, 1);
	CHECK(!weft_hazard_thread_holds_any());
	weft_hazard_scan(d);
	CHECK_EQ(atomic_load(&freed_count), f0 + 1);
	/* Destroy frees what is still retired. */
	CHECK_EQ(weft_hazard_retire(d, b, count_free), 0);
	weft_hazard_domain_destroy(d);
	CHECK_EQ(atomic_load(&freed_count), f0 + 2);
	/* The default domain works the same. */
	weft_hazard_rec *dr = weft_hazard_rec_get(NULL);
	CHECK(dr != NULL && dr == weft_hazard_rec_get(weft_hazard_domain_default()));
	void *_Atomic nsrc = NULL;
	CHECK(weft_hazard_protect(dr, 0, &nsrc) == NULL);
	printf("membarrier: %s\n",
	       weft_hazard_uses_membarrier_() ? "yes" : "no (fence per protect)");
}

static void *failing_alloc(size_t size, size_t align, void *user)
{
	(void)size, (void)align, (void)user;
	return NULL;
}

static void plain_free(void *p, void *user)
{
	(void)user;
	free(p);
}

WEFT_TEST(retire_enomem_keeps_ptr)
{
	CHECK(weft_hazard_rec_get(NULL) != NULL);
	weft_allocator fa = {failing_alloc, plain_free, NULL};
	int *p = malloc(sizeof(int));
	*p = 7;
	uint64_t f0 = atomic_load(&freed_count);
	CHECK_EQ(weft_allocator_set(&fa), 0);
	int err = weft_hazard_retire(NULL, p, count_free);
	weft_allocator_set(NULL);
	CHECK_EQ(err, ENOMEM);
	CHECK_EQ(*p, 7); /* still ours */
	CHECK_EQ(atomic_load(&freed_count), f0);
	free(p);
	/* A thread with no record and no memory for one gets ENOMEM from retire_obj too. */
	weft_hazard_domain *d;
	CHECK_EQ(weft_hazard_domain_create(&d), 0);
	CHECK_EQ(weft_allocator_set(&fa), 0);
	weft_hazard_obj o;
	int x;
	err = weft_hazard_retire_obj(d, &o, &x, count_free);
	CHECK(weft_hazard_rec_get(d) == NULL);
	weft_allocator_set(NULL);
	CHECK_EQ(err, ENOMEM);
	weft_hazard_domain_destroy(d);
}

/* Records are given back at thread exit and reused: waves of threads, bounded R. */
static void *use_domain(void *arg)
{
	weft_hazard_domain *d = arg;
	weft_hazard_rec *rec = weft_hazard_rec_get(d);
	CHECK(rec != NULL);
	void *_Atomic src = &src;
	CHECK(weft_hazard_protect(rec, 0, &src) == &src);
	weft_hazard_clear(rec, 0);
	int *p = malloc(sizeof(int));
	CHECK_EQ(weft_hazard_retire(d, p, count_free), 0);
	return NULL;
}

WEFT_TEST(records_reused_after_exit)
{
	weft_hazard_domain *d;
	CHECK_EQ(weft_hazard_domain_create(&d), 0);
	for (int wave = 0; wave < 10; wave++) {
		void *args[8];
		for (int i = 0; i < 8; i++)
			args[i] = d;
		weft_test_run_threads(8, use_domain, args);
	}
	struct weft_hazard_stats s;
	weft_hazard_stats_get_(d, &s);
	CHECK(s.records <= 8);
	CHECK_EQ(s.unreclaimed, 0); /* each exiting thread scanned its list */
	printf("80 threads in waves of 8 used %zu records\n", s.records);
	weft_hazard_domain_destroy(d);
}

/*
 * The stress: a list of LIST_LEN nodes; writers (serialised by a mutex) replace random
 * nodes with copies and retire the old ones; readers traverse hand over hand with two
 * slots and check every node they reach is live and consistent. A replaced node's next is
 * set to RESTART so that a reader standing on it restarts from the head (the list's
 * validation rule: "prev->next still points to cur" then implies cur is linked).
 */
#define LIST_LEN 16
#define LIVE	 0x11fe11feu
#define DEAD	 0xdeadbeefu

struct lnode {
	void *_Atomic next;
	unsigned magic;
	unsigned index;
	uint64_t a, b; /* a + b == index, always */
	weft_hazard_obj hobj;
};

static struct lnode restart_marker;
#define RESTART ((void *)&restart_marker)

struct list_stress {
	void *_Atomic head;
	pthread_mutex_t wlock;
	_Atomic int stop;
	_Atomic uint64_t retired;
	_Atomic uint64_t reads;
	_Atomic uint64_t bound_checks;
	uint64_t writes_each;
	unsigned writers_left_init;
	_Atomic unsigned writers_left;
};

static void lnode_free(void *p)
{
	struct lnode *n = p;
	n->magic = DEAD;
	atomic_fetch_add_explicit(&freed_count, 1, memory_order_relaxed);
	free(n);
}

static struct lnode *lnode_new(unsigned index, uint64_t a)
{
	struct lnode *n = malloc(sizeof(*n));
	CHECK(n != NULL);
	n->magic = LIVE;
	n->index = index;
	n->a = a;
	n->b = index - a;
	atomic_init(&n->next, NULL);
	return n;
}

static void check_bound(void)
{
	struct weft_hazard_stats s;
	weft_hazard_stats_get_(NULL, &s);
	size_t per = weft_hazard_bound_per_record(NULL);
	if (s.max_list > per || s.unreclaimed > s.records * per) {
		char msg[160];
		snprintf(msg, sizeof msg, "max_list %zu unreclaimed %zu records %zu bound %zu",
			 s.max_list, s.unreclaimed, s.records, per);
		weft_test_fail(__FILE__, __LINE__, "bound", msg);
	}
}

static void *list_reader(void *arg)
{
	struct list_stress *st = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng, reads = 0;
	weft_hazard_rec *rec = weft_hazard_rec_get(NULL);
	CHECK(rec != NULL);
	while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
	restart:;
		void *_Atomic *src = &st->head;
		unsigned slot = 0, pos = 0;
		for (;;) {
			struct lnode *n = weft_hazard_protect(rec, slot, src);
			if (n == RESTART)
				goto restart;
			if (n == NULL)
				break;
			/* Validated through src, which the other slot still protects. */
			if (n->magic != LIVE || n->index != pos || n->a + n->b != pos) {
				char msg[96];
				snprintf(msg, sizeof msg, "node magic %x index %u pos %u", n->magic,
					 n->index, pos);
				weft_test_fail(__FILE__, __LINE__, "live node", msg);
			}
			weft_test_maybe_yield(&rng, 64);
			src = &n->next;
			slot ^= 1;
			pos++;
		}
		CHECK_EQ(pos, LIST_LEN);
		weft_hazard_clear_all(rec);
		reads++;
	}
	weft_hazard_clear_all(rec);
	CHECK(!weft_hazard_thread_holds_any());
	atomic_fetch_add(&st->reads, reads);
	return NULL;
}

static void *list_writer(void *arg)
{
	struct list_stress *st = arg;
	uint64_t rng = (uint64_t)(uintptr_t)&rng;
	for (uint64_t i = 0; i < st->writes_each; i++) {
		unsigned idx = (unsigned)(weft_test_rand(&rng) % LIST_LEN);
		pthread_mutex_lock(&st->wlock);
		void *_Atomic *link = &st->head;
		struct lnode *old = atomic_load_explicit(link, memory_order_relaxed);
		for (unsigned k = 0; k < idx; k++) {
			link = &old->next;
			old = atomic_load_explicit(link, memory_order_relaxed);
		}
		struct lnode *n = lnode_new(idx, weft_test_rand(&rng) % (idx + 1));
		atomic_init(&n->next, atomic_load_explicit(&old->next, memory_order_relaxed));
		/* Release: pairs with protect's acquire load; n's fields are visible. */
		atomic_store_explicit(link, n, memory_order_release);
		/* Readers standing on old restart (see the comment above the stress). */
		atomic_store_explicit(&old->next, RESTART, memory_order_release);
		pthread_mutex_unlock(&st->wlock);
		CHECK_EQ(weft_hazard_retire_obj(NULL, &old->hobj, old, lnode_free), 0);
		atomic_fetch_add_explicit(&st->retired, 1, memory_order_relaxed);
		if (i % 64 == 0) {
			check_bound();
			atomic_fetch_add_explicit(&st->bound_checks, 1, memory_order_relaxed);
		}
		weft_test_maybe_yield(&rng, 32);
	}
	if (atomic_fetch_sub(&st->writers_left, 1) == 1)
		atomic_store(&st->stop, 1);
	return NULL;
}

static void list_stress_run(unsigned readers, unsigned writers)
{
	static struct list_stress st;
	memset(&st, 0, sizeof st);
	pthread_mutex_init(&st.wlock, NULL);
	st.writes_each = weft_test_scale(1000000) / writers + 1;
	atomic_store(&st.writers_left, writers);
	struct lnode *prev = NULL;
	for (unsigned i = LIST_LEN; i-- > 0;) {
		struct lnode *n = lnode_new(i, 0);
		atomic_init(&n->next, prev);
		prev = n;
	}
	atomic_store(&st.head, prev);
	uint64_t f0 = atomic_load(&freed_count);

	unsigned n = readers + writers;
	void **args = calloc(n, sizeof(*args));
	pthread_t *t = calloc(n, sizeof(*t));
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, i < readers ? list_reader : list_writer, &st),
			 0);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	check_bound();

	struct weft_hazard_stats s;
	weft_hazard_stats_get_(NULL, &s);
	uint64_t freed = atomic_load(&freed_count) - f0, retired = atomic_load(&st.retired);
	printf("%u readers, %u writers: %llu traversals, %llu retired, %llu freed during the run, "
	       "%zu unreclaimed, max list %zu (bound %zu), %llu bound checks, %zu records\n",
	       readers, writers, (unsigned long long)atomic_load(&st.reads),
	       (unsigned long long)retired, (unsigned long long)freed, s.unreclaimed, s.max_list,
	       weft_hazard_bound_per_record(NULL),
	       (unsigned long long)atomic_load(&st.bound_checks), s.records);
	CHECK(freed > 0);
	CHECK(freed <= retired);
	/* Threads gave their records back; this thread's own record may still hold some. */
	CHECK_EQ(s.unreclaimed, retired - freed);
	/* Nothing is protected any more: one domain-wide scan frees the rest. */
	weft_hazard_domain_scan(NULL);
	weft_hazard_stats_get_(NULL, &s);
	CHECK_EQ(s.unreclaimed, 0);
	CHECK_EQ(atomic_load(&freed_count) - f0, retired);
	for (struct lnode *c = atomic_load(&st.head), *next; c != NULL; c = next) {
		next = atomic_load(&c->next);
		free(c);
	}
	free(args);
	free(t);
}

WEFT_STRESS(stress_list_membarrier)
{
	list_stress_run(12, 4);
}

WEFT_STRESS(stress_list_fence_fallback)
{
	setenv("WEFT_HAZARD_NO_MEMBARRIER", "1", 1);
	CHECK(!weft_hazard_uses_membarrier_());
	list_stress_run(8, 8);
}

/* Many slots protecting many retired nodes: survivors are kept, then all freed. */
WEFT_TEST(survivors_kept_until_cleared)
{
	weft_hazard_rec *rec = weft_hazard_rec_get(NULL);
	void *_Atomic src[WEFT_HAZARD_SLOTS];
	int *keep[WEFT_HAZARD_SLOTS];
	uint64_t f0 = atomic_load(&freed_count);
	for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++) {
		keep[i] = malloc(sizeof(int));
		*keep[i] = (int)i;
		atomic_init(&src[i], keep[i]);
		CHECK(weft_hazard_protect(rec, i, &src[i]) == keep[i]);
		CHECK_EQ(weft_hazard_retire(NULL, keep[i], count_free), 0);
	}
	for (int i = 0; i < 5000; i++)
		CHECK_EQ(weft_hazard_retire(NULL, malloc(16), count_free), 0);
	weft_hazard_scan(NULL);
	CHECK_EQ(atomic_load(&freed_count) - f0, 5000);
	for (unsigned i = 0; i < WEFT_HAZARD_SLOTS; i++)
		CHECK_EQ(*keep[i], (int)i);
	weft_hazard_clear_all(rec);
	weft_hazard_scan(NULL);
	CHECK_EQ(atomic_load(&freed_count) - f0, 5000 + WEFT_HAZARD_SLOTS);
}

/* The fiber rule's debug check: holding a slot (any domain) at a switch point aborts. */
WEFT_TEST(assert_none_held)
{
	weft_hazard_domain *d;
	CHECK_EQ(weft_hazard_domain_create(&d), 0);
	weft_hazard_rec *rec = weft_hazard_rec_get(d);
	void *_Atomic src = &src;
	WEFT_HAZARD_ASSERT_NONE_HELD(); /* nothing held: passes */
	CHECK(weft_hazard_protect(rec, 3, &src) == &src);
	CHECK(weft_hazard_thread_holds_any()); /* found through the private domain */
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(2); /* keep the expected message out of the log */
		WEFT_HAZARD_ASSERT_NONE_HELD();
		_exit(0);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	weft_hazard_clear(rec, 3);
	CHECK(!weft_hazard_thread_holds_any());
	WEFT_HAZARD_ASSERT_NONE_HELD();
	weft_hazard_domain_destroy(d);
	CHECK(!weft_hazard_thread_holds_any()); /* the destroyed domain is forgotten */
}
