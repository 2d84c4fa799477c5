/*
 * tls: TLS 1.2 client over BearSSL on a non-blocking socket, every step bounded by a
 * deadline. The caller owns struct tls_conn (about 34 KiB, I/O buffers included) and the
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
	TLS_ECLOSED = -12,   /* peer closed without close_notify where data was expected */
};

/* Opaque-to-callers X.509 wrapper adding the iPAddress SAN check; see tls.c. */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	unsigned char ip[16];   /* expected address when the host is an IP literal */
	size_t ip_len;          /* 4, 16, or 0 for a DNS name */
	int ip_matched;
	/* incremental DER scan of the end-entity certificate for iPAddress SANs */
	unsigned char *cert_buf;
	size_t cert_cap, cert_len;
	int cert_index;
	int ip_overflow;
	unsigned char cert_store[4096];
};

struct tls_conn {
	br_ssl_client_context client;
	struct tls_x509 x509;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	int fd;
	int open;               /* handshake completed and not closed */
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
 * complete record), or a TLS_E* code. */
long tls_read(struct tls_conn *conn, void *buf, size_t len, int64_t deadline_ms);

/* Sends close_notify best-effort (non-blocking, never waits) and forgets the session.
 * Does not close fd; the caller owns it. */
void tls_close(struct tls_conn *conn);

/* Text for a BearSSL error code, e.g. BR_ERR_X509_EXPIRED -> "certificate has expired". */
const char *tls_error_text(int br_err);

#endif
