/*
 * k8slist: the pages of the two large lists, read in place with jscan: the metadata-only
 * list of the Secrets of one name (k8s_parse_secret_meta_page) and the namespace list
 * (k8s_parse_namespace_page), both declared in k8sjson.h. A page holds up to 2,000
 * objects: nothing of it is kept but one record per item. The rules of a Secret record
 * are k8s_secret_meta_set's; what is read here is what a cJSON tree would give, with the
 * same answers for duplicate keys (the first one counts) and wrong types (as if absent).
 * tests/fuzz/fuzz_k8s_json.c checks both against a cJSON reading of the same page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "grow.h"
#include "jscan.h"
#include "k8sjson.h"
#include "secret.h"

#define KEY_MAX 80                /* longer keys are none we look for */
#define FIELD_MANAGER_BUF 400     /* a field manager is at most 128 characters (k8s.c) */

/* A string member of which the first occurrence counts, as cJSON_GetObjectItemCaseSensitive
 * finds it: met once the key was seen, whatever its value; value() is NULL unless that was
 * a string that fits. */
struct str {
	char *buf;
	size_t size;
	int met, is_string, fits;
};

static void first_string(struct jscan *s, struct str *f)
{
	long n;

	if (f->met) {
		jscan_skip(s);
		return;
	}
	f->met = 1;
	n = jscan_string(s, f->buf, f->size);
	f->is_string = n >= 0 || n == -3;
	f->fits = n >= 0;
}

static const char *value(const struct str *f)
{
	return f->is_string && f->fits ? f->buf : NULL;
}

/* One item's metadata as it is read; decided at its end (keys come in any order). */
struct item {
	char name_buf[256], namespace_buf[64], version_buf[64], managed_by_buf[32], digest_buf[66],
	     expires_buf[32];
	struct str name, namespace, version, managed_by, digest, expires;
	int met_registries, seen_labels, seen_annotations, seen_managed, seen_metadata;
	char *registries;
	int owns_plain, owns_with_expiry;
};

static void item_init(struct item *it)
{
	memset(it, 0, sizeof *it);
	it->name = (struct str){ it->name_buf, sizeof it->name_buf, 0, 0, 0 };
	it->namespace = (struct str){ it->namespace_buf, sizeof it->namespace_buf, 0, 0, 0 };
	it->version = (struct str){ it->version_buf, sizeof it->version_buf, 0, 0, 0 };
	it->managed_by = (struct str){ it->managed_by_buf, sizeof it->managed_by_buf, 0, 0, 0 };
	it->digest = (struct str){ it->digest_buf, sizeof it->digest_buf, 0, 0, 0 };
	it->expires = (struct str){ it->expires_buf, sizeof it->expires_buf, 0, 0, 0 };
}

/* The members of an object, each member's value read by fn or skipped. */
typedef void (*member_fn)(struct jscan *s, const char *key, void *ctx);

static void walk_object(struct jscan *s, member_fn fn, void *ctx)
{
	char key[KEY_MAX];

	if (!jscan_object(s))
		return;
	while (jscan_member(s, key, sizeof key) == 1)
		fn(s, key, ctx);
}

/* An object of which one string member is wanted (metadata.continue, status.phase). */
struct one_string {
	const char *key;
	struct str *out;
};

static void one_string_member(struct jscan *s, const char *key, void *ctx)
{
	struct one_string *want = ctx;

	if (strcmp(key, want->key) == 0)
		first_string(s, want->out);
	else
		jscan_skip(s);
}

static void read_one_string(struct jscan *s, const char *key, struct str *out)
{
	struct one_string want = { key, out };

	walk_object(s, one_string_member, &want);
}

/* ---- managedFields ------------------------------------------------------------------ */

/* Walks fieldsV1 for one path (fields_have in k8sjson.c): the first member of each name,
 * an object at every step but the last. */
struct path_walk {
	const char *const *path;
	int found;
	int seen;               /* the first member of path[0] was met */
};

static void path_member(struct jscan *s, const char *key, void *ctx);

static void walk_path(struct jscan *s, const char *const *path, int *found)
{
	struct path_walk w = { path, 0, 0 };

	walk_object(s, path_member, &w);
	*found = w.found;
}

