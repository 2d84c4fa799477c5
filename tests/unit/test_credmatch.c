/*
 * Unit tests of credmatch.h: the kubelet's image to pull-Secret key matching.
 *
 * The tables marked "upstream" are the cases of kubernetes/kubernetes
 * pkg/credentialprovider/keyring_test.go (TestURLsMatch, TestDockerKeyringForGlob,
 * TestKeyringMiss, TestKeyringMissWithDockerHubCredentials,
 * TestKeyringHitWithUnqualifiedDockerHub, TestKeyringHitWithUnqualifiedLibraryDockerHub,
 * TestKeyringHitWithQualifiedDockerHub, TestIsDefaultRegistryMatch, TestDockerKeyringLookup,
 * TestIssue3797), written as rows with the same inputs and expected answers. The image
 * reference rows follow distribution/reference's normalize_test.go and reference_test.go.
 */
#include <string.h>

#include "credmatch.h"
#include "unit.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* upstream TestURLsMatch: glob key, target, match expected */
static const struct {
	const char *glob, *target;
	int match;
} urls_match[] = {
	/* match when there is no path component */
	{ "*.kubernetes.io", "prefix.kubernetes.io", 1 },
	{ "prefix.*.io", "prefix.kubernetes.io", 1 },
	{ "prefix.kubernetes.*", "prefix.kubernetes.io", 1 },
	{ "*-good.kubernetes.io", "prefix-good.kubernetes.io", 1 },
	/* match with path components */
	{ "*.kubernetes.io/blah", "prefix.kubernetes.io/blah", 1 },
	{ "prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", 1 },
	/* match with path components and ports */
	{ "*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", 1 },
	{ "prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", 1 },
	/* no match when number of parts mismatch */
	{ "*.kubernetes.io", "kubernetes.io", 0 },
	{ "*.*.kubernetes.io", "prefix.kubernetes.io", 0 },
	{ "*.*.kubernetes.io", "kubernetes.io", 0 },
	/* no match when some parts mismatch */
	{ "kubernetes.io", "kubernetes.com", 0 },
	{ "k*.io", "quay.io", 0 },
	/* no match when ports mismatch */
	{ "*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", 0 },
	{ "prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", 0 },
};

/* upstream TestDockerKeyringForGlob (hit) and TestKeyringMiss (miss): one key, and the
 * image looked up is target + "/foo/bar" */
static const struct {
	const char *key, *target;
	int hit;
} keyring_globs[] = {
	{ "https://hello.kubernetes.io", "hello.kubernetes.io", 1 },
	{ "https://*.docker.io", "prefix.docker.io", 1 },
	{ "https://prefix.*.io", "prefix.docker.io", 1 },
	{ "https://prefix.docker.*", "prefix.docker.io", 1 },
	{ "https://*.docker.io/path", "prefix.docker.io/path", 1 },
	{ "https://prefix.*.io/path", "prefix.docker.io/path/subpath", 1 },
	{ "https://prefix.docker.*/path", "prefix.docker.io/path", 1 },
	{ "https://*.docker.io:8888", "prefix.docker.io:8888", 1 },
	{ "https://prefix.*.io:8888", "prefix.docker.io:8888", 1 },
	{ "https://prefix.docker.*:8888", "prefix.docker.io:8888", 1 },
	{ "https://*.docker.io/path:1111", "prefix.docker.io/path:1111", 1 },
	{ "https://*.docker.io/v1/", "prefix.docker.io/path:1111", 1 },
	{ "https://*.docker.io/v2/", "prefix.docker.io/path:1111", 1 },
	{ "https://prefix.docker.*/path:1111", "prefix.docker.io/path:1111", 1 },
	{ "prefix.docker.io:1111", "prefix.docker.io:1111/path", 1 },
	{ "*.docker.io:1111", "prefix.docker.io:1111/path", 1 },
	{ "https://hello.kubernetes.io", "world.mesos.org/foo/bar", 0 },
	{ "https://*.docker.com", "prefix.docker.io", 0 },
	{ "https://suffix.*.io", "prefix.docker.io", 0 },
	{ "https://prefix.docker.c*", "prefix.docker.io", 0 },
	{ "https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111", 0 },
	{ "suffix.*.io", "prefix.docker.io", 0 },
};

static void test_upstream_urls_match(void)
{
	for (size_t i = 0; i < COUNT(urls_match); i++) {
		int got = credmatch_key_matches(urls_match[i].glob, urls_match[i].target);
		if (got != urls_match[i].match)
			fprintf(stderr, "URLsMatch row %zu: %s vs %s\n", i, urls_match[i].glob, urls_match[i].target);
		CHECK_EQ_INT(got, urls_match[i].match);
	}
}

