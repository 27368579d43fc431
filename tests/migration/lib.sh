# shellcheck shell=bash
# Library of the migration test harness: boot/teardown of the two guests and
# the functions scenarios use.  Sourced by `run`, `demo` and every scenario.
#
# Run state lives in $PHAUL_VM_DIR (keys, initrds, serial logs, vm.env with
# the ports and qemu pids), so a scenario running in its own bash process
# sees the guests the runner booted.

MIG_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_IP=10.99.0.1
DST_IP=10.99.0.2
# shellcheck disable=SC2034 # used by scenarios
MIG_IMAGES=/var/lib/mig   # CRIU image dirs on the guests
# shellcheck disable=SC2034
WL_DIR=/var/lib/wl        # workload state dirs on the guests
# shellcheck disable=SC2034
SCEN_LOG=/var/log/scenario # collected into results/<scenario>/{src,dst}/

if [ -n "${PHAUL_VM_DIR:-}" ] && [ -r "$PHAUL_VM_DIR/vm.env" ]; then
	# shellcheck disable=SC1091
	. "$PHAUL_VM_DIR/vm.env"
fi

note() { echo "[$(date +%T)] $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s until it
# succeeds; return 1 (with a message) when SECONDS have passed.
wait_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out after ${secs}s waiting for: $what" >&2
			return 1
		fi
		sleep 0.2
	done
}

# _ssh_opts PORT: ssh options for a guest (an array, so that paths with
# spaces survive): sets _SSH_OPTS.
_ssh_opts() {
	_SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=yes
		-o "UserKnownHostsFile=$PHAUL_VM_DIR/known_hosts"
		-o IdentitiesOnly=yes -i "$PHAUL_VM_DIR/keys/harness"
		-o ConnectTimeout=10 -o ServerAliveInterval=5
		-o ServerAliveCountMax=6 -o LogLevel=ERROR
		-o ControlMaster=auto -o ControlPersist=yes
		-o "ControlPath=$VM_CTL_DIR/%C" -o "Port=$1")
}

_port_of() {
	case $1 in
	src) echo "$SRC_SSH_PORT" ;;
	dst) echo "$DST_SSH_PORT" ;;
	*) echo "unknown guest $1" >&2; return 1 ;;
	esac
}

# on_guest src|dst CMD...: run CMD (a shell command line, as with ssh) as
# root in the guest; returns its exit status.  stdin is passed through.
on_guest() {
	local port
	port=$(_port_of "$1") || return 1
	shift
	_ssh_opts "$port"
	ssh "${_SSH_OPTS[@]}" root@127.0.0.1 -- "$@"
}
on_src() { on_guest src "$@"; }
on_dst() { on_guest dst "$@"; }

# to_src LOCAL... REMOTE / from_src REMOTE LOCAL (scp -r semantics)
_scp_to() {
	local port role=$1 dest
	port=$(_port_of "$role") || return 1
	shift
	dest=${*: -1}
	_ssh_opts "$port"
	scp -q -r "${_SSH_OPTS[@]}" "${@:1:$#-1}" "root@127.0.0.1:$dest"
}
_scp_from() {
	local port
	port=$(_port_of "$1") || return 1
	_ssh_opts "$port"
	scp -q -r "${_SSH_OPTS[@]}" "root@127.0.0.1:$2" "$3"
}
to_src() { _scp_to src "$@"; }
to_dst() { _scp_to dst "$@"; }
from_src() { _scp_from src "$@"; }
from_dst() { _scp_from dst "$@"; }

# ---- boot / teardown -------------------------------------------------------

_free_port() {
	local p used
	used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }')
	while :; do
		p=$((20000 + RANDOM % 40000))
		grep -qx "$p" <<<"$used" || { echo "$p"; return; }
	done
}

_qemu_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# ---- shared storage (virtiofs) ---------------------------------------------
#
# Both guests mount one host folder, $PHAUL_VM_DIR/shared, at /mnt/shared:
# one virtiofsd per guest serves it (a virtiofsd serves exactly one
# vhost-user connection), with cache=none so that each guest sees the other's
# writes at once.  vhost-user needs the guest RAM in a shareable memfd.
# PHAUL_VM_SHARED=0 boots without it.
VIRTIOFSD=${PHAUL_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}

