/*
 * gcr: Google registry hosts, service-account keys, JWT access tokens and the metadata
 * server; see gcr.h.
 */
#include "gcr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <cJSON.h>

#include "base64.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "retry.h"

#define CONN_BUF_SIZE (HTTP_MAX_HEADER + 64 * 1024 + 1)
#define MAX_PRIVATE_KEY_DER 8192      /* an RSA-8192 PKCS#8 key is ~4.8 KiB */
#define MAX_ATTEMPTS 4                /* as the AWS calls: three retries at most */
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
#define RETRY_AFTER_CAP_S 30

/* ---- hosts ------------------------------------------------------------------------- */

static int dns_label(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* gcr.io, LABEL.gcr.io (us., eu., asia., ...), LABEL-docker.pkg.dev (Artifact Registry's
 * Docker hosts: a region or multi-region, then "-docker"). */
static int google_host(const char *h, size_t n)
{
	if (n == 6 && memcmp(h, "gcr.io", 6) == 0)
		return 1;
	if (ends_with(h, n, ".gcr.io"))
		return dns_label(h, n - 7);
	if (ends_with(h, n, "-docker.pkg.dev"))
		return n > 15 && dns_label(h, n - 8) && memchr(h, '.', n - 15) == NULL;
	return 0;
}

int gcr_parse_host(const char *input, char *host, size_t hostlen, char *err, size_t errlen)
{
	const char *p = input;
	size_t n, i;

	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	n = strcspn(p, "/");
	if (n == 0 || n > GCR_MAX_HOST || n >= hostlen)
		goto bad;
	for (i = 0; i < n; i++)
		host[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
	host[n] = '\0';
	if (google_host(host, n))
		return 0;
bad:
	if (hostlen)
		host[0] = '\0';
	snprintf(err, errlen, "\"%.100s\" is not a Google registry host (gcr.io, *.gcr.io, REGION-docker.pkg.dev)",
	         input);
	for (i = 1; err[i] && i < 102; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			err[i] = '?';
	return GCR_ECONFIG;
}

/* ---- the key file ------------------------------------------------------------------- */

struct der_buf {
	unsigned char data[MAX_PRIVATE_KEY_DER];
	size_t len;
	int overflow;
};

static void der_append(void *ctx, const void *buf, size_t len)
{
	struct der_buf *d = ctx;

	if (d->overflow || len > sizeof d->data - d->len) {
		d->overflow = 1;
		return;
	}
	memcpy(d->data + d->len, buf, len);
	d->len += len;
}

/* The first PRIVATE KEY / RSA PRIVATE KEY object of pem, decoded into der. */
static int pem_private_key(const char *pem, struct der_buf *der)
{
	br_pem_decoder_context dec;
	const char *p = pem;
	size_t left = strlen(pem);
	int in_key = 0, pass;

	br_pem_decoder_init(&dec);
	/* A final newline is added: BearSSL needs it to see the END line. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			p = "\n";
			left = 1;
		}
		while (left > 0) {
			size_t used = br_pem_decoder_push(&dec, p, left);
			p += used;
			left -= used;
			switch (br_pem_decoder_event(&dec)) {
			case BR_PEM_BEGIN_OBJ:
				in_key = strcmp(br_pem_decoder_name(&dec), "PRIVATE KEY") == 0
					|| strcmp(br_pem_decoder_name(&dec), "RSA PRIVATE KEY") == 0;
				br_pem_decoder_setdest(&dec, in_key ? der_append : NULL, der);
				break;
			case BR_PEM_END_OBJ:
				if (in_key)
					return der->overflow ? -1 : 0;
				break;
			case BR_PEM_ERROR:
				return -1;
			default:
				break;
			}
		}
	}
	return -1;
}

static int key_field(const cJSON *doc, const char *name, char *out, size_t outlen, int required)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, name));
	size_t i, n;

	out[0] = '\0';
	if (!v)
		return required ? -1 : 0;
	n = strlen(v);
	if (n == 0 || n >= outlen)
		return -1;
	/* These go into the JWT's JSON as they are: printable ASCII, no quote or backslash. */
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
			return -1;
	memcpy(out, v, n + 1);
	return 0;
}

static int key_rsa(const cJSON *doc, struct gcr_key *key, char *err, size_t errlen)
{
	const char *pem = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "private_key"));
	struct der_buf *der = calloc(1, sizeof *der);
	int rc = GCR_ECONFIG;

	if (!der) {
		snprintf(err, errlen, "out of memory");
		return GCR_ECONFIG;
	}
	if (!pem || pem_private_key(pem, der) != 0) {
		snprintf(err, errlen, "\"private_key\" is not a PEM private key");
		goto out;
	}
	br_skey_decoder_init(&key->skey);
	br_skey_decoder_push(&key->skey, der->data, der->len);
	key->rsa = br_skey_decoder_get_rsa(&key->skey);
	if (!key->rsa || key->rsa->n_bitlen < 2048 || key->rsa->n_bitlen > 8192) {
		snprintf(err, errlen, "\"private_key\" is not an RSA key of 2048 to 8192 bits (BearSSL error %d)",
		         br_skey_decoder_last_error(&key->skey));
		key->rsa = NULL;
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(der, sizeof *der);
	free(der);
	return rc;
}

static int key_token_uri(struct gcr_key *key, char *err, size_t errlen)
{
	struct http_url url;
	char uerr[160];

	if (!key->token_uri[0])
		memcpy(key->token_uri, GCR_DEFAULT_TOKEN_URI, sizeof GCR_DEFAULT_TOKEN_URI);
	if (http_parse_url(key->token_uri, &url, uerr, sizeof uerr) != 0 || !url.https || url.userinfo[0]) {
		snprintf(err, errlen, "\"token_uri\" must be an https URL without a user name");
		return GCR_ECONFIG;
	}
	return 0;
}

int gcr_parse_key(const char *text, size_t len, struct gcr_key *key, char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "type"));
	int rc = GCR_ECONFIG;

	memset(key, 0, sizeof *key);
	if (!cJSON_IsObject(doc))
		snprintf(err, errlen, "not a JSON object");
	else if (!type || strcmp(type, "service_account") != 0)
		snprintf(err, errlen, "\"type\" is not \"service_account\" (only service-account keys are supported)");
	else if (key_field(doc, "client_email", key->client_email, sizeof key->client_email, 1) != 0)
		snprintf(err, errlen, "\"client_email\" is missing or invalid");
	else if (key_field(doc, "private_key_id", key->private_key_id, sizeof key->private_key_id, 0) != 0)
		snprintf(err, errlen, "\"private_key_id\" is invalid");
	else if (key_field(doc, "token_uri", key->token_uri, sizeof key->token_uri, 0) != 0)
		snprintf(err, errlen, "\"token_uri\" is invalid");
	else if (key_token_uri(key, err, errlen) == 0 && key_rsa(doc, key, err, errlen) == 0)
		rc = 0;
	if (rc == 0 && !(key->json = malloc(len + 1))) {
		snprintf(err, errlen, "out of memory");
		rc = GCR_ECONFIG;
	}
	if (rc == 0) {
		memcpy(key->json, text, len);
		key->json[len] = '\0';
		key->json_len = len;
	}
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

void gcr_key_free(struct gcr_key *key)
{
	if (key->json) {
		explicit_bzero(key->json, key->json_len);
		free(key->json);
	}
	explicit_bzero(key, sizeof *key);
}

/* ---- the JWT (RFC 7515, RFC 7523) ------------------------------------------------------ */

/* base64url without padding (RFC 7515 section 2) of in[0..len), appended at out[*at..).
 * Returns 0 or -1 when it does not fit (with its NUL). */
static int put_base64url(char *out, size_t outlen, size_t *at, const void *in, size_t len)
{
	size_t n, i;

	if (BASE64_ENCODED_SIZE(len) > outlen - *at)
		return -1;
	n = base64_encode(in, len, out + *at, outlen - *at);
	while (n > 0 && out[*at + n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		char *ch = &out[*at + i];
		*ch = *ch == '+' ? '-' : *ch == '/' ? '_' : *ch;
	}
	*at += n;
	out[*at] = '\0';
	return 0;
}

long gcr_jwt(const struct gcr_key *key, long long now, char *out, size_t outlen)
{
	char header[256], claims[HTTP_MAX_URL + 512];
	unsigned char hash[32], sig[1024];
	br_sha256_context sha;
	size_t at = 0, sig_len;
	int n;

	if (!key->rsa || outlen < 2)
		return -1;
	n = key->private_key_id[0]
		? snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", key->private_key_id)
		: snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	if (n < 0 || (size_t)n >= sizeof header)
		return -1;
	/* Google's service-account flow: iss = the account, aud = token_uri, exp <= iat + 1 h. */
	n = snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"scope\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
	             key->client_email, GCR_SCOPE, key->token_uri, now, now + GCR_JWT_LIFETIME);
	if (n < 0 || (size_t)n >= sizeof claims)
		return -1;
	if (put_base64url(out, outlen, &at, header, strlen(header)) != 0 || at + 1 >= outlen)
		return -1;
	out[at++] = '.';
	if (put_base64url(out, outlen, &at, claims, strlen(claims)) != 0 || at + 1 >= outlen)
		return -1;
	/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over the ASCII "header.claims" (RFC 7518 3.3). */
	br_sha256_init(&sha);
	br_sha256_update(&sha, out, at);
	br_sha256_out(&sha, hash);
	sig_len = (key->rsa->n_bitlen + 7) / 8;
	if (sig_len > sizeof sig
	    || !br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, sizeof hash, key->rsa, sig))
		return -1;
	out[at++] = '.';
	if (put_base64url(out, outlen, &at, sig, sig_len) != 0)
		return -1;
	return (long)at;
}

