# shellcheck shell=bash disable=SC2154
# As 33 over tcp.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
phaul_memtouch 512 tcp
