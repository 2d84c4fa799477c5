/*
 * config: defaults, every flag and variable, flag over variable, the k8s-ecr-login-renew
 * aliases, "--x=y", every validation message, label selector grammar, globs, --help and
 * --version. Driven by tables; the environment by setenv/unsetenv.
 */
#include "config.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every variable config reads, so each row starts from a clean environment. */
static const char *const variables[] = {
	"ECR_REGISTRIES", "DOCKER_REGISTRIES", "TARGET_NAMESPACES", "TARGET_NAMESPACE",
	"NAMESPACE_SELECTOR", "EXCLUDE_NAMESPACES", "EXCLUDE_NAMESPACE", "SECRET_NAME",
	"DOCKER_SECRET_NAME", "PATCH_SERVICE_ACCOUNTS", "FORCE_CONFLICTS", "DRY_RUN", "CONCURRENCY",
	"REQUEST_TIMEOUT", "RUN_DEADLINE", "KUBERNETES_API_SERVER", "SERVICEACCOUNT_DIR",
	"FIELD_MANAGER", "LOG_FORMAT", "LOG_LEVEL", "REFRESH_BEFORE", "WATCH", "LIVENESS_FILE",
	"ECR_PUBLIC", "GCR_REGISTRIES", "EXTRA_DOCKERCONFIG_FILES", "GCR_AUTH",
	NULL
};

#define MAX_ARGS 12
#define MAX_ENV 6

static void clear_environment(void)
{
	for (int i = 0; variables[i]; i++)
		unsetenv(variables[i]);
}

/* args and env are NULL-terminated; env entries are "NAME=value". */
static int run(struct config *cfg, const char *const *args, const char *const *env, char *err, size_t errlen)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0, rc;

	argv[argc++] = (char *)"ecr-refresh";
	for (; args && *args && argc <= MAX_ARGS; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	clear_environment();
	for (; env && *env; env++) {
		char name[64];
		const char *eq = strchr(*env, '=');
		size_t n = (size_t)(eq - *env);

		memcpy(name, *env, n);
		name[n] = '\0';
		setenv(name, eq + 1, 1);
	}
	rc = config_parse(cfg, argc, argv, err, errlen);
	clear_environment();
	return rc;
}

static void join_list(char *out, size_t outlen, const struct config_list *list)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < list->count; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "|" : "", list->items[i]);
}

/* One field of cfg as text, so that table rows can name what they check. */
static const char *describe(const struct config *cfg, const char *field, char *out, size_t outlen)
{
	static const char *const outputs[] = { "none", "json", "yaml" };
	static const char *const levels[] = { "debug", "info", "warn", "error" };

	out[0] = '\0';
	if (strcmp(field, "registries") == 0)
		join_list(out, outlen, &cfg->registries);
	else if (strcmp(field, "namespaces") == 0)
		join_list(out, outlen, &cfg->namespaces);
	else if (strcmp(field, "exclude") == 0)
		join_list(out, outlen, &cfg->exclude_namespaces);
	else if (strcmp(field, "service_accounts") == 0)
		join_list(out, outlen, &cfg->service_accounts);
	else if (strcmp(field, "selector") == 0)
		snprintf(out, outlen, "%s", cfg->namespace_selector ? cfg->namespace_selector : "(none)");
	else if (strcmp(field, "secret_name") == 0)
		snprintf(out, outlen, "%s", cfg->secret_name ? cfg->secret_name : "(none)");
	else if (strcmp(field, "force") == 0)
		snprintf(out, outlen, "%d", cfg->force);
	else if (strcmp(field, "dry_run") == 0)
		snprintf(out, outlen, "%d", cfg->dry_run);
	else if (strcmp(field, "watch") == 0)
		snprintf(out, outlen, "%d:%s", cfg->watch, cfg->liveness_file ? cfg->liveness_file : "(none)");
	else if (strcmp(field, "output") == 0)
		snprintf(out, outlen, "%s", outputs[cfg->output]);
	else if (strcmp(field, "concurrency") == 0)
		snprintf(out, outlen, "%d", cfg->concurrency);
	else if (strcmp(field, "timeout") == 0)
		snprintf(out, outlen, "%d", cfg->timeout_s);
	else if (strcmp(field, "deadline") == 0)
		snprintf(out, outlen, "%d", cfg->deadline_s);
	else if (strcmp(field, "refresh_before") == 0)
		snprintf(out, outlen, "%ld", cfg->refresh_before_s);
	else if (strcmp(field, "api_server") == 0)
		snprintf(out, outlen, "%s", cfg->api_server ? cfg->api_server : "(none)");
	else if (strcmp(field, "sa_dir") == 0)
		snprintf(out, outlen, "%s", cfg->serviceaccount_dir ? cfg->serviceaccount_dir : "(none)");
	else if (strcmp(field, "field_manager") == 0)
		snprintf(out, outlen, "%s", cfg->field_manager ? cfg->field_manager : "(none)");
	else if (strcmp(field, "log_format") == 0)
		snprintf(out, outlen, "%s", cfg->log_format == LOG_TEXT ? "text" : "json");
	else if (strcmp(field, "log_level") == 0)
		snprintf(out, outlen, "%s", levels[cfg->log_level]);
	else if (strcmp(field, "ecr_public") == 0)
		snprintf(out, outlen, "%d", cfg->ecr_public);
	else if (strcmp(field, "extra_dockerconfig") == 0)
		join_list(out, outlen, &cfg->extra_dockerconfig);
	else if (strcmp(field, "gcr_registries") == 0)
		join_list(out, outlen, &cfg->gcr_registries);
	else if (strcmp(field, "gcr_auth") == 0)
		snprintf(out, outlen, "%s", (const char *const[]){ "default", "json-key", "access-token" }[cfg->gcr_auth]);
	else
		snprintf(out, outlen, "unknown field %s", field);
	return out;
}

struct good_row {
	const char *args[MAX_ARGS];
	const char *env[MAX_ENV];
	const char *field;
	const char *want;
};

