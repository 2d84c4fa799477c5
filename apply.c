/*
 * apply: the Kubernetes phase; see apply.h.
 *
 *   1. the pod's own namespace when it is the default target, the client (k8s.h);
 *   2. the target namespaces (targets.h), listed only when a glob or a selector needs it;
 *   3. what each target's Secret is: one metadata-only list of them all (fresh.h), or each
 *      namespace's own read where the list is refused; apply_plan decides from it which
 *      need a write (--refresh-before) -- all before the caller fetches any token;
 *   4. --concurrency workers, each owning one connection, take namespaces from a shared
 *      index: server-side-apply the Secret, add it to the named ServiceAccounts, record a
 *      failure as an Event (events.h);
 *   5. one log line per namespace, one summary line, the exit code.
 *
 * Kubernetes references: server-side apply (kubernetes/website content/en/docs/reference/
 * using-api/server-side-apply.md), API concepts for dry run (reference/using-api/
 * api-concepts.md).
 */
#include "apply.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "events.h"
#include "exitcode.h"
#include "fresh.h"
#include "k8s.h"
#include "k8sjson.h"
#include "log.h"
#include "net.h"
#include "secret.h"
#include "targets.h"

#define WORKER_SLACK        (32 * 1024)     /* request head (token, URL) and a small answer */
#define SA_CONFLICT_RETRIES 5
#define WORKER_STACK        (256 * 1024)
#define VERSION_MAX         128

/* The metadata alone (PartialObjectMetadata, what k8s.io/client-go/metadata asks for); a
 * server that does not know the representation picks the plain JSON after it. */
#define ACCEPT_METADATA "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
#define ACCEPT_JSON     "application/json"

enum result { RESULT_FAILED, RESULT_CREATED, RESULT_UPDATED, RESULT_UNCHANGED, RESULT_FRESH, RESULT_COUNT };

static const char *const result_names[] = { "failed", "created", "updated", "unchanged", "fresh" };

struct target {
	const char *name;               /* into the resolved namespace list */
	int terminating;
	int needs_write;                /* 0: fresh (--refresh-before), left alone */
	/* what the Secret was before this run, from the list or the namespace's own read */
	int meta_known;                 /* 0: it could not be read */
	const struct k8s_secret_meta *meta; /* NULL: no Secret (when known) */
	struct k8s_secret_meta *own_meta;   /* the namespace's own read (heap), where the list
	                                     * was forbidden */
	int secret_exists;              /* for the Event: regarding the Secret or the namespace */
	enum result result;
	enum k8s_failure failure;
	int status;                     /* the refusing answer's HTTP status, 0 without one */
	char *reason;                   /* heap, only once failed: a thousand targets that
	                                 * succeed should not carry a K8S_REASON_MAX buffer each */
};

struct worker;
typedef void job_fn(struct worker *w, struct target *t);

struct apply_phase {
	const struct apply_params *params;
	const struct config *cfg;
	struct k8s_client *client;
	int64_t started_ms;
	size_t worker_buf_size;
	struct secret_body body;        /* the apply body, printed once for every namespace */
	struct k8s_namespace_list names;/* the resolved targets, owning the names */
	struct k8s_secret_meta_list secrets; /* the Secrets' metadata, when listed */
	char instance[129];             /* the Events' reportingInstance: the pod's name */
	job_fn *job;                    /* what the workers do with each target */

	/* lock guards next and events_denied; a target belongs to the worker that took it */
	pthread_mutex_t lock;
	struct target *targets;
	size_t target_count, next;
	int events_denied;              /* a 403 on an Event: no more tries this run */
};

struct worker {
	struct apply_phase *run;
	struct k8s_conn *conn;
	char path[K8S_PATH_MAX];
	char *body;                     /* this namespace's apply body, reused (wiped after use) */
	size_t body_cap;
	pthread_t thread;
};

/* What was known of the Secret before the apply. */
struct before {
	int known;                      /* 0: it could not be read (403 ...) */
	int existed;
	char version[VERSION_MAX];      /* metadata.resourceVersion, outside a dry run */
	cJSON *tree;                    /* the whole object, in a dry run */
};

/* ---- small helpers ------------------------------------------------------------------- */

static int build_path(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int build_path(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->path, sizeof w->path, fmt, ap);
	va_end(ap);
	return n >= 0 && n < (int)sizeof w->path ? 0 : -1;
}

