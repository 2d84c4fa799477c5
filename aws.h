/*
 * aws: the AWS client (docs/reference.md "AWS credentials, region and endpoints";
 * docs/design.md "The credential chain and the environment"): credentials fetched through
 * the chain (awscred.c), and one signed JSON 1.1 call with the SDKs' retry rules for the
 * services built on it (ecr). What the environment configures is awsenv.h; the pure
 * readers of AWS answers are awsparse.h.
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
#include "awsenv.h"
#include "awsparse.h"
#include "http.h"

#define AWS_MAX_BODY          (256u * 1024)   /* largest AWS answer read */

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

/* The default region: AWS_REGION, AWS_DEFAULT_REGION, then IMDS placement/region.
 * Returns 0 or AWS_EREQUEST with client->err. */
int aws_default_region(struct aws_client *client, char *out, size_t outlen);

struct aws_json_call {
	enum aws_service service;
	const char *region;                  /* signing region, and the endpoint's */
	const char *operation;               /* "GetAuthorizationToken", for messages */
	const char *target;                  /* X-Amz-Target; NULL for the Query protocol */
	const char *body;                    /* JSON input, "{}" at least; or the form */
	const char *content_type;            /* NULL: AWS JSON 1.1; else the Query protocol's
	                                      * form type, and errors are read as XML */
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

#endif
