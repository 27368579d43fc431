# shellcheck shell=bash disable=SC2154
# Failure with an LXC container frozen at CRIU's post-dump (fault injected
# on the source after the final dump): phaul answers rollback through the
# action script, CRIU resumes the container on src. Then: exit 4, ct1
# RUNNING on src with its address, memtouch progressing and verifying every
# page, ct1 not running on dst and nothing kept there.
# timeout: 360

. "$MIG_HERE/phaul-lib.sh"

lxc_ct_create 16 || fail "container did not start on src"
phaul_tcp_agent
on_src "rm -f $SCEN_LOG/mig.rc; PHAUL_FAULT_POST_DUMP=1 phaul -t tcp migrate --json lxc:$LXC_CT \
	$DST_IP >$SCEN_LOG/mig.json 2>$SCEN_LOG/mig.err; echo \$? >$SCEN_LOG/mig.rc"
rc=$(on_src "cat $SCEN_LOG/mig.rc")
on_src "tail -3 $SCEN_LOG/mig.err"
phaul_logs
[ "$rc" = 4 ] || fail "phaul exit code $rc, wanted 4 (rolled back)"
on_src "tail -1 $SCEN_LOG/mig.json" | grep -q '"rolled_back":true' ||
	fail "report does not say rolled back"
on_src "grep -q 'fault injected at post-dump' $SCEN_LOG/mig.json" ||
	fail "the report does not give the injected fault as the reason"

st=$(lxc_state src)
[ "$st" = RUNNING ] || fail "ct1 on src is $st after the rollback"
st=$(lxc_state dst)
[ "$st" != RUNNING ] || fail "ct1 runs on dst too"
on_src "ping -c 1 -W 2 $LXC_IP >/dev/null" || fail "$LXC_IP does not answer on src"
on_dst "! ping -c 1 -W 1 $LXC_IP >/dev/null" || fail "$LXC_IP answers on dst"
t=$(on_src "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress")
wait_until 20 "memtouch in ct1 making progress on src" \
	on_src "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress) -gt $t ]" ||
	fail "memtouch in ct1 is not running on src"
lxc_wl_check src || fail "memtouch verification in ct1 on src failed"
on_dst "! ls -d /var/lib/phaul/in-* 2>/dev/null" || fail "dst kept the images it received"
on_src "lxc-stop -n $LXC_CT -k" || true
