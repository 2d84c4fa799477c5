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

#include "k8sjson.h"

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
	struct k8s_secret_meta secret;        /* a namespaced object: what fresh_decide reads
	                                       * (secret.registries is heap) */
};

struct watch_event {
	enum watch_type type;
	struct watch_object object;           /* all but ERROR (BOOKMARK: resource_version only) */
	int code;                             /* ERROR: the Status code, 0 when absent */
	char reason[64];                      /* ERROR: the Status reason */
	char message[200];                    /* ERROR: the Status message, truncated */
};

/*
 * Reads one event line. field_manager is ours, for the ownership in object.secret; the
 * caller MUST watch_event_clear a parsed event. Returns 0, or -1 with
 * err filled when the line is not a watch event: not JSON, an unknown type, no object,
 * an object without a valid name (RFC 1123) or resourceVersion (printable, shorter than
 * WATCH_MAX_VERSION; a BOOKMARK needs only the latter).
 */
int watch_parse_event(const char *line, size_t len, const char *field_manager,
                      struct watch_event *ev, char *err, size_t errlen);

/*
 * Reads one page of a list (NamespaceList or PartialObjectMetadataList; "items": null is
 * an empty list), calling each(ctx, object) for every item in order (the object is freed
 * after the call), and copying
 * metadata.resourceVersion (the version to watch from) and metadata.continue into
 * version and cont ("" on the last page). Returns 0, the first nonzero value an each
 * returned (the reading stops), or -1 with err filled for a page that is not a list or
 * an item as watch_parse_event would refuse.
 */
int watch_parse_list(const char *body, size_t len, const char *field_manager,
                     int (*each)(void *ctx, const struct watch_object *object), void *ctx,
                     char *version, size_t version_size, char *cont, size_t cont_size,
                     char *err, size_t errlen);

/* Frees what a parsed event holds (object.secret.registries). */
void watch_event_clear(struct watch_event *ev);

/* 1 when a Status or ERROR event says the resourceVersion is too old: relist. */
int watch_is_gone(int code, const char *reason);

#endif
