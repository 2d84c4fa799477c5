/*
 * http: an HTTP/1.1 client (RFC 9110, RFC 9112); see http.h for the contract.
 *
 * The response parser and the chunked decoder are pure functions in the manner of
 * picohttpparser: bytes consumed, HTTP_NEED_MORE for "need more", -1 for "bad", views
 * into the caller's buffer. Everything from the network is hostile: every length is checked before
 * it is used, and framing that two readers could understand differently is an error.
 *
 * conn->buf during a request: first the request head (wiped once sent: it carries
 * credentials), then the response head at offset 0 followed by the body, decoded in place
 * when chunked.
 */
#include "http.h"


#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "net.h"

/* Internal result of the head parser for a size limit, reported as -1 by the public API. */
#define HEAD_TOO_BIG (-3)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 9110 5.6.2: tchar. */
static int is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 1;
	if (lower(c) >= 'a' && lower(c) <= 'z')
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 5.5: field-vchar, SP and HTAB (obs-text included); no other control byte. */
static int is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The first byte of s[0..len) that is_field_char refuses, or len: one loop rather than a
 * call per byte (a bearer token is ~1 KB on every request). */
static size_t field_chars_span(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 ? c != '\t' : c == 0x7f)
			break;
	}
	return i;
}

static int is_ows(int c)
{
	return c == ' ' || c == '\t';
}

/* Case-insensitive comparison of s[0..len) with the NUL-terminated lower-case word. */
static int equals_word(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || lower((unsigned char)s[i]) != word[i])
			return 0;
	return word[len] == '\0';
}

/* ---- URLs ------------------------------------------------------------------------------ */

static int url_fail(char *err, size_t errlen, const char *msg)
{
	set_err(err, errlen, "%s", msg);
	return HTTP_EURL;
}

/* Decodes the RFC 3986 3.2.1 userinfo in[0..len) into out (NUL-terminated). */
static int decode_userinfo(const char *in, size_t len, char *out, size_t outlen,
                           char *err, size_t errlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int hi = -1, lo = -1;

			if (len - i >= 3) {
				hi = hex_value((unsigned char)in[i + 1]);
				lo = hex_value((unsigned char)in[i + 2]);
			}
			if (hi < 0 || lo < 0)
				return url_fail(err, errlen, "bad percent-encoding in URL userinfo");
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return url_fail(err, errlen, "control character in URL userinfo");
		if (n + 1 >= outlen)
			return url_fail(err, errlen, "URL userinfo too long");
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* Printable ASCII only (RFC 3986 2: anything else must already be percent-encoded), and
 * the scheme: p after "https://" or "http://". 0, or the url_fail code. */
static int parse_scheme(const char *url, struct http_url *out, const char **p, char *err, size_t errlen)
{
	size_t n, i;

	if (url == NULL)
		return url_fail(err, errlen, "no URL");
	n = strnlen(url, HTTP_MAX_URL + 1);
	if (n > HTTP_MAX_URL)
		return url_fail(err, errlen, "URL longer than 2048 bytes");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f)
			return url_fail(err, errlen,
			                "URL contains a space, control character or non-ASCII byte");
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		out->https = 1;
		*p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*p = url + 7;
	} else {
		return url_fail(err, errlen, "URL scheme must be http:// or https://");
	}
	/* RFC 9110 4.2.4 / RFC 3986 3.5: a fragment is never sent; refusing it beats guessing. */
	if (strchr(*p, '#') != NULL)
		return url_fail(err, errlen, "URL has a fragment");
	return 0;
}

/* userinfo ends at the last '@' of the authority (RFC 3986 3.2): decoded into out, *host
 * after it (or p when there is none). */
static int parse_userinfo(const char *p, const char *authority_end, struct http_url *out, const char **host,
                          char *err, size_t errlen)
{
	*host = p;
	for (const char *at = authority_end; at > p; at--) {
		if (at[-1] == '@') {
			*host = at;
			return decode_userinfo(p, (size_t)(at - 1 - p), out->userinfo, sizeof(out->userinfo), err,
			                       errlen);
		}
	}
	return 0;
}

/* "[v6]": the address, lowercased, into out->host; *after_host past the bracket. */
static int parse_ipv6_host(const char *host, const char *authority_end, struct http_url *out,
                           const char **after_host, char *err, size_t errlen)
{
	const char *close = memchr(host, ']', (size_t)(authority_end - host));
	unsigned char addr[16];
	size_t len;

	if (close == NULL)
		return url_fail(err, errlen, "unterminated IPv6 address in URL");
	len = (size_t)(close - host - 1);
	if (len == 0 || len >= INET6_ADDRSTRLEN)
		return url_fail(err, errlen, "bad IPv6 address in URL");
	for (size_t i = 0; i < len; i++)
		out->host[i] = (char)lower((unsigned char)host[1 + i]);
	out->host[len] = '\0';
	if (inet_pton(AF_INET6, out->host, addr) != 1)
		return url_fail(err, errlen, "bad IPv6 address in URL");
	out->host_is_ip = 1;
	*after_host = close + 1;
	if (*after_host < authority_end && **after_host != ':')
		return url_fail(err, errlen, "bad character after IPv6 address in URL");
	return 0;
}

/* A DNS name or a dotted quad, lowercased, into out->host; *after_host at its end. */
static int parse_name_host(const char *host, const char *authority_end, struct http_url *out,
                           const char **after_host, char *err, size_t errlen)
{
	const char *host_end = memchr(host, ':', (size_t)(authority_end - host));
	unsigned char addr[4];
	int numeric = 1;
	size_t i;

	if (host_end == NULL)
		host_end = authority_end;
	if (host_end == host)
		return url_fail(err, errlen, "URL has no host");
	if ((size_t)(host_end - host) > HTTP_MAX_HOST)
		return url_fail(err, errlen, "URL host longer than 255 bytes");
	for (i = 0; host + i < host_end; i++) {
		int c = lower((unsigned char)host[i]);

		/* RFC 3986 3.2.2 reg-name, without percent-encoding (DNS names only). */
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '_' || c == '~'))
			return url_fail(err, errlen, "bad character in URL host");
		if (!is_digit(c) && c != '.')
			numeric = 0;
		out->host[i] = (char)c;
	}
	out->host[i] = '\0';
	/* Only dotted quads: getaddrinfo would read "10.1" as an address, TLS as a name. */
	if (numeric && inet_pton(AF_INET, out->host, addr) != 1)
		return url_fail(err, errlen, "bad IPv4 address in URL");
	out->host_is_ip = numeric;
	*after_host = host_end;
	return 0;
}

/* ":port" between after_host and authority_end; an empty port means the scheme's default
 * (RFC 3986 3.2.3). */
static int parse_port(const char *after_host, const char *authority_end, struct http_url *out, char *err,
                      size_t errlen)
{
	unsigned long port = 0;
	const char *q = after_host + 1;

	for (; after_host < authority_end && q < authority_end; q++) {
		if (!is_digit((unsigned char)*q))
			return url_fail(err, errlen, "bad port in URL");
		port = port * 10 + (unsigned long)(*q - '0');
		if (port > 65535)
			return url_fail(err, errlen, "bad port in URL");
	}
	if (after_host < authority_end && q > after_host + 1) {
		if (port == 0)
			return url_fail(err, errlen, "bad port in URL");
		snprintf(out->port, sizeof(out->port), "%lu", port);
	}
	if (out->port[0] == '\0')
		snprintf(out->port, sizeof(out->port), "%s", out->https ? "443" : "80");
	return 0;
}

int http_parse_url(const char *url, struct http_url *out, char *err, size_t errlen)
{
	const char *p, *authority_end, *host, *after_host;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = parse_scheme(url, out, &p, err, errlen)) < 0)
		return rc;
	authority_end = p + strcspn(p, "/?");
	if ((rc = parse_userinfo(p, authority_end, out, &host, err, errlen)) < 0)
		return rc;
	if (host < authority_end && *host == '[')
		rc = parse_ipv6_host(host, authority_end, out, &after_host, err, errlen);
	else
		rc = parse_name_host(host, authority_end, out, &after_host, err, errlen);
	if (rc < 0 || (rc = parse_port(after_host, authority_end, out, err, errlen)) < 0)
		return rc;
	out->path = *authority_end ? authority_end : "/";
	out->path_len = *authority_end ? strlen(authority_end) : 1;
	return 0;
}

