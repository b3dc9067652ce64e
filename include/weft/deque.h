/*
 * The Chase-Lev work-stealing deque: one owner thread pushes and pops at the bottom (LIFO,
 * the hot end), any number of thieves steal from the top (FIFO, the cold end). The array
 * grows when full; it never shrinks. Items are non-NULL void pointers.
 *
 * Memory orders follow Lê, Pop, Cohen and Zappa Nardelli, "Correct and Efficient
 * Work-Stealing for Weak Memory Models" (PPoPP 2013); queues/deque.c says why at each atomic.
 * Indices are signed 64-bit and never wrap in practice (2^63 pushes).
 *
 * Old buffers: a thief may still be reading a buffer the owner has just replaced, so a
 * replaced buffer is not freed at once; it is kept on a list and freed by
 * weft_deque_destroy(). Capacities double, so the retired buffers together are smaller than
 * the current one: the deque never holds more than twice the memory of its largest buffer.
 *
 * Which calls may run at the same time (as liburcu's tables: "-" = may overlap freely,
 * "X" = the caller must prevent it):
 *
 *              push   pop    steal  size_hint destroy
 *   push        X      X      -      -         X
 *   pop         X      X      -      -         X
 *   steal       -      -      -      -         X
 *   size_hint   -      -      -      -         X
 *   destroy     X      X      X      X         X
 *
 * push and pop are owner-only: one thread (or one fiber of the owning worker at a time, with
 * a happens-before edge between owners when ownership moves).
 */
#ifndef WEFT_DEQUE_H
#define WEFT_DEQUE_H

#include <weft/common.h>

typedef struct weft_deque weft_deque;

/*
 * weft_deque_create - a new, empty deque able to hold initial_capacity items before it
 * first grows (rounded up to a power of two; 0 or 1 become 2).
 * Returns: 0, EINVAL (d NULL or initial_capacity above 2^62), ENOMEM.
 * Allocates: the deque and its first buffer (weft's allocator).
 * Thread-safety: any thread; the calling thread need not be the owner.
 */
WEFT_API int weft_deque_create(weft_deque **d, size_t initial_capacity);

/*
 * weft_deque_destroy - free the deque and every buffer it ever used. Items still inside are
 * left to the caller (they are not touched). NULL is ignored.
 * Thread-safety: no other call on d may run or follow.
 */
WEFT_API void weft_deque_destroy(weft_deque *d);

/*
 * weft_deque_push - put item at the bottom. Grows the buffer (doubling) when full.
 * Returns: 0, EINVAL (d or item NULL), ENOMEM (growth failed; item was not pushed and the
 * deque is unchanged).
 * Thread-safety: owner only.
 * Ordering: release: what the owner wrote before the push is visible to the thread that
 * steals the item (pairs with the acquire load of the bottom index in weft_deque_steal).
 * Allocates: only when it grows.
 */
WEFT_API int weft_deque_push(weft_deque *d, void *item);

/*
 * weft_deque_pop - take the newest item (the bottom).
 * Returns: the item, or NULL when the deque is empty or a thief won the last item (or d is
 * NULL).
 * Thread-safety: owner only.
 */
WEFT_API void *weft_deque_pop(weft_deque *d);

/*
 * weft_deque_steal - take the oldest item (the top) into *item.
 * Returns: 0 (*item set), EAGAIN (empty), EBUSY (lost a race with another thief or the
 * owner; the deque may still hold items: retry or move on), EINVAL (d or item NULL).
 * Thread-safety: any thread, including the owner. Lock-free: a failed steal means another
 * call succeeded.
 * Ordering: acquire: the stealer sees what the owner wrote before pushing the item.
 */
WEFT_API int weft_deque_steal(weft_deque *d, void **item);

/*
 * weft_deque_size_hint - the number of items, as seen at some recent moment: exact for the
 * owner when no thief runs, racy otherwise (never negative). For heuristics only.
 * Thread-safety: any thread.
 */
WEFT_API size_t weft_deque_size_hint(const weft_deque *d);

#endif