/* One call on the worker's connection; the path is w->path. */
static int call(struct worker *w, const char *method, const char *accept, const char *content_type,
                const char *body, size_t body_len, struct k8s_reply *r)
{
	/* a metadata-only answer (PartialObjectMetadata) has the smaller limit */
	struct k8s_request req = { method, w->path, accept, content_type, body, body_len,
	                           strstr(accept, "as=PartialObjectMetadata") ? K8S_ANSWER_MAX_METADATA : 0 };

	return k8s_call(w->conn, &req, r);
}

static void target_fail(struct target *t, enum k8s_failure failure, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void target_fail(struct target *t, enum k8s_failure failure, const char *fmt, ...)
{
	char text[K8S_REASON_MAX];
	va_list ap;

	t->result = RESULT_FAILED;
	t->failure = failure;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	free(t->reason);
	t->reason = strdup(text);       /* NULL: report says "out of memory" */
}

static const char *string_at(const cJSON *root, const char *object, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, object);
	const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 with metadata.resourceVersion in out (when shorter than size), else 0. */
static int resource_version(const char *body, size_t len, char *out, size_t size)
{
	int found = k8s_scan_resource_version(body, len, out, size);
	cJSON *root;
	const char *v;

	if (found >= 0)
		return found;
	/* the scan was unsure: cJSON decides */
	root = k8s_json_parse(body, len);
	v = string_at(root, "metadata", "resourceVersion");
	found = v && strlen(v) < size;
	if (found)
		memcpy(out, v, strlen(v) + 1);
	cJSON_Delete(root);
	return found;
}

static void refused(struct k8s_reply *r, const char *text)
{
	r->failure = K8S_FAIL_REFUSED;
	snprintf(r->reason, sizeof r->reason, "%s", text);
}

/* ---- ServiceAccounts ------------------------------------------------------------------- */

/* PUTs the ServiceAccount with the Secret added. Returns 1 done, 0 when someone changed it
 * meanwhile (409: read it again), -1 with r filled. */
static int put_service_account(struct worker *w, const char *ns, const char *sa, char *put_body,
                               struct k8s_reply *r)
{
	const struct config *cfg = w->run->cfg;
	char text[K8S_REASON_MAX - 64];

	if (build_path(w, "/api/v1/namespaces/%s/serviceaccounts/%s?fieldManager=%s%s", ns, sa,
	               k8s_client_field_manager(w->run->client), cfg->dry_run ? "&dryRun=All" : "") < 0) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, "URL too long");
		return -1;
	}
	if (call(w, "PUT", ACCEPT_JSON, "application/json", put_body, strlen(put_body), r) < 0)
		return -1;
	if (r->status == 200 || r->status == 201) {
		log_event(LOG_INFO, "service account updated", "namespace", ns, "service_account", sa,
		          "secret", cfg->secret_name, cfg->dry_run ? "dry_run" : NULL, "true", NULL);
		return 1;
	}
	if (r->status == 409) {
		log_event(LOG_DEBUG, "service account changed meanwhile, again", "namespace", ns,
		          "service_account", sa, NULL);
		return 0;
	}
	k8s_reply_text(r, text, sizeof text);
	refused(r, text);
	return -1;
}

/* GETs the ServiceAccount and merges the Secret into it. Returns 1 with *put_body to
 * send, 0 when it lists the Secret already, -1 with r filled. */
static int merged_service_account(struct worker *w, const char *ns, const char *sa, char **put_body,
                                  struct k8s_reply *r)
{
	char err[200], text[K8S_REASON_MAX - 64];
	int rc;

	if (build_path(w, "/api/v1/namespaces/%s/serviceaccounts/%s", ns, sa) < 0) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, "URL too long");
		return -1;
	}
	if (call(w, "GET", ACCEPT_JSON, NULL, NULL, 0, r) < 0)
		return -1;
	if (r->status != 200) {
		k8s_reply_text(r, text, sizeof text);
		refused(r, text);
		return -1;
	}
	rc = k8s_sa_add_pull_secret(r->body, r->body_len, w->run->cfg->secret_name, put_body, err, sizeof err);
	if (rc < 0)
		k8s_reply_fail(r, K8S_FAIL_OTHER, err);
	if (rc == 0)
		log_event(LOG_DEBUG, "service account already lists the secret", "namespace", ns,
		          "service_account", sa, NULL);
	return rc;
}

/*
 * Adds the Secret to one ServiceAccount's imagePullSecrets: GET, append when missing, PUT
 * with the resourceVersion read, again on 409 (someone changed it in between). Returns 0,
 * or -1 with r->reason filled.
 */
