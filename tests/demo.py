"""make demo: the newcomer's first command.

Starts a real kube-apiserver (with etcd, RBAC on) and the local AWS stand-in on 127.0.0.1,
gives ecr-refresh the same least-privilege ServiceAccount the CronJob uses and IRSA-style
web identity credentials, runs one refresh into three namespaces for registries in two
regions, and prints what landed in the cluster. Everything stops when it ends.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "standins"))

import awsstub  # noqa: E402
import k8s_cluster  # noqa: E402

BIN = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"), "ecr-refresh")
TARGETS = ["team-a", "team-b", "team-c"]


def masked(text, keep=8):
    return text if len(text) <= keep else "%s...(%d chars)" % (text[:keep], len(text))


def run(env, *args):
    print("\n$ ecr-refresh " + " ".join(args))
    proc = subprocess.run([BIN] + list(args), env=env, capture_output=True, text=True, timeout=120)
    sys.stdout.write(proc.stderr)
    print("exit code %d" % proc.returncode)
    return proc.returncode


def main():
    if not os.path.exists(BIN):
        sys.exit("no %s: run make first" % BIN)
    with tempfile.TemporaryDirectory(prefix="ecr-refresh-demo-") as tmp:
        print("starting kube-apiserver v1.20.2 + etcd and the AWS stand-in on 127.0.0.1 ...")
        t0 = time.monotonic()
        cluster = k8s_cluster.Cluster(os.path.join(tmp, "cluster"))
        stub = awsstub.AwsStub(os.path.join(tmp, "aws"), regions=["eu-west-1", "us-east-1"])
        with cluster, stub:
            print("ready in %.1f s" % (time.monotonic() - t0))
            cluster.setup_identity(TARGETS, sa_namespace="ecr-refresh")
            sa_dir = cluster.make_sa_dir(os.path.join(tmp, "serviceaccount"), namespace="ecr-refresh")
            registries = [stub.registry_host("eu-west-1"), stub.registry_host("us-east-1"),
                          stub.registry_host("eu-west-1", account_id="444455556666")]
            env = {"PATH": "/usr/bin:/bin"}
            env.update(cluster.env(sa_dir))
            env.update(stub.env())
            env.update(stub.env_web_identity(os.path.join(tmp, "irsa"), region="eu-west-1"))
            env.update({"ECR_REGISTRIES": ",".join(registries), "TARGET_NAMESPACES": ",".join(TARGETS),
                        "LOG_FORMAT": "text"})

            code = run(env)
            print("\nGetAuthorizationToken calls at the stand-in (one per region): %s"
                  % sorted(c["region"] for c in stub.ecr_token_calls()))
            for ns in TARGETS:
                secret = cluster.get_secret(ns, "ecr-creds")
                if secret is None:
                    print("\n%s: no Secret" % ns)
                    continue
                meta = secret["metadata"]
                config = json.loads(secret["data"][".dockerconfigjson"])
                print("\nSecret %s/%s  type=%s" % (ns, meta["name"], secret["type"]))
                print("  labels:      %s" % json.dumps(meta.get("labels", {})))
                print("  annotations: %s" % json.dumps(meta.get("annotations", {})))
                print("  managed by:  %s" % cluster.field_managers(ns, "ecr-creds"))
                for host, entry in sorted(config["auths"].items()):
                    print("  auths[%s]: username=%s password=%s" % (host, entry["username"],
                                                                  masked(entry["password"])))
            print("\nA second run, as a server-side dry run: every check, no write. The stand-in")
            print("hands out the same token again, so each namespace reports unchanged:")
            run(env, "--dry-run")
    return code


if __name__ == "__main__":
    sys.exit(main())
