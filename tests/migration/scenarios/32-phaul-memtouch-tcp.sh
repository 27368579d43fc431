# shellcheck shell=bash disable=SC2154
# As 30, over the tcp transport (shared-secret agent listening on dst); first
# a --dry-run, which must pass the checks and touch nothing.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

phaul_tcp_agent
pid=$(wl_start src dry memtouch --mib 8 --rate 100)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/dry/progress"
on_src "phaul -t tcp migrate --dry-run pid:$pid $DST_IP" >"$RESULT_DIR/dry-run.txt" ||
	{ cat "$RESULT_DIR/dry-run.txt"; fail "dry run failed"; }
grep -q "checks passed; nothing migrated" "$RESULT_DIR/dry-run.txt" || fail "dry run did not say so"
on_src "grep -q '^State:[[:space:]]*[RS]' /proc/$pid/status" || fail "dry run disturbed the workload"
on_src "! ls -d /var/lib/phaul/out-* 2>/dev/null" && on_dst "! ls -d /var/lib/phaul/in-* 2>/dev/null" ||
	fail "dry run left work dirs"
on_src "kill $pid"

phaul_memtouch 64 tcp