static int add_to_service_account(struct worker *w, const char *ns, const char *sa, struct k8s_reply *r)
{
	char text[K8S_REASON_MAX - 64];

	for (int attempt = 0; attempt < SA_CONFLICT_RETRIES; attempt++) {
		char *put_body = NULL;
		int rc = merged_service_account(w, ns, sa, &put_body, r);

		if (rc <= 0)
			return rc;
		rc = put_service_account(w, ns, sa, put_body, r);
		cJSON_free(put_body);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
	}
	k8s_reply_text(r, text, sizeof text);
	refused(r, text);
	return -1;
}

/* ---- one namespace ------------------------------------------------------------------- */

/*
 * Reads what the Secret was before the apply. A GET of the metadata only (outside a dry
 * run) keeps the old Secret's data from travelling and needs only the `get` verb narrowed
 * to the Secret's name; a dry run reads the whole object (see apply_namespace). Returns 0,
 * or -1 with t failed.
 */
static int read_before(struct worker *w, struct target *t, struct before *b)
{
	const struct config *cfg = w->run->cfg;
	char text[K8S_REASON_MAX - 64];
	struct k8s_reply r;

	if (!cfg->dry_run) {
		/* read before the tokens were fetched (read_secrets) */
		b->existed = t->meta != NULL;
		b->known = t->meta_known && (!t->meta || t->meta->resource_version[0]);
		if (t->meta)
			memcpy(b->version, t->meta->resource_version, sizeof t->meta->resource_version);
		return 0;
	}
	if (build_path(w, "/api/v1/namespaces/%s/secrets/%s", t->name, cfg->secret_name) < 0) {
		target_fail(t, K8S_FAIL_OTHER, "URL too long");
		return -1;
	}
	if (call(w, "GET", cfg->dry_run ? ACCEPT_JSON : ACCEPT_METADATA, NULL, NULL, 0, &r) < 0) {
		target_fail(t, r.failure, "%s", r.reason);
		return -1;
	}
	if (r.status == 200) {
		b->existed = 1;
		if (cfg->dry_run) {
			b->tree = k8s_json_parse(r.body, r.body_len);
			b->known = b->tree != NULL;
		} else {
			b->known = resource_version(r.body, r.body_len, b->version, sizeof b->version);
		}
		k8s_reply_wipe(&r);
	} else if (r.status == 404) {
		b->known = 1;
	} else {
		k8s_reply_text(&r, text, sizeof text);
		log_event(LOG_DEBUG, "cannot read the secret before applying it", "namespace", t->name,
		          "reason", text, NULL);
	}
	return 0;
}

/*
 * One namespace's Secret metadata, where the list of them all is forbidden (a Role per
 * namespace grants `get` on the one name, not `list`). The same metadata-only GET the
 * apply used to make itself; 404 is "no Secret", a refusal leaves it unknown.
 */
static void read_one_secret(struct worker *w, struct target *t)
{
	const struct config *cfg = w->run->cfg;
	struct k8s_secret_meta *rec;
	char text[K8S_REASON_MAX - 64];
	struct k8s_reply r;

	if (t->terminating || build_path(w, "/api/v1/namespaces/%s/secrets/%s", t->name, cfg->secret_name) < 0 ||
	    call(w, "GET", ACCEPT_METADATA, NULL, NULL, 0, &r) < 0)
		return;
	if (r.status == 404) {
		t->meta_known = 1;
		return;
	}
	if (r.status != 200) {
		k8s_reply_text(&r, text, sizeof text);
		log_event(LOG_DEBUG, "cannot read the secret before applying it", "namespace", t->name,
		          "reason", text, NULL);
		return;
	}
	rec = calloc(1, sizeof *rec);
	if (rec && k8s_parse_secret_meta(r.body, r.body_len, cfg->field_manager, rec) == 0) {
		t->own_meta = rec;
		t->meta = rec;
		t->meta_known = 1;
	} else {
		free(rec);
	}
	k8s_reply_wipe(&r);
}

/* The run's body printed once, with this namespace spliced in: byte for byte what
 * secret_print_json(secret_manifest()) gives, so server-side apply sees the same applied
 * configuration as before, metadata.namespace included like kubectl apply sends it (and
 * like --output prints it). Leaving the field out would be as cheap but would lean on the
 * apiserver filling it in from the path and on managedFields never listing it: server
 * internals, where splicing leaves nothing to verify. Returns the length, or -1 with t
 * failed. */
