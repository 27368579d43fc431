# shellcheck shell=bash disable=SC2154
# phaul balance between the guests, run from src: src carries two CTs, a
# CPU-bound memtouch (hot: --spin) and a light one (cold), plus a CPU-bound
# loop outside any CT; dst is idle. Agents: src (allow_remote_migrate),
# dst, and "nocriu", a second agent on dst whose CRIU is /bin/false: a
# target that fails a compat check (criu-version: no CRIU there).
#   1. --dry-run explains (would move hot to dst; nocriu skipped with the
#      failing check) and moves nothing
#   2. a run asks src's agent to migrate: hot moves to dst and verifies
#      there, cold stays on src; exit 7
#   3. a second run right after moves nothing (hot cools down, cold would
#      gain too little); exit 0
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"

CONF=/etc/phaul/balance.conf

phaul_tcp_agent # secret on both guests, agent on dst:7070
on_dst "setsid env PHAUL_CRIU=/bin/false phaul agent --listen $DST_IP:7071 \
	</dev/null >>$SCEN_LOG/agent-nocriu.log 2>&1 &"
# appended: the harness's config (allow_downtime_overrun under TCG) stays
on_src "cat >>/etc/phaul/phaul.conf <<EOC
[phaul]
transport = tcp
secret_file = /etc/phaul/secret
[agent]
allow_remote_migrate = yes
EOC
	setsid phaul -c /etc/phaul/phaul.conf agent --listen $SRC_IP:7070 \
		</dev/null >>$SCEN_LOG/agent-src.log 2>&1 &"
wait_until 10 "agents listening" eval \
	'on_src "netstat -ltn | grep -q \":7070 \"" && on_dst "netstat -ltn | grep -q \":7071 \""'

hot=$(wl_start src hot memtouch --mib 16 --rate 40 --spin 2000000)
cold=$(wl_start src cold memtouch --mib 4 --rate 2)
on_src "setsid sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo \$! >/run/busy.pid"
on_dst "mkdir -p $WL_DIR/hot $WL_DIR/cold"
wait_until 60 "both CTs ticking" on_src \
	"grep -q 'ticks=[1-9]' $WL_DIR/hot/progress && grep -q 'ticks=[1-9]' $WL_DIR/cold/progress"
# load1 follows with a 1-minute time constant
wait_until 240 "load1 on src above 1.2" on_src "awk '{ exit !(\$1 > 1.2) }' /proc/loadavg"
note "src load: $(on_src 'cat /proc/loadavg'); dst load: $(on_dst 'cat /proc/loadavg')"

# min_gain 0.2: the cold CT's move (memtouch under TCG: 0.1 CPU, 4 MiB) gains less,
# the hot one's (its share of the one vCPU, about 0.4) more.
on_src "cat >$CONF <<EOC
[phaul]
transport = tcp
secret_file = /etc/phaul/secret
work_dir = /var/lib/phaul-balance
timeout = 120
[balance]
host = src $SRC_IP:7070
host = nocriu $DST_IP:7071
host = dst $DST_IP:7070
ct = src pid:$hot
ct = src pid:$cold
ct = dst pid:$hot
ct = dst pid:$cold
hold_runs = 1
min_gain = 0.2
EOC"

running() { on_guest "$1" "grep -q '^State:[[:space:]]*[RS]' /proc/$2/status"; }

# 1. dry run
rc=0
on_src "phaul -c $CONF balance --dry-run 2>$SCEN_LOG/dry.err" >"$RESULT_DIR/dry.txt" || rc=$?
cat "$RESULT_DIR/dry.txt"
[ "$rc" = 0 ] || { on_src "cat $SCEN_LOG/dry.err"; fail "dry run exit $rc, wanted 0"; }
grep -q "would move pid:$hot: src (.*) to dst " "$RESULT_DIR/dry.txt" ||
	fail "the dry run does not plan hot to dst"
grep -Eq "skipped: pid:$hot -> nocriu: compat: check '[a-z-]+' failed" "$RESULT_DIR/dry.txt" ||
	fail "the dry run does not name nocriu's failing check"
running src "$hot" && running src "$cold" || fail "the dry run disturbed a CT"
on_dst "! test -e /proc/$hot" || fail "the dry run moved hot"
on_src "! test -e /var/lib/phaul-balance/balance/state" || fail "the dry run wrote the state"

# 2. the move
rc=0
on_src "phaul -c $CONF balance --json 2>$SCEN_LOG/run1.err" >"$RESULT_DIR/run1.json" || rc=$?
[ "$rc" = 7 ] || {
	cat "$RESULT_DIR/run1.json"
	on_src "tail -20 $SCEN_LOG/run1.err; tail -20 $SCEN_LOG/agent-src.log"
	phaul_logs
	fail "balance exit $rc, wanted 7 (moved)"
}
python3 - "$RESULT_DIR/run1.json" "$hot" <<'PY' || fail "the run's record is not what it should be"
import json, sys
r = json.loads(open(sys.argv[1]).read())
m = r["moves"]
assert r["outcome"] == "moved" and r["exit_code"] == 7, r["outcome"]
assert len(m) == 1 and m[0]["ct"] == "pid:" + sys.argv[2] and m[0]["from"] == "src" \
    and m[0]["to"] == "dst" and m[0]["result"] == "moved", m
p = r["planned"][0]
print("moved %s: src %.3f -> %.3f, dst %.3f -> %.3f, gain %.3f, spread %.3f" % (
    p["ct"], p["src_score"], p["src_score_after"], p["dst_score"], p["dst_score_after"],
    p["gain"], r["spread"]))
print("skipped:", r["skipped"])
PY
phaul_gone src "$hot" || fail "hot $hot still runs on src"
wait_until 60 "hot ticking on dst" on_dst "grep -q 'host=dst' $WL_DIR/hot/progress"
wl_check dst hot 300 || fail "hot verification on dst failed"
running src "$cold" || fail "cold no longer runs on src"

# 3. right after: nothing moves
rc=0
on_src "phaul -c $CONF balance 2>$SCEN_LOG/run2.err" >"$RESULT_DIR/run2.txt" || rc=$?
cat "$RESULT_DIR/run2.txt"
[ "$rc" = 0 ] || fail "second run exit $rc, wanted 0 (nothing to do)"
grep -q "^outcome: nothing to do" "$RESULT_DIR/run2.txt" || fail "the second run did something"
grep -Eq "pid:$hot +rss .*cooling down" "$RESULT_DIR/run2.txt" ||
	fail "the second run does not show hot cooling down on dst"
running src "$cold" && running dst "$hot" || fail "a CT moved on the second run"
wl_check src cold 120 || fail "cold verification on src failed"
on_src "kill \$(cat /run/busy.pid)"
