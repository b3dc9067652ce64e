/* weft version. CMake reads the three numbers below; change them here only. */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#include <weft/common.h>

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

#define WEFT_VERSION_HEX ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

/*
 * weft_version - the library's version as "MAJOR.MINOR.PATCH", as built (which may differ
 * from the header a program was compiled against).
 * Thread-safety: any thread. Returns a static string.
 */
WEFT_API const char *weft_version(void);

#endif
