/*
 * tls: a TLS 1.2 client over BearSSL's engine on a non-blocking socket; see tls.h.
 *
 * We drive br_ssl_engine ourselves rather than through br_sslio so that every wait goes
 * through net_wait() with the caller's deadline, and so that an EOF can be told apart
 * from a clean close.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "civil.h"
#include "net.h"

/*
 * TLS 1.2 with forward secrecy and AEAD only (RFC 7525 section 4.2; the suites of RFC 5289
 * and RFC 7905). Server preference picks among them; ECDSA first as the cheaper verify.
 */
static const uint16_t tls_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* ---- error text ---------------------------------------------------------------------- */

struct code_text {
	int code;
	const char *text;
};

static const struct code_text br_error_texts[] = {
	{ BR_ERR_OK, "no error" },
	{ BR_ERR_BAD_PARAM, "bad parameter" },
	{ BR_ERR_BAD_STATE, "bad engine state" },
	{ BR_ERR_UNSUPPORTED_VERSION, "server chose a protocol version other than TLS 1.2" },
	{ BR_ERR_BAD_VERSION, "record with an unexpected protocol version" },
	{ BR_ERR_BAD_LENGTH, "record with an invalid length" },
	{ BR_ERR_TOO_LARGE, "record too large" },
	{ BR_ERR_BAD_MAC, "record failed authentication (bad MAC)" },
	{ BR_ERR_NO_RANDOM, "no source of randomness" },
	{ BR_ERR_UNKNOWN_TYPE, "record of unknown type" },
	{ BR_ERR_UNEXPECTED, "unexpected message from the server" },
	{ BR_ERR_BAD_CCS, "invalid ChangeCipherSpec" },
	{ BR_ERR_BAD_ALERT, "invalid alert message" },
	{ BR_ERR_BAD_HANDSHAKE, "invalid handshake message" },
	{ BR_ERR_OVERSIZED_ID, "session ID too long" },
	{ BR_ERR_BAD_CIPHER_SUITE, "server chose a cipher suite we did not offer" },
	{ BR_ERR_BAD_COMPRESSION, "server chose compression" },
	{ BR_ERR_BAD_FRAGLEN, "invalid maximum fragment length" },
	{ BR_ERR_BAD_SECRENEG, "secure renegotiation failed" },
	{ BR_ERR_EXTRA_EXTENSION, "server sent an extension we did not ask for" },
	{ BR_ERR_BAD_SNI, "invalid server name (SNI)" },
	{ BR_ERR_BAD_HELLO_DONE, "invalid ServerHelloDone" },
	{ BR_ERR_LIMIT_EXCEEDED, "internal limit exceeded" },
	{ BR_ERR_BAD_FINISHED, "invalid Finished message" },
	{ BR_ERR_RESUME_MISMATCH, "session resumption mismatch" },
	{ BR_ERR_INVALID_ALGORITHM, "unsupported algorithm" },
	{ BR_ERR_BAD_SIGNATURE, "invalid server key exchange signature" },
	{ BR_ERR_WRONG_KEY_USAGE, "certificate key usage does not allow this cipher suite" },
	{ BR_ERR_NO_CLIENT_AUTH, "client certificate required" },
	{ BR_ERR_IO, "I/O error" },
	{ BR_ERR_X509_INVALID_VALUE, "certificate has an invalid value" },
	{ BR_ERR_X509_TRUNCATED, "certificate is truncated" },
	{ BR_ERR_X509_EMPTY_CHAIN, "server sent no certificate" },
	{ BR_ERR_X509_INNER_TRUNC, "certificate is malformed (inner element truncated)" },
	{ BR_ERR_X509_BAD_TAG_CLASS, "certificate is malformed (bad tag class)" },
	{ BR_ERR_X509_BAD_TAG_VALUE, "certificate is malformed (bad tag)" },
	{ BR_ERR_X509_INDEFINITE_LENGTH, "certificate is malformed (indefinite length)" },
	{ BR_ERR_X509_EXTRA_ELEMENT, "certificate is malformed (extra element)" },
	{ BR_ERR_X509_UNEXPECTED, "certificate is malformed (unexpected element)" },
	{ BR_ERR_X509_NOT_CONSTRUCTED, "certificate is malformed (not constructed)" },
	{ BR_ERR_X509_NOT_PRIMITIVE, "certificate is malformed (not primitive)" },
	{ BR_ERR_X509_PARTIAL_BYTE, "certificate is malformed (partial byte)" },
	{ BR_ERR_X509_BAD_BOOLEAN, "certificate is malformed (bad boolean)" },
	{ BR_ERR_X509_OVERFLOW, "certificate is malformed (value overflow)" },
	{ BR_ERR_X509_BAD_DN, "certificate has an invalid distinguished name" },
	{ BR_ERR_X509_BAD_TIME, "certificate has an invalid validity date" },
	{ BR_ERR_X509_UNSUPPORTED, "certificate uses an unsupported feature" },
	{ BR_ERR_X509_LIMIT_EXCEEDED, "certificate key or signature too large" },
	{ BR_ERR_X509_WRONG_KEY_TYPE, "certificate key type does not match" },
	{ BR_ERR_X509_BAD_SIGNATURE, "certificate signature is invalid" },
	{ BR_ERR_X509_TIME_UNKNOWN, "current time unknown, cannot check certificate dates" },
	{ BR_ERR_X509_EXPIRED, "certificate has expired or is not yet valid" },
	{ BR_ERR_X509_DN_MISMATCH, "certificate chain is broken (issuer/subject mismatch)" },
	{ BR_ERR_X509_BAD_SERVER_NAME, "certificate is not valid for the server name" },
	{ BR_ERR_X509_CRITICAL_EXTENSION, "certificate has an unknown critical extension" },
	{ BR_ERR_X509_NOT_CA, "certificate chain has a non-CA issuer or a path length violation" },
	{ BR_ERR_X509_FORBIDDEN_KEY_USAGE, "certificate key usage forbids server authentication" },
	{ BR_ERR_X509_WEAK_PUBLIC_KEY, "certificate public key is too small" },
	{ BR_ERR_X509_NOT_TRUSTED, "certificate not signed by a trusted CA" },
};

