/*
 * sigv4sign: signs requests read from stdin, one JSON object per line, for the differential
 * test against botocore (tests/e2e/test_sigv4.py). Each input line:
 *
 *   {"method":"GET", "path":"/a%20b", "query":"x=1&y", "headers":[["Host","h"],...],
 *    "body_hex":"00ff", "key":"AKID", "secret":"...", "region":"us-east-1",
 *    "service":"svc", "amz_date":"20150830T123600Z", "normalize":true,
 *    "output":"authorization"}
 *
 * "query", "body_hex", "normalize" (default true) and "output" are optional. "output" is
 * "authorization" (default: the Authorization value as is), "canonical" or "sts" (the
 * canonical request or string to sign as a JSON string). Each input line gives exactly one
 * output line; "ERROR" when sigv4 rejects the request, "BADINPUT" when the line is not of
 * the form above.
 */
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define MAX_HEADERS 256       /* above SIGV4_MAX_HEADERS, so that the limit can be probed */
#define OUT_SIZE (1 << 20)

static const char *string_field(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into a new buffer (at least one byte, so never NULL on success). */
static unsigned char *decode_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	unsigned char *out;

	if (n % 2)
		return NULL;
	out = malloc(n / 2 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

static void print_json_string(const char *s)
{
	cJSON *item = cJSON_CreateString(s);
	char *text = item ? cJSON_PrintUnformatted(item) : NULL;

	puts(text ? text : "BADINPUT");
	free(text);
	cJSON_Delete(item);
}

/* Signs one line; prints exactly one line. */
static void sign_line(const char *line, char *out)
{
	static struct sigv4_header headers[MAX_HEADERS];
	cJSON *obj = cJSON_Parse(line);
	const cJSON *list, *pair, *normalize;
	const char *body_hex, *output;
	unsigned char *body = NULL;
	size_t body_len = 0, count = 0;
	long n;

	if (obj == NULL)
		goto bad;
	list = cJSON_GetObjectItemCaseSensitive(obj, "headers");
	if (!cJSON_IsArray(list))
		goto bad;
	cJSON_ArrayForEach(pair, list) {
		const cJSON *name = cJSON_GetArrayItem(pair, 0), *value = cJSON_GetArrayItem(pair, 1);
		if (count == MAX_HEADERS || !cJSON_IsString(name) || !cJSON_IsString(value))
			goto bad;
		headers[count].name = name->valuestring;
		headers[count].value = value->valuestring;
		count++;
	}
	body_hex = string_field(obj, "body_hex");
	if (body_hex && *body_hex && (body = decode_hex(body_hex, &body_len)) == NULL)
		goto bad;
	normalize = cJSON_GetObjectItemCaseSensitive(obj, "normalize");

	struct sigv4_request req = {
		string_field(obj, "method"), string_field(obj, "path"), string_field(obj, "query"),
		headers, count, body, body_len,
	};
	struct sigv4_key key = { string_field(obj, "key"), string_field(obj, "secret") };
	struct sigv4_scope scope = {
		string_field(obj, "amz_date"), string_field(obj, "region"),
		string_field(obj, "service"), normalize == NULL || cJSON_IsTrue(normalize),
	};
	output = string_field(obj, "output");
	if (output == NULL || strcmp(output, "authorization") == 0) {
		n = sigv4_authorization(&req, &key, &scope, out, OUT_SIZE);
		puts(n < 0 ? "ERROR" : out);
	} else if (strcmp(output, "canonical") == 0) {
		n = sigv4_canonical_request(&req, scope.normalize_path, out, OUT_SIZE);
		if (n < 0)
			puts("ERROR");
		else
			print_json_string(out);
	} else if (strcmp(output, "sts") == 0) {
		n = sigv4_string_to_sign(&req, &scope, out, OUT_SIZE);
		if (n < 0)
			puts("ERROR");
		else
			print_json_string(out);
	} else {
		goto bad;
	}
	free(body);
	cJSON_Delete(obj);
	return;
bad:
	puts("BADINPUT");
	free(body);
	cJSON_Delete(obj);
}

int main(void)
{
	char *line = NULL, *out = malloc(OUT_SIZE);
	size_t cap = 0;

	if (out == NULL)
		return 1;
	while (getline(&line, &cap, stdin) >= 0)
		sign_line(line, out);
	free(line);
	free(out);
	return fflush(stdout) == 0 ? 0 : 1;
}