/* ---- token answers -------------------------------------------------------------------- */

int gcr_parse_token_response(const char *body, size_t len, char *token, size_t tokenlen,
                             long *expires_in, char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "access_token"));
	size_t n = v ? strlen(v) : 0, i;
	int rc = -1;

	if (tokenlen)
		token[0] = '\0';
	if (!cJSON_IsObject(doc))
		snprintf(err, errlen, "the token answer is not a JSON object");
	else if (n == 0 || n > GCR_MAX_TOKEN || n >= tokenlen)
		snprintf(err, errlen, "the token answer has no usable access_token");
	else if (!cJSON_IsNumber(item) || !(item->valuedouble >= 1 && item->valuedouble <= 86400))
		snprintf(err, errlen, "the token answer has no valid expires_in");
	else
		rc = 0;
	/* The token goes into JSON and is compared as a header value would be. */
	for (i = 0; rc == 0 && i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) {
			snprintf(err, errlen, "the access_token has characters outside printable ASCII");
			rc = -1;
		}
	if (rc == 0) {
		memcpy(token, v, n + 1);
		*expires_in = (long)item->valuedouble;
	}
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

static void shown_text(char *out, size_t outlen, const char *s)
{
	size_t i;

	if (!outlen)
		return;
	for (i = 0; s && s[i] && i + 1 < outlen; i++)
		out[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\'
			? '?' : s[i];
	out[i] = '\0';
}

void gcr_parse_token_error(const char *body, size_t len, char *code, size_t codelen,
                           char *description, size_t descriptionlen)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(doc, "error");

	/* OAuth2 (RFC 6749 5.2) says {"error","error_description"}; Google's metadata and API
	 * errors may nest {"error":{"status","message"}}. */
	if (cJSON_IsObject(error)) {
		shown_text(code, codelen, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "status")));
		shown_text(description, descriptionlen,
		           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message")));
	} else {
		shown_text(code, codelen, cJSON_GetStringValue(error));
		shown_text(description, descriptionlen,
		           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error_description")));
	}
	cJSON_Delete(doc);
}

