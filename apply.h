/*
 * apply: the Kubernetes phase of a run (docs/reference.md "What it asks of Kubernetes", "Exit
 * codes", "Logs").
 *
 * Opens the API server client (k8s.h), resolves the target namespaces (targets.h),
 * server-side-applies the Secret into each over --concurrency persistent connections,
 * optionally adds it to ServiceAccounts' imagePullSecrets, logs one line per namespace and
 * one closing summary line.
 *
 * --output is main's business (it needs no cluster): apply_run always applies.
 */
#ifndef APPLY_H
#define APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "k8sjson.h"

struct apply_params {
	const struct config *cfg;
	const char *dockerconfigjson;   /* the .dockerconfigjson document (not base64) */
	const char *registries;         /* comma-separated hosts, for the annotation */
	const char *expires_at;         /* earliest token expiry, RFC 3339 UTC */
	const char *config_digest;      /* secret_config_digest, for the annotation */
	const struct http_proxy *proxy; /* HTTPS_PROXY / NO_PROXY, applied to the API server too */
	int64_t deadline_ms;            /* the whole run's deadline (net_now_ms() based) */
	const struct k8s_namespace_list *only;  /* --watch: these namespaces alone, as the
	                                         * watch found them (no listing); NULL: the
	                                         * targets of the configuration */
};

/*
 * The phase in two halves, so a run can decide what needs a write before it asks any
 * registry for a token (docs/reference.md "--refresh-before"):
 *
 *   apply_open    the client, the target namespaces and what their Secrets are (one
 *                 metadata-only list, or each namespace's own read where that is
 *                 forbidden); nothing is written, no registry is contacted
 *   apply_plan    with --refresh-before: which targets need a write
 *   apply_write   writes those (every target without apply_plan), one log line each and
 *                 the summary; payload may be NULL when apply_plan found none
 *   apply_close   frees it all (after any of the above, NULL included)
 *
 * Exit codes (exitcode.h), from apply_open and apply_write: EXIT_OK every target namespace
 * holds the Secret (or would, with --dry-run), EXIT_PARTIAL some namespaces failed and the
 * rest were written, EXIT_CONFIG a configuration problem found only now (e.g. no namespace
 * file and no --namespaces), EXIT_KUBERNETES the API server was unreachable, untrusted or
 * refused our credentials before any write. A failed namespace gets a Warning Event
 * (events.h), so does a run that fails as a whole.
 */
struct apply_phase;
struct fresh_want;

int apply_open(const struct config *cfg, const struct http_proxy *proxy, int64_t deadline_ms,
               struct apply_phase **out);
size_t apply_plan(struct apply_phase *phase, const struct fresh_want *want);
int apply_write(struct apply_phase *phase, const struct apply_params *payload);
void apply_close(struct apply_phase *phase);

/* The run failed as a whole after apply_open (no registry token): one TokenUnavailable
 * Event in the tool's own namespace, best effort. */
void apply_run_failed(struct apply_phase *phase, const char *message);

/* apply_open then apply_write of params, for a caller that has its payload first. */
int apply_run(const struct apply_params *params);

/* Checks, without any network, what apply_run would refuse: the API server address, the
 * pod's own namespace when it is the default target, the field manager, the ServiceAccount
 * folder and files (k8s_client_check). Returns 0, or the exit code with one line in err
 * (EXIT_CONFIG, or EXIT_KUBERNETES for an unusable ca.crt), before anything is contacted. */
int apply_preflight(const struct config *cfg, char *err, size_t errlen);

#endif
