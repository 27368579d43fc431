# shellcheck shell=bash disable=SC2154
# Control from another shell: while `phaul migrate` moves a 64 MiB memtouch
# at 4 MiB/s, `phaul status` on src lists it with the status line's
# figures; `phaul set --bwlimit 2M` shows in status at once and the page
# stream slows to it; `phaul cancel` rolls the migration back (its migrate
# exits 4, the report says cancelled) and the workload verifies on src.
# Under --json the migration wrote a progress event every second, with the
# bytes of its first iteration growing.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

# done_bytes of the one migration in `phaul status --json`
status_done() {
	on_src "phaul status --json" | sed -n 's/.*"done_bytes":\([0-9]*\).*/\1/p'
}

phaul_slow_precopy 60
pid=$MT_PID
st=$(on_src "phaul status")
note "status: $st"
grep -q "pid:$pid -> root@dst  precopy, " <<<"$st" || fail "status does not list the migration"
grep -Eq "^  iter 1  [0-9.]+/[0-9.]+ MiB [0-9]+%  raw [0-9.]+ MiB/s  wire [0-9.]+ MiB/s  ETA" \
	<<<"$st" || fail "status has not the figures of the status line"
id=$(awk 'NR == 1 {print $1}' <<<"$st")

on_src "phaul set $id --bwlimit 2M" || fail "phaul set --bwlimit failed"
st=$(on_src "phaul status $id")
note "after set: $st"
grep -q "bwlimit 2.0 MiB/s" <<<"$st" || fail "status does not show the new bwlimit"
# the stream follows: over 6 s at most 2 MiB/s (and some slack for a burst)
a=$(status_done)
sleep 6
b=$(status_done)
note "page stream: $(((b - a) / 1024)) KiB in 6 s after set --bwlimit 2M"
[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] || fail "no progress figures from status --json"
[ $((b - a)) -le $((6 * 2 * 1048576 * 5 / 4)) ] || fail "the stream did not slow to 2 MiB/s"

on_src "phaul cancel $id" >"$RESULT_DIR/cancel.out" 2>&1 || fail "phaul cancel failed: $(cat "$RESULT_DIR/cancel.out")"
grep -q "migration $id ended" "$RESULT_DIR/cancel.out" || fail "cancel did not wait for the end"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
on_src "tail -1 $SCEN_LOG/mig.json" | grep -q "cancelled by \`phaul cancel $id\`" ||
	fail "the report does not say cancelled"
n=$(on_src "grep -c '\"event\":\"progress\".*\"iter\":1,\"final\":false,\"transfer\":true' $SCEN_LOG/mig.json || true")
note "$n progress events during the first iteration"
[ "$n" -ge 8 ] || fail "too few progress events while pages moved: $n"
on_src "! grep -v '\"schema\":1,\"ts\":\"20' $SCEN_LOG/mig.json" || fail "an event without schema or ts"
wait_until 20 "dst agent gone" eval '[ -z "$(gpgrep dst "^phaul .*agent")" ]'
phaul_rolled_back mig "$rc" "$pid" memtouch
on_src "! ls /var/lib/phaul/run/*.sock 2>/dev/null" || fail "a control socket was left"
