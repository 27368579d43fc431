# shellcheck shell=bash disable=SC2154
# Failure: the operator presses Ctrl-C (SIGINT) during pre-copy. phaul must
# roll back (exit 4): the workload runs on at src and verifies, and the
# destination discards what it received.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300 --random)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
phaul_bg mig -o timeout=30 migrate --json --no-compress --bwlimit 4M pid:"$pid" root@dst
phaul_wait_pages mig
on_src "kill -INT $(gpgrep src "^phaul .*migrate" | head -1)"
note "sent SIGINT to phaul"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
on_src "grep -q 'interrupted' $SCEN_LOG/mig.json" || fail "the report does not say interrupted"
# the agent saw the abort and cleaned up; give it a moment to finish
wait_until 20 "dst agent gone" eval '[ -z "$(gpgrep dst "^phaul .*agent")" ]'
phaul_rolled_back mig "$rc" "$pid" memtouch
