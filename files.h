/*
 * files: bounded reads of the small files a run is configured with (ServiceAccount token,
 * ca.crt and namespace, the web identity and container authorization tokens,
 * AWS_CA_BUNDLE, SSL_CERT_FILE). Every file read in the program goes through here.
 *
 * A file is opened O_NONBLOCK (a FIFO must not block the run past its deadline), fstat'ed
 * and refused unless it is a regular file; at most cap + 1 bytes are read, and more than
 * cap bytes is refused. Those two refusals are FILES_EBAD: the configuration names a file
 * that cannot be the right one, a configuration error (exit 2). Messages are one line and
 * name the file: "LABEL PATH: not a regular file" (the label, e.g. "AWS_CA_BUNDLE", may be
 * ""). Nothing is kept open: kubelet swaps projected files behind a ..data symlink.
 */
#ifndef FILES_H
#define FILES_H

#include <stddef.h>

/* Caps per kind of file. */
#define FILES_TOKEN_MAX  16384             /* bearer and identity tokens: a JWT is ~1 KiB */
#define FILES_PEM_MAX    (1024 * 1024)     /* CA bundles: Debian's whole bundle is ~220 KiB */
#define FILES_NAME_MAX   255               /* a namespace file: one DNS label and a newline */

enum {
	FILES_EIO = -1,      /* cannot open or read it (permissions, I/O) */
	FILES_ENOENT = -2,   /* it does not exist */
	FILES_EBAD = -3,     /* not a regular file, or larger than the cap: configuration */
};

/*
 * Reads path whole into buf, which holds cap + 1 bytes (the file and a NUL). Returns the length, or a
 * negative FILES_E* code with err filled (also for FILES_ENOENT). On failure buf holds
 * nothing of the file (wiped).
 */
long files_read(const char *label, const char *path, char *buf, size_t cap, char *err, size_t errlen);

/* The same into a fresh heap buffer of the file's length + 1 (NUL-terminated): *out is
 * the caller's to free. */
long files_read_alloc(const char *label, const char *path, size_t cap, char **out, char *err,
                      size_t errlen);

/* Checks, without reading, that path is a regular file of at most cap bytes. Returns 0
 * (also when it does not exist or cannot be opened: the read will say so), or FILES_EBAD
 * with err (err may be written on 0 too). For the checks made before any network I/O. */
int files_check(const char *label, const char *path, size_t cap, char *err, size_t errlen);

/* Drops leading and trailing spaces, tabs, CR and LF in place; returns the new length. */
size_t files_trim(char *s, size_t len);

#endif
