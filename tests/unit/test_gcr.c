/*
 * gcr: Google registry hosts, the service-account key reader, the RS256 JWT (signature
 * verified here with the public half and br_rsa_pkcs1_vrfy), the token answer reader and
 * the client's configuration checks. The RSA key is made here with BearSSL's keygen from a
 * fixed seed, written as the PKCS#8 PEM a Google key file carries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bearssl.h>
#include <cJSON.h>

#include "base64.h"
#include "gcr.h"
#include "log.h"
#include "unit.h"

#define BITS 2048

static unsigned char kbuf_priv[BR_RSA_KBUF_PRIV_SIZE(BITS)], kbuf_pub[BR_RSA_KBUF_PUB_SIZE(BITS)];
static br_rsa_private_key sk;
static br_rsa_public_key pk;
static char pem[4096];

static void make_key(void)
{
	br_hmac_drbg_context rng;
	unsigned char d[BITS / 8], der[2048];
	size_t dlen, der_len;

	br_hmac_drbg_init(&rng, &br_sha256_vtable, "ecr-refresh test key", 20);
	CHECK(br_rsa_keygen_get_default()(&rng.vtable, &sk, kbuf_priv, &pk, kbuf_pub, BITS, 65537) == 1);
	dlen = br_rsa_compute_privexp_get_default()(d, &sk, 65537);
	CHECK(dlen > 0);
	der_len = br_encode_rsa_pkcs8_der(der, &sk, &pk, d, dlen);
	CHECK(der_len > 0 && der_len < sizeof der);
	CHECK(br_pem_encode(pem, der, der_len, "PRIVATE KEY", BR_PEM_LINE64) > 0);
}

/* A key file as Google writes it, with fields replaced or dropped by the caller. */
static char *key_json(const char *type, const char *email, const char *token_uri, const char *private_key)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;

	if (type)
		cJSON_AddStringToObject(doc, "type", type);
	cJSON_AddStringToObject(doc, "project_id", "demo-project");
	cJSON_AddStringToObject(doc, "private_key_id", "0123456789abcdef");
	if (private_key)
		cJSON_AddStringToObject(doc, "private_key", private_key);
	if (email)
		cJSON_AddStringToObject(doc, "client_email", email);
	cJSON_AddStringToObject(doc, "client_id", "1234567890");
	if (token_uri)
		cJSON_AddStringToObject(doc, "token_uri", token_uri);
	text = cJSON_Print(doc);
	cJSON_Delete(doc);
	return text;
}

static int parse(const char *type, const char *email, const char *token_uri, const char *private_key,
                 struct gcr_key *key, char *err, size_t errlen)
{
	char *text = key_json(type, email, token_uri, private_key);
	int rc = gcr_parse_key(text, strlen(text), key, err, errlen);
	free(text);
	return rc;
}

static void test_hosts(void)
{
	static const struct { const char *in, *host; } good[] = {
		{ "gcr.io", "gcr.io" }, { "us.gcr.io", "us.gcr.io" }, { "EU.GCR.IO", "eu.gcr.io" },
		{ "https://asia.gcr.io/my-project", "asia.gcr.io" },
		{ "europe-west1-docker.pkg.dev", "europe-west1-docker.pkg.dev" },
		{ "us-docker.pkg.dev", "us-docker.pkg.dev" },
	};
	static const char *const bad[] = {
		"", "gcr.io.evil.com", "evil.com", "a.b.gcr.io", "-x.gcr.io", ".gcr.io", "docker.pkg.dev",
		"-docker.pkg.dev", "a.b-docker.pkg.dev", "us-central1-docker.pkg.dev.evil", "gcr.io:443",
		"us_east-docker.pkg.dev", "https://", "pkg.dev",
	};
	char host[GCR_MAX_HOST + 1], err[200];
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		CHECK_EQ_INT(gcr_parse_host(good[i].in, host, sizeof host, err, sizeof err), 0);
		CHECK_EQ_STR(host, good[i].host);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(gcr_parse_host(bad[i], host, sizeof host, err, sizeof err), GCR_ECONFIG);
		CHECK(strstr(err, "is not a Google registry host") != NULL);
	}
	/* Control characters never reach the message. */
	CHECK_EQ_INT(gcr_parse_host("x\n\x1b[31m", host, sizeof host, err, sizeof err), GCR_ECONFIG);
	CHECK(strchr(err, '\n') == NULL && strchr(err, 0x1b) == NULL);
}

