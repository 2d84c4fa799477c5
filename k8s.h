/*
 * k8s: a client of the Kubernetes API server (docs/reference.md "Kubernetes"; retries as
 * client-go rest/request.go does them).
 *
 * A k8s_client is what every request of a run shares: the API server's URL (--api-server,
 * else the pod's KUBERNETES_SERVICE_HOST/_PORT), its trust (the ServiceAccount ca.crt and
 * nothing else), the bearer token (re-read when older than a minute, and after a 401),
 * the run deadline, counters and the abort state: before anything was written, a trust or
 * credential failure (or a server that never answered) is the same for every request, so
 * the first one stops the others. A k8s_conn is one persistent connection and its buffer,
 * owned by one thread; k8s_call makes one request on it, with its retries.
 *
 * The client knows nothing of Secrets or namespaces: apply.h and targets.h are built on
 * it, and so can any module that reads or writes other objects. The pure readers of the
 * answers (Status, lists) are in k8sjson.h.
 */
#ifndef K8S_H
#define K8S_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "k8sjson.h"

#define K8S_REASON_MAX 480
#define K8S_PATH_MAX   2048

/* Why a request failed. The first three, alone and before any write, make a run's exit
 * code 4 (docs/reference.md "Exit codes"). */
enum k8s_failure {
	K8S_FAIL_NONE,
	K8S_FAIL_UNREACHABLE,   /* connect, TLS, dropped connections, 429/5xx until we gave up */
	K8S_FAIL_UNTRUSTED,     /* the server certificate is not signed by ca.crt or wrong name */
	K8S_FAIL_UNAUTHORISED,  /* 401 after re-reading the token, or an unreadable token */
	K8S_FAIL_DEADLINE,      /* the run deadline passed first */
	K8S_FAIL_REFUSED,       /* an answer about the object: 403, 404, 409, 422, terminating */
	K8S_FAIL_OTHER,         /* malformed answers, sizes, out of memory */
	K8S_FAIL_TOO_LARGE,     /* an answer over the call's answer_max: a list asks again for
	                           a smaller page */
};

/* 1 for the failures that say nothing about the object asked for, only about reaching
 * the server (unreachable, untrusted, unauthorised, deadline). */
int k8s_failure_is_connectivity(enum k8s_failure failure);


/*
 * Memory ceiling (docs/security.md "What is bounded, and by how much"): every connection's
 * answer buffer comes from one budget of the client, and an answer larger than its kind's
 * limit fails the call instead of growing a buffer.
 */
#define K8S_ANSWER_BUDGET       (16u * 1024 * 1024)
#define K8S_ANSWER_MAX_METADATA (512u * 1024)      /* a Secret's PartialObjectMetadata */
#define K8S_ANSWER_MAX_OBJECT   (2u * 1024 * 1024) /* a whole Secret (data <= 1 MiB) or ServiceAccount */
#define K8S_ANSWER_MAX_LIST     (2u * 1024 * 1024) /* one page of a namespace list */
#define K8S_BUF_MAX             (HTTP_MAX_HEADER + K8S_ANSWER_MAX_OBJECT + 1)
/* The buffer of a connection that reads lists: a page up to the limit read at once, since
 * growing the buffer means asking again. Only what arrives is touched (http_conn.touched),
 * so a small answer costs a small resident size. */
#define K8S_LIST_BUF            (HTTP_MAX_HEADER + K8S_ANSWER_MAX_LIST + 1)

struct k8s_request {
	const char *method;
	const char *path;               /* "/api/v1/...?query", appended to the server URL */
	const char *accept;
	const char *content_type;       /* NULL: no body */
	const char *body;
	size_t body_len;
	size_t answer_max;              /* largest answer body accepted; 0: K8S_ANSWER_MAX_OBJECT */
};

/* The outcome of one call after its retries. */
struct k8s_reply {
	int status;                     /* final HTTP status; 0 when failed */
	const char *body;               /* view into the connection's buffer, valid until the
	                                 * connection's next call */
	size_t body_len;
	enum k8s_failure failure;       /* when the call failed */
	char reason[K8S_REASON_MAX];
	struct k8s_status st;           /* parsed for status >= 400 */
};

/*
 * How the pages of a list are asked for (api-concepts.md "Retrieving large results sets in
 * chunks"): limit items per page, the first page from the watch cache when cached
 * (resourceVersion=0, "any": what informers do; a change of the last moments may be
 * missing, a quorum read from etcd costs several times more). An answer over the list
 * limit: k8s_page_shrink.
 */
struct k8s_page {
	int limit, max;
	int cached;
};

/* "limit=N[&resourceVersion=0][&continue=TOKEN]" for the page after cont ("" the first):
 * 0, or -1 when it does not fit size. */
int k8s_page_query(const struct k8s_page *p, const char *cont, char *out, size_t size);

/* After a failed call: 1 to ask the same page again smaller, 0 to give up. A page over
 * the list limit is asked from etcd first (the watch cache may serve a
 * resourceVersion=0 list whole, ignoring limit: kubernetes/kubernetes#70735), then with
 * half the limit, down to 1 (one object always fits a list page). */
int k8s_page_shrink(struct k8s_page *p, const struct k8s_reply *r);

/* After a page was read: the next one may be twice as large again, up to max (a few large
 * objects do not make every later page small). */
void k8s_page_read(struct k8s_page *p);


struct k8s_client;
struct k8s_conn;

