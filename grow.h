/*
 * grow: room for one more item in a heap array that doubles, the one way every list here
 * grows (namespaces, Secret records, trust anchors, names, problems).
 */
#ifndef GROW_H
#define GROW_H

#include <stddef.h>

/*
 * items holds count of *cap items of item_size bytes. With room left, returns items;
 * else the array reallocated to twice *cap (first when empty) with *cap raised, or NULL
 * when out of memory or the size would overflow: items and *cap are then as they were.
 */
void *grow_room(void *items, size_t *cap, size_t count, size_t item_size, size_t first);

#endif
