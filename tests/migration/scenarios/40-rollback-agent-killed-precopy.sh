# shellcheck shell=bash disable=SC2154
# Failure: the destination agent is killed (SIGKILL) while pre-copy pages
# are in flight. phaul must exit "rolled back" (4) and the workload must run
# on at the source, unfrozen, and verify every page.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

phaul_slow_precopy 30
pid=$MT_PID
on_dst "kill -9 $(gpgrep dst "^phaul .*agent" | tr '\n' ' ')"
note "killed the agent on dst"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
phaul_rolled_back mig "$rc" "$pid" memtouch keep-dst-dir
