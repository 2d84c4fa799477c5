/*
 * awsenv: regions, partitions, endpoints and the credential source, from the environment;
 * see awsenv.h.
 *
 * The order of the chain and the meaning of each variable follow the AWS SDKs reference
 * (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html) and
 * aws-c-auth's default chain: env keys, web identity, container, IMDS. Profiles and the
 * shared config files are left out on purpose: a pod has none.
 */
#include "awsenv.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- small helpers ------------------------------------------------------------------- */

const char *aws_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The SDKs read boolean settings as "true" in any case; anything else is false. */
static int env_true(const char *name)
{
	const char *v = aws_env(name);
	return v && strcasecmp(v, "true") == 0;
}

/* ---- regions, partitions, endpoints --------------------------------------------------- */

int aws_valid_region(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return 0;
	return n >= 1 && n <= 63 && s[0] != '-' && s[n - 1] != '-';
}

struct partition {
	const char *prefix;        /* region name prefix */
	const char *name;
	const char *dns;           /* dnsSuffix */
	const char *dual_dns;      /* dualStackDnsSuffix; NULL when the partition has none */
};

/* From botocore's endpoints.json / partitions.json: the region prefixes of each partition,
 * longest first so us-isob- is not taken for us-iso-. */
static const struct partition partitions[] = {
	{ "cn-", "aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn" },
	{ "us-gov-", "aws-us-gov", "amazonaws.com", "api.aws" },
	{ "us-isob-", "aws-iso-b", "sc2s.sgov.gov", NULL },
	{ "us-isof-", "aws-iso-f", "csp.hci.ic.gov", NULL },
	{ "us-iso-", "aws-iso", "c2s.ic.gov", NULL },
	{ "eu-isoe-", "aws-iso-e", "cloud.adc-e.uk", NULL },
	{ "eusc-", "aws-eusc", "amazonaws.eu", NULL },
	{ "", "aws", "amazonaws.com", "api.aws" },
};

static const struct partition *partition_of(const char *region)
{
	size_t i;
	for (i = 0; i < sizeof partitions / sizeof partitions[0]; i++)
		if (strncmp(region, partitions[i].prefix, strlen(partitions[i].prefix)) == 0)
			return &partitions[i];
	return &partitions[sizeof partitions / sizeof partitions[0] - 1];
}

