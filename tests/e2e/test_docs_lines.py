"""Every log line the documentation quotes is one the binary prints.

The docs (README.md, docs/*.md) quote whole JSON log lines in indented code blocks. Each
scenario below makes build/ecr-refresh print such a line for real, against the real
kube-apiserver (tests/standins/k8s_cluster.py) and the AWS stand-in (tests/standins/awsstub.py), and maps the
test's own names (random namespaces, 127.0.0.1:PORT, temporary folders) to the example
names the docs use (team-a, 10.100.0.1:443, /var/run/secrets/...). A quoted line must then
equal a produced line field by field, but for `ts`, `seconds` and `expires_at`; and every scenario's line
must be quoted, so a doc cannot keep a line the binary no longer prints, and a scenario
cannot outlive its doc. Exit codes are checked too.

Scenarios also time themselves where the docs state a duration (an unreachable API server).
"""
import base64
import glob
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import pki
from conftest import BIN, ROOT
from k8s_cluster import Token, write_projected_dir

SECRET = "ecr-creds"
REGION = "eu-west-1"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API = "10.100.0.1:443"
PROXY = "10.0.0.10:3128"
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
IGNORED_FIELDS = ("ts", "seconds", "expires_at")      # the clock's, not the docs'


def quoted_lines():
    """(file, line number, parsed line) of every JSON log line quoted in the docs."""
    out = []
    for path in DOCS:
        with open(path) as f:
            for n, text in enumerate(f, 1):
                text = text.strip()
                if text.startswith('{"ts":'):
                    out.append((os.path.relpath(path, ROOT), n, json.loads(text)))
    return out


def comparable(line):
    return {k: v for k, v in line.items() if k not in IGNORED_FIELDS}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silent:
    """A TCP server that accepts and never answers (a blackholed metadata endpoint)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


class Scenarios:
    """Runs the binary and keeps what every scenario printed, mapped to the docs' names."""

    def __init__(self, cluster, stub, tmp):
        self.cluster, self.stub, self.tmp = cluster, stub, tmp
        self.produced = {}          # scenario name -> [line]
        self.codes = {}             # scenario name -> exit code
        self.seconds = {}
        self.text = []              # lines of --log-format text runs

    def ns(self, prefix):
        # Short names, like the docs' team-a: the log redacts token-like runs of 20 or more
        # characters in peer text (docs/reference.md), which a long unique name would be.
        return self.cluster.unique_namespace("d")

    def sa_dir(self, name, **kw):
        path = os.path.join(self.tmp, name)
        self.cluster.make_sa_dir(path, "ecr-refresh-system", **kw)
        return path

    def aws_env(self, keys=True):
        env = {"PATH": "/usr/bin:/bin"}
        env.update(self.stub.env())
        if keys:
            env.update(self.stub.env_static_keys())
        env["ECR_REGISTRIES"] = self.stub.registry_host(REGION)
        return env

    def run(self, name, args, env, subs, timeout=120):
        """Runs the binary; subs maps the run's own strings to the docs' ones."""
        t0 = time.monotonic()
        proc = subprocess.run([BIN] + args, env=env, capture_output=True, text=True, timeout=timeout)
        self.seconds[name] = time.monotonic() - t0
        self.codes[name] = proc.returncode
        pairs = sorted(subs.items(), key=lambda kv: -len(kv[0]))

        def doc(value):
            if isinstance(value, str):
                for actual, wanted in pairs:
                    value = value.replace(actual, wanted)
            return value

        lines = []
        for text in proc.stderr.splitlines():
            if env.get("LOG_FORMAT") == "text":
                self.text.append(doc(text))
                continue
            line = json.loads(text)
            lines.append({k: doc(v) for k, v in line.items()})
        secrets = list(self.stub.all_secrets())
        sa = env.get("SERVICEACCOUNT_DIR")
        if sa and os.path.exists(os.path.join(sa, "token")):
            with open(os.path.join(sa, "token")) as f:
                secrets.append(f.read().strip())
        for secret in secrets:
            assert secret not in proc.stdout + proc.stderr, "a secret reached the output of %s" % name
        self.produced[name] = lines
        return lines

    def k8s_subs(self, sa, port=None, **names):
        subs = {"127.0.0.1:%d" % (port or self.cluster.port): API, sa + "/": SA_DIR + "/", sa: SA_DIR,
                "ecr-refresh-system": "ecr-refresh", self.stub.account_id: "111122223333"}
        subs.update({actual: wanted for wanted, actual in names.items()})
        return subs

    def k8s_env(self, sa, port=None, extra=None):
        env = self.aws_env()
        env.update(self.cluster.env(sa, port=port))
        env.update(extra or {})
        return env


