# shellcheck shell=bash disable=SC2154
# Failure: the operator presses Ctrl-C (SIGINT) during pre-copy. phaul must
# roll back (exit 4): the workload runs on at src and verifies, and the
# destination discards what it received.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

phaul_slow_precopy 30
pid=$MT_PID
on_src "kill -INT $(gpgrep src "^phaul .*migrate" | head -1)"
note "sent SIGINT to phaul"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
on_src "grep -q 'interrupted' $SCEN_LOG/mig.json" || fail "the report does not say interrupted"
# the agent saw the abort and cleaned up; give it a moment to finish
wait_until 20 "dst agent gone" eval '[ -z "$(gpgrep dst "^phaul .*agent")" ]'
phaul_rolled_back mig "$rc" "$pid" memtouch
