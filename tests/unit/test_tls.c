/*
 * test_tls: what tls.c decides without a peer. The BearSSL error table (every code a text,
 * alerts by range, unknown codes said so), the iPAddress SAN walk and the validity dates
 * of real certificates (the fuzz seeds, made with openssl: tests/fuzz/corpus/fuzz_tls_cert/)
 * and of certificates built here byte by byte for the cases openssl will not make:
 * truncated, lying lengths, an IPv6 SAN, UTCTime's century rule, a critical flag. The
 * handshake itself is tested end to end against real servers (tests/e2e/test_tls.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "unit.h"

/* ---- the error table ------------------------------------------------------------------ */

static void test_error_text(void)
{
	CHECK_EQ_STR(tls_error_text(BR_ERR_OK), "no error");
	CHECK_EQ_STR(tls_error_text(BR_ERR_X509_EXPIRED), "certificate has expired or is not yet valid");
	CHECK_EQ_STR(tls_error_text(BR_ERR_X509_NOT_TRUSTED), "certificate not signed by a trusted CA");
	CHECK_EQ_STR(tls_error_text(BR_ERR_BAD_MAC), "record failed authentication (bad MAC)");
	CHECK_EQ_STR(tls_error_text(BR_ERR_UNSUPPORTED_VERSION),
	             "server chose a protocol version other than TLS 1.2");
	CHECK_EQ_STR(tls_error_text(BR_ERR_SEND_FATAL_ALERT + 40), "we sent a fatal alert");
	CHECK_EQ_STR(tls_error_text(BR_ERR_RECV_FATAL_ALERT), "server sent a fatal alert");
	CHECK_EQ_STR(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 255), "server sent a fatal alert");
	CHECK_EQ_STR(tls_error_text(-1), "unknown TLS error");
	CHECK_EQ_STR(tls_error_text(999999), "unknown TLS error");
	/* every BearSSL code from 0 to the alert ranges says something, and one line */
	for (int code = 0; code < BR_ERR_RECV_FATAL_ALERT; code++) {
		const char *text = tls_error_text(code);

		CHECK(text != NULL && text[0] != '\0' && strchr(text, '\n') == NULL);
	}
}

/* ---- the fuzz seeds: real certificates ----------------------------------------------- */

/* The certificate of a seed: after its flags byte and the 4 or 16 address bytes. */
static unsigned char *seed_certificate(const char *name, size_t *len)
{
	const char *root = getenv("SOURCE_ROOT");
	char path[1024];
	unsigned char *buf = malloc(16384);
	size_t n, skip;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_tls_cert/%s", root ? root : ".", name);
	f = fopen(path, "rb");
	CHECK(f != NULL && buf != NULL);
	if (!f || !buf) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	n = fread(buf, 1, 16384, f);
	fclose(f);
	skip = (buf[0] & 1) ? 17 : 5;
	CHECK(n > skip);
	memmove(buf, buf + skip, n - skip);
	*len = n - skip;
	return buf;
}

static void test_real_certificates(void)
{
	static const unsigned char lo4[4] = { 127, 0, 0, 1 }, svc[4] = { 10, 96, 0, 1 }, other[4] = { 10, 96, 0, 2 };
	static const unsigned char lo6[16] = { [15] = 1 };
	int64_t before = 0, after = 0;
	unsigned char *cert;
	size_t len = 0;

	/* DNS:localhost, IP:127.0.0.1, IP:::1; Nov 29 10:04:20 2026 GMT for a year */
	if ((cert = seed_certificate("rsa-ipv4-match", &len))) {
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, lo4, 4), 1);
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, lo6, 16), 1);
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, svc, 4), 0);
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, lo4, 3), 0);   /* no such address length */
		CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), 0);
		CHECK_EQ_INT(before, 1795946660);
		CHECK_EQ_INT(after, 1827482660);
		/* every truncation is malformed, never read past the end */
		for (size_t cut = 0; cut < len; cut++) {
			unsigned char *copy = malloc(cut ? cut : 1);

			memcpy(copy, cert, cut);
			if (tls_cert_has_ip_san(copy, cut, lo4, 4) != -1 || tls_cert_validity(copy, cut, &before, &after) != -1) {
				CHECK(!"a truncated certificate was accepted");
				free(copy);
				break;
			}
			free(copy);
		}
		free(cert);
	}
	/* a critical subjectAltName: DNS:kubernetes.default.svc, IP:10.96.0.1 */
	if ((cert = seed_certificate("ec-critical-san-match", &len))) {
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, svc, 4), 1);
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, other, 4), 0);
		free(cert);
	}
	/* no extensions at all */
	if ((cert = seed_certificate("ec-p384-no-san", &len))) {
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, lo4, 4), 0);
		CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), 0);
		free(cert);
	}
	/* notAfter in 2067: GeneralizedTime (RFC 5280 4.1.2.5: from 2050 on) */
	if ((cert = seed_certificate("ec-dns-only-generalizedtime", &len))) {
		CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), 0);
		CHECK_EQ_INT(before, 1795946660);
		CHECK_EQ_INT(after, 3091946660LL);
		CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, lo6, 16), 0);
		free(cert);
	}
}

