/*
 * fuzz_watch_json: API server watch lines and list pages into watchjson.h.
 *
 * The whole input goes to watch_parse_event (as one event line) and to watch_parse_list.
 * Beyond the sanitizers it checks what watch.c relies on: every copied field is terminated
 * and printable (the Secret record's, as k8sjson keeps them, free of control bytes); an accepted object has a valid name and resourceVersion; an ERROR event
 * carries a code in 0..999; a failed parse leaves the event zeroed; the list visits items
 * in order and stops at the first nonzero answer of its callback.
 */
#include "watchjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

/* The Secret record's fields (k8sjson) keep UTF-8: only control bytes are replaced. */
static void check_no_control(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			abort();
}

static void check_object(const struct watch_object *o, int bookmark)
{
	check_printable(o->name, sizeof o->name);
	check_printable(o->namespace, sizeof o->namespace);
	check_printable(o->resource_version, sizeof o->resource_version);
	check_no_control(o->secret.expires_at, sizeof o->secret.expires_at);
	check_no_control(o->secret.resource_version, sizeof o->secret.resource_version);
	if (o->namespace[0] && strcmp(o->secret.namespace, o->namespace) != 0)
		abort();
	if (o->resource_version[0] == '\0')
		abort();
	if (!bookmark && !config_valid_dns_subdomain(o->name))
		abort();
	if (o->namespace[0] && !config_valid_dns_label(o->namespace))
		abort();
}

struct visit {
	unsigned seen, stop_at;
};

static int each(void *ctx, const struct watch_object *o)
{
	struct visit *v = ctx;

	check_object(o, 0);
	if (++v->seen == v->stop_at)
		return 7;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct watch_event ev;
	struct visit v = { 0, 0 };
	char err[200], version[WATCH_MAX_VERSION], cont[1024];
	int rc;

	err[0] = '\0';
	if (watch_parse_event(text, size, "ecr-refresh", &ev, err, sizeof err) == 0) {
		if (ev.type < WATCH_ADDED || ev.type > WATCH_ERROR)
			abort();
		if (ev.type == WATCH_ERROR) {
			if (ev.code < 0 || ev.code > 999)
				abort();
			check_printable(ev.reason, sizeof ev.reason);
			check_printable(ev.message, sizeof ev.message);
		} else {
			check_object(&ev.object, ev.type == WATCH_BOOKMARK);
		}
		watch_event_clear(&ev);
	} else {
		static const struct watch_event zero;

		if (memcmp(&ev, &zero, sizeof ev) != 0 || err[0] == '\0')
			abort();
	}
	rc = watch_parse_list(text, size, "ecr-refresh", each, &v, version, sizeof version, cont,
	                      sizeof cont, err, sizeof err);
	if (rc == 0) {
		check_printable(version, sizeof version);
		check_printable(cont, sizeof cont);
		/* again, stopping at the first item: the callback's answer comes back */
		if (v.seen > 0) {
			struct visit again = { 0, 1 };

			if (watch_parse_list(text, size, "ecr-refresh", each, &again, version, sizeof version,
			                     cont, sizeof cont, err, sizeof err) != 7 || again.seen != 1)
				abort();
		}
	}
	return 0;
}
