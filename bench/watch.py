"""Benchmark: --watch, from a new namespace to its Secret, and the watcher's memory.

Starts the real kube-apiserver v1.20.2 + etcd (tests/standins/k8s_cluster.py) and the AWS stand-in
(tests/standins/awsstub.py, static keys, TCP_NODELAY as in token_fetch.py), binds the shipped
RBAC of the watch Deployment (k8s_cluster.watch_manifests: deploy/watch/rbac-watch.yaml,
components/selector/rbac.yaml, the per-namespace Role's rules cluster-wide), starts

    ecr-refresh --watch --namespaces 'bwatch-*' --log-level info

and once it watches, creates COUNT namespaces one after the other. For each: the time from
the namespace's POST to the first GET of the Secret that finds it (polled every POLL_MS;
the poll interval bounds the resolution). Then COUNT deletions of those Secrets, timed the
same way to the repaired Secret. Reports median / p95 / max of both, the watcher's VmRSS
after its first pass and at the end, VmHWM, open descriptors, and its CPU (utime+stime).

    /usr/bin/python3 bench/watch.py [--count 50]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))

import awsstub  # noqa: E402
import k8s_cluster  # noqa: E402
from token_fetch import BIN, stub_nodelay  # noqa: E402

SA_NAMESPACE = "ecr-refresh-system"
REGION = "us-east-1"
POLL_MS = 5
TICK = os.sysconf("SC_CLK_TCK")



def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / TICK
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


def until(pred, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(POLL_MS / 1000)
    raise RuntimeError("not within %d s" % timeout)


def summary(name, values):
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    print("%-28s n=%d median %.0f ms, p95 %.0f ms, max %.0f ms"
          % (name, len(values), statistics.median(values) * 1000, p95 * 1000, values[-1] * 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    stub_nodelay()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = k8s_cluster.Cluster(os.path.join(tmp, "k8s")).start()
        stub = awsstub.AwsStub(os.path.join(tmp, "aws")).start()
        try:
            cluster.ensure_namespace(SA_NAMESPACE)
            cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "ecr-refresh", "namespace": SA_NAMESPACE}})
            for o in k8s_cluster.watch_manifests(True, SA_NAMESPACE):
                cluster.apply(o)
            cluster.create_namespace("bwatch-first")
            sa = cluster.make_sa_dir(os.path.join(tmp, "sa"), SA_NAMESPACE)
            env = {"PATH": "/usr/bin:/bin"}
            env.update(cluster.env(sa))
            env.update(stub.env())
            env.update(stub.env_static_keys())
            env["ECR_REGISTRIES"] = stub.registry_host(REGION)
            proc = subprocess.Popen([BIN, "--watch", "--namespaces", "bwatch-*", "--log-level", "info"], env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            lines = []
            threading.Thread(target=lambda: [lines.append(l) for l in proc.stderr], daemon=True).start()
            until(lambda: sum('"watch: watching"' in l for l in lines) >= 2)
            time.sleep(0.5)
            first = proc_status(proc.pid)
            created, repaired = [], []
            for i in range(args.count):
                ns = "bwatch-%04d" % i
                t0 = time.monotonic()
                cluster.create_namespace(ns)
                until(lambda: cluster.get_secret_raw(ns, "ecr-creds") is not None)
                created.append(time.monotonic() - t0)
            for i in range(args.count):
                ns = "bwatch-%04d" % i
                t0 = time.monotonic()
                cluster.delete("/api/v1/namespaces/%s/secrets/ecr-creds" % ns)
                until(lambda: cluster.get_secret_raw(ns, "ecr-creds") is not None)
                repaired.append(time.monotonic() - t0)
            time.sleep(0.5)
            last = proc_status(proc.pid)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(10)
            stop = time.monotonic() - t0
            summary("new namespace -> Secret", created)
            summary("deleted Secret -> restored", repaired)
            print("RSS after the first pass %d KiB, at the end %d KiB, VmHWM %d KiB; fds %d -> %d; "
                  "CPU %.2f s for %d events; SIGTERM -> exit %d in %.0f ms"
                  % (first["VmRSS"], last["VmRSS"], last["VmHWM"], first["fds"], last["fds"], last["cpu_s"],
                     2 * args.count, code, stop * 1000))
            print(json.dumps({"created_ms": [round(v * 1000) for v in created],
                              "repaired_ms": [round(v * 1000) for v in repaired]}))
        finally:
            stub.stop()
            cluster.stop()


if __name__ == "__main__":
    main()
