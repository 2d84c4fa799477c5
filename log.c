/*
 * log: composes each line under one mutex into a static buffer and sends it with one
 * write(2) to fd 2, so lines from worker threads never interleave.
 *
 * Redaction happens twice. While a string is escaped, a registered secret found at the
 * current position of the raw input is replaced as a whole before any of its bytes are
 * written (so neither an escaped form nor a prefix cut by truncation gets out). The
 * composed line is then searched again, for a secret that only appears once the fields are
 * put together or escaped (text "key=value", or "\u0001..." that happens to be a secret).
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"

#define MAX_SECRETS 64
#define MIN_SECRET 4
#define REDACTED "[REDACTED]"
#define REDACTED_LEN (sizeof REDACTED - 1)
/* Room kept free for closing a cut line: "\"" ",\"truncated\":true" "}" "\n" */
#define CLOSE_RESERVE 32

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_format log_format = LOG_JSON;
static enum log_level log_min_level = LOG_INFO;

static const char *secrets[MAX_SECRETS];
static size_t secret_count;
/* Lengths measured once per line: a caller may wipe a secret before forgetting it. */
static size_t secret_len[MAX_SECRETS];

static char line_buf[LOG_LINE_MAX];
/* The second pass replaces secrets of at least MIN_SECRET bytes by REDACTED_LEN bytes. */
static char guarded_buf[LOG_LINE_MAX / MIN_SECRET * REDACTED_LEN + 1];

void log_setup(enum log_format format, enum log_level min_level)
{
	pthread_mutex_lock(&log_lock);
	log_format = format;
	log_min_level = min_level;
	pthread_mutex_unlock(&log_lock);
}

int log_enabled(enum log_level level)
{
	int enabled;

	pthread_mutex_lock(&log_lock);
	enabled = level >= log_min_level;
	pthread_mutex_unlock(&log_lock);
	return enabled;
}

void log_register_secret(const char *value)
{
	/* A secret shorter than this would blank out ordinary words. */
	if (value == NULL || strlen(value) < MIN_SECRET)
		return;
	pthread_mutex_lock(&log_lock);
	if (secret_count < MAX_SECRETS)
		secrets[secret_count++] = value;
	pthread_mutex_unlock(&log_lock);
}

void log_forget_secret(const char *value)
{
	size_t i;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < secret_count; i++) {
		if (secrets[i] == value) {
			memmove(&secrets[i], &secrets[i + 1], (secret_count - i - 1) * sizeof secrets[0]);
			secrets[--secret_count] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
}

void log_forget_secrets(void)
{
	pthread_mutex_lock(&log_lock);
	memset(secrets, 0, sizeof secrets);
	secret_count = 0;
	pthread_mutex_unlock(&log_lock);
}

/* ---- names this run sends ------------------------------------------------------------ */

static char **names;                    /* sorted, no two alike */
static size_t name_count, name_cap;

/* Where text[0..len) is or would go in names; *found when it is there (caller holds
 * log_lock). */
static size_t name_slot(const char *text, size_t len, int *found)
{
	size_t lo = 0, hi = name_count;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(names[mid], text, len);

		if (c == 0 && names[mid][len] != '\0')
			c = 1;          /* names[mid] is longer: after text */
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void log_register_name(const char *name)
{
	size_t at;
	int found;
	char *copy, **grown;

	if (!name || !*name)
		return;
	pthread_mutex_lock(&log_lock);
	at = name_slot(name, strlen(name), &found);
	if (found)
		goto out;
	if (!(grown = grow_room(names, &name_cap, name_count, sizeof *names, 16)))
		goto out;       /* then the name may show as [REDACTED]: safe */
	names = grown;
	if ((copy = strdup(name)) != NULL) {
		memmove(names + at + 1, names + at, (name_count - at) * sizeof *names);
		names[at] = copy;
		name_count++;
	}
out:
	pthread_mutex_unlock(&log_lock);
}

void log_forget_names(void)
{
	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < name_count; i++)
		free(names[i]);
	free(names);
	names = NULL;
	name_count = name_cap = 0;
	pthread_mutex_unlock(&log_lock);
}

/* 1 when text[0..len) is a registered name (caller holds log_lock). */
static int is_sent_name(const char *text, size_t len)
{
	int found;

	name_slot(text, len, &found);
	return found;
}

/* Length of the longest registered secret that s (NUL-terminated) starts with, or 0. */
static size_t secret_at(const char *s)
{
	size_t best = 0;

	for (size_t i = 0; i < secret_count; i++)
		if (secret_len[i] > best && s[0] == secrets[i][0] && strncmp(s, secrets[i], secret_len[i]) == 0)
			best = secret_len[i];
	return best;
}

/* ---- peer text ------------------------------------------------------------------------------- */

static int is_token_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/' || c == '=' || c == '_' || c == '-';
}

