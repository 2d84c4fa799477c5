/*
 * awscred: the AWS client's state and its credential chain; see aws.h and awscred.h.
 *
 * The chain, in the SDKs' order: env keys, web identity (STS AssumeRoleWithWebIdentity),
 * container credentials (ECS, EKS Pod Identity), IMDSv2 (docs/design.md "The credential
 * chain and the environment"). Token files are re-read on every fetch: kubelet rotates
 * them.
 */
#include "awscred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "files.h"
#include "log.h"
#include "net.h"
#include "retry.h"

#define TOKEN_FILE_MAX      (FILES_TOKEN_MAX + 1)   /* identity / authorization token + NUL */
#define METADATA_BODY_MAX   65536
/* http wants room for the head, the largest body and a NUL. */
#define CONN_BUF_SIZE       (HTTP_MAX_HEADER + AWS_MAX_BODY + 1)
#define METADATA_BUF_SIZE   (HTTP_MAX_HEADER + METADATA_BODY_MAX + 1)
#define IMDS_TIMEOUT_MS     1000    /* aws-c-auth's IMDS timeout: fail fast off EC2 */
#define IMDS_TOKEN_TTL      "21600"
#define BACKOFF_BASE_MS     100
#define BACKOFF_CAP_MS      5000

/* Which client buffers log_register_secret holds already (client->registered). */
enum {
	REG_SECRET_KEY = 1,
	REG_SESSION_TOKEN = 2,
	REG_TOKEN_BUF = 4,
	REG_IMDS_TOKEN = 8,
};

/* ---- the client ------------------------------------------------------------------------ */

int aws_client_init(struct aws_client *c, const struct http_proxy *proxy, int timeout_s,
                    int64_t deadline_ms, char *err, size_t errlen)
{
	char aerr[300];
	int rc;

	memset(c, 0, sizeof *c);
	c->proxy = proxy;
	c->timeout_ms = (int64_t)timeout_s * 1000;
	c->deadline_ms = deadline_ms;
	anchors_init(&c->extra_anchors);
	c->anchors = anchors_embedded();
	http_conn_init(&c->conn, NULL, 0, proxy);
	http_conn_init(&c->metadata_conn, NULL, 0, NULL);
	if ((rc = aws_settings_from_env(&c->settings, err, errlen)) != 0)
		return rc;
	/* A token file that is a FIFO, a device or huge would hang or flood the first
	 * request: refuse it now, with nothing contacted (files.h). */
	if ((c->settings.web_identity_token_file[0]
	     && files_check("AWS_WEB_IDENTITY_TOKEN_FILE", c->settings.web_identity_token_file,
	                    FILES_TOKEN_MAX, err, errlen) != 0)
	    || (c->settings.container_token_file[0]
	        && files_check("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", c->settings.container_token_file,
	                       FILES_TOKEN_MAX, err, errlen) != 0))
		return AWS_ECONFIG;
	if (c->settings.ca_bundle[0] || c->settings.ssl_cert_file[0]) {
		/* Both add to the public roots, never replace them (docs/reference.md "Trust and
		 * proxies"). */
		if (anchors_add_all(&c->extra_anchors, anchors_embedded()) != 0) {
			snprintf(err, errlen, "out of memory");
			return AWS_ECONFIG;
		}
		if (c->settings.ca_bundle[0]
		    && anchors_add_pem_file(&c->extra_anchors, c->settings.ca_bundle, aerr, sizeof aerr) < 0) {
			snprintf(err, errlen, "AWS_CA_BUNDLE %s", aerr);
			return AWS_ECONFIG;
		}
		if (c->settings.ssl_cert_file[0]
		    && anchors_add_pem_file(&c->extra_anchors, c->settings.ssl_cert_file, aerr, sizeof aerr) < 0) {
			snprintf(err, errlen, "SSL_CERT_FILE %s", aerr);
			return AWS_ECONFIG;
		}
		c->anchors = &c->extra_anchors;
	}
	c->conn_buf = malloc(CONN_BUF_SIZE);
	c->metadata_buf = malloc(METADATA_BUF_SIZE);
	c->token_buf = malloc(TOKEN_FILE_MAX);
	if (!c->conn_buf || !c->metadata_buf || !c->token_buf) {
		snprintf(err, errlen, "out of memory");
		return AWS_ECONFIG;
	}
	c->token_buf[0] = '\0';
	http_conn_init(&c->conn, c->conn_buf, CONN_BUF_SIZE, proxy);
	http_conn_init(&c->metadata_conn, c->metadata_buf, METADATA_BUF_SIZE, NULL);
	retry_seed(&c->rng, 0);
	return 0;
}

