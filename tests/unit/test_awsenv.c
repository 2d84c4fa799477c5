/* awsenv: the endpoint table under environment combinations, settings errors and the
 * order of the credential sources, region and session names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsenv.h"
#include "awsvars.h"
#include "unit.h"

/* ---- endpoints ---------------------------------------------------------------------- */

struct endpoint_row {
	const char *env;
	enum aws_service svc;
	const char *region;
	const char *url;            /* NULL: an AWS_ECONFIG error containing `err` */
	const char *signing_region;
	const char *err;
};

#define ECR AWS_SERVICE_ECR
#define STS AWS_SERVICE_STS
#define FIPS "AWS_USE_FIPS_ENDPOINT=true"
#define DUAL "AWS_USE_DUALSTACK_ENDPOINT=true"

static const struct endpoint_row endpoint_rows[] = {
	{ "", ECR, "us-east-1", "https://api.ecr.us-east-1.amazonaws.com/", "us-east-1", NULL },
	{ "", ECR, "eu-west-1", "https://api.ecr.eu-west-1.amazonaws.com/", "eu-west-1", NULL },
	{ "", ECR, "cn-north-1", "https://api.ecr.cn-north-1.amazonaws.com.cn/", "cn-north-1", NULL },
	{ "", ECR, "cn-northwest-1", "https://api.ecr.cn-northwest-1.amazonaws.com.cn/", "cn-northwest-1", NULL },
	{ "", ECR, "us-gov-west-1", "https://api.ecr.us-gov-west-1.amazonaws.com/", "us-gov-west-1", NULL },
	{ "", ECR, "us-iso-east-1", "https://api.ecr.us-iso-east-1.c2s.ic.gov/", "us-iso-east-1", NULL },
	{ "", ECR, "us-isob-east-1", "https://api.ecr.us-isob-east-1.sc2s.sgov.gov/", "us-isob-east-1", NULL },
	{ FIPS, ECR, "us-east-1", "https://ecr-fips.us-east-1.amazonaws.com/", "us-east-1", NULL },
	{ "AWS_USE_FIPS_ENDPOINT=TRUE", ECR, "us-west-2", "https://ecr-fips.us-west-2.amazonaws.com/", "us-west-2", NULL },
	{ "AWS_USE_FIPS_ENDPOINT=yes", ECR, "us-west-2", "https://api.ecr.us-west-2.amazonaws.com/", "us-west-2", NULL },
	{ FIPS, ECR, "us-gov-east-1", "https://ecr-fips.us-gov-east-1.amazonaws.com/", "us-gov-east-1", NULL },
	{ DUAL, ECR, "eu-west-1", "https://ecr.eu-west-1.api.aws/", "eu-west-1", NULL },
	{ FIPS "|" DUAL, ECR, "us-east-2", "https://ecr-fips.us-east-2.api.aws/", "us-east-2", NULL },
	{ DUAL, ECR, "cn-north-1", "https://ecr.cn-north-1.api.amazonwebservices.com.cn/", "cn-north-1", NULL },
	{ DUAL, ECR, "us-iso-east-1", NULL, NULL, "has no dual-stack endpoints" },
	{ "", STS, "us-east-1", "https://sts.us-east-1.amazonaws.com/", "us-east-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=regional", STS, "eu-west-1", "https://sts.eu-west-1.amazonaws.com/", "eu-west-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "us-east-1", "https://sts.amazonaws.com/", "us-east-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "eu-west-1", "https://sts.amazonaws.com/", "us-east-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "ap-east-1", "https://sts.ap-east-1.amazonaws.com/", "ap-east-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com/", "us-gov-west-1", NULL },
	{ "AWS_STS_REGIONAL_ENDPOINTS=legacy|" FIPS, STS, "us-east-1", "https://sts-fips.us-east-1.amazonaws.com/", "us-east-1", NULL },
	{ FIPS, STS, "us-east-1", "https://sts-fips.us-east-1.amazonaws.com/", "us-east-1", NULL },
	{ FIPS, STS, "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com/", "us-gov-west-1", NULL },
	{ DUAL, STS, "us-east-1", "https://sts.us-east-1.api.aws/", "us-east-1", NULL },
	{ FIPS "|" DUAL, STS, "us-east-1", "https://sts-fips.us-east-1.api.aws/", "us-east-1", NULL },
	{ "", STS, "cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn/", "cn-northwest-1", NULL },
	/* Overrides change where the request goes, never the signing region. */
	{ "AWS_ENDPOINT_URL_ECR=https://127.0.0.1:8443", ECR, "eu-west-1", "https://127.0.0.1:8443/", "eu-west-1", NULL },
	{ "AWS_ENDPOINT_URL_ECR=https://127.0.0.1:8443", STS, "eu-west-1", "https://sts.eu-west-1.amazonaws.com/", "eu-west-1", NULL },
	{ "AWS_ENDPOINT_URL=https://vpce.example/base/", ECR, "us-east-1", "https://vpce.example/base/", "us-east-1", NULL },
	{ "AWS_ENDPOINT_URL=https://vpce.example/base/", STS, "us-east-1", "https://vpce.example/base/", "us-east-1", NULL },
	{ "AWS_ENDPOINT_URL=https://a.example|AWS_ENDPOINT_URL_STS=http://b.example:81", STS, "us-west-1",
	  "http://b.example:81/", "us-west-1", NULL },
	{ "AWS_ENDPOINT_URL=https://a.example|AWS_ENDPOINT_URL_STS=http://b.example:81", ECR, "us-west-1",
	  "https://a.example/", "us-west-1", NULL },
	{ "AWS_ENDPOINT_URL_STS=https://sts.local|AWS_STS_REGIONAL_ENDPOINTS=legacy", STS, "us-east-1",
	  "https://sts.local/", "us-east-1", NULL },
	{ "", ECR, "US-EAST-1", NULL, NULL, "is not an AWS region name" },
	{ "", ECR, "", NULL, NULL, "is not an AWS region name" },
	{ "", ECR, "us-east-1.evil.example/", NULL, NULL, "is not an AWS region name" },
};

static void test_endpoints(void)
{
	size_t i;

	for (i = 0; i < sizeof endpoint_rows / sizeof endpoint_rows[0]; i++) {
		const struct endpoint_row *row = &endpoint_rows[i];
		struct aws_settings s;
		struct aws_endpoint ep;
		char err[300] = "";
		int rc;

		set_env(row->env);
		CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
		rc = aws_endpoint_for(&s, row->svc, row->region, &ep, err, sizeof err);
		if (row->url) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(ep.url, row->url);
			CHECK_EQ_STR(ep.signing_region, row->signing_region);
			CHECK_EQ_STR(ep.signing_name, row->svc == ECR ? "ecr" : "sts");
		} else {
			CHECK_EQ_INT(rc, AWS_ECONFIG);
			CHECK(strstr(err, row->err) != NULL);
		}
		if ((row->url && rc != 0) || (!row->url && rc == 0))
			fprintf(stderr, "  row %zu: env [%s] region %s\n", i, row->env, row->region);
	}
}

