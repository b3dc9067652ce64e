/* weft: everything. Include the one header you need, or this. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/common.h>
#include <weft/version.h>
#include <weft/alloc.h>
#include <weft/thread.h>
#include <weft/waiter.h>
#include <weft/ctx.h>

#endif
