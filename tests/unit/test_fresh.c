/*
 * fresh: the metadata-only Secret list as kube-apiserver v1.20.2 answers it (ownership from
 * managedFields, "items": null, continue tokens, hostile items), and the freshness
 * decision row by row.
 */
#include <stdlib.h>
#include <string.h>

#include "fresh.h"
#include "k8sjson.h"
#include "unit.h"

#define DIGEST "c6d48afb50b341e003dd5a0cbc9b38c4e336d9e04c48b126d027509cc64561e1"
#define HOSTS "1.dkr.ecr.eu-west-1.amazonaws.com,2.dkr.ecr.us-east-1.amazonaws.com"

/* One item of the list, as the apiserver writes it after our apply (MANAGER owns FIELDS). */
#define ITEM(NS, LABELS, ANNOTATIONS, MANAGER, OPERATION, FIELDS) \
	"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"name\":\"ecr-creds\"," \
	"\"namespace\":\"" NS "\",\"uid\":\"de688dbf-e215-4402-bb91-5b2058aada68\",\"resourceVersion\":\"199\"," \
	"\"creationTimestamp\":\"2026-12-02T00:30:07Z\",\"labels\":{" LABELS "},\"annotations\":{" ANNOTATIONS "}," \
	"\"managedFields\":[{\"manager\":\"" MANAGER "\",\"operation\":\"" OPERATION "\",\"apiVersion\":\"v1\"," \
	"\"time\":\"2026-12-02T00:30:07Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":" FIELDS "}]}}"

#define OURS_LABEL "\"app.kubernetes.io/managed-by\":\"ecr-refresh\""
#define OURS_ANNOTATIONS "\"ecr-refresh.io/config-digest\":\"" DIGEST "\",\"ecr-refresh.io/expires-at\":" \
	"\"2026-12-02T12:00:00Z\",\"ecr-refresh.io/registries\":\"" HOSTS "\""
#define OURS_FIELDS "{\"f:data\":{\"f:.dockerconfigjson\":{}},\"f:metadata\":{\"f:annotations\":{" \
	"\"f:ecr-refresh.io/config-digest\":{},\"f:ecr-refresh.io/expires-at\":{},\"f:ecr-refresh.io/registries\":{}}," \
	"\"f:labels\":{\"f:app.kubernetes.io/managed-by\":{}}},\"f:type\":{}}"
#define LIST(ITEMS, CONTINUE) \
	"{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"resourceVersion\":" \
	"\"200\"" CONTINUE "},\"items\":" ITEMS "}"

static int parse(const char *body, struct k8s_secret_meta_list *list, char *cont, char *err)
{
	return k8s_parse_secret_meta_page(body, strlen(body), "ecr-creds", "ecr-refresh", list, cont,
	                                  K8S_MAX_CONTINUE + 1, err, 200);
}

static void test_page(void)
{
	static const char page[] = LIST("[" ITEM("team-a", OURS_LABEL, OURS_ANNOTATIONS, "ecr-refresh", "Apply", OURS_FIELDS)
		"," ITEM("hand-edited", OURS_LABEL, OURS_ANNOTATIONS, "kubectl-edit", "Update",
		         "{\"f:data\":{\"f:.dockerconfigjson\":{}}}")
		"," ITEM("expiry-edited", OURS_LABEL, OURS_ANNOTATIONS, "ecr-refresh", "Apply",
		         "{\"f:data\":{\"f:.dockerconfigjson\":{}}}")
		"," ITEM("unlabelled", "", "", "ecr-refresh", "Apply", OURS_FIELDS)
		"," ITEM("other-name", OURS_LABEL, "\"ecr-refresh.io/config-digest\":\"XYZ\"", "ecr-refresh", "Apply",
		         OURS_FIELDS)
		"]", ",\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\"");
	struct k8s_secret_meta_list list = { 0 };
	char cont[K8S_MAX_CONTINUE + 1], err[200];
	const struct k8s_secret_meta *m;

	CHECK_EQ_INT(parse(page, &list, cont, err), 0);
	CHECK_EQ_INT(list.count, 5);
	CHECK_EQ_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	m = k8s_secret_meta_find(&list, "team-a");
	CHECK(m && m->ours && m->labelled && m->owns_payload);
	CHECK_EQ_STR(m->resource_version, "199");
	CHECK_EQ_STR(m->digest, DIGEST);
	CHECK_EQ_STR(m->expires_at, "2026-12-02T12:00:00Z");
	CHECK_EQ_STR(m->registries, HOSTS);
	m = k8s_secret_meta_find(&list, "hand-edited");
	CHECK(m && m->labelled && !m->owns_payload && !m->ours);
	m = k8s_secret_meta_find(&list, "expiry-edited");
	CHECK(m && !m->owns_payload && !m->ours);
	m = k8s_secret_meta_find(&list, "unlabelled");
	CHECK(m && !m->labelled && m->owns_payload && !m->ours && m->registries == NULL && m->digest[0] == '\0');
	m = k8s_secret_meta_find(&list, "other-name");
	CHECK(m && m->digest[0] == '\0');       /* not 64 hex digits: as if absent */
	CHECK(k8s_secret_meta_find(&list, "team-b") == NULL);
	/* sorted: the same answers by binary search, a name too long for any namespace none */
	k8s_secret_meta_list_sort(&list);
	CHECK(list.sorted);
	CHECK_EQ_STR(list.items[0].namespace, "expiry-edited");
	CHECK_EQ_STR(list.items[4].namespace, "unlabelled");
	m = k8s_secret_meta_find(&list, "team-a");
	CHECK(m && m->ours && strcmp(m->resource_version, "199") == 0);
	m = k8s_secret_meta_find(&list, "unlabelled");
	CHECK(m && !m->labelled);
	CHECK(k8s_secret_meta_find(&list, "team-b") == NULL);
	CHECK(k8s_secret_meta_find(&list, "a") == NULL);
	CHECK(k8s_secret_meta_find(&list, "zz") == NULL);
	CHECK(k8s_secret_meta_find(&list, "this-namespace-name-is-longer-than-any-namespace-could-ever-be-at-all") == NULL);
	k8s_secret_meta_list_free(&list);
	CHECK(!list.sorted && k8s_secret_meta_find(&list, "team-a") == NULL);
	k8s_secret_meta_list_free(&list);
}

