/*
 * aws: signed AWS JSON 1.1 calls; see aws.h. The client's state and its credentials are
 * awscred.c's.
 */
#include "aws.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "awscred.h"
#include "net.h"
#include "sigv4.h"

/* ---- signed JSON 1.1 calls -------------------------------------------------------------- */

/* One call's fixed parts, settled once for all its attempts. */
struct signed_call {
	const struct aws_json_call *call;
	struct aws_endpoint ep;
	struct http_url url;
	char prefix[160];                    /* "ECR GetAuthorizationToken in eu-west-1" */
	char host[HTTP_MAX_HOST + 16];       /* the Host field http sends, which is signed */
	int refreshed;                       /* the credentials were fetched again once */
	char why[AWS_MAX_ERROR_TYPE];        /* what the last attempt failed with, for the log */
};

/* Where a call stands after an attempt. */
enum step {
	STEP_DONE,      /* a 2xx answer */
	STEP_FAILED,    /* *rc says why, c->err too */
	STEP_AGAIN,     /* at once: the credentials were fetched again */
	STEP_BACKOFF,   /* after the backoff, if attempts and time are left */
};

/* The endpoint, its URL and Host, and the message prefix. Returns 0 or AWS_ECONFIG. */
static int settle_call(struct aws_client *c, const struct aws_json_call *call, struct signed_call *sc)
{
	const char *service = call->service == AWS_SERVICE_ECR ? "ECR" : "STS";
	char uerr[160];

	memset(sc, 0, sizeof *sc);
	sc->call = call;
	if (aws_endpoint_for(&c->settings, call->service, call->region, &sc->ep, c->err, sizeof c->err) != 0)
		return AWS_ECONFIG;
	if (http_parse_url(sc->ep.url, &sc->url, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "%s endpoint %.300s: %s", service, sc->ep.url, uerr);
		return AWS_ECONFIG;
	}
	http_host_value(&sc->url, sc->host, sizeof sc->host);
	snprintf(sc->prefix, sizeof sc->prefix, "%s %s in %s", service, call->operation, call->region);
	return 0;
}

/* The fields sent, every one signed (docs/design.md "ECR GetAuthorizationToken", "SigV4");
 * Host first: http adds it, so it is signed but not in the list http gets. */
static size_t signed_fields(const struct aws_client *c, const struct signed_call *sc, const char *amz_date,
                            struct sigv4_header fields[5])
{
	const char *type = sc->call->content_type ? sc->call->content_type : "application/x-amz-json-1.1";
	size_t n = 0;

	fields[n++] = (struct sigv4_header){ "Host", sc->host };
	fields[n++] = (struct sigv4_header){ "Content-Type", type };
	fields[n++] = (struct sigv4_header){ "X-Amz-Date", amz_date };
	if (sc->call->target)
		fields[n++] = (struct sigv4_header){ "X-Amz-Target", sc->call->target };
	/* Temporary credentials: the token is sent and signed (docs/design.md "SigV4"). */
	if (c->creds.session_token[0])
		fields[n++] = (struct sigv4_header){ "X-Amz-Security-Token", c->creds.session_token };
	return n;
}

/* The Authorization value for fields and the body under the client's credentials. */
static int sign(const struct aws_client *c, const struct signed_call *sc, const struct sigv4_header *fields,
                size_t n, const char *amz_date, char *out, size_t cap)
{
	struct sigv4_request sreq;
	struct sigv4_key key = { c->creds.access_key_id, c->creds.secret_access_key };
	struct sigv4_scope scope;

	memset(&sreq, 0, sizeof sreq);
	sreq.method = "POST";
	sreq.path = sc->url.path;
	sreq.headers = fields;
	sreq.header_count = n;
	sreq.body = sc->call->body;
	sreq.body_len = strlen(sc->call->body);
	memset(&scope, 0, sizeof scope);
	scope.amz_date = amz_date;
	scope.region = sc->ep.signing_region;
	scope.service = sc->ep.signing_name;
	scope.normalize_path = 1;
	return sigv4_authorization(&sreq, &key, &scope, out, cap) < 0 ? -1 : 0;
}

/* Signs and sends one attempt. Returns 0 with *sent what http_request returned (and resp
 * on 0), or -1 with c->err when it could not be signed or the run deadline passed. */
