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

int aws_json_call(struct aws_client *c, const struct aws_json_call *call, const char **body,
                  size_t *body_len)
{
	struct aws_endpoint ep;
	struct http_url url;
	char prefix[160], host[HTTP_MAX_HOST + 16], amz_date[17], authorization[512], uerr[160];
	char type[AWS_MAX_ERROR_TYPE], message[256];
	const char *service = call->service == AWS_SERVICE_ECR ? "ECR" : "STS";
	int attempt, refreshed = 0, rc;

	if (aws_endpoint_for(&c->settings, call->service, call->region, &ep, c->err, sizeof c->err) != 0)
		return AWS_ECONFIG;
	if (http_parse_url(ep.url, &url, uerr, sizeof uerr) != 0) {
		snprintf(c->err, sizeof c->err, "%s endpoint %.300s: %s", service, ep.url, uerr);
		return AWS_ECONFIG;
	}
	http_host_value(&url, host, sizeof host);
	snprintf(prefix, sizeof prefix, "%s %s in %s", service, call->operation, call->region);

	for (attempt = 1;; attempt++) {
		struct sigv4_header fields[5];
		struct http_header headers[5];
		struct sigv4_request sreq;
		struct sigv4_key key;
		struct sigv4_scope scope;
		struct http_request req;
		struct http_response resp;
		const struct http_header *type_header;
		size_t n = 0, i;
		const char *why;

		if ((rc = aws_client_credentials(c, call->region, 0)) != 0)
			return rc;
		sigv4_amz_date((long long)time(NULL), amz_date);
		/* Every field sent is signed (docs/design.md "ECR GetAuthorizationToken",
		 * "SigV4"); Host is added by http, so it is signed but not in the list http gets. */
		fields[n++] = (struct sigv4_header){ "Host", host };
		fields[n++] = (struct sigv4_header){ "Content-Type", "application/x-amz-json-1.1" };
		fields[n++] = (struct sigv4_header){ "X-Amz-Date", amz_date };
		fields[n++] = (struct sigv4_header){ "X-Amz-Target", call->target };
		/* Temporary credentials: the token is sent and signed (docs/design.md "SigV4"). */
		if (c->creds.session_token[0])
			fields[n++] = (struct sigv4_header){ "X-Amz-Security-Token", c->creds.session_token };
		memset(&sreq, 0, sizeof sreq);
		sreq.method = "POST";
		sreq.path = url.path;
		sreq.headers = fields;
		sreq.header_count = n;
		sreq.body = call->body;
		sreq.body_len = strlen(call->body);
		key.access_key_id = c->creds.access_key_id;
		key.secret_access_key = c->creds.secret_access_key;
		scope.amz_date = amz_date;
		scope.region = ep.signing_region;
		scope.service = ep.signing_name;
		scope.normalize_path = 1;
		if (sigv4_authorization(&sreq, &key, &scope, authorization, sizeof authorization) < 0) {
			snprintf(c->err, sizeof c->err, "%s: the request could not be signed", prefix);
			return AWS_EREQUEST;
		}
		for (i = 1; i < n; i++)
			headers[i - 1] = (struct http_header){ fields[i].name, strlen(fields[i].name),
			                                       fields[i].value, strlen(fields[i].value) };
		headers[n - 1] = (struct http_header){ "Authorization", 13, authorization, strlen(authorization) };

		memset(&req, 0, sizeof req);
		req.method = "POST";
		req.url = ep.url;
		req.headers = headers;
		req.header_count = n;
		req.body = call->body;
		req.body_len = sreq.body_len;
		req.anchors = c->anchors;
		req.deadline_ms = aws_request_deadline(c, c->timeout_ms);
		req.max_body = AWS_MAX_BODY;
		if (req.deadline_ms <= net_now_ms()) {
			snprintf(c->err, sizeof c->err, "%s: the run deadline passed", prefix);
			return AWS_EREQUEST;
		}
		rc = http_request(aws_conn_for(c, ep.url), &req, &resp);
		if (rc < 0) {
			snprintf(c->err, sizeof c->err, "%s: %s", prefix, aws_conn_for(c, ep.url)->err);
			why = "transport";
			if (!aws_transport_retryable(rc))
				return AWS_EREQUEST;
		} else if (resp.status / 100 == 2) {
			*body = resp.body;
			*body_len = resp.body_len;
			return 0;
		} else {
			type_header = http_find_header(&resp, "X-Amzn-ErrorType");
			aws_parse_error_json(resp.body, resp.body_len, type_header ? type_header->value : NULL,
			                     type_header ? type_header->value_len : 0, type, sizeof type,
			                     message, sizeof message);
			aws_describe_error(c->err, sizeof c->err, prefix, type, resp.status, message);
			why = type[0] ? type : "HTTP error";
			/* Env keys cannot change by asking again, so only fetched credentials are
			 * refreshed; once. */
			if (aws_credential_error(type) && !refreshed && c->settings.source != AWS_SOURCE_ENV
			    && attempt < AWS_MAX_ATTEMPTS) {
				refreshed = 1;
				aws_log_retry(call->operation, call->region, type, attempt);
				if ((rc = aws_client_credentials(c, call->region, 1)) != 0)
					return rc;
				continue;
			}
			if (!aws_retryable_error(type, resp.status))
				return AWS_EREQUEST;
		}
		if (attempt >= AWS_MAX_ATTEMPTS || aws_backoff_sleep(c, attempt) != 0)
			return AWS_EREQUEST;
		aws_log_retry(call->operation, call->region, why, attempt);
	}
}

