"""A real CONNECT proxy for the tests: Debian's tinyproxy on a free loopback port.

    with run_tinyproxy(tmp_path, connect_port=443, auth=("user", "pw")) as (port, log): ...
    def test_x(tinyproxy): port, log = tinyproxy        # any CONNECT port, no auth

`log` is tinyproxy's log file; it names every CONNECT it tunnelled.
"""
import contextlib
import shutil
import socket
import subprocess
import time

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def run_tinyproxy(tmp_path, connect_port=None, auth=None):
    binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if not shutil.which(binary):
        pytest.fail("tinyproxy is not installed (apt-get install tinyproxy)")
    port = free_port()
    conf = tmp_path / ("tinyproxy-%d.conf" % port)
    log = tmp_path / ("tinyproxy-%d.log" % port)
    lines = ["Port %d" % port, "Listen 127.0.0.1", "Timeout 30", 'LogFile "%s"' % log, "LogLevel Info",
             "MaxClients 20", "Allow 127.0.0.1"]
    if connect_port is not None:
        lines.append("ConnectPort %d" % connect_port)
    if auth:
        lines.append("BasicAuth %s %s" % auth)
    conf.write_text("\n".join(lines) + "\n")
    with open(str(log) + ".out", "wb") as out:
        proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "tinyproxy exited at start"
            assert time.monotonic() < deadline, "tinyproxy did not start"
            time.sleep(0.05)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def tinyproxy(tmp_path):
    with run_tinyproxy(tmp_path) as running:
        yield running