/* ---- settings ---------------------------------------------------------------------- */

struct settings_error_row {
	const char *env;
	const char *err;            /* the whole message */
};

static const struct settings_error_row settings_errors[] = {
	{ "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY" },
	{ "AWS_SECRET_ACCESS_KEY=s3cr3tValue", "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID" },
	{ "AWS_ACCESS_KEY_ID=AKIA|AWS_SECRET_ACCESS_KEY=has space s3cr3tValue",
	  "AWS_SECRET_ACCESS_KEY is not a valid secret key" },
	{ "AWS_ACCESS_KEY_ID=AKIA|AWS_SECRET_ACCESS_KEY=x|AWS_SESSION_TOKEN=tok\ts3cr3tValue",
	  "AWS_SESSION_TOKEN is not a valid session token" },
	{ FIPS "|AWS_ENDPOINT_URL_ECR=https://127.0.0.1:1",
	  "AWS_USE_FIPS_ENDPOINT cannot be combined with a custom endpoint (AWS_ENDPOINT_URL_ECR)" },
	{ FIPS "|AWS_ENDPOINT_URL=https://127.0.0.1:1",
	  "AWS_USE_FIPS_ENDPOINT cannot be combined with a custom endpoint (AWS_ENDPOINT_URL)" },
	{ DUAL "|AWS_ENDPOINT_URL_STS=https://127.0.0.1:1",
	  "AWS_USE_DUALSTACK_ENDPOINT cannot be combined with a custom endpoint (AWS_ENDPOINT_URL_STS)" },
	{ "AWS_ENDPOINT_URL_ECR=https://h.example/?x=1", "AWS_ENDPOINT_URL_ECR: an endpoint URL has no query and no user name" },
	{ "AWS_ENDPOINT_URL=https://u:p@h.example/", "AWS_ENDPOINT_URL: an endpoint URL has no query and no user name" },
	{ "AWS_REGION=US_EAST_1", "AWS_REGION \"US_EAST_1\" is not an AWS region name" },
	{ "AWS_DEFAULT_REGION=eu west", "AWS_DEFAULT_REGION \"eu west\" is not an AWS region name" },
	{ "AWS_STS_REGIONAL_ENDPOINTS=global", "AWS_STS_REGIONAL_ENDPOINTS must be legacy or regional" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token", "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r|AWS_ROLE_SESSION_NAME=a",
	  "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r|AWS_ROLE_SESSION_NAME=a b",
	  "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=not-an-arn",
	  "AWS_ROLE_ARN is not a valid role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=arn:aws:iam::123456789012:user/u",
	  "AWS_ROLE_ARN is not a valid role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)" },
	{ "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=v2/credentials",
	  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'" },
	{ "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://10.0.0.1/creds",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, 169.254.170.2, "
	  "169.254.170.23 or fd00:ec2::23, not 10.0.0.1" },
	{ "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.24/v1/credentials",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, 169.254.170.2, "
	  "169.254.170.23 or fd00:ec2::23, not 169.254.170.24" },
	{ "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://[fd00:ec2::24]/v1/credentials",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, 169.254.170.2, "
	  "169.254.170.23 or fd00:ec2::23, not fd00:ec2::24" },
	{ "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://[::ffff:10.1.2.3]/",
	  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, 169.254.170.2, "
	  "169.254.170.23 or fd00:ec2::23, not ::ffff:10.1.2.3" },
	{ "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv5", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6" },
};

/* A FULL_URI host name is checked when the credentials are fetched, never while the
 * configuration is read: no DNS answer (here: none can come) decides a configuration. */
static void test_full_uri_name_not_resolved(void)
{
	struct aws_settings s;
	char err[400] = "";

	set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://creds.ecr-refresh.invalid/v1/credentials");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_CONTAINER);
	CHECK_EQ_STR(err, "");
	err[0] = '\0';
	CHECK_EQ_INT(aws_check_full_uri("http://10.1.2.3/creds", 0, err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_INT(aws_check_full_uri("http://localhost:9/creds", 1, err, sizeof err), 0);
}

static void test_settings_errors(void)
{
	size_t i;

	for (i = 0; i < sizeof settings_errors / sizeof settings_errors[0]; i++) {
		struct aws_settings s;
		char err[400] = "";

		set_env(settings_errors[i].env);
		CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), AWS_ECONFIG);
		CHECK_EQ_STR(err, settings_errors[i].err);
		/* A secret value is never quoted back. */
		CHECK(strstr(err, "s3cr3tValue") == NULL);
	}
	{
		struct aws_settings s;
		char err[400] = "";
		set_env("AWS_ENDPOINT_URL_ECR=ftp://h.example/");
		CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), AWS_ECONFIG);
		CHECK(strncmp(err, "AWS_ENDPOINT_URL_ECR: ", 22) == 0);
		set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT=169.254.169.254");
		CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), AWS_ECONFIG);
		CHECK(strncmp(err, "AWS_EC2_METADATA_SERVICE_ENDPOINT: ", 35) == 0);
	}
}