/* 1 when the LOG_PEER_SECRET_PIECE bytes at piece occur in secret. */
static int holds_piece(const char *secret, const char *piece)
{
	for (const char *p = secret; (p = strchr(p, piece[0])) != NULL; p++) {
		if (strncmp(p, piece, LOG_PEER_SECRET_PIECE) == 0)
			return 1;
	}
	return 0;
}

/* Marks in hide[] the bytes of text that lie in a piece of a registered secret (caller
 * holds log_lock). */
static void mark_secret_pieces(const char *text, size_t len, unsigned char *hide)
{
	char piece[LOG_PEER_SECRET_PIECE + 1];

	for (size_t i = 0; i + LOG_PEER_SECRET_PIECE <= len; i++) {
		memcpy(piece, text + i, LOG_PEER_SECRET_PIECE);
		piece[LOG_PEER_SECRET_PIECE] = '\0';
		if (strlen(piece) < LOG_PEER_SECRET_PIECE)
			continue;   /* a NUL inside: no secret holds one */
		for (size_t k = 0; k < secret_count; k++) {
			if (holds_piece(secrets[k], piece)) {
				memset(hide + i, 1, LOG_PEER_SECRET_PIECE);
				break;
			}
		}
	}
}

/* Marks in hide[] every token-like run (see log.h) that is not a name we sent (caller
 * holds log_lock). */
static void mark_token_runs(const char *text, size_t len, unsigned char *hide)
{
	size_t start = 0;
	int digit = 0;

	for (size_t i = 0; i <= len; i++) {
		int c = i < len ? (unsigned char)text[i] : 0;

		if (i < len && is_token_char(c)) {
			digit |= c >= '0' && c <= '9';
			continue;
		}
		if (i - start >= (digit ? LOG_PEER_TOKEN_RUN : 2 * LOG_PEER_TOKEN_RUN) &&
		    !is_sent_name(text + start, i - start))
			memset(hide + start, 1, i - start);
		start = i + 1;
		digit = 0;
	}
}