static long render_body(struct worker *w, struct target *t)
{
	const struct apply_phase *run = w->run;
	size_t need = run->body.len + 6 * strlen(t->name) + 1;
	long len;

	if (w->body_cap < need) {
		char *fresh = malloc(need);

		if (!fresh) {
			target_fail(t, K8S_FAIL_OTHER, "out of memory");
			return -1;
		}
		free(w->body);          /* wiped after its last use */
		w->body = fresh;
		w->body_cap = need;
	}
	len = secret_body_render(&run->body, t->name, w->body, w->body_cap);
	if (len < 0)
		target_fail(t, K8S_FAIL_OTHER, "out of memory");
	return len;
}

/* Why an apply was refused, for the namespace's line. */
static void apply_refused(const struct config *cfg, struct target *t, const struct k8s_reply *r)
{
	char text[K8S_REASON_MAX - 64];

	k8s_reply_text(r, text, sizeof text);
	t->status = r->status;
	t->terminating |= r->st.namespace_terminating;
	if (r->status == 403 && r->st.namespace_terminating)
		target_fail(t, K8S_FAIL_REFUSED, "namespace is terminating: %s", text);
	else if (r->status == 409 && !cfg->force)
		target_fail(t, K8S_FAIL_REFUSED,
		            "%s (another field manager owns these fields; --force takes them over)", text);
	else
		target_fail(t, K8S_FAIL_REFUSED, "%s", text);
}

/*
 * The server-side apply: PATCH with application/apply-patch+yaml; fieldManager is
 * required, force only with --force, dryRun=All writes nothing (server-side-apply.md).
 * Outside a dry run only the answer's resourceVersion is read, so the metadata alone is
 * asked for (kube-apiserver v1.20.2: 777 bytes instead of 7.4 KB). Returns 0 with a 2xx
 * in r, or -1 with t failed. The body is wiped either way.
 */
static int send_apply(struct worker *w, struct target *t, long body_len, struct k8s_reply *r)
{
	const struct config *cfg = w->run->cfg;
	int rc;

	if (build_path(w, "/api/v1/namespaces/%s/secrets/%s?fieldManager=%s%s%s", t->name, cfg->secret_name,
	               k8s_client_field_manager(w->run->client), cfg->force ? "&force=true" : "",
	               cfg->dry_run ? "&dryRun=All" : "") < 0) {
		explicit_bzero(w->body, (size_t)body_len);
		target_fail(t, K8S_FAIL_OTHER, "URL too long");
		return -1;
	}
	rc = call(w, "PATCH", cfg->dry_run ? ACCEPT_JSON : ACCEPT_METADATA, "application/apply-patch+yaml",
	          w->body, (size_t)body_len, r);
	explicit_bzero(w->body, (size_t)body_len);
	if (rc < 0) {
		target_fail(t, r->failure, "%s", r->reason);
		return -1;
	}
	if (r->status < 200 || r->status >= 300) {
		apply_refused(cfg, t, r);
		return -1;
	}
	return 0;
}

/* created / updated / unchanged from the apply's answer and what was there before. */
static enum result apply_result(const struct config *cfg, const struct before *b, const struct k8s_reply *r)
{
	char version[VERSION_MAX];
	cJSON *after;
	int same;

	if (r->status == 201)
		return RESULT_CREATED;
	if (r->status != 200 || !b->known || !b->existed)
		return RESULT_UPDATED;
	if (!cfg->dry_run)
		return resource_version(r->body, r->body_len, version, sizeof version) &&
		       strcmp(version, b->version) == 0 ? RESULT_UNCHANGED : RESULT_UPDATED;
	after = k8s_json_parse(r->body, r->body_len);
	same = b->tree && after && cJSON_Compare(b->tree, after, 1);
	if (after)
		secret_wipe_tree(after);
	cJSON_Delete(after);
	return same ? RESULT_UNCHANGED : RESULT_UPDATED;
}

/* The ServiceAccounts of --service-accounts, after the Secret was written. */
static void add_to_service_accounts(struct worker *w, struct target *t)
{
	const struct config *cfg = w->run->cfg;
	struct k8s_reply r;

	for (size_t i = 0; i < cfg->service_accounts.count; i++) {
		const char *sa = cfg->service_accounts.items[i];

		if (add_to_service_account(w, t->name, sa, &r) < 0 && t->result != RESULT_FAILED) {
			target_fail(t, r.failure, "secret %s, but serviceaccount %s: %s", result_names[t->result], sa,
			            r.reason);
			t->status = r.status;
		}
	}
}

