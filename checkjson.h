/*
 * checkjson: the pure readers of `ecr-refresh check` (check.h), apart from its I/O so they
 * can be unit tested and fuzzed without a cluster: the one Secret (type, manager,
 * annotations and the KEYS of its .dockerconfigjson, never a value), a ServiceAccount's
 * imagePullSecrets, and pages of a namespace's pods reduced to the containers the kubelet
 * cannot pull.
 *
 * Input comes from the API server: every field copied out is bounded and has control
 * characters replaced, so it is safe to print. Secret data is decoded into heap memory
 * that is wiped before it is freed, and the parsed tree is wiped too.
 */
#ifndef CHECKJSON_H
#define CHECKJSON_H

#include <stddef.h>

#include "credmatch.h"

#define CHECK_MAX_KEYS   32      /* dockerconfig keys read; more are counted, not kept */
#define CHECK_MAX_NAME   254     /* DNS subdomain (253) and its NUL */
#define CHECK_MAX_FAILING 200    /* failing containers kept per namespace */

struct check_secret {
	char type[64];
	char manager[64];                            /* app.kubernetes.io/managed-by, "" */
	char registries[512];                        /* ecr-refresh.io/registries, "" */
	char expires_at[40];                         /* ecr-refresh.io/expires-at, "" */
	long long expires;                           /* its UNIX seconds, -1 when absent or bad */
	int data_ok;                                 /* .dockerconfigjson decodes to {"auths":{...}} */
	size_t key_count;                            /* keys kept in keys[] */
	size_t keys_dropped;                         /* keys past CHECK_MAX_KEYS or too long */
	char keys[CHECK_MAX_KEYS][CREDMATCH_MAX_NAME + 1];
};

/* Reads a Secret object (GET .../secrets/NAME). Returns 0 (data_ok says whether its
 * .dockerconfigjson was usable), or -1 with err when body is not a Secret object. */
int check_parse_secret(const char *body, size_t len, struct check_secret *out, char *err, size_t errlen);

/* Reads a ServiceAccount: *listed = 1 when imagePullSecrets names secret_name. Returns 0,
 * or -1 with err when body is not an object. */
int check_parse_service_account(const char *body, size_t len, const char *secret_name, int *listed,
                                char *err, size_t errlen);

/* One container the kubelet is failing to pull. */
struct check_failing {
	char pod[CHECK_MAX_NAME];
	char container[CHECK_MAX_NAME];
	char service_account[CHECK_MAX_NAME];        /* spec.serviceAccountName, else "default" */
	char image[4 * CREDMATCH_MAX_NAME + 1];      /* as the status (or spec) names it */
	char reason[32];                             /* "ErrImagePull" or "ImagePullBackOff" */
	int pod_references_secret;                   /* spec.imagePullSecrets names the Secret */
};

struct check_failing_list {
	struct check_failing *items;
	size_t count, cap;
	size_t dropped;                              /* past CHECK_MAX_FAILING */
};

/*
 * Reads one page of GET .../pods (a PodList), appending every container (init containers
 * included) whose state is waiting with reason ErrImagePull or ImagePullBackOff; copies
 * metadata.continue into cont ("" on the last page). Returns 0, or -1 with err when the
 * page is not a list or the continue token does not fit or is not printable.
 */
int check_parse_pod_page(const char *body, size_t len, const char *secret_name,
                         struct check_failing_list *list, char *cont, size_t cont_size,
                         char *err, size_t errlen);

void check_failing_list_free(struct check_failing_list *list);

#endif
