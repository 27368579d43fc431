# shellcheck shell=bash disable=SC2154
# A failure injected on the source right after podman:pm1's final
# checkpoint (the container is stopped by it, its export written): phaul
# rolls back with `podman container restore` from the kept local
# checkpoint. Then: exit 4 with the reason in the report, pm1 running in
# `podman ps` on src again, memtouch progressing and verifying every
# page, pm1 not on dst and nothing kept there.
# timeout: 480

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/podman-lib.sh"

podman_ct_create 16 || fail "pm1 did not start on src"
phaul_tcp_agent
on_src "rm -f $SCEN_LOG/fault.rc; PHAUL_FAULT_POST_DUMP=1 phaul -t tcp migrate --json \
	podman:$PODMAN_CT $DST_IP >$SCEN_LOG/fault.json 2>$SCEN_LOG/fault.err; echo \$? >$SCEN_LOG/fault.rc"
rc=$(on_src "cat $SCEN_LOG/fault.rc")
on_src "tail -3 $SCEN_LOG/fault.err"
phaul_logs
[ "$rc" = 4 ] || fail "phaul exit code $rc, wanted 4 (rolled back)"
on_src "tail -1 $SCEN_LOG/fault.json" | grep -q '"rolled_back":true' ||
	fail "report does not say rolled back"
on_src "grep -q 'fault injected at post-dump' $SCEN_LOG/fault.json" ||
	fail "the report does not give the injected fault as the reason"
st=$(podman_status src)
[ "$st" = running ] || fail "pm1 on src is $st after the rollback"
podman_listed src || fail "pm1 not in podman ps on src"
[ "$(podman_status dst)" = none ] || fail "pm1 known to Podman on dst: $(podman_status dst)"
podman_progress src || fail "memtouch in pm1 is not running on src"
podman_wl_check src || fail "memtouch verification in pm1 on src failed"
phaul_dst_dropped_images || fail "dst kept the images it received (only CRIU's logs may stay)"
note "rolled back, pm1 runs on src only"
podman_ct_remove src
