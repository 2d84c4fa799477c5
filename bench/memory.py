#!/usr/bin/python3
"""Peak RSS of one run against a hostile Kubernetes API stand-in (tests/standins/hostile_apiserver.py)
that answers every Secret GET and PATCH with a body of SIZE bytes, for each concurrency.

    bench/memory.py [--bin build/ecr-refresh] [--namespaces 96] [--as-limit-mib 0]

Measured with GNU time's %M (the binary's own maximum resident set) around the binary;
--as-limit-mib sets RLIMIT_AS as a pod without swap would feel its memory limit. Prints one
row per (answer size, framing, mode, concurrency): exit code, the namespaces failed, peak RSS.
"""
import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))

import awsstub  # noqa: E402
from hostile_apiserver import HostileApiServer  # noqa: E402

MIB = 1024 * 1024
CASES = [(1000000, "length", []), (1000000, "chunked", ["--dry-run"]),
         (8 * MIB, "length", ["--dry-run"]), (8 * MIB, "chunked", [])]


def one(binary, tmp, stub, size, framing, flags, concurrency, count, as_limit):
    token = secrets.token_urlsafe(48)
    with HostileApiServer(tmp, body_size=size, framing=framing) as server:
        sa = server.serviceaccount_dir(os.path.join(tmp, "sa"), token)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "SERVICEACCOUNT_DIR": sa,
               "ECR_REGISTRIES": stub.registry_host("us-east-1")}
        env.update(stub.env())
        env.update(stub.env_static_keys())
        rss = os.path.join(tmp, "maxrss")
        names = ",".join("ns-%d" % i for i in range(count))

        def limit():
            if as_limit:
                resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, binary, "--namespaces", names,
                               "--api-server", server.url, "--concurrency", str(concurrency),
                               "--timeout", "60", "--deadline", "280"] + flags,
                              env=env, capture_output=True, text=True, timeout=300, preexec_fn=limit)
    with open(rss) as f:
        peak_kib = int(f.read().split()[-1])
    failed = proc.stderr.count('"result":"failed"')
    summary = "kubernetes phase finished" in proc.stderr
    return proc.returncode, failed, summary, peak_kib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"), "ecr-refresh"))
    parser.add_argument("--namespaces", type=int, default=96)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--as-limit-mib", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stub = awsstub.AwsStub(os.path.join(tmp, "aws")).start()
        try:
            print("| answer | framing | mode | concurrency | exit | failed | summary line | peak RSS MiB |")
            print("|---|---|---|---|---|---|---|---|")
            for size, framing, flags in CASES:
                for c in [int(x) for x in args.concurrency.split(",")]:
                    with tempfile.TemporaryDirectory(dir=tmp) as run_tmp:
                        code, failed, summary, peak = one(args.bin, run_tmp, stub, size, framing, flags, c,
                                                          args.namespaces, args.as_limit_mib * MIB)
                    print("| %d | %s | %s | %d | %d | %d | %s | %.1f |" % (
                        size, framing, " ".join(flags) or "apply", c, code, failed, "yes" if summary else "NO",
                        peak / 1024.0), flush=True)
        finally:
            stub.stop()


if __name__ == "__main__":
    main()
