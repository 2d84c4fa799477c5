/*
 * files: bounded small-file reads; see files.h.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void describe(char *err, size_t errlen, const char *label, const char *path, const char *what)
{
	snprintf(err, errlen, "%s%s%s: %s", label, *label ? " " : "", path, what);
}

/* Opens path for a bounded read: a regular file of at most cap bytes. Returns the
 * descriptor and its size, or a FILES_E* code with err. */
static int open_regular(const char *label, const char *path, size_t cap, size_t *size, char *err,
                        size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		describe(err, errlen, label, path, strerror(errno));
		return errno == ENOENT ? FILES_ENOENT : FILES_EIO;
	}
	if (fstat(fd, &st) != 0) {
		describe(err, errlen, label, path, strerror(errno));
		close(fd);
		return FILES_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		describe(err, errlen, label, path, "not a regular file");
		close(fd);
		return FILES_EBAD;
	}
	if ((unsigned long long)st.st_size > cap) {
		snprintf(err, errlen, "%s%s%s: larger than %zu bytes", label, *label ? " " : "", path, cap);
		close(fd);
		return FILES_EBAD;
	}
	*size = (size_t)st.st_size;
	return fd;
}

/* Reads at most cap + 1 bytes (a file may grow after fstat). Returns the length, or a
 * FILES_E* code with err and buf wiped. */
static long read_bounded(int fd, const char *label, const char *path, char *buf, size_t cap, char *err,
                         size_t errlen)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			describe(err, errlen, label, path, strerror(errno));
			explicit_bzero(buf, len);
			return FILES_EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap) {
			snprintf(err, errlen, "%s%s%s: larger than %zu bytes", label, *label ? " " : "", path, cap);
			explicit_bzero(buf, len);
			return FILES_EBAD;
		}
	}
	buf[len] = '\0';
	return (long)len;
}

long files_read(const char *label, const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
	size_t size;
	long n;
	int fd = open_regular(label, path, cap, &size, err, errlen);

	if (fd < 0)
		return fd;
	n = read_bounded(fd, label, path, buf, cap, err, errlen);
	close(fd);
	return n;
}

long files_read_alloc(const char *label, const char *path, size_t cap, char **out, char *err,
                      size_t errlen)
{
	size_t size;
	long n;
	char *buf;
	int fd = open_regular(label, path, cap, &size, err, errlen);

	*out = NULL;
	if (fd < 0)
		return fd;
	/* room for what fstat saw, and one byte more to notice a file that grew */
	buf = malloc(size + 2);
	if (!buf) {
		describe(err, errlen, label, path, "out of memory");
		close(fd);
		return FILES_EIO;
	}
	n = read_bounded(fd, label, path, buf, size, err, errlen);
	close(fd);
	if (n == FILES_EBAD && size < cap) {
		describe(err, errlen, label, path, "changed while read");
		n = FILES_EIO;
	}
	if (n < 0) {
		free(buf);
		return n;
	}
	*out = buf;
	return n;
}

int files_check(const char *label, const char *path, size_t cap, char *err, size_t errlen)
{
	size_t size;
	int fd = open_regular(label, path, cap, &size, err, errlen);

	if (fd >= 0)
		close(fd);
	return fd == FILES_EBAD ? FILES_EBAD : 0;
}

size_t files_trim(char *s, size_t len)
{
	size_t start = 0;

	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (start < len && (s[start] == ' ' || s[start] == '\t' || s[start] == '\n' || s[start] == '\r'))
		start++;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
	return len - start;
}
