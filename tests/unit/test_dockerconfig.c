/*
 * dockerconfig: the static files' reader (the kubelet's rules for auth vs username and
 * password), its refusals, every truncation, the key normalisation and the clash checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockerconfig.h"
#include "log.h"
#include "unit.h"

static void release(struct secret_entries *list)
{
	log_forget_secrets();
	secret_entries_free(list);
}

static int parse(const char *text, struct secret_entries *out, char *err, size_t errlen)
{
	return dockerconfig_parse(text, strlen(text), "f.json", out, err, errlen);
}

static int parse_named(const char *text, const char *name, struct secret_entries *out, char *err, size_t errlen)
{
	return dockerconfig_parse(text, strlen(text), name, out, err, errlen);
}

static void test_valid(void)
{
	struct secret_entries out = { 0 };
	char err[300];

	/* kubectl create secret docker-registry: username, password and auth, keys as written. */
	CHECK_EQ_INT(parse("{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"bob\",\"password\":\"dckr_pat_x\","
	                   "\"email\":\"b@x\",\"auth\":\"Ym9iOmRja3JfcGF0X3g=\"},"
	                   /* auth alone, unpadded, with a ':' in the password */
	                   "\"registry.example:5000\":{\"auth\":\"YWxpY2U6czM6Y3IzdA\"},"
	                   /* username and password alone: auth made from them */
	                   "\"quay.io\":{\"username\":\"carol\",\"password\":\"pw\"}}}", &out, err, sizeof err), 0);
	CHECK_EQ_INT(out.count, 3);
	CHECK_EQ_STR(out.items[0].key, "https://index.docker.io/v1/");
	CHECK_EQ_STR(out.items[0].username, "bob");
	CHECK_EQ_STR(out.items[0].password, "dckr_pat_x");
	CHECK_EQ_STR(out.items[0].auth, "Ym9iOmRja3JfcGF0X3g=");
	CHECK_EQ_STR(out.items[0].source, "f.json");
	CHECK(out.items[0].expires_at == 0);
	CHECK_EQ_STR(out.items[1].username, "alice");
	CHECK_EQ_STR(out.items[1].password, "s3:cr3t");
	CHECK_EQ_STR(out.items[1].auth, "YWxpY2U6czM6Y3IzdA==");
	CHECK_EQ_STR(out.items[2].auth, "Y2Fyb2w6cHc=");
	/* auth wins over username and password, as in the kubelet. */
	CHECK_EQ_INT(parse("{\"auths\":{\"r.example\":{\"username\":\"x\",\"password\":\"y\",\"auth\":\"dTpw\"}}}",
	                   &out, err, sizeof err), 0);
	CHECK_EQ_STR(out.items[3].username, "u");
	CHECK_EQ_STR(out.items[3].password, "p");
	{
		char *json = secret_dockerconfigjson(&out);
		CHECK(json && strstr(json, "\"https://index.docker.io/v1/\":{\"username\":\"bob\",\"password\":\"dckr_pat_x\","
		                           "\"auth\":\"Ym9iOmRja3JfcGF0X3g=\"}"));
		CHECK(json && !strstr(json, "email"));
		free(json);
	}
	release(&out);
}

