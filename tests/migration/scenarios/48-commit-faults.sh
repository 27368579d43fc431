# shellcheck shell=bash disable=SC2154
# The commit protocol under faults: for each step of the commit a fault is
# injected (PHAUL_FAULT_COMMIT, phaul/mrec.h): the source or the agent is
# killed (SIGKILL) or drops the link at that step (agent-pre-resume: the
# agent dies while CRIU restores, after post-restore: CRIU alone must leave
# the tree stopped). In every case, after
# `phaul recover` when phaul said "outcome unknown" (exit 6) or died,
# exactly one copy of the workload runs, on the side the protocol says, not
# stopped, and it verifies every page. One boot of the pair for all points.
# timeout: 600

. "$MIG_HERE/phaul-lib.sh"
phaul_fs_root

# runs ROLE PID: the process exists there and is not stopped (nor a zombie).
runs() { on_guest "$1" "grep -q '^State:[[:space:]]*[RSD]' /proc/$2/status 2>/dev/null"; }

phaul_tcp_agent
# fault(s)  side that must hold the CT afterwards  phaul's exit code ("kill":
# killed by the fault, which ssh reports as 255). phaul settles a lost
# answer itself over a new session (exit 0 or 4) unless src-no-settle
# makes it leave that to `phaul recover` (exit 6).
# (COMMIT_POINTS overrides the list, to run a few by hand.)
points=${COMMIT_POINTS:-"none:dst:0 src-ready:src:kill src-committing:src:kill src-committed:dst:kill
	src-cut-go:dst:0 src-cut-go,src-no-settle:dst:6
	agent-ready:src:4 agent-ready,src-no-settle:src:6 agent-cut-ready,src-no-settle:src:6
	agent-pre-resume,src-no-settle:src:6
	agent-go:dst:0 agent-go,src-no-settle:dst:6 agent-ack,src-no-settle:dst:6
	agent-cut-ack:dst:0"}
n=0
for p in $points; do
	IFS=: read -r point side want <<<"$p"
	n=$((n + 1))
	wl=mt$n
	phaul_fault_agent "$point"
	pid=$(wl_start src "$wl" memtouch --mib 32 --rate 300)
	wait_until 30 "$wl ticking" on_src "grep -q 'ticks=[1-9]' $WL_DIR/$wl/progress"
	on_dst "mkdir -p $WL_DIR/$wl"
	rc=0
	# one pre-dump (a parent image for the dump, one incremental sync):
	# what comes before the commit is not under test here
	on_src "PHAUL_FAULT_COMMIT=$point phaul -t tcp migrate --json --max-iterations 1 \
		--sync $WL_DIR/$wl pid:$pid $DST_IP" \
		>"$RESULT_DIR/$n.json" 2>"$RESULT_DIR/$n.err" || rc=$?
	[ "$want" = kill ] && [ "$rc" = 255 -o "$rc" = 137 ] && rc=kill
	[ "$rc" = "$want" ] || { tail -5 "$RESULT_DIR/$n.err"; fail "$point: phaul exit $rc, wanted $want"; }
	if [ "$rc" = 6 ]; then
		grep -q '"exit_code":6' "$RESULT_DIR/$n.json" || fail "$point: report lacks exit code 6"
		grep -q 'phaul recover' "$RESULT_DIR/$n.json" || fail "$point: report does not say what to do"
	fi
	# whatever was lost, never two running copies, even before recover
	if runs src "$pid" && runs dst "$pid"; then
		fail "$point: $wl $pid runs on both hosts after phaul exit $rc"
	fi
	phaul_fault_agent ""
	rrc=0
	on_src "phaul -t tcp recover" >"$RESULT_DIR/$n.recover" 2>&1 || rrc=$?
	[ "$rrc" = 0 ] || { cat "$RESULT_DIR/$n.recover"; fail "$point: recover exit $rrc"; }
	other=src
	[ "$side" = src ] && other=dst
	wait_until 20 "$wl runs on $side" runs "$side" "$pid" ||
		fail "$point: $wl $pid does not run on $side: $(on_guest "$side" "grep State /proc/$pid/status" 2>&1)"
	phaul_gone "$other" "$pid" || fail "$point: a copy of $wl $pid is left on $other"
	wl_check "$side" "$wl" 120 || fail "$point: $wl verification on $side failed"
	on_src "! ls /var/lib/phaul/mig-out-* 2>/dev/null" || fail "$point: a source record is left"
	note "$point: one copy, on $side, verified (phaul exit $rc, recover: $(grep -c settled "$RESULT_DIR/$n.recover") settled)"
	on_guest "$side" "kill -9 $pid"
done
