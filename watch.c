/*
 * watch: --watch; see watch.h.
 *
 *   streams   up to three: every namespace (globs), the selected namespaces (a selector;
 *             the server turns label changes into ADDED/DELETED), and our Secrets across
 *             the cluster by name (metadata only). Each lists, then watches from the
 *             list's resourceVersion, and resumes from the last version it saw.
 *   targets   names ∪ glob matches ∪ selected, minus exclusions, as k8s_resolve_targets
 *             says; a namespace that stops matching is left alone (nothing is deleted).
 *   repairs   gathered while reading, then applied in one apply_run (`only`) per round.
 *   liveness  --liveness-file is touched every HEARTBEAT_MS from the loop itself, so a
 *             stuck loop stops touching it.
 */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "http.h"
#include "k8sjson.h"
#include "log.h"
#include "net.h"
#include "retry.h"
#include "targets.h"
#include "watchjson.h"

#define STREAM_BUF       (HTTP_MAX_HEADER + 64 * 1024)
#define LIST_BUF         K8S_LIST_BUF
#define LIST_LIMIT       250
#define WATCH_TIMEOUT_S  300        /* the server ends each watch then; we resume */
#define IDLE_MS          ((WATCH_TIMEOUT_S + 60) * 1000)
#define BACKOFF_BASE_MS  250
#define BACKOFF_CAP_MS   30000
#define RETRY_BASE_MS    30000      /* namespaces whose repair failed: relist after this */
#define RETRY_CAP_MS     300000
#define HEARTBEAT_MS     5000
#define POLL_MAX_MS      1000       /* stop_fd is polled too; this bounds the clock checks */
#define LINES_PER_ROUND  256        /* events read from one stream before the others' turn */
/* Our Secrets as metadata only (the representation k8s.io/client-go/metadata asks for):
 * their data never travels, and no fallback lets it. */
#define METADATA_LIST    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
#define METADATA_WATCH   "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

enum kind { NS_ALL, NS_SELECTED, SECRETS, KINDS };

static const char *const kind_names[KINDS] = { "namespaces", "selected namespaces", "secrets" };

struct stream {
	enum kind kind;
	int active;                     /* this kind is needed for the configuration */
	int open;                       /* a watch is being read */
	struct k8s_conn *conn;
	char *line_buf;
	struct http_stream body;
	struct http_line_reader lines;
	char version[WATCH_MAX_VERSION];/* "" until listed: list before watching */
	int listed_once, announced;
	unsigned failures;
	int64_t retry_at, last_byte_ms;
};

struct watch {
	const struct watch_params *p;
	const struct config *cfg;
	struct k8s_client *client;
	struct stream streams[KINDS];
	struct k8s_namespace_list all, selected;   /* what the namespace streams know */
	struct k8s_namespace_list pending;         /* namespaces to apply to this round */
	int has_globs;
	char own[64];
	uint64_t rng;
	unsigned apply_failures;
	int64_t heartbeat_ms;
	char selector_q[HTTP_MAX_URL], name_q[3 * 253 + 1];
	char path[K8S_PATH_MAX];
	char err[480];
};

/* ---- small helpers ------------------------------------------------------------------- */

/* Capped exponential backoff with full jitter (retry.h). */
static int64_t backoff_ms(struct watch *w, unsigned attempt, int64_t base, int64_t cap)
{
	return retry_backoff_ms((int)(attempt < 30 ? attempt : 30), base, cap, retry_random(&w->rng));
}

static long ns_find(const struct k8s_namespace_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->items[i].name, name) == 0)
			return (long)i;
	return -1;
}

static void ns_remove(struct k8s_namespace_list *list, const char *name)
{
	long i = ns_find(list, name);

	if (i < 0)
		return;
	free(list->items[i].name);
	list->items[i] = list->items[--list->count];
}

