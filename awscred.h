/*
 * awscred: the request plumbing the AWS client's rooms share (awscred.c fetches
 * credentials with it, aws.c makes signed calls with it). Not for other modules: their
 * face is aws.h.
 */
#ifndef AWSCRED_H
#define AWSCRED_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "http.h"

#define AWS_MAX_ATTEMPTS 5   /* botocore standard retry mode: 3; we allow 5 */

/* The deadline of one request: timeout_ms from now, never past the run's end. */
int64_t aws_request_deadline(const struct aws_client *client, int64_t timeout_ms);

/* Sleeps the backoff before retry `attempt` (1-based). Returns -1 at once when the run
 * deadline would pass first: then there is no point in trying again. */
int aws_backoff_sleep(struct aws_client *client, int attempt);

/* Transport failures worth another attempt: the peer or the path may recover. */
int aws_transport_retryable(int rc);

/* The connection for url: https endpoints (proxied) or plain-http metadata (never). */
struct http_conn *aws_conn_for(struct aws_client *client, const char *url);

/* "PREFIX: Type (HTTP 403): message" into out; the message is left out for errors about
 * signatures and tokens, whose AWS texts can quote the canonical request. */
void aws_describe_error(char *out, size_t cap, const char *prefix, const char *type, int status,
                        const char *message);

/* The warning line of a retried AWS request. */
void aws_log_retry(const char *operation, const char *region, const char *why, int attempt);

#endif
