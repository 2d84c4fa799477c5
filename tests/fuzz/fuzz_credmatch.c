/*
 * fuzz_credmatch: image references (from pod specs the API server hands back) and
 * dockerconfig keys (from a Secret's .dockerconfigjson) into credmatch.h.
 *
 * The input up to its first newline is an image reference, the rest a list of keys, one a
 * line. Beyond the sanitizers it checks what check.c relies on: a parsed image's repo is
 * "host/path", at most 255 bytes, and parses again to itself; the image's own host, used as
 * a key, always matches it; a lookup answers an index in range or -1.
 */
#include "credmatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_image(const char *image, const char *const *keys, size_t key_count)
{
	struct credmatch_image img, again;
	const char *own[1];
	size_t host_len;
	long found;

	if (credmatch_parse_image(image, &img) != 0) {
		if (img.repo[0] || img.host[0])
			abort();
		return;
	}
	host_len = strlen(img.host);
	if (strlen(img.repo) > CREDMATCH_MAX_NAME || host_len == 0
	    || strncmp(img.repo, img.host, host_len) != 0 || img.repo[host_len] != '/')
		abort();
	if (credmatch_parse_image(img.repo, &again) != 0 || strcmp(again.repo, img.repo) != 0)
		abort();
	own[0] = img.host;
	if (img.host[0] != '[' || img.host[host_len - 1] != ']')
		if (credmatch_lookup(own, 1, img.repo) != 0 || !credmatch_key_matches(img.host, img.repo))
			abort();
	found = credmatch_lookup(keys, key_count, img.repo);
	if (found < -1 || found >= (long)key_count)
		abort();
	if (found >= 0 && !credmatch_key_matches(keys[found], img.repo) && !credmatch_is_docker_hub(img.repo))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *next;
	const char *keys[MAX_KEYS];
	size_t key_count = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	next = strchr(text, '\n');
	if (next)
		*next++ = '\0';
	for (line = next; line && key_count < MAX_KEYS; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		keys[key_count++] = line;
		/* the keys are also looked up as images: both are hostile strings */
		(void)credmatch_key_matches(line, text);
		(void)credmatch_is_docker_hub(line);
	}
	check_image(text, keys, key_count);
	free(text);
	return 0;
}
