/*
 * secret: the dockerconfigjson Secret manifest, and the two deterministic writers that put
 * it on the wire or on stdout (JSON, block YAML).
 *
 * The manifest holds registry passwords in base64, so every buffer a writer grows is
 * copied into a fresh allocation and the old one wiped before it is freed: realloc would
 * leave partial copies of a password behind in freed heap.
 */
#include "secret.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl_hash.h>

#include "base64.h"
#include "log.h"

/* ---- base64 of a whole buffer (allocates: the caller frees) ---------------------- */

char *secret_base64(const void *data, size_t len)
{
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = malloc(BASE64_ENCODED_SIZE(len));
	if (out)
		base64_encode(data, len, out, BASE64_ENCODED_SIZE(len));
	return out;
}

/* ---- the configuration digest ------------------------------------------------------ */

static int compare_hosts(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each distinct item of list in strcmp order, followed by "\n": 0, or -1 when out of
 * memory. */
static int hash_sorted(br_sha256_context *sha, const char *const *list, size_t count)
{
	const char **sorted = count ? malloc(count * sizeof *sorted) : NULL;

	if (count && !sorted)
		return -1;
	if (count) {
		memcpy(sorted, list, count * sizeof *sorted);
		qsort(sorted, count, sizeof *sorted, compare_hosts);
	}
	for (size_t i = 0; i < count; i++) {
		if (i && strcmp(sorted[i - 1], sorted[i]) == 0)
			continue;
		br_sha256_update(sha, sorted[i], strlen(sorted[i]));
		br_sha256_update(sha, "\n", 1);
	}
	free(sorted);
	return 0;
}

int secret_config_digest(const struct secret_digest_input *in, char out[SECRET_DIGEST_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char sum[br_sha256_SIZE];
	br_sha256_context sha;
	int rc;

	br_sha256_init(&sha);
	rc = hash_sorted(&sha, in->hosts, in->host_count);
	br_sha256_update(&sha, "", 1);
	if (in->static_entries)
		br_sha256_update(&sha, in->static_entries, strlen(in->static_entries));
	if (rc == 0 && in->account_count) {
		br_sha256_update(&sha, "", 1);
		rc = hash_sorted(&sha, in->service_accounts, in->account_count);
	}
	br_sha256_out(&sha, sum);
	for (size_t i = 0; i < sizeof sum; i++) {
		out[2 * i] = hex[sum[i] >> 4];
		out[2 * i + 1] = hex[sum[i] & 15];
	}
	out[2 * sizeof sum] = '\0';
	explicit_bzero(&sha, sizeof sha);   /* static entries hold passwords */
	return rc;
}

/* ---- the manifest ----------------------------------------------------------------- */

cJSON *secret_manifest(const struct secret_spec *spec)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *metadata, *labels, *annotations, *data;
	char *encoded = NULL;
	int ok;

	if (!doc)
		return NULL;
	encoded = secret_base64(spec->dockerconfigjson, strlen(spec->dockerconfigjson));
	ok = encoded != NULL
		&& cJSON_AddStringToObject(doc, "apiVersion", "v1")
		&& cJSON_AddStringToObject(doc, "kind", "Secret")
		&& (metadata = cJSON_AddObjectToObject(doc, "metadata")) != NULL
		&& cJSON_AddStringToObject(metadata, "name", spec->name)
		&& cJSON_AddStringToObject(metadata, "namespace", spec->namespace)
		&& (labels = cJSON_AddObjectToObject(metadata, "labels")) != NULL
		&& cJSON_AddStringToObject(labels, SECRET_LABEL_MANAGED_BY, SECRET_MANAGED_BY)
		&& (annotations = cJSON_AddObjectToObject(metadata, "annotations")) != NULL
		&& cJSON_AddStringToObject(annotations, SECRET_ANNOTATION_REGISTRIES, spec->registries)
		&& (!spec->expires_at || !*spec->expires_at
		    || cJSON_AddStringToObject(annotations, SECRET_ANNOTATION_EXPIRES_AT, spec->expires_at))
		&& (!spec->config_digest
		    || cJSON_AddStringToObject(annotations, SECRET_ANNOTATION_CONFIG_DIGEST, spec->config_digest))
		&& cJSON_AddStringToObject(doc, "type", "kubernetes.io/dockerconfigjson")
		&& (data = cJSON_AddObjectToObject(doc, "data")) != NULL
		&& cJSON_AddStringToObject(data, ".dockerconfigjson", encoded);
	if (encoded) {
		explicit_bzero(encoded, strlen(encoded));
		free(encoded);
	}
	if (!ok) {
		secret_wipe_tree(doc);
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

void secret_wipe_tree(cJSON *doc)
{
	cJSON *item;

	if (!doc)
		return;
	if (doc->valuestring)
		explicit_bzero(doc->valuestring, strlen(doc->valuestring));
	for (item = doc->child; item; item = item->next)
		secret_wipe_tree(item);
}

/* ---- an output buffer that never leaves copies behind --------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
	int failed;
	int fixed;                  /* buf is the caller's: never grown, never freed */
	const cJSON *mark;          /* json_value records where this item's value starts */
	size_t mark_at;
	int marked;
};

static void out_grow(struct out *o, size_t need)
{
	size_t cap = o->cap ? o->cap : 1024;
	char *fresh;

	if (o->fixed) {
		o->failed = 1;
		return;
	}
	while (cap - o->len <= need) {
		if (cap > SIZE_MAX / 2) {
			o->failed = 1;
			return;
		}
		cap *= 2;
	}
	fresh = malloc(cap);
	if (!fresh) {
		o->failed = 1;
		return;
	}
	if (o->buf) {
		memcpy(fresh, o->buf, o->len);
		explicit_bzero(o->buf, o->cap);
		free(o->buf);
	}
	o->buf = fresh;
	o->cap = cap;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->cap - o->len <= n)
		out_grow(o, n);
	if (o->failed)
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_indent(struct out *o, int n)
{
	while (n-- > 0)
		out_put(o, " ", 1);
}

static void out_drop(struct out *o)
{
	if (o->buf) {
		explicit_bzero(o->buf, o->cap);
		free(o->buf);
	}
	o->buf = NULL;
}

/* A JSON string literal (RFC 8259 section 7). It is also a valid YAML 1.2 double-quoted
 * scalar (YAML 1.2 section 5.7 has every JSON escape); DEL is escaped too because YAML
 * does not count it as printable (section 5.1). */
static void out_quoted(struct out *o, const char *s)
{
	char esc[8];

	out_put(o, "\"", 1);
	for (;;) {
		/* the base64 of a Secret is one long run of characters that need no escape:
		 * copy each run in one go */
		const char *run = s;
		unsigned char c;

		while ((c = (unsigned char)*s) >= 0x20 && c != 0x7f && c != '"' && c != '\\')
			s++;
		if (s != run)
			out_put(o, run, (size_t)(s - run));
		if (!c)
			break;
		switch (c) {
		case '"': out_put(o, "\\\"", 2); break;
		case '\\': out_put(o, "\\\\", 2); break;
		case '\b': out_put(o, "\\b", 2); break;
		case '\f': out_put(o, "\\f", 2); break;
		case '\n': out_put(o, "\\n", 2); break;
		case '\r': out_put(o, "\\r", 2); break;
		case '\t': out_put(o, "\\t", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", c);
			out_put(o, esc, 6);
		}
		s++;
	}
	out_put(o, "\"", 1);
}

/* Numbers as cJSON prints them: integers without a fraction, others with the shortest of
 * 15 or 17 significant digits that reads back the same; NaN and infinities as null. */
static void out_number(struct out *o, double d)
{
	char num[32];

	if (d != d || d - d != 0) {
		out_str(o, "null");
		return;
	}
	if (d > -9e15 && d < 9e15 && d == (double)(long long)d) {
		snprintf(num, sizeof num, "%lld", (long long)d);
	} else {
		snprintf(num, sizeof num, "%1.15g", d);
		if (strtod(num, NULL) != d)
			snprintf(num, sizeof num, "%1.17g", d);
	}
	out_str(o, num);
}

static void out_scalar(struct out *o, const cJSON *item)
{
	if (cJSON_IsString(item))
		out_quoted(o, item->valuestring);
	else if (cJSON_IsNumber(item))
		out_number(o, item->valuedouble);
	else if (cJSON_IsTrue(item))
		out_str(o, "true");
	else if (cJSON_IsFalse(item))
		out_str(o, "false");
	else if (cJSON_IsObject(item))
		out_str(o, "{}");
	else if (cJSON_IsArray(item))
		out_str(o, "[]");
	else
		out_str(o, "null");
}

static int is_container(const cJSON *item)
{
	return (cJSON_IsObject(item) || cJSON_IsArray(item)) && item->child != NULL;
}

/* ---- JSON ------------------------------------------------------------------------- */

static void json_value(struct out *o, const cJSON *item, int pretty, int indent)
{
	const cJSON *child;
	int object = cJSON_IsObject(item);

	if (item == o->mark) {
		o->mark_at = o->len;
		o->marked = 1;
	}
	if (!is_container(item)) {
		out_scalar(o, item);
		return;
	}
	out_put(o, object ? "{" : "[", 1);
	for (child = item->child; child; child = child->next) {
		if (pretty) {
			out_put(o, "\n", 1);
			out_indent(o, indent + 2);
		}
		if (object) {
			out_quoted(o, child->string ? child->string : "");
			out_str(o, pretty ? ": " : ":");
		}
		json_value(o, child, pretty, indent + 2);
		if (child->next)
			out_put(o, ",", 1);
	}
	if (pretty) {
		out_put(o, "\n", 1);
		out_indent(o, indent);
	}
	out_put(o, object ? "}" : "]", 1);
}

char *secret_print_json(const cJSON *doc, int pretty)
{
	struct out o = {0};

	json_value(&o, doc, pretty, 0);
	if (pretty)
		out_put(&o, "\n", 1);
	if (o.failed) {
		out_drop(&o);
		return NULL;
	}
	return o.buf;
}

char *secret_print_json_item(const cJSON *doc, int indent)
{
	struct out o = {0};

	out_indent(&o, indent);
	json_value(&o, doc, 1, indent);
	if (o.failed) {
		out_drop(&o);
		return NULL;
	}
	return o.buf;
}

/* ---- the apply body, printed once per run ------------------------------------------- */

int secret_body_init(struct secret_body *b, const struct secret_spec *spec)
{
	struct secret_spec blank = *spec;
	struct out o = {0};
	cJSON *doc;

	memset(b, 0, sizeof *b);
	blank.namespace = "";
	doc = secret_manifest(&blank);
	if (!doc)
		return -1;
	o.mark = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "namespace");
	json_value(&o, doc, 0, 0);
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	/* the value printed at the mark is the empty string's two quotes */
	if (o.failed || !o.marked || o.len - o.mark_at < 2 || memcmp(o.buf + o.mark_at, "\"\"", 2) != 0) {
		out_drop(&o);
		return -1;
	}
	b->text = o.buf;
	b->len = o.len;
	b->ns_at = o.mark_at;
	b->cap = o.cap;
	return 0;
}

long secret_body_render(const struct secret_body *b, const char *namespace, char *out, size_t size)
{
	struct out o = { .buf = out, .cap = size, .fixed = 1 };

	if (!b->text || size == 0)
		return -1;
	out_put(&o, b->text, b->ns_at);
	out_quoted(&o, namespace);
	out_put(&o, b->text + b->ns_at + 2, b->len - b->ns_at - 2);
	if (o.failed) {
		explicit_bzero(out, size);
		return -1;
	}
	return (long)o.len;
}

void secret_body_free(struct secret_body *b)
{
	if (b->text) {
		explicit_bzero(b->text, b->cap);
		free(b->text);
	}
	memset(b, 0, sizeof *b);
}

/* ---- YAML ------------------------------------------------------------------------- */

/* A mapping key is written plain only when no YAML 1.1 or 1.2 reader could take it for
 * anything but a string: a letter (or '.' then a letter) first, then letters, digits and
 * . _ / -, and none of the words that resolve to booleans, null or special floats. Every
 * other key is double-quoted. */
static int yaml_plain_key(const char *key)
{
	static const char *const reserved[] = {
		"true", "false", "yes", "no", "on", "off", "y", "n", "null", ".inf", ".nan",
	};
	const char *p = key;
	size_t i;

	if (*p == '.')
		p++;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return 0;
	for (; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
		      || *p == '.' || *p == '_' || *p == '/' || *p == '-'))
			return 0;
	}
	for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		const char *a = key, *b = reserved[i];
		while (*a && *b && (*a | 0x20) == *b) {
			a++;
			b++;
		}
		if (!*a && !*b)
			return 0;
	}
	return 1;
}

