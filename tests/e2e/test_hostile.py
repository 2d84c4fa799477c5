"""Hostile peers and bad input, end to end (docs/security.md "What is bounded, and by how
much"): the binary against a hostile Kubernetes API stand-in (tests/standins/hostile_apiserver.py)
and the AWS stand-in answering hostile tokens or echoing what it was sent; configuration
that must fail before anything is contacted, some of it inside an empty network namespace
(`unshare -n`) so that nothing can leave the machine whatever the binary does.

Every run's output goes through the secret scan of tests/standins/leakscan.py.
"""
import json
import os
import resource
import secrets
import shutil
import subprocess

import pytest

import leakscan
from conftest import ROOT
from hostile_apiserver import HostileApiServer

BUILD_DIR = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
BIN = os.path.join(BUILD_DIR, "ecr-refresh")
REGION = "us-east-1"
MIB = 1024 * 1024
# The documented ceiling (docs/security.md), well under the shipped pod limit of 64 Mi.
PEAK_RSS_LIMIT = 32 * MIB

pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason="no binary at %s" % BIN)


def base_env(stub, tmp_path, **extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "SERVICEACCOUNT_DIR": str(tmp_path / "no-serviceaccount"),
           "ECR_REGISTRIES": stub.registry_host(REGION)}
    env.update(stub.env())
    env.update(stub.env_static_keys())
    env.update(extra)
    return env


def lines_of(stderr):
    out = []
    for line in stderr.splitlines():
        obj = json.loads(line)
        assert {"ts", "level", "msg"} <= set(obj), line
        out.append(obj)
    return out


def run(env, args, planted=(), stub=None, prefix=(), limit_as=None, timeout=120):
    """Runs the binary; returns (returncode, stdout, stderr, peak RSS in bytes or None).
    limit_as sets RLIMIT_AS in the child and measures the peak with GNU time (%M: the
    binary's own maximum resident set; the wait4 figure of a child forked from pytest would
    count pytest's pages too)."""
    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    rss_path = env["HOME"] + "/maxrss"
    measure = ["/usr/bin/time", "-f", "%M", "-o", rss_path] if limit_as else []
    proc = subprocess.run(list(prefix) + measure + [BIN] + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limits if limit_as else None)
    stdout, stderr, peak = proc.stdout, proc.stderr, None
    if limit_as:
        with open(rss_path) as f:
            peak = int(f.read().split()[-1]) * 1024
    text = stdout + stderr
    assert leakscan.leaks(text, list(planted)) == [], "a planted secret, or a piece of it, reached the output"
    if stub is not None:
        assert stub.leaked_secrets(stderr) == [], "an AWS secret reached stderr"
    return proc.returncode, stdout, stderr, peak


def nothing_contacted(stub):
    assert stub.calls() == [] and stub.requests_received == 0
    assert stub.count("ecr", "connections") == 0 and stub.count("imds", "connections") == 0


