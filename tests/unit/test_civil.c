/*
 * test_civil: calendar arithmetic against known dates, RFC 3339 in and out, SigV4's basic
 * format, and a round trip over four centuries.
 */
#include <string.h>

#include "civil.h"
#include "unit.h"

static void test_parse_rfc3339(void)
{
	static const struct { const char *in; long long want; int ok; } rows[] = {
		{ "1970-01-01T00:00:00Z", 0, 1 },
		{ "2014-10-24T23:00:23Z", 1414191623, 1 },
		{ "2014-10-24t23:00:23z", 1414191623, 1 },
		{ "2014-10-24T23:00:23.999999Z", 1414191623, 1 },
		{ "2014-10-25T01:00:23+02:00", 1414191623, 1 },
		{ "2014-10-24T20:30:23-02:30", 1414191623, 1 },
		{ "2000-02-29T00:00:00Z", 951782400, 1 },
		{ "2100-03-01T00:00:00Z", 4107542400LL, 1 },
		{ "1969-12-31T23:59:59Z", -1, 1 },
		{ "2001-02-29T00:00:00Z", 0, 0 },
		{ "2014-13-01T00:00:00Z", 0, 0 },
		{ "2014-10-24T24:00:00Z", 0, 0 },
		{ "2014-10-24 23:00:23Z", 0, 0 },
		{ "2014-10-24T23:00:23", 0, 0 },
		{ "2014-10-24T23:00:23.Z", 0, 0 },
		{ "2014-10-24T23:00:23Zx", 0, 0 },
		{ "2014-10-24T23:00:23+0200", 0, 0 },
		{ "2014-10-24", 0, 0 },
		{ "", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		long long t = 12345;
		int rc = civil_parse_rfc3339(rows[i].in, &t);
		CHECK_EQ_INT(rc, rows[i].ok ? 0 : -1);
		if (rows[i].ok)
			CHECK_EQ_INT(t, rows[i].want);
	}
}

static void test_days(void)
{
	long long y;
	unsigned m, d;

	CHECK_EQ_INT(civil_days(1970, 1, 1), 0);
	CHECK_EQ_INT(civil_days(2000, 3, 1), 11017);
	CHECK_EQ_INT(civil_days(1969, 12, 31), -1);
	CHECK_EQ_INT(civil_days(0, 1, 1), -719528);
	CHECK_EQ_INT(civil_days(9999, 12, 31), 2932896);
	/* every day of 1600..2400 goes there and back */
	for (long long days = civil_days(1600, 1, 1); days <= civil_days(2400, 12, 31); days++) {
		civil_from_days(days, &y, &m, &d);
		if (civil_days(y, m, d) != days || !civil_valid_date(y, m, d)) {
			CHECK_EQ_INT(civil_days(y, m, d), days);
			break;
		}
	}
	civil_from_days(11016, &y, &m, &d);
	CHECK(y == 2000 && m == 2 && d == 29);
}

static void test_valid_date(void)
{
	CHECK(civil_valid_date(2000, 2, 29));
	CHECK(civil_valid_date(2024, 2, 29));
	CHECK(!civil_valid_date(1900, 2, 29));
	CHECK(!civil_valid_date(2023, 2, 29));
	CHECK(!civil_valid_date(2023, 4, 31));
	CHECK(civil_valid_date(2023, 12, 31));
	CHECK(!civil_valid_date(2023, 13, 1));
	CHECK(!civil_valid_date(2023, 0, 1));
	CHECK(!civil_valid_date(2023, 1, 0));
}

static void test_format(void)
{
	char out[32], basic[17];
	long long back;

	CHECK_EQ_INT(civil_format_rfc3339(0, out, sizeof out), 0);
	CHECK_EQ_STR(out, "1970-01-01T00:00:00Z");
	CHECK_EQ_INT(civil_format_rfc3339(1414191623, out, sizeof out), 0);
	CHECK_EQ_STR(out, "2014-10-24T23:00:23Z");
	CHECK_EQ_INT(civil_format_rfc3339(-1, out, sizeof out), 0);
	CHECK_EQ_STR(out, "1969-12-31T23:59:59Z");
	CHECK_EQ_INT(civil_format_rfc3339(253402300799LL, out, sizeof out), 0);
	CHECK_EQ_STR(out, "9999-12-31T23:59:59Z");
	CHECK_EQ_INT(civil_format_rfc3339(253402300800LL, out, sizeof out), -1);
	CHECK_EQ_INT(civil_format_rfc3339(-62167219201LL, out, sizeof out), -1);
	CHECK_EQ_INT(civil_format_rfc3339(0, out, 20), -1);
	CHECK_EQ_INT(civil_format_rfc3339(951782400, out, sizeof out), 0);
	CHECK_EQ_INT(civil_parse_rfc3339(out, &back), 0);
	CHECK_EQ_INT(back, 951782400);

	civil_format_basic(1440938160, basic);
	CHECK_EQ_STR(basic, "20150830T123600Z");
	civil_format_basic(-99999999999999LL, basic);
	CHECK_EQ_STR(basic, "00000101T000000Z");
	civil_format_basic(99999999999999LL, basic);
	CHECK_EQ_STR(basic, "99991231T235959Z");
}

int main(void)
{
	test_parse_rfc3339();
	test_days();
	test_valid_date();
	test_format();
	return UNIT_DONE();
}
