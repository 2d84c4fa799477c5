"""The manifests we ship (cronjob.yaml, deploy/kustomize/) against the real kube-apiserver
v1.20.2 of tests/standins/k8s_cluster.py, and against the RBAC the end-to-end tests run under.

- Every object is server-side applied with dryRun=All into namespaces created first (the
  apiserver validates it with defaults and admission, and persists nothing). The CronJob is
  batch/v1 (Kubernetes 1.21+), which v1.20 does not serve: it is checked as batch/v1beta1
  (the same schema there) and its jobTemplate as a batch/v1 Job, exactly what `kubectl
  create job --from=cronjob/ecr-refresh` makes of it. ttlSecondsAfterFinished is the one
  field v1.20 drops (alpha there). README.md says so.
- The RBAC rules equal identity_manifests() of tests/standins/k8s_cluster.py, which the end-to-end
  tests run the binary under: that equality is what makes "the e2e tests pass" mean "the
  product works under the shipped RBAC". No rule may delete secrets or use
  "*", and none may list or watch secrets but by the one name; the selector component adds
  `list` on namespaces and `list`/`watch` on the Secrets of that name, nothing else.
- deploy/watch is the base with a Deployment in place of the CronJob, reading the same
  ConfigMap, plus the watch ClusterRole.
- cronjob.yaml is checked as it is and with every optional setting enabled ("# " lines
  uncommented; "## " lines are prose): the commented YAML users enable must be valid too.
- Every kustomization (base, target-namespace, each overlay, the network-policy component)
  is rendered with `kubectl kustomize` ($KUBECTL, else kubectl on PATH) and checked: the
  base plus target-namespace in team-a and team-b is cronjob.yaml; static-keys has its key
  variables, also over a batch/v1beta1 base; selector is least privilege. They need
  kubectl 1.21 or later (kustomize v4+): with none, or Debian 12's kubectl 1.20, only the
  rendering tests are skipped, saying so.
- The Job's deadline covers its retries: activeDeadlineSeconds >= (backoffLimit + 1) x
  (RUN_DEADLINE + POD_START_S) + the Job controller's back-off between pods.
- Every rendered variable is one the binary reads (docs/reference.md), the image is the
  release of the VERSION file, never :latest.

Needs python3-yaml (apt-get install -y python3-yaml).
"""
import copy
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT
from k8s_cluster import RESOURCES, identity_manifests, object_path

try:
    import yaml
except ImportError:  # reported by the yaml fixture below, as a failure, not a skip
    yaml = None

CRONJOB_YAML = os.path.join(ROOT, "cronjob.yaml")
KUSTOMIZE = os.path.join(ROOT, "deploy", "kustomize")
BASE = os.path.join(KUSTOMIZE, "base")
TARGET_NAMESPACE = os.path.join(KUSTOMIZE, "target-namespace")
OVERLAYS = ("irsa", "pod-identity", "static-keys", "selector")
README = os.path.join(ROOT, "README.md")
REFERENCE = os.path.join(ROOT, "docs", "reference.md")

SA_NAME = "ecr-refresh"
SA_NAMESPACE = "ecr-refresh"
SECRET_NAME = "ecr-creds"
CONFIG_NAME = "ecr-refresh"
TARGETS = ["team-a", "team-b"]
ONE_SHOT = "kubectl create job --from=cronjob/ecr-refresh ecr-refresh-now -n ecr-refresh"
FIELD_MANAGER = "test-manifests"
RUN_DEADLINE_DEFAULT = 300          # docs/reference.md: --deadline default
IMAGE = "ghcr.io/ecr-refresh/ecr-refresh"
# Seconds a retry pod may take to be scheduled, pull the image and start, and the Job
# controller's back-off before retry pod n (10 s doubling, capped at 6 min: Kubernetes docs,
# "Pod backoff failure policy").
POD_START_S = 60
STATIC_KEY_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

KINDS_SHIPPED = {"Namespace", "ServiceAccount", "ConfigMap", "Role", "RoleBinding", "ClusterRole",
                 "ClusterRoleBinding", "CronJob", "NetworkPolicy",
                 "Deployment"}

# Fields kube-apiserver v1.20.2 drops without complaint: ttlSecondsAfterFinished is behind
# the TTLAfterFinished feature gate, alpha (off) in 1.20, beta (on) from 1.21.
DROPPED_BY_V1_20 = {("spec", "jobTemplate", "spec", "ttlSecondsAfterFinished"),
                    ("spec", "ttlSecondsAfterFinished")}


@pytest.fixture(scope="module", autouse=True)
def need_yaml():
    if yaml is None:
        pytest.fail("python3-yaml is not installed (apt-get install -y python3-yaml)", pytrace=False)


# ---- reading the manifests ------------------------------------------------------------

def read(path):
    with open(path) as f:
        return f.read()