/* ---- the client ------------------------------------------------------------------------ */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The metadata server is reached over plain http, so only addresses that cannot leave the
 * node qualify: loopback (127/8, ::1) and link-local (169.254/16, fe80::/10), where GKE's
 * metadata server lives. */
static int metadata_address_allowed(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		return a[0] == 127 || (a[0] == 169 && a[1] == 254);
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a);
	}
	return 0;
}

/* Resolves host and checks every address. numeric_only: IP literals only (the check made
 * before the network; a name is resolved when the token is asked for). Returns 1 allowed,
 * 0 not, -1 unresolvable (or a name when numeric_only). */
static int metadata_host_allowed(const char *host, int numeric_only)
{
	struct addrinfo hints, *res, *ai;
	int allowed = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = numeric_only ? AI_NUMERICHOST : 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next)
		if (!metadata_address_allowed(ai->ai_addr))
			allowed = 0;
	freeaddrinfo(res);
	return allowed;
}

static int init_metadata(struct gcr_client *c, char *err, size_t errlen)
{
	const char *v = env("GCE_METADATA_HOST");
	char url[HTTP_MAX_URL];
	struct http_url parsed;
	char uerr[160];

	/* google-auth's variable: host[:port], no scheme. */
	if (!v)
		v = "metadata.google.internal";
	if (strlen(v) >= sizeof c->metadata_host || strchr(v, '/')) {
		snprintf(err, errlen, "GCE_METADATA_HOST must be HOST[:PORT] (no scheme, no path)");
		return GCR_ECONFIG;
	}
	memcpy(c->metadata_host, v, strlen(v) + 1);
	snprintf(url, sizeof url, "http://%s/", v);
	if (http_parse_url(url, &parsed, uerr, sizeof uerr) != 0 || parsed.userinfo[0]) {
		snprintf(err, errlen, "GCE_METADATA_HOST: %s", parsed.userinfo[0] ? "no user name allowed" : uerr);
		return GCR_ECONFIG;
	}
	if (parsed.host_is_ip && metadata_host_allowed(parsed.host, 1) != 1) {
		snprintf(err, errlen, "GCE_METADATA_HOST: plain http is allowed only to loopback or link-local "
		         "addresses, not %s", parsed.host);
		return GCR_ECONFIG;
	}
	return 0;
}

