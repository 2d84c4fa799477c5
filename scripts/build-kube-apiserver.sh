#!/bin/sh
# Build kube-apiserver v1.20.2 into $1 (build/k8s) from Debian's kubernetes source package,
# as ../shared/k8s/README.md describes: `apt-get source kubernetes`
# (1.20.5+really1.20.2-1.1+deb12u1, the full upstream tree with vendor/), then
# `make WHAT=cmd/kube-apiserver` the way its debian/rules builds (CGO_ENABLED=0, GOPATH
# link), with Go 1.15 from Debian bullseye's golang-1.15-go: Go >= 1.18 builds a binary
# that panics in the vendored reflect2. The result is stripped. Only a fallback for
# tests/standins/k8s_cluster.py when ../shared/k8s is absent; it takes a while and ~3 GB of disk.
#
# As in scripts/fetch-deps.sh the machine's apt configuration is never touched: apt runs
# against private state folders under $1/work, one with deb-src lines derived from the
# machine's own sources (for kubernetes), one with bullseye's binary index (for Go).
#
#   KUBERNETES_SRC=DIR     an unpacked kubernetes 1.20.2 tree: no apt-get source
#   GOROOT_1_15=DIR        a Go 1.15 toolchain: nothing fetched from bullseye
#   BULLSEYE_MIRROR=URI    Debian mirror carrying bullseye (default: the machine's
#                          Debian archive, else http://deb.debian.org/debian)
#   KUBERNETES_DEB_VERSION source version (default 1.20.5+really1.20.2-1.1+deb12u1)
#   KEEP_WORK=1            keep $1/work (sources, toolchain, Go cache) after success
#   --fetch-only           fetch and unpack sources and toolchain, build nothing
set -eu
scripts=$(cd "$(dirname "$0")" && pwd)   # deb-src-lists.sh beside this one

fetch_only=0
if [ "${1:-}" = "--fetch-only" ]; then
	fetch_only=1
	shift
fi
out=${1:?usage: build-kube-apiserver.sh [--fetch-only] OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/work"
version=${KUBERNETES_DEB_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}
known_sha256=301d0dfceb12dbf0c954264f7633be205957aedfd0e2d3a2138e1a91936d987d

if [ -x "$out/kube-apiserver" ] && [ "$fetch_only" = 0 ]; then
	echo "$out/kube-apiserver already exists" >&2
	exit 0
fi

die() {
	echo "build-kube-apiserver.sh: $*" >&2
	exit 1
}
need() {
	command -v "$1" >/dev/null || die "needs $1 (apt-get install -y $2)"
}
need make make
need rsync rsync  # hack/lib/golang.sh places binaries with rsync (debian/control Build-Depends)
need bash bash
need strip binutils
need sha256sum coreutils

# papt STATE TOOL ARGS...: run apt-get/apt-cache against the private state folder STATE.
papt() {
	st=$1
	tool=$2
	shift 2
	"$tool" -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$st/sources.list.d" \
		-o "Dir::State=$st/state" -o "Dir::Cache=$st/cache" -o Debug::NoLocking=1 \
		-o APT::Sandbox::User=root -q "$@"
}
new_state() {
	rm -rf "$1"
	mkdir -p "$1/sources.list.d" "$1/state/lists/partial" "$1/cache/archives/partial" "$1/files"
}

mkdir -p "$work"

# --- Go 1.15 -----------------------------------------------------------------------------
if [ -n "${GOROOT_1_15:-}" ]; then
	goroot=$GOROOT_1_15
elif [ -x /usr/lib/go-1.15/bin/go ]; then
	goroot=/usr/lib/go-1.15
else
	goroot="$work/go/usr/lib/go-1.15"
fi
if [ ! -x "$goroot/bin/go" ]; then
	need apt-get apt
	need dpkg-deb dpkg
	mirror=${BULLSEYE_MIRROR:-}
	if [ -z "$mirror" ]; then
		# The machine's own Debian archive: the URI of a source whose suite is the
		# release codename itself (not -security, not -updates).
		# shellcheck source=/dev/null
		codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
		mirror=$(awk -v c="$codename" '
			/^[[:space:]]*$/ { uri = ""; suites = ""; next }
			/^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
			uri != "" && suites != "" { n = split(suites, s, /[[:space:]]+/)
				for (i = 2; i <= n; i++) if (s[i] == c) { print uri; exit } }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
		[ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -n -e 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\)[[:space:]]\{1,\}'"$codename"'[[:space:]].*/\2/p' |
			head -n 1)
		[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	fi
	goapt="$work/apt-bullseye"
	new_state "$goapt"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	{
		echo "Types: deb"
		echo "URIs: $mirror"
		echo "Suites: bullseye"
		echo "Components: main"
		if [ -f "$keyring" ]; then echo "Signed-By: $keyring"; fi
	} > "$goapt/sources.list.d/bullseye.sources"
	fail_go="Go 1.15 is needed (Go >= 1.18 builds a kube-apiserver that panics in the vendored
reflect2), from Debian bullseye's golang-1.15-go and golang-1.15-src; they could not be
fetched from $mirror (suite bullseye). Make a Debian mirror carrying bullseye reachable
(BULLSEYE_MIRROR=URI, e.g. http://archive.debian.org/debian once bullseye is archived),
or set GOROOT_1_15 to an unpacked Go 1.15 toolchain."
	papt "$goapt" apt-get update >"$goapt/update.log" 2>&1 || { cat "$goapt/update.log" >&2; die "$fail_go"; }
	(cd "$goapt/files" && papt "$goapt" apt-get download golang-1.15-go golang-1.15-src) \
		>"$goapt/download.log" 2>&1 || { cat "$goapt/download.log" >&2; die "$fail_go"; }
	rm -rf "$work/go"
	for deb in "$goapt"/files/golang-1.15-go_*.deb "$goapt"/files/golang-1.15-src_*.deb; do
		[ -f "$deb" ] || die "$fail_go"
		dpkg-deb -x "$deb" "$work/go"
	done
fi
gov=$("$goroot/bin/go" version 2>/dev/null) || die "$goroot/bin/go does not run"
case "$gov" in
*" go1.15"*) ;;
*) die "$goroot/bin/go is \"$gov\"; kube-apiserver v1.20.2 must be built with Go 1.15" ;;
esac
echo "using $gov from $goroot" >&2

