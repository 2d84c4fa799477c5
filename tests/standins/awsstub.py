"""A local stand-in for the AWS endpoints ecr-refresh talks to, speaking their real wire
formats (see docs/design.md) so the end-to-end tests never reach the internet.

    stub = AwsStub(tmpdir, regions=["us-east-1", "eu-west-1"]).start()
    env = {**stub.env(), **stub.env_static_keys()}   # run the binary with env
    stub.password_for("eu-west-1")                     # what must land in the Secret
    stub.stop()

Listeners (all on 127.0.0.1, ports picked free):
- ECR (HTTPS): JSON 1.1 GetAuthorizationToken. EVERY request's SigV4 signature is
  recomputed with botocore's own signer (botocore.auth.SigV4Auth) at the request's
  X-Amz-Date over exactly the headers it names, and compared in constant time; the
  credential scope must say service "ecr" and one of the stub's regions.
- STS (HTTPS): Query-protocol AssumeRoleWithWebIdentity, unsigned, XML answers; and
  GetCallerIdentity, SigV4-signed (service sts) and verified with botocore.
- Container credentials (plain HTTP; the binary allows http only to loopback): the EKS
  Pod Identity agent / ECS shape, with the Authorization token checked as-is.
- IMDSv2 (plain HTTP): session token PUT, role name, role credentials, region.

Every credential the stub hands out is random and remembered, so a request signed with it
verifies and a test can check that no secret reached a log (all_secrets, leaked_secrets).
Fault knobs (throttle, server_error, fail_next, deny_all, expire_next_temporary, TLS
modes) let tests drive the binary's retry, refresh and refusal paths; the call log
(calls()) records who called what, for which region, signed by which access key.
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import socket
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape as xml_escape

import botocore.auth
import botocore.awsrequest
import botocore.credentials

import leakscan
import pki

DEFAULT_REGIONS = ("us-east-1", "eu-west-1")
DEFAULT_ACCOUNT = "123456789012"
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ECR_CONTENT_TYPE = "application/x-amz-json-1.1"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
# AWS rejects a signature whose X-Amz-Date is more than 15 minutes from its clock.
MAX_SKEW_SECONDS = 15 * 60
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
TLS_MODES = ("good", "expired", "not_yet_valid", "wrong_name", "untrusted")
# RoleSessionName pattern from the STS model: [\w+=,.@-]*, length 2..64.
SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")


# ---------------------------------------------------------------------------------------
# Random credentials shaped like AWS's


def _random_chars(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_access_key_id(temporary):
    # Long-term keys start AKIA, STS-issued ones ASIA; 16 base32 characters follow.
    return ("ASIA" if temporary else "AKIA") + _random_chars(string.ascii_uppercase + "234567", 16)


def new_secret_access_key():
    # 40 characters of the base64 alphabet: '+' and '/' appear in real secrets too.
    return _random_chars(string.ascii_letters + string.digits + "+/", 40)


def new_session_token():
    # Real session tokens are ~400-1200 characters of base64 with '+', '/' and '='.
    return "IQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(600)).decode()


def new_jwt(subject, audience):
    """A JWT-shaped bearer token (not verifiable, but with the size and alphabet of the
    projected ServiceAccount tokens kubelet writes)."""
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = int(time.time())
    header = {"alg": "RS256", "kid": secrets.token_hex(20)}
    claims = {"aud": [audience], "exp": now + 86400, "iat": now, "sub": subject,
              "iss": "https://oidc.eks.us-east-1.amazonaws.com/id/" + secrets.token_hex(16).upper(),
              "jti": str(uuid.uuid4())}
    sig = base64.urlsafe_b64encode(secrets.token_bytes(256)).rstrip(b"=").decode()
    return part(header) + "." + part(claims) + "." + sig


def iso8601(epoch, fraction=False):
    dt = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    if fraction:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Credential:
    """One AWS credential the stub knows: long-term (no session token) or temporary."""

    def __init__(self, access_key_id, secret_access_key, session_token=None, expiration=None,
                 source="static"):
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.expiration = expiration  # epoch seconds, or None for never
        self.source = source          # static, static-session, sts, container, imds
        self.revoked_expired = False  # set by the expire knobs: answers ExpiredTokenException

    @property
    def temporary(self):
        return self.session_token is not None

    def __repr__(self):
        # Never let a secret reach pytest's assertion output.
        return "Credential(%s, %s)" % (self.access_key_id, self.source)


# ---------------------------------------------------------------------------------------
# SigV4 verification (pure: no I/O, usable on recorded requests and test vectors)


class AwsError(Exception):
    """An error answer: HTTP status, AWS error code, message."""

    def __init__(self, status, code, message, region=None, access_key_id=None):
        super().__init__("%s: %s" % (code, message))
        self.status = status
        self.code = code
        self.message = message
        self.region = region
        self.access_key_id = access_key_id


class SignedRequest:
    """What a verified signature proved: who signed, for which region."""

    def __init__(self, credential, region, signed_headers, amz_date, canonical_request):
        self.credential = credential
        self.region = region
        self.signed_headers = signed_headers
        self.amz_date = amz_date
        self.canonical_request = canonical_request


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
    SignedHeaders=a;b, Signature=hex' into its parts; raises AwsError on any deviation."""
    if not value.startswith(SIGV4_ALGORITHM + " "):
        raise AwsError(400, "IncompleteSignatureException",
                       "Authorization header must start with %s" % SIGV4_ALGORITHM)
    fields = {}
    for item in value[len(SIGV4_ALGORITHM) + 1:].split(","):
        name, sep, val = item.strip().partition("=")
        if not sep or name in fields:
            raise AwsError(400, "IncompleteSignatureException",
                           "Authorization header requires 'Credential', 'SignedHeaders' and "
                           "'Signature' parameters, each once.")
        fields[name] = val
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise AwsError(400, "IncompleteSignatureException",
                       "Authorization header requires 'Credential', 'SignedHeaders' and "
                       "'Signature' parameters.")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise AwsError(400, "IncompleteSignatureException",
                       "Credential should have the form AKID/YYYYMMDD/region/service/aws4_request")
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
        raise AwsError(400, "IncompleteSignatureException", "Signature must be 64 lowercase hex digits")
    signed = fields["SignedHeaders"].split(";")
    if not all(signed):
        raise AwsError(400, "IncompleteSignatureException", "SignedHeaders has an empty name")
    return {"access_key_id": scope[0], "date": scope[1], "region": scope[2], "service": scope[3],
            "signed_headers": signed, "signed_headers_text": fields["SignedHeaders"],
            "signature": fields["Signature"]}


