/*
 * tlsprobe: drives net + tls + anchors end to end for tests/e2e/test_tls.py.
 *
 *   tlsprobe [--ca FILE]... [--embedded] [--timeout-ms N] HOST PORT
 *
 * Connects, handshakes, sends "GET / HTTP/1.1" with "Connection: close", and copies the
 * response to stdout until the server closes. Trust: the --ca files, plus the embedded
 * roots with --embedded (the embedded roots alone when no --ca is given). One deadline
 * covers the whole exchange (default 10000 ms).
 *
 * Exit: 0 on success; 1 with "tlsprobe: MESSAGE [CODE]" on stderr (CODE is the
 * NET_E* / TLS_E* name); 2 for usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchors.h"
#include "net.h"
#include "tls.h"

static const char *code_name(int rc)
{
	switch (rc) {
	case TLS_EIO: return "TLS_EIO";
	case TLS_ETIMEOUT: return "TLS_ETIMEOUT";
	case TLS_EHANDSHAKE: return "TLS_EHANDSHAKE";
	case TLS_ECERT: return "TLS_ECERT";
	case TLS_ECLOSED: return "TLS_ECLOSED";
	default: return "?";
	}
}

static const char *net_code_name(int rc)
{
	switch (rc) {
	case NET_EIO: return "NET_EIO";
	case NET_ETIMEOUT: return "NET_ETIMEOUT";
	case NET_ERESOLVE: return "NET_ERESOLVE";
	case NET_ECONNECT: return "NET_ECONNECT";
	default: return "?";
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: tlsprobe [--ca FILE]... [--embedded] [--timeout-ms N] HOST PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct tls_conn conn;   /* 45 KiB: not on the stack */
	struct anchors set;
	const struct anchors *trust;
	const char *host, *port;
	char err[256], request[600], buf[4096];
	long timeout_ms = 10000, n;
	int64_t deadline;
	int i, fd, rc, embedded = 0, cas = 0, status = 1;

	anchors_init(&set);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
			if (anchors_add_pem_file(&set, argv[++i], err, sizeof(err)) < 0) {
				fprintf(stderr, "tlsprobe: %s\n", err);
				anchors_free(&set);
				return 1;
			}
			cas++;
		} else if (strcmp(argv[i], "--embedded") == 0) {
			embedded = 1;
		} else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			char *end;

			timeout_ms = strtol(argv[++i], &end, 10);
			if (*end != '\0' || timeout_ms <= 0) {
				anchors_free(&set);
				return usage();
			}
		} else {
			anchors_free(&set);
			return usage();
		}
	}
	if (argc - i != 2) {
		anchors_free(&set);
		return usage();
	}
	host = argv[i];
	port = argv[i + 1];
	if (cas == 0) {
		trust = anchors_embedded();
	} else {
		if (embedded && anchors_add_all(&set, anchors_embedded()) < 0) {
			fprintf(stderr, "tlsprobe: out of memory\n");
			anchors_free(&set);
			return 1;
		}
		trust = &set;
	}
	/* RFC 7230 section 5.4: Host is uri-host [":" port], an IPv6 literal in brackets. */
	snprintf(request, sizeof(request),
	         "GET / HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n\r\n",
	         strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);

	deadline = net_deadline_in(timeout_ms);
	fd = net_connect(host, port, deadline, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "tlsprobe: %s [%s]\n", err, net_code_name(fd));
		anchors_free(&set);
		return 1;
	}
	rc = tls_handshake(&conn, fd, host, trust, deadline);
	if (rc == 0)
		rc = tls_write_all(&conn, request, strlen(request), deadline);
	while (rc == 0) {
		n = tls_read(&conn, buf, sizeof(buf), deadline);
		if (n == 0) {
			status = 0;
			break;
		}
		if (n < 0) {
			rc = (int)n;
			break;
		}
		fwrite(buf, 1, (size_t)n, stdout);
	}
	if (rc < 0)
		fprintf(stderr, "tlsprobe: %s [%s]\n", conn.err, code_name(rc));
	tls_close(&conn);
	close(fd);
	anchors_free(&set);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}
