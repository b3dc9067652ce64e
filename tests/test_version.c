/* The umbrella header compiles on its own and the version agrees with itself. */
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

#include "weft_test.h"

WEFT_TEST(umbrella_header_and_version)
{
	char want[32];
	snprintf(want, sizeof want, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
		 WEFT_VERSION_PATCH);
	CHECK(weft_version() != NULL);
	CHECK_EQ(strcmp(weft_version(), want), 0);
}
