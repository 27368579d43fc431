# shellcheck shell=bash disable=SC2154
# --downtime-limit is never exceeded silently. The CPU-bound dirtier of 46,
# with auto-converge off: phaul must see within three iterations that the
# limit is out of reach and stop with the source running (exit 4, nothing
# left on dst, never throttled). Then the same with --allow-downtime-overrun:
# the migration completes and says by how much it is over.
# timeout: 480

. "$MIG_HERE/phaul-lib.sh"

LIMIT_MS=5000
phaul_cpu_dirtier
pid=$MT_PID home=$MT_HOME

phaul_bg strict -t tcp -o allow_downtime_overrun=no migrate --json --no-auto-converge \
	--downtime-limit "$LIMIT_MS" "pid:$pid" "$DST_IP"
rc=$(phaul_bg_wait strict 240) || fail "phaul did not finish"
on_src "cat $SCEN_LOG/strict.json" >"$RESULT_DIR/strict.json"
grep '"iteration"' "$RESULT_DIR/strict.json"
phaul_rolled_back strict "$rc" "$pid" memtouch
[ "$(on_src "cat /proc/$pid/cgroup")" = "$home" ] || fail "memtouch left its cgroup"
phaul_json_check "$RESULT_DIR/strict.json" '
assert not rep["ok"] and "cannot be met" in rep["error"], rep["error"]
assert len(its) <= 3, "%d iterations before giving up" % len(its)
assert all(i["throttle_pct"] == 0 for i in its), "throttled with --no-auto-converge"
assert rep["throttle_pct"] == 0
print(rep["error"])
' || fail "report check failed"

rc=0
on_src "phaul -t tcp migrate --json --no-auto-converge --allow-downtime-overrun \
	--downtime-limit $LIMIT_MS pid:$pid $DST_IP 2>$SCEN_LOG/overrun.err" \
	>"$RESULT_DIR/overrun.json" || rc=$?
link_unshape
[ "$rc" = 0 ] || { on_src "tail -5 $SCEN_LOG/overrun.err"; phaul_logs; fail "phaul exit $rc"; }
phaul_gone src "$pid" || fail "memtouch $pid still runs on src"
wait_until 30 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
wl_check dst memtouch 300 || fail "memtouch verification on dst failed"
phaul_json_check "$RESULT_DIR/overrun.json" '
lim = '"$LIMIT_MS"' * 1000
assert rep["ok"] and rep["overrun_allowed"], rep
said = [e for e in ev if e["event"] == "phase" and "over the limit" in e["msg"]]
assert said, "no word of the overrun before the dump"
assert rep["predicted_downtime_us"] > lim
if rep["downtime_us"] > lim:
    assert rep["downtime_overrun_us"] == rep["downtime_us"] - lim, rep
print(said[0]["msg"])
print("downtime_ms=%.0f limit_ms=%d overrun_ms=%.0f" % (rep["downtime_us"] / 1e3, lim / 1000,
      rep["downtime_overrun_us"] / 1e3))
' || fail "report check failed"
