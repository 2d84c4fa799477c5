"""End to end: the built binary against the local AWS stand-in (tests/standins/awsstub.py), with
--output so no cluster is needed. Every credential source, one token per region, retries,
refusals, proxies and configuration errors; and in every test, no secret the stub knows
(nor one planted in the environment) reaches stderr or stdout in the clear.

The binary is ECR_BUILD/ecr-refresh (ECR_BUILD relative to the repository, default build).
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import ROOT

try:
    import yaml
except ImportError:  # python3-yaml missing: the key-line checks still run
    yaml = None

BUILD_DIR = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
BIN = os.path.join(BUILD_DIR, "ecr-refresh")
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"

pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason="no binary at %s" % BIN)


# ---- running the binary --------------------------------------------------------------

def base_env(stub, tmp_path, **extra):
    """Only what the test sets: nothing from the developer's AWS, proxy or cluster setup."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "SERVICEACCOUNT_DIR": str(tmp_path / "no-serviceaccount")}
    env.update(stub.env())
    env.update(extra)
    return env


def run(env, *args, timeout=60):
    return subprocess.run([BIN] + list(args), env=env, capture_output=True, text=True, timeout=timeout)


def log_lines(proc):
    """stderr as log objects; every line must be one JSON object with ts, level, msg."""
    lines = []
    for line in proc.stderr.splitlines():
        obj = json.loads(line)
        assert {"ts", "level", "msg"} <= set(obj), line
        lines.append(obj)
    return lines


DATA_VALUE = re.compile(r'(\.dockerconfigjson"?: ?)"[A-Za-z0-9+/=]*"')


def assert_no_secrets(stub, proc, planted=()):
    """Neither stream holds a secret in the clear: stderr not even a piece of one. stdout
    carries the registry passwords inside the Secret's base64 data, the product's job; the
    rest of stdout is held to the piecewise check, the data to whole secrets (a 20-char
    piece of base64 can match there by chance, e.g. "us-east-1.amazonaws.com" sits in the
    stub's JWT issuer and in our registry host)."""
    assert stub.leaked_secrets(proc.stderr) == [], "secret in stderr"
    assert stub.leaked_secrets(DATA_VALUE.sub(r'\1""', proc.stdout)) == [], "secret in stdout"
    for secret in stub.all_secrets():
        assert secret not in proc.stdout, "secret in stdout"
    for secret in planted:
        assert secret not in proc.stderr and secret not in proc.stdout, "planted secret leaked"


def secrets_from(proc, fmt):
    """The Secret objects printed by --output FMT."""
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
        return doc["items"]
    text = proc.stdout
    assert text.startswith("---\n")
    docs = [d for d in text.split("---\n") if d]
    for d in docs:
        # Key lines of the fixed layout (docs/reference.md "The Secret"), with or without PyYAML.
        assert 'apiVersion: "v1"\n' in d and 'kind: "Secret"\n' in d
        assert 'type: "kubernetes.io/dockerconfigjson"\n' in d
        assert '    app.kubernetes.io/managed-by: "ecr-refresh"\n' in d
        assert re.search(r'\n  \.dockerconfigjson: "[A-Za-z0-9+/=]+"\n', d), d[:300]
    if yaml is not None:
        parsed = [d for d in yaml.safe_load_all(text) if d is not None]
        assert len(parsed) == len(docs)
        return parsed
    out = []
    for d in docs:
        get = lambda key: json.loads(re.search(r"\n\s*%s: (\".*\")\n" % re.escape(key), "\n" + d).group(1))
        out.append({"apiVersion": "v1", "kind": "Secret", "type": get("type"),
                    "metadata": {"name": get("name"), "namespace": get("namespace"),
                                 "labels": {"app.kubernetes.io/managed-by": get("app.kubernetes.io/managed-by")},
                                 "annotations": {"ecr-refresh.io/registries": get("ecr-refresh.io/registries"),
                                                 "ecr-refresh.io/expires-at": get("ecr-refresh.io/expires-at")}},
                    "data": {".dockerconfigjson": get(".dockerconfigjson")}})
    return out


