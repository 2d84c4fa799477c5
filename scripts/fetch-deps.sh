#!/bin/sh
# Fetch BearSSL and cJSON sources into $1 (build/deps) as Debian source packages.
#
# The machine's apt configuration is never touched: a deb-src list is derived from the
# machine's own apt sources (deb822 *.sources and one-line *.list files) into a private
# apt state folder, and `apt-get source` runs against that. BEARSSL_SRC / CJSON_SRC name
# already-unpacked source trees instead and skip apt entirely.
set -eu

out=${1:?usage: fetch-deps.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

need=""
if [ -n "${BEARSSL_SRC:-}" ]; then
	[ -f "$BEARSSL_SRC/inc/bearssl.h" ] || { echo "BEARSSL_SRC=$BEARSSL_SRC has no inc/bearssl.h" >&2; exit 1; }
	rm -f "$out/bearssl"; ln -s "$(cd "$BEARSSL_SRC" && pwd)" "$out/bearssl"
else
	need="$need bearssl"
fi
if [ -n "${CJSON_SRC:-}" ]; then
	[ -f "$CJSON_SRC/cJSON.c" ] || { echo "CJSON_SRC=$CJSON_SRC has no cJSON.c" >&2; exit 1; }
	rm -f "$out/cjson"; ln -s "$(cd "$CJSON_SRC" && pwd)" "$out/cjson"
else
	need="$need cjson"
fi
[ -n "$need" ] || exit 0

command -v dpkg-source >/dev/null || { echo "apt-get source needs dpkg-dev (apt-get install dpkg-dev)" >&2; exit 1; }

apt="$out/apt"
rm -rf "$apt"
mkdir -p "$apt/sources.list.d" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/src"

"$(dirname "$0")/deb-src-lists.sh" "$apt/sources.list.d"

set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources.list.d" \
	-o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 \
	-o APT::Sandbox::User=root -q
apt-get "$@" update >"$apt/update.log" 2>&1 || { cat "$apt/update.log" >&2; exit 1; }
(cd "$apt/src" && apt-get "$@" source $need) >"$apt/source.log" 2>&1 || { cat "$apt/source.log" >&2; exit 1; }

for pkg in $need; do
	dir=$(find "$apt/src" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -n 1)
	[ -n "$dir" ] || { echo "apt-get source $pkg unpacked nothing" >&2; exit 1; }
	rm -rf "$out/$pkg"; mv "$dir" "$out/$pkg"
	echo "fetched $(basename "$dir") from Debian sources" >&2
done
