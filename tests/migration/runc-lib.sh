# shellcheck shell=bash
# runc containers for the runc: scenarios (sourced after phaul-lib.sh).
#
# Container rc1: an OCI bundle made offline in /var/lib/runc-ct/rc1 on src:
# a busybox-static rootfs with memtouch, and config.json from `runc spec`
# (on the host, edited with jq): no terminal, /init as its process, a
# writable rootfs, its own pid, network (lo only), ipc, uts and mount
# namespaces, cgroup /phaul-runc-rc1; runc's tmpfs /dev, devpts, proc,
# sysfs and cgroup mounts (not /dev/shm nor /dev/mqueue: memtouch uses
# neither). Its /init starts memtouch (state in
# /wl of the rootfs) with the container's own /dev/null as stdio, then
# sleeps as the container's pid 1.
RUNC_CT=rc1
RUNC_ROOT=/var/lib/runc-ct
RUNC_DIR=$RUNC_ROOT/$RUNC_CT

# runc_config: config.json for rc1 on stdout (runc and jq on the host);
# RUNC_CONFIG_EXTRA, a jq filter, edits it further (68 adds a hook).
RUNC_CONFIG_EXTRA=.
runc_config() {
	local d
	d=$(mktemp -d)
	(cd "$d" && runc spec) || return 1
	jq --arg id "$RUNC_CT" '.process.terminal = false | .process.args = ["/init"] |
		.root.readonly = false | .hostname = $id |
		.mounts |= map(select(.destination != "/dev/shm" and .destination != "/dev/mqueue")) |
		.linux.cgroupsPath = "/phaul-runc-" + $id | '"$RUNC_CONFIG_EXTRA" "$d/config.json"
	rm -rf "$d"
}

# runc_ct_create MIB [ARGS]: the bundle on src and rc1 started there with
# a memtouch of MIB MiB (ARGS added to its options); returns once memtouch
# ticks in it.
runc_ct_create() {
	local mib=$1 args=${2:-} cfg
	cfg=$(runc_config) || return 1
	phaul_fs_root_add $RUNC_ROOT
	on_src "set -e
		$(ct_rootfs_cmds $RUNC_DIR/rootfs "$mib" "$args")
		cat >$RUNC_DIR/config.json <<'EOC'
$cfg
EOC
		cd $RUNC_DIR && runc run -d $RUNC_CT </dev/null >$SCEN_LOG/runc-run.log 2>&1" ||
		{ on_src "cat $SCEN_LOG/runc-run.log" >&2; return 1; }
	wait_until 30 "memtouch ticking in $RUNC_CT" \
		on_src "grep -q 'ticks=[1-9][0-9]' $RUNC_DIR/rootfs/wl/progress"
}

# runc_status ROLE: running, paused, stopped as `runc state` says, or none.
runc_status() {
	on_guest "$1" "runc state $RUNC_CT 2>/dev/null | sed -n 's/.*\"status\": \"\([a-z]*\)\".*/\1/p' | grep . || echo none"
}

# runc_listed ROLE: rc1 is in `runc list` on the guest.
runc_listed() {
	on_guest "$1" "runc list -q" | grep -qx "$RUNC_CT"
}

# runc_progress ROLE: memtouch makes progress in rc1 there.
runc_progress() {
	local t
	t=$(on_guest "$1" "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $RUNC_DIR/rootfs/wl/progress")
	wait_until 20 "memtouch making progress in $RUNC_CT on $1" \
		on_guest "$1" "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $RUNC_DIR/rootfs/wl/progress) -gt $t ]"
}

# runc_wl_check ROLE: memtouch in the container verifies every page (the
# same check as in an LXC container: state in /wl of the rootfs).
runc_wl_check() {
	ct_wl_check "$1" "$RUNC_CT" "$RUNC_DIR/rootfs/wl"
}

# runc_ct_remove ROLE: rc1 and its bundle gone from the guest.
runc_ct_remove() {
	on_guest "$1" "runc delete --force $RUNC_CT 2>/dev/null; rm -rf $RUNC_DIR; true"
}
