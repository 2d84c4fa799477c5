/*
 * events: the pure half; see events.h. Field rules: kubernetes/api events/v1/types.go and
 * the apiserver's ValidateEventCreate (pkg/apis/core/validation/events.go): eventTime,
 * reportingController, reportingInstance, action and reason are required, the last three
 * at most 128 bytes, note at most 1024; a regarding object in another namespace than the
 * Event's is refused, so a namespace is referred to from inside itself.
 */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "log.h"
#include "targets.h"

#define FIELD_MAX 128

static const char *const reason_names[] = {
	[EVENT_FORBIDDEN] = "Forbidden",
	[EVENT_CONFLICT] = "Conflict",
	[EVENT_INVALID] = "Invalid",
	[EVENT_NOT_FOUND] = "NotFound",
	[EVENT_UNAVAILABLE] = "Unavailable",
	[EVENT_TOKEN_UNAVAILABLE] = "TokenUnavailable",
	[EVENT_CLUSTER_UNAVAILABLE] = "ClusterUnavailable",
};

static const char *const fixes[] = {
	[EVENT_FORBIDDEN] = "give the ecr-refresh ServiceAccount the Role and RoleBinding of cronjob.yaml in this "
		"namespace, with resourceNames equal to SECRET_NAME (docs/troubleshooting.md, RBAC)",
	[EVENT_CONFLICT] = "another field manager owns the Secret: stop the other writer, then run once with "
		"FORCE_CONFLICTS=true (docs/troubleshooting.md)",
	[EVENT_INVALID] = "a Secret of that name but another type exists: delete it or choose another SECRET_NAME "
		"(docs/troubleshooting.md)",
	[EVENT_NOT_FOUND] = "create what the message names or remove it from the configuration "
		"(docs/troubleshooting.md)",
	[EVENT_UNAVAILABLE] = "the API server did not answer in time; the next run tries again "
		"(docs/troubleshooting.md)",
	[EVENT_TOKEN_UNAVAILABLE] = "no registry token, nothing was written and the Secrets keep their last "
		"token: see the Job's log (docs/troubleshooting.md, AWS errors)",
	[EVENT_CLUSTER_UNAVAILABLE] = "the API server was unreachable, untrusted or refused the ServiceAccount "
		"token: see the Job's log (docs/troubleshooting.md)",
};

const char *events_reason_name(enum event_reason reason)
{
	return reason_names[reason];
}

const char *events_fix(enum event_reason reason)
{
	return fixes[reason];
}

enum event_reason events_reason_for_status(int status)
{
	switch (status) {
	case 403: return EVENT_FORBIDDEN;
	case 404: return EVENT_NOT_FOUND;
	case 409: return EVENT_CONFLICT;
	case 400:
	case 422: return EVENT_INVALID;
	default: return EVENT_UNAVAILABLE;
	}
}

static int utc(long long seconds, struct tm *tm)
{
	time_t t = (time_t)seconds;

	return (long long)t == seconds && gmtime_r(&t, tm) && tm->tm_year + 1900 <= 9999 &&
	       tm->tm_year + 1900 >= 1 ? 0 : -1;
}

int events_name(const struct event_spec *spec, char out[EVENT_NAME_SIZE])
{
	char suffix[48];
	const char *reason = reason_names[spec->reason];
	size_t n, keep;
	struct tm tm;

	if (utc(spec->now_s, &tm) < 0)
		return -1;
	n = (size_t)snprintf(suffix, sizeof suffix, ".%s.%04d%02d%02d", reason, tm.tm_year + 1900, tm.tm_mon + 1,
	                     tm.tm_mday);
	for (size_t i = 0; i < n; i++)
		if (suffix[i] >= 'A' && suffix[i] <= 'Z')
			suffix[i] = (char)(suffix[i] - 'A' + 'a');
	keep = strlen(spec->secret_name);
	if (keep > EVENT_NAME_SIZE - 1 - n)
		keep = EVENT_NAME_SIZE - 1 - n;
	/* a subdomain's labels end in an alphanumeric: cut back over '.' and '-' */
	while (keep && (spec->secret_name[keep - 1] == '.' || spec->secret_name[keep - 1] == '-'))
		keep--;
	snprintf(out, EVENT_NAME_SIZE, "%.*s%s", (int)keep, spec->secret_name, keep ? suffix : suffix + 1);
	return 0;
}

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* "MESSAGE; fix: FIX", the message cut so the whole fits EVENT_NOTE_MAX. */
static char *note_text(const struct event_spec *spec)
{
	static const char glue[] = "; fix: ";
	const char *fix = fixes[spec->reason];
	size_t room = EVENT_NOTE_MAX - strlen(glue) - strlen(fix);
	size_t kept = utf8_cut(spec->message ? spec->message : "", room);
	char *note = malloc(EVENT_NOTE_MAX + 1);

	if (note)
		snprintf(note, EVENT_NOTE_MAX + 1, "%.*s%s%s", (int)kept, spec->message ? spec->message : "", glue, fix);
	return note;
}