static int send_signed(struct aws_client *c, const struct signed_call *sc, struct http_response *resp, int *sent)
{
	struct sigv4_header fields[5];
	struct http_header headers[5];
	struct http_request req;
	char amz_date[17], authorization[512];
	size_t n, i;

	sigv4_amz_date((long long)time(NULL), amz_date);
	n = signed_fields(c, sc, amz_date, fields);
	if (sign(c, sc, fields, n, amz_date, authorization, sizeof authorization) < 0) {
		snprintf(c->err, sizeof c->err, "%s: the request could not be signed", sc->prefix);
		return -1;
	}
	for (i = 1; i < n; i++)
		headers[i - 1] = (struct http_header){ fields[i].name, strlen(fields[i].name),
		                                       fields[i].value, strlen(fields[i].value) };
	headers[n - 1] = (struct http_header){ "Authorization", 13, authorization, strlen(authorization) };
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = sc->ep.url;
	req.headers = headers;
	req.header_count = n;
	req.body = sc->call->body;
	req.body_len = strlen(sc->call->body);
	req.anchors = c->anchors;
	req.deadline_ms = aws_request_deadline(c, c->timeout_ms);
	req.max_body = AWS_MAX_BODY;
	if (req.deadline_ms <= net_now_ms()) {
		snprintf(c->err, sizeof c->err, "%s: the run deadline passed", sc->prefix);
		return -1;
	}
	*sent = http_request(aws_conn_for(c, sc->ep.url), &req, resp);
	return 0;
}

/* An error answer: fetch the credentials again once when they are what AWS refused (env
 * keys cannot change by asking again), back off when the SDKs retry it, else fail. */
static enum step after_error_answer(struct aws_client *c, struct signed_call *sc, const struct http_response *resp,
                                    int attempt, int *rc)
{
	const struct http_header *type_header = http_find_header(resp, "X-Amzn-ErrorType");
	char type[AWS_MAX_ERROR_TYPE], message[256];

	if (sc->call->content_type)
		aws_parse_query_error(resp->body, resp->body_len, type, sizeof type, message, sizeof message);
	else
		aws_parse_error_json(resp->body, resp->body_len, type_header ? type_header->value : NULL,
		                     type_header ? type_header->value_len : 0, type, sizeof type, message,
		                     sizeof message);
	aws_describe_error(c->err, sizeof c->err, sc->prefix, type, resp->status, message);
	snprintf(sc->why, sizeof sc->why, "%s", type[0] ? type : "HTTP error");
	if (aws_credential_error(type) && !sc->refreshed && c->settings.source != AWS_SOURCE_ENV
	    && attempt < AWS_MAX_ATTEMPTS) {
		sc->refreshed = 1;
		aws_log_retry(sc->call->operation, sc->call->region, type, attempt);
		*rc = aws_client_credentials(c, sc->call->region, 1);
		return *rc != 0 ? STEP_FAILED : STEP_AGAIN;
	}
	*rc = AWS_EREQUEST;
	return aws_retryable_error(type, resp->status) ? STEP_BACKOFF : STEP_FAILED;
}

/* One attempt: credentials, the signed request, what its outcome means. */
static enum step attempt_call(struct aws_client *c, struct signed_call *sc, int attempt, const char **body,
                              size_t *body_len, int *rc)
{
	struct http_response resp;
	int sent;

	if ((*rc = aws_client_credentials(c, sc->call->region, 0)) != 0)
		return STEP_FAILED;
	*rc = AWS_EREQUEST;
	if (send_signed(c, sc, &resp, &sent) < 0)
		return STEP_FAILED;
	if (sent < 0) {
		snprintf(c->err, sizeof c->err, "%s: %s", sc->prefix, aws_conn_for(c, sc->ep.url)->err);
		snprintf(sc->why, sizeof sc->why, "transport");
		return aws_transport_retryable(sent) ? STEP_BACKOFF : STEP_FAILED;
	}
	if (resp.status / 100 != 2)
		return after_error_answer(c, sc, &resp, attempt, rc);
	*body = resp.body;
	*body_len = resp.body_len;
	*rc = 0;
	return STEP_DONE;
}

int aws_json_call(struct aws_client *c, const struct aws_json_call *call, const char **body,
                  size_t *body_len)
{
	struct signed_call sc;
	int attempt, rc;

	if ((rc = settle_call(c, call, &sc)) != 0)
		return rc;
	for (attempt = 1;; attempt++) {
		enum step step = attempt_call(c, &sc, attempt, body, body_len, &rc);

		if (step == STEP_DONE || step == STEP_FAILED)
			return rc;
		if (step == STEP_AGAIN)
			continue;
		if (attempt >= AWS_MAX_ATTEMPTS || aws_backoff_sleep(c, attempt) != 0)
			return AWS_EREQUEST;
		aws_log_retry(call->operation, call->region, sc.why, attempt);
	}
}