void http_host_value(const struct http_url *url, char *out, size_t outlen)
{
	int v6 = strchr(url->host, ':') != NULL;
	int default_port = strcmp(url->port, url->https ? "443" : "80") == 0;

	snprintf(out, outlen, "%s%s%s%s%s", v6 ? "[" : "", url->host, v6 ? "]" : "",
	         default_port ? "" : ":", default_port ? "" : url->port);
}

/* ---- response head --------------------------------------------------------------------- */

/* RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. */
static int parse_status_line(const char *p, const char *end, struct http_response *resp,
                             char *err, size_t errlen)
{
	size_t len = (size_t)(end - p);
	const char *r;

	if (len < 5 || memcmp(p, "HTTP/", 5) != 0) {
		set_err(err, errlen, "malformed status line");
		return -1;
	}
	if (len < 8 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit((unsigned char)p[7])) {
		set_err(err, errlen, "unsupported HTTP version in status line");
		return -1;
	}
	if (len < 12 || p[8] != ' ' || !is_digit((unsigned char)p[9]) || p[9] == '0' ||
	    !is_digit((unsigned char)p[10]) || !is_digit((unsigned char)p[11])) {
		set_err(err, errlen, "malformed status line");
		return -1;
	}
	/* "HTTP/1.1 200" without SP: tolerated, as the reason phrase is optional anyway. */
	if (len > 12 && p[12] != ' ') {
		set_err(err, errlen, "malformed status line");
		return -1;
	}
	resp->minor_version = p[7] - '0';
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	resp->reason = len > 12 ? p + 13 : end;
	resp->reason_len = (size_t)(end - resp->reason);
	for (r = resp->reason; r < end; r++) {
		if (!is_field_char((unsigned char)*r)) {
			set_err(err, errlen, "control character in status line");
			return -1;
		}
	}
	return 0;
}

/* RFC 9112 5: field-line = field-name ":" OWS field-value OWS. */
static int parse_header_line(const char *p, const char *end, int first,
                             struct http_response *resp, char *err, size_t errlen)
{
	const char *name_end = p, *value, *value_end;
	struct http_header *h;

	if (is_ows((unsigned char)*p)) {
		/* RFC 9112 2.2 and 5.2: whitespace before the first field and obs-fold are
		 * refused rather than repaired. */
		set_err(err, errlen, first ? "whitespace before the first response header"
		                           : "obsolete line folding in response header");
		return -1;
	}
	while (name_end < end && is_tchar((unsigned char)*name_end))
		name_end++;
	if (name_end == end) {
		set_err(err, errlen, "response header line without a colon");
		return -1;
	}
	if (*name_end != ':') {
		/* RFC 9112 5.1: no whitespace between name and colon; a reader MUST reject it. */
		set_err(err, errlen, is_ows((unsigned char)*name_end)
		        ? "whitespace between response header name and colon"
		        : "bad character in response header name");
		return -1;
	}
	if (name_end == p) {
		set_err(err, errlen, "response header with an empty name");
		return -1;
	}
	value = name_end + 1;
	value_end = end;
	while (value < value_end && is_ows((unsigned char)*value))
		value++;
	while (value_end > value && is_ows((unsigned char)value_end[-1]))
		value_end--;
	if (field_chars_span(value, (size_t)(value_end - value)) != (size_t)(value_end - value)) {
		set_err(err, errlen, "control character in response header value");
		return -1;
	}
	if (resp->header_count == HTTP_MAX_HEADERS) {
		set_err(err, errlen, "more than %d response headers", HTTP_MAX_HEADERS);
		return HEAD_TOO_BIG;
	}
	h = &resp->headers[resp->header_count++];
	h->name = p;
	h->name_len = (size_t)(name_end - p);
	h->value = value;
	h->value_len = (size_t)(value_end - value);
	return 0;
}

/*
 * Calls fn for each element of the comma-separated list value[0..len) (RFC 9110 5.6.1),
 * trimmed of OWS; empty elements are skipped as the RFC asks. Stops at fn's first nonzero.
 */
static int for_each_element(const char *value, size_t len,
                            int (*fn)(const char *element, size_t len, void *ctx), void *ctx)
{
	const char *p = value, *end = value + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end, *s = p;
		int rc;

		while (s < e && is_ows((unsigned char)*s))
			s++;
		while (e > s && is_ows((unsigned char)e[-1]))
			e--;
		if (e > s && (rc = fn(s, (size_t)(e - s), ctx)) != 0)
			return rc;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

struct framing {
	int64_t content_length;   /* -1 until a Content-Length value was seen */
	int bad_length, conflicting_length;
	int transfer_encoding;    /* a Transfer-Encoding field was seen */
	int chunked_count, other_coding;
	int close, keep_alive;
};

static int content_length_element(const char *s, size_t len, void *ctx)
{
	struct framing *f = ctx;
	int64_t value = 0;
	size_t i;

	/* RFC 9110 8.6: 1*DIGIT; no sign, no blanks. 18 digits keep the sum in int64_t. */
	if (len > 18) {
		f->bad_length = 1;
		return 1;
	}
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)s[i])) {
			f->bad_length = 1;
			return 1;
		}
		value = value * 10 + (s[i] - '0');
	}
	/* RFC 9112 6.3 item 5: differing values are an unrecoverable error; repeats of one
	 * value ("42, 42" or the field twice) may be taken as that value (RFC 9110 8.6). */
	if (f->content_length >= 0 && f->content_length != value) {
		f->conflicting_length = 1;
		return 1;
	}
	f->content_length = value;
	return 0;
}

static int transfer_coding_element(const char *s, size_t len, void *ctx)
{
	struct framing *f = ctx;
	const char *semi = memchr(s, ';', len);

	/* Only the chunked coding is implemented; "chunked;x=y" has parameters it never takes. */
	if (semi == NULL && equals_word(s, len, "chunked"))
		f->chunked_count++;
	else
		f->other_coding = 1;
	return 0;
}

static int connection_element(const char *s, size_t len, void *ctx)
{
	struct framing *f = ctx;

	if (equals_word(s, len, "close"))
		f->close = 1;
	else if (equals_word(s, len, "keep-alive"))
		f->keep_alive = 1;
	return 0;
}

/* RFC 9112 6.1 and 6.3: how the body is delimited, refusing every ambiguous case. */
static int derive_framing(struct http_response *resp, char *err, size_t errlen)
{
	struct framing f;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.content_length = -1;
	for (i = 0; i < resp->header_count; i++) {
		const struct http_header *h = &resp->headers[i];

		if (equals_word(h->name, h->name_len, "content-length")) {
			if (h->value_len == 0)
				f.bad_length = 1;
			else
				for_each_element(h->value, h->value_len, content_length_element, &f);
			if (f.bad_length) {
				set_err(err, errlen, "bad Content-Length in response");
				return -1;
			}
			if (f.conflicting_length) {
				set_err(err, errlen, "conflicting Content-Length values in response");
				return -1;
			}
		} else if (equals_word(h->name, h->name_len, "transfer-encoding")) {
			f.transfer_encoding = 1;
			for_each_element(h->value, h->value_len, transfer_coding_element, &f);
		} else if (equals_word(h->name, h->name_len, "connection")) {
			for_each_element(h->value, h->value_len, connection_element, &f);
		}
	}
	if (f.transfer_encoding) {
		if (f.content_length >= 0) {
			/* RFC 9112 6.3 item 3: a smuggling vector; "ought to be handled as an error". */
			set_err(err, errlen, "response has both Transfer-Encoding and Content-Length");
			return -1;
		}
		if (resp->minor_version == 0) {
			/* RFC 9112 6.1: framing of an HTTP/1.0 message with Transfer-Encoding is faulty. */
			set_err(err, errlen, "Transfer-Encoding in an HTTP/1.0 response");
			return -1;
		}
		if (f.other_coding || f.chunked_count != 1) {
			/* RFC 9112 6.1: chunked at most once and last; we implement no other coding. */
			set_err(err, errlen, "unsupported Transfer-Encoding in response (only chunked)");
			return -1;
		}
		resp->chunked = 1;
	}
	resp->content_length = f.content_length;
	/* RFC 9112 9.3: HTTP/1.0 closes unless it says keep-alive; 1.1 persists unless close. */
	resp->connection_close = f.close || (resp->minor_version == 0 && !f.keep_alive);
	return 0;
}