int log_peer_text(char *out, size_t size, const char *text, size_t len)
{
	unsigned char hide[LOG_PEER_TEXT_SCAN];
	size_t cap = size > LOG_PEER_TEXT_MAX ? LOG_PEER_TEXT_MAX : size ? size - 1 : 0;
	size_t o = 0, i = 0;
	int cut = len > LOG_PEER_TEXT_SCAN, changed = cut;

	if (size == 0)
		return 1;
	if (text == NULL)
		len = 0;
	if (len > LOG_PEER_TEXT_SCAN)
		len = LOG_PEER_TEXT_SCAN;
	memset(hide, 0, len);
	pthread_mutex_lock(&log_lock);
	mark_secret_pieces(text, len, hide);
	mark_token_runs(text, len, hide);
	pthread_mutex_unlock(&log_lock);
	while (i < len) {
		if (hide[i]) {
			while (i < len && hide[i])
				i++;
			changed = 1;
			if (o + REDACTED_LEN > cap)
				break;
			memcpy(out + o, REDACTED, REDACTED_LEN);
			o += REDACTED_LEN;
			continue;
		}
		if (o + 1 > cap)
			break;
		out[o++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
		changed |= out[o - 1] != text[i];
		i++;
	}
	if (i < len || cut) {
		changed = 1;
		while (o > 0 && o + 3 > cap)
			o--;
		if (o + 3 <= cap) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	return changed;
}

/* ---- the line being composed -------------------------------------------------------------- */

struct line {
	char *buf;
	size_t len;
	size_t limit;     /* content stops here; the CLOSE_RESERVE bytes after it close the line */
	int truncated;
};

/* Appends all n bytes or, when they do not fit, nothing and marks the line cut. */
static int put(struct line *l, const char *s, size_t n)
{
	if (l->truncated || n > l->limit - l->len) {
		l->truncated = 1;
		return -1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return 0;
}

/* For the closing bytes, which CLOSE_RESERVE keeps room for. */
static void put_closing(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n <= LOG_LINE_MAX - 1 - l->len) {
		memcpy(l->buf + l->len, s, n);
		l->len += n;
	}
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Appends s escaped for a JSON string (RFC 8259 section 7), one character at a time, and
 * stops at the first that does not fit. With quoted == 0 (the msg of a text line) only
 * control characters are escaped. Invalid UTF-8 bytes become U+FFFD each.
 */
static int put_escaped(struct line *l, const char *s, int quoted)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		char unit[8];
		size_t n, advance = 1, secret = secret_at((const char *)p);

		if (secret) {
			if (put(l, REDACTED, REDACTED_LEN))
				return -1;
			p += secret;
			continue;
		}
		if (*p >= 0x80) {
			size_t seq = utf8_sequence(p);

			/* A secret starting inside a sequence must not lose its first bytes to it. */
			for (size_t i = 1; i < seq; i++)
				if (secret_at((const char *)p + i))
					seq = 0;
			if (seq) {
				memcpy(unit, p, seq);
				n = advance = seq;
			} else {
				memcpy(unit, "\xef\xbf\xbd", 3);
				n = 3;
			}
		} else if (quoted && (*p == '"' || *p == '\\')) {
			unit[0] = '\\';
			unit[1] = (char)*p;
			n = 2;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			unit[0] = '\\';
			unit[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
			n = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(unit, "\\u00", 4);
			unit[4] = hex[*p >> 4];
			unit[5] = hex[*p & 15];
			n = 6;
		} else {
			unit[0] = (char)*p;
			n = 1;
		}
		if (put(l, unit, n))
			return -1;
		p += advance;
	}
	return 0;
}

/* RFC 8259 section 6 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static int holds_secret(const char *s)
{
	for (; *s; s++)
		if (secret_at(s))
			return 1;
	return 0;
}

/* A text value goes in quotes when it would otherwise be ambiguous: empty, or holding a
 * blank, '=', '"', '\' or a control character. */
static int text_needs_quotes(const char *s)
{
	if (*s == '\0')
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '=' || *p == '\\')
			return 1;
	return 0;
}

/* RFC 3339 section 5.6 date-time in UTC, milliseconds: 2026-11-29T10:00:00.123Z */
static void put_timestamp(struct line *l)
{
	struct timespec now;
	struct tm tm;
	char ts[40];
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &tm) == NULL) {
		put(l, "1970-01-01T00:00:00.000Z", 24);
		return;
	}
	n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(now.tv_nsec / 1000000 % 1000));
	put(l, ts, strlen(ts));
}

