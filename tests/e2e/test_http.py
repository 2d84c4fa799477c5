"""End-to-end tests of http.c through tests/tools/httpc against real servers: Python's
http.server (HTTP/1.1, counting the connections it accepts), python ssl with tests/standins/pki.py
certificates, raw sockets for hostile or stalled peers, and a real tinyproxy for CONNECT.

Point at another build folder with ECR_BUILD=build-NAME (default "build").
"""
import contextlib
import http.server
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

import pki
from fixtures_proxy import run_tinyproxy
from conftest import ROOT

BUILD_DIR = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
HTTPC = os.path.join(BUILD_DIR, "tools", "httpc")
PROXY_VARS = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY",
              "all_proxy", "ALL_PROXY")


def run_httpc(*args, env=None, timeout=30):
    assert os.path.exists(HTTPC), "build it first: make B=%s %s" % (os.path.basename(BUILD_DIR), HTTPC)
    clean = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    clean.update(env or {})
    start = time.monotonic()
    proc = subprocess.run([HTTPC] + [str(a) for a in args], env=clean, capture_output=True,
                          timeout=timeout)
    proc.elapsed = time.monotonic() - start
    proc.out = proc.stdout.decode("utf-8", "replace")
    proc.err = proc.stderr.decode("utf-8", "replace")
    return proc


def connects(proc):
    return int(proc.out.strip().splitlines()[-1].split()[1])


def statuses(proc):
    return [int(line.split()[1]) for line in proc.out.splitlines() if line.startswith("status ")]


