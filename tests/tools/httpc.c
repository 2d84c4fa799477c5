/*
 * httpc: drives http.c from the command line for tests/e2e/test_http.py.
 *
 *   httpc [--ca FILE]... [--embedded] [--timeout-ms N] [--max-body N] [--repeat N]
 *         [-X METHOD] [-H 'Name: value']... [-d BODY] URL [URL...]
 *
 * Performs the requests in order (the whole list --repeat times) on ONE http_conn, so
 * connections are reused where http allows, with HTTPS_PROXY / NO_PROXY from the
 * environment. Trust anchors: the --ca files plus, with --embedded or when no --ca is
 * given, the embedded public roots. For each response stdout gets "status N", the body
 * and a newline; at the end "connects N". On a failed request conn->err goes to stderr
 * and the exit status is 1; usage errors exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchors.h"
#include "http.h"
#include "net.h"

#define MAX_HEADERS 32

static int usage(void)
{
	fprintf(stderr, "usage: httpc [--ca FILE]... [--embedded] [--timeout-ms N] [--max-body N] "
	        "[--repeat N] [-X METHOD] [-H 'Name: value']... [-d BODY] URL [URL...]\n");
	return 2;
}

static int parse_count(const char *s, unsigned long long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct http_conn conn;
	struct http_header headers[MAX_HEADERS];
	struct http_proxy proxy;
	struct anchors set;
	const char *method = NULL, *body = NULL;
	const char *ca_files[16];
	size_t ca_count = 0, header_count = 0, buf_size;
	unsigned long long timeout_ms = 10000, max_body = HTTP_DEFAULT_MAX_BODY, repeat = 1;
	int embedded = 0, first_url, status = 0, i;
	unsigned long long round;
	char err[256], *buf;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--embedded") == 0) {
			embedded = 1;
			continue;
		}
		if (value == NULL)
			return usage();
		i++;
		if (strcmp(arg, "--ca") == 0 && ca_count < sizeof(ca_files) / sizeof(ca_files[0])) {
			ca_files[ca_count++] = value;
		} else if (strcmp(arg, "--timeout-ms") == 0) {
			if (parse_count(value, &timeout_ms) < 0)
				return usage();
		} else if (strcmp(arg, "--max-body") == 0) {
			if (parse_count(value, &max_body) < 0 || max_body == 0 || max_body > (1u << 30))
				return usage();
		} else if (strcmp(arg, "--repeat") == 0) {
			if (parse_count(value, &repeat) < 0)
				return usage();
		} else if (strcmp(arg, "-X") == 0) {
			method = value;
		} else if (strcmp(arg, "-d") == 0) {
			body = value;
		} else if (strcmp(arg, "-H") == 0 && header_count < MAX_HEADERS) {
			const char *colon = strchr(value, ':'), *v;

			if (colon == NULL)
				return usage();
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			headers[header_count].name = value;
			headers[header_count].name_len = (size_t)(colon - value);
			headers[header_count].value = v;
			headers[header_count].value_len = strlen(v);
			header_count++;
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	first_url = i;
	if (method == NULL)
		method = body ? "POST" : "GET";

	if (http_proxy_from_env(&proxy, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	anchors_init(&set);
	for (size_t k = 0; k < ca_count; k++) {
		if (anchors_add_pem_file(&set, ca_files[k], err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			anchors_free(&set);
			return 1;
		}
	}
	if ((embedded || ca_count == 0) && anchors_add_all(&set, anchors_embedded()) < 0) {
		fprintf(stderr, "cannot add the embedded roots\n");
		anchors_free(&set);
		return 1;
	}

	/* Room for the largest head, the largest body and the NUL after it. */
	buf_size = HTTP_MAX_HEADER + (size_t)max_body + 1;
	buf = malloc(buf_size);
	if (buf == NULL) {
		fprintf(stderr, "out of memory\n");
		anchors_free(&set);
		return 1;
	}
	http_conn_init(&conn, buf, buf_size, &proxy);

	for (round = 0; round < repeat && status == 0; round++) {
		for (i = first_url; i < argc && status == 0; i++) {
			struct http_request req;
			struct http_response resp;

			memset(&req, 0, sizeof(req));
			req.method = method;
			req.url = argv[i];
			req.headers = headers;
			req.header_count = header_count;
			req.body = body;
			req.body_len = body ? strlen(body) : 0;
			req.anchors = &set;
			req.deadline_ms = net_deadline_in((int64_t)timeout_ms);
			req.max_body = (size_t)max_body;
			if (http_request(&conn, &req, &resp) < 0) {
				fprintf(stderr, "%s\n", conn.err);
				status = 1;
				break;
			}
			printf("status %d\n", resp.status);
			fwrite(resp.body, 1, resp.body_len, stdout);
			printf("\n");
			fflush(stdout);
		}
	}
	printf("connects %u\n", conn.connects);
	http_conn_close(&conn);
	free(buf);
	anchors_free(&set);
	return status;
}
