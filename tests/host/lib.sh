# Sourced by the host test scripts (hooks.sh, package.sh, cli.sh): a temp
# dir $T removed at exit, ok/bad counters, the "N passed, N failed" line.
# Set NAME before sourcing (the temp dir's name).
T=$(mktemp -d "/tmp/phaul-${NAME:-host}.XXXXXX")
pass=0 fail=0
trap 'rm -rf "$T"' EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1"; fail=$((fail + 1))
	[ -f "$T/out" ] && sed 's/^/    /' "$T/out" | tail -20
}
# expect NAME RC PATTERN CMD...: exit code RC and output (stdout+stderr) matching PATTERN
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
summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
