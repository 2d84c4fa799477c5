/*
 * check: `ecr-refresh check`; see check.h.
 *
 *   1. the registry side: credentials, the identity (STS GetCallerIdentity), one token per
 *      region, each wiped at once;
 *   2. the cluster side, one namespace after another on one connection: GET the Secret,
 *      list the pods (kept: containers failing to pull), GET each ServiceAccount that
 *      matters, then judge;
 *   3. the problems, printed once at the end (a table must know its column widths).
 *
 * Every request is a read. The Secret's data is decoded only to read its keys
 * (checkjson.h); the answer that carried it is wiped in the connection's buffer.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "checkjson.h"
#include "credmatch.h"
#include "exitcode.h"
#include "grow.h"
#include "k8s.h"
#include "k8sjson.h"
#include "log.h"
#include "net.h"
#include "targets.h"

#define CONN_BUF_SIZE  (HTTP_MAX_HEADER + 512 * 1024)
#define POD_PAGE_LIMIT 100
#define MAX_PROBLEMS   10000
#define DOCS           "docs/troubleshooting.md#"

/* Every problem check can name, with the fix in the troubleshooting guide's words; the
 * guide has a heading of the same name for each (tests/e2e/test_check_e2e.py checks). */
enum kind {
	AWS_NO_CREDENTIALS, AWS_IDENTITY_FAILED, REGISTRY_NO_TOKEN,
	SECRET_MISSING, SECRET_WRONG_TYPE, SECRET_NOT_MANAGED, SECRET_UNREADABLE, SECRET_EXPIRED,
	SECRET_EXPIRING, SECRET_LACKS_REGISTRY,
	SERVICEACCOUNT_MISSING, SERVICEACCOUNT_LACKS_SECRET,
	IMAGE_INVALID, POD_NOT_REFERENCING, POD_PREDATES_SERVICEACCOUNT, POD_SECRET_UNUSABLE,
	REGISTRY_NOT_IN_SECRET, PULL_REFUSED,
	API_ERROR, NOT_CHECKED,
};

static const struct {
	const char *name;
	const char *fix;
} kinds[] = {
	[AWS_NO_CREDENTIALS] = { "aws-no-credentials",
		"configure one AWS credential source (IRSA, EKS Pod Identity, static keys)" },
	[AWS_IDENTITY_FAILED] = { "aws-identity-failed",
		"the credentials were refused by STS: renew or replace them" },
	[REGISTRY_NO_TOKEN] = { "registry-no-token",
		"allow ecr:GetAuthorizationToken to the identity above, in this region" },
	[SECRET_MISSING] = { "secret-missing",
		"make the namespace a target (TARGET_NAMESPACES, a Role there) and run once" },
	[SECRET_WRONG_TYPE] = { "secret-wrong-type",
		"delete the Secret (its type cannot change) and run once" },
	[SECRET_NOT_MANAGED] = { "secret-not-managed",
		"another tool wrote it: choose another SECRET_NAME, or take it over with FORCE_CONFLICTS=true" },
	[SECRET_UNREADABLE] = { "secret-unreadable",
		"its .dockerconfigjson holds no auths: delete the Secret and run once" },
	[SECRET_EXPIRED] = { "secret-expired",
		"the token expired: run the CronJob once now, then find why it stopped" },
	[SECRET_EXPIRING] = { "secret-expiring",
		"less time left than a refresh leaves, so a scheduled run was missed: run once now and check the CronJob" },
	[SECRET_LACKS_REGISTRY] = { "secret-lacks-registry",
		"a configured registry has no entry yet: run once" },
	[SERVICEACCOUNT_MISSING] = { "serviceaccount-missing",
		"create the ServiceAccount, or remove it from PATCH_SERVICE_ACCOUNTS" },
	[SERVICEACCOUNT_LACKS_SECRET] = { "serviceaccount-lacks-secret",
		"add it to PATCH_SERVICE_ACCOUNTS (and the serviceaccounts rule to the Role), run once, recreate its pods" },
	[IMAGE_INVALID] = { "image-invalid",
		"the image reference is not valid: fix it in the pod spec" },
	[POD_NOT_REFERENCING] = { "pod-not-referencing",
		"list the Secret in the pod's imagePullSecrets or patch its ServiceAccount, then recreate the pod" },
	[POD_PREDATES_SERVICEACCOUNT] = { "pod-predates-serviceaccount",
		"the ServiceAccount lists the Secret but the pod is older: recreate the pod" },
	[POD_SECRET_UNUSABLE] = { "pod-secret-unusable",
		"the pod's Secret is missing, of the wrong type or expired: fix the Secret's own line first" },
	[REGISTRY_NOT_IN_SECRET] = { "registry-not-in-secret",
		"add the image's registry host to ECR_REGISTRIES (each account, region and FIPS host is its own) and run once" },
	[PULL_REFUSED] = { "pull-refused",
		"the Secret covers the image: check the image name and that the identity may pull it (repository policy)" },
	[API_ERROR] = { "api-error",
		"the API server refused a read: see the detail" },
	[NOT_CHECKED] = { "not-checked",
		"grant the read-only check Role (deploy/check-rbac.yaml) to see this" },
};