/* The regions whose STS calls went to the global endpoint before regionalisation, the only
 * ones AWS_STS_REGIONAL_ENDPOINTS=legacy sends to sts.amazonaws.com
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-sts-regionalized-endpoints.html). */
static int sts_legacy_region(const char *region)
{
	static const char *const legacy[] = {
		"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
		"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3",
		"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
	};
	size_t i;
	for (i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
		if (strcmp(region, legacy[i]) == 0)
			return 1;
	return 0;
}

int aws_endpoint_for(const struct aws_settings *s, enum aws_service svc, const char *region,
                     struct aws_endpoint *out, char *err, size_t errlen)
{
	const struct partition *part;
	const char *override = svc == AWS_SERVICE_ECR ? s->endpoint_url_ecr
		: svc == AWS_SERVICE_ECR_PUBLIC ? s->endpoint_url_ecr_public : s->endpoint_url_sts;
	const char *dns;
	int n;

	memset(out, 0, sizeof *out);
	out->signing_name = svc == AWS_SERVICE_ECR ? "ecr" : svc == AWS_SERVICE_ECR_PUBLIC ? "ecr-public" : "sts";
	if (!aws_valid_region(region)) {
		snprintf(err, errlen, "\"%.64s\" is not an AWS region name", region);
		return AWS_ECONFIG;
	}
	/* An override replaces scheme, host, port and base path; the signing name and region
	 * stay those of the service and the request (sdkref feature-ss-endpoints.html). */
	memcpy(out->signing_region, region, strlen(region) + 1);
	if (*override) {
		size_t len = strlen(override);
		while (len > 0 && override[len - 1] == '/')
			len--;
		n = snprintf(out->url, sizeof out->url, "%.*s/", (int)len, override);
		return n > 0 && (size_t)n < sizeof out->url ? 0 : AWS_ECONFIG;
	}
	part = partition_of(region);
	if (s->use_dualstack && !part->dual_dns) {
		snprintf(err, errlen, "AWS_USE_DUALSTACK_ENDPOINT: the %s partition (%s) has no "
		         "dual-stack endpoints", part->name, region);
		return AWS_ECONFIG;
	}
	dns = s->use_dualstack ? part->dual_dns : part->dns;
	if (svc == AWS_SERVICE_ECR) {
		/*
		 * FIPS: ecr-fips.{region}.amazonaws.com. botocore's rule set names two forms:
		 * the per-region table (every region that has ECR FIPS: us-east-1/2, us-west-1/2,
		 * us-gov-east-1/west-1) uses ecr-fips.{r}.amazonaws.com, and only the generic
		 * fallback builds api.ecr-fips.{r}; the SDKs thus resolve the first form wherever
		 * a FIPS endpoint exists, and it is the one the ECR user guide lists
		 * (https://docs.aws.amazon.com/general/latest/gr/ecr.html). Dual-stack follows the
		 * ECR dual-stack docs: ecr.{r}.api.aws, ecr-fips.{r}.api.aws.
		 */
		n = snprintf(out->url, sizeof out->url, "https://%s.%s.%s/",
		             s->use_fips ? "ecr-fips" : s->use_dualstack ? "ecr" : "api.ecr", region, dns);
	} else if (svc == AWS_SERVICE_ECR_PUBLIC) {
		/* botocore's ecr-public rule set: api.ecr-public[-fips].{r}.amazonaws.com, dual-stack
		 * ecr-public.{r}.api.aws and api.ecr-public-fips.{r}.api.aws. */
		n = snprintf(out->url, sizeof out->url, "https://%s.%s.%s/",
		             s->use_fips ? "api.ecr-public-fips" : s->use_dualstack ? "ecr-public" : "api.ecr-public",
		             region, dns);
	} else if (s->sts_legacy && !s->use_fips && !s->use_dualstack && strcmp(part->name, "aws") == 0
	           && sts_legacy_region(region)) {
		/* The global endpoint signs for us-east-1. */
		n = snprintf(out->url, sizeof out->url, "https://sts.amazonaws.com/");
		memcpy(out->signing_region, "us-east-1", sizeof "us-east-1");
	} else if (s->use_fips && !s->use_dualstack && strcmp(part->name, "aws-us-gov") == 0) {
		/* GovCloud's regular STS endpoints are FIPS endpoints already (docs/design.md
		 * "STS AssumeRoleWithWebIdentity (IRSA)"). */
		n = snprintf(out->url, sizeof out->url, "https://sts.%s.%s/", region, dns);
	} else {
		n = snprintf(out->url, sizeof out->url, "https://%s.%s.%s/",
		             s->use_fips ? "sts-fips" : "sts", region, dns);
	}
	return n > 0 && (size_t)n < sizeof out->url ? 0 : AWS_ECONFIG;
}

/* ---- reading the environment ---------------------------------------------------------- */

/* http: is acceptable for container credentials only towards this host itself or the
 * ECS / EKS Pod Identity agents (sdkref feature-container-credentials.html). */
static int container_address_allowed(const struct sockaddr *sa)
{
	static const unsigned char ecs_v4[4] = { 169, 254, 170, 2 };
	static const unsigned char eks_v4[4] = { 169, 254, 170, 23 };
	static const unsigned char eks_v6[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23 };
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *a;

	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (memcmp(a, eks_v6, 16) == 0 || memcmp(a, &in6addr_loopback, 16) == 0)
			return 1;
		if (memcmp(a, mapped, 12) != 0)
			return 0;
		a += 12;
	} else {
		return 0;
	}
	return a[0] == 127 || memcmp(a, ecs_v4, 4) == 0 || memcmp(a, eks_v4, 4) == 0;
}

