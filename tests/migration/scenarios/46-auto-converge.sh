# shellcheck shell=bash disable=SC2154
# Auto-converge: the CPU-bound dirtier of phaul_cpu_dirtier dirties faster
# than the shaped link carries. phaul must see that within three iterations, throttle the
# tree through cgroup v2 cpu.max until the predicted downtime fits the limit,
# meet the limit (no overrun allowed), and lift the throttle on dst: the
# restored tree is back in its own cgroup there, at full speed.
# timeout: 480

. "$MIG_HERE/phaul-lib.sh"

LIMIT_MS=5000
phaul_cpu_dirtier
pid=$MT_PID home=$MT_HOME

rc=0
on_src "phaul -t tcp -o allow_downtime_overrun=no migrate --json --downtime-limit $LIMIT_MS \
	pid:$pid $DST_IP 2>$SCEN_LOG/phaul.err" >"$RESULT_DIR/migrate.json" || rc=$?
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"'
[ "$rc" = 0 ] || { on_src "tail -5 $SCEN_LOG/phaul.err"; phaul_logs; fail "phaul migrate exit $rc"; }
link_unshape

phaul_gone src "$pid" || fail "memtouch $pid still runs on src"
on_src "! ls -d /sys/fs/cgroup/phaul.throttle.* 2>/dev/null" || fail "src kept a throttle cgroup"
wait_until 30 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
cg=$(on_dst "cat /proc/$pid/cgroup")
[ "$cg" = "$home" ] || fail "restored memtouch is in cgroup '$cg' on dst, not back home in '$home'"
on_dst "! ls -d /sys/fs/cgroup/phaul.throttle.* 2>/dev/null" || fail "dst kept a throttle cgroup"
wl_check dst memtouch 300 || fail "memtouch verification on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
lim = '"$LIMIT_MS"' * 1000
assert rep["ok"], rep
thr = [i for i in its if i["throttle_pct"] > 0]
assert thr, "no iteration ran throttled"
first = min(i["iter"] for i in thr)
assert first <= 4, "throttled from iteration %d: not-converging seen after three" % first
assert rep["throttle_pct"] >= 20, rep["throttle_pct"]
assert rep["stop_reason"] == "predicted downtime under the limit", rep["stop_reason"]
assert rep["predicted_downtime_us"] <= lim, rep["predicted_downtime_us"]
lifted = [e for e in ev if e["event"] == "phase" and "throttle lifted" in e["msg"]]
assert lifted, "no throttle-lifted event"
print("iterations=%d throttle=%d%% from iter %d downtime_ms=%.0f predicted_ms=%.0f limit_ms=%d overrun_ms=%.0f"
      % (len(its), rep["throttle_pct"], first, rep["downtime_us"] / 1e3,
         rep["predicted_downtime_us"] / 1e3, lim / 1000, rep["downtime_overrun_us"] / 1e3))
print(lifted[0]["msg"])
' || fail "report check failed"
