/*
 * aws: credentials chain, endpoints, regions and signed JSON calls; see aws.h.
 *
 * The order of the chain and the meaning of each variable follow the AWS SDKs reference
 * (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html) and
 * aws-c-auth's default chain: env keys, web identity, container, IMDS. Profiles and the
 * shared config files are left out on purpose: a pod has none.
 */
#include "aws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "civil.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "retry.h"
#include "secret.h"
#include "sigv4.h"

#define TOKEN_FILE_MAX      (FILES_TOKEN_MAX + 1)   /* identity / authorization token + NUL */
#define METADATA_BODY_MAX   65536
/* http wants room for the head, the largest body and a NUL. */
#define CONN_BUF_SIZE       (HTTP_MAX_HEADER + AWS_MAX_BODY + 1)
#define METADATA_BUF_SIZE   (HTTP_MAX_HEADER + METADATA_BODY_MAX + 1)
#define IMDS_TIMEOUT_MS     1000    /* aws-c-auth's IMDS timeout: fail fast off EC2 */
#define IMDS_TOKEN_TTL      "21600"
#define MAX_ATTEMPTS        5       /* botocore standard retry mode: 3; the brief asks 5 */
#define BACKOFF_BASE_MS     100
#define BACKOFF_CAP_MS      5000
#define XML_MAX_DEPTH       32
#define XML_MAX_NAME        64
#define XML_MAX_TEXT        16384

/* Which client buffers log_register_secret holds already (client->registered). */
enum {
	REG_SECRET_KEY = 1,
	REG_SESSION_TOKEN = 2,
	REG_TOKEN_BUF = 4,
	REG_IMDS_TOKEN = 8,
};

