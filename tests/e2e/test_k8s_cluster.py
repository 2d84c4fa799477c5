"""Self-tests of the Kubernetes test harness: the real apiserver, the product's RBAC as
tests/standins/k8s_cluster.py defines it, ServiceAccount tokens, and the fault proxy. Plain Python
HTTP only (the product's client is tested elsewhere, against this harness)."""
import base64
import http.client
import json
import os
import ssl

import pytest

from faultproxy import FaultProxy
from k8s_cluster import Token, identity_manifests

SECRETS = "/api/v1/namespaces/%s/secrets"


def _secret(ns, name="ecr-creds", password="pw1"):
    config = {"auths": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": {
        "username": "AWS", "password": password,
        "auth": base64.b64encode(("AWS:" + password).encode()).decode()}}}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app.kubernetes.io/managed-by": "ecr-refresh"}},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}}


def _apply(cluster, token, ns, name="ecr-creds", password="pw1", port=None, manager="ecr-refresh", force=None):
    query = {"fieldManager": manager}
    if force is not None:
        query["force"] = "true" if force else "false"
    return cluster.request("PATCH", SECRETS % ns + "/" + name, _secret(ns, name, password),
                           content_type="application/apply-patch+yaml", token=token, query=query, port=port)


@pytest.fixture
def identity(k8s_cluster):
    """A fresh SA namespace, one permitted and one forbidden target namespace."""
    sa_ns = k8s_cluster.unique_namespace("sa")
    allowed = k8s_cluster.unique_namespace("allowed")
    forbidden = k8s_cluster.unique_namespace("forbidden")
    k8s_cluster.setup_identity([allowed], sa_namespace=sa_ns)
    token = k8s_cluster.mint_token(sa_ns, "ecr-refresh")
    return sa_ns, allowed, forbidden, token


def test_cluster_ready(k8s_cluster):
    r = k8s_cluster.request("GET", "/readyz")
    assert (r.status, r.body) == (200, b"ok")
    assert k8s_cluster.get("/version")["gitVersion"] == "v1.20.2"
    print("kube-apiserver ready in %.2f s" % k8s_cluster.startup_seconds)
    assert k8s_cluster.startup_seconds < 60
    # RBAC is enforced: anonymous requests to resources are refused.
    assert k8s_cluster.request("GET", "/api/v1/namespaces", token="").status == 403
    assert k8s_cluster.request("GET", "/api/v1/namespaces", token="not-a-token").status == 401


def test_least_privilege_ssa(k8s_cluster, identity):
    sa_ns, allowed, forbidden, token = identity

    r = _apply(k8s_cluster, token, allowed)
    assert r.status == 201, r.body
    rv = k8s_cluster.resource_version(allowed, "ecr-creds")
    r = _apply(k8s_cluster, token, allowed)
    assert r.status == 200, r.body
    # An apply that changes nothing writes nothing.
    assert k8s_cluster.resource_version(allowed, "ecr-creds") == rv
    assert ("ecr-refresh", "Apply") in k8s_cluster.field_managers(allowed, "ecr-creds")
    secret = k8s_cluster.get_secret(allowed, "ecr-creds")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(secret["data"][".dockerconfigjson"])["auths"]
    assert auths["123456789012.dkr.ecr.us-east-1.amazonaws.com"]["password"] == "pw1"

    r = _apply(k8s_cluster, token, allowed, password="pw2")
    assert r.status == 200
    assert k8s_cluster.resource_version(allowed, "ecr-creds") != rv

    # Another field manager without force: conflict; with force: taken over.
    assert _apply(k8s_cluster, None, allowed, password="pw3", manager="other").status == 409
    assert _apply(k8s_cluster, None, allowed, password="pw3", manager="other", force=True).status == 200

    assert _apply(k8s_cluster, token, forbidden).status == 403
    assert k8s_cluster.get_secret(forbidden, "ecr-creds") is None
    # get/patch are narrowed to the one name; create cannot be, so an apply of another
    # name is refused at its get/patch step only when the Secret exists.
    assert k8s_cluster.request("GET", SECRETS % allowed + "/ecr-creds", token=token).status == 200
    assert k8s_cluster.request("GET", SECRETS % allowed + "/other", token=token).status == 403
    assert k8s_cluster.request("GET", SECRETS % allowed, token=token).status == 403
    assert k8s_cluster.request("GET", "/api/v1/secrets", token=token).status == 403
    assert k8s_cluster.request("GET", "/api/v1/namespaces", token=token).status == 403
    assert k8s_cluster.request("DELETE", SECRETS % allowed + "/ecr-creds", token=token).status == 403
    assert k8s_cluster.request("GET", "/api/v1/namespaces/%s/serviceaccounts/default" % allowed,
                               token=token).status == 403