static void test_pages(void)
{
	struct k8s_secret_meta_list list = { 0 };
	char cont[K8S_MAX_CONTINUE + 1] = "stale", err[200], long_token[K8S_MAX_CONTINUE + 80];
	char body[sizeof long_token + 200];

	/* an empty metadata-only list answers "items": null (v1.20.2 does) */
	CHECK_EQ_INT(parse(LIST("null", ""), &list, cont, err), 0);
	CHECK_EQ_INT(list.count, 0);
	CHECK_EQ_STR(cont, "");
	CHECK_EQ_INT(parse(LIST("[]", ""), &list, cont, err), 0);
	/* items named otherwise are skipped, not trusted */
	CHECK_EQ_INT(parse(LIST("[{\"metadata\":{\"name\":\"other\",\"namespace\":\"x\"}},{\"metadata\":7}]", ""), &list,
	                   cont, err), 0);
	CHECK_EQ_INT(list.count, 0);

	CHECK_EQ_INT(parse("[]", &list, cont, err), -1);
	CHECK_EQ_STR(err, "secret list is not a JSON object");
	CHECK_EQ_INT(parse("{\"items\":{}}", &list, cont, err), -1);
	CHECK_EQ_STR(err, "secret list has no items array");
	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"Bad/NS\"}}]}", &list, cont,
	                   err), -1);
	CHECK_EQ_STR(err, "secret list has an item without a valid namespace");
	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{\"name\":\"ecr-creds\"}}]}", &list, cont, err), -1);
	CHECK_EQ_INT(parse(LIST("[]", ",\"continue\":\"a b\""), &list, cont, err), -1);
	CHECK_EQ_STR(err, "secret list continue token is not printable");
	memset(long_token, 'a', sizeof long_token - 1);
	long_token[sizeof long_token - 1] = '\0';
	snprintf(body, sizeof body, "{\"metadata\":{\"continue\":\"%s\"},\"items\":null}", long_token);
	CHECK_EQ_INT(parse(body, &list, cont, err), -1);
	CHECK_EQ_STR(err, "secret list continue token is longer than 1024 bytes");
	CHECK_EQ_INT(list.count, 0);

	/* an item with a control character in its resourceVersion keeps it printable */
	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"n\",\"resourceVersion\":"
	                   "\"1\\n2\"}}]}", &list, cont, err), 0);
	CHECK_EQ_STR(list.items[0].resource_version, "1?2");
	k8s_secret_meta_list_free(&list);
}

static void test_one_object(void)
{
	static const char item[] = ITEM("team-a", OURS_LABEL, OURS_ANNOTATIONS, "ecr-refresh", "Apply", OURS_FIELDS);
	struct k8s_secret_meta rec;

	memset(&rec, 0, sizeof rec);
	CHECK_EQ_INT(k8s_parse_secret_meta(item, strlen(item), "ecr-refresh", &rec), 0);
	CHECK(rec.ours && strcmp(rec.namespace, "team-a") == 0 && strcmp(rec.registries, HOSTS) == 0);
	k8s_secret_meta_clear(&rec);
	CHECK(rec.registries == NULL);
	/* another field manager name: not ours */
	CHECK_EQ_INT(k8s_parse_secret_meta(item, strlen(item), "someone-else", &rec), 0);
	CHECK(rec.labelled && !rec.owns_payload && !rec.ours);
	k8s_secret_meta_clear(&rec);
	CHECK_EQ_INT(k8s_parse_secret_meta("{\"metadata\":{}}", 14, "ecr-refresh", &rec), -1);
	CHECK_EQ_INT(k8s_parse_secret_meta("nope", 4, "ecr-refresh", &rec), -1);
	CHECK(rec.registries == NULL);
}