/* ---- small helpers ------------------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The SDKs read boolean settings as "true" in any case; anything else is false. */
static int env_true(const char *name)
{
	const char *v = env(name);
	return v && strcasecmp(v, "true") == 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Secret values go into HTTP header fields: visible ASCII only (RFC 9110 5.5 allows more,
 * but no AWS key, token or secret has anything else). */
static int visible_ascii(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int set_value(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap || !visible_ascii(src, n))
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* Copies text for a message: control characters become spaces, long text is cut. */
static void message_text(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i, o = 0;

	if (cap == 0)
		return;
	for (i = 0; i < n && o + 1 < cap && o < 200; i++)
		dst[o++] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	dst[o] = '\0';
}

void aws_credentials_wipe(struct aws_credentials *creds)
{
	explicit_bzero(creds, sizeof *creds);
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
	const char *override = svc == AWS_SERVICE_ECR ? s->endpoint_url_ecr : s->endpoint_url_sts;
	const char *dns;
	int n;

	memset(out, 0, sizeof *out);
	out->signing_name = svc == AWS_SERVICE_ECR ? "ecr" : "sts";
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
	} else if (s->sts_legacy && !s->use_fips && !s->use_dualstack && strcmp(part->name, "aws") == 0
	           && sts_legacy_region(region)) {
		/* The global endpoint signs for us-east-1. */
		n = snprintf(out->url, sizeof out->url, "https://sts.amazonaws.com/");
		memcpy(out->signing_region, "us-east-1", sizeof "us-east-1");
	} else if (s->use_fips && !s->use_dualstack && strcmp(part->name, "aws-us-gov") == 0) {
		/* GovCloud's regular STS endpoints are FIPS endpoints already (PROTOCOLS.md 3). */
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

static int check_full_uri(const char *uri, char *err, size_t errlen)
{
	struct http_url url;
	struct addrinfo hints, *res = NULL, *ai;
	char uerr[160];
	int rc, allowed = 1;

	if (http_parse_url(uri, &url, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: %s", uerr);
		return AWS_ECONFIG;
	}
	if (url.https)
		return 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
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
	const char *v = env(name);
	const char *var = name;
	struct http_url url;
	char uerr[160];

	if (!v) {
		v = env(fallback);
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
	if (copy_str(dst, cap - 1, v) != 0) {
		snprintf(err, errlen, "%s: longer than %zu bytes", var, cap - 2);
		return AWS_ECONFIG;
	}
	return 0;
}

static int read_path(const char *name, char *dst, size_t cap, char *err, size_t errlen)
{
	const char *v = env(name);

	if (v && copy_str(dst, cap, v) != 0) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", name, cap - 1);
		return AWS_ECONFIG;
	}
	return 0;
}

static int settings_credentials(struct aws_settings *s, char *err, size_t errlen)
{
	const char *key_id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *v;
	int rc;

	if (key_id || secret) {
		if (!key_id || !secret) {
			snprintf(err, errlen, "%s is set without %s",
			         key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			         key_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			return AWS_ECONFIG;
		}
		/* Values are never quoted in messages: say only which variable is wrong. */
		if (strlen(key_id) >= AWS_MAX_KEY_ID || !visible_ascii(key_id, strlen(key_id))) {
			snprintf(err, errlen, "AWS_ACCESS_KEY_ID is not a valid access key id");
			return AWS_ECONFIG;
		}
		if (strlen(secret) >= AWS_MAX_SECRET_KEY || !visible_ascii(secret, strlen(secret))) {
			snprintf(err, errlen, "AWS_SECRET_ACCESS_KEY is not a valid secret key");
			return AWS_ECONFIG;
		}
		if (token && (strlen(token) >= AWS_MAX_SESSION_TOKEN || !visible_ascii(token, strlen(token)))) {
			snprintf(err, errlen, "AWS_SESSION_TOKEN is not a valid session token");
			return AWS_ECONFIG;
		}
		s->source = AWS_SOURCE_ENV;
		return 0;
	}

	/* botocore: a token file without a role is a configuration error; a role without a
	 * token file is simply not this provider. */
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
		if (!env("AWS_ROLE_ARN")) {
			snprintf(err, errlen, "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN");
			return AWS_ECONFIG;
		}
		if (copy_str(s->role_arn, sizeof s->role_arn, env("AWS_ROLE_ARN")) != 0
		    || !visible_ascii(s->role_arn, strlen(s->role_arn))) {
			snprintf(err, errlen, "AWS_ROLE_ARN is not a valid role ARN");
			return AWS_ECONFIG;
		}
		if ((rc = read_path("AWS_WEB_IDENTITY_TOKEN_FILE", s->web_identity_token_file,
		                    sizeof s->web_identity_token_file, err, errlen)) != 0)
			return rc;
		v = env("AWS_ROLE_SESSION_NAME");
		if (v && (!aws_valid_session_name(v)
		          || copy_str(s->role_session_name, sizeof s->role_session_name, v) != 0)) {
			snprintf(err, errlen, "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of "
			         "A-Z a-z 0-9 _+=,.@-");
			return AWS_ECONFIG;
		}
		s->source = AWS_SOURCE_WEB_IDENTITY;
		return 0;
	}

	if (rel || full) {
		/* RELATIVE_URI wins, as in every SDK (sdkref feature-container-credentials.html). */
		if (rel) {
			if (rel[0] != '/' || snprintf(s->container_url, sizeof s->container_url,
			                              "http://169.254.170.2%s", rel) >= (int)sizeof s->container_url) {
				snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path "
				         "starting with '/'");
				return AWS_ECONFIG;
			}
		} else {
			if (copy_str(s->container_url, sizeof s->container_url, full) != 0) {
				snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
				return AWS_ECONFIG;
			}
			if ((rc = check_full_uri(full, err, errlen)) != 0)
				return rc;
		}
		if ((rc = read_path("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", s->container_token_file,
		                    sizeof s->container_token_file, err, errlen)) != 0)
			return rc;
		s->container_token_static = !s->container_token_file[0]
			&& env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL;
		s->source = AWS_SOURCE_CONTAINER;
		return 0;
	}

	s->source = s->imds_disabled ? AWS_SOURCE_NONE : AWS_SOURCE_IMDS;
	return 0;
}

int aws_settings_from_env(struct aws_settings *s, char *err, size_t errlen)
{
	const char *v;
	struct http_url url;
	char uerr[160];
	int rc;

	memset(s, 0, sizeof *s);
	v = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
	if (v) {
		if (!aws_valid_region(v) || copy_str(s->region, sizeof s->region, v) != 0) {
			snprintf(err, errlen, "%s \"%.64s\" is not an AWS region name",
			         env("AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION", v);
			return AWS_ECONFIG;
		}
	}
	s->use_fips = env_true("AWS_USE_FIPS_ENDPOINT");
	s->use_dualstack = env_true("AWS_USE_DUALSTACK_ENDPOINT");
	v = env("AWS_STS_REGIONAL_ENDPOINTS");
	if (v) {
		if (strcasecmp(v, "legacy") == 0) {
			s->sts_legacy = 1;
		} else if (strcasecmp(v, "regional") != 0) {
			snprintf(err, errlen, "AWS_STS_REGIONAL_ENDPOINTS must be legacy or regional");
			return AWS_ECONFIG;
		}
	}
	if ((rc = read_endpoint_url("AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL", s->endpoint_url_ecr,
	                            sizeof s->endpoint_url_ecr, err, errlen)) != 0
	    || (rc = read_endpoint_url("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", s->endpoint_url_sts,
	                               sizeof s->endpoint_url_sts, err, errlen)) != 0)
		return rc;
	/* The endpoint rule sets refuse both combinations: "Invalid Configuration: FIPS and
	 * custom endpoint are not supported" (and the same for dual-stack). */
	if ((s->use_fips || s->use_dualstack) && (s->endpoint_url_ecr[0] || s->endpoint_url_sts[0])) {
		snprintf(err, errlen, "%s cannot be combined with a custom endpoint (%s)",
		         s->use_fips ? "AWS_USE_FIPS_ENDPOINT" : "AWS_USE_DUALSTACK_ENDPOINT",
		         env("AWS_ENDPOINT_URL_ECR") ? "AWS_ENDPOINT_URL_ECR"
		         : env("AWS_ENDPOINT_URL_STS") ? "AWS_ENDPOINT_URL_STS" : "AWS_ENDPOINT_URL");
		return AWS_ECONFIG;
	}
	if ((rc = read_path("AWS_CA_BUNDLE", s->ca_bundle, sizeof s->ca_bundle, err, errlen)) != 0
	    || (rc = read_path("SSL_CERT_FILE", s->ssl_cert_file, sizeof s->ssl_cert_file, err, errlen)) != 0)
		return rc;

	s->imds_disabled = env_true("AWS_EC2_METADATA_DISABLED");
	v = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!v) {
		const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
		if (mode && strcasecmp(mode, "ipv6") != 0 && strcasecmp(mode, "ipv4") != 0) {
			snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
			return AWS_ECONFIG;
		}
		v = mode && strcasecmp(mode, "ipv6") == 0 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
	}
	if (http_parse_url(v, &url, uerr, sizeof uerr) != 0
	    || copy_str(s->imds_endpoint, sizeof s->imds_endpoint - 64, v) != 0) {
		snprintf(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT: %s",
		         strlen(v) >= sizeof s->imds_endpoint - 64 ? "too long" : uerr);
		return AWS_ECONFIG;
	}
	{
		size_t n = strlen(s->imds_endpoint);
		while (n > 0 && s->imds_endpoint[n - 1] == '/')
			s->imds_endpoint[--n] = '\0';
	}
	return settings_credentials(s, err, errlen);
}

/* ---- the client ------------------------------------------------------------------------ */

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

int aws_client_init(struct aws_client *c, const struct http_proxy *proxy, int timeout_s,
                    int64_t deadline_ms, char *err, size_t errlen)
{
	char aerr[300];
	int rc;

	memset(c, 0, sizeof *c);
	c->proxy = proxy;
	c->timeout_ms = (int64_t)timeout_s * 1000;
	c->deadline_ms = deadline_ms;
	anchors_init(&c->extra_anchors);
	c->anchors = anchors_embedded();
	http_conn_init(&c->conn, NULL, 0, proxy);
	http_conn_init(&c->metadata_conn, NULL, 0, NULL);
	if ((rc = aws_settings_from_env(&c->settings, err, errlen)) != 0)
		return rc;
	/* A token file that is a FIFO, a device or huge would hang or flood the first
	 * request: refuse it now, with nothing contacted (files.h). */
	if ((c->settings.web_identity_token_file[0]
	     && files_check("AWS_WEB_IDENTITY_TOKEN_FILE", c->settings.web_identity_token_file,
	                    FILES_TOKEN_MAX, err, errlen) != 0)
	    || (c->settings.container_token_file[0]
	        && files_check("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", c->settings.container_token_file,
	                       FILES_TOKEN_MAX, err, errlen) != 0))
		return AWS_ECONFIG;
	if (c->settings.ca_bundle[0] || c->settings.ssl_cert_file[0]) {
		/* Both add to the public roots, never replace them (SPEC.md "AWS"). */
		if (anchors_add_all(&c->extra_anchors, anchors_embedded()) != 0) {
			snprintf(err, errlen, "out of memory");
			return AWS_ECONFIG;
		}
		if (c->settings.ca_bundle[0]
		    && anchors_add_pem_file(&c->extra_anchors, c->settings.ca_bundle, aerr, sizeof aerr) < 0) {
			snprintf(err, errlen, "AWS_CA_BUNDLE %s", aerr);
			return AWS_ECONFIG;
		}
		if (c->settings.ssl_cert_file[0]
		    && anchors_add_pem_file(&c->extra_anchors, c->settings.ssl_cert_file, aerr, sizeof aerr) < 0) {
			snprintf(err, errlen, "SSL_CERT_FILE %s", aerr);
			return AWS_ECONFIG;
		}
		c->anchors = &c->extra_anchors;
	}
	c->conn_buf = malloc(CONN_BUF_SIZE);
	c->metadata_buf = malloc(METADATA_BUF_SIZE);
	c->token_buf = malloc(TOKEN_FILE_MAX);
	if (!c->conn_buf || !c->metadata_buf || !c->token_buf) {
		snprintf(err, errlen, "out of memory");
		return AWS_ECONFIG;
	}
	c->token_buf[0] = '\0';
	http_conn_init(&c->conn, c->conn_buf, CONN_BUF_SIZE, proxy);
	http_conn_init(&c->metadata_conn, c->metadata_buf, METADATA_BUF_SIZE, NULL);
	retry_seed(&c->rng, 0);
	return 0;
}

static void free_wiped(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

void aws_client_free(struct aws_client *c)
{
	http_conn_close(&c->conn);
	http_conn_close(&c->metadata_conn);
	free_wiped(c->conn_buf, CONN_BUF_SIZE);
	free_wiped(c->metadata_buf, METADATA_BUF_SIZE);
	free_wiped(c->token_buf, TOKEN_FILE_MAX);
	c->conn_buf = c->metadata_buf = c->token_buf = NULL;
	aws_credentials_wipe(&c->creds);
	explicit_bzero(c->imds_token, sizeof c->imds_token);
	c->have_creds = 0;
	anchors_free(&c->extra_anchors);
}

static void register_secret(struct aws_client *c, unsigned bit, const char *value)
{
	if (!(c->registered & bit) && strlen(value) >= 4) {
		log_register_secret(value);
		c->registered |= bit;
	}
}

/* The deadline of one request: the per-request timeout, never past the run's end. */
static int64_t request_deadline(const struct aws_client *c, int64_t timeout_ms)
{
	int64_t d = net_now_ms() + timeout_ms;
	return d < c->deadline_ms ? d : c->deadline_ms;
}

/* Sleeps the backoff before attempt `attempt` (1-based retry count). Returns -1 when the
 * run deadline would pass first: then there is no point in trying again. */
static int backoff_sleep(struct aws_client *c, int attempt)
{
	return retry_sleep(retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, retry_random(&c->rng)),
	                   c->deadline_ms);
}

/* An answer that carried credentials is wiped from the connection buffer once read: the
 * buffer lives on for later requests. */
static void wipe_body(const struct http_response *resp)
{
	explicit_bzero((char *)resp->body, resp->body_len);
}

/* Transport failures worth another attempt: the peer or the path may recover. Certificate,
 * URL, proxy and size errors will not. */
static int transport_retryable(int rc)
{
	return rc == HTTP_EIO || rc == HTTP_ETIMEOUT || rc == HTTP_ECONNECT || rc == HTTP_ETLS;
}

static struct http_conn *conn_for(struct aws_client *c, const char *url)
{
	return strncasecmp(url, "https:", 6) == 0 ? &c->conn : &c->metadata_conn;
}

/* Reads a token file afresh into c->token_buf: kubelet rotates projected tokens, so none is
 * ever cached (PROTOCOLS.md 3, 4). Trailing whitespace (a newline an editor left) is
 * dropped; anything else that could not go into a header field is refused. */
static int read_token_file(struct aws_client *c, const char *var, const char *path)
{
	long n = files_read(var, path, c->token_buf, FILES_TOKEN_MAX, c->err, sizeof c->err);
	size_t len;

	if (n < 0)
		return AWS_ECREDS;
	len = (size_t)n;
	while (len > 0 && (c->token_buf[len - 1] == '\n' || c->token_buf[len - 1] == '\r'
	                   || c->token_buf[len - 1] == ' ' || c->token_buf[len - 1] == '\t'))
		len--;
	c->token_buf[len] = '\0';
	if (len == 0 || !visible_ascii(c->token_buf, len)) {
		snprintf(c->err, sizeof c->err, "%s %s: %s", var, path,
		         len ? "the token has characters a header cannot carry" : "empty");
		return AWS_ECREDS;
	}
	register_secret(c, REG_TOKEN_BUF, c->token_buf);
	return 0;
}

/* application/x-www-form-urlencoded value: the unreserved set of RFC 3986 kept, the rest
 * percent-encoded, as botocore's query serializer does. */
static size_t form_encode(char *out, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
		    || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* "Type (HTTP 403): message": the message is left out for errors about signatures and
 * tokens, whose AWS texts can quote the canonical request, security token included. */
static void describe_error(char *out, size_t cap, const char *prefix, const char *type, int status,
                           const char *message)
{
	int quiet = aws_credential_error(type) || strstr(type, "Signature") || strstr(type, "Token");

	if (!*type)
		snprintf(out, cap, "%s: HTTP %d", prefix, status);
	else if (quiet || !*message)
		snprintf(out, cap, "%s: %s (HTTP %d)", prefix, type, status);
	else
		snprintf(out, cap, "%s: %s (HTTP %d): %s", prefix, type, status, message);
}

static void log_retry(const char *operation, const char *region, const char *why, int attempt)
{
	char n[12];
	snprintf(n, sizeof n, "%d", attempt);
	log_event(LOG_WARN, "aws request retried", "operation", operation, "region", region,
	          "error", why, "#attempt", n, NULL);
}

/* ---- web identity (STS AssumeRoleWithWebIdentity, PROTOCOLS.md 3) -------------------- */

static int fetch_web_identity(struct aws_client *c, const char *region_hint, struct aws_credentials *out)
{
	const struct aws_settings *s = &c->settings;
	const char *region = s->region[0] ? s->region : region_hint;
	struct aws_endpoint ep;
	char prefix[160], session[65], code[AWS_MAX_ERROR_TYPE], message[256], perr[200];
	struct http_header headers[2] = {
		{ "Content-Type", 12, "application/x-www-form-urlencoded; charset=utf-8", 48 },
		{ "Accept", 6, "text/xml", 8 },
	};
	struct http_response resp;
	char *body = NULL;
	size_t body_cap;
	int attempt, rc = AWS_ECREDS;

	if (!region || !*region) {
		snprintf(c->err, sizeof c->err, "web identity: no region for STS (set AWS_REGION)");
		return AWS_ECREDS;
	}
	if (aws_endpoint_for(s, AWS_SERVICE_STS, region, &ep, c->err, sizeof c->err) != 0)
		return AWS_ECREDS;
	snprintf(prefix, sizeof prefix, "STS AssumeRoleWithWebIdentity in %s", ep.signing_region);
	if (s->role_session_name[0]) {
		memcpy(session, s->role_session_name, sizeof session);
	} else {
		/* aws-c-auth generates a UUID; any 2..64 chars of [\w+=,.@-] will do. */
		snprintf(session, sizeof session, "ecr-refresh-%08x%08x", (unsigned)retry_random(&c->rng),
		         (unsigned)retry_random(&c->rng));
	}
	body_cap = 3 * (TOKEN_FILE_MAX + sizeof s->role_arn + sizeof session) + 128;
	body = malloc(body_cap);
	if (!body) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return AWS_ECREDS;
	}
	for (attempt = 1;; attempt++) {
		struct http_request req;
		size_t n;
		const char *why;

		if ((rc = read_token_file(c, "AWS_WEB_IDENTITY_TOKEN_FILE", s->web_identity_token_file)) != 0)
			goto out;
		n = (size_t)snprintf(body, body_cap, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
		n += form_encode(body + n, s->role_arn);
		memcpy(body + n, "&RoleSessionName=", 17);
		n += 17;
		n += form_encode(body + n, session);
		memcpy(body + n, "&WebIdentityToken=", 18);
		n += 18;
		n += form_encode(body + n, c->token_buf);

		memset(&req, 0, sizeof req);
		req.method = "POST";
		req.url = ep.url;
		req.headers = headers;
		req.header_count = 2;
		req.body = body;
		req.body_len = n;
		req.anchors = c->anchors;
		req.deadline_ms = request_deadline(c, c->timeout_ms);
		req.max_body = AWS_MAX_BODY;
		rc = http_request(conn_for(c, ep.url), &req, &resp);
		explicit_bzero(body, n);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, conn_for(c, ep.url)->err);
			why = "transport";
			if (!transport_retryable(rc))
				break;
		} else {
			rc = aws_parse_sts_response(resp.body, resp.body_len, out, code, sizeof code,
			                            message, sizeof message, perr, sizeof perr);
			wipe_body(&resp);
			if (rc == 0 && resp.status / 100 == 2)
				goto out;
			if (rc == AWS_EPARSE && resp.status / 100 == 2) {
				snprintf(c->err, sizeof c->err, "%s: %s", prefix, perr);
				break;
			}
			if (rc != AWS_EREQUEST)
				code[0] = message[0] = '\0';
			describe_error(c->err, sizeof c->err, prefix, code, resp.status, message);
			why = code[0] ? code : "HTTP error";
			/* aws-c-auth also retries these two: the identity provider was slow, or the
			 * token is newer than STS's view of the provider's keys. */
			if (!aws_retryable_error(code, resp.status) && strcmp(code, "IDPCommunicationError") != 0
			    && strcmp(code, "InvalidIdentityToken") != 0)
				break;
		}
		if (attempt >= MAX_ATTEMPTS || backoff_sleep(c, attempt) != 0)
			break;
		log_retry("AssumeRoleWithWebIdentity", ep.signing_region, why, attempt);
	}
	rc = AWS_ECREDS;
out:
	if (rc != 0)
		aws_credentials_wipe(out);
	free_wiped(body, body_cap);
	return rc;
}

/* ---- container credentials (ECS, EKS Pod Identity; PROTOCOLS.md 4) -------------------- */

static int fetch_container(struct aws_client *c, struct aws_credentials *out)
{
	const struct aws_settings *s = &c->settings;
	struct http_header headers[2] = { { "Accept", 6, "application/json", 16 } };
	struct http_url url;
	struct http_response resp;
	struct http_conn *conn = conn_for(c, s->container_url);
	char prefix[HTTP_MAX_HOST + 64], uerr[160], type[AWS_MAX_ERROR_TYPE], message[256];
	int attempt, rc;

	if (http_parse_url(s->container_url, &url, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "container credentials URL: %s", uerr);
		return AWS_ECREDS;
	}
	snprintf(prefix, sizeof prefix, "container credentials from %s%s%s:%s",
	         strchr(url.host, ':') ? "[" : "", url.host, strchr(url.host, ':') ? "]" : "", url.port);
	for (attempt = 1;; attempt++) {
		struct http_request req;
		size_t header_count = 1;
		const char *why;

		if (s->container_token_file[0]) {
			if ((rc = read_token_file(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
			                          s->container_token_file)) != 0)
				return rc;
		} else if (s->container_token_static) {
			const char *t = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
			if (!t || copy_str(c->token_buf, TOKEN_FILE_MAX, t) != 0 || !visible_ascii(t, strlen(t))) {
				snprintf(c->err, sizeof c->err, "AWS_CONTAINER_AUTHORIZATION_TOKEN is not a "
				         "valid header value");
				return AWS_ECREDS;
			}
			register_secret(c, REG_TOKEN_BUF, c->token_buf);
		}
		if (s->container_token_file[0] || s->container_token_static) {
			/* Sent as it is, without "Bearer" (PROTOCOLS.md 4). */
			headers[1].name = "Authorization";
			headers[1].name_len = 13;
			headers[1].value = c->token_buf;
			headers[1].value_len = strlen(c->token_buf);
			header_count = 2;
		}
		memset(&req, 0, sizeof req);
		req.method = "GET";
		req.url = s->container_url;
		req.headers = headers;
		req.header_count = header_count;
		req.anchors = c->anchors;
		req.deadline_ms = request_deadline(c, c->timeout_ms);
		req.max_body = METADATA_BODY_MAX;
		rc = http_request(conn, &req, &resp);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, conn->err);
			why = "transport";
			if (!transport_retryable(rc))
				return AWS_ECREDS;
		} else if (resp.status == 200) {
			char perr[200];
			rc = aws_parse_credentials_json(resp.body, resp.body_len, out, perr, sizeof perr);
			wipe_body(&resp);
			if (rc != 0) {
				snprintf(c->err, sizeof c->err, "%s: %s", prefix, perr);
				return AWS_ECREDS;
			}
			return 0;
		} else {
			/* Errors come as {"code","message"} (aws-c-auth credentials_provider_ecs.c). */
			aws_parse_error_json(resp.body, resp.body_len, NULL, 0, type, sizeof type,
			                     message, sizeof message);
			describe_error(c->err, sizeof c->err, prefix, type, resp.status, message);
			why = type[0] ? type : "HTTP error";
			if (!aws_retryable_error(type, resp.status))
				return AWS_ECREDS;
		}
		if (attempt >= 3 || backoff_sleep(c, attempt) != 0)
			return AWS_ECREDS;
		log_retry("container credentials", "-", why, attempt);
	}
}

