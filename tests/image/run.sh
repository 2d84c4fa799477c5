#!/bin/sh
# The release image, built and run with no Docker daemon and no registry (`make image-test`):
#  1. a Debian bookworm rootfs from mmdebstrap (minbase) over the machine's own Debian
#     mirror, cached in build/image, imported into a private buildah store as the image
#     FROM debian:bookworm names (docker.io/library/debian:bookworm);
#  2. `buildah bud` of ./Dockerfile for each platform in IMAGE_TEST_PLATFORMS (default
#     "amd64 arm64": the native build and the build stage's cross-compile);
#  3. each image's config and size (tests/image/image_config.py: < 512 KiB, USER,
#     ENTRYPOINT, OCI labels);
#  4. the native image run through `buildah run` against a real kube-apiserver and the AWS
#     stand-in (tests/image/e2e.py): the Secret lands. The arm64 image's binary is taken
#     out and must be a static aarch64 executable that says its version under qemu.
#
# Needs root (apt-get, mmdebstrap, buildah's vfs store). Installs buildah and mmdebstrap
# (and qemu-user-static, file for arm64) when missing. Everything it keeps is in
# IMAGE_CACHE (default build/image): rootfs tarball and the buildah store; the build
# stage's apt-get and compile run every time, so a rerun takes about as long minus the
# rootfs (~40 s).
#
#   VERSION=v COMMIT=c  the version and commit baked in (default: what `make version` says,
#                       the VERSION file and git's commit, as make stamps them)
#   IMAGE_TEST_FRESH=1  rebuild the rootfs and base image
set -eu

cd "$(dirname "$0")/../.."
root=$(pwd)
cache=${IMAGE_CACHE:-build/image}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
platforms=${IMAGE_TEST_PLATFORMS:-amd64 arm64}
stamp=$(make -s version)
version=${VERSION:-${stamp% *}}
commit=${COMMIT:-${stamp#* }}
max_bytes=$((512 * 1024))
python=${PYTHON:-/usr/bin/python3}
base=docker.io/library/debian:bookworm
t_start=$(date +%s)

say() { printf '== %s (%ds)\n' "$*" $(($(date +%s) - t_start)); }
die() { echo "image-test: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (apt-get, mmdebstrap, buildah's vfs store)"

# --- tools ---------------------------------------------------------------------------------
host=$(dpkg --print-architecture)
pkgs=""
command -v buildah >/dev/null || pkgs="$pkgs buildah"
command -v mmdebstrap >/dev/null || pkgs="$pkgs mmdebstrap"
for p in $platforms; do
	[ "$p" = "$host" ] && continue
	command -v file >/dev/null || pkgs="$pkgs file"
	command -v "qemu-$(dpkg-architecture -a"$p" -qDEB_HOST_GNU_CPU 2>/dev/null)-static" >/dev/null || pkgs="$pkgs qemu-user-static"
done
if [ -n "$pkgs" ]; then
	say "installing$pkgs"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # a list of package names
	apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1 || {
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $pkgs >/dev/null
	}
fi

# A private store: nothing of the machine's containers configuration is used or changed.
bh="buildah --root $cache/storage --runroot $cache/run --storage-driver vfs"
$bh rm --all >/dev/null 2>&1 || true

# --- base image: debian:bookworm from the machine's own Debian mirror ---------------------
# deb822 debian.sources as the official image has it; else the one-line sources.list lines
# for the release (the rootfs gets exactly these, and the Dockerfile's apt-get source
# derives its deb-src lines from them; mmdebstrap tells the two formats apart by content).
sources="$cache/rootfs-apt-sources"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$sources.new"
else
	grep -h -E '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm(-updates|-security)?[[:space:]]' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null > "$sources.new" || true
	[ -s "$sources.new" ] || echo "deb http://deb.debian.org/debian bookworm main" > "$sources.new"
fi
rootfs="$cache/rootfs-bookworm.tar"
if [ "${IMAGE_TEST_FRESH:-}" = 1 ] || [ ! -f "$rootfs" ] || ! cmp -s "$sources.new" "$sources"; then
	say "mmdebstrap bookworm (minbase) -> $rootfs"
	mv "$sources.new" "$sources"
	rm -f "$rootfs" "$cache/base.stamp"
	mmdebstrap --variant=minbase --format=tar bookworm "$rootfs.tmp" "$sources" >"$cache/mmdebstrap.log" 2>&1 || {
		tail -n 30 "$cache/mmdebstrap.log" >&2
		die "mmdebstrap failed"
	}
	mv "$rootfs.tmp" "$rootfs"
else
	rm -f "$sources.new"
fi
if [ ! -f "$cache/base.stamp" ] || [ -n "$(find "$rootfs" -newer "$cache/base.stamp")" ] || ! $bh inspect --type image "$base" >/dev/null 2>&1; then
	say "importing the rootfs as $base"
	ctr=$($bh from scratch)
	$bh add "$ctr" "$rootfs" / >/dev/null
	$bh config --os linux --arch "$host" --cmd /bin/bash \
		--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
	$bh commit --quiet --rm "$ctr" "$base" >/dev/null
	touch "$cache/base.stamp"
fi

# --- build, check --------------------------------------------------------------------------
image_for() { if [ "$1" = "$host" ]; then echo ecr-refresh:test; else echo "ecr-refresh:test-$1"; fi; }
for p in $platforms; do
	image=$(image_for "$p")
	say "buildah bud --platform linux/$p -t $image (VERSION=$version COMMIT=$commit)"
	log="$cache/bud-$p.log"
	# buildah 1.28 (bookworm) sets TARGET* from --platform but not BUILDPLATFORM: pass it,
	# as BuildKit would, so the build stage stays on this machine's platform.
	$bh bud --isolation chroot --pull=never --layers=false \
		--platform "linux/$p" --build-arg "BUILDPLATFORM=linux/$host" --build-arg "VERSION=$version" \
		--build-arg "COMMIT=$commit" \
		-t "$image" "$root" >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "buildah bud for linux/$p failed (whole log: $log)"
	}
	echo "image $image: $($bh images --format '{{.Size}}' "$image")"
	$bh inspect --type image "$image" | "$python" tests/image/image_config.py "$p" "$version" "$commit" "$max_bytes" ||
		die "$image: configuration or size"
done
$bh rmi --prune >/dev/null 2>&1 || true

for p in $platforms; do
	[ "$p" = "$host" ] && continue
	image=$(image_for "$p")
	say "$image: the binary under qemu"
	ctr=$($bh from --pull=never --arch "$p" "$image")
	out="$cache/ecr-refresh-$p"
	cp "$($bh mount "$ctr")/ecr-refresh" "$out"
	$bh umount "$ctr" >/dev/null
	$bh rm "$ctr" >/dev/null
	kind=$(file -b "$out")
	case "$kind" in
	*"statically linked"*) echo "ok: $kind" ;;
	*) die "$image: /ecr-refresh is $kind" ;;
	esac
	qemu="qemu-$(dpkg-architecture -a"$p" -qDEB_HOST_GNU_CPU 2>/dev/null)-static"
	got=$("$qemu" "$out" --version)
	[ "$got" = "ecr-refresh $version (commit $commit)" ] || die "$image: --version says '$got'"
	echo "ok: $qemu /ecr-refresh --version: $got"
done

case " $platforms " in
*" $host "*)
	say "ecr-refresh:test against kube-apiserver + the AWS stand-in"
	BUILDAH="$bh" "$python" tests/image/e2e.py ecr-refresh:test "$version" "$commit"
	;;
esac

say "image test passed"