/* TLS alert descriptions, RFC 5246 section 7.2 and RFC 8446 section 6. */
static const struct code_text alert_names[] = {
	{ 0, "close_notify" },
	{ 10, "unexpected_message" },
	{ 20, "bad_record_mac" },
	{ 22, "record_overflow" },
	{ 40, "handshake_failure" },
	{ 42, "bad_certificate" },
	{ 43, "unsupported_certificate" },
	{ 44, "certificate_revoked" },
	{ 45, "certificate_expired" },
	{ 46, "certificate_unknown" },
	{ 47, "illegal_parameter" },
	{ 48, "unknown_ca" },
	{ 49, "access_denied" },
	{ 50, "decode_error" },
	{ 51, "decrypt_error" },
	{ 70, "protocol_version" },
	{ 71, "insufficient_security" },
	{ 80, "internal_error" },
	{ 86, "inappropriate_fallback" },
	{ 90, "user_canceled" },
	{ 100, "no_renegotiation" },
	{ 109, "missing_extension" },
	{ 110, "unsupported_extension" },
	{ 112, "unrecognized_name" },
	{ 116, "certificate_required" },
	{ 120, "no_application_protocol" },
};

static const char *lookup(const struct code_text *table, size_t n, int code)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (table[i].code == code)
			return table[i].text;
	}
	return NULL;
}

static const char *alert_name(int alert)
{
	const char *name = lookup(alert_names, sizeof(alert_names) / sizeof(alert_names[0]), alert);

	return name ? name : "unknown alert";
}

const char *tls_error_text(int br_err)
{
	const char *text;

	if (br_err >= BR_ERR_SEND_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT + 256)
		return "we sent a fatal alert";
	if (br_err >= BR_ERR_RECV_FATAL_ALERT && br_err < BR_ERR_RECV_FATAL_ALERT + 256)
		return "server sent a fatal alert";
	text = lookup(br_error_texts, sizeof(br_error_texts) / sizeof(br_error_texts[0]), br_err);
	return text ? text : "unknown TLS error";
}

/* ---- DER reading, for the end-entity certificate ----------------------------------------
 *
 * Just enough of X.690 DER to walk Certificate -> TBSCertificate (RFC 5280 section 4.1) to
 * its validity and extensions. Input is hostile: every length is checked against what is
 * left.
 */

struct der {
	const unsigned char *p;
	size_t len;
};