static int init_key(struct gcr_client *c, const char *path, char *err, size_t errlen)
{
	char *text = NULL, kerr[300];
	long len;
	int rc;

	if (strlen(path) >= sizeof c->key_path) {
		snprintf(err, errlen, "GOOGLE_APPLICATION_CREDENTIALS: path too long");
		return GCR_ECONFIG;
	}
	memcpy(c->key_path, path, strlen(path) + 1);
	len = files_read_alloc("GOOGLE_APPLICATION_CREDENTIALS", path, GCR_MAX_KEY_FILE, &text, err, errlen);
	if (len < 0)
		return GCR_ECONFIG;
	rc = gcr_parse_key(text, (size_t)len, &c->key, kerr, sizeof kerr);
	explicit_bzero(text, (size_t)len);
	free(text);
	if (rc != 0) {
		snprintf(err, errlen, "GOOGLE_APPLICATION_CREDENTIALS %s: %s", path, kerr);
		return GCR_ECONFIG;
	}
	log_register_secret(c->key.json);
	return 0;
}

static int init_anchors(struct gcr_client *c, char *err, size_t errlen)
{
	const char *file = env("SSL_CERT_FILE");
	char aerr[300];

	anchors_init(&c->extra_anchors);
	c->anchors = anchors_embedded();
	if (!file)
		return 0;
	/* On top of the public roots, never instead of them (as for AWS endpoints). */
	if (anchors_add_all(&c->extra_anchors, anchors_embedded()) != 0) {
		snprintf(err, errlen, "out of memory");
		return GCR_ECONFIG;
	}
	if (anchors_add_pem_file(&c->extra_anchors, file, aerr, sizeof aerr) < 0) {
		snprintf(err, errlen, "SSL_CERT_FILE %s", aerr);
		return GCR_ECONFIG;
	}
	c->anchors = &c->extra_anchors;
	return 0;
}

int gcr_client_init(struct gcr_client *c, enum gcr_auth mode, const struct http_proxy *proxy,
                    int timeout_s, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *key_path = env("GOOGLE_APPLICATION_CREDENTIALS");
	int rc;

	memset(c, 0, sizeof *c);
	anchors_init(&c->extra_anchors);
	c->proxy = proxy;
	c->timeout_ms = (int64_t)timeout_s * 1000;
	c->deadline_ms = deadline_ms;
	/* Without a key there is nothing to put in a json-key entry; the metadata server gives
	 * access tokens only. */
	if (!key_path && mode == GCR_AUTH_JSON_KEY) {
		snprintf(err, errlen, "GCR_AUTH json-key needs a key file in GOOGLE_APPLICATION_CREDENTIALS "
		         "(without one, access tokens come from the metadata server)");
		return GCR_ECONFIG;
	}
	c->use_metadata = key_path == NULL;
	c->mode = mode == GCR_AUTH_DEFAULT ? (key_path ? GCR_AUTH_JSON_KEY : GCR_AUTH_ACCESS_TOKEN) : mode;
	if ((rc = key_path ? init_key(c, key_path, err, errlen) : init_metadata(c, err, errlen)) != 0
	    || (rc = init_anchors(c, err, errlen)) != 0)
		return rc;
	if (c->mode == GCR_AUTH_JSON_KEY)
		return 0;
	retry_seed(&c->rng, 0);
	c->conn_buf = malloc(CONN_BUF_SIZE);
	if (!c->conn_buf) {
		snprintf(err, errlen, "out of memory");
		return GCR_ECONFIG;
	}
	http_conn_init(&c->conn, c->conn_buf, CONN_BUF_SIZE, proxy);
	return 0;
}

