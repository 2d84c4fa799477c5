/*
 * http_parse_head on hostile input (then the chunked body behind it, when it says so).
 * Beyond "no crash, no over-read": a complete head keeps every view inside the bytes it
 * consumed, parses the same from an exact copy of just those bytes, needs more one byte
 * short of them, and never carries framing RFC 9112 6.3 calls ambiguous.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int inside(const char *p, size_t len, const char *base, size_t n)
{
	return p >= base && p + len <= base + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_response resp, again;
	const char *in = (const char *)data;
	char err[128] = "";
	int n = http_parse_head(in, size, &resp, err, sizeof(err));
	size_t i;

	if (n == HTTP_NEED_MORE) {
		REQUIRE(size <= HTTP_MAX_HEADER);
		return 0;
	}
	if (n == -1) {
		REQUIRE(err[0] != '\0');
		return 0;
	}
	REQUIRE(n > 0 && (size_t)n <= size && n <= HTTP_MAX_HEADER);
	REQUIRE(resp.status >= 100 && resp.status <= 999);
	REQUIRE(resp.header_count <= HTTP_MAX_HEADERS);
	REQUIRE(inside(resp.reason, resp.reason_len, in, (size_t)n));
	for (i = 0; i < resp.header_count; i++) {
		REQUIRE(resp.headers[i].name_len > 0);
		REQUIRE(inside(resp.headers[i].name, resp.headers[i].name_len, in, (size_t)n));
		REQUIRE(inside(resp.headers[i].value, resp.headers[i].value_len, in, (size_t)n));
		REQUIRE(memchr(resp.headers[i].value, '\r', resp.headers[i].value_len) == NULL);
		REQUIRE(memchr(resp.headers[i].value, '\n', resp.headers[i].value_len) == NULL);
	}
	REQUIRE(resp.content_length >= -1);
	REQUIRE(!(resp.chunked && resp.content_length >= 0));

	{
		char *copy = malloc((size_t)n);

		REQUIRE(copy != NULL);
		memcpy(copy, in, (size_t)n);
		REQUIRE(http_parse_head(copy, (size_t)n, &again, err, sizeof(err)) == n);
		REQUIRE(again.status == resp.status && again.header_count == resp.header_count &&
		        again.content_length == resp.content_length &&
		        again.chunked == resp.chunked &&
		        again.connection_close == resp.connection_close);
		for (i = 0; i < resp.header_count; i++)
			REQUIRE(again.headers[i].name - copy == resp.headers[i].name - in &&
			        again.headers[i].value_len == resp.headers[i].value_len);
		REQUIRE(http_parse_head(copy, (size_t)n - 1, &again, err, sizeof(err)) == HTTP_NEED_MORE);
		free(copy);
	}

	if (resp.chunked) {
		struct http_chunked dec;
		size_t len = size - (size_t)n;
		char *body = malloc(len ? len : 1);
		long left;

		REQUIRE(body != NULL);
		memcpy(body, in + n, len);
		memset(&dec, 0, sizeof(dec));
		left = http_chunked_decode(&dec, body, &len, err, sizeof(err));
		REQUIRE((left >= -1 || left == HTTP_NEED_MORE) && len <= size - (size_t)n);
		REQUIRE(left < 0 || (size_t)left + len <= size - (size_t)n);
		free(body);
	}
	return 0;
}