/* Takes the next TLV off *in. Returns 0 with its tag and contents, or -1 if malformed. */
static int der_next(struct der *in, unsigned *tag, struct der *value)
{
	size_t n, head = 2, i;

	if (in->len < 2)
		return -1;
	*tag = in->p[0];
	if ((*tag & 0x1f) == 0x1f)
		return -1;   /* high tag numbers never occur in the fields we walk */
	n = in->p[1];
	if (n & 0x80) {
		size_t k = n & 0x7f;

		/* DER: definite length, at most 4 bytes here (a certificate is < 4 GiB) */
		if (k == 0 || k > 4 || in->len < 2 + k)
			return -1;
		n = 0;
		for (i = 0; i < k; i++)
			n = (n << 8) | in->p[2 + i];
		head = 2 + k;
	}
	if (n > in->len - head)
		return -1;
	value->p = in->p + head;
	value->len = n;
	in->p += head + n;
	in->len -= head + n;
	return 0;
}

/* Finds validity and the extensions (contents of [3], may be empty) of a certificate. */
static int cert_fields(const unsigned char *cert, size_t len, struct der *validity,
                       struct der *extensions)
{
	struct der in = { cert, len }, c, tbs, v;
	unsigned tag;
	int field;

	extensions->p = NULL;
	extensions->len = 0;
	if (der_next(&in, &tag, &c) < 0 || tag != 0x30)
		return -1;
	if (der_next(&c, &tag, &tbs) < 0 || tag != 0x30)
		return -1;
	if (der_next(&tbs, &tag, &v) < 0)
		return -1;
	if (tag == 0xa0 && der_next(&tbs, &tag, &v) < 0)   /* [0] version */
		return -1;
	/* v is serialNumber; then signature, issuer, validity, subject, subjectPublicKeyInfo */
	for (field = 0; field < 5; field++) {
		if (der_next(&tbs, &tag, &v) < 0 || tag != 0x30)
			return -1;
		if (field == 2)
			*validity = v;
	}
	while (tbs.len > 0) {
		if (der_next(&tbs, &tag, &v) < 0)
			return -1;
		if (tag == 0xa3) {   /* [3] EXPLICIT Extensions */
			struct der seq = v;

			if (der_next(&seq, &tag, extensions) < 0 || tag != 0x30)
				return -1;
		}
	}
	return 0;
}

/* The subjectAltName extension is RFC 5280 section 4.2.1.6; see tls.h. */
int tls_cert_has_ip_san(const unsigned char *cert, size_t len, const unsigned char *ip, size_t ip_len)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };   /* 2.5.29.17 */
	struct der validity, exts, ext, oid, value, names, name;
	unsigned tag;

	if (ip_len != 4 && ip_len != 16)
		return 0;
	if (cert_fields(cert, len, &validity, &exts) < 0)
		return -1;
	while (exts.len > 0) {
		if (der_next(&exts, &tag, &ext) < 0 || tag != 0x30)
			return -1;
		if (der_next(&ext, &tag, &oid) < 0 || tag != 0x06)
			return -1;
		if (der_next(&ext, &tag, &value) < 0)
			return -1;
		if (tag == 0x01 && der_next(&ext, &tag, &value) < 0)   /* critical BOOLEAN */
			return -1;
		if (tag != 0x04)
			return -1;
		if (oid.len != sizeof(san_oid) || memcmp(oid.p, san_oid, sizeof(san_oid)) != 0)
			continue;
		if (der_next(&value, &tag, &names) < 0 || tag != 0x30)
			return -1;
		while (names.len > 0) {
			if (der_next(&names, &tag, &name) < 0)
				return -1;
			/* iPAddress [7] IMPLICIT OCTET STRING: 4 or 16 bytes in network order */
			if (tag == 0x87 && name.len == ip_len && memcmp(name.p, ip, ip_len) == 0)
				return 1;
		}
	}
	return 0;
}

static int two_digits(const unsigned char *p, unsigned *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*out = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	return 0;
}

/* UTCTime or GeneralizedTime as RFC 5280 section 4.1.2.5 allows them (Z, with seconds).
 * Returns seconds since the epoch and "YYYY-MM-DD HH:MM:SS UTC" in text. */
