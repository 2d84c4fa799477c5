/*
 * fresh: does a namespace's Secret need a write? (docs/reference.md "--refresh-before").
 *
 * A Secret is left alone (result "fresh") when it is ours (the managed-by label, and our
 * field manager still owns the payload and the recorded expiry), records the same set of
 * registries and the same configuration digest as this run would write, and expires later
 * than now + --refresh-before, or, when no entry of this run expires, records no expiry. Everything else is written, and the answer says why.
 *
 * The decision is pure (no clock, no I/O): the record comes from k8s_parse_secret_meta_page,
 * the wanted values from the configuration.
 */
#ifndef FRESH_H
#define FRESH_H

#include <stddef.h>

#include "config.h"
#include "k8s.h"
#include "k8sjson.h"

#define FRESH_LIST_LIMIT  2000   /* Secrets per page: 1,000 namespaces take one */

struct fresh_want {
	const char *const *hosts;       /* the configured registry hosts; NULL: not compared (the
	                                 * default registry is known only after a token) */
	size_t host_count;
	const char *digest;             /* secret_config_digest of this run */
	long long now;                  /* UNIX seconds */
	long refresh_before_s;          /* > 0 */
	int never_expires;              /* no entry of this run expires: the Secret records no
	                                 * expiry and is fresh while digest and registries match */
};

#define FRESH_WHY_SIZE 96

/*
 * 1 when rec (NULL: the namespace has no such Secret) can be left alone, else 0 with why
 * set to a short phrase for the log ("no secret", "expires within 6h0m", ...).
 */
int fresh_decide(const struct k8s_secret_meta *rec, const struct fresh_want *want,
                 char why[FRESH_WHY_SIZE]);

/* 1 when the comma-separated list (blanks around items ignored) names exactly the hosts of
 * hosts[0..count), duplicates and order aside. */
int fresh_same_hosts(const char *list, const char *const *hosts, size_t count);

/*
 * Reads every Secret named cfg->secret_name, metadata only, in one request per
 * FRESH_LIST_LIMIT Secrets: GET /api/v1/secrets?fieldSelector=metadata.name%3DNAME, which
 * RBAC allows with `list` on secrets narrowed by resourceNames to that name (the field
 * selector names it). Returns 0 with out filled (k8s_secret_meta_list_find-able); 1 when
 * the list is refused (403, or 406 from a server without the metadata-only form: read
 * each namespace instead), r->reason saying why; -1 with r failed otherwise.
 */
int fresh_list_secrets(struct k8s_conn *conn, const struct config *cfg, struct k8s_secret_meta_list *out,
                       struct k8s_reply *r);

#endif
