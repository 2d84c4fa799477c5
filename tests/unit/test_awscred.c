/* awscred: the client without a network: what init refuses, and the no-credentials messages
 * when IMDS does not answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws.h"
#include "awsvars.h"
#include "log.h"
#include "net.h"
#include "unit.h"

static void test_client_no_network(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	char err[400] = "";

	set_env("AWS_EC2_METADATA_DISABLED=true");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, "us-east-1", 0), AWS_ECREDS);
	CHECK_EQ_STR(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	             "credentials, IMDS disabled (AWS_EC2_METADATA_DISABLED=true)");
	CHECK_EQ_STR(aws_source_name(c->settings.source), "none");
	aws_client_free(c);

	set_env("AWS_ACCESS_KEY_ID=AKIAEXAMPLE|AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI|AWS_SESSION_TOKEN=tokenvalue");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), 0);
	CHECK_EQ_STR(c->creds.access_key_id, "AKIAEXAMPLE");
	CHECK_EQ_STR(c->creds.secret_access_key, "wJalrXUtnFEMI");
	CHECK_EQ_STR(c->creds.session_token, "tokenvalue");
	CHECK_EQ_STR(aws_source_name(c->settings.source), "env");
	log_forget_secrets();
	aws_client_free(c);
	CHECK_EQ_STR(c->creds.secret_access_key, "");

	/* The token file is read before anything is sent: a missing one fails at once. */
	set_env("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r|AWS_WEB_IDENTITY_TOKEN_FILE=/nonexistent/token"
	        "|AWS_ENDPOINT_URL_STS=https://127.0.0.1:1");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, "us-east-1", 0), AWS_ECREDS);
	CHECK_EQ_STR(c->err, "AWS_WEB_IDENTITY_TOKEN_FILE /nonexistent/token: No such file or directory");
	aws_client_free(c);

	set_env("AWS_CA_BUNDLE=/nonexistent/ca.pem");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_STR(err, "AWS_CA_BUNDLE /nonexistent/ca.pem: No such file or directory");
	aws_client_free(c);

	/* Files that are no small regular file are refused by init, before any request. */
	set_env("AWS_CA_BUNDLE=/dev/zero");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_STR(err, "AWS_CA_BUNDLE /dev/zero: not a regular file");
	aws_client_free(c);
	set_env("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/r|AWS_WEB_IDENTITY_TOKEN_FILE=/dev/zero");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_STR(err, "AWS_WEB_IDENTITY_TOKEN_FILE /dev/zero: not a regular file");
	aws_client_free(c);
	set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/creds"
	        "|AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), AWS_ECONFIG);
	CHECK_EQ_STR(err, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE /: not a regular file");
	aws_client_free(c);

	set_env("AWS_REGION=ap-south-1");
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	{
		char region[AWS_MAX_REGION];
		CHECK_EQ_INT(aws_default_region(c, region, sizeof region), 0);
		CHECK_EQ_STR(region, "ap-south-1");
	}
	aws_client_free(c);
	free(c);
}

/* IMDS that refuses or never answers: one attempt, one second, and a message that says so. */
static void test_client_imds_unreachable(void)
{
	struct aws_client *c = calloc(1, sizeof *c);
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;
	char spec[200], err[400];
	int64_t start;
	int fd;

	/* Refused: a port nobody listens on (bound, never listening). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	snprintf(spec, sizeof spec, "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d", ntohs(addr.sin_port));
	set_env(spec);
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), AWS_ECREDS);
	CHECK(strncmp(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	              "credentials, IMDS unreachable (127.0.0.1: ", 108) == 0);
	aws_client_free(c);

	/* Silent: listening, never answering. */
	CHECK_EQ_INT(listen(fd, 4), 0);
	CHECK_EQ_INT(aws_client_init(c, NULL, 10, net_deadline_in(60000), err, sizeof err), 0);
	start = net_now_ms();
	CHECK_EQ_INT(aws_client_credentials(c, NULL, 0), AWS_ECREDS);
	CHECK(net_now_ms() - start < 2500);
	CHECK_EQ_STR(c->err, "no AWS credentials: env keys not set, no web identity, no container "
	             "credentials, IMDS unreachable (127.0.0.1: timed out after 1s)");
	aws_client_free(c);
	close(fd);
	free(c);
}

int main(void)
{
	test_client_no_network();
	test_client_imds_unreachable();
	set_env("");
	return UNIT_DONE();
}