static int der_time(struct der *in, int64_t *when, char *text, size_t textlen)
{
	struct der v;
	unsigned tag, hi, lo, f[5];
	int64_t year;
	size_t i;

	if (der_next(in, &tag, &v) < 0)
		return -1;
	if (tag == 0x17 && v.len == 13 && v.p[12] == 'Z') {
		if (two_digits(v.p, &lo) < 0)
			return -1;
		year = lo >= 50 ? 1900 + lo : 2000 + lo;   /* RFC 5280 4.1.2.5.1 */
		v.p += 2;
	} else if (tag == 0x18 && v.len == 15 && v.p[14] == 'Z') {
		if (two_digits(v.p, &hi) < 0 || two_digits(v.p + 2, &lo) < 0)
			return -1;
		year = hi * 100 + lo;
		v.p += 4;
	} else {
		return -1;
	}
	for (i = 0; i < 5; i++) {
		if (two_digits(v.p + 2 * i, &f[i]) < 0)
			return -1;
	}
	if (f[0] < 1 || f[0] > 12 || f[1] < 1 || f[1] > 31 || f[2] > 23 || f[3] > 59 || f[4] > 60)
		return -1;
	*when = civil_days(year, f[0], f[1]) * 86400 + f[2] * 3600 + f[3] * 60 + f[4];
	snprintf(text, textlen, "%04lld-%02u-%02u %02u:%02u:%02u UTC",
	         (long long)year, f[0], f[1], f[2], f[3], f[4]);
	return 0;
}

/* notBefore and notAfter of a certificate, as seconds and as text (textlen bytes each). */
static int cert_validity(const unsigned char *cert, size_t len, int64_t *not_before,
                         int64_t *not_after, char *before, char *after, size_t textlen)
{
	struct der validity, exts;

	if (cert_fields(cert, len, &validity, &exts) < 0 ||
	    der_time(&validity, not_before, before, textlen) < 0 ||
	    der_time(&validity, not_after, after, textlen) < 0)
		return -1;
	return 0;
}

int tls_cert_validity(const unsigned char *cert, size_t len, int64_t *not_before, int64_t *not_after)
{
	char before[40], after[40];

	return cert_validity(cert, len, not_before, not_after, before, after, sizeof(before));
}

/* ---- X.509 wrapper --------------------------------------------------------------------
 *
 * br_x509_minimal does chain building, signatures, dates and dNSName matching. Around it we
 * keep a copy of the end-entity certificate (the first of the chain, RFC 5246 section
 * 7.4.2) and, for an IP literal host, require an iPAddress SAN equal to the address
 * (RFC 2818 section 3.1, RFC 6125 section 6.2.1); minimal is then given no server name.
 */

static struct tls_x509 *x509_of(const br_x509_class **ctx)
{
	/* ctx points at the vtable, the first member (C11 6.7.2.1p15) */
	return (struct tls_x509 *)(void *)ctx;
}

static void x509_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = x509_of(ctx);

	x->cert_index = 0;
	x->cert_len = 0;
	x->cert_total = 0;
	x->cert_too_large = 0;
	x->minimal.vtable->start_chain(&x->minimal.vtable, x->ip_len ? NULL : server_name);
}

static void x509_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = x509_of(ctx);

	x->cert_index++;
	if (x->cert_index == 1) {
		x->cert_total = length;
		x->cert_too_large = length > sizeof(x->cert);
	}
	x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void x509_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = x509_of(ctx);

	if (x->cert_index == 1 && !x->cert_too_large) {
		if (len > sizeof(x->cert) - x->cert_len)
			x->cert_too_large = 1;   /* more bytes than announced: never trust it */
		else {
			memcpy(x->cert + x->cert_len, buf, len);
			x->cert_len += len;
		}
	}
	x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

static void x509_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = x509_of(ctx);

	x->minimal.vtable->end_cert(&x->minimal.vtable);
}

static unsigned x509_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = x509_of(ctx);
	unsigned err = x->minimal.vtable->end_chain(&x->minimal.vtable);

	if (err != 0 || x->ip_len == 0)
		return err;
	/* The chain is trusted; now the identity. A certificate we could not keep whole is
	 * refused: accepting it unchecked would accept any name. tls_handshake tells this
	 * case apart by cert_too_large. */
	if (x->cert_too_large || x->cert_len != x->cert_total)
		return BR_ERR_X509_LIMIT_EXCEEDED;
	if (tls_cert_has_ip_san(x->cert, x->cert_len, x->ip, x->ip_len) != 1)
		return BR_ERR_X509_BAD_SERVER_NAME;
	return 0;
}

static const br_x509_pkey *x509_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509 *x = (const struct tls_x509 *)(const void *)ctx;

	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class tls_x509_vtable = {
	sizeof(struct tls_x509),
	x509_start_chain,
	x509_start_cert,
	x509_append,
	x509_end_cert,
	x509_end_chain,
	x509_get_pkey,
};

/* ---- engine driver ------------------------------------------------------------------- */

