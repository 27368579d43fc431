# shellcheck shell=bash disable=SC2154
# Failures with a runc container frozen for the final dump (runc pause,
# then runc checkpoint --leave-running); each time phaul hands "rollback"
# to its guard, which runs `runc resume`:
#  1. a fault injected on the source right after the final dump;
#  2. the restore on dst succeeds but dst's post-restore hook fails: the
#     agent removes the restored container (runc delete --force) before the
#     source resumes.
# After each: exit 4 with the reason in the report, rc1 running on src
# (in its `runc list`), memtouch progressing and verifying every page,
# rc1 not on dst and nothing kept there.
# timeout: 480

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

# runc_rollback NAME ENV REASON: migrate rc1 with ENV set on src; it must
# roll back for REASON and leave rc1 running on src only.
runc_rollback() {
	local name=$1 env=$2 reason=$3 rc st
	on_src "rm -f $SCEN_LOG/$name.rc; $env phaul -t tcp migrate --json runc:$RUNC_CT \
		$DST_IP >$SCEN_LOG/$name.json 2>$SCEN_LOG/$name.err; echo \$? >$SCEN_LOG/$name.rc"
	rc=$(on_src "cat $SCEN_LOG/$name.rc")
	on_src "tail -3 $SCEN_LOG/$name.err"
	phaul_logs
	[ "$rc" = 4 ] || fail "$name: phaul exit code $rc, wanted 4 (rolled back)"
	on_src "tail -1 $SCEN_LOG/$name.json" | grep -q '"rolled_back":true' ||
		fail "$name: report does not say rolled back"
	on_src "grep -q '$reason' $SCEN_LOG/$name.json" ||
		fail "$name: the report does not give '$reason' as the reason"
	st=$(runc_status src)
	[ "$st" = running ] || fail "$name: rc1 on src is $st after the rollback"
	runc_listed src || fail "$name: rc1 not in runc list on src"
	! runc_listed dst || fail "$name: rc1 in runc list on dst too"
	runc_progress src || fail "$name: memtouch in rc1 is not running on src"
	runc_wl_check src || fail "$name: memtouch verification in rc1 on src failed"
	phaul_dst_dropped_images || fail "$name: dst kept the images it received"
	note "$name: rolled back, rc1 runs on src only"
}

runc_ct_create 16 || fail "rc1 did not start on src"
phaul_tcp_agent
runc_rollback fault PHAUL_FAULT_POST_DUMP=1 "fault injected at post-dump"

hooks=/tmp/hooks-57
on_dst "mkdir -p $hooks && printf '#!/bin/sh\necho refusing >&2\nexit 3\n' >$hooks/post-restore &&
	chmod 755 $hooks/post-restore"
phaul_tcp_agent -o hooks_dir=$hooks
runc_rollback hook "" "post-restore"
on_dst "grep -q 'discarding restored runc:$RUNC_CT' $SCEN_LOG/agent-tcp.log" ||
	fail "the agent did not discard the restored container"
runc_ct_remove src
