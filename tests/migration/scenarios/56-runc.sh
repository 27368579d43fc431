# shellcheck shell=bash disable=SC2154
# phaul migrate runc:rc1, over ssh and then over tcp: a runc container
# (busybox bundle made offline, its own pid, network and mount namespaces)
# running a memtouch that dirties pages all along. runc pre-dumps it to
# phaul's page relay with parents, `runc pause` and `runc checkpoint
# --leave-running` dump it frozen to the relay, its bundle (config.json and
# rootfs) is rsynced, and `runc restore -d` restores it on dst. Then: rc1
# running in `runc list` on dst, gone from src's, every page verified.
# Last, a second rc1 on src is refused by the ct-id check (exit 3).
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

# runc_migrated NAME JSON TRANSPORT: rc1 moved to dst and runs there only.
runc_migrated() {
	local name=$1 json=$2 transport=$3 st
	grep -v '"event":"report"' "$json" | grep -v '"check"' | tail -5
	st=$(runc_status dst)
	[ "$st" = running ] || fail "$name: rc1 on dst is $st, not running"
	runc_listed dst || fail "$name: rc1 not in runc list on dst"
	! runc_listed src || fail "$name: rc1 still in runc list on src"
	on_src "! test -d /sys/fs/cgroup/phaul-runc-$RUNC_CT || ! grep -q . /sys/fs/cgroup/phaul-runc-$RUNC_CT/cgroup.procs" ||
		fail "$name: processes left in rc1's cgroup on src"
	runc_progress dst || fail "$name: memtouch in rc1 does not run on dst"
	runc_wl_check dst || fail "$name: memtouch verification in rc1 on dst failed"
	phaul_json_check "$json" "
assert rep['ok'] and rep['ct'] == 'runc:rc1' and rep['transport'] == '$transport', rep
assert rep['fs_syncs'] >= 3, rep['fs_syncs']
assert len(its) >= 1, 'no pre-copy iteration'
print('$name: iterations=%d fs_syncs=%d downtime_ms=%.0f' % (len(its), rep['fs_syncs'], rep['downtime_us'] / 1000))
" || fail "$name: report check failed"
}

runc_ct_create 32 || fail "rc1 did not start on src"
[ "$(runc_status src)" = running ] || fail "rc1 on src is $(runc_status src)"

on_src "timeout 300 phaul migrate --json --keep-images runc:$RUNC_CT root@dst" \
	>"$RESULT_DIR/migrate-ssh.json" ||
	{ cat "$RESULT_DIR/migrate-ssh.json"; phaul_logs; fail "phaul migrate over ssh failed"; }
phaul_logs
wait_until 20 "the ssh agent on dst gone" eval '[ -z "$(gpgrep dst "^phaul .*agent")" ]' ||
	fail "the agent on dst did not end"
runc_migrated ssh "$RESULT_DIR/migrate-ssh.json" ssh

# again over tcp, from a fresh container
runc_ct_remove dst
runc_ct_remove src
runc_ct_create 32 || fail "rc1 did not start on src again"
phaul_tcp_agent
on_src "timeout 300 phaul -t tcp migrate --json runc:$RUNC_CT $DST_IP" \
	>"$RESULT_DIR/migrate-tcp.json" ||
	{ cat "$RESULT_DIR/migrate-tcp.json"; phaul_logs; fail "phaul migrate over tcp failed"; }
phaul_logs
runc_migrated tcp "$RESULT_DIR/migrate-tcp.json" tcp

# an rc1 started again on src while rc1 runs on dst: refused before
# anything moves, naming the check, the host and both values (src's old
# bundle goes first: a commit leaves it)
runc_ct_remove src
runc_ct_create 8 || fail "a second rc1 did not start on src"
phaul_ct_id_refused runc:$RUNC_CT
[ "$(runc_status src)" = running ] || fail "refusal: rc1 on src is $(runc_status src)"
[ "$(runc_status dst)" = running ] || fail "refusal: rc1 on dst is $(runc_status dst)"
runc_ct_remove dst
runc_ct_remove src
