/*
 * printable.h: the check the harnesses make of every fixed field a reader fills for logs
 * and output: terminated inside its buffer, no control character, no DEL.
 */
#ifndef FUZZ_PRINTABLE_H
#define FUZZ_PRINTABLE_H

#include <stdlib.h>
#include <string.h>

static inline void check_printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

#endif
