#!/bin/sh
# Installs the Debian packages a step needs, and only those missing.
#   install-packages.sh build|demo|test|bench
# .ci/run (test) and `make demo` (demo) both call it, so a fresh Debian 12 machine needs
# nothing installed by hand. Needs root when something is missing.
set -eu

build="build-essential musl-tools dpkg-dev ca-certificates git file"
# the local apiserver (etcd, xz for the shipped binary), the AWS stand-in (botocore), PKI
demo="$build python3 python3-botocore openssl etcd-server xz-utils"
# fuzzing (clang + runtimes), pytest, CONNECT proxy, arm64 cross + emulation, image build,
# etcdctl (compacting etcd to force a watch's 410 Gone), GNU time (the peak RSS of the
# hostile-answer tests)
test="$demo clang libclang-rt-14-dev python3-pytest python3-yaml tinyproxy \
gcc-aarch64-linux-gnu qemu-user-static buildah mmdebstrap etcd-client time"
# make bench: the AWS CLI and curl it measures against (kubectl: see bench/run.sh)
bench="$demo awscli curl"

case "${1:-}" in
build) want=$build ;;
demo) want=$demo ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|demo|test|bench" >&2; exit 2 ;;
esac

missing=""
for pkg in $want; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
# kubectl renders the kustomize overlays and checks --output with --dry-run=client. Some
# machine images ship a kubectl of their own at /usr/bin/kubectl, which Debian's
# kubernetes-client would clash with: add it only where there is none.
if [ "$1" = test ] && ! command -v kubectl >/dev/null; then
	missing="$missing kubernetes-client"
fi
if [ -z "$missing" ]; then
	echo "install-packages.sh $1: every Debian package it needs is installed" >&2
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing (run as root, or apt-get install them)" >&2
	exit 1
fi
echo "install-packages.sh $1: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
