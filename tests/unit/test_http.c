/*
 * http: the response parser and chunked decoder fed every truncation and every split (each
 * input sits at the very end of a malloc'd block of its exact length, so ASan sees any
 * read past it), every limit at and over its edge, tables of bad input with the message
 * each must give, URLs, NO_PROXY, proxy variables, and http_request against a scripted
 * server in a child process (framing, reuse, retry, buffer and body limits, timeouts), and
 * streamed bodies split into lines: delivered byte by byte, cut at every byte, a line over
 * the limit, a stalled peer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "net.h"
#include "unit.h"

static char *exact_copy(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	if (p == NULL) {
		perror("malloc");
		abort();
	}
	if (n)
		memcpy(p, s, n);
	return p;
}

static int find_bytes(const char *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return 1;
	return 0;
}

static int contains(const char *haystack, const char *needle)
{
	return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* ---- whole messages: head(s) + body, as http_request frames them ------------------------ */

struct parsed {
	int status;
	size_t header_count;
	int64_t content_length;
	int chunked, connection_close;
	char body[512];
	size_t body_len;
	char err[128];
};

/* HTTP_NEED_MORE until buf[0..len) holds a complete response (at_eof: the stream ended
 * there), -1 when bad, else the bytes the response used. */
static long parse_message(const char *buf, size_t len, int head_request, int at_eof,
                          struct parsed *out)
{
	struct http_response resp;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		int n = http_parse_head(buf + off, len - off, &resp, out->err, sizeof(out->err));

		if (n < 0)
			return n;
		off += (size_t)n;
		if (resp.status >= 200)
			break;
	}
	out->status = resp.status;
	out->header_count = resp.header_count;
	out->content_length = resp.content_length;
	out->chunked = resp.chunked;
	out->connection_close = resp.connection_close;
	if (head_request || resp.status == 204 || resp.status == 304)
		return (long)off;
	if (resp.chunked) {
		struct http_chunked dec;
		char *copy = exact_copy(buf + off, len - off);
		size_t n = len - off;
		long left;

		memset(&dec, 0, sizeof(dec));
		left = http_chunked_decode(&dec, copy, &n, out->err, sizeof(out->err));
		if (left >= 0 && n <= sizeof(out->body)) {
			memcpy(out->body, copy, n);
			out->body_len = n;
		}
		free(copy);
		return left < 0 ? left : (long)(len - (size_t)left);
	}
	if (resp.content_length >= 0) {
		if ((uint64_t)(len - off) < (uint64_t)resp.content_length)
			return HTTP_NEED_MORE;
		out->body_len = (size_t)resp.content_length;
		memcpy(out->body, buf + off, out->body_len);
		return (long)(off + out->body_len);
	}
	if (!at_eof)
		return HTTP_NEED_MORE;
	out->body_len = len - off;
	memcpy(out->body, buf + off, out->body_len);
	return (long)len;
}

struct valid_case {
	const char *name;
	const char *input;
	int head_request;
	int status;
	int64_t content_length;
	int chunked, connection_close;
	size_t header_count;
	const char *body;
};

