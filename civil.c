/*
 * civil: calendar arithmetic and RFC 3339 texts; see civil.h.
 */
#include "civil.h"

#define FIRST_SECOND (-62167219200LL)   /* 0000-01-01T00:00:00Z */
#define LAST_SECOND  253402300799LL     /* 9999-12-31T23:59:59Z */

long long civil_days(long long y, unsigned m, unsigned d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (long long)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void civil_from_days(long long days, long long *y, unsigned *m, unsigned *d)
{
	long long era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int civil_valid_date(long long y, unsigned m, unsigned d)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return !(m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The zone of a date-time: 'Z', or an offset added to *t. Returns the rest, or NULL. */
static const char *parse_zone(const char *p, long long *t)
{
	int oh, om;

	if (*p == 'Z' || *p == 'z')
		return p + 1;
	if (*p != '+' && *p != '-')
		return 0;
	if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
		return 0;
	*t += (*p == '+' ? -1 : 1) * (oh * 3600 + om * 60);
	return p + 6;
}

int civil_parse_rfc3339(const char *s, long long *out)
{
	int y, mo, d, h, mi, sec;
	long long t;
	const char *p;

	/* RFC 3339 section 5.6: date-time = full-date "T" full-time. */
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-'
	    || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h)
	    || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (!civil_valid_date(y, (unsigned)mo, (unsigned)d) || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	t = civil_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	p = parse_zone(p, &t);
	if (!p || *p)
		return -1;
	*out = t;
	return 0;
}

static void put_digits(char *out, long long v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Splits seconds into a date and the seconds of its day (>= 0). */
static void split(long long seconds, long long *y, unsigned *m, unsigned *d, long long *secs)
{
	long long days = seconds / 86400;

	*secs = seconds % 86400;
	if (*secs < 0) {
		*secs += 86400;
		days--;
	}
	civil_from_days(days, y, m, d);
}

int civil_format_rfc3339(long long seconds, char *out, size_t cap)
{
	long long y, secs;
	unsigned m, d;

	if (seconds < FIRST_SECOND || seconds > LAST_SECOND || cap < 21)
		return -1;
	split(seconds, &y, &m, &d, &secs);
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, secs / 3600, 2);
	out[13] = ':';
	put_digits(out + 14, secs / 60 % 60, 2);
	out[16] = ':';
	put_digits(out + 17, secs % 60, 2);
	out[19] = 'Z';
	out[20] = '\0';
	return 0;
}

void civil_format_basic(long long seconds, char out[17])
{
	long long y, secs;
	unsigned m, d;

	if (seconds < FIRST_SECOND)
		seconds = FIRST_SECOND;
	if (seconds > LAST_SECOND)
		seconds = LAST_SECOND;
	split(seconds, &y, &m, &d, &secs);
	put_digits(out, y, 4);
	put_digits(out + 4, m, 2);
	put_digits(out + 6, d, 2);
	out[8] = 'T';
	put_digits(out + 9, secs / 3600, 2);
	put_digits(out + 11, secs / 60 % 60, 2);
	put_digits(out + 13, secs % 60, 2);
	out[15] = 'Z';
	out[16] = '\0';
}