struct problem {
	char *namespace;    /* "" for the registry side */
	char *object;
	enum kind kind;
	char *detail;
	char *image, *registry, *entry;   /* pods only, else NULL */
};

struct checker {
	const struct check_params *params;
	const struct config *cfg;
	struct k8s_conn *conn;
	long long now;
	unsigned answered;                /* API answers of any status */
	int fatal;                        /* the exit code that stops the cluster side */
	struct problem *problems;
	size_t count, cap, dropped;
	unsigned counted;                 /* problems that make the exit code 1 */
};

/* ---- collecting problems --------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void add_problem(struct checker *ck, const char *ns, const char *object, enum kind kind,
                        const char *detail, const char *image, const char *registry, const char *entry)
{
	struct problem *p, *grown;

	if (kind != NOT_CHECKED)
		ck->counted++;
	if (ck->count == MAX_PROBLEMS) {
		ck->dropped++;
		return;
	}
	if (!(grown = grow_room(ck->problems, &ck->cap, ck->count, sizeof *grown, 16))) {
		ck->dropped++;
		return;
	}
	ck->problems = grown;
	p = &ck->problems[ck->count++];
	p->namespace = strdup(ns);
	p->object = strdup(object);
	p->kind = kind;
	p->detail = strdup(detail);
	p->image = dup_or_null(image);
	p->registry = dup_or_null(registry);
	p->entry = dup_or_null(entry);
}

static void add_simple(struct checker *ck, const char *ns, const char *object, enum kind kind, const char *detail)
{
	add_problem(ck, ns, object, kind, detail, NULL, NULL, NULL);
}

static void problems_free(struct checker *ck)
{
	for (size_t i = 0; i < ck->count; i++) {
		struct problem *p = &ck->problems[i];
		free(p->namespace);
		free(p->object);
		free(p->detail);
		free(p->image);
		free(p->registry);
		free(p->entry);
	}
	free(ck->problems);
}

/* ---- printing ---------------------------------------------------------------------------- */

static void print_json_line(const struct problem *p)
{
	cJSON *o = cJSON_CreateObject();
	char anchor[96], *text;

	snprintf(anchor, sizeof anchor, DOCS "%s", kinds[p->kind].name);
	if (!o)
		return;
	cJSON_AddStringToObject(o, "namespace", p->namespace);
	cJSON_AddStringToObject(o, "object", p->object);
	cJSON_AddStringToObject(o, "problem", kinds[p->kind].name);
	cJSON_AddStringToObject(o, "detail", p->detail);
	if (p->image)
		cJSON_AddStringToObject(o, "image", p->image);
	if (p->registry)
		cJSON_AddStringToObject(o, "registry", p->registry);
	if (p->entry)
		cJSON_AddStringToObject(o, "secret_entry", p->entry);
	cJSON_AddStringToObject(o, "fix", kinds[p->kind].fix);
	cJSON_AddStringToObject(o, "docs", anchor);
	if ((text = cJSON_PrintUnformatted(o)) != NULL) {
		fputs(text, stdout);
		fputc('\n', stdout);
		cJSON_free(text);
	}
	cJSON_Delete(o);
}

static size_t width_of(const char *s, size_t w)
{
	size_t n = strlen(s && *s ? s : "-");
	return n > w ? n : w;
}

