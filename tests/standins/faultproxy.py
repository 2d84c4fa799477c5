"""A TLS-terminating, fault-injecting reverse proxy in front of a test kube-apiserver.

It serves TLS with a certificate from the cluster's own CA (same SANs as the apiserver),
so a client trusting the ServiceAccount ca.crt trusts it too, and forwards each HTTP/1.1
request over TLS to the apiserver, keeping connections alive on both sides. Responses are
relayed byte for byte (Content-Length, chunked, or until close), so the client sees the
apiserver's own framing. Per request, drawn from a seeded RNG, it may instead:

    429   answer 429 Too Many Requests, Retry-After, a Kubernetes Status body
    503   answer 503 Service Unavailable, Retry-After, a Kubernetes Status body
    drop_before  close the connection after the request line, the rest unread
    drop_after   close the connection after reading the whole request, not forwarding it

    proxy = FaultProxy(cluster, p429=0.2, p503=0.1, pdrop=0.1, seed=7).start()
    env = cluster.env(sa_dir, port=proxy.port)
    ...; proxy.stop(); proxy.counts  # {"requests": .., "forwarded": .., "429": .., ...}

`plan` lists actions ("forward", "429", "503", "drop_before", "drop_after") taken by the
first requests, in order, before the probabilities apply; `only(method, path)` limits
faults to the requests it returns true for (others are always forwarded). `events` records
(method, path, action) for every request.
"""
import json
import random
import socket
import ssl
import threading

ACTIONS = ("forward", "429", "503", "drop_before", "drop_after")
MAX_LINE = 65536
MAX_HEADERS = 200

_REASONS = {
    429: ("Too Many Requests", "TooManyRequests", "Too many requests, please try again later."),
    503: ("Service Unavailable", "ServiceUnavailable", "The server is temporarily unable to serve requests."),
}


class _Closed(Exception):
    """The peer closed or broke the connection; end this connection quietly."""


def _read_head(reader):
    """Start line and header lines up to the blank line, raw (CRLF kept). [] at clean EOF
    before any byte."""
    lines = []
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            if lines:
                raise _Closed()
            return []
        if len(line) > MAX_LINE or len(lines) > MAX_HEADERS:
            raise _Closed()
        if not lines and line in (b"\r\n", b"\n"):
            continue  # RFC 9112 section 2.2: ignore empty lines before a request line
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return lines


def _headers(lines):
    out = {}
    for line in lines[1:-1]:
        name, _, value = line.decode("latin-1").partition(":")
        out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


def _read_exact(reader, n):
    data = reader.read(n)
    if len(data) != n:
        raise _Closed()
    return data


