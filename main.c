/*
 * ecr-refresh: one run (docs/reference.md). Configuration is read and checked in full before
 * anything is contacted; then the target namespaces and what their Secrets are
 * (apply_open), and only when some need a write (always, without --refresh-before) AWS
 * credentials, one ECR token per region, the .dockerconfigjson and the writes
 * (apply_write). With --output, the tokens and the Secret manifests on stdout. Exit codes
 * are docs/reference.md "Exit codes"; only this
 * file exits.
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
#include "ecr.h"
#include "exitcode.h"
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
	char *dockerconfigjson;
	char *hosts;                          /* comma-separated, for the annotation */
	char expires_at[32];
	double expiry_s;                      /* the same, seconds since the epoch */
	const char **host_list;               /* the configured hosts, views into registries */
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
	if (s->source == AWS_SOURCE_WEB_IDENTITY) {
		const char *region = s->region[0] ? s->region
			: r->registry_count ? r->registries[0].region : NULL;
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

static int fetch_tokens(struct run *r)
{
	size_t i, hosts_len = 0;
	char regions[512] = "";
	double expiry;
	int rc;

	if (r->registry_count == 0) {
		if ((rc = default_registry(r)) != 0)
			return rc;
	} else if (ecr_get_tokens(r->aws, r->registries, r->registry_count, &r->tokens, &r->token_count,
	                          r->err, sizeof r->err) != 0) {
		return aws_error(r->err);
	}
	r->dockerconfigjson = ecr_dockerconfigjson(r->registries, r->registry_count, r->tokens, r->token_count);
	for (i = 0; i < r->registry_count; i++)
		hosts_len += strlen(r->registries[i].host) + 1;
	r->hosts = calloc(1, hosts_len + 1);
	if (!r->dockerconfigjson || !r->hosts)
		return aws_error("out of memory");
	for (i = 0; i < r->registry_count; i++) {
		if (i)
			strcat(r->hosts, ",");
		strcat(r->hosts, r->registries[i].host);
	}
	for (i = 0; i < r->token_count; i++)
		snprintf(regions + strlen(regions), sizeof regions - strlen(regions), "%s%s",
		         i ? "," : "", r->tokens[i].region);

	/* RFC 3339 in UTC, whole seconds: the earliest a pull may start failing. */
	expiry = ecr_earliest_expiry(r->tokens, r->token_count);
	r->expiry_s = expiry;
	if (!(expiry > -1e12 && expiry < 1e12)
	    || civil_format_rfc3339((long long)expiry, r->expires_at, sizeof r->expires_at) != 0)
		return aws_error("token expiry out of range");
	log_event(LOG_INFO, "ecr tokens fetched", "regions", regions, "registries", r->hosts,
	          "expires_at", r->expires_at, "credentials", aws_source_name(r->aws->settings.source),
	          NULL);
	return 0;
}

/* ---- --output ----------------------------------------------------------------------- */

static int print_manifests(struct run *r)
{
	const struct config *cfg = r->cfg;
	cJSON *list = NULL, *items = NULL;
	char *text = NULL, seconds[32], count[16];
	size_t i;
	int rc = EXIT_PARTIAL, failed = 0;

	if (cfg->output == OUTPUT_JSON) {
		/* A v1 List, so `kubectl apply -f -` takes every namespace's Secret at once. */
		list = cJSON_CreateObject();
		if (!list || !cJSON_AddStringToObject(list, "apiVersion", "v1")
		    || !cJSON_AddStringToObject(list, "kind", "List")
		    || !(items = cJSON_AddArrayToObject(list, "items")))
			goto out;
	}
	for (i = 0; i < r->targets.count; i++) {
		struct secret_spec spec = {
			.name = cfg->secret_name,
			.namespace = r->targets.items[i].name,
			.dockerconfigjson = r->dockerconfigjson,
			.registries = r->hosts,
			.expires_at = r->expires_at,
			.config_digest = r->config_digest,
		};
		cJSON *doc = secret_manifest(&spec);

		if (!doc)
			goto out;
		if (items) {
			cJSON_AddItemToArray(items, doc);
			continue;
		}
		/* YAML: one document per namespace (YAML 1.2 section 9.2). */
		if (secret_write_yaml(doc, &text) == 0) {
			failed |= fputs("---\n", stdout) == EOF || fputs(text, stdout) == EOF;
			explicit_bzero(text, strlen(text));
			free(text);
			text = NULL;
		} else {
			failed = 1;
		}
		secret_wipe_tree(doc);
		cJSON_Delete(doc);
	}
	if (list) {
		text = secret_print_json(list, 1);
		if (!text)
			goto out;
		failed |= fputs(text, stdout) == EOF;
	}
	failed |= fflush(stdout) != 0;
	if (failed) {
		/* Nothing usable was delivered: exit 1, as when namespaces fail to be written. */
		log_event(LOG_ERROR, "cannot write the manifests to stdout", NULL);
		goto out;
	}
	snprintf(count, sizeof count, "%zu", r->targets.count);
	snprintf(seconds, sizeof seconds, "%.3f", (double)(net_now_ms() - r->started_ms) / 1000.0);
	log_event(LOG_INFO, "manifests printed", "format", cfg->output == OUTPUT_JSON ? "json" : "yaml",
	          "#namespaces", count, "#seconds", seconds, NULL);
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK && !failed)
		log_event(LOG_ERROR, "cannot build the manifests", "error", "out of memory", NULL);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	secret_wipe_tree(list);
	cJSON_Delete(list);
	return rc;
}

