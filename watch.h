/*
 * watch: --watch, the part of a run that keeps going after the pass (docs/reference.md
 * "--watch"). Watches namespaces (when globs or a selector make the targets) and our
 * Secrets by name over one thread and poll(), resumes from the last resourceVersion,
 * lists again after 410 Gone, backs off with jitter on errors, and applies the Secret
 * (apply_run with `only`) to a namespace that becomes a target and where our Secret was
 * deleted or changed by another hand. One log line per event acted on.
 *
 * Kubernetes references: api-concepts.md "Efficient detection of changes" and "Watch
 * bookmarks"; the WatchEvent type of kubernetes/apimachinery pkg/apis/meta/v1/watch.go.
 */
#ifndef WATCH_H
#define WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "config.h"
#include "fresh.h"

struct watch_params {
	const struct config *cfg;
	const struct apply_params *apply;    /* the pass's payload, annotations and proxy; its
	                                       * deadline is renewed for every apply */
	const struct fresh_want *want;        /* what a fresh Secret records (its `now` is
	                                       * set at each decision) */
	int64_t refresh_at_ms;                /* net_now_ms() based: new tokens are due then */
	int stop_fd;                          /* readable once SIGTERM or SIGINT arrived */
};

enum watch_result {
	WATCH_STOPPED = 0,    /* stop_fd became readable */
	WATCH_REFRESH = 1,    /* refresh_at_ms came: fetch tokens, run a pass, watch again */
	WATCH_FAILED = -1,    /* could not start (no usable endpoint, out of memory); logged */
};

int watch_run(const struct watch_params *params);

/* The exec liveness probe of a FROM scratch image: 0 when path was touched within
 * WATCH_LIVENESS_MAX_AGE_S seconds, else -1 with err filled. */
#define WATCH_LIVENESS_MAX_AGE_S 60
int watch_liveness_probe(const char *path, char *err, size_t errlen);

#endif
