/*
 * http: an HTTP/1.1 client (RFC 9110/9112) over plain TCP or tls, with persistent
 * connections, CONNECT proxies and a deadline on every request.
 *
 * Nothing here allocates: the caller owns struct http_conn and the buffer responses are
 * read into. A response's headers and body are views into that buffer, valid until the
 * next request on the same connection.
 *
 * Errors: a negative HTTP_E* code, with one line in conn->err that says what was wrong
 * ("response header block exceeds 65536 bytes", "bad chunk size", "connect ...: refused",
 * a tls message, ...). A more specific message is never overwritten by a vaguer one.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "anchors.h"
#include "tls.h"

#define HTTP_MAX_HEADER       65536              /* bytes of status line + header block */
#define HTTP_MAX_HEADERS      100
#define HTTP_DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define HTTP_MAX_HOST         255
#define HTTP_MAX_URL          2048
#define HTTP_MAX_CHUNK_LINE   4096               /* chunk size + extensions, one line */
#define HTTP_MAX_TRAILER      16384              /* whole trailer section of a chunked body */
#define HTTP_MAX_INTERIM      16                 /* 1xx responses before the final one */

enum {
	HTTP_EIO = -1,        /* transport error after the request was sent */
	HTTP_ETIMEOUT = -2,   /* the request's deadline passed */
	HTTP_ECONNECT = -3,   /* resolve or connect failed (to the origin or the proxy) */
	HTTP_ETLS = -4,       /* TLS handshake failed, other than a certificate */
	HTTP_ECERT = -5,      /* server certificate refused */
	HTTP_EPROTO = -6,     /* malformed or hostile response */
	HTTP_ETOOBIG = -7,    /* a size limit was hit */
	HTTP_EURL = -8,       /* bad URL */
	HTTP_EPROXY = -9,     /* proxy refused the CONNECT or is misconfigured */
	HTTP_EARG = -10,      /* caller error (buffer too small, bad header, ...) */
};

/* The pure parsers' "need more" (http_parse_head, http_chunked_decode): the input is not
 * complete yet, no failure. Kept apart from every HTTP_E* code (-2 was HTTP_ETIMEOUT's
 * value too), so a parser result can never pass for a request's error or the other way. */
#define HTTP_NEED_MORE (-100)

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* ---- URLs ---------------------------------------------------------------------------- */

struct http_url {
	int https;                        /* 1 for https, 0 for http */
	char host[HTTP_MAX_HOST + 1];     /* no brackets for IPv6 */
	char port[6];                     /* explicit or the scheme's default */
	int host_is_ip;
	const char *path;                 /* into the parsed string: "/..." incl. query, "?query"
	                                     when the URL has no path (sent as "/?query"), or "/" */
	size_t path_len;
	char userinfo[256];               /* "user:password" as written (percent-decoded), or "" */
};

/* Parses http(s)://[userinfo@]host[:port][/path?query]. IPv6 literals in brackets; the
 * host is lower-cased. Spaces, control and non-ASCII bytes (send them percent-encoded) and
 * fragments are refused. Returns 0, or HTTP_EURL with err filled ("URL has no host", "bad
 * port in URL", ...); the message never quotes the URL, which may carry a password. */
int http_parse_url(const char *url, struct http_url *out, char *err, size_t errlen);

/* The Host field value http sends for url (RFC 9110 7.2): IPv6 literals in brackets, the
 * port only when it is not the scheme's default. What SigV4 must sign. outlen should be at
 * least HTTP_MAX_HOST + 9; the value is cut to fit otherwise. */
void http_host_value(const struct http_url *url, char *out, size_t outlen);

/* ---- response parsing (pure, no I/O; fuzzed) --------------------------------------- */

struct http_response {
	int status;                       /* 100..999 */
	int minor_version;                /* HTTP/1.x */
	const char *reason;
	size_t reason_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t header_count;
	/* framing, derived from the headers by http_parse_head */
	int chunked;                      /* Transfer-Encoding: chunked */
	int64_t content_length;           /* -1 when absent */
	int connection_close;             /* Connection: close, or HTTP/1.0 without keep-alive */
	/* body (http_request fills these); body[body_len] is always '\0' */
	const char *body;
	size_t body_len;
};

