/* aws: endpoint table under environment combinations, settings errors and source order,
 * the STS XML reader, the credentials and error JSON readers (valid, broken, hostile),
 * error classification, backoff bounds, times, and the no-credentials messages. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws.h"
#include "log.h"
#include "net.h"
#include "unit.h"

static const char *const aws_vars[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_STS_REGIONAL_ENDPOINTS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_STS",
	"AWS_CA_BUNDLE", "SSL_CERT_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_EC2_METADATA_DISABLED",
};

/* Clears every variable aws reads, then sets "NAME=value" items separated by '|'. */
static void set_env(const char *spec)
{
	char buf[1024], *item, *save = NULL;
	size_t i;

	for (i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
		unsetenv(aws_vars[i]);
	snprintf(buf, sizeof buf, "%s", spec);
	for (item = strtok_r(buf, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
		char *eq = strchr(item, '=');
		*eq = '\0';
		setenv(item, eq + 1, 1);
	}
}

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
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=arn:aws:iam::1:role/r|AWS_ROLE_SESSION_NAME=a",
	  "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-" },
	{ "AWS_WEB_IDENTITY_TOKEN_FILE=/tmp/token|AWS_ROLE_ARN=arn:aws:iam::1:role/r|AWS_ROLE_SESSION_NAME=a b",
	  "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-" },
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

	set_env("AWS_ROLE_ARN=arn:aws:iam::1:role/r|AWS_WEB_IDENTITY_TOKEN_FILE=/t|AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/c");
	CHECK_EQ_INT(aws_settings_from_env(&s, err, sizeof err), 0);
	CHECK_EQ_INT(s.source, AWS_SOURCE_WEB_IDENTITY);
	CHECK_EQ_STR(s.role_arn, "arn:aws:iam::1:role/r");
	CHECK_EQ_STR(s.web_identity_token_file, "/t");
	CHECK_EQ_STR(s.role_session_name, "");

	/* A role without a token file is not web identity (botocore). */
	set_env("AWS_ROLE_ARN=arn:aws:iam::1:role/r");
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

static void test_client_no_network(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	char err[400] = "";

	set_env("AWS_EC2_METADATA_DISABLED=true");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, "us-east-1", 0), AWS_ECREDS);
	CHECK_EQ_STR(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	             "credentials, IMDS disabled (AWS_EC2_METADATA_DISABLED=true)");
	CHECK_EQ_STR(aws_source_name(c->settings.source), "none");
	aws_client_free(c);

	set_env("AWS_ACCESS_KEY_ID=AKIAEXAMPLE|AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI|AWS_SESSION_TOKEN=tokenvalue");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), 0);
	CHECK_EQ_STR(c->creds.access_key_id, "AKIAEXAMPLE");
	CHECK_EQ_STR(c->creds.secret_access_key, "wJalrXUtnFEMI");
	CHECK_EQ_STR(c->creds.session_token, "tokenvalue");
	CHECK_EQ_STR(aws_source_name(c->settings.source), "env");
	log_forget_secrets();
	aws_client_free(c);
	CHECK_EQ_STR(c->creds.secret_access_key, "");

	/* The token file is read before anything is sent: a missing one fails at once. */
	set_env("AWS_ROLE_ARN=arn:aws:iam::1:role/r|AWS_WEB_IDENTITY_TOKEN_FILE=/nonexistent/token"
	        "|AWS_ENDPOINT_URL_STS=https://127.0.0.1:1");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, "us-east-1", 0), AWS_ECREDS);
	CHECK_EQ_STR(c->err, "AWS_WEB_IDENTITY_TOKEN_FILE /nonexistent/token: No such file or directory");
	aws_client_free(c);

	set_env("AWS_CA_BUNDLE=/nonexistent/ca.pem");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_STR(err, "AWS_CA_BUNDLE /nonexistent/ca.pem: No such file or directory");
	aws_client_free(c);

	set_env("AWS_REGION=ap-south-1");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	{
		char region[AWS_MAX_REGION];
		CHECK_EQ_INT(aws_default_region(c, region, sizeof region), 0);
		CHECK_EQ_STR(region, "ap-south-1");
	}
	aws_client_free(c);
	free(c);
}

/* IMDS that refuses or never answers: one attempt, one second, and a message that says so. */
static void test_client_imds_unreachable(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;
	char spec[200], err[400];
	int64_t start;
	int fd;

	/* Refused: a port nobody listens on (bound, never listening). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	snprintf(spec, sizeof spec, "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d", ntohs(addr.sin_port));
	set_env(spec);
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), AWS_ECREDS);
	CHECK(strncmp(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	              "credentials, IMDS unreachable (127.0.0.1: ", 108) == 0);
	aws_client_free(c);

	/* Silent: listening, never answering. */
	CHECK_EQ_INT(listen(fd, 4), 0);
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	start = net_now_ms();
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), AWS_ECREDS);
	CHECK(net_now_ms() - start < 2500);
	CHECK_EQ_STR(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	             "credentials, IMDS unreachable (127.0.0.1: timed out after 1s)");
	aws_client_free(c);
	close(fd);
	free(c);
}