/*
 * Server-side apply of the Secret into one namespace, then the ServiceAccounts.
 *
 * created / updated / unchanged: 201 is created. A 200 is unchanged only when the apply
 * wrote nothing, and an apply that changes nothing keeps the resourceVersion
 * (docs/design.md "The Kubernetes API from a pod"), so the Secret's resourceVersion is read first and
 * compared with the apply's answer. It costs one round trip on the connection already
 * open: on kube-apiserver v1.20.2 over loopback, 200 namespaces took 0.60 s instead of
 * 0.44 s with one worker, 0.48 s instead of 0.38 s with four. The timestamps in
 * managedFields cannot replace it: they have one-second resolution, so a change within
 * the second of the previous one would pass for none. A dry run answers with the old
 * resourceVersion even when it would change the Secret, so there the whole object is read
 * and compared with the apply's answer instead. Without `get` (403) a 200 counts as
 * updated.
 */
static void apply_namespace(struct worker *w, struct target *t)
{
	struct before b = { 0 };
	struct k8s_reply r;
	long body_len;

	if (t->terminating) {
		target_fail(t, K8S_FAIL_REFUSED, "namespace %s is terminating", t->name);
		return;
	}
	if (read_before(w, t, &b) < 0)
		return;
	t->secret_exists = b.existed;
	body_len = render_body(w, t);
	if (body_len >= 0 && send_apply(w, t, body_len, &r) == 0) {
		t->result = apply_result(w->run->cfg, &b, &r);
		k8s_reply_wipe(&r);
		k8s_client_wrote(w->run->client);
		add_to_service_accounts(w, t);
	}
	if (b.tree)
		secret_wipe_tree(b.tree);
	cJSON_Delete(b.tree);
}

/* ---- the workers ----------------------------------------------------------------------- */

static void report(const struct apply_phase *run, const struct target *t)
{
	const struct config *cfg = run->cfg;
	const char *dry = cfg->dry_run ? "dry_run" : NULL;

	if (t->result == RESULT_FAILED)
		log_event(LOG_ERROR, "secret not applied", "namespace", t->name, "secret", cfg->secret_name,
		          "result", "failed", "reason", t->reason ? t->reason : "out of memory", dry, "true", NULL);
	else if (t->result == RESULT_FRESH)
		log_event(LOG_INFO, "secret fresh", "namespace", t->name, "secret", cfg->secret_name,
		          "result", "fresh", "expires_at", t->meta->expires_at[0] ? t->meta->expires_at : NULL, dry, "true", NULL);
	else
		log_event(LOG_INFO, "secret applied", "namespace", t->name, "secret", cfg->secret_name,
		          "result", result_names[t->result], dry, "true", NULL);
}

/* The first refused Event says Events are not allowed: one warning, no more tries. */
static int events_allowed(struct apply_phase *run, int refused)
{
	int allowed;

	pthread_mutex_lock(&run->lock);
	if (refused && !run->events_denied)
		log_event(LOG_WARN, "cannot record Events", "fix",
		          "grant create on events (events.k8s.io) to see failures there", "namespace_event", "skipped", NULL);
	run->events_denied |= refused;
	allowed = !run->events_denied;
	pthread_mutex_unlock(&run->lock);
	return allowed;
}

/*
 * A failed namespace as a Warning Event in it (events.h), best effort. Not in a dry run
 * (an Event is a write), not into a terminating namespace (refused), and a failure to
 * reach the server only once the server took writes this run: before that, every post
 * would wait out the same retries.
 */
static void record_failure(struct worker *w, struct target *t)
{
	struct apply_phase *run = w->run;
	int connectivity = k8s_failure_is_connectivity(t->failure);
	struct event_spec spec = {
		.namespace = t->name, .secret_name = run->cfg->secret_name, .action = "Apply",
		.regarding_kind = t->secret_exists ? "Secret" : "Namespace",
		.regarding_name = t->secret_exists ? run->cfg->secret_name : t->name,
		.reason = connectivity ? EVENT_UNAVAILABLE : events_reason_for_status(t->status),
		.message = t->reason ? t->reason : "out of memory", .instance = run->instance,
	};

	if (t->result != RESULT_FAILED || run->cfg->dry_run || t->terminating ||
	    (connectivity && k8s_client_writes(run->client) == 0) || !events_allowed(run, 0))
		return;
	events_now(&spec);
	if (events_post(w->conn, &spec) == 1)
		events_allowed(run, 1);
}