static void test_settings_sources(void)
{
	struct aws_settings s;
	char err[400] = "";

	set_env("AWS_ACCESS_KEY_ID=AKIA|AWS_SECRET_ACCESS_KEY=x|AWS_ROLE_ARN=arn|AWS_WEB_IDENTITY_TOKEN_FILE=/t"
	        "|AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/c");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_ENV);

	set_env("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r|AWS_WEB_IDENTITY_TOKEN_FILE=/t|AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/c");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_WEB_IDENTITY);
	CHECK_EQ_STR(s.role_arn, "arn:aws:iam::123456789012:role/r");
	CHECK_EQ_STR(s.web_identity_token_file, "/t");
	CHECK_EQ_STR(s.role_session_name, "");

	/* A role without a token file is not web identity (botocore). */
	set_env("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_IMDS);

	/* RELATIVE_URI wins over FULL_URI; the token file over the static token. */
	set_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/abc|AWS_CONTAINER_CREDENTIALS_FULL_URI=http://10.0.0.1/"
	        "|AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/f|AWS_CONTAINER_AUTHORIZATION_TOKEN=t");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_CONTAINER);
	CHECK_EQ_STR(s.container_url, "http://169.254.170.2/v2/credentials/abc");
	CHECK_EQ_STR(s.container_token_file, "/f");
	CHECK_EQ_INT(s.container_token_static, 0);

	{
		static const char *const allowed[] = {
			"http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials",
			"http://127.0.0.1:9/x", "http://127.8.9.10/x", "http://[::1]:80/", "http://169.254.170.2/x",
			"http://localhost:1234/creds", "https://creds.example.com/x", "https://10.0.0.1/",
		};
		size_t i;
		char spec[300];
		for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
			snprintf(spec, sizeof spec, "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s|AWS_CONTAINER_AUTHORIZATION_TOKEN=t",
			         allowed[i]);
			set_env(spec);
			CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
			CHECK_EQ_INT(s.source, AWS_SOURCE_CONTAINER);
			CHECK_EQ_STR(s.container_url, allowed[i]);
			CHECK_EQ_INT(s.container_token_static, 1);
		}
	}

	set_env("");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_IMDS);
	CHECK_EQ_STR(s.imds_endpoint, "http://169.254.169.254");
	CHECK_EQ_STR(s.region, "");
	CHECK_EQ_INT(s.sts_legacy, 0);

	set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_STR(s.imds_endpoint, "http://[fd00:ec2::254]");

	set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:8080/|AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_STR(s.imds_endpoint, "http://127.0.0.1:8080");

	set_env("AWS_EC2_METADATA_DISABLED=TRUE");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_NONE);
	set_env("AWS_EC2_METADATA_DISABLED=false");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_IMDS);

	set_env("AWS_REGION=eu-west-1|AWS_DEFAULT_REGION=us-east-1|AWS_STS_REGIONAL_ENDPOINTS=Legacy");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_STR(s.region, "eu-west-1");
	CHECK_EQ_INT(s.sts_legacy, 1);
	set_env("AWS_DEFAULT_REGION=us-east-1|AWS_REGION=");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_STR(s.region, "us-east-1");
}

