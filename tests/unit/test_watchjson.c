/*
 * watchjson: known events and list pages (shaped as kube-apiserver v1.20 sends them) read
 * field by field, and tables of lines that are not events, each with the message it gets.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "watchjson.h"

static const char secret_event[] =
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\","
	"\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"team-a\",\"resourceVersion\":\"555\","
	"\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"},"
	"\"annotations\":{\"ecr-refresh.io/registries\":\"1.dkr.ecr.us-east-1.amazonaws.com\","
	"\"ecr-refresh.io/expires-at\":\"2026-01-01T12:00:00Z\"},"
	"\"managedFields\":[{\"manager\":\"MANAGER\",\"operation\":\"OPERATION\",\"apiVersion\":\"v1\","
	"\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:.dockerconfigjson\":{}},"
	"\"f:metadata\":{\"f:annotations\":{\"f:ecr-refresh.io/expires-at\":{}}}}}]}}}";

static void test_secret_event(void)
{
	static const struct {
		const char *manager, *operation;
		int ours;
	} cases[] = {
		{ "ecr-refresh", "Apply", 1 },
		{ "ecr-refresh", "Update", 0 },     /* not an apply of ours */
		{ "kubectl-edit", "Update", 0 },    /* someone else owns the payload now */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char line[2048], err[200];
		struct watch_event ev;
		char *p;

		snprintf(line, sizeof line, "%s", secret_event);
		p = strstr(line, "MANAGER");
		memmove(p + strlen(cases[i].manager), p + 7, strlen(p + 7) + 1);
		memcpy(p, cases[i].manager, strlen(cases[i].manager));
		p = strstr(line, "OPERATION");
		memmove(p + strlen(cases[i].operation), p + 9, strlen(p + 9) + 1);
		memcpy(p, cases[i].operation, strlen(cases[i].operation));
		CHECK_EQ_INT(watch_parse_event(line, strlen(line), "ecr-refresh", &ev, err, sizeof err), 0);
		CHECK_EQ_INT(ev.type, WATCH_MODIFIED);
		CHECK_EQ_STR(ev.object.name, "ecr-creds");
		CHECK_EQ_STR(ev.object.namespace, "team-a");
		CHECK_EQ_STR(ev.object.resource_version, "555");
		CHECK_EQ_INT(ev.object.secret.labelled, 1);
		CHECK_EQ_INT(ev.object.secret.owns_payload, cases[i].ours);
		CHECK_EQ_STR(ev.object.secret.namespace, "team-a");
		CHECK_EQ_STR(ev.object.secret.registries, "1.dkr.ecr.us-east-1.amazonaws.com");
		CHECK_EQ_STR(ev.object.secret.expires_at, "2026-01-01T12:00:00Z");
		watch_event_clear(&ev);
	}
}

