/*
 * events: failures as Kubernetes Events (events.k8s.io/v1, docs/reference.md "Events"),
 * where `kubectl get events` and dashboards show them.
 *
 * One Warning Event per failed namespace per run, in that namespace, regarding the Secret
 * (or, when there is none, the namespace); one per run that failed as a whole, in the
 * tool's own namespace. The name is stable for a namespace, Secret, reason and UTC day, so
 * a failure repeated every ten minutes makes one Event a day, not 144: a create that finds
 * it already there (409) has nothing to add. That needs only `create` on events.
 *
 * This half is pure: reasons, their fixes, the name and the body. Posting them is
 * events_post's (best effort: it never fails a run).
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stddef.h>

#include "config.h"
#include "k8s.h"

enum event_reason {
	EVENT_FORBIDDEN,             /* 403 */
	EVENT_CONFLICT,              /* 409: another field manager */
	EVENT_INVALID,               /* 422 (a Secret of another type), 400 */
	EVENT_NOT_FOUND,             /* 404: namespace or ServiceAccount */
	EVENT_UNAVAILABLE,           /* no answer, 429/5xx until the retries gave up, the deadline */
	EVENT_TOKEN_UNAVAILABLE,     /* the whole run: no registry token */
	EVENT_CLUSTER_UNAVAILABLE,   /* the whole run: the API server unreachable or refusing us */
};

#define EVENT_NOTE_MAX 1024          /* events.k8s.io/v1 note limit, bytes */
#define EVENT_NAME_SIZE 254          /* a DNS-1123 subdomain and its NUL */

/* "Forbidden", "Conflict", ... as the Event's reason. */
const char *events_reason_name(enum event_reason reason);

/* The reason for a refused answer's HTTP status (0: no answer at all). */
enum event_reason events_reason_for_status(int status);

/* What to do about it, in the words of docs/troubleshooting.md. */
const char *events_fix(enum event_reason reason);

struct event_spec {
	const char *namespace;          /* where the Event is created */
	const char *regarding_kind;     /* "Secret" or "Namespace" */
	const char *regarding_name;
	const char *secret_name;        /* part of the Event's name */
	enum event_reason reason;
	const char *action;             /* what was being done: "Apply", "Refresh" */
	const char *message;            /* the log line's reason (no secret in it) */
	const char *instance;           /* reportingInstance: the pod, or "ecr-refresh" */
	long long now_s;                /* UNIX time of the failure */
	long now_us;                    /* its microseconds, 0..999999 */
};

/* The Event's name: SECRET.REASON.YYYYMMDD in lowercase (the Secret's name cut so the whole
 * stays a DNS-1123 subdomain). Returns 0, or -1 when the time is out of range. */
int events_name(const struct event_spec *spec, char out[EVENT_NAME_SIZE]);

/*
 * The events.k8s.io/v1 Event to POST: metadata.name, type Warning, reason, note (message,
 * then "fix: " and events_fix, cut to EVENT_NOTE_MAX bytes at a character boundary, the fix
 * kept whole), regarding {apiVersion v1, kind, namespace, name}, action, eventTime with
 * microseconds, reportingController "ecr-refresh", reportingInstance (cut to 128).
 * Returns heap JSON the caller frees, or NULL (out of memory, time out of range).
 */
char *events_body(const struct event_spec *spec);

/* ---- posting ------------------------------------------------------------------------- */

/* Sets spec's time to now (the real-time clock). */
void events_now(struct event_spec *spec);

/* The reportingInstance of this process: the pod's name ($HOSTNAME, which Kubernetes sets
 * to it) when it is a DNS-1123 subdomain, else "ecr-refresh". */
void events_instance(char *out, size_t size);

/* Creates the Event on conn. Returns 0 when it was created or is there already (409),
 * 1 when Events are forbidden (403: the caller warns once and stops trying), -1 on any
 * other failure (logged at debug). Never a reason to fail a run. */
int events_post(struct k8s_conn *conn, const struct event_spec *spec);

/* A whole-run failure as an Event in the tool's own namespace (the ServiceAccount folder's
 * namespace file; none there, none posted), regarding that namespace. Best effort. */
void events_post_run(struct k8s_client *client, const struct config *cfg, enum event_reason reason,
                     const char *message, const char *instance);

#endif