def dockerconfig(secret):
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def check_secrets(stub, proc, fmt, namespaces, hosts):
    """hosts: {host: region}. Each namespace got the Secret, each host the password of its
    region."""
    items = secrets_from(proc, fmt)
    assert [s["metadata"]["namespace"] for s in items] == namespaces
    for s in items:
        assert s["apiVersion"] == "v1" and s["kind"] == "Secret"
        assert s["type"] == "kubernetes.io/dockerconfigjson"
        assert s["metadata"]["name"] == "ecr-creds"
        assert s["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "ecr-refresh"}
        ann = s["metadata"]["annotations"]
        assert ann["ecr-refresh.io/registries"].split(",") == list(hosts)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ann["ecr-refresh.io/expires-at"])
        auths = dockerconfig(s)["auths"]
        assert list(auths) == list(hosts)
        for host, region in hosts.items():
            pw = stub.password_for(region)
            assert auths[host] == {"username": "AWS", "password": pw,
                                   "auth": base64.b64encode(("AWS:" + pw).encode()).decode()}
    return items


def token_calls_by_region(stub):
    calls = {}
    for c in stub.ecr_token_calls(ok=False):
        calls[c["region"]] = calls.get(c["region"], 0) + 1
    return calls


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- credential sources ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_env_keys(aws_stub, tmp_path, fmt):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", host, "--namespaces", "a,b", "--output", fmt)
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, fmt, ["a", "b"], {host: "us-east-1"})
    calls = aws_stub.ecr_token_calls()
    assert len(calls) == 1 and calls[0]["access_key_id"] == aws_stub.static.access_key_id
    fetched = [l for l in log_lines(proc) if l["msg"] == "ecr tokens fetched"]
    assert fetched and fetched[0]["credentials"] == "env" and fetched[0]["regions"] == "us-east-1"
    assert_no_secrets(aws_stub, proc)


def test_env_keys_with_session_token(aws_stub, tmp_path):
    host = aws_stub.registry_host("eu-west-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(session=True))
    proc = run(env, "--registries", "https://%s/v2/" % host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "eu-west-1"})
    calls = aws_stub.ecr_token_calls()
    assert [c["access_key_id"] for c in calls] == [aws_stub.static_session.access_key_id]
    assert "x-amz-security-token" in calls[0]["signed_headers"].split(";")
    assert_no_secrets(aws_stub, proc)


@pytest.mark.parametrize("session_name", [None, "my.session@ecr-refresh"])
def test_web_identity(aws_stub, tmp_path, session_name):
    host = aws_stub.registry_host("eu-west-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_web_identity(tmp_path / "irsa", session_name=session_name))
    proc = run(env, "--registries", host, "--namespaces", "a,b", "--output", "yaml")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "yaml", ["a", "b"], {host: "eu-west-1"})
    sts = aws_stub.calls("sts")
    assert len(sts) == 1 and sts[0]["status"] == 200 and sts[0]["role_arn"] == aws_stub.role_arn
    if session_name:
        assert sts[0]["role_session_name"] == session_name
    else:
        assert re.fullmatch(r"[\w+=,.@-]{2,64}", sts[0]["role_session_name"])
    issued = aws_stub.issued("sts")
    assert [c["access_key_id"] for c in aws_stub.ecr_token_calls()] == [issued[0].access_key_id]
    assert [l for l in log_lines(proc) if l["msg"] == "ecr tokens fetched"][0]["credentials"] == "web-identity"
    assert_no_secrets(aws_stub, proc)


def test_web_identity_token_reread_and_refresh(aws_stub, tmp_path):
    """An ECR ExpiredTokenException makes the binary fetch credentials again, once, through
    STS with the token file read afresh (it was rotated in between)."""
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_web_identity(tmp_path / "irsa"))
    aws_stub.expire_next_temporary(persist=True)
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "us-east-1"})
    assert [c["status"] for c in aws_stub.calls("sts")] == [200, 200]
    assert [c["error"] for c in aws_stub.ecr_token_calls(ok=False)] == ["ExpiredTokenException", None]
    assert_no_secrets(aws_stub, proc)