/* Follows the record headers of what we feed the engine (RFC 5246 section 6.2.1). */
static void track_records(struct tls_conn *c, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		if (c->rec_left > 0) {
			size_t n = len < c->rec_left ? len : c->rec_left;

			c->rec_left -= n;
			buf += n;
			len -= n;
			continue;
		}
		c->rec_hdr[c->rec_hdr_len++] = *buf++;
		len--;
		if (c->rec_hdr_len == 5) {
			c->last_rec_type = c->rec_hdr[0];
			c->rec_left = (size_t)c->rec_hdr[3] << 8 | c->rec_hdr[4];
			c->rec_hdr_len = 0;
		}
	}
}

static int at_record_boundary(const struct tls_conn *c)
{
	return c->rec_hdr_len == 0 && c->rec_left == 0;
}

/* Message and code for an engine that has failed or closed during `what`. */
static int engine_error(struct tls_conn *c, const char *what)
{
	int err = br_ssl_engine_last_error(&c->client.eng);

	if (err == BR_ERR_OK) {
		snprintf(c->err, sizeof(c->err), "%s: connection closed by the server", what);
		return TLS_ECLOSED;
	}
	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256) {
		int alert = err - BR_ERR_RECV_FATAL_ALERT;

		snprintf(c->err, sizeof(c->err), "%s failed: server sent alert %s (%d)%s", what,
		         alert_name(alert), alert,
		         alert == 70 ? ": it does not accept TLS 1.2" :
		         alert == 40 ? ": no cipher suite or curve in common" : "");
		return c->open ? TLS_EIO : TLS_EHANDSHAKE;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT + 256) {
		snprintf(c->err, sizeof(c->err), "%s failed: we sent alert %s", what,
		         alert_name(err - BR_ERR_SEND_FATAL_ALERT));
		return c->open ? TLS_EIO : TLS_EHANDSHAKE;
	}
	snprintf(c->err, sizeof(c->err), "%s failed: %s (BearSSL error %d)", what,
	         tls_error_text(err), err);
	return c->open ? TLS_EIO : TLS_EHANDSHAKE;
}

/* Waits for the socket within the deadline. Returns 0, TLS_ETIMEOUT or TLS_EIO (c->err
 * says which, prefixed with what). */
static int wait_socket(struct tls_conn *c, short events, int64_t deadline_ms, const char *what)
{
	int rc = net_wait(c->fd, events, deadline_ms);

	if (rc == NET_ETIMEOUT) {
		snprintf(c->err, sizeof(c->err), "%s: timed out", what);
		return TLS_ETIMEOUT;
	}
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "%s: poll: %s", what, strerror(errno));
		return TLS_EIO;
	}
	return 0;
}

enum { RUN_READY = 0, RUN_EOF = 1, RUN_AGAIN = 2 };   /* RUN_AGAIN: internal, loop on */

/*
 * Runs the engine until its state has a bit of `want` (BR_SSL_SENDAPP or BR_SSL_RECVAPP).
 * Pending records are always flushed first, so RUN_READY for SENDAPP also means "all sent".
 * Returns RUN_READY, RUN_EOF (only when want is RECVAPP: the server closed cleanly, by
 * close_notify or by an EOF between records), or a TLS_E* code with c->err set.
 */
/* The engine can go no further: TLS_EIO with the reason. Application data waiting to be
 * read while we want to write, with no room left in the engine, means the server answered
 * before our request was complete. */
static int tls_stalled(struct tls_conn *c, unsigned state, const char *what)
{
	if (state & BR_SSL_RECVAPP)
		snprintf(c->err, sizeof(c->err), "%s: server sent data before the request was complete", what);
	else
		snprintf(c->err, sizeof(c->err), "%s: TLS engine stalled (state %u)", what, state);
	return TLS_EIO;
}

/* Sends what the engine has: RUN_AGAIN, RUN_EOF or a TLS_E* code. */
static int send_records(struct tls_conn *c, unsigned want, int64_t deadline_ms, const char *what)
{
	br_ssl_engine_context *eng = &c->client.eng;
	size_t len;
	unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
	/* MSG_NOSIGNAL: a vanished peer is an error to report, not SIGPIPE. */
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	int rc;

	if (n > 0) {
		br_ssl_engine_sendrec_ack(eng, (size_t)n);
		return RUN_AGAIN;
	}
	if (n < 0 && errno == EINTR)
		return RUN_AGAIN;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (rc = wait_socket(c, POLLOUT, deadline_ms, what)) != 0 ? rc : RUN_AGAIN;
	/* The only record a reader sends is the answer to the server's close_notify (an alert
	 * record, engine error still none); a server that hangs up right after its
	 * close_notify makes that send fail. */
	if (want == BR_SSL_RECVAPP && c->last_rec_type == 21 && br_ssl_engine_last_error(eng) == BR_ERR_OK)
		return RUN_EOF;
	snprintf(c->err, sizeof(c->err), "%s: write: %s", what, n < 0 ? strerror(errno) : "connection closed");
	return TLS_EIO;
}

