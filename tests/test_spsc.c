/* weft_spsc's direct API: bad input, capacity, FIFO and full/empty (weft_queue drives it too). */
#include <errno.h>
#include <stdint.h>

#include <weft/spsc.h>

#include "weft_test.h"

WEFT_TEST(bad_input)
{
	void *x = NULL;
	weft_spsc *q;
	CHECK_EQ(weft_spsc_create(NULL, 4), EINVAL);
	CHECK_EQ(weft_spsc_create(&q, 0), EINVAL);
	CHECK_EQ(weft_spsc_push(NULL, &x), EINVAL);
	CHECK_EQ(weft_spsc_pop(NULL, &x), EINVAL);
	CHECK_EQ(weft_spsc_capacity(NULL), 0);
	CHECK_EQ(weft_spsc_create(&q, 4), 0);
	CHECK_EQ(weft_spsc_push(q, &x), 0);
	CHECK_EQ(weft_spsc_pop(q, NULL), EINVAL); /* and the item stays queued */
	CHECK_EQ(weft_spsc_pop(q, &x), 0);
	CHECK(x == (void *)&x);
	weft_spsc_destroy(q);
	weft_spsc_destroy(NULL);
}

WEFT_TEST(fifo_full_empty)
{
	weft_spsc *q;
	CHECK_EQ(weft_spsc_create(&q, 5), 0);
	CHECK_EQ(weft_spsc_capacity(q), 8); /* rounded up to a power of two */
	for (int lap = 0; lap < 3; lap++) {
		for (uintptr_t i = 0; i < 8; i++)
			CHECK_EQ(weft_spsc_push(q, (void *)i), 0);
		CHECK_EQ(weft_spsc_push(q, (void *)9), EAGAIN);
		for (uintptr_t i = 0; i < 8; i++) {
			void *x = NULL;
			CHECK_EQ(weft_spsc_pop(q, &x), 0);
			CHECK_EQ((uintptr_t)x, i);
		}
		void *x = NULL;
		CHECK_EQ(weft_spsc_pop(q, &x), EAGAIN);
	}
	weft_spsc_destroy(q);
}
