/*
 * k8s: the Kubernetes phase of a run; see k8s.h.
 *
 *   1. settle the API server URL, its trust (the ServiceAccount ca.crt and nothing else)
 *      and the bearer token;
 *   2. list namespaces, on one connection, only when a glob or a label selector needs it;
 *   3. --concurrency workers, each owning one persistent connection and its buffer, take
 *      namespaces from a shared index: read the Secret's metadata, server-side-apply the
 *      Secret, add it to the named ServiceAccounts;
 *   4. one log line per namespace, one summary line, the exit code.
 *
 * Kubernetes references: server-side apply (kubernetes/website content/en/docs/reference/
 * using-api/server-side-apply.md), API concepts for paging and dry run (reference/
 * using-api/api-concepts.md), Status (kubernetes/apimachinery pkg/apis/meta/v1/types.go),
 * client-go rest/request.go for the retry of 429 and 5xx answers.
 */
#include "k8s.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "anchors.h"
#include "exitcode.h"
#include "files.h"
#include "k8sjson.h"
#include "log.h"
#include "net.h"
#include "retry.h"
#include "secret.h"

#ifndef ECR_REFRESH_VERSION
#define ECR_REFRESH_VERSION "unknown"
#endif

#define TOKEN_MAX           FILES_TOKEN_MAX
#define TOKEN_REDACTED_MAX  16      /* distinct tokens a run registers for redaction */
#define TOKEN_MAX_AGE_MS    60000   /* kubelet rotates the file; PROTOCOLS.md 7 asks <= 5 min */
#define PATH_MAX_LEN        4096
#define LIST_LIMIT          250     /* namespaces per page: a parsed page is the peak of RSS */
#define LIST_BUF_SIZE       (HTTP_MAX_HEADER + 256 * 1024)
#define WORKER_SLACK        (64 * 1024)
#define BUF_SIZE_MAX        (HTTP_MAX_HEADER + HTTP_DEFAULT_MAX_BODY)
#define MAX_ATTEMPTS        10      /* per request; client-go retries 429/5xx up to 10 times */
#define BACKOFF_BASE_MS     200
#define BACKOFF_CAP_MS      5000
#define RETRY_AFTER_CAP_S   10
#define SA_CONFLICT_RETRIES 5
#define REASON_MAX          480
#define WORKER_STACK        (256 * 1024)

/* Why a request or a namespace failed. The first three, alone and before any write, make
 * the run's exit code 4 (SPEC.md "Logs and exit codes"). */
enum failure {
	FAIL_NONE,
	FAIL_UNREACHABLE,   /* connect, TLS, dropped connections, 429/5xx until we gave up */
	FAIL_UNTRUSTED,     /* the server certificate is not signed by ca.crt or wrong name */
	FAIL_UNAUTHORISED,  /* 401 after re-reading the token, or an unreadable token */
	FAIL_DEADLINE,      /* the run deadline passed first */
	FAIL_REFUSED,       /* an answer for this namespace: 403, 404, 409, 422, terminating */
	FAIL_OTHER,         /* malformed answers, sizes, out of memory */
};

enum result { RESULT_FAILED, RESULT_CREATED, RESULT_UPDATED, RESULT_UNCHANGED };

static const char *const result_names[] = { "failed", "created", "updated", "unchanged" };

struct target {
	const char *name;               /* into the resolved namespace list */
	int terminating;
	enum result result;
	enum failure failure;
	char *reason;                   /* heap, only once failed: a thousand targets that
	                                 * succeed should not carry a REASON_MAX buffer each */
};

/* The ServiceAccount token, shared by the workers. generation counts reads, so a worker
 * that got a 401 re-reads the file only when nobody did since its request. */
struct token_store {
	pthread_mutex_t lock;
	char path[PATH_MAX_LEN];
	char value[TOKEN_MAX + 1];
	size_t len;
	int present;                    /* 0: no token file, send no Authorization */
	unsigned generation;
	int64_t read_ms;
	/* copies of the tokens read, registered with the log's redaction as a second guard;
	 * value itself is rewritten on every read, so it cannot be registered */
	char *redacted[TOKEN_REDACTED_MAX];
	unsigned redacted_count;
};

struct run {
	const struct k8s_run_params *params;
	const struct config *cfg;
	char base[HTTP_MAX_URL + 1];    /* scheme://host:port[/prefix], no trailing slash */
	int https;
	struct anchors anchors;
	const struct http_proxy *proxy;
	char field_manager[3 * 128 + 1];/* query-encoded */
	int64_t started_ms, deadline_ms, timeout_ms;
	size_t worker_buf_size;
	struct token_store token;
	struct secret_body body;        /* the apply body, printed once for every namespace */

	/* lock guards next, the counters and the abort state; a target belongs to the
	 * worker that took it from next */
	pthread_mutex_t lock;
	struct target *targets;
	size_t target_count, next;
	unsigned written;               /* namespaces whose apply the server accepted */
	unsigned responses;             /* HTTP answers of any status */
	unsigned requests, retries;
	int aborted;
	enum failure abort_failure;
	char abort_reason[REASON_MAX];
};

struct worker {
	struct run *run;
	unsigned index;
	struct http_conn conn;
	struct http_response resp;
	char *buf;
	size_t buf_size;
	char authorization[7 + TOKEN_MAX + 1];
	int has_token;
	unsigned token_generation;
	uint64_t rng;
	char url[HTTP_MAX_URL + 1];
	char *body;                     /* this namespace's apply body, reused (wiped after use) */
	size_t body_cap;
	pthread_t thread;
	unsigned requests, retries;
};

/* The outcome of one API call after its retries. */
struct reply {
	int status;                     /* final HTTP status; 0 when failed */
	const char *body;               /* view into the worker's buffer */
	size_t body_len;
	enum failure failure;           /* when the call failed */
	char reason[REASON_MAX];
	struct k8s_status st;           /* parsed for status >= 400 */
};

