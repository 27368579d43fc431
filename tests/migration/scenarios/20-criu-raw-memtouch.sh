# shellcheck shell=bash disable=SC2154
# Raw CRIU, no phaul: a 64 MiB memtouch dirtying pages on src is moved to
# dst with one pre-dump and the final dump streamed to page-servers on dst,
# restored there, and verifies every page.  The source must be gone.
# timeout: 240

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300)
note "memtouch pid $pid on src: $(wl_progress src memtouch)"
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"

criu_raw_migrate "$pid" 1 "$WL_DIR/memtouch" || fail "raw CRIU migration failed"

on_src "test ! -e /proc/$pid" || fail "memtouch $pid still exists on src"
on_dst "test -e /proc/$pid" || fail "memtouch $pid not running on dst"
wait_until 20 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
note "on dst: $(wl_progress dst memtouch)"
wl_check dst memtouch 120 || fail "memtouch verification on dst failed"
gap=$(on_dst "sed -n 's/.*migration_gap_ms=\([0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")
echo "downtime seen by the workload: ${gap} ms (guest clocks synced to ~ms)"
