/*
 * k8s: the API server client; see k8s.h.
 *
 * Kubernetes references: accessing the API from a pod (kubernetes/website content/en/docs/
 * tasks/run-application/access-api-from-pod.md), bound ServiceAccount tokens (their file
 * is rotated by kubelet: docs/design.md "The Kubernetes API from a pod"), Status (kubernetes/apimachinery
 * pkg/apis/meta/v1/types.go), client-go rest/request.go for the retry of 429 and 5xx.
 */
#include "k8s.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anchors.h"
#include "budget.h"
#include "exitcode.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "retry.h"

#ifndef ECR_REFRESH_VERSION
#define ECR_REFRESH_VERSION "unknown"
#endif

#define TOKEN_MAX           FILES_TOKEN_MAX
#define TOKEN_REDACTED_MAX  16      /* distinct tokens a run registers for redaction */
#define TOKEN_MAX_AGE_MS    60000   /* kubelet rotates the file; docs/design.md asks <= 5 min */
#define PATH_MAX_LEN        4096
#define MAX_ATTEMPTS        10      /* per request; client-go retries 429/5xx up to 10 times */
#define BACKOFF_BASE_MS     200
#define BACKOFF_CAP_MS      5000
#define RETRY_AFTER_CAP_S   10
#define FIELD_MANAGER_MAX   (3 * 128 + 1)

/* The ServiceAccount token, shared by the connections. generation counts reads, so a
 * connection that got a 401 re-reads the file only when nobody did since its request. */
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

struct k8s_client {
	const struct config *cfg;
	char base[HTTP_MAX_URL + 1];    /* scheme://host:port[/prefix], no trailing slash */
	int https;
	struct anchors anchors;
	const struct http_proxy *proxy;
	char field_manager[FIELD_MANAGER_MAX];  /* query-encoded */
	int64_t deadline_ms, timeout_ms;
	struct token_store token;
	struct budget budget;           /* every connection's answer buffer */

	/* lock guards the counters and the abort state */
	pthread_mutex_t lock;
	int locks;                      /* 1 once both mutexes exist */
	unsigned written;               /* writes the server accepted */
	unsigned responses;             /* HTTP answers of any status */
	unsigned requests, retries;     /* of connections already freed */
	int aborted;
	enum k8s_failure abort_failure;
	char abort_reason[K8S_REASON_MAX];
};

struct k8s_conn {
	struct k8s_client *client;
	struct http_conn conn;
	struct http_response resp;
	char *buf;
	size_t buf_size;
	size_t base_size;               /* reserved for the connection's life; more per answer */
	size_t answer_max;              /* of the call under way */
	char authorization[7 + TOKEN_MAX + 1];
	int has_token;
	unsigned token_generation;
	uint64_t rng;
	char url[HTTP_MAX_URL + 1];
	unsigned requests, retries;
	struct http_stream *stream;     /* k8s_call_stream: a 2xx body is left to the caller */
};

