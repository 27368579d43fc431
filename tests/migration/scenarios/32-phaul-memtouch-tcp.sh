# shellcheck shell=bash disable=SC2154
# As 30, over the tcp transport (shared-secret agent listening on dst).
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
phaul_memtouch 64 tcp