static void compose_json(struct line *l, const char *level, const char *msg, va_list ap)
{
	const char *key;

	put(l, "{\"ts\":\"", 7);
	put_timestamp(l);
	put(l, "\",\"level\":\"", 11);
	put(l, level, strlen(level));
	put(l, "\",\"msg\":\"", 9);
	put_escaped(l, msg ? msg : "", 1);
	put_closing(l, "\"");
	while (!l->truncated && (key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		size_t mark = l->len;
		int numeric = key[0] == '#';

		if (numeric)
			key++;
		if (put(l, ",\"", 2) || put_escaped(l, key, 1) || put(l, "\":", 2)) {
			l->len = mark;
			break;
		}
		if (value == NULL) {
			if (put(l, "null", 4))
				l->len = mark;
		} else if (numeric && is_json_number(value) && !holds_secret(value)) {
			if (put(l, value, strlen(value)))
				l->len = mark;
		} else {
			/* A long value is kept cut rather than dropped: its start says most. */
			if (put(l, "\"", 1)) {
				l->len = mark;
				break;
			}
			put_escaped(l, value, 1);
			put_closing(l, "\"");
		}
	}
	if (l->truncated)
		put_closing(l, ",\"truncated\":true");
	put_closing(l, "}");
}

static void compose_text(struct line *l, const char *level, const char *msg, va_list ap)
{
	const char *key;

	put_timestamp(l);
	put(l, " ", 1);
	put(l, level, strlen(level));
	put(l, " ", 1);
	put_escaped(l, msg ? msg : "", 0);
	while (!l->truncated && (key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		size_t mark = l->len;

		if (key[0] == '#')
			key++;
		if (put(l, " ", 1) || put_escaped(l, key, 1) || put(l, "=", 1)) {
			l->len = mark;
			break;
		}
		if (value == NULL) {
			if (put(l, "null", 4))
				l->len = mark;
		} else if (!text_needs_quotes(value)) {
			put_escaped(l, value, 1);
		} else {
			if (put(l, "\"", 1)) {
				l->len = mark;
				break;
			}
			put_escaped(l, value, 1);
			put_closing(l, "\"");
		}
	}
	if (l->truncated)
		put_closing(l, " truncated=true");
}

/* Second redaction pass over the composed line; returns the text to write. */
static char *guard_line(char *line, size_t *len)
{
	size_t in = 0, out = 0;
	int changed = 0;

	while (in < *len) {
		size_t secret = secret_at(line + in);

		if (secret) {
			memcpy(guarded_buf + out, REDACTED, REDACTED_LEN);
			out += REDACTED_LEN;
			in += secret;
			changed = 1;
		} else {
			guarded_buf[out++] = line[in++];
		}
	}
	if (!changed)
		return line;
	*len = out;
	return guarded_buf;
}

static void write_line(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void log_event(enum log_level level, const char *msg, ...)
{
	static const char *const json_levels[] = { "debug", "info", "warn", "error" };
	static const char *const text_levels[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	struct line l = { line_buf, 0, LOG_LINE_MAX - CLOSE_RESERVE, 0 };
	int saved_errno = errno;
	int index = (int)level;
	char *out;
	size_t len;
	va_list ap;

	if (index < LOG_DEBUG || index > LOG_ERROR)
		index = LOG_ERROR;
	pthread_mutex_lock(&log_lock);
	if (index < (int)log_min_level) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	for (size_t i = 0; i < secret_count; i++) {
		secret_len[i] = strlen(secrets[i]);
		if (secret_len[i] < MIN_SECRET)
			secret_len[i] = 0;
	}
	va_start(ap, msg);
	if (log_format == LOG_TEXT)
		compose_text(&l, text_levels[index], msg, ap);
	else
		compose_json(&l, json_levels[index], msg, ap);
	va_end(ap);
	/* guard_line reads a NUL-terminated line: secret_at may look past a match start. */
	line_buf[l.len] = '\0';
	len = l.len;
	out = guard_line(line_buf, &len);
	/* Both buffers have room for the newline: line_buf past LOG_LINE_MAX - 1, guarded_buf
	 * by its sizing. */
	out[len++] = '\n';
	write_line(out, len);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}
