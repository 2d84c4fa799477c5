/*
 * config: docs/reference.md "Command line". Three steps, all before anything touches the
 * network:
 * 1. argv is scanned into one raw string per option (last occurrence wins);
 * 2. options not given as flags take their environment variable, then the
 *    k8s-ecr-login-renew alias, then the default;
 * 3. every raw value goes through one converter, so a flag, a variable and a default are
 *    checked by the same code, and a bad value is reported with the name it came in by.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum option_id {
	OPT_REGISTRIES,
	OPT_NAMESPACES,
	OPT_NAMESPACE_SELECTOR,
	OPT_EXCLUDE_NAMESPACES,
	OPT_SECRET_NAME,
	OPT_SERVICE_ACCOUNTS,
	OPT_FORCE,
	OPT_DRY_RUN,
	OPT_OUTPUT,
	OPT_CONCURRENCY,
	OPT_TIMEOUT,
	OPT_DEADLINE,
	OPT_REFRESH_BEFORE,
	OPT_API_SERVER,
	OPT_SERVICEACCOUNT_DIR,
	OPT_FIELD_MANAGER,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_ECR_PUBLIC,
	OPT_EXTRA_DOCKERCONFIG,
	OPT_GCR_REGISTRIES,
	OPT_GCR_AUTH,
	OPT_WATCH,
	OPT_LIVENESS_FILE,
	OPT_COUNT
};

struct option_spec {
	const char *flag;          /* with its leading "--" */
	const char *value_name;    /* shown in usage; NULL: a switch, "true" when given */
	const char *env;           /* NULL: flag only */
	const char *alias;         /* k8s-ecr-login-renew variable, read when env is unset */
	const char *default_value; /* parsed like any given value; NULL: none */
	const char *default_text;  /* usage text when the default is not a plain value */
	const char *help;
};

/* The table of docs/reference.md "Command line", in its order. */
static const struct option_spec options[OPT_COUNT] = {
	[OPT_REGISTRIES] = { "--registries", "H1,H2", "ECR_REGISTRIES", "DOCKER_REGISTRIES", NULL,
		"the caller's registry in the default region", "ECR registry hosts, one token per region" },
	[OPT_NAMESPACES] = { "--namespaces", "L", "TARGET_NAMESPACES", "TARGET_NAMESPACE", NULL,
		"the pod's own namespace", "namespace names or globs (* ? [...])" },
	[OPT_NAMESPACE_SELECTOR] = { "--namespace-selector", "S", "NAMESPACE_SELECTOR", NULL, NULL,
		"none", "label selector; adds every matching namespace" },
	[OPT_EXCLUDE_NAMESPACES] = { "--exclude-namespaces", "L", "EXCLUDE_NAMESPACES", "EXCLUDE_NAMESPACE",
		NULL, "none", "names or globs removed from the targets" },
	[OPT_SECRET_NAME] = { "--secret-name", "N", "SECRET_NAME", "DOCKER_SECRET_NAME", "ecr-creds", NULL,
		"name of the Secret in each namespace" },
	[OPT_SERVICE_ACCOUNTS] = { "--service-accounts", "L", "PATCH_SERVICE_ACCOUNTS", NULL, NULL, "none",
		"ServiceAccounts whose imagePullSecrets get the Secret" },
	[OPT_FORCE] = { "--force", NULL, "FORCE_CONFLICTS", NULL, "false", "off",
		"take over fields another field manager owns" },
	[OPT_DRY_RUN] = { "--dry-run", NULL, "DRY_RUN", NULL, "false", "off",
		"server-side dry run: every check, no write" },
	[OPT_OUTPUT] = { "--output", "json|yaml", NULL, NULL, NULL, "none",
		"print the Secret manifests to stdout, apply nothing" },
	[OPT_CONCURRENCY] = { "--concurrency", "N", "CONCURRENCY", NULL, "4", NULL,
		"parallel Kubernetes API connections (1-64)" },
	[OPT_TIMEOUT] = { "--timeout", "S", "REQUEST_TIMEOUT", NULL, "10", NULL,
		"seconds for any one request (1-3600)" },
	[OPT_DEADLINE] = { "--deadline", "S", "RUN_DEADLINE", NULL, "300", NULL,
		"seconds for the whole run, retries included (1-86400, at least --timeout)" },
	[OPT_REFRESH_BEFORE] = { "--refresh-before", "D", "REFRESH_BEFORE", NULL, NULL, "write every run",
		"leave a Secret alone while it expires later than now + D (90m, 6h, 1h30m)" },
	[OPT_API_SERVER] = { "--api-server", "URL", "KUBERNETES_API_SERVER", NULL, NULL,
		"https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT", "Kubernetes API server" },
	[OPT_SERVICEACCOUNT_DIR] = { "--serviceaccount-dir", "D", "SERVICEACCOUNT_DIR", NULL,
		"/var/run/secrets/kubernetes.io/serviceaccount", NULL, "where token, ca.crt, namespace are read" },
	[OPT_FIELD_MANAGER] = { "--field-manager", "N", "FIELD_MANAGER", NULL, "ecr-refresh", NULL,
		"server-side apply field manager" },
	[OPT_LOG_FORMAT] = { "--log-format", "json|text", "LOG_FORMAT", NULL, "json", NULL,
		"log lines on stderr" },
	[OPT_LOG_LEVEL] = { "--log-level", "L", "LOG_LEVEL", NULL, "info", NULL,
		"debug, info, warn or error" },
	/* docs/reference.md "Other registries in the same Secret". */
	[OPT_ECR_PUBLIC] = { "--ecr-public", NULL, "ECR_PUBLIC", NULL, "false", "off",
		"add public.ecr.aws with an ECR Public token" },
	[OPT_EXTRA_DOCKERCONFIG] = { "--extra-dockerconfig", "F1,F2", "EXTRA_DOCKERCONFIG_FILES", NULL, NULL,
		"none", "merge the auths of these .dockerconfigjson / config.json files" },
	[OPT_GCR_REGISTRIES] = { "--gcr-registries", "H1,H2", "GCR_REGISTRIES", NULL, NULL, "none",
		"Google registries (gcr.io, *.gcr.io, REGION-docker.pkg.dev)" },
	[OPT_GCR_AUTH] = { "--gcr-auth", "json-key|access-token", "GCR_AUTH", NULL, NULL,
		"json-key with GOOGLE_APPLICATION_CREDENTIALS, else the metadata server",
		"what the Google entries carry: the key, or a 1-hour access token" },
	[OPT_WATCH] = { "--watch", NULL, "WATCH", NULL, "false", "off",
		"after the pass keep running: watch namespaces and Secrets, repair, refresh" },
	[OPT_LIVENESS_FILE] = { "--liveness-file", "F", "LIVENESS_FILE", NULL, NULL, "none",
		"--watch touches F every few seconds; `ecr-refresh --liveness-probe F` checks it" },
};