/*
 * Receives what the engine asks for: RUN_AGAIN, RUN_EOF or a TLS_E* code. A read that
 * starts between records is nearly always the wait for the answer to a request just sent:
 * polling before the first recv (once, *polled) saves the recv that would fail with EAGAIN
 * (one syscall per HTTP exchange). Past the deadline recv goes first, so data already
 * there is still taken.
 */
static int recv_records(struct tls_conn *c, unsigned want, int *polled, int64_t deadline_ms, const char *what)
{
	br_ssl_engine_context *eng = &c->client.eng;
	unsigned char *buf;
	size_t len;
	ssize_t n;
	int rc;

	if (!*polled && at_record_boundary(c) && net_now_ms() < deadline_ms) {
		*polled = 1;
		if ((rc = wait_socket(c, POLLIN, deadline_ms, what)) != 0)
			return rc;
	}
	buf = br_ssl_engine_recvrec_buf(eng, &len);
	n = recv(c->fd, buf, len, 0);
	if (n > 0) {
		track_records(c, buf, (size_t)n);
		br_ssl_engine_recvrec_ack(eng, (size_t)n);
		return RUN_AGAIN;
	}
	if (n == 0) {
		/* HTTP frames its own bodies, so an EOF between records (servers that skip
		 * close_notify) is a close; inside one it is truncation. */
		if (want == BR_SSL_RECVAPP && c->open && at_record_boundary(c))
			return RUN_EOF;
		snprintf(c->err, sizeof(c->err), "%s: connection closed by the server%s", what,
		         at_record_boundary(c) ? "" : " in the middle of a TLS record");
		return c->open ? TLS_ECLOSED : TLS_EHANDSHAKE;
	}
	if (errno == EINTR)
		return RUN_AGAIN;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return (rc = wait_socket(c, POLLIN, deadline_ms, what)) != 0 ? rc : RUN_AGAIN;
	snprintf(c->err, sizeof(c->err), "%s: read: %s", what, strerror(errno));
	return TLS_EIO;
}

static int run_until(struct tls_conn *c, unsigned want, int64_t deadline_ms, const char *what)
{
	br_ssl_engine_context *eng = &c->client.eng;
	int polled = want != BR_SSL_RECVAPP, rc = RUN_AGAIN;

	while (rc == RUN_AGAIN) {
		unsigned state = br_ssl_engine_current_state(eng);

		if (state & BR_SSL_CLOSED) {
			if (want == BR_SSL_RECVAPP && br_ssl_engine_last_error(eng) == BR_ERR_OK)
				return RUN_EOF;
			return engine_error(c, what);
		}
		if (state & BR_SSL_SENDREC)
			rc = send_records(c, want, deadline_ms, what);
		else if (state & want)
			rc = RUN_READY;
		else if (state & BR_SSL_RECVREC)
			rc = recv_records(c, want, &polled, deadline_ms, what);
		else
			rc = tls_stalled(c, state, what);
	}
	return rc;
}

/* After a certificate failure: a message that names the cause. */
static void certificate_error(struct tls_conn *c, const char *host, int err)
{
	struct tls_x509 *x = &c->x509;

	if (err == BR_ERR_X509_BAD_SERVER_NAME) {
		snprintf(c->err, sizeof(c->err), "certificate is not valid for %s", host);
		return;
	}
	if (err == BR_ERR_X509_LIMIT_EXCEEDED && x->cert_too_large) {
		snprintf(c->err, sizeof(c->err),
		         "server certificate is %zu bytes, over the %d we can check for %s",
		         x->cert_total, TLS_MAX_EE_CERT, host);
		return;
	}
	if (err == BR_ERR_X509_EXPIRED) {
		/* BearSSL reports both ends of the window, for any certificate of the chain, as one
		 * code; the end-entity certificate's own dates tell which, when it is the one. */
		int64_t not_before, not_after, now = (int64_t)time(NULL);
		char before[40], after[40];

		if (!x->cert_too_large && x->cert_len == x->cert_total &&
		    cert_validity(x->cert, x->cert_len, &not_before, &not_after, before, after,
		                  sizeof(before)) == 0) {
			if (now > not_after) {
				snprintf(c->err, sizeof(c->err), "certificate has expired (valid until %s)", after);
				return;
			}
			if (now < not_before) {
				snprintf(c->err, sizeof(c->err), "certificate is not yet valid (valid from %s)", before);
				return;
			}
			snprintf(c->err, sizeof(c->err),
			         "a CA certificate in the server's chain has expired or is not yet valid");
			return;
		}
		snprintf(c->err, sizeof(c->err), "certificate has expired or is not yet valid");
		return;
	}
	snprintf(c->err, sizeof(c->err), "%s", tls_error_text(err));
}