static void test_other_events(void)
{
	static const char ns[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Namespace\",\"metadata\":"
		"{\"name\":\"new-ns\",\"resourceVersion\":\"7\"},\"status\":{\"phase\":\"Active\"}}}";
	static const char gone_ns[] = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"old\","
		"\"resourceVersion\":\"8\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":"
		"{\"phase\":\"Terminating\"}}}";
	static const char bookmark[] = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Namespace\","
		"\"metadata\":{\"resourceVersion\":\"12345\",\"creationTimestamp\":null}}}";
	static const char expired[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":"
		"\"Failure\",\"message\":\"too old resource version: 1 (25)\\n\",\"reason\":\"Expired\",\"code\":410}}";
	struct watch_event ev;
	char err[200];

	CHECK_EQ_INT(watch_parse_event(ns, strlen(ns), "ecr-refresh", &ev, err, sizeof err), 0);
	CHECK_EQ_INT(ev.type, WATCH_ADDED);
	CHECK_EQ_STR(ev.object.name, "new-ns");
	CHECK_EQ_STR(ev.object.namespace, "");
	CHECK_EQ_INT(ev.object.terminating, 0);
	CHECK_EQ_INT(ev.object.secret.labelled, 0);
	CHECK_EQ_INT(watch_parse_event(gone_ns, strlen(gone_ns), "ecr-refresh", &ev, err, sizeof err), 0);
	CHECK_EQ_INT(ev.object.terminating, 1);
	CHECK_EQ_INT(watch_parse_event(bookmark, strlen(bookmark), "ecr-refresh", &ev, err, sizeof err), 0);
	CHECK_EQ_INT(ev.type, WATCH_BOOKMARK);
	CHECK_EQ_STR(ev.object.resource_version, "12345");
	CHECK_EQ_INT(watch_parse_event(expired, strlen(expired), "ecr-refresh", &ev, err, sizeof err), 0);
	CHECK_EQ_INT(ev.type, WATCH_ERROR);
	CHECK_EQ_INT(ev.code, 410);
	CHECK_EQ_STR(ev.reason, "Expired");
	CHECK_EQ_STR(ev.message, "too old resource version: 1 (25)?");   /* no newline reaches a log */
	CHECK_EQ_INT(watch_is_gone(ev.code, ev.reason), 1);
	CHECK_EQ_INT(watch_is_gone(500, "Expired"), 1);
	CHECK_EQ_INT(watch_is_gone(500, "InternalError"), 0);
}

static void test_bad_events(void)
{
	static const struct {
		const char *line, *err;
	} cases[] = {
		{ "", "not JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"type\":\"ADDED\"}", "no object" },
		{ "{\"type\":\"added\",\"object\":{}}", "no known type" },
		{ "{\"object\":{}}", "no known type" },
		{ "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}", "no valid resourceVersion" },
		{ "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1 2\"}}}",
		  "no valid resourceVersion" },
		{ "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"A_b\",\"resourceVersion\":\"1\"}}}",
		  "no valid name" },
		{ "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"x.y\","
		  "\"resourceVersion\":\"1\"}}}", "invalid namespace" },
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}", "no valid resourceVersion" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct watch_event ev;
		char err[200] = "";

		CHECK_EQ_INT(watch_parse_event(cases[i].line, strlen(cases[i].line), "ecr-refresh", &ev, err,
		                               sizeof err), -1);
		if (!strstr(err, cases[i].err))
			fprintf(stderr, "case %zu: [%s]\n", i, err);
		CHECK(strstr(err, cases[i].err) != NULL);
		CHECK_EQ_INT(ev.type, 0);
	}
	{
		/* a line over the limit is refused before it is parsed */
		size_t n = WATCH_MAX_LINE + 1;
		char *big = malloc(n), err[200];
		struct watch_event ev;

		memset(big, ' ', n);
		CHECK_EQ_INT(watch_parse_event(big, n, "ecr-refresh", &ev, err, sizeof err), -1);
		CHECK(strstr(err, "longer than") != NULL);
		free(big);
	}
}

struct seen {
	char names[256];
	int stop_at, count;
};

static int collect(void *ctx, const struct watch_object *o)
{
	struct seen *s = ctx;

	snprintf(s->names + strlen(s->names), sizeof s->names - strlen(s->names), "%s/%s%s;",
	         o->namespace, o->name, o->secret.labelled ? "+" : "");
	return ++s->count == s->stop_at ? 5 : 0;
}

static void test_lists(void)
{
	static const char page[] = "{\"kind\":\"PartialObjectMetadataList\",\"metadata\":{\"resourceVersion\":"
		"\"777\",\"continue\":\"abc\"},\"items\":[{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"a\","
		"\"resourceVersion\":\"5\",\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"}}},"
		"{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"b\",\"resourceVersion\":\"6\"}}]}";
	static const char empty[] = "{\"kind\":\"PartialObjectMetadataList\",\"metadata\":{\"resourceVersion\":"
		"\"778\"},\"items\":null}";
	static const char bad_item[] = "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{}}]}";
	static const char no_version[] = "{\"metadata\":{},\"items\":[]}";
	char version[WATCH_MAX_VERSION], cont[64], err[200];
	struct seen s = { "", 0, 0 };

	CHECK_EQ_INT(watch_parse_list(page, strlen(page), "ecr-refresh", collect, &s, version, sizeof version,
	                              cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_STR(s.names, "a/ecr-creds+;b/ecr-creds;");
	CHECK_EQ_STR(version, "777");
	CHECK_EQ_STR(cont, "abc");
	s = (struct seen){ "", 1, 0 };
	CHECK_EQ_INT(watch_parse_list(page, strlen(page), "ecr-refresh", collect, &s, version, sizeof version,
	                              cont, sizeof cont, err, sizeof err), 5);
	CHECK_EQ_STR(s.names, "a/ecr-creds+;");
	s = (struct seen){ "", 0, 0 };
	CHECK_EQ_INT(watch_parse_list(empty, strlen(empty), "ecr-refresh", collect, &s, version, sizeof version,
	                              cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_STR(version, "778");
	CHECK_EQ_STR(cont, "");
	CHECK_EQ_INT(s.count, 0);
	CHECK_EQ_INT(watch_parse_list(bad_item, strlen(bad_item), "ecr-refresh", collect, &s, version,
	                              sizeof version, cont, sizeof cont, err, sizeof err), -1);
	CHECK(strstr(err, "resourceVersion") != NULL);
	CHECK_EQ_INT(watch_parse_list(no_version, strlen(no_version), "ecr-refresh", collect, &s, version,
	                              sizeof version, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(watch_parse_list("{", 1, "ecr-refresh", collect, &s, version, sizeof version, cont,
	                              sizeof cont, err, sizeof err), -1);
	/* a continue token that does not fit is refused, not cut */
	CHECK_EQ_INT(watch_parse_list(page, strlen(page), "ecr-refresh", collect, &s, version, sizeof version,
	                              cont, 3, err, sizeof err), -1);
}

int main(void)
{
	test_secret_event();
	test_other_events();
	test_bad_events();
	test_lists();
	return UNIT_DONE();
}