/* Adds or updates name. Returns 0, or -1 when out of memory. */
static int ns_set(struct k8s_namespace_list *list, const char *name, int terminating)
{
	long i = ns_find(list, name);

	if (i >= 0) {
		list->items[i].terminating = terminating;
		return 0;
	}
	return k8s_namespace_list_add(list, name, terminating);
}

static int matches_any(const struct config_list *patterns, const char *name)
{
	for (size_t i = 0; i < patterns->count; i++)
		if (config_glob_match(patterns->items[i], name))
			return 1;
	return 0;
}

/* The target rule of k8s_resolve_targets for one namespace, from what the streams know. */
static int is_target(const struct watch *w, const char *name)
{
	const struct config *cfg = w->cfg;
	long i;

	if (matches_any(&cfg->exclude_namespaces, name))
		return 0;
	for (size_t j = 0; j < cfg->namespaces.count; j++)
		if (!config_is_glob(cfg->namespaces.items[j]) && strcmp(cfg->namespaces.items[j], name) == 0)
			return 1;
	if (w->has_globs && (i = ns_find(&w->all, name)) >= 0 && !w->all.items[i].terminating &&
	    matches_any(&cfg->namespaces, name))
		return 1;
	if (cfg->namespace_selector && (i = ns_find(&w->selected, name)) >= 0 && !w->selected.items[i].terminating)
		return 1;
	return cfg->namespaces.count == 0 && !cfg->namespace_selector && strcmp(name, w->own) == 0;
}

/* Our Secret as a pass would leave it alone (fresh.h); why says what is not. */
static int secret_fresh(const struct watch *w, const struct watch_object *o, char why[FRESH_WHY_SIZE])
{
	struct fresh_want want = *w->p->want;

	want.now = (long long)time(NULL);
	return fresh_decide(&o->secret, &want, why);
}

static void want_apply(struct watch *w, const char *ns)
{
	log_register_name(ns);          /* a namespace found by the watch: kept whole in logs */
	if (ns_find(&w->pending, ns) < 0 && k8s_namespace_list_add(&w->pending, ns, 0) < 0)
		log_event(LOG_ERROR, "out of memory", "namespace", ns, NULL);
}

/* ---- requests ------------------------------------------------------------------------- */

