/*
 * The dockerconfig reader on arbitrary bytes (in an exact-size allocation), then the clash
 * check over what it read. Invariants: a success yields entries with a printable key, a
 * user without ':' and values without control characters, and an auth that is
 * base64(user:password); a failure says why, naming the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "dockerconfig.h"
#include "log.h"

#define REQUIRE(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void check_entry(const struct secret_entry *e)
{
	unsigned char decoded[4096];
	size_t n, u = strlen(e->username), p = strlen(e->password);

	REQUIRE(e->key[0] && strlen(e->key) <= DOCKERCONFIG_MAX_KEY);
	REQUIRE(u > 0 && p > 0 && !strchr(e->username, ':'));
	REQUIRE(no_controls(e->username) && no_controls(e->password));
	REQUIRE(e->expires_at == 0 && strcmp(e->source, "fuzz.json") == 0);
	if (strlen(e->auth) / 4 * 3 + 3 <= sizeof decoded) {
		REQUIRE(base64_decode(e->auth, strlen(e->auth), decoded, sizeof decoded, &n) == 0);
		REQUIRE(n == u + 1 + p && decoded[u] == ':');
		REQUIRE(memcmp(decoded, e->username, u) == 0 && memcmp(decoded + u + 1, e->password, p) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "gcr.io", "public.ecr.aws" };
	struct secret_entries out = { 0 };
	char err[600], *copy = malloc(size ? size : 1);
	size_t i;

	REQUIRE(copy != NULL);
	memcpy(copy, data, size);
	if (dockerconfig_parse(copy, size, "fuzz.json", &out, err, sizeof err) == 0) {
		REQUIRE(out.count > 0 && out.count <= DOCKERCONFIG_MAX_ENTRIES);
		for (i = 0; i < out.count; i++)
			check_entry(&out.items[i]);
		if (dockerconfig_check(&out, hosts, 2, err, sizeof err) != 0)
			REQUIRE(strncmp(err, "fuzz.json: ", 11) == 0);
	} else {
		REQUIRE(strncmp(err, "fuzz.json: ", 11) == 0 || strcmp(err, "out of memory") == 0);
	}
	log_forget_secrets();
	secret_entries_free(&out);
	free(copy);
	return 0;
}
