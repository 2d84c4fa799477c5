/*
 * k8s: the Kubernetes phase of a run (SPEC.md "Kubernetes", "Logs and exit codes").
 *
 * Resolves the target namespaces (plain names need no list permission; globs and label
 * selectors page through GET /api/v1/namespaces), server-side-applies the Secret into each
 * over --concurrency persistent connections, optionally adds it to ServiceAccounts'
 * imagePullSecrets, logs one line per namespace and one closing summary line.
 *
 * --output is main's business (it needs no cluster): k8s_run always applies. The pure
 * parts (target set, Status and list readers) are in k8sjson.h.
 */
#ifndef K8S_H
#define K8S_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

struct k8s_run_params {
	const struct config *cfg;
	const char *dockerconfigjson;   /* the .dockerconfigjson document (not base64) */
	const char *registries;         /* comma-separated hosts, for the annotation */
	const char *expires_at;         /* earliest token expiry, RFC 3339 UTC */
	const struct http_proxy *proxy; /* HTTPS_PROXY / NO_PROXY, applied to the API server too */
	int64_t deadline_ms;            /* the whole run's deadline (net_now_ms() based) */
};

/*
 * Runs the phase and returns the process exit code: 0 every target namespace holds the
 * Secret (or would, with --dry-run), 1 some namespaces failed and the rest were written,
 * 2 a configuration problem found only now (e.g. no namespace file and no --namespaces),
 * 4 the API server was unreachable, untrusted or refused our credentials before any write.
 */
int k8s_run(const struct k8s_run_params *params);

/* Checks, without any network, what k8s_run would refuse as configuration: the API server
 * address, the pod's own namespace when it is the default target, the field manager.
 * Returns 0, or -1 with one line in err (the caller exits 2 before contacting anything). */
int k8s_preflight(const struct config *cfg, char *err, size_t errlen);

/* Reads the pod's own namespace from DIR/namespace into out. Returns 0, or -1 with err. */
int k8s_own_namespace(const char *dir, char *out, size_t size, char *err, size_t errlen);

#endif