# ---- the scenarios ------------------------------------------------------------------------
# Each makes the binary print the lines one docs section quotes. Names: the docs' example
# namespace for each namespace the scenario makes.

def scenario_success(s):
    """README.md, "Did it work?": two registries in two accounts and regions, two namespaces,
    REFRESH_BEFORE=6h as the shipped ConfigMap sets it, under the per-namespace Roles; then
    the next run, which finds both Secrets fresh."""
    a, b = s.ns("ok-a"), s.ns("ok-b")
    s.cluster.setup_identity([a, b])
    sa = s.sa_dir("sa-ok")
    env = s.k8s_env(sa)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        del env[name]
    env.update(s.stub.env_web_identity(os.path.join(s.tmp, "irsa-ok"), region=REGION))
    env["ECR_REGISTRIES"] = "%s,%s" % (s.stub.registry_host(REGION), s.stub.registry_host("us-east-1", "444455556666"))
    env["REFRESH_BEFORE"] = "6h"
    s.run("success", ["--namespaces", "%s,%s" % (a, b)], env, s.k8s_subs(sa, **{"team-a": a, "team-b": b}))
    s.run("success_fresh", ["--namespaces", "%s,%s" % (a, b)], env, s.k8s_subs(sa, **{"team-a": a, "team-b": b}))
    c = s.ns("text")
    s.cluster.setup_identity([c])
    s.run("success_text", ["--namespaces", c], dict(env, LOG_FORMAT="text"), s.k8s_subs(sa, **{"team-a": c}))


def scenario_rbac_403(s):
    a, b, denied = s.ns("a"), s.ns("b"), s.ns("denied")
    s.cluster.setup_identity([a, b])
    sa = s.sa_dir("sa-rbac")
    s.run("rbac_403", ["--namespaces", "%s,%s,%s" % (a, denied, b)], s.k8s_env(sa),
          s.k8s_subs(sa, **{"team-a": a, "team-b": denied, "team-c": b}))


def scenario_misspelt_namespace(s):
    a = s.ns("a")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-misspelt")
    missing = s.cluster.unique_name("m")
    s.run("misspelt", ["--namespaces", missing], s.k8s_env(sa), s.k8s_subs(sa, **{"tema-b": missing}))


def scenario_terminating(s):
    dying = s.ns("dying")
    s.cluster.setup_identity([dying])
    s.cluster.delete_namespace(dying)          # stays Terminating: no namespace controller
    sa = s.sa_dir("sa-terminating")
    s.run("terminating", ["--namespaces", dying], s.k8s_env(sa), s.k8s_subs(sa, **{"team-c": dying}))


def scenario_service_accounts(s):
    a = s.ns("sa-ok")
    s.cluster.setup_identity([a], service_accounts=["default"])
    s.cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": a}})
    sa = s.sa_dir("sa-patch")
    s.run("sa_updated", ["--namespaces", a, "--service-accounts", "default"], s.k8s_env(sa),
          s.k8s_subs(sa, **{"team-a": a}))
    b = s.ns("sa-denied")
    s.cluster.setup_identity([b])
    s.cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": b}})
    s.run("sa_denied", ["--namespaces", b, "--service-accounts", "default"], s.k8s_env(sa),
          s.k8s_subs(sa, **{"team-a": b}))


def scenario_cannot_list(s):
    a = s.ns("nolist")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-nolist")
    s.run("cannot_list", ["--namespace-selector", "ecr-refresh.io/pull-secret=true"], s.k8s_env(sa),
          s.k8s_subs(sa))


def scenario_conflict(s):
    a = s.ns("conflict")
    s.cluster.setup_identity([a])
    theirs = json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"u:p").decode()}}})
    s.cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "namespace": a},
                     "type": "kubernetes.io/dockerconfigjson",
                     "data": {".dockerconfigjson": base64.b64encode(theirs.encode()).decode()}},
                    field_manager="kubectl-create")
    sa = s.sa_dir("sa-conflict")
    s.run("conflict", ["--namespaces", a], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))


def scenario_opaque(s):
    a = s.ns("opaque")
    s.cluster.setup_identity([a])
    s.cluster.create("/api/v1/namespaces/%s/secrets" % a, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                                           "metadata": {"name": SECRET}, "data": {"x": "eQ=="}})
    sa = s.sa_dir("sa-opaque")
    s.run("opaque", ["--namespaces", a], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))
    s.run("opaque_forced", ["--namespaces", a, "--force"], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))