/* ---- IMDSv2 (PROTOCOLS.md 5) ---------------------------------------------------------- */

/* One IMDS request: one attempt, one second, so a pod without IMDS fails fast. */
static int imds_request(struct aws_client *c, const char *method, const char *path,
                        struct http_response *resp)
{
	struct http_header headers[1];
	struct http_request req;
	char url[HTTP_MAX_URL];

	snprintf(url, sizeof url, "%s%s", c->settings.imds_endpoint, path);
	if (strcmp(method, "PUT") == 0) {
		/* The token PUT says how long the token should live (PROTOCOLS.md 5). */
		headers[0].name = "X-aws-ec2-metadata-token-ttl-seconds";
		headers[0].value = IMDS_TOKEN_TTL;
	} else {
		headers[0].name = "X-aws-ec2-metadata-token";
		headers[0].value = c->imds_token;
	}
	headers[0].name_len = strlen(headers[0].name);
	headers[0].value_len = strlen(headers[0].value);
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.header_count = 1;
	req.anchors = c->anchors;
	req.deadline_ms = request_deadline(c, IMDS_TIMEOUT_MS);
	req.max_body = METADATA_BODY_MAX;
	return http_request(conn_for(c, url), &req, resp);
}

static void imds_host(const struct aws_client *c, char *out, size_t cap)
{
	struct http_url url;
	char uerr[160];

	if (http_parse_url(c->settings.imds_endpoint, &url, uerr, sizeof uerr) == 0)
		snprintf(out, cap, "%s", url.host);
	else
		snprintf(out, cap, "%.200s", c->settings.imds_endpoint);
}

