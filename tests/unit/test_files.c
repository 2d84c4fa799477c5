/*
 * test_files: bounded reads refuse what is not a regular file (a FIFO with no writer must
 * not block, /dev/zero must not spin), stop at the cap, and name the file when they fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "unit.h"

static char dir[] = "/tmp/test_files.XXXXXX";

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof path, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ_INT(fwrite(text, 1, len, f), len);
		fclose(f);
	}
}

static void test_regular(void)
{
	char path[256], buf[17], err[256], *heap;
	long n;

	write_file("ok", "hello\n", 6);
	path_of(path, sizeof path, "ok");
	CHECK_EQ_INT(files_read("X", path, buf, 16, err, sizeof err), 6);
	CHECK_EQ_STR(buf, "hello\n");
	CHECK_EQ_INT(files_read_alloc("X", path, 16, &heap, err, sizeof err), 6);
	CHECK_EQ_STR(heap, "hello\n");
	free(heap);
	CHECK_EQ_INT(files_check("X", path, 16, err, sizeof err), 0);

	/* exactly the cap is fine, one byte more is not */
	write_file("sixteen", "0123456789abcdef", 16);
	path_of(path, sizeof path, "sixteen");
	CHECK_EQ_INT(files_read("X", path, buf, 16, err, sizeof err), 16);
	CHECK_EQ_INT(files_read("X", path, buf, 15, err, sizeof err), FILES_EBAD);
	{
		char want[300];

		snprintf(want, sizeof want, "X %s: larger than 15 bytes", path);
		CHECK_EQ_STR(err, want);
	}
	CHECK_EQ_INT(files_read_alloc("X", path, 15, &heap, err, sizeof err), FILES_EBAD);
	CHECK(heap == NULL);
	CHECK_EQ_INT(files_check("X", path, 15, err, sizeof err), FILES_EBAD);

	write_file("empty", "", 0);
	path_of(path, sizeof path, "empty");
	CHECK_EQ_INT(files_read("X", path, buf, 16, err, sizeof err), 0);
	CHECK_EQ_STR(buf, "");
	n = files_read_alloc("", path, 16, &heap, err, sizeof err);
	CHECK_EQ_INT(n, 0);
	CHECK(heap && heap[0] == '\0');
	free(heap);
}

static void test_not_regular(void)
{
	char path[256], buf[17], err[256], want[300], *heap;

	/* a FIFO nobody writes to: refused at once instead of blocking */
	path_of(path, sizeof path, "fifo");
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK_EQ_INT(files_read("SSL_CERT_FILE", path, buf, 16, err, sizeof err), FILES_EBAD);
	snprintf(want, sizeof want, "SSL_CERT_FILE %s: not a regular file", path);
	CHECK_EQ_STR(err, want);
	CHECK_EQ_INT(files_check("SSL_CERT_FILE", path, 16, err, sizeof err), FILES_EBAD);
	CHECK_EQ_INT(files_read_alloc("", path, 16, &heap, err, sizeof err), FILES_EBAD);
	snprintf(want, sizeof want, "%s: not a regular file", path);
	CHECK_EQ_STR(err, want);

	/* an endless device */
	CHECK_EQ_INT(files_read("AWS_CA_BUNDLE", "/dev/zero", buf, 16, err, sizeof err), FILES_EBAD);
	CHECK_EQ_STR(err, "AWS_CA_BUNDLE /dev/zero: not a regular file");
	CHECK_EQ_INT(files_check("AWS_CA_BUNDLE", "/dev/zero", FILES_PEM_MAX, err, sizeof err), FILES_EBAD);

	/* a directory */
	CHECK_EQ_INT(files_read("X", dir, buf, 16, err, sizeof err), FILES_EBAD);
	snprintf(want, sizeof want, "X %s: not a regular file", dir);
	CHECK_EQ_STR(err, want);
}

static void test_missing(void)
{
	char path[256], buf[17], err[256], want[300];

	path_of(path, sizeof path, "nope");
	CHECK_EQ_INT(files_read("X", path, buf, 16, err, sizeof err), FILES_ENOENT);
	snprintf(want, sizeof want, "X %s: No such file or directory", path);
	CHECK_EQ_STR(err, want);
	/* the check leaves a missing file to the read that says so */
	CHECK_EQ_INT(files_check("X", path, 16, err, sizeof err), 0);
}

static void test_trim(void)
{
	char s[32];

	strcpy(s, " \t token\r\n\n");
	CHECK_EQ_INT(files_trim(s, strlen(s)), 5);
	CHECK_EQ_STR(s, "token");
	strcpy(s, "\n\n");
	CHECK_EQ_INT(files_trim(s, strlen(s)), 0);
	CHECK_EQ_STR(s, "");
	strcpy(s, "a b");
	CHECK_EQ_INT(files_trim(s, strlen(s)), 3);
	CHECK_EQ_STR(s, "a b");
}

int main(void)
{
	static const char *const names[] = { "ok", "sixteen", "empty", "fifo" };
	char path[256];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_regular();
	test_not_regular();
	test_missing();
	test_trim();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		path_of(path, sizeof path, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return UNIT_DONE();
}
