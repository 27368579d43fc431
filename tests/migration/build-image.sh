#!/bin/bash
# Build the guest images for the migration test VMs.
#
#   build-image.sh base            build (or reuse) the cached base image and
#                                  print its directory (vmlinuz, base.cpio.gz)
#   build-image.sh guests OUTDIR   base + per-run overlays: writes
#                                  OUTDIR/{vmlinuz,initrd-src,initrd-dst,keys/}
#
# The base (kernel, modules, busybox, criu, sshd, rsync, iproute2, redis and
# their libraries, /init) depends only on this script, guest/ and the host's
# Debian packages, so it is cached in $PHAUL_VM_CACHE (default
# /var/cache/phaul-vm) under a key hashed from those inputs.  The overlay
# (phaul, workloads, keys, per-guest config) is rebuilt on every run; Linux
# unpacks concatenated initramfs archives in order, so the overlay is simply
# appended to the base.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${PHAUL_VM_CACHE:-/var/cache/phaul-vm}
# PHAUL_VM_DEB: install phaul into the guests from this .deb (make check
# builds it in its package stage) instead of copying the binary
PHAUL_VM_DEB=${PHAUL_VM_DEB:-}
# the phaul binary built by the top-level make
PHAUL_BIN=${PHAUL_BIN:-}
if [ -z "$PHAUL_BIN" ]; then
	for PHAUL_BIN in "$REPO/build/phaul" "$REPO/phaul" ""; do
		[ -f "$PHAUL_BIN" ] && break
	done
fi

MODULES="virtio_pci virtio_net libcrc32c nfnetlink nf_tables unix_diag
inet_diag tcp_diag udp_diag netlink_diag af_packet_diag tun veth sch_tbf
sch_netem sch_htb overlay fuse virtiofs bridge nf_conntrack_netlink nft_compat xt_mark"
# 9p/9pnet/9pnet_virtio are not built in Debian's cloud kernel
# (CONFIG_NET_9P is not set), so they cannot be offered; the shared folder
# is virtiofs (fuse + virtiofs, CONFIG_VIRTIO_FS=m).

# runc for the runc: scenarios (a Go binary, libseccomp its only library).
# CRIU dumps and restores a container's tmpfs mounts (/dev of an OCI
# container) with GNU tar and gzip: busybox's tar lacks the options.
RUNC_BINARIES="/usr/sbin/runc /usr/bin/tar /usr/bin/gzip"
# Host binaries copied with their shared-library closure.
BINARIES="/usr/sbin/criu /usr/bin/rsync /usr/sbin/sshd /usr/bin/ssh
/usr/bin/scp /usr/bin/ssh-keygen /usr/lib/openssh/sftp-server /usr/sbin/tc
/usr/sbin/ip $RUNC_BINARIES"
# LXC for the lxc: scenarios (liblxc.so.1 comes with their closure; phaul
# dlopen()s it). The criu that liblxc runs locks a container's network
# namespace with iptables-restore (CRIU 3.17's default; its nftables lock
# is not undone after a restore under another pid): iptables-nft, with the
# extensions it loads from XTABLES_DIR.
LXC_BINARIES="/usr/bin/lxc-start /usr/bin/lxc-stop /usr/bin/lxc-info
/usr/bin/lxc-attach /usr/bin/lxc-ls /usr/sbin/iptables-restore
/usr/sbin/ip6tables-restore /usr/sbin/iptables-save /usr/sbin/ip6tables-save
/usr/sbin/iptables"
XTABLES_DIR=/usr/lib/x86_64-linux-gnu/xtables
OPTIONAL_BINARIES="/usr/bin/redis-server /usr/bin/redis-cli"
# Podman for the podman: scenarios, from Debian's packages (not installed on
# the host: downloaded once into $CACHE/debs like the kernel and unpacked
# into the image): podman, conmon, the containers config files, the two
# libraries podman needs that the host lacks, and crun (bookworm's default
# OCI runtime for Podman) with its library. The guests configure Podman
# with runc instead (see guest/containers.conf: crun 1.8 cannot pre-dump).
PODMAN_DEBS="podman conmon golang-github-containers-common
golang-github-containers-image libgpgme11 libsubid4 crun libyajl2"
PODMAN_FILES="/usr/bin/podman /usr/bin/conmon /usr/bin/crun"
PODMAN_CONF="/etc/containers/registries.conf /etc/containers/policy.json
/usr/share/containers/containers.conf /usr/share/containers/seccomp.json"
PACKAGES="busybox-static criu rsync openssh-server openssh-client iproute2
libc6 kmod redis-server redis-tools lxc liblxc1 liblxc-common iptables runc tar gzip"