static void test_key(void)
{
	struct gcr_key key;
	char err[300];

	CHECK_EQ_INT(parse("service_account", "sa@demo.iam.gserviceaccount.com", NULL, pem, &key, err, sizeof err), 0);
	CHECK_EQ_STR(key.client_email, "sa@demo.iam.gserviceaccount.com");
	CHECK_EQ_STR(key.private_key_id, "0123456789abcdef");
	CHECK_EQ_STR(key.token_uri, GCR_DEFAULT_TOKEN_URI);
	CHECK(key.rsa != NULL && key.rsa->n_bitlen == BITS);
	CHECK(key.json != NULL && strstr(key.json, "PRIVATE KEY") != NULL);
	gcr_key_free(&key);

	CHECK_EQ_INT(parse("authorized_user", "sa@x", NULL, pem, &key, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "service_account") != NULL);
	gcr_key_free(&key);
	CHECK_EQ_INT(parse("service_account", NULL, NULL, pem, &key, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "client_email") != NULL);
	gcr_key_free(&key);
	CHECK_EQ_INT(parse("service_account", "a\"b@x", NULL, pem, &key, err, sizeof err), GCR_ECONFIG);
	gcr_key_free(&key);
	CHECK_EQ_INT(parse("service_account", "sa@x", "http://oauth2.example/token", pem, &key, err, sizeof err),
	             GCR_ECONFIG);
	CHECK(strstr(err, "token_uri") != NULL);
	gcr_key_free(&key);
	CHECK_EQ_INT(parse("service_account", "sa@x", NULL, NULL, &key, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "private_key") != NULL);
	gcr_key_free(&key);
	CHECK_EQ_INT(parse("service_account", "sa@x", NULL, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	                   &key, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "private_key") != NULL && strstr(err, "AAAA") == NULL);
	gcr_key_free(&key);
	CHECK_EQ_INT(gcr_parse_key("{", 1, &key, err, sizeof err), GCR_ECONFIG);
	gcr_key_free(&key);
	{
		/* Every truncation of a good key file is refused, none crashes. */
		char *text = key_json("service_account", "sa@x", NULL, pem);
		size_t n = strlen(text), cut;
		int failures = 0;
		for (cut = 0; cut < n; cut += 7) {
			char *copy = malloc(cut + 1);
			memcpy(copy, text, cut);
			failures += gcr_parse_key(copy, cut, &key, err, sizeof err) != 0;
			gcr_key_free(&key);
			free(copy);
		}
		CHECK_EQ_INT(failures, (n + 6) / 7);
		free(text);
	}
}

