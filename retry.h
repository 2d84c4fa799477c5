/*
 * retry: when to try a request again, shared by every client (aws, k8s).
 *
 * Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
 * And Jitter"), a server's Retry-After in delta-seconds (RFC 9110 10.2.3), and a sleep that
 * refuses to wait past the run's deadline. The random numbers are xorshift64*: spread for
 * jitter and session names, no secrecy. No allocation; a state is owned by one thread.
 */
#ifndef RETRY_H
#define RETRY_H

#include <stddef.h>
#include <stdint.h>

/* Seeds *state from /dev/urandom, the clock and the pid, mixed with salt (e.g. a worker's
 * index, so two threads seeded in the same millisecond differ). Never leaves it 0. */
void retry_seed(uint64_t *state, uint64_t salt);

/* The next 32 random bits of *state (which must not be 0). */
uint32_t retry_random(uint64_t *state);

/* Full jitter: rnd scaled into [0, min(cap_ms, base_ms * 2^attempt)] ms; attempt < 0 is 0. */
int64_t retry_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd);

/* Reads a Retry-After header value as delay-seconds (RFC 9110 10.2.3), blanks around it
 * allowed. Returns the seconds (values past one day are clamped to 86400), or -1 when the
 * value is NULL, empty, an HTTP-date, or anything else: the caller then uses its backoff. */
long retry_after_seconds(const char *value, size_t len);

/* What to wait before the next attempt: retry_after_s seconds when >= 0 (cut to
 * cap_after_s), else the backoff. */
int64_t retry_wait_ms(long retry_after_s, long cap_after_s, int64_t backoff_ms);

/* Sleeps wait_ms unless that would end at or past deadline_ms (net_now_ms() based): then
 * returns -1 at once, as there is no time for another attempt. Returns 0 after sleeping. */
int retry_sleep(int64_t wait_ms, int64_t deadline_ms);

#endif
