/* ecr: registry host table, GetAuthorizationToken answers (valid, broken, hostile), the
 * dockerconfig payload's exact bytes. */
#include <stdlib.h>
#include <string.h>

#include "ecr.h"
#include "secret.h"
#include "unit.h"

struct registry_row {
	const char *input;
	const char *host;       /* NULL: must be refused */
	const char *account;
	const char *region;
	int fips, dualstack;
};

static const struct registry_row registry_rows[] = {
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
	  "123456789012", "us-east-1", 0, 0 },
	{ "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
	  "123456789012", "eu-west-1", 0, 0 },
	{ "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/", "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
	  "123456789012", "eu-west-1", 0, 0 },
	{ "HTTPS://123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM:443/team/app",
	  "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012", "eu-west-1", 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
	  "123456789012", "us-east-1", 0, 0 },
	{ "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn", "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn",
	  "111122223333", "cn-north-1", 0, 0 },
	{ "111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
	  "111122223333", "us-gov-west-1", 1, 0 },
	{ "111122223333.dkr-ecr.us-east-1.on.aws", "111122223333.dkr-ecr.us-east-1.on.aws",
	  "111122223333", "us-east-1", 0, 1 },
	{ "111122223333.dkr-ecr-fips.us-east-2.on.aws", "111122223333.dkr-ecr-fips.us-east-2.on.aws",
	  "111122223333", "us-east-2", 1, 1 },
	{ "111122223333.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
	  "111122223333.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", "111122223333", "cn-northwest-1", 0, 1 },
	{ "111122223333.dkr.ecr.us-iso-east-1.c2s.ic.gov", "111122223333.dkr.ecr.us-iso-east-1.c2s.ic.gov",
	  "111122223333", "us-iso-east-1", 0, 0 },
	{ "111122223333.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", "111122223333.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
	  "111122223333", "us-isob-east-1", 0, 0 },
	{ "111122223333.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", "111122223333.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
	  "111122223333", "eu-isoe-west-1", 0, 0 },
	{ "111122223333.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", "111122223333.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
	  "111122223333", "us-isof-south-1", 0, 0 },
	{ "111122223333.dkr.ecr.eusc-de-east-1.amazonaws.eu", "111122223333.dkr.ecr.eusc-de-east-1.amazonaws.eu",
	  "111122223333", "eusc-de-east-1", 0, 0 },
	/* refused */
	{ "public.ecr.aws", NULL, NULL, NULL, 0, 0 },
	{ "docker.io", NULL, NULL, NULL, 0, 0 },
	{ "", NULL, NULL, NULL, 0, 0 },
	{ "https://", NULL, NULL, NULL, 0, 0 },
	{ "12345678901.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "1234567890123.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "12345678901a.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.co", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr..amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.-us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr_ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr-fipsx.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us.east.1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "x.123456789012.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "http://123456789012.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com:", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com:80a", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com:123456", NULL, NULL, NULL, 0, 0 },
	{ "user@123456789012.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, 0, 0 },
	{ "123456789012.dkr.ecr.us_east_1.amazonaws.com", NULL, NULL, NULL, 0, 0 },   /* not a host label */
};

static void test_registry_table(void)
{
	size_t i;

	for (i = 0; i < sizeof registry_rows / sizeof registry_rows[0]; i++) {
		const struct registry_row *row = &registry_rows[i];
		struct ecr_registry reg;
		char err[300] = "";
		int rc = ecr_parse_registry(row->input, &reg, err, sizeof err);

		if (row->host) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(reg.host, row->host);
			CHECK_EQ_STR(reg.account, row->account);
			CHECK_EQ_STR(reg.region, row->region);
			CHECK_EQ_INT(reg.fips, row->fips);
			CHECK_EQ_INT(reg.dualstack, row->dualstack);
		} else {
			CHECK_EQ_INT(rc, AWS_ECONFIG);
			CHECK(strstr(err, "is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)") != NULL);
			if (rc == 0)
				fprintf(stderr, "  accepted: %s\n", row->input);
		}
	}
	{
		struct ecr_registry reg;
		char err[300];
		CHECK_EQ_INT(ecr_parse_registry("docker.io", &reg, err, sizeof err), AWS_ECONFIG);
		CHECK_EQ_STR(err, "\"docker.io\" is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)");
		/* Control characters and quotes are not echoed; long input is cut. */
		CHECK_EQ_INT(ecr_parse_registry("a\"b\x01", &reg, err, sizeof err), AWS_ECONFIG);
		CHECK_EQ_STR(err, "\"a?b?\" is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)");
	}
	{
		char long_host[400];
		struct ecr_registry reg;
		char err[300];
		memset(long_host, 'a', sizeof long_host - 1);
		long_host[sizeof long_host - 1] = '\0';
		CHECK_EQ_INT(ecr_parse_registry(long_host, &reg, err, sizeof err), AWS_ECONFIG);
		CHECK(strstr(err, "...\" is not") != NULL);
	}
}

