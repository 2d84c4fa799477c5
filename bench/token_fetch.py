"""Benchmark: one ECR token fetch, ecr-refresh against Debian's awscli.

Against the local AWS stand-in (tests/standins/awsstub.py, static keys, every signature verified
with botocore) it runs, N times each:

    ecr-refresh --output json --namespaces a --registries HOST          (1 region)
    ecr-refresh --output json --namespaces a --registries HOST1,HOST2   (2 regions)
    aws ecr get-login-password --region us-east-1 --endpoint-url URL    (Debian awscli)

and prints median and min of wall time, CPU (user+sys) and peak RSS of each, and the
ratios awscli / ecr-refresh. Targets for ecr-refresh: CPU < 20 ms, peak RSS < 2 MiB.

    /usr/bin/python3 bench/token_fetch.py [--runs 20] [--aws-runs 10]

Measuring a child's peak RSS: Linux folds the pre-exec address space into ru_maxrss
(fs/exec.c exec_mmap: setmax_mm_hiwater_rss on the old mm), so a child forked or
vforked from this Python process reports Python's tens of MiB, whatever it execs. Every
measured command therefore runs under a tiny static launcher (made here with musl-gcc
into BUILD/bench/) that forks, execs, wait4()s and writes the child's rusage and wall
time with microsecond resolution; its own footprint is ~100 KiB, below what it measures.

Debian's awscli 2.9 predates AWS_ENDPOINT_URL_ECR (2.13), hence --endpoint-url.
"""
import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))

import awsstub  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
BIN = os.path.join(BUILD, "ecr-refresh")
AWS = os.environ.get("AWS_CLI", "/usr/bin/aws")  # Debian's, not a pyenv shim earlier in PATH
REGIONS = ["us-east-1", "eu-west-1"]
TARGET_CPU_MS = 20.0
TARGET_RSS_KIB = 2048

LAUNCHER_C = r"""
/* rusage-spawn RESULT PROGRAM ARGS...: fork, exec PROGRAM, wait4 it, write
 * "wait-status utime-us stime-us maxrss-KiB wall-ns" to RESULT. Static and small, so
 * the child's ru_maxrss (which includes the pre-exec image) is the program's own. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    int status;
    pid_t pid;
    FILE *out;

    if (argc < 3)
        return 125;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0)
        return 126;
    if (pid == 0) {
        execv(argv[2], argv + 2);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid)
        return 126;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out = fopen(argv[1], "w");
    if (out == NULL)
        return 126;
    fprintf(out, "%d %lld %lld %ld %lld\n", status,
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss,
            (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    return fclose(out) == 0 ? 0 : 126;
}
"""


def launcher():
    """Path of the rusage launcher, compiled once into BUILD/bench/."""
    out_dir = os.path.join(BUILD, "bench")
    exe = os.path.join(out_dir, "rusage-spawn")
    src = exe + ".c"
    os.makedirs(out_dir, exist_ok=True)
    old = None
    if os.path.exists(src):
        with open(src) as f:
            old = f.read()
    if old != LAUNCHER_C or not os.access(exe, os.X_OK):
        with open(src, "w") as f:
            f.write(LAUNCHER_C)
        cc = os.environ.get("MUSL_CC", "musl-gcc")
        subprocess.run([cc, "-std=c11", "-O2", "-static", "-D_POSIX_C_SOURCE=200809L",
                        "-D_DEFAULT_SOURCE", "-o", exe, src], check=True)
    return exe


class Sample:
    def __init__(self, code, user_us, sys_us, rss_kib, wall_ns):
        self.code = code
        self.cpu_ms = (user_us + sys_us) / 1000.0
        self.user_ms = user_us / 1000.0
        self.sys_ms = sys_us / 1000.0
        self.rss_kib = rss_kib
        self.wall_ms = wall_ns / 1e6


def measure(argv, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600):
    """Run argv (argv[0] a path or a PATH name) under the launcher; returns a Sample."""
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
    if not exe:
        raise SystemExit("%s: not found" % argv[0])
    fd, result = tempfile.mkstemp(prefix="rusage-")
    os.close(fd)
    try:
        rc = subprocess.run([launcher(), result, exe] + list(argv[1:]), env=env, stdout=stdout,
                            stderr=stderr, stdin=subprocess.DEVNULL, timeout=timeout).returncode
        if rc != 0:
            raise RuntimeError("launcher failed (%d) for %s" % (rc, argv[0]))
        with open(result) as f:
            status, user, sys_, rss, wall = (int(x) for x in f.read().split())
    finally:
        os.unlink(result)
    code = os.waitstatus_to_exitcode(status)
    return Sample(code, user, sys_, rss, wall)


def stub_nodelay(on=True):
    """The stand-in answers with two writes (status and headers, then the body) on a socket
    with Nagle on: the body waits for the ACK of the headers, which the client delays
    (Linux delayed ACK, 40 ms minimum), so every request stalls ~40 ms in the stand-in
    rather than in the client. AWS's own endpoints show no such stall; the bench sets
    TCP_NODELAY on the stand-in's connections (socketserver's disable_nagle_algorithm)."""
    awsstub._Handler.disable_nagle_algorithm = on