/* Where one call stands after an attempt. */
enum step {
	STEP_DONE,      /* an answer to act on: return 0 */
	STEP_FAILED,    /* r says why: return -1 */
	STEP_AGAIN,     /* try again at once, not counted as an attempt */
	STEP_WAIT,      /* try again after the wait, counted */
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

int k8s_page_query(const struct k8s_page *p, const char *cont, char *out, size_t size)
{
	char cont_q[3 * K8S_MAX_CONTINUE + 1] = "";

	if (cont[0] && k8s_query_encode(cont, cont_q, sizeof cont_q) < 0)
		return -1;
	return snprintf(out, size, "limit=%d%s%s%s", p->limit, p->cached && !cont[0] ? "&resourceVersion=0" : "",
	                cont[0] ? "&continue=" : "", cont_q) < (int)size ? 0 : -1;
}

int k8s_page_shrink(struct k8s_page *p, const struct k8s_reply *r)
{
	if (r->failure != K8S_FAIL_TOO_LARGE)
		return 0;
	if (p->cached) {
		p->cached = 0;
		return 1;
	}
	if (p->limit < 2)
		return 0;
	p->limit /= 2;
	return 1;
}

void k8s_page_read(struct k8s_page *p)
{
	p->limit = p->limit > p->max / 2 ? p->max : p->limit * 2;
}

/* The path of the page after cont: the collection, then the page's query. */
static int list_page_path(const struct k8s_list *l, const char *cont, char *out, size_t size)
{
	char query[3 * K8S_MAX_CONTINUE + 64];

	if (k8s_page_query(&l->page, cont, query, sizeof query) < 0)
		return -1;
	return snprintf(out, size, "%s%c%s", l->path, strchr(l->path, '?') ? '&' : '?', query) < (int)size ? 0 : -1;
}

int k8s_list_read(struct k8s_conn *conn, struct k8s_list *l, struct k8s_reply *r)
{
	char cont[K8S_MAX_CONTINUE + 1] = "", path[K8S_PATH_MAX], err[200], text[K8S_REASON_MAX - 32];
	struct k8s_request req = { "GET", path, l->accept, NULL, NULL, 0, K8S_ANSWER_MAX_LIST };
	int relists = 0, rc;

	for (;;) {
		if (list_page_path(l, cont, path, sizeof path) < 0) {
			k8s_reply_fail(r, K8S_FAIL_OTHER, l->too_long);
			return -1;
		}
		if (k8s_call(conn, &req, r) < 0) {
			if (k8s_page_shrink(&l->page, r))
				continue;       /* the same continue token, a smaller page */
			return -1;
		}
		/* 410: the continue token expired (api-concepts.md): from the start again */
		if (r->status == 410 && cont[0] && relists++ < K8S_MAX_RELISTS) {
			l->restart(l->ctx);
			cont[0] = '\0';
			continue;
		}
		if (r->status != 200) {
			k8s_reply_text(r, text, sizeof text);
			format_text(r->reason, sizeof r->reason, "listing %ss: %s", l->what, text);
			r->failure = K8S_FAIL_REFUSED;
			return -1;
		}
		rc = l->read(l->ctx, r->body, r->body_len, cont, sizeof cont, err, sizeof err);
		k8s_reply_wipe(r);
		if (rc < 0) {
			k8s_reply_fail(r, K8S_FAIL_OTHER, err);
			return -1;
		}
		k8s_page_read(&l->page);
		if (!cont[0])
			return 0;
	}
}

int k8s_failure_is_connectivity(enum k8s_failure failure)
{
	return failure == K8S_FAIL_UNREACHABLE || failure == K8S_FAIL_UNTRUSTED ||
	       failure == K8S_FAIL_UNAUTHORISED || failure == K8S_FAIL_DEADLINE;
}

void k8s_reply_fail(struct k8s_reply *r, enum k8s_failure failure, const char *reason)
{
	r->status = 0;
	r->failure = failure;
	format_text(r->reason, sizeof r->reason, "%s", reason);
}

void k8s_reply_text(const struct k8s_reply *r, char *out, size_t size)
{
	const char *reason = r->st.reason[0] ? r->st.reason : "error";

	if (r->st.message[0])
		format_text(out, size, "%d %s: %s", r->status, reason, r->st.message);
	else
		format_text(out, size, "%d %s", r->status, reason);
}

void k8s_reply_wipe(struct k8s_reply *r)
{
	if (r->body && r->body_len)
		explicit_bzero((char *)(uintptr_t)r->body, r->body_len);
}

/* ---- the token ----------------------------------------------------------------------- */

/* Keeps a copy of a token newly read for the log's redaction. */
static void token_remember(struct token_store *t)
{
	char *copy;

	if (t->redacted_count >= TOKEN_REDACTED_MAX ||
	    (t->redacted_count > 0 && strcmp(t->redacted[t->redacted_count - 1], t->value) == 0))
		return;
	copy = malloc(t->len + 1);
	if (copy) {
		memcpy(copy, t->value, t->len + 1);
		log_register_secret(copy);
		t->redacted[t->redacted_count++] = copy;
	}
}

/* Reads the token file (the caller holds the lock). A missing file means no token is sent
 * (docs/reference.md: kubectl proxy adds the credentials itself). Returns 0, or a FILES_E*
 * code with err (FILES_EIO also for an empty or unprintable token). */
static int token_read_locked(struct token_store *t, char *err, size_t errlen)
{
	long n = files_read("", t->path, t->value, TOKEN_MAX, err, errlen);

	t->read_ms = net_now_ms();
	t->generation++;
	t->present = 0;
	t->len = 0;
	if (n == FILES_ENOENT)
		return 0;
	if (n < 0)
		return (int)n;
	t->len = files_trim(t->value, (size_t)n);
	if (t->len == 0) {
		format_text(err, errlen, "%s is empty", t->path);
		return FILES_EIO;
	}
	/* it goes into a header line: a JWT is base64url and dots, so printable ASCII only */
	for (size_t i = 0; i < t->len; i++) {
		if (t->value[i] <= 0x20 || t->value[i] >= 0x7f) {
			explicit_bzero(t->value, sizeof t->value);
			t->len = 0;
			format_text(err, errlen, "%s holds characters a bearer token cannot have", t->path);
			return FILES_EIO;
		}
	}
	t->present = 1;
	token_remember(t);
	return 0;
}

int k8s_client_reload_token(struct k8s_client *c)
{
	char err[512];
	int rc;

	pthread_mutex_lock(&c->token.lock);
	rc = token_read_locked(&c->token, err, sizeof err);
	pthread_mutex_unlock(&c->token.lock);
	if (rc == 0)
		return 0;
	log_event(LOG_ERROR, "cannot read the ServiceAccount token", "reason", err, NULL);
	return rc == FILES_EBAD ? EXIT_CONFIG : EXIT_KUBERNETES;
}

/*
 * Brings the connection's Authorization header up to date: re-reads the file when it is
 * older than TOKEN_MAX_AGE_MS, or when after_401 and nobody re-read it since this
 * connection took its copy.
 */
static int conn_token(struct k8s_conn *w, int after_401, char *err, size_t errlen)
{
	struct token_store *t = &w->client->token;
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

/* ---- the abort state ------------------------------------------------------------------ */

/* Before anything was written, a trust or credential failure (or a server that never
 * answered at all) is the same for every request: stop the run instead of repeating it. */
static void maybe_abort(struct k8s_client *c, const struct k8s_reply *r)
{
	pthread_mutex_lock(&c->lock);
	if (!c->aborted && c->written == 0 &&
	    (r->failure == K8S_FAIL_UNTRUSTED || r->failure == K8S_FAIL_UNAUTHORISED ||
	     (r->failure == K8S_FAIL_UNREACHABLE && c->responses == 0))) {
		c->aborted = 1;
		c->abort_failure = r->failure;
		format_text(c->abort_reason, sizeof c->abort_reason, "%s", r->reason);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Fails r and maybe the run with it. Returns STEP_FAILED. */
static enum step fail_call(struct k8s_client *c, struct k8s_reply *r, enum k8s_failure failure)
{
	r->status = 0;
	r->failure = failure;
	maybe_abort(c, r);
	return STEP_FAILED;
}

static int run_aborted(struct k8s_client *c, struct k8s_reply *r)
{
	int aborted;

	pthread_mutex_lock(&c->lock);
	aborted = c->aborted;
	if (aborted)
		k8s_reply_fail(r, c->abort_failure, c->abort_reason);
	pthread_mutex_unlock(&c->lock);
	return aborted;
}

void k8s_client_wrote(struct k8s_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->written++;
	pthread_mutex_unlock(&c->lock);
}

unsigned k8s_client_writes(struct k8s_client *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->written;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void k8s_client_counts(struct k8s_client *c, unsigned *requests, unsigned *retries)
{
	pthread_mutex_lock(&c->lock);
	*requests = c->requests;
	*retries = c->retries;
	pthread_mutex_unlock(&c->lock);
}

const char *k8s_client_base(const struct k8s_client *c)
{
	return c->base;
}

const char *k8s_client_field_manager(const struct k8s_client *c)
{
	return c->field_manager;
}

/* ---- connections ----------------------------------------------------------------------- */

struct k8s_conn *k8s_conn_new(struct k8s_client *client, unsigned index, size_t buf_size)
{
	struct k8s_conn *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	if (budget_reserve(&client->budget, buf_size) < 0) {
		free(w);
		return NULL;
	}
	w->buf = malloc(buf_size);
	if (!w->buf) {
		budget_unreserve(&client->budget, buf_size);
		free(w);
		return NULL;
	}
	w->client = client;
	w->buf_size = w->base_size = buf_size;
	w->token_generation = (unsigned)-1;
	retry_seed(&w->rng, index + 1);
	http_conn_init(&w->conn, w->buf, w->buf_size, client->proxy);
	return w;
}

/* Wipes what held the token or Secret data: the buffer, the header, the TLS records. */
void k8s_conn_free(struct k8s_conn *w)
{
	if (!w)
		return;
	http_conn_close(&w->conn);
	pthread_mutex_lock(&w->client->lock);
	w->client->requests += w->requests;
	w->client->retries += w->retries;
	pthread_mutex_unlock(&w->client->lock);
	if (w->buf) {
		http_conn_wipe(&w->conn);
		free(w->buf);
		budget_give(&w->client->budget, w->buf_size - w->base_size);
	}
	budget_unreserve(&w->client->budget, w->base_size);
	explicit_bzero(w, sizeof *w);
	free(w);
}

/*
 * Replaces the connection's buffer by one of size bytes, closing the connection. The bytes
 * above its base come from the budget: first given back, then taken again, so a connection
 * never waits holding more than its base (budget.h). Returns 0, or the budget_take code
 * (-1 never fits, -2 deadline) or -3 (out of memory), with a base-sized buffer then.
 */
static int conn_resize(struct k8s_conn *w, size_t size)
{
	struct budget *b = &w->client->budget;
	int rc = 0;

	http_conn_close(&w->conn);
	if (w->buf) {
		http_conn_wipe(&w->conn);
		free(w->buf);
		budget_give(b, w->buf_size - w->base_size);
	}
	if (size > w->base_size && (rc = budget_take(b, size - w->base_size, w->client->deadline_ms)) < 0)
		size = w->base_size;
	w->buf = malloc(size);
	if (!w->buf && size > w->base_size) {
		budget_give(b, size - w->base_size);
		size = w->base_size;
		w->buf = malloc(size);
		rc = -3;
	}
	w->buf_size = w->base_size;
	if (w->buf)
		w->buf_size = size;
	http_conn_init(&w->conn, w->buf, w->buf_size, w->client->proxy);
	return w->buf ? rc : -3;
}

void k8s_conn_shrink(struct k8s_conn *w)
{
	if (w && w->buf_size > w->base_size)
		conn_resize(w, w->base_size);
}

/*
 * After an answer did not fit the buffer: a larger one, sized from the announced length
 * (else doubled), up to the call's limit. STEP_AGAIN to send the request again, or
 * STEP_FAILED with the reason in r.
 */
static enum step conn_grow(struct k8s_conn *w, const char *last, struct k8s_reply *r)
{
	int64_t announced = w->resp.content_length;
	size_t cap = w->answer_max + HTTP_MAX_HEADER + 1, size = w->buf_size * 2;
	int rc;

	if (announced > (int64_t)w->answer_max || w->buf_size >= cap) {
		format_text(r->reason, sizeof r->reason, "answer larger than the %zu-byte limit for this request: %s",
		            w->answer_max, last);
		r->failure = K8S_FAIL_TOO_LARGE;
		return STEP_FAILED;
	}
	if (announced >= 0)
		size = (size_t)announced + HTTP_MAX_HEADER + 1;
	if (size > cap)
		size = cap;
	if ((rc = conn_resize(w, size)) == 0)
		return STEP_AGAIN;
	r->failure = rc == -2 ? K8S_FAIL_DEADLINE : K8S_FAIL_OTHER;
	if (rc == -1)
		format_text(r->reason, sizeof r->reason, "an answer of up to %zu bytes does not fit the %u MiB "
		            "memory budget of all connections", size, K8S_ANSWER_BUDGET >> 20);
	else
		format_text(r->reason, sizeof r->reason, rc == -2 ? "deadline exceeded waiting for memory for an "
		            "answer of up to %zu bytes" : "out of memory for an answer of up to %zu bytes", size);
	return STEP_FAILED;
}

/* ---- one API call, with its retries -------------------------------------------------- */

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

/* Before each attempt: the run not stopped, time left, the token fresh. */
static enum step call_gate(struct k8s_conn *w, const char *last, struct k8s_reply *r)
{
	char err[300];

	if (run_aborted(w->client, r))
		return STEP_FAILED;
	if (!w->buf) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, "out of memory");
		return STEP_FAILED;
	}
	if (net_now_ms() >= w->client->deadline_ms) {
		format_text(r->reason, sizeof r->reason, "deadline exceeded%s%s", last[0] ? ": " : "", last);
		r->failure = K8S_FAIL_DEADLINE;
		return STEP_FAILED;
	}
	if (conn_token(w, 0, err, sizeof err) < 0) {
		format_text(r->reason, sizeof r->reason, "%s", err);
		return fail_call(w->client, r, K8S_FAIL_UNAUTHORISED);
	}
	return STEP_DONE;
}

/* One attempt on the wire. Returns what http_request returns. */
static int call_send(struct k8s_conn *w, const struct k8s_request *q)
{
	static const char agent[] = "ecr-refresh/" ECR_REFRESH_VERSION;
	struct k8s_client *c = w->client;
	struct http_header headers[4];
	struct http_request req;
	size_t n = 0;
	int64_t now = net_now_ms();

	if (w->has_token)
		headers[n++] = (struct http_header){ "Authorization", 13, w->authorization, strlen(w->authorization) };
	headers[n++] = (struct http_header){ "Accept", 6, q->accept, strlen(q->accept) };
	if (q->content_type)
		headers[n++] = (struct http_header){ "Content-Type", 12, q->content_type, strlen(q->content_type) };
	headers[n++] = (struct http_header){ "User-Agent", 10, agent, sizeof agent - 1 };
	memset(&req, 0, sizeof req);
	req.method = q->method;
	req.url = w->url;
	req.headers = headers;
	req.header_count = n;
	req.body = q->body;
	req.body_len = q->body_len;
	req.anchors = c->https ? &c->anchors : NULL;
	req.deadline_ms = now + c->timeout_ms < c->deadline_ms ? now + c->timeout_ms : c->deadline_ms;
	req.max_body = w->answer_max;
	w->requests++;
	if (w->stream)
		return http_stream_open(&w->conn, &req, &w->resp, w->stream);
	return http_request(&w->conn, &req, &w->resp);
}

static int64_t backoff(struct k8s_conn *w, int attempt)
{
	return retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, retry_random(&w->rng));
}

/* After a transport error: a larger buffer, a refused certificate, a request that cannot
 * work, or a fresh connection after a backoff (EIO, ETIMEOUT, ECONNECT, ETLS, EPROTO,
 * EPROXY). */
static enum step after_transport_error(struct k8s_conn *w, int rc, int attempt, char *last, size_t last_size,
                                       struct k8s_reply *r, int64_t *wait)
{
	format_text(last, last_size, "%s", w->conn.err[0] ? w->conn.err : "request failed");
	http_conn_close(&w->conn);
	if (rc == HTTP_ETOOBIG)
		return conn_grow(w, last, r);
	if (rc == HTTP_ECERT) {
		format_text(r->reason, sizeof r->reason, "API server certificate refused: %s", last);
		return fail_call(w->client, r, K8S_FAIL_UNTRUSTED);
	}
	if (rc == HTTP_EURL || rc == HTTP_EARG) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, last);
		return STEP_FAILED;
	}
	*wait = backoff(w, attempt);
	return STEP_WAIT;
}