#define NAMESPACE_GLOB_MAX 253   /* no namespace name is longer than 63; keeps matching bounded */
#define SHOWN_VALUE_MAX 80       /* bytes of a bad value quoted in an error message */

/* ---- error messages -------------------------------------------------------------------- */

/* Writes s into out for an error line: printable ASCII as is, '"' and '\' escaped, every
 * other byte as \xNN (no newline or terminal control can reach the log), and long values
 * cut with "...". */
static void show_value(char *out, size_t outlen, const char *s, int quoted)
{
	size_t n = 0, shown = 0;
	const unsigned char *p = (const unsigned char *)s;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (quoted && n + 1 < outlen)
		out[n++] = '"';
	for (; *p && shown < SHOWN_VALUE_MAX; p++, shown++) {
		char unit[5];
		size_t len;

		if (*p == '"' || *p == '\\') {
			unit[0] = '\\';
			unit[1] = (char)*p;
			len = 2;
		} else if (*p < 0x20 || *p >= 0x7f) {
			static const char hex[] = "0123456789abcdef";
			unit[0] = '\\';
			unit[1] = 'x';
			unit[2] = hex[*p >> 4];
			unit[3] = hex[*p & 15];
			len = 4;
		} else {
			unit[0] = (char)*p;
			len = 1;
		}
		if (n + len + 5 >= outlen)
			break;
		memcpy(out + n, unit, len);
		n += len;
	}
	if (*p && n + 3 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	if (quoted && n + 1 < outlen)
		out[n++] = '"';
	out[n] = '\0';
}

/* err = "NAME VALUE: problem" with VALUE quoted unless it is a plain integer. */
static int fail_value(char *err, size_t errlen, const char *name, const char *value, int quoted,
		      const char *problem)
{
	char shown[SHOWN_VALUE_MAX * 4 + 8];

	show_value(shown, sizeof shown, value, quoted);
	if (errlen)
		snprintf(err, errlen, "%s %s: %s", name, shown, problem);
	return CONFIG_ERROR;
}

/* err = "NAME: "ITEM" problem", for one item of a list. */
static int fail_item(char *err, size_t errlen, const char *name, const char *item, const char *problem)
{
	char shown[SHOWN_VALUE_MAX * 4 + 8];

	show_value(shown, sizeof shown, item, 1);
	if (errlen)
		snprintf(err, errlen, "%s: %s %s", name, shown, problem);
	return CONFIG_ERROR;
}

static int fail(char *err, size_t errlen, const char *message)
{
	if (errlen)
		snprintf(err, errlen, "%s", message);
	return CONFIG_ERROR;
}

/* ---- names: Kubernetes object names and label syntax ----------------------------------- */

static int is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(int c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* Kubernetes "Object Names and IDs" (kubernetes.io/docs/concepts/overview/working-with-objects/names/).
 * "DNS label" (RFC 1123 section 2.1 as Kubernetes reads it, IsDNS1123Label):
 * at most 63 of [a-z0-9-], starting and ending alphanumeric. */
static int valid_dns_label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_lower_alnum((unsigned char)s[0]) || !is_lower_alnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int config_valid_dns_label(const char *s)
{
	return s != NULL && valid_dns_label_n(s, strlen(s));
}

/* Kubernetes "DNS subdomain" (IsDNS1123Subdomain): at most 253 bytes, dot-separated parts
 * of [a-z0-9-] each starting and ending alphanumeric. Kubernetes checks the total length
 * only, not 63 per part, and so does this. */
static int valid_dns_subdomain_n(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t part = i - start;
		if (part == 0 || !is_lower_alnum((unsigned char)s[start]) ||
		    !is_lower_alnum((unsigned char)s[i - 1]))
			return 0;
		for (size_t j = start; j < i; j++)
			if (!is_lower_alnum((unsigned char)s[j]) && s[j] != '-')
				return 0;
		start = i + 1;
	}
	return 1;
}

int config_valid_dns_subdomain(const char *s)
{
	return s != NULL && valid_dns_subdomain_n(s, strlen(s));
}

/* Labels, "Syntax and character set" (kubernetes.io/docs/concepts/overview/working-with-objects/labels/).
 * Label names and values (IsQualifiedName's name part, IsValidLabelValue): at most 63 of
 * [A-Za-z0-9._-], starting and ending alphanumeric. Values may also be empty. */
static int valid_label_name_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int valid_label_value_n(const char *s, size_t n)
{
	return n == 0 || valid_label_name_n(s, n);
}

/* Label keys (IsQualifiedName): "name" or "prefix/name", prefix a DNS subdomain. */
static int valid_label_key_n(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);

	if (slash == NULL)
		return valid_label_name_n(s, n);
	size_t prefix = (size_t)(slash - s);
	return valid_dns_subdomain_n(s, prefix) && valid_label_name_n(slash + 1, n - prefix - 1);
}

