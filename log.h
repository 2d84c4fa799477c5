/*
 * log: one line per event on stderr, JSON objects by default ({"ts","level","msg",...}),
 * or "TS LEVEL msg key=value ..." for people (--log-format text). Thread safe: each line
 * goes out in one write().
 *
 * No secret is ever passed here. As a second guard, every value registered with
 * log_register_secret is replaced by "[REDACTED]" wherever it would appear in a line.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* A line longer than this (newline included) is cut at a character boundary and still
 * closed properly, marked "truncated":true (text: truncated=true). Only the redaction of a
 * secret that spans two fields can lengthen it afterwards. */
#define LOG_LINE_MAX 8192

enum log_format { LOG_JSON, LOG_TEXT };

/* Before any call: JSON lines, LOG_INFO and up. */
void log_setup(enum log_format format, enum log_level min_level);

/* 1 when lines at level are written. */
int log_enabled(enum log_level level);

/*
 * Writes one line: msg, then key/value string pairs ending with a NULL key. A key that
 * starts with '#' marks a numeric value written without quotes (the '#' is dropped; a value
 * that is no JSON number is written as a string), a NULL value is written as null, e.g.
 *   log_event(LOG_INFO, "secret applied", "namespace", ns, "result", "created", NULL);
 *   log_event(LOG_INFO, "done", "#namespaces", "30", "#seconds", "0.412", NULL);
 */
void log_event(enum log_level level, const char *msg, ...);

/* Registers a secret value (at least 4 bytes; shorter ones are ignored) to be redacted
 * from every later line. The pointer must stay valid until log_forget_secrets(); the value
 * may be wiped before that. At most 64 are kept. */
void log_register_secret(const char *value);
void log_forget_secrets(void);

/* Forgets one registered secret (by pointer), so its owner may wipe and free it. */
void log_forget_secret(const char *value);

/*
 * Peer text (an error message or reason a server sent) made fit for a log line, into out
 * (always NUL-terminated when size > 0). A peer may echo what we sent it, whole or cut, so
 * before anything is copied:
 *   - every run of 8 or more bytes that also occurs in a registered secret,
 *   - every token-like run: at least LOG_PEER_TOKEN_RUN characters of the base64, base64url
 *     and hex alphabets ([A-Za-z0-9+/=_-]) holding a digit, or twice that long without one,
 *     unless it is exactly a name registered with log_register_name,
 * becomes "[REDACTED]"; control bytes become spaces. Only the first LOG_PEER_TEXT_SCAN input
 * bytes are read and at most LOG_PEER_TEXT_MAX bytes written (cut text ends in "...").
 * Returns 0 when out is text verbatim, 1 when something was replaced or cut.
 */
/* A name this run sends (a namespace, the Secret's, a ServiceAccount's): peer text that
 * quotes it whole keeps it, though it looks like a token ("payments-2024-prod-eu"). A
 * secret piece inside it is still hidden. Copied once (registering again is a no-op);
 * log_forget_names frees them. */
void log_register_name(const char *name);
void log_forget_names(void);

#define LOG_PEER_TEXT_MAX  200
#define LOG_PEER_TEXT_SCAN 1024
#define LOG_PEER_TOKEN_RUN 20
#define LOG_PEER_SECRET_PIECE 8
int log_peer_text(char *out, size_t size, const char *text, size_t len);

#endif