static void yaml_key(struct out *o, const char *key)
{
	if (yaml_plain_key(key))
		out_str(o, key);
	else
		out_quoted(o, key);
	out_put(o, ":", 1);
}

/*
 * Block style (YAML 1.2 chapter 8). The caller has written the indentation of the first
 * line already (or "- " for a sequence entry); every later line starts with `indent`
 * spaces. A mapping inside a sequence starts on the dash's line, like kubectl writes it.
 */
static void yaml_block(struct out *o, const cJSON *item, int indent)
{
	const cJSON *child;
	int first = 1;

	for (child = item->child; child; child = child->next) {
		if (!first)
			out_indent(o, indent);
		first = 0;
		if (cJSON_IsObject(item)) {
			yaml_key(o, child->string ? child->string : "");
			if (is_container(child)) {
				out_put(o, "\n", 1);
				if (cJSON_IsArray(child)) {
					/* A sequence may sit at its key's indentation (8.2.1). */
					out_indent(o, indent);
					yaml_block(o, child, indent);
				} else {
					out_indent(o, indent + 2);
					yaml_block(o, child, indent + 2);
				}
				continue;
			}
			out_put(o, " ", 1);
		} else if (cJSON_IsArray(child) && child->child) {
			out_put(o, "-\n", 2);
			out_indent(o, indent + 2);
			yaml_block(o, child, indent + 2);
			continue;
		} else {
			out_put(o, "- ", 2);
			if (is_container(child)) {
				yaml_block(o, child, indent + 2);
				continue;
			}
		}
		out_scalar(o, child);
		out_put(o, "\n", 1);
	}
}

