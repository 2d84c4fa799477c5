/* awsparse: the STS XML reader, the credentials and error JSON readers (valid, broken,
 * hostile) and error classification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsparse.h"
#include "unit.h"

/* ---- the STS XML reader ------------------------------------------------------------- */

#define STS_OK_HEAD \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n" \
	"  <AssumeRoleWithWebIdentityResult>\n" \
	"    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>\n" \
	"    <Credentials>\n" \
	"      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n" \
	"      <SecretAccessKey>secret/+key</SecretAccessKey>\n"
#define STS_OK_TAIL \
	"      <Expiration>2014-10-24T23:00:23Z</Expiration>\n" \
	"    </Credentials>\n" \
	"  </AssumeRoleWithWebIdentityResult>\n" \
	"  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n" \
	"</AssumeRoleWithWebIdentityResponse>\n"

static int sts(const char *xml, struct aws_credentials *c, char *code, char *message, char *err)
{
	return aws_parse_sts_response(xml, strlen(xml), c, code, 64, message, 256, err, 200);
}

static void test_sts_valid(void)
{
	struct aws_credentials c;
	char code[64], message[256], err[200];

	CHECK_EQ_INT(sts(STS_OK_HEAD "      <SessionToken>tok=</SessionToken>\n" STS_OK_TAIL, &c, code, message, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
	CHECK_EQ_STR(c.secret_access_key, "secret/+key");
	CHECK_EQ_STR(c.session_token, "tok=");
	CHECK_EQ_INT(c.expiration, 1414191623);
	CHECK_EQ_STR(code, "");

	/* Entities, character references, CDATA, comments, prefixes, attributes with '>'. */
	CHECK_EQ_INT(sts("<!-- c --><sts:R xmlns:sts=\"x\" a='>'><sts:Credentials>"
	                 "<AccessKeyId>A&amp;B&lt;C&gt;D&quot;E&apos;F</AccessKeyId>"
	                 "<SecretAccessKey>&#65;&#x42;&#x7e;<![CDATA[<&>]]></SecretAccessKey>"
	                 "<?pi x?><SessionToken>t</SessionToken>"
	                 "<Expiration>2014-10-24T23:00:23.123Z</Expiration>"
	                 "</sts:Credentials></sts:R>  \n", &c, code, message, err), 0);
	CHECK_EQ_STR(c.access_key_id, "A&B<C>D\"E'F");
	CHECK_EQ_STR(c.secret_access_key, "AB~<&>");
	CHECK_EQ_INT(c.expiration, 1414191623);

	/* Without an Expiration it is 0; an empty element closes itself. */
	CHECK_EQ_INT(sts("<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	                 "<SessionToken>c</SessionToken><Empty/></Credentials></R>", &c, code, message, err), 0);
	CHECK_EQ_INT(c.expiration, 0);
}

static void test_sts_errors(void)
{
	struct aws_credentials c;
	char code[64], message[256], err[200];

	CHECK_EQ_INT(sts("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	                 "  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n"
	                 "    <Message>The web identity token &amp; more\ncould not be validated</Message>\n"
	                 "  </Error>\n  <RequestId>1</RequestId>\n</ErrorResponse>\n", &c, code, message, err),
	             AWS_EREQUEST);
	CHECK_EQ_STR(code, "InvalidIdentityToken");
	CHECK_EQ_STR(message, "The web identity token & more could not be validated");
	/* aws-c-auth shows a bare <Error> root: Code is found anywhere. */
	CHECK_EQ_INT(sts("<Error><Code>AccessDenied</Code><Message>no</Message></Error>", &c, code, message, err),
	             AWS_EREQUEST);
	CHECK_EQ_STR(code, "AccessDenied");
	CHECK_EQ_STR(c.access_key_id, "");
}

static void check_sts_bad(const char *xml, const char *want)
{
	struct aws_credentials c;
	char code[64], message[256], err[200] = "";

	CHECK_EQ_INT(sts(xml, &c, code, message, err), AWS_EPARSE);
	CHECK_EQ_STR(err, want);
	CHECK_EQ_STR(c.secret_access_key, "");
}

static void test_sts_hostile(void)
{
	static const char ok[] = STS_OK_HEAD "      <SessionToken>tok=</SessionToken>\n" STS_OK_TAIL;
	char *big;
	size_t cut, i;

	check_sts_bad("", "STS answer is not valid XML: truncated");
	check_sts_bad("<R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R></S>", "STS answer is not valid XML: mismatched end tag");
	check_sts_bad("<R/><S/>", "STS answer is not valid XML: a second root element");
	check_sts_bad("x<R/>", "STS answer is not valid XML: text outside the root element");
	check_sts_bad("<R/>x", "STS answer is not valid XML: text outside the root element");
	check_sts_bad("<!DOCTYPE R [<!ENTITY e \"x\">]><R>&e;</R>",
	              "STS answer is not valid XML: DOCTYPE and declarations are not accepted");
	check_sts_bad("<R>&e;</R>", "STS answer is not valid XML: unknown entity");
	check_sts_bad("<R>&amp</R>", "STS answer is not valid XML: unknown entity");
	check_sts_bad("<R>&#0;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#xD800;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#x110000;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R>&#123456789;</R>", "STS answer is not valid XML: bad character reference");
	check_sts_bad("<R a=b<c/>", "STS answer is not valid XML: '<' inside a tag");
	check_sts_bad("<>", "STS answer is not valid XML: missing element name");
	check_sts_bad("<R><![CDATA[x</R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R><!-- x</R>", "STS answer is not valid XML: truncated");
	check_sts_bad("<R/>", "STS answer has no Credentials");
	check_sts_bad("<R><Credentials><AccessKeyId>a b</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	              "<SessionToken>c</SessionToken></Credentials></R>", "STS answer has an invalid credential field");
	check_sts_bad("<R><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>b</SecretAccessKey>"
	              "<SessionToken>c</SessionToken><Expiration>yesterday</Expiration></Credentials></R>",
	              "STS answer has an invalid credential field");
	{
		static const char nul[] = "<R>a\0b</R>";
		struct aws_credentials c;
		char code[64], message[256], err[200];
		CHECK_EQ_INT(aws_parse_sts_response(nul, sizeof nul - 1, &c, code, 64, message, 256, err, 200), AWS_EPARSE);
		CHECK_EQ_STR(err, "STS answer is not valid XML: NUL byte");
	}

	/* Every truncation of a good answer is refused (never half-read credentials). */
	for (cut = 0; cut + 1 < sizeof ok; cut++) {
		struct aws_credentials c;
		char code[64], message[256], err[200];
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, ok, cut);
		/* Past the root's end tag only whitespace is left, which may be cut. */
		if (cut < sizeof ok - 2)
			CHECK_EQ_INT(aws_parse_sts_response(copy, cut, &c, code, 64, message, 256, err, 200), AWS_EPARSE);
		free(copy);
	}

	/* Depth: 32 levels are read, 33 are refused. */
	big = malloc(33 * 8 + 1);
	for (i = 0, big[0] = '\0'; i < 33; i++)
		strcat(big, "<a>");
	check_sts_bad(big, "STS answer is not valid XML: nested deeper than 32 elements");
	free(big);

	/* Text past 16384 bytes. */
	big = malloc(20000);
	strcpy(big, "<R>");
	memset(big + 3, 'x', 17000);
	strcpy(big + 17003, "</R>");
	check_sts_bad(big, "STS answer is not valid XML: text longer than 16384 bytes");
	free(big);

	/* A name past 64 characters. */
	big = malloc(200);
	strcpy(big, "<");
	memset(big + 1, 'n', 70);
	strcpy(big + 71, "/>");
	check_sts_bad(big, "STS answer is not valid XML: element name empty or too long");
	free(big);
}

/* ---- JSON readers ------------------------------------------------------------------- */

static int creds_json(const char *body, struct aws_credentials *c, char *err)
{
	return aws_parse_credentials_json(body, strlen(body), c, err, 200);
}

static void test_credentials_json(void)
{
	struct aws_credentials c;
	char err[200] = "";
	size_t cut;
	static const char container[] =
		"{\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"sec/ret\",\"Token\":\"tok+en=\","
		"\"AccountId\":\"123456789012\",\"Expiration\":\"2019-05-29T00:21:43Z\"}";

	CHECK_EQ_INT(creds_json(container, &c, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
	CHECK_EQ_STR(c.secret_access_key, "sec/ret");
	CHECK_EQ_STR(c.session_token, "tok+en=");
	CHECK_EQ_INT(c.expiration, 1559089303);

	CHECK_EQ_INT(creds_json("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2012-04-26T16:39:16Z\",\n"
	                        "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n"
	                        "  \"SecretAccessKey\" : \"s\",\n  \"Token\" : \"t\",\n"
	                        "  \"Expiration\" : \"2017-05-17T15:09:54+01:00\"\n}", &c, err), 0);
	CHECK_EQ_STR(c.access_key_id, "ASIAIMDS");
	CHECK_EQ_INT(c.expiration, 1495030194);   /* 14:09:54Z */

	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\"}", &c, err), 0);
	CHECK_EQ_STR(c.session_token, "");

	CHECK_EQ_INT(creds_json("{\"Code\":\"Failure\",\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has Code Failure");
	CHECK_EQ_INT(creds_json("[]", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer is not a JSON object");
	CHECK_EQ_INT(creds_json("{\"SecretAccessKey\":\"s\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid AccessKeyId");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":7}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid SecretAccessKey");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"\"}", &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has no valid SecretAccessKey");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Token\":\"s3cr3t\\r\\nX: y\"}", &c, err),
	             AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has an invalid Token");
	CHECK(strstr(err, "s3cr3t") == NULL);
	CHECK_EQ_STR(c.access_key_id, "");
	CHECK_EQ_INT(creds_json("{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"s\",\"Expiration\":\"2019-02-30T00:00:00Z\"}",
	                        &c, err), AWS_EPARSE);
	CHECK_EQ_STR(err, "credentials answer has an invalid Expiration");
	for (cut = 0; cut + 1 < sizeof container; cut++) {
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, container, cut);
		CHECK_EQ_INT(aws_parse_credentials_json(copy, cut, &c, err, sizeof err), AWS_EPARSE);
		free(copy);
	}
}

static void check_error_json(const char *body, const char *header, const char *type, const char *message)
{
	char t[AWS_MAX_ERROR_TYPE], m[256];

	aws_parse_error_json(body, body ? strlen(body) : 0, header, header ? strlen(header) : 0, t, sizeof t, m, sizeof m);
	CHECK_EQ_STR(t, type);
	CHECK_EQ_STR(m, message);
}

static void test_error_json(void)
{
	char long_type[300];

	check_error_json("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", NULL,
	                 "ThrottlingException", "Rate exceeded");
	check_error_json("{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\",\"message\":\"x\"}", NULL,
	                 "ExpiredTokenException", "x");
	check_error_json("{\"message\":\"denied\"}", "AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.ecr/",
	                 "AccessDeniedException", "denied");
	check_error_json("{\"__type\":\"Other\"}", "FromHeader", "FromHeader", "");
	check_error_json("{\"code\":\"InvalidToken\",\"message\":\"no\\nline\"}", NULL, "InvalidToken", "no line");
	check_error_json("{\"Code\":\"X\",\"Message\":\"M\"}", NULL, "X", "M");
	check_error_json("not json", NULL, "", "");
	check_error_json(NULL, NULL, "", "");
	check_error_json("", "", "", "");
	check_error_json("{\"__type\":17}", NULL, "", "");
	memset(long_type, 'T', sizeof long_type - 1);
	long_type[sizeof long_type - 1] = '\0';
	check_error_json("{}", long_type, "", "");
}

/* ---- classification, backoff, time, names -------------------------------------------- */

static void check_sanitize(const char *in, const char *want)
{
	char out[AWS_MAX_ERROR_TYPE];
	aws_sanitize_error_type(in, strlen(in), out, sizeof out);
	CHECK_EQ_STR(out, want);
}

static void test_classification(void)
{
	/* The Smithy awsJson1_1 examples. */
	check_sanitize("FooError", "FooError");
	check_sanitize("FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/", "FooError");
	check_sanitize("aws.protocoltests.restjson#FooError", "FooError");
	check_sanitize("aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/",
	               "FooError");
	check_sanitize(" FooError ", "FooError");
	check_sanitize("a#b#c", "c");
	check_sanitize("", "");
	check_sanitize("Bad\x01Type", "");

	CHECK(aws_retryable_error("ThrottlingException", 400));
	CHECK(aws_retryable_error("Throttling", 400));
	CHECK(aws_retryable_error("ThrottledException", 400));
	CHECK(aws_retryable_error("TooManyRequestsException", 400));
	CHECK(aws_retryable_error("RequestLimitExceeded", 400));
	CHECK(aws_retryable_error("LimitExceededException", 400));
	CHECK(aws_retryable_error("SlowDown", 503));
	CHECK(aws_retryable_error("", 429));
	CHECK(aws_retryable_error("", 500));
	CHECK(aws_retryable_error("", 502));
	CHECK(aws_retryable_error("", 503));
	CHECK(aws_retryable_error("", 504));
	CHECK(aws_retryable_error("ServerException", 500));
	CHECK(!aws_retryable_error("AccessDeniedException", 400));
	CHECK(!aws_retryable_error("InvalidParameterException", 400));
	CHECK(!aws_retryable_error("", 403));
	CHECK(!aws_retryable_error("", 501));
	CHECK(!aws_retryable_error("ExpiredTokenException", 403));

	CHECK(aws_credential_error("ExpiredTokenException"));
	CHECK(aws_credential_error("ExpiredToken"));
	CHECK(aws_credential_error("UnrecognizedClientException"));
	CHECK(aws_credential_error("InvalidSignatureException"));
	CHECK(!aws_credential_error("AccessDeniedException"));
	CHECK(!aws_credential_error("ThrottlingException"));
	CHECK(!aws_credential_error(""));
}

/* STS GetCallerIdentity, as AWS answers it (botocore's sts model, output shape
 * GetCallerIdentityResponse), an error document, and answers missing a field. */
static void test_caller_identity(void)
{
	static const char ok[] = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		"  <GetCallerIdentityResult>\n    <Arn>arn:aws:sts::123456789012:assumed-role/ecr-refresh/s1</Arn>\n"
		"    <UserId>AROAEXAMPLE:s1</UserId>\n    <Account>123456789012</Account>\n"
		"  </GetCallerIdentityResult>\n  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>\n"
		"</GetCallerIdentityResponse>\n";
	static const char denied[] = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
		"<Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>";
	static const char no_account[] = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:x</Arn>"
		"</GetCallerIdentityResult></GetCallerIdentityResponse>";
	/* Arn outside the result element: not taken */
	static const char misplaced[] = "<GetCallerIdentityResponse><Arn>arn:x</Arn><GetCallerIdentityResult>"
		"<Account>1</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
	struct aws_identity id;
	char code[AWS_MAX_ERROR_TYPE], message[256], err[128];

	CHECK_EQ_INT(aws_parse_caller_identity(ok, strlen(ok), &id, code, sizeof code, message, sizeof message,
	                                       err, sizeof err), 0);
	CHECK_EQ_STR(id.arn, "arn:aws:sts::123456789012:assumed-role/ecr-refresh/s1");
	CHECK_EQ_STR(id.account, "123456789012");
	CHECK_EQ_STR(id.user_id, "AROAEXAMPLE:s1");
	CHECK_EQ_INT(aws_parse_caller_identity(denied, strlen(denied), &id, code, sizeof code, message,
	                                       sizeof message, err, sizeof err), AWS_EREQUEST);
	CHECK_EQ_STR(code, "InvalidClientTokenId");
	CHECK(strstr(message, "security token") != NULL);
	CHECK_EQ_STR(id.arn, "");
	CHECK_EQ_INT(aws_parse_caller_identity(no_account, strlen(no_account), &id, code, sizeof code, message,
	                                       sizeof message, err, sizeof err), AWS_EPARSE);
	CHECK_EQ_STR(id.arn, "");
	CHECK_EQ_INT(aws_parse_caller_identity(misplaced, strlen(misplaced), &id, code, sizeof code, message,
	                                       sizeof message, err, sizeof err), AWS_EPARSE);
	CHECK_EQ_INT(aws_parse_caller_identity(ok, strlen(ok) / 2, &id, code, sizeof code, message,
	                                       sizeof message, err, sizeof err), AWS_EPARSE);
}

int main(void)
{
	test_sts_valid();
	test_sts_errors();
	test_sts_hostile();
	test_caller_identity();
	test_credentials_json();
	test_error_json();
	test_classification();
	return UNIT_DONE();
}
