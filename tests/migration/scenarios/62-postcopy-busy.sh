# shellcheck shell=bash disable=SC2154
# Post-copy of a busy CT: a 64 MiB memtouch rewriting 300 pages/s (faults
# back to back, which CRIU 3.17's own background pull starves: about 22
# pages/s, over 10 minutes for 64 MiB) moves with --mode postcopy. phaul's
# destination relay pushes every lazy page in the background (engine/README.md
# "Background push"), so memory is complete in about size / bandwidth: the
# scenario prints both and fails past 120 s. memtouch verifies every page
# on dst; dst's agent log gives pages pushed vs fetched on fault.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent
on_src "phaul -t tcp migrate --json --mode postcopy pid:$pid $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate --mode postcopy failed"; }
phaul_memtouch_moved "$pid"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
assert rep["restore_mode"] == "lazy", rep
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
assert rep["lazy_pages_total"] >= 16000, rep["lazy_pages_total"]
mb = rep["lazy_pages_total"] * 4096 / 1e6
s = rep["memory_complete_us"] / 1e6
print("lazy_pages=%d (%.1f MB) memory_complete_s=%.1f (%.2f MB/s) downtime_ms=%.0f total_s=%.1f"
      % (rep["lazy_pages_total"], mb, s, mb / s, rep["downtime_us"] / 1e3, rep["total_us"] / 1e6))
assert s < 120, "memory complete after %.1f s: the background push did not run" % s
' || fail "post-copy of a busy CT did not complete in about size / bandwidth"
line=$(on_dst "grep -h 'pushed in the background' $SCEN_LOG/agent-tcp.log | tail -1")
[ -n "$line" ] || fail "dst's agent did not report pushed pages"
note "dst: $line"
pushed=$(echo "$line" | sed -n 's/.*: \([0-9]*\) pushed in the background.*/\1/p')
fault=$(echo "$line" | sed -n 's/.*, \([0-9]*\) fetched on fault.*/\1/p')
total=$(python3 -c 'import json,sys
print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{\"event\":\"report\"")][-1]["lazy_pages_total"])' \
	"$RESULT_DIR/migrate.json")
[ "${pushed:-0}" -gt 8000 ] || fail "most pages should be pushed, not faulted: $line"
[ $((pushed + fault)) -eq "$total" ] ||
	fail "pages pushed + on fault ($pushed + $fault) != the $total lazy pages: one fetched twice?"
note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")"
