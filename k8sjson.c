/*
 * k8sjson: pure readers and writers of Kubernetes API JSON; see k8sjson.h.
 */
#include "k8sjson.h"

#include "grow.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *k8s_json_parse(const char *text, size_t len)
{
	cJSON *root;

	if (!text)
		return NULL;
	pthread_mutex_lock(&parse_lock);
	root = cJSON_ParseWithLength(text, len);
	pthread_mutex_unlock(&parse_lock);
	return root;
}

/* Copies a server string into a fixed field for logs: truncated, control characters and
 * DEL replaced by '?' so a hostile message cannot forge log lines. */
void k8s_copy_printable(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	if (size == 0)
		return;
	for (; src && src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* A Status's words are peer text for logs: cut, control characters blanked, and whatever
 * looks like a token or a piece of a known secret redacted (the server may be echoing what
 * we sent; log_peer_text). */
static void copy_peer_text(char *dst, size_t size, const char *src)
{
	log_peer_text(dst, size, src, src ? strlen(src) : 0);
}

static const char *object_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* ---- Status ------------------------------------------------------------------------- */

int k8s_parse_status(const char *body, size_t len, struct k8s_status *st)
{
	cJSON *root;
	const cJSON *code, *details, *causes, *cause, *retry;
	size_t used = 0;

	memset(st, 0, sizeof *st);
	st->retry_after_s = -1;
	if (!body || len == 0)
		return -1;
	root = k8s_json_parse(body, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	code = cJSON_GetObjectItemCaseSensitive(root, "code");
	if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble <= 999)
		st->code = (int)code->valuedouble;
	copy_peer_text(st->reason, sizeof st->reason, object_string(root, "reason"));
	copy_peer_text(st->message, sizeof st->message, object_string(root, "message"));

	details = cJSON_GetObjectItemCaseSensitive(root, "details");
	if (cJSON_IsObject(details)) {
		copy_peer_text(st->kind, sizeof st->kind, object_string(details, "kind"));
		retry = cJSON_GetObjectItemCaseSensitive(details, "retryAfterSeconds");
		/* int32 on the wire; a NaN or negative value fails both comparisons */
		if (cJSON_IsNumber(retry) && retry->valuedouble >= 0)
			st->retry_after_s = retry->valuedouble > 86400 ? 86400 : (long)retry->valuedouble;
		causes = cJSON_GetObjectItemCaseSensitive(details, "causes");
		if (!cJSON_IsArray(causes))
			causes = NULL;
		cJSON_ArrayForEach(cause, causes) {
			const char *reason = object_string(cause, "reason");

			if (!reason || !*reason)
				continue;
			/* the apiserver's NamespaceLifecycle admission plugin names it so
			 * (apimachinery pkg/apis/meta/v1 NamespaceTerminatingCause) */
			if (strcmp(reason, "NamespaceTerminating") == 0)
				st->namespace_terminating = 1;
			if (used + 2 < sizeof st->causes) {
				if (used) {
					st->causes[used++] = ',';
					st->causes[used] = '\0';
				}
				copy_peer_text(st->causes + used, sizeof st->causes - used, reason);
				used = strlen(st->causes);
			}
		}
	}
	cJSON_Delete(root);
	return 0;
}

/* ---- lists ------------------------------------------------------------------------------ */

/* The items of a list object: an array, or NULL for none ("items": null is what an empty
 * metadata-only list answers). Returns -1 with err when root is no list. */
/* metadata.continue of a list page into cont ("" when absent): printable ASCII that fits,
 * since it goes back into a URL (api-concepts.md "Retrieving large results sets"). */
int k8s_continue_copy(const char *token, const char *what, char *cont, size_t cont_size, char *err,
                      size_t errlen)
{
	size_t n;

	if (cont_size)
		cont[0] = '\0';
	if (!token)
		return 0;
	n = strlen(token);
	if (n >= cont_size) {
		snprintf(err, errlen, "%s list continue token is longer than %zu bytes", what,
		         cont_size ? cont_size - 1 : 0);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (token[i] <= 0x20 || token[i] >= 0x7f) {
			snprintf(err, errlen, "%s list continue token is not printable", what);
			return -1;
		}
	}
	memcpy(cont, token, n + 1);
	return 0;
}

int k8s_list_continue(const cJSON *root, const char *what, char *cont, size_t cont_size, char *err,
                      size_t errlen)
{
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(root, "metadata");

	return k8s_continue_copy(cJSON_IsObject(metadata) ? object_string(metadata, "continue") : NULL, what, cont,
	                         cont_size, err, errlen);
}

/* ---- namespaces ---------------------------------------------------------------------- */

int k8s_namespace_list_add(struct k8s_namespace_list *list, const char *name, int terminating)
{
	struct k8s_namespace *items = grow_room(list->items, &list->cap, list->count, sizeof *items, 16);
	char *copy;

	if (!items)
		return -1;
	list->items = items;
	copy = strdup(name);
	if (!copy)
		return -1;
	list->items[list->count].name = copy;
	list->items[list->count].terminating = terminating;
	list->count++;
	return 0;
}

void k8s_namespace_list_free(struct k8s_namespace_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].name);
	free(list->items);
	memset(list, 0, sizeof *list);
}