/* A 401: bound tokens rotate, so the file is re-read and the call tried once more
 * (docs/design.md "The Kubernetes API from a pod"); a second 401 fails. */
static enum step after_unauthorized(struct k8s_conn *w, int *reauthorised, struct k8s_reply *r)
{
	struct k8s_client *c = w->client;
	char err[300];

	if (!*reauthorised) {
		*reauthorised = 1;
		if (conn_token(w, 1, err, sizeof err) < 0) {
			format_text(r->reason, sizeof r->reason, "%s", err);
			return fail_call(c, r, K8S_FAIL_UNAUTHORISED);
		}
		return STEP_AGAIN;
	}
	format_text(r->reason, sizeof r->reason,
	            w->has_token ? "401 Unauthorized: the API server refused the token from %s"
	                         : "401 Unauthorized: no token was sent (%s does not exist)",
	            c->token.path);
	return fail_call(c, r, K8S_FAIL_UNAUTHORISED);
}

/* 429 and 5xx: wait what the server asks (RFC 9110 10.2.3, or the Status
 * retryAfterSeconds), capped, else back off. */
static enum step after_overload(struct k8s_conn *w, int attempt, char *last, size_t last_size, int64_t *wait)
{
	const struct http_header *h = http_find_header(&w->resp, "Retry-After");
	long seconds = h ? retry_after_seconds(h->value, h->value_len) : -1;
	struct k8s_status st;