/* ---- the STS XML reader ------------------------------------------------------------- */

#define STS_OK_HEAD \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n" \
	"  <AssumeRoleWithWebIdentityResult>\n" \
	"    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>\n" \
	"    <Credentials>\n" \
	"      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n" \
	"      <SecretAccessKey>secret/+key</SecretAccessKey>\n"
#define STS_OK_TAIL \
	"      <Expiration>2014-10-24T23:00:23Z</Expiration>\n" \
	"    </Credentials>\n" \
	"  </AssumeRoleWithWebIdentityResult>\n" \
	"  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n" \
	"</AssumeRoleWithWebIdentityResponse>\n"

static int sts(const char *xml, struct aws_credentials *c, char *code, char *message, char *err)
{
	return aws_parse_sts_response(xml, strlen(xml), c, code, 64, message, 256, err, 200);
}

static void test_sts_valid(void)
{
	struct aws_credentials c;
	char code[64], message[256], err[200];

	CHECK_EQ_INT(sts(STS_OK_HEAD "      <SessionToken>tok=</SessionToken>\n" STS_OK_TAIL, &c, code, message, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
	CHECK_EQ_STR(c.secret_access_key, "secret/+key");
	CHECK_EQ_STR(c.session_token, "tok=");
	CHECK_EQ_INT(c.expiration, 1414191623);
	CHECK_EQ_STR(code, "");

	/* Entities, character references, CDATA, comments, prefixes, attributes with '>'. */
	CHECK_EQ_INT(sts("<!-- c --><sts:R xmlns:sts=\"x\" a='>'><sts:Credentials>"
	                 "<AccessKeyId>A&amp;B&lt;C&gt;D&quot;E&apos;F</AccessKeyId>"
	                 "<SecretAccessKey>&#65;&#x42;&#x7e;<![CDATA[<&>]]></SecretAccessKey>"
	                 "<?pi x?><SessionToken>t</SessionToken>"
	                 "<Expiration>2014-10-24T23:00:23.123Z</Expiration>"
	                 "</sts:Credentials></sts:R>  \n", &c, code, message, err), 0);
	CHECK_EQ_STR(c.access_key_id, "A&B<C>D\"E'F");
	CHECK_EQ_STR(c.secret_access_key, "AB~<&>");
	CHECK_EQ_INT(c.expiration, 1414191623);

	/* Without an Expiration it is 0; an empty element closes itself. */
	CHECK_EQ_INT(sts("<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	                 "<SessionToken>c</SessionToken><Empty/></Credentials></R>", &c, code, message, err), 0);
	CHECK_EQ_INT(c.expiration, 0);
}

static void test_sts_errors(void)
{
	struct aws_credentials c;
	char code[64], message[256], err[200];

	CHECK_EQ_INT(sts("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	                 "  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n"
	                 "    <Message>The web identity token &amp; more\ncould not be validated</Message>\n"
	                 "  </Error>\n  <RequestId>1</RequestId>\n</ErrorResponse>\n", &c, code, message, err),
	             AWS_EREQUEST);
	CHECK_EQ_STR(code, "InvalidIdentityToken");
	CHECK_EQ_STR(message, "The web identity token & more could not be validated");
	/* aws-c-auth shows a bare <Error> root: Code is found anywhere. */
	CHECK_EQ_INT(sts("<Error><Code>AccessDenied</Code><Message>no</Message></Error>", &c, code, message, err),
	             AWS_EREQUEST);
	CHECK_EQ_STR(code, "AccessDenied");
	CHECK_EQ_STR(c.access_key_id, "");
}

static void check_sts_bad(const char *xml, const char *want)
{
	struct aws_credentials c;
	char code[64], message[256], err[200] = "";

	CHECK_EQ_INT(sts(xml, &c, code, message, err), AWS_EPARSE);
	CHECK_EQ_STR(err, want);
	CHECK_EQ_STR(c.secret_access_key, "");
}

static void test_sts_hostile(void)
{
	static const char ok[] = STS_OK_HEAD "      <SessionToken>tok=</SessionToken>\n" STS_OK_TAIL;
	char *big;
	size_t cut, i;

	check_sts_bad("", "STS answer is not valid XML: truncated");
	check_sts_bad("<R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R></S>", "STS answer is not valid XML: mismatched end tag");
	check_sts_bad("<R/><S/>", "STS answer is not valid XML: a second root element");
	check_sts_bad("x<R/>", "STS answer is not valid XML: text outside the root element");
	check_sts_bad("<R/>x", "STS answer is not valid XML: text outside the root element");
	check_sts_bad("<!DOCTYPE R [<!ENTITY e \"x\">]><R>&e;</R>",
	              "STS answer is not valid XML: DOCTYPE and declarations are not accepted");
	check_sts_bad("<R>&e;</R>", "STS answer is not valid XML: unknown entity");
	check_sts_bad("<R>&amp</R>", "STS answer is not valid XML: unknown entity");
	check_sts_bad("<R>&#0;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#xD800;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#x110000;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#123456789;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R a=b<c/>", "STS answer is not valid XML: '<' inside a tag");
	check_sts_bad("<>", "STS answer is not valid XML: missing element name");
	check_sts_bad("<R><![CDATA[x</R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R><!-- x</R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R/>", "STS answer has no Credentials");
	check_sts_bad("<R><Credentials><AccessKeyId>a b</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	              "<SessionToken>c</SessionToken></Credentials></R>", "STS answer has an invalid credential field");
	check_sts_bad("<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	              "<SessionToken>c</SessionToken><Expiration>yesterday</Expiration></Credentials></R>",
	              "STS answer has an invalid credential field");
	{
		static const char nul[] = "<R>a\0b</R>";
		struct aws_credentials c;
		char code[64], message[256], err[200];
		CHECK_EQ_INT(aws_parse_sts_response(nul, sizeof nul - 1, &c, code, 64, message, 256, err, 200), AWS_EPARSE);
		CHECK_EQ_STR(err, "STS answer is not valid XML: NUL byte");
	}

	/* Every truncation of a good answer is refused (never half-read credentials). */
	for (cut = 0; cut + 1 < sizeof ok; cut++) {
		struct aws_credentials c;
		char code[64], message[256], err[200];
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, ok, cut);
		/* Past the root's end tag only whitespace is left, which may be cut. */
		if (cut < sizeof ok - 2)
			CHECK_EQ_INT(aws_parse_sts_response(copy, cut, &c, code, 64, message, 256, err, 200), AWS_EPARSE);
		free(copy);
	}

	/* Depth: 32 levels are read, 33 are refused. */
	big = malloc(33 * 8 + 1);
	for (i = 0, big[0] = '\0'; i < 33; i++)
		strcat(big, "<a>");
	check_sts_bad(big, "STS answer is not valid XML: nested deeper than 32 elements");
	free(big);

	/* Text past 16384 bytes. */
	big = malloc(20000);
	strcpy(big, "<R>");
	memset(big + 3, 'x', 17000);
	strcpy(big + 17003, "</R>");
	check_sts_bad(big, "STS answer is not valid XML: text longer than 16384 bytes");
	free(big);

	/* A name past 64 characters. */
	big = malloc(200);
	strcpy(big, "<");
	memset(big + 1, 'n', 70);
	strcpy(big + 71, "/>");
	check_sts_bad(big, "STS answer is not valid XML: element name empty or too long");
	free(big);
}

/* ---- JSON readers ------------------------------------------------------------------- */

static int creds_json(const char *body, struct aws_credentials *c, char *err)
{
	return aws_parse_credentials_json(body, strlen(body), c, err, 200);
}

static void test_credentials_json(void)
{
	struct aws_credentials c;
	char err[200] = "";
	size_t cut;
	static const char container[] =
		"{\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"sec/ret\",\"Token\":\"tok+en=\","
		"\"AccountId\":\"123456789012\",\"Expiration\":\"2019-05-29T00:21:43Z\"}";

	CHECK_EQ_INT(creds_json(container, &c, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
	CHECK_EQ_STR(c.secret_access_key, "sec/ret");
	CHECK_EQ_STR(c.session_token, "tok+en=");
	CHECK_EQ_INT(c.expiration, 1559089303);

	CHECK_EQ_INT(creds_json("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2012-04-26T16:39:16Z\",\n"
	                        "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n"
	                        "  \"SecretAccessKey\" : \"s\",\n  \"Token\" : \"t\",\n"
	                        "  \"Expiration\" : \"2017-05-17T15:09:54+01:00\"\n}", &c, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAIMDS");
	CHECK_EQ_INT(c.expiration, 1495030194);   /* 14:09:54Z */

	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\"}", &c, err), 0);
	CHECK_EQ_STR(c.session_token, "");

	CHECK_EQ_INT(creds_json("{\"Code\":\"Failure\",\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has Code Failure");
	CHECK_EQ_INT(creds_json("[]", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer is not a JSON object");
	CHECK_EQ_INT(creds_json("{\"SecretAccessKey\":\"s\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid AccessKeyId");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":7}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid SecretAccessKey");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid SecretAccessKey");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Token\":\"s3cr3t\\r\\nX: y\"}", &c, err),
	             AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has an invalid Token");
	CHECK(strstr(err, "s3cr3t") == NULL);
	CHECK_EQ_STR(c.access_key_id, "");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Expiration\":\"2019-02-30T00:00:00Z\"}",
	                        &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has an invalid Expiration");
	for (cut = 0; cut + 1 < sizeof container; cut++) {
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, container, cut);
		CHECK_EQ_INT(aws_parse_credentials_json(copy, cut, &c, err, sizeof err), AWS_EPARSE);
		free(copy);
	}
}

static void check_error_json(const char *body, const char *header, const char *type, const char *message)
{
	char t[AWS_MAX_ERROR_TYPE], m[256];

	aws_parse_error_json(body, body ? strlen(body) : 0, header, header ? strlen(header) : 0, t, sizeof t, m, sizeof m);
	CHECK_EQ_STR(t, type);
	CHECK_EQ_STR(m, message);
}

static void test_error_json(void)
{
	char long_type[300];

	check_error_json("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", NULL,
	                 "ThrottlingException", "Rate exceeded");
	check_error_json("{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\",\"message\":\"x\"}", NULL,
	                 "ExpiredTokenException", "x");
	check_error_json("{\"message\":\"denied\"}", "AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.ecr/",
	                 "AccessDeniedException", "denied");
	check_error_json("{\"__type\":\"Other\"}", "FromHeader", "FromHeader", "");
	check_error_json("{\"code\":\"InvalidToken\",\"message\":\"no\\nline\"}", NULL, "InvalidToken", "no line");
	check_error_json("{\"Code\":\"X\",\"Message\":\"M\"}", NULL, "X", "M");
	check_error_json("not json", NULL, "", "");
	check_error_json(NULL, NULL, "", "");
	check_error_json("", "", "", "");
	check_error_json("{\"__type\":17}", NULL, "", "");
	memset(long_type, 'T', sizeof long_type - 1);
	long_type[sizeof long_type - 1] = '\0';
	check_error_json("{}", long_type, "", "");
}

/* ---- classification, backoff, time, names -------------------------------------------- */

static void check_sanitize(const char *in, const char *want)
{
	char out[AWS_MAX_ERROR_TYPE];
	aws_sanitize_error_type(in, strlen(in), out, sizeof out);
	CHECK_EQ_STR(out, want);
}

static void test_classification(void)
{
	/* The Smithy awsJson1_1 examples. */
	check_sanitize("FooError", "FooError");
	check_sanitize("FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/", "FooError");
	check_sanitize("aws.protocoltests.restjson#FooError", "FooError");
	check_sanitize("aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/",
	               "FooError");
	check_sanitize(" FooError ", "FooError");
	check_sanitize("a#b#c", "c");
	check_sanitize("", "");
	check_sanitize("Bad\x01Type", "");

	CHECK(aws_retryable_error("ThrottlingException", 400));
	CHECK(aws_retryable_error("Throttling", 400));
	CHECK(aws_retryable_error("ThrottledException", 400));
	CHECK(aws_retryable_error("TooManyRequestsException", 400));
	CHECK(aws_retryable_error("RequestLimitExceeded", 400));
	CHECK(aws_retryable_error("LimitExceededException", 400));
	CHECK(aws_retryable_error("SlowDown", 503));
	CHECK(aws_retryable_error("", 429));
	CHECK(aws_retryable_error("", 500));
	CHECK(aws_retryable_error("", 502));
	CHECK(aws_retryable_error("", 503));
	CHECK(aws_retryable_error("", 504));
	CHECK(aws_retryable_error("ServerException", 500));
	CHECK(!aws_retryable_error("AccessDeniedException", 400));
	CHECK(!aws_retryable_error("InvalidParameterException", 400));
	CHECK(!aws_retryable_error("", 403));
	CHECK(!aws_retryable_error("", 501));
	CHECK(!aws_retryable_error("ExpiredTokenException", 403));

	CHECK(aws_credential_error("ExpiredTokenException"));
	CHECK(aws_credential_error("ExpiredToken"));
	CHECK(aws_credential_error("UnrecognizedClientException"));
	CHECK(aws_credential_error("InvalidSignatureException"));
	CHECK(!aws_credential_error("AccessDeniedException"));
	CHECK(!aws_credential_error("ThrottlingException"));
	CHECK(!aws_credential_error(""));
}

static void test_names(void)
{
	CHECK(aws_valid_session_name("ecr-refresh-0123456789abcdef"));
	CHECK(aws_valid_session_name("a_b+c=d,e.f@g-h"));
	CHECK(aws_valid_session_name("ab"));
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
	test_settings_sources();
	test_client_no_network();
	test_client_imds_unreachable();
	test_sts_valid();
	test_sts_errors();
	test_sts_hostile();
	test_credentials_json();
	test_error_json();
	test_classification();
	test_names();
	set_env("");
	return UNIT_DONE();
}