char *events_body(const struct event_spec *spec)
{
	char name[EVENT_NAME_SIZE], when[96], instance[FIELD_MAX + 1];
	cJSON *doc = cJSON_CreateObject(), *metadata, *regarding;
	char *note = note_text(spec), *text = NULL;
	struct tm tm;

	if (!doc || !note || events_name(spec, name) < 0 || utc(spec->now_s, &tm) < 0)
		goto out;
	/* MicroTime: RFC 3339 with six fractional digits (apimachinery RFC3339Micro) */
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, spec->now_us % 1000000);
	snprintf(instance, sizeof instance, "%.*s", (int)utf8_cut(spec->instance, FIELD_MAX), spec->instance);
	if (!cJSON_AddStringToObject(doc, "apiVersion", "events.k8s.io/v1") ||
	    !cJSON_AddStringToObject(doc, "kind", "Event") ||
	    !(metadata = cJSON_AddObjectToObject(doc, "metadata")) ||
	    !cJSON_AddStringToObject(metadata, "name", name) ||
	    !cJSON_AddStringToObject(metadata, "namespace", spec->namespace) ||
	    !cJSON_AddStringToObject(doc, "type", "Warning") ||
	    !cJSON_AddStringToObject(doc, "reason", reason_names[spec->reason]) ||
	    !cJSON_AddStringToObject(doc, "note", note) ||
	    !(regarding = cJSON_AddObjectToObject(doc, "regarding")) ||
	    !cJSON_AddStringToObject(regarding, "apiVersion", "v1") ||
	    !cJSON_AddStringToObject(regarding, "kind", spec->regarding_kind) ||
	    !cJSON_AddStringToObject(regarding, "namespace", spec->namespace) ||
	    !cJSON_AddStringToObject(regarding, "name", spec->regarding_name) ||
	    !cJSON_AddStringToObject(doc, "action", spec->action) ||
	    !cJSON_AddStringToObject(doc, "eventTime", when) ||
	    !cJSON_AddStringToObject(doc, "reportingController", "ecr-refresh") ||
	    !cJSON_AddStringToObject(doc, "reportingInstance", instance))
		goto out;
	text = cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	free(note);
	return text;
}

/* ---- posting ------------------------------------------------------------------------- */

int events_post(struct k8s_conn *conn, const struct event_spec *spec)
{
	char path[K8S_PATH_MAX], text[K8S_REASON_MAX - 32];
	char *body = events_body(spec);
	struct k8s_request req = { "POST", path, "application/json", "application/json", body, 0, 0 };
	struct k8s_reply r;
	int rc;

	if (!body || snprintf(path, sizeof path, "/apis/events.k8s.io/v1/namespaces/%s/events", spec->namespace) >=
	                     (int)sizeof path) {
		cJSON_free(body);
		return -1;
	}
	req.body_len = strlen(body);
	rc = k8s_call(conn, &req, &r);
	cJSON_free(body);
	if (rc == 0 && (r.status == 201 || r.status == 200 || r.status == 409))
		return 0;               /* 409: today's Event for this failure is there already */
	if (rc == 0 && r.status == 403)
		return 1;
	if (rc == 0)
		k8s_reply_text(&r, text, sizeof text);
	log_event(LOG_DEBUG, "event not recorded", "namespace", spec->namespace,
	          "event_reason", events_reason_name(spec->reason), "reason", rc == 0 ? text : r.reason, NULL);
	return -1;
}

void events_now(struct event_spec *spec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	spec->now_s = (long long)ts.tv_sec;
	spec->now_us = ts.tv_nsec / 1000;
}

void events_instance(char *out, size_t size)
{
	const char *host = getenv("HOSTNAME");

	snprintf(out, size, "%s", host && strlen(host) < size && config_valid_dns_subdomain(host) ? host : "ecr-refresh");
}

void events_post_run(struct k8s_client *client, const struct config *cfg, enum event_reason reason,
                     const char *message, const char *instance)
{
	char own[64], err[256];
	struct event_spec spec = { own, "Namespace", own, cfg->secret_name, reason, "Refresh", message, instance, 0, 0 };
	struct k8s_conn *conn;

	if (targets_own_namespace(cfg->serviceaccount_dir, own, sizeof own, err, sizeof err) < 0) {
		log_event(LOG_DEBUG, "event not recorded", "event_reason", events_reason_name(reason), "reason", err, NULL);
		return;
	}
	conn = k8s_conn_new(client, 0, HTTP_MAX_HEADER + 16384);
	if (!conn)
		return;
	events_now(&spec);
	if (events_post(conn, &spec) == 1)
		log_event(LOG_WARN, "cannot record Events", "fix",
		          "grant create on events (events.k8s.io) to see failures there", "namespace", own, NULL);
	k8s_conn_free(conn);
}
