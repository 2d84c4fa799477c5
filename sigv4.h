/*
 * sigv4: AWS Signature Version 4 for header-signed requests.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 *
 * No I/O and no allocation: the canonical request is streamed into SHA-256, never built in
 * memory, and the derived signing keys live on the stack and are wiped before return.
 * Every header passed is signed: the caller passes exactly what it sends (host, x-amz-date,
 * x-amz-security-token for temporary credentials, content-type, x-amz-target, ...).
 */
#ifndef SIGV4_H
#define SIGV4_H

#include <stddef.h>

#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_QUERY   128

struct sigv4_header {
	const char *name;         /* any case; repeated names are joined with "," in order */
	const char *value;        /* trimmed, inner runs of spaces collapsed, folds joined */
};

struct sigv4_request {
	const char *method;
	const char *path;         /* as sent on the wire, percent-encoded; "" means "/" */
	const char *query;        /* as sent, without '?'; NULL or "" for none */
	const struct sigv4_header *headers;
	size_t header_count;
	const void *body;
	size_t body_len;
};

struct sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
};

struct sigv4_scope {
	const char *amz_date;     /* YYYYMMDDTHHMMSSZ, equal to the x-amz-date header */
	const char *region;
	const char *service;      /* signing name: "ecr", "sts", ... */
	int normalize_path;       /* 1 for every service but S3: remove . .. //, encode twice */
};

/* Writes the canonical request into out (NUL-terminated). For tests and debug logs.
 * Returns its length, or -1 if it does not fit or the request is invalid. */
long sigv4_canonical_request(const struct sigv4_request *req, int normalize_path,
                             char *out, size_t outlen);

/* Writes the string to sign into out. Returns its length or -1. */
long sigv4_string_to_sign(const struct sigv4_request *req, const struct sigv4_scope *scope,
                          char *out, size_t outlen);

/*
 * Writes the whole Authorization header value into out:
 * "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=a;b, Signature=hex". Returns its length, or -1 when out is too small or
 * the request is invalid (too many headers or query parameters, bad date).
 */
long sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key,
                         const struct sigv4_scope *scope, char *out, size_t outlen);

/* Formats a UNIX time as YYYYMMDDTHHMMSSZ (16 chars + NUL) into out[17]. */
void sigv4_amz_date(long long unix_seconds, char out[17]);

#endif
