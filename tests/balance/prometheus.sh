#!/bin/bash
# Host-side test of phaul balance's Prometheus source (metrics = prometheus
# URL): a real prometheus-node-exporter and a real prometheus (Debian's
# packages) started here on 127.0.0.1, real agents on loopback for the CTs.
# The host figures must be node_exporter's, a host whose series are missing
# must be named with its instance, and a dead server must say so.
# Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=prom
. tests/lib.sh
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

PROM=$(command -v prometheus || true)
NODE=$(command -v prometheus-node-exporter || true)
if [ -z "$PROM" ] || [ -z "$NODE" ]; then
	echo "SKIP: prometheus and prometheus-node-exporter not installed (make deps installs them)"
	echo "0 passed, 0 failed"
	exit 0
fi

head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"
pa=$(free_port) pb=$(free_port) pn=$(free_port) pp=$(free_port)
cat >"$T/agent.conf" <<EOC
[phaul]
transport = tcp
work_dir = $T/agent
secret_file = $T/secret
EOC
# a's agent reports load1 7.5: the balancer must not use it with Prometheus
PHAUL_FAULT_LOAD1=7.5 "$PHAUL" -c "$T/agent.conf" agent --listen "127.0.0.1:$pa" 2>"$T/a.log" &
pids+=($!)
"$PHAUL" -c "$T/agent.conf" agent --listen "127.0.0.1:$pb" 2>"$T/b.log" &
pids+=($!)
"$NODE" --web.listen-address="127.0.0.1:$pn" >"$T/node.log" 2>&1 &
pids+=($!)
cat >"$T/prom.yml" <<EOC
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$pn']
EOC
"$PROM" --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$pp" >"$T/prom.log" 2>&1 &
pids+=($!)
for p in "$pa" "$pb" "$pn" "$pp"; do
	wait_port "$p" || { echo "port $p never listened"; tail "$T"/*.log; echo "0 passed, 1 failed"; exit 1; }
done
URL=http://127.0.0.1:$pp
# rate() needs two samples: wait until the PSI rates answer too
for i in $(seq 60); do
	curl -fsS "$URL/api/v1/query?query=rate(node_pressure_cpu_waiting_seconds_total%5B1m%5D)" 2>/dev/null |
		grep -q "127.0.0.1:$pn" && break
	sleep 1
done

cat >"$T/bal.conf" <<EOC
[phaul]
transport = tcp
work_dir = $T/bal
secret_file = $T/secret
timeout = 20
[balance]
host = a 127.0.0.1:$pa
host = b 127.0.0.1:$pb
instance = a 127.0.0.1:$pn
metrics = prometheus $URL
hold_runs = 1
EOC
B=("$PHAUL" -c "$T/bal.conf")

expect "a host without node_exporter series is named, with its instance" 1 \
	"b +down: prometheus $URL has no .* for instance \"127.0.0.1:9100\"" "${B[@]}" balance --dry-run
expect "with both instances the figures come from Prometheus" 0 '"decision":"balanced' \
	"${B[@]}" -o "balance.instance=b 127.0.0.1:$pn" balance --dry-run --json
python3 - "$T/out" "$(nproc)" <<'PY' && ok "ncpu, load1, memory and PSI are node_exporter's" || bad "figures"
import json, sys
rec = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
a = rec["hosts"][0]
mem = int([l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0])
load1 = float(open("/proc/loadavg").read().split()[0])
assert a["up"] and a["ncpu"] == int(sys.argv[2]), a
assert a["load1"] != 7.5 and abs(a["load1"] - load1) < 2.0, (a["load1"], load1)
assert a["mem_total_kb"] == mem, (a["mem_total_kb"], mem)
assert 0 < a["mem_avail_kb"] < mem, a
assert "psi" in a, "no PSI from node_exporter"
print("a: ncpu %d load1 %.2f (loadavg %.2f) mem %d kB psi %s" % (a["ncpu"], a["load1"], load1,
      a["mem_total_kb"], a["psi"]))
PY
kill "${pids[3]}"; wait "${pids[3]}" 2>/dev/null
expect "a dead Prometheus server is a clear failure" 1 \
	"prometheus $URL: (Failed to connect|Could not connect|Couldn't connect)" \
	"${B[@]}" -o "balance.instance=b 127.0.0.1:$pn" balance --dry-run

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
