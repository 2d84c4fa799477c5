/*
 * anchors: sets of X.509 trust anchors for tls.
 *
 * Three sources: the public roots embedded at build time from Debian's ca-certificates
 * (anchors_embedded(), static data, never freed), PEM bundles read from files
 * (anchors_load_pem_file, e.g. the ServiceAccount ca.crt or AWS_CA_BUNDLE), and unions of
 * those. This module allocates (one owner, anchors_free); tls and http do not.
 */
#ifndef ANCHORS_H
#define ANCHORS_H

#include <stddef.h>

#include <bearssl.h>

struct anchors {
	br_x509_trust_anchor *list;   /* list[0..count) */
	size_t count;
	size_t cap;
	int owned;                    /* 1 when list and its bytes are heap owned */
};

/* The embedded public roots (generated into build/gen/anchors_embedded.c). */
const struct anchors *anchors_embedded(void);

/* Empty set; always succeeds. */
void anchors_init(struct anchors *set);

/* Appends every CERTIFICATE in a PEM file (read through files.h: a regular file of at most
 * FILES_PEM_MAX bytes). Returns the number added (>= 1), or -1 with a
 * one-line message in err ("AWS_CA_BUNDLE /x: no certificate found", ...). */
int anchors_add_pem_file(struct anchors *set, const char *path, char *err, size_t errlen);

/* Same from memory. */
int anchors_add_pem(struct anchors *set, const char *pem, size_t len, char *err, size_t errlen);

/* Appends copies of every anchor of src (e.g. the embedded roots). Returns 0 or -1. */
int anchors_add_all(struct anchors *set, const struct anchors *src);

void anchors_free(struct anchors *set);

#endif