	k8s_parse_status(w->resp.body, w->resp.body_len, &st);
	if (seconds < 0)
		seconds = st.retry_after_s;
	format_text(last, last_size, "%d %s%s%s", w->resp.status, st.reason[0] ? st.reason : answer_text(w->resp.status),
	            st.message[0] ? ": " : "", st.message);
	*wait = retry_wait_ms(seconds, RETRY_AFTER_CAP_S, backoff(w, attempt));
	return STEP_WAIT;
}

/* After an answer: done, or what to do about a 401, 429 or 5xx. */
static enum step after_answer(struct k8s_conn *w, int attempt, int *reauthorised, char *last, size_t last_size,
                              struct k8s_reply *r, int64_t *wait)
{
	int status = w->resp.status;

	pthread_mutex_lock(&w->client->lock);
	w->client->responses++;
	pthread_mutex_unlock(&w->client->lock);
	if (status == 401)
		return after_unauthorized(w, reauthorised, r);
	if (status == 429 || status >= 500)
		return after_overload(w, attempt, last, last_size, wait);
	r->status = status;
	r->body = w->resp.body;
	r->body_len = w->resp.body_len;
	if (status >= 400)
		k8s_parse_status(r->body, r->body_len, &r->st);
	return STEP_DONE;
}

/* Between attempts: give up after MAX_ATTEMPTS or when the wait would pass the deadline,
 * else sleep. Returns 0 to try again, -1 with r filled. */
