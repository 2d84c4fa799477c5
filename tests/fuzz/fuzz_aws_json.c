/*
 * The JSON readers of AWS answers on arbitrary bytes, each in an exact-size allocation:
 * the first byte picks one of
 *   0  container / IMDS credentials (aws_parse_credentials_json)
 *   1  ECR GetAuthorizationToken answer (ecr_parse_token_response)
 *   2  AWS error body (aws_parse_error_json), no X-Amzn-ErrorType header
 *   3  AWS error body and header: the input up to its first '\n' is the header
 * Invariants: successes hold usable values (printable credentials; a password with no
 * byte outside printable ASCII), failures leave nothing behind, error types are printable,
 * messages are peer text (log_peer_text: capped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsparse.h"
#include "ecr.h"
#include "log.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static char *exact_copy(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	REQUIRE(copy != NULL);
	memcpy(copy, data, size);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct aws_credentials creds;
	char err[200], type[AWS_MAX_ERROR_TYPE], message[256];
	const uint8_t *nl;
	char *body, *header;
	size_t i;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		body = exact_copy(data + 1, size - 1);
		if (aws_parse_credentials_json(body, size - 1, &creds, err, sizeof err) == 0) {
			REQUIRE(creds.access_key_id[0] && printable(creds.access_key_id));
			REQUIRE(creds.secret_access_key[0] && printable(creds.secret_access_key));
			REQUIRE(printable(creds.session_token));
		} else {
			REQUIRE(err[0] && creds.secret_access_key[0] == '\0' && creds.session_token[0] == '\0');
		}
		free(body);
		break;
	case 1: {
		struct ecr_token token;
		body = exact_copy(data + 1, size - 1);
		if (ecr_parse_token_response(body, size - 1, &token, err, sizeof err) == 0) {
			REQUIRE(token.password != NULL && token.auth != NULL && token.username[0] != '\0');
			for (i = 0; token.password[i]; i++)
				REQUIRE((unsigned char)token.password[i] >= 0x20 && (unsigned char)token.password[i] < 0x7f);
			REQUIRE(token.expires_at > 0);
			REQUIRE(printable(token.proxy_endpoint));
			ecr_token_clear(&token);
		} else {
			REQUIRE(err[0] && token.password == NULL && token.auth == NULL);
		}
		free(body);
		break;
	}
	default:
		nl = data[0] % 4 == 3 ? memchr(data + 1, '\n', size - 1) : NULL;
		header = nl ? exact_copy(data + 1, (size_t)(nl - data - 1)) : NULL;
		body = nl ? exact_copy(nl + 1, size - (size_t)(nl + 1 - data)) : exact_copy(data + 1, size - 1);
		aws_parse_error_json(body, nl ? size - (size_t)(nl + 1 - data) : size - 1, header,
		                     nl ? (size_t)(nl - data - 1) : 0, type, sizeof type, message, sizeof message);
		REQUIRE(strlen(type) < sizeof type && printable(type));
		REQUIRE(strlen(message) < sizeof message && strlen(message) <= LOG_PEER_TEXT_MAX);
		for (i = 0; message[i]; i++)
			REQUIRE((unsigned char)message[i] >= 0x20);
		free(body);
		free(header);
	}
	return 0;
}
