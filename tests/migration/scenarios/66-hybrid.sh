# shellcheck shell=bash disable=SC2154
# Hybrid: a 32 MiB memtouch whose first 8 MiB a CPU-bound dirtier rewrites
# faster than the shaped link carries them moves with --mode hybrid. It
# must pre-copy at least one iteration, find that the dirty set will not
# converge and switch to post-copy instead of throttling or refusing (the
# report says after which iteration, dirty rate against link rate); the
# final --lazy-pages dump has the last pre-dump as parent, so the cold
# pages come from dst's flat store and only the hot ones from src.
# memtouch verifies every page on dst; nothing of it is left on src.
# Seen in the harness: 2 pre-dumps, the switch (the limit unreachable in
# TCG), 6157 pages answered from dst's store, 2052 from src; 55 s.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

phaul_tcp_agent
link_shape 100mbit 1ms
pid=$(wl_start src memtouch memtouch --mib 32 --hot 2048 --rate 100000 --random --spin 60000)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"

rc=0
on_src "phaul -t tcp -o allow_downtime_overrun=no migrate --json --mode hybrid \
	--downtime-limit 200 pid:$pid $DST_IP 2>$SCEN_LOG/phaul.err" >"$RESULT_DIR/migrate.json" || rc=$?
link_unshape
[ "$rc" = 0 ] || { cat "$RESULT_DIR/migrate.json"; on_src "tail -5 $SCEN_LOG/phaul.err"; phaul_logs
	fail "phaul migrate --mode hybrid exit $rc"; }
phaul_memtouch_moved "$pid"
on_src "! ls -d /sys/fs/cgroup/phaul.throttle.* 2>/dev/null" || fail "src throttled the CT"
# nothing of it left: no memtouch, no CRIU (its lazy page server ends at the close)
for name in memtouch criu; do
	on_src "! grep -qs '^Name:[[:space:]]*$name\$' /proc/[0-9]*/status" ||
		fail "a $name still runs on src"
done
phaul_hybrid_checked "$RESULT_DIR/migrate.json" "pid:$pid" || fail "the hybrid migration is not right"
note "dst: $(on_dst "grep -h 'pushed in the background' $SCEN_LOG/agent-tcp.log | tail -1")"
note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")"
