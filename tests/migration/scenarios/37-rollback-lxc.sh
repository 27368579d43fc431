# Failures with an LXC container frozen at CRIU's post-dump; each time
# phaul answers rollback through the action script and CRIU resumes the
# container on src:
#  1. a fault injected on the source right after the final dump;
#  2. the restore on dst succeeds but dst's post-restore hook fails: the
#     agent stops the restored container (lxc stop) before the source
#     resumes.
# After each: exit 4 with the reason in the report, ct1 RUNNING on src
# with its address, memtouch progressing and verifying every page, ct1 not
# running on dst (its address silent there) and nothing kept there.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"
phaul_fs_root

# lxc_rollback NAME ENV REASON: migrate ct1 with ENV set on src; it must
# roll back for REASON and leave ct1 running on src only.
lxc_rollback() {
	local name=$1 env=$2 reason=$3 rc st t
	on_src "rm -f $SCEN_LOG/$name.rc; $env phaul -t tcp migrate --json lxc:$LXC_CT \
		$DST_IP >$SCEN_LOG/$name.json 2>$SCEN_LOG/$name.err; echo \$? >$SCEN_LOG/$name.rc"
	rc=$(on_src "cat $SCEN_LOG/$name.rc")
	on_src "tail -3 $SCEN_LOG/$name.err"
	phaul_logs
	[ "$rc" = 4 ] || fail "$name: phaul exit code $rc, wanted 4 (rolled back)"
	on_src "tail -1 $SCEN_LOG/$name.json" | grep -q '"rolled_back":true' ||
		fail "$name: report does not say rolled back"
	on_src "grep -q '$reason' $SCEN_LOG/$name.json" ||
		fail "$name: the report does not give '$reason' as the reason"
	st=$(lxc_state src)
	[ "$st" = RUNNING ] || fail "$name: ct1 on src is $st after the rollback"
	st=$(lxc_state dst)
	[ "$st" != RUNNING ] || fail "$name: ct1 runs on dst too"
	on_src "ping -c 1 -W 2 $LXC_IP >/dev/null" || fail "$name: $LXC_IP does not answer on src"
	on_dst "! ping -c 1 -W 1 $LXC_IP >/dev/null" || fail "$name: $LXC_IP answers on dst"
	t=$(on_src "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress")
	wait_until 20 "memtouch in ct1 making progress on src" \
		on_src "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress) -gt $t ]" ||
		fail "$name: memtouch in ct1 is not running on src"
	lxc_wl_check src || fail "$name: memtouch verification in ct1 on src failed"
	phaul_dst_dropped_images || fail "$name: dst kept the images it received"
	note "$name: rolled back, ct1 runs on src only"
}

lxc_ct_create 16 || fail "container did not start on src"
phaul_tcp_agent
lxc_rollback fault PHAUL_FAULT_POST_DUMP=1 "fault injected at post-dump"

hooks=/tmp/hooks-37
on_dst "mkdir -p $hooks && printf '#!/bin/sh\necho refusing >&2\nexit 3\n' >$hooks/post-restore &&
	chmod 755 $hooks/post-restore"
phaul_tcp_agent -o hooks_dir=$hooks
lxc_rollback hook "" "post-restore"
on_dst "grep -q 'discarding restored lxc:$LXC_CT' $SCEN_LOG/agent-tcp.log" ||
	fail "the agent did not discard the restored container"
st=$(lxc_state dst)
note "ct1 on dst after the discard: $st"
[ "$st" = STOPPED ] || fail "ct1 on dst is $st, not STOPPED"
on_src "lxc-stop -n $LXC_CT -k" || true
