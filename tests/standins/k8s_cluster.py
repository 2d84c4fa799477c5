"""A real Kubernetes API server for tests: kube-apiserver v1.20.2 + etcd 3.4 on loopback,
RBAC on, TLS from a CA of its own (tests/standins/pki.py), ServiceAccount tokens from the
TokenRequest API (docs/design.md "The Kubernetes API from a pod").

    cluster = Cluster(tmpdir); cluster.start()
    ns = cluster.unique_namespace("apply")
    cluster.setup_identity([ns])                      # SA + least-privilege RBAC
    sa_dir = cluster.make_sa_dir(tmpdir + "/sa", "ecr-refresh-system")
    env = cluster.env(sa_dir)                         # KUBERNETES_SERVICE_HOST/PORT, SERVICEACCOUNT_DIR
    ...
    cluster.stop()

The apiserver binary is found, in order: $KUBE_APISERVER; ROOT/build/k8s/kube-apiserver;
ROOT/../shared/k8s/kube-apiserver-v1.20.2-linux-amd64.xz unpacked there (sha256 checked);
scripts/build-kube-apiserver.sh building it there from Debian's source package.
etcd is $ETCD or /usr/bin/etcd (Debian package etcd-server).

There is no controller-manager: namespaces that are deleted stay Terminating, no
ServiceAccount token Secrets or "default" ServiceAccounts appear. Tests use fresh
namespaces (unique_namespace) instead of deleting and re-creating.

The admin bearer token is held in memory and in tokens.csv only; it is never printed.
"""
import base64
import ctypes
import datetime
import hashlib
import http.client
import itertools
import json
import lzma
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

import pki

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APISERVER_XZ = os.path.join(os.path.dirname(ROOT), "shared", "k8s", "kube-apiserver-v1.20.2-linux-amd64.xz")
APISERVER_SHA256 = "301d0dfceb12dbf0c954264f7633be205957aedfd0e2d3a2138e1a91936d987d"
APISERVER_DIR = os.path.join(ROOT, "build", "k8s")
BUILD_SCRIPT = os.path.join(ROOT, "scripts", "build-kube-apiserver.sh")

# The issuer is also the default API audience (--api-audiences defaults to the issuer).
ISSUER = "https://kubernetes.default.svc"
SERVING_DNS = ["localhost", "kubernetes.default.svc"]
SERVING_IPS = ["127.0.0.1"]
HARNESS_FIELD_MANAGER = "k8s-test-harness"

PATCH_CONTENT_TYPES = {
    "apply": "application/apply-patch+yaml",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class ClusterError(Exception):
    """The cluster could not be found, built, started or asked."""


class ApiError(ClusterError):
    def __init__(self, method, path, response):
        self.status = response.status
        self.response = response
        try:
            message = response.json().get("message", "")
        except ValueError:
            message = response.body[:300].decode("utf-8", "replace")
        super().__init__("%s %s -> %d %s" % (method, path, response.status, message))


class Token(str):
    """A bearer token: a str whose repr (in pytest failure output) does not show it."""

    def __repr__(self):
        return "<token sha256:%s>" % hashlib.sha256(self.encode()).hexdigest()[:12]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %d bytes)" % (self.status, len(self.body))


# ---------------------------------------------------------------------------------------
# The product's RBAC, as data. cronjob.yaml must ship exactly these rules.

