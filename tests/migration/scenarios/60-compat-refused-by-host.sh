# shellcheck shell=bash disable=SC2154
# Compat refusal, for real: src migrates to a phaul agent on the HOST (whose
# kernel CRIU 3.17 cannot run, without soft-dirty), reached over qemu's
# user-mode link at 10.0.2.100:7070 (tcp transport, shared secret). phaul
# must print the table, refuse with exit 3 naming the failing check and
# host, and leave the workload untouched: running, verified, nothing left.
# timeout: 180

. "$MIG_HERE/phaul-lib.sh"

secret=$PHAUL_VM_DIR/host-secret
head -c 32 /dev/urandom | base64 >"$secret"
chmod 600 "$secret"
cat >"$PHAUL_VM_DIR/host-agent.conf" <<EOC
[phaul]
work_dir = $PHAUL_VM_DIR/host-work
secret_file = $secret
timeout = 60
EOC
on_src "mkdir -p /etc/phaul && cat >/etc/phaul/host-secret && chmod 600 /etc/phaul/host-secret" <"$secret"

pid=$(wl_start src memtouch memtouch --mib 16 --rate 100)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
rc=0
on_src "phaul -t tcp -o secret_file=/etc/phaul/host-secret migrate --json pid:$pid 10.0.2.100:7070" \
	>"$RESULT_DIR/migrate.json" || rc=$?
tail -5 "$PHAUL_VM_DIR/host-agent.log" 2>/dev/null | sed 's/^/host agent: /'
[ "$rc" = 3 ] || { cat "$RESULT_DIR/migrate.json"; fail "exit code $rc, wanted 3 (refused)"; }
phaul_json_check "$RESULT_DIR/migrate.json" '
rows = [e for e in ev if e["event"] == "check"][-1]["rows"]
for r in rows:
    print("  %-13s %-28.28s %-28.28s %s %s" % (r["check"], r["source"], r["destination"], r["verdict"], r["detail"][:60]))
crit = [r for r in rows if r["check"] == "criu-check"][0]
assert crit["verdict"] == "FAIL" and crit["destination"] == "FAILED", crit
assert "criu-check" in rep["error"] and "destination" in rep["error"], rep["error"]
assert not rep["ok"] and rep["exit_code"] == 3 and not rep["iterations"], rep
print("refused:", rep["error"][:200])
' || fail "the refusal is not what it should be"
on_src "grep -q '^State:[[:space:]]*[RS]' /proc/$pid/status" || fail "memtouch not running on src"
wl_check src memtouch 60 || fail "memtouch verification on src failed"
on_src "! ls -d /var/lib/phaul/out-* 2>/dev/null" || fail "src started a migration anyway"
