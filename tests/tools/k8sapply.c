/*
 * k8sapply: runs only the Kubernetes phase (apply_run) with a fixed .dockerconfigjson, so the
 * phase can be driven end to end without AWS. Options are the product's own (config_parse:
 * flags and environment); the payload comes from the environment:
 *
 *   K8SAPPLY_DOCKERCONFIGJSON  the .dockerconfigjson document (default: one fixed entry)
 *   K8SAPPLY_REGISTRIES        comma-separated hosts for the annotation
 *   K8SAPPLY_EXPIRES_AT        RFC 3339 expiry for the annotation
 *
 * Exit status: what apply_run returns, or 2 for a usage error.
 */
#include <stdlib.h>

#include "apply.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "net.h"

static const char *env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value && *value ? value : fallback;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct http_proxy proxy;
	struct apply_params params;
	char err[512];
	int rc;

	rc = config_parse(&cfg, argc, argv, err, sizeof err);
	if (rc == CONFIG_EXIT_0)
		return 0;
	if (rc != CONFIG_OK) {
		log_event(LOG_ERROR, "configuration error", "error", err, NULL);
		return 2;
	}
	log_setup(cfg.log_format, cfg.log_level);
	if (http_proxy_from_env(&proxy, err, sizeof err) < 0) {
		log_event(LOG_ERROR, "configuration error", "error", err, NULL);
		config_free(&cfg);
		return 2;
	}
	params.cfg = &cfg;
	params.dockerconfigjson = env_or("K8SAPPLY_DOCKERCONFIGJSON",
		"{\"auths\":{\"123456789012.dkr.ecr.us-east-1.amazonaws.com\":{\"username\":\"AWS\","
		"\"password\":\"k8sapply-password\",\"auth\":\"QVdTOms4c2FwcGx5LXBhc3N3b3Jk\"}}}");
	params.registries = env_or("K8SAPPLY_REGISTRIES", "123456789012.dkr.ecr.us-east-1.amazonaws.com");
	params.expires_at = env_or("K8SAPPLY_EXPIRES_AT", "2030-01-01T00:00:00Z");
	params.config_digest = getenv("K8SAPPLY_CONFIG_DIGEST");   /* NULL: no annotation */
	params.proxy = proxy.enabled ? &proxy : NULL;
	params.deadline_ms = net_now_ms() + (int64_t)cfg.deadline_s * 1000;
	rc = apply_run(&params);
	config_free(&cfg);
	return rc;
}
