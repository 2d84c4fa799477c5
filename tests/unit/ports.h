/*
 * ports.h: a loopback port that refuses every connection, for the tests of clients that
 * must give up in time.
 */
#ifndef PORTS_H
#define PORTS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Binds a socket to 127.0.0.1 and never listens: connects to its port are refused. Returns
 * the port (0 on failure) with the socket in *fd, which the caller closes. */
static unsigned refusing_port(int *fd)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    getsockname(*fd, (struct sockaddr *)&addr, &len) != 0)
		return 0;
	return ntohs(addr.sin_port);
}

#endif
