"""End to end: --refresh-before, the one metadata-only read of every Secret, and failures
as Events, with build/ecr-refresh against the real kube-apiserver v1.20.2 under the RBAC
the product ships (tests/k8s_cluster.py identity_manifests) and the AWS stand-in, which
counts every request it receives (so "no registry was contacted" is a number).

docs/reference.md "--refresh-before" and "Events" describe what is checked here.
"""
import json
import time

import pytest

from test_k8s_e2e import REGION, SECRET, k8s_env, namespaces  # noqa: F401  (k8s_env is a fixture)

LIST_PATH = "/api/v1/secrets?fieldSelector=metadata.name%3D"
ACCEPT_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def lines(run, msg=None):
    return [l for l in run.lines if msg is None or l["msg"] == msg]


def results(run):
    """namespace -> result, from the per-namespace lines (applied, not applied, fresh)."""
    out = {}
    for l in run.lines:
        if l["msg"] in ("secret applied", "secret not applied", "secret fresh"):
            assert l["namespace"] not in out, "two lines for %s" % l["namespace"]
            out[l["namespace"]] = l["result"]
    s = run.summary
    for result in ("created", "updated", "unchanged", "fresh", "failed"):
        assert s[result] == sum(1 for r in out.values() if r == result), (result, run)
    return out


def events(cluster, ns, reason=None):
    """The events.k8s.io/v1 Events ecr-refresh recorded in ns."""
    r = cluster.get("/apis/events.k8s.io/v1/namespaces/%s/events" % ns)
    return [e for e in r.get("items") or []
            if e.get("reportingController") == "ecr-refresh" and (reason is None or e["reason"] == reason)]


def check_event(event, ns, reason, kind, name):
    assert event["type"] == "Warning" and event["reason"] == reason
    assert event["regarding"] == {"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"}
    assert event["metadata"]["name"] == "%s.%s.%s" % (SECRET, reason.lower(), time.strftime("%Y%m%d", time.gmtime()))
    assert event["action"] in ("Apply", "Refresh") and len(event["note"]) <= 1024
    assert "fix: " in event["note"]
    assert len(event["eventTime"]) == len("2026-12-02T00:00:00.000000Z")


def settle(cluster, targets, timeout=10):
    """Waits until the apiserver's watch cache, which answers the list of a --refresh-before
    run (resourceVersion=0), shows every target's Secret as a direct read does: what a
    run 10 minutes later always sees."""
    deadline = time.monotonic() + timeout
    while True:
        page = cluster.get(LIST_PATH + SECRET + "&resourceVersion=0", headers={"Accept": ACCEPT_LIST})
        cached = {i["metadata"]["namespace"]: i["metadata"]["resourceVersion"] for i in page.get("items") or []}
        if all(cached.get(ns) == cluster.resource_version(ns, SECRET) for ns in targets):
            return
        assert time.monotonic() < deadline, "the watch cache did not catch up"
        time.sleep(0.05)


def run_fresh(k8s_env, sa, targets, *extra, registries=None):
    settle(k8s_env.cluster, targets)
    args = ["--namespaces", ",".join(targets)] + list(extra)
    if registries:
        args += ["--registries", ",".join(registries)]    # the fixture sets ECR_REGISTRIES
    return k8s_env.binary(args, sa, extra={"REFRESH_BEFORE": "6h"})


# ---- the name-restricted list ----------------------------------------------------------

def test_name_restricted_cluster_role_lists_that_name_only(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "lst", 2)
    c.setup_identity([a, b], selector_mode=True)
    sa = k8s_env.sa_dir()
    token = open(sa + "/token").read().strip()
    ok = c.request("GET", LIST_PATH + SECRET + "&limit=2000", token=token, headers={"Accept": ACCEPT_LIST})
    assert ok.status == 200 and ok.json()["kind"] == "PartialObjectMetadataList"
    for path in (LIST_PATH + "someone-elses", "/api/v1/secrets", "/api/v1/namespaces/%s/secrets" % a):
        assert c.request("GET", path, token=token).status == 403, path

    run = k8s_env.binary(["--namespaces", "%s,%s" % (a, b)], sa)
    assert run.code == 0, run
    assert results(run) == {a: "created", b: "created"}
    assert run.summary["requests"] == 1 + 2             # the Secret list, an apply each
    assert lines(run, "secrets read one namespace at a time") == []
    secret = c.get_secret_raw(a, SECRET)
    assert len(secret["metadata"]["annotations"]["ecr-refresh.io/config-digest"]) == 64