static void test_refused(void)
{
	static const struct { const char *text, *says; } bad[] = {
		{ "", "not JSON" }, { "{", "not JSON" }, { "[]", "no \"auths\"" }, { "{\"auths\":[]}", "no \"auths\"" },
		{ "{\"r\":{\"auth\":\"dTpw\"}}", "no \"auths\"" },   /* the legacy .dockercfg shape */
		{ "{\"auths\":{}}", "empty" },
		{ "{\"auths\":{\"r\":{}}}", "credential helpers" },
		{ "{\"auths\":{\"r\":{\"username\":\"u\"}}}", "credential helpers" },
		{ "{\"auths\":{\"r\":\"dTpw\"}}", "not an object" },
		{ "{\"auths\":{\"r\":{\"auth\":\"!!!!\"}}}", "not base64" },
		{ "{\"auths\":{\"r\":{\"auth\":\"dXNlcg==\"}}}", "not base64 of USER:PASSWORD" },   /* "user" */
		{ "{\"auths\":{\"r\":{\"auth\":\"OnA=\"}}}", "USER:PASSWORD" },                       /* ":p" */
		{ "{\"auths\":{\"r\":{\"auth\":\"dTpwCg==\"}}}", "control" },                         /* "u:p\n" */
		{ "{\"auths\":{\"r\":{\"username\":\"u:v\",\"password\":\"p\"}}}", "':'" },
		{ "{\"auths\":{\"r\":{\"username\":\"u\",\"password\":\"p\\u0007\"}}}", "control" },
		{ "{\"auths\":{\"\":{\"auth\":\"dTpw\"}}}", "key" },
		{ "{\"auths\":{\"a b\":{\"auth\":\"dTpw\"}}}", "key" },
	};
	struct secret_entries out = { 0 };
	char err[300];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(parse(bad[i].text, &out, err, sizeof err), -1);
		if (!strstr(err, bad[i].says) || strncmp(err, "f.json: ", 8) != 0)
			fprintf(stderr, "case %zu: %s\n", i, err);
		CHECK(strstr(err, bad[i].says) != NULL && strncmp(err, "f.json: ", 8) == 0);
		CHECK_EQ_INT(out.count, 0);
	}
	/* Never a password in a message. */
	CHECK_EQ_INT(parse("{\"auths\":{\"r\":{\"username\":\"u\",\"password\":\"hunter2\\u0001\"}}}", &out, err, sizeof err), -1);
	CHECK(strstr(err, "hunter2") == NULL);
	{
		/* More entries than allowed, and a key longer than allowed. */
		size_t cap = 64 * (DOCKERCONFIG_MAX_ENTRIES + 2) + 2 * DOCKERCONFIG_MAX_KEY, n;
		char *text = malloc(cap);
		n = (size_t)sprintf(text, "{\"auths\":{");
		for (i = 0; i <= DOCKERCONFIG_MAX_ENTRIES; i++)
			n += (size_t)sprintf(text + n, "%s\"r%zu.example\":{\"auth\":\"dTpw\"}", i ? "," : "", i);
		strcpy(text + n, "}}");
		CHECK_EQ_INT(parse(text, &out, err, sizeof err), -1);
		CHECK(strstr(err, "more than") != NULL);
		release(&out);
		n = (size_t)sprintf(text, "{\"auths\":{\"");
		memset(text + n, 'a', DOCKERCONFIG_MAX_KEY + 1);
		strcpy(text + n + DOCKERCONFIG_MAX_KEY + 1, "\":{\"auth\":\"dTpw\"}}}");
		CHECK_EQ_INT(parse(text, &out, err, sizeof err), -1);
		release(&out);
		free(text);
	}
}

/* Every proper prefix of a good file is refused (no crash, nothing left behind). */
static void test_truncations(void)
{
	static const char text[] = "{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"bob\","
	                           "\"password\":\"dckr_pat_x\",\"auth\":\"Ym9iOmRja3JfcGF0X3g=\"}}}";
	struct secret_entries out = { 0 };
	char err[300];
	size_t cut;
	int refused = 0;

	for (cut = 0; cut < sizeof text - 1; cut++) {
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, text, cut);
		refused += dockerconfig_parse(copy, cut, "f", &out, err, sizeof err) == -1;
		free(copy);
		release(&out);
	}
	CHECK_EQ_INT(refused, sizeof text - 1);
}

