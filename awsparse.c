/*
 * awsparse: the pure readers of AWS answers; see awsparse.h.
 */
#include "awsparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "civil.h"
#include "log.h"
#include "secret.h"

#define XML_MAX_DEPTH       32
#define XML_MAX_NAME        64
#define XML_MAX_TEXT        16384

/* ---- small helpers ------------------------------------------------------------------- */

int aws_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Secret values go into HTTP header fields: visible ASCII only (RFC 9110 5.5 allows more,
 * but no AWS key, token or secret has anything else). */
int aws_visible_ascii(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

int aws_set_value(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap || !aws_visible_ascii(src, n))
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* An AWS error message is peer text: it may echo what we sent (log_peer_text). */
static void message_text(char *dst, size_t cap, const char *src, size_t n)
{
	log_peer_text(dst, cap, src, n);
}

void aws_credentials_wipe(struct aws_credentials *creds)
{
	explicit_bzero(creds, sizeof *creds);
}

/* ---- error classification ------------------------------------------------------------- */

void aws_sanitize_error_type(const char *in, size_t len, char *out, size_t outlen)
{
	const char *colon = memchr(in, ':', len);
	const char *start = in;
	size_t i;

	if (colon)
		len = (size_t)(colon - in);
	for (i = 0; i < len; i++)
		if (in[i] == '#')
			start = in + i + 1;
	len -= (size_t)(start - in);
	/* Whitespace and control characters never belong in a type name. */
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (outlen == 0)
		return;
	if (!aws_visible_ascii(start, len) || len >= outlen)
		len = 0;
	/* A type name never looks like a token: one that does is echoed data, not a type. */
	if (len > 0) {
		char shown[LOG_PEER_TEXT_MAX + 1];

		if (log_peer_text(shown, sizeof shown, start, len) != 0)
			len = 0;
	}
	memcpy(out, start, len);
	out[len] = '\0';
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int aws_retryable_error(const char *type, int status)
{
	static const char *const exact[] = {
		"TooManyRequestsException", "RequestLimitExceeded", "LimitExceededException",
		"SlowDown", "RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException",
		"TransactionInProgressException", "EC2ThrottledException", "BandwidthLimitExceeded",
		"PriorRequestNotComplete", "RequestTimeout", "RequestTimeoutException", "InternalError",
		"ServiceUnavailable", "ServerException",
	};
	size_t i;

	if (starts_with(type, "Throttling") || starts_with(type, "Throttled"))
		return 1;
	for (i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if (strcmp(type, exact[i]) == 0)
			return 1;
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

int aws_credential_error(const char *type)
{
	return starts_with(type, "ExpiredToken") || strcmp(type, "UnrecognizedClientException") == 0
		|| strcmp(type, "InvalidSignatureException") == 0;
}

/* ---- JSON readers ------------------------------------------------------------------- */

static const char *json_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

int aws_parse_credentials_json(const char *body, size_t len, struct aws_credentials *creds,
                               char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const char *v;
	int rc = AWS_EPARSE;

	memset(creds, 0, sizeof *creds);
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "credentials answer is not a JSON object");
		goto out;
	}
	/* IMDS says "Code":"Success" (docs/design.md "IMDSv2"); any other code is a failure. */
	v = json_string(doc, "Code");
	if (v && strcmp(v, "Success") != 0) {
		char code[AWS_MAX_ERROR_TYPE];
		aws_sanitize_error_type(v, strlen(v), code, sizeof code);
		snprintf(err, errlen, "credentials answer has Code %s", code[0] ? code : "(unreadable)");
		goto out;
	}
	v = json_string(doc, "AccessKeyId");
	if (!v || aws_set_value(creds->access_key_id, sizeof creds->access_key_id, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has no valid AccessKeyId");
		goto out;
	}
	v = json_string(doc, "SecretAccessKey");
	if (!v || aws_set_value(creds->secret_access_key, sizeof creds->secret_access_key, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has no valid SecretAccessKey");
		goto out;
	}
	v = json_string(doc, "Token");
	if (v && *v && aws_set_value(creds->session_token, sizeof creds->session_token, v, strlen(v)) != 0) {
		snprintf(err, errlen, "credentials answer has an invalid Token");
		goto out;
	}
	v = json_string(doc, "Expiration");
	if (v && civil_parse_rfc3339(v, &creds->expiration) != 0) {
		snprintf(err, errlen, "credentials answer has an invalid Expiration");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		aws_credentials_wipe(creds);
	secret_wipe_tree(doc);
	cJSON_Delete(doc);
	return rc;
}

void aws_parse_error_json(const char *body, size_t len, const char *header, size_t header_len,
                          char *type, size_t type_len, char *message, size_t message_len)
{
	cJSON *doc = NULL;
	const char *v;

	if (type_len)
		type[0] = '\0';
	if (message_len)
		message[0] = '\0';
	if (body && len)
		doc = cJSON_ParseWithLength(body, len);
	/* Smithy awsJson1_1 "Operation error serialization": the header first, then the body's
	 * code, then __type. */
	if (header && header_len)
		aws_sanitize_error_type(header, header_len, type, type_len);
	if (cJSON_IsObject(doc)) {
		if (type_len && !type[0]) {
			v = json_string(doc, "code");
			if (!v)
				v = json_string(doc, "__type");
			if (!v)
				v = json_string(doc, "Code");
			if (v)
				aws_sanitize_error_type(v, strlen(v), type, type_len);
		}
		v = json_string(doc, "message");
		if (!v)
			v = json_string(doc, "Message");
		if (v)
			message_text(message, message_len, v, strlen(v));
	}
	cJSON_Delete(doc);
}

/* ---- the STS XML reader ----------------------------------------------------------- */

/*
 * Just enough XML (W3C XML 1.0) for STS answers: elements, attributes skipped, text with
 * the five predefined entities and character references, CDATA, comments and processing
 * instructions skipped. A DOCTYPE is refused outright, so no entity expansion can happen.
 * Every limit is explicit: depth, name length, text length.
 */
struct xml_reader {
	const char *p, *end;
	char names[XML_MAX_DEPTH][XML_MAX_NAME + 1];
	int depth;
	char text[XML_MAX_TEXT];
	size_t text_len;
	int root_done;
	/* what the STS answer handler collects */
	struct aws_credentials *creds;
	int have_key, have_secret, have_token, bad_field;
	char *code, *message;
	size_t code_len, message_len;
	struct aws_identity *identity;   /* GetCallerIdentity answers, else NULL */
	char *err;
	size_t errlen;
};

static int xml_fail(struct xml_reader *x, const char *what)
{
	snprintf(x->err, x->errlen, "STS answer is not valid XML: %s", what);
	return -1;
}

static int xml_text_put(struct xml_reader *x, const char *s, size_t n)
{
	if (n > sizeof x->text - 1 - x->text_len)
		return xml_fail(x, "text longer than 16384 bytes");
	memcpy(x->text + x->text_len, s, n);
	x->text_len += n;
	return 0;
}

static int xml_skip_past(struct xml_reader *x, const char *marker)
{
	size_t m = strlen(marker);

	for (; x->p + m <= x->end; x->p++) {
		if (memcmp(x->p, marker, m) == 0) {
			x->p += m;
			return 0;
		}
	}
	return xml_fail(x, "truncated");
}

static int xml_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
		|| ch == '_' || ch == ':' || ch == '.' || ch == '-' || (unsigned char)ch >= 0x80;
}

/* Reads a name at x->p into out as its local part (the prefix before ':' dropped). */
static int xml_name(struct xml_reader *x, char *out)
{
	const char *start = x->p, *local;
	size_t n;

	while (x->p < x->end && xml_name_char(*x->p))
		x->p++;
	if (x->p == start)
		return xml_fail(x, "missing element name");
	local = start;
	for (n = 0; start + n < x->p; n++)
		if (start[n] == ':')
			local = start + n + 1;
	n = (size_t)(x->p - local);
	if (n == 0 || n > XML_MAX_NAME)
		return xml_fail(x, "element name empty or too long");
	memcpy(out, local, n);
	out[n] = '\0';
	return 0;
}

static int xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* &amp; &lt; &gt; &quot; &apos; (XML 1.0 section 4.6) and &#N; &#xH; (section 4.1). */
static int xml_entity(struct xml_reader *x)
{
	static const struct { const char *name; char ch; } named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	unsigned long cp = 0;
	unsigned char utf8[4];
	size_t i, n;
	int hex;

	x->p++;
	for (i = 0; i < sizeof named / sizeof named[0]; i++) {
		n = strlen(named[i].name);
		if ((size_t)(x->end - x->p) >= n && memcmp(x->p, named[i].name, n) == 0) {
			x->p += n;
			return xml_text_put(x, &named[i].ch, 1);
		}
	}
	if (x->p >= x->end || *x->p != '#')
		return xml_fail(x, "unknown entity");
	x->p++;
	hex = x->p < x->end && *x->p == 'x';
	if (hex)
		x->p++;
	for (n = 0; x->p < x->end && *x->p != ';'; x->p++, n++) {
		char ch = *x->p;
		int v = ch >= '0' && ch <= '9' ? ch - '0' : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (v < 0 || n >= 8)
			return xml_fail(x, "bad character reference");
		cp = cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	if (x->p >= x->end || n == 0 || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return xml_fail(x, "bad character reference");
	x->p++;
	if (cp < 0x80) {
		utf8[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		utf8[0] = (unsigned char)(0xc0 | cp >> 6);
		utf8[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		utf8[0] = (unsigned char)(0xe0 | cp >> 12);
		utf8[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		utf8[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		utf8[0] = (unsigned char)(0xf0 | cp >> 18);
		utf8[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		utf8[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		utf8[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return xml_text_put(x, (const char *)utf8, n);
}

/* The STS handler: called with each element's own text when it closes. */
static void sts_element(struct xml_reader *x, const char *text, size_t n)
{
	const char *name = x->names[x->depth - 1];
	const char *parent = x->depth >= 2 ? x->names[x->depth - 2] : "";

	if (x->creds && strcmp(parent, "Credentials") == 0) {
		struct aws_credentials *c = x->creds;
		char t[40];

		if (strcmp(name, "AccessKeyId") == 0) {
			x->bad_field |= aws_set_value(c->access_key_id, sizeof c->access_key_id, text, n) != 0;
			x->have_key = 1;
		} else if (strcmp(name, "SecretAccessKey") == 0) {
			x->bad_field |= aws_set_value(c->secret_access_key, sizeof c->secret_access_key, text, n) != 0;
			x->have_secret = 1;
		} else if (strcmp(name, "SessionToken") == 0) {
			x->bad_field |= aws_set_value(c->session_token, sizeof c->session_token, text, n) != 0;
			x->have_token = 1;
		} else if (strcmp(name, "Expiration") == 0) {
			if (n >= sizeof t) {
				x->bad_field = 1;
			} else {
				memcpy(t, text, n);
				t[n] = '\0';
				x->bad_field |= civil_parse_rfc3339(t, &c->expiration) != 0;
			}
		}
	} else if (x->identity && strcmp(parent, "GetCallerIdentityResult") == 0) {
		struct aws_identity *id = x->identity;

		/* An identity is no error text: copied whole when it is visible ASCII that fits,
		 * else left empty (a missing Arn or Account fails the parse). A peer-text pass
		 * would redact an ARN's long role path as token-like. */
		if (strcmp(name, "Arn") == 0)
			(void)aws_set_value(id->arn, sizeof id->arn, text, n);
		else if (strcmp(name, "Account") == 0)
			(void)aws_set_value(id->account, sizeof id->account, text, n);
		else if (strcmp(name, "UserId") == 0)
			(void)aws_set_value(id->user_id, sizeof id->user_id, text, n);
	} else if (strcmp(name, "Code") == 0 && x->code_len && !x->code[0]) {
		aws_sanitize_error_type(text, n, x->code, x->code_len);
	} else if (strcmp(name, "Message") == 0 && x->message_len && !x->message[0]) {
		message_text(x->message, x->message_len, text, n);
	}
}

static int xml_end_element(struct xml_reader *x)
{
	const char *t = x->text;
	size_t n = x->text_len;

	while (n > 0 && xml_space(*t)) {
		t++;
		n--;
	}
	while (n > 0 && xml_space(t[n - 1]))
		n--;
	sts_element(x, t, n);
	explicit_bzero(x->text, x->text_len);
	x->text_len = 0;
	if (--x->depth == 0)
		x->root_done = 1;
	return 0;
}

/* "<![CDATA[...]]>": its content is text of the element. */
static int xml_cdata(struct xml_reader *x)
{
	const char *start = x->p + 8;

	if (x->depth == 0)
		return xml_fail(x, "CDATA outside the root element");
	x->p = start;
	if (xml_skip_past(x, "]]>") != 0)
		return -1;
	return xml_text_put(x, start, (size_t)(x->p - 3 - start));
}

/* "</name>", matching the open element. */
static int xml_end_tag(struct xml_reader *x)
{
	char name[XML_MAX_NAME + 1];

	x->p++;   /* '/' */
	if (xml_name(x, name) != 0)
		return -1;
	while (x->p < x->end && xml_space(*x->p))
		x->p++;
	if (x->p >= x->end || *x->p != '>')
		return xml_fail(x, "bad end tag");
	x->p++;
	if (x->depth == 0 || strcmp(name, x->names[x->depth - 1]) != 0)
		return xml_fail(x, "mismatched end tag");
	return xml_end_element(x);
}

/* "<name attributes>" or "<name/>": attributes are skipped; quotes are honoured so a '>'
 * inside a value is not the end. */
static int xml_start_tag(struct xml_reader *x)
{
	char name[XML_MAX_NAME + 1];
	char quote = 0;

	if (x->root_done)
		return xml_fail(x, "a second root element");
	if (x->depth >= XML_MAX_DEPTH)
		return xml_fail(x, "nested deeper than 32 elements");
	if (xml_name(x, name) != 0)
		return -1;
	for (; x->p < x->end; x->p++) {
		if (quote) {
			if (*x->p == quote)
				quote = 0;
		} else if (*x->p == '"' || *x->p == '\'') {
			quote = *x->p;
		} else if (*x->p == '<') {
			return xml_fail(x, "'<' inside a tag");
		} else if (*x->p == '>') {
			break;
		}
	}
	if (x->p >= x->end)
		return xml_fail(x, "truncated");
	memcpy(x->names[x->depth++], name, sizeof name);
	explicit_bzero(x->text, x->text_len);
	x->text_len = 0;
	if (x->p[-1] == '/') {
		x->p++;
		return xml_end_element(x);
	}
	x->p++;
	return 0;
}

static int xml_tag(struct xml_reader *x)
{
	x->p++;   /* '<' */
	if (x->p >= x->end)
		return xml_fail(x, "truncated");
	if (*x->p == '?')
		return xml_skip_past(x, "?>");
	if ((size_t)(x->end - x->p) >= 3 && memcmp(x->p, "!--", 3) == 0)
		return xml_skip_past(x, "-->");
	if ((size_t)(x->end - x->p) >= 8 && memcmp(x->p, "![CDATA[", 8) == 0)
		return xml_cdata(x);
	if (*x->p == '!')
		return xml_fail(x, "DOCTYPE and declarations are not accepted");
	if (*x->p == '/')
		return xml_end_tag(x);
	return xml_start_tag(x);
}

static int xml_run(struct xml_reader *x)
{
	while (x->p < x->end) {
		const char *start;

		if (*x->p == '<') {
			if (xml_tag(x) != 0)
				return -1;
			continue;
		}
		if (*x->p == '\0')
			return xml_fail(x, "NUL byte");
		if (x->depth == 0) {
			if (!xml_space(*x->p))
				return xml_fail(x, "text outside the root element");
			x->p++;
			continue;
		}
		if (*x->p == '&') {
			if (xml_entity(x) != 0)
				return -1;
			continue;
		}
		start = x->p;
		while (x->p < x->end && *x->p != '<' && *x->p != '&' && *x->p != '\0')
			x->p++;
		if (xml_text_put(x, start, (size_t)(x->p - start)) != 0)
			return -1;
	}
	if (x->depth != 0 || !x->root_done)
		return xml_fail(x, "truncated");
	return 0;
}

/* A reader over xml with the error outputs every STS answer has (emptied); NULL with err
 * when out of memory. */
static struct xml_reader *sts_reader(const char *xml, size_t len, char *code, size_t code_len, char *message,
                                     size_t message_len, char *err, size_t errlen)
{
	struct xml_reader *x = calloc(1, sizeof *x);

	if (code_len)
		code[0] = '\0';
	if (message_len)
		message[0] = '\0';
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->p = xml;
	x->end = xml + len;
	x->code = code;
	x->code_len = code_len;
	x->message = message;
	x->message_len = message_len;
	x->err = err;
	x->errlen = errlen;
	return x;
}

/* Reads the whole answer: AWS_EPARSE when it is no XML we accept, AWS_EREQUEST for an
 * error document (its Code found), else 0 with the handler's fields filled. */
static int sts_read(struct xml_reader *x)
{
	if (xml_run(x) != 0)
		return AWS_EPARSE;
	return x->code_len && x->code[0] ? AWS_EREQUEST : 0;
}

int aws_parse_sts_response(const char *xml, size_t len, struct aws_credentials *creds,
                           char *code, size_t code_len, char *message, size_t message_len,
                           char *err, size_t errlen)
{
	struct xml_reader *x;
	int rc;

	memset(creds, 0, sizeof *creds);
	if (!(x = sts_reader(xml, len, code, code_len, message, message_len, err, errlen)))
		return AWS_EPARSE;
	x->creds = creds;
	rc = sts_read(x);
	if (rc == 0 && (!x->have_key || !x->have_secret || !x->have_token)) {
		snprintf(err, errlen, "STS answer has no Credentials");
		rc = AWS_EPARSE;
	} else if (rc == 0 && x->bad_field) {
		snprintf(err, errlen, "STS answer has an invalid credential field");
		rc = AWS_EPARSE;
	}
	if (rc != 0)
		aws_credentials_wipe(creds);
	explicit_bzero(x, sizeof *x);
	free(x);
	return rc;
}

int aws_parse_caller_identity(const char *xml, size_t len, struct aws_identity *id, char *code,
                              size_t code_len, char *message, size_t message_len, char *err, size_t errlen)
{
	struct xml_reader *x;
	int rc;

	memset(id, 0, sizeof *id);
	if (!(x = sts_reader(xml, len, code, code_len, message, message_len, err, errlen)))
		return AWS_EPARSE;
	x->identity = id;
	rc = sts_read(x);
	if (rc == 0 && (!id->arn[0] || !id->account[0])) {
		snprintf(err, errlen, "STS answer has no GetCallerIdentityResult Arn and Account");
		rc = AWS_EPARSE;
	}
	if (rc != 0)
		memset(id, 0, sizeof *id);
	free(x);
	return rc;
}

void aws_parse_query_error(const char *xml, size_t len, char *code, size_t code_len, char *message,
                           size_t message_len)
{
	char err[96];
	struct xml_reader *x = sts_reader(xml, len, code, code_len, message, message_len, err, sizeof err);

	if (x)
		sts_read(x);
	free(x);
}
