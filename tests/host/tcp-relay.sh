#!/bin/bash
# A hostile relay between a real `phaul -t tcp check` and a real agent on
# loopback (tests/host/relay.py): what an on-path attacker can do once the
# real client has proven the shared secret. Every case here passed for the
# attacker before the sealed record layer (PROTOCOL.md section 5).
# Usage: tcp-relay.sh [PHAUL]. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=relay
. tests/lib.sh
PHAUL=${1:-$PHAUL}
RELAY=$PWD/tests/host/relay.py

# check NAME CMD...: ok when CMD succeeds; on failure show $T/out
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

cat >"$T/phaul.conf" <<EOC
[phaul]
work_dir = $T/wd
secret_file = $T/secret
timeout = 20
EOC
export PHAUL_CONFIG=$T/phaul.conf
head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
host=$(hostname)
kernel=$(uname -r)
version=$("$PHAUL" --version | awk '{print $2}')
# Same lengths as the originals, so a plaintext protobuf would stay valid.
fake_host=$(printf 'X%.0s' $(seq ${#host}))
fake_kernel=$(printf '%s' "6.1.0-evil-$(printf 'e%.0s' $(seq ${#kernel}))" | cut -c1-${#kernel})

aport=$(free_port)
"$PHAUL" agent --listen "127.0.0.1:$aport" >"$T/agent.log" 2>&1 &
pids+=($!)
wait_port "$aport" || {
	cp "$T/agent.log" "$T/out"
	bad "agent did not start"
	echo "$pass passed, $fail failed"
	exit 1
}

# relay_start PORT TARGET MODE ARGS...: a fresh relay on PORT, sets rpid; 1
# when it did not come up within 10 s. Not wait_port: the relay serves
# exactly one connection. The old relay.out goes first: the shell opens it
# for the new relay in the background, so a stale "ready" would send the
# client to a port nobody listens on yet.
relay_start() {
	rm -f "$T/relay.out"
	python3 "$RELAY" "$@" >"$T/relay.out" 2>&1 &
	rpid=$!
	for _ in $(seq 100); do
		grep -q ready "$T/relay.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "relay did not start within 10 s" >>"$T/relay.out"
	return 1
}

# via MODE ARGS...: one `phaul check` through a fresh relay; sets rc, $T/out
# (the client's output) and $T/alog (what the agent logged meanwhile).
via() {
	local rport mark rpid up=1
	rport=$(free_port)
	mark=$(wc -l <"$T/agent.log")
	relay_start "$rport" "$aport" "$@" || { up=0; kill "$rpid" 2>/dev/null; }
	timeout 60 "$PHAUL" -t tcp check "127.0.0.1:$rport" >"$T/out" 2>&1 </dev/null
	rc=$?
	wait "$rpid"
	# The agent's child logs its end after the client has gone: wait for it.
	for _ in $(seq 100); do
		tail -n +$((mark + 1)) "$T/agent.log" >"$T/alog"
		grep -q "error:\|warn:\|session start: peer" "$T/alog" && break
		sleep 0.1
	done
	sleep 0.2
	tail -n +$((mark + 1)) "$T/agent.log" >"$T/alog"
	[ "$up" = 1 ] || echo "(the relay did not start: the agent saw nothing)" >>"$T/alog"
	cat "$T/relay.out" >>"$T/out"
}
has() { grep -Eq -- "$2" "$1"; }
hasnt() { [ -f "$1" ] && ! grep -Fq -- "$2" "$1"; }
# The client failed (not the CRIU refusal a whole session ends in) and said why.
client_failed() { [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && has "$T/out" "$1"; }

# 0. Through a relay that only records, the session works.
via record "$T/session"
check "relay passing bytes: the session completes (check table)" \
	eval '[ "$rc" -eq 3 ] && has "$T/out" "criu-check +FAILED"'
check "relay passing bytes: the client's records carry no plaintext hostname" \
	hasnt "$T/session" "$host"

# 1. The takeover from issue 15: the real client proves the secret, the
# relay drops it and replays an earlier session under its own name.
via hijack "$T/session" "$host" "$fake_host"
check "takeover: the real client, cut off, fails with a clear error" \
	client_failed "closed the connection|connection reset|Connection reset"
cp "$T/alog" "$T/out"
check "takeover: the agent never starts a session for the relay" \
	eval 'hasnt "$T/alog" "session start: peer $fake_host" && hasnt "$T/alog" "session start: peer $host"'
check "takeover: the agent reports the forged records" \
	has "$T/alog" "sealed record 0 failed authentication"
check "takeover: the agent answers the relay nothing it can read" \
	eval 'hasnt "$T/session.resp" "$version" && hasnt "$T/session.resp" "refused"'

# 2. The relay feeds the source fabricated facts about the destination.
RELAY_SPY=$T/s2c via rewrite s2c "$kernel" "$fake_kernel"
check "fabricated facts: the source never shows them, only the real ones" \
	eval 'hasnt "$T/out" "6.1.0-evil" && [ "$rc" -eq 3 ] && has "$T/out" "$kernel"'

check "eavesdropping: the agent's facts are not readable on the wire" \
	eval 'hasnt "$T/s2c" "$kernel" && hasnt "$T/s2c" "$version"'

# 3. Record by record, both ways.
for c in "c2s flip 1" "c2s drop 0" "c2s replay 1" "c2s swap 0" "c2s splice"; do
	set -- $c
	if [ "$2" = splice ]; then
		# A record of the first session, same secret, same position.
		python3 - "$T/session" "$T/splice" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
n = 4 + int.from_bytes(d[:4], "big")
open(sys.argv[2], "wb").write(d[:n])
PY
		via hijack "$T/splice" x x
	else
		via tamper "$@"
	fi
	cp "$T/alog" "$T/out"
	check "records $c: the agent refuses the record" \
		has "$T/alog" "sealed record [0-9]+ failed authentication \(forged, replayed, reordered or altered"
done
via tamper c2s trunc 1
cp "$T/alog" "$T/out"
check "records c2s trunc: the agent reports the truncated record" \
	has "$T/alog" "connection ended inside sealed record 1"
via tamper c2s cut 2
cp "$T/alog" "$T/out"
check "records c2s cut: the agent reports the missing close record" \
	has "$T/alog" "without its close record"

for c in "s2c flip 1" "s2c drop 0" "s2c replay 1" "s2c swap 0"; do
	via tamper $c
	check "records $c: the source refuses the record" \
		client_failed "sealed record [0-9]+ failed authentication"
done
via tamper s2c trunc 1
check "records s2c trunc: the source reports the truncated record" \
	client_failed "ended inside sealed record 1"
via tamper s2c cut 2
check "records s2c cut: the source reports the cut" client_failed "without its close record"

# --inetd: the agent on stdin/stdout (an fd chan) seals the same way.
iport=$(free_port)
python3 -c 'import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
os.dup2(c.fileno(), 0)
os.dup2(c.fileno(), 1)
os.execv(sys.argv[2], sys.argv[2:])' "$iport" "$PHAUL" agent --inetd >"$T/inetd.out" 2>"$T/inetd.log" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$T/inetd.out" && break; sleep 0.1; done
rport=$(free_port)
relay_start "$rport" "$iport" tamper c2s flip 1
timeout 60 "$PHAUL" -t tcp check "127.0.0.1:$rport" >"$T/out" 2>&1 </dev/null
wait "$rpid"
wait_log() { for _ in $(seq 100); do grep -Eq -- "$2" "$1" && return 0; sleep 0.1; done; return 1; }
cat "$T/inetd.log" >>"$T/out"
check "--inetd: the agent on stdin/stdout refuses a forged record" \
	wait_log "$T/inetd.log" "sealed record 1 failed authentication"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