/* ---- the Secrets by name ------------------------------------------------------------- */

void k8s_secret_meta_list_free(struct k8s_secret_meta_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].registries);
	free(list->items);
	memset(list, 0, sizeof *list);
}

static int meta_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_secret_meta *)a)->namespace, ((const struct k8s_secret_meta *)b)->namespace);
}

void k8s_secret_meta_list_sort(struct k8s_secret_meta_list *list)
{
	if (list->count > 1)
		qsort(list->items, list->count, sizeof *list->items, meta_cmp);
	list->sorted = 1;
}

const struct k8s_secret_meta *k8s_secret_meta_find(const struct k8s_secret_meta_list *list,
                                                   const char *namespace)
{
	struct k8s_secret_meta key;
	size_t n = strlen(namespace);

	if (list->sorted) {
		if (n >= sizeof key.namespace)
			return NULL;
		memcpy(key.namespace, namespace, n + 1);
		return list->count ? bsearch(&key, list->items, list->count, sizeof *list->items, meta_cmp) : NULL;
	}
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->items[i].namespace, namespace) == 0)
			return &list->items[i];
	return NULL;
}

/* fieldsV1 is a tree of "f:NAME" keys (structured-merge-diff's FieldsV1 format): 1 when
 * path (NULL-terminated) leads to a member of it. */
static int fields_have(const cJSON *fields, const char *const *path)
{
	for (; *path; path++) {
		fields = cJSON_IsObject(fields) ? cJSON_GetObjectItemCaseSensitive(fields, *path) : NULL;
		if (!fields)
			return 0;
	}
	return 1;
}

/*
 * Whether managedFields holds an Apply entry of field_manager owning the payload (*plain),
 * and one owning the recorded expiry too (*with_expiry; what counts when there is an
 * expiry: a Secret of entries that never expire records none). Someone who changes either
 * with another manager takes the field over (server-side-apply.md "Conflicts"), so a Secret
 * edited by hand is not ours any more.
 */
static void owns_payload(const cJSON *metadata, const char *field_manager, int *plain, int *with_expiry)
{
	static const char *const payload[] = { "f:data", "f:.dockerconfigjson", NULL };
	static const char *const expiry[] = { "f:metadata", "f:annotations",
	                                      "f:" SECRET_ANNOTATION_EXPIRES_AT, NULL };
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(metadata, "managedFields"), *entry;

	*plain = *with_expiry = 0;
	if (!cJSON_IsArray(entries))
		return;
	cJSON_ArrayForEach(entry, entries) {
		const char *manager = object_string(entry, "manager");
		const char *operation = object_string(entry, "operation");
		const cJSON *fields = cJSON_GetObjectItemCaseSensitive(entry, "fieldsV1");

		if (manager && operation && strcmp(manager, field_manager) == 0 && strcmp(operation, "Apply") == 0 &&
		    fields_have(fields, payload)) {
			*plain = 1;
			*with_expiry |= fields_have(fields, expiry);
		}
	}
}

