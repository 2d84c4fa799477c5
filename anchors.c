/*
 * anchors: trust anchor sets; see anchors.h.
 *
 * PEM is decoded with BearSSL's streaming br_pem_decoder and each CERTIFICATE object with
 * br_x509_decoder; an anchor keeps the subject DN and the public key, copied to the heap.
 * Every certificate of a bundle becomes a CA anchor (BR_X509_TA_CA), as with OpenSSL's
 * CAfile and brssl: a Kubernetes ca.crt or an AWS_CA_BUNDLE lists the CAs the user chose
 * to trust, whatever their own basicConstraints say.
 */
#include "anchors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "grow.h"

/* Defined in the generated $(B)/gen/anchors_embedded.c (tools/mkanchors.c). */
extern const struct anchors anchors_embedded_set;

/* Far above any real certificate (public roots are under 2 KiB); bounds what a hostile or
 * mistaken file can make us allocate. */
#define ANCHORS_MAX_CERT 65536
#define ANCHORS_MAX_DN 4096

const struct anchors *anchors_embedded(void)
{
	return &anchors_embedded_set;
}

void anchors_init(struct anchors *set)
{
	set->list = NULL;
	set->count = 0;
	set->cap = 0;
	set->owned = 1;
}

static void anchor_free_bytes(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

/* Drops the anchors added after the first `keep`, so a failed load leaves the set as it
 * was. */
static void truncate_set(struct anchors *set, size_t keep)
{
	while (set->count > keep)
		anchor_free_bytes(&set->list[--set->count]);
}

void anchors_free(struct anchors *set)
{
	if (set == NULL || !set->owned)
		return;
	truncate_set(set, 0);
	free(set->list);
	anchors_init(set);
}

static unsigned char *copy_bytes(const unsigned char *src, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	if (p != NULL && len > 0)
		memcpy(p, src, len);
	return p;
}

/* Appends a deep copy of ta. Returns 0, or -1 when memory runs out or the set is not
 * heap owned (the embedded set is read-only). */
static int push_anchor(struct anchors *set, const br_x509_trust_anchor *ta)
{
	br_x509_trust_anchor copy, *list;

	if (!set->owned)
		return -1;
	list = grow_room(set->list, &set->cap, set->count, sizeof(*list), 16);
	if (list == NULL)
		return -1;
	set->list = list;
	memset(&copy, 0, sizeof(copy));
	copy.flags = ta->flags;
	copy.pkey.key_type = ta->pkey.key_type;
	copy.dn.len = ta->dn.len;
	copy.dn.data = copy_bytes(ta->dn.data, ta->dn.len);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		const br_rsa_public_key *rsa = &ta->pkey.key.rsa;

		copy.pkey.key.rsa.nlen = rsa->nlen;
		copy.pkey.key.rsa.elen = rsa->elen;
		copy.pkey.key.rsa.n = copy_bytes(rsa->n, rsa->nlen);
		copy.pkey.key.rsa.e = copy_bytes(rsa->e, rsa->elen);
		if (copy.dn.data == NULL || copy.pkey.key.rsa.n == NULL || copy.pkey.key.rsa.e == NULL) {
			anchor_free_bytes(&copy);
			return -1;
		}
	} else {
		const br_ec_public_key *ec = &ta->pkey.key.ec;

		copy.pkey.key.ec.curve = ec->curve;
		copy.pkey.key.ec.qlen = ec->qlen;
		copy.pkey.key.ec.q = copy_bytes(ec->q, ec->qlen);
		if (copy.dn.data == NULL || copy.pkey.key.ec.q == NULL) {
			anchor_free_bytes(&copy);
			return -1;
		}
	}
	set->list[set->count++] = copy;
	return 0;
}

int anchors_add_all(struct anchors *set, const struct anchors *src)
{
	size_t keep = set->count, i;

	for (i = 0; i < src->count; i++) {
		if (push_anchor(set, &src->list[i]) < 0) {
			truncate_set(set, keep);
			return -1;
		}
	}
	return 0;
}

/* ---- PEM bundles ------------------------------------------------------------------- */

struct der_buf {
	unsigned char *data;
	size_t len, cap;
	int overflow;
};

struct dn_buf {
	unsigned char data[ANCHORS_MAX_DN];
	size_t len;
	int overflow;
};

struct pem_loader {
	br_pem_decoder_context pem;
	struct der_buf der;
	struct anchors *set;
	const char *label;      /* file name or "PEM data", for messages */
	size_t keep;            /* set->count before this load */
	size_t certs;           /* CERTIFICATE objects seen */
	int in_object, in_cert;
	char *err;
	size_t errlen;
};

static void der_append(void *ctx, const void *buf, size_t len)
{
	struct der_buf *der = ctx;

	if (der->overflow)
		return;
	if (len > ANCHORS_MAX_CERT - der->len) {
		der->overflow = 1;
		return;
	}
	if (der->cap - der->len < len) {
		size_t cap = der->cap ? der->cap : 2048;
		unsigned char *p;

		while (cap - der->len < len)
			cap *= 2;
		p = realloc(der->data, cap);
		if (p == NULL) {
			der->overflow = 2;
			return;
		}
		der->data = p;
		der->cap = cap;
	}
	memcpy(der->data + der->len, buf, len);
	der->len += len;
}

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_buf *dn = ctx;

	if (len > sizeof(dn->data) - dn->len) {
		dn->overflow = 1;
		return;
	}
	memcpy(dn->data + dn->len, buf, len);
	dn->len += len;
}

