#!/bin/sh
# Writes deb-src lists derived from the machine's own apt sources into DIR, for a private
# apt state (Dir::Etc::SourceParts=DIR). The machine's apt configuration is only read.
#   deb-src-lists.sh DIR
set -eu
dir=${1:?usage: deb-src-lists.sh DIR}
mkdir -p "$dir"

# deb822 files: every "Types:" line that names deb becomes deb-src.
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	sed -e '/^Types:/s/.*/Types: deb-src/' "$f" > "$dir/$(basename "$f")"
done
# one-line format: "deb [opts] uri suite comp" becomes "deb-src ...".
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	sed -n -e 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >> "$dir/derived.list"
done