/* ---- certificates built here ----------------------------------------------------------- */

struct der_out {
	unsigned char p[1024];
	size_t len;
};

/* Appends tag, a DER length and the contents. */
static void tlv(struct der_out *o, unsigned tag, const void *contents, size_t len)
{
	o->p[o->len++] = (unsigned char)tag;
	if (len < 128) {
		o->p[o->len++] = (unsigned char)len;
	} else {
		o->p[o->len++] = 0x82;
		o->p[o->len++] = (unsigned char)(len >> 8);
		o->p[o->len++] = (unsigned char)len;
	}
	memcpy(o->p + o->len, contents, len);
	o->len += len;
}

/* A certificate skeleton: version, serial, algorithm, names and key left empty, the given
 * validity times and, when san is not NULL, a subjectAltName (critical or not). */
static size_t build_certificate(unsigned char *out, unsigned before_tag, const char *before_text,
                                unsigned after_tag, const char *after_text, const struct der_out *san,
                                int critical)
{
	static const unsigned char version[] = { 0x02, 0x01, 0x02 }, serial[] = { 0x01 };
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 }, yes[] = { 0xff };
	struct der_out tbs = { .len = 0 }, validity = { .len = 0 }, ext = { .len = 0 }, exts = { .len = 0 };
	struct der_out wrap = { .len = 0 }, cert = { .len = 0 };

	tlv(&tbs, 0xa0, version, sizeof version);
	tlv(&tbs, 0x02, serial, sizeof serial);
	tlv(&tbs, 0x30, "", 0);                   /* signature algorithm */
	tlv(&tbs, 0x30, "", 0);                   /* issuer */
	tlv(&validity, before_tag, before_text, strlen(before_text));
	tlv(&validity, after_tag, after_text, strlen(after_text));
	tlv(&tbs, 0x30, validity.p, validity.len);
	tlv(&tbs, 0x30, "", 0);                   /* subject */
	tlv(&tbs, 0x30, "", 0);                   /* subjectPublicKeyInfo */
	if (san) {
		struct der_out body = { .len = 0 }, names = { .len = 0 };

		tlv(&names, 0x30, san->p, san->len);
		tlv(&body, 0x06, san_oid, sizeof san_oid);
		if (critical)
			tlv(&body, 0x01, yes, sizeof yes);
		tlv(&body, 0x04, names.p, names.len);
		tlv(&ext, 0x30, body.p, body.len);
		tlv(&exts, 0x30, ext.p, ext.len);
		tlv(&tbs, 0xa3, exts.p, exts.len);
	}
	tlv(&wrap, 0x30, tbs.p, tbs.len);
	tlv(&wrap, 0x30, "", 0);                  /* signatureAlgorithm */
	tlv(&wrap, 0x03, "\0", 1);                /* signatureValue */
	tlv(&cert, 0x30, wrap.p, wrap.len);
	memcpy(out, cert.p, cert.len);
	return cert.len;
}

static void test_built_certificates(void)
{
	static const unsigned char v6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
	static const unsigned char v4[4] = { 192, 0, 2, 7 };
	unsigned char cert[1024];
	struct der_out san = { .len = 0 };
	int64_t before, after;
	size_t len;

	tlv(&san, 0x82, "api.example", 11);       /* dNSName */
	tlv(&san, 0x87, v6, sizeof v6);           /* iPAddress */
	len = build_certificate(cert, 0x17, "491231235959Z", 0x17, "500101000000Z", &san, 1);
	CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, v6, 16), 1);
	CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, v4, 4), 0);
	/* UTCTime: 49 is 2049, 50 is 1950 (RFC 5280 4.1.2.5.1) */
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), 0);
	CHECK_EQ_INT(before, 2524607999LL);
	CHECK_EQ_INT(after, -631152000LL);

	len = build_certificate(cert, 0x18, "20240229120000Z", 0x18, "99991231235959Z", &san, 0);
	CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, v6, 16), 1);
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), 0);
	CHECK_EQ_INT(before, 1709208000LL);
	CHECK_EQ_INT(after, 253402300799LL);

	/* times RFC 5280 does not allow: no Z, a month 13, letters */
	len = build_certificate(cert, 0x17, "240101000000", 0x17, "250101000000Z", NULL, 0);
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), -1);
	len = build_certificate(cert, 0x17, "241301000000Z", 0x17, "250101000000Z", NULL, 0);
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), -1);
	len = build_certificate(cert, 0x18, "2024010100000Z", 0x17, "2501010000a0Z", NULL, 0);
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), -1);
	CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, v4, 4), 0);   /* no extensions: not listed */

	/* a length that claims more than there is */
	len = build_certificate(cert, 0x17, "240101000000Z", 0x17, "250101000000Z", &san, 0);
	cert[1] = 0x7f;
	CHECK_EQ_INT(tls_cert_has_ip_san(cert, len, v6, 16), -1);
	CHECK_EQ_INT(tls_cert_validity(cert, len, &before, &after), -1);
}

int main(void)
{
	test_error_text();
	test_real_certificates();
	test_built_certificates();
	return UNIT_DONE();
}
