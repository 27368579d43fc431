# shellcheck shell=bash disable=SC2154
# phaul migrate over ssh: a 64 MiB memtouch dirtying pages continuously on
# src moves to dst with pre-copy; it verifies every page there, the source
# is gone, and the report shows more than one iteration with the last
# pre-copy iteration sending fewer pages than the first.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
# the workload's cwd and state files must exist where it lands
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"

on_src "phaul migrate --json --keep-images pid:$pid root@dst" >"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
phaul_logs
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | head -40
report=$(grep '"event":"report"' "$RESULT_DIR/migrate.json")
echo "$report"

phaul_gone src "$pid" || fail "memtouch $pid still exists on src"
on_dst "test -e /proc/$pid" || fail "memtouch $pid not running on dst"
wait_until 20 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
wl_check dst memtouch 120 || fail "memtouch verification on dst failed"

python3 - "$RESULT_DIR/migrate.json" <<'PY' || fail "report does not show converging pre-copy"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rep = [e for e in ev if e["event"] == "report"][-1]
its = [e for e in ev if e["event"] == "iteration" and not e["final"]]
assert rep["ok"], rep
assert len(its) > 1, f"only {len(its)} pre-copy iterations"
assert its[-1]["pages"] < its[0]["pages"], (its[0]["pages"], its[-1]["pages"])
print(f"iterations={len(its)} first={its[0]['pages']} last={its[-1]['pages']} "
      f"downtime_ms={rep['downtime_us']/1000:.0f} predicted_ms={rep['predicted_downtime_us']/1000:.0f} "
      f"wire_MiB={rep['wire_bytes']/1048576:.1f} raw_MiB={rep['raw_bytes']/1048576:.1f}")
PY
