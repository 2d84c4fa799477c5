/*
 * Unit tests of checkjson.h: the Secret (keys only), ServiceAccounts and pod pages as the
 * v1.20 API server sends them, and hostile variants.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "checkjson.h"
#include "unit.h"

#define S(lit) lit, sizeof(lit) - 1

/* {"auths":{"a.example":{"password":"pw-never-read"},"https://index.docker.io/v1/":{}}} */
static const char dockerconfig[] = "{\"auths\":{\"a.example\":{\"password\":\"pw-never-read\"},"
                                   "\"https://index.docker.io/v1/\":{}}}";

static int contains(const void *mem, size_t size, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= size; i++)
		if (memcmp((const char *)mem + i, needle, n) == 0)
			return 1;
	return 0;
}

static void secret_json(char *out, size_t size, const char *type, const char *payload_json)
{
	char b64[512];

	base64_encode(payload_json, strlen(payload_json), b64, sizeof b64);
	snprintf(out, size, "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ecr-creds\","
	         "\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"},\"annotations\":{"
	         "\"ecr-refresh.io/registries\":\"a.example\",\"ecr-refresh.io/expires-at\":\"2030-01-02T03:04:05Z\"}},"
	         "\"type\":\"%s\",\"data\":{\".dockerconfigjson\":\"%s\"}}", type, b64);
}