/*
 * Parses a status line and header block from buf[0..len). Returns the number of bytes
 * consumed (> 0) when the block is complete, HTTP_NEED_MORE when more input is needed, or -1
 * when the
 * input is invalid, with err saying why: malformed status line, bare CR, bare LF where a
 * CRLF is due is accepted only as RFC 9112 2.2 allows, obsolete line folding, a header
 * with no colon or whitespace before the colon, more than HTTP_MAX_HEADERS headers, a
 * block longer than HTTP_MAX_HEADER, an invalid or conflicting Content-Length, or
 * Transfer-Encoding together with Content-Length or other than chunked.
 */
int http_parse_head(const char *buf, size_t len, struct http_response *resp,
                    char *err, size_t errlen);

/* Chunked transfer decoding (RFC 9112 7.1), in place, like picohttpparser's. Zero it to
 * start. */
struct http_chunked {
	uint64_t remaining;               /* bytes left in the current chunk */
	int state;
	int size_digits;
	int in_trailer;
	size_t trailer_len;
	size_t line_len;                  /* bytes of the current chunk-size line */
};

/*
 * Decodes buf[0..*len) in place: on return buf[0..*len) holds the decoded data of this
 * input. Returns HTTP_NEED_MORE when the message is not finished (feed more; every input byte was
 * consumed), -1 on bad input (err filled: "bad chunk size", "chunk size too large",
 * "missing CRLF after chunk data", "chunk extension too long", "chunked trailer section
 * exceeds 16384 bytes", ...), or >= 0 when the last chunk and trailer ended: the number of
 * undecoded bytes left at buf + *len (the start of a next response). Trailer fields are
 * checked and discarded (RFC 9110 6.5.1 lets a recipient ignore them).
 */
long http_chunked_decode(struct http_chunked *dec, char *buf, size_t *len,
                         char *err, size_t errlen);

/* ---- proxies ------------------------------------------------------------------------ */

struct http_proxy {
	int enabled;                      /* HTTPS_PROXY set */
	struct http_url url;              /* http://[user:pass@]host:port */
	char authorization[400];          /* "Basic ..." or "" */
	char no_proxy[1024];              /* NO_PROXY as given */
};

/* Reads HTTPS_PROXY / https_proxy and NO_PROXY / no_proxy (lowercase wins, as the AWS CLI
 * and curl do). Returns 0, or HTTP_EPROXY with err naming the bad variable. */
int http_proxy_from_env(struct http_proxy *proxy, char *err, size_t errlen);

/* 1 when host:port must bypass the proxy per no_proxy: "*", exact names, ".suffix" and
 * "suffix" domain matches, IP literals, and CIDRs (v4 and v6); port-qualified entries
 * ("host:8443") match only that port. */
int http_no_proxy_match(const char *no_proxy, const char *host, const char *port);

/* ---- connections and requests ------------------------------------------------------- */

struct http_conn {
	/* set by the caller before the first request (http_conn_init) */
	char *buf;                        /* response buffer: head + body */
	size_t buf_size;
	const struct http_proxy *proxy;   /* NULL: never proxy */

	/* state */
	int fd;                           /* -1 when not connected */
	int https;
	int via_proxy;
	char host[HTTP_MAX_HOST + 1];
	char port[6];
	const struct anchors *anchors;    /* anchors the live connection was verified with */
	unsigned requests_on_conn;        /* 0 on a fresh connection */
	unsigned connects;                /* connections opened over the life of this struct */
	size_t touched;                   /* bytes of buf ever received into, from its start:
	                                     what a wipe must clear (requests are wiped when
	                                     sent), so a large buffer costs memory only for what
	                                     arrived (http_conn_wipe) */
	size_t pending_start, pending_len;/* bytes read past the previous response: always 0
	                                     between requests, since a server that sends more
	                                     than its response loses the connection */
	struct tls_conn tls;
	char err[256];
};

/* Prepares conn with the caller's buffer (at least HTTP_MAX_HEADER + the largest body
 * expected + 1) and proxy settings (may be NULL). The request head is composed in the same
 * buffer and wiped once sent, so it must also hold the request's headers. */
void http_conn_init(struct http_conn *conn, char *buf, size_t buf_size,
                    const struct http_proxy *proxy);

/* Zeroes what answers left in buf (touched bytes), before it is freed or reused. */
void http_conn_wipe(struct http_conn *conn);

/* Closes the connection, if any. conn can be used again. */
void http_conn_close(struct http_conn *conn);