def test_web_identity_rejected_token(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    irsa = aws_stub.env_web_identity(tmp_path / "irsa")
    with open(irsa["AWS_WEB_IDENTITY_TOKEN_FILE"], "w") as f:
        f.write("not.the.token")
    env = base_env(aws_stub, tmp_path, **irsa)
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json", "--deadline", "30")
    assert proc.returncode == 3, proc.stderr
    assert "InvalidIdentityToken" in proc.stderr and "us-east-1" in proc.stderr
    assert proc.stdout == "" and aws_stub.ecr_token_calls(ok=False) == []
    assert_no_secrets(aws_stub, proc, planted=["not.the.token"])


def test_pod_identity_token_file(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_pod_identity(tmp_path / "pod-identity"))
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "yaml")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "yaml", ["a"], {host: "us-east-1"})
    container = aws_stub.calls("container")
    assert len(container) == 1 and container[0]["status"] == 200 and container[0]["authorization_sent"]
    assert [c["access_key_id"] for c in aws_stub.ecr_token_calls()] == \
        [aws_stub.issued("container")[0].access_key_id]
    assert_no_secrets(aws_stub, proc)


def test_container_static_token(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_container_token())
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "us-east-1"})
    assert [c["status"] for c in aws_stub.calls("container")] == [200]
    assert_no_secrets(aws_stub, proc)


def test_container_relative_uri_wins(aws_stub, tmp_path):
    """RELATIVE_URI means http://169.254.170.2 (ECS), and wins over FULL_URI: the stub's
    container endpoint is never asked."""
    env = base_env(aws_stub, tmp_path, **aws_stub.env_pod_identity(tmp_path / "pod-identity"),
                   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/abc")
    t0 = time.monotonic()
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a",
               "--output", "json", "--timeout", "1", "--deadline", "8")
    assert proc.returncode == 3, proc.stderr
    assert time.monotonic() - t0 < 15
    assert "container credentials from 169.254.170.2:80" in proc.stderr
    assert aws_stub.calls("container") == [] and aws_stub.requests_received == 0
    assert_no_secrets(aws_stub, proc)


def test_container_wrong_token(aws_stub, tmp_path):
    env = base_env(aws_stub, tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=aws_stub.container_url,
                   AWS_CONTAINER_AUTHORIZATION_TOKEN="planted-wrong-container-token")
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "AccessDeniedException" in proc.stderr and "HTTP 403" in proc.stderr
    assert aws_stub.ecr_token_calls(ok=False) == []
    assert_no_secrets(aws_stub, proc, planted=["planted-wrong-container-token"])


def test_imds(aws_stub, tmp_path):
    host = aws_stub.registry_host("eu-west-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_imds())
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "yaml")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "yaml", ["a"], {host: "eu-west-1"})
    ops = [c["operation"] for c in aws_stub.calls("imds")]
    assert ops == ["GetToken", "GetRoleName", "GetRoleCredentials"]
    assert [c["access_key_id"] for c in aws_stub.ecr_token_calls()] == [aws_stub.issued("imds")[0].access_key_id]
    assert [l for l in log_lines(proc) if l["msg"] == "ecr tokens fetched"][0]["credentials"] == "imds"
    assert_no_secrets(aws_stub, proc)


def test_default_registry_region_from_imds(aws_stub, tmp_path):
    """No --registries: the caller's default registry (the token's proxyEndpoint) in the
    default region, here IMDS placement/region."""
    env = base_env(aws_stub, tmp_path, **aws_stub.env_imds())
    proc = run(env, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    region = aws_stub.imds_region
    check_secrets(aws_stub, proc, "json", ["a"], {aws_stub.registry_host(region): region})
    assert "GetRegion" in [c["operation"] for c in aws_stub.calls("imds")]
    assert token_calls_by_region(aws_stub) == {region: 1}


def test_default_registry_region_from_env(aws_stub, tmp_path):
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), AWS_DEFAULT_REGION="eu-west-1")
    proc = run(env, "--namespaces", "a", "--output", "yaml")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "yaml", ["a"], {aws_stub.registry_host("eu-west-1"): "eu-west-1"})
    assert aws_stub.calls("imds") == []
    assert_no_secrets(aws_stub, proc)


# ---- regions, retries, refusals ---------------------------------------------------------