int aws_check_full_uri(const char *uri, int resolve, char *err, size_t errlen)
{
	struct http_url url;
	struct addrinfo hints, *res = NULL, *ai;
	char uerr[160];
	int rc, allowed = 1;

	if (http_parse_url(uri, &url, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: %s", uerr);
		return AWS_ECONFIG;
	}
	if (url.https || (!url.host_is_ip && !resolve))
		return 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = url.host_is_ip ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(url.host, url.port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: cannot resolve %s: %s",
		         url.host, gai_strerror(rc));
		return AWS_ECONFIG;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (!container_address_allowed(ai->ai_addr))
			allowed = 0;
	freeaddrinfo(res);
	if (!allowed) {
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to "
		         "loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23, not %s", url.host);
		return AWS_ECONFIG;
	}
	return 0;
}

static int read_endpoint_url(const char *name, const char *fallback, char *dst, size_t cap,
                             char *err, size_t errlen)
{
	const char *v = aws_env(name);
	const char *var = name;
	struct http_url url;
	char uerr[160];

	if (!v) {
		v = aws_env(fallback);
		var = fallback;
	}
	if (!v)
		return 0;
	if (http_parse_url(v, &url, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "%s: %s", var, uerr);
		return AWS_ECONFIG;
	}
	if (strchr(url.path, '?') || url.userinfo[0]) {
		snprintf(err, errlen, "%s: an endpoint URL has no query and no user name", var);
		return AWS_ECONFIG;
	}
	if (aws_copy_str(dst, cap - 1, v) != 0) {
		snprintf(err, errlen, "%s: longer than %zu bytes", var, cap - 2);
		return AWS_ECONFIG;
	}
	return 0;
}

static int read_path(const char *name, char *dst, size_t cap, char *err, size_t errlen)
{
	const char *v = aws_env(name);

	if (v && aws_copy_str(dst, cap, v) != 0) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", name, cap - 1);
		return AWS_ECONFIG;
	}
	return 0;
}

/* Static keys from the environment, checked (values are never quoted in messages: only
 * which variable is wrong). */
