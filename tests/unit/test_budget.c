/*
 * test_budget: the byte semaphore of the Kubernetes answers (bases, takes that wait, fail
 * at once, or time out; a waiter woken by a give) and the cJSON ceiling.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "budget.h"
#include "net.h"
#include "unit.h"

static void test_reserve_and_take(void)
{
	struct budget b;

	CHECK_EQ_INT(budget_init(&b, 100), 0);
	CHECK_EQ_INT(budget_reserve(&b, 60), 0);
	CHECK_EQ_INT(budget_reserve(&b, 41), -1);       /* bases never wait: it does not fit now */
	CHECK_EQ_INT(budget_take(&b, 41, net_now_ms() + 1000), -1);     /* can never fit */
	CHECK_EQ_INT(budget_take(&b, 30, net_now_ms() + 1000), 0);
	CHECK_EQ_INT(budget_take(&b, 20, net_now_ms() + 50), -2);       /* fits later, not in time */
	budget_give(&b, 30);
	CHECK_EQ_INT(budget_take(&b, 40, net_now_ms()), 0);
	CHECK_EQ_INT(budget_reserve(&b, 1), -1);
	budget_give(&b, 1000);                         /* more than taken: clamps, no wrap */
	CHECK_EQ_INT(b.taken, 0);
	budget_unreserve(&b, 1000);
	CHECK_EQ_INT(b.reserved, 0);
	CHECK_EQ_INT(budget_reserve(&b, 100), 0);
	budget_unreserve(&b, 100);
	budget_destroy(&b);
}

struct holder {
	struct budget *b;
	int gave;
};

static void *give_later(void *arg)
{
	struct holder *h = arg;

	usleep(100 * 1000);
	h->gave = 1;
	budget_give(h->b, 70);
	return NULL;
}

/* A take that waits is woken by another thread's give, before its deadline. */
static void test_waiter_woken(void)
{
	struct budget b;
	struct holder h = { &b, 0 };
	pthread_t t;
	int64_t start;

	CHECK_EQ_INT(budget_init(&b, 100), 0);
	CHECK_EQ_INT(budget_take(&b, 70, net_now_ms()), 0);
	CHECK_EQ_INT(pthread_create(&t, NULL, give_later, &h), 0);
	start = net_now_ms();
	CHECK_EQ_INT(budget_take(&b, 50, start + 10000), 0);
	CHECK(h.gave);
	CHECK(net_now_ms() - start < 9000);
	pthread_join(t, NULL);
	budget_destroy(&b);
}

/* Past the ceiling a parse fails like a malformed one; what was freed is given back. */
static void test_json_ceiling(void)
{
	static char text[64 * 1024];
	size_t n = 0;
	cJSON *doc;

	budget_json_install(16 * 1024);
	doc = cJSON_Parse("{\"small\":[1,2,3]}");
	CHECK(doc != NULL);
	cJSON_Delete(doc);
	text[n++] = '[';
	while (n < sizeof text - 3) {
		text[n++] = '0';
		text[n++] = ',';
	}
	text[n++] = '0';
	text[n++] = ']';
	text[n] = '\0';
	CHECK(cJSON_Parse(text) == NULL);              /* ~16,000 values: far over 16 KiB of tree */
	CHECK(budget_json_peak() <= 16 * 1024);
	doc = cJSON_Parse("{\"small\":[1,2,3]}");      /* the failed parse gave its bytes back */
	CHECK(doc != NULL);
	cJSON_Delete(doc);
}

int main(void)
{
	test_reserve_and_take();
	test_waiter_woken();
	test_json_ceiling();
	return UNIT_DONE();
}