def _header_values(header_pairs, name):
    return [v for n, v in header_pairs if n.lower() == name]


def verify_sigv4(method, raw_path, header_pairs, body, lookup, now, service, regions,
                 required_signed=("host", "x-amz-date"), max_skew=MAX_SKEW_SECONDS):
    """Verify a header-signed SigV4 request exactly as botocore would have signed it.

    header_pairs: [(name, value)] in arrival order (duplicates kept); body: bytes;
    lookup(access_key_id) -> Credential or None; now: epoch seconds; service: the signing
    name the endpoint expects; regions: the regions it serves. Every header a request
    carries whose name starts with x-amz- must be signed, and so must required_signed.
    Returns SignedRequest, raises AwsError with the code AWS would answer."""
    auth = _header_values(header_pairs, "authorization")
    if not auth:
        raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if len(auth) > 1:
        raise AwsError(400, "IncompleteSignatureException", "More than one Authorization header")
    parts = parse_authorization(auth[0].strip())
    akid, region = parts["access_key_id"], parts["region"]

    def fail(status, code, message):
        return AwsError(status, code, message, region=region, access_key_id=akid)

    dates = _header_values(header_pairs, "x-amz-date")
    if len(dates) != 1 or not AMZ_DATE_RE.match(dates[0].strip()):
        raise fail(400, "IncompleteSignatureException",
                   "Authorization header requires existence of a valid 'X-Amz-Date' header.")
    amz_date = dates[0].strip()
    signed = parts["signed_headers"]
    if signed != sorted(set(signed)) or any(h != h.lower() for h in signed):
        raise fail(403, "InvalidSignatureException",
                   "SignedHeaders must be lowercase, sorted and unique: " + parts["signed_headers_text"])
    present = {n.lower() for n, _ in header_pairs}
    must = set(required_signed) | {n for n in present if n.startswith("x-amz-")}
    missing = sorted(must - set(signed))
    if missing:
        raise fail(400, "IncompleteSignatureException",
                   "Headers that must be signed are not in SignedHeaders: " + ";".join(missing))
    absent = [h for h in signed if h not in present]
    if absent:
        raise fail(403, "InvalidSignatureException",
                   "SignedHeaders names headers the request does not carry: " + ";".join(absent))
    if parts["service"] != service:
        raise fail(403, "InvalidSignatureException",
                   "Credential should be scoped to correct service: '%s'. " % service)
    if region not in regions:
        raise fail(403, "InvalidSignatureException",
                   "Credential should be scoped to a valid region, not '%s'. " % region)
    if parts["date"] != amz_date[:8]:
        raise fail(403, "InvalidSignatureException",
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                   "date from HTTP: '%s' != '%s', from '%s'." % (parts["date"], amz_date[:8], amz_date))
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    if signed_at < now - max_skew:
        raise fail(403, "InvalidSignatureException",
                   "Signature expired: %s is now earlier than %s (%s - 15 min.)"
                   % (amz_date, _amz(now - max_skew), _amz(now)))
    if signed_at > now + max_skew:
        raise fail(403, "InvalidSignatureException",
                   "Signature not yet current: %s is still later than %s (%s + 15 min.)"
                   % (amz_date, _amz(now + max_skew), _amz(now)))

    credential = lookup(akid)
    if credential is None:
        raise fail(403, "UnrecognizedClientException", INVALID_TOKEN)
    tokens = _header_values(header_pairs, "x-amz-security-token")
    if credential.temporary:
        # Temporary credentials need their session token sent AND signed
        # (sigv4 test suite post-sts-header-before; botocore and aws-c-auth do this).
        if len(tokens) != 1 or not hmac.compare_digest(
                tokens[0].strip().encode(), credential.session_token.encode()):
            raise fail(403, "UnrecognizedClientException", INVALID_TOKEN)
    elif tokens:
        raise fail(403, "UnrecognizedClientException", INVALID_TOKEN)

    sha_headers = _header_values(header_pairs, "x-amz-content-sha256")
    if sha_headers and sha_headers[0].strip() != hashlib.sha256(body).hexdigest():
        raise fail(400, "XAmzContentSHA256Mismatch",
                   "The provided 'x-amz-content-sha256' header does not match what was computed.")

    request = _rebuild_request(method, raw_path, header_pairs, body, signed)
    request.context["timestamp"] = amz_date
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(credential.access_key_id, credential.secret_access_key,
                                         credential.session_token),
        service, region)
    # add_auth() would stamp the current time; the request's own X-Amz-Date is the one
    # that was signed, so drive botocore's steps directly with context["timestamp"] set.
    botocore_signed = signer.signed_headers(signer.headers_to_sign(request))
    if botocore_signed != parts["signed_headers_text"]:
        # E.g. a signed User-Agent: botocore never signs it (SIGNED_HEADERS_BLACKLIST).
        raise fail(403, "InvalidSignatureException",
                   "botocore would sign '%s', the request signed '%s'"
                   % (botocore_signed, parts["signed_headers_text"]))
    canonical_request = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical_request), request)
    if not hmac.compare_digest(expected.encode(), parts["signature"].encode()):
        error = fail(403, "InvalidSignatureException", SIGNATURE_MISMATCH)
        error.canonical_request = _redact(canonical_request, credential)
        raise error
    return SignedRequest(credential, region, signed, amz_date, _redact(canonical_request, credential))


def _rebuild_request(method, raw_path, header_pairs, body, signed):
    hosts = _header_values(header_pairs, "host")
    request = botocore.awsrequest.AWSRequest(method=method, url="https://%s%s" % (
        hosts[0].strip() if hosts else "", raw_path), data=body)
    # Keep only the signed headers, every value in arrival order: botocore joins repeats
    # with ',' and trims/collapses whitespace, as the SigV4 spec says.
    for name, value in header_pairs:
        if name.lower() in signed:
            request.headers[name] = value
    return request


def _redact(text, credential):
    if credential.session_token:
        text = text.replace(credential.session_token, "<session-token>")
    return text