/* NAMESPACE OBJECT PROBLEM DETAIL, aligned, then the fix and its anchor. */
static void print_table(const struct checker *ck)
{
	size_t w[4] = { strlen("NAMESPACE"), strlen("OBJECT"), strlen("PROBLEM"), strlen("DETAIL") };

	for (size_t i = 0; i < ck->count; i++) {
		const struct problem *p = &ck->problems[i];
		w[0] = width_of(p->namespace, w[0]);
		w[1] = width_of(p->object, w[1]);
		w[2] = width_of(kinds[p->kind].name, w[2]);
		w[3] = width_of(p->detail, w[3]);
	}
	printf("%-*s  %-*s  %-*s  %-*s  FIX\n", (int)w[0], "NAMESPACE", (int)w[1], "OBJECT", (int)w[2], "PROBLEM",
	       (int)w[3], "DETAIL");
	for (size_t i = 0; i < ck->count; i++) {
		const struct problem *p = &ck->problems[i];
		printf("%-*s  %-*s  %-*s  %-*s  %s (" DOCS "%s)\n", (int)w[0], p->namespace[0] ? p->namespace : "-",
		       (int)w[1], p->object, (int)w[2], kinds[p->kind].name, (int)w[3], p->detail,
		       kinds[p->kind].fix, kinds[p->kind].name);
	}
}

static void print_problems(const struct checker *ck)
{
	if (ck->cfg->log_format == LOG_TEXT) {
		if (ck->count)
			print_table(ck);
	} else {
		for (size_t i = 0; i < ck->count; i++)
			print_json_line(&ck->problems[i]);
	}
	fflush(stdout);
}

/* ---- the registry side ------------------------------------------------------------------ */

static void registry_identity(struct checker *ck, const char *region)
{
	struct aws_client *aws = ck->params->aws;
	static const char form[] = "Action=GetCallerIdentity&Version=2011-06-15";
	struct aws_json_call call = { AWS_SERVICE_STS, region, "GetCallerIdentity", NULL, form,
	                              "application/x-www-form-urlencoded; charset=utf-8" };
	struct aws_identity id;
	char code[AWS_MAX_ERROR_TYPE], message[256], err[128];
	const char *body;
	size_t len;

	if (aws_json_call(aws, &call, &body, &len) != 0) {
		add_simple(ck, "", "aws/identity", AWS_IDENTITY_FAILED, aws->err);
		return;
	}
	if (aws_parse_caller_identity(body, len, &id, code, sizeof code, message, sizeof message, err, sizeof err) != 0) {
		add_simple(ck, "", "aws/identity", AWS_IDENTITY_FAILED, err);
		return;
	}
	log_event(LOG_INFO, "aws identity", "credentials", aws_source_name(aws->settings.source), "arn", id.arn,
	          "account", id.account, "region", region, NULL);
}

/* One GetAuthorizationToken in region; the token is wiped as soon as it is known to exist.
 * host names the registry for the log, NULL: the one the answer names (the default). */
static void registry_token(struct checker *ck, const char *region, const char *host)
{
	struct ecr_token token;
	char err[512], object[96];

	memset(&token, 0, sizeof token);
	snprintf(object, sizeof object, "registry/%s", region);
	if (ecr_get_token(ck->params->aws, region, &token, err, sizeof err) != 0)
		add_simple(ck, "", object, REGISTRY_NO_TOKEN, err);
	else
		log_event(LOG_INFO, "ecr token available", "region", region, "registry",
		          host ? host : token.proxy_endpoint, NULL);
	log_forget_secret(token.password);
	log_forget_secret(token.auth);
	ecr_token_clear(&token);
}

/* A token per distinct region of --registries; without them, the default region's, as a
 * run would fetch it. */
static void registry_tokens(struct checker *ck, const char *default_region)
{
	const struct check_params *p = ck->params;

	if (p->registry_count == 0 && default_region[0])
		registry_token(ck, default_region, NULL);
	for (size_t i = 0; i < p->registry_count; i++) {
		size_t j;

		for (j = 0; j < i && strcmp(p->registries[j].region, p->registries[i].region) != 0; j++)
			;
		if (j == i)
			registry_token(ck, p->registries[i].region, p->registries[i].host);
	}
}