log() { echo "build-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

kernel_pkg() {
	if [ -n "${PHAUL_VM_KERNEL_PKG:-}" ]; then
		echo "$PHAUL_VM_KERNEL_PKG"
		return
	fi
	# Newest Debian 6.1 cloud kernel the apt lists know about.
	apt-cache pkgnames linux-image-6.1.0- |
		grep -E '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' |
		sort -V | tail -n 1
}

# Print the shared libraries (and the loader) a binary needs.
lib_closure() {
	ldd "$1" 2>/dev/null | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'
}

# Copy a host file into ROOT at the same path, following symlinks.  The
# path is written in its merged-/usr form (/lib/x -> /usr/lib/x): the
# overlay archive must not contain a /lib directory, which the kernel would
# put in place of the base's /lib -> usr/lib symlink.
copy_in() {
	local root=$1 f=$2 d
	case $f in
	/lib/* | /lib64/* | /bin/* | /sbin/*) d=/usr$f ;;
	*) d=$f ;;
	esac
	mkdir -p "$root$(dirname "$d")"
	cp -L "$f" "$root$d"
}

copy_with_libs() {
	local root=$1 bin=$2 lib
	copy_in "$root" "$bin"
	for lib in $(lib_closure "$bin"); do
		copy_in "$root" "$lib"
	done
}

base_inputs() {
	local kpkg=$1 b
	sha256sum "$HERE/build-image.sh" "$HERE"/guest/*
	echo "kernel $kpkg $(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')"
	for b in $PODMAN_DEBS; do
		echo "deb $b $(apt-cache policy "$b" | awk '/Candidate:/ {print $2}')"
	done
	# shellcheck disable=SC2086
	dpkg-query -W -f '${Package} ${Version}\n' $PACKAGES 2>/dev/null || true
	for b in $BINARIES $LXC_BINARIES $OPTIONAL_BINARIES; do
		[ -e "$b" ] || continue
		stat -L -c '%n %s %Y' "$b"
		for l in $(lib_closure "$b"); do stat -L -c '%n %s %Y' "$l"; done
	done
}

# Unpack Debian package PKG into DIR, downloaded once into $CACHE/debs.
fetch_deb() {
	local pkg=$1 dir=$2 deb
	mkdir -p "$CACHE/debs"
	deb=$(find "$CACHE/debs" -name "${pkg}_*.deb" | sort -V | tail -n 1)
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		(cd "$CACHE/debs" && apt-get download "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed"
		deb=$(find "$CACHE/debs" -name "${pkg}_*.deb" | sort -V | tail -n 1)
	fi
	dpkg -x "$deb" "$dir"
}

# Podman's files from the unpacked packages, with their libraries (from
# the packages first, else the host's).
install_podman() {
	local root=$1 proot=$2 f lib libdir
	libdir=$proot/usr/lib/x86_64-linux-gnu
	for f in $PODMAN_FILES $PODMAN_CONF; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$proot$f" "$root$f"
	done
	for f in $PODMAN_FILES; do
		for lib in $(LD_LIBRARY_PATH=$libdir lib_closure "$proot$f"); do
			case $lib in
			"$proot"/*)
				mkdir -p "$root$(dirname "${lib#"$proot"}")"
				cp -L "$lib" "$root${lib#"$proot"}"
				;;
			*) copy_in "$root" "$lib" ;;
			esac
		done
	done
	install -m 0644 "$HERE/guest/containers.conf" "$root/etc/containers/containers.conf"
	install -m 0644 "$HERE/guest/storage.conf" "$root/etc/containers/storage.conf"
	# podman import stages layers in /var/tmp
	mkdir -p "$root/var/tmp" "$root/var/lib/containers"
	chmod 1777 "$root/var/tmp"
}

build_base() {
	local out=$1 kpkg=$2 work root kroot kver m f
	work=$(mktemp -d "$CACHE/tmp.XXXXXX")
	root=$work/root
	kroot=$work/kernel
	mkdir -p "$root" "$kroot"

	fetch_deb "$kpkg" "$kroot"
	mkdir -p "$work/podman"
	for f in $PODMAN_DEBS; do
		fetch_deb "$f" "$work/podman"
	done
	kver=${kpkg#linux-image-}
	cp "$kroot/boot/vmlinuz-$kver" "$work/vmlinuz"
	depmod -b "$kroot" "$kver"

	# merged-/usr layout like the host, so ldd paths land where the
	# loader looks for them
	mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,run,tmp,root,etc/ssh,var/log,var/lib/mig,mnt}
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"

	for m in $MODULES; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | sort -u | while read -r f; do
		mkdir -p "$root$(dirname "${f#"$kroot"}")"
		cp "$f" "$root${f#"$kroot"}"
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "$kroot/lib/modules/$kver/$f" "$root/lib/modules/$kver/"
	done
	depmod -b "$root" "$kver"

	for f in $BINARIES $LXC_BINARIES; do
		[ -e "$f" ] || die "$f missing on the host (make deps?)"
		copy_with_libs "$root" "$f"
	done
	for f in $OPTIONAL_BINARIES; do
		if [ -e "$f" ]; then
			copy_with_libs "$root" "$f"
		else
			log "warning: $f not installed; redis scenarios will fail"
		fi
	done

	install_podman "$root" "$work/podman"
	rm -rf "$work/podman"

	# liblxc's mount point for a container's rootfs and its default lxcpath
	mkdir -p "$root/var/lib/lxc" "$root$(dirname "$(readlink -f /usr/lib/*/liblxc.so.1)")/lxc/rootfs"
	mkdir -p "$root$XTABLES_DIR"
	cp "$XTABLES_DIR"/*.so "$root$XTABLES_DIR/"

	cp /bin/busybox "$root/usr/bin/busybox"
	# no applet may shadow a real binary of the same name (busybox tc in
	# /usr/bin came before iproute2's in /usr/sbin on root's PATH)
	busybox --list-full | while read -r f; do
		n=$(basename "$f")
		[ -e "$root/usr/bin/$n" ] || [ -e "$root/usr/sbin/$n" ] ||
			ln -s /usr/bin/busybox "$root/$f"
	done

	install -m 0755 "$HERE/guest/init" "$root/init"
	install -m 0755 "$HERE/guest/guest-clean" "$root/usr/sbin/guest-clean"
	install -m 0644 "$HERE/guest/sshd_config" "$root/etc/ssh/sshd_config"
	cat >"$root/etc/passwd" <<-'EOF'
	root:x:0:0:root:/root:/bin/sh
	sshd:x:100:65534:sshd privsep:/run/sshd:/bin/false
	nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$root/etc/group" <<-'EOF'
	root:x:0:
	nogroup:x:65534:
	EOF
	cat >"$root/etc/nsswitch.conf" <<-'EOF'
	passwd: files
	group: files
	shadow: files
	hosts: files
	EOF
	cat >"$root/etc/inittab" <<-'EOF'
	::ctrlaltdel:/bin/poweroff -f
	EOF
	echo "$kver" >"$root/etc/phaul-guest-kernel"
	mkdir -p "$root/etc/phaul" "$root/usr/local/bin" "$root/var/empty"

	(cd "$root" && find . -print0 | sort -z |
		cpio --null -o -H newc --quiet) | gzip -1 >"$work/base.cpio.gz"
	rm -rf "$root" "$kroot"
	mv "$work" "$out"
}

cmd_base() {
	local kpkg key out
	mkdir -p "$CACHE"
	kpkg=$(kernel_pkg)
	[ -n "$kpkg" ] || die "no linux-image-6.1.0-*-cloud-amd64 in the apt lists"
	key=$(base_inputs "$kpkg" | sha256sum | cut -c1-16)
	out=$CACHE/base-$key
	if [ ! -e "$out/base.cpio.gz" ]; then
		exec 9>"$CACHE/.lock"
		flock 9
		# leftovers of a build that was interrupted
		rm -rf "$CACHE"/tmp.*
		if [ ! -e "$out/base.cpio.gz" ]; then
			log "building base image $out"
			build_base "$out" "$kpkg"
		fi
		flock -u 9
	fi
	echo "$out"
}

# Make the per-run keys: one host key per guest, the harness's user key and
# the key the guests use to reach each other.
make_keys() {
	local k=$1/keys n
	mkdir -p "$k"
	for n in host-src host-dst harness guest; do
		[ -e "$k/$n" ] || ssh-keygen -q -t ed25519 -N '' -C "phaul-test-$n" -f "$k/$n"
	done
}

# Overlay for one guest: config, keys, phaul, workloads.
make_overlay() {
	local dir=$1 role=$2 ip=$3 root f
	root=$dir/overlay-$role
	rm -rf "$root"
	mkdir -p "$root"/{etc/ssh,root/.ssh,usr/local/bin}
	# the package's files as dpkg lays them out (the guests have no dpkg);
	# the harness's config below replaces its conffile, as an operator would
	if [ -n "$PHAUL_VM_DEB" ]; then
		dpkg-deb -x "$PHAUL_VM_DEB" "$root"
		# no /lib in the overlay (see copy_in): the units go to /usr/lib
		if [ -d "$root/lib" ]; then
			mkdir -p "$root/usr/lib"
			cp -a "$root/lib/." "$root/usr/lib/"
			rm -rf "$root/lib"
		fi
	fi
	cat >"$root/etc/guest.conf" <<-EOF
	ROLE=$role
	LINK_IP=$ip
	LINK_MAC=52:54:00:99:00:0${ip##*.}
	CTL_MAC=52:54:00:c0:00:0${ip##*.}
	EOF
	cat >"$root/etc/hosts" <<-'EOF'
	127.0.0.1 localhost
	10.99.0.1 src
	10.99.0.2 dst
	EOF
	install -m 0600 "$dir/keys/host-$role" "$root/etc/ssh/ssh_host_ed25519_key"
	install -m 0644 "$dir/keys/host-$role.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
	install -m 0600 "$dir/keys/guest" "$root/root/.ssh/id_ed25519"
	install -m 0644 "$dir/keys/guest.pub" "$root/root/.ssh/id_ed25519.pub"
	cat "$dir/keys/harness.pub" "$dir/keys/guest.pub" >"$root/root/.ssh/authorized_keys"
	{
		echo "src,10.99.0.1 $(cut -d' ' -f1,2 "$dir/keys/host-src.pub")"
		echo "dst,10.99.0.2 $(cut -d' ' -f1,2 "$dir/keys/host-dst.pub")"
	} >"$root/root/.ssh/known_hosts"
	# guest-to-guest ssh multiplexed: a handshake costs seconds under TCG
	cat >"$root/root/.ssh/config" <<-'EOF'
	Host *
		BatchMode yes
		StrictHostKeyChecking yes
		ControlMaster auto
		ControlPath /run/ssh-%C
		ControlPersist 600
	EOF
	chmod 700 "$root/root" "$root/root/.ssh"
	# Under TCG, CRIU's restore alone takes seconds: phaul's 300 ms default
	# limit cannot be met, so scenarios dump anyway (and the report says by
	# how much) unless they test the limit with options of their own.
	mkdir -p "$root/etc/phaul"
	cat >"$root/etc/phaul/phaul.conf" <<-'EOF'
	[migrate]
	allow_downtime_overrun = yes
	EOF

	for f in "$HERE"/workloads/build/*; do
		[ -f "$f" ] && [ -x "$f" ] && install -m 0755 "$f" "$root/usr/local/bin/"
	done
	if [ -n "$PHAUL_VM_DEB" ]; then
		for f in $(lib_closure "$root/usr/bin/phaul"); do copy_in "$root" "$f"; done
	elif [ -n "$PHAUL_BIN" ]; then
		install -m 0755 "$PHAUL_BIN" "$root/usr/local/bin/phaul"
		for f in $(lib_closure "$PHAUL_BIN"); do copy_in "$root" "$f"; done
	fi
	(cd "$root" && find . -print0 | sort -z |
		cpio --null -o -H newc --quiet) | gzip -1 >"$dir/overlay-$role.cpio.gz"
	rm -rf "$root"
}

cmd_guests() {
	local dir=$1 base
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	base=$(cmd_base)
	if [ -n "$PHAUL_VM_DEB" ]; then
		log "guests get phaul from the package $PHAUL_VM_DEB"
	elif [ -z "$PHAUL_BIN" ]; then
		log "warning: $REPO/build/phaul not built (run make); guests get no phaul"
	fi
	make_keys "$dir"
	make_overlay "$dir" src 10.99.0.1
	make_overlay "$dir" dst 10.99.0.2
	cat "$base/base.cpio.gz" "$dir/overlay-src.cpio.gz" >"$dir/initrd-src"
	cat "$base/base.cpio.gz" "$dir/overlay-dst.cpio.gz" >"$dir/initrd-dst"
	ln -sf "$base/vmlinuz" "$dir/vmlinuz"
}

case ${1:-} in
base) cmd_base ;;
guests) [ $# -eq 2 ] || die "usage: $0 guests OUTDIR"; cmd_guests "$2" ;;
*) die "usage: $0 base | guests OUTDIR" ;;
esac
