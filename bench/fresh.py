"""Benchmark: what a run costs with and without --refresh-before, against curl --parallel.

Starts the real kube-apiserver v1.20.2 + etcd (tests/k8s_cluster.py) and the AWS stand-in
(tests/awsstub.py, static keys), creates COUNT namespaces and the shipped selector-mode
identity for them (a Role and RoleBinding each, plus the ClusterRole that lists the Secrets
of the one name), then measures, each once:

    (a) new        ecr-refresh --concurrency N --namespaces bench-0000,...   creates COUNT Secrets
    (b) unchanged  the same again, write-always (same token): applies, writes nothing
    (c) fresh      the same with --refresh-before 6h: reads the Secrets, writes nothing,
                   asks AWS for nothing
    (d) fresh, glob  the same through --namespaces 'bench-*': the namespace list, then (c)
    curl (a)       curl --parallel --parallel-max N: one server-side apply per namespace
                   (another Secret name, curl's own ServiceAccount token and Roles), every Secret new
    curl (b)       the same again: every apply a no-op (what a curl cron job would send
                   every run; it has no way to skip)

For every run: the apiserver's requests (apiserver_request_total deltas, by verb and
resource), the AWS stand-in's requests, wall time, the client's CPU (user+sys) and peak
RSS (bench/token_fetch.py's launcher), and the CPU kube-apiserver and etcd spent meanwhile.

Targets (the issue): (a) wall no worse than curl's; (c) at most 2 requests and under 0.1 s
wall; client CPU under 5% of the run's CPU (client + apiserver + etcd).

    /usr/bin/python3 bench/fresh.py [--count 1000] [--concurrency 8]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "standins"))

import awsstub  # noqa: E402
import k8s_cluster  # noqa: E402
import namespaces  # noqa: E402
from namespaces import SA_NAMESPACE, REGION, parallel  # noqa: E402
from token_fetch import BIN, measure, stub_nodelay  # noqa: E402

CURL_SECRET = "ecr-creds-curl"
CURL_SA = "bench-curl"


def measured(cluster, stub, label, argv, env, log_path):
    """bench/namespaces.py's measured run, plus the AWS stand-in's requests and the total
    of the apiserver's."""
    aws0 = stub.requests_received
    r = namespaces.measured(cluster, label, argv, env, log_path)
    r.aws = stub.requests_received - aws0
    r.request_text = r.requests
    r.requests = sum(int(n) for n in re.findall(r" x(\d+)", r.request_text))
    return r


def curl_config(tmp, cluster, names, bodies):
    """A curl -K file: one block per namespace (URL, method, headers, its body file). It
    holds the token of curl's own ServiceAccount, with the same least-privilege Roles as
    ecr-refresh's (for its Secret name): a curl CronJob would run so, and the apiserver's
    authentication and RBAC work per request is then the same for both. 0600, never
    printed."""
    path = os.path.join(tmp, "curl.conf")
    token = cluster.mint_token(SA_NAMESPACE, CURL_SA)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for ns in names:
            f.write('url = "%s/api/v1/namespaces/%s/secrets/%s?fieldManager=curl"\n' % (cluster.url, ns, CURL_SECRET))
            f.write('request = "PATCH"\n')
            f.write('cacert = "%s"\n' % cluster.ca_path)
            f.write('header = "Authorization: Bearer %s"\n' % token)
            f.write('header = "Content-Type: application/apply-patch+yaml"\n')
            f.write('header = "Accept: application/json"\n')
            f.write('data-binary = "@%s"\n' % bodies[ns])
            f.write('output = "/dev/null"\nsilent\nfail\n')
            if ns != names[-1]:
                f.write("next\n")
    return path


