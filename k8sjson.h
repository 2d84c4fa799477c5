/*
 * k8sjson: the pure parts of the Kubernetes phase, kept apart from k8s.c so they can be
 * unit tested and fuzzed without a cluster: reading Status objects, Retry-After and
 * NamespaceList pages, merging a Secret into a ServiceAccount's imagePullSecrets, encoding
 * query values, and computing the target namespace set.
 *
 * No I/O. Every input is treated as hostile (it comes from the API server); sizes are
 * bounded and strings copied into fixed fields are truncated, with control characters
 * replaced, so they are safe to log.
 */
#ifndef K8SJSON_H
#define K8SJSON_H

#include <stddef.h>

#include "config.h"

#define K8S_MAX_CONTINUE 1024   /* longest metadata.continue token accepted */

#include <cJSON.h>

/* cJSON_ParseWithLength under a process-wide lock: cJSON writes a global error position on
 * every parse (cJSON.c global_error), a data race between the Kubernetes workers otherwise.
 * Every parse this module and k8s.c make goes through here. */
cJSON *k8s_json_parse(const char *text, size_t len);

/*
 * metadata.resourceVersion of an API answer, by a strict JSON scan that builds no tree (the
 * apply path reads one per request). Returns 1 with it in out, 0 when the answer has none
 * as a plain string or it does not fit in size, and -1 when the scan is unsure (not strict
 * JSON, escapes, nesting deeper than 64): the caller then asks cJSON. Where it returns 0 or
 * 1, cJSON gives the same answer (fuzz_k8s_json checks that).
 */
int k8s_scan_resource_version(const char *body, size_t len, char *out, size_t size);

/* Copies a server string into a fixed field for logs: truncated, control characters and
 * DEL replaced by '?' so a hostile message cannot forge log lines. */
void k8s_copy_printable(char *dst, size_t size, const char *src);

/* k8s_list_continue's checks and copy for a token already found (NULL: absent). */
int k8s_continue_copy(const char *token, const char *what, char *cont, size_t cont_size, char *err,
                      size_t errlen);

/* Copies a list's metadata.continue into cont ("" when absent: the last page). Returns 0,
 * or -1 with err (naming the list as `what`) when it is longer than cont_size - 1 or not
 * printable ASCII. */
int k8s_list_continue(const cJSON *list, const char *what, char *cont, size_t cont_size, char *err,
                      size_t errlen);

/* ---- Status (kubernetes/apimachinery pkg/apis/meta/v1/types.go, "Status") ------------- */

struct k8s_status {
	int code;                  /* "code", 0 when absent */
	char reason[64];           /* "reason", e.g. "Conflict"; "" when absent */
	char message[320];         /* "message", truncated */
	char causes[160];          /* details.causes[].reason joined with ",", truncated */
	char kind[64];             /* details.kind, e.g. "namespaces" for a missing namespace */
	int namespace_terminating; /* a cause says NamespaceTerminating */
	long retry_after_s;        /* details.retryAfterSeconds, -1 when absent */
};

/* Reads a Status object from body[0..len). Returns 0 when body is a JSON object (fields
 * absent stay empty), -1 when it is not JSON; st is filled with defaults either way. */
int k8s_parse_status(const char *body, size_t len, struct k8s_status *st);

/* ---- namespaces ---------------------------------------------------------------------- */

struct k8s_namespace {
	char *name;
	int terminating;           /* status.phase Terminating or metadata.deletionTimestamp set */
};

struct k8s_namespace_list {
	struct k8s_namespace *items;
	size_t count, cap;
};

/* Appends a copy of name. Returns 0, or -1 when out of memory. */
int k8s_namespace_list_add(struct k8s_namespace_list *list, const char *name, int terminating);

/* Frees the items and zeroes the list. */
void k8s_namespace_list_free(struct k8s_namespace_list *list);

/*
 * Reads one page of GET /api/v1/namespaces (a NamespaceList), appending every item to list
 * and copying metadata.continue into cont ("" on the last page). Returns 0, or -1 with err
 * filled when the page is not a list, an item has no valid name (RFC 1123 label), or the
 * continue token is longer than cont_size - 1 or not printable ASCII. On -1 the items of
 * this page already appended stay in list.
 */
int k8s_parse_namespace_page(const char *body, size_t len, struct k8s_namespace_list *list,
                             char *cont, size_t cont_size, char *err, size_t errlen);

/* ---- the Secrets by name (PartialObjectMetadataList) ------------------------------------ */

/*
 * What one namespace's Secret says about itself, read from the metadata-only list
 * GET /api/v1/secrets?fieldSelector=metadata.name=NAME (Accept: as=PartialObjectMetadataList;
 * g=meta.k8s.io;v=v1): enough to decide whether it needs a write without its data.
 */
struct k8s_secret_meta {
	char namespace[64];
	char resource_version[64];      /* "" when absent or not printable */
	int labelled;                   /* app.kubernetes.io/managed-by: ecr-refresh */
	int owns_payload;               /* the field manager owns, by Apply, data[.dockerconfigjson]
	                                 * and the expires-at annotation when present (managedFields) */
	int ours;                       /* labelled && owns_payload */
	char *registries;               /* the registries annotation (heap), NULL when absent */
	char digest[65];                /* the config-digest annotation, "" unless 64 hex digits */
	char expires_at[32];            /* the expires-at annotation, "" when absent or too long */
};