def test_selector_mode_and_service_accounts(k8s_cluster):
    sa_ns = k8s_cluster.unique_namespace("sa")
    target = k8s_cluster.unique_namespace("target", labels={"ecr": "yes"})
    k8s_cluster.setup_identity([target], sa_name="sel", sa_namespace=sa_ns, selector_mode=True,
                               service_accounts=True)
    k8s_cluster.create("/api/v1/namespaces/%s/serviceaccounts" % target,
                       {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}})
    token = k8s_cluster.mint_token(sa_ns, "sel")
    r = k8s_cluster.request("GET", "/api/v1/namespaces", token=token, query={"labelSelector": "ecr=yes"})
    assert r.status == 200
    assert target in [n["metadata"]["name"] for n in r.json()["items"]]
    sa_path = "/api/v1/namespaces/%s/serviceaccounts/app" % target
    r = k8s_cluster.request("GET", sa_path, token=token)
    assert r.status == 200
    sa = r.json()
    sa["imagePullSecrets"] = [{"name": "ecr-creds"}]
    assert k8s_cluster.request("PUT", sa_path, sa, token=token).status == 200
    assert k8s_cluster.request("PATCH", sa_path, {"metadata": {"labels": {"a": "b"}}},
                               content_type="application/merge-patch+json", token=token).status == 403

    # Setting the identity up again without selector mode takes the list right away.
    k8s_cluster.setup_identity([target], sa_name="sel", sa_namespace=sa_ns)
    assert k8s_cluster.request("GET", "/api/v1/namespaces", token=token).status == 403
    assert k8s_cluster.request("GET", sa_path, token=token).status == 403


def test_manifests_are_least_privilege():
    m = identity_manifests(["a", "b"], secret_name="s", sa_name="n", sa_namespace="sys")
    assert [(o["kind"], o["metadata"].get("namespace")) for o in m] == [
        ("ServiceAccount", "sys"), ("Role", "a"), ("RoleBinding", "a"), ("Role", "b"), ("RoleBinding", "b")]
    assert m[1]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"], "verbs": ["get", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]}]
    m = identity_manifests(["a"], selector_mode=True, service_accounts=["app"])
    assert m[1]["rules"][3] == {"apiGroups": [""], "resources": ["serviceaccounts"],
                                "resourceNames": ["app"], "verbs": ["get", "update"]}
    assert m[-2]["kind"] == "ClusterRole"
    # listing Secrets only by the one name (the metadata-only read of them all)
    assert m[-2]["rules"] == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
                              {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["ecr-creds"],
                               "verbs": ["list", "watch"]}]


def test_tokens_and_sa_dir(k8s_cluster, identity, tmp_path):
    sa_ns, allowed, _, _ = identity
    sa_dir = str(tmp_path / "sa")
    k8s_cluster.make_sa_dir(sa_dir, sa_ns)
    for name in ("token", "ca.crt", "namespace"):
        assert os.path.islink(os.path.join(sa_dir, name))
    with open(os.path.join(sa_dir, "namespace")) as f:
        assert f.read() == sa_ns
    with open(os.path.join(sa_dir, "token")) as f:
        first = Token(f.read())
    env = k8s_cluster.env(sa_dir)
    assert env == {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(k8s_cluster.port),
                   "SERVICEACCOUNT_DIR": sa_dir}
    # The files work as a pod would use them: verify with ca.crt, send the token.
    ctx = ssl.create_default_context(cafile=os.path.join(sa_dir, "ca.crt"))
    conn = http.client.HTTPSConnection(env["KUBERNETES_SERVICE_HOST"], int(env["KUBERNETES_SERVICE_PORT"]),
                                       context=ctx, timeout=10)
    conn.request("PATCH", SECRETS % allowed + "/ecr-creds?fieldManager=ecr-refresh",
                 json.dumps(_secret(allowed)), {"Authorization": "Bearer " + first,
                                                "Content-Type": "application/apply-patch+yaml"})
    assert conn.getresponse().status == 201
    conn.close()

    # Rotation: a new token behind the same names (another expiry, so another token).
    k8s_cluster.make_sa_dir(sa_dir, sa_ns, expiration=3700)
    with open(os.path.join(sa_dir, "token")) as f:
        rotated = f.read() != first
    assert rotated
    assert len([n for n in os.listdir(sa_dir) if n.startswith("..") and n != "..data"]) == 1

    # A token for another audience is not accepted by this apiserver.
    other = k8s_cluster.mint_token(sa_ns, "ecr-refresh", audiences=["sts.amazonaws.com"])
    assert k8s_cluster.request("GET", SECRETS % allowed + "/ecr-creds", token=other).status == 401


# -- fault proxy ---------------------------------------------------------------------------

