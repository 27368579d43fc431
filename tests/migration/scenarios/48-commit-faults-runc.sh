# shellcheck shell=bash disable=SC2154
# The commit under faults for a runc container (as 48-commit-faults does
# for pid:): `runc restore` restores rc1 on dst held stopped (CRIU's
# leave-stopped, through CRIU_CONFIG_FILE in runc's environment) until Go.
# An answer lost before Go must leave rc1 running on one host only, and
# still on dst, until `phaul recover`:
#  0. the agent dies while runc restores (agent-restoring, a second into
#     it; src-no-settle: exit 6): the restore ends without it, rc1 stopped;
#     recover finds the record written before the restore and removes it
#     by name, and rc1 runs on src;
#  1. the agent dies after the restore, before its answer (src-no-settle:
#     phaul leaves it to recover, exit 6): recover removes dst's copy and
#     rc1 runs on src;
#  2. the link is cut after the source gave its copy up, before Go (exit
#     6): recover lets dst's copy run.
# After each: memtouch ticks on that host only, rc1 is not in the other's
# `runc list`, and it verifies every page.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

# runc_absent ROLE: rc1 is not in runc list there.
runc_absent() { ! runc_listed "$1"; }

runc_ct_create 16 || fail "rc1 did not start on src"
phaul_tcp_agent
ct_commit_faults "runc:$RUNC_CT" "$RUNC_DIR" runc_absent \
	"agent-restoring,src-no-settle:src:6 agent-ready,src-no-settle:src:6 src-cut-go,src-no-settle:dst:6"
runc_ct_remove dst