/* ---- the client, without a network ------------------------------------------------- */

static void test_names(void)
{
	CHECK(aws_valid_session_name("ecr-refresh-0123456789abcdef"));
	CHECK(aws_valid_session_name("a_b+c=d,e.f@g-h"));
	CHECK(aws_valid_session_name("ab"));
	CHECK(aws_valid_role_arn("arn:aws:iam::123456789012:role/ecr-refresh"));
	CHECK(aws_valid_role_arn("arn:aws-cn:iam::123456789012:role/path/to/x_y+z=a,b.c@d-e"));
	CHECK(aws_valid_role_arn("arn:aws-us-gov:iam::123456789012:role/r"));
	CHECK(!aws_valid_role_arn("not-an-arn"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:user/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::12345678901:role/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::1234567890123:role/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn:aws:sts::123456789012:role/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn::iam::123456789012:role/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn:AWS:iam::123456789012:role/ecr-refresh"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:role/"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:role/path/"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:role/a b"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:role/x\n"));
	CHECK(!aws_valid_role_arn("arn:aws:iam::123456789012:role/"
	                          "12345678901234567890123456789012345678901234567890123456789012345"));
	CHECK(aws_valid_role_arn("arn:aws:iam::123456789012:role/"
	                         "1234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!aws_valid_session_name("a"));
	CHECK(!aws_valid_session_name("a b"));
	CHECK(!aws_valid_session_name("a/b"));
	CHECK(!aws_valid_session_name("12345678901234567890123456789012345678901234567890123456789012345"));
	CHECK(aws_valid_session_name("1234567890123456789012345678901234567890123456789012345678901234"));

	CHECK(aws_valid_region("us-east-1"));
	CHECK(aws_valid_region("cn-north-1"));
	CHECK(!aws_valid_region("-us"));
	CHECK(!aws_valid_region("us-"));
	CHECK(!aws_valid_region("US-EAST-1"));
	CHECK(!aws_valid_region("us.east"));
	CHECK(!aws_valid_region(""));
}

int main(void)
{
	test_endpoints();
	test_settings_errors();
	test_full_uri_name_not_resolved();
	test_settings_sources();
	test_names();
	set_env("");
	return UNIT_DONE();
}