/*
 * What br_ssl_client_init_full sets up, cut down to what tls_suites need, so that the static
 * binary does not carry CBC, CCM, 3DES, RSA key exchange, MD5 or the TLS 1.0/1.1 PRF.
 */
static void client_init(struct tls_conn *c, const struct anchors *anchors)
{
	/*
	 * Hashes for the handshake transcript, the PRF, the ServerKeyExchange signature (the
	 * engine advertises exactly these in signature_algorithms, RFC 5246 section 7.4.1.4.1)
	 * and certificate signatures. No MD5 or SHA-1: RFC 9155 section 2 says clients MUST NOT
	 * offer them for TLS 1.2 signatures, and since 2016 the CA/Browser Forum Baseline
	 * Requirements (section 7.1.3) forbid SHA-1 on subscriber certificates and the CAs that
	 * issue them; Go's crypto/x509, which kubectl and kube-apiserver clients use, refuses
	 * them since Go 1.18. A root's own (often SHA-1) self-signature is never checked: the
	 * minimal engine stops at the certificate a trust anchor signed and ignores the rest of
	 * the chain. SHA-224 and SHA-512 share their code with SHA-256 and SHA-384.
	 */
	static const struct {
		int id;
		const br_hash_class *impl;
	} hashes[] = {
		{ br_sha224_ID, &br_sha224_vtable },
		{ br_sha256_ID, &br_sha256_vtable },
		{ br_sha384_ID, &br_sha384_vtable },
		{ br_sha512_ID, &br_sha512_vtable },
	};
	br_ssl_engine_context *eng = &c->client.eng;
	br_x509_minimal_context *xc = &c->x509.minimal;
	size_t i;

	br_ssl_client_zero(&c->client);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, tls_suites, sizeof(tls_suites) / sizeof(tls_suites[0]));
	/* The minimal engine hashes names with SHA-256 to chain them and match anchors. */
	br_x509_minimal_init(xc, &br_sha256_vtable, anchors->list, anchors->count);
	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		br_ssl_engine_set_hash(eng, hashes[i].id, hashes[i].impl);
		br_x509_minimal_set_hash(xc, hashes[i].id, hashes[i].impl);
	}
	/* Signature verification, for ServerKeyExchange and the chain: RSA PKCS#1 v1.5, and
	 * ECDSA with the all-curves EC code that also does ECDHE (P-256, P-384, P-521, X25519). */
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
	br_x509_minimal_set_rsa(xc, br_ssl_engine_get_rsavrfy(eng));
	br_x509_minimal_set_ecdsa(xc, br_ssl_engine_get_ec(eng), br_ssl_engine_get_ecdsa(eng));
	/* TLS 1.2 PRF with the suite's hash: SHA-256, or SHA-384 for the AES-256 suites
	 * (RFC 5246 section 5, RFC 5289 section 3.2). */
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	/* Record protection: the fastest constant-time code this CPU allows. */
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
}