class FaultProxy:
    def __init__(self, cluster, p429=0.0, p503=0.0, pdrop=0.0, seed=0, retry_after=1, plan=None,
                 only=None, idle_timeout=60):
        if p429 + p503 + pdrop > 1.0:
            raise ValueError("probabilities add up to more than 1")
        for action in plan or ():
            if action not in ACTIONS:
                raise ValueError("unknown action %r" % action)
        self.cluster = cluster
        self.p429, self.p503, self.pdrop = p429, p503, pdrop
        self.retry_after = retry_after
        self.only = only
        self.idle_timeout = idle_timeout
        self.port = None
        self.events = []
        self._plan = list(plan or ())
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("connections", "requests", "forwarded") + ACTIONS[1:], 0)
        self._listener = None
        self._threads = []
        self._conns = set()
        self._stopping = threading.Event()

        cert, key = cluster.serving_cert_for("faultproxy")
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._server_ctx.load_cert_chain(cert, key)
        self._server_ctx.set_alpn_protocols(["http/1.1"])
        self._upstream_ctx = ssl.create_default_context(cafile=cluster.ca_path)
        self._upstream_ctx.set_alpn_protocols(["http/1.1"])

    @property
    def counts(self):
        with self._lock:
            return dict(self._counts)

    def _count(self, key):
        with self._lock:
            self._counts[key] += 1

    # -- lifecycle ---------------------------------------------------------------------

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping.set()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(10)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._count("connections")
            t = threading.Thread(target=self._serve, args=(sock,), name="faultproxy-conn", daemon=True)
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)
            t.start()

    # -- per connection ----------------------------------------------------------------

    def _track(self, sock, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def _decide(self, method, path):
        with self._lock:
            if self.only is not None and not self.only(method, path):
                return "forward"
            if self._plan:
                return self._plan.pop(0)
            r = self._rng.random()
            if r < self.p429:
                return "429"
            if r < self.p429 + self.p503:
                return "503"
            if r < self.p429 + self.p503 + self.pdrop:
                return "drop_before" if self._rng.random() < 0.5 else "drop_after"
            return "forward"

    def _serve(self, raw):
        client = reader = None
        upstream = [None, None]  # socket, reader
        try:
            raw.settimeout(self.idle_timeout)
            # Head and body go out in separate writes: without TCP_NODELAY, Nagle plus the
            # peer's delayed ACK would stall every response by ~40 ms (Go servers set it too).
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # wrap_socket takes over raw's descriptor: track the TLS socket, so stop() can
            # shut it down even while the handshake is blocked.
            client = self._server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            self._track(client, True)
            if self._stopping.is_set():
                return
            client.do_handshake()
            reader = client.makefile("rb")
            while not self._stopping.is_set():
                if not self._one_request(client, reader, upstream):
                    break
        except (_Closed, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            for f in (reader, upstream[1]):
                if f is not None:
                    f.close()
            for s in (upstream[0], client, raw):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            self._track(client, False)

    def _one_request(self, client, reader, upstream):
        """Handles one request; False when the client connection must end."""
        first = reader.readline(MAX_LINE + 1)
        while first in (b"\r\n", b"\n"):
            first = reader.readline(MAX_LINE + 1)
        if not first:
            return False
        parts = first.decode("latin-1").split()
        if len(parts) != 3 or len(first) > MAX_LINE:
            raise _Closed()
        method, path = parts[0], parts[1]
        self._count("requests")
        action = self._decide(method, path)
        with self._lock:
            self.events.append((method, path, action))
        if action == "drop_before":
            self._count("drop_before")
            return False

        rest = _read_head(reader)
        if not rest:
            raise _Closed()
        head = [first] + rest
        headers = _headers(head)
        if "transfer-encoding" in headers:
            self._send_status(client, 501, "Not Implemented", "NotImplemented",
                              "faultproxy reads only Content-Length request bodies", close=True)
            return False
        length = int(headers.get("content-length", ["0"])[-1] or 0)
        body = _read_exact(reader, length) if length else b""
        client_close = any("close" in v.lower() for v in headers.get("connection", []))

        if action == "drop_after":
            self._count("drop_after")
            return False
        if action in ("429", "503"):
            self._count(action)
            text, reason, message = _REASONS[int(action)]
            self._send_status(client, int(action), text, reason, message, close=client_close)
            return not client_close
        self._count("forwarded")
        keep = self._forward(client, b"".join(head) + body, method, upstream)
        return keep and not client_close

    def _send_status(self, client, code, text, reason, message, close=False):
        # A Status object as the apiserver's own throttling answers it
        # (k8s.io/apimachinery pkg/apis/meta/v1 Status; details.retryAfterSeconds).
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason,
                           "details": {"retryAfterSeconds": self.retry_after}, "code": code}).encode()
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: %d\r\n"
                "Content-Length: %d\r\n%s\r\n" % (code, text, self.retry_after, len(body),
                                                  "Connection: close\r\n" if close else ""))
        client.sendall(head.encode() + body)

    # -- upstream ----------------------------------------------------------------------

    @staticmethod
    def _disconnect(upstream):
        for f in (upstream[1], upstream[0]):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        upstream[0] = upstream[1] = None

    def _connect(self, upstream):
        self._disconnect(upstream)
        sock = socket.create_connection((self.cluster.host, self.cluster.port), timeout=self.idle_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self._upstream_ctx.wrap_socket(sock, server_hostname=self.cluster.host)
        upstream[0], upstream[1] = sock, sock.makefile("rb")

    def _forward(self, client, request, method, upstream):
        """Sends the request upstream and relays the response; False if the client
        connection must close afterwards."""
        head = None
        for _ in (0, 1):
            fresh = upstream[0] is None
            if fresh:
                self._connect(upstream)
            try:
                upstream[0].sendall(request)
                head = _read_head(upstream[1])
            except (OSError, _Closed):
                head = None
            if head:
                break
            # A kept-alive upstream connection the apiserver had closed: nothing of the
            # response arrived, so sending again on a new connection is safe.
            self._disconnect(upstream)
            if fresh:
                raise _Closed()
        while True:
            status = int(head[0].split()[1])
            client.sendall(b"".join(head))
            if not 100 <= status < 200:
                break
            head = _read_head(upstream[1])
            if not head:
                raise _Closed()
        headers = _headers(head)
        up_close = any("close" in v.lower() for v in headers.get("connection", []))
        src = upstream[1]
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
            self._relay_chunked(src, client)
        elif "content-length" in headers:
            self._relay_exact(src, client, int(headers["content-length"][-1]))
        else:
            while True:  # body delimited by the connection's close (RFC 9112 section 6.3)
                data = src.read1(65536)
                if not data:
                    break
                client.sendall(data)
            up_close = True
        if up_close:
            self._disconnect(upstream)
            return "content-length" in headers or "transfer-encoding" in headers
        return True

    @staticmethod
    def _relay_exact(src, client, n):
        while n > 0:
            data = src.read1(min(n, 65536))
            if not data:
                raise _Closed()
            client.sendall(data)
            n -= len(data)

    def _relay_chunked(self, src, client):
        # RFC 9112 section 7.1: size line, data, CRLF; a zero size ends it, then trailers.
        while True:
            line = src.readline(MAX_LINE + 1)
            if not line or len(line) > MAX_LINE:
                raise _Closed()
            client.sendall(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            self._relay_exact(src, client, size + 2)
        while True:
            line = src.readline(MAX_LINE + 1)
            if not line:
                raise _Closed()
            client.sendall(line)
            if line in (b"\r\n", b"\n"):
                return
