"""Benchmark: one refresh into 1,000 namespaces, ecr-refresh against kubectl apply.

Starts the real kube-apiserver v1.20.2 + etcd (tests/standins/k8s_cluster.py) and the AWS stand-in
(tests/standins/awsstub.py, static keys), creates COUNT namespaces and the least-privilege identity
for them (ServiceAccount, a Role and RoleBinding per namespace; with --glob also the
ClusterRole that lets it list namespaces), then measures, each once:

    ecr-refresh --concurrency 8 --namespaces bench-0000,...,bench-0999     first: create
    the same again                                                         second run
    ecr-refresh --concurrency 8 --namespaces 'bench-*'          (--glob)   third run
    kubectl apply --server-side -f secrets.yaml                            first: create
    the same again                                                         second: no-op

kubectl is Debian's kubernetes-client (v1.20.2, like the apiserver) as cluster admin; it
applies the same 1,000 Secrets under another name (ecr-creds-kubectl), printed by the
binary's own `--output yaml`. For every run: wall time, the client's CPU (user+sys) and
peak RSS (through bench/token_fetch.py's launcher), the CPU kube-apiserver and etcd
spent meanwhile (/proc/PID/stat), the machine's busy CPU (/proc/stat), and the apiserver's
requests by verb (apiserver_request_total from /metrics).

Targets for ecr-refresh: >= 5x less wall time than kubectl apply, client CPU < 0.1 s,
peak RSS < 2 MiB.

    /usr/bin/python3 bench/namespaces.py [--count 1000] [--concurrency 8] [--glob]
    KUBECTL=/path/to/kubectl  (default: build-*/deb/.../kubectl, else /usr/bin/kubectl)
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing token_fetch
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))

import awsstub  # noqa: E402
import k8s_cluster  # noqa: E402
from token_fetch import BIN, BUILD, measure, stub_nodelay  # noqa: E402

SA_NAMESPACE = "ecr-refresh-system"
REGION = "us-east-1"
TICK = os.sysconf("SC_CLK_TCK")
TARGET_WALL_RATIO = 5.0
TARGET_CPU_S = 0.1
TARGET_RSS_KIB = 2048


def find_kubectl():
    """Debian's kubernetes-client kubectl: $KUBECTL, one unpacked by run.sh into BUILD/deb
    (when /usr/bin/kubectl belongs to another package), or /usr/bin/kubectl."""
    for path in (os.environ.get("KUBECTL"), os.path.join(BUILD, "deb", "root", "usr", "bin", "kubectl"),
                 "/usr/bin/kubectl"):
        if path and os.access(path, os.X_OK):
            return path
    sys.exit("no kubectl: apt-get install -y kubernetes-client, or set KUBECTL")


def proc_cpu(pid):
    """utime+stime of a process in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy():
    """(busy, total) CPU seconds of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / TICK, sum(vals) / TICK


# What the apiserver asks itself every few seconds (the kubernetes Service's endpoint
# reconciler), whoever the client: left out of the per-run counts.
BACKGROUND = ("endpoints", "endpointslices", "services")
METRIC = re.compile(r'^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$')


def request_counts(cluster):
    """{(verb, resource): count} from the apiserver's own apiserver_request_total."""
    r = cluster.request("GET", "/metrics", headers={"Accept": "text/plain"})
    out = {}
    for line in r.body.decode().splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        labels = dict(kv.split("=", 1) for kv in re.findall(r'(\w+="[^"]*")', m.group(1)))
        key = (labels.get("verb", "").strip('"'), labels.get("resource", "").strip('"'))
        out[key] = out.get(key, 0) + float(m.group(2))
    return out


