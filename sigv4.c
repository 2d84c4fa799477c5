/*
 * sigv4: AWS Signature Version 4, header-signed requests.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 *
 * The canonical request is never held in memory: every piece is written to a sink that
 * either appends to the caller's buffer (sigv4_canonical_request, sigv4_string_to_sign,
 * the Authorization value) or feeds SHA-256 / HMAC-SHA256. Sorting works on small index
 * arrays on the stack, and the sort keys (URI-encoded query names and values) are produced
 * byte by byte while comparing, so nothing is allocated.
 */
#include "sigv4.h"

#include <string.h>

#include <bearssl_hash.h>
#include <bearssl_hmac.h>

#include "civil.h"

/* ---- output sink ------------------------------------------------------------------ */

struct sink {
	char *buf;                /* buffer mode: cap counts the terminating NUL */
	size_t cap, len;
	int overflow;
	br_sha256_context *sha;   /* else hash mode */
	br_hmac_context *hmac;    /* else MAC mode */
};

static void put(struct sink *s, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (s->sha) {
		br_sha256_update(s->sha, data, n);
	} else if (s->hmac) {
		br_hmac_update(s->hmac, data, n);
	} else if (!s->overflow) {
		if (s->cap == 0 || n > s->cap - 1 - s->len) {
			s->overflow = 1;
			return;
		}
		memcpy(s->buf + s->len, data, n);
		s->len += n;
	}
}

static void put_str(struct sink *s, const char *str)
{
	put(s, str, strlen(str));
}

static void put_char(struct sink *s, char c)
{
	put(s, &c, 1);
}

static void put_hex(struct sink *s, const unsigned char *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];

	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[bytes[i] >> 4];
		pair[1] = digits[bytes[i] & 15];
		put(s, pair, 2);
	}
}

static void sink_buffer(struct sink *s, char *out, size_t outlen)
{
	memset(s, 0, sizeof *s);
	s->buf = out;
	s->cap = outlen;
	if (outlen > 0)
		out[0] = '\0';
}

/* Terminates a buffer sink: its length, or -1 (and "") when it did not fit. */
static long sink_finish(struct sink *s)
{
	if (s->overflow || s->cap == 0) {
		if (s->cap > 0)
			s->buf[0] = '\0';
		return -1;
	}
	s->buf[s->len] = '\0';
	return (long)s->len;
}

static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* ---- characters ------------------------------------------------------------------- */

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 9110 section 5.6.2: token characters (header names, methods). */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* SigV4 UriEncode keeps exactly the RFC 3986 unreserved set. */
static int is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive order of two header names, as their lowercase bytes compare. */
static int name_compare(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (;; x++, y++) {
		unsigned char cx = lower(*x), cy = lower(*y);
		if (cx != cy || cx == 0)
			return (int)cx - (int)cy;
	}
}

/* ---- URI encoding ------------------------------------------------------------------ */

/*
 * Produces the UriEncode form of n source bytes, one output byte per call. With decode set,
 * a valid %XX in the source stands for its byte (so "%7e" and "~" give the same output and
 * "%2f" gives "%2F"); a '%' not followed by two hex digits is a literal '%'.
 */
struct encoder {
	const unsigned char *p, *end;
	int decode;
	char pending[3];
	int pos, count;
};

static void encoder_init(struct encoder *e, const char *p, size_t n, int decode)
{
	e->p = (const unsigned char *)p;
	e->end = e->p + n;
	e->decode = decode;
	e->pos = e->count = 0;
}

static int encoder_next(struct encoder *e)
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char c;

	if (e->pos < e->count)
		return (unsigned char)e->pending[e->pos++];
	if (e->p == e->end)
		return -1;
	c = *e->p++;
	if (c == '%' && e->decode && e->end - e->p >= 2 &&
	    hex_value(e->p[0]) >= 0 && hex_value(e->p[1]) >= 0) {
		c = (unsigned char)(hex_value(e->p[0]) << 4 | hex_value(e->p[1]));
		e->p += 2;
	}
	if (is_unreserved(c))
		return c;
	e->pending[0] = '%';
	e->pending[1] = digits[c >> 4];
	e->pending[2] = digits[c & 15];
	e->pos = 1;
	e->count = 3;
	return '%';
}

