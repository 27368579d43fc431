# shellcheck shell=bash disable=SC2154
# Failure: the destination agent is killed (SIGKILL) while pre-copy pages
# are in flight. phaul must exit "rolled back" (4) and the workload must run
# on at the source, unfrozen, and verify every page.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300 --random)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
# incompressible pages at 4 MiB/s: the first iteration takes ~16 s
phaul_bg mig -o timeout=30 migrate --json --no-compress --bwlimit 4M pid:"$pid" root@dst
phaul_wait_pages mig
on_dst "kill -9 $(gpgrep dst "^phaul .*agent" | tr '\n' ' ')"
note "killed the agent on dst"
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
phaul_rolled_back mig "$rc" "$pid" memtouch keep-dst-dir
