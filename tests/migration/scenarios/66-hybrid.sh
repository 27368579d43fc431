# shellcheck shell=bash disable=SC2154
# Hybrid: a 32 MiB memtouch whose first 8 MiB a CPU-bound dirtier rewrites
# faster than the shaped link carries them moves with --mode hybrid. It
# must pre-copy at least one iteration, find that the dirty set will not
# converge and switch to post-copy instead of throttling or refusing (the
# report says after which iteration, dirty rate against link rate); the
# final --lazy-pages dump has the last pre-dump as parent, so the cold
# pages come from dst's flat store and only the hot ones from src.
# memtouch verifies every page on dst; nothing of it is left on src.
# Seen in the harness: 2 pre-dumps, the switch (the limit unreachable in
# TCG), 6157 pages answered from dst's store, 2052 from src; 55 s.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

phaul_tcp_agent
link_shape 100mbit 1ms
pid=$(wl_start src memtouch memtouch --mib 32 --hot 2048 --rate 100000 --random --spin 60000)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"

rc=0
on_src "phaul -t tcp -o allow_downtime_overrun=no migrate --json --mode hybrid \
	--downtime-limit 200 pid:$pid $DST_IP 2>$SCEN_LOG/phaul.err" >"$RESULT_DIR/migrate.json" || rc=$?
link_unshape
[ "$rc" = 0 ] || { cat "$RESULT_DIR/migrate.json"; on_src "tail -5 $SCEN_LOG/phaul.err"; phaul_logs
	fail "phaul migrate --mode hybrid exit $rc"; }
phaul_memtouch_moved "$pid"
on_src "! ls -d /sys/fs/cgroup/phaul.throttle.* 2>/dev/null" || fail "src throttled the CT"
# nothing of it left: no memtouch, no CRIU (its lazy page server ends at the close)
for name in memtouch criu; do
	on_src "! grep -qs '^Name:[[:space:]]*$name\$' /proc/[0-9]*/status" ||
		fail "a $name still runs on src"
done
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
assert len(its) >= 1, "no pre-copy iteration before the switch"
assert rep["throttle_pct"] == 0, "hybrid throttled: %d%%" % rep["throttle_pct"]
sw = rep.get("postcopy_switch", "")
assert sw.startswith("after iteration %d:" % len(its)), sw
assert "dirty rate" in sw and "on the link" in sw, sw
hyb = [e for e in ev if e["event"] == "phase" and e["phase"] == "hybrid"]
assert hyb and "switching to post-copy" in hyb[0]["msg"], hyb
pc = [e for e in ev if e["event"] == "postcopy"]
assert pc and pc[0]["state"] == "running", pc
assert pc[-1]["state"] == "done", pc[-1]
assert rep["restore_mode"] == "lazy" and rep["memory_complete"], rep
assert rep["lazy_pages_missing"] == 0, rep
print("pre-copy iterations=%d, %s" % (len(its), sw))
print("post-copy: first event %d pages on src; downtime_ms=%.0f total_s=%.1f"
      % (pc[0]["pages_left"], rep["downtime_us"] / 1e3, rep["total_us"] / 1e6))
' || fail "hybrid report check failed"
line=$(on_dst "grep -h 'hybrid: ' $SCEN_LOG/agent-tcp.log | tail -1")
note "dst: $line"
local=$(echo "$line" | sed -n 's/.*hybrid: \([0-9]*\) pages pre-copied.*/\1/p')
[ "${local:-0}" -gt 1000 ] || fail "dst answered too few pages from its flat store: $line"
note "dst: $(on_dst "grep -h 'pushed in the background' $SCEN_LOG/agent-tcp.log | tail -1")"
note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")"