/* ---- globs ------------------------------------------------------------------------------ */

int config_is_glob(const char *s)
{
	return s != NULL && strpbrk(s, "*?[") != NULL;
}

static int is_glob_char(int c)
{
	return is_lower_alnum(c) || c == '-';
}

/*
 * Parses the bracket expression at p ('[' ... ']'): "!" or "^" first negates, "a-z" is a
 * range, '-' first or last is itself, and as in POSIX a ']' right after the opening is a
 * member. Sets *end past the closing ']' and returns 1 when c is in the class (0 when
 * not), or -1 when the expression is not closed. Strict mode (validation) also returns -1
 * for an empty class, a reversed range, or a character no namespace name holds; matching
 * lets a reversed range match nothing, as fnmatch does.
 */
static int glob_class(const char *p, int c, int strict, const char **end)
{
	const char *q = p + 1;
	int negate = 0, found = 0;

	if (*q == '!' || *q == '^') {
		negate = 1;
		q++;
	}
	for (const char *first = q; *q != ']' || q == first;) {
		int lo, hi;

		if (*q == '\0')
			return -1;
		lo = (unsigned char)*q;
		hi = lo;
		if (q[1] == '-' && q[2] != ']' && q[2] != '\0') {
			hi = (unsigned char)q[2];
			q += 3;
		} else {
			q++;
		}
		if (strict && (hi < lo || !is_glob_char(lo) || !is_glob_char(hi)))
			return -1;
		found |= c >= lo && c <= hi;
	}
	*end = q + 1;
	return found != negate;
}

int config_valid_glob(const char *s)
{
	size_t n;
	const char *p;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > NAMESPACE_GLOB_MAX)
		return 0;
	for (p = s; *p;) {
		if (*p == '*' || *p == '?') {
			p++;
		} else if (*p == '[') {
			const char *end;
			if (glob_class(p, 'a', 1, &end) < 0)
				return 0;
			p = end;
		} else if (is_glob_char((unsigned char)*p)) {
			p++;
		} else {
			return 0;
		}
	}
	return 1;
}

/*
 * Glob match of the whole name: '*' any run, '?' one byte, '[...]' one byte of a class.
 * Written here rather than with fnmatch(3) so that musl and glibc builds agree; '/' and
 * leading dots are not special (namespace names hold neither). A malformed bracket
 * matches a literal '['. Backtracks only to the last '*', so it runs in
 * O(len(pattern) * len(name)).
 */
int config_glob_match(const char *pattern, const char *name)
{
	const char *p = pattern, *n = name;
	const char *star_p = NULL, *star_n = NULL;

	if (pattern == NULL || name == NULL)
		return 0;
	while (*n) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_n = n;
			continue;
		}
		if (*p == '?') {
			p++;
			n++;
			continue;
		}
		if (*p == '[') {
			const char *end;
			int in = glob_class(p, (unsigned char)*n, 0, &end);
			if (in == 1) {
				p = end;
				n++;
				continue;
			}
			if (in == -1 && *n == '[') {
				p++;
				n++;
				continue;
			}
		} else if (*p != '\0' && *p == *n) {
			p++;
			n++;
			continue;
		}
		if (star_p == NULL)
			return 0;
		p = star_p;
		n = ++star_n;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ---- label selectors -------------------------------------------------------------------- */

