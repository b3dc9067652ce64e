/*
 * Private: membarrier(2)'s private expedited command, the heavy half of weft's asymmetric
 * fences (the hazard-pointer scanner in sync/hazard.c, a worker going to sleep in
 * runtime/park.c). The light half is a compiler barrier on the hot side.
 */
#ifndef WEFT_SYNC_MEMBARRIER_H
#define WEFT_SYNC_MEMBARRIER_H

#include <stdbool.h>

/*
 * weft_membarrier_register_ - register the process for the private expedited command.
 * Returns true when the kernel offers it and registration worked, false otherwise or when
 * the environment variable optout_env is set to something other than "" or "0". Call once
 * (under a pthread_once) per user; registering twice is harmless.
 */
bool weft_membarrier_register_(const char *optout_env);

/*
 * weft_membarrier_ - a full memory barrier on every CPU running one of the process's
 * threads, and on the caller. Only after a successful weft_membarrier_register_.
 * Returns true on success; false when the system call failed (the caller then has no
 * barrier and must fall back).
 */
bool weft_membarrier_(void);

#endif
