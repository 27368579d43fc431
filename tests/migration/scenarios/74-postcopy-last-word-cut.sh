# shellcheck shell=bash disable=SC2154
# Post-copy whose last word is lost: `phaul migrate --mode postcopy` of a
# 16 MiB memtouch over tcp, with dst's agent cutting the link after every
# page arrived and the outcome was recorded, just before it tells the
# source (LazyDone: PHAUL_FAULT_COMMIT=agent-cut-lazy-done). The source
# must not call the CT lost: every page went (dst's close came through the
# relay), so it asks dst over a fresh session as `phaul recover` would,
# learns that the CT runs there, and exits 0 with the report saying so.
# memtouch verifies every page on dst, nothing runs on src, and neither
# host keeps an unsettled record. Before the fix phaul exited 9 ("lost")
# while the CT ran complete on dst.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 16 --rate 300)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent
phaul_fault_agent agent-cut-lazy-done
rc=0
on_src "phaul -t tcp migrate --json --mode postcopy pid:$pid $DST_IP 2>$SCEN_LOG/phaul.err" \
	>"$RESULT_DIR/migrate.json" || rc=$?
on_src "tail -4 $SCEN_LOG/phaul.err"
[ "$rc" = 0 ] || { phaul_logs; fail "phaul exit code $rc, wanted 0 (the CT runs complete on dst)"; }
on_dst "grep -h 'link cut before LazyDone' $SCEN_LOG/agent-tcp.log" ||
	fail "dst's agent did not cut the link before LazyDone"
phaul_memtouch_moved "$pid"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
st = [e["state"] for e in ev if e["event"] == "postcopy"]
assert st and st[-1] == "unconfirmed", st
rc = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "recover"]
assert any("settled: " in m and " runs on " in m for m in rc), rc
print("\n".join(rc))
' || fail "the report does not show the settled outcome"
on_src "! ls /var/lib/phaul/mig-out-* 2>/dev/null" || fail "src keeps an unsettled record"
on_dst "grep -qx state=running /var/lib/phaul/mig-in-*" || fail "dst's record does not say running"
phaul_fault_agent ""