/*
 * The grammar of k8s.io/apimachinery/pkg/labels Parse (the one the API server applies to
 * ?labelSelector=):
 *   selector    = [ requirement { "," requirement } ]
 *   requirement = "!" key | key | key ( "=" | "==" | "!=" ) [ value ]
 *               | key ( "in" | "notin" ) "(" [ value ] { "," [ value ] } ")"
 *               | key ( ">" | "<" ) integer
 * Tokens are separated by optional blanks; an identifier is a run of bytes that are
 * neither blank nor one of "!=<>(),".
 */
enum selector_token {
	TOK_END, TOK_IDENT, TOK_NOT, TOK_EQ, TOK_EQEQ, TOK_NE, TOK_GT, TOK_LT,
	TOK_OPEN, TOK_CLOSE, TOK_COMMA
};

struct selector_lexer {
	const char *p;
	const char *text;   /* the token last read */
	size_t len;
};

static int is_selector_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_selector_special(int c)
{
	return c == '!' || c == '=' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',';
}

static enum selector_token selector_next(struct selector_lexer *lx)
{
	const char *p = lx->p;

	while (is_selector_blank((unsigned char)*p))
		p++;
	lx->text = p;
	if (*p == '\0') {
		lx->len = 0;
		lx->p = p;
		return TOK_END;
	}
	if (!is_selector_special((unsigned char)*p)) {
		while (*p && !is_selector_blank((unsigned char)*p) && !is_selector_special((unsigned char)*p))
			p++;
		lx->len = (size_t)(p - lx->text);
		lx->p = p;
		return TOK_IDENT;
	}
	lx->len = (p[1] == '=' && (p[0] == '!' || p[0] == '=')) ? 2 : 1;
	lx->p = p + lx->len;
	switch (*p) {
	case '!': return lx->len == 2 ? TOK_NE : TOK_NOT;
	case '=': return lx->len == 2 ? TOK_EQEQ : TOK_EQ;
	case '>': return TOK_GT;
	case '<': return TOK_LT;
	case '(': return TOK_OPEN;
	case ')': return TOK_CLOSE;
	default: return TOK_COMMA;
	}
}

static enum selector_token selector_peek(const struct selector_lexer *lx)
{
	struct selector_lexer copy = *lx;
	return selector_next(&copy);
}

static int selector_fail(char *err, size_t errlen, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "%s", what);
	return 0;
}

/* err = "WHAT "TEXT"", the token shown the way bad values are. */
static int selector_bad(char *err, size_t errlen, const char *what, const char *text, size_t len)
{
	char shown[SHOWN_VALUE_MAX * 4 + 8];
	char token[SHOWN_VALUE_MAX + 4];
	size_t n = len < SHOWN_VALUE_MAX ? len : SHOWN_VALUE_MAX;

	memcpy(token, text, n);
	/* A cut token keeps a visible mark that it was cut. */
	strcpy(token + n, len > n ? "..." : "");
	show_value(shown, sizeof shown, token, 1);
	if (errlen)
		snprintf(err, errlen, "%s %s", what, shown);
	return 0;
}

/* err = "EXPECTATION, found TOKEN" for the token just read. */
static int selector_unexpected(char *err, size_t errlen, const char *expectation, const struct selector_lexer *lx,
			       enum selector_token t)
{
	char what[128];

	if (t == TOK_END) {
		snprintf(what, sizeof what, "%s, found the end", expectation);
		return selector_fail(err, errlen, what);
	}
	snprintf(what, sizeof what, "%s, found", expectation);
	return selector_bad(err, errlen, what, lx->text, lx->len);
}

static int ident_is(const struct selector_lexer *lx, const char *word)
{
	return lx->len == strlen(word) && memcmp(lx->text, word, lx->len) == 0;
}

/* Kubernetes checks ">"/"<" operands with strconv.ParseInt(v, 10, 64). */
static int valid_int64_n(const char *s, size_t n)
{
	char buf[24];
	char *end;
	size_t i = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;

	if (n <= i || n >= sizeof buf)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	(void)strtoll(buf, &end, 10);
	return errno == 0;
}

static int selector_value_list(struct selector_lexer *lx, char *err, size_t errlen)
{
	enum selector_token t = selector_next(lx);

	if (t != TOK_OPEN)
		return selector_unexpected(err, errlen, "expected '(' after in/notin", lx, t);
	for (;;) {
		t = selector_next(lx);
		if (t == TOK_IDENT) {
			if (!valid_label_value_n(lx->text, lx->len))
				return selector_bad(err, errlen, "invalid label value", lx->text, lx->len);
			t = selector_next(lx);
		}
		/* Kubernetes takes "(a,,b)", "(,a)" and "()" as holding the empty value. */
		if (t == TOK_CLOSE)
			return 1;
		if (t == TOK_END)
			return selector_fail(err, errlen, "unclosed parenthesis");
		if (t != TOK_COMMA)
			return selector_unexpected(err, errlen, "expected ',' or ')' in the value list", lx, t);
	}
}

