/*
 * test_apply: the Kubernetes phase without a cluster: what apply_preflight refuses before
 * anything is contacted, and the exit codes of apply_run when the configuration is found
 * wanting only now (2) or the API server never answers (4, every namespace reported).
 * Applies against a real kube-apiserver are tests/e2e/test_k8s_e2e.py.
 */
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "exitcode.h"
#include "k8sdir.h"
#include "log.h"
#include "net.h"
#include "ports.h"
#include "unit.h"

static void test_preflight(void)
{
	struct config cfg;
	char err[512], want[600];

	CHECK_EQ_INT(parse_args(&cfg, "--api-server http://127.0.0.1:8001", err, sizeof err), CONFIG_OK);
	CHECK_EQ_INT(apply_preflight(&cfg, err, sizeof err), EXIT_CONFIG);
	snprintf(want, sizeof want, "%s/namespace does not exist: name the targets with --namespaces", sa_dir);
	CHECK_EQ_STR(err, want);
	sa_file("namespace", "pod-ns");
	CHECK_EQ_INT(apply_preflight(&cfg, err, sizeof err), 0);
	sa_fifo("token");
	CHECK_EQ_INT(apply_preflight(&cfg, err, sizeof err), EXIT_CONFIG);
	snprintf(want, sizeof want, "%s/token: not a regular file", sa_dir);
	CHECK_EQ_STR(err, want);
	sa_file("token", NULL);
	sa_file("namespace", NULL);
	config_free(&cfg);

	/* with --namespaces the namespace file is not needed */
	CHECK_EQ_INT(parse_args(&cfg, "--api-server http://127.0.0.1:8001 --namespaces a", err, sizeof err), CONFIG_OK);
	CHECK_EQ_INT(apply_preflight(&cfg, err, sizeof err), 0);
	config_free(&cfg);
}

static int run_with(const char *args, int64_t deadline_ms)
{
	struct apply_params params = { 0 };
	struct config cfg;
	char err[256];
	int rc;

	CHECK_EQ_INT(parse_args(&cfg, args, err, sizeof err), CONFIG_OK);
	params.cfg = &cfg;
	params.dockerconfigjson = "{\"auths\":{}}";
	params.registries = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
	params.expires_at = "2030-01-01T00:00:00Z";
	params.deadline_ms = deadline_ms;
	rc = apply_run(&params);
	config_free(&cfg);
	return rc;
}

static void test_run_exit_codes(void)
{
	char args[160];
	int fd;
	unsigned port = refusing_port(&fd);

	/* no namespace file and no --namespaces: configuration, found before the network */
	CHECK_EQ_INT(run_with("--api-server http://127.0.0.1:8001", net_deadline_in(5000)), EXIT_CONFIG);
	CHECK_EQ_INT(run_with("--api-server https://127.0.0.1:8001 --namespaces a", net_deadline_in(5000)),
	             EXIT_KUBERNETES);   /* https without ca.crt: untrusted */

	CHECK(port != 0);
	snprintf(args, sizeof args, "--api-server http://127.0.0.1:%u --namespaces a,b,c --timeout 1", port);
	/* nothing answers: exit 4, not 1 (no namespace was written) */
	CHECK_EQ_INT(run_with(args, net_deadline_in(1500)), EXIT_KUBERNETES);
	close(fd);
}

int main(void)
{
	if (!mkdtemp(sa_dir))
		return 1;
	log_setup(LOG_JSON, LOG_ERROR);
	test_preflight();
	test_run_exit_codes();
	log_forget_secrets();
	sa_cleanup();
	return UNIT_DONE();
}
