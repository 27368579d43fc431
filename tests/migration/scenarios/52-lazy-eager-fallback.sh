# shellcheck shell=bash disable=SC2154
# A destination that cannot restore lazily (userfaultfd's non-cooperative
# events missing; simulated with PHAUL_FAULT_NO_UFFD on dst) restores
# eagerly by itself: the check table's lazy-restore row warns, the report
# says eager and why, and the workload verifies on dst.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 32 --rate 300)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
on_src "phaul -o \"agent_cmd=env PHAUL_FAULT_NO_UFFD=1 phaul agent --stdio\" migrate --json \
	pid:$pid root@dst" >"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
phaul_json_check "$RESULT_DIR/migrate.json" '
chk = [e for e in ev if e["event"] == "check"][-1]["rows"]
row = [r for r in chk if r["check"] == "lazy-restore"]
assert row and row[0]["verdict"] == "warn" and "uffd-noncoop" in row[0]["detail"], chk
assert rep["ok"] and rep["restore_mode"] == "eager", rep
print("check row:", row[0])
' || fail "the eager fallback is not reported"
phaul_gone src "$pid" || fail "memtouch $pid still runs on src"
wl_check dst memtouch 300 || fail "memtouch verification on dst failed"