/* Phase 2's job: the namespaces that need it are written, the others were fresh. */
static void apply_job(struct worker *w, struct target *t)
{
	if (!t->needs_write)
		return;
	t->secret_exists = t->meta != NULL;
	apply_namespace(w, t);
	record_failure(w, t);
	report(w->run, t);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct apply_phase *run = w->run;

	for (;;) {
		struct target *t;

		pthread_mutex_lock(&run->lock);
		t = run->next < run->target_count ? &run->targets[run->next++] : NULL;
		pthread_mutex_unlock(&run->lock);
		if (!t)
			break;
		run->job(w, t);
		/* a large answer's bytes go back to the budget before the next namespace */
		k8s_conn_shrink(w->conn);
	}
	return NULL;
}

static struct worker *worker_new(struct apply_phase *run, unsigned index)
{
	struct worker *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->run = run;
	w->conn = k8s_conn_new(run->client, index, run->worker_buf_size);
	if (!w->conn) {
		free(w);
		return NULL;
	}
	return w;
}

/* Wipes what held Secret data and frees. */
static void worker_free(struct worker *w)
{
	if (!w)
		return;
	k8s_conn_free(w->conn);
	if (w->body)
		explicit_bzero(w->body, w->body_cap);
	free(w->body);
	free(w);
}