static void test_same_hosts(void)
{
	static const char *const two[] = { "b.example", "a.example" };

	CHECK_EQ_INT(fresh_same_hosts("a.example,b.example", two, 2), 1);
	CHECK_EQ_INT(fresh_same_hosts(" b.example , a.example,a.example", two, 2), 1);
	CHECK_EQ_INT(fresh_same_hosts("a.example", two, 2), 0);
	CHECK_EQ_INT(fresh_same_hosts("a.example,b.example,c.example", two, 2), 0);
	CHECK_EQ_INT(fresh_same_hosts("a.example,,b.example", two, 2), 0);
	CHECK_EQ_INT(fresh_same_hosts("a.exampl,b.example", two, 2), 0);
	CHECK_EQ_INT(fresh_same_hosts("", two, 2), 0);
	CHECK_EQ_INT(fresh_same_hosts("", two, 0), 1);
}

static void test_decide(void)
{
	static const char *const hosts[] = { "2.dkr.ecr.us-east-1.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com" };
	/* 2026-12-02T12:00:00Z */
	const long long expiry = 1796212800LL;
	struct k8s_secret_meta rec = { .namespace = "team-a", .labelled = 1, .owns_payload = 1, .ours = 1,
	                               .registries = (char *)HOSTS, .digest = DIGEST,
	                               .expires_at = "2026-12-02T12:00:00Z" };
	struct k8s_secret_meta copy;
	struct fresh_want want = { hosts, 2, DIGEST, expiry - 6 * 3600 - 1, 6 * 3600, 0 };
	char why[FRESH_WHY_SIZE];

	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 1);
	CHECK_EQ_STR(why, "");
	want.now = expiry - 6 * 3600;                 /* exactly at the margin: write */
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "expires within 6h0m");
	want.refresh_before_s = 5430;
	want.now = expiry - 5000;
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "expires within 1h30m30s");
	want.refresh_before_s = 6 * 3600;
	want.now = expiry - 7 * 3600;
	CHECK_EQ_INT(fresh_decide(NULL, &want, why), 0);
	CHECK_EQ_STR(why, "no secret");

	copy = rec;
	copy.labelled = 0;
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	CHECK_EQ_STR(why, "not labelled as managed by ecr-refresh");
	copy = rec;
	copy.owns_payload = 0;
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	CHECK_EQ_STR(why, "payload or expiry changed by another field manager");
	copy = rec;
	copy.registries = (char *)"1.dkr.ecr.eu-west-1.amazonaws.com";
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	CHECK_EQ_STR(why, "other registries");
	copy.registries = NULL;
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	want.hosts = NULL;                            /* the default registry: not compared */
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 1);
	want.hosts = hosts;
	copy = rec;
	copy.digest[0] = '\0';
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	CHECK_EQ_STR(why, "other configuration digest");
	copy = rec;
	memcpy(copy.expires_at, "soon", 5);
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	CHECK_EQ_STR(why, "no readable expiry");
	copy.expires_at[0] = '\0';
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 0);
	/* an offset is read as RFC 3339 says */
	copy = rec;
	memcpy(copy.expires_at, "2026-12-02T13:00:00+01:00", 26);
	CHECK_EQ_INT(fresh_decide(&copy, &want, why), 1);
}

/* Static entries and json-key only: nothing expires, the Secret records no expiry. */
static void test_decide_never_expires(void)
{
	static const char *const hosts[] = { "2.dkr.ecr.us-east-1.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com" };
	struct k8s_secret_meta rec = { .namespace = "team-a", .labelled = 1, .owns_payload = 1, .ours = 1,
	                               .registries = (char *)HOSTS, .digest = DIGEST, .expires_at = "" };
	struct fresh_want want = { hosts, 2, DIGEST, 4102444800LL, 6 * 3600, 1 };
	char why[FRESH_WHY_SIZE];

	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 1);     /* years later: still fresh */
	CHECK_EQ_STR(why, "");
	rec.digest[0] = '\0';                               /* a static file changed */
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "other configuration digest");
	memcpy(rec.digest, DIGEST, sizeof rec.digest);
	rec.registries = (char *)"2.dkr.ecr.us-east-1.amazonaws.com";
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "other registries");
	rec.registries = (char *)HOSTS;
	memcpy(rec.expires_at, "2099-12-02T12:00:00Z", 21);  /* written when a token expired */
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "records an expiry, none is due");
	rec.expires_at[0] = '\0';                           /* and the other way round */
	want.never_expires = 0;
	CHECK_EQ_INT(fresh_decide(&rec, &want, why), 0);
	CHECK_EQ_STR(why, "no readable expiry");
}

