/*
 * test_grow: doubling, the first size, room left, and sizes that would overflow.
 */
#include <stdint.h>
#include <stdlib.h>

#include "grow.h"
#include "unit.h"

int main(void)
{
	int *items = NULL, *grown;
	size_t cap = 0, count = 0, big_cap = SIZE_MAX / 2 + 1;
	char *fake = (char *)&count;

	for (int i = 0; i < 100; i++) {
		grown = grow_room(items, &cap, count, sizeof *items, 4);
		CHECK(grown != NULL);
		items = grown;
		items[count++] = i;
	}
	CHECK_EQ_INT(cap, 128);                 /* 4, 8, ..., 128 */
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(items[i], i);
	CHECK(grow_room(items, &cap, 5, sizeof *items, 4) == items);    /* room left: as it is */
	CHECK_EQ_INT(cap, 128);
	free(items);

	/* doubling past SIZE_MAX items, or bytes, fails and leaves the array alone */
	CHECK(grow_room(fake, &big_cap, big_cap, 1, 4) == NULL);
	CHECK(big_cap == SIZE_MAX / 2 + 1);
	cap = SIZE_MAX / 16;
	CHECK(grow_room(fake, &cap, cap, 16, 4) == NULL);
	CHECK(cap == SIZE_MAX / 16);
	return UNIT_DONE();
}
