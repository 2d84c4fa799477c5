/*
 * ecr: Amazon ECR private registries: host names, GetAuthorizationToken (one call per
 * region, whatever the number of accounts: a token covers every registry the principal
 * can reach there), and the .dockerconfigjson built from the tokens (docs/reference.md "The
 * Secret"; docs/design.md "ECR GetAuthorizationToken", "How the kubelet reads the Secret").
 *
 * Passwords (and their "auth" forms) are heap strings registered with log_register_secret
 * and wiped by ecr_tokens_free; call log_forget_secrets() before freeing them.
 */
#ifndef ECR_H
#define ECR_H

#include <stddef.h>

#include "aws.h"

#define ECR_MAX_HOST       253
#define ECR_MAX_TOKEN_BODY 65536   /* base64 authorizationToken; real ones are ~3 KiB */

struct ecr_registry {
	char host[ECR_MAX_HOST + 1];      /* bare host, lower case: the dockerconfig key */
	char account[13];                 /* 12 digits */
	char region[AWS_MAX_REGION];
	int fips;                         /* ...dkr.ecr-fips... */
	int dualstack;                    /* ...dkr-ecr... */
};

/*
 * Parses a registry as configured: https:// and a trailing path or port are tolerated,
 * then the host must match the ECR credential helper's pattern (docs/design.md
 * "ECR GetAuthorizationToken"). Returns 0
 * or AWS_ECONFIG with err: "\"x\" is not an ECR registry host
 * (ACCOUNT.dkr.ecr.REGION.amazonaws.com)".
 */
int ecr_parse_registry(const char *input, struct ecr_registry *out, char *err, size_t errlen);

struct ecr_token {
	char region[AWS_MAX_REGION];
	char username[64];                /* "AWS" */
	char *password;                   /* heap; wiped by ecr_token_clear */
	char *auth;                       /* base64(username:password), the dockerconfig "auth" */
	double expires_at;                /* UNIX seconds, may have a fraction */
	char proxy_endpoint[256];         /* "https://ACCOUNT.dkr.ecr.REGION.amazonaws.com" or "" */
};

/* Reads a GetAuthorizationToken 200 answer (docs/design.md "ECR
 * GetAuthorizationToken"): the first authorizationData
 * entry, its token base64-decoded and split at the first ':'. Returns 0 or AWS_EPARSE with
 * err (never quoting the token). */
int ecr_parse_token_response(const char *body, size_t len, struct ecr_token *out,
                             char *err, size_t errlen);

/* Wipes and frees the password and auth; the struct can be reused. */
void ecr_token_clear(struct ecr_token *token);

/* One GetAuthorizationToken call in region (aws_json_call: retries, credential refresh).
 * Returns 0 or a negative AWS_E* code with err naming the AWS error type and region. */
int ecr_get_token(struct aws_client *aws, const char *region, struct ecr_token *out,
                  char *err, size_t errlen);

/* One token per distinct region among regs[0..count), in first-seen order, into a heap
 * array (*tokens, *token_count) freed with ecr_tokens_free, after log_forget_secrets().
 * Stops at the first failure; the tokens fetched until then are handed over all the same. */
int ecr_get_tokens(struct aws_client *aws, const struct ecr_registry *regs, size_t count,
                   struct ecr_token **tokens, size_t *token_count, char *err, size_t errlen);

void ecr_tokens_free(struct ecr_token *tokens, size_t count);

/* The earliest expiry among tokens, for the Secret's annotation. */
double ecr_earliest_expiry(const struct ecr_token *tokens, size_t count);

/*
 * {"auths":{"HOST":{"username":"AWS","password":"PW","auth":"base64(AWS:PW)"}}}, one entry
 * per distinct host in the order given, PW from the token of that host's region. Returns a
 * heap string the caller wipes and frees, or NULL (no token for a region, out of memory).
 */
char *ecr_dockerconfigjson(const struct ecr_registry *regs, size_t count,
                           const struct ecr_token *tokens, size_t token_count);

#endif
