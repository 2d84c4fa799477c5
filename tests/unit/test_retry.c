/*
 * test_retry: the backoff, Retry-After, the random numbers and the deadline-bound sleep.
 */
#include <stdint.h>

#include "net.h"
#include "retry.h"
#include "unit.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_backoff(void)
{
	int attempt;

	CHECK_EQ_INT(retry_backoff_ms(0, 100, 5000, 0xffffffffu), 100);
	CHECK_EQ_INT(retry_backoff_ms(1, 100, 5000, 0xffffffffu), 200);
	CHECK_EQ_INT(retry_backoff_ms(2, 100, 5000, 0xffffffffu), 400);
	CHECK_EQ_INT(retry_backoff_ms(5, 100, 5000, 0xffffffffu), 3200);
	CHECK_EQ_INT(retry_backoff_ms(6, 100, 5000, 0xffffffffu), 5000);
	CHECK_EQ_INT(retry_backoff_ms(1000, 100, 5000, 0xffffffffu), 5000);
	CHECK_EQ_INT(retry_backoff_ms(-3, 100, 5000, 0xffffffffu), 100);
	CHECK_EQ_INT(retry_backoff_ms(3, 100, 5000, 0x80000000u), 400);
	for (attempt = 0; attempt < 40; attempt++) {
		uint32_t r;
		for (r = 0; r < 0xfff00000u; r += 0x0fffffffu) {
			int64_t ms = retry_backoff_ms(attempt, 100, 5000, r);
			CHECK(ms >= 0 && ms <= 5000);
		}
		CHECK_EQ_INT(retry_backoff_ms(attempt, 100, 5000, 0), 0);
	}
}

static void test_retry_after(void)
{
	CHECK_EQ_INT(retry_after_seconds(S("1")), 1);
	CHECK_EQ_INT(retry_after_seconds(S("0")), 0);
	CHECK_EQ_INT(retry_after_seconds(S(" 120 ")), 120);
	CHECK_EQ_INT(retry_after_seconds(S("\t7")), 7);
	CHECK_EQ_INT(retry_after_seconds(S("99999999999999999999999")), 86400);
	CHECK_EQ_INT(retry_after_seconds(S("86401")), 86400);
	CHECK_EQ_INT(retry_after_seconds(S("")), -1);
	CHECK_EQ_INT(retry_after_seconds(S("   ")), -1);
	CHECK_EQ_INT(retry_after_seconds(S("-1")), -1);
	CHECK_EQ_INT(retry_after_seconds(S("1.5")), -1);
	CHECK_EQ_INT(retry_after_seconds(S("1 2")), -1);
	CHECK_EQ_INT(retry_after_seconds(S("Fri, 31 Dec 1999 23:59:59 GMT")), -1);
	CHECK_EQ_INT(retry_after_seconds(NULL, 0), -1);
	/* a view into a header block: only len bytes count */
	CHECK_EQ_INT(retry_after_seconds("5\r\nX: 9", 1), 5);
}

/* The base and cap are the caller's: the Kubernetes client backs off from 200 ms. */
static void test_backoff_other_base(void)
{
	CHECK_EQ_INT(retry_backoff_ms(0, 200, 5000, 0xffffffffu), 200);
	CHECK_EQ_INT(retry_backoff_ms(4, 200, 5000, 0xffffffffu), 3200);
	CHECK_EQ_INT(retry_backoff_ms(5, 200, 5000, 0xffffffffu), 5000);
	CHECK_EQ_INT(retry_backoff_ms(2, 200, 5000, 0x40000000u), 200);
}

static void test_wait(void)
{
	CHECK_EQ_INT(retry_wait_ms(-1, 10, 1234), 1234);
	CHECK_EQ_INT(retry_wait_ms(0, 10, 1234), 0);
	CHECK_EQ_INT(retry_wait_ms(3, 10, 1234), 3000);
	CHECK_EQ_INT(retry_wait_ms(86400, 10, 1234), 10000);
}

static void test_random(void)
{
	uint64_t a, b, z = 0x9e3779b97f4a7c15ull;
	uint32_t first;
	int differ = 0;

	retry_seed(&a, 1);
	retry_seed(&b, 2);
	CHECK(a != 0 && b != 0);
	CHECK(a != b);
	first = retry_random(&z);
	for (int i = 0; i < 16; i++)
		differ |= retry_random(&z) != first;
	CHECK(differ);
	CHECK(z != 0);
}

static void test_sleep(void)
{
	int64_t start = net_now_ms();

	/* a wait that would end past the deadline is refused at once */
	CHECK_EQ_INT(retry_sleep(10000, start + 5000), -1);
	CHECK(net_now_ms() - start < 1000);
	CHECK_EQ_INT(retry_sleep(20, start + 60000), 0);
	CHECK(net_now_ms() - start >= 20);
	CHECK_EQ_INT(retry_sleep(0, start + 60000), 0);
}

int main(void)
{
	test_backoff();
	test_backoff_other_base();
	test_retry_after();
	test_wait();
	test_random();
	test_sleep();
	return UNIT_DONE();
}
