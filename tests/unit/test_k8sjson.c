/*
 * Unit tests of the pure parts of the Kubernetes client (k8sjson.h): Status objects as the
 * v1.20 API server sends them, NamespaceList pages, the ServiceAccount
 * imagePullSecrets merge, query encoding and the target set.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "k8sjson.h"
#include "log.h"
#include "unit.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_status(void)
{
	struct k8s_status st;

	/* as seen on kube-apiserver v1.20.2: an apply into a terminating namespace */
	CHECK_EQ_INT(k8s_parse_status(S("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		"\"status\":\"Failure\",\"message\":\"secrets \\\"ecr-creds\\\" is forbidden: unable to "
		"create new content in namespace dying because it is being terminated\",\"reason\":"
		"\"Forbidden\",\"details\":{\"name\":\"ecr-creds\",\"kind\":\"secrets\",\"causes\":[{\"reason\":"
		"\"NamespaceTerminating\",\"message\":\"namespace dying is being terminated\",\"field\":"
		"\"metadata.namespace\"}]},\"code\":403}"), &st), 0);
	CHECK_EQ_INT(st.code, 403);
	CHECK_EQ_STR(st.reason, "Forbidden");
	CHECK_EQ_STR(st.kind, "secrets");
	CHECK_EQ_STR(st.causes, "NamespaceTerminating");
	CHECK_EQ_INT(st.namespace_terminating, 1);
	CHECK_EQ_INT(st.retry_after_s, -1);
	CHECK(strstr(st.message, "being terminated") != NULL);

	/* a field manager conflict, two causes */
	CHECK_EQ_INT(k8s_parse_status(S("{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
		"\"Apply failed with 2 conflicts\",\"reason\":\"Conflict\",\"details\":{\"causes\":["
		"{\"reason\":\"FieldManagerConflict\",\"field\":\".data\"},{\"message\":\"no reason\"},"
		"{\"reason\":\"FieldManagerConflict\",\"field\":\".type\"}]},\"code\":409}"), &st), 0);
	CHECK_EQ_INT(st.code, 409);
	CHECK_EQ_STR(st.reason, "Conflict");
	CHECK_EQ_STR(st.causes, "FieldManagerConflict,FieldManagerConflict");
	CHECK_EQ_INT(st.namespace_terminating, 0);

	/* 429 with retryAfterSeconds; huge and negative values */
	CHECK_EQ_INT(k8s_parse_status(S("{\"code\":429,\"reason\":\"TooManyRequests\",\"details\":"
		"{\"retryAfterSeconds\":3}}"), &st), 0);
	CHECK_EQ_INT(st.retry_after_s, 3);
	k8s_parse_status(S("{\"details\":{\"retryAfterSeconds\":1e300}}"), &st);
	CHECK_EQ_INT(st.retry_after_s, 86400);
	k8s_parse_status(S("{\"details\":{\"retryAfterSeconds\":-4}}"), &st);
	CHECK_EQ_INT(st.retry_after_s, -1);
	k8s_parse_status(S("{\"details\":{\"retryAfterSeconds\":\"3\"}}"), &st);
	CHECK_EQ_INT(st.retry_after_s, -1);
	k8s_parse_status(S("{\"code\":1e12}"), &st);
	CHECK_EQ_INT(st.code, 0);

	/* control characters never reach a log line; long messages are cut */
	k8s_parse_status(S("{\"message\":\"a\\nb\\u001bc\\u007f\",\"reason\":\"x\\ty\"}"), &st);
	CHECK_EQ_STR(st.message, "a b c ");
	CHECK_EQ_STR(st.reason, "x y");
	{
		char big[2000];
		memset(big, 0, sizeof big);
		strcpy(big, "{\"message\":\"");
		for (int i = 0; i < 500; i++)
			strcat(big, "m ");
		strcat(big, "\"}");
		CHECK_EQ_INT(k8s_parse_status(big, strlen(big), &st), 0);
		CHECK_EQ_INT(strlen(st.message), LOG_PEER_TEXT_MAX);
		CHECK(strcmp(st.message + LOG_PEER_TEXT_MAX - 3, "...") == 0);
	}
	/* a server echoing a token gets no piece of it into a log line */
	k8s_parse_status(S("{\"message\":\"token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ rejected\","
		"\"details\":{\"causes\":[{\"reason\":\"c2VjcmV0LXRva2VuLTEyMzQ1Njc4OTA=\"}]}}"), &st);
	CHECK_EQ_STR(st.message, "token [REDACTED] rejected");
	CHECK_EQ_STR(st.causes, "[REDACTED]");

	/* not JSON, not an object, empty: defaults */
	CHECK_EQ_INT(k8s_parse_status(S("<html>503</html>"), &st), -1);
	CHECK_EQ_INT(st.code, 0);
	CHECK_EQ_STR(st.reason, "");
	CHECK_EQ_INT(k8s_parse_status(S("[1]"), &st), -1);
	CHECK_EQ_INT(k8s_parse_status("", 0, &st), -1);
	CHECK_EQ_INT(k8s_parse_status(NULL, 0, &st), -1);
	/* wrong types are ignored */
	CHECK_EQ_INT(k8s_parse_status(S("{\"message\":1,\"reason\":[],\"details\":{\"causes\":{}}}"), &st), 0);
	CHECK_EQ_STR(st.message, "");
	CHECK_EQ_STR(st.causes, "");
	/* many causes: truncated, never overflowing */
	{
		char many[8192] = "{\"details\":{\"causes\":[";
		for (int i = 0; i < 100; i++)
			strcat(many, i ? ",{\"reason\":\"FieldManagerConflict\"}" : "{\"reason\":\"FieldManagerConflict\"}");
		strcat(many, "]}}");
		CHECK_EQ_INT(k8s_parse_status(many, strlen(many), &st), 0);
		CHECK(strlen(st.causes) < sizeof st.causes);
		CHECK(strncmp(st.causes, "FieldManagerConflict,FieldManagerConflict,", 42) == 0);
	}
}

