# Shared by the host-side test scripts (tests/host/run.sh, tests/balance/run.sh):
# a temp dir $T removed at exit with the processes in pids, pass/fail
# counters and the expect helpers. Source it after cd to the repo root;
# set TAG first for the temp dir's name, KILL_SIG for another signal than
# TERM at exit, KEEP=1 to keep $T.
PHAUL=${PHAUL_BIN:-$PWD/build/phaul}
T=$(mktemp -d "/tmp/phaul-${TAG:-test}.XXXXXX")
pass=0 fail=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -s "${KILL_SIG:-TERM}" "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1"; fail=$((fail + 1))
	[ -f "$T/out" ] && sed 's/^/    /' "$T/out" | tail -20
}
# check NAME CMD...: ok when CMD succeeds (a script may define its own form)
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
# expect NAME RC PATTERN CMD...: exit code RC and output matching PATTERN
expect() {
	local name=$1 want=$2 pat=$3; shift 3
	"$@" >"$T/out" 2>&1 </dev/null
	local rc=$?
	if [ "$rc" -eq "$want" ] && grep -Eq -- "$pat" "$T/out"; then
		ok "$name"
	else
		echo "    (exit $rc, wanted $want; pattern '$pat')"
		bad "$name"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local port=$1 i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