static void free_wiped(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

void aws_client_free(struct aws_client *c)
{
	http_conn_close(&c->conn);
	http_conn_close(&c->metadata_conn);
	free_wiped(c->conn_buf, CONN_BUF_SIZE);
	free_wiped(c->metadata_buf, METADATA_BUF_SIZE);
	free_wiped(c->token_buf, TOKEN_FILE_MAX);
	c->conn_buf = c->metadata_buf = c->token_buf = NULL;
	aws_credentials_wipe(&c->creds);
	explicit_bzero(c->imds_token, sizeof c->imds_token);
	c->have_creds = 0;
	anchors_free(&c->extra_anchors);
}

static void register_secret(struct aws_client *c, unsigned bit, const char *value)
{
	if (!(c->registered & bit) && strlen(value) >= 4) {
		log_register_secret(value);
		c->registered |= bit;
	}
}

/* The deadline of one request: the per-request timeout, never past the run's end. */
int64_t aws_request_deadline(const struct aws_client *c, int64_t timeout_ms)
{
	int64_t d = net_now_ms() + timeout_ms;
	return d < c->deadline_ms ? d : c->deadline_ms;
}

/* Sleeps the backoff before attempt `attempt` (1-based retry count). Returns -1 when the
 * run deadline would pass first: then there is no point in trying again. */
int aws_backoff_sleep(struct aws_client *c, int attempt)
{
	return retry_sleep(retry_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS, retry_random(&c->rng)),
	                   c->deadline_ms);
}

/* An answer that carried credentials is wiped from the connection buffer once read: the
 * buffer lives on for later requests. */
static void wipe_body(const struct http_response *resp)
{
	explicit_bzero((char *)resp->body, resp->body_len);
}

/* Transport failures worth another attempt: the peer or the path may recover. Certificate,
 * URL, proxy and size errors will not. */
int aws_transport_retryable(int rc)
{
	return rc == HTTP_EIO || rc == HTTP_ETIMEOUT || rc == HTTP_ECONNECT || rc == HTTP_ETLS;
}

struct http_conn *aws_conn_for(struct aws_client *c, const char *url)
{
	return strncasecmp(url, "https:", 6) == 0 ? &c->conn : &c->metadata_conn;
}

/* Reads a token file afresh into c->token_buf: kubelet rotates projected tokens, so none is
 * ever cached (docs/design.md "STS AssumeRoleWithWebIdentity (IRSA)", "Container
 * credentials and EKS Pod Identity"). Trailing whitespace (a newline an editor left) is
 * dropped; anything else that could not go into a header field is refused. */
static int read_token_file(struct aws_client *c, const char *var, const char *path)
{
	long n = files_read(var, path, c->token_buf, FILES_TOKEN_MAX, c->err, sizeof c->err);
	size_t len;

	if (n < 0)
		return AWS_ECREDS;
	len = (size_t)n;
	while (len > 0 && (c->token_buf[len - 1] == '\n' || c->token_buf[len - 1] == '\r'
	                   || c->token_buf[len - 1] == ' ' || c->token_buf[len - 1] == '\t'))
		len--;
	c->token_buf[len] = '\0';
	if (len == 0 || !aws_visible_ascii(c->token_buf, len)) {
		snprintf(c->err, sizeof c->err, "%s %s: %s", var, path,
		         len ? "the token has characters a header cannot carry" : "empty");
		return AWS_ECREDS;
	}
	register_secret(c, REG_TOKEN_BUF, c->token_buf);
	return 0;
}

/* application/x-www-form-urlencoded value: the unreserved set of RFC 3986 kept, the rest
 * percent-encoded, as botocore's query serializer does. */