static const char *x509_decode_text(int err)
{
	switch (err) {
	case BR_ERR_X509_UNSUPPORTED: return "unsupported key type or algorithm";
	case BR_ERR_X509_LIMIT_EXCEEDED: return "key larger than BearSSL supports";
	case BR_ERR_X509_TRUNCATED:
	case BR_ERR_X509_INNER_TRUNC: return "truncated DER";
	case BR_ERR_X509_BAD_TIME: return "invalid validity date";
	case BR_ERR_X509_BAD_DN: return "invalid distinguished name";
	default: return "malformed DER";
	}
}

/* Decodes the DER certificate just read and adds it. Returns 0 or -1 with err set. */
static int add_certificate(struct pem_loader *ld)
{
	br_x509_decoder_context dc;
	struct dn_buf dn;
	const br_x509_pkey *pk;
	br_x509_trust_anchor ta;
	int err;

	if (ld->der.overflow == 2) {
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->label);
		return -1;
	}
	if (ld->der.overflow) {
		snprintf(ld->err, ld->errlen, "%s: certificate %zu is larger than %d bytes",
		         ld->label, ld->certs, ANCHORS_MAX_CERT);
		return -1;
	}
	dn.len = 0;
	dn.overflow = 0;
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, ld->der.data, ld->der.len);
	pk = br_x509_decoder_get_pkey(&dc);
	err = br_x509_decoder_last_error(&dc);
	if (pk == NULL || err != 0) {
		snprintf(ld->err, ld->errlen, "%s: certificate %zu cannot be decoded: %s (BearSSL error %d)",
		         ld->label, ld->certs, x509_decode_text(err), err);
		return -1;
	}
	if (dn.overflow) {
		snprintf(ld->err, ld->errlen, "%s: certificate %zu: subject name longer than %d bytes",
		         ld->label, ld->certs, ANCHORS_MAX_DN);
		return -1;
	}
	memset(&ta, 0, sizeof(ta));
	ta.dn.data = dn.data;
	ta.dn.len = dn.len;
	ta.flags = BR_X509_TA_CA;
	ta.pkey = *pk;
	if (push_anchor(ld->set, &ta) < 0) {
		snprintf(ld->err, ld->errlen, "%s: out of memory", ld->label);
		return -1;
	}
	return 0;
}

static int pem_feed(struct pem_loader *ld, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		size_t used = br_pem_decoder_push(&ld->pem, buf, len);

		buf += used;
		len -= used;
		switch (br_pem_decoder_event(&ld->pem)) {
		case BR_PEM_BEGIN_OBJ:
			ld->in_object = 1;
			/* RFC 7468 section 5: certificates are labelled "CERTIFICATE"; keys and
			 * other objects in the same file are skipped. */
			ld->in_cert = strcmp(br_pem_decoder_name(&ld->pem), "CERTIFICATE") == 0;
			ld->der.len = 0;
			ld->der.overflow = 0;
			br_pem_decoder_setdest(&ld->pem, ld->in_cert ? der_append : NULL, &ld->der);
			break;
		case BR_PEM_END_OBJ:
			ld->in_object = 0;
			if (ld->in_cert) {
				ld->in_cert = 0;
				ld->certs++;
				if (add_certificate(ld) < 0)
					return -1;
			}
			break;
		case BR_PEM_ERROR:
			snprintf(ld->err, ld->errlen, "%s: invalid PEM encoding", ld->label);
			return -1;
		default:
			break;
		}
	}
	return 0;
}

static void pem_start(struct pem_loader *ld, struct anchors *set, const char *label,
                      char *err, size_t errlen)
{
	memset(ld, 0, sizeof(*ld));
	br_pem_decoder_init(&ld->pem);
	ld->set = set;
	ld->label = label;
	ld->keep = set->count;
	ld->err = err;
	ld->errlen = errlen;
}

/* Ends a load: returns the number of anchors added, or -1 (set restored, err set). */
static int pem_finish(struct pem_loader *ld, int rc)
{
	/* A last line without its newline is common in hand-made files; BearSSL's decoder
	 * needs the newline to see the END line (brssl does the same). */
	if (rc == 0)
		rc = pem_feed(ld, (const unsigned char *)"\n", 1);
	if (rc == 0 && ld->in_object) {
		snprintf(ld->err, ld->errlen, "%s: PEM object not terminated by an END line", ld->label);
		rc = -1;
	}
	if (rc == 0 && ld->set->count == ld->keep) {
		snprintf(ld->err, ld->errlen, "%s: no certificate found", ld->label);
		rc = -1;
	}
	free(ld->der.data);
	ld->der.data = NULL;
	if (rc < 0) {
		truncate_set(ld->set, ld->keep);
		return -1;
	}
	return (int)(ld->set->count - ld->keep);
}

int anchors_add_pem(struct anchors *set, const char *pem, size_t len, char *err, size_t errlen)
{
	struct pem_loader ld;

	pem_start(&ld, set, "PEM data", err, errlen);
	return pem_finish(&ld, pem_feed(&ld, (const unsigned char *)pem, len));
}

int anchors_add_pem_file(struct anchors *set, const char *path, char *err, size_t errlen)
{
	struct pem_loader ld;
	char *pem;
	long n = files_read_alloc("", path, FILES_PEM_MAX, &pem, err, errlen);
	int rc;

	if (n < 0)
		return -1;
	pem_start(&ld, set, path, err, errlen);
	rc = pem_finish(&ld, pem_feed(&ld, (const unsigned char *)pem, (size_t)n));
	free(pem);
	return rc;
}