static int is_hex_digest(const char *s)
{
	size_t n = 0;

	for (; s && ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')); n++)
		;
	return s && n == 64 && s[n] == '\0';
}

int k8s_secret_meta_set(struct k8s_secret_meta *rec, const struct k8s_meta_fields *f)
{
	memset(rec, 0, sizeof *rec);
	if (!f->namespace || !config_valid_dns_label(f->namespace))
		return -1;
	memcpy(rec->namespace, f->namespace, strlen(f->namespace) + 1);
	if (f->version && strlen(f->version) < sizeof rec->resource_version)
		k8s_copy_printable(rec->resource_version, sizeof rec->resource_version, f->version);
	rec->labelled = f->managed_by && strcmp(f->managed_by, SECRET_MANAGED_BY) == 0;
	rec->owns_payload = f->has_expires ? f->owns_with_expiry : f->owns_plain;
	rec->ours = rec->labelled && rec->owns_payload;
	if (is_hex_digest(f->digest))
		memcpy(rec->digest, f->digest, 65);
	if (f->expires && strlen(f->expires) < sizeof rec->expires_at)
		k8s_copy_printable(rec->expires_at, sizeof rec->expires_at, f->expires);
	if (f->registries && !(rec->registries = strdup(f->registries)))
		return -2;
	return 0;
}

int k8s_secret_meta_read(const cJSON *metadata, const char *field_manager, struct k8s_secret_meta *rec)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(metadata, "labels");
	const cJSON *annotations = cJSON_GetObjectItemCaseSensitive(metadata, "annotations");
	struct k8s_meta_fields f = {
		.namespace = object_string(metadata, "namespace"),
		.version = object_string(metadata, "resourceVersion"),
		.managed_by = cJSON_IsObject(labels) ? object_string(labels, SECRET_LABEL_MANAGED_BY) : NULL,
	};

	owns_payload(metadata, field_manager, &f.owns_plain, &f.owns_with_expiry);
	if (cJSON_IsObject(annotations)) {
		f.registries = object_string(annotations, SECRET_ANNOTATION_REGISTRIES);
		f.digest = object_string(annotations, SECRET_ANNOTATION_CONFIG_DIGEST);
		f.expires = object_string(annotations, SECRET_ANNOTATION_EXPIRES_AT);
		f.has_expires = f.expires != NULL;
	}
	return k8s_secret_meta_set(rec, &f);
}

int k8s_parse_secret_meta(const char *body, size_t len, const char *field_manager,
                          struct k8s_secret_meta *rec)
{
	cJSON *root = k8s_json_parse(body, len);
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	int rc = cJSON_IsObject(metadata) ? k8s_secret_meta_read(metadata, field_manager, rec) : -1;

	if (rc < 0) {
		k8s_secret_meta_clear(rec);
		memset(rec, 0, sizeof *rec);
	}
	cJSON_Delete(root);
	return rc < 0 ? -1 : 0;
}

void k8s_secret_meta_clear(struct k8s_secret_meta *rec)
{
	free(rec->registries);
	rec->registries = NULL;
}


/* ---- ServiceAccount imagePullSecrets --------------------------------------------------- */