def summarize(samples):
    """{metric: (median, min)} over wall_ms, cpu_ms, rss_kib."""
    out = {}
    for key in ("wall_ms", "cpu_ms", "rss_kib", "user_ms", "sys_ms"):
        values = [getattr(s, key) for s in samples]
        out[key] = (statistics.median(values), min(values))
    return out


def run_many(label, argv, env, runs, check):
    measure(argv, env)  # warm the page cache; not counted
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            s = measure(argv, env, stdout=out)
            out.seek(0)
            check(s, out.read())
        samples.append(s)
    return label, summarize(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="runs of each ecr-refresh variant")
    ap.add_argument("--aws-runs", type=int, default=10, help="runs of awscli (~1 s each)")
    ap.add_argument("--no-aws", action="store_true", help="skip awscli")
    ap.add_argument("--stub-nagle", action="store_true",
                    help="leave Nagle on in the stand-in (adds a ~40 ms stall per request)")
    args = ap.parse_args()
    stub_nodelay(not args.stub_nagle)
    if not os.access(BIN, os.X_OK):
        sys.exit("no %s: build it first (make B=... or ECR_BUILD=...)" % BIN)
    aws = not args.no_aws
    if aws and not os.access(AWS, os.X_OK):
        sys.exit("no %s: apt-get install -y awscli (or --no-aws)" % AWS)

    with tempfile.TemporaryDirectory(prefix="bench-token-") as tmp:
        stub = awsstub.AwsStub(os.path.join(tmp, "aws"), regions=REGIONS)
        with stub:
            # HOME too: awscli must not read the caller's ~/.aws or write a cache there.
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8", "AWS_PAGER": ""}
            env.update(stub.env())
            env.update(stub.env_static_keys())
            hosts = {r: stub.registry_host(r) for r in REGIONS}

            def check_refresh(regions):
                def check(s, out):
                    if s.code != 0:
                        raise SystemExit("ecr-refresh exited %d" % s.code)
                    secret = json.loads(out)["items"][0]
                    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
                    for r in regions:
                        if auths[hosts[r]]["password"] != stub.password_for(r):
                            raise SystemExit("wrong password for %s" % r)
                return check

            def check_aws(s, out):
                if s.code != 0 or out.decode().strip() != stub.password_for("us-east-1"):
                    raise SystemExit("aws ecr get-login-password failed (exit %d)" % s.code)

            rows = []
            for regions in (REGIONS[:1], REGIONS):
                argv = [BIN, "--output", "json", "--namespaces", "a",
                        "--registries", ",".join(hosts[r] for r in regions)]
                rows.append(run_many("ecr-refresh, %d region%s" % (len(regions), "s" * (len(regions) > 1)),
                                     argv, env, args.runs, check_refresh(regions)))
            if aws:
                argv = [AWS, "ecr", "get-login-password", "--region", "us-east-1",
                        "--endpoint-url", stub.ecr_url]
                rows.append(run_many("aws ecr get-login-password", argv, env, args.aws_runs, check_aws))
            failures = stub.calls("ecr")
            bad = [c for c in failures if c["status"] != 200]
            if bad or stub.server_errors:
                raise SystemExit("the stand-in refused %d requests / had %d errors"
                                 % (len(bad), len(stub.server_errors)))

    print("Token fetch against the AWS stand-in (static keys), median / min over %d runs "
          "(awscli: %d runs)" % (args.runs, args.aws_runs))
    print("%-30s %17s %17s %17s %19s" % ("", "wall ms", "CPU ms user+sys", "  (user / sys)", "peak RSS KiB"))
    for label, s in rows:
        print("%-30s %8.1f / %6.1f %8.1f / %6.1f %8.1f / %6.1f %9d / %7d"
              % (label, s["wall_ms"][0], s["wall_ms"][1], s["cpu_ms"][0], s["cpu_ms"][1],
                 s["user_ms"][0], s["sys_ms"][0], s["rss_kib"][0], s["rss_kib"][1]))
    if aws:
        a = rows[-1][1]
        print("ratios awscli / ecr-refresh (medians; awscli needs one call per region, "
              "so the 2-region row compares with 2x its figures for wall and CPU):")
        for i, (label, s) in enumerate(rows[:-1]):
            k = i + 1
            print("  %-28s wall %6.1fx   CPU %6.1fx   RSS %6.1fx"
                  % (label, k * a["wall_ms"][0] / s["wall_ms"][0], k * a["cpu_ms"][0] / s["cpu_ms"][0],
                     a["rss_kib"][0] / s["rss_kib"][0]))
    ok = True
    for label, s in rows[:2]:
        cpu_ok = s["cpu_ms"][0] < TARGET_CPU_MS
        rss_ok = s["rss_kib"][0] < TARGET_RSS_KIB
        ok = ok and cpu_ok and rss_ok
        print("target %-26s CPU < %.0f ms: %s   RSS < %d KiB: %s"
              % (label, TARGET_CPU_MS, "met" if cpu_ok else "MISSED", TARGET_RSS_KIB,
                 "met" if rss_ok else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