static const struct good_row good_rows[] = {
	/* defaults */
	{ {0}, {0}, "registries", "" },
	{ {0}, {0}, "namespaces", "" },
	{ {0}, {0}, "exclude", "" },
	{ {0}, {0}, "service_accounts", "" },
	{ {0}, {0}, "selector", "(none)" },
	{ {0}, {0}, "secret_name", "ecr-creds" },
	{ {0}, {0}, "force", "0" },
	{ {0}, {0}, "refresh_before", "0" },
	{ { "--refresh-before", "6h" }, {0}, "refresh_before", "21600" },
	{ {0}, { "REFRESH_BEFORE=90m" }, "refresh_before", "5400" },
	{ { "--refresh-before=1h30m" }, { "REFRESH_BEFORE=6h" }, "refresh_before", "5400" },
	{ {0}, { "REFRESH_BEFORE=" }, "refresh_before", "0" },
	{ {0}, {0}, "dry_run", "0" },
	{ {0}, {0}, "output", "none" },
	{ {0}, {0}, "concurrency", "4" },
	{ {0}, {0}, "timeout", "10" },
	{ {0}, {0}, "deadline", "300" },
	{ {0}, {0}, "api_server", "(none)" },
	{ {0}, {0}, "sa_dir", "/var/run/secrets/kubernetes.io/serviceaccount" },
	{ {0}, {0}, "field_manager", "ecr-refresh" },
	{ {0}, {0}, "log_format", "json" },
	{ {0}, {0}, "log_level", "info" },

	/* every flag, both forms */
	{ { "--registries", " 1.dkr.ecr.us-east-1.amazonaws.com ,\t2.dkr.ecr.eu-west-1.amazonaws.com" }, {0},
	  "registries", "1.dkr.ecr.us-east-1.amazonaws.com|2.dkr.ecr.eu-west-1.amazonaws.com" },
	{ { "--registries=https://1.dkr.ecr.us-east-1.amazonaws.com/v2/" }, {0},
	  "registries", "https://1.dkr.ecr.us-east-1.amazonaws.com/v2/" },
	{ { "--namespaces", " a , team-* ,, c[0-9] , " }, {0}, "namespaces", "a|team-*|c[0-9]" },
	{ { "--namespaces=default" }, {0}, "namespaces", "default" },
	{ { "--namespace-selector", "team in (a, b),!legacy" }, {0}, "selector", "team in (a, b),!legacy" },
	{ { "--namespace-selector=env=prod" }, {0}, "selector", "env=prod" },
	{ { "--exclude-namespaces", "kube-*,default" }, {0}, "exclude", "kube-*|default" },
	{ { "--exclude-namespaces=kube-system" }, {0}, "exclude", "kube-system" },
	{ { "--secret-name", "pull.secret-2" }, {0}, "secret_name", "pull.secret-2" },
	{ { "--secret-name=x" }, {0}, "secret_name", "x" },
	{ { "--service-accounts", "default, builder" }, {0}, "service_accounts", "default|builder" },
	{ { "--service-accounts=ci.bot" }, {0}, "service_accounts", "ci.bot" },
	{ { "--force" }, {0}, "force", "1" },
	{ { "--force=no" }, { "FORCE_CONFLICTS=true" }, "force", "0" },
	{ { "--dry-run" }, {0}, "dry_run", "1" },
	{ { "--watch" }, {0}, "watch", "1:(none)" },
	{ {0}, { "WATCH=true", "LIVENESS_FILE=/tmp/alive" }, "watch", "1:/tmp/alive" },
	{ { "--watch=false" }, { "WATCH=true" }, "watch", "0:(none)" },
	{ { "--dry-run=false" }, { "DRY_RUN=1" }, "dry_run", "0" },
	{ { "--output", "json" }, {0}, "output", "json" },
	{ { "--output=yaml" }, {0}, "output", "yaml" },
	{ { "--output", "YAML" }, {0}, "output", "yaml" },
	{ { "--concurrency", "64" }, {0}, "concurrency", "64" },
	{ { "--concurrency=1" }, {0}, "concurrency", "1" },
	{ { "--timeout", "300" }, {0}, "timeout", "300" },
	{ { "--timeout=1" }, {0}, "timeout", "1" },
	{ { "--timeout", "3600", "--deadline", "3600" }, {0}, "timeout", "3600" },
	{ { "--deadline", "86400" }, {0}, "deadline", "86400" },
	{ { "--deadline=10" }, {0}, "deadline", "10" },
	{ { "--api-server", "http://127.0.0.1:8001" }, {0}, "api_server", "http://127.0.0.1:8001" },
	{ { "--api-server=https://[::1]:6443/" }, {0}, "api_server", "https://[::1]:6443/" },
	{ { "--serviceaccount-dir", "/tmp/sa dir" }, {0}, "sa_dir", "/tmp/sa dir" },
	{ { "--serviceaccount-dir=sa" }, {0}, "sa_dir", "sa" },
	{ { "--field-manager", "my manager/1.0" }, {0}, "field_manager", "my manager/1.0" },
	{ { "--field-manager=m" }, {0}, "field_manager", "m" },
	{ { "--log-format", "text" }, {0}, "log_format", "text" },
	{ { "--log-format=json" }, { "LOG_FORMAT=text" }, "log_format", "json" },
	{ { "--log-level", "debug" }, {0}, "log_level", "debug" },
	{ { "--log-level=WARN" }, {0}, "log_level", "warn" },
	{ { "--log-level", "error" }, {0}, "log_level", "error" },
	/* the last of a repeated flag wins */
	{ { "--secret-name", "a", "--secret-name", "b" }, {0}, "secret_name", "b" },
	/* a value may look like a short option */
	{ { "--namespace-selector", "!legacy" }, {0}, "selector", "!legacy" },

	/* every variable */
	{ {0}, { "ECR_REGISTRIES=1.dkr.ecr.us-east-1.amazonaws.com" }, "registries", "1.dkr.ecr.us-east-1.amazonaws.com" },
	{ {0}, { "TARGET_NAMESPACES=a,b" }, "namespaces", "a|b" },
	{ {0}, { "NAMESPACE_SELECTOR=ecr-refresh/enabled" }, "selector", "ecr-refresh/enabled" },
	{ {0}, { "EXCLUDE_NAMESPACES=kube-*" }, "exclude", "kube-*" },
	{ {0}, { "SECRET_NAME=regcred" }, "secret_name", "regcred" },
	{ {0}, { "PATCH_SERVICE_ACCOUNTS=default" }, "service_accounts", "default" },
	{ {0}, { "FORCE_CONFLICTS=true" }, "force", "1" },
	{ {0}, { "FORCE_CONFLICTS=1" }, "force", "1" },
	{ {0}, { "FORCE_CONFLICTS=yes" }, "force", "1" },
	{ {0}, { "FORCE_CONFLICTS=TRUE" }, "force", "1" },
	{ {0}, { "FORCE_CONFLICTS=false" }, "force", "0" },
	{ {0}, { "FORCE_CONFLICTS=0" }, "force", "0" },
	{ {0}, { "FORCE_CONFLICTS=no" }, "force", "0" },
	{ {0}, { "DRY_RUN=true" }, "dry_run", "1" },
	{ {0}, { "DRY_RUN=Yes" }, "dry_run", "1" },
	{ {0}, { "DRY_RUN=0" }, "dry_run", "0" },
	{ {0}, { "CONCURRENCY=16" }, "concurrency", "16" },
	{ {0}, { "REQUEST_TIMEOUT=5" }, "timeout", "5" },
	{ {0}, { "RUN_DEADLINE=60" }, "deadline", "60" },
	{ {0}, { "KUBERNETES_API_SERVER=https://k8s.example:6443" }, "api_server", "https://k8s.example:6443" },
	{ {0}, { "SERVICEACCOUNT_DIR=/sa" }, "sa_dir", "/sa" },
	{ {0}, { "FIELD_MANAGER=fm" }, "field_manager", "fm" },
	{ {0}, { "LOG_FORMAT=text" }, "log_format", "text" },
	{ {0}, { "LOG_LEVEL=debug" }, "log_level", "debug" },
	{ {0}, { "LOG_LEVEL=ERROR" }, "log_level", "error" },
	/* a variable set to "" counts as unset */
	{ {0}, { "SECRET_NAME=" }, "secret_name", "ecr-creds" },
	{ {0}, { "CONCURRENCY=" }, "concurrency", "4" },
	/* other registries in the same Secret */
	{ {0}, {0}, "ecr_public", "0" },
	{ {0}, {0}, "extra_dockerconfig", "" },
	{ {0}, {0}, "gcr_registries", "" },
	{ {0}, {0}, "gcr_auth", "default" },
	{ {0}, { "ECR_PUBLIC=true", "GCR_REGISTRIES=gcr.io" }, "registries", "" },
	{ {0}, { "ECR_PUBLIC=true" }, "ecr_public", "1" },
	{ { "--ecr-public=false" }, { "ECR_PUBLIC=true" }, "ecr_public", "0" },
	{ {0}, { "EXTRA_DOCKERCONFIG_FILES= /a/.dockerconfigjson , /b/config.json" }, "extra_dockerconfig",
	  "/a/.dockerconfigjson|/b/config.json" },
	{ { "--extra-dockerconfig", "/f" }, { "EXTRA_DOCKERCONFIG_FILES=/e" }, "extra_dockerconfig", "/f" },
	{ {0}, { "GCR_REGISTRIES=gcr.io, europe-west1-docker.pkg.dev" }, "gcr_registries",
	  "gcr.io|europe-west1-docker.pkg.dev" },
	{ { "--gcr-registries", "us.gcr.io" }, { "GCR_REGISTRIES=gcr.io" }, "gcr_registries", "us.gcr.io" },
	{ {0}, { "GCR_AUTH=Access-Token" }, "gcr_auth", "access-token" },
	{ { "--gcr-auth", "json-key" }, { "GCR_AUTH=access-token" }, "gcr_auth", "json-key" },

	/* a flag beats its variable, even a bad one */
	{ { "--registries", "f.dkr.ecr.us-east-1.amazonaws.com" }, { "ECR_REGISTRIES=e.dkr.ecr.us-east-1.amazonaws.com" },
	  "registries", "f.dkr.ecr.us-east-1.amazonaws.com" },
	{ { "--namespaces", "flag" }, { "TARGET_NAMESPACES=env" }, "namespaces", "flag" },
	{ { "--namespace-selector", "a=b" }, { "NAMESPACE_SELECTOR=c=d" }, "selector", "a=b" },
	{ { "--exclude-namespaces", "flag" }, { "EXCLUDE_NAMESPACES=env" }, "exclude", "flag" },
	{ { "--secret-name", "flag" }, { "SECRET_NAME=env" }, "secret_name", "flag" },
	{ { "--service-accounts", "flag" }, { "PATCH_SERVICE_ACCOUNTS=env" }, "service_accounts", "flag" },
	{ { "--concurrency", "5" }, { "CONCURRENCY=abc" }, "concurrency", "5" },
	{ { "--timeout", "7" }, { "REQUEST_TIMEOUT=0" }, "timeout", "7" },
	{ { "--deadline", "70" }, { "RUN_DEADLINE=1" }, "deadline", "70" },
	{ { "--api-server", "http://a" }, { "KUBERNETES_API_SERVER=ftp://b" }, "api_server", "http://a" },
	{ { "--serviceaccount-dir", "/f" }, { "SERVICEACCOUNT_DIR=/e" }, "sa_dir", "/f" },
	{ { "--field-manager", "f" }, { "FIELD_MANAGER=e" }, "field_manager", "f" },
	{ { "--log-format", "text" }, { "LOG_FORMAT=bogus" }, "log_format", "text" },
	{ { "--log-level", "warn" }, { "LOG_LEVEL=debug" }, "log_level", "warn" },
	{ { "--force" }, { "FORCE_CONFLICTS=maybe" }, "force", "1" },
	{ { "--dry-run" }, { "DRY_RUN=maybe" }, "dry_run", "1" },

	/* k8s-ecr-login-renew aliases, read only when the primary variable is unset */
	{ {0}, { "DOCKER_SECRET_NAME=old-name" }, "secret_name", "old-name" },
	{ {0}, { "DOCKER_SECRET_NAME=old-name", "SECRET_NAME=new-name" }, "secret_name", "new-name" },
	{ {0}, { "DOCKER_SECRET_NAME=old-name", "SECRET_NAME=" }, "secret_name", "old-name" },
	{ { "--secret-name", "flag" }, { "DOCKER_SECRET_NAME=old-name" }, "secret_name", "flag" },
	{ {0}, { "TARGET_NAMESPACE=one,two" }, "namespaces", "one|two" },
	{ {0}, { "TARGET_NAMESPACE=old", "TARGET_NAMESPACES=new" }, "namespaces", "new" },
	{ {0}, { "EXCLUDE_NAMESPACE=kube-system" }, "exclude", "kube-system" },
	{ {0}, { "EXCLUDE_NAMESPACE=old", "EXCLUDE_NAMESPACES=new" }, "exclude", "new" },
	{ {0}, { "DOCKER_REGISTRIES=1.dkr.ecr.us-west-2.amazonaws.com" }, "registries", "1.dkr.ecr.us-west-2.amazonaws.com" },
	{ {0}, { "DOCKER_REGISTRIES=old", "ECR_REGISTRIES=new" }, "registries", "new" },
};

