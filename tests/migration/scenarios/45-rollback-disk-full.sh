# shellcheck shell=bash disable=SC2154
# Failure: the destination's work dir fills up while pages arrive (an 8 MiB
# tmpfs for a 64 MiB CT). First the disk check refuses (exit 3); forced past
# it with --force disk, the page server runs out of space mid-stream: phaul
# must roll back (exit 4) quickly, the operator told of the full disk, and
# the workload runs on at src and verifies.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

on_dst "mount -t tmpfs -o size=8m tmpfs /var/lib/phaul"
pid=$(wl_start src memtouch memtouch --mib 64 --rate 300 --random)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
rc=0
on_src "phaul migrate --json pid:$pid root@dst" >"$RESULT_DIR/refused.json" || rc=$?
[ "$rc" = 3 ] || { on_dst "umount /var/lib/phaul"; fail "disk check: exit $rc, wanted 3"; }
grep -q "check 'disk' failed" "$RESULT_DIR/refused.json" || fail "refusal does not name the disk check"

phaul_bg mig -o timeout=30 migrate --json --force disk pid:"$pid" root@dst
rc=$(phaul_bg_wait mig 180) || { on_dst "umount /var/lib/phaul"; fail "phaul did not finish"; }
on_src "tail -1 $SCEN_LOG/mig.json" | grep -o '"error":"[^"]*"' | cut -c1-300
# the reason reaches the operator: in the report, or (when the agent's hang-up
# overtakes its abort message) in the agent's log lines phaul relays
# (into a variable first: grep -q closing the pipe early would SIGPIPE ssh,
# and pipefail would call that a failure)
said=$(on_src "tail -1 $SCEN_LOG/mig.json; cat $SCEN_LOG/mig.err")
grep -q "No space left on device" <<<"$said" ||
	fail "the operator is not told that the disk is full"
phaul_rolled_back mig "$rc" "$pid" memtouch
on_dst "umount /var/lib/phaul"
