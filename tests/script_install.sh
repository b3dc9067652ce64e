#!/usr/bin/env bash
# Installs this build to a staging prefix, then builds programs against the installed tree
# the two ways a user would: CMake's find_package(weft) and pkg-config. Runs them.
set -euo pipefail
src=$1 bin=$2 sanitize=${3:-}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cmake --install "$bin" --prefix "$stage/prefix" >/dev/null

extra_flags=""
case "$sanitize" in
thread) extra_flags="-fsanitize=thread" ;;
address) extra_flags="-fsanitize=address,undefined" ;;
esac
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$bin/CMakeCache.txt")

# 1. CMake package: the examples project, as a user's project would build it.
cmake -S "$src/examples" -B "$stage/examples" -DCMAKE_PREFIX_PATH="$stage/prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra_flags" \
	-DCMAKE_EXE_LINKER_FLAGS="$extra_flags" >/dev/null
cmake --build "$stage/examples" -j 2 >/dev/null
for exe in "$stage"/examples/*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	name=$(basename "$exe")
	echo "running example $name"
	LD_LIBRARY_PATH="$stage/prefix/lib:$stage/prefix/lib64" "$exe" --smoke
done

# 2. pkg-config, shared and static.
cat >"$stage/pc.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <weft/weft.h>
int main(void)
{
	weft_ctx *ctx;
	if (weft_ctx_with_timeout(NULL, 1000, &ctx) != 0)
		return 1;
	int err = weft_ctx_wait(ctx);
	weft_ctx_release(ctx);
	printf("weft %s: ctx wait -> %d\n", weft_version(), err);
	return strcmp(weft_version(), "") == 0 || err == 0;
}
C
export PKG_CONFIG_PATH="$stage/prefix/lib/pkgconfig:$stage/prefix/lib64/pkgconfig"
$cc $extra_flags "$stage/pc.c" -o "$stage/pc_shared" $(pkg-config --cflags --libs weft)
LD_LIBRARY_PATH="$stage/prefix/lib:$stage/prefix/lib64" "$stage/pc_shared"
$cc $extra_flags "$stage/pc.c" -o "$stage/pc_static" $(pkg-config --cflags weft) \
	"$stage/prefix/lib/libweft.a" $(pkg-config --libs --static weft | sed 's/-lweft//')
"$stage/pc_static"
# The shared library exports only weft_ symbols.
bad=$(nm -D --defined-only "$stage/prefix/lib/libweft.so" | awk '{print $3}' | grep -v '^weft_' || true)
if [ -n "$bad" ]; then
	echo "libweft.so exports non-weft symbols:"; echo "$bad"; exit 1
fi
echo "install tree: find_package and pkg-config (shared, static) builds ran"
