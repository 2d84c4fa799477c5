/*
 * test_k8s: the API server client without a cluster. What k8s_client_check refuses as
 * configuration (addresses, credentials in the URL, ServiceAccount files that are no
 * regular file), what k8s_client_open makes of the token and ca.crt (the exit codes), and
 * a call to a port that refuses connections: retried until the deadline, then failed as a
 * connectivity failure that stops the other requests, the token never in the reason. The
 * calls against a real kube-apiserver are tests/e2e/test_k8s_e2e.py.
 */
#include <stdio.h>
#include <string.h>

#include "exitcode.h"
#include "k8s.h"
#include "k8sdir.h"
#include "log.h"
#include "net.h"
#include "ports.h"
#include "testca.h"
#include "unit.h"

static void check_refused(const char *args, const char *want)
{
	struct config cfg;
	char err[512] = "";

	CHECK_EQ_INT(parse_args(&cfg, args, err, sizeof err), CONFIG_OK);
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), EXIT_CONFIG);
	if (!strstr(err, want))
		CHECK_EQ_STR(err, want);
	config_free(&cfg);
}

static void test_check(void)
{
	struct config cfg;
	char err[512], want[600];

	check_refused("--api-server https://127.0.0.1:6443/?x", "--api-server must not have a query or fragment");
	check_refused("--api-server https://u:p@127.0.0.1:6443", "--api-server must not hold credentials");
	check_refused("--namespaces a", "KUBERNETES_SERVICE_HOST is not set (not in a pod?): use --api-server");
	/* no bearer token in cleartext: plain http only to this machine */
	check_refused("--api-server http://10.1.2.3:8001", "http:// is allowed only to loopback");
	check_refused("--api-server http://kubernetes.default:80", "http:// is allowed only to loopback");
	check_refused("--api-server http://[fd00::1]:8001", "http:// is allowed only to loopback");
	check_refused("--serviceaccount-dir /nonexistent/sa --api-server https://127.0.0.1:6443",
	              "ServiceAccount folder /nonexistent/sa does not exist");

	sa_file("token", "tok");
	sa_file("ca.crt", "");
	CHECK_EQ_INT(parse_args(&cfg, "--api-server https://127.0.0.1:6443", err, sizeof err), CONFIG_OK);
	/* a ca.crt without a certificate could never verify the server: 4, before AWS */
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), EXIT_KUBERNETES);
	CHECK(strstr(err, "ca.crt") != NULL);
	sa_file("ca.crt", "not a certificate\n");
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), EXIT_KUBERNETES);
	sa_file("ca.crt", ec_ca_pem);
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), 0);
	/* a token that blocks or floods is configuration, found before the network */
	sa_fifo("token");
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), EXIT_CONFIG);
	snprintf(want, sizeof want, "%s/token: not a regular file", sa_dir);
	CHECK_EQ_STR(err, want);
	sa_file("token", NULL);
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), 0);   /* missing: no token sent */
	sa_fifo("ca.crt");
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), EXIT_CONFIG);
	snprintf(want, sizeof want, "%s/ca.crt: not a regular file", sa_dir);
	CHECK_EQ_STR(err, want);
	config_free(&cfg);
	/* a plain-http API server (kubectl proxy) reads no ca.crt */
	CHECK_EQ_INT(parse_args(&cfg, "--api-server http://127.0.0.1:8001", err, sizeof err), CONFIG_OK);
	CHECK_EQ_INT(k8s_client_check(&cfg, err, sizeof err), 0);
	config_free(&cfg);
	sa_file("ca.crt", NULL);
}

static void test_open(void)
{
	struct k8s_client *client = NULL;
	struct config cfg;
	char err[256];

	CHECK_EQ_INT(parse_args(&cfg, "--api-server https://127.0.0.1:6443", err, sizeof err), CONFIG_OK);
	sa_file("token", "tok");
	/* https needs the cluster CA */
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), EXIT_KUBERNETES);
	CHECK(client == NULL);
	config_free(&cfg);

	CHECK_EQ_INT(parse_args(&cfg, "--api-server http://127.0.0.1:8001", err, sizeof err), CONFIG_OK);
	sa_fifo("token");
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), EXIT_CONFIG);
	sa_file("token", "two words");
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), EXIT_KUBERNETES);
	sa_file("token", "\n");
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), EXIT_KUBERNETES);
	sa_file("token", NULL);
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), 0);
	CHECK(client != NULL);
	if (client)
		CHECK_EQ_STR(k8s_client_base(client), "http://127.0.0.1:8001");
	k8s_client_close(client);
	config_free(&cfg);

	CHECK_EQ_INT(parse_args(&cfg, "--api-server http://127.0.0.1:8001/ --field-manager a/b", err, sizeof err),
	             CONFIG_OK);
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, net_deadline_in(5000), &client), 0);
	if (client) {
		CHECK_EQ_STR(k8s_client_base(client), "http://127.0.0.1:8001");
		CHECK_EQ_STR(k8s_client_field_manager(client), "a%2Fb");
	}
	k8s_client_close(client);
	config_free(&cfg);
}