/* ---- token answers ------------------------------------------------------------------ */

/* base64("AWS:pass:word+1") */
#define TOKEN_B64 "QVdTOnBhc3M6d29yZCsx"

static void test_token_valid(void)
{
	const char *body = "{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\","
		"\"expiresAt\":1700000000.125,\"proxyEndpoint\":\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com\"}]}";
	struct ecr_token t;
	char err[200];

	CHECK_EQ_INT(ecr_parse_token_response(body, strlen(body), &t, err, sizeof err), 0);
	CHECK_EQ_STR(t.username, "AWS");
	/* Split at the FIRST ':' (docs/design.md "ECR GetAuthorizationToken"). */
	CHECK_EQ_STR(t.password, "pass:word+1");
	CHECK_EQ_STR(t.auth, TOKEN_B64);
	CHECK(t.expires_at == 1700000000.125);
	CHECK_EQ_STR(t.proxy_endpoint, "https://123456789012.dkr.ecr.us-east-1.amazonaws.com");
	ecr_token_clear(&t);
	CHECK(t.password == NULL);

	/* An integer expiresAt, no proxyEndpoint, unpadded base64, extra fields ignored. */
	body = "{\"authorizationData\":[{\"authorizationToken\":\"QVdTOng\",\"expiresAt\":1700000000,\"x\":[1]}],\"y\":{}}";
	CHECK_EQ_INT(ecr_parse_token_response(body, strlen(body), &t, err, sizeof err), 0);
	CHECK_EQ_STR(t.password, "x");
	CHECK_EQ_STR(t.auth, "QVdTOng=");
	CHECK(t.expires_at == 1700000000.0);
	CHECK_EQ_STR(t.proxy_endpoint, "");
	ecr_token_clear(&t);
}

static void check_token_bad(const char *body, const char *want_err)
{
	struct ecr_token t;
	char err[200] = "";

	CHECK_EQ_INT(ecr_parse_token_response(body, strlen(body), &t, err, sizeof err), AWS_EPARSE);
	CHECK_EQ_STR(err, want_err);
	CHECK(t.password == NULL && t.auth == NULL);
	/* No message ever quotes the token. */
	CHECK(strstr(err, "QVdT") == NULL);
}

static void test_token_bad(void)
{
	check_token_bad("", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("{}", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("{\"authorizationData\":[]}", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("{\"authorizationData\":{}}", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("{\"authorizationData\":[1]}", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("[{\"authorizationData\":[{}]}]", "GetAuthorizationToken answer has no authorizationData");
	check_token_bad("{\"authorizationData\":[{}]}", "GetAuthorizationToken answer has no usable authorizationToken");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":5,\"expiresAt\":1}]}",
	                "GetAuthorizationToken answer has no usable authorizationToken");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdT*nBhc3M=\",\"expiresAt\":1}]}",
	                "authorizationToken is not base64");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnBhc3M=x\",\"expiresAt\":1}]}",
	                "authorizationToken is not base64");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"Q\",\"expiresAt\":1}]}",
	                "authorizationToken is not base64");
	/* base64("AWSpass"), base64(":pass"), base64("AWS:") */
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTcGFzcw==\",\"expiresAt\":1}]}",
	                "authorizationToken is not USER:PASSWORD");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"OnBhc3M=\",\"expiresAt\":1}]}",
	                "authorizationToken is not USER:PASSWORD");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOg==\",\"expiresAt\":1}]}",
	                "authorizationToken is not USER:PASSWORD");
	/* base64("AWS:a\nb") and base64("AWS:a\0b") */
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOmEKYg==\",\"expiresAt\":1}]}",
	                "authorizationToken holds a byte other than printable ASCII");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOmEAYg==\",\"expiresAt\":1}]}",
	                "authorizationToken holds a byte other than printable ASCII");
	/* base64("AWS:caf\xc3\xa9"), base64("AWS:a\x7fb"), base64("AWS:\xff") */
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOmNhZsOp\",\"expiresAt\":1}]}",
	                "authorizationToken holds a byte other than printable ASCII");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOmF/Yg==\",\"expiresAt\":1}]}",
	                "authorizationToken holds a byte other than printable ASCII");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"QVdTOv8=\",\"expiresAt\":1}]}",
	                "authorizationToken holds a byte other than printable ASCII");
	/* a \u0000 would end the string inside cJSON and cut the token silently */
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\\u0000QQ==\",\"expiresAt\":1}]}",
	                "GetAuthorizationToken answer holds a \\u0000 escape");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":1,\"x\":\"\\u0000\"}]}",
	                "GetAuthorizationToken answer holds a \\u0000 escape");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\"}]}",
	                "GetAuthorizationToken answer has no valid expiresAt");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":\"1700000000\"}]}",
	                "GetAuthorizationToken answer has no valid expiresAt");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":-1}]}",
	                "GetAuthorizationToken answer has no valid expiresAt");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":1e300}]}",
	                "GetAuthorizationToken answer has no valid expiresAt");
	check_token_bad("{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":1,"
	                "\"proxyEndpoint\":\"https://x y\"}]}",
	                "GetAuthorizationToken answer has an invalid proxyEndpoint");
}

