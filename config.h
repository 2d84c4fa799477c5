/*
 * config: every option of docs/reference.md "Command line", from flags then environment
 * variables (a flag beats its variable; k8s-ecr-login-renew aliases read when the primary variable
 * is unset), validated before anything touches the network.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "log.h"

enum config_output { OUTPUT_NONE, OUTPUT_JSON, OUTPUT_YAML };

struct config_list {
	char **items;            /* heap strings, blanks trimmed, empty items dropped */
	size_t count;
};

struct config {
	struct config_list registries;        /* as given (https:// and paths tolerated) */
	struct config_list namespaces;        /* names or globs; empty: the pod's own */
	char *namespace_selector;             /* NULL: none */
	struct config_list exclude_namespaces;
	char *secret_name;                    /* default "ecr-creds" */
	struct config_list service_accounts;
	int force;
	int dry_run;
	enum config_output output;
	int concurrency;                      /* 1..64, default 4 */
	int timeout_s;                        /* default 10 */
	int deadline_s;                       /* default 300 */
	long refresh_before_s;                /* --refresh-before; 0: write every run */
	char *api_server;                     /* NULL: from KUBERNETES_SERVICE_HOST/PORT */
	char *serviceaccount_dir;             /* default /var/run/secrets/kubernetes.io/serviceaccount */
	char *field_manager;                  /* default "ecr-refresh" */
	enum log_format log_format;
	enum log_level log_level;
	int watch;                            /* --watch: keep running after the pass */
	char *liveness_file;                  /* NULL: none */
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_0 = 1,     /* --help or --version printed: exit 0 */
	CONFIG_ERROR = -1,     /* err holds one line naming the bad option: exit 2 */
};

/* Parses argv and the environment into cfg (zeroed first). Prints --help / --version
 * output to stdout itself. A variable set to "" counts as unset. On CONFIG_ERROR and
 * CONFIG_EXIT_0 cfg holds nothing (config_free is harmless); on CONFIG_OK the caller
 * MUST config_free it. Switches also take "--force=BOOL" / "--dry-run=BOOL". */
int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Frees every string and list and zeroes cfg; safe to call twice. */
void config_free(struct config *cfg);

/* Validators shared with the modules that take names at run time. Each returns 1 when
 * valid. */
int config_valid_dns_label(const char *s);       /* namespace names: RFC 1123 label, <= 63 */
int config_valid_dns_subdomain(const char *s);   /* Secret / ServiceAccount names, <= 253 */
int config_valid_glob(const char *s);            /* label chars plus * ? [...] */
int config_is_glob(const char *s);
/* Whole-name match, as fnmatch(pattern, name, FNM_NOESCAPE) with no character special. */
int config_glob_match(const char *pattern, const char *name);
/* --refresh-before: "90m", "6h", "1h30m", "45s" (units h, m, s, each once, in that order),
 * CONFIG_DURATION_MIN_S to CONFIG_DURATION_MAX_S. Returns 0 with the seconds, or -1. */
#define CONFIG_DURATION_MIN_S 60
#define CONFIG_DURATION_MAX_S 86400
int config_parse_duration(const char *s, long *seconds);

/* Kubernetes label selector syntax (k8s.io/apimachinery labels.Parse): "" is valid (it
 * selects everything); on 0, err says what is wrong. */
int config_valid_label_selector(const char *s, char *err, size_t errlen);

#endif