static void test_secret(void)
{
	struct check_secret s;
	char body[1024], err[128];

	secret_json(body, sizeof body, "kubernetes.io/dockerconfigjson", dockerconfig);
	CHECK_EQ_INT(check_parse_secret(body, strlen(body), &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.type, "kubernetes.io/dockerconfigjson");
	CHECK_EQ_STR(s.manager, "ecr-refresh");
	CHECK_EQ_STR(s.registries, "a.example");
	CHECK_EQ_STR(s.expires_at, "2030-01-02T03:04:05Z");
	CHECK_EQ_INT(s.expires, 1893553445LL);
	CHECK_EQ_INT(s.data_ok, 1);
	CHECK_EQ_INT(s.key_count, 2);
	CHECK_EQ_STR(s.keys[0], "a.example");
	CHECK_EQ_STR(s.keys[1], "https://index.docker.io/v1/");
	/* no value is ever copied out */
	CHECK(!contains(&s, sizeof s, "pw-never-read"));

	/* the wrong type: its data is not read */
	secret_json(body, sizeof body, "Opaque", dockerconfig);
	CHECK_EQ_INT(check_parse_secret(body, strlen(body), &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.type, "Opaque");
	CHECK_EQ_INT(s.data_ok, 0);
	CHECK_EQ_INT(s.key_count, 0);

	/* data that is not {"auths":{}} */
	secret_json(body, sizeof body, "kubernetes.io/dockerconfigjson", "{\"auths\":[]}");
	CHECK_EQ_INT(check_parse_secret(body, strlen(body), &s, err, sizeof err), 0);
	CHECK_EQ_INT(s.data_ok, 0);
	CHECK_EQ_INT(check_parse_secret(S("{\"kind\":\"Secret\",\"type\":\"kubernetes.io/dockerconfigjson\","
		"\"data\":{\".dockerconfigjson\":\"!!notbase64\"},\"metadata\":{\"annotations\":{"
		"\"ecr-refresh.io/expires-at\":\"tomorrow\"}}}"), &s, err, sizeof err), 0);
	CHECK_EQ_INT(s.data_ok, 0);
	CHECK_EQ_INT(s.expires, -1);
	CHECK_EQ_STR(s.expires_at, "tomorrow");

	/* not a Secret */
	CHECK_EQ_INT(check_parse_secret(S("{\"kind\":\"Status\"}"), &s, err, sizeof err), -1);
	CHECK_EQ_INT(check_parse_secret(S("[]"), &s, err, sizeof err), -1);
	CHECK_EQ_INT(check_parse_secret(S(""), &s, err, sizeof err), -1);
}

static void test_secret_many_keys(void)
{
	char json[8192], body[16384], err[128];
	struct check_secret s;
	size_t n = 0;

	n += (size_t)snprintf(json + n, sizeof json - n, "{\"auths\":{");
	for (int i = 0; i < CHECK_MAX_KEYS + 3; i++)
		n += (size_t)snprintf(json + n, sizeof json - n, "%s\"r%d.example\":{}", i ? "," : "", i);
	snprintf(json + n, sizeof json - n, ",\"a\\u0001b\":{}}}");
	{
		char b64[12000];
		base64_encode(json, strlen(json), b64, sizeof b64);
		snprintf(body, sizeof body, "{\"kind\":\"Secret\",\"type\":\"kubernetes.io/dockerconfigjson\","
		         "\"data\":{\".dockerconfigjson\":\"%s\"}}", b64);
	}
	CHECK_EQ_INT(check_parse_secret(body, strlen(body), &s, err, sizeof err), 0);
	CHECK_EQ_INT(s.key_count, CHECK_MAX_KEYS);
	CHECK_EQ_INT(s.keys_dropped, 4);
}

static void test_service_account(void)
{
	char err[128];
	int listed = -1;

	CHECK_EQ_INT(check_parse_service_account(S("{\"kind\":\"ServiceAccount\",\"imagePullSecrets\":"
		"[{\"name\":\"other\"},{\"name\":\"ecr-creds\"}]}"), "ecr-creds", &listed, err, sizeof err), 0);
	CHECK_EQ_INT(listed, 1);
	CHECK_EQ_INT(check_parse_service_account(S("{\"kind\":\"ServiceAccount\"}"), "ecr-creds", &listed, err,
		sizeof err), 0);
	CHECK_EQ_INT(listed, 0);
	CHECK_EQ_INT(check_parse_service_account(S("{\"imagePullSecrets\":{\"name\":\"ecr-creds\"}}"), "ecr-creds",
		&listed, err, sizeof err), 0);
	CHECK_EQ_INT(listed, 0);
	CHECK_EQ_INT(check_parse_service_account(S("nope"), "ecr-creds", &listed, err, sizeof err), -1);
}

static const char pod_page[] =
	"{\"kind\":\"PodList\",\"metadata\":{\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\"},\"items\":["
	/* waiting in ImagePullBackOff, references the Secret, its own ServiceAccount */
	"{\"metadata\":{\"name\":\"web\"},\"spec\":{\"serviceAccountName\":\"builder\",\"imagePullSecrets\":"
	"[{\"name\":\"ecr-creds\"}],\"containers\":[{\"name\":\"app\",\"image\":\"quay.io/a/b:1\"},"
	"{\"name\":\"side\",\"image\":\"nginx\"}]},\"status\":{\"containerStatuses\":["
	"{\"name\":\"app\",\"image\":\"quay.io/a/b:1\",\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}},"
	"{\"name\":\"side\",\"image\":\"nginx\",\"state\":{\"running\":{}}}]}},"
	/* an init container failing with ErrImagePull, no ServiceAccount named, no Secret */
	"{\"metadata\":{\"name\":\"job\"},\"spec\":{\"initContainers\":[{\"name\":\"init\",\"image\":\"x.io/i\"}],"
	"\"containers\":[{\"name\":\"main\",\"image\":\"x.io/m\"}]},\"status\":{\"initContainerStatuses\":["
	"{\"name\":\"init\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}],\"containerStatuses\":["
	"{\"name\":\"main\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}},"
	/* hostile: a control character in the name, statuses not a list */
	"{\"metadata\":{\"name\":\"evil\\u001b[31m\"},\"spec\":{},\"status\":{\"containerStatuses\":"
	"[{\"name\":\"c\",\"image\":\"i\\n\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}},"
	"{\"metadata\":{\"name\":\"odd\"},\"status\":{\"containerStatuses\":{\"name\":\"c\"}}}]}";

static void test_pod_page(void)
{
	struct check_failing_list list = { 0 };
	char cont[64], err[128];

	CHECK_EQ_INT(check_parse_pod_page(S(pod_page), "ecr-creds", &list, cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	CHECK_EQ_INT(list.count, 3);
	CHECK_EQ_STR(list.items[0].pod, "web");
	CHECK_EQ_STR(list.items[0].container, "app");
	CHECK_EQ_STR(list.items[0].service_account, "builder");
	CHECK_EQ_STR(list.items[0].image, "quay.io/a/b:1");
	CHECK_EQ_STR(list.items[0].reason, "ImagePullBackOff");
	CHECK_EQ_INT(list.items[0].pod_references_secret, 1);
	CHECK_EQ_STR(list.items[1].pod, "job");
	CHECK_EQ_STR(list.items[1].container, "init");
	CHECK_EQ_STR(list.items[1].image, "x.io/i");   /* from the spec: the status had none */
	CHECK_EQ_STR(list.items[1].service_account, "default");
	CHECK_EQ_INT(list.items[1].pod_references_secret, 0);
	CHECK_EQ_STR(list.items[2].pod, "evil?[31m");
	CHECK_EQ_STR(list.items[2].image, "i?");
	check_failing_list_free(&list);

	/* "items": null is an empty list; a continue token that does not fit is refused */
	CHECK_EQ_INT(check_parse_pod_page(S("{\"items\":null}"), "s", &list, cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_INT(list.count, 0);
	CHECK_EQ_INT(check_parse_pod_page(S("{\"items\":[],\"metadata\":{\"continue\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}"),
		"s", &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(check_parse_pod_page(S("{\"items\":{}}"), "s", &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(check_parse_pod_page(S("{"), "s", &list, cont, sizeof cont, err, sizeof err), -1);
	check_failing_list_free(&list);
}

static void test_failing_bound(void)
{
	struct check_failing_list list = { 0 };
	char cont[8], err[128];
	size_t size = 64 + (CHECK_MAX_FAILING + 5) * 160, n = 0;
	char *page = malloc(size);

	n += (size_t)snprintf(page + n, size - n, "{\"items\":[");
	for (int i = 0; i < CHECK_MAX_FAILING + 5; i++)
		n += (size_t)snprintf(page + n, size - n, "%s{\"metadata\":{\"name\":\"p%d\"},\"status\":{\"containerStatuses\":"
		                      "[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}}",
		                      i ? "," : "", i);
	snprintf(page + n, size - n, "]}");
	CHECK_EQ_INT(check_parse_pod_page(page, strlen(page), "s", &list, cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_INT(list.count, CHECK_MAX_FAILING);
	CHECK_EQ_INT(list.dropped, 5);
	check_failing_list_free(&list);
	free(page);
}

int main(void)
{
	test_secret();
	test_secret_many_keys();
	test_service_account();
	test_pod_page();
	test_failing_bound();
	return UNIT_DONE();
}
