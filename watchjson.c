/*
 * watchjson: watch events and list pages; see watchjson.h.
 */
#include "watchjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "config.h"
#include "k8sjson.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const cJSON *member(const cJSON *object, const char *key)
{
	return cJSON_IsObject(object) ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;
}

static const char *string_member(const cJSON *object, const char *key)
{
	const cJSON *v = member(object, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Copies s into out when it fits, control and non-ASCII bytes as '?'; "" otherwise. */
static void copy_text(char *out, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	out[0] = '\0';
	if (n >= size)
		return;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}

/* The same, cutting what does not fit (for messages). */
static void copy_cut(char *out, size_t size, const char *s)
{
	char tmp[512];

	snprintf(tmp, sizeof tmp < size ? sizeof tmp : size, "%s", s ? s : "");
	copy_text(out, size, tmp);
}

static int valid_version(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n >= WATCH_MAX_VERSION)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
			return 0;
	return 1;
}

/* Reads an object's metadata (and a Namespace's phase). bookmark: only the version. */
static int read_object(const cJSON *object, const char *field_manager, int bookmark,
                       struct watch_object *out, char *err, size_t errlen)
{
	const cJSON *meta = member(object, "metadata");
	const char *name = string_member(meta, "name");
	const char *ns = string_member(meta, "namespace");
	const char *version = string_member(meta, "resourceVersion");
	const char *phase = string_member(member(object, "status"), "phase");

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(object) || !cJSON_IsObject(meta))
		return fail(err, errlen, "watch object has no metadata");
	if (!valid_version(version))
		return fail(err, errlen, "watch object has no valid resourceVersion");
	memcpy(out->resource_version, version, strlen(version) + 1);
	if (bookmark)
		return 0;
	if (!name || !config_valid_dns_subdomain(name))
		return fail(err, errlen, "watch object has no valid name");
	if (ns && *ns && !config_valid_dns_label(ns))
		return fail(err, errlen, "watch object has an invalid namespace");
	memcpy(out->name, name, strlen(name) + 1);
	copy_text(out->namespace, sizeof out->namespace, ns);
	out->terminating = member(meta, "deletionTimestamp") != NULL ||
	                   (phase && strcmp(phase, "Terminating") == 0);
	if (ns && *ns && k8s_secret_meta_read(meta, field_manager ? field_manager : "", &out->secret) != 0) {
		k8s_secret_meta_clear(&out->secret);
		return fail(err, errlen, "out of memory");
	}
	return 0;
}

static const struct {
	const char *name;
	enum watch_type type;
} types[] = {
	{ "ADDED", WATCH_ADDED },
	{ "MODIFIED", WATCH_MODIFIED },
	{ "DELETED", WATCH_DELETED },
	{ "BOOKMARK", WATCH_BOOKMARK },
	{ "ERROR", WATCH_ERROR },
};

static int read_event(const cJSON *root, const char *field_manager, struct watch_event *ev,
                      char *err, size_t errlen)
{
	const char *type = string_member(root, "type");
	const cJSON *object = member(root, "object");
	size_t i;

	if (!cJSON_IsObject(root))
		return fail(err, errlen, "watch event is not a JSON object");
	for (i = 0; type && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(type, types[i].name) == 0)
			break;
	if (!type || i == sizeof types / sizeof types[0])
		return fail(err, errlen, "watch event has no known type");
	ev->type = types[i].type;
	if (!cJSON_IsObject(object))
		return fail(err, errlen, "watch event has no object");
	if (ev->type == WATCH_ERROR) {
		const cJSON *code = member(object, "code");

		ev->code = cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000
		           ? (int)code->valuedouble : 0;
		copy_text(ev->reason, sizeof ev->reason, string_member(object, "reason"));
		copy_cut(ev->message, sizeof ev->message, string_member(object, "message"));
		return 0;
	}
	return read_object(object, field_manager, ev->type == WATCH_BOOKMARK, &ev->object, err, errlen);
}

int watch_parse_event(const char *line, size_t len, const char *field_manager,
                      struct watch_event *ev, char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	memset(ev, 0, sizeof *ev);
	if (len > WATCH_MAX_LINE)
		return fail(err, errlen, "watch event longer than %d bytes", WATCH_MAX_LINE);
	root = k8s_json_parse(line, len);
	if (!root)
		return fail(err, errlen, "watch event is not JSON");
	rc = read_event(root, field_manager, ev, err, errlen);
	cJSON_Delete(root);
	if (rc < 0) {
		watch_event_clear(ev);
		memset(ev, 0, sizeof *ev);
	}
	return rc;
}

void watch_event_clear(struct watch_event *ev)
{
	k8s_secret_meta_clear(&ev->object.secret);
}

static int read_list(const cJSON *root, const char *field_manager,
                     int (*each)(void *ctx, const struct watch_object *object), void *ctx,
                     char *version, size_t version_size, char *cont, size_t cont_size,
                     char *err, size_t errlen)
{
	const cJSON *meta = member(root, "metadata");
	const cJSON *items = member(root, "items");
	const char *v = string_member(meta, "resourceVersion");
	const char *c = string_member(meta, "continue");
	const cJSON *item;
	struct watch_object object;

	if (!cJSON_IsObject(root) || !cJSON_IsObject(meta) || (!cJSON_IsArray(items) && !cJSON_IsNull(items)))
		return fail(err, errlen, "answer is not a list");
	if (!valid_version(v) || strlen(v) >= version_size)
		return fail(err, errlen, "list has no valid resourceVersion");
	memcpy(version, v, strlen(v) + 1);
	copy_text(cont, cont_size, c);
	if (c && *c && strcmp(cont, c) != 0)
		return fail(err, errlen, "list continue token is too long or not printable");
	if (!cJSON_IsArray(items))
		return 0;   /* a metadata-only list with nothing in it answers "items": null */
	cJSON_ArrayForEach(item, items) {
		int rc;

		if (read_object(item, field_manager, 0, &object, err, errlen) < 0)
			return -1;
		rc = each(ctx, &object);
		k8s_secret_meta_clear(&object.secret);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int watch_parse_list(const char *body, size_t len, const char *field_manager,
                     int (*each)(void *ctx, const struct watch_object *object), void *ctx,
                     char *version, size_t version_size, char *cont, size_t cont_size,
                     char *err, size_t errlen)
{
	cJSON *root = k8s_json_parse(body, len);
	int rc;

	if (version_size)
		version[0] = '\0';
	if (cont_size)
		cont[0] = '\0';
	if (!root)
		return fail(err, errlen, "list is not JSON");
	rc = read_list(root, field_manager, each, ctx, version, version_size, cont, cont_size, err, errlen);
	cJSON_Delete(root);
	return rc;
}

/* api-concepts.md "Efficient detection of changes": a watch from a version etcd has
 * compacted away ends in 410 Gone (reason Expired, or Gone from older servers). */
int watch_is_gone(int code, const char *reason)
{
	return code == 410 || (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0));
}
