/*
 * aws: credentials, regions and endpoints the way the AWS SDKs find them (SPEC.md "AWS, as
 * the AWS SDKs do it"; PROTOCOLS.md sections 3-6), and one signed JSON 1.1 call with the
 * SDKs' retry rules for the services built on it (ecr).
 *
 * Credential sources, the first configured one wins:
 *   env keys     AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
 *   web identity AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, via STS
 *                AssumeRoleWithWebIdentity (unsigned; the token file is re-read each call)
 *   container    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, authorised by
 *                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each call) or _TOKEN
 *   IMDSv2       AWS_EC2_METADATA_SERVICE_ENDPOINT, unless AWS_EC2_METADATA_DISABLED=true
 *
 * Everything read from the environment is checked by aws_client_init before any request,
 * so a configuration mistake is AWS_ECONFIG (exit 2) with nothing contacted. Secret values
 * (keys, session and identity tokens) live only in the client, are registered with
 * log_register_secret, and are wiped by aws_client_free: call log_forget_secrets() first.
 */
#ifndef AWS_H
#define AWS_H

#include <stddef.h>
#include <stdint.h>

#include "anchors.h"
#include "http.h"

#define AWS_MAX_REGION        64
#define AWS_MAX_KEY_ID        129
#define AWS_MAX_SECRET_KEY    257
#define AWS_MAX_SESSION_TOKEN 8193
#define AWS_MAX_ERROR_TYPE    128
#define AWS_MAX_BODY          (256u * 1024)   /* largest AWS answer read */

enum {
	AWS_ECONFIG = -1,    /* the environment is wrong: exit 2, nothing was contacted */
	AWS_ECREDS = -2,     /* no credentials, or the configured source failed */
	AWS_EREQUEST = -3,   /* an AWS call failed (error answer, transport, deadline) */
	AWS_EPARSE = -4,     /* an answer could not be read */
};

enum aws_source {
	AWS_SOURCE_NONE,
	AWS_SOURCE_ENV,
	AWS_SOURCE_WEB_IDENTITY,
	AWS_SOURCE_CONTAINER,
	AWS_SOURCE_IMDS,
};

enum aws_service { AWS_SERVICE_ECR, AWS_SERVICE_STS };

struct aws_credentials {
	char access_key_id[AWS_MAX_KEY_ID];
	char secret_access_key[AWS_MAX_SECRET_KEY];
	char session_token[AWS_MAX_SESSION_TOKEN];   /* "" for long-term keys */
	long long expiration;                        /* UNIX seconds; 0 when not given */
};

/* Wipes every byte (explicit_bzero). */
void aws_credentials_wipe(struct aws_credentials *creds);

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

/* ---- the client ------------------------------------------------------------------------ */

struct aws_client {
	struct aws_settings settings;
	const struct http_proxy *proxy;
	int64_t timeout_ms;                  /* per request */
	int64_t deadline_ms;                 /* the whole run, net_now_ms() based */
	struct anchors extra_anchors;        /* embedded + AWS_CA_BUNDLE + SSL_CERT_FILE */
	const struct anchors *anchors;       /* what https requests are verified with */
	struct http_conn conn;               /* endpoints and https credential URLs, proxied */
	struct http_conn metadata_conn;      /* plain-http metadata endpoints, never proxied */
	char *conn_buf;
	char *metadata_buf;
	struct aws_credentials creds;
	int have_creds;
	unsigned registered;                 /* which buffers log_register_secret holds */
	char *token_buf;                     /* identity or container authorization token */
	char imds_token[128];
	uint64_t rng;                        /* backoff jitter, session names */
	char err[1024];
};

/*
 * Reads the environment (aws_settings_from_env) and the extra trust anchors. proxy applies
 * to every https request (may be NULL); timeout_s bounds each request, deadline_ms the run.
 * Returns 0, or AWS_ECONFIG with err filled.
 */
int aws_client_init(struct aws_client *client, const struct http_proxy *proxy, int timeout_s,
                    int64_t deadline_ms, char *err, size_t errlen);

