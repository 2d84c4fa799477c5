/*
 * watchjson: the pure reader of Kubernetes watch events and the lists a watch starts from
 * (kubernetes/apimachinery pkg/apis/meta/v1/watch.go "WatchEvent"; api-concepts.md
 * "Efficient detection of changes"), kept apart from watch.c's I/O so it can be unit
 * tested and fuzzed alone.
 *
 * An event is one line {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
 * For ERROR the object is a Status: a code 410 (reason Expired or Gone) means the
 * resourceVersion the watch resumed from was compacted away, and the caller lists again.
 * Objects are Namespaces or the PartialObjectMetadata of our Secrets; only what watch
 * decides on is read. No I/O; every input is hostile: strings are bounded and copied
 * with control characters replaced, so they are safe to log.
 */
#ifndef WATCHJSON_H
#define WATCHJSON_H

#include <stddef.h>

#define WATCH_MAX_LINE    (64 * 1024)   /* longest event line accepted */
#define WATCH_MAX_VERSION 128           /* resourceVersion, NUL included */

enum watch_type {
	WATCH_ADDED = 1,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK,
	WATCH_ERROR,
};

/* What watch needs to know of one object (a Namespace or one of our Secrets). */
struct watch_object {
	char name[254];
	char namespace[64];                   /* "" for a Namespace */
	char resource_version[WATCH_MAX_VERSION];
	int terminating;                      /* deletionTimestamp set, or phase Terminating */
	/* a Secret: is it still the one we wrote? */
	int managed_by_us;                    /* label app.kubernetes.io/managed-by=ecr-refresh */
	int payload_ours;                     /* our field manager owns data..dockerconfigjson */
	char registries[1024];                /* annotations, "" when absent or too long */
	char expires_at[32];
};

struct watch_event {
	enum watch_type type;
	struct watch_object object;           /* all but ERROR (BOOKMARK: resource_version only) */
	int code;                             /* ERROR: the Status code, 0 when absent */
	char reason[64];                      /* ERROR: the Status reason */
	char message[200];                    /* ERROR: the Status message, truncated */
};

/*
 * Reads one event line. field_manager is ours, for payload_ours. Returns 0, or -1 with
 * err filled when the line is not a watch event: not JSON, an unknown type, no object,
 * an object without a valid name (RFC 1123) or resourceVersion (printable, shorter than
 * WATCH_MAX_VERSION; a BOOKMARK needs only the latter).
 */
int watch_parse_event(const char *line, size_t len, const char *field_manager,
                      struct watch_event *ev, char *err, size_t errlen);

/*
 * Reads one page of a list (NamespaceList or PartialObjectMetadataList; "items": null is
 * an empty list), calling each(ctx, object) for every item in order, and copying
 * metadata.resourceVersion (the version to watch from) and metadata.continue into
 * version and cont ("" on the last page). Returns 0, the first nonzero value an each
 * returned (the reading stops), or -1 with err filled for a page that is not a list or
 * an item as watch_parse_event would refuse.
 */
int watch_parse_list(const char *body, size_t len, const char *field_manager,
                     int (*each)(void *ctx, const struct watch_object *object), void *ctx,
                     char *version, size_t version_size, char *cont, size_t cont_size,
                     char *err, size_t errlen);

/* 1 when a Status or ERROR event says the resourceVersion is too old: relist. */
int watch_is_gone(int code, const char *reason);

#endif
