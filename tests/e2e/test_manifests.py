"""The manifests we ship (cronjob.yaml, deploy/kustomize/) against the real kube-apiserver
v1.20.2 of tests/standins/k8s_cluster.py, and against the RBAC the end-to-end tests run under.

- Every object is server-side applied with dryRun=All (the apiserver validates it with
  defaults and admission, and persists nothing). v1.20 serves CronJob only as
  batch/v1beta1, so the CronJob is checked that way, and its jobTemplate as a batch/v1 Job:
  exactly what `kubectl create job --from=cronjob/ecr-refresh` makes of it.
- The RBAC rules equal identity_manifests() of tests/standins/k8s_cluster.py, which
  tests/e2e/test_k8s_e2e.py runs the binary under: that equality is what makes "the e2e tests
  pass" mean "the product works under the shipped RBAC". No rule may delete, list or watch
  secrets, or use "*".
- cronjob.yaml is checked as it is and with every optional setting enabled ("# " lines
  uncommented; "## " lines are prose): the commented YAML users enable must be valid too.
- The kustomize base holds the same objects as cronjob.yaml; each overlay is rendered with
  `kubectl kustomize` ($KUBECTL, else kubectl on PATH: Debian's kubernetes-client, kubectl
  1.20 with kustomize v2; newer ones render the same) and dry-run applied. Without kubectl
  only the rendering tests are skipped, saying so.

Needs python3-yaml (apt-get install -y python3-yaml).
"""
import copy
import os
import re
import shutil
import subprocess

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
OVERLAYS = ("irsa", "pod-identity", "static-keys")
README = os.path.join(ROOT, "README.md")
REFERENCE = os.path.join(ROOT, "docs", "reference.md")

SA_NAME = "ecr-refresh"
SA_NAMESPACE = "ecr-refresh"
SECRET_NAME = "ecr-creds"
TARGETS = ["team-a", "team-b"]
ONE_SHOT = "kubectl create job --from=cronjob/ecr-refresh ecr-refresh-now -n ecr-refresh"
FIELD_MANAGER = "test-manifests"
RUN_DEADLINE_DEFAULT = 300          # docs/reference.md: --deadline default

KINDS_SHIPPED = {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                 "ClusterRoleBinding", "CronJob", "Deployment"}

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


def load_base(files=None):
    """The objects of the kustomize base, read as plain YAML (no kubectl needed)."""
    if files is None:
        files = yaml.safe_load(read(os.path.join(BASE, "kustomization.yaml")))["resources"]
    out = []
    for name in files:
        out += parse(read(os.path.join(BASE, name)))
    return out


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


def container(cronjob):
    containers = pod_spec(cronjob)["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(cronjob):
    return {e["name"]: e for e in container(cronjob).get("env", [])}


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
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def render(overlay):
    exe = kubectl()
    if not exe:
        pytest.skip("no kubectl (apt-get install -y kubernetes-client, or KUBECTL=/path): "
                    "only rendering the kustomize overlays is skipped")
    path = os.path.join(KUSTOMIZE, "overlays", overlay)
    proc = subprocess.run([exe, "kustomize", path], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, "kubectl kustomize %s failed:\n%s" % (path, proc.stderr)
    return parse(proc.stdout)


# ---- the checks ---------------------------------------------------------------------------

def check_cronjob(cronjob):
    """Schedule, job limits and the pod hardening the docs promise."""
    spec = cronjob["spec"]
    assert cronjob["apiVersion"] == "batch/v1"
    assert cronjob["metadata"]["namespace"] == SA_NAMESPACE
    # every 10 minutes, writing only what needs it (docs/reference.md "--refresh-before")
    assert spec["schedule"] == "*/10 * * * *"
    assert env_of(cronjob)["REFRESH_BEFORE"].get("value") == "6h"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 600
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 0
    assert job["activeDeadlineSeconds"] > RUN_DEADLINE_DEFAULT
    assert job["ttlSecondsAfterFinished"] > 0

    pod = pod_spec(cronjob)
    assert pod["serviceAccountName"] == SA_NAME
    assert pod["automountServiceAccountToken"] is True
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden), forbidden
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 65532 and psc["runAsGroup"] == 65532
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}

    c = container(cronjob)
    csc = c["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert not csc.get("privileged")
    assert "runAsUser" not in csc or csc["runAsUser"] == 65532
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}, kind
    assert "command" not in c and "args" not in c      # the image's entrypoint, configured by env

    env = env_of(cronjob)
    assert env["SECRET_NAME"]["value"] == SECRET_NAME
    assert sorted(env["TARGET_NAMESPACES"]["value"].split(",")) == sorted(TARGETS)
    for e in env.values():
        # Secrets never inline: keys come from a Secret.
        if e["name"] in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            assert "value" not in e and "secretKeyRef" in e["valueFrom"], e["name"]


def documented_variables():
    """Every ALL_CAPS `NAME` docs/reference.md names (tests/test_reference.py holds that to
    the variables the code reads)."""
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})", read(REFERENCE)))