def test_per_namespace_roles_fall_back_to_one_read_each(k8s_env):
    c = k8s_env.cluster
    a, b = namespaces(c, "fb", 2)
    c.setup_identity([a, b])                            # Roles only: the list is 403
    sa = k8s_env.sa_dir()
    first = k8s_env.driver(["--namespaces", "%s,%s" % (a, b)], sa)
    second = k8s_env.driver(["--namespaces", "%s,%s" % (a, b)], sa)
    for run in (first, second):
        assert run.code == 0, run
        fallback = lines(run, "secrets read one namespace at a time")
        assert len(fallback) == 1 and fallback[0]["level"] == "info", run
        assert "403" in fallback[0]["reason"]
        assert run.summary["requests"] == 1 + 2 * 2     # the refused list, a read and an apply each
    assert results(first) == {a: "created", b: "created"}
    assert results(second) == {a: "unchanged", b: "unchanged"}
    # --refresh-before works the same way through the reads
    run = run_fresh(k8s_env, sa, [a, b])
    assert run.code == 0, run
    assert results(run) == {a: "updated", b: "updated"}  # the driver wrote no digest
    run = run_fresh(k8s_env, sa, [a, b])
    assert results(run) == {a: "fresh", b: "fresh"}, run


# ---- --refresh-before --------------------------------------------------------------------

def test_refresh_before_writes_only_what_needs_it(k8s_env):
    c, stub = k8s_env.cluster, k8s_env.stub
    a, b, new = namespaces(c, "rb", 3)
    c.setup_identity([a, b, new], selector_mode=True)
    sa = k8s_env.sa_dir()

    run = run_fresh(k8s_env, sa, [a, b])
    assert run.code == 0 and results(run) == {a: "created", b: "created"}, run

    # nothing to do: the Secret list alone, no AWS endpoint at all
    stub.reset()
    run = run_fresh(k8s_env, sa, [a, b])
    assert run.code == 0 and results(run) == {a: "fresh", b: "fresh"}, run
    assert run.summary["requests"] == 1
    assert stub.requests_received == 0 and stub.calls() == []
    assert [l["expires_at"] for l in lines(run, "secret fresh")] == \
        [c.get_secret_raw(ns, SECRET)["metadata"]["annotations"]["ecr-refresh.io/expires-at"] for ns in (a, b)]

    # a new namespace is written, the others left alone: one token, one apply
    run = run_fresh(k8s_env, sa, [a, b, new])
    assert results(run) == {a: "fresh", b: "fresh", new: "created"}, run
    assert run.summary["requests"] == 1 + 1
    assert len(stub.ecr_token_calls()) == 1

    # a deleted Secret is repaired
    c.delete("/api/v1/namespaces/%s/secrets/%s" % (a, SECRET))
    run = run_fresh(k8s_env, sa, [a, b, new])
    assert results(run) == {a: "created", b: "fresh", new: "fresh"}, run

    # edited by hand: another manager owns the payload now, so it is stale; the apply
    # conflicts (reported, and recorded as an Event) until --force takes it back
    c.patch("/api/v1/namespaces/%s/secrets/%s" % (b, SECRET),
            {"data": {".dockerconfigjson": "eyJhdXRocyI6e319"}}, field_manager="kubectl-edit")
    run = run_fresh(k8s_env, sa, [a, b, new])
    assert run.code == 1 and results(run) == {a: "fresh", b: "failed", new: "fresh"}, run
    (event,) = events(c, b, "Conflict")
    check_event(event, b, "Conflict", "Secret", SECRET)
    assert "FORCE_CONFLICTS" in event["note"] and "kubectl-edit" in event["note"]
    run = run_fresh(k8s_env, sa, [a, b, new])           # the same failure again the same day
    assert run.code == 1 and len(events(c, b, "Conflict")) == 1, run
    run = run_fresh(k8s_env, sa, [a, b, new], "--force")
    assert run.code == 0 and results(run) == {a: "fresh", b: "updated", new: "fresh"}, run
    run = run_fresh(k8s_env, sa, [a, b, new])
    assert results(run) == {a: "fresh", b: "fresh", new: "fresh"}, run

    # a registry more: every Secret is rewritten (another registry set, another digest)
    hosts = [stub.registry_host(REGION), stub.registry_host("eu-west-1")]
    run = run_fresh(k8s_env, sa, [a, b, new], registries=hosts)
    assert run.code == 0 and set(results(run).values()) == {"updated"}, run
    for ns in (a, b, new):
        annotations = c.get_secret_raw(ns, SECRET)["metadata"]["annotations"]
        assert annotations["ecr-refresh.io/registries"] == ",".join(hosts)
    run = run_fresh(k8s_env, sa, [a, b, new], registries=list(reversed(hosts)))
    assert set(results(run).values()) == {"fresh"}, run    # the same set in another order

    # a margin longer than the tokens live rewrites them all
    # (written, though perhaps byte for byte the same: unchanged within the same second)
    run = run_fresh(k8s_env, sa, [a, b, new], "--refresh-before", "13h", registries=hosts)
    assert "fresh" not in results(run).values() and run.summary["requests"] == 1 + 3, run


