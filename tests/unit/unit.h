/*
 * unit.h: the smallest test harness that says what failed.
 *
 *   CHECK(cond)                 counts a pass or prints file:line and the condition
 *   CHECK_EQ_INT(a, b)          ... with both values
 *   CHECK_EQ_STR(a, b)          ... with both strings (NULL-safe)
 *   CHECK_EQ_MEM(a, alen, b, blen)
 *   return UNIT_DONE();         prints "NAME: N passed, M failed", exit status 0 or 1
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long unit_a_ = (long long)(a), unit_b_ = (long long)(b); \
	if (unit_a_ == unit_b_) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
		__FILE__, __LINE__, #a, #b, unit_a_, unit_b_); } \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
	const char *unit_a_ = (a), *unit_b_ = (b); \
	if (unit_a_ && unit_b_ && strcmp(unit_a_, unit_b_) == 0) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: %s == %s failed:\n  got      [%s]\n  expected [%s]\n", \
		__FILE__, __LINE__, #a, #b, unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); } \
} while (0)

#define CHECK_EQ_MEM(a, alen, b, blen) do { \
	size_t unit_al_ = (alen), unit_bl_ = (blen); \
	if (unit_al_ == unit_bl_ && memcmp((a), (b), unit_al_) == 0) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "%s:%d: %s == %s failed: [%.*s] != [%.*s]\n", \
		__FILE__, __LINE__, #a, #b, (int)unit_al_, (const char *)(a), (int)unit_bl_, (const char *)(b)); } \
} while (0)

#define UNIT_DONE() (printf("%s: %d passed, %d failed\n", __FILE__, unit_passed, unit_failed), \
	unit_failed ? 1 : 0)

#endif