struct http_request {
	const char *method;               /* "GET", "PATCH", ... */
	const char *url;                  /* absolute http(s) URL */
	const struct http_header *headers;/* extra headers; Host, Content-Length added here */
	size_t header_count;
	const void *body;
	size_t body_len;
	const struct anchors *anchors;    /* for https; required */
	int64_t deadline_ms;              /* absolute, net_now_ms() based; required (> 0) */
	size_t max_body;                  /* 0: HTTP_DEFAULT_MAX_BODY */
};

/*
 * Sends req and reads the whole response into conn->buf. 1xx responses are skipped; no
 * body for HEAD, 204 and 304; bodies framed by Content-Length, chunked, or close.
 * The connection is kept for the next request to the same scheme/host/port/anchors unless
 * the server closes or says Connection: close. A request that fails on a reused connection
 * before any response byte arrived is retried once on a fresh connection (any method: the
 * usual cause is a server that closed the idle connection as the request went out, and
 * every request this program makes is safe to repeat).
 * https requests go through conn->proxy with CONNECT unless its no_proxy matches; plain
 * http requests never use the proxy. The caller's Host, Content-Length and
 * Transfer-Encoding headers are refused: http frames the message itself.
 * Returns 0 with resp filled, or a negative HTTP_E* code with conn->err set. Messages
 * never quote request headers or bodies. After HTTP_ETOOBIG, resp->content_length still
 * holds the length the server announced (-1 when none), so the caller can size a buffer.
 */
int http_request(struct http_conn *conn, const struct http_request *req,
                 struct http_response *resp);

/* ---- streamed responses (a watch: a chunked body that never ends) --------------------- */

/* Zeroed by http_stream_open; the caller only reads `ended`. */
struct http_stream {
	int open;                         /* a 2xx head was read; the body is being streamed */
	int ended;                        /* the body is complete (or ended with the connection) */
	int chunked, to_close, close_after;
	uint64_t left;                    /* Content-Length bytes not yet read */
	struct http_chunked dec;
	size_t raw_start, raw_len;        /* read, not yet decoded bytes in conn->buf */
};

/*
 * Sends req as http_request does and reads the head of the answer. A 2xx answer opens
 * the stream: its body is left for http_stream_read / http_stream_line, and until the
 * stream has ended conn MUST NOT carry another request (http_conn_close abandons it). Any
 * other answer is read whole into resp->body, as http_request reads it, and the stream
 * stays closed. Returns 0, or a negative HTTP_E* code with conn->err set.
 */
int http_stream_open(struct http_conn *conn, const struct http_request *req,
                     struct http_response *resp, struct http_stream *stream);

/*
 * Copies body bytes into out[0..len), making at most one read from the transport, which
 * waits until deadline_ms. Returns the bytes copied, which may be 0 when the read brought
 * only chunk framing (poll and call again); at the end of the body stream->ended is set
 * and the connection is kept when the framing allows. Returns a negative HTTP_E* code,
 * the connection closed, on errors and when the deadline passes (a timeout is fatal to a
 * TLS stream: poll conn->fd first, and use the deadline as the bound on a stalled peer).
 */
long http_stream_read(struct http_conn *conn, struct http_stream *stream, void *out, size_t len,
                      int64_t deadline_ms);

/* 1 when bytes wait in http's or tls's buffers: the next read needs no poll of conn->fd. */
int http_stream_pending(const struct http_conn *conn, const struct http_stream *stream);

/* Splits a stream into lines in the caller's buffer; zero it and set buf and cap (the
 * longest line accepted + 1). */
struct http_line_reader {
	char *buf;
	size_t cap;
	size_t len, start;                /* bytes held; where the next line starts */
};

/*
 * The next line of the stream: returns 1 with *line (NUL-terminated, its LF and a CR
 * before it removed, valid until the next call) and *line_len; 0 when no whole line is
 * held and one http_stream_read brought none (poll, or stop when stream->ended); or a
 * negative HTTP_E* code with the connection closed: HTTP_ETOOBIG for a line longer than
 * cap - 1 bytes. A last line the body ends without LF is returned as a line.
 */
int http_stream_line(struct http_conn *conn, struct http_stream *stream, struct http_line_reader *lr,
                     char **line, size_t *line_len, int64_t deadline_ms);

/* Case-insensitive header lookup in a parsed response; NULL when absent. */
const struct http_header *http_find_header(const struct http_response *resp, const char *name);

#endif
