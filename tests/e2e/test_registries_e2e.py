"""End to end: one Secret for every kind of registry a namespace pulls from, written by
build/ecr-refresh into the real kube-apiserver (tests/standins/k8s_cluster.py): private ECR in two
regions and ECR Public from the AWS stand-in (SigV4 checked with botocore), Docker Hub from a
mounted dockerconfig file, and Google from the stand-in token endpoint (JWT signature
checked with the key's public half) or metadata server. Every run's output is scanned for
the secrets planted: AWS keys and passwords, the Google private key and access tokens, the
Docker Hub token.

The stand-ins themselves are checked first: they must refuse what Google would refuse,
or their acceptance of the binary's requests would prove nothing.
"""
import base64
import calendar
import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import googlestub
from conftest import BIN

SECRET = "ecr-creds"
DOCKER_HUB = "https://index.docker.io/v1/"
GCR_HOSTS = ["gcr.io", "europe-west1-docker.pkg.dev"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key, claims, header=None):
    head = b64url(json.dumps(header or {"alg": "RS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = key.sign((head + "." + body).encode(), padding.PKCS1v15(), hashes.SHA256())
    return head + "." + body + "." + b64url(sig)


def post_token(stub, form):
    ctx = ssl.create_default_context(cafile=stub.ca_path)
    req = urllib.request.Request(stub.token_uri, urllib.parse.urlencode(form).encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---- the stand-ins refuse what Google refuses --------------------------------------------

def test_token_stub_verifies_signature_claims_and_grant(google_stub):
    g = google_stub
    key = serialization.load_pem_private_key(g.key_pem.encode(), None)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    good = {"iss": g.email, "scope": googlestub.SCOPE, "aud": g.token_uri, "iat": now, "exp": now + 3600}
    grant = googlestub.GRANT_TYPE

    status, answer = post_token(g, {"grant_type": grant, "assertion": make_jwt(key, good)})
    assert status == 200 and answer["access_token"] == g.tokens_issued[-1] and answer["expires_in"] > 0
    refused = [
        {"grant_type": grant, "assertion": make_jwt(other, good)},                       # wrong key
        {"grant_type": grant, "assertion": make_jwt(key, dict(good, aud="https://x/"))},
        {"grant_type": grant, "assertion": make_jwt(key, dict(good, iss="x@y"))},
        {"grant_type": grant, "assertion": make_jwt(key, dict(good, scope="openid"))},
        {"grant_type": grant, "assertion": make_jwt(key, dict(good, exp=now + 7200))},
        {"grant_type": grant, "assertion": make_jwt(key, dict(good, iat=now - 4000, exp=now - 400))},
        {"grant_type": grant, "assertion": make_jwt(key, good, {"alg": "HS256", "typ": "JWT"})},
        {"grant_type": grant, "assertion": make_jwt(key, good)[:-4]},                   # cut signature
        {"grant_type": "client_credentials", "assertion": make_jwt(key, good)},
    ]
    for form in refused:
        status, answer = post_token(g, form)
        assert status == 400 and answer["error"], form
    assert len(g.tokens_issued) == 1


def test_metadata_stub_demands_the_flavor_header(google_stub):
    url = "http://%s%s" % (google_stub.metadata_host, googlestub.METADATA_TOKEN_PATH)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 403
    req = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Metadata-Flavor"] == "Google"
        assert json.loads(r.read())["access_token"] == google_stub.tokens_issued[-1]


# ---- the binary ------------------------------------------------------------------------

@pytest.fixture
def world(k8s_cluster, aws_stub, google_stub, tmp_path):
    """Runs the binary with every stand-in in reach and checks its output for secrets."""
    pat = "dckr_pat_" + secrets.token_urlsafe(24)
    hub_dir = tmp_path / "dockerhub"
    hub_dir.mkdir()
    hub = hub_dir / ".dockerconfigjson"
    auth = base64.b64encode(("ecrrefreshbot:" + pat).encode()).decode()
    # What `kubectl create secret docker-registry` writes; mounted from a Secret.
    hub.write_text(json.dumps({"auths": {DOCKER_HUB: {"username": "ecrrefreshbot", "password": pat,
                                                      "auth": auth}}}))

    class World:
        pass

    w = World()
    w.cluster, w.aws, w.google, w.pat, w.hub_file, w.tmp = k8s_cluster, aws_stub, google_stub, pat, str(hub), tmp_path

    def sa_dir():
        path = str(tmp_path / "sa")
        k8s_cluster.make_sa_dir(path, "ecr-refresh-system")
        return path

    def run(args, env_extra, sa=None, aws=True):
        env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": "debug"}
        if sa:
            env.update(k8s_cluster.env(sa))
        if aws:
            env.update(aws_stub.env())
            env.update(aws_stub.env_static_keys())
        env.update(env_extra)
        proc = subprocess.run([BIN] + args, env=env, capture_output=True, text=True, timeout=120)
        text = proc.stdout + proc.stderr
        assert aws_stub.leaked_secrets(text) == [], proc.stderr
        assert google_stub.leaked_secrets(text) == [], proc.stderr
        assert pat not in text and pat[:20] not in text, "the Docker Hub token reached the output"
        for line in proc.stderr.splitlines():
            json.loads(line)
        return proc

    w.sa_dir, w.run = sa_dir, run
    return w


def ecr_hosts(stub):
    return [stub.registry_host("us-east-1"), stub.registry_host("eu-west-1")]


def check_entry(auths, key, user, password):
    entry = auths[key]
    assert entry["username"] == user and entry["password"] == password, key
    assert base64.b64decode(entry["auth"]).decode() == user + ":" + password, key


def test_one_secret_for_every_kind_of_registry(world):
    w = world
    ns = w.cluster.unique_namespace("all")
    w.cluster.setup_identity([ns])
    t0 = time.time()
    proc = w.run(["--namespaces", ns, "--ecr-public", "--gcr-auth", "access-token"], {
        "ECR_REGISTRIES": ",".join(ecr_hosts(w.aws)),
        "EXTRA_DOCKERCONFIG_FILES": w.hub_file,
        "GCR_REGISTRIES": " ,".join(GCR_HOSTS),
        "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path,
        "SSL_CERT_FILE": w.google.ca_path,
    }, sa=w.sa_dir())
    assert proc.returncode == 0, proc.stderr
    secret = w.cluster.get_secret(ns, SECRET)
    auths = json.loads(secret["data"][".dockerconfigjson"])["auths"]
    east, west = ecr_hosts(w.aws)
    assert list(auths) == [east, west, "public.ecr.aws"] + GCR_HOSTS + [DOCKER_HUB]
    check_entry(auths, east, "AWS", w.aws.password_for("us-east-1"))
    check_entry(auths, west, "AWS", w.aws.password_for("eu-west-1"))
    check_entry(auths, "public.ecr.aws", "AWS", w.aws.public_password())
    check_entry(auths, DOCKER_HUB, "ecrrefreshbot", w.pat)
    assert len(w.google.tokens_issued) == 1
    for host in GCR_HOSTS:
        check_entry(auths, host, "oauth2accesstoken", w.google.tokens_issued[0])
    annotations = secret["metadata"]["annotations"]
    assert annotations["ecr-refresh.io/registries"].split(",") == list(auths)
    # The earliest expiry is the Google token's hour, not the ECR tokens' twelve.
    expires = calendar.timegm(time.strptime(annotations["ecr-refresh.io/expires-at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert t0 + 3500 <= expires <= time.time() + 3600
    public_calls = w.aws.calls("ecr-public", status=200)
    assert len(public_calls) == 1 and public_calls[0]["region"] == "us-east-1"
    assert len(w.aws.ecr_token_calls()) == 2


def test_json_key_and_metadata_modes(world):
    w = world
    proc = w.run(["--namespaces", "a", "--output", "json"], {
        "GCR_REGISTRIES": "us.gcr.io", "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path}, aws=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["items"][0]
    auths = json.loads(base64.b64decode(doc["data"][".dockerconfigjson"]))["auths"]
    check_entry(auths, "us.gcr.io", "_json_key", w.google.key_text())
    # A key never expires: with nothing else in the Secret, there is no expiry to note.
    assert "ecr-refresh.io/expires-at" not in doc["metadata"]["annotations"]
    assert w.google.count("token") == 0 and w.aws.requests_received == 0

    # Workload Identity: no key file, the metadata server.
    proc = w.run(["--namespaces", "a", "--output", "yaml"], {
        "GCR_REGISTRIES": "europe-west1-docker.pkg.dev", "GCE_METADATA_HOST": w.google.metadata_host}, aws=False)
    assert proc.returncode == 0, proc.stderr
    assert w.google.count("metadata") == 1 and len(w.google.tokens_issued) == 1
    assert '"credentials":"metadata"' in proc.stderr.replace(" ", "")


def test_static_host_clashing_with_ecr_is_a_configuration_error(world):
    w = world
    east = ecr_hosts(w.aws)[0]
    clash = w.tmp / "clash.json"
    clash.write_text(json.dumps({"auths": {"https://" + east: {"username": "AWS", "password": "stale-password"}}}))
    proc = w.run(["--namespaces", "a", "--output", "json"], {
        "ECR_REGISTRIES": east, "EXTRA_DOCKERCONFIG_FILES": "%s,%s" % (w.hub_file, clash)})
    assert proc.returncode == 2, proc.stderr
    assert str(clash) in proc.stderr and east in proc.stderr
    assert w.aws.requests_received == 0 and proc.stdout == ""
    assert "stale-password" not in proc.stderr


def test_unreadable_or_invalid_dockerconfig_exits_2_naming_the_file(world):
    w = world
    missing = str(w.tmp / "missing.json")
    helper = w.tmp / "config.json"
    helper.write_text(json.dumps({"auths": {DOCKER_HUB: {}}, "credsStore": "desktop"}))
    for path, says in ((missing, "No such file"), (str(helper), "credential helpers"), (str(w.tmp), "not a regular")):
        proc = w.run(["--namespaces", "a", "--output", "json"], {"EXTRA_DOCKERCONFIG_FILES": path}, aws=False)
        assert proc.returncode == 2, proc.stderr
        assert path in proc.stderr and says in proc.stderr


def test_malformed_key_file_exits_2(world):
    w = world
    bad_pem = w.google.key_pem.replace("\n", "", 3)[:400] + "\n-----END PRIVATE KEY-----\n"
    cases = [
        w.google.write_key_file("broken-pem.json", private_key=bad_pem),
        w.google.write_key_file("user.json", type="authorized_user"),
        w.google.write_key_file("truncated.json", text=w.google.key_text()[:900]),
        w.google.write_key_file("http-uri.json", token_uri="http://127.0.0.1:1/token"),
    ]
    for path in cases:
        proc = w.run(["--namespaces", "a", "--output", "json", "--gcr-auth", "access-token"], {
            "GCR_REGISTRIES": "gcr.io", "GOOGLE_APPLICATION_CREDENTIALS": path,
            "SSL_CERT_FILE": w.google.ca_path}, aws=False)
        assert proc.returncode == 2, proc.stderr
        assert path in proc.stderr and "GOOGLE_APPLICATION_CREDENTIALS" in proc.stderr
    assert w.google.count("token") == 0


def test_google_token_refused_exits_3_and_writes_nothing(world):
    w = world
    ns = w.cluster.unique_namespace("gfail")
    w.cluster.setup_identity([ns])
    w.google.fail_next = (400, "invalid_grant", "Invalid JWT Signature.")
    proc = w.run(["--namespaces", ns, "--gcr-auth", "access-token"], {
        "GCR_REGISTRIES": "gcr.io", "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path,
        "SSL_CERT_FILE": w.google.ca_path, "EXTRA_DOCKERCONFIG_FILES": w.hub_file}, sa=w.sa_dir())
    assert proc.returncode == 3, proc.stderr
    assert "invalid_grant" in proc.stderr and "Invalid JWT Signature." in proc.stderr
    assert w.cluster.get_secret_raw(ns, SECRET) is None
    assert w.google.count("token") == 1, "a refusal is not retried"
    # Untrusted TLS: without the test CA the token endpoint is refused, nothing is sent.
    proc = w.run(["--namespaces", ns, "--gcr-auth", "access-token"], {
        "GCR_REGISTRIES": "gcr.io", "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path}, sa=w.sa_dir())
    assert proc.returncode == 3, proc.stderr
    assert len(w.google.tokens_issued) == 0


def test_google_5xx_is_retried(world):
    w = world
    w.google.fail_next = (503, "backendError", "try again")
    proc = w.run(["--namespaces", "a", "--output", "json", "--gcr-auth", "access-token"], {
        "GCR_REGISTRIES": "gcr.io", "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path,
        "SSL_CERT_FILE": w.google.ca_path}, aws=False)
    assert proc.returncode == 0, proc.stderr
    assert w.google.count("token") == 2 and len(w.google.tokens_issued) == 1
    retried = [json.loads(l) for l in proc.stderr.splitlines() if '"google request retried"' in l]
    assert len(retried) == 1 and retried[0]["attempt"] == 1 and "503" in retried[0]["error"]


def test_metadata_server_must_be_local(world):
    w = world
    proc = w.run(["--namespaces", "a", "--output", "json"], {
        "GCR_REGISTRIES": "gcr.io", "GCE_METADATA_HOST": "192.0.2.1"}, aws=False)
    assert proc.returncode == 2 and "GCE_METADATA_HOST" in proc.stderr, proc.stderr


def test_only_other_registries_need_no_aws(world):
    """Private ECR is the default family only when no other one is configured."""
    w = world
    proc = w.run(["--namespaces", "a", "--output", "json"], {"EXTRA_DOCKERCONFIG_FILES": w.hub_file}, aws=False)
    assert proc.returncode == 0, proc.stderr
    auths = json.loads(base64.b64decode(json.loads(proc.stdout)["items"][0]["data"][".dockerconfigjson"]))["auths"]
    assert list(auths) == [DOCKER_HUB]
    # Nothing configured at all: private ECR is still the default, and wants AWS.
    proc = w.run(["--namespaces", "a", "--output", "json"], {"AWS_EC2_METADATA_DISABLED": "true"}, aws=False)
    assert proc.returncode == 3, proc.stderr


def applied(proc):
    """namespace -> result of the per-namespace lines."""
    return {l["namespace"]: l["result"] for l in map(json.loads, proc.stderr.splitlines())
            if l["msg"] in ("secret applied", "secret fresh")}


def test_refresh_before_digest_covers_the_static_entries(world):
    """With --refresh-before, a changed --extra-dockerconfig file rewrites every Secret (the
    config digest covers the static entries as written); unchanged, a run reads the Secret
    list and contacts no registry, neither AWS nor Google."""
    from test_fresh_e2e import settle
    w = world
    a, b = w.cluster.unique_namespace("stat"), w.cluster.unique_namespace("stat")
    w.cluster.setup_identity([a, b])
    sa = w.sa_dir()
    env = {"ECR_REGISTRIES": ecr_hosts(w.aws)[0], "EXTRA_DOCKERCONFIG_FILES": w.hub_file,
           "GCR_REGISTRIES": "gcr.io", "GCR_AUTH": "access-token", "ECR_PUBLIC": "true",
           "GOOGLE_APPLICATION_CREDENTIALS": w.google.key_path, "SSL_CERT_FILE": w.google.ca_path,
           "REFRESH_BEFORE": "30m"}    # the Google token lives an hour
    args = ["--namespaces", "%s,%s" % (a, b)]

    def quiet_run(expected):
        settle(w.cluster, [a, b])
        w.aws.reset()
        google_before = len(w.google.requests)
        proc = w.run(args, env, sa=sa)
        assert proc.returncode == 0 and applied(proc) == {a: expected, b: expected}, proc.stderr
        assert w.aws.requests_received == 0 and len(w.google.requests) == google_before
        return proc

    proc = w.run(args, env, sa=sa)
    assert proc.returncode == 0 and applied(proc) == {a: "created", b: "created"}, proc.stderr
    digest = w.cluster.get_secret(a, SECRET)["metadata"]["annotations"]["ecr-refresh.io/config-digest"]
    quiet_run("fresh")

    # the same key, another user: the file's content changed, so every Secret is rewritten
    doc = json.loads(open(w.hub_file).read())
    doc["auths"][DOCKER_HUB]["username"] = "ecrrefreshbot2"
    doc["auths"][DOCKER_HUB]["auth"] = base64.b64encode(("ecrrefreshbot2:" + w.pat).encode()).decode()
    open(w.hub_file, "w").write(json.dumps(doc))
    settle(w.cluster, [a, b])
    proc = w.run(args, env, sa=sa)
    assert proc.returncode == 0 and applied(proc) == {a: "updated", b: "updated"}, proc.stderr
    for ns in (a, b):
        secret = w.cluster.get_secret(ns, SECRET)
        assert secret["metadata"]["annotations"]["ecr-refresh.io/config-digest"] != digest
        check_entry(json.loads(secret["data"][".dockerconfigjson"])["auths"], DOCKER_HUB, "ecrrefreshbot2", w.pat)
    quiet_run("fresh")


def test_refresh_before_nothing_expires(world):
    """Static entries alone: no expires-at annotation, and the Secret stays fresh for as
    long as the file and the registries stay the same."""
    from test_fresh_e2e import settle
    w = world
    ns = w.cluster.unique_namespace("static-only")
    w.cluster.setup_identity([ns])
    sa = w.sa_dir()
    env = {"EXTRA_DOCKERCONFIG_FILES": w.hub_file, "REFRESH_BEFORE": "24h"}   # the longest margin: still fresh
    proc = w.run(["--namespaces", ns], env, sa=sa, aws=False)
    assert proc.returncode == 0 and applied(proc) == {ns: "created"}, proc.stderr
    annotations = w.cluster.get_secret(ns, SECRET)["metadata"]["annotations"]
    assert "ecr-refresh.io/expires-at" not in annotations
    assert annotations["ecr-refresh.io/registries"] == DOCKER_HUB
    settle(w.cluster, [ns])
    proc = w.run(["--namespaces", ns], env, sa=sa, aws=False)
    assert proc.returncode == 0 and applied(proc) == {ns: "fresh"}, proc.stderr
    (line,) = [l for l in map(json.loads, proc.stderr.splitlines()) if l["msg"] == "secret fresh"]
    assert line["expires_at"] is None
