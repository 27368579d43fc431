# shellcheck shell=bash disable=SC2154
# Failure: the destination agent dies after the final dump arrived, right
# before it would restore (a pre-restore hook on dst kills it), so the
# source is frozen at post-dump when the link goes silent. CRIU must be
# told to resume: exit 4, the workload runs on at src and verifies.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

hooks=/tmp/hooks-41
on_dst "mkdir -p $hooks && printf '#!/bin/sh\necho pre-restore kills \$PPID >&2\nkill -9 \$PPID\n' \
	>$hooks/pre-restore && chmod 755 $hooks/pre-restore"
pid=$(wl_start src memtouch memtouch --mib 32 --rate 300)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
phaul_bg mig -o timeout=30 -o "'agent_cmd=phaul -o hooks_dir=$hooks agent --stdio'" \
	migrate --json pid:"$pid" root@dst
rc=$(phaul_bg_wait mig 180) || fail "phaul did not finish"
on_src "grep -q '\"dump\"' $SCEN_LOG/mig.json" || fail "never reached the final dump"
phaul_rolled_back mig "$rc" "$pid" memtouch keep-dst-dir
on_dst "rm -rf $hooks"