_vm_shared() { [ "${PHAUL_VM_SHARED:-1}" != 0 ] && [ -x "$VIRTIOFSD" ]; }

# _start_virtiofsd ROLE: serve $PHAUL_VM_DIR/shared on a socket in
# $VM_CTL_DIR; prints the daemon's pid once the socket exists.
_start_virtiofsd() {
	local role=$1 sock=$VM_CTL_DIR/vfs-$1.sock pid
	rm -f "$sock"
	setsid "$VIRTIOFSD" --socket-path="$sock" -o source="$PHAUL_VM_DIR/shared" \
		-o cache=none -o log_level=warn \
		</dev/null >>"$PHAUL_VM_DIR/virtiofsd-$role.log" 2>&1 &
	pid=$!
	wait_until 10 "virtiofsd socket $sock" eval "[ -S '$sock' ] || ! kill -0 $pid 2>/dev/null" ||
		{ kill "$pid" 2>/dev/null; return 1; }
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "virtiofsd for $role exited; see $PHAUL_VM_DIR/virtiofsd-$role.log" >&2
		return 1
	fi
	echo "$pid"
}

# _stop_pid PID COMM: TERM, then KILL after 3 s, the helper daemon PID if
# it still runs COMM (the pid may have been reused since it ended).
_stop_pid() {
	local pid=$1 i
	_qemu_alive "$pid" || return 0
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 0
	kill "$pid" 2>/dev/null
	for i in $(seq 30); do
		_qemu_alive "$pid" || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

# _start_qemu ROLE NETDEV-SOCKET-ARG SSH-PORT: start one guest in the
# background; prints the qemu pid.
_start_qemu() {
	local role=$1 sock=$2 port=$3 n fwd='' mem=${PHAUL_VM_MEM:-3072} vfs=()
	n=$([ "$role" = src ] && echo 1 || echo 2)
	# src reaches a phaul agent on the host at 10.0.2.100:7070 (inetd mode,
	# one per connection; configured by $PHAUL_VM_DIR/host-agent.conf)
	[ "$role" = src ] &&
		fwd=",guestfwd=tcp:10.0.2.100:7070-cmd:/bin/sh -c 'exec $MIG_HERE/../../build/phaul -c $PHAUL_VM_DIR/host-agent.conf agent --inetd 2>>$PHAUL_VM_DIR/host-agent.log'"
	# shellcheck disable=SC2054 # commas belong to qemu's option syntax
	_vm_shared &&
		vfs=(-object "memory-backend-memfd,id=mem,size=${mem}M,share=on"
			-numa node,memdev=mem
			-chardev "socket,id=vfs,path=$VM_CTL_DIR/vfs-$role.sock"
			-device vhost-user-fs-pci,chardev=vfs,tag=shared)
	echo "=== boot $(date -u +%FT%TZ) ===" >>"$PHAUL_VM_DIR/serial-$role.log"
	# apparmor=0: liblxc (lxc: scenarios) would want profiles the guests
	# cannot load, and CRIU would be asked to restore them
	setsid qemu-system-x86_64 -accel tcg -cpu max -smp 1 \
		-m "$mem" -nographic -no-reboot "${vfs[@]}" \
		-kernel "$PHAUL_VM_DIR/vmlinuz" -initrd "$PHAUL_VM_DIR/initrd-$role" \
		-append "console=ttyS0 panic=-1 quiet apparmor=0" \
		-netdev "socket,id=n0,$sock" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:99:00:0$n" \
		-netdev "user,id=c0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22$fwd" \
		-device "virtio-net-pci,netdev=c0,mac=52:54:00:c0:00:0$n" \
		</dev/null >>"$PHAUL_VM_DIR/serial-$role.log" 2>&1 &
	echo $!
}

_listening() { ss -Htln "sport = :$1" | grep -q .; }
_listening_or_dead() { _listening "$1" || ! _qemu_alive "$2"; }

_vm_boot_once() {
	local link
	link=$(_free_port)
	SRC_SSH_PORT=$(_free_port)
	DST_SSH_PORT=$(_free_port)
	while [ "$SRC_SSH_PORT" = "$DST_SSH_PORT" ] || [ "$link" = "$SRC_SSH_PORT" ] ||
		[ "$link" = "$DST_SSH_PORT" ]; do
		DST_SSH_PORT=$(_free_port)
	done
	{
		echo "[127.0.0.1]:$SRC_SSH_PORT $(cut -d' ' -f1,2 "$PHAUL_VM_DIR/keys/host-src.pub")"
		echo "[127.0.0.1]:$DST_SSH_PORT $(cut -d' ' -f1,2 "$PHAUL_VM_DIR/keys/host-dst.pub")"
	} >"$PHAUL_VM_DIR/known_hosts"

	if _vm_shared; then
		# a fresh shared folder each boot: nothing of an earlier run
		rm -rf "${PHAUL_VM_DIR:?}/shared"
		mkdir -p "$PHAUL_VM_DIR/shared"
		SRC_VFS_PID=$(_start_virtiofsd src) || return 1
		_vm_save_env
		DST_VFS_PID=$(_start_virtiofsd dst) || return 1
		_vm_save_env
	fi
	# dst listens on the link socket; src can only connect once it does
	DST_QEMU_PID=$(_start_qemu dst "listen=127.0.0.1:$link" "$DST_SSH_PORT")
	_vm_save_env
	wait_until 30 "dst qemu listening on $link" \
		_listening_or_dead "$link" "$DST_QEMU_PID" || return 1
	_qemu_alive "$DST_QEMU_PID" || { echo "dst qemu exited at start" >&2; return 1; }
	SRC_QEMU_PID=$(_start_qemu src "connect=127.0.0.1:$link" "$SRC_SSH_PORT")
	_vm_save_env
	vm_wait_ssh 180 && vm_sync_clocks >&2
}

_vm_save_env() {
	cat >"$PHAUL_VM_DIR/vm.env" <<-EOF
	SRC_SSH_PORT=${SRC_SSH_PORT:-}
	DST_SSH_PORT=${DST_SSH_PORT:-}
	SRC_QEMU_PID=${SRC_QEMU_PID:-}
	DST_QEMU_PID=${DST_QEMU_PID:-}
	SRC_VFS_PID=${SRC_VFS_PID:-}
	DST_VFS_PID=${DST_VFS_PID:-}
	VM_CTL_DIR=${VM_CTL_DIR:-}
	EOF
}

# vm_wait_ssh SECONDS: wait until both guests answer over ssh.
vm_wait_ssh() {
	local deadline=$((SECONDS + $1)) role pid
	for role in src dst; do
		until on_guest "$role" true 2>/dev/null </dev/null; do
			pid=$([ "$role" = src ] && echo "$SRC_QEMU_PID" || echo "$DST_QEMU_PID")
			if ! _qemu_alive "$pid"; then
				echo "$role qemu exited; see $PHAUL_VM_DIR/serial-$role.log" >&2
				return 1
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				echo "$role: no ssh after $1 s; see $PHAUL_VM_DIR/serial-$role.log" >&2
				return 1
			fi
			sleep 0.3
		done
	done
}

# vm_prepare DIR: build the images for a run into DIR (cached base).
vm_prepare() {
	PHAUL_VM_DIR=$1
	export PHAUL_VM_DIR
	mkdir -p "$PHAUL_VM_DIR"
	make -s -C "$MIG_HERE/workloads" >&2
	"$MIG_HERE/build-image.sh" guests "$PHAUL_VM_DIR" >&2
}

# vm_boot_pair: boot src and dst (images from vm_prepare), wait for ssh.
# Call vm_teardown from an EXIT/INT/TERM trap.
vm_boot_pair() {
	local try
	: "${PHAUL_VM_DIR:?vm_prepare first}"
	[ -n "${VM_CTL_DIR:-}" ] || VM_CTL_DIR=$(mktemp -d /tmp/phaulvm.XXXXXX)
	for try in 1 2 3; do
		if _vm_boot_once; then
			return 0
		fi
		echo "boot attempt $try failed" >&2
		vm_teardown
		VM_CTL_DIR=$(mktemp -d /tmp/phaulvm.XXXXXX)
	done
	return 1
}

_vm_stop_one() {
	local role=$1 pid=$2 port=$3 i
	_qemu_alive "$pid" || return 0
	_ssh_opts "$port"
	timeout 5 ssh "${_SSH_OPTS[@]}" root@127.0.0.1 'poweroff -f' \
		</dev/null >/dev/null 2>&1 &
	for i in $(seq 50); do
		_qemu_alive "$pid" || break
		sleep 0.1
	done
	if _qemu_alive "$pid"; then
		kill "$pid" 2>/dev/null
		for i in $(seq 30); do
			_qemu_alive "$pid" || break
			sleep 0.1
		done
		_qemu_alive "$pid" && kill -9 "$pid" 2>/dev/null
	fi
	return 0
}

# vm_teardown: power both guests off (kill qemu if that does not work) and
# stop the ssh control masters.  Safe to call more than once.
vm_teardown() {
	local p
	[ -n "${PHAUL_VM_DIR:-}" ] || return 0
	_vm_stop_one src "${SRC_QEMU_PID:-}" "${SRC_SSH_PORT:-0}" &
	_vm_stop_one dst "${DST_QEMU_PID:-}" "${DST_SSH_PORT:-0}" &
	wait
	# virtiofsd ends when its qemu goes; make sure of it
	_stop_pid "${SRC_VFS_PID:-}" virtiofsd &
	_stop_pid "${DST_VFS_PID:-}" virtiofsd &
	wait
	for p in "${SRC_SSH_PORT:-}" "${DST_SSH_PORT:-}"; do
		if [ -z "$p" ] || [ -z "${VM_CTL_DIR:-}" ]; then continue; fi
		_ssh_opts "$p"
		ssh "${_SSH_OPTS[@]}" -O exit root@127.0.0.1 >/dev/null 2>&1 || true
	done
	[ -n "${VM_CTL_DIR:-}" ] && rm -rf "$VM_CTL_DIR"
	SRC_QEMU_PID='' DST_QEMU_PID='' SRC_VFS_PID='' DST_VFS_PID='' VM_CTL_DIR=''
	_vm_save_env
	return 0
}

# vm_sync_clocks: step dst's clock to src's over the link (timesync.c), so
# that a workload's gap across a migration is its downtime.
vm_sync_clocks() {
	on_src 'setsid timesync serve 5998 </dev/null >/dev/null 2>&1 &' &&
		wait_until 10 "timesync on src" on_src 'netstat -lun | grep -q ":5998 "' &&
		on_dst "timesync sync $SRC_IP 5998"
}

# vm_alive: both guests answer a trivial command within 20 s.
vm_alive() {
	timeout 20 bash -c "source '$MIG_HERE/lib.sh'; on_src true && on_dst true" \
		</dev/null >/dev/null 2>&1
}

# vm_clean: kill leftover workloads and empty scratch dirs on both guests
# (both at once: each guest has its own CPU), resync the clocks (TCG guests
# drift apart); reboot the pair when a guest does not answer.
vm_clean() {
	if vm_alive &&
		timeout 30 bash -c "source '$MIG_HERE/lib.sh'; on_src guest-clean & s=\$!;
			on_dst guest-clean && wait \$s" </dev/null >/dev/null 2>&1 &&
		timeout 30 bash -c "source '$MIG_HERE/lib.sh'; vm_sync_clocks" </dev/null >/dev/null 2>&1; then
		return 0
	fi
	echo "guests unresponsive; rebooting the pair" >&2
	vm_teardown
	vm_boot_pair
}

# ---- link shaping ----------------------------------------------------------

# link_shape RATE DELAY: shape the link NIC on both guests (e.g. 100mbit
# 5ms): netem adds DELAY, tbf below it limits to RATE.
link_shape() {
	local rate=$1 delay=$2 cmd
	cmd=". /etc/guest.conf; /usr/sbin/tc qdisc del dev \$LINK_IF root 2>/dev/null;
	/usr/sbin/tc qdisc add dev \$LINK_IF root handle 1: netem delay $delay &&
	/usr/sbin/tc qdisc add dev \$LINK_IF parent 1:1 handle 10: tbf rate $rate burst 64kb latency 100ms"
	on_src "$cmd" && on_dst "$cmd"
}

link_unshape() {
	# shellcheck disable=SC2016 # expanded in the guest
	local cmd='. /etc/guest.conf; /usr/sbin/tc qdisc del dev $LINK_IF root 2>/dev/null; true'
	on_src "$cmd" && on_dst "$cmd"
}

# link_measure [MIB]: send MIB (default 32) MiB src -> dst over the link
# (linkbench); prints "link: N MiB in S s = R MiB/s" as timed by dst.
link_measure() {
	local mib=${1:-32} r
	on_dst 'rm -f /tmp/.lm; setsid linkbench recv 5999 /tmp/.lm </dev/null >/dev/null 2>&1 &'
	wait_until 10 "linkbench listening on dst" on_dst 'netstat -ltn | grep -q ":5999 "' || return 1
	on_src "linkbench send $DST_IP 5999 $mib" || return 1
	wait_until 120 "linkbench on dst finished" on_dst 'test -s /tmp/.lm' || return 1
	r=$(on_dst 'cat /tmp/.lm')
	awk -v r="$r" -v m="$mib" 'BEGIN {
		split(r, f, /[ =]/)
		if (f[2] != m * 1048576) { print "link: short transfer: " r; exit 1 }
		printf "link: %d MiB in %.2f s = %.1f MiB/s\n", m, f[4], f[6] }'
}

