# shellcheck shell=bash disable=SC2154
# Post-copy of a runc container: rc1 with a 32 MiB memtouch moves over tcp
# with --mode postcopy. On src `runc checkpoint --lazy-pages --page-server
# 127.0.0.1:PORT --status-fd` leaves its CRIU serving the lazy pages on
# loopback; phaul connects to it and relays them through the channel. dst
# restores with `runc restore --lazy-pages` (held stopped until Go), src's
# frozen copy is killed, Go, and rc1 runs on dst while its pages are pulled.
# A fault at post-dump first rolls it back (rc1 runs on src again).
# Then: rc1 running in dst's `runc list` and gone from src's, memtouch
# progressing and verifying every page on dst, the report saying post-copy
# with no page missing, the postcopy events ending in "done", and nothing of
# runc's checkpoint or its CRIU left on src.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

runc_ct_create 32 || fail "rc1 did not start on src"
phaul_tcp_agent

# First a fault at post-dump, before the switch: phaul cuts CRIU's lazy page
# server, CRIU resumes rc1, runc checkpoint fails: rc1 runs on src only.
on_src "rm -f $SCEN_LOG/fault.rc; PHAUL_FAULT_POST_DUMP=1 phaul -t tcp migrate --json \
	--mode postcopy runc:$RUNC_CT $DST_IP >$SCEN_LOG/fault.json 2>$SCEN_LOG/fault.err;
	echo \$? >$SCEN_LOG/fault.rc"
rc=$(on_src "cat $SCEN_LOG/fault.rc")
on_src "tail -3 $SCEN_LOG/fault.err"
[ "$rc" = 4 ] || { phaul_logs; fail "fault: phaul exit code $rc, wanted 4 (rolled back)"; }
on_src "tail -1 $SCEN_LOG/fault.json" | grep -q '"rolled_back":true' ||
	fail "fault: report does not say rolled back"
[ "$(runc_status src)" = running ] || fail "fault: rc1 on src is $(runc_status src)"
! runc_listed dst || fail "fault: rc1 in runc list on dst"
runc_progress src || fail "fault: memtouch in rc1 is not running on src"
left=$(gpgrep src "^(\/usr\/sbin\/)?(criu|runc) ")
[ -z "$left" ] || fail "fault: criu or runc processes left on src: $left"
note "fault at post-dump: rolled back, rc1 runs on src"

on_src "timeout 200 phaul -t tcp migrate --json --mode postcopy --keep-images runc:$RUNC_CT $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate --mode postcopy failed"; }
phaul_logs
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"' | tail -5
[ "$(runc_status dst)" = running ] || fail "rc1 on dst is $(runc_status dst), not running"
runc_listed dst || fail "rc1 not in runc list on dst"
! runc_listed src || fail "rc1 still in runc list on src"
runc_progress dst || fail "memtouch in rc1 does not run on dst"
runc_wl_check dst || fail "memtouch verification in rc1 on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0 and rep["ct"] == "runc:rc1", rep
assert not its, "pre-copy iterations in post-copy: %d" % len(its)
assert rep["restore_mode"] == "lazy", (rep["restore_mode"], rep.get("restore_note"))
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
assert rep["lazy_pages_total"] >= 4000, rep["lazy_pages_total"]
st = [e["state"] for e in ev if e["event"] == "postcopy"]
assert st and st[0] == "running" and st[-1] == "done", st
pc = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "post-copy"]
assert any("pages still on" in m for m in pc) and any("every page on" in m for m in pc), pc
print("downtime_ms=%.0f total_ms=%.0f lazy_pages=%d (fault %d, background %d) events=%s"
      % (rep["downtime_us"] / 1e3, rep["total_us"] / 1e3, rep["lazy_pages_total"],
         rep["lazy_pages_fault"], rep["lazy_pages_background"], ",".join(st)))
' || fail "the post-copy report is not right"
on_src "grep -h 'Accepted connection from 127.0.0.1' \$(ls -td /var/lib/phaul/out-runc-$RUNC_CT-* | head -1)/1/dump.log" ||
	fail "src's CRIU did not serve the lazy pages to phaul on loopback"
left=$(gpgrep src "^(\/usr\/sbin\/)?(criu|runc) ")
[ -z "$left" ] || fail "criu or runc processes left on src: $left"
note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $RUNC_DIR/rootfs/wl/progress")"
runc_ct_remove dst
runc_ct_remove src
