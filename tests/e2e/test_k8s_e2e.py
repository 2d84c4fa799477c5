"""End to end: the Kubernetes phase of build/ecr-refresh against a real kube-apiserver
v1.20.2 (tests/standins/k8s_cluster.py), under the least-privilege RBAC the product ships, with the
AWS stand-in (tests/standins/awsstub.py) handing out the ECR tokens.

Where a test needs the same payload twice (to see `unchanged`), it runs the driver
build/tools/k8sapply, which calls k8s_run with a fixed .dockerconfigjson.

ECR_BUILD=build-NAME points the tests at another build folder (default: build);
K8S_E2E_LOGDIR=DIR keeps every run's stderr there, one file per test and run.
"""
import base64
import http.server
import json
import os
import socket
import subprocess
import time

import pytest

import leakscan
import pki
from hostile_apiserver import BackgroundServer
from conftest import ROOT
from k8s_cluster import Token, write_projected_dir

BUILD = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
BIN = os.path.join(BUILD, "ecr-refresh")
DRIVER = os.path.join(BUILD, "tools", "k8sapply")
SECRET = "ecr-creds"
REGION = "us-east-1"
DRIVER_PASSWORD = "k8sapply-fixed-password-0123456789"
RESULTS = ("created", "updated", "unchanged", "failed")


class Run:
    def __init__(self, proc, seconds):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds
        self.lines = []
        for line in proc.stderr.splitlines():
            try:
                obj = json.loads(line)      # every log line is one JSON object
            except ValueError:
                raise AssertionError("not a JSON log line: %r\nstderr:\n%s" % (line, proc.stderr[-6000:]))
            assert {"ts", "level", "msg"} <= set(obj), line
            self.lines.append(obj)

    @property
    def namespaces(self):
        """namespace -> its line ("secret applied" / "secret not applied")."""
        out = {}
        for line in self.lines:
            if line["msg"] in ("secret applied", "secret not applied"):
                assert line["namespace"] not in out, "two lines for %s" % line["namespace"]
                out[line["namespace"]] = line
        return out

    def result(self, ns):
        return self.namespaces[ns]["result"]

    @property
    def summary(self):
        found = [l for l in self.lines if l["msg"] == "kubernetes phase finished"]
        assert len(found) == 1, self.stderr
        return found[0]

    def check_summary(self):
        """The closing line's counts match the namespace lines."""
        s = self.summary
        lines = self.namespaces
        for result in RESULTS:
            assert s[result] == sum(1 for l in lines.values() if l["result"] == result), (result, self.stderr)
        assert s["namespaces"] == len(lines)
        assert isinstance(s["seconds"], (int, float))
        for line in lines.values():
            assert line["result"] in RESULTS
            assert (line["level"] == "error") == (line["result"] == "failed")
            assert ("reason" in line) == (line["result"] == "failed")
        return s

    def __repr__(self):
        return "Run(exit %d)\n%s" % (self.code, self.stderr[-3000:])


