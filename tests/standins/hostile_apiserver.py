"""A hostile stand-in for the Kubernetes API server: TLS on loopback with a CA of its own
(tests/standins/pki.py), HTTP/1.1 keep-alive, and answers that a real apiserver would never send.

Modes (set per instance):
  "large": every GET and PATCH of a Secret gets 200 with a Secret-shaped JSON body padded to
           body_size bytes; framing "length" announces it, "chunked" does not.
  "echo":  every request gets 403 with a Status whose message quotes the bearer token it
           received, minus its last character (a server echoing what it was sent).
It counts requests and the most connections open at once; nothing else is checked.
"""
import http.server
import json
import os
import socket
import ssl
import threading

import pki

CHUNK = 64 * 1024


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            pass                    # the client gave up: handle() sees a closed stream
        super().setup()
        with self.server.lock:
            self.server.open_connections += 1
            self.server.most_connections = max(self.server.most_connections, self.server.open_connections)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.open_connections -= 1

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:
            self.server.requests += 1
        if self.server.mode == "echo":
            token = (self.headers.get("Authorization") or "").replace("Bearer ", "", 1)
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                               "code": 403, "message": "token %s is not allowed here" % token[:-1]}).encode()
            return self._send(403, body)
        self._send(200, self.server.large_body)

    def _send(self, status, body):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if self.server.framing == "chunked" and status == 200:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                view = memoryview(body)
                for i in range(0, len(body), CHUNK):
                    piece = view[i:i + CHUNK]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    do_GET = do_PATCH = do_PUT = do_POST = _answer


class BackgroundServer:
    """A socketserver serving from a daemon thread for the length of a with block."""

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class HostileApiServer(BackgroundServer, http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, directory, mode="large", body_size=1000000, framing="length"):
        ca = pki.CA(directory, "hostile apiserver CA")
        cert, key = ca.issue("hostile-apiserver", ips=("127.0.0.1",))
        self.ca_path = ca.cert_path
        self.mode, self.framing = mode, framing
        self.lock = threading.Lock()
        self.requests = self.open_connections = self.most_connections = 0
        head = b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"ecr-creds","resourceVersion":"1"},"pad":"'
        tail = b'"}'
        self.large_body = head + b"x" * max(body_size - len(head) - len(tail), 0) + tail
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # the handshake happens in the handler's thread, so 64 clients do not queue on one
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.server_address[1]

    def serviceaccount_dir(self, path, token):
        """A ServiceAccount folder that trusts this server and holds token."""
        os.makedirs(path, exist_ok=True)
        with open(self.ca_path, "rb") as f:
            ca = f.read()
        for name, data in (("ca.crt", ca), ("token", token.encode()), ("namespace", b"ecr-refresh-system")):
            with open(os.path.join(path, name), "wb") as f:
                f.write(data)
        return path
