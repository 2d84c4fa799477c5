"""End to end: `ecr-refresh check` against the real kube-apiserver v1.20.2 and the AWS
stand-in, under the read-only RBAC it ships (deploy/check-rbac.yaml).

Each namespace is prepared with one fault by the admin: no Secret, the wrong type, a
Secret without the image's registry, an expired or expiring one, a pod that does not
reference it, a ServiceAccount not patched. Pods have no kubelet here: their containers are
put in ImagePullBackOff through the pod status subresource. Every problem line must name
its fix and an anchor the troubleshooting guide has; a healthy namespace prints nothing;
no output ever holds the planted password, a token or an AWS secret.
"""
import base64
import copy
import json
import os
import re
import subprocess
import time

import pytest
import yaml

from conftest import ROOT

BIN = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"), "ecr-refresh")
RBAC_YAML = os.path.join(ROOT, "deploy", "check-rbac.yaml")
GUIDE = os.path.join(ROOT, "docs", "troubleshooting.md")
SECRET = "ecr-creds"
SA_NAMESPACE = "ecr-refresh-system"
CHECK_SA = "ecr-refresh-check"
REGION = "us-east-1"
OTHER_ACCOUNT = "444455556666"
PLANTED = "planted-registry-password-never-printed-0123456789"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ---- what the admin prepares ----------------------------------------------------------------

def grant_check_rbac(cluster, namespaces):
    """The shipped manifest, bound for the check ServiceAccount in these namespaces only."""
    with open(RBAC_YAML) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    cluster.ensure_namespace(SA_NAMESPACE)
    cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": CHECK_SA, "namespace": SA_NAMESPACE}})
    cluster.apply(role)
    for ns in namespaces:
        b = copy.deepcopy(binding)
        b["metadata"]["namespace"] = ns
        b["subjects"] = [{"kind": "ServiceAccount", "name": CHECK_SA, "namespace": SA_NAMESPACE}]
        cluster.apply(b)


def make_secret(cluster, ns, hosts, expires, managed_by="ecr-refresh", secret_type=None):
    auths = {h: {"username": "AWS", "password": PLANTED, "auth": b64("AWS:" + PLANTED)} for h in hosts}
    obj = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": SECRET, "namespace": ns,
                        "labels": {"app.kubernetes.io/managed-by": managed_by},
                        "annotations": {"ecr-refresh.io/registries": ",".join(hosts),
                                        "ecr-refresh.io/expires-at": rfc3339(expires)}},
           "type": secret_type or "kubernetes.io/dockerconfigjson",
           "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))}}
    if secret_type == "Opaque":
        obj["data"] = {"password": b64(PLANTED)}
    cluster.create("/api/v1/namespaces/%s/secrets" % ns, obj)


def make_service_account(cluster, ns, name="default", pull_secret=False):
    """No controller-manager runs here: the admin makes ServiceAccounts, without token
    automounting so pods need no token Secret."""
    obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns},
           "automountServiceAccountToken": False}
    if pull_secret:
        obj["imagePullSecrets"] = [{"name": "other"}, {"name": SECRET}]
    cluster.apply(obj)


def make_pod(cluster, ns, name, image, pull_secret=True, sa="default", waiting="ImagePullBackOff"):
    """A pod whose one container waits with reason `waiting`, written through the status
    subresource as a kubelet would."""
    spec = {"serviceAccountName": sa, "automountServiceAccountToken": False,
            "containers": [{"name": "app", "image": image}]}
    if pull_secret:
        spec["imagePullSecrets"] = [{"name": SECRET}]
    pod = cluster.create("/api/v1/namespaces/%s/pods" % ns,
                         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                          "spec": spec})
    state = {"waiting": {"reason": waiting, "message": "Back-off pulling image \"%s\"" % image}}
    if waiting is None:
        state = {"running": {"startedAt": rfc3339(time.time())}}
    pod["status"] = {"phase": "Pending", "containerStatuses": [
        {"name": "app", "image": image, "imageID": "", "ready": False, "restartCount": 0, "state": state}]}
    cluster.replace("/api/v1/namespaces/%s/pods/%s/status" % (ns, name), pod)