@pytest.fixture
def k8s_env(k8s_cluster, aws_stub, tmp_path):
    """A runner for the binary and the driver, checking every run's output for secrets."""
    forbidden = []
    runs = []

    def sa_dir(name="sa", **kw):
        path = str(tmp_path / name)
        k8s_cluster.make_sa_dir(path, "ecr-refresh-system", **kw)
        with open(os.path.join(path, "token")) as f:
            forbidden.append(f.read().strip())
        return path

    def base_env(sa, port=None, extra=None):
        env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": "debug"}
        env.update(k8s_cluster.env(sa, port=port) if sa else {})
        env.update(extra or {})
        return env

    def check(run):
        logdir = os.environ.get("K8S_E2E_LOGDIR")
        if logdir:
            os.makedirs(logdir, exist_ok=True)
            name = os.environ.get("PYTEST_CURRENT_TEST", "run").split(" ")[0].split("::")[-1]
            runs.append(name)
            with open(os.path.join(logdir, "%s-%d.log" % (name, runs.count(name))), "w") as f:
                f.write(run.stderr)
        text = run.stdout + run.stderr
        assert aws_stub.leaked_secrets(text) == [], run
        planted = forbidden + [str(k8s_cluster.admin_token), DRIVER_PASSWORD]
        assert leakscan.leaks(text, planted) == [], "a token or password, or a piece of one, reached the output"
        return run

    def binary(args, sa, port=None, extra=None, timeout=120):
        env = base_env(sa, port, extra)
        env.update(aws_stub.env())
        env.update(aws_stub.env_static_keys())
        env["ECR_REGISTRIES"] = aws_stub.registry_host(REGION)
        assert os.access(BIN, os.X_OK), "build %s first (make B=...)" % BIN
        t0 = time.monotonic()
        proc = subprocess.run([BIN] + list(args), env=env, capture_output=True, text=True, timeout=timeout)
        return check(Run(proc, time.monotonic() - t0))

    def driver(args, sa, port=None, extra=None, password=DRIVER_PASSWORD, expires="2030-01-01T00:00:00Z",
               timeout=120):
        env = base_env(sa, port, extra)
        host = "123456789012.dkr.ecr.%s.amazonaws.com" % REGION
        auth = base64.b64encode(("AWS:" + password).encode()).decode()
        env["K8SAPPLY_DOCKERCONFIGJSON"] = json.dumps(
            {"auths": {host: {"username": "AWS", "password": password, "auth": auth}}})
        env["K8SAPPLY_REGISTRIES"] = host
        env["K8SAPPLY_EXPIRES_AT"] = expires
        assert os.access(DRIVER, os.X_OK), "build %s first" % DRIVER
        t0 = time.monotonic()
        proc = subprocess.run([DRIVER] + list(args), env=env, capture_output=True, text=True, timeout=timeout)
        return check(Run(proc, time.monotonic() - t0))

    class Env:
        pass

    e = Env()
    e.sa_dir, e.binary, e.driver, e.cluster, e.stub = sa_dir, binary, driver, k8s_cluster, aws_stub
    return e


def namespaces(cluster, prefix, n, labels=None):
    return [cluster.unique_namespace(prefix, labels) for _ in range(n)]


def assert_fresh_secret(cluster, stub, ns):
    secret = cluster.get_secret(ns, SECRET)
    assert secret is not None, "no Secret in %s" % ns
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ecr-refresh"
    host = stub.registry_host(REGION)
    assert secret["metadata"]["annotations"]["ecr-refresh.io/registries"] == host
    assert secret["metadata"]["annotations"]["ecr-refresh.io/expires-at"].endswith("Z")
    auths = json.loads(secret["data"][".dockerconfigjson"])["auths"]
    assert auths[host]["password"] == stub.password_for(REGION)
    assert ("ecr-refresh", "Apply") in cluster.field_managers(ns, SECRET)
    return secret


def assert_no_secret(cluster, *names):
    for ns in names:
        assert cluster.get_secret_raw(ns, SECRET) is None, "a Secret was written in %s" % ns


# ---- targets -----------------------------------------------------------------------------

def test_plain_names_need_no_list_permission(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "names", 2)
    c.setup_identity([a, b])                      # no ClusterRole: listing would be 403
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", " %s , %s ,%s" % (b, a, a)], sa)
    assert run.code == 0, run
    assert run.result(a) == "created" and run.result(b) == "created"
    s = run.check_summary()
    assert s["created"] == 2 and s["failed"] == 0
    for ns in (a, b):
        assert_fresh_secret(c, k8s_env.stub, ns)


def test_default_is_the_pods_own_namespace(k8s_env):
    c = k8s_env.cluster
    c.setup_identity(["ecr-refresh-system"])
    sa = k8s_env.sa_dir()
    c.delete("/api/v1/namespaces/ecr-refresh-system/secrets/" + SECRET)
    run = k8s_env.binary([], sa)
    assert run.code == 0, run
    assert list(run.namespaces) == ["ecr-refresh-system"]
    assert_fresh_secret(c, k8s_env.stub, "ecr-refresh-system")


def test_no_namespace_file_and_no_namespaces_is_a_config_error(k8s_env):
    k8s_env.cluster.setup_identity([])
    sa = k8s_env.sa_dir()
    os.unlink(os.path.join(sa, "namespace"))
    run = k8s_env.driver([], sa)
    assert run.code == 2, run
    assert "namespace" in run.stderr


