# shellcheck shell=bash disable=SC2154
# phaul migrate podman:pm1 over tcp: a Podman container (image imported
# offline from a busybox rootfs, no network) running a memtouch that
# dirties pages all along. One pre-checkpoint exported while it runs,
# then the final checkpoint (with previous) exported with it stopped; both
# exports rsynced through phaul's channel; `podman container restore
# --import` on dst. Then: pm1 running in `podman ps` on dst, gone from src
# (not even in `podman ps -a`), every page verified, the downtime reported
# beside memtouch's longest gap; the downtime limit does not refuse it
# (its pages bypass the relay: nothing predicts the downtime). Last, a
# second pm1 on src is refused by the ct-id check (exit 3) naming dst and
# both values, and, its image removed from dst, by the ct-image check.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/podman-lib.sh"

podman_ct_create 32 || fail "pm1 did not start on src"
[ "$(podman_status src)" = running ] || fail "pm1 on src is $(podman_status src)"
podman_listed src || fail "pm1 not in podman ps on src"

phaul_tcp_agent
on_src "timeout 400 phaul -o allow_downtime_overrun=no -t tcp migrate --json podman:$PODMAN_CT $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate podman:$PODMAN_CT failed"; }
phaul_logs
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"' | tail -6
st=$(podman_status dst)
[ "$st" = running ] || fail "pm1 on dst is $st, not running"
podman_listed dst || fail "pm1 not in podman ps on dst"
! podman_listed src || fail "pm1 still in podman ps on src"
[ "$(podman_status src)" = none ] || fail "pm1 still known to Podman on src: $(podman_status src)"
on_src "! ls $PODMAN_EXPORTS/$PODMAN_CT/*.tar.gz 2>/dev/null" || fail "exports left on src"
on_dst "! ls $PODMAN_EXPORTS/$PODMAN_CT/*.tar.gz 2>/dev/null" || fail "exports left on dst"
podman_progress dst || fail "memtouch in pm1 does not run on dst"
podman_wl_check dst || fail "memtouch verification in pm1 on dst failed"
gap=$(podman_gap dst)
phaul_json_check "$RESULT_DIR/migrate.json" "
assert rep['ok'] and rep['ct'] == 'podman:$PODMAN_CT', rep
assert len(its) == 1, 'podman: one pre-checkpoint, got %d' % len(its)
assert any('the downtime limit cannot apply' in e.get('msg', '') for e in ev), 'no word on the limit'
assert int('$gap' or 0) > 0, 'no gap seen by memtouch'
assert rep['fs_syncs'] >= 3, rep['fs_syncs']
print('podman: iterations=%d fs_syncs=%d fs_wire_kib=%.0f downtime_ms=%.0f memtouch_maxgap_ms=$gap' %
      (len(its), rep['fs_syncs'], rep['fs_wire_bytes'] / 1024, rep['downtime_us'] / 1000))
" || fail "report check failed"

# a pm1 started again on src while pm1 runs on dst: refused before
# anything moves, naming the check, the host and both values
podman_ct_remove src
podman_ct_create 8 || fail "a second pm1 did not start on src"
phaul_ct_id_refused podman:$PODMAN_CT
[ "$(podman_status src)" = running ] || fail "refusal: pm1 on src is $(podman_status src)"
[ "$(podman_status dst)" = running ] || fail "refusal: pm1 on dst is $(podman_status dst)"

# pm1's image (by ID) missing on dst: refused by the ct-image check before
# any checkpoint, naming dst and both values; pm1 runs on, untouched
podman_ct_remove dst
img=$(on_src "podman inspect --type container --format '{{.Image}}' $PODMAN_CT")
on_dst "podman rmi --force $img >/dev/null"
on_src "phaul -t tcp migrate podman:$PODMAN_CT $DST_IP >$SCEN_LOG/noimage.out 2>&1;
	echo \$? >$SCEN_LOG/noimage.rc"
rc=$(on_src "cat $SCEN_LOG/noimage.rc")
on_src "grep 'ct-image' $SCEN_LOG/noimage.out | tail -2"
[ "$rc" = 3 ] || fail "image missing on dst: phaul exit code $rc, wanted 3 (refused)"
on_src "grep \"check 'ct-image' failed: podman:$PODMAN_CT runs from image $img, which dst does not hold\" \
	$SCEN_LOG/noimage.out | grep -q 'destination: MISSING'" ||
	fail "image missing on dst: no ct-image refusal naming dst and both values"
on_src "! ls $PODMAN_EXPORTS/$PODMAN_CT/*.tar.gz 2>/dev/null" ||
	fail "image missing on dst: a checkpoint was exported before the refusal"
[ "$(podman_status src)" = running ] || fail "image refusal: pm1 on src is $(podman_status src)"
podman_image # back on dst, for the next podman: scenario
podman_ct_remove src