/* Returns 0, or EXIT_CREDENTIALS when no credential source gave credentials. */
static int registry_side(struct checker *ck)
{
	const struct check_params *p = ck->params;
	struct aws_client *aws = p->aws;
	char region[AWS_MAX_REGION] = "";
	const char *hint = p->registry_count ? p->registries[0].region : NULL;

	if (aws_client_credentials(aws, hint, 0) != 0) {
		add_simple(ck, "", "aws/credentials", AWS_NO_CREDENTIALS, aws->err);
		return EXIT_CREDENTIALS;
	}
	log_event(LOG_INFO, "aws credentials found", "credentials", aws_source_name(aws->settings.source), NULL);
	if (aws->settings.region[0])
		snprintf(region, sizeof region, "%s", aws->settings.region);
	else if (hint)
		snprintf(region, sizeof region, "%s", hint);
	else if (aws_default_region(aws, region, sizeof region) != 0)
		add_simple(ck, "", "aws/identity", AWS_IDENTITY_FAILED, aws->err);
	if (region[0])
		registry_identity(ck, region);
	registry_tokens(ck, region);
	return 0;
}

/* ---- one namespace ------------------------------------------------------------------------ */

struct ns_state {
	const char *ns;
	int secret_known;                 /* the Secret was read (or is known missing) */
	int secret_present;
	int secret_usable;                /* right type, data readable, not expired */
	struct check_secret *secret;
	struct check_failing_list failing;
	int pods_known;
};

/*
 * GET path. Returns the HTTP status (2xx/4xx), or 0 when the call failed: then a
 * connectivity failure before any answer sets ck->fatal, any other is an api-error line.
 */
static int api_get(struct checker *ck, const char *ns, const char *path, struct k8s_reply *r)
{
	struct k8s_request req = { "GET", path, "application/json", NULL, NULL, 0, K8S_ANSWER_MAX_LIST };

	if (k8s_call(ck->conn, &req, r) == 0) {
		ck->answered++;
		return r->status;
	}
	if (k8s_failure_is_connectivity(r->failure) && ck->answered == 0) {
		log_event(LOG_ERROR, "cannot reach the Kubernetes API server", "reason", r->reason, NULL);
		ck->fatal = EXIT_KUBERNETES;
	} else {
		add_simple(ck, ns, path, API_ERROR, r->reason);
	}
	return 0;
}

/* A 403 is a permission this identity lacks: say which, and carry on. Other refusals are
 * api-error lines. */
static void refused(struct checker *ck, const char *ns, const char *object, const char *verb,
                    const struct k8s_reply *r)
{
	char text[K8S_REASON_MAX];

	if (r->status == 403) {
		snprintf(text, sizeof text, "not checked: missing `%s`", verb);
		add_simple(ck, ns, object, NOT_CHECKED, text);
		return;
	}
	k8s_reply_text(r, text, sizeof text);
	add_simple(ck, ns, object, API_ERROR, text);
}

static void judge_expiry(struct checker *ck, struct ns_state *st, const char *object)
{
	const struct check_secret *s = st->secret;
	char text[160];

	long long window = ck->cfg->refresh_before_s > 0 ? ck->cfg->refresh_before_s : CHECK_REFRESH_WINDOW_S;

	/* a refresh leaves more than the window minus one schedule interval; an hour (at
	 * most half the window) covers the interval of the shipped schedules */
	window -= window / 2 < 3600 ? window / 2 : 3600;
	if (s->expires < 0)
		return;
	if (s->expires <= ck->now) {
		snprintf(text, sizeof text, "expired at %s", s->expires_at);
		add_simple(ck, st->ns, object, SECRET_EXPIRED, text);
		st->secret_usable = 0;
	} else if (s->expires < ck->now + window) {
		snprintf(text, sizeof text, "expires at %s, in %lld minutes", s->expires_at, (s->expires - ck->now) / 60);
		add_simple(ck, st->ns, object, SECRET_EXPIRING, text);
	}
}

