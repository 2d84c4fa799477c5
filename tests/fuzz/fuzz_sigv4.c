/*
 * fuzz_sigv4: arbitrary requests into the three sigv4 entry points.
 *
 * Input: one flags byte (bit 0: normalize_path), then fields separated by 0x1f:
 *   method, path, query, body, header name, header value, name, value, ...
 * so that NUL-free bytes, CR and LF all reach the parsers. Checks, beyond the sanitizers:
 * the three functions agree on what is valid; lengths match strlen; the hash in the string
 * to sign is SHA-256 of the canonical request written to a buffer (the streamed and the
 * buffered writer produce the same bytes); a one-byte-short buffer fails cleanly.
 */
#include "sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl_hash.h>

#define MAX_FIELDS (4 + 2 * (SIGV4_MAX_HEADERS + 2))
#define OUT_SIZE 65536

static char canonical[OUT_SIZE + 1], sts[OUT_SIZE], authorization[OUT_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sigv4_key key = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
	struct sigv4_header headers[SIGV4_MAX_HEADERS + 2];
	char *fields[MAX_FIELDS], *copy, *p;
	size_t count = 0;
	long n_creq, n_sts, n_authz;

	if (size < 1 || size > OUT_SIZE / 4)
		return 0;
	/* NUL would end C strings early: the API takes C strings, so none reach it. */
	if (memchr(data + 1, '\0', size - 1))
		return 0;
	copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (p = copy; count < MAX_FIELDS; ) {
		char *sep = strchr(p, 0x1f);
		fields[count++] = p;
		if (sep == NULL)
			break;
		*sep = '\0';
		p = sep + 1;
	}
	while (count < 4)
		fields[count++] = (char *)"";

	size_t header_count = (count - 4) / 2;
	for (size_t i = 0; i < header_count; i++) {
		headers[i].name = fields[4 + 2 * i];
		headers[i].value = fields[5 + 2 * i];
	}
	struct sigv4_request req = { fields[0], fields[1], fields[2], headers, header_count,
	                             fields[3], strlen(fields[3]) };
	struct sigv4_scope scope = { "20150830T123600Z", "us-east-1", "service", data[0] & 1 };

	n_creq = sigv4_canonical_request(&req, scope.normalize_path, canonical, OUT_SIZE);
	n_sts = sigv4_string_to_sign(&req, &scope, sts, sizeof sts);
	n_authz = sigv4_authorization(&req, &key, &scope, authorization, sizeof authorization);
	if (n_creq >= 0 && (size_t)n_creq != strlen(canonical))
		abort();
	if ((n_sts >= 0) != (n_authz >= 0))
		abort();
	/* the signing functions also check x-amz-date against the scope, so they may refuse
	 * what the canonical request accepts, never the other way round */
	if (n_sts >= 0 && n_creq < 0)
		abort();
	if (n_sts >= 0) {
		static const char digits[] = "0123456789abcdef";
		br_sha256_context ctx;
		unsigned char digest[br_sha256_SIZE];
		char hex[2 * br_sha256_SIZE + 1];

		br_sha256_init(&ctx);
		br_sha256_update(&ctx, canonical, (size_t)n_creq);
		br_sha256_out(&ctx, digest);
		for (size_t i = 0; i < sizeof digest; i++) {
			hex[2 * i] = digits[digest[i] >> 4];
			hex[2 * i + 1] = digits[digest[i] & 15];
		}
		hex[sizeof hex - 1] = '\0';
		if ((size_t)n_sts != strlen(sts) || n_sts < 64 || strcmp(sts + n_sts - 64, hex) != 0)
			abort();
		if ((size_t)n_authz != strlen(authorization))
			abort();
		/* exactly one byte short: -1 and "" */
		canonical[0] = 'x';
		if (sigv4_canonical_request(&req, scope.normalize_path, canonical, (size_t)n_creq) != -1 ||
		    (n_creq > 0 && canonical[0] != '\0'))
			abort();
	}
	free(copy);
	return 0;
}