class KeepAliveClient:
    """One kept-alive HTTPS connection to the proxy; a dropped connection is reported
    as None and the next request opens a new one."""

    def __init__(self, cluster, port):
        self.cluster, self.port = cluster, port
        self.ctx = ssl.create_default_context(cafile=cluster.ca_path)
        self.conn = None

    def request(self, method, path, body=None, headers=None, token=None):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        hdrs = {"Authorization": "Bearer " + (token or self.cluster.admin_token)}
        hdrs.update(headers or {})
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            return resp, resp.read()
        except (http.client.HTTPException, OSError):
            self.close()
            return None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def test_proxy_forwards_faithfully(k8s_cluster, k8s_fault_proxy, identity):
    _, allowed, forbidden, token = identity
    proxy = k8s_fault_proxy()
    client = KeepAliveClient(k8s_cluster, proxy.port)
    resp, body = client.request("GET", "/version")
    assert resp.status == 200 and json.loads(body)["gitVersion"] == "v1.20.2"

    apply = {"Content-Type": "application/apply-patch+yaml"}
    path = SECRETS % allowed + "/ecr-creds?fieldManager=ecr-refresh"
    resp, body = client.request("PATCH", path, json.dumps(_secret(allowed)), apply, token)
    assert resp.status == 201, body
    resp, body = client.request("PATCH", path, json.dumps(_secret(allowed)), apply, token)
    assert resp.status == 200
    assert json.loads(body)["metadata"]["name"] == "ecr-creds"
    resp, body = client.request("PATCH", SECRETS % forbidden + "/ecr-creds?fieldManager=ecr-refresh",
                                json.dumps(_secret(forbidden)), apply, token)
    assert resp.status == 403 and json.loads(body)["reason"] == "Forbidden"

    # A large list comes chunked from the apiserver and is relayed chunked.
    resp, body = client.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    direct = k8s_cluster.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")
    assert len(json.loads(body)["items"]) == len(direct["items"]) > 40
    resp, body = client.request("DELETE", SECRETS % allowed + "/nope")
    assert resp.status == 404
    client.close()

    counts = proxy.counts
    assert counts["connections"] == 1  # keep-alive held across all requests
    assert counts["requests"] == counts["forwarded"] == 6
    assert sum(counts[a] for a in ("429", "503", "drop_before", "drop_after")) == 0


def test_proxy_fault_rates(k8s_cluster, k8s_fault_proxy):
    n = 400
    proxy = k8s_fault_proxy(p429=0.15, p503=0.1, pdrop=0.2, seed=42)
    client = KeepAliveClient(k8s_cluster, proxy.port)
    seen = {"200": 0, "429": 0, "503": 0, "drop": 0}
    for _ in range(n):
        result = client.request("GET", "/version")
        if result is None:
            seen["drop"] += 1
            continue
        resp, body = result
        seen[str(resp.status)] += 1
        if resp.status in (429, 503):
            assert resp.getheader("Retry-After") == "1"
            status = json.loads(body)
            assert (status["kind"], status["code"]) == ("Status", resp.status)
            assert status["reason"] == ("TooManyRequests" if resp.status == 429 else "ServiceUnavailable")
            assert status["details"]["retryAfterSeconds"] == 1
    client.close()
    counts = proxy.counts
    assert counts["requests"] == n
    assert (counts["forwarded"], counts["429"], counts["503"]) == (seen["200"], seen["429"], seen["503"])
    assert counts["drop_before"] + counts["drop_after"] == seen["drop"]
    # Binomial counts: within about 4 standard deviations of the configured rates.
    for key, p in (("429", 0.15), ("503", 0.1), ("drop", 0.2), ("200", 0.55)):
        sd = (n * p * (1 - p)) ** 0.5
        assert abs(seen[key] - n * p) < 4 * sd, (key, seen)
    assert counts["drop_before"] > 0 and counts["drop_after"] > 0

    # The same seed makes the same decisions.
    again = k8s_fault_proxy(p429=0.15, p503=0.1, pdrop=0.2, seed=42)
    client = KeepAliveClient(k8s_cluster, again.port)
    for _ in range(50):
        client.request("GET", "/version")
    client.close()
    assert [e[2] for e in again.events] == [e[2] for e in proxy.events[:50]]


def test_proxy_plan_and_drops_do_not_forward(k8s_cluster, k8s_fault_proxy, identity):
    _, allowed, _, token = identity
    is_secret = lambda method, path: "/secrets/" in path  # noqa: E731
    proxy = k8s_fault_proxy(plan=["drop_before", "drop_after", "429", "503", "forward"], only=is_secret)
    client = KeepAliveClient(k8s_cluster, proxy.port)
    apply = {"Content-Type": "application/apply-patch+yaml"}
    path = SECRETS % allowed + "/ecr-creds?fieldManager=ecr-refresh"
    body = json.dumps(_secret(allowed))

    assert client.request("GET", "/version")[0].status == 200  # not a secret: never faulted
    assert client.request("PATCH", path, body, apply, token) is None
    assert client.request("PATCH", path, body, apply, token) is None
    assert k8s_cluster.get_secret(allowed, "ecr-creds") is None  # neither drop reached the apiserver
    assert client.request("PATCH", path, body, apply, token)[0].status == 429
    assert client.request("PATCH", path, body, apply, token)[0].status == 503
    assert client.request("PATCH", path, body, apply, token)[0].status == 201
    client.close()
    assert [e[2] for e in proxy.events] == ["forward", "drop_before", "drop_after", "429", "503", "forward"]
    assert proxy.counts["connections"] == 3


def test_proxy_stop_closes_idle_connections(k8s_cluster):
    proxy = FaultProxy(k8s_cluster).start()
    client = KeepAliveClient(k8s_cluster, proxy.port)
    assert client.request("GET", "/version")[0].status == 200
    proxy.stop()
    assert client.request("GET", "/version") is None
    client.close()
