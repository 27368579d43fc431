# shellcheck shell=bash
# Helpers for scenarios that run phaul itself (sourced after lib.sh).

# phaul_logs: copy phaul's work dirs (CRIU logs, stats) of both guests into
# the scenario's results.
phaul_logs() {
	on_src "mkdir -p $SCEN_LOG/phaul && for f in /var/lib/phaul/*/*/*.log; do
		[ -e \"\$f\" ] && cp \"\$f\" $SCEN_LOG/phaul/\$(echo \"\$f\" | tr / _); done; true"
	on_dst "mkdir -p $SCEN_LOG/phaul && for f in /var/lib/phaul/*/*/*.log; do
		[ -e \"\$f\" ] && cp \"\$f\" $SCEN_LOG/phaul/\$(echo \"\$f\" | tr / _); done; true"
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

# phaul_tcp_agent: a shared secret on both guests and a tcp agent on dst
# listening on the link; prints nothing. Uses port 7070.
phaul_tcp_agent() {
	on_src "mkdir -p /etc/phaul && head -c 32 /dev/urandom | base64 >/etc/phaul/secret &&
		chmod 600 /etc/phaul/secret"
	on_src "cat /etc/phaul/secret" | on_dst "mkdir -p /etc/phaul && cat >/etc/phaul/secret &&
		chmod 600 /etc/phaul/secret"
	on_dst "setsid phaul agent --listen $DST_IP:7070 </dev/null >>$SCEN_LOG/agent-tcp.log 2>&1 &"
	wait_until 10 "tcp agent listening on dst" on_dst "netstat -ltn | grep -q ':7070 '"
}

# phaul_gone ROLE PID: the process is gone from the guest (a zombie waiting
# for the guest's init to reap it counts as gone: it runs no more code).
phaul_gone() {
	on_guest "$1" "! grep -q '^State:[[:space:]]*[^Z]' /proc/$2/status 2>/dev/null" || {
		on_guest "$1" "head -3 /proc/$2/status" >&2
		return 1
	}
}