/* Gets an IMDSv2 session token unless one is held. On failure c->err says why after
 * `what` ("IMDS unreachable (169.254.169.254: timed out after 1s)"). */
static int imds_token(struct aws_client *c, const char *what)
{
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1];
	size_t n;
	int rc;

	if (c->imds_token[0])
		return 0;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "PUT", "/latest/api/token", &resp);
	if (rc == HTTP_ETIMEOUT) {
		snprintf(c->err, sizeof c->err, "%s, IMDS unreachable (%s: timed out after 1s)", what, host);
		return AWS_ECREDS;
	}
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "%s, IMDS unreachable (%s: %s)", what, host,
		         conn_for(c, c->settings.imds_endpoint)->err);
		return AWS_ECREDS;
	}
	if (resp.status != 200) {
		snprintf(c->err, sizeof c->err, "%s, IMDS token request refused (%s: HTTP %d)", what,
		         host, resp.status);
		return AWS_ECREDS;
	}
	n = resp.body_len;
	while (n > 0 && (resp.body[n - 1] == '\n' || resp.body[n - 1] == '\r' || resp.body[n - 1] == ' '))
		n--;
	if (set_value(c->imds_token, sizeof c->imds_token, resp.body, n) != 0) {
		snprintf(c->err, sizeof c->err, "%s, IMDS (%s) answered an unusable token", what, host);
		return AWS_ECREDS;
	}
	register_secret(c, REG_IMDS_TOKEN, c->imds_token);
	return 0;
}

