#!/bin/sh
# Install every Debian package phaul needs to build, run and test.
# Idempotent: installs only what is missing; a no-op when all is there.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev debhelper dpkg-dev man-db systemd bash-completion
libssh2-1-dev libprotobuf-c-dev protobuf-c-compiler liburing-dev libzstd-dev
libcurl4-openssl-dev libinih-dev libsodium-dev libcmocka-dev libjansson-dev
criu rsync openssh-server openssh-client lxc liblxc1 lxc-dev iptables runc jq
qemu-system-x86 busybox-static kmod cpio iproute2 zstd python3 python3-matplotlib redis-server redis-tools
prometheus prometheus-node-exporter curl
${PHAUL_EXTRA_PKGS:-}"

missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (apt-get install needs root)" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