int k8s_sa_add_pull_secret(const char *sa_json, size_t len, const char *secret_name,
                           char **put_body, char *err, size_t errlen)
{
	cJSON *root, *metadata, *list, *entries, *entry, *name;
	const char *kind, *version;
	int rc = -1;

	*put_body = NULL;
	root = k8s_json_parse(sa_json, len);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "ServiceAccount is not a JSON object");
		goto out;
	}
	kind = object_string(root, "kind");
	if (kind && strcmp(kind, "ServiceAccount") != 0) {
		snprintf(err, errlen, "expected a ServiceAccount, got another kind");
		goto out;
	}
	metadata = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	version = cJSON_IsObject(metadata) ? object_string(metadata, "resourceVersion") : NULL;
	/* without it the PUT would overwrite a concurrent change instead of failing with 409 */
	if (!version || !*version) {
		snprintf(err, errlen, "ServiceAccount has no metadata.resourceVersion");
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, "imagePullSecrets");
	if (list && !cJSON_IsArray(list) && !cJSON_IsNull(list)) {
		snprintf(err, errlen, "ServiceAccount imagePullSecrets is not a list");
		goto out;
	}
	entries = cJSON_IsArray(list) ? list : NULL;
	cJSON_ArrayForEach(entry, entries) {
		const char *present = cJSON_IsObject(entry) ? object_string(entry, "name") : NULL;

		if (present && strcmp(present, secret_name) == 0) {
			rc = 0;
			goto out;
		}
	}
	if (!cJSON_IsArray(list)) {
		cJSON_DeleteItemFromObjectCaseSensitive(root, "imagePullSecrets");
		list = cJSON_AddArrayToObject(root, "imagePullSecrets");
	}
	entry = cJSON_CreateObject();
	name = entry ? cJSON_AddStringToObject(entry, "name", secret_name) : NULL;
	if (!list || !name || !cJSON_AddItemToArray(list, entry)) {
		cJSON_Delete(entry);
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(metadata, "managedFields");
	*put_body = cJSON_PrintUnformatted(root);
	if (!*put_body) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 1;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- small helpers ------------------------------------------------------------------- */

long k8s_query_encode(const char *s, char *out, size_t out_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		                 (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (n + (unreserved ? 1 : 3) >= out_size)
			return -1;
		if (unreserved) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= out_size)
		return -1;
	out[n] = '\0';
	return (long)n;
}

int k8s_names_need_list(const struct config_list *names)
{
	for (size_t i = 0; names && i < names->count; i++)
		if (config_is_glob(names->items[i]))
			return 1;
	return 0;
}

/* ---- the target set -------------------------------------------------------------------- */

static int excluded(const struct config_list *excludes, const char *name)
{
	for (size_t i = 0; excludes && i < excludes->count; i++) {
		const char *pattern = excludes->items[i];

		if (config_is_glob(pattern) ? config_glob_match(pattern, name) : strcmp(pattern, name) == 0)
			return 1;
	}
	return 0;
}

static int add_candidate(struct k8s_namespace_list *out, const struct config_list *excludes,
                         const char *name, int terminating)
{
	if (excluded(excludes, name))
		return 0;
	return k8s_namespace_list_add(out, name, terminating);
}

/* A plain name needs no listing, but when one was made anyway its phase is known. */
static int listed_terminating(const struct k8s_target_input *in, const char *name)
{
	const struct k8s_namespace_list *lists[2] = { in->all, in->selected };

	for (size_t l = 0; l < 2; l++)
		for (size_t j = 0; lists[l] && j < lists[l]->count; j++)
			if (lists[l]->items[j].terminating && strcmp(lists[l]->items[j].name, name) == 0)
				return 1;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct k8s_namespace *)a)->name, ((const struct k8s_namespace *)b)->name);
}

int k8s_resolve_targets(const struct k8s_target_input *in, struct k8s_namespace_list *out)
{
	const struct k8s_namespace_list *all = in->all, *selected = in->selected;
	size_t names = in->names ? in->names->count : 0, kept = 0;

	for (size_t i = 0; i < names; i++) {
		const char *entry = in->names->items[i];

		if (!config_is_glob(entry)) {
			if (add_candidate(out, in->excludes, entry, listed_terminating(in, entry)) < 0)
				goto fail;
			continue;
		}
		for (size_t j = 0; all && j < all->count; j++)
			if (config_glob_match(entry, all->items[j].name) &&
			    add_candidate(out, in->excludes, all->items[j].name, all->items[j].terminating) < 0)
				goto fail;
	}
	for (size_t j = 0; selected && j < selected->count; j++)
		if (add_candidate(out, in->excludes, selected->items[j].name, selected->items[j].terminating) < 0)
			goto fail;
	if (names == 0 && !in->selector_given && in->own_namespace &&
	    add_candidate(out, in->excludes, in->own_namespace, 0) < 0)
		goto fail;

	if (out->count)
		qsort(out->items, out->count, sizeof *out->items, by_name);
	/* merge duplicates; any listing that saw the namespace terminating wins */
	for (size_t i = 0; i < out->count; i++) {
		if (kept && strcmp(out->items[kept - 1].name, out->items[i].name) == 0) {
			out->items[kept - 1].terminating |= out->items[i].terminating;
			free(out->items[i].name);
			continue;
		}
		out->items[kept++] = out->items[i];
	}
	out->count = kept;
	return 0;
fail:
	k8s_namespace_list_free(out);
	return -1;
}

/* ---- metadata.resourceVersion without a tree ---------------------------------- */

/*
 * k8s_scan_resource_version: metadata.resourceVersion of an answer, read without building a cJSON tree: the tree of a
 * ~800-byte PartialObjectMetadata (managedFields included) was a fifth of a run's
 * instructions, its allocations the mmap/munmap churn, and k8s_json_parse's lock made the
 * workers queue. The scan accepts strict JSON only (RFC 8259) and gives up (-1) on
 * anything cJSON might read differently (\u escapes, an escaped version, deep nesting,
 * non-strict numbers or whitespace), so the answer is always the one string_at gives.
 */
