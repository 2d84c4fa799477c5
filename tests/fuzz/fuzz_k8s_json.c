/*
 * fuzz_k8s_json: API server answers into every reader of k8sjson.h.
 *
 * The whole input goes, as it is, to k8s_parse_status, k8s_parse_namespace_page (jscan;
 * checked against a cJSON reading),
 * k8s_sa_add_pull_secret and retry_after_seconds (retry.h), and as a C string to
 * k8s_query_encode, and to k8s_scan_resource_version (checked against cJSON), to
 * k8s_parse_secret_meta_page (jscan; checked against a cJSON reading of the same page) and
 * the freshness decision over what it read, and as the
 * message of an Event body. Beyond the sanitizers it checks what callers rely on: fixed fields are
 * terminated and free of control characters; listed names are valid namespace names and
 * continue tokens printable; the merge keeps every entry it read, in order, and adds ours
 * exactly once; encoding round-trips; the target set built from a parsed page is sorted,
 * unique and honours the exclusions.
 */
#include "events.h"
#include "fresh.h"
#include "k8sjson.h"
#include "log.h"
#include "retry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "printable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_status(const char *text, size_t size)
{
	struct k8s_status st;

	k8s_parse_status(text, size, &st);
	check_printable(st.reason, sizeof st.reason);
	check_printable(st.message, sizeof st.message);
	if (strlen(st.message) > LOG_PEER_TEXT_MAX)   /* peer text is capped (log_peer_text) */
		__builtin_trap();
	check_printable(st.causes, sizeof st.causes);
	check_printable(st.kind, sizeof st.kind);
	if (st.code < 0 || st.code > 999 || st.retry_after_s < -1 || st.retry_after_s > 86400)
		abort();
}

/* A list page as a cJSON tree, when it is one (an object whose items are an array or
 * null): the root, *items the array or NULL. NULL when the page is refused. */
static cJSON *reference_list(const char *text, size_t size, const cJSON **items)
{
	cJSON *root = cJSON_ParseWithLength(text, size);

	*items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (!cJSON_IsObject(root) || (!cJSON_IsArray(*items) && !cJSON_IsNull(*items))) {
		cJSON_Delete(root);
		return NULL;
	}
	if (cJSON_IsNull(*items))
		*items = NULL;
	return root;
}

/* The reference reading of a namespace page, through a cJSON tree as it was read before
 * jscan (k8slist.c): 0 with the names, -1 when it refuses the page. */
static int reference_namespaces(const char *text, size_t size, struct k8s_namespace_list *out, char *cont)
{
	const cJSON *items, *item;
	cJSON *root = reference_list(text, size, &items);
	char err[200];
	int rc = -1;

	if (!root)
		return -1;
	cJSON_ArrayForEach(item, items) {
		const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(metadata, "name");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(item, "status");
		const cJSON *phase = cJSON_GetObjectItemCaseSensitive(status, "phase");

		if (!cJSON_IsObject(metadata) || !cJSON_IsString(name) || !config_valid_dns_label(name->valuestring))
			goto out;
		k8s_namespace_list_add(out, name->valuestring,
		                       (cJSON_IsObject(status) && cJSON_IsString(phase) &&
		                        strcmp(phase->valuestring, "Terminating") == 0) ||
		                       cJSON_GetObjectItemCaseSensitive(metadata, "deletionTimestamp") != NULL);
	}
	rc = k8s_list_continue(root, "namespace", cont, K8S_MAX_CONTINUE + 1, err, sizeof err);
out:
	cJSON_Delete(root);
	return rc;
}

/* What jscan accepts cJSON accepts, and both read the same namespaces and token. */
static void check_namespaces_against_reference(const char *text, size_t size, int rc,
                                               const struct k8s_namespace_list *list, const char *cont)
{
	struct k8s_namespace_list ref = { 0 };
	char ref_cont[K8S_MAX_CONTINUE + 1] = "";
	int ref_rc = reference_namespaces(text, size, &ref, ref_cont);

	if (rc == 0) {
		if (ref_rc != 0 || ref.count != list->count || strcmp(cont, ref_cont) != 0)
			abort();
		for (size_t i = 0; i < ref.count; i++)
			if (strcmp(ref.items[i].name, list->items[i].name) != 0 ||
			    ref.items[i].terminating != list->items[i].terminating)
				abort();
	}
	k8s_namespace_list_free(&ref);
}