static int selector_requirement(struct selector_lexer *lx, char *err, size_t errlen)
{
	enum selector_token t = selector_next(lx);
	int negated = 0;

	if (t == TOK_NOT) {
		negated = 1;
		t = selector_next(lx);
	}
	if (t != TOK_IDENT)
		return selector_unexpected(err, errlen, "expected a label key", lx, t);
	if (!valid_label_key_n(lx->text, lx->len))
		return selector_bad(err, errlen, "invalid label key", lx->text, lx->len);
	t = selector_peek(lx);
	if (t == TOK_END || t == TOK_COMMA)
		return 1;
	t = selector_next(lx);
	if (negated)
		return selector_unexpected(err, errlen, "!key takes no operator", lx, t);
	if (t == TOK_IDENT && (ident_is(lx, "in") || ident_is(lx, "notin")))
		return selector_value_list(lx, err, errlen);
	if (t == TOK_GT || t == TOK_LT) {
		t = selector_next(lx);
		if (t != TOK_IDENT || !valid_int64_n(lx->text, lx->len))
			return selector_unexpected(err, errlen, "'>' and '<' need an integer", lx, t);
		return 1;
	}
	if (t != TOK_EQ && t != TOK_EQEQ && t != TOK_NE)
		return selector_unexpected(err, errlen, "expected one of = == != in notin > <", lx, t);
	t = selector_peek(lx);
	if (t == TOK_END || t == TOK_COMMA)
		return 1;   /* "key=" selects the empty value */
	t = selector_next(lx);
	if (t != TOK_IDENT)
		return selector_unexpected(err, errlen, "expected a label value", lx, t);
	if (!valid_label_value_n(lx->text, lx->len))
		return selector_bad(err, errlen, "invalid label value", lx->text, lx->len);
	return 1;
}

int config_valid_label_selector(const char *s, char *err, size_t errlen)
{
	struct selector_lexer lx = { s, s, 0 };

	if (errlen)
		err[0] = '\0';
	if (s == NULL)
		return selector_fail(err, errlen, "no selector");
	if (selector_peek(&lx) == TOK_END)
		return 1;
	for (;;) {
		if (!selector_requirement(&lx, err, errlen))
			return 0;
		enum selector_token t = selector_next(&lx);
		if (t == TOK_END)
			return 1;
		if (t != TOK_COMMA)
			return selector_unexpected(err, errlen, "expected ',' or the end", &lx, t);
	}
}

/* ---- value converters ------------------------------------------------------------------- */

static int out_of_memory(char *err, size_t errlen)
{
	return fail(err, errlen, "out of memory");
}

static int is_list_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum list_kind { LIST_REGISTRIES, LIST_NAMESPACES, LIST_SERVICE_ACCOUNTS, LIST_FILES };

static int parse_list(struct config_list *list, enum list_kind kind, const char *value, const char *name,
		      char *err, size_t errlen)
{
	size_t capacity = 1;
	const char *p = value;

	for (const char *c = value; *c; c++)
		capacity += *c == ',';
	list->items = calloc(capacity, sizeof *list->items);
	if (list->items == NULL)
		return out_of_memory(err, errlen);
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *start = p;
		char *item;

		while (start < end && is_list_blank((unsigned char)*start))
			start++;
		while (end > start && is_list_blank((unsigned char)end[-1]))
			end--;
		if (start == end) {
			/* A registry list is the product's core input: "a,,b" is likelier a
			 * template gone wrong than something to quietly repair. */
			if (kind == LIST_REGISTRIES || kind == LIST_FILES)
				return fail_value(err, errlen, name, value, 1,
						  kind == LIST_FILES ? "empty file name in the list" : "empty registry in the list");
		} else {
			item = malloc((size_t)(end - start) + 1);
			if (item == NULL)
				return out_of_memory(err, errlen);
			memcpy(item, start, (size_t)(end - start));
			item[end - start] = '\0';
			list->items[list->count++] = item;
			if (kind == LIST_NAMESPACES &&
			    !(config_is_glob(item) ? config_valid_glob(item) : config_valid_dns_label(item)))
				return fail_item(err, errlen, name, item, "is not a valid namespace name or glob");
			if (kind == LIST_SERVICE_ACCOUNTS && !config_valid_dns_subdomain(item))
				return fail_item(err, errlen, name, item, "is not a valid ServiceAccount name");
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	/* Given, yet naming nothing ("", ","): falling back to the default (the pod's own
	 * namespace, the default registry) would act on something nobody asked for. */
	if (list->count == 0)
		return fail_value(err, errlen, name, value, 1, "names nothing (leave it unset for the default)");
	return CONFIG_OK;
}

static int ascii_equal_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		int ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

/* Index of value in the NULL-terminated choices, ASCII case ignored (LOG_LEVEL=DEBUG is
 * common in manifests), or -1. */
static int parse_choice(const char *value, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		if (ascii_equal_nocase(value, choices[i]))
			return i;
	return -1;
}

static int parse_bool(int *out, const char *value, const char *name, char *err, size_t errlen)
{
	static const char *const words[] = { "false", "true", "0", "1", "no", "yes", NULL };
	int i = parse_choice(value, words);

	if (i < 0)
		return fail_value(err, errlen, name, value, 1, "must be true, false, 1, 0, yes or no");
	*out = i & 1;
	return CONFIG_OK;
}

static int parse_int(int *out, const char *value, int min, int max, const char *name, char *err,
		     size_t errlen)
{
	char problem[48];
	const char *p = value;
	char *end;
	long v;

	snprintf(problem, sizeof problem, "must be %d..%d", min, max);
	/* Digits only: no sign, no blank, nothing strtol would skip or accept ("+4", " 4"). */
	if (*p == '\0')
		return fail_value(err, errlen, name, value, 1, problem);
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return fail_value(err, errlen, name, value, 1, problem);
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || v < min || v > max)
		return fail_value(err, errlen, name, value, 0, problem);
	*out = (int)v;
	return CONFIG_OK;
}