def test_a_label_removed_by_hand_is_rewritten(k8s_env):
    c = k8s_env.cluster
    (a,) = namespaces(c, "lbl", 1)
    c.setup_identity([a], selector_mode=True)
    sa = k8s_env.sa_dir()
    assert run_fresh(k8s_env, sa, [a]).code == 0
    c.patch("/api/v1/namespaces/%s/secrets/%s" % (a, SECRET),
            {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}, field_manager="someone")
    run = run_fresh(k8s_env, sa, [a])
    assert run.code == 0 and results(run) == {a: "updated"}, run
    why = [l["why"] for l in lines(run, "secret needs a write")]
    assert why == ["not labelled as managed by ecr-refresh"], run


def test_adding_service_accounts_rewrites_fresh_namespaces(k8s_env):
    """--service-accounts is part of the configuration digest: once it is added (or
    changed), namespaces that were fresh are written and their ServiceAccounts patched in
    the same run, not 6 hours later; the run after is idle again."""
    c = k8s_env.cluster
    a, b = namespaces(c, "sac", 2)
    c.setup_identity([a, b], selector_mode=True, service_accounts=True)
    for ns in (a, b):
        c.create("/api/v1/namespaces/%s/serviceaccounts" % ns,
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}})
    sa = k8s_env.sa_dir()
    assert run_fresh(k8s_env, sa, [a, b]).code == 0
    assert results(run_fresh(k8s_env, sa, [a, b])) == {a: "fresh", b: "fresh"}

    run = run_fresh(k8s_env, sa, [a, b], "--service-accounts", "builder")
    assert run.code == 0 and results(run) == {a: "updated", b: "updated"}, run
    assert [l["why"] for l in lines(run, "secret needs a write")] == ["other configuration digest"] * 2, run
    for ns in (a, b):
        assert c.get("/api/v1/namespaces/%s/serviceaccounts/builder" % ns)["imagePullSecrets"] == [{"name": SECRET}]
    run = run_fresh(k8s_env, sa, [a, b], "--service-accounts", "builder")
    assert results(run) == {a: "fresh", b: "fresh"} and run.summary["requests"] == 1, run


# ---- Events -------------------------------------------------------------------------------

