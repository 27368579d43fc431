#!/bin/bash
# Host-side tests of phaul balance against real agents over tcp on loopback:
# LoadReq figures, the decision and --dry-run, the remote migrate request
# (refused unless allowed; relayed when allowed: CRIU cannot run on this
# host's kernel, so the migration itself fails and the balancer must say
# so), the fail backoff, the run lock, the JSON log, and notify_url POSTed
# to a real HTTP receiver on 127.0.0.1. Host a looks busy through
# PHAUL_FAULT_LOAD1 (both agents run on one machine, b looks idle whatever
# else this machine runs).
# Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=bal
. tests/lib.sh
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
pa=$(free_port) pb=$(free_port) pc=$(free_port) ph=$(free_port)
# The agents: a (busy, lets a balancer ask it to migrate), b (idle).
for h in a b; do
	allow=no; [ $h = a ] && allow=yes
	mkdir -p "$T/$h"
	cat >"$T/$h.conf" <<EOC
[phaul]
transport = tcp
work_dir = $T/$h
secret_file = $T/secret
timeout = 20
[agent]
allow_remote_migrate = $allow
EOC
done
echo "notify_url = http://127.0.0.1:$ph/migrate" >>"$T/a.conf"   # [agent]: any section
PHAUL_FAULT_LOAD1=7.5 "$PHAUL" -c "$T/a.conf" agent --listen "127.0.0.1:$pa" 2>"$T/a.log" &
pids+=($!)
PHAUL_FAULT_LOAD1=0.1 "$PHAUL" -c "$T/b.conf" agent --listen "127.0.0.1:$pb" 2>"$T/b.log" &
pids+=($!)
wait_port "$pa" && wait_port "$pb" || { echo "agents did not start"; echo "0 passed, 1 failed"; exit 1; }

# The CT: a CPU-bound process tree on "a" (the same machine, seen through
# agent a), leading its session as CRIU needs.
setsid sh -c 'while :; do :; done' &
ct=$!
pids+=($ct)