static void put_encoded(struct sink *s, const char *p, size_t n, int decode)
{
	struct encoder e;
	char chunk[96];
	size_t used = 0;
	int c;

	encoder_init(&e, p, n, decode);
	while ((c = encoder_next(&e)) >= 0) {
		chunk[used++] = (char)c;
		if (used == sizeof chunk) {
			put(s, chunk, used);
			used = 0;
		}
	}
	put(s, chunk, used);
}

/* Bytewise order of the encoded forms of two decoded-then-encoded strings. */
static int encoded_compare(const char *a, size_t an, const char *b, size_t bn)
{
	struct encoder x, y;

	encoder_init(&x, a, an, 1);
	encoder_init(&y, b, bn, 1);
	for (;;) {
		int cx = encoder_next(&x), cy = encoder_next(&y);
		if (cx != cy)
			return cx - cy;     /* the end (-1) sorts before any byte */
		if (cx < 0)
			return 0;
	}
}

/* ---- request preparation ------------------------------------------------------------ */

struct span {
	const char *p;
	size_t n;
};

struct query_param {
	struct span name, value;
};

struct prepared {
	const struct sigv4_request *req;
	int normalize_path;
	unsigned char order[SIGV4_MAX_HEADERS];    /* header indexes sorted by name, stable */
	size_t header_count;
	struct query_param query[SIGV4_MAX_QUERY]; /* sorted by encoded name, then value */
	size_t query_count;
	const char *payload_hash;                  /* x-amz-content-sha256 value, or NULL */
	const char *amz_date_header;               /* x-amz-date value, or NULL */
};

/* A header value may hold HTAB and obs-fold breaks (RFC 9112 section 5.2), nothing else
 * below 0x20: a bare CR or LF would split the header on the wire. */
static int header_value_valid(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	for (; *p; p++) {
		if (*p == '\r') {
			if (p[1] != '\n')
				return 0;
			p++;
		}
		if (*p == '\n') {
			if (p[1] != ' ' && p[1] != '\t')
				return 0;
			continue;
		}
		if (*p != '\t' && is_ctl(*p))
			return 0;
	}
	return 1;
}

static int token_valid(const char *t)
{
	if (t == NULL || *t == '\0')
		return 0;
	for (; *t; t++)
		if (!is_tchar((unsigned char)*t))
			return 0;
	return 1;
}

static int no_ctl(const char *s)
{
	for (; *s; s++)
		if (is_ctl((unsigned char)*s))
			return 0;
	return 1;
}

static int query_param_compare(const struct query_param *a, const struct query_param *b)
{
	int c = encoded_compare(a->name.p, a->name.n, b->name.p, b->name.n);
	return c ? c : encoded_compare(a->value.p, a->value.n, b->value.p, b->value.n);
}

