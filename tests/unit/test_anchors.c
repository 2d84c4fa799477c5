/*
 * test_anchors: PEM bundles to trust anchors, error messages, the embedded roots.
 *
 * The two test CAs below were made once with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=ecr-refresh unit EC CA" -days 36500
 *   openssl req -x509 -newkey rsa:2048 -subj "/CN=ecr-refresh unit RSA CA" -days 36500
 * (keys thrown away); nothing is generated at run time.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchors.h"
#include "testca.h"
#include "unit.h"

static const char rsa_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDJzCCAg+gAwIBAgIUA8/WAdjb4TQdCxZmf9DAHKE3k3cwDQYJKoZIhvcNAQEL\n"
	"BQAwIjEgMB4GA1UEAwwXZWNyLXJlZnJlc2ggdW5pdCBSU0EgQ0EwIBcNMjYxMTI5\n"
	"MDk1MTU3WhgPMjEyNjExMDUwOTUxNTdaMCIxIDAeBgNVBAMMF2Vjci1yZWZyZXNo\n"
	"IHVuaXQgUlNBIENBMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsLEh\n"
	"GvJkI/maulmjwJf+NJQhXOtvLKEZ9cX+I4Zqu9AIvIXFy25ldh1OfcetIp6NzkCS\n"
	"rltA+crTkZyasHJZZxw6+hNrD9lGAlDm9G55zPKQY0Qi8+herym0Sh8eNn4cmYao\n"
	"JGdxnJrP3/tp9HnCHfUbUMSuBXYRWc5L4hddw0UMS6mZOqc/f4zjvILsK+WWsp5V\n"
	"ntAJBbN4i+2D1sGtgWWBOXXr7+UsVJzeE0IldVpUT1DSU54Aqws48eLMGhdZr8Vi\n"
	"0P8nva7JSGwlwFyYNARTEf/+EIebzlJsu3exqr4srI5AkKO9mH2NQZ01FY1LaiZD\n"
	"wPPbUPyf4uetne6cdwIDAQABo1MwUTAdBgNVHQ4EFgQUwzWTYfiCGcqf/rCUaHuF\n"
	"RbulX9YwHwYDVR0jBBgwFoAUwzWTYfiCGcqf/rCUaHuFRbulX9YwDwYDVR0TAQH/\n"
	"BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAKrWuCWzs48AoMgvnlC7ltgWCJ21Y\n"
	"or1kDURIX492ea7/bpyEcHE2GMsVmEmJ7JvGEFvNbrlhLzohsCmnGpsBHGUlhMMA\n"
	"dY/t9pDBMHkE5gVPGCMRvi2qBRTdfmVkZhwk4Bm5X8owpcDE2hsSIsXbF9GBezMF\n"
	"mBmqYnta9eejXoYWGpGqRlSqmJICTULjGG+VHlpk3s4ZSICuNRyq+FQ5kTN43Nrc\n"
	"DZ40KV6EH7D2dkpGAFtGARXsy2gNBSNi3SFBIjJi4TQKMg1nsj+2zSiIaySui5R8\n"
	"efgGAgAnIZNEirWHpGdD6f8L2e8eP7N1qozL44uZbmxAyxJnClxXZ+fR4w==\n"
	"-----END CERTIFICATE-----\n";

/* Subject DN of the EC CA: SEQUENCE { SET { SEQUENCE { OID commonName, UTF8String } } } */
static const unsigned char ec_ca_dn[] = {
	0x30, 0x21, 0x31, 0x1f, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x16,
	'e', 'c', 'r', '-', 'r', 'e', 'f', 'r', 'e', 's', 'h', ' ', 'u', 'n', 'i', 't', ' ',
	'E', 'C', ' ', 'C', 'A',
};

/* Its P-256 public point (uncompressed). */
static const unsigned char ec_ca_point[65] = {
	0x04, 0xf4, 0xcb, 0x35, 0x41, 0x86, 0x16, 0xdb, 0x6c, 0x72, 0xa2, 0xf3,
	0x8e, 0x99, 0x5f, 0x26, 0x7f, 0xf5, 0xae, 0x08, 0x69, 0x17, 0x13, 0x30,
	0x86, 0xe8, 0xea, 0x53, 0x29, 0xc5, 0x16, 0x30, 0x60, 0x12, 0xf1, 0xaa,
	0x6c, 0x99, 0xab, 0xc9, 0xb5, 0xa9, 0x66, 0xe7, 0x7a, 0x12, 0x35, 0xc1,
	0xfb, 0x2d, 0xaf, 0x25, 0xc9, 0x0c, 0x8f, 0x34, 0x1c, 0x23, 0xa7, 0xee,
	0xab, 0x46, 0xb9, 0x7f, 0xde,
};

