/*
 * jscan: a pull scanner over one JSON text in memory; see jscan.h. The grammar is
 * RFC 8259's; string contents are taken as they come (like cJSON, raw control characters
 * are not refused), everything else is strict.
 */
#include "jscan.h"

#include <string.h>

void jscan_init(struct jscan *s, const char *text, size_t len)
{
	s->p = text;
	s->end = text + len;
	s->depth = 0;
	s->failed = text == NULL;
}

static int fail(struct jscan *s)
{
	s->failed = 1;
	return -1;
}

static void skip_space(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

enum jscan_type jscan_peek(struct jscan *s)
{
	if (s->failed)
		return JSCAN_NONE;
	skip_space(s);
	if (s->p == s->end)
		return JSCAN_NONE;
	switch (*s->p) {
	case '{': return JSCAN_OBJECT;
	case '[': return JSCAN_ARRAY;
	case '"': return JSCAN_STRING;
	case 't': case 'f': case 'n': return JSCAN_LITERAL;
	default:
		return *s->p == '-' || (*s->p >= '0' && *s->p <= '9') ? JSCAN_NUMBER : JSCAN_NONE;
	}
}

/* ---- strings ------------------------------------------------------------------------ */

/* Decoded output: bytes past size are counted, not written. A NUL (raw, or \u0000) ends
 * the C string there, as in cJSON's valuestring: what follows cannot make it too long. */
struct sink {
	char *out;
	size_t size, len;
	size_t nul;                     /* where the first NUL went; (size_t)-1: none */
};

static void put(struct sink *k, unsigned char c)
{
	if (c == 0 && k->nul == (size_t)-1)
		k->nul = k->len;
	if (k->out && k->len + 1 < k->size)
		k->out[k->len] = (char)c;
	k->len++;
}

/* The length of the decoded C string. */
static size_t c_length(const struct sink *k)
{
	return k->nul < k->len ? k->nul : k->len;
}

static void put_utf8(struct sink *k, unsigned long cp)
{
	if (cp < 0x80) {
		put(k, (unsigned char)cp);
	} else if (cp < 0x800) {
		put(k, (unsigned char)(0xc0 | (cp >> 6)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(k, (unsigned char)(0xe0 | (cp >> 12)));
		put(k, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		put(k, (unsigned char)(0xf0 | (cp >> 18)));
		put(k, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
		put(k, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put(k, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* Four hex digits after "\u": the code unit, or -1. */
static long hex4(struct jscan *s)
{
	long v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *s->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* "\uXXXX", with a surrogate pair as one code point (RFC 8259 section 7): 0, or -1. */
static int unicode_escape(struct jscan *s, struct sink *k)
{
	long hi = hex4(s), lo;

	if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
		return -1;
	if (hi < 0xd800 || hi > 0xdbff) {
		put_utf8(k, (unsigned long)hi);
		return 0;
	}
	if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
		return -1;
	s->p += 2;
	lo = hex4(s);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -1;
	put_utf8(k, 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00));
	return 0;
}

static int simple_escape(char c, unsigned char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *at = c ? strchr(from, c) : NULL;

	if (!at)
		return -1;
	*out = (unsigned char)to[at - from];
	return 0;
}

/* The run of bytes up to the next quote or backslash, copied at once (most strings have
 * no escape at all). */
static void copy_plain(struct jscan *s, struct sink *k)
{
	const char *start = s->p;
	size_t n, room;

	while (s->p < s->end && *s->p != '"' && *s->p != '\\')
		s->p++;
	n = (size_t)(s->p - start);
	if (n == 0)
		return;
	if (k->nul == (size_t)-1) {
		const char *z = memchr(start, '\0', n);

		if (z)
			k->nul = k->len + (size_t)(z - start);
	}
	room = k->out && k->len + 1 < k->size ? k->size - 1 - k->len : 0;
	if (room)
		memcpy(k->out + k->len, start, n < room ? n : room);
	k->len += n;
}

/* The string at s->p (its opening quote) into k: 0, or -1 (failed). */
static int decode_string(struct jscan *s, struct sink *k)
{
	unsigned char c;

	s->p++;
	while (s->p < s->end) {
		copy_plain(s, k);
		if (s->p == s->end)
			break;
		c = (unsigned char)*s->p++;
		if (c == '"') {
			if (k->out && k->size)
				k->out[k->len < k->size ? k->len : k->size - 1] = '\0';
			return 0;
		}
		if (c != '\\') {
			put(k, c);
			continue;
		}
		if (s->p == s->end)
			break;
		c = (unsigned char)*s->p++;
		if (c == 'u') {
			if (unicode_escape(s, k) < 0)
				break;
		} else if (simple_escape((char)c, &c) == 0) {
			put(k, c);
		} else {
			break;
		}
	}
	return fail(s);
}

long jscan_string(struct jscan *s, char *out, size_t size)
{
	struct sink k = { out, size, 0, (size_t)-1 };

	if (size)
		out[0] = '\0';
	if (jscan_peek(s) != JSCAN_STRING) {
		if (jscan_skip(s) < 0)
			return -1;
		return -2;
	}
	if (decode_string(s, &k) < 0)
		return -1;
	if (c_length(&k) >= size) {
		if (size)
			out[0] = '\0';
		return -3;
	}
	return (long)c_length(&k);
}

size_t jscan_string_bound(struct jscan *s)
{
	const char *q;

	if (jscan_peek(s) != JSCAN_STRING)
		return 0;
	for (q = s->p + 1; q < s->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < s->end)
			q++;
	return (size_t)(q - s->p);      /* the raw length (q - p - 1), plus the NUL */
}

/* ---- containers ------------------------------------------------------------------- */

static int enter(struct jscan *s, enum jscan_type type)
{
	if (jscan_peek(s) != type) {
		if (jscan_skip(s) < 0)
			return -1;
		return 0;
	}
	if (s->depth == JSCAN_MAX_DEPTH)
		return fail(s);
	s->p++;
	s->more[s->depth++] = 0;
	return 1;
}

int jscan_object(struct jscan *s)
{
	return enter(s, JSCAN_OBJECT) == 1;
}

int jscan_array(struct jscan *s)
{
	return enter(s, JSCAN_ARRAY) == 1;
}

/* Before the next member or element: 1, 0 after the closing character, -1. */
static int next(struct jscan *s, char close)
{
	if (s->failed || s->depth == 0)
		return fail(s);
	skip_space(s);
	if (s->p == s->end)
		return fail(s);
	if (*s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	if (s->more[s->depth - 1]) {
		if (*s->p != ',')
			return fail(s);
		s->p++;
	}
	s->more[s->depth - 1] = 1;
	return 1;
}

int jscan_member(struct jscan *s, char *key, size_t size)
{
	struct sink k = { key, size, 0, (size_t)-1 };
	int rc = next(s, '}');

	if (rc != 1)
		return rc;
	if (size)
		key[0] = '\0';
	skip_space(s);
	if (s->p == s->end || *s->p != '"' || decode_string(s, &k) < 0)
		return fail(s);
	if (c_length(&k) >= size && size)
		key[0] = '\0';
	skip_space(s);
	if (s->p == s->end || *s->p != ':')
		return fail(s);
	s->p++;
	return 1;
}

int jscan_element(struct jscan *s)
{
	return next(s, ']');
}

/* ---- skipping --------------------------------------------------------------------- */

static int skip_digits(struct jscan *s)
{
	const char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

/* RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int skip_number(struct jscan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (skip_digits(s) < 0)
		return fail(s);
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (skip_digits(s) < 0)
			return fail(s);
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (skip_digits(s) < 0)
			return fail(s);
	}
	return 0;
}

static int skip_literal(struct jscan *s)
{
	static const char *const words[] = { "true", "false", "null" };

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0) {
			s->p += n;
			return 0;
		}
	}
	return fail(s);
}

int jscan_skip(struct jscan *s)
{
	struct sink none = { NULL, 0, 0, (size_t)-1 };
	char key[1];
	int rc;

	switch (jscan_peek(s)) {
	case JSCAN_OBJECT:
		enter(s, JSCAN_OBJECT);
		while ((rc = jscan_member(s, key, sizeof key)) == 1)
			if (jscan_skip(s) < 0)
				return -1;
		return rc;
	case JSCAN_ARRAY:
		enter(s, JSCAN_ARRAY);
		while ((rc = jscan_element(s)) == 1)
			if (jscan_skip(s) < 0)
				return -1;
		return rc;
	case JSCAN_STRING:
		return decode_string(s, &none);
	case JSCAN_NUMBER:
		return skip_number(s);
	case JSCAN_LITERAL:
		return skip_literal(s);
	default:
		return fail(s);
	}
}

int jscan_end(struct jscan *s)
{
	if (s->failed)
		return 0;
	skip_space(s);
	return s->p == s->end;
}
