/*
 * credmatch: the kubelet's image to pull-Secret key matching; see credmatch.h.
 *
 * Two grammars meet here. Image references follow distribution/reference (reference.go,
 * normalize.go): the kubelet parses an image with ParseNormalizedNamed and looks up
 * Name(). Dockerconfig keys are URLs that Go's net/url parses; only the parts the keyring
 * uses are read (host, port, path), and a key Go would refuse (a port that is not digits)
 * matches nothing, as a parse error does in URLsMatch.
 */
#include "credmatch.h"

#include <string.h>

#include "config.h"

#define KEY_MAX 1024   /* longest dockerconfig key considered; longer ones match nothing */

static const char docker_hub[] = "docker.io";
static const char docker_hub_legacy[] = "index.docker.io";

/* A view into a string, as the parsers below hand back. */
struct span {
	const char *p;
	size_t n;
};

static int span_eq(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int has_any(struct span s, const char *set)
{
	for (size_t i = 0; i < s.n; i++)
		if (strchr(set, s.p[i]) && s.p[i] != '\0')
			return 1;
	return 0;
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- image references (distribution/reference grammar) --------------------------------- */

/* domain-component = [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], joined by '.',
 * then an optional ":port" of digits; or a bracketed IPv6 address with an optional port. */
static int valid_domain(struct span d)
{
	size_t i = 0, label = 0;

	if (d.n == 0)
		return 0;
	if (d.p[0] == '[') {
		for (i = 1; i < d.n && d.p[i] != ']'; i++)
			if (!is_digit(d.p[i]) && !strchr("abcdefABCDEF:.", d.p[i]))
				return 0;
		if (i >= d.n || i == 1)
			return 0;
		i++;
	} else {
		for (; i < d.n && d.p[i] != ':'; i++) {
			char c = d.p[i];
			if (c == '.') {
				if (label == 0 || d.p[i - 1] == '-')
					return 0;
				label = 0;
			} else if (is_alnum(c) || (c == '-' && label > 0)) {
				label++;
			} else {
				return 0;
			}
		}
		if (label == 0 || d.p[i - 1] == '-')
			return 0;
	}
	if (i == d.n)
		return 1;
	if (d.p[i] != ':' || i + 1 == d.n)
		return 0;
	for (i++; i < d.n; i++)
		if (!is_digit(d.p[i]))
			return 0;
	return 1;
}

/* path-component = [a-z0-9]+ (separator [a-z0-9]+)*, separator = '.' | '_' | "__" | '-'+;
 * components joined by '/'. */
static int valid_path(struct span s)
{
	size_t i = 0;

	while (i < s.n) {
		if (!is_lower_alnum(s.p[i]))
			return 0;
		while (i < s.n && is_lower_alnum(s.p[i]))
			i++;
		if (i == s.n)
			return 1;
		if (s.p[i] == '/') {
			i++;
			if (i == s.n)
				return 0;
			continue;
		}
		if (s.p[i] == '.') {
			i++;
		} else if (s.p[i] == '_') {
			i += i + 1 < s.n && s.p[i + 1] == '_' ? 2 : 1;
		} else if (s.p[i] == '-') {
			while (i < s.n && s.p[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == s.n || !is_lower_alnum(s.p[i]))
			return 0;
	}
	return s.n > 0;
}

/* tag = [\w][\w.-]{0,127} */
static int valid_tag(struct span t)
{
	if (t.n == 0 || t.n > 128 || t.p[0] == '.' || t.p[0] == '-')
		return 0;
	for (size_t i = 0; i < t.n; i++)
		if (!is_alnum(t.p[i]) && !strchr("_.-", t.p[i]))
			return 0;
	return 1;
}

/* digest = algorithm ":" hex, algorithm = [A-Za-z][A-Za-z0-9]* ([+._-][A-Za-z][A-Za-z0-9]*)*,
 * hex at least 32 characters. */
static int valid_digest(struct span d)
{
	size_t i = 0, hex = 0;

	for (;;) {
		if (i >= d.n || !((d.p[i] >= 'a' && d.p[i] <= 'z') || (d.p[i] >= 'A' && d.p[i] <= 'Z')))
			return 0;
		while (i < d.n && is_alnum(d.p[i]))
			i++;
		if (i < d.n && strchr("+._-", d.p[i]) && d.p[i] != '\0') {
			i++;
			continue;
		}
		break;
	}
	if (i >= d.n || d.p[i] != ':')
		return 0;
	for (i++; i < d.n; i++, hex++)
		if (!is_digit(d.p[i]) && !strchr("abcdefABCDEF", d.p[i]))
			return 0;
	return hex >= 32;
}

/* 64 lower-case hex digits alone are refused: they would read as an image ID. */
static int is_image_id(struct span s)
{
	if (s.n != 64)
		return 0;
	for (size_t i = 0; i < s.n; i++)
		if (!is_digit(s.p[i]) && !(s.p[i] >= 'a' && s.p[i] <= 'f'))
			return 0;
	return 1;
}

/* normalize.go splitDockerDomain: where the registry ends and the path begins. */
static void split_domain(struct span name, struct span *domain, struct span *rest)
{
	const char *slash = memchr(name.p, '/', name.n);
	struct span first;

	if (slash) {
		first.p = name.p;
		first.n = (size_t)(slash - name.p);
		if (has_any(first, ".:") || span_eq(first, "localhost") || has_any(first, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
			*domain = first;
			rest->p = slash + 1;
			rest->n = name.n - first.n - 1;
			return;
		}
	}
	domain->p = docker_hub;
	domain->n = sizeof docker_hub - 1;
	*rest = name;
}

static int join_repo(struct credmatch_image *out, struct span domain, const char *library, struct span path)
{
	size_t need = domain.n + 1 + strlen(library) + path.n;

	if (need > CREDMATCH_MAX_NAME)
		return -1;
	memcpy(out->host, domain.p, domain.n);
	out->host[domain.n] = '\0';
	memcpy(out->repo, domain.p, domain.n);
	out->repo[domain.n] = '/';
	strcpy(out->repo + domain.n + 1, library);
	memcpy(out->repo + domain.n + 1 + strlen(library), path.p, path.n);
	out->repo[need] = '\0';
	return 0;
}

int credmatch_parse_image(const char *image, struct credmatch_image *out)
{
	struct span all, name, domain, path;
	const char *at, *colon, *slash;
	const char *library = "";

	memset(out, 0, sizeof *out);
	if (image == NULL)
		return -1;
	all.p = image;
	all.n = strnlen(image, 4 * CREDMATCH_MAX_NAME + 1);
	if (all.n > 4 * CREDMATCH_MAX_NAME || is_image_id(all))
		return -1;
	name = all;
	if ((at = memchr(all.p, '@', all.n)) != NULL) {
		struct span digest = { at + 1, all.n - (size_t)(at + 1 - all.p) };
		if (!valid_digest(digest))
			return -1;
		name.n = (size_t)(at - all.p);
	}
	/* A tag follows the last ':' that comes after the last '/': path components hold no
	 * ':', so an earlier one belongs to the registry's port. */
	slash = NULL;
	for (const char *c = name.p; c < name.p + name.n; c++)
		if (*c == '/')
			slash = c;
	colon = NULL;
	for (const char *c = slash ? slash : name.p; c < name.p + name.n; c++)
		if (*c == ':')
			colon = c;
	if (colon) {
		struct span tag = { colon + 1, name.n - (size_t)(colon + 1 - name.p) };
		if (!valid_tag(tag))
			return -1;
		name.n = (size_t)(colon - name.p);
	}
	split_domain(name, &domain, &path);
	if (span_eq(domain, docker_hub_legacy)) {
		domain.p = docker_hub;
		domain.n = sizeof docker_hub - 1;
	}
	if (span_eq(domain, docker_hub) && memchr(path.p, '/', path.n) == NULL)
		library = "library/";
	if (!valid_domain(domain) || !valid_path(path) || join_repo(out, domain, library, path) != 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

/* ---- dockerconfig keys (keyring.go) ------------------------------------------------- */

/* A URL as the keyring sees it: dot-separated host labels, the port, the path. */
struct key_url {
	struct span authority; /* host[:port] as written, userinfo dropped */
	struct span host;      /* without port or brackets' port */
	struct span port;      /* "" when none */
	struct span path;      /* "" or starting with '/' */
};

/* net.SplitHostPort, falling back (as splitURL does on its error) to the whole host. */
static void split_host_port(struct span authority, struct key_url *u)
{
	const char *colon = NULL;
	unsigned colons = 0;

	u->host = authority;
	u->port.p = authority.p + authority.n;
	u->port.n = 0;
	if (authority.n > 0 && authority.p[0] == '[') {
		const char *close = memchr(authority.p, ']', authority.n);
		if (close && close + 1 < authority.p + authority.n && close[1] == ':') {
			u->host.p = authority.p + 1;
			u->host.n = (size_t)(close - authority.p - 1);
			u->port.p = close + 2;
			u->port.n = authority.n - (size_t)(close + 2 - authority.p);
		}
		return;
	}
	for (size_t i = 0; i < authority.n; i++)
		if (authority.p[i] == ':') {
			colon = authority.p + i;
			colons++;
		}
	if (colons == 1) {
		u->host.n = (size_t)(colon - authority.p);
		u->port.p = colon + 1;
		u->port.n = authority.n - u->host.n - 1;
	}
}

/* parseSchemelessURL of "https://" + s: the authority ends at '/', '?' or '#'; userinfo
 * before an '@' is dropped; the path ends at '?' or '#'. Returns -1 where url.Parse fails
 * on what the keyring can meet: a port that is not digits, control characters, spaces. */
static int parse_schemeless(struct span s, struct key_url *u)
{
	size_t i = 0, path_end;
	struct span authority;
	const char *at, *last_colon = NULL;

	for (size_t k = 0; k < s.n; k++)
		if ((unsigned char)s.p[k] <= 0x20 || s.p[k] == 0x7f)
			return -1;
	while (i < s.n && !strchr("/?#", s.p[i]))
		i++;
	authority.p = s.p;
	authority.n = i;
	if ((at = memchr(authority.p, '@', authority.n)) != NULL) {
		/* the last '@' ends the userinfo */
		for (const char *c = at; c < authority.p + authority.n; c++)
			if (*c == '@')
				at = c;
		authority.n -= (size_t)(at + 1 - authority.p);
		authority.p = at + 1;
	}
	for (size_t k = 0; k < authority.n; k++)
		if (authority.p[k] == ':')
			last_colon = authority.p + k;
		else if (authority.p[k] == ']')
			last_colon = NULL;
	if (last_colon)
		for (const char *c = last_colon + 1; c < authority.p + authority.n; c++)
			if (!is_digit(*c))
				return -1;
	u->authority = authority;
	split_host_port(authority, u);
	for (path_end = i; path_end < s.n && s.p[path_end] != '?' && s.p[path_end] != '#'; path_end++)
		;
	u->path.p = s.p + i;
	u->path.n = i < s.n && s.p[i] == '/' ? path_end - i : 0;
	return 0;
}

/* BasicDockerKeyring.Add: the index key a dockerconfig key becomes (host[:port] plus the
 * path, "/v1/" and "/v2/" cut to "/", a lone "/" dropped). Returns its length, or -1. */
static long normalise_key(const char *key, char *out, size_t size)
{
	struct span s = { key, strnlen(key, KEY_MAX + 1) };
	struct key_url u;
	size_t authority_n;

	if (s.n > KEY_MAX)
		return -1;
	if (strncmp(key, "https://", 8) == 0) {
		s.p += 8;
		s.n -= 8;
	} else if (strncmp(key, "http://", 7) == 0) {
		s.p += 7;
		s.n -= 7;
	}
	if (parse_schemeless(s, &u) != 0)
		return -1;
	if (u.path.n >= 4 && (memcmp(u.path.p, "/v1/", 4) == 0 || memcmp(u.path.p, "/v2/", 4) == 0)) {
		u.path.p += 3;
		u.path.n -= 3;
	}
	if (u.path.n == 1)
		u.path.n = 0;
	authority_n = u.authority.n;
	if (authority_n + u.path.n + 1 > size)
		return -1;
	memcpy(out, u.authority.p, authority_n);
	memcpy(out + authority_n, u.path.p, u.path.n);
	out[authority_n + u.path.n] = '\0';
	return (long)(authority_n + u.path.n);
}

/* filepath.Match of one glob label against one label, with the project's one glob
 * matcher (the same '*', '?' and '[...]'; Go's backslash escape is not needed by hosts). */
static int label_matches(struct span glob, struct span label)
{
	char g[256], t[256];

	if (glob.n >= sizeof g || label.n >= sizeof t)
		return 0;
	memcpy(g, glob.p, glob.n);
	g[glob.n] = '\0';
	memcpy(t, label.p, label.n);
	t[label.n] = '\0';
	if (g[0] == '\0' || t[0] == '\0')
		return strcmp(g, t) == 0;
	return config_glob_match(g, t);
}

/* URLsMatch: equal ports, as many labels, the glob's path a prefix, every label a match. */
static int urls_match(const struct key_url *glob, const struct key_url *target)
{
	struct span g = glob->host, t = target->host;

	if (glob->port.n != target->port.n || memcmp(glob->port.p, target->port.p, glob->port.n) != 0)
		return 0;
	if (glob->path.n > target->path.n || memcmp(glob->path.p, target->path.p, glob->path.n) != 0)
		return 0;
	for (;;) {
		const char *gd = memchr(g.p, '.', g.n), *td = memchr(t.p, '.', t.n);
		struct span gl = { g.p, gd ? (size_t)(gd - g.p) : g.n };
		struct span tl = { t.p, td ? (size_t)(td - t.p) : t.n };

		if (!label_matches(gl, tl))
			return 0;
		if (!gd || !td)
			return !gd && !td;
		g.p = gd + 1;
		g.n -= gl.n + 1;
		t.p = td + 1;
		t.n -= tl.n + 1;
	}
}

static int normalised_key_matches(const char *normalised, const char *repo)
{
	struct span k = { normalised, strlen(normalised) };
	struct span r = { repo, strnlen(repo, KEY_MAX + 1) };
	struct key_url ku, ru;

	if (r.n > KEY_MAX || parse_schemeless(k, &ku) != 0 || parse_schemeless(r, &ru) != 0)
		return 0;
	return urls_match(&ku, &ru);
}

int credmatch_key_matches(const char *key, const char *repo)
{
	char normalised[KEY_MAX + 1];

	if (key == NULL || repo == NULL || normalise_key(key, normalised, sizeof normalised) < 0)
		return 0;
	return normalised_key_matches(normalised, repo);
}

int credmatch_is_docker_hub(const char *repo)
{
	struct span first = { repo, 0 };
	const char *slash;

	if (repo == NULL || repo[0] == '\0' || repo[0] == '/')
		return 0;
	slash = strchr(repo, '/');
	if (slash == NULL)
		return 1;
	first.n = (size_t)(slash - repo);
	if (span_eq(first, docker_hub) || span_eq(first, docker_hub_legacy))
		return 1;
	return !has_any(first, ".:");
}

long credmatch_lookup(const char *const *keys, size_t count, const char *repo)
{
	char best[KEY_MAX + 1] = "", normalised[KEY_MAX + 1];
	long found = -1, hub = -1;

	if (repo == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (keys[i] == NULL || normalise_key(keys[i], normalised, sizeof normalised) < 0)
			continue;
		/* The index is sorted in reverse: the greatest matching key is tried first. */
		if (normalised_key_matches(normalised, repo) && (found < 0 || strcmp(normalised, best) > 0)) {
			found = (long)i;
			strcpy(best, normalised);
		}
		if (hub < 0 && strcmp(normalised, docker_hub_legacy) == 0)
			hub = (long)i;
	}
	if (found < 0 && hub >= 0 && credmatch_is_docker_hub(repo))
		return hub;
	return found;
}