def identity_manifests(namespaces, secret_name="ecr-creds", sa_name="ecr-refresh",
                       sa_namespace="ecr-refresh-system", selector_mode=False, service_accounts=False):
    """The ServiceAccount and the least-privilege RBAC objects ecr-refresh runs with, as
    dicts, in apply order: ServiceAccount, per target namespace a Role and RoleBinding, and
    with selector_mode (a --namespace-selector, or globs in --namespaces) a ClusterRole
    allowing `list` on namespaces, `list`/`watch` on secrets narrowed to secret_name (the
    one metadata-only read of every such Secret) and its ClusterRoleBinding.

    Secrets: SSA creating a Secret needs `create`, which RBAC cannot narrow by name
    (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources:
    create requests carry no name at authorization time); `get` and `patch` are narrowed
    to the one Secret. service_accounts=True adds `get`,`update` on every ServiceAccount
    of the namespace (read-modify-PUT of imagePullSecrets); a list of names narrows that
    rule to those ServiceAccounts. `create` on events (events.k8s.io) lets failures show
    as Events; without it they go to the log only."""
    labels = {"app.kubernetes.io/name": "ecr-refresh"}
    subject = {"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}
    rules = [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret_name],
         "verbs": ["get", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
    ]
    if service_accounts:
        rule = {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "update"]}
        if not isinstance(service_accounts, bool):
            rule = {"apiGroups": [""], "resources": ["serviceaccounts"],
                    "resourceNames": list(service_accounts), "verbs": ["get", "update"]}
        rules.append(rule)

    out = [{"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": sa_name, "namespace": sa_namespace, "labels": labels}}]
    for ns in namespaces:
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": sa_name, "namespace": ns, "labels": labels},
                    "rules": rules})
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": sa_name, "namespace": ns, "labels": labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa_name},
                    "subjects": [subject]})
    if selector_mode:
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": sa_name, "labels": labels},
                    "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
                              {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret_name],
                               "verbs": ["list", "watch"]}]})
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": sa_name, "labels": labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": sa_name},
                    "subjects": [subject]})
    return out


def shipped_objects(path):
    """The objects of a manifest file of the repository (path relative to its root)."""
    import yaml
    with open(os.path.join(ROOT, path)) as f:
        return [o for o in yaml.safe_load_all(f) if o]


def watch_manifests(selector_mode=True, sa_namespace="ecr-refresh-system"):
    """The shipped cluster-wide RBAC of the watch Deployment, its subjects in sa_namespace:
    deploy/watch/rbac-watch.yaml, and with globs or a selector
    deploy/kustomize/components/selector/rbac.yaml, as they are; with plain names
    rbac-watch.yaml without its namespaces rule, as its comment says. The per-namespace
    Roles (identity_manifests) are the caller's.

    In selector mode each target namespace gets its Role from whoever creates it
    (deploy/kustomize/target-namespace). Tests and benchmarks that create namespaces while
    the watch runs, and time the repair, get the Role's rules cluster-wide here instead
    (ClusterRole "ecr-refresh-test-roles"): a Role created just after its namespace would
    make them time the watch's 30 s retry of the refused write instead."""
    objects = shipped_objects("deploy/watch/rbac-watch.yaml")
    if selector_mode:
        objects += shipped_objects("deploy/kustomize/components/selector/rbac.yaml")
        (role,) = [o for o in identity_manifests(["any"]) if o["kind"] == "Role"]
        objects += [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "ecr-refresh-test-roles"}, "rules": role["rules"]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "ecr-refresh-test-roles"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": "ecr-refresh-test-roles"},
             "subjects": [{"kind": "ServiceAccount", "name": "ecr-refresh"}]}]
    else:
        for o in objects:
            if o["kind"] == "ClusterRole":
                o["rules"] = [r for r in o["rules"] if r["resources"] != ["namespaces"]]
    for o in objects:
        for subject in o.get("subjects", []):
            subject["namespace"] = sa_namespace
    return objects


# REST paths by kind: (group/version prefix, plural, namespaced).
RESOURCES = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Secret": ("/api/v1", "secrets", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Job": ("/apis/batch/v1", "jobs", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "CronJob": ("/apis/batch/v1beta1", "cronjobs", True),   # v1.20 serves no batch/v1 CronJob
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
}


def object_path(obj):
    """The REST path of a manifest of one of the kinds in RESOURCES."""
    prefix, plural, namespaced = RESOURCES[obj["kind"]]
    name = obj["metadata"]["name"]
    if namespaced:
        return "%s/namespaces/%s/%s/%s" % (prefix, obj["metadata"]["namespace"], plural, name)
    return "%s/%s/%s" % (prefix, plural, name)


# ---------------------------------------------------------------------------------------
# Finding the binaries.

