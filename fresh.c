/*
 * fresh: the freshness decision; see fresh.h.
 */
#include "fresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"

/* 1 when host (len bytes) is one of hosts. */
static int host_listed(const char *host, size_t len, const char *const *hosts, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(hosts[i]) == len && memcmp(hosts[i], host, len) == 0)
			return 1;
	return 0;
}

/* Takes the next item of a comma-separated list, blanks trimmed: returns where the rest
 * starts, or NULL when the list is done. */
static const char *next_item(const char *list, const char **item, size_t *len)
{
	const char *end;

	if (!*list)
		return NULL;
	end = strchr(list, ',');
	if (!end)
		end = list + strlen(list);
	*item = list;
	*len = (size_t)(end - list);
	while (*len && (**item == ' ' || **item == '\t'))
		(*item)++, (*len)--;
	while (*len && ((*item)[*len - 1] == ' ' || (*item)[*len - 1] == '\t'))
		(*len)--;
	return *end ? end + 1 : end;
}

int fresh_same_hosts(const char *list, const char *const *hosts, size_t count)
{
	const char *rest = list, *item;
	size_t len;

	while ((rest = next_item(rest, &item, &len)) != NULL)
		if (len == 0 || !host_listed(item, len, hosts, count))
			return 0;
	for (size_t i = 0; i < count; i++) {
		int found = 0;

		for (rest = list; !found && (rest = next_item(rest, &item, &len)) != NULL;)
			found = host_listed(item, len, &hosts[i], 1);
		if (!found)
			return 0;
	}
	return 1;
}

/* "6h0m" style, as --refresh-before was likely written. */
static void format_duration(char *out, size_t size, long seconds)
{
	if (seconds % 60)
		snprintf(out, size, "%ldh%ldm%lds", seconds / 3600, seconds % 3600 / 60, seconds % 60);
	else
		snprintf(out, size, "%ldh%ldm", seconds / 3600, seconds % 3600 / 60);
}

int fresh_decide(const struct k8s_secret_meta *rec, const struct fresh_want *want,
                 char why[FRESH_WHY_SIZE])
{
	long long expires;
	char text[32];

	if (!rec)
		snprintf(why, FRESH_WHY_SIZE, "no secret");
	else if (!rec->labelled)
		snprintf(why, FRESH_WHY_SIZE, "not labelled as managed by ecr-refresh");
	else if (!rec->owns_payload)
		snprintf(why, FRESH_WHY_SIZE, "payload or expiry changed by another field manager");
	else if (want->hosts && (!rec->registries || !fresh_same_hosts(rec->registries, want->hosts, want->host_count)))
		snprintf(why, FRESH_WHY_SIZE, "other registries");
	else if (strcmp(rec->digest, want->digest) != 0)
		snprintf(why, FRESH_WHY_SIZE, "other configuration digest");
	else if (want->never_expires && rec->expires_at[0])
		snprintf(why, FRESH_WHY_SIZE, "records an expiry, none is due");
	else if (want->never_expires) {
		why[0] = '\0';
		return 1;
	} else if (civil_parse_rfc3339(rec->expires_at, &expires) != 0)
		snprintf(why, FRESH_WHY_SIZE, "no readable expiry");
	else if (expires <= want->now + want->refresh_before_s) {
		format_duration(text, sizeof text, want->refresh_before_s);
		snprintf(why, FRESH_WHY_SIZE, "expires within %s", text);
	} else {
		why[0] = '\0';
		return 1;
	}
	return 0;
}

/* ---- reading the Secrets ------------------------------------------------------------- */

/* The metadata-only representation and nothing else: a server that cannot give it (406)
 * would otherwise send every Secret's data; the per-namespace reads are the way then. */
#define ACCEPT_METADATA_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

struct secret_list {
	const struct config *cfg;
	struct k8s_secret_meta_list *out;
};

static int read_secret_page(void *ctx, const char *body, size_t len, char *cont, size_t cont_size, char *err,
                            size_t errlen)
{
	struct secret_list *sl = ctx;

	return k8s_parse_secret_meta_page(body, len, sl->cfg->secret_name, sl->cfg->field_manager, sl->out, cont,
	                                  cont_size, err, errlen);
}

static void restart_secrets(void *ctx)
{
	k8s_secret_meta_list_free(((struct secret_list *)ctx)->out);
}

int fresh_list_secrets(struct k8s_conn *conn, const struct config *cfg, struct k8s_secret_meta_list *out,
                       struct k8s_reply *r)
{
	char path[K8S_PATH_MAX], text[K8S_REASON_MAX - 32];
	struct secret_list sl = { cfg, out };
	/*
	 * With --refresh-before the first page comes from the watch cache (k8s_page): 1,000
	 * Secrets in 0.19 s instead of 1.1 s (bench/README.md); a change of the last moments
	 * may be missing, and the next run sees it. Without it the list stands in for the reads
	 * that tell unchanged from updated, which must see the latest version.
	 */
	struct k8s_list list = { path, ACCEPT_METADATA_LIST, "secret", "secret list URL too long",
	                         { FRESH_LIST_LIMIT, FRESH_LIST_LIMIT, cfg->refresh_before_s != 0 },
	                         read_secret_page, restart_secrets, &sl };

	/* A Secret name is a DNS-1123 subdomain: nothing in it needs encoding. */
	if (snprintf(path, sizeof path, "/api/v1/secrets?fieldSelector=metadata.name%%3D%s", cfg->secret_name) >=
	    (int)sizeof path) {
		k8s_reply_fail(r, K8S_FAIL_OTHER, list.too_long);
		return -1;
	}
	if (k8s_list_read(conn, &list, r) == 0) {
		k8s_secret_meta_list_sort(out);
		return 0;
	}
	if (r->failure != K8S_FAIL_REFUSED || (r->status != 403 && r->status != 406))
		return -1;
	k8s_reply_text(r, text, sizeof text);
	snprintf(r->reason, sizeof r->reason, "%s", text);
	k8s_secret_meta_list_free(out);
	return 1;
}
