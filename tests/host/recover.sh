#!/bin/bash
# `phaul recover` end to end on loopback: a real source (`phaul recover`)
# and a real agent (`phaul agent --listen`), each with its own work dir and
# a migration record as a crashed or cut-off `phaul migrate` leaves them
# (phaul/mrec.h). The "CT" on either side is a real process tree: on the
# destination stopped (SIGSTOP), as the agent holds a restored CT. Checks
# that, whatever the records say, exactly one copy runs afterwards and that
# recover is idempotent. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=recover
KILL_SIG=KILL # the destination's "CT" is stopped: only KILL ends it
. tests/lib.sh

# A process tree (a shell and its sleep child) standing for a CT.
ct_tree() {
	setsid sh -c 'sleep 300 & wait' </dev/null >/dev/null 2>&1 &
	local p=$!
	pids+=($p)
	for _ in $(seq 50); do [ -n "$(cat /proc/$p/task/*/children 2>/dev/null)" ] && break; sleep 0.05; done
	echo "$p"
}
child_of() { cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1}'; }
state() { [ -r /proc/"$1"/stat ] && sed 's/.*) //' /proc/"$1"/stat | cut -d' ' -f1 || echo gone; }
start_time() { sed 's/.*) //' /proc/"$1"/stat | cut -d' ' -f20; }
# wait until pid has state S (running/sleeping) or T (stopped) or gone
wait_state() {
	local i
	for i in $(seq 50); do
		[[ "$(state "$1")" =~ ^($2)$ ]] && return 0
		sleep 0.1
	done
	return 1
}

src_rec() { # ID PHASE PID [START]
	cat >"$T/src/mig-out-$1" <<EOR
id=$1
side=source
state=$2
ct=pid:$3
peer=127.0.0.1:$port
transport=tcp
pid=$3
start=${4:-$(start_time "$3" 2>/dev/null || echo 1)}
EOR
}
dst_rec() { # ID STATE PID [START]
	cat >"$T/dst/mig-in-$1" <<EOR
id=$1
side=destination
state=$2
ct=pid:$3
peer=src
transport=
pid=$3
start=${4:-$(start_time "$3")}
EOR
}
recover() { "$PHAUL" -t tcp recover "$@" >"$T/out" 2>&1 </dev/null; }

mkdir -p "$T/src" "$T/dst"
head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
cat >"$T/phaul.conf" <<EOC
[phaul]
work_dir = $T/src
secret_file = $T/secret
timeout = 20
EOC
export PHAUL_CONFIG=$T/phaul.conf
port=$(free_port)
"$PHAUL" agent --listen "127.0.0.1:$port" --work-dir "$T/dst" >"$T/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# 1. committed: the source copy is gone, the destination holds it stopped -> Go
d=$(ct_tree); kill -STOP "$d" "$(child_of "$d")"
src_rec m1 committed 999999 1
dst_rec m1 held "$d"
recover m1; rc=$?
check "committed: recover exits 0" [ "$rc" -eq 0 ]
check "committed: the held tree runs on the destination (root and child)" \
	wait_state "$d" "S" && wait_state "$(child_of "$d")" "S"
check "committed: destination record says running" grep -qx state=running "$T/dst/mig-in-m1"
check "committed: source record removed" [ ! -e "$T/src/mig-out-m1" ]
check "committed: the report says where the CT runs" grep -q "settled: .* runs on 127.0.0.1" "$T/out"

# 2. the Go answer was lost after the destination acted: recover again
src_rec m1 committed 999999 1
recover m1; rc=$?
check "lost Go answer: recover is idempotent (exit 0, still running)" \
	[ "$rc" -eq 0 -a "$(state "$d")" = S ]
recover; rc=$?
check "nothing left: 'nothing to recover', exit 0" \
	[ "$rc" -eq 0 ] && grep -q "nothing to recover" "$T/out"

# 3. restoring, the source copy alive (CRIU resumed it) -> discard theirs
s=$(ct_tree)
d=$(ct_tree); dc=$(child_of "$d"); kill -STOP "$d" "$dc"
src_rec m3 restoring "$s"
dst_rec m3 held "$d"
recover "pid:$s"; rc=$?
check "source alive: recover (by CT) exits 0" [ "$rc" -eq 0 ]
check "source alive: the destination's stopped tree is killed, child too" \
	wait_state "$d" "gone|Z" && wait_state "$dc" "gone|Z"
check "source alive: the source copy runs on" [ "$(state "$s")" = S ]
check "source alive: destination record says discarded" grep -qx state=discarded "$T/dst/mig-in-m3"

# 4. committing and the source copy gone (CRIU got our COMMIT) -> Go
d=$(ct_tree); kill -STOP "$d"
src_rec m4 committing 999999 1
dst_rec m4 held "$d"
recover m4; rc=$?
check "committing, source gone: Go (exit 0, runs)" [ "$rc" -eq 0 ] && wait_state "$d" S

# 5. a pid reused by another process is not the source copy
d=$(ct_tree); kill -STOP "$d"
s=$(ct_tree)
src_rec m5 restoring "$s" 12345
dst_rec m5 held "$d"
recover m5; rc=$?
check "reused source pid (other start time) counts as gone: Go" [ "$rc" -eq 0 ] && wait_state "$d" S

