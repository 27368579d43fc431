# shellcheck shell=bash disable=SC2154
# phaul migrate over ssh: a 64 MiB memtouch dirtying pages continuously on
# src moves to dst with pre-copy and verifies every page there; the source
# is gone; the report shows more than one iteration, the last pre-copy
# iteration smaller than the first.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
phaul_memtouch 64 ssh
