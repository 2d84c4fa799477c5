/*
 * civil: dates of the proleptic Gregorian calendar and their RFC 3339 / ISO 8601 texts,
 * one copy for every module that reads or writes a time (aws expirations, tls validity,
 * sigv4's X-Amz-Date, the Secret's expires-at annotation). Pure: no clock, no allocation,
 * no time zone but UTC. Algorithms: H. Hinnant, "chrono-Compatible Low-Level Date
 * Algorithms".
 */
#ifndef CIVIL_H
#define CIVIL_H

#include <stddef.h>

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; not checked). */
long long civil_days(long long y, unsigned m, unsigned d);

/* The inverse: the date of a day count since 1970-01-01. */
void civil_from_days(long long days, long long *y, unsigned *m, unsigned *d);

/* 1 when y-m-d is a real date (month length, 29 February in leap years only). */
int civil_valid_date(long long y, unsigned m, unsigned d);

/* RFC 3339 section 5.6 date-time ('T' or 't', optional fraction, 'Z' or +hh:mm / -hh:mm)
 * to UNIX seconds, the fraction dropped. Returns 0, or -1 for anything else. */
int civil_parse_rfc3339(const char *s, long long *out);

/* "YYYY-MM-DDTHH:MM:SSZ" of UNIX seconds, years 0000..9999. Returns 0, or -1 when out of
 * that range or cap < 21. */
int civil_format_rfc3339(long long seconds, char *out, size_t cap);

/* ISO 8601 basic format "YYYYMMDDTHHMMSSZ" (16 characters and a NUL), clamped to years
 * 0000..9999: SigV4's X-Amz-Date. */
void civil_format_basic(long long seconds, char out[17]);

#endif
