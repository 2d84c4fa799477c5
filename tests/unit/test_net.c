/*
 * test_net: IP literal detection, connect errors and deadlines, SIGPIPE-free writes.
 * Uses loopback sockets only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "unit.h"

static void test_ip_literal(void)
{
	static const struct {
		const char *host;
		int ip;
	} rows[] = {
		{ "127.0.0.1", 1 },
		{ "10.96.0.1", 1 },
		{ "::1", 1 },
		{ "fd00::10:96:0:1", 1 },
		{ "::ffff:10.0.0.1", 1 },
		{ "[::1]", 0 },
		{ "localhost", 0 },
		{ "api.ecr.us-east-1.amazonaws.com", 0 },
		{ "1.2.3", 0 },
		{ "256.1.1.1", 0 },
		{ "127.0.0.1 ", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (net_is_ip_literal(rows[i].host) != rows[i].ip)
			fprintf(stderr, "net_is_ip_literal(\"%s\")\n", rows[i].host);
		CHECK_EQ_INT(net_is_ip_literal(rows[i].host), rows[i].ip);
	}
	CHECK_EQ_INT(net_is_ip_literal(NULL), 0);
}

static void test_loopback(void)
{
	static const struct {
		const char *host;
		int loopback;
	} rows[] = {
		{ "127.0.0.1", 1 }, { "127.255.0.9", 1 }, { "::1", 1 }, { "::ffff:127.0.0.1", 1 },
		{ "localhost", 1 }, { "LocalHost", 1 },
		{ "128.0.0.1", 0 }, { "10.1.2.3", 0 }, { "0.0.0.0", 0 }, { "::", 0 }, { "::2", 0 },
		{ "::ffff:10.0.0.1", 0 }, { "localhost.example.com", 0 }, { "127.0.0.1.nip.io", 0 },
		{ "[::1]", 0 }, { "", 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (net_host_is_loopback(rows[i].host) != rows[i].loopback)
			fprintf(stderr, "net_host_is_loopback(\"%s\")\n", rows[i].host);
		CHECK_EQ_INT(net_host_is_loopback(rows[i].host), rows[i].loopback);
	}
}

/* A listening socket on 127.0.0.1 with a free port; returns fd and the port text. */
static int listener(int backlog, char *port, size_t portlen)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	snprintf(port, portlen, "%u", (unsigned)ntohs(sa.sin_port));
	return fd;
}

static void test_connect_refused(void)
{
	char port[16], err[200] = "", want[200];
	int lfd = listener(1, port, sizeof(port));
	int fd;

	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	close(lfd);   /* the port is now free: nothing listens */
	fd = net_connect("127.0.0.1", port, net_deadline_in(2000), err, sizeof(err));
	CHECK_EQ_INT(fd, NET_ECONNECT);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: Connection refused", port);
	CHECK_EQ_STR(err, want);
}

static void test_connect_ok_and_io(void)
{
	char port[16], err[200] = "", buf[16];
	int lfd = listener(4, port, sizeof(port));
	int fd, peer, nodelay = 0;
	socklen_t len = sizeof(nodelay);
	int64_t start;

	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	fd = net_connect("127.0.0.1", port, net_deadline_in(2000), err, sizeof(err));
	CHECK(fd >= 0);
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		close(lfd);
		return;
	}
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0 && nodelay != 0);
	peer = accept(lfd, NULL, NULL);
	CHECK(peer >= 0);

	CHECK_EQ_INT(net_write_all(fd, "ping", 4, net_deadline_in(1000), err, sizeof(err)), 0);
	CHECK_EQ_INT(read(peer, buf, sizeof(buf)), 4);
	CHECK_EQ_INT(write(peer, "pong", 4), 4);
	CHECK_EQ_INT(net_read(fd, buf, sizeof(buf), net_deadline_in(1000), err, sizeof(err)), 4);
	CHECK_EQ_MEM(buf, 4, "pong", 4);

	/* Nothing more comes: the read ends at its deadline. */
	start = net_now_ms();
	CHECK_EQ_INT(net_read(fd, buf, sizeof(buf), net_deadline_in(200), err, sizeof(err)), NET_ETIMEOUT);
	CHECK(net_now_ms() - start >= 190 && net_now_ms() - start < 1500);
	CHECK_EQ_STR(err, "read: timed out");

	/* End of stream. */
	close(peer);
	CHECK_EQ_INT(net_read(fd, buf, sizeof(buf), net_deadline_in(1000), err, sizeof(err)), 0);
	close(fd);
	close(lfd);
}

