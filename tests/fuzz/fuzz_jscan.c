/*
 * fuzz_jscan: any bytes through the jscan pull scanner (jscan.h). Beyond the sanitizers:
 * a text jscan accepts whole (jscan_skip, jscan_end) cJSON accepts too; a walk that reads
 * every string of every object and array never writes past its buffer, returns lengths
 * that match what it wrote, and terminates, however the input nests.
 */
#include "jscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every value: strings into a small buffer (most overflow), containers walked. */
static void walk(struct jscan *s, int depth)
{
	char key[8], text[16];
	long n;

	switch (jscan_peek(s)) {
	case JSCAN_OBJECT:
		if (!jscan_object(s))
			return;
		while (jscan_member(s, key, sizeof key) == 1) {
			if (strlen(key) >= sizeof key)
				abort();
			walk(s, depth + 1);
		}
		return;
	case JSCAN_ARRAY:
		if (!jscan_array(s))
			return;
		while (jscan_element(s) == 1)
			walk(s, depth + 1);
		return;
	case JSCAN_STRING:
		if (jscan_string_bound(s) == 0)
			abort();
		n = jscan_string(s, text, sizeof text);
		if (n >= 0 && (size_t)n != strlen(text))
			abort();
		if (n == -3 && text[0])
			abort();
		return;
	default:
		jscan_skip(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct jscan s;
	cJSON *root;

	jscan_init(&s, text, size);
	if (jscan_skip(&s) == 0 && jscan_end(&s)) {
		root = cJSON_ParseWithLength(text, size);
		if (!root)
			abort();
		cJSON_Delete(root);
	}
	jscan_init(&s, text, size);
	walk(&s, 0);
	jscan_end(&s);
	return 0;
}