const char *gcr_source_name(const struct gcr_client *c)
{
	return c->use_metadata ? "metadata" : c->mode == GCR_AUTH_JSON_KEY ? "json-key" : "access-token";
}

void gcr_client_free(struct gcr_client *c)
{
	http_conn_close(&c->conn);
	gcr_key_free(&c->key);
	anchors_free(&c->extra_anchors);
	if (c->conn_buf) {
		explicit_bzero(c->conn_buf, CONN_BUF_SIZE);
		free(c->conn_buf);
	}
	memset(c, 0, sizeof *c);
}

/* ---- fetching an access token ------------------------------------------------------------ */

static int token_failed(struct gcr_client *c, const char *where, const struct http_response *resp)
{
	char code[64] = "", description[200] = "";

	gcr_parse_token_error(resp->body, resp->body_len, code, sizeof code, description, sizeof description);
	snprintf(c->err, sizeof c->err, "Google token from %s: %s (HTTP %d)%s%s", where,
	         code[0] ? code : "error", resp->status, description[0] ? ": " : "", description);
	return GCR_ETOKEN;
}

struct attempt {
	int retryable;              /* worth another try: transport, 429, 5xx */
	long retry_after_s;         /* the server's Retry-After, or -1 */
};

/* One request; on 2xx the answer's token into token[0..tokenlen). */
static int token_request(struct gcr_client *c, struct http_request *req, const char *where,
                         char *token, size_t tokenlen, long *expires_in, struct attempt *a)
{
	const struct http_header *after;
	struct http_response resp;
	char perr[160];
	int rc;

	a->retryable = 0;
	a->retry_after_s = -1;
	req->deadline_ms = c->deadline_ms < net_now_ms() + c->timeout_ms ? c->deadline_ms : net_now_ms() + c->timeout_ms;
	rc = http_request(&c->conn, req, &resp);
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "Google token from %s: %s", where, c->conn.err);
		/* A refused certificate or a hostile answer will not get better by asking again. */
		a->retryable = rc == HTTP_EIO || rc == HTTP_ETIMEOUT || rc == HTTP_ECONNECT || rc == HTTP_ETLS;
		return GCR_ETOKEN;
	}
	if (resp.status / 100 != 2) {
		a->retryable = resp.status == 429 || resp.status / 100 == 5;
		after = http_find_header(&resp, "Retry-After");
		if (after)
			a->retry_after_s = retry_after_seconds(after->value, after->value_len);
		rc = token_failed(c, where, &resp);
	} else if (c->use_metadata && !http_find_header(&resp, "Metadata-Flavor")) {
		/* The real server says who it is; anything else on that address is not it. */
		snprintf(c->err, sizeof c->err, "Google token from %s: the answer has no Metadata-Flavor header", where);
		rc = GCR_ETOKEN;
	} else if (gcr_parse_token_response(resp.body, resp.body_len, token, tokenlen, expires_in, perr, sizeof perr) != 0) {
		snprintf(c->err, sizeof c->err, "Google token from %s: %s", where, perr);
		rc = GCR_ETOKEN;
	}
	explicit_bzero((char *)resp.body, resp.body_len);
	return rc;
}

/* token_request, again on transport errors, 429 and 5xx, with backoff and jitter (or the
 * server's Retry-After) within the run deadline, as the AWS calls are. */
