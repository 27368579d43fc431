# shellcheck shell=bash disable=SC2154
# Failure: CRIU's restore fails for real on the destination: the tree keeps
# a file open that dst does not have (no --sync, the workload's directory is
# missing there). The source must resume: exit 4, the tree runs on at src,
# and dst keeps nothing of what it received.
# timeout: 240

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src proctree proctree --rate 200 --data-file "$WL_DIR/proctree/data")
wait_until 20 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9]' $WL_DIR/proctree/progress"
on_dst "rm -rf $WL_DIR/proctree"
# --force files: the check would refuse it before the freeze (51); this is about the restore
phaul_bg mig -o timeout=30 migrate --json --force files pid:"$pid" root@dst
rc=$(phaul_bg_wait mig 180) || fail "phaul did not finish"
on_src "grep -q 'restore on dst failed' $SCEN_LOG/mig.json" ||
	fail "the report does not say the restore failed"
phaul_rolled_back mig "$rc" "$pid" proctree
