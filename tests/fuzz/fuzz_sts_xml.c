/*
 * aws_parse_sts_response, the small XML reader behind STS AssumeRoleWithWebIdentity, on
 * arbitrary bytes in an exact-size allocation (ASan sees any over-read). Invariants: a
 * success holds three non-empty printable credential fields and no error code; an error
 * answer holds a code and no credential; any other failure leaves the credentials zeroed
 * and says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsparse.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct aws_credentials creds;
	char code[AWS_MAX_ERROR_TYPE], message[256], err[200];
	char *copy = malloc(size ? size : 1);
	int rc;

	REQUIRE(copy != NULL);
	memcpy(copy, data, size);
	err[0] = '\0';
	rc = aws_parse_sts_response(copy, size, &creds, code, sizeof code, message, sizeof message,
	                            err, sizeof err);
	REQUIRE(strlen(code) < sizeof code && strlen(message) < sizeof message);
	if (rc == 0) {
		REQUIRE(code[0] == '\0');
		REQUIRE(creds.access_key_id[0] && printable(creds.access_key_id));
		REQUIRE(creds.secret_access_key[0] && printable(creds.secret_access_key));
		REQUIRE(creds.session_token[0] && printable(creds.session_token));
	} else if (rc == AWS_EREQUEST) {
		REQUIRE(code[0] != '\0' && printable(code));
		REQUIRE(creds.secret_access_key[0] == '\0' && creds.session_token[0] == '\0');
	} else {
		REQUIRE(rc == AWS_EPARSE && err[0] != '\0');
		REQUIRE(creds.secret_access_key[0] == '\0' && creds.session_token[0] == '\0');
	}
	free(copy);
	return 0;
}