/*
 * Durations as Go's time.ParseDuration writes the common ones (what Kubernetes users type):
 * one or more NUMBER UNIT groups, units h, m, s, each unit at most once and in that order.
 * A bare number is refused: "6" could mean hours or seconds. The bounds: under a minute is
 * no margin at all, and ECR tokens live 12 hours, so more than a day means "always write",
 * which is what leaving it unset says.
 */
int config_parse_duration(const char *s, long *seconds)
{
	static const char units[] = "hms";
	static const long unit_seconds[] = { 3600, 60, 1 };
	long total = 0;
	size_t next_unit = 0;

	if (*s == '\0')
		return -1;
	while (*s) {
		long n = 0;
		const char *u;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (*s - '0');
			if (n > CONFIG_DURATION_MAX_S)
				return -1;
		}
		u = *s ? strchr(units + next_unit, *s) : NULL;
		if (!u)
			return -1;
		next_unit = (size_t)(u - units) + 1;
		total += n * unit_seconds[u - units];
		if (total > CONFIG_DURATION_MAX_S)
			return -1;
		s++;
	}
	if (total < CONFIG_DURATION_MIN_S)
		return -1;
	*seconds = total;
	return 0;
}

/* A light check; the Kubernetes client parses the URL for real. */
static int valid_api_server(const char *s)
{
	const char *host;
	size_t scheme = 0;

	if (strncmp(s, "https://", 8) == 0)
		scheme = 8;
	else if (strncmp(s, "http://", 7) == 0)
		scheme = 7;
	if (scheme == 0)
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	host = s + scheme;
	return *host != '\0' && *host != '/' && *host != ':' && *host != '?' && *host != '#';
}

/* The API server rejects a fieldManager longer than 128 or not printable
 * (k8s.io/apimachinery/pkg/apis/meta/v1/validation ValidateFieldManager); ASCII only here,
 * since the value also travels unencoded in logs. */
