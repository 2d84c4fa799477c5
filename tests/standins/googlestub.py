"""A local stand-in for Google's OAuth2 token endpoint and the GKE metadata server, so the
Google tests never reach the internet.

    g = GoogleStub(tmpdir, ca).start()
    env = {"GOOGLE_APPLICATION_CREDENTIALS": g.key_path, "SSL_CERT_FILE": g.ca_path}
    g.tokens_issued            # access tokens handed out, oldest first
    g.stop()

Listeners (127.0.0.1, ports picked free):
- token endpoint (HTTPS, a certificate from the test CA; the key file's token_uri points
  here): POST with application/x-www-form-urlencoded, grant_type exactly
  urn:ietf:params:oauth:grant-type:jwt-bearer, and an assertion that is a compact JWS whose
  header says RS256 (and the key's kid), whose RS256 signature verifies with the public half
  of the service-account key (python3-cryptography), and whose claims are iss = the
  account's email, scope = cloud-platform, aud = token_uri, iat within 5 minutes of now and
  exp - iat at most an hour. Anything else gets a 400 {"error":"invalid_grant"|...}, as
  oauth2.googleapis.com answers.
- metadata server (plain HTTP): GET /computeMetadata/v1/instance/service-accounts/default/token
  demands "Metadata-Flavor: Google" (403 otherwise) and answers with that header.

The key is made with openssl (RSA 2048, PKCS#8), as Google's key files carry it. Every
secret the stub made or handed out (key PEM, key file, access tokens) is in all_secrets(),
so a test can check that none reached an output.
"""
import base64
import http.server
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
TOKEN_PATH = "/token"
MAX_SKEW = 300


class JwtRefused(Exception):
    def __init__(self, error, description):
        super().__init__(description)
        self.error = error
        self.description = description


def b64url_decode(part):
    if "=" in part or not part:
        raise JwtRefused("invalid_grant", "Invalid JWT: base64url without padding expected")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except ValueError:
        raise JwtRefused("invalid_grant", "Invalid JWT: not base64url") from None


