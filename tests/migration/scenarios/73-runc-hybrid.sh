# shellcheck shell=bash disable=SC2154
# Hybrid of a runc container: rc1 runs a 32 MiB memtouch whose first 8 MiB
# a CPU-bound dirtier rewrites faster than the shaped link carries them.
# phaul pre-copies through runc checkpoint --pre-dump, finds that the dirty
# set will not converge and switches to post-copy: the final `runc
# checkpoint --lazy-pages` has the last pre-dump as parent (whose pagemaps
# phaul wrote from the page stream), so the cold pages come from dst's
# flat store and only the hot ones from src's CRIU on loopback.
# memtouch verifies every page on dst, `runc list` shows rc1 there and not
# on src, and nothing of runc's checkpoint or its CRIU is left on src.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

runc_ct_create 32 "--hot 2048 --rate 100000 --random --spin 60000" ||
	fail "rc1 did not start on src"
phaul_tcp_agent
link_shape 100mbit 1ms

rc=0
on_src "phaul -t tcp -o allow_downtime_overrun=no migrate --json --mode hybrid \
	--downtime-limit 200 runc:$RUNC_CT $DST_IP 2>$SCEN_LOG/phaul.err" >"$RESULT_DIR/migrate.json" || rc=$?
link_unshape
[ "$rc" = 0 ] || { cat "$RESULT_DIR/migrate.json"; on_src "tail -5 $SCEN_LOG/phaul.err"; phaul_logs
	fail "phaul migrate --mode hybrid runc:$RUNC_CT exit $rc"; }
[ "$(runc_status dst)" = running ] || fail "rc1 on dst is $(runc_status dst), not running"
! runc_listed src || fail "rc1 still in runc list on src"
runc_progress dst || fail "memtouch in rc1 does not run on dst"
runc_wl_check dst || fail "memtouch verification in rc1 on dst failed"
phaul_hybrid_checked "$RESULT_DIR/migrate.json" "runc:$RUNC_CT" || fail "the hybrid migration is not right"
left=$(gpgrep src "^(\/usr\/sbin\/)?(criu|runc) ")
[ -z "$left" ] || fail "criu or runc processes left on src: $left"
note "workload saw: $(on_dst "sed -n 's/.*\(maxgap_ms=[0-9.]*\).*/\1/p' $RUNC_DIR/rootfs/wl/progress")"
runc_ct_remove dst
runc_ct_remove src