/* DER SEQUENCE { INTEGER 1 }: well-formed PEM, not a certificate. */
static const char not_a_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MAMCAQE=\n"
	"-----END CERTIFICATE-----\n";

static const char key_only_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MAMCAQE=\n"
	"-----END PUBLIC KEY-----\n";

static int contains(const char *haystack, const char *needle)
{
	return strstr(haystack, needle) != NULL;
}

static int add(struct anchors *set, const char *pem, char *err, size_t errlen)
{
	return anchors_add_pem(set, pem, strlen(pem), err, errlen);
}

static void test_ec_from_string(void)
{
	struct anchors set;
	char err[256] = "";
	const br_x509_trust_anchor *ta;

	anchors_init(&set);
	CHECK_EQ_INT(add(&set, ec_ca_pem, err, sizeof(err)), 1);
	CHECK_EQ_INT(set.count, 1);
	CHECK_EQ_INT(set.owned, 1);
	ta = &set.list[0];
	CHECK_EQ_MEM(ta->dn.data, ta->dn.len, ec_ca_dn, sizeof(ec_ca_dn));
	CHECK_EQ_INT(ta->flags, BR_X509_TA_CA);
	CHECK_EQ_INT(ta->pkey.key_type, BR_KEYTYPE_EC);
	CHECK_EQ_INT(ta->pkey.key.ec.curve, BR_EC_secp256r1);
	CHECK_EQ_MEM(ta->pkey.key.ec.q, ta->pkey.key.ec.qlen, ec_ca_point, sizeof(ec_ca_point));
	anchors_free(&set);
	CHECK_EQ_INT(set.count, 0);
	CHECK(set.list == NULL);
}

static void test_bundle_and_mixed_objects(void)
{
	struct anchors set;
	char err[256] = "";
	char pem[4096];
	const br_x509_trust_anchor *ta;

	/* A private key or other object between certificates is skipped. */
	snprintf(pem, sizeof(pem), "%s%s\r\nsome comment\n%s", rsa_ca_pem, key_only_pem, ec_ca_pem);
	anchors_init(&set);
	CHECK_EQ_INT(add(&set, pem, err, sizeof(err)), 2);
	ta = &set.list[0];
	CHECK_EQ_INT(ta->pkey.key_type, BR_KEYTYPE_RSA);
	CHECK_EQ_INT(ta->pkey.key.rsa.nlen, 256);
	CHECK_EQ_MEM(ta->pkey.key.rsa.e, ta->pkey.key.rsa.elen, "\x01\x00\x01", 3);
	CHECK_EQ_INT(ta->flags, BR_X509_TA_CA);
	CHECK_EQ_INT(set.list[1].pkey.key_type, BR_KEYTYPE_EC);
	/* Appending more keeps the earlier anchors. */
	CHECK_EQ_INT(add(&set, ec_ca_pem, err, sizeof(err)), 1);
	CHECK_EQ_INT(set.count, 3);
	anchors_free(&set);
}

static void test_no_final_newline(void)
{
	struct anchors set;
	char err[256] = "";
	size_t len = strlen(ec_ca_pem) - 1;   /* drop the last '\n' */

	anchors_init(&set);
	CHECK_EQ_INT(anchors_add_pem(&set, ec_ca_pem, len, err, sizeof(err)), 1);
	anchors_free(&set);
}