def test_multi_region_one_token_per_region(aws_stub, tmp_path):
    east = aws_stub.registry_host("us-east-1")
    west = aws_stub.registry_host("eu-west-1")
    west_other = aws_stub.registry_host("eu-west-1", OTHER_ACCOUNT)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", ",".join([east, west, west_other, "https://" + east]),
               "--namespaces", "a,b", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a", "b"],
                  {east: "us-east-1", west: "eu-west-1", west_other: "eu-west-1"})
    assert token_calls_by_region(aws_stub) == {"us-east-1": 1, "eu-west-1": 1}
    fetched = [l for l in log_lines(proc) if l["msg"] == "ecr tokens fetched"][0]
    assert fetched["regions"] == "us-east-1,eu-west-1"
    assert_no_secrets(aws_stub, proc)


@pytest.mark.parametrize("fault", ["throttle-400", "throttle-429-header", "server-503", "dropped"])
def test_retried_then_success(aws_stub, tmp_path, fault):
    if fault == "throttle-400":
        aws_stub.throttle(2)
    elif fault == "throttle-429-header":
        aws_stub.throttle(1, status=429, style="header")
    elif fault == "server-503":
        aws_stub.server_error(2, status=503)
    else:
        aws_stub.fail_next("ecr", drop=True)
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "us-east-1"})
    calls = aws_stub.ecr_token_calls(ok=False)
    assert calls[-1]["status"] == 200 and len(calls) == {"throttle-400": 3, "server-503": 3}.get(fault, 2)
    assert any(l["msg"] == "aws request retried" for l in log_lines(proc))
    assert_no_secrets(aws_stub, proc)


def test_throttled_past_the_attempts(aws_stub, tmp_path):
    aws_stub.throttle(10)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "ThrottlingException" in proc.stderr
    assert len(aws_stub.ecr_token_calls(ok=False)) == 5
    assert_no_secrets(aws_stub, proc)


def test_access_denied(aws_stub, tmp_path):
    aws_stub.deny_regions = {"eu-west-1"}
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1") + "," + aws_stub.registry_host("eu-west-1"),
               "--namespaces", "a", "--output", "yaml")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    errors = [l for l in log_lines(proc) if l["level"] == "error"]
    assert len(errors) == 1
    assert "AccessDeniedException" in errors[0]["error"] and "eu-west-1" in errors[0]["error"]
    assert token_calls_by_region(aws_stub) == {"us-east-1": 1, "eu-west-1": 1}   # never retried
    assert_no_secrets(aws_stub, proc)


def test_wrong_secret_key(aws_stub, tmp_path):
    wrong = "planted/Wrong+SecretKey0123456789abcdefgh"
    env = base_env(aws_stub, tmp_path, AWS_ACCESS_KEY_ID=aws_stub.static.access_key_id,
                   AWS_SECRET_ACCESS_KEY=wrong)
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "InvalidSignatureException" in proc.stderr and "us-east-1" in proc.stderr
    # Env keys cannot change by asking again: no pointless second attempt.
    assert len(aws_stub.ecr_token_calls(ok=False)) == 1
    assert_no_secrets(aws_stub, proc, planted=[wrong])


def test_expired_env_session_token(aws_stub, tmp_path):
    aws_stub.expire_credential(aws_stub.static_session.access_key_id)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(session=True))
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "ExpiredTokenException" in proc.stderr
    assert_no_secrets(aws_stub, proc)


def test_no_credentials_imds_disabled(aws_stub, tmp_path):
    env = base_env(aws_stub, tmp_path, AWS_EC2_METADATA_DISABLED="true")
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    errors = [l for l in log_lines(proc) if l["level"] == "error"]
    assert errors[0]["error"] == ("no AWS credentials: env keys not set, no web identity, no container "
                                  "credentials, IMDS disabled (AWS_EC2_METADATA_DISABLED=true)")
    assert aws_stub.calls() == [] and aws_stub.requests_received == 0