def parse(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def uncommented(text):
    """Every optional setting enabled: "# x" becomes "x" at the same indentation, "## "
    prose stays a comment."""
    return re.sub(r"(?m)^(\s*)# (.*)$", r"\1\2", text)




def release():
    return read(os.path.join(ROOT, "VERSION")).strip()


def key(obj):
    return (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


def by_key(objects):
    out = {}
    for obj in objects:
        assert key(obj) not in out, "two objects %s" % (key(obj),)
        out[key(obj)] = obj
    return out


def only(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, "%d %s objects" % (len(found), kind)
    return found[0]


def pod_spec(cronjob):
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(workload):
    """The one container of a CronJob or (deploy/watch) a Deployment."""
    spec = workload["spec"]
    pod = pod_spec(workload) if workload["kind"] == "CronJob" else spec["template"]["spec"]
    containers = pod["containers"]
    assert len(containers) == 1
    return containers[0]


# ---- RBAC as data -----------------------------------------------------------------------

def canonical_rules(rules):
    """Rules as a sorted list of comparable tuples: same verbs, resources, resourceNames."""
    out = []
    for r in rules:
        assert set(r) <= {"apiGroups", "resources", "resourceNames", "verbs"}, r
        out.append((tuple(sorted(r.get("apiGroups", []))), tuple(sorted(r.get("resources", []))),
                    tuple(sorted(r.get("resourceNames", []))), tuple(sorted(r["verbs"]))))
    return sorted(out)


def identity(**kw):
    return identity_manifests(TARGETS, SECRET_NAME, SA_NAME, SA_NAMESPACE, **kw)


def identity_rules(kind, **kw):
    found = [o for o in identity(**kw) if o["kind"] == kind]
    return found[0]["rules"] if found else []


def assert_least_privilege(rules, where):
    for r in rules:
        verbs, resources, groups = set(r["verbs"]), set(r.get("resources", [])), set(r.get("apiGroups", []))
        assert "*" not in verbs | resources | groups | set(r.get("resourceNames", [])), (where, r)
        assert "delete" not in verbs and "deletecollection" not in verbs, (where, r)
        if "secrets" in resources:
            # listing Secrets only by the one name (the metadata-only read of them all)
            assert not verbs & {"list", "watch"} or r.get("resourceNames") == [SECRET_NAME], (where, r)
            assert groups == {""}, (where, r)
        assert not verbs & {"escalate", "bind", "impersonate"}, (where, r)


def all_rules(objects):
    return [(key(o), r) for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]


# ---- talking to the apiserver -------------------------------------------------------------

def dry_run_apply(cluster, obj):
    """Server-side apply with dryRun=All; returns the object the apiserver would store.
    Apply, not create: v1.20's apply refuses fields the schema does not declare, where a
    POST would drop them silently."""
    return cluster.patch(object_path(obj), obj, "apply", field_manager=FIELD_MANAGER, force=True, dry_run=True)


def missing_fields(sent, stored, path=()):
    """Paths of leaves in `sent` that `stored` does not hold with the same value."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        out = []
        for k, v in sent.items():
            if k not in stored:
                out.append(path + (k,))
            else:
                out += missing_fields(v, stored[k], path + (k,))
        return out
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(sent) != len(stored):
            return [path]
        out = []
        for i, (a, b) in enumerate(zip(sent, stored)):
            out += missing_fields(a, b, path + (i,))
        return out
    return [] if sent == stored else [path]


def as_job(cronjob):
    """The Job `kubectl create job --from=cronjob/NAME NAME` would make (batch/v1)."""
    template = cronjob["spec"]["jobTemplate"]
    meta = {"name": "ecr-refresh-now", "namespace": cronjob["metadata"]["namespace"]}
    if template.get("metadata", {}).get("labels"):
        meta["labels"] = dict(template["metadata"]["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(template["spec"])}


def check_against_apiserver(cluster, objects):
    """Dry-run applies every object; the namespaces they live in are created for real first
    (a namespaced dry run needs its namespace), the Namespace objects are dry-run too.
    Returns {key: stored object}."""
    kinds = {o["kind"] for o in objects}
    assert kinds <= KINDS_SHIPPED, kinds - KINDS_SHIPPED
    stored = {}
    # Cluster-scoped objects first, so a Namespace is dry-run before it exists (create path).
    for obj in [o for o in objects if not RESOURCES[o["kind"]][2]]:
        stored[key(obj)] = dry_run_apply(cluster, obj)
    for ns in sorted({o["metadata"]["namespace"] for o in objects if RESOURCES[o["kind"]][2]}):
        cluster.ensure_namespace(ns)
    for obj in [o for o in objects if o["kind"] == "Namespace"]:
        stored[key(obj) + ("existing",)] = dry_run_apply(cluster, obj)
    for obj in [o for o in objects if RESOURCES[o["kind"]][2]]:
        if obj["kind"] == "CronJob":
            assert obj["apiVersion"] == "batch/v1", "ship the GA CronJob API (Kubernetes >= 1.21)"
            old = copy.deepcopy(obj)
            old["apiVersion"] = "batch/v1beta1"
            result = dry_run_apply(cluster, old)
            job = as_job(obj)
            job_result = dry_run_apply(cluster, job)
            assert job_result["kind"] == "Job" and job_result["spec"]["template"]["spec"]["containers"]
            gaps = [p for p in missing_fields(job, job_result) if p not in DROPPED_BY_V1_20]
            assert gaps == [], "the apiserver dropped these Job fields: %s" % gaps
        else:
            result = dry_run_apply(cluster, obj)
        gaps = [p for p in missing_fields({k: v for k, v in obj.items() if k != "apiVersion"}, result)
                if p not in DROPPED_BY_V1_20]
        assert gaps == [], "the apiserver dropped these fields of %s: %s" % (key(obj), gaps)
        stored[key(obj)] = result
    # Nothing was written: a dry run. (ClusterRole "ecr-refresh" may exist: the e2e tests'
    # selector mode makes one of that name.)
    for obj in objects:
        if obj["kind"] in ("Role", "RoleBinding", "CronJob"):
            assert cluster.request("GET", object_path(obj)).status == 404, key(obj)
    return stored


# ---- kubectl kustomize --------------------------------------------------------------------

def kubectl():
    exe = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not exe:
        pytest.skip("no kubectl (KUBECTL=/path, or a kubectl >= 1.21 on PATH): "
                    "only rendering the kustomizations is skipped")
    out = subprocess.run([exe, "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"Kustomize Version: v(\d+)", out)
    if not m or int(m.group(1)) < 4:
        pytest.skip("%s embeds no kustomize v4+ (Debian 12's kubectl 1.20 has v2.0.3, which "
                    "cannot read resources/patches/components): only rendering the "
                    "kustomizations is skipped; KUBECTL=/path/to/kubectl-1.21+" % exe)
    return exe


def render(path):
    """`kubectl kustomize PATH` (a path under deploy/kustomize, or any directory)."""
    path = path if os.path.isabs(path) else os.path.join(KUSTOMIZE, path)
    proc = subprocess.run([kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, "kubectl kustomize %s failed:\n%s" % (path, proc.stderr)
    return parse(proc.stdout)


def in_namespace(objects, namespace):
    """What `kubectl apply -n NAMESPACE` makes of objects without a namespace."""
    out = copy.deepcopy(objects)
    for obj in out:
        assert "namespace" not in obj["metadata"], key(obj)
        obj["metadata"]["namespace"] = namespace
    return out


def render_targets(namespaces=TARGETS):
    return [o for ns in namespaces for o in in_namespace(render("target-namespace"), ns)]


def copy_tree(tmp_path, edit=None):
    """deploy/kustomize copied under tmp_path, each file passed through edit(relpath, text)."""
    dest = os.path.join(str(tmp_path), "kustomize")
    shutil.copytree(KUSTOMIZE, dest)
    for dirpath, _, files in os.walk(dest):
        for name in files:
            path = os.path.join(dirpath, name)
            if edit:
                with open(path) as f:
                    text = edit(os.path.relpath(path, dest), f.read())
                with open(path, "w") as f:
                    f.write(text)
    return dest


# ---- the checks ---------------------------------------------------------------------------

def config_of(objects):
    """The tool's environment as the pod sees it: the ConfigMap's data (envFrom) overlaid by
    the container's env, of the CronJob or the watch Deployment. {NAME: value string, or the
    env entry's valueFrom}."""
    (workload,) = [o for o in objects if o["kind"] in ("CronJob", "Deployment")]
    c = container(workload)
    assert c["envFrom"] == [{"configMapRef": {"name": CONFIG_NAME}}]
    maps = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIG_NAME]
    assert len(maps) == 1 and maps[0]["metadata"]["namespace"] == SA_NAMESPACE
    out = dict(maps[0].get("data") or {})
    for e in c.get("env", []):
        out[e["name"]] = e["value"] if "value" in e else e["valueFrom"]
    return out


def run_deadline(config):
    return int(config.get("RUN_DEADLINE") or RUN_DEADLINE_DEFAULT)


def job_backoff_s(retries):
    return sum(min(10 * 2 ** i, 360) for i in range(retries))


def duration_s(text):
    """A duration as REFRESH_BEFORE takes it (docs/reference.md): 90m, 6h, 1h30m, 45s."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert m and text, text
    h, mi, sec = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + sec


def check_deadlines(cronjob, config):
    """Every pod the Job may start gets its whole run: the Job's deadline is at least
    (backoffLimit + 1) x (RUN_DEADLINE + POD_START_S) plus the back-off between pods."""
    job = cronjob["spec"]["jobTemplate"]["spec"]
    retries = job["backoffLimit"]
    need = (retries + 1) * (run_deadline(config) + POD_START_S) + job_backoff_s(retries)
    assert job["activeDeadlineSeconds"] >= need, (
        "activeDeadlineSeconds %d < %d: (backoffLimit %d + 1) x (RUN_DEADLINE %d + %d) + back-off %d"
        % (job["activeDeadlineSeconds"], need, retries, run_deadline(config), POD_START_S, job_backoff_s(retries)))
    # A failing Job holds off the next runs (Forbid) for at most its deadline plus the
    # starting deadline and one schedule period: far less than REFRESH_BEFORE, so a token
    # is still rewritten hours before it expires (docs/security.md, "Token margin").
    worst_delay = job["activeDeadlineSeconds"] + cronjob["spec"]["startingDeadlineSeconds"] + 600
    assert worst_delay * 4 <= duration_s(config.get("REFRESH_BEFORE", "6h")), worst_delay


def check_cronjob(cronjob):
    """Schedule, job limits, image and the pod hardening the docs promise."""
    spec = cronjob["spec"]
    assert cronjob["apiVersion"] == "batch/v1"
    assert cronjob["metadata"]["namespace"] == SA_NAMESPACE
    # every 10 minutes, writing only what needs it (REFRESH_BEFORE: check_config)
    assert spec["schedule"] == "*/10 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 600
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 0
    assert job["ttlSecondsAfterFinished"] > 0

    pod = pod_spec(cronjob)
    assert pod["serviceAccountName"] == SA_NAME
    assert pod["automountServiceAccountToken"] is True
    assert pod["restartPolicy"] == "Never"     # a failed run is a failed pod: the Job counts it
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden), forbidden
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 65532 and psc["runAsGroup"] == 65532
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "ecr-refresh"}     # what the NetworkPolicy selects

    c = container(cronjob)
    assert c["image"] == "%s:%s" % (IMAGE, release()), "the image is the release of VERSION"
    assert c["imagePullPolicy"] == "IfNotPresent"
    csc = c["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert not csc.get("privileged")
    assert "runAsUser" not in csc or csc["runAsUser"] == 65532
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}, kind
    assert "command" not in c and "args" not in c      # the image's entrypoint, configured by env
    for e in c.get("env", []):
        # Secrets never inline: keys come from a Secret.
        assert "valueFrom" in e and "secretKeyRef" in e["valueFrom"], e["name"]


def check_config(objects, targets=TARGETS):
    config = config_of(objects)
    assert config["SECRET_NAME"] == SECRET_NAME
    # the 10-minute schedule writes only what needs it (docs/reference.md "--refresh-before")
    assert config["REFRESH_BEFORE"] == "6h"
    assert sorted(filter(None, config["TARGET_NAMESPACES"].split(","))) == sorted(targets)
    # README.md's example: two accounts, two regions (its IAM policy matches them).
    registries = config["ECR_REGISTRIES"].split(",")
    assert len({r.split(".")[0] for r in registries}) == 2 and len({r.split(".")[3] for r in registries}) == 2
    for name in STATIC_KEY_VARIABLES | {"AWS_SESSION_TOKEN"}:
        assert not isinstance(config.get(name, {}), str), "%s inline: it must come from a Secret" % name
    check_deadlines(only(objects, "CronJob"), config)
    return config


def documented_variables():
    """Every ALL_CAPS `NAME` docs/reference.md names (tests/test_reference.py holds that to
    the variables the code reads)."""
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})", read(REFERENCE)))


def check_env_names(objects):
    unknown = set(config_of(objects)) - documented_variables()
    assert unknown == set(), "variables the tool does not read: %s" % sorted(unknown)


def check_rbac(objects, service_accounts=False, selector=False, targets=TARGETS):
    """Roles equal identity_manifests(); the selector ClusterRole equals what
    identity_manifests(selector_mode=True) binds cluster-wide (`list` on namespaces, `list`/
    `watch` on the Secrets of the one name) and nothing more; bindings name the
    ServiceAccount; no forbidden verb anywhere."""
    for where, rule in all_rules(objects):
        assert_least_privilege([rule], where)
    subject = {"kind": "ServiceAccount", "name": SA_NAME, "namespace": SA_NAMESPACE}

    want_role = identity_rules("Role", service_accounts=service_accounts)
    roles = [o for o in objects if o["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(targets)
    for role in roles:
        assert role["metadata"]["name"] == SA_NAME
        assert canonical_rules(role["rules"]) == canonical_rules(want_role), role["metadata"]["namespace"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(targets)
    for b in bindings:
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA_NAME}
        assert b["subjects"] == [subject]

    cluster_roles = [o for o in objects if o["kind"] == "ClusterRole"]
    cluster_bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    if not selector:
        assert cluster_roles == [] and cluster_bindings == []
        return
    (cr,), (crb,) = cluster_roles, cluster_bindings
    assert canonical_rules(cr["rules"]) == canonical_rules(identity_rules("ClusterRole", selector_mode=True))
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": cr["metadata"]["name"]}
    assert crb["subjects"] == [subject]


def check_installation(objects, selector=False, service_accounts=False, targets=TARGETS):
    """An installation: the ServiceAccount in its namespace, the CronJob, its ConfigMap, the
    RBAC."""
    sa = only(objects, "ServiceAccount")
    assert (sa["metadata"]["name"], sa["metadata"]["namespace"]) == (SA_NAME, SA_NAMESPACE)
    assert only(objects, "Namespace")["metadata"]["name"] == SA_NAMESPACE
    check_cronjob(only(objects, "CronJob"))
    check_env_names(objects)
    check_rbac(objects, service_accounts=service_accounts, selector=selector, targets=targets)


# ---- tests: cronjob.yaml ----------------------------------------------------------------

def test_cronjob_yaml_objects_and_hardening():
    objects = parse(read(CRONJOB_YAML))
    assert [o["kind"] for o in objects] == ["Namespace", "ServiceAccount", "ConfigMap", "Role", "RoleBinding",
                                            "Role", "RoleBinding", "CronJob"]
    check_installation(objects)
    config = check_config(objects)
    assert not {"PATCH_SERVICE_ACCOUNTS", "NAMESPACE_SELECTOR", "AWS_ACCESS_KEY_ID"} & set(config)
    assert "annotations" not in only(objects, "ServiceAccount")["metadata"]
    assert ONE_SHOT in read(CRONJOB_YAML)


def test_cronjob_yaml_rbac_names_the_secret_it_writes():
    objects = parse(read(CRONJOB_YAML))
    for role in (o for o in objects if o["kind"] == "Role"):
        named = [r for r in role["rules"] if r.get("resourceNames")]
        assert [n for r in named for n in r["resourceNames"]] == [config_of(objects)["SECRET_NAME"]]


def test_cronjob_yaml_with_every_option_enabled():
    text = read(CRONJOB_YAML)
    objects = parse(uncommented(text))
    config = config_of(objects)
    sas = config["PATCH_SERVICE_ACCOUNTS"].split(",")
    check_installation(objects, selector=True, service_accounts=sas)
    check_config(objects)
    sa = only(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    for name in STATIC_KEY_VARIABLES:
        assert config[name] == {"secretKeyRef": {"name": "aws-ecr-reader", "key": name}}
    # Proxies: the API server and the metadata addresses bypass the proxy.
    no_proxy = config["NO_PROXY"].split(",")
    assert {".svc", "169.254.169.254", "169.254.170.23"} <= set(no_proxy)
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", n) for n in no_proxy if not n.startswith("169.254."))
    # The CA bundle is a file of a mounted ConfigMap.
    cronjob = only(objects, "CronJob")
    mounts = {m["name"]: m for m in container(cronjob)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(cronjob)["volumes"]}
    (name,) = [n for n in mounts if config["AWS_CA_BUNDLE"].startswith(mounts[n]["mountPath"] + "/")]
    assert "configMap" in volumes[name] and mounts[name]["readOnly"] is True
    # Every "# " line became YAML: nothing optional is left behind as a comment.
    leftover = [l for l in uncommented(text).splitlines() if re.match(r"\s*#(?!#)", l)]
    assert leftover == [], leftover


def test_cronjob_yaml_dry_run(k8s_cluster):
    objects = parse(read(CRONJOB_YAML))
    stored = check_against_apiserver(k8s_cluster, objects)
    job = stored[("CronJob", SA_NAMESPACE, "ecr-refresh")]
    assert job["apiVersion"] == "batch/v1beta1" and job["spec"]["schedule"] == "*/10 * * * *"


def test_cronjob_yaml_with_every_option_enabled_dry_run(k8s_cluster):
    check_against_apiserver(k8s_cluster, parse(uncommented(read(CRONJOB_YAML))))


def test_server_side_apply_refuses_unknown_fields(k8s_cluster):
    """The dry runs above would catch a misspelt field: v1.20's apply refuses it."""
    objects = parse(read(CRONJOB_YAML))
    job = as_job(only(objects, "CronJob"))
    job["spec"]["template"]["spec"]["securityContext"]["runAsNonRot"] = True
    k8s_cluster.ensure_namespace(SA_NAMESPACE)
    r = k8s_cluster.request("PATCH", object_path(job), job, content_type="application/apply-patch+yaml",
                            query={"fieldManager": FIELD_MANAGER, "dryRun": "All"})
    assert r.status >= 400 and "runAsNonRot" in r.body.decode(), (r.status, r.body[:300])


def test_job_deadline_arithmetic_catches_a_short_deadline():
    """check_deadlines fails where the numbers do not fit: the numbers the CronJob had."""
    cronjob = only(parse(read(CRONJOB_YAML)), "CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    job["activeDeadlineSeconds"], job["backoffLimit"] = 600, 2
    with pytest.raises(AssertionError, match="activeDeadlineSeconds 600 < 1110"):
        check_deadlines(cronjob, {})
    # A longer RUN_DEADLINE in the ConfigMap needs a longer Job deadline too.
    job["activeDeadlineSeconds"] = 1200
    check_deadlines(cronjob, {})
    with pytest.raises(AssertionError):
        check_deadlines(cronjob, {"RUN_DEADLINE": "600"})


def test_image_is_the_release_everywhere():
    """No manifest or document pulls :latest: every tagged image reference names the release
    (an untagged one is a name, as in an `images:` entry)."""
    for root, _, files in os.walk(ROOT):
        if os.path.relpath(root, ROOT).split(os.sep)[0] in ("build", ".git"):
            continue
        for name in files:
            if not name.endswith((".yaml", ".md")):
                continue
            text = read(os.path.join(root, name))
            for ref in re.findall(re.escape(IMAGE) + r"(:[\w.-]+)?(@sha256:[0-9a-f.]+)?", text):
                assert ref[0] in ("", ":" + release()), (name, ref)


# ---- tests: the kustomize base and overlays -------------------------------------------------

def test_base_and_target_namespaces_are_cronjob_yaml():
    assert by_key(render("base") + render_targets()) == by_key(parse(read(CRONJOB_YAML)))
    kustomization = yaml.safe_load(read(os.path.join(BASE, "kustomization.yaml")))
    assert "namespace" not in kustomization, "a namespace: would move the overlays' Roles"


def test_base_with_every_option_enabled_is_cronjob_yaml_with_them(tmp_path):
    """The optional settings of the base (kustomization.yaml, cronjob.yaml) are those of
    cronjob.yaml, but for what the overlays and components add (keys, IRSA, selector)."""
    tree = copy_tree(tmp_path, lambda rel, text: uncommented(text) if rel.startswith("base") else text)
    base = render(os.path.join(tree, "base"))
    full = parse(uncommented(read(CRONJOB_YAML)))
    added_elsewhere = STATIC_KEY_VARIABLES | {"AWS_REGION", "NAMESPACE_SELECTOR"}
    want = {k: v for k, v in config_of(full).items() if k not in added_elsewhere}
    assert config_of(base) == want
    assert pod_spec(only(base, "CronJob"))["volumes"] == pod_spec(only(full, "CronJob"))["volumes"]
    assert container(only(base, "CronJob"))["volumeMounts"] == container(only(full, "CronJob"))["volumeMounts"]


def test_base_uncommented_dry_run(k8s_cluster, tmp_path):
    tree = copy_tree(tmp_path, lambda rel, text: uncommented(text) if rel.startswith("base") else text)
    objects = render(os.path.join(tree, "base"))
    check_cronjob(only(objects, "CronJob"))
    check_env_names(objects)
    check_against_apiserver(k8s_cluster, objects)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_dry_runs(k8s_cluster, overlay):
    objects = render(os.path.join("overlays", overlay))
    base = by_key(render("base"))
    got = by_key(objects)
    selector = overlay == "selector"
    check_installation(objects, selector=selector, targets=[])
    config = check_config(objects, targets=[] if selector else TARGETS)
    base_config = config_of(list(base.values()))
    sa = only(objects, "ServiceAccount")
    if overlay in ("irsa", "selector"):
        assert sa["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/ecr-refresh"}
    else:
        assert "annotations" not in sa["metadata"]
    added = {n: v for n, v in config.items() if base_config.get(n) != v}
    if overlay == "static-keys":
        assert set(added) == STATIC_KEY_VARIABLES | {"AWS_REGION"}
        for name in STATIC_KEY_VARIABLES:
            assert added[name] == {"secretKeyRef": {"name": "aws-ecr-reader", "key": name}}
        assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", added["AWS_REGION"])
    elif selector:
        assert added == {"NAMESPACE_SELECTOR": "ecr-refresh.io/pull-secret=true", "TARGET_NAMESPACES": ""}
    else:
        assert added == {}
    # Apart from those, the overlay is the base.
    assert set(got) - set(base) == ({k for k in got if k[0] in ("ClusterRole", "ClusterRoleBinding")}
                                    if selector else set())
    assert set(base) <= set(got)
    for k, obj in base.items():
        if obj["kind"] not in ("ServiceAccount", "CronJob", "ConfigMap"):
            assert got[k] == obj, k
    check_against_apiserver(k8s_cluster, objects)


def test_static_keys_overlay_survives_an_old_cronjob_api(tmp_path):
    """The 1.20 way (batch/v1beta1 in the base) must not lose the keys silently: the patch
    finds the CronJob by kind and name."""
    tree = copy_tree(tmp_path, lambda rel, text: text.replace("apiVersion: batch/v1\n", "apiVersion: batch/v1beta1\n")
                     if rel == os.path.join("base", "cronjob.yaml") else text)
    objects = render(os.path.join(tree, "overlays", "static-keys"))
    cronjob = only(objects, "CronJob")
    assert cronjob["apiVersion"] == "batch/v1beta1"
    assert {e["name"] for e in container(cronjob)["env"]} == STATIC_KEY_VARIABLES


def test_target_namespace_renders_the_e2e_roles():
    objects = render("target-namespace")
    assert sorted(o["kind"] for o in objects) == ["Role", "RoleBinding"]
    check_rbac(render_targets(), targets=TARGETS)
    # With every option: the serviceaccounts rule of PATCH_SERVICE_ACCOUNTS=default.
    role = only(parse(uncommented(read(os.path.join(TARGET_NAMESPACE, "rbac.yaml")))), "Role")
    assert canonical_rules(role["rules"]) == canonical_rules(identity_rules("Role", service_accounts=["default"]))


def test_network_policy_component(k8s_cluster, tmp_path):
    """components/network-policy in an overlay of one's own: only egress to DNS, 443 and the
    Pod Identity agent, no ingress, selecting the CronJob's pods."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text(
        "resources: [%s]\ncomponents: [%s]\n" % (os.path.relpath(os.path.join(KUSTOMIZE, "overlays", "irsa"), mine),
                                                os.path.relpath(os.path.join(KUSTOMIZE, "components",
                                                                             "network-policy"), mine)))
    objects = render(str(mine))
    policy = only(objects, "NetworkPolicy")
    cronjob = only(objects, "CronJob")
    spec = policy["spec"]
    assert policy["metadata"]["namespace"] == SA_NAMESPACE
    assert spec["podSelector"]["matchLabels"].items() <= \
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"] and not spec.get("ingress")
    ports = sorted((p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"])
    assert ports == [("TCP", 53), ("TCP", 80), ("TCP", 443), ("UDP", 53)]
    (agent,) = [r for r in spec["egress"] if any(p["port"] == 80 for p in r["ports"])]
    assert agent["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]     # not IMDS
    check_against_apiserver(k8s_cluster, objects)


# ---- tests: the watch Deployment (deploy/watch/) ---------------------------------------------

WATCH = os.path.join(ROOT, "deploy", "watch")


def test_watch_overlay_renders_and_dry_runs(k8s_cluster):
    """deploy/watch is the CronJob's base with a one-replica Deployment running --watch in
    place of the CronJob, reading the same ConfigMap, the same pod hardening, the exec
    liveness probe on an emptyDir /tmp, and the watch ClusterRole: list and watch of our
    Secret by name, of namespaces. The Roles come from target-namespace, as for the CronJob."""
    objects = render(WATCH)
    base = by_key(render(BASE))
    got = by_key(objects)
    assert set(got) - set(base) == {("Deployment", SA_NAMESPACE, "ecr-refresh"),
                                    ("ClusterRole", None, "ecr-refresh-watch"),
                                    ("ClusterRoleBinding", None, "ecr-refresh-watch")}
    assert set(base) - set(got) == {("CronJob", SA_NAMESPACE, "ecr-refresh")}
    deployment = only(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    cronjob_pod = pod_spec(base[("CronJob", SA_NAMESPACE, "ecr-refresh")])
    for field in ("serviceAccountName", "automountServiceAccountToken", "securityContext", "nodeSelector",
                  "enableServiceLinks"):
        assert pod[field] == cronjob_pod[field], field
    (c,) = pod["containers"]
    (cronjob_c,) = cronjob_pod["containers"]
    assert c["securityContext"] == cronjob_c["securityContext"]
    assert c["resources"] == cronjob_c["resources"]
    assert c["image"] == cronjob_c["image"] == "%s:%s" % (IMAGE, release())
    assert c["envFrom"] == cronjob_c["envFrom"] == [{"configMapRef": {"name": CONFIG_NAME}}]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert set(env) == {"WATCH", "LIVENESS_FILE"} and env["WATCH"] == "true"
    assert config_of(objects)["REFRESH_BEFORE"] == "6h"
    check_env_names(objects)
    probe = c["livenessProbe"]["exec"]["command"]
    assert probe == ["/ecr-refresh", "--liveness-probe", env["LIVENESS_FILE"]]
    (mount,) = c["volumeMounts"]
    assert env["LIVENESS_FILE"].startswith(mount["mountPath"] + "/")
    assert [v["name"] for v in pod["volumes"] if "emptyDir" in v] == [mount["name"]]
    watch_role = got[("ClusterRole", None, "ecr-refresh-watch")]
    assert canonical_rules(watch_role["rules"]) == canonical_rules([
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [SECRET_NAME], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}])
    check_against_apiserver(k8s_cluster, objects)


# ---- tests: the shipped RBAC in force -------------------------------------------------------

def _can(cluster, sa_ns, ns, verb, resource, name=None, group=""):
    attrs = {"namespace": ns, "verb": verb, "resource": resource, "version": "v1", "group": group}
    if ns is None:
        del attrs["namespace"]
    if name:
        attrs["name"] = name
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "system:serviceaccount:%s:%s" % (sa_ns, SA_NAME),
                       "groups": ["system:serviceaccounts", "system:serviceaccounts:" + sa_ns,
                                  "system:authenticated"],
                       "resourceAttributes": attrs}}
    r = cluster.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    return r["status"].get("allowed", False)


def test_shipped_rbac_grants_exactly_what_the_tool_needs(k8s_cluster):
    """cronjob.yaml's Roles with every option enabled, applied for real into fresh
    namespaces, and its selector ClusterRole under a fresh name, asked through
    SubjectAccessReview what the ServiceAccount may do."""
    c = k8s_cluster
    sa_ns = c.unique_namespace("manifests-sa")
    targets = [c.unique_namespace("manifests-t"), c.unique_namespace("manifests-t")]
    other = c.unique_namespace("manifests-other")
    cluster_name = c.unique_name("manifests-cr")
    objects = parse(uncommented(read(CRONJOB_YAML)))
    roles = [o for o in objects if o["kind"] in ("Role", "RoleBinding")]
    applied = []
    try:
        for obj, ns in zip(roles, [targets[0], targets[0], targets[1], targets[1]]):
            obj = copy.deepcopy(obj)
            obj["metadata"]["namespace"] = ns
            for s in obj.get("subjects", []):
                s["namespace"] = sa_ns
            c.apply(obj, field_manager=FIELD_MANAGER)
        for kind in ("ClusterRole", "ClusterRoleBinding"):
            obj = copy.deepcopy(only(objects, kind))
            obj["metadata"]["name"] = cluster_name
            if kind == "ClusterRoleBinding":
                obj["roleRef"]["name"] = cluster_name
                obj["subjects"][0]["namespace"] = sa_ns
            applied.append(obj)
        for ns in targets:
            assert _can(c, sa_ns, ns, "create", "secrets")
            assert _can(c, sa_ns, ns, "get", "secrets", SECRET_NAME)
            assert _can(c, sa_ns, ns, "patch", "secrets", SECRET_NAME)
            assert _can(c, sa_ns, ns, "get", "serviceaccounts", "default")
            assert _can(c, sa_ns, ns, "update", "serviceaccounts", "default")
            assert not _can(c, sa_ns, ns, "get", "secrets", "someone-elses")
            assert not _can(c, sa_ns, ns, "patch", "secrets", "someone-elses")
            assert not _can(c, sa_ns, ns, "update", "secrets", SECRET_NAME)
            assert not _can(c, sa_ns, ns, "update", "serviceaccounts", "builder")
            assert _can(c, sa_ns, ns, "create", "events", group="events.k8s.io")
            assert not _can(c, sa_ns, ns, "patch", "events", group="events.k8s.io")
            for verb in ("list", "watch", "delete", "deletecollection"):
                assert not _can(c, sa_ns, ns, verb, "secrets"), verb
                assert not _can(c, sa_ns, ns, verb, "secrets", SECRET_NAME), verb
            assert not _can(c, sa_ns, ns, "delete", "secrets", SECRET_NAME)
        assert not _can(c, sa_ns, other, "create", "secrets")
        assert not _can(c, sa_ns, None, "list", "namespaces")

        # Selector mode: listing namespaces, and still nothing outside the targets' Roles.
        for obj in applied:
            c.apply(obj, field_manager=FIELD_MANAGER)
        assert _can(c, sa_ns, None, "list", "namespaces")
        for verb in ("list", "watch"):
            assert _can(c, sa_ns, None, verb, "secrets", SECRET_NAME), verb
            assert not _can(c, sa_ns, None, verb, "secrets", "someone-elses"), verb
            assert not _can(c, sa_ns, None, verb, "secrets"), verb
        assert not _can(c, sa_ns, None, "watch", "namespaces")
        assert not _can(c, sa_ns, None, "get", "namespaces", other)
        for verb, name in (("create", None), ("patch", SECRET_NAME), ("get", SECRET_NAME), ("list", None)):
            assert not _can(c, sa_ns, other, verb, "secrets", name), verb
    finally:
        for obj in reversed(applied):
            c.delete(object_path(obj))


def test_kubectl_apply_target_namespace_adds_a_namespace(k8s_cluster, tmp_path):
    """The README's one step for a namespace added later, run as written with kubectl
    against the apiserver: `kubectl apply -n NS -k deploy/kustomize/target-namespace`."""
    exe = kubectl()
    c = k8s_cluster
    ns = c.unique_namespace("manifests-later")
    proc = subprocess.run([exe, "--server", c.url, "--certificate-authority", c.ca_path,
                           "--token", str(c.admin_token), "apply", "-n", ns, "-k", TARGET_NAMESPACE],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr.replace(str(c.admin_token), "[admin token]")
    assert _can(c, SA_NAMESPACE, ns, "patch", "secrets", SECRET_NAME)
    assert _can(c, SA_NAMESPACE, ns, "create", "secrets")
    assert not _can(c, SA_NAMESPACE, ns, "get", "secrets", "someone-elses")


def test_e2e_tests_run_under_identity_manifests_only():
    """tests/e2e/test_k8s_e2e.py gets its RBAC from setup_identity() (identity_manifests()) and
    nowhere else, so the equality checked above covers what it ran under."""
    source = read(os.path.join(ROOT, "tests", "e2e", "test_k8s_e2e.py"))
    assert "setup_identity(" in source
    for marker in ("rbac.authorization.k8s.io", '"Role"', '"ClusterRole"', "rolebindings", "clusterroles"):
        assert marker not in source, marker


def test_readme_and_docs_name_the_one_shot_and_link_the_docs():
    readme = read(README)
    assert ONE_SHOT in readme
    for doc in ("docs/air-gapped.md", "docs/troubleshooting.md", "docs/security.md", "docs/reference.md",
                "docs/design.md"):
        assert doc in readme, doc
        assert os.path.isfile(os.path.join(ROOT, doc)), doc


def test_every_kustomization_lists_only_files_that_exist_and_every_file_is_listed():
    """No kustomization points at a file it does not ship, and no manifest file lies unused."""
    for dirpath, _, files in os.walk(KUSTOMIZE):
        if "kustomization.yaml" not in files:
            continue
        k = yaml.safe_load(read(os.path.join(dirpath, "kustomization.yaml")))
        listed = set()
        for field in ("resources", "components"):
            listed |= {p for p in k.get(field, []) if "/" not in p or p.startswith(".")}
        listed |= {p["path"] for p in k.get("patches", []) if "path" in p}
        for p in listed:
            assert os.path.exists(os.path.join(dirpath, p)), (dirpath, p)
        own = {f for f in files if f.endswith(".yaml") and f != "kustomization.yaml"}
        assert own <= listed, (dirpath, own - listed)


def readme_block(after):
    """The indented lines of README.md from the line `after` to the next blank line."""
    lines = read(README).splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == after)
    block = []
    for line in lines[start:]:
        if not line.strip() or not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).rstrip() + "\n"


def test_readme_own_overlay_renders_as_described(tmp_path):
    """README.md, "Your settings, without forking": the overlay as written (its remote base
    swapped for this checkout's) changes the settings, the role and the image, and keeps
    the rest of the base."""
    text = readme_block("# my-ecr-refresh/kustomization.yaml")
    remote = re.search(r"- (https://github.com/\S+//deploy/kustomize/(\S+)\?ref=v(\S+))", text)
    assert remote and remote.group(3) == release(), "the README's overlay names the release"
    mine = tmp_path / "my-ecr-refresh"
    mine.mkdir()
    local = os.path.relpath(os.path.join(KUSTOMIZE, remote.group(2)), str(mine))
    (mine / "kustomization.yaml").write_text(text.replace(remote.group(1), local))
    objects = render(str(mine))
    config = config_of(objects)
    literals = dict(l.split("=", 1) for l in re.findall(r"^\s+- ([A-Z_]+=\S*)$", text, re.M))
    assert {k: config[k] for k in literals} == literals
    assert config["SECRET_NAME"] == SECRET_NAME                 # merged, not replaced
    arn = re.search(r"value: (arn:aws:iam::\S+)", text).group(1)
    assert only(objects, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn
    assert container(only(objects, "CronJob"))["image"].startswith(IMAGE + "@sha256:")


def test_readme_forced_takeover_sets_force_on_the_job(tmp_path):
    """README.md, "Migrating from k8s-ecr-login-renew": the `kubectl set env --local` step of
    the one forced run puts FORCE_CONFLICTS=true into the Job made from the CronJob."""
    exe = kubectl()
    step = re.search(r"kubectl set env --local -f - (\S+) -o yaml", read(README))
    assert step, "the README's forced run"
    job = as_job(only(parse(read(CRONJOB_YAML)), "CronJob"))
    proc = subprocess.run([exe, "set", "env", "--local", "-f", "-", step.group(1), "-o", "yaml"],
                          input=yaml.safe_dump(job), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    forced = yaml.safe_load(proc.stdout)
    env = {e["name"]: e.get("value") for e in forced["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"FORCE_CONFLICTS": "true"}
    assert forced["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": CONFIG_NAME}}]


def _pending_pod(cluster, ns, name):
    """A pod as the Job controller names and labels it, Pending (the test apiserver runs no
    controllers and no kubelet: the test writes its status as a kubelet would)."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": {"job-name": "ecr-refresh-now"}},
           "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                    "containers": [{"name": "ecr-refresh", "image": "%s:%s" % (IMAGE, release())}]}}
    cluster.create("/api/v1/namespaces/%s/pods" % ns, pod)


@pytest.mark.parametrize("phase,code", [("Failed", 3), ("Succeeded", 0)])
def test_readme_one_shot_returns_the_first_pods_exit_code(k8s_cluster, tmp_path, phase, code):
    """README.md, "One-shot run", run as written by bash with kubectl against the apiserver:
    it stops when the pod has ended, whichever way, and prints and returns its exit code.
    The steps that need a Job controller or a kubelet (create job, logs, delete job) are
    stubbed, and the pod's end is written as the kubelet would write it, 2 s after start."""
    exe = kubectl()
    c = k8s_cluster
    ns = c.unique_namespace("manifests-oneshot")
    c.ensure_namespace(ns)
    c.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}})
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "kubectl").write_text(
        "#!/bin/sh\n"
        "case \" $* \" in *' create job '*|*' logs '*|*' delete job '*) echo \"(stubbed: kubectl $*)\"; exit 0;; esac\n"
        "exec %s --server %s --certificate-authority %s --token \"$(cat %s)\" \"$@\"\n"
        % (exe, c.url, c.ca_path, tmp_path / "token"))
    (tmp_path / "token").write_text(str(c.admin_token))
    os.chmod(shim / "kubectl", 0o755)
    script = readme_block("kubectl create job --from=cronjob/ecr-refresh ecr-refresh-now -n ecr-refresh")
    script = script.replace("-n ecr-refresh", "-n " + ns)
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "%s:/usr/bin:/bin" % shim, "HOME": str(tmp_path)})   # kubectl's cache
    try:
        _pending_pod(c, ns, "ecr-refresh-now-x1")
        time.sleep(2)
        pod = c.get("/api/v1/namespaces/%s/pods/ecr-refresh-now-x1" % ns)
        pod["status"] = {"phase": phase, "containerStatuses": [{
            "name": "ecr-refresh", "image": pod["spec"]["containers"][0]["image"], "imageID": "", "ready": False,
            "restartCount": 0, "state": {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed"}}}]}
        c.replace("/api/v1/namespaces/%s/pods/ecr-refresh-now-x1/status" % ns, pod)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == (0 if code == 0 else 1), (out, err.replace(str(c.admin_token), "[token]"))
    assert out.splitlines()[-1] == "exit %d" % code, out