static size_t form_encode(char *out, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
		    || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* "Type (HTTP 403): message": the message is left out for errors about signatures and
 * tokens, whose AWS texts can quote the canonical request, security token included. */
void aws_describe_error(char *out, size_t cap, const char *prefix, const char *type, int status,
                           const char *message)
{
	int quiet = aws_credential_error(type) || strstr(type, "Signature") || strstr(type, "Token");

	if (!*type)
		snprintf(out, cap, "%s: HTTP %d", prefix, status);
	else if (quiet || !*message)
		snprintf(out, cap, "%s: %s (HTTP %d)", prefix, type, status);
	else
		snprintf(out, cap, "%s: %s (HTTP %d): %s", prefix, type, status, message);
}

void aws_log_retry(const char *operation, const char *region, const char *why, int attempt)
{
	char n[12];
	snprintf(n, sizeof n, "%d", attempt);
	log_event(LOG_WARN, "aws request retried", "operation", operation, "region", region,
	          "error", why, "#attempt", n, NULL);
}

/* ---- web identity (docs/design.md "STS AssumeRoleWithWebIdentity (IRSA)") ------------ */

/* The RoleSessionName: the configured one, else "ecr-refresh-" and 16 random hex digits
 * (aws-c-auth generates a UUID; any 2..64 chars of [\w+=,.@-] will do). */
static void web_identity_session(struct aws_client *c, char session[65])
{
	if (c->settings.role_session_name[0])
		memcpy(session, c->settings.role_session_name, 65);
	else
		snprintf(session, 65, "ecr-refresh-%08x%08x", (unsigned)retry_random(&c->rng),
		         (unsigned)retry_random(&c->rng));
}

/* The form body of AssumeRoleWithWebIdentity, with the token just read: its length. */
static size_t web_identity_body(struct aws_client *c, const char *session, char *body, size_t body_cap)
{
	size_t n = (size_t)snprintf(body, body_cap, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");

	n += form_encode(body + n, c->settings.role_arn);
	memcpy(body + n, "&RoleSessionName=", 17);
	n += 17;
	n += form_encode(body + n, session);
	memcpy(body + n, "&WebIdentityToken=", 18);
	n += 18;
	n += form_encode(body + n, c->token_buf);
	return n;
}

/* POSTs the form body to STS (unsigned: the web identity token is the credential). */
static int sts_post(struct aws_client *c, const struct aws_endpoint *ep, const char *body, size_t len,
                    struct http_response *resp)
{
	static const struct http_header headers[2] = {
		{ "Content-Type", 12, "application/x-www-form-urlencoded; charset=utf-8", 48 },
		{ "Accept", 6, "text/xml", 8 },
	};
	struct http_request req;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = ep->url;
	req.headers = headers;
	req.header_count = 2;
	req.body = body;
	req.body_len = len;
	req.anchors = c->anchors;
	req.deadline_ms = aws_request_deadline(c, c->timeout_ms);
	req.max_body = AWS_MAX_BODY;
	return http_request(aws_conn_for(c, ep->url), &req, resp);
}

/* STS's answer: 0 with the credentials, 1 when worth another attempt (*why for the log,
 * maybe code), -1 when not; c->err says why. */
static int web_identity_answer(struct aws_client *c, const char *prefix, struct http_response *resp,
                               struct aws_credentials *out, char code[AWS_MAX_ERROR_TYPE], const char **why)
{
	char message[256], perr[200];
	int rc = aws_parse_sts_response(resp->body, resp->body_len, out, code, AWS_MAX_ERROR_TYPE, message,
	                                sizeof message, perr, sizeof perr);

	wipe_body(resp);
	if (rc == 0 && resp->status / 100 == 2)
		return 0;
	if (rc == AWS_EPARSE && resp->status / 100 == 2) {
		snprintf(c->err, sizeof c->err, "%s: %s", prefix, perr);
		return -1;
	}
	if (rc != AWS_EREQUEST)
		code[0] = message[0] = '\0';
	aws_describe_error(c->err, sizeof c->err, prefix, code, resp->status, message);
	*why = code[0] ? code : "HTTP error";
	/* aws-c-auth also retries these two: the identity provider was slow, or the token is
	 * newer than STS's view of the provider's keys. */
	return aws_retryable_error(code, resp->status) || strcmp(code, "IDPCommunicationError") == 0 ||
	       strcmp(code, "InvalidIdentityToken") == 0 ? 1 : -1;
}

/* The STS endpoint of the configured region (else region_hint) and the log prefix. */
static int web_identity_endpoint(struct aws_client *c, const char *region_hint, struct aws_endpoint *ep,
                                 char *prefix, size_t prefix_size)
{
	const char *region = c->settings.region[0] ? c->settings.region : region_hint;

	if (!region || !*region) {
		snprintf(c->err, sizeof c->err, "web identity: no region for STS (set AWS_REGION)");
		return -1;
	}
	if (aws_endpoint_for(&c->settings, AWS_SERVICE_STS, region, ep, c->err, sizeof c->err) != 0)
		return -1;
	snprintf(prefix, prefix_size, "STS AssumeRoleWithWebIdentity in %s", ep->signing_region);
	return 0;
}

static int fetch_web_identity(struct aws_client *c, const char *region_hint, struct aws_credentials *out)
{
	const struct aws_settings *s = &c->settings;
	size_t body_cap = 3 * (TOKEN_FILE_MAX + sizeof s->role_arn + 65) + 128;
	struct aws_endpoint ep;
	char prefix[160], session[65], code[AWS_MAX_ERROR_TYPE];
	struct http_response resp;
	char *body;
	int attempt, rc = AWS_ECREDS;

	if (web_identity_endpoint(c, region_hint, &ep, prefix, sizeof prefix) < 0)
		return AWS_ECREDS;
	web_identity_session(c, session);
	if (!(body = malloc(body_cap))) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return AWS_ECREDS;
	}
	for (attempt = 1;; attempt++) {
		const char *why = "transport";
		size_t n;
		int again;

		if ((rc = read_token_file(c, "AWS_WEB_IDENTITY_TOKEN_FILE", s->web_identity_token_file)) != 0)
			goto out;
		n = web_identity_body(c, session, body, body_cap);
		rc = sts_post(c, &ep, body, n, &resp);
		explicit_bzero(body, n);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, aws_conn_for(c, ep.url)->err);
			again = aws_transport_retryable(rc) ? 1 : -1;
		} else if ((again = web_identity_answer(c, prefix, &resp, out, code, &why)) == 0) {
			goto out;
		}
		if (again < 0 || attempt >= AWS_MAX_ATTEMPTS || aws_backoff_sleep(c, attempt) != 0)
			break;
		aws_log_retry("AssumeRoleWithWebIdentity", ep.signing_region, why, attempt);
	}
	rc = AWS_ECREDS;