static int before_retry(struct k8s_conn *w, const struct k8s_request *q, int attempt, int64_t wait,
                        const char *last, struct k8s_reply *r)
{
	if (attempt >= MAX_ATTEMPTS) {
		format_text(r->reason, sizeof r->reason, "gave up after %d attempts: %s", attempt, last);
		fail_call(w->client, r, K8S_FAIL_UNREACHABLE);
		return -1;
	}
	if (net_now_ms() + wait >= w->client->deadline_ms) {
		format_text(r->reason, sizeof r->reason, "deadline exceeded: %s", last);
		r->failure = K8S_FAIL_DEADLINE;
		return -1;
	}
	w->retries++;
	if (log_enabled(LOG_DEBUG)) {
		char wait_text[24];

		format_text(wait_text, sizeof wait_text, "%lld", (long long)wait);
		log_event(LOG_DEBUG, "kubernetes request retried", "method", q->method, "url", w->url,
		          "error", last, "#wait_ms", wait_text, NULL);
	}
	if (retry_sleep(wait, w->client->deadline_ms) < 0) {
		format_text(r->reason, sizeof r->reason, "deadline exceeded: %s", last);
		r->failure = K8S_FAIL_DEADLINE;
		return -1;
	}
	return 0;
}

int k8s_call(struct k8s_conn *w, const struct k8s_request *q, struct k8s_reply *r)
{
	char last[K8S_REASON_MAX] = "";
	int attempt = 0, reauthorised = 0;

	memset(r, 0, sizeof *r);
	r->st.retry_after_s = -1;
	w->answer_max = q->answer_max ? q->answer_max : K8S_ANSWER_MAX_OBJECT;
	if (snprintf(w->url, sizeof w->url, "%s%s", w->client->base, q->path) >= (int)sizeof w->url) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, "URL too long");
		return -1;
	}
	for (;;) {
		int64_t wait = 0;
		enum step step = call_gate(w, last, r);
		int rc;

		if (step == STEP_FAILED)
			return -1;
		rc = call_send(w, q);
		step = rc < 0 ? after_transport_error(w, rc, attempt, last, sizeof last, r, &wait)
		              : after_answer(w, attempt, &reauthorised, last, sizeof last, r, &wait);
		if (step == STEP_DONE)
			return 0;
		if (step == STEP_FAILED)
			return -1;
		if (step == STEP_AGAIN)
			continue;
		if (before_retry(w, q, ++attempt, wait, last, r) < 0)
			return -1;
	}
}

