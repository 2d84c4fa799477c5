"""The TLS client (net.c + tls.c + anchors.c) end to end, through build/tools/tlsprobe, against
real servers: `openssl s_server` and Python's ssl module, with certificates from tests/standins/pki.py.

Set ECR_BUILD to test another build folder (default "build").
"""
import http.server
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

import pki
from conftest import ROOT

BUILD = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
PROBE = os.path.join(BUILD, "tools", "tlsprobe")


def _has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_IPV6 = _has_ipv6()
needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")


@pytest.fixture(scope="module", autouse=True)
def _probe_built():
    assert os.path.exists(PROBE), "build %s first (make B=... %s)" % (PROBE, os.path.relpath(PROBE, ROOT))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Every certificate the tests need, made once."""
    d = str(tmp_path_factory.mktemp("pki"))
    ca = pki.CA(d, "tls test CA")
    other = pki.CA(d, "unknown CA", key="ec")
    many = ["host%03d.very-long-subdomain-name.example.com" % i for i in range(230)]
    c = {
        "ca": ca.cert_path,
        "rsa": ca.issue("srv-rsa", dns=["localhost"], ips=["127.0.0.1", "::1"]),
        "ec": ca.issue("srv-ec", dns=["localhost"], ips=["127.0.0.1", "::1"], key="ec"),
        "expired": ca.issue("expired", dns=["localhost"], ips=["127.0.0.1"],
                            start="20200101000000Z", end="20200201000000Z"),
        "notyet": ca.issue("notyet", dns=["localhost"], ips=["127.0.0.1"],
                           start="20900101000000Z", end="20910101000000Z"),
        "wrong": ca.issue("wrong", dns=["example.com"], ips=["127.0.0.2"]),
        "dns-looks-like-ip": ca.issue("dnsip", dns=["127.0.0.1"]),
        "v4only": ca.issue("v4only", ips=["127.0.0.1"], key="ec"),
        "unknown-ca": other.issue("stranger", dns=["localhost"], ips=["127.0.0.1"]),
        # ~8 KB of names before the IP: the SAN walk must get through all of them
        "long-san": ca.issue("longsan", dns=many[:150], ips=["10.0.0.9", "127.0.0.1"], key="ec"),
        # over the 8192-byte end-entity limit
        "huge": ca.issue("huge", dns=["localhost"] + many, ips=["127.0.0.1"], key="ec"),
    }
    size = len(ssl.PEM_cert_to_DER_cert(open(c["huge"][0]).read()))
    assert size > 8192, size
    size = len(ssl.PEM_cert_to_DER_cert(open(c["long-san"][0]).read()))
    assert 6000 < size < 8192, size
    return c


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host, port, timeout=10):
    end = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < end:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nothing listens on %s:%d" % (host, port))


class OpenSSLServer:
    """openssl s_server -www: answers GET / with an HTML page naming the protocol and cipher."""

    def __init__(self, cert_key, host="127.0.0.1", extra=()):
        self.host = host
        self.port = free_port(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        accept = "[%s]:%d" % (host, self.port) if ":" in host else "%s:%d" % (host, self.port)
        cert, key = cert_key
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-quiet", "-www", "-accept", accept, "-cert", cert, "-key", key]
            + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(host, self.port)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Host")))
        body = b"hello over TLS\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PythonTLSServer(http.server.ThreadingHTTPServer):
    """Python's http.server behind ssl; records every request and every failed handshake.
    It closes without close_notify, so the client sees EOF right after the last record."""
    daemon_threads = True

    def __init__(self, cert_key, host="127.0.0.1"):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert_key)
        self.requests = []
        self.tls_errors = []
        super().__init__((host, 0), _Handler)
        self.host = host
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.tls_errors.append(str(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


def openssl_server(servers, cert_key, host="127.0.0.1", extra=()):
    s = OpenSSLServer(cert_key, host, extra)
    servers.append(s)
    return s


def python_server(servers, cert_key, host="127.0.0.1"):
    s = PythonTLSServer(cert_key, host)
    servers.append(s)
    return s


def probe(host, port, *args, timeout_ms=8000):
    """Runs tlsprobe; stdout and stderr as text with CR LF kept as sent."""
    p = subprocess.run([PROBE, *args, "--timeout-ms", str(timeout_ms), host, str(port)],
                       capture_output=True, timeout=timeout_ms / 1000 + 10)
    p.stdout = p.stdout.decode("latin-1")
    p.stderr = p.stderr.decode("latin-1")
    return p


def refused(proc, *fragments):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert "\n" not in line, line
    for f in fragments:
        assert f in line, line
    return line


# ---- success ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
def test_openssl_server(certs, servers, kind, host):
    srv = openssl_server(servers, certs[kind], host=host if host != "localhost" else "127.0.0.1")
    p = probe(host, srv.port, "--ca", certs["ca"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("HTTP/1.0 200 ok"), p.stdout[:200]
    assert "TLSv1.2" in p.stdout
    # the suite s_server reports is one we offer: ECDHE with an AEAD
    assert ("ECDHE-%s-" % ("RSA" if kind == "rsa" else "ECDSA")) in p.stdout


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
def test_python_server(certs, servers, kind, host):
    srv = python_server(servers, certs[kind], host=host if host != "localhost" else "127.0.0.1")
    p = probe(host, srv.port, "--ca", certs["ca"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("HTTP/1.1 200 OK\r\n"), p.stdout[:200]
    assert p.stdout.endswith("\r\n\r\nhello over TLS\n")
    want_host = "[::1]" if host == "::1" else host
    assert srv.requests == [("/", "%s:%d" % (want_host, srv.port))]
    assert srv.tls_errors == []


@pytest.mark.parametrize("suite,kind", [
    ("ECDHE-RSA-AES128-GCM-SHA256", "rsa"),
    ("ECDHE-RSA-AES256-GCM-SHA384", "rsa"),
    ("ECDHE-RSA-CHACHA20-POLY1305", "rsa"),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ec"),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "ec"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "ec"),
])
def test_every_offered_suite(certs, servers, suite, kind):
    srv = openssl_server(servers, certs[kind], extra=["-cipher", suite, "-tls1_2"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    assert p.returncode == 0, p.stderr
    assert suite in p.stdout


@pytest.mark.parametrize("suite", ["AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256"])
def test_suites_not_offered(certs, servers, suite):
    """No RSA key exchange, no CBC, no finite-field DHE."""
    srv = openssl_server(servers, certs["rsa"], extra=["-cipher", suite, "-tls1_2"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "TLS handshake failed", "handshake_failure", "[TLS_EHANDSHAKE]")


def test_ip_san_after_many_names(certs, servers):
    srv = python_server(servers, certs["long-san"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    assert p.returncode == 0, p.stderr
    assert srv.requests


def test_ca_file_plus_embedded_roots(certs, servers):
    srv = python_server(servers, certs["rsa"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"], "--embedded")
    assert p.returncode == 0, p.stderr


# ---- certificate refused, before any request ----------------------------------------

def test_expired(certs, servers):
    srv = python_server(servers, certs["expired"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "certificate has expired (valid until 2020-02-01 00:00:00 UTC)", "[TLS_ECERT]")
    assert srv.requests == []


def test_not_yet_valid(certs, servers):
    srv = python_server(servers, certs["notyet"])
    p = probe("localhost", srv.port, "--ca", certs["ca"])
    refused(p, "certificate is not yet valid (valid from 2090-01-01 00:00:00 UTC)", "[TLS_ECERT]")
    assert srv.requests == []


def test_wrong_ip(certs, servers):
    """A certificate for 127.0.0.2 presented at 127.0.0.1."""
    srv = python_server(servers, certs["wrong"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "certificate is not valid for 127.0.0.1", "[TLS_ECERT]")
    assert srv.requests == []
    end = time.monotonic() + 5   # the server thread notes the failure on its own time
    while not srv.tls_errors and time.monotonic() < end:
        time.sleep(0.05)
    assert srv.tls_errors, "the server saw no failed handshake"


def test_wrong_dns_name(certs, servers):
    srv = python_server(servers, certs["wrong"])
    p = probe("localhost", srv.port, "--ca", certs["ca"])
    refused(p, "certificate is not valid for localhost", "[TLS_ECERT]")
    assert srv.requests == []


def test_ip_in_dns_san_is_not_an_ip_san(certs, servers):
    """RFC 6125 6.2.1: an IP host matches iPAddress SANs only, never a dNSName that looks like one."""
    srv = python_server(servers, certs["dns-looks-like-ip"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "certificate is not valid for 127.0.0.1", "[TLS_ECERT]")
    assert srv.requests == []


@needs_ipv6
def test_ipv6_host_with_ipv4_only_cert(certs, servers):
    srv = python_server(servers, certs["v4only"], host="::1")
    p = probe("::1", srv.port, "--ca", certs["ca"])
    refused(p, "certificate is not valid for ::1", "[TLS_ECERT]")
    assert srv.requests == []


def test_unknown_ca(certs, servers):
    srv = python_server(servers, certs["unknown-ca"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "certificate not signed by a trusted CA", "[TLS_ECERT]")
    assert srv.requests == []


def test_private_ca_not_in_embedded_roots(certs, servers):
    srv = openssl_server(servers, certs["rsa"])
    p = probe("localhost", srv.port, "--embedded")
    refused(p, "certificate not signed by a trusted CA", "[TLS_ECERT]")


def test_certificate_too_large_for_ip_check(certs, servers):
    srv = python_server(servers, certs["huge"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "bytes, over the 8192 we can check for 127.0.0.1", "[TLS_ECERT]")
    assert srv.requests == []
    # a DNS host does not need our copy: BearSSL checks dNSName itself
    p = probe("localhost", srv.port, "--ca", certs["ca"])
    assert p.returncode == 0, p.stderr


# ---- handshake and transport failures -----------------------------------------------

def test_tls13_only_server(certs, servers):
    srv = openssl_server(servers, certs["rsa"], extra=["-tls1_3"])
    p = probe("127.0.0.1", srv.port, "--ca", certs["ca"])
    refused(p, "TLS handshake failed: server sent alert protocol_version (70)",
            "does not accept TLS 1.2", "[TLS_EHANDSHAKE]")


def test_silent_server_cut_off_at_timeout():
    """Accepts TCP, then never says a word: the handshake ends at the deadline."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        start = time.monotonic()
        p = probe("127.0.0.1", port, timeout_ms=1500)
        elapsed = time.monotonic() - start
    refused(p, "TLS handshake: timed out", "[TLS_ETIMEOUT]")
    assert 1.4 <= elapsed < 1.5 + 2, elapsed


