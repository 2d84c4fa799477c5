/*
 * awsparse: the pure readers of AWS answers (docs/design.md "STS
 * AssumeRoleWithWebIdentity (IRSA)", "IMDSv2", "ECR GetAuthorizationToken"): STS XML, the
 * credentials JSON of container endpoints and IMDS, AWS JSON 1.1 errors, and how an error
 * is classified. No I/O and no state, so the fuzzers link them alone (tests/fuzz/).
 */
#ifndef AWSPARSE_H
#define AWSPARSE_H

#include <stddef.h>

#define AWS_MAX_KEY_ID        129
#define AWS_MAX_SECRET_KEY    257
#define AWS_MAX_SESSION_TOKEN 8193
#define AWS_MAX_ERROR_TYPE    128

/* What every aws function returns when it fails. */
enum {
	AWS_ECONFIG = -1,    /* the environment is wrong: exit 2, nothing was contacted */
	AWS_ECREDS = -2,     /* no credentials, or the configured source failed */
	AWS_EREQUEST = -3,   /* an AWS call failed (error answer, transport, deadline) */
	AWS_EPARSE = -4,     /* an answer could not be read */
};

struct aws_credentials {
	char access_key_id[AWS_MAX_KEY_ID];
	char secret_access_key[AWS_MAX_SECRET_KEY];
	char session_token[AWS_MAX_SESSION_TOKEN];   /* "" for long-term keys */
	long long expiration;                        /* UNIX seconds; 0 when not given */
};

/* Wipes every byte (explicit_bzero). */
void aws_credentials_wipe(struct aws_credentials *creds);

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

struct aws_identity {
	char arn[2048];
	char account[16];
	char user_id[256];
};

/*
 * Reads an STS GetCallerIdentity answer (the same bounded XML reader): Arn, Account and
 * UserId of .../GetCallerIdentityResult. Returns 0 with Arn and Account non-empty; on an
 * error document AWS_EREQUEST with code and message; on bad input AWS_EPARSE with err.
 */
int aws_parse_caller_identity(const char *xml, size_t len, struct aws_identity *id, char *code,
                              size_t code_len, char *message, size_t message_len, char *err, size_t errlen);

/* The Code (sanitized, as aws_sanitize_error_type) and Message of a Query-protocol error
 * answer, found at any depth; empty strings when the answer has none or is no XML. */
void aws_parse_query_error(const char *xml, size_t len, char *code, size_t code_len, char *message,
                           size_t message_len);

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

/* 1 when s[0..n) is visible ASCII (0x21..0x7e): what a key, a token or a secret that goes
 * into an HTTP header field may hold (RFC 9110 5.5 allows more; no AWS value has it). */
int aws_visible_ascii(const char *s, size_t n);

/* Copies s[0..n) and a NUL into dst when 0 < n < cap and it is visible ASCII. 0 or -1. */
int aws_set_value(char *dst, size_t cap, const char *src, size_t n);

/* Copies the string src into dst when it fits. 0 or -1. */
int aws_copy_str(char *dst, size_t cap, const char *src);

#endif
