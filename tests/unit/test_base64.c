/* base64: RFC 4648 section 10 vectors, buffer limits, strict decoding. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "unit.h"

static const struct { const char *plain, *encoded; } vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	{ "AWS:pa\xff\xfe", "QVdTOnBh//4=" },
};

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		const char *plain = vectors[i].plain, *encoded = vectors[i].encoded;
		size_t plen = strlen(plain), elen = strlen(encoded), n;
		char out[32];
		unsigned char back[32];
		/* exact-size heap buffers so ASan sees any overrun */
		char *exact = malloc(BASE64_ENCODED_SIZE(plen));

		CHECK_EQ_INT(base64_encode(plain, plen, exact, BASE64_ENCODED_SIZE(plen)), elen);
		CHECK_EQ_STR(exact, encoded);
		free(exact);
		if (plen > 0)
			CHECK_EQ_INT(base64_encode(plain, plen, out, BASE64_ENCODED_SIZE(plen) - 1), 0);
		CHECK_EQ_INT(base64_decode(encoded, elen, back, sizeof back, &n), 0);
		CHECK_EQ_MEM(back, n, plain, plen);
		/* padding is optional on input */
		while (elen > 0 && encoded[elen - 1] == '=')
			elen--;
		CHECK_EQ_INT(base64_decode(encoded, elen, back, sizeof back, &n), 0);
		CHECK_EQ_MEM(back, n, plain, plen);
	}
	{
		static const char *bad[] = { "Z", "Zm9v=", "Zg===", "Zm 9v", "Zm9v\n", "Zm-_", "Z===" };
		unsigned char back[32];
		size_t n;

		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			CHECK_EQ_INT(base64_decode(bad[i], strlen(bad[i]), back, sizeof back, &n), -1);
		/* too small an output buffer is refused, not overrun */
		CHECK_EQ_INT(base64_decode("Zm9vYmFy", 8, back, 8, &n), -1);
	}
	return UNIT_DONE();
}
