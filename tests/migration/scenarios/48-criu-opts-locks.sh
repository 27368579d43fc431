# shellcheck shell=bash disable=SC2154
# A process holding a flock and an fcntl write lock (issue 16): refused
# before the freeze with --file-locks named; past that check (--force
# ct-files) CRIU refuses and phaul's error names --file-locks; migrated
# with --file-locks, and on dst the workload's own child finds both locks
# held by it (CRIU restores them only when the restore gets file_locks).

. "$MIG_HERE/phaul-lib.sh"
d=$WL_DIR/locked
on_src "mkdir -p $d"
on_dst "mkdir -p $d $WL_DIR/fileobjs $SCEN_LOG"
pid=$(wl_start src fileobjs fileobjs --mode locks --dir "$d")
wl_check src fileobjs || fail "the locks are not held on src to begin with"
phaul_fs_root
phaul_tcp_agent
phaul_refused "$pid" "--file-locks ([criu] file_locks)" --sync "$d"
phaul_refused "$pid" "--file-locks ([criu] file_locks)" --force ct-files --sync "$d"
wl_check src fileobjs || fail "the locks were lost on src by the refused dump"
on_src "phaul -t tcp migrate --file-locks --sync $d pid:$pid $DST_IP" ||
	{ phaul_logs; fail "migrate --file-locks failed"; }
phaul_gone src "$pid" || fail "fileobjs $pid still runs on src"
wait_until 30 "fileobjs ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/fileobjs/progress"
wl_check dst fileobjs || fail "the locks are not held on dst"