static int fetch_imds(struct aws_client *c, struct aws_credentials *out)
{
	static const char base[] = "/latest/meta-data/iam/security-credentials/";
	const char *what = "no AWS credentials: env keys not set, no web identity, no container credentials";
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1], path[sizeof base + 256], perr[200], role[129];
	size_t n = 0;
	int rc;

	if ((rc = imds_token(c, what)) != 0)
		return rc;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "GET", base, &resp);
	if (rc < 0 || resp.status != 200) {
		if (rc < 0)
			snprintf(c->err, sizeof c->err, "IMDS role name (%s): %s", host,
			         conn_for(c, c->settings.imds_endpoint)->err);
		else if (resp.status == 404)
			snprintf(c->err, sizeof c->err, "IMDS (%s): no IAM role is attached to this instance", host);
		else
			snprintf(c->err, sizeof c->err, "IMDS role name (%s): HTTP %d", host, resp.status);
		return AWS_ECREDS;
	}
	/* The first line is the role (an instance profile holds one). */
	while (n < resp.body_len && resp.body[n] != '\n' && resp.body[n] != '\r')
		n++;
	if (set_value(role, sizeof role, resp.body, n) != 0 || strchr(role, '/') || strchr(role, '?')
	    || strchr(role, '%')) {
		snprintf(c->err, sizeof c->err, "IMDS role name (%s): not a role name", host);
		return AWS_ECREDS;
	}
	snprintf(path, sizeof path, "%s%s", base, role);
	rc = imds_request(c, "GET", path, &resp);
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): %s", host,
		         conn_for(c, c->settings.imds_endpoint)->err);
		return AWS_ECREDS;
	}
	if (resp.status != 200) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): HTTP %d", host, resp.status);
		return AWS_ECREDS;
	}
	rc = aws_parse_credentials_json(resp.body, resp.body_len, out, perr, sizeof perr);
	wipe_body(&resp);
	if (rc != 0) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): %s", host, perr);
		return AWS_ECREDS;
	}
	return 0;
}

int aws_client_credentials(struct aws_client *c, const char *region, int refresh)
{
	struct aws_credentials *fresh;
	int rc;

	if (c->have_creds && !refresh)
		return 0;
	if (net_now_ms() >= c->deadline_ms) {
		snprintf(c->err, sizeof c->err, "no AWS credentials: the run deadline passed");
		return AWS_ECREDS;
	}
	/* Fetched aside and copied in, so a failed refresh never leaves half a credential in
	 * the buffers the log's redaction points at. */
	fresh = calloc(1, sizeof *fresh);
	if (!fresh) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return AWS_ECREDS;
	}
	switch (c->settings.source) {
	case AWS_SOURCE_ENV: {
		const char *token = env("AWS_SESSION_TOKEN");
		copy_str(fresh->access_key_id, sizeof fresh->access_key_id, env("AWS_ACCESS_KEY_ID"));
		copy_str(fresh->secret_access_key, sizeof fresh->secret_access_key, env("AWS_SECRET_ACCESS_KEY"));
		if (token)
			copy_str(fresh->session_token, sizeof fresh->session_token, token);
		rc = 0;
		break;
	}
	case AWS_SOURCE_WEB_IDENTITY:
		rc = fetch_web_identity(c, region, fresh);
		break;
	case AWS_SOURCE_CONTAINER:
		rc = fetch_container(c, fresh);
		break;
	case AWS_SOURCE_IMDS:
		rc = fetch_imds(c, fresh);
		break;
	default:
		snprintf(c->err, sizeof c->err, "no AWS credentials: env keys not set, no web identity, "
		         "no container credentials, IMDS disabled (AWS_EC2_METADATA_DISABLED=true)");
		rc = AWS_ECREDS;
	}
	if (rc == 0) {
		memcpy(&c->creds, fresh, sizeof *fresh);
		c->have_creds = 1;
		register_secret(c, REG_SECRET_KEY, c->creds.secret_access_key);
		register_secret(c, REG_SESSION_TOKEN, c->creds.session_token);
	}
	aws_credentials_wipe(fresh);
	free(fresh);
	return rc;
}

int aws_default_region(struct aws_client *c, char *out, size_t outlen)
{
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1], region[AWS_MAX_REGION];
	size_t n;
	int rc;

	if (c->settings.region[0]) {
		snprintf(out, outlen, "%s", c->settings.region);
		return 0;
	}
	if (c->settings.imds_disabled) {
		snprintf(c->err, sizeof c->err, "no AWS region: set AWS_REGION or --registries "
		         "(IMDS is disabled)");
		return AWS_EREQUEST;
	}
	if (imds_token(c, "no AWS region: AWS_REGION and AWS_DEFAULT_REGION not set") != 0)
		return AWS_EREQUEST;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "GET", "/latest/meta-data/placement/region", &resp);
	if (rc < 0 || resp.status != 200) {
		snprintf(c->err, sizeof c->err, "no AWS region: IMDS placement/region (%s): %s", host,
		         rc < 0 ? conn_for(c, c->settings.imds_endpoint)->err : "refused");
		return AWS_EREQUEST;
	}
	n = resp.body_len;
	while (n > 0 && (resp.body[n - 1] == '\n' || resp.body[n - 1] == '\r'))
		n--;
	if (set_value(region, sizeof region, resp.body, n) != 0 || !aws_valid_region(region)) {
		snprintf(c->err, sizeof c->err, "no AWS region: IMDS (%s) answered no region name", host);
		return AWS_EREQUEST;
	}
	snprintf(out, outlen, "%s", region);
	return 0;
}

