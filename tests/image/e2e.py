"""The built image against real peers: a kube-apiserver + etcd (tests/standins/k8s_cluster.py) and the
AWS stand-in (tests/standins/awsstub.py), all on 127.0.0.1. The image's own /ecr-refresh runs through
`buildah run` (chroot isolation shares the host's network), as its USER, with what a pod on
EKS with IRSA gets mounted: the ServiceAccount folder at the default path and the web
identity token file, owned by the image's uid as kubelet does for runAsUser. AWS
credentials come from STS AssumeRoleWithWebIdentity, so no secret is ever on a command line.

    e2e.py IMAGE VERSION COMMIT   (BUILDAH: the buildah command with its storage options)

Checks: `--version` prints VERSION and COMMIT; one run creates the kubernetes.io/dockerconfigjson
Secret in the target namespace with the stand-in's registry password; no secret in stderr;
the process is not root (a token file only root may read stays unreadable).
"""
import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "standins"))

import awsstub  # noqa: E402
import k8s_cluster  # noqa: E402

UID = GID = 65532
REGION = "us-east-1"
SECRET = "ecr-creds"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
IRSA_MOUNT = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
CA_MOUNT = "/etc/ecr-refresh/aws-ca.pem"


def buildah(*args, timeout=120, check=True):
    cmd = shlex.split(os.environ.get("BUILDAH", "buildah")) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SystemExit("FAIL: %s -> exit %d\n%s" % (" ".join(args[:2]), proc.returncode, proc.stderr[-3000:]))
    return proc


def own(path):
    """The pod's user owns its mounted token files (kubelet with runAsUser/fsGroup)."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), UID, GID)


def run_image(container, args, env, mounts):
    cmd = ["run", "--isolation", "chroot", "--network", "host"]
    for key, value in sorted(env.items()):
        cmd += ["-e", "%s=%s" % (key, value)]
    for src, dst in mounts:
        cmd += ["-v", "%s:%s:ro" % (src, dst)]
    t0 = time.monotonic()
    proc = buildah(*(cmd + [container, "--", "/ecr-refresh"] + list(args)), check=False)
    return proc, time.monotonic() - t0


def check(cond, what, proc=None):
    if not cond:
        detail = "\n" + proc.stderr[-4000:] if proc is not None else ""
        raise SystemExit("FAIL: %s%s" % (what, detail))
    print("ok: %s" % what)


def main():
    image, version, commit = sys.argv[1], sys.argv[2], sys.argv[3]
    work = tempfile.mkdtemp(prefix="ecr-image-e2e-")
    os.chmod(work, 0o755)
    cluster = stub = container = None
    try:
        cluster = k8s_cluster.Cluster(os.path.join(work, "k8s")).start()
        stub = awsstub.AwsStub(os.path.join(work, "aws"), regions=[REGION]).start()
        ns = cluster.unique_namespace("image")
        cluster.setup_identity([ns])
        sa = cluster.make_sa_dir(os.path.join(work, "sa"), "ecr-refresh-system")
        irsa_env = stub.env_web_identity(os.path.join(work, "irsa"))
        own(sa)
        own(os.path.join(work, "irsa"))
        os.chmod(os.path.dirname(stub.ca_path), 0o755)
        os.chmod(stub.ca_path, 0o644)

        container = buildah("from", "--pull=never", "--name", "ecr-refresh-e2e-%d" % os.getpid(),
                            image).stdout.strip()

        proc, _ = run_image(container, ["--version"], {}, [])
        want = "ecr-refresh %s (commit %s)" % (version, commit)
        check(proc.returncode == 0 and proc.stdout.strip() == want, "--version in the image says %r" % want, proc)

        host = stub.registry_host(REGION)
        env = {k: v for k, v in stub.env().items() if not k.startswith("AWS_EC2_METADATA")}
        env.update(irsa_env)
        env.update({
            "AWS_CA_BUNDLE": CA_MOUNT,
            "AWS_WEB_IDENTITY_TOKEN_FILE": IRSA_MOUNT + "/token",
            "AWS_EC2_METADATA_DISABLED": "true",
            "KUBERNETES_SERVICE_HOST": cluster.host,
            "KUBERNETES_SERVICE_PORT": str(cluster.port),
            "ECR_REGISTRIES": host,
            "TARGET_NAMESPACES": ns,
        })
        mounts = [(sa, SA_MOUNT), (os.path.join(work, "irsa"), IRSA_MOUNT), (stub.ca_path, CA_MOUNT)]
        proc, seconds = run_image(container, [], env, mounts)
        check(proc.returncode == 0, "the image's ecr-refresh ran (exit 0, %.1f s)" % seconds, proc)
        lines = [json.loads(line) for line in proc.stderr.splitlines()]
        applied = [l for l in lines if l.get("msg") == "secret applied" and l.get("namespace") == ns]
        check(len(applied) == 1 and applied[0].get("result") == "created", "log says the Secret was created in %s" % ns, proc)
        check(stub.leaked_secrets(proc.stdout + proc.stderr) == [], "no AWS secret in its output")
        check(str(cluster.admin_token) not in proc.stderr, "no bearer token in its output")
        check([c["status"] for c in stub.calls("sts")] == [200], "credentials came from STS web identity")

        secret = cluster.get_secret_raw(ns, SECRET)
        check(secret is not None, "Secret %s/%s exists" % (ns, SECRET))
        check(secret["type"] == "kubernetes.io/dockerconfigjson", "its type is kubernetes.io/dockerconfigjson")
        auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
        pw = stub.password_for(REGION)
        check(list(auths) == [host] and auths[host].get("username") == "AWS" and auths[host].get("password") == pw,
              "it holds the ECR registry credentials for %s" % host)
        check(("ecr-refresh", "Apply") in cluster.field_managers(ns, SECRET), "written by server-side apply")

        # The image's USER is in force: a token only root may read is out of its reach.
        root_sa = cluster.make_sa_dir(os.path.join(work, "sa-root"), "ecr-refresh-system")
        os.chmod(root_sa, 0o755)
        proc, _ = run_image(container, [], env, [(root_sa, SA_MOUNT)] + mounts[1:])
        check(proc.returncode != 0 and "Permission denied" in proc.stderr,
              "it runs as %d:%d, not root (a root-only token is unreadable)" % (UID, GID), proc)
    finally:
        if container:
            buildah("rm", container, check=False)
        if stub:
            stub.stop()
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
