/*
 * jscan: a pull scanner over one JSON text in memory (RFC 8259), for answers too large to
 * parse into a tree. The list of 1,000 Secrets' metadata is 0.9 MB: as a cJSON tree that is
 * 40,000 allocations, 5 MiB and 28 ms; walked here it allocates nothing and takes a few
 * milliseconds. The caller walks what it needs and skips the rest; skipped values are
 * still checked to be well-formed, and nesting is bounded.
 *
 * Use:
 *
 *	jscan_init(&s, text, len);
 *	if (jscan_object(&s)) {
 *		while (jscan_member(&s, key, sizeof key) == 1) {
 *			if (strcmp(key, "items") == 0) ... else jscan_skip(&s);
 *		}
 *	}
 *	ok = jscan_end(&s);     (0 when anything failed, or more than whitespace follows)
 *
 * Once something fails, every call fails (s.failed), so a walk can check once at the end.
 * Strings are decoded (escapes, \u with surrogate pairs to UTF-8) and NUL-terminated;
 * like cJSON's valuestring, a \u0000 ends the C string early.
 */
#ifndef JSCAN_H
#define JSCAN_H

#include <stddef.h>

#define JSCAN_MAX_DEPTH 128

struct jscan {
	const char *p, *end;
	int depth;
	int failed;
	unsigned char more[JSCAN_MAX_DEPTH]; /* a member or element was read at this depth */
};

enum jscan_type {
	JSCAN_NONE,             /* failed, or nothing left */
	JSCAN_OBJECT,
	JSCAN_ARRAY,
	JSCAN_STRING,
	JSCAN_NUMBER,
	JSCAN_LITERAL,          /* true, false, null */
};

void jscan_init(struct jscan *s, const char *text, size_t len);

/* The type of the next value, not consumed. */
enum jscan_type jscan_peek(struct jscan *s);

/* Enters the object (or array) that comes next: 1, or 0 when the next value is something
 * else, which is then skipped (not a failure: the caller treats it as absent). */
int jscan_object(struct jscan *s);
int jscan_array(struct jscan *s);

/*
 * In an entered object: 1 with the next member's key decoded into key (a key that does not
 * fit is truncated to "" so it matches nothing), the scanner before its value, which the
 * caller reads or skips; 0 after the closing brace; -1 on malformed input.
 */
int jscan_member(struct jscan *s, char *key, size_t size);

/* In an entered array: 1 before the next element, 0 after the closing bracket, -1. */
int jscan_element(struct jscan *s);

/*
 * The string that comes next, decoded into out[0..size) and NUL-terminated: the length of
 * that C string (up to a NUL it holds), or -1 on malformed input (failed), -2 when the
 * value is not a string and -3 when it does not fit (both skipped, not failures; out is
 * then "").
 */
long jscan_string(struct jscan *s, char *out, size_t size);

/* The number of bytes the next string, decoded, needs at most (its raw length + 1), or 0
 * when the next value is not a string. For heap copies of long strings. */
size_t jscan_string_bound(struct jscan *s);

/* Skips the next value, checking it is well-formed: 0, or -1 (failed). */
int jscan_skip(struct jscan *s);

/* 1 when nothing failed and only whitespace is left. */
int jscan_end(struct jscan *s);

#endif
