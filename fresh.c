/*
 * fresh: the freshness decision; see fresh.h.
 */
#include "fresh.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"

/* 1 when host (len bytes) is one of hosts. */
static int host_listed(const char *host, size_t len, const char *const *hosts, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(hosts[i]) == len && memcmp(hosts[i], host, len) == 0)
			return 1;
	return 0;
}

/* Takes the next item of a comma-separated list, blanks trimmed: returns where the rest
 * starts, or NULL when the list is done. */
static const char *next_item(const char *list, const char **item, size_t *len)
{
	const char *end;

	if (!*list)
		return NULL;
	end = strchr(list, ',');
	if (!end)
		end = list + strlen(list);
	*item = list;
	*len = (size_t)(end - list);
	while (*len && (**item == ' ' || **item == '\t'))
		(*item)++, (*len)--;
	while (*len && ((*item)[*len - 1] == ' ' || (*item)[*len - 1] == '\t'))
		(*len)--;
	return *end ? end + 1 : end;
}

int fresh_same_hosts(const char *list, const char *const *hosts, size_t count)
{
	const char *rest = list, *item;
	size_t len;

	while ((rest = next_item(rest, &item, &len)) != NULL)
		if (len == 0 || !host_listed(item, len, hosts, count))
			return 0;
	for (size_t i = 0; i < count; i++) {
		int found = 0;

		for (rest = list; !found && (rest = next_item(rest, &item, &len)) != NULL;)
			found = host_listed(item, len, &hosts[i], 1);
		if (!found)
			return 0;
	}
	return 1;
}

/* "6h0m" style, as --refresh-before was likely written. */
static void format_duration(char *out, size_t size, long seconds)
{
	if (seconds % 60)
		snprintf(out, size, "%ldh%ldm%lds", seconds / 3600, seconds % 3600 / 60, seconds % 60);
	else
		snprintf(out, size, "%ldh%ldm", seconds / 3600, seconds % 3600 / 60);
}

int fresh_decide(const struct k8s_secret_meta *rec, const struct fresh_want *want,
                 char why[FRESH_WHY_SIZE])
{
	long long expires;
	char text[32];

	if (!rec)
		snprintf(why, FRESH_WHY_SIZE, "no secret");
	else if (!rec->labelled)
		snprintf(why, FRESH_WHY_SIZE, "not labelled as managed by ecr-refresh");
	else if (!rec->owns_payload)
		snprintf(why, FRESH_WHY_SIZE, "payload or expiry changed by another field manager");
	else if (want->hosts && (!rec->registries || !fresh_same_hosts(rec->registries, want->hosts, want->host_count)))
		snprintf(why, FRESH_WHY_SIZE, "other registries");
	else if (strcmp(rec->digest, want->digest) != 0)
		snprintf(why, FRESH_WHY_SIZE, "other configuration digest");
	else if (civil_parse_rfc3339(rec->expires_at, &expires) != 0)
		snprintf(why, FRESH_WHY_SIZE, "no readable expiry");
	else if (expires <= want->now + want->refresh_before_s) {
		format_duration(text, sizeof text, want->refresh_before_s);
		snprintf(why, FRESH_WHY_SIZE, "expires within %s", text);
	} else {
		why[0] = '\0';
		return 1;
	}
	return 0;
}
