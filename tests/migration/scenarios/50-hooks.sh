# shellcheck shell=bash disable=SC2154
# Stage hooks, for real on both guests: every stage appends to a log, and
# the order on each side is asserted after a migration; then a pre-dump
# hook that fails aborts the next migration before the freeze: exit 4, the
# workload runs on at src and verifies, dst keeps nothing.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

hooks=/tmp/hooks-50
install_hooks() { # ROLE: one logging hook per stage
	on_guest "$1" "mkdir -p $hooks && for s in before-check pre-precopy pre-dump post-dump \
		pre-restore post-restore on-success on-failure; do
		printf '#!/bin/sh\necho \"\$PHAUL_STAGE \$PHAUL_SIDE \$PHAUL_CT\" >>$hooks.log\n' >$hooks/\$s
		chmod 755 $hooks/\$s; done"
}
install_hooks src
install_hooks dst
opts="-o hooks_dir=$hooks -o 'agent_cmd=phaul -o hooks_dir=$hooks agent --stdio'"

pid=$(wl_start src memtouch memtouch --mib 16 --rate 100)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
on_src "phaul $opts migrate --json pid:$pid root@dst" >"$RESULT_DIR/migrate.json" ||
	{ phaul_logs; fail "phaul migrate failed"; }
src_log=$(on_src "cut -d' ' -f1,2 $hooks.log | tr '\n' ,")
dst_log=$(on_dst "cut -d' ' -f1,2 $hooks.log | tr '\n' ,")
echo "src hooks: $src_log"
echo "dst hooks: $dst_log"
[ "$src_log" = "before-check source,pre-precopy source,pre-dump source,post-dump source,on-success source," ] ||
	fail "source hooks out of order: $src_log"
[ "$dst_log" = "before-check destination,pre-restore destination,post-restore destination,on-success destination," ] ||
	fail "destination hooks out of order: $dst_log"
on_dst "grep -q 'pid:$pid' $hooks.log" || fail "hooks were not told the CT"

# now a failing pre-dump hook on src: back on src, nothing frozen
on_dst "kill -9 $pid"
on_src "rm -f $hooks.log; printf '#!/bin/sh\necho refusing >&2\nexit 3\n' >$hooks/pre-dump"
pid=$(wl_start src memtouch2 memtouch --mib 16 --rate 100)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch2/progress"
on_dst "mkdir -p $WL_DIR/memtouch2"
phaul_bg mig "$opts" migrate --json pid:"$pid" root@dst
rc=$(phaul_bg_wait mig 120) || fail "phaul did not finish"
on_src "grep -q 'pre-dump' $SCEN_LOG/mig.json" || fail "the report does not name the hook"
phaul_rolled_back mig "$rc" "$pid" memtouch2
[ "$(on_src "cut -d' ' -f1 $hooks.log | tail -1")" = on-failure ] || fail "on-failure hook did not run"