def count_delta(before, after):
    """'VERB resource xN' for what changed during a run."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    parts = ["%s %s x%d" % (v, res or "-", n) for (v, res), n in sorted(delta.items())
             if n >= 1 and res not in BACKGROUND]
    return ", ".join(parts)


def parallel(fn, items, workers):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(fn, items):
            pass


class Run:
    def __init__(self, label, sample, apiserver_s, etcd_s, busy_s, requests, note=""):
        self.label = label
        self.kind = label
        self.s = sample
        self.apiserver_s = apiserver_s
        self.etcd_s = etcd_s
        self.busy_s = busy_s
        self.requests = requests
        self.note = note


def measured(cluster, label, argv, env, stderr_path, stdout=subprocess.DEVNULL):
    api, etcd = cluster._apiserver.pid, cluster._etcd.pid
    before = request_counts(cluster)
    a0, e0, (b0, _) = proc_cpu(api), proc_cpu(etcd), machine_busy()
    with open(stderr_path, "wb") as err:
        s = measure(argv, env, stdout=stdout, stderr=err, timeout=1800)
    a1, e1, (b1, _) = proc_cpu(api), proc_cpu(etcd), machine_busy()
    after = request_counts(cluster)
    if s.code != 0:
        with open(stderr_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        raise SystemExit("%s exited %d:\n%s" % (label, s.code, tail))
    return Run(label, s, a1 - a0, e1 - e0, b1 - b0, count_delta(before, after))


def refresh_summary(stderr_path):
    with open(stderr_path) as f:
        lines = [json.loads(line) for line in f if line.startswith("{")]
    done = [x for x in lines if x.get("msg") == "kubernetes phase finished"]
    if not done:
        return "no summary line"
    d = done[-1]
    return "created %s updated %s unchanged %s fresh %s failed %s, %s requests" % (
        d.get("created"), d.get("updated"), d.get("unchanged"), d.get("fresh"), d.get("failed"),
        d.get("requests"))


def write_kubeconfig(path, cluster):
    # JSON is YAML; 0600 since it holds the admin token (never printed).
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "bench",
           "clusters": [{"name": "bench", "cluster": {"server": cluster.url,
                                                      "certificate-authority": cluster.ca_path}}],
           "users": [{"name": "admin", "user": {"token": str(cluster.admin_token)}}],
           "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "admin"}}]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="namespaces")
    ap.add_argument("--concurrency", type=int, default=8, help="ecr-refresh --concurrency")
    ap.add_argument("--setup-workers", type=int, default=16, help="threads creating namespaces and RBAC")
    ap.add_argument("--glob", action="store_true", help="also a third run with --namespaces 'bench-*'")
    ap.add_argument("--no-kubectl", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep logs there")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("no %s: build it first" % BIN)
    kubectl = None if args.no_kubectl else find_kubectl()
    stub_nodelay(True)
    names = ["bench-%04d" % i for i in range(args.count)]

    tmpobj = None if args.keep else tempfile.TemporaryDirectory(prefix="bench-ns-")
    tmp = args.keep or tmpobj.name
    os.makedirs(tmp, exist_ok=True)
    runs = []
    try:
        t0 = time.monotonic()
        cluster = k8s_cluster.Cluster(os.path.join(tmp, "cluster"))
        stub = awsstub.AwsStub(os.path.join(tmp, "aws"), regions=[REGION])
        with cluster, stub:
            t_start = time.monotonic() - t0
            t0 = time.monotonic()
            parallel(cluster.create_namespace, [SA_NAMESPACE] + names, args.setup_workers)
            t_ns = time.monotonic() - t0
            t0 = time.monotonic()
            manifests = k8s_cluster.identity_manifests(names, sa_namespace=SA_NAMESPACE,
                                                       selector_mode=args.glob)
            cluster.apply(manifests[0])  # the ServiceAccount, before what binds to it
            parallel(cluster.apply, manifests[1:], args.setup_workers)
            sa_dir = cluster.make_sa_dir(os.path.join(tmp, "sa"), namespace=SA_NAMESPACE)
            t_rbac = time.monotonic() - t0
            print("setup: apiserver+etcd up in %.1f s; %d namespaces in %.1f s; ServiceAccount + "
                  "%d Roles/RoleBindings%s in %.1f s (%d threads)"
                  % (t_start, args.count + 1, t_ns, args.count, " + ClusterRole" if args.glob else "",
                     t_rbac, args.setup_workers), flush=True)

            env = {"PATH": "/usr/bin:/bin", "LOG_FORMAT": "json"}
            env.update(cluster.env(sa_dir))
            env.update(stub.env())
            env.update(stub.env_static_keys())
            # The stand-in's clock is held still, so a second run gets the very same token
            # and expiry (unchanged: the twin of kubectl re-applying the same file), then
            # moved a minute on, so the next runs carry a new expiry (updated: what every
            # real refresh is, since ECR's expiresAt moves with each call). A minute is far
            # inside the 15 minutes of skew SigV4 allows.
            clock = [time.time()]
            stub.now = lambda: clock[0]
            registry = stub.registry_host(REGION)
            base = [BIN, "--concurrency", str(args.concurrency), "--registries", registry]
            plain = base + ["--namespaces", ",".join(names)]
            steps = [("create", plain, 0), ("unchanged", plain, 0), ("update", plain, 60)]
            if args.glob:
                steps.append(("update, glob", base + ["--namespaces", "bench-*"], 60))
            for kind, argv, shift in steps:
                clock[0] += shift
                label = "ecr-refresh, " + kind
                log = os.path.join(tmp, "ecr-refresh-%s.log" % kind.replace(", ", "-"))
                r = measured(cluster, label, argv, env, log)
                r.kind, r.note = kind, refresh_summary(log)
                runs.append(r)
                print("  %-32s %6.2f s  %s" % (label, r.s.wall_ms / 1000, r.note), flush=True)
            secret = cluster.get_secret(names[-1], "ecr-creds")
            auths = json.loads(secret["data"][".dockerconfigjson"])["auths"] if secret else {}
            if auths.get(registry, {}).get("password") != stub.password_for(REGION):
                raise SystemExit("no fresh Secret in %s" % names[-1])

            if kubectl:
                kubeconfig = os.path.join(tmp, "kubeconfig")
                write_kubeconfig(kubeconfig, cluster)
                kenv = {"PATH": "/usr/bin:/bin", "HOME": tmp, "KUBECONFIG": kubeconfig}
                clock[0] = time.time()
                for kind, shift in (("create", 0), ("unchanged", 0), ("update", 60)):
                    clock[0] += shift
                    manifest = os.path.join(tmp, "secrets-%s.yaml" % kind)
                    with open(manifest, "wb") as out:
                        p = subprocess.run([BIN, "--output", "yaml", "--secret-name", "ecr-creds-kubectl",
                                            "--registries", registry, "--namespaces", ",".join(names)],
                                           env=env, stdout=out, stderr=subprocess.PIPE, timeout=120)
                    if p.returncode != 0:
                        raise SystemExit("ecr-refresh --output yaml exited %d" % p.returncode)
                    label = "kubectl apply, " + kind
                    out_path = os.path.join(tmp, "kubectl-%s.out" % kind)
                    with open(out_path, "wb") as out:
                        r = measured(cluster, label, [kubectl, "apply", "--server-side", "-f", manifest],
                                     kenv, out_path + ".err", stdout=out)
                    with open(out_path) as f:
                        applied = sum(1 for line in f if "serverside-applied" in line)
                    with open(out_path + ".err") as f:
                        throttled = sum(1 for line in f if "hrottling" in line)
                    r.kind = kind
                    r.note = "%d serverside-applied, %d client-side throttling notes" % (applied, throttled)
                    runs.append(r)
                    print("  %-32s %6.2f s  %s" % (label, r.s.wall_ms / 1000, r.note), flush=True)
                if cluster.get_secret(names[-1], "ecr-creds-kubectl") is None:
                    raise SystemExit("kubectl wrote no Secret")
    finally:
        if tmpobj:
            tmpobj.cleanup()

    report(runs, args)
    return 0


def report(runs, args):
    print()
    print("%d namespaces, ecr-refresh --concurrency %d, one run each; CPU in seconds; 'others' is "
          "the machine's busy CPU minus client, apiserver and etcd" % (args.count, args.concurrency))
    print("%-32s %7s %8s %11s %9s %8s %7s %7s" % ("", "wall", "client", "(usr/sys)", "peak RSS",
                                                  "apisrv", "etcd", "others"))
    for r in runs:
        others = r.busy_s - r.s.cpu_ms / 1000 - r.apiserver_s - r.etcd_s
        print("%-32s %7.2f %8.3f %5.2f/%5.2f %6d Ki %8.2f %7.2f %7.2f"
              % (r.label, r.s.wall_ms / 1000, r.s.cpu_ms / 1000, r.s.user_ms / 1000, r.s.sys_ms / 1000,
                 r.s.rss_kib, r.apiserver_s, r.etcd_s, others))
    print("apiserver requests per run (apiserver_request_total deltas):")
    for r in runs:
        print("  %-32s %s" % (r.label, r.requests))
    ours = {r.kind: r for r in runs if r.label.startswith("ecr-refresh")}
    theirs = {r.kind: r for r in runs if r.label.startswith("kubectl")}
    if theirs:
        print("ratios kubectl / ecr-refresh:")
        for kind, other in theirs.items():
            mine = ours.get(kind)
            if mine:
                print("  %-12s wall %5.1fx   client CPU %5.1fx   RSS %5.1fx   apiserver CPU %4.1fx"
                      % (kind, other.s.wall_ms / mine.s.wall_ms, other.s.cpu_ms / max(mine.s.cpu_ms, 0.001),
                         other.s.rss_kib / mine.s.rss_kib, other.apiserver_s / max(mine.apiserver_s, 0.01)))
    for kind, r in ours.items():
        checks = []
        if kind in theirs:
            ratio = theirs[kind].s.wall_ms / r.s.wall_ms
            checks.append("wall >= %.0fx less: %s" % (TARGET_WALL_RATIO,
                                                      "met" if ratio >= TARGET_WALL_RATIO else "MISSED"))
        checks.append("CPU < %.1f s: %s" % (TARGET_CPU_S, "met" if r.s.cpu_ms / 1000 < TARGET_CPU_S else "MISSED"))
        checks.append("RSS < %d KiB: %s" % (TARGET_RSS_KIB, "met" if r.s.rss_kib < TARGET_RSS_KIB else "MISSED"))
        print("target %-26s %s" % (r.label, "   ".join(checks)))


if __name__ == "__main__":
    sys.exit(main())