/* Starts workers 1..count-1 as threads and runs worker 0 on the calling thread. */
static void run_workers(struct worker **workers, size_t count)
{
	pthread_attr_t attr;
	size_t started = 1;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (; started < count; started++)
		if (pthread_create(&workers[started]->thread, &attr, worker_main, workers[started]) != 0)
			break;   /* fewer workers still finish the job */
	pthread_attr_destroy(&attr);
	worker_main(workers[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(workers[i]->thread, NULL);
}

/* Runs job over run->targets on up to --concurrency workers (no more than there are
 * targets to do). Returns 0, or -1 when not even one could start. */
static int run_jobs(struct apply_phase *run, job_fn *job, size_t todo)
{
	size_t count = (size_t)run->cfg->concurrency;
	struct worker **workers;

	if (count > todo)
		count = todo;
	if (count == 0)
		return 0;
	workers = calloc(count, sizeof *workers);
	if (!workers)
		return -1;
	for (size_t i = 0; i < count; i++) {
		workers[i] = worker_new(run, (unsigned)i);
		if (!workers[i]) {
			count = i;
			break;
		}
	}
	run->job = job;
	run->next = 0;
	if (count > 0)
		run_workers(workers, count);
	for (size_t i = 0; i < count; i++)
		worker_free(workers[i]);
	free(workers);
	return count > 0 ? 0 : -1;
}

/* ---- phase 1: the targets and what their Secrets say ------------------------------------ */

/* The targets as the workers see them; each needs a write until apply_plan says not.
 * Returns 0 or -1 (out of memory). */
static int take_targets(struct apply_phase *run)
{
	run->targets = calloc(run->names.count ? run->names.count : 1, sizeof *run->targets);
	if (!run->targets)
		return -1;
	for (size_t i = 0; i < run->names.count; i++) {
		run->targets[i].name = run->names.items[i].name;
		run->targets[i].terminating = run->names.items[i].terminating;
		run->targets[i].needs_write = 1;
	}
	run->target_count = run->names.count;
	return 0;
}

/*
 * What each target's Secret is before anything is written: one metadata-only list of them
 * all (fresh.h), or where that is forbidden, each namespace's own read (logged once, at
 * info). A dry run without --refresh-before reads each whole Secret in phase 2 instead.
 * Returns 0, or the exit code, logged.
 */
static int read_secrets(struct apply_phase *run, int one_by_one)
{
	struct k8s_conn *conn;
	struct k8s_reply r;
	int rc;

	if (run->target_count == 0 || (run->cfg->dry_run && !run->cfg->refresh_before_s))
		return 0;
	/* a watch's repair: a few namespaces, not worth the list of them all */
	if (one_by_one)
		return run_jobs(run, read_one_secret, run->target_count) < 0 ? EXIT_PARTIAL : 0;
	conn = k8s_conn_new(run->client, 0, K8S_LIST_BUF);
	if (!conn)
		return EXIT_PARTIAL;
	rc = fresh_list_secrets(conn, run->cfg, &run->secrets, &r);
	k8s_conn_free(conn);
	if (rc == 0) {
		for (size_t i = 0; i < run->target_count; i++) {
			run->targets[i].meta = k8s_secret_meta_find(&run->secrets, run->targets[i].name);
			run->targets[i].meta_known = 1;
		}
		return 0;
	}
	if (k8s_failure_is_connectivity(r.failure)) {
		log_event(LOG_ERROR, "cannot list secrets", "reason", r.reason, "api_server",
		          k8s_client_base(run->client), NULL);
		return EXIT_KUBERNETES;
	}
	log_event(rc > 0 ? LOG_INFO : LOG_WARN, "secrets read one namespace at a time", "reason", r.reason, NULL);
	return run_jobs(run, read_one_secret, run->target_count) < 0 ? EXIT_PARTIAL : 0;
}

/* ---- phase 2 --------------------------------------------------------------------------- */

static int exit_code(struct apply_phase *run, unsigned failed)
{
	int connectivity_only = 1;

	if (failed == 0)
		return EXIT_OK;
	for (size_t i = 0; i < run->target_count; i++)
		if (run->targets[i].result == RESULT_FAILED && !k8s_failure_is_connectivity(run->targets[i].failure))
			connectivity_only = 0;
	return k8s_client_writes(run->client) == 0 && connectivity_only ? EXIT_KUBERNETES : EXIT_PARTIAL;
}

static void summary(const struct apply_phase *run, const unsigned counts[RESULT_COUNT])
{
	char number[RESULT_COUNT + 1][24], seconds[32], requests[24], retries[24];
	double taken = (double)(net_now_ms() - run->started_ms) / 1000.0;
	unsigned made, retried;

	k8s_client_counts(run->client, &made, &retried);
	for (int i = 0; i < RESULT_COUNT; i++)
		snprintf(number[i], sizeof number[i], "%u", counts[i]);
	snprintf(number[RESULT_COUNT], sizeof number[RESULT_COUNT], "%zu", run->target_count);
	snprintf(seconds, sizeof seconds, "%.3f", taken);
	snprintf(requests, sizeof requests, "%u", made);
	snprintf(retries, sizeof retries, "%u", retried);
	log_event(counts[RESULT_FAILED] ? LOG_ERROR : LOG_INFO, "kubernetes phase finished",
	          "#namespaces", number[RESULT_COUNT], "#created", number[RESULT_CREATED],
	          "#updated", number[RESULT_UPDATED], "#unchanged", number[RESULT_UNCHANGED],
	          "#fresh", number[RESULT_FRESH], "#failed", number[RESULT_FAILED],
	          "#requests", requests, "#retries", retries, "#seconds", seconds,
	          run->cfg->dry_run ? "dry_run" : NULL, "true", NULL);
}

/* The apply body, and room for the request head and the apply's answer (metadata, or with
 * --dry-run the Secret); grown per answer from the budget up to K8S_BUF_MAX.
 * Returns 0 or -1 (out of memory). */
static int prepare_body(struct apply_phase *run)
{
	const struct apply_params *p = run->params;
	struct secret_spec spec = { run->cfg->secret_name, "", p->dockerconfigjson, p->registries, p->expires_at,
	                            p->config_digest };

	run->worker_buf_size = WORKER_SLACK + 2 * (strlen(p->dockerconfigjson) * 4 / 3 + strlen(p->registries));
	if (run->worker_buf_size > K8S_BUF_MAX)
		run->worker_buf_size = K8S_BUF_MAX;
	return secret_body_init(&run->body, &spec);
}

size_t apply_plan(struct apply_phase *run, const struct fresh_want *want)
{
	size_t pending = 0;

	for (size_t i = 0; i < run->target_count; i++) {
		struct target *t = &run->targets[i];
		char why[FRESH_WHY_SIZE] = "not read";

		t->needs_write = t->terminating || !t->meta_known || !fresh_decide(t->meta, want, why);
		if (t->needs_write)
			log_event(LOG_DEBUG, "secret needs a write", "namespace", t->name, "why",
			          t->terminating ? "namespace terminating" : why, NULL);
		pending += (size_t)t->needs_write;
	}
	return pending;
}

int apply_write(struct apply_phase *run, const struct apply_params *payload)
{
	unsigned counts[RESULT_COUNT] = { 0 };
	size_t pending = 0;
	int rc;

	if (run->target_count == 0) {
		log_event(LOG_WARN, "no namespace matches the targets", NULL);
		summary(run, counts);
		return EXIT_OK;
	}
	for (size_t i = 0; i < run->target_count; i++) {
		if (!run->targets[i].needs_write) {
			run->targets[i].result = RESULT_FRESH;
			report(run, &run->targets[i]);
		}
		pending += (size_t)run->targets[i].needs_write;
	}
	if (pending > 0) {
		run->params = payload;
		if ((rc = k8s_client_reload_token(run->client)) != 0)
			return rc;
		if (!payload || prepare_body(run) < 0 || run_jobs(run, apply_job, pending) < 0) {
			log_event(LOG_ERROR, "out of memory", NULL);
			return EXIT_PARTIAL;
		}
	}
	for (size_t i = 0; i < run->target_count; i++)
		counts[run->targets[i].result]++;
	summary(run, counts);
	return exit_code(run, counts[RESULT_FAILED]);
}

/* ---- the phases as one ------------------------------------------------------------------- */

/* The pod's own namespace, when it is the default target. Returns 0 or EXIT_CONFIG. */
static int default_namespace(const struct config *cfg, char *own, size_t size)
{
	char err[512];

	if (cfg->namespaces.count > 0 || cfg->namespace_selector)
		return 0;
	if (targets_own_namespace(cfg->serviceaccount_dir, own, size, err, sizeof err) == 0)
		return 0;
	log_event(LOG_ERROR, "no target namespace", "reason", err, NULL);
	return EXIT_CONFIG;
}

/* The targets of the configuration, or `only` (as a watch found them). */
static int resolve(struct apply_phase *run, const struct k8s_namespace_list *only, const char *own)
{
	if (!only)
		return targets_resolve(run->client, run->cfg, own, &run->names);
	for (size_t i = 0; i < only->count; i++)
		if (k8s_namespace_list_add(&run->names, only->items[i].name, only->items[i].terminating) < 0) {
			log_event(LOG_ERROR, "out of memory", NULL);
			return EXIT_PARTIAL;
		}
	return 0;
}

static int open_phase(const struct config *cfg, const struct http_proxy *proxy, int64_t deadline_ms,
                      const struct k8s_namespace_list *only, struct apply_phase **out)
{
	struct apply_phase *run = calloc(1, sizeof *run);
	char own[64] = "";
	int rc;

	*out = run;
	if (!run || pthread_mutex_init(&run->lock, NULL) != 0) {
		free(run);
		*out = NULL;
		log_event(LOG_ERROR, "out of memory", NULL);
		return EXIT_PARTIAL;
	}
	run->cfg = cfg;
	run->started_ms = net_now_ms();
	run->worker_buf_size = HTTP_MAX_HEADER + WORKER_SLACK;
	events_instance(run->instance, sizeof run->instance);
	if ((!only && (rc = default_namespace(cfg, own, sizeof own)) != 0) ||
	    (rc = k8s_client_open(cfg, proxy, deadline_ms, &run->client)) != 0)
		return rc;
	if ((rc = resolve(run, only, own[0] ? own : NULL)) == 0 &&
	    (rc = take_targets(run) < 0 ? EXIT_PARTIAL : 0) == 0)
		rc = read_secrets(run, only != NULL);
	if (rc == EXIT_KUBERNETES && !cfg->dry_run)
		events_post_run(run->client, cfg, EVENT_CLUSTER_UNAVAILABLE, "the namespaces or the Secrets could not "
		                "be read, nothing was written (exit 4)", run->instance);
	return rc;
}

int apply_open(const struct config *cfg, const struct http_proxy *proxy, int64_t deadline_ms,
               struct apply_phase **out)
{
	return open_phase(cfg, proxy, deadline_ms, NULL, out);
}

void apply_run_failed(struct apply_phase *run, const char *message)
{
	if (run && run->client && !run->cfg->dry_run)
		events_post_run(run->client, run->cfg, EVENT_TOKEN_UNAVAILABLE, message, run->instance);
}

void apply_close(struct apply_phase *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->target_count; i++) {
		free(run->targets[i].reason);
		if (run->targets[i].own_meta)
			k8s_secret_meta_clear(run->targets[i].own_meta);
		free(run->targets[i].own_meta);
	}
	free(run->targets);
	secret_body_free(&run->body);
	k8s_namespace_list_free(&run->names);
	k8s_secret_meta_list_free(&run->secrets);
	k8s_client_close(run->client);
	pthread_mutex_destroy(&run->lock);
	free(run);
}

int apply_run(const struct apply_params *params)
{
	struct apply_phase *run;
	int rc = open_phase(params->cfg, params->proxy, params->deadline_ms, params->only, &run);

	if (rc == 0)
		rc = apply_write(run, params);
	apply_close(run);
	return rc;
}

int apply_preflight(const struct config *cfg, char *err, size_t errlen)
{
	char own[64];

	if (cfg->namespaces.count == 0 && !cfg->namespace_selector &&
	    targets_own_namespace(cfg->serviceaccount_dir, own, sizeof own, err, errlen) < 0)
		return EXIT_CONFIG;
	return k8s_client_check(cfg, err, errlen);
}