struct k8s_secret_meta_list {
	struct k8s_secret_meta *items;
	size_t count, cap;
	int sorted;                     /* by namespace (k8s_secret_meta_list_sort) until added to */
};

/* Frees the items and zeroes the list. */
void k8s_secret_meta_list_free(struct k8s_secret_meta_list *list);

/* Sorts the items by namespace, so k8s_secret_meta_find searches in log time (a run
 * looks up every target: 1,000 linear finds in 1,000 items were a tenth of its CPU). */
void k8s_secret_meta_list_sort(struct k8s_secret_meta_list *list);

/* The item for namespace, or NULL: a binary search once sorted, else linear. */
const struct k8s_secret_meta *k8s_secret_meta_find(const struct k8s_secret_meta_list *list,
                                                   const char *namespace);

/*
 * Reads one page of that list, appending one record per item named secret_name (other
 * names are skipped: the field selector already left them out) and copying
 * metadata.continue into cont ("" on the last page). An empty list may come as
 * "items": null. field_manager is ours, for the ownership check. Returns 0, or -1 with err
 * when the page is not a list, an item has no valid namespace, or the continue token is
 * too long or not printable; on -1 the items of this page already appended stay in list.
 */
int k8s_parse_secret_meta_page(const char *body, size_t len, const char *secret_name,
                               const char *field_manager, struct k8s_secret_meta_list *list,
                               char *cont, size_t cont_size, char *err, size_t errlen);

/* What a record is made of, as found in a Secret's metadata (NULL: absent, not a string,
 * or too long to hold). */
struct k8s_meta_fields {
	const char *namespace, *version, *managed_by;
	const char *registries, *digest, *expires;
	int has_expires;                /* the expires-at annotation is there, whatever its length */
	int owns_plain;                 /* an Apply entry of field_manager owns data[.dockerconfigjson] */
	int owns_with_expiry;           /* one owns it and the expires-at annotation too */
};

/* The record from those fields: 0, -1 without a valid namespace, -2 out of memory
 * (rec->registries is heap). The one place the rules of k8s_secret_meta live. */
int k8s_secret_meta_set(struct k8s_secret_meta *rec, const struct k8s_meta_fields *f);

/* The same record from one Secret or PartialObjectMetadata (a per-namespace GET, where
 * the list is forbidden). Returns 0, or -1 when body is no object with a valid
 * metadata.namespace (rec->registries is heap: k8s_secret_meta_clear frees it). */
int k8s_parse_secret_meta(const char *body, size_t len, const char *field_manager,
                          struct k8s_secret_meta *rec);
void k8s_secret_meta_clear(struct k8s_secret_meta *rec);

/* The same record from an object's metadata already parsed (a watch event's). Returns 0,
 * -1 when it has no valid namespace, -2 out of memory; rec needs k8s_secret_meta_clear
 * after 0 and -2. */
int k8s_secret_meta_read(const cJSON *metadata, const char *field_manager, struct k8s_secret_meta *rec);

/* ---- ServiceAccount imagePullSecrets --------------------------------------------------- */

/*
 * imagePullSecrets is an atomic list with no merge key (kubernetes/api core/v1/types.go),
 * so a patch would replace it whole: instead, take the ServiceAccount as read, append
 * {"name": secret_name} when no entry already has that name, and write it back with
 * its metadata.resourceVersion (optimistic concurrency). Other entries, duplicates
 * included, keep their order; metadata.managedFields is dropped (the server keeps it when
 * an update omits it).
 *
 * Returns 1 with *put_body set to the object to PUT (caller frees with cJSON_free), 0 when the
 * Secret is already listed (*put_body NULL), or -1 with err filled when sa_json is not a
 * ServiceAccount object with a resourceVersion or imagePullSecrets is not a list.
 */
int k8s_sa_add_pull_secret(const char *sa_json, size_t len, const char *secret_name,
                           char **put_body, char *err, size_t errlen);

/* ---- small helpers ------------------------------------------------------------------- */

/* Percent-encodes s as a URL query value (RFC 3986 2.3: unreserved characters kept, every
 * other byte %XX in uppercase). Returns the length written (out NUL-terminated), or -1
 * when out_size is too small. */
long k8s_query_encode(const char *s, char *out, size_t out_size);

/* 1 when some entry of names is a glob, so the full namespace list is needed. */
int k8s_names_need_list(const struct config_list *names);

/* ---- the target set -------------------------------------------------------------------- */

struct k8s_target_input {
	const struct config_list *names;      /* --namespaces: names and globs, may be empty */
	const struct config_list *excludes;   /* --exclude-namespaces: names and globs */
	const char *own_namespace;            /* taken when names is empty and no selector */
	int selector_given;                   /* --namespace-selector was set */
	const struct k8s_namespace_list *all;      /* every namespace; needed when names has a glob */
	const struct k8s_namespace_list *selected; /* namespaces matching the selector, or NULL */
};

/*
 * Computes the targets: the plain names, the namespaces of `all` matching a glob, the
 * namespaces of `selected`, or own_namespace when neither names nor a selector was given;
 * minus every namespace an exclusion names or matches. The result is sorted (strcmp) with
 * no duplicates; a namespace any listing shows terminating is marked so. out must be
 * empty. Returns 0, or -1 when out of memory (out freed).
 */
int k8s_resolve_targets(const struct k8s_target_input *in, struct k8s_namespace_list *out);

#endif