/* Every configured registry host should have its entry in the Secret. */
static void judge_registries(struct checker *ck, struct ns_state *st, const char *object)
{
	const struct check_params *p = ck->params;

	for (size_t i = 0; i < p->registry_count; i++) {
		size_t k;
		char text[400];

		for (k = 0; k < st->secret->key_count && strcmp(st->secret->keys[k], p->registries[i].host) != 0; k++)
			;
		if (k < st->secret->key_count)
			continue;
		snprintf(text, sizeof text, "no entry for %s", p->registries[i].host);
		add_simple(ck, st->ns, object, SECRET_LACKS_REGISTRY, text);
	}
}

static void judge_secret(struct checker *ck, struct ns_state *st, const char *object)
{
	const struct check_secret *s = st->secret;
	char text[200];

	if (strcmp(s->type, "kubernetes.io/dockerconfigjson") != 0) {
		snprintf(text, sizeof text, "type %s, not kubernetes.io/dockerconfigjson", s->type);
		add_simple(ck, st->ns, object, SECRET_WRONG_TYPE, text);
		return;
	}
	if (!s->data_ok) {
		add_simple(ck, st->ns, object, SECRET_UNREADABLE, "no .dockerconfigjson with an auths object");
		return;
	}
	st->secret_usable = 1;
	if (strcmp(s->manager, "ecr-refresh") != 0) {
		snprintf(text, sizeof text, "managed-by %s", s->manager[0] ? s->manager : "(no label)");
		add_simple(ck, st->ns, object, SECRET_NOT_MANAGED, text);
	}
	judge_expiry(ck, st, object);
	judge_registries(ck, st, object);
}

static void read_secret(struct checker *ck, struct ns_state *st)
{
	char path[K8S_PATH_MAX], object[300];
	struct k8s_reply r;
	int status;

	snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets/%s", st->ns, ck->cfg->secret_name);
	snprintf(object, sizeof object, "secret/%s", ck->cfg->secret_name);
	status = api_get(ck, st->ns, path, &r);
	if (status == 200) {
		char err[128];

		st->secret_known = st->secret_present = 1;
		if (check_parse_secret(r.body, r.body_len, st->secret, err, sizeof err) != 0)
			add_simple(ck, st->ns, object, API_ERROR, err);
		else
			judge_secret(ck, st, object);
		k8s_reply_wipe(&r);
	} else if (status == 404) {
		st->secret_known = 1;
		add_simple(ck, st->ns, object, SECRET_MISSING, "no such Secret in the namespace");
	} else if (status) {
		char verb[320];

		snprintf(verb, sizeof verb, "get secrets/%s", ck->cfg->secret_name);
		refused(ck, st->ns, object, verb, &r);
	}
}

static void read_pods(struct checker *ck, struct ns_state *st)
{
	char cont[K8S_MAX_CONTINUE + 1] = "", encoded[3 * K8S_MAX_CONTINUE + 1], path[K8S_PATH_MAX + 4096];
	char err[160];

	do {
		struct k8s_reply r;
		int status;

		if (k8s_query_encode(cont, encoded, sizeof encoded) < 0)
			return;
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods?limit=%d%s%s", st->ns, POD_PAGE_LIMIT,
		         cont[0] ? "&continue=" : "", encoded);
		status = api_get(ck, st->ns, path, &r);
		if (status != 200) {
			if (status)
				refused(ck, st->ns, "pods", "list pods", &r);
			return;
		}
		if (check_parse_pod_page(r.body, r.body_len, ck->cfg->secret_name, &st->failing, cont, sizeof cont,
		                         err, sizeof err) != 0) {
			add_simple(ck, st->ns, "pods", API_ERROR, err);
			return;
		}
	} while (cont[0]);
	st->pods_known = 1;
}

/* Reads one ServiceAccount. Returns 1 listed, 0 not listed, -1 unknown (reported). Not
 * listing the Secret is a problem for a configured one, and for a failing pod's when that
 * pod does not list the Secret itself (need_secret). */