int tls_handshake(struct tls_conn *c, int fd, const char *host,
                  const struct anchors *anchors, int64_t deadline_ms)
{
	br_ssl_engine_context *eng = &c->client.eng;
	unsigned char seed[32];
	int rc, err;

	c->fd = fd;
	c->open = 0;
	c->status = 0;
	c->rec_hdr_len = 0;
	c->rec_left = 0;
	c->last_rec_type = 0;
	c->err[0] = '\0';
	if (anchors == NULL || anchors->count == 0) {
		snprintf(c->err, sizeof(c->err), "TLS handshake with %s: no trust anchors", host);
		return c->status = TLS_EHANDSHAKE;
	}
	c->x509.ip_len = 0;
	if (inet_pton(AF_INET, host, c->x509.ip) == 1)
		c->x509.ip_len = 4;
	else if (inet_pton(AF_INET6, host, c->x509.ip) == 1)
		c->x509.ip_len = 16;

	client_init(c, anchors);
	c->x509.vtable = &tls_x509_vtable;
	br_ssl_engine_set_x509(eng, &c->x509.vtable);
	br_ssl_engine_set_buffer(eng, c->iobuf, sizeof(c->iobuf), 1);
	/* BearSSL seeds from RDRAND or /dev/urandom; getrandom() also works where /dev is
	 * absent (a FROM scratch image run without a runtime's /dev). */
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
	explicit_bzero(seed, sizeof(seed));
	/* SNI only for a DNS name: RFC 6066 section 3 forbids literal IPv4 and IPv6
	 * addresses in "HostName". */
	if (!br_ssl_client_reset(&c->client, c->x509.ip_len ? NULL : host, 0)) {
		err = br_ssl_engine_last_error(eng);
		snprintf(c->err, sizeof(c->err), "TLS handshake with %s: %s", host,
		         err == BR_ERR_BAD_PARAM ? "host name too long" : tls_error_text(err));
		return c->status = TLS_EHANDSHAKE;
	}
	rc = run_until(c, BR_SSL_SENDAPP, deadline_ms, "TLS handshake");
	if (rc == RUN_READY) {
		c->open = 1;
		return 0;
	}
	err = br_ssl_engine_last_error(eng);
	if (err > BR_ERR_X509_OK && err <= 63) {   /* the X.509 range, bearssl_ssl.h */
		certificate_error(c, host, err);
		rc = TLS_ECERT;
	}
	return c->status = rc;
}

/* Calls on a connection that is not open repeat why. */
static int not_open(struct tls_conn *c)
{
	if (c->status < 0)
		return c->status;
	if (c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "TLS connection is closed");
	return TLS_ECLOSED;
}

int tls_write_all(struct tls_conn *c, const void *buf, size_t len, int64_t deadline_ms)
{
	br_ssl_engine_context *eng = &c->client.eng;
	const unsigned char *p = buf;
	int rc;

	if (!c->open)
		return not_open(c);
	while (len > 0) {
		unsigned char *out;
		size_t room;

		rc = run_until(c, BR_SSL_SENDAPP, deadline_ms, "TLS write");
		if (rc != RUN_READY)
			goto fail;
		out = br_ssl_engine_sendapp_buf(eng, &room);
		if (room > len)
			room = len;
		memcpy(out, p, room);
		br_ssl_engine_sendapp_ack(eng, room);
		p += room;
		len -= room;
	}
	br_ssl_engine_flush(eng, 0);
	rc = run_until(c, BR_SSL_SENDAPP, deadline_ms, "TLS write");
	if (rc == RUN_READY)
		return 0;
fail:
	c->open = 0;
	return c->status = rc;
}

long tls_read(struct tls_conn *c, void *buf, size_t len, int64_t deadline_ms)
{
	br_ssl_engine_context *eng = &c->client.eng;
	unsigned char *in;
	size_t avail;
	int rc;

	if (!c->open)
		return c->status == 1 ? 0 : not_open(c);
	if (len == 0)
		return 0;
	rc = run_until(c, BR_SSL_RECVAPP, deadline_ms, "TLS read");
	if (rc == RUN_EOF) {
		c->open = 0;
		c->status = 1;
		return 0;
	}
	if (rc != RUN_READY) {
		c->open = 0;
		return c->status = rc;
	}
	in = br_ssl_engine_recvapp_buf(eng, &avail);
	if (avail > len)
		avail = len;
	memcpy(buf, in, avail);
	br_ssl_engine_recvapp_ack(eng, avail);
	return (long)avail;
}

int tls_pending(const struct tls_conn *c)
{
	return c->open && (br_ssl_engine_current_state(&c->client.eng) & BR_SSL_RECVAPP) != 0;
}

void tls_close(struct tls_conn *c)
{
	br_ssl_engine_context *eng = &c->client.eng;

	if (c->open) {
		br_ssl_engine_close(eng);
		/* One attempt, never a wait: the caller is about to close the socket anyway, and
		 * HTTP has already framed the response. */
		while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n <= 0)
				break;
			br_ssl_engine_sendrec_ack(eng, (size_t)n);
		}
	}
	/* Session keys and plaintext live in the engine and its buffer, which come before fd
	 * in the struct. */
	explicit_bzero(c, offsetof(struct tls_conn, fd));
	c->open = 0;
	if (c->status == 0)
		c->status = 1;
}