def grant_events(cluster, ns, name="ecr-refresh-events"):
    """A Role with nothing but `create` on events in ns, bound to the tool's ServiceAccount."""
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": name, "namespace": ns},
                   "rules": [{"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]}]})
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": name, "namespace": ns},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                   "subjects": [{"kind": "ServiceAccount", "name": "ecr-refresh",
                                 "namespace": "ecr-refresh-system"}]})


def test_forbidden_namespace_gets_an_event(k8s_env):
    c = k8s_env.cluster
    ok, denied = namespaces(c, "evf", 2)
    c.setup_identity([ok])
    grant_events(c, denied)             # the Secret's write is refused there, the Event is not
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", "%s,%s" % (ok, denied)], sa)
    assert run.code == 1 and results(run) == {ok: "created", denied: "failed"}, run
    (event,) = events(c, denied)
    check_event(event, denied, "Forbidden", "Namespace", denied)
    failed = [l for l in run.lines if l.get("namespace") == denied and l["msg"] == "secret not applied"][0]
    assert event["note"].startswith(failed["reason"][:200])
    assert "Role" in event["note"] and events(c, ok) == []
    # the core/v1 view, as docs/reference.md says to read it
    core = c.get("/api/v1/namespaces/%s/events?fieldSelector=reportingComponent%%3Decr-refresh" % denied)
    assert [e["reason"] for e in core["items"]] == ["Forbidden"]
    assert lines(run, "cannot record Events") == []
    text = json.dumps(event)
    assert k8s_env.stub.leaked_secrets(text) == [] and "password" not in text


def test_events_without_permission_do_not_fail_the_run(k8s_env):
    c = k8s_env.cluster
    ok, denied, denied2 = namespaces(c, "evn", 3)
    c.setup_identity([ok])                              # nothing at all in the other two
    sa = k8s_env.sa_dir()
    run = k8s_env.binary(["--namespaces", "%s,%s,%s" % (ok, denied, denied2), "--concurrency", "1"], sa)
    assert run.code == 1, run                           # the two namespaces, not the Events
    assert results(run) == {ok: "created", denied: "failed", denied2: "failed"}
    warned = lines(run, "cannot record Events")
    assert len(warned) == 1 and warned[0]["level"] == "warn", run
    assert events(c, denied) == [] and events(c, denied2) == []
    # one refused Event, then no more tries
    assert run.summary["requests"] == 1 + 2 * 3 + 1, run


def test_a_run_without_a_token_records_one_event(k8s_env):
    c, stub = k8s_env.cluster, k8s_env.stub
    (a,) = namespaces(c, "evt", 1)
    c.setup_identity([a], selector_mode=True)
    grant_events(c, "ecr-refresh-system")       # what the shipped selector ClusterRole grants
    sa = k8s_env.sa_dir()
    stub.deny_all = True
    try:
        run = run_fresh(k8s_env, sa, [a])
    finally:
        stub.deny_all = False
    assert run.code == 3, run
    assert c.get_secret_raw(a, SECRET) is None and events(c, a) == []
    assert len(events(c, "ecr-refresh-system", "TokenUnavailable")) == 1, run
    (event,) = events(c, "ecr-refresh-system", "TokenUnavailable")
    check_event(event, "ecr-refresh-system", "TokenUnavailable", "Namespace", "ecr-refresh-system")
    assert "AccessDenied" in event["note"]
    assert stub.leaked_secrets(json.dumps(event)) == []


def test_dry_run_records_no_event(k8s_env):
    c = k8s_env.cluster
    ok, denied = namespaces(c, "evd", 2)
    c.setup_identity([ok])
    sa = k8s_env.sa_dir()
    run = run_fresh(k8s_env, sa, [ok, denied], "--dry-run")
    assert run.code == 1 and results(run)[denied] == "failed", run
    assert events(c, denied) == [] and c.get_secret_raw(ok, SECRET) is None


if __name__ == "__main__":
    pytest.main([__file__])