/* ---- the run -------------------------------------------------------------------- */

static int watch_forever(struct run *r);

/* The digest of the configured registries (secret.h). Without --registries the default
 * registry is known only after a token, so the digest covers what was configured: none. */
static int config_digest(struct run *r)
{
	r->host_list = calloc(r->registry_count ? r->registry_count : 1, sizeof *r->host_list);
	if (!r->host_list)
		return config_error("out of memory");
	for (size_t i = 0; i < r->registry_count; i++)
		r->host_list[i] = r->registries[i].host;
	if (secret_config_digest(r->host_list, r->registry_count, NULL, r->config_digest) != 0)
		return config_error("out of memory");
	return 0;
}

/*
 * The Kubernetes side: the targets and what their Secrets are first, then, with
 * --refresh-before, nothing more when none needs a write (no registry is asked for a
 * token); else the tokens and the writes. A run that gets no token says so in an Event.
 */
static int kubernetes(struct run *r)
{
	const struct config *cfg = r->cfg;
	struct fresh_want want = { r->registry_count ? r->host_list : NULL, r->registry_count, r->config_digest,
	                           (long long)time(NULL), cfg->refresh_before_s };
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

/* What a run and check read and check alike before the network: registries, proxy, the
 * AWS environment and the endpoints it will call. */
static int prepare(struct run *r)
{
	int rc;

	if ((rc = parse_registries(r)) != 0 || (rc = config_digest(r)) != 0)
		return rc;
	if (http_proxy_from_env(&r->proxy, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	r->aws = calloc(1, sizeof *r->aws);
	if (!r->aws)
		return config_error("out of memory");
	if (aws_client_init(r->aws, &r->proxy, r->cfg->timeout_s, r->deadline_ms, r->err, sizeof r->err) != 0)
		return config_error(r->err);
	return check_endpoints(r);
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
 * earliest expiry, or halfway there when the tokens live shorter than that. net_now_ms()
 * based. */
static int64_t refresh_at_ms(const struct run *r)
{
	long before = r->cfg->refresh_before_s ? r->cfg->refresh_before_s : WATCH_REFRESH_BEFORE_S;
	double left = r->expiry_s - (double)time(NULL), wait = left - (double)before;

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
	free(r->hosts);
	r->hosts = NULL;
	aws_client_free(r->aws);
	r->deadline_ms = net_now_ms() + (int64_t)r->cfg->deadline_s * 1000;
	if (aws_client_init(r->aws, &r->proxy, r->cfg->timeout_s, r->deadline_ms, r->err, sizeof r->err) != 0)
		return aws_error(r->err);
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
	struct fresh_want want = { cfg->registries.count ? r->host_list : NULL, cfg->registries.count ? r->registry_count : 0,
	                           r->config_digest, 0, cfg->refresh_before_s ? cfg->refresh_before_s : WATCH_REFRESH_BEFORE_S };
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
	if ((rc = prepare(r)) != 0)
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