int secret_write_yaml(const cJSON *doc, char **out)
{
	struct out o = {0};

	*out = NULL;
	if (is_container(doc)) {
		yaml_block(&o, doc, 0);
	} else {
		out_scalar(&o, doc);
		out_put(&o, "\n", 1);
	}
	if (o.failed) {
		out_drop(&o);
		return -1;
	}
	*out = o.buf;
	return 0;
}

/* ---- registry entries --------------------------------------------------------------- */

static void free_wiped(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void entry_clear(struct secret_entry *e)
{
	free(e->key);
	free(e->username);
	free_wiped(e->password);
	free_wiped(e->auth);
	memset(e, 0, sizeof *e);
}

static char *user_password_auth(const char *username, const char *password)
{
	size_t u = strlen(username), p = strlen(password);
	char *joined = malloc(u + p + 2), *auth;

	if (!joined)
		return NULL;
	memcpy(joined, username, u);
	joined[u] = ':';
	memcpy(joined + u + 1, password, p + 1);
	auth = secret_base64(joined, u + p + 1);
	explicit_bzero(joined, u + p + 1);
	free(joined);
	return auth;
}

/* Room for n more entries. Entries are pointers to heap strings: moving them leaves no
 * secret behind in the old array. */
static int entries_reserve(struct secret_entries *list, size_t n)
{
	size_t cap = list->cap ? list->cap : 8;
	struct secret_entry *items;

	if (list->count + n <= list->cap)
		return 0;
	while (cap < list->count + n)
		cap *= 2;
	items = calloc(cap, sizeof *items);
	if (!items)
		return -1;
	if (list->count)
		memcpy(items, list->items, list->count * sizeof *items);
	free(list->items);
	list->items = items;
	list->cap = cap;
	return 0;
}

int secret_entries_take(struct secret_entries *dst, struct secret_entries *src)
{
	if (entries_reserve(dst, src->count) != 0)
		return -1;
	if (src->count)
		memcpy(dst->items + dst->count, src->items, src->count * sizeof *src->items);
	dst->count += src->count;
	free(src->items);
	memset(src, 0, sizeof *src);
	return 0;
}

int secret_entries_add(struct secret_entries *list, const char *key, const char *username,
                       const char *password, double expires_at, const char *source)
{
	struct secret_entry e = { 0 };

	if (entries_reserve(list, 1) != 0)
		return -1;
	e.key = strdup(key);
	e.username = strdup(username);
	e.password = strdup(password);
	e.auth = user_password_auth(username, password);
	e.expires_at = expires_at;
	e.source = source;
	if (!e.key || !e.username || !e.password || !e.auth) {
		entry_clear(&e);
		return -1;
	}
	log_register_secret(e.password);
	log_register_secret(e.auth);
	list->items[list->count++] = e;
	return 0;
}

long secret_entries_find(const struct secret_entries *list, const char *key)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		if (strcmp(list->items[i].key, key) == 0)
			return (long)i;
	return -1;
}

