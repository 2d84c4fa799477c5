/*
 * log: JSON lines that parse, escaping, invalid UTF-8, numeric fields, levels, the text
 * format, truncation, redaction (raw, escaped and across fields), whole lines from
 * several threads. fd 2 goes to a temporary file while lines are written; checks run
 * after it is restored, so a failure message is never captured.
 */
#include "log.h"
#include "unit.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *capture_file;
static int saved_stderr = -1;

static void capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	if (capture_file == NULL) {
		perror("tmpfile");
		exit(1);
	}
	saved_stderr = dup(2);
	dup2(fileno(capture_file), 2);
}

/* Restores fd 2 and returns what was written (heap, NUL-terminated). */
static char *capture_end(size_t *len_out)
{
	long size;
	char *text;
	size_t n;

	dup2(saved_stderr, 2);
	close(saved_stderr);
	fseek(capture_file, 0, SEEK_END);
	size = ftell(capture_file);
	rewind(capture_file);
	text = malloc((size_t)size + 1);
	n = fread(text, 1, (size_t)size, capture_file);
	text[n] = '\0';
	fclose(capture_file);
	if (len_out)
		*len_out = n;
	return text;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* A JSON line as parsed by cJSON, or NULL; the line must be one object and one '\n'. */
static cJSON *parse_line(const char *line)
{
	size_t n = strlen(line);

	if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1) != NULL)
		return NULL;
	return cJSON_ParseWithOpts(line, NULL, 1);
}

static const char *field(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* "2026-11-29T10:00:00.123Z" */
static int is_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	}
	return 1;
}

/* The line after its timestamp: JSON lines start {"ts":"<24>", text lines with it. */
static const char *after_ts_json(const char *line)
{
	if (strncmp(line, "{\"ts\":\"", 7) != 0 || !is_timestamp(line + 7))
		return "(bad ts)";
	return line + 7 + 24;
}

static const char *after_ts_text(const char *line)
{
	if (!is_timestamp(line))
		return "(bad ts)";
	return line + 24;
}

static void test_json_basic(void)
{
	char *out;
	cJSON *obj;

	log_setup(LOG_JSON, LOG_INFO);
	capture_start();
	log_event(LOG_INFO, "secret applied", "namespace", "team-a", "result", "created", NULL);
	out = capture_end(NULL);
	CHECK_EQ_STR(after_ts_json(out),
		     "\",\"level\":\"info\",\"msg\":\"secret applied\",\"namespace\":\"team-a\",\"result\":\"created\"}\n");
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK_EQ_STR(field(obj, "level"), "info");
	CHECK_EQ_STR(field(obj, "msg"), "secret applied");
	CHECK_EQ_STR(field(obj, "namespace"), "team-a");
	CHECK(field(obj, "ts") && is_timestamp(field(obj, "ts")) && strlen(field(obj, "ts")) == 24);
	cJSON_Delete(obj);
	free(out);

	/* numbers, a non-number under '#', null, no fields, NULL msg */
	capture_start();
	log_event(LOG_INFO, "done", "#namespaces", "30", "#seconds", "0.412", "#bad", "3x", "#exp", "-1.5e+3",
		  "#zero", "0", "#lead", "01", "missing", NULL, NULL);
	log_event(LOG_INFO, NULL, NULL);
	out = capture_end(NULL);
	{
		char *second = strchr(out, '\n') + 1;
		second[-1] = '\0';
		CHECK_EQ_STR(after_ts_json(out),
			     "\",\"level\":\"info\",\"msg\":\"done\",\"namespaces\":30,\"seconds\":0.412,\"bad\":\"3x\","
			     "\"exp\":-1.5e+3,\"zero\":0,\"lead\":\"01\",\"missing\":null}");
		CHECK_EQ_STR(after_ts_json(second), "\",\"level\":\"info\",\"msg\":\"\"}\n");
		second[-1] = '\n';
	}
	obj = cJSON_Parse(out);
	CHECK(obj != NULL);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(obj, "namespaces")) &&
	      cJSON_GetObjectItem(obj, "namespaces")->valueint == 30);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(obj, "missing")));
	cJSON_Delete(obj);
	free(out);
}

