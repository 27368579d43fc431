# shellcheck shell=bash disable=SC2154
# Pre-flight 'files' check: a tree holding a file (and its cwd) in a
# directory dst does not have is refused by the check, before anything is
# frozen (exit 3, no iteration, the tree runs on at src); with --sync of
# that directory the same tree migrates and verifies on dst.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

phaul_fs_root
phaul_tcp_agent
pid=$(wl_start src proctree proctree --rate 200 --data-file "$WL_DIR/proctree/data")
wait_until 20 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9]' $WL_DIR/proctree/progress"
on_dst "rm -rf $WL_DIR/proctree"

on_src "phaul -t tcp migrate --json pid:$pid $DST_IP" >"$RESULT_DIR/refused.json" && {
	cat "$RESULT_DIR/refused.json"
	fail "migrate of a tree whose file dst lacks succeeded"
}
phaul_json_check "$RESULT_DIR/refused.json" '
rows = [e for e in ev if e["event"] == "check"][-1]["rows"]
f = [r for r in rows if r["check"] == "files"][0]
print("files row:", f["source"], "|", f["destination"], "|", f["verdict"], f["detail"][:160])
assert f["verdict"] == "FAIL" and "missing" in f["destination"], f
assert "'"$WL_DIR"'/proctree/data" in f["detail"] and "on dst" in f["detail"], f["detail"]
assert "check '"'"'files'"'"' failed" in rep["error"], rep["error"]
assert not rep["ok"] and rep["exit_code"] == 3 and not rep["iterations"], rep
' || fail "the refusal is not the files check's"
on_src "grep -q '^State:[[:space:]]*[RS]' /proc/$pid/status" || fail "proctree not running on src"
wl_check src proctree 60 || fail "proctree verification on src failed after the refusal"
on_dst "! ls -d /var/lib/phaul/in-* 2>/dev/null" || fail "dst kept something of the refused run"

on_src "phaul -t tcp migrate --json --sync $WL_DIR/proctree pid:$pid $DST_IP" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "migrate with --sync failed"; }
phaul_json_check "$RESULT_DIR/migrate.json" '
rows = [e for e in ev if e["event"] == "check"][-1]["rows"]
f = [r for r in rows if r["check"] == "files"][0]
print("files row with --sync:", f["source"], "|", f["destination"], "|", f["verdict"])
assert f["verdict"] == "ok" and f["destination"] == "all present", f
assert rep["ok"], rep
' || fail "the files row with --sync is not ok"
phaul_gone src "$pid" || fail "proctree $pid still exists on src"
wl_check dst proctree 60 || fail "proctree verification on dst failed"
