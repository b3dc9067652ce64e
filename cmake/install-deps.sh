#!/usr/bin/env bash
# Installs the Debian packages weft needs that are missing. As root it runs apt-get; as
# anyone else it prints the command and fails, so nothing half-works silently.
set -eu
pkgs="gcc g++ make cmake pkg-config clang libclang-rt-dev liburcu-dev libck-dev gnuplot-nox"
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "weft needs these Debian packages:$missing" >&2
	echo "run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