def test_globs_and_exclusions(k8s_env):
    c = k8s_env.cluster
    prefix = c.unique_name("glob")
    names = [prefix + s for s in ("-app", "-web", "-db", "-tmp1", "-tmp2")]
    for ns in names:
        c.create_namespace(ns)
    other = namespaces(c, "unrelated", 1)[0]
    c.setup_identity(names + [other], selector_mode=True)
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", prefix + "-*", "--exclude-namespaces", "%s-tmp?,%s-db" % (prefix, prefix)],
                         sa)
    assert run.code == 0, run
    assert sorted(run.namespaces) == sorted([prefix + "-app", prefix + "-web"])
    run.check_summary()
    for ns in (prefix + "-app", prefix + "-web"):
        assert_fresh_secret(c, k8s_env.stub, ns)
    assert_no_secret(c, prefix + "-db", prefix + "-tmp1", prefix + "-tmp2", other)


BULK = 190 * 1024     # one annotation's bytes: 12 such objects are over the 2 MiB page limit


def set_bulk(c, path, on):
    """A large annotation on the object at path (a merge patch as admin), or none."""
    c.patch(path, {"metadata": {"annotations": {"bulk": "x" * BULK if on else None}}})


def test_pages_over_the_list_limit(k8s_env):
    """Namespaces and Secrets whose list pages would exceed the 2 MiB page limit: each list
    is asked again (etcd instead of the watch cache, then half the page) and follows
    metadata.continue through the smaller pages; nothing fails and nothing is lost."""
    from concurrent.futures import ThreadPoolExecutor
    c = k8s_env.cluster
    prefix = c.unique_name("bulk")
    names = ["%s-%02d" % (prefix, i) for i in range(12)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(c.create_namespace, names))
    c.setup_identity(names, selector_mode=True)
    sa = k8s_env.sa_dir()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: set_bulk(c, "/api/v1/namespaces/" + n, True), names))
        run = k8s_env.binary(["--namespaces", prefix + "-*"], sa)
        assert run.code == 0, run
        assert sorted(run.namespaces) == names
        s = run.check_summary()
        assert s["created"] == 12
        # some namespace list pages were asked again, smaller; then a Secret list and 12 applies
        assert s["requests"] > 2 + 12, s
        for ns in names:
            assert_fresh_secret(c, k8s_env.stub, ns)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: set_bulk(c, "/api/v1/namespaces/%s/secrets/%s" % (n, SECRET), True), names))
        # the Secret list is too large as well, from the watch cache and from etcd
        run = k8s_env.binary(["--namespaces", prefix + "-*", "--refresh-before", "1h"], sa)
        assert run.code == 0, run
        s = run.summary
        assert s["fresh"] == 12 and s["failed"] == 0, s
        assert sorted(l["namespace"] for l in run.lines if l["msg"] == "secret fresh") == names
        assert s["requests"] > 2, s
        assert not [l for l in run.lines if l["level"] in ("warn", "error")], run
    finally:
        for n in names:
            set_bulk(c, "/api/v1/namespaces/" + n, False)
            if c.get_secret_raw(n, SECRET) is not None:
                set_bulk(c, "/api/v1/namespaces/%s/secrets/%s" % (n, SECRET), False)


def test_label_selector(k8s_env):
    c = k8s_env.cluster
    team = c.unique_name("team")
    web = namespaces(c, "sel", 2, {"team": team, "tier": "web"})
    db = namespaces(c, "sel", 1, {"team": team, "tier": "db"})
    batch = namespaces(c, "sel", 1, {"team": team, "tier": "batch"})
    plain = namespaces(c, "sel", 1)
    c.setup_identity(web + db + batch + plain, selector_mode=True)
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespace-selector", "team=%s,tier in (web, db)" % team,
                          "--exclude-namespaces", db[0]], sa)
    assert run.code == 0, run
    assert sorted(run.namespaces) == sorted(web)
    for ns in web:
        assert_fresh_secret(c, k8s_env.stub, ns)
    assert_no_secret(c, *(db + batch + plain))
    # a selector adds to the names given
    run = k8s_env.binary(["--namespace-selector", "team=%s,tier=batch" % team, "--namespaces", plain[0]], sa)
    assert run.code == 0, run
    assert sorted(run.namespaces) == sorted(batch + plain)


