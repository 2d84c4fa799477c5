/* secret: base64 vectors, the manifest's exact JSON, the JSON and YAML writers. */
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "unit.h"

static void check_base64(const char *in, const char *want)
{
	char *got = secret_base64(in, strlen(in));
	CHECK_EQ_STR(got, want);
	free(got);
}

static void test_base64(void)
{
	/* RFC 4648 section 10 test vectors. */
	check_base64("", "");
	check_base64("f", "Zg==");
	check_base64("fo", "Zm8=");
	check_base64("foo", "Zm9v");
	check_base64("foob", "Zm9vYg==");
	check_base64("fooba", "Zm9vYmE=");
	check_base64("foobar", "Zm9vYmFy");
	{
		const unsigned char bytes[] = { 0xfb, 0xff, 0xbf, 0x00 };
		char *got = secret_base64(bytes, sizeof bytes);
		CHECK_EQ_STR(got, "+/+/AA==");
		free(got);
	}
}

static const struct secret_spec spec = {
	.name = "ecr-creds",
	.namespace = "team-a",
	.dockerconfigjson = "{\"auths\":{}}",
	.registries = "123456789012.dkr.ecr.us-east-1.amazonaws.com,123456789012.dkr.ecr.eu-west-1.amazonaws.com",
	.expires_at = "2026-11-29T22:00:00Z",
};

static void test_manifest_json(void)
{
	cJSON *doc = secret_manifest(&spec);
	char *compact, *pretty;

	CHECK(doc != NULL);
	compact = secret_print_json(doc, 0);
	CHECK_EQ_STR(compact,
		"{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"ecr-creds\","
		"\"namespace\":\"team-a\",\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"},"
		"\"annotations\":{\"ecr-refresh.io/registries\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com,"
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com\",\"ecr-refresh.io/expires-at\":"
		"\"2026-11-29T22:00:00Z\"}},\"type\":\"kubernetes.io/dockerconfigjson\","
		"\"data\":{\".dockerconfigjson\":\"eyJhdXRocyI6e319\"}}");
	pretty = secret_print_json(doc, 1);
	CHECK_EQ_STR(pretty,
		"{\n"
		"  \"apiVersion\": \"v1\",\n"
		"  \"kind\": \"Secret\",\n"
		"  \"metadata\": {\n"
		"    \"name\": \"ecr-creds\",\n"
		"    \"namespace\": \"team-a\",\n"
		"    \"labels\": {\n"
		"      \"app.kubernetes.io/managed-by\": \"ecr-refresh\"\n"
		"    },\n"
		"    \"annotations\": {\n"
		"      \"ecr-refresh.io/registries\": \"123456789012.dkr.ecr.us-east-1.amazonaws.com,"
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com\",\n"
		"      \"ecr-refresh.io/expires-at\": \"2026-11-29T22:00:00Z\"\n"
		"    }\n"
		"  },\n"
		"  \"type\": \"kubernetes.io/dockerconfigjson\",\n"
		"  \"data\": {\n"
		"    \".dockerconfigjson\": \"eyJhdXRocyI6e319\"\n"
		"  }\n"
		"}\n");
	/* What we print, cJSON reads back to the same tree. */
	{
		cJSON *back = cJSON_Parse(compact);
		CHECK(cJSON_Compare(doc, back, 1));
		cJSON_Delete(back);
	}
	free(compact);
	free(pretty);
	secret_wipe_tree(doc);
	CHECK_EQ_STR(cJSON_GetObjectItem(doc, "kind")->valuestring, "");
	cJSON_Delete(doc);
}

static void test_manifest_yaml(void)
{
	cJSON *doc = secret_manifest(&spec);
	char *yaml = NULL;

	CHECK_EQ_INT(secret_write_yaml(doc, &yaml), 0);
	CHECK_EQ_STR(yaml,
		"apiVersion: \"v1\"\n"
		"kind: \"Secret\"\n"
		"metadata:\n"
		"  name: \"ecr-creds\"\n"
		"  namespace: \"team-a\"\n"
		"  labels:\n"
		"    app.kubernetes.io/managed-by: \"ecr-refresh\"\n"
		"  annotations:\n"
		"    ecr-refresh.io/registries: \"123456789012.dkr.ecr.us-east-1.amazonaws.com,"
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com\"\n"
		"    ecr-refresh.io/expires-at: \"2026-11-29T22:00:00Z\"\n"
		"type: \"kubernetes.io/dockerconfigjson\"\n"
		"data:\n"
		"  .dockerconfigjson: \"eyJhdXRocyI6e319\"\n");
	free(yaml);
	cJSON_Delete(doc);
}