out:
	if (rc != 0)
		aws_credentials_wipe(out);
	free_wiped(body, body_cap);
	return rc;
}

/* ---- container credentials (docs/design.md "Container credentials and EKS Pod Identity") */

/* The authorization token of this attempt into c->token_buf, re-read each time (the file
 * rotates): 1 when there is one, 0 when none is configured, or an AWS_E* code. */
static int container_token(struct aws_client *c)
{
	const struct aws_settings *s = &c->settings;
	const char *t;
	int rc;

	if (s->container_token_file[0]) {
		rc = read_token_file(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", s->container_token_file);
		return rc != 0 ? rc : 1;
	}
	if (!s->container_token_static)
		return 0;
	t = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (!t || aws_copy_str(c->token_buf, TOKEN_FILE_MAX, t) != 0 || !aws_visible_ascii(t, strlen(t))) {
		snprintf(c->err, sizeof c->err, "AWS_CONTAINER_AUTHORIZATION_TOKEN is not a valid header value");
		return AWS_ECREDS;
	}
	register_secret(c, REG_TOKEN_BUF, c->token_buf);
	return 1;
}

/* One GET of the credentials, with the token as it is, without "Bearer" (docs/design.md
 * "Container credentials and EKS Pod Identity"). */
static int container_get(struct aws_client *c, int with_token, struct http_response *resp)
{
	struct http_header headers[2] = { { "Accept", 6, "application/json", 16 },
	                                  { "Authorization", 13, c->token_buf, 0 } };
	struct http_request req;

	headers[1].value_len = with_token ? strlen(c->token_buf) : 0;
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = c->settings.container_url;
	req.headers = headers;
	req.header_count = with_token ? 2 : 1;
	req.anchors = c->anchors;
	req.deadline_ms = aws_request_deadline(c, c->timeout_ms);
	req.max_body = METADATA_BODY_MAX;
	return http_request(aws_conn_for(c, c->settings.container_url), &req, resp);
}

/* The answer: 0 with the credentials, 1 when worth another attempt (*why, maybe type, for
 * the log), -1 when not; c->err says why. Errors come as {"code","message"} (aws-c-auth
 * credentials_provider_ecs.c). */
static int container_answer(struct aws_client *c, const char *prefix, struct http_response *resp,
                            struct aws_credentials *out, char type[AWS_MAX_ERROR_TYPE], const char **why)
{
	char message[256], perr[200];

	if (resp->status == 200) {
		int rc = aws_parse_credentials_json(resp->body, resp->body_len, out, perr, sizeof perr);

		wipe_body(resp);
		if (rc == 0)
			return 0;
		snprintf(c->err, sizeof c->err, "%s: %s", prefix, perr);
		return -1;
	}
	aws_parse_error_json(resp->body, resp->body_len, NULL, 0, type, AWS_MAX_ERROR_TYPE, message, sizeof message);
	aws_describe_error(c->err, sizeof c->err, prefix, type, resp->status, message);
	*why = type[0] ? type : "HTTP error";
	return aws_retryable_error(type, resp->status) ? 1 : -1;
}

/* The URL checked (AWS_CONTAINER_CREDENTIALS_FULL_URI rules) and the log prefix. */
static int container_prefix(struct aws_client *c, char *prefix, size_t size)
{
	struct http_url url;
	char uerr[160];

	if (http_parse_url(c->settings.container_url, &url, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "container credentials URL: %s", uerr);
		return -1;
	}
	snprintf(prefix, size, "container credentials from %s%s%s:%s", strchr(url.host, ':') ? "[" : "", url.host,
	         strchr(url.host, ':') ? "]" : "", url.port);
	return aws_check_full_uri(c->settings.container_url, 1, c->err, sizeof c->err) != 0 ? -1 : 0;
}

static int fetch_container(struct aws_client *c, struct aws_credentials *out)
{
	char prefix[HTTP_MAX_HOST + 64], type[AWS_MAX_ERROR_TYPE];
	struct http_response resp;
	int attempt, rc, again;

	if (container_prefix(c, prefix, sizeof prefix) < 0)
		return AWS_ECREDS;
	for (attempt = 1;; attempt++) {
		const char *why = "transport";
		int with_token = container_token(c);

		if (with_token < 0)
			return with_token;
		rc = container_get(c, with_token, &resp);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, aws_conn_for(c, c->settings.container_url)->err);
			again = aws_transport_retryable(rc) ? 1 : -1;
		} else if ((again = container_answer(c, prefix, &resp, out, type, &why)) == 0) {
			return 0;
		}
		if (again < 0 || attempt >= 3 || aws_backoff_sleep(c, attempt) != 0)
			return AWS_ECREDS;
		aws_log_retry("container credentials", "-", why, attempt);
	}
}