static int env_keys(struct aws_settings *s, const char *key_id, const char *secret, char *err, size_t errlen)
{
	const char *token = aws_env("AWS_SESSION_TOKEN");

	if (!key_id || !secret) {
		snprintf(err, errlen, "%s is set without %s", key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		         key_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return AWS_ECONFIG;
	}
	if (strlen(key_id) >= AWS_MAX_KEY_ID || !aws_visible_ascii(key_id, strlen(key_id))) {
		snprintf(err, errlen, "AWS_ACCESS_KEY_ID is not a valid access key id");
		return AWS_ECONFIG;
	}
	if (strlen(secret) >= AWS_MAX_SECRET_KEY || !aws_visible_ascii(secret, strlen(secret))) {
		snprintf(err, errlen, "AWS_SECRET_ACCESS_KEY is not a valid secret key");
		return AWS_ECONFIG;
	}
	if (token && (strlen(token) >= AWS_MAX_SESSION_TOKEN || !aws_visible_ascii(token, strlen(token)))) {
		snprintf(err, errlen, "AWS_SESSION_TOKEN is not a valid session token");
		return AWS_ECONFIG;
	}
	s->source = AWS_SOURCE_ENV;
	return 0;
}

/* IRSA: the role, the token file and the session name. botocore: a token file without a
 * role is a configuration error; a role without a token file is simply not this provider. */
static int env_web_identity(struct aws_settings *s, char *err, size_t errlen)
{
	const char *v = aws_env("AWS_ROLE_SESSION_NAME");
	int rc;

	if (!aws_env("AWS_ROLE_ARN")) {
		snprintf(err, errlen, "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN");
		return AWS_ECONFIG;
	}
	if (aws_copy_str(s->role_arn, sizeof s->role_arn, aws_env("AWS_ROLE_ARN")) != 0 ||
	    !aws_valid_role_arn(s->role_arn)) {
		snprintf(err, errlen, "AWS_ROLE_ARN is not a valid role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)");
		return AWS_ECONFIG;
	}
	if ((rc = read_path("AWS_WEB_IDENTITY_TOKEN_FILE", s->web_identity_token_file,
	                    sizeof s->web_identity_token_file, err, errlen)) != 0)
		return rc;
	if (v && (!aws_valid_session_name(v) || aws_copy_str(s->role_session_name, sizeof s->role_session_name, v) != 0)) {
		snprintf(err, errlen, "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-");
		return AWS_ECONFIG;
	}
	s->source = AWS_SOURCE_WEB_IDENTITY;
	return 0;
}

/* Container credentials (ECS, EKS Pod Identity): RELATIVE_URI wins, as in every SDK
 * (sdkref feature-container-credentials.html); then the authorization token's source. */
static int env_container(struct aws_settings *s, const char *rel, const char *full, char *err, size_t errlen)
{
	int rc;

	if (rel) {
		if (rel[0] != '/' || snprintf(s->container_url, sizeof s->container_url, "http://169.254.170.2%s", rel) >=
		                         (int)sizeof s->container_url) {
			snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'");
			return AWS_ECONFIG;
		}
	} else {
		if (aws_copy_str(s->container_url, sizeof s->container_url, full) != 0) {
			snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
			return AWS_ECONFIG;
		}
		if ((rc = aws_check_full_uri(full, 0, err, errlen)) != 0)
			return rc;
	}
	if ((rc = read_path("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", s->container_token_file,
	                    sizeof s->container_token_file, err, errlen)) != 0)
		return rc;
	s->container_token_static = !s->container_token_file[0] && aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL;
	s->source = AWS_SOURCE_CONTAINER;
	return 0;
}

/* The first credential source the environment configures, in the SDKs' order. */
static int settings_credentials(struct aws_settings *s, char *err, size_t errlen)
{
	const char *key_id = aws_env("AWS_ACCESS_KEY_ID"), *secret = aws_env("AWS_SECRET_ACCESS_KEY");
	const char *rel = aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");

	if (key_id || secret)
		return env_keys(s, key_id, secret, err, errlen);
	if (aws_env("AWS_WEB_IDENTITY_TOKEN_FILE"))
		return env_web_identity(s, err, errlen);
	if (rel || full)
		return env_container(s, rel, full, err, errlen);
	s->source = s->imds_disabled ? AWS_SOURCE_NONE : AWS_SOURCE_IMDS;
	return 0;
}

/* The region, FIPS / dual-stack and the STS endpoint style. */
static int env_region(struct aws_settings *s, char *err, size_t errlen)
{
	const char *v = aws_env("AWS_REGION") ? aws_env("AWS_REGION") : aws_env("AWS_DEFAULT_REGION");

	if (v && (!aws_valid_region(v) || aws_copy_str(s->region, sizeof s->region, v) != 0)) {
		snprintf(err, errlen, "%s \"%.64s\" is not an AWS region name",
		         aws_env("AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION", v);
		return AWS_ECONFIG;
	}
	s->use_fips = env_true("AWS_USE_FIPS_ENDPOINT");
	s->use_dualstack = env_true("AWS_USE_DUALSTACK_ENDPOINT");
	v = aws_env("AWS_STS_REGIONAL_ENDPOINTS");
	if (v && strcasecmp(v, "legacy") == 0) {
		s->sts_legacy = 1;
	} else if (v && strcasecmp(v, "regional") != 0) {
		snprintf(err, errlen, "AWS_STS_REGIONAL_ENDPOINTS must be legacy or regional");
		return AWS_ECONFIG;
	}
	return 0;
}

/* The endpoint URLs, and the combinations the endpoint rule sets refuse: "Invalid
 * Configuration: FIPS and custom endpoint are not supported" (the same for dual-stack). */
static int env_endpoints(struct aws_settings *s, char *err, size_t errlen)
{
	int rc;

	if ((rc = read_endpoint_url("AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL", s->endpoint_url_ecr,
	                            sizeof s->endpoint_url_ecr, err, errlen)) != 0 ||
	    (rc = read_endpoint_url("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", s->endpoint_url_sts,
	                            sizeof s->endpoint_url_sts, err, errlen)) != 0 ||
	    (rc = read_endpoint_url("AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL", s->endpoint_url_ecr_public,
	                            sizeof s->endpoint_url_ecr_public, err, errlen)) != 0)
		return rc;
	if ((s->use_fips || s->use_dualstack) &&
	    (s->endpoint_url_ecr[0] || s->endpoint_url_sts[0] || s->endpoint_url_ecr_public[0])) {
		snprintf(err, errlen, "%s cannot be combined with a custom endpoint (%s)",
		         s->use_fips ? "AWS_USE_FIPS_ENDPOINT" : "AWS_USE_DUALSTACK_ENDPOINT",
		         aws_env("AWS_ENDPOINT_URL_ECR") ? "AWS_ENDPOINT_URL_ECR"
		         : aws_env("AWS_ENDPOINT_URL_STS") ? "AWS_ENDPOINT_URL_STS"
		         : aws_env("AWS_ENDPOINT_URL_ECR_PUBLIC") ? "AWS_ENDPOINT_URL_ECR_PUBLIC" : "AWS_ENDPOINT_URL");
		return AWS_ECONFIG;
	}
	return 0;
}

/* The instance metadata endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the address of
 * the endpoint mode; kept without trailing slashes. */
static int env_imds(struct aws_settings *s, char *err, size_t errlen)
{
	const char *v = aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	struct http_url url;
	char uerr[160];
	size_t n;

	s->imds_disabled = env_true("AWS_EC2_METADATA_DISABLED");
	if (!v) {
		if (mode && strcasecmp(mode, "ipv6") != 0 && strcasecmp(mode, "ipv4") != 0) {
			snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
			return AWS_ECONFIG;
		}
		v = mode && strcasecmp(mode, "ipv6") == 0 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
	}
	if (http_parse_url(v, &url, uerr, sizeof uerr) != 0 ||
	    aws_copy_str(s->imds_endpoint, sizeof s->imds_endpoint - 64, v) != 0) {
		snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT: %s",
		         strlen(v) >= sizeof s->imds_endpoint - 64 ? "too long" : uerr);
		return AWS_ECONFIG;
	}
	n = strlen(s->imds_endpoint);
	while (n > 0 && s->imds_endpoint[n - 1] == '/')
		s->imds_endpoint[--n] = '\0';
	return 0;
}

int aws_settings_from_env(struct aws_settings *s, char *err, size_t errlen)
{
	int rc;

	memset(s, 0, sizeof *s);
	if ((rc = env_region(s, err, errlen)) != 0 || (rc = env_endpoints(s, err, errlen)) != 0)
		return rc;
	if ((rc = read_path("AWS_CA_BUNDLE", s->ca_bundle, sizeof s->ca_bundle, err, errlen)) != 0 ||
	    (rc = read_path("SSL_CERT_FILE", s->ssl_cert_file, sizeof s->ssl_cert_file, err, errlen)) != 0)
		return rc;
	if ((rc = env_imds(s, err, errlen)) != 0)
		return rc;
	return settings_credentials(s, err, errlen);
}

/* ---- names ----------------------------------------------------------------------------- */

const char *aws_source_name(enum aws_source source)
{
	switch (source) {
	case AWS_SOURCE_ENV: return "env";
	case AWS_SOURCE_WEB_IDENTITY: return "web-identity";
	case AWS_SOURCE_CONTAINER: return "container";
	case AWS_SOURCE_IMDS: return "imds";
	default: return "none";
	}
}

/* [\w+=,.@-]: the characters of IAM names and STS session names. */
static int role_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
	       || (ch != '\0' && strchr("_+=,.@-", ch));
}

int aws_valid_session_name(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if (!role_name_char(s[n]))
			return 0;
	return n >= 2 && n <= 64;
}

/* IAM identifiers (docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html):
 * arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, a path of printable ASCII between slashes,
 * a name of 1..64 [A-Za-z0-9_+=,.@-]; STS takes 20..2048 characters. */
int aws_valid_role_arn(const char *s)
{
	size_t n = strlen(s), i;
	const char *p = s + 4, *name;

	if (n < 20 || n > 2048 || strncmp(s, "arn:", 4) != 0)
		return 0;
	for (i = 0; (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'; i++)
		;
	if (i == 0 || strncmp(p + i, ":iam::", 6) != 0)
		return 0;
	p += i + 6;
	for (i = 0; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	p += 12;
	if (strncmp(p, ":role/", 6) != 0 || !aws_visible_ascii(p, strlen(p)))
		return 0;
	name = strrchr(p, '/') + 1;
	for (i = 0; name[i]; i++)
		if (!role_name_char(name[i]))
			return 0;
	return i >= 1 && i <= 64;
}
