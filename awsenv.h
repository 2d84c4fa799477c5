/*
 * awsenv: what the environment configures for AWS, the way the AWS SDKs read it
 * (docs/reference.md "AWS credentials, region and endpoints"; docs/design.md "The
 * credential chain and the environment", "ECR GetAuthorizationToken" for endpoints): the region,
 * endpoints and their overrides, the trust anchors' files, and which credential source
 * the chain will use. Checks only, no network but the name lookups of
 * AWS_CONTAINER_CREDENTIALS_FULL_URI; no secret is copied in here.
 */
#ifndef AWSENV_H
#define AWSENV_H

#include <stddef.h>

#include "awsparse.h"
#include "http.h"

#define AWS_MAX_REGION        64

enum aws_source {
	AWS_SOURCE_NONE,
	AWS_SOURCE_ENV,
	AWS_SOURCE_WEB_IDENTITY,
	AWS_SOURCE_CONTAINER,
	AWS_SOURCE_IMDS,
};

enum aws_service { AWS_SERVICE_ECR, AWS_SERVICE_STS };

/* What the environment configures; no secret is copied in here. */
struct aws_settings {
	char region[AWS_MAX_REGION];         /* AWS_REGION, else AWS_DEFAULT_REGION, else "" */
	int use_fips;                        /* AWS_USE_FIPS_ENDPOINT=true */
	int use_dualstack;                   /* AWS_USE_DUALSTACK_ENDPOINT=true */
	int sts_legacy;                      /* AWS_STS_REGIONAL_ENDPOINTS=legacy */
	char endpoint_url_ecr[HTTP_MAX_URL]; /* AWS_ENDPOINT_URL_ECR, else AWS_ENDPOINT_URL */
	char endpoint_url_sts[HTTP_MAX_URL]; /* AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL */
	char ca_bundle[1024];                /* AWS_CA_BUNDLE */
	char ssl_cert_file[1024];            /* SSL_CERT_FILE */
	enum aws_source source;              /* the credential source that will be used */
	char role_arn[2048];
	char web_identity_token_file[1024];
	char role_session_name[65];          /* AWS_ROLE_SESSION_NAME, else generated */
	char container_url[HTTP_MAX_URL];    /* full URL, RELATIVE_URI already resolved */
	char container_token_file[1024];     /* "" when the static token (or none) is used */
	int container_token_static;          /* AWS_CONTAINER_AUTHORIZATION_TOKEN is set */
	char imds_endpoint[HTTP_MAX_URL];    /* no trailing '/' */
	int imds_disabled;
};

/*
 * Reads and checks the environment: env keys set by halves, a FULL_URI that is plain http
 * to anything but loopback or the container agents' addresses (every resolved address is
 * checked), FIPS together with a custom endpoint, bad URLs, regions or session names are
 * AWS_ECONFIG with one line in err.
 */
int aws_settings_from_env(struct aws_settings *settings, char *err, size_t errlen);

struct aws_endpoint {
	char url[HTTP_MAX_URL];              /* where POST / goes, e.g. https://api.ecr.eu-west-1.amazonaws.com/ */
	char signing_region[AWS_MAX_REGION];
	const char *signing_name;            /* "ecr", "sts" */
};

/* The endpoint of svc in region under settings (partition, FIPS, dual-stack, STS legacy,
 * AWS_ENDPOINT_URL_* overrides). AWS_ECONFIG when no such endpoint exists. */
int aws_endpoint_for(const struct aws_settings *settings, enum aws_service svc, const char *region,
                     struct aws_endpoint *out, char *err, size_t errlen);

/* 1 when s can be a region name inside a host name: [a-z0-9-], 1..63 chars. */
int aws_valid_region(const char *s);

/* 1 when s is a valid RoleSessionName: 2..64 chars of [A-Za-z0-9_+=,.@-]. */
int aws_valid_session_name(const char *s);

/* 1 when s is an IAM role ARN: arn:PARTITION:iam::ACCOUNT(12 digits):role/[PATH/]NAME. */
int aws_valid_role_arn(const char *s);

/* Plain http for container credentials only to loopback, 169.254.170.2, 169.254.170.23 or
 * fd00:ec2::23 (sdkref feature-container-credentials.html). With resolve == 0 (while the
 * configuration is read) an IP literal is checked and a host name left alone, so no DNS
 * answer decides a configuration; with resolve == 1 (when the credentials are fetched)
 * every address of the name must qualify. Returns 0 or AWS_ECONFIG with err. */
int aws_check_full_uri(const char *uri, int resolve, char *err, size_t errlen);

/* "env", "web-identity", "container", "imds" or "none". */
const char *aws_source_name(enum aws_source source);

/* The value of an environment variable, NULL when it is unset or empty. */
const char *aws_env(const char *name);

#endif
