/*
 * ecr-refresh: one run (docs/reference.md). Configuration is read and checked in full before
 * anything is contacted (static dockerconfig files and the Google key included); then the
 * target namespaces and what their Secrets are (apply_open), and only when some need a
 * write (always, without --refresh-before) the registry entries (ECR: one token per
 * region; ECR Public; Google; the static files'), the .dockerconfigjson and the writes
 * (apply_write). With --output, the entries and the Secret manifests on stdout. Exit
 * codes are docs/reference.md "Exit codes"; only this
 * file exits.
 *
 * Private ECR is the default registry family: without --registries it still runs (the
 * caller's default registry) unless another family is configured (--ecr-public,
 * --extra-dockerconfig, --gcr-registries), so a Secret for Docker Hub and Google alone
 * needs no AWS credentials.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "apply.h"
#include "aws.h"
#include "budget.h"
#include "check.h"
#include "civil.h"
#include "config.h"
#include "dockerconfig.h"
#include "ecr.h"
#include "exitcode.h"
#include "gcr.h"
#include "fresh.h"
#include "http.h"
#include "k8sjson.h"
#include "log.h"
#include "net.h"
#include "secret.h"
#include "targets.h"
#include "watch.h"

/* Live cJSON memory of the whole run (docs/security.md "What is bounded, and by how much"):
 * answers are parsed one at a time, and our own documents are a few KiB. */
#define JSON_MEMORY_MAX (8u * 1024 * 1024)

struct run {
	const struct config *cfg;
	int64_t started_ms;
	int64_t deadline_ms;
	struct http_proxy proxy;
	struct aws_client *aws;
	struct ecr_registry *registries;
	size_t registry_count;
	struct k8s_namespace_list targets;    /* --output only */
	struct ecr_token *tokens;
	size_t token_count;
	int private_ecr;                      /* private ECR registries are part of this run */
	struct ecr_token public_token;        /* --ecr-public */
	struct gcr_client *gcr;
	char **gcr_hosts;                     /* bare hosts, distinct */
	size_t gcr_host_count;
	struct secret_entries statics;        /* from --extra-dockerconfig files */
	struct secret_entries entries;        /* everything the Secret carries */
	char *dockerconfigjson;
	char *hosts;                          /* comma-separated, for the annotation */
	char expires_at[32];
	double expiry_s;                      /* the same, seconds since the epoch */
	const char **host_list;               /* the configured hosts (views): token sources' first,
	                                       * then the static files' keys */
	size_t token_host_count;              /* of host_list, the token sources' hosts */
	size_t host_count;
	int never_expires;                    /* no entry of this configuration expires */
	char config_digest[SECRET_DIGEST_SIZE];
	char err[512];
};

/* What the last token failure said, for the run's Event (main's own, like its exit). */
static char token_failure[512];

static int config_error(const char *message)
{
	log_event(LOG_ERROR, "configuration error", "error", message, NULL);
	return EXIT_CONFIG;
}

static int aws_error(const char *message)
{
	snprintf(token_failure, sizeof token_failure, "no ECR token: %s", message);
	log_event(LOG_ERROR, "no ECR token", "error", message, NULL);
	return EXIT_CREDENTIALS;
}

static int google_error(const char *message)
{
	snprintf(token_failure, sizeof token_failure, "no Google token: %.400s", message);
	log_event(LOG_ERROR, "no Google token", "error", message, NULL);
	return EXIT_CREDENTIALS;
}

/* ---- before the network ----------------------------------------------------------- */

static int parse_registries(struct run *r)
{
	const struct config_list *list = &r->cfg->registries;
	size_t i;

	if (list->count == 0)
		return 0;
	r->registries = calloc(list->count, sizeof *r->registries);
	if (!r->registries)
		return config_error("out of memory");
	for (i = 0; i < list->count; i++) {
		struct ecr_registry *reg = &r->registries[r->registry_count];
		size_t j;

		if (ecr_parse_registry(list->items[i], reg, r->err, sizeof r->err) != 0)
			return config_error(r->err);
		/* One host given twice (with and without https://, say) is one registry. */
		for (j = 0; j < r->registry_count && strcmp(r->registries[j].host, reg->host) != 0; j++)
			;
		if (j == r->registry_count)
			r->registry_count++;
	}
	return 0;
}

