# shellcheck shell=bash disable=SC2154
# What cannot go lazy still arrives whole: two processes writing into shared
# anonymous memory, then two writing into a memfd mapped shared, each pair
# migrated with the default lazy restore over tcp; both halves of each
# mapping verify on dst, and both processes write on after the move.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"

phaul_tcp_agent
for kind in anon memfd; do
	flag=
	[ "$kind" = memfd ] && flag=--memfd
	pid=$(wl_start src "shm-$kind" shmem --mib 16 --rate 300 $flag)
	wait_until 20 "shmem ($kind) ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/shm-$kind/progress"
	on_dst "mkdir -p $WL_DIR/shm-$kind"
	on_src "phaul -t tcp migrate --json pid:$pid $DST_IP" >"$RESULT_DIR/$kind.json" ||
		{ cat "$RESULT_DIR/$kind.json"; phaul_logs; fail "phaul migrate ($kind) failed"; }
	phaul_json_check "$RESULT_DIR/$kind.json" '
assert rep["ok"] and rep["restore_mode"] == "lazy" and rep["memory_complete"], rep
print("restore_ms=%.0f memory_complete_ms=%.0f lazy_pages=%d"
      % (rep["restore_us"] / 1e3, rep["memory_complete_us"] / 1e3, rep["lazy_pages_total"]))
' || fail "report ($kind)"
	phaul_gone src "$pid" || fail "shmem ($kind) $pid still runs on src"
	wait_until 30 "shmem ($kind) ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/shm-$kind/progress"
	# both writers run on before the check (the child's writes after the move are checked)
	sleep 1
	wl_check dst "shm-$kind" 120 || fail "shmem ($kind) verification on dst failed"
	for p in $(gpgrep dst "^shmem"); do on_dst "kill $p"; done
done
