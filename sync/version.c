/* Version string and the monotonic clock shared by every deadline. */
#include <time.h>

#include <weft/version.h>

#define WEFT_STR2(x) #x
#define WEFT_STR(x) WEFT_STR2(x)

const char *weft_version(void)
{
	return WEFT_STR(WEFT_VERSION_MAJOR) "." WEFT_STR(WEFT_VERSION_MINOR) "." WEFT_STR(
		WEFT_VERSION_PATCH);
}

uint64_t weft_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WEFT_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}