static void test_upstream_keyring_globs(void)
{
	for (size_t i = 0; i < COUNT(keyring_globs); i++) {
		const char *keys[1] = { keyring_globs[i].key };
		char image[256];

		snprintf(image, sizeof image, "%s/foo/bar", keyring_globs[i].target);
		if ((credmatch_lookup(keys, 1, image) == 0) != keyring_globs[i].hit)
			fprintf(stderr, "keyring row %zu: %s vs %s\n", i, keys[0], image);
		CHECK_EQ_INT(credmatch_lookup(keys, 1, image), keyring_globs[i].hit ? 0 : -1);
	}
}

/* upstream TestKeyringMissWithDockerHubCredentials and the three Hit...DockerHub tests:
 * the key is "https://index.docker.io/v1/" */
static void test_upstream_docker_hub(void)
{
	const char *keys[1] = { "https://index.docker.io/v1/" };

	CHECK_EQ_INT(credmatch_lookup(keys, 1, "world.mesos.org/foo/bar"), -1);
	CHECK_EQ_INT(credmatch_lookup(keys, 1, "google/docker-registry"), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 1, "jenkins"), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 1, "index.docker.io/v1//google/docker-registry"), 0);
	/* and as the kubelet really asks, with the normalised name */
	CHECK_EQ_INT(credmatch_lookup(keys, 1, "docker.io/library/jenkins"), 0);
}

/* upstream TestIsDefaultRegistryMatch */
static void test_upstream_default_registry(void)
{
	CHECK_EQ_INT(credmatch_is_docker_hub("foo/bar"), 1);
	CHECK_EQ_INT(credmatch_is_docker_hub("docker.io/foo/bar"), 1);
	CHECK_EQ_INT(credmatch_is_docker_hub("index.docker.io/foo/bar"), 1);
	CHECK_EQ_INT(credmatch_is_docker_hub("foo"), 1);
	CHECK_EQ_INT(credmatch_is_docker_hub(""), 0);
	CHECK_EQ_INT(credmatch_is_docker_hub("registry.tld/foo/bar"), 0);
	CHECK_EQ_INT(credmatch_is_docker_hub("registry:5000/foo/bar"), 0);
	CHECK_EQ_INT(credmatch_is_docker_hub("myhostdocker.io/foo/bar"), 0);
}

/* upstream TestDockerKeyringLookup and TestIssue3797: the more specific key first */
static void test_upstream_lookup_order(void)
{
	const char *keys[2] = { "bar.example.com/pong", "bar.example.com" };
	const char *quay[1] = { "https://quay.io/v1/" };

	CHECK_EQ_INT(credmatch_lookup(keys, 2, "bar.example.com"), 1);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "bar.example.com/pong"), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "bar.example.com/ping"), 1);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "bar.example.com/pongz"), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "bar.example.com/pong/pang"), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "example.com"), -1);
	CHECK_EQ_INT(credmatch_lookup(keys, 2, "foo.example.com"), -1);

	CHECK_EQ_INT(credmatch_lookup(quay, 1, "quay.io"), 0);
	CHECK_EQ_INT(credmatch_lookup(quay, 1, "quay.io/foo"), 0);
	CHECK_EQ_INT(credmatch_lookup(quay, 1, "quay.io/foo/bar"), 0);
}

/* ours: what an ecr-refresh Secret meets */
static void test_ecr_keys(void)
{
	const char *keys[3] = { "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
		"https://index.docker.io/v1/", "public.ecr.aws" };
	struct credmatch_image img;

	CHECK_EQ_INT(credmatch_parse_image("111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.4", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), 0);
	/* another account, another region, FIPS: each its own entry */
	CHECK_EQ_INT(credmatch_parse_image("444455556666.dkr.ecr.eu-west-1.amazonaws.com/app", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), -1);
	CHECK_EQ_INT(credmatch_parse_image("111122223333.dkr.ecr-fips.us-east-1.amazonaws.com/app", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), -1);
	/* a port is part of the match */
	CHECK_EQ_INT(credmatch_parse_image("111122223333.dkr.ecr.eu-west-1.amazonaws.com:443/app", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), -1);
	CHECK_EQ_INT(credmatch_parse_image("nginx:1.25", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), 1);
	CHECK_EQ_INT(credmatch_parse_image("public.ecr.aws/nginx/nginx:latest", &img), 0);
	CHECK_EQ_INT(credmatch_lookup(keys, 3, img.repo), 2);
	/* "docker.io" as a key matches Docker Hub images directly; "index.docker.io" by the
	 * fallback only when nothing else matched */
	{
		const char *hub[2] = { "docker.io", "https://index.docker.io/v1/" };
		CHECK_EQ_INT(credmatch_lookup(hub, 2, "docker.io/library/nginx"), 0);
		CHECK_EQ_INT(credmatch_lookup(hub + 1, 1, "docker.io/library/nginx"), 0);
	}
	/* keys Go's url.Parse refuses match nothing; userinfo, query and fragment are dropped */
	CHECK_EQ_INT(credmatch_key_matches("registry:http/x", "registry:80/x"), 0);
	CHECK_EQ_INT(credmatch_key_matches("bad host", "bad host"), 0);
	CHECK_EQ_INT(credmatch_key_matches("https://user@quay.io/v2/", "quay.io/a"), 1);
	CHECK_EQ_INT(credmatch_key_matches("quay.io?x=1", "quay.io/a"), 1);
	CHECK_EQ_INT(credmatch_key_matches("http://quay.io/team", "quay.io/team/app"), 1);
	CHECK_EQ_INT(credmatch_key_matches("quay.io/team", "quay.io/other"), 0);
	CHECK_EQ_INT(credmatch_key_matches("[::1]:5000", "[::1]:5000/app"), 1);
	CHECK_EQ_INT(credmatch_key_matches("[::1]:5000", "[::1]:5001/app"), 0);
	/* without a port the kubelet keeps the brackets and globs "[::1]" as a class */
	CHECK_EQ_INT(credmatch_key_matches("[::1]", "[::1]/app"), 0);
	CHECK_EQ_INT(credmatch_key_matches(NULL, "quay.io"), 0);
	CHECK_EQ_INT(credmatch_lookup(NULL, 0, "quay.io"), -1);
}

