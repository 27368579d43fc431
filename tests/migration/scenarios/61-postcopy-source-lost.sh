# shellcheck shell=bash disable=SC2154
# Post-copy broken after the switch: `phaul migrate --mode postcopy` of a
# 64 MiB memtouch, slowed to 2 MiB/s so that most pages are still on src
# when it runs on dst; then the source side is stopped (SIGTERM to phaul
# on src). Its report says the CT is lost with the pages still on src and
# it exits 9; dst's agent kills the CT (it must not run with holes in its
# memory) and its log says the CT is lost. Nothing of the CT runs anywhere.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent
phaul_bg mig -t tcp migrate --json --mode postcopy --no-compress --bwlimit 2M pid:"$pid" "$DST_IP"
wait_until 120 "the CT running on dst in post-copy" \
	on_src "grep -q 'pages still on' $SCEN_LOG/mig.json" ||
	{ on_src "cat $SCEN_LOG/mig.json $SCEN_LOG/mig.err" | tail -20; fail "post-copy did not start"; }
# phaul's short-lived children (fork before exec) match too and may be
# gone by the time kill runs: at least one process must take the signal.
stopped=0
for p in $(gpgrep src "^phaul .*migrate"); do on_src "kill -TERM $p 2>/dev/null" && stopped=1; done
[ "$stopped" = 1 ] || fail "no phaul migrate process to stop on src"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish after SIGTERM"
on_src "cat $SCEN_LOG/mig.err" | tail -5
[ "$rc" = 9 ] || fail "phaul exit code $rc, wanted 9 (post-copy broke: CT lost)"
on_src "cat $SCEN_LOG/mig.json" >"$RESULT_DIR/mig.json"
phaul_json_check "$RESULT_DIR/mig.json" '
assert not rep["ok"] and rep["exit_code"] == 9, rep
assert rep["where"].startswith("lost:") and "pages still on" in rep["where"], rep["where"]
st = [e["state"] for e in ev if e["event"] == "postcopy"]
assert st and st[0] == "running" and st[-1] == "lost", st
print(rep["where"])
print(rep["error"])
' || fail "the report does not say the CT is lost"
phaul_gone src "$pid" || fail "memtouch $pid runs on src again"
wait_until 60 "the CT killed on dst" phaul_gone dst "$pid" || fail "the CT with missing pages runs on dst"
on_dst "grep 'is lost' $SCEN_LOG/agent-tcp.log" || fail "dst's agent log does not say the CT is lost"
