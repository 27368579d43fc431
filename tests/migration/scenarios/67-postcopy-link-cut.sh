# shellcheck shell=bash disable=SC2154
# Post-copy recovery: `phaul migrate --mode postcopy` of a 64 MiB memtouch
# over tcp, slowed to 4 MiB/s so that most pages are still on src when it
# runs on dst; then the link goes down for 8 s, well past both hosts' idle
# limit (3 s: without recovery the session, and the CT, would be lost),
# and comes back. phaul must reconnect (same tcp handshake, the
# migration's resume token), the pages flow again, and it ends well:
# exit 0, the JSON shows "reconnecting" then "running" then "done",
# memtouch verifies every page on dst, nothing is left on src, and dst's
# agent says the migration resumed on a new link.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 100 --random)
wait_until 60 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent -o idle_timeout=3 -o postcopy_reconnect=60
phaul_bg mig -t tcp -o idle_timeout=3 -o postcopy_reconnect=60 migrate --json --mode postcopy \
	--no-compress --bwlimit 4M pid:"$pid" "$DST_IP"
wait_until 120 "the CT running on dst in post-copy" \
	on_src "grep -q 'pages still on' $SCEN_LOG/mig.json" ||
	{ on_src "cat $SCEN_LOG/mig.json $SCEN_LOG/mig.err" | tail -20; fail "post-copy did not start"; }
sleep 2
on_dst ". /etc/guest.conf; ip link set \$LINK_IF down"
note "link down"
sleep 8
on_dst ". /etc/guest.conf; ip link set \$LINK_IF up"
note "link up"
rc=$(phaul_bg_wait mig 150) || { on_src "tail -20 $SCEN_LOG/mig.err"; fail "phaul did not finish"; }
on_src "cat $SCEN_LOG/mig.json" >"$RESULT_DIR/migrate.json"
on_src "tail -5 $SCEN_LOG/mig.err"
[ "$rc" = 0 ] || { phaul_logs; fail "phaul exit code $rc, wanted 0 (the link came back)"; }
phaul_memtouch_moved "$pid"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["exit_code"] == 0, rep
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
# the bytes of both links count: at least the pages (random, uncompressed)
assert rep["raw_bytes"] >= rep["lazy_pages_total"] * 4096, (rep["raw_bytes"], rep["lazy_pages_total"])
st = [e["state"] for e in ev if e["event"] == "postcopy"]
assert "reconnecting" in st, st
r = st.index("reconnecting")
assert "running" in st[r:] and st[-1] == "done", st
pc = [e["msg"] for e in ev if e["event"] == "phase" and e["phase"] == "post-copy"]
assert any("link lost, reconnecting" in m for m in pc), pc
assert any("back after" in m for m in pc) and any("every page on" in m for m in pc), pc
print("\n".join(pc))
print("downtime_ms=%.0f total_ms=%.0f lazy_pages=%d memory_complete_ms=%.0f raw_mib=%.1f"
      % (rep["downtime_us"] / 1e3, rep["total_us"] / 1e3, rep["lazy_pages_total"],
         rep["memory_complete_us"] / 1e3, rep["raw_bytes"] / 1048576))
' || fail "the post-copy report does not show the reconnect"
on_dst "grep -h 'resumed' $SCEN_LOG/agent-tcp.log" || fail "dst's agent log does not say it resumed"
left=$(gpgrep src "^(\/usr\/sbin\/)?criu ")
[ -z "$left" ] || fail "criu processes left on src: $left"
phaul_gone src "$pid" || fail "memtouch $pid runs on src again"
