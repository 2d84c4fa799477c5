"""End to end: --watch against the real kube-apiserver v1.20.2 + etcd (tests/k8s_cluster.py)
under the watch RBAC of deploy/watch/, with the AWS stand-in handing out ECR tokens.

The functional deadline is the contract's 5 s from a change to the repaired Secret; every
wait below allows WAIT_S (slack for a busy 2-core machine) and the measured latency is
checked against 5 s only where one event is timed. Memory and descriptors are read from
/proc/PID/status and /proc/PID/fd. Every run's output is scanned for planted secrets.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import ROOT
from k8s_cluster import object_path, watch_manifests, write_projected_dir

BIN = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"), "ecr-refresh")
SECRET = "ecr-creds"
REGION = "us-east-1"
REPAIR_S = 5.0          # the contract: a repair within 5 s
WAIT_S = 20.0           # what a test waits before it calls a repair missing
STOP_S = 2.0            # SIGTERM to exit
OUR_PREFIXES = ("wglob-", "wother-", "wsel-", "wname-", "wrst-", "wtok-", "wsoak-", "wlive-", "wrefresh-", "wfresh-")


@pytest.fixture(autouse=True)
def no_cluster_rbac_left(k8s_cluster):
    """The watch's cluster-wide grants are removed after each test: other tests of the same
    apiserver must run under their own RBAC only (a left-over list of Secrets, or the test
    roles, would change what they are allowed and print)."""
    yield
    for o in reversed(watch_manifests(True)):
        k8s_cluster.delete(object_path(o))


def watch_rbac(cluster, selector_mode=True, sa_namespace="ecr-refresh-system"):
    """The shipped RBAC of the watch Deployment (watch_manifests), bound to the test
    identity."""
    cluster.ensure_namespace(sa_namespace)
    cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "ecr-refresh", "namespace": sa_namespace}})
    for o in watch_manifests(selector_mode, sa_namespace):
        cluster.apply(o)


class Watcher:
    """build/ecr-refresh --watch in the background; its stderr lines parsed as they come."""

    def __init__(self, args, env, forbidden):
        self.forbidden = forbidden
        self.lines = []
        self.raw = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([BIN, "--watch"] + list(args), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.code = None

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.raw.append(line)
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    self.lines.append({"msg": "NOT JSON", "line": line})

    def text(self):
        with self.lock:
            return "".join(self.raw)

    def count(self, msg, **fields):
        with self.lock:
            return sum(1 for l in self.lines if l.get("msg") == msg
                       and all(l.get(k) == v for k, v in fields.items()))

    def wait_for(self, what, timeout=WAIT_S):
        """Polls what() until true; returns the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError("the watcher exited with %s:\n%s" % (self.proc.returncode, self.text()[-4000:]))
            if what():
                return time.monotonic() - t0
            time.sleep(0.02)
        raise AssertionError("timed out after %.0f s; stderr ends:\n%s" % (timeout, self.text()[-4000:]))

    def wait_log(self, msg, n=1, timeout=WAIT_S, **fields):
        return self.wait_for(lambda: self.count(msg, **fields) >= n, timeout)

    def status(self):
        """(VmRSS, VmHWM) in KiB."""
        values = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stop(self):
        """SIGTERM; returns the seconds to exit, and checks the exit code and the output."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.code = self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        seconds = time.monotonic() - t0
        self.reader.join(5)
        text = self.text() + (self.proc.stdout.read() or "")
        for secret in self.forbidden():
            assert secret not in text, "a token or password reached the output"
        bad = [l for l in self.lines if l.get("msg") == "NOT JSON"]
        assert not bad, bad
        return seconds


@pytest.fixture
def watch_env(k8s_cluster, aws_stub, tmp_path):
    cluster = k8s_cluster
    started = []
    tokens = []

    def sa_dir(name="sa"):
        path = str(tmp_path / name)
        cluster.make_sa_dir(path, "ecr-refresh-system")
        with open(os.path.join(path, "token")) as f:
            tokens.append(f.read().strip())
        return path

    def forbidden():
        return tokens + [str(cluster.admin_token)] + aws_stub.all_secrets() \
            if hasattr(aws_stub, "all_secrets") else tokens + [str(cluster.admin_token)]

    def start(args, sa, extra=None):
        env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": "debug"}
        env.update(cluster.env(sa))
        env.update(aws_stub.env())
        env.update(aws_stub.env_static_keys())
        env["ECR_REGISTRIES"] = aws_stub.registry_host(REGION)
        env.update(extra or {})
        assert os.access(BIN, os.X_OK), "build %s first" % BIN
        w = Watcher(args, env, forbidden)
        started.append(w)
        return w

    class Env:
        pass

    e = Env()
    e.cluster, e.stub, e.sa_dir, e.start = cluster, aws_stub, sa_dir, start
    yield e
    # the watch's cluster-wide grants must not leak into other tests' identity, nor its
    # Secrets into their cluster-wide lists (namespaces here are never deleted for good)
    for name in ("ecr-refresh-watch", "ecr-refresh"):
        cluster.delete("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + name)
    for item in cluster.list("/api/v1/secrets", field_selector="metadata.name=" + SECRET):
        ns = item["metadata"]["namespace"]
        if ns.startswith(OUR_PREFIXES):
            cluster.delete("/api/v1/namespaces/%s/secrets/%s" % (ns, SECRET))
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
        assert not aws_stub.leaked_secrets(w.text()), "AWS secrets in the output"


def secret_of(cluster, ns):
    return cluster.get_secret(ns, SECRET)


def is_ours(cluster, stub, ns):
    s = secret_of(cluster, ns)
    if s is None:
        return False
    auths = json.loads(s["data"][".dockerconfigjson"])["auths"]
    host = stub.registry_host(REGION)
    return (s["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "ecr-refresh"
            and host in auths and auths[host]["password"] == stub.password_for(REGION))


def time_until(pred, timeout=WAIT_S):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError("not within %.0f s" % timeout)


def started_watch(env, args, kinds=("secrets",), extra=None):
    sa = env.sa_dir()
    w = env.start(args, sa, extra)
    for kind in kinds:
        w.wait_log("watch: watching", what=kind)
    return w, sa


# ---- tests --------------------------------------------------------------------------------

def test_new_namespace_deleted_and_edited_secret_are_repaired(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    prefix = c.unique_name("wglob")
    first = prefix + "-a"
    c.create_namespace(first)
    watch_rbac(c)
    w, _ = started_watch(watch_env, ["--namespaces", prefix + "-*", "--force"], ("namespaces", "secrets"))
    assert w.count("secret applied", namespace=first, result="created") == 1

    # a namespace that appears and matches
    second = prefix + "-b"
    c.create_namespace(second)
    latency = time_until(lambda: is_ours(c, stub, second))
    assert latency < REPAIR_S, "new namespace took %.2f s\n%s" % (latency, w.text()[-5000:])
    c.create_namespace(c.unique_name("wother"))           # not a target: nothing written

    # deleted by hand
    c.delete("/api/v1/namespaces/%s/secrets/%s" % (first, SECRET))
    latency = time_until(lambda: is_ours(c, stub, first))
    assert latency < REPAIR_S, "deleted Secret took %.2f s" % latency
    w.wait_log("watch: secret deleted, restoring", namespace=first)

    # payload edited by another manager
    c.patch("/api/v1/namespaces/%s/secrets/%s" % (second, SECRET),
            {"data": {".dockerconfigjson": "eyJhdXRocyI6e319"}}, field_manager="kubectl-edit")
    latency = time_until(lambda: is_ours(c, stub, second))
    assert latency < REPAIR_S, "edited Secret took %.2f s" % latency
    w.wait_log("watch: secret is not the one we wrote, restoring", namespace=second)
    assert ("ecr-refresh", "Apply") in c.field_managers(second, SECRET)

    seconds = w.stop()
    assert w.code == 0 and seconds < STOP_S, (w.code, seconds)
    assert w.count("watch: stopped by a signal") == 1


def test_label_change_makes_a_namespace_a_target_and_unlabel_deletes_nothing(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    label = c.unique_name("team")
    ns = c.unique_namespace("wsel")
    watch_rbac(c)
    w, _ = started_watch(watch_env, ["--namespace-selector", "%s=yes" % label],
                         ("selected namespaces", "secrets"))
    assert secret_of(c, ns) is None
    c.patch("/api/v1/namespaces/" + ns, {"metadata": {"labels": {label: "yes"}}})
    latency = time_until(lambda: is_ours(c, stub, ns))
    assert latency < REPAIR_S, "label change took %.2f s" % latency
    c.patch("/api/v1/namespaces/" + ns, {"metadata": {"labels": {label: None}}})
    time.sleep(1.5)
    assert is_ours(c, stub, ns), "a namespace that stopped matching lost its Secret"
    seconds = w.stop()
    assert w.code == 0 and seconds < STOP_S


def test_plain_names_watch_secrets_only(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    ns = c.unique_namespace("wname")
    c.setup_identity([ns])
    watch_rbac(c, selector_mode=False)                      # no namespace permission at all
    w, _ = started_watch(watch_env, ["--namespaces", ns])
    assert w.count("watch: watching", what="namespaces") == 0
    c.delete("/api/v1/namespaces/%s/secrets/%s" % (ns, SECRET))
    assert time_until(lambda: is_ours(c, stub, ns)) < REPAIR_S
    assert w.stop() < STOP_S and w.code == 0


def test_apiserver_restart_and_compaction_410_relist_lose_nothing(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    prefix = c.unique_name("wrst")
    a = prefix + "-a"
    c.create_namespace(a)
    watch_rbac(c)
    w, _ = started_watch(watch_env, ["--namespaces", prefix + "-*"], ("namespaces", "secrets"))

    # the watch breaks and resumes from its resourceVersion
    c.stop_apiserver()
    time.sleep(1)
    c.start_apiserver()
    b = prefix + "-b"
    c.create_namespace(b)
    time_until(lambda: is_ours(c, stub, b))
    w.wait_log("watch: resumed", what="namespaces")

    # While the apiserver is down, the Secret goes away behind its back (straight from
    # etcd) and etcd is compacted past every version the watch saw: resuming gets 410 Gone,
    # the relist finds the missing Secret.
    c.stop_apiserver()
    c.etcdctl("del", "/registry/secrets/%s/%s" % (a, SECRET))
    for i in range(3):
        c.etcdctl("put", "/ecr-refresh-test/bump", str(i))
    c.etcd_compact()
    c.start_apiserver()
    time_until(lambda: is_ours(c, stub, a), timeout=WAIT_S * 2)
    w.wait_log("watch: target has no secret of ours, restoring", namespace=a)
    assert "410" in w.text() or "Expired" in w.text() or "too old" in w.text()
    assert w.stop() < STOP_S and w.code == 0


def test_token_rotation_mid_watch(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    ns = c.unique_namespace("wtok")
    c.setup_identity([ns])
    watch_rbac(c, selector_mode=False)
    w, sa = started_watch(watch_env, ["--namespaces", ns])
    # a new bound token: the old one is revoked by deleting and re-creating the ServiceAccount
    old = open(os.path.join(sa, "token")).read().strip()
    c.delete("/api/v1/namespaces/ecr-refresh-system/serviceaccounts/ecr-refresh")
    watch_rbac(c, selector_mode=False)
    c.make_sa_dir(sa, "ecr-refresh-system")
    new = open(os.path.join(sa, "token")).read().strip()
    assert new != old
    # the open watch may go on with the old token; the next request must use the new one
    c.delete("/api/v1/namespaces/%s/secrets/%s" % (ns, SECRET))
    assert time_until(lambda: is_ours(c, stub, ns), timeout=WAIT_S * 2) < WAIT_S * 2
    assert w.stop() < STOP_S and w.code == 0


def test_soak_memory_and_descriptors_stay_flat(watch_env):
    c, stub = watch_env.cluster, watch_env.stub
    prefix = c.unique_name("wsoak")
    c.create_namespace(prefix + "-0")
    watch_rbac(c)
    w, _ = started_watch(watch_env, ["--namespaces", prefix + "-*", "--log-level", "info"],
                         ("namespaces", "secrets"))
    time.sleep(0.5)
    rss0, _ = w.status()
    fds0 = w.fds()
    names = []
    t0 = time.monotonic()
    for i in range(1, 101):                          # 100 namespaces + 100 Secret deletions
        names.append("%s-%d" % (prefix, i))
        c.create_namespace(names[-1])
        if i % 10 == 0:
            time_until(lambda: all(secret_of(c, n) is not None for n in names))
            for n in names[-10:]:
                c.delete("/api/v1/namespaces/%s/secrets/%s" % (n, SECRET))
        assert time.monotonic() - t0 < 120, "the soak is bounded"
    time_until(lambda: all(is_ours(c, stub, n) for n in names), timeout=60)
    time.sleep(1)
    rss1, hwm = w.status()
    fds1 = w.fds()
    print("soak: RSS %d KiB after the first pass, %d KiB after, VmHWM %d KiB, fds %d -> %d"
          % (rss0, rss1, hwm, fds0, fds1))
    assert rss1 < 2048, "RSS %d KiB" % rss1
    assert rss1 <= rss0 * 1.10, (rss0, rss1)
    assert fds1 <= fds0, (fds0, fds1)
    assert w.stop() < STOP_S and w.code == 0


def test_liveness_file_and_probe(watch_env, tmp_path):
    c = watch_env.cluster
    ns = c.unique_namespace("wlive")
    c.setup_identity([ns])
    watch_rbac(c, selector_mode=False)
    alive = str(tmp_path / "alive")
    w, _ = started_watch(watch_env, ["--namespaces", ns, "--liveness-file", alive])
    probe = lambda: subprocess.run([BIN, "--liveness-probe", alive], capture_output=True, text=True)
    assert probe().returncode == 0
    assert w.stop() < STOP_S and w.code == 0
    os.utime(alive, (time.time() - 120, time.time() - 120))
    p = probe()
    assert p.returncode == 1 and "last touched" in p.stderr
    assert subprocess.run([BIN, "--liveness-probe", str(tmp_path / "none")], capture_output=True).returncode == 1


def test_watch_refuses_dry_run_and_output():
    for args in (["--watch", "--dry-run"], ["--watch", "--output", "json", "--namespaces", "a"],
                 ["--liveness-file", "/tmp/x"]):
        p = subprocess.run([BIN] + args, capture_output=True, text=True, env={"PATH": "/usr/bin"})
        assert p.returncode == 2, (args, p.stderr)


@pytest.mark.aws_stub(token_ttl=3 * 3600 + 8)
def test_tokens_are_refreshed_before_expiry_without_an_event(watch_env):
    """Tokens that expire in 3 h + 8 s are due for a refresh in 8 s (3 h before): new
    tokens (new passwords at the stand-in) reach the Secret with no Kubernetes event."""
    c, stub = watch_env.cluster, watch_env.stub
    ns = c.unique_namespace("wrefresh")
    c.setup_identity([ns])
    watch_rbac(c, selector_mode=False)
    w, _ = started_watch(watch_env, ["--namespaces", ns])
    old = secret_of(c, ns)["data"][".dockerconfigjson"]
    stub.rotate_passwords()
    w.wait_log("ecr tokens fetched", n=2, timeout=40)
    time_until(lambda: is_ours(c, stub, ns), timeout=WAIT_S)
    assert secret_of(c, ns)["data"][".dockerconfigjson"] != old
    w.wait_log("watch: watching", n=2, what="secrets")     # and it watches again
    assert w.stop() < STOP_S and w.code == 0


def test_a_fresh_pass_fetches_tokens_for_the_watch(watch_env):
    """With REFRESH_BEFORE a pass that finds every Secret fresh asks AWS for nothing; the
    watch then needs tokens for its repairs and fetches them itself."""
    c, stub = watch_env.cluster, watch_env.stub
    ns = c.unique_namespace("wfresh")
    c.setup_identity([ns])
    watch_rbac(c, selector_mode=False)
    first, _ = started_watch(watch_env, ["--namespaces", ns])
    assert first.stop() < STOP_S and first.code == 0
    w, _ = started_watch(watch_env, ["--namespaces", ns], extra={"REFRESH_BEFORE": "1h"})
    assert w.count("secret fresh", namespace=ns, result="fresh") == 1
    w.wait_log("ecr tokens fetched")
    c.delete("/api/v1/namespaces/%s/secrets/%s" % (ns, SECRET))
    assert time_until(lambda: is_ours(c, stub, ns)) < REPAIR_S
    assert w.stop() < STOP_S and w.code == 0