static int parse_head(const char *buf, size_t len, struct http_response *resp,
                      char *err, size_t errlen)
{
	size_t scan = len < HTTP_MAX_HEADER ? len : HTTP_MAX_HEADER;
	const char *p = buf, *end = buf + scan;
	int line = 0;

	resp->status = 0;
	resp->minor_version = 0;
	resp->reason = NULL;
	resp->reason_len = 0;
	resp->header_count = 0;
	resp->chunked = 0;
	resp->content_length = -1;
	resp->connection_close = 0;
	resp->body = NULL;
	resp->body_len = 0;

	for (;; line++) {
		const char *lf = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		const char *line_end;
		int rc;

		if (lf == NULL) {
			/* The block must end within HTTP_MAX_HEADER bytes, its last LF included. */
			if (len > HTTP_MAX_HEADER) {
				set_err(err, errlen, "response header block exceeds %d bytes",
				        HTTP_MAX_HEADER);
				return HEAD_TOO_BIG;
			}
			return HTTP_NEED_MORE;
		}
		/* RFC 9112 2.2: lines end in CRLF; a lone LF may be taken as the end of a line,
		 * but a bare CR anywhere else MUST be refused (or replaced): we refuse. */
		line_end = lf;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if (memchr(p, '\r', (size_t)(line_end - p)) != NULL) {
			set_err(err, errlen, "bare CR in response head");
			return -1;
		}
		if (line == 0) {
			rc = parse_status_line(p, line_end, resp, err, errlen);
		} else if (line_end == p) {
			if (derive_framing(resp, err, errlen) < 0)
				return -1;
			return (int)(lf + 1 - buf);
		} else {
			rc = parse_header_line(p, line_end, line == 1, resp, err, errlen);
		}
		if (rc < 0)
			return rc;
		p = lf + 1;
	}
}

int http_parse_head(const char *buf, size_t len, struct http_response *resp,
                    char *err, size_t errlen)
{
	int rc = parse_head(buf, len, resp, err, errlen);

	return rc == HEAD_TOO_BIG ? -1 : rc;
}

const struct http_header *http_find_header(const struct http_response *resp, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < resp->header_count; i++)
		if (resp->headers[i].name_len == len &&
		    strncasecmp(resp->headers[i].name, name, len) == 0)
			return &resp->headers[i];
	return NULL;
}

/* ---- chunked transfer coding (RFC 9112 7.1) -------------------------------------------- */

enum {
	CHUNK_SIZE = 0,        /* hex digits of a chunk size */
	CHUNK_SIZE_WS,         /* blanks after the size, before ';' or the end of the line */
	CHUNK_EXT,             /* chunk extensions, up to the end of the line */
	CHUNK_SIZE_LF,         /* CR seen at the end of the size line */
	CHUNK_DATA,
	CHUNK_DATA_END,        /* CRLF due after the data */
	CHUNK_DATA_LF,
	CHUNK_TRAILER_START,   /* at the start of a trailer line (or of the final empty line) */
	CHUNK_TRAILER_LINE,
	CHUNK_TRAILER_LF,
	CHUNK_END_LF,          /* CR of the final empty line seen */
	CHUNK_DONE,
};

static long chunk_fail(char *err, size_t errlen, const char *msg)
{
	set_err(err, errlen, "%s", msg);
	return -1;
}

/* The size line ended: a data chunk follows, or with size 0 the trailer section. */
static void chunk_size_line_done(struct http_chunked *dec)
{
	dec->size_digits = 0;
	dec->line_len = 0;
	if (dec->remaining == 0) {
		dec->in_trailer = 1;
		dec->state = CHUNK_TRAILER_START;
	} else {
		dec->state = CHUNK_DATA;
	}
}

long http_chunked_decode(struct http_chunked *dec, char *buf, size_t *len,
                         char *err, size_t errlen)
{
	size_t src = 0, dst = 0, n = *len;

	while (src < n) {
		unsigned char c = (unsigned char)buf[src];

		if (dec->state == CHUNK_DONE)
			break;
		if (dec->state == CHUNK_DATA) {
			size_t take = n - src;

			if ((uint64_t)take > dec->remaining)
				take = (size_t)dec->remaining;
			if (dst != src)
				memmove(buf + dst, buf + src, take);
			dst += take;
			src += take;
			dec->remaining -= take;
			if (dec->remaining == 0)
				dec->state = CHUNK_DATA_END;
			continue;
		}
		src++;
		switch (dec->state) {
		case CHUNK_SIZE: {
			/* chunk-size = 1*HEXDIG: no sign, no blanks, no "0x" before it. */
			int digit = hex_value(c);

			if (digit >= 0) {
				if (dec->remaining > (UINT64_MAX >> 4))
					return chunk_fail(err, errlen, "chunk size too large");
				dec->remaining = dec->remaining << 4 | (uint64_t)digit;
				dec->size_digits++;
				if (++dec->line_len > HTTP_MAX_CHUNK_LINE)
					return chunk_fail(err, errlen, "chunk size line too long");
				break;
			}
			if (dec->size_digits == 0)
				return chunk_fail(err, errlen, "bad chunk size");
			if (c == '\r')
				dec->state = CHUNK_SIZE_LF;
			else if (c == '\n')
				chunk_size_line_done(dec);
			else if (c == ';')
				dec->state = CHUNK_EXT;
			else if (is_ows(c))
				dec->state = CHUNK_SIZE_WS;
			else
				return chunk_fail(err, errlen, "bad chunk size");
			if (c != '\r' && c != '\n')
				dec->line_len++;
			break;
		}
		case CHUNK_SIZE_WS:
			/* RFC 9112 7.1.1: BWS may precede the ';' of an extension. */
			if (c == '\r')
				dec->state = CHUNK_SIZE_LF;
			else if (c == '\n')
				chunk_size_line_done(dec);
			else if (c == ';')
				dec->state = CHUNK_EXT;
			else if (!is_ows(c))
				return chunk_fail(err, errlen, "bad chunk size");
			if (c != '\r' && c != '\n' && ++dec->line_len > HTTP_MAX_CHUNK_LINE)
				return chunk_fail(err, errlen, "chunk size line too long");
			break;
		case CHUNK_EXT:
			/* Extensions carry nothing we use; bounded, and no control bytes. */
			if (c == '\r') {
				dec->state = CHUNK_SIZE_LF;
			} else if (c == '\n') {
				chunk_size_line_done(dec);
			} else {
				if (!is_field_char(c))
					return chunk_fail(err, errlen,
					                  "control character in chunk extension");
				if (++dec->line_len > HTTP_MAX_CHUNK_LINE)
					return chunk_fail(err, errlen, "chunk extension too long");
			}
			break;
		case CHUNK_SIZE_LF:
			if (c != '\n')
				return chunk_fail(err, errlen, "bare CR in chunk size line");
			chunk_size_line_done(dec);
			break;
		case CHUNK_DATA_END:
			if (c == '\r')
				dec->state = CHUNK_DATA_LF;
			else if (c == '\n')
				dec->state = CHUNK_SIZE;
			else
				return chunk_fail(err, errlen, "missing CRLF after chunk data");
			break;
		case CHUNK_DATA_LF:
			if (c != '\n')
				return chunk_fail(err, errlen, "missing CRLF after chunk data");
			dec->state = CHUNK_SIZE;
			break;
		case CHUNK_TRAILER_START:
		case CHUNK_TRAILER_LINE:
			if (++dec->trailer_len > HTTP_MAX_TRAILER) {
				set_err(err, errlen, "chunked trailer section exceeds %d bytes",
				        HTTP_MAX_TRAILER);
				return -1;
			}
			if (c == '\r') {
				dec->state = dec->state == CHUNK_TRAILER_START ? CHUNK_END_LF
				                                              : CHUNK_TRAILER_LF;
			} else if (c == '\n') {
				dec->state = dec->state == CHUNK_TRAILER_START ? CHUNK_DONE
				                                              : CHUNK_TRAILER_START;
			} else {
				if (!is_field_char(c))
					return chunk_fail(err, errlen,
					                  "control character in chunked trailer");
				if (dec->state == CHUNK_TRAILER_START && is_ows(c))
					return chunk_fail(err, errlen,
					                  "obsolete line folding in chunked trailer");
				dec->state = CHUNK_TRAILER_LINE;
			}
			break;
		case CHUNK_TRAILER_LF:
		case CHUNK_END_LF:
			if (c != '\n')
				return chunk_fail(err, errlen, "bare CR in chunked trailer");
			if (++dec->trailer_len > HTTP_MAX_TRAILER) {
				set_err(err, errlen, "chunked trailer section exceeds %d bytes",
				        HTTP_MAX_TRAILER);
				return -1;
			}
			dec->state = dec->state == CHUNK_END_LF ? CHUNK_DONE : CHUNK_TRAILER_START;
			break;
		default:
			return chunk_fail(err, errlen, "chunked decoder in a bad state");
		}
	}
	if (dec->state != CHUNK_DONE) {
		*len = dst;
		return HTTP_NEED_MORE;
	}
	/* What follows the message moves down to sit right after the decoded data. */
	if (dst != src)
		memmove(buf + dst, buf + src, n - src);
	*len = dst;
	return (long)(n - src);
}

