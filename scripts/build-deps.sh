#!/bin/sh
# Compile BearSSL and cJSON from their fetched sources into static libraries.
#   build-deps.sh DEPDIR OUTDIR CC "CFLAGS"
# Their own makefiles are not used: one flat compile with our compiler and flags keeps the
# musl, host and sanitizer builds alike and lets --gc-sections drop what we never call.
set -eu
dep=$1 out=$2 cc=$3 cflags=$4
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$out/dep/bearssl" "$out/dep/cjson"

find "$dep/bearssl/src" -name '*.c' | sort | \
	xargs -P "$jobs" -I{} sh -c 'o="$1/dep/bearssl/$(echo "$2" | sed "s|.*/src/||; s|/|_|g; s|\.c$|.o|")"; '"$cc"' '"$cflags"' -I"$3/bearssl/inc" -I"$3/bearssl/src" -c -o "$o" "$2"' _ "$out" {} "$dep"
rm -f "$out/libbearssl.a"
ar rcs "$out/libbearssl.a" "$out"/dep/bearssl/*.o

$cc $cflags -I"$dep/cjson" -c -o "$out/dep/cjson/cJSON.o" "$dep/cjson/cJSON.c"
rm -f "$out/libcjson.a"
ar rcs "$out/libcjson.a" "$out/dep/cjson/cJSON.o"