static int token_with_retries(struct gcr_client *c, struct http_request *req, const char *where,
                              char *token, size_t tokenlen, long *expires_in)
{
	struct attempt a;
	char number[16];
	int attempt, rc;

	for (attempt = 1;; attempt++) {
		rc = token_request(c, req, where, token, tokenlen, expires_in, &a);
		if (rc == 0 || !a.retryable || attempt >= MAX_ATTEMPTS)
			return rc;
		if (retry_sleep(retry_wait_ms(a.retry_after_s, RETRY_AFTER_CAP_S,
		                              retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
		                                               retry_random(&c->rng))),
		                c->deadline_ms) != 0)
			return rc;
		snprintf(number, sizeof number, "%d", attempt);
		log_event(LOG_WARN, "google request retried", "url", where, "error", c->err, "#attempt", number, NULL);
	}
}

static int fetch_from_key(struct gcr_client *c, char *token, size_t tokenlen, long *expires_in)
{
	static const char prefix[] = "grant_type=" "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" "&assertion=";
	const struct http_header headers[] = {
		{ "Content-Type", 12, "application/x-www-form-urlencoded", 33 },
		{ "Accept", 6, "application/json", 16 },
	};
	char body[sizeof prefix + GCR_MAX_JWT];
	struct http_request req;
	long n;
	int rc;

	memcpy(body, prefix, sizeof prefix);
	/* The JWT's alphabet (base64url and '.') needs no form encoding. */
	n = gcr_jwt(&c->key, (long long)time(NULL), body + sizeof prefix - 1, GCR_MAX_JWT);
	if (n < 0) {
		snprintf(c->err, sizeof c->err, "Google token: the JWT could not be signed");
		return GCR_ETOKEN;
	}
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = c->key.token_uri;
	req.headers = headers;
	req.header_count = 2;
	req.body = body;
	req.body_len = sizeof prefix - 1 + (size_t)n;
	req.anchors = c->anchors;
	req.max_body = 64 * 1024;
	rc = token_with_retries(c, &req, c->key.token_uri, token, tokenlen, expires_in);
	explicit_bzero(body, sizeof body);
	return rc;
}

static int fetch_from_metadata(struct gcr_client *c, char *token, size_t tokenlen, long *expires_in)
{
	const struct http_header headers[] = {
		{ "Metadata-Flavor", 15, "Google", 6 },
		{ "Accept", 6, "application/json", 16 },
	};
	char url[HTTP_MAX_URL];
	struct http_request req;
	struct http_url parsed;
	char uerr[160];
	int allowed;

	/* Checked by gcr_client_init already; a name is resolved only now. */
	snprintf(url, sizeof url, "http://%s%s", c->metadata_host, GCR_METADATA_TOKEN_PATH);
	if (http_parse_url(url, &parsed, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "GCE_METADATA_HOST: %s", uerr);
		return GCR_ETOKEN;
	}
	allowed = metadata_host_allowed(parsed.host, 0);
	if (allowed != 1) {
		snprintf(c->err, sizeof c->err, "Google metadata server %s: %s", parsed.host,
		         allowed < 0 ? "the name does not resolve (not on GKE or GCE?)"
		         : "resolves to an address that is not loopback or link-local: refused over plain http");
		return GCR_ETOKEN;
	}
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.header_count = 2;
	req.anchors = c->anchors;
	req.max_body = 64 * 1024;
	return token_with_retries(c, &req, url, token, tokenlen, expires_in);
}

static int add_hosts(char *const *hosts, size_t count, const char *user, const char *password,
                     double expires_at, struct secret_entries *out)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (secret_entries_find(out, hosts[i]) < 0
		    && secret_entries_add(out, hosts[i], user, password, expires_at, "GCR") != 0)
			return -1;
	return 0;
}

int gcr_entries(struct gcr_client *c, char *const *hosts, size_t count, struct secret_entries *out)
{
	char token[GCR_MAX_TOKEN + 1];
	long expires_in = 0;
	int rc;

	if (c->mode == GCR_AUTH_JSON_KEY)
		return add_hosts(hosts, count, "_json_key", c->key.json, 0, out);
	rc = c->use_metadata ? fetch_from_metadata(c, token, sizeof token, &expires_in)
		: fetch_from_key(c, token, sizeof token, &expires_in);
	if (rc == 0)
		rc = add_hosts(hosts, count, "oauth2accesstoken", token, (double)time(NULL) + (double)expires_in, out);
	explicit_bzero(token, sizeof token);
	return rc;
}
