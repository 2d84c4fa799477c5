"""The arm64 cross build (`make arm64`, i.e. `make ARCH=arm64 B=build/arm64 all unit`) run
under user-mode emulation: the binary is a static aarch64 executable, every static unit
test program passes, and the product itself fetches an ECR token over TLS (RSA and ECDSA
server keys: BearSSL's code paths on a 64-bit ARM target) from the AWS stand-in.

qemu-aarch64-static comes from Debian's qemu-user-static; it is called by name, so no
binfmt_misc registration is needed. ECR_BUILD=build-NAME looks in build-NAME/arm64;
ECR_ARM64_BUILD names the folder outright. `make test` builds it first; without it these
tests fail (run `make arm64`).
"""
import base64
import glob
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

BUILD = os.path.join(ROOT, os.environ.get("ECR_ARM64_BUILD",
                                          os.path.join(os.environ.get("ECR_BUILD", "build"), "arm64")))
BIN = os.path.join(BUILD, "ecr-refresh")
PROGRAMS = sorted(glob.glob(os.path.join(BUILD, "musl", "test_*")))
QEMU = "qemu-aarch64-static"



def qemu():
    path = shutil.which(QEMU)
    assert path, "%s missing: apt-get install qemu-user-static" % QEMU
    return path


def test_binary_is_static_aarch64():
    out = subprocess.run(["file", "-b", BIN], capture_output=True, text=True, check=True).stdout
    assert "ARM aarch64" in out and "statically linked" in out, out
    assert "interpreter" not in out, out


def test_version_under_qemu():
    proc = subprocess.run([qemu(), BIN, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ecr-refresh "), proc.stdout


def test_unit_programs_were_built():
    assert PROGRAMS, "make ARCH=arm64 unit built no test program in %s" % BUILD
    for program in PROGRAMS:
        out = subprocess.run(["file", "-b", program], capture_output=True, text=True, check=True).stdout
        assert "ARM aarch64" in out and "statically linked" in out, (program, out)


@pytest.mark.parametrize("program", PROGRAMS, ids=[os.path.basename(p) for p in PROGRAMS])
def test_unit_program_under_qemu(program):
    env = dict(os.environ, SOURCE_ROOT=ROOT)
    proc = subprocess.run([qemu(), program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_ecr_token_under_qemu(aws_stub_factory, tmp_path, key):
    stub = aws_stub_factory(regions=["us-east-1"], key=key)
    host = stub.registry_host("us-east-1")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SERVICEACCOUNT_DIR": str(tmp_path / "no-serviceaccount")}
    env.update(stub.env())
    env.update(stub.env_static_keys())
    proc = subprocess.run([qemu(), BIN, "--registries", host, "--namespaces", "a", "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert stub.leaked_secrets(proc.stderr) == [], "secret in stderr"
    items = json.loads(proc.stdout)["items"]
    assert [s["metadata"]["namespace"] for s in items] == ["a"]
    assert items[0]["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(items[0]["data"][".dockerconfigjson"]))["auths"]
    assert auths[host]["password"] == stub.password_for("us-east-1")
    assert [c["access_key_id"] for c in stub.ecr_token_calls()] == [stub.static.access_key_id]
