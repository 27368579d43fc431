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
