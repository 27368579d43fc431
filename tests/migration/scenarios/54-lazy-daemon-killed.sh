# shellcheck shell=bash disable=SC2154
# Failure after the switch: dst's lazy-pages daemon dies before the CT's
# memory is complete (PHAUL_FAULT_LAZY_KILL on dst: the daemon is held
# still after the restore and SIGKILLed right after Go). The agent sees it,
# kills the CT rather than let it run with holes, and phaul exits 8 with a
# report naming the CT and the pages that never arrived. Nothing runs on
# either side; dst keeps the images, and its record of the migration
# says lost.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

pid=$(wl_start src memtouch memtouch --mib 64 --rate 300)
wait_until 20 "memtouch ticking" on_src "grep -q 'ticks=[1-9][0-9]' $WL_DIR/memtouch/progress"
on_dst "mkdir -p $WL_DIR/memtouch"
phaul_bg mig -o timeout=60 -o "'agent_cmd=env PHAUL_FAULT_LAZY_KILL=1 phaul agent --stdio'" \
	migrate --json pid:"$pid" root@dst
rc=$(phaul_bg_wait mig 240) || fail "phaul did not finish"
on_src "cat $SCEN_LOG/mig.err" | tail -3
[ "$rc" = 8 ] || fail "phaul exit code $rc, wanted 8 (CT lost after the switch)"
on_src "cat $SCEN_LOG/mig.json" >"$RESULT_DIR/mig.json"
phaul_json_check "$RESULT_DIR/mig.json" '
assert not rep["ok"] and rep["exit_code"] == 8, rep
assert rep["lazy_pages_missing"] > 0, rep
assert "pid:%s" % rep["ct"].split(":")[1] in rep["error"] and "never arrived" in rep["error"], rep["error"]
print(rep["error"])
' || fail "the report does not say which CT lost how many pages"
phaul_gone src "$pid" || fail "memtouch $pid still runs on src"
phaul_gone dst "$pid" || fail "the CT with incomplete memory still runs on dst"
on_dst "ls -d /var/lib/phaul/in-*/img" || fail "dst removed the images"
# dst's record of the migration says what became of the CT, not "running"
on_dst "cat /var/lib/phaul/mig-in-*"
on_dst "grep -q '^state=lost' /var/lib/phaul/mig-in-*" || fail "dst's record does not say lost"
