/*
 * net: monotonic time, deadlines and non-blocking TCP connect.
 *
 * Every wait in the program is bounded by an absolute deadline in milliseconds on the
 * monotonic clock (net_now_ms()), so a stalled peer can never hang a run. Nothing here
 * allocates. Functions return 0 (or a count) on success and a negative NET_E* code on
 * failure, with a one-line message written to the caller's err buffer.
 */
#ifndef NET_H
#define NET_H

#include <stddef.h>
#include <stdint.h>

enum {
	NET_EIO = -1,       /* socket error, connection reset */
	NET_ETIMEOUT = -2,  /* the deadline passed */
	NET_ERESOLVE = -3,  /* getaddrinfo failed */
	NET_ECONNECT = -4,  /* every address refused or failed */
};

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t net_now_ms(void);

/* Deadline helper: now + ms. */
int64_t net_deadline_in(int64_t ms);

/*
 * Waits until fd is ready for events (POLLIN / POLLOUT) or the deadline passes.
 * Returns 0 when ready, NET_ETIMEOUT, or NET_EIO (poll error; errno kept).
 */
int net_wait(int fd, short events, int64_t deadline_ms);

/*
 * Resolves host (a name, an IPv4 literal, or an IPv6 literal without brackets) with
 * getaddrinfo and tries every address in turn with a non-blocking connect, each bounded by
 * the deadline (an address other than the last by half the time left). On success returns a connected non-blocking socket (>= 0) with TCP_NODELAY
 * set. On failure returns a NET_E* code and fills err ("connect 10.0.0.1:443: Connection
 * refused", "resolve example.invalid: Name does not resolve", ...).
 */
int net_connect(const char *host, const char *port, int64_t deadline_ms, char *err, size_t errlen);

/*
 * Plain socket I/O bounded by the deadline. net_write_all writes every byte or fails;
 * net_read returns bytes read (> 0), 0 at end of stream, or a NET_E* code.
 */
int net_write_all(int fd, const void *buf, size_t len, int64_t deadline_ms, char *err, size_t errlen);
long net_read(int fd, void *buf, size_t len, int64_t deadline_ms, char *err, size_t errlen);

/* 1 when host is an IPv4 or IPv6 literal (no brackets), else 0. */
int net_is_ip_literal(const char *host);

/* 1 when host names this machine without any lookup: an IPv4 literal in 127.0.0.0/8,
 * ::1 or ::ffff:127.x.y.z (no brackets), or "localhost" (RFC 6761 6.3). */
int net_host_is_loopback(const char *host);

#endif
