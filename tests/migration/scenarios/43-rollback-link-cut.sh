# shellcheck shell=bash disable=SC2154
# Failure: the link between the hosts goes down while pre-copy pages are in
# flight. phaul must give up within its step timeout, roll back (exit 4),
# and the workload must run on at src and verify.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300 --random)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
phaul_bg mig -o timeout=15 migrate --json --no-compress --bwlimit 4M pid:"$pid" root@dst
phaul_wait_pages mig
on_dst ". /etc/guest.conf; ip link set \$LINK_IF down"
note "link down"
rc=$(phaul_bg_wait mig 120) || { on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"; fail "phaul did not finish"; }
on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"
phaul_rolled_back mig "$rc" "$pid" memtouch keep-dst-dir
