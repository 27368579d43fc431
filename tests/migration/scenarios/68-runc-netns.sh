# shellcheck shell=bash disable=SC2154
# A runc container's network namespace keeps its address. runc
# checkpoints with CRIU's --empty-ns net (its links and addresses do not
# move) and, at `runc restore`, runs the config's createRuntime hooks at
# CRIU's setup-namespaces to set the namespace up again, as at `runc run`:
# rc1's hook (net-hook, in its bundle, so phaul's sync carries it) gives it
# a veth, veth-rc1 on bridge br0 and eth0 inside at 10.99.1.20. Its
# memtouch (8 MiB) also answers TCP port 8080 with its counters
# (served=N ticks=T ...). phaul migrates rc1 to dst over tcp, then back to
# src over ssh. After each move: 10.99.1.20 answers on the new host only,
# with served one more than before and more ticks (the process that moved,
# its listening socket restored, not a new one); veth-rc1 is on that
# host's br0 and gone from the other; memtouch verifies every page.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/runc-lib.sh"

RUNC_IP=10.99.1.20
RUNC_PORT=8080

# rc1_ask ROLE: rc1's answer on port 8080, asked from ROLE's br0.
rc1_ask() {
	on_guest "$1" "nc -w 5 $RUNC_IP $RUNC_PORT </dev/null"
}

# rc1_answers ROLE SERVED: it answers there, and not from the other guest,
# with served=SERVED and more ticks than its last answer (TICKS): the
# memtouch that moved, its counters in its memory, not a new one. (Its
# host= is rc1's own hostname, the same on both guests.)
TICKS=0
rc1_answers() {
	local role=$1 other=src ans t
	[ "$role" = src ] && other=dst
	wait_until 20 "$RUNC_IP answering ping on $role" on_guest "$role" "ping -c 1 -W 1 $RUNC_IP >/dev/null" ||
		{ lxc_net_diag "$role"; fail "$RUNC_IP does not answer on $role"; }
	ans=$(rc1_ask "$role") || fail "no answer from $RUNC_IP:$RUNC_PORT on $role"
	note "$RUNC_IP:$RUNC_PORT on $role: $ans"
	case " $ans " in
	*" served=$2 "*) ;;
	*) fail "answer on $role is '$ans', wanted served=$2" ;;
	esac
	t=$(echo "$ans" | sed -n 's/.* ticks=\([0-9]*\) .*/\1/p')
	[ -n "$t" ] && [ "$t" -gt "$TICKS" ] || fail "ticks=$t on $role, not past $TICKS"
	TICKS=$t
	on_guest "$role" "/usr/sbin/ip -o link show master br0" | grep -q 'veth-rc1@' ||
		fail "veth-rc1 is not on $role's br0"
	# the old namespace (and its veth) goes once its last process is gone
	wait_until 10 "veth-rc1 gone from $other" \
		on_guest "$other" "! /usr/sbin/ip link show veth-rc1 >/dev/null 2>&1" ||
		fail "veth-rc1 left on $other"
	on_guest "$other" "! ping -c 1 -W 1 $RUNC_IP >/dev/null" || fail "$RUNC_IP still answers on $other"
}

# rc1_moved NAME JSON TO: the report and rc1 after a migration to TO.
rc1_moved() {
	local name=$1 json=$2 to=$3 from=src
	[ "$to" = src ] && from=dst
	grep -v '"event":"report"' "$json" | grep -v '"check"' | tail -3
	[ "$(runc_status "$to")" = running ] || fail "$name: rc1 on $to is $(runc_status "$to")"
	! runc_listed "$from" || fail "$name: rc1 still in runc list on $from"
	runc_progress "$to" || fail "$name: memtouch in rc1 does not run on $to"
	phaul_json_check "$json" "
assert rep['ok'] and rep['ct'] == 'runc:rc1', rep
print('$name: downtime_ms=%.0f restore_mode=%s' % (rep['downtime_us'] / 1000, rep['restore_mode']))
" || fail "$name: report check failed"
}

lxc_bridge src
lxc_bridge dst
# runc runs hooks with an empty environment: absolute paths only
on_src "mkdir -p $RUNC_DIR && cat >$RUNC_DIR/net-hook && chmod 755 $RUNC_DIR/net-hook" <<EOH
#!/bin/sh
# createRuntime hook of rc1: its state (JSON) on stdin names its init pid
pid=\$(/usr/bin/busybox sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
[ -n "\$pid" ] || exit 1
/usr/sbin/ip link add veth-rc1 type veth peer name eth0 netns "\$pid" &&
/usr/sbin/ip link set veth-rc1 master br0 up &&
/usr/bin/busybox nsenter -t "\$pid" -n /usr/sbin/ip addr add $RUNC_IP/24 dev eth0 &&
/usr/bin/busybox nsenter -t "\$pid" -n /usr/sbin/ip link set eth0 up
EOH
RUNC_CONFIG_EXTRA='.hooks.createRuntime = [{"path": "'$RUNC_DIR'/net-hook"}]'
runc_ct_create 8 "--serve $RUNC_PORT" || fail "rc1 did not start on src"
rc1_answers src 1

# there over tcp
phaul_tcp_agent
on_src "timeout 200 phaul -t tcp migrate --json --max-iterations 2 runc:$RUNC_CT $DST_IP" \
	>"$RESULT_DIR/migrate-tcp.json" ||
	{ cat "$RESULT_DIR/migrate-tcp.json"; phaul_logs; fail "phaul migrate over tcp failed"; }
phaul_logs
rc1_moved tcp "$RESULT_DIR/migrate-tcp.json" dst
rc1_answers dst 2
runc_wl_check dst || fail "memtouch verification in rc1 on dst failed"

# back over ssh (src's agent may sync below the bundles' dir too)
on_src "grep -q '^fs_root.*$RUNC_ROOT' /etc/phaul/phaul.conf 2>/dev/null ||
	printf '[agent]\nfs_root = $RUNC_ROOT\n' >>/etc/phaul/phaul.conf"
on_dst "timeout 200 phaul migrate --json --max-iterations 2 runc:$RUNC_CT root@src" \
	>"$RESULT_DIR/migrate-ssh.json" ||
	{ cat "$RESULT_DIR/migrate-ssh.json"; phaul_logs; fail "phaul migrate over ssh failed"; }
phaul_logs
rc1_moved ssh "$RESULT_DIR/migrate-ssh.json" src
rc1_answers src 3
runc_wl_check src || fail "memtouch verification in rc1 on src failed"
runc_ct_remove src
runc_ct_remove dst