/* ---- IMDSv2 (docs/design.md "IMDSv2") ------------------------------------------------ */

/* One IMDS request: one attempt, one second, so a pod without IMDS fails fast. */
static int imds_request(struct aws_client *c, const char *method, const char *path,
                        struct http_response *resp)
{
	struct http_header headers[1];
	struct http_request req;
	char url[HTTP_MAX_URL];

	snprintf(url, sizeof url, "%s%s", c->settings.imds_endpoint, path);
	if (strcmp(method, "PUT") == 0) {
		/* The token PUT says how long the token should live (docs/design.md "IMDSv2"). */
		headers[0].name = "X-aws-ec2-metadata-token-ttl-seconds";
		headers[0].value = IMDS_TOKEN_TTL;
	} else {
		headers[0].name = "X-aws-ec2-metadata-token";
		headers[0].value = c->imds_token;
	}
	headers[0].name_len = strlen(headers[0].name);
	headers[0].value_len = strlen(headers[0].value);
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.header_count = 1;
	req.anchors = c->anchors;
	req.deadline_ms = aws_request_deadline(c, IMDS_TIMEOUT_MS);
	req.max_body = METADATA_BODY_MAX;
	return http_request(aws_conn_for(c, url), &req, resp);
}

static void imds_host(const struct aws_client *c, char *out, size_t cap)
{
	struct http_url url;
	char uerr[160];

	if (http_parse_url(c->settings.imds_endpoint, &url, uerr, sizeof uerr) == 0)
		snprintf(out, cap, "%s", url.host);
	else
		snprintf(out, cap, "%.200s", c->settings.imds_endpoint);
}