static void test_namespace_page(void)
{
	struct k8s_namespace_list list = { 0 };
	char cont[K8S_MAX_CONTINUE + 1], err[200];

	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\","
		"\"metadata\":{\"resourceVersion\":\"198\",\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTk4fQ\","
		"\"remainingItemCount\":5},\"items\":[{\"metadata\":{\"name\":\"default\",\"labels\":{\"team\":\"a\"}},"
		"\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}},"
		"{\"metadata\":{\"name\":\"dying\",\"deletionTimestamp\":\"2026-11-29T09:48:03Z\"},"
		"\"status\":{\"phase\":\"Terminating\"}},"
		"{\"metadata\":{\"name\":\"going\",\"deletionTimestamp\":\"2026-11-29T09:48:03Z\"}},"
		"{\"metadata\":{\"name\":\"nostatus\"}}]}"), &list, cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_INT(list.count, 4);
	CHECK_EQ_STR(list.items[0].name, "default");
	CHECK_EQ_INT(list.items[0].terminating, 0);
	CHECK_EQ_STR(list.items[1].name, "dying");
	CHECK_EQ_INT(list.items[1].terminating, 1);
	CHECK_EQ_INT(list.items[2].terminating, 1);
	CHECK_EQ_INT(list.items[3].terminating, 0);
	CHECK_EQ_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTk4fQ");

	/* the last page: no continue, or an empty one; items appended */
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"metadata\":{\"continue\":\"\"},\"items\":"
		"[{\"metadata\":{\"name\":\"kube-system\"}}]}"), &list, cont, sizeof cont, err, sizeof err), 0);
	CHECK_EQ_STR(cont, "");
	CHECK_EQ_INT(list.count, 5);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"metadata\":{},\"items\":null}"), &list, cont, sizeof cont,
		err, sizeof err), 0);
	CHECK_EQ_INT(list.count, 5);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":[]}"), &list, cont, sizeof cont, err, sizeof err), 0);

	/* hostile pages */
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":{}}"), &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK(strstr(err, "items") != NULL);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{}"), &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("nope"), &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":[{\"metadata\":{\"name\":\"../secrets\"}}]}"),
		&list, cont, sizeof cont, err, sizeof err), -1);
	CHECK(strstr(err, "valid name") != NULL);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":[{\"metadata\":{\"name\":\"UPPER\"}}]}"),
		&list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":[{\"metadata\":{}}]}"),
		&list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"items\":[7]}"), &list, cont, sizeof cont, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"metadata\":{\"continue\":\"a b\"},\"items\":[]}"),
		&list, cont, sizeof cont, err, sizeof err), -1);
	CHECK(strstr(err, "printable") != NULL);
	{
		char small[8];
		CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"metadata\":{\"continue\":\"12345678\"},\"items\":[]}"),
			&list, small, sizeof small, err, sizeof err), -1);
		CHECK(strstr(err, "longer than 7") != NULL);
		CHECK_EQ_INT(k8s_parse_namespace_page(S("{\"metadata\":{\"continue\":\"1234567\"},\"items\":[]}"),
			&list, small, sizeof small, err, sizeof err), 0);
		CHECK_EQ_STR(small, "1234567");
	}
	CHECK_EQ_INT(list.count, 5);
	k8s_namespace_list_free(&list);
	CHECK_EQ_INT(list.count, 0);
	CHECK(list.items == NULL);
}