/* The collection path of a stream with its first query parameters, then fmt. */
static int stream_path(struct watch *w, const struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int stream_path(struct watch *w, const struct stream *s, const char *fmt, ...)
{
	size_t size = sizeof w->path;
	int n;
	va_list ap;

	if (s->kind == NS_ALL)
		n = snprintf(w->path, size, "/api/v1/namespaces?");
	else if (s->kind == NS_SELECTED)
		n = snprintf(w->path, size, "/api/v1/namespaces?labelSelector=%s&", w->selector_q);
	else
		n = snprintf(w->path, size, "/api/v1/secrets?fieldSelector=metadata.name%%3D%s&", w->name_q);
	if (n < 0 || (size_t)n >= size)
		return -1;
	va_start(ap, fmt);
	n += vsnprintf(w->path + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size ? 0 : -1;
}

/*
 * GET w->path on conn (k8s_call: token, 401, 429/5xx retries), as a stream for a watch.
 * Each call gets a short deadline of its own: past it, the watch's own backoff takes over.
 * Returns the HTTP status, with w->err filled unless 200, or -1 with w->err.
 */
static int get(struct watch *w, struct stream *s, struct k8s_conn *conn, struct k8s_reply *r, int watch)
{
	struct k8s_request q = { "GET", w->path, s->kind != SECRETS ? "application/json"
	                         : watch ? METADATA_WATCH : METADATA_LIST, NULL, NULL, 0, K8S_ANSWER_MAX_LIST };
	int rc;

	k8s_client_renew(w->client, net_now_ms() + 3 * (int64_t)w->cfg->timeout_s * 1000);
	rc = watch ? k8s_call_stream(conn, &q, &s->body, r) : k8s_call(conn, &q, r);
	if (rc < 0) {
		snprintf(w->err, sizeof w->err, "%s", r->reason);
		return -1;
	}
	if (r->status != 200)
		k8s_reply_text(r, w->err, sizeof w->err);
	return r->status;
}

/* ---- lists ----------------------------------------------------------------------------- */

struct list_ctx {
	struct watch *w;
	enum kind kind;
	struct k8s_namespace_list *names;   /* namespaces: the new list; secrets: fresh ones */
};

static int list_item(void *arg, const struct watch_object *o)
{
	struct list_ctx *c = arg;
	struct watch *w = c->w;
	char why[FRESH_WHY_SIZE];

	if (c->kind != SECRETS)
		return k8s_namespace_list_add(c->names, o->name, o->terminating) < 0 ? -1 : 0;
	if (strcmp(o->name, w->cfg->secret_name) != 0 || !is_target(w, o->namespace))
		return 0;
	if (secret_fresh(w, o, why))
		return k8s_namespace_list_add(c->names, o->namespace, 0) < 0 ? -1 : 0;
	log_event(LOG_INFO, "watch: secret is not the one we wrote, restoring", "namespace", o->namespace,
	          "secret", o->name, "why", why, NULL);
	want_apply(w, o->namespace);
	return 0;
}

/* Pages through the stream's collection into c; s->version gets the list's version. */
static int list_pages(struct watch *w, struct stream *s, struct k8s_conn *conn, struct list_ctx *c)
{
	char cont[K8S_MAX_CONTINUE + 1] = "", cont_q[3 * K8S_MAX_CONTINUE + 1] = "";
	struct k8s_reply r;
	int rc;

	do {
		if (cont[0] && k8s_query_encode(cont, cont_q, sizeof cont_q) < 0)
			return snprintf(w->err, sizeof w->err, "continue token too long"), -1;
		if (stream_path(w, s, "limit=%d%s%s", LIST_LIMIT, cont[0] ? "&continue=" : "", cont_q) < 0)
			return snprintf(w->err, sizeof w->err, "list URL too long"), -1;
		if (get(w, s, conn, &r, 0) != 200)
			return -1;
		rc = watch_parse_list(r.body, r.body_len, w->cfg->field_manager, list_item, c, s->version,
		                      sizeof s->version, cont, sizeof cont, w->err, sizeof w->err);
		if (rc != 0) {
			if (rc > 0 || !w->err[0])
				snprintf(w->err, sizeof w->err, "out of memory");
			return -1;
		}
	} while (cont[0]);
	return 0;
}

/* After a namespace list replaced what the stream knew: the namespaces it makes targets
 * that were not (none on the first list: the pass has just applied to those). */
static void namespaces_listed(struct watch *w, struct stream *s, struct k8s_namespace_list *listed)
{
	struct k8s_namespace_list *known = s->kind == NS_ALL ? &w->all : &w->selected;
	struct k8s_namespace_list before = *known;
	char *was = s->listed_once && listed->count ? calloc(listed->count, 1) : NULL;

	for (size_t i = 0; was && i < listed->count; i++)
		was[i] = (char)is_target(w, listed->items[i].name);
	*known = *listed;
	*listed = (struct k8s_namespace_list){ 0 };
	for (size_t i = 0; was && i < known->count; i++) {
		if (was[i] || !is_target(w, known->items[i].name))
			continue;
		log_event(LOG_INFO, "watch: namespace became a target", "namespace", known->items[i].name,
		          "event", "list", NULL);
		want_apply(w, known->items[i].name);
	}
	free(was);
	k8s_namespace_list_free(&before);
}

/* After the Secret list: every target without a fresh Secret of ours gets one. */
static void secrets_listed(struct watch *w, const struct k8s_namespace_list *fresh)
{
	const struct config *cfg = w->cfg;
	struct k8s_target_input in = { &cfg->namespaces, &cfg->exclude_namespaces, w->own[0] ? w->own : NULL,
	                                cfg->namespace_selector != NULL, w->has_globs ? &w->all : NULL,
	                                cfg->namespace_selector ? &w->selected : NULL };
	struct k8s_namespace_list targets = { 0 };

	if (k8s_resolve_targets(&in, &targets) < 0) {
		log_event(LOG_ERROR, "out of memory", NULL);
		return;
	}
	for (size_t i = 0; i < targets.count; i++) {
		const char *name = targets.items[i].name;

		if (targets.items[i].terminating || ns_find(fresh, name) >= 0 || ns_find(&w->pending, name) >= 0)
			continue;
		log_event(LOG_INFO, "watch: target has no secret of ours, restoring", "namespace", name,
		          "secret", cfg->secret_name, NULL);
		want_apply(w, name);
	}
	k8s_namespace_list_free(&targets);
}

/* Lists the stream's collection on a connection of its own (pages are larger than
 * events). Returns 0 with s->version set, or -1 with w->err. */
static int relist(struct watch *w, struct stream *s)
{
	struct k8s_namespace_list names = { 0 };
	struct list_ctx c = { w, s->kind, &names };
	struct k8s_conn *conn = k8s_conn_new(w->client, KINDS + 1, LIST_BUF);
	int rc;

	if (!conn)
		return snprintf(w->err, sizeof w->err, "out of memory"), -1;
	rc = list_pages(w, s, conn, &c);
	k8s_conn_free(conn);
	if (rc == 0) {
		if (s->kind == SECRETS)
			secrets_listed(w, &names);
		else
			namespaces_listed(w, s, &names);
		if (log_enabled(LOG_DEBUG))
			log_event(LOG_DEBUG, "watch: listed", "what", kind_names[s->kind], "resource_version", s->version,
			          NULL);
		s->listed_once = 1;
	} else {
		s->version[0] = '\0';
	}
	k8s_namespace_list_free(&names);
	return rc;
}

/* ---- streams ----------------------------------------------------------------------------- */

static void stream_close(struct stream *s)
{
	http_conn_close(k8s_conn_http(s->conn));
	s->open = 0;
	s->lines.len = s->lines.start = 0;
}

/* Closes the stream after a failure; it is opened again after a backoff. */
static void stream_failed(struct watch *w, struct stream *s, const char *what)
{
	int64_t wait = backoff_ms(w, s->failures++, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
	char wait_text[24];

	stream_close(s);
	s->retry_at = net_now_ms() + wait;
	snprintf(wait_text, sizeof wait_text, "%lld", (long long)wait);
	log_event(s->failures > 1 ? LOG_WARN : LOG_INFO, "watch: stream interrupted, resuming", "what",
	          kind_names[s->kind], "stage", what, "error", w->err, "#retry_ms", wait_text, NULL);
}

/* The Secret list needs the namespace lists: a target is known only through them. */
static int namespaces_ready(const struct watch *w)
{
	for (int k = NS_ALL; k < SECRETS; k++)
		if (w->streams[k].active && !w->streams[k].version[0])
			return 0;
	return 1;
}

/* Lists when there is no version to resume from, then opens the watch. */
static void stream_start(struct watch *w, struct stream *s)
{
	struct k8s_reply r;
	int status;

	if (!s->version[0]) {
		if (s->kind == SECRETS && !namespaces_ready(w)) {
			s->retry_at = net_now_ms() + BACKOFF_BASE_MS;   /* after them */
			return;
		}
		if (relist(w, s) < 0) {
			stream_failed(w, s, "list");
			return;
		}
		if (s->kind != SECRETS) {
			/* the targets may have changed while nobody watched: the Secrets again */
			stream_close(&w->streams[SECRETS]);
			w->streams[SECRETS].version[0] = '\0';
			w->streams[SECRETS].retry_at = 0;
		}
	}
	if (stream_path(w, s, "watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d", s->version,
	                WATCH_TIMEOUT_S) < 0) {
		snprintf(w->err, sizeof w->err, "watch URL too long");
		stream_failed(w, s, "watch");
		return;
	}
	status = get(w, s, s->conn, &r, 1);
	if (status == 200 && s->body.open) {
		s->open = 1;
		s->last_byte_ms = net_now_ms();
		if (!s->announced || s->failures > 0)
			log_event(LOG_INFO, s->announced ? "watch: resumed" : "watch: watching", "what", kind_names[s->kind],
			          "resource_version", s->version, NULL);
		s->announced = 1;
		return;
	}
	if (status > 0 && watch_is_gone(status, r.st.reason))
		s->version[0] = '\0';
	else if (status == 200)
		snprintf(w->err, sizeof w->err, "watch answer has no body");
	stream_failed(w, s, "watch");
}

/* ---- events ------------------------------------------------------------------------------- */

static const char *const type_names[] = { "", "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

static void namespace_event(struct watch *w, struct stream *s, const struct watch_event *ev)
{
	struct k8s_namespace_list *known = s->kind == NS_ALL ? &w->all : &w->selected;
	const char *name = ev->object.name;
	int was = is_target(w, name), now;

	if (ev->type == WATCH_DELETED)
		ns_remove(known, name);
	else if (ns_set(known, name, ev->object.terminating) < 0)
		log_event(LOG_ERROR, "out of memory", "namespace", name, NULL);
	now = is_target(w, name);
	if (!was && now) {
		log_event(LOG_INFO, "watch: namespace became a target", "namespace", name, "event",
		          type_names[ev->type], NULL);
		want_apply(w, name);
	} else if (log_enabled(LOG_DEBUG)) {
		log_event(LOG_DEBUG, "watch: namespace event", "namespace", name, "event", type_names[ev->type],
		          "target", now ? "true" : "false", NULL);
	}
}

static void secret_event(struct watch *w, const struct watch_event *ev)
{
	const struct watch_object *o = &ev->object;
	const char *what = NULL;
	char why[FRESH_WHY_SIZE] = "";

	if (strcmp(o->name, w->cfg->secret_name) != 0 || !is_target(w, o->namespace)) {
		if (log_enabled(LOG_DEBUG))
			log_event(LOG_DEBUG, "watch: secret event outside the targets", "namespace", o->namespace,
			          "event", type_names[ev->type], NULL);
		return;
	}
	if (ev->type == WATCH_DELETED)
		what = "watch: secret deleted, restoring";
	else if (!secret_fresh(w, o, why))
		what = "watch: secret is not the one we wrote, restoring";
	if (!what) {
		if (log_enabled(LOG_DEBUG))
			log_event(LOG_DEBUG, "watch: secret is ours and fresh", "namespace", o->namespace, "event",
			          type_names[ev->type], NULL);
		return;
	}
	log_event(LOG_INFO, what, "namespace", o->namespace, "secret", o->name, "event", type_names[ev->type],
	          why[0] ? "why" : NULL, why, NULL);
	want_apply(w, o->namespace);
}

/* One line of a stream. Returns 0, or -1 when the stream must end (w->err says why). */
static int handle_line(struct watch *w, struct stream *s, const char *line, size_t len)
{
	struct watch_event ev;

	if (watch_parse_event(line, len, w->cfg->field_manager, &ev, w->err, sizeof w->err) < 0)
		return -1;
	if (ev.type == WATCH_ERROR) {
		snprintf(w->err, sizeof w->err, "%d %s: %s", ev.code, ev.reason, ev.message);
		if (watch_is_gone(ev.code, ev.reason))
			s->version[0] = '\0';   /* compacted away: list again, then watch */
		return -1;
	}
	memcpy(s->version, ev.object.resource_version, sizeof s->version);
	s->failures = 0;
	if (ev.type != WATCH_BOOKMARK && s->kind == SECRETS)
		secret_event(w, &ev);
	else if (ev.type != WATCH_BOOKMARK)
		namespace_event(w, s, &ev);
	watch_event_clear(&ev);
	return 0;
}

/* Reads what has arrived on an open stream. */
static void stream_read(struct watch *w, struct stream *s)
{
	int64_t deadline = net_now_ms() + (int64_t)w->cfg->timeout_s * 1000;

	for (int n = 0; n < LINES_PER_ROUND; n++) {
		char *line;
		size_t len;
		int rc = http_stream_line(k8s_conn_http(s->conn), &s->body, &s->lines, &line, &len, deadline);

		if (rc < 0) {
			snprintf(w->err, sizeof w->err, "%s", k8s_conn_http(s->conn)->err);
			stream_failed(w, s, "read");
			return;
		}
		if (rc == 0)
			break;
		s->last_byte_ms = net_now_ms();
		if (len > 0 && handle_line(w, s, line, len) < 0) {
			stream_failed(w, s, "event");
			return;
		}
		/* the next line only when it needs no wait on the socket */
		if (!memchr(s->lines.buf + s->lines.start, '\n', s->lines.len - s->lines.start) &&
		    !http_stream_pending(k8s_conn_http(s->conn), &s->body))
			break;
	}
	if (s->body.ended) {
		/* the server's timeoutSeconds: resume from the last version at once */
		s->open = 0;
		s->lines.len = s->lines.start = 0;
		s->retry_at = net_now_ms();
	}
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void apply_pending(struct watch *w)
{
	struct apply_params params;
	int code;

	if (w->pending.count == 0)
		return;
	params = *w->p->apply;
	params.only = &w->pending;
	params.deadline_ms = net_now_ms() + (int64_t)w->cfg->deadline_s * 1000;
	code = apply_run(&params);
	k8s_namespace_list_free(&w->pending);
	if (code == 0) {
		w->apply_failures = 0;
		return;
	}
	/* Some repairs failed: the Secret list, read again later, finds them. */
	{
		struct stream *s = &w->streams[SECRETS];
		int64_t wait = backoff_ms(w, w->apply_failures++, RETRY_BASE_MS, RETRY_CAP_MS);

		stream_close(s);
		s->version[0] = '\0';
		s->retry_at = net_now_ms() + wait;
	}
}

static void heartbeat(struct watch *w, int64_t now)
{
	const char *path = w->cfg->liveness_file;
	int fd;

	if (!path || now - w->heartbeat_ms < HEARTBEAT_MS)
		return;
	w->heartbeat_ms = now;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || futimens(fd, NULL) < 0)
		log_event(LOG_WARN, "cannot touch the liveness file", "path", path, "error", strerror(errno), NULL);
	if (fd >= 0)
		close(fd);
}

/* Waits for the streams, stop_fd and the clock. Returns 1 when stop_fd is readable. */
static int wait_round(struct watch *w, int64_t now)
{
	struct pollfd fds[KINDS + 1];
	struct stream *owner[KINDS + 1];
	int64_t wake = now + POLL_MAX_MS;
	nfds_t n = 1;

	fds[0] = (struct pollfd){ w->p->stop_fd, POLLIN, 0 };
	for (int k = 0; k < KINDS; k++) {
		struct stream *s = &w->streams[k];

		if (!s->active)
			continue;
		if (!s->open) {
			if (s->retry_at < wake)
				wake = s->retry_at;
			continue;
		}
		if (http_stream_pending(k8s_conn_http(s->conn), &s->body))
			wake = now;
		fds[n] = (struct pollfd){ k8s_conn_http(s->conn)->fd, POLLIN, 0 };
		owner[n++] = s;
	}
	if (w->p->refresh_at_ms < wake)
		wake = w->p->refresh_at_ms;
	if (poll(fds, n, wake > now ? (int)(wake - now) : 0) < 0 && errno != EINTR)
		return 0;
	if (fds[0].revents)
		return 1;
	for (nfds_t i = 1; i < n; i++) {
		struct stream *s = owner[i];

		if (s->open && (fds[i].revents || http_stream_pending(k8s_conn_http(s->conn), &s->body)))
			stream_read(w, s);
		else if (s->open && net_now_ms() - s->last_byte_ms > IDLE_MS) {
			snprintf(w->err, sizeof w->err, "nothing received for %d seconds", IDLE_MS / 1000);
			stream_failed(w, s, "read");
		}
	}
	return 0;
}

static int watch_loop(struct watch *w)
{
	for (;;) {
		int64_t now = net_now_ms();

		if (now >= w->p->refresh_at_ms)
			return WATCH_REFRESH;
		heartbeat(w, now);
		for (int k = 0; k < KINDS; k++) {
			struct stream *s = &w->streams[k];

			if (s->active && !s->open && now >= s->retry_at)
				stream_start(w, s);
		}
		apply_pending(w);
		if (wait_round(w, now))
			return WATCH_STOPPED;
		apply_pending(w);
	}
}

/* ---- setting up ------------------------------------------------------------------------ */

static int watch_init(struct watch *w, const struct watch_params *p)
{
	const struct config *cfg = p->cfg;

	w->p = p;
	w->cfg = cfg;
	retry_seed(&w->rng, 0x77617463);
	w->has_globs = k8s_names_need_list(&cfg->namespaces);
	if (cfg->namespaces.count == 0 && !cfg->namespace_selector &&
	    targets_own_namespace(cfg->serviceaccount_dir, w->own, sizeof w->own, w->err, sizeof w->err) < 0)
		return -1;
	if ((cfg->namespace_selector &&
	     k8s_query_encode(cfg->namespace_selector, w->selector_q, sizeof w->selector_q) < 0) ||
	    k8s_query_encode(cfg->secret_name, w->name_q, sizeof w->name_q) < 0)
		return snprintf(w->err, sizeof w->err, "selector or Secret name too long for a URL"), -1;
	if (k8s_client_open(cfg, p->apply->proxy, net_now_ms() + (int64_t)cfg->timeout_s * 1000, &w->client) != 0)
		return snprintf(w->err, sizeof w->err, "no usable Kubernetes client (logged above)"), -1;
	w->streams[NS_ALL].active = w->has_globs;
	w->streams[NS_SELECTED].active = cfg->namespace_selector != NULL;
	w->streams[SECRETS].active = 1;
	for (int k = 0; k < KINDS; k++) {
		struct stream *s = &w->streams[k];

		s->kind = (enum kind)k;
		if (!s->active)
			continue;
		s->conn = k8s_conn_new(w->client, (unsigned)k + 1, STREAM_BUF);
		s->line_buf = malloc(WATCH_MAX_LINE);
		if (!s->conn || !s->line_buf)
			return snprintf(w->err, sizeof w->err, "out of memory"), -1;
		s->lines = (struct http_line_reader){ s->line_buf, WATCH_MAX_LINE, 0, 0 };
	}
	return 0;
}

static void watch_free(struct watch *w)
{
	for (int k = 0; k < KINDS; k++) {
		k8s_conn_free(w->streams[k].conn);
		free(w->streams[k].line_buf);
	}
	k8s_namespace_list_free(&w->all);
	k8s_namespace_list_free(&w->selected);
	k8s_namespace_list_free(&w->pending);
	k8s_client_close(w->client);
}

int watch_run(const struct watch_params *p)
{
	struct watch *w = calloc(1, sizeof *w);
	int rc = WATCH_FAILED;

	if (!w) {
		log_event(LOG_ERROR, "out of memory", NULL);
		return WATCH_FAILED;
	}
	if (watch_init(w, p) < 0)
		log_event(LOG_ERROR, "cannot start watching", "reason", w->err, NULL);
	else
		rc = watch_loop(w);
	watch_free(w);
	free(w);
	return rc;
}

int watch_liveness_probe(const char *path, char *err, size_t errlen)
{
	struct stat st;
	time_t now = time(NULL);

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (now - st.st_mtime > WATCH_LIVENESS_MAX_AGE_S) {
		snprintf(err, errlen, "%s was last touched %lld seconds ago (more than %d)", path,
		         (long long)(now - st.st_mtime), WATCH_LIVENESS_MAX_AGE_S);
		return -1;
	}
	return 0;
}
