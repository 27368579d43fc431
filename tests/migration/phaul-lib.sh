# shellcheck shell=bash
# Helpers for scenarios that run phaul itself (sourced after lib.sh).

# phaul_logs: copy phaul's work dirs (CRIU logs, stats) of both guests into
# the scenario's results.
phaul_logs() {
	local role
	for role in src dst; do
		on_guest "$role" "mkdir -p $SCEN_LOG/phaul && for f in /var/lib/phaul/*/*/*.log; do
			[ -e \"\$f\" ] && cp \"\$f\" $SCEN_LOG/phaul/\$(echo \"\$f\" | tr / _); done; true"
	done
}

# phaul_json_check FILE PYTHON-ASSERTIONS: run assertions over the events of
# a --json run: `ev` (all events), `rep` (the report), `its` (pre-copy
# iterations), `fin` (the final iteration or None).
phaul_json_check() {
	local file=$1
	shift
	python3 - "$file" "$*" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rep = [e for e in ev if e["event"] == "report"][-1]
its = [e for e in ev if e["event"] == "iteration" and not e["final"]]
fin = next((e for e in ev if e["event"] == "iteration" and e["final"]), None)
exec(sys.argv[2])
PY
}

# phaul_hybrid_checked JSON SPEC: a --mode hybrid migration of SPEC whose
# --json output is in JSON pre-copied at least once, switched to post-copy
# without throttling (the report saying after which iteration and why),
# ended its post-copy with every page on dst, and dst's agent answered
# over 1000 pages from its flat store (only the dirty rest came from src).
phaul_hybrid_checked() {
	local line local
	phaul_json_check "$1" '
assert rep["ok"] and rep["exit_code"] == 0 and rep["ct"] == "'"$2"'", rep
assert len(its) >= 1, "no pre-copy iteration before the switch"
assert rep["throttle_pct"] == 0, "hybrid throttled: %d%%" % rep["throttle_pct"]
sw = rep.get("postcopy_switch", "")
assert sw.startswith("after iteration %d:" % len(its)), sw
assert "dirty rate" in sw and "on the link" in sw, sw
hyb = [e for e in ev if e["event"] == "phase" and e["phase"] == "hybrid"]
assert hyb and "switching to post-copy" in hyb[0]["msg"], hyb
pc = [e for e in ev if e["event"] == "postcopy"]
assert pc and pc[0]["state"] == "running", pc
assert pc[-1]["state"] == "done", pc[-1]
assert rep["restore_mode"] == "lazy" and rep["memory_complete"], rep
assert rep["lazy_pages_missing"] == 0, rep
print("pre-copy iterations=%d, %s" % (len(its), sw))
print("post-copy: first event %d pages on src; downtime_ms=%.0f total_s=%.1f"
      % (pc[0]["pages_left"], rep["downtime_us"] / 1e3, rep["total_us"] / 1e6))
' || { echo "hybrid report check failed"; return 1; }
	line=$(on_dst "grep -h 'hybrid: ' $SCEN_LOG/agent-tcp.log | tail -1")
	note "dst: $line"
	local=$(echo "$line" | sed -n 's/.*hybrid: \([0-9]*\) pages pre-copied.*/\1/p')
	[ "${local:-0}" -gt 1000 ] || { echo "dst answered too few pages from its flat store: $line"; return 1; }
}

# phaul_fs_root: let dst's agent fs-sync below the workloads' state dirs,
# the shared folder and LXC's lxcpath (fs_root is empty by default: every
# fs-sync refused). Every scenario that syncs (--sync, lxc:) calls it first.
phaul_fs_root() {
	on_dst "grep -q '^fs_root' /etc/phaul/phaul.conf 2>/dev/null ||
		printf '[agent]\nfs_root = $WL_DIR /mnt/shared /var/lib/lxc\n' >>/etc/phaul/phaul.conf"
}

# phaul_fs_root_add DIR: let dst's agent fs-sync below DIR too (a CT
# type's directories: runc bundles, podman exports); DIR created there.
# The standard set comes first, so that a later scenario's phaul_fs_root
# (which keeps any fs_root line) still finds its directories there.
phaul_fs_root_add() {
	phaul_fs_root
	on_dst "grep -q '^fs_root.*$1' /etc/phaul/phaul.conf 2>/dev/null ||
		sed -i 's|^fs_root = .*|& $1|' /etc/phaul/phaul.conf; mkdir -p $1"
}

# ct_rootfs_cmds DIR MIB [ARGS]: shell commands that make a busybox-static
# rootfs in DIR whose /init starts memtouch of MIB MiB (state in /wl; ARGS
# added to its options) with the container's own /dev/null as stdio, then
# sleeps as its pid 1.
ct_rootfs_cmds() {
	local r=$1 mib=$2 args=${3:-}
	cat <<-EOS
	mkdir -p $r/bin $r/dev $r/proc $r/sys $r/tmp $r/wl $r/etc
	cp /usr/bin/busybox /usr/local/bin/memtouch $r/bin/
	for a in sh sleep cat; do ln -s busybox $r/bin/\$a; done
	echo 'root:x:0:0:root:/:/bin/sh' >$r/etc/passwd
	printf '%s\n' '#!/bin/sh' 'exec </dev/null >/dev/null 2>&1' \
		'/bin/memtouch --mib $mib --rate 300 --pid-file /wl/pid --progress-file /wl/progress --check-file /wl/check --result /wl/result --log /wl/log $args' \
		'exec /bin/sleep 2147483647' >$r/init
	chmod 755 $r/init
	EOS
}

# phaul_ct_id_refused SPEC: with SPEC running on both guests, a migration
# of it from src is refused before anything moves (exit 3) by the ct-id
# check, naming the host and both values.
phaul_ct_id_refused() {
	local rc
	on_src "phaul -t tcp migrate $1 $DST_IP >$SCEN_LOG/refused.out 2>&1; echo \$? >$SCEN_LOG/refused.rc"
	rc=$(on_src "cat $SCEN_LOG/refused.rc")
	on_src "grep -i 'check' $SCEN_LOG/refused.out | tail -3"
	[ "$rc" = 3 ] || fail "refusal: phaul exit code $rc, wanted 3 (refused)"
	on_src "grep \"check 'ct-id' failed: $1 exists on \" $SCEN_LOG/refused.out | grep -q TAKEN" ||
		fail "refusal: no ct-id refusal with both values"
}

# phaul_tcp_agent [OPTIONS...]: a shared secret on both guests and a tcp
# agent (`phaul OPTIONS agent`) on dst listening on the link; prints
# nothing. Uses port 7070.
phaul_tcp_agent() {
	on_src "mkdir -p /etc/phaul && head -c 32 /dev/urandom | base64 >/etc/phaul/secret &&
		chmod 600 /etc/phaul/secret"
	on_src "cat /etc/phaul/secret" | on_dst "mkdir -p /etc/phaul && cat >/etc/phaul/secret &&
		chmod 600 /etc/phaul/secret"
	# an agent left by an earlier scenario holds the port and the old secret
	on_dst "kill \$(cat /run/phaul-tcp-agent.pid 2>/dev/null) 2>/dev/null; true"
	wait_until 10 "port 7070 free on dst" on_dst "! netstat -ltn | grep -q ':7070 '"
	on_dst "setsid phaul $* agent --listen $DST_IP:7070 </dev/null >>$SCEN_LOG/agent-tcp.log 2>&1 &
		echo \$! >/run/phaul-tcp-agent.pid"
	wait_until 10 "tcp agent listening on dst" on_dst "netstat -ltn | grep -q ':7070 '"
}

# phaul_fault_agent FAULT: the tcp agent on dst (see phaul_tcp_agent)
# restarted with PHAUL_FAULT_COMMIT=FAULT armed ("" for none).
phaul_fault_agent() {
	on_dst "kill \$(cat /run/phaul-tcp-agent.pid 2>/dev/null) 2>/dev/null; true"
	wait_until 10 "port 7070 free on dst" on_dst "! netstat -ltn | grep -q ':7070 '"
	on_dst "PHAUL_FAULT_COMMIT=$1 setsid phaul agent --listen $DST_IP:7070 </dev/null \
		>>$SCEN_LOG/agent-tcp.log 2>&1 & echo \$! >/run/phaul-tcp-agent.pid"
	wait_until 10 "tcp agent listening on dst" on_dst "netstat -ltn | grep -q ':7070 '"
}

# ticks ROLE FILE: the tick count in a workload's progress FILE there.
ticks() {
	on_guest "$1" "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $2"
}

# ticking ROLE FILE: the workload of progress FILE ticks there (within 10 s).
ticking() {
	local t
	t=$(ticks "$1" "$2")
	wait_until 10 "ticks in $2 on $1" on_guest "$1" \
		"[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $2) -gt ${t:-0} ]"
}

# still ROLE FILE: no tick in FILE there for 3 s (the workload is stopped
# or gone; it ticks every 10 ms when it runs).
still() {
	local t
	t=$(ticks "$1" "$2")
	sleep 3
	[ "$(ticks "$1" "$2")" = "$t" ]
}

# ct_commit_faults SPEC DIR ABSENT POINTS: the commit under faults (as in
# 48-commit-faults) for a container whose memtouch keeps its state in
# DIR/rootfs/wl on each guest. For each FAULT:SIDE:EXIT of POINTS, SPEC is
# migrated with PHAUL_FAULT_COMMIT=FAULT on both hosts and phaul must exit
# EXIT; before `phaul recover` the workload must not run on dst (held
# stopped there) nor on both; after it, it runs on SIDE, ABSENT OTHER
# (a function) says the other host holds no copy, and it verifies on SIDE.
# A point that leaves the container on dst must come last.
ct_commit_faults() {
	local spec=$1 dir=$2 absent=$3 points=$4 p point side want rc rrc other n=0
	local prog=$dir/rootfs/wl/progress
	for p in $points; do
		IFS=: read -r point side want <<<"$p"
		n=$((n + 1))
		phaul_fault_agent "$point"
		rc=0
		# one pre-dump: what comes before the commit is not under test
		on_src "PHAUL_FAULT_COMMIT=$point phaul -t tcp migrate --json --max-iterations 1 $spec $DST_IP" \
			>"$RESULT_DIR/$n.json" 2>"$RESULT_DIR/$n.err" || rc=$?
		[ "$rc" = "$want" ] || { tail -5 "$RESULT_DIR/$n.err"; phaul_logs; fail "$point: phaul exit $rc, wanted $want"; }
		# the answer was lost before Go: dst holds its copy stopped
		on_dst "p=\$(sed -n 's/^pid=//p' /var/lib/phaul/mig-in-* 2>/dev/null | tail -1);
			echo \"$point: dst holds pid \$p: \$(grep State /proc/\$p/status 2>&1)\""
		still dst "$prog" || fail "$point: $spec runs on dst before phaul recover (not held stopped)"
		phaul_fault_agent ""
		rrc=0
		on_src "phaul -t tcp recover" >"$RESULT_DIR/$n.recover" 2>&1 || rrc=$?
		cat "$RESULT_DIR/$n.recover"
		[ "$rrc" = 0 ] || fail "$point: recover exit $rrc"
		other=src
		[ "$side" = src ] && other=dst
		ticking "$side" "$prog" || fail "$point: $spec does not run on $side after recover"
		"$absent" "$other" || fail "$point: a copy of $spec is left on $other"
		LXC_DIR=$dir lxc_wl_check "$side" || fail "$point: verification on $side failed"
		on_src "! ls /var/lib/phaul/mig-out-* 2>/dev/null" || fail "$point: a source record is left"
		note "$point: one copy, on $side, verified (phaul exit $rc)"
	done
}

# phaul_gone ROLE PID: the process is gone from the guest (a zombie waiting
# for the guest's init to reap it counts as gone: it runs no more code).
phaul_gone() {
	on_guest "$1" "! grep -q '^State:[[:space:]]*[^Z]' /proc/$2/status 2>/dev/null" || {
		on_guest "$1" "head -3 /proc/$2/status" >&2
		return 1
	}
}

# phaul_refused PID WANT [MIGRATE-OPTIONS...]: `phaul -t tcp migrate` of
# pid:PID to dst (a tcp agent must run there) must fail, its output must
# contain WANT (the option or reason it names), and PID must still run on
# src afterwards. Prints phaul's error line.
phaul_refused() {
	local pid=$1 want=$2 out
	shift 2
	if out=$(on_src "phaul -t tcp migrate $* pid:$pid $DST_IP" 2>&1); then
		echo "$out"
		fail "migrate $* of $pid succeeded; expected a refusal naming '$want'"
	fi
	echo "$out" | grep -E 'error|FAIL' | head -3
	echo "$out" | grep -qF -- "$want" || { echo "$out"; fail "the refusal does not name '$want'"; }
	on_src "grep -q '^State:[[:space:]]*[^Z]' /proc/$pid/status" || fail "$pid did not survive the refusal"
}

# phaul_bg NAME ARGS...: start `phaul ARGS` on src in the background; its
# JSON output goes to $SCEN_LOG/NAME.json, its exit code to NAME.rc.
phaul_bg() {
	local name=$1
	shift
	on_src "rm -f $SCEN_LOG/$name.rc; (phaul $*; echo \$? >$SCEN_LOG/$name.rc) \
		</dev/null >$SCEN_LOG/$name.json 2>$SCEN_LOG/$name.err & echo \$! >$SCEN_LOG/$name.sh.pid"
}

# phaul_bg_wait NAME SECONDS: wait for it to end; prints its exit code.
phaul_bg_wait() {
	wait_until "$2" "phaul $1 to finish" on_src "test -s $SCEN_LOG/$1.rc" >&2 || return 1
	on_src "cat $SCEN_LOG/$1.rc"
}

# gpgrep ROLE ERE: pids of the guest's processes whose command line (argv
# joined by spaces) matches ERE (busybox has no pgrep here).
gpgrep() {
	on_guest "$1" "ps -o pid,args | awk 'NR > 1 { p = \$1; sub(/^ *[0-9]+ +/, \"\");
		if (\$0 ~ /$2/) print p }'"
}