static void check_yaml(const char *json, const char *want)
{
	cJSON *doc = cJSON_Parse(json);
	char *yaml = NULL;

	CHECK(doc != NULL);
	CHECK_EQ_INT(secret_write_yaml(doc, &yaml), 0);
	CHECK_EQ_STR(yaml, want);
	free(yaml);
	cJSON_Delete(doc);
}

static void check_json(const char *json, int pretty, const char *want)
{
	cJSON *doc = cJSON_Parse(json);
	char *out;

	CHECK(doc != NULL);
	out = secret_print_json(doc, pretty);
	CHECK_EQ_STR(out, want);
	free(out);
	cJSON_Delete(doc);
}

static void test_yaml_shapes(void)
{
	check_yaml("{\"a\":1,\"b\":-2.5,\"c\":true,\"d\":false,\"e\":null,\"f\":{},\"g\":[]}",
	           "a: 1\nb: -2.5\nc: true\nd: false\ne: null\nf: {}\ng: []\n");
	/* A sequence sits at its key's indentation; a mapping in it starts on the dash line. */
	check_yaml("{\"items\":[{\"a\":\"x\",\"b\":\"y\"},\"s\",[1,2],[]]}",
	           "items:\n- a: \"x\"\n  b: \"y\"\n- \"s\"\n-\n  - 1\n  - 2\n- []\n");
	check_yaml("{\"o\":{\"p\":{\"q\":[{\"r\":{\"s\":1}}]}}}",
	           "o:\n  p:\n    q:\n    - r:\n        s: 1\n");
	/* Keys a YAML reader could take for something else are quoted. */
	check_yaml("{\"yes\":1,\"No\":2,\"null\":3,\"1e5\":4,\"-x\":5,\"a b\":6,\".inf\":7,\"\":8,\"ok-key_1.x/y\":9}",
	           "\"yes\": 1\n\"No\": 2\n\"null\": 3\n\"1e5\": 4\n\"-x\": 5\n\"a b\": 6\n\".inf\": 7\n"
	           "\"\": 8\nok-key_1.x/y: 9\n");
	/* JSON escapes are YAML double-quoted escapes; DEL is escaped too (YAML 1.2 5.1). */
	check_yaml("{\"s\":\"q\\\" b\\\\ n\\n t\\t c\\u0001 d\\u007f u\\u00e9\"}",
	           "s: \"q\\\" b\\\\ n\\n t\\t c\\u0001 d\\u007f u\xc3\xa9\"\n");
	check_yaml("[]", "[]\n");
	check_yaml("\"x\"", "\"x\"\n");
	check_yaml("[1,{\"a\":[]}]", "- 1\n- a: []\n");
}

static void test_json_shapes(void)
{
	check_json("{\"a\":[1,2,{\"b\":null}],\"c\":{},\"d\":[],\"e\":1700000000.125,\"f\":0.1}", 0,
	           "{\"a\":[1,2,{\"b\":null}],\"c\":{},\"d\":[],\"e\":1700000000.125,\"f\":0.1}");
	check_json("{\"a\":[1,{\"b\":true}],\"c\":{}}", 1,
	           "{\n  \"a\": [\n    1,\n    {\n      \"b\": true\n    }\n  ],\n  \"c\": {}\n}\n");
	check_json("{\"k\\\"\":\"\\b\\f\\r\\u001f/\"}", 0, "{\"k\\\"\":\"\\b\\f\\r\\u001f/\"}");
	check_json("[]", 1, "[]\n");
}

/* The run's apply body with a namespace spliced in is what the per-namespace manifest
 * printed: the same bytes on the wire for every namespace. */