/* Closes connections, wipes credentials and tokens, frees buffers. */
void aws_client_free(struct aws_client *client);

/*
 * Makes sure client->creds holds credentials: fetched once, or again when refresh is set.
 * region is the run's first registry region, used for STS when AWS_REGION and
 * AWS_DEFAULT_REGION are unset (may be NULL). Returns 0 or AWS_ECREDS with client->err,
 * e.g. "no AWS credentials: env keys not set, no web identity, no container credentials,
 * IMDS unreachable (169.254.169.254: timed out after 1s)".
 */
int aws_client_credentials(struct aws_client *client, const char *region, int refresh);

/* "env", "web-identity", "container", "imds" or "none". */
const char *aws_source_name(enum aws_source source);

/* The default region: AWS_REGION, AWS_DEFAULT_REGION, then IMDS placement/region.
 * Returns 0 or AWS_EREQUEST with client->err. */
int aws_default_region(struct aws_client *client, char *out, size_t outlen);

struct aws_json_call {
	enum aws_service service;
	const char *region;                  /* signing region, and the endpoint's */
	const char *operation;               /* "GetAuthorizationToken", for messages */
	const char *target;                  /* X-Amz-Target */
	const char *body;                    /* JSON input, "{}" at least */
};

/*
 * One AWS JSON 1.1 call, SigV4-signed with the client's credentials (fetched here when
 * needed). Throttling, 429/5xx and transport errors are retried with capped exponential
 * backoff and full jitter within the run deadline; an expired or rejected credential is
 * fetched again once (not for env keys, which cannot change). On 0, *body / *body_len
 * view the 2xx answer in the client's buffer, valid until its next request. Otherwise a
 * negative code with client->err naming the operation, region and AWS error type, never a
 * secret: "ECR GetAuthorizationToken in eu-west-1: AccessDeniedException (HTTP 400): ...".
 */
int aws_json_call(struct aws_client *client, const struct aws_json_call *call,
                  const char **body, size_t *body_len);

/* ---- pure readers, exported for tests and fuzzing ------------------------------------ */

/*
 * Reads an STS AssumeRoleWithWebIdentity answer with a small bounded XML reader (no DTD,
 * depth <= 32, the five predefined entities and character references). On success fills
 * creds from .../Credentials/{AccessKeyId,SecretAccessKey,SessionToken,Expiration} and
 * returns 0. On an error document copies Error Code (found at any depth) into code and
 * Message into message and returns AWS_EREQUEST; on bad input AWS_EPARSE with err.
 */
int aws_parse_sts_response(const char *xml, size_t len, struct aws_credentials *creds,
                           char *code, size_t code_len, char *message, size_t message_len,
                           char *err, size_t errlen);

/*
 * Reads the JSON credentials of a container endpoint ({"AccessKeyId","SecretAccessKey",
 * "Token","Expiration"}) or of IMDS (the same plus "Code":"Success"). Returns 0 or
 * AWS_EPARSE with err (never quoting a value).
 */
int aws_parse_credentials_json(const char *body, size_t len, struct aws_credentials *creds,
                               char *err, size_t errlen);

/*
 * The error type of an AWS JSON answer: the X-Amzn-ErrorType header (header may be NULL),
 * else the body's "code", else "__type"; sanitized (aws_sanitize_error_type). message gets
 * the body's "message"/"Message" if any. Empty strings when nothing is found.
 */
void aws_parse_error_json(const char *body, size_t len, const char *header, size_t header_len,
                          char *type, size_t type_len, char *message, size_t message_len);

/* Smithy awsJson1_1 rule: cut at the first ':', then keep what follows the last '#'. */
void aws_sanitize_error_type(const char *in, size_t len, char *out, size_t outlen);

/* 1 when the SDKs retry this error type or HTTP status (botocore retries/standard.py). */
int aws_retryable_error(const char *type, int status);

/* 1 when the error says the credential itself is stale or unknown: fetch it again once. */
int aws_credential_error(const char *type);

/* 1 when s is a valid RoleSessionName: 2..64 chars of [A-Za-z0-9_+=,.@-]. */
int aws_valid_session_name(const char *s);

#endif