/* ---- small helpers ------------------------------------------------------------------- */

/* snprintf for messages that may be cut: a truncated reason is still a reason. */
static void format_text(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void format_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

static int join_path(char *out, size_t size, const char *dir, const char *file)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return snprintf(out, size, "%.*s/%s", (int)n, dir, file) < (int)size ? 0 : -1;
}

/* ---- the token ----------------------------------------------------------------------- */

/* Reads the token file (the caller holds the lock). A missing file means no token is sent
 * (SPEC.md: kubectl proxy adds the credentials itself). */
static int token_read_locked(struct token_store *t, char *err, size_t errlen)
{
	long n = files_read("", t->path, t->value, TOKEN_MAX, err, errlen);

	t->read_ms = net_now_ms();
	t->generation++;
	if (n == FILES_ENOENT) {
		explicit_bzero(t->value, sizeof t->value);
		t->len = 0;
		t->present = 0;
		return 0;
	}
	t->present = 0;
	if (n < 0)
		return -1;
	t->len = files_trim(t->value, (size_t)n);
	if (t->len == 0) {
		format_text(err, errlen, "%s is empty", t->path);
		return -1;
	}
	/* it goes into a header line: a JWT is base64url and dots, so printable ASCII only */
	for (size_t i = 0; i < t->len; i++) {
		if (t->value[i] <= 0x20 || t->value[i] >= 0x7f) {
			explicit_bzero(t->value, sizeof t->value);
			t->len = 0;
			format_text(err, errlen, "%s holds characters a bearer token cannot have", t->path);
			return -1;
		}
	}
	t->present = 1;
	if (t->redacted_count < TOKEN_REDACTED_MAX &&
	    (t->redacted_count == 0 || strcmp(t->redacted[t->redacted_count - 1], t->value) != 0)) {
		char *copy = malloc(t->len + 1);

		if (copy) {
			memcpy(copy, t->value, t->len + 1);
			log_register_secret(copy);
			t->redacted[t->redacted_count++] = copy;
		}
	}
	return 0;
}

