/* membarrier(2) for weft's asymmetric fences (see membarrier.h). */
#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "membarrier.h"

bool weft_membarrier_register_(const char *optout_env)
{
#if defined(__NR_membarrier)
	const char *off = optout_env != NULL ? getenv(optout_env) : NULL;
	if (off != NULL && *off != '\0' && *off != '0')
		return false;
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return false;
	return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
#else
	(void)optout_env;
	return false;
#endif
}

bool weft_membarrier_(void)
{
#if defined(__NR_membarrier)
	return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0;
#else
	return false;
#endif
}