struct scan {
	const char *p, *end;
};

enum { SCAN_MAX_DEPTH = 64 };

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* s->p at '"': the raw contents in *str and *len, *escaped when they hold a simple escape. */
static int scan_string(struct scan *s, const char **str, size_t *len, int *escaped)
{
	const char *p = s->p + 1;

	*escaped = 0;
	for (; p < s->end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"') {
			*str = s->p + 1;
			*len = (size_t)(p - *str);
			s->p = p + 1;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (++p == s->end || *p == '\0' || !strchr("\"\\/bfnrt", *p))
				return -1;
			*escaped = 1;
		}
	}
	return -1;
}

static int scan_digits(struct scan *s)
{
	const char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (scan_digits(s) < 0)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (scan_digits(s) < 0)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (scan_digits(s) < 0)
			return -1;
	}
	return 0;
}

static int scan_word(struct scan *s, const char *word, size_t len)
{
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return -1;
	s->p += len;
	return 0;
}

/*
 * Scans one value at s->p (after white space). When want is set and the value is an object,
 * the first member named want with a plain string value is put in *found and *found_len (left
 * alone otherwise); want_inner names the member to look for one level further down.
 */
static int scan_value(struct scan *s, unsigned depth, const char *want, const char *want_inner,
                      const char **found, size_t *found_len)
{
	const char *str;
	size_t len;
	int escaped, matched = 0;

	if (s->p == s->end || depth > SCAN_MAX_DEPTH)
		return -1;
	switch (*s->p) {
	case '"':
		return scan_string(s, &str, &len, &escaped);
	case 't':
		return scan_word(s, "true", 4);
	case 'f':
		return scan_word(s, "false", 5);
	case 'n':
		return scan_word(s, "null", 4);
	case '[':
		s->p++;
		scan_ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		for (;;) {
			if (scan_value(s, depth + 1, NULL, NULL, NULL, NULL) < 0)
				return -1;
			scan_ws(s);
			if (s->p == s->end)
				return -1;
			if (*s->p++ == ']')
				return 0;
			if (s->p[-1] != ',')
				return -1;
			scan_ws(s);
		}
	case '{':
		s->p++;
		scan_ws(s);
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		for (;;) {
			int hit;

			if (s->p == s->end || *s->p != '"' || scan_string(s, &str, &len, &escaped) < 0)
				return -1;
			/* simple escapes never spell a plain name; cJSON takes the first of twins */
			hit = want && !matched && !escaped && len == strlen(want) && memcmp(str, want, len) == 0;
			scan_ws(s);
			if (s->p == s->end || *s->p++ != ':')
				return -1;
			scan_ws(s);
			if (hit) {
				matched = 1;
				if (want_inner) {
					if (scan_value(s, depth + 1, want_inner, NULL, found, found_len) < 0)
						return -1;
				} else if (s->p < s->end && *s->p == '"') {
					if (scan_string(s, &str, &len, &escaped) < 0 || escaped)
						return -1;
					*found = str;
					*found_len = len;
				} else if (scan_value(s, depth + 1, NULL, NULL, NULL, NULL) < 0) {
					return -1;
				}
			} else if (scan_value(s, depth + 1, NULL, NULL, NULL, NULL) < 0) {
				return -1;
			}
			scan_ws(s);
			if (s->p == s->end)
				return -1;
			if (*s->p++ == '}')
				return 0;
			if (s->p[-1] != ',')
				return -1;
			scan_ws(s);
		}
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

int k8s_scan_resource_version(const char *body, size_t len, char *out, size_t size)
{
	struct scan s = { body, body + len };
	const char *version = NULL;
	size_t version_len = 0;

	if (!body)
		return 0;
	scan_ws(&s);
	/* what follows the root value is ignored, as cJSON_ParseWithLength does */
	if (s.p == s.end || *s.p != '{' ||
	    scan_value(&s, 0, "metadata", "resourceVersion", &version, &version_len) < 0)
		return -1;
	if (!version || version_len >= size)
		return 0;
	memcpy(out, version, version_len);
	out[version_len] = '\0';
	return 1;
}
