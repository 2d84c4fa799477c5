/*
 * grow: see grow.h.
 */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow_room(void *items, size_t *cap, size_t count, size_t item_size, size_t first)
{
	size_t n;
	void *grown;

	if (count < *cap)
		return items;
	n = *cap ? *cap * 2 : first;
	if (n <= *cap || item_size == 0 || n > SIZE_MAX / item_size)
		return NULL;
	grown = realloc(items, n * item_size);
	if (grown)
		*cap = n;
	return grown;
}
