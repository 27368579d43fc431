# shellcheck shell=bash disable=SC2154
# As 30 with 512 MiB (ssh): the first pre-copy iteration moves the whole
# half gigabyte; the workload verifies all 131072 pages on dst.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
phaul_memtouch 512 ssh
