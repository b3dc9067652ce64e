/* Private: how the parking lot registers parked callers with a context. */
#ifndef WEFT_SYNC_CTX_INTERNAL_H
#define WEFT_SYNC_CTX_INTERNAL_H

#include <weft/ctx.h>
#include <weft/waiter.h>

/*
 * Register w (already queued in the parking lot) so that cancelling ctx wakes it. Takes a
 * reference on ctx. Returns 0, or ctx's error if it is already done (nothing registered,
 * no reference kept).
 */
int weft_ctx_waiter_add(weft_ctx *ctx, weft_waiter *w);

/* Undo weft_ctx_waiter_add (w may already have been unlinked by a cancel); drops the ref. */
void weft_ctx_waiter_remove(weft_ctx *ctx, weft_waiter *w);

/* Tests only: ctx's current reference count (a relaxed snapshot). */
uint32_t weft_ctx_refs_(weft_ctx *ctx);

#endif