static int parse_gcr_hosts(struct run *r)
{
	const struct config_list *list = &r->cfg->gcr_registries;
	size_t i, j;

	if (list->count == 0)
		return 0;
	r->gcr_hosts = calloc(list->count, sizeof *r->gcr_hosts);
	if (!r->gcr_hosts)
		return config_error("out of memory");
	for (i = 0; i < list->count; i++) {
		char host[GCR_MAX_HOST + 1];

		if (gcr_parse_host(list->items[i], host, sizeof host, r->err, sizeof r->err) != 0)
			return config_error(r->err);
		for (j = 0; j < r->gcr_host_count && strcmp(r->gcr_hosts[j], host) != 0; j++)
			;
		if (j < r->gcr_host_count)
			continue;
		if (!(r->gcr_hosts[r->gcr_host_count] = strdup(host)))
			return config_error("out of memory");
		r->gcr_host_count++;
	}
	return 0;
}

/* Every host a token source produces, against the static files' keys. */
static int check_static_clashes(struct run *r)
{
	size_t count = r->registry_count + r->gcr_host_count + 1, n = 0, i;
	const char **hosts = calloc(count, sizeof *hosts);
	int rc;

	if (!hosts)
		return config_error("out of memory");
	for (i = 0; i < r->registry_count; i++)
		hosts[n++] = r->registries[i].host;
	for (i = 0; i < r->gcr_host_count; i++)
		hosts[n++] = r->gcr_hosts[i];
	if (r->cfg->ecr_public)
		hosts[n++] = ECR_PUBLIC_HOST;
	rc = dockerconfig_check(&r->statics, hosts, n, r->err, sizeof r->err);
	free(hosts);
	return rc == 0 ? 0 : config_error(r->err);
}

/* The static files are read before anything is contacted: an unreadable or invalid one is
 * a configuration error naming it. */
static int read_static_files(struct run *r)
{
	const struct config_list *files = &r->cfg->extra_dockerconfig;
	size_t i;

	for (i = 0; i < files->count; i++)
		if (dockerconfig_read_file(files->items[i], &r->statics, r->err, sizeof r->err) != 0)
			return config_error(r->err);
	return check_static_clashes(r);
}

static int init_gcr(struct run *r)
{
	static const enum gcr_auth modes[] = {
		[CONFIG_GCR_DEFAULT] = GCR_AUTH_DEFAULT,
		[CONFIG_GCR_JSON_KEY] = GCR_AUTH_JSON_KEY,
		[CONFIG_GCR_ACCESS_TOKEN] = GCR_AUTH_ACCESS_TOKEN,
	};

	if (r->gcr_host_count == 0)
		return 0;
	r->gcr = calloc(1, sizeof *r->gcr);
	if (!r->gcr)
		return config_error("out of memory");
	if (gcr_client_init(r->gcr, modes[r->cfg->gcr_auth], &r->proxy, r->cfg->timeout_s, r->deadline_ms,
	                    r->err, sizeof r->err) != 0)
		return config_error(r->err);
	return 0;
}

/* Every endpoint this run will call must exist (FIPS and dual-stack do not everywhere):
 * found now, that is a configuration error with nothing contacted. */
