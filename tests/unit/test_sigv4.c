/*
 * sigv4 against both copies of the AWS SigV4 test suite, read at run time from
 * $SIGV4_TEST_SUITE or $SOURCE_ROOT/../shared/sigv4-test-suite (see its SOURCE.txt):
 *   aws-sig-v4-test-suite/<case>/<case>.{req,creq,sts,authz}   (the original AWS zip)
 *   aws-c-auth/v4/<case>/{context.json,request.txt,header-*.txt} (awslabs/aws-c-auth)
 * plus the ECR GetAuthorizationToken example, the date formatter, every truncation of the
 * output buffers and the input limits. A missing suite folder is a failure, not a skip.
 */
#include "sigv4.h"
#include "unit.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <bearssl_hash.h>
#include <cJSON.h>

#define ACCESS_KEY "AKIDEXAMPLE"
#define SECRET_KEY "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
/* The example session token of the original suite (post-sts-token/readme.txt). */
#define SUITE_TOKEN "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define MAX_PARSED_HEADERS (SIGV4_MAX_HEADERS + 8)
#define OUT_SIZE 8192

static const struct sigv4_key suite_key = { ACCESS_KEY, SECRET_KEY };

/* Cases that are not run, with the reason printed. Matched on "<suite>/<case>". */
static const struct {
	const char *name;
	const char *reason;
} skipped_cases[] = {
	{ "aws-sig-v4-test-suite/get-header-value-multiline",
	  "the original zip joins obs-fold lines with ',' (value1,value2,value3); the newer "
	  "aws-c-auth copy of the same case, botocore (' '.join(value.split())) and "
	  "docs/design.md \"SigV4\" join them with a space, which is what sigv4 does and what "
	  "aws-c-auth/get-header-value-multiline checks" },
};

static int cases_run, cases_skipped;