def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_kube_apiserver():
    """Path of a kube-apiserver v1.20 binary, unpacking or building it once into build/k8s."""
    env = os.environ.get("KUBE_APISERVER")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ClusterError("KUBE_APISERVER=%s is not an executable file" % env)
        return env
    target = os.path.join(APISERVER_DIR, "kube-apiserver")
    if os.path.isfile(target) and os.access(target, os.X_OK):
        return target
    os.makedirs(APISERVER_DIR, exist_ok=True)
    if os.path.isfile(APISERVER_XZ):
        # Unpack next to the target and rename, so a concurrent run never sees half a file.
        tmp = "%s.%d.tmp" % (target, os.getpid())
        try:
            with lzma.open(APISERVER_XZ) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            digest = _sha256(tmp)
            if digest != APISERVER_SHA256:
                raise ClusterError("%s unpacks to sha256 %s, expected %s" % (APISERVER_XZ, digest, APISERVER_SHA256))
            os.chmod(tmp, 0o755)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target
    log = os.path.join(APISERVER_DIR, "build.log")
    with open(log, "wb") as f:
        rc = subprocess.run([BUILD_SCRIPT, APISERVER_DIR], stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not os.access(target, os.X_OK):
        raise ClusterError(
            "no kube-apiserver: KUBE_APISERVER is unset, %s does not exist, and %s failed "
            "(exit %d); its log %s ends:\n%s" % (APISERVER_XZ, BUILD_SCRIPT, rc, log, _tail(log)))
    return target


def find_etcd():
    path = os.environ.get("ETCD") or shutil.which("etcd") or "/usr/bin/etcd"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ClusterError("no etcd: install Debian's etcd-server (apt-get install -y etcd-server) or set ETCD=/path")
    return path


def _tail(path, n=25):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(%s)" % e


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # PR_SET_PDEATHSIG (1): if pytest dies without stopping us, the kernel kills the child,
    # so no apiserver or etcd outlives the test run.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _terminate(proc):
    """SIGTERM, then SIGKILL if it lingers, and always reap. None is fine."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------

class Cluster:
    def __init__(self, tmpdir, ready_timeout=90):
        self.dir = os.path.abspath(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = None
        self.etcd_port = None
        self.ready_timeout = ready_timeout
        self.startup_seconds = None
        self.ca = None  # pki.CA
        self.ca_path = None
        self.serving_cert = self.serving_key = None
        self.apiserver_log = os.path.join(self.dir, "kube-apiserver.log")
        self.etcd_log = os.path.join(self.dir, "etcd.log")
        self.admin_token = Token(secrets.token_hex(24))
        self._etcd = None
        self._apiserver = None
        self._ssl = None
        self._serving = {}
        self._names = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self):
        t0 = time.monotonic()
        apiserver = find_kube_apiserver()
        etcd = find_etcd()
        for attempt in range(3):
            # etcd needs no PKI: start it first, make the keys while it comes up.
            self._start_etcd(etcd)
            if self.ca is None:
                self._make_pki()
            self._start_apiserver(apiserver)
            try:
                self._wait_ready(t0)
                break
            except ClusterError as e:
                in_use = "address already in use" in (_tail(self.apiserver_log, 200) + _tail(self.etcd_log, 200))
                self._kill()
                if not in_use or attempt == 2:
                    raise e
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self):
        self._kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _make_pki(self):
        sa_key = os.path.join(self.dir, "sa.key")
        # RSA key generation dominates; the SA key is made in parallel with the CA.
        gen = subprocess.Popen(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                                "-out", sa_key], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ca = pki.CA(self.dir, "kubernetes-ca")
        self.ca_path = self.ca.cert_path
        self.serving_cert, self.serving_key = self.ca.issue("kube-apiserver", dns=SERVING_DNS, ips=SERVING_IPS)
        _, err = gen.communicate()
        if gen.returncode != 0:
            raise ClusterError("openssl genpkey failed: %s" % err.decode(errors="replace"))
        subprocess.run(["openssl", "pkey", "-in", sa_key, "-pubout", "-out", os.path.join(self.dir, "sa.pub")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tokens = os.path.join(self.dir, "tokens.csv")
        fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("%s,admin,admin,system:masters\n" % self.admin_token)
        self._ssl = ssl.create_default_context(cafile=self.ca_path)

    def _start_etcd(self, etcd):
        self.etcd_port = free_port()
        peer_port = free_port()
        data = os.path.join(self.dir, "etcd")
        shutil.rmtree(data, ignore_errors=True)
        url = "http://127.0.0.1:%d" % self.etcd_port
        with open(self.etcd_log, "ab") as log:
            self._etcd = subprocess.Popen(
                [etcd, "--data-dir", data, "--listen-client-urls", url, "--advertise-client-urls", url,
                 "--listen-peer-urls", "http://127.0.0.1:%d" % peer_port,
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer_port,
                 "--initial-cluster", "default=http://127.0.0.1:%d" % peer_port],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent)

    def _start_apiserver(self, apiserver, port=None):
        self.port = port or free_port()
        d = self.dir
        with open(self.apiserver_log, "ab") as log:
            self._apiserver = subprocess.Popen(
                [apiserver,
                 "--etcd-servers=http://127.0.0.1:%d" % self.etcd_port,
                 "--bind-address=127.0.0.1", "--secure-port=%d" % self.port, "--insecure-port=0",
                 "--tls-cert-file=" + self.serving_cert, "--tls-private-key-file=" + self.serving_key,
                 "--client-ca-file=" + self.ca_path,
                 "--token-auth-file=" + os.path.join(d, "tokens.csv"),
                 "--authorization-mode=RBAC",
                 "--service-account-issuer=" + ISSUER,
                 "--service-account-key-file=" + os.path.join(d, "sa.pub"),
                 "--service-account-signing-key-file=" + os.path.join(d, "sa.key"),
                 "--service-cluster-ip-range=10.96.0.0/16",
                 "--cert-dir=" + os.path.join(d, "apiserver-certs")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent)

    def _wait_ready(self, t0):
        while True:
            for name, proc, log in (("etcd", self._etcd, self.etcd_log),
                                    ("kube-apiserver", self._apiserver, self.apiserver_log)):
                if proc.poll() is not None:
                    raise ClusterError("%s exited with %d before /readyz; %s ends:\n%s"
                                       % (name, proc.returncode, log, _tail(log)))
            try:
                r = self.request("GET", "/readyz", timeout=2)
                if r.status == 200 and r.body.strip() == b"ok":
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() - t0 > self.ready_timeout:
                raise ClusterError("kube-apiserver not ready after %ds; %s ends:\n%s"
                                   % (self.ready_timeout, self.apiserver_log, _tail(self.apiserver_log)))
            time.sleep(0.05)

    def _kill(self):
        # The apiserver first, so it does not log a storm of etcd errors; SIGTERM, then
        # SIGKILL if it lingers, and always reap.
        for attr in ("_apiserver", "_etcd"):
            _terminate(getattr(self, attr))
            setattr(self, attr, None)

    def stop_apiserver(self):
        """Stops the apiserver alone (etcd keeps its data): clients see the connection drop."""
        proc, self._apiserver = self._apiserver, None
        _terminate(proc)

    def start_apiserver(self):
        """Starts the apiserver again on the same port, over the same etcd, and waits for /readyz."""
        self._start_apiserver(find_kube_apiserver(), port=self.port)
        self._wait_ready(time.monotonic())

    def etcdctl(self, *args):
        """Runs etcdctl (Debian etcd-client, API v3) against the cluster's etcd; its stdout."""
        exe = shutil.which("etcdctl")
        if not exe:
            raise ClusterError("no etcdctl: apt-get install -y etcd-client")
        proc = subprocess.run([exe, "--endpoints=http://127.0.0.1:%d" % self.etcd_port] + list(args),
                              env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"}, capture_output=True,
                              text=True, timeout=60)
        if proc.returncode != 0:
            raise ClusterError("etcdctl %s failed: %s" % (" ".join(args), proc.stderr.strip()))
        return proc.stdout

    def etcd_compact(self):
        """Compacts etcd up to its current revision: a watch from an older resourceVersion
        then ends in 410 Gone. Returns that revision."""
        status = json.loads(self.etcdctl("endpoint", "status", "-w", "json"))
        revision = status[0]["Status"]["header"]["revision"]
        self.etcdctl("compact", str(revision), "--physical")
        return revision

    @property
    def url(self):
        return "https://%s:%d" % (self.host, self.port)

    def serving_cert_for(self, name):
        """(cert, key) from the cluster CA with the apiserver's SANs, made once per name:
        for servers that stand in front of the apiserver (tests/standins/faultproxy.py)."""
        if name not in self._serving:
            self._serving[name] = self.ca.issue(name, dns=SERVING_DNS, ips=SERVING_IPS)
        return self._serving[name]

    # -- REST ---------------------------------------------------------------------------

    def request(self, method, path, body=None, content_type=None, token=None, query=None,
                port=None, timeout=30, headers=None):
        """One HTTPS request over a fresh connection; token=None uses the admin token,
        token="" sends none. body: bytes, str, or an object sent as JSON."""
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        hdrs = {"Accept": "application/json"}
        if token is None:
            token = self.admin_token
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            hdrs["Content-Type"] = content_type or "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPSConnection(self.host, port or self.port, context=self._ssl, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def _call(self, method, path, body=None, ok=(200, 201), **kw):
        r = self.request(method, path, body, **kw)
        if r.status not in ok:
            raise ApiError(method, path, r)
        return r.json() if r.body else None

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def create(self, path, obj, **kw):
        return self._call("POST", path, obj, **kw)

    def replace(self, path, obj, **kw):
        return self._call("PUT", path, obj, **kw)

    def delete(self, path, missing_ok=True, **kw):
        r = self.request("DELETE", path, **kw)
        if r.status in (200, 202) or (missing_ok and r.status == 404):
            return r.status
        raise ApiError("DELETE", path, r)

    def patch(self, path, obj, patch_type="merge", field_manager=None, force=None, dry_run=False, **kw):
        """patch_type: apply (server-side apply), merge, strategic or json."""
        query = dict(kw.pop("query", None) or {})
        if field_manager:
            query["fieldManager"] = field_manager
        if force is not None:
            query["force"] = "true" if force else "false"
        if dry_run:
            query["dryRun"] = "All"
        return self._call("PATCH", path, obj, content_type=PATCH_CONTENT_TYPES[patch_type], query=query, **kw)

    def apply(self, obj, field_manager=HARNESS_FIELD_MANAGER, force=True, **kw):
        """Server-side apply of a manifest as admin; creates or updates."""
        return self.patch(object_path(obj), obj, "apply", field_manager=field_manager, force=force, **kw)

    def list(self, path, label_selector=None, field_selector=None, limit=None, **kw):
        """All items of a collection, following metadata.continue."""
        items, cont = [], None
        while True:
            query = {}
            if label_selector:
                query["labelSelector"] = label_selector
            if field_selector:
                query["fieldSelector"] = field_selector
            if limit:
                query["limit"] = str(limit)
            if cont:
                query["continue"] = cont
            page = self._call("GET", path, query=query, **kw)
            items += page.get("items") or []
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                return items

    # -- namespaces ---------------------------------------------------------------------

    def create_namespace(self, name, labels=None):
        meta = {"name": name}
        if labels:
            meta["labels"] = dict(labels)
        return self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})

    def ensure_namespace(self, name, labels=None):
        r = self.request("GET", "/api/v1/namespaces/" + name)
        if r.status == 404:
            return self.create_namespace(name, labels)
        if r.status != 200:
            raise ApiError("GET", "/api/v1/namespaces/" + name, r)
        return r.json()

    def delete_namespace(self, name):
        """Marks it Terminating (forever: no namespace controller runs here)."""
        return self.delete("/api/v1/namespaces/" + name)

    def unique_name(self, prefix="t"):
        """A DNS-label name no other test in this cluster uses."""
        name = "%s-%d-%s" % (prefix, next(self._names), secrets.token_hex(3))
        return name.lower()[:63].rstrip("-")

    def unique_namespace(self, prefix="t", labels=None):
        name = self.unique_name(prefix)
        self.create_namespace(name, labels)
        return name

    # -- identity -----------------------------------------------------------------------

    def setup_identity(self, namespaces, secret_name="ecr-creds", sa_name="ecr-refresh",
                       sa_namespace="ecr-refresh-system", selector_mode=False, service_accounts=False):
        """Creates (missing) namespaces and applies identity_manifests(...). Without
        selector_mode a ClusterRoleBinding left for this name by an earlier call is removed,
        so the ServiceAccount holds exactly the rules asked for. Returns the manifests."""
        manifests = identity_manifests(namespaces, secret_name, sa_name, sa_namespace,
                                       selector_mode, service_accounts)
        for ns in [sa_namespace] + [n for n in namespaces if n != sa_namespace]:
            self.ensure_namespace(ns)
        if not selector_mode:
            self.delete("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + sa_name)
        for obj in manifests:
            self.apply(obj)
        return manifests

    def mint_token(self, sa_namespace="ecr-refresh-system", sa_name="ecr-refresh", audiences=None,
                   expiration=3600):
        """A bound ServiceAccount token from the TokenRequest API (expiration >= 600 s).
        Tokens are deterministic: the same request within one second gives the same one."""
        spec = {"audiences": list(audiences or [ISSUER]), "expirationSeconds": int(expiration)}
        r = self.create("/api/v1/namespaces/%s/serviceaccounts/%s/token" % (sa_namespace, sa_name),
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        return Token(r["status"]["token"])

    def make_sa_dir(self, path, namespace="ecr-refresh-system", sa_name="ecr-refresh", token=None,
                    audiences=None, expiration=3600):
        """A folder shaped like /var/run/secrets/kubernetes.io/serviceaccount for the
        ServiceAccount sa_name in `namespace` (the pod's namespace): token, ca.crt and
        namespace, laid out as kubelet's AtomicWriter does (files behind a ..data symlink,
        swapped atomically). Calling it again on the same path rotates the token."""
        if token is None:
            token = self.mint_token(namespace, sa_name, audiences, expiration)
        with open(self.ca_path, "rb") as f:
            ca = f.read()
        write_projected_dir(path, {"token": token.encode(), "ca.crt": ca, "namespace": namespace.encode()})
        return path

    def env(self, sa_dir, port=None):
        """The variables a pod would see, pointing at this cluster (or at port, e.g. a
        FaultProxy in front of it)."""
        return {"KUBERNETES_SERVICE_HOST": self.host,
                "KUBERNETES_SERVICE_PORT": str(port or self.port),
                "SERVICEACCOUNT_DIR": sa_dir}

    # -- assertions ---------------------------------------------------------------------

    def get_secret_raw(self, namespace, name):
        """The Secret object, or None if it does not exist."""
        r = self.request("GET", "/api/v1/namespaces/%s/secrets/%s" % (namespace, name))
        if r.status == 404:
            return None
        if r.status != 200:
            raise ApiError("GET", "secret %s/%s" % (namespace, name), r)
        return r.json()

    def get_secret(self, namespace, name):
        """The Secret object with `data` decoded from base64 to str (UTF-8), or None."""
        obj = self.get_secret_raw(namespace, name)
        if obj is not None:
            obj["data"] = {k: base64.b64decode(v).decode("utf-8") for k, v in (obj.get("data") or {}).items()}
        return obj

    def managed_fields(self, namespace, name):
        """metadata.managedFields of the Secret ([] if absent)."""
        obj = self.get_secret_raw(namespace, name)
        return (obj or {}).get("metadata", {}).get("managedFields") or []

    def field_managers(self, namespace, name):
        """[(manager, operation)] of the Secret."""
        return [(m.get("manager"), m.get("operation")) for m in self.managed_fields(namespace, name)]

    def resource_version(self, namespace, name):
        obj = self.get_secret_raw(namespace, name)
        return None if obj is None else obj["metadata"]["resourceVersion"]


def write_projected_dir(path, files):
    """Writes files the way kubelet's AtomicWriter does: into a fresh ..TIMESTAMP folder,
    then the ..data symlink is renamed over atomically, and each name is a symlink
    through ..data. A reader holding no descriptor always sees one consistent set."""
    os.makedirs(path, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    new = os.path.join(path, stamp)
    os.mkdir(new)
    for name, data in files.items():
        fd = os.open(os.path.join(new, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 if name != "token" else 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    data_link = os.path.join(path, "..data")
    old = os.readlink(data_link) if os.path.islink(data_link) else None
    tmp_link = os.path.join(path, "..data_tmp")
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(stamp, tmp_link)
    os.replace(tmp_link, data_link)
    for name in files:
        link = os.path.join(path, name)
        if not os.path.islink(link):
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.join("..data", name), link)
    if old and old != stamp:
        shutil.rmtree(os.path.join(path, old), ignore_errors=True)
