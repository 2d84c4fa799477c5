#!/bin/sh
# make bench: the three benchmarks of bench/README.md, one after the other.
#
#   make B=build-bench bench            (or: ECR_BUILD=build-bench bench/run.sh)
#   BENCH_RUNS=20 BENCH_AWS_RUNS=10 BENCH_NAMESPACES=1000 BENCH_CONCURRENCY=8
#
# Needs Debian's awscli and kubernetes-client. When /usr/bin/kubectl belongs to another
# package (a cloud SDK's kubectl, which dpkg would refuse to overwrite), Debian's
# kubernetes-client is fetched with `apt-get download` and unpacked into $B/deb instead.
set -eu
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-/usr/bin/python3}
# make passes B= from its command line in the environment.
ECR_BUILD=${ECR_BUILD:-${B:-build}}
export ECR_BUILD

if [ ! -x "$ECR_BUILD/ecr-refresh" ]; then
	echo "no $ECR_BUILD/ecr-refresh: make B=$ECR_BUILD first" >&2
	exit 2
fi
if [ ! -x /usr/bin/curl ]; then
	echo "no /usr/bin/curl: scripts/install-packages.sh bench" >&2
	exit 2
fi
if [ ! -x /usr/bin/aws ]; then
	echo "no /usr/bin/aws: apt-get install -y awscli" >&2
	exit 2
fi

if [ -z "${KUBECTL:-}" ] && [ "$(dpkg-query -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1)" != kubernetes-client ]; then
	deb="$ECR_BUILD/deb"
	if [ ! -x "$deb/root/usr/bin/kubectl" ]; then
		mkdir -p "$deb"
		(cd "$deb" && rm -f kubernetes-client_*.deb && apt-get download kubernetes-client)
		dpkg-deb -x "$deb"/kubernetes-client_*.deb "$deb/root"
	fi
	KUBECTL="$deb/root/usr/bin/kubectl"
	export KUBECTL
fi

echo "== ecr-refresh $("$ECR_BUILD/ecr-refresh" --version | cut -d' ' -f2), $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1)," \
     "kubectl $("${KUBECTL:-/usr/bin/kubectl}" version --client --short 2>/dev/null | cut -d' ' -f3)," \
     "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== token fetch (bench/token_fetch.py)"
"$PYTHON" bench/token_fetch.py --runs "${BENCH_RUNS:-20}" --aws-runs "${BENCH_AWS_RUNS:-10}"
echo
echo "== ${BENCH_NAMESPACES:-1000} namespaces (bench/namespaces.py)"
"$PYTHON" bench/namespaces.py --count "${BENCH_NAMESPACES:-1000}" --concurrency "${BENCH_CONCURRENCY:-8}" --glob
echo
echo "== ${BENCH_NAMESPACES:-1000} namespaces: new, unchanged, fresh, against curl --parallel (bench/fresh.py)"
"$PYTHON" bench/fresh.py --count "${BENCH_NAMESPACES:-1000}" --concurrency "${BENCH_CONCURRENCY:-8}"