def check_env_names(cronjob):
    unknown = set(env_of(cronjob)) - documented_variables()
    assert unknown == set(), "variables the tool does not read: %s" % sorted(unknown)


def check_rbac(objects, service_accounts=False, selector=False):
    """Roles equal identity_manifests(); the selector ClusterRole holds the same secrets
    rules plus the namespaces list of identity_manifests(selector_mode=True); bindings name
    the ServiceAccount; no forbidden verb anywhere."""
    for where, rule in all_rules(objects):
        assert_least_privilege([rule], where)
    sa = only(objects, "ServiceAccount")
    assert (sa["metadata"]["name"], sa["metadata"]["namespace"]) == (SA_NAME, SA_NAMESPACE)
    subject = {"kind": "ServiceAccount", "name": SA_NAME, "namespace": SA_NAMESPACE}

    want_role = identity_rules("Role", service_accounts=service_accounts)
    roles = [o for o in objects if o["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(TARGETS)
    for role in roles:
        assert role["metadata"]["name"] == SA_NAME
        assert canonical_rules(role["rules"]) == canonical_rules(want_role), role["metadata"]["namespace"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(TARGETS)
    for b in bindings:
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA_NAME}
        assert b["subjects"] == [subject]

    cluster_roles = [o for o in objects if o["kind"] == "ClusterRole"]
    cluster_bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    if not selector:
        assert cluster_roles == [] and cluster_bindings == []
        return
    (cr,), (crb,) = cluster_roles, cluster_bindings
    want = identity_rules("Role") + identity_rules("ClusterRole", selector_mode=True)
    assert canonical_rules(cr["rules"]) == canonical_rules(want)
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": cr["metadata"]["name"]}
    assert crb["subjects"] == [subject]


# ---- tests: cronjob.yaml ----------------------------------------------------------------

def test_cronjob_yaml_objects_and_hardening():
    objects = parse(read(CRONJOB_YAML))
    assert [o["kind"] for o in objects] == ["Namespace", "ServiceAccount", "Role", "RoleBinding",
                                            "Role", "RoleBinding", "CronJob"]
    assert only(objects, "Namespace")["metadata"]["name"] == SA_NAMESPACE
    cronjob = only(objects, "CronJob")
    check_cronjob(cronjob)
    check_env_names(cronjob)
    env = env_of(cronjob)
    assert not {"PATCH_SERVICE_ACCOUNTS", "NAMESPACE_SELECTOR", "AWS_ACCESS_KEY_ID"} & set(env)
    assert "annotations" not in only(objects, "ServiceAccount")["metadata"]
    assert ONE_SHOT in read(CRONJOB_YAML)


def test_cronjob_yaml_rbac_equals_the_e2e_rbac():
    objects = parse(read(CRONJOB_YAML))
    check_rbac(objects)
    # The Secret name the rules allow is the one the CronJob writes.
    for role in (o for o in objects if o["kind"] == "Role"):
        named = [r for r in role["rules"] if r.get("resourceNames")]
        assert [n for r in named for n in r["resourceNames"]] == [env_of(only(objects, "CronJob"))
                                                                  ["SECRET_NAME"]["value"]]


def test_cronjob_yaml_with_every_option_enabled():
    text = read(CRONJOB_YAML)
    objects = parse(uncommented(text))
    kinds = [o["kind"] for o in objects]
    assert kinds.count("ClusterRole") == 1 and kinds.count("ClusterRoleBinding") == 1
    cronjob = only(objects, "CronJob")
    check_cronjob(cronjob)
    check_env_names(cronjob)
    env = env_of(cronjob)
    sas = env["PATCH_SERVICE_ACCOUNTS"]["value"].split(",")
    check_rbac(objects, service_accounts=sas, selector=True)
    sa = only(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    # Proxies: the API server and the metadata addresses bypass the proxy.
    no_proxy = env["NO_PROXY"]["value"].split(",")
    assert {".svc", "169.254.169.254", "169.254.170.23"} <= set(no_proxy)
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", n) for n in no_proxy if not n.startswith("169.254."))
    # The CA bundle is a file of a mounted ConfigMap.
    mounts = {m["name"]: m for m in container(cronjob)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(cronjob)["volumes"]}
    (name,) = [n for n in mounts if env["AWS_CA_BUNDLE"]["value"].startswith(mounts[n]["mountPath"] + "/")]
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


# ---- tests: the kustomize base and overlays -------------------------------------------------

def test_kustomize_base_is_cronjob_yaml():
    assert by_key(load_base()) == by_key(parse(read(CRONJOB_YAML)))
    # Optional settings in the base match cronjob.yaml's (static keys live in an overlay).
    base_cj = only(parse(uncommented(read(os.path.join(BASE, "cronjob.yaml")))), "CronJob")
    full_cj = only(parse(uncommented(read(CRONJOB_YAML))), "CronJob")
    key_vars = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    base_env = [e for e in container(base_cj)["env"]]
    full_env = [e for e in container(full_cj)["env"] if e["name"] not in key_vars]
    assert base_env == full_env
    assert pod_spec(base_cj)["volumes"] == pod_spec(full_cj)["volumes"]
    assert container(base_cj)["volumeMounts"] == container(full_cj)["volumeMounts"]
    kustomization = yaml.safe_load(read(os.path.join(BASE, "kustomization.yaml")))
    assert "namespace" not in kustomization, "a namespace: would move the Roles out of the targets"


def test_kustomize_selector_rbac_is_cronjob_yaml_selector_rbac():
    selector = parse(read(os.path.join(BASE, "rbac-selector.yaml")))
    full = parse(uncommented(read(CRONJOB_YAML)))
    want = by_key([o for o in full if o["kind"] in ("ClusterRole", "ClusterRoleBinding")])
    assert by_key(selector) == want
    objects = load_base(["namespace.yaml", "serviceaccount.yaml", "cronjob.yaml", "rbac-selector.yaml"])
    for where, rule in all_rules(objects):
        assert_least_privilege([rule], where)


def test_kustomize_base_selector_mode_dry_run(k8s_cluster):
    check_against_apiserver(k8s_cluster, load_base(["namespace.yaml", "serviceaccount.yaml", "cronjob.yaml",
                                                    "rbac-selector.yaml"]))


def test_kustomize_base_uncommented_dry_run(k8s_cluster):
    objects = parse(uncommented(read(os.path.join(BASE, "cronjob.yaml"))))
    check_cronjob(only(objects, "CronJob"))
    check_env_names(only(objects, "CronJob"))
    check_against_apiserver(k8s_cluster, objects)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_dry_runs(k8s_cluster, overlay):
    objects = render(overlay)
    base = by_key(parse(read(CRONJOB_YAML)))
    got = by_key(objects)
    assert set(got) == set(base)
    check_rbac(objects)
    cronjob = only(objects, "CronJob")
    check_cronjob(cronjob)
    check_env_names(cronjob)
    sa = only(objects, "ServiceAccount")
    env = env_of(cronjob)
    base_env = env_of(only(list(base.values()), "CronJob"))
    if overlay == "irsa":
        assert sa["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/ecr-refresh"}
    else:
        assert "annotations" not in sa["metadata"]
    if overlay == "static-keys":
        added = {n: e for n, e in env.items() if n not in base_env}
        assert set(added) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert added[name]["valueFrom"] == {"secretKeyRef": {"name": "aws-ecr-reader", "key": name}}
        assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", added["AWS_REGION"]["value"])
    else:
        assert env == base_env
    # Apart from those, the overlay is the base.
    for k, obj in base.items():
        if obj["kind"] not in ("ServiceAccount", "CronJob"):
            assert got[k] == obj, k
    check_against_apiserver(k8s_cluster, objects)


# ---- tests: the watch Deployment (deploy/watch/) ---------------------------------------------

WATCH = os.path.join(ROOT, "deploy", "watch")


def test_watch_overlay_renders_and_dry_runs(k8s_cluster):
    """deploy/watch is the CronJob's base with a one-replica Deployment running --watch in
    place of the CronJob, the same pod hardening, the exec liveness probe on an emptyDir
    /tmp, and the watch ClusterRole: list and watch of our Secret by name, of namespaces."""
    exe = kubectl()
    if not exe:
        pytest.skip("no kubectl: only rendering the watch overlay is skipped")
    proc = subprocess.run([exe, "kustomize", WATCH], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    objects = parse(proc.stdout)
    base = by_key(parse(read(CRONJOB_YAML)))
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
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["WATCH"] == "true"
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
    """cronjob.yaml's Roles, applied for real into fresh namespaces (its own, with every
    option enabled, and the selector ClusterRole under a fresh name), asked through
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

        # Selector mode: the same secrets rules everywhere, plus listing namespaces.
        for obj in applied:
            c.apply(obj, field_manager=FIELD_MANAGER)
        assert _can(c, sa_ns, None, "list", "namespaces")
        assert _can(c, sa_ns, other, "create", "secrets")
        assert _can(c, sa_ns, other, "patch", "secrets", SECRET_NAME)
        assert not _can(c, sa_ns, other, "get", "secrets", "someone-elses")
        for verb in ("list", "watch"):
            assert _can(c, sa_ns, None, verb, "secrets", SECRET_NAME), verb
            assert not _can(c, sa_ns, None, verb, "secrets", "someone-elses"), verb
        assert _can(c, sa_ns, other, "create", "events", group="events.k8s.io")
        for verb in ("list", "watch", "delete"):
            assert not _can(c, sa_ns, other, verb, "secrets"), verb
        assert not _can(c, sa_ns, None, "watch", "namespaces")
    finally:
        for obj in reversed(applied):
            c.delete(object_path(obj))


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
    for doc in ("docs/air-gapped.md", "docs/troubleshooting.md", "docs/security.md"):
        assert doc in readme, doc
        assert os.path.isfile(os.path.join(ROOT, doc)), doc
