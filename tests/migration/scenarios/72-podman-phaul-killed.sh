# shellcheck shell=bash disable=SC2154
# phaul itself killed (SIGKILL, PHAUL_FAULT_COMMIT) on the source while it
# migrates podman:pm1, whose final checkpoint stops it there and whose
# restore on dst runs it at once (Podman cannot hold it stopped). Nobody
# runs `phaul recover` (but in 6): the guard that phaul started before
# the checkpoint settles it alone, and the agent discards its running
# copy when the session ends before Go. At each point phaul must die
# (exit 137) or exit as said; then, polled until settled (no source
# record left), pm1 must never run on both guests at once, and end
# running on exactly one, the other not knowing it (not even in `podman
# ps -a`), memtouch ticking there and verifying every page:
#  1. src-dumped: after the checkpoint, before any record (nothing sent to
#     restore): the guard restores it on src;
#  2. src-ready: dst restored it (running), RestoreResp received, phase
#     restoring: dst discards its copy, the guard's recover resumes src's;
#  3. src-committed: phase committed, Go never sent: the same, after GO
#     found no copy on dst;
#  4. src-cut-go (phaul lives: the link is cut before Go): dst discards
#     its copy; phaul settles at once (exit 4), resuming src's;
#  5. agent-ready (dst's agent session dies after Podman restored pm1
#     there, before its answer): phaul settles at once with the agent's
#     listener, which discards that copy (exit 4), resuming src's;
#  6. agent-ready with src-no-settle (as if dst stayed unreachable: the
#     window no guard can close): phaul cannot learn whether dst's copy
#     runs (exit 6); src's stays stopped; `phaul recover` then discards
#     dst's copy by name and resumes src's;
#  7. src-go-acked: Go acknowledged, the source copy not yet removed: the
#     guard's recover finds pm1 running on dst and removes src's.
# timeout: 1200

. "$MIG_HERE/phaul-lib.sh"
. "$MIG_HERE/podman-lib.sh"

# settled SIDE: pm1 runs on SIDE only, no source record left; fails at
# once (exit 1 of the scenario) if pm1 runs on both guests.
settled() {
	local s d
	s=$(podman_status src)
	d=$(podman_status dst)
	[ "$s" = running ] && [ "$d" = running ] && fail "pm1 runs on src and on dst"
	# (a killed phaul leaves its record's lock file: not a record)
	on_src "! ls /var/lib/phaul/mig-out-* 2>/dev/null | grep -qv '\.lock\$'" || return 1
	if [ "$1" = src ]; then
		[ "$s" = running ] && [ "$d" = none ]
	else
		[ "$d" = running ] && [ "$s" = none ]
	fi
}

podman_ct_create 16 || fail "pm1 did not start on src"
phaul_tcp_agent
n=0
# WHO:POINT:EXIT:SIDE: the fault armed in phaul (src) or in dst's agent
# (agent), phaul's exit code, where pm1 must end
for p in src:src-dumped:137:src src:src-ready:137:src src:src-committed:137:src \
	src:src-cut-go:4:src agent:agent-ready:4:src agent:agent-ready,src-no-settle:6:src \
	src:src-go-acked:137:dst; do
	IFS=: read -r who point want side <<<"$p"
	n=$((n + 1))
	[ "$who" = agent ] && phaul_fault_agent "$point"
	on_src "PHAUL_FAULT_COMMIT=$point phaul -t tcp migrate --json --max-iterations 1 podman:$PODMAN_CT $DST_IP \
		>$SCEN_LOG/$n.json 2>$SCEN_LOG/$n.err; echo \$? >$SCEN_LOG/$n.rc"
	rc=$(on_src "cat $SCEN_LOG/$n.rc")
	[ "$rc" = "$want" ] || { on_src "tail -5 $SCEN_LOG/$n.err"; fail "$point: phaul exit $rc, wanted $want"; }
	note "$point: phaul exit $rc; src pm1 $(podman_status src), dst pm1 $(podman_status dst)"
	[ "$who" = agent ] && phaul_fault_agent ""
	if [ "$want" = 6 ]; then
		# the documented window: Podman runs dst's copy, no agent can
		# discard it, so src's stays stopped until recover reaches an agent
		[ "$(podman_status src)" != running ] || fail "$point: pm1 runs on src while dst's copy may run"
		on_src "phaul -t tcp recover" || fail "$point: phaul recover failed"
	fi
	wait_until 240 "$point: pm1 settled on $side" settled "$side" || {
		phaul_logs
		on_src "cat /var/lib/phaul/out-podman-*/podman-guard.log" >&2
		on_dst "tail -20 $SCEN_LOG/agent-tcp.log" >&2
		fail "$point: not settled on $side (src: $(podman_status src), dst: $(podman_status dst))"
	}
	on_src "cat /var/lib/phaul/out-podman-*/podman-guard.log 2>/dev/null; rm -rf /var/lib/phaul/out-podman-*"
	podman_progress "$side" || fail "$point: memtouch in pm1 does not run on $side"
	podman_wl_check "$side" || fail "$point: memtouch verification in pm1 on $side failed"
	note "$point: one copy, on $side, verified"
done
on_dst "grep 'session lost before Go' $SCEN_LOG/agent-tcp.log | tail -3"
[ "$(on_dst "grep -c 'session lost before Go' $SCEN_LOG/agent-tcp.log")" -ge 3 ] ||
	fail "the agent did not say it discarded a running copy of a lost session"
podman_ct_remove dst
