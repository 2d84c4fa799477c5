/* base64: see base64.h. */
#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *data, size_t len, char *out, size_t outlen)
{
	const unsigned char *in = data;
	size_t i, n = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || outlen < BASE64_ENCODED_SIZE(len))
		return 0;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
		out[n++] = alphabet[v >> 6 & 63];
		out[n++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
		out[n++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[n++] = '=';
	}
	out[n] = '\0';
	return n;
}

static int value_of(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *out_len)
{
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0;

	while (len > 0 && in[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	/* a lone 6-bit group carries no whole byte; padding must complete a quantum */
	if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
		return -1;
	if (outlen < len / 4 * 3 + 3)
		return -1;
	for (i = 0; i < len; i++) {
		int v = value_of((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	*out_len = o;
	return 0;
}
