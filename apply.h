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

struct apply_params {
	const struct config *cfg;
	const char *dockerconfigjson;   /* the .dockerconfigjson document (not base64) */
	const char *registries;         /* comma-separated hosts, for the annotation */
	const char *expires_at;         /* earliest token expiry, RFC 3339 UTC */
	const struct http_proxy *proxy; /* HTTPS_PROXY / NO_PROXY, applied to the API server too */
	int64_t deadline_ms;            /* the whole run's deadline (net_now_ms() based) */
};

/*
 * Runs the phase and returns the process exit code (exitcode.h): EXIT_OK every target
 * namespace holds the Secret (or would, with --dry-run), EXIT_PARTIAL some namespaces
 * failed and the rest were written, EXIT_CONFIG a configuration problem found only now
 * (e.g. no namespace file and no --namespaces), EXIT_KUBERNETES the API server was
 * unreachable, untrusted or refused our credentials before any write.
 */
int apply_run(const struct apply_params *params);

/* Checks, without any network, what apply_run would refuse as configuration: the API
 * server address, the pod's own namespace when it is the default target, the field
 * manager, the ServiceAccount files. Returns 0, or -1 with one line in err (the caller
 * exits 2 before contacting anything). */
int apply_preflight(const struct config *cfg, char *err, size_t errlen);

#endif
