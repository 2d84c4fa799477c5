/*
 * k8sdir.h: a throwaway ServiceAccount folder for the Kubernetes unit tests, and a config
 * parsed from an argv written as one string.
 */
#ifndef K8SDIR_H
#define K8SDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char sa_dir[] = "/tmp/test_k8s_sa.XXXXXX";

/* Writes DIR/name (NULL text: removes it). */
static void sa_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", sa_dir, name);
	unlink(path);
	rmdir(path);
	if (!text)
		return;
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Makes DIR/name a FIFO nobody writes to. */
static void sa_fifo(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", sa_dir, name);
	unlink(path);
	mkfifo(path, 0600);
}

static void sa_cleanup(void)
{
	static const char *const names[] = { "token", "ca.crt", "namespace" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		sa_file(names[i], NULL);
	rmdir(sa_dir);
}

/* Parses "--a x --b y" (split on spaces) with --serviceaccount-dir set to the folder and
 * no Kubernetes variables from the environment. Returns config_parse's result. */
static int parse_args(struct config *cfg, const char *args, char *err, size_t errlen)
{
	char buf[1024], *argv[32], *save = NULL;
	int argc = 0;

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("KUBERNETES_API_SERVER");
	snprintf(buf, sizeof buf, "ecr-refresh --serviceaccount-dir %s %s", sa_dir, args);
	for (char *w = strtok_r(buf, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	return config_parse(cfg, argc, argv, err, errlen);
}

#endif
