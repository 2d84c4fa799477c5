/*
 * sigv4: AWS Signature Version 4 for header-signed requests.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 *
 * No I/O and no allocation: the canonical request is streamed into SHA-256, never built in
 * memory, and the derived signing keys live on the stack and are wiped before return.
 * Every header passed is signed: the caller passes exactly what it sends (host, x-amz-date,
 * x-amz-security-token for temporary credentials, content-type, x-amz-target, ...).
 *
 * Rules (create-signed-request.html, "Canonical request"):
 * - path: normalize_path=1 removes "." and ".." and empty segments and URI-encodes each
 *   remaining segment byte for byte, so a wire "%20" becomes "%2520" ("encoded twice");
 *   a trailing "/" stays. normalize_path=0 (S3) keeps every segment, decodes %XX and encodes
 *   once. A non-empty path must start with "/" and hold no '?' or '#'.
 * - query: split at "&" (empty pieces dropped) and the first "="; %XX is decoded ("+" is a
 *   literal plus) and re-encoded keeping only A-Za-z0-9-_.~; sorted by name, then value.
 * - headers: names must be RFC 9110 tokens; values must not hold control characters other
 *   than HTAB and obs-fold line breaks (CRLF or LF followed by SP/HTAB). A host header is
 *   required. When x-amz-date is present it must equal scope->amz_date.
 * - payload: when an x-amz-content-sha256 header is passed (at most once), its value is the
 *   payload hash line (S3 "UNSIGNED-PAYLOAD" works); otherwise the body is hashed.
 */
#ifndef SIGV4_H
#define SIGV4_H

#include <stddef.h>

#define SIGV4_MAX_HEADERS 64      /* header_count above this is rejected */
#define SIGV4_MAX_QUERY   128     /* query parameters above this are rejected */
#define SIGV4_MAX_SECRET  128     /* bytes of secret_access_key (AWS issues 40) */

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
 * Returns its length, or -1 if it does not fit or the request is invalid. On -1, out holds
 * "" when outlen > 0; the same holds for the two functions below. */
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

/* Formats a UNIX time as YYYYMMDDTHHMMSSZ (16 chars + NUL) into out[17], in UTC. Times
 * before year 0000 or after 9999 are clamped to those years' first/last second. */
void sigv4_amz_date(long long unix_seconds, char out[17]);

#endif