def test_listing_without_permission_is_exit_4(k8s_env):
    c = k8s_env.cluster
    a = namespaces(c, "nolist", 1)[0]
    c.setup_identity([a])                         # no ClusterRole
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", a + ",nolist-*"], sa)
    assert run.code == 4, run
    assert any(l["msg"] == "cannot list namespaces" and "403" in l["reason"] for l in run.lines), run
    assert_no_secret(c, a)


def test_terminating_and_missing_namespaces_fail_alone(k8s_env):
    c = k8s_env.cluster
    prefix = c.unique_name("term")
    live, dying = prefix + "-live", prefix + "-dying"
    c.create_namespace(live)
    c.create_namespace(dying)
    c.setup_identity([live, dying], selector_mode=True)
    c.delete_namespace(dying)                     # stays Terminating: no namespace controller
    missing = c.unique_name("missing")
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", prefix + "-*," + missing], sa)
    assert run.code == 1, run
    assert run.result(live) == "created"
    assert run.result(dying) == "failed" and "terminating" in run.namespaces[dying]["reason"]
    assert run.result(missing) == "failed"
    run.check_summary()
    # a plain name reaches the API server, which refuses it (403 NamespaceTerminating)
    run = k8s_env.binary(["--namespaces", dying], sa)
    assert run.code == 1, run
    assert "terminating" in run.namespaces[dying]["reason"]


# ---- apply semantics ----------------------------------------------------------------------

def test_rerun_updates_in_place_and_unchanged_keeps_the_version(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "rerun", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    first = k8s_env.binary(["--namespaces", "%s,%s" % (a, b)], sa)
    assert first.code == 0, first
    uid = c.get_secret_raw(a, SECRET)["metadata"]["uid"]
    second = k8s_env.binary(["--namespaces", "%s,%s" % (a, b)], sa)
    assert second.code == 0, second
    assert second.result(a) in ("updated", "unchanged")
    assert c.get_secret_raw(a, SECRET)["metadata"]["uid"] == uid
    assert_fresh_secret(c, k8s_env.stub, a)
    assert c.field_managers(a, SECRET) == [("ecr-refresh", "Apply")]

    # the same payload twice: the second apply writes nothing
    run = k8s_env.driver(["--namespaces", a], sa)
    assert run.code == 0 and run.result(a) == "updated", run
    version = c.resource_version(a, SECRET)
    run = k8s_env.driver(["--namespaces", a], sa)
    assert run.code == 0 and run.result(a) == "unchanged", run
    assert c.resource_version(a, SECRET) == version
    run.check_summary()
    # dry run: unchanged for the same payload, updated for another, and nothing written
    run = k8s_env.driver(["--namespaces", a, "--dry-run"], sa)
    assert run.code == 0 and run.result(a) == "unchanged", run
    run = k8s_env.driver(["--namespaces", a, "--dry-run"], sa, password="another-password-abcdefghijkl")
    assert run.code == 0 and run.result(a) == "updated", run
    assert c.resource_version(a, SECRET) == version
    assert json.loads(c.get_secret(a, SECRET)["data"][".dockerconfigjson"])["auths"][
        "123456789012.dkr.ecr.%s.amazonaws.com" % REGION]["password"] == DRIVER_PASSWORD


def test_a_namespace_without_permission_fails_alone(k8s_env):
    c = k8s_env.cluster
    a, b, denied = namespaces(c, "perm", 3)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", "%s,%s,%s" % (a, denied, b)], sa)
    assert run.code == 1, run
    assert run.result(a) == "created" and run.result(b) == "created"
    assert run.result(denied) == "failed"
    assert "403" in run.namespaces[denied]["reason"] and "forbidden" in run.namespaces[denied]["reason"]
    s = run.check_summary()
    assert (s["created"], s["failed"]) == (2, 1)
    assert_no_secret(c, denied)


def test_forbidden_reason_names_a_token_like_namespace(k8s_env):
    """A namespace name with digits and 20+ characters looks like a token to the peer-text
    redaction; as a name the run sent, the 403 reason keeps it."""
    c = k8s_env.cluster
    denied = c.unique_namespace("payments-2024-prod-eu")
    assert len(denied) >= 20
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", denied], sa)
    assert run.code in (1, 4), run
    reason = run.namespaces[denied]["reason"]
    assert "403" in reason and '"%s"' % denied in reason and "[REDACTED]" not in reason, reason


def test_another_managers_secret_needs_force(k8s_env):
    c = k8s_env.cluster
    ns = namespaces(c, "conflict", 1)[0]
    c.setup_identity([ns])
    theirs = json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"u:p").decode()}}})
    c.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "namespace": ns},
             "type": "kubernetes.io/dockerconfigjson",
             "data": {".dockerconfigjson": base64.b64encode(theirs.encode()).decode()}},
            field_manager="someone-else")
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", ns], sa)
    assert run.code == 1, run
    reason = run.namespaces[ns]["reason"]
    assert "409" in reason and "Conflict" in reason and "--force" in reason
    assert c.get_secret(ns, SECRET)["data"][".dockerconfigjson"] == theirs
    run = k8s_env.binary(["--namespaces", ns, "--force"], sa)
    assert run.code == 0, run
    assert run.result(ns) == "updated"
    assert_fresh_secret(c, k8s_env.stub, ns)


