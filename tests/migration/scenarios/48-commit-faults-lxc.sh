# shellcheck shell=bash disable=SC2154
# The commit under faults for an LXC container (as 48-commit-faults does
# for pid:): liblxc restores ct1 on dst held stopped (CRIU's leave-stopped,
# through CRIU_CONFIG_FILE) until Go. An answer lost before Go must leave
# ct1 running on one host only, and still on dst, until `phaul recover`:
#  0. the agent dies while liblxc restores (agent-restoring, a second into
#     it; src-no-settle: exit 6): the restore ends without it, ct1 stopped;
#     recover finds the record written before the restore and discards it
#     by name, and ct1 runs on src;
#  1. the agent dies after the restore, before its answer (src-no-settle:
#     phaul leaves it to recover, exit 6): recover discards dst's copy and
#     ct1 runs on src;
#  2. the link is cut after the source gave its copy up, before Go (exit
#     6): recover lets dst's copy run.
# After each: memtouch ticks on that host only, ct1 is not RUNNING on the
# other, and it verifies every page.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
phaul_fs_root

# lxc_absent ROLE: ct1 is not RUNNING there.
lxc_absent() { [ "$(lxc_state "$1")" != RUNNING ]; }

lxc_ct_create 16 || fail "container did not start on src"
phaul_tcp_agent
ct_commit_faults "lxc:$LXC_CT" "$LXC_DIR" lxc_absent \
	"agent-restoring,src-no-settle:src:6 agent-ready,src-no-settle:src:6 src-cut-go,src-no-settle:dst:6"
on_dst "lxc-stop -n $LXC_CT -k" || true