static int prepare_query(struct prepared *pr, const char *query)
{
	const char *p = query ? query : "";

	pr->query_count = 0;
	if (!no_ctl(p) || strchr(p, '#'))
		return -1;
	while (*p) {
		const char *end = strchr(p, '&'), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct query_param *qp;

		if (n > 0) {
			if (pr->query_count == SIGV4_MAX_QUERY)
				return -1;
			qp = &pr->query[pr->query_count++];
			eq = memchr(p, '=', n);
			qp->name.p = p;
			qp->name.n = eq ? (size_t)(eq - p) : n;
			qp->value.p = eq ? eq + 1 : p + n;
			qp->value.n = eq ? n - qp->name.n - 1 : 0;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	/* Insertion sort: at most SIGV4_MAX_QUERY entries, and stable. */
	for (size_t i = 1; i < pr->query_count; i++) {
		struct query_param key = pr->query[i];
		size_t j = i;
		while (j > 0 && query_param_compare(&pr->query[j - 1], &key) > 0) {
			pr->query[j] = pr->query[j - 1];
			j--;
		}
		pr->query[j] = key;
	}
	return 0;
}

static int prepare(struct prepared *pr, const struct sigv4_request *req, int normalize_path)
{
	const struct sigv4_header *h;
	int have_host = 0;

	memset(pr, 0, sizeof *pr);
	pr->req = req;
	pr->normalize_path = normalize_path;
	if (req == NULL || !token_valid(req->method) || req->path == NULL || !no_ctl(req->path))
		return -1;
	/* Origin-form request targets start with "/" (RFC 9112 section 3.2.1); a '?' or '#'
	 * would end the path on the wire, so the server would sign a different one. */
	if ((req->path[0] != '\0' && req->path[0] != '/') || strpbrk(req->path, "?#"))
		return -1;
	if (req->header_count > SIGV4_MAX_HEADERS || (req->header_count > 0 && req->headers == NULL))
		return -1;
	if (req->body == NULL && req->body_len > 0)
		return -1;

	for (size_t i = 0; i < req->header_count; i++) {
		h = &req->headers[i];
		if (!token_valid(h->name) || h->value == NULL || !header_value_valid(h->value))
			return -1;
		if (name_compare(h->name, "host") == 0)
			have_host = 1;
		if (name_compare(h->name, "x-amz-content-sha256") == 0) {
			if (pr->payload_hash)
				return -1;
			pr->payload_hash = h->value;
		}
		if (name_compare(h->name, "x-amz-date") == 0) {
			if (pr->amz_date_header)
				return -1;
			pr->amz_date_header = h->value;
		}
		/* Stable insertion by lowercase name: repeated names keep their order. */
		size_t j = i;
		while (j > 0 && name_compare(req->headers[pr->order[j - 1]].name, h->name) > 0) {
			pr->order[j] = pr->order[j - 1];
			j--;
		}
		pr->order[j] = (unsigned char)i;
	}
	pr->header_count = req->header_count;
	/* "The host header must be included as a signed header" (create-signed-request.html). */
	if (!have_host)
		return -1;
	return prepare_query(pr, req->query);
}

/* ---- canonical request ---------------------------------------------------------------- */

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trimall: no leading or trailing whitespace, every inner run (folds included) one SP. */
static void put_trimmed(struct sink *s, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	int started = 0;

	while (*p) {
		const unsigned char *word = p;
		while (*p && is_space(*p))
			p++;
		if (*p == '\0')
			break;
		if (started && p != word)
			put_char(s, ' ');
		word = p;
		while (*p && !is_space(*p))
			p++;
		put(s, word, (size_t)(p - word));
		started = 1;
	}
}

static void put_lower(struct sink *s, const char *name)
{
	for (; *name; name++)
		put_char(s, (char)lower((unsigned char)*name));
}

/* Segment [start, end) of a path, for start at a segment's first byte. */
static const char *segment_end(const char *start)
{
	const char *slash = strchr(start, '/');
	return slash ? slash : start + strlen(start);
}

enum segment_kind { SEG_SKIP, SEG_UP, SEG_NAME };

static enum segment_kind segment_kind(const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.'))
		return SEG_SKIP;
	if (n == 2 && p[0] == '.' && p[1] == '.')
		return SEG_UP;
	return SEG_NAME;
}

/*
 * A named segment survives dot removal unless a later ".." pops it: walking forward, every
 * later name pushes one level and every ".." pops one; the segment is popped when a ".."
 * arrives with nothing pushed above it. Quadratic in the segment count but needs no stack.
 */
static int segment_survives(const char *after)
{
	size_t above = 0;

	while (*after) {
		const char *end = segment_end(after);
		enum segment_kind kind = segment_kind(after, (size_t)(end - after));
		if (kind == SEG_NAME)
			above++;
		else if (kind == SEG_UP) {
			if (above == 0)
				return 0;
			above--;
		}
		after = *end ? end + 1 : end;
	}
	return 1;
}

static void put_path(struct sink *s, const char *path, int normalize)
{
	const char *p = path;
	int wrote_segment = 0;

	if (*p == '\0') {
		put_char(s, '/');
		return;
	}
	p++;  /* the leading '/' */
	put_char(s, '/');
	if (!normalize) {
		/* S3: every segment kept, each encoded exactly once. */
		for (;;) {
			const char *end = segment_end(p);
			put_encoded(s, p, (size_t)(end - p), 1);
			if (*end == '\0')
				break;
			put_char(s, '/');
			p = end + 1;
		}
		return;
	}
	/* Every other service: RFC 3986 section 5.2.4 dot removal, empty segments dropped
	 * too (as botocore and aws-c-auth do), then each segment encoded as it stands, which
	 * encodes the already-encoded wire form a second time. */
	while (*p) {
		const char *end = segment_end(p);
		size_t n = (size_t)(end - p);
		const char *next = *end ? end + 1 : end;

		if (segment_kind(p, n) == SEG_NAME && segment_survives(next)) {
			if (wrote_segment)
				put_char(s, '/');
			put_encoded(s, p, n, 0);
			wrote_segment = 1;
		}
		p = next;
	}
	if (wrote_segment && path[strlen(path) - 1] == '/')
		put_char(s, '/');
}

static void put_query(struct sink *s, const struct prepared *pr)
{
	for (size_t i = 0; i < pr->query_count; i++) {
		const struct query_param *qp = &pr->query[i];
		if (i > 0)
			put_char(s, '&');
		put_encoded(s, qp->name.p, qp->name.n, 1);
		put_char(s, '=');
		put_encoded(s, qp->value.p, qp->value.n, 1);
	}
}

static void put_signed_headers(struct sink *s, const struct prepared *pr)
{
	const struct sigv4_header *headers = pr->req->headers;

	for (size_t i = 0; i < pr->header_count; i++) {
		const char *name = headers[pr->order[i]].name;
		if (i > 0 && name_compare(headers[pr->order[i - 1]].name, name) == 0)
			continue;
		if (i > 0)
			put_char(s, ';');
		put_lower(s, name);
	}
}

static void put_canonical_headers(struct sink *s, const struct prepared *pr)
{
	const struct sigv4_header *headers = pr->req->headers;

	for (size_t i = 0; i < pr->header_count; i++) {
		const struct sigv4_header *h = &headers[pr->order[i]];
		int continues = i > 0 && name_compare(headers[pr->order[i - 1]].name, h->name) == 0;
		if (continues) {
			put_char(s, ',');
		} else {
			if (i > 0)
				put_char(s, '\n');
			put_lower(s, h->name);
			put_char(s, ':');
		}
		put_trimmed(s, h->value);
	}
	if (pr->header_count > 0)
		put_char(s, '\n');
}

static void put_canonical_request(struct sink *s, const struct prepared *pr)
{
	const struct sigv4_request *req = pr->req;

	put_str(s, req->method);
	put_char(s, '\n');
	put_path(s, req->path, pr->normalize_path);
	put_char(s, '\n');
	put_query(s, pr);
	put_char(s, '\n');
	put_canonical_headers(s, pr);
	put_char(s, '\n');
	put_signed_headers(s, pr);
	put_char(s, '\n');
	if (pr->payload_hash) {
		put_trimmed(s, pr->payload_hash);
	} else {
		br_sha256_context body;
		unsigned char digest[br_sha256_SIZE];

		br_sha256_init(&body);
		if (req->body_len > 0)
			br_sha256_update(&body, req->body, req->body_len);
		br_sha256_out(&body, digest);
		put_hex(s, digest, sizeof digest);
	}
}

long sigv4_canonical_request(const struct sigv4_request *req, int normalize_path,
                             char *out, size_t outlen)
{
	struct prepared pr;
	struct sink s;

	sink_buffer(&s, out, outlen);
	if (prepare(&pr, req, normalize_path) < 0)
		s.overflow = 1;
	else
		put_canonical_request(&s, &pr);
	return sink_finish(&s);
}

/* ---- string to sign and signature ---------------------------------------------------- */

/* A part of the credential: printable, no '/' that would shift the scope's parts and no
 * ',' that would end the Credential= field of the Authorization header. */
static int scope_part_valid(const char *v)
{
	if (v == NULL || *v == '\0')
		return 0;
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',')
			return 0;
	}
	return 1;
}

