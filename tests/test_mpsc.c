/* weft_mpsc's direct API: bad input and FIFO order (the weft_queue tests drive it too). */
#include <errno.h>
#include <stdint.h>

#include <weft/mpsc.h>

#include "weft_test.h"

WEFT_TEST(bad_input)
{
	void *x = NULL;
	CHECK_EQ(weft_mpsc_create(NULL), EINVAL);
	CHECK_EQ(weft_mpsc_push(NULL, &x), EINVAL);
	CHECK_EQ(weft_mpsc_pop(NULL, &x), EINVAL);
	weft_mpsc *q;
	CHECK_EQ(weft_mpsc_create(&q), 0);
	CHECK_EQ(weft_mpsc_push(q, &x), 0);
	CHECK_EQ(weft_mpsc_pop(q, NULL), EINVAL); /* and the item stays queued */
	CHECK_EQ(weft_mpsc_pop(q, &x), 0);
	CHECK(x == (void *)&x);
	CHECK_EQ(weft_mpsc_pop(q, &x), EAGAIN);
	weft_mpsc_destroy(q);
	weft_mpsc_destroy(NULL);
}

WEFT_TEST(fifo_and_null_items)
{
	weft_mpsc *q;
	CHECK_EQ(weft_mpsc_create(&q), 0);
	for (uintptr_t i = 0; i < 100; i++)
		CHECK_EQ(weft_mpsc_push(q, (void *)i), 0); /* NULL (i == 0) is an item too */
	for (uintptr_t i = 0; i < 100; i++) {
		void *x = NULL;
		CHECK_EQ(weft_mpsc_pop(q, &x), 0);
		CHECK_EQ((uintptr_t)x, i);
	}
	CHECK_EQ(weft_mpsc_push(q, (void *)1), 0);
	weft_mpsc_destroy(q); /* a non-empty queue: nodes freed, items left to us */
}
