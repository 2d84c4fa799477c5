/*
 * fuzz_tls_cert: hostile DER into tls.c's own end-entity certificate parser, the part that
 * reads what the server sent without BearSSL: the iPAddress SAN walk (tls_cert_has_ip_san)
 * and the validity dates (tls_cert_validity).
 *
 * Input: one flags byte (bit 0: IPv6), the 4 or 16 address bytes, then the certificate.
 * The seeds are real certificates (tests/fuzz/corpus/fuzz_tls_cert/, made with openssl)
 * behind the address they list, or do not. Checks, beyond the sanitizers: the SAN result
 * is -1, 0 or 1, and 1 only when the address bytes occur in the certificate; neither
 * function reads past len (the certificate is copied to a buffer of exactly its size);
 * the validity dates lie within what UTCTime and GeneralizedTime can say.
 */
#include "tls.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 0000-01-01 and 9999-12-31 23:59:60 UTC, the ends of GeneralizedTime's four digits. */
#define EARLIEST (-62167219200LL)
#define LATEST (253402300800LL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int contains(const unsigned char *hay, size_t hay_len, const unsigned char *needle, size_t len)
{
	size_t i;

	for (i = 0; i + len <= hay_len; i++) {
		if (memcmp(hay + i, needle, len) == 0)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char ip[16], *cert;
	size_t ip_len, len;
	int64_t not_before, not_after;
	int rc;

	if (size < 1)
		return 0;
	ip_len = (data[0] & 1) ? 16 : 4;
	if (size < 1 + ip_len || size - 1 - ip_len > 2 * TLS_MAX_EE_CERT)
		return 0;
	memcpy(ip, data + 1, ip_len);
	len = size - 1 - ip_len;
	/* malloc(0) may return NULL; one byte keeps the pointer valid and len still 0 */
	cert = malloc(len ? len : 1);
	if (cert == NULL)
		return 0;
	memcpy(cert, data + 1 + ip_len, len);

	rc = tls_cert_has_ip_san(cert, len, ip, ip_len);
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1 && !contains(cert, len, ip, ip_len))
		abort();
	/* Any other length is never listed, whatever the bytes. */
	if (tls_cert_has_ip_san(cert, len, ip, ip_len == 4 ? 8 : 0) != 0)
		abort();

	if (tls_cert_validity(cert, len, &not_before, &not_after) == 0) {
		if (not_before < EARLIEST || not_before > LATEST || not_after < EARLIEST ||
		    not_after > LATEST)
			abort();
	}
	free(cert);
	return 0;
}