static const struct valid_case valid_cases[] = {
	{ "content-length",
	  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
	  0, 200, 5, 0, 0, 2, "hello" },
	{ "chunked with extensions and trailers",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
	  "5;name=value\r\nhello\r\n6 ; q=\"a;b\"\r\n world\r\n0;last\r\nChecksum: abc\r\n"
	  "X-Trailer: yes\r\n\r\n",
	  0, 200, -1, 1, 0, 2, "hello world" },
	{ "close-delimited",
	  "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
	  0, 200, -1, 0, 1, 1, "until the end" },
	{ "HTTP/1.0 close-delimited",
	  "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody of 1.0",
	  0, 200, -1, 0, 1, 1, "body of 1.0" },
	{ "HTTP/1.0 keep-alive with length",
	  "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
	  0, 200, 2, 0, 0, 2, "ok" },
	{ "1xx then 200",
	  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	  0, 200, 2, 0, 0, 1, "ok" },
	{ "HEAD with a length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 1, 200, 1234, 0, 0, 1, "" },
	{ "HEAD chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 200, -1, 1, 0, 1, "" },
	{ "204",
	  "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 0, 204, 0, 0, 0, 1, "" },
	{ "304 ignores its length",
	  "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 99\r\n\r\n",
	  0, 304, 99, 0, 0, 2, "" },
	{ "bare LF line ends",
	  "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 0, 200, 3, 0, 0, 1, "abc" },
	{ "no reason phrase, empty value, odd spacing",
	  "HTTP/1.1 201\r\nX-Empty:\r\nX-Tabs:\t v \t\r\nContent-Length: 1\r\n\r\nz",
	  0, 201, 1, 0, 0, 3, "z" },
	{ "repeated identical Content-Length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\nxyz",
	  0, 200, 3, 0, 0, 2, "xyz" },
	{ "Connection: close with chunked",
	  "HTTP/1.1 500 Oops\r\nConnection: keep-alive, Close\r\nTransfer-Encoding: Chunked\r\n"
	  "\r\n1\r\n!\r\n0\r\n\r\n",
	  0, 500, -1, 1, 1, 2, "!" },
};

static void same_head(const struct http_response *a, const char *abase,
                      const struct http_response *b, const char *bbase, int *ok)
{
	size_t i;

	if (a->status != b->status || a->minor_version != b->minor_version ||
	    a->header_count != b->header_count || a->content_length != b->content_length ||
	    a->chunked != b->chunked || a->connection_close != b->connection_close ||
	    a->reason - abase != b->reason - bbase || a->reason_len != b->reason_len) {
		*ok = 0;
		return;
	}
	for (i = 0; i < a->header_count; i++)
		if (a->headers[i].name - abase != b->headers[i].name - bbase ||
		    a->headers[i].name_len != b->headers[i].name_len ||
		    a->headers[i].value - abase != b->headers[i].value - bbase ||
		    a->headers[i].value_len != b->headers[i].value_len)
			*ok = 0;
}

static void test_every_truncation(void)
{
	size_t c;

	for (c = 0; c < sizeof(valid_cases) / sizeof(valid_cases[0]); c++) {
		const struct valid_case *vc = &valid_cases[c];
		size_t len = strlen(vc->input), cut;
		struct parsed whole, part;
		struct http_response first, again;
		char *copy = exact_copy(vc->input, len);
		char err[128];
		int head_len, ok = 1;
		long n = parse_message(copy, len, vc->head_request, 1, &whole);

		if (n != (long)len)
			fprintf(stderr, "case %s: %ld (%s)\n", vc->name, n, whole.err);
		CHECK_EQ_INT(n, len);
		CHECK_EQ_INT(whole.status, vc->status);
		CHECK_EQ_INT(whole.content_length, vc->content_length);
		CHECK_EQ_INT(whole.chunked, vc->chunked);
		CHECK_EQ_INT(whole.connection_close, vc->connection_close);
		CHECK_EQ_INT(whole.header_count, vc->header_count);
		CHECK_EQ_MEM(whole.body, whole.body_len, vc->body, strlen(vc->body));
		free(copy);

		/* Every shorter input, as a byte-by-byte stream would show it: need more. */
		for (cut = 0; cut < len && ok; cut++) {
			copy = exact_copy(vc->input, cut);
			n = parse_message(copy, cut, vc->head_request, 0, &part);
			if (n != HTTP_NEED_MORE) {
				fprintf(stderr, "case %s: cut %zu gave %ld (%s)\n", vc->name, cut, n,
				        part.err);
				ok = 0;
			}
			free(copy);
		}
		CHECK(ok);

		/* The first head: HTTP_NEED_MORE before its end, then the same views at every
		 * longer length. */
		head_len = http_parse_head(vc->input, len, &first, err, sizeof(err));
		CHECK(head_len > 0);
		for (cut = 0; cut <= len && ok; cut++) {
			int r;

			copy = exact_copy(vc->input, cut);
			r = http_parse_head(copy, cut, &again, err, sizeof(err));
			if (cut < (size_t)head_len) {
				if (r != HTTP_NEED_MORE)
					ok = 0;
			} else if (r != head_len) {
				ok = 0;
			} else {
				same_head(&first, vc->input, &again, copy, &ok);
			}
			if (!ok)
				fprintf(stderr, "case %s: head at cut %zu gave %d\n", vc->name, cut, r);
			free(copy);
		}
		CHECK(ok);
	}
}

/* ---- chunked decoding, split everywhere ------------------------------------------------ */

struct decoded {
	long rc;
	char data[20000];
	size_t data_len;
	char left[256];
	size_t left_len;
	char err[128];
};

/* Decodes in[0..len) as parts split at the given offsets (ascending, each part an exact
 * allocation), gathering the decoded bytes and what is left after the message. */
static void decode_parts(const char *in, size_t len, const size_t *splits, size_t nsplits,
                         struct decoded *out)
{
	struct http_chunked dec;
	size_t start = 0, i;

	memset(&dec, 0, sizeof(dec));
	memset(out, 0, sizeof(*out));
	out->rc = HTTP_NEED_MORE;
	for (i = 0; i <= nsplits; i++) {
		size_t end = i < nsplits ? splits[i] : len, n = end - start;
		char *part = exact_copy(in + start, n);
		long rc = http_chunked_decode(&dec, part, &n, out->err, sizeof(out->err));

		if (rc != -1 && out->data_len + n <= sizeof(out->data)) {
			memcpy(out->data + out->data_len, part, n);
			out->data_len += n;
		}
		if (rc >= 0) {
			size_t rest = len - end;

			/* The undecoded bytes of this part, then every later part untouched. */
			if ((size_t)rc + rest <= sizeof(out->left)) {
				memcpy(out->left, part + n, (size_t)rc);
				memcpy(out->left + rc, in + end, rest);
				out->left_len = (size_t)rc + rest;
			}
			out->rc = (long)((size_t)rc + rest);
			free(part);
			return;
		}
		free(part);
		if (rc == -1) {
			out->rc = -1;
			return;
		}
		start = end;
	}
}

static int same_decoding(const struct decoded *a, const struct decoded *b)
{
	if (a->rc != b->rc)
		return 0;
	if (a->rc == -1)
		return strcmp(a->err, b->err) == 0;
	return a->data_len == b->data_len && memcmp(a->data, b->data, a->data_len) == 0 &&
	       a->left_len == b->left_len && memcmp(a->left, b->left, a->left_len) == 0;
}

struct chunk_case {
	const char *input;
	long rc;              /* one shot: HTTP_NEED_MORE, -1, or bytes left */
	const char *data;     /* decoded, for rc >= 0 */
	const char *err;      /* for rc == -1 */
};

static const struct chunk_case chunk_cases[] = {
	{ "5\r\nhello\r\n0\r\n\r\n", 0, "hello", NULL },
	{ "5;ext=1;q=\"a b\"\r\nhello\r\n6\r\n world\r\n0;last\r\nTrailer: x\r\nOther: y\r\n\r\n"
	  "HTTP/1.1 200 OK\r\n", 17, "hello world", NULL },
	{ "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, "0123456789abcdefghij", NULL },
	{ "000000000000000000000003\r\nabc\r\n0\r\n\r\n", 0, "abc", NULL },
	{ "5 \r\nhello\r\n0 \t; x\r\n\r\n", 0, "hello", NULL },
	{ "3\nabc\n0\n\n", 0, "abc", NULL },
	{ "0\r\n\r\n", 0, "", NULL },
	{ "0\r\n\r\nextra", 5, "", NULL },
	{ "5\r\nhel", HTTP_NEED_MORE, NULL, NULL },
	{ "+5\r\nhello\r\n0\r\n\r\n", -1, NULL, "bad chunk size" },
	{ "-5\r\nhello\r\n0\r\n\r\n", -1, NULL, "bad chunk size" },
	{ " 5\r\nhello\r\n0\r\n\r\n", -1, NULL, "bad chunk size" },
	{ "0x5\r\nhello\r\n0\r\n\r\n", -1, NULL, "bad chunk size" },
	{ "\r\n", -1, NULL, "bad chunk size" },
	{ "g\r\n", -1, NULL, "bad chunk size" },
	{ "5 5\r\nhello\r\n", -1, NULL, "bad chunk size" },
	{ "10000000000000000\r\n", -1, NULL, "chunk size too large" },
	{ "5\r\nhelloX\r\n0\r\n\r\n", -1, NULL, "missing CRLF after chunk data" },
	{ "5\r\nhello\rX", -1, NULL, "missing CRLF after chunk data" },
	{ "5\rX", -1, NULL, "bare CR in chunk size line" },
	{ "5;a\x01\r\nhello", -1, NULL, "control character in chunk extension" },
	{ "0\r\nX: y\rZ\r\n\r\n", -1, NULL, "bare CR in chunked trailer" },
	{ "0\r\nX: y\r\n folded\r\n\r\n", -1, NULL, "obsolete line folding in chunked trailer" },
	{ "0\r\nX: \x7f\r\n\r\n", -1, NULL, "control character in chunked trailer" },
	{ "0\r\n\rX", -1, NULL, "bare CR in chunked trailer" },
};

static void test_chunked(void)
{
	size_t c;

	for (c = 0; c < sizeof(chunk_cases) / sizeof(chunk_cases[0]); c++) {
		const struct chunk_case *cc = &chunk_cases[c];
		size_t len = strlen(cc->input), split, i;
		static struct decoded whole, split_out, bytes;
		size_t every[512];
		int ok = 1;

		decode_parts(cc->input, len, NULL, 0, &whole);
		if (whole.rc != cc->rc)
			fprintf(stderr, "chunk case %zu: rc %ld (%s)\n", c, whole.rc, whole.err);
		CHECK_EQ_INT(whole.rc, cc->rc);
		if (cc->data)
			CHECK_EQ_MEM(whole.data, whole.data_len, cc->data, strlen(cc->data));
		if (cc->err)
			CHECK_EQ_STR(whole.err, cc->err);

		for (split = 0; split <= len; split++) {
			decode_parts(cc->input, len, &split, 1, &split_out);
			if (!same_decoding(&whole, &split_out)) {
				fprintf(stderr, "chunk case %zu: split at %zu differs\n", c, split);
				ok = 0;
				break;
			}
		}
		CHECK(ok);
		/* One byte at a time. */
		for (i = 0; i < len; i++)
			every[i] = i + 1;
		decode_parts(cc->input, len, every, len ? len - 1 : 0, &bytes);
		CHECK(same_decoding(&whole, &bytes));
	}
}

static void test_chunked_limits(void)
{
	static char input[HTTP_MAX_TRAILER + 200];
	static struct decoded out;
	size_t n;

	/* The chunk-size line: HTTP_MAX_CHUNK_LINE bytes before its CRLF, then one more. */
	n = (size_t)snprintf(input, sizeof(input), "1;");
	memset(input + n, 'e', HTTP_MAX_CHUNK_LINE - n);
	n = HTTP_MAX_CHUNK_LINE;
	n += (size_t)snprintf(input + n, sizeof(input) - n, "\r\nx\r\n0\r\n\r\n");
	decode_parts(input, n, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, 0);
	CHECK_EQ_MEM(out.data, out.data_len, "x", 1);

	n = (size_t)snprintf(input, sizeof(input), "1;");
	memset(input + n, 'e', HTTP_MAX_CHUNK_LINE + 1 - n);
	n = HTTP_MAX_CHUNK_LINE + 1;
	n += (size_t)snprintf(input + n, sizeof(input) - n, "\r\nx\r\n0\r\n\r\n");
	decode_parts(input, n, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, -1);
	CHECK_EQ_STR(out.err, "chunk extension too long");

	memset(input, '0', HTTP_MAX_CHUNK_LINE + 1);
	memcpy(input + HTTP_MAX_CHUNK_LINE + 1, "\r\n\r\n", 4);
	decode_parts(input, HTTP_MAX_CHUNK_LINE + 5, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, -1);
	CHECK_EQ_STR(out.err, "chunk size line too long");

	/* The largest size that fits 64 bits is a size, not an overflow. */
	decode_parts("ffffffffffffffff\r\nab", 20, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, HTTP_NEED_MORE);
	CHECK_EQ_MEM(out.data, out.data_len, "ab", 2);

	/* Trailer section: exactly HTTP_MAX_TRAILER bytes after "0\r\n", then one more. */
	memcpy(input, "0\r\nX: ", 6);
	memset(input + 6, 'v', HTTP_MAX_TRAILER - 3 - 4);
	memcpy(input + 3 + HTTP_MAX_TRAILER - 4, "\r\n\r\n", 4);
	decode_parts(input, 3 + HTTP_MAX_TRAILER, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, 0);
	memcpy(input, "0\r\nX: ", 6);
	memset(input + 6, 'v', HTTP_MAX_TRAILER - 3 - 3);
	memcpy(input + 3 + HTTP_MAX_TRAILER - 3, "\r\n\r\n", 4);
	decode_parts(input, 3 + HTTP_MAX_TRAILER + 1, NULL, 0, &out);
	CHECK_EQ_INT(out.rc, -1);
	CHECK_EQ_STR(out.err, "chunked trailer section exceeds 16384 bytes");
}

/* ---- head limits and bad heads ---------------------------------------------------------- */

static void test_head_limits(void)
{
	static char block[HTTP_MAX_HEADER + 100];
	struct http_response resp;
	char err[128], *copy;
	size_t n, i;
	int ok = 1;

	/* A header block of exactly HTTP_MAX_HEADER bytes, final CRLF included. */
	n = (size_t)snprintf(block, sizeof(block), "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(block + n, 'a', HTTP_MAX_HEADER - 4 - n);
	memcpy(block + HTTP_MAX_HEADER - 4, "\r\n\r\n", 4);
	copy = exact_copy(block, HTTP_MAX_HEADER);
	CHECK_EQ_INT(http_parse_head(copy, HTTP_MAX_HEADER, &resp, err, sizeof(err)),
	             HTTP_MAX_HEADER);
	CHECK_EQ_INT(resp.headers[0].value_len, HTTP_MAX_HEADER - 4 - 24);
	free(copy);
	/* ... every truncation of it needs more ... */
	for (i = HTTP_MAX_HEADER - 8; i < HTTP_MAX_HEADER && ok; i++) {
		copy = exact_copy(block, i);
		if (http_parse_head(copy, i, &resp, err, sizeof(err)) != HTTP_NEED_MORE)
			ok = 0;
		free(copy);
	}
	CHECK(ok);
	/* ... and a body after it does not count against the head. */
	memset(block + HTTP_MAX_HEADER, 'b', 100);
	CHECK_EQ_INT(http_parse_head(block, sizeof(block), &resp, err, sizeof(err)),
	             HTTP_MAX_HEADER);

	/* One byte more: need more until the limit is passed, then refused. */
	n = (size_t)snprintf(block, sizeof(block), "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(block + n, 'a', HTTP_MAX_HEADER - 3 - n);
	memcpy(block + HTTP_MAX_HEADER - 3, "\r\n\r\n", 4);
	copy = exact_copy(block, HTTP_MAX_HEADER);
	CHECK_EQ_INT(http_parse_head(copy, HTTP_MAX_HEADER, &resp, err, sizeof(err)), HTTP_NEED_MORE);
	free(copy);
	copy = exact_copy(block, HTTP_MAX_HEADER + 1);
	err[0] = '\0';
	CHECK_EQ_INT(http_parse_head(copy, HTTP_MAX_HEADER + 1, &resp, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "response header block exceeds 65536 bytes");
	free(copy);
	/* A block with no end at all is refused once it passes the limit. */
	memset(block, 'x', HTTP_MAX_HEADER + 1);
	memcpy(block, "HTTP/1.1 200 OK\r\nX: ", 20);
	CHECK_EQ_INT(http_parse_head(block, HTTP_MAX_HEADER, &resp, err, sizeof(err)), HTTP_NEED_MORE);
	CHECK_EQ_INT(http_parse_head(block, HTTP_MAX_HEADER + 1, &resp, err, sizeof(err)), -1);

	/* HTTP_MAX_HEADERS headers, then one more. */
	n = (size_t)snprintf(block, sizeof(block), "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(block + n, sizeof(block) - n, "H%zu: v\r\n", i);
	memcpy(block + n, "\r\n", 2);
	copy = exact_copy(block, n + 2);
	CHECK_EQ_INT(http_parse_head(copy, n + 2, &resp, err, sizeof(err)), (int)(n + 2));
	CHECK_EQ_INT(resp.header_count, HTTP_MAX_HEADERS);
	CHECK_EQ_MEM(resp.headers[99].name, resp.headers[99].name_len, "H99", 3);
	free(copy);
	n += (size_t)snprintf(block + n, sizeof(block) - n, "H100: v\r\n\r\n");
	copy = exact_copy(block, n);
	CHECK_EQ_INT(http_parse_head(copy, n, &resp, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "more than 100 response headers");
	free(copy);
}

struct bad_head {
	const char *input;
	size_t len;
	const char *err;
};

#define LIT(s) s, sizeof(s) - 1

static const struct bad_head bad_heads[] = {
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
	  "conflicting Content-Length values in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
	  "conflicting Content-Length values in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"), "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"), "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n"), "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"), "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"), "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n"),
	  "bad Content-Length in response" },
	{ LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
	  "response has both Transfer-Encoding and Content-Length" },
	{ LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\n\r\n"),
	  "response has both Transfer-Encoding and Content-Length" },
	{ LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	  "unsupported Transfer-Encoding in response (only chunked)" },
	{ LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  "unsupported Transfer-Encoding in response (only chunked)" },
	{ LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
	  "unsupported Transfer-Encoding in response (only chunked)" },
	{ LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n"),
	  "unsupported Transfer-Encoding in response (only chunked)" },
	{ LIT("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  "Transfer-Encoding in an HTTP/1.0 response" },
	{ LIT("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"), "bare CR in response head" },
	{ LIT("HTTP/1.1 200 OK\rX: a\r\n\r\n"), "bare CR in response head" },
	{ LIT("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n"), "obsolete line folding in response header" },
	{ LIT("HTTP/1.1 200 OK\r\nX: a\r\n\tfolded\r\n\r\n"),
	  "obsolete line folding in response header" },
	{ LIT("HTTP/1.1 200 OK\r\n X: a\r\n\r\n"), "whitespace before the first response header" },
	{ LIT("HTTP/1.1 200 OK\r\nX : a\r\n\r\n"), "whitespace between response header name and colon" },
	{ LIT("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"), "response header line without a colon" },
	{ LIT("HTTP/1.1 200 OK\r\n: v\r\n\r\n"), "response header with an empty name" },
	{ LIT("HTTP/1.1 200 OK\r\nX\x01Y: v\r\n\r\n"), "bad character in response header name" },
	{ LIT("HTTP/1.1 200 OK\r\nX(Y): v\r\n\r\n"), "bad character in response header name" },
	{ LIT("HTTP/1.1 200 OK\r\nX: a\x00" "b\r\n\r\n"), "control character in response header value" },
	{ LIT("HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n"), "control character in response header value" },
	{ LIT("HTTP/1.1 20 OK\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/1.1 2000 OK\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/1.1 099 Low\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/1.1  200 OK\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/1.1 200OK\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/1.1 +20 OK\r\n\r\n"), "malformed status line" },
	{ LIT("http/1.1 200 OK\r\n\r\n"), "malformed status line" },
	{ LIT("ICY 200 OK\r\n\r\n"), "malformed status line" },
	{ LIT("\r\nHTTP/1.1 200 OK\r\n\r\n"), "malformed status line" },
	{ LIT("HTTP/2 200 OK\r\n\r\n"), "unsupported HTTP version in status line" },
	{ LIT("HTTP/1.x 200 OK\r\n\r\n"), "unsupported HTTP version in status line" },
	{ LIT("HTTP/1.1 200 O\x01K\r\n\r\n"), "control character in status line" },
};

static void test_bad_heads(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
		size_t len = bad_heads[i].len;
		struct http_response resp;
		char err[128] = "", *copy = exact_copy(bad_heads[i].input, len);
		int rc;

		rc = http_parse_head(copy, len, &resp, err, sizeof(err));
		if (rc != -1 || strcmp(err, bad_heads[i].err) != 0)
			fprintf(stderr, "bad head %zu: rc %d err [%s]\n", i, rc, err);
		CHECK_EQ_INT(rc, -1);
		CHECK_EQ_STR(err, bad_heads[i].err);
		free(copy);
	}
}

static void test_find_header(void)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Type: a\r\nX-Amzn-ErrorType: T\r\n\r\n";
	struct http_response resp;
	const struct http_header *h;
	char err[64];

	CHECK_EQ_INT(http_parse_head(in, sizeof(in) - 1, &resp, err, sizeof(err)),
	             (int)sizeof(in) - 1);
	h = http_find_header(&resp, "x-amzn-errortype");
	CHECK(h != NULL);
	if (h)
		CHECK_EQ_MEM(h->value, h->value_len, "T", 1);
	CHECK(http_find_header(&resp, "Content") == NULL);
	CHECK(http_find_header(&resp, "content-type") != NULL);
	/* NULL err buffers are allowed (the fuzzers pass them). */
	CHECK_EQ_INT(http_parse_head("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", 26, &resp, NULL, 0), -1);
}

/* ---- URLs ------------------------------------------------------------------------------ */

struct url_case {
	const char *url;
	int rc;
	int https;
	const char *host, *port;
	int is_ip;
	const char *path;
	const char *userinfo;
	const char *err;
};

static const struct url_case url_cases[] = {
	{ "https://api.ecr.us-east-1.amazonaws.com", 0, 1, "api.ecr.us-east-1.amazonaws.com",
	  "443", 0, "/", "", NULL },
	{ "http://example.com/", 0, 0, "example.com", "80", 0, "/", "", NULL },
	{ "HTTPS://Example.COM:8443/a/b?c=d&e", 0, 1, "example.com", "8443", 0, "/a/b?c=d&e", "",
	  NULL },
	{ "http://127.0.0.1:8080/x", 0, 0, "127.0.0.1", "8080", 1, "/x", "", NULL },
	{ "https://[::1]:6443/api", 0, 1, "::1", "6443", 1, "/api", "", NULL },
	{ "https://[FD00:EC2::23]/v1", 0, 1, "fd00:ec2::23", "443", 1, "/v1", "", NULL },
	{ "http://[fd00:ec2::254]", 0, 0, "fd00:ec2::254", "80", 1, "/", "", NULL },
	{ "http://h:/p", 0, 0, "h", "80", 0, "/p", "", NULL },
	{ "http://h:00080/p", 0, 0, "h", "80", 0, "/p", "", NULL },
	{ "http://h?q=1", 0, 0, "h", "80", 0, "?q=1", "", NULL },
	{ "http://user:p%40ss@proxy.local:3128", 0, 0, "proxy.local", "3128", 0, "/",
	  "user:p@ss", NULL },
	{ "http://a@b@host/", 0, 0, "host", "80", 0, "/", "a@b", NULL },
	{ "http://169.254.170.2/v2/credentials/x", 0, 0, "169.254.170.2", "80", 1,
	  "/v2/credentials/x", "", NULL },
	{ "ftp://h/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "URL scheme must be http:// or https://" },
	{ "h/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL scheme must be http:// or https://" },
	{ "http:///p", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has no host" },
	{ "http://", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has no host" },
	{ "http://:80/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has no host" },
	{ "http://u:p@/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has no host" },
	{ "http://h:0/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad port in URL" },
	{ "http://h:65536/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad port in URL" },
	{ "http://h:99999999999999999999/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "bad port in URL" },
	{ "http://h:8a/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad port in URL" },
	{ "http://h:-1/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad port in URL" },
	{ "http://h:1:2/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad port in URL" },
	{ "http://[::1/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "unterminated IPv6 address in URL" },
	{ "http://[::g]/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad IPv6 address in URL" },
	{ "http://[]/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad IPv6 address in URL" },
	{ "http://[fe80::1%25eth0]/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "bad IPv6 address in URL" },
	{ "http://[::1]x/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "bad character after IPv6 address in URL" },
	{ "http://::1/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has no host" },
	{ "http://10.1/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad IPv4 address in URL" },
	{ "http://256.0.0.1/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "bad IPv4 address in URL" },
	{ "http://ho$t/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad character in URL host" },
	{ "http://h%41/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "bad character in URL host" },
	{ "http://h/a b", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "URL contains a space, control character or non-ASCII byte" },
	{ "http://h/\r\nX: y", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "URL contains a space, control character or non-ASCII byte" },
	{ "http://h/\xc3\xa9", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "URL contains a space, control character or non-ASCII byte" },
	{ "http://h/p#frag", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL, "URL has a fragment" },
	{ "http://u:p%4@h/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "bad percent-encoding in URL userinfo" },
	{ "http://u:p%0a@h/", HTTP_EURL, 0, NULL, NULL, 0, NULL, NULL,
	  "control character in URL userinfo" },
};

static void test_urls(void)
{
	static char long_url[HTTP_MAX_URL + 2], long_host[300];
	struct http_url url;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *uc = &url_cases[i];
		int rc;

		err[0] = '\0';
		rc = http_parse_url(uc->url, &url, err, sizeof(err));
		if (rc != uc->rc)
			fprintf(stderr, "url case %zu (%s): rc %d err [%s]\n", i, uc->url, rc, err);
		CHECK_EQ_INT(rc, uc->rc);
		if (uc->rc != 0) {
			CHECK_EQ_STR(err, uc->err);
			continue;
		}
		CHECK_EQ_INT(url.https, uc->https);
		CHECK_EQ_STR(url.host, uc->host);
		CHECK_EQ_STR(url.port, uc->port);
		CHECK_EQ_INT(url.host_is_ip, uc->is_ip);
		CHECK_EQ_MEM(url.path, url.path_len, uc->path, strlen(uc->path));
		CHECK_EQ_STR(url.userinfo, uc->userinfo);
	}

	memcpy(long_url, "http://h/", 9);
	memset(long_url + 9, 'a', HTTP_MAX_URL - 9);
	long_url[HTTP_MAX_URL] = '\0';
	CHECK_EQ_INT(http_parse_url(long_url, &url, err, sizeof(err)), 0);
	long_url[HTTP_MAX_URL] = 'a';
	long_url[HTTP_MAX_URL + 1] = '\0';
	CHECK_EQ_INT(http_parse_url(long_url, &url, err, sizeof(err)), HTTP_EURL);
	CHECK_EQ_STR(err, "URL longer than 2048 bytes");

	memcpy(long_host, "http://", 7);
	memset(long_host + 7, 'h', 255);
	long_host[262] = '\0';
	CHECK_EQ_INT(http_parse_url(long_host, &url, err, sizeof(err)), 0);
	CHECK_EQ_INT(strlen(url.host), 255);
	long_host[262] = 'h';
	long_host[263] = '\0';
	CHECK_EQ_INT(http_parse_url(long_host, &url, err, sizeof(err)), HTTP_EURL);
	CHECK_EQ_STR(err, "URL host longer than 255 bytes");

	/* Host values: brackets for IPv6, the port only when not the scheme's default. */
	{
		static const char *const hosts[][2] = {
			{ "https://api.ecr.us-east-1.amazonaws.com/", "api.ecr.us-east-1.amazonaws.com" },
			{ "https://h:443/", "h" },
			{ "http://h:443/", "h:443" },
			{ "https://h:80/", "h:80" },
			{ "http://H:80/", "h" },
			{ "https://[::1]:6443/", "[::1]:6443" },
			{ "http://[fd00:ec2::254]/", "[fd00:ec2::254]" },
		};
		char value[HTTP_MAX_HOST + 9];

		for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
			CHECK_EQ_INT(http_parse_url(hosts[i][0], &url, err, sizeof(err)), 0);
			http_host_value(&url, value, sizeof(value));
			CHECK_EQ_STR(value, hosts[i][1]);
		}
	}

	/* The message never quotes the URL: it may hold a password. */
	CHECK_EQ_INT(http_parse_url("http://user:s3cret@h:x/", &url, err, sizeof(err)), HTTP_EURL);
	CHECK(!contains(err, "s3cret"));
}

/* ---- NO_PROXY and proxy variables ----------------------------------------------------- */

struct no_proxy_case {
	const char *no_proxy, *host, *port;
	int match;
};

static const struct no_proxy_case no_proxy_cases[] = {
	{ "*", "anything.example", "443", 1 },
	{ " * ", "anything.example", "443", 1 },
	{ "", "example.com", "443", 0 },
	{ "example.com", "example.com", "443", 1 },
	{ "example.com", "api.example.com", "443", 1 },
	{ "example.com", "notexample.com", "443", 0 },
	{ "example.com", "example.com.evil", "443", 0 },
	{ ".example.com", "example.com", "443", 1 },
	{ ".example.com", "a.b.example.com", "443", 1 },
	{ "*.example.com", "a.example.com", "443", 1 },
	{ "EXAMPLE.com", "Api.Example.COM", "443", 1 },
	{ "example.com.", "api.example.com", "443", 1 },
	{ "example.com", "api.example.com.", "443", 1 },
	{ "foo, ,bar.io,,  baz", "x.bar.io", "443", 1 },
	{ "foo bar.io", "bar.io", "443", 1 },
	{ "foo,\tbar.io", "bar.io", "443", 1 },
	{ "amazonaws.com", "api.ecr.us-east-1.amazonaws.com", "443", 1 },
	{ "169.254.169.254,169.254.170.2", "169.254.170.2", "80", 1 },
	{ "169.254.169.254", "169.254.169.25", "80", 0 },
	{ "10.0.0.0/8", "10.96.0.1", "443", 1 },
	{ "10.0.0.0/8", "11.0.0.1", "443", 0 },
	{ "192.168.1.128/25", "192.168.1.200", "443", 1 },
	{ "192.168.1.128/25", "192.168.1.100", "443", 0 },
	{ "0.0.0.0/0", "8.8.8.8", "443", 1 },
	{ "10.0.0.0/33", "10.0.0.1", "443", 0 },
	{ "10.0.0.0/x", "10.0.0.1", "443", 0 },
	{ "0.1", "10.0.0.1", "443", 0 },
	{ "::1", "::1", "443", 1 },
	{ "[::1]", "::1", "443", 1 },
	{ "[::1]:6443", "::1", "6443", 1 },
	{ "[::1]:6443", "::1", "443", 0 },
	{ "fd00::/8", "fd00:ec2::23", "443", 1 },
	{ "fd00::/8", "fe80::1", "443", 0 },
	{ "[fd00::]/16", "fd00:ec2::23", "443", 1 },
	{ "fd00:ec2::23", "FD00:EC2:0::23", "443", 1 },
	{ "10.0.0.0/8", "fd00::1", "443", 0 },
	{ "::/0", "10.0.0.1", "443", 0 },
	{ "example.com:8443", "example.com", "8443", 1 },
	{ "example.com:8443", "example.com", "443", 0 },
	{ "example.com:8443", "api.example.com", "8443", 1 },
	{ "127.0.0.1:8443", "127.0.0.1", "8443", 1 },
	{ "127.0.0.1:8443", "127.0.0.1", "443", 0 },
	{ "localhost", "127.0.0.1", "443", 0 },
	{ "127.0.0.1", "localhost", "443", 0 },
	{ ".", "example.com", "443", 0 },
	{ "com", "example.com", "443", 1 },
	{ "example.com:x", "example.com", "443", 0 },
};

static void test_no_proxy(void)
{
	size_t i;

	for (i = 0; i < sizeof(no_proxy_cases) / sizeof(no_proxy_cases[0]); i++) {
		const struct no_proxy_case *nc = &no_proxy_cases[i];
		int got = http_no_proxy_match(nc->no_proxy, nc->host, nc->port);

		if (got != nc->match)
			fprintf(stderr, "no_proxy [%s] host %s port %s: got %d\n", nc->no_proxy,
			        nc->host, nc->port, got);
		CHECK_EQ_INT(got, nc->match);
	}
	CHECK_EQ_INT(http_no_proxy_match(NULL, "h", "1"), 0);
}

static void clear_proxy_env(void)
{
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

static void test_proxy_env(void)
{
	struct http_proxy proxy;
	char err[160];

	clear_proxy_env();
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_INT(proxy.enabled, 0);

	setenv("HTTPS_PROXY", "http://upper:3128", 1);
	setenv("https_proxy", "http://lower:3129", 1);
	setenv("NO_PROXY", "upper.example", 1);
	setenv("no_proxy", "lower.example,10.0.0.0/8", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_INT(proxy.enabled, 1);
	CHECK_EQ_STR(proxy.url.host, "lower");
	CHECK_EQ_STR(proxy.url.port, "3129");
	CHECK_EQ_STR(proxy.no_proxy, "lower.example,10.0.0.0/8");
	CHECK_EQ_STR(proxy.authorization, "");
	CHECK_EQ_STR(proxy.url.path, "/");

	/* An empty lower-case variable does not hide the upper-case one. */
	setenv("https_proxy", "", 1);
	setenv("no_proxy", "", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_STR(proxy.url.host, "upper");
	CHECK_EQ_STR(proxy.no_proxy, "upper.example");

	/* No scheme: http://; userinfo becomes Basic credentials (RFC 7617's example). */
	clear_proxy_env();
	setenv("HTTPS_PROXY", "Aladdin:open%20sesame@proxy.local:8080", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_STR(proxy.url.host, "proxy.local");
	CHECK_EQ_STR(proxy.url.port, "8080");
	CHECK_EQ_STR(proxy.authorization, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	setenv("HTTPS_PROXY", "http://a:b@[::1]:3128/", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_STR(proxy.url.host, "::1");
	CHECK_EQ_STR(proxy.authorization, "Basic YTpi");
	setenv("HTTPS_PROXY", "http://ab:c@p", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), 0);
	CHECK_EQ_STR(proxy.authorization, "Basic YWI6Yw==");
	CHECK_EQ_STR(proxy.url.port, "80");

	setenv("HTTPS_PROXY", "https://proxy:3128", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), HTTP_EPROXY);
	CHECK_EQ_STR(err, "HTTPS_PROXY: only http:// proxies are supported");
	setenv("https_proxy", "http://user:hunter2@proxy:99999", 1);
	CHECK_EQ_INT(http_proxy_from_env(&proxy, err, sizeof(err)), HTTP_EPROXY);
	CHECK_EQ_STR(err, "https_proxy: bad port in URL");
	clear_proxy_env();
}

/* ---- http_request against a scripted server ------------------------------------------- */

enum { KEEP, CLOSE, STALL };

struct step {
	const char *response;   /* sent after one request was read */
	int after;              /* KEEP the connection, CLOSE it, or STALL without answering */
};

struct server {
	pid_t pid;
	char port[8];
	int report;             /* read end: the requests the server saw, each then a NUL */
};

/* Reads one request (head, then Content-Length bytes of body) into buf; its length or -1. */
static long read_request(int fd, char *buf, size_t cap)
{
	size_t used = 0;
	char *end = NULL;

	while (end == NULL) {
		ssize_t n;

		if (used == cap)
			return -1;
		n = read(fd, buf + used, cap - used);
		if (n <= 0)
			return -1;
		used += (size_t)n;
		buf[used] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	{
		size_t head = (size_t)(end + 4 - buf), body = 0;
		const char *cl = strstr(buf, "Content-Length: ");

		if (cl != NULL && cl < end)
			body = strtoul(cl + 16, NULL, 10);
		while (used < head + body) {
			ssize_t n = read(fd, buf + used, cap - used);

			if (n <= 0)
				return -1;
			used += (size_t)n;
		}
	}
	return (long)used;
}

static void serve(int listener, const struct step *steps, size_t nsteps, int report)
{
	static char request[65536];
	size_t i = 0;

	signal(SIGPIPE, SIG_IGN);
	alarm(10);
	while (i < nsteps) {
		int fd = accept(listener, NULL, NULL);

		if (fd < 0)
			_exit(2);
		for (; i < nsteps; i++) {
			long n = read_request(fd, request, sizeof(request) - 1);

			if (n < 0)
				break;
			if (write(report, request, (size_t)n + 1) < 0)
				_exit(2);
			if (steps[i].after == STALL) {
				pause();
				_exit(0);
			}
			if (write(fd, steps[i].response, strlen(steps[i].response)) < 0)
				_exit(2);
			if (steps[i].after == CLOSE) {
				i++;
				break;
			}
		}
		close(fd);
	}
	_exit(0);
}

static int start_server(struct server *srv, const struct step *steps, size_t nsteps)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int listener, fds[2], one = 1;

	listener = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listener, 8) < 0 || getsockname(listener, (struct sockaddr *)&addr, &len) < 0 ||
	    pipe(fds) < 0) {
		perror("server");
		return -1;
	}
	snprintf(srv->port, sizeof(srv->port), "%u", (unsigned)ntohs(addr.sin_port));
	srv->pid = fork();
	if (srv->pid == 0) {
		close(fds[0]);
		serve(listener, steps, nsteps, fds[1]);
	}
	close(listener);
	close(fds[1]);
	srv->report = fds[0];
	return srv->pid > 0 ? 0 : -1;
}

/* Stops the server; the requests it saw land in seen (NUL-separated). */
static size_t stop_server(struct server *srv, char *seen, size_t cap)
{
	size_t used = 0;
	ssize_t n;

	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
	while (used < cap && (n = read(srv->report, seen + used, cap - used)) > 0)
		used += (size_t)n;
	close(srv->report);
	return used;
}

static int do_request(struct http_conn *conn, const char *method, const char *url,
                      size_t max_body, int64_t timeout_ms, struct http_response *resp)
{
	struct http_request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.deadline_ms = net_deadline_in(timeout_ms);
	req.max_body = max_body;
	return http_request(conn, &req, resp);
}

static void test_request_framings_and_reuse(void)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", KEEP },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n"
		  "0\r\nT: 1\r\n\r\n", KEEP },
		{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
		  KEEP },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", KEEP },
		{ "HTTP/1.1 204 No Content\r\n\r\n", KEEP },
		{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", KEEP },
		{ "HTTP/1.1 200 OK\r\n\r\nto the end", CLOSE },
	};
	static char buf[HTTP_MAX_HEADER + 4096], seen[8192], url[64];
	struct http_response resp;
	struct http_conn conn;
	struct http_request req;
	struct http_header headers[2] = {
		{ "X-Test", 6, "one", 3 },
		{ "Content-Type", 12, "application/json", 16 },
	};
	struct server srv;
	size_t n;

	if (start_server(&srv, steps, sizeof(steps) / sizeof(steps[0])) < 0) {
		CHECK(0);
		return;
	}
	http_conn_init(&conn, buf, sizeof(buf), NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/a?b=c", srv.port);

	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_INT(resp.status, 200);
	CHECK_EQ_MEM(resp.body, resp.body_len, "hello", 5);
	CHECK_EQ_INT(resp.body[resp.body_len], '\0');

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.header_count = 2;
	req.body = "{}";
	req.body_len = 2;
	req.deadline_ms = net_deadline_in(5000);
	CHECK_EQ_INT(http_request(&conn, &req, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "abcde", 5);

	req.method = "PUT";
	req.header_count = 0;
	req.body = NULL;
	req.body_len = 0;
	CHECK_EQ_INT(http_request(&conn, &req, &resp), 0);
	CHECK_EQ_INT(resp.status, 201);
	CHECK_EQ_MEM(resp.body, resp.body_len, "ok", 2);

	CHECK_EQ_INT(do_request(&conn, "HEAD", url, 0, 5000, &resp), 0);
	CHECK_EQ_INT(resp.body_len, 0);
	CHECK_EQ_INT(resp.content_length, 1234);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_INT(resp.status, 204);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_INT(resp.status, 304);
	CHECK_EQ_INT(resp.body_len, 0);
	CHECK_EQ_INT(conn.fd >= 0, 1);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "to the end", 10);
	CHECK_EQ_INT(conn.connects, 1);
	CHECK_EQ_INT(conn.fd, -1);     /* close-delimited: the connection is gone */

	n = stop_server(&srv, seen, sizeof(seen));
	CHECK(n > 0);
	/* The first request as sent: origin-form target, Host with the port. */
	{
		char expect[128];

		snprintf(expect, sizeof(expect), "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n",
		         srv.port);
		CHECK_EQ_STR(seen, expect);
		snprintf(expect, sizeof(expect), "POST /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n"
		         "X-Test: one\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		         srv.port);
		CHECK_EQ_STR(seen + strlen(seen) + 1, expect);
		CHECK(contains(seen + strlen(seen) + 1 + strlen(expect) + 1, "Content-Length: 0\r\n"));
	}
	/* The buffer no longer holds the request that was sent. */
	CHECK(!find_bytes(buf, sizeof(buf), "X-Test"));
	http_conn_close(&conn);
}

static void test_request_retry_and_close(void)
{
	static const struct step steps[] = {
		/* Kept alive by its headers, but the server drops it: the next request retries. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA", CLOSE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nB", CLOSE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nC", KEEP },
		/* Bytes past the response: not reused. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nDgarbage", KEEP },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nE", CLOSE },
	};
	static char buf[HTTP_MAX_HEADER + 1024], seen[8192], url[64];
	struct http_response resp;
	struct http_conn conn;
	struct server srv;

	if (start_server(&srv, steps, sizeof(steps) / sizeof(steps[0])) < 0) {
		CHECK(0);
		return;
	}
	http_conn_init(&conn, buf, sizeof(buf), NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", srv.port);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "A", 1);
	CHECK(conn.fd >= 0);
	usleep(100 * 1000);   /* let the server's close arrive */
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "B", 1);
	CHECK_EQ_INT(conn.connects, 2);
	CHECK_EQ_INT(conn.fd, -1);    /* Connection: close honoured */
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "C", 1);
	CHECK_EQ_INT(conn.connects, 3);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "D", 1);
	CHECK_EQ_INT(conn.fd, -1);
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
	CHECK_EQ_MEM(resp.body, resp.body_len, "E", 1);
	CHECK_EQ_INT(conn.connects, 4);
	stop_server(&srv, seen, sizeof(seen));
	http_conn_close(&conn);
}

struct limit_case {
	const char *response;   /* %s: the body, %zu its length where needed */
	int chunked;
	size_t body_len;        /* bytes of body the server sends */
	size_t max_body;
	int rc;
	const char *err;
};

/* Head + room + 1 is the buffer: the body has exactly `room` bytes of space. */
static void test_request_limits(void)
{
	enum { ROOM = 100 };
	static const char cl_head[] = "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s";
	static const char chunked_head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char close_head[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
	static const struct limit_case cases[] = {
		{ cl_head, 0, ROOM, 0, 0, NULL },
		{ cl_head, 0, ROOM + 1, 0, HTTP_ETOOBIG,
		  "response body of 101 bytes exceeds the 100 bytes left in the buffer" },
		{ cl_head, 0, 51, 50, HTTP_ETOOBIG,
		  "response body of 51 bytes exceeds the limit of 50 bytes" },
		{ cl_head, 0, 50, 50, 0, NULL },
		{ chunked_head, 1, ROOM, 0, 0, NULL },
		{ chunked_head, 1, ROOM + 1, 0, HTTP_ETOOBIG,
		  "response body exceeds the 100 bytes left in the buffer" },
		{ chunked_head, 1, 50, 50, 0, NULL },
		{ chunked_head, 1, 51, 50, HTTP_ETOOBIG, "response body exceeds the limit of 50 bytes" },
		{ close_head, 0, ROOM, 0, 0, NULL },
		{ close_head, 0, ROOM + 1, 0, HTTP_ETOOBIG,
		  "response body exceeds the 100 bytes left in the buffer" },
		{ close_head, 0, 50, 50, 0, NULL },
		{ close_head, 0, 51, 50, HTTP_ETOOBIG, "response body exceeds the limit of 50 bytes" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct limit_case *lc = &cases[i];
		static char response[1024], body[256], seen[4096], url[64];
		struct step steps[1];
		struct http_response resp;
		struct http_conn conn;
		struct server srv;
		size_t head_len, n;
		char *buf;
		int rc;

		memset(body, 'x', lc->body_len);
		body[lc->body_len] = '\0';
		body[0] = 'F';
		body[lc->body_len - 1] = 'L';
		if (lc->response == cl_head) {
			n = (size_t)snprintf(response, sizeof(response), cl_head, lc->body_len, "");
			head_len = n;
			snprintf(response + n, sizeof(response) - n, "%s", body);
		} else if (lc->chunked) {
			/* Two chunks, the terminator in the same write. */
			head_len = strlen(chunked_head);
			snprintf(response, sizeof(response), "%s%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
			         chunked_head, (size_t)10, 10, body, lc->body_len - 10, body + 10);
		} else {
			head_len = strlen(close_head);
			snprintf(response, sizeof(response), "%s%s", close_head, body);
		}
		steps[0].response = response;
		steps[0].after = CLOSE;
		if (start_server(&srv, steps, 1) < 0) {
			CHECK(0);
			return;
		}
		/* The head must fit; the body gets exactly ROOM bytes (+1 for the NUL). The
		 * request head is composed in the same buffer, so keep it at least that big. */
		buf = malloc(head_len + ROOM + 1);
		if (buf == NULL)
			abort();
		http_conn_init(&conn, buf, head_len + ROOM + 1, NULL);
		snprintf(url, sizeof(url), "http://127.0.0.1:%s/", srv.port);
		rc = do_request(&conn, "GET", url, lc->max_body, 5000, &resp);
		if (rc != lc->rc)
			fprintf(stderr, "limit case %zu: rc %d err [%s]\n", i, rc, conn.err);
		CHECK_EQ_INT(rc, lc->rc);
		if (lc->rc == 0) {
			CHECK_EQ_MEM(resp.body, resp.body_len, body, lc->body_len);
			CHECK_EQ_INT(resp.body[resp.body_len], '\0');
		} else {
			CHECK(contains(conn.err, lc->err));
			CHECK(contains(conn.err, "http 127.0.0.1:"));
		}
		http_conn_close(&conn);
		stop_server(&srv, seen, sizeof(seen));
		free(buf);
	}
}

static void test_request_errors(void)
{
	static const struct step bad[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", CLOSE },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", CLOSE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", CLOSE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", CLOSE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", CLOSE },
		{ "", STALL },
	};
	static const char *const messages[] = {
		"response has both Transfer-Encoding and Content-Length",
		"unexpected 101 Switching Protocols",
		"connection closed in the chunked body",
		"connection closed after 2 of 5 body bytes",
		"bad chunk size",
		"read: timed out",
	};
	static const int codes[] = {
		HTTP_EPROTO, HTTP_EPROTO, HTTP_EIO, HTTP_EIO, HTTP_EPROTO, HTTP_ETIMEOUT,
	};
	static char buf[HTTP_MAX_HEADER + 1024], seen[8192], url[64];
	struct http_response resp;
	struct http_conn conn;
	struct server srv;
	size_t i;

	if (start_server(&srv, bad, sizeof(bad) / sizeof(bad[0])) < 0) {
		CHECK(0);
		return;
	}
	http_conn_init(&conn, buf, sizeof(buf), NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", srv.port);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t start = net_now_ms();
		int rc = do_request(&conn, "GET", url, 0, i + 1 == sizeof(bad) / sizeof(bad[0])
		                    ? 300 : 5000, &resp);

		if (rc != codes[i] || !contains(conn.err, messages[i]))
			fprintf(stderr, "error case %zu: rc %d err [%s]\n", i, rc, conn.err);
		CHECK_EQ_INT(rc, codes[i]);
		CHECK(contains(conn.err, messages[i]));
		CHECK(contains(conn.err, "http 127.0.0.1:"));
		CHECK(net_now_ms() - start < 3000);
		CHECK_EQ_INT(conn.fd, -1);
	}
	stop_server(&srv, seen, sizeof(seen));

	/* Nothing listens on the port any more. */
	CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), HTTP_ECONNECT);
	CHECK(contains(conn.err, "connect 127.0.0.1:"));
	http_conn_close(&conn);
}

static void test_request_arguments(void)
{
	static char buf[1024];
	struct http_header secret = { "Authorization", 13, "Bearer s3cret\r\nX: y", 19 };
	struct http_header host = { "host", 4, "evil", 4 };
	struct http_header bad_name = { "X Y", 3, "v", 1 };
	struct http_response resp;
	struct http_request req;
	struct http_conn conn;

	http_conn_init(&conn, buf, sizeof(buf), NULL);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "http://127.0.0.1:1/";
	req.deadline_ms = net_deadline_in(1000);

	req.headers = &secret;
	req.header_count = 1;
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "request header Authorization: control character in value");
	CHECK(!contains(conn.err, "s3cret"));
	req.headers = &host;
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "request header host is set by http itself");
	req.headers = &bad_name;
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "bad character in a request header name");
	req.header_count = 0;

	req.method = "GE T";
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "bad request method");
	req.method = "GET";
	req.deadline_ms = 0;
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "request without a deadline");
	req.deadline_ms = net_deadline_in(1000);
	req.url = "https://127.0.0.1:1/";
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EARG);
	CHECK_EQ_STR(conn.err, "https request without trust anchors");
	req.url = "http://user:pw@127.0.0.1:1/";
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EURL);
	CHECK_EQ_STR(conn.err, "credentials in a request URL are not supported");
	req.url = "gopher://h/";
	CHECK_EQ_INT(http_request(&conn, &req, &resp), HTTP_EURL);
	CHECK_EQ_STR(conn.err, "URL scheme must be http:// or https://");
	CHECK_EQ_INT(conn.connects, 0);
}

/* ---- streamed bodies ------------------------------------------------------------------ */

/* A server that answers one request with data[0..len) written in pieces of `piece` bytes,
 * then CLOSEs, STALLs, or (KEEP) answers one more request with `next`. */
struct raw_script {
	const char *data;
	size_t len, piece;
	int after;
	const char *next;
};

static void serve_raw(int listener, const struct raw_script *sc)
{
	static char request[65536];
	size_t off = 0;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	alarm(10);
	fd = accept(listener, NULL, NULL);
	if (fd < 0 || read_request(fd, request, sizeof(request) - 1) < 0)
		_exit(2);
	while (off < sc->len) {
		size_t n = sc->len - off < sc->piece ? sc->len - off : sc->piece;

		if (write(fd, sc->data + off, n) < 0)
			_exit(2);
		off += n;
		if (sc->piece < sc->len)
			usleep(200);
	}
	if (sc->after == STALL)
		pause();
	if (sc->after == KEEP && sc->next && read_request(fd, request, sizeof(request) - 1) >= 0 &&
	    write(fd, sc->next, strlen(sc->next)) < 0)
		_exit(2);
	close(fd);
	_exit(0);
}

static int start_raw_server(struct server *srv, const struct raw_script *sc)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int listener = socket(AF_INET, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listener, 8) < 0 || getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
		return -1;
	snprintf(srv->port, sizeof(srv->port), "%u", (unsigned)ntohs(addr.sin_port));
	srv->report = -1;
	srv->pid = fork();
	if (srv->pid == 0)
		serve_raw(listener, sc);
	close(listener);
	return srv->pid > 0 ? 0 : -1;
}

static void stop_raw_server(struct server *srv)
{
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
}

static int open_stream(struct http_conn *conn, const char *port, struct http_response *resp,
                       struct http_stream *stream)
{
	char url[64];
	struct http_request req;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/watch", port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.deadline_ms = net_deadline_in(5000);
	return http_stream_open(conn, &req, resp, stream);
}

/* Reads lines until the body ends or fails: the lines joined with '|' into out. Returns 0
 * at the end of the body, or the HTTP_E* code. Polls like a watch does. */
static int read_lines(struct http_conn *conn, struct http_stream *stream, struct http_line_reader *lr,
                      char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (;;) {
		char *line;
		size_t len;
		int rc;

		if (!http_stream_pending(conn, stream)) {
			struct pollfd pfd = { conn->fd, POLLIN, 0 };

			if (poll(&pfd, 1, 5000) != 1)
				return HTTP_ETIMEOUT;
		}
		while ((rc = http_stream_line(conn, stream, lr, &line, &len, net_deadline_in(5000))) == 1) {
			CHECK_EQ_INT(strlen(line), len);
			used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "|" : "", line);
		}
		if (rc < 0)
			return rc;
		if (stream->ended)
			return 0;
	}
}

#define STREAM_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
/* Lines cut across chunks, a CRLF line, an empty line, chunk extensions, a trailer. */
static const char stream_body[] =
	"8\r\n{\"a\":1}\n\r\n"
	"3\r\ntwo\r\n"
	"6;ext=1\r\n\n\r\nthr\r\n"
	"4\r\nee\r\n\r\n"
	"1\r\nx\r\n"
	"2\r\nyz\r\n"
	"0\r\nTrailer: t\r\n\r\n";
static const char stream_lines[] = "{\"a\":1}|two||three|xyz";

static void test_stream_lines(void)
{
	static char response[512], buf[HTTP_MAX_HEADER + 256], line_buf[16], out[256];
	const size_t pieces[] = { 1, 3, 7, 4096 };

	snprintf(response, sizeof(response), "%s%s", STREAM_HEAD, stream_body);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct raw_script sc = { response, strlen(response), pieces[i], KEEP,
		                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" };
		struct http_line_reader lr = { line_buf, sizeof(line_buf), 0, 0 };
		struct http_response resp;
		struct http_stream stream;
		struct http_conn conn;
		struct server srv;

		if (start_raw_server(&srv, &sc) < 0) {
			CHECK(0);
			return;
		}
		http_conn_init(&conn, buf, sizeof(buf), NULL);
		CHECK_EQ_INT(open_stream(&conn, srv.port, &resp, &stream), 0);
		CHECK_EQ_INT(resp.status, 200);
		CHECK_EQ_INT(stream.open, 1);
		CHECK_EQ_INT(read_lines(&conn, &stream, &lr, out, sizeof(out)), 0);
		CHECK_EQ_STR(out, stream_lines);
		/* the body ended cleanly: the connection carries the next request */
		CHECK(conn.fd >= 0);
		{
			char url[64];

			snprintf(url, sizeof(url), "http://127.0.0.1:%s/next", srv.port);
			CHECK_EQ_INT(do_request(&conn, "GET", url, 0, 5000, &resp), 0);
			CHECK_EQ_MEM(resp.body, resp.body_len, "ok", 2);
			CHECK_EQ_INT(conn.connects, 1);
		}
		http_conn_close(&conn);
		stop_raw_server(&srv);
	}
}

/* The answer cut after every byte: an error at each cut (never a hang, never a partial
 * line), the lines seen a prefix of the full ones. */
static void test_stream_every_truncation(void)
{
	static char response[512], buf[HTTP_MAX_HEADER + 256], line_buf[16], out[256];
	size_t full;

	full = (size_t)snprintf(response, sizeof(response), "%s%s", STREAM_HEAD, stream_body);
	for (size_t cut = 0; cut < full; cut++) {
		struct raw_script sc = { response, cut, 4096, CLOSE, NULL };
		struct http_line_reader lr = { line_buf, sizeof(line_buf), 0, 0 };
		struct http_response resp;
		struct http_stream stream;
		struct http_conn conn;
		struct server srv;
		int rc;

		if (start_raw_server(&srv, &sc) < 0) {
			CHECK(0);
			return;
		}
		http_conn_init(&conn, buf, sizeof(buf), NULL);
		rc = open_stream(&conn, srv.port, &resp, &stream);
		if (cut < strlen(STREAM_HEAD)) {
			CHECK_EQ_INT(rc, HTTP_EIO);
		} else {
			CHECK_EQ_INT(rc, 0);
			rc = read_lines(&conn, &stream, &lr, out, sizeof(out));
			if (rc != HTTP_EIO)
				fprintf(stderr, "cut %zu: rc %d [%s]\n", cut, rc, conn.err);
			CHECK_EQ_INT(rc, HTTP_EIO);
			CHECK(contains(conn.err, "connection closed in the streamed body"));
			CHECK_EQ_INT(strncmp(stream_lines, out, strlen(out)), 0);
			CHECK(out[0] == '\0' || stream_lines[strlen(out)] == '\0' || stream_lines[strlen(out)] == '|');
			CHECK_EQ_INT(conn.fd, -1);
		}
		http_conn_close(&conn);
		stop_raw_server(&srv);
	}
}

static void test_stream_limits_and_answers(void)
{
	static char buf[HTTP_MAX_HEADER + 256], line_buf[16], out[256];
	static const struct {
		const char *response;
		int open_rc, read_rc;
		const char *lines, *err;
	} cases[] = {
		/* 15 bytes and the LF fit a 16-byte line buffer, 16 do not */
		{ STREAM_HEAD "11\r\n0123456789abcdef\n\r\n0\r\n\r\n", 0, HTTP_ETOOBIG, "",
		  "streamed line longer than 15 bytes" },
		{ STREAM_HEAD "10\r\n0123456789abcde\n\r\n0\r\n\r\n", 0, 0, "0123456789abcde", NULL },
		/* a last line without LF needs room for its NUL */
		{ STREAM_HEAD "10\r\n0123456789abcdef\r\n0\r\n\r\n", 0, HTTP_ETOOBIG, "",
		  "streamed line longer than 15 bytes" },
		/* not a stream: the Status is read whole */
		{ "HTTP/1.1 410 Gone\r\nContent-Length: 6\r\n\r\n{\"a\":1}", 0, 0, NULL, NULL },
		/* Content-Length and close-delimited bodies stream too */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\none\ntwo\n", 0, 0, "one|two", NULL },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\none\ntwo", 0, 0, "one|two", NULL },
		{ STREAM_HEAD "zz\r\n", 0, HTTP_EPROTO, "", "bad chunk size" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw_script sc = { cases[i].response, strlen(cases[i].response), 4096, CLOSE, NULL };
		struct http_line_reader lr = { line_buf, sizeof(line_buf), 0, 0 };
		struct http_response resp;
		struct http_stream stream;
		struct http_conn conn;
		struct server srv;
		int rc;

		if (start_raw_server(&srv, &sc) < 0) {
			CHECK(0);
			return;
		}
		http_conn_init(&conn, buf, sizeof(buf), NULL);
		CHECK_EQ_INT(open_stream(&conn, srv.port, &resp, &stream), cases[i].open_rc);
		if (cases[i].lines == NULL) {
			CHECK_EQ_INT(stream.open, 0);
			CHECK_EQ_INT(resp.status, 410);
			CHECK_EQ_MEM(resp.body, resp.body_len, "{\"a\":1", 6);
		} else {
			rc = read_lines(&conn, &stream, &lr, out, sizeof(out));
			if (rc != cases[i].read_rc)
				fprintf(stderr, "stream case %zu: rc %d [%s]\n", i, rc, conn.err);
			CHECK_EQ_INT(rc, cases[i].read_rc);
			CHECK_EQ_STR(out, cases[i].lines);
			if (cases[i].err) {
				CHECK(contains(conn.err, cases[i].err));
				CHECK(contains(conn.err, "http 127.0.0.1:"));
				CHECK_EQ_INT(conn.fd, -1);
			}
		}
		http_conn_close(&conn);
		stop_raw_server(&srv);
	}
}

/* A peer that stops sending: the read's deadline ends the stream; before the deadline a
 * poll sees nothing, and a closed stream refuses further reads. */
static void test_stream_stall(void)
{
	static char response[256], buf[HTTP_MAX_HEADER + 256], out[64];
	struct raw_script sc;
	struct http_response resp;
	struct http_stream stream;
	struct http_conn conn;
	struct server srv;
	struct pollfd pfd;
	int64_t t0;
	long n;

	snprintf(response, sizeof(response), "%s4\r\none\n\r\n", STREAM_HEAD);
	sc = (struct raw_script){ response, strlen(response), 4096, STALL, NULL };
	if (start_raw_server(&srv, &sc) < 0) {
		CHECK(0);
		return;
	}
	http_conn_init(&conn, buf, sizeof(buf), NULL);
	CHECK_EQ_INT(open_stream(&conn, srv.port, &resp, &stream), 0);
	n = http_stream_read(&conn, &stream, out, sizeof(out), net_deadline_in(1000));
	if (n == 0)   /* the first read may bring only the head's tail */
		n = http_stream_read(&conn, &stream, out, sizeof(out), net_deadline_in(1000));
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_MEM(out, (size_t)(n > 0 ? n : 0), "one\n", 4);
	CHECK_EQ_INT(http_stream_pending(&conn, &stream), 0);
	pfd = (struct pollfd){ conn.fd, POLLIN, 0 };
	CHECK_EQ_INT(poll(&pfd, 1, 100), 0);
	t0 = net_now_ms();
	CHECK_EQ_INT(http_stream_read(&conn, &stream, out, sizeof(out), net_deadline_in(200)), HTTP_ETIMEOUT);
	CHECK(net_now_ms() - t0 < 1000);
	CHECK_EQ_INT(conn.fd, -1);
	CHECK_EQ_INT(http_stream_read(&conn, &stream, out, sizeof(out), net_deadline_in(200)), HTTP_EARG);
	http_conn_close(&conn);
	stop_raw_server(&srv);
}

int main(void)
{
	test_every_truncation();
	test_chunked();
	test_chunked_limits();
	test_head_limits();
	test_bad_heads();
	test_find_header();
	test_urls();
	test_no_proxy();
	test_proxy_env();
	test_request_arguments();
	test_request_framings_and_reuse();
	test_request_retry_and_close();
	test_request_limits();
	test_request_errors();
	test_stream_lines();
	test_stream_every_truncation();
	test_stream_limits_and_answers();
	test_stream_stall();
	return UNIT_DONE();
}