/* Gets an IMDSv2 session token unless one is held. On failure c->err says why after
 * `what` ("IMDS unreachable (169.254.169.254: timed out after 1s)"). */
static int imds_token(struct aws_client *c, const char *what)
{
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1];
	size_t n;
	int rc;

	if (c->imds_token[0])
		return 0;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "PUT", "/latest/api/token", &resp);
	if (rc == HTTP_ETIMEOUT) {
		snprintf(c->err, sizeof c->err, "%s, IMDS unreachable (%s: timed out after 1s)", what, host);
		return AWS_ECREDS;
	}
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "%s, IMDS unreachable (%s: %s)", what, host,
		         aws_conn_for(c, c->settings.imds_endpoint)->err);
		return AWS_ECREDS;
	}
	if (resp.status != 200) {
		snprintf(c->err, sizeof c->err, "%s, IMDS token request refused (%s: HTTP %d)", what,
		         host, resp.status);
		return AWS_ECREDS;
	}
	n = resp.body_len;
	while (n > 0 && (resp.body[n - 1] == '\n' || resp.body[n - 1] == '\r' || resp.body[n - 1] == ' '))
		n--;
	if (aws_set_value(c->imds_token, sizeof c->imds_token, resp.body, n) != 0) {
		snprintf(c->err, sizeof c->err, "%s, IMDS (%s) answered an unusable token", what, host);
		return AWS_ECREDS;
	}
	register_secret(c, REG_IMDS_TOKEN, c->imds_token);
	return 0;
}

static int fetch_imds(struct aws_client *c, struct aws_credentials *out)
{
	static const char base[] = "/latest/meta-data/iam/security-credentials/";
	const char *what = "no AWS credentials: env keys not set, no web identity, no container credentials";
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1], path[sizeof base + 256], perr[200], role[129];
	size_t n = 0;
	int rc;

	if ((rc = imds_token(c, what)) != 0)
		return rc;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "GET", base, &resp);
	if (rc < 0 || resp.status != 200) {
		if (rc < 0)
			snprintf(c->err, sizeof c->err, "IMDS role name (%s): %s", host,
			         aws_conn_for(c, c->settings.imds_endpoint)->err);
		else if (resp.status == 404)
			snprintf(c->err, sizeof c->err, "IMDS (%s): no IAM role is attached to this instance", host);
		else
			snprintf(c->err, sizeof c->err, "IMDS role name (%s): HTTP %d", host, resp.status);
		return AWS_ECREDS;
	}
	/* The first line is the role (an instance profile holds one). */
	while (n < resp.body_len && resp.body[n] != '\n' && resp.body[n] != '\r')
		n++;
	if (aws_set_value(role, sizeof role, resp.body, n) != 0 || strchr(role, '/') || strchr(role, '?')
	    || strchr(role, '%')) {
		snprintf(c->err, sizeof c->err, "IMDS role name (%s): not a role name", host);
		return AWS_ECREDS;
	}
	snprintf(path, sizeof path, "%s%s", base, role);
	rc = imds_request(c, "GET", path, &resp);
	if (rc < 0) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): %s", host,
		         aws_conn_for(c, c->settings.imds_endpoint)->err);
		return AWS_ECREDS;
	}
	if (resp.status != 200) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): HTTP %d", host, resp.status);
		return AWS_ECREDS;
	}
	rc = aws_parse_credentials_json(resp.body, resp.body_len, out, perr, sizeof perr);
	wipe_body(&resp);
	if (rc != 0) {
		snprintf(c->err, sizeof c->err, "IMDS credentials (%s): %s", host, perr);
		return AWS_ECREDS;
	}
	return 0;
}

