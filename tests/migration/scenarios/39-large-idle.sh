# shellcheck shell=bash disable=SC2154
# A 512 MiB region written once and then idle but for its first 256 pages,
# migrated over tcp with pre-copy (issue 16): from the second pre-dump on,
# CRIU sends the idle rest as one page-server entry without data of about
# 131000 pages, twice the count cap on such entries that refused it
# ("page-server ADD_F: nr_pages 261888, allowed 1..65536" for 1 GiB; any
# region over 256 MiB shows it). The workload verifies every page of the
# region on dst.
# timeout: 900

. "$MIG_HERE/phaul-lib.sh"
mem=$(on_src "sed -n 's/MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo")
[ "$mem" -ge $((1024 * 1024)) ] || fail "src has $((mem / 1024)) MiB, this needs 1 GiB (PHAUL_VM_MEM)"
pid=$(wl_start src memtouch memtouch --mib 512 --hot 256 --rate 300)
wait_until 300 "memtouch filled and ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch $SCEN_LOG"
phaul_tcp_agent
on_src "phaul -t tcp migrate --json --max-iterations 4 pid:$pid $DST_IP" >"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"'
phaul_gone src "$pid" || fail "memtouch $pid still runs on src"
wait_until 60 "memtouch ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/memtouch/progress"
wl_check dst memtouch 600 || fail "memtouch verification of 131072 pages on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"], rep
assert len(its) >= 2, "only %d pre-copy iterations: the idle region never went as a parent entry" % len(its)
assert its[0]["pages"] >= 131072, its[0]["pages"]
assert its[1]["pages"] < 65536, its[1]["pages"]
print("iterations=%d pages=%s downtime_ms=%.0f"
      % (len(its), [i["pages"] for i in its], rep["downtime_us"] / 1e3))
' || fail "report does not show a small second iteration"