/* The merge writes back everything it read, and only adds one entry. */
static void test_sa_merge(void)
{
	char *out = NULL, err[200];
	cJSON *doc, *list;

	/* others' entries kept in order, ours appended, managedFields dropped */
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"kind\":\"ServiceAccount\",\"apiVersion\":\"v1\","
		"\"metadata\":{\"name\":\"default\",\"namespace\":\"ns1\",\"resourceVersion\":\"42\","
		"\"managedFields\":[{\"manager\":\"kubectl\"}]},\"secrets\":[{\"name\":\"default-token-x\"}],"
		"\"imagePullSecrets\":[{\"name\":\"zeta\"},{\"name\":\"alpha\"},{\"name\":\"zeta\"}]}"),
		"ecr-creds", &out, err, sizeof err), 1);
	CHECK(out != NULL);
	doc = cJSON_Parse(out);
	CHECK(doc != NULL);
	list = cJSON_GetObjectItemCaseSensitive(doc, "imagePullSecrets");
	CHECK_EQ_INT(cJSON_GetArraySize(list), 4);
	CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "name")->valuestring, "zeta");
	CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "name")->valuestring, "alpha");
	CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 2), "name")->valuestring, "zeta");
	CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 3), "name")->valuestring, "ecr-creds");
	CHECK_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "resourceVersion")->valuestring, "42");
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "managedFields") == NULL);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "secrets")), 1);
	cJSON_Delete(doc);
	free(out);

	/* already present (anywhere in the list): no write */
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"d\","
		"\"resourceVersion\":\"1\"},\"imagePullSecrets\":[{\"name\":\"x\"},{\"name\":\"ecr-creds\"}]}"),
		"ecr-creds", &out, err, sizeof err), 0);
	CHECK(out == NULL);

	/* no list yet, or null */
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"d\","
		"\"resourceVersion\":\"1\"}}"), "ecr-creds", &out, err, sizeof err), 1);
	CHECK(out && strstr(out, "\"imagePullSecrets\":[{\"name\":\"ecr-creds\"}]") != NULL);
	free(out);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":{\"resourceVersion\":\"1\"},"
		"\"imagePullSecrets\":null}"), "ecr-creds", &out, err, sizeof err), 1);
	CHECK(out && strstr(out, "\"imagePullSecrets\":[{\"name\":\"ecr-creds\"}]") != NULL);
	free(out);

	/* entries of odd shape are kept, never matched */
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":{\"resourceVersion\":\"1\"},"
		"\"imagePullSecrets\":[{},7,{\"name\":5},{\"name\":\"ecr-creds-2\"}]}"), "ecr-creds", &out, err,
		sizeof err), 1);
	doc = out ? cJSON_Parse(out) : NULL;
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "imagePullSecrets")), 5);
	cJSON_Delete(doc);
	free(out);

	/* refused */
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":{\"name\":\"d\"}}"), "s", &out, err, sizeof err), -1);
	CHECK(strstr(err, "resourceVersion") != NULL);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":{\"resourceVersion\":\"\"}}"), "s", &out, err,
		sizeof err), -1);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"kind\":\"Secret\",\"metadata\":{\"resourceVersion\":\"1\"}}"),
		"s", &out, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":{\"resourceVersion\":\"1\"},\"imagePullSecrets\":"
		"{\"name\":\"s\"}}"), "s", &out, err, sizeof err), -1);
	CHECK(strstr(err, "not a list") != NULL);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("[]"), "s", &out, err, sizeof err), -1);
	CHECK_EQ_INT(k8s_sa_add_pull_secret(S("{\"metadata\":"), "s", &out, err, sizeof err), -1);
	CHECK(out == NULL);
}

