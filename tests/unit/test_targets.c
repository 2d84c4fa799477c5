/*
 * test_targets: the pod's own namespace file (present, missing, a FIFO, oversize, not a
 * name) and target sets from plain names, which need no list and so no API server.
 */
#include <stdio.h>
#include <string.h>

#include "k8sdir.h"
#include "k8sjson.h"
#include "log.h"
#include "targets.h"
#include "unit.h"

static void test_own_namespace(void)
{
	char out[64], err[512], want[600], dir_slash[300];

	sa_file("namespace", "team-a\n");
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, sizeof out, err, sizeof err), 0);
	CHECK_EQ_STR(out, "team-a");
	snprintf(dir_slash, sizeof dir_slash, "%s//", sa_dir);
	CHECK_EQ_INT(targets_own_namespace(dir_slash, out, sizeof out, err, sizeof err), 0);
	CHECK_EQ_STR(out, "team-a");
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, 6, err, sizeof err), -1);   /* no room */

	sa_file("namespace", "Bad_NS");
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, sizeof out, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s/namespace does not hold a namespace name", sa_dir);
	CHECK_EQ_STR(err, want);

	sa_file("namespace", NULL);
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, sizeof out, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s/namespace does not exist: name the targets with --namespaces", sa_dir);
	CHECK_EQ_STR(err, want);

	sa_fifo("namespace");
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, sizeof out, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s/namespace: not a regular file", sa_dir);
	CHECK_EQ_STR(err, want);

	{
		char big[400];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		sa_file("namespace", big);
	}
	CHECK_EQ_INT(targets_own_namespace(sa_dir, out, sizeof out, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s/namespace: larger than 255 bytes", sa_dir);
	CHECK_EQ_STR(err, want);
	sa_file("namespace", NULL);
}

static void test_plain_names(void)
{
	struct k8s_namespace_list out = { 0 };
	struct config cfg;
	char err[256];

	CHECK_EQ_INT(parse_args(&cfg, "--namespaces c,a,b,a --exclude-namespaces c", err, sizeof err), CONFIG_OK);
	/* plain names list nothing: no client is needed */
	CHECK_EQ_INT(targets_resolve(NULL, &cfg, NULL, &out), 0);
	CHECK_EQ_INT(out.count, 2);
	if (out.count == 2) {
		CHECK_EQ_STR(out.items[0].name, "a");
		CHECK_EQ_STR(out.items[1].name, "b");
	}
	k8s_namespace_list_free(&out);
	config_free(&cfg);

	CHECK_EQ_INT(parse_args(&cfg, "", err, sizeof err), CONFIG_OK);
	CHECK_EQ_INT(targets_resolve(NULL, &cfg, "own-ns", &out), 0);
	CHECK_EQ_INT(out.count, 1);
	if (out.count == 1)
		CHECK_EQ_STR(out.items[0].name, "own-ns");
	k8s_namespace_list_free(&out);
	config_free(&cfg);
}

int main(void)
{
	if (!mkdtemp(sa_dir))
		return 1;
	log_setup(LOG_JSON, LOG_ERROR);
	test_own_namespace();
	test_plain_names();
	sa_cleanup();
	return UNIT_DONE();
}
