# shellcheck shell=bash disable=SC2154
# A unix datagram socket connected to a server outside the tree, as a
# process talking to /dev/log is (issue 16): refused before the freeze
# (sock_diag shows the peer outside the tree) naming --ext-unix-sk; past
# that check CRIU refuses and phaul's error names it too; migrated with it,
# the socket on dst is connected to dst's server at the same path, which
# receives what the workload sends.

. "$MIG_HERE/phaul-lib.sh"
d=$WL_DIR/srv
on_src "mkdir -p $d"
on_dst "mkdir -p $d $WL_DIR/fileobjs $SCEN_LOG"
wl_start src dgsrv fileobjs --mode dgram-server --dir "$d" >/dev/null
wl_start dst dgsrv fileobjs --mode dgram-server --dir "$d" >/dev/null
pid=$(wl_start src fileobjs fileobjs --mode extunix --dir "$d")
wl_check src fileobjs || fail "extunix cannot send on src to begin with"
wl_check src dgsrv || fail "src's server did not receive"
phaul_tcp_agent
phaul_refused "$pid" "unix datagram socket connected to $d/sock outside the tree: --ext-unix-sk"
phaul_refused "$pid" "--ext-unix-sk ([criu] ext_unix_sk)" --force ct-files
on_src "phaul -t tcp migrate --ext-unix-sk pid:$pid $DST_IP" ||
	{ phaul_logs; fail "migrate --ext-unix-sk failed"; }
phaul_gone src "$pid" || fail "fileobjs $pid still runs on src"
wait_until 30 "fileobjs ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/fileobjs/progress"
on_dst "rm -f $WL_DIR/dgsrv/result; touch $WL_DIR/dgsrv/check"
wait_until 10 "dst's server drained" on_dst "test -s $WL_DIR/dgsrv/result"
wl_check dst fileobjs || fail "the socket on dst is not connected to dst's server"
wl_check dst dgsrv || fail "dst's server did not receive the workload's datagram"