static int amz_date_valid(const char *d)
{
	if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

static int scope_valid(const struct sigv4_scope *scope)
{
	return scope != NULL && amz_date_valid(scope->amz_date) &&
	       scope_part_valid(scope->region) && scope_part_valid(scope->service);
}

/* "YYYYMMDD/region/service/aws4_request" */
static void put_scope(struct sink *s, const struct sigv4_scope *scope)
{
	put(s, scope->amz_date, 8);
	put_char(s, '/');
	put_str(s, scope->region);
	put_char(s, '/');
	put_str(s, scope->service);
	put_str(s, "/aws4_request");
}

/* Validates, then hashes the canonical request. */
static int prepare_signing(struct prepared *pr, const struct sigv4_request *req,
                           const struct sigv4_scope *scope, unsigned char digest[br_sha256_SIZE])
{
	br_sha256_context hash;
	struct sink s;

	if (!scope_valid(scope) || prepare(pr, req, scope->normalize_path) < 0)
		return -1;
	/* The signed date and the scope date must be the one instant the server checks. */
	if (pr->amz_date_header && strcmp(pr->amz_date_header, scope->amz_date) != 0)
		return -1;
	br_sha256_init(&hash);
	memset(&s, 0, sizeof s);
	s.sha = &hash;
	put_canonical_request(&s, pr);
	br_sha256_out(&hash, digest);
	return 0;
}

static void put_string_to_sign(struct sink *s, const struct sigv4_scope *scope,
                               const unsigned char digest[br_sha256_SIZE])
{
	put_str(s, "AWS4-HMAC-SHA256\n");
	put_str(s, scope->amz_date);
	put_char(s, '\n');
	put_scope(s, scope);
	put_char(s, '\n');
	put_hex(s, digest, br_sha256_SIZE);
}

long sigv4_string_to_sign(const struct sigv4_request *req, const struct sigv4_scope *scope,
                          char *out, size_t outlen)
{
	struct prepared pr;
	unsigned char digest[br_sha256_SIZE];
	struct sink s;

	sink_buffer(&s, out, outlen);
	if (prepare_signing(&pr, req, scope, digest) < 0)
		s.overflow = 1;
	else
		put_string_to_sign(&s, scope, digest);
	return sink_finish(&s);
}

/* out = HMAC-SHA256(key, msg); the key schedule is wiped before return. */
static void hmac_sha256(const void *key, size_t key_len, const char *msg, size_t msg_len,
                        unsigned char out[br_sha256_SIZE])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, key_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, msg_len);
	br_hmac_out(&hc, out);
	wipe(&kc, sizeof kc);
	wipe(&hc, sizeof hc);
}

long sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key,
                         const struct sigv4_scope *scope, char *out, size_t outlen)
{
	struct prepared pr;
	unsigned char digest[br_sha256_SIZE], signature[br_sha256_SIZE];
	unsigned char secret[4 + SIGV4_MAX_SECRET], k[br_sha256_SIZE];
	br_hmac_key_context kc;
	br_hmac_context hc;
	struct sink s;
	size_t secret_len;

	sink_buffer(&s, out, outlen);
	if (key == NULL || !scope_part_valid(key->access_key_id) ||
	    key->secret_access_key == NULL ||
	    (secret_len = strlen(key->secret_access_key)) > SIGV4_MAX_SECRET ||
	    prepare_signing(&pr, req, scope, digest) < 0) {
		s.overflow = 1;
		return sink_finish(&s);
	}

	/* Signing key (create-signed-request.html, "Calculate the signature"):
	 * kDate = HMAC("AWS4" + secret, YYYYMMDD), kRegion, kService, kSigning. */
	memcpy(secret, "AWS4", 4);
	memcpy(secret + 4, key->secret_access_key, secret_len);
	hmac_sha256(secret, 4 + secret_len, scope->amz_date, 8, k);
	wipe(secret, sizeof secret);
	hmac_sha256(k, sizeof k, scope->region, strlen(scope->region), k);
	hmac_sha256(k, sizeof k, scope->service, strlen(scope->service), k);
	hmac_sha256(k, sizeof k, "aws4_request", 12, k);

	br_hmac_key_init(&kc, &br_sha256_vtable, k, sizeof k);
	wipe(k, sizeof k);
	br_hmac_init(&hc, &kc, 0);
	wipe(&kc, sizeof kc);
	{
		struct sink mac;
		memset(&mac, 0, sizeof mac);
		mac.hmac = &hc;
		put_string_to_sign(&mac, scope, digest);
	}
	br_hmac_out(&hc, signature);
	wipe(&hc, sizeof hc);

	put_str(&s, "AWS4-HMAC-SHA256 Credential=");
	put_str(&s, key->access_key_id);
	put_char(&s, '/');
	put_scope(&s, scope);
	put_str(&s, ", SignedHeaders=");
	put_signed_headers(&s, &pr);
	put_str(&s, ", Signature=");
	put_hex(&s, signature, sizeof signature);
	return sink_finish(&s);
}

/* ---- dates ------------------------------------------------------------------------- */

void sigv4_amz_date(long long unix_seconds, char out[17])
{
	civil_format_basic(unix_seconds, out);
}