static void test_good_rows(void)
{
	for (size_t i = 0; i < sizeof good_rows / sizeof good_rows[0]; i++) {
		const struct good_row *row = &good_rows[i];
		struct config cfg;
		char err[512], got[1024];
		int rc = run(&cfg, row->args, row->env, err, sizeof err);

		if (rc != CONFIG_OK)
			fprintf(stderr, "good row %zu (%s): %s\n", i, row->field, err);
		CHECK_EQ_INT(rc, CONFIG_OK);
		CHECK_EQ_STR(describe(&cfg, row->field, got, sizeof got), row->want);
		config_free(&cfg);
		config_free(&cfg);   /* twice is harmless */
	}
}

struct bad_row {
	const char *args[MAX_ARGS];
	const char *env[MAX_ENV];
	const char *want;        /* the whole error line */
};

#define LONG_64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct bad_row bad_rows[] = {
	/* numbers */
	{ { "--concurrency", "0" }, {0}, "--concurrency 0: must be 1..64" },
	{ { "--concurrency", "65" }, {0}, "--concurrency 65: must be 1..64" },
	{ { "--concurrency", "-1" }, {0}, "--concurrency \"-1\": must be 1..64" },
	{ { "--concurrency", "+4" }, {0}, "--concurrency \"+4\": must be 1..64" },
	{ { "--timeout", "+4" }, {0}, "--timeout \"+4\": must be 1..3600" },
	{ {0}, { "RUN_DEADLINE=-0" }, "RUN_DEADLINE \"-0\": must be 1..86400" },
	{ { "--timeout", "4 " }, {0}, "--timeout \"4 \": must be 1..3600" },
	{ { "--concurrency", "abc" }, {0}, "--concurrency \"abc\": must be 1..64" },
	{ { "--concurrency=4x" }, {0}, "--concurrency \"4x\": must be 1..64" },
	{ { "--concurrency=" }, {0}, "--concurrency \"\": must be 1..64" },
	{ { "--concurrency", " 4" }, {0}, "--concurrency \" 4\": must be 1..64" },
	{ { "--concurrency", "99999999999999999999999" }, {0}, "--concurrency 99999999999999999999999: must be 1..64" },
	{ {0}, { "CONCURRENCY=100" }, "CONCURRENCY 100: must be 1..64" },
	{ { "--timeout", "0" }, {0}, "--timeout 0: must be 1..3600" },
	{ { "--timeout=3601" }, {0}, "--timeout 3601: must be 1..3600" },
	{ {0}, { "REQUEST_TIMEOUT=1.5" }, "REQUEST_TIMEOUT \"1.5\": must be 1..3600" },
	{ { "--deadline", "0" }, {0}, "--deadline 0: must be 1..86400" },
	{ { "--deadline", "86401" }, {0}, "--deadline 86401: must be 1..86400" },
	{ {0}, { "RUN_DEADLINE=x" }, "RUN_DEADLINE \"x\": must be 1..86400" },
	{ { "--deadline", "5" }, {0}, "--deadline 5: must be at least the request timeout (10)" },
	{ { "--timeout", "20" }, { "RUN_DEADLINE=15" }, "RUN_DEADLINE 15: must be at least the request timeout (20)" },
	{ { "--timeout", "600" }, {0}, "--timeout 600: must not exceed the run deadline (300)" },
	{ {0}, { "REQUEST_TIMEOUT=301" }, "REQUEST_TIMEOUT 301: must not exceed the run deadline (300)" },

	/* durations */
	{ { "--refresh-before", "6" }, {0},
	  "--refresh-before \"6\": must be a duration of 1m to 24h, like 90m, 6h or 1h30m" },
	{ {0}, { "REFRESH_BEFORE=30s" }, "REFRESH_BEFORE \"30s\": must be a duration of 1m to 24h, like 90m, 6h or 1h30m" },
	{ {0}, { "REFRESH_BEFORE=25h" }, "REFRESH_BEFORE \"25h\": must be a duration of 1m to 24h, like 90m, 6h or 1h30m" },
	{ {0}, { "REFRESH_BEFORE=-6h" }, "REFRESH_BEFORE \"-6h\": must be a duration of 1m to 24h, like 90m, 6h or 1h30m" },
	{ {0}, { "REFRESH_BEFORE=6 h" },
	  "REFRESH_BEFORE \"6 h\": must be a duration of 1m to 24h, like 90m, 6h or 1h30m" },

	/* namespace lists */
	{ {0}, { "TARGET_NAMESPACES=ok,Bad_NS" }, "TARGET_NAMESPACES: \"Bad_NS\" is not a valid namespace name or glob" },
	{ { "--namespaces", "-leading" }, {0}, "--namespaces: \"-leading\" is not a valid namespace name or glob" },
	{ { "--namespaces=trailing-" }, {0}, "--namespaces: \"trailing-\" is not a valid namespace name or glob" },
	{ { "--namespaces", "a.b" }, {0}, "--namespaces: \"a.b\" is not a valid namespace name or glob" },
	{ { "--namespaces", "team[a" }, {0}, "--namespaces: \"team[a\" is not a valid namespace name or glob" },
	{ { "--namespaces", "team[]" }, {0}, "--namespaces: \"team[]\" is not a valid namespace name or glob" },
	{ { "--namespaces", "[z-a]" }, {0}, "--namespaces: \"[z-a]\" is not a valid namespace name or glob" },
	{ { "--namespaces", "[A-Z]*" }, {0}, "--namespaces: \"[A-Z]*\" is not a valid namespace name or glob" },
	{ { "--namespaces", "a b" }, {0}, "--namespaces: \"a b\" is not a valid namespace name or glob" },
	{ { "--namespaces", LONG_64 }, {0}, "--namespaces: \"" LONG_64 "\" is not a valid namespace name or glob" },
	{ {0}, { "TARGET_NAMESPACE=UPPER" }, "TARGET_NAMESPACE: \"UPPER\" is not a valid namespace name or glob" },
	{ { "--exclude-namespaces", "kube_*" }, {0}, "--exclude-namespaces: \"kube_*\" is not a valid namespace name or glob" },
	{ {0}, { "EXCLUDE_NAMESPACES=x/y" }, "EXCLUDE_NAMESPACES: \"x/y\" is not a valid namespace name or glob" },
	{ {0}, { "EXCLUDE_NAMESPACE=A" }, "EXCLUDE_NAMESPACE: \"A\" is not a valid namespace name or glob" },
	/* a list given but naming nothing never falls back to the default */
	{ { "--namespaces=" }, {0}, "--namespaces \"\": names nothing (leave it unset for the default)" },
	{ { "--namespaces", "," }, {0}, "--namespaces \",\": names nothing (leave it unset for the default)" },
	{ {0}, { "TARGET_NAMESPACES= , " }, "TARGET_NAMESPACES \" , \": names nothing (leave it unset for the default)" },
	{ { "--exclude-namespaces", "," }, {0},
	  "--exclude-namespaces \",\": names nothing (leave it unset for the default)" },
	{ { "--service-accounts=" }, {0}, "--service-accounts \"\": names nothing (leave it unset for the default)" },
	{ { "--registries=" }, {0}, "--registries \"\": empty registry in the list" },
	/* a control byte is shown, never written raw */
	{ { "--namespaces", "a\nb" }, {0}, "--namespaces: \"a\\x0ab\" is not a valid namespace name or glob" },

	/* selector */
	{ { "--namespace-selector", "a in (b" }, {0}, "--namespace-selector \"a in (b\": unclosed parenthesis" },
	{ {0}, { "NAMESPACE_SELECTOR=a=b=c" }, "NAMESPACE_SELECTOR \"a=b=c\": expected ',' or the end, found \"=\"" },
	{ { "--namespace-selector", "  " }, {0},
	  "--namespace-selector \"  \": empty selector (use --namespaces '*' for every namespace)" },
	{ { "--namespace-selector=Bad Key" }, {0},
	  "--namespace-selector \"Bad Key\": expected one of = == != in notin > <, found \"Key\"" },

	/* names */
	{ { "--secret-name", "Bad_Name" }, {0},
	  "--secret-name \"Bad_Name\": not a valid Secret name (DNS-1123 subdomain, at most 253)" },
	{ { "--secret-name=" }, {0}, "--secret-name \"\": not a valid Secret name (DNS-1123 subdomain, at most 253)" },
	{ {0}, { "SECRET_NAME=a..b" }, "SECRET_NAME \"a..b\": not a valid Secret name (DNS-1123 subdomain, at most 253)" },
	{ {0}, { "DOCKER_SECRET_NAME=-x" }, "DOCKER_SECRET_NAME \"-x\": not a valid Secret name (DNS-1123 subdomain, at most 253)" },
	{ {0}, { "PATCH_SERVICE_ACCOUNTS=ok,Not_OK" }, "PATCH_SERVICE_ACCOUNTS: \"Not_OK\" is not a valid ServiceAccount name" },
	{ { "--service-accounts", "x." }, {0}, "--service-accounts: \"x.\" is not a valid ServiceAccount name" },
	{ { "--field-manager", "" }, {0}, "--field-manager \"\": must be 1..128 printable ASCII characters" },
	{ { "--field-manager", "tab\there" }, {0}, "--field-manager \"tab\\x09here\": must be 1..128 printable ASCII characters" },
	{ {0}, { "FIELD_MANAGER=caf\xc3\xa9" }, "FIELD_MANAGER \"caf\\xc3\\xa9\": must be 1..128 printable ASCII characters" },

	/* booleans */
	{ {0}, { "FORCE_CONFLICTS=maybe" }, "FORCE_CONFLICTS \"maybe\": must be true, false, 1, 0, yes or no" },
	{ {0}, { "DRY_RUN=2" }, "DRY_RUN \"2\": must be true, false, 1, 0, yes or no" },
	{ {0}, { "DRY_RUN=on" }, "DRY_RUN \"on\": must be true, false, 1, 0, yes or no" },
	{ { "--force=maybe" }, {0}, "--force \"maybe\": must be true, false, 1, 0, yes or no" },
	{ { "--dry-run=" }, {0}, "--dry-run \"\": must be true, false, 1, 0, yes or no" },

	/* --watch keeps writing: no dry run, no printing; the liveness file is its own */
	{ { "--watch", "--dry-run" }, {0}, "--watch: cannot be combined with --dry-run or --output" },
	{ { "--output", "yaml" }, { "WATCH=1" }, "WATCH: cannot be combined with --dry-run or --output" },
	{ { "--liveness-file", "/tmp/alive" }, {0}, "--liveness-file: needs --watch" },
	{ { "--watch", "--liveness-file=" }, {0}, "--liveness-file \"\": must not be empty" },

	/* choices */
	{ { "--output", "xml" }, {0}, "--output \"xml\": must be json or yaml" },
	{ { "--log-format", "logfmt" }, {0}, "--log-format \"logfmt\": must be json or text" },
	{ {0}, { "LOG_FORMAT=xml" }, "LOG_FORMAT \"xml\": must be json or text" },
	{ { "--log-level=trace" }, {0}, "--log-level \"trace\": must be debug, info, warn or error" },
	{ {0}, { "LOG_LEVEL=verbose" }, "LOG_LEVEL \"verbose\": must be debug, info, warn or error" },

	/* the API server */
	{ { "--api-server", "ftp://x" }, {0}, "--api-server \"ftp://x\": must be an http:// or https:// URL with a host" },
	{ { "--api-server", "https://" }, {0}, "--api-server \"https://\": must be an http:// or https:// URL with a host" },
	{ { "--api-server", "http:///x" }, {0}, "--api-server \"http:///x\": must be an http:// or https:// URL with a host" },
	{ { "--api-server", "https://:443" }, {0}, "--api-server \"https://:443\": must be an http:// or https:// URL with a host" },
	{ { "--api-server", "localhost:8080" }, {0}, "--api-server \"localhost:8080\": must be an http:// or https:// URL with a host" },
	{ {0}, { "KUBERNETES_API_SERVER=https://a b" },
	  "KUBERNETES_API_SERVER \"https://a b\": must be an http:// or https:// URL with a host" },
	{ { "--serviceaccount-dir=" }, {0}, "--serviceaccount-dir \"\": must not be empty" },

	/* registries: only empty items are this module's business */
	{ { "--registries", "a,,b" }, {0}, "--registries \"a,,b\": empty registry in the list" },
	{ { "--registries=" }, {0}, "--registries \"\": empty registry in the list" },
	{ {0}, { "ECR_REGISTRIES= , " }, "ECR_REGISTRIES \" , \": empty registry in the list" },
	{ {0}, { "DOCKER_REGISTRIES=a," }, "DOCKER_REGISTRIES \"a,\": empty registry in the list" },

	/* the command line itself */
	{ { "--bogus" }, {0}, "unknown option \"--bogus\": see --help" },
	{ { "--bogus=1" }, {0}, "unknown option \"--bogus=1\": see --help" },
	{ { "-x" }, {0}, "unknown option \"-x\": see --help" },
	{ { "--" }, {0}, "unknown option \"--\": see --help" },
	{ { "--help=1" }, {0}, "unknown option \"--help=1\": see --help" },
	{ { "extra" }, {0}, "unexpected argument \"extra\": see --help" },
	{ { "--force", "extra" }, {0}, "unexpected argument \"extra\": see --help" },
	{ { "--secret-name" }, {0}, "--secret-name: missing value (--secret-name N)" },
	{ { "--secret-name", "--force" }, {0}, "--secret-name: missing value (--secret-name N)" },
	{ { "--output" }, {0}, "--output: missing value (--output json|yaml)" },
	{ { "--bogus", "--help" }, {0}, "unknown option \"--bogus\": see --help" },
	/* other registries: host checks are gcr's, files are read by dockerconfig */
	{ {0}, { "ECR_PUBLIC=maybe" }, "ECR_PUBLIC \"maybe\": must be true, false, 1, 0, yes or no" },
	{ { "--extra-dockerconfig", "a,,b" }, {0}, "--extra-dockerconfig \"a,,b\": empty file name in the list" },
	{ { "--gcr-registries=gcr.io," }, {0}, "--gcr-registries \"gcr.io,\": empty registry in the list" },
	{ { "--gcr-auth", "key" }, {0}, "--gcr-auth \"key\": must be json-key or access-token" },
	{ { "--gcr-auth" }, {0}, "--gcr-auth: missing value (--gcr-auth json-key|access-token)" },
	/* first error wins, in docs/reference.md's order */
	{ { "--concurrency", "0", "--secret-name", "X" }, {0},
	  "--secret-name \"X\": not a valid Secret name (DNS-1123 subdomain, at most 253)" },
};