# phaul_wait_pages NAME: the migration NAME is in pre-copy and the pages of
# its first iteration arrive in dst's flat store.
phaul_wait_pages() {
	wait_until 60 "pre-copy started" on_src "grep -q '\"precopy\"' $SCEN_LOG/$1.json"
	wait_until 30 "pages arriving on dst" on_dst "ls /var/lib/phaul/in-*/img/pages-*.img"
}

# phaul_dst_dropped_images: what dst received is gone; only CRIU's logs stay
# (an in-* dir marked .logs-only holding *.log files and nothing else).
phaul_dst_dropped_images() {
	on_dst 'for d in /var/lib/phaul/in-*; do
		[ -e "$d" ] || continue
		[ -e "$d/.logs-only" ] || exit 1
		! find "$d" -type f ! -name "*.log" ! -name .logs-only | grep -q . || exit 1
	done'
}

# phaul_rolled_back NAME RC PID WL: the migration failed with "rolled back"
# (exit 4) and the workload runs on src, unfrozen, and verifies itself.
phaul_rolled_back() {
	local name=$1 rc=$2 pid=$3 wl=$4 keep=${5:-} t
	on_src "cat $SCEN_LOG/$name.err" | tail -5
	[ "$rc" = 4 ] || fail "phaul exit code $rc, wanted 4 (rolled back)"
	on_src "tail -1 $SCEN_LOG/$name.json" | grep -q '"rolled_back":true' ||
		fail "report does not say rolled back"
	on_src "grep -q '^State:[[:space:]]*[RS]' /proc/$pid/status" ||
		fail "$wl $pid on src is not running: $(on_src "grep State /proc/$pid/status")"
	t=$(on_src "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $WL_DIR/$wl/progress")
	wait_until 20 "$wl on src still making progress" \
		on_src "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $WL_DIR/$wl/progress) -gt $t ]"
	wl_check src "$wl" 120 || fail "$wl verification on src failed"
	on_dst "! test -e /proc/$pid" || fail "a copy of $pid runs on dst"
	[ -n "$keep" ] || phaul_dst_dropped_images || fail "dst kept what it received"
}