# ---- servers -----------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, body, status=200, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _chunked(self, chunks, trailer=b""):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, chunk in enumerate(chunks):
            self.wfile.write(b"%x;n=%d\r\n%s\r\n" % (len(chunk), i, chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n" + trailer + b"\r\n")

    def handle_any(self):
        body = self._body()
        path, _, query = self.path.partition("?")
        n = int(query.split("=")[1]) if query.startswith("n=") else 0
        if path == "/hello":
            self._send(b"hello")
        elif path == "/close":
            self._send(b"closing", headers=[("Connection", "close")])
            self.close_connection = True
        elif path == "/then-close":
            # Framed for keep-alive and no "Connection: close": the server just drops the
            # connection afterwards, as an idle timeout would.
            self._send(b"dropped after this")
            self.close_connection = True
        elif path == "/chunked":
            self._chunked([b"chun", b"ked ", b"body"], trailer=b"X-Checksum: 1\r\n")
        elif path == "/big-chunked":
            self._chunked([b"y" * 1000] * (n // 1000))
        elif path == "/eof":
            # HTTP/1.1 with neither length nor chunked: the body ends when the connection does.
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"until the server closes")
            self.close_connection = True
        elif path == "/big-body":
            self._send(b"x" * n)
        elif path == "/echo":
            self._send(("%s %s host=%s cl=%s body=%s" % (
                self.command, self.path, self.headers.get("Host"),
                self.headers.get("Content-Length"), body.decode())).encode())
        else:
            self._send(b"no such path", status=404)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host="127.0.0.1", family=socket.AF_INET, tls=None):
        self.address_family = family
        self.connections = 0
        self.tls = tls
        self._lock = threading.Lock()
        super().__init__((host, 0), Handler)

    def get_request(self):
        sock, addr = super().get_request()
        with self._lock:
            self.connections += 1
        if self.tls is not None:
            # The handshake runs on the first read, in the handler's thread.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass   # refused handshakes and dropped connections are what some tests are about


@contextlib.contextmanager
def serving(**kwargs):
    server = CountingServer(**kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def raw_server(reply=None, seen=None):
    """Accepts connections; with reply, reads a request head (appended to seen), sends reply
    and closes; without, holds every connection open and silent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    held, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            held.append(conn)
            if reply is not None:
                conn.settimeout(5)
                data = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if seen is not None:
                        seen.append(data)
                    conn.sendall(reply)
                    conn.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- plain http ----------------------------------------------------------------------------

def test_connection_reused_across_requests():
    with serving() as server:
        url = "http://127.0.0.1:%d/hello" % server.server_port
        proc = run_httpc("--repeat", 5, url)
        assert proc.returncode == 0, proc.err
        assert statuses(proc) == [200] * 5
        assert proc.out.count("hello") == 5
        assert connects(proc) == 1
        assert server.connections == 1


def test_connection_close_honoured():
    with serving() as server:
        base = "http://127.0.0.1:%d" % server.server_port
        proc = run_httpc(base + "/close", base + "/hello", base + "/hello")
        assert proc.returncode == 0, proc.err
        assert statuses(proc) == [200, 200, 200]
        assert connects(proc) == 2
        assert server.connections == 2


def test_idle_connection_closed_by_server_is_retried():
    with serving() as server:
        base = "http://127.0.0.1:%d" % server.server_port
        proc = run_httpc(base + "/then-close", base + "/hello", base + "/then-close",
                         base + "/echo")
        assert proc.returncode == 0, proc.err
        assert statuses(proc) == [200, 200, 200, 200]
        assert "dropped after this" in proc.out and "hello" in proc.out
        # Each drop costs one retried request on a fresh connection, nothing more.
        assert connects(proc) == 3
        assert server.connections == 3


def test_chunked_and_close_delimited_bodies():
    with serving() as server:
        base = "http://127.0.0.1:%d" % server.server_port
        proc = run_httpc(base + "/chunked", base + "/eof", base + "/chunked")
        assert proc.returncode == 0, proc.err
        assert proc.out.splitlines()[:4] == ["status 200", "chunked body", "status 200",
                                             "until the server closes"]
        # The close-delimited body ends its connection; the chunked one kept its own.
        assert connects(proc) == 2


def test_request_line_host_header_and_body():
    with serving() as server:
        port = server.server_port
        proc = run_httpc("-X", "PATCH", "-H", "Content-Type: application/json", "-d", '{"a":1}',
                         "http://127.0.0.1:%d/echo?x=1" % port)
        assert proc.returncode == 0, proc.err
        assert "PATCH /echo?x=1 host=127.0.0.1:%d cl=7 body={\"a\":1}" % port in proc.out
        proc = run_httpc("-X", "POST", "http://127.0.0.1:%d/echo" % port)
        assert "POST /echo host=127.0.0.1:%d cl=0 body=" % port in proc.out
        proc = run_httpc("-X", "HEAD", "http://127.0.0.1:%d/big-body?n=5000" % port,
                         "http://127.0.0.1:%d/hello" % port)
        assert proc.returncode == 0, proc.err
        assert statuses(proc) == [200, 200]
        assert connects(proc) == 1


def test_ipv6_literal():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with serving(host="::1", family=socket.AF_INET6) as server:
        port = server.server_port
        proc = run_httpc("--repeat", 2, "http://[::1]:%d/echo" % port)
        assert proc.returncode == 0, proc.err
        assert "host=[::1]:%d" % port in proc.out
        assert connects(proc) == 1


def test_stalled_server_cut_off_at_timeout():
    with raw_server() as port:
        proc = run_httpc("--timeout-ms", 1000, "http://127.0.0.1:%d/" % port)
        assert proc.returncode == 1
        assert proc.elapsed < 3.0, proc.elapsed
        assert proc.elapsed >= 0.9, proc.elapsed
        assert "http 127.0.0.1:%d: read: timed out" % port in proc.err


def test_stalled_tls_handshake_and_proxy_cut_off_at_timeout():
    with raw_server() as port:
        proc = run_httpc("--timeout-ms", 1000, "https://127.0.0.1:%d/" % port)
        assert proc.returncode == 1
        assert proc.elapsed < 3.0, proc.elapsed
        assert proc.err.startswith("tls 127.0.0.1:%d: " % port), proc.err
        proc = run_httpc("--timeout-ms", 1000, "https://127.0.0.1:1/",
                         env={"HTTPS_PROXY": "http://127.0.0.1:%d" % port})
        assert proc.returncode == 1
        assert proc.elapsed < 3.0, proc.elapsed
        assert proc.err.strip() == "proxy 127.0.0.1:%d: read: timed out" % port


def test_header_block_over_limit():
    reply = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\nContent-Length: 0\r\n\r\n"
    with raw_server(reply) as port:
        proc = run_httpc("http://127.0.0.1:%d/" % port)
        assert proc.returncode == 1
        assert proc.err.strip() == ("http 127.0.0.1:%d: response header block exceeds 65536 "
                                    "bytes" % port)


def test_smuggling_framing_refused():
    reply = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3\r\nabc\r\n0\r\n\r\n")
    with raw_server(reply) as port:
        proc = run_httpc("http://127.0.0.1:%d/" % port)
        assert proc.returncode == 1
        assert "response has both Transfer-Encoding and Content-Length" in proc.err


def test_body_over_limit():
    with serving() as server:
        base = "http://127.0.0.1:%d" % server.server_port
        proc = run_httpc("--max-body", 1000, base + "/big-body?n=1000")
        assert proc.returncode == 0, proc.err
        proc = run_httpc("--max-body", 1000, base + "/big-body?n=5000")
        assert proc.returncode == 1
        assert ("http 127.0.0.1:%d: response body of 5000 bytes exceeds the limit of 1000 bytes"
                % server.server_port) in proc.err
        proc = run_httpc("--max-body", 1000, base + "/big-chunked?n=5000")
        assert proc.returncode == 1
        assert "response body exceeds the limit of 1000 bytes" in proc.err


def test_connect_refused():
    port = free_port()
    proc = run_httpc("--timeout-ms", 2000, "http://127.0.0.1:%d/" % port)
    assert proc.returncode == 1
    assert "connect 127.0.0.1:%d: Connection refused" % port in proc.err


def test_plain_http_never_uses_the_proxy():
    with serving() as server:
        env = {"HTTPS_PROXY": "http://127.0.0.1:%d" % free_port()}
        proc = run_httpc("http://127.0.0.1:%d/hello" % server.server_port, env=env)
        assert proc.returncode == 0, proc.err
        assert "hello" in proc.out


# ---- https -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pkidir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = pki.CA(str(directory), "http test CA")
    good = ca.issue("server", dns=["localhost"], ips=["127.0.0.1", "::1"], key="ec")
    expired = ca.issue("expired", ips=["127.0.0.1"], start="20200101000000Z",
                       end="20200201000000Z")
    other = pki.CA(str(directory), "unknown CA")
    stranger = other.issue("stranger", ips=["127.0.0.1"])
    return {"ca": ca.cert_path, "good": good, "expired": expired, "stranger": stranger}


def tls_context(cert_key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert_key)
    return ctx


def test_https_reuse_and_bodies(pkidir):
    with serving(tls=tls_context(pkidir["good"])) as server:
        base = "https://127.0.0.1:%d" % server.server_port
        proc = run_httpc("--ca", pkidir["ca"], "--repeat", 3, base + "/hello", base + "/chunked")
        assert proc.returncode == 0, proc.err
        assert statuses(proc) == [200] * 6
        assert proc.out.count("chunked body") == 3
        assert connects(proc) == 1
        assert server.connections == 1


def test_https_by_name_and_retry(pkidir):
    with serving(tls=tls_context(pkidir["good"])) as server:
        base = "https://localhost:%d" % server.server_port
        proc = run_httpc("--ca", pkidir["ca"], base + "/then-close", base + "/echo")
        assert proc.returncode == 0, proc.err
        assert "host=localhost:%d" % server.server_port in proc.out
        assert connects(proc) == 2


def test_https_expired_certificate(pkidir):
    with serving(tls=tls_context(pkidir["expired"])) as server:
        proc = run_httpc("--ca", pkidir["ca"], "https://127.0.0.1:%d/hello" % server.server_port)
        assert proc.returncode == 1
        assert proc.err.startswith("tls 127.0.0.1:%d: " % server.server_port), proc.err
        assert "expired" in proc.err


def test_https_unknown_ca(pkidir):
    with serving(tls=tls_context(pkidir["stranger"])) as server:
        proc = run_httpc("--ca", pkidir["ca"], "https://127.0.0.1:%d/hello" % server.server_port)
        assert proc.returncode == 1
        assert proc.err.startswith("tls 127.0.0.1:%d: " % server.server_port), proc.err


# ---- CONNECT through tinyproxy ----------------------------------------------------------

def test_connect_through_tinyproxy(pkidir, tmp_path):
    with serving(tls=tls_context(pkidir["good"])) as server:
        with run_tinyproxy(tmp_path, server.server_port) as (proxy_port, log):
            env = {"HTTPS_PROXY": "http://127.0.0.1:%d" % proxy_port}
            url = "https://127.0.0.1:%d/echo" % server.server_port
            proc = run_httpc("--ca", pkidir["ca"], "--repeat", 3, url, env=env)
            assert proc.returncode == 0, proc.err
            assert statuses(proc) == [200] * 3
            assert "host=127.0.0.1:%d" % server.server_port in proc.out
            assert connects(proc) == 1
            time.sleep(0.2)
            text = log.read_text()
            assert "CONNECT 127.0.0.1:%d HTTP/1.1" % server.server_port in text, text
            assert server.connections == 1


def test_connect_with_proxy_credentials(pkidir, tmp_path):
    with serving(tls=tls_context(pkidir["good"])) as server:
        with run_tinyproxy(tmp_path, server.server_port, auth=("ecr", "s3cr3t-pw")) as (proxy_port, _):
            url = "https://127.0.0.1:%d/hello" % server.server_port
            env = {"https_proxy": "http://ecr:s3cr3t-pw@127.0.0.1:%d" % proxy_port}
            proc = run_httpc("--ca", pkidir["ca"], url, env=env)
            assert proc.returncode == 0, proc.err
            assert "hello" in proc.out

            # tinyproxy 1.11 answers a refused CONNECT with 401, not 407 (tinyproxy/tinyproxy
            # issue 532, fixed after 1.11.1): the message carries whichever the proxy sent.
            refused = ("proxy 127.0.0.1:%d refused CONNECT to 127.0.0.1:%d: "
                       % (proxy_port, server.server_port))
            env = {"https_proxy": "http://ecr:wrong-pw@127.0.0.1:%d" % proxy_port}
            proc = run_httpc("--ca", pkidir["ca"], url, env=env)
            assert proc.returncode == 1
            assert proc.err.strip() in (refused + "407 Proxy Authentication Required",
                                        refused + "401 Unauthorized"), proc.err
            assert "wrong-pw" not in proc.err + proc.out

            proc = run_httpc("--ca", pkidir["ca"], url,
                             env={"HTTPS_PROXY": "http://127.0.0.1:%d" % proxy_port})
            assert proc.returncode == 1
            assert proc.err.startswith(refused), proc.err


def test_connect_request_and_407():
    """The CONNECT request as a proxy sees it, and a 407 answer, from a scripted proxy."""
    seen = []
    reply = (b"HTTP/1.1 407 Proxy Authentication Required\r\n"
             b"Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n")
    with raw_server(reply, seen) as proxy_port:
        env = {"HTTPS_PROXY": "http://ecr:s3cr3t%%2Fpw@127.0.0.1:%d" % proxy_port}
        proc = run_httpc("https://[::1]:8443/x", "https://ecr.example/y", env=env)
        assert proc.returncode == 1
        assert proc.err.strip() == ("proxy 127.0.0.1:%d refused CONNECT to [::1]:8443: 407 Proxy "
                                    "Authentication Required" % proxy_port)
        assert "s3cr3t" not in proc.err + proc.out
        # base64("ecr:s3cr3t/pw"): the userinfo is percent-decoded first.
        assert seen == [b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"
                        b"Proxy-Authorization: Basic ZWNyOnMzY3IzdC9wdw==\r\n\r\n"]

    # A proxy that answers 200 and then talks before the TLS ClientHello is not trusted.
    with raw_server(b"HTTP/1.1 200 Connection established\r\n\r\nextra") as proxy_port:
        proc = run_httpc("https://127.0.0.1:8443/",
                         env={"HTTPS_PROXY": "127.0.0.1:%d" % proxy_port})
        assert proc.returncode == 1
        assert proc.err.strip() == ("proxy 127.0.0.1:%d sent data after its CONNECT response"
                                    % proxy_port)


def test_no_proxy_bypasses_the_proxy(pkidir):
    dead = "http://127.0.0.1:%d" % free_port()
    with serving(tls=tls_context(pkidir["good"])) as server:
        url = "https://127.0.0.1:%d/hello" % server.server_port
        proc = run_httpc("--ca", pkidir["ca"], url, env={"HTTPS_PROXY": dead})
        assert proc.returncode == 1
        assert proc.err.startswith("proxy: connect 127.0.0.1:"), proc.err
        for no_proxy in ("127.0.0.1", "localhost,127.0.0.0/8", "*", "127.0.0.1:%d" % server.server_port):
            proc = run_httpc("--ca", pkidir["ca"], url, env={"HTTPS_PROXY": dead,
                                                            "NO_PROXY": no_proxy})
            assert proc.returncode == 0, (no_proxy, proc.err)
            assert "hello" in proc.out
        url = "https://localhost:%d/hello" % server.server_port
        proc = run_httpc("--ca", pkidir["ca"], url, env={"https_proxy": dead,
                                                        "no_proxy": ".localhost"})
        assert proc.returncode == 0, proc.err
