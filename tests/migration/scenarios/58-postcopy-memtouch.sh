# shellcheck shell=bash disable=SC2154
# Post-copy (--mode postcopy): a 64 MiB memtouch (10 pages/s; a busy one
# is 62-postcopy-busy's) moves over tcp with no pre-copy: frozen once, restored on dst with its private pages lazy, run
# there at once, its pages pulled from src through phaul's channel. CRIU's
# page server on src serves a socketpair (its log says it re-used the
# socket; no port is opened). memtouch verifies every page on dst; the
# report says post-copy, no page missing, and nothing of the CT or of CRIU
# is left on src.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 10)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent
on_src "phaul -t tcp migrate --json --mode postcopy --keep-images pid:$pid $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate --mode postcopy failed"; }
phaul_memtouch_moved "$pid"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
assert not its, "pre-copy iterations in post-copy: %d" % len(its)
assert rep["restore_mode"] == "lazy", rep
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
assert rep["lazy_pages_total"] >= 16000, rep["lazy_pages_total"]
pc = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "post-copy"]
assert any("pages still on" in m for m in pc) and any("every page on" in m for m in pc), pc
print("downtime_ms=%.0f total_ms=%.0f lazy_pages=%d fault=%d background=%d memory_complete_ms=%.0f"
      % (rep["downtime_us"] / 1e3, rep["total_us"] / 1e3, rep["lazy_pages_total"],
         rep["lazy_pages_fault"], rep["lazy_pages_background"], rep["memory_complete_us"] / 1e3))
print("\n".join(pc))
' || fail "the post-copy report is not right"
on_src "grep -h 'Re-using ps socket' /var/lib/phaul/out-pid-*/1/dump.log" ||
	fail "src's CRIU did not serve the lazy pages on phaul's socket"
left=$(gpgrep src "^(\/usr\/sbin\/)?criu ")
[ -z "$left" ] || fail "criu processes left on src: $left"
note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")"
