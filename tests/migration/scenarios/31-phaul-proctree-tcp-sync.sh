# shellcheck shell=bash disable=SC2154
# phaul migrate over tcp (shared secret) of a three-process tree joined by
# pipes, one child re-exec'd, the last appending to a file it keeps open in
# a directory given to --sync: the directory is rsynced before, during
# pre-copy and while frozen, so the open file is identical on dst (its
# checksum is compared) and the tree goes on with a gapless sequence.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

phaul_fs_root
phaul_tcp_agent
pid=$(wl_start src proctree proctree --rate 200 --data-file "$WL_DIR/proctree/data")
wait_until 20 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9]' $WL_DIR/proctree/progress"

on_src "phaul -t tcp migrate --json --keep-images --sync $WL_DIR/proctree pid:$pid $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
phaul_logs
grep '"fs-sync"' "$RESULT_DIR/migrate.json" | head -5

phaul_gone src "$pid" || fail "proctree $pid still exists on src"
n=$(on_dst "ps -o pid,ppid | awk '\$1 == $pid || \$2 == $pid' | wc -l")
[ "$n" -eq 3 ] || fail "expected 3 proctree processes on dst, found $n"
# what src last wrote (frozen) is exactly what dst started from
src_sum=$(on_src "md5sum < $WL_DIR/proctree/data")
dst_len=$(on_src "wc -c < $WL_DIR/proctree/data")
dst_sum=$(on_dst "head -c $dst_len $WL_DIR/proctree/data | md5sum")
[ "$src_sum" = "$dst_sum" ] || fail "data file differs: src $src_sum, dst prefix $dst_sum"
note "data file: $dst_len bytes identical on dst"
wait_until 20 "proctree ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/proctree/progress"
wl_check dst proctree 60 || fail "proctree verification on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["transport"] == "tcp", rep
assert rep["fs_syncs"] >= 3, rep["fs_syncs"]
print("iterations=%d fs_syncs=%d downtime_ms=%.0f" % (len(its), rep["fs_syncs"], rep["downtime_us"] / 1000))
' || fail "report check failed"