def scenario_untrusted_api_server(s):
    a = s.ns("untrusted")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-untrusted")
    rogue = pki.CA(os.path.join(s.tmp, "rogue"), "some other CA")
    with open(rogue.cert_path, "rb") as f:
        ca = f.read()
    with open(os.path.join(sa, "token"), "rb") as f:
        token = f.read()
    write_projected_dir(sa, {"token": token, "ca.crt": ca, "namespace": b"ecr-refresh-system"})
    s.run("untrusted", ["--namespaces", a], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))


def scenario_no_ca_crt(s):
    a = s.ns("noca")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-noca")
    os.unlink(os.path.join(sa, "ca.crt"))
    s.run("no_ca_crt", ["--namespaces", a], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))


def scenario_token_refused(s):
    a = s.ns("badtoken")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-badtoken", token=Token("not-a-valid-token-" + "x" * 40))
    s.run("token_refused", ["--namespaces", a], s.k8s_env(sa), s.k8s_subs(sa, **{"team-a": a}))


def scenario_unreachable(s):
    a = s.ns("unreachable")
    s.cluster.setup_identity([a])
    sa = s.sa_dir("sa-unreachable")
    port = free_port()                          # closed again: nothing listens there
    s.run("unreachable", ["--namespaces", a], s.k8s_env(sa, port=port),
          s.k8s_subs(sa, port=port, **{"team-a": a}), timeout=400)
    # The API server's request goes to a proxy that is not there; AWS (named localhost here)
    # bypasses it through NO_PROXY.
    proxy = free_port()
    env = s.k8s_env(sa, extra={"HTTPS_PROXY": "http://127.0.0.1:%d" % proxy, "NO_PROXY": "localhost"})
    for name in ("AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_STS"):
        env[name] = env[name].replace("127.0.0.1", "localhost")
    s.run("unreachable_proxy", ["--namespaces", a], env,
          dict(s.k8s_subs(sa, **{"team-a": a}), **{"127.0.0.1:%d" % proxy: PROXY}), timeout=400)


def aws_run(s, name, env, extra_subs=None):
    subs = {s.stub.registry_host(REGION): "111122223333.dkr.ecr.%s.amazonaws.com" % REGION,
            "127.0.0.1:%d" % s.stub.port("ecr"): "api.ecr.%s.amazonaws.com:443" % REGION}
    subs.update(extra_subs or {})
    return s.run(name, ["--output", "yaml", "--namespaces", "team-a"], env, subs)