static void test_query_encode(void)
{
	char out[64];

	CHECK_EQ_INT(k8s_query_encode("team=a,tier in (web, db),!legacy", out, sizeof out), 52);
	CHECK_EQ_STR(out, "team%3Da%2Ctier%20in%20%28web%2C%20db%29%2C%21legacy");
	CHECK_EQ_INT(k8s_query_encode("app.kubernetes.io/name!=x_y-z~", out, sizeof out), 36);
	CHECK_EQ_STR(out, "app.kubernetes.io%2Fname%21%3Dx_y-z~");
	CHECK_EQ_INT(k8s_query_encode("", out, sizeof out), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(k8s_query_encode("a+b&c#\xc3\xa9", out, sizeof out), 18);
	CHECK_EQ_STR(out, "a%2Bb%26c%23%C3%A9");
	/* exact fits and one byte short */
	CHECK_EQ_INT(k8s_query_encode("abc", out, 4), 3);
	CHECK_EQ_INT(k8s_query_encode("abcd", out, 4), -1);
	CHECK_EQ_INT(k8s_query_encode("=", out, 4), 3);
	CHECK_EQ_STR(out, "%3D");
	CHECK_EQ_INT(k8s_query_encode("=", out, 3), -1);
	CHECK_EQ_INT(k8s_query_encode("a", out, 1), -1);
}

static struct config_list make_list(char **items, size_t count)
{
	struct config_list l = { items, count };
	return l;
}

static struct k8s_namespace_list listing(const char *const *names, const int *terminating, size_t n)
{
	struct k8s_namespace_list l = { 0 };

	for (size_t i = 0; i < n; i++)
		k8s_namespace_list_add(&l, names[i], terminating ? terminating[i] : 0);
	return l;
}

static void names_of(const struct k8s_namespace_list *l, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < l->count; i++) {
		strncat(out, i ? "," : "", size - strlen(out) - 1);
		strncat(out, l->items[i].name, size - strlen(out) - 1);
		if (l->items[i].terminating)
			strncat(out, "!", size - strlen(out) - 1);
	}
}