static void test_keys(void)
{
	static const struct { const char *key, *host, *identity; } rows[] = {
		{ "https://index.docker.io/v1/", "index.docker.io", "index.docker.io" },
		{ "index.docker.io", "index.docker.io", "index.docker.io" },
		{ "HTTPS://Registry.Example:5000/v2/", "registry.example", "registry.example:5000" },
		{ "registry.example/team/app", "registry.example", "registry.example/team/app" },
		{ "http://r.example/", "r.example", "r.example" },
	};
	char out[600];
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_EQ_INT(dockerconfig_key_host(rows[i].key, out, sizeof out), 0);
		CHECK_EQ_STR(out, rows[i].host);
		CHECK_EQ_INT(dockerconfig_key_identity(rows[i].key, out, sizeof out), 0);
		CHECK_EQ_STR(out, rows[i].identity);
	}
	CHECK_EQ_INT(dockerconfig_key_host("https:///v1/", out, sizeof out), -1);
	CHECK_EQ_INT(dockerconfig_key_host("registry.example", out, 5), -1);
}

static void test_clashes(void)
{
	struct secret_entries out = { 0 };
	const char *const hosts[] = { "123456789012.dkr.ecr.us-east-1.amazonaws.com", "public.ecr.aws", "gcr.io" };
	char err[400];

	CHECK_EQ_INT(parse_named("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\"},"
	                                "\"r.example/a\":{\"auth\":\"dTpw\"},\"r.example/b\":{\"auth\":\"dTpw\"}}}", "hub.json", &out, err, sizeof err), 0);
	CHECK_EQ_INT(dockerconfig_check(&out, hosts, 3, err, sizeof err), 0);
	/* The same registry in a second file, written another way. */
	CHECK_EQ_INT(parse_named("{\"auths\":{\"index.docker.io\":{\"auth\":\"dTpw\"}}}", "other.json",
	                                &out, err, sizeof err), 0);
	CHECK_EQ_INT(dockerconfig_check(&out, hosts, 3, err, sizeof err), -1);
	CHECK(strstr(err, "other.json") && strstr(err, "hub.json") && strstr(err, "same registry"));
	release(&out);
	/* A host a token source also produces. */
	CHECK_EQ_INT(parse_named("{\"auths\":{\"https://GCR.io\":{\"auth\":\"dTpw\"}}}", "g.json",
	                                &out, err, sizeof err), 0);
	CHECK_EQ_INT(dockerconfig_check(&out, hosts, 3, err, sizeof err), -1);
	CHECK(strstr(err, "g.json") && strstr(err, "gcr.io") && strstr(err, "also fetches"));
	CHECK_EQ_INT(dockerconfig_check(&out, hosts, 2, err, sizeof err), 0);
	release(&out);
}

static void test_files(void)
{
	struct secret_entries out = { 0 };
	char err[400], path[] = "/tmp/test_dockerconfig_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	long i;

	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"auths\":{\"r.example\":{\"auth\":\"dTpw\"}}}", f);
	fflush(f);
	CHECK_EQ_INT(dockerconfig_read_file(path, &out, err, sizeof err), 0);
	CHECK_EQ_INT(out.count, 1);
	CHECK_EQ_STR(out.items[0].source, path);
	release(&out);
	/* Larger than a Secret can be: refused, naming the file. */
	for (i = 0; i < DOCKERCONFIG_MAX_FILE / 8 + 1; i++)
		fputs("        ", f);
	fclose(f);
	CHECK_EQ_INT(dockerconfig_read_file(path, &out, err, sizeof err), -1);
	CHECK(strstr(err, path) && strstr(err, "larger than"));
	unlink(path);
	CHECK_EQ_INT(dockerconfig_read_file(path, &out, err, sizeof err), -1);
	CHECK(strstr(err, path) && strstr(err, "No such file"));
	CHECK_EQ_INT(dockerconfig_read_file("/tmp", &out, err, sizeof err), -1);
	CHECK(strstr(err, "not a regular file") != NULL);
	CHECK_EQ_INT(out.count, 0);
}

int main(void)
{
	test_valid();
	test_refused();
	test_truncations();
	test_keys();
	test_clashes();
	test_files();
	return UNIT_DONE();
}
