/*
 * retry: backoff, Retry-After and deadline-bound sleeps; see retry.h.
 */
#include "retry.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

void retry_seed(uint64_t *state, uint64_t salt)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	uint64_t seed = 0;

	if (fd >= 0) {
		if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
			seed = 0;
		close(fd);
	}
	seed ^= (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^ (uint64_t)net_now_ms();
	seed ^= salt * 0xBF58476D1CE4E5B9ULL;
	*state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint32_t retry_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 2685821657736338717ull) >> 32);
}

int64_t retry_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
	int64_t ceiling = base_ms;

	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (int64_t)((uint64_t)rnd * (uint64_t)(ceiling + 1) >> 32);
}

long retry_after_seconds(const char *value, size_t len)
{
	size_t start = 0, end = len, i;
	long seconds = 0;

	if (!value)
		return -1;
	while (start < end && (value[start] == ' ' || value[start] == '\t'))
		start++;
	while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
		end--;
	if (start == end)
		return -1;
	for (i = start; i < end; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -1;
		if (seconds < 86400)
			seconds = seconds * 10 + (value[i] - '0');
	}
	return seconds > 86400 ? 86400 : seconds;
}

int64_t retry_wait_ms(long retry_after_s, long cap_after_s, int64_t backoff_ms)
{
	if (retry_after_s < 0)
		return backoff_ms;
	if (retry_after_s > cap_after_s)
		retry_after_s = cap_after_s;
	return (int64_t)retry_after_s * 1000;
}

int retry_sleep(int64_t wait_ms, int64_t deadline_ms)
{
	int64_t until = net_now_ms() + wait_ms;

	if (until >= deadline_ms)
		return -1;
	for (int64_t left = wait_ms; left > 0; left = until - net_now_ms()) {
		struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };

		if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
			break;
	}
	return 0;
}
