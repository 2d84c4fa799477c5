/*
 * ecr: registry hosts, authorization tokens and the dockerconfig payload; see ecr.h.
 */
#include "ecr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "base64.h"
#include "log.h"
#include "secret.h"

/* ---- registry hosts ------------------------------------------------------------------ */

/* The DNS suffixes of the credential helper's pattern (docs/design.md "ECR
 * GetAuthorizationToken"; amazon-ecr-credential-helper ecr-login/api/client.go). */
static const char *const ecr_suffixes[] = {
	"amazonaws.com", "amazonaws.com.cn", "amazonaws.eu", "on.aws", "on.amazonwebservices.com.cn",
	"sc2s.sgov.gov", "c2s.ic.gov", "cloud.adc-e.uk", "csp.hci.ic.gov",
};

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int not_ecr(const char *input, char *err, size_t errlen)
{
	char shown[101];
	size_t i;

	for (i = 0; input[i] && i < sizeof shown - 1; i++)
		shown[i] = (unsigned char)input[i] < 0x20 || (unsigned char)input[i] > 0x7e || input[i] == '"'
			? '?' : input[i];
	shown[i] = '\0';
	snprintf(err, errlen, "\"%s%s\" is not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)",
	         shown, input[i] ? "..." : "");
	return AWS_ECONFIG;
}

/*
 * ^(\d{12})\.dkr[\.\-]ecr(\-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.(SUFFIX)$, matched by
 * hand on the lower-cased host.
 */
static int match_host(const char *h, struct ecr_registry *out)
{
	const char *region, *p = h;
	size_t i, region_len;

	for (i = 0; i < 12; i++)
		if (!is_digit(p[i]))
			return -1;
	memcpy(out->account, p, 12);
	out->account[12] = '\0';
	p += 12;
	if (strncmp(p, ".dkr", 4) != 0 || (p[4] != '.' && p[4] != '-') || strncmp(p + 5, "ecr", 3) != 0)
		return -1;
	out->dualstack = p[4] == '-';
	p += 8;
	out->fips = strncmp(p, "-fips", 5) == 0;
	if (out->fips)
		p += 5;
	if (*p++ != '.' || !is_alnum(*p))
		return -1;
	region = p;
	while (is_alnum(*p) || *p == '-' || *p == '_')
		p++;
	region_len = (size_t)(p - region);
	if (*p++ != '.' || region_len >= sizeof out->region)
		return -1;
	for (i = 0; i < sizeof ecr_suffixes / sizeof ecr_suffixes[0]; i++) {
		if (strcmp(p, ecr_suffixes[i]) == 0) {
			memcpy(out->region, region, region_len);
			out->region[region_len] = '\0';
			return 0;
		}
	}
	return -1;
}

int ecr_parse_registry(const char *input, struct ecr_registry *out, char *err, size_t errlen)
{
	char host[ECR_MAX_HOST + 1];
	const char *p = input, *end;
	size_t n, i;

	memset(out, 0, sizeof *out);
	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	end = p + strcspn(p, "/");
	/* A port (kubelet keys may carry one) is dropped: the key is the bare host. */
	for (n = 0; p + n < end && p[n] != ':'; n++)
		;
	if (p + n < end) {
		size_t digits = (size_t)(end - (p + n + 1));
		if (digits == 0 || digits > 5)
			return not_ecr(input, err, errlen);
		for (i = 0; i < digits; i++)
			if (!is_digit(p[n + 1 + i]))
				return not_ecr(input, err, errlen);
	}
	if (n == 0 || n > ECR_MAX_HOST)
		return not_ecr(input, err, errlen);
	/* Host names are case-insensitive (RFC 4343); keys are written in lower case. */
	for (i = 0; i < n; i++)
		host[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
	host[n] = '\0';
	if (match_host(host, out) != 0 || !aws_valid_region(out->region)) {
		memset(out, 0, sizeof *out);
		return not_ecr(input, err, errlen);
	}
	memcpy(out->host, host, n + 1);
	return 0;
}

/* ---- tokens ---------------------------------------------------------------------- */

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void ecr_token_clear(struct ecr_token *token)
{
	free_secret(token->password);
	free_secret(token->auth);
	memset(token, 0, sizeof *token);
}

/* 1 when a JSON text holds the escape \u0000 (RFC 8259 7); a backslash appears only in
 * strings, and "\\" is a backslash escaped, not the start of an escape. */
static int json_has_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 6 <= len && memcmp(text + i + 2, "0000", 4) == 0)
			return 1;
		i++;
	}
	return 0;
}