static void test_call_refused(void)
{
	static const struct k8s_request req = { "GET", "/api/v1/namespaces", "application/json", NULL, NULL, 0, 0 };
	struct k8s_client *client = NULL;
	struct k8s_conn *conn;
	struct k8s_reply r;
	struct config cfg;
	char args[128], err[256];
	unsigned requests = 0, retries = 0;
	int64_t start;
	int fd;
	unsigned port = refusing_port(&fd);

	CHECK(port != 0);
	snprintf(args, sizeof args, "--api-server http://127.0.0.1:%u --timeout 1", port);
	CHECK_EQ_INT(parse_args(&cfg, args, err, sizeof err), CONFIG_OK);
	sa_file("token", "secret-bearer-token");
	start = net_now_ms();
	CHECK_EQ_INT(k8s_client_open(&cfg, NULL, start + 1500, &client), 0);
	conn = client ? k8s_conn_new(client, 0, 1 << 17) : NULL;
	CHECK(conn != NULL);
	if (conn) {
		CHECK_EQ_INT(k8s_call(conn, &req, &r), -1);
		CHECK(k8s_failure_is_connectivity(r.failure));
		CHECK_EQ_INT(r.status, 0);
		CHECK(r.reason[0] != '\0' && strstr(r.reason, "secret-bearer-token") == NULL);
		CHECK(net_now_ms() - start < 3000);
		/* before any write, that failure stops every other request at once */
		if (r.failure == K8S_FAIL_UNREACHABLE) {
			CHECK_EQ_INT(k8s_call(conn, &req, &r), -1);
			CHECK_EQ_INT(r.failure, K8S_FAIL_UNREACHABLE);
		}
		k8s_conn_free(conn);
		k8s_client_counts(client, &requests, &retries);
		CHECK(requests >= 1);
		CHECK_EQ_INT(k8s_client_writes(client), 0);
	}
	k8s_client_close(client);
	config_free(&cfg);
	close(fd);
	sa_file("token", NULL);
}

static void test_reply_text(void)
{
	struct k8s_reply r;
	char text[128];

	memset(&r, 0, sizeof r);
	r.status = 409;
	snprintf(r.st.reason, sizeof r.st.reason, "Conflict");
	snprintf(r.st.message, sizeof r.st.message, "Apply failed with 1 conflict");
	k8s_reply_text(&r, text, sizeof text);
	CHECK_EQ_STR(text, "409 Conflict: Apply failed with 1 conflict");
	memset(&r, 0, sizeof r);
	r.status = 403;
	k8s_reply_text(&r, text, sizeof text);
	CHECK_EQ_STR(text, "403 error");
	k8s_reply_fail(&r, K8S_FAIL_OTHER, "URL too long");
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_STR(r.reason, "URL too long");
	CHECK(!k8s_failure_is_connectivity(K8S_FAIL_REFUSED));
	CHECK(k8s_failure_is_connectivity(K8S_FAIL_DEADLINE));
}

/* The pages of a list: the watch cache first, then etcd, then half the page on answers
 * over the limit; back to full size page by page. */
static void test_pages(void)
{
	struct k8s_page page = { 2000, 2000, 1 };
	struct k8s_reply big = { .failure = K8S_FAIL_TOO_LARGE }, down = { .failure = K8S_FAIL_UNREACHABLE };
	char q[3 * K8S_MAX_CONTINUE + 64];
	int asks = 0;

	CHECK_EQ_INT(k8s_page_query(&page, "", q, sizeof q), 0);
	CHECK_EQ_STR(q, "limit=2000&resourceVersion=0");
	CHECK_EQ_INT(k8s_page_query(&page, "a+b/c=", q, sizeof q), 0);
	CHECK_EQ_STR(q, "limit=2000&continue=a%2Bb%2Fc%3D");      /* the token names its version */
	CHECK_EQ_INT(k8s_page_query(&page, "x", q, 12), -1);
	CHECK_EQ_INT(k8s_page_shrink(&page, &down), 0);             /* only size is worth asking again */
	CHECK_EQ_INT(k8s_page_shrink(&page, &big), 1);
	CHECK(!page.cached && page.limit == 2000);
	CHECK_EQ_INT(k8s_page_query(&page, "", q, sizeof q), 0);
	CHECK_EQ_STR(q, "limit=2000");
	while (k8s_page_shrink(&page, &big))
		asks++;
	CHECK_EQ_INT(asks, 10);                                     /* 1000, 500, ..., 3, 1 */
	CHECK_EQ_INT(page.limit, 1);
	k8s_page_read(&page);
	CHECK_EQ_INT(page.limit, 2);
	for (int i = 0; i < 12; i++)
		k8s_page_read(&page);
	CHECK_EQ_INT(page.limit, 2000);
}

int main(void)
{
	test_pages();
	if (!mkdtemp(sa_dir))
		return 1;
	log_setup(LOG_JSON, LOG_ERROR);
	test_check();
	test_open();
	test_call_refused();
	test_reply_text();
	log_forget_secrets();
	sa_cleanup();
	return UNIT_DONE();
}