/* ---- signed JSON 1.1 calls -------------------------------------------------------------- */

int aws_json_call(struct aws_client *c, const struct aws_json_call *call, const char **body,
                  size_t *body_len)
{
	struct aws_endpoint ep;
	struct http_url url;
	char prefix[160], host[HTTP_MAX_HOST + 16], amz_date[17], authorization[512], uerr[160];
	char type[AWS_MAX_ERROR_TYPE], message[256];
	const char *service = call->service == AWS_SERVICE_ECR ? "ECR" : "STS";
	int attempt, refreshed = 0, rc;

	if (aws_endpoint_for(&c->settings, call->service, call->region, &ep, c->err, sizeof c->err) != 0)
		return AWS_ECONFIG;
	if (http_parse_url(ep.url, &url, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "%s endpoint %.300s: %s", service, ep.url, uerr);
		return AWS_ECONFIG;
	}
	http_host_value(&url, host, sizeof host);
	snprintf(prefix, sizeof prefix, "%s %s in %s", service, call->operation, call->region);

	for (attempt = 1;; attempt++) {
		struct sigv4_header fields[5];
		struct http_header headers[5];
		struct sigv4_request sreq;
		struct sigv4_key key;
		struct sigv4_scope scope;
		struct http_request req;
		struct http_response resp;
		const struct http_header *type_header;
		size_t n = 0, i;
		const char *why;

		if ((rc = aws_client_credentials(c, call->region, 0)) != 0)
			return rc;
		sigv4_amz_date((long long)time(NULL), amz_date);
		/* Every field sent is signed (PROTOCOLS.md 1, 2); Host is added by http, so it is
		 * signed but not in the list http gets. */
		fields[n++] = (struct sigv4_header){ "Host", host };
		fields[n++] = (struct sigv4_header){ "Content-Type", "application/x-amz-json-1.1" };
		fields[n++] = (struct sigv4_header){ "X-Amz-Date", amz_date };
		fields[n++] = (struct sigv4_header){ "X-Amz-Target", call->target };
		/* Temporary credentials: the token is sent and signed (PROTOCOLS.md 2). */
		if (c->creds.session_token[0])
			fields[n++] = (struct sigv4_header){ "X-Amz-Security-Token", c->creds.session_token };
		memset(&sreq, 0, sizeof sreq);
		sreq.method = "POST";
		sreq.path = url.path;
		sreq.headers = fields;
		sreq.header_count = n;
		sreq.body = call->body;
		sreq.body_len = strlen(call->body);
		key.access_key_id = c->creds.access_key_id;
		key.secret_access_key = c->creds.secret_access_key;
		scope.amz_date = amz_date;
		scope.region = ep.signing_region;
		scope.service = ep.signing_name;
		scope.normalize_path = 1;
		if (sigv4_authorization(&sreq, &key, &scope, authorization, sizeof authorization) < 0) {
			snprintf(c->err, sizeof c->err, "%s: the request could not be signed", prefix);
			return AWS_EREQUEST;
		}
		for (i = 1; i < n; i++)
			headers[i - 1] = (struct http_header){ fields[i].name, strlen(fields[i].name),
			                                       fields[i].value, strlen(fields[i].value) };
		headers[n - 1] = (struct http_header){ "Authorization", 13, authorization, strlen(authorization) };

		memset(&req, 0, sizeof req);
		req.method = "POST";
		req.url = ep.url;
		req.headers = headers;
		req.header_count = n;
		req.body = call->body;
		req.body_len = sreq.body_len;
		req.anchors = c->anchors;
		req.deadline_ms = request_deadline(c, c->timeout_ms);
		req.max_body = AWS_MAX_BODY;
		if (req.deadline_ms <= net_now_ms()) {
			snprintf(c->err, sizeof c->err, "%s: the run deadline passed", prefix);
			return AWS_EREQUEST;
		}
		rc = http_request(conn_for(c, ep.url), &req, &resp);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, conn_for(c, ep.url)->err);
			why = "transport";
			if (!transport_retryable(rc))
				return AWS_EREQUEST;
		} else if (resp.status / 100 == 2) {
			*body = resp.body;
			*body_len = resp.body_len;
			return 0;
		} else {
			type_header = http_find_header(&resp, "X-Amzn-ErrorType");
			aws_parse_error_json(resp.body, resp.body_len, type_header ? type_header->value : NULL,
			                     type_header ? type_header->value_len : 0, type, sizeof type,
			                     message, sizeof message);
			describe_error(c->err, sizeof c->err, prefix, type, resp.status, message);
			why = type[0] ? type : "HTTP error";
			/* Env keys cannot change by asking again, so only fetched credentials are
			 * refreshed; once. */
			if (aws_credential_error(type) && !refreshed && c->settings.source != AWS_SOURCE_ENV
			    && attempt < MAX_ATTEMPTS) {
				refreshed = 1;
				log_retry(call->operation, call->region, type, attempt);
				if ((rc = aws_client_credentials(c, call->region, 1)) != 0)
					return rc;
				continue;
			}
			if (!aws_retryable_error(type, resp.status))
				return AWS_EREQUEST;
		}
		if (attempt >= MAX_ATTEMPTS || backoff_sleep(c, attempt) != 0)
			return AWS_EREQUEST;
		log_retry(call->operation, call->region, why, attempt);
	}
}

/* ---- error classification ------------------------------------------------------------- */

void aws_sanitize_error_type(const char *in, size_t len, char *out, size_t outlen)
{
	const char *colon = memchr(in, ':', len);
	const char *start = in;
	size_t i;

	if (colon)
		len = (size_t)(colon - in);
	for (i = 0; i < len; i++)
		if (in[i] == '#')
			start = in + i + 1;
	len -= (size_t)(start - in);
	/* Whitespace and control characters never belong in a type name. */
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (outlen == 0)
		return;
	if (!visible_ascii(start, len) || len >= outlen)
		len = 0;
	memcpy(out, start, len);
	out[len] = '\0';
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int aws_retryable_error(const char *type, int status)
{
	static const char *const exact[] = {
		"TooManyRequestsException", "RequestLimitExceeded", "LimitExceededException",
		"SlowDown", "RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException",
		"TransactionInProgressException", "EC2ThrottledException", "BandwidthLimitExceeded",
		"PriorRequestNotComplete", "RequestTimeout", "RequestTimeoutException", "InternalError",
		"ServiceUnavailable", "ServerException",
	};
	size_t i;

	if (starts_with(type, "Throttling") || starts_with(type, "Throttled"))
		return 1;
	for (i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if (strcmp(type, exact[i]) == 0)
			return 1;
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

int aws_credential_error(const char *type)
{
	return starts_with(type, "ExpiredToken") || strcmp(type, "UnrecognizedClientException") == 0
		|| strcmp(type, "InvalidSignatureException") == 0;
}

int aws_valid_session_name(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
		      || strchr("_+=,.@-", ch)))
			return 0;
	}
	return n >= 2 && n <= 64;
}

