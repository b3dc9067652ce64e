/* Private: a weft_mpmc in memory the caller owns (the sharded queue's shards). */
#ifndef WEFT_QUEUES_MPMC_INTERNAL_H
#define WEFT_QUEUES_MPMC_INTERNAL_H

#include <weft/mpmc.h>

/* Initialise *q for at least capacity items (1 <= capacity <= 2^40). 0 or ENOMEM. */
int weft_mpmc_init_(weft_mpmc *q, size_t capacity);
/* Free what weft_mpmc_init_ allocated. */
void weft_mpmc_fini_(weft_mpmc *q);

#endif