static void test_json_escaping(void)
{
	static const char msg[] = "say \"hi\" \\ path\n\t\r\x01\x1f\x7f end";
	char *out;
	cJSON *obj;

	log_setup(LOG_JSON, LOG_DEBUG);
	capture_start();
	log_event(LOG_INFO, msg, "k\"ey", "v\\al\"ue\n", NULL);
	out = capture_end(NULL);
	CHECK_EQ_STR(after_ts_json(out),
		     "\",\"level\":\"info\",\"msg\":\"say \\\"hi\\\" \\\\ path\\n\\t\\r\\u0001\\u001f\\u007f end\","
		     "\"k\\\"ey\":\"v\\\\al\\\"ue\\n\"}\n");
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK_EQ_STR(field(obj, "msg"), msg);
	CHECK_EQ_STR(field(obj, "k\"ey"), "v\\al\"ue\n");
	cJSON_Delete(obj);
	free(out);

	/* RFC 3629: each byte of an ill-formed sequence becomes U+FFFD; good UTF-8 stays */
	capture_start();
	log_event(LOG_INFO, "utf8",
		  "ok", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
		  "bad", "a\xff" "b",
		  "overlong", "\xc0\xaf",
		  "surrogate", "\xed\xa0\x80",
		  "toolarge", "\xf4\x90\x80\x80",
		  "cut", "x\xe2\x82",
		  "lonecont", "\x80y", NULL);
	out = capture_end(NULL);
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK_EQ_STR(field(obj, "ok"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
	CHECK_EQ_STR(field(obj, "bad"), "a\xef\xbf\xbd" "b");
	CHECK_EQ_STR(field(obj, "overlong"), "\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_EQ_STR(field(obj, "surrogate"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_EQ_STR(field(obj, "toolarge"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_EQ_STR(field(obj, "cut"), "x\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_EQ_STR(field(obj, "lonecont"), "\xef\xbf\xbdy");
	cJSON_Delete(obj);
	free(out);
}

static void test_levels(void)
{
	char *out;
	cJSON *obj;

	log_setup(LOG_JSON, LOG_WARN);
	CHECK_EQ_INT(log_enabled(LOG_DEBUG), 0);
	CHECK_EQ_INT(log_enabled(LOG_INFO), 0);
	CHECK_EQ_INT(log_enabled(LOG_WARN), 1);
	CHECK_EQ_INT(log_enabled(LOG_ERROR), 1);
	capture_start();
	log_event(LOG_DEBUG, "d", NULL);
	log_event(LOG_INFO, "i", NULL);
	log_event(LOG_WARN, "w", NULL);
	log_event(LOG_ERROR, "e", NULL);
	out = capture_end(NULL);
	CHECK_EQ_INT(count_lines(out), 2);
	CHECK(strstr(out, "\"level\":\"warn\",\"msg\":\"w\"}\n") != NULL);
	CHECK(strstr(out, "\"level\":\"error\",\"msg\":\"e\"}\n") != NULL);
	free(out);

	log_setup(LOG_JSON, LOG_DEBUG);
	CHECK_EQ_INT(log_enabled(LOG_DEBUG), 1);
	capture_start();
	log_event(LOG_DEBUG, "d", NULL);
	out = capture_end(NULL);
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK_EQ_STR(field(obj, "level"), "debug");
	cJSON_Delete(obj);
	free(out);

	log_setup(LOG_JSON, LOG_ERROR);
	capture_start();
	log_event(LOG_WARN, "w", NULL);
	log_event(LOG_ERROR, "e", NULL);
	out = capture_end(NULL);
	CHECK_EQ_INT(count_lines(out), 1);
	free(out);
}

static void test_text_format(void)
{
	char *out, *second;

	log_setup(LOG_TEXT, LOG_INFO);
	capture_start();
	log_event(LOG_INFO, "hello world", "key", "value", "key2", "quoted value", "empty", "", "eq", "a=b",
		  "quote", "say \"x\"", "nl", "a\nb", "#n", "30", "#bad", "3 x", "path", "/a/b:c", "utf8", "caf\xc3\xa9",
		  "null", NULL, NULL);
	log_event(LOG_WARN, "line\nbreak \"kept\" \\ too", NULL);
	log_event(LOG_ERROR, "e", NULL);
	out = capture_end(NULL);
	CHECK_EQ_INT(count_lines(out), 3);
	second = strchr(out, '\n') + 1;
	second[-1] = '\0';
	CHECK_EQ_STR(after_ts_text(out),
		     " INFO hello world key=value key2=\"quoted value\" empty=\"\" eq=\"a=b\" quote=\"say \\\"x\\\"\""
		     " nl=\"a\\nb\" n=30 bad=\"3 x\" path=/a/b:c utf8=caf\xc3\xa9 null=null");
	CHECK(strstr(second, " WARN line\\nbreak \"kept\" \\ too\n") == second + 24);
	CHECK(strstr(second, " ERROR e\n") != NULL);
	free(out);

	log_setup(LOG_TEXT, LOG_DEBUG);
	capture_start();
	log_event(LOG_DEBUG, "d", NULL);
	out = capture_end(NULL);
	CHECK_EQ_STR(after_ts_text(out), " DEBUG d\n");
	free(out);
}

#define SECRET_PLAIN "AKIDEXAMPLESECRET1"

static void test_redaction(void)
{
	static const char tricky[] = "pa\"ss\\wo\nrd";      /* needs escaping */
	static const char escaped_form[] = "\\u0001wxyz";   /* literally what \x01wxyz escapes to */
	static const char across[] = "token=zq9";          /* only whole once key and value meet */
	static const char number[] = "12345678";
	static const char shorter[] = "abcd";
	static const char longer[] = "abcdefgh";
	static const char inside_utf8[] = "\xa9zzzz";       /* starts inside U+00E9's encoding */
	char wiped[] = "wipedsecret";
	char *out;
	cJSON *obj;

	log_setup(LOG_JSON, LOG_INFO);
	log_register_secret(SECRET_PLAIN);
	log_register_secret(tricky);
	log_register_secret(escaped_form);
	log_register_secret(number);
	log_register_secret(shorter);
	log_register_secret(longer);
	log_register_secret(inside_utf8);
	log_register_secret("abc");                          /* too short: ignored */
	log_register_secret(NULL);
	log_register_secret(wiped);
	memset(wiped, 0, sizeof wiped);                     /* wiped before forgotten */

	capture_start();
	log_event(LOG_INFO, "key " SECRET_PLAIN " leaked", "k" SECRET_PLAIN, "x" SECRET_PLAIN "y", NULL);
	log_event(LOG_INFO, "tricky", "value", "<pa\"ss\\wo\nrd>", NULL);
	log_event(LOG_INFO, "escaped", "value", "\x01wxyz", NULL);
	log_event(LOG_INFO, "number", "#n", number, "#m", "7", NULL);
	log_event(LOG_INFO, "longest", "value", "abcdefgh abcd", "short", "abc", NULL);
	log_event(LOG_INFO, "utf8", "value", "caf\xc3\xa9zzzz", NULL);
	log_event(LOG_INFO, "wiped", "value", "wipedsecret", NULL);
	out = capture_end(NULL);
	CHECK_EQ_INT(count_lines(out), 7);
	CHECK(strstr(out, "AKIDEXAMPLE") == NULL);
	CHECK(strstr(out, "pa\\\"ss") == NULL && strstr(out, "ss\\\\wo") == NULL && strstr(out, "wo\\nrd") == NULL);
	CHECK(strstr(out, "wxyz") == NULL);
	CHECK(strstr(out, number) == NULL);
	CHECK(strstr(out, "abcd") == NULL && strstr(out, "efgh") == NULL);
	CHECK(strstr(out, "zzzz") == NULL);
	{
		char *line = out;
		int i = 0;

		while (*line) {
			char *next = strchr(line, '\n') + 1;
			char saved = *next;

			*next = '\0';
			obj = parse_line(line);
			CHECK(obj != NULL);
			switch (i++) {
			case 0:
				CHECK_EQ_STR(field(obj, "msg"), "key [REDACTED] leaked");
				CHECK_EQ_STR(field(obj, "k[REDACTED]"), "x[REDACTED]y");
				break;
			case 1:
				CHECK_EQ_STR(field(obj, "value"), "<[REDACTED]>");
				break;
			case 2:
				/* the raw value holds no secret; its escaped form is one */
				CHECK(strstr(line, "\"value\":\"[REDACTED]\"") != NULL);
				break;
			case 3:
				CHECK_EQ_STR(field(obj, "n"), "[REDACTED]");
				CHECK(cJSON_IsNumber(cJSON_GetObjectItem(obj, "m")));
				break;
			case 4:
				CHECK_EQ_STR(field(obj, "value"), "[REDACTED] [REDACTED]");
				CHECK_EQ_STR(field(obj, "short"), "abc");
				break;
			case 5:
				CHECK_EQ_STR(field(obj, "value"), "caf\xef\xbf\xbd[REDACTED]");
				break;
			case 6:
				CHECK_EQ_STR(field(obj, "value"), "wipedsecret");
				break;
			}
			cJSON_Delete(obj);
			*next = saved;
			line = next;
		}
	}
	free(out);

	/* text: a secret that only exists once key and value are joined */
	log_register_secret(across);
	log_setup(LOG_TEXT, LOG_INFO);
	capture_start();
	log_event(LOG_INFO, "across", "token", "zq9", "other", "v", NULL);
	log_event(LOG_INFO, "text " SECRET_PLAIN, "q", "a b " SECRET_PLAIN, NULL);
	out = capture_end(NULL);
	CHECK(strstr(out, "token=") == NULL);
	CHECK(strstr(out, " INFO across [REDACTED] other=v\n") != NULL);
	CHECK(strstr(out, " INFO text [REDACTED] q=\"a b [REDACTED]\"\n") != NULL);
	free(out);

	log_forget_secrets();
	log_setup(LOG_JSON, LOG_INFO);
	capture_start();
	log_event(LOG_INFO, SECRET_PLAIN, NULL);
	out = capture_end(NULL);
	CHECK(strstr(out, "\"msg\":\"" SECRET_PLAIN "\"") != NULL);
	free(out);

	/* at most 64 kept: the 65th is ignored, the first 64 still work */
	{
		static char many[70][24];

		for (int i = 0; i < 70; i++) {
			snprintf(many[i], sizeof many[i], "secret-%02d-x", i);
			log_register_secret(many[i]);
		}
		capture_start();
		log_event(LOG_INFO, "many", "first", many[0], "last", many[63], "over", many[64], NULL);
		out = capture_end(NULL);
		obj = parse_line(out);
		CHECK(obj != NULL);
		CHECK_EQ_STR(field(obj, "first"), "[REDACTED]");
		CHECK_EQ_STR(field(obj, "last"), "[REDACTED]");
		CHECK_EQ_STR(field(obj, "over"), "secret-64-x");
		cJSON_Delete(obj);
		free(out);
		log_forget_secrets();
	}
}

/* log_forget_secret lets one owner free its secret while the others stay redacted */
static void test_forget_one(void)
{
	static char first[] = "first-secret-value", second[] = "second-secret-value";
	cJSON *obj;
	char *out;

	log_setup(LOG_JSON, LOG_INFO);
	log_register_secret(first);
	log_register_secret(second);
	log_forget_secret(first);
	log_forget_secret("not-registered-at-all");      /* unknown pointer: no effect */
	capture_start();
	log_event(LOG_INFO, "one", "a", "first-secret-value", "b", "second-secret-value", NULL);
	out = capture_end(NULL);
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK_EQ_STR(field(obj, "a"), "first-secret-value");
	CHECK_EQ_STR(field(obj, "b"), "[REDACTED]");
	cJSON_Delete(obj);
	free(out);
	log_forget_secret(second);
	capture_start();
	log_event(LOG_INFO, "two", "b", "second-secret-value", NULL);
	out = capture_end(NULL);
	CHECK(strstr(out, "second-secret-value") != NULL);
	free(out);
	log_forget_secrets();
}

/* 200 fields of about 50 bytes: more than a line holds */
#define TEN "key", "0123456789012345678901234567890123456789", "key", "0123456789012345678901234567890123456789", \
	"key", "0123456789012345678901234567890123456789", "key", "0123456789012345678901234567890123456789", \
	"key", "0123456789012345678901234567890123456789", "key", "0123456789012345678901234567890123456789", \
	"key", "0123456789012345678901234567890123456789", "key", "0123456789012345678901234567890123456789", \
	"#n", "1234567890123456789012345678901234567890", "key", "0123456789012345678901234567890123456789"
#define HUNDRED TEN, TEN, TEN, TEN, TEN, TEN, TEN, TEN, TEN, TEN

static void test_truncation(void)
{
	static char big[20001];
	char *out, *line;
	size_t len;
	cJSON *obj;

	log_setup(LOG_JSON, LOG_INFO);

	/* one long value: kept, cut, closed */
	memset(big, 'x', sizeof big - 1);
	capture_start();
	log_event(LOG_INFO, "big", "before", "b", "value", big, "after", "a", NULL);
	out = capture_end(&len);
	CHECK(len <= LOG_LINE_MAX);
	CHECK(len > LOG_LINE_MAX - 64);
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
	CHECK_EQ_STR(field(obj, "before"), "b");
	CHECK(field(obj, "value") && strspn(field(obj, "value"), "x") == strlen(field(obj, "value")));
	CHECK(field(obj, "after") == NULL);
	cJSON_Delete(obj);
	free(out);

	/* escapes and multi-byte characters are never cut in half */
	for (int kind = 0; kind < 3; kind++) {
		for (size_t i = 0; i + 2 <= sizeof big - 1; i += 2) {
			if (kind == 0) {
				big[i] = '"';
				big[i + 1] = '\x01';
			} else {
				big[i] = (char)0xc3;
				big[i + 1] = (char)0xa9;
			}
		}
		big[sizeof big - 1] = '\0';
		capture_start();
		if (kind == 2)
			log_event(LOG_INFO, big, NULL);     /* a long msg */
		else
			log_event(LOG_INFO, "big", "value", big, NULL);
		out = capture_end(&len);
		CHECK(len <= LOG_LINE_MAX);
		obj = parse_line(out);
		CHECK(obj != NULL);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
		{
			const char *v = field(obj, kind == 2 ? "msg" : "value");
			size_t vlen = v ? strlen(v) : 1;

			/* a cut may fall between '"' and '\x01', never inside U+00E9 */
			CHECK(v != NULL && vlen > 1000);
			if (kind == 0)
				CHECK(v && strspn(v, "\"\x01") == vlen);
			for (size_t i = 0; kind != 0 && v && i < vlen; i += 2)
				if (memcmp(v + i, "\xc3\xa9", 2) != 0) {
					CHECK(!"value holds a cut character");
					break;
				}
		}
		cJSON_Delete(obj);
		free(out);
	}

	/* many fields: cut between two of them */
	capture_start();
	log_event(LOG_INFO, "fields", HUNDRED, HUNDRED, NULL);
	out = capture_end(&len);
	CHECK(len <= LOG_LINE_MAX);
	obj = parse_line(out);
	CHECK(obj != NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
	CHECK(len > 20 && strcmp(out + len - 19, ",\"truncated\":true}\n") == 0);
	cJSON_Delete(obj);
	free(out);

	/* a secret at the cut is redacted whole or left out, never shown in part */
	log_register_secret("SECRETVALUE99");
	for (size_t filler = LOG_LINE_MAX - 160; filler < LOG_LINE_MAX - 40; filler++) {
		memset(big, 'a', filler);
		memcpy(big + filler, "SECRETVALUE99", 14);
		capture_start();
		log_event(LOG_INFO, "cut", "value", big, NULL);
		out = capture_end(&len);
		CHECK(len <= LOG_LINE_MAX);
		CHECK(strstr(out, "SECR") == NULL);
		obj = parse_line(out);
		CHECK(obj != NULL);
		cJSON_Delete(obj);
		free(out);
	}
	log_forget_secrets();

	/* text format */
	log_setup(LOG_TEXT, LOG_INFO);
	memset(big, 'y', sizeof big - 1);
	big[5] = ' ';
	capture_start();
	log_event(LOG_INFO, "big", "value", big, NULL);
	out = capture_end(&len);
	CHECK(len <= LOG_LINE_MAX);
	CHECK(count_lines(out) == 1);
	line = strstr(out, " value=\"yyyyy yyy");
	CHECK(line != NULL);
	CHECK(len > 20 && strcmp(out + len - 18, "y\" truncated=true\n") == 0);
	free(out);
	log_setup(LOG_JSON, LOG_INFO);
}

#define THREADS 4
#define LINES_PER_THREAD 300
#define THREAD_VALUE 1500

static void *writer(void *arg)
{
	int id = (int)(size_t)arg;
	char value[THREAD_VALUE + 1], number[16];

	memset(value, 'a' + id, THREAD_VALUE);
	value[THREAD_VALUE] = '\0';
	for (int i = 0; i < LINES_PER_THREAD; i++) {
		snprintf(number, sizeof number, "%d", i);
		log_event(LOG_INFO, "thread line", "#thread", id == 0 ? "0" : id == 1 ? "1" : id == 2 ? "2" : "3",
			  "#i", number, "value", value, NULL);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t threads[THREADS];
	int seen[THREADS] = { 0 }, bad = 0;
	char *out, *line;

	log_setup(LOG_JSON, LOG_INFO);
	capture_start();
	for (size_t i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, writer, (void *)i);
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	out = capture_end(NULL);
	CHECK_EQ_INT(count_lines(out), THREADS * LINES_PER_THREAD);
	for (line = out; *line;) {
		char *next = strchr(line, '\n') + 1;
		char saved = *next;
		cJSON *obj;
		const cJSON *thread;
		const char *value;

		*next = '\0';
		obj = parse_line(line);
		thread = cJSON_GetObjectItem(obj, "thread");
		value = field(obj, "value");
		if (obj == NULL || !cJSON_IsNumber(thread) || thread->valueint < 0 || thread->valueint >= THREADS ||
		    value == NULL || strlen(value) != THREAD_VALUE ||
		    strspn(value, (char[]){ (char)('a' + thread->valueint), 0 }) != THREAD_VALUE ||
		    !cJSON_IsNumber(cJSON_GetObjectItem(obj, "i")) ||
		    cJSON_GetObjectItem(obj, "i")->valueint != seen[thread->valueint]) {
			bad++;
		} else {
			seen[thread->valueint]++;
		}
		cJSON_Delete(obj);
		*next = saved;
		line = next;
	}
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ_INT(seen[i], LINES_PER_THREAD);
	free(out);
}

static void test_errno_kept(void)
{
	char *out;

	int kept;

	capture_start();
	errno = ENOENT;
	log_event(LOG_INFO, "x", NULL);
	kept = errno;
	out = capture_end(NULL);
	CHECK_EQ_INT(kept, ENOENT);
	free(out);
}

/* Peer text: echoes of secrets, token-like runs, control bytes, and the length cap. */
static void test_peer_text(void)
{
	static char secret[] = "Zk9vYmFyLXNlY3JldC12YWx1ZS0xMjM0NTY3ODkw";   /* 40 chars */
	char out[512], echo[64];
	size_t n;

	log_forget_secrets();
	/* ordinary messages pass untouched */
	CHECK_EQ_INT(log_peer_text(out, sizeof out, "secrets \"ecr-creds\" is forbidden", 32), 0);
	CHECK_EQ_STR(out, "secrets \"ecr-creds\" is forbidden");
	CHECK_EQ_INT(log_peer_text(out, sizeof out, "AccessDeniedException FieldManagerConflict", 42), 0);
	CHECK_EQ_STR(out, "AccessDeniedException FieldManagerConflict");
	/* a 19-character run with digits stays, a 20-character one goes */
	log_peer_text(out, sizeof out, "id abcdefghij012345678 end", 26);
	CHECK_EQ_STR(out, "id abcdefghij012345678 end");
	CHECK_EQ_INT(log_peer_text(out, sizeof out, "id abcdefghij0123456789 end", 27), 1);
	CHECK_EQ_STR(out, "id [REDACTED] end");
	/* base64 with padding and slashes, hex, base64url in a JWT */
	log_peer_text(out, sizeof out, "token QUJDREVGR0hJSktMTU5PUA+/cXJzdA== x", 40);
	CHECK_EQ_STR(out, "token [REDACTED] x");
	log_peer_text(out, sizeof out, "sig 527a2155e9afc2426cb4c659023df9c0.", 37);
	CHECK_EQ_STR(out, "sig [REDACTED].");
	log_peer_text(out, sizeof out, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl", 56);
	CHECK_EQ_STR(out, "[REDACTED].[REDACTED].c2lnbmF0dXJl");
	/* without a digit a run must be twice as long to count */
	log_peer_text(out, sizeof out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", 40);
	CHECK_EQ_STR(out, "[REDACTED]");

	/* a registered secret echoed minus its last character, and a bare 8-byte piece */
	log_register_secret(secret);
	snprintf(echo, sizeof echo, "bad token %.*s!", (int)strlen(secret) - 1, secret);
	CHECK_EQ_INT(log_peer_text(out, sizeof out, echo, strlen(echo)), 1);
	CHECK_EQ_STR(out, "bad token [REDACTED]!");
	CHECK(strstr(out, "Zk9v") == NULL);
	log_peer_text(out, sizeof out, "x=LXNlY3Jl; y=LXNlY3J", 21);
	CHECK_EQ_STR(out, "x=[REDACTED]; y=LXNlY3J");
	log_forget_secrets();

	/* a name the run sent stays whole, though it looks like a token; only whole names: a
	 * longer run that holds one, or a prefix of one, is hidden still */
	{
		static const char msg[] = "namespaces \"payments-2024-prod-eu\" is forbidden";
		static const char longer[] = "x payments-2024-prod-eu-and-more y";
		static const char prefix[] = "x payments-2024-prod-e y";

		CHECK_EQ_INT(log_peer_text(out, sizeof out, msg, strlen(msg)), 1);
		CHECK_EQ_STR(out, "namespaces \"[REDACTED]\" is forbidden");
		log_register_name("team-a");
		log_register_name("payments-2024-prod-eu");
		log_register_name("zz-9999-9999-9999-9999");
		CHECK_EQ_INT(log_peer_text(out, sizeof out, msg, strlen(msg)), 0);
		CHECK_EQ_STR(out, msg);
		log_peer_text(out, sizeof out, longer, strlen(longer));
		CHECK_EQ_STR(out, "x [REDACTED] y");
		log_peer_text(out, sizeof out, prefix, strlen(prefix));
		CHECK_EQ_STR(out, "x [REDACTED] y");
		/* a registered secret inside a registered name is hidden all the same */
		log_register_name("abc-Zk9vYmFyLXNl-2024");
		log_register_secret(secret);
		log_peer_text(out, sizeof out, "ns abc-Zk9vYmFyLXNl-2024 x", 26);
		CHECK(strstr(out, "Zk9vYmFy") == NULL);
		log_forget_secrets();
		log_forget_names();
		CHECK_EQ_INT(log_peer_text(out, sizeof out, msg, strlen(msg)), 1);
	}

	/* control bytes blanked, so nothing can forge a line */
	log_peer_text(out, sizeof out, "a\nb\r\x01" "c\x7f", 7);
	CHECK_EQ_STR(out, "a b  c ");
	/* a NUL inside the given length is blanked too */
	log_peer_text(out, sizeof out, "a\0b", 3);
	CHECK_EQ_STR(out, "a b");

	/* the length cap, and the cut marked */
	{
		static char big[3000];
		for (n = 0; n < sizeof big; n++)
			big[n] = "ab cd "[n % 6];
		CHECK_EQ_INT(log_peer_text(out, sizeof out, big, sizeof big), 1);
		CHECK_EQ_INT(strlen(out), LOG_PEER_TEXT_MAX);
		CHECK(strcmp(out + LOG_PEER_TEXT_MAX - 3, "...") == 0);
		/* a smaller field is the cap then */
		log_peer_text(echo, 16, big, sizeof big);
		CHECK_EQ_INT(strlen(echo), 15);
		CHECK(strcmp(echo + 12, "...") == 0);
	}
	/* NULL and a zero size are harmless */
	CHECK_EQ_INT(log_peer_text(out, sizeof out, NULL, 5), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(log_peer_text(out, 0, "x", 1), 1);
}

int main(void)
{
	test_json_basic();
	test_json_escaping();
	test_levels();
	test_text_format();
	test_redaction();
	test_forget_one();
	test_truncation();
	test_threads();
	test_errno_kept();
	test_peer_text();
	return UNIT_DONE();
}