def test_no_credentials_imds_silent(aws_stub, tmp_path):
    """A pod without IMDS: one attempt, one second, a message that says so."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = base_env(aws_stub, tmp_path,
                       AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:%d" % silent.getsockname()[1])
        t0 = time.monotonic()
        proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
        elapsed = time.monotonic() - t0
    assert proc.returncode == 3, proc.stderr
    assert elapsed < 5
    assert ("no AWS credentials: env keys not set, no web identity, no container credentials, "
            "IMDS unreachable (127.0.0.1: timed out after 1s)") in proc.stderr


@pytest.mark.parametrize("mode", ["expired", "not_yet_valid", "wrong_name", "untrusted"])
def test_bad_endpoint_certificate(aws_stub, tmp_path, mode):
    aws_stub.set_tls_mode(mode)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "certificate" in proc.stderr
    assert aws_stub.requests_received == 0
    assert proc.stdout == ""
    assert_no_secrets(aws_stub, proc)


def test_bad_sts_certificate(aws_stub, tmp_path):
    aws_stub.set_tls_mode("untrusted")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_web_identity(tmp_path / "irsa"))
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json")
    assert proc.returncode == 3, proc.stderr
    assert "STS AssumeRoleWithWebIdentity" in proc.stderr and "certificate" in proc.stderr
    assert aws_stub.requests_received == 0
    assert_no_secrets(aws_stub, proc)


# ---- proxies ------------------------------------------------------------------------------

def test_through_tinyproxy(aws_stub, tmp_path, tinyproxy):
    port, log = tinyproxy
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_web_identity(tmp_path / "irsa"),
                   HTTPS_PROXY="http://127.0.0.1:%d" % port)
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "us-east-1"})
    text = log.read_text()
    # Both https endpoints were reached through CONNECT tunnels (RFC 9110 9.3.6).
    assert "CONNECT 127.0.0.1:%d" % aws_stub.port("ecr") in text
    assert "CONNECT 127.0.0.1:%d" % aws_stub.port("sts") in text
    assert_no_secrets(aws_stub, proc)
    assert aws_stub.leaked_secrets(text) == []


def test_no_proxy_bypasses(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(),
                   https_proxy="http://127.0.0.1:%d" % free_port(), no_proxy="localhost,127.0.0.0/8")
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a"], {host: "us-east-1"})


def test_dead_proxy_refused(aws_stub, tmp_path):
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(),
                   HTTPS_PROXY="http://127.0.0.1:%d" % free_port())
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a", "--output", "json",
               "--deadline", "20")
    assert proc.returncode == 3, proc.stderr
    assert "proxy" in proc.stderr
    assert aws_stub.requests_received == 0


# ---- configuration errors: exit 2, nothing contacted ------------------------------------

BAD_CONFIGS = [
    (["--registries", "docker.io"], {}, "is not an ECR registry host"),
    (["--registries", "123456789012.dkr.ecr.us-east-1.amazonaws.com,public.ecr.aws"], {}, "public.ecr.aws"),
    (["--namespaces", "Bad_NS"], {}, "Bad_NS"),
    (["--concurrency", "0"], {}, "concurrency"),
    (["--namespace-selector", "a in (b"], {}, "selector"),
    (["--bogus"], {}, "--bogus"),
    (["--output", "xml"], {}, "output"),
    (["--output", "yaml", "--namespaces", "team-*"], {}, "--output needs plain namespace names"),
    (["--output", "yaml", "--namespace-selector", "team=a"], {}, "--output needs plain namespace names"),
    (["--output", "json"], {}, "namespace"),
    (["--output", "json", "--namespaces", "a", "--exclude-namespaces", "*"], {}, "every target namespace"),
    ([], {"AWS_USE_FIPS_ENDPOINT": "true"}, "AWS_USE_FIPS_ENDPOINT cannot be combined with a custom endpoint"),
    ([], {"AWS_SECRET_ACCESS_KEY": None}, "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY"),
    ([], {"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}, "AWS_CA_BUNDLE /nonexistent/ca.pem"),
    ([], {"AWS_REGION": "Not_A_Region"}, "AWS_REGION"),
    ([], {"HTTPS_PROXY": "ftp://proxy.example:21"}, "HTTPS_PROXY"),
    ([], {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
          "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"}, "plain http is allowed only to loopback"),
    ([], {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
          "AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token"}, "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN"),
]


@pytest.mark.parametrize("args,env_changes,message", BAD_CONFIGS, ids=[m for _, _, m in BAD_CONFIGS])
def test_bad_configuration(aws_stub, tmp_path, args, env_changes, message):
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    if not any(a.startswith("--registries") for a in args):
        args = ["--registries", aws_stub.registry_host("us-east-1")] + args
    if "--output" not in args:
        args = args + ["--namespaces", "a", "--output", "json"] if "--namespaces" not in args else args + ["--output", "json"]
    proc = run(env, *args)
    assert proc.returncode == 2, proc.stderr
    lines = log_lines(proc)
    assert len(lines) == 1 and lines[0]["level"] == "error", proc.stderr
    assert message in proc.stderr
    assert proc.stdout == ""
    # Nothing was contacted.
    assert aws_stub.calls() == [] and aws_stub.requests_received == 0
    assert aws_stub.count("ecr", "connections") == 0 and aws_stub.count("imds", "connections") == 0
    assert_no_secrets(aws_stub, proc)


CLUSTER_MODE_BAD_CONFIGS = [
    ({"KUBERNETES_SERVICE_HOST": None}, ["--namespaces", "a"], "KUBERNETES_SERVICE_HOST is not set"),
    ({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}, [], "name the targets with --namespaces"),
    ({}, ["--namespaces", "a", "--api-server", "https://127.0.0.1:6443/?x"], "--api-server"),
]


@pytest.mark.parametrize("env_changes,args,message", CLUSTER_MODE_BAD_CONFIGS,
                         ids=[m for _, _, m in CLUSTER_MODE_BAD_CONFIGS])
def test_cluster_mode_configuration_errors_contact_nothing(aws_stub, tmp_path, env_changes, args, message):
    """Without --output, what the Kubernetes phase would refuse as configuration is found
    before AWS is asked for anything (docs/reference.md "Exit codes": 2,
    nothing was contacted)."""
    sa = tmp_path / "sa"
    sa.mkdir()
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), SERVICEACCOUNT_DIR=str(sa))
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert aws_stub.calls() == [] and aws_stub.requests_received == 0
    assert_no_secrets(aws_stub, proc)


# ---- file reads are bounded: exit 2, naming the file, before anything is contacted -------

def bad_file(tmp_path, kind):
    """A path that must never be read as a configuration file: an endless device, a FIFO
    nobody writes to (a blocking open or read would hang past --deadline), a directory, or
    a regular file past the cap (a CA bundle larger than 1 MiB, a token larger than 16 KiB)."""
    if kind == "dev-zero":
        return "/dev/zero", "not a regular file"
    path = tmp_path / ("bad-" + kind)
    if kind == "fifo":
        os.mkfifo(path)
        return str(path), "not a regular file"
    if kind == "directory":
        path.mkdir()
        return str(path), "not a regular file"
    path.write_bytes(b"A" * (1024 * 1024 + 1))
    return str(path), "larger than"


FILE_KINDS = ["dev-zero", "fifo", "directory", "oversize"]


def assert_refused_file(aws_stub, proc, variable, path, why):
    assert proc.returncode == 2, proc.stderr
    lines = log_lines(proc)
    assert len(lines) == 1 and lines[0]["level"] == "error", proc.stderr
    assert ("%s%s: %s" % (variable + " " if variable else "", path, why)) in lines[0]["error"], proc.stderr
    assert proc.stdout == ""
    assert aws_stub.calls() == [] and aws_stub.requests_received == 0
    assert_no_secrets(aws_stub, proc)


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_not_a_small_regular_file(aws_stub, tmp_path, variable, kind):
    path, why = bad_file(tmp_path, kind)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), **{variable: path})
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a",
               "--output", "json", "--timeout", "2", "--deadline", "5", timeout=20)
    assert_refused_file(aws_stub, proc, variable, path, why)


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("source", ["web-identity", "pod-identity"])
def test_aws_token_file_not_a_small_regular_file(aws_stub, tmp_path, source, kind):
    path, why = bad_file(tmp_path, kind)
    if source == "web-identity":
        creds = aws_stub.env_web_identity(tmp_path / "irsa")
        variable = "AWS_WEB_IDENTITY_TOKEN_FILE"
    else:
        creds = aws_stub.env_pod_identity(tmp_path / "pod-identity")
        variable = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
    creds[variable] = path
    env = base_env(aws_stub, tmp_path, **creds)
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), "--namespaces", "a",
               "--output", "json", "--timeout", "2", "--deadline", "5", timeout=20)
    assert_refused_file(aws_stub, proc, variable, path, why)


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("name", ["token", "ca.crt", "namespace"])
def test_serviceaccount_file_not_a_small_regular_file(aws_stub, tmp_path, name, kind):
    """The ServiceAccount folder's files, in cluster mode: refused before AWS is asked for
    anything (the namespace file is read only when --namespaces is not given)."""
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "namespace").write_text("pod-ns")
    path, why = bad_file(tmp_path, kind)
    (sa / name).unlink(missing_ok=True)
    if kind == "dev-zero":
        os.symlink(path, sa / name)
    else:
        os.rename(path, sa / name)
    path = str(sa / name)
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), SERVICEACCOUNT_DIR=str(sa),
                   KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(free_port()))
    args = [] if name == "namespace" else ["--namespaces", "a"]
    proc = run(env, "--registries", aws_stub.registry_host("us-east-1"), *args, "--timeout", "2",
               "--deadline", "5", timeout=20)
    assert_refused_file(aws_stub, proc, "", path, why)


# ---- --output details ---------------------------------------------------------------------

def test_output_namespace_from_serviceaccount_dir(aws_stub, tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "namespace").write_text("pod-ns")
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), SERVICEACCOUNT_DIR=str(sa))
    proc = run(env, "--registries", host, "--output", "yaml", "--secret-name", "pull-secret")
    assert proc.returncode == 0, proc.stderr
    items = secrets_from(proc, "yaml")
    assert [s["metadata"]["namespace"] for s in items] == ["pod-ns"]
    assert items[0]["metadata"]["name"] == "pull-secret"


def test_output_excludes_and_sorts(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", host, "--namespaces", "c,a,b,a", "--exclude-namespaces", "b", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    check_secrets(aws_stub, proc, "json", ["a", "c"], {host: "us-east-1"})


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_output_many_namespaces(aws_stub, tmp_path, fmt):
    """1,000 namespaces and two regions: printed one namespace at a time, so the output is
    not bounded by the cJSON memory budget (one tree of every Secret at once was)."""
    hosts = [aws_stub.registry_host("us-east-1"), aws_stub.registry_host("eu-west-1")]
    names = ["ns-%04d" % i for i in range(1000)]
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", ",".join(hosts), "--namespaces", ",".join(names), "--output", fmt)
    assert proc.returncode == 0, proc.stderr[-500:]
    check_secrets(aws_stub, proc, fmt, names, {hosts[0]: "us-east-1", hosts[1]: "eu-west-1"})


def test_text_log_format(aws_stub, tmp_path):
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys(), LOG_FORMAT="text")
    proc = run(env, "--registries", host, "--namespaces", "a", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert "ecr tokens fetched" in proc.stderr and not proc.stderr.startswith("{")
    assert_no_secrets(aws_stub, proc)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_kubectl_accepts_output(aws_stub, tmp_path, k8s_cluster, fmt):
    """kubectl reads what --output prints: client-side dry run, then a server-side dry run
    against the real apiserver (which validates the dockerconfigjson Secret)."""
    ns = k8s_cluster.unique_namespace("out")
    host = aws_stub.registry_host("us-east-1")
    env = base_env(aws_stub, tmp_path, **aws_stub.env_static_keys())
    proc = run(env, "--registries", host, "--namespaces", ns, "--output", fmt)
    assert proc.returncode == 0, proc.stderr
    # An empty kubeconfig of its own, so nothing of the developer's is used.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    kubectl = ["kubectl", "--server", k8s_cluster.url, "--certificate-authority", k8s_cluster.ca_path,
               "--token", str(k8s_cluster.admin_token), "--kubeconfig", str(kubeconfig)]
    for dry_run in ("client", "server"):
        applied = subprocess.run(kubectl + ["apply", "--dry-run=" + dry_run, "-f", "-", "-o", "name"],
                                 input=proc.stdout, capture_output=True, text=True, timeout=60)
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.strip() == "secret/ecr-creds"