# ---- workloads -------------------------------------------------------------

# Workloads live in $WL_DIR/NAME on a guest: pid, progress, check, result.
# wl_start ROLE NAME CMD ARGS...: start a workload daemon.  Its pid is taken
# from a high range so that it is still free on the other guest at restore.
wl_start() {
	local role=$1 name=$2
	shift 2
	on_guest "$role" "mkdir -p $WL_DIR/$name && cd $WL_DIR/$name &&
		echo \$((20000 + \$\$ % 9000)) >/proc/sys/kernel/ns_last_pid &&
		$* --pid-file $WL_DIR/$name/pid --progress-file $WL_DIR/$name/progress \
		   --check-file $WL_DIR/$name/check --result $WL_DIR/$name/result \
		   --log $SCEN_LOG/$name.log"
	on_guest "$role" "cat $WL_DIR/$name/pid"
}

# wl_progress ROLE NAME: print the workload's progress line.
wl_progress() { on_guest "$1" "cat $WL_DIR/$2/progress"; }

# wl_check ROLE NAME [SECONDS]: ask the workload to verify itself, wait for
# its verdict, print it; returns 0 on PASS.
wl_check() {
	local role=$1 name=$2 secs=${3:-60} res
	on_guest "$role" "rm -f $WL_DIR/$name/result; touch $WL_DIR/$name/check"
	wait_until "$secs" "$name verdict on $role" \
		on_guest "$role" "test -s $WL_DIR/$name/result" || return 1
	res=$(on_guest "$role" "cat $WL_DIR/$name/result")
	echo "$name on $role: $res"
	[ "${res#PASS}" != "$res" ]
}