double secret_entries_earliest_expiry(const struct secret_entries *list)
{
	double earliest = 0;
	size_t i;

	for (i = 0; i < list->count; i++)
		if (list->items[i].expires_at > 0 && (earliest == 0 || list->items[i].expires_at < earliest))
			earliest = list->items[i].expires_at;
	return earliest;
}

char *secret_dockerconfigjson(const struct secret_entries *list)
{
	cJSON *doc = cJSON_CreateObject(), *auths, *entry;
	char *json = NULL;
	size_t i;

	if (!doc || !(auths = cJSON_AddObjectToObject(doc, "auths")))
		goto out;
	for (i = 0; i < list->count; i++) {
		const struct secret_entry *e = &list->items[i];
		if (cJSON_GetObjectItemCaseSensitive(auths, e->key))
			continue;
		if (!(entry = cJSON_AddObjectToObject(auths, e->key))
		    || !cJSON_AddStringToObject(entry, "username", e->username)
		    || !cJSON_AddStringToObject(entry, "password", e->password)
		    || !cJSON_AddStringToObject(entry, "auth", e->auth))
			goto out;
	}
	json = secret_print_json(doc, 0);
out:
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return json;
}

char *secret_entries_keys(const struct secret_entries *list)
{
	size_t i, len = 1;
	char *out, *p;

	for (i = 0; i < list->count; i++)
		len += strlen(list->items[i].key) + 1;
	out = p = malloc(len);
	if (!out)
		return NULL;
	*p = '\0';
	for (i = 0; i < list->count; i++)
		p += sprintf(p, "%s%s", i ? "," : "", list->items[i].key);
	return out;
}

void secret_entries_free(struct secret_entries *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		entry_clear(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof *list);
}
