/*
 * Google's JSON readers on arbitrary bytes, each in an exact-size allocation; the first
 * byte picks one of
 *   0  an OAuth2 token answer (gcr_parse_token_response)
 *   1  an OAuth2 / Google API error body (gcr_parse_token_error)
 *   2  a service-account key file (gcr_parse_key: JSON, PEM, PKCS#8 / PKCS#1 RSA)
 * Invariants: a token is printable and bounded; error texts are printable and bounded; a
 * key that parses has an https token_uri, an email and an RSA key of 2048..8192 bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcr.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int printable(const char *s, int space_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s < (space_ok ? 0x20 : 0x21) || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gcr_key key;
	char token[GCR_MAX_TOKEN + 1], err[300], code[64], description[200], *body;
	long expires = 0;

	if (size == 0)
		return 0;
	body = malloc(size - 1 ? size - 1 : 1);
	REQUIRE(body != NULL);
	memcpy(body, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		if (gcr_parse_token_response(body, size - 1, token, sizeof token, &expires, err, sizeof err) == 0) {
			REQUIRE(token[0] && strlen(token) <= GCR_MAX_TOKEN && printable(token, 0));
			REQUIRE(expires >= 1 && expires <= 86400);
		} else {
			REQUIRE(err[0] && token[0] == '\0');
		}
		break;
	case 1:
		gcr_parse_token_error(body, size - 1, code, sizeof code, description, sizeof description);
		REQUIRE(strlen(code) < sizeof code && printable(code, 1));
		REQUIRE(strlen(description) < sizeof description && printable(description, 1));
		break;
	default:
		if (gcr_parse_key(body, size - 1, &key, err, sizeof err) == 0) {
			REQUIRE(key.rsa && key.rsa->n_bitlen >= 2048 && key.rsa->n_bitlen <= 8192);
			REQUIRE(key.client_email[0] && strncmp(key.token_uri, "https://", 8) == 0);
			REQUIRE(key.json && key.json_len == size - 1);
		} else {
			REQUIRE(err[0] && key.json == NULL);
		}
		gcr_key_free(&key);
	}
	free(body);
	return 0;
}