/* Without the expires-at annotation the payload alone decides whose the Secret is. */
static void test_no_expiry_ownership(void)
{
	static const char page[] = LIST("[" ITEM("static", OURS_LABEL,
		"\"ecr-refresh.io/config-digest\":\"" DIGEST "\",\"ecr-refresh.io/registries\":\"" HOSTS "\"",
		"ecr-refresh", "Apply", "{\"f:data\":{\"f:.dockerconfigjson\":{}}}")
		"," ITEM("expiry-by-hand", OURS_LABEL, OURS_ANNOTATIONS, "ecr-refresh", "Apply",
		         "{\"f:data\":{\"f:.dockerconfigjson\":{}}}") "]", "");
	struct k8s_secret_meta_list list = { 0 };
	char cont[K8S_MAX_CONTINUE + 1], err[200];
	const struct k8s_secret_meta *m;

	CHECK_EQ_INT(parse(page, &list, cont, err), 0);
	m = k8s_secret_meta_find(&list, "static");
	CHECK(m && m->ours && m->expires_at[0] == '\0');
	m = k8s_secret_meta_find(&list, "expiry-by-hand");
	CHECK(m && !m->owns_payload && !m->ours);
	k8s_secret_meta_list_free(&list);
}

/* Read in place (k8slist.c), the page answers as a cJSON tree would: the first of duplicate
 * keys counts, a wrong type is as if absent, members come in any order. */
static void test_first_key_and_order(void)
{
	struct k8s_secret_meta_list list = { 0 };
	char cont[K8S_MAX_CONTINUE + 1], err[200];
	const struct k8s_secret_meta *m;

	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{"
	                   /* managedFields before the labels, fieldsV1 before the manager */
	                   "\"managedFields\":[7,{\"fieldsV1\":" OURS_FIELDS ",\"operation\":\"Apply\","
	                   "\"manager\":\"ecr-refresh\",\"manager\":\"other\"}],"
	                   "\"annotations\":{\"ecr-refresh.io/expires-at\":\"2026-12-02T12:00:00Z\","
	                   "\"ecr-refresh.io/registries\":\"a\\u002cb\",\"ecr-refresh.io/registries\":\"c\"},"
	                   "\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"},"
	                   "\"resourceVersion\":7,\"resourceVersion\":\"8\","
	                   "\"name\":\"ecr-creds\",\"namespace\":\"first\",\"namespace\":\"second\"},"
	                   "\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"ignored\"}}],"
	                   "\"metadata\":{\"continue\":\"tok\"},\"metadata\":{\"continue\":\"other\"}}",
	                   &list, cont, err), 0);
	CHECK_EQ_INT(list.count, 1);
	m = k8s_secret_meta_find(&list, "first");
	CHECK(m && m->ours && m->labelled && m->owns_payload);
	CHECK_EQ_STR(m->resource_version, "");  /* the first resourceVersion is no string */
	CHECK(m->registries && strcmp(m->registries, "a,b") == 0);
	CHECK_EQ_STR(m->expires_at, "2026-12-02T12:00:00Z");
	CHECK_EQ_STR(cont, "tok");
	k8s_secret_meta_list_free(&list);

	/* the payload owned, but not the recorded expiry: not ours */
	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"n\","
	                   "\"labels\":{\"app.kubernetes.io/managed-by\":\"ecr-refresh\"},"
	                   "\"annotations\":{\"ecr-refresh.io/expires-at\":\"2026-12-02T12:00:00Z\"},"
	                   "\"managedFields\":[{\"manager\":\"ecr-refresh\",\"operation\":\"Apply\","
	                   "\"fieldsV1\":{\"f:data\":{\"f:.dockerconfigjson\":{}}}}]}}]}", &list, cont, err), 0);
	CHECK(list.count == 1 && !list.items[0].owns_payload && !list.items[0].ours);
	k8s_secret_meta_list_free(&list);

	/* malformed after a good item: refused whole */
	CHECK_EQ_INT(parse("{\"items\":[{\"metadata\":{\"name\":\"ecr-creds\",\"namespace\":\"n\"}},]}",
	                   &list, cont, err), -1);
	CHECK_EQ_STR(err, "secret list is not valid JSON");
	k8s_secret_meta_list_free(&list);
}

int main(void)
{
	test_page();
	test_first_key_and_order();
	test_pages();
	test_one_object();
	test_same_hosts();
	test_decide();
	test_decide_never_expires();
	test_no_expiry_ownership();
	return UNIT_DONE();
}