static void test_targets(void)
{
	static const char *const cluster[] = { "team-b", "default", "team-a", "kube-system", "dying", "team-c" };
	static const int phases[] = { 0, 0, 0, 0, 1, 0 };
	static const char *const labelled[] = { "team-a", "other", "dying" };
	static const int labelled_phases[] = { 0, 0, 1 };
	struct k8s_namespace_list all = listing(cluster, phases, 6), sel = listing(labelled, labelled_phases, 3);
	struct k8s_namespace_list out = { 0 };
	char text[256];
	char *n1[] = { "zeta", "team-*", "alpha", "zeta", "team-a" };
	char *x1[] = { "team-c", "nomatch-*" };
	char *n2[] = { "dying", "app" };
	char *x2[] = { "*" };
	char *x3[] = { "team-[ab]" };
	struct config_list none = make_list(NULL, 0);
	struct config_list names1 = make_list(n1, 5), excl1 = make_list(x1, 2), names2 = make_list(n2, 2);
	struct config_list excl2 = make_list(x2, 1), excl3 = make_list(x3, 1);
	struct k8s_target_input in;

	CHECK_EQ_INT(k8s_names_need_list(&names1), 1);
	CHECK_EQ_INT(k8s_names_need_list(&names2), 0);
	CHECK_EQ_INT(k8s_names_need_list(&none), 0);
	CHECK_EQ_INT(k8s_names_need_list(NULL), 0);

	/* names + globs, duplicates merged, exclusions by name and glob, sorted */
	in = (struct k8s_target_input){ &names1, &excl1, "own", 0, &all, NULL };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "alpha,team-a,team-b,zeta");
	k8s_namespace_list_free(&out);

	/* a selector adds its namespaces; terminating marks survive merging */
	in = (struct k8s_target_input){ &names1, &excl1, NULL, 1, &all, &sel };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "alpha,dying!,other,team-a,team-b,zeta");
	k8s_namespace_list_free(&out);

	/* a selector alone: only its namespaces, not the pod's own */
	in = (struct k8s_target_input){ &none, &excl3, "own", 1, NULL, &sel };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "dying!,other");
	k8s_namespace_list_free(&out);

	/* nothing named: the pod's own namespace */
	in = (struct k8s_target_input){ &none, &none, "own", 0, NULL, NULL };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "own");
	k8s_namespace_list_free(&out);

	/* plain names need no listing; with one, a terminating plain name is marked */
	in = (struct k8s_target_input){ &names2, NULL, NULL, 0, NULL, NULL };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "app,dying");
	k8s_namespace_list_free(&out);
	in = (struct k8s_target_input){ &names2, NULL, NULL, 0, &all, NULL };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "app,dying!");
	k8s_namespace_list_free(&out);

	/* everything excluded: empty */
	in = (struct k8s_target_input){ &names1, &excl2, NULL, 1, &all, &sel };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	CHECK_EQ_INT(out.count, 0);
	k8s_namespace_list_free(&out);

	/* a glob with no listing matches nothing */
	in = (struct k8s_target_input){ &names1, NULL, NULL, 0, NULL, NULL };
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	names_of(&out, text, sizeof text);
	CHECK_EQ_STR(text, "alpha,team-a,zeta");
	k8s_namespace_list_free(&out);

	k8s_namespace_list_free(&all);
	k8s_namespace_list_free(&sel);
}

/* A large target set stays sorted and unique. */
static void test_targets_many(void)
{
	struct k8s_namespace_list all = { 0 }, out = { 0 };
	char *names[] = { "ns-*", "ns-0001" };
	char *excl[] = { "ns-1???" };
	struct config_list n = make_list(names, 2), x = make_list(excl, 1);
	struct k8s_target_input in = { &n, &x, NULL, 0, &all, NULL };
	int sorted = 1;

	for (int i = 1999; i >= 0; i--) {
		char name[16];
		snprintf(name, sizeof name, "ns-%04d", i);
		k8s_namespace_list_add(&all, name, 0);
	}
	CHECK_EQ_INT(k8s_resolve_targets(&in, &out), 0);
	CHECK_EQ_INT(out.count, 1000);
	for (size_t i = 1; i < out.count; i++)
		sorted &= strcmp(out.items[i - 1].name, out.items[i].name) < 0;
	CHECK(sorted);
	CHECK_EQ_STR(out.items[0].name, "ns-0000");
	CHECK_EQ_STR(out.items[999].name, "ns-0999");
	k8s_namespace_list_free(&out);
	k8s_namespace_list_free(&all);
}

int main(void)
{
	test_status();
	test_namespace_page();
	test_sa_merge();
	test_query_encode();
	test_targets();
	test_targets_many();
	return UNIT_DONE();
}