int aws_client_credentials(struct aws_client *c, const char *region, int refresh)
{
	struct aws_credentials *fresh;
	int rc;

	if (c->have_creds && !refresh)
		return 0;
	if (net_now_ms() >= c->deadline_ms) {
		snprintf(c->err, sizeof c->err, "no AWS credentials: the run deadline passed");
		return AWS_ECREDS;
	}
	/* Fetched aside and copied in, so a failed refresh never leaves half a credential in
	 * the buffers the log's redaction points at. */
	fresh = calloc(1, sizeof *fresh);
	if (!fresh) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return AWS_ECREDS;
	}
	switch (c->settings.source) {
	case AWS_SOURCE_ENV: {
		const char *token = aws_env("AWS_SESSION_TOKEN");
		aws_copy_str(fresh->access_key_id, sizeof fresh->access_key_id, aws_env("AWS_ACCESS_KEY_ID"));
		aws_copy_str(fresh->secret_access_key, sizeof fresh->secret_access_key, aws_env("AWS_SECRET_ACCESS_KEY"));
		if (token)
			aws_copy_str(fresh->session_token, sizeof fresh->session_token, token);
		rc = 0;
		break;
	}
	case AWS_SOURCE_WEB_IDENTITY:
		rc = fetch_web_identity(c, region, fresh);
		break;
	case AWS_SOURCE_CONTAINER:
		rc = fetch_container(c, fresh);
		break;
	case AWS_SOURCE_IMDS:
		rc = fetch_imds(c, fresh);
		break;
	default:
		snprintf(c->err, sizeof c->err, "no AWS credentials: env keys not set, no web identity, "
		         "no container credentials, IMDS disabled (AWS_EC2_METADATA_DISABLED=true)");
		rc = AWS_ECREDS;
	}
	if (rc == 0) {
		memcpy(&c->creds, fresh, sizeof *fresh);
		c->have_creds = 1;
		register_secret(c, REG_SECRET_KEY, c->creds.secret_access_key);
		register_secret(c, REG_SESSION_TOKEN, c->creds.session_token);
	}
	aws_credentials_wipe(fresh);
	free(fresh);
	return rc;
}

int aws_default_region(struct aws_client *c, char *out, size_t outlen)
{
	struct http_response resp;
	char host[HTTP_MAX_HOST + 1], region[AWS_MAX_REGION];
	size_t n;
	int rc;

	if (c->settings.region[0]) {
		snprintf(out, outlen, "%s", c->settings.region);
		return 0;
	}
	if (c->settings.imds_disabled) {
		snprintf(c->err, sizeof c->err, "no AWS region: set AWS_REGION or --registries "
		         "(IMDS is disabled)");
		return AWS_EREQUEST;
	}
	if (imds_token(c, "no AWS region: AWS_REGION and AWS_DEFAULT_REGION not set") != 0)
		return AWS_EREQUEST;
	imds_host(c, host, sizeof host);
	rc = imds_request(c, "GET", "/latest/meta-data/placement/region", &resp);
	if (rc < 0 || resp.status != 200) {
		snprintf(c->err, sizeof c->err, "no AWS region: IMDS placement/region (%s): %s", host,
		         rc < 0 ? aws_conn_for(c, c->settings.imds_endpoint)->err : "refused");
		return AWS_EREQUEST;
	}
	n = resp.body_len;
	while (n > 0 && (resp.body[n - 1] == '\n' || resp.body[n - 1] == '\r'))
		n--;
	if (aws_set_value(region, sizeof region, resp.body, n) != 0 || !aws_valid_region(region)) {
		snprintf(c->err, sizeof c->err, "no AWS region: IMDS (%s) answered no region name", host);
		return AWS_EREQUEST;
	}
	snprintf(out, outlen, "%s", region);
	return 0;
}