/* ---- files ---------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap + 65536);
			if (bigger == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = bigger;
			cap += 65536;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

/* snprintf for file names: one that does not fit becomes "", which then fails to open. */
static char *path_format(char *out, size_t size, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(out, size, format, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
	return out;
}

/* Expected-output files end in a hash or signature; some end with a newline too. */
static char *read_expected(const char *dir, const char *file)
{
	char path[1024];
	char *text;
	size_t len;

	path_format(path, sizeof path, "%s/%s", dir, file);
	text = read_file(path, &len);
	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return NULL;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return text;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* ---- request files (.req, request.txt) ---------------------------------------------------- */

struct parsed_request {
	char *text;                   /* the file's bytes, cut in place */
	struct sigv4_header headers[MAX_PARSED_HEADERS];
	struct sigv4_request req;
};

/*
 * "METHOD SP target SP HTTP/1.1", header lines ("Name:value"; a line that starts with SP or
 * HTAB continues the previous value, RFC 9112 section 5.2 obs-fold, and stays inside it as
 * "\n  ..."), an empty line, the body. The target may hold raw spaces (get-space), so the
 * version is found from the right. Empty lines before the request line are skipped
 * (aws-c-auth post-sts-* start with one; RFC 9112 section 2.2 allows that).
 */
static int parse_request(char *text, size_t len, struct parsed_request *out)
{
	char *end = text + len, *p = text, *eol, *sp1, *sp2, *q;
	size_t count = 0;

	memset(out, 0, sizeof *out);
	out->text = text;
	while (p < end && (*p == '\n' || *p == '\r'))
		p++;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	*eol = '\0';
	if (eol > p && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = strchr(p, ' ');
	sp2 = strrchr(p, ' ');
	if (sp1 == NULL || sp2 == sp1 || strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return -1;
	*sp1 = '\0';
	*sp2 = '\0';
	out->req.method = p;
	out->req.path = sp1 + 1;
	q = strchr(sp1 + 1, '?');
	if (q) {
		*q = '\0';
		out->req.query = q + 1;
	}
	p = eol < end ? eol + 1 : end;

	while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		char *colon = memchr(p, ':', (size_t)(end - p));
		char *line_end = memchr(p, '\n', (size_t)(end - p));
		if (line_end == NULL)
			line_end = end;
		if (colon == NULL || colon > line_end || count == MAX_PARSED_HEADERS)
			return -1;
		while (line_end < end && line_end + 1 < end && (line_end[1] == ' ' || line_end[1] == '\t')) {
			char *next = memchr(line_end + 1, '\n', (size_t)(end - line_end - 1));
			line_end = next ? next : end;
		}
		*colon = '\0';
		out->headers[count].name = p;
		out->headers[count].value = colon + 1;
		count++;
		p = line_end < end ? line_end + 1 : end;
		if (line_end > colon && line_end[-1] == '\r')
			line_end[-1] = '\0';
		if (line_end < end)
			*line_end = '\0';
	}
	if (p < end) {
		p += (*p == '\r') ? 2 : 1;  /* the empty line */
		out->req.body = p;
		out->req.body_len = (size_t)(end - p);
	}
	out->req.headers = out->headers;
	out->req.header_count = count;
	return 0;
}

static void add_header(struct parsed_request *r, const char *name, const char *value)
{
	if (r->req.header_count < MAX_PARSED_HEADERS) {
		r->headers[r->req.header_count].name = name;
		r->headers[r->req.header_count].value = value;
		r->req.header_count++;
	}
}

/* ---- running one case ---------------------------------------------------------------------- */

static const char *skip_reason(const char *name)
{
	for (size_t i = 0; i < sizeof skipped_cases / sizeof skipped_cases[0]; i++)
		if (strcmp(skipped_cases[i].name, name) == 0)
			return skipped_cases[i].reason;
	return NULL;
}

static void report_skip(const char *name, const char *reason)
{
	printf("SKIP %s: %s\n", name, reason);
	cases_skipped++;
}

static void check_signing(const char *name, const struct sigv4_request *req,
                          const struct sigv4_key *key, const struct sigv4_scope *scope,
                          const char *creq, const char *sts, const char *authz)
{
	static char out[OUT_SIZE];
	int failed_before = unit_failed;
	long n;

	n = sigv4_canonical_request(req, scope->normalize_path, out, sizeof out);
	CHECK(n >= 0 && (size_t)n == strlen(out));
	CHECK_EQ_STR(out, creq);
	n = sigv4_string_to_sign(req, scope, out, sizeof out);
	CHECK(n >= 0 && (size_t)n == strlen(out));
	CHECK_EQ_STR(out, sts);
	n = sigv4_authorization(req, key, scope, out, sizeof out);
	CHECK(n >= 0 && (size_t)n == strlen(out));
	CHECK_EQ_STR(out, authz);
	printf("%s %s\n", unit_failed == failed_before ? "ok  " : "FAIL", name);
	cases_run++;
}

/* aws-sig-v4-test-suite/.../<case>/<case>.req with .creq .sts .authz beside it. */
static void run_original_case(const char *dir, const char *label)
{
	const char *base = strrchr(dir, '/') + 1;
	const char *reason = skip_reason(label);
	char path[1024], file[256];
	char *text, *creq, *sts, *authz;
	struct parsed_request r;
	size_t len;
	struct sigv4_scope scope = { SUITE_DATE, "us-east-1", "service", 1 };

	if (reason) {
		report_skip(label, reason);
		return;
	}
	path_format(path, sizeof path, "%s/%s.req", dir, base);
	text = read_file(path, &len);
	path_format(file, sizeof file, "%s.creq", base);
	creq = read_expected(dir, file);
	path_format(file, sizeof file, "%s.sts", base);
	sts = read_expected(dir, file);
	path_format(file, sizeof file, "%s.authz", base);
	authz = read_expected(dir, file);
	CHECK(text && creq && sts && authz);
	if (text && creq && sts && authz) {
		int parsed = parse_request(text, len, &r);
		CHECK_EQ_INT(parsed, 0);
		if (parsed == 0)
			check_signing(label, &r.req, &suite_key, &scope, creq, sts, authz);
	}
	free(text);
	free(creq);
	free(sts);
	free(authz);
}

/* Walks the original suite: a folder holding <name>/<name>.req is a case, others group
 * cases (normalize-path/, post-sts-token/). */
static void walk_original(const char *dir, const char *label_prefix)
{
	struct dirent **entries;
	int n = scandir(dir, &entries, not_dot, alphasort);

	for (int i = 0; i < n; i++) {
		char sub[1024], req[1280], label[512];
		path_format(sub, sizeof sub, "%s/%s", dir, entries[i]->d_name);
		path_format(req, sizeof req, "%s/%s.req", sub, entries[i]->d_name);
		if (is_dir(sub)) {
			if (file_exists(req)) {
				path_format(label, sizeof label, "%s/%s", label_prefix, entries[i]->d_name);
				run_original_case(sub, label);
			} else {
				path_format(label, sizeof label, "%s/%s", label_prefix, entries[i]->d_name);
				walk_original(sub, label);
			}
		}
		free(entries[i]);
	}
	if (n >= 0)
		free(entries);
}

static int run_original_suite(const char *root)
{
	char dir[1024];
	int before = cases_run + cases_skipped;

	path_format(dir, sizeof dir, "%s/aws-sig-v4-test-suite", root);
	walk_original(dir, "aws-sig-v4-test-suite");
	return cases_run + cases_skipped - before;
}

static void hex_sha256(const void *data, size_t len, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	br_sha256_context ctx;
	unsigned char digest[br_sha256_SIZE];

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, data, len);
	br_sha256_out(&ctx, digest);
	for (size_t i = 0; i < sizeof digest; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 15];
	}
	out[64] = '\0';
}

static const char *json_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int json_true(const cJSON *obj, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static int iso_to_amz_date(const char *iso, char out[17])
{
	size_t n = 0;

	for (; iso && *iso && n < 16; iso++)
		if (*iso != '-' && *iso != ':')
			out[n++] = *iso;
	out[n] = '\0';
	return n == 16 && (iso == NULL || *iso == '\0') ? 0 : -1;
}

/*
 * aws-c-auth/v4/<case>: context.json gives the inputs. The signer there adds X-Amz-Date,
 * X-Amz-Security-Token (unless omit_session_token) and, with sign_body, an
 * x-amz-content-sha256 of the body; here the caller adds them, as aws.c will.
 */
static void run_aws_c_auth_case(const char *dir, const char *label)
{
	char path[1024], amz_date[17], body_hash[65];
	char *context_text, *text, *creq, *sts, *signature, *signed_request;
	const char *reason = skip_reason(label), *authz = NULL;
	cJSON *context = NULL;
	struct parsed_request r;
	size_t len;

	if (reason) {
		report_skip(label, reason);
		return;
	}
	path_format(path, sizeof path, "%s/context.json", dir);
	context_text = read_file(path, NULL);
	path_format(path, sizeof path, "%s/request.txt", dir);
	text = read_file(path, &len);
	creq = read_expected(dir, "header-canonical-request.txt");
	sts = read_expected(dir, "header-string-to-sign.txt");
	signature = read_expected(dir, "header-signature.txt");
	signed_request = read_expected(dir, "header-signed-request.txt");
	CHECK(context_text && text && creq && sts && signature && signed_request);
	if (!(context_text && text && creq && sts && signature && signed_request))
		goto out;
	context = cJSON_Parse(context_text);
	CHECK(context != NULL);
	if (context == NULL)
		goto out;

	const cJSON *credentials = cJSON_GetObjectItemCaseSensitive(context, "credentials");
	struct sigv4_key key = { json_string(credentials, "access_key_id"),
	                         json_string(credentials, "secret_access_key") };
	const char *token = json_string(credentials, "token");
	struct sigv4_scope scope = { amz_date, json_string(context, "region"),
	                             json_string(context, "service"), json_true(context, "normalize") };
	CHECK_EQ_INT(iso_to_amz_date(json_string(context, "timestamp"), amz_date), 0);
	CHECK_EQ_INT(parse_request(text, len, &r), 0);

	add_header(&r, "X-Amz-Date", amz_date);
	if (token && !json_true(context, "omit_session_token"))
		add_header(&r, "X-Amz-Security-Token", token);
	if (json_true(context, "sign_body")) {
		hex_sha256(r.req.body, r.req.body_len, body_hash);
		add_header(&r, "x-amz-content-sha256", body_hash);
	}
	/* The expected Authorization value is the signed request's "Authorization:" line. */
	for (char *line = signed_request; line && *line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, "Authorization:", 14) == 0)
			authz = line + 14;
		line = nl ? nl + 1 : NULL;
	}
	CHECK(authz != NULL);
	if (authz) {
		size_t alen = strlen(authz), slen = strlen(signature);
		/* the signature file and the header agree */
		CHECK(alen > slen && strcmp(authz + alen - slen, signature) == 0);
		check_signing(label, &r.req, &key, &scope, creq, sts, authz);
	}
out:
	cJSON_Delete(context);
	free(context_text);
	free(text);
	free(creq);
	free(sts);
	free(signature);
	free(signed_request);
}

