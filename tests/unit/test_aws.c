/* aws: the signed JSON call without an AWS to talk to: an endpoint that does not exist is
 * a configuration error, and one that refuses connections is retried within the deadline
 * and then named in the message with the operation and region. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws.h"
#include "awsvars.h"
#include "log.h"
#include "net.h"
#include "ports.h"
#include "unit.h"

static const struct aws_json_call token_call = {
	AWS_SERVICE_ECR, "us-east-1", "GetAuthorizationToken",
	"AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", "{}", NULL,
};

static void test_no_such_endpoint(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	struct aws_json_call call = token_call;
	const char *body = NULL;
	size_t len = 0;
	char err[400];

	/* the ISO partitions have no dual-stack endpoints */
	set_env("AWS_ACCESS_KEY_ID=AKIAEXAMPLE|AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI|AWS_USE_DUALSTACK_ENDPOINT=true");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	call.region = "us-iso-east-1";
	CHECK_EQ_INT(aws_json_call(c, &call, &body, &len), AWS_ECONFIG);
	CHECK(strstr(c->err, "has no dual-stack endpoints") != NULL);
	CHECK(body == NULL);
	log_forget_secrets();
	aws_client_free(c);
	free(c);
}

static void test_refused_until_deadline(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	const char *body = NULL;
	size_t len = 0;
	char spec[300], err[400], want[120];
	int64_t start;
	int fd;
	unsigned port = refusing_port(&fd);

	CHECK(port != 0);
	snprintf(spec, sizeof spec, "AWS_ACCESS_KEY_ID=AKIAEXAMPLE|AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI"
	         "|AWS_ENDPOINT_URL_ECR=https://127.0.0.1:%u", port);
	set_env(spec);
	start = net_now_ms();
	CHECK_EQ_INT(aws_client_init(c, NULL, 1, net_deadline_in(1500), err, sizeof err), 0);
	CHECK_EQ_INT(aws_json_call(c, &token_call, &body, &len), AWS_EREQUEST);
	snprintf(want, sizeof want, "ECR GetAuthorizationToken in us-east-1: ");
	CHECK(strncmp(c->err, want, strlen(want)) == 0);
	/* the backoff never sleeps past the run deadline */
	CHECK(net_now_ms() - start < 3000);
	CHECK(strstr(c->err, "wJalrXUtnFEMI") == NULL);
	close(fd);
	log_forget_secrets();
	aws_client_free(c);
	free(c);
}

int main(void)
{
	test_no_such_endpoint();
	test_refused_until_deadline();
	set_env("");
	return UNIT_DONE();
}