# --- kubernetes source -------------------------------------------------------------------
if [ -n "${KUBERNETES_SRC:-}" ]; then
	[ -f "$KUBERNETES_SRC/cmd/kube-apiserver/apiserver.go" ] || die "KUBERNETES_SRC=$KUBERNETES_SRC has no cmd/kube-apiserver"
	src=$(cd "$KUBERNETES_SRC" && pwd)
else
	need apt-get apt
	need dpkg-source dpkg-dev
	src="$work/kubernetes"
	if [ ! -f "$src/cmd/kube-apiserver/apiserver.go" ]; then
		kapt="$work/apt-src"
		new_state "$kapt"
		"$scripts/deb-src-lists.sh" "$kapt/sources.list.d"
		papt "$kapt" apt-get update >"$kapt/update.log" 2>&1 || { cat "$kapt/update.log" >&2; die "apt-get update of the deb-src lists failed"; }
		(cd "$kapt/files" && papt "$kapt" apt-get source "kubernetes=$version") >"$kapt/source.log" 2>&1 || {
			cat "$kapt/source.log" >&2
			die "apt-get source kubernetes=$version failed: the machine's Debian sources must carry it (bookworm and bookworm-security do), or set KUBERNETES_SRC"
		}
		dir=$(find "$kapt/files" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
		[ -n "$dir" ] || die "apt-get source kubernetes unpacked nothing"
		rm -rf "$src"
		mv "$dir" "$src"
		rm -rf "$kapt/files"
	fi
fi
echo "kubernetes source in $src" >&2
[ "$fetch_only" = 1 ] && exit 0

# --- build, as debian/rules does ----------------------------------------------------------
mkdir -p "$src/.go/src/k8s.io" "$work/home" "$work/gocache"
[ -L "$src/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"
# A build that stopped half way leaves stamps in _output that make trusts; the Go cache
# keeps a fresh start cheap.
rm -rf "$src/_output"
(
	cd "$src"
	env GOROOT="$goroot" PATH="$goroot/bin:$PATH" GOPATH="$src/.go" GOCACHE="$work/gocache" \
		GOPROXY=off CGO_ENABLED=0 HOME="$work/home" \
		make WHAT=cmd/kube-apiserver
)
bin="$src/_output/bin/kube-apiserver"
[ -x "$bin" ] || die "make WHAT=cmd/kube-apiserver produced no $bin"
strip -o "$out/kube-apiserver.tmp" "$bin"
chmod 755 "$out/kube-apiserver.tmp"
"$out/kube-apiserver.tmp" --version >&2 || die "the built kube-apiserver does not run"
mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
sum=$(sha256sum "$out/kube-apiserver" | cut -d ' ' -f 1)
if [ "$sum" = "$known_sha256" ]; then
	echo "built $out/kube-apiserver, identical to ../shared/k8s's binary" >&2
else
	echo "built $out/kube-apiserver (sha256 $sum; ../shared/k8s's is $known_sha256, a build in another path or with another Go differs)" >&2
fi
[ "${KEEP_WORK:-}" = 1 ] || rm -rf "$work"
