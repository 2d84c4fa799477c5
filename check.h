/*
 * check: `ecr-refresh check`, the read-only diagnosis (docs/reference.md "ecr-refresh
 * check"; docs/troubleshooting.md "check" lists every problem and its fix).
 *
 * With the run's configuration it writes nothing, not even a dry run. The registry side:
 * which credential source is configured, for which identity (STS GetCallerIdentity), and
 * a token per configured region (fetched, wiped, never printed). The cluster side, per
 * target namespace: the Secret (presence, type, manager, registries, expiry), the
 * ServiceAccounts of --service-accounts and of every failing pod, and each container
 * waiting in ErrImagePull / ImagePullBackOff with the registry host the kubelet matches
 * (credmatch.h) and whether the Secret covers and is referenced for it.
 *
 * One line per problem on stdout (JSON lines, or an aligned table with --log-format text),
 * each naming the fix and the guide's anchor; logs on stderr. A permission it lacks is a
 * "not-checked" line, never a failure of the command.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "config.h"
#include "ecr.h"
#include "http.h"

/* The refresh window without --refresh-before: a run every 6 hours with 12-hour tokens
 * leaves at least 6 hours. A Secret with less left than the window (--refresh-before when
 * given) minus one hour (at most half of it, for a schedule's interval) is a problem. */
#define CHECK_REFRESH_WINDOW_S (6 * 3600)

struct check_params {
	const struct config *cfg;
	const struct http_proxy *proxy;        /* HTTPS_PROXY / NO_PROXY */
	int64_t deadline_ms;                   /* the whole command's, net_now_ms() based */
	struct aws_client *aws;                /* initialised, no credentials fetched yet */
	const struct ecr_registry *registries; /* --registries, parsed; count may be 0 */
	size_t registry_count;
};

/*
 * Runs the diagnosis and returns the exit code: 0 nothing wrong, 1 problems (a region
 * that gives no token is one), 2 configuration, 3 no cloud credentials at all, 4 the
 * cluster unreachable, untrusted or refusing our credentials. 3 is found first: without
 * credentials the cluster side is still checked and printed, and the exit code stays 3.
 */
int check_run(const struct check_params *params);

#endif
