/*
 * base64: RFC 4648 section 4 encoding and strict decoding into caller buffers. No
 * allocation, so http (Proxy-Authorization), ecr (token decoding) and secret (the
 * manifest's data) share one implementation.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/* Bytes base64_encode needs for len input bytes, the terminating NUL included. */
#define BASE64_ENCODED_SIZE(len) (((len) + 2) / 3 * 4 + 1)

/* Encodes in[0..len) with padding into out, NUL-terminated. Returns the encoded length,
 * or 0 when outlen < BASE64_ENCODED_SIZE(len) (out is then left untouched). */
size_t base64_encode(const void *in, size_t len, char *out, size_t outlen);

/* Decodes in[0..len) (padding optional; no blanks, no other alphabets) into
 * out[0..*out_len). out must hold len / 4 * 3 + 3 bytes. Returns 0, or -1 for anything
 * that is not base64. */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *out_len);

#endif