# ---- raw CRIU migration (no phaul) ---------------------------------------

# criu_raw_migrate PID PREDUMPS SYNC_DIR: migrate the tree rooted at PID from
# src to dst with plain CRIU: PREDUMPS pre-dump iterations then the final
# dump, each streamed to its own page-server on dst (images dir N, parent
# N-1); then copy the other image files and SYNC_DIR (the workload's files)
# to dst and restore there.  CRIU logs end up in $SCEN_LOG on both guests.
# With MIG_STATS set to a host file, appends "STEP N PAGES SECONDS" lines.
# A function mig_before_dump, if the caller defines one, runs right before
# the final dump.
criu_raw_migrate() {
	local pid=$1 n=$2 sync=$3 i port=27000 prev what t0 t1 bytes secs
	# open the src -> dst ssh connection now, not during the downtime
	on_src "ssh dst true" || return 1
	[ "${MIG_DEBUG:-0}" = 1 ] && note "src -> dst ssh connection up"
	for i in $(seq 1 $((n + 1))); do
		prev=
		[ "$i" -gt 1 ] && prev="--prev-images-dir ../$((i - 1))"
		what=$([ "$i" -le "$n" ] && echo pre-dump || echo dump)
		on_src "mkdir -p $MIG_IMAGES/$i"
		on_dst "mkdir -p $MIG_IMAGES/$i && cd $MIG_IMAGES/$i &&
			setsid criu page-server --images-dir $MIG_IMAGES/$i $prev \
			--port $port -o page-server-$i.log -v4 </dev/null >/dev/null 2>&1 &
			n=0; while ! netstat -ltn | grep -q ':$port '; do
				n=\$((n + 1)); [ \$n -lt 200 ] || exit 1; usleep 50000; done" ||
			fail "page-server $i did not start on dst"
		[ "${MIG_DEBUG:-0}" = 1 ] && note "page-server $i listening"
		if [ "$what" = dump ] && declare -F mig_before_dump >/dev/null; then
			mig_before_dump || return 1
		fi
		t0=$(date +%s.%N)
		on_src "criu $what -t $pid -D $MIG_IMAGES/$i $prev --track-mem \
			--page-server --address $DST_IP --port $port \
			-o $what-$i.log -v4" ||
			{ on_src "tail -20 $MIG_IMAGES/$i/$what-$i.log" >&2; _criu_logs; return 1; }
		t1=$(date +%s.%N)
		bytes=$(on_dst "stat -c %s $MIG_IMAGES/$i/pages-*.img | awk '{ s += \$1 } END { print s + 0 }'")
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		note "$what $i: $secs s, $(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') of pages on dst"
		echo "$what $i $((bytes / 4096)) $secs" >>"${MIG_STATS:-/dev/null}"
		port=$((port + 1))
	done
	# While the tree is gone from src: its files and the other images go
	# to dst and it is restored there, in one go from src to keep the
	# downtime down.  (The page-server has written everything once the
	# dump returns: the dump waits for its answer to the final flush.)
	t0=$(date +%s.%N)
	on_src "rsync -a $sync/ dst:$sync/ &&
		tar cf - -C $MIG_IMAGES/$i . | ssh dst 'tar xf - -C $MIG_IMAGES/$i &&
		criu restore -d -D $MIG_IMAGES/$i -o restore.log -v4'" ||
		{ on_dst "tail -30 $MIG_IMAGES/$i/restore.log" >&2; _criu_logs; return 1; }
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	note "copy + restore: $secs s"
	echo "copy+restore - - $secs" >>"${MIG_STATS:-/dev/null}"
	_criu_logs
}

