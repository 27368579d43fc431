# shellcheck shell=bash disable=SC2154
# Forensics: CRIU's restore fails for real on dst (the tree holds a file dst
# lacks; --force files skips the check that would refuse it before the
# freeze). Afterwards both guests keep their logs and the source says where
# in one line: phaul's log and report.json on src, the agent's session log
# on dst (its lines carry the migration id), and the CRIU log the error
# names still exists on dst while the images are gone. The agent logs the
# session's start and end to syslog (busybox syslogd on dst). Then a
# migration that succeeds leaves report.json with the interruption and its
# parts.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

on_dst "busybox syslogd -O /tmp/syslog.txt 2>/dev/null; sleep 0.5; test -S /dev/log" ||
	fail "no syslogd on dst"
phaul_tcp_agent

# --- a failed migration ---
pid=$(wl_start src proctree proctree --rate 200 --data-file "$WL_DIR/proctree/data")
wait_until 20 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9]' $WL_DIR/proctree/progress"
on_dst "rm -rf $WL_DIR/proctree"
phaul_bg fail -o timeout=30 -t tcp migrate --json --force files pid:"$pid" "$DST_IP"
rc=$(phaul_bg_wait fail 180) || fail "phaul did not finish"
phaul_rolled_back fail "$rc" "$pid" proctree
on_src "cat $SCEN_LOG/fail.err" | grep 'logs kept' || fail "no line says where the logs are"
kept=$(on_src "grep 'logs kept' $SCEN_LOG/fail.err")
on_src "tail -1 $SCEN_LOG/fail.json" >"$RESULT_DIR/fail-report.json"
read -r id srun drun < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["id"], r["log_dir"], r["dst_log_dir"])' "$RESULT_DIR/fail-report.json") ||
	fail "the report has no id or log dirs"
note "migration $id: src $srun, dst $drun"
case "$kept" in *"$srun"*"$drun"*) ;; *) fail "the line does not name both run dirs: $kept" ;; esac

# src: phaul's log, every line with UTC time and the id; report.json as printed
ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
on_src "test -s $srun/phaul.log && ! grep -Ev '^$ts src\[$id\] ' $srun/phaul.log" ||
	fail "src's phaul.log is missing or has lines without time and id"
on_src "grep -q 'restore on dst failed' $srun/phaul.log" || fail "src's log lacks the error"
on_src "cat $srun/report.json" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert not r["ok"] and r["rolled_back"] and r["id"] == sys.argv[1], r
assert "restore on dst failed" in r["error"], r["error"]' "$id" || fail "src's report.json"
on_src "ls -d $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images_dir"])' \
	"$RESULT_DIR/fail-report.json")/*/dump.log" >/dev/null || fail "src's CRIU dump.log is gone"

# dst: the agent's session log with the id, and the CRIU log the error names
on_dst "test -s $drun/agent.log && ! grep -Ev '^$ts agent\[$id\] ' $drun/agent.log" ||
	fail "dst's agent.log is missing or has lines without time and id"
wait_until 10 "dst's session end" on_dst "grep -q 'session end' $drun/agent.log"
on_dst "grep -Eq 'session end: peer [^,]+, transport tcp, CT pid:$pid, result discarded \(the source: restore on dst failed' $drun/agent.log" ||
	{ on_dst "tail -5 $drun/agent.log"; fail "dst's log has no session end with its result"; }
named=$(python3 -c '
import json, re, sys
m = re.search(r"(/var/lib/phaul/in-[^ ;:]*\.log)", json.load(open(sys.argv[1]))["error"])
print(m.group(1) if m else "")' "$RESULT_DIR/fail-report.json")
[ -n "$named" ] || fail "the error names no CRIU log on dst"
on_dst "test -s $named" || fail "the CRIU log the error names ($named) is gone on dst"
on_dst "grep -q Error $named" || fail "$named holds no CRIU error"
phaul_dst_dropped_images || fail "dst kept the images"
note "dst kept $(on_dst "find /var/lib/phaul/in-* -type f | tr '\n' ' '")"
wait_until 10 "session start and end in dst's syslog" on_dst \
	"grep -q 'phaul.*agent\[$id\]: session start: peer ' /tmp/syslog.txt &&
	 grep -q 'phaul.*agent\[$id\]: session end: .*result discarded' /tmp/syslog.txt" ||
	{ on_dst "tail -5 /tmp/syslog.txt"; fail "syslog lacks the session"; }
on_src "kill $pid"

# --- a migration that succeeds: its report.json stays, with the headline ---
pid=$(wl_start src memtouch memtouch --mib 16 --rate 100)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
on_src "phaul -t tcp migrate --json pid:$pid $DST_IP" >"$RESULT_DIR/ok.json" 2>"$RESULT_DIR/ok.err" ||
	{ cat "$RESULT_DIR/ok.err"; fail "the migration failed"; }
srun=$(tail -1 "$RESULT_DIR/ok.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["log_dir"])')
on_src "cat $srun/report.json" | python3 -c '
import json, sys
r = json.load(sys.stdin)
p = r["interruption"]
assert r["ok"] and not r["dry_run"] and r["interruption_us"] == r["downtime_us"] > 0, r
parts = p["dump_us"] + p["images_us"] + p["restore_us"] + p["commit_us"]
assert p["dump_us"] > 0 and p["restore_us"] > 0 and abs(parts - r["downtime_us"]) < 20000, (p, r["downtime_us"])
assert all("raw_bytes_per_sec" in i for i in r["iterations"]), r["iterations"]
print("interruption %.0f ms: dump %.0f, images %.0f, restore %.0f, commit %.0f; CRIU frozen %.0f ms"
      % (r["downtime_us"] / 1e3, p["dump_us"] / 1e3, p["images_us"] / 1e3, p["restore_us"] / 1e3,
         p["commit_us"] / 1e3, r["frozen_us"] / 1e3))' || fail "src's report.json after the success"
on_src "test -s $srun/phaul.log" || fail "src's log of the success is gone"
# the agent ends the session once the source hangs up, after the lazy restore's end
wait_until 30 "dst's log of the success says committed" on_dst \
	"grep -Eq 'session end: peer [^,]+, transport tcp, CT pid:$pid, result committed' /var/lib/phaul/runs/in-*/agent.log" ||
	fail "dst's log of the success does not say committed"
wl_check dst memtouch 300 || fail "memtouch verification on dst failed"