static void test_bad_rows(void)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		const struct bad_row *row = &bad_rows[i];
		struct config cfg;
		char err[512];
		int rc = run(&cfg, row->args, row->env, err, sizeof err);

		if (rc != CONFIG_ERROR || strcmp(err, row->want) != 0)
			fprintf(stderr, "bad row %zu:\n", i);
		CHECK_EQ_INT(rc, CONFIG_ERROR);
		CHECK_EQ_STR(err, row->want);
		CHECK(strchr(err, '\n') == NULL);
		/* nothing is left allocated on error */
		CHECK(cfg.secret_name == NULL && cfg.registries.items == NULL && cfg.namespaces.items == NULL);
		config_free(&cfg);
	}
}

static void test_error_buffer(void)
{
	struct config cfg;
	char small[12];
	const char *long_value[] = { "--secret-name", "X" LONG_64 LONG_64 LONG_64, NULL };
	char err[512];

	/* a short buffer is cut, still terminated */
	CHECK_EQ_INT(run(&cfg, (const char *[]){ "--concurrency", "0", NULL }, NULL, small, sizeof small), CONFIG_ERROR);
	CHECK_EQ_STR(small, "--concurren");
	/* no buffer at all */
	CHECK_EQ_INT(run(&cfg, (const char *[]){ "--concurrency", "0", NULL }, NULL, NULL, 0), CONFIG_ERROR);
	CHECK_EQ_INT(run(&cfg, (const char *[]){ "--bogus", NULL }, NULL, NULL, 0), CONFIG_ERROR);
	CHECK_EQ_INT(run(&cfg, (const char *[]){ "--secret-name", NULL }, NULL, NULL, 0), CONFIG_ERROR);
	/* a long bad value is shown cut */
	CHECK_EQ_INT(run(&cfg, long_value, NULL, err, sizeof err), CONFIG_ERROR);
	CHECK(strstr(err, "...\": not a valid Secret name") != NULL);
	CHECK(strlen(err) < 200);
	/* argc 0 */
	CHECK_EQ_INT(config_parse(&cfg, 0, NULL, err, sizeof err), CONFIG_OK);
	config_free(&cfg);
}

