# shellcheck shell=bash disable=SC2154
# Lazy restore (the default restore mode) of a runc container: rc1 with a
# 32 MiB memtouch moves over tcp; dst starts `criu lazy-pages` on the flat
# image and runs `runc restore --lazy-pages` (held stopped until Go, as
# always), so rc1 runs before its memory is in place and the daemon fills
# it. Then: rc1 running in dst's `runc list` and gone from src's, memtouch
# progressing and verifying every page on dst, and the report saying
# restore mode lazy, memory complete, no page missing, every lazy page
# placed on fault or in the background.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

runc_ct_create 32 || fail "rc1 did not start on src"
phaul_tcp_agent
on_src "timeout 200 phaul -t tcp migrate --json runc:$RUNC_CT $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
phaul_logs
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"' | tail -5
[ "$(runc_status dst)" = running ] || fail "rc1 on dst is $(runc_status dst), not running"
! runc_listed src || fail "rc1 still in runc list on src"
runc_progress dst || fail "memtouch in rc1 does not run on dst"
runc_wl_check dst || fail "memtouch verification in rc1 on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["ct"] == "runc:rc1", rep
assert rep["restore_mode"] == "lazy", (rep["restore_mode"], rep.get("restore_note"))
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
assert rep["lazy_pages_total"] >= 4000, rep["lazy_pages_total"]
assert rep["lazy_pages_fault"] + rep["lazy_pages_background"] == rep["lazy_pages_total"], rep
print("restore_mode=%s restore_ms=%.0f lazy_pages=%d (fault %d, background %d) downtime_ms=%.0f" % (
    rep["restore_mode"], rep["restore_us"] / 1000, rep["lazy_pages_total"],
    rep["lazy_pages_fault"], rep["lazy_pages_background"], rep["downtime_us"] / 1000))
' || fail "the lazy report is not right"
runc_ct_remove dst
runc_ct_remove src