def unshare_prefix():
    """`unshare -n`: an empty network namespace (only a down loopback). Skips the test, with
    the reason, where creating one is not permitted."""
    tool = shutil.which("unshare")
    if not tool:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([tool, "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        probe = subprocess.run([tool, "-rn", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip("unshare -n is not permitted here: %s" % probe.stderr.strip())
        return [tool, "-rn"]
    return [tool, "-n"]


# ---- configuration: refused before any network I/O -----------------------------------------

STRICT = [
    (["--timeout", "+4"], {}, '--timeout "+4": must be 1..3600'),
    (["--concurrency", "+4"], {}, '--concurrency "+4": must be 1..64'),
    (["--concurrency", " 4"], {}, '--concurrency " 4": must be 1..64'),
    (["--namespaces", ""], {}, '--namespaces "": names nothing'),
    (["--namespaces", ","], {}, '--namespaces ",": names nothing'),
    ([], {"TARGET_NAMESPACES": " , "}, 'TARGET_NAMESPACES " , ": names nothing'),
    ([], {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_ROLE_ARN": "not-an-arn",
          "AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token"}, "AWS_ROLE_ARN is not a valid role ARN"),
    (["--namespaces", "a"], {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "SERVICEACCOUNT_DIR": "/nonexistent/sa"},
     "ServiceAccount folder /nonexistent/sa does not exist"),
]


@pytest.mark.parametrize("args,changes,message", STRICT, ids=[m for _, _, m in STRICT])
def test_strict_configuration_contacts_nothing(aws_stub, tmp_path, args, changes, message):
    env = {k: v for k, v in dict(base_env(aws_stub, tmp_path), **changes).items() if v is not None}
    code, stdout, stderr, _ = run(env, args, stub=aws_stub)
    assert code == 2, stderr
    lines = lines_of(stderr)
    assert len(lines) == 1 and lines[0]["level"] == "error" and message in lines[0]["error"], stderr
    assert stdout == ""
    nothing_contacted(aws_stub)


@pytest.mark.parametrize("content", [b"", b"not a certificate\n", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
                         ids=["empty", "text", "bad-pem"])
def test_unusable_ca_crt_is_exit_4_before_aws(aws_stub, tmp_path, content):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "ca.crt").write_bytes(content)
    (sa / "token").write_text("t" * 40)
    env = base_env(aws_stub, tmp_path, SERVICEACCOUNT_DIR=str(sa), KUBERNETES_SERVICE_HOST="127.0.0.1",
                   KUBERNETES_SERVICE_PORT="6443")
    code, _, stderr, _ = run(env, ["--namespaces", "a"], stub=aws_stub)
    assert code == 4, stderr
    assert "ca.crt" in stderr and "cannot trust the Kubernetes API server" in stderr
    nothing_contacted(aws_stub)


def test_plain_http_to_a_remote_api_server_is_refused_in_an_empty_netns(aws_stub, tmp_path):
    """No bearer token in cleartext: http:// only to loopback. Run where nothing can leave."""
    prefix = unshare_prefix()
    token = secrets.token_urlsafe(40)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(token)
    env = base_env(aws_stub, tmp_path, SERVICEACCOUNT_DIR=str(sa))
    for url in ("http://10.1.2.3:8001", "http://kubernetes.example:80", "http://[fd00::1]:8001"):
        code, _, stderr, _ = run(env, ["--namespaces", "a", "--api-server", url], planted=[token],
                                 stub=aws_stub, prefix=prefix)
        assert code == 2, stderr
        assert "http:// is allowed only to loopback" in stderr
    nothing_contacted(aws_stub)


def test_plain_http_to_loopback_still_allowed_for_kubectl_proxy(aws_stub, tmp_path):
    """The kubectl proxy case passes the check (and then finds nothing listening)."""
    env = base_env(aws_stub, tmp_path)
    code, _, stderr, _ = run(env, ["--namespaces", "a", "--api-server", "http://127.0.0.1:9", "--deadline", "3",
                                   "--timeout", "1"], stub=aws_stub)
    assert code == 4, stderr
    assert "allowed only to loopback" not in stderr


def test_full_uri_name_is_not_resolved_while_validating(aws_stub, tmp_path):
    """A FULL_URI host name is left to the credentials call: a configuration error found
    later still wins, and no lookup is made (in an empty netns none could succeed)."""
    prefix = unshare_prefix()
    env = base_env(aws_stub, tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://creds.ecr-refresh.invalid/v1",
                   KUBERNETES_SERVICE_HOST="127.0.0.1")
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    code, _, stderr, _ = run(env, [], stub=aws_stub, prefix=prefix)
    assert code == 2, stderr
    assert "name the targets with --namespaces" in stderr and "resolve" not in stderr
    # With a valid configuration the name is resolved when the credentials are fetched.
    code, _, stderr, _ = run(env, ["--namespaces", "a", "--output", "json"], stub=aws_stub, prefix=prefix)
    assert code == 3, stderr
    assert "creds.ecr-refresh.invalid" in stderr
    nothing_contacted(aws_stub)


# ---- tokens are checked ------------------------------------------------------------------------

def _token_answer(decoded=None, raw_token=None):
    import base64
    token = raw_token if raw_token is not None else base64.b64encode(decoded).decode()
    return ('{"authorizationData":[{"authorizationToken":"%s","expiresAt":1900000000.5,'
            '"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}' % token)


HOSTILE_TOKENS = [
    ("non-ascii", _token_answer(b"AWS:pass\xc3\xa9word-0123456789")),
    ("high-byte", _token_answer(b"AWS:pass\xffword-0123456789")),
    ("control", _token_answer(b"AWS:pass\x1bword-0123456789")),
    ("nul-escape", _token_answer(raw_token="QVdTOnBhc3N3b3Jk\\u0000LTAxMjM0NTY3ODk=")),
]


@pytest.mark.parametrize("answer", [a for _, a in HOSTILE_TOKENS], ids=[n for n, _ in HOSTILE_TOKENS])
def test_hostile_token_fails_the_fetch_and_writes_nothing(aws_stub, tmp_path, answer):
    aws_stub.answer_tokens_raw(answer)
    env = base_env(aws_stub, tmp_path)
    code, stdout, stderr, _ = run(env, ["--namespaces", "a", "--output", "json"], stub=aws_stub)
    assert code == 3, stderr
    assert stdout == ""
    assert any(l["msg"] == "no ECR token" for l in lines_of(stderr)), stderr
    assert "printable ASCII" in stderr or "\\\\u0000" in stderr, stderr
    assert aws_stub.ecr_token_calls()


# ---- echoes are not trusted ------------------------------------------------------------------------

def test_sts_echoing_the_web_identity_token_minus_one_character(aws_stub, tmp_path):
    env = base_env(aws_stub, tmp_path, **aws_stub.env_web_identity(str(tmp_path)))
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    token = aws_stub.web_identity_token
    aws_stub.fail_next("sts", count=10, status=403, code="AccessDenied",
                       message="Not authorized to use token %s, sorry" % token[:-1])
    code, _, stderr, _ = run(env, ["--namespaces", "a", "--output", "json"], planted=[token], stub=aws_stub)
    assert code == 3, stderr
    assert "AccessDenied" in stderr and "use token [REDACTED], sorry" in stderr, stderr
    assert aws_stub.calls("sts")


def test_apiserver_echoing_the_bearer_token_minus_one_character(aws_stub, tmp_path):
    token = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(96)
    with HostileApiServer(str(tmp_path), mode="echo") as server:
        sa = server.serviceaccount_dir(str(tmp_path / "sa"), token)
        env = base_env(aws_stub, tmp_path, SERVICEACCOUNT_DIR=sa)
        code, _, stderr, _ = run(env, ["--namespaces", "a,b", "--api-server", server.url], planted=[token],
                                 stub=aws_stub)
    assert code == 1, stderr
    failed = [l for l in lines_of(stderr) if l.get("result") == "failed"]
    assert len(failed) == 2 and all("403 Forbidden: token [REDACTED]" in l["reason"] for l in failed), stderr
    assert all(len(l["reason"]) < 300 for l in failed)


# ---- memory has a ceiling ----------------------------------------------------------------------------

MEMORY_CASES = [
    # (answer bytes, framing, extra flags, expected exit code, reason expected in every failed line)
    (1000000, "length", [], 1, "larger than the 524288-byte limit"),
    (1000000, "chunked", ["--dry-run"], 0, None),
    (8 * MIB, "length", ["--dry-run"], 1, "larger than the 2097152-byte limit"),
    (8 * MIB, "chunked", [], 1, "larger than the 524288-byte limit"),
]


@pytest.mark.parametrize("size,framing,flags,expected,reason", MEMORY_CASES,
                         ids=["%dB-%s%s" % (c[0], c[1], "".join(c[2])) for c in MEMORY_CASES])
def test_large_answers_at_concurrency_64_stay_under_the_ceiling(aws_stub, tmp_path, size, framing, flags,
                                                               expected, reason):
    """Answers of 1 MB and 8 MiB to 64 connections, under a 64 MiB address-space limit: the
    run ends with its summary line (not killed), peak RSS under the documented figure."""
    token = secrets.token_urlsafe(48)
    names = ["ns-%d" % i for i in range(96)]
    with HostileApiServer(str(tmp_path), body_size=size, framing=framing) as server:
        sa = server.serviceaccount_dir(str(tmp_path / "sa"), token)
        env = base_env(aws_stub, tmp_path, SERVICEACCOUNT_DIR=sa)
        code, _, stderr, peak = run(env, ["--namespaces", ",".join(names), "--api-server", server.url,
                                          "--concurrency", "64", "--timeout", "60", "--deadline", "240"] + flags,
                                    planted=[token], stub=aws_stub, limit_as=64 * MIB, timeout=300)
        assert server.most_connections <= 64
    lines = lines_of(stderr)
    summary = [l for l in lines if l["msg"] == "kubernetes phase finished"]
    assert len(summary) == 1, stderr[-3000:]
    assert code == expected, stderr[-3000:]
    assert summary[0]["namespaces"] == len(names)
    if reason:
        failed = [l for l in lines if l.get("result") == "failed"]
        assert len(failed) == len(names) and all(reason in l["reason"] for l in failed), stderr[-3000:]
    assert peak < PEAK_RSS_LIMIT, "peak RSS %.1f MiB" % (peak / MIB)
    print("peak RSS %.1f MiB (%d-byte %s answers, %s)" % (peak / MIB, size, framing, " ".join(flags) or "apply"))
