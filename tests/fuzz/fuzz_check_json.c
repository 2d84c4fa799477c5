/*
 * fuzz_check_json: API server answers into every reader of checkjson.h, and STS answers
 * into aws_parse_caller_identity (check's two kinds of network input).
 *
 * The whole input goes, as it is, to check_parse_secret, check_parse_service_account,
 * check_parse_pod_page and aws_parse_caller_identity. Beyond the sanitizers it checks what
 * check.c prints and relies on: every copied field is terminated and free of control
 * characters, key and failing counts stay in their bounds, an identity is either whole
 * (Arn and Account) or empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "checkjson.h"

#include "printable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_secret(const char *text, size_t size)
{
	static struct check_secret s;
	char err[128];

	check_parse_secret(text, size, &s, err, sizeof err);
	check_printable(s.type, sizeof s.type);
	check_printable(s.manager, sizeof s.manager);
	check_printable(s.registries, sizeof s.registries);
	check_printable(s.expires_at, sizeof s.expires_at);
	if (s.key_count > CHECK_MAX_KEYS || (s.key_count && !s.data_ok))
		abort();
	for (size_t i = 0; i < s.key_count; i++)
		check_printable(s.keys[i], sizeof s.keys[i]);
}

static void check_pods(const char *text, size_t size)
{
	struct check_failing_list list = { 0 };
	char cont[64], err[128];
	int listed;

	if (check_parse_pod_page(text, size, "ecr-creds", &list, cont, sizeof cont, err, sizeof err) == 0)
		check_printable(cont, sizeof cont);
	if (list.count > CHECK_MAX_FAILING)
		abort();
	for (size_t i = 0; i < list.count; i++) {
		const struct check_failing *f = &list.items[i];
		check_printable(f->pod, sizeof f->pod);
		check_printable(f->container, sizeof f->container);
		check_printable(f->service_account, sizeof f->service_account);
		check_printable(f->image, sizeof f->image);
		if (strcmp(f->reason, "ErrImagePull") != 0 && strcmp(f->reason, "ImagePullBackOff") != 0)
			abort();
	}
	check_failing_list_free(&list);
	check_parse_service_account(text, size, "ecr-creds", &listed, err, sizeof err);
	if (listed != 0 && listed != 1)
		abort();
}

static void check_identity(const char *text, size_t size)
{
	static struct aws_identity id;
	char code[AWS_MAX_ERROR_TYPE], message[256], err[128];
	int rc = aws_parse_caller_identity(text, size, &id, code, sizeof code, message, sizeof message,
	                                   err, sizeof err);

	check_printable(id.arn, sizeof id.arn);
	check_printable(id.account, sizeof id.account);
	if ((rc == 0) != (id.arn[0] && id.account[0]))
		abort();
	if (rc == AWS_EREQUEST && !code[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check_secret(copy, size);
	check_pods(copy, size);
	check_identity(copy, size);
	free(copy);
	return 0;
}