static void check_page(const char *text, size_t size)
{
	static char *globs[] = { "a*", "kube-?", "[b-d]*x", "default" };
	static char *excludes[] = { "*z*", "default" };
	struct config_list names = { globs, 4 }, excl = { excludes, 2 };
	struct k8s_namespace_list list = { 0 }, out = { 0 };
	char cont[K8S_MAX_CONTINUE + 1], err[200];
	struct k8s_target_input in = { &names, &excl, NULL, 1, &list, &list };

	int rc = k8s_parse_namespace_page(text, size, &list, cont, sizeof cont, err, sizeof err);

	check_namespaces_against_reference(text, size, rc, &list, cont);
	if (rc == 0) {
		if (strnlen(cont, sizeof cont) == sizeof cont)
			abort();
		for (size_t i = 0; cont[i]; i++)
			if (cont[i] <= 0x20 || cont[i] >= 0x7f)
				abort();
	}
	for (size_t i = 0; i < list.count; i++)
		if (!config_valid_dns_label(list.items[i].name))
			abort();
	if (k8s_resolve_targets(&in, &out) == 0) {
		for (size_t i = 0; i < out.count; i++) {
			if (i && strcmp(out.items[i - 1].name, out.items[i].name) >= 0)
				abort();
			if (strchr(out.items[i].name, 'z') || strcmp(out.items[i].name, "default") == 0)
				abort();
			/* every target came from the listing (the selector passed all of it) */
			{
				size_t j = 0;

				while (j < list.count && strcmp(list.items[j].name, out.items[i].name) != 0)
					j++;
				if (j == list.count)
					abort();
			}
		}
		k8s_namespace_list_free(&out);
	}
	k8s_namespace_list_free(&list);
}

static void check_merge(const char *text, size_t size)
{
	static const char name[] = "ecr-creds";
	char *out = NULL, err[200];
	int rc = k8s_sa_add_pull_secret(text, size, name, &out, err, sizeof err);
	cJSON *before, *after, *old_list, *new_list, *last;
	int n_before;

	if (rc != 1) {
		if (out)
			abort();
		return;
	}
	before = cJSON_ParseWithLength(text, size);
	after = cJSON_Parse(out);
	if (!before || !after)
		abort();
	old_list = cJSON_GetObjectItemCaseSensitive(before, "imagePullSecrets");
	new_list = cJSON_GetObjectItemCaseSensitive(after, "imagePullSecrets");
	n_before = cJSON_IsArray(old_list) ? cJSON_GetArraySize(old_list) : 0;
	if (!cJSON_IsArray(new_list) || cJSON_GetArraySize(new_list) != n_before + 1)
		abort();
	for (int i = 0; i < n_before; i++)
		if (!cJSON_Compare(cJSON_GetArrayItem(old_list, i), cJSON_GetArrayItem(new_list, i), 1))
			abort();
	last = cJSON_GetArrayItem(new_list, n_before);
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(last, "name")) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(last, "name")->valuestring, name) != 0)
		abort();
	/* the resourceVersion read is the one written back */
	if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(before, "metadata"),
	                                                    "resourceVersion"),
	                   cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(after, "metadata"),
	                                                    "resourceVersion"), 1))
		abort();
	cJSON_Delete(before);
	cJSON_Delete(after);
	free(out);
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_encode(const char *text, size_t size)
{
	size_t len = strnlen(text, size), room = 3 * len + 1, j = 0;
	char *in = malloc(len + 1), *out = malloc(room), *back = malloc(len + 1);
	long n;

	memcpy(in, text, len);
	in[len] = '\0';
	n = k8s_query_encode(in, out, room);
	if (n < 0 || (size_t)n != strlen(out))
		abort();
	for (long i = 0; i < n; j++) {
		if (out[i] == '%') {
			if (i + 2 >= n || hex_value(out[i + 1]) < 0 || hex_value(out[i + 2]) < 0)
				abort();
			back[j] = (char)(hex_value(out[i + 1]) * 16 + hex_value(out[i + 2]));
			i += 3;
		} else {
			back[j] = out[i++];
		}
	}
	if (j != len || memcmp(back, in, len) != 0)
		abort();
	/* one byte short of the room needed must fail, never overflow */
	if (n > 0 && k8s_query_encode(in, out, (size_t)n) != -1)
		abort();
	free(in);
	free(out);
	free(back);
}

/* The tree-less resourceVersion scan must agree with cJSON wherever it answers. */
static void check_resource_version(const char *text, size_t size)
{
	char scanned[16];
	int found = k8s_scan_resource_version(text, size, scanned, sizeof scanned);
	cJSON *root;
	const cJSON *meta, *version;

	if (found < 0)
		return;
	root = k8s_json_parse(text, size);
	meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	version = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion") : NULL;
	if (found == 1) {
		if (!cJSON_IsString(version) || strcmp(version->valuestring, scanned) != 0)
			abort();
	} else if (cJSON_IsString(version) && strlen(version->valuestring) < sizeof scanned) {
		abort();
	}
	cJSON_Delete(root);
}

/* The reference reading of a Secret page: a cJSON tree and k8s_secret_meta_read, as the
 * list was read before jscan (k8slist.c). 0 with the records, -1 when it refuses the page. */
static int reference_page(const char *text, size_t size, struct k8s_secret_meta_list *out, char *cont)
{
	const cJSON *items, *item;
	cJSON *root = reference_list(text, size, &items);
	char err[200];
	int rc = -1;

	if (!root)
		return -1;
	cJSON_ArrayForEach(item, items) {
		const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(metadata, "name");

		if (!cJSON_IsObject(metadata) || !cJSON_IsString(name) || strcmp(name->valuestring, "ecr-creds") != 0)
			continue;
		out->items = realloc(out->items, (out->count + 1) * sizeof *out->items);
		if (k8s_secret_meta_read(metadata, "ecr-refresh", &out->items[out->count]) < 0) {
			free(out->items[out->count].registries);
			goto out;
		}
		out->count++;
	}
	rc = k8s_list_continue(root, "secret", cont, K8S_MAX_CONTINUE + 1, err, sizeof err);
out:
	cJSON_Delete(root);
	return rc;
}

