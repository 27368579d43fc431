# shellcheck shell=bash
# Podman containers for the podman: scenarios (sourced after phaul-lib.sh).
#
# Image localhost/phaul-busybox, made offline on src with `podman import`
# from a busybox-static rootfs, and copied to dst with `podman save` and
# `podman load` (the same image ID: a checkpoint names its image by ID).
# Its /init starts memtouch (state in /wl of the container's rootfs, which Podman's
# checkpoint export carries as a rootfs change) and sleeps as pid 1.
# Container pm1 runs it with no network. The guests' Podman uses runc,
# cgroupfs and overlay storage under /var/lib/containers
# (guest/containers.conf, guest/storage.conf).
PODMAN_CT=pm1
PODMAN_IMAGE=localhost/phaul-busybox
# where phaul stages the checkpoint exports (both guests; dst's fs_root)
PODMAN_EXPORTS=/var/lib/phaul/podman

# podman_image: the image on src (imported once), and the same image (the
# same ID: a checkpoint names its image by ID) on dst with save and load.
podman_image() {
	on_src "set -e
		podman image exists $PODMAN_IMAGE && exit 0
		$(ct_rootfs_cmds /tmp/phaul-busybox '$MIB')
		tar -C /tmp/phaul-busybox -cf /tmp/phaul-busybox.tar .
		podman import --change 'CMD [\"/init\"]' /tmp/phaul-busybox.tar $PODMAN_IMAGE \
			>$SCEN_LOG/podman-import.log 2>&1
		rm -rf /tmp/phaul-busybox /tmp/phaul-busybox.tar"
	on_dst "podman image exists $PODMAN_IMAGE" && return 0
	on_src "podman save -o /tmp/phaul-busybox.tar $PODMAN_IMAGE >/dev/null &&
		scp -q /tmp/phaul-busybox.tar dst:/tmp/ && rm /tmp/phaul-busybox.tar"
	on_dst "podman load -i /tmp/phaul-busybox.tar >>$SCEN_LOG/podman-import.log 2>&1 &&
		rm /tmp/phaul-busybox.tar"
}

# podman_ct_create MIB: the image on both guests, pm1 running on src with a
# memtouch of MIB MiB; returns once memtouch ticks in it.
podman_ct_create() {
	podman_image || return 1
	phaul_fs_root_add $PODMAN_EXPORTS
	on_src "podman run -d --name $PODMAN_CT --network none -e MIB=$1 $PODMAN_IMAGE \
		</dev/null >$SCEN_LOG/podman-run.log 2>&1" ||
		{ on_src "cat $SCEN_LOG/podman-run.log" >&2; return 1; }
	wait_until 60 "memtouch ticking in $PODMAN_CT" \
		on_src "grep -q 'ticks=[1-9][0-9]' \$(podman mount $PODMAN_CT)/wl/progress"
}

# podman_status ROLE: the container's state as podman inspect says, or none.
podman_status() {
	on_guest "$1" "podman inspect -f '{{.State.Status}}' $PODMAN_CT 2>/dev/null || echo none"
}

# podman_listed ROLE: pm1 is in `podman ps` (running) on the guest.
podman_listed() {
	on_guest "$1" "podman ps --format '{{.Names}}'" | grep -qx "$PODMAN_CT"
}

# podman_progress ROLE: memtouch makes progress in pm1 there.
podman_progress() {
	local d t
	d=$(on_guest "$1" "podman mount $PODMAN_CT")/wl
	t=$(on_guest "$1" "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $d/progress")
	wait_until 20 "memtouch making progress in $PODMAN_CT on $1" \
		on_guest "$1" "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $d/progress) -gt $t ]"
}

# podman_wl_check ROLE: memtouch in the container verifies every page.
podman_wl_check() {
	ct_wl_check "$1" "$PODMAN_CT" "$(on_guest "$1" "podman mount $PODMAN_CT")/wl"
}

# podman_gap ROLE: memtouch's longest gap between ticks in pm1 there (ms):
# its downtime (its hostname is the container's on both guests, so memtouch
# does not see a migration as such).
podman_gap() {
	on_guest "$1" "sed -n 's/.*maxgap_ms=\([0-9]*\).*/\1/p' \$(podman mount $PODMAN_CT)/wl/progress"
}

# podman_ct_remove ROLE: pm1 and its staged exports gone from the guest
# (killed at once: its init, a sleep as pid 1, ignores the SIGTERM that
# podman rm -f would wait 10 s after); fails if Podman still knows it.
podman_ct_remove() {
	on_guest "$1" "podman rm -f -t 0 $PODMAN_CT >/dev/null 2>&1; rm -rf $PODMAN_EXPORTS/$PODMAN_CT;
		! podman container exists $PODMAN_CT"
}