def _amz(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------------------------------
# HTTP plumbing


class _BadFraming(Exception):
    pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awsstub"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection ends after this
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms per answer), which real AWS front ends do not do.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass  # silent: tests read the call log, and stderr stays free of request details

    def _dispatch(self):
        try:
            self.server.app(self)
        except _BadFraming as e:
            # The client's fault, not the stub's: answer as a server would and hang up.
            self.server.stub._framing_error(self.server.name, str(e))
            self.close_connection = True
            self.respond(400, "bad request framing: %s" % e, "text/plain", [("Connection", "close")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def read_body(self):
        """The request body per RFC 9112 section 6: chunked, Content-Length, or none."""
        lengths = self.headers.get_all("Content-Length") or []
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            if lengths:
                raise _BadFraming("both Transfer-Encoding and Content-Length")
            chunks = []
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadFraming("bad chunk size line") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        if len(set(lengths)) > 1 or (lengths and not lengths[0].strip().isdigit()):
            raise _BadFraming("invalid Content-Length")
        length = int(lengths[0]) if lengths else 0
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise _BadFraming("body shorter than Content-Length")
        return body

    def respond(self, status, body, content_type, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self):
        """Close the connection without an answer (a crashed peer, a reset)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, stub, name, app, tls):
        self.stub = stub
        self.name = name
        self.app = app
        self.tls = tls
        self.ssl_context = None
        self._live = set()
        self._live_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self):
        return self.server_address[1]

    def finish_request(self, request, client_address):
        # TLS is set up here, in the connection's own thread, so a client that stalls the
        # handshake cannot block the accept loop, and a refused handshake is recorded.
        self.stub._note(self.name, "connections")
        conn = request
        with self._live_lock:
            self._live.add(conn)
        try:
            if self.tls:
                request.settimeout(10)
                try:
                    conn = self.ssl_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.stub._tls_event(self.name, False, e)
                    return
                with self._live_lock:
                    self._live.add(conn)
                self.stub._tls_event(self.name, True, None)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            if conn is not request:
                with self._live_lock:
                    self._live.discard(conn)
                try:
                    conn.close()
                except OSError:
                    pass
            with self._live_lock:
                self._live.discard(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError, BrokenPipeError)):
            return
        self.stub._server_error(self.name, exc)

    def close_live(self):
        with self._live_lock:
            live = list(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------
# The stub


class AwsStub:
    """ECR + STS (HTTPS) and container-credentials + IMDSv2 (HTTP) on 127.0.0.1.

    tmpdir: where certificates and token files go. regions: the ECR regions served (a
    request scoped to another region is rejected as AWS would). ca: a pki.CA to issue the
    server certificate from (one is made in tmpdir when None). key: "rsa" or "ec" for the
    server certificate. url_host: "127.0.0.1" (IP SAN) or "localhost" (DNS SAN) in URLs.
    """

    def __init__(self, tmpdir, regions=DEFAULT_REGIONS, account_id=DEFAULT_ACCOUNT, ca=None,
                 key="rsa", tls_mode="good", url_host="127.0.0.1",
                 role_arn=None, imds_role="ecr-refresh-node", container_path="/v1/credentials",
                 credential_ttl=3600, token_ttl=12 * 3600):
        if not regions:
            raise ValueError("at least one region")
        self.tmpdir = str(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.regions = list(regions)
        self.account_id = account_id
        self.key = key
        self.url_host = url_host
        self.role_arn = role_arn or "arn:aws:iam::%s:role/ecr-refresh" % account_id
        self.imds_role = imds_role
        self.imds_region = self.regions[0]
        self.container_path = container_path
        self.credential_ttl = credential_ttl   # seconds STS/container/IMDS credentials live
        self.token_ttl = token_ttl             # ECR token validity (12 h at AWS)
        self.sts_expiration_fraction = False   # "2014-10-24T23:00:23.000Z" when True
        self.clock_offset = 0.0                # added to the stub's clock (skew tests)
        self.strict_host = True                # ECR Host must name this listener

        # Error answers whose status differs between AWS doc versions: switchable.
        self.expired_token_status = 403
        self.deny_all = False
        self.deny_regions = set()
        self.deny_status = 400

        self._lock = threading.RLock()
        self._ca = ca or pki.CA(self.tmpdir, "awsstub test CA")
        self.ca_path = self._ca.cert_path
        self._certs = {}
        self._rogue_ca = None
        self.tls_mode = tls_mode

        self._password_secret = secrets.token_bytes(32)
        self._old_password_secrets = []
        self.static = Credential(new_access_key_id(False), new_secret_access_key(), source="static")
        self.static_session = Credential(new_access_key_id(True), new_secret_access_key(),
                                         new_session_token(), source="static-session")
        self._credentials = {}
        self._issued = []
        for c in (self.static, self.static_session):
            self._credentials[c.access_key_id] = c
        self.web_identity_token = new_jwt("system:serviceaccount:kube-system:ecr-refresh",
                                          "sts.amazonaws.com")
        self.container_token = new_jwt("system:serviceaccount:kube-system:ecr-refresh",
                                       "pods.eks.amazonaws.com")
        self._old_tokens = []
        self._token_files = []  # (kind, path) written by env_* helpers, rewritten on rotation
        self._imds_tokens = {}  # token -> expiry epoch

        self._faults = {"ecr": [], "sts": [], "container": [], "imds": []}
        self._raw_token_answer = None
        self._expire_next_temporary = None  # None, or persist flag
        self._calls = []
        self.counters = {}
        self.tls_events = []
        self.server_errors = []   # bugs in the stub itself (fixtures fail the test on these)
        self.framing_errors = []  # requests whose body framing was broken (client bugs)
        self.last_signature_failure = None
        self._servers = {}
        self._threads = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        apps = {"ecr": (self._ecr, True), "sts": (self._sts, True),
                "container": (self._container, False), "imds": (self._imds, False)}
        for name, (app, tls) in apps.items():
            server = _Server(self, name, app, tls)
            self._servers[name] = server
        self.set_tls_mode(self.tls_mode)
        for server in self._servers.values():
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="awsstub-" + server.name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
            server.close_live()
        for t in self._threads:
            t.join(5)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _url(self, name, scheme):
        return "%s://%s:%d" % (scheme, self.url_host, self._servers[name].port)

    @property
    def ecr_url(self):
        return self._url("ecr", "https")

    @property
    def sts_url(self):
        return self._url("sts", "https")

    @property
    def container_url(self):
        return self._url("container", "http") + self.container_path

    @property
    def imds_url(self):
        return self._url("imds", "http")

    def port(self, name):
        return self._servers[name].port

    # -- TLS --------------------------------------------------------------------------------

    def _cert(self, mode, key):
        if (mode, key) in self._certs:
            return self._certs[(mode, key)]
        sans = {"dns": ["localhost"], "ips": ["127.0.0.1"]}
        if mode == "good":
            pair = self._ca.issue("awsstub", key=key, **sans)
        elif mode == "expired":
            pair = self._ca.issue("awsstub-expired", key=key, start="20200101000000Z",
                                  end="20200201000000Z", **sans)
        elif mode == "not_yet_valid":
            pair = self._ca.issue("awsstub-future", key=key, start="20990101000000Z",
                                  end="20991231000000Z", **sans)
        elif mode == "wrong_name":
            pair = self._ca.issue("awsstub-wrong", key=key, dns=["wrong.example.com"], ips=["10.9.8.7"])
        elif mode == "untrusted":
            if self._rogue_ca is None:
                self._rogue_ca = pki.CA(self.tmpdir, "awsstub untrusted CA")
            pair = self._rogue_ca.issue("awsstub", key=key, **sans)
        else:
            raise ValueError("tls mode %r not in %s" % (mode, TLS_MODES))
        self._certs[(mode, key)] = pair
        return pair

    def set_tls_mode(self, mode, key=None):
        """Serve ECR and STS with a good, expired, not_yet_valid, wrong_name (SANs match
        neither localhost nor 127.0.0.1) or untrusted (other CA) certificate. Takes effect
        for new connections."""
        cert, keyfile = self._cert(mode, key or self.key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, keyfile)
        with self._lock:
            self.tls_mode = mode
            for server in self._servers.values():
                if server.tls:
                    server.ssl_context = ctx

    # -- ECR passwords ------------------------------------------------------------------------

    def _password(self, key, region):
        # Real ECR passwords are base64 JSON of ~1.5 KB; this one is as long, distinct per
        # region and per stub, and deterministic so tests can name the expected value.
        stream = b""
        counter = 0
        while len(stream) < 1100:
            stream += hmac.new(key, b"%s|%d" % (region.encode(), counter), hashlib.sha256).digest()
            counter += 1
        doc = {"payload": base64.b64encode(stream[:1024]).decode(),
               "datakey": base64.b64encode(stream[1024:1100]).decode(),
               "version": "2", "type": "DATA_KEY", "region": region}
        return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()

    def password_for(self, region):
        """The registry password the stub gives out for region (user is always AWS)."""
        return self._password(self._password_secret, region)

    def authorization_token_for(self, region):
        """base64("AWS:" + password): the ECR authorizationToken, and the dockerconfig 'auth'."""
        return base64.b64encode(("AWS:" + self.password_for(region)).encode()).decode()

    def registry_host(self, region, account_id=None):
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return "%s.dkr.ecr.%s.%s" % (account_id or self.account_id, region, suffix)

    def rotate_passwords(self):
        """New passwords for every region from now on (the old ones stay in all_secrets)."""
        with self._lock:
            self._old_password_secrets.append(self._password_secret)
            self._password_secret = secrets.token_bytes(32)

    # -- credentials and tokens ---------------------------------------------------------------

    def now(self):
        return time.time() + self.clock_offset

    def issue_credential(self, source="test", ttl=None):
        """Mint a temporary credential the stub accepts (as STS/container/IMDS do); ttl in
        seconds overrides credential_ttl (e.g. 1 to have it expire during a test)."""
        now = self.now()
        c = Credential(new_access_key_id(True), new_secret_access_key(), new_session_token(),
                       expiration=now + (self.credential_ttl if ttl is None else ttl), source=source)
        with self._lock:
            self._credentials[c.access_key_id] = c
            self._issued.append(c)
        return c

    def issued(self, source=None):
        """Credentials handed out through STS / container / IMDS, oldest first."""
        with self._lock:
            return [c for c in self._issued if source is None or c.source == source]

    def credential(self, access_key_id):
        with self._lock:
            return self._credentials.get(access_key_id)

    def add_credential(self, credential):
        """Make another key pair known (e.g. a profile's) so requests signed with it verify."""
        with self._lock:
            self._credentials[credential.access_key_id] = credential
        return credential

    def rotate_web_identity_token(self):
        """A new expected web identity token, written into every token file handed out: the
        old one is refused from now on (the binary must re-read the file on every call)."""
        with self._lock:
            self._old_tokens.append(self.web_identity_token)
            self.web_identity_token = new_jwt("system:serviceaccount:kube-system:ecr-refresh",
                                              "sts.amazonaws.com")
            self._rewrite_token_files()

    def rotate_container_token(self):
        with self._lock:
            self._old_tokens.append(self.container_token)
            self.container_token = new_jwt("system:serviceaccount:kube-system:ecr-refresh",
                                           "pods.eks.amazonaws.com")
            self._rewrite_token_files()

    def _rewrite_token_files(self):
        for kind, path in self._token_files:
            _write_atomic(path, self.web_identity_token if kind == "web" else self.container_token)

    def all_secrets(self):
        """Every secret value the stub handed out or knows: secret keys, session tokens,
        registry passwords and auth strings (current and rotated), web identity and
        container tokens, IMDS session tokens."""
        with self._lock:
            out = []
            for c in self._credentials.values():
                out.append(c.secret_access_key)
                if c.session_token:
                    out.append(c.session_token)
            for key in self._old_password_secrets + [self._password_secret]:
                for region in self.regions:
                    pw = self._password(key, region)
                    out.append(pw)
                    out.append(base64.b64encode(("AWS:" + pw).encode()).decode())
            out += [self.web_identity_token, self.container_token] + self._old_tokens
            out += list(self._imds_tokens)
            return list(dict.fromkeys(out))

    def leaked_secrets(self, text, chunk=20):
        """Describe (never quote) the secrets found in text: a whole secret, or any
        chunk-character piece of one or of its base64 form (tests/standins/leakscan.py). [] if none."""
        secrets = self.all_secrets()
        return ["secret #%d (%d chars, starts %r)" % (i, len(secrets[i]), secrets[i][:4])
                for i in leakscan.leaks(text, secrets, chunk)]

    # -- fault knobs ----------------------------------------------------------------------------

    def fail_next(self, service, count=1, status=400, code="ThrottlingException",
                  message="Rate exceeded", style="plain", delay=0.0, drop=False):
        """The next count requests to service ("ecr", "sts", "container", "imds") that pass
        authentication get this error instead of an answer. style (ECR only) says where the
        error type goes: "plain" {"__type":"X"}, "namespaced" {"__type":"com.amazon...#X"},
        "header" X-Amzn-ErrorType "X:http://..." with {"message"}, "code" {"code":"X"}.
        delay sleeps first (timeout tests); drop closes the connection without answering."""
        with self._lock:
            self._faults[service].append({"count": count, "status": status, "code": code,
                                          "message": message, "style": style, "delay": delay,
                                          "drop": drop})

    def answer_tokens_raw(self, text):
        """Answer every signed GetAuthorizationToken with this raw JSON text (a hostile
        token: non-ASCII, a \\u0000 escape, ...); None gives the normal answer again."""
        with self._lock:
            self._raw_token_answer = text

    def throttle(self, count=1, status=400, style="plain"):
        """Throttle the next count ECR calls (400 ThrottlingException; status=429 for the
        variant the ECR docs also mention)."""
        self.fail_next("ecr", count, status, "ThrottlingException", "Rate exceeded", style)

    def server_error(self, count=1, status=500):
        self.fail_next("ecr", count, status, "ServerException",
                       "The server encountered an internal error. Please try again.")

    def stall_next(self, service, seconds, count=1):
        """Answer the next count requests only after seconds (fine for timeout tests)."""
        self.fail_next(service, count, status=None, code=None, delay=seconds)

    def expire_next_temporary(self, persist=True):
        """The next ECR request signed with a temporary credential gets ExpiredTokenException;
        with persist the credential stays expired (a client must fetch a new one), without
        it only that one request fails."""
        with self._lock:
            self._expire_next_temporary = persist

    def expire_credential(self, access_key_id):
        """From now on requests signed with this credential get ExpiredTokenException."""
        with self._lock:
            self._credentials[access_key_id].revoked_expired = True

    def reset(self):
        """Forget the call log, counters and every queued fault (keeps credentials)."""
        with self._lock:
            for q in self._faults.values():
                q.clear()
            self._expire_next_temporary = None
            self.deny_all = False
            self.deny_regions = set()
            self._raw_token_answer = None
            self._calls = []
            self.counters = {}
            self.tls_events = []
            self.last_signature_failure = None
            self.framing_errors = []

    def _take_fault(self, service):
        with self._lock:
            queue = self._faults[service]
            if not queue:
                return None
            fault = queue[0]
            fault["count"] -= 1
            if fault["count"] <= 0:
                queue.pop(0)
            return dict(fault)

    # -- call log -------------------------------------------------------------------------

    def calls(self, service=None, **match):
        """Logged requests, oldest first, as dicts: service, method, path, host, region,
        access_key_id, operation, status, error (AWS code or None), time, ... Filters:
        calls("ecr", status=200)."""
        with self._lock:
            return [dict(c) for c in self._calls
                    if (service is None or c["service"] == service)
                    and all(c.get(k) == v for k, v in match.items())]

    @property
    def call_log(self):
        return self.calls()

    def ecr_token_calls(self, ok=True):
        """Successful (or, ok=False, every) GetAuthorizationToken calls."""
        return [c for c in self.calls("ecr", operation="GetAuthorizationToken")
                if not ok or c["status"] == 200]

    @property
    def requests_received(self):
        """Total HTTP requests read on any listener (0 when the binary refused the TLS peer
        before sending one)."""
        with self._lock:
            return sum(v for (_, k), v in self.counters.items() if k == "requests")

    def count(self, listener, what="requests"):
        """Counters per listener: requests, connections, tls_ok, tls_failed."""
        with self._lock:
            return self.counters.get((listener, what), 0)

    def _note(self, listener, what):
        with self._lock:
            self.counters[(listener, what)] = self.counters.get((listener, what), 0) + 1

    def _tls_event(self, listener, ok, error):
        self._note(listener, "tls_ok" if ok else "tls_failed")
        with self._lock:
            self.tls_events.append({"listener": listener, "ok": ok, "time": time.time(),
                                    "error": None if error is None else str(error)})

    def _framing_error(self, listener, what):
        with self._lock:
            self.framing_errors.append("%s: %s" % (listener, what))

    def _server_error(self, listener, exc):
        with self._lock:
            self.server_errors.append("%s: %r" % (listener, exc))

    def _log(self, handler, service, **fields):
        entry = {"service": service, "method": handler.command, "path": handler.path,
                 "host": handler.headers.get("Host"), "time": time.time(),
                 "region": None, "access_key_id": None, "operation": None,
                 "status": None, "error": None,
                 "user_agent": handler.headers.get("User-Agent")}
        entry.update(fields)
        with self._lock:
            self._calls.append(entry)
        return entry

    # -- shared request handling ------------------------------------------------------------

    def _begin(self, handler, listener):
        self._note(listener, "requests")
        return handler.read_body()

    def _fault(self, handler, entry, service):
        """Apply a queued fault: returns "dropped" when the connection was closed unanswered,
        the fault when an error answer is due, None to carry on normally."""
        fault = self._take_fault(service)
        if not fault:
            return None
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["drop"]:
            entry["error"] = "dropped"
            handler.drop()
            return "dropped"
        return fault if fault["code"] or fault["status"] else None

    # -- ECR --------------------------------------------------------------------------------

    def _ecr_error(self, handler, entry, status, code, message, style="plain"):
        entry["status"], entry["error"] = status, code
        headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
        if style == "header":
            headers.append(("X-Amzn-ErrorType",
                            "%s:http://internal.amazon.com/coral/com.amazonaws.ecr/" % code))
            body = {"message": message}
        elif style == "code":
            body = {"code": code, "message": message}
        elif style == "namespaced":
            body = {"__type": "com.amazon.coral.service#" + code, "message": message}
        else:
            body = {"__type": code, "message": message}
        handler.respond(status, json.dumps(body), ECR_CONTENT_TYPE, headers)

    def _ecr(self, handler):
        body = self._begin(handler, "ecr")
        entry = self._log(handler, "ecr")
        target = handler.headers.get("X-Amz-Target", "")
        if target.startswith(ECR_TARGET_PREFIX):
            entry["operation"] = target[len(ECR_TARGET_PREFIX):]
        host = (handler.headers.get("Host") or "").strip()
        port = self._servers["ecr"].port
        if self.strict_host and host not in ("127.0.0.1:%d" % port, "localhost:%d" % port):
            return self._ecr_error(handler, entry, 400, "InvalidHostHeader",
                                   "Host header %r does not name this endpoint" % host)
        try:
            signed = verify_sigv4(handler.command, handler.path, handler.headers.items(), body,
                                  self.credential, self.now(), "ecr", self.regions,
                                  required_signed=("host", "x-amz-date", "content-type",
                                                   "x-amz-target"))
        except AwsError as e:
            entry["region"], entry["access_key_id"] = e.region, e.access_key_id
            if getattr(e, "canonical_request", None) is not None:
                self.last_signature_failure = {"expected_canonical_request": e.canonical_request,
                                               "authorization": handler.headers.get("Authorization")}
            return self._ecr_error(handler, entry, e.status, e.code, e.message)
        credential = signed.credential
        entry.update(region=signed.region, access_key_id=credential.access_key_id,
                     temporary=credential.temporary, credential_source=credential.source,
                     signed_headers=";".join(signed.signed_headers))

        with self._lock:
            if credential.temporary and self._expire_next_temporary is not None:
                persist, self._expire_next_temporary = self._expire_next_temporary, None
                if persist:
                    credential.revoked_expired = True
                else:
                    return self._ecr_error(handler, entry, self.expired_token_status,
                                           "ExpiredTokenException", EXPIRED_TOKEN)
        if credential.revoked_expired or (credential.expiration is not None
                                          and self.now() >= credential.expiration):
            return self._ecr_error(handler, entry, self.expired_token_status,
                                   "ExpiredTokenException", EXPIRED_TOKEN)
        if self.deny_all or signed.region in self.deny_regions:
            return self._ecr_error(
                handler, entry, self.deny_status, "AccessDeniedException",
                "User: arn:aws:sts::%s:assumed-role/ecr-refresh/session is not authorized to "
                "perform: ecr:GetAuthorizationToken on resource: * because no identity-based "
                "policy allows the ecr:GetAuthorizationToken action" % self.account_id)
        fault = self._fault(handler, entry, "ecr")
        if fault == "dropped":
            return None
        if fault:
            return self._ecr_error(handler, entry, fault["status"], fault["code"],
                                   fault["message"], fault["style"])

        if handler.command != "POST" or urllib.parse.urlsplit(handler.path).path != "/":
            return self._ecr_error(handler, entry, 404, "UnknownOperationException", "")
        media = handler.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != ECR_CONTENT_TYPE:
            return self._ecr_error(handler, entry, 400, "SerializationException",
                                   "Content-Type must be " + ECR_CONTENT_TYPE)
        if entry["operation"] != "GetAuthorizationToken":
            return self._ecr_error(handler, entry, 400, "UnknownOperationException", "")
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            request = None
        if not isinstance(request, dict):
            return self._ecr_error(handler, entry, 400, "SerializationException",
                                   "Start of structure or map found where not expected.")
        registry_ids = request.get("registryIds")
        if registry_ids is not None and (
                not isinstance(registry_ids, list) or not 1 <= len(registry_ids) <= 10
                or not all(isinstance(r, str) and re.fullmatch(r"\d{12}", r) for r in registry_ids)):
            return self._ecr_error(handler, entry, 400, "InvalidParameterException",
                                   "Invalid parameter at 'registryIds' failed to satisfy constraint")
        entry["registry_ids"] = registry_ids
        expires = round(self.now() + self.token_ttl, 3)
        if expires == int(expires):
            expires += 0.125  # always carry a fraction, as AWS often does
        data = []
        for account in registry_ids or [self.account_id]:
            data.append({"authorizationToken": self.authorization_token_for(signed.region),
                         "expiresAt": expires,
                         "proxyEndpoint": "https://" + self.registry_host(signed.region, account)})
        entry["status"] = 200
        with self._lock:
            raw = self._raw_token_answer
        if raw is not None:
            return handler.respond(200, raw, ECR_CONTENT_TYPE, [("x-amzn-RequestId", str(uuid.uuid4()))])
        handler.respond(200, json.dumps({"authorizationData": data}), ECR_CONTENT_TYPE,
                        [("x-amzn-RequestId", str(uuid.uuid4()))])

    # -- STS --------------------------------------------------------------------------------

    def _sts_error(self, handler, entry, status, code, message, kind="Sender"):
        entry["status"], entry["error"] = status, code
        body = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
                '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n'
                '</ErrorResponse>\n' % (STS_NAMESPACE, kind, xml_escape(code), xml_escape(message),
                                        uuid.uuid4()))
        handler.respond(status, body, "text/xml", [("x-amzn-RequestId", str(uuid.uuid4()))])

    def _sts(self, handler):
        body = self._begin(handler, "sts")
        entry = self._log(handler, "sts")
        if handler.command != "POST":
            return self._sts_error(handler, entry, 400, "InvalidAction",
                                   "Only POST with a form body is served here")
        media = handler.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            return self._sts_error(handler, entry, 400, "InvalidAction",
                                   "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                         strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return self._sts_error(handler, entry, 400, "MalformedQueryString",
                                   "The form body could not be parsed")
        if any(len(v) != 1 for v in form.values()):
            return self._sts_error(handler, entry, 400, "MalformedQueryString",
                                   "A parameter appears more than once")
        params = {k: v[0] for k, v in form.items()}
        action = params.get("Action")
        entry["operation"] = action
        entry["role_arn"] = params.get("RoleArn")
        entry["role_session_name"] = params.get("RoleSessionName")
        entry["duration_seconds"] = params.get("DurationSeconds")
        fault = self._fault(handler, entry, "sts")
        if fault == "dropped":
            return None
        if fault:
            return self._sts_error(handler, entry, fault["status"], fault["code"],
                                   fault["message"])
        if action == "GetCallerIdentity" and params.get("Version") == "2011-06-15":
            return self._sts_caller_identity(handler, entry, body)
        if action != "AssumeRoleWithWebIdentity" or params.get("Version") != "2011-06-15":
            return self._sts_error(handler, entry, 400, "InvalidAction",
                                   "Could not find operation %s for version %s"
                                   % (action, params.get("Version")))
        for name in ("RoleArn", "RoleSessionName", "WebIdentityToken"):
            if not params.get(name):
                return self._sts_error(handler, entry, 400, "ValidationError",
                                       "1 validation error detected: Value null at '%s' failed "
                                       "to satisfy constraint: Member must not be null"
                                       % (name[0].lower() + name[1:]))
        if not SESSION_NAME_RE.match(params["RoleSessionName"]):
            return self._sts_error(handler, entry, 400, "ValidationError",
                                   "1 validation error detected: Value at 'roleSessionName' failed "
                                   "to satisfy constraint: Member must satisfy regular expression "
                                   "pattern: [\\w+=,.@-]*")
        duration = self.credential_ttl
        if "DurationSeconds" in params:
            try:
                duration = int(params["DurationSeconds"])
            except ValueError:
                duration = -1
            if not 900 <= duration <= 43200:
                return self._sts_error(handler, entry, 400, "ValidationError",
                                       "1 validation error detected: Value at 'durationSeconds' "
                                       "failed to satisfy constraint: Member must have value "
                                       "between 900 and 43200")
        if not hmac.compare_digest(params["WebIdentityToken"].encode(),
                                   self.web_identity_token.encode()):
            return self._sts_error(handler, entry, 400, "InvalidIdentityToken",
                                   "The web identity token that was passed could not be validated "
                                   "by AWS. Get a new identity token from the identity provider "
                                   "and then retry the request.")
        if params["RoleArn"] != self.role_arn:
            return self._sts_error(handler, entry, 403, "AccessDenied",
                                   "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        c = self.issue_credential("sts", ttl=duration if "DurationSeconds" in params else None)
        entry.update(status=200, issued_access_key_id=c.access_key_id)
        role_name = self.role_arn.rsplit("/", 1)[-1]
        session = params["RoleSessionName"]
        body = (
            '<AssumeRoleWithWebIdentityResponse xmlns="%(ns)s">\n'
            '  <AssumeRoleWithWebIdentityResult>\n'
            '    <Audience>sts.amazonaws.com</Audience>\n'
            '    <AssumedRoleUser>\n'
            '      <AssumedRoleId>AROA%(rid)s:%(session)s</AssumedRoleId>\n'
            '      <Arn>arn:aws:sts::%(account)s:assumed-role/%(role)s/%(session)s</Arn>\n'
            '    </AssumedRoleUser>\n'
            '    <Provider>arn:aws:iam::%(account)s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Provider>\n'
            '    <Credentials>\n'
            '      <AccessKeyId>%(akid)s</AccessKeyId>\n'
            '      <SecretAccessKey>%(secret)s</SecretAccessKey>\n'
            '      <SessionToken>%(token)s</SessionToken>\n'
            '      <Expiration>%(exp)s</Expiration>\n'
            '    </Credentials>\n'
            '    <SubjectFromWebIdentityToken>system:serviceaccount:kube-system:ecr-refresh</SubjectFromWebIdentityToken>\n'
            '  </AssumeRoleWithWebIdentityResult>\n'
            '  <ResponseMetadata>\n'
            '    <RequestId>%(req)s</RequestId>\n'
            '  </ResponseMetadata>\n'
            '</AssumeRoleWithWebIdentityResponse>\n') % {
                "ns": STS_NAMESPACE, "rid": _random_chars(string.ascii_uppercase + string.digits, 17),
                "session": xml_escape(session), "account": self.account_id,
                "role": xml_escape(role_name), "akid": c.access_key_id,
                "secret": xml_escape(c.secret_access_key), "token": xml_escape(c.session_token),
                "exp": iso8601(c.expiration, self.sts_expiration_fraction), "req": uuid.uuid4()}
        handler.respond(200, body, "text/xml", [("x-amzn-RequestId", str(uuid.uuid4()))])

    def _sts_caller_identity(self, handler, entry, body):
        """GetCallerIdentity: Query protocol, SigV4-signed with service "sts" and checked by
        botocore like every ECR call; the identity named follows the credential used."""
        try:
            signed = verify_sigv4(handler.command, handler.path, handler.headers.items(), body,
                                  self.credential, self.now(), "sts", self.regions,
                                  required_signed=("host", "x-amz-date", "content-type"))
        except AwsError as e:
            entry["region"], entry["access_key_id"] = e.region, e.access_key_id
            # the same refusals, in STS's words for them
            code = {"InvalidSignatureException": "SignatureDoesNotMatch",
                    "UnrecognizedClientException": "InvalidClientTokenId"}.get(e.code, e.code)
            return self._sts_error(handler, entry, e.status, code, e.message)
        credential = signed.credential
        entry.update(region=signed.region, access_key_id=credential.access_key_id,
                     temporary=credential.temporary, credential_source=credential.source,
                     signed_headers=";".join(signed.signed_headers))
        if credential.temporary:
            role = self.role_arn.rsplit("/", 1)[-1]
            arn = "arn:aws:sts::%s:assumed-role/%s/ecr-refresh" % (self.account_id, role)
            user_id = "AROA%s:ecr-refresh" % credential.access_key_id[4:17]
        else:
            arn = "arn:aws:iam::%s:user/ecr-refresh" % self.account_id
            user_id = "AIDA" + credential.access_key_id[4:17]
        entry["status"] = 200
        body = ('<GetCallerIdentityResponse xmlns="%s">\n  <GetCallerIdentityResult>\n'
                '    <Arn>%s</Arn>\n    <UserId>%s</UserId>\n    <Account>%s</Account>\n'
                '  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
                '  </ResponseMetadata>\n</GetCallerIdentityResponse>\n'
                % (STS_NAMESPACE, xml_escape(arn), xml_escape(user_id), self.account_id, uuid.uuid4()))
        handler.respond(200, body, "text/xml", [("x-amzn-RequestId", str(uuid.uuid4()))])

    # -- container credentials (EKS Pod Identity agent / ECS) ---------------------------------

    def _container(self, handler):
        self._begin(handler, "container")
        entry = self._log(handler, "container", operation="GetCredentials")

        def error(status, code, message):
            entry["status"], entry["error"] = status, code
            handler.respond(status, json.dumps({"code": code, "message": message}),
                            "application/json")

        if handler.command != "GET" or urllib.parse.urlsplit(handler.path).path != self.container_path:
            return error(404, "NotFound", "no such path")
        token = handler.headers.get("Authorization")
        entry["authorization_sent"] = token is not None
        if token is None:
            return error(401, "InvalidToken", "Authorization header is missing")
        # Sent as-is (no "Bearer"): compare byte for byte, in constant time.
        if not hmac.compare_digest(token.encode(), self.container_token.encode()):
            return error(403, "AccessDeniedException", "Authorization token is not valid")
        fault = self._fault(handler, entry, "container")
        if fault == "dropped":
            return None
        if fault:
            return error(fault["status"], fault["code"], fault["message"])
        c = self.issue_credential("container")
        entry.update(status=200, issued_access_key_id=c.access_key_id)
        handler.respond(200, json.dumps({
            "AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key,
            "Token": c.session_token, "AccountId": self.account_id,
            "Expiration": iso8601(c.expiration)}), "application/json")

    # -- IMDSv2 -------------------------------------------------------------------------------

    def _imds(self, handler):
        self._begin(handler, "imds")
        entry = self._log(handler, "imds")
        path = urllib.parse.urlsplit(handler.path).path

        def answer(status, text, error=None):
            entry["status"], entry["error"] = status, error
            handler.respond(status, text, "text/plain")

        fault = self._fault(handler, entry, "imds")
        if fault == "dropped":
            return None
        if fault:
            return answer(fault["status"], "", fault["code"])
        if path == "/latest/api/token":
            entry["operation"] = "GetToken"
            if handler.command != "PUT":
                return answer(405, "", "MethodNotAllowed")
            if "X-Forwarded-For" in handler.headers:
                return answer(403, "", "Forbidden")  # IMDS refuses proxied token requests
            ttl = handler.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return answer(400, "", "BadRequest")
            token = base64.b64encode(secrets.token_bytes(42)).decode()
            with self._lock:
                self._imds_tokens[token] = time.time() + int(ttl)
            entry["status"] = 200
            return handler.respond(200, token, "text/plain",
                                   [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
        if handler.command != "GET":
            return answer(405, "", "MethodNotAllowed")
        token = handler.headers.get("X-aws-ec2-metadata-token")
        with self._lock:
            expiry = self._imds_tokens.get(token) if token else None
        if expiry is None or expiry < time.time():
            return answer(401, "", "Unauthorized")  # IMDSv1 is off: a token is required
        prefix = "/latest/meta-data/iam/security-credentials/"
        if path != prefix and path.endswith("/"):
            path = path[:-1]  # IMDS serves leaves with a trailing slash too (botocore asks so)
        if path == prefix:
            entry["operation"] = "GetRoleName"
            if not self.imds_role:
                return answer(404, "", "NotFound")
            return answer(200, self.imds_role)
        if path.startswith(prefix):
            entry["operation"] = "GetRoleCredentials"
            if not self.imds_role or path[len(prefix):] != self.imds_role:
                return answer(404, "", "NotFound")
            c = self.issue_credential("imds")
            entry["issued_access_key_id"] = c.access_key_id
            return answer(200, json.dumps({
                "Code": "Success", "LastUpdated": iso8601(self.now()), "Type": "AWS-HMAC",
                "AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key,
                "Token": c.session_token, "Expiration": iso8601(c.expiration)}, indent=2))
        if path == "/latest/meta-data/placement/region":
            entry["operation"] = "GetRegion"
            return answer(200, self.imds_region)
        if path == "/latest/meta-data/placement/availability-zone":
            entry["operation"] = "GetAvailabilityZone"
            return answer(200, self.imds_region + "a")
        return answer(404, "", "NotFound")

    # -- environment for a client ---------------------------------------------------------------

    def env(self):
        """Variables that point an AWS client at the stub (endpoints, CA), no credentials.
        The shared config/credentials files point into tmpdir (absent) so nothing from the
        user's ~/.aws leaks in."""
        return {
            "AWS_ENDPOINT_URL_ECR": self.ecr_url,
            "AWS_ENDPOINT_URL_STS": self.sts_url,
            "AWS_CA_BUNDLE": self.ca_path,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4",
            "AWS_CONFIG_FILE": os.path.join(self.tmpdir, "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmpdir, "no-aws-credentials"),
        }

    def env_static_keys(self, session=False):
        c = self.static_session if session else self.static
        out = {"AWS_ACCESS_KEY_ID": c.access_key_id, "AWS_SECRET_ACCESS_KEY": c.secret_access_key}
        if session:
            out["AWS_SESSION_TOKEN"] = c.session_token
        return out

    def env_web_identity(self, token_file_dir, region=None, session_name=None):
        """IRSA as the EKS webhook injects it; the token file is (re)written by the stub."""
        path = os.path.join(str(token_file_dir), "token")
        self._add_token_file("web", path)
        region = region or self.regions[0]
        out = {"AWS_ROLE_ARN": self.role_arn, "AWS_WEB_IDENTITY_TOKEN_FILE": path,
               "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
               "AWS_STS_REGIONAL_ENDPOINTS": "regional"}
        if session_name:
            out["AWS_ROLE_SESSION_NAME"] = session_name
        return out

    def env_pod_identity(self, token_file_dir):
        """EKS Pod Identity: full URI plus a token file sent as-is on every request."""
        path = os.path.join(str(token_file_dir), "eks-pod-identity-token")
        self._add_token_file("container", path)
        return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.container_url,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": path}

    def env_container_token(self):
        """The static-token form: AWS_CONTAINER_AUTHORIZATION_TOKEN."""
        return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.container_url,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.container_token}

    def env_imds(self):
        return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
                "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4",
                "AWS_EC2_METADATA_DISABLED": "false"}

    def _add_token_file(self, kind, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with self._lock:
            if (kind, path) not in self._token_files:
                self._token_files.append((kind, path))
            _write_atomic(path, self.web_identity_token if kind == "web" else self.container_token)


def _write_atomic(path, text):
    # kubelet swaps projected tokens atomically; a reader never sees half a file.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