static int check_endpoints(struct run *r)
{
	const struct aws_settings *s = &r->aws->settings;
	struct aws_endpoint ep;
	size_t i;

	for (i = 0; i < r->registry_count; i++)
		if (aws_endpoint_for(s, AWS_SERVICE_ECR, r->registries[i].region, &ep, r->err, sizeof r->err) != 0)
			return config_error(r->err);
	if (r->cfg->ecr_public
	    && aws_endpoint_for(s, AWS_SERVICE_ECR_PUBLIC, ECR_PUBLIC_REGION, &ep, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	if (s->source == AWS_SOURCE_WEB_IDENTITY) {
		const char *region = s->region[0] ? s->region
			: r->registry_count ? r->registries[0].region : r->cfg->ecr_public ? ECR_PUBLIC_REGION : NULL;
		if (region && aws_endpoint_for(s, AWS_SERVICE_STS, region, &ep, r->err, sizeof r->err) != 0)
			return config_error(r->err);
	}
	return 0;
}

/* --output prints what would be applied without a cluster, so the targets must be plain
 * names: globs and selectors need the namespace list. */
static int output_targets(struct run *r)
{
	const struct config *cfg = r->cfg;
	struct k8s_target_input in;
	char own[256] = "";
	size_t i;

	if (cfg->namespace_selector)
		return config_error("--output needs plain namespace names (no --namespace-selector)");
	for (i = 0; i < cfg->namespaces.count; i++)
		if (config_is_glob(cfg->namespaces.items[i]))
			return config_error("--output needs plain namespace names (no globs)");
	if (cfg->namespaces.count == 0
	    && targets_own_namespace(cfg->serviceaccount_dir, own, sizeof own, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	memset(&in, 0, sizeof in);
	in.names = &cfg->namespaces;
	in.excludes = &cfg->exclude_namespaces;
	in.own_namespace = own;
	if (k8s_resolve_targets(&in, &r->targets) != 0)
		return config_error("out of memory");
	if (r->targets.count == 0)
		return config_error("--exclude-namespaces removes every target namespace");
	return 0;
}

/* ---- AWS ------------------------------------------------------------------------- */

/* No --registries: the caller's default registry in the default region (docs/reference.md
 * "Command line"), named
 * by the proxyEndpoint of the token fetched there. */
static int default_registry(struct run *r)
{
	char region[AWS_MAX_REGION];
	struct aws_endpoint ep;

	if (aws_default_region(r->aws, region, sizeof region) != 0)
		return aws_error(r->aws->err);
	if (aws_endpoint_for(&r->aws->settings, AWS_SERVICE_ECR, region, &ep, r->err, sizeof r->err) != 0)
		return aws_error(r->err);
	r->tokens = calloc(1, sizeof *r->tokens);
	r->registries = calloc(1, sizeof *r->registries);
	if (!r->tokens || !r->registries)
		return aws_error("out of memory");
	if (ecr_get_token(r->aws, region, &r->tokens[0], r->err, sizeof r->err) != 0)
		return aws_error(r->err);
	r->token_count = 1;
	if (ecr_parse_registry(r->tokens[0].proxy_endpoint, &r->registries[0], r->err, sizeof r->err) != 0)
		return aws_error("GetAuthorizationToken named no usable default registry (proxyEndpoint)");
	r->registry_count = 1;
	return 0;
}

/* RFC 3339 in UTC, whole seconds: the earliest a pull may start failing. Returns 0, or -1
 * when no entry expires (out[0] = '\0') or the time is out of range. */
static int format_expiry(const struct secret_entries *entries, char *out, size_t outlen)
{
	double expiry = secret_entries_earliest_expiry(entries);

	out[0] = '\0';
	if (!(expiry > 0 && expiry < 1e12))
		return -1;
	return civil_format_rfc3339((long long)expiry, out, outlen);
}

static int log_ecr_tokens(struct run *r, const char *regions)
{
	char *hosts = secret_entries_keys(&r->entries), expires_at[32];

	if (!hosts)
		return aws_error("out of memory");
	if (format_expiry(&r->entries, expires_at, sizeof expires_at) != 0)
		return aws_error("token expiry out of range");
	log_event(LOG_INFO, "ecr tokens fetched", "regions", regions, "registries", hosts,
	          "expires_at", expires_at, "credentials", aws_source_name(r->aws->settings.source), NULL);
	free(hosts);
	return 0;
}

static int fetch_ecr(struct run *r)
{
	size_t i;
	char regions[512] = "";
	int rc;

	if (!r->private_ecr)
		return 0;
	if (r->registry_count == 0) {
		if ((rc = default_registry(r)) != 0)
			return rc;
		/* Only now is the default registry known: it must not be a static file's too. */
		if ((rc = check_static_clashes(r)) != 0)
			return rc;
	} else if (ecr_get_tokens(r->aws, r->registries, r->registry_count, &r->tokens, &r->token_count,
	                          r->err, sizeof r->err) != 0) {
		return aws_error(r->err);
	}
	if (ecr_entries(r->registries, r->registry_count, r->tokens, r->token_count, &r->entries) != 0)
		return aws_error("out of memory");
	for (i = 0; i < r->token_count; i++)
		snprintf(regions + strlen(regions), sizeof regions - strlen(regions), "%s%s",
		         i ? "," : "", r->tokens[i].region);
	/* Only ECR's entries are in the list yet. */
	return log_ecr_tokens(r, regions);
}

static int fetch_ecr_public(struct run *r)
{
	if (!r->cfg->ecr_public)
		return 0;
	if (ecr_public_get_token(r->aws, &r->public_token, r->err, sizeof r->err) != 0)
		return aws_error(r->err);
	if (secret_entries_add(&r->entries, ECR_PUBLIC_HOST, r->public_token.username, r->public_token.password,
	                       r->public_token.expires_at, "ECR Public") != 0)
		return aws_error("out of memory");
	log_event(LOG_INFO, "ecr public token fetched", "registry", ECR_PUBLIC_HOST,
	          "credentials", aws_source_name(r->aws->settings.source), NULL);
	return 0;
}

static int fetch_gcr(struct run *r)
{
	int rc;

	if (!r->gcr)
		return 0;
	rc = gcr_entries(r->gcr, r->gcr_hosts, r->gcr_host_count, &r->entries);
	if (rc != 0)
		return google_error(rc == GCR_ETOKEN ? r->gcr->err : "out of memory");
	log_event(LOG_INFO, "google credentials ready", "credentials", gcr_source_name(r->gcr), NULL);
	return 0;
}

/* Copies, not moves: a watch fetches again and needs the static entries each time. */
static int merge_statics(struct run *r)
{
	for (size_t i = 0; i < r->statics.count; i++) {
		const struct secret_entry *e = &r->statics.items[i];

		if (secret_entries_add(&r->entries, e->key, e->username, e->password, 0, e->source) != 0)
			return -1;
	}
	return 0;
}

static int fetch_tokens(struct run *r)
{
	int rc;

	if ((rc = fetch_ecr(r)) != 0 || (rc = fetch_ecr_public(r)) != 0 || (rc = fetch_gcr(r)) != 0)
		return rc;
	if (merge_statics(r) != 0)
		return aws_error("out of memory");
	r->dockerconfigjson = secret_dockerconfigjson(&r->entries);
	r->hosts = secret_entries_keys(&r->entries);
	if (!r->dockerconfigjson || !r->hosts)
		return aws_error("out of memory");
	/* Static entries never expire: with nothing else, there is no expiry to annotate. */
	r->expiry_s = secret_entries_earliest_expiry(&r->entries);
	if (format_expiry(&r->entries, r->expires_at, sizeof r->expires_at) != 0 && r->expiry_s != 0)
		return aws_error("token expiry out of range");
	log_event(LOG_INFO, "registry credentials ready", "registries", r->hosts,
	          "expires_at", r->expires_at[0] ? r->expires_at : NULL, NULL);
	return 0;
}

/* ---- --output ----------------------------------------------------------------------- */

/* One namespace's Secret: a YAML document, or an item of the JSON List (last: the final
 * one). 0, -1 when it could not be written, -2 when out of memory. */
static int print_manifest(struct run *r, size_t i, int last)
{
	const struct config *cfg = r->cfg;
	struct secret_spec spec = {
		.name = cfg->secret_name,
		.namespace = r->targets.items[i].name,
		.dockerconfigjson = r->dockerconfigjson,
		.registries = r->hosts,
		.expires_at = r->expires_at,
		.config_digest = r->config_digest,
	};
	cJSON *doc = secret_manifest(&spec);
	char *text = NULL;
	int failed = -2;

	if (!doc)
		return -2;
	if (cfg->output == OUTPUT_JSON)
		text = secret_print_json_item(doc, 4);
	else if (secret_write_yaml(doc, &text) < 0)
		text = NULL;
	/* YAML: one document per namespace (YAML 1.2 section 9.2) */
	if (text)
		failed = -(cfg->output == OUTPUT_JSON ? printf("\n%s%s", text, last ? "" : ",") < 0
		                                      : fputs("---\n", stdout) == EOF || fputs(text, stdout) == EOF);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return failed;
}

/*
 * --output: the Secrets on stdout, one namespace at a time so memory stays that of one
 * (1,000 namespaces printed as one tree would not fit the cJSON budget). JSON is a v1
 * List, so `kubectl apply -f -` takes every namespace's Secret at once.
 */
static int print_manifests(struct run *r)
{
	const struct config *cfg = r->cfg;
	char seconds[32], count[16];
	int json = cfg->output == OUTPUT_JSON, failed = 0;
	size_t i;

	if (json)
		failed = fputs("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [", stdout) == EOF;
	for (i = 0; i < r->targets.count && !failed; i++)
		failed = print_manifest(r, i, i + 1 == r->targets.count);
	if (json && !failed)
		failed = -(fputs("\n  ]\n}\n", stdout) == EOF);
	if (fflush(stdout) != 0 && !failed)
		failed = -1;
	if (failed == -2) {
		log_event(LOG_ERROR, "cannot build the manifests", "error", "out of memory", NULL);
		return EXIT_PARTIAL;
	}
	if (failed) {
		/* What was delivered is not usable: exit 1, as when namespaces fail to be written. */
		log_event(LOG_ERROR, "cannot write the manifests to stdout", NULL);
		return EXIT_PARTIAL;
	}
	snprintf(count, sizeof count, "%zu", r->targets.count);
	snprintf(seconds, sizeof seconds, "%.3f", (double)(net_now_ms() - r->started_ms) / 1000.0);
	log_event(LOG_INFO, "manifests printed", "format", json ? "json" : "yaml",
	          "#namespaces", count, "#seconds", seconds, NULL);
	return EXIT_OK;
}

/* ---- the run -------------------------------------------------------------------- */

static int watch_forever(struct run *r);

/* Every configured host: ECR's as given (none without --registries: the default registry
 * is known only after a token), public.ecr.aws, the Google hosts, then the static keys. */
static int list_hosts(struct run *r)
{
	size_t n = 0, i;

	r->host_list = calloc(r->registry_count + r->gcr_host_count + r->statics.count + 1, sizeof *r->host_list);
	if (!r->host_list)
		return config_error("out of memory");
	for (i = 0; i < r->registry_count; i++)
		r->host_list[n++] = r->registries[i].host;
	if (r->cfg->ecr_public)
		r->host_list[n++] = ECR_PUBLIC_HOST;
	for (i = 0; i < r->gcr_host_count; i++)
		r->host_list[n++] = r->gcr_hosts[i];
	r->token_host_count = n;
	for (i = 0; i < r->statics.count; i++)
		r->host_list[n++] = r->statics.items[i].key;
	r->host_count = n;
	return 0;
}

/* The digest (secret.h) of the token sources' hosts, the static entries as written and the
 * ServiceAccounts to patch: the files are read before any network, so it is known before
 * the Secret list. A Secret left fresh is not written, nor are its ServiceAccounts patched:
 * a change of --service-accounts must make every namespace stale. */
static int config_digest(struct run *r)
{
	char *statics = NULL;
	int rc;

	if ((rc = list_hosts(r)) != 0)
		return rc;
	if (r->statics.count && !(statics = secret_dockerconfigjson(&r->statics)))
		return config_error("out of memory");
	{
		const struct config_list *accounts = &r->cfg->service_accounts;
		struct secret_digest_input in = { r->host_list, r->token_host_count, statics,
		                                  (const char *const *)accounts->items, accounts->count };

		rc = secret_config_digest(&in, r->config_digest);
	}
	if (statics) {
		explicit_bzero(statics, strlen(statics));
		free(statics);
	}
	return rc == 0 ? 0 : config_error("out of memory");
}

/* What a Secret of this run records: every auths key (not compared when the default
 * registry is one: known only after a token), the digest, whether anything expires. */
static struct fresh_want fresh_want_of(const struct run *r, long refresh_before_s)
{
	int default_registry = r->private_ecr && r->cfg->registries.count == 0;
	struct fresh_want want = { default_registry ? NULL : r->host_list, default_registry ? 0 : r->host_count,
	                           r->config_digest, (long long)time(NULL), refresh_before_s, r->never_expires };

	return want;
}

/*
 * The Kubernetes side: the targets and what their Secrets are first, then, with
 * --refresh-before, nothing more when none needs a write (no registry is asked for a
 * token); else the tokens and the writes. A run that gets no token says so in an Event.
 */
static int kubernetes(struct run *r)
{
	const struct config *cfg = r->cfg;
	struct fresh_want want = fresh_want_of(r, cfg->refresh_before_s);
	struct apply_params params = { cfg, NULL, NULL, r->expires_at, r->config_digest, &r->proxy, r->deadline_ms, NULL };
	struct apply_phase *phase = NULL;
	int rc = apply_open(cfg, &r->proxy, r->deadline_ms, &phase);

	if (rc == 0 && cfg->refresh_before_s && apply_plan(phase, &want) == 0) {
		rc = apply_write(phase, NULL);
	} else if (rc == 0 && (rc = fetch_tokens(r)) != 0) {
		apply_run_failed(phase, token_failure);
	} else if (rc == 0) {
		params.dockerconfigjson = r->dockerconfigjson;
		params.registries = r->hosts;
		rc = apply_write(phase, &params);
	}
	apply_close(phase);
	return rc;
}

/* The AWS environment and the endpoints it will call: for private ECR and ECR Public, and
 * for check (which diagnoses the AWS side whatever else is configured). */
static int init_aws(struct run *r)
{
	r->aws = calloc(1, sizeof *r->aws);
	if (!r->aws)
		return config_error("out of memory");
	if (aws_client_init(r->aws, &r->proxy, r->cfg->timeout_s, r->deadline_ms, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	return check_endpoints(r);
}

/* What a run and check read and check alike before the network: registries, the static
 * files, proxy, the Google key, the digest, the AWS environment when AWS is used. */
static int prepare(struct run *r)
{
	const struct config *cfg = r->cfg;
	int rc;

	if ((rc = parse_registries(r)) != 0 || (rc = parse_gcr_hosts(r)) != 0 || (rc = read_static_files(r)) != 0)
		return rc;
	r->private_ecr = r->registry_count > 0
		|| (!cfg->ecr_public && r->gcr_host_count == 0 && cfg->extra_dockerconfig.count == 0);
	if (http_proxy_from_env(&r->proxy, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	if ((rc = init_gcr(r)) != 0)
		return rc;
	r->never_expires = !r->private_ecr && !cfg->ecr_public && !(r->gcr && r->gcr->mode == GCR_AUTH_ACCESS_TOKEN);
	if ((rc = config_digest(r)) != 0)
		return rc;
	return r->private_ecr || cfg->ecr_public ? init_aws(r) : 0;
}

static int run(struct run *r)
{
	const struct config *cfg = r->cfg;
	int rc;

	if ((rc = prepare(r)) != 0)
		return rc;
	if (cfg->output != OUTPUT_NONE && (rc = output_targets(r)) != 0)
		return rc;
	if (cfg->output == OUTPUT_NONE && (rc = apply_preflight(cfg, r->err, sizeof r->err)) != 0) {
		if (rc != EXIT_CONFIG) {
			log_event(LOG_ERROR, "cannot trust the Kubernetes API server", "reason", r->err, NULL);
			return rc;
		}
		return config_error(r->err);
	}

	/* From here on the network is used. */
	if (cfg->output == OUTPUT_NONE) {
		rc = kubernetes(r);
		/* --watch goes on after a pass that wrote (some of) the targets */
		if (cfg->watch && (rc == EXIT_OK || rc == EXIT_PARTIAL))
			rc = watch_forever(r);
		return rc;
	}
	if ((rc = fetch_tokens(r)) != 0)
		return rc;
	return print_manifests(r);
}

/* ---- --watch ---------------------------------------------------------------------- */

/* Tokens are fetched again this long before the earliest expires when --refresh-before is
 * not given (docs/reference.md "Watch mode"). */
#define WATCH_REFRESH_BEFORE_S (3 * 3600)
#define WATCH_REFRESH_MIN_S    5
#define WATCH_RETRY_MIN_S      15
#define WATCH_RETRY_MAX_S      300

static int stop_pipe[2] = { -1, -1 };

/* The watchdog: whatever the loop is doing (a repair in its retries, say), the process
 * ends 1 s after SIGTERM. Every write is a server-side apply, safe to cut anywhere. */
static void on_alarm(int sig)
{
	(void)sig;
	_exit(EXIT_OK);
}

static void on_stop(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(stop_pipe[1], "x", 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
	alarm(1);
	errno = saved;
}

static int install_stop_handlers(void)
{
	struct sigaction sa;

	if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	return 0;
}

/* Sleeps seconds unless a stop comes first: 1 then. */
static int wait_or_stop(int64_t ms)
{
	struct pollfd pfd = { stop_pipe[0], POLLIN, 0 };

	return poll(&pfd, 1, ms > 0 ? (int)ms : 0) > 0;
}

/* When new tokens are due: --refresh-before (else WATCH_REFRESH_BEFORE_S) before the
 * earliest expiry, or halfway there when the tokens live shorter than that; never when no
 * entry expires (static entries and json-key only). net_now_ms() based. */
static int64_t refresh_at_ms(const struct run *r)
{
	long before = r->cfg->refresh_before_s ? r->cfg->refresh_before_s : WATCH_REFRESH_BEFORE_S;
	double left = r->expiry_s - (double)time(NULL), wait = left - (double)before;

	if (r->expiry_s == 0)
		return INT64_MAX;
	if (wait < WATCH_REFRESH_MIN_S)
		wait = left / 2;
	if (wait < WATCH_REFRESH_MIN_S)
		wait = WATCH_REFRESH_MIN_S;
	return net_now_ms() + (int64_t)(wait * 1000);
}

/* New credentials and tokens (cloud credentials rotate too), then a whole pass. */
static int refresh(struct run *r)
{
	log_forget_secrets();
	if (r->dockerconfigjson) {
		explicit_bzero(r->dockerconfigjson, strlen(r->dockerconfigjson));
		free(r->dockerconfigjson);
		r->dockerconfigjson = NULL;
	}
	ecr_tokens_free(r->tokens, r->token_count);
	r->tokens = NULL;
	r->token_count = 0;
	ecr_token_clear(&r->public_token);
	secret_entries_free(&r->entries);
	free(r->hosts);
	r->hosts = NULL;
	r->deadline_ms = net_now_ms() + (int64_t)r->cfg->deadline_s * 1000;
	if (r->gcr)
		r->gcr->deadline_ms = r->deadline_ms;
	if (r->aws) {
		aws_client_free(r->aws);
		if (aws_client_init(r->aws, &r->proxy, r->cfg->timeout_s, r->deadline_ms, r->err, sizeof r->err) != 0)
			return aws_error(r->err);
	}
	return fetch_tokens(r);
}

/* New tokens, again and again with a growing wait until they come. Returns 1 when a stop
 * came first. */
static int tokens_for_watch(struct run *r)
{
	for (int failures = 0; refresh(r) != EXIT_OK; failures++) {
		int64_t wait = (int64_t)WATCH_RETRY_MIN_S << (failures < 5 ? failures : 5);

		if (wait > WATCH_RETRY_MAX_S)
			wait = WATCH_RETRY_MAX_S;
		snprintf(r->err, sizeof r->err, "%lld", (long long)wait);
		log_event(LOG_WARN, "watch: cannot refresh the tokens, trying again", "#retry_s", r->err, NULL);
		if (wait_or_stop(wait * 1000))
			return 1;
	}
	return 0;
}

/* After the pass: watch until a stop; when tokens are due, new ones and a whole pass.
 * A pass that found every Secret fresh fetched no token: the first repair needs them. */
static int watch_forever(struct run *r)
{
	const struct config *cfg = r->cfg;
	struct fresh_want want = fresh_want_of(r, cfg->refresh_before_s ? cfg->refresh_before_s : WATCH_REFRESH_BEFORE_S);
	int due = 0;

	for (;;) {
		struct apply_params params = { cfg, NULL, NULL, r->expires_at, r->config_digest, &r->proxy, 0, NULL };
		struct watch_params wp = { cfg, &params, &want, 0, stop_pipe[0] };
		int rc;

		if ((due || !r->dockerconfigjson) && tokens_for_watch(r))
			break;
		params.dockerconfigjson = r->dockerconfigjson;
		params.registries = r->hosts;
		params.deadline_ms = r->deadline_ms;
		if (due)
			apply_run(&params);
		wp.refresh_at_ms = refresh_at_ms(r);
		rc = watch_run(&wp);
		if (rc == WATCH_STOPPED)
			break;
		if (rc == WATCH_FAILED)
			return EXIT_KUBERNETES;
		due = 1;
	}
	log_event(LOG_INFO, "watch: stopped by a signal", NULL);
	return EXIT_OK;
}

/* `ecr-refresh check`: the same configuration, checked the same way before the network;
 * then the read-only diagnosis. */
static int run_check(struct run *r)
{
	const struct config *cfg = r->cfg;
	struct check_params params;
	int rc;

	if (cfg->output != OUTPUT_NONE)
		return config_error("check prints problems, not manifests: drop --output");
	if (cfg->watch)
		return config_error("check runs once: drop --watch");
	if ((rc = prepare(r)) != 0 || (!r->aws && (rc = init_aws(r)) != 0))
		return rc;
	if (apply_preflight(cfg, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	memset(&params, 0, sizeof params);
	params.cfg = cfg;
	params.proxy = &r->proxy;
	params.deadline_ms = r->deadline_ms;
	params.aws = r->aws;
	params.registries = r->registries;
	params.registry_count = r->registry_count;
	return check_run(&params);
}

static void run_free(struct run *r)
{
	/* The log's redaction points into the buffers wiped below: let go of them first. */
	log_forget_secrets();
	if (r->dockerconfigjson) {
		explicit_bzero(r->dockerconfigjson, strlen(r->dockerconfigjson));
		free(r->dockerconfigjson);
	}
	ecr_tokens_free(r->tokens, r->token_count);
	ecr_token_clear(&r->public_token);
	secret_entries_free(&r->entries);
	secret_entries_free(&r->statics);
	if (r->gcr) {
		gcr_client_free(r->gcr);
		free(r->gcr);
	}
	while (r->gcr_host_count > 0)
		free(r->gcr_hosts[--r->gcr_host_count]);
	free(r->gcr_hosts);
	free(r->host_list);
	free(r->registries);
	free(r->hosts);
	k8s_namespace_list_free(&r->targets);
	if (r->aws) {
		aws_client_free(r->aws);
		free(r->aws);
	}
	explicit_bzero(&r->proxy, sizeof r->proxy);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct run r;
	char err[512];
	int rc, checking;

	log_setup(LOG_JSON, LOG_INFO);
	budget_json_install(JSON_MEMORY_MAX);
	if (argc == 3 && strcmp(argv[1], "--liveness-probe") == 0) {
		/* the exec probe of the watch Deployment: no shell in the image */
		if (watch_liveness_probe(argv[2], err, sizeof err) == 0)
			return EXIT_OK;
		log_event(LOG_ERROR, "liveness probe failed", "reason", err, NULL);
		return EXIT_PARTIAL;
	}
	/* "check" as the first argument selects the diagnosis; the options are the same */
	checking = argc > 1 && strcmp(argv[1], "check") == 0;
	rc = config_parse(&cfg, argc - checking, argv + checking, err, sizeof err);
	if (rc == CONFIG_EXIT_0)
		return EXIT_OK;
	if (rc != CONFIG_OK)
		return config_error(err);
	log_setup(cfg.log_format, cfg.log_level);

	if (cfg.watch && install_stop_handlers() < 0) {
		config_free(&cfg);
		return config_error("cannot install the signal handlers --watch needs");
	}
	memset(&r, 0, sizeof r);
	r.cfg = &cfg;
	r.started_ms = net_now_ms();
	r.deadline_ms = r.started_ms + (int64_t)cfg.deadline_s * 1000;
	rc = checking ? run_check(&r) : run(&r);
	run_free(&r);
	config_free(&cfg);
	return rc;
}
