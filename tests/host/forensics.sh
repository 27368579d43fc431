#!/bin/bash
# What a failed migration leaves on both hosts, end to end on loopback: a
# real source (`phaul migrate`) against a real agent (`phaul agent --listen`),
# each with its own work dir. CRIU cannot run on this host's kernel, so the
# checks refuse the migration after the session began: the failure this
# script can make without CRIU. Checks the kept logs on both sides and the
# line naming them, the time and migration id on every line, report.json,
# the agent's session start and end in its log and in syslog (a /dev/log of
# our own in a mount namespace), pruning by count, and a peer's malformed
# id kept out of lines and paths. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=forensics
. tests/lib.sh
wait_grep() { # PATTERN FILE: within 5 s
	local i
	for i in $(seq 50); do
		grep -Eq -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
mkdir -p "$T/src" "$T/dst"
for side in src dst; do
	cat >"$T/$side.conf" <<EOC
[phaul]
work_dir = $T/$side/wd
secret_file = $T/secret
timeout = 20
keep_reports = 2
EOC
done
port=$(free_port)
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# The agent in a mount namespace whose /dev/log is a socket we read.
cat >"$T/syslogd.py" <<'EOP'
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
out = open(sys.argv[1], "ab", buffering=0)
while True:
    out.write(s.recv(65536) + b"\n")
EOP
cat >"$T/agent.sh" <<EOS
mount --bind /dev "$T/olddev" 2>/dev/null || mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs none /dev
for f in null zero urandom random full; do
	touch /dev/\$f && mount --bind "$T/olddev/\$f" /dev/\$f
done
python3 "$T/syslogd.py" "$T/syslog" &
for i in \$(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
exec env PHAUL_CONFIG="$T/dst.conf" "$PHAUL" agent --listen 127.0.0.1:$port
EOS
mkdir -p "$T/olddev"
unshare -m --propagation private bash "$T/agent.sh" >"$T/agent.log" 2>&1 &
pids+=($!)
wait_port "$port" || { bad "agent did not start listening"; echo "$pass passed, $fail failed"; exit 1; }

export PHAUL_CONFIG=$T/src.conf
setsid sleep 300 </dev/null >/dev/null 2>&1 &
ct=$!
pids+=($ct)

# --- a refused migration: logs kept on both sides, and said where ---
expect "a refused migration names the logs it kept on both hosts" 3 \
	"logs kept: .*: $T/src/wd/runs/out-[0-9a-f-]+ \(phaul.log, report.json\); .*: $T/dst/wd/runs/in-[0-9]{8}-[0-9]{6}-[0-9a-f]{16}" \
	"$PHAUL" -t tcp migrate "pid:$ct" "127.0.0.1:$port"
cp "$T/out" "$T/first"
id=$(sed -n 's/.*src\[\([A-Za-z0-9-]*\)\].*/\1/p' "$T/first" | head -1)
srun="$T/src/wd/runs/out-$id"
drun=$(sed -n "s|.*logs kept: .*; .*: \($T/dst/wd/runs/in-[0-9a-f-]*\) .*|\1|p" "$T/first")
# every CRIU log a message names is still there to read
named=$(grep -o "see $T/[^ :;]*\.log" "$T/first" | sed 's/^see //' | sort -u)
check "the messages name CRIU logs" test -n "$named"
for f in $named; do
	check "a named CRIU log is kept: ${f#$T/}" test -s "$f"
done
check "the source's run dir is named by the migration id" test -n "$id" -a -d "$srun"
check "the source's log has every line with UTC time and the id" \
	bash -c "[ -s '$srun/phaul.log' ] && ! grep -Ev '^$TS src\[$id\] (error|warn|info|debug): ' '$srun/phaul.log'"
check "CRIU's stderr has its own file in the run dir" test -e "$srun/criu-stderr.log"
check "the source's log has the error line" grep -q "error: check 'criu-check' failed" "$srun/phaul.log"
check "report.json is the report, with its id and where the logs are" python3 -c "
import json, sys
r = json.load(open('$srun/report.json'))
assert r['event'] == 'report' and r['ok'] is False and r['exit_code'] == 3, r
assert r['id'] == '$id' and r['log_dir'] == '$srun' and r['dst_log_dir'] == '$drun', r
assert r['dry_run'] is False and 'downtime_us' in r and 'interruption' in r
"
check "the destination kept its session log where the source said" test -s "$drun/agent.log"
check "the destination's log lines carry the source's migration id" \
	bash -c "! grep -Ev '^$TS agent\[$id\] ' '$drun/agent.log' && grep -q 'session start: peer' '$drun/agent.log'"
check "the agent logs the session's start (peer, transport, its log)" \
	wait_grep "^$TS agent\[$id\] info: session start: peer .* \(tcp:127\.0\.0\.1:[0-9]+\), transport tcp, log $drun" "$T/agent.log"
check "the agent logs the session's end (peer, transport, CT, result, duration)" \
	wait_grep "^$TS agent\[$id\] info: session end: peer .*, transport tcp, CT -, result ended without a migration \(the source: check 'criu-check' failed.*\), [0-9.]+ s" "$T/agent.log"
check "the session's start and end go to syslog (daemon facility)" \
	bash -c "wait_grep() { for i in \$(seq 50); do grep -Eq -- \"\$1\" \"\$2\" && return 0; sleep 0.1; done; return 1; }
		wait_grep '^<30>.*phaul\[[0-9]+\]: agent\[$id\]: session start: peer' '$T/syslog' &&
		wait_grep '^<30>.*phaul\[[0-9]+\]: agent\[$id\]: session end: .*result ended without a migration' '$T/syslog'"

# --- a check is no migration: no run dir, but audited ---
before=$(ls "$T/dst/wd/runs" | wc -l)
"$PHAUL" -t tcp check "127.0.0.1:$port" >"$T/out" 2>&1
check "a check session leaves no run dir on the agent" test "$(ls "$T/dst/wd/runs" | wc -l)" = "$before"
check "a check session is audited too, with the source's word" \
	wait_grep "session end: peer .*, CT -, result ended without a migration \(the source: check 'criu-check' failed" "$T/agent.log"

# --- pruning: keep_reports = 2 ---
for i in 1 2; do "$PHAUL" -t tcp migrate "pid:$ct" "127.0.0.1:$port" >"$T/out" 2>&1; done
check "the source keeps keep_reports runs" test "$(ls "$T/src/wd/runs" | wc -l)" = 2
check "the agent keeps keep_reports runs" test "$(ls "$T/dst/wd/runs" | wc -l)" = 2
check "the oldest runs went first" test ! -e "$srun" -a ! -e "$drun"

# --- a peer's id is data: never in a line as sent, never a path ---
"$PWD/build/tests/host-peer" "127.0.0.1:$port" "$T/secret" bad-id >"$T/out" 2>&1
check "a malformed peer id is refused in the agent's log" \
	wait_grep "warn: .* sent a malformed migration id: not shown" "$T/agent.log"
check "...and it is nowhere in a line or a path" \
	bash -c "! grep -q 'forged' '$T/agent.log' && [ -z \"\$(find '$T' '$T/dst/wd/..' '$T/..' -maxdepth 1 -name 'phaul-fx-escape*')\" ] &&
		[ \"\$(ls '$T/dst/wd/runs' | wc -l)\" = 2 ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