static int run_aws_c_auth_suite(const char *root)
{
	char dir[1024];
	struct dirent **entries;
	int before = cases_run + cases_skipped, n;

	path_format(dir, sizeof dir, "%s/aws-c-auth/v4", root);
	n = scandir(dir, &entries, not_dot, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[1280], query_file[1400], label[512];
		path_format(sub, sizeof sub, "%s/%s", dir, entries[i]->d_name);
		path_format(label, sizeof label, "aws-c-auth/%s", entries[i]->d_name);
		if (is_dir(sub)) {
			run_aws_c_auth_case(sub, label);
			path_format(query_file, sizeof query_file, "%s/query-signature.txt", sub);
			if (file_exists(query_file)) {
				char query_label[600];
				path_format(query_label, sizeof query_label, "%s (query-*.txt)", label);
				report_skip(query_label, "query-signed (presigned URL) variant; sigv4 signs "
				            "headers only, as every ECR/STS call here is header-signed");
			}
		}
		free(entries[i]);
	}
	if (n >= 0)
		free(entries);
	return cases_run + cases_skipped - before;
}

/* ---- the ECR example -------------------------------------------------------------------------- */

/* The text between the line "marker" (searched from *from) and the next line starting
 * with "---" or "===", without its final newline; *from moves past it. */