static int same_record(const struct k8s_secret_meta *a, const struct k8s_secret_meta *b)
{
	return strcmp(a->namespace, b->namespace) == 0 && strcmp(a->resource_version, b->resource_version) == 0 &&
	       a->labelled == b->labelled && a->owns_payload == b->owns_payload && a->ours == b->ours &&
	       strcmp(a->digest, b->digest) == 0 && strcmp(a->expires_at, b->expires_at) == 0 &&
	       (a->registries ? b->registries && strcmp(a->registries, b->registries) == 0 : !b->registries);
}

/* What jscan accepts cJSON accepts too, and then both read the same records and the same
 * continue token (jscan is stricter about numbers and nesting: the other way is not
 * required). */
static void check_against_reference(const char *text, size_t size, int rc, const struct k8s_secret_meta_list *list,
                                    const char *cont)
{
	struct k8s_secret_meta_list ref = { 0 };
	char ref_cont[K8S_MAX_CONTINUE + 1] = "";
	int ref_rc = reference_page(text, size, &ref, ref_cont);

	if (rc == 0) {
		if (ref_rc != 0 || ref.count != list->count || strcmp(cont, ref_cont) != 0)
			abort();
		for (size_t i = 0; i < ref.count; i++)
			if (!same_record(&list->items[i], &ref.items[i]))
				abort();
	}
	k8s_secret_meta_list_free(&ref);
}

/* Secret records: valid namespaces, printable fields, a digest of 64 hex digits or none,
 * ours only when labelled and owning; the decision never calls a record fresh that is not
 * ours or carries another digest, nor, when nothing expires, one that records an expiry. */
static void check_secret_page(const char *text, size_t size)
{
	static const char *const hosts[] = { "1.dkr.ecr.eu-west-1.amazonaws.com" };
	static const char digest[] = "c6d48afb50b341e003dd5a0cbc9b38c4e336d9e04c48b126d027509cc64561e1";
	struct k8s_secret_meta_list list = { 0 };
	struct fresh_want want = { hosts, 1, digest, 1796212800LL, 21600, 0 };
	struct fresh_want never = { hosts, 1, digest, 1796212800LL, 21600, 1 };
	char cont[K8S_MAX_CONTINUE + 1], err[200], why[FRESH_WHY_SIZE];

	int rc = k8s_parse_secret_meta_page(text, size, "ecr-creds", "ecr-refresh", &list, cont, sizeof cont, err,
	                                    sizeof err);

	check_against_reference(text, size, rc, &list, cont);
	for (size_t i = 0; i < list.count; i++) {
		const struct k8s_secret_meta *m = &list.items[i];

		if (!config_valid_dns_label(m->namespace) || m->ours != (m->labelled && m->owns_payload))
			abort();
		check_printable(m->resource_version, sizeof m->resource_version);
		check_printable(m->expires_at, sizeof m->expires_at);
		if (m->digest[0] && strspn(m->digest, "0123456789abcdef") != 64)
			abort();
		if (fresh_decide(m, &want, why) == 1 && (!m->ours || strcmp(m->digest, digest) != 0))
			abort();
		/* when nothing expires, fresh only without a recorded expiry */
		if (fresh_decide(m, &never, why) == 1 && (!m->ours || strcmp(m->digest, digest) != 0 || m->expires_at[0]))
			abort();
		if (k8s_secret_meta_find(&list, m->namespace) == NULL)
			abort();
	}
	k8s_secret_meta_list_free(&list);
}

/* A peer's text as an Event's message: valid JSON whose note stays within the limit. */
static void check_event(const char *text, size_t size)
{
	char *message = malloc(size + 1), *body;
	struct event_spec spec = { "ns", "Secret", "ecr-creds", "ecr-creds", EVENT_CONFLICT, "Apply", message,
	                           "ecr-refresh", 1796212800LL, 1 };
	cJSON *doc;
	const cJSON *note;

	memcpy(message, text, size);
	message[size] = '\0';
	body = events_body(&spec);
	doc = body ? cJSON_Parse(body) : NULL;
	note = cJSON_GetObjectItemCaseSensitive(doc, "note");
	if (!cJSON_IsString(note) || strlen(note->valuestring) > EVENT_NOTE_MAX)
		abort();
	cJSON_Delete(doc);
	free(body);
	free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	long seconds;

	if (size > 1 << 20)
		return 0;
	check_status(text, size);
	check_page(text, size);
	check_merge(text, size);
	seconds = retry_after_seconds(text, size);
	if (seconds < -1 || seconds > 86400)
		abort();
	check_encode(text, size);
	check_resource_version(text, size);
	check_secret_page(text, size);
	check_event(text, size);
	return 0;
}