# 6. source gone, the destination has nothing: lost, exit 5, record kept
src_rec m6 committed 999999 1
recover m6; rc=$?
check "nothing on the destination: exit 5, LOST, record kept" \
	[ "$rc" -eq 5 -a -e "$T/src/mig-out-m6" ] && grep -q LOST "$T/out"
rm -f "$T/src/mig-out-m6"

# 6a. the destination let it run, then lost it (lazy restore failed after
# the switch, phaul exited 8): its record says lost; Go is refused, exit 5
src_rec m6a committed 999999 1
dst_rec m6a lost 999998 1
recover m6a; rc=$?
check "destination lost it: exit 5, LOST naming its state, record kept" \
	[ "$rc" -eq 5 -a -e "$T/src/mig-out-m6a" ] && grep -q "LOST: .* has lost" "$T/out"
check "destination lost it: its record still says lost" grep -qx state=lost "$T/dst/mig-in-m6a"
rm -f "$T/src/mig-out-m6a"

# 6b. post-copy: the destination lets it run while its memory still comes
# from the source (phaul died, or only its last word was lost): the outcome
# is open, exit 6, both records kept; once the destination says running
# (every page arrived), Go settles it, exit 0
d=$(ct_tree)
src_rec m6b committed 999999 1
dst_rec m6b filling "$d"
recover m6b; rc=$?
check "post-copy still filling: exit 6, still open, records kept" \
	[ "$rc" -eq 6 -a -e "$T/src/mig-out-m6b" ] && grep -q "still open: .* memory still comes" "$T/out" &&
	grep -qx state=filling "$T/dst/mig-in-m6b"
check "post-copy still filling: the destination's copy untouched" [ "$(state "$d")" = S ]
dst_rec m6b running "$d"
recover m6b; rc=$?
check "post-copy filled: settled, exit 0, source record gone" \
	[ "$rc" -eq 0 -a ! -e "$T/src/mig-out-m6b" ] && grep -q "settled: .* runs on" "$T/out"

# 6c. a record made before a restore that never returned (pid 0): the
# discard ends nothing by pid (kill(0) would hit the agent's own group)
s=$(ct_tree)
src_rec m6c restoring "$s"
dst_rec m6c held 0 0
recover m6c; rc=$?
check "held without a pid: discarded, exit 0, source runs on" \
	[ "$rc" -eq 0 -a "$(state "$s")" = S ] && grep -qx state=discarded "$T/dst/mig-in-m6c"
check "held without a pid: the agent still answers" \
	eval '(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null'

# 6b. a new migration of a CT whose last one is unsettled is refused
s=$(ct_tree)
src_rec m6b committed "$s"
"$PHAUL" -t tcp migrate "pid:$s" "127.0.0.1:$port" >"$T/out" 2>&1 </dev/null; rc=$?
check "unsettled CT: a new migrate is refused, naming recover" \
	[ "$rc" -eq 1 ] && grep -q "not settled yet: run .phaul recover m6b" "$T/out"
rm -f "$T/src/mig-out-m6b"

# 7. a running destination copy is never discarded
s=$(ct_tree); d=$(ct_tree)
src_rec m7 restoring "$s"
dst_rec m7 running "$d"
recover m7; rc=$?
check "destination running: not discarded, exit 6" [ "$rc" -eq 6 -a "$(state "$d")" = S ]
rm -f "$T/src/mig-out-m7"

# 8. a migration still in progress (its lock held) is left alone
d=$(ct_tree); kill -STOP "$d"
src_rec m8 committed 999999 1
dst_rec m8 held "$d"
flock "$T/src/mig-out-m8.lock" sleep 3 &
sleep 0.3
recover m8; rc=$?
check "lock held by a running migrate: exit 6, nothing done" \
	[ "$rc" -eq 6 -a "$(state "$d")" = T ] && grep -q "in progress" "$T/out"
wait $!
# ... and the same on the destination (its session still holds the CT)
flock "$T/dst/mig-in-m8.lock" sleep 3 &
sleep 0.3
recover m8; rc=$?
check "lock held by the agent's session: exit 6, still stopped" [ "$rc" -eq 6 -a "$(state "$d")" = T ]
wait $!
recover m8; rc=$?
check "once released: Go" [ "$rc" -eq 0 ] && wait_state "$d" S

# 9. the destination unreachable: unknown, exit 6, record kept
src_rec m9 committed 999999 1
sed -i "s/^peer=.*/peer=127.0.0.1:1/" "$T/src/mig-out-m9"
recover m9; rc=$?
check "destination unreachable: exit 6, record kept" [ "$rc" -eq 6 -a -e "$T/src/mig-out-m9" ]
rm -f "$T/src/mig-out-m9"

# 10. a record that is not one
printf 'id=m10\nside=source\nstate=exploded\n' >"$T/src/mig-out-m10"
recover m10; rc=$?
check "malformed record: refused, exit 6" [ "$rc" -eq 6 ] && grep -q "bad line" "$T/out"
rm -f "$T/src/mig-out-m10"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