static void test_token_hostile(void)
{
	const char *good = "{\"authorizationData\":[{\"authorizationToken\":\"" TOKEN_B64 "\",\"expiresAt\":1700000000.5}]}";
	size_t len = strlen(good), cut;
	struct ecr_token t;
	char err[200];
	char *big;

	/* Every truncation is refused, none crashes (run under ASan). */
	for (cut = 0; cut < len; cut++) {
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, good, cut);
		CHECK_EQ_INT(ecr_parse_token_response(copy, cut, &t, err, sizeof err), AWS_EPARSE);
		free(copy);
	}
	/* A token past the cap. */
	big = malloc(ECR_MAX_TOKEN_BODY + 200);
	strcpy(big, "{\"authorizationData\":[{\"expiresAt\":1,\"authorizationToken\":\"");
	len = strlen(big);
	memset(big + len, 'A', ECR_MAX_TOKEN_BODY + 4);
	strcpy(big + len + ECR_MAX_TOKEN_BODY + 4, "\"}]}");
	CHECK_EQ_INT(ecr_parse_token_response(big, strlen(big), &t, err, sizeof err), AWS_EPARSE);
	CHECK_EQ_STR(err, "GetAuthorizationToken answer has no usable authorizationToken");
	free(big);
	/* Deep nesting: cJSON's limit, not the stack. */
	big = malloc(20001);
	memset(big, '[', 20000);
	big[20000] = '\0';
	CHECK_EQ_INT(ecr_parse_token_response(big, 20000, &t, err, sizeof err), AWS_EPARSE);
	free(big);
}

/* ---- payload ----------------------------------------------------------------------- */

static void test_payload(void)
{
	struct ecr_registry regs[4];
	struct ecr_token tokens[2];
	char err[200], *json;
	char pw1[] = "pw-east", pw2[] = "pw:west";
	char auth1[] = "QVdTOnB3LWVhc3Q=", auth2[] = "QVdTOnB3Ondlc3Q=";

	CHECK_EQ_INT(ecr_parse_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com", &regs[0], err, sizeof err), 0);
	CHECK_EQ_INT(ecr_parse_registry("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/x", &regs[1], err, sizeof err), 0);
	CHECK_EQ_INT(ecr_parse_registry("210987654321.dkr.ecr.eu-west-1.amazonaws.com", &regs[2], err, sizeof err), 0);
	/* the first host again, written differently: one key */
	CHECK_EQ_INT(ecr_parse_registry("https://123456789012.dkr.ecr.us-east-1.amazonaws.com", &regs[3], err, sizeof err), 0);

	memset(tokens, 0, sizeof tokens);
	strcpy(tokens[0].region, "eu-west-1");
	strcpy(tokens[0].username, "AWS");
	tokens[0].password = pw2;
	tokens[0].auth = auth2;
	tokens[0].expires_at = 1700000100.5;
	strcpy(tokens[1].region, "us-east-1");
	strcpy(tokens[1].username, "AWS");
	tokens[1].password = pw1;
	tokens[1].auth = auth1;
	tokens[1].expires_at = 1700000000.25;

	json = ecr_dockerconfigjson(regs, 4, tokens, 2);
	/* base64("AWS:pw-east") = QVdTOnB3LWVhc3Q=, base64("AWS:pw:west") = QVdTOnB3Ondlc3Q= */
	CHECK_EQ_STR(json,
		"{\"auths\":{"
		"\"123456789012.dkr.ecr.us-east-1.amazonaws.com\":{\"username\":\"AWS\",\"password\":\"pw-east\",\"auth\":\"QVdTOnB3LWVhc3Q=\"},"
		"\"123456789012.dkr.ecr.eu-west-1.amazonaws.com\":{\"username\":\"AWS\",\"password\":\"pw:west\",\"auth\":\"QVdTOnB3Ondlc3Q=\"},"
		"\"210987654321.dkr.ecr.eu-west-1.amazonaws.com\":{\"username\":\"AWS\",\"password\":\"pw:west\",\"auth\":\"QVdTOnB3Ondlc3Q=\"}}}");
	free(json);
	CHECK(ecr_earliest_expiry(tokens, 2) == 1700000000.25);
	CHECK(ecr_earliest_expiry(tokens, 1) == 1700000100.5);

	/* A region without a token: no payload rather than a hole in it. */
	CHECK(ecr_dockerconfigjson(regs, 4, tokens, 1) == NULL);
}

int main(void)
{
	test_registry_table();
	test_token_valid();
	test_token_bad();
	test_token_hostile();
	test_payload();
	return UNIT_DONE();
}