int ecr_parse_token_response(const char *body, size_t len, struct ecr_token *out,
                             char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const cJSON *data, *entry, *item;
	unsigned char *decoded = NULL;
	size_t token_len, decoded_len = 0;
	const char *token, *colon;
	int rc = AWS_EPARSE;

	memset(out, 0, sizeof *out);
	if (json_has_nul_escape(body, len)) {
		/* cJSON would end the string there and silently drop the rest of the token */
		snprintf(err, errlen, "GetAuthorizationToken answer holds a \\u0000 escape");
		goto out;
	}
	data = cJSON_GetObjectItemCaseSensitive(doc, "authorizationData");
	entry = cJSON_IsArray(data) ? data->child : NULL;
	if (!cJSON_IsObject(entry)) {
		snprintf(err, errlen, "GetAuthorizationToken answer has no authorizationData");
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(entry, "authorizationToken");
	token = cJSON_GetStringValue(item);
	token_len = token ? strlen(token) : 0;
	if (token_len == 0 || token_len > ECR_MAX_TOKEN_BODY) {
		snprintf(err, errlen, "GetAuthorizationToken answer has no usable authorizationToken");
		goto out;
	}
	decoded = malloc(token_len / 4 * 3 + 4);
	if (!decoded) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (base64_decode(token, token_len, decoded, token_len / 4 * 3 + 4, &decoded_len) != 0) {
		snprintf(err, errlen, "authorizationToken is not base64");
		goto out;
	}
	/* "user:password", split at the FIRST ':' (docs/design.md "ECR GetAuthorizationToken");
	 * both go into JSON and a header-like auth string, so no control characters. */
	colon = memchr(decoded, ':', decoded_len);
	if (!colon || colon == (const char *)decoded || (size_t)((const char *)colon - (const char *)decoded) >= sizeof out->username
	    || (const unsigned char *)colon + 1 == decoded + decoded_len) {
		snprintf(err, errlen, "authorizationToken is not USER:PASSWORD");
		goto out;
	}
	for (size_t i = 0; i < decoded_len; i++) {
		/* printable ASCII only: anything else would make the .dockerconfigjson invalid
		 * or carry bytes no registry login ever has */
		if (decoded[i] < 0x20 || decoded[i] >= 0x7f) {
			snprintf(err, errlen, "authorizationToken holds a byte other than printable ASCII");
			goto out;
		}
	}
	memcpy(out->username, decoded, (size_t)((const unsigned char *)colon - decoded));
	/* auth is the token itself, re-encoded so padding is always there. */
	out->auth = secret_base64(decoded, decoded_len);
	out->password = malloc(decoded_len);
	if (!out->password || !out->auth) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	decoded_len -= (size_t)((const unsigned char *)colon + 1 - decoded);
	memcpy(out->password, colon + 1, decoded_len);
	out->password[decoded_len] = '\0';

	/* expiresAt is epoch seconds as a JSON number, possibly with a fraction. */
	item = cJSON_GetObjectItemCaseSensitive(entry, "expiresAt");
	if (!cJSON_IsNumber(item) || !(item->valuedouble > 0 && item->valuedouble < 1e11)) {
		snprintf(err, errlen, "GetAuthorizationToken answer has no valid expiresAt");
		goto out;
	}
	out->expires_at = item->valuedouble;
	item = cJSON_GetObjectItemCaseSensitive(entry, "proxyEndpoint");
	if (cJSON_IsString(item)) {
		size_t n = strlen(item->valuestring), i;
		for (i = 0; i < n; i++)
			if ((unsigned char)item->valuestring[i] < 0x21 || (unsigned char)item->valuestring[i] > 0x7e)
				break;
		if (i < n || n >= sizeof out->proxy_endpoint) {
			snprintf(err, errlen, "GetAuthorizationToken answer has an invalid proxyEndpoint");
			goto out;
		}
		memcpy(out->proxy_endpoint, item->valuestring, n + 1);
	}
	rc = 0;
out:
	if (decoded) {
		explicit_bzero(decoded, token_len / 4 * 3 + 4);
		free(decoded);
	}
	if (rc != 0)
		ecr_token_clear(out);
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

int ecr_get_token(struct aws_client *aws, const char *region, struct ecr_token *out,
                  char *err, size_t errlen)
{
	/* docs/design.md "ECR GetAuthorizationToken": POST / with {} and the JSON 1.1 target;
	 * signing name "ecr". */
	const struct aws_json_call call = {
		.service = AWS_SERVICE_ECR,
		.region = region,
		.operation = "GetAuthorizationToken",
		.target = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
		.body = "{}",
	};
	const char *body;
	size_t body_len;
	char perr[200];
	int rc;

	rc = aws_json_call(aws, &call, &body, &body_len);
	if (rc != 0) {
		snprintf(err, errlen, "%s", aws->err);
		return rc;
	}
	rc = ecr_parse_token_response(body, body_len, out, perr, sizeof perr);
	/* The answer holds the password; the buffer lives on for the next region's call. */
	explicit_bzero((char *)body, body_len);
	if (rc != 0) {
		snprintf(err, errlen, "ECR GetAuthorizationToken in %s: %s", region, perr);
		return rc;
	}
	memcpy(out->region, region, strlen(region) + 1);
	log_register_secret(out->password);
	log_register_secret(out->auth);
	return 0;
}

void ecr_tokens_free(struct ecr_token *tokens, size_t count)
{
	size_t i;

	if (!tokens)
		return;
	for (i = 0; i < count; i++)
		ecr_token_clear(&tokens[i]);
	free(tokens);
}

static const struct ecr_token *token_for(const struct ecr_token *tokens, size_t count, const char *region)
{
	size_t i;
	for (i = 0; i < count; i++)
		if (strcmp(tokens[i].region, region) == 0)
			return &tokens[i];
	return NULL;
}

int ecr_get_tokens(struct aws_client *aws, const struct ecr_registry *regs, size_t count,
                   struct ecr_token **tokens, size_t *token_count, char *err, size_t errlen)
{
	struct ecr_token *list = calloc(count ? count : 1, sizeof *list);
	size_t i, n = 0;
	int rc;

	*tokens = NULL;
	*token_count = 0;
	if (!list) {
		snprintf(err, errlen, "out of memory");
		return AWS_EREQUEST;
	}
	/* The list is handed over even on failure: its passwords are registered with the
	 * log, so only the caller, after log_forget_secrets(), may free them. */
	*tokens = list;
	for (i = 0; i < count; i++) {
		if (token_for(list, n, regs[i].region))
			continue;
		rc = ecr_get_token(aws, regs[i].region, &list[n], err, errlen);
		if (rc != 0)
			return rc;
		*token_count = ++n;
	}
	return 0;
}

double ecr_earliest_expiry(const struct ecr_token *tokens, size_t count)
{
	double earliest = 0;
	size_t i;

	for (i = 0; i < count; i++)
		if (i == 0 || tokens[i].expires_at < earliest)
			earliest = tokens[i].expires_at;
	return earliest;
}

/* ---- the dockerconfig payload (docs/design.md "How the kubelet reads the Secret") -- */

static int add_auth(cJSON *auths, const char *host, const struct ecr_token *token)
{
	cJSON *entry = cJSON_AddObjectToObject(auths, host);

	return entry && cJSON_AddStringToObject(entry, "username", token->username)
		&& cJSON_AddStringToObject(entry, "password", token->password)
		&& cJSON_AddStringToObject(entry, "auth", token->auth) ? 0 : -1;
}

char *ecr_dockerconfigjson(const struct ecr_registry *regs, size_t count,
                           const struct ecr_token *tokens, size_t token_count)
{
	cJSON *doc = cJSON_CreateObject(), *auths;
	char *json = NULL;
	size_t i;

	if (!doc || !(auths = cJSON_AddObjectToObject(doc, "auths")))
		goto out;
	for (i = 0; i < count; i++) {
		const struct ecr_token *token = token_for(tokens, token_count, regs[i].region);
		if (!token || !token->password || !token->auth)
			goto out;
		/* The same host given twice (say with and without https://) is one key. */
		if (cJSON_GetObjectItemCaseSensitive(auths, regs[i].host))
			continue;
		if (add_auth(auths, regs[i].host, token) != 0)
			goto out;
	}
	json = secret_print_json(doc, 0);
out:
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return json;
}