static int valid_field_manager(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int copy_string(char **out, const char *value, char *err, size_t errlen)
{
	*out = strdup(value);
	return *out ? CONFIG_OK : out_of_memory(err, errlen);
}

static int apply_option(struct config *cfg, enum option_id id, const char *value, const char *name,
			char *err, size_t errlen)
{
	static const char *const outputs[] = { "json", "yaml", NULL };
	static const char *const formats[] = { "json", "text", NULL };
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
	static const char *const gcr_auths[] = { "json-key", "access-token", NULL };
	char selector_err[256];
	int i;

	switch (id) {
	case OPT_REGISTRIES:
		return parse_list(&cfg->registries, LIST_REGISTRIES, value, name, err, errlen);
	case OPT_NAMESPACES:
		return parse_list(&cfg->namespaces, LIST_NAMESPACES, value, name, err, errlen);
	case OPT_EXCLUDE_NAMESPACES:
		return parse_list(&cfg->exclude_namespaces, LIST_NAMESPACES, value, name, err, errlen);
	case OPT_SERVICE_ACCOUNTS:
		return parse_list(&cfg->service_accounts, LIST_SERVICE_ACCOUNTS, value, name, err, errlen);
	case OPT_NAMESPACE_SELECTOR:
		/* An empty Kubernetes selector selects every namespace: too much to get from a
		 * variable left blank. "--namespaces '*'" says it on purpose. */
		if (selector_peek(&(struct selector_lexer){ value, value, 0 }) == TOK_END)
			return fail_value(err, errlen, name, value, 1,
					  "empty selector (use --namespaces '*' for every namespace)");
		if (!config_valid_label_selector(value, selector_err, sizeof selector_err))
			return fail_value(err, errlen, name, value, 1, selector_err);
		return copy_string(&cfg->namespace_selector, value, err, errlen);
	case OPT_SECRET_NAME:
		if (!config_valid_dns_subdomain(value))
			return fail_value(err, errlen, name, value, 1,
					  "not a valid Secret name (DNS-1123 subdomain, at most 253)");
		return copy_string(&cfg->secret_name, value, err, errlen);
	case OPT_FORCE:
		return parse_bool(&cfg->force, value, name, err, errlen);
	case OPT_DRY_RUN:
		return parse_bool(&cfg->dry_run, value, name, err, errlen);
	case OPT_OUTPUT:
		if ((i = parse_choice(value, outputs)) < 0)
			return fail_value(err, errlen, name, value, 1, "must be json or yaml");
		cfg->output = i == 0 ? OUTPUT_JSON : OUTPUT_YAML;
		return CONFIG_OK;
	case OPT_CONCURRENCY:
		return parse_int(&cfg->concurrency, value, 1, 64, name, err, errlen);
	case OPT_TIMEOUT:
		return parse_int(&cfg->timeout_s, value, 1, 3600, name, err, errlen);
	case OPT_DEADLINE:
		return parse_int(&cfg->deadline_s, value, 1, 86400, name, err, errlen);
	case OPT_REFRESH_BEFORE:
		if (config_parse_duration(value, &cfg->refresh_before_s) != 0)
			return fail_value(err, errlen, name, value, 1,
					  "must be a duration of 1m to 24h, like 90m, 6h or 1h30m");
		return CONFIG_OK;
	case OPT_API_SERVER:
		if (!valid_api_server(value))
			return fail_value(err, errlen, name, value, 1, "must be an http:// or https:// URL with a host");
		return copy_string(&cfg->api_server, value, err, errlen);
	case OPT_SERVICEACCOUNT_DIR:
		if (*value == '\0')
			return fail_value(err, errlen, name, value, 1, "must not be empty");
		return copy_string(&cfg->serviceaccount_dir, value, err, errlen);
	case OPT_FIELD_MANAGER:
		if (!valid_field_manager(value))
			return fail_value(err, errlen, name, value, 1, "must be 1..128 printable ASCII characters");
		return copy_string(&cfg->field_manager, value, err, errlen);
	case OPT_LOG_FORMAT:
		if ((i = parse_choice(value, formats)) < 0)
			return fail_value(err, errlen, name, value, 1, "must be json or text");
		cfg->log_format = i == 0 ? LOG_JSON : LOG_TEXT;
		return CONFIG_OK;
	case OPT_LOG_LEVEL:
		if ((i = parse_choice(value, levels)) < 0)
			return fail_value(err, errlen, name, value, 1, "must be debug, info, warn or error");
		cfg->log_level = (enum log_level)i;
		return CONFIG_OK;
	case OPT_ECR_PUBLIC:
		return parse_bool(&cfg->ecr_public, value, name, err, errlen);
	case OPT_EXTRA_DOCKERCONFIG:
		return parse_list(&cfg->extra_dockerconfig, LIST_FILES, value, name, err, errlen);
	case OPT_GCR_REGISTRIES:
		return parse_list(&cfg->gcr_registries, LIST_REGISTRIES, value, name, err, errlen);
	case OPT_GCR_AUTH:
		if ((i = parse_choice(value, gcr_auths)) < 0)
			return fail_value(err, errlen, name, value, 1, "must be json-key or access-token");
		cfg->gcr_auth = i == 0 ? CONFIG_GCR_JSON_KEY : CONFIG_GCR_ACCESS_TOKEN;
		return CONFIG_OK;
	case OPT_WATCH:
		return parse_bool(&cfg->watch, value, name, err, errlen);
	case OPT_LIVENESS_FILE:
		if (*value == '\0')
			return fail_value(err, errlen, name, value, 1, "must not be empty");
		return copy_string(&cfg->liveness_file, value, err, errlen);
	case OPT_COUNT:
		break;
	}
	return fail(err, errlen, "internal error: unknown option");
}

/* ---- usage and the command line ---------------------------------------------------------- */

static void print_usage(FILE *out)
{
	fputs("usage: ecr-refresh [options]\n"
	      "       ecr-refresh check [options]   read-only diagnosis: one line per problem on stdout\n"
	      "\n"
	      "Fetches Amazon ECR authorization tokens (and ECR Public, Google and static\n"
	      "registry credentials) and server-side-applies them as one\n"
	      "kubernetes.io/dockerconfigjson Secret into Kubernetes namespaces.\n"
	      "Every option has an environment variable; a flag beats its variable.\n"
	      "Lists are comma-separated.\n"
	      "\n", out);
	for (int id = 0; id < OPT_COUNT; id++) {
		const struct option_spec *o = &options[id];
		char flag[64], env[80];
		const char *dflt = o->default_text ? o->default_text : o->default_value;

		snprintf(flag, sizeof flag, "%s%s%s", o->flag, o->value_name ? " " : "",
			 o->value_name ? o->value_name : "");
		if (o->env == NULL)
			env[0] = '\0';
		else if (o->value_name == NULL)
			snprintf(env, sizeof env, "$%s=true", o->env);
		else if (o->alias)
			snprintf(env, sizeof env, "$%s (or $%s)", o->env, o->alias);
		else
			snprintf(env, sizeof env, "$%s", o->env);
		/* Two blanks at least between flag and variable, however long the flag. */
		if (env[0])
			fprintf(out, "  %-26s%s%s\n", flag, strlen(flag) < 26 ? " " : "  ", env);
		else
			fprintf(out, "  %s\n", flag);
		fprintf(out, "      %s; default: %s\n", o->help, dflt);
	}
	fputs("  --liveness-probe F         exit 0 when F was touched in the last 60 s (the\n"
	      "      exec liveness probe of --watch; alone on the command line)\n"
	      "  -h, --help                 this text\n"
	      "  --version                  the version\n"
	      "\n"
	      "Exit codes: 0 done, 1 some namespaces failed, 2 usage or configuration error,\n"
	      "3 no AWS or Google credentials or token, 4 Kubernetes unreachable or unauthorised.\n", out);
}

static int find_option(const char *arg, size_t len)
{
	for (int id = 0; id < OPT_COUNT; id++)
		if (strlen(options[id].flag) == len && memcmp(options[id].flag, arg, len) == 0)
			return id;
	return -1;
}

static int scan_args(int argc, char **argv, const char **raw, const char **source, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq;
		int id;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			print_usage(stdout);
			fflush(stdout);
			return CONFIG_EXIT_0;
		}
		if (strcmp(arg, "--version") == 0) {
			fputs("ecr-refresh " ECR_REFRESH_VERSION " (commit " ECR_REFRESH_COMMIT ")\n", stdout);
			fflush(stdout);
			return CONFIG_EXIT_0;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			return fail_value(err, errlen, arg[0] == '-' ? "unknown option" : "unexpected argument",
					  arg, 1, "see --help");
		eq = strchr(arg, '=');
		id = find_option(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (id < 0)
			return fail_value(err, errlen, "unknown option", arg, 1, "see --help");
		source[id] = options[id].flag;
		if (eq) {
			/* "--force=false" lets a flag turn off what a variable turned on. */
			raw[id] = eq + 1;
		} else if (options[id].value_name == NULL) {
			raw[id] = "true";
		} else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			raw[id] = argv[++i];
		} else {
			snprintf(err, errlen, "%s: missing value (%s %s)", options[id].flag, options[id].flag,
				 options[id].value_name);
			return CONFIG_ERROR;
		}
	}
	return CONFIG_OK;
}

