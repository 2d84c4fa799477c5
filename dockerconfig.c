/*
 * dockerconfig: static registries from mounted dockerconfig files; see dockerconfig.h.
 */
#include "dockerconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "base64.h"
#include "files.h"

static int visible_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int no_controls(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Keys are quoted in messages only when they are printable and short: they were checked
 * before any message that names them. */
static int entry_error(char *err, size_t errlen, const char *name, const char *key, const char *what)
{
	snprintf(err, errlen, "%s: auths \"%s\": %s", name, key, what);
	return -1;
}

/* "auth" decoded and split at the first ':' into user[0..) and the password after it;
 * buf must hold len / 4 * 3 + 3 bytes. Returns the user's length, or -1. */
static long split_auth(const char *auth, unsigned char *buf, size_t cap, size_t *decoded_len)
{
	const unsigned char *colon;

	if (base64_decode(auth, strlen(auth), buf, cap, decoded_len) != 0)
		return -1;
	colon = memchr(buf, ':', *decoded_len);
	if (!colon || colon == buf || colon + 1 == buf + *decoded_len)
		return -1;
	return (long)(colon - buf);
}

static int add_from_auth(const char *auth, const char *key, const char *name, struct secret_entries *out,
                         char *err, size_t errlen)
{
	size_t len = strlen(auth), cap = len / 4 * 3 + 4, decoded_len = 0;
	unsigned char *buf = malloc(cap);
	long user_len;
	int rc = -1;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	user_len = split_auth(auth, buf, cap, &decoded_len);
	if (user_len < 0) {
		entry_error(err, errlen, name, key, "\"auth\" is not base64 of USER:PASSWORD");
	} else if (memchr(buf, '\0', decoded_len) || !no_controls((const char *)buf, decoded_len)) {
		entry_error(err, errlen, name, key, "\"auth\" has control characters");
	} else {
		buf[user_len] = '\0';
		buf[decoded_len] = '\0';
		rc = secret_entries_add(out, key, (const char *)buf, (const char *)buf + user_len + 1, 0, name);
		if (rc != 0)
			snprintf(err, errlen, "out of memory");
	}
	explicit_bzero(buf, cap);
	free(buf);
	return rc;
}

static int add_entry(const cJSON *item, const char *name, struct secret_entries *out, char *err, size_t errlen)
{
	const char *key = item->string;
	const char *auth, *user, *password;

	if (!key || !*key || strlen(key) > DOCKERCONFIG_MAX_KEY || !visible_ascii(key)) {
		snprintf(err, errlen, "%s: an auths key is empty, longer than %d bytes or not printable ASCII",
		         name, DOCKERCONFIG_MAX_KEY);
		return -1;
	}
	if (!cJSON_IsObject(item))
		return entry_error(err, errlen, name, key, "not an object");
	auth = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "auth"));
	user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "username"));
	password = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "password"));
	/* The kubelet lets "auth" override username and password (config.go UnmarshalJSON). */
	if (auth && *auth)
		return add_from_auth(auth, key, name, out, err, errlen);
	if (!user || !*user || !password || !*password)
		return entry_error(err, errlen, name, key,
		                   "no \"auth\" and no \"username\" and \"password\" (credential helpers are not read)");
	if (strchr(user, ':') || !no_controls(user, strlen(user)) || !no_controls(password, strlen(password)))
		return entry_error(err, errlen, name, key, "the username has a ':' or a value has control characters");
	if (secret_entries_add(out, key, user, password, 0, name) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int dockerconfig_parse(const char *text, size_t len, const char *name, struct secret_entries *out,
                       char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const cJSON *auths, *item;
	size_t count = 0;
	int rc = -1;

	auths = cJSON_GetObjectItemCaseSensitive(doc, "auths");
	if (!doc) {
		snprintf(err, errlen, "%s: not JSON", name);
		goto out;
	}
	if (!cJSON_IsObject(auths)) {
		snprintf(err, errlen, "%s: no \"auths\" object (a .dockerconfigjson or config.json is expected)", name);
		goto out;
	}
	for (item = auths->child; item; item = item->next) {
		if (++count > DOCKERCONFIG_MAX_ENTRIES) {
			snprintf(err, errlen, "%s: more than %d auths entries", name, DOCKERCONFIG_MAX_ENTRIES);
			goto out;
		}
		if (add_entry(item, name, out, err, errlen) != 0)
			goto out;
	}
	if (count == 0) {
		snprintf(err, errlen, "%s: \"auths\" is empty", name);
		goto out;
	}
	rc = 0;
out:
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

int dockerconfig_read_file(const char *path, struct secret_entries *out, char *err, size_t errlen)
{
	char *text;
	long len;
	int rc;

	len = files_read_alloc("", path, DOCKERCONFIG_MAX_FILE, &text, err, errlen);
	if (len < 0)
		return -1;
	rc = dockerconfig_parse(text, (size_t)len, path, out, err, errlen);
	explicit_bzero(text, (size_t)len);
	free(text);
	return rc;
}

/* ---- keys as the kubelet matches them ------------------------------------------------ */

static const char *skip_scheme(const char *key)
{
	const char *sep = strstr(key, "://");
	return sep && (size_t)(sep - key) < 16 ? sep + 3 : key;
}

static int lower_copy(char *out, size_t outlen, const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	out[n] = '\0';
	return 0;
}

int dockerconfig_key_host(const char *key, char *out, size_t outlen)
{
	const char *host = skip_scheme(key);
	size_t n = strcspn(host, "/");
	const char *colon = memchr(host, ':', n);

	if (colon)
		n = (size_t)(colon - host);
	return lower_copy(out, outlen, host, n);
}

int dockerconfig_key_identity(const char *key, char *out, size_t outlen)
{
	const char *host = skip_scheme(key);
	size_t host_len = strcspn(host, "/"), path_len = strlen(host + host_len);
	const char *path = host + host_len;

	/* keyring.go parseSchemelessURL and the /v1/, /v2/ trimming of docker's auth config. */
	if (path_len >= 4 && (strcmp(path + path_len - 4, "/v1/") == 0 || strcmp(path + path_len - 4, "/v2/") == 0))
		path_len -= 4;
	else if (path_len >= 3 && (strcmp(path + path_len - 3, "/v1") == 0 || strcmp(path + path_len - 3, "/v2") == 0))
		path_len -= 3;
	while (path_len > 0 && path[path_len - 1] == '/')
		path_len--;
	if (lower_copy(out, outlen, host, host_len) != 0 || host_len + path_len >= outlen)
		return -1;
	memcpy(out + host_len, path, path_len);
	out[host_len + path_len] = '\0';
	return 0;
}

int dockerconfig_check(const struct secret_entries *statics, const char *const *hosts, size_t count,
                       char *err, size_t errlen)
{
	char a[DOCKERCONFIG_MAX_KEY + 1], b[DOCKERCONFIG_MAX_KEY + 1];
	size_t i, j;

	for (i = 0; i < statics->count; i++) {
		const struct secret_entry *e = &statics->items[i];

		if (dockerconfig_key_host(e->key, a, sizeof a) != 0) {
			snprintf(err, errlen, "%s: auths \"%s\" names no registry host", e->source, e->key);
			return -1;
		}
		for (j = 0; j < count; j++) {
			if (strcmp(a, hosts[j]) == 0) {
				snprintf(err, errlen, "%s: auths \"%s\" is a registry this run also fetches a token for "
				         "(%s); remove one of them", e->source, e->key, hosts[j]);
				return -1;
			}
		}
		dockerconfig_key_identity(e->key, a, sizeof a);
		for (j = 0; j < i; j++) {
			dockerconfig_key_identity(statics->items[j].key, b, sizeof b);
			if (strcmp(a, b) == 0) {
				snprintf(err, errlen, "%s: auths \"%s\" is the same registry as \"%s\" in %s",
				         e->source, e->key, statics->items[j].key, statics->items[j].source);
				return -1;
			}
		}
	}
	return 0;
}