static char *section(char **from, const char *marker)
{
	char *start = strstr(*from, marker), *end;

	if (start == NULL)
		return NULL;
	start = strchr(start, '\n');
	if (start == NULL)
		return NULL;
	start++;
	for (end = start; *end; ) {
		if (strncmp(end, "---", 3) == 0 || strncmp(end, "===", 3) == 0)
			break;
		char *nl = strchr(end, '\n');
		end = nl ? nl + 1 : end + strlen(end);
	}
	*from = end;
	if (end > start && end[-1] == '\n')
		end--;
	*end = '\0';
	return start;
}

static void test_ecr_example(const char *root)
{
	static const char *expected_signatures[2] = {
		"527a2155e9afc2426cb4c659023df9c031e8103458f349819615ff25111f5de0",
		"82f08cded97b0c75e89032996b74f0672a658c189f023c39c6d6c1f76c2ef80e",
	};
	char path[1024], out[OUT_SIZE], *text, *cursor;
	struct sigv4_scope scope = { SUITE_DATE, "us-east-1", "ecr", 1 };

	path_format(path, sizeof path, "%s/ecr-getauthorizationtoken-example.txt", root);
	text = read_file(path, NULL);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	cursor = text;
	for (int with_token = 0; with_token < 2; with_token++) {
		/* What aws.c sends: POST / with body {} (docs/design.md "ECR GetAuthorizationToken"). */
		struct sigv4_header headers[] = {
			{ "Content-Type", "application/x-amz-json-1.1" },
			{ "X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" },
			{ "X-Amz-Date", SUITE_DATE },
			{ "Host", "api.ecr.us-east-1.amazonaws.com" },
			{ "X-Amz-Security-Token", SUITE_TOKEN },
		};
		struct sigv4_request req = { "POST", "/", NULL, headers, with_token ? 5 : 4, "{}", 2 };
		char *creq = section(&cursor, "--- canonical request");
		char *sts = section(&cursor, "--- string to sign");
		char *signed_headers = section(&cursor, "--- signed request headers");
		char *authz = signed_headers ? strstr(signed_headers, "Authorization: ") : NULL;
		char *sig;

		CHECK(creq && sts && authz);
		if (!(creq && sts && authz))
			break;
		authz += strlen("Authorization: ");
		if (strchr(authz, '\n'))
			*strchr(authz, '\n') = '\0';
		check_signing(with_token ? "ecr-example (session token)" : "ecr-example", &req,
		              &suite_key, &scope, creq, sts, authz);
		CHECK(sigv4_authorization(&req, &suite_key, &scope, out, sizeof out) > 0);
		sig = strstr(out, "Signature=");
		CHECK(sig != NULL);
		if (sig)
			CHECK_EQ_STR(sig + 10, expected_signatures[with_token]);
	}
	free(text);
}