def test_an_opaque_secret_of_that_name_is_refused(k8s_env):
    c = k8s_env.cluster
    ns = namespaces(c, "opaque", 1)[0]
    c.setup_identity([ns])
    c.create("/api/v1/namespaces/%s/secrets" % ns, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                                    "metadata": {"name": SECRET}, "data": {"x": "eQ=="}})
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", ns, "--force"], sa)
    assert run.code == 1, run
    assert "422" in run.namespaces[ns]["reason"] and "immutable" in run.namespaces[ns]["reason"], run
    assert c.get_secret_raw(ns, SECRET)["type"] == "Opaque"


def test_dry_run_writes_nothing(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "dry", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", "%s,%s" % (a, b), "--dry-run"], sa)
    assert run.code == 0, run
    assert run.result(a) == "created" and run.namespaces[a]["dry_run"] == "true"
    assert run.check_summary()["dry_run"] == "true"
    assert_no_secret(c, a, b)


def test_service_accounts_merged_idempotently(k8s_env):
    c = k8s_env.cluster
    ns, other_ns = namespaces(c, "sa", 2)
    c.setup_identity([ns, other_ns], service_accounts=True)
    for where in (ns, other_ns):
        c.create("/api/v1/namespaces/%s/serviceaccounts" % where,
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"},
                  "imagePullSecrets": [{"name": "theirs"}, {"name": "mine-too"}]})
    c.create("/api/v1/namespaces/%s/serviceaccounts" % ns,
             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer"}})
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", ns, "--service-accounts", "builder,deployer"], sa)
    assert run.code == 0, run
    builder = c.get("/api/v1/namespaces/%s/serviceaccounts/builder" % ns)
    assert builder["imagePullSecrets"] == [{"name": "theirs"}, {"name": "mine-too"}, {"name": SECRET}]
    deployer = c.get("/api/v1/namespaces/%s/serviceaccounts/deployer" % ns)
    assert deployer["imagePullSecrets"] == [{"name": SECRET}]
    versions = (builder["metadata"]["resourceVersion"], deployer["metadata"]["resourceVersion"])

    run = k8s_env.binary(["--namespaces", ns, "--service-accounts", "builder,deployer"], sa)
    assert run.code == 0, run
    builder = c.get("/api/v1/namespaces/%s/serviceaccounts/builder" % ns)
    deployer = c.get("/api/v1/namespaces/%s/serviceaccounts/deployer" % ns)
    assert builder["imagePullSecrets"] == [{"name": "theirs"}, {"name": "mine-too"}, {"name": SECRET}]
    assert (builder["metadata"]["resourceVersion"], deployer["metadata"]["resourceVersion"]) == versions

    # a missing ServiceAccount fails its namespace only; the Secret is still written
    run = k8s_env.binary(["--namespaces", "%s,%s" % (ns, other_ns), "--service-accounts", "builder,deployer"], sa)
    assert run.code == 1, run
    assert run.result(ns) in ("updated", "unchanged")
    line = run.namespaces[other_ns]
    assert line["result"] == "failed" and "deployer" in line["reason"] and "404" in line["reason"]
    assert_fresh_secret(c, k8s_env.stub, other_ns)
    assert c.get("/api/v1/namespaces/%s/serviceaccounts/builder" % other_ns)["imagePullSecrets"][-1] == {"name": SECRET}

    # a dry run changes no ServiceAccount
    c.create("/api/v1/namespaces/%s/serviceaccounts" % other_ns,
             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer"}})
    run = k8s_env.binary(["--namespaces", other_ns, "--service-accounts", "deployer", "--dry-run"], sa)
    assert run.code == 0, run
    assert "imagePullSecrets" not in c.get("/api/v1/namespaces/%s/serviceaccounts/deployer" % other_ns)


# ---- trust, credentials, reachability: exit 4 with nothing written ------------------------

def test_server_not_signed_by_ca_crt_is_exit_4(k8s_env, tmp_path):
    c = k8s_env.cluster
    a, b = namespaces(c, "untrusted", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    rogue = pki.CA(str(tmp_path), "some other CA")
    with open(rogue.cert_path, "rb") as f:
        ca = f.read()
    with open(os.path.join(sa, "token"), "rb") as f:
        token = f.read()
    write_projected_dir(sa, {"token": token, "ca.crt": ca, "namespace": b"ecr-refresh-system"})
    run = k8s_env.binary(["--namespaces", "%s,%s" % (a, b)], sa)
    assert run.code == 4, run
    assert all("certificate" in l["reason"] for l in run.namespaces.values()), run
    assert_no_secret(c, a, b)


def test_missing_ca_crt_is_exit_4(k8s_env):
    c = k8s_env.cluster
    a = namespaces(c, "noca", 1)[0]
    c.setup_identity([a])
    sa = k8s_env.sa_dir()
    os.unlink(os.path.join(sa, "ca.crt"))
    run = k8s_env.driver(["--namespaces", a], sa)
    assert run.code == 4, run
    assert "ca.crt" in run.stderr
    assert_no_secret(c, a)


def test_invalid_token_is_exit_4(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "badtoken", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir(token=Token("not-a-valid-token-" + "x" * 40))
    run = k8s_env.binary(["--namespaces", "%s,%s" % (a, b), "--concurrency", "2"], sa)
    assert run.code == 4, run
    assert all("401" in l["reason"] for l in run.namespaces.values()), run
    assert_no_secret(c, a, b)


def test_unreachable_api_server_is_exit_4_within_the_deadline(k8s_env):
    port = _free_port()                         # closed again: nothing listens there
    k8s_env.cluster.setup_identity([])
    sa = k8s_env.sa_dir()
    run = k8s_env.driver(["--namespaces", "a,b,c", "--deadline", "3", "--timeout", "2"], sa, port=port)
    assert run.code == 4, run
    assert run.seconds < 10
    assert all(l["result"] == "failed" for l in run.namespaces.values())


def test_ipv6_service_host_is_bracketed(k8s_env):
    k8s_env.cluster.setup_identity([])
    sa = k8s_env.sa_dir()
    env = {"KUBERNETES_SERVICE_HOST": "::1", "KUBERNETES_SERVICE_PORT": "1"}
    run = k8s_env.driver(["--namespaces", "a", "--deadline", "2", "--timeout", "1"], sa, extra=env)
    assert run.code == 4, run
    assert "[::1]:1" in run.stderr or "::1" in run.namespaces["a"]["reason"]


# ---- kubectl proxy: plain http ------------------------------------------------------------

class _KubectlProxy(BackgroundServer, http.server.ThreadingHTTPServer):
    """What `kubectl proxy` does for us: plain HTTP on loopback, forwarding to the API
    server with its own (admin) credentials. Records the Authorization each request
    carried; hook(method, path, authorization, body) may answer instead: it returns None to
    forward, or (status, dict) to answer with that JSON."""
    daemon_threads = True

    def __init__(self, cluster, hook=None):
        self.cluster = cluster
        self.hook = hook
        self.seen = []          # (method, path, authorization or None)
        super().__init__(("127.0.0.1", 0), _KubectlProxyHandler)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class _KubectlProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self):
        server = self.server
        authorization = self.headers.get("Authorization")
        server.seen.append((self.command, self.path, authorization))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        answer = server.hook(self.command, self.path, authorization, body) if server.hook else None
        if answer is not None:
            self._answer(answer[0], json.dumps(answer[1]).encode())
            return
        r = server.cluster.request(self.command, self.path, body=body,
                                   content_type=self.headers.get("Content-Type"),
                                   headers={"Accept": self.headers.get("Accept", "application/json")})
        self._answer(r.status, r.body, r.headers.get("content-type", "application/json"))

    do_GET = do_PATCH = do_PUT = _forward


def _status(code, reason, message):
    return (code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "code": code})


def test_kubectl_proxy_over_plain_http_sends_no_token(k8s_env, tmp_path):
    c = k8s_env.cluster
    ns = namespaces(c, "proxy", 1)[0]
    empty = str(tmp_path / "no-sa")
    os.mkdir(empty)
    with _KubectlProxy(c) as proxy:
        run = k8s_env.binary(["--namespaces", ns, "--api-server", proxy.url + "/",
                              "--serviceaccount-dir", empty], None)
    assert run.code == 0, run
    assert len(proxy.seen) == 2 and all(auth is None for _, _, auth in proxy.seen), proxy.seen
    assert_fresh_secret(c, k8s_env.stub, ns)


def test_token_is_read_again_after_a_401(k8s_env, tmp_path):
    """kubelet rotates bound tokens: a 401 makes the client re-read the file and retry once."""
    c = k8s_env.cluster
    ns = namespaces(c, "rotate", 1)[0]
    sa = str(tmp_path / "sa-rotate")
    old, new = Token("old-token-" + "a" * 40), Token("new-token-" + "b" * 40)
    with open(c.ca_path, "rb") as f:
        ca = f.read()
    write_projected_dir(sa, {"token": old.encode(), "ca.crt": ca, "namespace": b"ecr-refresh-system"})

    def hook(method, path, authorization, body):
        if authorization == "Bearer " + old:
            # kubelet swaps the file while the old token is refused
            write_projected_dir(sa, {"token": new.encode(), "ca.crt": ca, "namespace": b"ecr-refresh-system"})
            return _status(401, "Unauthorized", "Unauthorized")
        assert authorization == "Bearer " + new
        return None

    with _KubectlProxy(c, hook) as proxy:
        run = k8s_env.driver(["--namespaces", ns, "--api-server", proxy.url, "--serviceaccount-dir", sa], None)
    assert run.code == 0, run
    assert run.result(ns) == "created"
    auths = [auth for _, _, auth in proxy.seen]
    assert auths[0] == "Bearer " + old and set(auths[1:]) == {"Bearer " + new}, proxy.seen
    text = run.stdout + run.stderr
    assert old not in text and new not in text


def test_service_account_changed_between_read_and_write(k8s_env):
    """The PUT carries the resourceVersion read: a concurrent change makes it 409, and the
    merge is done again on the fresh object, keeping the other writer's entry."""
    c = k8s_env.cluster
    ns = namespaces(c, "sarace", 1)[0]
    c.create("/api/v1/namespaces/%s/serviceaccounts" % ns,
             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"},
              "imagePullSecrets": [{"name": "first"}]})
    path = "/api/v1/namespaces/%s/serviceaccounts/builder" % ns
    puts = []

    def hook(method, request_path, authorization, body):
        if method == "PUT" and request_path.startswith(path):
            puts.append(json.loads(body))
            if len(puts) == 1:
                current = c.get(path)
                current["imagePullSecrets"].append({"name": "concurrent"})
                c.replace(path, current)
        return None

    with _KubectlProxy(c, hook) as proxy:
        run = k8s_env.binary(["--namespaces", ns, "--service-accounts", "builder", "--api-server", proxy.url,
                              "--serviceaccount-dir", "/nonexistent"], None)
    assert run.code == 0, run
    assert len(puts) == 2
    assert c.get(path)["imagePullSecrets"] == [{"name": "first"}, {"name": "concurrent"}, {"name": SECRET}]


# ---- HTTPS_PROXY / NO_PROXY ---------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_https_proxy_tunnels_to_the_api_server(k8s_env, tinyproxy):
    c = k8s_env.cluster
    a, b = namespaces(c, "viaproxy", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    port, log = tinyproxy
    run = k8s_env.driver(["--namespaces", a], sa, extra={"HTTPS_PROXY": "http://127.0.0.1:%d" % port})
    assert run.code == 0 and run.result(a) == "created", run
    assert "CONNECT 127.0.0.1:%d" % c.port in log.read_text()
    # NO_PROXY names the API server: a dead proxy is never asked
    run = k8s_env.driver(["--namespaces", b], sa, extra={"https_proxy": "http://127.0.0.1:%d" % _free_port(),
                                                        "no_proxy": "127.0.0.0/8"})
    assert run.code == 0 and run.result(b) == "created", run


# ---- faults and concurrency ---------------------------------------------------------------

def test_faults_converge(k8s_env, k8s_fault_proxy):
    c = k8s_env.cluster
    prefix = c.unique_name("fault")
    names = ["%s-%02d" % (prefix, i) for i in range(30)]
    for ns in names:
        c.create_namespace(ns)
    c.setup_identity(names, selector_mode=True)
    sa = k8s_env.sa_dir()
    proxy = k8s_fault_proxy(p429=0.15, p503=0.1, pdrop=0.1, seed=11,
                            plan=["429", "503", "drop_before", "drop_after"])
    run = k8s_env.binary(["--namespaces", prefix + "-*", "--concurrency", "8"], sa, port=proxy.port,
                         timeout=240)
    assert run.code == 0, run
    assert sorted(run.namespaces) == names
    s = run.check_summary()
    assert s["created"] == 30 and s["retries"] > 0
    counts = proxy.counts
    assert counts["429"] > 0 and counts["503"] > 0 and counts["drop_before"] + counts["drop_after"] > 0, counts
    for ns in names:
        assert_fresh_secret(c, k8s_env.stub, ns)


def test_deadline_bounds_the_run(k8s_env, k8s_fault_proxy):
    c = k8s_env.cluster
    a, b = namespaces(c, "deadline", 2)
    c.setup_identity([a, b])
    sa = k8s_env.sa_dir()
    proxy = k8s_fault_proxy(p503=1.0, seed=1)
    run = k8s_env.driver(["--namespaces", "%s,%s" % (a, b), "--deadline", "4", "--timeout", "2", "--concurrency", "1"], sa,
                         port=proxy.port)
    assert run.seconds < 9, run
    assert run.code == 4, run                    # nothing written, the server never served
    assert all("deadline exceeded" in l["reason"] or "503" in l["reason"] for l in run.namespaces.values())
    assert_no_secret(c, a, b)


LIST_LIMIT = 2000   # targets.c: namespaces per page of the listing


def test_many_namespaces_with_concurrency(k8s_env):
    c = k8s_env.cluster
    prefix = c.unique_name("many")
    names = ["%s-%03d" % (prefix, i) for i in range(60)]
    for ns in names:
        c.create_namespace(ns)
    c.setup_identity(names, selector_mode=True)
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", prefix + "-*", "--concurrency", "16"], sa)
    assert run.code == 0, run
    s = run.check_summary()
    assert s["created"] == 60
    # the listing's pages, one list of the Secrets, then an apply per namespace
    pages = (len(c.list("/api/v1/namespaces")) + LIST_LIMIT - 1) // LIST_LIMIT
    assert s["requests"] == pages + 1 + 60
    run = k8s_env.binary(["--namespaces", prefix + "-*", "--concurrency", "1"], sa)
    assert run.code == 0, run
    assert run.check_summary()["updated"] + run.check_summary()["unchanged"] == 60
