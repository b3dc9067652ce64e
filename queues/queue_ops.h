/*
 * Private: what each queue kind gives the weft_queue interface (queues/queue.c). One
 * const instance per kind, named weft_queue_ops_<kind>, defined in that kind's file.
 */
#ifndef WEFT_QUEUES_QUEUE_OPS_H
#define WEFT_QUEUES_QUEUE_OPS_H

#include <weft/queue.h>

typedef struct weft_queue_ops {
	const char *name;           /* as weft_queue_kind_name */
	bool bounded;               /* push may return EAGAIN when full */
	unsigned max_producers;     /* 0: any number; spsc: 1 */
	unsigned max_consumers;     /* 0: any number; spsc, mpsc: 1 */
	/* Allocate the kind's state into *impl. 0, EINVAL, ENOMEM. */
	int (*create)(void **impl, size_t capacity);
	/* 0, EAGAIN (full), ENOMEM. item is non-NULL (checked by the interface). */
	int (*push)(void *impl, void *item);
	/* 0 or EAGAIN (empty). */
	int (*pop)(void *impl, void **item);
	void (*destroy)(void *impl);
	/* Optional batch operations (NULL: the interface loops over push / pop): move up to n
	 * items (n >= 1, items non-NULL, checked by the interface), store the count in *moved;
	 * 0 when at least one moved, else push's or pop's error. */
	int (*push_n)(void *impl, void *const *items, size_t n, size_t *moved);
	int (*pop_n)(void *impl, void **items, size_t n, size_t *moved);
} weft_queue_ops;

extern const weft_queue_ops weft_queue_ops_mutex;
extern const weft_queue_ops weft_queue_ops_mpmc;
extern const weft_queue_ops weft_queue_ops_spsc;
extern const weft_queue_ops weft_queue_ops_mpsc;
extern const weft_queue_ops weft_queue_ops_msq;
extern const weft_queue_ops weft_queue_ops_msq_rcu;
extern const weft_queue_ops weft_queue_ops_sharded;
extern const weft_queue_ops weft_queue_ops_ck_ring;
extern const weft_queue_ops weft_queue_ops_urcu_wfcq;

#endif
