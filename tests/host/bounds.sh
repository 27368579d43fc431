# Sourced by tests/host/run.sh (uses its ok/bad/expect/free_port/wait_port,
# $PHAUL, $T, pids): the bounds a tcp agent keeps on its peers (HOWTO.md,
# "Bounds on peers"): caps on unauthenticated connections and sessions,
# rate-limited logging, and the idle limit on authenticated sessions.
PEER=$PWD/build/tests/host-peer
bconf=$T/bounds.conf
cat >"$bconf" <<EOC
[phaul]
work_dir = $T/wd
secret_file = $T/secret
timeout = 20
idle_timeout = 3
max_startups = 10
per_source_max_startups = 3
max_sessions = 2
fs_root = $T/fsroot
EOC
mkdir -p "$T/fsroot"
blog=$T/bounds-agent.log
bport=$(free_port)
PHAUL_CONFIG=$bconf "$PHAUL" agent --listen "127.0.0.1:$bport" >"$blog" 2>&1 &
bpid=$!
pids+=($bpid)

# flood same|spread: 200 silent connections for 3 s; prints the most agent children seen.
flood() {
	local fp max=0 n i
	python3 tests/host/flood.py "$bport" 200 "$1" 3 >/dev/null &
	fp=$!
	for i in $(seq 30); do
		n=$(pgrep -c -P "$bpid")
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.1
	done
	wait "$fp"
	echo "$max"
}

# until_children N: wait up to 5 s for the agent to have at most N children.
until_children() {
	local i
	for i in $(seq 50); do
		[ "$(pgrep -c -P "$bpid")" -le "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# stall MODE: the agent must end the session by the idle limit (3 s) plus slack, saying why.
stall() {
	local before took
	before=$(grep -c "peer sent nothing for" "$blog")
	"$PEER" "127.0.0.1:$bport" "$T/secret" "$1" >"$T/out" 2>&1
	took=$(sed -n 's/^closed after \([0-9.]*\) s$/\1/p' "$T/out")
	if [ -n "$took" ] && awk "BEGIN { exit !($took >= 3 && $took < 7) }" &&
		[ "$(grep -c "peer sent nothing for" "$blog")" -gt "$before" ]; then
		ok "bounds: $1: the agent ends a silent session after ${took} s (idle limit 3 s)"
	else
		cp "$blog" "$T/out.agent"
		echo "    peer: $(cat "$T/out")"
		bad "bounds: $1: the agent ends a silent session within the idle limit"
	fi
}

if wait_port "$bport"; then
	max=$(flood same)
	[ "$max" -le 3 ] && ok "bounds: 200 silent connections from one address: at most 3 children ($max)" ||
		bad "bounds: 200 silent connections from one address gave $max children (per_source_max_startups = 3)"
	until_children 0
	max=$(flood spread)
	[ "$max" -le 10 ] && ok "bounds: 200 silent connections from 200 addresses: at most 10 children ($max)" ||
		bad "bounds: 200 silent connections from 200 addresses gave $max children (max_startups = 10)"
	until_children 0 || bad "bounds: children of closed connections are reaped"
	# random early drop (max_startups = 2:50:6): some refused from 2 on, all from 6
	sed 's/^max_startups = .*/max_startups = 2:50:6/' "$bconf" >"$T/red.conf"
	rport=$(free_port)
	PHAUL_CONFIG=$T/red.conf "$PHAUL" agent --listen "127.0.0.1:$rport" >"$T/red.log" 2>&1 &
	rpid=$!
	pids+=($rpid)
	if wait_port "$rport"; then
		python3 tests/host/flood.py "$rport" 100 spread 2 >/dev/null &
		fp=$!
		max=0
		for i in $(seq 20); do
			n=$(pgrep -c -P "$rpid")
			[ "$n" -gt "$max" ] && max=$n
			sleep 0.1
		done
		wait "$fp"
		if [ "$max" -le 6 ] && wait_grep "random early drop at [2-5] unauthenticated" "$T/red.log"; then
			ok "bounds: max_startups 2:50:6 drops at random from 2 and caps at 6 ($max)"
		else
			cp "$T/red.log" "$T/out"
			bad "bounds: max_startups 2:50:6 ($max children)"
		fi
	else
		bad "bounds: agent with max_startups 2:50:6 did not start"
	fi
	kill "$rpid" 2>/dev/null
	expect "bounds: after the flood a real source gets in" 3 "criu-check +FAILED" \
		env PHAUL_CONFIG="$bconf" "$PHAUL" -t tcp check "127.0.0.1:$bport"
	n=$(grep -c "before authentication" "$blog")
	if [ "$n" -ge 1 ] && [ "$n" -le 12 ] && grep -q "more refused connections not logged" "$blog"; then
		ok "bounds: 400 refusals took $n log lines, with counts of the rest"
	else
		cp "$blog" "$T/out"
		bad "bounds: refusals are logged at most once a second ($n lines)"
	fi

	stall stall-hello
	stall stall-frame
	expect "bounds: a quiet source's keepalives hold its session past the idle limit" 0 \
		"session alive after 6 s" "$PEER" "127.0.0.1:$bport" "$T/secret" idle 6

	before=$(grep -c "session start: peer" "$blog")
	"$PEER" "127.0.0.1:$bport" "$T/secret" hold 6 >/dev/null 2>&1 &
	h1=$!
	"$PEER" "127.0.0.1:$bport" "$T/secret" hold 6 >/dev/null 2>&1 &
	h2=$!
	for i in $(seq 50); do
		[ "$(grep -c "session start: peer" "$blog")" -ge $((before + 2)) ] && break
		sleep 0.1
	done
	expect "bounds: a session past max_sessions is refused, saying why" 1 \
		"agent busy: 2 sessions already running \(max_sessions\)" \
		env PHAUL_CONFIG="$bconf" "$PHAUL" -t tcp check "127.0.0.1:$bport"
	# The refusal waits for the source: one slow to send its Hello still reads why.
	expect "bounds: a refused source slow to say hello still reads why" 1 \
		"peer: .*agent busy: 2 sessions already running \(max_sessions\)" \
		"$PEER" "127.0.0.1:$bport" "$T/secret" late-hello 1
	wait "$h1" "$h2"
	until_children 0
	expect "bounds: once sessions end, a new one gets in" 3 "criu-check +FAILED" \
		env PHAUL_CONFIG="$bconf" "$PHAUL" -t tcp check "127.0.0.1:$bport"

	# a source whose rsync never starts: the agent's receiver must time out on its own
	"$PEER" "127.0.0.1:$bport" "$T/secret" fs-hold 4 "$T/fsroot/ct1" >/dev/null 2>&1 &
	h1=$!
	args=
	for i in $(seq 30); do
		for p in $(pgrep -P "$bpid"); do
			for r in $(pgrep -P "$p" -x rsync); do
				args=$(tr '\0' ' ' <"/proc/$r/cmdline")
			done
		done
		[ -n "$args" ] && break
		sleep 0.1
	done
	wait "$h1"
	case "$args" in
	*--server*--timeout=120*) ok "bounds: the agent's rsync receiver gets --timeout ($args)" ;;
	*) echo "    rsync receiver: '$args'"; bad "bounds: the agent's rsync receiver gets --timeout" ;;
	esac
else
	cp "$blog" "$T/out"
	bad "bounds: tcp agent did not start listening"
fi