/*
 * A listener that never accepts, its queue already full: Linux drops further SYNs, so the
 * connect can only end at our deadline.
 */
static void test_connect_deadline(void)
{
	char port[16], err[200] = "", want[200];
	int lfd = listener(0, port, sizeof(port));
	int fillers[4], nfill = 0, i, fd;
	int64_t start, took;

	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	for (i = 0; i < 4; i++) {
		fd = net_connect("127.0.0.1", port, net_deadline_in(300), err, sizeof(err));
		if (fd < 0)
			break;
		fillers[nfill++] = fd;
	}
	CHECK(nfill >= 1);   /* the queue took at least one before it filled */
	start = net_now_ms();
	fd = net_connect("127.0.0.1", port, net_deadline_in(400), err, sizeof(err));
	took = net_now_ms() - start;
	CHECK_EQ_INT(fd, NET_ETIMEOUT);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: timed out", port);
	CHECK_EQ_STR(err, want);
	CHECK(took >= 390 && took < 2000);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < nfill; i++)
		close(fillers[i]);
	close(lfd);

	/* A deadline already past fails at once. */
	start = net_now_ms();
	CHECK_EQ_INT(net_connect("127.0.0.1", "1", net_now_ms() - 1, err, sizeof(err)), NET_ETIMEOUT);
	CHECK(net_now_ms() - start < 100);
}

static void test_write_to_closed_peer(void)
{
	char err[200] = "", big[65536];
	int sv[2], rc = 0, i;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	memset(big, 'x', sizeof(big));
	/* Without MSG_NOSIGNAL this would kill the test with SIGPIPE. */
	for (i = 0; i < 4 && rc == 0; i++)
		rc = net_write_all(sv[0], big, sizeof(big), net_deadline_in(1000), err, sizeof(err));
	CHECK_EQ_INT(rc, NET_EIO);
	CHECK_EQ_STR(err, "write: Broken pipe");
	close(sv[0]);
}

static void test_resolve_error(void)
{
	char err[200] = "";

	/* RFC 6761 section 6.4: .invalid never resolves. */
	CHECK_EQ_INT(net_connect("nonexistent.invalid", "443", net_deadline_in(2000), err, sizeof(err)),
	             NET_ERESOLVE);
	CHECK(strncmp(err, "resolve nonexistent.invalid: ", 29) == 0);
}

static void test_deadline_helpers(void)
{
	int64_t a = net_now_ms(), d = net_deadline_in(1000);
	int sv[2];

	CHECK(a > 0);
	CHECK(d - a >= 1000 && d - a < 1100);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_EQ_INT(net_wait(sv[0], POLLOUT, net_deadline_in(1000)), 0);
	CHECK_EQ_INT(net_wait(sv[0], POLLIN, net_deadline_in(50)), NET_ETIMEOUT);
	CHECK_EQ_INT(write(sv[1], "x", 1), 1);
	CHECK_EQ_INT(net_wait(sv[0], POLLIN, net_deadline_in(1000)), 0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	test_ip_literal();
	test_loopback();
	test_deadline_helpers();
	test_connect_refused();
	test_connect_ok_and_io();
	test_connect_deadline();
	test_write_to_closed_peer();
	test_resolve_error();
	return UNIT_DONE();
}