/* Forces a re-read: at the start of each phase (bound tokens rotate). */
static int token_reload(struct token_store *t, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = token_read_locked(t, err, errlen);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/*
 * Brings the worker's Authorization header up to date: re-reads the file when it is older
 * than TOKEN_MAX_AGE_MS, or when after_401 and nobody re-read it since this worker took
 * its copy.
 */
static int worker_token(struct worker *w, int after_401, char *err, size_t errlen)
{
	struct token_store *t = &w->run->token;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if ((after_401 && t->generation == w->token_generation) ||
	    net_now_ms() - t->read_ms > TOKEN_MAX_AGE_MS)
		rc = token_read_locked(t, err, errlen);
	if (rc == 0 && t->generation != w->token_generation) {
		explicit_bzero(w->authorization, sizeof w->authorization);
		w->has_token = t->present;
		if (t->present) {
			memcpy(w->authorization, "Bearer ", 7);
			memcpy(w->authorization + 7, t->value, t->len + 1);
		}
		w->token_generation = t->generation;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- one API call, with its retries -------------------------------------------------- */

static void reply_fail(struct reply *r, enum failure failure, const char *reason)
{
	r->status = 0;
	r->failure = failure;
	format_text(r->reason, sizeof r->reason, "%s", reason);
}

/* Before anything was written, a trust or credential failure (or a server that never
 * answered at all) is the same for every namespace: stop the run instead of repeating it
 * for each of them. */
static void maybe_abort(struct run *run, const struct reply *r)
{
	pthread_mutex_lock(&run->lock);
	if (!run->aborted && run->written == 0 &&
	    (r->failure == FAIL_UNTRUSTED || r->failure == FAIL_UNAUTHORISED ||
	     (r->failure == FAIL_UNREACHABLE && run->responses == 0))) {
		run->aborted = 1;
		run->abort_failure = r->failure;
		format_text(run->abort_reason, sizeof run->abort_reason, "%s", r->reason);
	}
	pthread_mutex_unlock(&run->lock);
}

static int run_aborted(struct run *run, struct reply *r)
{
	int aborted;

	pthread_mutex_lock(&run->lock);
	aborted = run->aborted;
	if (aborted)
		reply_fail(r, run->abort_failure, run->abort_reason);
	pthread_mutex_unlock(&run->lock);
	return aborted;
}

/* Replaces the worker's buffer with a larger one after a response did not fit. */
static int worker_grow(struct worker *w)
{
	size_t size = w->buf_size * 2;
	char *buf;

	if (w->buf_size >= BUF_SIZE_MAX)
		return -1;
	if (size > BUF_SIZE_MAX)
		size = BUF_SIZE_MAX;
	buf = malloc(size);
	if (!buf)
		return -1;
	http_conn_close(&w->conn);
	explicit_bzero(w->buf, w->buf_size);
	free(w->buf);
	w->buf = buf;
	w->buf_size = size;
	http_conn_init(&w->conn, w->buf, w->buf_size, w->run->proxy);
	return 0;
}

static const char *answer_text(int status)
{
	switch (status) {
	case 401: return "Unauthorized";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "error";
	}
}

/*
 * Sends one request and returns 0 with r->status set once there is an answer to act on:
 * any 2xx or 4xx other than 401. 429 and 5xx are retried after Retry-After (capped) or a
 * backoff, dropped connections on a fresh connection, a 401 once after re-reading the
 * token; all within the run deadline. Returns -1 with r->failure and r->reason otherwise.
 */
static int k8s_call(struct worker *w, const char *method, const char *url, const char *accept,
                    const char *content_type, const char *body, size_t body_len, struct reply *r)
{
	struct run *run = w->run;
	char last[REASON_MAX] = "", err[300];
	int attempt = 0, reauthorised = 0;

	memset(r, 0, sizeof *r);
	r->st.retry_after_s = -1;
	for (;;) {
		struct http_header headers[4];
		struct http_request req;
		size_t n = 0;
		int64_t now = net_now_ms(), wait;
		int rc;

		if (run_aborted(run, r))
			return -1;
		if (now >= run->deadline_ms) {
			format_text(r->reason, sizeof r->reason, "deadline exceeded%s%s", last[0] ? ": " : "", last);
			r->failure = FAIL_DEADLINE;
			return -1;
		}
		if (worker_token(w, 0, err, sizeof err) < 0) {
			reply_fail(r, FAIL_UNAUTHORISED, err);
			maybe_abort(run, r);
			return -1;
		}
		if (w->has_token)
			headers[n++] = (struct http_header){ "Authorization", 13, w->authorization, strlen(w->authorization) };
		headers[n++] = (struct http_header){ "Accept", 6, accept, strlen(accept) };
		if (content_type)
			headers[n++] = (struct http_header){ "Content-Type", 12, content_type, strlen(content_type) };
		headers[n++] = (struct http_header){ "User-Agent", 10, "ecr-refresh/" ECR_REFRESH_VERSION,
		                                     strlen("ecr-refresh/" ECR_REFRESH_VERSION) };
		memset(&req, 0, sizeof req);
		req.method = method;
		req.url = url;
		req.headers = headers;
		req.header_count = n;
		req.body = body;
		req.body_len = body_len;
		req.anchors = run->https ? &run->anchors : NULL;
		req.deadline_ms = now + run->timeout_ms < run->deadline_ms ? now + run->timeout_ms : run->deadline_ms;
		req.max_body = w->buf_size - HTTP_MAX_HEADER;
		w->requests++;
		rc = http_request(&w->conn, &req, &w->resp);
		if (rc < 0) {
			format_text(last, sizeof last, "%s", w->conn.err[0] ? w->conn.err : "request failed");
			http_conn_close(&w->conn);
			if (rc == HTTP_ETOOBIG && worker_grow(w) == 0)
				continue;
			if (rc == HTTP_ECERT) {
				format_text(r->reason, sizeof r->reason, "API server certificate refused: %s", last);
				r->failure = FAIL_UNTRUSTED;
				maybe_abort(run, r);
				return -1;
			}
			if (rc == HTTP_ETOOBIG || rc == HTTP_EURL || rc == HTTP_EARG) {
				reply_fail(r, FAIL_OTHER, last);
				return -1;
			}
			/* EIO, ETIMEOUT, ECONNECT, ETLS, EPROTO, EPROXY: a new connection may do */
			wait = retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, retry_random(&w->rng));
		} else {
			int status = w->resp.status;

			pthread_mutex_lock(&run->lock);
			run->responses++;
			pthread_mutex_unlock(&run->lock);
			if (status == 401 && !reauthorised) {
				/* bound tokens rotate: re-read the file, then try once more
				 * (PROTOCOLS.md 7) */
				reauthorised = 1;
				if (worker_token(w, 1, err, sizeof err) < 0) {
					reply_fail(r, FAIL_UNAUTHORISED, err);
					maybe_abort(run, r);
					return -1;
				}
				continue;
			}
			if (status == 401) {
				format_text(r->reason, sizeof r->reason,
				         w->has_token ? "401 Unauthorized: the API server refused the token from %s"
				                      : "401 Unauthorized: no token was sent (%s does not exist)",
				         run->token.path);
				r->failure = FAIL_UNAUTHORISED;
				maybe_abort(run, r);
				return -1;
			}
			if (status != 429 && status < 500) {
				r->status = status;
				r->body = w->resp.body;
				r->body_len = w->resp.body_len;
				if (status >= 400)
					k8s_parse_status(r->body, r->body_len, &r->st);
				return 0;
			}
			/* 429 and 5xx: wait what the server asks (RFC 9110 10.2.3, or the Status
			 * retryAfterSeconds), capped, else back off */
			{
				const struct http_header *h = http_find_header(&w->resp, "Retry-After");
				long seconds = h ? retry_after_seconds(h->value, h->value_len) : -1;
				struct k8s_status st;

				k8s_parse_status(w->resp.body, w->resp.body_len, &st);
				if (seconds < 0)
					seconds = st.retry_after_s;
				format_text(last, sizeof last, "%d %s%s%s", status, st.reason[0] ? st.reason : answer_text(status),
				         st.message[0] ? ": " : "", st.message);
				wait = retry_wait_ms(seconds, RETRY_AFTER_CAP_S,
				                     retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
				                                      retry_random(&w->rng)));
			}
		}
		if (++attempt >= MAX_ATTEMPTS) {
			format_text(r->reason, sizeof r->reason, "gave up after %d attempts: %s", attempt, last);
			r->failure = FAIL_UNREACHABLE;
			maybe_abort(run, r);
			return -1;
		}
		if (net_now_ms() + wait >= run->deadline_ms) {
			format_text(r->reason, sizeof r->reason, "deadline exceeded: %s", last);
			r->failure = FAIL_DEADLINE;
			return -1;
		}
		w->retries++;
		if (log_enabled(LOG_DEBUG)) {
			char wait_text[24];

			format_text(wait_text, sizeof wait_text, "%lld", (long long)wait);
			log_event(LOG_DEBUG, "kubernetes request retried", "method", method, "url", url,
			          "error", last, "#wait_ms", wait_text, NULL);
		}
		if (retry_sleep(wait, run->deadline_ms) < 0) {
			format_text(r->reason, sizeof r->reason, "deadline exceeded: %s", last);
			r->failure = FAIL_DEADLINE;
			return -1;
		}
	}
}

/* "Reason: message" of a refused answer, for the namespace's log line. */
static void status_text(const struct reply *r, char *out, size_t size)
{
	const char *reason = r->st.reason[0] ? r->st.reason : NULL;

	if (r->st.message[0])
		format_text(out, size, "%d %s: %s", r->status, reason ? reason : "error", r->st.message);
	else
		format_text(out, size, "%d %s", r->status, reason ? reason : "error");
}

static int build_url(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int build_url(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(w->url, sizeof w->url, "%s", w->run->base);

	va_start(ap, fmt);
	n += vsnprintf(w->url + n, sizeof w->url - (size_t)n, fmt, ap);
	va_end(ap);
	return n < (int)sizeof w->url ? 0 : -1;
}

/* ---- listing namespaces ---------------------------------------------------------------- */

/*
 * Pages through GET /api/v1/namespaces (limit + continue, api-concepts.md "Retrieving
 * large results sets in chunks"); a 410 Gone means the continue token expired: relist.
 */
static int list_namespaces(struct worker *w, const char *selector, struct k8s_namespace_list *out,
                           struct reply *r)
{
	char cont[K8S_MAX_CONTINUE + 1] = "", cont_q[3 * K8S_MAX_CONTINUE + 1], selector_q[HTTP_MAX_URL];
	char err[200];
	int relists = 0;

	if (selector && k8s_query_encode(selector, selector_q, sizeof selector_q) < 0) {
		reply_fail(r, FAIL_OTHER, "the label selector is too long for a URL");
		return -1;
	}
	for (;;) {
		if (cont[0])
			k8s_query_encode(cont, cont_q, sizeof cont_q);
		if (build_url(w, "/api/v1/namespaces?limit=%d%s%s%s%s", LIST_LIMIT,
		              selector ? "&labelSelector=" : "", selector ? selector_q : "",
		              cont[0] ? "&continue=" : "", cont[0] ? cont_q : "") < 0) {
			reply_fail(r, FAIL_OTHER, "namespace list URL too long");
			return -1;
		}
		if (k8s_call(w, "GET", w->url, "application/json", NULL, NULL, 0, r) < 0)
			return -1;
		if (r->status == 410 && cont[0] && relists < 3) {
			k8s_namespace_list_free(out);
			cont[0] = '\0';
			relists++;
			continue;
		}
		if (r->status != 200) {
			char text[REASON_MAX - 32];

			status_text(r, text, sizeof text);
			format_text(r->reason, sizeof r->reason, "listing namespaces: %s", text);
			r->failure = FAIL_REFUSED;
			return -1;
		}
		if (k8s_parse_namespace_page(r->body, r->body_len, out, cont, sizeof cont, err, sizeof err) < 0) {
			reply_fail(r, FAIL_OTHER, err);
			return -1;
		}
		if (!cont[0])
			return 0;
	}
}

/* ---- one namespace ------------------------------------------------------------------- */

static void target_fail(struct target *t, enum failure failure, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void target_fail(struct target *t, enum failure failure, const char *fmt, ...)
{
	char text[REASON_MAX];
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

	if (found >= 0)
		return found;
	/* the scan was unsure: cJSON decides */
	{
		cJSON *root = k8s_json_parse(body, len);
		const char *v = string_at(root, "metadata", "resourceVersion");
		int ok = v && strlen(v) < size;

		if (ok)
			memcpy(out, v, strlen(v) + 1);
		cJSON_Delete(root);
		return ok;
	}
}

/* Wipes a response that carried Secret data, once read. */
static void wipe_reply(struct reply *r)
{
	if (r->body && r->body_len)
		explicit_bzero((char *)(uintptr_t)r->body, r->body_len);
}

/*
 * Adds the Secret to one ServiceAccount's imagePullSecrets: GET, append when missing, PUT
 * with the resourceVersion read, again on 409 (someone changed it in between). Returns 0,
 * or -1 with reason filled.
 */
static int add_to_service_account(struct worker *w, const char *ns, const char *sa, struct reply *r)
{
	const struct config *cfg = w->run->cfg;
	char err[200], text[REASON_MAX - 64];

	for (int attempt = 0; attempt < SA_CONFLICT_RETRIES; attempt++) {
		char *put_body = NULL;
		int rc;

		if (build_url(w, "/api/v1/namespaces/%s/serviceaccounts/%s", ns, sa) < 0) {
			reply_fail(r, FAIL_OTHER, "URL too long");
			return -1;
		}
		if (k8s_call(w, "GET", w->url, "application/json", NULL, NULL, 0, r) < 0)
			return -1;
		if (r->status != 200) {
			status_text(r, text, sizeof text);
			r->failure = FAIL_REFUSED;
			format_text(r->reason, sizeof r->reason, "%s", text);
			return -1;
		}
		rc = k8s_sa_add_pull_secret(r->body, r->body_len, cfg->secret_name, &put_body, err, sizeof err);
		if (rc < 0) {
			reply_fail(r, FAIL_OTHER, err);
			return -1;
		}
		if (rc == 0) {
			log_event(LOG_DEBUG, "service account already lists the secret", "namespace", ns,
			          "service_account", sa, NULL);
			return 0;
		}
		if (build_url(w, "/api/v1/namespaces/%s/serviceaccounts/%s?fieldManager=%s%s", ns, sa,
		              w->run->field_manager, cfg->dry_run ? "&dryRun=All" : "") < 0) {
			free(put_body);
			reply_fail(r, FAIL_OTHER, "URL too long");
			return -1;
		}
		rc = k8s_call(w, "PUT", w->url, "application/json", "application/json", put_body,
		              strlen(put_body), r);
		free(put_body);
		if (rc < 0)
			return -1;
		if (r->status == 200 || r->status == 201) {
			log_event(LOG_INFO, "service account updated", "namespace", ns, "service_account", sa,
			          "secret", cfg->secret_name, cfg->dry_run ? "dry_run" : NULL, "true", NULL);
			return 0;
		}
		if (r->status != 409)
			break;
		log_event(LOG_DEBUG, "service account changed meanwhile, again", "namespace", ns,
		          "service_account", sa, NULL);
	}
	status_text(r, text, sizeof text);
	r->failure = FAIL_REFUSED;
	format_text(r->reason, sizeof r->reason, "%s", text);
	return -1;
}

/*
 * Server-side apply of the Secret into one namespace, then the ServiceAccounts.
 *
 * created / updated / unchanged: 201 is created. A 200 is unchanged only when the apply
 * wrote nothing, and an apply that changes nothing keeps the resourceVersion
 * (shared/k8s/README.md), so the Secret's resourceVersion is read first and compared with
 * the apply's answer. The GET asks for the metadata only (PartialObjectMetadata, the
 * representation k8s.io/client-go/metadata requests), so the old Secret's data never
 * travels, and it needs only the `get` verb narrowed to the Secret's name. It costs one
 * round trip on the connection already open: on kube-apiserver v1.20.2 over loopback,
 * 200 namespaces took 0.60 s instead of 0.44 s with one worker, 0.48 s instead of 0.38 s
 * with four. The timestamps in managedFields cannot replace it: they have one-second
 * resolution, so a change within the second of the previous one would pass for none.
 * A dry run answers with the old resourceVersion even when it would change the Secret,
 * so there the whole object is read and compared with the apply's answer instead.
 * Without `get` (403) a 200 counts as updated.
 */
static void apply_namespace(struct worker *w, struct target *t)
{
	struct run *run = w->run;
	const struct config *cfg = run->cfg;
	struct reply r;
	char before_version[128] = "", text[REASON_MAX - 64];
	int before_known = 0, existed = 0, rc;
	cJSON *before = NULL, *after = NULL;
	size_t need = run->body.len + 6 * strlen(t->name) + 1;
	long body_len = -1;

	if (t->terminating) {
		target_fail(t, FAIL_REFUSED, "namespace %s is terminating", t->name);
		return;
	}

	if (build_url(w, "/api/v1/namespaces/%s/secrets/%s", t->name, cfg->secret_name) < 0) {
		target_fail(t, FAIL_OTHER, "URL too long");
		return;
	}
	if (k8s_call(w, "GET", w->url, cfg->dry_run ? "application/json"
	             : "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json",
	             NULL, NULL, 0, &r) < 0) {
		target_fail(t, r.failure, "%s", r.reason);
		return;
	}
	if (r.status == 200) {
		existed = 1;
		if (cfg->dry_run) {
			before = k8s_json_parse(r.body, r.body_len);
			before_known = before != NULL;
		} else {
			before_known = resource_version(r.body, r.body_len, before_version,
			                                sizeof before_version);
		}
		wipe_reply(&r);
	} else if (r.status == 404) {
		before_known = 1;
	} else {
		status_text(&r, text, sizeof text);
		log_event(LOG_DEBUG, "cannot read the secret before applying it", "namespace", t->name,
		          "reason", text, NULL);
	}

	/* The run's body printed once, with this namespace spliced in: byte for byte what
	 * secret_print_json(secret_manifest()) gives, so server-side apply sees the same
	 * applied configuration as before, metadata.namespace included like kubectl apply
	 * sends it (and like --output prints it). Leaving the field out would be as cheap but
	 * would lean on the apiserver filling it in from the path and on managedFields never
	 * listing it: server internals, where splicing leaves nothing to verify. */
	if (w->body_cap < need) {
		char *fresh = malloc(need);

		if (!fresh) {
			target_fail(t, FAIL_OTHER, "out of memory");
			goto out;
		}
		free(w->body);          /* wiped after its last use */
		w->body = fresh;
		w->body_cap = need;
	}
	body_len = secret_body_render(&run->body, t->name, w->body, w->body_cap);
	if (body_len < 0) {
		target_fail(t, FAIL_OTHER, "out of memory");
		goto out;
	}
	/* PATCH with application/apply-patch+yaml is server-side apply; fieldManager is
	 * required, force only with --force, dryRun=All writes nothing (server-side-apply.md) */
	if (build_url(w, "/api/v1/namespaces/%s/secrets/%s?fieldManager=%s%s%s", t->name, cfg->secret_name,
	              run->field_manager, cfg->force ? "&force=true" : "", cfg->dry_run ? "&dryRun=All" : "") < 0) {
		target_fail(t, FAIL_OTHER, "URL too long");
		goto out;
	}
	/* Outside a dry run only the answer's resourceVersion is read: ask for the metadata
	 * alone (PartialObjectMetadata, as on the GET), so the Secret's data does not travel
	 * back (kube-apiserver v1.20.2: 777 bytes instead of 7.4 KB). A server that does not
	 * know the representation picks the plain application/json after it. */
	rc = k8s_call(w, "PATCH", w->url, cfg->dry_run ? "application/json"
	              : "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json",
	              "application/apply-patch+yaml", w->body, (size_t)body_len, &r);
	explicit_bzero(w->body, (size_t)body_len);
	body_len = -1;
	if (rc < 0) {
		target_fail(t, r.failure, "%s", r.reason);
		goto out;
	}
	if (r.status < 200 || r.status >= 300) {
		status_text(&r, text, sizeof text);
		if (r.status == 403 && r.st.namespace_terminating)
			target_fail(t, FAIL_REFUSED, "namespace is terminating: %s", text);
		else if (r.status == 409 && !cfg->force)
			target_fail(t, FAIL_REFUSED,
			            "%s (another field manager owns these fields; --force takes them over)", text);
		else
			target_fail(t, FAIL_REFUSED, "%s", text);
		goto out;
	}
	t->result = r.status == 201 ? RESULT_CREATED : RESULT_UPDATED;
	if (r.status == 200 && before_known && existed) {
		if (cfg->dry_run) {
			after = k8s_json_parse(r.body, r.body_len);
			if (before && after && cJSON_Compare(before, after, 1))
				t->result = RESULT_UNCHANGED;
		} else {
			char version[sizeof before_version];

			if (resource_version(r.body, r.body_len, version, sizeof version) &&
			    strcmp(version, before_version) == 0)
				t->result = RESULT_UNCHANGED;
		}
	}
	wipe_reply(&r);
	pthread_mutex_lock(&run->lock);
	run->written++;
	pthread_mutex_unlock(&run->lock);

	for (size_t i = 0; i < cfg->service_accounts.count; i++) {
		const char *sa = cfg->service_accounts.items[i];

		if (add_to_service_account(w, t->name, sa, &r) < 0 && t->result != RESULT_FAILED)
			target_fail(t, r.failure, "secret %s, but serviceaccount %s: %s", result_names[t->result], sa,
			            r.reason);
	}
out:
	if (body_len >= 0)
		explicit_bzero(w->body, (size_t)body_len);
	if (before)
		secret_wipe_tree(before);
	if (after)
		secret_wipe_tree(after);
	cJSON_Delete(before);
	cJSON_Delete(after);
}

static void report(const struct run *run, const struct target *t)
{
	const struct config *cfg = run->cfg;
	const char *dry = cfg->dry_run ? "dry_run" : NULL;

	if (t->result == RESULT_FAILED)
		log_event(LOG_ERROR, "secret not applied", "namespace", t->name, "secret", cfg->secret_name,
		          "result", "failed", "reason", t->reason ? t->reason : "out of memory", dry, "true", NULL);
	else
		log_event(LOG_INFO, "secret applied", "namespace", t->name, "secret", cfg->secret_name,
		          "result", result_names[t->result], dry, "true", NULL);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;

	for (;;) {
		struct target *t;

		pthread_mutex_lock(&run->lock);
		t = run->next < run->target_count ? &run->targets[run->next++] : NULL;
		pthread_mutex_unlock(&run->lock);
		if (!t)
			break;
		apply_namespace(w, t);
		report(run, t);
	}
	http_conn_close(&w->conn);
	pthread_mutex_lock(&run->lock);
	run->requests += w->requests;
	run->retries += w->retries;
	pthread_mutex_unlock(&run->lock);
	return NULL;
}

static struct worker *worker_new(struct run *run, unsigned index, size_t buf_size)
{
	struct worker *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->buf = malloc(buf_size);
	if (!w->buf) {
		free(w);
		return NULL;
	}
	w->run = run;
	w->index = index;
	w->buf_size = buf_size;
	w->token_generation = (unsigned)-1;
	retry_seed(&w->rng, index + 1);
	http_conn_init(&w->conn, w->buf, w->buf_size, run->proxy);
	return w;
}

/* Wipes what held the token or Secret data: the buffer, the header, the TLS records. */
static void worker_free(struct worker *w)
{
	if (!w)
		return;
	http_conn_close(&w->conn);
	explicit_bzero(w->buf, w->buf_size);
	free(w->buf);
	if (w->body)
		explicit_bzero(w->body, w->body_cap);
	free(w->body);
	explicit_bzero(w, sizeof *w);
	free(w);
}

/* ---- setting up ------------------------------------------------------------------------ */

/* The pod's own namespace, from the ServiceAccount folder. Returns 0, or -1 with err. */
int k8s_own_namespace(const char *dir, char *out, size_t size, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN], buf[256];
	long n;

	if (join_path(path, sizeof path, dir, "namespace") < 0) {
		format_text(err, errlen, "--serviceaccount-dir is too long");
		return -1;
	}
	n = files_read("", path, buf, sizeof buf - 1, err, errlen);
	if (n == FILES_ENOENT) {
		format_text(err, errlen, "%s does not exist: name the targets with --namespaces", path);
		return -1;
	}
	if (n < 0)
		return -1;
	files_trim(buf, (size_t)n);
	if (!config_valid_dns_label(buf) || strlen(buf) >= size) {
		format_text(err, errlen, "%s does not hold a namespace name", path);
		return -1;
	}
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

/*
 * The API server URL: --api-server, else https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT (IPv6 bracketed; access-api-from-pod.md). Returns 0, or -1
 * with err (a configuration error: exit 2).
 */
static int settle_base(struct run *run, char *err, size_t errlen)
{
	const struct config *cfg = run->cfg;
	struct http_url url;
	size_t n;

	if (cfg->api_server) {
		if (strpbrk(cfg->api_server, "?#")) {
			format_text(err, errlen, "--api-server must not have a query or fragment");
			return -1;
		}
		if (snprintf(run->base, sizeof run->base, "%s", cfg->api_server) >= (int)sizeof run->base) {
			format_text(err, errlen, "--api-server is too long");
			return -1;
		}
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST");
		const char *port = getenv("KUBERNETES_SERVICE_PORT");

		if (!host || !*host) {
			format_text(err, errlen, "KUBERNETES_SERVICE_HOST is not set (not in a pod?): use --api-server");
			return -1;
		}
		if (!port || !*port)
			port = "443";
		if (strpbrk(host, "/?#@[] ") || strpbrk(port, "/?#@[]: ")) {
			format_text(err, errlen, "KUBERNETES_SERVICE_HOST or _PORT is malformed");
			return -1;
		}
		format_text(run->base, sizeof run->base, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		         host, port);
	}
	n = strlen(run->base);
	while (n > 0 && run->base[n - 1] == '/')
		run->base[--n] = '\0';
	if (http_parse_url(run->base, &url, err, errlen) < 0)
		return -1;
	if (url.userinfo[0]) {
		format_text(err, errlen, "--api-server must not hold credentials");
		return -1;
	}
	run->https = url.https;
	return 0;
}

/* The token and ca.crt, when they exist, must be regular files of sane size: a FIFO or a
 * device there would block or flood the run (files.h). Missing ones are k8s_run's to
 * report, as before. */
static int check_serviceaccount_files(const struct config *cfg, int https, char *err, size_t errlen)
{
	char token[PATH_MAX_LEN], ca[PATH_MAX_LEN];

	if (join_path(token, sizeof token, cfg->serviceaccount_dir, "token") < 0 ||
	    join_path(ca, sizeof ca, cfg->serviceaccount_dir, "ca.crt") < 0) {
		format_text(err, errlen, "--serviceaccount-dir is too long");
		return -1;
	}
	if (files_check("", token, TOKEN_MAX, err, errlen) != 0)
		return -1;
	return https ? files_check("", ca, FILES_PEM_MAX, err, errlen) : 0;
}

/*
 * Everything k8s_run would reject as configuration, checked without the network so main
 * can exit 2 before AWS is contacted (SPEC.md: "nothing was contacted").
 */
int k8s_preflight(const struct config *cfg, char *err, size_t errlen)
{
	char own[64], encoded[3 * 128 + 1];
	struct run *run;
	int rc = 0;

	if (cfg->namespaces.count == 0 && !cfg->namespace_selector &&
	    k8s_own_namespace(cfg->serviceaccount_dir, own, sizeof own, err, errlen) < 0)
		return -1;
	if (k8s_query_encode(cfg->field_manager, encoded, sizeof encoded) < 0) {
		format_text(err, errlen, "--field-manager is too long");
		return -1;
	}
	run = calloc(1, sizeof *run);
	if (!run) {
		format_text(err, errlen, "out of memory");
		return -1;
	}
	run->cfg = cfg;
	if (settle_base(run, err, errlen) < 0 || check_serviceaccount_files(cfg, run->https, err, errlen) < 0)
		rc = -1;
	free(run);
	return rc;
}

/* ---- the phase ------------------------------------------------------------------------- */

static int exit_code(const struct run *run, unsigned failed)
{
	int connectivity_only = 1;

	if (failed == 0)
		return EXIT_OK;
	for (size_t i = 0; i < run->target_count; i++) {
		enum failure f = run->targets[i].failure;

		if (run->targets[i].result == RESULT_FAILED && f != FAIL_UNREACHABLE && f != FAIL_UNTRUSTED &&
		    f != FAIL_UNAUTHORISED && f != FAIL_DEADLINE)
			connectivity_only = 0;
	}
	return run->written == 0 && connectivity_only ? EXIT_KUBERNETES : EXIT_PARTIAL;
}

static void summary(const struct run *run, unsigned counts[4])
{
	char number[5][24], seconds[32], requests[24], retries[24];
	double taken = (double)(net_now_ms() - run->started_ms) / 1000.0;

	for (int i = 0; i < 4; i++)
		format_text(number[i], sizeof number[i], "%u", counts[i]);
	format_text(number[4], sizeof number[4], "%zu", run->target_count);
	format_text(seconds, sizeof seconds, "%.3f", taken);
	format_text(requests, sizeof requests, "%u", run->requests);
	format_text(retries, sizeof retries, "%u", run->retries);
	log_event(counts[RESULT_FAILED] ? LOG_ERROR : LOG_INFO, "kubernetes phase finished",
	          "#namespaces", number[4], "#created", number[RESULT_CREATED], "#updated", number[RESULT_UPDATED],
	          "#unchanged", number[RESULT_UNCHANGED], "#failed", number[RESULT_FAILED],
	          "#requests", requests, "#retries", retries, "#seconds", seconds,
	          run->cfg->dry_run ? "dry_run" : NULL, "true", NULL);
}

/* Runs the workers over run->targets; the calling thread is worker 0. */
static int apply_all(struct run *run)
{
	const struct config *cfg = run->cfg;
	size_t count = (size_t)cfg->concurrency;
	struct worker **workers;
	pthread_attr_t attr;
	size_t started = 1;

	if (count > run->target_count)
		count = run->target_count;
	if (count == 0)
		count = 1;
	workers = calloc(count, sizeof *workers);
	if (!workers)
		return -1;
	for (size_t i = 0; i < count; i++) {
		workers[i] = worker_new(run, (unsigned)i, run->worker_buf_size);
		if (!workers[i]) {
			count = i;
			break;
		}
	}
	if (count == 0) {
		free(workers);
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (; started < count; started++)
		if (pthread_create(&workers[started]->thread, &attr, worker_main, workers[started]) != 0)
			break;   /* fewer workers still finish the job */
	pthread_attr_destroy(&attr);
	worker_main(workers[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(workers[i]->thread, NULL);
	for (size_t i = 0; i < count; i++)
		worker_free(workers[i]);
	free(workers);
	return 0;
}

int k8s_run(const struct k8s_run_params *params)
{
	const struct config *cfg = params->cfg;
	struct run *run = calloc(1, sizeof *run);
	struct k8s_namespace_list all = { 0 }, selected = { 0 }, targets = { 0 };
	struct k8s_target_input input;
	struct worker *lister = NULL;
	struct reply r;
	char own[64] = "", err[512] = "", path[PATH_MAX_LEN];
	int need_all = k8s_names_need_list(&cfg->namespaces);
	int need_selected = cfg->namespace_selector != NULL;
	int code = EXIT_KUBERNETES, locks = 0;
	unsigned counts[4] = { 0, 0, 0, 0 };

	if (!run) {
		log_event(LOG_ERROR, "out of memory", NULL);
		return EXIT_PARTIAL;
	}
	run->params = params;
	run->cfg = cfg;
	run->started_ms = net_now_ms();
	run->deadline_ms = params->deadline_ms;
	run->timeout_ms = (int64_t)cfg->timeout_s * 1000;
	anchors_init(&run->anchors);
	if (pthread_mutex_init(&run->lock, NULL) != 0 || pthread_mutex_init(&run->token.lock, NULL) != 0) {
		log_event(LOG_ERROR, "cannot create a mutex", NULL);
		code = EXIT_PARTIAL;
		goto out_nolocks;
	}
	locks = 1;

	if (cfg->namespaces.count == 0 && !need_selected &&
	    k8s_own_namespace(cfg->serviceaccount_dir, own, sizeof own, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "no target namespace", "reason", err, NULL);
		code = EXIT_CONFIG;
		goto out;
	}
	input = (struct k8s_target_input){ &cfg->namespaces, &cfg->exclude_namespaces, own[0] ? own : NULL,
	                                    need_selected, NULL, NULL };

	if (settle_base(run, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "no usable Kubernetes API server address", "reason", err, NULL);
		code = EXIT_CONFIG;
		goto out;
	}
	/* HTTPS_PROXY is for https requests only (SPEC.md); a plain http:// API server is a
	 * kubectl proxy on this host */
	run->proxy = run->https ? params->proxy : NULL;
	if (k8s_query_encode(cfg->field_manager, run->field_manager, sizeof run->field_manager) < 0) {
		log_event(LOG_ERROR, "--field-manager is too long", NULL);
		code = EXIT_CONFIG;
		goto out;
	}
	if (run->https) {
		/* the cluster CA and nothing else: a public root must not vouch for the API
		 * server (access-api-from-pod.md) */
		if (join_path(path, sizeof path, cfg->serviceaccount_dir, "ca.crt") < 0 ||
		    anchors_add_pem_file(&run->anchors, path, err, sizeof err) < 0) {
			log_event(LOG_ERROR, "cannot trust the Kubernetes API server", "reason", err[0] ? err : path,
			          "api_server", run->base, NULL);
			code = EXIT_KUBERNETES;
			goto out;
		}
	}
	if (join_path(run->token.path, sizeof run->token.path, cfg->serviceaccount_dir, "token") < 0 ||
	    token_reload(&run->token, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "cannot read the ServiceAccount token", "reason", err, NULL);
		code = EXIT_KUBERNETES;
		goto out;
	}

	/* phase 1: resolve the targets */
	if (need_all || need_selected) {
		lister = worker_new(run, 0, LIST_BUF_SIZE);
		if (!lister) {
			code = EXIT_PARTIAL;
			goto out;
		}
		if ((need_all && list_namespaces(lister, NULL, &all, &r) < 0) ||
		    (need_selected && list_namespaces(lister, cfg->namespace_selector, &selected, &r) < 0)) {
			log_event(LOG_ERROR, "cannot list namespaces", "reason", r.reason, "api_server", run->base, NULL);
			code = EXIT_KUBERNETES;
			goto out;
		}
		run->requests += lister->requests;
		run->retries += lister->retries;
		worker_free(lister);
		lister = NULL;
		input.all = need_all ? &all : NULL;
		input.selected = need_selected ? &selected : NULL;
	}
	if (k8s_resolve_targets(&input, &targets) < 0) {
		log_event(LOG_ERROR, "out of memory", NULL);
		code = EXIT_PARTIAL;
		goto out;
	}
	k8s_namespace_list_free(&all);
	k8s_namespace_list_free(&selected);
	if (targets.count == 0) {
		log_event(LOG_WARN, "no namespace matches the targets", NULL);
		summary(run, counts);
		code = EXIT_OK;
		goto out;
	}

	/* phase 2: apply, with a freshly read token */
	run->targets = calloc(targets.count, sizeof *run->targets);
	if (!run->targets) {
		code = EXIT_PARTIAL;
		goto out;
	}
	for (size_t i = 0; i < targets.count; i++) {
		run->targets[i].name = targets.items[i].name;
		run->targets[i].terminating = targets.items[i].terminating;
	}
	run->target_count = targets.count;
	if (token_reload(&run->token, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "cannot read the ServiceAccount token", "reason", err, NULL);
		code = EXIT_KUBERNETES;
		goto out;
	}
	/* room for the apply's answer (the Secret, managedFields, maybe other managers' keys)
	 * or a dry run's full read of it; grown on demand up to BUF_SIZE_MAX */
	run->worker_buf_size = HTTP_MAX_HEADER + WORKER_SLACK +
	                       2 * (strlen(params->dockerconfigjson) * 4 / 3 + strlen(params->registries));
	if (run->worker_buf_size > BUF_SIZE_MAX)
		run->worker_buf_size = BUF_SIZE_MAX;
	{
		struct secret_spec spec = { cfg->secret_name, "", params->dockerconfigjson, params->registries,
		                            params->expires_at };

		if (secret_body_init(&run->body, &spec) < 0) {
			log_event(LOG_ERROR, "out of memory", NULL);
			code = EXIT_PARTIAL;
			goto out;
		}
	}
	if (apply_all(run) < 0) {
		log_event(LOG_ERROR, "out of memory", NULL);
		code = EXIT_PARTIAL;
		goto out;
	}
	for (size_t i = 0; i < run->target_count; i++)
		counts[run->targets[i].result]++;
	summary(run, counts);
	code = exit_code(run, counts[RESULT_FAILED]);
out:
	worker_free(lister);
	for (size_t i = 0; i < run->target_count; i++)
		free(run->targets[i].reason);
	free(run->targets);
	secret_body_free(&run->body);
	k8s_namespace_list_free(&targets);
	k8s_namespace_list_free(&all);
	k8s_namespace_list_free(&selected);
	anchors_free(&run->anchors);
	explicit_bzero(run->token.value, sizeof run->token.value);
	for (unsigned i = 0; i < run->token.redacted_count; i++) {
		log_forget_secret(run->token.redacted[i]);
		explicit_bzero(run->token.redacted[i], strlen(run->token.redacted[i]));
		free(run->token.redacted[i]);
	}
	if (locks) {
		pthread_mutex_destroy(&run->lock);
		pthread_mutex_destroy(&run->token.lock);
	}
out_nolocks:
	free(run);
	return code;
}
