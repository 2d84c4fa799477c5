/*
 * mkanchors: turns a PEM bundle of CA certificates (Debian's ca-certificates.crt) into C
 * source for the trust anchors embedded in ecr-refresh.
 *
 *   mkanchors /etc/ssl/certs/ca-certificates.crt > build/gen/anchors_embedded.c
 *
 * Output: one byte array holding every DN and public key back to back (the common RSA
 * exponent 65537 stored once), a table of br_x509_trust_anchor pointing into it, and
 * anchors_embedded_set, which anchors.c returns from anchors_embedded(). Every certificate
 * of a trust bundle is an anchor, so each gets BR_X509_TA_CA whatever its own
 * basicConstraints say (as brssl and OpenSSL treat a bundle). Certificates BearSSL cannot
 * decode are skipped with a note on stderr; the totals go to stderr too.
 *
 * A build-host tool: it may exit() and it allocates without freeing on the error paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

struct bytes {
	unsigned char *data;
	size_t len, cap;
};

struct anchor {
	size_t dn_off, dn_len;
	int key_type;        /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	int curve;
	size_t k1_off, k1_len;  /* RSA modulus or EC point */
	size_t k2_off, k2_len;  /* RSA exponent */
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		fprintf(stderr, "mkanchors: out of memory\n");
		exit(1);
	}
	return p;
}

static void bytes_append(void *ctx, const void *buf, size_t len)
{
	struct bytes *b = ctx;

	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 1024;

		while (cap - b->len < len)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
}

/* Offset of [buf, len) in the blob, appending it unless an identical run already exists at
 * a previous key or DN start (the 65537 exponent is shared by nearly every RSA root). */
static size_t blob_add(struct bytes *blob, const unsigned char *buf, size_t len,
                       const size_t *starts, size_t nstarts)
{
	size_t i, off;

	for (i = 0; i < nstarts; i++) {
		if (starts[i] + len <= blob->len && memcmp(blob->data + starts[i], buf, len) == 0)
			return starts[i];
	}
	off = blob->len;
	bytes_append(blob, buf, len);
	return off;
}

static const char *curve_macro(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1: return "BR_EC_secp256r1";
	case BR_EC_secp384r1: return "BR_EC_secp384r1";
	case BR_EC_secp521r1: return "BR_EC_secp521r1";
	default: return NULL;
	}
}

/* Certificates are numbered from 1 in bundle order, as `openssl storeutl` would list them. */
static void note_skip(size_t index, const char *why, int err)
{
	fprintf(stderr, "mkanchors: skipping certificate %zu: %s (BearSSL error %d)\n", index, why, err);
}