static void test_lists_and_strings_are_owned(void)
{
	struct config cfg;
	char err[256];
	char registries[] = "a.example,b.example";
	char *argv[] = { (char *)"ecr-refresh", (char *)"--registries", registries, NULL };

	clear_environment();
	CHECK_EQ_INT(config_parse(&cfg, 3, argv, err, sizeof err), CONFIG_OK);
	memset(registries, 'z', sizeof registries - 1);
	CHECK_EQ_INT(cfg.registries.count, 2);
	CHECK_EQ_STR(cfg.registries.items[0], "a.example");
	CHECK_EQ_STR(cfg.registries.items[1], "b.example");
	config_free(&cfg);
	CHECK(cfg.registries.items == NULL && cfg.registries.count == 0 && cfg.secret_name == NULL);
}

/* Runs config_parse with stdout sent to a temporary file; returns what was printed. */
static int capture_stdout(const char *const *args, char *out, size_t outlen)
{
	struct config cfg;
	char err[256];
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	if (tmp == NULL) {
		out[0] = '\0';
		return -100;
	}
	fflush(stdout);
	saved = dup(1);
	dup2(fileno(tmp), 1);
	rc = run(&cfg, args, NULL, err, sizeof err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, outlen - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	config_free(&cfg);
	return rc;
}

static void test_help_and_version(void)
{
	static const char *const mentioned[] = {
		"--registries", "ECR_REGISTRIES", "DOCKER_REGISTRIES", "--namespaces", "TARGET_NAMESPACES",
		"TARGET_NAMESPACE)", "--namespace-selector", "NAMESPACE_SELECTOR", "--exclude-namespaces",
		"EXCLUDE_NAMESPACES", "EXCLUDE_NAMESPACE)", "--secret-name", "SECRET_NAME", "DOCKER_SECRET_NAME",
		"--service-accounts", "PATCH_SERVICE_ACCOUNTS", "--force", "FORCE_CONFLICTS=true", "--dry-run",
		"DRY_RUN=true", "--output json|yaml", "--concurrency", "CONCURRENCY", "--timeout",
		"REQUEST_TIMEOUT", "--deadline", "RUN_DEADLINE", "--api-server", "KUBERNETES_API_SERVER",
		"--serviceaccount-dir", "SERVICEACCOUNT_DIR", "--field-manager", "FIELD_MANAGER",
		"--log-format json|text", "LOG_FORMAT", "--log-level", "LOG_LEVEL", "-h, --help", "--version",
		"--ecr-public", "ECR_PUBLIC=true", "--extra-dockerconfig F1,F2  $EXTRA_DOCKERCONFIG_FILES",
		"--gcr-registries H1,H2", "GCR_REGISTRIES", "--gcr-auth json-key|access-token  $GCR_AUTH",
		"default: ecr-creds", "default: 4", "default: 10", "default: 300", "default: json",
		"default: info", "default: /var/run/secrets/kubernetes.io/serviceaccount",
		"default: ecr-refresh", "--watch", "WATCH=true", "--liveness-file F", "LIVENESS_FILE",
		"--liveness-probe F", NULL
	};
	static char out[16384], out_h[16384];

	CHECK_EQ_INT(capture_stdout((const char *[]){ "--help", NULL }, out, sizeof out), CONFIG_EXIT_0);
	for (int i = 0; mentioned[i]; i++) {
		if (strstr(out, mentioned[i]) == NULL)
			fprintf(stderr, "usage lacks %s\n", mentioned[i]);
		CHECK(strstr(out, mentioned[i]) != NULL);
	}
	CHECK(strncmp(out, "usage: ecr-refresh", 18) == 0);

	CHECK_EQ_INT(capture_stdout((const char *[]){ "-h", NULL }, out_h, sizeof out_h), CONFIG_EXIT_0);
	CHECK_EQ_STR(out_h, out);
	/* --help wins over values that are checked later */
	CHECK_EQ_INT(capture_stdout((const char *[]){ "--concurrency", "0", "--help", NULL }, out_h, sizeof out_h),
		     CONFIG_EXIT_0);
	CHECK_EQ_STR(out_h, out);

	CHECK_EQ_INT(capture_stdout((const char *[]){ "--version", NULL }, out, sizeof out), CONFIG_EXIT_0);
	CHECK_EQ_STR(out, "ecr-refresh " ECR_REFRESH_VERSION " (commit " ECR_REFRESH_COMMIT ")\n");
	/* stdout still works */
	CHECK(fflush(stdout) == 0);
}

struct name_row {
	const char *name;
	int label, subdomain;
};

#define LONG_63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"

static void test_names(void)
{
	static const struct name_row rows[] = {
		{ "a", 1, 1 }, { "default", 1, 1 }, { "kube-system", 1, 1 }, { "0", 1, 1 }, { "a-0", 1, 1 },
		{ LONG_63, 1, 1 }, { LONG_63 "d", 0, 1 }, { "a.b", 0, 1 }, { "a.b-c.d", 0, 1 },
		{ "", 0, 0 }, { "-a", 0, 0 }, { "a-", 0, 0 }, { "A", 0, 0 }, { "a_b", 0, 0 }, { "a b", 0, 0 },
		{ ".a", 0, 0 }, { "a.", 0, 0 }, { "a..b", 0, 0 }, { "a.-b", 0, 0 }, { "a-.b", 0, 0 },
		{ LONG_63 "." LONG_63, 0, 1 },
	};
	char longest[254], too_long[255];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (config_valid_dns_label(rows[i].name) != rows[i].label ||
		    config_valid_dns_subdomain(rows[i].name) != rows[i].subdomain)
			fprintf(stderr, "name row %zu: \"%s\"\n", i, rows[i].name);
		CHECK_EQ_INT(config_valid_dns_label(rows[i].name), rows[i].label);
		CHECK_EQ_INT(config_valid_dns_subdomain(rows[i].name), rows[i].subdomain);
	}
	/* 253 is the subdomain limit; Kubernetes does not limit its parts to 63 */
	memset(longest, 'a', 253);
	longest[253] = '\0';
	CHECK_EQ_INT(config_valid_dns_subdomain(longest), 1);
	memset(too_long, 'a', 254);
	too_long[254] = '\0';
	CHECK_EQ_INT(config_valid_dns_subdomain(too_long), 0);
	CHECK_EQ_INT(config_valid_dns_label(NULL), 0);
	CHECK_EQ_INT(config_valid_dns_subdomain(NULL), 0);
}

