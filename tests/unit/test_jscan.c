/*
 * test_jscan: the pull scanner (jscan.h) on well-formed and malformed JSON.
 */
#include <string.h>

#include "jscan.h"
#include "unit.h"

static int whole(const char *text)
{
	struct jscan s;

	jscan_init(&s, text, strlen(text));
	return jscan_skip(&s) == 0 && jscan_end(&s);
}

static void test_grammar(void)
{
	static const char *const good[] = {
		"{}", "[]", " { \"a\" : [ 1 , -0.5e+10 , true , false , null ] } ", "\"\"", "0", "-0", "1E3",
		"[\"\\u00e9\\ud83d\\ude00\"]", "{\"a\":{\"b\":{\"c\":[{}]}}}", "\"tab\there\"",
	};
	static const char *const bad[] = {
		"", "{", "[", "{,}", "[,1]", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]", "[.5]",
		"[+1]", "[1e]", "[tru]", "[nul]", "\"open", "\"\\x\"", "\"\\u12\"", "\"\\udc00\"", "\"\\ud800x\"",
		"\"\\ud800\\u0041\"", "{} {}", "[1] x", "{\"a\":1}}",
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(whole(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!whole(bad[i]));
}

static void test_depth(void)
{
	char deep[2 * JSCAN_MAX_DEPTH + 8];
	size_t n = 0;

	for (int i = 0; i < JSCAN_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSCAN_MAX_DEPTH; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	CHECK(whole(deep));
	memmove(deep + 1, deep, n + 1);         /* one level more */
	deep[0] = '[';
	deep[n + 1] = ']';
	deep[n + 2] = '\0';
	CHECK(!whole(deep));
}

static void test_strings(void)
{
	const char *text = "[\"a\\\"b\\\\c\\/\\n\", \"\\u00e9\\ud83d\\ude00\", \"0123456789\", 7, \"x\\u0000yyyyyyyyyyyy\"]";
	char out[8];
	struct jscan s;

	jscan_init(&s, text, strlen(text));
	CHECK(jscan_array(&s));
	CHECK_EQ_INT(jscan_element(&s), 1);
	CHECK_EQ_INT(jscan_string_bound(&s), 12);      /* raw length + 1 */
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), 7);
	CHECK_EQ_STR(out, "a\"b\\c/\n");
	CHECK_EQ_INT(jscan_element(&s), 1);
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), 6);
	CHECK_EQ_STR(out, "\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_EQ_INT(jscan_element(&s), 1);
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), -3);    /* does not fit: skipped, "" */
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(jscan_element(&s), 1);
	CHECK_EQ_INT(jscan_string_bound(&s), 0);
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), -2);    /* a number: skipped */
	CHECK_EQ_INT(jscan_element(&s), 1);
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), 1);     /* ends at the NUL, as cJSON */
	CHECK_EQ_STR(out, "x");
	CHECK_EQ_INT(jscan_element(&s), 0);
	CHECK(jscan_end(&s));
}

static void test_members(void)
{
	const char *text = "{\"short\":1,\"a-key-longer-than-the-buffer\":{\"x\":[1]},\"k\":\"v\"}";
	char key[8], out[4];
	struct jscan s;

	jscan_init(&s, text, strlen(text));
	CHECK(jscan_object(&s));
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), 1);
	CHECK_EQ_STR(key, "short");
	CHECK(!jscan_object(&s));               /* a number where an object was wanted: skipped */
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), 1);
	CHECK_EQ_STR(key, "");                  /* too long: matches nothing */
	CHECK_EQ_INT(jscan_skip(&s), 0);
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), 1);
	CHECK_EQ_STR(key, "k");
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), 1);
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), 0);
	CHECK(jscan_end(&s));
}

static void test_failure_sticks(void)
{
	const char *text = "{\"a\":[1,,2],\"b\":\"c\"}";
	char key[8], out[8];
	struct jscan s;

	jscan_init(&s, text, strlen(text));
	CHECK(jscan_object(&s));
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), 1);
	CHECK_EQ_INT(jscan_skip(&s), -1);
	CHECK(s.failed);
	CHECK_EQ_INT(jscan_member(&s, key, sizeof key), -1);
	CHECK_EQ_INT(jscan_string(&s, out, sizeof out), -1);
	CHECK(jscan_peek(&s) == JSCAN_NONE);
	CHECK(!jscan_end(&s));
	jscan_init(&s, NULL, 0);
	CHECK(!jscan_end(&s));
}

int main(void)
{
	test_grammar();
	test_depth();
	test_strings();
	test_members();
	test_failure_sticks();
	return UNIT_DONE();
}
