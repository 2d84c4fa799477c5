/* events: reasons by status, the stable name, the Event body field by field, note limits. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "events.h"
#include "unit.h"

static const char *field(const cJSON *doc, const char *object, const char *key)
{
	const cJSON *o = object ? cJSON_GetObjectItemCaseSensitive(doc, object) : doc;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_reasons(void)
{
	CHECK_EQ_INT(events_reason_for_status(403), EVENT_FORBIDDEN);
	CHECK_EQ_INT(events_reason_for_status(404), EVENT_NOT_FOUND);
	CHECK_EQ_INT(events_reason_for_status(409), EVENT_CONFLICT);
	CHECK_EQ_INT(events_reason_for_status(422), EVENT_INVALID);
	CHECK_EQ_INT(events_reason_for_status(400), EVENT_INVALID);
	CHECK_EQ_INT(events_reason_for_status(0), EVENT_UNAVAILABLE);
	CHECK_EQ_INT(events_reason_for_status(503), EVENT_UNAVAILABLE);
	CHECK_EQ_STR(events_reason_name(EVENT_NOT_FOUND), "NotFound");
	CHECK_EQ_STR(events_reason_name(EVENT_TOKEN_UNAVAILABLE), "TokenUnavailable");
	CHECK_EQ_STR(events_reason_name(EVENT_CLUSTER_UNAVAILABLE), "ClusterUnavailable");
	for (int r = EVENT_FORBIDDEN; r <= EVENT_CLUSTER_UNAVAILABLE; r++)
		CHECK(strlen(events_reason_name((enum event_reason)r)) > 0 && strstr(events_fix((enum event_reason)r),
		                                                                       "docs/troubleshooting.md"));
}

static struct event_spec sample(void)
{
	return (struct event_spec){
		.namespace = "team-a", .regarding_kind = "Secret", .regarding_name = "ecr-creds",
		.secret_name = "ecr-creds", .reason = EVENT_FORBIDDEN, .action = "Apply",
		.message = "403 Forbidden: secrets \"ecr-creds\" is forbidden",
		.instance = "ecr-refresh-28391-abcde",
		.now_s = 1796212800LL + 3723, .now_us = 42,      /* 2026-12-02T13:02:03.000042Z */
	};
}

static void test_name(void)
{
	struct event_spec spec = sample();
	char name[EVENT_NAME_SIZE], long_name[260];

	CHECK_EQ_INT(events_name(&spec, name), 0);
	CHECK_EQ_STR(name, "ecr-creds.forbidden.20261202");
	spec.reason = EVENT_TOKEN_UNAVAILABLE;
	spec.now_s += 86400;
	CHECK_EQ_INT(events_name(&spec, name), 0);
	CHECK_EQ_STR(name, "ecr-creds.tokenunavailable.20261203");
	/* a 253-byte Secret name is cut, never past a DNS-1123 subdomain, and not at a '-' */
	memset(long_name, 'a', 253);
	long_name[253] = '\0';
	long_name[225] = '-';
	long_name[226] = '-';
	spec.secret_name = long_name;
	CHECK_EQ_INT(events_name(&spec, name), 0);
	CHECK_EQ_INT(strlen(name), 225 + strlen(".tokenunavailable.20261203"));
	CHECK(strncmp(name, long_name, 225) == 0 && name[225] == '.');
}

static void test_body(void)
{
	struct event_spec spec = sample();
	char *text = events_body(&spec), big[3000];
	cJSON *doc = cJSON_Parse(text), *again;
	const char *note;

	CHECK(doc != NULL);
	CHECK_EQ_STR(field(doc, NULL, "apiVersion"), "events.k8s.io/v1");
	CHECK_EQ_STR(field(doc, NULL, "kind"), "Event");
	CHECK_EQ_STR(field(doc, "metadata", "name"), "ecr-creds.forbidden.20261202");
	CHECK_EQ_STR(field(doc, "metadata", "namespace"), "team-a");
	CHECK_EQ_STR(field(doc, NULL, "type"), "Warning");
	CHECK_EQ_STR(field(doc, NULL, "reason"), "Forbidden");
	CHECK_EQ_STR(field(doc, NULL, "action"), "Apply");
	CHECK_EQ_STR(field(doc, NULL, "eventTime"), "2026-12-02T13:02:03.000042Z");
	CHECK_EQ_STR(field(doc, NULL, "reportingController"), "ecr-refresh");
	CHECK_EQ_STR(field(doc, NULL, "reportingInstance"), "ecr-refresh-28391-abcde");
	CHECK_EQ_STR(field(doc, "regarding", "apiVersion"), "v1");
	CHECK_EQ_STR(field(doc, "regarding", "kind"), "Secret");
	CHECK_EQ_STR(field(doc, "regarding", "namespace"), "team-a");
	CHECK_EQ_STR(field(doc, "regarding", "name"), "ecr-creds");
	note = field(doc, NULL, "note");
	{
		static const char want[] = "403 Forbidden: secrets \"ecr-creds\" is forbidden; fix: give";

		CHECK(note && strncmp(note, want, strlen(want)) == 0);
	}
	cJSON_Delete(doc);
	free(text);

	/* a long message is cut so the note stays within 1024 bytes with the fix whole, and a
	 * UTF-8 character is never split */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (size_t i = 0; i + 2 < sizeof big; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	spec.message = big;
	spec.reason = EVENT_CONFLICT;
	text = events_body(&spec);
	again = cJSON_Parse(text);
	note = field(again, NULL, "note");
	CHECK(note && strlen(note) <= EVENT_NOTE_MAX && strlen(note) > EVENT_NOTE_MAX - 2);
	CHECK(note && strstr(note, events_fix(EVENT_CONFLICT)) != NULL);
	CHECK(note && (unsigned char)note[strlen(note) - strlen(events_fix(EVENT_CONFLICT)) - 8] == 0xa9);
	cJSON_Delete(again);
	free(text);

	/* reportingInstance is cut at 128 bytes */
	spec.instance = big + 1000;
	spec.message = NULL;
	text = events_body(&spec);
	again = cJSON_Parse(text);
	CHECK(field(again, NULL, "reportingInstance") && strlen(field(again, NULL, "reportingInstance")) <= 128);
	CHECK(field(again, NULL, "note") && strncmp(field(again, NULL, "note"), "; fix: ", 7) == 0);
	cJSON_Delete(again);
	free(text);
}

int main(void)
{
	test_reasons();
	test_name();
	test_body();
	return UNIT_DONE();
}