/* ---- properties --------------------------------------------------------------------------------- */

static void test_amz_date(void)
{
	static const struct {
		long long t;
		const char *s;
	} rows[] = {
		{ 0, "19700101T000000Z" },
		{ 1440938160, "20150830T123600Z" },
		{ 951868799, "20000229T235959Z" },
		{ 4107542400LL, "21000301T000000Z" },
		{ -1, "19691231T235959Z" },
		{ 2147483648LL, "20380119T031408Z" },
		{ -2203934400LL, "19000228T120000Z" },
		{ 253402300799LL, "99991231T235959Z" },
		{ 253402300800LL, "99991231T235959Z" },       /* clamped */
		{ -62167219200LL, "00000101T000000Z" },
		{ -99999999999999LL, "00000101T000000Z" },    /* clamped */
	};
	char out[17];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		memset(out, 'x', sizeof out);
		sigv4_amz_date(rows[i].t, out);
		CHECK_EQ_STR(out, rows[i].s);
	}
}

static const struct sigv4_header ecr_headers[] = {
	{ "Content-Type", "application/x-amz-json-1.1" },
	{ "Host", "api.ecr.us-east-1.amazonaws.com" },
	{ "X-Amz-Date", SUITE_DATE },
	{ "X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" },
};
static const struct sigv4_request ecr_request = { "POST", "/", NULL, ecr_headers, 4, "{}", 2 };
static const struct sigv4_scope ecr_scope = { SUITE_DATE, "us-east-1", "ecr", 1 };

static long call(int which, const struct sigv4_request *req, const struct sigv4_scope *scope,
                 char *out, size_t outlen)
{
	switch (which) {
	case 0: return sigv4_canonical_request(req, scope->normalize_path, out, outlen);
	case 1: return sigv4_string_to_sign(req, scope, out, outlen);
	default: return sigv4_authorization(req, &suite_key, scope, out, outlen);
	}
}

/* Every output size from 0 to the exact fit, in heap buffers of exactly that size so that
 * ASan sees any byte written past the end. */
static void test_truncation(void)
{
	char full[OUT_SIZE];

	for (int which = 0; which < 3; which++) {
		long need = call(which, &ecr_request, &ecr_scope, full, sizeof full);
		CHECK(need > 0);
		if (need <= 0)
			continue;
		for (long size = 0; size <= need + 1; size++) {
			char *buf = malloc((size_t)size + 1);
			buf[0] = '#';
			long n = call(which, &ecr_request, &ecr_scope, buf, (size_t)size);
			if (size <= need) {
				CHECK_EQ_INT(n, -1);
				CHECK(buf[0] == (size == 0 ? '#' : '\0'));
			} else {
				CHECK_EQ_INT(n, need);
				CHECK_EQ_STR(buf, full);
			}
			free(buf);
		}
	}
}