static int read_service_account(struct checker *ck, struct ns_state *st, const char *name, int configured,
                                int need_secret)
{
	char path[K8S_PATH_MAX], object[300], err[128];
	struct k8s_reply r;
	int status, listed = 0;

	snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts/%s", st->ns, name);
	snprintf(object, sizeof object, "serviceaccount/%s", name);
	status = api_get(ck, st->ns, path, &r);
	if (status == 404) {
		add_simple(ck, st->ns, object, SERVICEACCOUNT_MISSING,
		           configured ? "named in PATCH_SERVICE_ACCOUNTS, not found" : "used by a failing pod, not found");
		return -1;
	}
	if (status != 200) {
		if (status)
			refused(ck, st->ns, object, "get serviceaccounts", &r);
		return -1;
	}
	if (check_parse_service_account(r.body, r.body_len, ck->cfg->secret_name, &listed, err, sizeof err) != 0) {
		add_simple(ck, st->ns, object, API_ERROR, err);
		return -1;
	}
	if (!listed && (configured || need_secret))
		add_simple(ck, st->ns, object, SERVICEACCOUNT_LACKS_SECRET, "imagePullSecrets does not list the Secret");
	return listed;
}

/* ---- judging the failing pods ---------------------------------------------------------- */

/* What the kubelet would use for the image: the matching key, or NULL. */
static const char *secret_entry_for(const struct ns_state *st, const char *repo)
{
	const char *keys[CHECK_MAX_KEYS];
	long found;

	if (!st->secret_present || !st->secret->data_ok)
		return NULL;
	for (size_t i = 0; i < st->secret->key_count; i++)
		keys[i] = st->secret->keys[i];
	found = credmatch_lookup(keys, st->secret->key_count, repo);
	return found >= 0 ? keys[found] : NULL;
}

static void judge_failing(struct checker *ck, struct ns_state *st, const struct check_failing *f, int sa_listed)
{
	struct credmatch_image img;
	const char *entry;
	char object[600], text[2048];
	enum kind kind;

	snprintf(object, sizeof object, "pod/%s", f->pod);
	if (credmatch_parse_image(f->image, &img) != 0) {
		snprintf(text, sizeof text, "%s: container %s, image %s", f->reason, f->container, f->image);
		add_problem(ck, st->ns, object, IMAGE_INVALID, text, f->image, NULL, NULL);
		return;
	}
	entry = secret_entry_for(st, img.repo);
	if (!f->pod_references_secret)
		kind = sa_listed == 1 ? POD_PREDATES_SERVICEACCOUNT : POD_NOT_REFERENCING;
	else if (st->secret_present && st->secret->data_ok && !entry)
		kind = REGISTRY_NOT_IN_SECRET;
	else if (st->secret_known && !st->secret_usable)
		kind = POD_SECRET_UNUSABLE;
	else
		kind = PULL_REFUSED;
	snprintf(text, sizeof text, "container %s: %s %s; registry %s %s%s; referenced by %s", f->container, f->reason,
	         f->image, img.host, entry ? "matches entry " : "has no entry", entry ? entry : "",
	         f->pod_references_secret ? "the pod" : sa_listed == 1 ? "its ServiceAccount only" : "nothing");
	add_problem(ck, st->ns, object, kind, text, f->image, img.host, entry ? entry : "");
}

/* 1 when a failing pod of ServiceAccount name does not list the Secret itself. */
static int pods_need_secret(const struct ns_state *st, const char *name)
{
	for (size_t i = 0; i < st->failing.count; i++)
		if (!st->failing.items[i].pod_references_secret && strcmp(st->failing.items[i].service_account, name) == 0)
			return 1;
	return 0;
}

/* The ServiceAccounts that matter: --service-accounts, then each failing pod's, each read
 * once; then every failing container is judged with its ServiceAccount's answer. */
static void judge_pods(struct checker *ck, struct ns_state *st)
{
	const struct config_list *configured = &ck->cfg->service_accounts;
	size_t n = configured->count + st->failing.count;
	const char **names = calloc(n ? n : 1, sizeof *names);
	int *listed = calloc(n ? n : 1, sizeof *listed);
	size_t count = 0;

	if (!names || !listed)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *name = i < configured->count ? configured->items[i]
		                                         : st->failing.items[i - configured->count].service_account;
		size_t j;

		for (j = 0; j < count && strcmp(names[j], name) != 0; j++)
			;
		if (j < count)
			continue;
		names[count] = name;
		if (!config_valid_dns_subdomain(name)) {
			/* it goes into a URL path: the API server's own rule, checked again here */
			add_simple(ck, st->ns, "serviceaccount/?", API_ERROR, "a pod names an invalid ServiceAccount");
			listed[count++] = -1;
			continue;
		}
		listed[count++] = read_service_account(ck, st, name, i < configured->count, pods_need_secret(st, name));
		if (ck->fatal)
			goto out;
	}
	for (size_t i = 0; i < st->failing.count; i++) {
		const struct check_failing *f = &st->failing.items[i];
		size_t j;

		for (j = 0; j < count && strcmp(names[j], f->service_account) != 0; j++)
			;
		judge_failing(ck, st, f, j < count ? listed[j] : -1);
	}
