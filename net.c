/*
 * net: monotonic deadlines, poll-based waits and non-blocking TCP connect; see net.h.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t net_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; a wall-clock step must never move a deadline. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t net_deadline_in(int64_t ms)
{
	return net_now_ms() + ms;
}

int net_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd;

	for (;;) {
		int64_t left = deadline_ms - net_now_ms();
		int rc;

		if (left <= 0)
			return NET_ETIMEOUT;
		if (left > 60000)
			left = 60000;   /* keeps the int timeout in range; the loop re-checks */
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return NET_EIO;
		}
		if (rc == 0)
			continue;
		/* POLLHUP/POLLERR count as ready: the following read/write reports the cause. */
		return 0;
	}
}

int net_is_ip_literal(const char *host)
{
	unsigned char addr[16];

	if (host == NULL)
		return 0;
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* "127.0.0.1:443" or "[::1]:443" for messages. */
static void format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)) == NULL)
			snprintf(ip, sizeof(ip), "?");
		snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		if (inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)) == NULL)
			snprintf(ip, sizeof(ip), "?");
		snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	}
}

/*
 * One non-blocking connect attempt. Returns the socket, or a NET_E* code with err filled.
 */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, char *err, size_t errlen)
{
	char where[INET6_ADDRSTRLEN + 16];
	int fd, flags, rc, soerr = 0, one = 1;
	socklen_t slen = sizeof(soerr);

	format_addr(ai->ai_addr, where, sizeof(where));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		snprintf(err, errlen, "connect %s: socket: %s", where, strerror(errno));
		return NET_ECONNECT;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "connect %s: fcntl: %s", where, strerror(errno));
		close(fd);
		return NET_ECONNECT;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
		snprintf(err, errlen, "connect %s: %s", where, strerror(errno));
		close(fd);
		return NET_ECONNECT;
	}
	if (rc < 0) {
		rc = net_wait(fd, POLLOUT, deadline_ms);
		if (rc == NET_ETIMEOUT) {
			snprintf(err, errlen, "connect %s: timed out", where);
			close(fd);
			return NET_ETIMEOUT;
		}
		if (rc < 0) {
			snprintf(err, errlen, "connect %s: poll: %s", where, strerror(errno));
			close(fd);
			return NET_ECONNECT;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
			soerr = errno;
		if (soerr != 0) {
			snprintf(err, errlen, "connect %s: %s", where, strerror(soerr));
			close(fd);
			return NET_ECONNECT;
		}
	}
	/* Requests are written whole and answered at once: Nagle would only add latency. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int net_connect(const char *host, const char *port, int64_t deadline_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, fd = NET_ECONNECT;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if (net_is_ip_literal(host))
		hints.ai_flags |= AI_NUMERICHOST;
	hints.ai_flags |= AI_NUMERICSERV;
	/* getaddrinfo has no timeout of its own; the resolver's own limits bound it. */
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		if (rc == EAI_SYSTEM)
			snprintf(err, errlen, "resolve %s: %s", host, strerror(errno));
		else
			snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rc));
		return NET_ERESOLVE;
	}
	if (res == NULL) {
		snprintf(err, errlen, "resolve %s: no address", host);
		return NET_ERESOLVE;
	}
	/* Every address in turn; the message that stays is the last attempt's. An address
	 * that is not the last gets at most half the time left, so one black-holed address
	 * (IPv6 without a route, say) cannot use up the whole deadline. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int64_t now = net_now_ms(), until = deadline_ms;

		if (now >= deadline_ms) {
			if (fd != NET_ETIMEOUT)
				snprintf(err, errlen, "connect %s port %s: timed out", host, port);
			fd = NET_ETIMEOUT;
			break;
		}
		if (ai->ai_next != NULL)
			until = now + (deadline_ms - now + 1) / 2;
		fd = connect_one(ai, until, err, errlen);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int net_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms, char *err, size_t errlen)
{
	const unsigned char *p = buf;

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that went away is an error to report, not SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = net_wait(fd, POLLOUT, deadline_ms);

			if (rc == NET_ETIMEOUT) {
				snprintf(err, errlen, "write: timed out");
				return NET_ETIMEOUT;
			}
			if (rc < 0) {
				snprintf(err, errlen, "write: poll: %s", strerror(errno));
				return NET_EIO;
			}
			continue;
		}
		snprintf(err, errlen, "write: %s", n < 0 ? strerror(errno) : "connection closed");
		return NET_EIO;
	}
	return 0;
}

long net_read(int fd, void *buf, size_t len, int64_t deadline_ms, char *err, size_t errlen)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n >= 0)
			return (long)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = net_wait(fd, POLLIN, deadline_ms);

			if (rc == NET_ETIMEOUT) {
				snprintf(err, errlen, "read: timed out");
				return NET_ETIMEOUT;
			}
			if (rc < 0) {
				snprintf(err, errlen, "read: poll: %s", strerror(errno));
				return NET_EIO;
			}
			continue;
		}
		snprintf(err, errlen, "read: %s", strerror(errno));
		return NET_EIO;
	}
}

int net_host_is_loopback(const char *host)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct in_addr v4;
	struct in6_addr v6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return ((const unsigned char *)&v4)[0] == 127;
	if (inet_pton(AF_INET6, host, &v6) != 1)
		return 0;
	if (memcmp(&v6, &in6addr_loopback, sizeof v6) == 0)
		return 1;
	return memcmp(&v6, mapped, sizeof mapped) == 0 && v6.s6_addr[12] == 127;
}