/* image references: input, repo looked up, registry host; NULL repo: invalid */
static const struct {
	const char *image, *repo, *host;
} images[] = {
	{ "nginx", "docker.io/library/nginx", "docker.io" },
	{ "nginx:1.25", "docker.io/library/nginx", "docker.io" },
	{ "library/nginx", "docker.io/library/nginx", "docker.io" },
	{ "docker.io/nginx", "docker.io/library/nginx", "docker.io" },
	{ "index.docker.io/nginx", "docker.io/library/nginx", "docker.io" },
	{ "index.docker.io/team/app", "docker.io/team/app", "docker.io" },
	{ "team/app:v1", "docker.io/team/app", "docker.io" },
	{ "localhost/app", "localhost/app", "localhost" },
	{ "localhost:5000/app:v1", "localhost:5000/app", "localhost:5000" },
	{ "localhost:5000", "docker.io/library/localhost", "docker.io" },
	{ "Registry/app", "Registry/app", "Registry" },
	{ "quay.io/coreos/etcd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "quay.io/coreos/etcd", "quay.io" },
	{ "quay.io/coreos/etcd:v3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "quay.io/coreos/etcd", "quay.io" },
	{ "[::1]:5000/app", "[::1]:5000/app", "[::1]:5000" },
	{ "a.b/c_d/e__f/g-h/i--j/k.l:T_a.g-1", "a.b/c_d/e__f/g-h/i--j/k.l", "a.b" },
	{ "", NULL, NULL },
	{ "UPPER", NULL, NULL },
	{ "quay.io/Team/app", NULL, NULL },
	{ "quay.io/", NULL, NULL },
	{ "quay.io//app", NULL, NULL },
	{ "quay.io/app/", NULL, NULL },
	{ "quay.io/app:", NULL, NULL },
	{ "quay.io/app:-x", NULL, NULL },
	{ "quay.io/_app", NULL, NULL },
	{ "quay.io/a___b", NULL, NULL },
	{ "quay.io/a.-b", NULL, NULL },
	{ "quay.io/app@sha256:abc", NULL, NULL },
	{ "quay.io/app@", NULL, NULL },
	{ "-quay.io/app", NULL, NULL },
	{ "quay-.io/app", NULL, NULL },
	{ "quay..io/app", NULL, NULL },
	{ "quay.io:x/app", NULL, NULL },
	{ "quay.io:/app", NULL, NULL },
	{ "[zz]:5000/app", NULL, NULL },
	{ "app name", NULL, NULL },
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL, NULL },
};

static void test_parse_image(void)
{
	char long_name[400];
	struct credmatch_image img;

	for (size_t i = 0; i < COUNT(images); i++) {
		int rc = credmatch_parse_image(images[i].image, &img);

		if ((rc == 0) != (images[i].repo != NULL))
			fprintf(stderr, "image row %zu: %s\n", i, images[i].image);
		CHECK_EQ_INT(rc, images[i].repo ? 0 : -1);
		CHECK_EQ_STR(img.repo, images[i].repo ? images[i].repo : "");
		CHECK_EQ_STR(img.host, images[i].host ? images[i].host : "");
	}
	/* 255 bytes of name are allowed, 256 are not */
	memset(long_name, 'a', sizeof long_name);
	memcpy(long_name, "quay.io/", 8);
	long_name[255] = '\0';
	CHECK_EQ_INT(credmatch_parse_image(long_name, &img), 0);
	long_name[255] = 'a';
	long_name[256] = '\0';
	CHECK_EQ_INT(credmatch_parse_image(long_name, &img), -1);
	CHECK_EQ_INT(credmatch_parse_image(NULL, &img), -1);
}

int main(void)
{
	test_upstream_urls_match();
	test_upstream_keyring_globs();
	test_upstream_docker_hub();
	test_upstream_default_registry();
	test_upstream_lookup_order();
	test_ecr_keys();
	test_parse_image();
	return UNIT_DONE();
}