def secret_bodies(tmp, env, registry, names):
    """The Secrets ecr-refresh would write (--output json), renamed, one file each."""
    p = subprocess.run([BIN, "--output", "json", "--secret-name", CURL_SECRET, "--registries", registry,
                        "--namespaces", ",".join(names)], env=env, capture_output=True, timeout=120)
    if p.returncode != 0:
        last = p.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise SystemExit("ecr-refresh --output json exited %d: %s" % (p.returncode, last[0]))
    out = {}
    os.makedirs(os.path.join(tmp, "bodies"), exist_ok=True)
    for item in json.loads(p.stdout)["items"]:
        ns = item["metadata"]["namespace"]
        out[ns] = os.path.join(tmp, "bodies", ns + ".json")
        fd = os.open(out[ns], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(item, f, separators=(",", ":"))
    return out


def setup(cluster, names, workers, tmp):
    t0 = time.monotonic()
    parallel(cluster.create_namespace, [SA_NAMESPACE] + names, workers)
    manifests = k8s_cluster.identity_manifests(names, sa_namespace=SA_NAMESPACE, selector_mode=True)
    curl = k8s_cluster.identity_manifests(names, secret_name=CURL_SECRET, sa_name=CURL_SA, sa_namespace=SA_NAMESPACE)
    cluster.apply(manifests[0])
    cluster.apply(curl[0])
    parallel(cluster.apply, manifests[1:] + curl[1:], workers)
    sa_dir = cluster.make_sa_dir(os.path.join(tmp, "sa"), namespace=SA_NAMESPACE)
    print("setup: %d namespaces, Roles (ecr-refresh's and curl's), the selector ClusterRole in %.1f s" % (len(names), time.monotonic() - t0),
          flush=True)
    return sa_dir


def run_all(args, tmp):
    names = ["bench-%04d" % i for i in range(args.count)]
    runs = []
    cluster = k8s_cluster.Cluster(os.path.join(tmp, "cluster"))
    stub = awsstub.AwsStub(os.path.join(tmp, "aws"), regions=[REGION])
    with cluster, stub:
        sa_dir = setup(cluster, names, args.setup_workers, tmp)
        env = {"PATH": "/usr/bin:/bin", "LOG_FORMAT": "json"}
        env.update(cluster.env(sa_dir))
        env.update(stub.env())
        env.update(stub.env_static_keys())
        clock = [time.time()]
        stub.now = lambda: clock[0]     # the same token twice: (b) is unchanged
        registry = stub.registry_host(REGION)
        argv = [BIN, "--concurrency", str(args.concurrency), "--registries", registry,
                "--namespaces", ",".join(names)]
        glob = [BIN, "--concurrency", str(args.concurrency), "--registries", registry, "--namespaces", "bench-*",
                "--refresh-before", "6h"]
        for kind, run_argv in (("(a) new", argv), ("(b) unchanged", argv),
                               ("(c) fresh", argv + ["--refresh-before", "6h"]), ("(d) fresh, glob", glob)):
            log = os.path.join(tmp, "ecr-refresh-%s.log" % kind[1])
            r = measured(cluster, stub, "ecr-refresh " + kind, run_argv, env, log)
            r.note = namespaces.refresh_summary(log)
            runs.append(r)
            print("  %-28s %6.3f s  %s" % (r.label, r.s.wall_ms / 1000, r.note), flush=True)

        conf = curl_config(tmp, cluster, names, secret_bodies(tmp, env, registry, names))
        curl = ["/usr/bin/curl", "--silent", "--parallel", "--parallel-max", str(args.concurrency), "-K", conf]
        for kind in ("(a) new", "(b) unchanged"):
            r = measured(cluster, stub, "curl --parallel " + kind, curl, {"PATH": "/usr/bin:/bin"},
                         os.path.join(tmp, "curl-%s.log" % kind[1]))
            runs.append(r)
            print("  %-28s %6.3f s" % (r.label, r.s.wall_ms / 1000), flush=True)
        if cluster.get_secret_raw(names[-1], CURL_SECRET) is None:
            raise SystemExit("curl wrote no Secret")
    return runs


def report(runs, args):
    print()
    print("%d namespaces, concurrency %d (ecr-refresh --concurrency, curl --parallel-max); one run each;"
          " CPU in seconds" % (args.count, args.concurrency))
    print("%-28s %5s %5s %7s %8s %11s %9s %7s %6s %8s" % ("", "reqs", "AWS", "wall", "client", "(usr/sys)",
                                                         "peak RSS", "apisrv", "etcd", "client%"))
    for r in runs:
        total = r.s.cpu_ms / 1000 + r.apiserver_s + r.etcd_s
        r.share = 100.0 * (r.s.cpu_ms / 1000) / total if total > 0 else 0.0
        print("%-28s %5d %5d %7.3f %8.3f %5.2f/%5.2f %6d Ki %7.2f %6.2f %7.1f%%"
              % (r.label, r.requests, r.aws, r.s.wall_ms / 1000, r.s.cpu_ms / 1000, r.s.user_ms / 1000,
                 r.s.sys_ms / 1000, r.s.rss_kib, r.apiserver_s, r.etcd_s, r.share))
    print("apiserver requests per run (apiserver_request_total deltas):")
    for r in runs:
        print("  %-28s %s" % (r.label, r.request_text))
    by = {r.label: r for r in runs}
    a, c, d = by["ecr-refresh (a) new"], by["ecr-refresh (c) fresh"], by["ecr-refresh (d) fresh, glob"]
    curl_a = by["curl --parallel (a) new"]
    checks = [
        ("(a) wall no worse than curl's (%.2f s vs %.2f s)" % (a.s.wall_ms / 1000, curl_a.s.wall_ms / 1000),
         a.s.wall_ms <= curl_a.s.wall_ms),
        ("(c) at most 2 requests (%d), no AWS request (%d)" % (c.requests, c.aws), c.requests <= 2 and c.aws == 0),
        ("(c) under 0.1 s wall (%.3f s)" % (c.s.wall_ms / 1000), c.s.wall_ms < 100),
        ("(d) at most 2 requests with a glob (%d), no AWS request (%d)" % (d.requests, d.aws),
         d.requests <= 2 and d.aws == 0),
    ]
    for r in runs:
        if r.label.startswith("ecr-refresh"):
            checks.append(("%s client CPU under 5%% of the run's (%.1f%%)" % (r.label, r.share), r.share < 5.0))
    for text, ok in checks:
        print("target %-66s %s" % (text, "met" if ok else "MISSED"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="namespaces")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--setup-workers", type=int, default=16)
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep the logs there")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit("no %s: build it first" % BIN)
    if not os.access("/usr/bin/curl", os.X_OK):
        sys.exit("no /usr/bin/curl: apt-get install -y curl")
    stub_nodelay(True)
    tmpobj = None if args.keep else tempfile.TemporaryDirectory(prefix="bench-fresh-")
    tmp = args.keep or tmpobj.name
    os.makedirs(tmp, exist_ok=True)
    try:
        runs = run_all(args, tmp)
    finally:
        if tmpobj:
            tmpobj.cleanup()
    report(runs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