int main(int argc, char **argv)
{
	FILE *f;
	struct bytes pem = { 0 }, der = { 0 }, blob = { 0 }, dn = { 0 };
	struct anchor *list = NULL;
	size_t count = 0, cap = 0, nstarts = 0, certs = 0, skipped = 0;
	size_t *starts = NULL;
	br_pem_decoder_context pc;
	const unsigned char *p;
	size_t left, i;
	int in_cert = 0, in_obj = 0, extra_nl = 1;
	unsigned char chunk[8192];
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: mkanchors CA_BUNDLE.pem > anchors_embedded.c\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (f == NULL) {
		fprintf(stderr, "mkanchors: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bytes_append(&pem, chunk, n);
	if (ferror(f)) {
		fprintf(stderr, "mkanchors: %s: read error\n", argv[1]);
		return 1;
	}
	fclose(f);

	br_pem_decoder_init(&pc);
	p = pem.data;
	left = pem.len;
	while (left > 0) {
		size_t used = br_pem_decoder_push(&pc, p, left);

		p += used;
		left -= used;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in_obj = 1;
			in_cert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0;
			der.len = 0;
			br_pem_decoder_setdest(&pc, in_cert ? bytes_append : NULL, &der);
			break;
		case BR_PEM_END_OBJ: {
			br_x509_decoder_context dc;
			const br_x509_pkey *pk;
			struct anchor a;
			int err;

			in_obj = 0;
			if (!in_cert)
				break;
			in_cert = 0;
			certs++;
			dn.len = 0;
			br_x509_decoder_init(&dc, bytes_append, &dn);
			br_x509_decoder_push(&dc, der.data, der.len);
			pk = br_x509_decoder_get_pkey(&dc);
			err = br_x509_decoder_last_error(&dc);
			if (pk == NULL || err != 0) {
				note_skip(certs, "BearSSL cannot decode it", err);
				skipped++;
				break;
			}
			if (pk->key_type == BR_KEYTYPE_EC && curve_macro(pk->key.ec.curve) == NULL) {
				note_skip(certs, "unsupported EC curve", pk->key.ec.curve);
				skipped++;
				break;
			}
			if (pk->key_type != BR_KEYTYPE_RSA && pk->key_type != BR_KEYTYPE_EC) {
				note_skip(certs, "unsupported key type", pk->key_type);
				skipped++;
				break;
			}
			memset(&a, 0, sizeof(a));
			a.key_type = pk->key_type;
			a.dn_len = dn.len;
			a.dn_off = blob.len;
			bytes_append(&blob, dn.data, dn.len);
			if (pk->key_type == BR_KEYTYPE_RSA) {
				a.k1_len = pk->key.rsa.nlen;
				a.k1_off = blob.len;
				bytes_append(&blob, pk->key.rsa.n, pk->key.rsa.nlen);
				a.k2_len = pk->key.rsa.elen;
				a.k2_off = blob_add(&blob, pk->key.rsa.e, pk->key.rsa.elen, starts, nstarts);
				if (a.k2_off == blob.len - a.k2_len) {
					starts = xrealloc(starts, (nstarts + 1) * sizeof(*starts));
					starts[nstarts++] = a.k2_off;
				}
			} else {
				a.curve = pk->key.ec.curve;
				a.k1_len = pk->key.ec.qlen;
				a.k1_off = blob.len;
				bytes_append(&blob, pk->key.ec.q, pk->key.ec.qlen);
			}
			if (count == cap) {
				cap = cap ? cap * 2 : 64;
				list = xrealloc(list, cap * sizeof(*list));
			}
			list[count++] = a;
			break;
		}
		case BR_PEM_ERROR:
			fprintf(stderr, "mkanchors: %s: invalid PEM after %zu certificates\n", argv[1], certs);
			return 1;
		default:
			break;
		}
		/* Like brssl: accept a last line without its newline. */
		if (left == 0 && extra_nl) {
			extra_nl = 0;
			p = (const unsigned char *)"\n";
			left = 1;
		}
	}
	if (in_obj) {
		fprintf(stderr, "mkanchors: %s: unfinished PEM object at the end\n", argv[1]);
		return 1;
	}
	if (count == 0) {
		fprintf(stderr, "mkanchors: %s: no usable certificate\n", argv[1]);
		return 1;
	}

	printf("/* Generated by tools/mkanchors from %s; do not edit. */\n", argv[1]);
	printf("#include \"anchors.h\"\n\n");
	printf("/* %zu trust anchors: DNs and public keys back to back (%zu bytes). */\n",
	       count, blob.len);
	printf("static const unsigned char anchor_bytes[%zu] = {", blob.len);
	for (i = 0; i < blob.len; i++)
		printf("%s0x%02x,", i % 16 ? " " : "\n\t", blob.data[i]);
	printf("\n};\n\n");
	/* BearSSL's structures hold non-const pointers but never write through them. */
	printf("#define B(off) ((unsigned char *)anchor_bytes + (off))\n\n");
	printf("static const br_x509_trust_anchor anchor_list[%zu] = {\n", count);
	for (i = 0; i < count; i++) {
		const struct anchor *a = &list[i];

		if (a->key_type == BR_KEYTYPE_RSA)
			printf("\t{ { B(%zu), %zu }, BR_X509_TA_CA, { BR_KEYTYPE_RSA, { .rsa = "
			       "{ B(%zu), %zu, B(%zu), %zu } } } },\n",
			       a->dn_off, a->dn_len, a->k1_off, a->k1_len, a->k2_off, a->k2_len);
		else
			printf("\t{ { B(%zu), %zu }, BR_X509_TA_CA, { BR_KEYTYPE_EC, { .ec = "
			       "{ %s, B(%zu), %zu } } } },\n",
			       a->dn_off, a->dn_len, curve_macro(a->curve), a->k1_off, a->k1_len);
	}
	printf("};\n\n#undef B\n\n");
	printf("const struct anchors anchors_embedded_set = {\n"
	       "\t(br_x509_trust_anchor *)anchor_list, %zu, %zu, 0\n};\n", count, count);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mkanchors: write error\n");
		return 1;
	}
	fprintf(stderr, "mkanchors: %zu of %zu certificates embedded (%zu skipped), "
	        "%zu bytes of key and DN data + %zu bytes of table\n",
	        count, certs, skipped, blob.len, count * sizeof(br_x509_trust_anchor));
	free(list);
	free(starts);
	free(pem.data);
	free(der.data);
	free(dn.data);
	free(blob.data);
	return 0;
}
