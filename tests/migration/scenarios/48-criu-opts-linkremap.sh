# shellcheck shell=bash disable=SC2154
# Open files whose name is gone (issue 16).
# - inotify watching an unlinked (still open) file: CRIU 3.17 cannot dump
#   it whatever the options (fsnotify.c: "Can't find suitable path for
#   handle" on tmpfs, also with --link-remap): refused before the freeze
#   saying so; past that check, CRIU's failure explained the same way.
# - a file open under a removed name with another hard link left: refused
#   naming --link-remap; migrated with --link-remap --sync DIR, and on dst
#   the open file is the same inode as the remaining name, content intact.

. "$MIG_HERE/phaul-lib.sh"
di=$WL_DIR/watched
dl=$WL_DIR/relinked
on_src "mkdir -p $di $dl"
on_dst "mkdir -p $di $dl $WL_DIR/fileobjs $SCEN_LOG"
ino=$(wl_start src ino fileobjs --mode inotify --size 4096 --dir "$di")
phaul_fs_root
phaul_tcp_agent
phaul_refused "$ino" "cannot migrate it whatever the options" --link-remap --sync "$di"
phaul_refused "$ino" "inotify/fanotify watch is on a file with no name" --force ct-files \
	--link-remap --sync "$di"
wl_check src ino || fail "inotify workload broken on src by the refused dump"

pid=$(wl_start src fileobjs fileobjs --mode linkremap --size 65536 --dir "$dl")
phaul_refused "$pid" "--link-remap ([criu] link_remap)" --sync "$dl"
on_src "phaul -t tcp migrate --link-remap --sync $dl pid:$pid $DST_IP" ||
	{ phaul_logs; fail "migrate --link-remap failed"; }
phaul_gone src "$pid" || fail "fileobjs $pid still runs on src"
wait_until 30 "fileobjs ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/fileobjs/progress"
wl_check dst fileobjs || fail "the relinked file is not itself on dst"
note "left in $dl: src: $(on_src "ls $dl" | tr '\n' ' ') dst: $(on_dst "ls $dl" | tr '\n' ' ')"
