#!/usr/bin/env bash
# Installs the Debian packages weft needs that are missing. As root it runs apt-get; as
# anyone else it prints the command and fails, so nothing half-works silently.
#   install-deps.sh           what building and testing weft needs
#   install-deps.sh --peers   also the optional benchmark peers (TBB, Go) that weft-bench's
#                             sched suite compares against; best effort: a failure there
#                             only leaves those peers out of the tables
set -eu
pkgs="gcc g++ make cmake pkg-config clang libclang-rt-dev liburcu-dev libck-dev gnuplot-nox"
peer_pkgs="libtbb-dev golang-go"

missing_of() {
	local out=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			out="$out $p"
		fi
	done
	echo "$out"
}

missing=$(missing_of $pkgs)
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "weft needs these Debian packages:$missing" >&2
		echo "run as root: apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if [ "${1:-}" = "--peers" ]; then
	missing=$(missing_of $peer_pkgs)
	[ -z "$missing" ] && exit 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "optional benchmark peers missing:$missing (as root: apt-get install -y$missing)" >&2
		exit 0
	fi
	echo "installing the optional benchmark peers:$missing"
	apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing ||
		echo "could not install$missing: weft-bench runs without those peers" >&2
fi
exit 0