static void check_all_fail(const struct sigv4_request *req, const struct sigv4_scope *scope,
                           const char *what)
{
	char out[OUT_SIZE];
	int failed_before = unit_failed;

	CHECK_EQ_INT(sigv4_canonical_request(req, scope->normalize_path, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_string_to_sign(req, scope, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_authorization(req, &suite_key, scope, out, sizeof out), -1);
	CHECK_EQ_STR(out, "");
	if (unit_failed != failed_before)
		fprintf(stderr, "  ... while rejecting: %s\n", what);
}

static void check_all_pass(const struct sigv4_request *req, const char *what)
{
	char out[OUT_SIZE];
	int failed_before = unit_failed;

	CHECK(sigv4_canonical_request(req, 1, out, sizeof out) > 0);
	CHECK(sigv4_string_to_sign(req, &ecr_scope, out, sizeof out) > 0);
	CHECK(sigv4_authorization(req, &suite_key, &ecr_scope, out, sizeof out) > 0);
	if (unit_failed != failed_before)
		fprintf(stderr, "  ... while accepting: %s\n", what);
}

static void test_limits(void)
{
	static struct sigv4_header many[SIGV4_MAX_HEADERS + 1];
	static char names[SIGV4_MAX_HEADERS + 1][16];
	static char query[SIGV4_MAX_QUERY * 8 + 64];
	struct sigv4_request req = ecr_request;
	size_t n = 0;

	many[0].name = "Host";
	many[0].value = "example.amazonaws.com";
	for (size_t i = 1; i <= SIGV4_MAX_HEADERS; i++) {
		snprintf(names[i], sizeof names[i], "x-h%zu", i);
		many[i].name = names[i];
		many[i].value = "v";
	}
	req.headers = many;
	req.header_count = SIGV4_MAX_HEADERS;
	check_all_pass(&req, "SIGV4_MAX_HEADERS headers");
	req.header_count = SIGV4_MAX_HEADERS + 1;
	check_all_fail(&req, &ecr_scope, "SIGV4_MAX_HEADERS + 1 headers");

	req = ecr_request;
	for (int i = 0; i < SIGV4_MAX_QUERY; i++)
		n += (size_t)snprintf(query + n, sizeof query - n, "%sq%d=1", i ? "&" : "", i);
	req.query = query;
	check_all_pass(&req, "SIGV4_MAX_QUERY parameters");
	snprintf(query + n, sizeof query - n, "&&&&");
	check_all_pass(&req, "empty pieces between '&' are no parameters");
	snprintf(query + n, sizeof query - n, "&one=more");
	check_all_fail(&req, &ecr_scope, "SIGV4_MAX_QUERY + 1 parameters");
}

static void test_rejects(void)
{
	struct sigv4_header h[6];
	struct sigv4_request req;
	struct sigv4_scope scope;
	struct sigv4_key key;
	char out[OUT_SIZE], long_secret[SIGV4_MAX_SECRET + 2];
	static const struct {
		const char *name, *value, *what;
	} bad_headers[] = {
		{ "My\001Header", "v", "control character in a name" },
		{ "My Header", "v", "space in a name" },
		{ "My:Header", "v", "colon in a name" },
		{ "", "v", "empty name" },
		{ "X-Injected", "a\r\nEvil: yes", "CRLF without fold in a value" },
		{ "X-Injected", "a\nEvil: yes", "bare LF in a value" },
		{ "X-Injected", "a\rb", "bare CR in a value" },
		{ "X-Ctl", "a\001b", "control character in a value" },
		{ "X-Ctl", "a\177b", "DEL in a value" },
		{ "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", "x-amz-content-sha256 twice" },
		{ "x-amz-date", SUITE_DATE, "x-amz-date twice" },
	};

	for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
		memcpy(h, ecr_headers, sizeof ecr_headers);
		h[4].name = "x-amz-content-sha256";
		h[4].value = "UNSIGNED-PAYLOAD";
		h[5].name = bad_headers[i].name;
		h[5].value = bad_headers[i].value;
		req = ecr_request;
		req.headers = h;
		req.header_count = 6;
		check_all_fail(&req, &ecr_scope, bad_headers[i].what);
	}

	/* An x-amz-date other than the scope's: only the signing functions know the scope. */
	memcpy(h, ecr_headers, sizeof ecr_headers);
	h[2].value = "20150830T123601Z";
	req = ecr_request;
	req.headers = h;
	CHECK(sigv4_canonical_request(&req, 1, out, sizeof out) > 0);
	CHECK_EQ_INT(sigv4_string_to_sign(&req, &ecr_scope, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_authorization(&req, &suite_key, &ecr_scope, out, sizeof out), -1);

	req = ecr_request;
	req.headers = ecr_headers + 2;    /* no Host */
	req.header_count = 2;
	check_all_fail(&req, &ecr_scope, "no host header");

	static const char *bad_paths[] = { "abc", "/a\001b", "/a\nb", "*", "/a?b=1", "/a#frag" };
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
		req = ecr_request;
		req.path = bad_paths[i];
		check_all_fail(&req, &ecr_scope, bad_paths[i]);
	}
	static const char *bad_queries[] = { "a=\001", "a=b#frag", "a=b\r\n" };
	for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
		req = ecr_request;
		req.query = bad_queries[i];
		check_all_fail(&req, &ecr_scope, bad_queries[i]);
	}
	static const char *bad_methods[] = { "", "GE T", "GET\n" };
	for (size_t i = 0; i < sizeof bad_methods / sizeof bad_methods[0]; i++) {
		req = ecr_request;
		req.method = bad_methods[i];
		check_all_fail(&req, &ecr_scope, "bad method");
	}
	req = ecr_request;
	req.body = NULL;
	req.body_len = 5;
	check_all_fail(&req, &ecr_scope, "NULL body with a length");
	req.path = NULL;
	check_all_fail(&req, &ecr_scope, "NULL path");

	static const char *bad_dates[] = { "20150830T1236Z", "2015083OT123600Z", "20150830 123600Z",
	                                   "20150830T123600z", "20150830T123600Z0", "" };
	for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
		scope = ecr_scope;
		scope.amz_date = bad_dates[i];
		CHECK_EQ_INT(sigv4_string_to_sign(&ecr_request, &scope, out, sizeof out), -1);
		CHECK_EQ_INT(sigv4_authorization(&ecr_request, &suite_key, &scope, out, sizeof out), -1);
	}
	scope = ecr_scope;
	scope.amz_date = NULL;
	CHECK_EQ_INT(sigv4_authorization(&ecr_request, &suite_key, &scope, out, sizeof out), -1);
	static const char *bad_parts[] = { "", "us/east", "us east", "us,east", "us\001" };
	for (size_t i = 0; i < sizeof bad_parts / sizeof bad_parts[0]; i++) {
		scope = ecr_scope;
		scope.region = bad_parts[i];
		CHECK_EQ_INT(sigv4_authorization(&ecr_request, &suite_key, &scope, out, sizeof out), -1);
		scope = ecr_scope;
		scope.service = bad_parts[i];
		CHECK_EQ_INT(sigv4_authorization(&ecr_request, &suite_key, &scope, out, sizeof out), -1);
		key = suite_key;
		key.access_key_id = bad_parts[i];
		CHECK_EQ_INT(sigv4_authorization(&ecr_request, &key, &ecr_scope, out, sizeof out), -1);
	}
	memset(long_secret, 'k', sizeof long_secret - 1);
	long_secret[sizeof long_secret - 1] = '\0';
	key = suite_key;
	key.secret_access_key = long_secret;      /* SIGV4_MAX_SECRET + 1 bytes */
	CHECK_EQ_INT(sigv4_authorization(&ecr_request, &key, &ecr_scope, out, sizeof out), -1);
	long_secret[SIGV4_MAX_SECRET] = '\0';     /* exactly the limit */
	CHECK(sigv4_authorization(&ecr_request, &key, &ecr_scope, out, sizeof out) > 0);
	key.secret_access_key = NULL;
	CHECK_EQ_INT(sigv4_authorization(&ecr_request, &key, &ecr_scope, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_authorization(&ecr_request, NULL, &ecr_scope, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_authorization(NULL, &suite_key, &ecr_scope, out, sizeof out), -1);
	CHECK_EQ_INT(sigv4_authorization(&ecr_request, &suite_key, NULL, out, sizeof out), -1);
}

/* The URI and query lines of the canonical request of GET path?query. */
static void check_uri(const char *path, const char *query, int normalize, const char *expected)
{
	struct sigv4_header host = { "Host", "example.amazonaws.com" };
	struct sigv4_request req = { "GET", path, query, &host, 1, NULL, 0 };
	char out[OUT_SIZE];
	char *start, *end;

	if (sigv4_canonical_request(&req, normalize, out, sizeof out) < 0) {
		CHECK_EQ_STR("(rejected)", expected);
		return;
	}
	start = strchr(out, '\n') + 1;
	end = strchr(strchr(start, '\n') + 1, '\n');
	*end = '\0';
	if (strcmp(start, expected) != 0)
		fprintf(stderr, "path [%s] query [%s] normalize %d\n", path, query ? query : "(null)", normalize);
	CHECK_EQ_STR(start, expected);
}

static void test_uri(void)
{
	check_uri("", NULL, 1, "/\n");
	check_uri("", NULL, 0, "/\n");
	check_uri("/a%20b", NULL, 1, "/a%2520b\n");            /* encoded twice */
	check_uri("/a%20b", NULL, 0, "/a%20b\n");              /* S3: once */
	check_uri("/a%2fb/c%7E/%zz", NULL, 0, "/a%2Fb/c~/%25zz\n");
	check_uri("/a%2fb/c%7E", NULL, 1, "/a%252fb/c%257E\n");
	check_uri("/a/b/../c/./d//", NULL, 1, "/a/c/d/\n");
	check_uri("/a/b/../c/./d//", NULL, 0, "/a/b/../c/./d//\n");
	check_uri("/a/b/..", NULL, 1, "/a\n");
	check_uri("/a/b/../", NULL, 1, "/a/\n");
	check_uri("/../../x/..", NULL, 1, "/\n");
	check_uri("/a/../../b", NULL, 1, "/b\n");
	check_uri("/.../..a/a../.x", NULL, 1, "/.../..a/a../.x\n");
	check_uri("/a:b@c!$&'()*+,;=", NULL, 1, "/a%3Ab%40c%21%24%26%27%28%29%2A%2B%2C%3B%3D\n");
	check_uri("/\xe1\x88\xb4 x", NULL, 1, "/%E1%88%B4%20x\n");
	check_uri("/", "b=%7e&a=x+y&c&&=v&a=%zz", 1, "/\n=v&a=%25zz&a=x%2By&b=~&c=");
	check_uri("/", "k=a b&k=a%20b&K=%41", 1, "/\nK=A&k=a%20b&k=a%20b");
	check_uri("/", "a-b=1&a=2&a.=3", 1, "/\na=2&a-b=1&a.=3");
	check_uri("/", "x=a=b=c&y==", 1, "/\nx=a%3Db%3Dc&y=%3D");
	check_uri("/", "%E1%88%B4=1&%e1%88%b4=0&z", 1, "/\n%E1%88%B4=0&%E1%88%B4=1&z=");
	check_uri("/", "&", 1, "/\n");
	check_uri("/", "", 1, "/\n");
}

static void test_headers(void)
{
	struct sigv4_header h[] = {
		{ "X-B", " 1 " },
		{ "Host", "example.amazonaws.com" },
		{ "x-b", "2\t\t 3" },
		{ "X-a", "" },
		{ "X-Fold", "one\r\n  two\n\tthree " },
		{ "x-amz-content-sha256", " UNSIGNED-PAYLOAD " },
		{ "X-B", "   " },
	};
	struct sigv4_request req = { "PUT", "/", NULL, h, 7, "ignored", 7 };
	char out[OUT_SIZE];

	CHECK(sigv4_canonical_request(&req, 1, out, sizeof out) > 0);
	CHECK_EQ_STR(out, "PUT\n/\n\n"
	             "host:example.amazonaws.com\n"
	             "x-a:\n"
	             "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
	             "x-b:1,2 3,\n"
	             "x-fold:one two three\n"
	             "\n"
	             "host;x-a;x-amz-content-sha256;x-b;x-fold\n"
	             "UNSIGNED-PAYLOAD");
	CHECK(sigv4_authorization(&req, &suite_key, &ecr_scope, out, sizeof out) > 0);
	CHECK(strstr(out, "SignedHeaders=host;x-a;x-amz-content-sha256;x-b;x-fold, Signature=") != NULL);
}

/* ---- main ---------------------------------------------------------------------------------------- */

int main(void)
{
	char root[1024];
	const char *env = getenv("SIGV4_TEST_SUITE");
	int original, aws_c_auth;

	if (env && *env)
		path_format(root, sizeof root, "%s", env);
	else
		path_format(root, sizeof root, "%s/../shared/sigv4-test-suite",
		         getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".");
	if (!is_dir(root)) {
		fprintf(stderr, "test suite folder %s is missing: set SIGV4_TEST_SUITE or put shared/ "
		        "beside the repository\n", root);
		CHECK(is_dir(root));
		return UNIT_DONE();
	}

	original = run_original_suite(root);
	aws_c_auth = run_aws_c_auth_suite(root);
	/* The copies hold 31 and 38 header-signing cases (SOURCE.txt); fewer means a broken
	 * or partial folder, not a pass. */
	CHECK(original >= 31);
	CHECK(aws_c_auth >= 38 * 2);   /* each case and its query variant */
	test_ecr_example(root);
	printf("vector cases: %d run, %d skipped\n", cases_run, cases_skipped);

	test_amz_date();
	test_truncation();
	test_limits();
	test_rejects();
	test_uri();
	test_headers();
	return UNIT_DONE();
}