struct selector_row {
	const char *selector;
	const char *error;      /* NULL: valid */
};

static void test_selectors(void)
{
	static const struct selector_row rows[] = {
		{ "", NULL },
		{ "   ", NULL },
		{ "a", NULL },
		{ "!a", NULL },
		{ " ! a ", NULL },
		{ "a=b", NULL },
		{ "a==b", NULL },
		{ "a!=b", NULL },
		{ "a=", NULL },
		{ "a==", NULL },
		{ "a!=,b", NULL },
		{ "a = b", NULL },
		{ "a in (b,c)", NULL },
		{ "a in(b)", NULL },
		{ "a notin (b)", NULL },
		{ "a notin ( b , c )", NULL },
		{ "a in ()", NULL },
		{ "a in (,b)", NULL },
		{ "a in (b,,c)", NULL },
		{ "a in (b,)", NULL },
		{ "in in (in)", NULL },
		{ "notin notin (notin)", NULL },
		{ "a,b=c,!d,e in (f)", NULL },
		{ "x=y,\ty in (z)\n", NULL },
		{ "example.com/name=v", NULL },
		{ "app.kubernetes.io/managed-by=ecr-refresh", NULL },
		{ "A_b.C-9=X_y.Z-0", NULL },
		{ "a>1", NULL },
		{ "a < -5", NULL },
		{ "a>+7", NULL },
		{ LONG_63 "=" LONG_63, NULL },
		{ "a/" LONG_63, NULL },

		{ "a in (b", "unclosed parenthesis" },
		{ "a in (b,", "unclosed parenthesis" },
		{ "a in (", "unclosed parenthesis" },
		{ "a in b", "expected '(' after in/notin, found \"b\"" },
		{ "a notin", "expected '(' after in/notin, found the end" },
		{ "a in (b c)", "expected ',' or ')' in the value list, found \"c\"" },
		{ "a in (b=c)", "expected ',' or ')' in the value list, found \"=\"" },
		{ "a in (b))", "expected ',' or the end, found \")\"" },
		{ "a in (-b)", "invalid label value \"-b\"" },
		{ "a,", "expected a label key, found the end" },
		{ ",a", "expected a label key, found \",\"" },
		{ "a,,b", "expected a label key, found \",\"" },
		{ "!", "expected a label key, found the end" },
		{ "=b", "expected a label key, found \"=\"" },
		{ "(a)", "expected a label key, found \"(\"" },
		{ "!a=b", "!key takes no operator, found \"=\"" },
		{ "!a in (b)", "!key takes no operator, found \"in\"" },
		{ "a=b=c", "expected ',' or the end, found \"=\"" },
		{ "a=b c", "expected ',' or the end, found \"c\"" },
		{ "a b", "expected one of = == != in notin > <, found \"b\"" },
		{ "a!b", "expected one of = == != in notin > <, found \"!\"" },
		{ "a=(b)", "expected a label value, found \"(\"" },
		{ "a!==b", "expected a label value, found \"=\"" },
		{ "a>b", "'>' and '<' need an integer, found \"b\"" },
		{ "a>", "'>' and '<' need an integer, found the end" },
		{ "a<1.5", "'>' and '<' need an integer, found \"1.5\"" },
		{ "a>99999999999999999999", "'>' and '<' need an integer, found \"99999999999999999999\"" },
		{ "-a", "invalid label key \"-a\"" },
		{ "a-", "invalid label key \"a-\"" },
		{ "a=-b", "invalid label value \"-b\"" },
		{ "a=b-", "invalid label value \"b-\"" },
		{ "a=b c=d", "expected ',' or the end, found \"c\"" },
		{ "Example.com/a", "invalid label key \"Example.com/a\"" },
		{ "/a", "invalid label key \"/a\"" },
		{ "a/", "invalid label key \"a/\"" },
		{ "a/b/c", "invalid label key \"a/b/c\"" },
		{ LONG_63 "x", "invalid label key \"" LONG_63 "x\"" },
		{ "a=" LONG_63 "x", "invalid label value \"" LONG_63 "x\"" },
		{ "a=\x01", "invalid label value \"\\x01\"" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int valid = config_valid_label_selector(rows[i].selector, err, sizeof err);

		if (valid != (rows[i].error == NULL))
			fprintf(stderr, "selector row %zu: \"%s\" (%s)\n", i, rows[i].selector, err);
		CHECK_EQ_INT(valid, rows[i].error == NULL);
		if (rows[i].error)
			CHECK_EQ_STR(err, rows[i].error);
		else
			CHECK_EQ_STR(err, "");
	}
	CHECK_EQ_INT(config_valid_label_selector(NULL, err, sizeof err), 0);
	CHECK_EQ_INT(config_valid_label_selector("a in (", NULL, 0), 0);
}

struct glob_row {
	const char *pattern;
	const char *name;
	int match;
};

static void test_glob_match(void)
{
	static const struct glob_row rows[] = {
		{ "*", "anything", 1 }, { "*", "", 1 }, { "", "", 1 }, { "", "a", 0 }, { "a", "", 0 },
		{ "a", "a", 1 }, { "a", "b", 0 }, { "a", "ab", 0 }, { "ab", "a", 0 },
		{ "a*", "abc", 1 }, { "a*", "a", 1 }, { "a*", "ba", 0 }, { "*c", "abc", 1 }, { "*c", "abd", 0 },
		{ "a*c", "ac", 1 }, { "a*c", "abxc", 1 }, { "a*c", "abcd", 0 }, { "a*c*", "abcd", 1 },
		{ "a?c", "abc", 1 }, { "a?c", "ac", 0 }, { "?", "", 0 }, { "?", "x", 1 }, { "??", "x", 0 },
		{ "*?", "", 0 }, { "*?", "a", 1 }, { "?*", "ab", 1 },
		{ "**a", "a", 1 }, { "a**", "a", 1 }, { "*a*b*", "xaybz", 1 }, { "*a*b*", "xbya", 0 },
		{ "[abc]", "b", 1 }, { "[abc]", "d", 0 }, { "[abc]", "", 0 }, { "[abc]", "ab", 0 },
		{ "[a-c]x", "bx", 1 }, { "[a-c]x", "dx", 0 }, { "[0-9a-f]", "e", 1 }, { "[0-9a-f]", "g", 0 },
		{ "[!a-c]x", "dx", 1 }, { "[!a-c]x", "bx", 0 }, { "[^a]", "b", 1 }, { "[^a]", "a", 0 },
		{ "[a-]", "-", 1 }, { "[-a]", "-", 1 }, { "[a-]", "b", 0 },
		{ "team-[0-9][0-9]", "team-42", 1 }, { "team-[0-9][0-9]", "team-4", 0 },
		{ "team-[0-9][0-9]", "team-4x", 0 }, { "*-[0-9]", "a-b-7", 1 },
		{ "*-prod", "a-b-prod", 1 }, { "*-prod", "prod", 0 }, { "*-prod", "-prod", 1 },
		{ "kube-*", "kube-system", 1 }, { "kube-*", "kube", 0 }, { "kube-*", "kube-", 1 },
		/* a malformed bracket is a literal '[' */
		{ "[a", "[a", 1 }, { "[a", "a", 0 }, { "x[", "x[", 1 }, { "*[", "ab[", 1 },
		/* a ']' first in a class is a member */
		{ "[]a]", "]", 1 }, { "[]a]", "a", 1 }, { "[]a]", "b", 0 },
		/* '/' and a leading '.' are ordinary */
		{ "a/*", "a/b/c", 1 }, { "*", ".hidden", 1 }, { "?x", ".x", 1 },
		/* backtracking stays linear-ish and correct */
		{ "a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
		{ "*a*a*a*a*a*a*a*a", "aaaaaaaa", 1 },
		{ "*ab", "aab", 1 }, { "*aab", "aaab", 1 }, { "a*b?c", "axxbyc", 1 }, { "a*b?c", "axbxbc", 0 },
		{ "*[0-9]", "abc1", 1 }, { "*[0-9]", "abc", 0 }, { "*[!0-9]", "abc", 1 },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int got = config_glob_match(rows[i].pattern, rows[i].name);

		if (got != rows[i].match)
			fprintf(stderr, "glob row %zu: \"%s\" ~ \"%s\"\n", i, rows[i].pattern, rows[i].name);
		CHECK_EQ_INT(got, rows[i].match);
	}
	CHECK_EQ_INT(config_glob_match(NULL, "a"), 0);
	CHECK_EQ_INT(config_glob_match("a", NULL), 0);
}

static void test_glob_valid(void)
{
	static const struct { const char *glob; int valid, is_glob; } rows[] = {
		{ "a*", 1, 1 }, { "*", 1, 1 }, { "?", 1, 1 }, { "a", 1, 0 }, { "kube-system", 1, 0 },
		{ "[a-z]x", 1, 1 }, { "[!0-9]*", 1, 1 }, { "[^a]", 1, 1 }, { "[a-]", 1, 1 }, { "[-a]", 1, 1 },
		{ "team-[0-9][0-9]", 1, 1 }, { "*-*-*", 1, 1 },
		{ "", 0, 0 }, { "A*", 0, 1 }, { "a_*", 0, 1 }, { "[a", 0, 1 }, { "[]", 0, 1 }, { "[!]", 0, 1 },
		{ "[]a]", 0, 1 }, { "[z-a]", 0, 1 }, { "[A-Z]", 0, 1 }, { "[a-Z]", 0, 1 }, { "a/*", 0, 1 },
		{ "a.*", 0, 1 }, { "* ", 0, 1 }, { "[a_]", 0, 1 }, { "a]", 0, 0 },
	};
	char longest[254], too_long[255];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (config_valid_glob(rows[i].glob) != rows[i].valid || config_is_glob(rows[i].glob) != rows[i].is_glob)
			fprintf(stderr, "glob validity row %zu: \"%s\"\n", i, rows[i].glob);
		CHECK_EQ_INT(config_valid_glob(rows[i].glob), rows[i].valid);
		CHECK_EQ_INT(config_is_glob(rows[i].glob), rows[i].is_glob);
	}
	memset(longest, '*', 253);
	longest[253] = '\0';
	CHECK_EQ_INT(config_valid_glob(longest), 1);
	memset(too_long, '*', 254);
	too_long[254] = '\0';
	CHECK_EQ_INT(config_valid_glob(too_long), 0);
	CHECK_EQ_INT(config_valid_glob(NULL), 0);
	CHECK_EQ_INT(config_is_glob(NULL), 0);
}

static void test_durations(void)
{
	static const struct { const char *text; long want; } rows[] = {
		{ "1m", 60 }, { "90m", 5400 }, { "6h", 21600 }, { "1h30m", 5400 }, { "1h0m30s", 3630 },
		{ "24h", 86400 }, { "1440m", 86400 }, { "60s", 60 }, { "2m5s", 125 }, { "0h1m", 60 },
		{ "", -1 }, { "6", -1 }, { "59s", -1 }, { "0m", -1 }, { "24h1s", -1 }, { "86401s", -1 },
		{ "30m1h", -1 }, { "1h1h", -1 }, { "h", -1 }, { "1d", -1 }, { "1.5h", -1 }, { "6H", -1 },
		{ "+6h", -1 }, { "6h ", -1 }, { "99999999999999999999h", -1 }, { "1ms", -1 },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		long got = -1;
		int rc = config_parse_duration(rows[i].text, &got);

		if ((rc == 0 ? got : -1) != rows[i].want)
			fprintf(stderr, "duration row %zu \"%s\"\n", i, rows[i].text);
		CHECK_EQ_INT(rc == 0 ? got : -1, rows[i].want);
	}
}

int main(void)
{
	test_durations();
	test_good_rows();
	test_bad_rows();
	test_error_buffer();
	test_lists_and_strings_are_owned();
	test_help_and_version();
	test_names();
	test_selectors();
	test_glob_match();
	test_glob_valid();
	return UNIT_DONE();
}
