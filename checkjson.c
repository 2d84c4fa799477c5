/*
 * checkjson: the readers of `ecr-refresh check`; see checkjson.h.
 *
 * Object shapes: kubernetes/api core/v1/types.go (Secret, ServiceAccount, Pod,
 * ContainerStatus, ContainerStateWaiting). The waiting reasons are the kubelet's
 * (pkg/kubelet/images/types.go: ErrImagePull, ImagePullBackOff).
 */
#include "checkjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base64.h"
#include "civil.h"
#include "grow.h"
#include "k8sjson.h"
#include "secret.h"

#define DOCKERCONFIG_MAX (1024 * 1024)   /* a Secret holds at most 1 MiB */

static const char *string_at(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static const cJSON *object_at(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsObject(item) ? item : NULL;
}

/* 1 when a list of LocalObjectReference ({"name": ...}) names name. */
static int names_listed(const cJSON *list, const char *name)
{
	const cJSON *entry, *array = cJSON_IsArray(list) ? list : NULL;

	cJSON_ArrayForEach(entry, array) {
		const char *n = string_at(entry, "name");
		if (n && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

/* ---- the Secret -------------------------------------------------------------------------- */

/* The keys of {"auths": {...}}: copied, never a value. The decoded bytes and the tree are
 * wiped before they are freed (they hold registry passwords). */
static void read_dockerconfig_keys(const char *b64, struct check_secret *out)
{
	size_t len = strlen(b64), size = len / 4 * 3 + 3, n = 0;
	unsigned char *plain;
	cJSON *doc = NULL;
	const cJSON *auths, *entry;

	if (len == 0 || len > DOCKERCONFIG_MAX * 4 / 3 + 4 || !(plain = malloc(size)))
		return;
	if (base64_decode(b64, len, plain, size, &n) == 0)
		doc = k8s_json_parse((const char *)plain, n);
	auths = object_at(doc, "auths");
	if (auths) {
		out->data_ok = 1;
		cJSON_ArrayForEach(entry, auths) {
			size_t klen = strlen(entry->string);

			if (out->key_count == CHECK_MAX_KEYS || klen > CREDMATCH_MAX_NAME) {
				out->keys_dropped++;
				continue;
			}
			k8s_copy_printable(out->keys[out->key_count++], CREDMATCH_MAX_NAME + 1, entry->string);
		}
	}
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	explicit_bzero(plain, size);
	free(plain);
}

static void read_secret_metadata(const cJSON *metadata, struct check_secret *out)
{
	const cJSON *labels = object_at(metadata, "labels"), *annotations = object_at(metadata, "annotations");
	const char *v;

	if ((v = string_at(labels, SECRET_LABEL_MANAGED_BY)) != NULL)
		k8s_copy_printable(out->manager, sizeof out->manager, v);
	if ((v = string_at(annotations, SECRET_ANNOTATION_REGISTRIES)) != NULL)
		k8s_copy_printable(out->registries, sizeof out->registries, v);
	if ((v = string_at(annotations, SECRET_ANNOTATION_EXPIRES_AT)) != NULL) {
		k8s_copy_printable(out->expires_at, sizeof out->expires_at, v);
		if (strlen(v) >= sizeof out->expires_at || civil_parse_rfc3339(out->expires_at, &out->expires) != 0)
			out->expires = -1;
	}
}

int check_parse_secret(const char *body, size_t len, struct check_secret *out, char *err, size_t errlen)
{
	cJSON *root = k8s_json_parse(body, len);
	const cJSON *data;
	const char *type, *kind, *payload;
	int rc = -1;

	memset(out, 0, sizeof *out);
	out->expires = -1;
	kind = string_at(root, "kind");
	if (!cJSON_IsObject(root) || !kind || strcmp(kind, "Secret") != 0) {
		snprintf(err, errlen, "the answer is not a Secret object");
		goto out;
	}
	type = string_at(root, "type");
	k8s_copy_printable(out->type, sizeof out->type, type ? type : "Opaque");
	read_secret_metadata(object_at(root, "metadata"), out);
	data = object_at(root, "data");
	payload = string_at(data, ".dockerconfigjson");
	if (payload && strcmp(out->type, "kubernetes.io/dockerconfigjson") == 0)
		read_dockerconfig_keys(payload, out);
	rc = 0;
out:
	secret_wipe_tree(root);
	cJSON_Delete(root);
	return rc;
}

/* ---- ServiceAccounts ------------------------------------------------------------------ */

int check_parse_service_account(const char *body, size_t len, const char *secret_name, int *listed,
                                char *err, size_t errlen)
{
	cJSON *root = k8s_json_parse(body, len);
	int rc = -1;

	*listed = 0;
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "the answer is not a ServiceAccount object");
	} else {
		*listed = names_listed(cJSON_GetObjectItemCaseSensitive(root, "imagePullSecrets"), secret_name);
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- pods ------------------------------------------------------------------------------ */

static int pull_failure(const char *reason)
{
	return reason && (strcmp(reason, "ErrImagePull") == 0 || strcmp(reason, "ImagePullBackOff") == 0);
}

/* The image of the spec's container named name (the status may lack it while waiting). */
static const char *spec_image(const cJSON *spec, const char *list, const char *name)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, list)) {
		const char *n = string_at(c, "name");
		if (n && name && strcmp(n, name) == 0)
			return string_at(c, "image");
	}
	return NULL;
}

static int add_failing(struct check_failing_list *list, const struct check_failing *f)
{
	struct check_failing *items;

	if (list->count == CHECK_MAX_FAILING) {
		list->dropped++;
		return 0;
	}
	items = grow_room(list->items, &list->cap, list->count, sizeof *items, 8);
	if (!items)
		return -1;
	list->items = items;
	list->items[list->count++] = *f;
	return 0;
}

static int read_statuses(const cJSON *pod, const char *status_list, const char *spec_list,
                         const char *secret_name, struct check_failing_list *list)
{
	const cJSON *metadata = object_at(pod, "metadata"), *spec = object_at(pod, "spec");
	const cJSON *status = object_at(pod, "status"), *cs;
	const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(status, status_list);
	const char *sa = string_at(spec, "serviceAccountName");

	if (!cJSON_IsArray(statuses))
		return 0;
	cJSON_ArrayForEach(cs, statuses) {
		const cJSON *waiting = object_at(object_at(cs, "state"), "waiting");
		const char *reason = string_at(waiting, "reason"), *name = string_at(cs, "name");
		const char *image = spec_image(spec, spec_list, name);
		struct check_failing f;

		if (!pull_failure(reason))
			continue;
		memset(&f, 0, sizeof f);
		k8s_copy_printable(f.pod, sizeof f.pod, string_at(metadata, "name"));
		k8s_copy_printable(f.container, sizeof f.container, name);
		k8s_copy_printable(f.service_account, sizeof f.service_account, sa && *sa ? sa : "default");
		k8s_copy_printable(f.image, sizeof f.image, image ? image : string_at(cs, "image"));
		k8s_copy_printable(f.reason, sizeof f.reason, reason);
		f.pod_references_secret = names_listed(cJSON_GetObjectItemCaseSensitive(spec, "imagePullSecrets"),
		                                       secret_name);
		if (add_failing(list, &f) < 0)
			return -1;
	}
	return 0;
}

int check_parse_pod_page(const char *body, size_t len, const char *secret_name,
                         struct check_failing_list *list, char *cont, size_t cont_size,
                         char *err, size_t errlen)
{
	cJSON *root = k8s_json_parse(body, len);
	const cJSON *items, *pod;
	int rc = -1;

	if (cont_size)
		cont[0] = '\0';
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (!cJSON_IsObject(root) || (!cJSON_IsArray(items) && !cJSON_IsNull(items))) {
		snprintf(err, errlen, "pod list is not a list object");
		goto out;
	}
	if (!cJSON_IsArray(items))
		items = NULL;
	cJSON_ArrayForEach(pod, items) {
		if (read_statuses(pod, "initContainerStatuses", "initContainers", secret_name, list) < 0 ||
		    read_statuses(pod, "containerStatuses", "containers", secret_name, list) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = k8s_list_continue(root, "pod", cont, cont_size, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

void check_failing_list_free(struct check_failing_list *list)
{
	free(list->items);
	memset(list, 0, sizeof *list);
}
