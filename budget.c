/*
 * budget: see budget.h. The wait uses CLOCK_MONOTONIC, like every deadline of the run.
 */
#include "budget.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "net.h"

int budget_init(struct budget *b, size_t limit)
{
	pthread_condattr_t attr;
	int rc;

	b->limit = limit;
	b->reserved = 0;
	b->taken = 0;
	if (pthread_mutex_init(&b->lock, NULL) != 0)
		return -1;
	if (pthread_condattr_init(&attr) != 0) {
		pthread_mutex_destroy(&b->lock);
		return -1;
	}
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&b->returned, &attr) == 0 ? 0 : -1;
	pthread_condattr_destroy(&attr);
	if (rc < 0)
		pthread_mutex_destroy(&b->lock);
	return rc;
}

void budget_destroy(struct budget *b)
{
	pthread_cond_destroy(&b->returned);
	pthread_mutex_destroy(&b->lock);
}

int budget_reserve(struct budget *b, size_t bytes)
{
	int rc = -1;

	pthread_mutex_lock(&b->lock);
	if (bytes <= b->limit - b->reserved - b->taken) {
		b->reserved += bytes;
		rc = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

void budget_unreserve(struct budget *b, size_t bytes)
{
	pthread_mutex_lock(&b->lock);
	b->reserved -= bytes <= b->reserved ? bytes : b->reserved;
	pthread_cond_broadcast(&b->returned);
	pthread_mutex_unlock(&b->lock);
}

int budget_take(struct budget *b, size_t bytes, int64_t deadline_ms)
{
	struct timespec until;
	int rc = 0;

	until.tv_sec = (time_t)(deadline_ms / 1000);
	until.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
	pthread_mutex_lock(&b->lock);
	while (rc == 0) {
		if (bytes > b->limit - b->reserved) {
			rc = -1;
		} else if (bytes <= b->limit - b->reserved - b->taken) {
			b->taken += bytes;
			break;
		} else if (net_now_ms() >= deadline_ms ||
		           pthread_cond_timedwait(&b->returned, &b->lock, &until) == ETIMEDOUT) {
			rc = -2;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

void budget_give(struct budget *b, size_t bytes)
{
	pthread_mutex_lock(&b->lock);
	b->taken -= bytes <= b->taken ? bytes : b->taken;
	pthread_cond_broadcast(&b->returned);
	pthread_mutex_unlock(&b->lock);
}

/* ---- cJSON's memory ------------------------------------------------------------------- */

#define JSON_HEADER 16   /* keeps the size; 16 keeps malloc's alignment */

static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t json_limit = SIZE_MAX, json_used, json_peak;

static void *json_malloc(size_t size)
{
	unsigned char *p;
	size_t total = size + JSON_HEADER;

	if (size > SIZE_MAX - JSON_HEADER)
		return NULL;
	pthread_mutex_lock(&json_lock);
	if (total > json_limit - json_used) {
		pthread_mutex_unlock(&json_lock);
		return NULL;
	}
	json_used += total;
	if (json_used > json_peak)
		json_peak = json_used;
	pthread_mutex_unlock(&json_lock);
	p = malloc(total);
	if (!p) {
		pthread_mutex_lock(&json_lock);
		json_used -= total;
		pthread_mutex_unlock(&json_lock);
		return NULL;
	}
	memcpy(p, &total, sizeof total);
	return p + JSON_HEADER;
}

static void json_free(void *ptr)
{
	unsigned char *p;
	size_t total;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - JSON_HEADER;
	memcpy(&total, p, sizeof total);
	pthread_mutex_lock(&json_lock);
	json_used -= total;
	pthread_mutex_unlock(&json_lock);
	free(p);
}

void budget_json_install(size_t limit)
{
	cJSON_Hooks hooks = { json_malloc, json_free };

	pthread_mutex_lock(&json_lock);
	json_limit = limit;
	pthread_mutex_unlock(&json_lock);
	cJSON_InitHooks(&hooks);
}

size_t budget_json_peak(void)
{
	size_t peak;

	pthread_mutex_lock(&json_lock);
	peak = json_peak;
	pthread_mutex_unlock(&json_lock);
	return peak;
}
