/* Private: hazard-pointer introspection for tests and the bench harness. */
#ifndef WEFT_SYNC_HAZARD_INTERNAL_H
#define WEFT_SYNC_HAZARD_INTERNAL_H

#include <weft/hazard.h>

struct weft_hazard_stats {
	size_t records;	    /* R: records ever created in the domain */
	size_t unreclaimed; /* retired, not yet freed, summed over records (racy snapshot) */
	size_t max_list;    /* the longest any record's retired list has been */
	uint64_t scans;	    /* scans run */
	uint64_t freed;	    /* nodes freed by scans */
};

/* A snapshot of d's counters (NULL: default domain). Any thread. */
void weft_hazard_stats_get_(weft_hazard_domain *d, struct weft_hazard_stats *s);

/* True when scans fence with membarrier (protect issues only a compiler barrier). */
bool weft_hazard_uses_membarrier_(void);

#endif