out:
	free(names);
	free(listed);
}

static void check_namespace(struct checker *ck, const char *ns)
{
	struct ns_state st;
	size_t before = ck->counted;
	char problems[24], failing[24];

	memset(&st, 0, sizeof st);
	st.ns = ns;
	st.secret = calloc(1, sizeof *st.secret);
	if (!st.secret) {
		add_simple(ck, ns, "-", API_ERROR, "out of memory");
		return;
	}
	read_secret(ck, &st);
	if (!ck->fatal)
		read_pods(ck, &st);
	if (!ck->fatal)
		judge_pods(ck, &st);
	snprintf(problems, sizeof problems, "%zu", ck->counted - before);
	snprintf(failing, sizeof failing, "%zu", st.failing.count + st.failing.dropped);
	log_event(LOG_INFO, "namespace checked", "namespace", ns,
	          "secret", !st.secret_known ? "unknown" : st.secret_present ? "present" : "missing",
	          "type", st.secret->type[0] ? st.secret->type : NULL,
	          "managed_by", st.secret->manager[0] ? st.secret->manager : NULL,
	          "registries", st.secret->registries[0] ? st.secret->registries : NULL,
	          "expires_at", st.secret->expires_at[0] ? st.secret->expires_at : NULL,
	          "#failing_containers", st.pods_known ? failing : NULL,
	          "#problems", problems, NULL);
	check_failing_list_free(&st.failing);
	explicit_bzero(st.secret, sizeof *st.secret);
	free(st.secret);
}

/* ---- the cluster side ---------------------------------------------------------------------- */

/* Returns 0, or the exit code that ended it (2 configuration, 4 unreachable). */
static int cluster_side(struct checker *ck)
{
	const struct config *cfg = ck->cfg;
	struct k8s_client *client = NULL;
	struct k8s_namespace_list targets = { 0 };
	char own[64] = "", err[512];
	int rc;

	if (cfg->namespaces.count == 0 && !cfg->namespace_selector &&
	    targets_own_namespace(cfg->serviceaccount_dir, own, sizeof own, err, sizeof err) != 0) {
		log_event(LOG_ERROR, "no target namespace", "reason", err, NULL);
		return EXIT_CONFIG;
	}
	if ((rc = k8s_client_open(cfg, ck->params->proxy, ck->params->deadline_ms, &client)) != 0)
		return rc;
	if ((rc = targets_resolve(client, cfg, own[0] ? own : NULL, &targets)) != 0)
		goto out;
	ck->conn = k8s_conn_new(client, 0, CONN_BUF_SIZE);
	if (!ck->conn) {
		rc = EXIT_PARTIAL;
		goto out;
	}
	for (size_t i = 0; i < targets.count && !ck->fatal; i++)
		check_namespace(ck, targets.items[i].name);
	rc = ck->fatal;
out:
	k8s_conn_free(ck->conn);
	ck->conn = NULL;
	k8s_namespace_list_free(&targets);
	k8s_client_close(client);
	return rc;
}

int check_run(const struct check_params *params)
{
	struct checker ck;
	char count[24];
	int aws_rc, k8s_rc, rc;

	memset(&ck, 0, sizeof ck);
	ck.params = params;
	ck.cfg = params->cfg;
	ck.now = (long long)time(NULL);
	aws_rc = registry_side(&ck);
	k8s_rc = cluster_side(&ck);
	print_problems(&ck);
	snprintf(count, sizeof count, "%u", ck.counted);
	log_event(ck.counted ? LOG_WARN : LOG_INFO, "check finished", "#problems", count, NULL);
	rc = aws_rc ? aws_rc : k8s_rc ? k8s_rc : ck.counted ? EXIT_PARTIAL : EXIT_OK;
	problems_free(&ck);
	return rc;
}
