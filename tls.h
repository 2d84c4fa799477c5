/*
 * tls: TLS 1.2 client over BearSSL on a non-blocking socket, every step bounded by a
 * deadline. The caller owns struct tls_conn (about 47 KiB, I/O buffers included) and the
 * trust anchors; nothing here allocates.
 *
 * Server identity: a DNS host name is checked against the certificate's dNSName SANs by
 * BearSSL's minimal X.509 engine and sent as SNI. An IP literal host gets no SNI and is
 * checked against the iPAddress SANs by our own wrapper of that engine (BearSSL never looks
 * at them): in a cluster the API server is reached at an IP such as 10.96.0.1.
 *
 * Errors: functions return 0 (or a byte count) or a negative TLS_E* code; conn->err then
 * holds one line that says what failed ("certificate has expired", "certificate is not
 * valid for 10.96.0.1", "certificate not signed by a trusted CA", ...).
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "anchors.h"

enum {
	TLS_EIO = -1,        /* transport failure */
	TLS_ETIMEOUT = -2,   /* deadline passed */
	TLS_EHANDSHAKE = -10,/* handshake failed for a reason other than the certificate */
	TLS_ECERT = -11,     /* certificate refused (expired, wrong name, unknown CA, ...) */
	TLS_ECLOSED = -12,   /* peer closed inside a record, or while we were writing */
};

/* Largest end-entity certificate kept for the iPAddress SAN check and for telling
 * "expired" from "not yet valid". With an IP literal host, a larger certificate is refused
 * (TLS_ECERT) rather than accepted unchecked. */
#define TLS_MAX_EE_CERT 8192

/* Opaque-to-callers X.509 wrapper adding the iPAddress SAN check; see tls.c. */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	unsigned char ip[16];   /* expected address when the host is an IP literal */
	size_t ip_len;          /* 4, 16, or 0 for a DNS name */
	unsigned cert_index;    /* certificates started in this chain (1 = end-entity) */
	size_t cert_len;        /* bytes of the end-entity certificate in cert */
	size_t cert_total;      /* its length as announced by the server */
	int cert_too_large;     /* cert_total > TLS_MAX_EE_CERT */
	unsigned char cert[TLS_MAX_EE_CERT];
};

struct tls_conn {
	br_ssl_client_context client;
	struct tls_x509 x509;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	int fd;
	int open;               /* handshake completed and not closed */
	int status;             /* 0, 1 after a clean close, or the sticky TLS_E* error */
	/* incoming record framing (RFC 5246 section 6.2), to tell an EOF between records
	 * from a truncated record */
	unsigned char rec_hdr[5];
	size_t rec_hdr_len, rec_left;
	unsigned char last_rec_type;
	char err[200];
};

/*
 * Runs the handshake on connected socket fd for host (name or IP literal, no brackets)
 * against the given anchors. TLS 1.2 only; ECDHE with RSA or ECDSA certificates, AES-GCM
 * and ChaCha20-Poly1305.
 */
int tls_handshake(struct tls_conn *conn, int fd, const char *host,
                  const struct anchors *anchors, int64_t deadline_ms);

/* Sends every byte (flushing the record) or fails. */
int tls_write_all(struct tls_conn *conn, const void *buf, size_t len, int64_t deadline_ms);

/* Reads up to len bytes: > 0 bytes, 0 on a clean close (close_notify or EOF after a
 * complete record; HTTP frames its own bodies and detects a short one), or a TLS_E* code.
 * After an error or a close, further calls repeat the result without touching the socket. */
long tls_read(struct tls_conn *conn, void *buf, size_t len, int64_t deadline_ms);

/* 1 when decrypted data waits in the engine, so a read would not touch the socket:
 * a poll on the descriptor says nothing about it. */
int tls_pending(const struct tls_conn *conn);

/* Sends close_notify best-effort (non-blocking, never waits) and forgets the session:
 * the engine state and buffer (keys, plaintext) are wiped. Does not close fd; the caller
 * owns it. Safe after a failed handshake. */
void tls_close(struct tls_conn *conn);

/* Text for a BearSSL error code, e.g. BR_ERR_X509_EXPIRED -> "certificate has expired". */
const char *tls_error_text(int br_err);

/*
 * The end-entity certificate checks tls_handshake makes on top of BearSSL, public so that
 * tests/fuzz/fuzz_tls_cert.c can feed them hostile DER directly. der/len is one X.509
 * certificate (RFC 5280 section 4.1); it is read, never trusted, never written.
 *
 * tls_cert_has_ip_san: 1 when the subjectAltName extension lists the iPAddress ip/ip_len
 * (4 or 16 bytes, network order; any other length is never listed), 0 when it does not or
 * there is no such extension, -1 when the certificate is malformed.
 *
 * tls_cert_validity: 0 with notBefore and notAfter in seconds since the epoch, or -1 when
 * the certificate or either time is malformed.
 */
int tls_cert_has_ip_san(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len);
int tls_cert_validity(const unsigned char *der, size_t len, int64_t *not_before, int64_t *not_after);

#endif
