# shellcheck shell=bash disable=SC2154
# phaul migrate over tcp of a process tree whose open data file lies on
# storage both guests share (the harness's virtiofs folder /mnt/shared, one
# host directory behind both), with two --sync paths: the shared one must be
# detected by the cookie probe and never rsynced; the workload's local state
# dir is not shared and is rsynced as usual.  The data file written on src
# before and during the migration is intact on dst, the tree goes on
# appending to it there, and src sees those appends (one file, not a copy).
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

SHARED=/mnt/shared/proctree
for role in src dst; do
	on_guest "$role" "grep -q ' /mnt/shared virtiofs ' /proc/mounts" ||
		fail "no virtiofs folder at /mnt/shared on $role (virtiofsd missing, or PHAUL_VM_SHARED=0?)"
done
# one folder: what src writes, dst reads at once (virtiofsd cache=none)
on_src "echo probe-\$\$ >/mnt/shared/.harness-probe"
[ "$(on_dst 'cat /mnt/shared/.harness-probe')" = "$(on_src 'cat /mnt/shared/.harness-probe')" ] ||
	fail "dst does not see what src wrote in /mnt/shared"
on_src "rm /mnt/shared/.harness-probe"

phaul_fs_root
phaul_tcp_agent
on_src "mkdir -p $SHARED"
on_dst "mkdir -p $WL_DIR/proctree"
pid=$(wl_start src proctree proctree --rate 200 --data-file "$SHARED/data")
wait_until 30 "proctree ticking" on_src "grep -q 'seq=[1-9][0-9][0-9]' $WL_DIR/proctree/progress"
# what was written before the migration, to compare on dst afterwards
pre_len=$(on_src "wc -c < $SHARED/data")
pre_sum=$(on_src "head -c $pre_len $SHARED/data | md5sum")

on_src "phaul -t tcp migrate --json --sync $SHARED --sync $WL_DIR/proctree pid:$pid $DST_IP" \
	>"$RESULT_DIR/migrate.json" 2>"$RESULT_DIR/migrate.err" ||
	{ cat "$RESULT_DIR/migrate.json" "$RESULT_DIR/migrate.err"; phaul_logs; fail "phaul migrate failed"; }
phaul_logs
grep '"fs-sync"' "$RESULT_DIR/migrate.json" | head -6

phaul_gone src "$pid" || fail "proctree $pid still exists on src"
n=$(on_dst "ps -o pid,ppid | awk '\$1 == $pid || \$2 == $pid' | wc -l")
[ "$n" -eq 3 ] || fail "expected 3 proctree processes on dst, found $n"
wait_until 20 "proctree ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/proctree/progress"

# the shared path: detected, reported, never rsynced
phaul_json_check "$RESULT_DIR/migrate.json" '
shared = [p for p in rep["fs_paths"] if p["path"] == "'"$SHARED"'"]
local = [p for p in rep["fs_paths"] if p["path"] == "'"$WL_DIR/proctree"'"]
assert rep["ok"] and rep["transport"] == "tcp", rep
assert len(shared) == 1 and len(local) == 1, rep["fs_paths"]
s, l = shared[0], local[0]
assert s["mode"] == "shared" and s["shared"] is True, s
assert s["syncs"] == 0 and s["wire_bytes"] == 0, s
assert l["mode"] == "rsync" and l["shared"] is False, l
assert l["syncs"] >= 3 and l["wire_bytes"] > 0, l
assert rep["fs_syncs"] == l["syncs"], (rep["fs_syncs"], l)
ph = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "fs-sync"]
assert any(m.startswith(s["path"] + " is on storage both hosts share") and "no rsync" in m
           for m in ph), ph
import re
synced = {m.group(1) for m in (re.match(r"\w+: (\S+), \d+ files", x) for x in ph) if m}
assert synced == {l["path"]}, synced
print("shared %s: %s, %d syncs, %d B; local %s: %s, %d syncs, %.1f KiB; downtime_ms=%.0f"
      % (s["path"], s["mode"], s["syncs"], s["wire_bytes"], l["path"], l["mode"],
         l["syncs"], l["wire_bytes"] / 1024, rep["downtime_us"] / 1000))
' || fail "report check failed"
grep -q "$SHARED here and $SHARED on .* are the same filesystem: no rsync needed" \
	"$RESULT_DIR/migrate.err" || fail "phaul's log does not say $SHARED needs no rsync"
grep -q "$WL_DIR/proctree here and .* are not shared" "$RESULT_DIR/migrate.err" ||
	fail "phaul's log does not say $WL_DIR/proctree is not shared"
on_dst "grep -q 'fs-sync from .* into $WL_DIR/proctree' $SCEN_LOG/agent-tcp.log" ||
	fail "the agent's log shows no rsync into $WL_DIR/proctree"
on_dst "! grep -q 'fs-sync from .* into $SHARED' $SCEN_LOG/agent-tcp.log" ||
	fail "the agent ran an rsync into $SHARED"

# the data file: what src wrote before the migration is intact, and dst
# appends to the very same file (src sees it grow)
[ "$(on_dst "head -c $pre_len $SHARED/data | md5sum")" = "$pre_sum" ] ||
	fail "the first $pre_len bytes of $SHARED/data changed"
len=$(on_src "wc -c < $SHARED/data")
wait_until 20 "src sees dst's appends to $SHARED/data" \
	on_src "[ \$(wc -c < $SHARED/data) -gt $len ]"
note "data file: $pre_len bytes from before the migration intact; $len -> $(on_src "wc -c < $SHARED/data") bytes, grown by dst, seen on src"
[ -s "$PHAUL_VM_DIR/shared/proctree/data" ] || fail "the host folder has no proctree/data"
wl_check dst proctree 60 || fail "proctree verification on dst failed"
