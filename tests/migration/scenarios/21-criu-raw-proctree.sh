# shellcheck shell=bash disable=SC2154
# Raw CRIU, no phaul: a three-process tree joined by pipes, one child
# re-exec'd, the last one appending to a file it keeps open, is moved to
# dst (pre-dump + dump to page-servers, the file synced while the tree is
# gone) and must go on delivering a gapless sequence there.
# timeout: 240

pid=$(wl_start src proctree proctree --rate 200 --data-file "$WL_DIR/proctree/data")
note "proctree pid $pid on src: $(on_src "ps -o pid,ppid,comm | awk '\$1 == $pid || \$2 == $pid'" | tr '\n' ' ')"
wait_until 20 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9]' $WL_DIR/proctree/progress"

criu_raw_migrate "$pid" 1 "$WL_DIR/proctree" || fail "raw CRIU migration failed"

on_src "test ! -e /proc/$pid" || fail "proctree $pid still exists on src"
n=$(on_dst "ps -o pid,ppid | awk '\$1 == $pid || \$2 == $pid' | wc -l")
[ "$n" -eq 3 ] || fail "expected 3 proctree processes on dst, found $n"
wait_until 20 "proctree ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/proctree/progress"
before=$(on_dst "sed -n 's/.* seq=\([0-9]*\).*/\1/p' $WL_DIR/proctree/progress")
wait_until 20 "numbers flowing on dst" \
	on_dst "[ \$(sed -n 's/.* seq=\([0-9]*\).*/\1/p' $WL_DIR/proctree/progress) -gt $((before + 50)) ]"
note "on dst: $(wl_progress dst proctree)"
wl_check dst proctree 60 || fail "proctree verification on dst failed"
