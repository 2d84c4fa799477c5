/*
 * targets: the namespaces a run writes into (docs/reference.md "Target namespaces").
 *
 * Plain names need no list permission; globs and a label selector page through GET
 * /api/v1/namespaces on one connection of the client. The pure part (names, globs,
 * exclusions, the sorted set) is k8s_resolve_targets in k8sjson.h.
 */
#ifndef TARGETS_H
#define TARGETS_H

#include <stddef.h>

#include "config.h"
#include "k8s.h"
#include "k8sjson.h"

/* Reads the pod's own namespace from DIR/namespace into out. Returns 0, or -1 with err
 * (a configuration error: exit 2). */
int targets_own_namespace(const char *dir, char *out, size_t size, char *err, size_t errlen);

/*
 * The target set of cfg: --namespaces (names and globs) or own_namespace when they are
 * empty, narrowed by --namespace-selector, less --exclude-namespaces. Returns 0 with out
 * filled (the caller frees it with k8s_namespace_list_free), or the exit code, logged:
 * EXIT_KUBERNETES when the namespaces could not be listed, EXIT_PARTIAL out of memory.
 */
int targets_resolve(struct k8s_client *client, const struct config *cfg, const char *own_namespace,
                    struct k8s_namespace_list *out);

#endif