static void path_member(struct jscan *s, const char *key, void *ctx)
{
	struct path_walk *w = ctx;

	if (w->seen || strcmp(key, w->path[0]) != 0) {
		jscan_skip(s);
		return;
	}
	w->seen = 1;
	if (!w->path[1]) {
		w->found = 1;
		jscan_skip(s);
	} else {
		walk_path(s, w->path + 1, &w->found);
	}
}

/* fieldsV1 holds the payload, and the expiry annotation: two paths in one tree. The tree is
 * small (a Secret's fields), so it is walked once per path on a copy of the scanner. */
static void read_fields(struct jscan *s, int *payload, int *expiry)
{
	static const char *const payload_path[] = { "f:data", "f:.dockerconfigjson", NULL };
	static const char *const expiry_path[] = { "f:metadata", "f:annotations",
	                                           "f:" SECRET_ANNOTATION_EXPIRES_AT, NULL };
	struct jscan again = *s;

	walk_path(&again, payload_path, payload);
	walk_path(s, expiry_path, expiry);
}

struct entry {
	char manager_buf[FIELD_MANAGER_BUF], operation_buf[16];
	struct str manager, operation;
	int seen_fields, payload, expiry;
};

static void entry_member(struct jscan *s, const char *key, void *ctx)
{
	struct entry *e = ctx;

	if (strcmp(key, "manager") == 0) {
		first_string(s, &e->manager);
	} else if (strcmp(key, "operation") == 0) {
		first_string(s, &e->operation);
	} else if (strcmp(key, "fieldsV1") == 0 && !e->seen_fields) {
		e->seen_fields = 1;
		read_fields(s, &e->payload, &e->expiry);
	} else {
		jscan_skip(s);
	}
}

/* Each entry of managedFields; an Apply entry of field_manager that owns the payload. */
static void read_managed(struct jscan *s, const char *field_manager, struct item *it)
{
	if (!jscan_array(s))
		return;
	while (jscan_element(s) == 1) {
		struct entry e = { .payload = 0 };
		const char *manager, *operation;

		e.manager = (struct str){ e.manager_buf, sizeof e.manager_buf, 0, 0, 0 };
		e.operation = (struct str){ e.operation_buf, sizeof e.operation_buf, 0, 0, 0 };
		if (jscan_peek(s) != JSCAN_OBJECT) {
			jscan_skip(s);
			continue;
		}
		walk_object(s, entry_member, &e);
		/* a manager name too long for the buffer is not ours: ours fits */
		manager = value(&e.manager);
		operation = value(&e.operation);
		if (manager && operation && strcmp(manager, field_manager) == 0 && strcmp(operation, "Apply") == 0 &&
		    e.payload) {
			it->owns_plain = 1;
			it->owns_with_expiry |= e.expiry;
		}
	}
}

/* ---- labels, annotations, metadata ---------------------------------------------------- */

static void label_member(struct jscan *s, const char *key, void *ctx)
{
	struct item *it = ctx;

	if (strcmp(key, SECRET_LABEL_MANAGED_BY) == 0)
		first_string(s, &it->managed_by);
	else
		jscan_skip(s);
}

/* The registries annotation, of any length: a heap copy. */
static void read_registries(struct jscan *s, struct item *it)
{
	size_t bound;

	if (it->met_registries) {
		jscan_skip(s);
		return;
	}
	it->met_registries = 1;
	bound = jscan_string_bound(s);
	if (bound == 0 || !(it->registries = malloc(bound))) {
		jscan_skip(s);          /* out of memory shows as a missing annotation: rewritten */
		return;
	}
	if (jscan_string(s, it->registries, bound) < 0) {
		free(it->registries);
		it->registries = NULL;
	}
}

static void annotation_member(struct jscan *s, const char *key, void *ctx)
{
	struct item *it = ctx;

	if (strcmp(key, SECRET_ANNOTATION_REGISTRIES) == 0)
		read_registries(s, it);
	else if (strcmp(key, SECRET_ANNOTATION_CONFIG_DIGEST) == 0)
		first_string(s, &it->digest);
	else if (strcmp(key, SECRET_ANNOTATION_EXPIRES_AT) == 0)
		first_string(s, &it->expires);
	else
		jscan_skip(s);
}

struct meta_ctx {
	struct item *it;
	const char *field_manager;
};