/* ---- proxies --------------------------------------------------------------------------- */

/* The lower-case variable wins when set and not empty, as in curl and the AWS CLI. */
static const char *env_pair(const char *lower_name, const char *upper_name, const char **used)
{
	const char *v = getenv(lower_name);

	*used = lower_name;
	if (v != NULL && *v != '\0')
		return v;
	v = getenv(upper_name);
	*used = upper_name;
	if (v != NULL && *v != '\0')
		return v;
	return NULL;
}

int http_proxy_from_env(struct http_proxy *proxy, char *err, size_t errlen)
{
	char url[HTTP_MAX_URL + 1];
	const char *value, *name, *no_proxy, *no_proxy_name;
	char why[160];
	int rc;

	memset(proxy, 0, sizeof(*proxy));
	no_proxy = env_pair("no_proxy", "NO_PROXY", &no_proxy_name);
	if (no_proxy != NULL) {
		if (strlen(no_proxy) >= sizeof(proxy->no_proxy)) {
			set_err(err, errlen, "%s longer than %zu bytes", no_proxy_name,
			        sizeof(proxy->no_proxy) - 1);
			return HTTP_EPROXY;
		}
		snprintf(proxy->no_proxy, sizeof(proxy->no_proxy), "%s", no_proxy);
	}
	value = env_pair("https_proxy", "HTTPS_PROXY", &name);
	if (value == NULL)
		return 0;
	/* "host:port" without a scheme means http://, as curl and the AWS CLI read it. */
	if (strstr(value, "://") == NULL)
		rc = snprintf(url, sizeof(url), "http://%s", value);
	else
		rc = snprintf(url, sizeof(url), "%s", value);
	if (rc < 0 || (size_t)rc >= sizeof(url)) {
		set_err(err, errlen, "%s: URL longer than %d bytes", name, HTTP_MAX_URL);
		return HTTP_EPROXY;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		set_err(err, errlen, "%s: only http:// proxies are supported", name);
		return HTTP_EPROXY;
	}
	if (http_parse_url(url, &proxy->url, why, sizeof(why)) < 0) {
		explicit_bzero(url, sizeof(url));
		explicit_bzero(proxy, sizeof(*proxy));
		set_err(err, errlen, "%s: %s", name, why);
		return HTTP_EPROXY;
	}
	explicit_bzero(url, sizeof(url));
	/* The path pointed into url; a proxy URL's path means nothing anyway. */
	proxy->url.path = "/";
	proxy->url.path_len = 1;
	if (proxy->url.userinfo[0] != '\0') {
		/* RFC 9110 11.7.1 + RFC 7617 2: Proxy-Authorization: Basic base64(user:pass). */
		size_t len = strlen(proxy->url.userinfo);

		memcpy(proxy->authorization, "Basic ", 6);
		if (base64_encode(proxy->url.userinfo, len,
		                  proxy->authorization + 6, sizeof(proxy->authorization) - 6) == 0) {
			set_err(err, errlen, "%s: proxy credentials too long", name);
			explicit_bzero(proxy, sizeof(*proxy));
			return HTTP_EPROXY;
		}
	}
	proxy->enabled = 1;
	return 0;
}

/* 4 or 6 with addr filled when s is an IPv4 or IPv6 literal (brackets allowed), else 0. */
static int parse_ip(const char *s, unsigned char addr[16])
{
	char tmp[INET6_ADDRSTRLEN];
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, addr) == 1)
		return 6;
	return 0;
}