def test_server_hangs_up_during_handshake():
    """Reads the ClientHello and closes without a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]

        def hang_up():
            c, _ = ls.accept()
            c.recv(4096)
            c.close()

        t = threading.Thread(target=hang_up, daemon=True)
        t.start()
        p = probe("127.0.0.1", port, timeout_ms=5000)
        t.join(5)
    refused(p, "TLS handshake: connection closed by the server", "[TLS_EHANDSHAKE]")


def test_plain_http_server(servers):
    """Something that is not TLS at all answers: a clear failure, not a hang."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        p = probe("127.0.0.1", srv.server_address[1], timeout_ms=5000)
    finally:
        srv.shutdown()
        srv.server_close()
    refused(p, "TLS handshake", "[TLS_EHANDSHAKE]")


class TruncatingProxy:
    """TCP proxy in front of a TLS server that forwards the server's records until the first
    application data record, sends half of that one, and hangs up: a truncation attack."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream_port))

        def upward():
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    server.sendall(data)
            except OSError:
                pass

        threading.Thread(target=upward, daemon=True).start()
        buf = b""
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 5:
                    size = 5 + int.from_bytes(buf[3:5], "big")
                    if len(buf) < size:
                        break
                    record, buf = buf[:size], buf[size:]
                    if record[0] == 23:   # application_data (RFC 5246 6.2.1)
                        client.sendall(record[:5 + (size - 5) // 2])
                        return
                    client.sendall(record)
        finally:
            # shutdown, not just close: the other thread still sits in recv on these sockets,
            # which keeps them open (no FIN) after a bare close
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def stop(self):
        self.listener.close()
        self.thread.join(5)


def test_truncated_record_is_an_error(certs, servers):
    srv = python_server(servers, certs["rsa"])
    proxy = TruncatingProxy(srv.port)
    servers.append(proxy)
    p = probe("127.0.0.1", proxy.port, "--ca", certs["ca"], timeout_ms=5000)
    refused(p, "TLS read: connection closed by the server in the middle of a TLS record", "[TLS_ECLOSED]")
    assert srv.requests, "the request went through"


def test_connection_refused():
    port = free_port()
    p = probe("127.0.0.1", port)
    refused(p, "connect 127.0.0.1:%d: Connection refused" % port, "[NET_ECONNECT]")


def test_bad_ca_file(tmp_path):
    p = probe("127.0.0.1", 1, "--ca", str(tmp_path / "missing.crt"))
    refused(p, "missing.crt: No such file or directory")
    empty = tmp_path / "empty.crt"
    empty.write_text("not a certificate\n")
    p = probe("127.0.0.1", 1, "--ca", str(empty))
    refused(p, "empty.crt: no certificate found")


def test_usage():
    p = subprocess.run([PROBE, "--bogus"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "usage: tlsprobe" in p.stderr
