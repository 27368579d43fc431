# shellcheck shell=bash disable=SC2154
# Failure: the link between the hosts goes down while pre-copy pages are in
# flight. phaul must give up within its step timeout, roll back (exit 4),
# and the workload must run on at src and verify.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

phaul_slow_precopy 15
pid=$MT_PID
on_dst ". /etc/guest.conf; ip link set \$LINK_IF down"
note "link down"
rc=$(phaul_bg_wait mig 120) || { on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"; fail "phaul did not finish"; }
on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"
phaul_rolled_back mig "$rc" "$pid" memtouch keep-dst-dir