def guide_anchors():
    """GitHub's heading anchors of the troubleshooting guide."""
    with open(GUIDE) as f:
        headings = re.findall(r"^#+ (.+)$", f.read(), re.M)
    return {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-") for h in headings}


# ---- running it ----------------------------------------------------------------------------

class CheckRun:
    def __init__(self, proc, text=False):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.problems = [] if text else [json.loads(l) for l in proc.stdout.splitlines()]
        self.logs = [] if text else [json.loads(l) for l in proc.stderr.splitlines()]

    def by_namespace(self, ns):
        return [p for p in self.problems if p["namespace"] == ns]

    def kinds(self, ns):
        return sorted(p["problem"] for p in self.by_namespace(ns))

    def log(self, msg):
        return [l for l in self.logs if l["msg"] == msg]

    def __repr__(self):
        return "CheckRun(exit %d)\nstdout:\n%s\nstderr:\n%s" % (self.code, self.stdout[-4000:], self.stderr[-4000:])


@pytest.fixture
def check_env(k8s_cluster, aws_stub, tmp_path):
    forbidden = [PLANTED, b64("AWS:" + PLANTED), str(k8s_cluster.admin_token)]

    def sa_dir():
        path = str(tmp_path / "sa")
        k8s_cluster.make_sa_dir(path, SA_NAMESPACE, sa_name=CHECK_SA)
        with open(os.path.join(path, "token")) as f:
            forbidden.append(f.read().strip())
        return path

    def run(args, sa="default", env_extra=None, aws_keys=True, text=False):
        env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": "info"}
        if sa == "default":
            sa = sa_dir()
        if sa:
            env.update(k8s_cluster.env(sa))
        env.update(aws_stub.env())
        if aws_keys:
            env.update(aws_stub.env_static_keys())
        env["ECR_REGISTRIES"] = aws_stub.registry_host(REGION)
        env.update(env_extra or {})
        proc = subprocess.run([BIN, "check"] + list(args), env=env, capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert aws_stub.leaked_secrets(out) == [], proc.stderr
        for secret in forbidden:
            for i in range(0, max(len(secret) - 20, 1), 20):
                assert secret[i:i + 20] not in out, "a secret reached the output"
        return CheckRun(proc, text)

    class Env:
        pass

    e = Env()
    e.run, e.cluster, e.stub = run, k8s_cluster, aws_stub
    e.host = aws_stub.registry_host(REGION)
    e.other_host = aws_stub.registry_host(REGION, OTHER_ACCOUNT)
    return e


def healthy_namespace(e, prefix="healthy"):
    ns = e.cluster.unique_namespace(prefix)
    make_secret(e.cluster, ns, [e.host], time.time() + 11 * 3600)
    make_service_account(e.cluster, ns, pull_secret=True)
    make_pod(e.cluster, ns, "web", e.host + "/team/web:1.4", waiting=None)
    return ns


# ---- the tests --------------------------------------------------------------------------------

def test_each_fault_is_reported_with_its_fix(check_env):
    e, c = check_env, check_env.cluster
    now = time.time()
    ns = {k: c.unique_namespace("chk-" + k) for k in
          ("missing", "wrongtype", "noentry", "expired", "expiring", "noref", "predates")}
    ns["healthy"] = healthy_namespace(e)
    forbidden_ns = c.unique_namespace("chk-forbidden")
    for k in ns:
        if k != "healthy":
            make_service_account(c, ns[k])
    image = e.host + "/team/app:2.0"
    make_secret(c, ns["wrongtype"], [e.host], now + 11 * 3600, secret_type="Opaque")
    make_secret(c, ns["noentry"], [e.host], now + 11 * 3600)
    make_pod(c, ns["noentry"], "api", e.other_host + "/team/api:3", waiting="ErrImagePull")
    make_secret(c, ns["expired"], [e.host], now - 600)
    make_pod(c, ns["expired"], "app", image)
    make_secret(c, ns["expiring"], [e.host], now + 2 * 3600)
    make_secret(c, ns["noref"], [e.host], now + 11 * 3600)
    make_pod(c, ns["noref"], "app", image, pull_secret=False)
    make_secret(c, ns["predates"], [e.host], now + 11 * 3600)
    make_pod(c, ns["predates"], "app", image, pull_secret=False)
    # the ServiceAccount gets the Secret after the pod was made: admission copied nothing
    make_service_account(c, ns["predates"], pull_secret=True)
    grant_check_rbac(c, list(ns.values()))

    run = e.run(["--namespaces", ",".join(list(ns.values()) + [forbidden_ns])])
    assert run.code == 1, run
    assert run.kinds(ns["missing"]) == ["secret-missing"], run
    assert run.kinds(ns["wrongtype"]) == ["secret-wrong-type"], run
    assert run.kinds(ns["noentry"]) == ["registry-not-in-secret"], run
    line = run.by_namespace(ns["noentry"])[0]
    assert (line["object"], line["image"], line["registry"], line["secret_entry"]) == (
        "pod/api", e.other_host + "/team/api:3", e.other_host, "")
    assert run.kinds(ns["expired"]) == ["pod-secret-unusable", "secret-expired"], run
    assert run.kinds(ns["expiring"]) == ["secret-expiring"], run
    assert run.kinds(ns["noref"]) == ["pod-not-referencing", "serviceaccount-lacks-secret"], run
    assert [p["object"] for p in run.by_namespace(ns["noref"]) if p["problem"].startswith("service")] == [
        "serviceaccount/default"]
    assert run.kinds(ns["predates"]) == ["pod-predates-serviceaccount"], run
    assert run.kinds(ns["healthy"]) == [], run
    # a permission it lacks is said per namespace, and is no failure of its own
    denied = run.by_namespace(forbidden_ns)
    assert {p["problem"] for p in denied} == {"not-checked"}, run
    assert {p["detail"] for p in denied} == {"not checked: missing `get secrets/ecr-creds`",
                                             "not checked: missing `list pods`"}
    # every line names its fix, and the guide has the anchor it points at
    anchors = guide_anchors()
    for p in run.problems:
        assert p["fix"] and p["docs"].startswith("docs/troubleshooting.md#"), p
        assert p["docs"].split("#", 1)[1] in anchors, p["docs"]
    # no registry-side problem: the stand-in gives a token and names the identity
    assert [p for p in run.problems if p["namespace"] == ""] == [], run
    identity = run.log("aws identity")
    assert identity and identity[0]["arn"] == "arn:aws:iam::%s:user/ecr-refresh" % e.stub.account_id
    assert identity[0]["credentials"] == "env"
    assert e.stub.calls("sts")[-1]["operation"] == "GetCallerIdentity"
    # read-only: the admin's objects are as they were
    assert c.get_secret_raw(ns["missing"], SECRET) is None
    assert c.get_secret_raw(ns["wrongtype"], SECRET)["type"] == "Opaque"


def test_healthy_namespace_reports_nothing(check_env):
    e = check_env
    ns = healthy_namespace(e)
    grant_check_rbac(e.cluster, [ns])
    run = e.run(["--namespaces", ns, "--service-accounts", "default"])
    assert run.code == 0, run
    assert run.stdout == ""
    line = run.log("namespace checked")[0]
    assert (line["namespace"], line["secret"], line["type"], line["managed_by"], line["registries"]) == (
        ns, "present", "kubernetes.io/dockerconfigjson", "ecr-refresh", e.host)
    assert line["expires_at"].endswith("Z") and line["problems"] == 0
    assert run.log("ecr token available")[0]["region"] == REGION
    assert run.log("check finished")[0]["problems"] == 0


def test_service_accounts_named_but_not_patched(check_env):
    e, c = check_env, check_env.cluster
    ns = healthy_namespace(e, "chk-sa")
    make_service_account(c, ns, "builder")
    grant_check_rbac(c, [ns])
    run = e.run(["--namespaces", ns, "--service-accounts", "default,builder,ghost"])
    assert run.code == 1, run
    assert sorted((p["object"], p["problem"]) for p in run.problems) == [
        ("serviceaccount/builder", "serviceaccount-lacks-secret"),
        ("serviceaccount/ghost", "serviceaccount-missing")], run


def test_text_format_prints_an_aligned_table(check_env):
    e, c = check_env, check_env.cluster
    ns = c.unique_namespace("chk-text")
    make_service_account(c, ns)
    make_pod(c, ns, "a-much-longer-pod-name", "quay.io/team/app:1", pull_secret=False)
    grant_check_rbac(c, [ns])
    run = e.run(["--namespaces", ns, "--log-format", "text"], text=True)
    assert run.code == 1, run
    rows = run.stdout.splitlines()
    assert rows[0].split() == ["NAMESPACE", "OBJECT", "PROBLEM", "DETAIL", "FIX"]
    starts = [rows[0].index(h) for h in ("OBJECT", "PROBLEM", "DETAIL")]
    for row in rows[1:]:
        for s in starts:
            assert row[s - 2:s] == "  " and row[s] != " ", (row, s)
    assert any("secret-missing" in r and "#secret-missing" in r for r in rows[1:]), rows
    assert any("pod/a-much-longer-pod-name" in r and "quay.io" in r for r in rows[1:]), rows
    assert "check finished" in run.stderr and "{" not in run.stderr.splitlines()[-1]


def test_through_kubectl_proxy_without_a_token(check_env, tmp_path):
    from test_k8s_e2e import _KubectlProxy
    e = check_env
    ns = healthy_namespace(e, "chk-proxy")
    empty = str(tmp_path / "no-sa")
    os.mkdir(empty)
    with _KubectlProxy(e.cluster) as proxy:
        run = e.run(["--namespaces", ns, "--api-server", proxy.url, "--serviceaccount-dir", empty], sa=None)
    assert run.code == 0, run
    assert proxy.seen and all(auth is None for _, _, auth in proxy.seen), proxy.seen
    assert {m for m, _, _ in proxy.seen} == {"GET"}


def test_no_cloud_credentials_is_exit_3(check_env):
    e = check_env
    ns = healthy_namespace(e, "chk-nocreds")
    grant_check_rbac(e.cluster, [ns])
    run = e.run(["--namespaces", ns], aws_keys=False, env_extra={"AWS_EC2_METADATA_DISABLED": "true"})
    assert run.code == 3, run
    assert [p["problem"] for p in run.problems] == ["aws-no-credentials"], run
    assert run.log("namespace checked"), "the cluster side is still checked"


def test_a_region_without_a_token_is_a_problem(check_env):
    e = check_env
    ns = healthy_namespace(e, "chk-deny")
    grant_check_rbac(e.cluster, [ns])
    e.stub.deny_regions.add(REGION)
    try:
        run = e.run(["--namespaces", ns])
    finally:
        e.stub.deny_regions.discard(REGION)
    assert run.code == 1, run
    (p,) = run.problems
    assert (p["namespace"], p["object"], p["problem"]) == ("", "registry/" + REGION, "registry-no-token")
    assert "AccessDeniedException" in p["detail"]


def test_unreachable_cluster_is_exit_4(check_env):
    run = check_env.run(["--namespaces", "x", "--api-server", "https://127.0.0.1:1", "--timeout", "2",
                         "--deadline", "10"])
    assert run.code == 4, run
    assert run.problems == []


def test_output_is_refused_with_check(check_env):
    run = check_env.run(["--namespaces", "x", "--output", "yaml"])
    assert run.code == 2, run
    assert "drop --output" in run.stderr


def test_without_registries_the_default_region_is_asked(check_env):
    e = check_env
    ns = healthy_namespace(e, "chk-default")
    grant_check_rbac(e.cluster, [ns])
    run = e.run(["--namespaces", ns], env_extra={"ECR_REGISTRIES": "", "AWS_REGION": "eu-west-1"})
    assert run.code == 0, run
    (line,) = run.log("ecr token available")
    assert (line["region"], line["registry"]) == ("eu-west-1", "https://" + e.stub.registry_host("eu-west-1"))
    assert run.log("aws identity")[0]["region"] == "eu-west-1"