# phaul_memtouch MIB TRANSPORT [MIGRATE-OPTIONS...]: migrate a memtouch of
# MIB MiB, dirtying pages all along, from src to dst over TRANSPORT (ssh or
# tcp) with `phaul migrate --json`; then assert: the source is gone, the
# workload runs on dst and verifies every page, the report shows more than
# one pre-copy iteration and a last one smaller than the first.
phaul_memtouch() {
	local mib=$1 transport=$2 pid target
	shift 2
	pid=$(wl_start src memtouch memtouch --mib "$mib" --rate 300)
	wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
	on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
	if [ "$transport" = tcp ]; then
		phaul_tcp_agent
		target=$DST_IP
	else
		target=root@dst
	fi
	on_src "phaul -t $transport migrate --json $* pid:$pid $target" >"$RESULT_DIR/migrate.json" ||
		{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
	phaul_memtouch_moved "$pid"
	phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"], rep
assert len(its) > 1, "only %d pre-copy iterations" % len(its)
assert its[-1]["pages"] < its[0]["pages"], (its[0]["pages"], its[-1]["pages"])
assert rep["restore_mode"] in ("lazy", "eager"), rep
assert rep["restore_mode"] == "eager" or rep["memory_complete"], rep
print("iterations=%d first=%d last=%d downtime_ms=%.0f predicted_ms=%.0f raw_MiB=%.1f wire_MiB=%.1f"
      % (len(its), its[0]["pages"], its[-1]["pages"], rep["downtime_us"] / 1e3,
         rep["predicted_downtime_us"] / 1e3, rep["raw_bytes"] / 2**20, rep["wire_bytes"] / 2**20))
print("restore=%s restore_ms=%.0f memory_complete_ms=%.0f lazy_pages=%d fault=%d background=%d store_io=%s"
      % (rep["restore_mode"], rep["restore_us"] / 1e3, rep["memory_complete_us"] / 1e3,
         rep["lazy_pages_total"], rep["lazy_pages_fault"], rep["lazy_pages_background"],
         rep["store_io"]))
' || fail "report does not show converging pre-copy"
	note "workload saw: $(on_dst "sed -n 's/.*\(migration_gap_ms=[0-9.]*\).*/\1/p' $WL_DIR/memtouch/progress")"
}

# phaul_memtouch_moved PID: after a migration with its events in
# $RESULT_DIR/migrate.json (shown but the report and the checks): memtouch
# PID is gone from src, ticks on dst and verifies every page there.
phaul_memtouch_moved() {
	grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"'
	phaul_gone src "$1" || fail "memtouch $1 still runs on src"
	wait_until 30 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
	wl_check dst memtouch 300 || fail "memtouch verification on dst failed"
}

# phaul_slow_precopy STEP_TIMEOUT: start a 64 MiB memtouch of incompressible
# pages on src and `phaul migrate` of it in the background (name "mig") at
# 4 MiB/s, so that its first pre-copy iteration takes about 16 s; return once
# that iteration's page server runs on dst. Sets MT_PID to the workload.
phaul_slow_precopy() {
	MT_PID=$(wl_start src memtouch memtouch --mib 64 --rate 300 --random)
	wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
	on_dst "mkdir -p $WL_DIR/memtouch"
	phaul_bg mig -o timeout="$1" migrate --json --no-compress --bwlimit 4M pid:"$MT_PID" root@dst
	phaul_wait_pages mig
}

# phaul_cpu_dirtier: a tcp agent on dst, the link shaped to 100 Mbit/s and,
# on src, a 32 MiB memtouch rewriting random pages as fast as its CPU lets
# it (--spin: its dirty rate follows its CPU share). Under TCG the guests'
# sealed tcp stream carries about 3-5 MB/s (700-1250 incompressible
# pages/s), not the shaped rate: the spin is set so that the dirtier alone
# rewrites the whole region within one pre-copy iteration (the unthrottled
# prediction, 8-12 s for 32 MiB, is well over the scenarios' 5 s limit), but
# a throttle near 80 % lets it converge. The region's size only scales each
# iteration's length: the dirtied fraction depends on the dirty rate against
# the link's, not on the size. A tick of this dirtier takes seconds (a burst
# of 10000 spun pages): the second tick is the first full one, and enough.
# Sets MT_PID and MT_HOME (its /proc/PID/cgroup line).
phaul_cpu_dirtier() {
	phaul_tcp_agent
	link_shape 100mbit 1ms
	MT_PID=$(wl_start src memtouch memtouch --mib 32 --rate 100000 --random --spin 60000)
	wait_until 60 "memtouch ticking" on_src "grep -Eq 'ticks=([2-9]|[1-9][0-9])' $WL_DIR/memtouch/progress"
	on_dst "mkdir -p $WL_DIR/memtouch"
	MT_HOME=$(on_src "cat /proc/$MT_PID/cgroup")
	note "memtouch $MT_PID in cgroup '${MT_HOME#0::}' on src; $(wl_progress src memtouch)"
}

# ---- LXC containers (lxc: scenarios) ----------------------------------------

# Container ct1: busybox and memtouch in a directory rootfs, its own network
# namespace with a veth on bridge br0 (10.99.1.1 on both guests, not joined
# to the link) at 10.99.1.10. Its /init starts memtouch (state in /wl of the
# rootfs) and then sleeps as the container's pid 1.
LXC_CT=ct1
LXC_DIR=/var/lib/lxc/$LXC_CT
LXC_IP=10.99.1.10

# lxc_bridge ROLE: br0 with 10.99.1.1/24 on the guest, the same MAC on both
# (a gateway the container finds at the same address after the move; its
# ARP cache travels with it).
lxc_bridge() {
	on_guest "$1" "ip link add br0 address 02:00:0a:63:01:01 type bridge &&
		ip addr add 10.99.1.1/24 dev br0 && ip link set br0 up"
}

# lxc_net_diag ROLE: the guest's and ct1's links and addresses (on failure).
lxc_net_diag() {
	on_guest "$1" "/usr/sbin/ip -d link show; /usr/sbin/ip addr show br0; /usr/sbin/ip neigh;
		lxc-attach -n $LXC_CT -- /bin/ip addr; lxc-attach -n $LXC_CT -- /bin/ip neigh" >&2 || true
}

# lxc_ct_create MIB: bridges on both guests, ct1 defined and started on src
# with a memtouch of MIB MiB; returns once memtouch ticks in it.
lxc_ct_create() {
	local mib=$1
	lxc_bridge src
	lxc_bridge dst
	on_src "set -e
		r=$LXC_DIR/rootfs
		mkdir -p \$r/bin \$r/dev \$r/proc \$r/sys \$r/tmp \$r/wl \$r/etc
		cp /usr/bin/busybox /usr/local/bin/memtouch \$r/bin/
		for a in sh sleep ip ping cat; do ln -s busybox \$r/bin/\$a; done
		mknod -m 666 \$r/dev/null c 1 3
		mknod -m 666 \$r/dev/zero c 1 5
		mknod -m 666 \$r/dev/urandom c 1 9
		echo 'root:x:0:0:root:/:/bin/sh' >\$r/etc/passwd
		printf '%s\n' '#!/bin/sh' 'exec </dev/null >/dev/null 2>&1' \
			'/bin/memtouch --mib $mib --rate 300 --pid-file /wl/pid --progress-file /wl/progress --check-file /wl/check --result /wl/result --log /wl/log' \
			'exec /bin/sleep 2147483647' >\$r/init
		chmod 755 \$r/init
		cat >$LXC_DIR/config <<-EOC
		lxc.uts.name = $LXC_CT
		lxc.rootfs.path = dir:$LXC_DIR/rootfs
		lxc.init.cmd = /init
		lxc.console.path = none
		lxc.tty.max = 0
		lxc.autodev = 0
		lxc.mount.auto = proc:rw
		lxc.net.0.type = veth
		lxc.net.0.link = br0
		lxc.net.0.flags = up
		lxc.net.0.name = eth0
		lxc.net.0.hwaddr = 02:00:0a:63:01:0a
		lxc.net.0.ipv4.address = $LXC_IP/24
		EOC
		lxc-start -n $LXC_CT -l INFO -o $SCEN_LOG/lxc-start.log" ||
		{ on_src "cat $SCEN_LOG/lxc-start.log" >&2; return 1; }
	wait_until 30 "memtouch ticking in $LXC_CT" \
		on_src "grep -q 'ticks=[1-9][0-9]' $LXC_DIR/rootfs/wl/progress"
}

# lxc_state ROLE: RUNNING, STOPPED, ... as lxc-info says, or NONE.
lxc_state() {
	on_guest "$1" "lxc-info -n $LXC_CT -s -H 2>/dev/null || echo NONE"
}

# ct_wl_check ROLE CT DIR: memtouch in container CT, its state in DIR
# there, verifies every page.
ct_wl_check() {
	local r=$3 res
	on_guest "$1" "rm -f $r/result; touch $r/check"
	wait_until 120 "memtouch verdict in $2 on $1" on_guest "$1" "test -s $r/result" ||
		return 1
	res=$(on_guest "$1" "cat $r/result")
	echo "memtouch in $2 on $1: $res"
	[ "${res#PASS}" != "$res" ]
}

# lxc_wl_check ROLE: memtouch in the container verifies every page.
lxc_wl_check() {
	ct_wl_check "$1" "$LXC_CT" "$LXC_DIR/rootfs/wl"
}

# lxc_rootfs_sums ROLE: md5 of every file in ct1's dir but the workload's.
lxc_rootfs_sums() {
	on_guest "$1" "cd $LXC_DIR && find . -type f ! -path './rootfs/wl/*' | sort | xargs md5sum"
}

# postcopy_link_cut TRANSPORT (tcp or ssh): scenario 67's body (see there).
postcopy_link_cut() {
local pid rc left
pid=$(wl_start src memtouch memtouch --mib 64 --rate 100 --random)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
if [ "$1" = tcp ]; then
	phaul_tcp_agent -o idle_timeout=3 -o postcopy_reconnect=60
	set -- -t tcp -o idle_timeout=3 -o postcopy_reconnect=60 "$DST_IP"
else
	# the agent sshd starts for each session reads these too
	set -- -t ssh -o idle_timeout=3 -o postcopy_reconnect=60 \
		-o "'agent_cmd=phaul -o idle_timeout=3 -o postcopy_reconnect=60 agent --stdio'" root@dst
fi
phaul_bg mig "${@:1:$#-1}" migrate --json --mode postcopy --no-compress --bwlimit 4M \
	pid:"$pid" "${@: -1}"
wait_until 120 "the CT running on dst in post-copy" \
	on_src "grep -q 'pages still on' $SCEN_LOG/mig.json" ||
	{ on_src "cat $SCEN_LOG/mig.json $SCEN_LOG/mig.err" | tail -20; fail "post-copy did not start"; }
sleep 2
on_dst ". /etc/guest.conf; ip link set \$LINK_IF down"
note "link down"
sleep 8
on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"
note "link up"
rc=$(phaul_bg_wait mig 150) || { on_src "tail -20 $SCEN_LOG/mig.err"; fail "phaul did not finish"; }
on_src "cat $SCEN_LOG/mig.json" >"$RESULT_DIR/migrate.json"
on_src "tail -5 $SCEN_LOG/mig.err"
[ "$rc" = 0 ] || { phaul_logs; fail "phaul exit code $rc, wanted 0 (the link came back)"; }
phaul_memtouch_moved "$pid"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
# the bytes of both links count: at least the pages (random, uncompressed)
assert rep["raw_bytes"] >= rep["lazy_pages_total"] * 4096, (rep["raw_bytes"], rep["lazy_pages_total"])
st = [e["state"] for e in ev if e["event"] == "postcopy"]
assert "reconnecting" in st, st
r = st.index("reconnecting")
assert "running" in st[r:] and st[-1] == "done", st
pc = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "post-copy"]
assert any("link lost, reconnecting" in m for m in pc), pc
assert any("back after" in m for m in pc) and any("every page on" in m for m in pc), pc
print("\n".join(pc))
print("downtime_ms=%.0f total_ms=%.0f lazy_pages=%d memory_complete_ms=%.0f raw_mib=%.1f"
      % (rep["downtime_us"] / 1e3, rep["total_us"] / 1e3, rep["lazy_pages_total"],
         rep["memory_complete_us"] / 1e3, rep["raw_bytes"] / 1048576))
' || fail "the post-copy report does not show the reconnect"
# tcp: the listening agent's log; ssh: each session's own
on_dst "cat $SCEN_LOG/agent-tcp.log /var/lib/phaul/runs/in-*/agent.log 2>/dev/null | grep resumed" ||
	{ phaul_logs; fail "dst's agent log does not say it resumed"; }
left=$(gpgrep src "^(\/usr\/sbin\/)?criu ")
[ -z "$left" ] || fail "criu processes left on src: $left"
phaul_gone src "$pid" || fail "memtouch $pid runs on src again"
}
