#!/bin/sh
# A static-musl cross compiler for Debian architecture ARCH (e.g. arm64) in OUTDIR:
#   musl-cross.sh ARCH OUTDIR   ->  OUTDIR/bin/TRIPLET-gcc   (e.g. aarch64-linux-musl-gcc)
#
# Debian's cross gcc (gcc-aarch64-linux-gnu) plus Debian's own musl-dev for ARCH: the .deb is
# fetched with `apt-get download` through a private apt state whose lists are the machine's
# own binary sources read for ARCH, unpacked into OUTDIR/sysroot, and its musl-gcc.specs is
# pointed at that folder. This beats the two other ways:
# - `dpkg --add-architecture arm64` + `apt-get install musl-dev:arm64` edits the machine's
#   dpkg configuration: every later `apt-get update` fetches arm64 indexes from every source
#   (third-party ones too), and musl-dev is Multi-Arch: same, so musl:amd64 and musl:arm64
#   must move in lockstep; a mirror that has one arch's update before the other's stops apt.
# - building musl from `apt-get source musl` costs a minute of both cores on every fresh
#   machine and yields the same musl 1.2.3 that Debian already compiled.
# The machine's apt configuration is never touched (as in scripts/fetch-deps.sh).
#
#   MUSL_DEV_DEB=FILE   an already downloaded musl-dev_*_ARCH.deb: no apt at all
#   CROSS_GCC=NAME      the cross gcc (default TRIPLET-gcc from gcc-TRIPLET)
set -eu

arch=${1:?usage: musl-cross.sh ARCH OUTDIR}
out=${2:?usage: musl-cross.sh ARCH OUTDIR}

die() {
	echo "musl-cross.sh: $*" >&2
	exit 1
}

command -v dpkg-architecture >/dev/null || die "needs dpkg-architecture (apt-get install dpkg-dev)"
gnu=$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_TYPE 2>/dev/null) || die "unknown Debian architecture $arch"
# musl's multiarch folders swap gnu for musl: aarch64-linux-musl, arm-linux-musleabihf.
mt=$(echo "$gnu" | sed "s/-gnu/-musl/")
gcc=${CROSS_GCC:-$gnu-gcc}
command -v "$gcc" >/dev/null || die "needs the cross compiler $gcc (apt-get install gcc-$gnu)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
case "$out" in
*[!A-Za-z0-9/._+-]*) die "$out: the specs file names this folder, keep it to plain characters" ;;
esac
tmp="$out/.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/files"

if [ -n "${MUSL_DEV_DEB:-}" ]; then
	deb=$MUSL_DEV_DEB
else
	apt="$tmp/apt"
	mkdir -p "$apt/sources.list.d" "$apt/state/lists/partial" "$apt/cache/archives/partial"
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && cp "$f" "$apt/sources.list.d/"
	done
	if [ -f /etc/apt/sources.list ]; then cp /etc/apt/sources.list "$apt/sources.list.d/zz-sources.list"; fi
	set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources.list.d" \
		-o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 \
		-o APT::Sandbox::User=root -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -q
	# A third-party source without ARCH makes update fail as a whole; Debian's own lists
	# still arrive, so the download below decides.
	apt-get "$@" update >"$tmp/update.log" 2>&1 || true
	(cd "$tmp/files" && apt-get "$@" download "musl-dev:$arch") >"$tmp/download.log" 2>&1 || {
		cat "$tmp/update.log" "$tmp/download.log" >&2
		die "apt-get download musl-dev:$arch failed (the machine's Debian sources must carry it, or set MUSL_DEV_DEB)"
	}
	deb=$(find "$tmp/files" -name "musl-dev_*_$arch.deb" | head -n 1)
fi
[ -f "$deb" ] || die "no musl-dev .deb for $arch"
dpkg-deb -x "$deb" "$tmp/sysroot"
specs="$tmp/sysroot/usr/lib/$mt/musl-gcc.specs"
if [ ! -f "$specs" ] || [ ! -f "$tmp/sysroot/usr/lib/$mt/libc.a" ]; then
	die "$deb has no $mt libc.a and musl-gcc.specs"
fi

# Debian's specs name /usr/include/$mt and /usr/lib/$mt; the sysroot will live in $out.
sed -e "s|/usr/include/$mt|$out/sysroot/usr/include/$mt|g" -e "s|/usr/lib/$mt|$out/sysroot/usr/lib/$mt|g" \
	"$specs" > "$tmp/musl-gcc.specs"
mkdir -p "$tmp/bin"
# The same shape as Debian's own musl-gcc wrapper: the specs come after the caller's flags.
printf '#!/bin/sh\nexec %s "$@" -specs "%s/musl-gcc.specs"\n' "$gcc" "$out" > "$tmp/bin/$mt-gcc"
chmod 755 "$tmp/bin/$mt-gcc"

rm -rf "${out:?}/sysroot" "${out:?}/bin" "${out:?}/musl-gcc.specs"
mv "$tmp/sysroot" "$tmp/musl-gcc.specs" "$tmp/bin" "$out/"
rm -rf "$tmp"

# A toolchain that cannot link a static program is no toolchain: say so here, not in make.
printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' > "$out/probe.c"
"$out/bin/$mt-gcc" -std=c11 -static -o "$out/probe" "$out/probe.c" || die "$out/bin/$mt-gcc cannot link a static program"
rm -f "$out/probe" "$out/probe.c"
echo "musl $(basename "$deb" | cut -d_ -f2) for $arch: $out/bin/$mt-gcc" >&2