/* ---- JSON readers ------------------------------------------------------------------- */

static const char *json_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

int aws_parse_credentials_json(const char *body, size_t len, struct aws_credentials *creds,
                               char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const char *v;
	int rc = AWS_EPARSE;

	memset(creds, 0, sizeof *creds);
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "credentials answer is not a JSON object");
		goto out;
	}
	/* IMDS says "Code":"Success" (PROTOCOLS.md 5); any other code is a failure. */
	v = json_string(doc, "Code");
	if (v && strcmp(v, "Success") != 0) {
		char code[AWS_MAX_ERROR_TYPE];
		aws_sanitize_error_type(v, strlen(v), code, sizeof code);
		snprintf(err, errlen, "credentials answer has Code %s", code[0] ? code : "(unreadable)");
		goto out;
	}
	v = json_string(doc, "AccessKeyId");
	if (!v || set_value(creds->access_key_id, sizeof creds->access_key_id, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has no valid AccessKeyId");
		goto out;
	}
	v = json_string(doc, "SecretAccessKey");
	if (!v || set_value(creds->secret_access_key, sizeof creds->secret_access_key, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has no valid SecretAccessKey");
		goto out;
	}
	v = json_string(doc, "Token");
	if (v && *v && set_value(creds->session_token, sizeof creds->session_token, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has an invalid Token");
		goto out;
	}
	v = json_string(doc, "Expiration");
	if (v && civil_parse_rfc3339(v, &creds->expiration) != 0) {
		snprintf(err, errlen, "credentials answer has an invalid Expiration");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		aws_credentials_wipe(creds);
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

void aws_parse_error_json(const char *body, size_t len, const char *header, size_t header_len,
                          char *type, size_t type_len, char *message, size_t message_len)
{
	cJSON *doc = NULL;
	const char *v;

	if (type_len)
		type[0] = '\0';
	if (message_len)
		message[0] = '\0';
	if (body && len)
		doc = cJSON_ParseWithLength(body, len);
	/* Smithy awsJson1_1 "Operation error serialization": the header first, then the body's
	 * code, then __type. */
	if (header && header_len)
		aws_sanitize_error_type(header, header_len, type, type_len);
	if (cJSON_IsObject(doc)) {
		if (type_len && !type[0]) {
			v = json_string(doc, "code");
			if (!v)
				v = json_string(doc, "__type");
			if (!v)
				v = json_string(doc, "Code");
			if (v)
				aws_sanitize_error_type(v, strlen(v), type, type_len);
		}
		v = json_string(doc, "message");
		if (!v)
			v = json_string(doc, "Message");
		if (v)
			message_text(message, message_len, v, strlen(v));
	}
	cJSON_Delete(doc);
}

/* ---- the STS XML reader ----------------------------------------------------------- */

/*
 * Just enough XML (W3C XML 1.0) for STS answers: elements, attributes skipped, text with
 * the five predefined entities and character references, CDATA, comments and processing
 * instructions skipped. A DOCTYPE is refused outright, so no entity expansion can happen.
 * Every limit is explicit: depth, name length, text length.
 */
struct xml_reader {
	const char *p, *end;
	char names[XML_MAX_DEPTH][XML_MAX_NAME + 1];
	int depth;
	char text[XML_MAX_TEXT];
	size_t text_len;
	int root_done;
	/* what the STS answer handler collects */
	struct aws_credentials *creds;
	int have_key, have_secret, have_token, bad_field;
	char *code, *message;
	size_t code_len, message_len;
	char *err;
	size_t errlen;
};

static int xml_fail(struct xml_reader *x, const char *what)
{
	snprintf(x->err, x->errlen, "STS answer is not valid XML: %s", what);
	return -1;
}

static int xml_text_put(struct xml_reader *x, const char *s, size_t n)
{
	if (n > sizeof x->text - 1 - x->text_len)
		return xml_fail(x, "text longer than 16384 bytes");
	memcpy(x->text + x->text_len, s, n);
	x->text_len += n;
	return 0;
}

static int xml_skip_past(struct xml_reader *x, const char *marker)
{
	size_t m = strlen(marker);

	for (; x->p + m <= x->end; x->p++) {
		if (memcmp(x->p, marker, m) == 0) {
			x->p += m;
			return 0;
		}
	}
	return xml_fail(x, "truncated");
}

static int xml_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
		|| ch == '_' || ch == ':' || ch == '.' || ch == '-' || (unsigned char)ch >= 0x80;
}

/* Reads a name at x->p into out as its local part (the prefix before ':' dropped). */
static int xml_name(struct xml_reader *x, char *out)
{
	const char *start = x->p, *local;
	size_t n;

	while (x->p < x->end && xml_name_char(*x->p))
		x->p++;
	if (x->p == start)
		return xml_fail(x, "missing element name");
	local = start;
	for (n = 0; start + n < x->p; n++)
		if (start[n] == ':')
			local = start + n + 1;
	n = (size_t)(x->p - local);
	if (n == 0 || n > XML_MAX_NAME)
		return xml_fail(x, "element name empty or too long");
	memcpy(out, local, n);
	out[n] = '\0';
	return 0;
}

static int xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* &amp; &lt; &gt; &quot; &apos; (XML 1.0 section 4.6) and &#N; &#xH; (section 4.1). */
static int xml_entity(struct xml_reader *x)
{
	static const struct { const char *name; char ch; } named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	unsigned long cp = 0;
	unsigned char utf8[4];
	size_t i, n;
	int hex;

	x->p++;
	for (i = 0; i < sizeof named / sizeof named[0]; i++) {
		n = strlen(named[i].name);
		if ((size_t)(x->end - x->p) >= n && memcmp(x->p, named[i].name, n) == 0) {
			x->p += n;
			return xml_text_put(x, &named[i].ch, 1);
		}
	}
	if (x->p >= x->end || *x->p != '#')
		return xml_fail(x, "unknown entity");
	x->p++;
	hex = x->p < x->end && *x->p == 'x';
	if (hex)
		x->p++;
	for (n = 0; x->p < x->end && *x->p != ';'; x->p++, n++) {
		char ch = *x->p;
		int v = ch >= '0' && ch <= '9' ? ch - '0' : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (v < 0 || n >= 8)
			return xml_fail(x, "bad character reference");
		cp = cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	if (x->p >= x->end || n == 0 || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return xml_fail(x, "bad character reference");
	x->p++;
	if (cp < 0x80) {
		utf8[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		utf8[0] = (unsigned char)(0xc0 | cp >> 6);
		utf8[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		utf8[0] = (unsigned char)(0xe0 | cp >> 12);
		utf8[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		utf8[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		utf8[0] = (unsigned char)(0xf0 | cp >> 18);
		utf8[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		utf8[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		utf8[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return xml_text_put(x, (const char *)utf8, n);
}

/* The STS handler: called with each element's own text when it closes. */
static void sts_element(struct xml_reader *x, const char *text, size_t n)
{
	const char *name = x->names[x->depth - 1];
	const char *parent = x->depth >= 2 ? x->names[x->depth - 2] : "";

	if (strcmp(parent, "Credentials") == 0) {
		struct aws_credentials *c = x->creds;
		char t[40];

		if (strcmp(name, "AccessKeyId") == 0) {
			x->bad_field |= set_value(c->access_key_id, sizeof c->access_key_id, text, n) != 0;
			x->have_key = 1;
		} else if (strcmp(name, "SecretAccessKey") == 0) {
			x->bad_field |= set_value(c->secret_access_key, sizeof c->secret_access_key, text, n) != 0;
			x->have_secret = 1;
		} else if (strcmp(name, "SessionToken") == 0) {
			x->bad_field |= set_value(c->session_token, sizeof c->session_token, text, n) != 0;
			x->have_token = 1;
		} else if (strcmp(name, "Expiration") == 0) {
			if (n >= sizeof t) {
				x->bad_field = 1;
			} else {
				memcpy(t, text, n);
				t[n] = '\0';
				x->bad_field |= civil_parse_rfc3339(t, &c->expiration) != 0;
			}
		}
	} else if (strcmp(name, "Code") == 0 && x->code_len && !x->code[0]) {
		aws_sanitize_error_type(text, n, x->code, x->code_len);
	} else if (strcmp(name, "Message") == 0 && x->message_len && !x->message[0]) {
		message_text(x->message, x->message_len, text, n);
	}
}

static int xml_end_element(struct xml_reader *x)
{
	const char *t = x->text;
	size_t n = x->text_len;

	while (n > 0 && xml_space(*t)) {
		t++;
		n--;
	}
	while (n > 0 && xml_space(t[n - 1]))
		n--;
	sts_element(x, t, n);
	explicit_bzero(x->text, x->text_len);
	x->text_len = 0;
	if (--x->depth == 0)
		x->root_done = 1;
	return 0;
}

static int xml_tag(struct xml_reader *x)
{
	char name[XML_MAX_NAME + 1];
	char quote = 0;

	x->p++;   /* '<' */
	if (x->p >= x->end)
		return xml_fail(x, "truncated");
	if (*x->p == '?')
		return xml_skip_past(x, "?>");
	if ((size_t)(x->end - x->p) >= 3 && memcmp(x->p, "!--", 3) == 0)
		return xml_skip_past(x, "-->");
	if ((size_t)(x->end - x->p) >= 8 && memcmp(x->p, "![CDATA[", 8) == 0) {
		const char *start = x->p + 8;
		if (x->depth == 0)
			return xml_fail(x, "CDATA outside the root element");
		x->p = start;
		if (xml_skip_past(x, "]]>") != 0)
			return -1;
		return xml_text_put(x, start, (size_t)(x->p - 3 - start));
	}
	if (*x->p == '!')
		return xml_fail(x, "DOCTYPE and declarations are not accepted");
	if (*x->p == '/') {
		x->p++;
		if (xml_name(x, name) != 0)
			return -1;
		while (x->p < x->end && xml_space(*x->p))
			x->p++;
		if (x->p >= x->end || *x->p != '>')
			return xml_fail(x, "bad end tag");
		x->p++;
		if (x->depth == 0 || strcmp(name, x->names[x->depth - 1]) != 0)
			return xml_fail(x, "mismatched end tag");
		return xml_end_element(x);
	}
	if (x->root_done)
		return xml_fail(x, "a second root element");
	if (x->depth >= XML_MAX_DEPTH)
		return xml_fail(x, "nested deeper than 32 elements");
	if (xml_name(x, name) != 0)
		return -1;
	/* Attributes are skipped; quotes are honoured so a '>' inside a value is not the end. */
	for (; x->p < x->end; x->p++) {
		if (quote) {
			if (*x->p == quote)
				quote = 0;
		} else if (*x->p == '"' || *x->p == '\'') {
			quote = *x->p;
		} else if (*x->p == '<') {
			return xml_fail(x, "'<' inside a tag");
		} else if (*x->p == '>') {
			break;
		}
	}
	if (x->p >= x->end)
		return xml_fail(x, "truncated");
	memcpy(x->names[x->depth++], name, sizeof name);
	explicit_bzero(x->text, x->text_len);
	x->text_len = 0;
	if (x->p[-1] == '/') {
		x->p++;
		return xml_end_element(x);
	}
	x->p++;
	return 0;
}

static int xml_run(struct xml_reader *x)
{
	while (x->p < x->end) {
		const char *start;

		if (*x->p == '<') {
			if (xml_tag(x) != 0)
				return -1;
			continue;
		}
		if (*x->p == '\0')
			return xml_fail(x, "NUL byte");
		if (x->depth == 0) {
			if (!xml_space(*x->p))
				return xml_fail(x, "text outside the root element");
			x->p++;
			continue;
		}
		if (*x->p == '&') {
			if (xml_entity(x) != 0)
				return -1;
			continue;
		}
		start = x->p;
		while (x->p < x->end && *x->p != '<' && *x->p != '&' && *x->p != '\0')
			x->p++;
		if (xml_text_put(x, start, (size_t)(x->p - start)) != 0)
			return -1;
	}
	if (x->depth != 0 || !x->root_done)
		return xml_fail(x, "truncated");
	return 0;
}

int aws_parse_sts_response(const char *xml, size_t len, struct aws_credentials *creds,
                           char *code, size_t code_len, char *message, size_t message_len,
                           char *err, size_t errlen)
{
	struct xml_reader *x = calloc(1, sizeof *x);
	int rc;

	memset(creds, 0, sizeof *creds);
	if (code_len)
		code[0] = '\0';
	if (message_len)
		message[0] = '\0';
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return AWS_EPARSE;
	}
	x->p = xml;
	x->end = xml + len;
	x->creds = creds;
	x->code = code;
	x->code_len = code_len;
	x->message = message;
	x->message_len = message_len;
	x->err = err;
	x->errlen = errlen;
	if (xml_run(x) != 0) {
		rc = AWS_EPARSE;
	} else if (code_len && code[0]) {
		rc = AWS_EREQUEST;
	} else if (!x->have_key || !x->have_secret || !x->have_token) {
		snprintf(err, errlen, "STS answer has no Credentials");
		rc = AWS_EPARSE;
	} else if (x->bad_field) {
		snprintf(err, errlen, "STS answer has an invalid credential field");
		rc = AWS_EPARSE;
	} else {
		rc = 0;
	}
	if (rc != 0)
		aws_credentials_wipe(creds);
	explicit_bzero(x, sizeof *x);
	free(x);
	return rc;
}