static void test_apply_body(void)
{
	static const char *const names[] = { "team-a", "x", "a-very-long-namespace-name-0123456789-abcdefghij-klmnopqrstu",
	                                      "q\"b\\\n\x01\x7f" };
	struct secret_body body;
	char out[2048];

	CHECK_EQ_INT(secret_body_init(&body, &spec), 0);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct secret_spec one = spec;
		cJSON *doc;
		char *want;
		long n;

		one.namespace = names[i];
		doc = secret_manifest(&one);
		want = secret_print_json(doc, 0);
		CHECK(body.len + 6 * strlen(names[i]) + 1 <= sizeof out);
		n = secret_body_render(&body, names[i], out, body.len + 6 * strlen(names[i]) + 1);
		CHECK_EQ_INT(n, (long)strlen(want));
		CHECK_EQ_STR(out, want);
		/* one byte short of the NUL: refused and wiped */
		CHECK_EQ_INT(secret_body_render(&body, names[i], out, strlen(want)), -1);
		CHECK_EQ_INT(out[0], 0);
		free(want);
		secret_wipe_tree(doc);
		cJSON_Delete(doc);
	}
	secret_body_free(&body);
	CHECK(body.text == NULL);
	CHECK_EQ_INT(secret_body_render(&body, "x", out, sizeof out), -1);
	secret_body_free(&body);
}

static int digest_of(const char *const *hosts, size_t n, const char *statics, const char *const *accounts,
                     size_t accounts_n, char out[SECRET_DIGEST_SIZE])
{
	struct secret_digest_input in = { hosts, n, statics, accounts, accounts_n };

	return secret_config_digest(&in, out);
}

static void test_config_digest(void)
{
	static const char *const hosts[] = { "2.dkr.ecr.us-east-1.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com" };
	static const char *const twice[] = { "1.dkr.ecr.eu-west-1.amazonaws.com", "2.dkr.ecr.us-east-1.amazonaws.com",
	                                     "1.dkr.ecr.eu-west-1.amazonaws.com" };
	char digest[SECRET_DIGEST_SIZE], again[SECRET_DIGEST_SIZE];
	struct secret_spec with = spec;
	cJSON *doc;
	char *text;

	/* known answers: sha256 of "HOST\n" for each sorted host, a NUL, the static entries */
	CHECK_EQ_INT(digest_of(hosts, 2, NULL, NULL, 0, digest), 0);
	CHECK_EQ_STR(digest, "c6d48afb50b341e003dd5a0cbc9b38c4e336d9e04c48b126d027509cc64561e1");
	CHECK_EQ_INT(digest_of(twice, 3, "", NULL, 0, again), 0);
	CHECK_EQ_STR(again, digest);
	CHECK_EQ_INT(digest_of(NULL, 0, NULL, NULL, 0, digest), 0);
	CHECK_EQ_STR(digest, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	CHECK_EQ_INT(digest_of(hosts, 2, "{\"https://index.docker.io/v1/\":{\"auth\":\"x\"}}", NULL, 0, digest), 0);
	CHECK_EQ_STR(digest, "c6c07fed8ca6d5cf9cb505457203a21159378cabd14458e6ce88eec364aa0bf6");
	/* one host fewer is another digest */
	CHECK_EQ_INT(digest_of(hosts, 1, NULL, NULL, 0, again), 0);
	CHECK(strcmp(again, digest) != 0 && strlen(again) == 64);
	/* ServiceAccounts to patch: sha256 of the same, then a NUL and "NAME\n" each, sorted */
	{
		static const char *const accounts[] = { "default", "builder", "default" };
		static const char *const set[] = { "builder", "default" };
		char with_sa[SECRET_DIGEST_SIZE], same[SECRET_DIGEST_SIZE];

		CHECK_EQ_INT(digest_of(hosts, 2, NULL, accounts, 3, with_sa), 0);
		CHECK_EQ_STR(with_sa, "fadd148b4abb3ce2fc6ecbc17e122f7e448f60c1b9dbafc13fc144c0b837a552");
		CHECK_EQ_INT(digest_of(twice, 3, NULL, set, 2, same), 0);
		CHECK_EQ_STR(same, with_sa);     /* order and repeats do not matter */
		CHECK_EQ_INT(digest_of(hosts, 2, NULL, set, 1, same), 0);
		CHECK(strcmp(same, with_sa) != 0);
	}

	/* the annotation, after the other two */
	with.config_digest = digest;
	doc = secret_manifest(&with);
	text = secret_print_json(doc, 0);
	CHECK(text && strstr(text, "\"ecr-refresh.io/expires-at\":\"2026-11-29T22:00:00Z\",\"ecr-refresh.io/config-digest\":"
	                           "\"c6c07fed8ca6d5cf9cb505457203a21159378cabd14458e6ce88eec364aa0bf6\"}}") != NULL);
	free(text);
	cJSON_Delete(doc);
}

int main(void)
{
	test_config_digest();
	test_apply_body();
	test_base64();
	test_manifest_json();
	test_manifest_yaml();
	test_yaml_shapes();
	test_json_shapes();
	return UNIT_DONE();
}