def scenario_aws(s):
    s.stub.fail_next("ecr", 1, 400, "AccessDeniedException",
                     "User: arn:aws:sts::111122223333:assumed-role/ecr-refresh/session is not authorized to "
                     "perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy "
                     "allows the ecr:GetAuthorizationToken action")
    aws_run(s, "access_denied", s.aws_env())

    silent = Silent()
    try:
        env = s.aws_env(keys=False)
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:%d" % silent.port
        aws_run(s, "no_credentials", env, {"(127.0.0.1:": "(169.254.169.254:"})
    finally:
        silent.close()

    env = s.aws_env(keys=False)
    env.update(s.stub.env_web_identity(os.path.join(s.tmp, "irsa"), region=REGION))
    s.stub.fail_next("sts", 10, 400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
    aws_run(s, "invalid_identity_token", env)
    s.stub.reset()

    env = s.aws_env()
    env["AWS_SECRET_ACCESS_KEY"] = "wrong" + env["AWS_SECRET_ACCESS_KEY"][5:]
    aws_run(s, "invalid_signature", env)

    env = s.aws_env(keys=False)
    env.update(s.stub.env_static_keys(session=True))
    s.stub.fail_next("ecr", 10, 403, "ExpiredTokenException", "The security token included in the request is expired")
    aws_run(s, "expired_token", env)
    s.stub.reset()

    s.stub.throttle(20)
    aws_run(s, "throttled", s.aws_env())
    s.stub.reset()

    env = s.aws_env()
    del env["AWS_CA_BUNDLE"]
    aws_run(s, "aws_untrusted", env)

    proxy = free_port()
    env = s.aws_env()
    env["HTTPS_PROXY"] = "http://127.0.0.1:%d" % proxy
    aws_run(s, "aws_proxy", env, {"127.0.0.1:%d" % proxy: PROXY})


def scenario_configuration(s):
    env = s.aws_env()
    env["ECR_REGISTRIES"] = "docker.io"
    s.run("config_registry", ["--namespaces", "team-a"], env, {})
    env = s.aws_env()
    env["AWS_CA_BUNDLE"] = os.path.join(s.tmp, "no-such-ca.pem")
    s.run("config_ca_bundle", ["--namespaces", "team-a"], env, {env["AWS_CA_BUNDLE"]: "/etc/ecr-refresh/ca/ca.pem"})
    s.run("config_no_cluster", ["--namespaces", "team-a"], s.aws_env(), {})


SCENARIOS = [scenario_success, scenario_rbac_403, scenario_misspelt_namespace, scenario_terminating, scenario_service_accounts,
             scenario_cannot_list, scenario_conflict, scenario_opaque, scenario_untrusted_api_server,
             scenario_no_ca_crt, scenario_token_refused, scenario_unreachable, scenario_aws,
             scenario_configuration]


@pytest.fixture(scope="module")
def produced(k8s_cluster, tmp_path_factory, aws_test_ca):
    import awsstub
    tmp = str(tmp_path_factory.mktemp("docs-lines"))
    stub = awsstub.AwsStub(os.path.join(tmp, "stub"), regions=[REGION, "us-east-1"], ca=aws_test_ca).start()
    try:
        s = Scenarios(k8s_cluster, stub, tmp)
        for scenario in SCENARIOS:
            scenario(s)
        if os.environ.get("DOCS_LINES_DUMP"):
            with open(os.environ["DOCS_LINES_DUMP"], "w") as f:
                for name, lines in s.produced.items():
                    f.write("## %s exit %d, %.1f s\n" % (name, s.codes[name], s.seconds[name]))
                    for line in lines:
                        f.write(json.dumps(line, separators=(",", ":")) + "\n")
        yield s
    finally:
        stub.stop()



# The exit code of each scenario, as the docs' section headings say.
EXIT = {"success": 0, "success_fresh": 0, "success_text": 0, "rbac_403": 1, "misspelt": 1, "terminating": 1, "sa_updated": 0, "sa_denied": 1,
        "cannot_list": 4, "conflict": 1, "opaque": 1, "opaque_forced": 1, "untrusted": 4, "no_ca_crt": 4,
        "token_refused": 4, "unreachable": 4, "unreachable_proxy": 4, "access_denied": 3,
        "no_credentials": 3, "invalid_identity_token": 3, "invalid_signature": 3, "expired_token": 3,
        "throttled": 3, "aws_untrusted": 3, "aws_proxy": 3, "config_registry": 2, "config_ca_bundle": 2,
        "config_no_cluster": 2}
QUOTED = quoted_lines()


def test_the_docs_quote_lines():
    assert len(QUOTED) >= 25, "the docs quote %d log lines" % len(QUOTED)


@pytest.mark.parametrize("where,number,line", QUOTED,
                         ids=["%s:%d" % (w, n) for w, n, _ in QUOTED])
def test_quoted_line_is_printed(produced, where, number, line):
    printed = [comparable(p) for lines in produced.produced.values() for p in lines]
    want = comparable(line)
    if want not in printed:
        same_msg = [p for p in printed if p.get("msg") == want.get("msg")]
        pytest.fail("%s:%d quotes a line no scenario prints:\n  %s\nprinted with that msg:\n  %s" % (
            where, number, json.dumps(want), "\n  ".join(json.dumps(p) for p in same_msg) or "(none)"))


TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:DEBUG|INFO|WARN|ERROR) [^`\n]+")


# The stderr of `ecr-refresh check` (docs/troubleshooting.md, "ecr-refresh check"): no
# scenario here runs check yet (tests/e2e/test_check_e2e.py checks its problems, not these
# lines), so its text lines are left out, by message, until one does.
CHECK_MESSAGES = ("aws credentials found", "aws identity", "ecr token available", "namespace checked",
                  "check finished")


def quoted_text_lines():
    out = []
    for path in DOCS:
        with open(path) as f:
            out += [(os.path.relpath(path, ROOT), m) for m in TEXT_LINE.findall(f.read())
                    if not m.split(" ", 2)[2].startswith(CHECK_MESSAGES)]
    return out


def test_quoted_text_lines_are_printed(produced):
    """--log-format text: the docs' examples are lines the binary prints (but the time)."""
    quoted = quoted_text_lines()
    assert quoted, "docs/reference.md shows a text line"
    printed = {t.split(" ", 1)[1] for t in produced.text}
    for where, line in quoted:
        assert line.split(" ", 1)[1] in printed, "%s quotes %r; printed: %s" % (where, line, sorted(printed))


def test_every_scenario_is_quoted_and_exits_as_documented(produced):
    quoted = [comparable(l) for _, _, l in QUOTED]
    orphans = [name for name, lines in produced.produced.items()
               if lines and not any(comparable(p) in quoted for p in lines)]
    assert orphans == [], "scenarios whose lines no doc quotes: %s" % orphans
    assert produced.codes == EXIT
