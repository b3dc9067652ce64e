/* Private: sharded counter with a chosen slot count (tests exercise the overflow slot). */
#ifndef WEFT_SYNC_COUNTER_INTERNAL_H
#define WEFT_SYNC_COUNTER_INTERNAL_H

#include <weft/counter.h>

/* As weft_shard_counter_create with nslots slots (0 is allowed: every add overflows). */
int weft_shard_counter_create_n(weft_shard_counter **c, uint32_t nslots);

#endif
