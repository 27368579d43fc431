#!/bin/bash
# `phaul status`, `phaul set` and `phaul cancel` against a live `phaul
# migrate` on this host, over a real agent on tcp loopback. CRIU cannot run
# on this host's kernel, so the checks it fails are forced and the
# migration is held in pre-copy by a pre-dump hook that sleeps: the control
# socket is served by the migration's own live thread while its main
# thread is busy, as during a page stream. In the VMs,
# tests/migration/scenarios/63-control.sh does the same with pages moving.
# Also: --json progress events (schema, ts, at least once a second), a
# refused command line under --json ending with a report line, a dead
# phaul's socket ignored and removed. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=control
. tests/lib.sh
wait_file() { # FILE [TENTHS]
	local i
	for i in $(seq "${2:-100}"); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

cat >"$T/phaul.conf" <<EOC
[phaul]
work_dir = $T/wd
secret_file = $T/secret
timeout = 20
hooks_dir = $T/hooks
EOC
export PHAUL_CONFIG=$T/phaul.conf
head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
mkdir -p "$T/hooks/pre-dump.d"
# holds the migration in pre-copy until $T/release appears (or 30 s pass)
cat >"$T/hooks/pre-dump.d/10-hold" <<EOH
#!/bin/sh
touch "$T/in-hook"
i=0; while [ ! -e "$T/release" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
EOH
chmod 755 "$T/hooks/pre-dump.d/10-hold"
FORCE=criu-check,cpu,pids

port=$(free_port)
"$PHAUL" -o work_dir="$T/wd-agent" agent --listen "127.0.0.1:$port" >"$T/agent.log" 2>&1 &
pids+=($!)
wait_port "$port" || { bad "agent did not start listening"; echo "$pass passed, $fail failed"; exit 1; }

setsid sleep 300 </dev/null >/dev/null 2>&1 & # the CT: a session leader
victim=$!
pids+=($victim)

# --- a running migration: status, set, cancel ---
rm -f "$T/in-hook" "$T/release"
"$PHAUL" -t tcp migrate --json --force "$FORCE" "pid:$victim" "127.0.0.1:$port" \
	>"$T/mig.json" 2>"$T/mig.err" </dev/null &
mig=$!
pids+=($mig)
if ! wait_file "$T/in-hook"; then
	cp "$T/mig.err" "$T/out"
	bad "migration reached its pre-dump hook"
fi
expect "status lists the running migration with its phase" 0 \
	"^[0-9]{8}-[0-9]{6}-$mig-[0-9a-f]{8}  pid:$victim -> 127.0.0.1:$port  precopy, [0-9]+ s \(phaul pid $mig\)" \
	"$PHAUL" status
id=$(awk 'NR == 1 {print $1}' "$T/out")
ls -l "$T/wd/run/$id.sock" >"$T/ls" 2>&1
check "the control socket is root's, mode 0600, under run/" grep -q '^srw------- .* root root' "$T/ls"
"$PHAUL" status --json >"$T/status.json" 2>&1
cp "$T/status.json" "$T/out"
check "status --json: one status event, schema 1, the migration as a progress object" \
	python3 - "$T/status.json" "$id" "pid:$victim" <<'EOP'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["event"] == "status" and o["schema"] == 1 and o["ts"].endswith("Z"), o
(m,) = o["migrations"]
assert m["event"] == "progress" and m["id"] == sys.argv[2] and m["ct"] == sys.argv[3], m
assert m["phase"] == "precopy" and m["downtime_limit_us"] == 300000 and m["bwlimit"] == 0, m
EOP
expect "set changes the downtime limit and the bandwidth limit" 0 \
	"downtime limit 700 ms.*|bwlimit 1048576 bytes/s" \
	"$PHAUL" set "pid:$victim" --downtime-limit 700 --bwlimit 1M
expect "status shows the new limits at once" 0 "downtime limit 700 ms  bwlimit 1\.0 MiB/s" \
	"$PHAUL" status "$id"
expect "set without a value is a usage error" 2 "nothing to set" "$PHAUL" set "$id"
expect "set of a migration that does not run" 1 "no migration pid:1 runs on this host" \
	"$PHAUL" set pid:1 --bwlimit 1M
# the hook holds the main thread 2 s more: cancel waits for the migration's end
(sleep 2; touch "$T/release") &
t0=$(date +%s%N)
expect "cancel waits for the migration's end" 0 "migration $id ended" "$PHAUL" cancel "$id"
t1=$(date +%s%N)
check "...which came after the hook let go, not before" test $(((t1 - t0) / 100000000)) -ge 15
wait "$mig"
rc=$?
check "the cancelled migration exits 4 (rolled back)" test "$rc" -eq 4
check "its report says it was cancelled and the source runs on" \
	python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["event"] == "report" and r["exit_code"] == 4 and r["rolled_back"], r
assert "cancelled by `phaul cancel " + sys.argv[2] + "`" in r["error"], r["error"]' "$T/mig.json" "$id"
check "the source process still runs" kill -0 "$victim"
check "its socket is gone" test ! -e "$T/wd/run/$id.sock"
expect "status: nothing runs now" 0 "^no migration running on " "$PHAUL" status
cp "$T/mig.json" "$T/out"
check "--json: every event has schema 1 and ts; progress at least once a second" \
	python3 - "$T/mig.json" <<'EOP'
import datetime, json, sys
ev = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert all(e["schema"] == 1 and e["ts"].endswith("Z") for e in ev), ev
ts = [datetime.datetime.fromisoformat(e["ts"][:-1]) for e in ev if e["event"] == "progress"]
assert len(ts) >= 2, len(ts)
gaps = [(b - a).total_seconds() for a, b in zip(ts, ts[1:])]
assert max(gaps) <= 1.0, gaps
assert ev[-1]["event"] == "report", ev[-1]
EOP
cp "$T/mig.err" "$T/out"
check "no status line when stderr is not a terminal" \
	bash -c '! grep -q $'"'"'\r\|\033\['"'"' "$1"' _ "$T/mig.err"

# --- a dead phaul's socket ---
rm -f "$T/in-hook" "$T/release"
"$PHAUL" -t tcp migrate --force "$FORCE" "pid:$victim" "127.0.0.1:$port" >/dev/null 2>&1 </dev/null &
mig=$!
wait_file "$T/in-hook"
sock=$(ls "$T"/wd/run/*.sock 2>/dev/null)
{ kill -KILL "$mig" && wait "$mig"; } 2>/dev/null
touch "$T/release"
check "a killed migrate leaves its socket" test -S "$sock"
expect "status ignores it" 0 "^no migration running on " "$PHAUL" status
check "...and removes it" test ! -e "$sock"
expect "cancel of it: no such migration" 1 "no migration pid:$victim runs" \
	"$PHAUL" cancel "pid:$victim"

# --- usage errors under --json still end with a report line ---
for args in "--bogus pid:$victim h" "pid:$victim" "--downtime-limit soon pid:$victim h"; do
	# shellcheck disable=SC2086
	"$PHAUL" migrate --json $args >"$T/out" 2>"$T/err"
	rc=$?
	check "--json usage error ($args): exit 2 and a report line last" \
		python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["event"] == "report" and r["exit_code"] == 2 and not r["ok"] and r["error"], r
assert int(sys.argv[2]) == 2' "$T/out" "$rc"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