/* A variable set to the empty string counts as unset: manifests and templates often
 * declare every variable and leave the unused ones blank. */
static const char *getenv_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	static const char default_source[] = "default";
	const char *raw[OPT_COUNT] = { 0 };
	const char *source[OPT_COUNT] = { 0 };
	int rc;

	memset(cfg, 0, sizeof *cfg);
	if (errlen)
		err[0] = '\0';
	rc = scan_args(argc, argv, raw, source, err, errlen);
	if (rc != CONFIG_OK)
		return rc;
	for (int id = 0; id < OPT_COUNT; id++) {
		const struct option_spec *o = &options[id];

		if (raw[id] == NULL && o->env && (raw[id] = getenv_set(o->env)) != NULL)
			source[id] = o->env;
		if (raw[id] == NULL && o->alias && (raw[id] = getenv_set(o->alias)) != NULL)
			source[id] = o->alias;
		if (raw[id] == NULL && o->default_value) {
			raw[id] = o->default_value;
			source[id] = default_source;
		}
		if (raw[id] == NULL)
			continue;
		rc = apply_option(cfg, (enum option_id)id, raw[id], source[id], err, errlen);
		if (rc != CONFIG_OK) {
			config_free(cfg);
			return rc;
		}
	}
	if (cfg->watch && (cfg->dry_run || cfg->output != OUTPUT_NONE)) {
		snprintf(err, errlen, "%s: cannot be combined with --dry-run or --output", source[OPT_WATCH]);
		rc = CONFIG_ERROR;
		config_free(cfg);
		return rc;
	}
	if (cfg->liveness_file && !cfg->watch) {
		snprintf(err, errlen, "%s: needs --watch", source[OPT_LIVENESS_FILE]);
		rc = CONFIG_ERROR;
		config_free(cfg);
		return rc;
	}
	if (cfg->deadline_s < cfg->timeout_s) {
		/* Blame the one that was set: with the default deadline, the timeout is too long. */
		char problem[96];

		if (source[OPT_DEADLINE] != default_source) {
			snprintf(problem, sizeof problem, "must be at least the request timeout (%d)", cfg->timeout_s);
			rc = fail_value(err, errlen, source[OPT_DEADLINE], raw[OPT_DEADLINE], 0, problem);
		} else {
			snprintf(problem, sizeof problem, "must not exceed the run deadline (%d)", cfg->deadline_s);
			rc = fail_value(err, errlen, source[OPT_TIMEOUT], raw[OPT_TIMEOUT], 0, problem);
		}
		config_free(cfg);
		return rc;
	}
	return CONFIG_OK;
}

static void free_list(struct config_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free_list(&cfg->registries);
	free_list(&cfg->namespaces);
	free_list(&cfg->exclude_namespaces);
	free_list(&cfg->service_accounts);
	free_list(&cfg->extra_dockerconfig);
	free_list(&cfg->gcr_registries);
	free(cfg->namespace_selector);
	free(cfg->secret_name);
	free(cfg->api_server);
	free(cfg->serviceaccount_dir);
	free(cfg->field_manager);
	free(cfg->liveness_file);
	memset(cfg, 0, sizeof *cfg);
}