static void test_errors_from_string(void)
{
	struct anchors set;
	char err[256];
	char pem[4096];

	anchors_init(&set);
	CHECK_EQ_INT(add(&set, ec_ca_pem, err, sizeof(err)), 1);

	err[0] = '\0';
	CHECK_EQ_INT(add(&set, "", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "PEM data: no certificate found");

	err[0] = '\0';
	CHECK_EQ_INT(add(&set, key_only_pem, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "PEM data: no certificate found");

	err[0] = '\0';
	CHECK_EQ_INT(add(&set, not_a_cert_pem, err, sizeof(err)), -1);
	CHECK(contains(err, "PEM data: certificate 1 cannot be decoded"));

	err[0] = '\0';
	CHECK_EQ_INT(add(&set, "-----BEGIN CERTIFICATE-----\nMAMC*QE=\n-----END CERTIFICATE-----\n",
	                 err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "PEM data: invalid PEM encoding");

	err[0] = '\0';
	CHECK_EQ_INT(add(&set, "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "PEM data: PEM object not terminated by an END line");

	/* A bad certificate after a good one: nothing of that call is kept. */
	snprintf(pem, sizeof(pem), "%s%s", rsa_ca_pem, not_a_cert_pem);
	err[0] = '\0';
	CHECK_EQ_INT(add(&set, pem, err, sizeof(err)), -1);
	CHECK(contains(err, "certificate 2 cannot be decoded"));
	CHECK_EQ_INT(set.count, 1);
	CHECK_EQ_INT(set.list[0].pkey.key_type, BR_KEYTYPE_EC);
	anchors_free(&set);
}

static void test_file(void)
{
	struct anchors set;
	char err[256] = "", path[] = "/tmp/test_anchors_XXXXXX";
	int fd;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, rsa_ca_pem, strlen(rsa_ca_pem)), (long long)strlen(rsa_ca_pem));
	CHECK_EQ_INT(write(fd, ec_ca_pem, strlen(ec_ca_pem)), (long long)strlen(ec_ca_pem));
	close(fd);
	anchors_init(&set);
	CHECK_EQ_INT(anchors_add_pem_file(&set, path, err, sizeof(err)), 2);
	CHECK_EQ_INT(set.count, 2);
	anchors_free(&set);

	/* Same file emptied: the message names the file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	anchors_init(&set);
	CHECK_EQ_INT(anchors_add_pem_file(&set, path, err, sizeof(err)), -1);
	CHECK(contains(err, path) && contains(err, ": no certificate found"));
	unlink(path);

	CHECK_EQ_INT(anchors_add_pem_file(&set, "/nonexistent/ca.crt", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "/nonexistent/ca.crt: No such file or directory");

	/* only regular files are read (files.h): a directory, a device, a FIFO are refused */
	CHECK_EQ_INT(anchors_add_pem_file(&set, "/", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "/: not a regular file");
	CHECK_EQ_INT(anchors_add_pem_file(&set, "/dev/zero", err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "/dev/zero: not a regular file");
	CHECK_EQ_INT(set.count, 0);
	anchors_free(&set);
}

static void test_embedded(void)
{
	const struct anchors *emb = anchors_embedded();
	struct anchors set;
	char err[256] = "";
	size_t i, rsa = 0, ec = 0;

	CHECK(emb->count > 100);
	CHECK_EQ_INT(emb->owned, 0);
	for (i = 0; i < emb->count; i++) {
		const br_x509_trust_anchor *ta = &emb->list[i];

		CHECK(ta->dn.len > 0 && ta->dn.data[0] == 0x30);
		CHECK_EQ_INT(ta->flags, BR_X509_TA_CA);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			rsa++;
			CHECK(ta->pkey.key.rsa.nlen >= 256);
		} else {
			ec++;
			CHECK_EQ_INT(ta->pkey.key_type, BR_KEYTYPE_EC);
			CHECK(ta->pkey.key.ec.q[0] == 0x04);
		}
	}
	CHECK(rsa > 0 && ec > 0);
	/* A set that does not own its anchors (the embedded one) is left alone by free. */
	set = *emb;
	anchors_free(&set);
	CHECK(set.list == emb->list && set.count == emb->count);

	/* Union of the embedded roots and a file, as for AWS_CA_BUNDLE. */
	anchors_init(&set);
	CHECK_EQ_INT(add(&set, ec_ca_pem, err, sizeof(err)), 1);
	CHECK_EQ_INT(anchors_add_all(&set, emb), 0);
	CHECK_EQ_INT(set.count, emb->count + 1);
	CHECK(set.list[1].dn.data != emb->list[0].dn.data);   /* copies, not aliases */
	CHECK_EQ_MEM(set.list[1].dn.data, set.list[1].dn.len, emb->list[0].dn.data, emb->list[0].dn.len);
	anchors_free(&set);
}

int main(void)
{
	test_ec_from_string();
	test_bundle_and_mixed_objects();
	test_no_final_newline();
	test_errors_from_string();
	test_file();
	test_embedded();
	return UNIT_DONE();
}
