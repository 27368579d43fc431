# shellcheck shell=bash disable=SC2154
# An unlinked open file of 2 MiB, over CRIU's default ghost limit of 1 MiB
# (issue 16): refused before the freeze with --ghost-limit named; past that
# check CRIU refuses and phaul's error names it; migrated with
# --ghost-limit 4M, and on dst the workload reads back every byte of the
# still unlinked file.

. "$MIG_HERE/phaul-lib.sh"
d=$WL_DIR/ghostdir
on_src "mkdir -p $d"
on_dst "mkdir -p $d $WL_DIR/fileobjs $SCEN_LOG"
pid=$(wl_start src fileobjs fileobjs --mode ghost --size 2097152 --dir "$d")
phaul_tcp_agent
phaul_refused "$pid" "--ghost-limit SIZE ([criu] ghost_limit)"
phaul_refused "$pid" "--ghost-limit SIZE ([criu] ghost_limit)" --force ct-files
on_src "phaul -t tcp migrate --ghost-limit 4M pid:$pid $DST_IP" ||
	{ phaul_logs; fail "migrate --ghost-limit 4M failed"; }
phaul_gone src "$pid" || fail "fileobjs $pid still runs on src"
wait_until 30 "fileobjs ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/fileobjs/progress"
wl_check dst fileobjs || fail "the unlinked file differs on dst"