int k8s_call_stream(struct k8s_conn *w, const struct k8s_request *q, struct http_stream *stream,
                    struct k8s_reply *r)
{
	int rc;

	w->stream = stream;
	rc = k8s_call(w, q, r);
	w->stream = NULL;
	return rc;
}

struct http_conn *k8s_conn_http(struct k8s_conn *w)
{
	return &w->conn;
}

void k8s_client_renew(struct k8s_client *c, int64_t deadline_ms)
{
	pthread_mutex_lock(&c->lock);
	c->deadline_ms = deadline_ms;
	c->aborted = 0;
	c->abort_failure = K8S_FAIL_NONE;
	c->abort_reason[0] = '\0';
	pthread_mutex_unlock(&c->lock);
}

/* ---- setting up ------------------------------------------------------------------------ */

/* The API server URL from the pod's environment (access-api-from-pod.md), IPv6 bracketed. */
static int base_from_environment(char *base, size_t size, char *err, size_t errlen)
{
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
	format_text(base, size, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	return 0;
}

/*
 * The API server URL: --api-server, else https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT. Sets *https. Returns 0, or -1 with err (a configuration
 * error: exit 2).
 */
static int settle_base(const struct config *cfg, char *base, size_t size, int *https, char *err, size_t errlen)
{
	struct http_url url;
	size_t n;

	if (cfg->api_server) {
		if (strpbrk(cfg->api_server, "?#")) {
			format_text(err, errlen, "--api-server must not have a query or fragment");
			return -1;
		}
		if (snprintf(base, size, "%s", cfg->api_server) >= (int)size) {
			format_text(err, errlen, "--api-server is too long");
			return -1;
		}
	} else if (base_from_environment(base, size, err, errlen) < 0) {
		return -1;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	if (http_parse_url(base, &url, err, errlen) < 0)
		return -1;
	if (url.userinfo[0]) {
		format_text(err, errlen, "--api-server must not hold credentials");
		return -1;
	}
	/* The bearer token must not cross a network in cleartext: plain http only to this
	 * machine (the kubectl proxy case), decided from the URL alone. */
	if (!url.https && !net_host_is_loopback(url.host)) {
		format_text(err, errlen, "--api-server: http:// is allowed only to loopback (127.0.0.0/8, ::1, "
		            "localhost, as with kubectl proxy), not %s: use https://", url.host);
		return -1;
	}
	*https = url.https;
	return 0;
}

/* With https the ServiceAccount folder must exist (EXIT_CONFIG) and its ca.crt must hold a
 * certificate (EXIT_KUBERNETES: nothing it could verify), found before any token is minted. */
static int check_cluster_ca(const struct config *cfg, const char *ca, char *err, size_t errlen)
{
	struct anchors anchors;
	struct stat st;
	int rc = 0;

	if (stat(cfg->serviceaccount_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		format_text(err, errlen, "ServiceAccount folder %s does not exist (not in a pod? use "
		            "--serviceaccount-dir, or --api-server http://127.0.0.1:8001 with kubectl proxy)",
		            cfg->serviceaccount_dir);
		return EXIT_CONFIG;
	}
	anchors_init(&anchors);
	if (anchors_add_pem_file(&anchors, ca, err, errlen) < 0) {
		if (!err[0])
			format_text(err, errlen, "cannot read %s", ca);
		rc = EXIT_KUBERNETES;
	}
	anchors_free(&anchors);
	return rc;
}

/* The token and ca.crt, when they exist, must be regular files of sane size: a FIFO or a
 * device there would block or flood the run (files.h). A missing token is reported when it
 * is read, as before. */
static int check_serviceaccount_files(const struct config *cfg, int https, char *err, size_t errlen)
{
	char token[PATH_MAX_LEN], ca[PATH_MAX_LEN];

	if (join_path(token, sizeof token, cfg->serviceaccount_dir, "token") < 0 ||
	    join_path(ca, sizeof ca, cfg->serviceaccount_dir, "ca.crt") < 0) {
		format_text(err, errlen, "--serviceaccount-dir is too long");
		return EXIT_CONFIG;
	}
	if (files_check("", token, TOKEN_MAX, err, errlen) != 0)
		return EXIT_CONFIG;
	if (!https)
		return 0;
	if (files_check("", ca, FILES_PEM_MAX, err, errlen) != 0)
		return EXIT_CONFIG;
	err[0] = '\0';
	return check_cluster_ca(cfg, ca, err, errlen);
}

int k8s_client_check(const struct config *cfg, char *err, size_t errlen)
{
	char base[HTTP_MAX_URL + 1], encoded[FIELD_MANAGER_MAX];
	int https;

	if (k8s_query_encode(cfg->field_manager, encoded, sizeof encoded) < 0) {
		format_text(err, errlen, "--field-manager is too long");
		return EXIT_CONFIG;
	}
	if (settle_base(cfg, base, sizeof base, &https, err, errlen) < 0)
		return EXIT_CONFIG;
	return check_serviceaccount_files(cfg, https, err, errlen);
}

/* The cluster CA and nothing else: a public root must not vouch for the API server
 * (access-api-from-pod.md). Returns 0 or an exit code, logged. */
static int trust_cluster_ca(struct k8s_client *c)
{
	char path[PATH_MAX_LEN], err[512] = "";

	if (join_path(path, sizeof path, c->cfg->serviceaccount_dir, "ca.crt") < 0 ||
	    anchors_add_pem_file(&c->anchors, path, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "cannot trust the Kubernetes API server", "reason", err[0] ? err : path,
		          "api_server", c->base, NULL);
		return EXIT_KUBERNETES;
	}
	return 0;
}

/* The address, the field manager and the proxy. Returns 0 or an exit code, logged. */
static int settle_address(struct k8s_client *c, const struct http_proxy *proxy)
{
	char err[512];

	if (settle_base(c->cfg, c->base, sizeof c->base, &c->https, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "no usable Kubernetes API server address", "reason", err, NULL);
		return EXIT_CONFIG;
	}
	/* HTTPS_PROXY is for https requests only (docs/reference.md); a plain http:// API
	 * server is a kubectl proxy on this host */
	c->proxy = c->https ? proxy : NULL;
	if (k8s_query_encode(c->cfg->field_manager, c->field_manager, sizeof c->field_manager) < 0) {
		log_event(LOG_ERROR, "--field-manager is too long", NULL);
		return EXIT_CONFIG;
	}
	if (join_path(c->token.path, sizeof c->token.path, c->cfg->serviceaccount_dir, "token") < 0) {
		log_event(LOG_ERROR, "cannot read the ServiceAccount token", "reason",
		          "--serviceaccount-dir is too long", NULL);
		return EXIT_CONFIG;
	}
	return 0;
}

int k8s_client_open(const struct config *cfg, const struct http_proxy *proxy, int64_t deadline_ms,
                    struct k8s_client **out)
{
	struct k8s_client *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (!c) {
		log_event(LOG_ERROR, "out of memory", NULL);
		return EXIT_PARTIAL;
	}
	c->cfg = cfg;
	c->deadline_ms = deadline_ms;
	c->timeout_ms = (int64_t)cfg->timeout_s * 1000;
	anchors_init(&c->anchors);
	if (pthread_mutex_init(&c->lock, NULL) != 0 || pthread_mutex_init(&c->token.lock, NULL) != 0 ||
	    budget_init(&c->budget, K8S_ANSWER_BUDGET) != 0) {
		log_event(LOG_ERROR, "cannot create a mutex", NULL);
		free(c);
		return EXIT_PARTIAL;
	}
	c->locks = 1;
	if ((rc = settle_address(c, proxy)) == 0 && (!c->https || (rc = trust_cluster_ca(c)) == 0))
		rc = k8s_client_reload_token(c);
	if (rc != 0) {
		k8s_client_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void k8s_client_close(struct k8s_client *c)
{
	if (!c)
		return;
	anchors_free(&c->anchors);
	explicit_bzero(c->token.value, sizeof c->token.value);
	for (unsigned i = 0; i < c->token.redacted_count; i++) {
		log_forget_secret(c->token.redacted[i]);
		explicit_bzero(c->token.redacted[i], strlen(c->token.redacted[i]));
		free(c->token.redacted[i]);
	}
	if (c->locks) {
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->token.lock);
		budget_destroy(&c->budget);
	}
	free(c);
}