_criu_logs() {
	on_src "cp $MIG_IMAGES/*/*.log $SCEN_LOG/ 2>/dev/null; true"
	on_dst "cp $MIG_IMAGES/*/*.log $SCEN_LOG/ 2>/dev/null; true"
}

# wl_redis_start KVDIR: redis-server on src (data in $WL_DIR/redis, pid from
# the high range like wl_start) and kvclient writing to it, logging every
# acknowledged write to KVDIR/acks until KVDIR/stop appears; returns once
# 100 writes are acknowledged. Prints redis-server's pid.
wl_redis_start() {
	local kv=$1
	# a stop file left by an earlier scenario would end the client at once
	on_src "rm -rf $kv && mkdir -p $WL_DIR/redis $kv &&
		echo \$((20000 + \$\$ % 9000)) >/proc/sys/kernel/ns_last_pid &&
		redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize yes --pidfile $WL_DIR/redis/pid --dir $WL_DIR/redis \
			--logfile $SCEN_LOG/redis.log" >&2
	wait_until 20 "redis answering" on_src "redis-cli -p 6379 ping | grep -q PONG" >&2 ||
		return 1
	on_src "kvclient write --port 6379 --log $kv/acks --rate 200 --stop-file $kv/stop" >&2
	wait_until 30 "100 acknowledged writes" on_src "[ \$(wc -l <$kv/acks) -ge 100 ]" >&2 ||
		return 1
	on_src "cat $WL_DIR/redis/pid"
}

# wl_redis_check_dst KV: redis runs on dst (after a migration), holds every
# write the client had acknowledged on src (KV/acks) and takes new ones;
# fails the scenario otherwise.
wl_redis_check_dst() {
	local kv=$1 res
	on_dst "mkdir -p $kv" && on_src "cat $kv/acks" | on_dst "cat >$kv/acks"
	res=$(on_dst "kvclient verify --port 6379 --log $kv/acks") || true
	echo "verify on dst: $res"
	[ "${res#PASS}" != "$res" ] || fail "redis on dst: $res"
	on_dst "redis-cli -p 6379 set after-migration yes >/dev/null &&
		redis-cli -p 6379 get after-migration | grep -qx yes" ||
		fail "redis on dst does not take writes"
	echo "redis on dst: $(on_dst 'redis-cli -p 6379 dbsize') keys, takes writes"
}