/* base64url (no padding) to bytes; returns the length or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	char buf[2048];
	size_t i, n;

	if (len + 4 > sizeof buf)
		return -1;
	for (i = 0; i < len; i++)
		buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	CHECK(memchr(in, '=', len) == NULL);
	if (base64_decode(buf, len, out, outlen, &n) != 0)
		return -1;
	return (long)n;
}

static void test_jwt(void)
{
	struct gcr_key key;
	char err[300], jwt[GCR_MAX_JWT], *dot1, *dot2;
	unsigned char part[1024], hash[32], hash_out[32];
	br_sha256_context sha;
	cJSON *doc;
	long n, len;

	CHECK_EQ_INT(parse("service_account", "sa@demo.iam.gserviceaccount.com", "https://127.0.0.1:8443/token", pem,
	                   &key, err, sizeof err), 0);
	len = gcr_jwt(&key, 1700000000, jwt, sizeof jwt);
	CHECK(len > 0 && (size_t)len == strlen(jwt));
	dot1 = strchr(jwt, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	CHECK(dot1 && dot2 && !strchr(dot2 + 1, '.'));
	if (!dot2)
		goto out;

	n = b64url_decode(jwt, (size_t)(dot1 - jwt), part, sizeof part - 1);
	CHECK(n > 0);
	part[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR((char *)part, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"0123456789abcdef\"}");

	n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), part, sizeof part - 1);
	CHECK(n > 0);
	part[n > 0 ? n : 0] = '\0';
	doc = cJSON_Parse((char *)part);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "iss")), "sa@demo.iam.gserviceaccount.com");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "scope")), GCR_SCOPE);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "aud")), "https://127.0.0.1:8443/token");
	CHECK(cJSON_GetObjectItem(doc, "iat") && cJSON_GetObjectItem(doc, "iat")->valuedouble == 1700000000);
	CHECK(cJSON_GetObjectItem(doc, "exp") && cJSON_GetObjectItem(doc, "exp")->valuedouble == 1700003600);
	cJSON_Delete(doc);

	/* The signature verifies with the public half over "header.claims" ... */
	n = b64url_decode(dot2 + 1, strlen(dot2 + 1), part, sizeof part);
	CHECK_EQ_INT(n, BITS / 8);
	br_sha256_init(&sha);
	br_sha256_update(&sha, jwt, (size_t)(dot2 - jwt));
	br_sha256_out(&sha, hash);
	CHECK(br_rsa_pkcs1_vrfy_get_default()(part, (size_t)n, BR_HASH_OID_SHA256, sizeof hash_out, &pk, hash_out) == 1);
	CHECK(memcmp(hash, hash_out, sizeof hash) == 0);
	/* ... and not over anything else. */
	jwt[5] ^= 1;
	br_sha256_init(&sha);
	br_sha256_update(&sha, jwt, (size_t)(dot2 - jwt));
	br_sha256_out(&sha, hash);
	CHECK(memcmp(hash, hash_out, sizeof hash) != 0);

	/* Too small a buffer: -1, at every size. */
	for (n = 0; n < len; n += 97)
		CHECK_EQ_INT(gcr_jwt(&key, 1700000000, jwt, (size_t)n), -1);
out:
	gcr_key_free(&key);
	{
		struct gcr_key none;
		memset(&none, 0, sizeof none);
		CHECK_EQ_INT(gcr_jwt(&none, 1, jwt, sizeof jwt), -1);
	}
}