static void metadata_member(struct jscan *s, const char *key, void *ctx)
{
	struct meta_ctx *m = ctx;
	struct item *it = m->it;

	if (strcmp(key, "name") == 0) {
		first_string(s, &it->name);
	} else if (strcmp(key, "namespace") == 0) {
		first_string(s, &it->namespace);
	} else if (strcmp(key, "resourceVersion") == 0) {
		first_string(s, &it->version);
	} else if (strcmp(key, "labels") == 0 && !it->seen_labels) {
		it->seen_labels = 1;
		walk_object(s, label_member, it);
	} else if (strcmp(key, "annotations") == 0 && !it->seen_annotations) {
		it->seen_annotations = 1;
		walk_object(s, annotation_member, it);
	} else if (strcmp(key, "managedFields") == 0 && !it->seen_managed) {
		it->seen_managed = 1;
		read_managed(s, m->field_manager, it);
	} else {
		jscan_skip(s);
	}
}

static void item_member(struct jscan *s, const char *key, void *ctx)
{
	struct meta_ctx *m = ctx;

	if (strcmp(key, "metadata") != 0 || m->it->seen_metadata) {
		jscan_skip(s);
		return;
	}
	m->it->seen_metadata = 1;
	if (jscan_peek(s) == JSCAN_OBJECT)
		walk_object(s, metadata_member, m);
	else
		jscan_skip(s);
}

/* ---- a list page ---------------------------------------------------------------------- */

struct page {
	const char *what;               /* "secret", "namespace": the list, in errors */
	const char *bad_item;           /* what failed = -1 means, in errors */
	void (*item)(struct jscan *s, struct page *pg);
	const char *secret_name, *field_manager;
	struct k8s_secret_meta_list *secrets;
	struct k8s_namespace_list *namespaces;
	char cont_buf[K8S_MAX_CONTINUE + 2];
	struct str cont;
	int seen_items, items_ok, seen_metadata;
	int failed;                     /* -1 an invalid item, -2 out of memory */
};

static void read_items(struct jscan *s, struct page *pg)
{
	pg->seen_items = 1;
	if (jscan_peek(s) == JSCAN_LITERAL && s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
		pg->items_ok = 1;       /* an empty metadata-only list (v1.20.2 answers so) */
		jscan_skip(s);
		return;
	}
	if (!jscan_array(s))
		return;
	pg->items_ok = 1;
	while (jscan_element(s) == 1)
		pg->item(s, pg);
}


static void page_member(struct jscan *s, const char *key, void *ctx)
{
	struct page *pg = ctx;

	if (strcmp(key, "items") == 0 && !pg->seen_items) {
		read_items(s, pg);
	} else if (strcmp(key, "metadata") == 0 && !pg->seen_metadata) {
		pg->seen_metadata = 1;
		read_one_string(s, "continue", &pg->cont);
	} else {
		jscan_skip(s);
	}
}

/* Why a page is refused, into err; 0 when it is not. */
static int page_error(const struct jscan *s, const struct page *pg, int object, int end, char *err, size_t errlen)
{
	if (!object)
		snprintf(err, errlen, "%s list is not a JSON object", pg->what);
	else if (s->failed || !end)
		snprintf(err, errlen, "%s list is not valid JSON", pg->what);
	else if (pg->failed == -2)
		snprintf(err, errlen, "out of memory");
	else if (pg->failed == -1)
		snprintf(err, errlen, "%s list has %s", pg->what, pg->bad_item);
	else if (!pg->items_ok)
		snprintf(err, errlen, "%s list has no items array", pg->what);
	else
		return 0;
	return -1;
}

/* Walks one page: its items through pg->item, then the continue token. 0, or -1 with err. */
static int read_page(struct page *pg, const char *body, size_t len, char *cont, size_t cont_size, char *err,
                     size_t errlen)
{
	struct jscan s;
	int object;

	if (cont_size)
		cont[0] = '\0';
	pg->cont = (struct str){ pg->cont_buf, sizeof pg->cont_buf, 0, 0, 0 };
	jscan_init(&s, body, len);
	object = jscan_peek(&s) == JSCAN_OBJECT;
	if (object)
		walk_object(&s, page_member, pg);
	if (page_error(&s, pg, object, jscan_end(&s), err, errlen) < 0)
		return -1;
	if (pg->cont.is_string && !pg->cont.fits) {
		snprintf(err, errlen, "%s list continue token is longer than %zu bytes", pg->what,
		         cont_size ? cont_size - 1 : 0);
		return -1;
	}
	return k8s_continue_copy(value(&pg->cont), pg->what, cont, cont_size, err, errlen);
}

/* ---- the Secrets ----------------------------------------------------------------------- */

