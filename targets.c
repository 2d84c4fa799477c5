/*
 * targets: resolving the target namespaces; see targets.h.
 */
#include "targets.h"

#include <stdio.h>
#include <string.h>

#include "exitcode.h"
#include "files.h"
#include "log.h"

/* Namespaces per page: 2,000 in one request (~400 bytes each; an idle run over 1,000
 * namespaces costs the namespace list and the Secret list, docs/reference.md
 * "Freshness"). A page over the list limit (namespaces with large annotations) is asked
 * again at half the size. */
#define LIST_LIMIT     2000

int targets_own_namespace(const char *dir, char *out, size_t size, char *err, size_t errlen)
{
	char path[4096], buf[FILES_NAME_MAX + 1];
	size_t n = strlen(dir);
	long len;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (snprintf(path, sizeof path, "%.*s/namespace", (int)n, dir) >= (int)sizeof path) {
		snprintf(err, errlen, "--serviceaccount-dir is too long");
		return -1;
	}
	len = files_read("", path, buf, FILES_NAME_MAX, err, errlen);
	if (len == FILES_ENOENT) {
		snprintf(err, errlen, "%s does not exist: name the targets with --namespaces", path);
		return -1;
	}
	if (len < 0)
		return -1;
	files_trim(buf, (size_t)len);
	if (!config_valid_dns_label(buf) || strlen(buf) >= size) {
		snprintf(err, errlen, "%s does not hold a namespace name", path);
		return -1;
	}
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

static int read_namespace_page(void *ctx, const char *body, size_t len, char *cont, size_t cont_size, char *err,
                               size_t errlen)
{
	return k8s_parse_namespace_page(body, len, ctx, cont, cont_size, err, errlen);
}

static void restart_namespaces(void *ctx)
{
	k8s_namespace_list_free(ctx);
}

/* GET /api/v1/namespaces, with the selector when there is one, page by page (k8s_list). */
static int list_namespaces(struct k8s_conn *conn, const char *selector, struct k8s_namespace_list *out,
                           struct k8s_reply *r)
{
	char selector_q[HTTP_MAX_URL], path[K8S_PATH_MAX];
	/* from etcd, not the watch cache: a namespace created a moment ago is served now */
	struct k8s_list list = { path, "application/json", "namespace",
	                         selector ? "the label selector is too long for a URL" : "namespace list URL too long",
	                         { LIST_LIMIT, LIST_LIMIT, 0 }, read_namespace_page, restart_namespaces, out };

	if ((selector && k8s_query_encode(selector, selector_q, sizeof selector_q) < 0) ||
	    snprintf(path, sizeof path, "/api/v1/namespaces%s%s", selector ? "?labelSelector=" : "",
	             selector ? selector_q : "") >= (int)sizeof path) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, list.too_long);
		return -1;
	}
	return k8s_list_read(conn, &list, r);
}

/* Lists what the names and the selector need: all namespaces for globs, the selected
 * ones for a selector. Returns 0, or an exit code, logged. */
static int list_needed(struct k8s_client *client, const struct config *cfg, struct k8s_namespace_list *all,
                       struct k8s_namespace_list *selected)
{
	struct k8s_conn *conn = k8s_conn_new(client, 0, K8S_LIST_BUF);
	struct k8s_reply r;
	int rc = 0;

	if (!conn)
		return EXIT_PARTIAL;
	if ((all && list_namespaces(conn, NULL, all, &r) < 0) ||
	    (selected && list_namespaces(conn, cfg->namespace_selector, selected, &r) < 0)) {
		log_event(LOG_ERROR, "cannot list namespaces", "reason", r.reason, "api_server",
		          k8s_client_base(client), NULL);
		rc = EXIT_KUBERNETES;
	}
	k8s_conn_free(conn);
	return rc;
}

/* The names this run sends, so that an answer quoting one keeps it in the log even when it
 * looks like a token (log_peer_text). */
static void register_names(const struct config *cfg, const struct k8s_namespace_list *targets)
{
	log_register_name(cfg->secret_name);
	for (size_t i = 0; i < cfg->service_accounts.count; i++)
		log_register_name(cfg->service_accounts.items[i]);
	for (size_t i = 0; i < targets->count; i++)
		log_register_name(targets->items[i].name);
}

int targets_resolve(struct k8s_client *client, const struct config *cfg, const char *own_namespace,
                    struct k8s_namespace_list *out)
{
	struct k8s_namespace_list all = { 0 }, selected = { 0 };
	int need_all = k8s_names_need_list(&cfg->namespaces);
	int need_selected = cfg->namespace_selector != NULL;
	struct k8s_target_input input = { &cfg->namespaces, &cfg->exclude_namespaces, own_namespace,
	                                  need_selected, need_all ? &all : NULL,
	                                  need_selected ? &selected : NULL };
	int rc = 0;

	if (need_all || need_selected)
		rc = list_needed(client, cfg, need_all ? &all : NULL, need_selected ? &selected : NULL);
	if (rc == 0 && k8s_resolve_targets(&input, out) < 0) {
		log_event(LOG_ERROR, "out of memory", NULL);
		rc = EXIT_PARTIAL;
	}
	if (rc == 0)
		register_names(cfg, out);
	k8s_namespace_list_free(&all);
	k8s_namespace_list_free(&selected);
	return rc;
}
