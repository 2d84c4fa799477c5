/*
 * secret: the kubernetes.io/dockerconfigjson Secret this tool writes (docs/reference.md "The
 * payload", "Kubernetes"), as one JSON object used both as the server-side apply body and
 * for --output json|yaml.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include <cJSON.h>

#define SECRET_LABEL_MANAGED_BY         "app.kubernetes.io/managed-by"
#define SECRET_MANAGED_BY               "ecr-refresh"     /* that label's value */
#define SECRET_ANNOTATION_REGISTRIES    "ecr-refresh.io/registries"
#define SECRET_ANNOTATION_EXPIRES_AT    "ecr-refresh.io/expires-at"
#define SECRET_ANNOTATION_CONFIG_DIGEST "ecr-refresh.io/config-digest"
#define SECRET_DIGEST_SIZE              65                /* 64 hex digits and the NUL */

struct secret_spec {
	const char *name;               /* Secret name */
	const char *namespace;
	const char *dockerconfigjson;   /* the .dockerconfigjson document (not base64) */
	const char *registries;         /* comma-separated registry hosts, for the annotation */
	const char *expires_at;         /* earliest token expiry, RFC 3339 UTC; NULL or "" when
	                                   no entry expires (static entries only): no annotation */
	const char *config_digest;      /* secret_config_digest; NULL: no such annotation */
};

/*
 * The configuration digest: lowercase hex SHA-256 over everything that shapes what a run
 * writes apart from the tokens themselves, so a run can tell a Secret written with another
 * configuration from one that is merely old. The input is each distinct host of hosts in
 * strcmp order followed by "\n", one NUL, then static_entries (the merged static auths of
 * other registry sources as they are written into the payload; NULL or "" when none);
 * with --service-accounts, one more NUL and each distinct name in strcmp order followed by
 * "\n" (without, the digest is what it was before they counted). Order and repeats do not
 * matter. Returns 0, or -1 when out of memory.
 */
struct secret_digest_input {
	const char *const *hosts;
	size_t host_count;
	const char *static_entries;
	const char *const *service_accounts;
	size_t account_count;
};

int secret_config_digest(const struct secret_digest_input *in, char out[SECRET_DIGEST_SIZE]);

/*
 * Builds {"apiVersion":"v1","kind":"Secret","metadata":{"name","namespace","labels":
 * {"app.kubernetes.io/managed-by":"ecr-refresh"},"annotations":{"ecr-refresh.io/registries",
 * "ecr-refresh.io/expires-at"[,"ecr-refresh.io/config-digest"]}},"type":"kubernetes.io/dockerconfigjson","data":
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

/* doc printed as secret_print_json(doc, 1) prints it inside a container at depth
 * indent: every line indented, no newline at the end. Heap, NULL when out of memory. */
char *secret_print_json_item(const cJSON *doc, int indent);

/*
 * The server-side apply body of one run: the compact secret_print_json of
 * secret_manifest, printed once with an empty namespace and the spot remembered, so each
 * namespace costs a copy instead of a cJSON tree, a base64 pass and a print. text holds
 * the registry passwords (base64): secret_body_free wipes it.
 */
struct secret_body {
	char *text;                     /* the body with "namespace":"" (heap) */
	size_t len;
	size_t ns_at;                   /* offset of that empty string's opening quote */
	size_t cap;                     /* allocated size of text, for the wipe */
};

/* Prints the body of spec (spec->namespace is ignored). Returns 0, or -1 on allocation
 * failure (b zeroed). */
int secret_body_init(struct secret_body *b, const struct secret_spec *spec);

/* Writes into out[0..size) the body for namespace, NUL-terminated and byte for byte what
 * secret_print_json(secret_manifest(spec with namespace), 0) prints. size b->len +
 * 6 * strlen(namespace) + 1 always suffices (a control character takes six bytes escaped).
 * Returns the length, or -1 when out is too small (out wiped). */
long secret_body_render(const struct secret_body *b, const char *namespace, char *out, size_t size);

/* Wipes and frees the body; b is zeroed and may be passed again. */
void secret_body_free(struct secret_body *b);

/* Zeroes every string value in a cJSON tree (before cJSON_Delete), so passwords and their
 * base64 forms do not linger in freed heap. */
void secret_wipe_tree(cJSON *doc);

/* ---- registry entries: what every source (ecr, gcr, dockerconfig) hands over ---------- */

/*
 * One auths entry of the .dockerconfigjson: the key (a bare host, or a static file's key as
 * written), user, password, base64(user:password) and when it stops working. Every string
 * is a heap copy owned by the list; password and auth are registered with
 * log_register_secret, so call log_forget_secrets() before secret_entries_free.
 */
struct secret_entry {
	char *key;
	char *username;
	char *password;
	char *auth;
	double expires_at;              /* UNIX seconds; 0: never (static entries) */
	const char *source;             /* "ECR", "ECR Public", "GCR" or the file it came from;
	                                   borrowed, for messages */
};

struct secret_entries {
	struct secret_entry *items;
	size_t count;
	size_t cap;
};

/* Appends copies of key, username and password (auth computed here). Returns 0, or -1
 * when out of memory (the list is unchanged). */
int secret_entries_add(struct secret_entries *list, const char *key, const char *username,
                       const char *password, double expires_at, const char *source);

/* Index of the first entry whose key is key, or -1. */
long secret_entries_find(const struct secret_entries *list, const char *key);

/* The earliest expires_at among entries that expire; 0 when none does. */
double secret_entries_earliest_expiry(const struct secret_entries *list);

/* {"auths":{KEY:{"username","password","auth"}}} in list order, a heap string the caller
 * wipes and frees; NULL when out of memory. Keys are expected distinct (the caller checks
 * clashes); a repeated key keeps its first entry. */
char *secret_dockerconfigjson(const struct secret_entries *list);

/* The keys joined with ',' (the registries annotation): heap, or NULL when out of memory. */
char *secret_entries_keys(const struct secret_entries *list);

/* Moves every entry of src to the end of dst (src is emptied). Returns 0, or -1 when out of
 * memory (both unchanged). */
int secret_entries_take(struct secret_entries *dst, struct secret_entries *src);

/* Wipes and frees every entry; list is zeroed and may be used again. */
void secret_entries_free(struct secret_entries *list);

#endif