# A real HTTP receiver for notify_url: writes each POST body to a file.
cat >"$T/recv.py" <<'EOP'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        with open(sys.argv[2], "ab") as f:
            f.write(self.rfile.read(n) + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOP
python3 "$T/recv.py" "$ph" "$T/posted" &
pids+=($!)
wait_port "$ph"

W=$T/bal
cat >"$T/bal.conf" <<EOC
[phaul]
transport = tcp
work_dir = $W
secret_file = $T/secret
timeout = 20
notify_url = http://127.0.0.1:$ph/hook
[balance]
host = a 127.0.0.1:$pa
host = b 127.0.0.1:$pb tcp
ct = a pid:$ct
ct = b pid:$ct
hold_runs = 2
max_target_score = 1.5
min_gain = 0.01
EOC
B=("$PHAUL" -c "$T/bal.conf")

expect "help names the exit codes" 0 '7 moved' "${B[@]}" balance --help
expect "top-level help lists balance" 0 'balance ' "$PHAUL" --help
expect "no hosts is a usage error" 2 'at least 2' "$PHAUL" -c "$T/a.conf" balance
expect "bad threshold refused" 2 "bad value '2' for 'threshold'" "${B[@]}" -o balance.threshold=2 balance

expect "first run: imbalanced, waits for hold_runs" 0 'for 1 of 2 runs: waiting' "${B[@]}" balance
check "figures: a's load came through the agent" "grep -Eq '^a +[0-9.]+ +[0-9]+ +7\\.50' $T/out"
check "figures: the CT's RSS on a" "grep -Eq 'pid:$ct +rss +[1-9][0-9]* kB' $T/out"
check "state keeps the count" "grep -q '\"held\": 1' $W/balance/state"

# CRIU cannot run on this host: the compat check rules b out, and says why.
expect "an incompatible target is skipped with the reason" 0 \
	"skipped: pid:$ct -> b: compat: check 'criu-check' failed" "${B[@]}" balance --dry-run
check "...and nothing qualifies" "grep -q 'no move qualifies' $T/out"
echo "force = criu-check" >>"$T/bal.conf"
expect "dry run explains and moves nothing" 0 "would move pid:$ct: a \\(.* to b" \
	"${B[@]}" balance --dry-run
check "dry run left the state alone" "grep -q '\"held\": 1' $W/balance/state"
check "nothing POSTed for a dry run" "[ ! -s $T/posted ]"

expect "second run asks a to migrate; the migration fails here and it says so" 1 \
	'"outcome":"failed"' "${B[@]}" balance --json
check "the move names the source's exit code" \
	"grep -Eq '\"moves\":\\[\\{\"ct\":\"pid:$ct\",\"from\":\"a\",\"to\":\"b\",\"result\":\"failed\",\"exit_code\":[1-9]' $T/out"
check "agent a ran phaul migrate for the balancer" "grep -q 'asks to migrate pid:$ct to 127.0.0.1:$pb' $T/a.log"
check "the CT still runs on a" "kill -0 $ct"
check "the failure is in the state" "grep -q '\"failed_at\": [1-9]' $W/balance/state"
check "notify_url got the record" "grep -q '\"event\":\"balance\"' $T/posted && grep -q '\"outcome\":\"failed\"' $T/posted"
check "the remote migrate POSTed its own report (the source's notify_url)" \
	"grep -q '\"event\":\"report\".*\"ok\":false' $T/posted"
: >"$T/posted"
expect "phaul migrate POSTs its final report to notify_url" 1 'FAILED|failed' \
	"$PHAUL" -c "$T/a.conf" migrate "pid:$ct" "127.0.0.1:1"
check "...and the receiver got it" "grep -q '\"event\":\"report\".*\"destination\":\"127.0.0.1:1\"' $T/posted"

expect "a CT that failed recently is skipped" 0 'failed to move recently' "${B[@]}" balance
check "one JSON record per run in the log" "[ \$(wc -l <$W/balance/log) -eq 5 ] && python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' $W/balance/log"

# c (b's config) does not allow remote migrations: a balancer asking it is refused.
rm -f "$W/balance/state"
cat >"$T/bal2.conf" <<EOC
[phaul]
transport = tcp
work_dir = $T/bal2
secret_file = $T/secret
timeout = 20
[balance]
host = a 127.0.0.1:$pc
host = b 127.0.0.1:$pb
ct = a pid:$ct
hold_runs = 1
max_target_score = 1.5
min_gain = 0
threshold = 0.01
force = criu-check
EOC
PHAUL_FAULT_LOAD1=7.5 "$PHAUL" -c "$T/b.conf" agent --listen "127.0.0.1:$pc" 2>/dev/null &
pids+=($!)
wait_port "$pc"
expect "an agent without allow_remote_migrate refuses" 1 'allow_remote_migrate is off' \
	"$PHAUL" -c "$T/bal2.conf" balance

# A CT name is data, never a path on the agent's host (liblxc builds one from it).
expect "an agent refuses a CT name that is a path" 1 \
	"a +down: .*refused CT name 'lxc:\.\./\.\./etc'" \
	"${B[@]}" -o "balance.ct=a lxc:../../etc" balance --dry-run

# Two runs at once: the second does nothing.
expect "a run while another holds the lock does nothing" 0 'another phaul balance holds' \
	flock "$W/balance/lock" "${B[@]}" balance

# One host down: nothing to compare.
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null
expect "fewer than two hosts answering is a failure" 1 'fewer than two hosts answered' \
	"${B[@]}" -o balance.hold_runs=1 balance

# A dead webhook never fails the run.
expect "a dead notify_url is logged, the run goes on" 1 'notify http://127.0.0.1:1/.*' \
	"${B[@]}" -o notify_url=http://127.0.0.1:1/x balance

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
