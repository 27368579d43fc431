#!/bin/bash
# The command line as an operator meets it: options after operands, one-line
# usage errors naming what is missing, exit codes as HOWTO's table says
# (2 for a malformed HOST or port, an unknown --force name, an unusable
# secret, not root), IPv6 with a port on tcp against a real agent on ::1,
# check --json. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
PHAUL=$PWD/build/phaul
NAME=cli
. tests/host/lib.sh
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT

cat >"$T/phaul.conf" <<EOC
[phaul]
work_dir = $T/wd
secret_file = $T/secret
timeout = 20
EOC
export PHAUL_CONFIG=$T/phaul.conf
head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
setsid sleep 300 &
victim=$!
pids+=($victim)

# --- options anywhere; missing operands named ---
expect "options after CT and HOST are taken (reaches the connection)" 1 \
	"connecting to 127.0.0.1:1 over tcp" "$PHAUL" -t tcp migrate "pid:$victim" 127.0.0.1:1 --dry-run
expect "an option between CT and HOST is taken" 1 "connecting to 127.0.0.1:1 over tcp" \
	"$PHAUL" -t tcp migrate "pid:$victim" --dry-run 127.0.0.1:1
expect "migrate without HOST names it, in one line" 2 "^phaul migrate: missing HOST after CT" \
	"$PHAUL" migrate "pid:$victim"
[ "$(wc -l <"$T/out")" -eq 2 ] && ok "the usage error is short (error and where help is)" ||
	bad "the usage error is short (error and where help is)"
expect "migrate without operands names both" 2 "missing CT and HOST" "$PHAUL" migrate --dry-run
expect "migrate with three operands" 2 "too many operands" "$PHAUL" migrate pid:1 h x
expect "an unknown option is named, with where help is" 2 \
	"phaul migrate: unrecognized option '--frob'.*|Try 'phaul migrate --help'" "$PHAUL" migrate --frob pid:1 h
expect "agent without a mode names the modes" 2 "missing the mode: --stdio, --inetd or --listen" \
	"$PHAUL" agent
expect "agent with two modes" 2 "exclude each other" "$PHAUL" agent --stdio --listen 127.0.0.1:1
expect "no command" 2 "no command given" "$PHAUL"
expect "a command's --help works with options around it" 0 "Usage: phaul migrate" \
	"$PHAUL" migrate pid:1 --help

# --- HOST, port and secret: usage errors (exit 2) on every transport ---
for tr in ssh tcp; do
	expect "$tr: port 99999 is refused, not wrapped" 2 "port '99999' is not a number in 1..65535" \
		"$PHAUL" -t $tr migrate "pid:$victim" node2:99999
	expect "$tr: port 0 is refused" 2 "port '0'" "$PHAUL" -t $tr check node2:0
	expect "$tr: a malformed HOST is refused" 2 "expected \[IPV6\]" "$PHAUL" -t $tr check '[::1'
done
expect "an unknown --force name is refused, listing the checks" 2 \
	"no check named 'cpux' \(checks: arch, " "$PHAUL" -t tcp migrate --force cpu,cpux "pid:$victim" 127.0.0.1:1
expect "check: an unknown --force name is refused" 2 "no check named 'nope'" "$PHAUL" check --force nope
expect "tcp: a missing secret file is a configuration error naming how to make one" 2 \
	"secret file $T/none.*head -c 32 /dev/urandom" \
	"$PHAUL" -t tcp -o secret_file="$T/none" migrate "pid:$victim" 127.0.0.1:1

# --- IPv6 with a port on tcp, against a real agent on ::1 ---
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
	"$PHAUL" agent --listen "[::1]:$port" >"$T/agent6.log" 2>&1 &
	pids+=($!)
	for i in $(seq 100); do (exec 3<>"/dev/tcp/::1/$port") 2>/dev/null && break; sleep 0.1; done
	expect "tcp: [::1]:PORT reaches the agent (the check table)" 3 "criu-check +FAILED +FAILED" \
		"$PHAUL" -t tcp check "[::1]:$port"
	expect "tcp: check --json: the table and a verdict, as JSON" 3 '"event":"verdict"' \
		"$PHAUL" -t tcp check --json "[::1]:$port"
	python3 -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert ev[0]["event"]=="check" and ev[-1]["event"]=="verdict" and ev[-1]["exit_code"]==3, ev' "$T/out" \
		&& ok "check --json lines parse" || bad "check --json lines parse"
else
	echo "no IPv6 loopback here: skipping the [::1] agent" >"$T/out"; bad "tcp: IPv6 loopback available"
fi
expect "check --json without HOST: one object, exit 1 here (CRIU cannot run)" 1 '"criu_ok":false' \
	"$PHAUL" check --json
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["exit_code"]==1 and not d["ok"]' \
	"$T/out" && ok "check --json without HOST parses" || bad "check --json without HOST parses"

# --- root first ---
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	cp "$PHAUL" "$T/phaul"
	chmod 755 "$T" "$T/phaul"
	nob() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	expect "not root: refused first, in plain words" 2 "^phaul: 'migrate' must run as root" \
		nob "$T/phaul" -c /dev/null migrate "pid:$victim" node2
	expect "not root: check too (not blamed on CRIU)" 2 "'check' must run as root" \
		nob "$T/phaul" -c /dev/null check
	expect "not root: --help still works" 0 "Usage: phaul check" nob "$T/phaul" -c /dev/null check --help
	chmod 700 "$T"
fi

summary
