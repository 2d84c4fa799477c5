/*
 * gcr: Google registries (Container Registry gcr.io, *.gcr.io; Artifact Registry
 * REGION-docker.pkg.dev) and their credentials (docs/design.md "Google registries"):
 *
 *   json-key      GOOGLE_APPLICATION_CREDENTIALS names a service-account key file: user
 *                 "_json_key", password the key file itself; no network, never expires.
 *   access-token  the same key signs an RS256 JWT (BearSSL br_rsa_pkcs1_sign) that is
 *                 exchanged at the key's token_uri with the JWT-bearer grant (RFC 7523)
 *                 for a one-hour OAuth2 access token; user "oauth2accesstoken".
 *   metadata      no key file: GKE Workload Identity, an access token from the metadata
 *                 server (GCE_METADATA_HOST, default metadata.google.internal), plain http
 *                 to loopback or link-local addresses only, "Metadata-Flavor: Google".
 *
 * Everything read from the environment and the key file is checked by gcr_client_init
 * before any request: a wrong setting or a malformed key is GCR_ECONFIG (exit 2); a token
 * that cannot be had is GCR_ETOKEN (exit 3). The key, the JWT and access tokens are
 * wiped when done and never reach a message.
 *
 * The pure parts (host check, key reader, JWT, token answer reader) are exported for
 * tests and fuzzing.
 */
#ifndef GCR_H
#define GCR_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "anchors.h"
#include "http.h"
#include "secret.h"

#define GCR_MAX_HOST       253
#define GCR_MAX_KEY_FILE   (64 * 1024)          /* real key files are ~2.3 KiB */
#define GCR_MAX_TOKEN      4096                 /* access tokens are ~200-2000 bytes */
#define GCR_MAX_JWT        4096                 /* an RSA-4096 assertion is ~1.3 KiB */
#define GCR_JWT_LIFETIME   3600                 /* the most Google accepts */
#define GCR_SCOPE          "https://www.googleapis.com/auth/cloud-platform"
#define GCR_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define GCR_JWT_GRANT      "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GCR_METADATA_TOKEN_PATH "/computeMetadata/v1/instance/service-accounts/default/token"

enum {
	GCR_ECONFIG = -1,   /* settings or key file wrong: exit 2, nothing contacted */
	GCR_ETOKEN = -2,    /* no access token (error answer, transport, deadline): exit 3 */
};

enum gcr_auth { GCR_AUTH_DEFAULT, GCR_AUTH_JSON_KEY, GCR_AUTH_ACCESS_TOKEN };

/*
 * Checks a Google registry host as configured (https:// and a trailing path tolerated,
 * lower-cased): gcr.io, LABEL.gcr.io, or LABEL-docker.pkg.dev. Writes the bare host into
 * host. Returns 0 or GCR_ECONFIG with err ("\"x\" is not a Google registry host (gcr.io,
 * *.gcr.io, REGION-docker.pkg.dev)").
 */
int gcr_parse_host(const char *input, char *host, size_t hostlen, char *err, size_t errlen);

struct gcr_key {
	char *json;                      /* the key file as read: the _json_key password (heap) */
	size_t json_len;
	char client_email[256];
	char private_key_id[128];        /* "" when absent */
	char token_uri[HTTP_MAX_URL];
	br_skey_decoder_context skey;    /* holds the RSA key; never copy the struct */
	const br_rsa_private_key *rsa;   /* points into skey */
};

/*
 * Reads a service-account key file's text[0..len) (pure): "type":"service_account",
 * "client_email", "private_key" (PEM, PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY",
 * RSA), optional "private_key_id" and "token_uri" (https; default GCR_DEFAULT_TOKEN_URI).
 * Keeps a copy of text as the json-key password. Returns 0, or GCR_ECONFIG with err
 * naming the field (never quoting the key). gcr_key_free in both cases.
 */
int gcr_parse_key(const char *text, size_t len, struct gcr_key *key, char *err, size_t errlen);

/* Wipes and frees the key; safe on a zeroed or failed key. */
void gcr_key_free(struct gcr_key *key);

/*
 * The signed JWT-bearer assertion for key at UNIX time now:
 * base64url({"alg":"RS256","typ":"JWT"[,"kid"]}) "." base64url({"iss","scope","aud",
 * "iat","exp"}) "." base64url(RSASSA-PKCS1-v1_5 SHA-256 signature), no padding (RFC 7515,
 * RFC 7523 section 3). Returns its length, or -1 when out is too small or signing failed.
 */
long gcr_jwt(const struct gcr_key *key, long long now, char *out, size_t outlen);

/*
 * Reads an OAuth2 token answer (token endpoint or metadata server, pure):
 * {"access_token","expires_in",...}. The token must be 1..GCR_MAX_TOKEN printable ASCII
 * bytes, expires_in 1..86400 seconds. Returns 0, or -1 with err (never quoting the token).
 * For an error answer, code and description get the "error" and "error_description"
 * fields, cut and with anything but printable ASCII replaced (code/description may be
 * NULL).
 */
int gcr_parse_token_response(const char *body, size_t len, char *token, size_t tokenlen,
                             long *expires_in, char *err, size_t errlen);
void gcr_parse_token_error(const char *body, size_t len, char *code, size_t codelen,
                           char *description, size_t descriptionlen);

/* ---- the client ------------------------------------------------------------------------ */

struct gcr_client {
	enum gcr_auth mode;                   /* resolved: JSON_KEY or ACCESS_TOKEN */
	int use_metadata;                     /* no key file: the metadata server */
	struct gcr_key key;
	char key_path[1024];
	char metadata_host[HTTP_MAX_HOST + 8];/* host[:port] */
	const struct http_proxy *proxy;
	struct anchors extra_anchors;         /* embedded + SSL_CERT_FILE */
	const struct anchors *anchors;
	struct http_conn conn;
	char *conn_buf;
	int64_t timeout_ms;
	int64_t deadline_ms;
	uint64_t rng;                         /* backoff jitter */
	char err[512];
};

/*
 * Reads GOOGLE_APPLICATION_CREDENTIALS (and the key file), GCE_METADATA_HOST and
 * SSL_CERT_FILE. Without a key file access tokens come from the metadata server (so
 * json-key is then GCR_ECONFIG); with one, GCR_AUTH_DEFAULT means json-key. proxy (may be NULL) applies
 * to the https token endpoint. Returns 0 or GCR_ECONFIG with err. gcr_client_free in
 * both cases.
 */
int gcr_client_init(struct gcr_client *c, enum gcr_auth mode, const struct http_proxy *proxy,
                    int timeout_s, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Appends one entry per host in hosts[0..count) (bare hosts, gcr_parse_host'ed) with the
 * client's credential: the key (json-key) or one access token fetched here (transport
 * errors, 429 and 5xx are retried with backoff, as the AWS calls). Returns 0,
 * GCR_ETOKEN with c->err ("Google token from https://...: invalid_grant (HTTP 400): ..."),
 * or -1 when out of memory.
 */
int gcr_entries(struct gcr_client *c, char *const *hosts, size_t count, struct secret_entries *out);

/* "json-key", "access-token" or "metadata": the credential source, for the log. */
const char *gcr_source_name(const struct gcr_client *c);

void gcr_client_free(struct gcr_client *c);

#endif