static void add_secret(struct page *pg, struct item *it)
{
	struct k8s_secret_meta_list *list = pg->secrets;
	const char *name = value(&it->name);
	struct k8s_meta_fields f = {
		.namespace = value(&it->namespace),
		.version = value(&it->version),
		.managed_by = value(&it->managed_by),
		.registries = it->registries,
		.digest = value(&it->digest),
		.expires = value(&it->expires),
		.has_expires = it->expires.is_string,
		.owns_plain = it->owns_plain,
		.owns_with_expiry = it->owns_with_expiry,
	};
	struct k8s_secret_meta *items;
	int rc;

	if (pg->failed || !name || strcmp(name, pg->secret_name) != 0)
		return;
	if (!(items = grow_room(list->items, &list->cap, list->count, sizeof *items, 64))) {
		pg->failed = -2;
		return;
	}
	list->items = items;
	rc = k8s_secret_meta_set(&list->items[list->count], &f);
	if (rc < 0) {
		free(list->items[list->count].registries);
		pg->failed = rc;
		return;
	}
	list->sorted = 0;
	list->count++;
}

static void read_secret(struct jscan *s, struct page *pg)
{
	struct item it;
	struct meta_ctx m = { &it, pg->field_manager };

	item_init(&it);
	if (jscan_peek(s) == JSCAN_OBJECT)
		walk_object(s, item_member, &m);
	else
		jscan_skip(s);
	if (!s->failed)
		add_secret(pg, &it);
	free(it.registries);
}

int k8s_parse_secret_meta_page(const char *body, size_t len, const char *secret_name,
                               const char *field_manager, struct k8s_secret_meta_list *list,
                               char *cont, size_t cont_size, char *err, size_t errlen)
{
	struct page pg = { .what = "secret", .bad_item = "an item without a valid namespace", .item = read_secret,
	                   .secret_name = secret_name, .field_manager = field_manager, .secrets = list };

	return read_page(&pg, body, len, cont, cont_size, err, errlen);
}

/* ---- the namespaces ------------------------------------------------------------------- */

struct ns_item {
	char name_buf[64], phase_buf[16];
	struct str name, phase;
	int seen_metadata, seen_status, deleting;
};


static void ns_metadata_member(struct jscan *s, const char *key, void *ctx)
{
	struct ns_item *it = ctx;

	if (strcmp(key, "name") == 0) {
		first_string(s, &it->name);
		return;
	}
	if (strcmp(key, "deletionTimestamp") == 0)
		it->deleting = 1;       /* present, whatever its value, as cJSON finds it */
	jscan_skip(s);
}

static void ns_item_member(struct jscan *s, const char *key, void *ctx)
{
	struct ns_item *it = ctx;

	if (strcmp(key, "metadata") == 0 && !it->seen_metadata) {
		it->seen_metadata = 1;
		walk_object(s, ns_metadata_member, it);
	} else if (strcmp(key, "status") == 0 && !it->seen_status) {
		it->seen_status = 1;
		read_one_string(s, "phase", &it->phase);
	} else {
		jscan_skip(s);
	}
}

/* One namespace: a valid name (it goes into URL paths), and whether it is terminating:
 * core/v1 NamespacePhase, or deletionTimestamp, which is set first. */
static void read_namespace(struct jscan *s, struct page *pg)
{
	struct ns_item it = { .seen_metadata = 0 };
	const char *name, *phase;

	it.name = (struct str){ it.name_buf, sizeof it.name_buf, 0, 0, 0 };
	it.phase = (struct str){ it.phase_buf, sizeof it.phase_buf, 0, 0, 0 };
	walk_object(s, ns_item_member, &it);
	if (s->failed || pg->failed)
		return;
	name = value(&it.name);
	phase = value(&it.phase);
	if (!name || !config_valid_dns_label(name))
		pg->failed = -1;
	else if (k8s_namespace_list_add(pg->namespaces, name, (phase && strcmp(phase, "Terminating") == 0) ||
	                                                      it.deleting) < 0)
		pg->failed = -2;
}

int k8s_parse_namespace_page(const char *body, size_t len, struct k8s_namespace_list *list,
                             char *cont, size_t cont_size, char *err, size_t errlen)
{
	struct page pg = { .what = "namespace", .bad_item = "an item without a valid name", .item = read_namespace,
	                   .namespaces = list };

	return read_page(&pg, body, len, cont, cont_size, err, errlen);
}