/* Checks, without any network, what k8s_client_open would refuse: the API server address
 * (plain http only to loopback), the field manager, that the ServiceAccount token and
 * ca.crt are regular files of sane size when they exist, and with https that the folder
 * exists and ca.crt holds a certificate. Returns 0, or the exit code with one line in err:
 * EXIT_CONFIG, or EXIT_KUBERNETES for a ca.crt that can never verify the server. */
int k8s_client_check(const struct config *cfg, char *err, size_t errlen);

/*
 * Settles the API server URL and its trust, reads the token, and logs why when it cannot.
 * proxy (HTTPS_PROXY / NO_PROXY) applies to an https API server only. Returns 0 with
 * *out set, else the exit code: EXIT_CONFIG (a bad address, field manager or a token
 * that is no regular file), EXIT_KUBERNETES (ca.crt or the token unusable), EXIT_PARTIAL
 * (out of memory).
 */
int k8s_client_open(const struct config *cfg, const struct http_proxy *proxy, int64_t deadline_ms,
                    struct k8s_client **out);

/* Wipes the token and its copies (forgotten by the log's redaction first) and frees. */
void k8s_client_close(struct k8s_client *client);

/* Re-reads the token now (bound tokens rotate: at the start of each phase). Returns 0, or
 * the exit code as k8s_client_open, having logged why. */
int k8s_client_reload_token(struct k8s_client *client);

/* The server URL, scheme://host:port[/prefix] without a trailing slash, for messages. */
const char *k8s_client_base(const struct k8s_client *client);

/* --field-manager, query-encoded. */
const char *k8s_client_field_manager(const struct k8s_client *client);

/* A write the server accepted: failures from now on no longer stop the run. */
void k8s_client_wrote(struct k8s_client *client);

/* Writes accepted so far; requests made and retried by connections already freed. */
unsigned k8s_client_writes(struct k8s_client *client);
void k8s_client_counts(struct k8s_client *client, unsigned *requests, unsigned *retries);

/* A connection with a buffer of buf_size bytes, reserved from the client's budget for the
 * connection's life (grown per answer from the budget, up to K8S_BUF_MAX); index salts its
 * backoff jitter. NULL when out of memory or the budget has no room for buf_size. */
struct k8s_conn *k8s_conn_new(struct k8s_client *client, unsigned index, size_t buf_size);

/* Gives a buffer grown for a large answer back to the budget (the connection is closed
 * then); call once that answer is no longer read. */
void k8s_conn_shrink(struct k8s_conn *conn);

/* Closes it, adds its counters to the client's, wipes the buffer and frees. NULL is fine. */
void k8s_conn_free(struct k8s_conn *conn);

/*
 * One collection read page by page: the page plan above, and a 410 Gone (the continue
 * token expired) read again from the start, at most K8S_MAX_RELISTS times. read takes each
 * page's body (wiped after it) and fills cont with the next token ("" after the last);
 * restart drops what was read before a relist.
 */
#define K8S_MAX_RELISTS 3

struct k8s_list {
	const char *path;               /* the collection and its own query, if any */
	const char *accept;
	const char *what;               /* "secret", "namespace": "listing WHATs: ..." */
	const char *too_long;           /* the reason when a page's URL does not fit */
	struct k8s_page page;
	int (*read)(void *ctx, const char *body, size_t len, char *cont, size_t cont_size, char *err,
	            size_t errlen);
	void (*restart)(void *ctx);
	void *ctx;
};

/* 0 once the last page was read; else -1 with r: a failed call as k8s_call leaves it, an
 * answer other than 200 as K8S_FAIL_REFUSED with its status and "listing WHATs: TEXT" (the
 * answer still in r), a page read refused as K8S_FAIL_OTHER. */
int k8s_list_read(struct k8s_conn *conn, struct k8s_list *l, struct k8s_reply *r);

/*
 * Sends one request and returns 0 with r->status set once there is an answer to act on:
 * any 2xx, or a 4xx other than 401. 429 and 5xx are retried after Retry-After (capped) or
 * a backoff, dropped connections on a fresh connection, a 401 once after re-reading the
 * token; all within the run deadline. Returns -1 with r->failure and r->reason otherwise.
 */
int k8s_call(struct k8s_conn *conn, const struct k8s_request *req, struct k8s_reply *r);

/*
 * k8s_call for a watch: a 2xx answer opens *stream, its body left to http_stream_line on
 * k8s_conn_http(conn) (r->body is then empty); any other answer is as k8s_call gives it.
 * Until the stream has ended, the connection carries no other call.
 */
int k8s_call_stream(struct k8s_conn *conn, const struct k8s_request *req, struct http_stream *stream,
                    struct k8s_reply *r);

/* The connection's HTTP side, for a stream's reads and its descriptor to poll. */
struct http_conn *k8s_conn_http(struct k8s_conn *conn);

/* A client that outlives one run (--watch): a new deadline for the calls to come, and the
 * abort state of the calls before cleared. */
void k8s_client_renew(struct k8s_client *client, int64_t deadline_ms);

/* "409 Conflict: message" of an answer, for log lines. */
void k8s_reply_text(const struct k8s_reply *r, char *out, size_t size);

/* Marks r failed with reason (the status cleared). */
void k8s_reply_fail(struct k8s_reply *r, enum k8s_failure failure, const char *reason);

/* Wipes the answer's bytes in the connection's buffer (once read, when it carried Secret
 * data). */
void k8s_reply_wipe(struct k8s_reply *r);

#endif