static int prefix_matches(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[whole] ^ b[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

/* Parses "digits" fully into *value (at most 65535 for ports, max otherwise). */
static int parse_small_number(const char *s, unsigned long max, unsigned long *value)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!is_digit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*value = v;
	return 0;
}

/* One NO_PROXY entry, NUL-terminated in entry (modified). */
static int no_proxy_entry_matches(char *entry, const char *host, int host_family,
                                  const unsigned char host_addr[16], unsigned long port)
{
	char *addr = entry, *entry_port = NULL, *slash, *colon;
	unsigned char entry_addr[16];
	size_t host_len, len;
	int family;

	if (entry[0] == '[') {
		/* "[v6]", "[v6]:port", "[v6]/len" */
		char *close = strchr(entry, ']');

		if (close == NULL)
			return 0;
		*close = '\0';
		addr = entry + 1;
		if (close[1] == ':')
			entry_port = close + 2;
		else if (close[1] == '/')
			memmove(close, close + 1, strlen(close + 1) + 1);
		else if (close[1] != '\0')
			return 0;
	} else if ((colon = strchr(entry, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		/* exactly one colon: "name:port" or "v4:port"; more: a bare IPv6 literal */
		*colon = '\0';
		entry_port = colon + 1;
	}
	if (entry_port != NULL) {
		unsigned long want;

		if (parse_small_number(entry_port, 65535, &want) < 0 || want != port)
			return 0;
	}

	slash = strchr(addr, '/');
	if (slash != NULL) {
		/* CIDR: "10.0.0.0/8", "fd00::/8" */
		unsigned long bits;

		*slash = '\0';
		family = parse_ip(addr, entry_addr);
		if (family == 0 || family != host_family ||
		    parse_small_number(slash + 1, family == 4 ? 32 : 128, &bits) < 0)
			return 0;
		return prefix_matches(entry_addr, host_addr, (unsigned)bits);
	}
	family = parse_ip(addr, entry_addr);
	if (family != 0)
		return family == host_family &&
		       memcmp(entry_addr, host_addr, family == 4 ? 4 : 16) == 0;
	if (host_family != 0)
		return 0;   /* a name never matches an address by its text */

	/* Names: ".example.com", "*.example.com" and "example.com" all cover the domain and
	 * its subdomains, as curl and the AWS CLI read them; a trailing dot is ignored. */
	if (addr[0] == '*' && addr[1] == '.')
		addr += 2;
	while (addr[0] == '.')
		addr++;
	len = strlen(addr);
	while (len > 0 && addr[len - 1] == '.')
		addr[--len] = '\0';
	host_len = strlen(host);
	while (host_len > 0 && host[host_len - 1] == '.')
		host_len--;
	if (len == 0 || len > host_len)
		return 0;
	if (strncasecmp(host + host_len - len, addr, len) != 0)
		return 0;
	return len == host_len || host[host_len - len - 1] == '.';
}

int http_no_proxy_match(const char *no_proxy, const char *host, const char *port)
{
	unsigned char host_addr[16];
	unsigned long port_number = 0;
	int host_family;
	const char *p;

	if (no_proxy == NULL || host == NULL)
		return 0;
	memset(host_addr, 0, sizeof(host_addr));
	host_family = parse_ip(host, host_addr);
	if (port != NULL)
		(void)parse_small_number(port, 65535, &port_number);

	/* Entries are separated by commas or blanks; empty ones are ignored. */
	for (p = no_proxy; *p != '\0';) {
		char entry[HTTP_MAX_HOST + 64];
		size_t len = strcspn(p, ", \t");

		if (len == 0) {
			p++;
			continue;
		}
		if (len == 1 && p[0] == '*')
			return 1;
		if (len < sizeof(entry)) {
			memcpy(entry, p, len);
			entry[len] = '\0';
			if (no_proxy_entry_matches(entry, host, host_family, host_addr, port_number))
				return 1;
		}
		p += len;
	}
	return 0;
}

/* ---- connections ----------------------------------------------------------------------- */

void http_conn_init(struct http_conn *conn, char *buf, size_t buf_size,
                    const struct http_proxy *proxy)
{
	memset(conn, 0, offsetof(struct http_conn, tls));
	conn->buf = buf;
	conn->buf_size = buf_size;
	conn->proxy = proxy;
	conn->fd = -1;
	conn->err[0] = '\0';
}

void http_conn_wipe(struct http_conn *conn)
{
	if (conn->buf)
		explicit_bzero(conn->buf, conn->touched < conn->buf_size ? conn->touched : conn->buf_size);
	conn->touched = 0;
}

void http_conn_close(struct http_conn *conn)
{
	if (conn->fd >= 0) {
		if (conn->https)
			tls_close(&conn->tls);
		close(conn->fd);
	}
	conn->fd = -1;
	conn->https = 0;
	conn->via_proxy = 0;
	conn->host[0] = '\0';
	conn->port[0] = '\0';
	conn->anchors = NULL;
	conn->requests_on_conn = 0;
	conn->pending_start = 0;
	conn->pending_len = 0;
}

/* Writes conn->err unless a message is already there: the first, most specific, stays. */
static int fail(struct http_conn *conn, int code, const char *fmt, ...)
{
	va_list ap;

	if (conn->err[0] != '\0')
		return code;
	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	return code;
}

/* Puts "label: " before the message in conn->err (a parser's), cutting its end to fit. */
static void prefix_err(struct http_conn *conn, const char *label)
{
	size_t cap = sizeof(conn->err), label_len = strnlen(label, cap - 3);
	size_t len = strlen(conn->err);

	if (label_len + 2 + len >= cap)
		len = cap - 1 - label_len - 2;
	memmove(conn->err + label_len + 2, conn->err, len);
	memcpy(conn->err, label, label_len);
	conn->err[label_len] = ':';
	conn->err[label_len + 1] = ' ';
	conn->err[label_len + 2 + len] = '\0';
}

/* "host:port", with brackets around an IPv6 literal, for CONNECT and messages. */
static void format_authority(char *out, size_t outlen, const char *host, const char *port)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, outlen, "[%s]:%s", host, port);
	else
		snprintf(out, outlen, "%s:%s", host, port);
}

/* What one request talks to; the labels start every message about it. */
struct target {
	const struct http_url *url;
	char authority[HTTP_MAX_HOST + 10];        /* origin "host:port" */
	char http_label[HTTP_MAX_HOST + 16];       /* "http host:port" */
	char proxy_label[HTTP_MAX_HOST + 16];      /* "proxy host:port" */
	int use_proxy;
	int64_t deadline_ms;
};

/* conn->err from a failed tls call, prefixed with the origin as the header promises. */
static int tls_failure(struct http_conn *conn, const struct target *t, long rc, int code)
{
	if (rc == TLS_ETIMEOUT)
		code = HTTP_ETIMEOUT;
	return fail(conn, code, "tls %s: %s", t->authority,
	            conn->tls.err[0] ? conn->tls.err : "connection failed");
}

/* Writes every byte; label names the plain-TCP peer ("http ..." or "proxy ..."). */
static int conn_write(struct http_conn *conn, const struct target *t, const char *label,
                      const void *data, size_t len)
{
	char why[128] = "";
	int rc;

	if (conn->https) {
		rc = tls_write_all(&conn->tls, data, len, t->deadline_ms);
		return rc < 0 ? tls_failure(conn, t, rc, HTTP_EIO) : 0;
	}
	rc = net_write_all(conn->fd, data, len, t->deadline_ms, why, sizeof(why));
	if (rc < 0)
		return fail(conn, rc == NET_ETIMEOUT ? HTTP_ETIMEOUT : HTTP_EIO, "%s: %s", label, why);
	return 0;
}

/* > 0 bytes, 0 at the end of the stream, or an HTTP_E* code with conn->err set. */
/* Raises conn->touched when p[0..n) lies in conn->buf. */
static void note_touched(struct http_conn *conn, const void *p, size_t n)
{
	const char *c = p;

	if (conn->buf && c >= conn->buf && c < conn->buf + conn->buf_size &&
	    (size_t)(c - conn->buf) + n > conn->touched)
		conn->touched = (size_t)(c - conn->buf) + n;
}

static long conn_read(struct http_conn *conn, const struct target *t, const char *label,
                      void *buf, size_t len)
{
	char why[128] = "";
	long n;

	if (conn->https) {
		n = tls_read(&conn->tls, buf, len, t->deadline_ms);
		if (n < 0)
			return tls_failure(conn, t, n, HTTP_EIO);
	} else {
		n = net_read(conn->fd, buf, len, t->deadline_ms, why, sizeof(why));
		if (n < 0)
			return fail(conn, n == NET_ETIMEOUT ? HTTP_ETIMEOUT : HTTP_EIO, "%s: %s", label, why);
	}
	note_touched(conn, buf, (size_t)n);
	return n;
}

/* Appends to a bounded output; overflow is sticky and checked once at the end. */
struct out {
	char *p;
	size_t len, cap;
	int overflow;
};

static void out_put(struct out *o, const void *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/*
 * Reads one final head into conn->buf[0..cap), skipping 1xx responses. Returns the head's
 * length with *used the bytes now in the buffer (the body's start follows the head), or
 * an HTTP_E* code. *got_bytes is set once any byte arrived.
 */
static int read_head(struct http_conn *conn, const struct target *t, const char *label,
                     size_t cap, struct http_response *resp, size_t *used_out, int *got_bytes)
{
	char *buf = conn->buf;
	size_t used = 0;
	int interim = 0, parse = 0;

	for (;;) {
		long n;

		if (parse) {
			int head = parse_head(buf, used, resp, conn->err, sizeof(conn->err));

			if (head < 0 && head != HTTP_NEED_MORE) {
				prefix_err(conn, label);
				return head == HEAD_TOO_BIG ? HTTP_ETOOBIG : HTTP_EPROTO;
			}
			if (head > 0) {
				if (resp->status == 101)
					return fail(conn, HTTP_EPROTO, "%s: unexpected 101 Switching Protocols",
					            label);
				if (resp->status >= 200) {
					*used_out = used;
					return head;
				}
				/* RFC 9110 15.2: interim responses precede the final one; skip them. */
				if (++interim > HTTP_MAX_INTERIM)
					return fail(conn, HTTP_EPROTO, "%s: more than %d interim (1xx) "
					            "responses", label, HTTP_MAX_INTERIM);
				memmove(buf, buf + head, used - (size_t)head);
				used -= (size_t)head;
				parse = memchr(buf, '\n', used) != NULL;
				continue;
			}
		}
		if (used == cap)
			return fail(conn, HTTP_ETOOBIG, "%s: response head does not fit the %zu-byte "
			            "buffer", label, conn->buf_size);
		n = conn_read(conn, t, label, buf + used, cap - used);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return fail(conn, HTTP_EIO, used == 0 && interim == 0
			            ? "%s: connection closed before any response"
			            : "%s: connection closed in the response head", label);
		*got_bytes = 1;
		/* A head can only end with a new line, so parse again only when one arrived: at
		 * most HTTP_MAX_HEADERS + 2 passes over at most HTTP_MAX_HEADER bytes. */
		parse = memchr(buf + used, '\n', (size_t)n) != NULL ||
		        used + (size_t)n > HTTP_MAX_HEADER;
		used += (size_t)n;
	}
}

/* RFC 9110 9.3.6: asks the proxy for a tunnel to the origin on the open connection. */
static int open_tunnel(struct http_conn *conn, const struct target *t)
{
	const struct http_proxy *proxy = conn->proxy;
	const char *label = t->proxy_label;
	struct http_response resp;
	struct out o;
	size_t used = 0;
	int head, got = 0, rc;

	o.p = conn->buf;
	o.cap = conn->buf_size;
	o.len = 0;
	o.overflow = 0;
	out_str(&o, "CONNECT ");
	out_str(&o, t->authority);
	out_str(&o, " HTTP/1.1\r\nHost: ");
	out_str(&o, t->authority);
	out_str(&o, "\r\n");
	if (proxy->authorization[0] != '\0') {
		out_str(&o, "Proxy-Authorization: ");
		out_str(&o, proxy->authorization);
		out_str(&o, "\r\n");
	}
	out_str(&o, "\r\n");
	if (o.overflow) {
		explicit_bzero(conn->buf, o.len);
		return fail(conn, HTTP_EARG, "CONNECT request does not fit the buffer");
	}
	rc = conn_write(conn, t, label, o.p, o.len);
	explicit_bzero(conn->buf, o.len);
	if (rc < 0)
		return rc == HTTP_ETIMEOUT ? rc : HTTP_EPROXY;

	head = read_head(conn, t, label, conn->buf_size, &resp, &used, &got);
	if (head < 0)
		return head == HTTP_ETIMEOUT ? head : HTTP_EPROXY;
	if (resp.status < 200 || resp.status > 299) {
		char reason[64];

		/* The reason phrase is the proxy's text (log_peer_text). */
		log_peer_text(reason, sizeof(reason), resp.reason, resp.reason_len);
		return fail(conn, HTTP_EPROXY, "%s refused CONNECT to %s: %d %s", label,
		            t->authority, resp.status, reason);
	}
	/* After a 2xx the connection is the tunnel (RFC 9110 9.3.6). The TLS server says
	 * nothing before our ClientHello, so a byte already here did not come from it. */
	if (used != (size_t)head)
		return fail(conn, HTTP_EPROXY, "%s sent data after its CONNECT response", label);
	return 0;
}

static int open_connection(struct http_conn *conn, const struct target *t,
                           const struct http_request *req)
{
	const struct http_url *url = t->url;
	char why[200] = "";
	int fd, rc;

	conn->connects++;
	if (t->use_proxy)
		fd = net_connect(conn->proxy->url.host, conn->proxy->url.port, t->deadline_ms,
		                 why, sizeof(why));
	else
		fd = net_connect(url->host, url->port, t->deadline_ms, why, sizeof(why));
	if (fd < 0)
		return fail(conn, fd == NET_ETIMEOUT ? HTTP_ETIMEOUT : HTTP_ECONNECT, "%s%s",
		            t->use_proxy ? "proxy: " : "", why);
	conn->fd = fd;
	conn->https = 0;
	conn->via_proxy = t->use_proxy;
	snprintf(conn->host, sizeof(conn->host), "%s", url->host);
	snprintf(conn->port, sizeof(conn->port), "%s", url->port);
	conn->anchors = url->https ? req->anchors : NULL;
	conn->requests_on_conn = 0;

	if (t->use_proxy && (rc = open_tunnel(conn, t)) < 0) {
		http_conn_close(conn);
		return rc;
	}
	if (url->https) {
		rc = tls_handshake(&conn->tls, fd, url->host, req->anchors, t->deadline_ms);
		if (rc < 0) {
			rc = tls_failure(conn, t, rc, rc == TLS_ECERT ? HTTP_ECERT : HTTP_ETLS);
			http_conn_close(conn);
			return rc;
		}
		conn->https = 1;
	}
	return 0;
}

/* RFC 9110 8.6: a user agent SHOULD send Content-Length, even 0, when the method defines
 * a meaning for content. */
static int is_method_with_content(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0;
}

static int send_request(struct http_conn *conn, const struct target *t,
                        const struct http_request *req)
{
	const struct http_url *url = t->url;
	char number[48], host[HTTP_MAX_HOST + 9];
	struct out o;
	size_t i;
	int rc;

	o.p = conn->buf;
	o.cap = conn->buf_size;
	o.len = 0;
	o.overflow = 0;
	out_str(&o, req->method);
	out_str(&o, " ");
	if (url->path[0] == '?')
		out_str(&o, "/");
	out_put(&o, url->path, url->path_len);
	out_str(&o, " HTTP/1.1\r\nHost: ");
	http_host_value(url, host, sizeof(host));
	out_str(&o, host);
	out_str(&o, "\r\n");
	for (i = 0; i < req->header_count; i++) {
		out_put(&o, req->headers[i].name, req->headers[i].name_len);
		out_str(&o, ": ");
		out_put(&o, req->headers[i].value, req->headers[i].value_len);
		out_str(&o, "\r\n");
	}
	if (req->body_len > 0 || is_method_with_content(req->method)) {
		snprintf(number, sizeof(number), "Content-Length: %zu\r\n", req->body_len);
		out_str(&o, number);
	}
	out_str(&o, "\r\n");
	if (o.overflow) {
		explicit_bzero(conn->buf, o.len);
		return fail(conn, HTTP_EARG, "request head does not fit the %zu-byte buffer",
		            conn->buf_size);
	}
	/* One write when the body fits behind the head: one TLS record, fewer segments. */
	if (req->body_len > 0 && req->body_len <= o.cap - o.len) {
		memcpy(o.p + o.len, req->body, req->body_len);
		o.len += req->body_len;
		rc = conn_write(conn, t, t->http_label, o.p, o.len);
	} else {
		rc = conn_write(conn, t, t->http_label, o.p, o.len);
		if (rc == 0 && req->body_len > 0)
			rc = conn_write(conn, t, t->http_label, req->body, req->body_len);
	}
	/* Authorization headers and bodies carrying tokens must not linger in the buffer. */
	explicit_bzero(conn->buf, o.len);
	return rc;
}

static int body_too_big(struct http_conn *conn, const struct target *t, size_t max_body,
                        size_t room)
{
	if (max_body <= room)
		return fail(conn, HTTP_ETOOBIG, "%s: response body exceeds the limit of %zu bytes",
		            t->http_label, max_body);
	return fail(conn, HTTP_ETOOBIG, "%s: response body exceeds the %zu bytes left in the "
	            "buffer", t->http_label, room);
}

/* Reads a chunked body, decoding in place behind the head. */
static int read_chunked_body(struct http_conn *conn, const struct target *t, char *body,
                             size_t avail, size_t room, size_t max_body, size_t *body_len,
                             int *reusable)
{
	size_t limit = max_body < room ? max_body : room, raw = avail, len = 0;
	struct http_chunked dec;
	char scratch[64];
	char *in = body;

	memset(&dec, 0, sizeof(dec));
	for (;;) {
		size_t n = raw;
		long left = http_chunked_decode(&dec, in, &n, conn->err, sizeof(conn->err));

		if (left == -1) {
			prefix_err(conn, t->http_label);
			return HTTP_EPROTO;
		}
		/* Bytes decoded in the scratch buffer are body that has no room left. */
		if (in == scratch && n > 0)
			return body_too_big(conn, t, max_body, room);
		if (in != scratch)
			len += n;
		if (len > limit)
			return body_too_big(conn, t, max_body, room);
		if (left >= 0) {
			if (left > 0)
				*reusable = 0;
			break;
		}
		/* A chunk announced too big for what is left fails before it is read. */
		if (dec.state == CHUNK_DATA && dec.remaining > (uint64_t)(limit - len))
			return body_too_big(conn, t, max_body, room);
		/* With the body filling the buffer, what may still come is only the last chunk
		 * and the trailer: read those through a scratch buffer. */
		if (len < room) {
			in = body + len;
			left = conn_read(conn, t, t->http_label, in, room - len);
		} else {
			in = scratch;
			left = conn_read(conn, t, t->http_label, in, sizeof(scratch));
		}
		if (left < 0)
			return (int)left;
		if (left == 0)
			return fail(conn, HTTP_EIO, "%s: connection closed in the chunked body",
			            t->http_label);
		raw = (size_t)left;
	}
	*body_len = len;
	return 0;
}

/* Reads the body of the response whose head (head bytes, used bytes in the buffer) was
 * just read, and ends the exchange: the connection is kept or closed. */
static int read_body(struct http_conn *conn, const struct target *t,
                     const struct http_request *req, struct http_response *resp,
                     size_t head, size_t used)
{
	/* One byte stays free for the NUL after the body. */
	size_t cap = conn->buf_size - 1, avail, room, limit, body_len = 0;
	size_t max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	int reusable, rc;
	char *body;

	body = conn->buf + head;
	avail = used - head;
	room = cap - head;
	limit = max_body < room ? max_body : room;
	reusable = !resp->connection_close;

	if (strcmp(req->method, "HEAD") == 0 || resp->status == 204 || resp->status == 304) {
		/* RFC 9112 6.3 item 1: no content, whatever the headers say. */
		if (avail > 0)
			reusable = 0;
	} else if (resp->chunked) {
		rc = read_chunked_body(conn, t, body, avail, room, max_body, &body_len, &reusable);
		if (rc < 0)
			return rc;
	} else if (resp->content_length >= 0) {
		if ((uint64_t)resp->content_length > (uint64_t)limit) {
			if (max_body <= room)
				return fail(conn, HTTP_ETOOBIG, "%s: response body of %lld bytes exceeds "
				            "the limit of %zu bytes", t->http_label,
				            (long long)resp->content_length, max_body);
			return fail(conn, HTTP_ETOOBIG, "%s: response body of %lld bytes exceeds the "
			            "%zu bytes left in the buffer", t->http_label,
			            (long long)resp->content_length, room);
		}
		body_len = (size_t)resp->content_length;
		while (avail < body_len) {
			long n = conn_read(conn, t, t->http_label, body + avail, room - avail);

			if (n < 0)
				return (int)n;
			if (n == 0)
				return fail(conn, HTTP_EIO, "%s: connection closed after %zu of %zu body "
				            "bytes", t->http_label, avail, body_len);
			avail += (size_t)n;
		}
		if (avail > body_len)
			reusable = 0;   /* bytes past the response: framing no longer trusted */
	} else {
		/* RFC 9112 6.3 item 8: no length given, the body runs to the end of the stream. */
		reusable = 0;
		body_len = avail;
		for (;;) {
			char probe;
			long n;

			if (body_len > limit)
				return body_too_big(conn, t, max_body, room);
			if (body_len < limit)
				n = conn_read(conn, t, t->http_label, body + body_len, limit - body_len);
			else
				n = conn_read(conn, t, t->http_label, &probe, 1);   /* end, or too big? */
			if (n < 0)
				return (int)n;
			if (n == 0)
				break;
			if (body_len == limit)
				return body_too_big(conn, t, max_body, room);
			body_len += (size_t)n;
		}
	}
	body[body_len] = '\0';
	resp->body = body;
	resp->body_len = body_len;
	conn->requests_on_conn++;
	if (!reusable)
		http_conn_close(conn);
	return 0;
}

static int read_response(struct http_conn *conn, const struct target *t,
                         const struct http_request *req, struct http_response *resp,
                         int *got_bytes)
{
	size_t used = 0;
	int head = read_head(conn, t, t->http_label, conn->buf_size - 1, resp, &used, got_bytes);

	if (head < 0)
		return head;
	return read_body(conn, t, req, resp, (size_t)head, used);
}

static int check_request(struct http_conn *conn, const struct http_request *req)
{
	size_t i, j;

	if (conn->buf == NULL || conn->buf_size < 2)
		return fail(conn, HTTP_EARG, "no response buffer");
	if (req->method == NULL || req->method[0] == '\0' || strlen(req->method) > 32)
		return fail(conn, HTTP_EARG, "bad request method");
	for (i = 0; req->method[i]; i++)
		if (!is_tchar((unsigned char)req->method[i]))
			return fail(conn, HTTP_EARG, "bad request method");
	if (req->deadline_ms <= 0)
		return fail(conn, HTTP_EARG, "request without a deadline");
	if (req->body_len > 0 && req->body == NULL)
		return fail(conn, HTTP_EARG, "request body missing");
	for (i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == 0)
			return fail(conn, HTTP_EARG, "request header with an empty name");
		for (j = 0; j < h->name_len; j++)
			if (!is_tchar((unsigned char)h->name[j]))
				return fail(conn, HTTP_EARG, "bad character in a request header name");
		/* No CR or LF: a value must never start a header of its own. The value is not
		 * quoted in the message: it may be a credential. */
		if (field_chars_span(h->value, h->value_len) != h->value_len)
			return fail(conn, HTTP_EARG, "request header %.*s: control character in "
			            "value", (int)h->name_len, h->name);
		if (equals_word(h->name, h->name_len, "host") ||
		    equals_word(h->name, h->name_len, "content-length") ||
		    equals_word(h->name, h->name_len, "transfer-encoding"))
			return fail(conn, HTTP_EARG, "request header %.*s is set by http itself",
			            (int)h->name_len, h->name);
	}
	return 0;
}

/* The head of a 2xx answer to a stream request: its body is left to http_stream_read. */
static void start_stream(struct http_conn *conn, struct http_stream *s,
                         const struct http_response *resp, size_t head, size_t used)
{
	memset(s, 0, sizeof(*s));
	s->open = 1;
	s->chunked = resp->chunked;
	s->to_close = !resp->chunked && resp->content_length < 0;
	s->left = resp->content_length > 0 ? (uint64_t)resp->content_length : 0;
	s->close_after = resp->connection_close || s->to_close;
	s->raw_start = head;
	s->raw_len = used - head;
	if (!s->chunked && !s->to_close && s->left == 0)
		s->ended = 1;
	conn->requests_on_conn++;
}

/* Reads the answer to a stream request: a 2xx head starts the stream, any other answer
 * is read whole (the caller wants its Status) and the stream stays closed. */
static int read_stream_response(struct http_conn *conn, const struct target *t,
                                const struct http_request *req, struct http_response *resp,
                                struct http_stream *s, int *got_bytes)
{
	size_t used = 0;
	int head = read_head(conn, t, t->http_label, conn->buf_size - 1, resp, &used, got_bytes);

	memset(s, 0, sizeof(*s));
	if (head < 0)
		return head;
	if (resp->status < 200 || resp->status > 299 || strcmp(req->method, "HEAD") == 0 ||
	    resp->status == 204)
		return read_body(conn, t, req, resp, (size_t)head, used);
	start_stream(conn, s, resp, (size_t)head, used);
	return 0;
}

static int exchange(struct http_conn *conn, const struct http_request *req,
                    struct http_response *resp, struct http_stream *stream)
{
	struct http_url url;
	struct target t;
	int attempt, rc;

	conn->err[0] = '\0';
	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	if ((rc = check_request(conn, req)) < 0)
		return rc;
	if ((rc = http_parse_url(req->url, &url, conn->err, sizeof(conn->err))) < 0)
		return rc;
	if (url.userinfo[0] != '\0') {
		explicit_bzero(url.userinfo, sizeof(url.userinfo));
		return fail(conn, HTTP_EURL, "credentials in a request URL are not supported");
	}
	if (url.https && req->anchors == NULL)
		return fail(conn, HTTP_EARG, "https request without trust anchors");

	memset(&t, 0, sizeof(t));
	t.url = &url;
	t.deadline_ms = req->deadline_ms;
	format_authority(t.authority, sizeof(t.authority), url.host, url.port);
	snprintf(t.http_label, sizeof(t.http_label), "http %s", t.authority);
	/* Only https goes through the proxy: HTTPS_PROXY is the only variable read. */
	t.use_proxy = url.https && conn->proxy != NULL && conn->proxy->enabled &&
	              !http_no_proxy_match(conn->proxy->no_proxy, url.host, url.port);
	if (t.use_proxy) {
		char proxy_authority[sizeof(t.authority)];

		format_authority(proxy_authority, sizeof(proxy_authority), conn->proxy->url.host,
		                 conn->proxy->url.port);
		snprintf(t.proxy_label, sizeof(t.proxy_label), "proxy %s", proxy_authority);
	}

	if (conn->fd >= 0 &&
	    (conn->https != url.https || strcmp(conn->host, url.host) != 0 ||
	     strcmp(conn->port, url.port) != 0 || conn->via_proxy != t.use_proxy ||
	     (url.https && conn->anchors != req->anchors)))
		http_conn_close(conn);

	for (attempt = 0;; attempt++) {
		int reused = conn->fd >= 0, got_bytes = 0;

		if (!reused && (rc = open_connection(conn, &t, req)) < 0)
			return rc;
		rc = send_request(conn, &t, req);
		if (rc == 0)
			rc = stream ? read_stream_response(conn, &t, req, resp, stream, &got_bytes)
			            : read_response(conn, &t, req, resp, &got_bytes);
		if (rc == 0)
			return 0;
		http_conn_close(conn);
		/* RFC 9112 9.3.1 and 9.6: either side may close an idle connection at any time;
		 * one that closed as the request went out never answered it. Retry once. */
		if (reused && attempt == 0 && !got_bytes && rc == HTTP_EIO &&
		    net_now_ms() < req->deadline_ms) {
			conn->err[0] = '\0';
			continue;
		}
		{
			/* a caller may size a larger buffer from what the server announced */
			int64_t announced = rc == HTTP_ETOOBIG ? resp->content_length : -1;

			memset(resp, 0, sizeof(*resp));
			resp->content_length = announced;
		}
		return rc;
	}
}

int http_request(struct http_conn *conn, const struct http_request *req,
                 struct http_response *resp)
{
	return exchange(conn, req, resp, NULL);
}

/* ---- streamed responses ------------------------------------------------------------------ */

int http_stream_open(struct http_conn *conn, const struct http_request *req,
                     struct http_response *resp, struct http_stream *stream)
{
	int rc;

	memset(stream, 0, sizeof(*stream));
	rc = exchange(conn, req, resp, stream);
	if (rc < 0)
		memset(stream, 0, sizeof(*stream));
	return rc;
}

int http_stream_pending(const struct http_conn *conn, const struct http_stream *stream)
{
	if (!stream->open || stream->ended)
		return 0;
	return stream->raw_len > 0 || (conn->https && conn->fd >= 0 && tls_pending(&conn->tls));
}

/* The body ended: keep the connection only when nothing follows and nothing says close. */
static void end_stream(struct http_conn *conn, struct http_stream *s, int extra_bytes)
{
	s->ended = 1;
	s->raw_len = 0;
	if (extra_bytes || s->close_after)
		http_conn_close(conn);
}

static long stream_fail(struct http_conn *conn, struct http_stream *s, long code)
{
	s->open = 0;
	http_conn_close(conn);
	return code;
}

/* One read from the transport into conn->buf, when the decoder has used every byte. */
static long stream_fill(struct http_conn *conn, struct http_stream *s, int64_t deadline_ms)
{
	struct target t;
	long n;

	memset(&t, 0, sizeof(t));
	t.deadline_ms = deadline_ms;
	format_authority(t.authority, sizeof(t.authority), conn->host, conn->port);
	snprintf(t.http_label, sizeof(t.http_label), "http %s", t.authority);
	n = conn_read(conn, &t, t.http_label, conn->buf, conn->buf_size);
	if (n < 0)
		return stream_fail(conn, s, n);
	if (n == 0 && !s->to_close)
		return stream_fail(conn, s, fail(conn, HTTP_EIO, "%s: connection closed in the "
		                                 "streamed body", t.http_label));
	s->raw_start = 0;
	s->raw_len = (size_t)n;
	return n;
}

long http_stream_read(struct http_conn *conn, struct http_stream *s, void *out, size_t len,
                      int64_t deadline_ms)
{
	size_t take, n;
	char *p;
	long rc;

	if (s->ended)
		return 0;
	conn->err[0] = '\0';
	if (!s->open || conn->fd < 0 || out == NULL || len == 0)
		return fail(conn, HTTP_EARG, "no open stream or no room to read into");
	if (s->raw_len == 0) {
		if ((rc = stream_fill(conn, s, deadline_ms)) < 0)
			return rc;
		if (rc == 0) {   /* a body that runs to the end of the connection ended */
			end_stream(conn, s, 0);
			return 0;
		}
	}
	take = s->raw_len < len ? s->raw_len : len;
	if (!s->chunked && !s->to_close && (uint64_t)take > s->left)
		take = (size_t)s->left;
	p = conn->buf + s->raw_start;
	n = take;
	if (s->chunked) {
		long left = http_chunked_decode(&s->dec, p, &n, conn->err, sizeof(conn->err));

		if (left == -1) {
			char label[HTTP_MAX_HOST + 16];

			snprintf(label, sizeof(label), "http %s:%s", conn->host, conn->port);
			prefix_err(conn, label);
			return stream_fail(conn, s, HTTP_EPROTO);
		}
		memcpy(out, p, n);
		explicit_bzero(p, take);
		if (left >= 0) {
			end_stream(conn, s, left > 0 || s->raw_len > take);
			return (long)n;
		}
	} else {
		memcpy(out, p, n);
		explicit_bzero(p, take);
		if (!s->to_close && (s->left -= take) == 0) {
			end_stream(conn, s, s->raw_len > take);
			return (long)n;
		}
	}
	s->raw_start += take;
	s->raw_len -= take;
	return (long)n;
}

int http_stream_line(struct http_conn *conn, struct http_stream *s, struct http_line_reader *lr,
                     char **line, size_t *line_len, int64_t deadline_ms)
{
	int did_read = 0;

	if (lr->buf == NULL || lr->cap < 2)
		return fail(conn, HTTP_EARG, "no line buffer");
	for (;;) {
		char *start = lr->buf + lr->start;
		char *nl = memchr(start, '\n', lr->len - lr->start);
		long n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - start);

			if (l > 0 && start[l - 1] == '\r')
				l--;
			start[l] = '\0';
			*line = start;
			*line_len = l;
			lr->start = (size_t)(nl - lr->buf) + 1;
			return 1;
		}
		if (lr->start > 0) {
			memmove(lr->buf, start, lr->len - lr->start);
			lr->len -= lr->start;
			lr->start = 0;
		}
		if (s->ended && lr->len > 0 && lr->len < lr->cap) {
			/* the last line of a body that does not end with LF */
			lr->buf[lr->len] = '\0';
			*line = lr->buf;
			*line_len = lr->len;
			lr->start = lr->len;
			return 1;
		}
		if ((s->ended && lr->len == 0) || did_read)
			return 0;
		if (lr->len >= lr->cap) {
			fail(conn, HTTP_ETOOBIG, "http %s:%s: streamed line longer than %zu bytes",
			     conn->host, conn->port, lr->cap - 1);
			return (int)stream_fail(conn, s, HTTP_ETOOBIG);
		}
		/* a whole line with its LF may fill the buffer: the LF becomes the NUL */
		n = http_stream_read(conn, s, lr->buf + lr->len, lr->cap - lr->len, deadline_ms);
		if (n < 0)
			return (int)n;
		lr->len += (size_t)n;
		did_read = 1;
	}
}
