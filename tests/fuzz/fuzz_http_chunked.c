/*
 * http_chunked_decode, one shot against the same bytes cut in two at a point the fuzzer
 * picks (and, for short inputs, fed one byte at a time): the decoder keeps all its state
 * in struct http_chunked, so every way of cutting must give the same data, the same rest
 * after the message and the same verdict. Each part is an exact allocation.
 *
 * Input: two bytes choosing the split point, then the chunked body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

struct result {
	long rc;            /* HTTP_NEED_MORE, -1, or bytes left after the message */
	char *data;         /* decoded bytes, then (rc >= 0) the bytes left */
	size_t data_len, left_len;
	char err[128];
};

/* Decodes in[0..len) in parts ending at cuts[0..ncuts) and len. out->data has len bytes. */
static void decode(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                   struct result *out)
{
	struct http_chunked dec;
	size_t start = 0, i;

	memset(&dec, 0, sizeof(dec));
	out->rc = HTTP_NEED_MORE;
	out->data_len = out->left_len = 0;
	out->err[0] = '\0';
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len, n = end - start;
		char *part = malloc(n ? n : 1);
		long rc;

		REQUIRE(part != NULL);
		memcpy(part, in + start, n);
		rc = http_chunked_decode(&dec, part, &n, out->err, sizeof(out->err));
		REQUIRE(rc >= -1 || rc == HTTP_NEED_MORE);
		REQUIRE(n <= end - start);
		if (rc == -1) {
			REQUIRE(out->err[0] != '\0');
			out->rc = -1;
			free(part);
			return;
		}
		/* Decoding never grows the data. */
		REQUIRE(out->data_len + n <= len);
		memcpy(out->data + out->data_len, part, n);
		out->data_len += n;
		if (rc >= 0) {
			REQUIRE(n + (size_t)rc <= end - start);
			memcpy(out->data + out->data_len, part + n, (size_t)rc);
			memcpy(out->data + out->data_len + rc, in + end, len - end);
			out->left_len = (size_t)rc + len - end;
			out->rc = (long)out->left_len;
			free(part);
			return;
		}
		free(part);
		start = end;
	}
}

static void same(const struct result *a, const struct result *b)
{
	REQUIRE(a->rc == b->rc);
	if (a->rc == -1) {
		REQUIRE(strcmp(a->err, b->err) == 0);
		return;
	}
	REQUIRE(a->data_len == b->data_len && a->left_len == b->left_len);
	REQUIRE(memcmp(a->data, b->data, a->data_len + a->left_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, split;
	const char *in;
	size_t len, cut;

	if (size < 2)
		return 0;
	cut = (size_t)data[0] << 8 | data[1];
	in = (const char *)data + 2;
	len = size - 2;
	cut %= len + 1;

	whole.data = malloc(len + 1);
	split.data = malloc(len + 1);
	REQUIRE(whole.data != NULL && split.data != NULL);
	decode(in, len, NULL, 0, &whole);
	decode(in, len, &cut, 1, &split);
	same(&whole, &split);
	if (len <= 512) {
		size_t cuts[512], i;

		for (i = 0; i + 1 < len; i++)
			cuts[i] = i + 1;
		decode(in, len, cuts, len ? len - 1 : 0, &split);
		same(&whole, &split);
	}
	free(whole.data);
	free(split.data);
	return 0;
}