def verify_assertion(assertion, public_key, email, token_uri, kid, now):
    """Checks a JWT-bearer assertion as Google does; returns its claims or raises JwtRefused."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise JwtRefused("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        raise JwtRefused("invalid_grant", "Invalid JWT: header or claims are not JSON") from None
    if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
        raise JwtRefused("invalid_grant", "Invalid JWT: alg must be RS256")
    if "kid" in header and header["kid"] != kid:
        raise JwtRefused("invalid_grant", "Invalid JWT: unknown kid")
    try:
        public_key.verify(b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise JwtRefused("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("iss") != email:
        raise JwtRefused("invalid_grant", "Invalid JWT: iss is not the service account")
    if claims.get("aud") != token_uri:
        raise JwtRefused("invalid_grant", "Invalid JWT: aud must be the token URI")
    if claims.get("scope") != SCOPE:
        raise JwtRefused("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or abs(iat - now) > MAX_SKEW \
            or exp <= now or exp - iat > 3600:
        raise JwtRefused("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) "
                                          "and in a reasonable timeframe. Check your iat and exp values")
    return claims


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "googlestub"
    sys_version = ""
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.stub._dispatch(self)

    do_POST = do_PUT = do_GET

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def respond(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub, name, ssl_context):
        self.stub = stub
        self.name = name
        self.ssl_context = ssl_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        if self.ssl_context:
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.stub._note("tls_failed")
                return
        self.RequestHandlerClass(request, client_address, self)


class GoogleStub:
    def __init__(self, tmpdir, ca, email="ecr-refresh@demo-project.iam.gserviceaccount.com",
                 token_ttl=3599):
        self.tmpdir = str(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.ca = ca
        self.ca_path = ca.cert_path
        self.email = email
        self.token_ttl = token_ttl
        self.kid = secrets.token_hex(20)
        self.key_pem_path = os.path.join(self.tmpdir, "sa.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", self.key_pem_path], check=True, capture_output=True)
        with open(self.key_pem_path, "rb") as f:
            self.key_pem = f.read().decode()
        self.public_key = serialization.load_pem_private_key(self.key_pem.encode(), None).public_key()
        self._lock = threading.Lock()
        self.tokens_issued = []
        self.requests = []          # (listener, path, status, error)
        self.counters = {}
        self.fail_next = None       # (status, error, description) for the next token request
        self._servers = {}
        self._threads = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        crt, key = self.ca.issue("googlestub", dns=["localhost"], ips=["127.0.0.1"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
        self._servers = {"token": _Server(self, "token", ctx), "metadata": _Server(self, "metadata", None)}
        for server in self._servers.values():
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            self._threads.append(t)
        self.key_path = self.write_key_file("sa.json")
        return self

    def stop(self):
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for t in self._threads:
            t.join(5)

    @property
    def token_uri(self):
        return "https://127.0.0.1:%d%s" % (self._servers["token"].server_address[1], TOKEN_PATH)

    @property
    def metadata_host(self):
        """GCE_METADATA_HOST's form: host:port, no scheme."""
        return "127.0.0.1:%d" % self._servers["metadata"].server_address[1]

    def key_document(self, **changes):
        doc = {"type": "service_account", "project_id": "demo-project", "private_key_id": self.kid,
               "private_key": self.key_pem, "client_email": self.email, "client_id": "104958123456789012345",
               "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.token_uri,
               "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs"}
        doc.update(changes)
        return {k: v for k, v in doc.items() if v is not None}

    def write_key_file(self, name, text=None, **changes):
        path = os.path.join(self.tmpdir, name)
        with open(path, "w") as f:
            f.write(text if text is not None else json.dumps(self.key_document(**changes), indent=2) + "\n")
        return path

    def key_text(self):
        with open(self.key_path) as f:
            return f.read()

    def all_secrets(self):
        body = "".join(l for l in self.key_pem.splitlines() if not l.startswith("-----"))
        with self._lock:
            return [body, json.dumps(self.key_pem)[1:-1]] + list(self.tokens_issued)

    def leaked_secrets(self, text, chunk=20):
        found = []
        for i, secret in enumerate(self.all_secrets()):
            pieces = [secret[k:k + chunk] for k in range(0, max(len(secret) - chunk + 1, 1), chunk)]
            if any(p in text for p in pieces):
                found.append("google secret #%d (%d chars)" % (i, len(secret)))
        return found

    def count(self, what):
        with self._lock:
            return self.counters.get(what, 0)

    # -- handling ---------------------------------------------------------------------------

    def _note(self, what):
        with self._lock:
            self.counters[what] = self.counters.get(what, 0) + 1

    def _issue(self):
        token = "ya29.c." + secrets.token_urlsafe(120)
        with self._lock:
            self.tokens_issued.append(token)
        return {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"}

    def _dispatch(self, h):
        name = h.server.name
        self._note(name)
        body = h.body()
        if name == "metadata":
            status, obj, headers = self._metadata(h)
        else:
            status, obj, headers = self._token(h, body)
        with self._lock:
            self.requests.append((name, h.path, status, obj.get("error") if isinstance(obj, dict) else None))
        h.respond(status, obj, headers)

    def _metadata(self, h):
        flavor = [("Metadata-Flavor", "Google")]
        if h.headers.get("Metadata-Flavor") != "Google":
            return 403, {"error": "Missing required header: Metadata-Flavor"}, flavor
        if h.command != "GET" or urllib.parse.urlsplit(h.path).path != METADATA_TOKEN_PATH:
            return 404, {"error": "not found"}, flavor
        return 200, self._issue(), flavor

    def _token(self, h, body):
        def refuse(error, description, status=400):
            return status, {"error": error, "error_description": description}, ()

        if h.command != "POST" or urllib.parse.urlsplit(h.path).path != TOKEN_PATH:
            return refuse("invalid_request", "POST to the token URI expected", 404)
        if h.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return refuse("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return refuse("invalid_request", "bad form body")
        if form.get("grant_type") != [GRANT_TYPE]:
            return refuse("unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type"))
        if len(form.get("assertion", [])) != 1 or set(form) != {"grant_type", "assertion"}:
            return refuse("invalid_request", "exactly one assertion expected")
        with self._lock:
            fault, self.fail_next = self.fail_next, None
        if fault:
            return refuse(fault[1], fault[2], fault[0])
        try:
            verify_assertion(form["assertion"][0], self.public_key, self.email, self.token_uri, self.kid,
                             int(time.time()))
        except JwtRefused as e:
            return refuse(e.error, e.description)
        return 200, self._issue(), ()
