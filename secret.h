/*
 * secret: the kubernetes.io/dockerconfigjson Secret this tool writes (SPEC.md "Secret
 * payload", "Kubernetes"), as one JSON object used both as the server-side apply body and
 * for --output json|yaml.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include <cJSON.h>

#define SECRET_LABEL_MANAGED_BY      "app.kubernetes.io/managed-by"
#define SECRET_ANNOTATION_REGISTRIES "ecr-refresh.io/registries"
#define SECRET_ANNOTATION_EXPIRES_AT "ecr-refresh.io/expires-at"

struct secret_spec {
	const char *name;               /* Secret name */
	const char *namespace;
	const char *dockerconfigjson;   /* the .dockerconfigjson document (not base64) */
	const char *registries;         /* comma-separated registry hosts, for the annotation */
	const char *expires_at;         /* earliest token expiry, RFC 3339 UTC */
};

/*
 * Builds {"apiVersion":"v1","kind":"Secret","metadata":{"name","namespace","labels":
 * {"app.kubernetes.io/managed-by":"ecr-refresh"},"annotations":{"ecr-refresh.io/registries",
 * "ecr-refresh.io/expires-at"}},"type":"kubernetes.io/dockerconfigjson","data":
 * {".dockerconfigjson":base64}}. Returns a cJSON tree the caller deletes, or NULL on
 * allocation failure. The tree holds the registry passwords (base64): callers wipe what
 * they print from it (secret_wipe_tree before cJSON_Delete).
 */
cJSON *secret_manifest(const struct secret_spec *spec);

/* Writes a cJSON object as block YAML (strings double-quoted, JSON escapes) to out; for
 * --output yaml. Returns 0 or -1. *out is heap memory the caller frees. */
int secret_write_yaml(const cJSON *doc, char **out);

/* Standard base64 with padding (RFC 4648 section 4) of data[0..len), NUL-terminated, heap
 * memory the caller frees (and wipes when data was secret). NULL on allocation failure.
 * Shared with ecr for the dockerconfig "auth" field. */
char *secret_base64(const void *data, size_t len);

/* Prints doc as JSON (pretty: two-space indentation as kubectl shows it; else one line)
 * into heap memory the caller frees, through one preallocated buffer so no partial copy of
 * a password is left behind in freed memory by reallocation. NULL on allocation failure. */
char *secret_print_json(const cJSON *doc, int pretty);

/* Zeroes every string value in a cJSON tree (before cJSON_Delete), so passwords and their
 * base64 forms do not linger in freed heap. */
void secret_wipe_tree(cJSON *doc);

#endif