static void test_token_response(void)
{
	char token[GCR_MAX_TOKEN + 1], err[200], code[64], description[200], *big;
	long expires = 0;
	static const char *const bad[] = {
		"", "[]", "{}", "{\"access_token\":\"\",\"expires_in\":3599}",
		"{\"access_token\":\"ya29.x\"}", "{\"access_token\":\"ya29.x\",\"expires_in\":0}",
		"{\"access_token\":\"ya29.x\",\"expires_in\":\"3599\"}",
		"{\"access_token\":\"ya29.x\",\"expires_in\":86401}",
		"{\"access_token\":\"ya29 x\",\"expires_in\":3599}",
		"{\"access_token\":\"ya29.\\u0001\",\"expires_in\":3599}",
		"{\"access_token\":42,\"expires_in\":3599}",
	};
	size_t i;
	static const char oauth_error[] = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}";
	static const char google_error[] = "{\"error\":{\"status\":\"PERMISSION_DENIED\",\"message\":\"no\\nway\"}}";
	static const char answer[] = "{\"access_token\":\"ya29.c.Kp8B\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";

	CHECK_EQ_INT(gcr_parse_token_response(answer, sizeof answer - 1, token, sizeof token, &expires, err, sizeof err), 0);
	CHECK_EQ_STR(token, "ya29.c.Kp8B");
	CHECK_EQ_INT(expires, 3599);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(gcr_parse_token_response(bad[i], strlen(bad[i]), token, sizeof token, &expires, err, sizeof err), -1);
		CHECK(err[0] != '\0' && token[0] == '\0' && strstr(err, "ya29") == NULL);
	}
	big = malloc(GCR_MAX_TOKEN + 100);
	i = (size_t)sprintf(big, "{\"access_token\":\"");
	memset(big + i, 'a', GCR_MAX_TOKEN + 1);
	strcpy(big + i + GCR_MAX_TOKEN + 1, "\",\"expires_in\":1}");
	CHECK_EQ_INT(gcr_parse_token_response(big, strlen(big), token, sizeof token, &expires, err, sizeof err), -1);
	free(big);

	gcr_parse_token_error(oauth_error, sizeof oauth_error - 1,
	                      code, sizeof code, description, sizeof description);
	CHECK_EQ_STR(code, "invalid_grant");
	CHECK_EQ_STR(description, "Invalid JWT Signature.");
	gcr_parse_token_error(google_error, sizeof google_error - 1,
	                      code, sizeof code, description, sizeof description);
	CHECK_EQ_STR(code, "PERMISSION_DENIED");
	CHECK_EQ_STR(description, "no?way");
	gcr_parse_token_error("<html>", 6, code, sizeof code, description, sizeof description);
	CHECK_EQ_STR(code, "");
	CHECK_EQ_STR(description, "");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_client_config(void)
{
	struct gcr_client c;
	char err[400], path[] = "/tmp/test_gcr_key_XXXXXX";
	char *text;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("SSL_CERT_FILE");
	setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), 0);
	CHECK(c.use_metadata && c.mode == GCR_AUTH_ACCESS_TOKEN);
	CHECK_EQ_STR(gcr_source_name(&c), "metadata");
	gcr_client_free(&c);
	/* Plain http to a routable address is refused before anything is sent. */
	setenv("GCE_METADATA_HOST", "8.8.8.8", 1);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "GCE_METADATA_HOST") != NULL);
	gcr_client_free(&c);
	setenv("GCE_METADATA_HOST", "http://169.254.169.254", 1);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), GCR_ECONFIG);
	gcr_client_free(&c);
	unsetenv("GCE_METADATA_HOST");
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_JSON_KEY, NULL, 5, 0, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, "GOOGLE_APPLICATION_CREDENTIALS") != NULL);
	gcr_client_free(&c);
	/* access-token without a key: the metadata server's tokens. */
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_ACCESS_TOKEN, NULL, 5, 0, err, sizeof err), 0);
	CHECK(c.use_metadata);
	gcr_client_free(&c);

	/* A key file: json-key by default; a malformed one names the file, never the key. */
	text = key_json("service_account", "sa@x", NULL, pem);
	write_file(path, text);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), 0);
	CHECK(!c.use_metadata && c.mode == GCR_AUTH_JSON_KEY);
	{
		struct secret_entries out = { 0 };
		char *const hosts[] = { "gcr.io", "europe-west1-docker.pkg.dev" };
		CHECK_EQ_INT(gcr_entries(&c, hosts, 2, &out), 0);
		CHECK_EQ_INT(out.count, 2);
		CHECK_EQ_STR(out.items[1].key, "europe-west1-docker.pkg.dev");
		CHECK_EQ_STR(out.items[0].username, "_json_key");
		CHECK_EQ_STR(out.items[0].password, text);
		CHECK(out.items[0].expires_at == 0);
		log_forget_secrets();
		secret_entries_free(&out);
	}
	gcr_client_free(&c);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_ACCESS_TOKEN, NULL, 5, 0, err, sizeof err), 0);
	CHECK_EQ_STR(gcr_source_name(&c), "access-token");
	gcr_client_free(&c);
	free(text);
	write_file(path, "{\"type\":\"service_account\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIB\\n\"}");
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, path) != NULL && strstr(err, "MIIB") == NULL);
	gcr_client_free(&c);
	unlink(path);
	CHECK_EQ_INT(gcr_client_init(&c, GCR_AUTH_DEFAULT, NULL, 5, 0, err, sizeof err), GCR_ECONFIG);
	CHECK(strstr(err, path) != NULL);
	gcr_client_free(&c);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	log_forget_secrets();
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	make_key();
	test_hosts();
	test_key();
	test_jwt();
	test_token_response();
	test_client_config();
	return UNIT_DONE();
}
