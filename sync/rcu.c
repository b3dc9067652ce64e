/*
 * weft's RCU: a thin layer over liburcu's memb flavour (sys_membarrier-based readers).
 *
 * What it adds: lazy per-thread registration (a pthread key unregisters at exit), a
 * retire whose callback gets weft's own head type, and a synchronize that waits through
 * the waiter seam (a call_rcu callback unparks the caller) so that fibers can park.
 *
 * ThreadSanitizer: liburcu's library is not instrumented, so TSan cannot see that a grace
 * period orders every earlier read-side section before a callback. We tell it: each
 * outermost unlock releases rcu_tsan_gp and each callback acquires it first; a retire
 * releases its head and the callback acquires it. This claims exactly liburcu's guarantee.
 */
#if !defined(WEFT_TSAN) && !defined(__SANITIZE_THREAD__)
/* liburcu's inline read side. Under TSan we call the (uninstrumented) library instead:
 * inlined, its grace-period wake-up flag is a plain racy int that TSan would report. */
#define _LGPL_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include <urcu/urcu-memb.h>

#if defined(_LGPL_SOURCE)
/* liburcu's reader state, redeclared initial-exec: compiled -fPIC, the default model
 * would call __tls_get_addr on every lock and unlock. liburcu-memb is a load-time
 * dependency of libweft, so its TLS is in the static block (weft's own TLS is
 * initial-exec too, see include/weft/thread.h). */
extern __thread struct urcu_reader urcu_memb_reader __attribute__((tls_model("initial-exec")));
#endif

#include <weft/rcu.h>
#include <weft/waiter.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_RCU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(WEFT_TSAN)
#define WEFT_RCU_TSAN 1
#endif

#if defined(WEFT_RCU_TSAN)
#include <sanitizer/tsan_interface.h>
static char rcu_tsan_gp;   /* released by readers' unlocks, acquired by callbacks */
static char rcu_tsan_done; /* released after each callback, acquired by barrier */
#define TSAN_RELEASE(a) __tsan_release(a)
#define TSAN_ACQUIRE(a) __tsan_acquire(a)
#else
#define TSAN_RELEASE(a) ((void)0)
#define TSAN_ACQUIRE(a) ((void)0)
#endif

_Static_assert(sizeof(((weft_rcu_head *)0)->urcu_) == sizeof(struct rcu_head),
	       "weft_rcu_head must hold liburcu's rcu_head");
_Static_assert(alignof(weft_rcu_head) >= alignof(struct rcu_head), "rcu_head alignment");

static pthread_key_t reg_key;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static bool reg_key_ok;
static __thread bool registered __attribute__((tls_model("initial-exec")));

static void unregister_at_exit(void *arg)
{
	(void)arg;
	if (registered) {
		urcu_memb_unregister_thread();
		registered = false;
	}
}

static void reg_init(void)
{
	reg_key_ok = pthread_key_create(&reg_key, unregister_at_exit) == 0;
}

/* Out of line, so that the read-side fast path needs no stack frame. */
__attribute__((noinline)) static void register_slow(void)
{
	pthread_once(&reg_once, reg_init);
#if defined(_LGPL_SOURCE)
	/* A thread its owner registered with liburcu itself keeps that registration (and
	 * its owner unregisters it): registering twice is an error in liburcu. */
	if (URCU_TLS(urcu_memb_reader).registered) {
		registered = true;
		return;
	}
#endif
	urcu_memb_register_thread();
	registered = true;
	/* Without the key (no key left) the thread stays registered until it exits, which
	 * liburcu tolerates; registration itself is what correctness needs. */
	if (reg_key_ok)
		pthread_setspecific(reg_key, (void *)1);
}

static inline void ensure_registered(void)
{
	if (WEFT_UNLIKELY(!registered))
		register_slow();
}

void weft_rcu_read_lock(void)
{
	ensure_registered();
	urcu_memb_read_lock();
}

void weft_rcu_read_unlock(void)
{
	TSAN_RELEASE(&rcu_tsan_gp);
	urcu_memb_read_unlock();
}

bool weft_rcu_read_ongoing(void)
{
	return registered && urcu_memb_read_ongoing();
}

static void trampoline(struct rcu_head *rh)
{
	weft_rcu_head *head = (weft_rcu_head *)(void *)rh;
	TSAN_ACQUIRE(&rcu_tsan_gp);
	TSAN_ACQUIRE(head);
	head->fn_(head);
	TSAN_RELEASE(&rcu_tsan_done);
}

void weft_rcu_retire(weft_rcu_head *head, void (*fn)(weft_rcu_head *head))
{
	if (head == NULL || fn == NULL)
		return; /* bad input: nothing to retire (a NULL fn would crash the call_rcu thread) */
	ensure_registered(); /* call_rcu takes a read-side lock internally */
	head->fn_ = fn;
	TSAN_RELEASE(head);
	urcu_memb_call_rcu((struct rcu_head *)(void *)head->urcu_, trampoline);
}

struct sync_wait {
	weft_rcu_head head;
	_Atomic uint32_t done;
};

static void sync_done(weft_rcu_head *head)
{
	struct sync_wait *w = (struct sync_wait *)head;
	_Atomic uint32_t *done = &w->done;
	/* Release: pairs with the waiter's acquire load. After this store the waiter may
	 * return and its frame vanish: weft_unpark uses the address only as a key. */
	atomic_store_explicit(done, 1, memory_order_release);
	weft_unpark((const void *)done, 1);
}

int weft_rcu_synchronize(void)
{
	if (weft_rcu_read_ongoing())
		return EPERM;
	struct sync_wait w;
	atomic_init(&w.done, 0);
	weft_rcu_retire(&w.head, sync_done);
	/* Acquire: pairs with the release in sync_done. */
	while (atomic_load_explicit(&w.done, memory_order_acquire) == 0)
		weft_park(&w.done, 0, WEFT_NO_DEADLINE, NULL);
	TSAN_ACQUIRE(&rcu_tsan_gp);
	return 0;
}

int weft_rcu_barrier(void)
{
	if (weft_rcu_read_ongoing())
		return EPERM;
	ensure_registered();
	urcu_memb_barrier();
	TSAN_ACQUIRE(&rcu_tsan_done);
	return 0;
}
