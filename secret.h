/*
 * secret: the kubernetes.io/dockerconfigjson Secret this tool writes (SPEC.md "Secret
 * payload", "Kubernetes"), as one JSON object used both as the server-side apply body and
 * for --output json|yaml.
 */
#ifndef SECRET_H
#define SECRET_H

#include <cJSON.h>

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
 * allocation failure.
 */
cJSON *secret_manifest(const struct secret_spec *spec);

/* Writes a cJSON object as block YAML (strings double-quoted, JSON escapes) to out; for
 * --output yaml. Returns 0 or -1. */
int secret_write_yaml(const cJSON *doc, char **out);

#endif
