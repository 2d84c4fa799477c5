/*
 * awsvars.h: the AWS variables the aws unit tests set, cleared and set in one call.
 */
#ifndef AWSVARS_H
#define AWSVARS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const aws_vars[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_STS_REGIONAL_ENDPOINTS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_STS",
	"AWS_CA_BUNDLE", "SSL_CERT_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_EC2_METADATA_DISABLED",
};

/* Clears every variable aws reads, then sets "NAME=value" items separated by '|'. */
static void set_env(const char *spec)
{
	char buf[1024], *item, *save = NULL;
	size_t i;

	for (i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
		unsetenv(aws_vars[i]);
	snprintf(buf, sizeof buf, "%s", spec);
	for (item = strtok_r(buf, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
		char *eq = strchr(item, '=');
		*eq = '\0';
		setenv(item, eq + 1, 1);
	}
}

#endif
